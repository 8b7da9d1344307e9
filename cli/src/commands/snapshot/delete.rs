//! `keepsake snapshot delete <module> [--snapshot <id>]`.

use anyhow::Result;
use clap::Args;

use crate::commands::views::SnapshotView;
use crate::config::parse_snapshot_id;
use crate::context::Ctx;
use crate::operations::orchestrator::Answered;
use crate::output;

/// Delete a snapshot of a module. Without --snapshot, the module must hold exactly one.
/// A pinned snapshot is refused until `keepsake snapshot unpin`. Asks for confirmation.
#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// The module (name or canister id).
    pub module: String,
    /// The snapshot id (hex, from `snapshot list`).
    #[arg(long)]
    pub snapshot: Option<String>,
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &DeleteArgs) -> Result<()> {
    let id = args
        .snapshot
        .as_deref()
        .map(parse_snapshot_id)
        .transpose()?;
    let orch = ctx.orchestrator().await?;
    let name = orch.module_name(&args.module).await?;
    ctx.confirm(&format!(
        "Delete {} of module {name}; it cannot be recovered",
        args.snapshot
            .as_deref()
            .map(|s| format!("snapshot {s}"))
            .unwrap_or_else(|| "the only snapshot".into())
    ))?;
    let info = orch
        .delete_snapshot(&name, id.as_deref())
        .await
        .answered()?;
    let view = SnapshotView::from(&info);
    if ctx.json() {
        return output::json(&view);
    }
    output::println(&format!("Deleted snapshot {} of {}", view.id, view.module));
    Ok(())
}
