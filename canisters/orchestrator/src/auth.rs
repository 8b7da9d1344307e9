//! Who may call what: admins are the stored admin set plus the orchestrator's controllers;
//! the anonymous principal never is one. `is_controller` is passed in (it is a system call)
//! so this runs natively in tests.

use candid::Principal;
use orchestrator_api::AdminError;

use crate::state::{mutate_state, read_state};

/// Whether `caller` may call admin methods.
pub fn is_admin(caller: Principal, is_controller: bool) -> bool {
    caller != Principal::anonymous()
        && (is_controller || read_state(|s| s.admins.contains_key(&caller)))
}

/// Stores the initial admins (anonymous entries are ignored: they could never authenticate).
pub fn init(admins: &[Principal]) {
    mutate_state(|s| {
        for admin in admins.iter().filter(|a| **a != Principal::anonymous()) {
            s.admins.insert(*admin, ());
        }
    });
}

/// Adds an admin (idempotent).
pub fn add_admin(admin: Principal) -> Result<(), AdminError> {
    if admin == Principal::anonymous() {
        return Err(AdminError::AnonymousAdmin);
    }
    mutate_state(|s| s.admins.insert(admin, ()));
    Ok(())
}

/// Removes an admin, never the last one (controllers stay admins regardless).
pub fn remove_admin(admin: Principal) -> Result<(), AdminError> {
    mutate_state(|s| {
        if s.admins.contains_key(&admin) && s.admins.len() == 1 {
            return Err(AdminError::LastAdmin { admin });
        }
        s.admins.remove(&admin);
        Ok(())
    })
}

/// The stored admins (controllers are admins too but are not listed here).
pub fn admins() -> Vec<Principal> {
    read_state(|s| s.admins.keys().collect())
}
