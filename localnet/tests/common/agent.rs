//! What the suites that drive localnet over HTTP with the real ic-agent share (`http.rs`,
//! `rounds.rs`, `durability.rs`; `examples/http_bench.rs` includes this file too): an agent
//! that trusts the server's root key, the probe installed through the management canister,
//! the probe's counter, and a snapshot.

use std::sync::Arc;

use candid::{Decode, Encode, Principal};
use ic_agent::{Agent, Identity};
use ic_utils::call::AsyncCall;
use ic_utils::interfaces::ManagementCanister;

/// An agent for `url` as `identity` that trusts the server's root key (a local replica's).
pub async fn agent_for(url: &str, identity: Arc<dyn Identity>) -> Agent {
    let agent = Agent::builder()
        .with_url(url)
        .with_arc_identity(identity)
        .build()
        .expect("an agent");
    agent.fetch_root_key().await.expect("fetch_root_key");
    agent
}

/// A new empty canister (provisional cycles) controlled by the agent's identity.
pub async fn create_canister(agent: &Agent) -> Principal {
    let (id,) = ManagementCanister::create(agent)
        .create_canister()
        .as_provisional_create_with_amount(None)
        .call_and_wait()
        .await
        .expect("provisional_create_canister_with_cycles");
    id
}

/// A new canister (provisional cycles) controlled by the agent's identity, running the probe
/// `wasm` with no initial counter.
pub async fn install_probe(agent: &Agent, wasm: &[u8]) -> Principal {
    let id = create_canister(agent).await;
    ManagementCanister::create(agent)
        .install_code(&id, wasm)
        .with_raw_arg(Encode!(&Option::<u64>::None).unwrap())
        .call_and_wait()
        .await
        .expect("install_code");
    id
}

/// `inc` on the probe `id`: its counter after.
pub async fn inc(agent: &Agent, id: Principal) -> u64 {
    probe_counter(agent, id, "inc", false).await
}

/// The probe's counter (its query `get`).
pub async fn counter(agent: &Agent, id: Principal) -> u64 {
    probe_counter(agent, id, "get", true).await
}

/// Calls the probe's `method` (a query or an update) with no arguments; the counter it
/// answers.
async fn probe_counter(agent: &Agent, id: Principal, method: &str, query: bool) -> u64 {
    let arg = Encode!().unwrap();
    let reply = if query {
        agent.query(&id, method).with_arg(arg).call().await
    } else {
        agent
            .update(&id, method)
            .with_arg(arg)
            .call_and_wait()
            .await
    };
    Decode!(&reply.unwrap_or_else(|e| panic!("{method}: {e}")), u64).unwrap()
}

/// Takes a new snapshot of `id` (replacing none); returns its id.
pub async fn take_snapshot(agent: &Agent, id: Principal) -> Vec<u8> {
    let (snapshot,) = ManagementCanister::create(agent)
        .take_canister_snapshot(&mgmt08::TakeCanisterSnapshotArgs {
            canister_id: id,
            replace_snapshot: None,
            uninstall_code: None,
            sender_canister_version: None,
        })
        .call_and_wait()
        .await
        .expect("take_canister_snapshot");
    snapshot.id
}

/// The ids of `id`'s snapshots, as the management canister lists them.
pub async fn snapshot_ids(agent: &Agent, id: Principal) -> Vec<Vec<u8>> {
    let (list,) = ManagementCanister::create(agent)
        .list_canister_snapshots(&id)
        .call_and_wait()
        .await
        .expect("list_canister_snapshots");
    list.into_iter().map(|s| s.id).collect()
}

/// Loads snapshot `snapshot` into `id`.
pub async fn load_snapshot(agent: &Agent, id: Principal, snapshot: Vec<u8>) {
    ManagementCanister::create(agent)
        .load_canister_snapshot(&mgmt08::LoadCanisterSnapshotArgs {
            canister_id: id,
            snapshot_id: snapshot,
            sender_canister_version: None,
        })
        .call_and_wait()
        .await
        .expect("load_canister_snapshot");
}
