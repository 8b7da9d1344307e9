//! The Keepsake orchestrator canister. Endpoints only: each checks the caller and makes one
//! call into a domain module. See docs/ARCHITECTURE.md for the flows.

mod auth;
mod fleet;
mod flow;
mod group_flows;
mod group_schedules;
mod group_upgrade;
mod groups;
mod history;
mod imports;
mod lock;
mod mgmt;
mod registry;
mod schedules;
mod snapshots;
mod staging;
mod store;
mod timer;
mod upgrade;
mod views;
mod wasm_header;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

use candid::Principal;
use ic_cdk::api::{is_controller, msg_caller, time};
use ic_cdk::{init, post_upgrade, query, update};
use orchestrator_api::*;

use crate::mgmt::IcManagement;

/// The caller, if it is an admin. Every error enum converts from `Unauthorized`, so an
/// endpoint starts with `admin()?`.
fn admin() -> Result<Principal, Unauthorized> {
    let caller = msg_caller();
    if auth::is_admin(caller, is_controller(&caller)) {
        Ok(caller)
    } else {
        Err(Unauthorized { caller })
    }
}

#[init]
fn init(arg: InitArg) {
    auth::init(&arg.admins);
}

#[post_upgrade]
fn post_upgrade() {
    // No operation of the previous code can still be running: release what it held.
    lock::release_interrupted(time());
    // Timers live in the heap: re-arm the scheduler from the schedules in stable memory
    // (a run missed during the upgrade fires at once, once).
    timer::arm();
}

// ---- admins ----

#[update]
fn add_admin(admin_to_add: Principal) -> Result<(), AdminError> {
    admin()?;
    auth::add_admin(admin_to_add)
}

#[update]
fn remove_admin(admin_to_remove: Principal) -> Result<(), AdminError> {
    admin()?;
    auth::remove_admin(admin_to_remove)
}

#[query]
fn list_admins() -> Result<Vec<Principal>, QueryError> {
    admin()?;
    Ok(auth::admins())
}

// ---- modules ----

#[update]
async fn add_module(args: AddModuleArgs) -> Result<ModuleInfo, ModuleError> {
    let caller = admin()?;
    registry::add(&IcManagement, caller, args).await
}

#[update]
fn remove_module(name: String) -> Result<(), ModuleError> {
    admin()?;
    registry::remove(&name)?;
    timer::arm();
    Ok(())
}

#[update]
fn update_module_settings(
    name: String,
    update: ModuleSettingsUpdate,
) -> Result<ModuleInfo, ModuleError> {
    admin()?;
    registry::update_settings(&name, update)
}

// Who may list and download the module's snapshots without controlling it: METHOD_DOCS
// (tests/mod.rs) documents it in the .did.
#[update]
async fn set_snapshot_viewers(
    name: String,
    viewers: Vec<Principal>,
) -> Result<ModuleInfo, ModuleError> {
    admin()?;
    registry::set_snapshot_viewers(&IcManagement, &name, viewers).await
}

#[update]
async fn list_modules() -> Result<Vec<ModuleInfo>, QueryError> {
    admin()?;
    Ok(registry::list_with_storage(&IcManagement).await)
}

// ---- snapshots ----

#[update]
async fn take_snapshot(
    module: String,
    args: TakeSnapshotArgs,
) -> Result<SnapshotInfo, SnapshotError> {
    let caller = admin()?;
    snapshots::take(&IcManagement, caller, &module, args, Trigger::Manual).await
}

#[update]
async fn restore_snapshot(
    module: String,
    snapshot_id: Option<SnapshotId>,
) -> Result<SnapshotInfo, SnapshotError> {
    let caller = admin()?;
    snapshots::restore(
        &IcManagement,
        caller,
        &module,
        snapshot_id.map(serde_bytes::ByteBuf::into_vec),
    )
    .await
}

#[update]
async fn delete_snapshot(
    module: String,
    snapshot_id: Option<SnapshotId>,
) -> Result<SnapshotInfo, SnapshotError> {
    let caller = admin()?;
    snapshots::delete(
        &IcManagement,
        caller,
        &module,
        snapshot_id.map(serde_bytes::ByteBuf::into_vec),
        Trigger::Manual,
    )
    .await
}

#[update]
async fn list_snapshots(module: String) -> Result<Vec<SnapshotInfo>, SnapshotError> {
    admin()?;
    snapshots::list_reconciled(&IcManagement, &module).await
}

#[update]
async fn pin_snapshot(
    module: String,
    selector: SnapshotSelector,
) -> Result<Vec<SnapshotInfo>, SnapshotError> {
    admin()?;
    snapshots::set_pinned(&IcManagement, &module, selector, true).await
}

#[update]
async fn unpin_snapshot(
    module: String,
    selector: SnapshotSelector,
) -> Result<Vec<SnapshotInfo>, SnapshotError> {
    admin()?;
    snapshots::set_pinned(&IcManagement, &module, selector, false).await
}

#[update]
async fn take_all_snapshots(
    args: FleetSnapshotArgs,
) -> Result<Vec<FleetSnapshotResult>, SnapshotError> {
    let caller = admin()?;
    fleet::take_all(&IcManagement, caller, args).await
}

// ---- groups (applications) ----

#[update]
fn add_group(name: String, modules: Vec<String>) -> Result<GroupInfo, GroupError> {
    let caller = admin()?;
    groups::add(&name, modules, caller, time())
}

#[update]
fn remove_group(name: String) -> Result<(), GroupError> {
    admin()?;
    groups::remove(&name)?;
    timer::arm();
    Ok(())
}

#[query]
fn list_groups() -> Result<Vec<GroupInfo>, GroupError> {
    admin()?;
    Ok(groups::list())
}

#[query]
fn list_group_snapshots(group: String) -> Result<Vec<GroupSnapshotInfo>, GroupError> {
    admin()?;
    groups::get(&group)?;
    Ok(groups::snapshots_of(&group))
}

#[update]
async fn take_group_snapshot(
    group: String,
    args: GroupSnapshotArgs,
) -> Result<GroupSnapshotInfo, GroupError> {
    let caller = admin()?;
    group_flows::take(&IcManagement, caller, &group, args, Trigger::Manual).await
}

#[update]
async fn restore_group_snapshot(
    group: String,
    args: GroupRestoreArgs,
) -> Result<GroupRestoreReport, GroupError> {
    let caller = admin()?;
    group_flows::restore(
        &IcManagement,
        caller,
        &group,
        args.group_snapshot_id,
        args.stop_timeout_seconds,
    )
    .await
}

#[update]
async fn pin_group_snapshot(group: String, id: u64) -> Result<GroupSnapshotInfo, GroupError> {
    admin()?;
    group_flows::set_pinned(&IcManagement, &group, id, true).await
}

#[update]
async fn unpin_group_snapshot(group: String, id: u64) -> Result<GroupSnapshotInfo, GroupError> {
    admin()?;
    group_flows::set_pinned(&IcManagement, &group, id, false).await
}

#[update]
async fn upgrade_group(
    group: String,
    args: GroupUpgradeArgs,
) -> Result<GroupUpgradeReport, GroupError> {
    let caller = admin()?;
    group_upgrade::upgrade(&IcManagement, caller, &group, args).await
}

#[update]
fn set_group_schedule(group: String, args: ScheduleArgs) -> Result<GroupScheduleInfo, GroupError> {
    admin()?;
    let info = group_schedules::set(&group, args, time())?;
    timer::arm();
    Ok(info)
}

#[update]
fn clear_group_schedule(group: String) -> Result<(), GroupError> {
    admin()?;
    group_schedules::clear(&group)?;
    timer::arm();
    Ok(())
}

#[query]
fn list_group_schedules() -> Result<Vec<GroupScheduleInfo>, GroupError> {
    admin()?;
    Ok(group_schedules::list())
}

// ---- schedules ----

#[update]
fn set_schedule(module: String, args: ScheduleArgs) -> Result<ScheduleInfo, ScheduleError> {
    admin()?;
    let info = schedules::set(&module, args, time())?;
    timer::arm();
    Ok(info)
}

#[update]
fn clear_schedule(module: String) -> Result<(), ScheduleError> {
    admin()?;
    schedules::clear(&module)?;
    timer::arm();
    Ok(())
}

#[query]
fn list_schedules(module: Option<String>) -> Result<Vec<ScheduleInfo>, ScheduleError> {
    admin()?;
    schedules::list(module.as_deref())
}

// ---- staging and upgrades ----

#[update]
fn stage_wasm_chunk(args: StageWasmChunkArgs) -> Result<StagedWasmInfo, StagingError> {
    admin()?;
    staging::stage_chunk(args, time())
}

#[update]
fn commit_staged_wasm(wasm_hash: serde_bytes::ByteBuf) -> Result<StagedWasmInfo, StagingError> {
    admin()?;
    staging::commit(wasm_hash.into_vec(), time())
}

#[update]
fn delete_staged_wasm(wasm_hash: serde_bytes::ByteBuf) -> Result<(), StagingError> {
    admin()?;
    staging::delete(wasm_hash.into_vec(), time())
}

#[query]
fn list_staged_wasms() -> Result<Vec<StagedWasmInfo>, QueryError> {
    admin()?;
    Ok(staging::list(time()))
}

#[update]
async fn upgrade_module(module: String, args: UpgradeArgs) -> Result<UpgradeReport, UpgradeError> {
    let caller = admin()?;
    upgrade::upgrade(&IcManagement, caller, &module, args).await
}

// ---- imports ----

#[update]
async fn begin_import(module: String, args: BeginImportArgs) -> Result<ImportLease, ImportError> {
    let caller = admin()?;
    imports::begin(&IcManagement, caller, &module, args).await
}

#[update]
fn renew_import(operation_id: u64) -> Result<ImportLease, ImportError> {
    admin()?;
    imports::renew(operation_id, time())
}

#[update]
async fn finish_import(
    operation_id: u64,
    args: FinishImportArgs,
) -> Result<ImportReport, ImportError> {
    admin()?;
    imports::finish(&IcManagement, operation_id, args).await
}

#[update]
fn abort_import(operation_id: u64, reason: String) -> Result<(), ImportError> {
    admin()?;
    imports::abort(operation_id, reason, time())
}

// ---- history ----

#[query]
fn history(query: HistoryQuery) -> Result<HistoryPage, QueryError> {
    admin()?;
    Ok(history::page(&query))
}

#[query]
fn get_operation(id: u64) -> Result<Option<OperationRecord>, QueryError> {
    admin()?;
    Ok(history::get(id))
}

/// Test builds only: trap after the next successful reply of `method` (none disarms).
#[cfg(feature = "test-traps")]
#[update]
fn test_arm_trap(method: Option<String>) {
    if admin().is_err() {
        ic_cdk::trap("test_arm_trap is for admins");
    }
    mgmt::test_traps::arm(method);
}

#[cfg(not(feature = "test-traps"))]
ic_cdk::export_candid!();
