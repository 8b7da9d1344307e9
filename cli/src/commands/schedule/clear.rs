//! `keepsake schedule clear <module>`.

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use crate::context::Ctx;
use crate::output;

/// Remove a module's schedule: no more scheduled snapshots or retention deletions. Its
/// snapshots stay.
#[derive(Args, Debug)]
pub struct ClearArgs {
    /// The module (name or canister id).
    pub module: String,
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
    let name = orch.module_name(&args.module).await?;
    orch.clear_schedule(&name).await?;
    if ctx.json() {
        return output::json(&Cleared { cleared: name });
    }
    output::println(&format!(
        "Cleared the schedule of {name}; its snapshots stay."
    ));
    Ok(())
}
