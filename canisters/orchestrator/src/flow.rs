//! The flow context: what one operation on one module holds while it runs — the module's
//! record, its lock, its history record, the management handle and what the flow stopped —
//! and the steps the flows share (list, stop if running, restart what we stopped). Each step
//! is written to the history before its call goes out and when it returns; a failed step
//! becomes a [`StepFailure`] that says whether the module runs.
//!
//! A flow reads as its list of steps:
//!
//! ```text
//! let mut flow = Flow::open(mgmt, caller, name, kind, trigger)?;     // lock + history
//! let held = flow.list_held().await.map_err(|f| flow.fail(f))?;
//! flow.stop_if_asked().await.map_err(|f| flow.fail(f))?;
//! let taken = flow.run(OperationStep::TakeSnapshot, call).await;
//! let info = flow.restart_and_settle(OperationStep::TakeSnapshot, taken).await.map_err(|f| flow.fail(f))?;
//! Ok(flow.finish(info))
//! ```
//!
//! `finish` ends the flow as completed and consumes it; `fail`, `fail_with`, `refuse` and
//! `skip` end it otherwise and take it by `&mut` so that they fit a `map_err` before `?` —
//! the flow is not used after them (it would panic). Dropping a flow that did not end (a trap)
//! closes its record as interrupted and frees the module, as `Operation` and `ModuleLock` do.
//!
//! Imports: history, lock, registry, mgmt, store records. The per-module flows (snapshots,
//! upgrade, imports) import this module; group flows share only [`Stopped`].

use std::fmt::Display;

use candid::Principal;
use orchestrator_api::{
    CallFailure, ImportError, OperationKind, OperationStep, SnapshotError, StepRecord, Trigger,
};

use crate::history::Operation;
use crate::lock::ModuleLock;
use crate::mgmt::{IcSnapshot, Management, RunStatus};
use crate::registry::{self, Unavailable};
use crate::store::ModuleRecord;

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
    /// The operation does not stop it (`stop_for_snapshot` is off, or it has not stopped it
    /// yet); it keeps running.
    NotAsked,
}

/// A module looked up and locked, before its history record is opened (a flow that validates
/// more under the lock, as the upgrade does with its wasm, refuses without a record).
pub struct Locked<'a, M: Management> {
    mgmt: &'a M,
    name: String,
    kind: OperationKind,
    module: ModuleRecord,
    lock: ModuleLock,
}

impl<'a, M: Management> Locked<'a, M> {
    /// Opens the history record (linked to the lock, so an interrupted operation can be
    /// closed): the flow starts.
    pub fn begin(self, caller: Principal, trigger: Trigger) -> Flow<'a, M> {
        let op = Operation::begin(&self.name, self.kind, caller, trigger, self.mgmt.now());
        self.lock.set_operation_id(op.id());
        Flow::resumed(self.mgmt, self.name, self.module, self.lock, op)
    }
}

/// One operation on one module, under its lock, recorded as it goes.
pub struct Flow<'a, M: Management> {
    mgmt: &'a M,
    name: String,
    module: ModuleRecord,
    /// `None` once the flow has ended.
    op: Option<Operation>,
    stopped: Stopped,
    /// Whether the module runs, as far as the flow knows: an untouched module counts as
    /// running (what a failure before any stop reports).
    running: bool,
    lock: ModuleLock,
}

impl<'a, M: Management> Flow<'a, M> {
    /// Looks module `name` up and takes its lock for `kind` ([`Locked::begin`] opens the
    /// record). Each flow's error converts from [`Unavailable`], so it says `?`.
    pub fn lock(
        mgmt: &'a M,
        name: &str,
        kind: OperationKind,
    ) -> Result<Locked<'a, M>, Unavailable> {
        let (module, lock) = registry::lock_module(name, kind, mgmt.now())?;
        Ok(Locked {
            mgmt,
            name: name.to_string(),
            kind,
            module,
            lock,
        })
    }

    /// Locks module `name` and opens the operation's history record.
    pub fn open(
        mgmt: &'a M,
        caller: Principal,
        name: &str,
        kind: OperationKind,
        trigger: Trigger,
    ) -> Result<Self, Unavailable> {
        Ok(Self::lock(mgmt, name, kind)?.begin(caller, trigger))
    }

    /// Goes on with `op`, which already holds `module`'s `lock` (an import's lease taken back).
    pub fn resumed(
        mgmt: &'a M,
        name: String,
        module: ModuleRecord,
        lock: ModuleLock,
        op: Operation,
    ) -> Self {
        Self {
            mgmt,
            name,
            module,
            op: Some(op),
            stopped: Stopped::NotAsked,
            running: true,
            lock,
        }
    }

    /// The operation's history record; the flow must not have ended.
    pub fn operation(&self) -> &Operation {
        self.op.as_ref().expect("a flow is not used after it ended")
    }

    /// The history id.
    pub fn id(&self) -> u64 {
        self.operation().id()
    }

    /// The module's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The module's record, as read when the flow locked it.
    pub fn module(&self) -> &ModuleRecord {
        &self.module
    }

    /// The module's canister.
    pub fn canister(&self) -> Principal {
        self.module.canister_id
    }

    /// Whether the flow stopped the module.
    pub fn stopped(&self) -> Stopped {
        self.stopped
    }

    /// Whether the module runs, as far as the flow knows.
    pub fn running(&self) -> bool {
        self.running
    }

    /// The steps so far.
    pub fn steps(&self) -> Vec<StepRecord> {
        self.operation().steps()
    }

    /// Records the snapshot the operation took, restored or deleted.
    pub fn set_snapshot(&self, id: &[u8]) {
        self.operation().set_snapshot(id, self.mgmt.now());
    }

    /// Records a step that was not run, and why (the flow goes on).
    pub fn skip_step(&self, step: OperationStep, reason: &str) {
        self.operation().skip_step(step, reason, self.mgmt.now());
    }

    /// Runs one step, recorded before the call goes out and when it returns; the flow decides
    /// what a failure means (a call whose failure is settled after a restart).
    pub async fn run<T>(
        &self,
        step: OperationStep,
        call: impl Future<Output = Result<T, CallFailure>>,
    ) -> Result<T, CallFailure> {
        self.operation().run(self.mgmt, step, call).await
    }

    /// Runs one step ([`Self::run`]); a failure says whether the module runs now.
    pub async fn step<T>(
        &self,
        step: OperationStep,
        call: impl Future<Output = Result<T, CallFailure>>,
    ) -> Result<T, StepFailure> {
        let result = self.run(step, call).await;
        result.map_err(|failure| self.failed_at(step, failure))
    }

    fn failed_at(&self, step: OperationStep, failure: CallFailure) -> StepFailure {
        StepFailure {
            step,
            failure,
            module_running: self.running,
        }
    }

    /// Lists the module's snapshots as a recorded step (the IC's list: it counts snapshots
    /// taken elsewhere too).
    pub async fn list_held(&self) -> Result<Vec<IcSnapshot>, StepFailure> {
        let canister = self.canister();
        self.step(
            OperationStep::ListSnapshots,
            self.mgmt.list_snapshots(canister),
        )
        .await
    }

    /// Reads the module's status, then stops it if it runs. A failed stop is followed by a
    /// start at once (the module may be left in the Stopping state otherwise).
    pub async fn stop_if_running(&mut self) -> Result<(), StepFailure> {
        let canister = self.canister();
        let status = self
            .step(
                OperationStep::CheckStatus,
                self.mgmt.canister_status(canister),
            )
            .await?;
        if status.status != RunStatus::Running {
            self.skip_step(
                OperationStep::Stop,
                "the module was not running; it is left stopped",
            );
            self.stopped = Stopped::WasNotRunning;
            self.running = false;
            return Ok(());
        }
        if let Err(failure) = self
            .run(OperationStep::Stop, self.mgmt.stop_canister(canister))
            .await
        {
            self.running = self.start(OperationStep::Start).await.is_ok();
            return Err(self.failed_at(OperationStep::Stop, failure));
        }
        self.stopped = Stopped::ByUs;
        self.running = false;
        Ok(())
    }

    /// [`Self::stop_if_running`] when the module's `stop_for_snapshot` asks for it; otherwise
    /// the stop is recorded as skipped and the module keeps running.
    pub async fn stop_if_asked(&mut self) -> Result<(), StepFailure> {
        if self.module.settings.stop_for_snapshot {
            return self.stop_if_running().await;
        }
        self.skip_step(OperationStep::Stop, "stop_for_snapshot is off");
        Ok(())
    }

    /// Starts the module, recorded as `step` (the flow's own record of what it stopped is left
    /// as it is: a rollback's start).
    pub async fn start(&self, step: OperationStep) -> Result<(), CallFailure> {
        let canister = self.canister();
        self.run(step, self.mgmt.start_canister(canister)).await
    }

    /// Restarts the module if the flow stopped it; [`Self::running`] says whether it runs
    /// afterwards.
    pub async fn restart(&mut self) -> Result<(), CallFailure> {
        let restarted = match self.stopped {
            Stopped::ByUs => self.start(OperationStep::Start).await,
            Stopped::WasNotRunning => {
                self.skip_step(
                    OperationStep::Start,
                    "the module was not running before; it is left stopped",
                );
                Ok(())
            }
            Stopped::NotAsked => Ok(()),
        };
        self.running = match self.stopped {
            Stopped::ByUs => restarted.is_ok(),
            Stopped::WasNotRunning => false,
            Stopped::NotAsked => true,
        };
        restarted
    }

    /// Restarts the module ([`Self::restart`], always) after `action`, done while it was
    /// stopped (`step`: take, load), and settles both: the action's failure comes first (with
    /// whether the module runs afterwards), then a failed restart (the module is left stopped).
    pub async fn restart_and_settle<T>(
        &mut self,
        step: OperationStep,
        action: Result<T, CallFailure>,
    ) -> Result<T, StepFailure> {
        let restarted = self.restart().await;
        match (action, restarted) {
            (Ok(value), Ok(())) => Ok(value),
            (Err(failure), _) => Err(self.failed_at(step, failure)),
            (Ok(_), Err(failure)) => Err(self.failed_at(OperationStep::Start, failure)),
        }
    }

    /// Loads snapshot `id` into the module: stop if running → load → restart what the flow
    /// stopped, always (loading into a running canister would race its messages).
    pub async fn load(&mut self, id: Vec<u8>) -> Result<(), StepFailure> {
        self.stop_if_running().await?;
        let canister = self.canister();
        let loaded = self
            .run(
                OperationStep::LoadSnapshot,
                self.mgmt.load_snapshot(canister, id),
            )
            .await;
        self.restart_and_settle(OperationStep::LoadSnapshot, loaded)
            .await
    }

    // The methods below end the flow.

    fn end(&mut self) -> Operation {
        self.op.take().expect("a flow ends once")
    }

    /// Ends the flow as completed, with its result.
    pub fn finish<T>(mut self, value: T) -> T {
        let now = self.mgmt.now();
        self.end().close_completed(now);
        value
    }

    /// Ends the flow as failed at `failure`'s step (saying so when the module is left not
    /// running); the endpoint's error converts from what it returns.
    pub fn fail(&mut self, failure: StepFailure) -> FailedStep {
        let reason = failure.failure.to_string();
        let mut summary = format!("{} failed: {reason}", failure.step);
        if !failure.module_running {
            summary.push_str("; the module is not running");
        }
        let operation_id = self.id();
        self.fail_with(summary);
        FailedStep {
            operation_id,
            step: failure.step,
            reason,
            module_running: failure.module_running,
        }
    }

    /// Ends the flow as failed, for `reason`.
    pub fn fail_with(&mut self, reason: String) {
        let now = self.mgmt.now();
        self.end().close_failed(reason, now);
    }

    /// Ends the flow as refused before it touched the module: the error is its reason, and is
    /// returned for the endpoint to report.
    pub fn refuse<E: Display>(&mut self, error: E) -> E {
        let now = self.mgmt.now();
        self.end().close_refused(error, now)
    }

    /// Ends the flow as skipped — not run at all (a scheduled run that found nothing it may
    /// do) — for the reason `error` gives; returns it.
    pub fn skip<E: Display>(&mut self, error: E) -> E {
        let now = self.mgmt.now();
        self.end().close_skipped(error.to_string(), now);
        error
    }

    /// Leaves the operation in progress with `step` running (done by someone else: an import's
    /// client) and keeps the lock after this message as a lease until `expires_at`.
    pub fn hand_over(mut self, step: OperationStep, expires_at: u64, replace: Option<Vec<u8>>) {
        let op = self.end();
        op.begin_external(step, self.mgmt.now());
        op.detach();
        self.lock.into_lease(expires_at, replace);
    }
}
