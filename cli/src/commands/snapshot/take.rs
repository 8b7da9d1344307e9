//! `keepsake snapshot take <module> [--label …]`.

use anyhow::Result;
use clap::Args;

use crate::commands::views::SnapshotView;
use crate::context::Ctx;
use crate::error::usage;
use crate::output;

/// Take a snapshot of a module. When the module holds its `max_snapshots`, the oldest is
/// replaced.
#[derive(Args, Debug)]
pub struct TakeArgs {
    /// The module (name or canister id).
    pub module: String,
    /// A label to remember it by (at most 100 characters).
    #[arg(long)]
    pub label: Option<String>,
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &TakeArgs) -> Result<()> {
    if let Some(l) = &args.label {
        orchestrator_api::validate_label(l).map_err(usage)?;
    }
    let orch = ctx.orchestrator().await?;
    let name = orch.module_name(&args.module).await?;
    let info = orch.take_snapshot(&name, args.label.clone()).await?;
    let view = SnapshotView::from(&info);
    if ctx.json() {
        return output::json(&view);
    }
    output::println(&format!(
        "Took snapshot {} of {} ({}, {})",
        view.id,
        view.module,
        output::bytes(view.total_size),
        view.taken_at
    ));
    Ok(())
}
