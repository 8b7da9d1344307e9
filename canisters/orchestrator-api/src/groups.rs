//! Groups (applications): modules snapshotted and restored together as one consistent cut.

use candid::{CandidType, Principal};
use serde::{Deserialize, Serialize};

use crate::{Cadence, Retention, SnapshotId, Trigger};

/// Most members a group may have.
pub const MAX_GROUP_MEMBERS: usize = 32;

/// Default bound on how long a member may take to stop before a group operation gives up.
pub const DEFAULT_STOP_TIMEOUT_SECONDS: u32 = 60;

/// Longest stop bound accepted (the IC's longest bounded-wait timeout).
pub const MAX_STOP_TIMEOUT_SECONDS: u32 = 300;

/// A group of modules (an application).
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct GroupInfo {
    /// Its name (the rules of module names).
    pub name: String,
    /// The member modules, in the order they were given.
    pub modules: Vec<String>,
    /// When it was added (nanoseconds since the epoch).
    pub added_at: u64,
    /// Who added it.
    pub added_by: Principal,
}

/// Argument of `take_group_snapshot`.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct GroupSnapshotArgs {
    /// A label, given to every member's snapshot too.
    pub label: Option<String>,
    /// Keep the members' snapshots when another member's stop or take fails (the group
    /// snapshot is then recorded as `partial`); by default they are deleted again.
    pub keep_partial: Option<bool>,
    /// How long each member may take to stop, in seconds (default 60, 1 to 300).
    pub stop_timeout_seconds: Option<u32>,
}

/// Whether every member of a group snapshot was captured.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub enum GroupSnapshotStatus {
    /// Every member has its snapshot: restorable as a unit.
    #[serde(rename = "complete")]
    Complete,
    /// Some members failed and the caller asked to keep the others (`keep_partial`).
    #[serde(rename = "partial")]
    Partial {
        /// The members without a snapshot.
        missing: Vec<String>,
    },
}

/// One member of a group snapshot.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct GroupMemberSnapshot {
    /// The module.
    pub module: String,
    /// Its canister.
    pub canister_id: Principal,
    /// Its snapshot (none when missing from a partial group snapshot).
    pub snapshot_id: Option<SnapshotId>,
}

/// A group snapshot: every member's snapshot taken while all of them were stopped.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct GroupSnapshotInfo {
    /// Its id (the id of the history operation that took it).
    pub id: u64,
    /// The group.
    pub group: String,
    /// The label.
    pub label: Option<String>,
    /// Why it was taken.
    pub trigger: Trigger,
    /// Complete, or partial with the missing members.
    pub status: GroupSnapshotStatus,
    /// The members, in the group's order.
    pub members: Vec<GroupMemberSnapshot>,
    /// When the first member was asked to stop (nanoseconds since the epoch).
    pub window_start: u64,
    /// When the last member had started again.
    pub window_end: u64,
    /// Whether every member's snapshot is pinned (`pin_group_snapshot`): then retention and
    /// full slots never delete or replace any of them. Filled in when listed.
    #[serde(default)]
    pub pinned: Option<bool>,
}

/// What happened to one member during a failed group operation, or a group restore.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct GroupMemberReport {
    /// The module.
    pub module: String,
    /// What happened to it.
    pub outcome: GroupMemberOutcome,
    /// Whether it runs afterwards.
    pub running: bool,
}

/// The outcome for one member.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub enum GroupMemberOutcome {
    /// It did what was asked (taken, or restored).
    #[serde(rename = "done")]
    Done,
    /// Its own step failed.
    #[serde(rename = "failed")]
    Failed {
        /// The step.
        step: crate::OperationStep,
        /// Why.
        reason: String,
    },
    /// Its step succeeded but was undone because another member failed (its new snapshot
    /// deleted; its loaded snapshot rolled back to the state before the restore).
    #[serde(rename = "undone")]
    Undone,
    /// Its step succeeded, another member failed, and undoing it failed too.
    #[serde(rename = "undo_failed")]
    UndoFailed {
        /// Why; what is left behind.
        reason: String,
    },
    /// Nothing was done to it (another member failed first).
    #[serde(rename = "untouched")]
    Untouched,
}

/// Answer of `restore_group_snapshot`.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct GroupRestoreReport {
    /// The history operation.
    pub operation_id: u64,
    /// The group snapshot restored (or tried).
    pub group_snapshot_id: u64,
    /// Whether every member now holds the group snapshot's state.
    pub restored: bool,
    /// Per member, in the group's order.
    pub members: Vec<GroupMemberReport>,
}

/// Argument of `restore_group_snapshot`.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct GroupRestoreArgs {
    /// The group snapshot (default: the group's newest complete one).
    pub group_snapshot_id: Option<u64>,
    /// How long each member may take to stop, in seconds (default 60, 1 to 300).
    pub stop_timeout_seconds: Option<u32>,
}

/// One member to upgrade in `upgrade_group`.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct GroupUpgradeMember {
    /// The module (a member of the group).
    pub module: String,
    /// sha256 of its committed staged wasm.
    #[serde(with = "serde_bytes")]
    pub wasm_hash: Vec<u8>,
    /// The candid-encoded argument of its `post_upgrade` (default: empty arguments).
    pub arg: Option<SnapshotId>,
}

/// Argument of `upgrade_group`.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct GroupUpgradeArgs {
    /// The members to upgrade, each once (a subset of the group; the group snapshot taken
    /// first covers every member).
    pub members: Vec<GroupUpgradeMember>,
    /// How long each member may take to stop, in seconds (default 60, 1 to 300).
    pub stop_timeout_seconds: Option<u32>,
}

/// Answer of `upgrade_group` once the group snapshot was taken.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct GroupUpgradeReport {
    /// The history operation (one record with every member's steps).
    pub operation_id: u64,
    /// The group snapshot taken first (the cut a failed upgrade rolls back to).
    pub group_snapshot_id: u64,
    /// Whether every named member runs its new wasm (and passed its health check).
    pub upgraded: bool,
    /// Per member, in the group's order: `done` (upgraded), `untouched` (not named, left
    /// running), `failed` (its install or health check failed; the reason says whether it was
    /// rolled back), `undone` (rolled back to the group snapshot), `undo_failed`.
    pub members: Vec<GroupMemberReport>,
}

/// A group's schedule as `list_group_schedules` shows it.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct GroupScheduleInfo {
    /// The group.
    pub group: String,
    /// When it fires.
    pub cadence: Cadence,
    /// Which group snapshots it deletes after each run (counted as units).
    pub retention: Retention,
    /// When the schedule was set (nanoseconds since the epoch).
    pub set_at: u64,
    /// The next regular run.
    pub next_run_at: u64,
    /// When a run deferred because a member was busy is tried again, if one is.
    pub retry_at: Option<u64>,
    /// When the last run started, if any has.
    pub last_run_at: Option<u64>,
    /// The history entry of the last run's group snapshot (or of its skip).
    pub last_operation_id: Option<u64>,
}
