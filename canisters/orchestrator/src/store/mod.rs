//! The store: every stable collection, each owned by one repository that keeps its maps
//! private and its invariants inside. Nothing outside `store/` touches a stable map.
//!
//! There is no `pre_upgrade` hook and no heap copy of any collection: each collection is its
//! own `StableBTreeMap` in a virtual memory of one `MemoryManager`, so an upgrade of the
//! orchestrator keeps everything without serialising anything. Records are candid-encoded
//! (`Candid<T>`) so that new fields can be added as `opt`. Every `MemoryId` is declared here,
//! once; the layout is the one `state.rs` had (tests/tests/orchestrator_upgrade_compat.rs
//! upgrades from that version's wasm).
//!
//! Repositories (import direction: flows → store; repositories use only `mod.rs`, `records`
//! and, for the cascades written here, each other):
//! `admins`, `modules`, `snapshot_meta` (records, pins and kept-for-upgrade marks),
//! `schedules` (modules' and groups'), `groups` (groups and group snapshots), `locks`,
//! `operations` (the history), `staging` (staged wasms and their chunks).

pub mod admins;
pub mod groups;
pub mod locks;
pub mod modules;
pub mod operations;
mod records;
pub mod schedules;
pub mod snapshot_meta;
pub mod staging;

use std::borrow::Cow;
use std::cell::RefCell;

use candid::{CandidType, Decode, Encode};
use ic_stable_structures::memory_manager::{MemoryId, MemoryManager, VirtualMemory};
use ic_stable_structures::storable::Bound;
use ic_stable_structures::{DefaultMemoryImpl, StableBTreeMap, Storable};
use serde::de::DeserializeOwned;

pub use records::{
    GroupRecord, LockRecord, ModuleRecord, ScheduleRecord, SnapshotRecord, StagedWasm,
};

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

thread_local! {
    static MEMORY_MANAGER: MemoryManager<DefaultMemoryImpl> =
        MemoryManager::init(DefaultMemoryImpl::default());
}

/// A stable map in the virtual memory `id` (each repository opens its own, once).
fn open<K: Storable + Ord + Clone, V: Storable>(
    id: MemoryId,
) -> RefCell<StableBTreeMap<K, V, Memory>> {
    RefCell::new(StableBTreeMap::init(MEMORY_MANAGER.with(|mm| mm.get(id))))
}

/// A value stored candid-encoded (unbounded).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Candid<T>(T);

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

/// Reads the candid record stored under `key`, lets `f` change it and writes it back; does
/// nothing and returns false when there is none.
fn update_record<K, T>(
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

/// Every entry of a map of candid records, in key order, decoded.
fn entries<K, T>(map: &StableBTreeMap<K, Candid<T>, Memory>) -> Vec<(K, T)>
where
    K: Storable + Ord + Clone,
    T: CandidType + DeserializeOwned,
{
    map.iter()
        .map(|e| e.into_pair())
        .map(|(key, record)| (key, record.0))
        .collect()
}

/// Forgets a module that leaves the registry, with everything stored about it: its record,
/// its snapshots' records, pins and kept marks, its schedule, and its place in every group (a
/// group left empty goes, with its schedule). The one place a module's removal cascades.
/// The snapshots themselves stay on the IC (they belong to the canister).
pub fn remove_module(name: &str) {
    modules::remove(name);
    snapshot_meta::forget_module(name);
    schedules::MODULES.remove(name);
    for emptied in groups::forget_module(name) {
        schedules::GROUPS.remove(&emptied);
    }
}

/// Removes group `name` and its schedule (it would have nothing to snapshot); false when
/// there is no such group. Its members, their snapshots and its group snapshots' records stay.
pub fn remove_group(name: &str) -> bool {
    let removed = groups::remove(name);
    if removed {
        schedules::GROUPS.remove(name);
    }
    removed
}
