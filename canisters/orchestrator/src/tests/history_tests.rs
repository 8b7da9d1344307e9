use orchestrator_api::{HistoryQuery, OperationStatus, StepOutcome, TakeSnapshotArgs, Trigger};

use super::{admin, setup, take};
use crate::{history, lock, snapshots};

#[test]
fn history_pages_newest_first_and_filters_by_module() {
    let (mgmt, _) = setup();
    for _ in 0..5 {
        take(&mgmt, None).unwrap();
    }
    // A page of two before `before`: its ids and where the next page starts.
    let page_before = |before: Option<u64>| {
        let page = history::page(&HistoryQuery {
            limit: Some(2),
            before,
            ..Default::default()
        });
        let ids: Vec<_> = page.operations.iter().map(|o| o.id).collect();
        (ids, page.next)
    };
    let (ids, next) = page_before(None);
    assert_eq!(ids, [5, 4]);
    assert_eq!(next, Some(4));
    let (ids, next) = page_before(next);
    assert_eq!(ids, [3, 2]);
    let (ids, next) = page_before(next);
    assert_eq!(ids, [1]);
    assert_eq!(next, None);
    let other = history::page(&HistoryQuery {
        module: Some("other".into()),
        ..Default::default()
    });
    assert!(other.operations.is_empty());
}

#[test]
fn an_operation_in_progress_is_visible_with_its_current_step() {
    use futures::task::LocalSpawnExt;
    let (mgmt, _) = setup();
    let mgmt = std::rc::Rc::new(mgmt);
    let mut pool = futures::executor::LocalPool::new();
    let m = mgmt.clone();
    mgmt.hold();
    pool.spawner()
        .spawn_local(async move {
            snapshots::take(
                &*m,
                admin(),
                "app",
                TakeSnapshotArgs::default(),
                Trigger::Manual,
            )
            .await
            .unwrap();
        })
        .unwrap();
    // Run until the first call is out and held.
    pool.run_until_stalled();
    let op = history::get(1).unwrap();
    assert_eq!(op.status, OperationStatus::InProgress);
    assert_eq!(op.steps.last().unwrap().outcome, StepOutcome::Running);
    assert!(lock::held_by("app").is_some());
    mgmt.release();
    pool.run();
    assert_eq!(history::get(1).unwrap().status, OperationStatus::Completed);
}

#[test]
fn an_orchestrator_upgrade_releases_interrupted_locks_and_closes_their_operations() {
    let (_, _) = setup();
    let guard =
        lock::ModuleLock::acquire("app", orchestrator_api::OperationKind::Upgrade, 0).unwrap();
    let op = history::Operation::begin(
        "app",
        orchestrator_api::OperationKind::Upgrade,
        admin(),
        Trigger::Manual,
        5,
    );
    guard.set_operation_id(op.id());
    // Simulate the upgrade: the heap (and these guards) vanish without running Drop.
    std::mem::forget(guard);
    let id = op.id();
    std::mem::forget(op);
    lock::release_interrupted(10);
    assert_eq!(lock::held_by("app"), None);
    let record = history::get(id).unwrap();
    assert!(
        matches!(record.status, OperationStatus::Failed(r) if r.contains("upgrade of the orchestrator"))
    );
    assert_eq!(record.finished_at, Some(10));
}
