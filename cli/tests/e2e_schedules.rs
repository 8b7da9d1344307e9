//! End to end, for scheduled snapshots, pins, fleet snapshots and the storage columns: the real
//! `keepsake` binary against localnet over HTTP with the orchestrator's real wasm (the fixture
//! in `common/`). Schedules firing over days are the orchestrator suites' job; here one run is
//! made due by moving the subnet's clock a minute or two ahead, which keeps the CLI's requests
//! within their ingress expiry.

mod common;

use std::time::{Duration, Instant};

use candid::Principal;
use serde_json::Value;

use common::{Env, localnet_only, wasm};

const NANOS: u64 = 1_000_000_000;

impl Env {
    /// `keepsake args…` as the developer, expecting exit code `code`: (stdout, stderr).
    fn fails(&self, code: i32, args: &[&str]) -> (String, String) {
        let out = self.keepsake().args(args).output().unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "keepsake {args:?}:\nstdout: {stdout}\nstderr: {stderr}"
        );
        (stdout, stderr)
    }

    /// A second module "other" on its own canister, registered while the orchestrator
    /// controls it.
    fn second_module(&self) -> Principal {
        let other = self.fresh_module();
        self.ok(&["module", "add", &other.to_text(), "--name", "other"]);
        other
    }

    /// The subnet's clock, in nanoseconds since the epoch.
    fn subnet_time(&self) -> u64 {
        self.server.replica().with_net(|net| net.time_nanos())
    }
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn schedules_are_set_shown_and_cleared_with_json() {
    let env = Env::registered();
    env.ok(&["module", "set", "app", "--max-snapshots", "3"]);

    let set = env.json(&[
        "schedule",
        "set",
        "app",
        "--every",
        "1h",
        "--keep",
        "2",
        "--max-age",
        "30d",
    ]);
    assert_eq!(set["module"], "app");
    assert_eq!(set["cadence"], "every 1h");
    assert_eq!(set["every_minutes"], 60);
    assert!(set["cron"].is_null());
    assert_eq!(set["keep"], 2);
    assert_eq!(set["max_age_seconds"], 30 * 86_400);
    let set_at = set["set_at_ns"].as_u64().unwrap();
    let next = set["next_run_at_ns"].as_u64().unwrap();
    assert_eq!(next - set_at, 3600 * NANOS, "{set}");
    assert!(set["retry_at"].is_null() && set["last_run_at"].is_null());
    assert!(set["last_operation_id"].is_null());

    // Text: cadence, retention, the next run in RFC 3339 and relative, no run yet.
    let text = env.ok(&["schedule", "show", "app"]);
    let next_text = set["next_run_at"].as_str().unwrap();
    assert!(text.contains("app: every 1h"), "{text}");
    assert!(text.contains("keep 2, max age 30d"), "{text}");
    assert!(
        text.contains(&format!("next run   {next_text} (in ")),
        "{text}"
    );
    assert!(text.contains("last run   never"), "{text}");

    // Every schedule, and one module's by canister id: the same schedule.
    let all = env.json(&["schedule", "show"]);
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(all[0]["next_run_at_ns"], next);
    let by_id = env.json(&["schedule", "show", &env.module.to_text()]);
    assert_eq!(by_id[0]["module"], "app");

    // `module list` shows it as the next snapshot.
    let modules = env.json(&["module", "list"]);
    assert_eq!(modules[0]["next_snapshot_at_ns"], next);
    assert_eq!(modules[0]["next_snapshot_at"], next_text);

    // A cron expression replaces the interval; it fires at 02:30 UTC.
    let cron = env.json(&["schedule", "set", "app", "--cron", "30 2 * * *"]);
    assert_eq!(cron["cron"], "30 2 * * *");
    assert!(cron["every_minutes"].is_null());
    assert!(cron["keep"].is_null(), "retention is replaced too: {cron}");
    assert!(
        cron["next_run_at"]
            .as_str()
            .unwrap()
            .ends_with("T02:30:00Z"),
        "{cron}"
    );
    let text = env.ok(&["schedule", "show"]);
    assert!(text.contains("app: cron \"30 2 * * *\" (UTC)"), "{text}");

    let cleared = env.json(&["schedule", "clear", "app"]);
    assert_eq!(cleared, serde_json::json!({"cleared": "app"}));
    assert_eq!(env.json(&["schedule", "show"]), serde_json::json!([]));
    assert!(
        env.ok(&["schedule", "show", "app"])
            .contains("Module app has no schedule")
    );
    assert!(env.json(&["module", "list"])[0]["next_snapshot_at"].is_null());
    // Clearing twice: the orchestrator's error, which says how to set one.
    let (_, err) = env.fails(1, &["schedule", "clear", "app"]);
    assert!(err.contains("has no schedule"), "{err}");
}

#[test]
fn invalid_schedules_are_refused_by_the_cli_or_with_the_orchestrator_s_message() {
    let env = Env::registered();
    // The orchestrator's refusals of values typed wrong: usage (exit 2) and its message.
    let (_, err) = env.fails(2, &["schedule", "set", "app", "--cron", "61 * * * *"]);
    assert!(err.contains("invalid schedule"), "{err}");
    assert!(err.contains("not a valid cron expression"), "{err}");
    let (_, err) = env.fails(2, &["schedule", "set", "app", "--cron", "0 3 * *"]);
    assert!(err.contains("5 fields"), "{err}");
    let (_, err) = env.fails(2, &["schedule", "set", "app", "--every", "10m"]);
    assert!(
        err.contains("invalid schedule") && err.contains("15 minutes"),
        "{err}"
    );
    let (_, err) = env.fails(
        2,
        &["schedule", "set", "app", "--every", "1d", "--keep", "4"],
    );
    assert!(err.contains("invalid retention"), "{err}");
    assert!(err.contains("--max-snapshots"), "{err}");
    // An unknown name goes to the orchestrator as is and comes back as its error.
    let (_, err) = env.fails(1, &["schedule", "set", "nope", "--every", "1h"]);
    assert!(err.contains("no module named \"nope\""), "{err}");
    let (out, _) = env.fails(2, &["--json", "schedule", "set", "app", "--every", "10m"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["error"].as_str().unwrap().contains("15 minutes"), "{v}");
    assert_eq!(v["exit_code"], 2);

    // Usage errors: exit 2 before any call.
    let (_, err) = env.fails(
        2,
        &[
            "schedule",
            "set",
            "app",
            "--every",
            "1h",
            "--cron",
            "0 3 * * *",
        ],
    );
    assert!(err.contains("cannot be used with"), "{err}");
    let (_, err) = env.fails(2, &["schedule", "set", "app"]);
    assert!(err.contains("--every") && err.contains("--cron"), "{err}");
    let (_, err) = env.fails(2, &["schedule", "set", "app", "--every", "15"]);
    assert!(err.contains("no unit"), "{err}");
    let (_, err) = env.fails(
        2,
        &["schedule", "set", "app", "--every", "1h", "--max-age", "3y"],
    );
    assert!(
        err.contains("--max-age") && err.contains("unknown unit"),
        "{err}"
    );

    // Nothing was set by any of them.
    assert_eq!(env.json(&["schedule", "show"]), serde_json::json!([]));

    // The new commands are in the help.
    assert!(env.ok(&["--help"]).contains("schedule"));
    let help = env.ok(&["snapshot", "--help"]);
    assert!(help.contains("pin") && help.contains("unpin"), "{help}");
    let help = env.ok(&["schedule", "--help"]);
    for c in ["set", "show", "clear"] {
        assert!(help.contains(c), "{help}");
    }
}

#[test]
fn snapshots_are_pinned_and_unpinned_by_id_and_by_label_and_a_pinned_one_is_not_deleted() {
    let env = Env::registered();
    env.ok(&["module", "set", "app", "--max-snapshots", "3"]);
    let golden = env.json(&["snapshot", "take", "app", "--label", "golden", "--pin"]);
    assert_eq!(golden["pinned"], true);
    assert_eq!(golden["kept_for_upgrade"], false);
    let golden_id = golden["id"].as_str().unwrap().to_string();
    let nightly = env.json(&["snapshot", "take", "app", "--label", "nightly"]);
    assert_eq!(nightly["pinned"], false);
    let nightly_id = nightly["id"].as_str().unwrap().to_string();

    let list = env.json(&["snapshot", "list", "app"]);
    for s in list.as_array().unwrap() {
        assert_eq!(s["pinned"], s["id"] == golden_id.as_str(), "{list}");
    }
    let text = env.ok(&["snapshot", "list", "app"]);
    let golden_line = text.lines().find(|l| l.contains(&golden_id)).unwrap();
    assert!(golden_line.ends_with("pinned"), "{text}");
    let nightly_line = text.lines().find(|l| l.contains(&nightly_id)).unwrap();
    assert!(nightly_line.ends_with('-'), "{text}");

    // A pinned snapshot is not deleted; the message says how to unpin it.
    let (_, err) = env.fails(
        1,
        &[
            "snapshot",
            "delete",
            "app",
            "--snapshot",
            &golden_id,
            "--yes",
        ],
    );
    assert!(
        err.contains(&format!("keepsake snapshot unpin app {golden_id}")),
        "{err}"
    );
    assert_eq!(
        env.json(&["snapshot", "list", "app"])
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // By id.
    let unpinned = env.json(&["snapshot", "unpin", "app", &golden_id]);
    assert_eq!(ids(&unpinned), vec![golden_id.clone()]);
    assert_eq!(unpinned[0]["pinned"], false);
    assert!(
        env.json(&["snapshot", "list", "app"])
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["pinned"] == false)
    );
    // By label.
    let pinned = env.json(&["snapshot", "pin", "app", "--label", "nightly"]);
    assert_eq!(ids(&pinned), vec![nightly_id.clone()]);
    assert_eq!(pinned[0]["pinned"], true);
    let text = env.ok(&["snapshot", "unpin", "app", "--label", "nightly"]);
    assert_eq!(
        text.trim(),
        format!("Unpinned snapshot {nightly_id} of app (label \"nightly\")")
    );
    let text = env.ok(&["snapshot", "pin", &env.module.to_text(), &golden_id]);
    assert!(
        text.contains(&format!("Pinned snapshot {golden_id} of app")),
        "{text}"
    );

    // Refusals: an unknown label (the orchestrator), no selector or a bad id (usage).
    let (_, err) = env.fails(1, &["snapshot", "pin", "app", "--label", "missing"]);
    assert!(err.contains("no snapshot labelled \"missing\""), "{err}");
    env.fails(2, &["snapshot", "pin", "app"]);
    env.fails(
        2,
        &["snapshot", "pin", "app", &golden_id, "--label", "golden"],
    );
    env.fails(2, &["snapshot", "unpin", "app", "not-hex"]);

    // Unpinned, it can be deleted.
    env.ok(&["snapshot", "unpin", "app", &golden_id]);
    let deleted = env.json(&[
        "snapshot",
        "delete",
        "app",
        "--snapshot",
        &golden_id,
        "--yes",
    ]);
    assert_eq!(deleted["id"], golden_id.as_str());

    // The snapshot taken before an upgrade is marked as kept for it.
    let v2 = env.path("v2.wasm.gz");
    std::fs::write(&v2, wasm("sample-module-v2.wasm.gz")).unwrap();
    let up = env.json(&["upgrade", "app", v2.to_str().unwrap(), "--yes"]);
    let pre_upgrade = up["snapshot_id"].as_str().unwrap().to_string();
    let list = env.json(&["snapshot", "list", "app"]);
    let kept: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kept_for_upgrade"] == true)
        .collect();
    assert_eq!(kept.len(), 1, "{list}");
    assert_eq!(kept[0]["id"], pre_upgrade.as_str());
    let text = env.ok(&["snapshot", "list", "app"]);
    let line = text.lines().find(|l| l.contains(&pre_upgrade)).unwrap();
    assert!(line.ends_with("kept-for-upgrade"), "{text}");
}

#[test]
fn a_fleet_snapshot_reports_every_module_and_exits_1_when_one_fails() {
    let env = Env::registered();
    let other = env.second_module();
    // The orchestrator is no longer a controller of "other": its snapshot must fail.
    env.set_controllers(other, vec![env.developer]);

    let (out, err) = env.fails(1, &["snapshot", "take", "--all", "--label", "fleet-1"]);
    let app_line = out.lines().find(|l| l.starts_with("app ")).unwrap();
    let other_line = out.lines().find(|l| l.starts_with("other ")).unwrap();
    assert!(app_line.contains(" ok "), "{out}");
    assert!(other_line.contains(" failed "), "{out}");
    assert!(other_line.contains("controller"), "{out}");
    assert!(err.contains("1 of 2 modules failed"), "{err}");

    let (out, _) = env.fails(
        1,
        &["--json", "snapshot", "take", "--all", "--concurrency", "1"],
    );
    // One JSON document: the results (the failure summary goes to stderr only).
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["failed"], 1);
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["module"], "app");
    assert_eq!(results[0]["status"], "ok");
    assert_eq!(results[0]["snapshot"]["trigger"], "fleet");
    assert!(results[0]["error"].is_null());
    assert_eq!(results[1]["module"], "other");
    assert_eq!(results[1]["status"], "failed");
    assert!(results[1]["snapshot"].is_null());
    assert!(results[1]["error"].as_str().unwrap().contains("controller"));

    // The module that worked has the fleet snapshot, recorded with its trigger.
    let list = env.json(&["snapshot", "list", "app"]);
    assert_eq!(list[0]["trigger"], "fleet");
    let history = env.json(&["history", "app"]);
    assert_eq!(history["operations"][0]["trigger"], "fleet");
    assert_eq!(history["operations"][0]["status"], "completed");
    assert!(env.ok(&["history", "app"]).contains("(fleet)"));

    // Listing every module shows the one that lists and names the one that does not.
    let (out, err) = env.fails(1, &["snapshot", "list"]);
    assert!(out.lines().any(|l| l.starts_with("app ")), "{out}");
    assert!(
        err.contains("could not list the snapshots of 1 module(s)") && err.contains("other:"),
        "{err}"
    );

    // With the orchestrator a controller again, every module is done: exit 0.
    env.set_controllers(other, vec![env.developer, env.orchestrator]);
    let all = env.json(&["snapshot", "take", "--all", "--pin"]);
    assert_eq!(all["failed"], 0);
    assert_eq!(all["results"][0]["snapshot"]["pinned"], true);
    assert_eq!(all["results"][1]["snapshot"]["pinned"], true);
    assert_eq!(
        env.json(&["snapshot", "list", "other"])[0]["trigger"],
        "fleet"
    );

    // A module and --all, or --concurrency / --pin without a module: usage errors.
    env.fails(2, &["snapshot", "take", "app", "--all"]);
    env.fails(2, &["snapshot", "take", "app", "--concurrency", "2"]);
    env.fails(2, &["snapshot", "take"]);
}

#[test]
fn module_list_shows_snapshot_memory_its_monthly_cost_and_the_next_snapshot() {
    let env = Env::registered();
    let before = env.json(&["module", "list"]);
    assert_eq!(before[0]["snapshot_storage"]["bytes"], 0, "{before}");
    assert!(before[0]["next_snapshot_at"].is_null());

    env.ok(&["snapshot", "take", "app"]);
    let after = env.json(&["module", "list"]);
    let storage = &after[0]["snapshot_storage"];
    let bytes = storage["bytes"].as_u64().unwrap();
    assert!(bytes > 0, "{after}");
    // 127,000 cycles per GiB-second for a 30-day month (the orchestrator's estimate).
    let expected = u128::from(bytes) * 127_000 * 30 * 86_400 / (1 << 30);
    assert_eq!(
        u128::from(storage["monthly_cost_cycles"].as_u64().unwrap()),
        expected
    );

    let set = env.json(&["schedule", "set", "app", "--every", "1d"]);
    let listed = env.json(&["module", "list"]);
    assert_eq!(listed[0]["next_snapshot_at_ns"], set["next_run_at_ns"]);

    let text = env.ok(&["module", "list"]);
    let header = text.lines().next().unwrap();
    for column in ["SNAPSHOT_MEMORY", "COST", "NEXT_SNAPSHOT"] {
        assert!(header.contains(column), "{text}");
    }
    let row = text.lines().nth(1).unwrap();
    assert!(row.contains(" cycles/month"), "{text}");
    assert!(
        row.contains(&format!("{} (in ", set["next_run_at"].as_str().unwrap())),
        "{text}"
    );
}

#[test]
fn a_scheduled_snapshot_skipped_because_every_slot_is_pinned_shows_in_history_with_why() {
    localnet_only!("moves the subnet's clock to the schedule's minute");
    let env = Env::registered();
    // max_snapshots 1, held by a pinned snapshot: a scheduled run has no slot to use.
    env.ok(&["snapshot", "take", "app", "--pin"]);
    // A daily cron at a minute boundary 10 to 70 s ahead; then the subnet's clock moves there.
    // The CLI's requests expire 2 to 3 minutes after the wall clock, so they stay valid.
    let now = env.subnet_time() / NANOS;
    let mut due = (now / 60 + 1) * 60;
    if due - now < 10 {
        due += 60;
    }
    let cron = format!("{} {} * * *", (due / 60) % 60, (due / 3600) % 24);
    let set = env.json(&["schedule", "set", "app", "--cron", &cron]);
    assert_eq!(set["next_run_at_ns"], due * NANOS, "{set}");
    env.server
        .replica()
        .with_net(|net| net.set_time_nanos((due + 1) * NANOS));

    let deadline = Instant::now() + Duration::from_secs(60);
    let skipped = loop {
        let history = env.json(&["history", "app"]);
        let found = history["operations"]
            .as_array()
            .unwrap()
            .iter()
            // The history shows the run while it is in progress; wait for its end.
            .find(|o| o["trigger"] == "schedule" && o["status"] != "in_progress")
            .cloned();
        if let Some(op) = found {
            break op;
        }
        assert!(Instant::now() < deadline, "no scheduled run: {history}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(skipped["status"], "skipped", "{skipped}");
    assert!(skipped["failure"].is_null());
    let why = skipped["skipped_because"].as_str().unwrap();
    assert!(why.contains("pinned"), "{why}");
    let text = env.ok(&["history", "app"]);
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("#{} ", skipped["id"])))
        .unwrap();
    assert!(line.contains("(schedule)"), "{text}");
    assert!(line.contains(&format!("skipped: {why}")), "{text}");

    // The schedule points at that history entry, and its next run is a day later.
    let shown = env.json(&["schedule", "show", "app"]);
    assert_eq!(shown[0]["last_operation_id"], skipped["id"]);
    assert!(shown[0]["last_run_at"].is_string());
    assert_eq!(shown[0]["next_run_at_ns"], (due + 86_400) * NANOS);
    let text = env.ok(&["schedule", "show", "app"]);
    assert!(
        text.contains(&format!("operation #{}", skipped["id"])),
        "{text}"
    );
    // The pinned snapshot is still the only one.
    assert_eq!(
        env.json(&["snapshot", "list", "app"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
