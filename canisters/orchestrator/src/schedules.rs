//! Scheduled snapshots and retention.
//!
//! Each module may have one schedule (an interval or a 5-field UTC cron expression) kept in
//! stable memory with its next run time. The canister's timer (`crate::timer`) wakes at the
//! earliest due time and calls [`claim_due`] then [`run`] for each due module. Claiming moves
//! `next_run_at` to the first occurrence *after now*, so however many occurrences were missed
//! (orchestrator stopped, frozen, upgraded) a module gets one run, never a burst.
//!
//! A run takes a snapshot through the same flow as a manual one (lock, stop if configured,
//! take, always restart) with trigger `schedule`, then applies the retention rule, each
//! deletion being its own operation in the history (trigger `retention`). A module busy with
//! another operation is not skipped silently: the run is recorded as skipped with the time
//! of its retry, [`BUSY_RETRY_SECONDS`] later.

use std::str::FromStr;

use chrono::{TimeZone, Utc};
use orchestrator_api::{
    BUSY_RETRY_SECONDS, Cadence, IC_MAX_SNAPSHOTS_PER_CANISTER, MAX_INTERVAL_MINUTES,
    MIN_INTERVAL_MINUTES, OperationKind, Retention, ScheduleArgs, ScheduleError, ScheduleInfo,
    SnapshotError, TakeSnapshotArgs, Trigger,
};

use crate::history::Operation;
use crate::mgmt::Management;
use crate::store::ScheduleRecord;
use crate::store::schedules::{MODULES as SCHEDULES, Schedules};
use crate::{groups, registry, snapshots, views};

pub const NANOS_PER_SECOND: u64 = 1_000_000_000;
const NANOS_PER_MINUTE: u64 = 60 * NANOS_PER_SECOND;

/// Longest `max_age_seconds` accepted: ten years.
const MAX_AGE_SECONDS: u64 = 10 * 366 * 24 * 60 * 60;

/// A parsed cron expression, or why it is refused.
fn parse_cron(expression: &str) -> Result<croner::Cron, String> {
    // croner also takes 6- and 7-field expressions (with seconds and years); the schedule
    // language is the classic 5-field one.
    let fields = expression.split_whitespace().count();
    if fields != 5 {
        return Err(format!(
            "a cron expression has 5 fields (minute hour day-of-month month day-of-week, in UTC), \
             e.g. \"30 2 * * *\" for 02:30 every day; {expression:?} has {fields}"
        ));
    }
    croner::Cron::from_str(expression)
        .map_err(|e| format!("{expression:?} is not a valid cron expression: {e}"))
}

/// The first time after `now` (nanoseconds) at which the cadence fires, or why it never does.
/// Intervals count from `set_at`; cron expressions are evaluated in UTC at minute precision.
pub fn next_after(cadence: &Cadence, set_at: u64, now: u64) -> Result<u64, String> {
    match cadence {
        Cadence::EveryMinutes(minutes) => {
            let period = u64::from(*minutes) * NANOS_PER_MINUTE;
            if now < set_at {
                return Ok(set_at + period);
            }
            let elapsed_periods = (now - set_at) / period;
            Ok(set_at + (elapsed_periods + 1) * period)
        }
        Cadence::Cron(expression) => {
            let cron = parse_cron(expression)?;
            let seconds = i64::try_from(now / NANOS_PER_SECOND).map_err(|e| e.to_string())?;
            let from = Utc
                .timestamp_opt(seconds, 0)
                .single()
                .ok_or("the current time is out of range")?;
            let next = cron
                .find_next_occurrence(&from, false)
                .map_err(|_| format!("{expression:?} never fires (e.g. the 30th of February)"))?;
            u64::try_from(next.timestamp())
                .map(|s| s * NANOS_PER_SECOND)
                .map_err(|e| e.to_string())
        }
    }
}

/// Occurrences of a cron expression checked for the minimum spacing: more than a day of
/// minute-level patterns (a 5-field expression repeats at least yearly, and every pattern that
/// fires more often than every 15 minutes does so within its first occurrences).
const CRON_SPACING_SAMPLES: usize = 100;

/// Why a cadence is refused: intervals out of range, and cron expressions that are invalid,
/// never fire, or fire twice within [`MIN_INTERVAL_MINUTES`].
pub fn validate_cadence(cadence: &Cadence, now: u64) -> Result<(), String> {
    match cadence {
        Cadence::EveryMinutes(minutes) => {
            if !(MIN_INTERVAL_MINUTES..=MAX_INTERVAL_MINUTES).contains(minutes) {
                return Err(format!(
                    "an interval is {MIN_INTERVAL_MINUTES} minutes to one year ({MAX_INTERVAL_MINUTES} minutes); got {minutes}"
                ));
            }
            Ok(())
        }
        Cadence::Cron(expression) => {
            let min_gap = u64::from(MIN_INTERVAL_MINUTES) * NANOS_PER_MINUTE;
            let mut previous = next_after(cadence, now, now)?;
            for _ in 0..CRON_SPACING_SAMPLES {
                let Ok(next) = next_after(cadence, now, previous) else {
                    break; // no later occurrence to compare with
                };
                if next - previous < min_gap {
                    return Err(format!(
                        "{expression:?} fires {} minute(s) apart; scheduled snapshots must be at least \
                         {MIN_INTERVAL_MINUTES} minutes apart (e.g. \"*/15 * * * *\")",
                        (next - previous) / NANOS_PER_MINUTE
                    ));
                }
                previous = next;
            }
            Ok(())
        }
    }
}

/// Why a retention rule is refused for a module allowed `max_snapshots`.
pub fn validate_retention(retention: &Retention, max_snapshots: u8) -> Result<(), String> {
    if let Some(keep) = retention.keep
        && !(1..=max_snapshots).contains(&keep)
    {
        return Err(format!(
            "keep must be 1 to the module's max_snapshots ({max_snapshots}; the IC allows up to \
             {IC_MAX_SNAPSHOTS_PER_CANISTER}: raise it with `keepsake module set --max-snapshots`); got {keep}"
        ));
    }
    if let Some(age) = retention.max_age_seconds
        && !(60..=MAX_AGE_SECONDS).contains(&age)
    {
        return Err(format!(
            "max_age must be one minute to ten years; got {age} seconds"
        ));
    }
    Ok(())
}

/// The schedule of module `name`.
pub fn get(name: &str) -> Option<ScheduleRecord> {
    SCHEDULES.get(name)
}

/// Sets (or replaces) a module's schedule; its first run is the cadence's next occurrence.
pub fn set(name: &str, args: ScheduleArgs, now: u64) -> Result<ScheduleInfo, ScheduleError> {
    let module = registry::get(name).ok_or_else(|| ScheduleError::ModuleNotFound {
        name: name.to_string(),
    })?;
    validate_cadence(&args.cadence, now)
        .map_err(|reason| ScheduleError::InvalidCadence { reason })?;
    validate_retention(&args.retention, module.settings.max_snapshots)
        .map_err(|reason| ScheduleError::InvalidRetention { reason })?;
    let previous = get(name);
    let record = ScheduleRecord {
        next_run_at: next_after(&args.cadence, now, now).expect("validated above"),
        cadence: args.cadence,
        retention: args.retention,
        set_at: now,
        retry_at: None,
        last_run_at: previous.as_ref().and_then(|p| p.last_run_at),
        last_operation_id: previous.and_then(|p| p.last_operation_id),
    };
    SCHEDULES.put(name, record.clone());
    Ok(views::schedule(name.to_string(), record))
}

/// Removes a module's schedule.
pub fn clear(name: &str) -> Result<(), ScheduleError> {
    if registry::get(name).is_none() {
        return Err(ScheduleError::ModuleNotFound {
            name: name.to_string(),
        });
    }
    SCHEDULES
        .remove(name)
        .map(|_| ())
        .ok_or_else(|| ScheduleError::NoSchedule {
            module: name.to_string(),
        })
}

/// Every schedule (or one module's), by module name.
pub fn list(module: Option<&str>) -> Result<Vec<ScheduleInfo>, ScheduleError> {
    if let Some(name) = module
        && registry::get(name).is_none()
    {
        return Err(ScheduleError::ModuleNotFound {
            name: name.to_string(),
        });
    }
    Ok(SCHEDULES
        .list()
        .into_iter()
        .filter(|(name, _)| module.is_none_or(|m| m == name))
        .map(|(name, record)| views::schedule(name, record))
        .collect())
}

/// When the scheduler must wake up next, if any schedule exists.
pub fn next_wakeup() -> Option<u64> {
    SCHEDULES.earliest_due()
}

/// The modules whose run is due at `now`, marked as started: a due regular run moves
/// `next_run_at` past `now` (missed occurrences collapse into this one run) and a due retry
/// is cleared. Synchronous, so a second timer firing meanwhile cannot claim them again.
pub fn claim_due(now: u64) -> Vec<String> {
    SCHEDULES.claim_due(now, |record| claim(record, now))
}

/// Marks a due schedule as started at `now`: a due regular run moves `next_run_at` past `now`,
/// a due retry is cleared.
pub fn claim(record: &mut ScheduleRecord, now: u64) {
    if record.next_run_at <= now {
        // A cadence valid when set stays valid: on error, fall back to retrying later.
        record.next_run_at = next_after(&record.cadence, record.set_at, now)
            .unwrap_or(now + BUSY_RETRY_SECONDS * NANOS_PER_SECOND);
    }
    record.retry_at = None;
    record.last_run_at = Some(now);
}

/// One scheduled run of module `name` (claimed by [`claim_due`]): snapshot, then retention.
pub async fn run<M: Management>(mgmt: &M, name: &str) {
    let Some(schedule) = get(name) else {
        return; // cleared meanwhile
    };
    // 1. Snapshot, through the ordinary take flow (trigger `schedule`).
    let taken = snapshots::take(
        mgmt,
        mgmt.self_id(),
        name,
        TakeSnapshotArgs::default(),
        Trigger::Schedule,
    )
    .await;
    // 2. A busy module defers the run; otherwise the take's own record (skipped, failed or
    //    completed) is the module's newest.
    if let Err(SnapshotError::Busy { operation, .. }) = &taken {
        let reason = format!(
            "the module is busy with {operation}; the scheduled snapshot is retried in \
             {BUSY_RETRY_SECONDS} s"
        );
        defer_busy(mgmt, &SCHEDULES, name, OperationKind::TakeSnapshot, reason);
        return; // retention waits for the retry: the module is busy
    }
    let last_operation_id = crate::history::latest_of(name);
    SCHEDULES.update(name, |r| r.last_operation_id = last_operation_id);
    // 3. Retention, sparing what was just taken.
    let just_taken = taken.ok().map(|info| info.id.into_vec());
    apply_retention(mgmt, name, &schedule.retention, just_taken.as_deref()).await;
}

/// A scheduled run of `name` (a module, or a group in `schedules`) that found it busy: recorded
/// as an operation of `kind` skipped for `reason`, and retried in [`BUSY_RETRY_SECONDS`].
pub fn defer_busy<M: Management>(
    mgmt: &M,
    schedules: &Schedules,
    name: &str,
    kind: OperationKind,
    reason: String,
) {
    let now = mgmt.now();
    let op = Operation::begin(name, kind, mgmt.self_id(), Trigger::Schedule, now);
    let id = op.id();
    op.close_skipped(reason, now);
    let retry_at = now + BUSY_RETRY_SECONDS * NANOS_PER_SECOND;
    schedules.update(name, |r| {
        r.retry_at = Some(retry_at);
        r.last_operation_id = Some(id);
    });
}

/// Deletes what the retention rule no longer keeps: snapshots older than `max_age_seconds`,
/// and the oldest while the module holds more than `keep`. Never a pinned snapshot, the one
/// kept for the latest upgrade, one taken outside the orchestrator, a member of a complete
/// group snapshot, or `just_taken`.
pub async fn apply_retention<M: Management>(
    mgmt: &M,
    name: &str,
    retention: &Retention,
    just_taken: Option<&[u8]>,
) {
    let Some(module) = registry::get(name) else {
        return;
    };
    // `list_reconciled` returns the snapshots oldest first.
    let Ok(held) = snapshots::list_reconciled(mgmt, name).await else {
        return; // the next run tries again
    };
    let now = mgmt.now();
    let keep = usize::from(
        retention
            .keep
            .unwrap_or(module.settings.max_snapshots)
            .min(module.settings.max_snapshots),
    );
    let mut excess = held.len().saturating_sub(keep);
    let mut victims = Vec::new();
    for snapshot in &held {
        let deletable = !snapshot.pinned
            && !snapshot.kept_for_upgrade
            && !snapshot.external
            && just_taken != Some(snapshot.id.as_slice())
            && !groups::holds_member_snapshot(name, &snapshot.id);
        if !deletable {
            continue;
        }
        let expired = retention
            .max_age_seconds
            .is_some_and(|age| now.saturating_sub(snapshot.taken_at) > age * NANOS_PER_SECOND);
        if excess > 0 || expired {
            victims.push(snapshot.id.clone().into_vec());
            excess = excess.saturating_sub(1);
        }
    }
    for id in victims {
        let deleted =
            snapshots::delete(mgmt, mgmt.self_id(), name, Some(id), Trigger::Retention).await;
        if matches!(deleted, Err(SnapshotError::Busy { .. })) {
            return; // another operation started; the next run finishes the job
        }
    }
}
