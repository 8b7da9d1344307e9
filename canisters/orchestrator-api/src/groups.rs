//! Groups (applications): modules snapshotted and restored together as one consistent cut.

use candid::{CandidType, Principal};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{Cadence, CallFailure, OperationKind, Retention, SnapshotId, Trigger};

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

/// Errors of the group endpoints.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Error)]
pub enum GroupError {
    /// The caller is neither an admin nor a controller of the orchestrator.
    #[error("{caller} is not an admin of this orchestrator")]
    Unauthorized {
        /// Who called.
        caller: Principal,
    },
    /// The name is not a valid group name.
    #[error("invalid group name: {reason}")]
    InvalidName {
        /// Why.
        reason: String,
    },
    /// A group with this name exists.
    #[error("a group named {name:?} exists; remove it first or choose another name")]
    NameTaken {
        /// The name.
        name: String,
    },
    /// No group has this name.
    #[error("no group named {name:?}; `keepsake group list` shows the groups")]
    GroupNotFound {
        /// The name.
        name: String,
    },
    /// A member is not a registered module.
    #[error("no module named {name:?}; register it first (`keepsake module add`)")]
    ModuleNotFound {
        /// The name.
        name: String,
    },
    /// The member list is empty, too long or names a module twice.
    #[error("invalid members: {reason}")]
    InvalidMembers {
        /// Why.
        reason: String,
    },
    /// An argument is out of range.
    #[error("invalid argument: {reason}")]
    InvalidArgument {
        /// Why.
        reason: String,
    },
    /// A member is busy with another operation: nothing was touched.
    #[error(
        "module {module:?} of the group is busy ({operation}); nothing was touched, try again when it is done"
    )]
    Busy {
        /// The member.
        module: String,
        /// What it is doing.
        operation: OperationKind,
    },
    /// A member has no free snapshot slot: nothing was touched.
    #[error(
        "module {module:?} holds {held} snapshots (limit {max}); {advice}; nothing was touched"
    )]
    SlotsFull {
        /// The member.
        module: String,
        /// Snapshots it holds.
        held: u32,
        /// The limit that applies.
        max: u8,
        /// What to do.
        advice: String,
    },
    /// No group snapshot with this id for this group.
    #[error("group {group:?} has no group snapshot {id}; `keepsake group show {group}` lists them")]
    GroupSnapshotNotFound {
        /// The group.
        group: String,
        /// The id asked for.
        id: u64,
    },
    /// The group has no complete group snapshot to restore.
    #[error("group {group:?} has no complete group snapshot to restore")]
    NoGroupSnapshot {
        /// The group.
        group: String,
    },
    /// A module named in a group operation is not a member of the group.
    #[error(
        "module {module:?} is not a member of group {group:?}; `keepsake group show {group}` lists its members"
    )]
    NotAMember {
        /// The group.
        group: String,
        /// The module.
        module: String,
    },
    /// A member's wasm is not staged and committed: nothing was touched.
    #[error(
        "the wasm for module {module:?} (sha256 {}) is not staged and committed; stage it first (`keepsake upgrade --group` does); nothing was touched",
        hex_prefix(.wasm_hash)
    )]
    WasmNotStaged {
        /// The member.
        module: String,
        /// The hash asked for.
        #[serde(with = "serde_bytes")]
        wasm_hash: Vec<u8>,
    },
    /// The group has no schedule.
    #[error(
        "group {group:?} has no schedule; set one with `keepsake schedule set --group {group} --every 1d`"
    )]
    NoSchedule {
        /// The group.
        group: String,
    },
    /// The group snapshot is partial: restoring it would not be a consistent cut.
    #[error(
        "group snapshot {id} is partial (missing {missing:?}); it cannot be restored as a unit"
    )]
    Partial {
        /// Its id.
        id: u64,
        /// The members it lacks.
        missing: Vec<String>,
    },
    /// A member's snapshot of the group snapshot is gone from the IC.
    #[error(
        "the snapshot of module {module:?} in group snapshot {id} no longer exists; the group snapshot cannot be restored"
    )]
    MemberSnapshotGone {
        /// The group snapshot.
        id: u64,
        /// The member.
        module: String,
    },
    /// A preflight call failed before anything was touched.
    #[error("preflight failed on module {module:?}: {failure}; nothing was touched")]
    PreflightFailed {
        /// The member.
        module: String,
        /// The call.
        failure: CallFailure,
    },
    /// The group snapshot failed; what happened to each member is in `members` and the
    /// history record `operation_id`.
    #[error("group operation {operation_id} failed: {reason}")]
    OperationFailed {
        /// The history record.
        operation_id: u64,
        /// Why, in words.
        reason: String,
        /// Per member.
        members: Vec<GroupMemberReport>,
    },
}

/// Argument of `restore_group_snapshot`.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct GroupRestoreArgs {
    /// The group snapshot (default: the group's newest complete one).
    pub group_snapshot_id: Option<u64>,
    /// How long each member may take to stop, in seconds (default 60, 1 to 300).
    pub stop_timeout_seconds: Option<u32>,
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
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
