//! Importing a snapshot into a registered module. The client (keepsake import) uploads the
//! snapshot itself, straight to the management canister, since the bytes are on its disk; the
//! orchestrator holds the module's lock meanwhile as a lease, so the import obeys the same
//! rules as every other operation:
//!
//! 1. `begin_import`: lock (busy → refused), open the history record, list the module's
//!    snapshots, refuse a pinned or unknown `replace` target and, without one, a module with
//!    no free slot (the upload would fail halfway) — then keep the lock as a lease.
//! 2. The client uploads (recorded as the step `client_upload`), renewing the lease.
//! 3. `finish_import`: the snapshot must be on the IC's list; it is recorded as the
//!    orchestrator's own (trigger `import`); with `restore`: status → stop if running → load →
//!    start again if we stopped it. The lease is released on every path.
//!    `abort_import` closes the record as failed and releases the lease.

use candid::Principal;
use orchestrator_api::{
    BeginImportArgs, CallFailure, FinishImportArgs, IC_MAX_SNAPSHOTS_PER_CANISTER,
    IMPORT_LEASE_NANOS, ImportError, ImportLease, ImportReport, OperationKind, OperationStep,
    StepOutcome, Trigger,
};

use crate::control;
use crate::history::{self, Operation};
use crate::lock::ModuleLock;
use crate::mgmt::Management;
use crate::registry;
use crate::snapshots::record_taken;
use crate::store::snapshot_meta;
use crate::{lock, views};

/// The label an imported snapshot gets.
pub const IMPORT_LABEL: &str = "import";

/// Longest abort reason kept in the history, in characters.
const MAX_REASON_CHARS: usize = 500;

fn not_in_progress(operation_id: u64) -> ImportError {
    ImportError::NotInProgress {
        operation_id,
        status: history::get(operation_id).map(|op| op.status),
    }
}

/// Opens an import of `name`: the module's lock as a lease, a history record, and the checks
/// that make the client's upload safe to start.
pub async fn begin<M: Management>(
    mgmt: &M,
    caller: Principal,
    name: &str,
    args: BeginImportArgs,
) -> Result<ImportLease, ImportError> {
    // 1. Lock and record.
    let (module, lock) = registry::lock_module(name, OperationKind::Import, mgmt.now())?;
    let op = Operation::begin(
        name,
        OperationKind::Import,
        caller,
        Trigger::Manual,
        mgmt.now(),
    );
    lock.set_operation_id(op.id());
    let canister = module.canister_id;

    // 2. What the module holds (the IC's list counts snapshots taken elsewhere too).
    let held = match control::list_held(mgmt, &op, canister).await {
        Ok(held) => held,
        Err(failure) => return Err(control::close_failed_at_step(op, failure, mgmt.now())),
    };
    let exists = |id: &[u8]| held.iter().any(|h| h.id == id);

    // 3. The rules: a resumed upload continues a snapshot that exists; a replaced snapshot
    //    exists and is not pinned; otherwise a slot must be free.
    let mut replace = args.replace.map(serde_bytes::ByteBuf::into_vec);
    if let Some(resume) = &args.resume {
        if !exists(resume) {
            let error = ImportError::SnapshotNotFound {
                module: name.to_string(),
                id: resume.clone(),
            };
            return Err(op.close_refused(error, mgmt.now()));
        }
        // An earlier run already replaced what it was asked to.
        replace = None;
    } else if let Some(id) = &replace {
        if !exists(id) {
            let error = ImportError::SnapshotNotFound {
                module: name.to_string(),
                id: id.clone().into(),
            };
            return Err(op.close_refused(error, mgmt.now()));
        }
        if snapshot_meta::is_pinned(name, id) {
            let error = ImportError::Pinned {
                module: name.to_string(),
                id: id.clone().into(),
            };
            return Err(op.close_refused(error, mgmt.now()));
        }
    } else {
        let limit = module
            .settings
            .max_snapshots
            .min(IC_MAX_SNAPSHOTS_PER_CANISTER);
        if held.len() >= usize::from(limit) {
            let error = ImportError::SlotsFull {
                module: name.to_string(),
                held: held.len() as u32,
                limit,
            };
            return Err(op.close_refused(error, mgmt.now()));
        }
    }

    // 4. Hand the lock to the client as a lease.
    let now = mgmt.now();
    let expires_at = now.saturating_add(IMPORT_LEASE_NANOS);
    op.begin_external(OperationStep::ClientUpload, now);
    let operation_id = op.id();
    op.detach();
    lock.into_lease(expires_at, replace);
    Ok(ImportLease {
        operation_id,
        module: name.to_string(),
        canister_id: canister,
        expires_at,
    })
}

/// Extends the lease of import `operation_id` (the client is still uploading).
pub fn renew(operation_id: u64, now: u64) -> Result<ImportLease, ImportError> {
    let (name, _) =
        ModuleLock::lease_of(operation_id).ok_or_else(|| not_in_progress(operation_id))?;
    let module = registry::get(&name).ok_or_else(|| not_in_progress(operation_id))?;
    let expires_at = now.saturating_add(IMPORT_LEASE_NANOS);
    ModuleLock::renew(&name, expires_at);
    Ok(ImportLease {
        operation_id,
        module: name,
        canister_id: module.canister_id,
        expires_at,
    })
}

/// Closes import `operation_id` as failed (the client gave up) and frees the module.
pub fn abort(operation_id: u64, reason: String, now: u64) -> Result<(), ImportError> {
    let (name, _) =
        ModuleLock::lease_of(operation_id).ok_or_else(|| not_in_progress(operation_id))?;
    let _lock = ModuleLock::reclaim(&name);
    let op = Operation::resume(operation_id, now).ok_or_else(|| not_in_progress(operation_id))?;
    let reason: String = reason.chars().take(MAX_REASON_CHARS).collect();
    op.end_external(
        OperationStep::ClientUpload,
        StepOutcome::Failed(reason.clone()),
        now,
    );
    op.close_failed(format!("aborted by the importing client: {reason}"), now);
    Ok(())
}

/// Records the uploaded snapshot, loads it when asked, and frees the module.
pub async fn finish<M: Management>(
    mgmt: &M,
    operation_id: u64,
    args: FinishImportArgs,
) -> Result<ImportReport, ImportError> {
    // 1. Take the lease back (it holds after its expiry while nobody else took the module).
    let (name, _) =
        ModuleLock::lease_of(operation_id).ok_or_else(|| not_in_progress(operation_id))?;
    let _lock = ModuleLock::reclaim(&name);
    let op =
        Operation::resume(operation_id, mgmt.now()).ok_or_else(|| not_in_progress(operation_id))?;
    op.end_external(OperationStep::ClientUpload, StepOutcome::Ok, mgmt.now());
    let Some(module) = registry::get(&name) else {
        let error = ImportError::ModuleNotFound { name };
        return Err(op.close_refused(error, mgmt.now()));
    };
    let canister = module.canister_id;

    // 2. The snapshot must be on the module.
    let held = match control::list_held(mgmt, &op, canister).await {
        Ok(held) => held,
        Err(failure) => return Err(control::close_failed_at_step(op, failure, mgmt.now())),
    };
    let Some(snapshot) = held.iter().find(|h| h.id == *args.snapshot_id).cloned() else {
        let error = ImportError::SnapshotNotFound {
            module: name.clone(),
            id: args.snapshot_id,
        };
        return Err(op.close_refused(error, mgmt.now()));
    };
    op.set_snapshot(&snapshot.id, mgmt.now());

    // 3. Record it as ours (a rerun that reuses a snapshot keeps the record it has).
    let lease_replace = lock::import_replace(&name);
    let known = snapshot_meta::record(&name, &snapshot.id).is_some();
    if !known {
        record_taken(
            &name,
            &snapshot,
            lease_replace.as_deref(),
            Some(IMPORT_LABEL.to_string()),
            Trigger::Import,
            false,
        );
    }

    // 4. Load, when asked: stop if running → load → start again if we stopped it.
    if !args.restore {
        op.skip_step(
            OperationStep::LoadSnapshot,
            "not asked to restore",
            mgmt.now(),
        );
        let steps = op.steps();
        op.close_completed(mgmt.now());
        return Ok(ImportReport {
            operation_id,
            snapshot: views::snapshot(&name, &snapshot),
            steps,
            restored: false,
        });
    }
    let stopped = match control::stop_if_running(mgmt, &op, canister).await {
        Ok(stopped) => stopped,
        Err(failure) => return Err(control::close_failed_at_step(op, failure, mgmt.now())),
    };
    let loaded: Result<(), CallFailure> = op
        .run(
            mgmt,
            OperationStep::LoadSnapshot,
            mgmt.load_snapshot(canister, snapshot.id.clone()),
        )
        .await;
    let restarted = control::restart_if_stopped_by_us(mgmt, &op, canister, stopped).await;
    match control::settle(OperationStep::LoadSnapshot, loaded, stopped, restarted) {
        Ok(()) => {
            let steps = op.steps();
            op.close_completed(mgmt.now());
            Ok(ImportReport {
                operation_id,
                snapshot: views::snapshot(&name, &snapshot),
                steps,
                restored: true,
            })
        }
        Err(failure) => Err(control::close_failed_at_step(op, failure, mgmt.now())),
    }
}
