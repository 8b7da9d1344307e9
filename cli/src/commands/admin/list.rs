//! `keepsake admin list`.

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use crate::context::Ctx;
use crate::operations::orchestrator::Answered;
use crate::output;

/// List the stored admins of the orchestrator. Its controllers are admins too, but are not
/// listed (`dfx canister info <orchestrator>` shows them).
#[derive(Args, Debug)]
pub struct ListArgs {}

/// `--json` output.
#[derive(Serialize)]
struct AdminsView {
    /// The stored admins, as principals.
    admins: Vec<String>,
}

/// Runs it.
pub async fn exec(ctx: &Ctx, _args: &ListArgs) -> Result<()> {
    let orch = ctx.orchestrator().await?;
    let admins = orch.list_admins().await.answered()?;
    let view = AdminsView {
        admins: admins.iter().map(|p| p.to_text()).collect(),
    };
    if ctx.json() {
        return output::json(&view);
    }
    if view.admins.is_empty() {
        output::println("No stored admins: only the orchestrator's controllers can manage it.");
    }
    for admin in &view.admins {
        output::println(admin);
    }
    output::note("The orchestrator's controllers are admins too (not listed).");
    Ok(())
}
