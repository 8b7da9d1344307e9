//! `keepsake admin …`: who may drive the orchestrator. Admins are the principals stored by
//! the orchestrator (its init list and those added here) plus its controllers, which are
//! admins whatever the list says.

pub mod add;
pub mod list;
pub mod remove;

use anyhow::Result;
use candid::Principal;
use clap::Subcommand;
use serde::Serialize;

use crate::context::Ctx;

/// Admin commands.
#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Let a principal drive the orchestrator: modules, snapshots, schedules, upgrades, history.
    Add(add::AddArgs),
    /// List the stored admins (the orchestrator's controllers are admins too).
    List(list::ListArgs),
    /// Take a principal's admin rights away (never the last stored admin's).
    Remove(remove::RemoveArgs),
}

/// Runs an admin command.
pub async fn exec(ctx: &Ctx, c: AdminCommand) -> Result<()> {
    match c {
        AdminCommand::Add(a) => add::exec(ctx, &a).await,
        AdminCommand::List(a) => list::exec(ctx, &a).await,
        AdminCommand::Remove(a) => remove::exec(ctx, &a).await,
    }
}

/// Parses a principal argument (clap's value parser: a bad one is a usage error).
pub fn parse_principal(text: &str) -> std::result::Result<Principal, String> {
    Principal::from_text(text.trim())
        .map_err(|e| format!("not a principal ({e}); `dfx identity get-principal` prints yours"))
}

/// `--json` output of `admin add` and `admin remove`.
#[derive(Serialize)]
pub struct AdminChangeView {
    /// The principal added or removed.
    pub admin: String,
    /// Whether it was a stored admin before the command.
    pub was_admin: bool,
    /// Whether it is a stored admin now.
    pub is_admin: bool,
}
