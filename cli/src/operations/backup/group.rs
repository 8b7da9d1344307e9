//! Group backups: one group snapshot of the orchestrator (every member's snapshot, taken while
//! all of them were stopped) stored as **one** restic snapshot.
//!
//! Layout: a folder per member, named after the module, holding exactly what `export` writes
//! for that member's snapshot (`app/metadata.json`, `app/stable_memory.bin`, …,
//! `app/keepsake.json`), plus `keepsake-group.json` at the root (the group, the group
//! snapshot, its window, and each member's canister, snapshot and folder). So `restic dump
//! <id> /app/stable_memory.bin` is the member's export file, `restic restore` gives one export
//! folder per member (each accepted by `keepsake verify` and `keepsake import`), and the group
//! backup is written, listed, restored and forgotten as one thing.
//!
//! Why one restic snapshot and not one per member: a restic snapshot file is written last, in
//! one piece, so a group backup is either complete or absent — an interrupted run leaves at
//! most the first pass (tagged `keepsake-partial`, hidden, removed by the next run), never a
//! group with a member missing. One snapshot per member would need a marker written after all
//! of them, and every reader (list, forget, restic users) would have to join them.
//!
//! The passes are `run::write`'s: first every member's data, then every keepsake.json and
//! keepsake-group.json, with the first as parent.

use anyhow::{Context, Result};
use rustic_core::repofile::SnapshotFile;
use serde::{Deserialize, Serialize};

use super::repo::{Password, RepoSpec, backup_id, bytes_backed_up};
use super::run::{Part, Plan, Written, prepare, write};
use super::source::IcSnapshot;
use super::tags::GroupOrigin;
use crate::operations::manifest::FileEntry;

/// The group backup's own file, at the root of its tree.
pub const GROUP_MANIFEST: &str = "keepsake-group.json";

/// `keepsake-group.json`: what the group backup holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupManifest {
    /// Always 1 for now.
    pub format: u32,
    /// `keepsake`.
    pub tool: String,
    /// The keepsake version that wrote it.
    pub tool_version: String,
    /// The group.
    pub group: String,
    /// The group snapshot's id in the orchestrator.
    pub group_snapshot_id: u64,
    /// The group snapshot's label.
    pub label: Option<String>,
    /// When the first member was asked to stop (nanoseconds since the epoch).
    pub window_start: u64,
    /// When the last member had started again.
    pub window_end: u64,
    /// The orchestrator.
    pub orchestrator_id: Option<String>,
    /// The network.
    pub network: String,
    /// The members, in the group snapshot's order.
    pub members: Vec<GroupManifestMember>,
}

/// One member in keepsake-group.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupManifestMember {
    /// The module.
    pub module: String,
    /// Its folder in the backup (the module's name).
    pub folder: String,
    /// Its canister.
    pub canister_id: String,
    /// Its snapshot, hex.
    pub snapshot_id: String,
    /// When the IC took it (RFC 3339).
    pub taken_at: String,
}

/// One member to back up.
pub struct Member {
    /// The module (its folder).
    pub module: String,
    /// Where its snapshot's bytes come from.
    pub from: IcSnapshot,
}

/// One member of a group backup in `backup run --group`'s answer.
#[derive(Debug, Clone, Serialize)]
pub struct MemberSummary {
    /// The module (its folder in the backup).
    pub module: String,
    /// Its canister.
    pub canister_id: String,
    /// Its snapshot, hex.
    pub snapshot_id: String,
    /// Bytes of its files (0 when the backup was already there).
    pub total_bytes: u64,
    /// Its files (empty when the backup was already there).
    pub files: Vec<FileEntry>,
}

/// What `backup run --group` did.
#[derive(Debug, Clone, Serialize)]
pub struct GroupRunSummary {
    /// The restic snapshot id of the group backup.
    pub backup_id: String,
    /// `group`.
    pub kind: &'static str,
    /// Where it came from.
    #[serde(flatten)]
    pub origin: GroupOrigin,
    /// The repository already held it: nothing was read or written.
    pub already_present: bool,
    /// Bytes of all members' files.
    pub total_bytes: u64,
    /// Bytes the repository grew by.
    pub added_bytes: u64,
    /// Per member, in the group snapshot's order.
    #[serde(rename = "member_files")]
    pub members: Vec<MemberSummary>,
}

/// Does `s` hold (completely or as a first pass) this group snapshot? The key is the group,
/// the group snapshot's id and when its window opened (ids restart with a reinstalled
/// orchestrator or a reset network).
pub fn same_group_snapshot(s: &SnapshotFile, key: &GroupOrigin) -> bool {
    GroupOrigin::from_snapshot(s).is_some_and(|o| {
        o.group == key.group
            && o.group_snapshot_id == key.group_snapshot_id
            && o.taken_at == key.taken_at
    })
}

/// Backs up every member's snapshot as one group backup. `manifest` is keepsake-group.json
/// (its members must be `members`, in the same order; their `taken_at` is filled in here).
pub async fn run_group(
    spec: &RepoSpec,
    password: Password,
    members: Vec<Member>,
    origin: GroupOrigin,
    mut manifest: GroupManifest,
    progress: &indicatif::ProgressBar,
) -> Result<GroupRunSummary> {
    // 1. Every member's metadata and chunk sizes, before anything is written: a member whose
    // snapshot is gone (or unreadable to this identity) fails the run here.
    let mut parts = Vec::new();
    for (i, m) in members.iter().enumerate() {
        let (meta, items) = prepare(&m.from)
            .await
            .with_context(|| format!("member {}: cannot read its snapshot", m.module))?;
        manifest.members[i].taken_at = crate::output::time(meta.taken_at_timestamp);
        parts.push(Part {
            prefix: m.module.clone(),
            canister_id: m.from.canister.to_text(),
            snapshot_id: hex::encode(&m.from.snapshot),
            taken_at_ns: meta.taken_at_timestamp,
            items,
        });
    }
    let sizes: Vec<u64> = parts
        .iter()
        .map(|p| p.items.iter().map(|i| i.size).sum())
        .collect();
    progress.set_length(sizes.iter().sum());
    let plan = Plan {
        parts,
        extra: vec![(
            GROUP_MANIFEST.to_string(),
            serde_json::to_vec_pretty(&manifest)?,
        )],
        tags: origin.tags(),
        // restic groups snapshots by host and paths: one series per group.
        host: format!("group-{}", origin.group),
        path: format!("/group/{}", origin.group),
        time_ns: manifest.window_start,
    };
    let (spec, key) = (spec.clone(), origin.clone());
    let written = tokio::task::spawn_blocking(move || {
        write(&spec, &password, plan, |s| same_group_snapshot(s, &key))
    })
    .await
    .context("the backup thread panicked")??;
    let member_summary = |i: usize, files: Vec<FileEntry>| MemberSummary {
        module: members[i].module.clone(),
        canister_id: members[i].from.canister.to_text(),
        snapshot_id: hex::encode(&members[i].from.snapshot),
        total_bytes: files.iter().map(|f| f.size).sum(),
        files,
    };
    Ok(match written {
        Written::Already(done) => GroupRunSummary {
            backup_id: backup_id(&done),
            kind: "group",
            origin,
            already_present: true,
            total_bytes: bytes_backed_up(&done),
            added_bytes: 0,
            members: (0..members.len())
                .map(|i| member_summary(i, Vec::new()))
                .collect(),
        },
        Written::New {
            snap,
            added_bytes,
            total_bytes,
            files,
        } => GroupRunSummary {
            backup_id: backup_id(&snap),
            kind: "group",
            origin,
            already_present: false,
            total_bytes,
            added_bytes,
            members: files
                .into_iter()
                .enumerate()
                .map(|(i, f)| member_summary(i, f))
                .collect(),
        },
    })
}
