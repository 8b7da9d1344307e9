//! Views: every `…Info` the API returns is built here, once, from what the store holds.
//! Read-only: flows and endpoints call these; these call only the store.

use orchestrator_api::{
    GroupInfo, GroupScheduleInfo, GroupSnapshotInfo, ModuleInfo, ScheduleInfo, SnapshotInfo,
    StagedWasmInfo,
};

use crate::mgmt::IcSnapshot;
use crate::store::{
    self, GroupRecord, ModuleRecord, ScheduleRecord, SnapshotRecord, StagedWasm, locks,
    snapshot_meta,
};

/// A module as the API shows it, without what only `canister_status` knows (run status,
/// snapshot storage: `registry::list_with_storage` adds them).
pub fn module(name: String, record: ModuleRecord) -> ModuleInfo {
    let busy_with = locks::get(&name).map(|l| l.operation);
    let next_snapshot_at = store::schedules::MODULES.get(&name).map(|s| s.due_at());
    ModuleInfo {
        name,
        canister_id: record.canister_id,
        kind: record.kind,
        settings: record.settings,
        added_at: record.added_at,
        added_by: record.added_by,
        busy_with,
        snapshot_storage: None,
        next_snapshot_at,
        status: None,
    }
}

/// How the orchestrator sees one of a module's snapshots: its record (label, trigger), its
/// pin, and whether it is kept for the latest upgrade.
pub fn snapshot_with(
    module: &str,
    snapshot: &IcSnapshot,
    record: Option<SnapshotRecord>,
) -> SnapshotInfo {
    SnapshotInfo {
        id: snapshot.id.clone().into(),
        module: module.to_string(),
        taken_at: snapshot.taken_at,
        total_size: snapshot.total_size,
        external: record.is_none(),
        label: record.as_ref().and_then(|r| r.label.clone()),
        trigger: record.map(|r| r.trigger),
        pinned: snapshot_meta::is_pinned(module, &snapshot.id),
        kept_for_upgrade: snapshot_meta::is_kept_for_upgrade(module, &snapshot.id),
    }
}

/// How the orchestrator sees `snapshot` now: its record, pin and upgrade mark.
pub fn snapshot(module: &str, snapshot: &IcSnapshot) -> SnapshotInfo {
    snapshot_with(
        module,
        snapshot,
        snapshot_meta::record(module, &snapshot.id),
    )
}

/// A schedule's view: `$info` (`ScheduleInfo` or `GroupScheduleInfo`, the same fields but
/// for the target's) with `$target` naming the module or group, from a `ScheduleRecord`.
macro_rules! schedule_info {
    ($info:ident { $target:ident: $name:expr }, $record:expr) => {{
        let r: ScheduleRecord = $record;
        $info {
            $target: $name,
            cadence: r.cadence,
            retention: r.retention,
            set_at: r.set_at,
            next_run_at: r.next_run_at,
            retry_at: r.retry_at,
            last_run_at: r.last_run_at,
            last_operation_id: r.last_operation_id,
        }
    }};
}

/// A module's schedule.
pub fn schedule(module: String, record: ScheduleRecord) -> ScheduleInfo {
    schedule_info!(ScheduleInfo { module: module }, record)
}

/// A group's schedule (the same record as a module's, another target).
pub fn group_schedule(group: String, record: ScheduleRecord) -> GroupScheduleInfo {
    schedule_info!(GroupScheduleInfo { group: group }, record)
}

/// A group.
pub fn group(name: String, record: GroupRecord) -> GroupInfo {
    GroupInfo {
        name,
        modules: record.modules,
        added_at: record.added_at,
        added_by: record.added_by,
    }
}

/// A group snapshot as stored, with `pinned` filled in: whether every member's snapshot is
/// pinned.
pub fn group_snapshot(mut g: GroupSnapshotInfo) -> GroupSnapshotInfo {
    let ids: Vec<_> = g
        .members
        .iter()
        .filter_map(|m| m.snapshot_id.as_ref().map(|id| (m.module.as_str(), id)))
        .collect();
    g.pinned = Some(!ids.is_empty() && ids.iter().all(|(m, id)| snapshot_meta::is_pinned(m, id)));
    g
}

/// A staged wasm.
pub fn staged_wasm(hash: Vec<u8>, staged: &StagedWasm) -> StagedWasmInfo {
    StagedWasmInfo {
        wasm_hash: hash,
        size: staged.size,
        committed: staged.committed,
        updated_at: staged.updated_at,
        expires_at: staged.updated_at.saturating_add(store::staging::TTL_NANOS),
    }
}
