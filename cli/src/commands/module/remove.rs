//! `keepsake module remove <name>`.

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use crate::context::Ctx;
use crate::operations::orchestrator::Answered;
use crate::output;

/// Forget a module. Its snapshots stay on the IC, and the orchestrator stays its controller
/// until you remove it with `dfx canister update-settings --remove-controller`.
#[derive(Args, Debug)]
pub struct RemoveArgs {
    /// The module (name or canister id).
    pub module: String,
}

/// `--json` output.
#[derive(Serialize)]
struct Removed {
    removed: String,
    canister_id: String,
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &RemoveArgs) -> Result<()> {
    let orch = ctx.orchestrator().await?;
    let m = orch.resolve(&args.module).await?;
    orch.remove_module(&m.name).await.answered()?;
    if ctx.json() {
        return output::json(&Removed {
            removed: m.name,
            canister_id: m.canister_id.to_text(),
        });
    }
    output::println(&format!(
        "Removed module {} ({}); its snapshots stay on the IC.",
        m.name, m.canister_id
    ));
    Ok(())
}
