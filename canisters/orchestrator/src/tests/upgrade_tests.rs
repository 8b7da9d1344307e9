use orchestrator_api::{
    HealthCheckSetting, ModuleSettingsUpdate, OnExisting, OperationStatus, OperationStep,
    StepOutcome, Trigger, UpgradeArgs, UpgradeError, UpgradeOutcome, UpgradeReport,
};

use super::{admin, run, setup, setup_with, stage, take};
use crate::fake::{FakeManagement, UNHEALTHY_WASM, V2_WASM};
use crate::mgmt::RunStatus;
use crate::{lock, snapshots, upgrade};

fn args(hash: &[u8]) -> UpgradeArgs {
    UpgradeArgs {
        wasm_hash: hash.to_vec(),
        arg: vec![],
        snapshot: None,
        on_existing: OnExisting::Replace,
        rollback_on_failure: true,
    }
}

fn upgrade_with(mgmt: &FakeManagement, args: UpgradeArgs) -> Result<UpgradeReport, UpgradeError> {
    run(upgrade::upgrade(mgmt, admin(), "app", args))
}

fn steps(report: &UpgradeReport) -> Vec<OperationStep> {
    report.steps.iter().map(|s| s.step).collect()
}

fn with_health_check() -> ModuleSettingsUpdate {
    ModuleSettingsUpdate {
        health_check: Some(HealthCheckSetting::Method("health".into())),
        ..Default::default()
    }
}

#[test]
fn an_upgrade_stops_snapshots_installs_starts_and_checks_health() {
    let (mgmt, canister) = setup_with(with_health_check());
    let hash = stage(&mgmt, V2_WASM);
    let report = upgrade_with(&mgmt, args(&hash)).unwrap();
    assert_eq!(report.outcome, UpgradeOutcome::Upgraded);
    assert_eq!(
        steps(&report),
        [
            OperationStep::ListSnapshots,
            OperationStep::CheckStatus,
            OperationStep::Stop,
            OperationStep::TakeSnapshot,
            OperationStep::Install,
            OperationStep::Start,
            OperationStep::HealthCheck
        ]
    );
    assert!(report.steps.iter().all(|s| s.outcome == StepOutcome::Ok));
    let c = mgmt.canister(canister);
    assert_eq!(c.wasm, V2_WASM);
    assert_eq!(c.status, RunStatus::Running);
    assert_eq!(c.snapshots.len(), 1);
    assert_eq!(
        c.snapshots[0].wasm, b"v1",
        "the snapshot holds the pre-upgrade module"
    );
    let listed = run(snapshots::list_reconciled(&mgmt, "app")).unwrap();
    assert_eq!(listed[0].trigger, Some(Trigger::Upgrade));
    assert_eq!(Some(listed[0].id.clone()), report.snapshot_id);
    assert_eq!(lock::held_by("app"), None);
}

#[test]
fn the_snapshot_can_be_opted_out_per_upgrade_or_per_module() {
    let (mgmt, canister) = setup();
    let hash = stage(&mgmt, V2_WASM);
    let report = upgrade_with(
        &mgmt,
        UpgradeArgs {
            snapshot: Some(false),
            ..args(&hash)
        },
    )
    .unwrap();
    assert_eq!(report.outcome, UpgradeOutcome::Upgraded);
    assert_eq!(report.snapshot_id, None);
    assert!(!mgmt.calls().contains(&"take_canister_snapshot"));
    assert!(matches!(&report.steps[0].outcome, StepOutcome::Skipped(r) if r.contains("opted out")));
    assert!(mgmt.canister(canister).snapshots.is_empty());

    crate::registry::update_settings(
        "app",
        ModuleSettingsUpdate {
            snapshot_before_upgrade: Some(false),
            ..Default::default()
        },
    )
    .unwrap();
    let report = upgrade_with(&mgmt, args(&hash)).unwrap();
    assert_eq!(report.snapshot_id, None);
    assert!(mgmt.canister(canister).snapshots.is_empty());
    // ... and `snapshot: Some(true)` overrides the module's setting.
    let report = upgrade_with(
        &mgmt,
        UpgradeArgs {
            snapshot: Some(true),
            ..args(&hash)
        },
    )
    .unwrap();
    assert!(report.snapshot_id.is_some());
}

fn with_one_existing_snapshot() -> (FakeManagement, candid::Principal, Vec<u8>, Vec<u8>) {
    let (mgmt, canister) = setup();
    let existing = take(&mgmt, None).unwrap();
    let hash = stage(&mgmt, V2_WASM);
    mgmt.calls.borrow_mut().clear();
    (mgmt, canister, existing.id.to_vec(), hash)
}

#[test]
fn on_existing_replace_replaces_the_oldest_snapshot() {
    let (mgmt, canister, existing, hash) = with_one_existing_snapshot();
    let report = upgrade_with(&mgmt, args(&hash)).unwrap();
    let held = mgmt.canister(canister).snapshots;
    assert_eq!(held.len(), 1);
    assert_ne!(held[0].listed.id, existing);
    assert_eq!(Some(held[0].listed.id.clone().into()), report.snapshot_id);
}

#[test]
fn on_existing_keep_keeps_the_snapshot_and_takes_none() {
    let (mgmt, canister, existing, hash) = with_one_existing_snapshot();
    let report = upgrade_with(
        &mgmt,
        UpgradeArgs {
            on_existing: OnExisting::Keep,
            ..args(&hash)
        },
    )
    .unwrap();
    assert_eq!(report.outcome, UpgradeOutcome::Upgraded);
    assert_eq!(report.snapshot_id, None);
    let held = mgmt.canister(canister).snapshots;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].listed.id, existing);
    assert_eq!(mgmt.canister(canister).wasm, V2_WASM);
}

#[test]
fn on_existing_fail_refuses_before_touching_the_module() {
    let (mgmt, canister, existing, hash) = with_one_existing_snapshot();
    let error = upgrade_with(
        &mgmt,
        UpgradeArgs {
            on_existing: OnExisting::Fail,
            ..args(&hash)
        },
    )
    .unwrap_err();
    assert_eq!(
        error,
        UpgradeError::SnapshotSlotsFull {
            module: "app".into(),
            held: 1,
            max: 1
        }
    );
    assert_eq!(mgmt.calls(), ["list_canister_snapshots"]);
    let c = mgmt.canister(canister);
    assert_eq!(c.wasm, b"v1");
    assert_eq!(c.snapshots[0].listed.id, existing);
    assert_eq!(lock::held_by("app"), None);
}

#[test]
fn a_failed_install_rolls_back_to_the_pre_upgrade_snapshot() {
    let (mgmt, canister) = setup();
    mgmt.set_data(canister, 5);
    let hash = stage(&mgmt, V2_WASM);
    mgmt.fail_next("install_code");
    let report = upgrade_with(&mgmt, args(&hash)).unwrap();
    assert!(matches!(
        report.outcome,
        UpgradeOutcome::RolledBack {
            failed_step: OperationStep::Install,
            ..
        }
    ));
    assert_eq!(
        steps(&report),
        [
            OperationStep::ListSnapshots,
            OperationStep::CheckStatus,
            OperationStep::Stop,
            OperationStep::TakeSnapshot,
            OperationStep::Install,
            OperationStep::Start,
            OperationStep::RollbackStop,
            OperationStep::RollbackLoad,
            OperationStep::RollbackStart
        ]
    );
    let c = mgmt.canister(canister);
    assert_eq!(
        (c.wasm.as_slice(), c.data, c.status),
        (&b"v1"[..], 5, RunStatus::Running)
    );
}

#[test]
fn a_failed_health_check_rolls_back() {
    let (mgmt, canister) = setup_with(with_health_check());
    mgmt.set_data(canister, 5);
    let hash = stage(&mgmt, UNHEALTHY_WASM);
    let report = upgrade_with(&mgmt, args(&hash)).unwrap();
    let UpgradeOutcome::RolledBack {
        failed_step,
        reason,
    } = &report.outcome
    else {
        panic!("{:?}", report.outcome);
    };
    assert_eq!(*failed_step, OperationStep::HealthCheck);
    assert!(reason.contains("unhealthy"), "{reason}");
    let c = mgmt.canister(canister);
    assert_eq!(
        (c.wasm.as_slice(), c.data, c.status),
        (&b"v1"[..], 5, RunStatus::Running)
    );
    let op = crate::history::get(report.operation_id).unwrap();
    assert!(matches!(op.status, OperationStatus::Failed(r) if r.contains("rolled back")));
}

#[test]
fn a_failed_restart_after_the_install_rolls_back() {
    let (mgmt, canister) = setup();
    let hash = stage(&mgmt, V2_WASM);
    mgmt.fail_next("start_canister");
    let report = upgrade_with(&mgmt, args(&hash)).unwrap();
    assert!(matches!(
        report.outcome,
        UpgradeOutcome::RolledBack {
            failed_step: OperationStep::Start,
            ..
        }
    ));
    let c = mgmt.canister(canister);
    assert_eq!(
        (c.wasm.as_slice(), c.status),
        (&b"v1"[..], RunStatus::Running)
    );
}

#[test]
fn a_failed_rollback_load_is_reported_precisely_and_the_module_restarted() {
    let (mgmt, canister) = setup_with(with_health_check());
    let hash = stage(&mgmt, UNHEALTHY_WASM);
    mgmt.fail_next("load_canister_snapshot");
    let report = upgrade_with(&mgmt, args(&hash)).unwrap();
    let UpgradeOutcome::RollbackFailed {
        failed_step,
        rollback_step,
        rollback_error,
        module_running,
        ..
    } = &report.outcome
    else {
        panic!("{:?}", report.outcome);
    };
    assert_eq!(*failed_step, OperationStep::HealthCheck);
    assert_eq!(*rollback_step, OperationStep::RollbackLoad);
    assert!(
        rollback_error.contains("load_canister_snapshot"),
        "{rollback_error}"
    );
    assert!(*module_running);
    assert_eq!(mgmt.canister(canister).status, RunStatus::Running);
    assert_eq!(
        *steps(&report).last().unwrap(),
        OperationStep::RollbackStart
    );
}

#[test]
fn a_failed_rollback_stop_still_tries_to_start() {
    let (mgmt, _) = setup_with(with_health_check());
    let hash = stage(&mgmt, UNHEALTHY_WASM);
    // The first stop (before the upgrade) passes, the rollback's stop fails.
    mgmt.fail_after("stop_canister", 1);
    let report = upgrade_with(&mgmt, args(&hash)).unwrap();
    assert!(matches!(
        report.outcome,
        UpgradeOutcome::RollbackFailed {
            rollback_step: OperationStep::RollbackStop,
            module_running: true,
            ..
        }
    ));
    assert_eq!(
        *steps(&report).last().unwrap(),
        OperationStep::RollbackStart
    );
}

#[test]
fn a_failed_rollback_start_says_the_module_is_stopped() {
    let (mgmt, canister) = setup_with(with_health_check());
    let hash = stage(&mgmt, UNHEALTHY_WASM);
    mgmt.fail_after("start_canister", 1);
    let report = upgrade_with(&mgmt, args(&hash)).unwrap();
    assert!(matches!(
        report.outcome,
        UpgradeOutcome::RollbackFailed {
            rollback_step: OperationStep::RollbackStart,
            module_running: false,
            ..
        }
    ));
    assert_eq!(mgmt.canister(canister).status, RunStatus::Stopped);
    assert_eq!(
        mgmt.canister(canister).wasm,
        b"v1",
        "the load itself worked"
    );
}

#[test]
fn without_rollback_on_failure_the_failed_upgrade_is_left_as_is() {
    let (mgmt, canister) = setup_with(with_health_check());
    let hash = stage(&mgmt, UNHEALTHY_WASM);
    let report = upgrade_with(
        &mgmt,
        UpgradeArgs {
            rollback_on_failure: false,
            ..args(&hash)
        },
    )
    .unwrap();
    assert!(matches!(
        &report.outcome,
        UpgradeOutcome::Failed { failed_step: OperationStep::HealthCheck, no_rollback_because, module_running: true, .. }
            if no_rollback_because.contains("rollback_on_failure")
    ));
    assert_eq!(mgmt.canister(canister).wasm, UNHEALTHY_WASM);
    assert!(!mgmt.calls().contains(&"load_canister_snapshot"));
}

#[test]
fn without_a_pre_upgrade_snapshot_there_is_no_rollback() {
    let (mgmt, canister, _, _) = with_one_existing_snapshot();
    crate::registry::update_settings("app", with_health_check()).unwrap();
    let hash = stage(&mgmt, UNHEALTHY_WASM);
    let report = upgrade_with(
        &mgmt,
        UpgradeArgs {
            on_existing: OnExisting::Keep,
            ..args(&hash)
        },
    )
    .unwrap();
    assert!(matches!(
        &report.outcome,
        UpgradeOutcome::Failed { no_rollback_because, .. } if no_rollback_because.contains("no pre-upgrade snapshot")
    ));
    assert!(
        !mgmt.calls().contains(&"load_canister_snapshot"),
        "an older snapshot is never loaded behind the user's back"
    );
    assert_eq!(mgmt.canister(canister).status, RunStatus::Running);
}

#[test]
fn a_failed_snapshot_abandons_the_upgrade_and_restarts() {
    let (mgmt, canister) = setup();
    let hash = stage(&mgmt, V2_WASM);
    mgmt.fail_next("take_canister_snapshot");
    let report = upgrade_with(&mgmt, args(&hash)).unwrap();
    assert!(matches!(
        report.outcome,
        UpgradeOutcome::Failed {
            failed_step: OperationStep::TakeSnapshot,
            module_running: true,
            ..
        }
    ));
    assert!(!mgmt.calls().contains(&"install_code"));
    let c = mgmt.canister(canister);
    assert_eq!(
        (c.wasm.as_slice(), c.status),
        (&b"v1"[..], RunStatus::Running)
    );
}

#[test]
fn a_failed_stop_abandons_the_upgrade() {
    let (mgmt, canister) = setup();
    let hash = stage(&mgmt, V2_WASM);
    mgmt.fail_next("stop_canister");
    let report = upgrade_with(&mgmt, args(&hash)).unwrap();
    assert!(matches!(
        report.outcome,
        UpgradeOutcome::Failed {
            failed_step: OperationStep::Stop,
            module_running: true,
            ..
        }
    ));
    assert!(!mgmt.calls().contains(&"take_canister_snapshot"));
    assert_eq!(mgmt.canister(canister).wasm, b"v1");
}

#[test]
fn preflight_failures_touch_nothing() {
    let (mgmt, canister) = setup();
    let hash = stage(&mgmt, V2_WASM);
    mgmt.fail_next("list_canister_snapshots");
    assert!(matches!(
        upgrade_with(&mgmt, args(&hash)),
        Err(UpgradeError::PreflightFailed { .. })
    ));
    mgmt.fail_next("canister_status");
    assert!(matches!(
        upgrade_with(&mgmt, args(&hash)),
        Err(UpgradeError::PreflightFailed { .. })
    ));
    assert!(!mgmt.calls().contains(&"stop_canister"));
    assert_eq!(mgmt.canister(canister).wasm, b"v1");
    assert!(matches!(
        upgrade_with(&mgmt, args(&[0; 32])),
        Err(UpgradeError::WasmNotStaged { .. })
    ));
    assert!(matches!(
        run(upgrade::upgrade(&mgmt, admin(), "ghost", args(&hash))),
        Err(UpgradeError::ModuleNotFound { .. })
    ));
}

#[test]
fn a_large_wasm_goes_through_the_chunk_store_which_is_cleared_afterwards() {
    let (mgmt, canister) = setup();
    let mut wasm = crate::fake::V2_WASM.to_vec();
    wasm.extend((0..3_500_000u32).map(|i| (i % 251) as u8));
    let hash = stage(&mgmt, &wasm);
    let report = upgrade_with(&mgmt, args(&hash)).unwrap();
    assert_eq!(report.outcome, UpgradeOutcome::Upgraded);
    assert_eq!(
        mgmt.calls()
            .iter()
            .filter(|c| **c == "upload_chunk")
            .count(),
        4
    );
    assert!(steps(&report).contains(&OperationStep::UploadChunks));
    assert!(mgmt.calls().contains(&"install_chunked_code"));
    assert!(!mgmt.calls().contains(&"install_code"));
    let c = mgmt.canister(canister);
    assert_eq!(c.wasm, wasm);
    assert!(c.chunk_store.is_empty());
}

#[test]
fn a_failed_chunk_upload_clears_the_store_and_rolls_back() {
    let (mgmt, canister) = setup();
    let mut wasm = crate::fake::V2_WASM.to_vec();
    wasm.resize(2_500_000, 7);
    let hash = stage(&mgmt, &wasm);
    mgmt.fail_after("upload_chunk", 1);
    let report = upgrade_with(&mgmt, args(&hash)).unwrap();
    assert!(matches!(
        report.outcome,
        UpgradeOutcome::RolledBack {
            failed_step: OperationStep::UploadChunks,
            ..
        }
    ));
    assert!(mgmt.calls().contains(&"clear_chunk_store"));
    let c = mgmt.canister(canister);
    assert!(c.chunk_store.is_empty());
    assert_eq!(
        (c.wasm.as_slice(), c.status),
        (&b"v1"[..], RunStatus::Running)
    );
}

#[test]
fn a_stopped_module_is_upgraded_and_left_stopped_without_health_check() {
    let (mgmt, canister) = setup_with(with_health_check());
    mgmt.set_status(canister, RunStatus::Stopped);
    let hash = stage(&mgmt, V2_WASM);
    let report = upgrade_with(&mgmt, args(&hash)).unwrap();
    assert_eq!(report.outcome, UpgradeOutcome::Upgraded);
    assert!(!mgmt.calls().contains(&"start_canister"));
    assert!(!mgmt.calls().contains(&"health"));
    assert_eq!(mgmt.canister(canister).status, RunStatus::Stopped);
}
