//! Where a backup repository is and how it is opened: `--repo` (a local folder through
//! rustic_backend's local backend, or a remote one — S3, WebDAV, SFTP, Azure Blob, parsed in
//! `schemes` — through ours on OpenDAL, `store`), the password (never written anywhere), and
//! the errors a person can act on (no repository there, not a restic repository, wrong
//! password, a server down or refusing).

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
pub use super::schemes::Location;
use super::store::StoreBackend;
use crate::error::usage;

/// Retries of a failed request to a remote repository (OpenDAL's exponential backoff: 1, 2,
/// 4 s).
const REMOTE_RETRIES: usize = 3;

/// The environment variable holding the password.
pub const PASSWORD_ENV: &str = "KEEPSAKE_REPO_PASSWORD";

/// A repository location as given on the command line.
#[derive(Debug, Clone)]
pub struct RepoSpec {
    /// `--repo`: a local path or a URL (`schemes`).
    pub repo: String,
    /// `--s3-endpoint` (path-style addressing when given).
    pub s3_endpoint: Option<String>,
    /// `--s3-region`.
    pub s3_region: Option<String>,
    /// `--azure-endpoint` (e.g. an Azurite emulator's `http://127.0.0.1:10000/<account>`).
    pub azure_endpoint: Option<String>,
    /// `--sftp-key`: the SSH private key file for `sftp://`.
    pub sftp_key: Option<PathBuf>,
    /// Where rustic_core caches (encrypted) index and snapshot files.
    pub cache_dir: Option<PathBuf>,
    /// Draw rustic_core's progress bars (on a terminal, without `--json`).
    pub progress: bool,
}

impl RepoSpec {
    /// The same, drawing rustic_core's progress bars when `show`.
    pub fn with_progress(mut self, show: bool) -> Self {
        self.progress = show;
        self
    }

    /// Parses `--repo`.
    pub fn location(&self) -> Result<Location> {
        super::schemes::parse(&self.repo)
    }

    /// rustic_core's backend for this location: rustic_backend's local backend for a folder,
    /// ours on OpenDAL (`store`) for anything remote.
    fn backends(&self) -> Result<RepositoryBackends> {
        self.backends_at(None)
    }

    /// The backends for this location, or for the folder `sub` under its root (the lock).
    fn backends_at(&self, sub: Option<&str>) -> Result<RepositoryBackends> {
        let backend: Arc<dyn WriteBackend> = match (self.location()?, self.service(sub)?) {
            (_, Some(svc)) => {
                // OpenDAL retries a failed request with exponential backoff from 1 s; 5 retries
                // (rustic's default) make a refusing server take over 30 s per request to
                // report. 3 retries (about 7 s) still ride out a transient glitch.
                Arc::new(
                    StoreBackend::new(svc.scheme, svc.options, REMOTE_RETRIES, svc.location)
                        .map_err(|e| rustic_error(*e))
                        .with_context(|| format!("cannot use the repository {}", self.repo))?,
                )
            }
            (Location::Local(path), None) => {
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
            (other, None) => bail!("no storage service for {other:?}"),
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
            .map_err(|e| self.refused_hint(e))
            .with_context(|| format!("cannot read the repository {}", self.repo))?;
        if config.is_none() {
            let what = self.no_config_hint()?;
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
            .map_err(|e| self.refused_hint(e))
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
        .map_err(|e| self.refused_hint(e))
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
/// A backup's id as keepsake shows it: the restic snapshot's id, hex.
pub fn backup_id(snap: &rustic_core::repofile::SnapshotFile) -> String {
    snap.id.to_hex().as_str().to_string()
}

/// The bytes a backup holds, from its summary (0 without one).
pub fn bytes_backed_up(snap: &rustic_core::repofile::SnapshotFile) -> u64 {
    snap.summary.as_ref().map_or(0, |s| s.total_bytes_processed)
}

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
            azure_endpoint: None,
            sftp_key: None,
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
