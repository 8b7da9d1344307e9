//! The work behind the commands, independent of how it is presented: the orchestrator client,
//! snapshot export/import over a `SnapshotStore` (the IC, or a fake in tests), the on-disk
//! layout, the manifest, what an agent error means (by code), verification, resume journals, wasm staging, the wasm-file check and schedule syntax, and
//! off-chain backups into restic repositories.

pub mod agent_error;
pub mod backup;
pub mod export;
#[cfg(test)]
pub mod fake;
pub mod files;
pub mod import;
pub mod journal;
pub mod layout;
pub mod manifest;
pub mod orchestrator;
pub mod partial;
pub mod refusal;
pub mod reorder;
pub mod schedule;
pub mod store;
pub mod timings;
pub mod upgrade;
pub mod verify;
pub mod wasm_file;
