//! Group schedules: a schedule whose target is a group takes group snapshots (the consistent
//! cut of `group_flows::take`, trigger `schedule`) and applies a retention rule that counts
//! group snapshots as units. Its records are in `store::schedules::GROUPS`.
//!
//! Cadences, claiming and the one timer are the module schedules' (`schedules.rs`,
//! `timer.rs`); only the target differs. Retention deletes a group snapshot whole — every
//! member's snapshot, then its record — and never one that is pinned (any member pinned), kept
//! for a member's latest upgrade, or the one just taken. Module schedules and scheduled group
//! snapshots never delete or replace a member of a kept group snapshot (`groups.rs`,
//! `group_flows::plan_slots`).

use orchestrator_api::{
    BUSY_RETRY_SECONDS, GroupError, GroupScheduleInfo, GroupSnapshotArgs, GroupSnapshotInfo,
    GroupSnapshotStatus, OperationKind, Retention, ScheduleArgs, SnapshotError, Trigger,
};

use crate::mgmt::Management;
use crate::schedules::{self, NANOS_PER_SECOND};
use crate::store::ScheduleRecord;
use crate::store::schedules::GROUPS as GROUP_SCHEDULES;
use crate::{group_flows, groups, history, registry, snapshots, views};

fn get(group: &str) -> Option<ScheduleRecord> {
    GROUP_SCHEDULES.get(group)
}

/// Why a group's retention rule is refused. `keep` counts group snapshots, each of which holds
/// one snapshot of every member, so it is bounded by the smallest `max_snapshots` among them.
fn validate_retention(modules: &[String], retention: &Retention) -> Result<(), String> {
    let smallest = modules
        .iter()
        .filter_map(|m| registry::get(m))
        .map(|r| r.settings.max_snapshots)
        .min()
        .unwrap_or(1);
    if let Some(keep) = retention.keep
        && !(1..=smallest).contains(&keep)
    {
        return Err(format!(
            "keep counts group snapshots and must be 1 to the smallest max_snapshots of the \
             group's members ({smallest}; raise it with `keepsake module set <module> \
             --max-snapshots`); got {keep}"
        ));
    }
    schedules::validate_retention(
        &Retention {
            keep: None,
            max_age_seconds: retention.max_age_seconds,
        },
        smallest,
    )
}

/// Sets (or replaces) a group's schedule; its first run is the cadence's next occurrence.
pub fn set(group: &str, args: ScheduleArgs, now: u64) -> Result<GroupScheduleInfo, GroupError> {
    let members = groups::get(group)?.modules;
    schedules::validate_cadence(&args.cadence, now).map_err(|reason| {
        GroupError::InvalidArgument {
            reason: format!("invalid schedule: {reason}"),
        }
    })?;
    validate_retention(&members, &args.retention).map_err(|reason| {
        GroupError::InvalidArgument {
            reason: format!("invalid retention: {reason}"),
        }
    })?;
    let previous = get(group);
    let record = ScheduleRecord {
        next_run_at: schedules::next_after(&args.cadence, now, now).expect("validated above"),
        cadence: args.cadence,
        retention: args.retention,
        set_at: now,
        retry_at: None,
        last_run_at: previous.as_ref().and_then(|p| p.last_run_at),
        last_operation_id: previous.and_then(|p| p.last_operation_id),
    };
    GROUP_SCHEDULES.put(group, record.clone());
    Ok(views::group_schedule(group.to_string(), record))
}

/// Removes a group's schedule (its group snapshots stay).
pub fn clear(group: &str) -> Result<(), GroupError> {
    groups::get(group)?;
    GROUP_SCHEDULES
        .remove(group)
        .map(|_| ())
        .ok_or_else(|| GroupError::NoSchedule {
            group: group.to_string(),
        })
}

/// Every group schedule, by group name.
pub fn list() -> Vec<GroupScheduleInfo> {
    GROUP_SCHEDULES
        .list()
        .into_iter()
        .map(|(group, record)| views::group_schedule(group, record))
        .collect()
}

/// When the earliest group schedule is due, if any exists.
pub fn next_wakeup() -> Option<u64> {
    GROUP_SCHEDULES.earliest_due()
}

/// The groups whose run is due at `now`, marked as started (as `schedules::claim_due`).
pub fn claim_due(now: u64) -> Vec<String> {
    GROUP_SCHEDULES.claim_due(now, |record| schedules::claim(record, now))
}

/// One scheduled run of `group`: a group snapshot, then retention. A busy member defers the
/// run (recorded as skipped, retried in `BUSY_RETRY_SECONDS`).
pub async fn run<M: Management>(mgmt: &M, group: &str) {
    let Some(schedule) = get(group) else {
        return; // cleared meanwhile
    };
    let scheduler = mgmt.self_id();
    let taken = group_flows::take(
        mgmt,
        scheduler,
        group,
        GroupSnapshotArgs::default(),
        Trigger::Schedule,
    )
    .await;
    let last_operation_id = match &taken {
        Ok(snapshot) => Some(snapshot.id),
        Err(GroupError::Busy { module, operation }) => {
            let reason = format!(
                "member {module:?} is busy with {operation}; the scheduled group snapshot is \
                 retried in {BUSY_RETRY_SECONDS} s"
            );
            let kind = OperationKind::GroupSnapshot;
            schedules::defer_busy(mgmt, &GROUP_SCHEDULES, group, kind, reason);
            return; // retention waits for the retry
        }
        Err(GroupError::OperationFailed { operation_id, .. }) => Some(*operation_id),
        Err(_) => history::latest_of(group),
    };
    GROUP_SCHEDULES.update(group, |r| r.last_operation_id = last_operation_id);
    let just_taken = taken.ok().map(|g| g.id);
    apply_retention(mgmt, group, &schedule.retention, just_taken).await;
}

/// Deletes the complete group snapshots the rule no longer keeps — older than
/// `max_age_seconds`, then the oldest while more than `keep` are held — each as a unit.
pub async fn apply_retention<M: Management>(
    mgmt: &M,
    group: &str,
    retention: &Retention,
    just_taken: Option<u64>,
) {
    let now = mgmt.now();
    // Oldest first (ids grow with the history).
    let held: Vec<GroupSnapshotInfo> = groups::snapshots_of(group)
        .into_iter()
        .filter(|g| g.status == GroupSnapshotStatus::Complete)
        .collect();
    let keep = retention.keep.map_or(usize::MAX, usize::from);
    let mut excess = held.len().saturating_sub(keep);
    let mut victims = Vec::new();
    for g in held {
        let protected =
            g.pinned == Some(true) || just_taken == Some(g.id) || groups::any_member_protected(&g);
        if protected {
            continue;
        }
        let expired = retention.max_age_seconds.is_some_and(|age| {
            now.saturating_sub(g.window_start) > age.saturating_mul(NANOS_PER_SECOND)
        });
        if excess > 0 || expired {
            excess = excess.saturating_sub(1);
            victims.push(g);
        }
    }
    for g in victims {
        if !delete_unit(mgmt, &g).await {
            return; // a member is busy; the next run finishes the job
        }
    }
}

/// Deletes every member's snapshot of `g` (each a `delete_snapshot` operation with trigger
/// `retention`), then forgets `g`. False when a member was busy: what was deleted so far is
/// gone, so `g` is forgotten if anything was, and the rest waits for the next run.
async fn delete_unit<M: Management>(mgmt: &M, g: &GroupSnapshotInfo) -> bool {
    let mut gone = false;
    let mut busy = false;
    for m in &g.members {
        let Some(id) = &m.snapshot_id else {
            continue;
        };
        match snapshots::delete(
            mgmt,
            mgmt.self_id(),
            &m.module,
            Some(id.to_vec()),
            Trigger::Retention,
        )
        .await
        {
            Ok(_)
            | Err(SnapshotError::SnapshotNotFound { .. })
            | Err(SnapshotError::ModuleNotFound { .. }) => gone = true,
            Err(SnapshotError::Busy { .. }) => {
                busy = true;
                break;
            }
            // A failed call is in its own operation's record; the member's snapshot stays.
            Err(_) => {}
        }
    }
    if gone {
        groups::forget_snapshot(g.id);
    }
    !busy
}
