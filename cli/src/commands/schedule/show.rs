//! `keepsake schedule show [<module>]`.

use anyhow::Result;
use clap::Args;

use crate::commands::schedule::ScheduleView;
use crate::context::Ctx;
use crate::output;

/// Show every schedule, or one module's: cadence, retention, next run (and retry, if the
/// module was busy) in RFC 3339 UTC and relative to now, last run and its history entry.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Only this module (name or canister id).
    pub module: Option<String>,
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &ShowArgs) -> Result<()> {
    let orch = ctx.orchestrator().await?;
    let module = match &args.module {
        Some(m) => Some(orch.module_name(m).await?),
        None => None,
    };
    let schedules = orch.list_schedules(module.as_deref()).await?;
    let views: Vec<ScheduleView> = schedules.iter().map(ScheduleView::from).collect();
    if ctx.json() {
        return output::json(&views);
    }
    if views.is_empty() {
        let target = module.as_deref().unwrap_or("<module>");
        output::println(&match &module {
            Some(m) => format!("Module {m} has no schedule."),
            None => "No schedules.".to_string(),
        });
        output::println(&format!(
            "Set one with `keepsake schedule set {target} --every 1d` (or --cron \"0 3 * * *\")."
        ));
        return Ok(());
    }
    let now = output::now_ns();
    for (i, view) in views.iter().enumerate() {
        if i > 0 {
            output::println("");
        }
        view.print(now);
    }
    Ok(())
}
