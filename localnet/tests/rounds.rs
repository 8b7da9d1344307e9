//! Execution in rounds over HTTP (`ReplicaConfig::round`), driven by the real ic-agent: replies
//! come out in batches one round apart, a message arriving just after a round starts waits for
//! the round after next, and management-canister snapshot reads are limited per round.
//! Needs the probe canister: run scripts/build-canisters.sh first.

mod common;

use candid::Principal;
use ic_agent::Agent;
use ic_agent::identity::BasicIdentity;
use ic_utils::call::AsyncCall;
use ic_utils::interfaces::ManagementCanister;
use ic_utils::interfaces::management_canister::SnapshotDataKind;
use localnet::LocalNet;
use localnet::http::{Keys, ReplicaConfig, Server};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::agent::{agent_for, inc, install_probe, take_snapshot};
use common::probe_wasm;

const ROUND: Duration = Duration::from_millis(400);

/// A server in rounds of `ROUND`, an agent, and the probe installed.
async fn setup(subnet_instructions: u64) -> (Server, Agent, Principal) {
    let config = ReplicaConfig {
        round: ROUND,
        round_subnet_instructions: subnet_instructions,
        ..ReplicaConfig::default()
    };
    let server =
        Server::start(LocalNet::new(), Keys::from_seed(b"rounds"), config, 0).expect("start");
    let identity = Arc::new(BasicIdentity::from_raw_key(&[7; 32]));
    let agent = agent_for(&server.url(), identity).await;
    let id = install_probe(&agent, &probe_wasm()).await;
    (server, agent, id)
}

#[tokio::test(flavor = "multi_thread")]
async fn replies_to_messages_sent_within_one_round_arrive_together_and_a_late_one_waits_a_round_more()
 {
    let (_server, agent, id) = setup(u64::MAX).await;
    // A reply marks a release, i.e. a round boundary.
    inc(&agent, id).await;
    let boundary = Instant::now();
    // Sent just after the round started: executed at the next boundary, released at the one
    // after. The first of them is sent at once, the others spread over the next 150 ms.
    let sent: Vec<_> = (0..4u64)
        .map(|i| {
            let agent = agent.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50 * i)).await;
                let start = Instant::now();
                inc(&agent, id).await;
                (start, Instant::now())
            })
        })
        .collect();
    let mut done = Vec::new();
    for h in sent {
        done.push(h.await.unwrap());
    }
    let first = done.iter().map(|d| d.1).min().unwrap();
    let last = done.iter().map(|d| d.1).max().unwrap();
    // Together: one release for all four (machine noise aside, far less than a round apart).
    assert!(
        last - first < ROUND / 2,
        "replies spread over {:?}",
        last - first
    );
    // No earlier than the next round: the first one was sent right after a boundary, so it
    // waited for the next boundary (execution) and the one after (release).
    let waited = done[0].1 - done[0].0;
    assert!(
        waited >= ROUND + ROUND / 2,
        "a call sent just after a round started was answered after {waited:?}"
    );
    assert!(first - boundary >= ROUND + ROUND / 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_reads_beyond_the_rounds_budget_wait_for_later_rounds() {
    // Budget for two 2 MB reads (7 M instructions each) per round.
    let (_server, agent, id) = setup(14_000_000).await;
    let mgmt = ManagementCanister::create(&agent);
    mgmt.stop_canister(&id).call_and_wait().await.expect("stop");
    let snap = take_snapshot(&agent, id).await;
    let reads: Vec<_> = (0..6)
        .map(|_| {
            let agent = agent.clone();
            let snapshot_id = snap.clone();
            tokio::spawn(async move {
                let mgmt = ManagementCanister::create(&agent);
                let args = mgmt08::ReadCanisterSnapshotDataArgs {
                    canister_id: id,
                    snapshot_id,
                    kind: SnapshotDataKind::WasmModule { offset: 0, size: 1 },
                };
                mgmt.read_canister_snapshot_data(&args)
                    .call_and_wait()
                    .await
                    .expect("read");
                Instant::now()
            })
        })
        .collect();
    let mut done = Vec::new();
    for h in reads {
        done.push(h.await.unwrap());
    }
    done.sort();
    // Two per round: the six come out in three batches, each a round after the previous.
    let spread = done[5] - done[0];
    assert!(
        spread >= ROUND + ROUND / 2,
        "six reads with a budget of two per round all came back within {spread:?}"
    );
}
