//! `keepsake backup sync --repo <R>`: the scheduled off-chain backup.

use std::collections::BTreeSet;

use anyhow::Result;
use clap::Args;
use orchestrator_api::GroupSnapshotStatus;
use serde::Serialize;

use super::RepoArgs;
use super::group::{GroupResult, back_up_group};
use super::run::{ModuleResult, back_up};
use crate::context::Ctx;
use crate::error::Reported;
use crate::operations::backup::lock::LockKind;
use crate::operations::backup::repo::rustic_error;
use crate::operations::backup::tags::{self, GroupOrigin, Origin};
use crate::operations::orchestrator::Answered;
use crate::output;

/// Back up every snapshot the orchestrator holds (all modules) that the repository lacks,
/// oldest first. Idempotent: run it from a timer (docs/systemd/) after the orchestrator's
/// schedules have taken snapshots on-chain; a second run backs up nothing.
///
/// A snapshot is in the repository when a backup has its canister id, snapshot id and
/// taken_at (snapshot ids are never reused on a network, but a reset local network counts
/// from zero again). --concurrency is the reads in flight per file, one snapshot at a time.
///
/// Every complete group snapshot of every group is also stored as a group backup (once: the
/// key is the group, the group snapshot's id and when it was taken). Partial group snapshots
/// are not (their members' snapshots are backed up one by one like any other).
#[derive(Args, Debug)]
pub struct SyncArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Reads in flight per file being backed up (1 to 64).
    /// The default is export's: a replica answers in rounds, and reads at 8 in flight ran at a
    /// third of 32's speed (export of 200 MB: 32 s vs 10 s); a backup at 32 peaked at 144 MiB
    /// (docs/BENCHMARKS.md, "Backups").
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

#[derive(Serialize)]
struct Synced {
    /// The snapshots backed up now (or that failed).
    results: Vec<ModuleResult>,
    /// The group snapshots backed up now (or that failed).
    groups: Vec<GroupResult>,
    /// How many were backed up now.
    backed_up: usize,
    /// How many the repository already held.
    already_present: usize,
    /// How many failed.
    failed: usize,
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &SyncArgs) -> Result<()> {
    let spec = args.repo.spec();
    let password = args.repo.password(false)?;
    let orch = ctx.orchestrator().await?;
    let modules = orch.list_modules().await.answered()?;
    let _lock = spec.lock(LockKind::Backup, "keepsake backup sync")?;
    // 1. What the repository holds (complete backups only: a half one is redone).
    let (s, p) = (spec.clone(), password.clone());
    type Held = BTreeSet<(String, String, String)>;
    let (held, held_groups): (Held, Held) = tokio::task::spawn_blocking(move || {
        let repo = s.open(&p)?;
        let snaps = repo.get_all_snapshots().map_err(|e| rustic_error(*e))?;
        let complete = || snaps.iter().filter(|s| !tags::is_partial(s));
        anyhow::Ok((
            complete()
                .filter_map(Origin::from_snapshot)
                .map(|o| (o.canister_id, o.snapshot_id, o.taken_at))
                .collect(),
            complete()
                .filter_map(GroupOrigin::from_snapshot)
                .map(|g| (g.group, g.group_snapshot_id.to_string(), g.taken_at))
                .collect(),
        ))
    })
    .await??;
    // 2. What the orchestrator holds, and what is missing.
    let mut results = Vec::new();
    let mut already_present = 0;
    for m in modules {
        let snaps = match orch.list_snapshots(&m.name).await.answered() {
            Ok(s) => s,
            Err(e) => {
                results.push(ModuleResult::of(&m.name, m.canister_id, None, Err(e)));
                continue;
            }
        };
        let mut missing: Vec<_> = snaps
            .into_iter()
            .filter(|s| {
                let key = (
                    m.canister_id.to_text(),
                    hex::encode(&s.id),
                    output::time(s.taken_at),
                );
                let held = held.contains(&key);
                already_present += usize::from(held);
                !held
            })
            .collect();
        missing.sort_by_key(|s| s.taken_at);
        // 3. Back each one up; a failure does not stop the others.
        for s in missing {
            let r = back_up(
                ctx,
                &spec,
                &password,
                m.canister_id,
                Some(m.name.clone()),
                s.id.to_vec(),
                args.concurrency,
            )
            .await;
            results.push(ModuleResult::of(
                &m.name,
                m.canister_id,
                Some(s.id.as_slice()),
                r,
            ));
        }
    }
    // 4. Every complete group snapshot of every group the repository lacks, as a group backup.
    let mut groups = Vec::new();
    let group_list = match orch.list_groups().await.answered() {
        Ok(l) => l,
        Err(e) => {
            groups.push(GroupResult::of("-", 0, Err(e)));
            Vec::new()
        }
    };
    for g in group_list {
        let snaps = match orch.list_group_snapshots(&g.name).await.answered() {
            Ok(s) => s,
            Err(e) => {
                groups.push(GroupResult::of(&g.name, 0, Err(e)));
                continue;
            }
        };
        let mut missing: Vec<_> = snaps
            .into_iter()
            .filter(|s| s.status == GroupSnapshotStatus::Complete)
            .filter(|s| {
                let key = (
                    g.name.clone(),
                    s.id.to_string(),
                    output::time(s.window_start),
                );
                let held = held_groups.contains(&key);
                already_present += usize::from(held);
                !held
            })
            .collect();
        missing.sort_by_key(|s| s.id);
        for s in missing {
            let r = back_up_group(ctx, &spec, &password, &s, args.concurrency).await;
            groups.push(GroupResult::of(&g.name, s.id, r));
        }
    }
    let outcomes = || {
        let modules = results.iter().map(|r| &r.outcome);
        modules.chain(groups.iter().map(|g| &g.outcome))
    };
    let failed = outcomes().filter(|o| o.result == "failed").count();
    let view = Synced {
        backed_up: outcomes().filter(|o| o.result == "backed_up").count(),
        already_present,
        failed,
        results,
        groups,
    };
    if ctx.json() {
        output::json(&view)?;
    } else if view.results.is_empty() && view.groups.is_empty() {
        output::println(&format!(
            "Nothing to back up: the repository already holds all {} snapshots",
            view.already_present
        ));
    } else {
        let rows: Vec<Vec<String>> = view
            .results
            .iter()
            .map(ModuleResult::row)
            .chain(view.groups.iter().map(GroupResult::row))
            .collect();
        output::table(&["MODULE", "RESULT", "SNAPSHOT", "BACKUP OR REASON"], &rows);
        output::println(&format!(
            "Backed up {} snapshots; {} were already in the repository",
            view.backed_up, view.already_present
        ));
    }
    if failed > 0 {
        return Err(Reported(format!(
            "{failed} of {} snapshots could not be backed up; the others were (run `backup sync` again to retry)",
            view.results.len() + view.groups.len()
        ))
        .into());
    }
    Ok(())
}
