//! The orchestrator's public interface: every candid type its endpoints take and return, and
//! one error enum per group of operations.
//!
//! Shared by the canister, the `keepsake` CLI and the tests. It deliberately depends on candid,
//! serde and thiserror only — never on ic-cdk — so that off-chain code can use it (CI checks
//! `cargo tree -p orchestrator-api -i ic-cdk` finds nothing).

#![warn(missing_docs)]

#[cfg(feature = "client")]
pub mod client;
mod errors;
mod groups;
mod history;
mod imports;
mod modules;
mod schedules;
mod snapshots;
mod upgrade;

pub use errors::*;
pub use groups::*;
pub use history::*;
pub use imports::*;
pub use modules::*;
pub use schedules::*;
pub use snapshots::*;
pub use upgrade::*;

/// Argument of the orchestrator's `init`. Upgrades of the orchestrator take no argument.
#[derive(
    candid::CandidType, serde::Deserialize, serde::Serialize, Clone, Debug, PartialEq, Eq, Default,
)]
pub struct InitArg {
    /// Principals allowed to call every update method, besides the orchestrator's controllers.
    pub admins: Vec<candid::Principal>,
}

/// Most snapshots the IC keeps per canister (`MAX_NUMBER_OF_SNAPSHOTS_PER_CANISTER`).
pub const IC_MAX_SNAPSHOTS_PER_CANISTER: u8 = 10;

/// Largest wasm module the IC installs (and so the largest the orchestrator stages): 100 MiB.
pub const MAX_WASM_SIZE: u64 = 100 * 1024 * 1024;
