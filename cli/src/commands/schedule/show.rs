//! `keepsake schedule show [<module> | --group <group>]`.

use anyhow::Result;
use clap::Args;

use crate::commands::schedule::ScheduleView;
use crate::context::Ctx;
use crate::operations::orchestrator::Answered;
use crate::output;

/// Show every schedule (modules', then groups'), or one module's or group's: cadence,
/// retention, next run (and retry, if the module was busy) in RFC 3339 UTC and relative to
/// now, last run and its history entry.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Only this module (name or canister id).
    #[arg(conflicts_with = "group")]
    pub module: Option<String>,
    /// Only this group's schedule.
    #[arg(long)]
    pub group: Option<String>,
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &ShowArgs) -> Result<()> {
    let orch = ctx.orchestrator().await?;
    let module = match &args.module {
        Some(m) => Some(orch.module_name(m).await?),
        None => None,
    };
    let mut views: Vec<ScheduleView> = Vec::new();
    if args.group.is_none() {
        let schedules = orch.list_schedules(module.as_deref()).await.answered()?;
        views.extend(schedules.iter().map(ScheduleView::from));
    }
    if module.is_none() {
        let groups = orch.list_group_schedules().await.answered()?;
        views.extend(
            groups
                .iter()
                .filter(|g| args.group.as_ref().is_none_or(|name| *name == g.group))
                .map(ScheduleView::from),
        );
    }
    if ctx.json() {
        return output::json(&views);
    }
    if views.is_empty() {
        let target = match (&module, &args.group) {
            (Some(m), _) => m.clone(),
            (None, Some(g)) => format!("--group {g}"),
            (None, None) => "<module>".to_string(),
        };
        output::println(&match (&module, &args.group) {
            (Some(m), _) => format!("Module {m} has no schedule."),
            (None, Some(g)) => format!("Group {g} has no schedule."),
            (None, None) => "No schedules.".to_string(),
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
