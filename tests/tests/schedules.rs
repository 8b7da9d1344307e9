//! Scheduled snapshots, retention and fleet snapshots on the orchestrator's real wasm, with
//! its real ic-cdk timer, on localnet's virtual clock: time moves only when a test moves it,
//! so "fires at 00:30" is checked to the second.

use candid::{Principal, encode_args};
use integration_tests::{Env, orch, upgrade_args, wasm};
use localnet::CallFilter;
use orchestrator_api::client::calls;
use orchestrator_api::*;

const SECOND: u64 = 1_000_000_000;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;

/// 2026-11-21T23:00:00Z (a Saturday).
const NOV_21_23H: u64 = 1_795_302_000 * SECOND;

fn env_at(time: u64, max_snapshots: u8) -> Env {
    let mut env = Env::new();
    env.net.set_time_nanos(time);
    env.update_settings(ModuleSettingsUpdate {
        max_snapshots: Some(max_snapshots),
        ..Default::default()
    });
    env
}

fn set_schedule(
    env: &mut Env,
    module: &str,
    cadence: Cadence,
    retention: Retention,
) -> ScheduleInfo {
    orch!(
        env,
        set_schedule(module, ScheduleArgs { cadence, retention })
    )
    .unwrap_or_else(|e| panic!("set_schedule: {e}"))
}

/// Snapshots "app" every `minutes`, keeping what `max_snapshots` allows.
fn every(env: &mut Env, minutes: u32) -> ScheduleInfo {
    set_schedule(
        env,
        "app",
        Cadence::EveryMinutes(minutes),
        Retention::default(),
    )
}

fn schedule(env: &mut Env) -> ScheduleInfo {
    orch!(env, list_schedules(Some("app"))).unwrap().remove(0)
}

/// Moves the clock and lets everything due run.
fn advance(env: &mut Env, by: u64) {
    env.net.advance_time_nanos(by);
    env.net.run_until_idle();
}

/// The operations a schedule started, oldest first.
fn scheduled(env: &mut Env) -> Vec<OperationRecord> {
    let mut ops: Vec<_> = env
        .history()
        .into_iter()
        .filter(|o| o.trigger == Trigger::Schedule)
        .collect();
    ops.reverse();
    ops
}

#[test]
fn a_cron_schedule_fires_at_its_minute_across_midnight() {
    integration_tests::localnet_only!("reads the orchestrator's global timer");
    let mut env = env_at(NOV_21_23H, 3);
    let info = set_schedule(
        &mut env,
        "app",
        Cadence::Cron("30 0 * * *".into()),
        Retention::default(),
    );
    let half_past_midnight = NOV_21_23H + HOUR + 30 * MINUTE;
    assert_eq!(info.next_run_at, half_past_midnight);
    assert_eq!(
        env.net.localnet().global_timer(env.orchestrator),
        Some(half_past_midnight),
        "the canister's timer is armed for the run"
    );

    advance(&mut env, HOUR + 30 * MINUTE - SECOND);
    assert!(scheduled(&mut env).is_empty(), "not before 00:30:00");
    advance(&mut env, SECOND);
    let runs = scheduled(&mut env);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, OperationStatus::Completed);
    assert_eq!(runs[0].started_at, half_past_midnight);
    assert_eq!(runs[0].caller, env.orchestrator, "the orchestrator runs it");
    let taken = env.list();
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0].trigger, Some(Trigger::Schedule));
    assert!(
        env.module_is_running(),
        "restarted after the scheduled take"
    );
    assert_eq!(
        schedule(&mut env).next_run_at,
        half_past_midnight + 24 * HOUR
    );
}

#[test]
fn an_interval_schedule_fires_every_period_and_list_modules_shows_the_next_run_and_the_cost() {
    let mut env = env_at(NOV_21_23H, 3);
    let set_at = env.net.time_nanos();
    every(&mut env, 15);
    let module = env.modules().remove(0);
    assert_eq!(module.next_snapshot_at, Some(set_at + 15 * MINUTE));
    assert_eq!(
        module.snapshot_storage,
        Some(SnapshotStorage {
            bytes: 0,
            monthly_cost_cycles: 0
        })
    );
    for run in 1..=2 {
        advance(&mut env, 15 * MINUTE);
        assert_eq!(scheduled(&mut env).len(), run);
    }
    advance(&mut env, 14 * MINUTE);
    assert_eq!(scheduled(&mut env).len(), 2, "the third is at 45 minutes");

    let module = env.modules().remove(0);
    assert_eq!(module.next_snapshot_at, Some(set_at + 45 * MINUTE));
    let storage = module.snapshot_storage.expect("canister_status answered");
    let held: u64 = env.list().iter().map(|s| s.total_size).sum();
    assert_eq!(storage.bytes, held, "localnet reports the snapshots' size");
    assert!(storage.bytes > 0);
    assert_eq!(
        storage.monthly_cost_cycles,
        monthly_storage_cost(storage.bytes)
    );
}

#[test]
fn schedules_survive_an_upgrade_of_the_orchestrator() {
    integration_tests::localnet_only!("reads the orchestrator's global timer");
    let mut env = env_at(NOV_21_23H, 3);
    let set_at = env.net.time_nanos();
    every(&mut env, 60);
    advance(&mut env, 30 * MINUTE);
    let orchestrator = env.orchestrator;
    env.upgrade_orchestrator();
    assert_eq!(
        env.net.localnet().global_timer(orchestrator),
        Some(set_at + HOUR),
        "post_upgrade re-armed the timer from stable memory"
    );
    advance(&mut env, 30 * MINUTE);
    let runs = scheduled(&mut env);
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].started_at, set_at + HOUR);
    assert_eq!(env.list().len(), 1);
}

#[test]
fn a_window_missed_while_the_orchestrator_was_stopped_runs_once_when_it_starts() {
    let mut env = env_at(NOV_21_23H, 3);
    let set_at = env.net.time_nanos();
    every(&mut env, 15);
    let (orchestrator, developer) = (env.orchestrator, env.developer);
    env.net
        .stop_canister(orchestrator, Some(developer))
        .unwrap();
    advance(&mut env, 2 * HOUR + 5 * MINUTE);
    let module = env.module;
    assert!(
        env.net
            .list_canister_snapshots(module, Some(developer))
            .unwrap()
            .is_empty(),
        "a stopped orchestrator runs no timer"
    );

    env.net
        .start_canister(orchestrator, Some(developer))
        .unwrap();
    env.net.run_until_idle();
    let runs = scheduled(&mut env);
    assert_eq!(runs.len(), 1, "eight missed windows, one run: {runs:?}");
    assert_eq!(env.list().len(), 1);
    assert_eq!(
        schedule(&mut env).next_run_at,
        set_at + 2 * HOUR + 15 * MINUTE,
        "the next run is the next window after now, on the original grid"
    );
}

#[test]
fn a_module_busy_with_an_upgrade_is_retried_a_minute_later() {
    integration_tests::localnet_only!("holds the upgrade's health check");
    let mut env = env_at(NOV_21_23H, 3);
    every(&mut env, 15);
    advance(&mut env, 14 * MINUTE);

    // An upgrade whose install is held in flight keeps the module locked.
    let hash = env.stage(&wasm("sample-module-v2.wasm.gz"), 1_000_000);
    let orchestrator = env.orchestrator;
    env.net.localnet().hold_calls(CallFilter {
        caller: Some(orchestrator),
        callee: Some(Principal::management_canister()),
        method: Some("install_code".into()),
    });
    let upgrade_call = calls::upgrade_module("app", upgrade_args(&hash)).unwrap();
    let upgrade = env.submit(&upgrade_call);
    env.net.run_until_idle();
    assert_eq!(
        env.net.localnet().held_calls().len(),
        1,
        "the upgrade waits at install_code"
    );
    advance(&mut env, MINUTE);
    let runs = scheduled(&mut env);
    assert_eq!(runs.len(), 1);
    assert!(
        matches!(&runs[0].status, OperationStatus::Skipped(r) if r.contains("busy with upgrade")),
        "{:?}",
        runs[0].status
    );
    let retry_at = schedule(&mut env).retry_at.expect("a retry is pending");
    assert_eq!(retry_at, env.net.time_nanos() + BUSY_RETRY_SECONDS * SECOND);

    // The upgrade finishes; the retry takes the snapshot.
    let held = env.net.localnet().held_calls();
    env.net.localnet().clear_holds();
    assert!(env.net.localnet().release_call(held[0].id));
    let report = env.answer_of(upgrade, &upgrade_call);
    assert_eq!(report.unwrap().outcome, UpgradeOutcome::Upgraded);
    advance(&mut env, BUSY_RETRY_SECONDS * SECOND);
    let runs = scheduled(&mut env);
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1].status, OperationStatus::Completed);
    assert_eq!(schedule(&mut env).retry_at, None);
    let triggers: Vec<_> = env.list().iter().map(|s| s.trigger).collect();
    assert_eq!(triggers, [Some(Trigger::Upgrade), Some(Trigger::Schedule)]);
}

#[test]
fn retention_removes_the_oldest_and_the_expired_but_never_a_pinned_one() {
    let mut env = env_at(NOV_21_23H, 4);
    let pinned = env.take(Some("golden")).unwrap();
    env.take(Some("old")).unwrap();
    let r = orch!(
        env,
        pin_snapshot("app", SnapshotSelector::Label("golden".into()))
    );
    assert!(r.unwrap()[0].pinned);
    let retention = Retention {
        keep: Some(2),
        max_age_seconds: Some(30 * 60),
    };
    set_schedule(&mut env, "app", Cadence::EveryMinutes(60), retention);

    // First run: 3 held, keep 2 → "old" goes; "golden" is pinned.
    advance(&mut env, HOUR);
    let labels = |env: &mut Env| -> Vec<Option<String>> {
        env.list().into_iter().map(|s| s.label).collect()
    };
    assert_eq!(labels(&mut env), [Some("golden".into()), None]);
    // Second run: the first scheduled snapshot is an hour old (max age 30 min) → expired.
    advance(&mut env, HOUR);
    let left = env.list();
    assert_eq!(left.len(), 2);
    assert_eq!(left[0].id, pinned.id);
    assert_eq!(left[1].taken_at, env.net.time_nanos());
    let deletions: Vec<_> = env
        .history()
        .into_iter()
        .filter(|o| o.trigger == Trigger::Retention)
        .collect();
    assert_eq!(deletions.len(), 2);
    assert!(
        deletions
            .iter()
            .all(|o| o.kind == OperationKind::DeleteSnapshot
                && o.status == OperationStatus::Completed)
    );
}

#[test]
fn a_fleet_snapshot_with_one_failing_module_reports_the_others_as_done() {
    let mut env = env_at(NOV_21_23H, 1);
    let (orchestrator, developer) = (env.orchestrator, env.developer);
    let mut extra = Vec::new();
    for name in ["blog", "shop"] {
        let canister = env.net.create_canister(developer);
        env.net.install_canister(
            canister,
            wasm("sample-module-v1.wasm.gz"),
            encode_args(()).unwrap(),
            Some(developer),
        );
        env.net
            .set_controllers(canister, Some(developer), vec![developer, orchestrator])
            .unwrap();
        env.add_module(name, canister).unwrap();
        extra.push(canister);
    }
    // The developer takes the orchestrator off "blog"'s controllers.
    env.net
        .set_controllers(extra[0], Some(developer), vec![developer])
        .unwrap();
    let fleet = FleetSnapshotArgs {
        label: Some("nightly".into()),
        concurrency: Some(2),
        pin: None,
    };
    let results = orch!(env, take_all_snapshots(fleet)).unwrap();
    let names: Vec<_> = results.iter().map(|r| r.module.as_str()).collect();
    assert_eq!(names, ["app", "blog", "shop"]);
    for done in [&results[0], &results[2]] {
        let info = done.result.as_ref().unwrap();
        assert_eq!(info.trigger, Some(Trigger::Fleet));
        assert_eq!(info.label.as_deref(), Some("nightly"));
    }
    let failure = results[1].result.as_ref().unwrap_err().to_string();
    assert!(failure.contains("controller"), "{failure}");
    assert!(env.module_is_running());
}
