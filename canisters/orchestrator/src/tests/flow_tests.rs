//! The flow context itself (`crate::flow`): what it records and reports, apart from any one
//! flow.

use orchestrator_api::{OperationKind, OperationStatus, OperationStep, StepOutcome, Trigger};

use super::{admin, run, setup};
use crate::fake::FakeManagement;
use crate::flow::{Flow, Stopped};
use crate::mgmt::{Management, RunStatus};
use crate::{history, lock};

fn open(mgmt: &FakeManagement, kind: OperationKind) -> Flow<'_, FakeManagement> {
    Flow::open(mgmt, admin(), "app", kind, Trigger::Manual).unwrap()
}

#[test]
fn a_flow_dropped_before_it_ends_closes_its_record_as_interrupted_and_frees_the_module() {
    let (mgmt, _) = setup();
    let flow = open(&mgmt, OperationKind::TakeSnapshot);
    let id = flow.id();
    assert_eq!(lock::held_by("app"), Some(OperationKind::TakeSnapshot));
    // What ic-cdk's cleanup does with the future of a trapped callback.
    drop(flow);
    assert_eq!(lock::held_by("app"), None);
    let record = history::get(id).unwrap();
    assert!(
        matches!(&record.status, OperationStatus::Failed(r) if r.starts_with("interrupted")),
        "{:?}",
        record.status
    );
}

#[test]
fn a_step_failing_while_the_module_is_stopped_says_it_does_not_run_until_restarted() {
    let (mgmt, canister) = setup();
    let mut flow = open(&mgmt, OperationKind::RestoreSnapshot);
    let failure = run(flow.step(
        OperationStep::LoadSnapshot,
        mgmt.load_snapshot(canister, vec![9]),
    ))
    .unwrap_err();
    assert!(failure.module_running, "untouched: it still runs");

    run(flow.stop_if_running()).unwrap();
    assert_eq!(flow.stopped(), Stopped::ByUs);
    let failure = run(flow.step(
        OperationStep::LoadSnapshot,
        mgmt.load_snapshot(canister, vec![9]),
    ))
    .unwrap_err();
    assert!(!failure.module_running, "stopped by the flow");

    let loaded = run(flow.run(
        OperationStep::LoadSnapshot,
        mgmt.load_snapshot(canister, vec![9]),
    ));
    let failure = run(flow.restart_and_settle(OperationStep::LoadSnapshot, loaded)).unwrap_err();
    assert_eq!(failure.step, OperationStep::LoadSnapshot);
    assert!(failure.module_running, "restarted");
    assert_eq!(mgmt.canister(canister).status, RunStatus::Running);
    let id = flow.id();
    let error: orchestrator_api::SnapshotError = flow.fail(failure).into();
    assert!(matches!(
        error,
        orchestrator_api::SnapshotError::OperationFailed {
            operation_id,
            step: OperationStep::LoadSnapshot,
            module_running: true,
            ..
        } if operation_id == id
    ));
    let record = history::get(id).unwrap();
    let steps: Vec<_> = record.steps.iter().map(|s| s.step).collect();
    assert_eq!(
        steps,
        [
            OperationStep::LoadSnapshot,
            OperationStep::CheckStatus,
            OperationStep::Stop,
            OperationStep::LoadSnapshot,
            OperationStep::LoadSnapshot,
            OperationStep::Start,
        ]
    );
    assert_eq!(record.steps[5].outcome, StepOutcome::Ok);
    assert!(matches!(record.status, OperationStatus::Failed(_)));
}

#[test]
fn a_module_found_stopped_is_left_stopped_and_reported_not_running() {
    let (mgmt, canister) = setup();
    mgmt.set_status(canister, RunStatus::Stopped);
    let mut flow = open(&mgmt, OperationKind::TakeSnapshot);
    run(flow.stop_if_running()).unwrap();
    assert_eq!(flow.stopped(), Stopped::WasNotRunning);
    run(flow.restart()).unwrap();
    assert!(!flow.running());
    let steps = flow.steps();
    assert_eq!(
        steps.last().map(|s| (s.step, &s.outcome)),
        Some((
            OperationStep::Start,
            &StepOutcome::Skipped("the module was not running before; it is left stopped".into())
        ))
    );
    flow.finish(());
    assert_eq!(mgmt.calls(), ["canister_status"]);
}
