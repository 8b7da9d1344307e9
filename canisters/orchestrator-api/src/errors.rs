//! Every error the orchestrator's endpoints return: one enum per group of endpoints. Each
//! variant carries the data a client needs to act, and its `Display` (via thiserror) says what
//! to do, so the CLI prints it as is. The refusal every endpoint shares, [`Unauthorized`], is
//! one type, carried by a variant of each enum.

use candid::{CandidType, Principal};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{GroupMemberReport, OperationKind, OperationStatus, OperationStep, SnapshotId};

/// The caller is neither an admin nor a controller of the orchestrator. Every error enum
/// carries it as `Unauthorized(Unauthorized)`: a newtype variant of this record encodes in
/// candid exactly as the struct variant `Unauthorized { caller }` it replaces, so the
/// interface did not change.
#[derive(CandidType, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error(
    "{caller} is not an admin of this orchestrator; ask an admin to run `keepsake admin add {caller}`"
)]
pub struct Unauthorized {
    /// Who called.
    pub caller: Principal,
}

/// A call the orchestrator made that was rejected (by the management canister or a module).
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Error)]
#[error("{method} was rejected (reject code {reject_code}): {message}")]
pub struct CallFailure {
    /// The method called, e.g. `stop_canister`.
    pub method: String,
    /// The IC reject code (1 system fatal, 2 transient, 3 destination invalid, 4 canister
    /// reject, 5 canister error, 6 sys unknown); 0 when the call could not even be made.
    pub reject_code: u32,
    /// The reject message.
    pub message: String,
}

/// Errors of `add_admin` / `remove_admin` / `list_admins`.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Error)]
pub enum AdminError {
    /// The caller is neither an admin nor a controller of the orchestrator.
    #[error(transparent)]
    Unauthorized(#[from] Unauthorized),
    /// Removing this admin would leave the orchestrator without any.
    #[error("{admin} is the last admin; add another admin before removing it")]
    LastAdmin {
        /// The admin that would have been removed.
        admin: Principal,
    },
    /// The anonymous principal cannot be an admin.
    #[error("the anonymous principal cannot be an admin; use an identity")]
    AnonymousAdmin,
}

/// Errors of the module-registry endpoints.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Error)]
pub enum ModuleError {
    /// The caller is neither an admin nor a controller of the orchestrator.
    #[error(transparent)]
    Unauthorized(#[from] Unauthorized),
    /// The name breaks the naming rule.
    #[error("invalid module name: {reason}")]
    InvalidName {
        /// What is wrong with it.
        reason: String,
    },
    /// Another module already has this name.
    #[error("a module named {name:?} is already registered; choose another name")]
    NameTaken {
        /// The name.
        name: String,
    },
    /// This canister is already registered under another name.
    #[error("canister {canister_id} is already registered as {name:?}")]
    AlreadyRegistered {
        /// The canister.
        canister_id: Principal,
        /// Its registered name.
        name: String,
    },
    /// The orchestrator does not control the canister, so it could not manage it.
    #[error(
        "the orchestrator ({orchestrator}) is not a controller of {canister_id}; add it with \
         `dfx canister update-settings {canister_id} --add-controller {orchestrator}` \
         (or `icp canister settings update {canister_id} --add-controller {orchestrator}`) and try again ({message})"
    )]
    NotController {
        /// The canister.
        canister_id: Principal,
        /// The principal to add as a controller.
        orchestrator: Principal,
        /// What the management canister said.
        message: String,
    },
    /// No module has this name.
    #[error("no module named {name:?}; `keepsake module list` shows the registered ones")]
    ModuleNotFound {
        /// The name asked for.
        name: String,
    },
    /// A setting is out of range.
    #[error("invalid settings: {reason}")]
    InvalidSettings {
        /// What is wrong.
        reason: String,
    },
    /// Another operation runs on the module.
    #[error(
        "module {module:?} is busy with {operation}; wait for it to finish (see `keepsake history {module}`)"
    )]
    Busy {
        /// The module.
        module: String,
        /// What runs on it.
        operation: OperationKind,
    },
    /// A management call failed.
    #[error(transparent)]
    CallFailed(CallFailure),
}

/// Errors of the snapshot endpoints (take, restore, delete, list).
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Error)]
pub enum SnapshotError {
    /// The caller is neither an admin nor a controller of the orchestrator.
    #[error(transparent)]
    Unauthorized(#[from] Unauthorized),
    /// No module has this name.
    #[error("no module named {name:?}; `keepsake module list` shows the registered ones")]
    ModuleNotFound {
        /// The name asked for.
        name: String,
    },
    /// Another operation runs on the module.
    #[error(
        "module {module:?} is busy with {operation}; wait for it to finish (see `keepsake history {module}`)"
    )]
    Busy {
        /// The module.
        module: String,
        /// What runs on it.
        operation: OperationKind,
    },
    /// The label breaks the label rule.
    #[error("invalid label: {reason}")]
    InvalidLabel {
        /// What is wrong with it.
        reason: String,
    },
    /// An argument is out of range.
    #[error("invalid argument: {reason}")]
    InvalidArgument {
        /// What is wrong with it.
        reason: String,
    },
    /// The module holds no snapshot.
    #[error("module {module:?} has no snapshot; take one with `keepsake snapshot take {module}`")]
    NoSnapshot {
        /// The module.
        module: String,
    },
    /// The module holds no snapshot with this id.
    #[error(
        "module {module:?} has no snapshot {}; `keepsake snapshot list {module}` shows its snapshots",
        hex::encode(id)
    )]
    SnapshotNotFound {
        /// The module.
        module: String,
        /// The id asked for.
        id: SnapshotId,
    },
    /// Deleting without an id is only allowed when the module holds exactly one snapshot.
    #[error(
        "module {module:?} holds {count} snapshots; say which one to delete (`--snapshot <id>`)"
    )]
    AmbiguousSnapshot {
        /// The module.
        module: String,
        /// How many it holds.
        count: u32,
    },
    /// The operation started but a step failed. The module was restarted if it had been
    /// stopped, unless `module_running` says otherwise.
    #[error(
        "operation {operation_id} failed at {step}: {reason}{}",
        if *module_running { "" } else { " — the module is NOT running; start it with `dfx canister start` once the cause is fixed" }
    )]
    OperationFailed {
        /// The history entry.
        operation_id: u64,
        /// The step that failed.
        step: OperationStep,
        /// Why.
        reason: String,
        /// Whether the module runs now.
        module_running: bool,
    },
    /// A management call failed before the operation touched the module.
    #[error(transparent)]
    CallFailed(CallFailure),
    /// The snapshot is pinned, so it is not deleted.
    #[error(
        "snapshot {} of module {module:?} is pinned; unpin it first (`keepsake snapshot unpin {module} {}`)",
        hex::encode(id),
        hex::encode(id)
    )]
    Pinned {
        /// The module.
        module: String,
        /// The pinned snapshot.
        id: SnapshotId,
    },
    /// Every slot holds a snapshot that may not be replaced (pinned; for scheduled snapshots
    /// also the pre-upgrade snapshot and snapshots taken elsewhere).
    #[error(
        "module {module:?} holds {held} snapshot(s) (max_snapshots = {max}) and none may be replaced: {why}. \
         Unpin one (`keepsake snapshot unpin`), delete one, or raise max_snapshots"
    )]
    SlotsProtected {
        /// The module.
        module: String,
        /// Snapshots it holds.
        held: u32,
        /// Its `max_snapshots`.
        max: u8,
        /// Which protections apply.
        why: String,
    },
    /// No snapshot of the module carries this label.
    #[error(
        "module {module:?} has no snapshot labelled {label:?}; `keepsake snapshot list {module}` shows the labels"
    )]
    LabelNotFound {
        /// The module.
        module: String,
        /// The label asked for.
        label: String,
    },
}

/// Errors of the wasm staging endpoints.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Error)]
pub enum StagingError {
    /// The caller is neither an admin nor a controller of the orchestrator.
    #[error(transparent)]
    Unauthorized(#[from] Unauthorized),
    /// A wasm hash must be 32 bytes (sha256).
    #[error("a wasm hash is a 32-byte sha256; got {len} bytes")]
    InvalidHash {
        /// The length given.
        len: u64,
    },
    /// Chunks must be appended in order.
    #[error(
        "chunk offset {offset} does not continue the staged wasm, which has {staged} bytes; resend from byte {staged}"
    )]
    OffsetMismatch {
        /// The offset given.
        offset: u64,
        /// Bytes staged so far.
        staged: u64,
    },
    /// The wasm would exceed what the IC installs.
    #[error("the staged wasm would be {size} bytes; the IC installs at most {max}")]
    TooLarge {
        /// The size it would reach.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// Nothing is staged under this hash.
    #[error(
        "no wasm is staged under {}; stage it first (it may have expired)",
        hex::encode(wasm_hash)
    )]
    NotFound {
        /// The hash asked for.
        #[serde(with = "serde_bytes")]
        wasm_hash: Vec<u8>,
    },
    /// The staged bytes do not hash to the announced hash.
    #[error(
        "the staged bytes hash to {}, not {}; they were discarded: upload the wasm again",
        hex::encode(actual),
        hex::encode(expected)
    )]
    HashMismatch {
        /// The announced hash.
        #[serde(with = "serde_bytes")]
        expected: Vec<u8>,
        /// What the bytes hash to.
        #[serde(with = "serde_bytes")]
        actual: Vec<u8>,
    },
    /// A committed wasm cannot be appended to.
    #[error(
        "the wasm {} is already committed; it is ready to install",
        hex::encode(wasm_hash)
    )]
    AlreadyCommitted {
        /// Its hash.
        #[serde(with = "serde_bytes")]
        wasm_hash: Vec<u8>,
    },
    /// The staged bytes are not a wasm module (nor a gzipped one), so nothing can install
    /// them. Checked at commit, before any upgrade can stop or snapshot a module.
    #[error(
        "the staged bytes ({}) are not a wasm module: {reason}. They were discarded and no module \
         was touched; stage a .wasm file (starting with \\0asm, version 1) or a gzip of one",
        hex::encode(wasm_hash)
    )]
    NotAWasm {
        /// Their hash.
        #[serde(with = "serde_bytes")]
        wasm_hash: Vec<u8>,
        /// What is wrong with them.
        reason: String,
    },
    /// Nothing was staged: an empty wasm cannot be committed.
    #[error(
        "nothing is staged under {}; upload the wasm before committing",
        hex::encode(wasm_hash)
    )]
    Empty {
        /// Its hash.
        #[serde(with = "serde_bytes")]
        wasm_hash: Vec<u8>,
    },
}

/// Errors of `upgrade_module` before it touches the module. Once it has, it returns an
/// `UpgradeReport` whatever happens.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Error)]
pub enum UpgradeError {
    /// The caller is neither an admin nor a controller of the orchestrator.
    #[error(transparent)]
    Unauthorized(#[from] Unauthorized),
    /// No module has this name.
    #[error("no module named {name:?}; `keepsake module list` shows the registered ones")]
    ModuleNotFound {
        /// The name asked for.
        name: String,
    },
    /// Another operation runs on the module.
    #[error(
        "module {module:?} is busy with {operation}; wait for it to finish (see `keepsake history {module}`)"
    )]
    Busy {
        /// The module.
        module: String,
        /// What runs on it.
        operation: OperationKind,
    },
    /// No committed wasm with this hash is staged.
    #[error(
        "no committed wasm {} is staged; stage and commit it first (staged wasms expire)",
        hex::encode(wasm_hash)
    )]
    WasmNotStaged {
        /// The hash asked for.
        #[serde(with = "serde_bytes")]
        wasm_hash: Vec<u8>,
    },
    /// `on_existing = fail` and the module's snapshot slots are full.
    #[error(
        "module {module:?} already holds {held} snapshot(s) (max_snapshots = {max}); nothing was touched. \
         Upgrade with on_existing = replace or keep, delete a snapshot, or raise max_snapshots"
    )]
    SnapshotSlotsFull {
        /// The module.
        module: String,
        /// Snapshots it holds.
        held: u32,
        /// Its `max_snapshots`.
        max: u8,
    },
    /// Every snapshot slot holds a pinned snapshot, so the pre-upgrade snapshot has none to
    /// replace.
    #[error(
        "module {module:?} holds {held} snapshot(s) (max_snapshots = {max}), all pinned; nothing was touched. \
         Unpin one (`keepsake snapshot unpin`), raise max_snapshots, or upgrade with on_existing = keep or --no-snapshot"
    )]
    SlotsPinned {
        /// The module.
        module: String,
        /// Snapshots it holds.
        held: u32,
        /// Its `max_snapshots`.
        max: u8,
    },
    /// A management call failed before the module was touched.
    #[error("operation {operation_id}: {failure} (the module was not touched)")]
    PreflightFailed {
        /// The history entry.
        operation_id: u64,
        /// What failed.
        failure: CallFailure,
    },
}

/// The error of the read-only admin calls (`list_modules`, `history`, …).
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Error)]
pub enum QueryError {
    /// The caller is neither an admin nor a controller of the orchestrator.
    #[error(transparent)]
    Unauthorized(#[from] Unauthorized),
}

/// Errors of `begin_import`, `renew_import`, `finish_import` and `abort_import`.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Error)]
pub enum ImportError {
    /// The caller is neither an admin nor a controller of the orchestrator.
    #[error(transparent)]
    Unauthorized(#[from] Unauthorized),
    /// No module has this name.
    #[error("no module named {name:?}; `keepsake module list` shows the registered ones")]
    ModuleNotFound {
        /// The name asked for.
        name: String,
    },
    /// Another operation runs on the module; nothing was uploaded.
    #[error(
        "module {module:?} is busy with {operation}; nothing was uploaded. Wait for it to finish \
         (see `keepsake history {module}`) and import again"
    )]
    Busy {
        /// The module.
        module: String,
        /// What runs on it.
        operation: OperationKind,
    },
    /// The snapshot to replace is pinned.
    #[error(
        "snapshot {} of module {module:?} is pinned, so an import does not replace it; nothing was \
         uploaded. Unpin it first (`keepsake snapshot unpin {module} {}`) or import without --replace",
        hex::encode(id),
        hex::encode(id)
    )]
    Pinned {
        /// The module.
        module: String,
        /// The pinned snapshot.
        id: SnapshotId,
    },
    /// The module holds no snapshot with this id.
    #[error(
        "module {module:?} has no snapshot {}; `keepsake snapshot list {module}` shows its snapshots",
        hex::encode(id)
    )]
    SnapshotNotFound {
        /// The module.
        module: String,
        /// The id asked for.
        id: SnapshotId,
    },
    /// Without `replace`, the module has no free snapshot slot, so the upload would fail.
    #[error(
        "module {module:?} already holds {held} snapshot(s) (limit {limit}); nothing was uploaded. \
         Import with --replace <id>, delete a snapshot (`keepsake snapshot delete {module} <id>`), \
         or raise max_snapshots"
    )]
    SlotsFull {
        /// The module.
        module: String,
        /// Snapshots it holds.
        held: u32,
        /// The lower of its `max_snapshots` and the IC's 10.
        limit: u8,
    },
    /// No import with this operation id holds a module's lease (it was finished, aborted, or
    /// its lease lapsed and another operation took the module).
    #[error(
        "operation {operation_id} is not an import in progress ({status:?}); anything its client \
         uploaded was not recorded or loaded"
    )]
    NotInProgress {
        /// The operation asked for.
        operation_id: u64,
        /// Its status in the history, when it exists.
        status: Option<OperationStatus>,
    },
    /// A step of `finish_import` failed. The module was restarted if it had been stopped,
    /// unless `module_running` says otherwise.
    #[error(
        "import {operation_id} failed at {step}: {reason}{}",
        if *module_running { "" } else { " — the module is NOT running; start it with `dfx canister start` once the cause is fixed" }
    )]
    OperationFailed {
        /// The history entry.
        operation_id: u64,
        /// The step that failed.
        step: OperationStep,
        /// Why.
        reason: String,
        /// Whether the module runs now.
        module_running: bool,
    },
}

/// Errors of `set_schedule` / `clear_schedule`.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Error)]
pub enum ScheduleError {
    /// The caller is neither an admin nor a controller of the orchestrator.
    #[error(transparent)]
    Unauthorized(#[from] Unauthorized),
    /// No module has this name.
    #[error("no module named {name:?}; `keepsake module list` shows the registered ones")]
    ModuleNotFound {
        /// The name asked for.
        name: String,
    },
    /// The cadence is not valid.
    #[error("invalid schedule: {reason}")]
    InvalidCadence {
        /// What is wrong, and what would be accepted.
        reason: String,
    },
    /// The retention is not valid.
    #[error("invalid retention: {reason}")]
    InvalidRetention {
        /// What is wrong, and what would be accepted.
        reason: String,
    },
    /// The module has no schedule.
    #[error(
        "module {module:?} has no schedule; set one with `keepsake schedule set {module} --every 1d` (or --cron \"<expr>\")"
    )]
    NoSchedule {
        /// The module.
        module: String,
    },
}

/// Errors of the group endpoints.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Error)]
pub enum GroupError {
    /// The caller is neither an admin nor a controller of the orchestrator.
    #[error(transparent)]
    Unauthorized(#[from] Unauthorized),
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

/// The first 8 bytes of a hash, in hex: enough to tell wasms apart in a message.
fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use candid::{CandidType, Decode, Encode, Principal};
    use serde::Deserialize;

    use super::*;

    /// The shape every error enum had before `Unauthorized` was shared: a struct variant.
    #[derive(CandidType, Deserialize, Debug, PartialEq, Eq)]
    enum BeforeSharing {
        Unauthorized { caller: Principal },
    }

    fn caller() -> Principal {
        Principal::from_slice(&[7; 29])
    }

    /// Decodes what an orchestrator of the previous shape sent as `E`, and encodes `E`'s
    /// `Unauthorized` back into the previous shape.
    fn round_trip<E>(wrap: fn(Unauthorized) -> E)
    where
        E: CandidType + for<'de> Deserialize<'de> + std::fmt::Debug + PartialEq,
    {
        let old = Encode!(&BeforeSharing::Unauthorized { caller: caller() }).unwrap();
        let new = wrap(Unauthorized { caller: caller() });
        assert_eq!(Decode!(&old, E).unwrap(), new);
        let encoded = Encode!(&new).unwrap();
        assert_eq!(
            Decode!(&encoded, BeforeSharing).unwrap(),
            BeforeSharing::Unauthorized { caller: caller() }
        );
    }

    #[test]
    fn the_shared_unauthorized_encodes_as_the_struct_variant_it_replaced() {
        round_trip(AdminError::Unauthorized);
        round_trip(ModuleError::Unauthorized);
        round_trip(SnapshotError::Unauthorized);
        round_trip(StagingError::Unauthorized);
        round_trip(UpgradeError::Unauthorized);
        round_trip(QueryError::Unauthorized);
        round_trip(ImportError::Unauthorized);
        round_trip(ScheduleError::Unauthorized);
        round_trip(GroupError::Unauthorized);
    }

    #[test]
    fn every_unauthorized_tells_how_to_become_an_admin() {
        let message = SnapshotError::from(Unauthorized { caller: caller() }).to_string();
        assert!(
            message.contains(&format!("keepsake admin add {}", caller())),
            "{message}"
        );
    }
}
