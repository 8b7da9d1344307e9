//! `keepsake console` over HTTP: the real binary serving against localnet with the real
//! orchestrator wasm. The security checks (token, cookie, Host, Origin, CSRF, methods), every
//! route, and the error paths (non-admin identity, busy module, invalid cron, unreachable
//! network), each shown in the page with the orchestrator's own text.

mod common;

use common::console::{Console, between, http};
use common::{Env, localnet_only, wasm};
use orchestrator_api::BeginImportArgs;
use orchestrator_api::client::calls;

fn snapshots(env: &Env) -> Vec<serde_json::Value> {
    env.json(&["snapshot", "list", "app"])
        .as_array()
        .unwrap()
        .clone()
}

// ----- security ------------------------------------------------------------------------------

#[test]
fn the_console_prints_its_loopback_url_with_a_token_as_the_first_line() {
    let env = Env::registered();
    let console = Console::start(&env, "developer", &[]);
    assert!(
        console.first_line.starts_with(&format!(
            "console on http://127.0.0.1:{}/?token=",
            console.port
        )),
        "{}",
        console.first_line
    );
    assert_eq!(console.token.len(), 64, "32 random bytes, hex");
    let again = Console::start(&env, "developer", &[]);
    assert_ne!(again.token, console.token, "a new token each run");
}

#[test]
fn a_request_without_the_token_is_refused_with_401() {
    let env = Env::registered();
    let console = Console::start(&env, "developer", &[]);
    for path in ["/", "/modules/app", "/history", "/assets/console.js"] {
        let r = console.request("GET", path, &[], b"");
        assert_eq!(r.status, 401, "{path}: {}", r.text());
        assert!(r.text().contains("needs its token"), "{}", r.text());
    }
}

#[test]
fn a_wrong_token_is_refused_with_401_in_the_url_and_in_the_cookie() {
    let env = Env::registered();
    let console = Console::start(&env, "developer", &[]);
    let wrong = "0".repeat(64);
    let r = console.request("GET", &format!("/?token={wrong}"), &[], b"");
    assert_eq!(r.status, 401);
    assert!(
        r.header("set-cookie").is_none(),
        "no cookie for a wrong token"
    );
    let cookie = format!("keepsake_console_{}={wrong}", console.port);
    let r = console.request("GET", "/", &[("cookie", &cookie)], b"");
    assert_eq!(r.status, 401);
}

#[test]
fn the_token_becomes_an_httponly_samesite_strict_cookie_and_leaves_the_address() {
    let env = Env::registered();
    let console = Console::start(&env, "developer", &[]);
    let r = console.request(
        "GET",
        &format!("/history?module=app&token={}", console.token),
        &[],
        b"",
    );
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/history?module=app"));
    let cookie = r.header("set-cookie").unwrap();
    assert!(cookie.starts_with(&format!(
        "keepsake_console_{}={}",
        console.port, console.token
    )));
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    let page = console.get("/");
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
}

#[test]
fn a_foreign_host_is_refused_even_with_the_token_against_dns_rebinding() {
    let env = Env::registered();
    let console = Console::start(&env, "developer", &[]);
    for host in [
        format!("evil.example:{}", console.port),
        "127.0.0.1:1".to_string(),
        "127.0.0.1".to_string(),
    ] {
        let r = console.request_with_host("GET", "/", &host, &[("cookie", &console.cookie)], b"");
        assert_eq!(r.status, 403, "{host}: {}", r.text());
        assert!(
            r.text().contains("answers only to 127.0.0.1"),
            "{}",
            r.text()
        );
    }
    let r = console.request_with_host(
        "GET",
        "/",
        &format!("localhost:{}", console.port),
        &[("cookie", &console.cookie)],
        b"",
    );
    assert_eq!(r.status, 200, "localhost is ours too");
}

#[test]
fn a_change_from_a_foreign_origin_or_without_the_csrf_token_is_refused_and_changes_nothing() {
    let env = Env::registered();
    let console = Console::start(&env, "developer", &[]);
    let form = "application/x-www-form-urlencoded";
    let attempts: [(&str, Vec<(&str, String)>); 4] = [
        (
            "foreign Origin",
            vec![
                ("origin", "http://evil.example".into()),
                ("x-keepsake-csrf", console.csrf.clone()),
            ],
        ),
        ("no Origin", vec![("x-keepsake-csrf", console.csrf.clone())]),
        ("no CSRF token", vec![("origin", console.origin())]),
        (
            "wrong CSRF token",
            vec![
                ("origin", console.origin()),
                ("x-keepsake-csrf", "x".repeat(64)),
            ],
        ),
    ];
    for (what, extra) in attempts {
        let mut headers = vec![("cookie", console.cookie.as_str()), ("content-type", form)];
        headers.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
        let r = console.request("POST", "/modules/app/snapshots", &headers, b"label=x");
        assert_eq!(r.status, 403, "{what}: {}", r.text());
        assert!(
            r.text().contains("nothing was changed"),
            "{what}: {}",
            r.text()
        );
    }
    assert!(snapshots(&env).is_empty(), "no snapshot was taken");
}

#[test]
fn a_get_on_a_state_changing_route_is_405_and_changes_nothing() {
    let env = Env::registered();
    let console = Console::start(&env, "developer", &[]);
    for path in [
        "/modules/app/snapshots",
        "/modules/app/schedule",
        "/modules/app/schedule/clear",
        "/fleet/snapshot",
        "/upgrade/start?module=app",
    ] {
        let r = console.get(path);
        assert_eq!(r.status, 405, "{path}: {}", r.text());
    }
    assert!(snapshots(&env).is_empty());
}

#[test]
fn the_console_listens_on_loopback_only() {
    let env = Env::registered();
    let console = Console::start(&env, "developer", &[]);
    // This machine's address on its default route (no packet is sent by a UDP connect).
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    if socket.connect("192.0.2.1:9").is_ok()
        && let Ok(local) = socket.local_addr()
        && !local.ip().is_loopback()
        && !local.ip().is_unspecified()
    {
        let reached = std::net::TcpStream::connect((local.ip(), console.port));
        assert!(reached.is_err(), "the console answered on {}", local.ip());
    }
    let r = http(
        ("127.0.0.1", console.port),
        "GET",
        "/",
        &console.host(),
        &[("cookie", &console.cookie)],
        b"",
    );
    assert_eq!(r.status, 200);
}

#[test]
fn no_page_or_script_carries_the_identity_key() {
    let env = Env::registered();
    let console = Console::start(&env, "developer", &[]);
    let pem = common::DEVELOPER_PEM;
    let key = between(pem, "-----BEGIN PRIVATE KEY-----\n", "\n").unwrap();
    for path in [
        "/",
        "/modules/app",
        "/history",
        "/fleet",
        "/upgrade",
        "/backups",
        "/assets/console.js",
    ] {
        let text = console.get(path).text();
        assert!(!text.contains(key), "{path} holds the key");
        assert!(!text.contains("PRIVATE KEY"), "{path}");
    }
}

// ----- pages and actions ---------------------------------------------------------------------

#[test]
fn the_modules_page_shows_each_module_with_status_snapshot_count_memory_and_next_run() {
    let env = Env::registered();
    env.take_snapshot();
    env.ok(&["schedule", "set", "app", "--every", "1d"]);
    let console = Console::start(&env, "developer", &[]);
    let page = console.get("/");
    let text = page.text();
    assert_eq!(page.status, 200, "{text}");
    assert!(text.contains(&env.module.to_text()), "{text}");
    assert!(text.contains(">satellite<"), "{text}");
    assert!(text.contains("status-running"), "{text}");
    assert!(
        text.contains("1 / 1"),
        "snapshot count against max_snapshots: {text}"
    );
    assert!(text.contains("cycles/month"), "{text}");
    assert!(
        text.contains("(in 23h") || text.contains("(in 1d)"),
        "next run: {text}"
    );
}

#[test]
fn a_snapshot_is_taken_pinned_unpinned_restored_and_deleted_from_the_module_page() {
    let env = Env::registered();
    env.ok(&["module", "set", "app", "--max-snapshots", "3"]);
    env.set(env.module, "k", b"before");
    let console = Console::start(&env, "developer", &[]);
    let r = console.post(
        "/modules/app/snapshots",
        &[("label", "nightly"), ("pin", "true")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["ok"], true);
    let list = snapshots(&env);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["label"], "nightly");
    assert_eq!(list[0]["pinned"], true);
    let id = list[0]["id"].as_str().unwrap().to_string();

    let page = console.get("/modules/app").text();
    assert!(
        page.contains(&format!("class=\"point pinned\" data-snapshot-id=\"{id}\"")),
        "{page}"
    );
    assert!(
        page.contains("Restore module app to its snapshot taken at"),
        "{page}"
    );

    let r = console.post(&format!("/modules/app/snapshots/{id}/unpin"), &[]);
    assert_eq!(r.json()["ok"], true, "{}", r.text());
    assert_eq!(snapshots(&env)[0]["pinned"], false);
    let r = console.post(&format!("/modules/app/snapshots/{id}/pin"), &[]);
    assert_eq!(r.json()["ok"], true);

    env.set(env.module, "k", b"after");
    let r = console.post(&format!("/modules/app/snapshots/{id}/restore"), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("Restored app")
    );
    assert_eq!(env.get(env.module, "k").as_deref(), Some(&b"before"[..]));

    // Pinned: the orchestrator refuses, and the console passes its text on.
    let r = console.post(&format!("/modules/app/snapshots/{id}/delete"), &[]);
    assert!(r.status >= 400, "{}", r.text());
    assert_eq!(r.json()["ok"], false);
    assert!(
        r.json()["message"].as_str().unwrap().contains("pinned"),
        "{}",
        r.text()
    );
    console.post(&format!("/modules/app/snapshots/{id}/unpin"), &[]);
    let r = console.post(&format!("/modules/app/snapshots/{id}/delete"), &[]);
    assert_eq!(r.json()["ok"], true, "{}", r.text());
    assert!(snapshots(&env).is_empty());

    let r = console.post("/modules/app/snapshots/zz/restore", &[]);
    assert_eq!(r.status, 400);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("not a snapshot id")
    );
}

#[test]
fn settings_are_saved_from_the_module_page() {
    let env = Env::registered();
    let console = Console::start(&env, "developer", &[]);
    let r = console.post(
        "/modules/app/settings",
        &[
            ("max_snapshots", "4"),
            ("snapshot_before_upgrade", "false"),
            ("stop_for_snapshot", "false"),
            ("stop_for_snapshot", "true"),
            ("health_check", "health"),
        ],
    );
    assert_eq!(r.json()["ok"], true, "{}", r.text());
    let m = &env.json(&["module", "list"])[0];
    assert_eq!(m["max_snapshots"], 4);
    assert_eq!(m["snapshot_before_upgrade"], false);
    assert_eq!(m["stop_for_snapshot"], true);
    assert_eq!(m["health_check"], "health");
    let r = console.post("/modules/app/settings", &[("max_snapshots", "11")]);
    assert_eq!(r.json()["ok"], false, "{}", r.text());
}

#[test]
fn a_schedule_is_previewed_saved_and_an_invalid_cron_gets_the_orchestrator_s_refusal() {
    let env = Env::registered();
    let console = Console::start(&env, "developer", &[]);
    let preview = console
        .get("/schedule/preview?kind=cron&value=30%202%20*%20*%20*")
        .json();
    let utc = preview["utc"].as_array().unwrap();
    assert_eq!(utc.len(), 5, "{preview}");
    assert!(
        utc.iter()
            .all(|t| t.as_str().unwrap().ends_with("T02:30:00Z")),
        "{preview}"
    );
    assert_eq!(preview["ms"].as_array().unwrap().len(), 5);
    let bad = console
        .get("/schedule/preview?kind=cron&value=61%20*%20*%20*%20*")
        .json();
    assert!(
        bad["error"].as_str().unwrap().contains("not a valid cron"),
        "{bad}"
    );

    // Well formed but too frequent: only the orchestrator says no, in its words.
    let r = console.post(
        "/modules/app/schedule",
        &[("kind", "cron"), ("value", "*/5 * * * *")],
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let message = r.json()["message"].as_str().unwrap().to_string();
    assert!(message.contains("at least 15 minutes apart"), "{message}");
    assert!(
        console.get("/modules/app").text().contains("No schedule."),
        "nothing was saved"
    );

    let r = console.post(
        "/modules/app/schedule",
        &[
            ("kind", "cron"),
            ("value", "30 2 * * *"),
            ("keep", "1"),
            ("max_age", "30d"),
        ],
    );
    assert_eq!(r.json()["ok"], true, "{}", r.text());
    let page = console.get("/modules/app").text();
    assert!(page.contains("cron &quot;30 2 * * *&quot; (UTC)"), "{page}");
    assert!(page.contains("max age 30d"), "{page}");
    let r = console.post("/modules/app/schedule/clear", &[]);
    assert_eq!(r.json()["ok"], true, "{}", r.text());
    assert!(console.get("/modules/app").text().contains("No schedule."));
    let r = console.post(
        "/modules/app/schedule",
        &[("kind", "every"), ("value", "15")],
    );
    assert_eq!(r.status, 400);
    assert!(
        r.json()["message"].as_str().unwrap().contains("no unit"),
        "{}",
        r.text()
    );
}

#[test]
fn the_history_page_filters_by_module_kind_and_outcome_and_shows_steps() {
    let env = Env::registered();
    env.ok(&["module", "set", "app", "--max-snapshots", "2"]);
    let id = env.take_snapshot();
    env.ok(&["snapshot", "restore", "app", "--snapshot", &id, "--yes"]);
    let console = Console::start(&env, "developer", &[]);
    let all = console.get("/history").text();
    assert!(all.contains("<strong>take_snapshot</strong>"), "{all}");
    assert!(all.contains("<strong>restore_snapshot</strong>"), "{all}");
    assert!(all.contains("<strong>stop</strong> ok"), "steps: {all}");
    let restores = console
        .get("/history?module=app&kind=restore_snapshot&outcome=")
        .text();
    assert!(
        !restores.contains("<strong>take_snapshot</strong> of"),
        "{restores}"
    );
    assert!(
        restores.contains("<strong>restore_snapshot</strong>"),
        "{restores}"
    );
    let failed = console.get("/history?kind=&outcome=failed").text();
    assert!(failed.contains("No operations match."), "{failed}");
    let other = console.get("/history?module=nobody").text();
    assert!(other.contains("No operations match."), "{other}");
}

#[test]
fn the_fleet_page_snapshots_every_module_with_a_result_per_module() {
    let env = Env::registered();
    let second = env.fresh_module();
    env.ok(&[
        "module",
        "add",
        &second.to_text(),
        "--name",
        "web",
        "--kind",
        "other",
    ]);
    let console = Console::start(&env, "developer", &[]);
    assert_eq!(console.get("/fleet").status, 200);
    let r = console.post("/fleet/snapshot", &[("label", "all"), ("concurrency", "2")]);
    let reply = r.json();
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(reply["message"], "2 of 2 modules snapshotted");
    let html = reply["html"].as_str().unwrap();
    assert!(
        html.contains("data-module=\"app\"") && html.contains("data-module=\"web\""),
        "{html}"
    );
    assert_eq!(snapshots(&env)[0]["label"], "all");
}

#[test]
fn an_upload_upgrades_the_module_and_a_broken_wasm_is_rolled_back() {
    let env = Env::registered();
    env.set(env.module, "k", b"kept");
    let console = Console::start(&env, "developer", &[]);
    assert!(
        console
            .get("/upgrade?module=app")
            .text()
            .contains("<option value=\"app\" selected>")
    );

    let r = console.post_body(
        "/upgrade/start?module=app&snapshot=true&on_existing=replace&rollback=true",
        "application/octet-stream",
        &wasm("sample-module-v2.wasm.gz"),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let done = console.wait_for_job(r.json()["job"].as_u64().unwrap());
    assert_eq!(done["outcome"]["kind"], "upgraded", "{done}");
    assert_eq!(done["summary"], "Upgraded app.");
    assert_eq!(done["staged"], done["size"]);
    let steps: Vec<&str> = done["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert!(steps.contains(&"install"), "{steps:?}");

    let r = console.post_body(
        "/upgrade/start?module=app",
        "application/octet-stream",
        &wasm("sample-module-broken-post-upgrade.wasm.gz"),
    );
    let done = console.wait_for_job(r.json()["job"].as_u64().unwrap());
    assert_eq!(done["outcome"]["kind"], "rolled_back", "{done}");
    assert!(
        done["summary"].as_str().unwrap().contains("rolled back"),
        "{done}"
    );
    assert_eq!(env.get(env.module, "k").as_deref(), Some(&b"kept"[..]));

    // The same broken wasm again: already staged, nothing is sent twice.
    let r = console.post_body(
        "/upgrade/start?module=app&rollback=true",
        "application/octet-stream",
        &wasm("sample-module-broken-post-upgrade.wasm.gz"),
    );
    let again = console.wait_for_job(r.json()["job"].as_u64().unwrap());
    assert_eq!(again["resumed_from"], again["size"], "{again}");
}

#[test]
fn a_file_that_is_not_wasm_or_a_bad_argument_is_refused_before_anything_is_sent() {
    let env = Env::registered();
    let console = Console::start(&env, "developer", &[]);
    let r = console.post_body(
        "/upgrade/start?module=app",
        "application/octet-stream",
        b"#!/bin/sh\n",
    );
    assert_eq!(r.status, 400);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("cannot be installed"),
        "{}",
        r.text()
    );
    let r = console.post_body(
        "/upgrade/start?module=app&arg=(record%20%7B",
        "application/octet-stream",
        &wasm("sample-module-v2.wasm.gz"),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("not candid text"),
        "{}",
        r.text()
    );
    let history = env.json(&["history"]).to_string();
    assert!(!history.contains("\"kind\":\"upgrade\""), "{history}");
    let r = console.get("/upgrade/jobs/99");
    assert_eq!(r.status, 404);
}

// ----- error paths ---------------------------------------------------------------------------

#[test]
fn a_non_admin_identity_sees_the_orchestrator_s_refusal_in_the_page() {
    let env = Env::registered();
    let console = Console::start(&env, "stranger", &[]);
    let page = console.get("/");
    assert_eq!(page.status, 502, "{}", page.text());
    let text = page.text();
    assert!(text.contains("class=\"error\""), "{text}");
    assert!(
        text.contains("is not an admin of this orchestrator"),
        "{text}"
    );
    assert!(text.contains("keepsake admin add"), "{text}");
    let r = console.post("/modules/app/snapshots", &[]);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("is not an admin"),
        "{}",
        r.text()
    );
}

#[test]
fn a_busy_module_shows_its_operation_and_a_snapshot_of_it_is_refused_busy() {
    let env = Env::registered();
    env.call(calls::begin_import("app", BeginImportArgs::default()))
        .expect("begin_import");
    let console = Console::start(&env, "developer", &[]);
    let page = console.get("/").text();
    assert!(
        page.contains("<span class=\"busy\">import</span>"),
        "{page}"
    );
    let r = console.post("/modules/app/snapshots", &[("label", "x")]);
    assert_eq!(r.json()["ok"], false);
    assert!(
        r.json()["message"].as_str().unwrap().contains("busy"),
        "{}",
        r.text()
    );
    assert!(snapshots(&env).is_empty());
}

#[test]
fn an_unknown_module_is_said_in_the_page() {
    let env = Env::registered();
    let console = Console::start(&env, "developer", &[]);
    let page = console.get("/modules/nobody");
    assert!(page.status >= 400);
    assert!(page.text().contains("no module named"), "{}", page.text());
}

#[test]
fn an_unreachable_network_is_said_in_the_page_and_at_start() {
    localnet_only!("stops the network");
    let env = Env::registered();
    let console = Console::start(&env, "developer", &[]);
    let Env { server, dir, .. } = env;
    let url = server.url();
    server.stop();
    let page = console.get("/");
    assert_eq!(page.status, 502, "{}", page.text());
    assert!(
        page.text().contains("cannot connect to the network"),
        "{}",
        page.text()
    );
    assert!(page.text().contains("nothing was sent"), "{}", page.text());

    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("keepsake"))
        .env_clear()
        .env("HOME", dir.path().join("home"))
        .args([
            "--network",
            &url,
            "--pem",
            dir.path().join("developer.pem").to_str().unwrap(),
        ])
        .args(["--orchestrator", "aaaaa-aa", "console"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot reach the network"), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "no URL for a console that cannot work"
    );
}
