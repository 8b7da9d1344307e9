//! `keepsake admin remove <principal>`.

use anyhow::Result;
use candid::Principal;
use clap::Args;

use crate::commands::admin::{AdminChangeView, parse_principal};
use crate::context::Ctx;
use crate::operations::orchestrator::Answered;
use crate::output;

/// Take a principal's admin rights away. The last stored admin cannot be removed (add another
/// first), and a controller of the orchestrator stays an admin whatever the list says.
/// Removing yourself asks for confirmation.
#[derive(Args, Debug)]
pub struct RemoveArgs {
    /// The principal (`keepsake admin list` shows the admins).
    #[arg(value_parser = parse_principal)]
    pub principal: Principal,
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &RemoveArgs) -> Result<()> {
    let orch = ctx.orchestrator().await?;
    let before = orch.list_admins().await.answered()?;
    let was_admin = before.contains(&args.principal);
    let me = ctx.agent().await?.get_principal().ok();
    if was_admin && me == Some(args.principal) {
        ctx.confirm(&format!(
            "Remove yourself ({}) as an admin; unless you control the orchestrator you will no \
             longer be able to manage it",
            args.principal
        ))?;
    }
    orch.remove_admin(args.principal).await.answered()?;
    let view = AdminChangeView {
        admin: args.principal.to_text(),
        was_admin,
        is_admin: false,
    };
    if ctx.json() {
        return output::json(&view);
    }
    output::println(&if was_admin {
        format!(
            "Removed {} as an admin of orchestrator {}.",
            view.admin, orch.id
        )
    } else {
        format!("{} was not a stored admin; nothing changed.", view.admin)
    });
    Ok(())
}
