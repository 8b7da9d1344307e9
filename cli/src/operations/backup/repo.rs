//! Where a backup repository is and how it is opened: `--repo` (a local folder, or
//! `s3://bucket/prefix` through rustic_backend's OpenDAL backend), the password (never
//! written anywhere), and the errors a person can act on (no repository there, not a restic
//! repository, wrong password).

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use rustic_backend::BackendOptions;
use rustic_core::{
    ConfigOptions, Credentials, FileType, KeyOptions, OpenStatus, Repository, RepositoryBackends,
    RepositoryOptions, RusticError,
};

use super::lock::{self, LOCK_DIR, LockKind, RepoLock};
use crate::error::usage;

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

    /// rustic_backend's backends for this location.
    fn backends(&self) -> Result<RepositoryBackends> {
        self.backends_at(None)
    }

    /// rustic_backend's backends for this location, or for the folder `sub` under its root.
    fn backends_at(&self, sub: Option<&str>) -> Result<RepositoryBackends> {
        let (repository, options) = match self.location()? {
            Location::Local(path) => {
                let path = match sub {
                    Some(s) => path.join(s),
                    None => path,
                };
                (format!("local:{}", path.display()), BTreeMap::new())
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
                ("opendal:s3".to_string(), o)
            }
        };
        BackendOptions::default()
            .repository(repository)
            .options(options)
            .to_backends()
            .map_err(|e| rustic_error(*e))
            .with_context(|| format!("cannot use the repository {}", self.repo))
    }

    fn repository(&self) -> Result<Repository<()>> {
        let mut opts = RepositoryOptions::default();
        match &self.cache_dir {
            Some(dir) => opts = opts.cache_dir(dir.clone()),
            None => opts = opts.no_cache(true),
        }
        Repository::new(&opts, &self.backends()?).map_err(|e| rustic_error(*e))
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
        if repo.config_id().map_err(|e| rustic_error(*e))?.is_some() {
            bail!(
                "{} already holds a backup repository; use it as it is (nothing was changed)",
                self.repo
            );
        }
        repo.init(
            &password.credentials(),
            &KeyOptions::default(),
            &ConfigOptions::default(),
        )
        .map_err(|e| rustic_error(*e))
        .with_context(|| format!("cannot create the repository {}", self.repo))
    }
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
