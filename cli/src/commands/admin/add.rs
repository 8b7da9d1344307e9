//! `keepsake admin add <principal>`.

use anyhow::Result;
use candid::Principal;
use clap::Args;

use crate::commands::admin::{AdminChangeView, parse_principal};
use crate::context::Ctx;
use crate::operations::orchestrator::Answered;
use crate::output;

/// Make a principal an admin of the orchestrator: it may then register modules, take, restore
/// and delete snapshots, set schedules, upgrade and read the history. Adding an admin twice
/// changes nothing. The anonymous principal cannot be one.
#[derive(Args, Debug)]
pub struct AddArgs {
    /// The principal (`dfx identity get-principal` prints yours).
    #[arg(value_parser = parse_principal)]
    pub principal: Principal,
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &AddArgs) -> Result<()> {
    let orch = ctx.orchestrator().await?;
    let before = orch.list_admins().await.answered()?;
    orch.add_admin(args.principal).await.answered()?;
    let view = AdminChangeView {
        admin: args.principal.to_text(),
        was_admin: before.contains(&args.principal),
        is_admin: true,
    };
    if ctx.json() {
        return output::json(&view);
    }
    output::println(&if view.was_admin {
        format!("{} was already an admin; nothing changed.", view.admin)
    } else {
        format!(
            "Added {} as an admin of orchestrator {}.",
            view.admin, orch.id
        )
    });
    Ok(())
}
