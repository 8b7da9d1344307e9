//! Take, restore, delete and list a module's snapshots. Each mutating flow is one straight
//! line of numbered steps under the module's lock, recorded in the history as it goes.

use candid::Principal;
use orchestrator_api::{
    OperationKind, OperationStep, SnapshotError, SnapshotInfo, TakeSnapshotArgs, Trigger,
    validate_label,
};

use crate::control::{self, StepFailure, Stopped};
use crate::history::Operation;
use crate::lock::ModuleLock;
use crate::mgmt::{IcSnapshot, Management};
use crate::registry;
use crate::state::{Candid, ModuleRecord, SnapshotKey, SnapshotRecord, mutate_state, read_state};

/// The oldest of a module's snapshots (by time, then by id: ids grow with a per-canister
/// counter, so the smaller id is the older of two taken in the same round).
pub fn oldest(snapshots: &[IcSnapshot]) -> Option<&IcSnapshot> {
    snapshots
        .iter()
        .min_by(|a, b| (a.taken_at, &a.id).cmp(&(b.taken_at, &b.id)))
}

/// The newest of a module's snapshots.
pub fn newest(snapshots: &[IcSnapshot]) -> Option<&IcSnapshot> {
    snapshots
        .iter()
        .max_by(|a, b| (a.taken_at, &a.id).cmp(&(b.taken_at, &b.id)))
}

/// Looks the module up and takes its lock, or says why not.
pub fn lock_module(
    name: &str,
    operation: OperationKind,
) -> Result<(ModuleRecord, ModuleLock), SnapshotError> {
    let module = registry::get(name).ok_or_else(|| SnapshotError::ModuleNotFound {
        name: name.to_string(),
    })?;
    let lock = ModuleLock::acquire(name, operation).map_err(|operation| SnapshotError::Busy {
        module: name.to_string(),
        operation,
    })?;
    Ok((module, lock))
}

/// Closes `op` as failed and builds the error that reports it.
fn failed<M: Management>(mgmt: &M, op: Operation, failure: StepFailure) -> SnapshotError {
    let operation_id = op.id();
    let reason = failure.failure.to_string();
    let mut summary = format!("{} failed: {reason}", failure.step);
    if !failure.module_running {
        summary.push_str("; the module is not running");
    }
    op.fail(summary, mgmt.now());
    SnapshotError::OperationFailed {
        operation_id,
        step: failure.step,
        reason,
        module_running: failure.module_running,
    }
}

/// Records a snapshot the orchestrator took, dropping the record of the one it replaced.
pub fn record_taken(
    module: &str,
    taken: &IcSnapshot,
    replaced: Option<&[u8]>,
    label: Option<String>,
    trigger: Trigger,
) -> SnapshotInfo {
    let record = SnapshotRecord {
        taken_at: taken.taken_at,
        total_size: taken.total_size,
        label,
        trigger,
    };
    mutate_state(|s| {
        if let Some(replaced) = replaced {
            s.snapshots.remove(&SnapshotKey::new(module, replaced));
        }
        s.snapshots
            .insert(SnapshotKey::new(module, &taken.id), Candid(record.clone()));
    });
    info(module, taken, Some(record))
}

fn info(module: &str, snapshot: &IcSnapshot, record: Option<SnapshotRecord>) -> SnapshotInfo {
    SnapshotInfo {
        id: snapshot.id.clone().into(),
        module: module.to_string(),
        taken_at: snapshot.taken_at,
        total_size: snapshot.total_size,
        external: record.is_none(),
        label: record.as_ref().and_then(|r| r.label.clone()),
        trigger: record.map(|r| r.trigger),
    }
}

/// lock → list → stop (when `stop_for_snapshot`) → take (replacing the oldest at
/// `max_snapshots`) → start, always → record → unlock.
pub async fn take<M: Management>(
    mgmt: &M,
    caller: Principal,
    name: &str,
    args: TakeSnapshotArgs,
    trigger: Trigger,
) -> Result<SnapshotInfo, SnapshotError> {
    // 1. Validate and lock.
    if let Some(label) = &args.label {
        validate_label(label).map_err(|reason| SnapshotError::InvalidLabel { reason })?;
    }
    let (module, lock) = lock_module(name, OperationKind::TakeSnapshot)?;
    let op = Operation::begin(
        name,
        OperationKind::TakeSnapshot,
        caller,
        trigger,
        mgmt.now(),
    );
    lock.set_operation_id(op.id());
    let canister = module.canister_id;

    // 2. What the module holds: at its limit, the new snapshot replaces the oldest (the IC
    //    builds the new one before it removes the old, so a failed take loses nothing).
    let held = match op
        .run(
            mgmt,
            OperationStep::ListSnapshots,
            mgmt.list_snapshots(canister),
        )
        .await
    {
        Ok(held) => held,
        Err(failure) => {
            return Err(failed(
                mgmt,
                op,
                StepFailure {
                    step: OperationStep::ListSnapshots,
                    failure,
                    module_running: true,
                },
            ));
        }
    };
    let replace = (held.len() >= usize::from(module.settings.max_snapshots))
        .then(|| oldest(&held).map(|s| s.id.clone()))
        .flatten();

    // 3. Stop, so the snapshot is consistent (the IC does not enforce it).
    let stopped = if module.settings.stop_for_snapshot {
        match control::stop_if_running(mgmt, &op, canister).await {
            Ok(stopped) => stopped,
            Err(failure) => return Err(failed(mgmt, op, failure)),
        }
    } else {
        op.skip(OperationStep::Stop, "stop_for_snapshot is off", mgmt.now());
        Stopped::NotAsked
    };

    // 4. Take, and record at once (committed before the next await).
    let taken = op
        .run(
            mgmt,
            OperationStep::TakeSnapshot,
            mgmt.take_snapshot(canister, replace.clone()),
        )
        .await;
    let taken = taken.map(|snapshot| {
        op.set_snapshot(&snapshot.id, mgmt.now());
        record_taken(name, &snapshot, replace.as_deref(), args.label, trigger)
    });

    // 5. Restart, always — even when the take failed.
    let restarted = control::restart_if_stopped_by_us(mgmt, &op, canister, stopped).await;

    // 6. Report.
    match (taken, restarted) {
        (Ok(info), Ok(())) => {
            op.complete(mgmt.now());
            Ok(info)
        }
        (Err(failure), restarted) => Err(failed(
            mgmt,
            op,
            StepFailure {
                step: OperationStep::TakeSnapshot,
                failure,
                module_running: stopped.running_after(&restarted),
            },
        )),
        (Ok(_), Err(failure)) => Err(failed(
            mgmt,
            op,
            StepFailure {
                step: OperationStep::Start,
                failure,
                module_running: false,
            },
        )),
    }
}

/// Resolves the snapshot to act on: the given id (which must exist) or `default`.
fn resolve<'a>(
    name: &str,
    held: &'a [IcSnapshot],
    id: Option<&[u8]>,
    default: impl FnOnce(&'a [IcSnapshot]) -> Result<&'a IcSnapshot, SnapshotError>,
) -> Result<&'a IcSnapshot, SnapshotError> {
    match id {
        Some(id) => {
            held.iter()
                .find(|s| s.id == id)
                .ok_or_else(|| SnapshotError::SnapshotNotFound {
                    module: name.to_string(),
                    id: id.to_vec().into(),
                })
        }
        None => default(held),
    }
}

/// Closes `op` as failed before anything was touched, returning `error` as is.
fn refused<M: Management>(mgmt: &M, op: Operation, error: SnapshotError) -> SnapshotError {
    op.fail(error.to_string(), mgmt.now());
    error
}

/// lock → list → stop → load (the given snapshot, or the newest) → start, always → unlock.
pub async fn restore<M: Management>(
    mgmt: &M,
    caller: Principal,
    name: &str,
    id: Option<Vec<u8>>,
) -> Result<SnapshotInfo, SnapshotError> {
    // 1. Lock.
    let (module, lock) = lock_module(name, OperationKind::RestoreSnapshot)?;
    let op = Operation::begin(
        name,
        OperationKind::RestoreSnapshot,
        caller,
        Trigger::Manual,
        mgmt.now(),
    );
    lock.set_operation_id(op.id());
    let canister = module.canister_id;

    // 2. Find the snapshot on the IC (the IC's list is the truth, not our records).
    let held = match op
        .run(
            mgmt,
            OperationStep::ListSnapshots,
            mgmt.list_snapshots(canister),
        )
        .await
    {
        Ok(held) => held,
        Err(failure) => {
            return Err(failed(
                mgmt,
                op,
                StepFailure {
                    step: OperationStep::ListSnapshots,
                    failure,
                    module_running: true,
                },
            ));
        }
    };
    let target = match resolve(name, &held, id.as_deref(), |held| {
        newest(held).ok_or_else(|| SnapshotError::NoSnapshot {
            module: name.to_string(),
        })
    }) {
        Ok(target) => target.clone(),
        Err(error) => return Err(refused(mgmt, op, error)),
    };
    op.set_snapshot(&target.id, mgmt.now());

    // 3. Stop: loading into a running canister would race its messages.
    let stopped = match control::stop_if_running(mgmt, &op, canister).await {
        Ok(stopped) => stopped,
        Err(failure) => return Err(failed(mgmt, op, failure)),
    };

    // 4. Load.
    let loaded = op
        .run(
            mgmt,
            OperationStep::LoadSnapshot,
            mgmt.load_snapshot(canister, target.id.clone()),
        )
        .await;

    // 5. Restart, always.
    let restarted = control::restart_if_stopped_by_us(mgmt, &op, canister, stopped).await;

    // 6. Report.
    let record = read_state(|s| s.snapshots.get(&SnapshotKey::new(name, &target.id)));
    match (loaded, restarted) {
        (Ok(()), Ok(())) => {
            op.complete(mgmt.now());
            Ok(info(name, &target, record.map(|r| r.0)))
        }
        (Err(failure), restarted) => Err(failed(
            mgmt,
            op,
            StepFailure {
                step: OperationStep::LoadSnapshot,
                failure,
                module_running: stopped.running_after(&restarted),
            },
        )),
        (Ok(()), Err(failure)) => Err(failed(
            mgmt,
            op,
            StepFailure {
                step: OperationStep::Start,
                failure,
                module_running: false,
            },
        )),
    }
}

/// lock → list → delete (the given snapshot, or the only one) → unlock. Without an id,
/// several snapshots are refused: deleting one the user still needs is not a default.
pub async fn delete<M: Management>(
    mgmt: &M,
    caller: Principal,
    name: &str,
    id: Option<Vec<u8>>,
) -> Result<SnapshotInfo, SnapshotError> {
    // 1. Lock.
    let (module, lock) = lock_module(name, OperationKind::DeleteSnapshot)?;
    let op = Operation::begin(
        name,
        OperationKind::DeleteSnapshot,
        caller,
        Trigger::Manual,
        mgmt.now(),
    );
    lock.set_operation_id(op.id());
    let canister = module.canister_id;

    // 2. Find it.
    let held = match op
        .run(
            mgmt,
            OperationStep::ListSnapshots,
            mgmt.list_snapshots(canister),
        )
        .await
    {
        Ok(held) => held,
        Err(failure) => {
            return Err(failed(
                mgmt,
                op,
                StepFailure {
                    step: OperationStep::ListSnapshots,
                    failure,
                    module_running: true,
                },
            ));
        }
    };
    let target = match resolve(name, &held, id.as_deref(), |held| match held {
        [] => Err(SnapshotError::NoSnapshot {
            module: name.to_string(),
        }),
        [only] => Ok(only),
        several => Err(SnapshotError::AmbiguousSnapshot {
            module: name.to_string(),
            count: several.len() as u32,
        }),
    }) {
        Ok(target) => target.clone(),
        Err(error) => return Err(refused(mgmt, op, error)),
    };
    op.set_snapshot(&target.id, mgmt.now());

    // 3. Delete, then forget our record of it.
    if let Err(failure) = op
        .run(
            mgmt,
            OperationStep::DeleteSnapshot,
            mgmt.delete_snapshot(canister, target.id.clone()),
        )
        .await
    {
        return Err(failed(
            mgmt,
            op,
            StepFailure {
                step: OperationStep::DeleteSnapshot,
                failure,
                module_running: true,
            },
        ));
    }
    let record = mutate_state(|s| s.snapshots.remove(&SnapshotKey::new(name, &target.id)));
    op.complete(mgmt.now());
    Ok(info(name, &target, record.map(|r| r.0)))
}

/// The module's snapshots as the IC lists them, with the orchestrator's labels and triggers.
/// Snapshots taken elsewhere are marked external; records of snapshots deleted elsewhere are
/// dropped.
pub async fn list<M: Management>(mgmt: &M, name: &str) -> Result<Vec<SnapshotInfo>, SnapshotError> {
    let module = registry::get(name).ok_or_else(|| SnapshotError::ModuleNotFound {
        name: name.to_string(),
    })?;
    // Only records that existed before the call can be stale: one written meanwhile belongs
    // to a snapshot taken after the call was made.
    let recorded_before: Vec<Vec<u8>> = read_state(|s| {
        s.module_snapshots(name)
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    });
    let mut held = mgmt
        .list_snapshots(module.canister_id)
        .await
        .map_err(SnapshotError::CallFailed)?;
    held.sort_by(|a, b| (a.taken_at, &a.id).cmp(&(b.taken_at, &b.id)));
    mutate_state(|s| {
        for id in recorded_before {
            if !held.iter().any(|h| h.id == id) {
                s.snapshots.remove(&SnapshotKey::new(name, &id));
            }
        }
    });
    Ok(held
        .iter()
        .map(|snapshot| {
            let record = read_state(|s| s.snapshots.get(&SnapshotKey::new(name, &snapshot.id)));
            info(name, snapshot, record.map(|r| r.0))
        })
        .collect())
}
