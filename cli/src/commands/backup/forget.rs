//! `keepsake backup forget --repo <R> [--keep-last N] [--keep-daily N] [--keep-weekly N]
//! [--keep-monthly N] [--prune] [--dry-run]`.

use anyhow::{Context, Result};
use clap::Args;
use rustic_core::PruneOptions;
use rustic_core::jiff::Zoned;
use serde::Serialize;

use super::RepoArgs;
use crate::context::Ctx;
use crate::error::usage;
use crate::operations::backup::forget::{Decision, Keep, plan};
use crate::operations::backup::lock::LockKind;
use crate::operations::backup::repo::rustic_error;
use crate::output;

/// Remove the backups a retention policy does not keep, per canister, with restic's rules
/// (a backup's time is when the IC took its snapshot). The rules count snapshots: of several
/// backups of one snapshot, one is kept. Group backups count per group, each as a unit. --prune then removes the data nothing uses any more;
/// without it the repository does not shrink. --dry-run shows what would go and changes
/// nothing.
#[derive(Args, Debug)]
pub struct ForgetArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Keep the newest N snapshots of each canister.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_last: Option<u32>,
    /// Keep the newest snapshot of each of the last N days that have one.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_daily: Option<u32>,
    /// Keep the newest snapshot of each of the last N weeks that have one.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_weekly: Option<u32>,
    /// Keep the newest snapshot of each of the last N months that have one.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_monthly: Option<u32>,
    /// Then remove the data no backup uses any more (the repository shrinks).
    #[arg(long)]
    pub prune: bool,
    /// Show what would be removed; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Serialize)]
struct Forgotten {
    dry_run: bool,
    /// Every keepsake backup, kept or not.
    backups: Vec<Decision>,
    kept: usize,
    removed: usize,
    /// Present with --prune (and not --dry-run).
    prune: Option<Pruned>,
}

#[derive(Serialize)]
struct Pruned {
    repository_bytes_before: u64,
    repository_bytes_after: u64,
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &ForgetArgs) -> Result<()> {
    let keep = Keep {
        last: args.keep_last,
        daily: args.keep_daily,
        weekly: args.keep_weekly,
        monthly: args.keep_monthly,
    };
    if !keep.any() {
        return Err(usage(
            "say what to keep: --keep-last N, --keep-daily N, --keep-weekly N and/or --keep-monthly N \
             (forget never removes every backup; nothing was changed)",
        ));
    }
    let spec = args.repo.spec();
    let password = args.repo.password(false)?;
    // A dry run changes nothing, so it needs no lock.
    let lock = if args.dry_run {
        None
    } else {
        Some(spec.lock(LockKind::Forget, "keepsake backup forget")?)
    };
    let (dry_run, prune) = (args.dry_run, args.prune);
    let done = tokio::task::spawn_blocking(move || -> Result<Forgotten> {
        let repo = spec.open(&password)?;
        let snaps = repo.get_all_snapshots().map_err(|e| rustic_error(*e))?;
        let backups = plan(snaps, &keep, &Zoned::now())?;
        let gone: Vec<_> = backups
            .iter()
            .filter(|d| !d.keep)
            .map(|d| d.backup_id.parse())
            .collect::<Result<_, _>>()
            .map_err(|e| anyhow::anyhow!("a backup id does not parse: {e:?}"))?;
        let mut out = Forgotten {
            dry_run,
            kept: backups.iter().filter(|d| d.keep).count(),
            removed: gone.len(),
            backups,
            prune: None,
        };
        if dry_run {
            return Ok(out);
        }
        repo.delete_snapshots(&gone)
            .map_err(|e| rustic_error(*e))
            .context("removing the forgotten backups failed; run the command again")?;
        if prune {
            let size = |repo: &rustic_core::Repository<_>| -> Result<u64> {
                let infos = repo.infos_files().map_err(|e| rustic_error(*e))?;
                Ok(infos.repo.iter().map(|i| i.size).sum())
            };
            let before = size(&repo)?;
            // keepsake holds the repository's lock, so packs can go at once instead of
            // rustic's default two-phase delete (marked now, removed a day later).
            let opts = PruneOptions::default().instant_delete(true);
            let pruning = repo
                .prune_plan(&opts)
                .map_err(|e| rustic_error(*e))
                .context("cannot plan the prune")?;
            repo.prune(&opts, pruning)
                .map_err(|e| rustic_error(*e))
                .context(
                    "the prune failed; the backups are intact, run `backup forget --prune` again",
                )?;
            out.prune = Some(Pruned {
                repository_bytes_before: before,
                repository_bytes_after: size(&repo)?,
            });
        }
        Ok(out)
    })
    .await??;
    drop(lock);
    if ctx.json() {
        return output::json(&done);
    }
    let rows: Vec<Vec<String>> = done
        .backups
        .iter()
        .map(|d| {
            vec![
                d.backup_id[..8].to_string(),
                d.what(),
                d.source(),
                d.taken_at().to_string(),
                if d.keep { "keep" } else { "remove" }.to_string(),
                d.reasons.join(", "),
            ]
        })
        .collect();
    if rows.is_empty() {
        output::println("No backups");
        return Ok(());
    }
    output::table(
        &["BACKUP", "MODULE", "CANISTER", "TAKEN AT", "ACTION", "WHY"],
        &rows,
    );
    let verb = if done.dry_run {
        "Would remove"
    } else {
        "Removed"
    };
    output::println(&format!(
        "{verb} {} backups, kept {}{}",
        done.removed,
        done.kept,
        if done.dry_run {
            " (dry run: nothing changed)"
        } else {
            ""
        }
    ));
    if let Some(p) = &done.prune {
        output::println(&format!(
            "Pruned: the repository went from {} to {}",
            output::bytes(p.repository_bytes_before),
            output::bytes(p.repository_bytes_after)
        ));
    } else if !done.dry_run && done.removed > 0 {
        output::println("The data stays until `keepsake backup forget --prune` removes it");
    }
    Ok(())
}
