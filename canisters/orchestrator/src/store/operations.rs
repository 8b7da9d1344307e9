//! The history: every operation's record (key: its id, counting up from 1).

use std::cell::RefCell;

use ic_stable_structures::StableBTreeMap;
use orchestrator_api::OperationRecord;

use super::{Candid, Memory, update_record};

thread_local! {
    static OPERATIONS: RefCell<StableBTreeMap<u64, Candid<OperationRecord>, Memory>> =
        super::open(super::OPERATIONS);
}

/// Stores a new operation under the next id, which `record` (given that id) fills in.
pub fn insert_next(record: impl FnOnce(u64) -> OperationRecord) -> u64 {
    OPERATIONS.with(|m| {
        let mut m = m.borrow_mut();
        let id = m.last_key_value().map_or(1, |(id, _)| id + 1);
        m.insert(id, Candid(record(id)));
        id
    })
}

/// Operation `id`.
pub fn get(id: u64) -> Option<OperationRecord> {
    OPERATIONS.with(|m| m.borrow().get(&id).map(|r| r.0))
}

/// Changes operation `id`; false when there is none.
pub fn update(id: u64, f: impl FnOnce(&mut OperationRecord)) -> bool {
    OPERATIONS.with(|m| update_record(&mut m.borrow_mut(), &id, f))
}

/// The operations with ids below `before`, newest first, that `keep` accepts, until `take`
/// says stop (it sees each accepted record and returns false to stop).
pub fn scan_newest_first(
    before: u64,
    keep: impl Fn(&OperationRecord) -> bool,
    mut take: impl FnMut(OperationRecord) -> bool,
) {
    OPERATIONS.with(|m| {
        for entry in m.borrow().range(..before).rev() {
            let record = entry.value().0;
            if keep(&record) && !take(record) {
                break;
            }
        }
    });
}
