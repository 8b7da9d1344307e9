//! `keepsake export <module-or-canister-id> --out <dir> [--snapshot <id>] [--take]
//! [--concurrency N]`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use candid::Principal;
use clap::Args;

use crate::config::parse_snapshot_id;
use crate::context::Ctx;
use crate::operations::export::{ExportOptions, ExportSummary, export_into};
use crate::operations::layout::READ_SLICE;
use crate::operations::orchestrator::Answered;
use crate::operations::partial::Partial;
use crate::operations::store::{IcStore, RetryPolicy, SnapshotStore as _, retry};
use crate::operations::timings::Timings;
use crate::output;

/// Download a snapshot to a folder, straight from the management canister.
///
/// The identity must be a controller of the canister. The folder has the layout dfx and
/// icp-cli write (`dfx canister snapshot upload` / `icp canister snapshot upload` accept it)
/// plus keepsake.json with the size and sha256 of every file. Data goes to `<out>.partial`
/// first; running the same command after an interruption resumes it. `--out` must not exist
/// (not even as a link), `<out>.partial` must be a folder an earlier export of it left (never a
/// link), and only one export at a time writes it (a lock file in it). With the environment
/// variable KEEPSAKE_TIMINGS=1 it prints where the time went (hashing, writes, fsync) on stderr.
#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The module (orchestrator name) or canister id.
    pub target: String,
    /// The folder to create (must not exist).
    #[arg(long)]
    pub out: PathBuf,
    /// The snapshot id (hex); default: the newest snapshot of the canister.
    #[arg(long, conflicts_with = "take")]
    pub snapshot: Option<String>,
    /// Take a new snapshot first (through the orchestrator for a module, directly otherwise).
    #[arg(long)]
    pub take: bool,
    /// Reads in flight (1 to 64). A replica answers in rounds about a second apart, so the
    /// throughput grows with this until the subnet's per-round budget; memory is at most
    /// 1.5 × this × 2 MB of slices (docs/BENCHMARKS.md, issue 16).
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

/// A module name or canister id resolved to the canister (and its module name, if known).
pub async fn resolve_target(
    ctx: &Ctx,
    target: &str,
    want_module: bool,
) -> Result<(Principal, Option<String>)> {
    match Principal::from_text(target) {
        Ok(p) if !want_module => Ok((p, None)),
        Ok(p) => {
            // A registered canister is snapshotted through the orchestrator; a bare one directly.
            let name = match ctx.orchestrator().await {
                Ok(orch) => orch
                    .list_modules()
                    .await
                    .answered()
                    .ok()
                    .and_then(|ms| ms.into_iter().find(|m| m.canister_id == p).map(|m| m.name)),
                Err(_) => None,
            };
            Ok((p, name))
        }
        Err(_) => {
            let m = ctx
                .orchestrator()
                .await?
                .resolve(target)
                .await
                .with_context(|| {
                    format!("{target:?} is not a canister id, so it must be a module name")
                })?;
            Ok((m.canister_id, Some(m.name)))
        }
    }
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &ExportArgs) -> Result<()> {
    let started = Instant::now();
    let explicit = args
        .snapshot
        .as_deref()
        .map(parse_snapshot_id)
        .transpose()?;
    // Before any call (and before --take takes anything): --out, <out>.partial, the lock.
    let claim = Partial::claim(&args.out)?;
    let (canister, module) = resolve_target(ctx, &args.target, args.take).await?;
    let agent = ctx.agent().await?;
    let store = IcStore::new(agent, canister);
    let policy = RetryPolicy::default();

    // Which snapshot: an interrupted export of this folder wins, then --snapshot, --take, newest.
    let resume = claim.pending().cloned().filter(|h| {
        h.canister_id == canister.to_text()
            && explicit
                .as_ref()
                .is_none_or(|id| hex::encode(id) == h.snapshot_id)
    });
    // A folder of another export is never mixed in; say so before --take takes anything.
    if resume.is_none()
        && let Some(h) = claim.pending()
    {
        anyhow::bail!(
            "{} holds an interrupted export of snapshot {} of {}; resume it with `keepsake export {} \
             --out {} --snapshot {}`, or remove that folder to start over",
            claim.dir.display(),
            h.snapshot_id,
            h.canister_id,
            h.canister_id,
            args.out.display(),
            h.snapshot_id
        );
    }
    let snapshot = if let Some(h) = resume {
        if !ctx.json() {
            output::note(&format!(
                "Resuming the interrupted export of snapshot {}",
                h.snapshot_id
            ));
        }
        hex::decode(&h.snapshot_id)?
    } else if let Some(id) = explicit {
        id
    } else if args.take {
        match &module {
            Some(name) => {
                let orch = ctx.orchestrator().await?;
                orch.take_labelled(name, "export").await?.id.into_vec()
            }
            None => {
                // A canister the orchestrator does not manage: stop, take, start (always).
                retry(policy, || store.stop()).await?;
                let taken = retry(policy, || store.take()).await;
                retry(policy, || store.start()).await?;
                taken?.id
            }
        }
    } else {
        let list = retry(policy, || store.list()).await?;
        list.into_iter()
            .max_by_key(|s| s.taken_at_timestamp)
            .map(|s| s.id)
            .ok_or_else(|| {
                anyhow!(
                    "canister {canister} has no snapshot; take one with --take (or `keepsake snapshot take <module>`)"
                )
            })?
    };
    if !ctx.json() {
        output::note(&format!(
            "Exporting snapshot {} of {canister} to {}",
            hex::encode(&snapshot),
            args.out.display()
        ));
    }
    let bar = output::byte_bar(ctx.show_progress(), 0, "export");
    let opts = ExportOptions {
        out: args.out.clone(),
        concurrency: args.concurrency as usize,
        slice: READ_SLICE,
        retry: policy,
        timings: Arc::default(),
    };
    let setup = started.elapsed();
    let summary: ExportSummary = export_into(&store, &snapshot, &opts, claim, &bar).await?;
    if Timings::wanted() {
        output::note(&opts.timings.report(started.elapsed(), setup));
    }
    if ctx.json() {
        return output::json(&summary);
    }
    output::println(&format!(
        "Exported snapshot {} of {} to {}: {} in {} files ({} downloaded, {} resumed)",
        summary.snapshot_id,
        summary.canister_id,
        summary.out.display(),
        output::bytes(summary.total_bytes),
        summary.files.len(),
        output::bytes(summary.transferred_bytes),
        output::bytes(summary.resumed_bytes)
    ));
    Ok(())
}
