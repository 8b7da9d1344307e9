//! End to end: the real `keepsake` binary (assert_cmd) against localnet's HTTP interface on a
//! loopback port, with the orchestrator's real wasm and a sample module deployed on it.
//!
//! The wasm comes from `target/canisters/` (scripts/build-canisters.sh, which the README's test
//! command runs first). The server runs in the test process (`localnet::http::Server`, the same
//! server the `localnet --port` binary runs), so a test can also look at the subnet directly.
//! With `KEEPSAKE_TEST_REPLICA=<url>` the same tests run against that endpoint instead
//! (`common/replica.rs`; `scripts/test-replica.sh <url>`).

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use candid::{decode_one, encode_args};
use predicates::prelude::*;
use serde_json::Value;

use common::{Env, STRANGER_PEM, files_of, principal_of, wasm};

#[test]
fn module_commands_register_list_configure_and_remove_with_json() {
    let env = Env::new();
    let added = env.json(&[
        "module",
        "add",
        &env.module.to_text(),
        "--name",
        "app",
        "--kind",
        "satellite",
    ]);
    assert_eq!(added["name"], "app");
    assert_eq!(added["kind"], "satellite");
    assert_eq!(added["canister_id"], env.module.to_text());
    assert_eq!(added["max_snapshots"], 1);
    let list = env.json(&["module", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let text = env.ok(&["module", "list"]);
    assert!(
        text.contains("app") && text.contains(&env.module.to_text()),
        "{text}"
    );
    // Addressed by canister id too.
    let set = env.json(&[
        "module",
        "set",
        &env.module.to_text(),
        "--max-snapshots",
        "3",
        "--health-check",
        "health",
    ]);
    assert_eq!(set["max_snapshots"], 3);
    assert_eq!(set["health_check"], "health");
    let removed = env.json(&["module", "remove", "app"]);
    assert_eq!(removed["removed"], "app");
    assert_eq!(env.json(&["module", "list"]), serde_json::json!([]));
}

#[test]
fn snapshots_are_taken_listed_restored_and_deleted_and_restore_brings_the_data_back() {
    let env = Env::registered();
    env.set(env.module, "greeting", b"hello");
    let taken = env.json(&["snapshot", "take", "app", "--label", "before"]);
    let id = taken["id"].as_str().unwrap().to_string();
    assert_eq!(taken["label"], "before");
    assert_eq!(taken["trigger"], "manual");
    let list = env.json(&["snapshot", "list", "app"]);
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["external"], false);
    let text = env.ok(&["snapshot", "list"]);
    assert!(text.contains("TRIGGER") && text.contains(&id), "{text}");

    env.set(env.module, "greeting", b"broken");
    // Destructive without --yes and without a terminal: usage error, nothing changes.
    env.keepsake()
        .args(["snapshot", "restore", "app"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--yes"));
    assert_eq!(env.get(env.module, "greeting").unwrap(), b"broken");
    let restored = env.json(&["--yes", "snapshot", "restore", "app", "--snapshot", &id]);
    assert_eq!(restored["id"], id.as_str());
    assert_eq!(env.get(env.module, "greeting").unwrap(), b"hello");

    let history = env.json(&["history", "app"]);
    let kinds: Vec<&str> = history["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["restore_snapshot", "take_snapshot"]);
    assert_eq!(history["operations"][0]["status"], "completed");
    assert!(env.ok(&["history"]).contains("restore_snapshot"));

    let deleted = env.json(&["snapshot", "delete", "app", "--yes"]);
    assert_eq!(deleted["id"], id.as_str());
    assert_eq!(
        env.json(&["snapshot", "list", "app"]),
        serde_json::json!([])
    );
}

#[test]
fn export_verify_import_and_restore_round_trip_the_data_byte_for_byte() {
    let env = Env::registered();
    env.set(env.module, "k1", b"v1");
    // About 5 MB of stable memory: several 2,000,000-byte slices.
    env.fill(5_000_000, 7);
    let original_bulk = env.bulk(env.module);
    assert_eq!(original_bulk.len(), 5_000_000);

    let out = env.path("backup");
    let exported = env.json(&[
        "export",
        "app",
        "--out",
        out.to_str().unwrap(),
        "--take",
        "--concurrency",
        "4",
    ]);
    assert_eq!(exported["canister_id"], env.module.to_text());
    assert_eq!(exported["resumed_bytes"], 0);
    let files = files_of(&out);
    assert!(files.contains(&"metadata.json".to_string()), "{files:?}");
    assert!(files.contains(&"keepsake.json".to_string()));
    assert!(files.contains(&"wasm_module.bin".to_string()));
    assert!(files.contains(&"wasm_memory.bin".to_string()));
    assert!(files.contains(&"stable_memory.bin".to_string()));
    assert!(!env.path("backup.partial").exists());
    let meta: Value =
        serde_json::from_slice(&std::fs::read(out.join("metadata.json")).unwrap()).unwrap();
    assert_eq!(
        meta["source"],
        serde_json::json!({"taken_from_canister": null})
    );
    assert!(meta["globals"].is_array());

    let verified = env.json(&["verify", out.to_str().unwrap()]);
    assert_eq!(verified["ok"], true);
    assert_eq!(verified["manifest"], true);
    env.keepsake()
        .args(["verify", out.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("OK"));

    // Into a fresh canister, then restore: the same data.
    let fresh = env.fresh_canister();
    assert_eq!(env.get(fresh, "k1"), None);
    let imported = env.json(&[
        "import",
        out.to_str().unwrap(),
        "--to",
        &fresh.to_text(),
        "--restore",
        "--yes",
    ]);
    assert_eq!(imported["canister_id"], fresh.to_text());
    assert_eq!(imported["restore"]["started"], true);
    assert_eq!(env.get(fresh, "k1").unwrap(), b"v1");
    assert_eq!(env.bulk(fresh), original_bulk);

    // Exporting the clone's imported snapshot gives the same bytes.
    let snap = imported["snapshot_id"].as_str().unwrap();
    let again = env.path("again");
    env.json(&[
        "export",
        &fresh.to_text(),
        "--out",
        again.to_str().unwrap(),
        "--snapshot",
        snap,
    ]);
    for f in ["wasm_module.bin", "wasm_memory.bin", "stable_memory.bin"] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(again.join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn truncated_extra_corrupted_and_tampered_exports_are_refused_by_verify_and_import() {
    let env = Env::registered();
    env.set(env.module, "k", b"v");
    let out = env.path("backup");
    env.ok(&["export", "app", "--out", out.to_str().unwrap(), "--take"]);
    let fresh = env.fresh_canister();
    let copy = |name: &str| {
        let d = env.path(name);
        std::fs::create_dir_all(d.join("wasm_chunk_store")).unwrap();
        for f in files_of(&out) {
            std::fs::copy(out.join(&f), d.join(&f)).unwrap();
        }
        d
    };
    let refused = |d: &Path, what: &str| {
        env.keepsake()
            .args(["verify", d.to_str().unwrap()])
            .assert()
            .code(1)
            .stdout(predicate::str::contains(what));
        let out = env
            .keepsake()
            .args(["--json", "verify", d.to_str().unwrap()])
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["ok"], false);
        env.keepsake()
            .args(["import", d.to_str().unwrap(), "--to", &fresh.to_text()])
            .assert()
            .code(1)
            .stderr(predicate::str::contains("refusing to import"));
    };
    let truncated = copy("truncated");
    std::fs::write(truncated.join("wasm_memory.bin"), b"short").unwrap();
    refused(&truncated, "truncated");
    let extra = copy("extra");
    std::fs::write(extra.join("notes.txt"), b"x").unwrap();
    refused(&extra, "extra file");
    let corrupted = copy("corrupted");
    let mut module = std::fs::read(corrupted.join("wasm_module.bin")).unwrap();
    module[10] ^= 0xff;
    std::fs::write(corrupted.join("wasm_module.bin"), module).unwrap();
    refused(&corrupted, "corrupted");
    let tampered = copy("tampered");
    let meta = std::fs::read_to_string(tampered.join("metadata.json")).unwrap();
    std::fs::write(
        tampered.join("metadata.json"),
        meta.replace("\"canister_version\": ", "\"canister_version\": 1"),
    )
    .unwrap();
    refused(&tampered, "metadata.json");
    // Nothing was uploaded to the target.
    assert_eq!(env.get(fresh, "k"), None);
}

#[test]
fn a_folder_without_manifest_like_icp_cli_writes_is_verified_as_far_as_possible_and_imported_with_no_manifest()
 {
    let env = Env::registered();
    env.set(env.module, "k", b"from-icp");
    let out = env.path("backup");
    env.ok(&["export", "app", "--out", out.to_str().unwrap(), "--take"]);
    std::fs::remove_file(out.join("keepsake.json")).unwrap();
    std::fs::write(out.join(".lock"), b"").unwrap();
    // Sizes and chunks check out, but the contents cannot be checked: not OK.
    env.keepsake()
        .args(["verify", out.to_str().unwrap()])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("keepsake.json: absent"))
        .stderr(predicate::str::contains("cannot check the contents"));
    let fresh = env.fresh_canister();
    env.ok(&[
        "import",
        out.to_str().unwrap(),
        "--to",
        &fresh.to_text(),
        "--no-manifest",
        "--restore",
        "--yes",
    ]);
    assert_eq!(env.get(fresh, "k").unwrap(), b"from-icp");
}

#[test]
fn an_export_by_a_non_controller_is_refused_with_a_clear_message() {
    let env = Env::registered();
    env.ok(&["snapshot", "take", "app"]);
    let stranger = principal_of(STRANGER_PEM);
    env.keepsake_as("stranger")
        .args([
            "export",
            &env.module.to_text(),
            "--out",
            env.path("x").to_str().unwrap(),
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "{stranger} is not a controller of canister {}",
            env.module
        )))
        .stderr(predicate::str::contains("--add-controller"));
}

#[test]
fn orchestrator_calls_by_someone_who_is_not_an_admin_are_refused() {
    let env = Env::registered();
    let stranger = principal_of(STRANGER_PEM);
    for args in [
        vec!["module", "list"],
        vec!["snapshot", "take", "app"],
        vec!["history"],
    ] {
        env.keepsake_as("stranger")
            .args(&args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(format!(
                "{stranger} is not an admin of this orchestrator"
            )));
    }
    let out = env
        .keepsake_as("stranger")
        .args(["--json", "module", "list"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["error"].as_str().unwrap().contains("not an admin"), "{v}");
    assert_eq!(v["exit_code"], 1);
}

#[test]
fn an_upgrade_stages_the_wasm_and_reports_each_step_and_a_failing_one_rolls_back() {
    let env = Env::registered();
    env.set(env.module, "k", b"kept");
    let v2 = env.path("v2.wasm.gz");
    std::fs::write(&v2, wasm("sample-module-v2.wasm.gz")).unwrap();
    let up = env.json(&["upgrade", "app", v2.to_str().unwrap(), "--yes"]);
    assert_eq!(up["outcome"]["kind"], "upgraded");
    assert!(up["snapshot_id"].is_string());
    let steps: Vec<&str> = up["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert!(
        steps.contains(&"take_snapshot") && steps.contains(&"install"),
        "{steps:?}"
    );
    let version: String =
        decode_one(&env.query(env.module, "version", encode_args(()).unwrap())).unwrap();
    assert_eq!(version, "v2");
    assert_eq!(env.get(env.module, "k").unwrap(), b"kept");

    let broken = env.path("broken.wasm.gz");
    std::fs::write(&broken, wasm("sample-module-broken-post-upgrade.wasm.gz")).unwrap();
    env.keepsake()
        .args(["upgrade", "app", broken.to_str().unwrap(), "--yes"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("rolled back"));
    let version: String =
        decode_one(&env.query(env.module, "version", encode_args(()).unwrap())).unwrap();
    assert_eq!(version, "v2");
    assert_eq!(env.get(env.module, "k").unwrap(), b"kept");
    // Without --yes and no terminal: refused before staging anything.
    env.keepsake()
        .args(["upgrade", "app", v2.to_str().unwrap()])
        .assert()
        .code(2);
}

#[test]
fn an_export_killed_midway_resumes_with_fewer_bytes_and_an_identical_result() {
    let env = Env::registered();
    env.fill(30_000_000, 3);
    let snap = env.take_snapshot();
    let out = env.path("big");
    // Kill the export once part of it is on disk, with the rest of its reads held back by a
    // gate so it cannot finish first however fast the machine is.
    let gate = common::gate::Gate::start(&env.server.url());
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("keepsake"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.path("home"))
        .env("DFX_CONFIG_ROOT", env.path("home"))
        .args([
            "--network",
            gate.url(),
            "--pem",
            env.path("developer.pem").to_str().unwrap(),
        ])
        .args([
            "export",
            &env.module.to_text(),
            "--out",
            out.to_str().unwrap(),
            "--snapshot",
            &snap,
            "--concurrency",
            "1",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let journal = env.path("big.partial/.keepsake-export.journal");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let lines = std::fs::read_to_string(&journal)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        if lines >= 4 || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    gate.close();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !out.exists(),
        "the export finished before it could be killed"
    );
    let resumed = env.json(&[
        "export",
        &env.module.to_text(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(resumed["snapshot_id"], snap.as_str());
    let total = resumed["total_bytes"].as_u64().unwrap();
    let transferred = resumed["transferred_bytes"].as_u64().unwrap();
    assert!(resumed["resumed_bytes"].as_u64().unwrap() > 0, "{resumed}");
    assert!(transferred < total, "{resumed}");
    assert_eq!(env.json(&["verify", out.to_str().unwrap()])["ok"], true);
    // Identical to an export done in one go.
    let once = env.path("once");
    env.json(&[
        "export",
        &env.module.to_text(),
        "--out",
        once.to_str().unwrap(),
        "--snapshot",
        &snap,
    ]);
    for f in [
        "wasm_module.bin",
        "wasm_memory.bin",
        "stable_memory.bin",
        "metadata.json",
    ] {
        assert_eq!(
            std::fs::read(out.join(f)).unwrap(),
            std::fs::read(once.join(f)).unwrap(),
            "{f}"
        );
    }
}

#[test]
fn usage_errors_exit_with_two_and_help_lists_every_command() {
    let env = Env::new();
    env.keepsake()
        .args(["snapshot", "frobnicate"])
        .assert()
        .code(2);
    env.keepsake()
        .args(["export", "app"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--out"));
    env.keepsake()
        .args(["snapshot", "restore", "app", "--snapshot", "zz", "--yes"])
        .assert()
        .code(2);
    let help = env.keepsake().arg("--help").output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    for c in [
        "module", "snapshot", "upgrade", "history", "export", "verify", "import",
    ] {
        assert!(text.contains(c), "{c} missing from --help");
    }
    // A wrong network is an operation failure that says what to check.
    Command::cargo_bin("keepsake")
        .unwrap()
        .env("DFX_CONFIG_ROOT", env.path("home"))
        .args([
            "--network",
            "http://127.0.0.1:9",
            "--orchestrator",
            "aaaaa-aa",
            "module",
            "list",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("is the replica running"));
}

/// icp-cli 1.5's binary from the npm package `@icp-sdk/icp-cli-linux-x64`, installed into
/// `target/icp-cli` on first use (keepsake itself never needs it). `ICP_CLI` overrides the path.
fn icp_cli() -> PathBuf {
    if let Some(p) = std::env::var_os("ICP_CLI") {
        return PathBuf::from(p);
    }
    let prefix = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/icp-cli");
    let bin = prefix.join("node_modules/@icp-sdk/icp-cli-linux-x64/bin/icp");
    if !bin.exists() {
        let status = std::process::Command::new("npm")
            .args([
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--prefix",
            ])
            .arg(&prefix)
            .arg("@icp-sdk/icp-cli-linux-x64@1.5.0")
            .status()
            .expect("npm is needed to install icp-cli for the interoperability test");
        assert!(
            status.success(),
            "npm install @icp-sdk/icp-cli-linux-x64@1.5.0 failed"
        );
    }
    bin
}

#[test]
fn icp_cli_downloads_are_imported_by_keepsake_and_keepsake_exports_are_uploaded_by_icp_cli() {
    let env = Env::registered();
    let icp_home = env.path("icp-home");
    std::fs::create_dir_all(&icp_home).unwrap();
    let icp = |args: &[&str]| {
        let out = std::process::Command::new(icp_cli())
            .env("HOME", &icp_home)
            .env("DO_NOT_TRACK", "1")
            .env("ICP_TELEMETRY_DISABLED", "1")
            .current_dir(&icp_home)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "icp {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let pem = env.path("developer.pem");
    icp(&[
        "identity",
        "import",
        "dev",
        "--from-pem",
        pem.to_str().unwrap(),
        "--storage",
        "plaintext",
    ]);
    let url = format!("{}/", env.server.url());
    let net = [
        "--network",
        url.as_str(),
        "--root-key",
        "fetch",
        "--identity",
        "dev",
    ];

    // icp-cli downloads; keepsake verifies and imports.
    env.set(env.module, "k", b"via icp-cli");
    let snap = env.take_snapshot();
    let from_icp = env.path("from-icp");
    let module_text = env.module.to_text();
    let mut args = vec![
        "canister",
        "snapshot",
        "download",
        module_text.as_str(),
        &snap,
        "-o",
    ];
    let from_icp_text = from_icp.to_str().unwrap().to_string();
    args.push(&from_icp_text);
    args.extend(net);
    icp(&args);
    // icp-cli writes no manifest: verify cannot vouch for the contents, import needs the flag.
    env.keepsake()
        .args(["verify", &from_icp_text])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no keepsake.json"));
    let fresh = env.fresh_canister();
    env.ok(&[
        "import",
        &from_icp_text,
        "--to",
        &fresh.to_text(),
        "--no-manifest",
        "--restore",
        "--yes",
    ]);
    assert_eq!(env.get(fresh, "k").unwrap(), b"via icp-cli");

    // keepsake exports; icp-cli uploads and restores.
    env.set(env.module, "k", b"via keepsake");
    let out = env.path("from-keepsake");
    let out_text = out.to_str().unwrap().to_string();
    env.ok(&["export", "app", "--out", &out_text, "--take"]);
    let other = env.fresh_canister();
    let other_text = other.to_text();
    let mut args = vec![
        "canister",
        "snapshot",
        "upload",
        other_text.as_str(),
        "-i",
        &out_text,
        "--quiet",
    ];
    args.extend(net);
    let uploaded = icp(&args);
    let id = uploaded
        .split_whitespace()
        .last()
        .expect("icp printed the snapshot id")
        .to_string();
    for step in [
        vec!["canister", "stop", other_text.as_str()],
        vec![
            "canister",
            "snapshot",
            "restore",
            other_text.as_str(),
            id.as_str(),
        ],
        vec!["canister", "start", other_text.as_str()],
    ] {
        let mut a = step.clone();
        a.extend(net);
        icp(&a);
    }
    assert_eq!(env.get(other, "k").unwrap(), b"via keepsake");
}

/// `keepsake` as the developer, run from `project` with `--network local`, so the network and
/// the orchestrator come from the project's configuration files (no URL, no principal given).
fn keepsake_in_project(env: &Env, project: &Path) -> Command {
    let mut c = Command::cargo_bin("keepsake").unwrap();
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DFX_CONFIG_ROOT", env.path("home"))
        .env("HOME", env.path("home"))
        .current_dir(project)
        .args(["--network", "local"])
        .args(["--pem", env.path("developer.pem").to_str().unwrap()]);
    c
}

fn server_port(env: &Env) -> u16 {
    env.server
        .url()
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .expect("the server URL ends with its port")
}

#[test]
fn the_orchestrator_name_resolves_from_a_dfx_project_on_the_local_network() {
    let env = Env::registered();
    let project = env.path("dfx-project");
    std::fs::create_dir_all(project.join(".dfx/local")).unwrap();
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::write(
        project.join("dfx.json"),
        format!(
            r#"{{"canisters": {{}}, "networks": {{"local": {{"bind": "127.0.0.1:{}", "type": "ephemeral"}}}}}}"#,
            server_port(&env)
        ),
    )
    .unwrap();
    std::fs::write(
        project.join(".dfx/local/canister_ids.json"),
        format!(
            r#"{{"orchestrator": {{"local": "{}"}}, "backup_orch": {{"local": "{}"}}}}"#,
            env.orchestrator, env.orchestrator
        ),
    )
    .unwrap();
    // The default name, from a subfolder (the project is the nearest folder with dfx.json).
    let out = keepsake_in_project(&env, &project.join("src"))
        .args(["--json", "module", "list"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let modules: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(modules[0]["name"], "app");
    // Another name.
    keepsake_in_project(&env, &project)
        .args(["--orchestrator", "backup_orch", "module", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("app"));
    // A name the project does not know: a usage error saying where it looked and what to do.
    keepsake_in_project(&env, &project)
        .args(["--orchestrator", "missing", "module", "list"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("canister_ids.json"))
        .stderr(predicate::str::contains("give its principal"));
}

#[test]
fn the_orchestrator_name_resolves_from_an_icp_cli_project_as_icp_cli_itself_resolves_it() {
    let env = Env::registered();
    let project = env.path("icp-project");
    std::fs::create_dir_all(project.join(".icp/cache/mappings")).unwrap();
    // A managed local network on the test server's port, as icp-cli 1.5 reads it.
    std::fs::write(
        project.join("icp.yaml"),
        format!(
            "canisters:\n  - name: orchestrator\n    build:\n      steps:\n        - type: script\n          commands:\n            - \"true\"\n\
             networks:\n  - name: local\n    mode: managed\n    gateway:\n      bind: 127.0.0.1\n      port: {}\n",
            server_port(&env)
        ),
    )
    .unwrap();
    // icp-cli's id store for the implicit `local` environment (a managed network: cache/).
    std::fs::write(
        project.join(".icp/cache/mappings/local.ids.json"),
        format!(r#"{{"orchestrator": "{}"}}"#, env.orchestrator),
    )
    .unwrap();
    let out = keepsake_in_project(&env, &project)
        .args(["--json", "module", "list"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let modules: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(modules[0]["name"], "app");
    // The real icp-cli reads the same file to the same id (so the format is icp-cli's).
    let icp_home = env.path("icp-home-ids");
    std::fs::create_dir_all(&icp_home).unwrap();
    let out = std::process::Command::new(icp_cli())
        .env("HOME", &icp_home)
        .env("DO_NOT_TRACK", "1")
        .current_dir(&project)
        .args([
            "canister",
            "status",
            "orchestrator",
            "-e",
            "local",
            "--id-only",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "icp canister status --id-only failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        env.orchestrator.to_text()
    );
}

/// The real binary on a pseudo-terminal (rexpect): stdin, stdout and stderr are all the
/// terminal, as when a person runs it.
fn on_terminal(env: &Env, args: &[&str]) -> rexpect::session::PtySession {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("keepsake"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DFX_CONFIG_ROOT", env.path("home"))
        .env("HOME", env.path("home"))
        .env("TERM", "xterm")
        .env("COLUMNS", "120")
        .current_dir(env.dir.path())
        .args(["--network", &env.server.url()])
        .args(["--pem", env.path("developer.pem").to_str().unwrap()])
        .args(["--orchestrator", &env.orchestrator.to_text()])
        .args(args);
    rexpect::session::spawn_command(c, Some(60_000)).expect("spawn keepsake on a pty")
}

fn exit_code(p: &rexpect::session::PtySession) -> i32 {
    match p.process().wait().expect("wait for keepsake") {
        rexpect::process::WaitStatus::Exited(_, code) => code,
        other => panic!("keepsake did not exit normally: {other:?}"),
    }
}

#[test]
fn on_a_terminal_a_destructive_command_asks_and_n_changes_nothing_while_y_proceeds() {
    let env = Env::registered();
    env.set(env.module, "greeting", b"hello");
    let id = env.take_snapshot();
    env.set(env.module, "greeting", b"broken");

    let mut p = on_terminal(&env, &["snapshot", "restore", "app", "--snapshot", &id]);
    p.exp_string("Continue? [y/N]").unwrap();
    p.send_line("n").unwrap();
    p.exp_string("cancelled; nothing was changed").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 2);
    assert_eq!(env.get(env.module, "greeting").unwrap(), b"broken");
    // Nothing reached the orchestrator either: no restore in the history.
    let kinds = env.json(&["history", "app"])["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    assert!(
        !kinds.contains(&"restore_snapshot".to_string()),
        "{kinds:?}"
    );

    // Just Enter is the default: no.
    let mut p = on_terminal(&env, &["snapshot", "restore", "app", "--snapshot", &id]);
    p.exp_string("Continue? [y/N]").unwrap();
    p.send_line("").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 2);
    assert_eq!(env.get(env.module, "greeting").unwrap(), b"broken");

    let mut p = on_terminal(&env, &["snapshot", "restore", "app", "--snapshot", &id]);
    p.exp_string("Continue? [y/N]").unwrap();
    p.send_line("y").unwrap();
    p.exp_string(&id).unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 0);
    assert_eq!(env.get(env.module, "greeting").unwrap(), b"hello");
}

#[test]
fn an_export_shows_a_progress_bar_on_a_terminal_but_not_when_stdout_is_piped() {
    let env = Env::registered();
    // Enough data that the export lasts several bar redraws.
    env.fill(40_000_000, 5);
    let snap = env.take_snapshot();
    let tty_out = env.path("tty");
    let mut p = on_terminal(
        &env,
        &[
            "export",
            "app",
            "--snapshot",
            &snap,
            "--concurrency",
            "1",
            "--out",
            tty_out.to_str().unwrap(),
        ],
    );
    // The bar: label, bar, bytes done / total and the rate.
    p.exp_regex(r"export \[[=> ]+\] [0-9.]+ [KMG]?i?B/[0-9.]+ [KMG]?i?B [0-9.]+ [KMG]?i?B/s")
        .unwrap();
    p.exp_string("Exported snapshot").unwrap();
    p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 0);

    // The same on a terminal, but stdout piped (`| cat`): no bar, the result still printed.
    let piped_out = env.path("piped");
    let keepsake = assert_cmd::cargo::cargo_bin("keepsake");
    let script = format!(
        "'{}' --network '{}' --pem '{}' --orchestrator {} export app --snapshot {} \
         --concurrency 1 --out '{}' | cat",
        keepsake.display(),
        env.server.url(),
        env.path("developer.pem").display(),
        env.orchestrator,
        snap,
        piped_out.display()
    );
    let mut c = std::process::Command::new("sh");
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DFX_CONFIG_ROOT", env.path("home"))
        .env("HOME", env.path("home"))
        .env("TERM", "xterm")
        .env("COLUMNS", "120")
        .args(["-c", &script]);
    let mut p = rexpect::session::spawn_command(c, Some(60_000)).unwrap();
    let all = p.exp_eof().unwrap();
    assert_eq!(exit_code(&p), 0);
    assert!(all.contains("Exported snapshot"), "{all}");
    assert!(
        !all.contains("export ["),
        "a bar was drawn with stdout piped:\n{all}"
    );
    assert!(
        !all.contains("B/s"),
        "a rate was drawn with stdout piped:\n{all}"
    );
    assert_eq!(
        std::fs::read(tty_out.join("stable_memory.bin")).unwrap(),
        std::fs::read(piped_out.join("stable_memory.bin")).unwrap()
    );
}
