//! `keepsake backup restore <backup-id> --repo <R> --to <canister> [--load]
//! [--replace <snapshot-id>]`.

use anyhow::Result;
use clap::Args;

use super::RepoArgs;
use crate::config::parse_snapshot_id;
use crate::context::Ctx;
use crate::operations::backup::lock::LockKind;
use crate::operations::backup::restore::{RestoreOptions, restore};
use crate::operations::store::{IcStore, RetryPolicy};
use crate::output;

/// Upload a backup from the repository into a canister as a new snapshot (streamed: nothing
/// is written to local disk), and with --load stop the canister, load it and start it again.
///
/// Any canister the identity controls will do: the same one, a fresh one, one on another
/// network. Every file is checked against keepsake.json before the snapshot is loaded.
#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The backup (its id from `backup list`; a unique prefix is enough).
    pub backup: String,
    #[command(flatten)]
    pub repo: RepoArgs,
    /// The canister to upload to (a canister id or a module name).
    #[arg(long)]
    pub to: String,
    /// Then stop the canister, load the snapshot and start it again. Destructive.
    #[arg(long)]
    pub load: bool,
    /// Replace this snapshot of the canister (hex) instead of adding one.
    #[arg(long)]
    pub replace: Option<String>,
    /// Uploads in flight (1 to 64).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &RestoreArgs) -> Result<()> {
    let spec = args.repo.spec().with_progress(ctx.show_progress());
    let password = args.repo.password(false)?;
    let replace = args.replace.as_deref().map(parse_snapshot_id).transpose()?;
    let (canister, _) = crate::commands::export::resolve_target(ctx, &args.to, false).await?;
    // A restore reads; it may run next to a backup, not next to a forget.
    let _lock = spec.lock(LockKind::Restore, "keepsake backup restore")?;
    if args.load {
        ctx.confirm(&format!(
            "This replaces the state of canister {canister} with backup {}",
            args.backup
        ))?;
    }
    let agent = ctx.agent().await?;
    let store = IcStore::new(agent, canister);
    let opts = RestoreOptions {
        replace,
        concurrency: args.concurrency as usize,
        retry: RetryPolicy::default(),
        load: args.load,
    };
    if !ctx.json() {
        output::note(&format!(
            "Restoring backup {} from {} into {canister}",
            args.backup, spec.repo
        ));
    }
    let bar = output::byte_bar(ctx.show_progress(), 0, "restore");
    let summary = restore(&spec, password, &args.backup, &store, &opts, &bar).await?;
    if ctx.json() {
        return output::json(&summary);
    }
    output::println(&format!(
        "Uploaded backup {} (snapshot {} of {}) to {} as snapshot {} ({}){}",
        &summary.backup_id[..8],
        summary.origin.snapshot_id,
        summary.origin.canister_id,
        summary.canister_id,
        summary.snapshot_id,
        output::bytes(summary.uploaded_bytes),
        if summary.load.is_some() {
            "; loaded and started"
        } else {
            ""
        }
    ));
    Ok(())
}
