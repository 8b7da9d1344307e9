//! The management canister's replies, typed as the replica sends them: the interface spec's
//! candid (dfinity/developer-docs `public/references/ic.did`, the replica's own
//! `rs/types/management_canister_types`), not the client-side types of the
//! `ic-management-canister-types` crate.
//!
//! The crate declares some reply fields `opt` where the spec has none (`source: opt variant`,
//! `globals: vec opt variant`, `details: opt change_details`) so that a *client* survives
//! variants added later (candid decodes an unknown variant into `None`). A server that encodes
//! with those types sends `opt …`, which clients typed after the spec — the official JS agent's
//! ic-management among them — cannot decode (IC-FACTS §1 "Wire types vs crate types"). Every
//! reply `aaaaa-aa` encodes is one of the types below; where the crate's type already has the
//! spec's wire type it is re-exported, and `tests/reply_types.rs` checks each one against the
//! spec's candid.

use candid::{CandidType, Principal};
use ic_management_canister_types as mt;
use serde::Deserialize;

/// The candid of a method whose result is `()`: no values at all (`DIDL\0\0`), as the replica
/// sends it, rather than one `null`.
pub fn empty() -> Vec<u8> {
    candid::encode_args(()).expect("candid encoding of no values")
}

/// `create_canister` / `provisional_create_canister_with_cycles`: `record { canister_id }`.
pub type CreateCanisterReply = mt::CanisterIdRecord;
/// `upload_chunk`: `chunk_hash`.
pub type UploadChunkReply = mt::ChunkHash;
/// `stored_chunks`: `vec chunk_hash`.
pub type StoredChunksReply = Vec<mt::ChunkHash>;
/// `canister_status`: `canister_status_result` (the crate's type has the spec's wire type).
pub type CanisterStatusReply = mt::CanisterStatusResult;
/// `take_canister_snapshot`: `snapshot`.
pub type TakeSnapshotReply = mt::Snapshot;
/// `list_canister_snapshots`: `vec snapshot`.
pub type ListSnapshotsReply = Vec<mt::Snapshot>;
/// `read_canister_snapshot_data`: `record { chunk : blob }`.
pub type ReadSnapshotDataReply = mt::ReadCanisterSnapshotDataResult;
/// `upload_canister_snapshot_metadata`: `record { snapshot_id : blob }`.
pub type UploadSnapshotMetadataReply = mt::UploadCanisterSnapshotMetadataResult;

/// `read_canister_snapshot_metadata`: `read_canister_snapshot_metadata_response`. `source` is a
/// plain variant and `globals` a vector of plain variants, as the replica sends them.
#[derive(CandidType, Deserialize, Debug, Clone)]
pub struct SnapshotMetadataReply {
    /// Taken from the canister or created by a metadata upload.
    pub source: mt::SnapshotSource,
    /// When it was taken (ns).
    pub taken_at_timestamp: u64,
    /// Module size in bytes.
    pub wasm_module_size: u64,
    /// The module's exported mutable globals, in order.
    pub globals: Vec<mt::SnapshotMetadataGlobal>,
    /// Heap size in bytes.
    pub wasm_memory_size: u64,
    /// Stable memory size in bytes.
    pub stable_memory_size: u64,
    /// The chunk store's hashes.
    pub wasm_chunk_store: Vec<mt::ChunkHash>,
    /// `canister_version` when it was taken.
    pub canister_version: u64,
    /// Certified data.
    #[serde(with = "serde_bytes")]
    pub certified_data: Vec<u8>,
    /// The global timer (`opt` in the spec too).
    pub global_timer: Option<mt::CanisterTimer>,
    /// The low-memory hook's status (`opt` in the spec too).
    pub on_low_wasm_memory_hook_status: Option<mt::OnLowWasmMemoryHookStatus>,
}

/// One change of the canister history: `change`, whose `details` is not optional on the wire.
#[derive(CandidType, Deserialize, Debug, Clone)]
pub struct ChangeReply {
    /// When (ns).
    pub timestamp_nanos: u64,
    /// `canister_version` after the change.
    pub canister_version: u64,
    /// A user or a canister.
    pub origin: mt::ChangeOrigin,
    /// What changed.
    pub details: mt::ChangeDetails,
}

/// `canister_info`: `canister_info_result`.
#[derive(CandidType, Deserialize, Debug, Clone)]
pub struct CanisterInfoReply {
    /// Changes ever recorded.
    pub total_num_changes: u64,
    /// The most recent ones, oldest first.
    pub recent_changes: Vec<ChangeReply>,
    /// sha256 of the installed module.
    pub module_hash: Option<Vec<u8>>,
    /// Controllers.
    pub controllers: Vec<Principal>,
}
