//! `keepsake snapshot delete <module> [--snapshot <id>]`.

use anyhow::Result;
use clap::Args;

use crate::commands::views::SnapshotView;
use crate::context::Ctx;
use crate::operations::orchestrator::Answered;

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
    let (orch, name, id) = super::confirmed(
        ctx,
        &args.module,
        args.snapshot.as_deref(),
        "the only snapshot",
        |name, which| format!("Delete {which} of module {name}; it cannot be recovered"),
    )
    .await?;
    let info = orch
        .delete_snapshot(&name, id.as_deref())
        .await
        .answered()?;
    ctx.show(&SnapshotView::from(&info), |view| {
        format!("Deleted snapshot {} of {}", view.id, view.module)
    })
}
