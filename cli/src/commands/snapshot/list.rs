//! `keepsake snapshot list [<module>]`.

use anyhow::Result;
use clap::Args;

use crate::commands::views::SnapshotView;
use crate::context::Ctx;
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
            .await?
            .into_iter()
            .map(|m| m.name)
            .collect(),
    };
    let mut views = Vec::new();
    for name in &names {
        views.extend(
            orch.list_snapshots(name)
                .await?
                .iter()
                .map(SnapshotView::from),
        );
    }
    if ctx.json() {
        return output::json(&views);
    }
    if views.is_empty() {
        output::println("No snapshots. Take one with `keepsake snapshot take <module>`.");
        return Ok(());
    }
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
    Ok(())
}
