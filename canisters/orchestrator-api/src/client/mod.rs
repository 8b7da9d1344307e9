//! One typed client for the orchestrator's interface (feature `client`), shared by the CLI, its
//! console and the integration tests, so that each endpoint's method name, argument types and
//! result type are written once: in the table in `endpoints.rs`.
//!
//! The client only encodes arguments and decodes replies; how bytes reach the canister is a
//! [`Transport`]: ic-agent for the CLI ([`AgentTransport`], feature `agent`), localnet or
//! PocketIC for the tests (in `tests/`, since this crate must not depend on localnet). Neither
//! feature is on by default, so the canister's build pulls neither.

mod endpoints;
mod transport;

#[cfg(feature = "agent")]
mod agent;

#[cfg(feature = "agent")]
pub use agent::{AgentCallError, AgentTransport, CallStage};
pub use endpoints::{ENDPOINTS, calls};
pub use transport::{Transport, TransportError};

use std::fmt;
use std::marker::PhantomData;

use candid::utils::ArgumentEncoder;
use candid::{CandidType, Principal};
use serde::de::DeserializeOwned;

/// Whether an endpoint is a query or an update (how the transport must send it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A query: answered by one replica, changes nothing.
    Query,
    /// An update: goes through consensus.
    Update,
}

/// One endpoint of the orchestrator's interface, as the client knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// The method name.
    pub name: &'static str,
    /// Query or update.
    pub mode: Mode,
}

/// The orchestrator behind `transport`, with one async method per endpoint.
#[derive(Debug, Clone)]
pub struct Client<T> {
    transport: T,
}

impl<T: Transport> Client<T> {
    /// A client that sends its calls through `transport`.
    pub fn new(transport: T) -> Self {
        Self { transport }
    }

    /// The transport.
    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The orchestrator's canister id.
    pub fn canister(&self) -> Principal {
        self.transport.canister()
    }

    /// Sends `call` (of endpoint `method`, or why it could not be encoded) and decodes the
    /// endpoint's `Result<R, E>`.
    async fn send<R, E>(
        &self,
        method: &'static str,
        call: Result<Call<R, E>, candid::Error>,
    ) -> Result<R, CallError<E, T::Error>>
    where
        R: CandidType + DeserializeOwned,
        E: CandidType + DeserializeOwned,
    {
        let fail = |failure| CallError {
            canister: self.transport.canister(),
            method,
            failure,
        };
        let call = call.map_err(|e| fail(Failure::Encode(e)))?;
        let reply = match call.mode {
            Mode::Query => self.transport.query(method, call.arg.clone()).await,
            Mode::Update => self.transport.update(method, call.arg.clone()).await,
        }
        .map_err(|e| fail(Failure::Transport(e)))?;
        call.decode(&reply)
            .map_err(|e| fail(Failure::Decode(e)))?
            .map_err(|e| fail(Failure::Refused(e)))
    }
}

/// One call of an endpoint, encoded: what a transport sends, and how to read its reply.
/// [`calls`] makes them; tests that submit calls to a subnet themselves (to interleave or
/// hold them) use them directly.
#[derive(Debug, Clone)]
pub struct Call<R, E> {
    /// The method.
    pub method: &'static str,
    /// Query or update.
    pub mode: Mode,
    /// The candid-encoded arguments.
    pub arg: Vec<u8>,
    answer: PhantomData<fn() -> Result<R, E>>,
}

impl<R, E> Call<R, E>
where
    R: CandidType + DeserializeOwned,
    E: CandidType + DeserializeOwned,
{
    fn new(
        method: &'static str,
        mode: Mode,
        args: impl ArgumentEncoder,
    ) -> Result<Self, candid::Error> {
        Ok(Self {
            method,
            mode,
            arg: candid::encode_args(args)?,
            answer: PhantomData,
        })
    }

    /// The endpoint's answer in `reply`.
    pub fn decode(&self, reply: &[u8]) -> Result<Result<R, E>, candid::Error> {
        candid::decode_one(reply)
    }
}

/// A call that did not end in the endpoint's `Ok`: which call, and what went wrong.
#[derive(Debug)]
pub struct CallError<E, X> {
    /// The orchestrator called.
    pub canister: Principal,
    /// The method called.
    pub method: &'static str,
    /// What went wrong.
    pub failure: Failure<E, X>,
}

/// What went wrong with a call.
#[derive(Debug)]
pub enum Failure<E, X> {
    /// The orchestrator answered with the endpoint's error (its message says what to do).
    Refused(E),
    /// No answer: the transport failed or the IC rejected the call (see its reject code).
    Transport(X),
    /// The arguments could not be encoded (a bug in the caller's values).
    Encode(candid::Error),
    /// The reply is not this endpoint's result type: not a Keepsake orchestrator of this
    /// version.
    Decode(candid::Error),
}

impl<E, X> CallError<E, X> {
    /// The endpoint's own error, when the orchestrator answered with one; the call error
    /// otherwise.
    pub fn into_refusal(self) -> Result<E, Self> {
        match self.failure {
            Failure::Refused(e) => Ok(e),
            failure => Err(Self { failure, ..self }),
        }
    }
}

impl<E: fmt::Display, X: fmt::Display> fmt::Display for CallError<E, X> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            canister, method, ..
        } = self;
        match &self.failure {
            Failure::Refused(e) => write!(f, "orchestrator {canister}.{method} refused: {e}"),
            Failure::Transport(e) => write!(f, "orchestrator {canister}.{method} failed: {e}"),
            Failure::Encode(e) => write!(
                f,
                "cannot encode the arguments of orchestrator {canister}.{method}: {e}"
            ),
            Failure::Decode(e) => write!(
                f,
                "orchestrator {canister}.{method} answered something that is not its result \
                 type; is it a Keepsake orchestrator of the same version? ({e})"
            ),
        }
    }
}

impl<E, X> std::error::Error for CallError<E, X>
where
    E: std::error::Error + 'static,
    X: std::error::Error + 'static,
{
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.failure {
            Failure::Refused(e) => Some(e),
            Failure::Transport(e) => Some(e),
            Failure::Encode(e) | Failure::Decode(e) => Some(e),
        }
    }
}
