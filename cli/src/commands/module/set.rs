//! `keepsake module set <name> [--max-snapshots N] [--snapshot-before-upgrade B] …`.

use anyhow::Result;
use candid::Principal;
use clap::Args;
use orchestrator_api::{HealthCheckSetting, ModuleSettingsUpdate};

use crate::commands::views::ModuleView;
use crate::context::Ctx;
use crate::error::usage;
use crate::operations::orchestrator::Answered;
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
    /// Principals (at most 10) that may list and download the module's snapshots without
    /// controlling it — e.g. the identity of a backup job (`keepsake export` / `keepsake backup
    /// run` with the canister id). Replaces the current list; `none` leaves controllers only.
    #[arg(long, value_name = "PRINCIPAL|none", num_args = 1..)]
    pub snapshot_viewers: Option<Vec<String>>,
}

/// `--snapshot-viewers` as principals (`none` alone: the empty list).
fn parse_viewers(values: &[String]) -> Result<Vec<Principal>> {
    if values.len() == 1 && values[0] == "none" {
        return Ok(Vec::new());
    }
    values
        .iter()
        .map(|v| {
            Principal::from_text(v).map_err(|e| {
                usage(format!(
                    "--snapshot-viewers: {v:?} is not a principal ({e}); give principals (`dfx identity get-principal` or `icp identity principal` prints one) or `none`"
                ))
            })
        })
        .collect()
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
    let viewers = args
        .snapshot_viewers
        .as_deref()
        .map(parse_viewers)
        .transpose()?;
    if update == ModuleSettingsUpdate::default() && viewers.is_none() {
        return Err(usage(
            "nothing to change: give --max-snapshots, --snapshot-before-upgrade, --stop-for-snapshot, --health-check or --snapshot-viewers",
        ));
    }
    let orch = ctx.orchestrator().await?;
    let name = orch.module_name(&args.module).await?;
    // The orchestrator's own settings first (validated there, nothing on the IC), then the
    // IC setting; each call is complete on its own.
    let mut info = None;
    if update != ModuleSettingsUpdate::default() {
        info = Some(
            orch.update_module_settings(&name, update)
                .await
                .answered()?,
        );
    }
    if let Some(viewers) = viewers {
        info = Some(orch.set_snapshot_viewers(&name, viewers).await.answered()?);
    }
    let info = info.expect("one of the two ran");
    let view = ModuleView::from(&info);
    if ctx.json() {
        return output::json(&view);
    }
    output::println(&format!("Updated module {}", view.name));
    view.print();
    Ok(())
}
