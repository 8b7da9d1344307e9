//! `keepsake snapshot list [<module>]`.

use anyhow::Result;
use clap::Args;

use crate::commands::views::SnapshotView;
use crate::context::Ctx;
use crate::operations::orchestrator::Answered;
use crate::output;

/// List the snapshots of one module, or of every module.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// The module (name or canister id); all modules when omitted.
    pub module: Option<String>,
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &ListArgs) -> Result<()> {
    let orch = ctx.orchestrator().await?;
    let names = match &args.module {
        Some(m) => vec![orch.module_name(m).await?],
        None => orch
            .list_modules()
            .await
            .answered()?
            .into_iter()
            .map(|m| m.name)
            .collect(),
    };
    // One module that cannot be listed (say, the orchestrator is no longer its controller)
    // must not hide the others: list every module, then fail naming the ones that did not list.
    let mut views = Vec::new();
    let mut failed = Vec::new();
    for name in &names {
        match orch.list_snapshots(name).await.answered() {
            Ok(list) => views.extend(list.iter().map(SnapshotView::from)),
            Err(e) if args.module.is_none() => failed.push(format!("{name}: {e:#}")),
            Err(e) => return Err(e),
        }
    }
    if ctx.json() {
        output::json(&views)?;
    } else if views.is_empty() && failed.is_empty() {
        output::println("No snapshots. Take one with `keepsake snapshot take <module>`.");
    } else if !views.is_empty() {
        print_table(&views);
    }
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!(
            "could not list the snapshots of {} module(s):\n  {}",
            failed.len(),
            failed.join("\n  ")
        )
    }
}

fn print_table(views: &[SnapshotView]) {
    let mut header = vec!["MODULE"];
    header.extend(SnapshotView::HEADER);
    let rows: Vec<Vec<String>> = views
        .iter()
        .map(|v| {
            let mut row = vec![v.module.clone()];
            row.extend(v.row());
            row
        })
        .collect();
    output::table(&header, &rows);
}
