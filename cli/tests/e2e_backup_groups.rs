//! End to end: group backups — `backup run --group`, `backup list`, `backup sync` and
//! `backup restore` of a group backup as a unit — with the real binary against localnet over
//! HTTP, into a restic repository in a local folder, read back by the real `restic` CLI.
//!
//! The group "shop" is three sample modules that call each other: `app` keeps a counter that
//! `b` mirrors, and `b` forwards it to `c`.

mod common;

use std::path::Path;

use candid::{Principal, decode_one, encode_args, encode_one};
use common::backup::{
    init_repo, json, keepsake, kill_mid_backup, locks, restic_ok, restic_snapshots, tags_of,
};
use common::{Env, files_of};
use ic_management_canister_types::{CanisterSettings, SnapshotVisibility, UpdateSettingsArgs};
use serde_json::Value;

/// The shop: app (env.module), b and c registered and grouped, app → b → c as peers.
struct Shop {
    env: Env,
    b: Principal,
    c: Principal,
}

impl Shop {
    fn new() -> Self {
        let env = Env::registered();
        let b = env.add_module("b");
        let c = env.add_module("c");
        env.ok(&["group", "add", "shop", "app", "b", "c"]);
        env.update(env.module, "set_peer", encode_one(Some(b)).unwrap());
        env.update(b, "set_peer", encode_one(Some(c)).unwrap());
        Shop { env, b, c }
    }

    fn members(&self) -> [(&'static str, Principal); 3] {
        [("app", self.env.module), ("b", self.b), ("c", self.c)]
    }

    /// app's counter, once b and c mirrored it.
    fn bump(&self) -> u64 {
        decode_one(
            &self
                .env
                .update(self.env.module, "bump", encode_args(()).unwrap()),
        )
        .unwrap()
    }

    /// (app's counter, b's mirror, c's mirror) of the three given canisters.
    fn values(&self, app: Principal, b: Principal, c: Principal) -> (u64, u64, u64) {
        let q = |id, m| -> u64 {
            decode_one(&self.env.query(id, m, encode_args(()).unwrap())).unwrap()
        };
        (q(app, "counter"), q(b, "mirrored"), q(c, "mirrored"))
    }

    /// A complete group snapshot: its id and each member's snapshot id (hex), by module.
    fn take(&self) -> (u64, Vec<(String, String)>) {
        let taken = self.env.json(&["snapshot", "take", "--group", "shop"]);
        assert_eq!(taken["status"], "complete", "{taken}");
        let members = taken["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["module"].as_str().unwrap().to_string(),
                    m["snapshot_id"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        (taken["id"].as_u64().unwrap(), members)
    }
}

/// Runs, returns (exit code, stdout, stderr).
fn run(c: &mut assert_cmd::Command) -> (i32, String, String) {
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn listed(env: &Env, repo: &Path, filter: Option<&str>) -> Vec<Value> {
    let mut args = vec!["backup", "list", "--repo", repo.to_str().unwrap()];
    args.extend(filter);
    json(env, &args).as_array().unwrap().clone()
}

fn snapshots_of(env: &Env, canister: Principal) -> usize {
    let dev = env.developer;
    env.server
        .replica()
        .with_net(|net| net.list_canister_snapshots(canister, Some(dev)))
        .unwrap()
        .len()
}

#[test]
fn a_group_backup_lists_as_one_backup_with_three_members_and_restic_dumps_each_members_export() {
    let shop = Shop::new();
    let env = &shop.env;
    // Room for two group snapshots (by default each replaces the previous one).
    for m in ["app", "b", "c"] {
        env.ok(&["module", "set", m, "--max-snapshots", "3"]);
    }
    for (i, (_, id)) in shop.members().iter().enumerate() {
        env.set(*id, "k", format!("v{i}").as_bytes());
    }
    env.fill(2_000_000, 2);
    shop.bump();
    let (older, _) = shop.take();
    shop.bump();
    let (gid, member_snaps) = shop.take();
    let repo = init_repo(env);
    let repo_s = repo.to_str().unwrap();

    // The newest complete group snapshot by default.
    let made = json(env, &["backup", "run", "--group", "shop", "--repo", repo_s]);
    assert_eq!(made["kind"], "group", "{made}");
    assert_eq!(made["group"], "shop");
    assert_eq!(made["group_snapshot_id"], gid);
    assert_eq!(made["already_present"], false);
    assert_eq!(made["member_files"].as_array().unwrap().len(), 3, "{made}");
    let backup_id = made["backup_id"].as_str().unwrap().to_string();
    // Again: nothing to do, the same backup.
    let again = json(
        env,
        &[
            "backup",
            "run",
            "--group",
            "shop",
            "--group-snapshot",
            &gid.to_string(),
            "--repo",
            repo_s,
        ],
    );
    assert_eq!(again["already_present"], true, "{again}");
    assert_eq!(again["backup_id"], backup_id.as_str());

    // One backup, with its three members; a member's name finds it too.
    let all = listed(env, &repo, None);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["kind"], "group");
    assert_eq!(all[0]["backup_id"], backup_id.as_str());
    let members = all[0]["members"].as_array().unwrap();
    assert_eq!(members.len(), 3, "{all:?}");
    for (module, snap) in &member_snaps {
        assert!(
            members
                .iter()
                .any(|m| m["module"] == module.as_str() && m["snapshot_id"] == snap.as_str()),
            "{module} {snap} not in {members:?}"
        );
    }
    assert_eq!(listed(env, &repo, Some("b")).len(), 1);
    assert_eq!(listed(env, &repo, Some("shop")).len(), 1);
    let text = String::from_utf8(
        keepsake(env)
            .args(["backup", "list", "--repo", repo_s])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(
        text.contains("group shop") && text.contains("3 members"),
        "{text}"
    );

    // restic lists one snapshot tagged with the group, the group snapshot and every member.
    let snaps = restic_snapshots(&repo);
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    let tags = tags_of(&snaps[0]);
    assert!(tags.contains(&"group=shop"), "{tags:?}");
    assert!(
        tags.contains(&format!("group_snapshot={gid}").as_str()),
        "{tags:?}"
    );
    assert_eq!(tags.iter().filter(|t| t.starts_with("member=")).count(), 3);
    restic_ok(&repo, &["check", "--read-data"]);

    // Each member's folder is its export: restic dump of a file, and restic restore of all.
    let restored = env.path("restored");
    restic_ok(
        &repo,
        &[
            "restore",
            &backup_id,
            "--target",
            restored.to_str().unwrap(),
        ],
    );
    assert!(restored.join("keepsake-group.json").is_file());
    for (module, snap) in &member_snaps {
        let out = env.path(&format!("export-{module}"));
        env.json(&[
            "export",
            module,
            "--out",
            out.to_str().unwrap(),
            "--snapshot",
            snap,
        ]);
        let dumped = restic_ok(
            &repo,
            &["dump", &backup_id, &format!("/{module}/stable_memory.bin")],
        );
        assert!(
            dumped == std::fs::read(out.join("stable_memory.bin")).unwrap(),
            "{module}: restic dump differs from the export"
        );
        let dir = restored.join(module);
        assert_eq!(files_of(&dir), files_of(&out), "{module}");
        for f in files_of(&out) {
            if f != "keepsake.json" {
                assert!(
                    std::fs::read(dir.join(&f)).unwrap() == std::fs::read(out.join(&f)).unwrap(),
                    "{module}/{f} differs"
                );
            }
        }
        let verified = env.json(&["verify", dir.to_str().unwrap()]);
        assert_eq!(verified["ok"], true, "{module}: {verified}");
    }

    // sync: the older group snapshot becomes a group backup too (and the members' snapshots
    // their own backups); a second sync backs up nothing.
    let synced = json(env, &["backup", "sync", "--repo", repo_s]);
    let groups = synced["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{synced}");
    assert_eq!(groups[0]["group_snapshot_id"], older);
    assert_eq!(groups[0]["result"], "backed_up", "{synced}");
    let again = json(env, &["backup", "sync", "--repo", repo_s]);
    assert_eq!(again["backed_up"], 0, "{again}");
    assert_eq!(again["groups"].as_array().unwrap().len(), 0, "{again}");
    let groups_listed = listed(env, &repo, Some("shop"));
    assert_eq!(groups_listed.len(), 2, "{groups_listed:?}");
}

#[test]
fn a_group_backup_restored_with_load_into_three_fresh_canisters_gives_each_its_members_state() {
    let shop = Shop::new();
    let env = &shop.env;
    for (i, (_, id)) in shop.members().iter().enumerate() {
        env.set(*id, "k", format!("v{i}").as_bytes());
    }
    shop.bump();
    let n = shop.bump();
    shop.take();
    let repo = init_repo(env);
    let repo_s = repo.to_str().unwrap();
    let made = json(env, &["backup", "run", "--group", "shop", "--repo", repo_s]);
    let backup_id = made["backup_id"].as_str().unwrap().to_string();
    // The originals move on.
    shop.bump();
    let fresh: Vec<Principal> = (0..3).map(|_| env.fresh_canister()).collect();
    let to: Vec<String> = ["app", "b", "c"]
        .iter()
        .zip(&fresh)
        .map(|(m, id)| format!("{m}={id}"))
        .collect();
    let mut args = vec![
        "--yes",
        "backup",
        "restore",
        &backup_id[..8],
        "--repo",
        repo_s,
        "--load",
    ];
    for t in &to {
        args.extend(["--to", t.as_str()]);
    }
    let report = json(env, &args);
    assert_eq!(report["restored"], true, "{report}");
    for m in report["members"].as_array().unwrap() {
        assert_eq!(m["outcome"], "restored", "{report}");
        assert_eq!(m["running"], true, "{report}");
        assert!(m["snapshot_id"].is_string(), "{report}");
    }
    // Each fresh canister holds its member's state, and the mirror matches the counter.
    assert_eq!(shop.values(fresh[0], fresh[1], fresh[2]), (n, n, n));
    for (i, id) in fresh.iter().enumerate() {
        assert_eq!(env.get(*id, "k").unwrap(), format!("v{i}").into_bytes());
        // The upload is kept (as for one backup); the safety snapshot is gone.
        assert_eq!(snapshots_of(env, *id), 1);
    }
    // The originals were not touched.
    assert_eq!(
        shop.values(env.module, shop.b, shop.c),
        (n + 1, n + 1, n + 1)
    );
}

#[test]
fn a_group_restore_where_one_target_refuses_leaves_nothing_loaded_or_uploaded_and_names_the_member()
{
    let shop = Shop::new();
    let env = &shop.env;
    env.set(env.module, "k", b"backed-up");
    shop.take();
    let repo = init_repo(env);
    let repo_s = repo.to_str().unwrap();
    let made = json(env, &["backup", "run", "--group", "shop", "--repo", repo_s]);
    let backup_id = made["backup_id"].as_str().unwrap().to_string();
    let (dev, stranger) = (env.developer, common::principal_of(common::STRANGER_PEM));
    let fresh: Vec<Principal> = (0..3).map(|_| env.fresh_canister()).collect();
    // c's target lets the developer list and read its snapshots (a viewer) but not upload:
    // it is the stranger's canister now. The first two members upload before it refuses.
    env.server
        .replica()
        .with_net(|net| {
            net.management_call::<_, ()>(
                dev,
                "update_settings",
                UpdateSettingsArgs {
                    canister_id: fresh[2],
                    settings: CanisterSettings {
                        controllers: Some(vec![stranger]),
                        snapshot_visibility: Some(SnapshotVisibility::AllowedViewers(vec![dev])),
                        ..Default::default()
                    },
                    sender_canister_version: None,
                },
            )
        })
        .unwrap();
    let restore = |targets: &[Principal]| {
        let mut c = keepsake(env);
        c.args([
            "--json", "--yes", "backup", "restore", &backup_id, "--repo", repo_s, "--load",
        ]);
        for (m, id) in ["app", "b", "c"].iter().zip(targets) {
            c.args(["--to", &format!("{m}={id}")]);
        }
        run(&mut c)
    };
    let (code, stdout, stderr) = restore(&fresh);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stderr.contains("c (upload)"), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["uploaded"], false, "{report}");
    assert_eq!(report["restored"], false, "{report}");
    let members = report["members"].as_array().unwrap();
    assert_eq!(members[2]["module"], "c");
    assert_eq!(members[2]["outcome"], "failed", "{report}");
    assert_eq!(members[2]["step"], "upload", "{report}");
    assert!(
        members[2]["reason"]
            .as_str()
            .unwrap()
            .contains("is not a controller"),
        "{report}"
    );
    for m in &members[..2] {
        assert_eq!(m["outcome"], "undone", "{report}");
        assert!(m["snapshot_id"].is_null(), "{report}");
    }
    // Nothing uploaded is left and nothing was loaded.
    for id in &fresh {
        assert_eq!(snapshots_of(env, *id), 0, "a snapshot was left on {id}");
        assert_eq!(env.get(*id, "k"), None);
    }

    // A target the identity cannot even list: refused before anything is uploaded anywhere.
    let other = env.server.replica().with_net(|net| {
        let id = net.create_canister_with_settings(Some(stranger), None);
        net.install_canister(
            id,
            common::wasm("sample-module-v1.wasm.gz"),
            encode_args(()).unwrap(),
            Some(stranger),
        );
        id
    });
    let (code, stdout, stderr) = restore(&[fresh[0], fresh[1], other]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stderr.contains("c (preflight)"), "{stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let members = report["members"].as_array().unwrap();
    assert_eq!(members[0]["outcome"], "untouched", "{report}");
    assert_eq!(members[2]["step"], "preflight", "{report}");
    assert_eq!(snapshots_of(env, fresh[0]), 0);
    assert_eq!(snapshots_of(env, fresh[1]), 0);
}

#[test]
fn a_group_backup_killed_mid_run_is_not_listed_and_the_rerun_completes() {
    let shop = Shop::new();
    let env = &shop.env;
    env.fill(50_000_000, 5);
    let (gid, _) = shop.take();
    let repo = init_repo(env);
    let repo_s = repo.to_str().unwrap();
    kill_mid_backup(
        env,
        &repo,
        &[
            "backup",
            "run",
            "--group",
            "shop",
            "--repo",
            repo_s,
            "--concurrency",
            "2",
        ],
        40_000_000,
    );

    // Not listed, by keepsake or (as a complete snapshot) by restic.
    assert_eq!(listed(env, &repo, None), Vec::<Value>::new());
    assert!(
        restic_snapshots(&repo)
            .iter()
            .all(|s| tags_of(s).contains(&"keepsake-partial")),
        "a killed run left a snapshot that is not marked unfinished"
    );

    // The rerun completes: one group backup, which restic lists alone.
    let done = json(env, &["backup", "run", "--group", "shop", "--repo", repo_s]);
    assert_eq!(done["already_present"], false, "{done}");
    assert_eq!(done["group_snapshot_id"], gid);
    let backup_id = done["backup_id"].as_str().unwrap();
    let all = listed(env, &repo, None);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["backup_id"], backup_id);
    let snaps = restic_snapshots(&repo);
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    assert_eq!(snaps[0]["id"], backup_id);
    assert!(locks(&repo).is_empty());
    let dumped = restic_ok(&repo, &["dump", backup_id, "/app/stable_memory.bin"]);
    assert_eq!(dumped.len() as u64, {
        let meta = restic_ok(&repo, &["dump", backup_id, "/app/metadata.json"]);
        let meta: Value = serde_json::from_slice(&meta).unwrap();
        meta["stable_memory_size"].as_u64().unwrap()
    });
}

#[test]
fn take_with_a_member_that_cannot_be_snapshotted_writes_no_backup() {
    let shop = Shop::new();
    let env = &shop.env;
    let repo = init_repo(env);
    let repo_s = repo.to_str().unwrap();
    // The orchestrator no longer controls b: it cannot snapshot it.
    let dev = env.developer;
    env.server
        .replica()
        .with_net(|net| net.set_controllers(shop.b, Some(dev), vec![dev]))
        .unwrap();
    let (code, stdout, stderr) = run(keepsake(env).args([
        "backup", "run", "--group", "shop", "--take", "--repo", repo_s,
    ]));
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stderr.contains("nothing was backed up"), "{stderr}");
    assert!(
        stderr.contains("\"b\""),
        "the failing member is not named: {stderr}"
    );
    assert_eq!(listed(env, &repo, None), Vec::<Value>::new());
    assert_eq!(restic_snapshots(&repo), Vec::<Value>::new());
    assert!(locks(&repo).is_empty());
    // No group snapshot was recorded either; the members all run.
    let shown = env.json(&["group", "show", "shop"]);
    assert_eq!(shown["snapshots"], serde_json::json!([]), "{shown}");
    for (_, id) in shop.members() {
        let running = env
            .server
            .replica()
            .with_net(|net| net.canister_status(id, Some(dev)))
            .map(|s| format!("{:?}", s.status));
        assert_eq!(running.unwrap(), "Running");
    }
}

#[test]
fn a_partial_group_snapshot_is_refused_and_by_default_the_newest_complete_one_is_backed_up() {
    let shop = Shop::new();
    let env = &shop.env;
    for m in ["app", "b", "c"] {
        env.ok(&["module", "set", m, "--max-snapshots", "3"]);
    }
    let (complete, _) = shop.take();
    // b keeps enough cycles for messages but not for a snapshot (localnet charges what the IC
    // charges): the next group snapshot, kept partial on request, lacks b.
    let dev = env.developer;
    let balance = env.server.replica().with_net(|net| {
        let status = net.canister_status(shop.b, Some(dev)).unwrap();
        let per_day: u128 = status.idle_cycles_burned_per_day.0.try_into().unwrap();
        let threshold: u128 = status.settings.freezing_threshold.0.try_into().unwrap();
        let reserve = per_day * threshold / 86_400 + per_day;
        net.set_cycle_balance(shop.b, reserve + 300_000_000)
    });
    let (_, stdout, stderr) = run(env.keepsake().args([
        "--json",
        "snapshot",
        "take",
        "--group",
        "shop",
        "--keep-partial",
    ]));
    let partial: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stderr}"));
    assert_eq!(partial["status"], "partial", "{partial}");
    let partial_id = partial["id"].as_u64().unwrap().to_string();
    // Reading a snapshot costs its canister cycles too: b gets its balance back.
    env.server
        .replica()
        .with_net(|net| net.set_cycle_balance(shop.b, balance));
    let repo = init_repo(env);
    let repo_s = repo.to_str().unwrap();

    let (code, _, stderr) = run(keepsake(env).args([
        "backup",
        "run",
        "--group",
        "shop",
        "--group-snapshot",
        &partial_id,
        "--repo",
        repo_s,
    ]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("is partial (missing b)"), "{stderr}");
    assert!(stderr.contains("--snapshot"), "{stderr}");
    assert_eq!(listed(env, &repo, None), Vec::<Value>::new());

    // Without an id: the newest *complete* group snapshot, not the newer partial one.
    let made = json(env, &["backup", "run", "--group", "shop", "--repo", repo_s]);
    assert_eq!(made["group_snapshot_id"], complete, "{made}");
    // sync skips the partial one: nothing more to back up as a group.
    let synced = json(env, &["backup", "sync", "--repo", repo_s]);
    assert_eq!(synced["groups"], serde_json::json!([]), "{synced}");
}
