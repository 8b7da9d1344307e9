//! Importing a snapshot into a registered module: the client uploads the snapshot itself (to
//! the management canister, as a controller of the module) while the orchestrator holds the
//! module's lock as a lease, so that no other operation runs in between, pins are respected
//! and the import is in the history.

use candid::{CandidType, Principal};
use serde::{Deserialize, Serialize};

use crate::{SnapshotId, SnapshotInfo, StepRecord};

/// How long an import lease lasts without a call from its client: 30 minutes. Each
/// `renew_import` extends it by as much.
pub const IMPORT_LEASE_NANOS: u64 = 30 * 60 * 1_000_000_000;

/// Argument of `begin_import`.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct BeginImportArgs {
    /// The snapshot the upload will replace (`replace_snapshot` of the metadata upload). It
    /// must be one of the module's snapshots and not pinned. Without it, the module must have
    /// a free slot (under `max_snapshots` and the IC's 10).
    pub replace: Option<SnapshotId>,
    /// Whether the client means to load the snapshot (`finish_import` decides).
    pub restore: bool,
    /// A snapshot an earlier, interrupted run of the same import uploaded (in whole or in
    /// part) and this one continues: it must exist on the module, and no new slot is needed.
    pub resume: Option<SnapshotId>,
}

/// What `begin_import` (and `renew_import`) grant: the module's lock until `expires_at`.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ImportLease {
    /// The history entry of the import; `finish_import` and `abort_import` name it.
    pub operation_id: u64,
    /// The module.
    pub module: String,
    /// Its canister, where the client uploads.
    pub canister_id: Principal,
    /// When the lease lapses unless renewed (nanoseconds since the epoch). After that, the
    /// next operation on the module takes the lock and closes the import as abandoned.
    pub expires_at: u64,
}

/// Argument of `finish_import`.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct FinishImportArgs {
    /// The snapshot the client uploaded.
    pub snapshot_id: SnapshotId,
    /// Load it: status → stop if running → load → start again if the orchestrator stopped it.
    pub restore: bool,
}

/// What `finish_import` returns.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ImportReport {
    /// The history entry.
    pub operation_id: u64,
    /// The imported snapshot, now recorded as the orchestrator's own (trigger `import`).
    pub snapshot: SnapshotInfo,
    /// Every step of the import, the client's upload included.
    pub steps: Vec<StepRecord>,
    /// Whether the snapshot was loaded.
    pub restored: bool,
}
