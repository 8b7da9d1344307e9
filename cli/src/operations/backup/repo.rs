//! Where a backup repository is and how it is opened: `--repo` (a local folder through
//! rustic_backend's local backend, or `s3://bucket/prefix` through ours on OpenDAL, `s3`), the
//! password (never written anywhere), and the errors a person can act on (no repository there,
//! not a restic repository, wrong password, an S3 endpoint down or refusing).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use bytesize::ByteSize;
use rustic_backend::LocalBackend;
use rustic_core::{
    ConfigOptions, Credentials, FileType, KeyOptions, OpenStatus, Repository, RepositoryBackends,
    RepositoryOptions, RusticError, WriteBackend,
};

use super::lock::{self, LOCK_DIR, LockKind, RepoLock};
use super::progress::Bars;
use super::s3::S3Backend;
use crate::error::usage;

/// Retries of a failed request to S3 (OpenDAL's exponential backoff: 1, 2, 4 s).
const S3_RETRIES: usize = 3;
/// How long connecting to an S3 endpoint may take before it counts as unreachable.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The environment variable holding the password.
pub const PASSWORD_ENV: &str = "KEEPSAKE_REPO_PASSWORD";

/// A repository location as given on the command line.
#[derive(Debug, Clone)]
pub struct RepoSpec {
    /// `--repo`: a local path or `s3://bucket/prefix`.
    pub repo: String,
    /// `--s3-endpoint` (path-style addressing when given).
    pub s3_endpoint: Option<String>,
    /// `--s3-region`.
    pub s3_region: Option<String>,
    /// Where rustic_core caches (encrypted) index and snapshot files.
    pub cache_dir: Option<PathBuf>,
    /// Draw rustic_core's progress bars (on a terminal, without `--json`).
    pub progress: bool,
}

/// Where the repository is, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local folder.
    Local(PathBuf),
    /// An S3 bucket and a prefix in it.
    S3 {
        /// The bucket.
        bucket: String,
        /// The prefix (may be empty).
        prefix: String,
    },
}

impl RepoSpec {
    /// The same, drawing rustic_core's progress bars when `show`.
    pub fn with_progress(mut self, show: bool) -> Self {
        self.progress = show;
        self
    }

    /// Parses `--repo`.
    pub fn location(&self) -> Result<Location> {
        if let Some(rest) = self.repo.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(usage(format!(
                    "--repo {}: no bucket; write s3://<bucket>/<prefix>",
                    self.repo
                )));
            }
            return Ok(Location::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            });
        }
        if let Some((scheme, _)) = self.repo.split_once("://") {
            return Err(usage(format!(
                "--repo {}: the scheme {scheme}:// is not supported yet; use a local path or s3://bucket/prefix",
                self.repo
            )));
        }
        if self.repo.is_empty() {
            return Err(usage("--repo is empty"));
        }
        Ok(Location::Local(PathBuf::from(&self.repo)))
    }

    /// rustic_core's backend for this location: rustic_backend's local backend for a folder,
    /// ours (`s3`) for a bucket.
    fn backends(&self) -> Result<RepositoryBackends> {
        self.backends_at(None)
    }

    /// The backends for this location, or for the folder `sub` under its root (the lock).
    fn backends_at(&self, sub: Option<&str>) -> Result<RepositoryBackends> {
        let backend: Arc<dyn WriteBackend> = match self.location()? {
            Location::Local(path) => {
                let path = match sub {
                    Some(s) => path.join(s),
                    None => path,
                };
                Arc::new(
                    LocalBackend::new(path.display().to_string(), BTreeMap::new())
                        .map_err(|e| rustic_error(*e))
                        .with_context(|| format!("cannot use the repository {}", self.repo))?,
                )
            }
            Location::S3 { bucket, prefix } => {
                let mut o = BTreeMap::new();
                o.insert("bucket".to_string(), bucket);
                let root = match sub {
                    Some(s) if prefix.is_empty() => format!("/{s}"),
                    Some(s) => format!("/{prefix}/{s}"),
                    None => format!("/{prefix}"),
                };
                o.insert("root".to_string(), root);
                // Path-style addressing (`endpoint/bucket/key`) is OpenDAL's default, and what
                // MinIO, s3s-fs and most S3-compatible servers expect.
                if let Some(e) = &self.s3_endpoint {
                    o.insert("endpoint".to_string(), e.clone());
                }
                let region = self
                    .s3_region
                    .clone()
                    .or_else(|| std::env::var("AWS_REGION").ok())
                    .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
                    .unwrap_or_else(|| "us-east-1".to_string());
                o.insert("region".to_string(), region);
                // OpenDAL retries a failed request with exponential backoff from 1 s; 5 retries
                // (rustic's default) make a refusing server take over 30 s per request to
                // report. 3 retries (about 7 s) still ride out a transient glitch.
                Arc::new(
                    S3Backend::new(o, S3_RETRIES)
                        .map_err(|e| rustic_error(*e))
                        .with_context(|| format!("cannot use the repository {}", self.repo))?,
                )
            }
        };
        Ok(RepositoryBackends::new(backend, None))
    }

    fn repository(&self) -> Result<Repository<()>> {
        let mut opts = RepositoryOptions::default();
        match &self.cache_dir {
            Some(dir) => opts = opts.cache_dir(dir.clone()),
            None => opts = opts.no_cache(true),
        }
        self.reachable()?;
        let bars = Bars {
            show: self.progress,
        };
        Repository::new_with_progress(&opts, &self.backends()?, bars).map_err(|e| rustic_error(*e))
    }

    /// What to do when an S3 server answered a request with an error (after the retries).
    fn s3_hint(&self, e: anyhow::Error) -> anyhow::Error {
        match self.location() {
            Ok(Location::S3 { bucket, .. }) => e.context(format!(
                "the S3 server {} refused the request or failed: check AWS_ACCESS_KEY_ID / \
                 AWS_SECRET_ACCESS_KEY, that the bucket {bucket} exists, --s3-region, and that \
                 the server is healthy; nothing was written",
                self.s3_endpoint.as_deref().unwrap_or("(AWS)")
            )),
            _ => e,
        }
    }

    /// An S3 endpoint that does not accept connections fails here, at once, with what to do
    /// (instead of after OpenDAL's retries, with its request details).
    fn reachable(&self) -> Result<()> {
        let (Location::S3 { .. }, Some(endpoint)) = (self.location()?, &self.s3_endpoint) else {
            return Ok(());
        };
        let url = url::Url::parse(endpoint).map_err(|e| {
            usage(format!(
                "--s3-endpoint {endpoint} is not a URL ({e}); write it as http(s)://host[:port]"
            ))
        })?;
        let host = url.host_str().ok_or_else(|| {
            usage(format!(
                "--s3-endpoint {endpoint} has no host; write it as http(s)://host[:port]"
            ))
        })?;
        let port = url.port_or_known_default().unwrap_or(443);
        let addrs: Vec<std::net::SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(&(
            host, port,
        ))
        .with_context(|| {
            format!("cannot resolve the S3 endpoint {endpoint}: check --s3-endpoint and your DNS")
        })?
        .collect();
        let mut last = None;
        for a in &addrs {
            match std::net::TcpStream::connect_timeout(a, CONNECT_TIMEOUT) {
                Ok(_) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        let why = match last.as_ref().map(std::io::Error::kind) {
            Some(std::io::ErrorKind::ConnectionRefused) => "the connection was refused",
            Some(std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => {
                "it did not answer in time"
            }
            _ => "it cannot be reached",
        };
        bail!(
            "cannot connect to the S3 endpoint {endpoint} ({why}{}): check --s3-endpoint and that \
             the S3 server is running and reachable from here; nothing was read or written",
            last.map(|e| format!(": {e}")).unwrap_or_default()
        )
    }

    /// Takes keepsake's lock on the repository (see `lock`) for `command`, after checking
    /// that there is a repository (a lock must not create the folder of a mistyped `--repo`).
    pub fn lock(&self, kind: LockKind, command: &str) -> Result<RepoLock> {
        lock::off_the_runtime(|| self.lock_blocking(kind, command))
    }

    fn lock_blocking(&self, kind: LockKind, command: &str) -> Result<RepoLock> {
        self.ensure_repository()?;
        if let Location::Local(path) = self.location()? {
            let dir = path.join(LOCK_DIR).join(FileType::Snapshot.dirname());
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let backend = self.backends_at(Some(LOCK_DIR))?.repository();
        lock::acquire(backend, &self.repo, kind, command)
    }

    /// Is there a restic repository at this location? (An error that says what to do if not.)
    fn ensure_repository(&self) -> Result<Repository<()>> {
        if let Location::Local(path) = self.location()?
            && !path.exists()
        {
            bail!(
                "there is no backup repository at {}; create one with `keepsake backup init --repo {}`",
                path.display(),
                self.repo
            );
        }
        let repo = self.repository()?;
        let config = repo
            .config_id()
            .map_err(|e| rustic_error(*e))
            .map_err(|e| self.s3_hint(e))
            .with_context(|| format!("cannot read the repository {}", self.repo))?;
        if config.is_none() {
            // OpenDAL lists a missing bucket as empty, so the bucket is named as a suspect.
            let what = match self.location()? {
                Location::S3 { bucket, .. } => format!(
                    "no restic config file there; check that the bucket {bucket} exists and the prefix is right"
                ),
                Location::Local(_) => "it has no restic config file; check --repo".to_string(),
            };
            bail!(
                "{} is not a backup repository ({what}), or create one with `keepsake backup init --repo {}`",
                self.repo,
                self.repo
            );
        }
        Ok(repo)
    }

    /// Opens an existing repository.
    pub fn open(&self, password: &Password) -> Result<Repository<OpenStatus>> {
        let repo = self.ensure_repository()?;
        repo.open(&password.credentials()).map_err(|e| {
            if e.is_incorrect_password() {
                anyhow!(
                    "wrong password for the repository {}: check {PASSWORD_ENV} or --password-file",
                    self.repo
                )
            } else {
                rustic_error(*e).context(format!("cannot open the repository {}", self.repo))
            }
        })
    }

    /// Creates a new repository (restic repository format version 2: compressed).
    pub fn init(&self, password: &Password) -> Result<Repository<OpenStatus>> {
        if let Location::Local(path) = self.location()? {
            let non_empty = path
                .read_dir()
                .map(|mut d| d.next().is_some())
                .unwrap_or(false);
            if non_empty && !path.join("config").exists() {
                bail!(
                    "{} exists and is not empty; choose an empty or new folder for the repository",
                    path.display()
                );
            }
        }
        let repo = self.repository()?;
        if repo
            .config_id()
            .map_err(|e| rustic_error(*e))
            .map_err(|e| self.s3_hint(e))
            .with_context(|| format!("cannot read the repository {}", self.repo))?
            .is_some()
        {
            bail!(
                "{} already holds a backup repository; use it as it is (nothing was changed)",
                self.repo
            );
        }
        repo.init(
            &password.credentials(),
            &KeyOptions::default(),
            &pack_sizes(),
        )
        .map_err(|e| rustic_error(*e))
        .with_context(|| format!("cannot create the repository {}", self.repo))
    }
}

/// Target size of a data pack in a new repository: restic's default (`--pack-size` 16 MiB),
/// not rustic_core's 32 MiB. rustic_core holds up to four packs in memory while it finishes,
/// hashes and writes them (its packer's pipeline), so the pack size sets most of a backup's
/// memory: measured at 1 GiB, peak RSS 208 MiB with 32 MiB packs (docs/BENCHMARKS.md).
const DATA_PACK_MIB: u64 = 16;
/// Upper bound of a data pack as the repository grows (rustic_core grows packs with the square
/// root of the repository's size; unbounded by default): memory stays flat for large repositories.
const DATA_PACK_LIMIT_MIB: u64 = 32;

/// The repository settings keepsake creates repositories with (stored in the repository's
/// config file; restic ignores the pack-size fields it does not know).
fn pack_sizes() -> ConfigOptions {
    let mut config = ConfigOptions::default();
    config.set_datapack_size = Some(ByteSize::mib(DATA_PACK_MIB));
    config.set_datapack_size_limit = Some(ByteSize::mib(DATA_PACK_LIMIT_MIB));
    config
}

/// rustic_core's error as an anyhow error with its text (and no backtrace noise).
pub fn rustic_error(e: RusticError) -> anyhow::Error {
    anyhow!("{}", e.display_log())
}

/// The repository password. Its `Debug` never shows it.
#[derive(Clone)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

impl Password {
    /// `--password-file`, else `KEEPSAKE_REPO_PASSWORD`, else a prompt on the terminal (twice
    /// when `confirm`, for a new repository).
    pub fn resolve(file: Option<&Path>, confirm: bool) -> Result<Self> {
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the password file {}", path.display()))?;
            // Like restic: the first line, without its line break.
            let line = text.lines().next().unwrap_or("").to_string();
            if line.is_empty() {
                bail!("the password file {} is empty", path.display());
            }
            return Ok(Self(line));
        }
        if let Ok(p) = std::env::var(PASSWORD_ENV) {
            if p.is_empty() {
                bail!("{PASSWORD_ENV} is set but empty");
            }
            return Ok(Self(p));
        }
        if !std::io::stdin().is_terminal() {
            return Err(usage(format!(
                "the repository needs a password: set {PASSWORD_ENV}, or pass --password-file <file>, or run on a terminal to be asked"
            )));
        }
        let p = rpassword::prompt_password("Repository password: ")?;
        if p.is_empty() {
            return Err(usage("an empty password is not allowed"));
        }
        if confirm {
            let again = rpassword::prompt_password("Repeat the password: ")?;
            if again != p {
                return Err(usage("the passwords differ; nothing was created"));
            }
        }
        Ok(Self(p))
    }

    fn credentials(&self) -> Credentials {
        Credentials::password(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(repo: &str) -> RepoSpec {
        RepoSpec {
            repo: repo.into(),
            s3_endpoint: None,
            s3_region: None,
            cache_dir: None,
            progress: false,
        }
    }

    #[test]
    fn repo_locations_parse_to_a_folder_or_a_bucket_and_prefix() {
        assert_eq!(
            spec("/tmp/r").location().unwrap(),
            Location::Local("/tmp/r".into())
        );
        assert_eq!(
            spec("s3://b/some/prefix/").location().unwrap(),
            Location::S3 {
                bucket: "b".into(),
                prefix: "some/prefix".into()
            }
        );
        assert_eq!(
            spec("s3://b").location().unwrap(),
            Location::S3 {
                bucket: "b".into(),
                prefix: String::new()
            }
        );
        assert!(spec("s3:///x").location().is_err());
        assert!(spec("ftp://x/y").location().is_err());
    }

    #[test]
    fn a_password_never_shows_in_debug_output() {
        let p = Password("hunter2".into());
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
