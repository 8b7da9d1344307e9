//! The audit history: one record per operation, visible while it runs.

use candid::{CandidType, Principal};
use serde::{Deserialize, Serialize};

use crate::{SnapshotId, Trigger};

/// What an operation does.
#[derive(CandidType, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperationKind {
    /// `take_snapshot`.
    #[serde(rename = "take_snapshot")]
    TakeSnapshot,
    /// `restore_snapshot`.
    #[serde(rename = "restore_snapshot")]
    RestoreSnapshot,
    /// `delete_snapshot`.
    #[serde(rename = "delete_snapshot")]
    DeleteSnapshot,
    /// `upgrade_module`.
    #[serde(rename = "upgrade")]
    Upgrade,
    /// `begin_import` … `finish_import`: a snapshot uploaded by a client, then maybe loaded.
    #[serde(rename = "import")]
    Import,
    /// `take_group_snapshot`: every member of a group (the record's `module` is the group).
    #[serde(rename = "group_snapshot")]
    GroupSnapshot,
    /// `restore_group_snapshot` (the record's `module` is the group).
    #[serde(rename = "group_restore")]
    GroupRestore,
    /// `upgrade_group`: a group snapshot, then the named members' installs (the record's
    /// `module` is the group).
    #[serde(rename = "group_upgrade")]
    GroupUpgrade,
}

impl std::fmt::Display for OperationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::TakeSnapshot => "take_snapshot",
            Self::RestoreSnapshot => "restore_snapshot",
            Self::DeleteSnapshot => "delete_snapshot",
            Self::Upgrade => "upgrade",
            Self::Import => "import",
            Self::GroupSnapshot => "group_snapshot",
            Self::GroupRestore => "group_restore",
            Self::GroupUpgrade => "group_upgrade",
        })
    }
}

/// One step of an operation; each is one management-canister call (or one call to the module).
#[derive(CandidType, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperationStep {
    /// `canister_status`: is the module running?
    #[serde(rename = "check_status")]
    CheckStatus,
    /// `list_canister_snapshots`: what the module holds.
    #[serde(rename = "list_snapshots")]
    ListSnapshots,
    /// `stop_canister`.
    #[serde(rename = "stop")]
    Stop,
    /// `take_canister_snapshot`.
    #[serde(rename = "take_snapshot")]
    TakeSnapshot,
    /// `upload_chunk` of the wasm into the module's chunk store.
    #[serde(rename = "upload_chunks")]
    UploadChunks,
    /// `install_code` / `install_chunked_code` in upgrade mode.
    #[serde(rename = "install")]
    Install,
    /// `clear_chunk_store` after a chunked install.
    #[serde(rename = "clear_chunk_store")]
    ClearChunkStore,
    /// `start_canister`.
    #[serde(rename = "start")]
    Start,
    /// The module's health-check method.
    #[serde(rename = "health_check")]
    HealthCheck,
    /// `load_canister_snapshot`.
    #[serde(rename = "load_snapshot")]
    LoadSnapshot,
    /// `delete_canister_snapshot`.
    #[serde(rename = "delete_snapshot")]
    DeleteSnapshot,
    /// Rollback: `stop_canister`.
    #[serde(rename = "rollback_stop")]
    RollbackStop,
    /// Rollback: `load_canister_snapshot` of the pre-upgrade snapshot.
    #[serde(rename = "rollback_load")]
    RollbackLoad,
    /// Rollback: `start_canister`.
    #[serde(rename = "rollback_start")]
    RollbackStart,
    /// The client's upload of an imported snapshot (metadata and data, made by the client
    /// directly to the management canister while the orchestrator holds the lease).
    #[serde(rename = "client_upload")]
    ClientUpload,
}

impl std::fmt::Display for OperationStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::CheckStatus => "check_status",
            Self::ListSnapshots => "list_snapshots",
            Self::Stop => "stop",
            Self::TakeSnapshot => "take_snapshot",
            Self::UploadChunks => "upload_chunks",
            Self::Install => "install",
            Self::ClearChunkStore => "clear_chunk_store",
            Self::Start => "start",
            Self::HealthCheck => "health_check",
            Self::LoadSnapshot => "load_snapshot",
            Self::DeleteSnapshot => "delete_snapshot",
            Self::RollbackStop => "rollback_stop",
            Self::RollbackLoad => "rollback_load",
            Self::RollbackStart => "rollback_start",
            Self::ClientUpload => "client_upload",
        })
    }
}

/// How one step went.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub enum StepOutcome {
    /// Still running (only on the last step of an operation in progress).
    #[serde(rename = "running")]
    Running,
    /// Done.
    #[serde(rename = "ok")]
    Ok,
    /// Failed with this error.
    #[serde(rename = "failed")]
    Failed(String),
    /// Not done, for this reason.
    #[serde(rename = "skipped")]
    Skipped(String),
}

/// One step and its outcome.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct StepRecord {
    /// The step.
    pub step: OperationStep,
    /// Its outcome.
    pub outcome: StepOutcome,
    /// When it started (nanoseconds since the epoch).
    pub started_at: u64,
    /// When it ended, unless it is running.
    pub finished_at: Option<u64>,
    /// The member module the step acted on, in a group operation (none otherwise).
    #[serde(default)]
    pub module: Option<String>,
}

/// Where an operation is (CloudMC-like states).
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub enum OperationStatus {
    /// Running; its last step says where.
    #[serde(rename = "in_progress")]
    InProgress,
    /// Finished as asked.
    #[serde(rename = "completed")]
    Completed,
    /// Finished without doing what was asked; the reason says why and what state the module is in.
    #[serde(rename = "failed")]
    Failed(String),
    /// Not run, for this reason (a scheduled snapshot with every slot protected, or deferred
    /// because the module was busy — the reason says when it is tried again).
    #[serde(rename = "skipped")]
    Skipped(String),
}

/// One operation in the history.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct OperationRecord {
    /// Sequential id, from 1.
    pub id: u64,
    /// The module it ran on.
    pub module: String,
    /// What it did.
    pub kind: OperationKind,
    /// Who asked for it (the orchestrator itself for scheduled operations).
    pub caller: Principal,
    /// Why it ran.
    pub trigger: Trigger,
    /// When it started (nanoseconds since the epoch).
    pub started_at: u64,
    /// When it finished, unless it is in progress.
    pub finished_at: Option<u64>,
    /// Every step reached, in order.
    pub steps: Vec<StepRecord>,
    /// Where it is.
    pub status: OperationStatus,
    /// The snapshot it took, restored or deleted.
    pub snapshot_id: Option<SnapshotId>,
}

/// Argument of `history`: newest first, `limit` at a time.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct HistoryQuery {
    /// Only this module's operations.
    pub module: Option<String>,
    /// Only operations older than this id (the `next` of the previous page).
    pub before: Option<u64>,
    /// At most this many (default and maximum 100).
    pub limit: Option<u32>,
}

/// Answer of `history`.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct HistoryPage {
    /// The operations, newest first.
    pub operations: Vec<OperationRecord>,
    /// Pass as `before` to get the next page; none when this is the last.
    pub next: Option<u64>,
}
