//! `keepsake module add <canister-id> --name <n> [--kind …]`.

use anyhow::{Context, Result};
use candid::Principal;
use clap::{Args, ValueEnum};
use orchestrator_api::{AddModuleArgs, ModuleKind};

use crate::commands::views::ModuleView;
use crate::context::Ctx;
use crate::error::usage;
use crate::operations::orchestrator::Answered;
use crate::output;

/// What kind of canister a module is (informational).
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum Kind {
    /// A Juno-style satellite (an application's backend).
    Satellite,
    /// A Juno-style mission control.
    MissionControl,
    /// A Juno-style orbiter (analytics).
    Orbiter,
    /// Any other canister.
    Other,
}

impl From<Kind> for ModuleKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Satellite => ModuleKind::Satellite,
            Kind::MissionControl => ModuleKind::MissionControl,
            Kind::Orbiter => ModuleKind::Orbiter,
            Kind::Other => ModuleKind::Other,
        }
    }
}

/// Register a canister as a module.
///
/// The orchestrator must already be a controller of the canister:
/// `dfx canister update-settings <canister> --add-controller <orchestrator-id>`.
#[derive(Args, Debug)]
pub struct AddArgs {
    /// The canister to manage (a principal, or a name in canister_ids.json).
    pub canister: String,
    /// Its unique name in the orchestrator ([A-Za-z0-9_-], 1 to 64 characters).
    #[arg(long)]
    pub name: String,
    /// What it is.
    #[arg(long, value_enum, default_value = "other")]
    pub kind: Kind,
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &AddArgs) -> Result<()> {
    orchestrator_api::validate_module_name(&args.name).map_err(usage)?;
    let canister_id = match Principal::from_text(&args.canister) {
        Ok(p) => p,
        Err(_) => crate::config::resolve_canister(
            &args.canister,
            &ctx.network()?,
            &crate::config::project_dir(&std::env::current_dir()?),
        )?,
    };
    let orch = ctx.orchestrator().await?;
    let info = orch
        .add_module(AddModuleArgs {
            canister_id,
            name: args.name.clone(),
            kind: args.kind.into(),
        })
        .await
        .answered()
        .with_context(|| format!("cannot register {canister_id} as {:?}", args.name))?;
    let view = ModuleView::from(&info);
    if ctx.json() {
        return output::json(&view);
    }
    output::println(&format!(
        "Registered module {} ({})",
        view.name, view.canister_id
    ));
    view.print();
    Ok(())
}
