//! Saving a [`LocalNet`] to a directory and loading it back (`localnet --state-dir`).
//!
//! What survives: every canister's settings, cycles, status, module, heap, globals, stable
//! memory, certified data, timer, version, chunk store, snapshots and history, the canister id
//! counter and the clock. What does not: messages in flight (open call contexts, callbacks,
//! queued requests) and logs — a save is a quiescent view, so a canister that was stopping comes
//! back stopped.
//!
//! The file `state.bin` (candid, blobs as blobs) is written to `state.bin.tmp`, fsynced, renamed
//! over the old one and the directory fsynced: a crash leaves either the old or the new state,
//! never a torn one.

use crate::LocalNet;
use crate::canister::{Canister, HistoryEntry, Snapshot, SnapshotSource, Status};
use crate::execution::{ExecState, GlobalValue};
use crate::paged::PagedMemory;
use crate::wasm;
use candid::{CandidType, Deserialize, Principal};
use serde_bytes::ByteBuf;
use std::io::{self, Write};
use std::path::Path;

const FILE: &str = "state.bin";
const FORMAT: u32 = 1;

#[derive(CandidType, Deserialize)]
enum Global {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
}

#[derive(CandidType, Deserialize)]
struct SavedSnapshot {
    id: ByteBuf,
    uploaded: bool,
    taken_at: u64,
    wasm_module: ByteBuf,
    wasm_memory: ByteBuf,
    stable_memory: ByteBuf,
    globals: Vec<Global>,
    chunk_store: Vec<(ByteBuf, ByteBuf)>,
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
    module: Option<ByteBuf>,
    heap: ByteBuf,
    globals: Vec<Global>,
    stable: ByteBuf,
    certified_data: ByteBuf,
    global_timer: u64,
    version: u64,
    chunk_store: Vec<(ByteBuf, ByteBuf)>,
    snapshots: Vec<SavedSnapshot>,
    next_snapshot: u64,
    history: Vec<SavedHistory>,
    freezing_threshold: u64,
    instructions_executed: u64,
}

#[derive(CandidType, Deserialize)]
struct SavedNet {
    format: u32,
    time: u64,
    next_canister_index: u64,
    canisters: Vec<SavedCanister>,
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

fn chunks_out(store: &std::collections::BTreeMap<[u8; 32], Vec<u8>>) -> Vec<(ByteBuf, ByteBuf)> {
    store
        .iter()
        .map(|(h, c)| (ByteBuf::from(h.to_vec()), ByteBuf::from(c.clone())))
        .collect()
}

fn chunks_in(
    saved: Vec<(ByteBuf, ByteBuf)>,
) -> io::Result<std::collections::BTreeMap<[u8; 32], Vec<u8>>> {
    saved
        .into_iter()
        .map(|(h, c)| {
            let h: [u8; 32] = h
                .into_vec()
                .try_into()
                .map_err(|_| bad("a chunk hash is not 32 bytes"))?;
            Ok((h, c.into_vec()))
        })
        .collect()
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn to_saved(net: &LocalNet) -> SavedNet {
    let canisters = net
        .canisters
        .values()
        .map(|c| SavedCanister {
            id: c.id,
            controllers: c.controllers.clone(),
            cycles: c.cycles,
            stopped: c.status != Status::Running,
            module: c
                .module
                .as_ref()
                .map(|m| ByteBuf::from(m.prepared.original.clone())),
            heap: ByteBuf::from(c.state.heap.to_vec()),
            globals: c.state.globals.iter().map(global_out).collect(),
            stable: ByteBuf::from(c.state.stable.to_vec()),
            certified_data: ByteBuf::from(c.certified_data.clone()),
            global_timer: c.global_timer,
            version: c.version,
            chunk_store: chunks_out(&c.chunk_store),
            snapshots: c
                .snapshots
                .iter()
                .map(|s| SavedSnapshot {
                    id: ByteBuf::from(s.id.clone()),
                    uploaded: matches!(s.source, SnapshotSource::MetadataUpload),
                    taken_at: s.taken_at,
                    wasm_module: ByteBuf::from(s.wasm_module.clone()),
                    wasm_memory: ByteBuf::from(s.wasm_memory.to_vec()),
                    stable_memory: ByteBuf::from(s.stable_memory.to_vec()),
                    globals: s.globals.iter().map(global_out).collect(),
                    chunk_store: chunks_out(&s.chunk_store),
                    certified_data: ByteBuf::from(s.certified_data.clone()),
                    global_timer: s.global_timer,
                    canister_version: s.canister_version,
                    hook_status: s.hook_status,
                })
                .collect(),
            next_snapshot: c.next_snapshot,
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
        })
        .collect();
    SavedNet {
        format: FORMAT,
        time: net.time_nanos(),
        next_canister_index: net.next_canister_index,
        canisters,
    }
}

/// Encodes the subnet's durable state (copies memories; call with the subnet locked, then write
/// the bytes with [`write_atomically`] outside the lock).
pub fn encode(net: &LocalNet) -> Vec<u8> {
    candid::encode_one(to_saved(net)).expect("candid encoding of the saved state")
}

/// Writes `bytes` as `dir/state.bin`: temp file, fsync, rename, fsync of the directory.
pub fn write_atomically(dir: &Path, bytes: &[u8]) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{FILE}.tmp"));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(FILE))?;
    std::fs::File::open(dir)?.sync_all()
}

/// Saves `net` to `dir`.
pub fn save(net: &LocalNet, dir: &Path) -> io::Result<()> {
    write_atomically(dir, &encode(net))
}

/// Loads the subnet saved in `dir`; `Ok(None)` when there is none yet.
pub fn load(dir: &Path) -> io::Result<Option<LocalNet>> {
    let bytes = match std::fs::read(dir.join(FILE)) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let saved: SavedNet = candid::decode_one(&bytes).map_err(|e| bad(format!("{FILE}: {e}")))?;
    if saved.format != FORMAT {
        return Err(bad(format!("{FILE}: unknown format {}", saved.format)));
    }
    let mut net = LocalNet::new();
    net.set_time_nanos(saved.time);
    net.next_canister_index = saved.next_canister_index;
    for s in saved.canisters {
        let mut c = Canister::new(s.id, s.controllers, s.cycles);
        if let Some(original) = s.module {
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
            heap: PagedMemory::from_bytes(&s.heap),
            globals: s.globals.into_iter().map(global_in).collect(),
            stable: PagedMemory::from_bytes(&s.stable),
        };
        c.certified_data = s.certified_data.into_vec();
        c.global_timer = s.global_timer;
        c.version = s.version;
        c.chunk_store = chunks_in(s.chunk_store)?;
        c.next_snapshot = s.next_snapshot;
        c.freezing_threshold = s.freezing_threshold;
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
        for snap in s.snapshots {
            c.snapshots.push(Snapshot {
                id: snap.id.into_vec(),
                source: if snap.uploaded {
                    SnapshotSource::MetadataUpload
                } else {
                    SnapshotSource::TakenFromCanister
                },
                taken_at: snap.taken_at,
                wasm_module: snap.wasm_module.into_vec(),
                wasm_memory: PagedMemory::from_bytes(&snap.wasm_memory),
                stable_memory: PagedMemory::from_bytes(&snap.stable_memory),
                globals: snap.globals.into_iter().map(global_in).collect(),
                chunk_store: chunks_in(snap.chunk_store)?,
                certified_data: snap.certified_data.into_vec(),
                global_timer: snap.global_timer,
                canister_version: snap.canister_version,
                hook_status: snap.hook_status,
            });
        }
        net.insert_canister(c);
    }
    Ok(Some(net))
}
