//! Where the end-to-end suites run: localnet's server in the test process (the default), or an
//! external IC HTTP endpoint named by `KEEPSAKE_TEST_REPLICA=<url>` (dfx's or icp-cli's local
//! replica, PocketIC's HTTP gateway, or `localnet --port 0` started as its own process).
//!
//! Against an external endpoint the fixture does everything over HTTP, as a user's tooling
//! would: the root key is fetched, canisters are created with
//! `provisional_create_canister_with_cycles` and installed with `install_code`, and calls go
//! through ic-agent as the developer. Tests that need what only localnet offers (held
//! messages, fault injection, virtual time, the server's internals) start with
//! `localnet_only!("why")` and are skipped there, each with a line on stderr.

use std::future::Future;
use std::io::Write;
use std::sync::Arc;

use candid::Principal;
use ic_agent::Agent;
use ic_agent::identity::BasicIdentity;
use ic_utils::call::AsyncCall;
use ic_utils::interfaces::ManagementCanister;
use localnet::http::{Replica, Server};

/// The variable naming an external endpoint.
pub const REPLICA_VAR: &str = "KEEPSAKE_TEST_REPLICA";

/// The external endpoint the suites run against, if `KEEPSAKE_TEST_REPLICA` names one.
pub fn external_url() -> Option<String> {
    std::env::var(REPLICA_VAR)
        .ok()
        .map(|url| url.trim_end_matches('/').to_string())
        .filter(|url| !url.is_empty())
}

/// True (after saying so) when the calling test needs localnet and the suites run against an
/// external endpoint. Used through `localnet_only!`.
pub fn skip_without_localnet(why: &str) -> bool {
    let Some(url) = external_url() else {
        return false;
    };
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    // Straight to the process's stderr: libtest captures `eprintln!` of passing tests, and a
    // skip must show in every run (scripts/test-replica.sh counts these lines per binary).
    let _ = writeln!(std::io::stderr(), "skipped against {url}: {test}: {why}");
    true
}

/// Skips the calling test against an external endpoint, naming what it needs from localnet.
#[allow(unused_macros)] // each test file compiles the fixture; not every one skips
macro_rules! localnet_only {
    ($why:expr) => {
        if $crate::common::replica::skip_without_localnet($why) {
            return;
        }
    };
}
pub(crate) use localnet_only;

/// The network a test's `Env` talks to. Keeps the shape of `localnet::http::Server` that the
/// tests use (`url()`, `replica()`, `stop()`), so a test reads the same either way.
pub enum Network {
    /// localnet's server in the test process.
    Local(Server),
    /// An external endpoint, reached over HTTP only.
    External(External),
}

impl Network {
    /// The endpoint's URL, as `--network` takes it.
    pub fn url(&self) -> String {
        match self {
            Network::Local(server) => server.url(),
            Network::External(ext) => ext.url.clone(),
        }
    }

    /// localnet's replica, for what only localnet offers. Against an external endpoint this is
    /// a bug in the test: it should have started with `localnet_only!`.
    pub fn replica(&self) -> &Replica {
        match self {
            Network::Local(server) => server.replica(),
            Network::External(ext) => panic!(
                "this test uses localnet's internals but runs against {}: start it with \
                 localnet_only!(\"why\")",
                ext.url
            ),
        }
    }

    /// Requests localnet's server has served, by HTTP version: `(HTTP/1.x, HTTP/2)`.
    pub fn requests_by_version(&self) -> (u64, u64) {
        match self {
            Network::Local(server) => server.requests_by_version(),
            Network::External(ext) => panic!(
                "only localnet's server counts requests, not {}: mark the test localnet_only!",
                ext.url
            ),
        }
    }

    /// Stops localnet's server (an external endpoint is not ours to stop).
    pub fn stop(self) {
        match self {
            Network::Local(server) => server.stop(),
            Network::External(ext) => panic!(
                "cannot stop the external endpoint {}: mark the test localnet_only!",
                ext.url
            ),
        }
    }

    /// The HTTP client of an external endpoint, if that is where the tests run.
    pub fn external(&self) -> Option<&External> {
        match self {
            Network::Local(_) => None,
            Network::External(ext) => Some(ext),
        }
    }
}

/// An external endpoint and an agent on it with the developer's identity.
pub struct External {
    pub url: String,
    agent: Agent,
    runtime: tokio::runtime::Runtime,
}

impl External {
    /// Connects as `pem`'s identity and fetches the root key (a local replica's own).
    pub fn connect(url: &str, pem: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let identity = BasicIdentity::from_pem(pem.as_bytes()).expect("a test identity");
        let agent = Agent::builder()
            .with_url(url)
            .with_arc_identity(Arc::new(identity))
            .build()
            .unwrap_or_else(|e| panic!("{REPLICA_VAR}={url} is not a usable URL: {e}"));
        let ext = External {
            url: url.to_string(),
            agent,
            runtime,
        };
        ext.block_on(ext.agent.fetch_root_key())
            .unwrap_or_else(|e| {
                panic!("cannot fetch the root key of {url} ({e}); is the replica running?")
            });
        ext
    }

    /// Runs `f` to completion on this endpoint's runtime, on a thread of its own so that a
    /// test already inside a tokio runtime (the browser test) can call it too.
    fn block_on<F>(&self, f: F) -> F::Output
    where
        F: Future + Send,
        F::Output: Send,
    {
        std::thread::scope(|s| {
            s.spawn(|| self.runtime.block_on(f))
                .join()
                .expect("the call's thread panicked")
        })
    }

    fn management(&self) -> ManagementCanister<'_> {
        ManagementCanister::create(&self.agent)
    }

    /// A new canister (provisional cycles, as local replicas allow) controlled by the
    /// developer, running `wasm` initialised with `arg`.
    pub fn create_and_install(&self, wasm: &[u8], arg: Vec<u8>) -> Principal {
        self.block_on(async {
            let mgmt = self.management();
            let (id,) = mgmt
                .create_canister()
                .as_provisional_create_with_amount(None)
                .call_and_wait()
                .await
                .unwrap_or_else(|e| panic!("provisional_create_canister_with_cycles: {e}"));
            mgmt.install_code(&id, wasm)
                .with_raw_arg(arg)
                .call_and_wait()
                .await
                .unwrap_or_else(|e| panic!("install_code on {id}: {e}"));
            id
        })
    }

    /// Sets `canister`'s controllers (the developer must control it).
    pub fn set_controllers(&self, canister: Principal, controllers: Vec<Principal>) {
        self.block_on(async {
            let mgmt = self.management();
            let mut call = mgmt.update_settings(&canister);
            for c in controllers {
                call = call.with_controller(c);
            }
            call.call_and_wait()
                .await
                .unwrap_or_else(|e| panic!("update_settings of {canister}: {e}"))
        })
    }

    /// The ids of `canister`'s snapshots, as the management canister lists them.
    pub fn snapshot_ids(&self, canister: Principal) -> Vec<Vec<u8>> {
        self.block_on(async {
            let (list,) = self
                .management()
                .list_canister_snapshots(&canister)
                .call_and_wait()
                .await
                .unwrap_or_else(|e| panic!("list_canister_snapshots of {canister}: {e}"));
            list.into_iter().map(|s| s.id).collect()
        })
    }

    /// An update call as the developer.
    pub fn update(&self, canister: Principal, method: &str, arg: Vec<u8>) -> Vec<u8> {
        self.block_on(
            self.agent
                .update(&canister, method)
                .with_arg(arg)
                .call_and_wait(),
        )
        .unwrap_or_else(|e| panic!("{canister}.{method} failed: {e}"))
    }

    /// A query call as the developer.
    pub fn query(&self, canister: Principal, method: &str, arg: Vec<u8>) -> Vec<u8> {
        self.block_on(self.agent.query(&canister, method).with_arg(arg).call())
            .unwrap_or_else(|e| panic!("{canister}.{method} failed: {e}"))
    }
}
