//! The canister table: every canister on the subnet by id, and the counter new canister ids come
//! from (ids are never reused, as on the IC). Lookups that a caller answers with an error get
//! the IC's IC0301 from here; charges that can be refused apply the freezing rule of
//! [`crate::cycles`].

use crate::canister::Canister;
use crate::cycles;
use crate::types::{ErrorCode, RejectResponse, canister_id_from_index};
use candid::Principal;
use std::collections::BTreeMap;

/// IC0301: no canister `id` on this subnet.
pub fn not_found(id: Principal) -> RejectResponse {
    RejectResponse::system(
        ErrorCode::CanisterNotFound,
        format!("Canister {id} not found."),
    )
}

/// The subnet's canisters.
#[derive(Default)]
pub struct CanisterTable {
    canisters: BTreeMap<Principal, Canister>,
    next_index: u64,
}

impl CanisterTable {
    /// Allocates the next canister id.
    pub fn allocate_id(&mut self) -> Principal {
        let id = canister_id_from_index(self.next_index);
        self.next_index += 1;
        id
    }

    /// The index the next allocated id will have (saved with the subnet).
    pub fn next_index(&self) -> u64 {
        self.next_index
    }

    /// Continues allocating ids at `index` (a loaded subnet).
    pub fn set_next_index(&mut self, index: u64) {
        self.next_index = index;
    }

    /// Adds (or replaces) a canister.
    pub fn insert(&mut self, canister: Canister) {
        self.canisters.insert(canister.id, canister);
    }

    /// Deletes a canister; its snapshots go with it.
    pub fn remove(&mut self, id: &Principal) -> Option<Canister> {
        self.canisters.remove(id)
    }

    /// The canister `id`, if it exists.
    pub fn get(&self, id: &Principal) -> Option<&Canister> {
        self.canisters.get(id)
    }

    /// The canister `id` to change, if it exists.
    pub fn get_mut(&mut self, id: &Principal) -> Option<&mut Canister> {
        self.canisters.get_mut(id)
    }

    /// The canister `id`, or IC0301.
    pub fn find(&self, id: Principal) -> Result<&Canister, RejectResponse> {
        self.canisters.get(&id).ok_or_else(|| not_found(id))
    }

    /// The canister `id` to change, or IC0301.
    pub fn find_mut(&mut self, id: Principal) -> Result<&mut Canister, RejectResponse> {
        self.canisters.get_mut(&id).ok_or_else(|| not_found(id))
    }

    /// Whether canister `id` exists.
    pub fn contains_key(&self, id: &Principal) -> bool {
        self.canisters.contains_key(id)
    }

    /// Canister ids in order.
    pub fn keys(&self) -> impl Iterator<Item = &Principal> {
        self.canisters.keys()
    }

    /// Canisters in id order.
    pub fn values(&self) -> impl Iterator<Item = &Canister> {
        self.canisters.values()
    }

    /// Canisters in id order, to change.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Canister> {
        self.canisters.values_mut()
    }

    /// Charges `cost` to the canister if its balance stays at or above its freezing limit;
    /// otherwise nothing is charged and the IC's out-of-cycles error comes back.
    pub fn charge_or_refuse(&mut self, id: Principal, cost: u128) -> Result<(), RejectResponse> {
        let Some(c) = self.canisters.get_mut(&id) else {
            return Ok(());
        };
        let needed = cost + cycles::freezing_limit(c);
        if c.cycles < needed {
            return Err(cycles::out_of_cycles(id, c.cycles, needed));
        }
        c.cycles -= cost;
        Ok(())
    }

    /// Refuses a message to a frozen canister (balance under its freezing limit).
    pub fn check_not_frozen(&self, id: Principal) -> Result<(), RejectResponse> {
        match self.canisters.get(&id) {
            Some(c) if c.cycles < cycles::freezing_limit(c) => Err(cycles::out_of_cycles(
                id,
                c.cycles,
                cycles::freezing_limit(c),
            )),
            _ => Ok(()),
        }
    }

    /// Charges what a replicated execution cost; never below zero (the IC prepays, so a message
    /// that ran was paid for).
    pub fn charge_execution(&mut self, id: Principal, instructions: u64) {
        if let Some(c) = self.canisters.get_mut(&id) {
            c.cycles = c
                .cycles
                .saturating_sub(cycles::execution_cost(instructions));
        }
    }
}

impl std::ops::Index<&Principal> for CanisterTable {
    type Output = Canister;

    fn index(&self, id: &Principal) -> &Canister {
        &self.canisters[id]
    }
}
