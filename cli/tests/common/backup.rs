//! What the backup test files share: the repository password, `keepsake` with it in the
//! environment, and an `s3s-fs` S3 server on a loopback port.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Env;

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
    assert!(
        out.status.success(),
        "keepsake {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
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
