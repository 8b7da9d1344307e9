//! Groups (applications) on localnet with the orchestrator's real wasm: three sample modules
//! that call each other — `app` keeps a counter that `b` mirrors, and `b` forwards it to `c` —
//! snapshotted and restored as one consistent cut; a member's take, stop or load failing
//! (localnet's held and rejected calls) undoes the others and leaves all three running.

use candid::{CandidType, Deserialize, Principal, decode_args, encode_args};
use integration_tests::{Env, user};
use localnet::{CallFilter, RejectCode};
use orchestrator_api::*;

/// The three modules of the group "shop": app → b → c.
struct Shop {
    env: Env,
    app: Principal,
    b: Principal,
    c: Principal,
}

impl Shop {
    fn new() -> Self {
        let mut env = Env::new();
        let app = env.module;
        let b = env.add_sample_module("b");
        let c = env.add_sample_module("c");
        let () = env.update_on(app, "set_peer", (Some(b),));
        let () = env.update_on(b, "set_peer", (Some(c),));
        let (r,): (Result<GroupInfo, GroupError>,) =
            env.call("add_group", ("shop", vec!["app", "b", "c"]));
        r.unwrap();
        Shop { env, app, b, c }
    }

    fn bump(&mut self) -> u64 {
        let app = self.app;
        let (n,): (u64,) = self.env.update_on(app, "bump", ());
        n
    }

    /// (app's counter, b's mirror, c's mirror).
    fn values(&mut self) -> (u64, u64, u64) {
        let (app, b, c) = (self.app, self.b, self.c);
        let (counter,): (u64,) = self.env.query_on(app, "counter", ());
        let (mb,): (u64,) = self.env.query_on(b, "mirrored", ());
        let (mc,): (u64,) = self.env.query_on(c, "mirrored", ());
        (counter, mb, mc)
    }

    fn all_running(&mut self) -> bool {
        let (app, b, c) = (self.app, self.b, self.c);
        self.env.is_running(app) && self.env.is_running(b) && self.env.is_running(c)
    }

    fn take(&mut self, args: GroupSnapshotArgs) -> Result<GroupSnapshotInfo, GroupError> {
        let (r,) = self.env.call("take_group_snapshot", ("shop", args));
        r
    }

    fn restore(&mut self, id: Option<u64>) -> Result<GroupRestoreReport, GroupError> {
        let (r,) = self.env.call(
            "restore_group_snapshot",
            (
                "shop",
                GroupRestoreArgs {
                    group_snapshot_id: id,
                    stop_timeout_seconds: None,
                },
            ),
        );
        r
    }

    fn group_snapshots(&mut self) -> Vec<GroupSnapshotInfo> {
        let (r,): (Result<Vec<GroupSnapshotInfo>, GroupError>,) =
            self.env.query("list_group_snapshots", ("shop",));
        r.unwrap()
    }

    fn snapshot_counts(&mut self) -> (usize, usize, usize) {
        (
            self.env.list_of("app").len(),
            self.env.list_of("b").len(),
            self.env.list_of("c").len(),
        )
    }

    fn assert_unlocked(&mut self) {
        for m in self.env.modules() {
            assert_eq!(m.busy_with, None, "{} is still locked", m.name);
        }
    }

    /// Submits `method(args)` to the orchestrator with the orchestrator's calls to the
    /// management method `held` held; returns the message and the held calls.
    fn submit_holding(
        &mut self,
        method: &str,
        args: Vec<u8>,
        held: &str,
    ) -> (localnet::MessageId, Vec<localnet::HeldCall>) {
        let (orchestrator, admin) = (self.env.orchestrator, self.env.admin);
        self.env.net.localnet().hold_calls(CallFilter {
            caller: Some(orchestrator),
            callee: Some(Principal::management_canister()),
            method: Some(held.to_string()),
        });
        let id = self
            .env
            .net
            .submit_call(orchestrator, admin, method, args)
            .unwrap();
        self.env.net.run_until_idle();
        self.env.net.localnet().clear_holds();
        (id, self.env.net.localnet().held_calls())
    }
}

/// The `canister_id` field of a held management call's argument.
fn target(call: &localnet::HeldCall) -> Principal {
    #[derive(CandidType, Deserialize)]
    struct Target {
        canister_id: Principal,
    }
    let (t,): (Target,) = decode_args(&call.arg).unwrap();
    t.canister_id
}

fn outcome_of<'a>(members: &'a [GroupMemberReport], module: &str) -> &'a GroupMemberReport {
    members.iter().find(|m| m.module == module).unwrap()
}

#[test]
fn groups_are_admin_only_hold_registered_modules_and_lose_a_module_removed_from_the_registry() {
    let mut shop = Shop::new();
    let env = &mut shop.env;
    // A module may belong to several groups.
    let (r,): (Result<GroupInfo, GroupError>,) =
        env.call("add_group", ("backend", vec!["app", "b"]));
    r.unwrap();
    let (r,): (Result<GroupInfo, GroupError>,) = env.call("add_group", ("shop", vec!["app"]));
    assert!(matches!(r, Err(GroupError::NameTaken { .. })), "{r:?}");
    let (r,): (Result<GroupInfo, GroupError>,) =
        env.call("add_group", ("ghosts", vec!["app", "nobody"]));
    assert!(
        matches!(&r, Err(GroupError::ModuleNotFound { name }) if name == "nobody"),
        "{r:?}"
    );
    let (r,): (Result<GroupInfo, GroupError>,) = env.call("add_group", ("twice", vec!["b", "b"]));
    assert!(matches!(r, Err(GroupError::InvalidMembers { .. })), "{r:?}");
    let (r,): (Result<GroupInfo, GroupError>,) =
        env.call("add_group", ("empty", Vec::<String>::new()));
    assert!(matches!(r, Err(GroupError::InvalidMembers { .. })), "{r:?}");
    let (r,): (Result<GroupInfo, GroupError>,) = env.call("add_group", ("has space", vec!["b"]));
    assert!(matches!(r, Err(GroupError::InvalidName { .. })), "{r:?}");
    let stranger = user(9);
    let orchestrator = env.orchestrator;
    let reply = env
        .net
        .query_call(
            orchestrator,
            stranger,
            "list_groups",
            encode_args(()).unwrap(),
        )
        .unwrap();
    let (r,): (Result<Vec<GroupInfo>, GroupError>,) = decode_args(&reply).unwrap();
    assert!(matches!(r, Err(GroupError::Unauthorized { .. })), "{r:?}");

    // Removing b from the registry removes it from both groups.
    let (r,): (Result<(), ModuleError>,) = env.call("remove_module", ("b",));
    r.unwrap();
    let (groups,): (Result<Vec<GroupInfo>, GroupError>,) = env.query("list_groups", ());
    let groups = groups.unwrap();
    let members: Vec<(&str, Vec<String>)> = groups
        .iter()
        .map(|g| (g.name.as_str(), g.modules.clone()))
        .collect();
    assert_eq!(
        members,
        vec![
            ("backend", vec!["app".to_string()]),
            ("shop", vec!["app".to_string(), "c".to_string()])
        ]
    );
    let (r,): (Result<(), GroupError>,) = env.call("remove_group", ("backend",));
    r.unwrap();
    let (r,): (Result<(), GroupError>,) = env.call("remove_group", ("backend",));
    assert!(matches!(r, Err(GroupError::GroupNotFound { .. })), "{r:?}");
}

#[test]
fn a_group_snapshot_taken_while_calls_are_in_flight_restores_to_a_state_where_the_mirror_matches() {
    let mut shop = Shop::new();
    for _ in 0..3 {
        shop.bump();
    }
    // Bumps in flight: app has sent `mirror` to b, b to c, when the group snapshot starts.
    let (app, developer, orchestrator, admin) = (
        shop.app,
        shop.env.developer,
        shop.env.orchestrator,
        shop.env.admin,
    );
    let bumps: Vec<_> = (0..4)
        .map(|_| {
            shop.env
                .net
                .submit_call(app, developer, "bump", encode_args(()).unwrap())
                .unwrap()
        })
        .collect();
    shop.env.net.tick();
    let take = shop
        .env
        .net
        .submit_call(
            orchestrator,
            admin,
            "take_group_snapshot",
            encode_args((
                "shop",
                GroupSnapshotArgs {
                    label: Some("in flight".into()),
                    ..Default::default()
                },
            ))
            .unwrap(),
        )
        .unwrap();
    let reply = shop.env.net.await_call(take).unwrap();
    let (taken,): (Result<GroupSnapshotInfo, GroupError>,) = decode_args(&reply).unwrap();
    let taken = taken.unwrap();
    for bump in bumps {
        // Some bumps find a member stopped and are rejected: the chain keeps nothing then.
        let _ = shop.env.net.await_call(bump);
    }
    assert_eq!(taken.status, GroupSnapshotStatus::Complete);
    assert_eq!(taken.members.len(), 3);
    assert!(taken.members.iter().all(|m| m.snapshot_id.is_some()));
    assert!(taken.window_start <= taken.window_end);
    assert!(shop.all_running());
    let at_snapshot = shop.values();
    assert_eq!(at_snapshot.0, at_snapshot.1, "consistent when taken");

    // One history record with every member's steps.
    let op = shop.env.history().remove(0);
    assert_eq!(op.kind, OperationKind::GroupSnapshot);
    assert_eq!(op.module, "shop");
    assert_eq!(op.status, OperationStatus::Completed);
    for member in ["app", "b", "c"] {
        for step in [
            OperationStep::Stop,
            OperationStep::TakeSnapshot,
            OperationStep::Start,
        ] {
            assert!(
                op.steps
                    .iter()
                    .any(|s| s.step == step && s.module.as_deref() == Some(member)),
                "{member} {step}: {:?}",
                op.steps
            );
        }
    }
    // Each member's snapshot is an ordinary snapshot of it, with the label.
    let listed = shop.env.list_of("b");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].label.as_deref(), Some("in flight"));

    // Later bumps, then the group restore brings back the consistent cut.
    for _ in 0..5 {
        shop.bump();
    }
    let report = shop.restore(None).unwrap();
    assert!(report.restored, "{report:?}");
    assert_eq!(report.group_snapshot_id, taken.id);
    assert!(
        report
            .members
            .iter()
            .all(|m| m.outcome == GroupMemberOutcome::Done && m.running)
    );
    let (counter, b, c) = shop.values();
    assert_eq!(
        (counter, b, c),
        (counter, counter, counter),
        "mirrors match"
    );
    assert!(counter >= 3 && counter < at_snapshot.0 + 5, "{counter}");
    assert!(shop.all_running());
    shop.assert_unlocked();
    // The safety snapshots were deleted: each member holds only its group snapshot member.
    assert_eq!(shop.snapshot_counts(), (1, 1, 1));
    assert_eq!(
        shop.bump(),
        counter + 1,
        "the chain works after the restore"
    );
}

#[test]
fn a_failing_take_of_the_second_member_deletes_the_others_new_snapshots_and_all_run() {
    integration_tests::localnet_only!("holds or rejects a member's management call");
    let mut shop = Shop::new();
    shop.bump();
    let args = encode_args(("shop", GroupSnapshotArgs::default())).unwrap();
    let (id, held) = shop.submit_holding("take_group_snapshot", args, "take_canister_snapshot");
    assert_eq!(held.len(), 3, "the three takes go out together: {held:?}");
    for call in &held {
        if target(call) == shop.b {
            shop.env.net.localnet().reject_call(
                call.id,
                RejectCode::CanisterError,
                "injected take failure",
            );
        } else {
            shop.env.net.localnet().release_call(call.id);
        }
    }
    let reply = shop.env.net.await_call(id).unwrap();
    let (r,): (Result<GroupSnapshotInfo, GroupError>,) = decode_args(&reply).unwrap();
    let Err(GroupError::OperationFailed { members, .. }) = r else {
        panic!("{r:?}")
    };
    assert_eq!(
        outcome_of(&members, "app").outcome,
        GroupMemberOutcome::Undone
    );
    assert!(matches!(
        &outcome_of(&members, "b").outcome,
        GroupMemberOutcome::Failed { step: OperationStep::TakeSnapshot, reason } if reason.contains("injected")
    ));
    assert_eq!(
        outcome_of(&members, "c").outcome,
        GroupMemberOutcome::Undone
    );
    assert!(members.iter().all(|m| m.running));
    assert!(shop.all_running());
    shop.assert_unlocked();
    assert_eq!(shop.snapshot_counts(), (0, 0, 0), "nothing left behind");
    assert!(shop.group_snapshots().is_empty());
    assert!(matches!(
        &shop.env.history()[0].status,
        OperationStatus::Failed(reason) if reason.contains("b (take_snapshot")
    ));
    assert_eq!(shop.bump(), 2);
}

#[test]
fn keep_partial_keeps_the_members_taken_and_records_the_group_snapshot_as_partial() {
    integration_tests::localnet_only!("holds or rejects a member's management call");
    let mut shop = Shop::new();
    let args = encode_args((
        "shop",
        GroupSnapshotArgs {
            keep_partial: Some(true),
            ..Default::default()
        },
    ))
    .unwrap();
    let (id, held) = shop.submit_holding("take_group_snapshot", args, "take_canister_snapshot");
    for call in &held {
        if target(call) == shop.b {
            shop.env.net.localnet().reject_call(
                call.id,
                RejectCode::CanisterError,
                "injected take failure",
            );
        } else {
            shop.env.net.localnet().release_call(call.id);
        }
    }
    let reply = shop.env.net.await_call(id).unwrap();
    let (r,): (Result<GroupSnapshotInfo, GroupError>,) = decode_args(&reply).unwrap();
    let partial = r.unwrap();
    assert_eq!(
        partial.status,
        GroupSnapshotStatus::Partial {
            missing: vec!["b".into()]
        }
    );
    assert_eq!(shop.snapshot_counts(), (1, 0, 1));
    assert!(shop.all_running());
    // A partial group snapshot is not restored as a unit.
    let r = shop.restore(Some(partial.id));
    assert!(matches!(r, Err(GroupError::Partial { .. })), "{r:?}");
    let r = shop.restore(None);
    assert!(
        matches!(r, Err(GroupError::NoGroupSnapshot { .. })),
        "{r:?}"
    );
}

#[test]
fn a_member_that_cannot_stop_in_time_fails_the_group_snapshot_and_all_run_afterwards() {
    integration_tests::localnet_only!("holds or rejects a member's management call");
    let mut shop = Shop::new();
    let (app, b, developer, orchestrator, admin) = (
        shop.app,
        shop.b,
        shop.env.developer,
        shop.env.orchestrator,
        shop.env.admin,
    );
    // app waits on b's reply, which never comes while held: app cannot stop.
    shop.env.net.localnet().hold_calls(CallFilter {
        caller: Some(app),
        callee: Some(b),
        method: Some("mirror".into()),
    });
    let bump = shop
        .env
        .net
        .submit_call(app, developer, "bump", encode_args(()).unwrap())
        .unwrap();
    shop.env.net.run_until_idle();
    shop.env.net.localnet().clear_holds();
    let stuck = shop.env.net.localnet().held_calls();
    assert_eq!(stuck.len(), 1);

    let take = shop
        .env
        .net
        .submit_call(
            orchestrator,
            admin,
            "take_group_snapshot",
            encode_args((
                "shop",
                GroupSnapshotArgs {
                    stop_timeout_seconds: Some(5),
                    ..Default::default()
                },
            ))
            .unwrap(),
        )
        .unwrap();
    shop.env.net.run_until_idle();
    assert!(
        shop.env.net.localnet().ingress_status(take).is_none(),
        "still waiting for app to stop"
    );
    shop.env.net.advance_time_nanos(6_000_000_000);
    let reply = shop.env.net.await_call(take).unwrap();
    let (r,): (Result<GroupSnapshotInfo, GroupError>,) = decode_args(&reply).unwrap();
    let Err(GroupError::OperationFailed { members, .. }) = r else {
        panic!("{r:?}")
    };
    let app_report = outcome_of(&members, "app");
    assert!(
        matches!(
            &app_report.outcome,
            GroupMemberOutcome::Failed {
                step: OperationStep::Stop,
                ..
            }
        ),
        "{app_report:?}"
    );
    assert!(app_report.running);
    for m in ["b", "c"] {
        assert_eq!(
            outcome_of(&members, m).outcome,
            GroupMemberOutcome::Untouched
        );
    }
    assert!(shop.all_running(), "everyone runs again");
    shop.assert_unlocked();
    assert_eq!(shop.snapshot_counts(), (0, 0, 0));

    // The stuck call completes; the group is consistent and can be snapshotted.
    shop.env.net.localnet().release_call(stuck[0].id);
    let (n,): (u64,) = decode_args(&shop.env.net.await_call(bump).unwrap()).unwrap();
    assert_eq!(n, 1);
    assert_eq!(shop.values(), (1, 1, 1));
    shop.take(GroupSnapshotArgs::default()).unwrap();
}

#[test]
fn a_failing_load_during_a_group_restore_rolls_back_the_members_already_loaded() {
    integration_tests::localnet_only!("holds or rejects a member's management call");
    let mut shop = Shop::new();
    shop.bump();
    let taken = shop.take(GroupSnapshotArgs::default()).unwrap();
    for _ in 0..3 {
        shop.bump();
    }
    assert_eq!(shop.values(), (4, 4, 4));
    let args = encode_args((
        "shop",
        GroupRestoreArgs {
            group_snapshot_id: Some(taken.id),
            stop_timeout_seconds: None,
        },
    ))
    .unwrap();
    let (id, held) = shop.submit_holding("restore_group_snapshot", args, "load_canister_snapshot");
    assert_eq!(held.len(), 3, "{held:?}");
    for call in &held {
        if target(call) == shop.b {
            shop.env.net.localnet().reject_call(
                call.id,
                RejectCode::CanisterError,
                "injected load failure",
            );
        } else {
            shop.env.net.localnet().release_call(call.id);
        }
    }
    let reply = shop.env.net.await_call(id).unwrap();
    let (r,): (Result<GroupRestoreReport, GroupError>,) = decode_args(&reply).unwrap();
    let report = r.unwrap();
    assert!(!report.restored);
    assert_eq!(
        outcome_of(&report.members, "app").outcome,
        GroupMemberOutcome::Undone
    );
    assert!(matches!(
        &outcome_of(&report.members, "b").outcome,
        GroupMemberOutcome::Failed {
            step: OperationStep::LoadSnapshot,
            ..
        }
    ));
    assert_eq!(
        outcome_of(&report.members, "c").outcome,
        GroupMemberOutcome::Undone
    );
    assert!(report.members.iter().all(|m| m.running));
    assert_eq!(shop.values(), (4, 4, 4), "rolled back to the state before");
    assert!(shop.all_running());
    shop.assert_unlocked();
    assert_eq!(
        shop.snapshot_counts(),
        (1, 1, 1),
        "safety snapshots deleted"
    );
    let op = shop.env.history().remove(0);
    assert_eq!(op.kind, OperationKind::GroupRestore);
    assert!(
        op.steps
            .iter()
            .filter(|s| s.step == OperationStep::RollbackLoad)
            .count()
            == 2
    );
    // The group snapshot itself is intact: a second try restores it.
    assert!(shop.restore(Some(taken.id)).unwrap().restored);
    assert_eq!(shop.values(), (1, 1, 1));
}

#[test]
fn a_member_busy_with_another_operation_refuses_the_group_snapshot_before_touching_anyone() {
    integration_tests::localnet_only!("holds or rejects a member's management call");
    let mut shop = Shop::new();
    let (orchestrator, admin) = (shop.env.orchestrator, shop.env.admin);
    // b's own take holds its lock while its list call is held.
    shop.env.net.localnet().hold_calls(CallFilter {
        caller: Some(orchestrator),
        callee: Some(Principal::management_canister()),
        method: Some("list_canister_snapshots".into()),
    });
    let single = shop
        .env
        .net
        .submit_call(
            orchestrator,
            admin,
            "take_snapshot",
            encode_args(("b", TakeSnapshotArgs::default())).unwrap(),
        )
        .unwrap();
    shop.env.net.run_until_idle();
    shop.env.net.localnet().clear_holds();
    let held = shop.env.net.localnet().held_calls();
    let r = shop.take(GroupSnapshotArgs::default());
    assert!(
        matches!(&r, Err(GroupError::Busy { module, operation: OperationKind::TakeSnapshot }) if module == "b"),
        "{r:?}"
    );
    assert!(shop.all_running());
    for call in held {
        shop.env.net.localnet().release_call(call.id);
    }
    shop.env.net.await_call(single).unwrap();
    shop.assert_unlocked();
    assert_eq!(shop.snapshot_counts(), (0, 1, 0));
    shop.take(GroupSnapshotArgs::default()).unwrap();
    assert_eq!(
        shop.snapshot_counts(),
        (1, 1, 1),
        "b's own snapshot replaced"
    );
}

#[test]
fn at_max_snapshots_a_group_snapshot_drops_old_snapshots_only_after_every_member_is_taken() {
    integration_tests::localnet_only!("holds or rejects a member's management call");
    // Every member at its default max_snapshots (1).
    let mut shop = Shop::new();
    shop.bump();
    let first = shop.take(GroupSnapshotArgs::default()).unwrap();
    shop.bump();
    let second = shop.take(GroupSnapshotArgs::default()).unwrap();
    assert_eq!(
        shop.snapshot_counts(),
        (1, 1, 1),
        "the old ones were replaced"
    );
    let ids: Vec<u64> = shop.group_snapshots().iter().map(|g| g.id).collect();
    assert_eq!(
        ids,
        vec![second.id],
        "the replaced group snapshot is forgotten"
    );
    let r = shop.restore(Some(first.id));
    assert!(
        matches!(r, Err(GroupError::GroupSnapshotNotFound { .. })),
        "{r:?}"
    );

    // A failing take at the limit: the old snapshots are all still there.
    let args = encode_args(("shop", GroupSnapshotArgs::default())).unwrap();
    let (id, held) = shop.submit_holding("take_group_snapshot", args, "take_canister_snapshot");
    for call in &held {
        if target(call) == shop.b {
            shop.env.net.localnet().reject_call(
                call.id,
                RejectCode::CanisterError,
                "injected take failure",
            );
        } else {
            shop.env.net.localnet().release_call(call.id);
        }
    }
    let (r,): (Result<GroupSnapshotInfo, GroupError>,) =
        decode_args(&shop.env.net.await_call(id).unwrap()).unwrap();
    assert!(
        matches!(r, Err(GroupError::OperationFailed { .. })),
        "{r:?}"
    );
    assert_eq!(shop.snapshot_counts(), (1, 1, 1));
    shop.bump();
    assert!(shop.restore(Some(second.id)).unwrap().restored);
    assert_eq!(shop.values(), (2, 2, 2));

    // c's only snapshot pinned: nothing to give up, refused before anything is touched.
    let (r,): (Result<Vec<SnapshotInfo>, SnapshotError>,) = shop.env.call(
        "pin_snapshot",
        (
            "c",
            SnapshotSelector::Id(second.members[2].snapshot_id.clone().unwrap()),
        ),
    );
    r.unwrap();
    let r = shop.take(GroupSnapshotArgs::default());
    assert!(
        matches!(&r, Err(GroupError::SlotsFull { module, .. }) if module == "c"),
        "{r:?}"
    );
    assert_eq!(
        shop.snapshot_counts(),
        (1, 1, 1),
        "nothing taken or replaced"
    );
    assert!(shop.all_running());
}

#[test]
fn retention_and_scheduled_snapshots_never_break_a_kept_group_snapshot() {
    let mut shop = Shop::new();
    shop.bump();
    let group = shop.take(GroupSnapshotArgs::default()).unwrap();
    let member = group.members[1].snapshot_id.clone().unwrap();
    let (r,): (Result<ModuleInfo, ModuleError>,) = shop.env.call(
        "update_module_settings",
        (
            "b",
            ModuleSettingsUpdate {
                max_snapshots: Some(2),
                ..Default::default()
            },
        ),
    );
    r.unwrap();
    let (r,): (Result<ScheduleInfo, ScheduleError>,) = shop.env.call(
        "set_schedule",
        (
            "b",
            ScheduleArgs {
                cadence: Cadence::EveryMinutes(60),
                retention: Retention {
                    keep: Some(1),
                    max_age_seconds: None,
                },
            },
        ),
    );
    r.unwrap();
    // Three scheduled runs: keep 1 would delete the group member, and at max_snapshots the
    // oldest would be replaced — both spare it.
    for _ in 0..3 {
        shop.env.net.advance_time_nanos(3_600_000_000_000);
        shop.env.net.run_until_idle();
    }
    let held = shop.env.list_of("b");
    assert!(held.iter().any(|s| s.id == member), "{held:?}");
    assert!(
        held.iter().any(|s| s.trigger == Some(Trigger::Schedule)),
        "{held:?}"
    );
    shop.bump();
    assert!(shop.restore(Some(group.id)).unwrap().restored);
    assert_eq!(shop.values(), (1, 1, 1));
}

#[test]
fn a_member_found_stopped_is_captured_and_left_stopped_and_the_group_snapshot_completes() {
    let mut shop = Shop::new();
    let (c, developer) = (shop.c, shop.env.developer);
    shop.env.net.stop_canister(c, Some(developer)).unwrap();
    let taken = shop.take(GroupSnapshotArgs::default()).unwrap();
    assert_eq!(taken.status, GroupSnapshotStatus::Complete);
    assert_eq!(
        shop.env.history()[0].status,
        OperationStatus::Completed,
        "leaving c stopped is not a failure"
    );
    let (app, b) = (shop.app, shop.b);
    assert!(shop.env.is_running(app) && shop.env.is_running(b));
    assert!(
        !shop.env.is_running(c),
        "c was stopped before; it is left so"
    );
}
