//! Staging a wasm and upgrading a module with it.

use candid::CandidType;
use serde::{Deserialize, Serialize};

use crate::{OperationStep, SnapshotId};

/// Argument of `stage_wasm_chunk`: append `chunk` to the staging area of `wasm_hash`.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct StageWasmChunkArgs {
    /// sha256 of the whole wasm (as installed: gzipped or not). Identifies the staging area.
    #[serde(with = "serde_bytes")]
    pub wasm_hash: Vec<u8>,
    /// Where this chunk starts. Must equal the bytes staged so far, so a client that lost a
    /// reply can ask `list_staged_wasms` and resume.
    pub offset: u64,
    /// The bytes.
    #[serde(with = "serde_bytes")]
    pub chunk: Vec<u8>,
}

/// A wasm in the staging area.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct StagedWasmInfo {
    /// Its expected (and, once committed, verified) sha256.
    #[serde(with = "serde_bytes")]
    pub wasm_hash: Vec<u8>,
    /// Bytes staged so far.
    pub size: u64,
    /// True once `commit_staged_wasm` checked the hash; only committed wasms can be installed.
    pub committed: bool,
    /// When it was last written (nanoseconds since the epoch).
    pub updated_at: u64,
    /// When the orchestrator forgets it unless it is written again.
    pub expires_at: u64,
}

/// What `upgrade_module` does when the module already holds `max_snapshots` snapshots.
#[derive(CandidType, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnExisting {
    /// Replace the oldest snapshot with the pre-upgrade one.
    #[serde(rename = "replace")]
    Replace,
    /// Keep the existing snapshots and take none ("don't overwrite"); the upgrade then has
    /// no snapshot of its own to roll back to.
    #[serde(rename = "keep")]
    Keep,
    /// Refuse the upgrade before touching the module.
    #[serde(rename = "fail")]
    Fail,
}

/// Argument of `upgrade_module`.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct UpgradeArgs {
    /// sha256 of a committed staged wasm.
    #[serde(with = "serde_bytes")]
    pub wasm_hash: Vec<u8>,
    /// The candid-encoded argument of the module's `post_upgrade`.
    #[serde(with = "serde_bytes")]
    pub arg: Vec<u8>,
    /// Take a snapshot first? Overrides the module's `snapshot_before_upgrade` (the opt-out).
    pub snapshot: Option<bool>,
    /// What to do when the module's snapshot slots are full.
    pub on_existing: OnExisting,
    /// Load the pre-upgrade snapshot again when the install, the restart or the health
    /// check fails.
    pub rollback_on_failure: bool,
}

/// How an upgrade ended.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub enum UpgradeOutcome {
    /// The module runs the new wasm (and passed its health check, if it has one).
    #[serde(rename = "upgraded")]
    Upgraded,
    /// The upgrade failed at `failed_step` and the module was rolled back to the pre-upgrade
    /// snapshot; it runs the old code with the old state.
    #[serde(rename = "rolled_back")]
    RolledBack {
        /// The step that failed.
        failed_step: OperationStep,
        /// Why it failed.
        reason: String,
    },
    /// The upgrade failed at `failed_step`; no rollback was attempted (not asked for, or no
    /// pre-upgrade snapshot exists). `module_running` says whether the module runs.
    #[serde(rename = "failed")]
    Failed {
        /// The step that failed.
        failed_step: OperationStep,
        /// Why it failed.
        reason: String,
        /// Why there was no rollback.
        no_rollback_because: String,
        /// Whether the module was left running.
        module_running: bool,
    },
    /// The upgrade failed and so did the rollback: the module needs a human.
    #[serde(rename = "rollback_failed")]
    RollbackFailed {
        /// The step of the upgrade that failed.
        failed_step: OperationStep,
        /// Why it failed.
        reason: String,
        /// The rollback step that failed.
        rollback_step: OperationStep,
        /// Why it failed.
        rollback_error: String,
        /// Whether the module was left running.
        module_running: bool,
    },
}

/// What `upgrade_module` returns once it has started touching the module.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct UpgradeReport {
    /// The history entry of this upgrade.
    pub operation_id: u64,
    /// Every step that ran, in order, with its outcome.
    pub steps: Vec<crate::StepRecord>,
    /// The pre-upgrade snapshot, when one was taken.
    pub snapshot_id: Option<SnapshotId>,
    /// How it ended.
    pub outcome: UpgradeOutcome,
}
