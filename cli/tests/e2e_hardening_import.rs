//! End to end: `keepsake import` into a registered module goes through the orchestrator
//! (its lock, pins and history), and a rerun after a failed load reuses the uploaded snapshot.
//! The real binary against localnet over HTTP; the orchestrator's management calls are held
//! and rejected with localnet's fault injection, as tests/tests/fault_injection.rs does.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use candid::{Principal, encode_args};
use localnet::{CallFilter, RejectCode};
use orchestrator_api::client::calls;
use orchestrator_api::{OnExisting, StageWasmChunkArgs, UpgradeArgs, UpgradeOutcome};
use serde_json::Value;
use sha2::{Digest, Sha256};

use common::{Env, localnet_only, wasm};

/// Exports the module's state (a new snapshot taken through the orchestrator) to a folder.
fn export(env: &Env, name: &str) -> PathBuf {
    let out = env.path(name);
    env.json(&["export", "app", "--out", out.to_str().unwrap(), "--take"]);
    out
}

/// The module's snapshot ids (hex), as the IC lists them.
fn snapshot_ids(env: &Env) -> Vec<String> {
    env.snapshot_ids(env.module)
        .iter()
        .map(hex::encode)
        .collect()
}

/// Holds the calls the orchestrator makes to `callee`'s `method`.
///
/// Calls between one pair of canisters are ordered, so holding a management call holds every
/// later orchestrator → management call too (list_modules' canister_status among them).
fn hold(env: &Env, callee: Principal, method: &str) {
    let orchestrator = env.orchestrator;
    env.server.replica().with_net(|net| {
        net.hold_calls(CallFilter {
            caller: Some(orchestrator),
            callee: Some(callee),
            method: Some(method.to_string()),
        })
    });
}

/// "app" registered with room for a few snapshots: without `--replace`, an import needs a
/// free slot under max_snapshots (1 by default, taken by the export's snapshot).
fn registered_with_room() -> Env {
    let env = Env::registered();
    env.ok(&["module", "set", "app", "--max-snapshots", "4"]);
    env
}

/// Waits until a call is held; returns its id.
fn wait_for_held_call(env: &Env) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let held = env.server.replica().with_net(|net| net.held_calls());
        if let Some(call) = held.first() {
            return call.id;
        }
        assert!(Instant::now() < deadline, "no call was held");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stages and commits the v2 sample module in the orchestrator, as a raw client would.
fn stage_v2(env: &Env) -> Vec<u8> {
    let v2 = wasm("sample-module-v2.wasm.gz");
    let hash = Sha256::digest(&v2).to_vec();
    env.call(calls::stage_wasm_chunk(StageWasmChunkArgs {
        wasm_hash: hash.clone(),
        offset: 0,
        chunk: v2,
    }))
    .unwrap();
    env.call(calls::commit_staged_wasm(&hash)).unwrap();
    hash
}

#[test]
fn an_import_with_restore_into_a_module_whose_upgrade_holds_the_lock_is_refused_busy() {
    localnet_only!("holds the upgrade's health check to keep its lock");
    let env = registered_with_room();
    env.set(env.module, "k", b"exported");
    let out = export(&env, "backup");
    env.set(env.module, "k", b"current");

    // An upgrade to v2 that waits at its health check, holding the module's lock (it was
    // stopped, snapshotted, installed and started). The health check is held rather than a
    // management call, which would also hold keepsake's own lookups through the orchestrator.
    env.ok(&["module", "set", "app", "--health-check", "health"]);
    let hash = stage_v2(&env);
    hold(&env, env.module, "health");
    let (orchestrator, developer) = (env.orchestrator, env.developer);
    let call = calls::upgrade_module(
        "app",
        UpgradeArgs {
            wasm_hash: hash,
            arg: encode_args(()).unwrap(),
            snapshot: None,
            on_existing: OnExisting::Replace,
            rollback_on_failure: true,
        },
    )
    .unwrap();
    let upgrade = env
        .server
        .replica()
        .with_net(|net| net.submit_call(orchestrator, developer, call.method, call.arg.clone()))
        .unwrap();
    let health = wait_for_held_call(&env);
    let before = snapshot_ids(&env);

    let refused = env
        .keepsake()
        .args([
            "import",
            out.to_str().unwrap(),
            "--to",
            "app",
            "--restore",
            "--yes",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("busy with upgrade"), "{stderr}");
    assert!(stderr.contains("nothing was uploaded"), "{stderr}");
    assert_eq!(snapshot_ids(&env), before, "nothing was uploaded");

    // The upgrade goes on undisturbed and ends as it would have.
    env.server.replica().with_net(|net| {
        net.clear_holds();
        assert!(net.release_call(health));
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let reply = loop {
        if let Some(r) = env
            .server
            .replica()
            .with_net(|net| net.ingress_status(upgrade))
        {
            break r.expect("upgrade_module replies");
        }
        assert!(Instant::now() < deadline, "the upgrade did not finish");
        std::thread::sleep(Duration::from_millis(50));
    };
    let report = call.decode(&reply).unwrap();
    assert_eq!(report.unwrap().outcome, UpgradeOutcome::Upgraded);
    assert_eq!(
        env.get(env.module, "k").unwrap(),
        b"current",
        "the import did not load"
    );

    // Now the module is free, the same import runs.
    let imported = env.json(&[
        "import",
        out.to_str().unwrap(),
        "--to",
        "app",
        "--restore",
        "--yes",
    ]);
    assert_eq!(imported["module"], "app");
    assert_eq!(env.get(env.module, "k").unwrap(), b"exported");
}

#[test]
fn an_import_that_would_replace_a_pinned_snapshot_is_refused_and_the_snapshot_stays() {
    let env = Env::registered();
    let out = export(&env, "backup");
    let pinned = snapshot_ids(&env).remove(0);
    env.ok(&["snapshot", "pin", "app", &pinned]);

    let refused = env
        .keepsake()
        .args([
            "import",
            out.to_str().unwrap(),
            "--to",
            "app",
            "--replace",
            &pinned,
            "--yes",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is pinned"), "{stderr}");
    assert!(
        stderr.contains(&format!("keepsake snapshot unpin app {pinned}")),
        "{stderr}"
    );
    assert_eq!(
        snapshot_ids(&env),
        vec![pinned.clone()],
        "the pinned snapshot is still there"
    );

    // By canister id too: a registered module's canister goes through the orchestrator.
    let refused = env
        .keepsake()
        .args([
            "import",
            out.to_str().unwrap(),
            "--to",
            &env.module.to_text(),
            "--replace",
            &pinned,
            "--yes",
        ])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is pinned"));
    assert_eq!(snapshot_ids(&env), vec![pinned]);
}

#[test]
fn an_import_into_a_module_is_recorded_in_history_and_listed_as_an_import() {
    let env = registered_with_room();
    env.set(env.module, "k", b"exported");
    let out = export(&env, "backup");
    env.set(env.module, "k", b"current");
    let imported = env.json(&[
        "import",
        out.to_str().unwrap(),
        "--to",
        &env.module.to_text(),
        "--restore",
        "--yes",
    ]);
    assert_eq!(imported["module"], "app");
    assert_eq!(imported["restore"]["loaded"], true);
    assert_eq!(imported["restore"]["started"], true);
    assert_eq!(env.get(env.module, "k").unwrap(), b"exported");
    let snapshot = imported["snapshot_id"].as_str().unwrap();

    let history = env.json(&["history", "app"]);
    let op = &history["operations"][0];
    assert_eq!(op["id"], imported["operation_id"]);
    assert_eq!(op["kind"], "import", "{op}");
    assert_eq!(op["status"], "completed", "{op}");
    assert_eq!(op["snapshot_id"], snapshot);
    let steps: Vec<&str> = op["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    for step in ["client_upload", "stop", "load_snapshot", "start"] {
        assert!(steps.contains(&step), "{steps:?}");
    }
    let text = env.ok(&["history", "app"]);
    assert!(text.contains("import"), "{text}");

    let listed = env.json(&["snapshot", "list", "app"]);
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == snapshot)
        .unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(row["trigger"], "import", "{row}");
    assert_eq!(row["external"], false, "{row}");
    assert!(
        env.json(&["module", "list"])[0]["busy_with"].is_null(),
        "the lease is released"
    );
}

#[test]
fn a_failed_load_names_the_snapshot_left_and_a_rerun_loads_it_without_a_second_upload() {
    localnet_only!("rejects the load by fault injection");
    let env = registered_with_room();
    env.set(env.module, "k", b"exported");
    env.fill(3_000_000, 3);
    let out = export(&env, "backup");
    env.set(env.module, "k", b"current");

    // The orchestrator's load is rejected.
    hold(
        &env,
        Principal::management_canister(),
        "load_canister_snapshot",
    );
    let mut cmd = env.keepsake();
    cmd.args([
        "import",
        out.to_str().unwrap(),
        "--to",
        "app",
        "--restore",
        "--yes",
    ]);
    let run = std::thread::spawn(move || cmd.output().unwrap());
    let load = wait_for_held_call(&env);
    env.server.replica().with_net(|net| {
        net.clear_holds();
        assert!(net.reject_call(
            load,
            RejectCode::CanisterError,
            "injected rejection of the load"
        ));
    });
    let failed = run.join().unwrap();
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("injected rejection of the load"),
        "{stderr}"
    );
    let left: Vec<String> = snapshot_ids(&env);
    let uploaded = left
        .iter()
        .find(|id| stderr.contains(&format!("snapshot {id} was uploaded to {}", env.module)))
        .unwrap_or_else(|| panic!("the message names the snapshot left: {stderr}"))
        .clone();
    assert!(stderr.contains("Run the same import again"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "keepsake snapshot delete app --snapshot {uploaded}"
        )),
        "{stderr}"
    );
    assert_eq!(
        env.get(env.module, "k").unwrap(),
        b"current",
        "nothing was loaded"
    );
    assert!(
        env.json(&["module", "list"])[0]["busy_with"].is_null(),
        "the lease is released"
    );

    // The rerun loads the snapshot already there.
    let again = env.json(&[
        "import",
        out.to_str().unwrap(),
        "--to",
        "app",
        "--restore",
        "--yes",
    ]);
    assert_eq!(again["snapshot_id"], uploaded.as_str());
    assert_eq!(again["uploaded_bytes"], 0, "{again}");
    assert!(
        again["resumed_bytes"].as_u64().unwrap() > 3_000_000,
        "{again}"
    );
    assert_eq!(snapshot_ids(&env), left, "no second copy");
    assert_eq!(env.get(env.module, "k").unwrap(), b"exported");
    let history: Value = env.json(&["history", "app"]);
    let ops = history["operations"].as_array().unwrap();
    assert_eq!(ops[0]["kind"], "import");
    assert_eq!(ops[0]["status"], "completed");
    assert_eq!(ops[1]["kind"], "import");
    assert_eq!(ops[1]["status"], "failed");
}

#[test]
fn an_import_into_a_module_without_a_free_slot_is_refused_before_anything_is_uploaded() {
    let env = Env::registered();
    let out = export(&env, "backup");
    let before = snapshot_ids(&env);
    let refused = env
        .keepsake()
        .args(["import", out.to_str().unwrap(), "--to", "app", "--yes"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("already holds 1 snapshot(s) (limit 1)"),
        "{stderr}"
    );
    assert!(stderr.contains("--replace"), "{stderr}");
    assert_eq!(snapshot_ids(&env), before);
    // Replacing the (unpinned) snapshot is allowed, and the history says so.
    let imported = env.json(&[
        "import",
        out.to_str().unwrap(),
        "--to",
        "app",
        "--replace",
        &before[0],
        "--yes",
    ]);
    assert_eq!(
        snapshot_ids(&env),
        vec![imported["snapshot_id"].as_str().unwrap().to_string()]
    );
}
