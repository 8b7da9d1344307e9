//! `keepsake backup check --repo <R> [--read-data]`.

use anyhow::Result;
use clap::Args;

use super::RepoArgs;
use crate::context::Ctx;
use crate::error::Reported;
use crate::operations::backup::check::{CheckReport, check};
use crate::output;

/// Check the repository: its index, its pack files' headers and sizes, and every backup's
/// trees; with --read-data also download, decrypt and verify every pack (slow: reads it all).
/// Exits 1 when the repository is damaged, naming the damaged pack files.
#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub repo: RepoArgs,
    /// Read every pack file and verify its contents (all of the repository's data).
    #[arg(long)]
    pub read_data: bool,
}

fn print_report(r: &CheckReport) {
    for f in &r.findings {
        output::println(&format!("{}: {}", f.level, f.message));
    }
    for p in &r.damaged_packs {
        output::println(&format!("damaged pack {} ({})", p.id, p.file));
    }
    if r.ok {
        output::println(&format!(
            "{}: no errors{}",
            r.repo,
            if r.read_data {
                " (every pack read and verified)"
            } else {
                " (pack contents not read; --read-data reads them)"
            }
        ));
    }
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &CheckArgs) -> Result<()> {
    let spec = args.repo.spec().with_progress(ctx.show_progress());
    let password = args.repo.password(false)?;
    let read_data = args.read_data;
    let report = tokio::task::spawn_blocking(move || -> Result<CheckReport> {
        let repo = spec.open(&password)?;
        check(&repo, &spec.repo, read_data)
    })
    .await??;
    if ctx.json() {
        output::json(&report)?;
    } else {
        print_report(&report);
    }
    if report.ok {
        return Ok(());
    }
    let errors = report
        .findings
        .iter()
        .filter(|f| f.level == "error")
        .count();
    let packs = if report.damaged_packs.is_empty() {
        String::new()
    } else {
        format!(
            "; damaged pack(s): {}",
            report
                .damaged_packs
                .iter()
                .map(|p| p.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Err(Reported(format!(
        "the repository {} is damaged ({errors} error(s){packs}). Backups whose data is in a damaged \
         pack cannot be restored (restore refuses them); back those snapshots up again into a new \
         repository, or restore the pack files from another copy of the repository",
        report.repo
    ))
    .into())
}
