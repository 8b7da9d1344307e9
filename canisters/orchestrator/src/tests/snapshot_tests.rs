use std::panic::{AssertUnwindSafe, catch_unwind};

use orchestrator_api::{
    ModuleSettingsUpdate, OperationKind, OperationStatus, OperationStep, SnapshotError,
    TakeSnapshotArgs, Trigger,
};

use super::{RESTORE_CALLS, admin, delete, run, setup, setup_with, take};
use crate::fake::FakeManagement;
use crate::history;
use crate::lock::{self, ModuleLock};
use crate::mgmt::{Management, RunStatus};
use crate::snapshots;

fn last_operation() -> orchestrator_api::OperationRecord {
    history::page(&Default::default()).operations.remove(0)
}

#[test]
fn take_stops_takes_restarts_and_records_the_snapshot() {
    let (mgmt, canister) = setup();
    let info = take(&mgmt, Some("first")).unwrap();
    assert_eq!(
        mgmt.calls(),
        [
            "list_canister_snapshots",
            "canister_status",
            "stop_canister",
            "take_canister_snapshot",
            "start_canister"
        ]
    );
    assert_eq!(mgmt.canister(canister).status, RunStatus::Running);
    assert_eq!(info.label.as_deref(), Some("first"));
    assert_eq!(info.trigger, Some(Trigger::Manual));
    assert!(!info.external);
    assert_eq!(
        &info.id[8..],
        canister.as_slice(),
        "IC id format: counter ‖ canister id"
    );
    let op = last_operation();
    assert_eq!(op.status, OperationStatus::Completed);
    assert_eq!(op.kind, OperationKind::TakeSnapshot);
    assert_eq!(op.caller, admin());
    assert_eq!(op.snapshot_id, Some(info.id.clone()));
    assert!(op.finished_at.is_some());
    assert_eq!(lock::held_by("app"), None);
    let listed = run(snapshots::list_reconciled(&mgmt, "app")).unwrap();
    assert_eq!(listed, vec![info]);
}

#[test]
fn take_without_stop_for_snapshot_never_stops_the_module() {
    let (mgmt, _) = setup_with(ModuleSettingsUpdate {
        stop_for_snapshot: Some(false),
        ..Default::default()
    });
    take(&mgmt, None).unwrap();
    assert_eq!(
        mgmt.calls(),
        ["list_canister_snapshots", "take_canister_snapshot"]
    );
}

#[test]
fn a_module_that_was_stopped_is_snapshotted_and_left_stopped() {
    let (mgmt, canister) = setup();
    mgmt.set_status(canister, RunStatus::Stopped);
    take(&mgmt, None).unwrap();
    assert_eq!(
        mgmt.calls(),
        [
            "list_canister_snapshots",
            "canister_status",
            "take_canister_snapshot"
        ]
    );
    assert_eq!(mgmt.canister(canister).status, RunStatus::Stopped);
}

#[test]
fn at_max_snapshots_a_take_replaces_the_oldest() {
    let (mgmt, canister) = setup();
    let first = take(&mgmt, Some("a")).unwrap();
    let second = take(&mgmt, Some("b")).unwrap();
    let held = mgmt.canister(canister).snapshots;
    assert_eq!(held.len(), 1, "one snapshot per module by default");
    assert_eq!(held[0].listed.id, second.id.to_vec());
    assert_ne!(first.id, second.id);
    let listed = run(snapshots::list_reconciled(&mgmt, "app")).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].label.as_deref(), Some("b"));

    crate::registry::update_settings(
        "app",
        ModuleSettingsUpdate {
            max_snapshots: Some(3),
            ..Default::default()
        },
    )
    .unwrap();
    let c = take(&mgmt, Some("c")).unwrap();
    let d = take(&mgmt, Some("d")).unwrap();
    let e = take(&mgmt, Some("e")).unwrap();
    let ids: Vec<_> = run(snapshots::list_reconciled(&mgmt, "app"))
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, vec![c.id, d.id, e.id], "b, the oldest, was replaced");
}

#[test]
fn a_failed_list_touches_nothing() {
    let (mgmt, canister) = setup();
    mgmt.fail_next("list_canister_snapshots");
    let error = take(&mgmt, None).unwrap_err();
    assert!(matches!(
        error,
        SnapshotError::OperationFailed {
            step: OperationStep::ListSnapshots,
            module_running: true,
            ..
        }
    ));
    assert_eq!(mgmt.calls(), ["list_canister_snapshots"]);
    assert_eq!(mgmt.canister(canister).status, RunStatus::Running);
    assert!(matches!(
        last_operation().status,
        OperationStatus::Failed(_)
    ));
    assert_eq!(lock::held_by("app"), None);
}

#[test]
fn a_failed_status_check_touches_nothing() {
    let (mgmt, canister) = setup();
    mgmt.fail_next("canister_status");
    let error = take(&mgmt, None).unwrap_err();
    assert!(matches!(
        error,
        SnapshotError::OperationFailed {
            step: OperationStep::CheckStatus,
            ..
        }
    ));
    assert!(!mgmt.calls().contains(&"stop_canister"));
    assert_eq!(mgmt.canister(canister).status, RunStatus::Running);
}

#[test]
fn a_failed_stop_is_followed_by_a_start() {
    let (mgmt, canister) = setup();
    mgmt.fail_next("stop_canister");
    let error = take(&mgmt, None).unwrap_err();
    assert!(matches!(
        error,
        SnapshotError::OperationFailed {
            step: OperationStep::Stop,
            module_running: true,
            ..
        }
    ));
    assert_eq!(mgmt.calls().last(), Some(&"start_canister"));
    assert!(!mgmt.calls().contains(&"take_canister_snapshot"));
    assert_eq!(mgmt.canister(canister).status, RunStatus::Running);
}

#[test]
fn a_failed_take_still_restarts_the_module_and_records_nothing() {
    let (mgmt, canister) = setup();
    mgmt.fail_next("take_canister_snapshot");
    let error = take(&mgmt, None).unwrap_err();
    assert!(matches!(
        error,
        SnapshotError::OperationFailed {
            step: OperationStep::TakeSnapshot,
            module_running: true,
            ..
        }
    ));
    assert_eq!(mgmt.calls().last(), Some(&"start_canister"));
    assert_eq!(mgmt.canister(canister).status, RunStatus::Running);
    assert!(mgmt.canister(canister).snapshots.is_empty());
    assert!(
        run(snapshots::list_reconciled(&mgmt, "app"))
            .unwrap()
            .is_empty()
    );
    let op = last_operation();
    let steps: Vec<_> = op.steps.iter().map(|s| s.step).collect();
    assert_eq!(
        steps,
        [
            OperationStep::ListSnapshots,
            OperationStep::CheckStatus,
            OperationStep::Stop,
            OperationStep::TakeSnapshot,
            OperationStep::Start
        ]
    );
    assert!(matches!(op.status, OperationStatus::Failed(ref r) if r.contains("take_snapshot")));
}

#[test]
fn a_failed_restart_keeps_the_snapshot_and_says_the_module_is_stopped() {
    let (mgmt, canister) = setup();
    mgmt.fail_next("start_canister");
    let error = take(&mgmt, None).unwrap_err();
    assert!(matches!(
        error,
        SnapshotError::OperationFailed {
            step: OperationStep::Start,
            module_running: false,
            ..
        }
    ));
    assert!(error.to_string().contains("NOT running"), "{error}");
    assert_eq!(mgmt.canister(canister).snapshots.len(), 1);
    assert_eq!(
        run(snapshots::list_reconciled(&mgmt, "app")).unwrap().len(),
        1
    );
}

#[test]
fn labels_are_validated_before_anything_runs() {
    let (mgmt, _) = setup();
    assert!(matches!(
        take(&mgmt, Some("two\nlines")),
        Err(SnapshotError::InvalidLabel { .. })
    ));
    assert!(mgmt.calls().is_empty());
    assert!(history::page(&Default::default()).operations.is_empty());
}

#[test]
fn unknown_modules_are_reported_by_name() {
    let mgmt = FakeManagement::new();
    assert_eq!(
        run(snapshots::take(
            &mgmt,
            admin(),
            "ghost",
            Default::default(),
            Trigger::Manual
        )),
        Err(SnapshotError::ModuleNotFound {
            name: "ghost".into()
        })
    );
}

#[test]
fn a_second_operation_on_a_busy_module_gets_busy() {
    let (mgmt, _) = setup();
    let _held = ModuleLock::acquire("app", OperationKind::Upgrade, 0).unwrap();
    assert_eq!(
        take(&mgmt, None),
        Err(SnapshotError::Busy {
            module: "app".into(),
            operation: OperationKind::Upgrade
        })
    );
    assert!(mgmt.calls().is_empty());
}

#[test]
fn two_concurrent_operations_on_one_module_run_one_at_a_time() {
    use futures::task::LocalSpawnExt;
    let (mgmt, _) = setup();
    let mgmt = std::rc::Rc::new(mgmt);
    let mut pool = futures::executor::LocalPool::new();
    let results = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    for label in ["first", "second"] {
        let (mgmt, results) = (mgmt.clone(), results.clone());
        pool.spawner()
            .spawn_local(async move {
                let args = TakeSnapshotArgs {
                    label: Some(label.into()),
                    pin: None,
                };
                let r = snapshots::take(&*mgmt, admin(), "app", args, Trigger::Manual).await;
                results.borrow_mut().push(r);
            })
            .unwrap();
    }
    pool.run();
    let results = results.borrow();
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results.contains(&Err(SnapshotError::Busy {
        module: "app".into(),
        operation: OperationKind::TakeSnapshot
    })));
    assert_eq!(lock::held_by("app"), None);
}

#[test]
fn a_trap_in_a_callback_releases_the_lock_and_marks_the_operation_interrupted() {
    let (mgmt, _) = setup();
    mgmt.panic_next("take_canister_snapshot");
    let trapped = catch_unwind(AssertUnwindSafe(|| take(&mgmt, None)));
    assert!(trapped.is_err());
    assert_eq!(
        lock::held_by("app"),
        None,
        "the Drop guard released the lock"
    );
    let op = last_operation();
    assert!(
        matches!(&op.status, OperationStatus::Failed(r) if r.contains("interrupted")),
        "{:?}",
        op.status
    );
    assert!(op.finished_at.is_some());
    // The module is usable again.
    take(&mgmt, None).unwrap();
}

#[test]
fn restore_loads_the_newest_snapshot_by_default_and_restarts() {
    let (mgmt, canister) = setup_with(ModuleSettingsUpdate {
        max_snapshots: Some(2),
        ..Default::default()
    });
    mgmt.set_data(canister, 10);
    let old = take(&mgmt, Some("old")).unwrap();
    mgmt.set_data(canister, 20);
    let new = take(&mgmt, Some("new")).unwrap();
    mgmt.set_data(canister, 99);
    mgmt.calls.borrow_mut().clear();

    let restored = run(snapshots::restore(&mgmt, admin(), "app", None)).unwrap();
    assert_eq!(restored.id, new.id);
    assert_eq!(restored.label.as_deref(), Some("new"));
    assert_eq!(mgmt.canister(canister).data, 20);
    assert_eq!(mgmt.calls(), RESTORE_CALLS);
    assert_eq!(mgmt.canister(canister).status, RunStatus::Running);

    run(snapshots::restore(
        &mgmt,
        admin(),
        "app",
        Some(old.id.to_vec()),
    ))
    .unwrap();
    assert_eq!(mgmt.canister(canister).data, 10);
    assert_eq!(last_operation().snapshot_id, Some(old.id));
}

#[test]
fn restore_refuses_unknown_ids_and_modules_without_snapshots() {
    let (mgmt, canister) = setup();
    assert_eq!(
        run(snapshots::restore(&mgmt, admin(), "app", None)),
        Err(SnapshotError::NoSnapshot {
            module: "app".into()
        })
    );
    take(&mgmt, None).unwrap();
    let bogus = vec![0xFF; 18];
    assert_eq!(
        run(snapshots::restore(
            &mgmt,
            admin(),
            "app",
            Some(bogus.clone())
        )),
        Err(SnapshotError::SnapshotNotFound {
            module: "app".into(),
            id: bogus.into()
        })
    );
    assert!(matches!(
        last_operation().status,
        OperationStatus::Failed(_)
    ));
    assert_eq!(mgmt.canister(canister).status, RunStatus::Running);
    assert_eq!(lock::held_by("app"), None);
}

#[test]
fn a_failed_load_still_restarts_the_module() {
    let (mgmt, canister) = setup();
    take(&mgmt, None).unwrap();
    mgmt.fail_next("load_canister_snapshot");
    let error = run(snapshots::restore(&mgmt, admin(), "app", None)).unwrap_err();
    assert!(matches!(
        error,
        SnapshotError::OperationFailed {
            step: OperationStep::LoadSnapshot,
            module_running: true,
            ..
        }
    ));
    assert_eq!(mgmt.calls().last(), Some(&"start_canister"));
    assert_eq!(mgmt.canister(canister).status, RunStatus::Running);
}

#[test]
fn a_failed_restart_after_a_restore_is_reported() {
    let (mgmt, _) = setup();
    take(&mgmt, None).unwrap();
    mgmt.fail_next("start_canister");
    assert!(matches!(
        run(snapshots::restore(&mgmt, admin(), "app", None)),
        Err(SnapshotError::OperationFailed {
            step: OperationStep::Start,
            module_running: false,
            ..
        })
    ));
}

#[test]
fn delete_without_an_id_needs_exactly_one_snapshot() {
    let (mgmt, canister) = setup_with(ModuleSettingsUpdate {
        max_snapshots: Some(3),
        ..Default::default()
    });
    assert_eq!(
        delete(&mgmt, None),
        Err(SnapshotError::NoSnapshot {
            module: "app".into()
        })
    );
    let a = take(&mgmt, None).unwrap();
    let b = take(&mgmt, None).unwrap();
    assert_eq!(
        delete(&mgmt, None),
        Err(SnapshotError::AmbiguousSnapshot {
            module: "app".into(),
            count: 2
        })
    );
    assert_eq!(
        mgmt.canister(canister).snapshots.len(),
        2,
        "nothing deleted"
    );
    mgmt.calls.borrow_mut().clear();
    let deleted = delete(&mgmt, Some(a.id.as_slice())).unwrap();
    assert_eq!(deleted.id, a.id);
    let deleted = delete(&mgmt, None).unwrap();
    assert_eq!(deleted.id, b.id);
    assert!(mgmt.canister(canister).snapshots.is_empty());
    assert!(
        run(snapshots::list_reconciled(&mgmt, "app"))
            .unwrap()
            .is_empty()
    );
    assert!(
        !mgmt.calls().contains(&"stop_canister"),
        "deleting a snapshot does not stop the module"
    );
}

#[test]
fn a_failed_delete_keeps_the_record() {
    let (mgmt, _) = setup();
    let a = take(&mgmt, Some("keep me")).unwrap();
    mgmt.fail_next("delete_canister_snapshot");
    assert!(matches!(
        delete(&mgmt, None),
        Err(SnapshotError::OperationFailed {
            step: OperationStep::DeleteSnapshot,
            ..
        })
    ));
    assert_eq!(
        run(snapshots::list_reconciled(&mgmt, "app")).unwrap()[0].id,
        a.id
    );
    assert_eq!(
        run(snapshots::list_reconciled(&mgmt, "app")).unwrap()[0]
            .label
            .as_deref(),
        Some("keep me")
    );
}

#[test]
fn list_shows_external_snapshots_and_forgets_ones_deleted_elsewhere() {
    let (mgmt, canister) = setup_with(ModuleSettingsUpdate {
        max_snapshots: Some(5),
        ..Default::default()
    });
    let ours = take(&mgmt, Some("ours")).unwrap();
    // Someone else (dfx, icp-cli) takes one directly.
    let external = run(mgmt.take_snapshot(canister, None)).unwrap();
    let listed = run(snapshots::list_reconciled(&mgmt, "app")).unwrap();
    assert_eq!(listed.len(), 2);
    assert!(!listed[0].external);
    assert!(listed[1].external);
    assert_eq!(listed[1].id.to_vec(), external.id);
    assert_eq!(listed[1].trigger, None);
    // ... and deletes ours directly.
    run(mgmt.delete_snapshot(canister, ours.id.to_vec())).unwrap();
    let listed = run(snapshots::list_reconciled(&mgmt, "app")).unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].external);
    assert!(crate::store::snapshot_meta::recorded_ids("app").is_empty());
}

#[test]
fn the_ic_limit_of_ten_is_respected_by_replacing_when_max_is_ten() {
    let (mgmt, canister) = setup_with(ModuleSettingsUpdate {
        max_snapshots: Some(10),
        ..Default::default()
    });
    for _ in 0..12 {
        take(&mgmt, None).unwrap();
    }
    assert_eq!(mgmt.canister(canister).snapshots.len(), 10);
}
