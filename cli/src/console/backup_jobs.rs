//! The Backups page's long work, run in the background so the page can follow it by polling:
//! a sync (what `keepsake backup sync` does: every snapshot the orchestrator holds that the
//! repository lacks, one after another) and a restore (a backup uploaded into a canister, and
//! optionally loaded).
//!
//! One sync at a time in this console: a second request while one runs gets the running one
//! back (the page follows it and says so). Across processes the repository's own lock decides
//! (`operations::backup::lock`): a sync next to a `keepsake backup sync` or `run` fails with
//! the lock holder's name; a restore may run next to a sync, as on the command line.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Result, anyhow};
use candid::Principal;
use indicatif::ProgressBar;
use serde::Serialize;

use super::state::App;
use crate::operations::backup::lock::LockKind;
use crate::operations::backup::restore::{RestoreOptions, restore};
use crate::operations::backup::sync::{self, Provenance};
use crate::operations::store::{IcStore, RetryPolicy};
use crate::output;

/// Reads in flight per file of a sync, as `keepsake backup sync`'s default.
const SYNC_CONCURRENCY: usize = 32;
/// Uploads in flight of a restore, as `keepsake backup restore`'s default.
const RESTORE_CONCURRENCY: usize = 8;

/// What a job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// `backup sync`.
    Sync,
    /// `backup restore`.
    Restore,
}

/// One line of a job's report.
#[derive(Clone, Debug, Serialize)]
pub struct Line {
    /// The module (or the target canister of a restore).
    pub module: String,
    /// The snapshot concerned, hex.
    pub snapshot_id: String,
    /// backed_up | already_present | restored | failed.
    pub result: &'static str,
    /// The backup id and size, or why it failed.
    pub detail: String,
}

/// One job.
pub struct Job {
    /// What it does.
    pub kind: Kind,
    /// Whether it ended.
    pub finished: bool,
    /// What it is doing now, in words.
    pub doing: String,
    /// Bytes of the current snapshot (read from the IC, or uploaded to it).
    pub progress: ProgressBar,
    /// What it did so far.
    pub lines: Vec<Line>,
    /// How it ended, in one sentence.
    pub summary: Option<String>,
    /// Whether it ended well.
    pub ok: bool,
}

/// The jobs, by id.
#[derive(Default)]
pub struct Jobs {
    next: u64,
    jobs: HashMap<u64, Job>,
    /// The sync that runs now, if any.
    running_sync: Option<u64>,
}

/// A job as the page sees it.
#[derive(Serialize)]
pub struct JobView {
    /// Its id.
    pub id: u64,
    /// What it does.
    pub kind: Kind,
    /// Whether it ended.
    pub finished: bool,
    /// Whether it ended well.
    pub ok: bool,
    /// What it is doing now.
    pub doing: String,
    /// Bytes of the current snapshot done.
    pub bytes_done: u64,
    /// Bytes of the current snapshot in all.
    pub bytes_total: u64,
    /// What it did so far.
    pub lines: Vec<Line>,
    /// How it ended.
    pub summary: Option<String>,
}

impl Jobs {
    /// A job's view.
    pub fn view(&self, id: u64) -> Option<JobView> {
        self.jobs.get(&id).map(|j| JobView {
            id,
            kind: j.kind,
            finished: j.finished,
            ok: j.ok,
            doing: j.doing.clone(),
            bytes_done: j.progress.position(),
            bytes_total: j.progress.length().unwrap_or(0),
            lines: j.lines.clone(),
            summary: j.summary.clone(),
        })
    }

    /// The sync that runs now, if any.
    pub fn running_sync(&self) -> Option<u64> {
        self.running_sync
    }

    fn add(&mut self, kind: Kind, doing: String) -> u64 {
        self.next += 1;
        self.jobs.insert(
            self.next,
            Job {
                kind,
                finished: false,
                doing,
                progress: ProgressBar::hidden(),
                lines: vec![],
                summary: None,
                ok: false,
            },
        );
        self.next
    }
}

/// Changes job `id`.
fn update(app: &App, id: u64, f: impl FnOnce(&mut Job)) {
    if let Ok(mut jobs) = app.backup_jobs.lock()
        && let Some(job) = jobs.jobs.get_mut(&id)
    {
        f(job);
    }
}

/// Ends job `id`.
fn finish(app: &App, id: u64, ok: bool, summary: String) {
    if let Ok(mut jobs) = app.backup_jobs.lock() {
        if let Some(job) = jobs.jobs.get_mut(&id) {
            job.finished = true;
            job.ok = ok;
            job.doing = String::new();
            job.summary = Some(summary);
        }
        if jobs.running_sync == Some(id) {
            jobs.running_sync = None;
        }
    }
}

/// Starts a sync; `Err(id)` of the sync already running.
pub fn start_sync(app: &Arc<App>) -> Result<u64, u64> {
    let id = {
        // A poisoned list still holds valid jobs (each change is one assignment).
        let mut jobs = app
            .backup_jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(running) = jobs.running_sync {
            return Err(running);
        }
        let id = jobs.add(
            Kind::Sync,
            "Comparing the repository with the orchestrator's snapshots".into(),
        );
        jobs.running_sync = Some(id);
        id
    };
    let app = app.clone();
    tokio::spawn(async move {
        let (ok, summary) = match run_sync(&app, id).await {
            Ok(x) => x,
            Err(e) => (false, format!("The sync did not run: {e:#}")),
        };
        finish(&app, id, ok, summary);
    });
    Ok(id)
}

/// The sync: lock, plan, then each missing snapshot in turn (a failure does not stop the
/// others). `(ok, summary)`.
async fn run_sync(app: &App, id: u64) -> Result<(bool, String)> {
    let repo = app
        .backups
        .as_ref()
        .ok_or_else(|| anyhow!("no backup repository: start the console with --repo"))?;
    let password = repo.password()?;
    // 1. The repository's lock, as `keepsake backup sync` takes it.
    let _lock = repo
        .spec
        .lock(LockKind::Backup, "keepsake console (Sync now)")?;
    // 2. What is missing.
    let orch = app.orch();
    let plan = sync::plan(&orch, &repo.spec, password).await?;
    for (module, canister, why) in &plan.unlisted {
        let line = Line {
            module: module.clone(),
            snapshot_id: "-".into(),
            result: "failed",
            detail: format!("cannot list the snapshots of {canister}: {why}"),
        };
        update(app, id, |j| j.lines.push(line));
    }
    let from = Provenance {
        network: app.network.clone(),
        orchestrator_id: app.orchestrator_id(),
    };
    // 3. Each one, oldest first.
    let total = plan.missing.len();
    let agent = app.agent();
    for (i, wanted) in plan.missing.iter().enumerate() {
        let bar = ProgressBar::hidden();
        let snapshot_id = hex::encode(&wanted.snapshot);
        let doing = format!(
            "Backing up snapshot {snapshot_id} of {} taken at {} ({} of {total})",
            wanted.module,
            output::time(wanted.taken_at),
            i + 1
        );
        let b = bar.clone();
        update(app, id, |j| {
            j.doing = doing;
            j.progress = b;
        });
        let result = sync::back_up(
            &agent,
            &repo.spec,
            password,
            wanted,
            &from,
            SYNC_CONCURRENCY,
            bar,
        )
        .await;
        let line = match result {
            Ok(s) => Line {
                module: wanted.module.clone(),
                snapshot_id,
                result: if s.already_present {
                    "already_present"
                } else {
                    "backed_up"
                },
                detail: format!(
                    "backup {} ({}, the repository grew by {})",
                    &s.backup_id[..8.min(s.backup_id.len())],
                    output::bytes(s.total_bytes),
                    output::bytes(s.added_bytes)
                ),
            },
            Err(e) => Line {
                module: wanted.module.clone(),
                snapshot_id,
                result: "failed",
                detail: format!("{e:#}"),
            },
        };
        update(app, id, |j| j.lines.push(line));
    }
    let lines = app
        .backup_jobs
        .lock()
        .ok()
        .and_then(|j| j.jobs.get(&id).map(|j| j.lines.clone()))
        .unwrap_or_default();
    let failed = lines.iter().filter(|l| l.result == "failed").count();
    let backed_up = lines.iter().filter(|l| l.result == "backed_up").count();
    Ok(if failed > 0 {
        (
            false,
            format!(
                "{failed} could not be backed up (see below); {backed_up} were backed up now and {} were already in the repository. Sync again to retry.",
                plan.already_present
            ),
        )
    } else if total == 0 {
        (
            true,
            format!(
                "Nothing to back up: the repository already holds all {} snapshots.",
                plan.already_present
            ),
        )
    } else {
        (
            true,
            format!(
                "Backed up {backed_up} snapshots; {} were already in the repository.",
                plan.already_present
            ),
        )
    })
}

/// Starts restoring `backup` into `target` (a canister id or a module name), loading it when
/// `load`.
pub fn start_restore(app: &Arc<App>, backup: String, target: String, load: bool) -> Result<u64> {
    let id = app
        .backup_jobs
        .lock()
        .map_err(|_| anyhow!("the console's job list is unusable; restart the console"))?
        .add(
            Kind::Restore,
            format!("Restoring backup {backup} into {target}"),
        );
    let app = app.clone();
    tokio::spawn(async move {
        let (ok, summary) = match run_restore(&app, id, &backup, &target, load).await {
            Ok(s) => (true, s),
            Err(e) => (false, format!("The restore failed: {e:#}")),
        };
        finish(&app, id, ok, summary);
    });
    Ok(id)
}

async fn run_restore(app: &App, id: u64, backup: &str, target: &str, load: bool) -> Result<String> {
    let repo = app
        .backups
        .as_ref()
        .ok_or_else(|| anyhow!("no backup repository: start the console with --repo"))?;
    let password = repo.password()?.clone();
    // 1. The target: a canister id, or a registered module's canister.
    let canister = match Principal::from_text(target) {
        Ok(p) => p,
        Err(_) => app.orch().resolve(target).await?.canister_id,
    };
    // 2. A restore reads: it may run next to a backup, not next to a forget.
    let _lock = repo
        .spec
        .lock(LockKind::Restore, "keepsake console (Restore)")?;
    // 3. Upload (and load), the bytes counted on the job's bar.
    let bar = ProgressBar::hidden();
    let b = bar.clone();
    update(app, id, |j| {
        j.doing = format!("Uploading backup {backup} into {canister}");
        j.progress = b;
    });
    let agent = app.agent();
    let store = IcStore::new(&agent, canister);
    let opts = RestoreOptions {
        replace: None,
        concurrency: RESTORE_CONCURRENCY,
        retry: RetryPolicy::default(),
        load,
    };
    let s = restore(&repo.spec, password, backup, &store, &opts, &bar).await?;
    let loaded = s.load.as_ref().is_some_and(|l| l.loaded);
    let line = Line {
        module: canister.to_text(),
        snapshot_id: s.snapshot_id.clone(),
        result: "restored",
        detail: format!(
            "backup {} ({}) uploaded as snapshot {}{}",
            &s.backup_id[..8.min(s.backup_id.len())],
            output::bytes(s.uploaded_bytes),
            s.snapshot_id,
            if loaded { ", loaded and started" } else { "" }
        ),
    };
    update(app, id, |j| j.lines.push(line));
    Ok(format!(
        "Uploaded the backup of {} (snapshot {} taken at {}) to {canister} as snapshot {}{}",
        s.origin.module.as_deref().unwrap_or(&s.origin.canister_id),
        s.origin.snapshot_id,
        s.origin.taken_at,
        s.snapshot_id,
        if loaded {
            "; it was loaded and the canister started again"
        } else {
            "; not loaded (load it with `keepsake snapshot restore` or from the module page)"
        }
    ))
}
