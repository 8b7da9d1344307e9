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
    /// The IC's reject code, when the call was rejected (none: it got no answer at all): 1
    /// system fatal, 2 transient, 3 destination invalid, 4 canister reject, 5 canister error,
    /// 6 system unknown — the numbers [`crate::CallFailure::reject_code`] also reports.
    fn reject_code(&self) -> Option<u32>;

    /// The IC's error code (`IC0512`, …), when the reject carries one.
    fn error_code(&self) -> Option<&str>;
}
