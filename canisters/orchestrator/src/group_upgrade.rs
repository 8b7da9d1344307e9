//! Upgrading several members of a group behind one group snapshot: the consistent cut is taken
//! with every member stopped, the named members' wasms are installed while all are still
//! stopped, everyone starts, the upgraded members are health-checked — and if any install,
//! start or health check fails, every member is rolled back to the cut, so the group never
//! runs half upgraded. One history record (kind `group_upgrade`) holds every member's steps.
//!
//! The members are installed at once, not one after the other: every member is stopped, so a
//! `post_upgrade` cannot call a peer whatever the order, and the installs are independent
//! management calls; in parallel the group is down for one install instead of the sum.

use candid::Principal;
use futures_util::future::join_all;
use orchestrator_api::{
    CallFailure, GroupError, GroupMemberOutcome, GroupMemberReport, GroupUpgradeArgs,
    GroupUpgradeReport, OperationKind, OperationStep, Trigger,
};

use crate::flow::Stopped;
use crate::group_flows::{
    Stop, check_timeout, drop_replaced, lock_members, not_restarted, plan_slots, record_cut,
    start_all, stop_all, summary, take_all, undo_cut,
};
use crate::history::Operation;
use crate::mgmt::Management;
use crate::store::snapshot_meta;
use crate::{groups, registry, staging, upgrade};

/// What one named member installs.
struct Planned {
    wasm: Vec<u8>,
    wasm_hash: Vec<u8>,
    arg: Vec<u8>,
    health_check: Option<String>,
}

/// How a member ended, before the report is written.
#[derive(Default)]
struct Fate {
    /// Its own install or health check failed: (step, reason).
    failed: Option<(OperationStep, String)>,
    /// The rollback loaded the cut into it (`Some(Ok)`), or failed (`Some(Err)`).
    rolled_back: Option<Result<(), String>>,
}

/// The `post_upgrade` argument when none is given: empty candid arguments.
fn empty_args() -> Vec<u8> {
    candid::encode_args(()).expect("encoding () cannot fail")
}

/// Validates the named members against the group and finds each one's committed wasm;
/// `plans[i]` is for the group's i-th member (none: not named).
fn plan(
    group: &str,
    modules: &[String],
    args: &GroupUpgradeArgs,
    now: u64,
) -> Result<Vec<Option<Planned>>, GroupError> {
    if args.members.is_empty() {
        return Err(GroupError::InvalidMembers {
            reason: "name at least one member to upgrade".into(),
        });
    }
    let mut plans: Vec<Option<Planned>> = modules.iter().map(|_| None).collect();
    for (i, u) in args.members.iter().enumerate() {
        if args.members[..i].iter().any(|o| o.module == u.module) {
            return Err(GroupError::InvalidMembers {
                reason: format!("module {:?} is named twice", u.module),
            });
        }
        let Some(index) = modules.iter().position(|m| *m == u.module) else {
            return Err(GroupError::NotAMember {
                group: group.to_string(),
                module: u.module.clone(),
            });
        };
        let wasm = staging::committed_wasm(&u.wasm_hash, now).ok_or_else(|| {
            GroupError::WasmNotStaged {
                module: u.module.clone(),
                wasm_hash: u.wasm_hash.clone(),
            }
        })?;
        let health_check = registry::get(&u.module).and_then(|r| r.settings.health_check);
        plans[index] = Some(Planned {
            wasm,
            wasm_hash: u.wasm_hash.clone(),
            arg: u.arg.as_ref().map_or_else(empty_args, |a| a.to_vec()),
            health_check,
        });
    }
    Ok(plans)
}

/// lock every member → plan the slots → stop all → take the cut → install the named members
/// (all stopped, at once) → start all → health-check the upgraded → on any failure: stop →
/// load the cut → start, for every member that ran since the cut (only the named ones when an
/// install failed: the others never ran since) → report per member.
pub async fn upgrade<M: Management>(
    mgmt: &M,
    caller: Principal,
    group: &str,
    args: GroupUpgradeArgs,
) -> Result<GroupUpgradeReport, GroupError> {
    // 1. Validate: the stop bound, the group, each named member (once, a member of the
    //    group) and its committed wasm.
    let timeout = check_timeout(args.stop_timeout_seconds)?;
    let info = groups::get(group)?;
    let plans = plan(group, &info.modules, &args, mgmt.now())?;

    // 2. Lock every member — the cut covers the whole group — or refuse before touching any.
    let (members, locks) = lock_members(&info.modules, OperationKind::GroupUpgrade, mgmt.now())?;
    let op = Operation::begin(
        group,
        OperationKind::GroupUpgrade,
        caller,
        Trigger::Manual,
        mgmt.now(),
    );
    for lock in &locks {
        lock.set_operation_id(op.id());
    }

    // 3. Plan the slots of the group snapshot, as `take_group_snapshot` does.
    let to_replace = match plan_slots(mgmt, &op, group, &members, Trigger::Upgrade).await {
        Ok(planned) => planned,
        Err(error) => {
            return Err(op.close_refused(error, mgmt.now()));
        }
    };

    // 4. Stop every member at once (bounded), 5. take the cut. Without a complete cut nothing
    //    is installed: the members start again and this run's snapshots are deleted.
    let window_start = mgmt.now();
    let stops = stop_all(mgmt, &op, &members, timeout).await;
    let takes = if stops.iter().all(|s| s.failed().is_none()) {
        let label = format!("before group upgrade {}", op.id());
        take_all(mgmt, &op, &members, Some(label), Trigger::Upgrade).await
    } else {
        members.iter().map(|_| None).collect()
    };
    if !takes.iter().all(|t| matches!(t, Some(Ok(_)))) {
        let running = start_all(mgmt, &op, &members, &stops).await;
        let reports = undo_cut(mgmt, &op, &members, &stops, &takes, &running).await;
        let reason = format!(
            "{}; nothing was installed",
            summary("group upgrade's group snapshot", &reports)
        );
        let operation_id = op.id();
        op.close_failed(reason.clone(), mgmt.now());
        return Err(GroupError::OperationFailed {
            operation_id,
            reason,
            members: reports,
        });
    }
    let label = format!("before group upgrade {}", op.id());
    let mut cut = record_cut(
        &op,
        group,
        Some(label),
        Trigger::Upgrade,
        &members,
        &takes,
        (window_start, mgmt.now()),
    );
    let cut_ids: Vec<Vec<u8>> = takes
        .iter()
        .map(|t| match t {
            Some(Ok(s)) => s.id.clone(),
            _ => unreachable!("the cut is complete"),
        })
        .collect();

    // 6. Install every named member's wasm, all at once, while every member is stopped.
    let installs: Vec<Option<Result<(), (OperationStep, CallFailure)>>> =
        join_all(members.iter().zip(&plans).map(|(m, p)| {
            let op = &op;
            async move {
                let p = p.as_ref()?;
                Some(
                    upgrade::install(
                        mgmt,
                        op,
                        Some(&m.name),
                        m.canister,
                        &p.wasm,
                        &p.wasm_hash,
                        &p.arg,
                    )
                    .await,
                )
            }
        }))
        .await;
    let installed = installs.iter().all(|i| !matches!(i, Some(Err(_))));
    let mut fates: Vec<Fate> = members.iter().map(|_| Fate::default()).collect();
    for (fate, install) in fates.iter_mut().zip(&installs) {
        if let Some(Err((step, failure))) = install {
            fate.failed = Some((*step, failure.to_string()));
        }
    }

    // 7. Start every member we stopped — only once every install went through: a group with
    //    one member on its old code never runs. 8. Health-check each upgraded member that ran.
    let was_running: Vec<bool> = stops
        .iter()
        .map(|s| matches!(s, Stop::Done(Stopped::ByUs)))
        .collect();
    let mut running = vec![false; members.len()];
    if installed {
        running = start_all(mgmt, &op, &members, &stops).await;
        let checks = join_all(members.iter().zip(&plans).enumerate().map(|(i, (m, p))| {
            let (op, running, was_running) = (&op, &running, &was_running);
            async move {
                let method = p.as_ref()?.health_check.as_ref()?;
                if !was_running[i] {
                    op.skip_member_step(
                        &m.name,
                        OperationStep::HealthCheck,
                        "the module was stopped before the upgrade and is left stopped",
                        mgmt.now(),
                    );
                    return None;
                }
                if !running[i] {
                    return None; // its failed start is the failure
                }
                Some(
                    op.run_member(
                        mgmt,
                        &m.name,
                        OperationStep::HealthCheck,
                        mgmt.health_check(m.canister, method),
                    )
                    .await,
                )
            }
        }))
        .await;
        for (i, (fate, check)) in fates.iter_mut().zip(checks).enumerate() {
            if plans[i].is_some() && was_running[i] && !running[i] {
                fate.failed = Some((OperationStep::Start, "it did not start again".into()));
            } else if let Some(Err(failure)) = check {
                fate.failed = Some((OperationStep::HealthCheck, failure.to_string()));
            }
        }
    }
    let upgraded = fates.iter().all(|f| f.failed.is_none());
    cut.window_end = mgmt.now();
    groups::record_snapshot(cut.clone());

    // 9. On failure, roll every member that ran since the cut back to it: stop it → load its
    //    snapshot of the cut → start it again if it ran before the upgrade. When an install
    //    failed nobody was started: only the named members changed, and they are loaded while
    //    still stopped.
    if !upgraded {
        let rollbacks = join_all(members.iter().enumerate().map(|(i, m)| {
            let (op, running, was_running, cut_ids, plans) =
                (&op, &running, &was_running, &cut_ids, &plans);
            async move {
                let changed = if installed { true } else { plans[i].is_some() };
                if !changed {
                    return (None, false);
                }
                let mut loaded = Ok(());
                if running[i]
                    && let Err(f) = op
                        .run_member(
                            mgmt,
                            &m.name,
                            OperationStep::RollbackStop,
                            mgmt.stop_canister_within(m.canister, timeout),
                        )
                        .await
                {
                    loaded = Err(format!(
                        "the rollback could not stop it ({f}); it runs the new code"
                    ));
                }
                if loaded.is_ok()
                    && let Err(f) = op
                        .run_member(
                            mgmt,
                            &m.name,
                            OperationStep::RollbackLoad,
                            mgmt.load_snapshot(m.canister, cut_ids[i].clone()),
                        )
                        .await
                {
                    loaded = Err(format!(
                        "the rollback could not load its snapshot {} of the group snapshot ({f})",
                        hex::encode(&cut_ids[i])
                    ));
                }
                // Leave it as the upgrade found it: running, unless it was stopped before.
                let runs = was_running[i]
                    && op
                        .run_member(
                            mgmt,
                            &m.name,
                            OperationStep::RollbackStart,
                            mgmt.start_canister(m.canister),
                        )
                        .await
                        .is_ok();
                (Some(loaded), runs)
            }
        }))
        .await;
        for (i, (loaded, runs)) in rollbacks.into_iter().enumerate() {
            fates[i].rolled_back = loaded;
            running[i] = runs;
        }
        if !installed {
            // The members that were not rolled back still wait for their start.
            let others: Vec<Stop> = stops
                .iter()
                .zip(&plans)
                .map(|(s, p)| match (s, p) {
                    (Stop::Done(Stopped::ByUs), None) => Stop::Done(Stopped::ByUs),
                    _ => Stop::Done(Stopped::WasNotRunning),
                })
                .collect();
            let started = start_all(mgmt, &op, &members, &others).await;
            for (i, runs) in started.into_iter().enumerate() {
                if plans[i].is_none() {
                    running[i] = runs && was_running[i];
                }
            }
        }
    }

    // 10. Keep the cut from automatic deletion, as a single upgrade keeps its snapshot: a
    //     success hands the mark of each upgraded member to its snapshot of this cut; a
    //     failure adds it.
    for (m, (p, id)) in members.iter().zip(plans.iter().zip(&cut_ids)) {
        if p.is_some() {
            snapshot_meta::mark_kept_for_upgrade(&m.name, Some(id), upgraded);
        }
    }

    // 11. Drop what the cut's snapshots replace, then report.
    drop_replaced(mgmt, &op, &members, &takes, &to_replace).await;
    let reports: Vec<GroupMemberReport> = members
        .iter()
        .zip(fates)
        .enumerate()
        .map(|(i, (m, fate))| GroupMemberReport {
            module: m.name.clone(),
            outcome: outcome(plans[i].is_some(), upgraded, fate),
            running: running[i],
        })
        .collect();
    let operation_id = op.id();
    let stops_after: Vec<Stop> = was_running
        .iter()
        .map(|r| {
            Stop::Done(if *r {
                Stopped::ByUs
            } else {
                Stopped::WasNotRunning
            })
        })
        .collect();
    let not_running = not_restarted(&members, &stops_after, &running);
    if upgraded && not_running.is_empty() {
        op.close_completed(mgmt.now());
    } else if upgraded {
        op.close_failed(
            format!("upgraded, but not running afterwards: {not_running:?}"),
            mgmt.now(),
        );
    } else {
        op.close_failed(
            format!(
                "{}; rolled back to group snapshot {}",
                summary("group upgrade", &reports),
                cut.id
            ),
            mgmt.now(),
        );
    }
    Ok(GroupUpgradeReport {
        operation_id,
        group_snapshot_id: cut.id,
        upgraded,
        members: reports,
    })
}

/// One member's outcome from its fate.
fn outcome(named: bool, upgraded: bool, fate: Fate) -> GroupMemberOutcome {
    match (fate.failed, fate.rolled_back) {
        (Some((step, reason)), Some(Ok(()))) => GroupMemberOutcome::Failed {
            step,
            reason: format!("{reason}; rolled back to the group snapshot"),
        },
        (Some((step, reason)), Some(Err(why))) => GroupMemberOutcome::Failed {
            step,
            reason: format!("{reason}; {why}"),
        },
        (Some((step, reason)), None) => GroupMemberOutcome::Failed { step, reason },
        (None, Some(Ok(()))) => GroupMemberOutcome::Undone,
        (None, Some(Err(reason))) => GroupMemberOutcome::UndoFailed { reason },
        (None, None) if named && upgraded => GroupMemberOutcome::Done,
        (None, None) => GroupMemberOutcome::Untouched,
    }
}
