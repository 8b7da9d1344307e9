//! `keepsake console [--port N] [--open] [--repo R [--password-file F]]`: the web console on
//! 127.0.0.1.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::commands::backup::cache_dir;
use crate::console::{self, ConsoleOptions};
use crate::context::Ctx;
use crate::operations::backup::repo::RepoSpec;

/// Open a web console on this machine: every module, its snapshots, schedules and upgrades.
///
/// Serves on 127.0.0.1 only and prints `console on http://127.0.0.1:<port>/?token=<random>` as
/// the first line of stdout; open that URL in a browser on this machine. The console talks to
/// the orchestrator with this command's --network, identity and --orchestrator; the identity's
/// key stays in this process. Stop it with Ctrl-C.
#[derive(Args, Debug)]
pub struct ConsoleArgs {
    /// The port on 127.0.0.1. Default: a free one chosen by the system.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Open the URL in the system's browser.
    #[arg(long)]
    pub open: bool,
    /// A backup repository (any `keepsake backup --repo`: a folder, s3://, webdav://, sftp://,
    /// azblob://) for the Backups page and the modules' last backup.
    #[arg(long, env = "KEEPSAKE_REPO", value_name = "R")]
    pub repo: Option<String>,
    /// A file whose first line is the repository's password. Default: KEEPSAKE_REPO_PASSWORD.
    /// Read once at start-up; the console never asks for it (nor does the browser).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// The S3 endpoint of the repository (an S3-compatible server; addressed path-style).
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// The S3 region of the repository (default: AWS_REGION, else us-east-1).
    #[arg(long, value_name = "REGION")]
    pub s3_region: Option<String>,
    /// The Azure Blob endpoint of the repository (as for `keepsake backup`).
    #[arg(long, value_name = "URL")]
    pub azure_endpoint: Option<String>,
    /// The SSH private key for an sftp:// repository (default: KEEPSAKE_SFTP_KEY, else ssh's
    /// own configuration and agent).
    #[arg(long, value_name = "FILE")]
    pub sftp_key: Option<PathBuf>,
}

/// Runs it until Ctrl-C.
pub async fn exec(ctx: &Ctx, args: &ConsoleArgs) -> Result<()> {
    console::serve(
        ctx,
        ConsoleOptions {
            port: args.port,
            open: args.open,
            repo: args.repo.as_ref().map(|repo| RepoSpec {
                repo: repo.clone(),
                s3_endpoint: args.s3_endpoint.clone(),
                s3_region: args.s3_region.clone(),
                azure_endpoint: args.azure_endpoint.clone(),
                sftp_key: args.sftp_key.clone(),
                cache_dir: Some(cache_dir()),
                progress: false,
            }),
            password_file: args.password_file.clone(),
        },
    )
    .await
}
