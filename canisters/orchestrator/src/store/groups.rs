//! Groups (key: the group's name) and group snapshots (key: the id of the operation that took
//! them). A module leaving the registry leaves every group ([`forget_module`]).

use std::cell::RefCell;

use ic_stable_structures::StableBTreeMap;
use orchestrator_api::GroupSnapshotInfo;

use super::{Candid, GroupRecord, Memory};

thread_local! {
    static GROUPS: RefCell<StableBTreeMap<String, Candid<GroupRecord>, Memory>> =
        super::open(super::GROUPS);
    static GROUP_SNAPSHOTS: RefCell<StableBTreeMap<u64, Candid<GroupSnapshotInfo>, Memory>> =
        super::open(super::GROUP_SNAPSHOTS);
}

/// The group called `name`.
pub fn get(name: &str) -> Option<GroupRecord> {
    GROUPS.with(|m| m.borrow().get(&name.to_string()).map(|r| r.0))
}

/// Every group, by name.
pub fn list() -> Vec<(String, GroupRecord)> {
    GROUPS.with(|m| super::entries(&m.borrow()))
}

/// Stores group `name`.
pub fn put(name: &str, record: GroupRecord) {
    GROUPS.with(|m| m.borrow_mut().insert(name.to_string(), Candid(record)));
}

/// Removes group `name`; false when there is none. (Its schedule is the caller's to remove.)
pub fn remove(name: &str) -> bool {
    GROUPS.with(|m| m.borrow_mut().remove(&name.to_string()).is_some())
}

/// Removes `module` from every group; returns the groups it left empty, which are removed too.
pub(super) fn forget_module(module: &str) -> Vec<String> {
    GROUPS.with(|m| {
        let mut m = m.borrow_mut();
        let groups: Vec<_> = m.iter().map(|e| e.into_pair()).collect();
        let mut emptied = Vec::new();
        for (name, mut record) in groups {
            if !record.0.modules.iter().any(|member| member == module) {
                continue;
            }
            record.0.modules.retain(|member| member != module);
            if record.0.modules.is_empty() {
                m.remove(&name);
                emptied.push(name);
            } else {
                m.insert(name, record);
            }
        }
        emptied
    })
}

/// Group snapshot `id`.
pub fn snapshot(id: u64) -> Option<GroupSnapshotInfo> {
    GROUP_SNAPSHOTS.with(|m| m.borrow().get(&id).map(|r| r.0))
}

/// Every group snapshot `keep` accepts, oldest first.
pub fn snapshots_where(keep: impl Fn(&GroupSnapshotInfo) -> bool) -> Vec<GroupSnapshotInfo> {
    GROUP_SNAPSHOTS.with(|m| {
        m.borrow()
            .iter()
            .map(|e| e.value().0)
            .filter(|g| keep(g))
            .collect()
    })
}

/// Whether any group snapshot satisfies `test`.
pub fn any_snapshot(test: impl Fn(&GroupSnapshotInfo) -> bool) -> bool {
    GROUP_SNAPSHOTS.with(|m| m.borrow().iter().any(|e| test(&e.value().0)))
}

/// Stores a group snapshot.
pub fn put_snapshot(snapshot: GroupSnapshotInfo) {
    GROUP_SNAPSHOTS.with(|m| m.borrow_mut().insert(snapshot.id, Candid(snapshot)));
}

/// Forgets group snapshot `id`.
pub fn remove_snapshot(id: u64) {
    GROUP_SNAPSHOTS.with(|m| m.borrow_mut().remove(&id));
}

/// Forgets the group snapshots `forget` accepts.
pub fn remove_snapshots_where(forget: impl Fn(&GroupSnapshotInfo) -> bool) {
    GROUP_SNAPSHOTS.with(|m| {
        let mut m = m.borrow_mut();
        let stale: Vec<u64> = m
            .iter()
            .filter(|e| forget(&e.value().0))
            .map(|e| *e.key())
            .collect();
        for id in stale {
            m.remove(&id);
        }
    });
}
