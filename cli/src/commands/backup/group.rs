//! The group side of `backup run --group` and `backup sync`: which group snapshot, and the
//! orchestrator's record of it turned into a group backup (`operations::backup::group`).

use anyhow::{Context, Result, anyhow, bail};
use orchestrator_api::{GroupSnapshotArgs, GroupSnapshotInfo, GroupSnapshotStatus};
use serde::Serialize;

use super::run::Outcome;
use crate::context::Ctx;
use crate::operations::backup::group::{
    GroupManifest, GroupManifestMember, GroupRunSummary, Member, run_group,
};
use crate::operations::backup::repo::{Password, RepoSpec};
use crate::operations::backup::source::IcSnapshot;
use crate::operations::backup::tags::{GroupOrigin, MemberTag};
use crate::operations::orchestrator::Answered;
use crate::operations::store::RetryPolicy;
use crate::output;

/// The group snapshot to back up: the one named (which must be complete), a fresh one
/// (`take`, through the orchestrator), or the group's newest complete one.
pub(super) async fn choose_group_snapshot(
    ctx: &Ctx,
    group: &str,
    listed: Vec<GroupSnapshotInfo>,
    id: Option<u64>,
    take: bool,
) -> Result<GroupSnapshotInfo> {
    if take {
        let taken = ctx
            .orchestrator()
            .await?
            .take_group_snapshot(
                group,
                GroupSnapshotArgs {
                    label: Some("backup".into()),
                    ..GroupSnapshotArgs::default()
                },
            )
            .await
            .answered()
            .context("the group snapshot could not be taken, so nothing was backed up")?;
        return Ok(taken);
    }
    let chosen = match id {
        Some(id) => listed.into_iter().find(|g| g.id == id).ok_or_else(|| {
            anyhow!("group {group} has no group snapshot {id}; `keepsake group show {group}` lists them")
        })?,
        None => listed
            .into_iter()
            .filter(|g| g.status == GroupSnapshotStatus::Complete)
            .max_by_key(|g| g.id)
            .ok_or_else(|| {
                anyhow!(
                    "group {group} has no complete group snapshot; take one with --take (or `keepsake snapshot take --group {group}`)"
                )
            })?,
    };
    refuse_partial(&chosen)?;
    Ok(chosen)
}

/// A partial group snapshot is not a consistent cut of the group: it is not stored as one.
fn refuse_partial(g: &GroupSnapshotInfo) -> Result<()> {
    if let GroupSnapshotStatus::Partial { missing } = &g.status {
        bail!(
            "group snapshot {} of {} is partial (missing {}): a group backup holds a consistent cut of \
             every member, so it is not backed up as one. Back its members' snapshots up one by one \
             (`keepsake backup run <module> --snapshot <id>`), or take a complete one with --take",
            g.id,
            g.group,
            missing.join(", ")
        );
    }
    Ok(())
}

/// The key `backup run --group` and `sync` use: what the repository's tags say of this group
/// snapshot.
pub(super) fn origin_of(
    ctx: &Ctx,
    g: &GroupSnapshotInfo,
    orchestrator: String,
) -> Result<GroupOrigin> {
    let network = ctx.network()?;
    Ok(GroupOrigin {
        group: g.group.clone(),
        group_snapshot_id: g.id,
        taken_at: output::time(g.window_start),
        orchestrator_id: Some(orchestrator),
        network: network.name.clone().unwrap_or(network.url.clone()),
        members: g
            .members
            .iter()
            .map(|m| MemberTag {
                module: m.module.clone(),
                canister_id: m.canister_id.to_text(),
                snapshot_id: m.snapshot_id.as_ref().map(hex::encode).unwrap_or_default(),
            })
            .collect(),
    })
}

/// Backs up one complete group snapshot as one group backup (the caller holds the lock).
pub(super) async fn back_up_group(
    ctx: &Ctx,
    spec: &RepoSpec,
    password: &Password,
    g: &GroupSnapshotInfo,
    concurrency: u16,
) -> Result<GroupRunSummary> {
    refuse_partial(g)?;
    let agent = ctx.agent().await?;
    let orchestrator = ctx.orchestrator().await?.id.to_text();
    let origin = origin_of(ctx, g, orchestrator)?;
    let progress = output::byte_bar(false, 0, "backup");
    let mut members = Vec::new();
    let mut manifest_members = Vec::new();
    for m in &g.members {
        let snapshot = m
            .snapshot_id
            .as_ref()
            .ok_or_else(|| {
                anyhow!(
                    "member {} has no snapshot in group snapshot {}",
                    m.module,
                    g.id
                )
            })?
            .to_vec();
        manifest_members.push(GroupManifestMember {
            module: m.module.clone(),
            folder: m.module.clone(),
            canister_id: m.canister_id.to_text(),
            snapshot_id: hex::encode(&snapshot),
            taken_at: String::new(),
        });
        members.push(Member {
            module: m.module.clone(),
            from: IcSnapshot {
                agent: agent.clone(),
                canister: m.canister_id,
                snapshot,
                runtime: tokio::runtime::Handle::current(),
                concurrency: concurrency as usize,
                retry: RetryPolicy::default(),
                progress: progress.clone(),
            },
        });
    }
    let manifest = GroupManifest {
        format: 1,
        tool: "keepsake".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        group: g.group.clone(),
        group_snapshot_id: g.id,
        label: g.label.clone(),
        window_start: g.window_start,
        window_end: g.window_end,
        orchestrator_id: origin.orchestrator_id.clone(),
        network: origin.network.clone(),
        members: manifest_members,
    };
    if !ctx.json() {
        output::note(&format!(
            "Backing up group snapshot {} of {} ({}) to {}",
            g.id,
            g.group,
            g.members
                .iter()
                .map(|m| m.module.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            spec.repo
        ));
    }
    let r = run_group(spec, password.clone(), members, origin, manifest, &progress).await;
    progress.finish_and_clear();
    r
}

/// The human line for one group backup.
pub(super) fn print_group_summary(s: &GroupRunSummary) {
    let members: Vec<&str> = s.members.iter().map(|m| m.module.as_str()).collect();
    if s.already_present {
        output::println(&format!(
            "Backup {} already holds group snapshot {} of {}; nothing to do",
            s.backup_id, s.origin.group_snapshot_id, s.origin.group
        ));
    } else {
        output::println(&format!(
            "Backed up group snapshot {} of {} ({}) as {}: {} in {} files, the repository grew by {}",
            s.origin.group_snapshot_id,
            s.origin.group,
            members.join(", "),
            s.backup_id,
            output::bytes(s.total_bytes),
            s.members.iter().map(|m| m.files.len() + 1).sum::<usize>() + 1,
            output::bytes(s.added_bytes)
        ));
    }
}

/// One group snapshot's line in `backup sync`.
#[derive(Debug, Serialize)]
pub(super) struct GroupResult {
    /// The group.
    pub group: String,
    /// The group snapshot.
    pub group_snapshot_id: u64,
    /// How its backup ended.
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl GroupResult {
    pub(super) fn of(group: &str, id: u64, r: Result<GroupRunSummary>) -> Self {
        Self {
            group: group.to_string(),
            group_snapshot_id: id,
            outcome: Outcome::of(r.map(|s| (s.already_present, s.backup_id, s.added_bytes))),
        }
    }

    /// A row of sync's table: like a module's, the group in the MODULE column.
    pub(super) fn row(&self) -> Vec<String> {
        vec![
            format!("group {}", self.group),
            self.outcome.result.to_string(),
            format!("group snapshot {}", self.group_snapshot_id),
            self.outcome.detail(),
        ]
    }
}
