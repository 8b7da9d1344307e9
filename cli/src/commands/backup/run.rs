//! `keepsake backup run <module-or-canister-id> --repo <R> [--snapshot <id> | --take]
//! [--concurrency N]`.

use anyhow::{Result, anyhow};
use clap::Args;

use super::RepoArgs;
use crate::commands::export::resolve_target;
use crate::config::parse_snapshot_id;
use crate::context::Ctx;
use crate::operations::backup::run::run;
use crate::operations::backup::source::IcSnapshot;
use crate::operations::backup::tags::Origin;
use crate::operations::store::{IcStore, RetryPolicy, SnapshotStore as _, retry};
use crate::output;

/// Back up a snapshot into the repository, streamed from the management canister (no copy on
/// local disk): the files `export` writes, as one restic snapshot tagged with the module,
/// canister, snapshot, when it was taken, the orchestrator and the network.
///
/// The identity must be a controller of the canister. Running it again for a snapshot the
/// repository already holds changes nothing.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The module (orchestrator name) or canister id.
    pub target: String,
    #[command(flatten)]
    pub repo: RepoArgs,
    /// The snapshot id (hex); default: the newest snapshot of the canister.
    #[arg(long, conflicts_with = "take")]
    pub snapshot: Option<String>,
    /// Take a new snapshot first (through the orchestrator for a module, directly otherwise).
    #[arg(long)]
    pub take: bool,
    /// Reads in flight per file being backed up (1 to 64).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &RunArgs) -> Result<()> {
    let spec = args.repo.spec().with_progress(ctx.show_progress());
    // The password first: a wrong setup fails before anything is taken or read.
    let password = args.repo.password(false)?;
    let explicit = args
        .snapshot
        .as_deref()
        .map(parse_snapshot_id)
        .transpose()?;
    let (canister, module) = resolve_target(ctx, &args.target, true).await?;
    let agent = ctx.agent().await?;
    let store = IcStore::new(agent, canister);
    let policy = RetryPolicy::default();
    let snapshot = if let Some(id) = explicit {
        id
    } else if args.take {
        match &module {
            Some(name) => ctx
                .orchestrator()
                .await?
                .take_snapshot(name, Some("backup".into()))
                .await?
                .id
                .into_vec(),
            None => {
                // A canister the orchestrator does not manage: stop, take, start (always).
                retry(policy, || store.stop()).await?;
                let taken = retry(policy, || store.take()).await;
                retry(policy, || store.start()).await?;
                taken?.id
            }
        }
    } else {
        retry(policy, || store.list())
            .await?
            .into_iter()
            .max_by_key(|s| s.taken_at_timestamp)
            .map(|s| s.id)
            .ok_or_else(|| {
                anyhow!("canister {canister} has no snapshot; take one with --take (or `keepsake snapshot take <module>`)")
            })?
    };
    let network = ctx.network()?;
    let orchestrator_id = if module.is_some() {
        ctx.orchestrator().await.ok().map(|o| o.id.to_text())
    } else {
        None
    };
    let taken_at = retry(policy, || store.list())
        .await?
        .into_iter()
        .find(|s| s.id == snapshot)
        .map(|s| output::time(s.taken_at_timestamp))
        .ok_or_else(|| {
            anyhow!(
                "canister {canister} has no snapshot {}; `keepsake snapshot list` shows them",
                hex::encode(&snapshot)
            )
        })?;
    let origin = Origin {
        module,
        canister_id: canister.to_text(),
        snapshot_id: hex::encode(&snapshot),
        taken_at,
        orchestrator_id,
        network: network.name.clone().unwrap_or(network.url.clone()),
    };
    if !ctx.json() {
        output::note(&format!(
            "Backing up snapshot {} of {canister} to {}",
            origin.snapshot_id, spec.repo
        ));
    }
    let from = IcSnapshot {
        agent: agent.clone(),
        canister,
        snapshot,
        runtime: tokio::runtime::Handle::current(),
        concurrency: args.concurrency as usize,
        retry: policy,
        // rustic_core's archive bar counts the same bytes as they reach the repository.
        progress: output::byte_bar(false, 0, "backup"),
    };
    let bar = from.progress.clone();
    let summary = run(&spec, password, from, origin).await?;
    bar.finish_and_clear();
    if ctx.json() {
        return output::json(&summary);
    }
    if summary.already_present {
        output::println(&format!(
            "Backup {} already holds snapshot {} of {}; nothing to do",
            summary.backup_id, summary.origin.snapshot_id, summary.origin.canister_id
        ));
    } else {
        output::println(&format!(
            "Backed up snapshot {} of {} as {}: {} in {} files, the repository grew by {}",
            summary.origin.snapshot_id,
            summary.origin.canister_id,
            summary.backup_id,
            output::bytes(summary.total_bytes),
            summary.files.len() + 1,
            output::bytes(summary.added_bytes)
        ));
    }
    Ok(())
}
