//! Benchmark of localnet's HTTP interface through ic-agent, against the `localnet` binary (or any
//! replica URL): snapshot download throughput with `read_canister_snapshot_data` at concurrency 1
//! and 8, and the latency of a trivial update call.
//!
//! ```sh
//! scripts/build-canisters.sh
//! cargo build -p localnet --bin localnet --examples
//! target/debug/localnet --port 8765 --round-ms 0 &   # or in rounds: drop --round-ms 0
//! target/debug/examples/http_bench http://127.0.0.1:8765 [STABLE_MB=200] [UPDATES=200]
//! ```

use candid::{Encode, Principal};
use ic_agent::identity::BasicIdentity;
use ic_utils::call::AsyncCall;
use ic_utils::interfaces::ManagementCanister;
use ic_utils::interfaces::management_canister::SnapshotDataKind;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The agent, probe and snapshot helpers localnet's HTTP tests use.
#[allow(dead_code)]
#[path = "../tests/common/agent.rs"]
mod agent;

use agent::{agent_for, inc, install_probe, take_snapshot};

const SLICE: u64 = 2_000_000;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:8765".into());
    let stable_mb: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
    let updates: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(200);

    let agent = agent_for(&url, Arc::new(BasicIdentity::from_raw_key(&[42; 32]))).await;
    let mgmt = ManagementCanister::create(&agent);
    let wasm = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/canisters/localnet-probe.wasm.gz"),
    )
    .expect("run scripts/build-canisters.sh first");
    let id = install_probe(&agent, &wasm).await;

    // 1. Trivial update latency.
    let mut latencies = Vec::with_capacity(updates);
    for _ in 0..updates {
        let start = Instant::now();
        inc(&agent, id).await;
        latencies.push(start.elapsed());
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "update call latency ({updates} calls): p50 {:.2} ms, p99 {:.2} ms",
        ms(pct(0.50)),
        ms(pct(0.99))
    );

    // 2. Fill stable memory (1.9 MB per message, under the 2 MiB ingress limit).
    let total = stable_mb * 1_000_000;
    let fill_start = Instant::now();
    let chunk = 1_900_000u64;
    let mut offset = 0;
    while offset < total {
        let len = chunk.min(total - offset);
        let bytes = serde_bytes::ByteBuf::from(vec![(offset / chunk) as u8; len as usize]);
        agent
            .update(&id, "stable_write")
            .with_arg(Encode!(&offset, &bytes).unwrap())
            .call_and_wait()
            .await
            .expect("stable_write");
        offset += len;
    }
    println!(
        "upload via stable_write: {stable_mb} MB in {:.1} s ({:.1} MB/s)",
        fill_start.elapsed().as_secs_f64(),
        stable_mb as f64 / fill_start.elapsed().as_secs_f64()
    );
    mgmt.stop_canister(&id).call_and_wait().await.expect("stop");
    let snap = take_snapshot(&agent, id).await;
    let size = mgmt
        .read_canister_snapshot_metadata(&mgmt08::ReadCanisterSnapshotMetadataArgs {
            canister_id: id,
            snapshot_id: snap.clone(),
        })
        .call_and_wait()
        .await
        .expect("metadata")
        .0
        .stable_memory_size;

    // 3. Download the stable memory in 2,000,000-byte slices.
    for concurrency in [1usize, 8] {
        let start = Instant::now();
        let offsets: Vec<u64> = (0..size.div_ceil(SLICE)).map(|i| i * SLICE).collect();
        // `concurrency` reads in flight at all times, as a downloader with N streams keeps.
        use futures::StreamExt;
        let reads = futures::stream::iter(offsets.into_iter().map(|offset| {
            let args = mgmt08::ReadCanisterSnapshotDataArgs {
                canister_id: id,
                snapshot_id: snap.clone(),
                kind: SnapshotDataKind::StableMemory {
                    offset,
                    size: SLICE.min(size - offset),
                },
            };
            let mgmt = &mgmt;
            async move {
                mgmt.read_canister_snapshot_data(&args)
                    .call_and_wait()
                    .await
            }
        }))
        .buffer_unordered(concurrency);
        let downloaded: u64 = reads
            .map(|r| r.expect("read slice").0.chunk.len() as u64)
            .fold(0, |a, b| async move { a + b })
            .await;
        let secs = start.elapsed().as_secs_f64();
        println!(
            "read_canister_snapshot_data, concurrency {concurrency}: {:.1} MB in {secs:.1} s = {:.1} MB/s",
            downloaded as f64 / 1e6,
            downloaded as f64 / 1e6 / secs
        );
    }
    let _: Principal = id;
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
