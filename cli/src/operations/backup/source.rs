//! A snapshot on the IC as a rustic_core `ReadSource`: the files of export's layout, whose
//! bytes are read from the management canister while rustic_core chunks, deduplicates,
//! compresses and encrypts them. Nothing of the snapshot touches the local disk.
//!
//! - rustic_core runs on its own threads and pulls each file through `std::io::Read`. A file's
//!   reader starts one task on the tokio runtime that reads the file's slices with
//!   `concurrency` reads in flight, completing in any order, puts them back in file order
//!   (export's reorder buffer) and hands them over through a short queue: memory per open file
//!   is at most 2 × `concurrency` + 2 slices, whatever the snapshot's size (see `fetch`).
//! - Every file is hashed as it streams by (sha256, as in keepsake.json); a region must have
//!   the size the metadata says and a chunk must hash to its name. A file read from the IC is
//!   hashed by its reading task, as its slices are released in order, not by the reader:
//!   rustic_core chunks and hashes a file on one thread per file, and a snapshot's stable
//!   memory is one large file, so that thread is the backup's critical path (profiled: our
//!   sha256 was a tenth of the backup's CPU time, all of it on that thread).
//! - rustic_core leaves a file that fails to read out of the snapshot with only a log warning,
//!   so every failure is also recorded here (`Outcome::errors`): the caller refuses a snapshot
//!   with any error and checks that each expected file made it into the tree.

use std::collections::BTreeMap;
use std::io::{self, Cursor, Read};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use candid::Principal;
use futures::StreamExt;
use ic_agent::Agent;
use indicatif::ProgressBar;
use rustic_core::jiff::Timestamp;
use rustic_core::repofile::{Metadata as NodeMeta, Node, NodeType};
use rustic_core::{ReadSource, ReadSourceEntry, ReadSourceOpen, RusticResult};
use sha2::{Digest, Sha256};

use crate::operations::layout::{self, Content, Slice};
use crate::operations::manifest::FileEntry;
use crate::operations::reorder::Reorder;
use crate::operations::store::{IcStore, Metadata, RetryPolicy, SnapshotStore as _, retry};

/// File permissions in the backup (restic restores them): read-write for the owner.
const FILE_MODE: u32 = 0o644;
/// Folder permissions in the backup.
const DIR_MODE: u32 = 0o755;

/// Where the bytes come from: one snapshot of one canister.
#[derive(Clone)]
pub struct IcSnapshot {
    /// An agent for the network (cheap to clone).
    pub agent: Agent,
    /// The canister.
    pub canister: Principal,
    /// The snapshot.
    pub snapshot: Vec<u8>,
    /// The runtime the reads run on (rustic_core's threads are not tokio's).
    pub runtime: tokio::runtime::Handle,
    /// Reads in flight per open file.
    pub concurrency: usize,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// Counts the bytes read from the IC.
    pub progress: ProgressBar,
}

/// What the readers saw: each finished file's size and sha256, and every failure.
#[derive(Debug, Default)]
pub struct Outcome {
    /// By path.
    pub files: BTreeMap<String, FileEntry>,
    /// Failures, with the file they happened in.
    pub errors: Vec<String>,
}

/// How one file of the source is opened.
#[derive(Clone)]
pub enum Open {
    /// Bytes already in memory (metadata.json, keepsake.json).
    Bytes(Vec<u8>),
    /// A region or a chunk, read from the IC.
    Ic {
        /// The snapshot.
        from: Box<IcSnapshot>,
        /// What to read.
        content: Content,
        /// Its size (a chunk's was learned by reading it once before).
        size: u64,
    },
}

/// One file or folder of the source, by path relative to the backup's root.
#[derive(Clone)]
pub struct Item {
    /// Relative path with `/` separators.
    pub path: String,
    /// `None` for a folder; for a file whose content the parent snapshot already holds
    /// (the second pass, see `run`), a file without an opener.
    pub open: Option<Open>,
    /// Whether it is a folder.
    pub dir: bool,
    /// Bytes.
    pub size: u64,
}

/// The IC snapshot (or part of it) as rustic_core's source.
pub struct IcSource {
    items: Vec<Item>,
    mtime: Timestamp,
    outcome: Arc<Mutex<Outcome>>,
}

impl IcSource {
    /// A source of `items` (sorted by path here: restic trees are sorted by name), all dated
    /// `taken_at_ns` (when the IC took the snapshot).
    pub fn new(mut items: Vec<Item>, taken_at_ns: u64, outcome: Arc<Mutex<Outcome>>) -> Self {
        // By path component, not by string: restic trees hold each folder's entries sorted by
        // name, and a folder's entries must follow it at once ("app", "app/x", "app-2"; as
        // strings "app-2" would come between "app" and "app/x").
        items.sort_by(|a, b| std::path::Path::new(&a.path).cmp(std::path::Path::new(&b.path)));
        let mtime = Timestamp::from_nanosecond(i128::from(taken_at_ns)).unwrap_or_default();
        Self {
            items,
            mtime,
            outcome,
        }
    }

    fn node(&self, item: &Item) -> Node {
        let name = item.path.rsplit('/').next().unwrap_or(&item.path);
        let meta = NodeMeta {
            mode: Some(if item.dir { DIR_MODE } else { FILE_MODE }),
            mtime: Some(self.mtime),
            size: if item.dir { 0 } else { item.size },
            ..Default::default()
        };
        let tpe = if item.dir {
            NodeType::Dir
        } else {
            NodeType::File
        };
        Node::new_node(std::ffi::OsStr::new(name), tpe, meta)
    }
}

impl ReadSource for IcSource {
    type Open = Reader;
    type Iter = std::vec::IntoIter<RusticResult<ReadSourceEntry<Reader>>>;

    fn size(&self) -> RusticResult<Option<u64>> {
        Ok(Some(self.items.iter().map(|i| i.size).sum()))
    }

    fn entries(&self) -> Self::Iter {
        self.items
            .iter()
            .map(|item| {
                Ok(ReadSourceEntry {
                    path: PathBuf::from(&item.path),
                    node: self.node(item),
                    open: item.open.clone().map(|open| Reader {
                        path: item.path.clone(),
                        open: Some(open),
                        outcome: self.outcome.clone(),
                    }),
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
    }
}

/// Opens one file of the source (rustic_core calls `open` on its worker thread).
pub struct Reader {
    path: String,
    open: Option<Open>,
    outcome: Arc<Mutex<Outcome>>,
}

impl ReadSourceOpen for Reader {
    type Reader = FileReader;

    fn open(mut self) -> RusticResult<FileReader> {
        let open = self.open.take();
        let (feed, expect) = match open {
            Some(Open::Bytes(bytes)) => {
                let size = bytes.len() as u64;
                (Feed::Bytes(Cursor::new(bytes)), Expect::Size(size))
            }
            Some(Open::Ic {
                from,
                content,
                size,
            }) => {
                let expect = match &content {
                    Content::Chunk(hash) => Expect::Chunk(hash.clone()),
                    Content::Region(_) => Expect::Size(size),
                };
                (Feed::Ic(fetch(*from, content, size)), expect)
            }
            None => (Feed::Bytes(Cursor::new(Vec::new())), Expect::Size(0)),
        };
        Ok(FileReader {
            path: self.path,
            feed,
            expect,
            sha: Sha256::new(),
            read: 0,
            done: false,
            outcome: self.outcome,
        })
    }
}

/// What a finished file must look like.
enum Expect {
    /// This many bytes.
    Size(u64),
    /// Bytes whose sha256 is this (a chunk of the chunk store).
    Chunk(Vec<u8>),
}

/// Where a file's bytes come from.
enum Feed {
    Bytes(Cursor<Vec<u8>>),
    Ic(Slices),
}

/// The slices of one file, as the reading task delivers them.
struct Slices {
    rx: tokio::sync::mpsc::Receiver<anyhow::Result<Piece>>,
    current: Cursor<Vec<u8>>,
    /// The file's sha256, once the reading task has sent the last slice.
    sha256: Option<[u8; 32]>,
}

/// What the reading task sends the reader.
#[derive(Debug)]
enum Piece {
    /// The next slice, in file order.
    Data(Vec<u8>),
    /// Every slice was sent; the sha256 of them all.
    End([u8; 32]),
}

/// Slices of one file queued for rustic_core's reader: it takes them one at a time, so two
/// keep it busy while the next ones are read.
const HANDOFF: usize = 2;

/// Starts reading `content` of the snapshot: `concurrency` reads in flight completing in any
/// order (a replica answers in rounds, in no particular order: one late read must not hold the
/// others' slots, as in export), released to the reader in file order by a reorder buffer.
/// Memory cap, as export's: a read is issued only while reads in flight + slices held behind a
/// gap < 2 × `concurrency`; with the hand-off queue, at most 2 × `concurrency` + `HANDOFF`
/// slices of this file are in memory, whatever its size.
fn fetch(from: IcSnapshot, content: Content, size: u64) -> Slices {
    let concurrency = from.concurrency.max(1);
    let (tx, rx) = tokio::sync::mpsc::channel(HANDOFF);
    let slices: Vec<Slice> = match &content {
        Content::Region(_) => {
            let mut out = Vec::new();
            let mut offset = 0;
            while offset < size {
                let len = layout::READ_SLICE.min(size - offset);
                out.push(Slice {
                    content: content.clone(),
                    offset,
                    len,
                });
                offset += len;
            }
            out
        }
        Content::Chunk(_) => vec![Slice {
            content: content.clone(),
            offset: 0,
            len: 0,
        }],
    };
    let runtime = from.runtime.clone();
    runtime.spawn(async move {
        let store = IcStore::new(&from.agent, from.canister);
        let store = &store;
        let snapshot = &from.snapshot;
        let policy = from.retry;
        let read = |s: Slice| async move {
            let data = retry(policy, || store.read_data(snapshot, s.read_kind())).await?;
            if matches!(s.content, Content::Region(_)) && data.len() as u64 != s.len {
                anyhow::bail!(
                    "{} at offset {}: asked the IC for {} bytes, got {}",
                    s.path(),
                    s.offset,
                    s.len,
                    data.len()
                );
            }
            Ok((s.offset, data))
        };
        pump(slices, concurrency, read, &from.progress, tx).await;
    });
    Slices {
        rx,
        current: Cursor::new(Vec::new()),
        sha256: None,
    }
}

/// Runs `read` over `slices` with `concurrency` in flight, completing in any order, and sends
/// the data to `tx` in file order, hashing it as it goes, then the hash (`Piece::End`); at most
/// 2 × `concurrency` slices are read but not yet sent. Stops at the first failure (sent on) or
/// when the receiver is gone.
async fn pump<F, Fut>(
    slices: Vec<Slice>,
    concurrency: usize,
    read: F,
    progress: &ProgressBar,
    tx: tokio::sync::mpsc::Sender<anyhow::Result<Piece>>,
) where
    F: Fn(Slice) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<(u64, Vec<u8>)>>,
{
    let budget = 2 * concurrency;
    let mut todo = slices.into_iter();
    let mut reads = futures::stream::FuturesUnordered::new();
    // One file per task: the key is constant.
    let mut order = Reorder::new([()]);
    let mut sha = Sha256::new();
    loop {
        while reads.len() < concurrency && reads.len() + order.held() < budget {
            let Some(s) = todo.next() else { break };
            reads.push(read(s));
        }
        let Some(r) = reads.next().await else { break };
        let ready = r.and_then(|(offset, data)| {
            progress.inc(data.len() as u64);
            order.push((), offset, Arc::new(data))
        });
        match ready {
            Ok(ready) => {
                for data in ready {
                    // Released slices are no longer shared: this takes the bytes, no copy.
                    let data = Arc::try_unwrap(data).unwrap_or_else(|a| (*a).clone());
                    sha.update(&data);
                    // The reader is gone (rustic_core gave up on the file): stop reading.
                    if tx.send(Ok(Piece::Data(data))).await.is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        }
    }
    // Nothing in flight: every slice was read, and none is held behind a gap.
    let end = if todo.next().is_none() && order.held() == 0 {
        Ok(Piece::End(sha.finalize().into()))
    } else {
        Err(anyhow::anyhow!(
            "the reads stopped before the end of the file"
        ))
    };
    let _ = tx.send(end).await;
}

/// A file of the backup being read by rustic_core: hashes as it goes, checks at the end.
pub struct FileReader {
    path: String,
    feed: Feed,
    expect: Expect,
    /// The hash of a file fed from memory (one read from the IC is hashed by its task).
    sha: Sha256,
    read: u64,
    done: bool,
    outcome: Arc<Mutex<Outcome>>,
}

impl FileReader {
    fn fail(&mut self, msg: String) -> io::Error {
        self.done = true;
        let msg = format!("{}: {msg}", self.path);
        self.outcome.lock().unwrap().errors.push(msg.clone());
        io::Error::other(msg)
    }

    /// End of the file: check it and record its size and sha256.
    fn finish(&mut self) -> io::Result<()> {
        if self.done {
            return Ok(());
        }
        if let Expect::Size(n) = self.expect
            && n != self.read
        {
            let msg = format!("ended after {} of {} bytes", self.read, n);
            return Err(self.fail(msg));
        }
        let sha256 = match &mut self.feed {
            Feed::Bytes(_) => hex::encode(std::mem::take(&mut self.sha).finalize()),
            Feed::Ic(s) => match s.sha256.take() {
                Some(sha256) => hex::encode(sha256),
                // The reading task ended without its last word (it was stopped).
                None => return Err(self.fail("the file's reads stopped before its end".into())),
            },
        };
        match &self.expect {
            Expect::Chunk(hash) if hex::encode(hash) != sha256 => {
                return Err(self.fail("the chunk's bytes do not hash to its name".into()));
            }
            _ => {}
        }
        self.done = true;
        self.outcome.lock().unwrap().files.insert(
            self.path.clone(),
            FileEntry {
                path: self.path.clone(),
                size: self.read,
                sha256,
            },
        );
        Ok(())
    }
}

impl Read for FileReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let n = match &mut self.feed {
                Feed::Bytes(c) => {
                    let n = c.read(buf)?;
                    self.sha.update(&buf[..n]);
                    n
                }
                // Hashed by the reading task (see `pump`).
                Feed::Ic(s) => {
                    let n = s.current.read(buf)?;
                    if n == 0 {
                        match s.rx.blocking_recv() {
                            Some(Ok(Piece::Data(next))) => {
                                s.current = Cursor::new(next);
                                continue;
                            }
                            Some(Ok(Piece::End(sha256))) => {
                                s.sha256 = Some(sha256);
                                0
                            }
                            Some(Err(e)) => return Err(self.fail(format!("{e:#}"))),
                            None => 0,
                        }
                    } else {
                        n
                    }
                }
            };
            if n == 0 {
                self.finish()?;
                return Ok(0);
            }
            self.read += n as u64;
            return Ok(n);
        }
    }
}

/// The files of `meta`'s snapshot in export's layout (keepsake.json aside), with chunk sizes
/// as learned beforehand (`chunk_sizes`, by path).
pub fn snapshot_items(
    from: &IcSnapshot,
    meta: &Metadata,
    meta_json: Vec<u8>,
    chunk_sizes: &BTreeMap<String, u64>,
) -> Vec<Item> {
    let mut items = vec![Item {
        path: layout::METADATA.into(),
        size: meta_json.len() as u64,
        open: Some(Open::Bytes(meta_json)),
        dir: false,
    }];
    if !meta.wasm_chunk_store.is_empty() {
        items.push(Item {
            path: layout::CHUNK_DIR.into(),
            open: None,
            dir: true,
            size: 0,
        });
    }
    for e in layout::expected_files(meta) {
        // An empty region that export does not write (stable memory).
        if let Content::Region(r) = &e.content
            && r.size(meta) == 0
            && !r.written_when_empty()
        {
            continue;
        }
        let size = e
            .size
            .unwrap_or_else(|| chunk_sizes.get(&e.path).copied().unwrap_or(0));
        items.push(Item {
            path: e.path,
            open: Some(Open::Ic {
                from: Box::new(from.clone()),
                content: e.content,
                size,
            }),
            dir: false,
            size,
        });
    }
    items
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::time::Duration;

    use super::*;
    use crate::operations::layout::Region;

    #[tokio::test]
    async fn a_late_read_does_not_hold_the_other_slots_and_the_file_still_comes_out_in_order() {
        // The first slice answers only after 3 later ones have: with reads released in issue
        // order (a window of `concurrency`), that never happens. Here the slots are refilled up
        // to the memory cap of 2 × concurrency slices.
        let concurrency = 2;
        let slices: Vec<Slice> = (0..10u64)
            .map(|i| Slice {
                content: Content::Region(Region::StableMemory),
                offset: i * 10,
                len: 10,
            })
            .collect();
        let done_others = Cell::new(0u64);
        let issued = Cell::new(0u64);
        let issued_while_late = Cell::new(0u64);
        let read = |s: Slice| {
            let (done_others, issued, seen) = (&done_others, &issued, &issued_while_late);
            async move {
                issued.set(issued.get() + 1);
                if s.offset == 0 {
                    while done_others.get() < 3 {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    seen.set(issued.get());
                } else {
                    done_others.set(done_others.get() + 1);
                }
                Ok((s.offset, vec![(s.offset / 10) as u8; 10]))
            }
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel(100);
        let pumped = tokio::time::timeout(
            Duration::from_secs(10),
            pump(slices, concurrency, read, &ProgressBar::hidden(), tx),
        )
        .await;
        assert!(pumped.is_ok(), "the late read held every slot");
        let mut got = Vec::new();
        let mut all = Vec::new();
        let mut end = None;
        while let Ok(Ok(piece)) = rx.try_recv() {
            match piece {
                Piece::Data(d) => {
                    got.push(d[0]);
                    all.extend_from_slice(&d);
                }
                Piece::End(sha256) => end = Some(sha256),
            }
        }
        assert_eq!(got, (0..10u8).collect::<Vec<_>>());
        // The hash of the whole file, in file order, comes after its last slice.
        let want: [u8; 32] = Sha256::digest(&all).into();
        assert_eq!(end, Some(want));
        // While the first slice was late, exactly 2 × concurrency slices were read (or being
        // read): the slots were refilled, and no further than the memory cap.
        assert_eq!(issued_while_late.get(), 2 * concurrency as u64);
    }

    #[tokio::test]
    async fn a_failed_read_is_passed_on_and_stops_the_file() {
        let slices: Vec<Slice> = (0..4u64)
            .map(|i| Slice {
                content: Content::Region(Region::WasmMemory),
                offset: i * 10,
                len: 10,
            })
            .collect();
        let read = |s: Slice| async move {
            if s.offset == 10 {
                anyhow::bail!("boom");
            }
            Ok((s.offset, vec![0; 10]))
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel(100);
        pump(slices, 1, read, &ProgressBar::hidden(), tx).await;
        assert!(rx.recv().await.unwrap().is_ok());
        assert!(rx.recv().await.unwrap().is_err());
        assert!(rx.recv().await.is_none());
    }
}
