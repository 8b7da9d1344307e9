//! Groups (applications) on localnet with the orchestrator's real wasm: three sample modules
//! that call each other — `app` keeps a counter that `b` mirrors, and `b` forwards it to `c` —
//! snapshotted and restored as one consistent cut; a member's take, stop or load failing
//! (localnet's held and rejected calls) undoes the others and leaves all three running.

use candid::{CandidType, Deserialize, Principal, decode_args, encode_args};
use integration_tests::{Env, orch, user, wasm};
use localnet::{CallFilter, RejectCode};
use orchestrator_api::client::{Call, calls};
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
        orch!(env, add_group("shop", names(&["app", "b", "c"]))).unwrap();
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
        orch!(self.env, take_group_snapshot("shop", args))
    }

    fn restore(&mut self, id: Option<u64>) -> Result<GroupRestoreReport, GroupError> {
        let args = GroupRestoreArgs {
            group_snapshot_id: id,
            stop_timeout_seconds: None,
        };
        orch!(self.env, restore_group_snapshot("shop", args))
    }

    fn group_snapshots(&mut self) -> Vec<GroupSnapshotInfo> {
        orch!(self.env, list_group_snapshots("shop")).unwrap()
    }

    fn snapshot_counts(&mut self) -> (usize, usize, usize) {
        (
            self.env.list_of("app").len(),
            self.env.list_of("b").len(),
            self.env.list_of("c").len(),
        )
    }

    fn upgrade(&mut self, members: &[(&str, &[u8])]) -> Result<GroupUpgradeReport, GroupError> {
        orch!(self.env, upgrade_group("shop", upgrade_args(members)))
    }

    fn versions(&mut self) -> (String, String, String) {
        let (app, b, c) = (self.app, self.b, self.c);
        let (va,): (String,) = self.env.query_on(app, "version", ());
        let (vb,): (String,) = self.env.query_on(b, "version", ());
        let (vc,): (String,) = self.env.query_on(c, "version", ());
        (va, vb, vc)
    }

    fn set_max_snapshots(&mut self, max: u8) {
        for module in ["app", "b", "c"] {
            let update = ModuleSettingsUpdate {
                max_snapshots: Some(max),
                ..Default::default()
            };
            orch!(self.env, update_module_settings(module, update)).unwrap();
        }
    }

    fn set_group_schedule(&mut self, minutes: u32, keep: u8) -> GroupScheduleInfo {
        let args = ScheduleArgs {
            cadence: Cadence::EveryMinutes(minutes),
            retention: Retention {
                keep: Some(keep),
                max_age_seconds: None,
            },
        };
        orch!(self.env, set_group_schedule("shop", args)).unwrap()
    }

    fn pin(&mut self, id: u64, pin: bool) -> GroupSnapshotInfo {
        if pin {
            orch!(self.env, pin_group_snapshot("shop", id)).unwrap()
        } else {
            orch!(self.env, unpin_group_snapshot("shop", id)).unwrap()
        }
    }

    /// Moves the clock by an hour and lets everything due run.
    fn an_hour_later(&mut self) {
        self.env.net.advance_time_nanos(3_600_000_000_000);
        self.env.net.run_until_idle();
    }

    fn assert_unlocked(&mut self) {
        for m in self.env.modules() {
            assert_eq!(m.busy_with, None, "{} is still locked", m.name);
        }
    }

    /// Submits `call` to the orchestrator with the orchestrator's calls to the management
    /// method `held` held; returns the message and the held calls.
    fn submit_holding<R, E>(
        &mut self,
        call: &Call<R, E>,
        held: &str,
    ) -> (localnet::MessageId, Vec<localnet::HeldCall>) {
        let orchestrator = self.env.orchestrator;
        self.env.net.localnet().hold_calls(CallFilter {
            caller: Some(orchestrator),
            callee: Some(Principal::management_canister()),
            method: Some(held.to_string()),
        });
        let id = self.env.submit(call);
        self.env.net.run_until_idle();
        self.env.net.localnet().clear_holds();
        (id, self.env.net.localnet().held_calls())
    }
}

/// Module names, as `add_group` takes them.
fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|name| name.to_string()).collect()
}

/// `upgrade_group`'s argument: each member with its staged wasm.
fn upgrade_args(members: &[(&str, &[u8])]) -> GroupUpgradeArgs {
    GroupUpgradeArgs {
        members: members
            .iter()
            .map(|(module, hash)| GroupUpgradeMember {
                module: module.to_string(),
                wasm_hash: hash.to_vec(),
                arg: None,
            })
            .collect(),
        stop_timeout_seconds: None,
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
    let r = orch!(env, add_group("backend", names(&["app", "b"])));
    r.unwrap();
    let r = orch!(env, add_group("shop", names(&["app"])));
    assert!(matches!(r, Err(GroupError::NameTaken { .. })), "{r:?}");
    let r = orch!(env, add_group("ghosts", names(&["app", "nobody"])));
    assert!(
        matches!(&r, Err(GroupError::ModuleNotFound { name }) if name == "nobody"),
        "{r:?}"
    );
    let r = orch!(env, add_group("twice", names(&["b", "b"])));
    assert!(matches!(r, Err(GroupError::InvalidMembers { .. })), "{r:?}");
    let r = orch!(env, add_group("empty", Vec::<String>::new()));
    assert!(matches!(r, Err(GroupError::InvalidMembers { .. })), "{r:?}");
    let r = orch!(env, add_group("has space", names(&["b"])));
    assert!(matches!(r, Err(GroupError::InvalidName { .. })), "{r:?}");
    let r = orch!(env, as user(9), list_groups());
    assert!(matches!(r, Err(GroupError::Unauthorized(_))), "{r:?}");

    // Removing b from the registry removes it from both groups.
    let r = orch!(env, remove_module("b"));
    r.unwrap();
    let groups = orch!(env, list_groups());
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
    let r = orch!(env, remove_group("backend"));
    r.unwrap();
    let r = orch!(env, remove_group("backend"));
    assert!(matches!(r, Err(GroupError::GroupNotFound { .. })), "{r:?}");
}

#[test]
fn a_group_snapshot_taken_while_calls_are_in_flight_restores_to_a_state_where_the_mirror_matches() {
    let mut shop = Shop::new();
    for _ in 0..3 {
        shop.bump();
    }
    // Bumps in flight: app has sent `mirror` to b, b to c, when the group snapshot starts.
    let (app, developer) = (shop.app, shop.env.developer);
    let bumps: Vec<_> = (0..4)
        .map(|_| {
            shop.env
                .net
                .submit_call(app, developer, "bump", encode_args(()).unwrap())
                .unwrap()
        })
        .collect();
    shop.env.net.tick();
    let take_call = calls::take_group_snapshot(
        "shop",
        GroupSnapshotArgs {
            label: Some("in flight".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let take = shop.env.submit(&take_call);
    let taken = shop.env.answer_of(take, &take_call);
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
    let call = calls::take_group_snapshot("shop", GroupSnapshotArgs::default()).unwrap();
    let (id, held) = shop.submit_holding(&call, "take_canister_snapshot");
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
    let r = shop.env.answer_of(id, &call);
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
    let call = calls::take_group_snapshot(
        "shop",
        GroupSnapshotArgs {
            keep_partial: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    let (id, held) = shop.submit_holding(&call, "take_canister_snapshot");
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
    let r = shop.env.answer_of(id, &call);
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
    let (app, b, developer) = (shop.app, shop.b, shop.env.developer);
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

    let take_call = calls::take_group_snapshot(
        "shop",
        GroupSnapshotArgs {
            stop_timeout_seconds: Some(5),
            ..Default::default()
        },
    )
    .unwrap();
    let take = shop.env.submit(&take_call);
    shop.env.net.run_until_idle();
    assert!(
        shop.env.net.localnet().ingress_status(take).is_none(),
        "still waiting for app to stop"
    );
    shop.env.net.advance_time_nanos(6_000_000_000);
    let r = shop.env.answer_of(take, &take_call);
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
    let call = calls::restore_group_snapshot(
        "shop",
        GroupRestoreArgs {
            group_snapshot_id: Some(taken.id),
            stop_timeout_seconds: None,
        },
    )
    .unwrap();
    let (id, held) = shop.submit_holding(&call, "load_canister_snapshot");
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
    let r = shop.env.answer_of(id, &call);
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
    let orchestrator = shop.env.orchestrator;
    // b's own take holds its lock while its list call is held.
    shop.env.net.localnet().hold_calls(CallFilter {
        caller: Some(orchestrator),
        callee: Some(Principal::management_canister()),
        method: Some("list_canister_snapshots".into()),
    });
    let single_call = calls::take_snapshot("b", TakeSnapshotArgs::default()).unwrap();
    let single = shop.env.submit(&single_call);
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
    let call = calls::take_group_snapshot("shop", GroupSnapshotArgs::default()).unwrap();
    let (id, held) = shop.submit_holding(&call, "take_canister_snapshot");
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
    let r = shop.env.answer_of(id, &call);
    assert!(
        matches!(r, Err(GroupError::OperationFailed { .. })),
        "{r:?}"
    );
    assert_eq!(shop.snapshot_counts(), (1, 1, 1));
    shop.bump();
    assert!(shop.restore(Some(second.id)).unwrap().restored);
    assert_eq!(shop.values(), (2, 2, 2));

    // c's only snapshot pinned: nothing to give up, refused before anything is touched.
    let r = orch!(
        shop.env,
        pin_snapshot(
            "c",
            SnapshotSelector::Id(second.members[2].snapshot_id.clone().unwrap())
        )
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
    let r = orch!(
        shop.env,
        update_module_settings(
            "b",
            ModuleSettingsUpdate {
                max_snapshots: Some(2),
                ..Default::default()
            }
        )
    );
    r.unwrap();
    let r = orch!(
        shop.env,
        set_schedule(
            "b",
            ScheduleArgs {
                cadence: Cadence::EveryMinutes(60),
                retention: Retention {
                    keep: Some(1),
                    max_age_seconds: None,
                },
            }
        )
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

#[test]
fn a_group_upgrade_with_every_named_member_good_ends_with_each_running_its_new_wasm() {
    let mut shop = Shop::new();
    shop.bump();
    let v2 = shop.env.stage(&wasm("sample-module-v2.wasm.gz"), 1_000_000);
    // c is not named: it is part of the cut but keeps its code, and runs throughout.
    let report = shop
        .upgrade(&[("app", v2.as_slice()), ("b", v2.as_slice())])
        .unwrap();
    assert!(report.upgraded, "{report:?}");
    for (module, outcome) in [
        ("app", GroupMemberOutcome::Done),
        ("b", GroupMemberOutcome::Done),
        ("c", GroupMemberOutcome::Untouched),
    ] {
        let m = outcome_of(&report.members, module);
        assert_eq!((m.outcome.clone(), m.running), (outcome, true), "{module}");
    }
    assert_eq!(
        shop.versions(),
        ("v2".into(), "v2".into(), "v1".into()),
        "each named member runs its new wasm"
    );
    assert!(shop.all_running());
    shop.assert_unlocked();

    // The cut is a complete group snapshot of all three, trigger upgrade, restorable.
    let cut = shop
        .group_snapshots()
        .into_iter()
        .find(|g| g.id == report.group_snapshot_id)
        .unwrap();
    assert_eq!(cut.status, GroupSnapshotStatus::Complete);
    assert_eq!(cut.trigger, Trigger::Upgrade);
    assert_eq!(cut.members.len(), 3);
    // One history record with every member's steps.
    let op = shop.env.history().remove(0);
    assert_eq!(op.id, report.operation_id);
    assert_eq!(op.kind, OperationKind::GroupUpgrade);
    assert_eq!(op.status, OperationStatus::Completed);
    for (member, steps) in [
        (
            "app",
            &[
                OperationStep::Stop,
                OperationStep::TakeSnapshot,
                OperationStep::Install,
                OperationStep::Start,
            ][..],
        ),
        (
            "b",
            &[
                OperationStep::Stop,
                OperationStep::TakeSnapshot,
                OperationStep::Install,
                OperationStep::Start,
            ][..],
        ),
        (
            "c",
            &[
                OperationStep::Stop,
                OperationStep::TakeSnapshot,
                OperationStep::Start,
            ][..],
        ),
    ] {
        for step in steps {
            assert!(
                op.steps.iter().any(|s| s.step == *step
                    && s.module.as_deref() == Some(member)
                    && s.outcome == StepOutcome::Ok),
                "{member} {step}: {:?}",
                op.steps
            );
        }
    }
    assert!(
        !op.steps
            .iter()
            .any(|s| s.step == OperationStep::Install && s.module.as_deref() == Some("c"))
    );
    // The upgraded members' snapshots of the cut are kept for their latest upgrade.
    let held = shop.env.list_of("b");
    assert!(held.iter().all(|s| s.kept_for_upgrade), "{held:?}");

    // A module outside the group, or a wasm that is not staged: refused, nothing touched.
    let r = shop.upgrade(&[("ghost", v2.as_slice())]);
    assert!(matches!(r, Err(GroupError::NotAMember { .. })), "{r:?}");
    let r = shop.upgrade(&[("b", &[7u8; 32][..])]);
    assert!(matches!(r, Err(GroupError::WasmNotStaged { .. })), "{r:?}");
    let r = shop.upgrade(&[("b", v2.as_slice()), ("b", v2.as_slice())]);
    assert!(matches!(r, Err(GroupError::InvalidMembers { .. })), "{r:?}");
    assert_eq!(
        shop.group_snapshots().len(),
        1,
        "no cut for a refused upgrade"
    );
}

#[test]
fn a_group_upgrade_with_a_member_whose_post_upgrade_traps_rolls_back_all_to_the_cut() {
    let mut shop = Shop::new();
    shop.bump();
    shop.bump();
    let v2 = shop.env.stage(&wasm("sample-module-v2.wasm.gz"), 1_000_000);
    let broken = shop.env.stage(
        &wasm("sample-module-broken-post-upgrade.wasm.gz"),
        1_000_000,
    );
    let report = shop
        .upgrade(&[("app", v2.as_slice()), ("b", broken.as_slice())])
        .unwrap();
    assert!(!report.upgraded, "{report:?}");
    // app was installed, then loaded back; b's install failed (and was loaded back); c was
    // stopped for the cut, never ran on a changed group, and was only started again.
    assert!(matches!(
        &outcome_of(&report.members, "app").outcome,
        GroupMemberOutcome::Undone
    ));
    assert!(
        matches!(
            &outcome_of(&report.members, "b").outcome,
            GroupMemberOutcome::Failed { step: OperationStep::Install, reason } if reason.contains("rolled back")
        ),
        "{report:?}"
    );
    assert_eq!(
        outcome_of(&report.members, "c").outcome,
        GroupMemberOutcome::Untouched
    );
    assert!(report.members.iter().all(|m| m.running), "{report:?}");
    assert_eq!(
        shop.values(),
        (2, 2, 2),
        "every member holds the cut's state"
    );
    assert_eq!(shop.versions(), ("v1".into(), "v1".into(), "v1".into()));
    assert!(shop.all_running());
    shop.assert_unlocked();
    let op = shop.env.history().remove(0);
    assert_eq!(op.kind, OperationKind::GroupUpgrade);
    assert!(
        matches!(&op.status, OperationStatus::Failed(reason) if reason.contains("rolled back")),
        "{:?}",
        op.status
    );
    // The group still works (its peers, heap state, came back with the load).
    assert_eq!(shop.bump(), 3);
    assert_eq!(shop.values(), (3, 3, 3));
}

#[test]
fn a_group_upgrade_whose_health_check_fails_rolls_back_every_member_and_what_they_did_meanwhile() {
    integration_tests::localnet_only!("holds the health check while a member runs the new code");
    let mut shop = Shop::new();
    shop.bump();
    shop.bump();
    let r = orch!(
        shop.env,
        update_module_settings(
            "b",
            ModuleSettingsUpdate {
                health_check: Some(HealthCheckSetting::Method("health".into())),
                ..Default::default()
            }
        )
    );
    r.unwrap();
    let v2 = shop.env.stage(&wasm("sample-module-v2.wasm.gz"), 1_000_000);
    let unhealthy = shop
        .env
        .stage(&wasm("sample-module-unhealthy.wasm.gz"), 1_000_000);
    // Hold b's health check: meanwhile the group runs its new code and changes its state.
    let (orchestrator, app, b) = (shop.env.orchestrator, shop.app, shop.b);
    shop.env.net.localnet().hold_calls(CallFilter {
        caller: Some(orchestrator),
        callee: Some(b),
        method: Some("health".into()),
    });
    let id_call = calls::upgrade_group(
        "shop",
        upgrade_args(&[("app", v2.as_slice()), ("b", unhealthy.as_slice())]),
    )
    .unwrap();
    let id = shop.env.submit(&id_call);
    shop.env.net.run_until_idle();
    shop.env.net.localnet().clear_holds();
    let held = shop.env.net.localnet().held_calls();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(shop.versions().0, "v2", "app runs its new code meanwhile");
    let (counter,): (u64,) = shop.env.update_on(app, "bump", ());
    assert_eq!(counter, 1, "the new code started from an empty heap");
    shop.env.net.localnet().release_call(held[0].id);
    let r = shop.env.answer_of(id, &id_call);
    let report = r.unwrap();
    assert!(!report.upgraded);
    assert!(
        matches!(
            &outcome_of(&report.members, "b").outcome,
            GroupMemberOutcome::Failed {
                step: OperationStep::HealthCheck,
                ..
            }
        ),
        "{report:?}"
    );
    // Every member ran since the cut, so every member is loaded back (c included).
    for m in ["app", "c"] {
        assert_eq!(
            outcome_of(&report.members, m).outcome,
            GroupMemberOutcome::Undone
        );
    }
    assert!(report.members.iter().all(|m| m.running));
    assert_eq!(
        shop.values(),
        (2, 2, 2),
        "the cut's state, the bump meanwhile undone"
    );
    assert_eq!(shop.versions(), ("v1".into(), "v1".into(), "v1".into()));
    assert!(shop.all_running());
    shop.assert_unlocked();
    let op = shop.env.history().remove(0);
    for m in ["app", "b", "c"] {
        for step in [
            OperationStep::RollbackStop,
            OperationStep::RollbackLoad,
            OperationStep::RollbackStart,
        ] {
            assert!(
                op.steps
                    .iter()
                    .any(|s| s.step == step && s.module.as_deref() == Some(m)),
                "{m} {step}"
            );
        }
    }
}

#[test]
fn a_group_schedule_takes_group_snapshots_in_virtual_time_and_retention_deletes_the_oldest_as_a_unit()
 {
    integration_tests::localnet_only!("reads the orchestrator's global timer");
    let mut shop = Shop::new();
    shop.set_max_snapshots(3);
    let set = shop.set_group_schedule(60, 2);
    assert_eq!(set.group, "shop");
    assert_eq!(
        shop.env.net.localnet().global_timer(shop.env.orchestrator),
        Some(set.next_run_at),
        "the timer is armed for the group's first run"
    );
    // keep counts group snapshots, bounded by the members' max_snapshots.
    let r = orch!(
        shop.env,
        set_group_schedule(
            "shop",
            ScheduleArgs {
                cadence: Cadence::EveryMinutes(60),
                retention: Retention {
                    keep: Some(4),
                    max_age_seconds: None,
                },
            }
        )
    );
    assert!(
        matches!(r, Err(GroupError::InvalidArgument { .. })),
        "{r:?}"
    );

    let mut taken = Vec::new();
    for run in 1..=3 {
        shop.bump();
        shop.an_hour_later();
        let snapshots = shop.group_snapshots();
        let newest = snapshots.last().unwrap().clone();
        assert_eq!(newest.trigger, Trigger::Schedule, "run {run}");
        assert_eq!(newest.status, GroupSnapshotStatus::Complete);
        taken.push(newest);
        assert!(shop.all_running());
    }
    // Three runs, keep 2: the oldest group snapshot went as a unit — every member's snapshot.
    let ids: Vec<u64> = shop.group_snapshots().iter().map(|g| g.id).collect();
    assert_eq!(ids, vec![taken[1].id, taken[2].id]);
    for (i, module) in ["app", "b", "c"].into_iter().enumerate() {
        let held: Vec<_> = shop.env.list_of(module).into_iter().map(|s| s.id).collect();
        let kept: Vec<_> = taken[1..]
            .iter()
            .map(|g| g.members[i].snapshot_id.clone().unwrap())
            .collect();
        assert_eq!(
            held, kept,
            "{module} holds exactly the kept group snapshots' members"
        );
    }
    let deletions = shop
        .env
        .history()
        .into_iter()
        .filter(|o| o.kind == OperationKind::DeleteSnapshot && o.trigger == Trigger::Retention)
        .count();
    assert_eq!(deletions, 3, "one deletion per member of the oldest");
    let schedules = orch!(shop.env, list_group_schedules());
    let schedule = schedules.unwrap().remove(0);
    assert_eq!(schedule.last_operation_id, Some(taken[2].id));
    // The kept group snapshots restore as units.
    assert!(shop.restore(Some(taken[1].id)).unwrap().restored);
    assert_eq!(shop.values(), (2, 2, 2));

    // Cleared, and removed with its group.
    let r = orch!(shop.env, clear_group_schedule("shop"));
    r.unwrap();
    let r = orch!(shop.env, clear_group_schedule("shop"));
    assert!(matches!(r, Err(GroupError::NoSchedule { .. })), "{r:?}");
    shop.set_group_schedule(60, 1);
    let r = orch!(shop.env, remove_group("shop"));
    r.unwrap();
    let schedules = orch!(shop.env, list_group_schedules());
    assert!(schedules.unwrap().is_empty());
}

#[test]
fn a_pinned_group_snapshot_survives_group_retention_and_full_slots_until_it_is_unpinned() {
    let mut shop = Shop::new();
    shop.set_max_snapshots(2);
    shop.bump();
    let golden = shop
        .take(GroupSnapshotArgs {
            label: Some("golden".into()),
            ..Default::default()
        })
        .unwrap();
    let pinned = shop.pin(golden.id, true);
    assert_eq!(pinned.pinned, Some(true));
    for module in ["app", "b", "c"] {
        assert!(
            shop.env.list_of(module).iter().all(|s| s.pinned),
            "{module}"
        );
    }
    // A pinned member cannot be deleted by hand either.
    let golden_b = golden.members[1].snapshot_id.clone();
    let r = orch!(
        shop.env,
        delete_snapshot("b", golden_b.as_ref().map(|id| id.as_slice()))
    );
    assert!(matches!(r, Err(SnapshotError::Pinned { .. })), "{r:?}");

    // keep 1 and max_snapshots 2: every run would drop the oldest group snapshot.
    shop.set_group_schedule(60, 1);
    for _ in 0..3 {
        shop.bump();
        shop.an_hour_later();
        let ids: Vec<u64> = shop.group_snapshots().iter().map(|g| g.id).collect();
        assert_eq!(ids.len(), 2, "{ids:?}");
        assert_eq!(ids[0], golden.id, "the pinned group snapshot stays");
        assert_eq!(shop.snapshot_counts(), (2, 2, 2));
    }
    shop.bump();
    assert!(shop.restore(Some(golden.id)).unwrap().restored);
    assert_eq!(shop.values(), (1, 1, 1));

    // Unpinned, it is the oldest: the next run replaces it and retention keeps only the newest.
    let unpinned = shop.pin(golden.id, false);
    assert_eq!(unpinned.pinned, Some(false));
    shop.an_hour_later();
    let snapshots = shop.group_snapshots();
    assert_eq!(snapshots.len(), 1, "{snapshots:?}");
    assert_ne!(snapshots[0].id, golden.id);
    assert_eq!(shop.snapshot_counts(), (1, 1, 1));
    // An unknown group snapshot.
    let r = orch!(shop.env, pin_group_snapshot("shop", 999u64));
    assert!(
        matches!(r, Err(GroupError::GroupSnapshotNotFound { .. })),
        "{r:?}"
    );
}

#[test]
fn a_scheduled_group_snapshot_finding_a_member_busy_is_recorded_as_skipped_and_retried() {
    integration_tests::localnet_only!("holds a member's call to keep it busy");
    let mut shop = Shop::new();
    let set = shop.set_group_schedule(60, 1);
    // b's own take holds b's lock (its list call held) when the group's run comes.
    let now = shop.env.net.time_nanos();
    shop.env
        .net
        .advance_time_nanos(set.next_run_at - now - 1_000_000_000);
    shop.env.net.run_until_idle();
    let orchestrator = shop.env.orchestrator;
    shop.env.net.localnet().hold_calls(CallFilter {
        caller: Some(orchestrator),
        callee: Some(Principal::management_canister()),
        method: Some("list_canister_snapshots".into()),
    });
    let single_call = calls::take_snapshot("b", TakeSnapshotArgs::default()).unwrap();
    let single = shop.env.submit(&single_call);
    shop.env.net.run_until_idle();
    shop.env.net.localnet().clear_holds();
    let held = shop.env.net.localnet().held_calls();
    assert_eq!(held.len(), 1, "{held:?}");
    shop.env.net.advance_time_nanos(2_000_000_000);
    shop.env.net.run_until_idle();

    let skipped = shop.env.history().remove(0);
    assert_eq!(skipped.kind, OperationKind::GroupSnapshot);
    assert_eq!(skipped.trigger, Trigger::Schedule);
    assert!(
        matches!(&skipped.status, OperationStatus::Skipped(why) if why.contains("\"b\"") && why.contains("retried")),
        "{:?}",
        skipped.status
    );
    let schedules = orch!(shop.env, list_group_schedules());
    let schedule = schedules.unwrap().remove(0);
    assert!(schedule.retry_at.is_some(), "{schedule:?}");
    assert_eq!(schedule.last_operation_id, Some(skipped.id));
    assert!(shop.group_snapshots().is_empty());
    assert!(shop.all_running(), "nothing was touched");

    // b is free again; the retry a minute later takes the group snapshot.
    shop.env.net.localnet().release_call(held[0].id);
    shop.env.net.await_call(single).unwrap();
    shop.env.net.advance_time_nanos(60_000_000_000);
    shop.env.net.run_until_idle();
    let taken = shop.group_snapshots();
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert_eq!(taken[0].trigger, Trigger::Schedule);
    shop.assert_unlocked();
}
