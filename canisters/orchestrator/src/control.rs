//! Stopping and restarting a module around an operation: stop only a module that runs, and
//! restart every module the orchestrator stopped, whatever happened in between.

use candid::Principal;
use orchestrator_api::{CallFailure, ImportError, OperationStep, SnapshotError};

use crate::history::Operation;
use crate::mgmt::{IcSnapshot, Management, RunStatus};

/// A step that failed, and whether the module runs afterwards.
#[derive(Debug)]
pub struct StepFailure {
    pub step: OperationStep,
    pub failure: CallFailure,
    pub module_running: bool,
}

/// What an endpoint reports of an operation closed at a failed step: its error's
/// `OperationFailed` variant.
pub struct FailedStep {
    pub operation_id: u64,
    pub step: OperationStep,
    pub reason: String,
    pub module_running: bool,
}

/// Closes `op` as failed at `failure`'s step (saying so when the module is left not running)
/// and builds the endpoint's error for it.
pub fn close_failed_at_step<E: From<FailedStep>>(
    op: Operation,
    failure: StepFailure,
    now: u64,
) -> E {
    let operation_id = op.id();
    let reason = failure.failure.to_string();
    let mut summary = format!("{} failed: {reason}", failure.step);
    if !failure.module_running {
        summary.push_str("; the module is not running");
    }
    op.close_failed(summary, now);
    E::from(FailedStep {
        operation_id,
        step: failure.step,
        reason,
        module_running: failure.module_running,
    })
}

/// `From<FailedStep>` for each error enum with an `OperationFailed { operation_id, step,
/// reason, module_running }` variant.
macro_rules! failed_step_converts_into {
    ($($error:ty),+) => {$(
        impl From<FailedStep> for $error {
            fn from(failed: FailedStep) -> Self {
                Self::OperationFailed {
                    operation_id: failed.operation_id,
                    step: failed.step,
                    reason: failed.reason,
                    module_running: failed.module_running,
                }
            }
        }
    )+};
}

failed_step_converts_into!(SnapshotError, ImportError);

/// Whether the orchestrator stopped the module for the operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// It ran and the orchestrator stopped it: it must be restarted.
    ByUs,
    /// It was not running; it is left as it was.
    WasNotRunning,
    /// The operation does not stop it (`stop_for_snapshot` is off); it kept running.
    NotAsked,
}

impl Stopped {
    /// Whether the module runs after the operation, given how the restart went.
    pub fn running_after(self, restarted: &Result<(), CallFailure>) -> bool {
        match self {
            Self::ByUs => restarted.is_ok(),
            Self::WasNotRunning => false,
            Self::NotAsked => true,
        }
    }
}

/// The outcome of an action done while the module was stopped (`step`: take, load) and of the
/// restart that always follows it: the action's failure comes first (with whether the module
/// runs afterwards), then a failed restart (the module is left stopped).
pub fn settle<T>(
    step: OperationStep,
    action: Result<T, CallFailure>,
    stopped: Stopped,
    restarted: Result<(), CallFailure>,
) -> Result<T, StepFailure> {
    match (action, restarted) {
        (Ok(value), Ok(())) => Ok(value),
        (Err(failure), restarted) => Err(StepFailure {
            step,
            failure,
            module_running: stopped.running_after(&restarted),
        }),
        (Ok(_), Err(failure)) => Err(StepFailure {
            step: OperationStep::Start,
            failure,
            module_running: false,
        }),
    }
}

/// Lists the module's snapshots as a recorded step (the IC's list: it counts snapshots taken
/// elsewhere too). Nothing has been touched yet when it fails, so the module still runs.
pub async fn list_held<M: Management>(
    mgmt: &M,
    op: &Operation,
    canister: Principal,
) -> Result<Vec<IcSnapshot>, StepFailure> {
    op.run(
        mgmt,
        OperationStep::ListSnapshots,
        mgmt.list_snapshots(canister),
    )
    .await
    .map_err(|failure| StepFailure {
        step: OperationStep::ListSnapshots,
        failure,
        module_running: true,
    })
}

/// Reads the module's status, then stops it if it runs. A failed stop is followed by a start
/// at once (the module may be left in the Stopping state otherwise).
pub async fn stop_if_running<M: Management>(
    mgmt: &M,
    op: &Operation,
    canister: Principal,
) -> Result<Stopped, StepFailure> {
    let status = op
        .run(
            mgmt,
            OperationStep::CheckStatus,
            mgmt.canister_status(canister),
        )
        .await
        .map_err(|failure| StepFailure {
            step: OperationStep::CheckStatus,
            failure,
            module_running: true,
        })?;
    if status.status != RunStatus::Running {
        op.skip_step(
            OperationStep::Stop,
            "the module was not running; it is left stopped",
            mgmt.now(),
        );
        return Ok(Stopped::WasNotRunning);
    }
    if let Err(failure) = op
        .run(mgmt, OperationStep::Stop, mgmt.stop_canister(canister))
        .await
    {
        let module_running = start(mgmt, op, canister, OperationStep::Start)
            .await
            .is_ok();
        return Err(StepFailure {
            step: OperationStep::Stop,
            failure,
            module_running,
        });
    }
    Ok(Stopped::ByUs)
}

/// Starts the module, recorded as `step`.
pub async fn start<M: Management>(
    mgmt: &M,
    op: &Operation,
    canister: Principal,
    step: OperationStep,
) -> Result<(), CallFailure> {
    op.run(mgmt, step, mgmt.start_canister(canister)).await
}

/// Restarts the module if the orchestrator stopped it.
pub async fn restart_if_stopped_by_us<M: Management>(
    mgmt: &M,
    op: &Operation,
    canister: Principal,
    stopped: Stopped,
) -> Result<(), CallFailure> {
    match stopped {
        Stopped::ByUs => start(mgmt, op, canister, OperationStep::Start).await,
        Stopped::WasNotRunning => {
            op.skip_step(
                OperationStep::Start,
                "the module was not running before; it is left stopped",
                mgmt.now(),
            );
            Ok(())
        }
        Stopped::NotAsked => Ok(()),
    }
}
