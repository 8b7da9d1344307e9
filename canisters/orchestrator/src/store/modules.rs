//! The registered modules (key: the module's name). Their kept-for-upgrade marks are written
//! through `snapshot_meta`, which owns what the orchestrator knows about snapshots.

use candid::Principal;

use super::{ModuleRecord, collection};

collection!(static MODULES: Records<String, ModuleRecord> = super::MODULES);

/// The module called `name`.
pub fn get(name: &str) -> Option<ModuleRecord> {
    MODULES.get(name)
}

/// Every module, by name.
pub fn list() -> Vec<(String, ModuleRecord)> {
    MODULES.list()
}

/// The name under which `canister_id` is registered, if it is.
pub fn name_of(canister_id: Principal) -> Option<String> {
    MODULES
        .find(|r| r.canister_id == canister_id)
        .map(|(name, _)| name)
}

/// Stores module `name` (new, or with changed settings).
pub fn put(name: &str, record: ModuleRecord) {
    MODULES.put(name, record);
}

/// Changes module `name`'s record; false when there is none.
pub(super) fn update(name: &str, f: impl FnOnce(&mut ModuleRecord)) -> bool {
    MODULES.update(name, f)
}

/// Forgets the record only: `super::remove_module` cascades.
pub(super) fn remove(name: &str) {
    MODULES.remove(name);
}
