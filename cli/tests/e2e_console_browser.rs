//! `keepsake console` in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`) driven over WebDriver. Opens the console with its token, takes a
//! snapshot and sees it on the timeline, restores it after the confirmation, previews and saves
//! a cron schedule, uploads a wasm that ends `upgraded` and a broken one that ends
//! `rolled_back`, syncs the backup repository from the Backups page and sees the new backups
//! listed, and writes screenshots (to target/console-screenshots/; also to docs/ when
//! KEEPSAKE_DOCS_SCREENSHOTS=1, which is how the README's images are made).

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::console::Console;
use common::{Env, localnet_only, wasm};
use fantoccini::{Client, ClientBuilder, Locator};
use localnet::CallFilter;
use serde_json::json;

/// chromedriver on a free loopback port, stopped on drop.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start chromedriver ({e}); install Debian's chromium and chromium-driver \
                     (`apt-get install chromium chromium-driver`, as .ci/run does)"
                )
            });
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver { child, port }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn browser(driver: &Driver, profile: &Path) -> Client {
    let mut args = vec![
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--window-size=1280,900".into(),
        format!("--user-data-dir={}", profile.display()),
    ];
    args.push("--disable-dev-shm-usage".into());
    let mut options = json!({ "args": args });
    if Path::new("/usr/bin/chromium").exists() {
        options["binary"] = json!("/usr/bin/chromium");
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session")
}

fn screenshot_dirs() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut dirs = vec![root.join("target/console-screenshots")];
    if std::env::var_os("KEEPSAKE_DOCS_SCREENSHOTS").is_some() {
        dirs.push(root.join("docs"));
    }
    dirs
}

async fn screenshot(client: &Client, name: &str) {
    let png = client.screenshot().await.expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    for dir in screenshot_dirs() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), &png).unwrap();
    }
}

async fn wait_for_text(client: &Client, css: &str, wanted: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Ok(e) = client.find(Locator::Css(css)).await
            && let Ok(text) = e.text().await
            && text.contains(wanted)
        {
            return text;
        }
        assert!(Instant::now() < deadline, "{css} never showed {wanted:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_for_attr(client: &Client, css: &str, attr: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Ok(e) = client.find(Locator::Css(css)).await
            && let Ok(Some(value)) = e.attr(attr).await
        {
            return value;
        }
        assert!(Instant::now() < deadline, "{css} never got {attr}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn snapshot_ids(env: &Env) -> Vec<String> {
    env.json(&["snapshot", "list", "app"])
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_browser_a_snapshot_is_taken_restored_scheduled_two_upgrades_end_as_they_should_and_a_sync_lists_the_new_backups()
 {
    localnet_only!("holds the upgrade's health check to watch it in progress");
    let env = Env::registered();
    env.ok(&[
        "module",
        "set",
        "app",
        "--max-snapshots",
        "4",
        "--health-check",
        "health",
    ]);
    env.ok(&["snapshot", "take", "app", "--label", "first"]);
    env.set(env.module, "k", b"at-snapshot");
    let repo = env.path("repo");
    let repo = repo.to_str().unwrap();
    common::backup::json(&env, &["backup", "init", "--repo", repo]);
    let password_file = env.path("repo-password");
    std::fs::write(&password_file, common::backup::PASSWORD).unwrap();
    let console = Console::start(
        &env,
        "developer",
        &[
            "--repo",
            repo,
            "--password-file",
            password_file.to_str().unwrap(),
        ],
    );
    let driver = Driver::start();
    let profile = tempfile::tempdir().unwrap();
    let client = browser(&driver, profile.path()).await;
    let url = console
        .first_line
        .strip_prefix("console on ")
        .unwrap()
        .to_string();

    // 1. Open with the token: the modules page, the address without the token.
    client.goto(&url).await.unwrap();
    client
        .wait()
        .for_element(Locator::Css("#modules tr[data-module=app]"))
        .await
        .unwrap();
    assert!(
        !client
            .current_url()
            .await
            .unwrap()
            .as_str()
            .contains("token")
    );
    screenshot(&client, "console-modules.png").await;

    // 2. Take a snapshot from the module page; it appears on the timeline.
    client
        .find(Locator::Css("tr[data-module=app] a"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let label = client
        .wait()
        .for_element(Locator::Css("#take-form input[name=label]"))
        .await
        .unwrap();
    label.send_keys("from-the-browser").await.unwrap();
    client
        .find(Locator::Css("#take-form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&client, "#message", "Took snapshot").await;
    let ids = snapshot_ids(&env);
    assert_eq!(ids.len(), 2);
    let taken = env
        .json(&["snapshot", "list", "app"])
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["label"] == "from-the-browser")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    client
        .wait()
        .for_element(Locator::Css(&format!(
            "#timeline g[data-snapshot-id='{taken}']"
        )))
        .await
        .unwrap();

    // 3. Restore it: the confirmation names the module and the snapshot's time.
    env.set(env.module, "k", b"changed");
    client
        .find(Locator::Css(&format!(
            "tr[data-snapshot-id='{taken}'] button.restore"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let question = wait_for_text(&client, "#confirm-text", "Restore module app").await;
    assert!(question.contains("taken at 20"), "{question}");
    client
        .find(Locator::Css("#confirm-yes"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&client, "#message", "Restored app").await;
    assert_eq!(
        env.get(env.module, "k").as_deref(),
        Some(&b"at-snapshot"[..])
    );

    // 4. A cron schedule: previewed (UTC and local) before it is saved.
    client
        .find(Locator::Css("#schedule-form select[name=kind]"))
        .await
        .unwrap()
        .select_by_value("cron")
        .await
        .unwrap();
    let value = client
        .find(Locator::Css("#schedule-form input[name=value]"))
        .await
        .unwrap();
    value.clear().await.unwrap();
    value.send_keys("30 2 * * *").await.unwrap();
    let preview = wait_for_text(&client, "#schedule-preview-table", "T02:30:00Z").await;
    let rows = client
        .find_all(Locator::Css("#schedule-preview-table tbody tr"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 5, "{preview}");
    screenshot(&client, "console-module.png").await;
    client
        .find(Locator::Css("#schedule-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&client, "#schedule-current", "cron \"30 2 * * *\"").await;

    // 5. An upgrade, watched live: its health check is held so the page shows it in progress.
    let (orchestrator, module) = (env.orchestrator, env.module);
    env.server.replica().with_net(|net| {
        net.hold_calls(CallFilter {
            caller: Some(orchestrator),
            callee: Some(module),
            method: Some("health".into()),
        })
    });
    let v2 = env.path("sample-module-v2.wasm.gz");
    std::fs::write(&v2, wasm("sample-module-v2.wasm.gz")).unwrap();
    client
        .goto(&format!(
            "http://127.0.0.1:{}/upgrade?module=app",
            console.port
        ))
        .await
        .unwrap();
    let file = client
        .wait()
        .for_element(Locator::Css("#upgrade-form input[type=file]"))
        .await
        .unwrap();
    file.send_keys(v2.to_str().unwrap()).await.unwrap();
    client
        .find(Locator::Css("#upgrade-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&client, "#upgrade-steps", "install: ok").await;
    screenshot(&client, "console-upgrade.png").await;
    let held = env.server.replica().with_net(|net| {
        net.clear_holds();
        net.held_calls()
    });
    for call in held {
        env.server
            .replica()
            .with_net(|net| net.release_call(call.id));
    }
    assert_eq!(
        wait_for_attr(&client, "#upgrade-outcome[data-outcome]", "data-outcome").await,
        "upgraded"
    );

    // 6. A broken wasm: rolled back, and the page says so.
    let broken = env.path("broken.wasm.gz");
    std::fs::write(&broken, wasm("sample-module-broken-post-upgrade.wasm.gz")).unwrap();
    client
        .goto(&format!(
            "http://127.0.0.1:{}/upgrade?module=app",
            console.port
        ))
        .await
        .unwrap();
    let file = client
        .wait()
        .for_element(Locator::Css("#upgrade-form input[type=file]"))
        .await
        .unwrap();
    file.send_keys(broken.to_str().unwrap()).await.unwrap();
    client
        .find(Locator::Css("#upgrade-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(
        wait_for_attr(&client, "#upgrade-outcome[data-outcome]", "data-outcome").await,
        "rolled_back"
    );
    let text = wait_for_text(&client, "#upgrade-outcome", "rolled back").await;
    assert!(text.contains("runs its old code and state"), "{text}");
    screenshot(&client, "console-rolled-back.png").await;

    // 7. Backups: Sync now; the page follows the sync and then lists the new backups.
    client
        .goto(&format!("http://127.0.0.1:{}/backups", console.port))
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::Css("#no-backups"))
        .await
        .unwrap();
    client
        .find(Locator::Css("#sync-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_text(&client, "#message", "Backed up").await;
    let listed = common::backup::json(&env, &["backup", "list", "--repo", repo]);
    let newest = listed[0]["backup_id"].as_str().unwrap().to_string();
    client
        .wait()
        .for_element(Locator::Css(&format!(
            "section[data-module=app] tr[data-backup-id='{newest}']"
        )))
        .await
        .unwrap();
    screenshot(&client, "console-backups.png").await;

    client.close().await.unwrap();
    for name in [
        "console-modules.png",
        "console-module.png",
        "console-upgrade.png",
        "console-rolled-back.png",
        "console-backups.png",
    ] {
        let written = screenshot_dirs()[0].join(name);
        assert!(
            std::fs::metadata(&written).unwrap().len() > 1000,
            "{name} written"
        );
    }
}
