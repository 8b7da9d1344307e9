//! The snapshot store: each canister's snapshots and its never-reused snapshot counter, with the
//! IC's rules about them (IC-FACTS §1, §2, §8; dfinity/ic
//! `rs/execution_environment/src/canister_manager.rs`): at most [`MAX_SNAPSHOTS`] per canister
//! (IC0406) unless replacing, ids are an 8-byte big-endian counter followed by the canister id,
//! unknown ids are IC0305, reads are sliced at [`MAX_SLICE_SIZE`] bytes (IC0408), uploaded
//! metadata is validated, and only uploaded snapshots accept data (IC0409).
//!
//! It knows nothing of canisters or the management canister: [`crate::management`] decides who
//! may do what, builds snapshots from canisters and loads them back.

use crate::execution::{GlobalValue, WASM_PAGE};
use crate::paged::PagedMemory;
use crate::replies;
use crate::types::{ErrorCode, RejectResponse, nat_u128};
use crate::wasm;
use candid::{Nat, Principal};
use ic_management_canister_types as mt;
use std::collections::BTreeMap;

/// `MAX_NUMBER_OF_SNAPSHOTS_PER_CANISTER`.
pub const MAX_SNAPSHOTS: usize = 10;
/// `MAX_SLICE_SIZE_BYTES` of read_canister_snapshot_data.
pub const MAX_SLICE_SIZE: u64 = 2_000_000;
/// Largest wasm module.
const MAX_MODULE: u64 = wasm::MAX_WASM_MODULE_SIZE as u64;
/// Largest wasm32 heap.
const MAX_HEAP: u64 = 4 * 1024 * 1024 * 1024;
/// Largest stable memory.
const MAX_STABLE: u64 = 500 * 1024 * 1024 * 1024;
/// Most exported globals.
const MAX_GLOBALS: usize = 1000;

/// Builds a snapshot id: counter (8 bytes, big endian) ‖ canister id bytes.
pub fn snapshot_id(counter: u64, canister: Principal) -> Vec<u8> {
    let mut id = counter.to_be_bytes().to_vec();
    id.extend_from_slice(canister.as_slice());
    id
}

/// Splits a snapshot id into (counter, canister).
pub fn parse_snapshot_id(id: &[u8]) -> Option<(u64, Principal)> {
    if id.len() < 8 {
        return None;
    }
    let counter = u64::from_be_bytes(id[..8].try_into().ok()?);
    let canister = Principal::try_from_slice(&id[8..]).ok()?;
    Some((counter, canister))
}

/// The IC's textual form of a snapshot id, `<canister>-<counter>`.
pub fn display_snapshot_id(id: &[u8]) -> String {
    match parse_snapshot_id(id) {
        Some((n, c)) => format!("{c}-{n}"),
        None => hex::encode(id),
    }
}

/// IC0305: `canister` has no snapshot `id`.
pub fn not_found(id: &[u8], canister: Principal) -> RejectResponse {
    RejectResponse::system(
        ErrorCode::CanisterSnapshotNotFound,
        format!(
            "Could not find the snapshot ID {} for canister {canister}.",
            display_snapshot_id(id)
        ),
    )
}

/// Invalid uploaded metadata: the replica maps `CanisterSnapshotError::InvalidMetadata` to
/// `InvalidSettings`, i.e. IC0504 "Could not validate the settings: …"
/// (`canister_manager/types.rs`).
pub fn invalid_metadata(msg: String) -> RejectResponse {
    RejectResponse::system(
        ErrorCode::CanisterContractViolation,
        format!("Could not validate the settings: {msg}"),
    )
}

/// The replica's text names all three kinds whichever was read (`canister_manager/types.rs`).
fn slice_error(offset: u64, size: u64) -> RejectResponse {
    RejectResponse::system(
        ErrorCode::InvalidManagementPayload,
        format!(
            "Invalid subslice into wasm module / main memory / stable memory: offset: {offset}, size: {size}"
        ),
    )
}

fn check_slice_size(size: u64) -> Result<(), RejectResponse> {
    if size > MAX_SLICE_SIZE {
        return Err(RejectResponse::system(
            ErrorCode::InvalidManagementPayload,
            format!("Requested slice too large: {size} > {MAX_SLICE_SIZE}"),
        ));
    }
    Ok(())
}

/// A slice of a paged memory with the read checks (size first, then bounds).
fn paged_slice(memory: &PagedMemory, offset: u64, size: u64) -> Result<Vec<u8>, RejectResponse> {
    check_slice_size(size)?;
    if !memory.contains(offset, size) {
        return Err(slice_error(offset, size));
    }
    Ok(memory.slice(offset, size))
}

/// Writes an uploaded piece into a paged memory, bounds checked.
fn paged_write(memory: &mut PagedMemory, offset: u64, chunk: &[u8]) -> Result<(), RejectResponse> {
    let size = chunk.len() as u64;
    if !memory.contains(offset, size) {
        return Err(slice_error(offset, size));
    }
    memory.write(offset, chunk);
    Ok(())
}

fn global_to_candid(g: &GlobalValue) -> mt::SnapshotMetadataGlobal {
    match *g {
        GlobalValue::I32(v) => mt::SnapshotMetadataGlobal::I32(v),
        GlobalValue::I64(v) => mt::SnapshotMetadataGlobal::I64(v),
        GlobalValue::F32(v) => mt::SnapshotMetadataGlobal::F32(f32::from_bits(v)),
        GlobalValue::F64(v) => mt::SnapshotMetadataGlobal::F64(f64::from_bits(v)),
        GlobalValue::V128(v) => mt::SnapshotMetadataGlobal::V128(Nat::from(v)),
    }
}

fn global_from_candid(g: &mt::SnapshotMetadataGlobal) -> GlobalValue {
    match g {
        mt::SnapshotMetadataGlobal::I32(v) => GlobalValue::I32(*v),
        mt::SnapshotMetadataGlobal::I64(v) => GlobalValue::I64(*v),
        mt::SnapshotMetadataGlobal::F32(v) => GlobalValue::F32(v.to_bits()),
        mt::SnapshotMetadataGlobal::F64(v) => GlobalValue::F64(v.to_bits()),
        mt::SnapshotMetadataGlobal::V128(n) => GlobalValue::V128(nat_u128(n)),
    }
}

/// Checks uploaded metadata against the IC's bounds before anything is created.
pub fn validate_metadata(
    args: &mt::UploadCanisterSnapshotMetadataArgs,
) -> Result<(), RejectResponse> {
    if args.wasm_module_size == 0 || args.wasm_module_size > MAX_MODULE {
        return Err(invalid_metadata(format!(
            "wasm module size {} must be in 1..={MAX_MODULE}",
            args.wasm_module_size
        )));
    }
    let page = WASM_PAGE as u64;
    if !args.wasm_memory_size.is_multiple_of(page) || args.wasm_memory_size > MAX_HEAP {
        return Err(invalid_metadata(format!(
            "wasm memory size {} must be a multiple of {page} and at most {MAX_HEAP}",
            args.wasm_memory_size
        )));
    }
    if !args.stable_memory_size.is_multiple_of(page) || args.stable_memory_size > MAX_STABLE {
        return Err(invalid_metadata(format!(
            "stable memory size {} must be a multiple of {page} and at most {MAX_STABLE}",
            args.stable_memory_size
        )));
    }
    if args.globals.len() > MAX_GLOBALS {
        return Err(invalid_metadata(format!(
            "{} globals exceed the maximum of {MAX_GLOBALS}",
            args.globals.len()
        )));
    }
    if args.certified_data.len() > 32 {
        return Err(invalid_metadata(format!(
            "certified data of {} bytes exceeds 32 bytes",
            args.certified_data.len()
        )));
    }
    Ok(())
}

/// Where a snapshot came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotSource {
    /// `take_canister_snapshot`.
    TakenFromCanister,
    /// `upload_canister_snapshot_metadata`.
    MetadataUpload,
}

impl SnapshotSource {
    /// The candid form (metadata replies, load history records).
    pub fn to_candid(self) -> mt::SnapshotSource {
        match self {
            SnapshotSource::TakenFromCanister => {
                mt::SnapshotSource::TakenFromCanister(Default::default())
            }
            SnapshotSource::MetadataUpload => {
                mt::SnapshotSource::MetadataUpload(Default::default())
            }
        }
    }
}

/// A canister snapshot (IC-FACTS §2 "Contents").
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// 8-byte BE counter ‖ canister id.
    pub id: Vec<u8>,
    /// Origin.
    pub source: SnapshotSource,
    /// Time taken (ns).
    pub taken_at: u64,
    /// Module bytes as installed.
    pub wasm_module: Vec<u8>,
    /// Heap (pages shared with the canister until either writes).
    pub wasm_memory: PagedMemory,
    /// Stable memory (pages shared with the canister until either writes).
    pub stable_memory: PagedMemory,
    /// Exported globals.
    pub globals: Vec<GlobalValue>,
    /// Chunk store.
    pub chunk_store: BTreeMap<[u8; 32], Vec<u8>>,
    /// Certified data.
    pub certified_data: Vec<u8>,
    /// Global timer (0 = inactive).
    pub global_timer: u64,
    /// canister_version at take time.
    pub canister_version: u64,
    /// on_low_wasm_memory hook status (0 not satisfied, 1 ready, 2 executed).
    pub hook_status: u8,
}

impl Snapshot {
    /// An empty snapshot shaped by validated uploaded metadata ([`validate_metadata`]), for
    /// `upload_canister_snapshot_data` to fill.
    pub fn uploaded(
        id: Vec<u8>,
        now: u64,
        canister_version: u64,
        args: mt::UploadCanisterSnapshotMetadataArgs,
    ) -> Self {
        Snapshot {
            id,
            source: SnapshotSource::MetadataUpload,
            taken_at: now,
            wasm_module: vec![0; args.wasm_module_size as usize],
            wasm_memory: PagedMemory::zeroed(args.wasm_memory_size),
            stable_memory: PagedMemory::zeroed(args.stable_memory_size),
            globals: args.globals.iter().map(global_from_candid).collect(),
            chunk_store: Default::default(),
            certified_data: args.certified_data,
            global_timer: match args.global_timer {
                Some(mt::CanisterTimer::Active(t)) => t,
                _ => 0,
            },
            canister_version,
            hook_status: match args.on_low_wasm_memory_hook_status {
                Some(mt::OnLowWasmMemoryHookStatus::Ready) => 1,
                Some(mt::OnLowWasmMemoryHookStatus::Executed) => 2,
                _ => 0,
            },
        }
    }

    /// Size as `list_canister_snapshots` reports it.
    pub fn total_size(&self) -> u64 {
        self.wasm_memory.len()
            + self.stable_memory.len()
            + (self.wasm_module.len()
                + self.globals.len() * 8
                + self.certified_data.len()
                + self.chunk_store.values().map(Vec::len).sum::<usize>()) as u64
    }

    /// The `snapshot` record of take and list replies.
    pub fn summary(&self) -> mt::Snapshot {
        mt::Snapshot {
            id: self.id.clone(),
            taken_at_timestamp: self.taken_at,
            total_size: self.total_size(),
        }
    }

    /// `read_canister_snapshot_metadata`'s reply.
    pub fn metadata(&self) -> replies::SnapshotMetadataReply {
        replies::SnapshotMetadataReply {
            source: self.source.to_candid(),
            taken_at_timestamp: self.taken_at,
            wasm_module_size: self.wasm_module.len() as u64,
            globals: self.globals.iter().map(global_to_candid).collect(),
            wasm_memory_size: self.wasm_memory.len(),
            stable_memory_size: self.stable_memory.len(),
            wasm_chunk_store: self
                .chunk_store
                .keys()
                .map(|h| mt::ChunkHash { hash: h.to_vec() })
                .collect(),
            canister_version: self.canister_version,
            certified_data: self.certified_data.clone(),
            global_timer: Some(if self.global_timer == 0 {
                mt::CanisterTimer::Inactive
            } else {
                mt::CanisterTimer::Active(self.global_timer)
            }),
            on_low_wasm_memory_hook_status: Some(match self.hook_status {
                1 => mt::OnLowWasmMemoryHookStatus::Ready,
                2 => mt::OnLowWasmMemoryHookStatus::Executed,
                _ => mt::OnLowWasmMemoryHookStatus::ConditionNotSatisfied,
            }),
        }
    }

    /// One `read_canister_snapshot_data` slice (size checked first, then bounds).
    pub fn read(&self, kind: mt::SnapshotDataKind) -> Result<Vec<u8>, RejectResponse> {
        match kind {
            mt::SnapshotDataKind::WasmModule { offset, size } => {
                check_slice_size(size)?;
                match offset.checked_add(size) {
                    Some(end) if end <= self.wasm_module.len() as u64 => {
                        Ok(self.wasm_module[offset as usize..end as usize].to_vec())
                    }
                    _ => Err(slice_error(offset, size)),
                }
            }
            mt::SnapshotDataKind::WasmMemory { offset, size } => {
                paged_slice(&self.wasm_memory, offset, size)
            }
            mt::SnapshotDataKind::StableMemory { offset, size } => {
                paged_slice(&self.stable_memory, offset, size)
            }
            mt::SnapshotDataKind::WasmChunk { hash } => {
                let key: Option<[u8; 32]> = hash.as_slice().try_into().ok();
                key.and_then(|k| self.chunk_store.get(&k).cloned())
                    .ok_or_else(|| {
                        RejectResponse::system(
                            ErrorCode::InvalidManagementPayload,
                            format!(
                                "Chunk with hash {} not found in the snapshot's wasm chunk store",
                                hex::encode(&hash)
                            ),
                        )
                    })
            }
        }
    }

    /// One `upload_canister_snapshot_data` piece; only uploaded snapshots change (IC0409).
    pub fn write(
        &mut self,
        kind: mt::SnapshotDataOffset,
        chunk: Vec<u8>,
    ) -> Result<(), RejectResponse> {
        if self.source != SnapshotSource::MetadataUpload {
            return Err(RejectResponse::system(
                ErrorCode::CanisterSnapshotImmutable,
                "Only canister snapshots created by metadata upload can be mutated.",
            ));
        }
        match kind {
            mt::SnapshotDataOffset::WasmModule { offset } => {
                let size = chunk.len() as u64;
                match offset.checked_add(size) {
                    Some(end) if end <= self.wasm_module.len() as u64 => {
                        self.wasm_module[offset as usize..end as usize].copy_from_slice(&chunk);
                    }
                    _ => return Err(slice_error(offset, size)),
                }
            }
            mt::SnapshotDataOffset::WasmMemory { offset } => {
                paged_write(&mut self.wasm_memory, offset, &chunk)?
            }
            mt::SnapshotDataOffset::StableMemory { offset } => {
                paged_write(&mut self.stable_memory, offset, &chunk)?
            }
            mt::SnapshotDataOffset::WasmChunk => {
                if chunk.len() > wasm::MAX_CHUNK_SIZE {
                    return Err(RejectResponse::system(
                        ErrorCode::InvalidManagementPayload,
                        format!(
                            "Wasm chunk size {} exceeds the maximum chunk size",
                            chunk.len()
                        ),
                    ));
                }
                self.chunk_store.insert(wasm::sha256(&chunk), chunk);
            }
        }
        Ok(())
    }
}

/// Room for a new snapshot: a free place, or the place of the snapshot it replaces (removed
/// only once the new one is stored, in the same message).
#[derive(Debug)]
pub struct Slot {
    replaces: Option<Vec<u8>>,
}

/// One canister's snapshots, in creation order, and the counter their ids come from.
#[derive(Clone, Debug, Default)]
pub struct SnapshotStore {
    snapshots: Vec<Snapshot>,
    next_counter: u64,
}

impl SnapshotStore {
    /// A store holding `snapshots` whose next id uses `next_counter` (a saved state).
    pub fn restore(snapshots: Vec<Snapshot>, next_counter: u64) -> Self {
        SnapshotStore {
            snapshots,
            next_counter,
        }
    }

    /// The counter the next snapshot id will use.
    pub fn next_counter(&self) -> u64 {
        self.next_counter
    }

    /// The snapshots, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Snapshot> {
        self.snapshots.iter()
    }

    /// Number of snapshots.
    pub fn len(&self) -> usize {
        self.snapshots.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.snapshots.is_empty()
    }

    /// Whether a snapshot has this id.
    pub fn contains(&self, id: &[u8]) -> bool {
        self.snapshots.iter().any(|s| s.id == id)
    }

    /// Total bytes held by the snapshots.
    pub fn total_size(&self) -> u64 {
        self.snapshots.iter().map(Snapshot::total_size).sum()
    }

    /// Deletes every snapshot (a canister that ran out of cycles); the counter goes on.
    pub fn clear(&mut self) {
        self.snapshots.clear();
    }

    fn position(&self, canister: Principal, id: &[u8]) -> Result<usize, RejectResponse> {
        self.snapshots
            .iter()
            .position(|s| s.id == id)
            .ok_or_else(|| not_found(id, canister))
    }

    /// Snapshot `id` of `canister` (IC0305 otherwise).
    pub fn get(&self, canister: Principal, id: &[u8]) -> Result<&Snapshot, RejectResponse> {
        Ok(&self.snapshots[self.position(canister, id)?])
    }

    /// Snapshot `id` of `canister`, to change (IC0305 otherwise).
    pub fn get_mut(
        &mut self,
        canister: Principal,
        id: &[u8],
    ) -> Result<&mut Snapshot, RejectResponse> {
        let index = self.position(canister, id)?;
        Ok(&mut self.snapshots[index])
    }

    /// Deletes snapshot `id` of `canister` (IC0305 when there is none).
    pub fn remove(&mut self, canister: Principal, id: &[u8]) -> Result<Snapshot, RejectResponse> {
        let index = self.position(canister, id)?;
        Ok(self.snapshots.remove(index))
    }

    /// Room for one more snapshot of `canister`: the place of `replace` (IC0305 if unknown) or
    /// a free one (IC0406 at [`MAX_SNAPSHOTS`]).
    pub fn slot(
        &self,
        canister: Principal,
        replace: Option<&Vec<u8>>,
    ) -> Result<Slot, RejectResponse> {
        match replace {
            Some(id) => {
                self.position(canister, id)?;
                Ok(Slot {
                    replaces: Some(id.clone()),
                })
            }
            None if self.snapshots.len() >= MAX_SNAPSHOTS => Err(RejectResponse::system(
                ErrorCode::CanisterRejectedMessage,
                format!(
                    "Canister {canister} has reached the maximum number of snapshots allowed: {MAX_SNAPSHOTS}.\nConsider deleting an unnecessary snapshot of the specified canister before creating a new one."
                ),
            )),
            None => Ok(Slot { replaces: None }),
        }
    }

    /// The next snapshot id of `canister`; the counter is never reused.
    pub fn next_id(&mut self, canister: Principal) -> Vec<u8> {
        let id = snapshot_id(self.next_counter, canister);
        self.next_counter += 1;
        id
    }

    /// Stores `snapshot` in `slot`, removing the snapshot it replaces.
    pub fn insert(&mut self, slot: Slot, snapshot: Snapshot) {
        if let Some(replaced) = slot.replaces {
            self.snapshots.retain(|s| s.id != replaced);
        }
        self.snapshots.push(snapshot);
    }
}
