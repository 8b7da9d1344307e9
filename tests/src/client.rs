//! The orchestrator's typed client (orchestrator-api's `client`) over the test subnet: a
//! [`Transport`] that sends each call through [`Subnet`] as a chosen caller, and the glue that
//! lets the synchronous tests use the client's async methods.
//!
//! A subnet call returns only when it is answered, so the client's futures are ready when first
//! polled; [`block_on`] polls once and refuses (panics) otherwise.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use candid::Principal;
use localnet::RejectResponse;
use orchestrator_api::client::{CallError, Client, Transport, TransportError};

use crate::Subnet;

/// Calls to one canister through the test subnet, as `caller`.
pub struct NetTransport<'a> {
    net: RefCell<&'a mut dyn Subnet>,
    canister: Principal,
    caller: Principal,
}

impl<'a> NetTransport<'a> {
    /// Calls go to `canister` on `net`, sent by `caller`.
    pub fn new(net: &'a mut dyn Subnet, canister: Principal, caller: Principal) -> Self {
        Self {
            net: RefCell::new(net),
            canister,
            caller,
        }
    }
}

/// The subnet's reject of a call, and who made the call (for the test's failure message).
#[derive(Debug)]
pub struct NetReject {
    /// Who called.
    pub caller: Principal,
    /// The reject.
    pub reject: RejectResponse,
    /// Its IC error code as text (`IC0512`).
    error_code: Option<String>,
}

impl NetReject {
    fn new(caller: Principal, reject: RejectResponse) -> Self {
        let error_code = reject.error_code.map(|c| c.to_string());
        Self {
            caller,
            reject,
            error_code,
        }
    }
}

impl fmt::Display for NetReject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} (caller {})", self.reject, self.caller)
    }
}

impl std::error::Error for NetReject {}

impl TransportError for NetReject {
    fn reject_code(&self) -> Option<u32> {
        Some(self.reject.reject_code as u32)
    }

    fn error_code(&self) -> Option<&str> {
        self.error_code.as_deref()
    }
}

impl Transport for NetTransport<'_> {
    type Error = NetReject;

    fn canister(&self) -> Principal {
        self.canister
    }

    async fn query(&self, method: &str, arg: Vec<u8>) -> Result<Vec<u8>, NetReject> {
        let mut net = self.net.borrow_mut();
        net.query_call(self.canister, self.caller, method, arg)
            .map_err(|reject| NetReject::new(self.caller, reject))
    }

    async fn update(&self, method: &str, arg: Vec<u8>) -> Result<Vec<u8>, NetReject> {
        let mut net = self.net.borrow_mut();
        net.update_call(self.canister, self.caller, method, arg)
            .map_err(|reject| NetReject::new(self.caller, reject))
    }
}

/// The orchestrator client the tests use.
pub type NetClient<'a> = Client<NetTransport<'a>>;

/// The output of a future that is ready when first polled (every call of the client over
/// [`NetTransport`]).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a call over the test subnet did not complete synchronously"),
    }
}

/// The endpoint's own answer (`Ok` or the orchestrator's error); a call that got no answer,
/// or one that does not decode, fails the test with "{canister}.{method} failed … (caller …)".
pub fn answer<T, E: fmt::Debug>(result: Result<T, CallError<E, NetReject>>) -> Result<T, E> {
    result.map_err(|e| {
        e.into_refusal().unwrap_or_else(|e| {
            let CallError {
                canister,
                method,
                failure,
            } = e;
            panic!("orchestrator {canister}.{method} failed: {failure:?}")
        })
    })
}

/// The subnet's reject of a call the test expects to be rejected; any answer fails the test.
pub fn rejected<T: fmt::Debug, E: fmt::Debug>(
    result: Result<T, CallError<E, NetReject>>,
) -> RejectResponse {
    match result {
        Err(CallError {
            failure: orchestrator_api::client::Failure::Transport(NetReject { reject, .. }),
            ..
        }) => reject,
        other => panic!("expected a reject, got {other:?}"),
    }
}
