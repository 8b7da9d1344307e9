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
    BeginImportArgs, FinishImportArgs, IC_MAX_SNAPSHOTS_PER_CANISTER, IMPORT_LEASE_NANOS,
    ImportError, ImportLease, ImportReport, OperationKind, OperationStep, StepOutcome, Trigger,
};

use crate::flow::Flow;
use crate::history::{self, Operation};
use crate::lock::ModuleLock;
use crate::mgmt::{IcSnapshot, Management};
use crate::snapshots::record_taken;
use crate::store::{ModuleRecord, snapshot_meta};
use crate::{lock, registry, views};

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
    let mut flow = Flow::open(mgmt, caller, name, OperationKind::Import, Trigger::Manual)?;

    // 2. What the module holds (the IC's list counts snapshots taken elsewhere too).
    let held = flow.list_held().await.map_err(|f| flow.fail(f))?;

    // 3. The rules (`upload_target`).
    let replace = upload_target(name, flow.module(), &held, args).map_err(|e| flow.refuse(e))?;

    // 4. Hand the lock to the client as a lease.
    let expires_at = mgmt.now().saturating_add(IMPORT_LEASE_NANOS);
    let lease = ImportLease {
        operation_id: flow.id(),
        module: name.to_string(),
        canister_id: flow.canister(),
        expires_at,
    };
    flow.hand_over(OperationStep::ClientUpload, expires_at, replace);
    Ok(lease)
}

/// The snapshot an upload replaces, by the rules: a resumed upload continues a snapshot that
/// exists (and replaces nothing more: an earlier run already did); a replaced snapshot exists
/// and is not pinned; otherwise a slot must be free.
fn upload_target(
    name: &str,
    module: &ModuleRecord,
    held: &[IcSnapshot],
    args: BeginImportArgs,
) -> Result<Option<Vec<u8>>, ImportError> {
    let exists = |id: &[u8]| held.iter().any(|h| h.id == id);
    if let Some(resume) = args.resume {
        if !exists(&resume) {
            return Err(ImportError::SnapshotNotFound {
                module: name.to_string(),
                id: resume,
            });
        }
        return Ok(None);
    }
    if let Some(id) = args.replace.map(serde_bytes::ByteBuf::into_vec) {
        if !exists(&id) {
            return Err(ImportError::SnapshotNotFound {
                module: name.to_string(),
                id: id.into(),
            });
        }
        if snapshot_meta::is_pinned(name, &id) {
            return Err(ImportError::Pinned {
                module: name.to_string(),
                id: id.into(),
            });
        }
        return Ok(Some(id));
    }
    let limit = module
        .settings
        .max_snapshots
        .min(IC_MAX_SNAPSHOTS_PER_CANISTER);
    if held.len() >= usize::from(limit) {
        return Err(ImportError::SlotsFull {
            module: name.to_string(),
            held: held.len() as u32,
            limit,
        });
    }
    Ok(None)
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
    let lock = ModuleLock::reclaim(&name);
    let op =
        Operation::resume(operation_id, mgmt.now()).ok_or_else(|| not_in_progress(operation_id))?;
    op.end_external(OperationStep::ClientUpload, StepOutcome::Ok, mgmt.now());
    let Some(module) = registry::get(&name) else {
        let error = ImportError::ModuleNotFound { name };
        return Err(op.close_refused(error, mgmt.now()));
    };
    let mut flow = Flow::resumed(mgmt, name.clone(), module, lock, op);

    // 2. The snapshot must be on the module.
    let held = flow.list_held().await.map_err(|f| flow.fail(f))?;
    let Some(snapshot) = held.iter().find(|h| h.id == *args.snapshot_id).cloned() else {
        return Err(flow.refuse(ImportError::SnapshotNotFound {
            module: name,
            id: args.snapshot_id,
        }));
    };
    flow.set_snapshot(&snapshot.id);

    // 3. Record it as ours (a rerun that reuses a snapshot keeps the record it has).
    if snapshot_meta::record(&name, &snapshot.id).is_none() {
        record_taken(
            &name,
            &snapshot,
            lock::import_replace(&name).as_deref(),
            Some(IMPORT_LABEL.to_string()),
            Trigger::Import,
            false,
        );
    }

    // 4. Load, when asked: stop if running → load → start again if we stopped it.
    if args.restore {
        flow.load(snapshot.id.clone())
            .await
            .map_err(|f| flow.fail(f))?;
    } else {
        flow.skip_step(OperationStep::LoadSnapshot, "not asked to restore");
    }
    let steps = flow.steps();
    Ok(flow.finish(ImportReport {
        operation_id,
        snapshot: views::snapshot(&name, &snapshot),
        steps,
        restored: args.restore,
    }))
}
