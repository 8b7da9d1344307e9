//! Import: upload a verified export folder as a new snapshot of a canister, and optionally
//! restore it.
//!
//! 1. The caller verified the folder (a tampered or incomplete one never gets here; one without
//!    keepsake.json only with `no_manifest`).
//! 2. Metadata first (creates the snapshot, replacing `--replace` if given), never retried: a
//!    lost reply could otherwise create two snapshots.
//! 3. Data in 1,900,000-byte slices and one call per chunk, `concurrency` in flight, transient
//!    failures retried. Each accepted slice is journaled with its sha256 in keepsake's cache
//!    folder (the export folder may be read-only cold storage), so a second run uploads only the
//!    rest into the same snapshot.
//!    The bytes that go out are the bytes that were checked: each file is read once, in order,
//!    and hashed as its slices are read for upload (`upload_slices`); a file whose hash is not
//!    the one verified fails the import, naming the file, so nothing loads it. A chunk (one
//!    slice) is checked before it is sent. On resume, the slices an earlier run uploaded are read
//!    again and hashed (not sent): their journaled sha256 must match, or they are sent again.
//! 4. Restore (`--restore`): stop, load, and start again whatever happened. The journal is kept
//!    until then: a rerun after a failed or interrupted load loads the uploaded snapshot
//!    without uploading it again (its slices are read and hashed again, not sent).

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

use super::files;
use super::journal::{self, Entry, Journal};
use super::layout::{self, Slice};
use super::manifest;
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
    /// Accept a folder without keepsake.json (`--no-manifest`): its files are then checked
    /// against the hashes taken by `verify` (consistency while uploading), not against any
    /// hash recorded at export.
    pub no_manifest: bool,
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
    let acceptable = report.ok || (opts.no_manifest && report.ok_but_for_the_manifest());
    if !acceptable {
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
    let uploaded = upload_slices(
        store,
        dir,
        report,
        meta,
        &snapshot,
        &done,
        &mut journal,
        opts,
        progress,
    )
    .await?;
    // The journal stays until the snapshot is loaded (or no load was asked for): see step 4.
    drop(journal);
    progress.finish_and_clear();
    Ok(ImportSummary {
        canister_id: target,
        snapshot_id: hex::encode(&snapshot),
        uploaded_bytes: uploaded.uploaded_bytes,
        resumed_bytes: uploaded.resumed_bytes,
        manifest: report.manifest,
        journal: journal_path,
    })
}

/// Bytes sent by this run and bytes an earlier run had sent.
struct Uploaded {
    uploaded_bytes: u64,
    resumed_bytes: u64,
}

/// A file whose bytes, as read for upload, do not hash to what was verified.
#[derive(Debug, thiserror::Error)]
#[error(
    "{path} changed after it was verified: the bytes read for upload hash to sha256 {actual}, \
     but {according_to} says {expected}"
)]
pub struct FileChanged {
    /// Relative path.
    pub path: String,
    /// The verified sha256.
    pub expected: String,
    /// The sha256 of what was read.
    pub actual: String,
    /// `keepsake.json`, or `verify` without a manifest.
    pub according_to: String,
}

/// What to do with one slice, decided when it is read.
enum Step {
    /// An earlier run sent these very bytes (same sha256 as journaled).
    Resumed(u64),
    /// Send it.
    Send(Slice, Vec<u8>, String),
    /// Not read: an earlier slice failed, and its error ends the import.
    Skipped,
}

/// Reads the folder's files in slice order, each opened once (regular files only), and keeps
/// each file's running sha256, so that the bytes sent are the bytes checked.
struct SliceReader<'a> {
    dir: &'a Path,
    /// Verified size and sha256 per path.
    expected: BTreeMap<String, (u64, String)>,
    according_to: &'static str,
    open: BTreeMap<String, (File, Sha256, u64)>,
}

impl SliceReader<'_> {
    /// Reads `s`, feeds it to its file's hash, and checks the file once its last byte is read.
    fn read(&mut self, s: &Slice) -> Result<(Vec<u8>, String)> {
        let path = s.path();
        let Some((size, sha)) = self.expected.get(&path).cloned() else {
            bail!("internal error: {path} was not verified");
        };
        if !self.open.contains_key(&path) {
            let full = self.dir.join(&path);
            let file = files::open_regular(&full)
                .with_context(|| format!("cannot open {}", full.display()))?;
            self.open.insert(path.clone(), (file, Sha256::new(), 0));
        }
        let (file, hasher, hashed) = self.open.get_mut(&path).expect("inserted");
        if *hashed != s.offset {
            bail!(
                "internal error: {path} read at {} after {hashed} bytes",
                s.offset
            );
        }
        let mut buf = vec![0u8; s.len as usize];
        file.read_exact_at(&mut buf, s.offset).with_context(|| {
            format!(
                "cannot read {} (did it change after it was verified?)",
                path
            )
        })?;
        hasher.update(&buf);
        *hashed += s.len;
        if *hashed == size {
            let (_, hasher, _) = self.open.remove(&path).expect("open");
            let actual = hex::encode(hasher.finalize());
            if actual != sha {
                return Err(FileChanged {
                    path,
                    expected: sha,
                    actual,
                    according_to: self.according_to.into(),
                }
                .into());
            }
        }
        let slice_sha = manifest::sha256_hex(&buf);
        Ok((buf, slice_sha))
    }

    /// Files not read to their end (none, once every slice was read).
    fn unfinished(&self) -> Vec<String> {
        self.open.keys().cloned().collect()
    }
}

/// Uploads every slice of the snapshot into `snapshot`, hashing each file as it is read (see
/// the module's step 3). Fails if any file's bytes differ from what was verified: the caller
/// must then not load the snapshot.
#[allow(clippy::too_many_arguments)]
async fn upload_slices<S: SnapshotStore>(
    store: &S,
    dir: &Path,
    report: &VerifyReport,
    meta: &Metadata,
    snapshot: &[u8],
    done: &BTreeMap<(String, u64), Entry>,
    journal: &mut Journal,
    opts: &ImportOptions,
    progress: &ProgressBar,
) -> Result<Uploaded> {
    let target = store.canister().to_text();
    let expected: BTreeMap<String, (u64, String)> = report
        .files
        .iter()
        .map(|f| (f.path.clone(), (f.size, f.sha256.clone())))
        .collect();
    let chunk_len = |hash: &[u8]| {
        expected
            .get(&layout::chunk_path(hash))
            .map(|(size, _)| *size)
            .unwrap_or(0)
    };
    let all = layout::slices(meta, layout::UPLOAD_SLICE, chunk_len);
    let total: u64 = all.iter().map(|s| s.len).sum();
    progress.set_length(total);
    let mut reader = SliceReader {
        dir,
        expected: expected.clone(),
        according_to: if report.manifest {
            layout::MANIFEST
        } else {
            "verify (no keepsake.json)"
        },
        open: BTreeMap::new(),
    };
    // `map` runs in slice order as `buffer_unordered` pulls slices, so each file is read and
    // hashed in order while up to `concurrency` uploads are in flight. After a failed read the
    // rest are neither read nor sent; the failure's own error is the one reported.
    let mut failed = false;
    let mut results = futures::stream::iter(all)
        .map(|s| {
            let step = if failed {
                Ok(Step::Skipped)
            } else {
                reader
                    .read(&s)
                    .map(|(buf, sha)| match done.get(&(s.path(), s.offset)) {
                        Some(e) if e.len == s.len && e.sha256.as_deref() == Some(&sha) => {
                            Step::Resumed(s.len)
                        }
                        _ => Step::Send(s, buf, sha),
                    })
            };
            failed |= step.is_err();
            async move {
                match step? {
                    Step::Skipped => Ok::<_, anyhow::Error>((None, 0)),
                    Step::Resumed(len) => Ok((None, len)),
                    Step::Send(s, buf, sha) => {
                        let len = s.len;
                        retry(opts.retry, || {
                            store.upload_data(snapshot, s.upload_kind(), buf.clone())
                        })
                        .await?;
                        let entry = Entry {
                            path: s.path(),
                            offset: s.offset,
                            len,
                            sha256: Some(sha),
                            crc32: None,
                        };
                        Ok((Some(entry), len))
                    }
                }
            }
        })
        .buffer_unordered(opts.concurrency.max(1));
    let mut out = Uploaded {
        uploaded_bytes: 0,
        resumed_bytes: 0,
    };
    let id = hex::encode(snapshot);
    while let Some(r) = results.next().await {
        let (entry, len) = match r {
            Ok(x) => x,
            Err(e) if e.downcast_ref::<FileChanged>().is_some() => {
                return Err(e.context(format!(
                    "import stopped: snapshot {id} of {target} holds data that was not verified and \
                     was NOT loaded. Make sure nothing writes to {}, verify it again, and rerun the \
                     import with `--replace {id}` (or delete that snapshot)",
                    dir.display()
                )));
            }
            Err(e) => {
                return Err(e.context(format!(
                    "import interrupted; snapshot {id} of {target} is incomplete. Run the same \
                     command again to resume it (do not load it before)"
                )));
            }
        };
        match entry {
            Some(entry) => {
                journal.record(&entry)?;
                out.uploaded_bytes += len;
            }
            None => out.resumed_bytes += len,
        }
        progress.inc(len);
    }
    drop(results);
    // Every file was read to its end and matched; anything else is a bug, and must not load.
    let unfinished = reader.unfinished();
    if !unfinished.is_empty() {
        bail!(
            "internal error: {} not read to the end; snapshot {id} was NOT loaded",
            unfinished.join(", ")
        );
    }
    Ok(out)
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
    use crate::operations::store::CallError;
    use crate::operations::verify::verify_dir;
    use std::cell::Cell;
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
            no_manifest: false,
        }
    }

    /// A FakeStore that runs `tamper` once, right after the `after`-th data upload: a change
    /// to the folder while the import runs, after it was verified.
    struct Tampering<'a> {
        inner: &'a FakeStore,
        after: u64,
        uploads: Cell<u64>,
        tamper: Box<dyn Fn()>,
    }

    impl SnapshotStore for Tampering<'_> {
        fn canister(&self) -> candid::Principal {
            self.inner.canister()
        }
        async fn list(
            &self,
        ) -> Result<Vec<ic_utils::interfaces::management_canister::Snapshot>, CallError> {
            self.inner.list().await
        }
        async fn read_metadata(&self, snapshot: &[u8]) -> Result<Metadata, CallError> {
            self.inner.read_metadata(snapshot).await
        }
        async fn read_data(
            &self,
            snapshot: &[u8],
            kind: ic_utils::interfaces::management_canister::SnapshotDataKind,
        ) -> Result<Vec<u8>, CallError> {
            self.inner.read_data(snapshot, kind).await
        }
        async fn upload_metadata(
            &self,
            args: UploadCanisterSnapshotMetadataArgs,
        ) -> Result<Vec<u8>, CallError> {
            self.inner.upload_metadata(args).await
        }
        async fn upload_data(
            &self,
            snapshot: &[u8],
            kind: ic_utils::interfaces::management_canister::SnapshotDataOffset,
            chunk: Vec<u8>,
        ) -> Result<(), CallError> {
            self.inner.upload_data(snapshot, kind, chunk).await?;
            self.uploads.set(self.uploads.get() + 1);
            if self.uploads.get() == self.after {
                (self.tamper)();
            }
            Ok(())
        }
        async fn take(
            &self,
        ) -> Result<ic_utils::interfaces::management_canister::Snapshot, CallError> {
            self.inner.take().await
        }
        async fn stop(&self) -> Result<(), CallError> {
            self.inner.stop().await
        }
        async fn start(&self) -> Result<(), CallError> {
            self.inner.start().await
        }
        async fn load(&self, snapshot: &[u8]) -> Result<(), CallError> {
            self.inner.load(snapshot).await
        }
        async fn delete(&self, snapshot: &[u8]) -> Result<(), CallError> {
            self.inner.delete(snapshot).await
        }
    }

    #[tokio::test]
    async fn bytes_changed_after_verify_fail_the_import_naming_the_file_and_nothing_is_loaded() {
        // 10 slices of stable memory; the last slice is changed after the first upload, so
        // verify saw the right bytes and only the hash taken while uploading can tell.
        let source = FakeStore::with_snapshot(10_000, 65536, 10 * 1_900_000 - 65536 * 2, 0);
        let dir = tempfile::tempdir().unwrap();
        let out = exported(&source, dir.path()).await;
        let report = verify_dir(&out);
        assert!(report.ok);
        let stable = out.join(layout::STABLE_MEMORY);
        let size = std::fs::metadata(&stable).unwrap().len();
        let target = FakeStore::empty();
        let tampering = Tampering {
            inner: &target,
            after: 1,
            uploads: Cell::new(0),
            tamper: Box::new(move || {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&stable)
                    .unwrap();
                f.write_all_at(&[0xee; 16], size - 16).unwrap();
            }),
        };
        let mut o = opts(&dir.path().join("j"));
        o.concurrency = 1;
        let err = import(&tampering, &out, &report, &o, &ProgressBar::hidden())
            .await
            .unwrap_err();
        let text = format!("{err:#}");
        assert!(
            err.chain()
                .any(|c| c.downcast_ref::<FileChanged>().is_some()),
            "{text}"
        );
        assert!(
            text.contains("stable_memory.bin changed after it was verified"),
            "{text}"
        );
        assert!(text.contains("NOT loaded"), "{text}");
        // The changed slice never went out, and nothing was loaded or stopped.
        let snaps = target.snaps.borrow();
        let snap = snaps.values().next().unwrap();
        assert!(snap.regions[&Region::StableMemory].ends_with(&[0u8; 16]));
        assert!(
            !target
                .calls
                .borrow()
                .iter()
                .any(|c| c == "load" || c == "stop")
        );
    }

    #[tokio::test]
    async fn a_resumed_import_rechecks_the_slices_an_earlier_run_sent() {
        let source = FakeStore::with_snapshot(10_000, 40 * 65536, 70 * 65536, 1);
        let dir = tempfile::tempdir().unwrap();
        let out = exported(&source, dir.path()).await;
        let report = verify_dir(&out);
        let target = FakeStore::empty();
        target.fail_reads_after(2);
        let o = opts(&dir.path().join("j"));
        import(&target, &out, &report, &o, &ProgressBar::hidden())
            .await
            .unwrap_err();
        target.fail_reads_after(u64::MAX);
        // The module (sent by the first run) is changed in place, keeping its size, and the
        // report handed to the second run is the stale one: the reread catches it.
        let module = out.join(layout::WASM_MODULE);
        let mut bytes = std::fs::read(&module).unwrap();
        bytes[0] ^= 0xff;
        std::fs::write(&module, bytes).unwrap();
        let err = import(&target, &out, &report, &o, &ProgressBar::hidden())
            .await
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("wasm_module.bin changed"),
            "{err:#}"
        );
    }

    #[tokio::test]
    async fn a_folder_without_manifest_is_imported_only_with_no_manifest() {
        let source = FakeStore::with_snapshot(10_000, 65536, 65536, 1);
        let dir = tempfile::tempdir().unwrap();
        let out = exported(&source, dir.path()).await;
        std::fs::remove_file(out.join(layout::MANIFEST)).unwrap();
        let report = verify_dir(&out);
        let target = FakeStore::empty();
        let mut o = opts(&dir.path().join("j"));
        assert!(
            import(&target, &out, &report, &o, &ProgressBar::hidden())
                .await
                .is_err()
        );
        assert!(target.calls.borrow().is_empty());
        o.no_manifest = true;
        let s = import(&target, &out, &report, &o, &ProgressBar::hidden())
            .await
            .unwrap();
        assert!(!s.manifest);
        let id = hex::decode(&s.snapshot_id).unwrap();
        assert_eq!(
            target.snaps.borrow()[&id].regions[&Region::StableMemory],
            source.region(Region::StableMemory)
        );
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
