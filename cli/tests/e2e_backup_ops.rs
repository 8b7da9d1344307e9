//! End to end: the fleet and maintenance side of `keepsake backup` — `run --all`, `sync`,
//! `forget`, the repository lock, an interrupted run — with the real binary against localnet
//! over HTTP, into a restic repository in a local folder, checked with the real `restic` CLI.

mod common;

use std::path::Path;
use std::time::Duration;

use common::backup::{
    PASSWORD, background, init_repo, json, keepsake, kill_mid_backup, locks, restic_snapshots,
    size_of, wait_for,
};
use common::gate::Gate;
use common::{Env, fails, json_of, succeeded};
use serde_json::Value;

/// The ids of the snapshots the `restic` CLI lists in `repo`, sorted.
fn restic_snapshot_ids(repo: &Path) -> Vec<String> {
    let mut ids: Vec<String> = restic_snapshots(repo)
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn listed_ids(env: &Env, repo: &Path) -> Vec<String> {
    let listed = json(env, &["backup", "list", "--repo", repo.to_str().unwrap()]);
    let mut ids: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["backup_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn run_all_backs_up_every_module_and_one_failing_does_not_stop_the_others() {
    let env = Env::registered();
    env.set(env.module, "k1", b"v1");
    env.take_snapshot();
    let other = env.add_module("other");
    let repo = init_repo(&env);
    let repo_s = repo.to_str().unwrap();

    // "other" has no snapshot yet: it fails, "app" is backed up anyway, the exit code says so.
    let (code, stdout, stderr) = fails(
        keepsake(&env)
            .arg("--json")
            .args(["backup", "run", "--all", "--repo", repo_s]),
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("1 of 2 backups failed"), "{stderr}");
    let out: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(out["failed"], 1, "{out}");
    let by = |name: &str| {
        out["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["module"] == name)
            .unwrap_or_else(|| panic!("no result for {name}: {out}"))
            .clone()
    };
    assert_eq!(by("app")["result"], "backed_up", "{out}");
    assert_eq!(by("other")["result"], "failed", "{out}");
    assert_eq!(by("other")["canister_id"], other.to_text());
    assert!(
        by("other")["error"]
            .as_str()
            .unwrap()
            .contains("has no snapshot"),
        "{out}"
    );
    assert_eq!(listed_ids(&env, &repo).len(), 1);

    // With --take every module gets a fresh snapshot and a backup; human output, one line each.
    let out = keepsake(&env)
        .args([
            "backup",
            "run",
            "--all",
            "--take",
            "--concurrency",
            "2",
            "--repo",
            repo_s,
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches("backed_up").count(), 2, "{stdout}");
    let listed = json(&env, &["backup", "list", "other", "--repo", repo_s]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains(PASSWORD),
        "the password leaked"
    );
    // And the lock is gone.
    assert!(locks(&repo).is_empty(), "{:?}", locks(&repo));
}

#[test]
fn sync_backs_up_every_snapshot_the_repository_lacks_and_a_second_sync_backs_up_nothing() {
    let env = Env::registered();
    env.ok(&["module", "set", "app", "--max-snapshots", "5"]);
    env.set(env.module, "k1", b"v1");
    let first = env.take_snapshot();
    env.set(env.module, "k1", b"v2");
    let second = env.take_snapshot();
    env.add_module("other");
    let other_snap = json(&env, &["snapshot", "take", "other"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let repo = init_repo(&env);
    let repo_s = repo.to_str().unwrap();
    // One of them is already there: sync skips it.
    json(
        &env,
        &[
            "backup",
            "run",
            "app",
            "--snapshot",
            &first,
            "--repo",
            repo_s,
        ],
    );

    let synced = json(&env, &["backup", "sync", "--repo", repo_s]);
    assert_eq!(synced["backed_up"], 2, "{synced}");
    assert_eq!(synced["already_present"], 1, "{synced}");
    assert_eq!(synced["failed"], 0, "{synced}");
    let mut got: Vec<String> = synced["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["snapshot_id"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    let mut want = vec![second.clone(), other_snap.clone()];
    want.sort();
    assert_eq!(got, want, "{synced}");
    let listed = json(&env, &["backup", "list", "--repo", repo_s]);
    assert_eq!(listed.as_array().unwrap().len(), 3, "{listed}");

    // Idempotent: nothing to do, and it says so.
    let again = json(&env, &["backup", "sync", "--repo", repo_s]);
    assert_eq!(again["backed_up"], 0, "{again}");
    assert_eq!(again["already_present"], 3, "{again}");
    assert_eq!(again["results"].as_array().unwrap().len(), 0, "{again}");
    let human = keepsake(&env)
        .args(["backup", "sync", "--repo", repo_s])
        .output()
        .unwrap();
    assert!(human.status.success());
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("Nothing to back up"), "{text}");
    assert_eq!(listed_ids(&env, &repo).len(), 3);

    // A new snapshot on-chain: the next sync picks up exactly that one.
    let third = env.take_snapshot();
    let synced = json(&env, &["backup", "sync", "--repo", repo_s]);
    assert_eq!(synced["backed_up"], 1, "{synced}");
    assert_eq!(
        synced["results"][0]["snapshot_id"],
        third.as_str(),
        "{synced}"
    );
}

#[test]
fn forget_keeps_what_the_rules_keep_per_module_restic_agrees_and_prune_shrinks_the_repository() {
    let env = Env::registered();
    env.add_module("other");
    let repo = init_repo(&env);
    let repo_s = repo.to_str().unwrap();
    // Four snapshots of app, each with 2 MB of data no other has (the module is rewound to an
    // empty pinned snapshot before each fill), taken at different times; one of "other".
    env.ok(&["module", "set", "app", "--max-snapshots", "3"]);
    let empty = env.json(&["snapshot", "take", "app", "--pin"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut app = Vec::new();
    for seed in 0..4 {
        env.json(&["--yes", "snapshot", "restore", "app", "--snapshot", &empty]);
        env.fill(2_000_000, 100 + seed);
        let id = env.take_snapshot();
        let run = json(
            &env,
            &["backup", "run", "app", "--snapshot", &id, "--repo", repo_s],
        );
        app.push(run["backup_id"].as_str().unwrap().to_string());
        std::thread::sleep(Duration::from_millis(1100));
    }
    let other = json(
        &env,
        &["backup", "run", "other", "--take", "--repo", repo_s],
    );
    let other = other["backup_id"].as_str().unwrap().to_string();

    // No rule at all: refused, nothing changed.
    let (code, _, err) = fails(keepsake(&env).args(["backup", "forget", "--repo", repo_s]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--keep-last"), "{err}");
    assert_eq!(listed_ids(&env, &repo).len(), 5);

    // Dry run: says what would go, changes nothing.
    let before = std::fs::read_dir(repo.join("snapshots")).unwrap().count();
    let dry = json(
        &env,
        &[
            "backup",
            "forget",
            "--repo",
            repo_s,
            "--keep-last",
            "2",
            "--dry-run",
        ],
    );
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["removed"], 2, "{dry}");
    let removed: Vec<&str> = dry["backups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["keep"] == false)
        .map(|d| d["backup_id"].as_str().unwrap())
        .collect();
    let mut oldest_two = vec![app[0].as_str(), app[1].as_str()];
    oldest_two.sort();
    let mut removed_sorted = removed.clone();
    removed_sorted.sort();
    assert_eq!(removed_sorted, oldest_two, "{dry}");
    assert_eq!(
        std::fs::read_dir(repo.join("snapshots")).unwrap().count(),
        before
    );

    // Per module: --keep-last 2 keeps app's newest two and other's only backup.
    let size_before = size_of(&repo.join("data"));
    let done = json(
        &env,
        &[
            "backup",
            "forget",
            "--repo",
            repo_s,
            "--keep-last",
            "2",
            "--keep-daily",
            "1",
            "--prune",
        ],
    );
    assert_eq!(done["removed"], 2, "{done}");
    assert_eq!(done["kept"], 3, "{done}");
    let mut kept = vec![app[2].clone(), app[3].clone(), other.clone()];
    kept.sort();
    assert_eq!(listed_ids(&env, &repo), kept);
    // restic sees exactly the same backups.
    assert_eq!(restic_snapshot_ids(&repo), kept);
    // The prune removed the forgotten backups' data.
    let size_after = size_of(&repo.join("data"));
    assert!(
        size_after + 2_000_000 < size_before,
        "the repository did not shrink: {size_before} -> {size_after}"
    );
    let pruned = &done["prune"];
    assert!(
        pruned["repository_bytes_after"].as_u64() < pruned["repository_bytes_before"].as_u64(),
        "{done}"
    );
    assert!(locks(&repo).is_empty());

    // What is left restores: the newest backup of app, into a fresh canister.
    let fresh = env.fresh_canister();
    json(
        &env,
        &[
            "backup",
            "restore",
            &app[3],
            "--repo",
            repo_s,
            "--to",
            &fresh.to_text(),
            "--load",
            "--yes",
        ],
    );
    assert_eq!(env.bulk(fresh), env.bulk(env.module));
}

#[test]
fn a_second_run_against_a_locked_repository_is_refused_naming_the_holder_until_the_first_ends() {
    let env = Env::registered();
    env.fill(50_000_000, 11);
    env.take_snapshot();
    let repo = init_repo(&env);
    let repo_s = repo.to_str().unwrap();
    let fresh = env.fresh_canister();

    // The first run's traffic goes through a gate, closed once it holds the lock: it stays
    // mid-run, however fast the machine, until the checks below are done.
    let gate = Gate::start(&env.server.url());
    let first = background(
        &env,
        gate.url(),
        &[
            "--json",
            "backup",
            "run",
            "app",
            "--repo",
            repo_s,
            "--concurrency",
            "1",
        ],
    );
    wait_for("the first run's lock", Duration::from_secs(60), || {
        !locks(&repo).is_empty()
    });
    gate.close();

    let (code, _, err) =
        fails(keepsake(&env).args(["backup", "run", "app", "--take", "--repo", repo_s]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("is in use by `keepsake backup run`"), "{err}");
    assert!(err.contains(&format!("pid {}", first.id())), "{err}");
    // Nothing was taken by the refused run (it checks the lock before taking a snapshot).
    let snaps = env.json(&["snapshot", "list", "app"]);
    assert_eq!(snaps.as_array().unwrap().len(), 1, "{snaps}");
    // forget is refused too.
    let (_, _, err) =
        fails(keepsake(&env).args(["backup", "forget", "--keep-last", "1", "--repo", repo_s]));
    assert!(err.contains("is in use by"), "{err}");

    gate.open();
    let run = json_of(&succeeded(
        "the first run",
        first.wait_with_output().unwrap(),
    ));
    assert!(
        locks(&repo).is_empty(),
        "the lock was left: {:?}",
        locks(&repo)
    );
    // Free again: a restore takes its (shared) lock and releases it.
    let backup_id = run["backup_id"].as_str().unwrap();
    json(
        &env,
        &[
            "backup",
            "restore",
            backup_id,
            "--repo",
            repo_s,
            "--to",
            &fresh.to_text(),
        ],
    );
    assert!(locks(&repo).is_empty());
}

#[test]
fn a_run_killed_mid_upload_leaves_no_listed_backup_and_the_rerun_completes_and_restores() {
    let env = Env::registered();
    env.set(env.module, "k1", b"v1");
    env.fill(50_000_000, 5);
    let snapshot = env.take_snapshot();
    let bulk = env.bulk(env.module);
    let repo = init_repo(&env);
    let repo_s = repo.to_str().unwrap();

    // Kill -9 mid-run, with the rest of its reads held back (common::gate).
    kill_mid_backup(
        &env,
        &repo,
        &[
            "backup",
            "run",
            "app",
            "--snapshot",
            &snapshot,
            "--repo",
            repo_s,
            "--concurrency",
            "2",
        ],
        40_000_000,
    );

    // No half backup is listed; the dead run's lock is still there.
    assert_eq!(listed_ids(&env, &repo), Vec::<String>::new());
    assert_eq!(locks(&repo).len(), 1);

    // The rerun removes the stale lock (its process is gone), completes, and restores.
    let out = keepsake(&env)
        .arg("--json")
        .args([
            "backup",
            "run",
            "app",
            "--snapshot",
            &snapshot,
            "--repo",
            repo_s,
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("Removing the stale lock"), "{err}");
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["already_present"], false);
    let backup_id = done["backup_id"].as_str().unwrap();
    assert_eq!(listed_ids(&env, &repo), vec![backup_id.to_string()]);
    assert_eq!(restic_snapshot_ids(&repo), vec![backup_id.to_string()]);
    assert!(locks(&repo).is_empty());

    let fresh = env.fresh_canister();
    json(
        &env,
        &[
            "backup",
            "restore",
            backup_id,
            "--repo",
            repo_s,
            "--to",
            &fresh.to_text(),
            "--load",
            "--yes",
        ],
    );
    assert_eq!(env.get(fresh, "k1").unwrap(), b"v1");
    assert!(env.bulk(fresh) == bulk, "the restored bulk data differs");
}
