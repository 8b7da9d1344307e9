//! `backup restore` of a group backup, as a unit, from the client through ic-utils'
//! `ManagementCanister` (the identity must control every target, as for any upload):
//!
//! 1. Open the backup: keepsake-group.json and each member's folder, checked as a single
//!    backup is (metadata.json, keepsake.json, sizes).
//! 2. Targets: each member's own canister, or the one `--to <module>=<canister>` names; two
//!    members into one canister is refused.
//! 3. Preflight, before anything is uploaded: every target lists its snapshots (which a
//!    canister the identity does not control refuses) and has the free slots the restore
//!    needs under the IC's 10 (the upload, and with `--load` a safety snapshot).
//! 4. Upload every member, one after another. If one fails, the snapshots this run uploaded
//!    are deleted again (the failing one deletes its own): nothing half restored is left.
//! 5. `--load`: stop all → a safety snapshot of each → load each → if a load failed, load the
//!    safety snapshot back into the members already loaded → start all, always → delete the
//!    safety snapshots (kept only where a rollback failed: it is then the member's state from
//!    before, and the report names it). A failed load phase also deletes the uploads, so a
//!    failed group restore leaves every target as it was.
//!
//! The report has one line per member, whatever happened.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use candid::Principal;
use futures::future::join_all;
use ic_agent::Agent;
use serde::Serialize;

use super::group::{GROUP_MANIFEST, GroupManifest};
use super::repo::{Password, RepoSpec, rustic_error};
use super::restore::{Opened, RestoreOptions, find_backup, open_tree, upload};
use super::tags::GroupOrigin;
use crate::error::usage;
use crate::operations::store::{IcStore, SnapshotStore as _, retry};
use crate::output;

/// The IC's limit of snapshots per canister.
const IC_MAX_SNAPSHOTS: usize = 10;

/// What happened to one member.
#[derive(Debug, Clone, Serialize)]
pub struct MemberRestore {
    /// The module (its folder in the backup).
    pub module: String,
    /// The canister it was restored into.
    pub canister_id: String,
    /// The canister it was backed up from.
    pub from_canister_id: String,
    /// `restored` (loaded), `uploaded` (without --load), `failed` (its own step failed),
    /// `undone` (done, then undone because another member failed), `undo_failed`, or
    /// `untouched`.
    pub outcome: &'static str,
    /// The step that failed (`preflight`, `upload`, `stop`, `safety_snapshot`, `load`), when
    /// `failed`.
    pub step: Option<&'static str>,
    /// Why it failed, or what an undo left behind.
    pub reason: Option<String>,
    /// The uploaded snapshot on the target (hex), when it is still there.
    pub snapshot_id: Option<String>,
    /// The safety snapshot kept on the target (its state before the restore) when rolling it
    /// back failed.
    pub safety_snapshot_id: Option<String>,
    /// With --load: whether it runs afterwards.
    pub running: Option<bool>,
}

/// What a group restore did.
#[derive(Debug, Clone, Serialize)]
pub struct GroupRestoreSummary {
    /// The group backup.
    pub backup_id: String,
    /// `group`.
    pub kind: &'static str,
    /// The group.
    pub group: String,
    /// The group snapshot it holds.
    pub group_snapshot_id: u64,
    /// Every member uploaded (and kept).
    pub uploaded: bool,
    /// With --load: every member loaded and started.
    pub restored: bool,
    /// Per member, in the group snapshot's order.
    pub members: Vec<MemberRestore>,
}

impl GroupRestoreSummary {
    /// Did it do everything that was asked?
    pub fn ok(&self, load: bool) -> bool {
        self.uploaded && (!load || self.restored)
    }
}

/// A member to restore: from the backup, into `target`.
struct Job {
    module: String,
    from_canister: String,
    target: Principal,
    opened: Option<Opened>,
}

/// Uploads every member of group backup `backup_id` (and with `opts.load` loads them as a
/// unit). `to` maps modules to other canisters. An `Err` means nothing was touched; once
/// targets are touched the answer is a report, successful or not.
pub async fn restore_group(
    spec: &RepoSpec,
    password: Password,
    backup_id: &str,
    agent: &Agent,
    to: &BTreeMap<String, Principal>,
    opts: &RestoreOptions,
    show_progress: bool,
) -> Result<GroupRestoreSummary> {
    // 1. The backup.
    let (spec2, id) = (spec.clone(), backup_id.to_string());
    let (repo, snap_id, origin, members) = tokio::task::spawn_blocking(move || -> Result<_> {
        let (repo, snap) = find_backup(&spec2, &password, &id)?;
        let origin = GroupOrigin::from_snapshot(&snap)
            .ok_or_else(|| anyhow!("{id} is not a group backup"))?;
        let root = repo.get_tree(&snap.tree).map_err(|e| rustic_error(*e))?;
        let node = |name: &str| {
            root.nodes
                .iter()
                .find(|n| n.name().to_string_lossy() == name)
                .cloned()
                .ok_or_else(|| anyhow!("group backup {id} has no {name}"))
        };
        let mut bytes = Vec::new();
        repo.dump(&node(GROUP_MANIFEST)?, &mut bytes)
            .map_err(|e| rustic_error(*e))?;
        let manifest: GroupManifest = serde_json::from_slice(&bytes)
            .with_context(|| format!("the {GROUP_MANIFEST} of group backup {id}"))?;
        let mut members = Vec::new();
        for m in &manifest.members {
            let what = format!("group backup {id}, member {}", m.module);
            let dir = node(&m.folder)?;
            let is_dir = dir.is_dir();
            let tree = dir
                .subtree
                .filter(|_| is_dir)
                .ok_or_else(|| anyhow!("{what}: {} is not a folder", m.folder))?;
            let opened = open_tree(&repo, tree, &what)?;
            if opened.manifest.canister_id != m.canister_id
                || opened.manifest.snapshot_id != m.snapshot_id
            {
                bail!("{what}: its keepsake.json names another snapshot than {GROUP_MANIFEST}");
            }
            members.push((m.clone(), opened));
        }
        Ok((repo, snap.id.to_hex().as_str().to_string(), origin, members))
    })
    .await
    .context("the repository thread panicked")??;
    let repo = Arc::new(repo);

    // 2. Targets.
    let names: BTreeSet<&str> = members.iter().map(|(m, _)| m.module.as_str()).collect();
    if let Some(unknown) = to.keys().find(|k| !names.contains(k.as_str())) {
        return Err(usage(format!(
            "--to {unknown}=…: the group backup has no member {unknown:?}; its members are {}",
            names.iter().copied().collect::<Vec<_>>().join(", ")
        )));
    }
    let mut jobs = Vec::new();
    for (m, opened) in members {
        let target = match to.get(&m.module) {
            Some(p) => *p,
            None => Principal::from_text(&m.canister_id)
                .with_context(|| format!("member {}: bad canister id in the backup", m.module))?,
        };
        jobs.push(Job {
            module: m.module,
            from_canister: m.canister_id,
            target,
            opened: Some(opened),
        });
    }
    let mut seen = BTreeSet::new();
    for j in &jobs {
        if !seen.insert(j.target) {
            return Err(usage(format!(
                "two members would be restored into canister {}; give each member its own with --to <module>=<canister>",
                j.target
            )));
        }
    }
    let stores: Vec<IcStore<'_>> = jobs.iter().map(|j| IcStore::new(agent, j.target)).collect();
    let mut report: Vec<MemberRestore> = jobs
        .iter()
        .map(|j| MemberRestore {
            module: j.module.clone(),
            canister_id: j.target.to_text(),
            from_canister_id: j.from_canister.clone(),
            outcome: "untouched",
            step: None,
            reason: None,
            snapshot_id: None,
            safety_snapshot_id: None,
            running: None,
        })
        .collect();
    let mut summary = GroupRestoreSummary {
        backup_id: snap_id,
        kind: "group",
        group: origin.group.clone(),
        group_snapshot_id: origin.group_snapshot_id,
        uploaded: false,
        restored: false,
        members: Vec::new(),
    };
    let policy = opts.retry;

    // 3. Preflight: control (the IC's list refuses a non-controller) and free slots.
    let needed = 1 + usize::from(opts.load);
    let listed = join_all(stores.iter().map(|s| retry(policy, move || s.list()))).await;
    let mut refused = false;
    for (i, l) in listed.into_iter().enumerate() {
        let problem = match l {
            Err(e) => Some(format!("{e:#}")),
            Ok(snaps) if snaps.len() + needed > IC_MAX_SNAPSHOTS => Some(format!(
                "canister {} holds {} snapshots and the restore needs {needed} more (the IC allows \
                 {IC_MAX_SNAPSHOTS}); delete some first (`keepsake snapshot delete` or `dfx canister snapshot delete`)",
                jobs[i].target,
                snaps.len()
            )),
            Ok(_) => None,
        };
        if let Some(p) = problem {
            refused = true;
            report[i].outcome = "failed";
            report[i].step = Some("preflight");
            report[i].reason = Some(p);
        }
    }
    if refused {
        summary.members = report;
        return Ok(summary);
    }

    // 4. Upload, one member after another.
    let upload_opts = RestoreOptions {
        replace: None,
        load: false,
        ..opts.clone()
    };
    let mut uploaded: Vec<Vec<u8>> = Vec::new();
    for (i, job) in jobs.iter_mut().enumerate() {
        let bar = output::byte_bar(show_progress, 0, &format!("restore {}", job.module));
        let opened = job.opened.take().expect("opened once");
        let r = upload(
            repo.clone(),
            opened,
            &stores[i],
            &upload_opts,
            &bar,
            &spec.repo,
        )
        .await;
        bar.finish_and_clear();
        match r {
            Ok((snapshot, _bytes)) => {
                report[i].outcome = "uploaded";
                report[i].snapshot_id = Some(hex::encode(&snapshot));
                uploaded.push(snapshot);
            }
            Err(e) => {
                report[i].outcome = "failed";
                report[i].step = Some("upload");
                report[i].reason = Some(format!("{e:#}"));
                delete_uploads(&stores, &uploaded, &mut report, policy).await;
                summary.members = report;
                return Ok(summary);
            }
        }
    }
    summary.uploaded = true;
    if !opts.load {
        summary.members = report;
        return Ok(summary);
    }

    // 5. Load as a unit. a. Stop all.
    let stopped = join_all(stores.iter().map(|s| retry(policy, move || s.stop()))).await;
    let stop_failed: Vec<(usize, String)> = failures(&stopped);
    if !stop_failed.is_empty() {
        for (i, reason) in stop_failed {
            report[i].step = Some("stop");
            report[i].reason = Some(reason);
        }
        start_all(&stores, &mut report, policy).await;
        undo_uploads(&stores, &uploaded, &mut report, policy).await;
        summary.uploaded = false;
        summary.members = report;
        return Ok(summary);
    }
    // b. A safety snapshot of each, before anything is loaded.
    let safety = join_all(stores.iter().map(|s| retry(policy, move || s.take()))).await;
    let safety_failed = failures(&safety);
    let safety: Vec<Option<Vec<u8>>> = safety.into_iter().map(|r| r.ok().map(|s| s.id)).collect();
    if !safety_failed.is_empty() {
        for (i, reason) in safety_failed {
            report[i].step = Some("safety_snapshot");
            report[i].reason = Some(reason);
        }
        for (i, id) in safety.iter().enumerate() {
            if let Some(id) = id {
                let _ = retry(policy, || stores[i].delete(id)).await;
            }
        }
        start_all(&stores, &mut report, policy).await;
        undo_uploads(&stores, &uploaded, &mut report, policy).await;
        summary.uploaded = false;
        summary.members = report;
        return Ok(summary);
    }
    let safety: Vec<Vec<u8>> = safety.into_iter().map(|s| s.expect("all taken")).collect();
    // c. Load each.
    let loads = join_all(
        stores
            .iter()
            .zip(&uploaded)
            .map(|(s, id)| retry(policy, move || s.load(id))),
    )
    .await;
    let load_failed = failures(&loads);
    let mut keep_safety = vec![false; stores.len()];
    if load_failed.is_empty() {
        for r in report.iter_mut() {
            r.outcome = "restored";
        }
        summary.restored = true;
    } else {
        // d. Roll the members already loaded back to their state from before.
        for (i, reason) in &load_failed {
            report[*i].outcome = "failed";
            report[*i].step = Some("load");
            report[*i].reason = Some(reason.clone());
        }
        for (i, l) in loads.iter().enumerate() {
            if l.is_err() {
                continue;
            }
            match retry(policy, || stores[i].load(&safety[i])).await {
                Ok(()) => report[i].outcome = "undone",
                Err(e) => {
                    keep_safety[i] = true;
                    report[i].outcome = "undo_failed";
                    report[i].reason = Some(format!(
                        "it holds the backup's state; loading its state from before back failed ({e:#}); \
                         that state is in its safety snapshot {}",
                        hex::encode(&safety[i])
                    ));
                    report[i].safety_snapshot_id = Some(hex::encode(&safety[i]));
                }
            }
        }
    }
    // e. Start all, always.
    start_all(&stores, &mut report, policy).await;
    if report.iter().any(|r| r.running == Some(false)) {
        summary.restored = false;
    }
    // f. The safety snapshots go (except where a rollback failed); after a failed load, the
    // uploads go too.
    for (i, id) in safety.iter().enumerate() {
        if !keep_safety[i] {
            let _ = retry(policy, || stores[i].delete(id)).await;
        }
    }
    if !load_failed.is_empty() {
        for (i, id) in uploaded.iter().enumerate() {
            if retry(policy, || stores[i].delete(id)).await.is_ok() {
                report[i].snapshot_id = None;
            }
        }
        summary.uploaded = false;
    }
    summary.members = report;
    Ok(summary)
}

/// The failed results, by index, with their reasons.
fn failures<T>(results: &[Result<T>]) -> Vec<(usize, String)> {
    results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.as_ref().err().map(|e| (i, format!("{e:#}"))))
        .collect()
}

/// Starts every target (a start also cancels a stop still pending) and records whether each
/// runs.
async fn start_all(
    stores: &[IcStore<'_>],
    report: &mut [MemberRestore],
    policy: crate::operations::store::RetryPolicy,
) {
    let started = join_all(stores.iter().map(|s| retry(policy, move || s.start()))).await;
    for (i, s) in started.into_iter().enumerate() {
        report[i].running = Some(s.is_ok());
        if let Err(e) = s {
            let note = format!(
                "it did not start again ({e:#}): start it with `dfx canister start {}`",
                stores[i].canister()
            );
            report[i].reason = Some(match report[i].reason.take() {
                Some(r) => format!("{r}; {note}"),
                None => note,
            });
        }
    }
}

/// After a failure before any load: every upload of this run is deleted; members without a
/// failure of their own are `undone` (or `undo_failed`), the failed ones `failed`.
async fn undo_uploads(
    stores: &[IcStore<'_>],
    uploaded: &[Vec<u8>],
    report: &mut [MemberRestore],
    policy: crate::operations::store::RetryPolicy,
) {
    for r in report.iter_mut() {
        r.outcome = if r.step.is_some() {
            "failed"
        } else {
            "uploaded"
        };
    }
    delete_uploads(stores, uploaded, report, policy).await;
}

/// Deletes the snapshots uploaded so far (`uploaded[i]` on `stores[i]`), marking those members.
async fn delete_uploads(
    stores: &[IcStore<'_>],
    uploaded: &[Vec<u8>],
    report: &mut [MemberRestore],
    policy: crate::operations::store::RetryPolicy,
) {
    for (i, id) in uploaded.iter().enumerate() {
        let failed_itself = report[i].outcome == "failed";
        match retry(policy, || stores[i].delete(id)).await {
            Ok(()) => {
                report[i].snapshot_id = None;
                if !failed_itself {
                    report[i].outcome = "undone";
                }
            }
            Err(e) => {
                let note = format!(
                    "its uploaded snapshot {} could not be deleted ({e:#}): do not load it; delete it with \
                     `dfx canister snapshot delete {} {}`",
                    hex::encode(id),
                    stores[i].canister(),
                    hex::encode(id)
                );
                if !failed_itself {
                    report[i].outcome = "undo_failed";
                }
                report[i].reason = Some(match report[i].reason.take() {
                    Some(r) => format!("{r}; {note}"),
                    None => note,
                });
            }
        }
    }
}
