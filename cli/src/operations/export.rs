//! Export: download a snapshot into the dfx/icp-cli layout plus `keepsake.json`.
//!
//! 1. Everything goes into `<out>.partial`, checked and locked first (`partial`: never a link,
//!    never another tool's folder, never two exports at once); `<out>` appears (by rename) only
//!    when complete, fsynced and hashed. Files in it are opened without following links
//!    (`files`).
//! 2. metadata.json first, then the regions in 2,000,000-byte slices and one read per chunk,
//!    `concurrency` reads in flight and completing in any order (a replica answers in rounds,
//!    out of order), each written at its offset with a positioned write. Memory stays at most
//!    [`slice_budget`] (1.5 × `concurrency`) slices whatever the snapshot's size (reads in
//!    flight, writes pending and slices waiting for hashing together).
//! 3. Each finished slice is appended to a journal with its sha256; a second run re-checks the
//!    journaled slices on disk and downloads only the rest.
//! 4. Each file's sha256 for keepsake.json is computed as the slices arrive, put back in file
//!    order by a bounded reorder buffer (`reorder`); only files an earlier run had started are
//!    read back from disk to be hashed.
//! 5. Transient failures are retried with backoff; anything else stops the export, keeping what
//!    was written for the next run.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::files;
use super::journal::{Entry, Journal};
use super::layout::{self, Content, Region, Slice};
use super::manifest::{self, FileEntry, Manifest, sha256_hex};
use super::partial::Partial;
use super::reorder::Reorder;
use super::store::{RetryPolicy, SnapshotStore, retry};
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

/// The sha256 of one region file, fed slice by slice in file order as they arrive.
#[derive(Default)]
struct FileHasher {
    sha: Sha256,
    /// An earlier run wrote part of the file: hash it from disk at the end instead.
    from_disk: bool,
}

/// Hashes a downloaded slice for the journal and writes it where it belongs (runs on the
/// blocking pool). A chunk must hash to its name.
fn write_slice(
    files: &BTreeMap<Region, File>,
    dir: &Path,
    slice: &Slice,
    data: &[u8],
    t: &Timings,
) -> Result<Entry> {
    let sha256 = timed(&t.hash_slices, || sha256_hex(data));
    match &slice.content {
        Content::Region(r) => {
            timed(&t.write, || files[r].write_all_at(data, slice.offset))
                .with_context(|| format!("cannot write {}", r.file()))?;
        }
        Content::Chunk(hash) => {
            if sha256 != hex::encode(hash) {
                bail!(
                    "chunk {} arrived with a different hash; run the export again",
                    hex::encode(hash)
                );
            }
            let path = dir.join(slice.path());
            timed(&t.write, || files::write_regular(&path, data))
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(Entry {
        path: slice.path(),
        offset: slice.offset,
        len: data.len() as u64,
        sha256: Some(sha256),
    })
}

/// What the download loop woke up for.
enum Done<W, R> {
    Write(W),
    Read(R),
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

/// Creates `path` as a folder, or checks the one there is a real folder (not a link to one).
fn real_dir(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(m) => bail!(
            "{} is {}, not a folder; remove it and run again",
            path.display(),
            files::describe(&m.file_type())
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir(path).with_context(|| format!("cannot create {}", path.display()))
        }
        Err(e) => Err(e).with_context(|| format!("cannot look at {}", path.display())),
    }
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

fn fsync_file(path: &Path) -> Result<()> {
    files::open_regular(path)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot fsync {}", path.display()))
}

fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot fsync {}", dir.display()))
}

/// Is the slice already on disk as the journal says?
fn on_disk(dir: &Path, slice: &Slice, entry: &Entry) -> bool {
    let path = dir.join(slice.path());
    match &slice.content {
        Content::Region(_) => {
            if entry.len != slice.len {
                return false;
            }
            let Ok(file) = files::open_regular(&path) else {
                return false;
            };
            let mut buf = vec![0u8; slice.len as usize];
            file.read_exact_at(&mut buf, slice.offset).is_ok()
                && entry.sha256.as_deref() == Some(&sha256_hex(&buf))
        }
        Content::Chunk(hash) => files::read_regular(&path)
            .map(|bytes| sha256_hex(&bytes) == hex::encode(hash))
            .unwrap_or(false),
    }
}

/// Slices in memory at most (reads in flight, writes pending and slices held for hashing): one
/// and a half times the reads in flight. In rounds the replies of a round arrive together and
/// are written before the next round's, so the cap is seldom reached; without rounds (replies
/// as fast as the machine serves them) a cap of 2 × `concurrency` filled whenever the writes
/// fell behind and cost RSS above icp-cli's for no speed (docs/BENCHMARKS.md, "Export").
pub fn slice_budget(concurrency: usize) -> usize {
    concurrency + concurrency.div_ceil(2)
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
    let out = &claim.out.clone();
    if *out != opts.out {
        bail!(
            "internal error: claimed {} to export into {}",
            out.display(),
            opts.out.display()
        );
    }
    let partial = claim.dir.clone();
    let header = ExportHeader {
        canister_id: store.canister().to_text(),
        snapshot_id: hex::encode(snapshot),
    };
    let journal_path = partial.join(layout::EXPORT_JOURNAL);

    // 1. The partial folder: resume it if it holds this snapshot.
    let done = match claim.previous.take() {
        Some(l) if l.header == header => l.done,
        Some(l) => bail!(
            "{} holds an interrupted export of snapshot {} of {}, not of snapshot {} of {}; \
             resume it with `--snapshot {}`, or remove that folder to start over",
            partial.display(),
            l.header.snapshot_id,
            l.header.canister_id,
            header.snapshot_id,
            header.canister_id,
            l.header.snapshot_id
        ),
        None => BTreeMap::new(),
    };
    let fresh = done.is_empty();
    real_dir(&partial.join(layout::CHUNK_DIR))?;

    // 2. metadata.json. The journal's header is written once the snapshot is known to exist
    //    (a mistyped --snapshot leaves no journal to trip over) and before any file, so the
    //    folder holds nothing but the lock and an empty chunk folder until it is recognisably
    //    this export's (`partial` refuses a `.partial` holding anything else without a journal).
    let meta = retry(opts.retry, || store.read_metadata(snapshot)).await?;
    let mut journal = Journal::open(&journal_path, &header, fresh)?;
    let meta_json = serde_json::to_vec_pretty(&meta)?;
    let meta_path = partial.join(layout::METADATA);
    if !fresh
        && let Ok(old) = files::read_regular(&meta_path)
        && old != meta_json
    {
        bail!(
            "{} was written for a different snapshot state; remove {} and export again",
            meta_path.display(),
            partial.display()
        );
    }
    files::write_regular(&meta_path, &meta_json)
        .with_context(|| format!("cannot write {}", meta_path.display()))?;

    // 3. Region files at their final size, so slices land at their offsets.
    let mut files: BTreeMap<Region, File> = BTreeMap::new();
    for r in Region::ALL {
        let size = r.size(&meta);
        if size == 0 && !r.written_when_empty() {
            continue;
        }
        let path = partial.join(r.file());
        let f = files::open_writable(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        f.set_len(size)?;
        files.insert(r, f);
    }

    // 4. What is left to download. A region file any of whose slices an earlier run wrote is
    //    hashed from disk at the end; every other file is hashed as its slices arrive.
    let all = layout::slices(&meta, opts.slice, |_| 0);
    let mut todo = Vec::new();
    let mut resumed_bytes = 0;
    let mut hashers: BTreeMap<Region, FileHasher> =
        files.keys().map(|&r| (r, FileHasher::default())).collect();
    for s in all {
        match done.get(&(s.path(), s.offset)) {
            Some(e) if on_disk(&partial, &s, e) => {
                resumed_bytes += e.len;
                if let Content::Region(r) = s.content
                    && let Some(h) = hashers.get_mut(&r)
                {
                    h.from_disk = true;
                }
            }
            _ => todo.push(s),
        }
    }
    let incremental: BTreeSet<Region> = hashers
        .iter()
        .filter(|(_, h)| !h.from_disk)
        .map(|(&r, _)| r)
        .collect();
    let region_total: u64 = Region::ALL.iter().map(|r| r.size(&meta)).sum();
    progress.set_length(region_total);
    progress.set_position(resumed_bytes.min(region_total));

    // 5. Download, `concurrency` reads in flight, completing in any order (a replica answers in
    //    rounds, in no particular order: one late read must not hold the others' slots). The
    //    task polling the reads also decodes every reply (ic-agent's CBOR, certificate check,
    //    candid), so it does nothing else per byte:
    //    - each slice's sha256 (for the journal) and its positioned write run on tokio's blocking
    //      pool; a slice's journal line is appended once its write is done, in any order;
    //    - each region's slices go, in file order, to one hashing thread that computes the
    //      file's sha256 for keepsake.json without reading anything back; a slice that arrives
    //      ahead of a gap waits in the reorder buffer (shared with its write, not copied).
    //    Memory cap: a read is issued only while reads in flight + writes pending + slices held
    //    for hashing < `slice_budget(concurrency)` (a slice both pending and held counts twice),
    //    so at most that many slices (+ 2 queued for the hasher) are in memory whatever the
    //    snapshot's size. One slow read therefore leaves `concurrency` reads in flight until
    //    `concurrency / 2` slices wait behind it, not just the ones already issued.
    let concurrency = opts.concurrency.max(1);
    let budget = slice_budget(concurrency);
    let mut transferred_bytes = 0;
    let mut chunk_sizes: BTreeMap<String, u64> = BTreeMap::new();
    let files = Arc::new(files);
    let t = &*opts.timings;
    let download_start = Instant::now();
    let (to_hasher, mut hasher_rx) = tokio::sync::mpsc::channel::<(Region, Arc<Vec<u8>>)>(2);
    let hasher = {
        let mut hashers = std::mem::take(&mut hashers);
        let timings = opts.timings.clone();
        tokio::task::spawn_blocking(move || {
            while let Some((region, data)) = hasher_rx.blocking_recv() {
                if let Some(h) = hashers.get_mut(&region) {
                    timed(&timings.hash_files, || h.sha.update(&*data));
                }
            }
            hashers
        })
    };
    let mut order = Reorder::new(incremental.iter().copied());
    let read = |s: Slice| async move {
        let data = retry(opts.retry, || store.read_data(snapshot, s.read_kind())).await?;
        if let Content::Region(r) = &s.content
            && data.len() as u64 != s.len
        {
            bail!(
                "{} at offset {}: asked for {} bytes, got {}",
                r.file(),
                s.offset,
                s.len,
                data.len()
            );
        }
        Ok::<_, anyhow::Error>((s, data))
    };
    let mut todo = todo.into_iter();
    let mut reads = FuturesUnordered::new();
    let mut writes: FuturesUnordered<tokio::task::JoinHandle<Result<Entry>>> =
        FuturesUnordered::new();
    let interrupted = || {
        format!(
            "export interrupted; what was downloaded is kept in {} and the same command resumes it",
            partial.display()
        )
    };
    loop {
        while reads.len() < concurrency && reads.len() + writes.len() + order.held() < budget {
            let Some(s) = todo.next() else { break };
            reads.push(read(s));
        }
        if reads.is_empty() && writes.is_empty() {
            break;
        }
        // Whichever finishes first: a write (journal it) or a read (hash and write it).
        let done = tokio::select! {
            Some(w) = writes.next(), if !writes.is_empty() => Done::Write(w),
            Some(r) = reads.next(), if !reads.is_empty() => Done::Read(r),
        };
        match done {
            Done::Write(w) => {
                let entry = w
                    .context("a write task failed")?
                    .with_context(interrupted)?;
                timed(&t.journal, || journal.record(&entry))?;
                transferred_bytes += entry.len;
                if entry.path.starts_with(layout::CHUNK_DIR) {
                    chunk_sizes.insert(entry.path.clone(), entry.len);
                    progress.inc_length(entry.len);
                }
                progress.inc(entry.len);
            }
            Done::Read(r) => {
                let (slice, data) = r.with_context(interrupted)?;
                let data = Arc::new(data);
                if let Content::Region(region) = slice.content
                    && order.tracks(region)
                {
                    for ready in order.push(region, slice.offset, data.clone())? {
                        if to_hasher.send((region, ready)).await.is_err() {
                            bail!("internal error: the hashing thread stopped");
                        }
                    }
                }
                let files = files.clone();
                let dir = partial.clone();
                let timings = opts.timings.clone();
                writes.push(tokio::task::spawn_blocking(move || {
                    write_slice(&files, &dir, &slice, &data, &timings)
                }));
            }
        }
    }
    drop(reads);
    drop(to_hasher);
    let mut hashers = hasher.await.context("the hashing thread failed")?;
    timings::add(&t.download, download_start.elapsed());
    let finish_start = Instant::now();

    // 6. Durable: fsync every file; the manifest takes the hashes computed on the way (a chunk's
    //    is its name, checked on arrival or on resume) and hashes from disk only what an earlier
    //    run wrote.
    timed(&t.fsync_final, || -> Result<()> {
        for f in files.values() {
            f.sync_all()?;
        }
        for c in &meta.wasm_chunk_store {
            fsync_file(&partial.join(layout::chunk_path(&c.hash)))?;
        }
        fsync_file(&meta_path)?;
        Ok(())
    })?;
    drop(files);
    let mut entries = vec![FileEntry {
        path: layout::METADATA.to_string(),
        size: meta_json.len() as u64,
        sha256: sha256_hex(&meta_json),
    }];
    for e in layout::expected_files(&meta) {
        let path = partial.join(&e.path);
        let (size, sha256) = match &e.content {
            Content::Region(r) => match hashers.remove(r) {
                Some(h) if !h.from_disk => {
                    let hashed = order.released(*r);
                    if hashed != r.size(&meta) {
                        bail!(
                            "internal error: {} hashed {} of {} bytes",
                            r.file(),
                            hashed,
                            r.size(&meta)
                        );
                    }
                    (hashed, hex::encode(h.sha.finalize()))
                }
                Some(_) => {
                    let (size, sha) = timed(&t.hash_files, || manifest::hash_file(&path))
                        .with_context(|| format!("cannot hash {}", e.path))?;
                    t.reread_bytes.fetch_add(size, Ordering::Relaxed);
                    (size, sha)
                }
                // An empty region dfx does not write.
                None => continue,
            },
            Content::Chunk(hash) => {
                let size = match chunk_sizes.get(&e.path) {
                    Some(&n) => n,
                    None => files::open_regular(&path)
                        .and_then(|f| f.metadata())
                        .with_context(|| format!("cannot read {}", path.display()))?
                        .len(),
                };
                (size, hex::encode(hash))
            }
        };
        entries.push(FileEntry {
            path: e.path,
            size,
            sha256,
        });
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let man = Manifest {
        format: manifest::FORMAT,
        tool: "keepsake".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        canister_id: header.canister_id.clone(),
        snapshot_id: header.snapshot_id.clone(),
        taken_at_timestamp: meta.taken_at_timestamp,
        taken_at: crate::output::time(meta.taken_at_timestamp),
        exported_at: now_rfc3339(),
        files: entries.clone(),
    };
    let man_path = partial.join(layout::MANIFEST);
    files::write_regular(&man_path, &serde_json::to_vec_pretty(&man)?)
        .with_context(|| format!("cannot write {}", man_path.display()))?;
    timed(&t.fsync_final, || -> Result<()> {
        fsync_file(&man_path)?;
        journal.finish()?;
        fsync_dir(&partial.join(layout::CHUNK_DIR))?;
        fsync_dir(&partial)
    })?;

    // 7. Publish.
    claim.publish()?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        timed(&t.fsync_final, || fsync_dir(parent))?;
    }
    timings::add(&t.finish, finish_start.elapsed());
    progress.finish_and_clear();
    Ok(ExportSummary {
        out: out.clone(),
        canister_id: header.canister_id,
        snapshot_id: header.snapshot_id,
        taken_at_timestamp: meta.taken_at_timestamp,
        total_bytes: entries.iter().map(|e| e.size).sum(),
        transferred_bytes,
        resumed_bytes,
        files: entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operations::fake::FakeStore;
    use crate::operations::verify::verify_dir;
    use std::fs::OpenOptions;
    use std::time::Duration;

    fn opts(out: PathBuf) -> ExportOptions {
        ExportOptions {
            out,
            concurrency: 4,
            slice: 100_000,
            retry: RetryPolicy {
                attempts: 3,
                first_backoff: Duration::from_millis(1),
                max_backoff: Duration::from_millis(1),
            },
            timings: Arc::default(),
        }
    }

    #[tokio::test]
    async fn an_export_writes_the_dfx_layout_and_a_manifest_that_verifies() {
        let store = FakeStore::with_snapshot(50_000, 3 * 65536, 5 * 65536, 2);
        let snap = store.snapshot_id();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("backup");
        let o = opts(out.clone());
        let s = export(&store, &snap, &o, &ProgressBar::hidden())
            .await
            .unwrap();
        // Hashed as the slices arrived: nothing was read back from disk.
        assert_eq!(o.timings.reread_bytes.load(Ordering::Relaxed), 0);
        assert!(!layout::partial_dir(&out).exists());
        assert_eq!(s.resumed_bytes, 0);
        assert_eq!(
            std::fs::read(out.join(layout::STABLE_MEMORY)).unwrap(),
            store.region(Region::StableMemory)
        );
        assert_eq!(
            std::fs::read(out.join(layout::WASM_MEMORY)).unwrap(),
            store.region(Region::WasmMemory)
        );
        let report = verify_dir(&out);
        assert!(report.ok, "{:?}", report.problems);
        assert!(report.manifest);
        assert_eq!(report.files.len(), 6);
        assert!(!out.join(layout::EXPORT_JOURNAL).exists());
    }

    #[tokio::test]
    async fn an_empty_stable_memory_writes_no_file_like_dfx() {
        let store = FakeStore::with_snapshot(1000, 65536, 0, 0);
        let snap = store.snapshot_id();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("b");
        export(&store, &snap, &opts(out.clone()), &ProgressBar::hidden())
            .await
            .unwrap();
        assert!(!out.join(layout::STABLE_MEMORY).exists());
        assert!(verify_dir(&out).ok);
    }

    #[tokio::test]
    async fn an_interrupted_export_resumes_from_the_verified_slices_and_ends_identical() {
        let store = FakeStore::with_snapshot(10_000, 20 * 65536, 30 * 65536, 1);
        let snap = store.snapshot_id();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("b");
        store.fail_reads_after(12);
        let err = export(&store, &snap, &opts(out.clone()), &ProgressBar::hidden())
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("resumes it"), "{err:#}");
        assert!(layout::partial_dir(&out).exists());
        assert!(!out.exists());
        assert_eq!(
            Partial::claim(&out).unwrap().pending().unwrap().snapshot_id,
            hex::encode(&snap)
        );
        // Damage one journaled slice: it must be downloaded again, not trusted.
        let heap = layout::partial_dir(&out).join(layout::WASM_MODULE);
        let f = OpenOptions::new().write(true).open(&heap).unwrap();
        f.write_all_at(&[0xff; 10], 0).unwrap();
        store.fail_reads_after(u64::MAX);
        store.reset_reads();
        let o = opts(out.clone());
        let s = export(&store, &snap, &o, &ProgressBar::hidden())
            .await
            .unwrap();
        assert!(s.resumed_bytes > 0);
        // The heap, part of which the first run wrote, is hashed from disk; the module (whose
        // damaged slice was downloaded again, so nothing of it was resumed) and the stable
        // memory, which the first run never reached, are hashed on the way.
        assert_eq!(o.timings.reread_bytes.load(Ordering::Relaxed), 20 * 65536);
        let total: u64 = 10_000 + 50 * 65536 + store.chunk_bytes();
        assert_eq!(s.transferred_bytes + s.resumed_bytes, total);
        assert!(s.transferred_bytes < total);
        assert_eq!(
            std::fs::read(out.join(layout::WASM_MODULE)).unwrap(),
            store.region(Region::WasmModule)
        );
        assert_eq!(
            std::fs::read(out.join(layout::STABLE_MEMORY)).unwrap(),
            store.region(Region::StableMemory)
        );
        assert!(verify_dir(&out).ok);
    }

    #[tokio::test]
    async fn transient_read_failures_are_retried_without_the_user_noticing() {
        let store = FakeStore::with_snapshot(10_000, 4 * 65536, 0, 0);
        let snap = store.snapshot_id();
        store.transient_failures(3);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("b");
        export(&store, &snap, &opts(out.clone()), &ProgressBar::hidden())
            .await
            .unwrap();
        assert!(verify_dir(&out).ok);
    }

    #[tokio::test]
    async fn a_partial_folder_of_another_snapshot_is_not_mixed_in() {
        let store = FakeStore::with_snapshot(1000, 65536, 0, 0);
        let snap = store.snapshot_id();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("b");
        let partial = layout::partial_dir(&out);
        std::fs::create_dir_all(&partial).unwrap();
        let other = ExportHeader {
            canister_id: "aaaaa-aa".into(),
            snapshot_id: "ff".into(),
        };
        Journal::open(&partial.join(layout::EXPORT_JOURNAL), &other, true).unwrap();
        let err = export(&store, &snap, &opts(out), &ProgressBar::hidden())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("remove that folder"), "{err}");
    }

    #[tokio::test]
    async fn a_link_planted_in_the_partial_folder_is_not_written_through() {
        let store = FakeStore::with_snapshot(1000, 65536, 0, 0);
        let snap = store.snapshot_id();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("b");
        let partial = layout::partial_dir(&out);
        std::fs::create_dir_all(&partial).unwrap();
        let header = ExportHeader {
            canister_id: store.canister().to_text(),
            snapshot_id: hex::encode(&snap),
        };
        Journal::open(&partial.join(layout::EXPORT_JOURNAL), &header, true).unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep me").unwrap();
        std::os::unix::fs::symlink(&victim, partial.join(layout::WASM_MODULE)).unwrap();
        let err = export(&store, &snap, &opts(out.clone()), &ProgressBar::hidden())
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("symbolic link"), "{err:#}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
        assert!(!out.exists());
    }

    #[tokio::test]
    async fn an_export_of_a_snapshot_that_does_not_exist_leaves_no_partial_folder() {
        let store = FakeStore::with_snapshot(1000, 65536, 0, 0);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("b");
        export(&store, b"nope", &opts(out.clone()), &ProgressBar::hidden())
            .await
            .unwrap_err();
        assert!(!layout::partial_dir(&out).exists());
        // And the right snapshot then exports into the same --out.
        let snap = store.snapshot_id();
        export(&store, &snap, &opts(out.clone()), &ProgressBar::hidden())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn an_existing_output_folder_is_never_overwritten() {
        let store = FakeStore::with_snapshot(1000, 65536, 0, 0);
        let snap = store.snapshot_id();
        let dir = tempfile::tempdir().unwrap();
        let err = export(
            &store,
            &snap,
            &opts(dir.path().to_path_buf()),
            &ProgressBar::hidden(),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("already exists"));
    }

    /// Exports `store`'s snapshot with its replies delayed by `delay(n)` for the n-th read, and
    /// checks the files and keepsake.json's hashes against the store's bytes.
    async fn export_with_delays(delay: impl Fn(u64) -> Duration + 'static) {
        let store = FakeStore::with_snapshot(10_000, 20 * 65536, 30 * 65536, 3);
        let snap = store.snapshot_id();
        store.delay_replies(delay);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("b");
        let o = opts(out.clone());
        let s = export(&store, &snap, &o, &ProgressBar::hidden())
            .await
            .unwrap();
        assert_eq!(o.timings.reread_bytes.load(Ordering::Relaxed), 0);
        for r in [Region::WasmModule, Region::WasmMemory, Region::StableMemory] {
            let bytes = store.region(r);
            assert_eq!(std::fs::read(out.join(r.file())).unwrap(), bytes);
            let entry = s.files.iter().find(|f| f.path == r.file()).unwrap();
            assert_eq!(entry.sha256, sha256_hex(&bytes), "{}", r.file());
        }
        let report = verify_dir(&out);
        assert!(report.ok, "{:?}", report.problems);
    }

    #[tokio::test]
    async fn replies_coming_back_reversed_give_the_same_files_and_hashes() {
        // Within every 8 reads, the last issued answers first.
        export_with_delays(|n| Duration::from_millis(3 * (8 - n % 8))).await;
    }

    #[tokio::test]
    async fn replies_coming_back_shuffled_give_the_same_files_and_hashes() {
        export_with_delays(|n| Duration::from_millis((n * 7919 + 3) % 11)).await;
    }

    #[tokio::test]
    async fn one_slow_read_does_not_hold_the_other_reads_slots() {
        // With reads yielded in file order (`buffered`), the three reads issued after the slow
        // first one answer and then sit in their slots: nothing else is issued until it answers.
        // Here the slots are refilled, up to the memory cap of `slice_budget` slices.
        // One file of 20 slices, whose first slice is the slow read.
        let store = FakeStore::with_snapshot(20 * 100_000, 0, 0, 0);
        let snap = store.snapshot_id();
        let o = opts(tempfile::tempdir().unwrap().path().join("b"));
        store.hold_first_read_until(slice_budget(o.concurrency) as u64 - 1);
        let dir = tempfile::tempdir().unwrap();
        let o = ExportOptions {
            out: dir.path().join("b"),
            ..o
        };
        export(&store, &snap, &o, &ProgressBar::hidden())
            .await
            .unwrap();
        assert_eq!(
            store.answered_while_held.get(),
            Some(slice_budget(o.concurrency) as u64 - 1)
        );
        assert_eq!(store.max_in_flight.get(), o.concurrency as u64);
        assert!(verify_dir(&o.out).ok);
    }

    #[tokio::test]
    async fn slices_waiting_behind_a_slow_read_are_capped_at_the_slice_budget() {
        // The first read never answers before the fake's 2 s limit: the exporter must stop
        // issuing reads once `slice_budget` slices are in memory, not read the whole snapshot
        // into the reorder buffer.
        // One file of 20 slices, whose first slice is the slow read.
        let store = FakeStore::with_snapshot(20 * 100_000, 0, 0, 0);
        let snap = store.snapshot_id();
        store.hold_first_read_until(u64::MAX);
        let dir = tempfile::tempdir().unwrap();
        let o = opts(dir.path().join("b"));
        export(&store, &snap, &o, &ProgressBar::hidden())
            .await
            .unwrap();
        assert_eq!(
            store.answered_while_held.get(),
            Some(slice_budget(o.concurrency) as u64 - 1)
        );
        assert!(verify_dir(&o.out).ok);
    }
}
