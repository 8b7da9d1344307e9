//! The orchestrator's flows on its real wasm, driving a real sample module on localnet:
//! the data each flow is supposed to save or bring back is checked in the module itself.

use integration_tests::{Env, orch, padded_to, upgrade_args, user, wasm, with_padding_section};
use orchestrator_api::client::calls;
use orchestrator_api::*;

#[test]
fn a_restore_brings_back_stable_and_heap_memory_and_restarts_the_module() {
    let mut env = Env::new();
    env.set("greeting", b"hello");
    let counter = env.heap_counter();
    let snapshot = env.take(Some("before the mess")).unwrap();
    assert!(env.module_is_running(), "the module runs after the take");

    env.set("greeting", b"broken");
    env.set("extra", b"x");
    assert_ne!(env.heap_counter(), counter);

    let restored = env.restore(None).unwrap();
    assert_eq!(restored.id, snapshot.id);
    assert_eq!(restored.label.as_deref(), Some("before the mess"));
    assert_eq!(env.get("greeting").as_deref(), Some(&b"hello"[..]));
    assert_eq!(env.get("extra"), None);
    assert_eq!(env.heap_counter(), counter, "heap memory came back too");
    assert!(env.module_is_running());
}

#[test]
fn the_snapshot_id_has_the_ic_format_and_the_list_matches_the_ic() {
    let mut env = Env::new();
    let snapshot = env.take(None).unwrap();
    assert_eq!(snapshot.id.len(), 8 + env.module.as_slice().len());
    assert_eq!(&snapshot.id[8..], env.module.as_slice());
    let developer = env.developer;
    let module = env.module;
    let on_ic = env
        .net
        .list_canister_snapshots(module, Some(developer))
        .unwrap();
    assert_eq!(on_ic.len(), 1);
    assert_eq!(on_ic[0].id, snapshot.id.to_vec());
    assert_eq!(on_ic[0].total_size, snapshot.total_size);
    assert_eq!(env.list(), vec![snapshot]);
}

#[test]
fn one_snapshot_per_module_by_default_the_next_replaces_it() {
    let mut env = Env::new();
    let first = env.take(Some("first")).unwrap();
    let second = env.take(Some("second")).unwrap();
    assert_ne!(first.id, second.id);
    let listed = env.list();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, second.id);
    assert_eq!(
        env.restore(Some(&first.id)),
        Err(SnapshotError::SnapshotNotFound {
            module: "app".into(),
            id: first.id
        })
    );
}

#[test]
fn more_slots_keep_more_snapshots_and_any_one_can_be_restored_or_deleted() {
    let mut env = Env::new();
    env.update_settings(ModuleSettingsUpdate {
        max_snapshots: Some(3),
        ..Default::default()
    });
    let mut ids = Vec::new();
    for value in [b"1", b"2", b"3", b"4"] {
        env.set("k", value);
        ids.push(env.take(None).unwrap().id);
    }
    let listed: Vec<_> = env.list().into_iter().map(|s| s.id).collect();
    assert_eq!(listed, ids[1..].to_vec(), "the oldest was replaced");

    env.restore(Some(&ids[1])).unwrap();
    assert_eq!(env.get("k").as_deref(), Some(&b"2"[..]));

    assert_eq!(
        env.delete(None),
        Err(SnapshotError::AmbiguousSnapshot {
            module: "app".into(),
            count: 3
        })
    );
    env.delete(Some(&ids[2])).unwrap();
    let listed: Vec<_> = env.list().into_iter().map(|s| s.id).collect();
    assert_eq!(listed, vec![ids[1].clone(), ids[3].clone()]);
}

#[test]
fn snapshots_taken_outside_the_orchestrator_show_up_as_external() {
    let mut env = Env::new();
    env.update_settings(ModuleSettingsUpdate {
        max_snapshots: Some(5),
        ..Default::default()
    });
    let ours = env.take(Some("ours")).unwrap();
    let (module, developer) = (env.module, env.developer);
    let theirs = env
        .net
        .take_canister_snapshot(module, Some(developer), None)
        .unwrap();
    let listed = env.list();
    assert_eq!(listed.len(), 2);
    assert!(!listed[0].external && listed[0].id == ours.id);
    assert!(listed[1].external && listed[1].id.to_vec() == theirs.id);

    env.net
        .delete_canister_snapshot(module, Some(developer), ours.id.to_vec())
        .unwrap();
    let listed = env.list();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].external);
}

#[test]
fn an_upgrade_takes_a_snapshot_first_and_v2_keeps_v1_data() {
    let mut env = Env::new();
    env.set("k", b"v1 data");
    let hash = env.stage(&wasm("sample-module-v2.wasm.gz"), 100_000);
    let report = env.upgrade(upgrade_args(&hash)).unwrap();
    assert_eq!(report.outcome, UpgradeOutcome::Upgraded, "{report:?}");
    let steps: Vec<_> = report.steps.iter().map(|s| s.step).collect();
    assert_eq!(
        steps,
        [
            OperationStep::ListSnapshots,
            OperationStep::CheckStatus,
            OperationStep::Stop,
            OperationStep::TakeSnapshot,
            OperationStep::Install,
            OperationStep::Start
        ]
    );
    assert_eq!(env.version(), "v2");
    assert_eq!(env.get("k").as_deref(), Some(&b"v1 data"[..]));
    let (schema,): (u32,) = env.module_query("schema_version", ()).unwrap();
    assert_eq!(schema, 2);
    let (stamped,): (Option<u64>,) = env.module_query("updated_at", ("k",)).unwrap();
    assert!(stamped.is_some(), "the v2 migration stamped v1 keys");
    assert!(env.module_is_running());

    let listed = env.list();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].trigger, Some(Trigger::Upgrade));
    assert_eq!(Some(listed[0].id.clone()), report.snapshot_id);
    // The pre-upgrade snapshot holds v1: restoring it brings v1 back.
    env.restore(None).unwrap();
    assert_eq!(env.version(), "v1");
}

#[test]
fn an_upgrade_whose_post_upgrade_traps_is_rolled_back() {
    let mut env = Env::new();
    env.set("k", b"precious");
    let hash = env.stage(
        &wasm("sample-module-broken-post-upgrade.wasm.gz"),
        1_000_000,
    );
    let report = env.upgrade(upgrade_args(&hash)).unwrap();
    let UpgradeOutcome::RolledBack {
        failed_step,
        reason,
    } = &report.outcome
    else {
        panic!("expected a rollback: {report:?}");
    };
    assert_eq!(*failed_step, OperationStep::Install);
    assert!(reason.contains("broken_post_upgrade"), "{reason}");
    assert_eq!(env.version(), "v1");
    assert_eq!(env.get("k").as_deref(), Some(&b"precious"[..]));
    assert!(env.module_is_running());
    let op = env.history().remove(0);
    assert_eq!(op.id, report.operation_id);
    assert!(matches!(op.status, OperationStatus::Failed(ref r) if r.contains("rolled back")));
}

#[test]
fn an_upgrade_that_fails_its_health_check_is_rolled_back() {
    let mut env = Env::new();
    env.update_settings(ModuleSettingsUpdate {
        health_check: Some(HealthCheckSetting::Method("health".into())),
        ..Default::default()
    });
    env.set("k", b"precious");
    let hash = env.stage(&wasm("sample-module-unhealthy.wasm.gz"), 1_000_000);
    let report = env.upgrade(upgrade_args(&hash)).unwrap();
    assert!(
        matches!(
            &report.outcome,
            UpgradeOutcome::RolledBack { failed_step: OperationStep::HealthCheck, reason } if reason.contains("unhealthy")
        ),
        "{report:?}"
    );
    assert_eq!(env.version(), "v1");
    assert_eq!(env.get("k").as_deref(), Some(&b"precious"[..]));
    assert!(env.module_is_running());
    let last = report.steps.last().unwrap();
    assert_eq!(
        (last.step, &last.outcome),
        (OperationStep::RollbackStart, &StepOutcome::Ok)
    );
}

#[test]
fn without_rollback_a_failed_health_check_leaves_the_new_code() {
    let mut env = Env::new();
    env.update_settings(ModuleSettingsUpdate {
        health_check: Some(HealthCheckSetting::Method("health".into())),
        ..Default::default()
    });
    let hash = env.stage(&wasm("sample-module-unhealthy.wasm.gz"), 1_000_000);
    let report = env
        .upgrade(UpgradeArgs {
            rollback_on_failure: false,
            ..upgrade_args(&hash)
        })
        .unwrap();
    assert!(matches!(
        report.outcome,
        UpgradeOutcome::Failed {
            failed_step: OperationStep::HealthCheck,
            module_running: true,
            ..
        }
    ));
    assert_eq!(env.version(), "unhealthy");
}

#[test]
fn on_existing_keep_and_fail_and_the_opt_out_are_honoured() {
    let mut env = Env::new();
    let existing = env.take(Some("keep me")).unwrap();
    let hash = env.stage(&wasm("sample-module-v2.wasm.gz"), 1_000_000);

    let error = env
        .upgrade(UpgradeArgs {
            on_existing: OnExisting::Fail,
            ..upgrade_args(&hash)
        })
        .unwrap_err();
    assert_eq!(
        error,
        UpgradeError::SnapshotSlotsFull {
            module: "app".into(),
            held: 1,
            max: 1
        }
    );
    assert_eq!(env.version(), "v1", "nothing was touched");

    let report = env
        .upgrade(UpgradeArgs {
            on_existing: OnExisting::Keep,
            ..upgrade_args(&hash)
        })
        .unwrap();
    assert_eq!(report.outcome, UpgradeOutcome::Upgraded);
    assert_eq!(report.snapshot_id, None);
    assert_eq!(
        env.list()[0].id,
        existing.id,
        "the existing snapshot was kept"
    );
    assert_eq!(env.version(), "v2");

    let v1 = env.stage(&wasm("sample-module-v1.wasm.gz"), 1_000_000);
    let report = env
        .upgrade(UpgradeArgs {
            snapshot: Some(false),
            ..upgrade_args(&v1)
        })
        .unwrap();
    assert_eq!(report.snapshot_id, None);
    assert_eq!(env.list()[0].id, existing.id);
    assert_eq!(env.version(), "v1");
}

#[test]
fn a_wasm_too_large_for_one_message_is_installed_through_the_chunk_store() {
    let mut env = Env::new();
    env.set("k", b"kept");
    // Uncompressed v2 plus a 2.5 MB custom section: over the one-message limit.
    let big = with_padding_section(wasm("sample-module-v2.wasm"), 2_500_000);
    let hash = env.stage(&big, 1_900_000);
    let report = env.upgrade(upgrade_args(&hash)).unwrap();
    assert_eq!(report.outcome, UpgradeOutcome::Upgraded, "{report:?}");
    let steps: Vec<_> = report.steps.iter().map(|s| s.step).collect();
    assert!(steps.contains(&OperationStep::UploadChunks));
    assert!(steps.contains(&OperationStep::ClearChunkStore));
    assert_eq!(env.version(), "v2");
    assert_eq!(env.get("k").as_deref(), Some(&b"kept"[..]));
    let status = env.module_status();
    assert_eq!(status.module_hash, Some(hash));
    let (module, developer) = (env.module, env.developer);
    assert!(
        env.net
            .stored_chunks(module, Some(developer))
            .unwrap()
            .is_empty(),
        "the chunk store was cleared"
    );
}

#[test]
fn strangers_and_anonymous_callers_get_unauthorized() {
    let mut env = Env::new();
    for caller in [user(9), candid::Principal::anonymous()] {
        let r = orch!(env, as caller, take_snapshot("app", TakeSnapshotArgs::default()));
        assert_eq!(r, Err(SnapshotError::Unauthorized(Unauthorized { caller })));
        // An update since it reports snapshot memory from canister_status.
        let r = orch!(env, as caller, list_modules());
        assert_eq!(r, Err(QueryError::Unauthorized(Unauthorized { caller })));
    }
    // The orchestrator's controller is an admin without being listed.
    let developer = env.developer;
    orch!(env, as developer, add_admin(user(9))).unwrap();
    let r = orch!(env, as user(9), take_snapshot("app", TakeSnapshotArgs::default()));
    assert!(r.is_ok(), "{r:?}");
}

#[test]
fn registering_a_canister_the_orchestrator_does_not_control_says_whom_to_add() {
    let mut env = Env::new();
    let developer = env.developer;
    let other = env.net.create_canister(developer);
    let error = env.add_module("other", other).unwrap_err();
    let ModuleError::NotController {
        canister_id,
        orchestrator,
        ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!((*canister_id, *orchestrator), (other, env.orchestrator));
    assert!(error.to_string().contains("--add-controller"));
    assert_eq!(env.modules().len(), 1);
}

#[test]
fn two_operations_submitted_together_run_one_at_a_time() {
    let mut env = Env::new();
    let take = calls::take_snapshot("app", TakeSnapshotArgs::default()).unwrap();
    let first = env.submit(&take);
    let second = env.submit(&take);
    let first = env.answer_of(first, &take);
    let second = env.answer_of(second, &take);
    assert!(first.is_ok(), "{first:?}");
    assert_eq!(
        second,
        Err(SnapshotError::Busy {
            module: "app".into(),
            operation: OperationKind::TakeSnapshot
        })
    );
    assert!(env.module_is_running());
    assert_eq!(env.modules()[0].busy_with, None);
}

#[test]
fn an_upgrade_of_the_orchestrator_keeps_its_modules_snapshots_and_history() {
    let mut env = Env::new();
    env.take(Some("survives")).unwrap();
    let before = env.history();
    env.upgrade_orchestrator();
    assert_eq!(env.modules().len(), 1);
    assert_eq!(env.history(), before);
    assert_eq!(env.list()[0].label.as_deref(), Some("survives"));
}

/// The orchestrator installs a wasm whose size plus argument is at most 1,900,000 bytes in one
/// `install_code` message and anything larger through the module's chunk store. Calls to the
/// management canister go to the module's subnet, which may not be the orchestrator's: localnet
/// is set to the IC's cross-subnet limit (2 MiB of method name + argument, enforced by
/// `call_data_append`, localnet/tests/message_limits.rs), so the one-message path must fit it.
/// A wasm right at the threshold installs in one message, one byte over it and a 20 MB one
/// through the chunk store; each upgrade keeps the data.
#[test]
fn upgrades_at_the_direct_install_threshold_one_byte_over_it_and_of_20_mb_all_fit_the_cross_subnet_limit()
 {
    integration_tests::localnet_only!(
        "lowers the inter-canister payload limit to the cross-subnet one"
    );
    let arg_len = upgrade_args(&[]).arg.len();
    let threshold = 1_900_000;
    for (total, chunked) in [
        (threshold - arg_len, false),
        (threshold - arg_len + 1, true),
        (20_000_000, true),
    ] {
        let mut env = Env::new();
        env.net.localnet().limits.inter_canister_payload_bytes =
            localnet::CROSS_SUBNET_PAYLOAD_BYTES;
        env.set("k", b"kept");
        let big = padded_to(wasm("sample-module-v2.wasm"), total);
        let hash = env.stage(&big, 1_900_000);
        let report = env.upgrade(upgrade_args(&hash)).unwrap();
        assert_eq!(
            report.outcome,
            UpgradeOutcome::Upgraded,
            "{total}: {report:?}"
        );
        let steps: Vec<_> = report.steps.iter().map(|s| s.step).collect();
        assert_eq!(
            steps.contains(&OperationStep::UploadChunks),
            chunked,
            "{total} bytes: {steps:?}"
        );
        assert_eq!(env.version(), "v2", "{total}");
        assert_eq!(env.get("k").as_deref(), Some(&b"kept"[..]), "{total}");
        assert_eq!(env.module_status().module_hash, Some(hash), "{total}");
    }
}

/// Leaves the module this many cycles above its freezing reserve (localnet charges what the IC
/// charges, localnet/src/cycles.rs): enough for ordinary messages, not for a snapshot (2 B
/// instructions = 800 M cycles).
fn leave_module_short_of_cycles(env: &mut Env, above_reserve: u128) {
    let status = env.module_status();
    let per_day: u128 = status.idle_cycles_burned_per_day.0.try_into().unwrap();
    let threshold: u128 = status.settings.freezing_threshold.0.try_into().unwrap();
    let reserve = per_day * threshold / 86_400 + per_day;
    env.net
        .localnet()
        .set_cycle_balance(env.module, reserve + above_reserve);
}

#[test]
fn a_take_short_of_cycles_fails_with_the_ics_out_of_cycles_error_and_the_module_keeps_running() {
    integration_tests::localnet_only!("sets the module's cycle balance");
    let mut env = Env::new();
    env.set("k", b"kept");
    leave_module_short_of_cycles(&mut env, 300_000_000);
    let err = env.take(None).unwrap_err();
    match &err {
        SnapshotError::OperationFailed {
            module_running,
            reason,
            ..
        } => {
            assert!(*module_running, "{err:?}");
            assert!(reason.contains("out of cycles"), "{err:?}");
        }
        other => panic!("expected OperationFailed, got {other:?}"),
    }
    assert!(env.module_is_running());
    assert!(env.list().is_empty(), "no snapshot was recorded");
    assert_eq!(env.get("k").as_deref(), Some(&b"kept"[..]));
    // Topped up, the same take works.
    env.net.add_cycles(env.module, 10_000_000_000);
    env.take(None).unwrap();
}

#[test]
fn an_upgrade_short_of_cycles_for_its_snapshot_fails_cleanly_and_the_module_runs_the_old_code() {
    integration_tests::localnet_only!("sets the module's cycle balance");
    let mut env = Env::new();
    env.set("k", b"kept");
    let v2 = env.stage(&wasm("sample-module-v2.wasm.gz"), 1_000_000);
    leave_module_short_of_cycles(&mut env, 300_000_000);
    let outcome = env.upgrade(upgrade_args(&v2));
    let failed = match outcome {
        Ok(report) => !matches!(report.outcome, UpgradeOutcome::Upgraded),
        Err(_) => true,
    };
    assert!(failed, "the upgrade could not take its snapshot");
    assert!(env.module_is_running());
    assert_eq!(env.version(), "v1");
    assert_eq!(env.get("k").as_deref(), Some(&b"kept"[..]));
    assert!(
        env.history()
            .iter()
            .all(|op| op.kind != OperationKind::Upgrade || op.status != OperationStatus::Completed),
        "no upgrade is recorded as done"
    );
}

/// `list_modules` reports what the module's snapshots cost per 30-day month; localnet charges
/// storage per GiB-second for the same memory as virtual time passes. The month with snapshots
/// minus the month without is the snapshots' real charge.
#[test]
fn the_monthly_snapshot_cost_list_modules_reports_is_what_a_month_of_storage_charges() {
    integration_tests::localnet_only!(
        "compares with localnet's storage charge as the clock jumps (a replica charges in rounds)"
    );
    let mut env = Env::new();
    env.set("k", &vec![7u8; 1_500_000]);
    let month = std::time::Duration::from_secs(30 * 86_400);
    let module = env.module;
    let before = env.net.cycle_balance(module);
    env.net.advance_time(month);
    let without = before - env.net.cycle_balance(module);
    env.take(None).unwrap();
    env.take(None).unwrap();
    let reported = env.modules()[0]
        .snapshot_storage
        .clone()
        .expect("canister_status answered");
    assert!(
        reported.bytes > 3_000_000,
        "two snapshots of 1.5 MB of data: {reported:?}"
    );
    let before = env.net.cycle_balance(module);
    env.net.advance_time(month);
    let with = before - env.net.cycle_balance(module);
    let charged = with - without;
    let diff = charged.abs_diff(reported.monthly_cost_cycles);
    assert!(
        diff * 100 <= reported.monthly_cost_cycles,
        "reported {} vs charged {charged}",
        reported.monthly_cost_cycles
    );
}
