//! The registered modules (key: the module's name). Their kept-for-upgrade marks are written
//! through `snapshot_meta`, which owns what the orchestrator knows about snapshots.

use std::cell::RefCell;

use candid::Principal;
use ic_stable_structures::StableBTreeMap;

use super::{Candid, Memory, ModuleRecord, update_record};

thread_local! {
    static MODULES: RefCell<StableBTreeMap<String, Candid<ModuleRecord>, Memory>> =
        super::open(super::MODULES);
}

/// The module called `name`.
pub fn get(name: &str) -> Option<ModuleRecord> {
    MODULES.with(|m| m.borrow().get(&name.to_string()).map(|r| r.0))
}

/// Every module, by name.
pub fn list() -> Vec<(String, ModuleRecord)> {
    MODULES.with(|m| super::entries(&m.borrow()))
}

/// The name under which `canister_id` is registered, if it is.
pub fn name_of(canister_id: Principal) -> Option<String> {
    MODULES.with(|m| {
        m.borrow()
            .iter()
            .map(|e| e.into_pair())
            .find(|(_, r)| r.0.canister_id == canister_id)
            .map(|(name, _)| name)
    })
}

/// Stores module `name` (new, or with changed settings).
pub fn put(name: &str, record: ModuleRecord) {
    MODULES.with(|m| m.borrow_mut().insert(name.to_string(), Candid(record)));
}

/// Changes module `name`'s record; false when there is none.
pub(super) fn update(name: &str, f: impl FnOnce(&mut ModuleRecord)) -> bool {
    MODULES.with(|m| update_record(&mut m.borrow_mut(), &name.to_string(), f))
}

/// Forgets the record only: `super::remove_module` cascades.
pub(super) fn remove(name: &str) {
    MODULES.with(|m| m.borrow_mut().remove(&name.to_string()));
}
