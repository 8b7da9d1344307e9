//! The history: every operation's record (key: its id, counting up from 1).

use orchestrator_api::OperationRecord;

use super::collection;

collection!(static OPERATIONS: Records<u64, OperationRecord> = super::OPERATIONS);

/// Stores a new operation under the next id, which `record` (given that id) fills in.
pub fn insert_next(record: impl FnOnce(u64) -> OperationRecord) -> u64 {
    let id = OPERATIONS.with(|m| m.last_key_value().map_or(1, |(id, _)| id + 1));
    OPERATIONS.put(id, record(id));
    id
}

/// Operation `id`.
pub fn get(id: u64) -> Option<OperationRecord> {
    OPERATIONS.get(id)
}

/// Changes operation `id`; false when there is none.
pub fn update(id: u64, f: impl FnOnce(&mut OperationRecord)) -> bool {
    OPERATIONS.update(id, f)
}

/// The operations with ids below `before`, newest first, that `keep` accepts, until `take`
/// says stop (it sees each accepted record and returns false to stop).
pub fn scan_newest_first(
    before: u64,
    keep: impl Fn(&OperationRecord) -> bool,
    mut take: impl FnMut(OperationRecord) -> bool,
) {
    OPERATIONS.with(|m| {
        for entry in m.range(..before).rev() {
            let record = entry.value().0;
            if keep(&record) && !take(record) {
                break;
            }
        }
    });
}
