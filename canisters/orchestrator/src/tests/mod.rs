//! Native unit tests of every flow against the fake management canister (`crate::fake`).
//! Each test runs on its own thread, so it has its own (thread-local) stable state.

mod flow_tests;
mod history_tests;
mod import_tests;
mod registry_tests;
mod schedule_tests;
mod snapshot_tests;
mod staging_tests;
mod upgrade_tests;

use candid::Principal;
use orchestrator_api::{
    AddModuleArgs, ModuleKind, ModuleSettingsUpdate, SnapshotError, SnapshotInfo,
    StageWasmChunkArgs, TakeSnapshotArgs, Trigger,
};
use sha2::{Digest, Sha256};

use crate::fake::FakeManagement;
use crate::{registry, snapshots, staging};

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

/// A manual snapshot of "app" by the admin, labelled `label`.
pub fn take(mgmt: &FakeManagement, label: Option<&str>) -> Result<SnapshotInfo, SnapshotError> {
    take_with(
        mgmt,
        TakeSnapshotArgs {
            label: label.map(Into::into),
            pin: None,
        },
    )
}

/// A manual snapshot of "app" by the admin, with `args`.
pub fn take_with(
    mgmt: &FakeManagement,
    args: TakeSnapshotArgs,
) -> Result<SnapshotInfo, SnapshotError> {
    run(snapshots::take(mgmt, admin(), "app", args, Trigger::Manual))
}

/// A manual delete of "app"'s snapshot `id` (none: its only one) by the admin.
pub fn delete(mgmt: &FakeManagement, id: Option<&[u8]>) -> Result<SnapshotInfo, SnapshotError> {
    run(snapshots::delete(
        mgmt,
        admin(),
        "app",
        id.map(<[u8]>::to_vec),
        Trigger::Manual,
    ))
}

/// The management calls of a restore of a running module, in order.
pub const RESTORE_CALLS: [&str; 5] = [
    "list_canister_snapshots",
    "canister_status",
    "stop_canister",
    "load_canister_snapshot",
    "start_canister",
];

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
#[cfg(not(feature = "test-traps"))]
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
        std::fs::write(&path, format!("{header}{}", document_methods(&exported))).unwrap();
    }
    let committed = std::fs::read_to_string(&path).expect("candid/orchestrator.did exists");
    service_equal(CandidSource::Text(&exported), CandidSource::Text(&committed)).unwrap_or_else(
        |e| panic!("candid/orchestrator.did differs from the code ({e}); review the change and run UPDATE_CANDID=1 cargo test -p orchestrator"),
    );
}

#[cfg(not(feature = "test-traps"))]
/// One line per endpoint, written above it in the committed .did (candid's export carries the
/// types' doc comments but not the methods').
const METHOD_DOCS: &[(&str, &str)] = &[
    (
        "upgrade_group",
        "Group upgrade: stop every member → take the group snapshot (the cut) → install the named members' staged wasms (all stopped, at once) → start all → health-check the upgraded → on any failure roll every changed member back to the cut. One history record; a report per member.",
    ),
    (
        "pin_group_snapshot",
        "Pins every member's snapshot of a group snapshot: retention and full slots never delete or replace any of them.",
    ),
    (
        "unpin_group_snapshot",
        "Unpins every member's snapshot of a group snapshot.",
    ),
    (
        "set_group_schedule",
        "Sets a group's schedule (group snapshots, as set_schedule's cadence) and its retention, which counts group snapshots as units.",
    ),
    ("clear_group_schedule", "Removes a group's schedule."),
    (
        "list_group_schedules",
        "Every group schedule, with its next run, pending retry and last run.",
    ),
    (
        "add_group",
        "Adds a group (application) of registered modules; a module may be in several groups.",
    ),
    (
        "remove_group",
        "Removes a group; its members and their snapshots stay.",
    ),
    ("list_groups", "Every group, by name."),
    (
        "list_group_snapshots",
        "A group's group snapshots, oldest first.",
    ),
    (
        "take_group_snapshot",
        "Stops every member (in parallel, each within a bounded time), takes each snapshot, starts every member again; all or nothing unless keep_partial.",
    ),
    (
        "restore_group_snapshot",
        "Stops every member, takes a safety snapshot of each, loads each member's snapshot, rolls the loaded back if one load fails, starts every member; a report per member.",
    ),
    (
        "add_admin",
        "Adds an admin (idempotent). Admins: the init list, those added here, and the orchestrator's controllers.",
    ),
    ("remove_admin", "Removes an admin; never the last one."),
    (
        "list_admins",
        "The stored admins (controllers are admins too but are not listed).",
    ),
    (
        "add_module",
        "Registers a canister as a module; the orchestrator must be one of its controllers.",
    ),
    (
        "remove_module",
        "Forgets a module, its schedule and the records and pins of its snapshots (the snapshots stay on the IC).",
    ),
    (
        "update_module_settings",
        "Changes some of a module's settings; fields left out keep their value.",
    ),
    (
        "set_snapshot_viewers",
        "Lets these principals list and download the module's snapshots without controlling it (snapshot_visibility = allowed_viewers, at most 10); none: controllers only.",
    ),
    (
        "list_modules",
        "Every registered module, with its settings, the operation running on it, its run status (running, stopping, stopped), its snapshot memory and monthly cost (all from canister_status), and its next scheduled snapshot. An update: it calls canister_status.",
    ),
    (
        "take_snapshot",
        "lock → stop (if stop_for_snapshot) → take (replacing the oldest unpinned at max_snapshots) → start, always → record (and pin if asked).",
    ),
    (
        "restore_snapshot",
        "lock → stop → load the given snapshot (default: the newest) → start, always.",
    ),
    (
        "delete_snapshot",
        "Deletes the given snapshot, or the only one (several without an id are refused; a pinned one must be unpinned first).",
    ),
    (
        "pin_snapshot",
        "Pins the snapshot with this id, or every snapshot with this label: nothing deletes or replaces it automatically.",
    ),
    (
        "unpin_snapshot",
        "Unpins the snapshot with this id, or every snapshot with this label.",
    ),
    (
        "take_all_snapshots",
        "Fleet (full) snapshot: takes a snapshot of every module, a bounded number at a time; one result per module.",
    ),
    (
        "set_schedule",
        "Sets a module's schedule (every N ≥ 15 minutes, or a 5-field UTC cron expression) and its retention (keep N, max age).",
    ),
    ("clear_schedule", "Removes a module's schedule."),
    (
        "list_schedules",
        "Every schedule (or one module's), with its next run, pending retry and last run.",
    ),
    (
        "list_snapshots",
        "The IC's list of the module's snapshots with the orchestrator's labels and triggers; others are external.",
    ),
    (
        "stage_wasm_chunk",
        "Appends a chunk of a wasm to its staging area (offset = bytes staged so far).",
    ),
    (
        "commit_staged_wasm",
        "Checks the staged bytes' sha256 and that they are a wasm (\\0asm version 1, or a gzip of one); a committed wasm can be installed. Bytes that fail either check are discarded.",
    ),
    (
        "delete_staged_wasm",
        "Discards a staged wasm (they also expire 24 h after their last write).",
    ),
    ("list_staged_wasms", "Every live staged wasm."),
    (
        "begin_import",
        "Import into a module: lock → list → refuse a pinned or unknown replace target, or a module without a free slot → keep the lock as a 30-minute lease while the client uploads to the management canister.",
    ),
    (
        "renew_import",
        "Extends an import's lease by 30 minutes from now.",
    ),
    (
        "finish_import",
        "The uploaded snapshot must exist → record it (trigger import) → if restore: stop if running → load → start again → release the lease.",
    ),
    (
        "abort_import",
        "Closes an import as failed (the client's reason recorded) and releases the lease.",
    ),
    (
        "upgrade_module",
        "stop → snapshot → install → start, always → health check → roll back on failure. Reports every step.",
    ),
    (
        "history",
        "The audit history, newest first, one page at a time.",
    ),
    (
        "get_operation",
        "One operation of the history (its current step while it runs).",
    ),
];

#[cfg(not(feature = "test-traps"))]
fn document_methods(did: &str) -> String {
    let mut out = String::new();
    for line in did.lines() {
        let name = line.trim_start().split(" :").next().unwrap_or_default();
        if line.starts_with("  ")
            && !line.starts_with("   ")
            && let Some((_, doc)) = METHOD_DOCS.iter().find(|(m, _)| *m == name)
        {
            out.push_str(&format!("  // {doc}\n"));
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(not(feature = "test-traps"))]
#[test]
fn every_endpoint_is_documented_in_the_did() {
    let exported = crate::__export_service();
    let service = exported.split("service : ").nth(1).expect("a service");
    for line in service.lines().filter(|l| l.starts_with("  ")) {
        let name = line.trim_start().split(" :").next().unwrap();
        assert!(
            METHOD_DOCS.iter().any(|(m, _)| *m == name),
            "add a line for {name} to METHOD_DOCS"
        );
    }
}
