//! `keepsake snapshot unpin <module> (<id> | --label <label>)` or `keepsake snapshot unpin
//! --group <group> <group-snapshot-id>`.

use anyhow::Result;
use clap::Args;

use crate::commands::snapshot::pin::{SelectorArgs, set_pinned};
use crate::context::Ctx;

/// Unpin a snapshot (by id, or every snapshot with a label): it can be deleted again, and
/// retention or a full module may replace it.
#[derive(Args, Debug)]
pub struct UnpinArgs {
    #[command(flatten)]
    pub target: SelectorArgs,
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &UnpinArgs) -> Result<()> {
    set_pinned(ctx, &args.target, false).await
}
