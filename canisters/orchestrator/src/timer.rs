//! The scheduler's one timer (IC glue; the logic is in `crate::schedules`).
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
use crate::schedules;

/// How many due modules are snapshotted at once.
const RUN_CONCURRENCY: usize = 4;

thread_local! {
    static ARMED: Cell<Option<TimerId>> = const { Cell::new(None) };
}

/// Arms the timer for the earliest due schedule (or disarms it when there is none).
pub fn arm() {
    let next = schedules::next_wakeup();
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
    let due = schedules::claim_due(IcManagement.now());
    arm();
    futures_util::stream::iter(due)
        .for_each_concurrent(RUN_CONCURRENCY, |name| async move {
            schedules::run(&IcManagement, &name).await;
        })
        .await;
    // A busy module's retry time was set during the run.
    arm();
}
