//! The client's transport over ic-agent (feature `agent`), used by the `keepsake` CLI and its
//! console. Updates go in two steps, submit then poll, so that a failed connection is known to
//! have happened before anything was sent or after (when the call may have run).

use candid::Principal;
use ic_agent::agent::CallResponse;
use ic_agent::{Agent, AgentError};

use super::{Transport, TransportError};

/// The orchestrator `canister`, reached through `agent`.
#[derive(Debug, Clone, Copy)]
pub struct AgentTransport<'a> {
    agent: &'a Agent,
    canister: Principal,
}

impl<'a> AgentTransport<'a> {
    /// Calls go to `canister` through `agent`.
    pub fn new(agent: &'a Agent, canister: Principal) -> Self {
        Self { agent, canister }
    }

    /// The agent.
    pub fn agent(&self) -> &'a Agent {
        self.agent
    }
}

/// How far a call had got when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStage {
    /// A query: changes nothing, whatever happened.
    Query,
    /// An update being submitted.
    Submit,
    /// An update the network accepted, being polled for its result.
    Poll,
}

/// An ic-agent call that got no reply, and how far it had got.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct AgentCallError {
    /// How far the call had got.
    pub stage: CallStage,
    /// The agent's error.
    #[source]
    pub error: AgentError,
}

impl AgentCallError {
    fn reject(&self) -> Option<&ic_agent::agent::RejectResponse> {
        match &self.error {
            AgentError::CertifiedReject { reject, .. }
            | AgentError::UncertifiedReject { reject, .. } => Some(reject),
            _ => None,
        }
    }
}

/// Wraps an agent error of a call that failed at `stage`.
fn failed(stage: CallStage) -> impl FnOnce(AgentError) -> AgentCallError {
    move |error| AgentCallError { stage, error }
}

impl TransportError for AgentCallError {
    fn reject_code(&self) -> Option<u32> {
        self.reject().map(|r| r.reject_code as u32)
    }

    fn error_code(&self) -> Option<&str> {
        self.reject().and_then(|r| r.error_code.as_deref())
    }
}

impl Transport for AgentTransport<'_> {
    type Error = AgentCallError;

    fn canister(&self) -> Principal {
        self.canister
    }

    async fn query(&self, method: &str, arg: Vec<u8>) -> Result<Vec<u8>, AgentCallError> {
        self.agent
            .query(&self.canister, method)
            .with_arg(arg)
            .call()
            .await
            .map_err(failed(CallStage::Query))
    }

    async fn update(&self, method: &str, arg: Vec<u8>) -> Result<Vec<u8>, AgentCallError> {
        let submitted = self
            .agent
            .update(&self.canister, method)
            .with_arg(arg)
            .call()
            .await
            .map_err(failed(CallStage::Submit))?;
        match submitted {
            CallResponse::Response((reply, _certificate)) => Ok(reply),
            CallResponse::Poll(request_id) => self
                .agent
                .wait(&request_id, self.canister)
                .await
                .map(|(reply, _certificate)| reply)
                .map_err(failed(CallStage::Poll)),
        }
    }
}
