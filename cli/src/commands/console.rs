//! `keepsake console [--port N] [--open] [--repo R]`: the web console on 127.0.0.1.

use anyhow::Result;
use clap::Args;

use crate::console::{self, ConsoleOptions};
use crate::context::Ctx;

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
    /// A backup repository (a folder or s3://bucket/prefix) for the Backups page.
    #[arg(long, env = "KEEPSAKE_REPO", value_name = "R")]
    pub repo: Option<String>,
}

/// Runs it until Ctrl-C.
pub async fn exec(ctx: &Ctx, args: &ConsoleArgs) -> Result<()> {
    console::serve(
        ctx,
        ConsoleOptions {
            port: args.port,
            open: args.open,
            repo: args.repo.clone(),
        },
    )
    .await
}
