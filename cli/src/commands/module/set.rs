//! `keepsake module set <name> [--max-snapshots N] [--snapshot-before-upgrade B] …`.

use anyhow::Result;
use clap::Args;
use orchestrator_api::{HealthCheckSetting, ModuleSettingsUpdate};

use crate::commands::views::ModuleView;
use crate::context::Ctx;
use crate::error::usage;
use crate::output;

/// Change a module's settings; settings not given keep their value.
#[derive(Args, Debug)]
pub struct SetArgs {
    /// The module (name or canister id).
    pub module: String,
    /// Snapshots the module may hold (1 to 10); a new one replaces the oldest when full.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=10))]
    pub max_snapshots: Option<u8>,
    /// Take a snapshot before every upgrade.
    #[arg(long, value_name = "true|false")]
    pub snapshot_before_upgrade: Option<bool>,
    /// Stop the module while a snapshot is taken.
    #[arg(long, value_name = "true|false")]
    pub stop_for_snapshot: Option<bool>,
    /// A method (called with no arguments) that must reply after an upgrade; `none` disables.
    #[arg(long, value_name = "METHOD|none")]
    pub health_check: Option<String>,
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &SetArgs) -> Result<()> {
    let update = ModuleSettingsUpdate {
        max_snapshots: args.max_snapshots,
        snapshot_before_upgrade: args.snapshot_before_upgrade,
        stop_for_snapshot: args.stop_for_snapshot,
        health_check: args.health_check.as_ref().map(|m| {
            if m == "none" {
                HealthCheckSetting::Disabled
            } else {
                HealthCheckSetting::Method(m.clone())
            }
        }),
    };
    if update == ModuleSettingsUpdate::default() {
        return Err(usage(
            "nothing to change: give --max-snapshots, --snapshot-before-upgrade, --stop-for-snapshot or --health-check",
        ));
    }
    let orch = ctx.orchestrator().await?;
    let name = orch.module_name(&args.module).await?;
    let info = orch.update_settings(&name, update).await?;
    let view = ModuleView::from(&info);
    if ctx.json() {
        return output::json(&view);
    }
    output::println(&format!("Updated module {}", view.name));
    view.print();
    Ok(())
}
