//! `keepsake snapshot …`: snapshots through the orchestrator (recorded in its history).

pub mod delete;
pub mod list;
pub mod pin;
pub mod restore;
pub mod take;
pub mod unpin;

use anyhow::Result;
use clap::Subcommand;

use crate::config::parse_snapshot_id;
use crate::context::Ctx;
use crate::operations::orchestrator::Orchestrator;

/// Snapshot commands.
#[derive(Subcommand, Debug)]
pub enum SnapshotCommand {
    /// Take a snapshot of a module (stopping it meanwhile if its settings say so), or of every
    /// module with --all.
    Take(take::TakeArgs),
    /// List snapshots: id, time, size, label, trigger, external, pinned / kept for upgrade.
    List(list::ListArgs),
    /// Restore a module to a snapshot (the newest unless --snapshot). Destructive.
    Restore(restore::RestoreArgs),
    /// Delete a snapshot of a module. Destructive.
    Delete(delete::DeleteArgs),
    /// Pin a snapshot (by id or label): never deleted or replaced automatically.
    Pin(pin::PinArgs),
    /// Unpin a snapshot (by id or label).
    Unpin(unpin::UnpinArgs),
}

/// What a destructive command on one of a module's snapshots acts on, once the user confirmed
/// it: the orchestrator, the module's name and the snapshot id given (none: the command's
/// default). `question` words the confirmation from the name and "snapshot <id>" (or
/// `otherwise`).
async fn confirmed<'a>(
    ctx: &'a Ctx,
    module: &str,
    snapshot: Option<&str>,
    otherwise: &str,
    question: impl FnOnce(&str, &str) -> String,
) -> Result<(Orchestrator<'a>, String, Option<Vec<u8>>)> {
    let id = snapshot.map(parse_snapshot_id).transpose()?;
    let orch = ctx.orchestrator().await?;
    let name = orch.module_name(module).await?;
    let which = snapshot.map_or_else(|| otherwise.to_string(), |s| format!("snapshot {s}"));
    ctx.confirm(&question(&name, &which))?;
    Ok((orch, name, id))
}

/// Runs a snapshot command.
pub async fn exec(ctx: &Ctx, c: SnapshotCommand) -> Result<()> {
    match c {
        SnapshotCommand::Take(a) => take::exec(ctx, &a).await,
        SnapshotCommand::List(a) => list::exec(ctx, &a).await,
        SnapshotCommand::Restore(a) => restore::exec(ctx, &a).await,
        SnapshotCommand::Delete(a) => delete::exec(ctx, &a).await,
        SnapshotCommand::Pin(a) => pin::exec(ctx, &a).await,
        SnapshotCommand::Unpin(a) => unpin::exec(ctx, &a).await,
    }
}
