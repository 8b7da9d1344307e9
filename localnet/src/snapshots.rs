//! The eight canister snapshot methods of the management canister, with the IC's semantics
//! (IC-FACTS §1, §2, §8; dfinity/ic `rs/execution_environment/src/canister_manager.rs`):
//! controller-only (IC0512), the canister is not required to be stopped, at most
//! [`MAX_SNAPSHOTS`] per canister (IC0406) unless replacing, ids are an 8-byte big-endian
//! per-canister counter that is never reused followed by the canister id, reads are sliced at
//! [`MAX_SLICE_SIZE`] bytes (IC0408), uploads are validated and only uploaded snapshots accept
//! data (IC0409). Loading restores module, memories, globals, chunk store and certified data,
//! bumps `canister_version` and records history; it restores the global timer only for an
//! uploaded snapshot, and runs no canister code.

use crate::canister::{Snapshot, SnapshotSource};
use crate::cycles;
use crate::execution::{ExecState, GlobalValue, WASM_PAGE};
use crate::management::{MResult, Sender, decode, reply, reply_empty};
use crate::net::LocalNet;
use crate::paged::PagedMemory;
use crate::replies;
use crate::types::{ErrorCode, RejectResponse};
use crate::wasm;
use candid::{Nat, Principal};
use ic_management_canister_types as mt;

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

fn not_found(id: &[u8], canister: Principal) -> RejectResponse {
    RejectResponse::system(
        ErrorCode::CanisterSnapshotNotFound,
        format!(
            "Could not find the snapshot ID {} for canister {canister}.",
            display_snapshot_id(id)
        ),
    )
}

/// The replica's text names all three kinds whichever was read (`canister_manager/types.rs`).
fn slice_error(_what: &str, offset: u64, size: u64) -> RejectResponse {
    RejectResponse::system(
        ErrorCode::InvalidManagementPayload,
        format!(
            "Invalid subslice into wasm module / main memory / stable memory: offset: {offset}, size: {size}"
        ),
    )
}

/// Invalid uploaded metadata: the replica maps `CanisterSnapshotError::InvalidMetadata` to
/// `InvalidSettings`, i.e. IC0504 "Could not validate the settings: …"
/// (`canister_manager/types.rs`).
/// A slice of a paged memory with the read checks (size first, then bounds).
fn paged_slice(memory: &PagedMemory, offset: u64, size: u64) -> Result<Vec<u8>, RejectResponse> {
    if size > MAX_SLICE_SIZE {
        return Err(RejectResponse::system(
            ErrorCode::InvalidManagementPayload,
            format!("Requested slice too large: {size} > {MAX_SLICE_SIZE}"),
        ));
    }
    if !memory.contains(offset, size) {
        return Err(slice_error("memory", offset, size));
    }
    Ok(memory.slice(offset, size))
}

/// Writes an uploaded piece into a paged memory, bounds checked.
fn paged_write(memory: &mut PagedMemory, offset: u64, chunk: &[u8]) -> Result<(), RejectResponse> {
    let size = chunk.len() as u64;
    if !memory.contains(offset, size) {
        return Err(slice_error("memory", offset, size));
    }
    memory.write(offset, chunk);
    Ok(())
}

fn invalid_metadata(msg: String) -> RejectResponse {
    RejectResponse::system(
        ErrorCode::CanisterContractViolation,
        format!("Could not validate the settings: {msg}"),
    )
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
        mt::SnapshotMetadataGlobal::V128(n) => GlobalValue::V128(crate::management::nat_u128(n)),
    }
}

fn summary(s: &Snapshot) -> mt::Snapshot {
    mt::Snapshot {
        id: s.id.clone(),
        taken_at_timestamp: s.taken_at,
        total_size: s.total_size(),
    }
}

impl LocalNet {
    /// Index of `id` among `canister`'s own snapshots (IC0305 otherwise).
    fn own_snapshot(&self, canister: Principal, id: &[u8]) -> Result<usize, RejectResponse> {
        let c = &self.canisters[&canister];
        c.snapshots
            .iter()
            .position(|s| s.id == id)
            .ok_or_else(|| not_found(id, canister))
    }

    /// Checks the limit (when not replacing) and resolves the snapshot to replace.
    fn slot_for_new_snapshot(
        &self,
        canister: Principal,
        replace: Option<&Vec<u8>>,
    ) -> Result<Option<usize>, RejectResponse> {
        match replace {
            Some(id) => self.own_snapshot(canister, id).map(Some),
            None if self.canisters[&canister].snapshots.len() >= MAX_SNAPSHOTS => {
                Err(RejectResponse::system(
                    ErrorCode::CanisterRejectedMessage,
                    format!(
                        "Canister {canister} has reached the maximum number of snapshots allowed: {MAX_SNAPSHOTS}.\nConsider deleting an unnecessary snapshot of the specified canister before creating a new one."
                    ),
                ))
            }
            None => Ok(None),
        }
    }

    /// Adds a snapshot, removing the replaced one afterwards (same message).
    fn store_snapshot(&mut self, canister: Principal, snapshot: Snapshot, replaced: Option<usize>) {
        let c = self.canisters.get_mut(&canister).expect("exists");
        if let Some(i) = replaced {
            c.snapshots.remove(i);
        }
        c.snapshots.push(snapshot);
    }

    fn next_snapshot_id(&mut self, canister: Principal) -> Vec<u8> {
        let c = self.canisters.get_mut(&canister).expect("exists");
        let id = snapshot_id(c.next_snapshot, canister);
        c.next_snapshot += 1;
        id
    }

    pub(crate) fn m_take_snapshot(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::TakeCanisterSnapshotArgs = decode(arg)?;
        let id = args.canister_id;
        let c = self.controlled(id, sender, "take_canister_snapshot")?;
        let Some(module) = c.module.clone() else {
            // `CanisterSnapshotExecutionStateNotFound` in canister_manager/types.rs (colon included).
            return Err(RejectResponse::system(
                ErrorCode::CanisterRejectedMessage,
                format!("Failed to create snapshot for empty canister {id}:"),
            ));
        };
        let replaced = self.slot_for_new_snapshot(id, args.replace_snapshot.as_ref())?;
        // 2 B instructions + one per byte of the snapshot (IC-FACTS §2), paid by the canister
        // above its freezing reserve, before anything changes.
        let c = &self.canisters[&id];
        let size =
            c.memory_size() + c.state.globals.len() as u64 * 8 + c.certified_data.len() as u64;
        self.charge_or_refuse(
            id,
            cycles::instructions_cost(cycles::SNAPSHOT_BASE_INSTRUCTIONS + size),
        )?;
        let snap_id = self.next_snapshot_id(id);
        let c = &self.canisters[&id];
        let snapshot = Snapshot {
            id: snap_id,
            source: SnapshotSource::TakenFromCanister,
            taken_at: self.time,
            wasm_module: module.prepared.original.clone(),
            wasm_memory: c.state.heap.clone(),
            stable_memory: c.state.stable.clone(),
            globals: c.state.globals.clone(),
            chunk_store: c.chunk_store.clone(),
            certified_data: c.certified_data.clone(),
            global_timer: c.global_timer,
            canister_version: c.version,
            hook_status: 0,
        };
        let result: replies::TakeSnapshotReply = summary(&snapshot);
        self.store_snapshot(id, snapshot, replaced);
        if args.uninstall_code == Some(true) {
            self.uninstall(id, sender);
        }
        reply(result)
    }

    pub(crate) fn m_load_snapshot(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::LoadCanisterSnapshotArgs = decode(arg)?;
        let id = args.canister_id;
        self.controlled(id, sender, "load_canister_snapshot")?;
        let owner = match parse_snapshot_id(&args.snapshot_id) {
            Some((_, owner)) if self.canisters.contains_key(&owner) => owner,
            _ => return Err(not_found(&args.snapshot_id, id)),
        };
        if owner != id {
            // Loading another canister's snapshot needs control of both (same subnet here).
            self.controlled(owner, sender, "load_canister_snapshot")?;
        }
        let index = self
            .own_snapshot(owner, &args.snapshot_id)
            .map_err(|_| not_found(&args.snapshot_id, id))?;
        let snapshot = self.canisters[&owner].snapshots[index].clone();
        self.charge_or_refuse(
            id,
            cycles::instructions_cost(cycles::SNAPSHOT_BASE_INSTRUCTIONS + snapshot.total_size()),
        )?;
        let prepared = wasm::prepare(&snapshot.wasm_module).map_err(|e| {
            RejectResponse::system(
                ErrorCode::CanisterInvalidWasm,
                format!("Error from Canister {id}: Canister's Wasm module is not valid: {e}"),
            )
        })?;
        if prepared.mutable_globals.len() != snapshot.globals.len() {
            return Err(invalid_metadata(format!(
                "the snapshot has {} globals but the module exports {}",
                snapshot.globals.len(),
                prepared.mutable_globals.len()
            )));
        }
        let module = self.runtime.compile(prepared).map_err(|e| {
            RejectResponse::system(
                ErrorCode::CanisterInvalidWasm,
                format!("Error from Canister {id}: {}", e.message),
            )
        })?;
        let c = self.canisters.get_mut(&id).expect("checked");
        c.module = Some(module);
        c.state = ExecState {
            heap: snapshot.wasm_memory,
            globals: snapshot.globals,
            stable: snapshot.stable_memory,
        };
        c.chunk_store = snapshot.chunk_store;
        c.certified_data = snapshot.certified_data;
        if snapshot.source == SnapshotSource::MetadataUpload {
            c.global_timer = snapshot.global_timer;
        }
        c.version += 1;
        let record = mt::LoadSnapshotRecord {
            from_canister_id: (owner != id).then_some(owner),
            snapshot_id: snapshot.id,
            canister_version: snapshot.canister_version,
            taken_at_timestamp: snapshot.taken_at,
            source: match snapshot.source {
                SnapshotSource::TakenFromCanister => {
                    mt::SnapshotSource::TakenFromCanister(Default::default())
                }
                SnapshotSource::MetadataUpload => {
                    mt::SnapshotSource::MetadataUpload(Default::default())
                }
            },
        };
        self.add_history(id, sender, mt::ChangeDetails::LoadSnapshot(record));
        reply_empty()
    }

    pub(crate) fn m_list_snapshots(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::ListCanisterSnapshotsArgs = decode(arg)?;
        let c = self.snapshot_viewable(args.canister_id, sender, "list_canister_snapshots")?;
        let list: replies::ListSnapshotsReply = c.snapshots.iter().map(summary).collect();
        reply(list)
    }

    pub(crate) fn m_delete_snapshot(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::DeleteCanisterSnapshotArgs = decode(arg)?;
        let id = args.canister_id;
        self.controlled(id, sender, "delete_canister_snapshot")?;
        let index = self.own_snapshot(id, &args.snapshot_id)?;
        self.canisters
            .get_mut(&id)
            .expect("checked")
            .snapshots
            .remove(index);
        reply_empty()
    }

    pub(crate) fn m_read_snapshot_metadata(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::ReadCanisterSnapshotMetadataArgs = decode(arg)?;
        let id = args.canister_id;
        self.snapshot_viewable(id, sender, "read_canister_snapshot_metadata")?;
        let index = self.own_snapshot(id, &args.snapshot_id)?;
        let s = &self.canisters[&id].snapshots[index];
        reply(replies::SnapshotMetadataReply {
            source: match s.source {
                SnapshotSource::TakenFromCanister => {
                    mt::SnapshotSource::TakenFromCanister(Default::default())
                }
                SnapshotSource::MetadataUpload => {
                    mt::SnapshotSource::MetadataUpload(Default::default())
                }
            },
            taken_at_timestamp: s.taken_at,
            wasm_module_size: s.wasm_module.len() as u64,
            globals: s.globals.iter().map(global_to_candid).collect(),
            wasm_memory_size: s.wasm_memory.len(),
            stable_memory_size: s.stable_memory.len(),
            wasm_chunk_store: s
                .chunk_store
                .keys()
                .map(|h| mt::ChunkHash { hash: h.to_vec() })
                .collect(),
            canister_version: s.canister_version,
            certified_data: s.certified_data.clone(),
            global_timer: Some(if s.global_timer == 0 {
                mt::CanisterTimer::Inactive
            } else {
                mt::CanisterTimer::Active(s.global_timer)
            }),
            on_low_wasm_memory_hook_status: Some(match s.hook_status {
                1 => mt::OnLowWasmMemoryHookStatus::Ready,
                2 => mt::OnLowWasmMemoryHookStatus::Executed,
                _ => mt::OnLowWasmMemoryHookStatus::ConditionNotSatisfied,
            }),
        })
    }

    pub(crate) fn m_read_snapshot_data(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::ReadCanisterSnapshotDataArgs = decode(arg)?;
        let id = args.canister_id;
        self.snapshot_viewable(id, sender, "read_canister_snapshot_data")?;
        let index = self.own_snapshot(id, &args.snapshot_id)?;
        let s = &self.canisters[&id].snapshots[index];
        let slice =
            |bytes: &[u8], what: &str, offset: u64, size: u64| -> Result<Vec<u8>, RejectResponse> {
                if size > MAX_SLICE_SIZE {
                    return Err(RejectResponse::system(
                        ErrorCode::InvalidManagementPayload,
                        format!("Requested slice too large: {size} > {MAX_SLICE_SIZE}"),
                    ));
                }
                match offset.checked_add(size) {
                    Some(end) if end <= bytes.len() as u64 => {
                        Ok(bytes[offset as usize..end as usize].to_vec())
                    }
                    _ => Err(slice_error(what, offset, size)),
                }
            };
        let chunk = match args.kind {
            mt::SnapshotDataKind::WasmModule { offset, size } => {
                slice(&s.wasm_module, "wasm module", offset, size)?
            }
            mt::SnapshotDataKind::WasmMemory { offset, size } => {
                paged_slice(&s.wasm_memory, offset, size)?
            }
            mt::SnapshotDataKind::StableMemory { offset, size } => {
                paged_slice(&s.stable_memory, offset, size)?
            }
            mt::SnapshotDataKind::WasmChunk { hash } => {
                let key: Option<[u8; 32]> = hash.as_slice().try_into().ok();
                key.and_then(|k| s.chunk_store.get(&k).cloned())
                    .ok_or_else(|| {
                        RejectResponse::system(
                            ErrorCode::InvalidManagementPayload,
                            format!(
                                "Chunk with hash {} not found in the snapshot's wasm chunk store",
                                hex::encode(&hash)
                            ),
                        )
                    })?
            }
        };
        self.charge_or_refuse(
            id,
            cycles::instructions_cost(cycles::SNAPSHOT_READ_BASE_INSTRUCTIONS + chunk.len() as u64),
        )?;
        reply(replies::ReadSnapshotDataReply { chunk })
    }

    pub(crate) fn m_upload_snapshot_metadata(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::UploadCanisterSnapshotMetadataArgs = decode(arg)?;
        let id = args.canister_id;
        self.controlled(id, sender, "upload_canister_snapshot_metadata")?;
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
        let replaced = self.slot_for_new_snapshot(id, args.replace_snapshot.as_ref())?;
        self.charge_or_refuse(
            id,
            cycles::instructions_cost(cycles::SNAPSHOT_BASE_INSTRUCTIONS),
        )?;
        let snap_id = self.next_snapshot_id(id);
        let version = self.canisters[&id].version;
        let snapshot = Snapshot {
            id: snap_id.clone(),
            source: SnapshotSource::MetadataUpload,
            taken_at: self.time,
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
            canister_version: version,
            hook_status: match args.on_low_wasm_memory_hook_status {
                Some(mt::OnLowWasmMemoryHookStatus::Ready) => 1,
                Some(mt::OnLowWasmMemoryHookStatus::Executed) => 2,
                _ => 0,
            },
        };
        self.store_snapshot(id, snapshot, replaced);
        reply(replies::UploadSnapshotMetadataReply {
            snapshot_id: snap_id,
        })
    }

    pub(crate) fn m_upload_snapshot_data(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::UploadCanisterSnapshotDataArgs = decode(arg)?;
        let id = args.canister_id;
        self.controlled(id, sender, "upload_canister_snapshot_data")?;
        let index = self.own_snapshot(id, &args.snapshot_id)?;
        self.charge_or_refuse(id, cycles::instructions_cost(args.chunk.len() as u64))?;
        let s = &mut self.canisters.get_mut(&id).expect("checked").snapshots[index];
        if s.source != SnapshotSource::MetadataUpload {
            return Err(RejectResponse::system(
                ErrorCode::CanisterSnapshotImmutable,
                "Only canister snapshots created by metadata upload can be mutated.",
            ));
        }
        let write = |bytes: &mut Vec<u8>,
                     what: &str,
                     offset: u64,
                     chunk: &[u8]|
         -> Result<(), RejectResponse> {
            let size = chunk.len() as u64;
            match offset.checked_add(size) {
                Some(end) if end <= bytes.len() as u64 => {
                    bytes[offset as usize..end as usize].copy_from_slice(chunk);
                    Ok(())
                }
                _ => Err(slice_error(what, offset, size)),
            }
        };
        match args.kind {
            mt::SnapshotDataOffset::WasmModule { offset } => {
                write(&mut s.wasm_module, "wasm module", offset, &args.chunk)?
            }
            mt::SnapshotDataOffset::WasmMemory { offset } => {
                paged_write(&mut s.wasm_memory, offset, &args.chunk)?
            }
            mt::SnapshotDataOffset::StableMemory { offset } => {
                paged_write(&mut s.stable_memory, offset, &args.chunk)?
            }
            mt::SnapshotDataOffset::WasmChunk => {
                if args.chunk.len() > crate::management::MAX_CHUNK_SIZE {
                    return Err(RejectResponse::system(
                        ErrorCode::InvalidManagementPayload,
                        format!(
                            "Wasm chunk size {} exceeds the maximum chunk size",
                            args.chunk.len()
                        ),
                    ));
                }
                s.chunk_store.insert(wasm::sha256(&args.chunk), args.chunk);
            }
        }
        reply_empty()
    }
}
