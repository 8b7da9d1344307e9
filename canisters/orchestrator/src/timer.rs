//! The scheduler's one timer (IC glue; the logic is in `crate::schedules` and
//! `crate::group_schedules`).
//!
//! A single ic-cdk timer is armed for the earliest due time of all schedules. It is re-armed
//! whenever a schedule changes, after every wake-up, and in `post_upgrade` — timers live in
//! the heap and the IC clears the global timer on upgrade, while the schedules (with their
//! next run times) live in stable memory.

use std::cell::Cell;
use std::time::Duration;

use futures_util::StreamExt;
use ic_cdk_timers::TimerId;

use crate::mgmt::{IcManagement, Management};
use crate::{group_schedules, schedules};

/// How many due modules (and groups) are snapshotted at once.
const RUN_CONCURRENCY: usize = 4;

thread_local! {
    static ARMED: Cell<Option<TimerId>> = const { Cell::new(None) };
}

/// What a wake-up runs: a module's schedule or a group's.
enum Due {
    Module(String),
    Group(String),
}

/// Arms the timer for the earliest due schedule, of a module or a group (or disarms it when
/// there is none).
pub fn arm() {
    let next = match (schedules::next_wakeup(), group_schedules::next_wakeup()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let Some(timer) = ARMED.take() {
        ic_cdk_timers::clear_timer(timer);
    }
    let Some(at) = next else {
        return;
    };
    let delay = Duration::from_nanos(at.saturating_sub(IcManagement.now()));
    let timer = ic_cdk_timers::set_timer(delay, wake_up());
    ARMED.set(Some(timer));
}

/// Claims the due modules, re-arms for the next due time at once (a long run must not delay
/// other modules' schedules), then runs the claimed ones, a few at a time.
async fn wake_up() {
    ARMED.set(None);
    let now = IcManagement.now();
    let due: Vec<Due> = schedules::claim_due(now)
        .into_iter()
        .map(Due::Module)
        .chain(group_schedules::claim_due(now).into_iter().map(Due::Group))
        .collect();
    arm();
    futures_util::stream::iter(due)
        .for_each_concurrent(RUN_CONCURRENCY, |due| async move {
            match due {
                Due::Module(name) => schedules::run(&IcManagement, &name).await,
                Due::Group(name) => group_schedules::run(&IcManagement, &name).await,
            }
        })
        .await;
    // A busy module's retry time was set during the run.
    arm();
}
