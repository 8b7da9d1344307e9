//! Cycles: the IC's fee schedule for a 13-node application subnet and where localnet charges
//! it — execution (a base fee per message plus a fee per instruction), ingress reception (per
//! message and per byte, paid by the target canister), storage per GiB-second (canister memory
//! including its snapshots, charged as the clock moves), the snapshot operations — and the
//! freezing threshold that keeps a reserve for storage.
//!
//! Sources: IC-FACTS §2 (snapshot costs, storage ≈ 329 B cycles per GiB-month) and the fee
//! constants of dfinity/ic `rs/config/src/subnet_config.rs` (13-node application subnet):
//! update_message_execution_fee 5 M, ten_update_instructions_execution_fee 4 (0.4 per
//! instruction), ingress_message_reception_fee 1.2 M, ingress_byte_reception_fee 2 K,
//! gib_storage_per_second_fee 127 K. Non-replicated queries are free, as on the IC.
//!
//! Simplifications (localnet/README.md): the execution fee is charged after the message ran
//! (the IC prepays the maximum and refunds the rest; the total is the same), and a message is
//! refused up front only when the canister is already frozen.

use crate::canister::Canister;
use crate::types::{ErrorCode, RejectResponse};
use candid::Principal;

/// Cycles a canister gets when none are given (`provisional_create_canister_with_cycles`
/// without an amount, the pocket-ic-shaped helpers).
pub const DEFAULT_CYCLES: u128 = 100_000_000_000_000;
/// Base fee of every replicated execution (update, callback, timer, heartbeat, install step).
pub const UPDATE_MESSAGE_EXECUTION_FEE: u128 = 5_000_000;
/// Fee per ten instructions executed (0.4 cycles per instruction).
pub const TEN_UPDATE_INSTRUCTIONS_EXECUTION_FEE: u128 = 4;
/// Fee per ingress message, paid by the canister it is for.
pub const INGRESS_MESSAGE_RECEPTION_FEE: u128 = 1_200_000;
/// Fee per byte of an ingress message (method name + argument), paid by the canister.
pub const INGRESS_BYTE_RECEPTION_FEE: u128 = 2_000;
/// Storage fee per GiB per second (≈ 329 B cycles per GiB per 30-day month).
pub const GIB_STORAGE_PER_SECOND_FEE: u128 = 127_000;
/// Instructions charged for taking, loading or creating (metadata upload) a snapshot, on top of
/// one instruction per byte of the snapshot (IC-FACTS §2).
pub const SNAPSHOT_BASE_INSTRUCTIONS: u64 = 2_000_000_000;
/// Instructions charged for each snapshot data read, on top of one per byte read.
pub const SNAPSHOT_READ_BASE_INSTRUCTIONS: u64 = 5_000_000;

const GIB: u128 = 1 << 30;
const NANOS_PER_SECOND: u128 = 1_000_000_000;

/// Cycles for executing `instructions` in one replicated message.
pub fn execution_cost(instructions: u64) -> u128 {
    UPDATE_MESSAGE_EXECUTION_FEE
        + u128::from(instructions) * TEN_UPDATE_INSTRUCTIONS_EXECUTION_FEE / 10
}

/// Cycles a management operation of `instructions` costs (no per-message base fee: the
/// management canister's own message pays none, the operation's instructions are charged).
pub fn instructions_cost(instructions: u64) -> u128 {
    u128::from(instructions) * TEN_UPDATE_INSTRUCTIONS_EXECUTION_FEE / 10
}

/// Cycles for receiving an ingress message of `bytes` (method name + argument).
pub fn ingress_cost(bytes: usize) -> u128 {
    INGRESS_MESSAGE_RECEPTION_FEE + bytes as u128 * INGRESS_BYTE_RECEPTION_FEE
}

/// Cycles for keeping `bytes` for `nanos` nanoseconds.
pub fn storage_cost(bytes: u64, nanos: u64) -> u128 {
    u128::from(bytes) * GIB_STORAGE_PER_SECOND_FEE * u128::from(nanos) / (GIB * NANOS_PER_SECOND)
}

/// Memory the canister pays storage for: code, heap, stable memory, globals, chunk store and
/// snapshots — `canister_status.memory_size`.
pub fn charged_memory(c: &Canister) -> u64 {
    c.memory_size() + c.state.globals.len() as u64 * 8 + c.snapshots_size()
}

/// `canister_status.idle_cycles_burned_per_day`: storage of the current memory for a day.
pub fn idle_cycles_per_day(c: &Canister) -> u128 {
    storage_cost(charged_memory(c), 86_400 * 1_000_000_000)
}

/// The reserve below which the canister is frozen: what its memory costs over its freezing
/// threshold (seconds).
pub fn freezing_limit(c: &Canister) -> u128 {
    storage_cost(
        charged_memory(c),
        c.freezing_threshold.saturating_mul(1_000_000_000),
    )
}

/// The IC's refusal for a canister that cannot pay (`CanisterOutOfCycles`, IC0207). The code
/// is the replica's; the text follows its `CanisterOutOfCyclesError` as remembered (inference).
pub fn out_of_cycles(id: Principal, balance: u128, needed: u128) -> RejectResponse {
    RejectResponse::system(
        ErrorCode::CanisterOutOfCycles,
        format!(
            "Canister {id} is out of cycles: please top up the canister with at least {} additional cycles",
            needed.saturating_sub(balance)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gib_for_a_30_day_month_costs_about_329_billion_cycles() {
        let month = 30 * 86_400 * 1_000_000_000;
        assert_eq!(storage_cost(1 << 30, month), 329_184_000_000);
        assert_eq!(execution_cost(10), 5_000_004);
        assert_eq!(instructions_cost(SNAPSHOT_BASE_INSTRUCTIONS), 800_000_000);
    }
}
