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
use std::thread::LocalKey;

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

/// A stable map of candid records.
type RecordMap<K, T> = StableBTreeMap<K, Candid<T>, Memory>;

/// One collection of candid records (key `K`, record `T`) in a stable map of its own: the
/// reads and writes every collection needs, written once. A repository declares its
/// collections with [`collection!`] and keeps the collection's invariants (cascades, what may
/// change) in its own functions.
pub struct Records<K, T>(&'static LocalKey<RefCell<RecordMap<K, T>>>)
where
    K: Storable + Ord + Clone + 'static,
    T: CandidType + DeserializeOwned + 'static;

/// `static NAME: Records<K, T> = MEMORY_ID;`: a collection in its own stable map, opened in
/// virtual memory `MEMORY_ID` on first use.
macro_rules! collection {
    ($(#[$doc:meta])* $vis:vis static $name:ident: Records<$k:ty, $t:ty> = $id:expr $(;)?) => {
        $(#[$doc])*
        $vis static $name: $crate::store::Records<$k, $t> = {
            ::std::thread_local! {
                static MAP: ::std::cell::RefCell<$crate::store::RecordMap<$k, $t>> =
                    $crate::store::open($id);
            }
            $crate::store::Records(&MAP)
        };
    };
}
use collection;

impl<K, T> Records<K, T>
where
    K: Storable + Ord + Clone + 'static,
    T: CandidType + DeserializeOwned + 'static,
{
    /// The record under `key`.
    pub fn get(&self, key: impl Into<K>) -> Option<T> {
        self.0.with(|m| m.borrow().get(&key.into()).map(|r| r.0))
    }

    /// Stores `record` under `key` (new, or replacing).
    pub fn put(&self, key: impl Into<K>, record: T) {
        self.0
            .with(|m| m.borrow_mut().insert(key.into(), Candid(record)));
    }

    /// Removes the record under `key`, returning it.
    pub fn remove(&self, key: impl Into<K>) -> Option<T> {
        self.0
            .with(|m| m.borrow_mut().remove(&key.into()))
            .map(|r| r.0)
    }

    /// Reads the record under `key`, lets `f` change it and writes it back; does nothing and
    /// returns false when there is none.
    pub fn update(&self, key: impl Into<K>, f: impl FnOnce(&mut T)) -> bool {
        let key = key.into();
        self.0.with(|m| {
            let mut m = m.borrow_mut();
            let Some(mut record) = m.get(&key) else {
                return false;
            };
            f(&mut record.0);
            m.insert(key, record);
            true
        })
    }

    /// Every entry, in key order.
    pub fn list(&self) -> Vec<(K, T)> {
        self.0.with(|m| {
            m.borrow()
                .iter()
                .map(|e| e.into_pair())
                .map(|(key, record)| (key, record.0))
                .collect()
        })
    }

    /// The first entry, in key order, that `test` accepts.
    pub fn find(&self, test: impl Fn(&T) -> bool) -> Option<(K, T)> {
        self.0.with(|m| {
            m.borrow()
                .iter()
                .map(|e| e.into_pair())
                .find(|(_, record)| test(&record.0))
                .map(|(key, record)| (key, record.0))
        })
    }

    /// The records `keep` accepts, in key order.
    pub fn values_where(&self, keep: impl Fn(&T) -> bool) -> Vec<T> {
        self.0.with(|m| {
            m.borrow()
                .iter()
                .map(|e| e.value().0)
                .filter(|record| keep(record))
                .collect()
        })
    }

    /// Whether any record satisfies `test`.
    pub fn any(&self, test: impl Fn(&T) -> bool) -> bool {
        self.0
            .with(|m| m.borrow().iter().any(|e| test(&e.value().0)))
    }

    /// Removes the records `forget` accepts.
    pub fn remove_where(&self, forget: impl Fn(&T) -> bool) {
        self.0.with(|m| {
            let mut m = m.borrow_mut();
            let stale: Vec<K> = m
                .iter()
                .filter(|e| forget(&e.value().0))
                .map(|e| e.key().clone())
                .collect();
            for key in &stale {
                m.remove(key);
            }
        });
    }

    /// The map itself, for a repository's own reads (ranges, the last key).
    fn with<R>(&self, f: impl FnOnce(&RecordMap<K, T>) -> R) -> R {
        self.0.with(|m| f(&m.borrow()))
    }
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
    let removed = groups::GROUPS.remove(name).is_some();
    if removed {
        schedules::GROUPS.remove(name);
    }
    removed
}
