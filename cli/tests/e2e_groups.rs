//! `keepsake group …`, `snapshot take --group` and `snapshot restore --group`: the real binary
//! against localnet over HTTP, with three sample modules as one group.

mod common;

use common::Env;
use serde_json::Value;

fn code_and_stdout(env: &Env, args: &[&str]) -> (Option<i32>, String, String) {
    let out = env.keepsake().args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_group_is_added_snapshotted_restored_as_one_cut_shown_and_removed() {
    let env = Env::registered();
    let b = env.add_module("b");
    let c = env.add_module("c");
    let group = env.json(&["group", "add", "shop", "app", "b", "c"]);
    assert_eq!(group["modules"], serde_json::json!(["app", "b", "c"]));
    let list = env.json(&["group", "list"]);
    assert_eq!(list[0]["name"], "shop");

    for (canister, value) in [(env.module, b"a1"), (b, b"b1"), (c, b"c1")] {
        env.set(canister, "k", value);
    }
    let taken = env.json(&["snapshot", "take", "--group", "shop", "--label", "v1"]);
    assert_eq!(taken["status"], "complete", "{taken}");
    assert_eq!(taken["members"].as_array().unwrap().len(), 3);
    assert!(
        taken["members"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["snapshot_id"].is_string())
    );
    let id = taken["id"].as_u64().unwrap().to_string();
    // The members' snapshots are ordinary snapshots of each module, with the label.
    let listed = env.json(&["snapshot", "list", "b"]);
    assert_eq!(listed[0]["label"], "v1", "{listed}");

    for (canister, value) in [(env.module, b"a2"), (b, b"b2"), (c, b"c2")] {
        env.set(canister, "k", value);
    }
    // Destructive: refused without --yes when stdin is not a terminal.
    let (code, _, stderr) = code_and_stdout(&env, &["snapshot", "restore", "--group", "shop"]);
    assert_eq!(code, Some(2), "{stderr}");
    let report = env.json(&[
        "--yes",
        "snapshot",
        "restore",
        "--group",
        "shop",
        "--snapshot",
        &id,
    ]);
    assert_eq!(report["restored"], true, "{report}");
    assert!(
        report["members"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["outcome"] == "done" && m["running"] == true)
    );
    for (canister, value) in [(env.module, b"a1"), (b, b"b1"), (c, b"c1")] {
        assert_eq!(env.get(canister, "k").as_deref(), Some(&value[..]));
    }

    let shown = env.json(&["group", "show", "shop"]);
    assert_eq!(shown["group"]["name"], "shop");
    assert_eq!(shown["snapshots"].as_array().unwrap().len(), 1);
    let text = env.ok(&["group", "show", "shop"]);
    assert!(text.contains("complete") && text.contains("app="), "{text}");

    env.json(&["group", "remove", "shop"]);
    assert_eq!(env.json(&["group", "list"]), serde_json::json!([]));
}

#[test]
fn group_commands_refuse_bad_input_and_unknown_names_with_what_to_do() {
    let env = Env::registered();
    // An unknown member: the state of things, exit 1, says how to register it.
    let (code, stdout, _) = code_and_stdout(&env, &["--json", "group", "add", "g", "app", "ghost"]);
    assert_eq!(code, Some(1), "{stdout}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert!(
        v["error"].as_str().unwrap().contains("keepsake module add"),
        "{v}"
    );
    // A malformed name: usage, exit 2.
    let (code, _, stderr) = code_and_stdout(&env, &["group", "add", "bad name", "app"]);
    assert_eq!(code, Some(2), "{stderr}");
    // --keep-partial without --group; a hex id where a group snapshot id is wanted.
    let (code, _, stderr) = code_and_stdout(&env, &["snapshot", "take", "app", "--keep-partial"]);
    assert_eq!(code, Some(2), "{stderr}");
    env.ok(&["group", "add", "g", "app"]);
    let (code, _, stderr) = code_and_stdout(
        &env,
        &[
            "--yes",
            "snapshot",
            "restore",
            "--group",
            "g",
            "--snapshot",
            "abcd",
        ],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("group show g"), "{stderr}");
    // Nothing to restore yet; an unknown group.
    let (code, _, stderr) =
        code_and_stdout(&env, &["--yes", "snapshot", "restore", "--group", "g"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("no complete group snapshot"), "{stderr}");
    let (code, _, stderr) = code_and_stdout(&env, &["snapshot", "take", "--group", "nope"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("keepsake group list"), "{stderr}");
    // Removing the module removes it from the group (left empty, the group goes too).
    env.ok(&["--yes", "module", "remove", "app"]);
    assert_eq!(env.json(&["group", "list"]), serde_json::json!([]));
}

#[test]
fn upgrade_group_stages_each_wasm_and_upgrades_the_named_members_behind_one_group_snapshot() {
    let env = Env::registered();
    let b = env.add_module("b");
    env.add_module("c");
    env.ok(&["group", "add", "shop", "app", "b", "c"]);
    let v2 = env.path("v2.wasm.gz");
    std::fs::write(&v2, common::wasm("sample-module-v2.wasm.gz")).unwrap();
    let broken = env.path("broken.wasm.gz");
    std::fs::write(
        &broken,
        common::wasm("sample-module-broken-post-upgrade.wasm.gz"),
    )
    .unwrap();
    let version = |canister| -> String {
        candid::decode_one(&env.query(canister, "version", candid::encode_args(()).unwrap()))
            .unwrap()
    };

    // A malformed pair: usage, before anything is staged or touched.
    let (code, _, stderr) = code_and_stdout(&env, &["--yes", "upgrade", "--group", "shop", "app"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("<module>=<wasm>"), "{stderr}");

    let app_pair = format!("app={}", v2.display());
    let b_pair = format!("b={}", v2.display());
    let up = env.json(&["--yes", "upgrade", "--group", "shop", &app_pair, &b_pair]);
    assert_eq!(up["upgraded"], true, "{up}");
    assert_eq!(up["staged"].as_array().unwrap().len(), 2, "{up}");
    let outcomes: Vec<(&str, &str)> = up["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["module"].as_str().unwrap(),
                m["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        vec![("app", "done"), ("b", "done"), ("c", "untouched")]
    );
    assert_eq!(version(env.module), "v2");
    assert_eq!(version(b), "v2");
    let shown = env.json(&["group", "show", "shop"]);
    assert_eq!(
        shown["snapshots"][0]["id"], up["group_snapshot_id"],
        "the cut is the group's snapshot: {shown}"
    );

    // A broken member: exit 1, every member back on the cut, the report says so per member.
    env.set(env.module, "k", b"before");
    let bad_pair = format!("b={}", broken.display());
    let (code, stdout, stderr) = code_and_stdout(
        &env,
        &[
            "--json", "--yes", "upgrade", "--group", "shop", &app_pair, &bad_pair,
        ],
    );
    assert_eq!(code, Some(1), "{stdout} {stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["upgraded"], false, "{v}");
    assert_eq!(v["members"][1]["outcome"], "failed", "{v}");
    assert_eq!(v["members"][1]["step"], "install", "{v}");
    assert!(
        v["members"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["running"] == true)
    );
    assert_eq!(env.get(env.module, "k").as_deref(), Some(&b"before"[..]));
}

#[test]
fn schedule_set_group_and_snapshot_pin_group_act_on_the_whole_group() {
    let env = Env::registered();
    env.add_module("b");
    env.ok(&["group", "add", "shop", "app", "b"]);

    let set = env.json(&[
        "schedule", "set", "--group", "shop", "--every", "1d", "--keep", "1",
    ]);
    assert_eq!(set["group"], "shop", "{set}");
    assert!(set.get("module").is_none(), "{set}");
    assert_eq!(set["keep"], 1);
    let shown = env.json(&["schedule", "show"]);
    assert!(
        shown
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["group"] == "shop"),
        "{shown}"
    );
    let text = env.ok(&["schedule", "show", "--group", "shop"]);
    assert!(text.contains("group shop: every 1d"), "{text}");
    // keep above the members' max_snapshots (1) is refused as usage.
    let (code, _, stderr) = code_and_stdout(
        &env,
        &[
            "schedule", "set", "--group", "shop", "--every", "1d", "--keep", "2",
        ],
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("max_snapshots"), "{stderr}");

    let taken = env.json(&["snapshot", "take", "--group", "shop"]);
    let id = taken["id"].as_u64().unwrap().to_string();
    let pinned = env.json(&["snapshot", "pin", "--group", "shop", &id]);
    assert_eq!(pinned["pinned"], true, "{pinned}");
    let listed = env.json(&["snapshot", "list", "b"]);
    assert_eq!(listed[0]["pinned"], true, "{listed}");
    let unpinned = env.json(&["snapshot", "unpin", "--group", "shop", &id]);
    assert_eq!(unpinned["pinned"], false, "{unpinned}");

    env.json(&["schedule", "clear", "--group", "shop"]);
    let (code, _, stderr) = code_and_stdout(&env, &["schedule", "clear", "--group", "shop"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("has no schedule"), "{stderr}");
}
