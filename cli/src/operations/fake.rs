//! (tests) An in-memory management canister for one canister's snapshots, with fault
//! injection: permanent failures after N reads (an interrupted export) and transient failures;
//! and timing: replies delayed per read (so they come back reversed or shuffled, as a replica
//! answering in rounds returns them) and one read held back while the others proceed.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use candid::Principal;
use ic_management_canister_types::UploadCanisterSnapshotMetadataArgs;
use ic_utils::interfaces::management_canister::{
    ChunkHash, Snapshot, SnapshotDataKind, SnapshotDataOffset, SnapshotMetadataGlobal,
    SnapshotSource,
};
use sha2::{Digest, Sha256};

use super::layout::Region;
use super::store::{CallError, Metadata, SnapshotStore};

/// One snapshot's bytes.
#[derive(Clone, Default)]
pub struct Snap {
    pub meta: Option<Metadata>,
    pub regions: BTreeMap<Region, Vec<u8>>,
    pub chunks: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// How long the n-th data read takes to answer.
type ReplyDelay = Box<dyn Fn(u64) -> Duration>;

/// The fake.
pub struct FakeStore {
    pub canister: Principal,
    pub snaps: RefCell<BTreeMap<Vec<u8>, Snap>>,
    next_id: Cell<u64>,
    reads: Cell<u64>,
    fail_after: Cell<u64>,
    transient: Cell<u32>,
    pub uploads: Cell<u64>,
    pub stopped: Cell<bool>,
    pub loaded: RefCell<Option<Vec<u8>>>,
    pub calls: RefCell<Vec<String>>,
    /// How long the n-th data read (0-based) takes to answer.
    reply_delay: RefCell<Option<ReplyDelay>>,
    /// The first data read answers only once this many others have answered (or after 2 s).
    hold_first: Cell<Option<u64>>,
    /// How many reads answered while the first was held.
    pub answered_while_held: Cell<Option<u64>>,
    answered: Cell<u64>,
    in_flight: Cell<u64>,
    /// The most data reads that were in flight at once.
    pub max_in_flight: Cell<u64>,
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

impl FakeStore {
    /// A canister with no snapshot.
    pub fn empty() -> Self {
        Self {
            canister: Principal::from_text("rrkah-fqaaa-aaaaa-aaaaq-cai").unwrap(),
            snaps: RefCell::new(BTreeMap::new()),
            next_id: Cell::new(0),
            reads: Cell::new(0),
            fail_after: Cell::new(u64::MAX),
            transient: Cell::new(0),
            uploads: Cell::new(0),
            stopped: Cell::new(false),
            loaded: RefCell::new(None),
            calls: RefCell::new(vec![]),
            reply_delay: RefCell::new(None),
            hold_first: Cell::new(None),
            answered_while_held: Cell::new(None),
            answered: Cell::new(0),
            in_flight: Cell::new(0),
            max_in_flight: Cell::new(0),
        }
    }

    fn new_id(&self) -> Vec<u8> {
        let n = self.next_id.get();
        self.next_id.set(n + 1);
        let mut id = n.to_be_bytes().to_vec();
        id.extend(self.canister.as_slice());
        id
    }

    /// A canister with one taken snapshot of these sizes and `chunks` chunks.
    pub fn with_snapshot(module: usize, heap: usize, stable: usize, chunks: usize) -> Self {
        let s = Self::empty();
        let id = s.new_id();
        let mut snap = Snap::default();
        snap.regions.insert(Region::WasmModule, pattern(module, 1));
        snap.regions.insert(Region::WasmMemory, pattern(heap, 2));
        snap.regions
            .insert(Region::StableMemory, pattern(stable, 3));
        for i in 0..chunks {
            let data = pattern(1000 + i * 10, 10 + i as u8);
            snap.chunks.insert(Sha256::digest(&data).to_vec(), data);
        }
        snap.meta = Some(Metadata {
            source: Some(SnapshotSource::TakenFromCanister(candid::Reserved)),
            taken_at_timestamp: 1_700_000_000_000_000_000,
            wasm_module_size: module as u64,
            globals: vec![Some(SnapshotMetadataGlobal::I32(1_048_576))],
            wasm_memory_size: heap as u64,
            stable_memory_size: stable as u64,
            wasm_chunk_store: snap
                .chunks
                .keys()
                .map(|h| ChunkHash { hash: h.clone() })
                .collect(),
            canister_version: 3,
            certified_data: vec![1, 2, 3],
            global_timer: None,
            on_low_wasm_memory_hook_status: None,
        });
        s.snaps.borrow_mut().insert(id, snap);
        s
    }

    /// The first snapshot's id.
    pub fn snapshot_id(&self) -> Vec<u8> {
        self.snaps.borrow().keys().next().unwrap().clone()
    }

    /// The bytes of a region of the first snapshot.
    pub fn region(&self, r: Region) -> Vec<u8> {
        self.snaps.borrow().values().next().unwrap().regions[&r].clone()
    }

    /// Total chunk bytes of the first snapshot.
    pub fn chunk_bytes(&self) -> u64 {
        self.snaps
            .borrow()
            .values()
            .next()
            .unwrap()
            .chunks
            .values()
            .map(|c| c.len() as u64)
            .sum()
    }

    /// Reads fail permanently once `n` reads have succeeded.
    pub fn fail_reads_after(&self, n: u64) {
        self.fail_after.set(n);
    }

    /// Forget the read count.
    pub fn reset_reads(&self) {
        self.reads.set(0);
    }

    /// The n-th data read (0-based) answers after `delay(n)`.
    pub fn delay_replies(&self, delay: impl Fn(u64) -> Duration + 'static) {
        *self.reply_delay.borrow_mut() = Some(Box::new(delay));
    }

    /// The first data read answers only once `n` others have (or after 2 s, so an exporter that
    /// waits for it in order does not hang the test).
    pub fn hold_first_read_until(&self, n: u64) {
        self.hold_first.set(Some(n));
    }

    /// The next `n` data calls fail transiently.
    pub fn transient_failures(&self, n: u32) {
        self.transient.set(n);
    }

    fn fault(&self) -> Result<(), CallError> {
        if self.transient.get() > 0 {
            self.transient.set(self.transient.get() - 1);
            return Err(CallError {
                transient: true,
                error: anyhow!("heap delta rate limited, try again"),
            });
        }
        Ok(())
    }

    fn snap(&self, id: &[u8]) -> Result<Snap, CallError> {
        self.snaps.borrow().get(id).cloned().ok_or_else(|| {
            CallError::permanent(anyhow!(
                "Could not find the snapshot ID {}",
                hex::encode(id)
            ))
        })
    }
}

impl SnapshotStore for FakeStore {
    fn canister(&self) -> Principal {
        self.canister
    }

    async fn list(&self) -> Result<Vec<Snapshot>, CallError> {
        Ok(self
            .snaps
            .borrow()
            .keys()
            .map(|id| Snapshot {
                id: id.clone(),
                taken_at_timestamp: 1,
                total_size: 1,
            })
            .collect())
    }

    async fn read_metadata(&self, snapshot: &[u8]) -> Result<Metadata, CallError> {
        Ok(self.snap(snapshot)?.meta.unwrap())
    }

    async fn read_data(
        &self,
        snapshot: &[u8],
        kind: SnapshotDataKind,
    ) -> Result<Vec<u8>, CallError> {
        self.fault()?;
        if self.reads.get() >= self.fail_after.get() {
            return Err(CallError::permanent(anyhow!("connection lost (test)")));
        }
        let n = self.reads.get();
        self.reads.set(n + 1);
        self.in_flight.set(self.in_flight.get() + 1);
        self.max_in_flight
            .set(self.max_in_flight.get().max(self.in_flight.get()));
        tokio::task::yield_now().await;
        let delay = self.reply_delay.borrow().as_ref().map(|d| d(n));
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        if n == 0
            && let Some(target) = self.hold_first.get()
        {
            let start = Instant::now();
            while self.answered.get() < target && start.elapsed() < Duration::from_secs(2) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            self.answered_while_held.set(Some(self.answered.get()));
        }
        self.in_flight.set(self.in_flight.get() - 1);
        self.answered.set(self.answered.get() + 1);
        let s = self.snap(snapshot)?;
        let (r, offset, size) = match kind {
            SnapshotDataKind::WasmModule { offset, size } => (Region::WasmModule, offset, size),
            SnapshotDataKind::WasmMemory { offset, size } => (Region::WasmMemory, offset, size),
            SnapshotDataKind::StableMemory { offset, size } => (Region::StableMemory, offset, size),
            SnapshotDataKind::WasmChunk { hash } => return Ok(s.chunks[&hash].clone()),
        };
        assert!(size <= 2_000_000, "slice too large");
        Ok(s.regions[&r][offset as usize..(offset + size) as usize].to_vec())
    }

    async fn upload_metadata(
        &self,
        args: UploadCanisterSnapshotMetadataArgs,
    ) -> Result<Vec<u8>, CallError> {
        self.calls.borrow_mut().push("upload_metadata".into());
        if let Some(old) = &args.replace_snapshot {
            self.snaps.borrow_mut().remove(old);
        }
        let id = self.new_id();
        let mut snap = Snap::default();
        snap.regions
            .insert(Region::WasmModule, vec![0; args.wasm_module_size as usize]);
        snap.regions
            .insert(Region::WasmMemory, vec![0; args.wasm_memory_size as usize]);
        snap.regions.insert(
            Region::StableMemory,
            vec![0; args.stable_memory_size as usize],
        );
        snap.meta = Some(Metadata {
            source: Some(SnapshotSource::MetadataUpload(candid::Reserved)),
            taken_at_timestamp: 2,
            wasm_module_size: args.wasm_module_size,
            globals: args.globals.into_iter().map(Some).collect(),
            wasm_memory_size: args.wasm_memory_size,
            stable_memory_size: args.stable_memory_size,
            wasm_chunk_store: vec![],
            canister_version: 0,
            certified_data: args.certified_data,
            global_timer: args.global_timer,
            on_low_wasm_memory_hook_status: args.on_low_wasm_memory_hook_status,
        });
        self.snaps.borrow_mut().insert(id.clone(), snap);
        Ok(id)
    }

    async fn upload_data(
        &self,
        snapshot: &[u8],
        kind: SnapshotDataOffset,
        chunk: Vec<u8>,
    ) -> Result<(), CallError> {
        self.fault()?;
        if self.uploads.get() >= self.fail_after.get() {
            return Err(CallError::permanent(anyhow!("connection lost (test)")));
        }
        self.uploads.set(self.uploads.get() + 1);
        let mut snaps = self.snaps.borrow_mut();
        let s = snaps
            .get_mut(snapshot)
            .ok_or_else(|| CallError::permanent(anyhow!("no such snapshot")))?;
        let (r, offset) = match kind {
            SnapshotDataOffset::WasmModule { offset } => (Region::WasmModule, offset),
            SnapshotDataOffset::WasmMemory { offset } => (Region::WasmMemory, offset),
            SnapshotDataOffset::StableMemory { offset } => (Region::StableMemory, offset),
            SnapshotDataOffset::WasmChunk => {
                let hash = Sha256::digest(&chunk).to_vec();
                s.meta
                    .as_mut()
                    .unwrap()
                    .wasm_chunk_store
                    .push(ChunkHash { hash: hash.clone() });
                s.chunks.insert(hash, chunk);
                return Ok(());
            }
        };
        let region = s.regions.get_mut(&r).unwrap();
        let end = offset as usize + chunk.len();
        assert!(end <= region.len(), "upload past the end");
        region[offset as usize..end].copy_from_slice(&chunk);
        Ok(())
    }

    async fn take(&self) -> Result<Snapshot, CallError> {
        Err(CallError::permanent(anyhow!("not supported by the fake")))
    }

    async fn stop(&self) -> Result<(), CallError> {
        self.calls.borrow_mut().push("stop".into());
        self.stopped.set(true);
        Ok(())
    }

    async fn start(&self) -> Result<(), CallError> {
        self.calls.borrow_mut().push("start".into());
        self.stopped.set(false);
        Ok(())
    }

    async fn load(&self, snapshot: &[u8]) -> Result<(), CallError> {
        self.calls.borrow_mut().push("load".into());
        self.snap(snapshot)?;
        *self.loaded.borrow_mut() = Some(snapshot.to_vec());
        Ok(())
    }

    async fn delete(&self, snapshot: &[u8]) -> Result<(), CallError> {
        self.calls.borrow_mut().push("delete".into());
        self.snap(snapshot)?;
        self.snaps.borrow_mut().remove(snapshot);
        Ok(())
    }
}
