//! The module registry: which canisters the orchestrator manages, under which names, with
//! which settings.

use candid::Principal;
use futures_util::StreamExt;
use orchestrator_api::{
    AddModuleArgs, GroupError, HealthCheckSetting, IC_MAX_SNAPSHOTS_PER_CANISTER, ImportError,
    ModuleError, ModuleInfo, ModuleRunStatus, ModuleSettingsUpdate, OperationKind, SnapshotError,
    SnapshotStorage, UpgradeError, monthly_storage_cost, validate_module_name,
};

use crate::lock::ModuleLock;
use crate::mgmt::{Management, REJECT_CANISTER_ERROR, RunStatus};
use crate::store::{self, ModuleRecord, modules};
use crate::views;

/// Longest health-check method name accepted.
const MAX_METHOD_NAME: usize = 256;

/// The module called `name`.
pub fn get(name: &str) -> Option<ModuleRecord> {
    modules::get(name)
}

/// Why a flow could not have a module to itself.
#[derive(Debug)]
pub enum Unavailable {
    /// No module has this name.
    NotFound { name: String },
    /// Another operation holds the module's lock.
    Busy {
        module: String,
        operation: OperationKind,
    },
}

/// Looks module `name` up and takes its lock for `operation`: the opening of every flow that
/// acts on a module. Each flow's error converts from [`Unavailable`], so it says `?`.
pub fn lock_module(
    name: &str,
    operation: OperationKind,
    now: u64,
) -> Result<(ModuleRecord, ModuleLock), Unavailable> {
    let module = get(name).ok_or_else(|| Unavailable::NotFound {
        name: name.to_string(),
    })?;
    let lock =
        ModuleLock::acquire(name, operation, now).map_err(|operation| Unavailable::Busy {
            module: name.to_string(),
            operation,
        })?;
    Ok((module, lock))
}

/// `From<Unavailable>` for each error enum with `ModuleNotFound { name }` and
/// `Busy { module, operation }` variants.
macro_rules! unavailable_converts_into {
    ($($error:ty),+) => {$(
        impl From<Unavailable> for $error {
            fn from(unavailable: Unavailable) -> Self {
                match unavailable {
                    Unavailable::NotFound { name } => Self::ModuleNotFound { name },
                    Unavailable::Busy { module, operation } => Self::Busy { module, operation },
                }
            }
        }
    )+};
}

unavailable_converts_into!(SnapshotError, ImportError, UpgradeError, GroupError);

/// How many modules `list_with_storage` asks `canister_status` about at once.
const STATUS_CONCURRENCY: usize = 8;

/// Every module, by name, with its run status, snapshot memory and monthly storage cost from
/// `canister_status` (left out for a module whose status call fails: the list still answers).
/// The status comes from here because the orchestrator controls every module, while a client
/// (the console, an admin's identity) often does not and cannot ask the IC itself.
pub async fn list_with_storage<M: Management>(mgmt: &M) -> Vec<ModuleInfo> {
    let modules = list();
    let mut measured: Vec<(String, Option<SnapshotStorage>, Option<ModuleRunStatus>)> =
        futures_util::stream::iter(modules.iter().map(|m| (m.name.clone(), m.canister_id)))
            .map(|(name, canister)| async move {
                let status = mgmt.canister_status(canister).await.ok();
                let storage =
                    status
                        .as_ref()
                        .and_then(|s| s.snapshots_size)
                        .map(|bytes| SnapshotStorage {
                            bytes,
                            monthly_cost_cycles: monthly_storage_cost(bytes),
                        });
                let run = status.map(|s| match s.status {
                    RunStatus::Running => ModuleRunStatus::Running,
                    RunStatus::Stopping => ModuleRunStatus::Stopping,
                    RunStatus::Stopped => ModuleRunStatus::Stopped,
                });
                (name, storage, run)
            })
            .buffer_unordered(STATUS_CONCURRENCY)
            .collect()
            .await;
    measured.sort_by(|a, b| a.0.cmp(&b.0));
    modules
        .into_iter()
        .zip(measured)
        .map(|(mut module, (_, storage, status))| {
            module.snapshot_storage = storage;
            module.status = status;
            module
        })
        .collect()
}

/// Every module, by name.
pub fn list() -> Vec<ModuleInfo> {
    modules::list()
        .into_iter()
        .map(|(name, record)| views::module(name, record))
        .collect()
}

fn check_free(name: &str, canister_id: Principal) -> Result<(), ModuleError> {
    if modules::get(name).is_some() {
        return Err(ModuleError::NameTaken {
            name: name.to_string(),
        });
    }
    match modules::name_of(canister_id) {
        Some(existing) => Err(ModuleError::AlreadyRegistered {
            canister_id,
            name: existing,
        }),
        None => Ok(()),
    }
}

/// Registers a module after checking that the orchestrator controls it.
pub async fn add<M: Management>(
    mgmt: &M,
    caller: Principal,
    args: AddModuleArgs,
) -> Result<ModuleInfo, ModuleError> {
    // 1. Validate before any call.
    validate_module_name(&args.name).map_err(|reason| ModuleError::InvalidName { reason })?;
    check_free(&args.name, args.canister_id)?;

    // 2. Only a controller can manage snapshots: check that the orchestrator is one.
    //    (canister_status is controller-only unless the canister made its status public, so
    //    the controller list is checked as well.)
    let orchestrator = mgmt.self_id();
    let not_controller = |message: String| ModuleError::NotController {
        canister_id: args.canister_id,
        orchestrator,
        message,
    };
    match mgmt.canister_status(args.canister_id).await {
        Ok(status) if status.controllers.contains(&orchestrator) => {}
        Ok(_) => {
            return Err(not_controller(
                "its controller list does not include it".into(),
            ));
        }
        // Decided by the reject code, never the text: the management canister rejects a
        // non-controller's canister_status with CANISTER_ERROR (5, IC0512 — IC-FACTS §8); an
        // unknown canister is DESTINATION_INVALID (3) and stays a plain call failure. The
        // IC's own message is kept for the user.
        Err(e) if e.reject_code == REJECT_CANISTER_ERROR => {
            return Err(not_controller(e.message));
        }
        Err(e) => return Err(ModuleError::CallFailed(e)),
    }

    // 3. Re-check after the await: another call may have taken the name meanwhile.
    check_free(&args.name, args.canister_id)?;
    let record = ModuleRecord {
        canister_id: args.canister_id,
        kind: args.kind,
        settings: Default::default(),
        added_at: mgmt.now(),
        added_by: caller,
        kept_for_upgrade: None,
    };
    modules::put(&args.name, record.clone());
    Ok(views::module(args.name, record))
}

/// Forgets a module, its schedule and the orchestrator's records and pins of its snapshots.
/// The snapshots stay on the IC (they belong to the canister); `list_canister_snapshots`
/// still shows them.
pub fn remove(name: &str) -> Result<(), ModuleError> {
    if get(name).is_none() {
        return Err(ModuleError::ModuleNotFound {
            name: name.to_string(),
        });
    }
    if let Some(operation) = crate::lock::held_by(name) {
        return Err(ModuleError::Busy {
            module: name.to_string(),
            operation,
        });
    }
    store::remove_module(name);
    Ok(())
}

/// At most this many snapshot viewers (the IC's bound on `allowed_viewers`).
pub const MAX_SNAPSHOT_VIEWERS: usize = 10;

/// Lets `viewers` list and download the module's snapshots without controlling it
/// (`snapshot_visibility = allowed_viewers`; none: back to controllers only). The setting lives
/// on the IC, not here: the orchestrator, a controller of the module, only sets it, so a backup
/// identity needs no control of the module (least privilege for cold storage).
pub async fn set_snapshot_viewers<M: Management>(
    mgmt: &M,
    name: &str,
    viewers: Vec<Principal>,
) -> Result<ModuleInfo, ModuleError> {
    // 1. Validate before the call.
    if get(name).is_none() {
        return Err(ModuleError::ModuleNotFound {
            name: name.to_string(),
        });
    }
    let mut viewers = viewers;
    viewers.sort();
    viewers.dedup();
    if viewers.len() > MAX_SNAPSHOT_VIEWERS {
        return Err(ModuleError::InvalidSettings {
            reason: format!(
                "at most {MAX_SNAPSHOT_VIEWERS} snapshot viewers are allowed (the IC's limit); got {}",
                viewers.len()
            ),
        });
    }
    if viewers.contains(&Principal::anonymous()) {
        return Err(ModuleError::InvalidSettings {
            reason: "the anonymous principal cannot be a snapshot viewer (anyone could read the snapshots)".into(),
        });
    }
    let canister_id = get(name).expect("checked").canister_id;
    // 2. The call; nothing of ours changes, so nothing to compensate.
    mgmt.set_snapshot_viewers(canister_id, viewers)
        .await
        .map_err(ModuleError::CallFailed)?;
    // 3. Re-read after the await: the module may have been removed meanwhile.
    let record = get(name).ok_or_else(|| ModuleError::ModuleNotFound {
        name: name.to_string(),
    })?;
    Ok(views::module(name.to_string(), record))
}

/// Changes some of a module's settings; all are validated before any is applied.
pub fn update_settings(
    name: &str,
    update: ModuleSettingsUpdate,
) -> Result<ModuleInfo, ModuleError> {
    let mut record = get(name).ok_or_else(|| ModuleError::ModuleNotFound {
        name: name.to_string(),
    })?;
    let invalid = |reason: String| Err(ModuleError::InvalidSettings { reason });
    if let Some(max) = update.max_snapshots {
        if !(1..=IC_MAX_SNAPSHOTS_PER_CANISTER).contains(&max) {
            return invalid(format!(
                "max_snapshots must be 1 to {IC_MAX_SNAPSHOTS_PER_CANISTER} (the IC keeps at most {IC_MAX_SNAPSHOTS_PER_CANISTER} per canister); got {max}"
            ));
        }
        record.settings.max_snapshots = max;
    }
    if let Some(v) = update.snapshot_before_upgrade {
        record.settings.snapshot_before_upgrade = v;
    }
    if let Some(v) = update.stop_for_snapshot {
        record.settings.stop_for_snapshot = v;
    }
    match update.health_check {
        None => {}
        Some(HealthCheckSetting::Disabled) => record.settings.health_check = None,
        Some(HealthCheckSetting::Method(method)) => {
            if method.is_empty()
                || method.len() > MAX_METHOD_NAME
                || method.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return invalid(format!(
                    "health_check must be a method name (1 to {MAX_METHOD_NAME} bytes, no spaces); got {method:?}"
                ));
            }
            record.settings.health_check = Some(method);
        }
    }
    modules::put(name, record.clone());
    Ok(views::module(name.to_string(), record))
}
