//! The audit history: each operation is written to stable memory when it starts and after
//! every step, so an operation in progress is visible with its current step, and whatever a
//! trap interrupts is still on record.

use candid::Principal;
use orchestrator_api::{
    CallFailure, HistoryPage, HistoryQuery, OperationKind, OperationRecord, OperationStatus,
    OperationStep, StepOutcome, StepRecord, Trigger,
};

use crate::mgmt::Management;
use crate::store::operations;

/// Most operations one `history` page returns.
pub const MAX_PAGE: u32 = 100;

/// An operation being recorded. Dropping it unfinished (a trapped callback) marks it failed.
pub struct Operation {
    id: u64,
    finished: bool,
    last_time: std::cell::Cell<u64>,
}

impl Operation {
    /// Records a new operation, in progress.
    pub fn begin(
        module: &str,
        kind: OperationKind,
        caller: Principal,
        trigger: Trigger,
        now: u64,
    ) -> Self {
        let id = operations::insert_next(|id| OperationRecord {
            id,
            module: module.to_string(),
            kind,
            caller,
            trigger,
            started_at: now,
            finished_at: None,
            steps: Vec::new(),
            status: OperationStatus::InProgress,
            snapshot_id: None,
        });
        Self {
            id,
            finished: false,
            last_time: now.into(),
        }
    }

    /// Leaves the operation in progress after this message (an import waits for its client);
    /// [`Self::resume`] picks it up again.
    pub fn detach(mut self) {
        self.finished = true;
    }

    /// An operation in progress recorded earlier, to go on with; none if it is not in progress.
    pub fn resume(id: u64, now: u64) -> Option<Self> {
        let record = get(id)?;
        (record.status == OperationStatus::InProgress).then(|| Self {
            id,
            finished: false,
            last_time: now.into(),
        })
    }

    /// Records a step made by someone else (an import's client) as running from `now`.
    pub fn begin_external(&self, step: OperationStep, now: u64) {
        self.update(now, |r| {
            r.steps.push(StepRecord {
                step,
                outcome: StepOutcome::Running,
                started_at: now,
                finished_at: None,
                module: None,
            })
        });
    }

    /// Closes the running step pushed by [`Self::begin_external`] with `outcome`.
    pub fn end_external(&self, step: OperationStep, outcome: StepOutcome, now: u64) {
        self.update(now, |r| {
            if let Some(last) = r
                .steps
                .iter_mut()
                .rev()
                .find(|s| s.step == step && s.outcome == StepOutcome::Running)
            {
                last.outcome = outcome;
                last.finished_at = Some(now);
            }
        });
    }

    /// The history id.
    pub fn id(&self) -> u64 {
        self.id
    }

    fn update(&self, now: u64, f: impl FnOnce(&mut OperationRecord)) {
        self.last_time.set(now);
        let updated = operations::update(self.id, f);
        assert!(updated, "an operation being recorded exists");
    }

    /// Runs one step: records it as running (committed before the await, so it is visible
    /// while the call is out), awaits it, records its outcome.
    pub async fn run<M: Management, T>(
        &self,
        mgmt: &M,
        step: OperationStep,
        call: impl Future<Output = Result<T, CallFailure>>,
    ) -> Result<T, CallFailure> {
        let started_at = mgmt.now();
        self.update(started_at, |r| {
            r.steps.push(StepRecord {
                step,
                outcome: StepOutcome::Running,
                started_at,
                finished_at: None,
                module: None,
            })
        });
        let result = call.await;
        let finished_at = mgmt.now();
        let outcome = match &result {
            Ok(_) => StepOutcome::Ok,
            Err(e) => StepOutcome::Failed(e.to_string()),
        };
        self.update(finished_at, |r| {
            let last = r.steps.last_mut().expect("the step just pushed");
            last.outcome = outcome;
            last.finished_at = Some(finished_at);
        });
        result
    }

    /// Runs one step of a group operation on member `module`. Members' steps run concurrently,
    /// so the outcome is written to the step this call pushed (by index), not to the last one.
    pub async fn run_member<M: Management, T>(
        &self,
        mgmt: &M,
        module: &str,
        step: OperationStep,
        call: impl Future<Output = Result<T, CallFailure>>,
    ) -> Result<T, CallFailure> {
        let started_at = mgmt.now();
        let mut index = 0;
        self.update(started_at, |r| {
            index = r.steps.len();
            r.steps.push(StepRecord {
                step,
                outcome: StepOutcome::Running,
                started_at,
                finished_at: None,
                module: Some(module.to_string()),
            })
        });
        let result = call.await;
        let finished_at = mgmt.now();
        let outcome = match &result {
            Ok(_) => StepOutcome::Ok,
            Err(e) => StepOutcome::Failed(e.to_string()),
        };
        self.update(finished_at, |r| {
            let pushed = &mut r.steps[index];
            pushed.outcome = outcome;
            pushed.finished_at = Some(finished_at);
        });
        result
    }

    /// Runs one step, of member `module` in a group operation ([`Self::run_member`]) or of the
    /// operation's own module ([`Self::run`]): for code shared by both (the install).
    pub async fn run_as<M: Management, T>(
        &self,
        mgmt: &M,
        module: Option<&str>,
        step: OperationStep,
        call: impl Future<Output = Result<T, CallFailure>>,
    ) -> Result<T, CallFailure> {
        match module {
            Some(module) => self.run_member(mgmt, module, step, call).await,
            None => self.run(mgmt, step, call).await,
        }
    }

    /// Records a step of member `module` that was not run, and why (the operation goes on).
    pub fn skip_member_step(&self, module: &str, step: OperationStep, reason: &str, now: u64) {
        self.update(now, |r| {
            r.steps.push(StepRecord {
                step,
                outcome: StepOutcome::Skipped(reason.to_string()),
                started_at: now,
                finished_at: Some(now),
                module: Some(module.to_string()),
            })
        });
    }

    /// Records a step that was not run, and why (the operation goes on; compare
    /// [`Self::close_skipped`], which ends the whole operation as not run).
    pub fn skip_step(&self, step: OperationStep, reason: &str, now: u64) {
        self.update(now, |r| {
            r.steps.push(StepRecord {
                step,
                outcome: StepOutcome::Skipped(reason.to_string()),
                started_at: now,
                finished_at: Some(now),
                module: None,
            })
        });
    }

    /// Records the snapshot the operation took, restored or deleted.
    pub fn set_snapshot(&self, id: &[u8], now: u64) {
        self.update(now, |r| r.snapshot_id = Some(id.to_vec().into()));
    }

    /// The steps so far.
    pub fn steps(&self) -> Vec<StepRecord> {
        get(self.id).map(|r| r.steps).unwrap_or_default()
    }

    // The `close_*` methods end the operation (they take it by value); the methods above
    // record one step of it.

    /// Closes the operation as completed.
    pub fn close_completed(mut self, now: u64) {
        self.close(OperationStatus::Completed, now);
    }

    /// Closes the operation as failed, for this reason.
    pub fn close_failed(mut self, reason: String, now: u64) {
        self.close(OperationStatus::Failed(reason), now);
    }

    /// Closes the operation as refused before it touched the module: the error is its reason,
    /// and is returned as is for the endpoint to report.
    pub fn close_refused<E: std::fmt::Display>(self, error: E, now: u64) -> E {
        self.close_failed(error.to_string(), now);
        error
    }

    /// Closes the operation as skipped: not run at all, for this reason (a scheduled run that
    /// found nothing it may do).
    pub fn close_skipped(mut self, reason: String, now: u64) {
        self.close(OperationStatus::Skipped(reason), now);
    }

    fn close(&mut self, status: OperationStatus, now: u64) {
        self.finished = true;
        self.update(now, |r| {
            r.status = status;
            r.finished_at = Some(now);
        });
    }
}

impl Drop for Operation {
    fn drop(&mut self) {
        if !self.finished {
            let now = self.last_time.get();
            self.close(
                OperationStatus::Failed(
                    "interrupted: the orchestrator trapped during this operation; check the \
                     module's state (it may be stopped)"
                        .into(),
                ),
                now,
            );
        }
    }
}

/// A page of the history, newest first.
pub fn page(query: &HistoryQuery) -> HistoryPage {
    let limit = query.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE) as usize;
    let mut operations = Vec::with_capacity(limit);
    let mut next = None;
    operations::scan_newest_first(
        query.before.unwrap_or(u64::MAX),
        |record| query.module.as_ref().is_none_or(|m| *m == record.module),
        |record| {
            if operations.len() == limit {
                next = operations.last().map(|r: &OperationRecord| r.id);
                return false;
            }
            operations.push(record);
            true
        },
    );
    HistoryPage { operations, next }
}

/// One operation by id.
pub fn get(id: u64) -> Option<OperationRecord> {
    operations::get(id)
}

/// The id of the newest operation on `module`.
pub fn latest_of(module: &str) -> Option<u64> {
    let mut latest = None;
    operations::scan_newest_first(
        u64::MAX,
        |record| record.module == module,
        |record| {
            latest = Some(record.id);
            false
        },
    );
    latest
}
