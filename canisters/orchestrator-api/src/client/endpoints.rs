//! The orchestrator's endpoints, each written once: name, query or update, argument types and
//! result type. The `endpoints!` macro turns the table into [`ENDPOINTS`], one constructor of
//! an encoded [`Call`] per endpoint (in [`calls`]) and one method of [`Client`] per endpoint; a test proves the table equals `candid/orchestrator.did`, so an
//! endpoint added to the canister cannot be forgotten here.

use candid::Principal;

use super::{Call, CallError, Client, Endpoint, Mode, Transport};
use crate::*;

/// Generates [`ENDPOINTS`], the client's methods and (for the test) the service type.
macro_rules! endpoints {
    ($(
        $(#[$doc:meta])*
        $mode:ident $name:ident($($arg:ident: $ty:ty),*) -> Result<$ok:ty, $err:ty>;
    )*) => {
        /// Every endpoint of the orchestrator, in the order of the table.
        pub const ENDPOINTS: &[Endpoint] = &[
            $(Endpoint { name: stringify!($name), mode: Mode::$mode },)*
        ];

        /// One constructor per endpoint: its arguments, encoded, as a [`Call`] that decodes
        /// the endpoint's answer.
        pub mod calls {
            use super::*;
            $(
                $(#[$doc])*
                pub fn $name($($arg: $ty),*) -> Result<Call<$ok, $err>, candid::Error> {
                    Call::new(stringify!($name), Mode::$mode, ($($arg,)*))
                }
            )*
        }

        impl<T: Transport> Client<T> {
            $(
                $(#[$doc])*
                pub async fn $name(&self, $($arg: $ty),*) -> Result<$ok, CallError<$err, T::Error>> {
                    self.send(stringify!($name), calls::$name($($arg),*)).await
                }
            )*
        }

        /// The service the table describes, as candid text (init argument included).
        #[cfg(test)]
        fn exported_service() -> String {
            use candid::types::{FuncMode, Function, Type, TypeInner};
            let mut env = candid::types::internal::TypeContainer::new();
            let mut service = Vec::<(String, Type)>::new();
            $(
                let func = Function {
                    args: vec![$(env.add::<$ty>()),*],
                    rets: vec![env.add::<Result<$ok, $err>>()],
                    modes: match Mode::$mode {
                        Mode::Query => vec![FuncMode::Query],
                        Mode::Update => vec![],
                    },
                };
                service.push((stringify!($name).to_string(), TypeInner::Func(func).into()));
            )*
            service.sort_unstable_by_key(|(name, _)| name.clone());
            let init = vec![env.add::<InitArg>()];
            let actor = Some(TypeInner::Class(init, TypeInner::Service(service).into()).into());
            candid::pretty::candid::compile(&env.env, &actor)
        }
    };
}

endpoints! {
    // ---- admins ----
    /// Adds an admin (idempotent).
    Update add_admin(admin: Principal) -> Result<(), AdminError>;
    /// Removes an admin; never the last one.
    Update remove_admin(admin: Principal) -> Result<(), AdminError>;
    /// The stored admins (controllers are admins too but are not listed).
    Query list_admins() -> Result<Vec<Principal>, QueryError>;

    // ---- modules ----
    /// Registers a canister as a module; the orchestrator must be one of its controllers.
    Update add_module(args: AddModuleArgs) -> Result<ModuleInfo, ModuleError>;
    /// Forgets a module, its schedule and the records and pins of its snapshots.
    Update remove_module(name: &str) -> Result<(), ModuleError>;
    /// Every registered module with its settings, status and snapshot storage (an update: it
    /// calls `canister_status`).
    Update list_modules() -> Result<Vec<ModuleInfo>, QueryError>;
    /// Changes some of a module's settings; fields left out keep their value.
    Update update_module_settings(name: &str, update: ModuleSettingsUpdate) -> Result<ModuleInfo, ModuleError>;
    /// Who may list and download the module's snapshots without controlling it (empty:
    /// controllers only).
    Update set_snapshot_viewers(name: &str, viewers: Vec<Principal>) -> Result<ModuleInfo, ModuleError>;

    // ---- snapshots ----
    /// Takes a snapshot (stopping the module if configured, replacing the oldest unpinned one at
    /// `max_snapshots`).
    Update take_snapshot(module: &str, args: TakeSnapshotArgs) -> Result<SnapshotInfo, SnapshotError>;
    /// Loads the given snapshot (default: the newest), stopping and restarting the module.
    Update restore_snapshot(module: &str, id: Option<&[u8]>) -> Result<SnapshotInfo, SnapshotError>;
    /// Deletes the given snapshot, or the only one.
    Update delete_snapshot(module: &str, id: Option<&[u8]>) -> Result<SnapshotInfo, SnapshotError>;
    /// The IC's list of the module's snapshots with the orchestrator's labels and triggers.
    Update list_snapshots(module: &str) -> Result<Vec<SnapshotInfo>, SnapshotError>;
    /// Pins snapshots by id or label: nothing deletes or replaces them automatically.
    Update pin_snapshot(module: &str, selector: SnapshotSelector) -> Result<Vec<SnapshotInfo>, SnapshotError>;
    /// Unpins snapshots by id or label.
    Update unpin_snapshot(module: &str, selector: SnapshotSelector) -> Result<Vec<SnapshotInfo>, SnapshotError>;
    /// A fleet snapshot: every module, a bounded number at a time; one result per module.
    Update take_all_snapshots(args: FleetSnapshotArgs) -> Result<Vec<FleetSnapshotResult>, SnapshotError>;

    // ---- schedules ----
    /// Sets a module's schedule and retention.
    Update set_schedule(module: &str, args: ScheduleArgs) -> Result<ScheduleInfo, ScheduleError>;
    /// Removes a module's schedule.
    Update clear_schedule(module: &str) -> Result<(), ScheduleError>;
    /// Every schedule, or one module's.
    Query list_schedules(module: Option<&str>) -> Result<Vec<ScheduleInfo>, ScheduleError>;

    // ---- groups ----
    /// Adds a group (application) of registered modules.
    Update add_group(name: &str, modules: Vec<String>) -> Result<GroupInfo, GroupError>;
    /// Removes a group; its members and their snapshots stay.
    Update remove_group(name: &str) -> Result<(), GroupError>;
    /// Every group, by name.
    Query list_groups() -> Result<Vec<GroupInfo>, GroupError>;
    /// A group's group snapshots, oldest first.
    Query list_group_snapshots(group: &str) -> Result<Vec<GroupSnapshotInfo>, GroupError>;
    /// Stops every member, takes each snapshot, starts every member again.
    Update take_group_snapshot(group: &str, args: GroupSnapshotArgs) -> Result<GroupSnapshotInfo, GroupError>;
    /// Restores a group snapshot into every member, with safety snapshots and rollback.
    Update restore_group_snapshot(group: &str, args: GroupRestoreArgs) -> Result<GroupRestoreReport, GroupError>;
    /// Group upgrade: the cut, the named members' installs, rollback of all to the cut.
    Update upgrade_group(group: &str, args: GroupUpgradeArgs) -> Result<GroupUpgradeReport, GroupError>;
    /// Pins every member's snapshot of a group snapshot.
    Update pin_group_snapshot(group: &str, id: u64) -> Result<GroupSnapshotInfo, GroupError>;
    /// Unpins every member's snapshot of a group snapshot.
    Update unpin_group_snapshot(group: &str, id: u64) -> Result<GroupSnapshotInfo, GroupError>;
    /// Sets a group's schedule and its retention (counting group snapshots as units).
    Update set_group_schedule(group: &str, args: ScheduleArgs) -> Result<GroupScheduleInfo, GroupError>;
    /// Removes a group's schedule.
    Update clear_group_schedule(group: &str) -> Result<(), GroupError>;
    /// Every group schedule.
    Query list_group_schedules() -> Result<Vec<GroupScheduleInfo>, GroupError>;

    // ---- history ----
    /// The audit history, newest first, one page at a time.
    Query history(query: HistoryQuery) -> Result<HistoryPage, QueryError>;
    /// One operation of the history (its current step while it runs).
    Query get_operation(id: u64) -> Result<Option<OperationRecord>, QueryError>;

    // ---- staging and upgrades ----
    /// Appends a chunk of a wasm to its staging area (offset = bytes staged so far).
    Update stage_wasm_chunk(args: StageWasmChunkArgs) -> Result<StagedWasmInfo, StagingError>;
    /// Checks the staged bytes' sha256 and that they are a wasm; a committed wasm can be
    /// installed.
    Update commit_staged_wasm(wasm_hash: &[u8]) -> Result<StagedWasmInfo, StagingError>;
    /// Discards a staged wasm.
    Update delete_staged_wasm(wasm_hash: &[u8]) -> Result<(), StagingError>;
    /// Every live staged wasm.
    Query list_staged_wasms() -> Result<Vec<StagedWasmInfo>, QueryError>;
    /// stop → snapshot → install → start, always → health check → roll back on failure.
    Update upgrade_module(module: &str, args: UpgradeArgs) -> Result<UpgradeReport, UpgradeError>;

    // ---- imports ----
    /// Takes the module's lock as a 30-minute lease while the client uploads a snapshot.
    Update begin_import(module: &str, args: BeginImportArgs) -> Result<ImportLease, ImportError>;
    /// Extends an import's lease by 30 minutes from now.
    Update renew_import(operation_id: u64) -> Result<ImportLease, ImportError>;
    /// Records the uploaded snapshot, loads it if asked, releases the lease.
    Update finish_import(operation_id: u64, args: FinishImportArgs) -> Result<ImportReport, ImportError>;
    /// Closes an import as failed (the client's reason recorded) and releases the lease.
    Update abort_import(operation_id: u64, reason: &str) -> Result<(), ImportError>;
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use candid_parser::utils::{CandidSource, service_equal};

    use super::*;

    fn committed_did() -> String {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../candid/orchestrator.did");
        std::fs::read_to_string(path).expect("candid/orchestrator.did exists")
    }

    /// Method name → query or update, as the committed .did declares them.
    fn committed_methods() -> BTreeMap<String, Mode> {
        let did = committed_did();
        let (env, actor) = CandidSource::Text(&did).load().expect("the .did parses");
        let actor = actor.expect("the .did declares a service");
        env.as_service(&actor)
            .expect("a service")
            .iter()
            .map(|(name, ty)| {
                let func = env.as_func(ty).expect("a method");
                let mode = if func.modes.is_empty() {
                    Mode::Update
                } else {
                    Mode::Query
                };
                (name.clone(), mode)
            })
            .collect()
    }

    #[test]
    fn the_client_has_every_method_of_the_committed_interface_and_no_other() {
        let committed = committed_methods();
        let client: BTreeMap<String, Mode> = ENDPOINTS
            .iter()
            .map(|e| (e.name.to_string(), e.mode))
            .collect();
        assert_eq!(client.len(), ENDPOINTS.len(), "an endpoint is listed twice");
        let missing: Vec<_> = committed
            .keys()
            .filter(|m| !client.contains_key(*m))
            .collect();
        let unknown: Vec<_> = client
            .keys()
            .filter(|m| !committed.contains_key(*m))
            .collect();
        assert!(
            missing.is_empty() && unknown.is_empty(),
            "the client's endpoint table (client/endpoints.rs) differs from candid/orchestrator.did: \
             missing {missing:?}, not in the .did {unknown:?}"
        );
        assert_eq!(client, committed, "a query/update mode differs");
    }

    #[test]
    fn the_client_types_equal_the_committed_interface() {
        let exported = exported_service();
        let did = committed_did();
        service_equal(CandidSource::Text(&exported), CandidSource::Text(&did)).unwrap_or_else(
            |e| panic!("the client's argument or result types differ from candid/orchestrator.did ({e})\n{exported}"),
        );
    }
}
