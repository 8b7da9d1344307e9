//! `localnet --state-dir`: an update whose reply a client received survives `kill -9`, and
//! SIGTERM / SIGINT save and exit. The real binary, driven by ic-agent over HTTP.
//! Needs the probe canister: run scripts/build-canisters.sh first.

mod common;

use candid::{Decode, Encode, Principal};
use ic_agent::Agent;
use ic_agent::identity::BasicIdentity;
use serde_bytes::ByteBuf;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::process::Child;

use common::agent::{
    agent_for, counter, install_probe, load_snapshot, snapshot_ids, take_snapshot,
};
use common::{probe_wasm, start_binary};

/// A fresh state directory under the system's temp dir, removed on drop.
struct StateDir(PathBuf);

impl StateDir {
    fn new(name: &str) -> StateDir {
        let dir = std::env::temp_dir().join(format!("localnet-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        StateDir(dir)
    }
}

impl Drop for StateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts the binary on a free port with `dir` as its state directory, in rounds of
/// `round_ms` (0: no rounds).
async fn start(dir: &Path, round_ms: u64) -> (Child, String) {
    spawn(dir, round_ms, &["--seed", "durability"]).await
}

/// Starts the binary like [`start`], with `extra` arguments instead of a fixed seed.
async fn spawn(dir: &Path, round_ms: u64, extra: &[&str]) -> (Child, String) {
    let round_ms = round_ms.to_string();
    let dir = dir.to_str().expect("a UTF-8 temp path");
    let mut args = vec!["--port", "0"];
    args.extend_from_slice(extra);
    args.extend(["--state-dir", dir, "--round-ms", &round_ms]);
    start_binary(&args).await
}

/// An agent as the test's identity, trusting the server's root key.
async fn agent(url: &str) -> Agent {
    agent_for(url, Arc::new(BasicIdentity::from_raw_key(&[9; 32]))).await
}

/// Creates a probe canister controlled by the agent.
async fn probe(agent: &Agent) -> Principal {
    install_probe(agent, &probe_wasm()).await
}

async fn update(agent: &Agent, id: Principal, method: &str, arg: Vec<u8>) -> Vec<u8> {
    agent
        .update(&id, method)
        .with_arg(arg)
        .call_and_wait()
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

async fn query(agent: &Agent, id: Principal, method: &str, arg: Vec<u8>) -> Vec<u8> {
    agent
        .query(&id, method)
        .with_arg(arg)
        .call()
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"))
}

/// 3 MB of a pattern: several pages of stable memory, and a different one per `seed`.
fn pattern(seed: u8) -> Vec<u8> {
    (0..3_000_000u32).map(|i| (i % 253) as u8 ^ seed).collect()
}

/// Writes `pattern(seed)` at offset 1000 and counts one `inc`; returns the counter.
async fn write_state(agent: &Agent, id: Principal, seed: u8) -> u64 {
    // Under the 2 MiB ingress limit: two writes.
    let bytes = pattern(seed);
    let (a, b) = bytes.split_at(1_500_000);
    update(
        agent,
        id,
        "stable_write",
        Encode!(&1000u64, &ByteBuf::from(a.to_vec())).unwrap(),
    )
    .await;
    update(
        agent,
        id,
        "stable_write",
        Encode!(&1_501_000u64, &ByteBuf::from(b.to_vec())).unwrap(),
    )
    .await;
    Decode!(&update(agent, id, "inc", Encode!().unwrap()).await, u64).unwrap()
}

async fn read_stable(agent: &Agent, id: Principal) -> Vec<u8> {
    let mut out = Vec::new();
    for (offset, len) in [(1000u64, 1_500_000u64), (1_501_000, 1_500_000)] {
        let bytes = query(agent, id, "stable_read", Encode!(&offset, &len).unwrap()).await;
        out.extend(Decode!(&bytes, ByteBuf).unwrap().into_vec());
    }
    out
}

fn signal(child: &Child, name: &str) {
    let pid = child.id().expect("running").to_string();
    let status = std::process::Command::new("kill")
        .args([name, &pid])
        .status()
        .expect("kill");
    assert!(status.success(), "kill {name} {pid}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_update_whose_reply_arrived_survives_kill_9_and_a_restart() {
    survives_kill_9("kill9", 0).await;
}

/// In rounds the round decides when replies go out; each batch must still be on disk first.
#[tokio::test(flavor = "multi_thread")]
async fn in_rounds_too_an_update_whose_reply_arrived_survives_kill_9_and_a_restart() {
    survives_kill_9("kill9-rounds", 200).await;
}

/// Three acknowledged states and a snapshot, `kill -9` right after the last reply, a restart
/// (same `round_ms`): the last acknowledged state and the snapshot are there.
async fn survives_kill_9(name: &str, round_ms: u64) {
    let dir = StateDir::new(name);
    let (mut child, url) = start(&dir.0, round_ms).await;
    let agent = agent(&url).await;
    let id = probe(&agent).await;
    assert_eq!(write_state(&agent, id, 1).await, 1);
    // The second state replaces pages the first wrote; the last reply is the `inc`, and the
    // process dies the moment it arrives.
    assert_eq!(write_state(&agent, id, 2).await, 2);
    let snapshot = take_snapshot(&agent, id).await;
    assert_eq!(write_state(&agent, id, 3).await, 3);
    child.start_kill().expect("SIGKILL");
    child.wait().await.expect("killed");

    let (child, url) = start(&dir.0, round_ms).await;
    let agent = self::agent(&url).await;
    assert_eq!(counter(&agent, id).await, 3, "the last acknowledged inc");
    assert!(
        read_stable(&agent, id).await == pattern(3),
        "stable memory is the last acknowledged write"
    );
    assert_eq!(snapshot_ids(&agent, id).await, vec![snapshot.clone()]);
    // The snapshot holds the state it was taken with.
    load_snapshot(&agent, id, snapshot).await;
    assert_eq!(counter(&agent, id).await, 2);
    assert!(read_stable(&agent, id).await == pattern(2));
    drop(child);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_and_sigint_save_the_state_and_exit_successfully() {
    // In rounds: the driver is asleep until the next boundary when the signal comes.
    for sig in ["-TERM", "-INT"] {
        let dir = StateDir::new(&format!("signal{sig}"));
        let (mut child, url) = start(&dir.0, 200).await;
        let agent = agent(&url).await;
        let id = probe(&agent).await;
        assert_eq!(write_state(&agent, id, 7).await, 1);
        signal(&child, sig);
        // No timing asserted here: the exit time is measured in localnet/README.md.
        let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
            .await
            .unwrap_or_else(|_| panic!("still running 60 s after kill {sig}"))
            .unwrap();
        assert!(status.success(), "kill {sig}: {status}");
        assert!(dir.0.join("state.bin").exists());
        assert!(!dir.0.join("state.bin.tmp").exists());

        let (child, url) = start(&dir.0, 200).await;
        let agent = self::agent(&url).await;
        assert_eq!(counter(&agent, id).await, 1, "after kill {sig}");
        assert!(
            read_stable(&agent, id).await == pattern(7),
            "after kill {sig}"
        );
        drop(child);
    }
}

/// A replica restarted on its state keeps its root key, so an agent that fetched the key
/// before the restart (and never fetches it again) still verifies every certificate after it.
/// Without `--seed` the key comes from a seed kept in the state directory.
#[tokio::test(flavor = "multi_thread")]
async fn a_restart_on_a_state_dir_keeps_the_root_key_so_an_agent_from_before_still_verifies() {
    let dir = StateDir::new("root-key");
    let (mut child, url) = spawn(&dir.0, 0, &[]).await;
    let before = agent(&url).await;
    let id = probe(&before).await;
    assert_eq!(write_state(&before, id, 4).await, 1);
    let seed = dir.0.join(localnet::http::KEY_SEED_FILE);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&seed)
        .expect("the key seed")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "the key seed is owner-only: {mode:o}");
    signal(&child, "-TERM");
    assert!(child.wait().await.unwrap().success());

    // The same port is not guaranteed, so the old agent's key goes into a new agent for the new
    // address without fetching: certificates must verify against the key from before.
    let (child, url) = spawn(&dir.0, 0, &[]).await;
    let old_key = before.read_root_key();
    let after = Agent::builder()
        .with_url(&url)
        .with_identity(BasicIdentity::from_raw_key(&[9; 32]))
        .build()
        .expect("an agent");
    after.set_root_key(old_key.clone());
    assert_eq!(
        Decode!(&update(&after, id, "inc", Encode!().unwrap()).await, u64).unwrap(),
        2
    );
    let status = after.status().await.expect("status");
    assert_eq!(
        status.root_key.as_deref(),
        Some(&old_key[..]),
        "same root key after the restart"
    );
    drop(child);
}
