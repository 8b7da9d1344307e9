//! `keepsake import <dir> --to <module-or-canister-id> [--replace <id>] [--restore]`.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use crate::commands::export::resolve_target;
use crate::commands::verify::print_report;
use crate::config::parse_snapshot_id;
use crate::context::Ctx;
use crate::error::Reported;
use crate::operations::import::{ImportOptions, ImportSummary, RestoreSteps, import, restore};
use crate::operations::store::{IcStore, RetryPolicy};
use crate::operations::verify::verify_dir;
use crate::output;

/// Upload an export folder as a new snapshot of a canister (the same one, or another to clone
/// it or recover into a fresh canister), and optionally restore it.
///
/// The folder is verified first; a tampered or incomplete one is refused, and so is one without
/// keepsake.json (a dfx or icp-cli download) unless --no-manifest is given. Every file is hashed
/// again as it is read for upload; if anything changed since it was verified, the import fails
/// and nothing is loaded. The identity must be a controller of the target. An interrupted import
/// resumes when run again.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The export folder.
    pub dir: PathBuf,
    /// The target: a module (orchestrator name) or a canister id.
    #[arg(long)]
    pub to: String,
    /// Replace this snapshot of the target (hex id) instead of adding one. Asks for confirmation.
    #[arg(long)]
    pub replace: Option<String>,
    /// Then stop the target, load the new snapshot and start it again. Asks for confirmation.
    #[arg(long)]
    pub restore: bool,
    /// Import a folder that has no keepsake.json (e.g. written by dfx or icp-cli). Then the
    /// contents of metadata.json, wasm_module.bin, wasm_memory.bin and stable_memory.bin are NOT
    /// verified against any hash: only their sizes against metadata.json (and each chunk against
    /// its name) are checked. Use it only for a folder you trust.
    #[arg(long)]
    pub no_manifest: bool,
    /// Uploads in flight (1 to 64).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

/// `--json` output.
#[derive(Serialize)]
struct ImportView {
    #[serde(flatten)]
    summary: ImportSummary,
    /// Present with --restore.
    restore: Option<RestoreSteps>,
}

/// Where import journals live: `$KEEPSAKE_CACHE_DIR`, else the user's cache folder.
fn journal_dir() -> PathBuf {
    std::env::var_os("KEEPSAKE_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| dirs::cache_dir().map(|d| d.join("keepsake")))
        .unwrap_or_else(std::env::temp_dir)
        .join("imports")
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &ImportArgs) -> Result<()> {
    if !args.dir.is_dir() {
        return Err(crate::error::usage(format!(
            "{} is not a folder",
            args.dir.display()
        )));
    }
    let replace = args.replace.as_deref().map(parse_snapshot_id).transpose()?;
    // 1. Verify before anything touches the network.
    let report = verify_dir(&args.dir);
    let unchecked_allowed = args.no_manifest && report.ok_but_for_the_manifest();
    if !report.ok && !unchecked_allowed {
        if ctx.json() {
            output::json(&report)?;
        } else {
            print_report(&report);
        }
        let hint = if report.ok_but_for_the_manifest() {
            ": it has no keepsake.json, so its contents cannot be checked; pass --no-manifest to \
             import it anyway (sizes only are checked)"
        } else {
            ""
        };
        return Err(Reported(format!(
            "refusing to import {}: it did not verify ({} problem(s)){hint}",
            args.dir.display(),
            report.problems.len()
        ))
        .into());
    }
    if !ctx.json() {
        if unchecked_allowed {
            output::note(
                "note: --no-manifest: no keepsake.json, so file contents are not verified against \
                 any hash; only sizes against metadata.json (and chunks against their names) were checked",
            );
        } else if args.no_manifest {
            output::note("note: --no-manifest: keepsake.json is present and was checked anyway");
        }
        for n in &report.notes {
            output::note(&format!("note: {n}"));
        }
    }
    let (canister, _) = resolve_target(ctx, &args.to, false).await?;
    if let Some(id) = &args.replace {
        ctx.confirm(&format!(
            "Import over snapshot {id} of {canister}; that snapshot will be deleted"
        ))?;
    }
    if args.restore {
        ctx.confirm(&format!(
            "Import and restore into {canister}; its current state will be replaced"
        ))?;
    }
    // 2. Upload.
    let store = IcStore::new(ctx.agent().await?, canister);
    let total: u64 = report.files.iter().map(|f| f.size).sum();
    let bar = output::byte_bar(ctx.show_progress(), total, "import");
    let opts = ImportOptions {
        replace,
        concurrency: args.concurrency as usize,
        journal_dir: journal_dir(),
        retry: RetryPolicy::default(),
        no_manifest: args.no_manifest,
    };
    let summary = import(&store, &args.dir, &report, &opts, &bar).await?;
    if !ctx.json() {
        output::println(&format!(
            "Imported {} into {} as snapshot {} ({} uploaded, {} resumed)",
            args.dir.display(),
            summary.canister_id,
            summary.snapshot_id,
            output::bytes(summary.uploaded_bytes),
            output::bytes(summary.resumed_bytes)
        ));
    }
    // 3. Restore.
    let restored = if args.restore {
        let id = hex::decode(&summary.snapshot_id)?;
        let steps = restore(&store, &id, RetryPolicy::default()).await?;
        if !ctx.json() {
            output::println(&format!(
                "Restored {canister} to snapshot {} (stopped, loaded, started)",
                summary.snapshot_id
            ));
        }
        Some(steps)
    } else {
        None
    };
    if ctx.json() {
        output::json(&ImportView {
            summary,
            restore: restored,
        })?;
    }
    Ok(())
}
