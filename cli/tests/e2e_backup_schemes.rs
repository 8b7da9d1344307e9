//! End to end: backup repositories on the other OpenDAL services — WebDAV and SFTP served by
//! `rclone serve` (Debian package `rclone`), Azure Blob by the Azurite emulator (npm `azurite`)
//! — each started by its test on 127.0.0.1, with the real binary against localnet over HTTP.
//!
//! For each scheme: init → backup run → list → restore into a fresh canister (data back) →
//! check --read-data; wrong credentials, an unreachable server and a missing folder or container
//! are refused with what to do. A test whose server binary is missing is skipped with a printed
//! reason, unless `KEEPSAKE_REQUIRE_SERVERS` is set (CI sets it: nothing is skipped there).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command as Std, Stdio};
use std::time::{Duration, Instant};

use common::backup::{free_port, keepsake};
use common::{Env, files_of, succeeds_with_json};
use serde_json::Value;

// ---- servers ----

/// `name` on PATH, or `None` with the reason printed when servers are optional here.
fn server_binary(name: &str, install: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("KEEPSAKE_REQUIRE_SERVERS").is_none(),
            "{name} is not installed and KEEPSAKE_REQUIRE_SERVERS is set; install it: {install}"
        );
        eprintln!(
            "SKIPPED: {name} is not installed ({install}); set KEEPSAKE_REQUIRE_SERVERS=1 to fail instead"
        );
    }
    found
}

fn rclone() -> Option<PathBuf> {
    server_binary("rclone", "apt-get install -y rclone (.ci/run does)")
}

/// A server process on a loopback port; killed on drop.
struct Served {
    child: Child,
    port: u16,
}

impl Served {
    /// Starts `cmd` (which listens on `port`) and waits until the port accepts connections.
    fn start(mut cmd: Std, port: u16, log: &Path) -> Self {
        let out = std::fs::File::create(log).unwrap();
        cmd.stdout(out.try_clone().unwrap()).stderr(out);
        let child = cmd.spawn().expect("start the server");
        let mut s = Served { child, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = s.child.try_wait() {
                panic!(
                    "the server exited ({status}):\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `rclone serve <what> <root> --addr 127.0.0.1:<port> <args>`, with its own (empty) config.
fn rclone_serve(env: &Env, rclone: &Path, what: &str, root: &Path, args: &[&str]) -> Served {
    std::fs::create_dir_all(root).unwrap();
    let port = free_port();
    let mut cmd = Std::new(rclone);
    cmd.env("RCLONE_CONFIG", env.path(&format!("rclone-{what}.conf")))
        .args(["serve", what])
        .arg(root)
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .args(args);
    Served::start(cmd, port, &env.path(&format!("rclone-{what}.log")))
}

// ---- running keepsake against a remote repository ----

/// A remote repository: `--repo`, plus the environment and flags that reach it.
struct Remote {
    repo: String,
    vars: Vec<(String, String)>,
    flags: Vec<String>,
}

impl Remote {
    /// `keepsake backup <args> <flags>` with the remote's environment.
    fn cmd(&self, env: &Env, args: &[&str]) -> assert_cmd::Command {
        let mut c = keepsake(env);
        c.envs(self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .arg("backup")
            .args(args)
            .args(&self.flags);
        c
    }

    /// The same remote with one variable changed (or added).
    fn with_var(&self, key: &str, value: &str) -> Remote {
        let mut vars: Vec<_> = self
            .vars
            .iter()
            .filter(|(k, _)| k != key)
            .cloned()
            .collect();
        vars.push((key.to_string(), value.to_string()));
        Remote {
            repo: self.repo.clone(),
            vars,
            flags: self.flags.clone(),
        }
    }

    /// The same server and credentials, another `--repo`.
    fn at(&self, repo: &str) -> Remote {
        Remote {
            repo: repo.to_string(),
            vars: self.vars.clone(),
            flags: self.flags.clone(),
        }
    }
}

/// Runs with `--json`, asserts success, parses stdout.
fn ok_json(mut c: assert_cmd::Command) -> Value {
    succeeds_with_json(c.arg("--json"))
}

/// Runs, asserts failure, returns (exit code, stderr, seconds taken).
fn fails(mut c: assert_cmd::Command) -> (i32, String, f64) {
    let started = Instant::now();
    let (code, _, stderr) = common::fails(&mut c);
    (code, stderr, started.elapsed().as_secs_f64())
}

/// init → backup run → list → restore into a fresh canister (the data back) → check
/// --read-data, all against `r`.
fn round_trip(env: &Env, r: &Remote) {
    env.set(env.module, "k1", b"v1");
    env.fill(3_000_000, 3);
    let bulk = env.bulk(env.module);

    let init = ok_json(r.cmd(env, &["init", "--repo", &r.repo]));
    assert_eq!(init["version"], 2, "{init}");
    let run = ok_json(r.cmd(env, &["run", "app", "--repo", &r.repo, "--take"]));
    let backup_id = run["backup_id"].as_str().unwrap().to_string();

    let listed = ok_json(r.cmd(env, &["list", "app", "--repo", &r.repo]));
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["backup_id"], backup_id.as_str());

    env.set(env.module, "k1", b"changed");
    let fresh = env.fresh_canister();
    let restored = ok_json(r.cmd(
        env,
        &[
            "restore",
            &backup_id,
            "--repo",
            &r.repo,
            "--to",
            &fresh.to_text(),
            "--load",
            "--yes",
        ],
    ));
    assert_eq!(restored["load"]["started"], true, "{restored}");
    assert_eq!(env.get(fresh, "k1").unwrap(), b"v1");
    assert_eq!(env.bulk(fresh), bulk);

    let check = ok_json(r.cmd(env, &["check", "--repo", &r.repo, "--read-data"]));
    assert_eq!(check["ok"], true, "{check}");
}

/// The repository's files are in restic's layout under `root`, and no temporary file of an
/// interrupted or failed write is left (a file server's writes are renamed into place).
fn assert_restic_layout_without_leftovers(root: &Path) {
    assert!(root.join("config").is_file(), "no config under {root:?}");
    let files = files_of(root);
    assert!(
        files.iter().any(|f| f.starts_with("data/")),
        "no packs: {files:?}"
    );
    let leftovers: Vec<_> = files
        .iter()
        .filter(|f| f.contains(".keepsake-part-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

/// A server that is not there is reported at once (the connect preflight), saying what to
/// check, instead of after retries.
fn assert_unreachable_is_said_within_the_preflight(env: &Env, r: &Remote, what: &str) {
    let (code, err, took) = fails(r.cmd(env, &["list", "--repo", &r.repo]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("cannot connect to {what}")), "{err}");
    assert!(err.contains("nothing was read or written"), "{err}");
    assert!(took < 10.0, "took {took:.1} s: {err}");
}

// ---- WebDAV ----

const DAV_USER: &str = "keepsake";
const DAV_PASSWORD: &str = "dav-secret-4711";

#[test]
fn a_backup_on_a_webdav_server_is_restored_and_wrong_passwords_missing_folders_and_a_down_server_are_refused()
 {
    let Some(rclone) = rclone() else { return };
    let env = Env::registered();
    let root = env.path("dav");
    let dav = rclone_serve(
        &env,
        &rclone,
        "webdav",
        &root,
        &["--user", DAV_USER, "--pass", DAV_PASSWORD],
    );
    let server = format!("127.0.0.1:{}", dav.port);
    let r = Remote {
        repo: format!("webdav://{server}/backups/app"),
        vars: vec![
            ("KEEPSAKE_WEBDAV_USER".into(), DAV_USER.into()),
            ("KEEPSAKE_WEBDAV_PASSWORD".into(), DAV_PASSWORD.into()),
        ],
        flags: vec![],
    };
    round_trip(&env, &r);
    assert_restic_layout_without_leftovers(&root.join("backups/app"));

    // A wrong password: refused by the server, said so, and the password is not echoed.
    let wrong = r.with_var("KEEPSAKE_WEBDAV_PASSWORD", "not-the-dav-password");
    let (code, err, _) = fails(wrong.cmd(&env, &["list", "--repo", &r.repo]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("WebDAV server"), "{err}");
    assert!(err.contains("KEEPSAKE_WEBDAV_PASSWORD"), "{err}");
    assert!(
        !err.contains("not-the-dav-password"),
        "the password leaked: {err}"
    );
    assert!(!err.contains(DAV_PASSWORD), "the password leaked: {err}");

    // A password in --repo is refused before anything is sent.
    let (code, err, _) = fails(r.cmd(
        &env,
        &["list", "--repo", &format!("webdav://u:pw@{server}/x")],
    ));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("KEEPSAKE_WEBDAV_PASSWORD"), "{err}");

    // A folder with no repository in it.
    let (_, err, _) = fails(r.cmd(
        &env,
        &["list", "--repo", &format!("webdav://{server}/nothing/here")],
    ));
    assert!(err.contains("is not a backup repository"), "{err}");
    assert!(err.contains("check the path"), "{err}");

    // The server gone.
    drop(dav);
    assert_unreachable_is_said_within_the_preflight(&env, &r, "the WebDAV server");
}

// ---- SFTP ----

/// An ed25519 key pair at `path` (and `path`.pub).
fn ssh_key(path: &Path) -> String {
    let ok = Std::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .expect("ssh-keygen (openssh-client)")
        .success();
    assert!(ok);
    std::fs::read_to_string(path.with_extension("pub")).unwrap()
}

/// A `ssh` first on PATH that is the system one with a config of our own: the server's host key
/// in a known_hosts file of the test's (never the user's), checked strictly as keepsake asks.
fn ssh_wrapper(env: &Env, known_hosts: &str) -> String {
    let bin = env.path("ssh-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let kh = env.path("known_hosts");
    std::fs::write(&kh, known_hosts).unwrap();
    let cfg = env.path("ssh_config");
    std::fs::write(
        &cfg,
        format!(
            "UserKnownHostsFile {}\nGlobalKnownHostsFile /dev/null\n",
            kh.display()
        ),
    )
    .unwrap();
    let real = std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join("ssh"))
                .find(|p| p.is_file())
        })
        .expect("the ssh client (openssh-client)");
    let script = bin.join("ssh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nexec {} -F {} \"$@\"\n",
            real.display(),
            cfg.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn a_backup_on_an_sftp_server_is_restored_and_a_wrong_key_an_unknown_host_key_and_a_down_server_are_refused()
 {
    let Some(rclone) = rclone() else { return };
    let env = Env::registered();
    let host_pub = ssh_key(&env.path("host_key"));
    let user_pub = ssh_key(&env.path("user_key"));
    ssh_key(&env.path("other_key"));
    std::fs::write(env.path("authorized_keys"), &user_pub).unwrap();
    let root = env.path("sftp");
    let sftp = rclone_serve(
        &env,
        &rclone,
        "sftp",
        &root,
        &[
            "--user",
            "keepsake",
            "--key",
            env.path("host_key").to_str().unwrap(),
            "--authorized-keys",
            env.path("authorized_keys").to_str().unwrap(),
        ],
    );
    let port = sftp.port;
    let host_key: Vec<&str> = host_pub.split_whitespace().take(2).collect();
    let path = ssh_wrapper(
        &env,
        &format!("[127.0.0.1]:{port} {}\n", host_key.join(" ")),
    );
    let r = Remote {
        repo: format!("sftp://keepsake@127.0.0.1:{port}/backups/app"),
        vars: vec![("PATH".into(), path.clone())],
        flags: vec![
            "--sftp-key".into(),
            env.path("user_key").to_str().unwrap().into(),
        ],
    };
    round_trip(&env, &r);
    assert_restic_layout_without_leftovers(&root.join("backups/app"));

    // The key from KEEPSAKE_SFTP_KEY instead of --sftp-key.
    let mut by_env = r.with_var("KEEPSAKE_SFTP_KEY", env.path("user_key").to_str().unwrap());
    by_env.flags.clear();
    let listed = ok_json(by_env.cmd(&env, &["list", "--repo", &r.repo]));
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");

    // A key the server does not accept.
    let mut wrong = r.at(&r.repo);
    wrong.flags[1] = env.path("other_key").to_str().unwrap().into();
    let (code, err, _) = fails(wrong.cmd(&env, &["list", "--repo", &r.repo]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("SFTP server"), "{err}");
    assert!(err.contains("--sftp-key"), "{err}");

    // A folder with no repository in it.
    let (_, err, _) = fails(r.cmd(
        &env,
        &[
            "list",
            "--repo",
            &format!("sftp://keepsake@127.0.0.1:{port}/nothing/here"),
        ],
    ));
    assert!(err.contains("is not a backup repository"), "{err}");

    // A server whose host key is not known: nothing is sent to it.
    let strange = r.with_var("PATH", &ssh_wrapper(&env, ""));
    let (code, err, _) = fails(strange.cmd(&env, &["list", "--repo", &r.repo]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("known_hosts"), "{err}");

    // The server gone.
    drop(sftp);
    assert_unreachable_is_said_within_the_preflight(&env, &r, "the SFTP server");
}

// ---- Azure Blob (Azurite) ----

/// Azurite's well-known development account and key (public, in Azure's documentation).
const AZ_ACCOUNT: &str = "devstoreaccount1";
const AZ_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Creates a container with Azure's REST API (keepsake never creates one: a missing container
/// is an error it reports), signed with the account key (SharedKey).
fn create_container(port: u16, name: &str) {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    use std::io::{Read, Write};
    let b64 = base64::engine::general_purpose::STANDARD;
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let version = "2021-08-06";
    let to_sign = format!(
        "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{AZ_ACCOUNT}/{AZ_ACCOUNT}/{name}\nrestype:container"
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&b64.decode(AZ_KEY).unwrap()).unwrap();
    mac.update(to_sign.as_bytes());
    let sig = b64.encode(mac.finalize().into_bytes());
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "PUT /{AZ_ACCOUNT}/{name}?restype=container HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         x-ms-date: {date}\r\nx-ms-version: {version}\r\n\
         Authorization: SharedKey {AZ_ACCOUNT}:{sig}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 201"), "{reply}");
}

#[test]
fn a_backup_in_an_azure_blob_container_is_restored_and_a_wrong_key_a_missing_container_and_a_down_endpoint_are_refused()
 {
    let Some(azurite) = server_binary(
        "azurite-blob",
        "npm install -g azurite@3.35.0 (.ci/run does)",
    ) else {
        return;
    };
    let env = Env::registered();
    let port = free_port();
    let data = env.path("azurite");
    std::fs::create_dir_all(&data).unwrap();
    let mut cmd = Std::new(azurite);
    cmd.args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
        .arg("--location")
        .arg(&data)
        .args(["--disableTelemetry", "--skipApiVersionCheck"])
        .stdin(Stdio::null());
    let azurite = Served::start(cmd, port, &env.path("azurite.log"));
    create_container(port, "backups");
    let endpoint = format!("http://127.0.0.1:{port}/{AZ_ACCOUNT}");
    let r = Remote {
        repo: "azblob://backups/keepsake/app".into(),
        vars: vec![
            ("AZURE_STORAGE_ACCOUNT".into(), AZ_ACCOUNT.into()),
            ("AZURE_STORAGE_KEY".into(), AZ_KEY.into()),
        ],
        flags: vec!["--azure-endpoint".into(), endpoint.clone()],
    };
    round_trip(&env, &r);

    // A wrong account key: refused by the service, said so, and the key is not echoed.
    let wrong_key = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ==";
    let wrong = r.with_var("AZURE_STORAGE_KEY", wrong_key);
    let (code, err, _) = fails(wrong.cmd(&env, &["list", "--repo", &r.repo]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("AZURE_STORAGE_KEY"), "{err}");
    assert!(
        !err.contains(wrong_key) && !err.contains(AZ_KEY),
        "the key leaked: {err}"
    );

    // A container that does not exist: named, for list and for init; init creates nothing.
    let missing = r.at("azblob://nocontainer/x");
    let (_, err, _) = fails(missing.cmd(&env, &["list", "--repo", &missing.repo]));
    assert!(err.contains("is not a backup repository"), "{err}");
    assert!(err.contains("container nocontainer exists"), "{err}");
    let (code, err, _) = fails(missing.cmd(&env, &["init", "--repo", &missing.repo]));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("container nocontainer exists"), "{err}");

    // Credentials missing altogether: said before anything is sent.
    let mut bare = r.at(&r.repo);
    bare.vars.clear();
    let (code, err, _) = fails(bare.cmd(&env, &["list", "--repo", &r.repo]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("AZURE_STORAGE_ACCOUNT"), "{err}");

    // The endpoint gone.
    drop(azurite);
    assert_unreachable_is_said_within_the_preflight(&env, &r, "the Azure Blob endpoint");
}

#[test]
fn a_scheme_keepsake_does_not_compile_in_is_refused_naming_the_supported_ones() {
    let env = Env::registered();
    let (code, err, _) = fails({
        let mut c = keepsake(&env);
        c.args(["backup", "list", "--repo", "gcs://bucket/prefix"]);
        c
    });
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("gcs:// is not supported"), "{err}");
    for form in ["s3://", "webdav://", "sftp://", "azblob://"] {
        assert!(err.contains(form), "{form} not named: {err}");
    }
}
