//! `keepsake snapshot …`: snapshots through the orchestrator (recorded in its history).

pub mod delete;
pub mod list;
pub mod restore;
pub mod take;

use anyhow::Result;
use clap::Subcommand;

use crate::context::Ctx;

/// Snapshot commands.
#[derive(Subcommand, Debug)]
pub enum SnapshotCommand {
    /// Take a snapshot of a module (stopping it meanwhile if its settings say so).
    Take(take::TakeArgs),
    /// List snapshots: id, time, size, label, trigger, external.
    List(list::ListArgs),
    /// Restore a module to a snapshot (the newest unless --snapshot). Destructive.
    Restore(restore::RestoreArgs),
    /// Delete a snapshot of a module. Destructive.
    Delete(delete::DeleteArgs),
}

/// Runs a snapshot command.
pub async fn exec(ctx: &Ctx, c: SnapshotCommand) -> Result<()> {
    match c {
        SnapshotCommand::Take(a) => take::exec(ctx, &a).await,
        SnapshotCommand::List(a) => list::exec(ctx, &a).await,
        SnapshotCommand::Restore(a) => restore::exec(ctx, &a).await,
        SnapshotCommand::Delete(a) => delete::exec(ctx, &a).await,
    }
}
