//! `keepsake snapshot restore <module> [--snapshot <id>]`.

use anyhow::Result;
use clap::Args;

use crate::commands::views::SnapshotView;
use crate::config::parse_snapshot_id;
use crate::context::Ctx;
use crate::output;

/// Restore a module to one of its snapshots: the orchestrator stops it (if running), loads the
/// snapshot and starts it again. Its current state is replaced: asks for confirmation.
#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The module (name or canister id).
    pub module: String,
    /// The snapshot id (hex, from `snapshot list`); the newest when omitted.
    #[arg(long)]
    pub snapshot: Option<String>,
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &RestoreArgs) -> Result<()> {
    let id = args
        .snapshot
        .as_deref()
        .map(parse_snapshot_id)
        .transpose()?;
    let orch = ctx.orchestrator().await?;
    let name = orch.module_name(&args.module).await?;
    ctx.confirm(&format!(
        "Restore module {name} to {}; its current state will be replaced",
        args.snapshot
            .as_deref()
            .map(|s| format!("snapshot {s}"))
            .unwrap_or_else(|| "its newest snapshot".into())
    ))?;
    let info = orch.restore_snapshot(&name, id).await?;
    let view = SnapshotView::from(&info);
    if ctx.json() {
        return output::json(&view);
    }
    output::println(&format!(
        "Restored {} to snapshot {} (taken {})",
        view.module, view.id, view.taken_at
    ));
    Ok(())
}
