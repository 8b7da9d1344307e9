//! The IC HTTP interface over a [`LocalNet`](crate::LocalNet), so ic-agent (and every tool built
//! on it) talks to localnet as to a replica (IC-FACTS §6).
//!
//! * [`keys`]: the root BLS12-381 key (certificates) and the node Ed25519 key (queries).
//! * `certificate`: state trees, hash trees and signed certificates.
//! * `auth`: envelope decoding, sender signatures, delegations and ingress expiry.
//! * [`replica`]: [`Replica`], the subnet with its ingress history and driver thread.
//! * [`rounds`]: execution in rounds, replies released a round later, a budget for
//!   management-canister work per round (like a replica's timing).
//! * [`handler`]: [`HttpHandler`], the endpoints as `http::Request` → `http::Response`.
//! * [`server`]: [`Server`], the handler on a TCP port (hyper on tokio).
//! * `transport` (feature `agent`): `InProcessTransport`, the handler as ic-agent middleware.
//!
//! ```no_run
//! use localnet::http::{Keys, ReplicaConfig, Server};
//! let server = Server::start(localnet::LocalNet::new(), Keys::random(), ReplicaConfig::default(), 0)
//!     .expect("bind");
//! println!("listening on {}", server.url());
//! ```

pub(crate) mod auth;
pub(crate) mod certificate;
pub mod handler;
pub mod keys;
pub mod replica;
pub mod rounds;
pub mod server;
#[cfg(feature = "agent")]
pub mod transport;

pub use handler::HttpHandler;
pub use keys::{KEY_SEED_FILE, Keys};
pub use replica::{Replica, ReplicaConfig};
pub use server::Server;
#[cfg(feature = "agent")]
pub use transport::InProcessTransport;

use http::StatusCode;

/// An HTTP error answer: status code and plain-text message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpError {
    /// The status code.
    pub status: StatusCode,
    /// The message (the body).
    pub message: String,
}

impl HttpError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        HttpError {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        HttpError::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn too_large(size: usize, max: usize) -> Self {
        HttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Request is too large. Message byte size {size} is larger than the max allowed {max}."
            ),
        )
    }
}
