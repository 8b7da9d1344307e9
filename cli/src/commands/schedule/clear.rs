//! `keepsake schedule clear (<module> | --group <group>)`.

use anyhow::Result;
use clap::{ArgGroup, Args};
use serde::Serialize;

use crate::context::Ctx;
use crate::operations::orchestrator::Answered;
use crate::output;

/// Remove a module's schedule: no more scheduled snapshots or retention deletions. Its
/// snapshots stay.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("target").required(true).args(["module", "group"])))]
pub struct ClearArgs {
    /// The module (name or canister id); or give --group.
    pub module: Option<String>,
    /// A group's schedule instead of a module's.
    #[arg(long)]
    pub group: Option<String>,
}

/// `--json` output.
#[derive(Serialize)]
struct Cleared {
    /// The module whose schedule was removed.
    cleared: String,
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &ClearArgs) -> Result<()> {
    let orch = ctx.orchestrator().await?;
    let name = match (&args.module, &args.group) {
        (_, Some(group)) => {
            orch.clear_group_schedule(group).await.answered()?;
            group.clone()
        }
        (Some(module), None) => {
            let name = orch.module_name(module).await?;
            orch.clear_schedule(&name).await.answered()?;
            name
        }
        (None, None) => unreachable!("clap requires a module or --group"),
    };
    if ctx.json() {
        return output::json(&Cleared { cleared: name });
    }
    output::println(&format!(
        "Cleared the schedule of {name}; its snapshots stay."
    ));
    Ok(())
}
