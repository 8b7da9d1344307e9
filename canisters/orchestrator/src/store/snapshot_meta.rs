//! What the orchestrator knows of a module's snapshots beyond the IC's own list: its records
//! (label, trigger; key: module, id), its pins, and the marks of the snapshots kept for the
//! module's latest upgrade (stored in the module's record). The IC's list is the truth:
//! [`reconcile`] drops what refers to snapshots it no longer holds.

use std::cell::RefCell;

use ic_stable_structures::StableBTreeMap;

use super::records::SnapshotKey;
use super::{Memory, SnapshotRecord, collection, modules};

collection!(static RECORDS: Records<SnapshotKey, SnapshotRecord> = super::SNAPSHOTS);

thread_local! {
    /// Pinned snapshots (of the orchestrator's or taken elsewhere).
    static PINS: RefCell<StableBTreeMap<SnapshotKey, (), Memory>> = super::open(super::PINS);
}

/// The ids under `module` in `map`, in key order.
fn ids_in<V: ic_stable_structures::Storable>(
    map: &StableBTreeMap<SnapshotKey, V, Memory>,
    module: &str,
) -> Vec<Vec<u8>> {
    map.range(SnapshotKey::new(module, &[])..)
        .map(|entry| entry.into_pair().0)
        .take_while(|key| key.module == module)
        .map(|key| key.id)
        .collect()
}

/// The orchestrator's record of a snapshot (none: taken elsewhere, or unknown).
pub fn record(module: &str, id: &[u8]) -> Option<SnapshotRecord> {
    RECORDS.get(SnapshotKey::new(module, id))
}

/// The ids of the snapshots of `module` the orchestrator recorded, in key order.
pub fn recorded_ids(module: &str) -> Vec<Vec<u8>> {
    RECORDS.with(|m| ids_in(m, module))
}

/// The ids of `module`'s pinned snapshots.
pub fn pinned_ids(module: &str) -> Vec<Vec<u8>> {
    PINS.with(|m| ids_in(&m.borrow(), module))
}

/// Whether a snapshot is pinned.
pub fn is_pinned(module: &str, id: &[u8]) -> bool {
    PINS.with(|m| m.borrow().contains_key(&SnapshotKey::new(module, id)))
}

/// Whether `id` is kept for `module`'s latest upgrade.
pub fn is_kept_for_upgrade(module: &str, id: &[u8]) -> bool {
    modules::get(module).is_some_and(|m| m.keeps_for_upgrade(id))
}

/// Records a snapshot the orchestrator took (pinned if asked), dropping the record and pin
/// of the one it replaced.
pub fn record_taken(
    module: &str,
    id: &[u8],
    record: SnapshotRecord,
    replaced: Option<&[u8]>,
    pin: bool,
) {
    if let Some(replaced) = replaced {
        forget(module, replaced);
    }
    RECORDS.put(SnapshotKey::new(module, id), record);
    if pin {
        set_pinned(module, id, true);
    }
}

/// Forgets the record and pin of a snapshot that is gone (replaced, or deleted by a group
/// flow undoing its take).
pub fn forget(module: &str, id: &[u8]) {
    RECORDS.remove(SnapshotKey::new(module, id));
    PINS.with(|m| m.borrow_mut().remove(&SnapshotKey::new(module, id)));
}

/// Forgets what is known of a snapshot the orchestrator deleted (it was not pinned: pins
/// refuse deletion): its record and its kept-for-upgrade mark. Returns the record.
pub fn forget_deleted(module: &str, id: &[u8]) -> Option<SnapshotRecord> {
    let record = RECORDS.remove(SnapshotKey::new(module, id));
    update_kept_for_upgrade(module, |kept| kept.retain(|k| k != id));
    record
}

/// Pins or unpins one snapshot.
pub fn set_pinned(module: &str, id: &[u8], pin: bool) {
    PINS.with(|m| {
        let key = SnapshotKey::new(module, id);
        if pin {
            m.borrow_mut().insert(key, ());
        } else {
            m.borrow_mut().remove(&key);
        }
    });
}

/// Marks `id` as kept for `module`'s latest upgrade: a successful upgrade (`upgraded`) hands
/// the protection over to its own snapshot (or to none), a failed one adds its snapshot to
/// the ones already kept.
pub fn mark_kept_for_upgrade(module: &str, id: Option<&[u8]>, upgraded: bool) {
    update_kept_for_upgrade(module, |kept| {
        if upgraded {
            kept.clear();
        }
        if let Some(id) = id
            && !kept.iter().any(|k| k == id)
        {
            kept.push(id.to_vec());
        }
    });
}

fn update_kept_for_upgrade(module: &str, f: impl FnOnce(&mut Vec<Vec<u8>>)) {
    modules::update(module, |record| {
        f(record.kept_for_upgrade.get_or_insert_default())
    });
}

/// What was known of a module's snapshots before a call to the IC's list: only those can be
/// stale after it (a record written meanwhile belongs to a snapshot taken after the call).
pub struct KnownBefore {
    recorded: Vec<Vec<u8>>,
    pinned: Vec<Vec<u8>>,
}

/// What is known of `module`'s snapshots now, to [`reconcile`] with the IC's list once it
/// answers.
pub fn known_before(module: &str) -> KnownBefore {
    KnownBefore {
        recorded: recorded_ids(module),
        pinned: pinned_ids(module),
    }
}

/// The reconcile step: drops the records, pins and kept marks of `module`'s snapshots that
/// were known before the IC's list was asked for and are not in it (`held`) — deleted
/// elsewhere.
pub fn reconcile(module: &str, before: KnownBefore, held: &[Vec<u8>]) {
    let gone = |id: &Vec<u8>| !held.contains(id);
    for id in before.recorded.iter().filter(|id| gone(id)) {
        RECORDS.remove(SnapshotKey::new(module, id));
    }
    PINS.with(|m| {
        let mut m = m.borrow_mut();
        for id in before.pinned.iter().filter(|id| gone(id)) {
            m.remove(&SnapshotKey::new(module, id));
        }
    });
    update_kept_for_upgrade(module, |kept| kept.retain(|k| held.contains(k)));
}

/// Forgets every record and pin of `module` (it leaves the registry: `super::remove_module`).
pub(super) fn forget_module(module: &str) {
    for id in recorded_ids(module) {
        RECORDS.remove(SnapshotKey::new(module, &id));
    }
    for id in pinned_ids(module) {
        PINS.with(|m| m.borrow_mut().remove(&SnapshotKey::new(module, &id)));
    }
}
