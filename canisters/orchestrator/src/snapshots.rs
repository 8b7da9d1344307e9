//! Take, restore, delete and list a module's snapshots. Each mutating flow is one straight
//! line of numbered steps under the module's lock, recorded in the history as it goes.

use candid::Principal;
use orchestrator_api::{
    OperationKind, OperationStep, SnapshotError, SnapshotInfo, SnapshotSelector, TakeSnapshotArgs,
    Trigger, validate_label,
};

use crate::flow::Flow;
use crate::mgmt::{IcSnapshot, Management};
use crate::store::{SnapshotRecord, snapshot_meta};
use crate::{groups, lock, registry, views};

/// The oldest of a module's snapshots (by time, then by id: ids grow with a per-canister
/// counter, so the smaller id is the older of two taken in the same round).
pub fn oldest(snapshots: &[IcSnapshot]) -> Option<&IcSnapshot> {
    snapshots
        .iter()
        .min_by(|a, b| (a.taken_at, &a.id).cmp(&(b.taken_at, &b.id)))
}

/// The newest of a module's snapshots.
pub fn newest(snapshots: &[IcSnapshot]) -> Option<&IcSnapshot> {
    snapshots
        .iter()
        .max_by(|a, b| (a.taken_at, &a.id).cmp(&(b.taken_at, &b.id)))
}

/// Records a snapshot the orchestrator took, dropping the record of the one it replaced.
pub fn record_taken(
    module: &str,
    taken: &IcSnapshot,
    replaced: Option<&[u8]>,
    label: Option<String>,
    trigger: Trigger,
    pin: bool,
) -> SnapshotInfo {
    let record = SnapshotRecord {
        taken_at: taken.taken_at,
        total_size: taken.total_size,
        label,
        trigger,
    };
    snapshot_meta::record_taken(module, &taken.id, record.clone(), replaced, pin);
    views::snapshot_with(module, taken, Some(record))
}

/// The snapshot a new one replaces when the module is at `max_snapshots`: the oldest that
/// may be replaced. Pins protect from every automatic replacement; scheduled snapshots also
/// spare the snapshot kept for the latest upgrade and snapshots taken elsewhere. `Err` says
/// what protects all of them.
pub fn replaceable(name: &str, held: &[IcSnapshot], trigger: Trigger) -> Result<Vec<u8>, String> {
    let automatic = trigger == Trigger::Schedule;
    let candidates: Vec<IcSnapshot> = held
        .iter()
        .filter(|h| !snapshot_meta::is_pinned(name, &h.id))
        .filter(|h| {
            let kept = snapshot_meta::is_kept_for_upgrade(name, &h.id);
            let ours = snapshot_meta::record(name, &h.id).is_some();
            !automatic || (ours && !kept)
        })
        .cloned()
        .collect();
    // A scheduled snapshot never replaces a member of a complete group snapshot: that would
    // break the group snapshot, which is kept as a unit.
    let candidates: Vec<IcSnapshot> = candidates
        .into_iter()
        .filter(|h| !automatic || !groups::holds_member_snapshot(name, &h.id))
        .collect();
    oldest(&candidates).map(|s| s.id.clone()).ok_or_else(|| {
        if automatic {
            "each is pinned, kept for the latest upgrade, taken outside the orchestrator, or \
             part of a group snapshot"
                .into()
        } else {
            "each is pinned".into()
        }
    })
}

/// The snapshot a new one replaces: none while the module holds fewer than `max`
/// (`max_snapshots`); at its limit the oldest that may be replaced (`replaceable`).
fn slot_for(
    name: &str,
    max: u8,
    held: &[IcSnapshot],
    trigger: Trigger,
) -> Result<Option<Vec<u8>>, SnapshotError> {
    if held.len() < usize::from(max) {
        return Ok(None);
    }
    replaceable(name, held, trigger)
        .map(Some)
        .map_err(|why| SnapshotError::SlotsProtected {
            module: name.to_string(),
            held: held.len() as u32,
            max,
            why,
        })
}

/// lock → list → stop (when `stop_for_snapshot`) → take (replacing the oldest at
/// `max_snapshots`) → start, always → record → unlock.
pub async fn take<M: Management>(
    mgmt: &M,
    caller: Principal,
    name: &str,
    args: TakeSnapshotArgs,
    trigger: Trigger,
) -> Result<SnapshotInfo, SnapshotError> {
    // 1. Validate.
    if let Some(label) = &args.label {
        validate_label(label).map_err(|reason| SnapshotError::InvalidLabel { reason })?;
    }
    // 2. Lock, and list what the module holds — the IC's list is the truth (it counts
    //    snapshots taken elsewhere), not our records. At its limit, the new snapshot replaces
    //    the oldest (the IC builds the new one before it removes the old, so a failed take
    //    loses nothing).
    let mut flow = Flow::open(mgmt, caller, name, OperationKind::TakeSnapshot, trigger)?;
    let held = flow.list_held().await.map_err(|f| flow.fail(f))?;
    let max = flow.module().settings.max_snapshots;
    let replace = match slot_for(name, max, &held, trigger) {
        Ok(replace) => replace,
        // A schedule that finds no free slot skips this run (and says why); an explicit
        // request fails.
        Err(error) if trigger == Trigger::Schedule => return Err(flow.skip(error)),
        Err(error) => return Err(flow.refuse(error)),
    };

    // 3. Stop, so the snapshot is consistent (the IC does not enforce it).
    flow.stop_if_asked().await.map_err(|f| flow.fail(f))?;

    // 4. Take, and record at once (committed before the next await).
    let taken = flow
        .run(
            OperationStep::TakeSnapshot,
            mgmt.take_snapshot(flow.canister(), replace.clone()),
        )
        .await;
    let taken = taken.map(|snapshot| {
        flow.set_snapshot(&snapshot.id);
        record_taken(
            name,
            &snapshot,
            replace.as_deref(),
            args.label,
            trigger,
            args.pin.unwrap_or(false),
        )
    });

    // 5. Restart, always — even when the take failed. 6. Report.
    let info = flow
        .restart_and_settle(OperationStep::TakeSnapshot, taken)
        .await
        .map_err(|f| flow.fail(f))?;
    Ok(flow.finish(info))
}

/// Resolves the snapshot to act on: the given id (which must exist) or `default`.
fn resolve<'a>(
    name: &str,
    held: &'a [IcSnapshot],
    id: Option<&[u8]>,
    default: impl FnOnce(&'a [IcSnapshot]) -> Result<&'a IcSnapshot, SnapshotError>,
) -> Result<&'a IcSnapshot, SnapshotError> {
    match id {
        Some(id) => {
            held.iter()
                .find(|s| s.id == id)
                .ok_or_else(|| SnapshotError::SnapshotNotFound {
                    module: name.to_string(),
                    id: id.to_vec().into(),
                })
        }
        None => default(held),
    }
}

/// lock → list → stop → load (the given snapshot, or the newest) → start, always → unlock.
pub async fn restore<M: Management>(
    mgmt: &M,
    caller: Principal,
    name: &str,
    id: Option<Vec<u8>>,
) -> Result<SnapshotInfo, SnapshotError> {
    // 1–2. Lock, and find the snapshot on the IC.
    let kind = OperationKind::RestoreSnapshot;
    let mut flow = Flow::open(mgmt, caller, name, kind, Trigger::Manual)?;
    let held = flow.list_held().await.map_err(|f| flow.fail(f))?;
    let target = resolve(name, &held, id.as_deref(), |held| {
        newest(held).ok_or_else(|| SnapshotError::NoSnapshot {
            module: name.to_string(),
        })
    })
    .map_err(|error| flow.refuse(error))?
    .clone();
    flow.set_snapshot(&target.id);

    // 3. Stop → load → start, always (`Flow::load`).
    flow.load(target.id.clone())
        .await
        .map_err(|f| flow.fail(f))?;
    Ok(flow.finish(views::snapshot(name, &target)))
}

/// lock → list → delete (the given snapshot, or the only one) → unlock. Without an id,
/// several snapshots are refused: deleting one the user still needs is not a default. A
/// pinned snapshot is refused until it is unpinned. `trigger` is `Manual` for an admin's call
/// and `Retention` for a schedule's.
pub async fn delete<M: Management>(
    mgmt: &M,
    caller: Principal,
    name: &str,
    id: Option<Vec<u8>>,
    trigger: Trigger,
) -> Result<SnapshotInfo, SnapshotError> {
    // 1–2. Lock, and find the snapshot on the IC.
    let mut flow = Flow::open(mgmt, caller, name, OperationKind::DeleteSnapshot, trigger)?;
    let held = flow.list_held().await.map_err(|f| flow.fail(f))?;
    let target = resolve(name, &held, id.as_deref(), |held| match held {
        [] => Err(SnapshotError::NoSnapshot {
            module: name.to_string(),
        }),
        [only] => Ok(only),
        several => Err(SnapshotError::AmbiguousSnapshot {
            module: name.to_string(),
            count: several.len() as u32,
        }),
    })
    .map_err(|error| flow.refuse(error))?
    .clone();
    flow.set_snapshot(&target.id);
    if snapshot_meta::is_pinned(name, &target.id) {
        return Err(flow.refuse(SnapshotError::Pinned {
            module: name.to_string(),
            id: target.id.clone().into(),
        }));
    }

    // 3. Delete, then forget our record of it. The module keeps running.
    flow.step(
        OperationStep::DeleteSnapshot,
        mgmt.delete_snapshot(flow.canister(), target.id.clone()),
    )
    .await
    .map_err(|f| flow.fail(f))?;
    let record = snapshot_meta::forget_deleted(name, &target.id);
    Ok(flow.finish(views::snapshot_with(name, &target, record)))
}

/// The module's snapshots as the IC lists them, oldest first, with the orchestrator's labels,
/// triggers and pins. Snapshots taken elsewhere are marked external; records and pins of
/// snapshots deleted elsewhere are dropped.
pub async fn list_reconciled<M: Management>(
    mgmt: &M,
    name: &str,
) -> Result<Vec<SnapshotInfo>, SnapshotError> {
    let module = registry::get(name).ok_or_else(|| SnapshotError::ModuleNotFound {
        name: name.to_string(),
    })?;
    let known_before = snapshot_meta::known_before(name);
    let mut held = mgmt
        .list_snapshots(module.canister_id)
        .await
        .map_err(SnapshotError::CallFailed)?;
    held.sort_by(|a, b| (a.taken_at, &a.id).cmp(&(b.taken_at, &b.id)));
    let held_ids: Vec<Vec<u8>> = held.iter().map(|h| h.id.clone()).collect();
    snapshot_meta::reconcile(name, known_before, &held_ids);
    Ok(held
        .iter()
        .map(|snapshot| views::snapshot(name, snapshot))
        .collect())
}

/// Pins (`pin = true`) or unpins the selected snapshots of a module and returns them. The
/// IC's list is checked first, so only snapshots that exist are pinned; a label selects every
/// snapshot the orchestrator recorded with exactly that label.
pub async fn set_pinned<M: Management>(
    mgmt: &M,
    name: &str,
    selector: SnapshotSelector,
    pin: bool,
) -> Result<Vec<SnapshotInfo>, SnapshotError> {
    let held = list_reconciled(mgmt, name).await?;
    let selected: Vec<&SnapshotInfo> = match &selector {
        SnapshotSelector::Id(id) => {
            let found: Vec<_> = held.iter().filter(|s| s.id == *id).collect();
            if found.is_empty() {
                return Err(SnapshotError::SnapshotNotFound {
                    module: name.to_string(),
                    id: id.clone(),
                });
            }
            found
        }
        SnapshotSelector::Label(label) => {
            let found: Vec<_> = held
                .iter()
                .filter(|s| s.label.as_deref() == Some(label.as_str()))
                .collect();
            if found.is_empty() {
                return Err(SnapshotError::LabelNotFound {
                    module: name.to_string(),
                    label: label.clone(),
                });
            }
            found
        }
    };
    // An import's upload is about to replace this snapshot (its lease was granted because
    // it was not pinned): pinning it now would not stop the IC from deleting it.
    let leased_replace = lock::leased_replace(name);
    if pin
        && let Some(replaced) = leased_replace
        && selected.iter().any(|s| *s.id == replaced)
    {
        return Err(SnapshotError::Busy {
            module: name.to_string(),
            operation: OperationKind::Import,
        });
    }
    for snapshot in &selected {
        snapshot_meta::set_pinned(name, &snapshot.id, pin);
    }
    Ok(selected
        .into_iter()
        .map(|s| SnapshotInfo {
            pinned: pin,
            ..s.clone()
        })
        .collect())
}

/// Pins (or unpins) every `(module, id)` at once — a group snapshot's members, which the
/// caller found on the IC's lists. Pinning refuses, changing nothing, when an import's upload
/// is about to replace one of them (as `set_pinned` does).
pub fn set_pins(targets: &[(String, Vec<u8>)], pin: bool) -> Result<(), SnapshotError> {
    if pin
        && let Some((module, _)) = targets
            .iter()
            .find(|(module, id)| lock::leased_replace(module).as_ref() == Some(id))
    {
        return Err(SnapshotError::Busy {
            module: module.clone(),
            operation: OperationKind::Import,
        });
    }
    for (module, id) in targets {
        snapshot_meta::set_pinned(module, id, pin);
    }
    Ok(())
}
