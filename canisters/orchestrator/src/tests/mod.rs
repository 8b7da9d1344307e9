//! Native unit tests of every flow against the fake management canister (`crate::fake`).
//! Each test runs on its own thread, so it has its own (thread-local) stable state.

mod history_tests;
mod registry_tests;
mod snapshot_tests;
mod staging_tests;
mod upgrade_tests;

use candid::Principal;
use orchestrator_api::{AddModuleArgs, ModuleKind, ModuleSettingsUpdate, StageWasmChunkArgs};
use sha2::{Digest, Sha256};

use crate::fake::FakeManagement;
use crate::{registry, staging};

/// The admin calling in these tests.
pub fn admin() -> Principal {
    Principal::from_slice(&[7; 29])
}

pub fn run<F: Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

/// A fake with one running canister registered as module "app".
pub fn setup() -> (FakeManagement, Principal) {
    setup_with(ModuleSettingsUpdate::default())
}

pub fn setup_with(settings: ModuleSettingsUpdate) -> (FakeManagement, Principal) {
    let mgmt = FakeManagement::new();
    let canister = mgmt.add_canister(1);
    run(registry::add(
        &mgmt,
        admin(),
        AddModuleArgs {
            canister_id: canister,
            name: "app".into(),
            kind: ModuleKind::Satellite,
        },
    ))
    .expect("add_module");
    registry::update_settings("app", settings).expect("update_module_settings");
    mgmt.calls.borrow_mut().clear();
    (mgmt, canister)
}

/// Stages and commits `wasm` in chunks of 1.5 MB; returns its hash.
pub fn stage(mgmt: &FakeManagement, wasm: &[u8]) -> Vec<u8> {
    use crate::mgmt::Management;
    let hash = Sha256::digest(wasm).to_vec();
    let mut offset = 0;
    for chunk in wasm.chunks(1_500_000) {
        staging::stage_chunk(
            StageWasmChunkArgs {
                wasm_hash: hash.clone(),
                offset,
                chunk: chunk.to_vec(),
            },
            mgmt.now(),
        )
        .expect("stage_wasm_chunk");
        offset += chunk.len() as u64;
    }
    staging::commit(hash.clone(), mgmt.now()).expect("commit_staged_wasm");
    hash
}

/// The committed `candid/orchestrator.did` is what the code exports (and the interface
/// clients were reviewed against). `UPDATE_CANDID=1 cargo test -p orchestrator` rewrites it.
#[test]
fn the_committed_candid_interface_matches_the_code() {
    use candid_parser::utils::{CandidSource, service_equal};
    let exported = crate::__export_service();
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../candid/orchestrator.did");
    if std::env::var_os("UPDATE_CANDID").is_some() {
        let header = "// The Keepsake orchestrator: registers modules (canisters it controls), snapshots them,\n\
                      // restores them and upgrades them with an automatic snapshot. Every method is for\n\
                      // admins (the init list, those added later, and the orchestrator's controllers).\n\
                      // Generated from the code by `UPDATE_CANDID=1 cargo test -p orchestrator`; reviewed.\n\n";
        std::fs::write(&path, format!("{header}{exported}")).unwrap();
    }
    let committed = std::fs::read_to_string(&path).expect("candid/orchestrator.did exists");
    service_equal(CandidSource::Text(&exported), CandidSource::Text(&committed)).unwrap_or_else(
        |e| panic!("candid/orchestrator.did differs from the code ({e}); review the change and run UPDATE_CANDID=1 cargo test -p orchestrator"),
    );
}
