//! The module locks (key: module name), in stable memory so that an orchestrator upgrade
//! finds the operations it interrupted. `crate::lock` decides who may take a lock.

use std::cell::RefCell;

use ic_stable_structures::StableBTreeMap;

use super::{Candid, LockRecord, Memory, update_record};

thread_local! {
    static LOCKS: RefCell<StableBTreeMap<String, Candid<LockRecord>, Memory>> =
        super::open(super::LOCKS);
}

/// The lock held on `module`, if any.
pub fn get(module: &str) -> Option<LockRecord> {
    LOCKS.with(|m| m.borrow().get(&module.to_string()).map(|r| r.0))
}

/// Every lock held, by module.
pub fn list() -> Vec<(String, LockRecord)> {
    LOCKS.with(|m| super::entries(&m.borrow()))
}

/// Holds `module`'s lock as `record` (replacing a lapsed one).
pub fn put(module: &str, record: LockRecord) {
    LOCKS.with(|m| m.borrow_mut().insert(module.to_string(), Candid(record)));
}

/// Changes the lock held on `module`, if any.
pub fn update(module: &str, f: impl FnOnce(&mut LockRecord)) {
    LOCKS.with(|m| update_record(&mut m.borrow_mut(), &module.to_string(), f));
}

/// Releases `module`'s lock.
pub fn remove(module: &str) {
    LOCKS.with(|m| m.borrow_mut().remove(&module.to_string()));
}
