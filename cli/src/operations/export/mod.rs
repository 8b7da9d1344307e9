//! Export: download a snapshot into the dfx/icp-cli layout plus `keepsake.json`, as a short
//! pipeline of stages, each in its own module:
//!
//! 1. `prepare`: everything goes into `<out>.partial`, checked and locked first (`partial`:
//!    never a link, never another tool's folder, never two exports at once); an interrupted
//!    export of the same snapshot is resumed from its journal; metadata.json is written first.
//!    Files in the folder are opened without following links (`files`).
//! 2. `write` creates the region files at their final size; `plan` cuts the regions into
//!    2,000,000-byte slices (and one read per chunk) and drops those an earlier run journaled
//!    and the disk still holds.
//! 3. `fetch`: `concurrency` reads in flight, completing in any order (a replica answers in
//!    rounds, out of order), each written at its offset with a positioned write (`write`) and
//!    journaled with a checksum (`journal`). Memory stays at most `fetch::slice_budget` (1.5 ×
//!    `concurrency`) slices whatever the snapshot's size (reads in flight and writes pending
//!    together); a slice is freed once written. Transient failures are retried with backoff;
//!    anything else stops the export, keeping what was written for the next run.
//! 4. `hash`: each file's sha256 for keepsake.json is computed during the download, by reading
//!    back (from the page cache) each range once everything before it is written, in file order
//!    (a reorder buffer of lengths, `reorder`); files an earlier run had started are hashed from
//!    disk at the end instead.
//! 5. `finish`: everything fsynced, keepsake.json written, `<out>` appears (by rename) only when
//!    complete, fsynced and hashed.

mod fetch;
mod finish;
mod hash;
mod plan;
mod prepare;
#[cfg(test)]
mod tests;
mod write;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use super::layout::Region;
use super::manifest::FileEntry;
use super::partial::Partial;
use super::store::{RetryPolicy, SnapshotStore};
use super::timings::{self, Timings, timed};

/// How to export.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The folder to create.
    pub out: PathBuf,
    /// Reads in flight.
    pub concurrency: usize,
    /// Bytes per read.
    pub slice: u64,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// Where the time goes (printed by the command when `KEEPSAKE_TIMINGS` is set).
    pub timings: Arc<Timings>,
}

/// The first line of the export journal: which snapshot the partial folder holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ExportHeader {
    /// The canister.
    pub canister_id: String,
    /// The snapshot, hex.
    pub snapshot_id: String,
}

/// What an export did.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    /// The folder written.
    pub out: PathBuf,
    /// The canister.
    pub canister_id: String,
    /// The snapshot, hex.
    pub snapshot_id: String,
    /// When the IC took it (ns since the epoch).
    pub taken_at_timestamp: u64,
    /// Bytes of all files.
    pub total_bytes: u64,
    /// Bytes downloaded by this run.
    pub transferred_bytes: u64,
    /// Bytes an earlier, interrupted run had already written (and that were re-checked).
    pub resumed_bytes: u64,
    /// Every file with its size and sha256 (as in keepsake.json).
    pub files: Vec<FileEntry>,
}

/// (tests) Downloads `snapshot` of `store`'s canister into `opts.out`, claiming
/// `<out>.partial` first.
#[cfg(test)]
pub async fn export<S: SnapshotStore>(
    store: &S,
    snapshot: &[u8],
    opts: &ExportOptions,
    progress: &ProgressBar,
) -> Result<ExportSummary> {
    let claim = Partial::claim(&opts.out)?;
    export_into(store, snapshot, opts, claim, progress).await
}

/// Downloads `snapshot` of `store`'s canister into the claimed `<out>.partial`, then publishes
/// it as `<out>` (the command claims before it resolves or takes a snapshot).
pub async fn export_into<S: SnapshotStore>(
    store: &S,
    snapshot: &[u8],
    opts: &ExportOptions,
    mut claim: Partial,
    progress: &ProgressBar,
) -> Result<ExportSummary> {
    let t = &*opts.timings;
    let mut prepared = prepare::prepare(store, snapshot, opts, &mut claim).await?;
    let files = Arc::new(write::RegionFiles::create(
        &prepared.partial,
        &prepared.meta,
    )?);
    let plan = plan::plan(&prepared, opts.slice, &files);
    show_resumed(progress, &prepared, &plan);

    let download_start = Instant::now();
    let mut hasher =
        hash::InOrderHasher::start(&plan.hashed_on_the_way, files.clone(), opts.timings.clone());
    let destination = fetch::Destination {
        dir: &prepared.partial,
        files: files.clone(),
        journal: &mut prepared.journal,
        hasher: &mut hasher,
    };
    let downloaded =
        fetch::download(store, snapshot, opts, plan.todo, destination, progress).await?;
    let hashes = hasher.finish().await?;
    timings::add(&t.download, download_start.elapsed());

    let finish_start = Instant::now();
    timed(&t.fsync_final, || {
        files.sync_all(&prepared.partial, &prepared.meta)
    })?;
    drop(files);
    let entries = finish::file_entries(&prepared, &plan.hashed_from_disk, hashes, &downloaded, t)?;
    let summary = ExportSummary {
        out: claim.out.clone(),
        canister_id: prepared.header.canister_id.clone(),
        snapshot_id: prepared.header.snapshot_id.clone(),
        taken_at_timestamp: prepared.meta.taken_at_timestamp,
        total_bytes: entries.iter().map(|e| e.size).sum(),
        transferred_bytes: downloaded.transferred_bytes,
        resumed_bytes: plan.resumed_bytes,
        files: entries,
    };
    finish::write_manifest(prepared, &summary.files, t)?;
    finish::publish(claim, t)?;
    timings::add(&t.finish, finish_start.elapsed());
    progress.finish_and_clear();
    Ok(summary)
}

/// Sizes the progress bar to the regions' bytes and starts it at what an earlier run did.
fn show_resumed(progress: &ProgressBar, prepared: &prepare::Prepared, plan: &plan::Plan) {
    let region_total: u64 = Region::ALL.iter().map(|r| r.size(&prepared.meta)).sum();
    progress.set_length(region_total);
    progress.set_position(plan.resumed_bytes.min(region_total));
}
