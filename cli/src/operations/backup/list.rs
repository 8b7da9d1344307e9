//! What the repository holds: its complete keepsake backups, each with where it came from
//! (the tags), when it was written and its size, newest snapshot first. Unfinished first
//! passes (`tags::PARTIAL`) and snapshots keepsake did not write are left out.

use anyhow::{Context, Result};
use serde::Serialize;

use super::repo::{Password, RepoSpec, backup_id, bytes_backed_up, rustic_error};
use super::tags::{self, Origin};
use crate::output;

/// One backup.
#[derive(Debug, Clone, Serialize)]
pub struct Backup {
    /// The restic snapshot id (what `backup restore` takes; a unique prefix is enough).
    pub backup_id: String,
    /// Where its snapshot came from.
    #[serde(flatten)]
    pub origin: Origin,
    /// When it was written, RFC 3339 (empty when the repository does not say).
    pub backed_up_at: String,
    /// Bytes of its files.
    pub total_bytes: u64,
    /// Every tag, as `restic snapshots` shows them.
    pub tags: Vec<String>,
}

/// Reads the list (blocking: rustic_core is synchronous).
pub fn list_blocking(spec: &RepoSpec, password: &Password) -> Result<Vec<Backup>> {
    let repo = spec.open(password)?;
    let snaps = repo.get_all_snapshots().map_err(|e| rustic_error(*e))?;
    let mut out: Vec<Backup> = snaps
        .iter()
        .filter(|s| !tags::is_partial(s))
        .filter_map(|s| {
            let origin = Origin::from_snapshot(s)?;
            Some(Backup {
                backup_id: backup_id(s),
                // Whole seconds, as every other time keepsake shows.
                backed_up_at: s
                    .summary
                    .as_ref()
                    .and_then(|x| u64::try_from(x.backup_end.timestamp().as_second()).ok())
                    .map(|secs| output::time(secs.saturating_mul(1_000_000_000)))
                    .unwrap_or_default(),
                total_bytes: bytes_backed_up(s),
                tags: s.tags.iter().cloned().collect(),
                origin,
            })
        })
        .collect();
    // RFC 3339 in UTC with whole seconds sorts as text.
    out.sort_by(|a, b| {
        b.origin
            .taken_at
            .cmp(&a.origin.taken_at)
            .then(b.backed_up_at.cmp(&a.backed_up_at))
    });
    Ok(out)
}

/// The same, off the async runtime.
pub async fn list(spec: &RepoSpec, password: &Password) -> Result<Vec<Backup>> {
    let (spec, password) = (spec.clone(), password.clone());
    tokio::task::spawn_blocking(move || list_blocking(&spec, &password))
        .await
        .context("the repository thread panicked")?
}
