//! The console's Backups page, the Modules page's status and last-backup columns, and the
//! Applications (groups) page: the real `keepsake console` against localnet over HTTP with the
//! real orchestrator wasm and real restic repositories (rustic_core).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use candid::Principal;
use common::Env;
use common::backup::{PASSWORD, json};
use common::console::{Console, Resp};
use localnet::CallFilter;
use serde_json::Value;

/// A repository in the test's folder, and a file holding its password.
fn init_repo(env: &Env) -> (String, PathBuf) {
    let repo = env.path("repo");
    json(env, &["backup", "init", "--repo", repo.to_str().unwrap()]);
    let file = env.path("repo-password");
    std::fs::write(&file, format!("{PASSWORD}\n")).unwrap();
    (repo.to_str().unwrap().to_string(), file)
}

/// The console as the developer with the repository.
fn console_with_repo(env: &Env, repo: &str, password_file: &Path) -> Console {
    Console::start(
        env,
        "developer",
        &[
            "--repo",
            repo,
            "--password-file",
            password_file.to_str().unwrap(),
        ],
    )
}

/// Polls backup job `id` until it ends; its last view.
fn wait_for_backup_job(console: &Console, id: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let view = console.get(&format!("/backups/jobs/{id}")).json();
        assert!(!view.to_string().contains(PASSWORD), "{view}");
        if view["finished"] == true {
            return view;
        }
        assert!(Instant::now() < deadline, "the job did not end: {view}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn assert_no_password(path: &str, r: &Resp) {
    assert!(
        !r.text().contains(PASSWORD),
        "{path} holds the repository password"
    );
}

/// Registers a fresh sample module (controlled by the developer and the orchestrator).
fn add_module(env: &Env, name: &str) -> Principal {
    let id = env.fresh_module();
    env.ok(&["module", "add", &id.to_text(), "--name", name]);
    id
}

// ----- Backups page ---------------------------------------------------------------------------

#[test]
fn the_backups_page_lists_a_backup_made_by_backup_run_per_module_and_the_modules_page_shows_it_as_the_last_backup()
 {
    let env = Env::registered();
    let (repo, password_file) = init_repo(&env);
    let snapshot = env.take_snapshot();
    let run = json(&env, &["backup", "run", "app", "--repo", &repo]);
    let backup_id = run["backup_id"].as_str().unwrap().to_string();
    let console = console_with_repo(&env, &repo, &password_file);

    let page = console.get("/backups");
    let text = page.text();
    assert_eq!(page.status, 200, "{text}");
    assert!(text.contains("data-module=\"app\""), "{text}");
    assert!(
        text.contains(&format!("data-backup-id=\"{backup_id}\"")),
        "{text}"
    );
    assert!(text.contains(&snapshot), "the snapshot id: {text}");
    assert!(text.contains("module=app"), "the tags: {text}");
    assert!(text.contains("id=\"sync-button\""), "{text}");
    assert_no_password("/backups", &page);

    let modules = console.get("/");
    let text = modules.text();
    assert!(text.contains("Last off-chain backup"), "{text}");
    let taken_at = run["taken_at"].as_str().unwrap();
    assert!(
        text.contains(&format!(
            "<td class=\"last-backup\"><a href=\"/backups\" title=\"backup {backup_id}"
        )),
        "{text}"
    );
    assert!(text.contains(taken_at), "{text}");
    assert_no_password("/", &modules);
}

#[test]
fn sync_from_the_console_backs_up_a_new_snapshot_one_sync_at_a_time_and_the_list_then_shows_it() {
    let env = Env::registered();
    let (repo, password_file) = init_repo(&env);
    let snapshot = env.take_snapshot();
    let console = console_with_repo(&env, &repo, &password_file);
    assert!(console.get("/backups").text().contains("No backups yet"));

    // Hold the orchestrator's listing of the module's snapshots: the sync is then still
    // planning when the second click comes.
    let orchestrator = env.orchestrator;
    env.server.replica().with_net(|net| {
        net.hold_calls(CallFilter {
            caller: Some(orchestrator),
            callee: Some(Principal::management_canister()),
            method: Some("list_canister_snapshots".into()),
        })
    });
    let first = console.post("/backups/sync", &[]);
    assert_eq!(first.status, 200, "{}", first.text());
    let job = first.json()["job"].as_u64().unwrap();
    let second = console.post("/backups/sync", &[]);
    assert_eq!(second.status, 409, "{}", second.text());
    assert!(
        second.text().contains("already running"),
        "{}",
        second.text()
    );
    assert_eq!(second.json()["job"], job, "it points at the running sync");
    let running = console.get(&format!("/backups/jobs/{job}")).json();
    assert_eq!(running["finished"], false, "{running}");
    let held = env.server.replica().with_net(|net| {
        net.clear_holds();
        net.held_calls()
    });
    for call in held {
        env.server
            .replica()
            .with_net(|net| net.release_call(call.id));
    }

    let done = wait_for_backup_job(&console, job);
    assert_eq!(done["ok"], true, "{done}");
    assert_eq!(done["lines"][0]["result"], "backed_up", "{done}");
    assert_eq!(done["lines"][0]["snapshot_id"], snapshot.as_str(), "{done}");
    let listed = json(&env, &["backup", "list", "--repo", &repo]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["snapshot_id"], snapshot.as_str());
    let page = console.get("/backups");
    assert!(
        page.text().contains(&format!(
            "data-backup-id=\"{}\"",
            listed[0]["backup_id"].as_str().unwrap()
        )),
        "{}",
        page.text()
    );

    // Idempotent: a second sync backs up nothing.
    let again = console.post("/backups/sync", &[]).json()["job"]
        .as_u64()
        .unwrap();
    let done = wait_for_backup_job(&console, again);
    assert_eq!(done["ok"], true, "{done}");
    assert!(
        done["summary"]
            .as_str()
            .unwrap()
            .contains("Nothing to back up"),
        "{done}"
    );
    for path in ["/", "/modules/app", "/backups", "/history", "/applications"] {
        assert_no_password(path, &console.get(path));
    }
    assert!(!console.stderr().contains(PASSWORD));
}

#[test]
fn a_backup_is_restored_from_the_console_into_a_fresh_canister_and_loaded() {
    let env = Env::registered();
    let (repo, password_file) = init_repo(&env);
    env.set(env.module, "k", b"backed-up");
    env.take_snapshot();
    let run = json(&env, &["backup", "run", "app", "--repo", &repo]);
    let backup_id = run["backup_id"].as_str().unwrap();
    let fresh = env.fresh_canister();
    assert_eq!(env.get(fresh, "k"), None);
    let console = console_with_repo(&env, &repo, &password_file);

    let r = console.post(
        "/backups/restore",
        &[
            ("backup", backup_id),
            ("target", &fresh.to_text()),
            ("load", "true"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let done = wait_for_backup_job(&console, r.json()["job"].as_u64().unwrap());
    assert_eq!(done["ok"], true, "{done}");
    let summary = done["summary"].as_str().unwrap();
    assert!(summary.contains("loaded"), "{summary}");
    assert!(summary.contains(&fresh.to_text()), "{summary}");
    assert_eq!(env.get(fresh, "k").as_deref(), Some(&b"backed-up"[..]));

    // A target the identity does not control: the job says why, nothing is loaded.
    let other = console.post(
        "/backups/restore",
        &[
            ("backup", backup_id),
            ("target", "nobody"),
            ("load", "true"),
        ],
    );
    let done = wait_for_backup_job(&console, other.json()["job"].as_u64().unwrap());
    assert_eq!(done["ok"], false, "{done}");
    assert!(
        done["summary"]
            .as_str()
            .unwrap()
            .contains("no module named"),
        "{done}"
    );
    // Bad input is refused before any job starts.
    let bad = console.post("/backups/restore", &[("backup", "zz"), ("target", "x")]);
    assert_eq!(bad.status, 400, "{}", bad.text());
}

#[test]
fn a_wrong_password_or_a_missing_repository_is_said_at_start_up_and_on_the_page_and_the_console_still_works()
 {
    let env = Env::registered();
    let (repo, _) = init_repo(&env);
    let wrong = env.path("wrong-password");
    let wrong_text = "not-the-password-at-all";
    std::fs::write(&wrong, wrong_text).unwrap();
    let console = console_with_repo(&env, &repo, &wrong);
    assert!(
        console.stderr().contains("wrong password"),
        "{}",
        console.stderr()
    );
    let page = console.get("/backups");
    assert_eq!(page.status, 200);
    let text = page.text();
    assert!(text.contains("id=\"backups-error\""), "{text}");
    assert!(text.contains("wrong password"), "{text}");
    assert!(text.contains("restart"), "what to do: {text}");
    assert!(!text.contains(wrong_text) && !text.contains(PASSWORD));
    assert!(!console.stderr().contains(wrong_text));
    // A sync asked for anyway (the page offers none) ends with the same error, in the page.
    let sync = console.post("/backups/sync", &[]);
    let done = wait_for_backup_job(&console, sync.json()["job"].as_u64().unwrap());
    assert_eq!(done["ok"], false, "{done}");
    assert!(
        done["summary"].as_str().unwrap().contains("wrong password"),
        "{done}"
    );
    assert!(!done.to_string().contains(wrong_text));
    let modules = console.get("/");
    assert_eq!(modules.status, 200, "the rest works: {}", modules.text());
    assert!(modules.text().contains("data-module=\"app\""));

    let missing = env.path("no-such-repo");
    let good = env.path("good-password");
    std::fs::write(&good, PASSWORD).unwrap();
    let console = console_with_repo(&env, missing.to_str().unwrap(), &good);
    let text = console.get("/backups").text();
    assert!(text.contains("there is no backup repository"), "{text}");
    assert!(text.contains("keepsake backup init"), "{text}");
    assert!(!text.contains(PASSWORD));

    // No password at all: the console never prompts; the page says how to give one.
    let console = Console::start(&env, "developer", &["--repo", &repo]);
    let text = console.get("/backups").text();
    assert!(text.contains("--password-file"), "{text}");
    let sync = console.post("/backups/sync", &[]);
    assert_eq!(sync.status, 400, "refused before any job: {}", sync.text());
    assert!(sync.text().contains("--password-file"), "{}", sync.text());
}

#[test]
fn without_a_repository_the_backups_page_says_how_to_configure_one() {
    let env = Env::registered();
    let console = Console::start(&env, "developer", &[]);
    let page = console.get("/backups");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("id=\"backups-unconfigured\""));
    assert!(page.text().contains("--repo"), "{}", page.text());
    assert!(
        !console.get("/").text().contains("Last off-chain backup"),
        "no column without a repository"
    );
    let sync = console.post("/backups/sync", &[]);
    assert_eq!(sync.status, 400, "{}", sync.text());
    assert!(sync.text().contains("--repo"), "{}", sync.text());
}

// ----- Modules page: status from the orchestrator ---------------------------------------------

#[test]
fn the_modules_page_shows_the_status_the_orchestrator_sees_even_to_an_admin_that_does_not_control_the_module()
 {
    let env = Env::registered();
    let stranger = common::principal_of(common::STRANGER_PEM);
    env.ok(&["admin", "add", &stranger.to_text()]);
    let console = Console::start(&env, "stranger", &[]);
    let text = console.get("/").text();
    assert!(text.contains("status-running\">running"), "{text}");
    let (dev, module) = (env.developer, env.module);
    env.server
        .replica()
        .with_net(|net| net.stop_canister(module, Some(dev)))
        .unwrap();
    let text = console.get("/").text();
    assert!(text.contains("status-stopped\">stopped"), "{text}");
    let listed = env.json(&["module", "list"]);
    assert_eq!(listed[0]["status"], "stopped", "{listed}");
}

// ----- Applications page -----------------------------------------------------------------------

#[test]
fn an_application_is_snapshotted_and_restored_from_its_page_with_a_report_per_member() {
    let env = Env::registered();
    let b = add_module(&env, "b");
    env.ok(&["group", "add", "shop", "app", "b"]);
    env.set(env.module, "k", b"a1");
    env.set(b, "k", b"b1");
    let console = Console::start(&env, "developer", &[]);
    let page = console.get("/applications").text();
    assert!(page.contains("data-group=\"shop\""), "{page}");
    assert!(page.contains("href=\"/modules/b\""), "members: {page}");
    assert!(page.contains("No group snapshots yet"), "{page}");

    let taken = console.post("/applications/shop/snapshot", &[("label", "v1")]);
    assert_eq!(taken.status, 200, "{}", taken.text());
    let reply = taken.json();
    assert_eq!(reply["ok"], true, "{reply}");
    assert!(
        reply["message"].as_str().unwrap().contains("complete"),
        "{reply}"
    );
    let page = console.get("/applications").text();
    let id = common::console::between(&page, "data-group-snapshot-id=\"", "\"")
        .expect("the group snapshot listed")
        .to_string();
    assert!(page.contains(">v1<"), "{page}");
    assert!(
        page.contains(&format!(
            "Restore application shop to its group snapshot {id} taken at 20"
        )),
        "the confirmation names the application and its time: {page}"
    );

    env.set(env.module, "k", b"a2");
    env.set(b, "k", b"b2");
    let restored = console.post(&format!("/applications/shop/snapshots/{id}/restore"), &[]);
    assert_eq!(restored.status, 200, "{}", restored.text());
    let reply = restored.json();
    assert_eq!(reply["ok"], true, "{reply}");
    let html = reply["html"].as_str().unwrap();
    for member in ["app", "b"] {
        assert!(
            html.contains(&format!(
                "data-module=\"{member}\"><td>{member}</td><td>done</td><td>runs</td>"
            )),
            "{html}"
        );
    }
    assert_eq!(env.get(env.module, "k").as_deref(), Some(&b"a1"[..]));
    assert_eq!(env.get(b, "k").as_deref(), Some(&b"b1"[..]));

    // Refusals come back in the orchestrator's words.
    let unknown = console.post("/applications/shop/snapshots/999/restore", &[]);
    assert!(unknown.status >= 400, "{}", unknown.text());
    assert!(
        unknown.text().contains("has no group snapshot 999"),
        "{}",
        unknown.text()
    );
    let nobody = console.post("/applications/nobody/snapshot", &[]);
    assert!(nobody.status >= 400);
    assert!(
        nobody.text().contains("no group named"),
        "{}",
        nobody.text()
    );
}

// ----- security of the new routes --------------------------------------------------------------

const NEW_POSTS: [&str; 4] = [
    "/backups/sync",
    "/backups/restore",
    "/applications/shop/snapshot",
    "/applications/shop/snapshots/1/restore",
];

#[test]
fn a_get_on_each_new_state_changing_route_is_405_and_changes_nothing() {
    let env = Env::registered();
    env.ok(&["group", "add", "shop", "app"]);
    let (repo, password_file) = init_repo(&env);
    let console = console_with_repo(&env, &repo, &password_file);
    for path in NEW_POSTS {
        let r = console.get(path);
        assert_eq!(r.status, 405, "{path}: {}", r.text());
    }
    assert!(
        env.json(&["snapshot", "list", "app"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        json(&env, &["backup", "list", "--repo", &repo])
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn each_new_state_changing_route_refuses_a_request_without_the_csrf_token_or_from_a_foreign_origin()
{
    let env = Env::registered();
    env.ok(&["group", "add", "shop", "app"]);
    env.take_snapshot();
    let (repo, password_file) = init_repo(&env);
    let console = console_with_repo(&env, &repo, &password_file);
    let form = "application/x-www-form-urlencoded";
    for path in NEW_POSTS {
        let origin = console.origin();
        let no_csrf = console.request(
            "POST",
            path,
            &[
                ("cookie", &console.cookie),
                ("origin", &origin),
                ("content-type", form),
            ],
            b"backup=00&target=app",
        );
        assert_eq!(no_csrf.status, 403, "{path}: {}", no_csrf.text());
        assert!(
            no_csrf.text().contains("CSRF"),
            "{path}: {}",
            no_csrf.text()
        );
        let foreign = console.request(
            "POST",
            path,
            &[
                ("cookie", &console.cookie),
                ("origin", "http://evil.example"),
                ("x-keepsake-csrf", &console.csrf),
                ("content-type", form),
            ],
            b"backup=00&target=app",
        );
        assert_eq!(foreign.status, 403, "{path}: {}", foreign.text());
    }
    assert!(
        json(&env, &["backup", "list", "--repo", &repo])
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        env.json(&["snapshot", "list", "app"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(
        env.json(&["group", "show", "shop"])["snapshots"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}
