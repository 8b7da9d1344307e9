//! Upgrading a module with a staged wasm, the way a console triggers it:
//! stop → snapshot → install → start, always → health check → on failure, roll back to the
//! pre-upgrade snapshot (stop → load → start). The report lists every step that ran.

use candid::Principal;
use orchestrator_api::{
    CallFailure, OnExisting, OperationKind, OperationStep, Trigger, UpgradeArgs, UpgradeError,
    UpgradeOutcome, UpgradeReport,
};

use crate::flow::{Flow, Stopped};
use crate::history::Operation;
use crate::mgmt::Management;
use crate::snapshots::{record_taken, replaceable};
use crate::staging;
use crate::store::snapshot_meta;

/// Largest wasm + argument sent in one `install_code` message. Calls to the management
/// canister are routed to the module's subnet, and a cross-subnet message carries at most
/// 2 MiB; the rest is headroom for the candid envelope. Larger wasms go through the chunk store.
pub const DIRECT_INSTALL_LIMIT: usize = 1_900_000;

/// Chunk size for the module's chunk store (the IC's maximum, 1 MiB).
pub const CHUNK_SIZE: usize = 1024 * 1024;

/// Ends the flow and builds the report.
fn report<M: Management>(
    mut flow: Flow<'_, M>,
    snapshot_id: Option<Vec<u8>>,
    outcome: UpgradeOutcome,
) -> UpgradeReport {
    // The pre-upgrade snapshot is kept from automatic deletion until the next successful
    // upgrade: a success hands the protection over to its own snapshot (or to none); a
    // failure adds its snapshot to the ones already kept.
    snapshot_meta::mark_kept_for_upgrade(
        flow.name(),
        snapshot_id.as_deref(),
        outcome == UpgradeOutcome::Upgraded,
    );
    let report = UpgradeReport {
        operation_id: flow.id(),
        steps: flow.steps(),
        snapshot_id: snapshot_id.map(Into::into),
        outcome,
    };
    match failure_summary(&report.outcome) {
        None => flow.finish(report),
        Some(reason) => {
            flow.fail_with(reason);
            report
        }
    }
}

/// What the history says of a failed upgrade; none for a success.
fn failure_summary(outcome: &UpgradeOutcome) -> Option<String> {
    Some(match outcome {
        UpgradeOutcome::Upgraded => return None,
        UpgradeOutcome::RolledBack {
            failed_step,
            reason,
        } => format!("{failed_step} failed ({reason}); rolled back to the pre-upgrade snapshot"),
        UpgradeOutcome::Failed {
            failed_step,
            reason,
            no_rollback_because,
            ..
        } => format!("{failed_step} failed ({reason}); no rollback: {no_rollback_because}"),
        UpgradeOutcome::RollbackFailed {
            failed_step,
            rollback_step,
            rollback_error,
            ..
        } => format!(
            "{failed_step} failed and the rollback failed at {rollback_step}: {rollback_error}"
        ),
    })
}

/// Ends the flow as failed at a call made before the module was touched (a listing or a
/// status read) and builds the `PreflightFailed` that reports it.
fn preflight_failed<M: Management>(flow: &mut Flow<'_, M>, failure: CallFailure) -> UpgradeError {
    let operation_id = flow.id();
    flow.fail_with(format!("{failure} (the module was not touched)"));
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

/// The pre-upgrade snapshot, as planned (step 2 of `upgrade`).
enum PreUpgrade {
    /// None is taken (the step is recorded as skipped, and why).
    Skip,
    /// Take one, replacing this snapshot (at `max_snapshots`) or none.
    Take { replace: Option<Vec<u8>> },
}

/// Plans the pre-upgrade snapshot: `args.snapshot` overrides `snapshot_before_upgrade`; a
/// module at `max_snapshots` replaces the oldest replaceable, keeps them all and takes none,
/// or refuses (`on_existing`). A refusal or a failed listing ends the flow.
async fn plan_snapshot<M: Management>(
    flow: &mut Flow<'_, M>,
    args: &UpgradeArgs,
) -> Result<PreUpgrade, UpgradeError> {
    let settings = &flow.module().settings;
    let max = settings.max_snapshots;
    if !args.snapshot.unwrap_or(settings.snapshot_before_upgrade) {
        let why = if args.snapshot == Some(false) {
            "opted out for this upgrade"
        } else {
            "snapshot_before_upgrade is off for this module"
        };
        flow.skip_step(OperationStep::TakeSnapshot, why);
        return Ok(PreUpgrade::Skip);
    }
    let held = match flow.list_held().await {
        Ok(held) => held,
        Err(failure) => return Err(preflight_failed(flow, failure.failure)),
    };
    if held.len() < usize::from(max) {
        return Ok(PreUpgrade::Take { replace: None });
    }
    let module = flow.name().to_string();
    let held_count = held.len() as u32;
    match args.on_existing {
        OnExisting::Replace => match replaceable(&module, &held, Trigger::Upgrade) {
            Ok(id) => Ok(PreUpgrade::Take { replace: Some(id) }),
            Err(_) => Err(flow.refuse(UpgradeError::SlotsPinned {
                module,
                held: held_count,
                max,
            })),
        },
        OnExisting::Keep => {
            flow.skip_step(
                OperationStep::TakeSnapshot,
                "the snapshot slots are full and on_existing = keep: the existing snapshots are kept",
            );
            Ok(PreUpgrade::Skip)
        }
        OnExisting::Fail => Err(flow.refuse(UpgradeError::SnapshotSlotsFull {
            module,
            held: held_count,
            max,
        })),
    }
}

/// Takes the pre-upgrade snapshot (trigger `upgrade`) and records it at once.
async fn take_pre_upgrade<M: Management>(
    flow: &Flow<'_, M>,
    mgmt: &M,
    replace: Option<Vec<u8>>,
    wasm_hash: &[u8],
) -> Result<Vec<u8>, CallFailure> {
    let snapshot = flow
        .run(
            OperationStep::TakeSnapshot,
            mgmt.take_snapshot(flow.canister(), replace.clone()),
        )
        .await?;
    flow.set_snapshot(&snapshot.id);
    let label = format!("before upgrade to {}", hex::encode(&wasm_hash[..8]));
    record_taken(
        flow.name(),
        &snapshot,
        replace.as_deref(),
        Some(label),
        Trigger::Upgrade,
        false,
    );
    Ok(snapshot.id)
}

/// The health check, when the new code runs and the module has one: a reject is unhealthy.
/// Skipped when the module was stopped before the upgrade (and is left stopped).
async fn check_health<M: Management>(
    flow: &Flow<'_, M>,
    mgmt: &M,
) -> Option<(OperationStep, String)> {
    let method = flow.module().settings.health_check.as_ref()?;
    if flow.stopped() == Stopped::WasNotRunning {
        flow.skip_step(
            OperationStep::HealthCheck,
            "the module was stopped before the upgrade and is left stopped",
        );
        return None;
    }
    flow.run(
        OperationStep::HealthCheck,
        mgmt.health_check(flow.canister(), method),
    )
    .await
    .err()
    .map(|f| (OperationStep::HealthCheck, f.to_string()))
}

/// Rolls back to the pre-upgrade `snapshot`: stop → load → start, leaving the module as the
/// upgrade found it (running, unless it was stopped before). `Err` names the rollback step
/// that failed, its error and whether the module runs.
async fn roll_back<M: Management>(
    flow: &Flow<'_, M>,
    mgmt: &M,
    snapshot: Vec<u8>,
) -> Result<(), (OperationStep, CallFailure, bool)> {
    let canister = flow.canister();
    let start_again = flow.stopped() != Stopped::WasNotRunning;
    if let Err(error) = flow
        .run(OperationStep::RollbackStop, mgmt.stop_canister(canister))
        .await
    {
        let running = flow.start(OperationStep::RollbackStart).await.is_ok();
        return Err((OperationStep::RollbackStop, error, running));
    }
    let loaded = flow
        .run(
            OperationStep::RollbackLoad,
            mgmt.load_snapshot(canister, snapshot),
        )
        .await;
    let restarted = if start_again {
        flow.start(OperationStep::RollbackStart).await
    } else {
        Ok(())
    };
    match (loaded, restarted) {
        (Err(error), restarted) => Err((
            OperationStep::RollbackLoad,
            error,
            start_again && restarted.is_ok(),
        )),
        (Ok(()), Err(error)) => Err((OperationStep::RollbackStart, error, false)),
        (Ok(()), Ok(())) => Ok(()),
    }
}

/// Upgrades module `name` with the committed staged wasm `args.wasm_hash`.
pub async fn upgrade<M: Management>(
    mgmt: &M,
    caller: Principal,
    name: &str,
    args: UpgradeArgs,
) -> Result<UpgradeReport, UpgradeError> {
    // 1. Lock, and validate.
    let locked = Flow::lock(mgmt, name, OperationKind::Upgrade)?;
    let wasm = staging::committed_wasm(&args.wasm_hash, mgmt.now()).ok_or_else(|| {
        UpgradeError::WasmNotStaged {
            wasm_hash: args.wasm_hash.clone(),
        }
    })?;
    let mut flow = locked.begin(caller, Trigger::Manual);

    // 2. Plan the pre-upgrade snapshot; `on_existing = fail` refuses before touching anything.
    let plan = plan_snapshot(&mut flow, &args).await?;

    // 3. Stop. (A failed status read is a preflight failure; a failed stop, followed by a
    //    start, ends the upgrade with nothing changed.)
    match flow.stop_if_running().await {
        Ok(()) => {}
        Err(failure) if failure.step == OperationStep::CheckStatus => {
            return Err(preflight_failed(&mut flow, failure.failure));
        }
        Err(failure) => {
            let outcome = UpgradeOutcome::Failed {
                failed_step: failure.step,
                reason: failure.failure.to_string(),
                no_rollback_because: "nothing was changed".into(),
                module_running: failure.module_running,
            };
            return Ok(report(flow, None, outcome));
        }
    }

    // 4. Snapshot. Without the snapshot that was asked for, the upgrade does not go on.
    let snapshot_id = match plan {
        PreUpgrade::Skip => None,
        PreUpgrade::Take { replace } => {
            match take_pre_upgrade(&flow, mgmt, replace, &args.wasm_hash).await {
                Ok(id) => Some(id),
                Err(failure) => {
                    // Whether it runs again is in `flow.running()`.
                    let _ = flow.restart().await;
                    let outcome = UpgradeOutcome::Failed {
                        failed_step: OperationStep::TakeSnapshot,
                        reason: failure.to_string(),
                        no_rollback_because:
                            "the upgrade stopped before the install: nothing was changed".into(),
                        module_running: flow.running(),
                    };
                    return Ok(report(flow, None, outcome));
                }
            }
        }
    };

    // 5. Install. 6. Start, always. 7. Health check, when the new code runs.
    let canister = flow.canister();
    let installed = install(
        mgmt,
        flow.operation(),
        None,
        canister,
        &wasm,
        &args.wasm_hash,
        &args.arg,
    )
    .await;
    let restarted = flow.restart().await;
    let failure = match (installed, restarted) {
        (Err((step, f)), _) => Some((step, f.to_string())),
        (Ok(()), Err(f)) => Some((OperationStep::Start, f.to_string())),
        (Ok(()), Ok(())) => check_health(&flow, mgmt).await,
    };
    let Some((failed_step, reason)) = failure else {
        return Ok(report(flow, snapshot_id, UpgradeOutcome::Upgraded));
    };

    // 8. Roll back: stop → load the pre-upgrade snapshot → start (always).
    let no_rollback = |why: &str| UpgradeOutcome::Failed {
        failed_step,
        reason: reason.clone(),
        no_rollback_because: why.to_string(),
        module_running: flow.running(),
    };
    let outcome = if !args.rollback_on_failure {
        no_rollback("rollback_on_failure is off")
    } else if let Some(snapshot) = snapshot_id.clone() {
        match roll_back(&flow, mgmt, snapshot).await {
            Ok(()) => UpgradeOutcome::RolledBack {
                failed_step,
                reason,
            },
            Err((rollback_step, error, module_running)) => UpgradeOutcome::RollbackFailed {
                failed_step,
                reason,
                rollback_step,
                rollback_error: error.to_string(),
                module_running,
            },
        }
    } else {
        no_rollback("no pre-upgrade snapshot was taken by this upgrade")
    };
    Ok(report(flow, snapshot_id, outcome))
}
