//! Who may call what: admins are the stored admin set plus the orchestrator's controllers;
//! the anonymous principal never is one. `is_controller` is passed in (it is a system call)
//! so this runs natively in tests.

use candid::Principal;
use orchestrator_api::AdminError;

use crate::store::admins;

/// Whether `caller` may call admin methods.
pub fn is_admin(caller: Principal, is_controller: bool) -> bool {
    caller != Principal::anonymous() && (is_controller || admins::contains(caller))
}

/// Stores the initial admins (anonymous entries are ignored: they could never authenticate).
pub fn init(admins: &[Principal]) {
    for admin in admins.iter().filter(|a| **a != Principal::anonymous()) {
        admins::add(*admin);
    }
}

/// Adds an admin (idempotent).
pub fn add_admin(admin: Principal) -> Result<(), AdminError> {
    if admin == Principal::anonymous() {
        return Err(AdminError::AnonymousAdmin);
    }
    admins::add(admin);
    Ok(())
}

/// Removes an admin, never the last one (controllers stay admins regardless).
pub fn remove_admin(admin: Principal) -> Result<(), AdminError> {
    admins::remove_unless_last(admin).map_err(|()| AdminError::LastAdmin { admin })
}

/// The stored admins (controllers are admins too but are not listed here).
pub fn admins() -> Vec<Principal> {
    admins::list()
}
