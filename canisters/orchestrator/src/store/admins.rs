//! The stored admins (the orchestrator's controllers are admins too, but not stored).

use std::cell::RefCell;

use candid::Principal;
use ic_stable_structures::StableBTreeMap;

use super::Memory;

thread_local! {
    static ADMINS: RefCell<StableBTreeMap<Principal, (), Memory>> = super::open(super::ADMINS);
}

/// Whether `principal` is a stored admin.
pub fn contains(principal: Principal) -> bool {
    ADMINS.with(|m| m.borrow().contains_key(&principal))
}

/// Adds an admin (idempotent).
pub fn add(principal: Principal) {
    ADMINS.with(|m| m.borrow_mut().insert(principal, ()));
}

/// Removes an admin unless it is the last one stored; `Err` when it is.
pub fn remove_unless_last(principal: Principal) -> Result<(), ()> {
    ADMINS.with(|m| {
        let mut m = m.borrow_mut();
        if m.contains_key(&principal) && m.len() == 1 {
            return Err(());
        }
        m.remove(&principal);
        Ok(())
    })
}

/// The stored admins, in principal order.
pub fn list() -> Vec<Principal> {
    ADMINS.with(|m| m.borrow().keys().collect())
}
