//! Scheduled snapshots, retention, pins, fleet snapshots and the storage cost shown per module.

use candid::CandidType;
use serde::{Deserialize, Serialize};

use crate::{SnapshotError, SnapshotId, SnapshotInfo};

/// Shortest interval a schedule may have, in minutes: a snapshot stops the module (when
/// `stop_for_snapshot` is on) and costs 2 B instructions plus one per byte on the IC.
pub const MIN_INTERVAL_MINUTES: u32 = 15;

/// Longest interval a schedule may have, in minutes (one year).
pub const MAX_INTERVAL_MINUTES: u32 = 366 * 24 * 60;

/// How long a scheduled snapshot of a busy module waits before it is tried again, in seconds.
pub const BUSY_RETRY_SECONDS: u64 = 60;

/// Snapshot storage price on a 13-node subnet: 127,000 cycles per GiB per second
/// (≈ 329 B cycles per GiB per 30-day month).
pub const STORAGE_CYCLES_PER_GIB_SECOND: u128 = 127_000;

/// The month the cost estimate uses: 30 days, in seconds.
pub const SECONDS_PER_MONTH: u128 = 30 * 24 * 60 * 60;

/// Largest fleet-snapshot concurrency.
pub const MAX_FLEET_CONCURRENCY: u8 = 10;

/// Fleet-snapshot concurrency when the caller gives none.
pub const DEFAULT_FLEET_CONCURRENCY: u8 = 4;

/// When a schedule fires.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub enum Cadence {
    /// Every N minutes (≥ 15), counted from when the schedule was set: `every 1d` set at
    /// 14:05 fires daily at 14:05 UTC. Hourly = 60, daily = 1440, weekly = 10080.
    #[serde(rename = "every_minutes")]
    EveryMinutes(u32),
    /// A 5-field cron expression (minute hour day-of-month month day-of-week) in UTC, e.g.
    /// `30 2 * * 1-5`. Day-of-month and day-of-week combine with OR, as in Vixie cron. Its
    /// occurrences must be at least 15 minutes apart.
    #[serde(rename = "cron")]
    Cron(String),
}

/// Which snapshots a module's schedule deletes after each run. Pinned snapshots, the snapshot
/// taken before the latest upgrade and snapshots taken outside the orchestrator are never
/// deleted automatically.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct Retention {
    /// Keep at most this many snapshots (1 ≤ keep ≤ max_snapshots); none = max_snapshots.
    pub keep: Option<u8>,
    /// Delete snapshots older than this many seconds; none = no age limit.
    pub max_age_seconds: Option<u64>,
}

/// Argument of `set_schedule`.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ScheduleArgs {
    /// When to take a snapshot.
    pub cadence: Cadence,
    /// What to delete after each scheduled snapshot.
    pub retention: Retention,
}

/// A module's schedule as `list_schedules` shows it.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ScheduleInfo {
    /// The module.
    pub module: String,
    /// When it fires.
    pub cadence: Cadence,
    /// What it deletes.
    pub retention: Retention,
    /// When the schedule was set (nanoseconds since the epoch).
    pub set_at: u64,
    /// The next regular run (nanoseconds since the epoch).
    pub next_run_at: u64,
    /// When a run deferred because the module was busy is tried again, if one is.
    pub retry_at: Option<u64>,
    /// When the last run started, if any has.
    pub last_run_at: Option<u64>,
    /// The history entry of the last run's snapshot (or of its skip).
    pub last_operation_id: Option<u64>,
}

/// Which snapshots `pin_snapshot` / `unpin_snapshot` act on.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub enum SnapshotSelector {
    /// The snapshot with this id.
    #[serde(rename = "id")]
    Id(SnapshotId),
    /// Every snapshot of the module carrying exactly this label.
    #[serde(rename = "label")]
    Label(String),
}

/// Argument of `take_all_snapshots` (a fleet or "full" snapshot).
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct FleetSnapshotArgs {
    /// A label for every snapshot taken.
    pub label: Option<String>,
    /// How many modules are snapshotted at once (1..=10, default 4).
    pub concurrency: Option<u8>,
    /// Pin every snapshot taken.
    pub pin: Option<bool>,
}

/// One module's outcome in a fleet snapshot.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct FleetSnapshotResult {
    /// The module.
    pub module: String,
    /// Its snapshot, or why it was not taken.
    pub result: Result<SnapshotInfo, SnapshotError>,
}

/// A module's snapshot storage, from `canister_status`.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct SnapshotStorage {
    /// Memory its snapshots use (`memory_metrics.snapshots_size`).
    pub bytes: u64,
    /// What that memory costs per 30-day month at the 13-node-subnet rate
    /// ([`STORAGE_CYCLES_PER_GIB_SECOND`]); larger subnets charge proportionally more.
    pub monthly_cost_cycles: u128,
}

/// The monthly storage cost of `bytes` of snapshot memory, in cycles (13-node subnet).
pub fn monthly_storage_cost(bytes: u64) -> u128 {
    u128::from(bytes) * STORAGE_CYCLES_PER_GIB_SECOND * SECONDS_PER_MONTH / (1u128 << 30)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gib_for_a_month_costs_about_329_billion_cycles() {
        let cost = monthly_storage_cost(1 << 30);
        assert_eq!(cost, 329_184_000_000);
        assert_eq!(monthly_storage_cost(0), 0);
        assert_eq!(monthly_storage_cost(1 << 29), cost / 2);
    }
}
