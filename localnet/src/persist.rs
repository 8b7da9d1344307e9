//! Keeping a [`LocalNet`] in a directory (`localnet --state-dir`): an incremental store whose
//! every commit is atomic and costs what changed, so the HTTP driver can make each round
//! durable before it releases that round's replies (group commit, `http::replica`).
//!
//! What survives: every canister's settings, cycles, status, module, heap, globals, stable
//! memory, certified data, timer, version, chunk store, snapshots and history, the canister id
//! counter and the clock. What does not: messages in flight (open call contexts, callbacks,
//! queued requests) and logs — a commit is a quiescent view, so a canister that was stopping
//! comes back stopped.
//!
//! The directory holds two files:
//! * `data.<generation>.bin`, append-only: 64 KiB memory pages and blobs (modules, chunks).
//! * `state.bin`, the manifest (candid): everything else, with each memory as the list of its
//!   pages' offsets in the data file and each blob as (sha256, offset, length), plus the data
//!   file's generation and committed length.
//!
//! A commit (1) appends what the data file lacks — a page is known by the identity of its
//! shared buffer (memories are copy-on-write, [`crate::paged`], so a written page is a new
//! buffer, and the store keeps a reference to every page it wrote so that no buffer is reused
//! or changed under it), a blob by its sha256 — (2) fsyncs the data file, (3) writes the
//! manifest to `state.bin.tmp`, fsyncs it, renames it over `state.bin` and fsyncs the
//! directory. A crash leaves the old manifest or the new one, and each references only bytes
//! that were on disk before it; bytes appended after the last manifest are cut off on open.
//! When more than half of a large data file is garbage (pages no longer referenced), the commit
//! writes a new generation with only what is live and then deletes the old file.

use crate::LocalNet;
use crate::canister::{Canister, HistoryEntry, Status};
use crate::execution::{ExecState, GlobalValue};
use crate::paged::{PAGE, PagedMemory};
use crate::snapshots::{Snapshot, SnapshotSource, SnapshotStore};
use crate::wasm;
use candid::{CandidType, Deserialize, Principal};
use serde_bytes::ByteBuf;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const MANIFEST: &str = "state.bin";
/// Format 1 was one file with every byte inline (rewritten in full on every save).
const FORMAT: u32 = 2;
/// Garbage below this is never worth a rewrite.
const MIN_GARBAGE_FOR_REWRITE: u64 = 64 * 1024 * 1024;

type Page = Arc<Vec<u8>>;

#[derive(CandidType, Deserialize)]
enum Global {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
}

/// A blob in the data file.
#[derive(CandidType, Deserialize, Clone)]
struct BlobRef {
    sha256: ByteBuf,
    offset: u64,
    len: u64,
}

#[derive(CandidType, Deserialize)]
struct SavedSnapshot {
    id: ByteBuf,
    uploaded: bool,
    taken_at: u64,
    wasm_module: BlobRef,
    wasm_memory: Vec<u64>,
    stable_memory: Vec<u64>,
    globals: Vec<Global>,
    chunk_store: Vec<BlobRef>,
    certified_data: ByteBuf,
    global_timer: u64,
    canister_version: u64,
    hook_status: u8,
}

#[derive(CandidType, Deserialize)]
struct SavedHistory {
    timestamp: u64,
    canister_version: u64,
    origin: Principal,
    origin_is_canister: bool,
    details: ic_management_canister_types::ChangeDetails,
}

#[derive(CandidType, Deserialize)]
struct SavedCanister {
    id: Principal,
    controllers: Vec<Principal>,
    cycles: u128,
    stopped: bool,
    module: Option<BlobRef>,
    heap: Vec<u64>,
    globals: Vec<Global>,
    stable: Vec<u64>,
    certified_data: ByteBuf,
    global_timer: u64,
    version: u64,
    chunk_store: Vec<BlobRef>,
    snapshots: Vec<SavedSnapshot>,
    next_snapshot: u64,
    history: Vec<SavedHistory>,
    freezing_threshold: u64,
    instructions_executed: u64,
    /// Absent in state directories written before snapshot visibility: controllers only.
    snapshot_visibility: Option<ic_management_canister_types::SnapshotVisibility>,
}

#[derive(CandidType, Deserialize)]
struct Manifest {
    format: u32,
    generation: u64,
    data_len: u64,
    time: u64,
    next_canister_index: u64,
    canisters: Vec<SavedCanister>,
}

/// Only the format, to name an old state directory clearly.
#[derive(CandidType, Deserialize)]
struct FormatOnly {
    format: u32,
}

fn global_out(g: &GlobalValue) -> Global {
    match *g {
        GlobalValue::I32(v) => Global::I32(v),
        GlobalValue::I64(v) => Global::I64(v),
        GlobalValue::F32(v) => Global::F32(v),
        GlobalValue::F64(v) => Global::F64(v),
        GlobalValue::V128(v) => Global::V128(v),
    }
}

fn global_in(g: Global) -> GlobalValue {
    match g {
        Global::I32(v) => GlobalValue::I32(v),
        Global::I64(v) => GlobalValue::I64(v),
        Global::F32(v) => GlobalValue::F32(v),
        Global::F64(v) => GlobalValue::F64(v),
        Global::V128(v) => GlobalValue::V128(v),
    }
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn data_file(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("data.{generation}.bin"))
}

/// Generations of the data files in `dir`.
fn data_generations(dir: &Path) -> io::Result<Vec<u64>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if let Some(n) = name
            .strip_prefix("data.")
            .and_then(|r| r.strip_suffix(".bin"))
            .and_then(|n| n.parse().ok())
        {
            out.push(n);
        }
    }
    Ok(out)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// What one commit did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Whether anything was written (an unchanged subnet writes nothing).
    pub written: bool,
    /// Bytes appended to the data file.
    pub data_bytes: u64,
    /// Size of the manifest.
    pub manifest_bytes: u64,
    /// Whether the data file was rewritten into a new generation (garbage collection).
    pub rewritten: bool,
}

/// An open state directory: the data file and what it holds.
pub struct Store {
    dir: PathBuf,
    generation: u64,
    data: File,
    /// Bytes in the data file (committed, or appended by the commit under way).
    len: u64,
    /// Pages in the data file, by the address of their buffer; the `Page` keeps that buffer
    /// alive and unchanged (copy-on-write writers copy a page someone else holds).
    pages: HashMap<usize, (Page, u64)>,
    /// Blobs in the data file by sha256: (offset, length).
    blobs: HashMap<[u8; 32], (u64, u64)>,
    /// sha256 of the modules of snapshots taken from canisters (immutable), by snapshot id.
    snapshot_modules: HashMap<Vec<u8>, [u8; 32]>,
    /// The last manifest written, without its clock: an unchanged subnet is not written again.
    last_manifest: Vec<u8>,
    /// A commit failed half-way: the next one starts a new generation.
    broken: bool,
    /// Garbage in the data file below which it is never rewritten.
    rewrite_after: u64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .field("generation", &self.generation)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// Appends to the data file during one commit (a second handle on the file, so the store's
/// maps can be updated while it writes).
struct Appender {
    out: BufWriter<File>,
}

impl Store {
    /// A store that starts a new generation in `dir` (created if needed): its first commit
    /// writes the whole subnet, then replaces whatever state the directory held.
    pub fn create(dir: &Path) -> io::Result<Store> {
        std::fs::create_dir_all(dir)?;
        let generation = data_generations(dir)?
            .into_iter()
            .max()
            .map_or(0, |g| g + 1);
        Store::new_generation(dir, generation)
    }

    fn new_generation(dir: &Path, generation: u64) -> io::Result<Store> {
        let data = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(data_file(dir, generation))?;
        Ok(Store {
            dir: dir.to_path_buf(),
            generation,
            data,
            len: 0,
            pages: HashMap::new(),
            blobs: HashMap::new(),
            snapshot_modules: HashMap::new(),
            last_manifest: Vec::new(),
            broken: false,
            rewrite_after: MIN_GARBAGE_FOR_REWRITE,
        })
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Makes `net` durable: when this returns `Ok`, a crash (even of the machine) leaves this
    /// state or a later one in the directory. Call it with the subnet locked (it only reads).
    pub fn commit(&mut self, net: &LocalNet) -> io::Result<CommitStats> {
        if self.broken {
            return self.rewrite(net);
        }
        match self.commit_in_place(net) {
            Ok(stats) if self.too_much_garbage() => {
                let r = self.rewrite(net)?;
                Ok(CommitStats {
                    data_bytes: stats.data_bytes + r.data_bytes,
                    ..r
                })
            }
            Ok(stats) => Ok(stats),
            Err(e) => {
                // What was appended may be half written: never build on it.
                self.broken = true;
                Err(e)
            }
        }
    }

    fn too_much_garbage(&self) -> bool {
        let live = self.pages.len() as u64 * PAGE as u64
            + self.blobs.values().map(|(_, len)| len).sum::<u64>();
        let garbage = self.len.saturating_sub(live);
        garbage > self.rewrite_after && garbage > live
    }

    /// Writes everything live into a new generation, switches the manifest to it and deletes
    /// the old data file.
    fn rewrite(&mut self, net: &LocalNet) -> io::Result<CommitStats> {
        let old = self.generation;
        let mut fresh = Store::new_generation(&self.dir, old + 1)?;
        fresh.rewrite_after = self.rewrite_after;
        let stats = fresh.commit_in_place(net)?;
        *self = fresh;
        Ok(CommitStats {
            rewritten: true,
            ..stats
        })
    }

    fn commit_in_place(&mut self, net: &LocalNet) -> io::Result<CommitStats> {
        let start = self.len;
        let mut seen_pages = HashSet::new();
        let mut seen_blobs = HashSet::new();
        let mut manifest = {
            let mut file = self.data.try_clone()?;
            file.seek(SeekFrom::Start(self.len))?;
            let mut app = Appender {
                out: BufWriter::with_capacity(1 << 20, file),
            };
            let canisters = net
                .canisters
                .values()
                .map(|c| self.canister(c, &mut app, &mut seen_pages, &mut seen_blobs))
                .collect::<io::Result<Vec<_>>>()?;
            app.out.flush()?;
            drop(app);
            Manifest {
                format: FORMAT,
                generation: self.generation,
                data_len: self.len,
                time: 0,
                next_canister_index: net.canisters.next_index(),
                canisters,
            }
        };
        // Forget what the subnet no longer holds (its bytes become garbage in the file).
        self.pages.retain(|k, _| seen_pages.contains(k));
        self.blobs.retain(|k, _| seen_blobs.contains(k));
        self.snapshot_modules
            .retain(|id, _| net.canisters.values().any(|c| c.snapshots.contains(id)));
        let data_bytes = self.len - start;
        let unchanged = candid::encode_one(&manifest).map_err(|e| bad(e.to_string()))?;
        if data_bytes == 0 && unchanged == self.last_manifest {
            return Ok(CommitStats::default());
        }
        if data_bytes > 0 {
            self.data.sync_data()?;
        }
        manifest.time = net.time_nanos();
        let bytes = candid::encode_one(&manifest).map_err(|e| bad(e.to_string()))?;
        write_manifest(&self.dir, &bytes)?;
        if self.last_manifest.is_empty() {
            // The first manifest of this generation: older data files are garbage now.
            for g in data_generations(&self.dir)? {
                if g != self.generation {
                    let _ = std::fs::remove_file(data_file(&self.dir, g));
                }
            }
        }
        self.last_manifest = unchanged;
        Ok(CommitStats {
            written: true,
            data_bytes,
            manifest_bytes: bytes.len() as u64,
            rewritten: false,
        })
    }

    fn memory(
        &mut self,
        memory: &PagedMemory,
        app: &mut Appender,
        seen: &mut HashSet<usize>,
    ) -> io::Result<Vec<u64>> {
        memory
            .shared_pages()
            .iter()
            .map(|page| {
                let key = Arc::as_ptr(page) as usize;
                seen.insert(key);
                if let Some((_, offset)) = self.pages.get(&key) {
                    return Ok(*offset);
                }
                let offset = self.len;
                app.out.write_all(page)?;
                self.len += PAGE as u64;
                self.pages.insert(key, (page.clone(), offset));
                Ok(offset)
            })
            .collect()
    }

    fn blob(
        &mut self,
        sha256: [u8; 32],
        bytes: &[u8],
        app: &mut Appender,
        seen: &mut HashSet<[u8; 32]>,
    ) -> io::Result<BlobRef> {
        seen.insert(sha256);
        let (offset, len) = match self.blobs.get(&sha256) {
            Some(&at) => at,
            None => {
                let at = (self.len, bytes.len() as u64);
                app.out.write_all(bytes)?;
                self.len += at.1;
                self.blobs.insert(sha256, at);
                at
            }
        };
        Ok(BlobRef {
            sha256: ByteBuf::from(sha256.to_vec()),
            offset,
            len,
        })
    }

    fn chunks(
        &mut self,
        store: &BTreeMap<[u8; 32], Vec<u8>>,
        app: &mut Appender,
        seen: &mut HashSet<[u8; 32]>,
    ) -> io::Result<Vec<BlobRef>> {
        store
            .iter()
            .map(|(hash, bytes)| self.blob(*hash, bytes, app, seen))
            .collect()
    }

    fn canister(
        &mut self,
        c: &Canister,
        app: &mut Appender,
        pages: &mut HashSet<usize>,
        blobs: &mut HashSet<[u8; 32]>,
    ) -> io::Result<SavedCanister> {
        let module = match &c.module {
            Some(m) => Some(self.blob(m.prepared.hash, &m.prepared.original, app, blobs)?),
            None => None,
        };
        let mut snapshots = Vec::with_capacity(c.snapshots.len());
        for s in c.snapshots.iter() {
            snapshots.push(self.snapshot(s, app, pages, blobs)?);
        }
        Ok(SavedCanister {
            id: c.id,
            controllers: c.controllers.clone(),
            cycles: c.cycles,
            stopped: c.status != Status::Running,
            module,
            heap: self.memory(&c.state.heap, app, pages)?,
            globals: c.state.globals.iter().map(global_out).collect(),
            stable: self.memory(&c.state.stable, app, pages)?,
            certified_data: ByteBuf::from(c.certified_data.clone()),
            global_timer: c.global_timer,
            version: c.version,
            chunk_store: self.chunks(&c.chunk_store, app, blobs)?,
            snapshots,
            next_snapshot: c.snapshots.next_counter(),
            history: c
                .history
                .iter()
                .map(|h| SavedHistory {
                    timestamp: h.timestamp,
                    canister_version: h.canister_version,
                    origin: h.origin,
                    origin_is_canister: h.origin_is_canister,
                    details: h.details.clone(),
                })
                .collect(),
            freezing_threshold: c.freezing_threshold,
            instructions_executed: c.instructions_executed,
            snapshot_visibility: Some(c.snapshot_visibility.clone()),
        })
    }

    fn snapshot(
        &mut self,
        s: &Snapshot,
        app: &mut Appender,
        pages: &mut HashSet<usize>,
        blobs: &mut HashSet<[u8; 32]>,
    ) -> io::Result<SavedSnapshot> {
        // A taken snapshot never changes: hash its module once. An uploaded one takes data
        // until it is loaded, so its module is hashed at every commit (it is small next to
        // the memories, which are pages).
        let hash = match (s.source, self.snapshot_modules.get(&s.id)) {
            (SnapshotSource::TakenFromCanister, Some(h)) => *h,
            (SnapshotSource::TakenFromCanister, None) => {
                let h = wasm::sha256(&s.wasm_module);
                self.snapshot_modules.insert(s.id.clone(), h);
                h
            }
            (SnapshotSource::MetadataUpload, _) => wasm::sha256(&s.wasm_module),
        };
        Ok(SavedSnapshot {
            id: ByteBuf::from(s.id.clone()),
            uploaded: matches!(s.source, SnapshotSource::MetadataUpload),
            taken_at: s.taken_at,
            wasm_module: self.blob(hash, &s.wasm_module, app, blobs)?,
            wasm_memory: self.memory(&s.wasm_memory, app, pages)?,
            stable_memory: self.memory(&s.stable_memory, app, pages)?,
            globals: s.globals.iter().map(global_out).collect(),
            chunk_store: self.chunks(&s.chunk_store, app, blobs)?,
            certified_data: ByteBuf::from(s.certified_data.clone()),
            global_timer: s.global_timer,
            canister_version: s.canister_version,
            hook_status: s.hook_status,
        })
    }

    /// Opens the state in `dir`: the subnet it holds (`None` when there is none yet) and a
    /// store whose next commit appends to it.
    pub fn open(dir: &Path) -> io::Result<(Store, Option<LocalNet>)> {
        let bytes = match std::fs::read(dir.join(MANIFEST)) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok((Store::create(dir)?, None));
            }
            Err(e) => return Err(e),
        };
        let manifest: Manifest = candid::decode_one(&bytes).map_err(|e| {
            match candid::decode_one::<FormatOnly>(&bytes) {
                Ok(f) if f.format != FORMAT => bad(format!(
                    "{}: written by another version of localnet (state format {}, this one reads {FORMAT}); move the directory away to start afresh",
                    dir.join(MANIFEST).display(),
                    f.format
                )),
                _ => bad(format!("{}: {e}", dir.join(MANIFEST).display())),
            }
        })?;
        if manifest.format != FORMAT {
            return Err(bad(format!(
                "{}: unknown state format {}",
                dir.join(MANIFEST).display(),
                manifest.format
            )));
        }
        // Leftovers of an interrupted rewrite.
        for g in data_generations(dir)? {
            if g != manifest.generation {
                let _ = std::fs::remove_file(data_file(dir, g));
            }
        }
        let data = File::options()
            .read(true)
            .write(true)
            .open(data_file(dir, manifest.generation))?;
        // Bytes a crashed commit appended after the last manifest.
        if data.metadata()?.len() < manifest.data_len {
            return Err(bad(format!(
                "{} is shorter than {}",
                data_file(dir, manifest.generation).display(),
                manifest.data_len
            )));
        }
        data.set_len(manifest.data_len)?;
        let mut store = Store {
            dir: dir.to_path_buf(),
            generation: manifest.generation,
            data,
            len: manifest.data_len,
            pages: HashMap::new(),
            blobs: HashMap::new(),
            snapshot_modules: HashMap::new(),
            last_manifest: Vec::new(),
            broken: false,
            rewrite_after: MIN_GARBAGE_FOR_REWRITE,
        };
        let net = store.load(manifest)?;
        Ok((store, Some(net)))
    }

    fn read_page(&mut self, by_offset: &mut HashMap<u64, Page>, offset: u64) -> io::Result<Page> {
        if let Some(p) = by_offset.get(&offset) {
            return Ok(p.clone());
        }
        let mut page = vec![0; PAGE];
        self.data.read_exact_at(&mut page, offset)?;
        let page = Arc::new(page);
        self.pages
            .insert(Arc::as_ptr(&page) as usize, (page.clone(), offset));
        by_offset.insert(offset, page.clone());
        Ok(page)
    }

    fn read_memory(
        &mut self,
        by_offset: &mut HashMap<u64, Page>,
        offsets: &[u64],
    ) -> io::Result<PagedMemory> {
        let pages = offsets
            .iter()
            .map(|o| self.read_page(by_offset, *o))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(PagedMemory::from_shared_pages(pages))
    }

    fn read_blob(&mut self, blob: &BlobRef) -> io::Result<([u8; 32], Vec<u8>)> {
        let hash: [u8; 32] = blob
            .sha256
            .as_slice()
            .try_into()
            .map_err(|_| bad("a blob hash is not 32 bytes"))?;
        let mut bytes = vec![0; blob.len as usize];
        self.data.read_exact_at(&mut bytes, blob.offset)?;
        self.blobs.insert(hash, (blob.offset, blob.len));
        Ok((hash, bytes))
    }

    fn read_chunks(&mut self, refs: &[BlobRef]) -> io::Result<BTreeMap<[u8; 32], Vec<u8>>> {
        refs.iter().map(|r| self.read_blob(r)).collect()
    }

    fn load(&mut self, manifest: Manifest) -> io::Result<LocalNet> {
        let mut net = LocalNet::new();
        net.jump_clock_nanos(manifest.time);
        net.canisters.set_next_index(manifest.next_canister_index);
        // Pages shared between memories (a canister and its snapshots) stay shared.
        let mut by_offset = HashMap::new();
        for s in manifest.canisters {
            let mut c = Canister::new(s.id, s.controllers, s.cycles);
            if let Some(blob) = &s.module {
                let (_, original) = self.read_blob(blob)?;
                let prepared =
                    wasm::prepare(&original).map_err(|e| bad(format!("canister {}: {e}", s.id)))?;
                let module = net
                    .runtime
                    .compile(prepared)
                    .map_err(|e| bad(format!("canister {}: {}", s.id, e.message)))?;
                c.module = Some(module);
            }
            c.status = if s.stopped {
                Status::Stopped
            } else {
                Status::Running
            };
            c.state = ExecState {
                heap: self.read_memory(&mut by_offset, &s.heap)?,
                globals: s.globals.into_iter().map(global_in).collect(),
                stable: self.read_memory(&mut by_offset, &s.stable)?,
            };
            c.certified_data = s.certified_data.into_vec();
            c.global_timer = s.global_timer;
            c.version = s.version;
            c.chunk_store = self.read_chunks(&s.chunk_store)?;
            c.freezing_threshold = s.freezing_threshold;
            c.snapshot_visibility = s.snapshot_visibility.unwrap_or_default();
            c.instructions_executed = s.instructions_executed;
            c.history = s
                .history
                .into_iter()
                .map(|h| HistoryEntry {
                    timestamp: h.timestamp,
                    canister_version: h.canister_version,
                    origin: h.origin,
                    origin_is_canister: h.origin_is_canister,
                    details: h.details,
                })
                .collect();
            let mut snapshots = Vec::with_capacity(s.snapshots.len());
            for snap in s.snapshots {
                let (hash, wasm_module) = self.read_blob(&snap.wasm_module)?;
                let id = snap.id.into_vec();
                let source = if snap.uploaded {
                    SnapshotSource::MetadataUpload
                } else {
                    self.snapshot_modules.insert(id.clone(), hash);
                    SnapshotSource::TakenFromCanister
                };
                snapshots.push(Snapshot {
                    id,
                    source,
                    taken_at: snap.taken_at,
                    wasm_module,
                    wasm_memory: self.read_memory(&mut by_offset, &snap.wasm_memory)?,
                    stable_memory: self.read_memory(&mut by_offset, &snap.stable_memory)?,
                    globals: snap.globals.into_iter().map(global_in).collect(),
                    chunk_store: self.read_chunks(&snap.chunk_store)?,
                    certified_data: snap.certified_data.into_vec(),
                    global_timer: snap.global_timer,
                    canister_version: snap.canister_version,
                    hook_status: snap.hook_status,
                });
            }
            c.snapshots = SnapshotStore::restore(snapshots, s.next_snapshot);
            net.canisters.insert(c);
        }
        Ok(net)
    }
}

/// Writes the manifest: temp file, fsync, rename, fsync of the directory.
fn write_manifest(dir: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!("{MANIFEST}.tmp"));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(MANIFEST))?;
    sync_dir(dir)
}

/// Saves `net` to `dir` in full (a new generation replacing whatever the directory held).
pub fn save(net: &LocalNet, dir: &Path) -> io::Result<()> {
    Store::create(dir)?.commit(net).map(|_| ())
}

/// Loads the subnet saved in `dir`; `Ok(None)` when there is none yet.
pub fn load(dir: &Path) -> io::Result<Option<LocalNet>> {
    if !dir.join(MANIFEST).exists() {
        return Ok(None);
    }
    Store::open(dir).map(|(_, net)| net)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("localnet-persist-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// A subnet with one canister (no module) whose stable memory is `pages` pages of `byte`.
    fn net_with_stable(pages: usize, byte: u8) -> (LocalNet, Principal) {
        let mut net = LocalNet::new();
        let id = net.create_canister();
        net.canisters.get_mut(&id).unwrap().state.stable =
            PagedMemory::from_bytes(&vec![byte; pages * PAGE]);
        (net, id)
    }

    fn stable_of(net: &LocalNet, id: Principal) -> Vec<u8> {
        net.canisters[&id].state.stable.to_vec()
    }

    #[test]
    fn a_commit_appends_only_the_pages_written_since_the_last_one_and_a_reload_gives_them_back() {
        let dir = temp_dir("incremental");
        let (mut net, id) = net_with_stable(4, 1);
        let mut store = Store::create(&dir).unwrap();
        let first = store.commit(&net).unwrap();
        assert!(first.written);
        // from_bytes wrote every page: four distinct buffers.
        assert_eq!(first.data_bytes, 4 * PAGE as u64);
        assert_eq!(store.commit(&net).unwrap(), CommitStats::default());
        net.canisters
            .get_mut(&id)
            .unwrap()
            .state
            .stable
            .write(PAGE as u64 + 5, b"xyz");
        let second = store.commit(&net).unwrap();
        assert_eq!(second.data_bytes, PAGE as u64, "only the page written");
        let loaded = load(&dir).unwrap().expect("a state");
        assert_eq!(stable_of(&loaded, id), stable_of(&net, id));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bytes_after_the_last_manifest_and_other_generations_are_dropped_on_open() {
        let dir = temp_dir("crash");
        let (net, id) = net_with_stable(2, 3);
        let mut store = Store::create(&dir).unwrap();
        store.commit(&net).unwrap();
        let generation = store.generation;
        drop(store);
        // A commit that crashed after appending, and a rewrite that crashed half-way.
        let data = data_file(&dir, generation);
        let committed = std::fs::metadata(&data).unwrap().len();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&data)
            .unwrap()
            .write_all(&[0xAB; 1000])
            .unwrap();
        std::fs::write(data_file(&dir, generation + 1), b"half a rewrite").unwrap();
        let (mut store, loaded) = Store::open(&dir).unwrap();
        let loaded = loaded.expect("a state");
        assert_eq!(stable_of(&loaded, id), vec![3; 2 * PAGE]);
        assert_eq!(std::fs::metadata(&data).unwrap().len(), committed);
        assert!(!data_file(&dir, generation + 1).exists());
        // The reopened store knows the pages it loaded: nothing to append.
        assert_eq!(store.commit(&loaded).unwrap().data_bytes, 0);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_data_file_mostly_garbage_is_rewritten_into_a_new_generation() {
        let dir = temp_dir("rewrite");
        let (mut net, id) = net_with_stable(8, 5);
        let mut store = Store::create(&dir).unwrap();
        store.rewrite_after = 0;
        store.commit(&net).unwrap();
        let old = store.generation;
        // Every page rewritten: the first eight pages in the file are garbage now.
        net.canisters.get_mut(&id).unwrap().state.stable =
            PagedMemory::from_bytes(&vec![6; 8 * PAGE]);
        net.canisters
            .get_mut(&id)
            .unwrap()
            .state
            .stable
            .write(0, b"new");
        store.commit(&net).unwrap();
        net.canisters
            .get_mut(&id)
            .unwrap()
            .state
            .stable
            .write(PAGE as u64, b"again");
        let stats = store.commit(&net).unwrap();
        assert!(stats.rewritten);
        assert_ne!(store.generation, old);
        assert!(!data_file(&dir, old).exists());
        assert_eq!(
            std::fs::metadata(data_file(&dir, store.generation))
                .unwrap()
                .len(),
            8 * PAGE as u64
        );
        let loaded = load(&dir).unwrap().expect("a state");
        assert_eq!(stable_of(&loaded, id), stable_of(&net, id));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
