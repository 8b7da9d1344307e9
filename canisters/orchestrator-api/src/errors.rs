//! One error enum per group of endpoints. Each variant carries the data a client needs to act,
//! and its `Display` (via thiserror) says what to do, so the CLI prints it as is.

use candid::{CandidType, Principal};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{OperationKind, OperationStatus, OperationStep, SnapshotId};

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
    #[error(
        "{caller} is not an admin of this orchestrator; ask an admin to run `keepsake admin add {caller}`"
    )]
    Unauthorized {
        /// Who called.
        caller: Principal,
    },
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
    #[error("{caller} is not an admin of this orchestrator")]
    Unauthorized {
        /// Who called.
        caller: Principal,
    },
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
    #[error("{caller} is not an admin of this orchestrator")]
    Unauthorized {
        /// Who called.
        caller: Principal,
    },
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
    #[error("{caller} is not an admin of this orchestrator")]
    Unauthorized {
        /// Who called.
        caller: Principal,
    },
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
    #[error("{caller} is not an admin of this orchestrator")]
    Unauthorized {
        /// Who called.
        caller: Principal,
    },
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
    #[error("{caller} is not an admin of this orchestrator")]
    Unauthorized {
        /// Who called.
        caller: Principal,
    },
}

/// Errors of `begin_import`, `renew_import`, `finish_import` and `abort_import`.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Error)]
pub enum ImportError {
    /// The caller is neither an admin nor a controller of the orchestrator.
    #[error("{caller} is not an admin of this orchestrator")]
    Unauthorized {
        /// Who called.
        caller: Principal,
    },
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
