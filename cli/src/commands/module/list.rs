//! `keepsake module list`.

use anyhow::Result;
use clap::Args;

use crate::commands::views::ModuleView;
use crate::context::Ctx;
use crate::operations::orchestrator::Answered;
use crate::output;

/// List the registered modules, with their snapshot memory, its estimated monthly cost
/// (cycles, 13-node-subnet rate) and their next scheduled snapshot.
#[derive(Args, Debug)]
pub struct ListArgs {}

/// Runs it.
pub async fn exec(ctx: &Ctx, _args: &ListArgs) -> Result<()> {
    let modules = ctx.orchestrator().await?.list_modules().await.answered()?;
    let views: Vec<ModuleView> = modules.iter().map(ModuleView::from).collect();
    if ctx.json() {
        return output::json(&views);
    }
    if views.is_empty() {
        output::println(
            "No modules. Register one with `keepsake module add <canister-id> --name <name>`.",
        );
        return Ok(());
    }
    let now = output::now_ns();
    let rows: Vec<Vec<String>> = views
        .iter()
        .map(|m| {
            vec![
                m.name.clone(),
                m.canister_id.clone(),
                m.kind.clone(),
                m.max_snapshots.to_string(),
                m.snapshot_before_upgrade.to_string(),
                m.stop_for_snapshot.to_string(),
                m.health_check.clone().unwrap_or_else(|| "-".into()),
                m.busy_with.clone().unwrap_or_else(|| "-".into()),
                m.storage_text(),
                m.cost_text(),
                m.next_snapshot_text(now),
            ]
        })
        .collect();
    output::table(
        &[
            "NAME",
            "CANISTER",
            "KIND",
            "MAX",
            "SNAPSHOT_BEFORE_UPGRADE",
            "STOP_FOR_SNAPSHOT",
            "HEALTH_CHECK",
            "BUSY",
            "SNAPSHOT_MEMORY",
            "COST",
            "NEXT_SNAPSHOT",
        ],
        &rows,
    );
    Ok(())
}
