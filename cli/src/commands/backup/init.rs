//! `keepsake backup init --repo <R>`.

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use super::RepoArgs;
use crate::context::Ctx;
use crate::output;

/// Create a backup repository: restic's format (version 2, compressed), encrypted with the
/// password. Keep the password: without it the backups cannot be read.
#[derive(Args, Debug)]
pub struct InitArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
}

#[derive(Serialize)]
struct Initialized {
    repo: String,
    repository_id: String,
    version: u32,
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &InitArgs) -> Result<()> {
    let spec = args.repo.spec();
    let password = args.repo.password(true)?;
    let s = spec.clone();
    let repo = tokio::task::spawn_blocking(move || s.init(&password)).await??;
    let config = repo.config();
    let done = Initialized {
        repo: spec.repo.clone(),
        repository_id: config.id.to_hex().as_str().to_string(),
        version: config.version,
    };
    if ctx.json() {
        return output::json(&done);
    }
    output::println(&format!(
        "Created backup repository {} (restic format version {}, id {})",
        done.repo, done.version, done.repository_id
    ));
    Ok(())
}
