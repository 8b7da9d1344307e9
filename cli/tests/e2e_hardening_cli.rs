//! End to end, the command line's surface under hostile or mistaken input (issue 10, items 7,
//! 10 and 11; issue 12's `keepsake admin`): malformed network URLs, argument errors with
//! `--json`, exit codes of values typed wrong, bounded echoes of overlong input, a connection
//! that fails before or during a call, and the admin commands. The real binary, against
//! localnet over HTTP with the orchestrator's real wasm (the fixture in `common/`); the failing
//! connections go through a small TCP proxy in this file, which, like many proxies, speaks
//! HTTP/1.1 only. Which HTTP keepsake speaks (h2c, or HTTP/1.1 when that is all a plain-http
//! replica speaks) is checked here too.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::Output;
use std::thread;

use assert_cmd::Command;
use candid::Principal;
use serde_json::Value;

use common::replica::localnet_only;
use common::{Env, STRANGER_PEM, principal_of};
use localnet::http::ReplicaConfig;

/// The binary with a clean environment, in `dir`, without any network flag.
fn bare(dir: &std::path::Path) -> Command {
    let mut c = Command::cargo_bin("keepsake").unwrap();
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DFX_CONFIG_ROOT", dir.join("home"))
        .env("HOME", dir.join("home"))
        .env("KEEPSAKE_CACHE_DIR", dir.join("cache"))
        .current_dir(dir);
    c
}

/// `keepsake` as the developer against `url` instead of the fixture's server.
fn keepsake_via(env: &Env, url: &str) -> Command {
    let mut c = bare(env.dir.path());
    c.args(["--network", url])
        .args(["--pem", env.path("developer.pem").to_str().unwrap()])
        .args(["--orchestrator", &env.orchestrator.to_text()]);
    c
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts the exit code, and that nothing panicked; returns (stdout, stderr).
fn expect(out: Output, code: i32, what: &str) -> (String, String) {
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}:\nstdout: {stdout}\nstderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{what} panicked: {stderr}");
    (stdout, stderr)
}

/// The `--json` error object on stdout, checked for its shape and exit code.
fn json_error(stdout: &str, code: u64, what: &str) -> Value {
    let v: Value = serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("{what}: stdout is not JSON ({e}): {stdout:?}"));
    assert!(v["error"].is_string(), "{what}: {v}");
    assert!(v["causes"].is_array(), "{what}: {v}");
    assert_eq!(v["exit_code"], code, "{what}: {v}");
    v
}

/// Everything the error object says, in one string.
fn all_text(v: &Value) -> String {
    let mut s = v["error"].as_str().unwrap_or_default().to_string();
    for c in v["causes"].as_array().into_iter().flatten() {
        s.push('\n');
        s.push_str(c.as_str().unwrap_or_default());
    }
    s
}

const MALFORMED_URLS: [&str; 5] = [
    "http://",
    "http://:80",
    "http://127.0.0.1:99999",
    "http://[::1",
    "http://a b",
];

#[test]
fn a_malformed_network_url_is_a_usage_error_not_a_panic_with_or_without_json() {
    let dir = tempfile::tempdir().unwrap();
    for url in MALFORMED_URLS {
        let out = bare(dir.path())
            .args([
                "--network",
                url,
                "--orchestrator",
                "aaaaa-aa",
                "module",
                "list",
            ])
            .output()
            .unwrap();
        let (_, stderr) = expect(out, 2, url);
        assert!(stderr.contains("not a usable URL"), "{url}: {stderr}");

        let out = bare(dir.path())
            .args(["--json", "--network", url, "--orchestrator", "aaaaa-aa"])
            .args(["history"])
            .output()
            .unwrap();
        let (stdout, _) = expect(out, 2, url);
        let v = json_error(&stdout, 2, url);
        assert!(all_text(&v).contains("--network"), "{url}: {v}");
    }
}

#[test]
fn a_malformed_keepsake_network_variable_is_a_usage_error_too() {
    let dir = tempfile::tempdir().unwrap();
    for url in MALFORMED_URLS {
        let out = bare(dir.path())
            .env("KEEPSAKE_NETWORK", url)
            .args(["--json", "--orchestrator", "aaaaa-aa", "snapshot", "list"])
            .output()
            .unwrap();
        let (stdout, stderr) = expect(out, 2, url);
        json_error(&stdout, 2, url);
        assert!(stderr.contains("KEEPSAKE_NETWORK"), "{url}: {stderr}");
    }
}

#[test]
fn argument_errors_print_the_json_error_object_when_json_is_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [&[&str]; 5] = [
        &["--json", "snapshot", "take"],
        &["--json", "history", "--limit", "0"],
        &["snapshot", "take", "--json"],
        &["--json", "module", "add", "aaaaa-aa"],
        &["--json", "no-such-command"],
    ];
    for args in cases {
        let out = bare(dir.path()).args(args).output().unwrap();
        let (stdout, stderr) = expect(out, 2, &format!("{args:?}"));
        let v = json_error(&stdout, 2, &format!("{args:?}"));
        assert!(!v["error"].as_str().unwrap().is_empty(), "{args:?}: {v}");
        // The person at the terminal still gets clap's full message.
        assert!(stderr.contains("error:"), "{args:?}: {stderr}");
    }
    let v = json_error(
        &text(
            &bare(dir.path())
                .args(["--json", "history", "--limit", "0"])
                .output()
                .unwrap(),
        )
        .0,
        2,
        "--limit 0",
    );
    assert!(all_text(&v).contains("--limit"), "{v}");
    // Without --json stdout stays empty; --help and --version still print normally.
    let out = bare(dir.path())
        .args(["snapshot", "take"])
        .output()
        .unwrap();
    let (stdout, _) = expect(out, 2, "snapshot take");
    assert!(stdout.is_empty(), "{stdout}");
    let out = bare(dir.path())
        .args(["--json", "--help"])
        .output()
        .unwrap();
    let (stdout, _) = expect(out, 0, "--json --help");
    assert!(stdout.contains("Usage"), "{stdout}");
    let out = bare(dir.path())
        .args(["--json", "--version"])
        .output()
        .unwrap();
    let (stdout, _) = expect(out, 0, "--json --version");
    assert!(stdout.starts_with("keepsake "), "{stdout}");
}

#[test]
fn values_typed_wrong_exit_with_usage_everywhere_and_missing_things_with_failure() {
    let env = Env::registered();
    env.ok(&["module", "set", "app", "--max-snapshots", "3"]);
    env.take_snapshot();
    let usage: [&[&str]; 9] = [
        &["schedule", "set", "app", "--cron", "not a cron"],
        &["schedule", "set", "app", "--cron", "61 * * * *"],
        &["schedule", "set", "app", "--every", "1h", "--keep", "0"],
        &["schedule", "set", "app", "--every", "1h", "--keep", "9"],
        &["schedule", "set", "app", "--every", "0m"],
        &["schedule", "set", "app", "--every", "5m"],
        &["snapshot", "restore", "app", "--snapshot", "", "--yes"],
        &["snapshot", "delete", "app", "--snapshot", "", "--yes"],
        &["snapshot", "take", "not a name!"],
    ];
    for args in usage {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = env.keepsake().args(&all).output().unwrap();
        let (stdout, _) = expect(out, 2, &format!("{args:?}"));
        json_error(&stdout, 2, &format!("{args:?}"));
    }
    // An identity name that is a path out of dfx's store.
    let out = bare(env.dir.path())
        .args([
            "--network",
            &env.server.url(),
            "--orchestrator",
            &env.orchestrator.to_text(),
        ])
        .args(["--json", "--identity", "../../elsewhere", "module", "list"])
        .output()
        .unwrap();
    let (stdout, _) = expect(out, 2, "--identity ../../elsewhere");
    json_error(&stdout, 2, "--identity ../../elsewhere");
    // Well-formed but not there: the operation failed (1), it is not a typo.
    let failed: [&[&str]; 2] = [
        &["snapshot", "take", "nosuchmodule"],
        &["snapshot", "delete", "app", "--snapshot", "00", "--yes"],
    ];
    for args in failed {
        let out = env.keepsake().args(args).output().unwrap();
        expect(out, 1, &format!("{args:?}"));
    }
}

#[test]
fn an_overlong_input_is_echoed_as_a_bounded_prefix() {
    let env = Env::registered();
    let long = "x".repeat(5000);
    let long_cron = format!("{long} * * * *");
    let cases: Vec<Vec<&str>> = vec![
        vec!["snapshot", "take", &long],
        vec!["history", &long],
        vec!["schedule", "set", "app", "--cron", &long_cron],
        vec!["snapshot", "delete", "app", "--snapshot", &long, "--yes"],
        vec!["history", "--before", &long],
    ];
    for args in cases {
        let mut all = vec!["--json"];
        all.extend_from_slice(&args);
        let out = env.keepsake().args(&all).output().unwrap();
        let what = format!("{:?}", &args[..2]);
        let (stdout, stderr) = expect(out, 2, &what);
        for (name, stream) in [("stdout", &stdout), ("stderr", &stderr)] {
            assert!(
                !stream.contains(&"x".repeat(101)),
                "{what}: {name} repeats more than 100 characters of the input"
            );
            assert!(
                stream.len() < 3000,
                "{what}: {name} is {} bytes: {stream}",
                stream.len()
            );
        }
        assert!(stderr.contains("xxxxxxxxxx…"), "{what}: {stderr}");
        json_error(&stdout, 2, &what);
    }
    // The same through KEEPSAKE_NETWORK, which is not on the command line.
    let out = bare(env.dir.path())
        .env("KEEPSAKE_NETWORK", format!("http://{long} y"))
        .args(["--orchestrator", "aaaaa-aa", "module", "list"])
        .output()
        .unwrap();
    let (_, stderr) = expect(out, 2, "KEEPSAKE_NETWORK");
    assert!(!stderr.contains(&"x".repeat(101)), "{stderr}");
}

// ---- a connection that fails before or during a call ----

/// What the proxy does with the requests it gets.
#[derive(Clone, Copy)]
enum Fault {
    /// Forward everything but update calls (`POST …/call`): read those whole, then close the
    /// connection without an answer (the request was delivered, the reply is lost).
    DropCalls,
    /// Forward the first HTTP/1 request (the agent's status/root-key request), then stop
    /// listening: every later connection is refused before anything is sent.
    RefuseAfterFirst,
}

/// Starts a proxy to `upstream` (`http://127.0.0.1:port`) on a loopback port; its URL.
fn proxy(upstream: &str, fault: Fault) -> String {
    let upstream = upstream.trim_start_matches("http://").to_string();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    thread::spawn(move || match fault {
        Fault::DropCalls => {
            for stream in listener.incoming() {
                let Ok(client) = stream else { break };
                let upstream = upstream.clone();
                thread::spawn(move || relay(client, &upstream, fault));
            }
        }
        Fault::RefuseAfterFirst => loop {
            let Ok((mut client, _)) = listener.accept() else {
                return;
            };
            let Some((head, body)) = read_request(&mut client) else {
                continue;
            };
            if head.starts_with("PRI * HTTP/2.0") {
                // keepsake's HTTP/2 attempt: turned away, as an HTTP/1-only proxy does.
                let _ = client.write_all(b"HTTP/1.1 505 HTTP Version Not Supported\r\n\r\n");
                continue;
            }
            // Closed before the first answer goes out, so no later connection can be
            // accepted into the backlog and then reset: every one is refused.
            drop(listener);
            forward(client, &upstream, &head, &body);
            return;
        },
    });
    url
}

/// One request, read whole: (head, body).
fn read_request(client: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = client.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())
                .flatten()
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = client.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((head, body))
}

fn relay(mut client: TcpStream, upstream: &str, fault: Fault) {
    let Some((head, body)) = read_request(&mut client) else {
        return;
    };
    let request_line = head.lines().next().unwrap_or_default();
    let path = request_line.split(' ').nth(1).unwrap_or_default();
    if matches!(fault, Fault::DropCalls)
        && request_line.starts_with("POST")
        && path.ends_with("/call")
    {
        // Delivered, never answered.
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    forward(client, upstream, &head, &body);
}

/// Sends one request upstream and its answer back, then closes.
fn forward(mut client: TcpStream, upstream: &str, head: &str, body: &[u8]) {
    // One request per connection: ask upstream to close after answering, so its response
    // tells the client not to reuse this connection either.
    let mut forwarded = String::new();
    for line in head.trim_end().lines() {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            forwarded.push_str(line);
            forwarded.push_str("\r\n");
        }
    }
    forwarded.push_str("Connection: close\r\n\r\n");
    let mut up = TcpStream::connect(upstream).unwrap();
    up.write_all(forwarded.as_bytes()).unwrap();
    up.write_all(body).unwrap();
    let mut response = Vec::new();
    let _ = up.read_to_end(&mut response);
    // And tell the client so itself, whatever upstream said: a pooled connection the proxy has
    // closed would make the next request fail after it was written, not at connect.
    if let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&response[..end]).into_owned();
        let mut rewritten: String = head
            .lines()
            .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
            .map(|l| format!("{l}\r\n"))
            .collect();
        rewritten.push_str("Connection: close\r\n\r\n");
        let mut out = rewritten.into_bytes();
        out.extend_from_slice(&response[end + 4..]);
        response = out;
    }
    let _ = client.write_all(&response);
    let _ = client.shutdown(Shutdown::Both);
}

#[test]
fn a_connection_lost_after_an_update_was_sent_says_the_outcome_is_unknown_and_how_to_check() {
    let env = Env::registered();
    let url = proxy(&env.server.url(), Fault::DropCalls);
    let out = keepsake_via(&env, &url)
        .args(["--json", "snapshot", "take", "app"])
        .output()
        .unwrap();
    let (stdout, stderr) = expect(out, 1, "take through a dropping proxy");
    let v = json_error(&stdout, 1, "take through a dropping proxy");
    let said = all_text(&v);
    assert!(said.contains("unknown"), "{said}");
    assert!(said.contains("keepsake history"), "{said}");
    assert!(said.contains("keepsake snapshot list"), "{said}");
    assert!(
        !said.contains("names a Keepsake orchestrator"),
        "a lost reply is not a wrong orchestrator: {said}"
    );
    assert!(stderr.contains("unknown"), "{stderr}");
}

#[test]
fn a_network_that_refuses_the_connection_says_nothing_was_sent() {
    let env = Env::registered();
    let url = proxy(&env.server.url(), Fault::RefuseAfterFirst);
    let out = keepsake_via(&env, &url)
        .args(["--json", "snapshot", "take", "app"])
        .output()
        .unwrap();
    let (stdout, _) = expect(out, 1, "take through a refusing proxy");
    let said = all_text(&json_error(&stdout, 1, "refused"));
    assert!(said.contains("nothing was sent"), "{said}");
    assert!(said.contains("--network"), "{said}");
    assert!(!said.contains("unknown"), "{said}");
    // Nothing happened: the module still has no snapshot.
    let list = env.json(&["snapshot", "list", "app"]);
    assert_eq!(list.as_array().unwrap().len(), 0, "{list}");
}

#[test]
fn a_canister_that_is_not_an_orchestrator_gets_the_wrong_orchestrator_hint() {
    // Kept beside the transport cases: only an answer that is not the orchestrator's (or a
    // missing method) says "is it a Keepsake orchestrator".
    let env = Env::new();
    let mut c = bare(env.dir.path());
    c.args(["--network", &env.server.url()])
        .args(["--pem", env.path("developer.pem").to_str().unwrap()])
        .args(["--orchestrator", &env.module.to_text()])
        .args(["--json", "history"]);
    let (stdout, _) = expect(c.output().unwrap(), 1, "history on the sample module");
    let said = all_text(&json_error(&stdout, 1, "not an orchestrator"));
    assert!(said.contains("Keepsake orchestrator"), "{said}");
    assert!(!said.contains("unknown"), "{said}");
}

// ---- admins ----

#[test]
fn admins_are_added_listed_and_removed_and_a_non_admin_is_refused() {
    let env = Env::registered();
    let stranger = principal_of(STRANGER_PEM).to_text();
    // A third principal, so that the stranger is not the last stored admin.
    let other = Principal::self_authenticating([7u8; 32]).to_text();

    // The stranger is nobody's admin: refused, with the command that would fix it.
    let out = env
        .keepsake_as("stranger")
        .args(["--json", "admin", "list"])
        .output()
        .unwrap();
    let (stdout, _) = expect(out, 1, "stranger lists admins");
    assert!(all_text(&json_error(&stdout, 1, "stranger")).contains("not an admin"));
    let out = env
        .keepsake_as("stranger")
        .args(["admin", "add", &stranger])
        .output()
        .unwrap();
    let (_, stderr) = expect(out, 1, "stranger adds itself");
    assert!(stderr.contains("keepsake admin add"), "{stderr}");

    // The developer (a controller) adds two admins.
    assert_eq!(
        env.json(&["admin", "list"])["admins"],
        serde_json::json!([])
    );
    let added = env.json(&["admin", "add", &stranger]);
    assert_eq!(added["admin"], stranger);
    assert_eq!(added["was_admin"], false);
    assert_eq!(added["is_admin"], true);
    assert_eq!(env.json(&["admin", "add", &stranger])["was_admin"], true);
    env.ok(&["admin", "add", &other]);
    let list = env.json(&["admin", "list"]);
    let admins: Vec<&str> = list["admins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        admins.contains(&stranger.as_str()) && admins.contains(&other.as_str()),
        "{list}"
    );

    // Now the stranger may drive the orchestrator.
    let out = env
        .keepsake_as("stranger")
        .args(["module", "list"])
        .output()
        .unwrap();
    expect(out, 0, "stranger as an admin");

    // Removed again, it is refused again.
    let removed = env.json(&["admin", "remove", &stranger]);
    assert_eq!(removed["was_admin"], true);
    assert_eq!(removed["is_admin"], false);
    let out = env
        .keepsake_as("stranger")
        .args(["module", "list"])
        .output()
        .unwrap();
    expect(out, 1, "stranger after removal");

    // The last stored admin stays (exit 1), the anonymous principal and a non-principal are
    // usage errors (exit 2).
    let out = env
        .keepsake()
        .args(["admin", "remove", &other])
        .output()
        .unwrap();
    let (_, stderr) = expect(out, 1, "removing the last admin");
    assert!(stderr.contains("last admin"), "{stderr}");
    let out = env
        .keepsake()
        .args(["--json", "admin", "add", "2vxsx-fae"])
        .output()
        .unwrap();
    let (stdout, _) = expect(out, 2, "anonymous admin");
    json_error(&stdout, 2, "anonymous admin");
    let out = env
        .keepsake()
        .args(["--json", "admin", "add", "not-a-principal"])
        .output()
        .unwrap();
    let (stdout, _) = expect(out, 2, "not a principal");
    json_error(&stdout, 2, "not a principal");
}

/// `KEEPSAKE_TEST_REPLICA` naming an endpoint that does not answer fails the fixture at once,
/// saying what to check, instead of every test failing somewhere later.
#[test]
#[should_panic(expected = "is the replica running?")]
fn an_external_test_endpoint_that_does_not_answer_fails_the_fixture_saying_so() {
    let port = common::backup::free_port();
    common::replica::External::connect(&format!("http://127.0.0.1:{port}"), common::DEVELOPER_PEM);
}

// ---- which HTTP keepsake speaks ----

/// Exports the module into `name` (taking a snapshot), with `KEEPSAKE_HTTP1` set to `http1`, and
/// verifies the folder; the requests the server got meanwhile, by version: `(HTTP/1.x, HTTP/2)`.
fn export_counting_versions(env: &Env, name: &str, http1: &str) -> (u64, u64) {
    let out = env.path(name);
    let out = out.to_str().unwrap();
    let (h1_before, h2_before) = env.server.requests_by_version();
    common::succeeds(
        env.keepsake()
            .env("KEEPSAKE_HTTP1", http1)
            .args(["export", "app", "--out", out, "--take"]),
    );
    let (h1_after, h2_after) = env.server.requests_by_version();
    env.ok(&["verify", out]);
    (h1_after - h1_before, h2_after - h2_before)
}

#[test]
fn keepsake_speaks_http2_to_a_plain_http_replica_that_speaks_it() {
    localnet_only!("counts requests by HTTP version inside localnet's server");
    let env = Env::registered();
    // Several 2 MB slices, so reads run side by side on the one connection.
    env.fill(8_000_000, 2);
    let (h1, h2) = export_counting_versions(&env, "over-h2", "0");
    assert_eq!(
        h1, 0,
        "no request should fall back to HTTP/1.1 ({h2} were HTTP/2)"
    );
    assert!(h2 > 4, "the export's requests should be HTTP/2: {h2}");
    // Asked to, it stays on HTTP/1.1 although the server speaks HTTP/2.
    let (h1, h2) = export_counting_versions(&env, "asked-for-h1", "1");
    assert_eq!(
        h2, 0,
        "KEEPSAKE_HTTP1=1 should keep every request on HTTP/1.1"
    );
    assert!(h1 > 4, "the export should have run over HTTP/1.1: {h1}");
}

#[test]
fn keepsake_falls_back_to_http1_when_a_plain_http_replica_speaks_only_that() {
    localnet_only!("starts localnet's server with HTTP/2 off");
    let env = Env::local_with(ReplicaConfig {
        http2: false,
        ..ReplicaConfig::default()
    });
    env.register(env.module, "app");
    env.fill(8_000_000, 2);
    let (h1, h2) = export_counting_versions(&env, "over-h1", "");
    assert_eq!(h2, 0, "an HTTP/1-only server cannot have served HTTP/2");
    assert!(h1 > 4, "the export should have run over HTTP/1.1: {h1}");
}
