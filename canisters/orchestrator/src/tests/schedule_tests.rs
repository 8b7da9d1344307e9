//! Schedules, retention, pins and fleet snapshots against the fake management canister. The
//! timer itself is IC glue (`crate::timer`); these tests drive `claim_due` + `run` as it does,
//! and tests/ checks the real timer on localnet's virtual time.

use candid::Principal;
use orchestrator_api::{
    AddModuleArgs, Cadence, FleetSnapshotArgs, ModuleKind, ModuleSettingsUpdate, OnExisting,
    OperationKind, OperationStatus, Retention, ScheduleArgs, ScheduleError, SnapshotError,
    SnapshotSelector, TakeSnapshotArgs, Trigger, UpgradeArgs, UpgradeOutcome,
};

use super::{admin, delete, run, setup_with, stage, take_with};
use crate::fake::{FakeManagement, V2_WASM};
use crate::mgmt::Management;
use crate::{fleet, lock, registry, schedules, snapshots, upgrade};

const MINUTE: u64 = 60 * 1_000_000_000;
const HOUR: u64 = 60 * MINUTE;

/// 2026-11-21T23:00:00Z in nanoseconds.
const NOV_21_23H: u64 = 1_795_302_000 * 1_000_000_000;

fn max_snapshots(max: u8) -> ModuleSettingsUpdate {
    ModuleSettingsUpdate {
        max_snapshots: Some(max),
        ..Default::default()
    }
}

fn every(minutes: u32, retention: Retention) -> ScheduleArgs {
    ScheduleArgs {
        cadence: Cadence::EveryMinutes(minutes),
        retention,
    }
}

fn take(mgmt: &FakeManagement, label: &str) -> orchestrator_api::SnapshotInfo {
    super::take(mgmt, Some(label)).expect("take_snapshot")
}

fn pin(mgmt: &FakeManagement, selector: SnapshotSelector) -> Vec<orchestrator_api::SnapshotInfo> {
    run(snapshots::set_pinned(mgmt, "app", selector, true)).expect("pin_snapshot")
}

fn upgrade_args(wasm_hash: Vec<u8>) -> UpgradeArgs {
    UpgradeArgs {
        wasm_hash,
        arg: vec![],
        snapshot: None,
        on_existing: OnExisting::Replace,
        rollback_on_failure: true,
    }
}

fn labels(mgmt: &FakeManagement) -> Vec<String> {
    run(snapshots::list_reconciled(mgmt, "app"))
        .unwrap()
        .into_iter()
        .map(|s| s.label.unwrap_or_else(|| "<scheduled>".into()))
        .collect()
}

fn history() -> Vec<orchestrator_api::OperationRecord> {
    crate::history::page(&Default::default()).operations
}

/// Claims and runs whatever is due at the fake's current time, as the timer does.
fn wake_up(mgmt: &FakeManagement) -> Vec<String> {
    let due = schedules::claim_due(mgmt.now());
    for name in &due {
        run(schedules::run(mgmt, name));
    }
    due
}

#[test]
fn an_interval_fires_at_whole_periods_from_when_it_was_set() {
    let every_hour = Cadence::EveryMinutes(60);
    let set_at = NOV_21_23H + 5 * MINUTE;
    assert_eq!(
        schedules::next_after(&every_hour, set_at, set_at),
        Ok(set_at + HOUR)
    );
    assert_eq!(
        schedules::next_after(&every_hour, set_at, set_at + HOUR),
        Ok(set_at + 2 * HOUR),
        "an occurrence exactly at now is the one being run: the next is after it"
    );
    assert_eq!(
        schedules::next_after(&every_hour, set_at, set_at + 5 * HOUR + 30 * MINUTE),
        Ok(set_at + 6 * HOUR)
    );
}

#[test]
fn cron_is_evaluated_in_utc_across_the_day_boundary() {
    let at_0030 = Cadence::Cron("30 0 * * *".into());
    // From 23:00 on Nov 21 the next 00:30 is on Nov 22.
    assert_eq!(
        schedules::next_after(&at_0030, 0, NOV_21_23H),
        Ok(NOV_21_23H + HOUR + 30 * MINUTE)
    );
    let every_6h = Cadence::Cron("0 */6 * * *".into());
    assert_eq!(
        schedules::next_after(&every_6h, 0, NOV_21_23H),
        Ok(NOV_21_23H + HOUR),
        "00:00 on Nov 22"
    );
    // Weekdays only: Nov 21 2026 is a Saturday, so 02:00 Mon–Fri next fires Monday Nov 23.
    let weekdays = Cadence::Cron("0 2 * * 1-5".into());
    assert_eq!(
        schedules::next_after(&weekdays, 0, NOV_21_23H),
        Ok(NOV_21_23H + 24 * HOUR + 3 * HOUR)
    );
}

#[test]
fn bad_cadences_and_retentions_are_refused_with_the_rule() {
    let (mgmt, _) = setup_with(max_snapshots(3));
    let set = |cadence: Cadence, retention: Retention| {
        schedules::set("app", ScheduleArgs { cadence, retention }, mgmt.now())
    };
    let reason = |r: Result<_, ScheduleError>| match r {
        Err(ScheduleError::InvalidCadence { reason })
        | Err(ScheduleError::InvalidRetention { reason }) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert!(reason(set(Cadence::EveryMinutes(14), Retention::default())).contains("15 minutes"));
    assert!(
        reason(set(
            Cadence::Cron("0 0 * * * *".into()),
            Retention::default()
        ))
        .contains("5 fields")
    );
    assert!(
        reason(set(
            Cadence::Cron("61 * * * *".into()),
            Retention::default()
        ))
        .contains("not a valid cron")
    );
    assert!(
        reason(set(
            Cadence::Cron("0 0 30 2 *".into()),
            Retention::default()
        ))
        .contains("never fires")
    );
    for too_often in ["* * * * *", "*/5 * * * *", "0,10 * * * *"] {
        let why = reason(set(Cadence::Cron(too_often.into()), Retention::default()));
        assert!(
            why.contains("at least 15 minutes apart"),
            "{too_often}: {why}"
        );
    }
    assert!(set(Cadence::Cron("*/15 * * * *".into()), Retention::default()).is_ok());
    schedules::clear("app").unwrap();
    let keep_4 = Retention {
        keep: Some(4),
        max_age_seconds: None,
    };
    assert!(reason(set(Cadence::EveryMinutes(60), keep_4)).contains("max_snapshots (3"));
    assert_eq!(
        schedules::set("nope", every(60, Retention::default()), mgmt.now()),
        Err(ScheduleError::ModuleNotFound {
            name: "nope".into()
        })
    );
    assert_eq!(
        schedules::clear("app"),
        Err(ScheduleError::NoSchedule {
            module: "app".into()
        })
    );
    assert!(
        schedules::list(None).unwrap().is_empty(),
        "nothing was stored"
    );
}

#[test]
fn missed_runs_collapse_into_one_and_the_next_is_in_the_future() {
    let (mgmt, _) = setup_with(max_snapshots(3));
    let set_at = mgmt.now();
    schedules::set("app", every(60, Retention::default()), set_at).unwrap();
    assert_eq!(schedules::next_wakeup(), Some(set_at + HOUR));
    mgmt.now.set(set_at + HOUR - 1);
    assert!(schedules::claim_due(mgmt.now()).is_empty(), "not due yet");

    // The orchestrator was stopped for five hours: one run, not five.
    mgmt.now.set(set_at + 5 * HOUR + 10 * MINUTE);
    assert_eq!(wake_up(&mgmt), vec!["app".to_string()]);
    assert!(wake_up(&mgmt).is_empty(), "claimed once");
    let taken: Vec<_> = history()
        .into_iter()
        .filter(|o| o.trigger == Trigger::Schedule)
        .collect();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].status, OperationStatus::Completed);
    let schedule = &schedules::list(Some("app")).unwrap()[0];
    assert_eq!(schedule.next_run_at, set_at + 6 * HOUR);
    assert_eq!(schedule.last_operation_id, Some(taken[0].id));
    assert_eq!(labels(&mgmt).len(), 1);
}

#[test]
fn a_busy_module_is_retried_later_and_the_history_says_so() {
    let (mgmt, _) = setup_with(max_snapshots(3));
    let set_at = mgmt.now();
    schedules::set("app", every(60, Retention::default()), set_at).unwrap();
    mgmt.now.set(set_at + HOUR);
    let busy = lock::ModuleLock::acquire("app", OperationKind::Upgrade, 0).unwrap();
    assert_eq!(wake_up(&mgmt), vec!["app".to_string()]);
    let skipped = &history()[0];
    assert_eq!(skipped.trigger, Trigger::Schedule);
    assert!(
        matches!(&skipped.status, OperationStatus::Skipped(r) if r.contains("busy with upgrade") && r.contains("retried")),
        "{:?}",
        skipped.status
    );
    let schedule = &schedules::list(Some("app")).unwrap()[0];
    let retry_at = schedule.retry_at.expect("a retry is pending");
    assert!(retry_at < schedule.next_run_at);
    assert_eq!(schedules::next_wakeup(), Some(retry_at));

    drop(busy);
    mgmt.now.set(retry_at);
    assert_eq!(wake_up(&mgmt), vec!["app".to_string()]);
    assert_eq!(history()[0].status, OperationStatus::Completed);
    assert_eq!(history()[0].trigger, Trigger::Schedule);
    assert_eq!(schedules::list(Some("app")).unwrap()[0].retry_at, None);
    assert_eq!(labels(&mgmt).len(), 1);
}

#[test]
fn retention_deletes_the_oldest_beyond_keep_but_never_a_pinned_one() {
    let (mgmt, _) = setup_with(max_snapshots(5));
    for label in ["a", "b", "c", "d"] {
        take(&mgmt, label);
    }
    let pinned = pin(&mgmt, SnapshotSelector::Label("a".into()));
    assert!(pinned[0].pinned);
    let keep_2 = Retention {
        keep: Some(2),
        max_age_seconds: None,
    };
    schedules::set("app", every(15, keep_2), mgmt.now()).unwrap();
    mgmt.now.set(mgmt.now() + 15 * MINUTE);
    wake_up(&mgmt);
    // 5 held after the scheduled take; keep 2: b, c and d go (oldest first), a is pinned.
    assert_eq!(labels(&mgmt), vec!["a", "<scheduled>"]);
    let deletions: Vec<_> = history()
        .into_iter()
        .filter(|o| o.kind == OperationKind::DeleteSnapshot)
        .collect();
    assert_eq!(deletions.len(), 3);
    assert!(deletions.iter().all(|o| o.trigger == Trigger::Retention
        && o.status == OperationStatus::Completed
        && o.caller == mgmt.self_id));
}

#[test]
fn retention_deletes_expired_snapshots_but_keeps_pinned_and_pre_upgrade_ones() {
    let (mgmt, _) = setup_with(max_snapshots(6));
    let old = take(&mgmt, "old");
    take(&mgmt, "old-pinned");
    pin(&mgmt, SnapshotSelector::Label("old-pinned".into()));
    let hash = stage(&mgmt, V2_WASM);
    let report = run(upgrade::upgrade(&mgmt, admin(), "app", upgrade_args(hash))).unwrap();
    assert_eq!(report.outcome, UpgradeOutcome::Upgraded);
    let listed = run(snapshots::list_reconciled(&mgmt, "app")).unwrap();
    let pre_upgrade = listed
        .iter()
        .find(|s| s.trigger == Some(Trigger::Upgrade))
        .unwrap();
    assert!(pre_upgrade.kept_for_upgrade);
    assert!(
        !listed
            .iter()
            .find(|s| s.id == old.id)
            .unwrap()
            .kept_for_upgrade
    );

    // Two days later a daily schedule with a one-day max age runs.
    let day = Retention {
        keep: None,
        max_age_seconds: Some(24 * 3600),
    };
    schedules::set("app", every(24 * 60, day), mgmt.now()).unwrap();
    mgmt.now.set(mgmt.now() + 2 * 24 * HOUR);
    wake_up(&mgmt);
    let left = run(snapshots::list_reconciled(&mgmt, "app")).unwrap();
    let mut left: Vec<_> = left.iter().map(|s| (s.label.clone(), s.trigger)).collect();
    left.sort_by_key(|(label, _)| label.clone());
    assert_eq!(
        left,
        vec![
            (None, Some(Trigger::Schedule)),
            (pre_upgrade.label.clone(), Some(Trigger::Upgrade)),
            (Some("old-pinned".into()), Some(Trigger::Manual)),
        ],
        "\"old\" expired; the pinned and the pre-upgrade ones stay"
    );
}

#[test]
fn with_every_slot_protected_a_scheduled_snapshot_is_skipped_and_a_manual_one_refused() {
    let (mgmt, _) = setup_with(max_snapshots(1));
    let only = take(&mgmt, "keep me");
    pin(&mgmt, SnapshotSelector::Id(only.id.clone()));
    schedules::set("app", every(60, Retention::default()), mgmt.now()).unwrap();
    mgmt.now.set(mgmt.now() + HOUR);
    mgmt.calls.borrow_mut().clear();
    wake_up(&mgmt);
    let skipped = &history()[0];
    assert_eq!(skipped.trigger, Trigger::Schedule);
    assert!(
        matches!(&skipped.status, OperationStatus::Skipped(r) if r.contains("none may be replaced") && r.contains("pinned")),
        "{:?}",
        skipped.status
    );
    assert!(
        !mgmt.calls().contains(&"take_canister_snapshot"),
        "nothing was taken"
    );
    let manual = take_with(&mgmt, TakeSnapshotArgs::default());
    assert!(matches!(
        manual,
        Err(SnapshotError::SlotsProtected {
            held: 1,
            max: 1,
            ..
        })
    ));
    assert_eq!(labels(&mgmt), vec!["keep me"]);
}

#[test]
fn a_scheduled_snapshot_spares_the_pre_upgrade_one_but_a_manual_one_may_replace_it() {
    let (mgmt, _) = setup_with(max_snapshots(2));
    take(&mgmt, "manual");
    let hash = stage(&mgmt, V2_WASM);
    let args = upgrade_args(hash);
    run(upgrade::upgrade(&mgmt, admin(), "app", args)).unwrap();
    // Held: [manual, pre-upgrade]; the pre-upgrade one is older than the next scheduled one
    // but kept: the schedule replaces "manual".
    schedules::set("app", every(60, Retention::default()), mgmt.now()).unwrap();
    mgmt.now.set(mgmt.now() + HOUR);
    wake_up(&mgmt);
    let held = run(snapshots::list_reconciled(&mgmt, "app")).unwrap();
    assert_eq!(held.len(), 2);
    assert!(held.iter().any(|s| s.kept_for_upgrade));
    assert!(held.iter().any(|s| s.trigger == Some(Trigger::Schedule)));
    // A second scheduled run finds only the pre-upgrade one and its own to choose from.
    mgmt.now.set(mgmt.now() + HOUR);
    wake_up(&mgmt);
    let held = run(snapshots::list_reconciled(&mgmt, "app")).unwrap();
    assert!(held.iter().any(|s| s.kept_for_upgrade), "still kept");
}

#[test]
fn a_pinned_snapshot_is_not_deleted_until_unpinned() {
    let (mgmt, _) = setup_with(max_snapshots(2));
    let a = take(&mgmt, "a");
    pin(&mgmt, SnapshotSelector::Id(a.id.clone()));
    let refused = delete(&mgmt, Some(a.id.as_slice()));
    assert_eq!(
        refused,
        Err(SnapshotError::Pinned {
            module: "app".into(),
            id: a.id.clone()
        })
    );
    assert!(
        refused
            .unwrap_err()
            .to_string()
            .contains("keepsake snapshot unpin app")
    );
    assert_eq!(
        run(snapshots::set_pinned(
            &mgmt,
            "app",
            SnapshotSelector::Label("zzz".into()),
            true
        )),
        Err(SnapshotError::LabelNotFound {
            module: "app".into(),
            label: "zzz".into()
        })
    );
    let unpinned = run(snapshots::set_pinned(
        &mgmt,
        "app",
        SnapshotSelector::Label("a".into()),
        false,
    ))
    .unwrap();
    assert!(!unpinned[0].pinned);
    delete(&mgmt, Some(a.id.as_slice())).unwrap();
    assert!(crate::store::snapshot_meta::pinned_ids("app").is_empty());
}

#[test]
fn take_with_pin_pins_and_a_manual_take_replaces_the_oldest_unpinned() {
    let (mgmt, _) = setup_with(max_snapshots(2));
    let first = run(snapshots::take(
        &mgmt,
        admin(),
        "app",
        TakeSnapshotArgs {
            label: Some("first".into()),
            pin: Some(true),
        },
        Trigger::Manual,
    ))
    .unwrap();
    assert!(first.pinned);
    take(&mgmt, "second");
    take(&mgmt, "third");
    assert_eq!(labels(&mgmt), vec!["first", "third"]);
}

#[test]
fn a_fleet_snapshot_reports_every_module_and_one_failure_does_not_stop_the_others() {
    let (mgmt, _) = setup_with(ModuleSettingsUpdate::default());
    for (n, name) in [(2u8, "blog"), (3, "shop")] {
        let canister = mgmt.add_canister(n);
        run(registry::add(
            &mgmt,
            admin(),
            AddModuleArgs {
                canister_id: canister,
                name: name.into(),
                kind: ModuleKind::Satellite,
            },
        ))
        .unwrap();
    }
    // "blog"'s canister is gone (deleted outside the orchestrator).
    mgmt.canisters
        .borrow_mut()
        .remove(&Principal::from_slice(&[2; 10]));
    let results = run(fleet::take_all(
        &mgmt,
        admin(),
        FleetSnapshotArgs {
            label: Some("nightly".into()),
            concurrency: Some(2),
            pin: None,
        },
    ))
    .unwrap();
    let modules: Vec<_> = results.iter().map(|r| r.module.as_str()).collect();
    assert_eq!(modules, ["app", "blog", "shop"]);
    assert!(
        results[0].result.as_ref().is_ok_and(
            |s| s.trigger == Some(Trigger::Fleet) && s.label.as_deref() == Some("nightly")
        )
    );
    assert!(results[1].result.is_err());
    assert!(results[2].result.is_ok());
    assert!(matches!(
        run(fleet::take_all(
            &mgmt,
            admin(),
            FleetSnapshotArgs {
                label: None,
                concurrency: Some(11),
                pin: None
            }
        )),
        Err(SnapshotError::InvalidArgument { .. })
    ));
}

#[test]
fn list_modules_shows_run_status_snapshot_memory_its_monthly_cost_and_the_next_run() {
    let (mgmt, _) = setup_with(max_snapshots(2));
    take(&mgmt, "a");
    schedules::set("app", every(60, Retention::default()), mgmt.now()).unwrap();
    let next = schedules::next_wakeup();
    let listed = run(registry::list_with_storage(&mgmt));
    let storage = listed[0].snapshot_storage.clone().expect("measured");
    assert_eq!(storage.bytes, 1001, "the fake's snapshot size");
    assert_eq!(
        storage.monthly_cost_cycles,
        orchestrator_api::monthly_storage_cost(1001)
    );
    assert_eq!(listed[0].next_snapshot_at, next);
    assert_eq!(
        listed[0].status,
        Some(orchestrator_api::ModuleRunStatus::Running)
    );
    // A module whose status cannot be read is still listed, without storage or status.
    mgmt.fail_next("canister_status");
    let listed = run(registry::list_with_storage(&mgmt));
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].snapshot_storage, None);
    assert_eq!(listed[0].status, None);
}

#[test]
fn removing_a_module_drops_its_schedule_and_pins() {
    let (mgmt, _) = setup_with(max_snapshots(2));
    let a = take(&mgmt, "a");
    pin(&mgmt, SnapshotSelector::Id(a.id));
    schedules::set("app", every(60, Retention::default()), mgmt.now()).unwrap();
    registry::remove("app").unwrap();
    assert_eq!(schedules::next_wakeup(), None);
    assert!(crate::store::snapshot_meta::pinned_ids("app").is_empty());
}

#[test]
fn an_upgrade_with_every_slot_pinned_is_refused_before_touching_the_module() {
    let (mgmt, _) = setup_with(max_snapshots(1));
    let only = take(&mgmt, "golden");
    pin(&mgmt, SnapshotSelector::Id(only.id));
    let hash = stage(&mgmt, V2_WASM);
    mgmt.calls.borrow_mut().clear();
    let refused = run(upgrade::upgrade(&mgmt, admin(), "app", upgrade_args(hash)));
    assert!(
        matches!(
            refused,
            Err(orchestrator_api::UpgradeError::SlotsPinned {
                held: 1,
                max: 1,
                ..
            })
        ),
        "{refused:?}"
    );
    assert_eq!(
        mgmt.calls(),
        ["list_canister_snapshots"],
        "nothing was touched"
    );
    assert_eq!(labels(&mgmt), vec!["golden"]);
}
