//! What a commit of `--state-dir` costs (`localnet::persist::Store`), with a canister holding
//! STABLE_MB of written stable memory: the first (full) commit, a commit after a small update,
//! one with nothing changed, one after a snapshot, and a reload.
//!
//! ```sh
//! scripts/build-canisters.sh
//! cargo run -p localnet --example persist_bench -- [STABLE_MB=100] [DIR=/tmp/localnet-persist-bench]
//! ```

use candid::{Encode, Principal};
use localnet::LocalNet;
use localnet::persist::Store;
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let stable_mb: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100);
    let dir = PathBuf::from(
        args.get(2)
            .cloned()
            .unwrap_or_else(|| "/tmp/localnet-persist-bench".into()),
    );
    let _ = std::fs::remove_dir_all(&dir);
    let wasm = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/canisters/localnet-probe.wasm.gz"),
    )
    .expect("run scripts/build-canisters.sh first");

    let mut net = LocalNet::new();
    let id = net.create_canister();
    net.install_canister(id, wasm, Encode!(&Option::<u64>::None).unwrap(), None);
    let data: Vec<u8> = (0..stable_mb * 1024 * 1024)
        .map(|i| (i % 251) as u8)
        .collect();
    net.update_call(
        id,
        Principal::anonymous(),
        "stable_write",
        Encode!(&0u64, &serde_bytes::ByteBuf::from(data)).unwrap(),
    )
    .expect("stable_write");

    let mut store = Store::create(&dir).expect("create the store");
    let timed = |label: &str, store: &mut Store, net: &LocalNet| {
        let t = Instant::now();
        let stats = store.commit(net).expect("commit");
        println!(
            "{label:<40} {:>8.1} ms  data +{} bytes, manifest {} bytes",
            t.elapsed().as_secs_f64() * 1e3,
            stats.data_bytes,
            stats.manifest_bytes
        );
    };
    timed("first commit (everything)", &mut store, &net);
    net.update_call(id, Principal::anonymous(), "inc", Encode!().unwrap())
        .expect("inc");
    timed("commit after one update (inc)", &mut store, &net);
    timed("commit with nothing changed", &mut store, &net);
    net.update_call(
        id,
        Principal::anonymous(),
        "stable_write",
        Encode!(&12345u64, &serde_bytes::ByteBuf::from(vec![7u8; 1_000_000])).unwrap(),
    )
    .expect("stable_write");
    timed("commit after a 1 MB stable write", &mut store, &net);
    net.take_canister_snapshot(id, None, None).expect("take");
    timed("commit after take_canister_snapshot", &mut store, &net);
    let t = Instant::now();
    let loaded = localnet::persist::load(&dir)
        .expect("load")
        .expect("a state");
    println!(
        "{:<40} {:>8.1} ms  ({} canisters)",
        "load",
        t.elapsed().as_secs_f64() * 1e3,
        loaded.canister_ids().len()
    );
    let t = Instant::now();
    localnet::persist::save(&net, &dir).expect("save");
    println!(
        "{:<40} {:>8.1} ms",
        "full save into a new generation",
        t.elapsed().as_secs_f64() * 1e3
    );
    let _ = std::fs::remove_dir_all(&dir);
}
