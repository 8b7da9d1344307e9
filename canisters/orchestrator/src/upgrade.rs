//! Upgrading a module with a staged wasm, the way a console triggers it:
//! stop → snapshot → install → start, always → health check → on failure, roll back to the
//! pre-upgrade snapshot (stop → load → start). The report lists every step that ran.

use candid::Principal;
use orchestrator_api::{
    CallFailure, OnExisting, OperationKind, OperationStep, Trigger, UpgradeArgs, UpgradeError,
    UpgradeOutcome, UpgradeReport,
};

use crate::control::{self, Stopped};
use crate::history::Operation;
use crate::mgmt::Management;
use crate::snapshots::{record_taken, replaceable};
use crate::store::snapshot_meta;
use crate::{registry, staging};

/// Largest wasm + argument sent in one `install_code` message. Calls to the management
/// canister are routed to the module's subnet, and a cross-subnet message carries at most
/// 2 MiB; the rest is headroom for the candid envelope. Larger wasms go through the chunk store.
pub const DIRECT_INSTALL_LIMIT: usize = 1_900_000;

/// Chunk size for the module's chunk store (the IC's maximum, 1 MiB).
pub const CHUNK_SIZE: usize = 1024 * 1024;

/// Closes the operation and builds the report.
fn finish<M: Management>(
    mgmt: &M,
    name: &str,
    op: Operation,
    snapshot_id: Option<Vec<u8>>,
    outcome: UpgradeOutcome,
) -> UpgradeReport {
    // The pre-upgrade snapshot is kept from automatic deletion until the next successful
    // upgrade: a success hands the protection over to its own snapshot (or to none); a
    // failure adds its snapshot to the ones already kept.
    snapshot_meta::mark_kept_for_upgrade(
        name,
        snapshot_id.as_deref(),
        outcome == UpgradeOutcome::Upgraded,
    );
    let report = UpgradeReport {
        operation_id: op.id(),
        steps: op.steps(),
        snapshot_id: snapshot_id.map(Into::into),
        outcome,
    };
    match &report.outcome {
        UpgradeOutcome::Upgraded => op.close_completed(mgmt.now()),
        UpgradeOutcome::RolledBack {
            failed_step,
            reason,
        } => op.close_failed(
            format!("{failed_step} failed ({reason}); rolled back to the pre-upgrade snapshot"),
            mgmt.now(),
        ),
        UpgradeOutcome::Failed {
            failed_step,
            reason,
            no_rollback_because,
            ..
        } => op.close_failed(
            format!("{failed_step} failed ({reason}); no rollback: {no_rollback_because}"),
            mgmt.now(),
        ),
        UpgradeOutcome::RollbackFailed {
            failed_step,
            rollback_step,
            rollback_error,
            ..
        } => op.close_failed(
            format!(
                "{failed_step} failed and the rollback failed at {rollback_step}: {rollback_error}"
            ),
            mgmt.now(),
        ),
    }
    report
}

/// Closes the operation as failed at a call made before the module was touched (a listing or
/// a status read) and builds the `PreflightFailed` that reports it.
fn close_preflight_failed<M: Management>(
    mgmt: &M,
    op: Operation,
    failure: CallFailure,
) -> UpgradeError {
    let operation_id = op.id();
    op.close_failed(
        format!("{failure} (the module was not touched)"),
        mgmt.now(),
    );
    UpgradeError::PreflightFailed {
        operation_id,
        failure,
    }
}

/// Installs the wasm in upgrade mode: in one message when it fits, otherwise through the
/// module's chunk store, which is cleared afterwards on every path. `member` names the module
/// in a group operation's steps (none for a single upgrade).
pub async fn install<M: Management>(
    mgmt: &M,
    op: &Operation,
    member: Option<&str>,
    canister: Principal,
    wasm: &[u8],
    wasm_hash: &[u8],
    arg: &[u8],
) -> Result<(), (OperationStep, CallFailure)> {
    if wasm.len() + arg.len() <= DIRECT_INSTALL_LIMIT {
        return op
            .run_as(
                mgmt,
                member,
                OperationStep::Install,
                mgmt.install_code(canister, wasm, arg),
            )
            .await
            .map_err(|f| (OperationStep::Install, f));
    }
    let uploaded = op
        .run_as(mgmt, member, OperationStep::UploadChunks, async {
            let mut hashes = Vec::with_capacity(wasm.len().div_ceil(CHUNK_SIZE));
            for chunk in wasm.chunks(CHUNK_SIZE) {
                hashes.push(mgmt.upload_chunk(canister, chunk).await?);
            }
            Ok(hashes)
        })
        .await;
    let installed = match uploaded {
        Ok(hashes) => op
            .run_as(
                mgmt,
                member,
                OperationStep::Install,
                mgmt.install_chunked_code(canister, hashes, wasm_hash.to_vec(), arg),
            )
            .await
            .map_err(|f| (OperationStep::Install, f)),
        Err(f) => Err((OperationStep::UploadChunks, f)),
    };
    // A failed clear leaves chunks in the module's store (the history says so) but does not
    // change what the module runs, so it does not fail the upgrade.
    let _ = op
        .run_as(
            mgmt,
            member,
            OperationStep::ClearChunkStore,
            mgmt.clear_chunk_store(canister),
        )
        .await;
    installed
}

/// Upgrades module `name` with the committed staged wasm `args.wasm_hash`.
pub async fn upgrade<M: Management>(
    mgmt: &M,
    caller: Principal,
    name: &str,
    args: UpgradeArgs,
) -> Result<UpgradeReport, UpgradeError> {
    // 1. Lock, and validate.
    let (module, lock) = registry::lock_module(name, OperationKind::Upgrade, mgmt.now())?;
    let wasm = staging::committed_wasm(&args.wasm_hash, mgmt.now()).ok_or_else(|| {
        UpgradeError::WasmNotStaged {
            wasm_hash: args.wasm_hash.clone(),
        }
    })?;
    let op = Operation::begin(
        name,
        OperationKind::Upgrade,
        caller,
        Trigger::Manual,
        mgmt.now(),
    );
    lock.set_operation_id(op.id());
    let canister = module.canister_id;

    // 2. Plan the pre-upgrade snapshot; `on_existing = fail` refuses before touching anything.
    let mut take = args
        .snapshot
        .unwrap_or(module.settings.snapshot_before_upgrade);
    let mut replace = None;
    if !take {
        let why = if args.snapshot == Some(false) {
            "opted out for this upgrade"
        } else {
            "snapshot_before_upgrade is off for this module"
        };
        op.skip_step(OperationStep::TakeSnapshot, why, mgmt.now());
    } else {
        let held = match op
            .run(
                mgmt,
                OperationStep::ListSnapshots,
                mgmt.list_snapshots(canister),
            )
            .await
        {
            Ok(held) => held,
            Err(failure) => return Err(close_preflight_failed(mgmt, op, failure)),
        };
        let max = module.settings.max_snapshots;
        if held.len() >= usize::from(max) {
            match args.on_existing {
                OnExisting::Replace => match replaceable(name, &held, Trigger::Upgrade) {
                    Ok(id) => replace = Some(id),
                    Err(_) => {
                        let error = UpgradeError::SlotsPinned {
                            module: name.to_string(),
                            held: held.len() as u32,
                            max,
                        };
                        return Err(op.close_refused(error, mgmt.now()));
                    }
                },
                OnExisting::Keep => {
                    take = false;
                    op.skip_step(
                        OperationStep::TakeSnapshot,
                        "the snapshot slots are full and on_existing = keep: the existing snapshots are kept",
                        mgmt.now(),
                    );
                }
                OnExisting::Fail => {
                    let error = UpgradeError::SnapshotSlotsFull {
                        module: name.to_string(),
                        held: held.len() as u32,
                        max,
                    };
                    return Err(op.close_refused(error, mgmt.now()));
                }
            }
        }
    }

    // 3. Stop.
    let stopped = match control::stop_if_running(mgmt, &op, canister).await {
        Ok(stopped) => stopped,
        Err(failure) if failure.step == OperationStep::CheckStatus => {
            return Err(close_preflight_failed(mgmt, op, failure.failure));
        }
        Err(failure) => {
            let outcome = UpgradeOutcome::Failed {
                failed_step: failure.step,
                reason: failure.failure.to_string(),
                no_rollback_because: "nothing was changed".into(),
                module_running: failure.module_running,
            };
            return Ok(finish(mgmt, name, op, None, outcome));
        }
    };

    // 4. Snapshot. Without the snapshot that was asked for, the upgrade does not go on.
    let mut snapshot_id = None;
    if take {
        match op
            .run(
                mgmt,
                OperationStep::TakeSnapshot,
                mgmt.take_snapshot(canister, replace.clone()),
            )
            .await
        {
            Ok(snapshot) => {
                op.set_snapshot(&snapshot.id, mgmt.now());
                let label = format!("before upgrade to {}", hex::encode(&args.wasm_hash[..8]));
                record_taken(
                    name,
                    &snapshot,
                    replace.as_deref(),
                    Some(label),
                    Trigger::Upgrade,
                    false,
                );
                snapshot_id = Some(snapshot.id);
            }
            Err(failure) => {
                let restarted =
                    control::restart_if_stopped_by_us(mgmt, &op, canister, stopped).await;
                let outcome = UpgradeOutcome::Failed {
                    failed_step: OperationStep::TakeSnapshot,
                    reason: failure.to_string(),
                    no_rollback_because:
                        "the upgrade stopped before the install: nothing was changed".into(),
                    module_running: stopped.running_after(&restarted),
                };
                return Ok(finish(mgmt, name, op, None, outcome));
            }
        }
    }

    // 5. Install. 6. Start, always.
    let installed = install(mgmt, &op, None, canister, &wasm, &args.wasm_hash, &args.arg).await;
    let restarted = control::restart_if_stopped_by_us(mgmt, &op, canister, stopped).await;

    // 7. Health check, when the new code runs.
    let failure = match (installed, &restarted) {
        (Err((step, f)), _) => Some((step, f.to_string())),
        (Ok(()), Err(f)) => Some((OperationStep::Start, f.to_string())),
        (Ok(()), Ok(())) => match &module.settings.health_check {
            None => None,
            Some(_) if stopped == Stopped::WasNotRunning => {
                op.skip_step(
                    OperationStep::HealthCheck,
                    "the module was stopped before the upgrade and is left stopped",
                    mgmt.now(),
                );
                None
            }
            Some(method) => op
                .run(
                    mgmt,
                    OperationStep::HealthCheck,
                    mgmt.health_check(canister, method),
                )
                .await
                .err()
                .map(|f| (OperationStep::HealthCheck, f.to_string())),
        },
    };
    let Some((failed_step, reason)) = failure else {
        return Ok(finish(
            mgmt,
            name,
            op,
            snapshot_id,
            UpgradeOutcome::Upgraded,
        ));
    };

    // 8. Roll back: stop → load the pre-upgrade snapshot → start (always).
    let module_running = stopped.running_after(&restarted);
    let no_rollback = |why: &str| UpgradeOutcome::Failed {
        failed_step,
        reason: reason.clone(),
        no_rollback_because: why.to_string(),
        module_running,
    };
    if !args.rollback_on_failure {
        let outcome = no_rollback("rollback_on_failure is off");
        return Ok(finish(mgmt, name, op, snapshot_id, outcome));
    }
    let Some(snapshot) = snapshot_id.clone() else {
        let outcome = no_rollback("no pre-upgrade snapshot was taken by this upgrade");
        return Ok(finish(mgmt, name, op, snapshot_id, outcome));
    };
    let rollback_failed =
        |rollback_step, error: CallFailure, module_running| UpgradeOutcome::RollbackFailed {
            failed_step,
            reason: reason.clone(),
            rollback_step,
            rollback_error: error.to_string(),
            module_running,
        };
    // Leave the module as the upgrade found it: running, unless it was stopped before.
    let start_again = stopped != Stopped::WasNotRunning;
    if let Err(error) = op
        .run(
            mgmt,
            OperationStep::RollbackStop,
            mgmt.stop_canister(canister),
        )
        .await
    {
        let running = control::start(mgmt, &op, canister, OperationStep::RollbackStart)
            .await
            .is_ok();
        let outcome = rollback_failed(OperationStep::RollbackStop, error, running);
        return Ok(finish(mgmt, name, op, snapshot_id, outcome));
    }
    let loaded = op
        .run(
            mgmt,
            OperationStep::RollbackLoad,
            mgmt.load_snapshot(canister, snapshot),
        )
        .await;
    let restarted = if start_again {
        control::start(mgmt, &op, canister, OperationStep::RollbackStart).await
    } else {
        Ok(())
    };
    let outcome = match (loaded, restarted) {
        (Err(error), restarted) => rollback_failed(
            OperationStep::RollbackLoad,
            error,
            start_again && restarted.is_ok(),
        ),
        (Ok(()), Err(error)) => rollback_failed(OperationStep::RollbackStart, error, false),
        (Ok(()), Ok(())) => UpgradeOutcome::RolledBack {
            failed_step,
            reason,
        },
    };
    Ok(finish(mgmt, name, op, snapshot_id, outcome))
}
