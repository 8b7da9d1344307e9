//! `keepsake backup …`: off-chain backups of snapshots into a restic repository (a local
//! folder, S3, WebDAV, SFTP or Azure Blob), listed and restored from there.

pub mod check;
pub mod forget;
mod group;
pub mod init;
pub mod list;
pub mod restore;
pub mod run;
pub mod sync;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::context::Ctx;
use crate::operations::backup::repo::{Password, RepoSpec};

/// Backup commands.
#[derive(Subcommand, Debug)]
pub enum BackupCommand {
    /// Create a backup repository (restic format, encrypted with a password).
    Init(init::InitArgs),
    /// Back up a snapshot of a module or canister (or of every module, --all; or a group
    /// snapshot as one backup, --group) into the repository, streamed from the IC.
    Run(run::RunArgs),
    /// Back up every snapshot the orchestrator holds that the repository lacks (run it from a
    /// timer).
    Sync(sync::SyncArgs),
    /// List the backups in the repository, newest first, optionally of one module.
    List(list::ListArgs),
    /// Upload a backup into a canister as a new snapshot (a group backup into every member),
    /// and optionally load it.
    Restore(restore::RestoreArgs),
    /// Remove the backups a retention policy does not keep (--keep-*), then optionally prune.
    Forget(forget::ForgetArgs),
    /// Check the repository for damage (with --read-data, every pack's contents too).
    Check(check::CheckArgs),
}

/// Where the repository is and how to unlock it (every backup command takes these).
#[derive(Args, Debug, Clone)]
pub struct RepoArgs {
    /// The repository: a local folder; s3://<bucket>/<prefix> (credentials from
    /// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN);
    /// webdav://[<user>@]<host>[:<port>]/<path> (webdavs:// for HTTPS; KEEPSAKE_WEBDAV_USER /
    /// KEEPSAKE_WEBDAV_PASSWORD); sftp://[<user>@]<host>[:<port>]/<absolute path> (the system
    /// ssh, --sftp-key, the host in known_hosts); azblob://<container>/<prefix>
    /// (AZURE_STORAGE_ACCOUNT / AZURE_STORAGE_KEY).
    #[arg(long, env = "KEEPSAKE_REPO", value_name = "R")]
    pub repo: String,
    /// A file whose first line is the password. Default: KEEPSAKE_REPO_PASSWORD, else a
    /// prompt on the terminal.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// The S3 endpoint (an S3-compatible server; addressed path-style).
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// The S3 region (default: AWS_REGION, else us-east-1).
    #[arg(long, value_name = "REGION")]
    pub s3_region: Option<String>,
    /// The Azure Blob endpoint (default: https://<AZURE_STORAGE_ACCOUNT>.blob.core.windows.net;
    /// an emulator: http://127.0.0.1:10000/<account>).
    #[arg(long, value_name = "URL")]
    pub azure_endpoint: Option<String>,
    /// The SSH private key for sftp:// (default: KEEPSAKE_SFTP_KEY, else ssh's own
    /// configuration and agent).
    #[arg(long, value_name = "FILE")]
    pub sftp_key: Option<PathBuf>,
}

impl RepoArgs {
    /// The repository's location.
    pub fn spec(&self) -> RepoSpec {
        RepoSpec {
            repo: self.repo.clone(),
            s3_endpoint: self.s3_endpoint.clone(),
            s3_region: self.s3_region.clone(),
            azure_endpoint: self.azure_endpoint.clone(),
            sftp_key: self.sftp_key.clone(),
            cache_dir: Some(cache_dir()),
            progress: false,
        }
    }

    /// The password (asked twice on a terminal when `confirm`).
    pub fn password(&self, confirm: bool) -> Result<Password> {
        Password::resolve(self.password_file.as_deref(), confirm)
    }
}

/// rustic_core's cache of (encrypted) repository files: `$KEEPSAKE_CACHE_DIR/repositories`,
/// else the user's cache folder.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("KEEPSAKE_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| dirs::cache_dir().map(|d| d.join("keepsake")))
        .unwrap_or_else(std::env::temp_dir)
        .join("repositories")
}

/// Runs a backup command.
pub async fn exec(ctx: &Ctx, c: BackupCommand) -> Result<()> {
    match c {
        BackupCommand::Init(a) => init::exec(ctx, &a).await,
        BackupCommand::Run(a) => run::exec(ctx, &a).await,
        BackupCommand::List(a) => list::exec(ctx, &a).await,
        BackupCommand::Restore(a) => restore::exec(ctx, &a).await,
        BackupCommand::Sync(a) => sync::exec(ctx, &a).await,
        BackupCommand::Forget(a) => forget::exec(ctx, &a).await,
        BackupCommand::Check(a) => check::exec(ctx, &a).await,
    }
}
