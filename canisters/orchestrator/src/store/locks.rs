//! The module locks (key: module name), in stable memory so that an orchestrator upgrade
//! finds the operations it interrupted. `crate::lock` decides who may take a lock.

use super::{LockRecord, collection};

collection!(static LOCKS: Records<String, LockRecord> = super::LOCKS);

/// The lock held on `module`, if any.
pub fn get(module: &str) -> Option<LockRecord> {
    LOCKS.get(module)
}

/// Every lock held, by module.
pub fn list() -> Vec<(String, LockRecord)> {
    LOCKS.list()
}

/// Holds `module`'s lock as `record` (replacing a lapsed one).
pub fn put(module: &str, record: LockRecord) {
    LOCKS.put(module, record);
}

/// Changes the lock held on `module`, if any.
pub fn update(module: &str, f: impl FnOnce(&mut LockRecord)) {
    LOCKS.update(module, f);
}

/// Releases `module`'s lock.
pub fn remove(module: &str) {
    LOCKS.remove(module);
}
