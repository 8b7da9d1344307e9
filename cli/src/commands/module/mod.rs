//! `keepsake module …`: the orchestrator's registry.

pub mod add;
pub mod list;
pub mod remove;
pub mod set;

use anyhow::Result;
use clap::Subcommand;

use crate::context::Ctx;

/// Module commands.
#[derive(Subcommand, Debug)]
pub enum ModuleCommand {
    /// Register a canister as a module (the orchestrator must be one of its controllers).
    Add(add::AddArgs),
    /// List the registered modules.
    List(list::ListArgs),
    /// Forget a module (its snapshots stay on the IC).
    Remove(remove::RemoveArgs),
    /// Change a module's settings.
    Set(set::SetArgs),
}

/// Runs a module command.
pub async fn exec(ctx: &Ctx, c: ModuleCommand) -> Result<()> {
    match c {
        ModuleCommand::Add(a) => add::exec(ctx, &a).await,
        ModuleCommand::List(a) => list::exec(ctx, &a).await,
        ModuleCommand::Remove(a) => remove::exec(ctx, &a).await,
        ModuleCommand::Set(a) => set::exec(ctx, &a).await,
    }
}
