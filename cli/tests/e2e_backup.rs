//! End to end: `keepsake backup …` with the real binary against localnet over HTTP, into a
//! restic repository in a local folder, read back by keepsake and by the real `restic` CLI.

mod common;

use std::path::Path;

use common::backup::{
    PASSWORD, S3, S3_KEY, S3_SECRET, init_repo, json, keepsake, restic, restic_ok,
    restic_snapshots, tags_of,
};
use common::{Env, fails, files_of, succeeds, succeeds_with_json};
use serde_json::Value;

#[test]
fn a_backup_is_listed_by_module_and_restored_into_a_fresh_canister_with_the_data_back() {
    let env = Env::registered();
    env.set(env.module, "k1", b"v1");
    env.fill(5_000_000, 7);
    let bulk = env.bulk(env.module);
    let repo = init_repo(&env);
    let repo_s = repo.to_str().unwrap();

    let run = json(&env, &["backup", "run", "app", "--repo", repo_s, "--take"]);
    assert_eq!(run["already_present"], false);
    assert_eq!(run["module"], "app");
    assert_eq!(run["canister_id"], env.module.to_text());
    assert_eq!(run["orchestrator_id"], env.orchestrator.to_text());
    let backup_id = run["backup_id"].as_str().unwrap().to_string();
    let snapshot_id = run["snapshot_id"].as_str().unwrap().to_string();

    // The same snapshot again: nothing to do, the same backup.
    let again = json(
        &env,
        &[
            "backup",
            "run",
            "app",
            "--repo",
            repo_s,
            "--snapshot",
            &snapshot_id,
        ],
    );
    assert_eq!(again["already_present"], true);
    assert_eq!(again["backup_id"], backup_id.as_str());

    let listed = json(&env, &["backup", "list", "app", "--repo", repo_s]);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["backup_id"], backup_id.as_str());
    assert_eq!(listed[0]["snapshot_id"], snapshot_id.as_str());
    let other = json(&env, &["backup", "list", "other", "--repo", repo_s]);
    assert_eq!(other.as_array().unwrap().len(), 0);

    // Change the module, then restore the backup into a fresh canister.
    env.set(env.module, "k1", b"changed");
    let fresh = env.fresh_canister();
    assert_eq!(env.get(fresh, "k1"), None);
    let restored = json(
        &env,
        &[
            "backup",
            "restore",
            &backup_id[..8],
            "--repo",
            repo_s,
            "--to",
            &fresh.to_text(),
            "--load",
            "--yes",
        ],
    );
    assert_eq!(restored["canister_id"], fresh.to_text());
    assert_eq!(restored["load"]["started"], true);
    assert_eq!(env.get(fresh, "k1").unwrap(), b"v1");
    assert_eq!(env.bulk(fresh), bulk);
}

#[test]
fn a_wrong_password_is_refused_and_says_where_the_password_comes_from() {
    let env = Env::registered();
    let repo = init_repo(&env);
    let (code, _, err) = fails(
        env.keepsake()
            .env("KEEPSAKE_REPO_PASSWORD", "not the password")
            .args(["backup", "list", "--repo", repo.to_str().unwrap()]),
    );
    assert_eq!(code, 1);
    assert!(err.contains("wrong password"), "{err}");
    assert!(err.contains("KEEPSAKE_REPO_PASSWORD"), "{err}");
    assert!(
        !err.contains("not the password"),
        "the password leaked: {err}"
    );

    // A password file with the right password works; no password at all is a usage error.
    std::fs::write(env.path("pw"), format!("{PASSWORD}\n")).unwrap();
    env.keepsake()
        .args(["backup", "list", "--repo", repo.to_str().unwrap()])
        .args(["--password-file", env.path("pw").to_str().unwrap()])
        .assert()
        .success();
    let (code, _, err) =
        fails(
            env.keepsake()
                .args(["backup", "list", "--repo", repo.to_str().unwrap()]),
        );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("KEEPSAKE_REPO_PASSWORD"), "{err}");
}

#[test]
fn a_folder_that_is_not_a_repository_or_does_not_exist_is_refused_with_what_to_do() {
    let env = Env::registered();
    let missing = env.path("nowhere");
    let (_, _, err) =
        fails(keepsake(&env).args(["backup", "list", "--repo", missing.to_str().unwrap()]));
    assert!(err.contains("there is no backup repository"), "{err}");
    assert!(err.contains("backup init"), "{err}");

    let plain = env.path("plain");
    std::fs::create_dir_all(&plain).unwrap();
    std::fs::write(plain.join("notes.txt"), "hello").unwrap();
    let (_, _, err) =
        fails(keepsake(&env).args(["backup", "list", "--repo", plain.to_str().unwrap()]));
    assert!(err.contains("is not a backup repository"), "{err}");
    // And init refuses to write a repository over other files.
    let (_, _, err) =
        fails(keepsake(&env).args(["backup", "init", "--repo", plain.to_str().unwrap()]));
    assert!(err.contains("not empty"), "{err}");
    assert_eq!(files_of(&plain), vec!["notes.txt".to_string()]);

    // A backup id that is not in the repository.
    let repo = init_repo(&env);
    let (_, _, err) = fails(keepsake(&env).args([
        "backup",
        "restore",
        "deadbeef",
        "--repo",
        repo.to_str().unwrap(),
        "--to",
        &env.module.to_text(),
    ]));
    assert!(err.contains("no backup deadbeef"), "{err}");
}

#[test]
fn restic_lists_the_backup_and_restores_and_dumps_files_identical_to_an_export() {
    let restic_bin = restic();
    let env = Env::registered();
    env.set(env.module, "k1", b"v1");
    env.fill(3_000_000, 3);
    let snapshot_id = env.take_snapshot();
    let repo = init_repo(&env);
    let repo_s = repo.to_str().unwrap();
    let run = json(
        &env,
        &[
            "backup",
            "run",
            "app",
            "--repo",
            repo_s,
            "--snapshot",
            &snapshot_id,
        ],
    );
    let backup_id = run["backup_id"].as_str().unwrap().to_string();
    let out = env.path("export");
    env.json(&[
        "export",
        "app",
        "--out",
        out.to_str().unwrap(),
        "--snapshot",
        &snapshot_id,
    ]);

    // restic lists it, with keepsake's tags, and finds nothing wrong with the repository.
    let listed = restic_snapshots(&repo);
    assert_eq!(listed.len(), 1, "{listed:?} ({})", restic_bin.display());
    assert_eq!(listed[0]["id"], backup_id.as_str());
    let tags = tags_of(&listed[0]);
    assert!(tags.contains(&"module=app"), "{tags:?}");
    assert!(
        tags.contains(&format!("snapshot={snapshot_id}").as_str()),
        "{tags:?}"
    );
    restic_ok(&repo, &["check", "--read-data"]);

    // restic restore: the export's files, byte for byte (keepsake.json differs only in when
    // it was written).
    let target = env.path("restored");
    restic_ok(
        &repo,
        &["restore", &backup_id, "--target", target.to_str().unwrap()],
    );
    assert_eq!(files_of(&target), files_of(&out));
    for f in files_of(&out) {
        if f == "keepsake.json" {
            continue;
        }
        assert!(
            std::fs::read(target.join(&f)).unwrap() == std::fs::read(out.join(&f)).unwrap(),
            "{f} differs"
        );
    }
    let manifest = |dir: &Path| -> Value {
        serde_json::from_slice(&std::fs::read(dir.join("keepsake.json")).unwrap()).unwrap()
    };
    assert_eq!(manifest(&target)["files"], manifest(&out)["files"]);
    assert_eq!(
        manifest(&target)["snapshot_id"],
        manifest(&out)["snapshot_id"]
    );

    // restic dump of one file, and `keepsake verify` accepts what restic restored.
    let dumped = restic_ok(&repo, &["dump", &backup_id, "/stable_memory.bin"]);
    assert!(dumped == std::fs::read(out.join("stable_memory.bin")).unwrap());
    let verified = env.json(&["verify", target.to_str().unwrap()]);
    assert_eq!(verified["ok"], true, "{verified}");
}

#[test]
fn a_restore_into_a_canister_the_identity_does_not_control_is_refused_and_names_the_caller() {
    let env = Env::registered();
    let repo = init_repo(&env);
    let repo_s = repo.to_str().unwrap();
    let run = json(&env, &["backup", "run", "app", "--repo", repo_s, "--take"]);
    let backup_id = run["backup_id"].as_str().unwrap();
    // The stranger holds the repository password but controls no canister.
    let (code, _, err) = fails(
        env.keepsake_as("stranger")
            .env("KEEPSAKE_REPO_PASSWORD", PASSWORD)
            .args(["backup", "restore", backup_id, "--repo", repo_s])
            .args(["--to", &env.module.to_text()]),
    );
    assert_eq!(code, 1);
    let stranger = common::principal_of(common::STRANGER_PEM).to_text();
    assert!(err.contains("is not a controller"), "{err}");
    assert!(err.contains(&stranger), "{err}");
    // Nothing was uploaded: the module still has only the snapshot the backup was made from.
    let listed = env.json(&["snapshot", "list", "app"]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
}

/// `keepsake backup <args>` against the S3 server with the given secret key.
fn on_s3(env: &Env, s3: &S3, secret: &str, args: &[&str]) -> assert_cmd::Command {
    let mut c = keepsake(env);
    c.env("AWS_ACCESS_KEY_ID", S3_KEY)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .arg("backup")
        .args(args)
        .args(["--s3-endpoint", &s3.endpoint, "--s3-region", "us-east-1"]);
    c
}

#[test]
fn a_backup_in_an_s3_bucket_is_restored_and_wrong_keys_or_a_missing_bucket_are_refused() {
    let env = Env::registered();
    env.set(env.module, "k1", b"v1");
    env.fill(3_000_000, 3);
    let root = env.path("s3");
    std::fs::create_dir_all(root.join("backups")).unwrap();
    let s3 = S3::start(&root, None);
    let repo = "s3://backups/keepsake/app";

    succeeds(on_s3(&env, &s3, S3_SECRET, &["init", "--repo", repo]).arg("--json"));
    let run = succeeds_with_json(
        on_s3(
            &env,
            &s3,
            S3_SECRET,
            &["run", "app", "--repo", repo, "--take"],
        )
        .arg("--json"),
    );
    let backup_id = run["backup_id"].as_str().unwrap();
    // The repository's files are in the bucket, under the prefix.
    assert!(root.join("backups/keepsake/app/config").is_file());

    let fresh = env.fresh_canister();
    on_s3(
        &env,
        &s3,
        S3_SECRET,
        &["restore", backup_id, "--repo", repo],
    )
    .args(["--to", &fresh.to_text(), "--load", "--yes"])
    .assert()
    .success();
    assert_eq!(env.get(fresh, "k1").unwrap(), b"v1");

    // Wrong secret key: refused by the server, and said so.
    let (code, _, err) = fails(&mut on_s3(
        &env,
        &s3,
        "wrong-secret",
        &["list", "--repo", repo],
    ));
    assert_eq!(code, 1);
    assert!(!err.contains("wrong-secret"), "the secret leaked: {err}");
    assert!(
        err.to_lowercase().contains("cannot read the repository"),
        "{err}"
    );
    // A bucket that does not exist.
    let (_, _, err) = fails(&mut on_s3(
        &env,
        &s3,
        S3_SECRET,
        &["list", "--repo", "s3://nobucket/x"],
    ));
    assert!(err.contains("is not a backup repository"), "{err}");
    assert!(err.contains("bucket nobucket exists"), "{err}");
}

/// A backup job's identity: controls nothing, admin of nothing; made a snapshot viewer below.
const VIEWER_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIFpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpa\n-----END PRIVATE KEY-----\n";

/// Least privilege for cold storage: the developer makes a backup identity a snapshot viewer
/// of the module through the orchestrator (`module set --snapshot-viewers`), and that identity —
/// not a controller, not an admin — exports and backs up the module's snapshots by canister
/// id. An identity that is not a viewer is refused with what to do; clearing the list (`none`)
/// refuses the viewer again.
#[test]
fn a_snapshot_viewer_exports_and_backs_up_without_controlling_the_module() {
    let env = Env::registered();
    std::fs::write(env.path("viewer.pem"), VIEWER_PEM).unwrap();
    let viewer = common::principal_of(VIEWER_PEM);
    let module = env.module.to_text();
    env.ok(&["snapshot", "take", "app"]);
    env.set(env.module, "k", b"cold");
    let snapshot = env.take_snapshot();
    let repo = init_repo(&env);
    let repo_s = repo.to_str().unwrap();
    let as_viewer = |args: &[&str]| {
        let mut c = env.keepsake_as("viewer");
        c.env("KEEPSAKE_REPO_PASSWORD", PASSWORD).args(args);
        c
    };

    // Not yet a viewer: refused, and told how to become one.
    let out = env.path("before");
    let (code, _, err) = fails(&mut as_viewer(&[
        "export",
        &module,
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!(
            "{viewer} is not a controller of canister {module}"
        )),
        "{err}"
    );
    assert!(err.contains("--snapshot-viewers"), "{err}");
    assert!(!out.exists() && !env.path("before.partial").exists());

    let set = json(
        &env,
        &[
            "module",
            "set",
            "app",
            "--snapshot-viewers",
            &viewer.to_text(),
        ],
    );
    assert_eq!(set["name"], "app", "{set}");

    // A viewer: export and backup run both work, and the export verifies.
    let out = env.path("cold");
    succeeds(&mut as_viewer(&[
        "export",
        &module,
        "--out",
        out.to_str().unwrap(),
    ]));
    assert!(out.join("wasm_module.bin").exists());
    env.ok(&["verify", out.to_str().unwrap()]);
    let run = succeeds_with_json(&mut as_viewer(&[
        "--json", "backup", "run", &module, "--repo", repo_s,
    ]));
    assert_eq!(run["snapshot_id"], snapshot.as_str(), "{run}");
    assert_eq!(run["canister_id"], module.as_str(), "{run}");

    // The viewer still cannot change anything: taking a snapshot directly is refused.
    let (_, _, err) = fails(
        env.keepsake_as("viewer")
            .args(["snapshot", "take", &module]),
    );
    assert!(err.contains("not"), "{err}");
    // Someone who is not a viewer is refused with the same advice.
    let stranger = common::principal_of(common::STRANGER_PEM);
    let other = env.path("stranger");
    let (code, _, err) = fails(env.keepsake_as("stranger").args([
        "export",
        &module,
        "--out",
        other.to_str().unwrap(),
    ]));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("{stranger} is not a controller")),
        "{err}"
    );
    assert!(err.contains("--snapshot-viewers"), "{err}");

    // Back to controllers only: the viewer is refused again.
    env.ok(&["module", "set", "app", "--snapshot-viewers", "none"]);
    let again = env.path("again");
    let (code, _, _) = fails(&mut as_viewer(&[
        "export",
        &module,
        "--out",
        again.to_str().unwrap(),
    ]));
    assert_eq!(code, 1);
}
