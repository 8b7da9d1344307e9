//! The records and keys the repositories store, and their encodings: keys as fixed byte
//! layouts, records candid-encoded. Changing any of them changes the stable layout.

use std::borrow::Cow;

use candid::{CandidType, Principal};
use ic_stable_structures::Storable;
use ic_stable_structures::storable::Bound;
use orchestrator_api::{Cadence, ModuleKind, ModuleSettings, OperationKind, Retention, Trigger};
use serde::{Deserialize, Serialize};

/// Key of a snapshot record: the module's name and the IC's snapshot id. Stored as
/// `[name length] ‖ name ‖ id` (names are ≤ 64 bytes; ids are 8 + ≤ 29 bytes).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct SnapshotKey {
    pub module: String,
    pub id: Vec<u8>,
}

impl SnapshotKey {
    pub fn new(module: &str, id: &[u8]) -> Self {
        Self {
            module: module.to_string(),
            id: id.to_vec(),
        }
    }
}

impl Storable for SnapshotKey {
    fn to_bytes(&self) -> Cow<'_, [u8]> {
        let mut bytes = Vec::with_capacity(1 + self.module.len() + self.id.len());
        bytes.push(u8::try_from(self.module.len()).expect("module names are ≤ 64 bytes"));
        bytes.extend_from_slice(self.module.as_bytes());
        bytes.extend_from_slice(&self.id);
        Cow::Owned(bytes)
    }
    fn into_bytes(self) -> Vec<u8> {
        self.to_bytes().into_owned()
    }
    fn from_bytes(bytes: Cow<[u8]>) -> Self {
        let len = usize::from(bytes[0]);
        Self {
            module: String::from_utf8(bytes[1..1 + len].to_vec()).expect("stored names are UTF-8"),
            id: bytes[1 + len..].to_vec(),
        }
    }
    const BOUND: Bound = Bound::Bounded {
        max_size: 1 + 64 + 64,
        is_fixed_size: false,
    };
}

/// Key of one chunk of a staged wasm: its announced hash and the chunk's index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct ChunkKey {
    pub wasm_hash: Vec<u8>,
    pub index: u32,
}

impl Storable for ChunkKey {
    fn to_bytes(&self) -> Cow<'_, [u8]> {
        let mut bytes = self.index.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.wasm_hash);
        Cow::Owned(bytes)
    }
    fn into_bytes(self) -> Vec<u8> {
        self.to_bytes().into_owned()
    }
    fn from_bytes(bytes: Cow<[u8]>) -> Self {
        Self {
            index: u32::from_be_bytes(bytes[..4].try_into().expect("4 bytes")),
            wasm_hash: bytes[4..].to_vec(),
        }
    }
    const BOUND: Bound = Bound::Bounded {
        max_size: 4 + 32,
        is_fixed_size: false,
    };
}

/// A registered module (its name is the key).
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ModuleRecord {
    pub canister_id: Principal,
    pub kind: ModuleKind,
    pub settings: ModuleSettings,
    pub added_at: u64,
    pub added_by: Principal,
    /// Snapshots taken by the latest upgrade(s) that retention and scheduled snapshots keep
    /// until the next successful upgrade (opt: records written before schedules existed).
    pub kept_for_upgrade: Option<Vec<Vec<u8>>>,
}

impl ModuleRecord {
    /// Whether `id` is kept for the latest upgrade.
    pub fn keeps_for_upgrade(&self, id: &[u8]) -> bool {
        self.kept_for_upgrade
            .as_ref()
            .is_some_and(|kept| kept.iter().any(|k| k == id))
    }
}

/// A module's schedule (key: module name).
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ScheduleRecord {
    pub cadence: Cadence,
    pub retention: Retention,
    pub set_at: u64,
    pub next_run_at: u64,
    pub retry_at: Option<u64>,
    pub last_run_at: Option<u64>,
    pub last_operation_id: Option<u64>,
}

impl ScheduleRecord {
    /// When the scheduler must wake up for this module: a pending retry or the next run.
    pub fn due_at(&self) -> u64 {
        self.retry_at
            .map_or(self.next_run_at, |retry| retry.min(self.next_run_at))
    }
}

/// What the orchestrator knows of a snapshot beyond the IC's own list (key: module, id).
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct SnapshotRecord {
    pub taken_at: u64,
    pub total_size: u64,
    pub label: Option<String>,
    pub trigger: Trigger,
}

/// A wasm being staged or staged (key: its announced sha256). Its bytes are in `staged_chunks`
/// under (hash, index).
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct StagedWasm {
    pub size: u64,
    pub chunk_count: u32,
    pub committed: bool,
    pub updated_at: u64,
}

/// The lock held on a module while an operation runs (key: module name). Kept in stable
/// memory so that an orchestrator upgrade can find and release locks it interrupted.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct LockRecord {
    pub operation: OperationKind,
    pub operation_id: Option<u64>,
    /// Set for an import's lease, held across messages while its client uploads: after this
    /// time the next operation on the module may take the lock (none: held until released).
    pub expires_at: Option<u64>,
    /// The snapshot an import's upload replaces (pins are checked against it).
    pub import_replace: Option<Vec<u8>>,
}

/// A group of modules (key: the group's name).
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct GroupRecord {
    pub modules: Vec<String>,
    pub added_at: u64,
    pub added_by: Principal,
}
