//! Import: upload a verified export folder as a new snapshot of a canister, and optionally
//! restore it.
//!
//! 1. The caller verified the folder (a tampered or incomplete one never gets here).
//! 2. Metadata first (creates the snapshot, replacing `--replace` if given), never retried: a
//!    lost reply could otherwise create two snapshots.
//! 3. Data in 1,900,000-byte slices and one call per chunk, `concurrency` in flight, transient
//!    failures retried. Each accepted slice is journaled in keepsake's cache folder (the export
//!    folder may be read-only cold storage), so a second run uploads only the rest into the
//!    same snapshot.
//! 4. Restore (`--restore`): stop, load, and start again whatever happened. The journal is kept
//!    until then: a rerun after a failed or interrupted load loads the uploaded snapshot
//!    without uploading it again.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use futures::StreamExt;
use ic_management_canister_types::UploadCanisterSnapshotMetadataArgs;
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::journal::{self, Entry, Journal};
use super::layout;
use super::store::{Metadata, RetryPolicy, SnapshotStore, retry};
use super::verify::VerifyReport;

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Snapshot to replace (`--replace`).
    pub replace: Option<Vec<u8>>,
    /// Uploads in flight.
    pub concurrency: usize,
    /// Where resume journals live.
    pub journal_dir: PathBuf,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
}

/// The first line of an import journal.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct ImportHeader {
    target: String,
    digest: String,
    snapshot_id: String,
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    /// The canister it went to.
    pub canister_id: String,
    /// The new snapshot, hex.
    pub snapshot_id: String,
    /// Bytes uploaded by this run.
    pub uploaded_bytes: u64,
    /// Bytes an interrupted earlier run had uploaded.
    pub resumed_bytes: u64,
    /// Whether the folder had a keepsake.json.
    pub manifest: bool,
    /// The resume journal, kept until the caller [`forget`]s it.
    #[serde(skip)]
    pub journal: PathBuf,
}

/// The upload arguments for a snapshot described by `m`.
pub fn upload_args(
    m: &Metadata,
    canister: candid::Principal,
    replace: Option<Vec<u8>>,
) -> Result<UploadCanisterSnapshotMetadataArgs> {
    let globals = m
        .globals
        .iter()
        .enumerate()
        .map(|(i, g)| {
            g.clone().ok_or_else(|| {
                anyhow!("metadata.json: global {i} has a type this keepsake does not know; upgrade keepsake")
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(UploadCanisterSnapshotMetadataArgs {
        canister_id: canister,
        replace_snapshot: replace,
        wasm_module_size: m.wasm_module_size,
        globals,
        wasm_memory_size: m.wasm_memory_size,
        stable_memory_size: m.stable_memory_size,
        certified_data: m.certified_data.clone(),
        global_timer: m.global_timer.clone(),
        on_low_wasm_memory_hook_status: m.on_low_wasm_memory_hook_status.clone(),
    })
}

/// A digest of the folder's content (every file's path, size and sha256).
fn digest(report: &VerifyReport) -> String {
    let mut h = Sha256::new();
    for f in &report.files {
        h.update(format!("{} {} {}\n", f.path, f.size, f.sha256));
    }
    hex::encode(h.finalize())
}

/// Where the journal of importing `report`'s folder into `target` lives: one per (target,
/// folder content), so a rerun of the same import finds it.
pub fn journal_path(journal_dir: &Path, target: &str, report: &VerifyReport) -> PathBuf {
    let key = hex::encode(&Sha256::digest(format!("{target} {}", digest(report)))[..16]);
    journal_dir.join(format!("import-{key}.journal"))
}

/// The snapshot an earlier run of the same import (same target, same folder content) uploaded
/// into — in part, or whole but not loaded — if it still exists, with the slices it holds.
async fn earlier_upload<S: SnapshotStore>(
    store: &S,
    report: &VerifyReport,
    opts: &ImportOptions,
) -> Result<Option<(Vec<u8>, BTreeMap<(String, u64), Entry>)>> {
    let target = store.canister().to_text();
    let path = journal_path(&opts.journal_dir, &target, report);
    let Some(l) = journal::load::<ImportHeader>(&path)? else {
        return Ok(None);
    };
    if l.header.target != target || l.header.digest != digest(report) {
        return Ok(None);
    }
    let id = hex::decode(&l.header.snapshot_id)?;
    let exists = retry(opts.retry, || store.list())
        .await?
        .iter()
        .any(|s| s.id == id);
    Ok(exists.then_some((id, l.done)))
}

/// The snapshot an earlier run of this import left on the target (see [`import`]), which a
/// new run continues instead of uploading a second copy.
pub async fn resumable<S: SnapshotStore>(
    store: &S,
    report: &VerifyReport,
    opts: &ImportOptions,
) -> Result<Option<Vec<u8>>> {
    Ok(earlier_upload(store, report, opts).await?.map(|(id, _)| id))
}

/// Uploads the verified folder `dir` (its `report`) to `store`'s canister.
///
/// The journal stays after a complete upload (`ImportSummary::journal`): the caller deletes it
/// with [`forget`] once the snapshot is loaded (or no load was asked for), so a rerun after a
/// failed or interrupted load reuses the uploaded snapshot instead of uploading it again.
pub async fn import<S: SnapshotStore>(
    store: &S,
    dir: &Path,
    report: &VerifyReport,
    opts: &ImportOptions,
    progress: &ProgressBar,
) -> Result<ImportSummary> {
    if !report.ok {
        bail!("{} did not verify; refusing to import it", dir.display());
    }
    let meta = report
        .metadata
        .as_ref()
        .ok_or_else(|| anyhow!("{} has no readable metadata.json", dir.display()))?;
    let target = store.canister().to_text();
    let digest = digest(report);
    let journal_path = journal_path(&opts.journal_dir, &target, report);

    // 1. Resume into the snapshot an earlier run created, if it still exists (it already
    //    replaced what it was asked to replace).
    let resumed = earlier_upload(store, report, opts).await?;
    let fresh = resumed.is_none();
    let (snapshot, done) = match resumed {
        Some(r) => r,
        None => {
            // 2. Metadata: creates the (zero-filled) snapshot.
            let args = upload_args(meta, store.canister(), opts.replace.clone())?;
            let id = store.upload_metadata(args).await.map_err(|e| e.error)?;
            (id, Default::default())
        }
    };
    let header = ImportHeader {
        target: target.clone(),
        digest,
        snapshot_id: hex::encode(&snapshot),
    };
    let mut journal = Journal::open(&journal_path, &header, fresh)?;

    // 3. Data.
    let chunk_len = |hash: &[u8]| {
        let path = layout::chunk_path(hash);
        report
            .files
            .iter()
            .find(|f| f.path == path)
            .map(|f| f.size)
            .unwrap_or(0)
    };
    let all = layout::slices(meta, layout::UPLOAD_SLICE, chunk_len);
    let total: u64 = all.iter().map(|s| s.len).sum();
    let mut resumed_bytes = 0;
    let todo: Vec<_> = all
        .into_iter()
        .filter(|s| {
            let skip = done.contains_key(&(s.path(), s.offset));
            if skip {
                resumed_bytes += s.len;
            }
            !skip
        })
        .collect();
    progress.set_length(total);
    progress.set_position(resumed_bytes);
    let snapshot_ref = &snapshot;
    let mut results = futures::stream::iter(todo)
        .map(|s| async move {
            let path = dir.join(s.path());
            let file =
                File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
            let mut buf = vec![0u8; s.len as usize];
            file.read_exact_at(&mut buf, s.offset)
                .with_context(|| format!("cannot read {}", path.display()))?;
            retry(opts.retry, || {
                store.upload_data(snapshot_ref, s.upload_kind(), buf.clone())
            })
            .await?;
            Ok::<_, anyhow::Error>(Entry {
                path: s.path(),
                offset: s.offset,
                len: s.len,
                sha256: None,
            })
        })
        .buffer_unordered(opts.concurrency.max(1));
    let mut uploaded_bytes = 0;
    while let Some(r) = results.next().await {
        let entry = r.with_context(|| {
            format!(
                "import interrupted; snapshot {} of {target} is incomplete. Run the same command again to \
                 resume it (do not load it before)",
                hex::encode(&snapshot)
            )
        })?;
        journal.record(&entry)?;
        uploaded_bytes += entry.len;
        progress.inc(entry.len);
    }
    drop(results);
    drop(journal);
    progress.finish_and_clear();
    Ok(ImportSummary {
        canister_id: target,
        snapshot_id: hex::encode(&snapshot),
        uploaded_bytes,
        resumed_bytes,
        manifest: report.manifest,
        journal: journal_path,
    })
}

/// Deletes an import's journal once nothing is left to resume (the snapshot was loaded, or no
/// load was asked for). A journal already gone is fine.
pub fn forget(journal: &Path) -> Result<()> {
    match std::fs::remove_file(journal) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", journal.display()))
        }
        _ => Ok(()),
    }
}

/// What to tell the user when an uploaded snapshot was not loaded (or not recorded): which
/// snapshot is left, that a rerun reuses it, and how to delete it instead.
pub fn leftover_note(canister: &str, module: Option<&str>, snapshot_hex: &str) -> String {
    let delete = match module {
        Some(module) => format!("`keepsake snapshot delete {module} --snapshot {snapshot_hex}`"),
        None => format!(
            "`icp canister snapshot delete {canister} {snapshot_hex}` (or `dfx canister snapshot delete {canister} {snapshot_hex}`)"
        ),
    };
    format!(
        "snapshot {snapshot_hex} was uploaded to {canister} and is left there, not loaded. Run the same \
         import again to use it without uploading it again, or delete it with {delete}"
    )
}

/// How a restore went, step by step.
#[derive(Debug, Clone, Serialize, Default)]
pub struct RestoreSteps {
    /// `stop_canister` succeeded.
    pub stopped: bool,
    /// `load_canister_snapshot` succeeded.
    pub loaded: bool,
    /// `start_canister` succeeded.
    pub started: bool,
}

/// Stops the canister, loads `snapshot`, and starts it again whatever happened.
pub async fn restore<S: SnapshotStore>(
    store: &S,
    snapshot: &[u8],
    policy: RetryPolicy,
) -> Result<RestoreSteps> {
    let mut steps = RestoreSteps::default();
    let canister = store.canister();
    let stop = retry(policy, || store.stop()).await;
    steps.stopped = stop.is_ok();
    let load = match stop {
        Ok(()) => retry(policy, || store.load(snapshot)).await,
        Err(e) => Err(e.context("the canister could not be stopped, so nothing was loaded")),
    };
    steps.loaded = load.is_ok();
    let start = retry(policy, || store.start()).await;
    steps.started = start.is_ok();
    load?;
    start.with_context(|| {
        format!("the snapshot was loaded but canister {canister} did not start: start it with `dfx canister start {canister}`")
    })?;
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operations::export::{ExportOptions, export};
    use crate::operations::fake::FakeStore;
    use crate::operations::layout::Region;
    use crate::operations::verify::verify_dir;
    use std::time::Duration;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            attempts: 3,
            first_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
        }
    }

    fn opts(journal_dir: &Path) -> ImportOptions {
        ImportOptions {
            replace: None,
            concurrency: 3,
            journal_dir: journal_dir.to_path_buf(),
            retry: policy(),
        }
    }

    async fn exported(store: &FakeStore, dir: &Path) -> PathBuf {
        let out = dir.join("export");
        let o = ExportOptions {
            out: out.clone(),
            concurrency: 4,
            slice: 2_000_000,
            retry: policy(),
            timings: Default::default(),
        };
        export(store, &store.snapshot_id(), &o, &ProgressBar::hidden())
            .await
            .unwrap();
        out
    }

    #[tokio::test]
    async fn an_export_imported_into_another_canister_holds_the_same_bytes() {
        let source = FakeStore::with_snapshot(30_000, 40 * 65536, 70 * 65536, 2);
        let dir = tempfile::tempdir().unwrap();
        let out = exported(&source, dir.path()).await;
        let target = FakeStore::empty();
        let report = verify_dir(&out);
        let s = import(
            &target,
            &out,
            &report,
            &opts(&dir.path().join("j")),
            &ProgressBar::hidden(),
        )
        .await
        .unwrap();
        let id = hex::decode(&s.snapshot_id).unwrap();
        let snaps = target.snaps.borrow();
        let snap = &snaps[&id];
        for r in Region::ALL {
            assert_eq!(snap.regions[&r], source.region(r), "{r:?}");
        }
        assert_eq!(snap.chunks.len(), 2);
        assert_eq!(snap.meta.as_ref().unwrap().certified_data, vec![1, 2, 3]);
    }

    #[tokio::test]
    async fn an_interrupted_import_resumes_into_the_same_snapshot() {
        let source = FakeStore::with_snapshot(10_000, 40 * 65536, 70 * 65536, 1);
        let dir = tempfile::tempdir().unwrap();
        let out = exported(&source, dir.path()).await;
        let target = FakeStore::empty();
        let report = verify_dir(&out);
        target.fail_reads_after(2);
        let err = import(
            &target,
            &out,
            &report,
            &opts(&dir.path().join("j")),
            &ProgressBar::hidden(),
        )
        .await
        .unwrap_err();
        assert!(format!("{err:#}").contains("resume"), "{err:#}");
        target.fail_reads_after(u64::MAX);
        let s = import(
            &target,
            &out,
            &report,
            &opts(&dir.path().join("j")),
            &ProgressBar::hidden(),
        )
        .await
        .unwrap();
        assert!(s.resumed_bytes > 0);
        assert_eq!(
            target.snaps.borrow().len(),
            1,
            "no second snapshot was created"
        );
        let id = hex::decode(&s.snapshot_id).unwrap();
        assert_eq!(
            target.snaps.borrow()[&id].regions[&Region::StableMemory],
            source.region(Region::StableMemory)
        );
    }

    #[tokio::test]
    async fn a_complete_upload_that_was_not_loaded_is_reused_by_a_rerun_until_forgotten() {
        let source = FakeStore::with_snapshot(10_000, 40 * 65536, 70 * 65536, 1);
        let dir = tempfile::tempdir().unwrap();
        let out = exported(&source, dir.path()).await;
        let target = FakeStore::empty();
        let report = verify_dir(&out);
        let o = opts(&dir.path().join("j"));
        // A run whose load then failed (or that was killed before it): the journal stays.
        let first = import(&target, &out, &report, &o, &ProgressBar::hidden())
            .await
            .unwrap();
        assert!(first.journal.exists());
        assert_eq!(
            resumable(&target, &report, &o).await.unwrap(),
            Some(hex::decode(&first.snapshot_id).unwrap())
        );
        let uploads = target.uploads.get();
        let again = import(&target, &out, &report, &o, &ProgressBar::hidden())
            .await
            .unwrap();
        assert_eq!(again.snapshot_id, first.snapshot_id, "the same snapshot");
        assert_eq!(again.uploaded_bytes, 0, "nothing uploaded again");
        assert_eq!(again.resumed_bytes, first.uploaded_bytes);
        assert_eq!(target.uploads.get(), uploads, "no upload call at all");
        assert_eq!(target.snaps.borrow().len(), 1, "no second copy");
        // Once loaded, the journal is forgotten: a new import is a new snapshot.
        forget(&again.journal).unwrap();
        forget(&again.journal).unwrap();
        assert_eq!(resumable(&target, &report, &o).await.unwrap(), None);
        import(&target, &out, &report, &o, &ProgressBar::hidden())
            .await
            .unwrap();
        assert_eq!(target.snaps.borrow().len(), 2);
    }

    #[test]
    fn the_leftover_note_names_the_snapshot_and_how_to_reuse_or_delete_it() {
        let m = leftover_note("aaaaa-aa", Some("app"), "00ff");
        assert!(m.contains("snapshot 00ff"), "{m}");
        assert!(m.contains("Run the same import again"), "{m}");
        assert!(
            m.contains("keepsake snapshot delete app --snapshot 00ff"),
            "{m}"
        );
        let c = leftover_note("aaaaa-aa", None, "00ff");
        assert!(
            c.contains("icp canister snapshot delete aaaaa-aa 00ff"),
            "{c}"
        );
    }

    #[tokio::test]
    async fn a_folder_that_does_not_verify_is_refused_before_any_call() {
        let source = FakeStore::with_snapshot(10_000, 65536, 65536, 0);
        let dir = tempfile::tempdir().unwrap();
        let out = exported(&source, dir.path()).await;
        std::fs::write(out.join(layout::WASM_MEMORY), b"short").unwrap();
        let target = FakeStore::empty();
        let report = verify_dir(&out);
        assert!(
            import(
                &target,
                &out,
                &report,
                &opts(dir.path()),
                &ProgressBar::hidden()
            )
            .await
            .is_err()
        );
        assert!(target.calls.borrow().is_empty());
    }

    #[tokio::test]
    async fn restore_stops_loads_and_always_starts_again() {
        let store = FakeStore::with_snapshot(100, 65536, 0, 0);
        let id = store.snapshot_id();
        let steps = restore(&store, &id, policy()).await.unwrap();
        assert!(steps.stopped && steps.loaded && steps.started);
        assert_eq!(*store.calls.borrow(), vec!["stop", "load", "start"]);
        store.calls.borrow_mut().clear();
        let err = restore(&store, b"missing", policy()).await.unwrap_err();
        assert!(err.to_string().contains("Could not find"), "{err}");
        assert_eq!(*store.calls.borrow(), vec!["stop", "load", "start"]);
        assert!(!store.stopped.get());
    }
}
