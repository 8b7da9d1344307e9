//! `read-loop URL PEM CANISTER SNAPSHOT_HEX CONCURRENCY`: the bare ic-utils read loop the export
//! benchmark compares `keepsake export` with. It reads every region of the snapshot in the same
//! 2,000,000-byte slices, `CONCURRENCY` in flight, through ic-utils' `ManagementCanister`, and
//! discards the bytes: no files, no hashes, no journal, no fsync.
//!
//! It prints one line: `<MB/s> (<bytes> bytes in <s> s; agent + root key <s> s)`, where the time
//! covers the reads only; the benchmark also times the whole process, as it does for keepsake.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use candid::Principal;
use futures::StreamExt;
use ic_agent::Agent;
use ic_agent::identity::BasicIdentity;
use ic_management_canister_types::{
    ReadCanisterSnapshotDataArgs, ReadCanisterSnapshotMetadataArgs,
};
use ic_utils::call::AsyncCall;
use ic_utils::interfaces::ManagementCanister;
use ic_utils::interfaces::management_canister::SnapshotDataKind;

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, pem, canister, snapshot, concurrency] = args.as_slice() else {
        bail!("usage: read-loop URL PEM CANISTER SNAPSHOT_HEX CONCURRENCY");
    };
    let setup = Instant::now();
    let id = BasicIdentity::from_pem_file(pem).with_context(|| format!("cannot read {pem}"))?;
    // The same agent settings as keepsake's (context.rs), so only the work after a read differs.
    let agent = Agent::builder()
        .with_url(url.as_str())
        .with_arc_identity(Arc::new(id))
        .with_max_response_body_size(16 * 1024 * 1024)
        .build()?;
    agent
        .fetch_root_key()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let setup = setup.elapsed().as_secs_f64();
    let canister = Principal::from_text(canister)?;
    let snapshot_id = hex::decode(snapshot)?;
    let concurrency: usize = concurrency.parse()?;
    let mgmt = ManagementCanister::create(&agent);
    let start = Instant::now();
    let (m,) = mgmt
        .read_canister_snapshot_metadata(&ReadCanisterSnapshotMetadataArgs {
            canister_id: canister,
            snapshot_id: snapshot_id.clone(),
        })
        .call_and_wait()
        .await?;
    let mut kinds = Vec::new();
    for (size, region) in [
        (m.wasm_module_size, 0u8),
        (m.wasm_memory_size, 1),
        (m.stable_memory_size, 2),
    ] {
        let mut offset = 0;
        while offset < size {
            let len = (size - offset).min(2_000_000);
            kinds.push(match region {
                0 => SnapshotDataKind::WasmModule { offset, size: len },
                1 => SnapshotDataKind::WasmMemory { offset, size: len },
                _ => SnapshotDataKind::StableMemory { offset, size: len },
            });
            offset += len;
        }
    }
    let total: u64 = m.wasm_module_size + m.wasm_memory_size + m.stable_memory_size;
    let mgmt = &mgmt;
    let snapshot_id = &snapshot_id;
    let mut reads = futures::stream::iter(kinds)
        .map(|kind| async move {
            mgmt.read_canister_snapshot_data(&ReadCanisterSnapshotDataArgs {
                canister_id: canister,
                snapshot_id: snapshot_id.clone(),
                kind,
            })
            .call_and_wait()
            .await
            .map(|(r,)| r.chunk.len() as u64)
        })
        .buffer_unordered(concurrency.max(1));
    let mut read = 0;
    while let Some(r) = reads.next().await {
        read += r?;
    }
    if read != total {
        bail!("read {read} bytes, the metadata says {total}");
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{:.1} MB/s ({total} bytes in {secs:.3} s; agent + root key {setup:.3} s)",
        total as f64 / secs / 1e6
    );
    Ok(())
}
