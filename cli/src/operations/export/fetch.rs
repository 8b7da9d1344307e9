//! Stage 3 of an export: the download, `concurrency` reads in flight, completing in any order
//! (a replica answers in rounds, in no particular order: one late read must not hold the
//! others' slots).
//!
//! The task polling the reads also decodes every reply (ic-agent's CBOR, certificate check,
//! candid), so it does nothing else per byte: each slice's checksum (for the journal) and its
//! positioned write run on tokio's blocking pool (`write`); once written, a slice's journal line
//! is appended and its range reported to the hasher (`hash`, which reads it back in file order
//! on its own thread), and its bytes are freed.
//!
//! Memory: a read is issued only while reads in flight + writes pending < [`slice_budget`], so
//! at most that many slices are in memory whatever the snapshot's size. One slow read leaves
//! the other slots working: nothing waits for it but the hasher, which holds no bytes.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use indicatif::ProgressBar;

use super::ExportOptions;
use super::hash::InOrderHasher;
use super::write::RegionFiles;
use crate::operations::journal::{Entry, Journal};
use crate::operations::layout::{self, Content, Slice};
use crate::operations::store::{SnapshotStore, retry};
use crate::operations::timings::timed;

/// Slices in memory at most (reads in flight and writes pending): one and a half times the
/// reads in flight. In rounds the replies of a round arrive together and are written before the
/// next round's, so the cap is seldom reached; without rounds (replies as fast as the machine
/// serves them) a cap of 2 × `concurrency` filled whenever the writes fell behind and cost RSS
/// above icp-cli's for no speed (docs/BENCHMARKS.md, "Export").
pub fn slice_budget(concurrency: usize) -> usize {
    concurrency + concurrency.div_ceil(2)
}

/// Where downloaded slices go.
pub struct Destination<'a> {
    /// `<out>.partial`.
    pub dir: &'a Path,
    /// The region files, shared with the write tasks.
    pub files: Arc<RegionFiles>,
    /// One line per slice written.
    pub journal: &'a mut Journal,
    /// The in-order file hashes, told of each region slice once it is written.
    pub hasher: &'a mut InOrderHasher,
}

/// What the download transferred.
pub struct Downloaded {
    /// Bytes downloaded by this run.
    pub transferred_bytes: u64,
    /// Each chunk file written by this run, with its size (known only once read).
    pub chunk_sizes: BTreeMap<String, u64>,
}

/// What the download loop woke up for.
enum Done<W, R> {
    Write(W),
    Read(R),
}

/// Downloads `todo` into `to`; stops at the first failure that retries did not cure, keeping
/// what was journaled for the next run.
pub async fn download<S: SnapshotStore>(
    store: &S,
    snapshot: &[u8],
    opts: &ExportOptions,
    todo: Vec<Slice>,
    to: Destination<'_>,
    progress: &ProgressBar,
) -> Result<Downloaded> {
    let concurrency = opts.concurrency.max(1);
    let budget = slice_budget(concurrency);
    let t = &*opts.timings;
    let mut downloaded = Downloaded {
        transferred_bytes: 0,
        chunk_sizes: BTreeMap::new(),
    };
    let read = |s: Slice| read_slice(store, snapshot, opts, s);
    let mut todo = todo.into_iter();
    let mut reads = FuturesUnordered::new();
    let mut writes: FuturesUnordered<tokio::task::JoinHandle<Result<(Content, Entry)>>> =
        FuturesUnordered::new();
    let interrupted = || {
        format!(
            "export interrupted; what was downloaded is kept in {} and the same command resumes it",
            to.dir.display()
        )
    };
    loop {
        while reads.len() < concurrency && reads.len() + writes.len() < budget {
            let Some(s) = todo.next() else { break };
            reads.push(read(s));
        }
        if reads.is_empty() && writes.is_empty() {
            break;
        }
        // Whichever finishes first: a write (journal and hash it) or a read (write it).
        let done = tokio::select! {
            Some(w) = writes.next(), if !writes.is_empty() => Done::Write(w),
            Some(r) = reads.next(), if !reads.is_empty() => Done::Read(r),
        };
        match done {
            Done::Write(w) => {
                let (content, entry) = w
                    .context("a write task failed")?
                    .with_context(interrupted)?;
                timed(&t.journal, || to.journal.record(&entry))?;
                if let Content::Region(region) = content {
                    to.hasher.written(region, entry.offset, entry.len)?;
                }
                downloaded.transferred_bytes += entry.len;
                if entry.path.starts_with(layout::CHUNK_DIR) {
                    downloaded.chunk_sizes.insert(entry.path.clone(), entry.len);
                    progress.inc_length(entry.len);
                }
                progress.inc(entry.len);
            }
            Done::Read(r) => {
                let (slice, data) = r.with_context(interrupted)?;
                let files = to.files.clone();
                let dir = to.dir.to_path_buf();
                let timings = opts.timings.clone();
                writes.push(tokio::task::spawn_blocking(move || {
                    let entry = files.write_slice(&dir, &slice, &data, &timings)?;
                    Ok((slice.content, entry))
                }));
            }
        }
    }
    Ok(downloaded)
}

/// One read, retried while transient; a region slice must come back whole.
async fn read_slice<S: SnapshotStore>(
    store: &S,
    snapshot: &[u8],
    opts: &ExportOptions,
    s: Slice,
) -> Result<(Slice, Vec<u8>)> {
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
    Ok((s, data))
}
