//! `begin_import` / `finish_import` / `abort_import`: the module's lock held as a lease while
//! the client uploads, with the rules of every other operation (busy, pins, slots, history).
//! The client's upload is played by a take on the fake, straight to the management canister.

use orchestrator_api::{
    BeginImportArgs, FinishImportArgs, IMPORT_LEASE_NANOS, ImportError, ImportLease,
    ModuleSettingsUpdate, OperationKind, OperationStatus, OperationStep, SnapshotError,
    SnapshotSelector, StepOutcome, Trigger,
};

use super::{RESTORE_CALLS, admin, run, setup, setup_with, take};
use crate::fake::FakeManagement;
use crate::mgmt::{IcSnapshot, Management, RunStatus};
use crate::{history, imports, lock, snapshots};

fn begin(mgmt: &FakeManagement, args: BeginImportArgs) -> Result<ImportLease, ImportError> {
    run(imports::begin(mgmt, admin(), "app", args))
}

/// What the client does between begin and finish: upload a snapshot (here: take one).
fn client_upload(
    mgmt: &FakeManagement,
    canister: candid::Principal,
    data: u64,
    replace: Option<Vec<u8>>,
) -> IcSnapshot {
    mgmt.set_data(canister, data);
    let snapshot = run(mgmt.take_snapshot(canister, replace)).unwrap();
    mgmt.set_data(canister, 1);
    snapshot
}

fn finish(
    mgmt: &FakeManagement,
    id: u64,
    snapshot: &[u8],
    restore: bool,
) -> Result<orchestrator_api::ImportReport, ImportError> {
    run(imports::finish(
        mgmt,
        id,
        FinishImportArgs {
            snapshot_id: snapshot.to_vec().into(),
            restore,
        },
    ))
}

/// Begins an import that restores the module once it is finished.
fn begin_with_restore(mgmt: &FakeManagement) -> ImportLease {
    begin(
        mgmt,
        BeginImportArgs {
            restore: true,
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn an_import_with_restore_records_the_snapshot_loads_it_and_frees_the_module() {
    let (mgmt, canister) = setup();
    let lease = begin_with_restore(&mgmt);
    assert_eq!(lease.canister_id, canister);
    assert_eq!(lease.expires_at, mgmt.now() + IMPORT_LEASE_NANOS);
    assert_eq!(lock::held_by("app"), Some(OperationKind::Import));
    let op = history::get(lease.operation_id).unwrap();
    assert_eq!(op.status, OperationStatus::InProgress);
    assert_eq!(op.kind, OperationKind::Import);
    assert_eq!(op.caller, admin());
    assert_eq!(op.steps.last().unwrap().step, OperationStep::ClientUpload);
    assert_eq!(op.steps.last().unwrap().outcome, StepOutcome::Running);

    let uploaded = client_upload(&mgmt, canister, 42, None);
    mgmt.calls.borrow_mut().clear();
    let report = finish(&mgmt, lease.operation_id, &uploaded.id, true).unwrap();
    assert!(report.restored);
    assert_eq!(mgmt.calls(), RESTORE_CALLS);
    let c = mgmt.canister(canister);
    assert_eq!(c.data, 42, "the imported state is loaded");
    assert_eq!(c.status, RunStatus::Running);
    assert_eq!(lock::held_by("app"), None, "the lease is released");
    assert_eq!(report.snapshot.trigger, Some(Trigger::Import));
    assert_eq!(report.snapshot.label.as_deref(), Some("import"));
    assert!(!report.snapshot.external);
    let op = history::get(lease.operation_id).unwrap();
    assert_eq!(op.status, OperationStatus::Completed);
    assert_eq!(
        op.snapshot_id.map(|id| id.into_vec()),
        Some(uploaded.id.clone())
    );
    let steps: Vec<_> = op
        .steps
        .iter()
        .map(|s| (s.step, s.outcome.clone()))
        .collect();
    assert_eq!(steps[1], (OperationStep::ClientUpload, StepOutcome::Ok));
    assert!(
        steps.iter().all(|(_, o)| *o == StepOutcome::Ok),
        "{steps:?}"
    );
    assert_eq!(
        finish(&mgmt, lease.operation_id, &uploaded.id, true),
        Err(ImportError::NotInProgress {
            operation_id: lease.operation_id,
            status: Some(OperationStatus::Completed)
        }),
        "a finished import cannot be finished twice"
    );
}

#[test]
fn an_import_without_restore_only_records_the_snapshot() {
    let (mgmt, canister) = setup();
    let lease = begin(&mgmt, BeginImportArgs::default()).unwrap();
    let uploaded = client_upload(&mgmt, canister, 42, None);
    let report = finish(&mgmt, lease.operation_id, &uploaded.id, false).unwrap();
    assert!(!report.restored);
    assert_eq!(mgmt.canister(canister).data, 1, "nothing was loaded");
    let listed = run(snapshots::list_reconciled(&mgmt, "app")).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].trigger, Some(Trigger::Import));
}

#[test]
fn an_import_into_a_busy_module_is_refused_and_other_operations_wait_for_the_lease() {
    let (mgmt, _) = setup();
    let held = lock::ModuleLock::acquire("app", OperationKind::Upgrade, mgmt.now()).unwrap();
    assert_eq!(
        begin(&mgmt, BeginImportArgs::default()),
        Err(ImportError::Busy {
            module: "app".into(),
            operation: OperationKind::Upgrade
        })
    );
    assert!(mgmt.calls().is_empty(), "nothing was called");
    drop(held);
    let upgrade_args = orchestrator_api::UpgradeArgs {
        wasm_hash: super::stage(&mgmt, crate::fake::V2_WASM),
        arg: vec![],
        snapshot: None,
        on_existing: orchestrator_api::OnExisting::Replace,
        rollback_on_failure: true,
    };
    let lease = begin(&mgmt, BeginImportArgs::default()).unwrap();
    assert_eq!(
        take(&mgmt, None),
        Err(SnapshotError::Busy {
            module: "app".into(),
            operation: OperationKind::Import
        }),
        "the lease holds the module across messages"
    );
    assert!(matches!(
        run(crate::upgrade::upgrade(&mgmt, admin(), "app", upgrade_args)),
        Err(orchestrator_api::UpgradeError::Busy {
            operation: OperationKind::Import,
            ..
        })
    ));
    imports::abort(lease.operation_id, "test".into(), mgmt.now()).unwrap();
    take(&mgmt, None).expect("the module is free again");
}

#[test]
fn a_pinned_or_unknown_replace_target_is_refused_before_any_upload() {
    let (mgmt, _) = setup();
    let pinned = take(&mgmt, None).unwrap();
    run(snapshots::set_pinned(
        &mgmt,
        "app",
        SnapshotSelector::Id(pinned.id.clone()),
        true,
    ))
    .unwrap();
    let refused = begin(
        &mgmt,
        BeginImportArgs {
            replace: Some(pinned.id.clone()),
            ..Default::default()
        },
    );
    assert_eq!(
        refused,
        Err(ImportError::Pinned {
            module: "app".into(),
            id: pinned.id.clone()
        })
    );
    assert!(
        refused
            .unwrap_err()
            .to_string()
            .contains("keepsake snapshot unpin app")
    );
    assert_eq!(lock::held_by("app"), None, "no lease was kept");
    let op = history::page(&Default::default()).operations.remove(0);
    assert_eq!(op.kind, OperationKind::Import);
    assert!(
        matches!(op.status, OperationStatus::Failed(ref r) if r.contains("pinned")),
        "{:?}",
        op.status
    );
    assert!(matches!(
        begin(
            &mgmt,
            BeginImportArgs {
                replace: Some(vec![9; 18].into()),
                ..Default::default()
            }
        ),
        Err(ImportError::SnapshotNotFound { .. })
    ));
}

#[test]
fn the_snapshot_an_import_replaces_cannot_be_pinned_while_the_lease_holds() {
    let (mgmt, canister) = setup();
    let old = take(&mgmt, None).unwrap();
    let lease = begin(
        &mgmt,
        BeginImportArgs {
            replace: Some(old.id.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(matches!(
        run(snapshots::set_pinned(
            &mgmt,
            "app",
            SnapshotSelector::Id(old.id.clone()),
            true
        )),
        Err(SnapshotError::Busy {
            operation: OperationKind::Import,
            ..
        })
    ));
    let uploaded = client_upload(&mgmt, canister, 5, Some(old.id.to_vec()));
    finish(&mgmt, lease.operation_id, &uploaded.id, false).unwrap();
    let listed = run(snapshots::list_reconciled(&mgmt, "app")).unwrap();
    assert_eq!(listed.len(), 1, "the replaced snapshot's record is gone");
    assert_eq!(*listed[0].id, uploaded.id);
}

#[test]
fn an_import_without_a_free_slot_is_refused_but_a_resumed_one_needs_none() {
    let (mgmt, canister) = setup_with(ModuleSettingsUpdate {
        max_snapshots: Some(2),
        ..Default::default()
    });
    take(&mgmt, None).unwrap();
    let partial = client_upload(&mgmt, canister, 3, None);
    assert_eq!(
        begin(&mgmt, BeginImportArgs::default()),
        Err(ImportError::SlotsFull {
            module: "app".into(),
            held: 2,
            limit: 2
        })
    );
    let lease = begin(
        &mgmt,
        BeginImportArgs {
            resume: Some(partial.id.clone().into()),
            ..Default::default()
        },
    )
    .expect("continuing an earlier upload takes no new slot");
    finish(&mgmt, lease.operation_id, &partial.id, false).unwrap();
}

#[test]
fn an_aborted_import_is_failed_in_the_history_and_frees_the_module() {
    let (mgmt, _) = setup();
    let lease = begin(&mgmt, BeginImportArgs::default()).unwrap();
    imports::abort(
        lease.operation_id,
        "the upload failed: disk error".into(),
        mgmt.now(),
    )
    .unwrap();
    assert_eq!(lock::held_by("app"), None);
    let op = history::get(lease.operation_id).unwrap();
    assert!(
        matches!(&op.status, OperationStatus::Failed(r) if r.contains("disk error")),
        "{:?}",
        op.status
    );
    assert!(matches!(
        op.steps.last().unwrap().outcome,
        StepOutcome::Failed(_)
    ));
    assert!(matches!(
        imports::abort(lease.operation_id, "again".into(), mgmt.now()),
        Err(ImportError::NotInProgress { .. })
    ));
}

#[test]
fn an_expired_lease_is_taken_over_and_the_abandoned_import_closed() {
    let (mgmt, canister) = setup();
    let lease = begin(&mgmt, BeginImportArgs::default()).unwrap();
    let uploaded = client_upload(&mgmt, canister, 7, None);
    // Renewed once, so it lasts a lease from then.
    let renewed = imports::renew(lease.operation_id, mgmt.now()).unwrap();
    assert!(renewed.expires_at > lease.expires_at);
    mgmt.now.set(renewed.expires_at - 2_000_000_000);
    assert!(
        matches!(take(&mgmt, None), Err(SnapshotError::Busy { .. })),
        "not yet expired"
    );
    mgmt.now.set(renewed.expires_at);
    take(&mgmt, None).expect("an expired lease does not hold the module");
    let op = history::get(lease.operation_id).unwrap();
    assert!(
        matches!(&op.status, OperationStatus::Failed(r) if r.starts_with("abandoned")),
        "{:?}",
        op.status
    );
    assert_eq!(
        finish(&mgmt, lease.operation_id, &uploaded.id, true),
        Err(ImportError::NotInProgress {
            operation_id: lease.operation_id,
            status: Some(op.status.clone())
        }),
        "the late client is told, and nothing is loaded"
    );
    assert_eq!(mgmt.canister(canister).data, 1);
}

#[test]
fn a_lapsed_lease_nobody_took_over_can_still_be_finished() {
    let (mgmt, canister) = setup();
    let lease = begin(&mgmt, BeginImportArgs::default()).unwrap();
    let uploaded = client_upload(&mgmt, canister, 7, None);
    mgmt.now.set(lease.expires_at + 1);
    finish(&mgmt, lease.operation_id, &uploaded.id, false).unwrap();
}

#[test]
fn an_orchestrator_upgrade_keeps_a_live_import_lease_but_frees_other_locks() {
    let (mgmt, _) = setup();
    let lease = begin(&mgmt, BeginImportArgs::default()).unwrap();
    lock::release_interrupted(mgmt.now());
    assert_eq!(lock::held_by("app"), Some(OperationKind::Import));
    assert_eq!(
        history::get(lease.operation_id).unwrap().status,
        OperationStatus::InProgress
    );
}

#[test]
fn a_failed_load_reports_the_step_and_restarts_the_module() {
    let (mgmt, canister) = setup();
    let lease = begin_with_restore(&mgmt);
    let uploaded = client_upload(&mgmt, canister, 9, None);
    mgmt.fail_next("load_canister_snapshot");
    let error = finish(&mgmt, lease.operation_id, &uploaded.id, true).unwrap_err();
    assert!(
        matches!(
            error,
            ImportError::OperationFailed {
                step: OperationStep::LoadSnapshot,
                module_running: true,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(mgmt.canister(canister).status, RunStatus::Running);
    assert_eq!(lock::held_by("app"), None);
    // The snapshot stays recorded, so a rerun can load it.
    let listed = run(snapshots::list_reconciled(&mgmt, "app")).unwrap();
    assert_eq!(listed[0].trigger, Some(Trigger::Import));
    let again = begin(
        &mgmt,
        BeginImportArgs {
            resume: Some(uploaded.id.clone().into()),
            restore: true,
            ..Default::default()
        },
    )
    .unwrap();
    finish(&mgmt, again.operation_id, &uploaded.id, true).unwrap();
    assert_eq!(mgmt.canister(canister).data, 9);
}

#[test]
fn finishing_with_a_snapshot_the_module_does_not_hold_is_refused() {
    let (mgmt, _) = setup();
    let lease = begin(&mgmt, BeginImportArgs::default()).unwrap();
    assert!(matches!(
        finish(&mgmt, lease.operation_id, &[1; 18], true),
        Err(ImportError::SnapshotNotFound { .. })
    ));
    assert_eq!(lock::held_by("app"), None);
    assert!(matches!(
        history::get(lease.operation_id).unwrap().status,
        OperationStatus::Failed(_)
    ));
}
