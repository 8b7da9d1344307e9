//! End to end, the real binary against localnet: an export folder is untrusted input (issue 10,
//! items 1–4, 8 and the manifest format). A folder without keepsake.json never verifies as OK
//! and is imported only with `--no-manifest`; links, FIFOs and devices are refused without being
//! opened; `export` checks `--out` and `<out>.partial` before it takes or downloads anything, and
//! a second export into the same folder is refused while the first holds its lock.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use candid::Principal;
use predicates::prelude::*;
use serde_json::Value;

use common::Env;

/// Every command here must finish well within this (a FIFO or /dev/zero must not hang it).
const LIMIT: Duration = Duration::from_secs(60);

/// An export of the module (with ~200 KB of stable memory and `k` = `value`).
fn exported(env: &Env, name: &str, value: &[u8]) -> PathBuf {
    env.set(env.module, "k", value);
    env.fill(200_000, 1);
    let out = env.path(name);
    env.ok(&["export", "app", "--out", out.to_str().unwrap(), "--take"]);
    out
}

fn verify_json(env: &Env, dir: &Path) -> Value {
    let out = env
        .keepsake()
        .timeout(LIMIT)
        .args(["--json", "verify", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "verify must fail: {out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn kinds(report: &Value) -> Vec<String> {
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap().to_string())
        .collect()
}

fn snapshot_count(env: &Env, canister: Principal) -> usize {
    env.snapshot_ids(canister).len()
}

fn mkfifo(path: &Path) {
    assert!(
        std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .unwrap()
            .success()
    );
}

#[test]
fn an_export_whose_manifest_was_removed_is_not_ok_and_is_imported_only_with_no_manifest() {
    let env = Env::registered();
    let out = exported(&env, "backup", b"original");
    let dir = out.to_str().unwrap();
    std::fs::remove_file(out.join("keepsake.json")).unwrap();
    // Tamper with the stable memory, keeping its size.
    let stable = out.join("stable_memory.bin");
    let mut bytes = std::fs::read(&stable).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&stable, &bytes).unwrap();

    env.keepsake()
        .timeout(LIMIT)
        .args(["verify", dir])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("cannot be checked"))
        .stdout(predicate::str::starts_with("OK").not())
        .stderr(predicate::str::contains("cannot check the contents"));
    let report = verify_json(&env, &out);
    assert_eq!(report["ok"], false);
    assert_eq!(report["manifest"], false);
    assert_eq!(kinds(&report), vec!["no_manifest"]);
    assert!(
        report["problems"][0]["unchecked"]
            .as_array()
            .unwrap()
            .contains(&"stable_memory.bin".into())
    );

    // import refuses, and says what to pass; nothing reaches the target.
    let fresh = env.fresh_canister();
    env.keepsake()
        .timeout(LIMIT)
        .args([
            "import",
            dir,
            "--to",
            &fresh.to_text(),
            "--restore",
            "--yes",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--no-manifest"));
    assert_eq!(snapshot_count(&env, fresh), 0);
    assert_eq!(env.get(fresh, "k"), None);

    // The flag's help names what is then unchecked (help text is wrapped: compare words).
    let help = env.ok(&["import", "--help"]);
    let words = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains("--no-manifest") && words.contains("NOT verified against any hash"),
        "{help}"
    );

    // Sizes are still checked against metadata.json, flag or not.
    let truncated = env.path("truncated");
    std::fs::create_dir_all(truncated.join("wasm_chunk_store")).unwrap();
    for f in ["metadata.json", "wasm_module.bin", "wasm_memory.bin"] {
        std::fs::copy(out.join(f), truncated.join(f)).unwrap();
    }
    std::fs::write(truncated.join("stable_memory.bin"), &bytes[..1000]).unwrap();
    let report = verify_json(&env, &truncated);
    assert!(
        kinds(&report).contains(&"truncated".to_string()),
        "{report}"
    );
    env.keepsake()
        .timeout(LIMIT)
        .args([
            "import",
            truncated.to_str().unwrap(),
            "--to",
            &fresh.to_text(),
            "--no-manifest",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("truncated"));
    assert_eq!(snapshot_count(&env, fresh), 0);

    // With the flag, the user takes responsibility for the contents: it imports and restores.
    let out_text = env
        .keepsake()
        .timeout(LIMIT)
        .args([
            "import",
            dir,
            "--to",
            &fresh.to_text(),
            "--no-manifest",
            "--restore",
            "--yes",
        ])
        .output()
        .unwrap();
    assert!(out_text.status.success(), "{out_text:?}");
    assert!(
        String::from_utf8_lossy(&out_text.stderr).contains("not verified against any hash"),
        "{out_text:?}"
    );
    assert_eq!(env.get(fresh, "k").unwrap(), b"original");
}

#[test]
fn a_memory_file_that_links_outside_the_folder_is_refused_by_verify_and_import() {
    let env = Env::registered();
    let out = exported(&env, "backup", b"v");
    let dir = out.to_str().unwrap();
    let outside = env.path("outside-stable.bin");
    std::fs::rename(out.join("stable_memory.bin"), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, out.join("stable_memory.bin")).unwrap();

    env.keepsake()
        .timeout(LIMIT)
        .args(["verify", dir])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "stable_memory.bin: is a symbolic link",
        ));
    let report = verify_json(&env, &out);
    assert_eq!(kinds(&report), vec!["not_regular_file"]);
    let fresh = env.fresh_canister();
    env.keepsake()
        .timeout(LIMIT)
        .args([
            "import",
            dir,
            "--to",
            &fresh.to_text(),
            "--restore",
            "--yes",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("refusing to import"));
    assert_eq!(snapshot_count(&env, fresh), 0);
}

#[test]
fn a_link_to_dev_zero_and_fifos_in_an_export_are_refused_at_once_without_being_opened() {
    let env = Env::registered();
    let out = exported(&env, "backup", b"v");
    let dir = out.to_str().unwrap();
    std::os::unix::fs::symlink("/dev/zero", out.join("zero.bin")).unwrap();
    mkfifo(&out.join("pipe"));
    mkfifo(&out.join("wasm_chunk_store").join("pipe.bin"));

    let started = std::time::Instant::now();
    let report = verify_json(&env, &out);
    let mut k = kinds(&report);
    k.sort();
    assert_eq!(k, vec!["not_regular_file"; 3], "{report}");
    // Not hashed: --json lists no size or sha256 for them.
    let listed: Vec<&str> = report["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    for p in ["zero.bin", "pipe", "wasm_chunk_store/pipe.bin"] {
        assert!(!listed.contains(&p), "{p} was hashed: {listed:?}");
    }
    assert!(report.to_string().contains("FIFO"), "{report}");

    // A FIFO in place of a memory file: import refuses it, and does not hang.
    let fifo_dir = env.path("fifo-export");
    std::fs::create_dir_all(fifo_dir.join("wasm_chunk_store")).unwrap();
    for f in [
        "metadata.json",
        "keepsake.json",
        "wasm_module.bin",
        "stable_memory.bin",
    ] {
        std::fs::copy(out.join(f), fifo_dir.join(f)).unwrap();
    }
    mkfifo(&fifo_dir.join("wasm_memory.bin"));
    let fresh = env.fresh_canister();
    for d in [dir, fifo_dir.to_str().unwrap()] {
        env.keepsake()
            .timeout(LIMIT)
            .args(["import", d, "--to", &fresh.to_text(), "--yes"])
            .assert()
            .code(1)
            .stdout(predicate::str::contains("not a regular file"))
            .stderr(predicate::str::contains("refusing to import"));
    }
    assert!(started.elapsed() < LIMIT);
    assert_eq!(snapshot_count(&env, fresh), 0);
}

#[test]
fn export_checks_out_and_its_partial_folder_before_it_takes_or_downloads_anything() {
    let env = Env::registered();
    env.set(env.module, "k", b"v");
    let before = snapshot_count(&env, env.module);
    let export = |out: &Path| {
        env.keepsake()
            .timeout(LIMIT)
            .args(["export", "app", "--out", out.to_str().unwrap(), "--take"])
            .assert()
            .code(1)
    };

    // --out is a dangling link.
    let dangling = env.path("dangling");
    std::os::unix::fs::symlink(env.path("nowhere"), &dangling).unwrap();
    export(&dangling).stderr(predicate::str::contains("is a symbolic link"));
    // --out is a file.
    let file = env.path("a-file");
    std::fs::write(&file, b"x").unwrap();
    export(&file).stderr(predicate::str::contains("not a folder"));

    // <out>.partial links to another folder: nothing is written there, no link renamed.
    let elsewhere = env.path("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let out = env.path("backup");
    std::os::unix::fs::symlink(&elsewhere, env.path("backup.partial")).unwrap();
    export(&out).stderr(predicate::str::contains(
        "backup.partial is a symbolic link",
    ));
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    assert!(std::fs::symlink_metadata(&out).is_err());

    // <out>.partial holds something that is not an export's.
    let out2 = env.path("backup2");
    std::fs::create_dir(env.path("backup2.partial")).unwrap();
    std::fs::write(env.path("backup2.partial/wasm_module.bin"), b"not ours").unwrap();
    export(&out2).stderr(predicate::str::contains("holds no journal"));
    assert_eq!(
        std::fs::read(env.path("backup2.partial/wasm_module.bin")).unwrap(),
        b"not ours"
    );

    // Not one snapshot was taken by the refused runs.
    assert_eq!(snapshot_count(&env, env.module), before);
    // A command that fails after the checks (an unknown module) leaves no empty .partial.
    let ok = env.path("fine");
    env.keepsake()
        .timeout(LIMIT)
        .args(["export", "no-such-module", "--out", ok.to_str().unwrap()])
        .assert()
        .failure();
    assert!(!env.path("fine.partial").exists());
    env.ok(&["export", "app", "--out", ok.to_str().unwrap(), "--take"]);
    assert!(ok.join("keepsake.json").is_file());
}

#[test]
fn a_second_export_into_the_same_out_is_refused_while_another_holds_its_lock() {
    let env = Env::registered();
    env.set(env.module, "k", b"v");
    let before = snapshot_count(&env, env.module);
    let out = env.path("backup");
    // Another export is running: it holds the lock in <out>.partial (as keepsake does: flock on
    // .keepsake-export.lock, its pid inside).
    std::fs::create_dir(env.path("backup.partial")).unwrap();
    let lock_path = env.path("backup.partial/.keepsake-export.lock");
    std::fs::write(&lock_path, "4242\n").unwrap();
    let lock = std::fs::File::open(&lock_path).unwrap();
    lock.lock().unwrap();
    env.keepsake()
        .timeout(LIMIT)
        .args(["export", "app", "--out", out.to_str().unwrap(), "--take"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "another export into {} is running (pid 4242?)",
            out.display()
        )));
    assert_eq!(snapshot_count(&env, env.module), before);
    assert!(!out.exists());
    // Once it is released, the export runs (the folder held nothing but the lock file).
    drop(lock);
    env.ok(&["export", "app", "--out", out.to_str().unwrap(), "--take"]);
    assert!(out.join("keepsake.json").is_file());
    assert!(!out.join(".keepsake-export.lock").exists());
}

#[test]
fn a_manifest_of_an_unknown_format_is_refused_naming_the_format_this_keepsake_reads() {
    let env = Env::registered();
    let out = exported(&env, "backup", b"v");
    let path = out.join("keepsake.json");
    let mut manifest: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    manifest["format"] = 99.into();
    std::fs::write(&path, serde_json::to_vec_pretty(&manifest).unwrap()).unwrap();
    env.keepsake()
        .timeout(LIMIT)
        .args(["verify", out.to_str().unwrap()])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("format 99"))
        .stdout(predicate::str::contains("reads format 1"));
    assert_eq!(kinds(&verify_json(&env, &out)), vec!["invalid_manifest"]);
    let fresh = env.fresh_canister();
    env.keepsake()
        .timeout(LIMIT)
        .args(["import", out.to_str().unwrap(), "--to", &fresh.to_text()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("refusing to import"));
    // --no-manifest is for an absent manifest, not for one keepsake cannot read.
    env.keepsake()
        .timeout(LIMIT)
        .args([
            "import",
            out.to_str().unwrap(),
            "--to",
            &fresh.to_text(),
            "--no-manifest",
        ])
        .assert()
        .code(1);
    assert_eq!(snapshot_count(&env, fresh), 0);
}

/// The real binary as the developer, spawned (for what must happen while it runs).
fn spawn_keepsake(env: &Env, args: &[&str]) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("keepsake"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", env.path("home"))
        .env("DFX_CONFIG_ROOT", env.path("home"))
        .env("KEEPSAKE_CACHE_DIR", env.path("cache"))
        .args(["--network", &env.server.url()])
        .args(["--pem", env.path("developer.pem").to_str().unwrap()])
        .args(["--orchestrator", &env.orchestrator.to_text()])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `ready` holds (polling), at most two minutes.
fn wait_for(what: &str, ready: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while !ready() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Lines of the (only) import journal in the cache folder.
fn import_journal_lines(env: &Env) -> usize {
    let Ok(entries) = std::fs::read_dir(env.path("cache/imports")) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .map(|t| t.lines().count())
        .max()
        .unwrap_or(0)
}

#[test]
fn bytes_changed_while_an_import_uploads_fail_it_naming_the_file_and_nothing_is_loaded() {
    let env = Env::registered();
    env.set(env.module, "k", b"exported");
    env.fill(20_000_000, 2);
    let out = env.path("backup");
    env.ok(&["export", "app", "--out", out.to_str().unwrap(), "--take"]);
    let fresh = env.fresh_canister();
    let child = spawn_keepsake(
        &env,
        &[
            "import",
            out.to_str().unwrap(),
            "--to",
            &fresh.to_text(),
            "--restore",
            "--yes",
            "--concurrency",
            "1",
        ],
    );
    // Verified, metadata uploaded, a first slice sent: now change the end of the stable memory
    // (same size), which is read for upload only after about ten more slices.
    wait_for("the first uploaded slice", || {
        import_journal_lines(&env) >= 2
    });
    let stable = out.join("stable_memory.bin");
    let size = std::fs::metadata(&stable).unwrap().len();
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&stable)
            .unwrap();
        f.write_all_at(&[0xee; 16], size - 16).unwrap();
    }
    let done = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("stable_memory.bin changed after it was verified"),
        "{stderr}"
    );
    assert!(stderr.contains("NOT loaded"), "{stderr}");
    // Not loaded: the fresh canister still runs its own state.
    assert_eq!(env.get(fresh, "k"), None);
}

#[test]
fn two_exports_into_the_same_out_at_once_the_second_is_refused_and_the_first_completes() {
    let env = Env::registered();
    env.fill(30_000_000, 3);
    let snap = env.take_snapshot();
    let out = env.path("big");
    let first = spawn_keepsake(
        &env,
        &[
            "export",
            &env.module.to_text(),
            "--out",
            out.to_str().unwrap(),
            "--snapshot",
            &snap,
            "--concurrency",
            "1",
        ],
    );
    let journal = env.path("big.partial/.keepsake-export.journal");
    wait_for("the first export's first slice", || {
        std::fs::read_to_string(&journal)
            .map(|t| t.lines().count() >= 2)
            .unwrap_or(false)
    });
    let second = env
        .keepsake()
        .timeout(LIMIT)
        .args([
            "export",
            &env.module.to_text(),
            "--out",
            out.to_str().unwrap(),
            "--snapshot",
            &snap,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "another export into {} is running (pid {}?)",
            out.display(),
            first.id()
        )),
        "{stderr}"
    );
    let done = first.wait_with_output().unwrap();
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert_eq!(env.json(&["verify", out.to_str().unwrap()])["ok"], true);
}
