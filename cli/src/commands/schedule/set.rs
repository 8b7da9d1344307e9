//! `keepsake schedule set (<module> | --group <group>) (--every <duration> | --cron "<expr>")
//! [--keep N] [--max-age <duration>]`.

use anyhow::Result;
use clap::{ArgGroup, Args};
use orchestrator_api::{Retention, ScheduleArgs};

use crate::commands::schedule::ScheduleView;
use crate::context::Ctx;
use crate::error::usage;
use crate::operations::orchestrator::Answered;
use crate::operations::schedule::{cadence, parse_duration};
use crate::output;

/// Snapshot a module on a schedule, through the same flow as `snapshot take` (trigger
/// `schedule`), and delete old snapshots after each run. Replaces the module's schedule if it
/// has one.
///
/// Pinned snapshots, the snapshot taken before the latest upgrade and snapshots taken outside
/// the orchestrator are never deleted by retention, nor is a member of a kept group snapshot.
///
/// With --group, each run takes a group snapshot (every member stopped together) and --keep /
/// --max-age count group snapshots, each deleted whole; pinned ones are kept.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("cadence").required(true).args(["every", "cron"])))]
#[command(group(ArgGroup::new("target").required(true).args(["module", "group"])))]
pub struct SetArgs {
    /// The module (name or canister id); or give --group.
    pub module: Option<String>,
    /// A group (application) instead of a module: scheduled group snapshots.
    #[arg(long)]
    pub group: Option<String>,
    /// Every interval, counted from now: 15m (the minimum), 90m, 1h, 12h, 1d, 1w, or
    /// hourly / daily / weekly.
    #[arg(long, value_name = "DURATION")]
    pub every: Option<String>,
    /// A 5-field cron expression in UTC (minute hour day-of-month month day-of-week), e.g.
    /// "30 2 * * *" for 02:30 every day.
    #[arg(long, value_name = "EXPR")]
    pub cron: Option<String>,
    /// Keep at most this many snapshots (1 to the module's max_snapshots; default: all
    /// max_snapshots slots).
    #[arg(long, value_name = "N")]
    pub keep: Option<u8>,
    /// Delete snapshots older than this: 30d, 12h, 90m, 2w (default: no age limit).
    #[arg(long, value_name = "DURATION")]
    pub max_age: Option<String>,
}

impl SetArgs {
    /// The orchestrator's argument; a malformed duration is a usage error (exit 2).
    pub fn schedule_args(&self) -> Result<ScheduleArgs> {
        let cadence = cadence(self.every.as_deref(), self.cron.as_deref()).map_err(usage)?;
        let max_age_seconds = self
            .max_age
            .as_deref()
            .map(parse_duration)
            .transpose()
            .map_err(|e| usage(format!("--max-age {e}")))?;
        Ok(ScheduleArgs {
            cadence,
            retention: Retention {
                keep: self.keep,
                max_age_seconds,
            },
        })
    }
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &SetArgs) -> Result<()> {
    let schedule = args.schedule_args()?;
    let orch = ctx.orchestrator().await?;
    let view = match (&args.module, &args.group) {
        (_, Some(group)) => {
            ScheduleView::from(&orch.set_group_schedule(group, schedule).await.answered()?)
        }
        (Some(module), None) => {
            let name = orch.module_name(module).await?;
            ScheduleView::from(&orch.set_schedule(&name, schedule).await.answered()?)
        }
        (None, None) => unreachable!("clap requires a module or --group"),
    };
    if ctx.json() {
        return output::json(&view);
    }
    output::println(&format!("Scheduled snapshots of {}", view.target()));
    view.print(output::now_ns());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use orchestrator_api::Cadence;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        set: SetArgs,
    }

    fn parse(args: &[&str]) -> Result<SetArgs, clap::Error> {
        let mut all = vec!["set", "app"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).map(|c| c.set)
    }

    #[test]
    fn exactly_one_of_every_and_cron_is_accepted() {
        assert!(parse(&["--every", "1h"]).is_ok());
        assert!(parse(&["--cron", "0 3 * * *"]).is_ok());
        let both = parse(&["--every", "1h", "--cron", "0 3 * * *"]).unwrap_err();
        assert_eq!(both.kind(), clap::error::ErrorKind::ArgumentConflict);
        let neither = parse(&["--keep", "2"]).unwrap_err();
        assert_eq!(
            neither.kind(),
            clap::error::ErrorKind::MissingRequiredArgument
        );
    }

    #[test]
    fn a_schedule_targets_a_module_or_a_group_not_both() {
        let group = Cli::try_parse_from(["set", "--group", "shop", "--every", "1d"])
            .unwrap()
            .set;
        assert_eq!(group.group.as_deref(), Some("shop"));
        assert!(group.module.is_none());
        let both = Cli::try_parse_from(["set", "app", "--group", "shop", "--every", "1d"]);
        assert_eq!(
            both.unwrap_err().kind(),
            clap::error::ErrorKind::ArgumentConflict
        );
        let neither = Cli::try_parse_from(["set", "--every", "1d"]);
        assert_eq!(
            neither.unwrap_err().kind(),
            clap::error::ErrorKind::MissingRequiredArgument
        );
    }

    #[test]
    fn flags_become_the_orchestrator_s_schedule_and_retention() {
        let args = parse(&["--every", "1d", "--keep", "3", "--max-age", "30d"])
            .unwrap()
            .schedule_args()
            .unwrap();
        assert_eq!(args.cadence, Cadence::EveryMinutes(1440));
        assert_eq!(args.retention.keep, Some(3));
        assert_eq!(args.retention.max_age_seconds, Some(30 * 86_400));
        let args = parse(&["--cron", "*/30 * * * *"])
            .unwrap()
            .schedule_args()
            .unwrap();
        assert_eq!(args.cadence, Cadence::Cron("*/30 * * * *".into()));
        assert_eq!(args.retention, Retention::default());
    }

    #[test]
    fn malformed_durations_are_usage_errors_naming_the_flag() {
        for (flags, flag) in [
            (&["--every", "15"][..], "--every"),
            (&["--every", "90s"], "--every"),
            (&["--every", "1h", "--max-age", "30"], "--max-age"),
            (&["--every", "1h", "--max-age", "1y"], "--max-age"),
        ] {
            let err = parse(flags).unwrap().schedule_args().unwrap_err();
            assert!(
                err.downcast_ref::<crate::error::UsageError>().is_some(),
                "{flags:?}"
            );
            assert!(err.to_string().starts_with(flag), "{flags:?}: {err}");
        }
    }
}
