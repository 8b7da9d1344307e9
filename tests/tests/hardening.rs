//! The orchestrator's real wasm on localnet, driven by a raw client (no keepsake CLI):
//! a committed wasm must be a wasm, so a bad one can never make an upgrade stop the module
//! and burn a snapshot; and an import holds the module's lock as a lease across messages.

use candid::Principal;
use integration_tests::{Env, orch, upgrade_args, wasm};
use orchestrator_api::*;
use sha2::{Digest, Sha256};

/// Stages `bytes` like any client could (1.9 MB chunks) and commits them.
fn stage_raw(env: &mut Env, bytes: &[u8]) -> (Vec<u8>, Result<StagedWasmInfo, StagingError>) {
    let hash = env.stage_uncommitted(bytes, 1_900_000);
    let r = orch!(env, commit_staged_wasm(&hash));
    (hash, r)
}

fn noise(len: usize) -> Vec<u8> {
    let mut x: u32 = 12_345;
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 16) as u8
        })
        .collect()
}

#[test]
fn a_bad_wasm_committed_by_a_raw_client_is_refused_and_no_snapshot_is_taken() {
    let mut env = Env::new();
    env.update_settings(ModuleSettingsUpdate {
        max_snapshots: Some(1),
        ..Default::default()
    });
    let kept = env.take(Some("the only one")).unwrap();
    let good = wasm("sample-module-v2.wasm.gz");
    let mut broken_gzip = good[..10].to_vec();
    broken_gzip.extend_from_slice(&[0x07; 100]);
    for (what, bytes) in [
        ("50 MB of noise", noise(50 * 1024 * 1024)),
        ("a text file", b"#!/bin/sh\necho not a module\n".to_vec()),
        ("a broken gzip", broken_gzip),
    ] {
        let (hash, committed) = stage_raw(&mut env, &bytes);
        assert!(
            matches!(&committed, Err(StagingError::NotAWasm { wasm_hash, .. }) if *wasm_hash == hash),
            "{what}: {committed:?}"
        );
        let staged = orch!(env, list_staged_wasms());
        assert!(
            staged.unwrap().is_empty(),
            "{what}: the bytes were discarded"
        );
        assert!(
            matches!(
                env.upgrade(upgrade_args(&hash)),
                Err(UpgradeError::WasmNotStaged { .. })
            ),
            "{what}"
        );
        assert_eq!(
            env.list(),
            vec![kept.clone()],
            "{what}: no snapshot taken or replaced"
        );
        assert!(env.module_is_running(), "{what}");
    }
    assert!(
        env.history()
            .iter()
            .all(|op| op.kind != OperationKind::Upgrade),
        "no upgrade ever started"
    );
}

/// The decision in docs/ARCHITECTURE.md: inflating the first bytes of a gzipped wasm is a
/// small, fixed cost next to the sha256 of the whole module that commit already computes.
#[test]
fn checking_a_gzipped_wasm_at_commit_costs_little_next_to_hashing_it() {
    integration_tests::localnet_only!("counts the orchestrator's instructions");
    let mut env = Env::new();
    let cost = |env: &mut Env, bytes: &[u8]| {
        let orchestrator = env.orchestrator;
        let hash = Sha256::digest(bytes).to_vec();
        let args = StageWasmChunkArgs {
            wasm_hash: hash.clone(),
            offset: 0,
            chunk: bytes.to_vec(),
        };
        orch!(env, stage_wasm_chunk(args)).unwrap();
        let before = env.net.localnet().instructions_executed(orchestrator);
        orch!(env, commit_staged_wasm(&hash)).unwrap();
        env.net.localnet().instructions_executed(orchestrator) - before
    };
    let gz = wasm("sample-module-v2.wasm.gz");
    let plain = wasm("sample-module-v2.wasm");
    let gz_cost = cost(&mut env, &gz);
    let plain_cost = cost(&mut env, &plain);
    eprintln!(
        "commit_staged_wasm: {} bytes gzipped: {gz_cost} instructions; {} bytes plain: {plain_cost}",
        gz.len(),
        plain.len()
    );
    // The gzipped module is smaller to hash; its inflate must not make it the dearer one by
    // more than a few million instructions.
    assert!(
        gz_cost < plain_cost + 5_000_000,
        "{gz_cost} vs {plain_cost}"
    );
}

#[test]
fn an_import_lease_holds_the_module_across_messages_and_an_orchestrator_upgrade() {
    let mut env = Env::new();
    let lease = orch!(env, begin_import("app", BeginImportArgs::default())).unwrap();
    assert_eq!(lease.canister_id, env.module);
    assert_eq!(
        env.take(None),
        Err(SnapshotError::Busy {
            module: "app".into(),
            operation: OperationKind::Import
        })
    );
    // The orchestrator is upgraded while its client uploads: the lease survives.
    let (developer, module) = (env.developer, env.module);
    env.upgrade_orchestrator();
    assert_eq!(env.modules()[0].busy_with, Some(OperationKind::Import));
    // The client's upload (a controller's snapshot stands in for it), then finish.
    let uploaded = env
        .net
        .take_canister_snapshot(module, Some(developer), None)
        .unwrap();
    let finish = FinishImportArgs {
        snapshot_id: uploaded.id.to_vec().into(),
        restore: true,
    };
    let report = orch!(env, finish_import(lease.operation_id, finish)).unwrap();
    assert!(report.restored);
    assert_eq!(report.snapshot.trigger, Some(Trigger::Import));
    assert!(env.module_is_running());
    assert_eq!(env.modules()[0].busy_with, None);
    let op = env.history().remove(0);
    assert_eq!(op.kind, OperationKind::Import);
    assert_eq!(op.status, OperationStatus::Completed);
    // Someone who is not an admin cannot begin one.
    let stranger = Principal::self_authenticating([9; 32]);
    let r = orch!(env, as stranger, begin_import("app", BeginImportArgs::default()));
    assert!(matches!(r, Err(ImportError::Unauthorized(_))));
}
