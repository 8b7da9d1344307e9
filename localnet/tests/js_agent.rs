//! localnet's management canister decoded by a client we did not write: the official JS agent
//! (`@icp-sdk/core`) with its spec-typed ic-management client (`@icp-sdk/canisters`), run by
//! node against localnet's HTTP server (`tests/js/conformance.mjs`). Every snapshot method is
//! called and its reply decoded, including the upload and load of an uploaded snapshot.
//!
//! Needs node and the packages of `tests/js` (`npm ci --prefix localnet/tests/js`, which
//! `.ci/run` does) and the probe canister (`scripts/build-canisters.sh`). A missing piece fails
//! the test with the command that installs it: a conformance check that silently skips proves
//! nothing.

use candid::{Encode, Principal};
use localnet::LocalNet;
use localnet::http::{Keys, ReplicaConfig, Server};
use std::path::{Path, PathBuf};
use std::process::Command;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn probe_wasm_path() -> PathBuf {
    let path = manifest_dir().join("../target/canisters/localnet-probe.wasm.gz");
    assert!(
        path.exists(),
        "{} is missing: run scripts/build-canisters.sh first",
        path.display()
    );
    path
}

/// The JS packages must be installed; say how when they are not.
fn js_dir() -> PathBuf {
    let dir = manifest_dir().join("tests/js");
    let agent = dir.join("node_modules/@icp-sdk/canisters/package.json");
    assert!(
        agent.exists(),
        "the JS agent is not installed ({} is missing). Install it with:\n    npm ci --prefix localnet/tests/js\n(from the repository root; needs node >= 20 and npm)",
        agent.display()
    );
    dir
}

fn node() -> Command {
    let version = Command::new("node").arg("--version").output();
    assert!(
        version.as_ref().is_ok_and(|o| o.status.success()),
        "node is not on PATH ({version:?}); the JS agent conformance test needs node >= 20"
    );
    Command::new("node")
}

/// A canister with heap and stable memory (more than one read slice of it), controlled by the
/// anonymous principal the JS agent calls as.
fn probe_with_state(server: &Server, wasm: &Path) -> Principal {
    let wasm = std::fs::read(wasm).expect("read the probe");
    server.replica().with_net(|net| {
        let id = net.create_canister();
        net.install_canister(id, wasm, Encode!(&Option::<u64>::None).unwrap(), None);
        let bytes: Vec<u8> = (0..2_500_000u32).map(|i| (i % 251) as u8).collect();
        net.update_call(
            id,
            Principal::anonymous(),
            "stable_write",
            Encode!(&7u64, &serde_bytes::ByteBuf::from(bytes)).unwrap(),
        )
        .expect("stable_write");
        net.update_call(id, Principal::anonymous(), "inc", Encode!().unwrap())
            .expect("inc");
        id
    })
}

#[test]
fn the_official_js_agent_decodes_every_snapshot_method_reply_including_upload_and_load() {
    let js = js_dir();
    let wasm = probe_wasm_path();
    let server = Server::start(
        LocalNet::new(),
        Keys::from_seed(b"js agent"),
        ReplicaConfig::default(),
        0,
    )
    .expect("start the server");
    let canister = probe_with_state(&server, &wasm);
    let out = node()
        .arg(js.join("conformance.mjs"))
        .arg(server.url())
        .arg(canister.to_text())
        .arg(&wasm)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the JS agent failed against localnet ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // Every step ran (the script stops at the first failure).
    for step in [
        "install_code",
        "canister_status",
        "take_canister_snapshot",
        "list_canister_snapshots",
        "read_canister_snapshot_metadata",
        "read_canister_snapshot_data (wasm_module)",
        "read_canister_snapshot_data (wasm_memory)",
        "read_canister_snapshot_data (stable_memory)",
        "read_canister_snapshot_data (wasm_chunk)",
        "upload_canister_snapshot_metadata",
        "upload_canister_snapshot_data (stable_memory)",
        "load_canister_snapshot (uploaded)",
        "delete_canister_snapshot",
    ] {
        assert!(
            stdout.lines().any(|l| l == format!("ok {step}")),
            "step {step} did not run:\n{stdout}\n{stderr}"
        );
    }
}
