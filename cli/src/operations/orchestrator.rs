//! The orchestrator as the CLI and the console call it: orchestrator-api's typed client over
//! ic-agent ([`Orchestrator`] derefs to it, one method per endpoint), and [`Answered::answered`],
//! which turns a call's outcome into what the user reads.
//!
//! Every endpoint answers `Result<T, E>` with a thiserror enum whose message already says what
//! to do; `answered` turns `Err(E)` into an `anyhow::Error` holding it (a usage error, exit 2,
//! when the variant says the user's input was refused: `refusal`), and a call that got no
//! answer into an error that says what became of it: not sent (nothing changed), reply lost
//! (outcome unknown, and how to check), or an answer that is not a Keepsake orchestrator's.

use std::ops::Deref;

use anyhow::{Result, anyhow};
use candid::Principal;
use ic_agent::Agent;
use orchestrator_api::client::{
    AgentCallError, AgentTransport, CallError, CallStage, Client, Failure,
};
use orchestrator_api::*;

use crate::error::{echo, usage};
use crate::operations::agent_error::{self, Lost};
use crate::operations::refusal::Refusal;

/// The orchestrator at `id`, called through an agent.
pub struct Orchestrator<'a> {
    client: Client<AgentTransport<'a>>,
    /// Its canister id.
    pub id: Principal,
}

impl<'a> Orchestrator<'a> {
    /// A client for the orchestrator `id`.
    pub fn new(agent: &'a Agent, id: Principal) -> Self {
        Self {
            client: Client::new(AgentTransport::new(agent, id)),
            id,
        }
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
        let modules = self.list_modules().await.answered()?;
        find_module(&modules, module).cloned()
    }

    /// `take_snapshot` with `label`, unpinned: the snapshot an export or a backup reads.
    pub async fn take_labelled(&self, module: &str, label: &str) -> Result<SnapshotInfo> {
        let args = TakeSnapshotArgs {
            label: Some(label.into()),
            pin: None,
        };
        self.take_snapshot(module, args).await.answered()
    }

    /// `pin_snapshot` (`pin`) or `unpin_snapshot`: the snapshots it changed.
    pub async fn set_pinned(
        &self,
        module: &str,
        selector: SnapshotSelector,
        pin: bool,
    ) -> Result<Vec<SnapshotInfo>> {
        if pin {
            self.pin_snapshot(module, selector).await.answered()
        } else {
            self.unpin_snapshot(module, selector).await.answered()
        }
    }

    /// `pin_group_snapshot` (`pin`) or `unpin_group_snapshot`.
    pub async fn set_group_pinned(
        &self,
        group: &str,
        id: u64,
        pin: bool,
    ) -> Result<GroupSnapshotInfo> {
        if pin {
            self.pin_group_snapshot(group, id).await.answered()
        } else {
            self.unpin_group_snapshot(group, id).await.answered()
        }
    }
}

impl<'a> Deref for Orchestrator<'a> {
    type Target = Client<AgentTransport<'a>>;

    fn deref(&self) -> &Self::Target {
        &self.client
    }
}

/// What a call to the orchestrator means for the user.
pub trait Answered<T> {
    /// The endpoint's value, or an error that says what happened and what to do.
    fn answered(self) -> Result<T>;
}

impl<T, E: Refusal> Answered<T> for std::result::Result<T, CallError<E, AgentCallError>> {
    fn answered(self) -> Result<T> {
        let CallError {
            canister,
            method,
            failure,
        } = match self {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        Err(match failure {
            Failure::Refused(e) => refused(canister, e),
            Failure::Transport(e) => call_failed(canister, method, e),
            Failure::Encode(e) => anyhow!(e).context("cannot encode the arguments"),
            Failure::Decode(e) => anyhow!(e).context(format!(
                "orchestrator {canister}.{method} answered something this keepsake does not \
                 understand; is it a Keepsake orchestrator of the same version? Check --orchestrator"
            )),
        })
    }
}

/// The error of an endpoint's refusal: how to become an admin, a usage error for a value the
/// user typed, or the refusal's own message.
fn refused<E: Refusal>(orchestrator: Principal, e: E) -> anyhow::Error {
    if let Some(caller) = e.unauthorized() {
        anyhow!(
            "{caller} is not an admin of this orchestrator ({orchestrator}); an admin (or a \
             controller of the orchestrator) can make it one with `keepsake admin add {caller}`, \
             or use an identity that is one (--identity, --pem)"
        )
    } else if e.is_bad_input() {
        usage(e.to_string())
    } else {
        anyhow!(e)
    }
}

/// The error of a call that got no reply from the orchestrator: what happened to the call
/// (from the transport's error kind and the reject codes), and what to do.
fn call_failed(id: Principal, method: &str, e: AgentCallError) -> anyhow::Error {
    let AgentCallError { stage, error } = e;
    let lost = agent_error::lost_in_transport(&error, stage == CallStage::Poll);
    let not_found = agent_error::is_missing_target(&error);
    let advice = match (lost, stage) {
        (Some(Lost::NotSent), _) => format!(
            "cannot connect to the network to call orchestrator {id}.{method}; nothing was \
             sent, so nothing changed. Is the network up? Check --network"
        ),
        (Some(Lost::ReplyLost), CallStage::Query) => format!(
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
    agent_error::describe(error).context(advice)
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
