//! All of the orchestrator's state, in stable memory: every `MemoryId` is declared here, once.
//!
//! There is no `pre_upgrade` hook and no heap copy of any collection: each collection is its
//! own `StableBTreeMap`, so an upgrade of the orchestrator keeps everything without
//! serialising anything. Records are candid-encoded so that new fields can be added as `opt`.

use std::borrow::Cow;
use std::cell::RefCell;

use candid::{CandidType, Decode, Encode, Principal};
use ic_stable_structures::memory_manager::{MemoryId, MemoryManager, VirtualMemory};
use ic_stable_structures::storable::Bound;
use ic_stable_structures::{DefaultMemoryImpl, StableBTreeMap, Storable};
use orchestrator_api::{
    Cadence, GroupSnapshotInfo, ModuleKind, ModuleSettings, OperationKind, OperationRecord,
    Retention, Trigger,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

// Memory ids: never reuse a retired one (keep it here, commented out).
const ADMINS: MemoryId = MemoryId::new(0);
const MODULES: MemoryId = MemoryId::new(1);
const SNAPSHOTS: MemoryId = MemoryId::new(2);
const OPERATIONS: MemoryId = MemoryId::new(3);
const STAGED_WASMS: MemoryId = MemoryId::new(4);
const STAGED_CHUNKS: MemoryId = MemoryId::new(5);
const LOCKS: MemoryId = MemoryId::new(6);
const SCHEDULES: MemoryId = MemoryId::new(7);
const PINS: MemoryId = MemoryId::new(8);
// 9–19 left free for collections other branches add meanwhile.
const GROUPS: MemoryId = MemoryId::new(20);
const GROUP_SNAPSHOTS: MemoryId = MemoryId::new(21);
const GROUP_SCHEDULES: MemoryId = MemoryId::new(22);

type Memory = VirtualMemory<DefaultMemoryImpl>;

/// A value stored candid-encoded (unbounded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candid<T>(pub T);

impl<T: CandidType + DeserializeOwned> Storable for Candid<T> {
    fn to_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Owned(Encode!(&self.0).expect("candid encoding of a stored record cannot fail"))
    }
    fn into_bytes(self) -> Vec<u8> {
        Encode!(&self.0).expect("candid encoding of a stored record cannot fail")
    }
    fn from_bytes(bytes: Cow<[u8]>) -> Self {
        Self(Decode!(bytes.as_ref(), T).expect("a stored record no longer decodes: bug"))
    }
    const BOUND: Bound = Bound::Unbounded;
}

/// Key of a snapshot record: the module's name and the IC's snapshot id. Stored as
/// `[name length] ‖ name ‖ id` (names are ≤ 64 bytes; ids are 8 + ≤ 29 bytes).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SnapshotKey {
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
pub struct ChunkKey {
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

/// A group of modules (key: the group's name). Written only by `groups.rs`.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct GroupRecord {
    pub modules: Vec<String>,
    pub added_at: u64,
    pub added_by: Principal,
}

/// Every stable collection.
pub struct State {
    pub admins: StableBTreeMap<Principal, (), Memory>,
    pub modules: StableBTreeMap<String, Candid<ModuleRecord>, Memory>,
    pub snapshots: StableBTreeMap<SnapshotKey, Candid<SnapshotRecord>, Memory>,
    pub operations: StableBTreeMap<u64, Candid<OperationRecord>, Memory>,
    pub staged_wasms: StableBTreeMap<Vec<u8>, Candid<StagedWasm>, Memory>,
    pub staged_chunks: StableBTreeMap<ChunkKey, Vec<u8>, Memory>,
    pub locks: StableBTreeMap<String, Candid<LockRecord>, Memory>,
    pub schedules: ScheduleMap,
    /// Pinned snapshots (of the orchestrator's or taken elsewhere).
    pub pins: StableBTreeMap<SnapshotKey, (), Memory>,
    /// Groups (applications); only `groups.rs` writes them.
    pub groups: StableBTreeMap<String, Candid<GroupRecord>, Memory>,
    /// Group snapshots by id (the id of the operation that took them); only `groups.rs`
    /// writes them.
    pub group_snapshots: StableBTreeMap<u64, Candid<GroupSnapshotInfo>, Memory>,
    /// Group schedules (key: the group's name); only `group_schedules.rs` writes them.
    pub group_schedules: ScheduleMap,
}

/// Schedules by target name: modules' (`schedules`) and groups' (`group_schedules`) have the
/// same shape, so the scheduler's bookkeeping (`schedules::claim_due_in`, `earliest_due`)
/// serves both.
pub type ScheduleMap = StableBTreeMap<String, Candid<ScheduleRecord>, Memory>;

thread_local! {
    static STATE: RefCell<State> = RefCell::new({
        let mm = MemoryManager::init(DefaultMemoryImpl::default());
        State {
            admins: StableBTreeMap::init(mm.get(ADMINS)),
            modules: StableBTreeMap::init(mm.get(MODULES)),
            snapshots: StableBTreeMap::init(mm.get(SNAPSHOTS)),
            operations: StableBTreeMap::init(mm.get(OPERATIONS)),
            staged_wasms: StableBTreeMap::init(mm.get(STAGED_WASMS)),
            staged_chunks: StableBTreeMap::init(mm.get(STAGED_CHUNKS)),
            locks: StableBTreeMap::init(mm.get(LOCKS)),
            schedules: StableBTreeMap::init(mm.get(SCHEDULES)),
            pins: StableBTreeMap::init(mm.get(PINS)),
            groups: StableBTreeMap::init(mm.get(GROUPS)),
            group_snapshots: StableBTreeMap::init(mm.get(GROUP_SNAPSHOTS)),
            group_schedules: StableBTreeMap::init(mm.get(GROUP_SCHEDULES)),
        }
    });
}

/// Reads the candid record stored under `key`, lets `f` change it and writes it back; does
/// nothing and returns false when there is none.
pub fn update_record<K, T>(
    map: &mut StableBTreeMap<K, Candid<T>, Memory>,
    key: &K,
    f: impl FnOnce(&mut T),
) -> bool
where
    K: Storable + Ord + Clone,
    T: CandidType + DeserializeOwned,
{
    let Some(mut record) = map.get(key) else {
        return false;
    };
    f(&mut record.0);
    map.insert(key.clone(), record);
    true
}

/// Reads the state.
pub fn read_state<R>(f: impl FnOnce(&State) -> R) -> R {
    STATE.with(|s| f(&s.borrow()))
}

/// Changes the state. Never hold the borrow across an `await` (it cannot be: `f` is sync).
pub fn mutate_state<R>(f: impl FnOnce(&mut State) -> R) -> R {
    STATE.with(|s| f(&mut s.borrow_mut()))
}

impl State {
    /// The records of one module's snapshots, oldest key first.
    pub fn module_snapshots(&self, module: &str) -> Vec<(Vec<u8>, SnapshotRecord)> {
        self.snapshots
            .range(SnapshotKey::new(module, &[])..)
            .map(|entry| entry.into_pair())
            .take_while(|(key, _)| key.module == module)
            .map(|(key, record)| (key.id, record.0))
            .collect()
    }

    /// The ids of one module's pinned snapshots.
    pub fn module_pins(&self, module: &str) -> Vec<Vec<u8>> {
        self.pins
            .range(SnapshotKey::new(module, &[])..)
            .map(|entry| entry.into_pair().0)
            .take_while(|key| key.module == module)
            .map(|key| key.id)
            .collect()
    }

    /// Whether a snapshot is pinned.
    pub fn is_pinned(&self, module: &str, id: &[u8]) -> bool {
        self.pins.contains_key(&SnapshotKey::new(module, id))
    }
}
