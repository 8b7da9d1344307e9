//! Keepsake's lock on a backup repository, so two keepsakes never work on one repository in
//! ways that hurt each other.
//!
//! rustic_core 0.13 takes no locks at all (it has no lock file type, and no way to write into
//! restic's `locks/` folder: restic lock files are encrypted, and rustic_core exposes neither
//! its encryption nor that folder). So keepsake keeps its own, documented lock: one small
//! plain JSON file per holder (kind, host, pid, command, when; nothing secret) at
//! `<repo>/keepsake-locks/snapshots/<random id>`, written through the same
//! backend as the repository (a local folder or S3). restic does not look there, nor does
//! keepsake look at restic's `locks/`: do not run `restic prune` while keepsake works on the
//! repository (docs/ARCHITECTURE.md, "Decisions").
//!
//! 1. Write my lock file.
//! 2. List every lock file; one whose holder is gone is removed: on this host, a pid that no
//!    longer runs; elsewhere, one not refreshed for [`STALE_AFTER`] (holders refresh theirs
//!    every [`REFRESH_EVERY`]).
//! 3. Any other live lock that conflicts with mine: remove mine and refuse, naming the holder.
//!    Object stores have no create-if-absent, so two keepsakes starting in the same instant may
//!    both see each other and both refuse; neither ever goes ahead while the other does.
//! 4. Held until dropped: the refresher stops and the file is removed.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rustic_core::{FileType, Id, WriteBackend};
use serde::{Deserialize, Serialize};

use super::repo::rustic_error;

/// The folder under the repository's root that holds keepsake's locks.
pub const LOCK_DIR: &str = "keepsake-locks";
/// A lock not refreshed for this long belongs to a process that is gone (restic's rule too).
pub const STALE_AFTER: Duration = Duration::from_secs(30 * 60);
/// How often a holder rewrites its lock's `refreshed_at`.
pub const REFRESH_EVERY: Duration = Duration::from_secs(5 * 60);

/// What the holder does, which decides what it conflicts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockKind {
    /// `backup run` / `sync`: writes data and snapshots, and removes the unfinished first
    /// passes of the snapshot it backs up, which another run of the same snapshot is writing.
    Backup,
    /// `backup restore`: reads a backup; fine next to a backup, not next to a forget.
    Restore,
    /// `backup forget` (with or without `--prune`): removes snapshots and packs others read.
    Forget,
}

impl LockKind {
    fn conflicts_with(self, other: LockKind) -> bool {
        self == LockKind::Forget
            || other == LockKind::Forget
            || (self == LockKind::Backup && other == LockKind::Backup)
    }
}

/// The content of one lock file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LockInfo {
    /// What the holder does.
    pub kind: LockKind,
    /// The holder's host name.
    pub hostname: String,
    /// The holder's process id.
    pub pid: u32,
    /// The command, e.g. `keepsake backup run`.
    pub command: String,
    /// When it was taken, nanoseconds since the epoch.
    pub created_ns: u64,
    /// When the holder last said it is alive, nanoseconds since the epoch.
    pub refreshed_ns: u64,
}

impl LockInfo {
    /// Is the holder gone?
    fn is_stale(&self, now_ns: u64, my_host: &str) -> bool {
        if !my_host.is_empty() && self.hostname == my_host && !pid_alive(self.pid) {
            return true;
        }
        now_ns.saturating_sub(self.refreshed_ns) > STALE_AFTER.as_nanos() as u64
    }

    /// "`keepsake backup run` (pid 42 on host h, since 2026-…)".
    pub fn describe(&self) -> String {
        format!(
            "`{}` (pid {} on host {}, since {})",
            self.command,
            self.pid,
            self.hostname,
            crate::output::time(self.created_ns)
        )
    }
}

/// A held lock; dropping it releases it.
pub struct RepoLock {
    backend: Arc<dyn WriteBackend>,
    id: Id,
    stop: Arc<(Mutex<bool>, Condvar)>,
    refresher: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for RepoLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RepoLock({})", self.id)
    }
}

/// Takes the lock of kind `kind` in `backend` (rooted at `<repo>/keepsake-locks`) for
/// `command`; `repo` names the repository in the refusal.
pub fn acquire(
    backend: Arc<dyn WriteBackend>,
    repo: &str,
    kind: LockKind,
    command: &str,
) -> Result<RepoLock> {
    off_the_runtime(|| acquire_blocking(backend, repo, kind, command))
}

fn acquire_blocking(
    backend: Arc<dyn WriteBackend>,
    repo: &str,
    kind: LockKind,
    command: &str,
) -> Result<RepoLock> {
    let host = hostname();
    let now = crate::output::now_ns();
    let mine = LockInfo {
        kind,
        hostname: host.clone(),
        pid: std::process::id(),
        command: command.to_string(),
        created_ns: now,
        refreshed_ns: now,
    };
    // 1. Mine.
    let id = Id::random();
    write(&backend, &id, &mine)
        .with_context(|| format!("cannot write keepsake's lock into the repository {repo}"))?;
    let lock = RepoLock {
        backend: backend.clone(),
        id,
        stop: Arc::new((Mutex::new(false), Condvar::new())),
        refresher: None,
    };
    // 2. Theirs (an error here drops `lock`, which removes mine).
    let ids = backend
        .list(FileType::Snapshot)
        .map_err(|e| rustic_error(*e))
        .with_context(|| format!("cannot list the locks of the repository {repo}"))?;
    for other in ids.into_iter().filter(|o| *o != id) {
        // A lock removed meanwhile, or a file that is not a lock: not a holder.
        let Ok(bytes) = backend.read_full(FileType::Snapshot, &other) else {
            continue;
        };
        let Ok(info) = serde_json::from_slice::<LockInfo>(&bytes) else {
            continue;
        };
        if info.is_stale(crate::output::now_ns(), &host) {
            crate::output::note(&format!(
                "Removing the stale lock of {} from the repository {repo}",
                info.describe()
            ));
            let _ = backend.remove(FileType::Snapshot, &other, false);
            continue;
        }
        // 3. A live holder we cannot work next to.
        if kind.conflicts_with(info.kind) {
            drop(lock);
            bail!(
                "the repository {repo} is in use by {}; wait until it has finished and try again \
                 (a lock whose process is gone is removed at once on its own host, and after {} \
                 minutes without a refresh elsewhere)",
                info.describe(),
                STALE_AFTER.as_secs() / 60
            );
        }
    }
    Ok(lock.start_refresher(mine))
}

impl RepoLock {
    fn start_refresher(mut self, mut info: LockInfo) -> Self {
        let backend = self.backend.clone();
        let id = self.id;
        let stop = self.stop.clone();
        self.refresher = Some(std::thread::spawn(move || {
            refresh_until_stopped(&stop, REFRESH_EVERY, || {
                info.refreshed_ns = crate::output::now_ns();
                // A failed refresh is retried at the next tick; the lock goes stale only
                // after several missed ones.
                let _ = write(&backend, &id, &info);
            });
        }));
        self
    }
}

/// Calls `refresh` every `every` until the flag in `stop` is set. The flag is checked before
/// each wait: a lock dropped before its refresher first waited (a command that fails right
/// after taking it) must not wait a whole period for a notification it already missed.
fn refresh_until_stopped(
    stop: &(Mutex<bool>, Condvar),
    every: Duration,
    mut refresh: impl FnMut(),
) {
    let (flag, cv) = stop;
    let mut stopped = flag.lock().unwrap();
    while !*stopped {
        let (s, timeout) = cv.wait_timeout(stopped, every).unwrap();
        stopped = s;
        if !*stopped && timeout.timed_out() {
            refresh();
        }
    }
}

impl Drop for RepoLock {
    fn drop(&mut self) {
        {
            let (flag, cv) = &*self.stop;
            *flag.lock().unwrap() = true;
            cv.notify_all();
        }
        if let Some(t) = self.refresher.take() {
            let _ = t.join();
        }
        off_the_runtime(|| {
            let _ = self.backend.remove(FileType::Snapshot, &self.id, false);
        });
    }
}

/// Runs blocking backend calls: OpenDAL's blocking operator must not run on a tokio worker
/// (it blocks on its own runtime), and a lock is taken and dropped from async code.
pub fn off_the_runtime<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

fn write(backend: &Arc<dyn WriteBackend>, id: &Id, info: &LockInfo) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(info)?;
    backend
        .write_bytes(FileType::Snapshot, id, false, bytes.into())
        .map_err(|e| rustic_error(*e))
}

/// This machine's host name (empty if it cannot be read: then only the age makes a lock
/// stale).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// Does a process with this id run on this host? Read from `/proc` (no unsafe `kill(pid, 0)`);
/// where there is no `/proc`, every holder counts as alive and only the age makes a lock stale.
fn pid_alive(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    if !proc.join("self").exists() {
        return true;
    }
    pid != 0 && proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(kind: LockKind, host: &str, pid: u32, refreshed_ns: u64) -> LockInfo {
        LockInfo {
            kind,
            hostname: host.into(),
            pid,
            command: "keepsake backup run".into(),
            created_ns: refreshed_ns,
            refreshed_ns,
        }
    }

    #[test]
    fn two_backups_or_anything_next_to_a_forget_conflict_but_a_restore_next_to_a_backup_does_not() {
        use LockKind::*;
        assert!(Backup.conflicts_with(Backup));
        assert!(Forget.conflicts_with(Restore));
        assert!(Restore.conflicts_with(Forget));
        assert!(!Restore.conflicts_with(Backup));
        assert!(!Backup.conflicts_with(Restore));
        assert!(!Restore.conflicts_with(Restore));
    }

    #[test]
    fn a_lock_is_stale_when_its_pid_is_gone_on_this_host_or_it_was_not_refreshed_for_30_minutes() {
        let now = crate::output::now_ns();
        let me = std::process::id();
        // Alive here, fresh: held.
        assert!(!info(LockKind::Backup, "h", me, now).is_stale(now, "h"));
        // Another host, fresh: held whatever its pid.
        assert!(!info(LockKind::Backup, "other", u32::MAX, now).is_stale(now, "h"));
        // A pid that cannot run here.
        assert!(info(LockKind::Backup, "h", u32::MAX, now).is_stale(now, "h"));
        // Not refreshed for 31 minutes.
        let old = now - 31 * 60 * 1_000_000_000;
        assert!(info(LockKind::Backup, "other", 1, old).is_stale(now, "h"));
    }

    #[test]
    fn a_refresher_stopped_before_it_first_waits_ends_at_once() {
        let stop = (Mutex::new(true), Condvar::new());
        let started = std::time::Instant::now();
        let mut refreshed = 0;
        refresh_until_stopped(&stop, Duration::from_secs(60), || refreshed += 1);
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(refreshed, 0);
    }
}
