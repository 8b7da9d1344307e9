//! A typed client of the orchestrator canister, on orchestrator-api's types.
//!
//! Every endpoint answers `Result<T, E>` with a thiserror enum whose message already says what
//! to do; the client turns `Err(E)` into an `anyhow::Error` holding it (a usage error, exit 2,
//! when the variant says the user's input was refused: `refusal`), and a call that got no
//! answer into an error that says what became of it: not sent (nothing changed), reply lost
//! (outcome unknown, and how to check), or an answer that is not a Keepsake orchestrator's.

use anyhow::{Context, Result, anyhow};
use candid::utils::ArgumentEncoder;
use candid::{CandidType, Principal, encode_args};
use ic_agent::agent::CallResponse;
use ic_agent::{Agent, AgentError};
use orchestrator_api::*;
use serde::de::DeserializeOwned;

use crate::error::{echo, usage};
use crate::operations::agent_error::{self, Lost};
use crate::operations::refusal::Refusal;

/// Which kind of call failed, for what its failure means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A query: changes nothing, whatever happened.
    Query,
    /// An update being submitted.
    Submit,
    /// An update the network accepted, being polled for its result.
    Submitted,
}

/// The orchestrator at `id`, called through `agent`.
pub struct Orchestrator<'a> {
    agent: &'a Agent,
    /// Its canister id.
    pub id: Principal,
}

impl<'a> Orchestrator<'a> {
    /// A client for the orchestrator `id`.
    pub fn new(agent: &'a Agent, id: Principal) -> Self {
        Self { agent, id }
    }

    async fn call<A, T, E>(&self, method: &str, args: A, query: bool) -> Result<T>
    where
        A: ArgumentEncoder,
        T: CandidType + DeserializeOwned,
        E: CandidType + DeserializeOwned + Refusal,
    {
        let arg = encode_args(args).context("cannot encode the arguments")?;
        let reply = if query {
            self.agent
                .query(&self.id, method)
                .with_arg(arg)
                .call()
                .await
                .map_err(|e| self.call_failed(method, e, Kind::Query))?
        } else {
            self.update(method, arg).await?
        };
        let result: std::result::Result<T, E> = candid::decode_one(&reply).with_context(|| {
            format!(
                "orchestrator {}.{method} answered something this keepsake does not understand; \
                 is it a Keepsake orchestrator of the same version? Check --orchestrator",
                self.id
            )
        })?;
        result.map_err(|e| {
            if let Some(caller) = e.unauthorized() {
                anyhow!(
                    "{caller} is not an admin of this orchestrator ({}); an admin (or a controller of \
                     the orchestrator) can make it one with `keepsake admin add {caller}`, or use \
                     an identity that is one (--identity, --pem)",
                    self.id
                )
            } else if e.is_bad_input() {
                usage(e.to_string())
            } else {
                anyhow!(e)
            }
        })
    }

    /// An update in two steps, submit then wait, so that a failed connection is known to have
    /// happened before anything was sent or after (when the call may have run).
    async fn update(&self, method: &str, arg: Vec<u8>) -> Result<Vec<u8>> {
        let submitted = self
            .agent
            .update(&self.id, method)
            .with_arg(arg)
            .call()
            .await
            .map_err(|e| self.call_failed(method, e, Kind::Submit))?;
        match submitted {
            CallResponse::Response((reply, _certificate)) => Ok(reply),
            CallResponse::Poll(request_id) => self
                .agent
                .wait(&request_id, self.id)
                .await
                .map(|(reply, _certificate)| reply)
                .map_err(|e| self.call_failed(method, e, Kind::Submitted)),
        }
    }

    /// The error of a call that got no reply from the orchestrator: what happened to the call
    /// (from the transport's error kind and the reject codes), and what to do.
    fn call_failed(&self, method: &str, e: AgentError, kind: Kind) -> anyhow::Error {
        let id = self.id;
        let lost = agent_error::lost_in_transport(&e, kind == Kind::Submitted);
        let not_found = agent_error::is_missing_target(&e);
        let advice = match (lost, kind) {
            (Some(Lost::NotSent), _) => format!(
                "cannot connect to the network to call orchestrator {id}.{method}; nothing was \
                 sent, so nothing changed. Is the network up? Check --network"
            ),
            (Some(Lost::ReplyLost), Kind::Query) => format!(
                "the connection was lost during orchestrator {id}.{method}, a query: nothing \
                 changed. Check the network and run the command again"
            ),
            (Some(Lost::ReplyLost), _) => format!(
                "the connection was lost after orchestrator {id}.{method} was sent: whether it \
                 took effect is unknown. Check before running it again: `keepsake history` \
                 shows what the orchestrator did, `keepsake snapshot list <module>` the snapshots"
            ),
            (None, _) if not_found => format!(
                "orchestrator {id}.{method} failed: this network has no such canister, or it has \
                 no such method; check that --orchestrator names a Keepsake orchestrator on it"
            ),
            (None, _) => format!("orchestrator {id}.{method} failed"),
        };
        agent_error::describe(e).context(advice)
    }

    /// `add_admin` (idempotent).
    pub async fn add_admin(&self, admin: Principal) -> Result<()> {
        self.call::<_, (), AdminError>("add_admin", (admin,), false)
            .await
    }

    /// `remove_admin` (never the last one).
    pub async fn remove_admin(&self, admin: Principal) -> Result<()> {
        self.call::<_, (), AdminError>("remove_admin", (admin,), false)
            .await
    }

    /// `list_admins` (a query): the stored admins; controllers are admins too but not listed.
    pub async fn list_admins(&self) -> Result<Vec<Principal>> {
        self.call::<_, _, QueryError>("list_admins", (), true).await
    }

    /// `add_module`.
    pub async fn add_module(&self, args: AddModuleArgs) -> Result<ModuleInfo> {
        self.call::<_, _, ModuleError>("add_module", (args,), false)
            .await
    }

    /// `list_modules`.
    pub async fn list_modules(&self) -> Result<Vec<ModuleInfo>> {
        // An update since schedules: it asks canister_status for each module's snapshot memory.
        self.call::<_, _, QueryError>("list_modules", (), false)
            .await
    }

    /// `remove_module`.
    pub async fn remove_module(&self, name: &str) -> Result<()> {
        self.call::<_, (), ModuleError>("remove_module", (name,), false)
            .await
    }

    /// `update_module_settings`.
    pub async fn update_settings(
        &self,
        name: &str,
        update: ModuleSettingsUpdate,
    ) -> Result<ModuleInfo> {
        self.call::<_, _, ModuleError>("update_module_settings", (name, update), false)
            .await
    }

    /// `set_snapshot_viewers` (empty: controllers only).
    pub async fn set_snapshot_viewers(
        &self,
        name: &str,
        viewers: Vec<Principal>,
    ) -> Result<ModuleInfo> {
        self.call::<_, _, ModuleError>("set_snapshot_viewers", (name, viewers), false)
            .await
    }

    /// `take_snapshot`.
    pub async fn take_snapshot(&self, module: &str, label: Option<String>) -> Result<SnapshotInfo> {
        self.take_snapshot_with(module, TakeSnapshotArgs { label, pin: None })
            .await
    }

    /// `take_snapshot` with every argument (a label, a pin).
    pub async fn take_snapshot_with(
        &self,
        module: &str,
        args: TakeSnapshotArgs,
    ) -> Result<SnapshotInfo> {
        self.call::<_, _, SnapshotError>("take_snapshot", (module, args), false)
            .await
    }

    /// `take_all_snapshots`: one result per module; the error is for the call as a whole.
    pub async fn take_all_snapshots(
        &self,
        args: FleetSnapshotArgs,
    ) -> Result<Vec<FleetSnapshotResult>> {
        self.call::<_, _, SnapshotError>("take_all_snapshots", (args,), false)
            .await
    }

    /// `pin_snapshot` (`pin`) or `unpin_snapshot`: the snapshots it changed.
    pub async fn set_pinned(
        &self,
        module: &str,
        selector: SnapshotSelector,
        pin: bool,
    ) -> Result<Vec<SnapshotInfo>> {
        let method = if pin {
            "pin_snapshot"
        } else {
            "unpin_snapshot"
        };
        self.call::<_, _, SnapshotError>(method, (module, selector), false)
            .await
    }

    /// `set_schedule`.
    pub async fn set_schedule(&self, module: &str, args: ScheduleArgs) -> Result<ScheduleInfo> {
        self.call::<_, _, ScheduleError>("set_schedule", (module, args), false)
            .await
    }

    /// `clear_schedule`.
    pub async fn clear_schedule(&self, module: &str) -> Result<()> {
        self.call::<_, (), ScheduleError>("clear_schedule", (module,), false)
            .await
    }

    /// `list_schedules` (a query): every schedule, or one module's.
    pub async fn list_schedules(&self, module: Option<&str>) -> Result<Vec<ScheduleInfo>> {
        self.call::<_, _, ScheduleError>("list_schedules", (module,), true)
            .await
    }

    /// `list_snapshots`.
    pub async fn list_snapshots(&self, module: &str) -> Result<Vec<SnapshotInfo>> {
        self.call::<_, _, SnapshotError>("list_snapshots", (module,), false)
            .await
    }

    /// `restore_snapshot`.
    pub async fn restore_snapshot(
        &self,
        module: &str,
        id: Option<Vec<u8>>,
    ) -> Result<SnapshotInfo> {
        let id = id.map(serde_bytes::ByteBuf::from);
        self.call::<_, _, SnapshotError>("restore_snapshot", (module, id), false)
            .await
    }

    /// `delete_snapshot`.
    pub async fn delete_snapshot(&self, module: &str, id: Option<Vec<u8>>) -> Result<SnapshotInfo> {
        let id = id.map(serde_bytes::ByteBuf::from);
        self.call::<_, _, SnapshotError>("delete_snapshot", (module, id), false)
            .await
    }

    /// `add_group`.
    pub async fn add_group(&self, name: &str, modules: Vec<String>) -> Result<GroupInfo> {
        self.call::<_, _, GroupError>("add_group", (name, modules), false)
            .await
    }

    /// `remove_group`.
    pub async fn remove_group(&self, name: &str) -> Result<()> {
        self.call::<_, _, GroupError>("remove_group", (name,), false)
            .await
    }

    /// `list_groups`.
    pub async fn list_groups(&self) -> Result<Vec<GroupInfo>> {
        self.call::<_, _, GroupError>("list_groups", (), true).await
    }

    /// `list_group_snapshots`.
    pub async fn list_group_snapshots(&self, group: &str) -> Result<Vec<GroupSnapshotInfo>> {
        self.call::<_, _, GroupError>("list_group_snapshots", (group,), true)
            .await
    }

    /// `take_group_snapshot`.
    pub async fn take_group_snapshot(
        &self,
        group: &str,
        args: GroupSnapshotArgs,
    ) -> Result<GroupSnapshotInfo> {
        self.call::<_, _, GroupError>("take_group_snapshot", (group, args), false)
            .await
    }

    /// `restore_group_snapshot`.
    pub async fn restore_group_snapshot(
        &self,
        group: &str,
        args: GroupRestoreArgs,
    ) -> Result<GroupRestoreReport> {
        self.call::<_, _, GroupError>("restore_group_snapshot", (group, args), false)
            .await
    }

    /// `upgrade_group`: one group snapshot, then the named members' installs.
    pub async fn upgrade_group(
        &self,
        group: &str,
        args: GroupUpgradeArgs,
    ) -> Result<GroupUpgradeReport> {
        self.call::<_, _, GroupError>("upgrade_group", (group, args), false)
            .await
    }

    /// `pin_group_snapshot` (`pin`) or `unpin_group_snapshot`.
    pub async fn set_group_pinned(
        &self,
        group: &str,
        id: u64,
        pin: bool,
    ) -> Result<GroupSnapshotInfo> {
        let method = if pin {
            "pin_group_snapshot"
        } else {
            "unpin_group_snapshot"
        };
        self.call::<_, _, GroupError>(method, (group, id), false)
            .await
    }

    /// `set_group_schedule`.
    pub async fn set_group_schedule(
        &self,
        group: &str,
        args: ScheduleArgs,
    ) -> Result<GroupScheduleInfo> {
        self.call::<_, _, GroupError>("set_group_schedule", (group, args), false)
            .await
    }

    /// `clear_group_schedule`.
    pub async fn clear_group_schedule(&self, group: &str) -> Result<()> {
        self.call::<_, (), GroupError>("clear_group_schedule", (group,), false)
            .await
    }

    /// `list_group_schedules` (a query).
    pub async fn list_group_schedules(&self) -> Result<Vec<GroupScheduleInfo>> {
        self.call::<_, _, GroupError>("list_group_schedules", (), true)
            .await
    }

    /// `history`.
    pub async fn history(&self, q: HistoryQuery) -> Result<HistoryPage> {
        self.call::<_, _, QueryError>("history", (q,), true).await
    }

    /// `list_staged_wasms`.
    pub async fn list_staged_wasms(&self) -> Result<Vec<StagedWasmInfo>> {
        self.call::<_, _, QueryError>("list_staged_wasms", (), true)
            .await
    }

    /// `stage_wasm_chunk`.
    pub async fn stage_wasm_chunk(&self, args: StageWasmChunkArgs) -> Result<StagedWasmInfo> {
        self.call::<_, _, StagingError>("stage_wasm_chunk", (args,), false)
            .await
    }

    /// `commit_staged_wasm`.
    pub async fn commit_staged_wasm(&self, hash: &[u8]) -> Result<StagedWasmInfo> {
        let hash = serde_bytes::ByteBuf::from(hash.to_vec());
        self.call::<_, _, StagingError>("commit_staged_wasm", (hash,), false)
            .await
    }

    /// `upgrade_module`.
    pub async fn upgrade_module(&self, module: &str, args: UpgradeArgs) -> Result<UpgradeReport> {
        self.call::<_, _, UpgradeError>("upgrade_module", (module, args), false)
            .await
    }

    /// `begin_import`: the module's lock as a lease while this client uploads.
    pub async fn begin_import(&self, module: &str, args: BeginImportArgs) -> Result<ImportLease> {
        self.call::<_, _, ImportError>("begin_import", (module, args), false)
            .await
    }

    /// `renew_import`: extends the lease.
    pub async fn renew_import(&self, operation_id: u64) -> Result<ImportLease> {
        self.call::<_, _, ImportError>("renew_import", (operation_id,), false)
            .await
    }

    /// `finish_import`: records the uploaded snapshot, loads it if asked, frees the module.
    pub async fn finish_import(
        &self,
        operation_id: u64,
        args: FinishImportArgs,
    ) -> Result<ImportReport> {
        self.call::<_, _, ImportError>("finish_import", (operation_id, args), false)
            .await
    }

    /// `abort_import`: closes the import as failed and frees the module.
    pub async fn abort_import(&self, operation_id: u64, reason: &str) -> Result<()> {
        self.call::<_, (), ImportError>("abort_import", (operation_id, reason), false)
            .await
    }

    /// A module's name from its name or its canister id.
    ///
    /// Only a canister id is looked up (with `list_modules`): that is an update calling
    /// `canister_status` per module, seconds on mainnet, so a name is passed through as is and
    /// the endpoint it goes to reports an unknown one.
    pub async fn module_name(&self, module: &str) -> Result<String> {
        if Principal::from_text(module).is_err() {
            check_module_arg(module)?;
            return Ok(module.to_string());
        }
        Ok(self.resolve(module).await?.name)
    }

    /// The registered module given by name or canister id, with its canister id and settings
    /// (always a `list_modules` call: use [`Self::module_name`] when the name is enough).
    pub async fn resolve(&self, module: &str) -> Result<ModuleInfo> {
        check_module_arg(module)?;
        let modules = self.list_modules().await?;
        find_module(&modules, module).cloned()
    }
}

/// A module argument is a canister id or a name the orchestrator could have registered; anything
/// else is a typo, refused as usage (exit 2) before any call.
pub fn check_module_arg(module: &str) -> Result<()> {
    if Principal::from_text(module).is_ok() {
        return Ok(());
    }
    validate_module_name(module).map_err(|reason| {
        usage(format!(
            "{} is neither a canister id nor a module name ({reason}); `keepsake module list` \
             shows the registered ones",
            echo(module)
        ))
    })
}

/// Finds a module by name, or by canister id when `module` is a principal.
pub fn find_module<'m>(modules: &'m [ModuleInfo], module: &str) -> Result<&'m ModuleInfo> {
    let by_id = Principal::from_text(module).ok();
    modules
        .iter()
        .find(|m| m.name == module || Some(m.canister_id) == by_id)
        .ok_or_else(|| match by_id {
            Some(id) => anyhow!(
                "canister {id} is not a module of this orchestrator; register it with \
                 `keepsake module add {id} --name <name>` (`keepsake module list` shows the registered ones)"
            ),
            None => anyhow!(
                "no module named {}; `keepsake module list` shows the registered ones",
                echo(module)
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(name: &str, id: Principal) -> ModuleInfo {
        ModuleInfo {
            name: name.into(),
            canister_id: id,
            kind: ModuleKind::Satellite,
            settings: ModuleSettings::default(),
            added_at: 0,
            added_by: Principal::anonymous(),
            busy_with: None,
            snapshot_storage: None,
            next_snapshot_at: None,
            status: None,
        }
    }

    #[test]
    fn modules_are_found_by_name_or_by_canister_id() {
        let id = Principal::from_text("rrkah-fqaaa-aaaaa-aaaaq-cai").unwrap();
        let modules = vec![module("app", id)];
        assert_eq!(find_module(&modules, "app").unwrap().name, "app");
        assert_eq!(find_module(&modules, &id.to_text()).unwrap().name, "app");
        let err = find_module(&modules, "ryjl3-tyaaa-aaaaa-aaaba-cai")
            .unwrap_err()
            .to_string();
        assert!(err.contains("keepsake module add"), "{err}");
        assert!(find_module(&modules, "nope").is_err());
    }
}
