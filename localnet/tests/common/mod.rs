//! Shared fixture for localnet's tests: loads the probe wasm built by
//! scripts/build-canisters.sh and wraps candid calls with panics that name the call; starts the
//! `localnet` binary; `agent` holds what the suites over HTTP (ic-agent) share.
#![allow(dead_code)]

use candid::utils::{ArgumentEncoder, encode_args};
use candid::{CandidType, Decode, Principal};
use localnet::{LocalNet, RejectResponse};
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use std::sync::OnceLock;

pub mod agent;

/// Reads target/canisters/<name>.wasm.gz once per process.
pub fn wasm(name: &str) -> Vec<u8> {
    static CACHE: OnceLock<std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>> =
        OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap();
    cache
        .entry(name.to_string())
        .or_insert_with(|| {
            let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../target/canisters")
                .join(format!("{name}.wasm.gz"));
            std::fs::read(&path).unwrap_or_else(|e| {
                panic!(
                    "{} is missing ({e}): run scripts/build-canisters.sh first",
                    path.display()
                )
            })
        })
        .clone()
}

pub fn probe_wasm() -> Vec<u8> {
    wasm("localnet-probe")
}

pub fn probe_v2_wasm() -> Vec<u8> {
    wasm("localnet-probe-v2")
}

/// Starts the `localnet` binary with `args`; returns it and its URL (from its first stdout
/// line, "listening on …"). Killed when dropped.
pub async fn start_binary(args: &[&str]) -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_localnet"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start localnet");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().expect("a first line");
    let url = first
        .strip_prefix("listening on ")
        .expect("the address line")
        .to_string();
    (child, url)
}

/// A user who controls nothing.
pub fn stranger() -> Principal {
    Principal::self_authenticating(b"stranger")
}

/// The default controller of canisters created by the fixture.
pub fn admin() -> Principal {
    Principal::anonymous()
}

pub struct Fixture {
    pub net: LocalNet,
}

impl Fixture {
    pub fn new() -> Self {
        Fixture {
            net: LocalNet::new(),
        }
    }

    /// A new canister running the probe, controlled by [`admin`].
    pub fn probe(&mut self) -> Principal {
        let id = self.net.create_canister();
        self.net
            .install_canister(id, probe_wasm(), encode_args((None::<u64>,)).unwrap(), None);
        id
    }

    pub fn try_update<A: ArgumentEncoder, R: CandidType + DeserializeOwned>(
        &mut self,
        canister: Principal,
        method: &str,
        args: A,
    ) -> Result<R, RejectResponse> {
        let bytes = self
            .net
            .update_call(canister, admin(), method, encode_args(args).unwrap())?;
        Ok(Decode!(&bytes, R).unwrap_or_else(|e| panic!("{canister}.{method}: bad reply: {e}")))
    }

    pub fn update<A: ArgumentEncoder, R: CandidType + DeserializeOwned>(
        &mut self,
        canister: Principal,
        method: &str,
        args: A,
    ) -> R {
        self.try_update(canister, method, args)
            .unwrap_or_else(|e| panic!("{canister}.{method} failed: {e} (caller {})", admin()))
    }

    pub fn query<A: ArgumentEncoder, R: CandidType + DeserializeOwned>(
        &mut self,
        canister: Principal,
        method: &str,
        args: A,
    ) -> R {
        let bytes = self
            .net
            .query_call(canister, admin(), method, encode_args(args).unwrap())
            .unwrap_or_else(|e| panic!("{canister}.{method} (query) failed: {e}"));
        Decode!(&bytes, R).unwrap_or_else(|e| panic!("{canister}.{method}: bad reply: {e}"))
    }

    pub fn counter(&mut self, canister: Principal) -> u64 {
        self.query(canister, "get", ())
    }
}

/// What the probe's `call` / `call_bounded` return.
pub type CallOutcome = Result<serde_bytes::ByteBuf, (u32, String)>;
