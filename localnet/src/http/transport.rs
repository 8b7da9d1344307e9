//! [`InProcessTransport`]: ic-agent's HTTP middleware answered by an [`HttpHandler`] directly,
//! so library tests run the whole interface (envelopes, signatures, certificates) without TCP.
//!
//! ```ignore
//! let replica = Replica::new(LocalNet::new(), Keys::from_seed(b"t"), ReplicaConfig::default())?;
//! let agent = Agent::builder()
//!     .with_url("http://localnet.invalid")
//!     .with_arc_http_middleware(Arc::new(InProcessTransport::new(replica.handler())))
//!     .build()?;
//! ```

use super::HttpHandler;
use bytes::Bytes;
use ic_agent::AgentError;
use ic_agent::agent::HttpService;

/// Sends ic-agent's requests to a handler in the same process.
#[derive(Clone, Debug)]
pub struct InProcessTransport {
    handler: HttpHandler,
}

impl InProcessTransport {
    /// A transport over `handler` (see [`super::Replica::handler`]).
    pub fn new(handler: HttpHandler) -> Self {
        InProcessTransport { handler }
    }
}

#[async_trait::async_trait]
impl HttpService for InProcessTransport {
    async fn call<'a>(
        &'a self,
        req: &'a (dyn Fn() -> Result<http::Request<Bytes>, AgentError> + Send + Sync),
        _max_retries: usize,
        _size_limit: Option<usize>,
    ) -> Result<http::Response<Bytes>, AgentError> {
        Ok(self.handler.handle(req()?).await)
    }
}
