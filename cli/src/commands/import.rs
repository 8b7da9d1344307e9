//! `keepsake import <dir> --to <module-or-canister-id> [--replace <id>] [--restore]`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::ProgressBar;
use orchestrator_api::{
    BeginImportArgs, FinishImportArgs, ImportError, OperationStep, StepOutcome,
};
use serde::Serialize;

use crate::commands::export::resolve_target;
use crate::commands::verify::print_report;
use crate::config::parse_snapshot_id;
use crate::context::Ctx;
use crate::error::Reported;
use crate::operations::import::{
    ImportOptions, ImportSummary, RestoreSteps, forget, import, journal_path, leftover_note,
    restore, resumable,
};
use crate::operations::orchestrator::Answered;
use crate::operations::orchestrator::Orchestrator;
use crate::operations::store::{IcStore, RetryPolicy, SnapshotStore};
use crate::operations::verify::{VerifyReport, verify_dir};
use crate::output;

/// Upload an export folder as a new snapshot of a canister (the same one, or another to clone
/// it or recover into a fresh canister), and optionally restore it.
///
/// The folder is verified first; a tampered or incomplete one is refused, and so is one without
/// keepsake.json (a dfx or icp-cli download) unless --no-manifest is given. Every file is hashed
/// again as it is read for upload; if anything changed since it was verified, the import fails
/// and nothing is loaded. The identity must be a controller of the target. Into a registered
/// module, the import goes through the orchestrator: it waits for no other operation (a busy
/// module is refused), never replaces a pinned snapshot, and appears in `keepsake history`. An
/// interrupted import resumes when run again, and a rerun after a failed load loads the
/// uploaded snapshot without uploading it again.
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
    /// The registered module it went to, through the orchestrator (none: a bare canister).
    module: Option<String>,
    /// The orchestrator's history entry of the import (modules only).
    operation_id: Option<u64>,
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

/// How often a running import renews its lease on the module (the lease lasts 30 minutes).
const RENEW_EVERY: Duration = Duration::from_secs(5 * 60);

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
    // A registered module (by name, or by a canister id the orchestrator knows) is imported
    // through the orchestrator: its lock, pins and history. Anything else directly.
    let (canister, module) = resolve_target(ctx, &args.to, true).await?;
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
    // 2. Upload, then (--restore) load.
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
    let view = match module {
        Some(name) => into_module(ctx, args, &store, &report, &opts, &bar, name).await?,
        None => into_canister(ctx, args, &store, &report, &opts, &bar).await?,
    };
    if ctx.json() {
        output::json(&view)?;
    }
    Ok(())
}

fn print_uploaded(ctx: &Ctx, args: &ImportArgs, summary: &ImportSummary) {
    if ctx.json() {
        return;
    }
    if summary.uploaded_bytes == 0 && summary.resumed_bytes > 0 {
        output::println(&format!(
            "Reusing snapshot {} of {}, uploaded from {} by an earlier run (nothing uploaded again)",
            summary.snapshot_id,
            summary.canister_id,
            args.dir.display()
        ));
    } else {
        output::println(&format!(
            "Imported {} into {} as snapshot {} ({} uploaded, {} resumed)",
            args.dir.display(),
            summary.canister_id,
            summary.snapshot_id,
            output::bytes(summary.uploaded_bytes),
            output::bytes(summary.resumed_bytes)
        ));
    }
}

/// A canister the orchestrator does not manage: upload and load directly (the identity
/// controls it).
async fn into_canister(
    ctx: &Ctx,
    args: &ImportArgs,
    store: &IcStore<'_>,
    report: &VerifyReport,
    opts: &ImportOptions,
    bar: &ProgressBar,
) -> Result<ImportView> {
    let canister = store.canister();
    let summary = import(store, &args.dir, report, opts, bar).await?;
    print_uploaded(ctx, args, &summary);
    let restored = if args.restore {
        let id = hex::decode(&summary.snapshot_id)?;
        let steps = restore(store, &id, RetryPolicy::default())
            .await
            .with_context(|| leftover_note(&canister.to_text(), None, &summary.snapshot_id))?;
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
    forget(&summary.journal)?;
    Ok(ImportView {
        summary,
        module: None,
        operation_id: None,
        restore: restored,
    })
}

/// A registered module: `begin_import` takes its lock as a lease (refusing a busy module or a
/// pinned `--replace`), this client uploads, `finish_import` records the snapshot and loads
/// it; a failed upload is `abort_import`ed. The lease's id is kept next to the journal, so a
/// rerun after a kill ends the old lease at once instead of waiting for it to lapse.
#[allow(clippy::too_many_arguments)]
async fn into_module(
    ctx: &Ctx,
    args: &ImportArgs,
    store: &IcStore<'_>,
    report: &VerifyReport,
    opts: &ImportOptions,
    bar: &ProgressBar,
    name: String,
) -> Result<ImportView> {
    let orch = ctx.orchestrator().await?;
    let canister = store.canister().to_text();
    let lease_file = journal_path(&opts.journal_dir, &canister, report).with_extension("lease");

    // 1. A lease an earlier, killed run of this import left would keep the module busy.
    if let Some(old) = std::fs::read_to_string(&lease_file)
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok())
    {
        // NotInProgress (finished, aborted, lapsed) is fine: there is nothing to end.
        let _ = orch
            .abort_import(old, "superseded by a new run of the same import")
            .await
            .answered();
        let _ = std::fs::remove_file(&lease_file);
    }

    // 2. Lease the module, continuing an earlier upload of the same folder if one is there.
    let resume = resumable(store, report, opts).await?;
    let lease = orch
        .begin_import(
            &name,
            BeginImportArgs {
                replace: if resume.is_some() {
                    None
                } else {
                    opts.replace.clone().map(Into::into)
                },
                restore: args.restore,
                resume: resume.map(Into::into),
            },
        )
        .await
        .answered()
        .with_context(|| format!("cannot import into module {name}"))?;
    if let Some(dir) = lease_file.parent() {
        std::fs::create_dir_all(dir).ok();
    }
    std::fs::write(&lease_file, lease.operation_id.to_string())
        .with_context(|| format!("cannot write {}", lease_file.display()))?;

    // 3. Upload, renewing the lease meanwhile; a failed upload ends the lease at once.
    let uploaded = tokio::select! {
        r = import(store, &args.dir, report, opts, bar) => r,
        never = renew_forever(&orch, lease.operation_id) => match never {},
    };
    let summary = match uploaded {
        Ok(summary) => summary,
        Err(e) => {
            if orch
                .abort_import(lease.operation_id, &format!("{e:#}"))
                .await
                .answered()
                .is_ok()
            {
                let _ = std::fs::remove_file(&lease_file);
            }
            return Err(e);
        }
    };
    print_uploaded(ctx, args, &summary);

    // 4. Record (and load) through the orchestrator.
    let finished = orch
        .finish_import(
            lease.operation_id,
            FinishImportArgs {
                snapshot_id: hex::decode(&summary.snapshot_id)?.into(),
                restore: args.restore,
            },
        )
        .await
        .answered();
    let done = match finished {
        Ok(done) => done,
        Err(e) => {
            // The orchestrator answered: it closed the import (nothing to end on a rerun).
            if e.downcast_ref::<ImportError>().is_some() {
                let _ = std::fs::remove_file(&lease_file);
            }
            return Err(e.context(leftover_note(&canister, Some(&name), &summary.snapshot_id)));
        }
    };
    let _ = std::fs::remove_file(&lease_file);
    forget(&summary.journal)?;
    let step_ok = |step: OperationStep| {
        done.steps
            .iter()
            .any(|s| s.step == step && s.outcome == StepOutcome::Ok)
    };
    let restored = done.restored.then(|| RestoreSteps {
        stopped: step_ok(OperationStep::Stop),
        loaded: step_ok(OperationStep::LoadSnapshot),
        started: step_ok(OperationStep::Start),
    });
    if !ctx.json() {
        if done.restored {
            output::println(&format!(
                "Restored module {name} to snapshot {} (operation {})",
                summary.snapshot_id, done.operation_id
            ));
        } else {
            output::println(&format!(
                "Recorded as snapshot of module {name} (operation {}); load it with `keepsake snapshot restore {name} --snapshot {}`",
                done.operation_id, summary.snapshot_id
            ));
        }
    }
    Ok(ImportView {
        summary,
        module: Some(name),
        operation_id: Some(done.operation_id),
        restore: restored,
    })
}

/// Renews the import's lease every few minutes while the upload runs; never returns.
async fn renew_forever(orch: &Orchestrator<'_>, operation_id: u64) -> std::convert::Infallible {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        // A failed renewal is not fatal: the lease lasts 30 minutes, and `finish_import`
        // says if it was lost.
        let _ = orch.renew_import(operation_id).await.answered();
    }
}
