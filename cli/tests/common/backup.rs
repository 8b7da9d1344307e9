//! What the backup test files share: the repository password, `keepsake` with it in the
//! environment (also as a background process to kill mid-run), the repository's lock folder,
//! and an `s3s-fs` S3 server on a loopback port.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::gate::Gate;
use super::{Env, json_of, succeeded};

pub const PASSWORD: &str = "correct horse battery staple";

/// `keepsake` as the developer with the repository password in the environment.
pub fn keepsake(env: &Env) -> assert_cmd::Command {
    let mut c = env.keepsake();
    c.env("KEEPSAKE_REPO_PASSWORD", PASSWORD);
    c
}

/// Runs with `--json`, asserts success, parses stdout.
pub fn json(env: &Env, args: &[&str]) -> Value {
    let out = keepsake(env).arg("--json").args(args).output().unwrap();
    json_of(&succeeded(&format!("keepsake {args:?}"), out))
}

/// A repository created by `backup init` in the Env's folder (format version 2).
pub fn init_repo(env: &Env) -> PathBuf {
    let repo = env.path("repo");
    let r = json(env, &["backup", "init", "--repo", repo.to_str().unwrap()]);
    assert_eq!(r["version"], 2, "{r}");
    repo
}

/// The restic binary (Debian package `restic`, 0.14).
pub fn restic() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("restic"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "the restic CLI is not installed; the backup tests prove restic reads keepsake's \
             backups. Install it with `apt-get install -y restic` (.ci/run does)"
        )
    })
}

/// The real `restic` on `repo`, with the repository password.
pub fn restic_cmd(repo: &Path) -> Command {
    let mut c = Command::new(restic());
    c.env("RESTIC_PASSWORD", PASSWORD)
        .env("RESTIC_CACHE_DIR", repo.with_extension("restic-cache"))
        .args(["-r", repo.to_str().unwrap()]);
    c
}

/// Runs `restic <args>` on `repo`, asserts success, returns stdout.
pub fn restic_ok(repo: &Path, args: &[&str]) -> Vec<u8> {
    let out = restic_cmd(repo).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "restic {args:?} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The tags of a snapshot `restic snapshots --json` lists.
pub fn tags_of(snapshot: &Value) -> Vec<&str> {
    snapshot["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect()
}

/// What `restic snapshots --json` lists in `repo`.
pub fn restic_snapshots(repo: &Path) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&restic_ok(repo, &["snapshots", "--json"])).unwrap();
    v.as_array().unwrap().clone()
}

/// A loopback port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `s3s-fs` S3 server (crate s3s-fs 0.14.1, feature `binary`; 0.17 needs rustc 1.96).
fn s3s_fs() -> PathBuf {
    let found = std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join("s3s-fs"))
                .find(|p| p.is_file())
        })
        .or_else(|| {
            let home = PathBuf::from(std::env::var_os("HOME")?);
            Some(home.join(".cargo/bin/s3s-fs")).filter(|p| p.is_file())
        });
    found.unwrap_or_else(|| {
        panic!(
            "the s3s-fs S3 server is not installed; the S3 tests run against it. Install it with \
             `cargo install --locked s3s-fs@0.14.1 --features binary` (.ci/run does)"
        )
    })
}

pub const S3_KEY: &str = "keepsake-test-key";
pub const S3_SECRET: &str = "keepsake-test-secret";

/// s3s-fs on a free loopback port serving `root` (one folder per bucket); killed on drop.
pub struct S3 {
    child: Child,
    pub endpoint: String,
}

impl S3 {
    /// With `log`, every request it routes is logged there (s3s's debug log names each S3
    /// operation, which is how a test sees a multipart upload).
    pub fn start(root: &Path, log: Option<&Path>) -> Self {
        let port = free_port();
        let mut cmd = Command::new(s3s_fs());
        cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", S3_KEY, "--secret-key", S3_SECRET])
            .arg(root);
        match log {
            Some(log) => {
                let out = std::fs::File::create(log).unwrap();
                cmd.env("RUST_LOG", "s3s=debug")
                    .stdout(out.try_clone().unwrap())
                    .stderr(out);
            }
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        let child = cmd.spawn().expect("start s3s-fs");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        S3 {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `keepsake <args>` as a plain process against `url`, to run in the background (and kill).
pub fn background(env: &Env, url: &str, args: &[&str]) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("keepsake"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DFX_CONFIG_ROOT", env.path("home"))
        .env("HOME", env.path("home"))
        .env("KEEPSAKE_CACHE_DIR", env.path("cache"))
        .env("KEEPSAKE_REPO_PASSWORD", PASSWORD)
        .current_dir(env.dir.path())
        .args(["--network", url])
        .args(["--pem", env.path("developer.pem").to_str().unwrap()])
        .args(["--orchestrator", &env.orchestrator.to_text()])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start keepsake")
}

/// Files in the repository's lock folder.
pub fn locks(repo: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(repo.join("keepsake-locks/snapshots")) {
        Ok(d) => d.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Bytes of every file under `dir` (0 if it does not exist).
pub fn size_of(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                size_of(&e.path())
            } else {
                m.len()
            }
        })
        .sum()
}

pub fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `keepsake <args>` (a backup into `repo` of more than `read_first` bytes of snapshot)
/// and kills it with SIGKILL midway, deterministically: its traffic goes through a [`Gate`],
/// closed once the run holds the repository lock and `read_first` bytes of replies have
/// passed, so the rest of its reads never arrive and it cannot finish whatever the machine's
/// speed. Asserts that it ended killed.
///
/// The sample module's bulk data compresses well, so with a 50 MB fill rustic_core writes its
/// only data pack at the end of the pass (measured: 78 MB of replies in all, the first pack
/// file after the last read): the kill lands while the snapshot streams, before any pack.
pub fn kill_mid_backup(env: &Env, repo: &Path, args: &[&str], read_first: u64) {
    let gate = Gate::start(&env.server.url());
    let mut run = background(env, gate.url(), args);
    wait_for("the run's lock", Duration::from_secs(120), || {
        !locks(repo).is_empty()
    });
    wait_for("the run's first reads", Duration::from_secs(120), || {
        gate.downstream_bytes() >= read_first
    });
    gate.close();
    if let Some(status) = run.try_wait().unwrap() {
        let out = run.wait_with_output().unwrap();
        panic!(
            "the run ended ({status}) with its reads held: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    run.kill().unwrap();
    let status = run.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(9),
        "the run ended before it was killed: {status:?}"
    );
}
