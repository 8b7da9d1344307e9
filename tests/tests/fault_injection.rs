//! Fault injection through localnet's manual policy: a management call the orchestrator makes
//! is held and then rejected, at each step of take, restore and upgrade. Afterwards the module
//! runs (unless the rejected call was the one meant to start it, and the error says so), the
//! lock is free, and the history says what happened. A trap in the orchestrator's own callback
//! (its `test-traps` build) releases the lock through the Drop guard.

use candid::{CandidType, Principal};
use integration_tests::{Env, block_on, rejected, upgrade_args, wasm};
use localnet::{CallFilter, RejectCode};
use orchestrator_api::client::{Call, calls};
use orchestrator_api::*;
use serde::de::DeserializeOwned;

/// Submits `call` to the orchestrator, rejects the first call it makes to the management
/// method `rejected`, and returns the decoded answer.
fn with_rejected_call<R, E>(env: &mut Env, call: Call<R, E>, rejected: &str) -> Result<R, E>
where
    R: CandidType + DeserializeOwned,
    E: CandidType + DeserializeOwned,
{
    let orchestrator = env.orchestrator;
    env.net.localnet().hold_calls(CallFilter {
        caller: Some(orchestrator),
        callee: Some(Principal::management_canister()),
        method: Some(rejected.to_string()),
    });
    let id = env.submit(&call);
    env.net.run_until_idle();
    let held = env.net.localnet().held_calls();
    assert_eq!(
        held.len(),
        1,
        "exactly the one {rejected} call is held: {held:?}"
    );
    env.net.localnet().clear_holds();
    assert!(env.net.localnet().reject_call(
        held[0].id,
        RejectCode::CanisterError,
        &format!("injected rejection of {rejected}")
    ));
    env.answer_of(id, &call)
}

fn assert_settled(env: &mut Env, running: bool, failed_with: &str) {
    assert_eq!(env.module_is_running(), running, "module running?");
    assert_eq!(env.modules()[0].busy_with, None, "the lock is free");
    let last = env.history().remove(0);
    assert!(
        matches!(&last.status, OperationStatus::Failed(reason) if reason.contains(failed_with)),
        "history: {:?}",
        last.status
    );
    assert!(last.finished_at.is_some());
}

#[test]
fn a_rejected_call_at_each_step_of_a_take_leaves_the_module_running_and_unlocked() {
    integration_tests::localnet_only!(
        "rejects the orchestrator's management calls by fault injection"
    );
    for (rejected, step) in [
        ("list_canister_snapshots", OperationStep::ListSnapshots),
        ("stop_canister", OperationStep::Stop),
        ("take_canister_snapshot", OperationStep::TakeSnapshot),
    ] {
        let mut env = Env::new();
        let take = calls::take_snapshot("app", TakeSnapshotArgs::default()).unwrap();
        let r = with_rejected_call(&mut env, take, rejected);
        assert!(
            matches!(r, Err(SnapshotError::OperationFailed { step: s, module_running: true, .. }) if s == step),
            "{rejected}: {r:?}"
        );
        assert_settled(&mut env, true, rejected);
        assert!(env.list().is_empty(), "{rejected}: no snapshot recorded");
        env.take(None).expect("the module can be snapshotted again");
    }
}

#[test]
fn a_rejected_restart_after_a_take_keeps_the_snapshot_and_says_the_module_is_stopped() {
    integration_tests::localnet_only!(
        "rejects the orchestrator's management calls by fault injection"
    );
    let mut env = Env::new();
    let take = calls::take_snapshot("app", TakeSnapshotArgs::default()).unwrap();
    let r = with_rejected_call(&mut env, take, "start_canister");
    let error = r.unwrap_err();
    assert!(matches!(
        error,
        SnapshotError::OperationFailed {
            step: OperationStep::Start,
            module_running: false,
            ..
        }
    ));
    assert!(error.to_string().contains("NOT running"));
    assert_settled(&mut env, false, "start_canister");
    assert_eq!(env.list().len(), 1, "the snapshot itself was taken");
}

#[test]
fn a_rejected_call_at_each_step_of_a_restore_leaves_the_module_running_and_unlocked() {
    integration_tests::localnet_only!(
        "rejects the orchestrator's management calls by fault injection"
    );
    for (rejected, step) in [
        ("list_canister_snapshots", OperationStep::ListSnapshots),
        ("stop_canister", OperationStep::Stop),
        ("load_canister_snapshot", OperationStep::LoadSnapshot),
    ] {
        let mut env = Env::new();
        env.set("k", b"snapshotted");
        env.take(None).unwrap();
        env.set("k", b"current");
        let restore = calls::restore_snapshot("app", None).unwrap();
        let r = with_rejected_call(&mut env, restore, rejected);
        assert!(
            matches!(r, Err(SnapshotError::OperationFailed { step: s, module_running: true, .. }) if s == step),
            "{rejected}: {r:?}"
        );
        assert_settled(&mut env, true, rejected);
        assert_eq!(env.get("k").as_deref(), Some(&b"current"[..]), "{rejected}");
    }
}

#[test]
fn a_rejected_call_at_each_step_of_an_upgrade_ends_with_the_old_module_running() {
    integration_tests::localnet_only!(
        "rejects the orchestrator's management calls by fault injection"
    );
    for rejected in [
        "stop_canister",
        "take_canister_snapshot",
        "install_code",
        "start_canister",
    ] {
        let mut env = Env::new();
        env.set("k", b"precious");
        let hash = env.stage(&wasm("sample-module-v2.wasm.gz"), 1_000_000);
        let upgrade = calls::upgrade_module("app", upgrade_args(&hash)).unwrap();
        let r = with_rejected_call(&mut env, upgrade, rejected);
        let report = r.unwrap_or_else(|e| panic!("{rejected}: {e}"));
        match rejected {
            "install_code" | "start_canister" => assert!(
                matches!(report.outcome, UpgradeOutcome::RolledBack { .. }),
                "{rejected}: {report:?}"
            ),
            _ => assert!(
                matches!(
                    report.outcome,
                    UpgradeOutcome::Failed {
                        module_running: true,
                        ..
                    }
                ),
                "{rejected}: {report:?}"
            ),
        }
        assert_settled(&mut env, true, rejected);
        assert_eq!(env.version(), "v1", "{rejected}");
        assert_eq!(
            env.get("k").as_deref(),
            Some(&b"precious"[..]),
            "{rejected}"
        );
    }
}

#[test]
fn a_rejected_preflight_call_fails_the_upgrade_before_touching_the_module() {
    integration_tests::localnet_only!(
        "rejects the orchestrator's management calls by fault injection"
    );
    for rejected in ["list_canister_snapshots", "canister_status"] {
        let mut env = Env::new();
        let hash = env.stage(&wasm("sample-module-v2.wasm.gz"), 1_000_000);
        let upgrade = calls::upgrade_module("app", upgrade_args(&hash)).unwrap();
        let r = with_rejected_call(&mut env, upgrade, rejected);
        assert!(
            matches!(&r, Err(UpgradeError::PreflightFailed { failure, .. }) if failure.method == rejected),
            "{rejected}: {r:?}"
        );
        assert_settled(&mut env, true, rejected);
        assert_eq!(env.version(), "v1");
    }
}

#[test]
fn a_rejected_rollback_load_is_reported_precisely() {
    integration_tests::localnet_only!(
        "rejects the orchestrator's management calls by fault injection"
    );
    let mut env = Env::new();
    env.update_settings(ModuleSettingsUpdate {
        health_check: Some(HealthCheckSetting::Method("health".into())),
        ..Default::default()
    });
    let hash = env.stage(&wasm("sample-module-unhealthy.wasm.gz"), 1_000_000);
    let upgrade = calls::upgrade_module("app", upgrade_args(&hash)).unwrap();
    let r = with_rejected_call(&mut env, upgrade, "load_canister_snapshot");
    let report = r.unwrap();
    assert!(
        matches!(
            &report.outcome,
            UpgradeOutcome::RollbackFailed {
                failed_step: OperationStep::HealthCheck,
                rollback_step: OperationStep::RollbackLoad,
                module_running: true,
                rollback_error,
                ..
            } if rollback_error.contains("injected")
        ),
        "{report:?}"
    );
    assert_settled(&mut env, true, "rollback failed at rollback_load");
    assert_eq!(env.version(), "unhealthy", "the load never happened");
}

#[test]
fn a_trap_in_the_orchestrators_callback_releases_the_lock_and_marks_the_operation_interrupted() {
    let mut env = Env::with_orchestrator("orchestrator-test-traps.wasm.gz");
    env.arm_trap(Some("stop_canister"));
    let rejected = rejected(block_on(
        env.client()
            .take_snapshot("app", TakeSnapshotArgs::default()),
    ));
    assert_eq!(
        rejected.reject_code,
        RejectCode::CanisterError,
        "{rejected:?}"
    );
    assert!(
        rejected.reject_message.contains("armed trap"),
        "{rejected:?}"
    );

    assert_eq!(
        env.modules()[0].busy_with,
        None,
        "the Drop guard released the lock"
    );
    let op = env.history().remove(0);
    assert!(
        matches!(&op.status, OperationStatus::Failed(r) if r.contains("interrupted")),
        "{:?}",
        op.status
    );
    // What the trap left: the module stopped (documented: a trap is a bug). The next
    // operation works and, finding it stopped, leaves it so.
    assert!(!env.module_is_running());
    env.arm_trap(None);
    env.take(None).unwrap();
    assert_eq!(env.list().len(), 1);
}
