//! Group snapshot and group restore: every member of a group stopped together, so that their
//! snapshots form one consistent cut (no member runs — and no call between members is half
//! done — while any of them is captured or loaded).
//!
//! Both flows lock every member up front (a member busy with another operation refuses the
//! whole group operation before anything is touched), write one history record whose steps
//! name their member, and start every member they stopped, always.

use candid::Principal;
use futures_util::future::join_all;
use orchestrator_api::{
    CallFailure, DEFAULT_STOP_TIMEOUT_SECONDS, GroupError, GroupMemberOutcome, GroupMemberReport,
    GroupMemberSnapshot, GroupRestoreReport, GroupSnapshotArgs, GroupSnapshotInfo,
    GroupSnapshotStatus, IC_MAX_SNAPSHOTS_PER_CANISTER, MAX_STOP_TIMEOUT_SECONDS, OperationKind,
    OperationStep, SnapshotError, Trigger, validate_label,
};

use crate::flow::Stopped;
use crate::history::Operation;
use crate::lock::ModuleLock;
use crate::mgmt::{IcSnapshot, Management, RunStatus};
use crate::store::snapshot_meta;
use crate::{groups, registry, snapshots, views};

/// A member as the flows need it.
pub(crate) struct Member {
    pub(crate) name: String,
    pub(crate) canister: Principal,
    pub(crate) max_snapshots: u8,
}

/// How a member's stop went.
pub(crate) enum Stop {
    /// Stopped by us, or found not running (`Stopped`).
    Done(Stopped),
    /// Status or stop failed; `needs_start` when the stop itself was sent (the module may be
    /// left stopping, and a start cancels that).
    Failed {
        step: OperationStep,
        failure: CallFailure,
        needs_start: bool,
    },
}

impl Stop {
    pub(crate) fn failed(&self) -> Option<(OperationStep, String)> {
        match self {
            Self::Done(_) => None,
            Self::Failed { step, failure, .. } => Some((*step, failure.to_string())),
        }
    }
}

/// Looks up every member and takes all their locks, or none (the guards taken so far are
/// dropped on the error path).
pub(crate) fn lock_members(
    names: &[String],
    kind: OperationKind,
    now: u64,
) -> Result<(Vec<Member>, Vec<ModuleLock>), GroupError> {
    let mut members = Vec::with_capacity(names.len());
    let mut locks = Vec::with_capacity(names.len());
    for name in names {
        let (module, lock) = registry::lock_module(name, kind, now)?;
        locks.push(lock);
        members.push(Member {
            name: name.clone(),
            canister: module.canister_id,
            max_snapshots: module.settings.max_snapshots,
        });
    }
    Ok((members, locks))
}

/// Lists every member's snapshots (in parallel). A failure is a preflight failure: nothing
/// has been touched.
async fn list_all<M: Management>(
    mgmt: &M,
    op: &Operation,
    members: &[Member],
) -> Result<Vec<Vec<IcSnapshot>>, GroupError> {
    let listed = join_all(members.iter().map(|m| {
        op.run_member(
            mgmt,
            &m.name,
            OperationStep::ListSnapshots,
            mgmt.list_snapshots(m.canister),
        )
    }))
    .await;
    members
        .iter()
        .zip(listed)
        .map(|(m, held)| {
            held.map_err(|failure| GroupError::PreflightFailed {
                module: m.name.clone(),
                failure,
            })
        })
        .collect()
}

/// Status, then stop (bounded by `timeout`) every running member, all in parallel.
pub(crate) async fn stop_all<M: Management>(
    mgmt: &M,
    op: &Operation,
    members: &[Member],
    timeout: u32,
) -> Vec<Stop> {
    join_all(members.iter().map(|m| async move {
        let status = match op
            .run_member(
                mgmt,
                &m.name,
                OperationStep::CheckStatus,
                mgmt.canister_status(m.canister),
            )
            .await
        {
            Ok(status) => status,
            Err(failure) => {
                return Stop::Failed {
                    step: OperationStep::CheckStatus,
                    failure,
                    needs_start: false,
                };
            }
        };
        if status.status != RunStatus::Running {
            op.skip_member_step(
                &m.name,
                OperationStep::Stop,
                "the module was not running; it is left stopped",
                mgmt.now(),
            );
            return Stop::Done(Stopped::WasNotRunning);
        }
        match op
            .run_member(
                mgmt,
                &m.name,
                OperationStep::Stop,
                mgmt.stop_canister_within(m.canister, timeout),
            )
            .await
        {
            Ok(()) => Stop::Done(Stopped::ByUs),
            Err(failure) => Stop::Failed {
                step: OperationStep::Stop,
                failure,
                needs_start: true,
            },
        }
    }))
    .await
}

/// Starts, in parallel, every member the orchestrator stopped or tried to stop; says per
/// member whether it runs afterwards.
pub(crate) async fn start_all<M: Management>(
    mgmt: &M,
    op: &Operation,
    members: &[Member],
    stops: &[Stop],
) -> Vec<bool> {
    join_all(members.iter().zip(stops).map(|(m, stop)| async move {
        let needs_start = match stop {
            Stop::Done(Stopped::ByUs) => true,
            Stop::Done(Stopped::WasNotRunning) => false,
            Stop::Done(Stopped::NotAsked) => return true,
            Stop::Failed { needs_start, .. } => *needs_start,
        };
        if !needs_start {
            // Not running before (or its status call failed and nothing was sent to it).
            return !matches!(stop, Stop::Done(Stopped::WasNotRunning));
        }
        op.run_member(
            mgmt,
            &m.name,
            OperationStep::Start,
            mgmt.start_canister(m.canister),
        )
        .await
        .is_ok()
    }))
    .await
}

/// The members the flow stopped (or tried to) that did not start again. A member found
/// stopped is left stopped on purpose and is not counted.
pub(crate) fn not_restarted<'a>(
    members: &'a [Member],
    stops: &[Stop],
    running: &[bool],
) -> Vec<&'a str> {
    members
        .iter()
        .zip(stops.iter().zip(running))
        .filter(|(_, (stop, running))| {
            let we_stopped = matches!(
                stop,
                Stop::Done(Stopped::ByUs)
                    | Stop::Failed {
                        needs_start: true,
                        ..
                    }
            );
            we_stopped && !**running
        })
        .map(|(m, _)| m.name.as_str())
        .collect()
}

/// Takes every member's snapshot at once, each recorded (with `label` and `trigger`) as soon as
/// it exists, so that a failure later in the flow can find and delete it.
pub(crate) async fn take_all<M: Management>(
    mgmt: &M,
    op: &Operation,
    members: &[Member],
    label: Option<String>,
    trigger: Trigger,
) -> Vec<Option<Result<IcSnapshot, CallFailure>>> {
    join_all(members.iter().map(|m| async {
        let taken = op
            .run_member(
                mgmt,
                &m.name,
                OperationStep::TakeSnapshot,
                mgmt.take_snapshot(m.canister, None),
            )
            .await;
        if let Ok(snapshot) = &taken {
            snapshots::record_taken(&m.name, snapshot, None, label.clone(), trigger, false);
        }
        Some(taken)
    }))
    .await
}

/// Deletes a snapshot this flow took and forgets its record; `Err` says what is left behind.
pub(crate) async fn undo_take<M: Management>(
    mgmt: &M,
    op: &Operation,
    m: &Member,
    id: &[u8],
) -> Result<(), String> {
    match op
        .run_member(
            mgmt,
            &m.name,
            OperationStep::DeleteSnapshot,
            mgmt.delete_snapshot(m.canister, id.to_vec()),
        )
        .await
    {
        Ok(()) => {
            snapshot_meta::forget(&m.name, id);
            Ok(())
        }
        Err(failure) => Err(format!(
            "its snapshot {} is left on the module: {failure}",
            hex::encode(id)
        )),
    }
}

pub(crate) fn check_timeout(timeout: Option<u32>) -> Result<u32, GroupError> {
    let timeout = timeout.unwrap_or(DEFAULT_STOP_TIMEOUT_SECONDS);
    if !(1..=MAX_STOP_TIMEOUT_SECONDS).contains(&timeout) {
        return Err(GroupError::InvalidArgument {
            reason: format!(
                "stop_timeout_seconds must be 1 to {MAX_STOP_TIMEOUT_SECONDS}; got {timeout}"
            ),
        });
    }
    Ok(timeout)
}

/// Plans the slots of a group snapshot (step 3 of `take`, shared with the group upgrade). The
/// new snapshots are taken *next to* the old ones (never with `replace_snapshot`), so a failed
/// group snapshot loses nothing; only once every member is taken, a member over its
/// `max_snapshots` loses the snapshot planned here (what a manual take would have replaced).
/// So each member needs one slot under the IC's 10, and, at its limit, a snapshot to give up.
pub(crate) async fn plan_slots<M: Management>(
    mgmt: &M,
    op: &Operation,
    group: &str,
    members: &[Member],
    trigger: Trigger,
) -> Result<Vec<Option<Vec<u8>>>, GroupError> {
    let held = list_all(mgmt, op, members).await?;
    let mut to_replace: Vec<Option<Vec<u8>>> = Vec::with_capacity(members.len());
    for (m, held) in members.iter().zip(&held) {
        let full = |max: u8, advice: String| GroupError::SlotsFull {
            module: m.name.clone(),
            held: held.len() as u32,
            max,
            advice,
        };
        if held.len() >= usize::from(IC_MAX_SNAPSHOTS_PER_CANISTER) {
            return Err(full(
                IC_MAX_SNAPSHOTS_PER_CANISTER,
                "a group snapshot takes the new snapshot before it drops an old one; delete one"
                    .into(),
            ));
        }
        if held.len() < usize::from(m.max_snapshots) {
            to_replace.push(None);
            continue;
        }
        match replaceable(group, &m.name, held, trigger) {
            Ok(id) => to_replace.push(Some(id)),
            Err(why) => {
                return Err(full(
                    m.max_snapshots,
                    format!("{why}; unpin or delete one, or raise max_snapshots"),
                ));
            }
        }
    }
    Ok(to_replace)
}

/// The snapshot a member at its limit gives up. A scheduled group snapshot replaces the
/// oldest snapshot that is not pinned, not kept for the latest upgrade, not taken outside the
/// orchestrator and not part of *another* group's complete group snapshot: so a group
/// schedule at the limit replaces its own oldest group snapshot (which is then forgotten), and
/// never breaks one that is pinned or belongs to another group. Other triggers follow the
/// single take's rule (`snapshots::replaceable`).
fn replaceable(
    group: &str,
    module: &str,
    held: &[IcSnapshot],
    trigger: Trigger,
) -> Result<Vec<u8>, String> {
    if trigger != Trigger::Schedule {
        return snapshots::replaceable(module, held, trigger);
    }
    let candidates: Vec<IcSnapshot> = held
        .iter()
        .filter(|h| {
            let info = views::snapshot(module, h);
            !info.pinned
                && !info.kept_for_upgrade
                && !info.external
                && !groups::holds_member_snapshot_outside(module, &h.id, group)
        })
        .cloned()
        .collect();
    snapshots::oldest(&candidates)
        .map(|s| s.id.clone())
        .ok_or_else(|| {
            "each is pinned, kept for the latest upgrade, taken outside the orchestrator, or \
             part of another group's snapshot"
                .into()
        })
}

/// Records the cut as a group snapshot (complete, or partial with the members missing).
#[allow(clippy::too_many_arguments)]
pub(crate) fn record_cut(
    op: &Operation,
    group: &str,
    label: Option<String>,
    trigger: Trigger,
    members: &[Member],
    takes: &[Option<Result<IcSnapshot, CallFailure>>],
    window: (u64, u64),
) -> GroupSnapshotInfo {
    let complete = takes.iter().all(|t| matches!(t, Some(Ok(_))));
    let missing: Vec<String> = members
        .iter()
        .zip(takes)
        .filter(|(_, t)| !matches!(t, Some(Ok(_))))
        .map(|(m, _)| m.name.clone())
        .collect();
    let snapshot = GroupSnapshotInfo {
        id: op.id(),
        group: group.to_string(),
        label,
        trigger,
        status: if complete {
            GroupSnapshotStatus::Complete
        } else {
            GroupSnapshotStatus::Partial { missing }
        },
        members: members
            .iter()
            .zip(takes)
            .map(|(m, t)| GroupMemberSnapshot {
                module: m.name.clone(),
                canister_id: m.canister,
                snapshot_id: match t {
                    Some(Ok(s)) => Some(s.id.clone().into()),
                    _ => None,
                },
            })
            .collect(),
        window_start: window.0,
        window_end: window.1,
        pinned: Some(false),
    };
    groups::record_snapshot(snapshot.clone());
    snapshot
}

/// Once the cut is recorded, drops what the new snapshots replace (planned by `plan_slots`). A
/// group snapshot that loses a member this way is no longer restorable as a unit and is
/// forgotten.
pub(crate) async fn drop_replaced<M: Management>(
    mgmt: &M,
    op: &Operation,
    members: &[Member],
    takes: &[Option<Result<IcSnapshot, CallFailure>>],
    to_replace: &[Option<Vec<u8>>],
) {
    for ((m, take), replaced) in members.iter().zip(takes).zip(to_replace) {
        if let (Some(Ok(_)), Some(id)) = (take, replaced)
            && let Err(reason) = undo_take(mgmt, op, m, id).await
        {
            op.skip_member_step(&m.name, OperationStep::DeleteSnapshot, &reason, mgmt.now());
        }
        if let Some(id) = replaced {
            groups::forget_snapshots_with(&m.name, id);
        }
    }
}

/// A failed cut: deletes what this run took (the members already run again) and says per
/// member what happened.
pub(crate) async fn undo_cut<M: Management>(
    mgmt: &M,
    op: &Operation,
    members: &[Member],
    stops: &[Stop],
    takes: &[Option<Result<IcSnapshot, CallFailure>>],
    running: &[bool],
) -> Vec<GroupMemberReport> {
    let mut reports = Vec::with_capacity(members.len());
    for ((m, stop), (take, running)) in members.iter().zip(stops).zip(takes.iter().zip(running)) {
        let outcome = match (stop.failed(), take) {
            (Some((step, reason)), _) => GroupMemberOutcome::Failed { step, reason },
            (None, Some(Err(failure))) => GroupMemberOutcome::Failed {
                step: OperationStep::TakeSnapshot,
                reason: failure.to_string(),
            },
            (None, Some(Ok(snapshot))) => match undo_take(mgmt, op, m, &snapshot.id).await {
                Ok(()) => GroupMemberOutcome::Undone,
                Err(reason) => GroupMemberOutcome::UndoFailed { reason },
            },
            (None, None) => GroupMemberOutcome::Untouched,
        };
        reports.push(GroupMemberReport {
            module: m.name.clone(),
            outcome,
            running: *running,
        });
    }
    reports
}

/// lock all → list all (a free slot each) → stop all (parallel, bounded) → take all → start
/// all, always → record one group snapshot, or delete what this run took.
pub async fn take<M: Management>(
    mgmt: &M,
    caller: Principal,
    group: &str,
    args: GroupSnapshotArgs,
    trigger: Trigger,
) -> Result<GroupSnapshotInfo, GroupError> {
    // 1. Validate.
    if let Some(label) = &args.label {
        validate_label(label).map_err(|reason| GroupError::InvalidArgument { reason })?;
    }
    let timeout = check_timeout(args.stop_timeout_seconds)?;
    let info = groups::get(group)?;

    // 2. Lock every member, or refuse before touching any.
    let (members, locks) = lock_members(&info.modules, OperationKind::GroupSnapshot, mgmt.now())?;
    let op = Operation::begin(
        group,
        OperationKind::GroupSnapshot,
        caller,
        trigger,
        mgmt.now(),
    );
    for lock in &locks {
        lock.set_operation_id(op.id());
    }

    // 3. Plan the slots (`plan_slots`): refused before anything is touched.
    let to_replace = match plan_slots(mgmt, &op, group, &members, trigger).await {
        Ok(planned) => planned,
        Err(error) => return Err(op.close_refused(error, mgmt.now())),
    };

    // 4. Stop every member at once; each stop waits for the member's open calls, within
    //    `timeout`.
    let window_start = mgmt.now();
    let stops = stop_all(mgmt, &op, &members, timeout).await;
    let all_stopped = stops.iter().all(|s| s.failed().is_none());

    // 5. Take every member's snapshot (only when all are stopped: otherwise it would not be a
    //    consistent cut). Each is recorded as soon as it exists.
    let takes = if all_stopped {
        take_all(mgmt, &op, &members, args.label.clone(), trigger).await
    } else {
        members.iter().map(|_| None).collect()
    };

    // 6. Start every member we stopped, always.
    let running = start_all(mgmt, &op, &members, &stops).await;
    let window_end = mgmt.now();

    // 7. All or nothing.
    let complete = takes.iter().all(|t| matches!(t, Some(Ok(_))));
    let any_taken = takes.iter().any(|t| matches!(t, Some(Ok(_))));
    let keep = !complete && any_taken && args.keep_partial.unwrap_or(false);
    if complete || keep {
        let snapshot = record_cut(
            &op,
            group,
            args.label,
            trigger,
            &members,
            &takes,
            (window_start, window_end),
        );
        // Every member is taken: now drop what the new snapshots replace.
        drop_replaced(mgmt, &op, &members, &takes, &to_replace).await;
        let not_running = not_restarted(&members, &stops, &running);
        if complete && not_running.is_empty() {
            op.close_completed(mgmt.now());
        } else if complete {
            op.close_failed(
                format!("taken, but not running afterwards: {not_running:?}"),
                mgmt.now(),
            );
        } else {
            let GroupSnapshotStatus::Partial { missing } = &snapshot.status else {
                unreachable!("not complete")
            };
            op.close_failed(
                format!("partial (kept as asked): missing {missing:?}"),
                mgmt.now(),
            );
        }
        return Ok(snapshot);
    }

    // 8. Failed: delete what this run took (the modules run again already).
    let reports = undo_cut(mgmt, &op, &members, &stops, &takes, &running).await;
    let reason = summary("group snapshot", &reports);
    let operation_id = op.id();
    op.close_failed(reason.clone(), mgmt.now());
    Err(GroupError::OperationFailed {
        operation_id,
        reason,
        members: reports,
    })
}

/// "<what> failed: a (stop: …); b not running" from the member reports.
pub(crate) fn summary(what: &str, reports: &[GroupMemberReport]) -> String {
    let mut parts = Vec::new();
    for r in reports {
        match &r.outcome {
            GroupMemberOutcome::Failed { step, reason } => {
                parts.push(format!("{} ({step}: {reason})", r.module))
            }
            GroupMemberOutcome::UndoFailed { reason } => {
                parts.push(format!("{} could not be undone ({reason})", r.module))
            }
            _ => {}
        }
        if !r.running {
            parts.push(format!("{} is not running", r.module));
        }
    }
    format!("{what} failed: {}", parts.join("; "))
}

/// lock all → list all (each member's snapshot must exist, and a slot for a safety snapshot)
/// → stop all → take a safety snapshot of each → load each member's snapshot → on any failed
/// load, load the safety snapshot back into the members already loaded → start all, always →
/// delete the safety snapshots (kept only where a rollback failed).
pub async fn restore<M: Management>(
    mgmt: &M,
    caller: Principal,
    group: &str,
    id: Option<u64>,
    stop_timeout_seconds: Option<u32>,
) -> Result<GroupRestoreReport, GroupError> {
    // 1. Validate: the group snapshot, complete.
    let timeout = check_timeout(stop_timeout_seconds)?;
    groups::get(group)?;
    let target = groups::find_snapshot(group, id)?;
    if let GroupSnapshotStatus::Partial { missing } = &target.status {
        return Err(GroupError::Partial {
            id: target.id,
            missing: missing.clone(),
        });
    }
    // The members are those of the group snapshot (the group may have changed since).
    let names: Vec<String> = target.members.iter().map(|m| m.module.clone()).collect();
    let wanted: Vec<Vec<u8>> = target
        .members
        .iter()
        .map(|m| {
            m.snapshot_id
                .clone()
                .map(|id| id.into_vec())
                .unwrap_or_default()
        })
        .collect();

    // 2. Lock every member, or refuse before touching any.
    let (members, locks) = lock_members(&names, OperationKind::GroupRestore, mgmt.now())?;
    let op = Operation::begin(
        group,
        OperationKind::GroupRestore,
        caller,
        Trigger::Manual,
        mgmt.now(),
    );
    for lock in &locks {
        lock.set_operation_id(op.id());
    }

    // 3. Each member's snapshot must still exist, and each member needs one free slot under
    //    the IC's limit for the safety snapshot (temporary: it may exceed max_snapshots).
    let held = match list_all(mgmt, &op, &members).await {
        Ok(held) => held,
        Err(error) => return Err(op.close_refused(error, mgmt.now())),
    };
    for ((m, held), id) in members.iter().zip(&held).zip(&wanted) {
        if !held.iter().any(|s| s.id == *id) {
            let error = GroupError::MemberSnapshotGone {
                id: target.id,
                module: m.name.clone(),
            };
            return Err(op.close_refused(error, mgmt.now()));
        }
        if held.len() >= usize::from(IC_MAX_SNAPSHOTS_PER_CANISTER) {
            let error = GroupError::SlotsFull {
                module: m.name.clone(),
                held: held.len() as u32,
                max: IC_MAX_SNAPSHOTS_PER_CANISTER,
                advice: "a group restore first takes a safety snapshot of each member (deleted \
                         afterwards); delete one of its snapshots"
                    .into(),
            };
            return Err(op.close_refused(error, mgmt.now()));
        }
    }

    // 4. Stop every member at once, within `timeout`.
    let stops = stop_all(mgmt, &op, &members, timeout).await;
    let all_stopped = stops.iter().all(|s| s.failed().is_none());

    // 5. Safety snapshots, so that a failed load can be rolled back.
    let safety = if all_stopped {
        // Recorded (labelled) in case it has to be kept after a failed rollback.
        let label = format!("before group restore {}", op.id());
        take_all(mgmt, &op, &members, Some(label), Trigger::Manual).await
    } else {
        members.iter().map(|_| None).collect()
    };
    let safe = safety.iter().all(|s| matches!(s, Some(Ok(_))));

    // 6. Load each member's snapshot of the group snapshot.
    let loads: Vec<Option<Result<(), CallFailure>>> = if safe {
        join_all(members.iter().zip(&wanted).map(|(m, id)| async {
            Some(
                op.run_member(
                    mgmt,
                    &m.name,
                    OperationStep::LoadSnapshot,
                    mgmt.load_snapshot(m.canister, id.clone()),
                )
                .await,
            )
        }))
        .await
    } else {
        members.iter().map(|_| None).collect()
    };
    let restored = loads.iter().all(|l| matches!(l, Some(Ok(()))));

    // 7. A load failed: roll the members already loaded back to their safety snapshot.
    let rollbacks: Vec<Option<Result<(), CallFailure>>> =
        if safe && !restored {
            let op = &op;
            join_all(members.iter().zip(&loads).zip(&safety).map(
                |((m, load), safety)| async move {
                    match (load, safety) {
                        (Some(Ok(())), Some(Ok(safety))) => Some(
                            op.run_member(
                                mgmt,
                                &m.name,
                                OperationStep::RollbackLoad,
                                mgmt.load_snapshot(m.canister, safety.id.clone()),
                            )
                            .await,
                        ),
                        _ => None,
                    }
                },
            ))
            .await
        } else {
            members.iter().map(|_| None).collect()
        };

    // 8. Start every member we stopped, always.
    let running = start_all(mgmt, &op, &members, &stops).await;

    // 9. Delete the safety snapshots, except where a rollback failed (the member still needs
    //    it: it holds the state from before the restore).
    let mut reports = Vec::with_capacity(members.len());
    for (i, m) in members.iter().enumerate() {
        let rollback_failed = matches!(&rollbacks[i], Some(Err(_)));
        let mut kept_safety = None;
        if let Some(Ok(snapshot)) = &safety[i] {
            if rollback_failed {
                kept_safety = Some(hex::encode(&snapshot.id));
            } else if let Err(reason) = undo_take(mgmt, &op, m, &snapshot.id).await {
                // Harmless: a spare snapshot of the state before the restore.
                op.skip_member_step(&m.name, OperationStep::DeleteSnapshot, &reason, mgmt.now());
            }
        }
        let outcome = if let Some((step, reason)) = stops[i].failed() {
            GroupMemberOutcome::Failed { step, reason }
        } else if let Some(Err(failure)) = &safety[i] {
            GroupMemberOutcome::Failed {
                step: OperationStep::TakeSnapshot,
                reason: format!("safety snapshot: {failure}"),
            }
        } else {
            match (&loads[i], &rollbacks[i]) {
                (Some(Ok(())), None) => GroupMemberOutcome::Done,
                (Some(Ok(())), Some(Ok(()))) => GroupMemberOutcome::Undone,
                (Some(Ok(())), Some(Err(failure))) => GroupMemberOutcome::UndoFailed {
                    reason: format!(
                        "rollback failed ({failure}); it holds the group snapshot's state, and \
                         its state from before the restore is in snapshot {}",
                        kept_safety.unwrap_or_default()
                    ),
                },
                (Some(Err(failure)), _) => GroupMemberOutcome::Failed {
                    step: OperationStep::LoadSnapshot,
                    reason: failure.to_string(),
                },
                (None, _) => GroupMemberOutcome::Untouched,
            }
        };
        reports.push(GroupMemberReport {
            module: m.name.clone(),
            outcome,
            running: running[i],
        });
    }

    // 10. Report.
    let operation_id = op.id();
    if restored && not_restarted(&members, &stops, &running).is_empty() {
        op.close_completed(mgmt.now());
    } else {
        op.close_failed(summary("group restore", &reports), mgmt.now());
    }
    Ok(GroupRestoreReport {
        operation_id,
        group_snapshot_id: target.id,
        restored,
        members: reports,
    })
}

/// Pins (`pin`) or unpins a group snapshot: every member's snapshot at once, so that
/// retention, scheduled snapshots and full slots keep the whole cut. Pinning needs every
/// member's snapshot still on the IC (`MemberSnapshotGone` otherwise, nothing pinned);
/// unpinning unpins what is left.
pub async fn set_pinned<M: Management>(
    mgmt: &M,
    group: &str,
    id: u64,
    pin: bool,
) -> Result<GroupSnapshotInfo, GroupError> {
    groups::get(group)?;
    let target = groups::find_snapshot(group, Some(id))?;
    let listed = join_all(
        target
            .members
            .iter()
            .map(|m| async move { (m, snapshots::list_reconciled(mgmt, &m.module).await) }),
    )
    .await;
    let mut targets = Vec::new();
    for (m, held) in listed {
        let Some(wanted) = &m.snapshot_id else {
            continue; // missing from a partial group snapshot
        };
        let held = held.map_err(|e| match e {
            SnapshotError::CallFailed(failure) => GroupError::PreflightFailed {
                module: m.module.clone(),
                failure,
            },
            SnapshotError::ModuleNotFound { name } => GroupError::ModuleNotFound { name },
            other => GroupError::InvalidArgument {
                reason: other.to_string(),
            },
        })?;
        if held.iter().any(|s| s.id == *wanted) {
            targets.push((m.module.clone(), wanted.to_vec()));
        } else if pin {
            return Err(GroupError::MemberSnapshotGone {
                id,
                module: m.module.clone(),
            });
        }
    }
    snapshots::set_pins(&targets, pin).map_err(|e| match e {
        SnapshotError::Busy { module, operation } => GroupError::Busy { module, operation },
        other => GroupError::InvalidArgument {
            reason: other.to_string(),
        },
    })?;
    groups::find_snapshot(group, Some(id))
}
