//! Fleet ("full") snapshots: one call snapshots every registered module, a bounded number at
//! a time. Each module goes through the ordinary take flow (its own lock, stop/restart and
//! history record), so one module failing — or being busy — does not stop the others.

use candid::Principal;
use futures_util::StreamExt;
use orchestrator_api::{
    DEFAULT_FLEET_CONCURRENCY, FleetSnapshotArgs, FleetSnapshotResult, MAX_FLEET_CONCURRENCY,
    SnapshotError, TakeSnapshotArgs, Trigger, validate_label,
};

use crate::mgmt::Management;
use crate::{registry, snapshots};

/// Snapshots every module; the results are in module-name order.
pub async fn take_all<M: Management>(
    mgmt: &M,
    caller: Principal,
    args: FleetSnapshotArgs,
) -> Result<Vec<FleetSnapshotResult>, SnapshotError> {
    if let Some(label) = &args.label {
        validate_label(label).map_err(|reason| SnapshotError::InvalidLabel { reason })?;
    }
    let concurrency = args.concurrency.unwrap_or(DEFAULT_FLEET_CONCURRENCY);
    if !(1..=MAX_FLEET_CONCURRENCY).contains(&concurrency) {
        return Err(SnapshotError::InvalidArgument {
            reason: format!("concurrency must be 1 to {MAX_FLEET_CONCURRENCY}; got {concurrency}"),
        });
    }
    let names: Vec<String> = registry::list().into_iter().map(|m| m.name).collect();
    let (label, pin) = (args.label, args.pin);
    let mut results: Vec<FleetSnapshotResult> = futures_util::stream::iter(names)
        .map(|module| {
            let label = label.clone();
            async move {
                let result = snapshots::take(
                    mgmt,
                    caller,
                    &module,
                    TakeSnapshotArgs { label, pin },
                    Trigger::Fleet,
                )
                .await;
                FleetSnapshotResult { module, result }
            }
        })
        .buffer_unordered(usize::from(concurrency))
        .collect()
        .await;
    results.sort_by(|a, b| a.module.cmp(&b.module));
    Ok(results)
}
