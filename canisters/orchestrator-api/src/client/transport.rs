//! How the client's bytes reach the orchestrator: a small async trait, one implementation per
//! network (ic-agent in `agent.rs`; localnet and PocketIC in the integration tests).

use candid::Principal;

/// Sends one encoded call to one canister and returns its reply bytes.
///
/// `async fn` in a public trait cannot promise `Send` futures to generic callers; that is
/// deliberate: the tests' localnet transport is single-threaded, and a concrete transport's
/// futures keep their own `Send`-ness where they are used (the CLI's ic-agent ones are `Send`,
/// which the console's axum handlers need).
#[allow(async_fn_in_trait)]
pub trait Transport {
    /// Why a call got no reply.
    type Error: TransportError;

    /// The canister every call goes to.
    fn canister(&self) -> Principal;

    /// Sends a query.
    async fn query(&self, method: &str, arg: Vec<u8>) -> Result<Vec<u8>, Self::Error>;

    /// Sends an update and waits for its reply.
    async fn update(&self, method: &str, arg: Vec<u8>) -> Result<Vec<u8>, Self::Error>;
}

/// A transport's failure, typed enough to decide from codes (never from message text).
pub trait TransportError: std::error::Error + Send + Sync + 'static {
    /// The IC's reject code, when the call was rejected (none: it got no answer at all).
    fn reject_code(&self) -> Option<RejectCode>;

    /// The IC's error code (`IC0512`, …), when the reject carries one.
    fn error_code(&self) -> Option<&str>;
}

/// The IC's reject codes (interface specification, "Reject codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectCode {
    /// 1: fatal system error.
    SysFatal = 1,
    /// 2: transient system error; a retry may succeed.
    SysTransient = 2,
    /// 3: no such canister or method, or it cannot take the message.
    DestinationInvalid = 3,
    /// 4: the canister rejected the call explicitly.
    CanisterReject = 4,
    /// 5: the canister trapped or otherwise failed.
    CanisterError = 5,
    /// 6: the outcome is unknown.
    SysUnknown = 6,
}
