//! `keepsake schedule …`: a module's (or, with `--group`, a group's) scheduled snapshots and
//! their retention, and the `--json` structure of a schedule (shared by `set` and `show`).

pub mod clear;
pub mod set;
pub mod show;

use anyhow::Result;
use clap::Subcommand;
use orchestrator_api::{Cadence, GroupScheduleInfo, ScheduleInfo};
use serde::Serialize;

use crate::context::Ctx;
use crate::operations::schedule::{describe_cadence, describe_retention};
use crate::output;

/// Schedule commands.
#[derive(Subcommand, Debug)]
pub enum ScheduleCommand {
    /// Snapshot a module (or a group, with --group) every interval or on a cron expression
    /// (UTC), with retention.
    Set(set::SetArgs),
    /// Show the schedules of modules and groups (or one's): cadence, retention, next run, last run.
    Show(show::ShowArgs),
    /// Remove a module's (or a group's) schedule (its snapshots stay).
    Clear(clear::ClearArgs),
}

/// Runs a schedule command.
pub async fn exec(ctx: &Ctx, c: ScheduleCommand) -> Result<()> {
    match c {
        ScheduleCommand::Set(a) => set::exec(ctx, &a).await,
        ScheduleCommand::Show(a) => show::exec(ctx, &a).await,
        ScheduleCommand::Clear(a) => clear::exec(ctx, &a).await,
    }
}

/// A schedule (`--json` of `schedule set`, and the elements of `schedule show`).
#[derive(Serialize)]
pub struct ScheduleView {
    /// The module (absent for a group's schedule).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// The group, for a group's schedule (its runs take group snapshots; `keep` counts them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The cadence in words: `every 1h`, `cron "30 2 * * *" (UTC)`.
    pub cadence: String,
    /// The interval in minutes, when the cadence is an interval.
    pub every_minutes: Option<u32>,
    /// The 5-field UTC cron expression, when the cadence is one.
    pub cron: Option<String>,
    /// Keep at most this many snapshots; null = the module's max_snapshots.
    pub keep: Option<u8>,
    /// Delete snapshots older than this; null = no age limit.
    pub max_age_seconds: Option<u64>,
    /// When it was set, RFC 3339.
    pub set_at: String,
    /// The same in nanoseconds since the epoch.
    pub set_at_ns: u64,
    /// The next regular run, RFC 3339.
    pub next_run_at: String,
    /// The same in nanoseconds since the epoch.
    pub next_run_at_ns: u64,
    /// When a run deferred because the module was busy is tried again, RFC 3339.
    pub retry_at: Option<String>,
    /// The same in nanoseconds since the epoch.
    pub retry_at_ns: Option<u64>,
    /// When the last run started, RFC 3339; null before the first.
    pub last_run_at: Option<String>,
    /// The same in nanoseconds since the epoch.
    pub last_run_at_ns: Option<u64>,
    /// The history entry of the last run (its snapshot or its skip).
    pub last_operation_id: Option<u64>,
    /// The retention rule in words, for the text form.
    #[serde(skip)]
    retention_text: String,
}

impl From<&ScheduleInfo> for ScheduleView {
    fn from(s: &ScheduleInfo) -> Self {
        let (every_minutes, cron) = match &s.cadence {
            Cadence::EveryMinutes(m) => (Some(*m), None),
            Cadence::Cron(expr) => (None, Some(expr.clone())),
        };
        Self {
            module: Some(s.module.clone()),
            group: None,
            cadence: describe_cadence(&s.cadence),
            every_minutes,
            cron,
            keep: s.retention.keep,
            max_age_seconds: s.retention.max_age_seconds,
            set_at: output::time(s.set_at),
            set_at_ns: s.set_at,
            next_run_at: output::time(s.next_run_at),
            next_run_at_ns: s.next_run_at,
            retry_at: s.retry_at.map(output::time),
            retry_at_ns: s.retry_at,
            last_run_at: s.last_run_at.map(output::time),
            last_run_at_ns: s.last_run_at,
            last_operation_id: s.last_operation_id,
            retention_text: describe_retention(&s.retention),
        }
    }
}

impl From<&GroupScheduleInfo> for ScheduleView {
    fn from(g: &GroupScheduleInfo) -> Self {
        let mut view = ScheduleView::from(&ScheduleInfo {
            module: g.group.clone(),
            cadence: g.cadence.clone(),
            retention: g.retention.clone(),
            set_at: g.set_at,
            next_run_at: g.next_run_at,
            retry_at: g.retry_at,
            last_run_at: g.last_run_at,
            last_operation_id: g.last_operation_id,
        });
        view.module = None;
        view.group = Some(g.group.clone());
        view.retention_text = format!("{} (group snapshots)", view.retention_text);
        view
    }
}

impl ScheduleView {
    /// What the schedule snapshots: `app`, or `group shop`.
    pub fn target(&self) -> String {
        match (&self.module, &self.group) {
            (_, Some(group)) => format!("group {group}"),
            (Some(module), None) => module.clone(),
            (None, None) => String::new(),
        }
    }

    /// Text form, relative times counted from `now_ns`.
    pub fn lines(&self, now_ns: u64) -> Vec<String> {
        let mut lines = vec![
            format!("{}: {}", self.target(), self.cadence),
            format!("  retention  {}", self.retention_text),
            format!(
                "  next run   {}",
                output::time_and_relative(self.next_run_at_ns, now_ns)
            ),
        ];
        if let Some(retry) = self.retry_at_ns {
            lines.push(format!(
                "  retry      {} (the module was busy)",
                output::time_and_relative(retry, now_ns)
            ));
        }
        lines.push(match (self.last_run_at_ns, self.last_operation_id) {
            (Some(at), Some(op)) => format!(
                "  last run   {}, operation #{op} (`keepsake history {}`)",
                output::time_and_relative(at, now_ns),
                self.module
                    .as_ref()
                    .or(self.group.as_ref())
                    .cloned()
                    .unwrap_or_default()
            ),
            (Some(at), None) => {
                format!("  last run   {}", output::time_and_relative(at, now_ns))
            }
            (None, _) => "  last run   never".to_string(),
        });
        lines.push(format!("  set at     {}", self.set_at));
        lines
    }

    /// Prints the text form.
    pub fn print(&self, now_ns: u64) {
        for line in self.lines(now_ns) {
            output::println(&line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestrator_api::Retention;

    const S: u64 = 1_000_000_000;
    const NOW: u64 = 1_700_000_000 * S;

    fn info(cadence: Cadence) -> ScheduleInfo {
        ScheduleInfo {
            module: "app".into(),
            cadence,
            retention: Retention {
                keep: Some(3),
                max_age_seconds: Some(30 * 86_400),
            },
            set_at: NOW - 7200 * S,
            next_run_at: NOW + 1800 * S,
            retry_at: None,
            last_run_at: None,
            last_operation_id: None,
        }
    }

    #[test]
    fn a_schedule_reads_as_cadence_retention_and_runs_in_rfc3339_and_relative() {
        let view = ScheduleView::from(&info(Cadence::EveryMinutes(60)));
        assert_eq!(
            view.lines(NOW),
            vec![
                "app: every 1h",
                "  retention  keep 3, max age 30d",
                "  next run   2023-11-14T22:43:20Z (in 30m)",
                "  last run   never",
                "  set at     2023-11-14T20:13:20Z",
            ]
        );
        let ran = ScheduleView::from(&ScheduleInfo {
            retry_at: Some(NOW + 60 * S),
            last_run_at: Some(NOW - 3600 * S),
            last_operation_id: Some(12),
            ..info(Cadence::Cron("0 * * * *".into()))
        });
        let lines = ran.lines(NOW);
        assert_eq!(lines[0], "app: cron \"0 * * * *\" (UTC)");
        assert_eq!(
            lines[3],
            "  retry      2023-11-14T22:14:20Z (in 1m) (the module was busy)"
        );
        assert_eq!(
            lines[4],
            "  last run   2023-11-14T21:13:20Z (1h ago), operation #12 (`keepsake history app`)"
        );
    }

    #[test]
    fn the_json_form_has_the_cadence_in_words_and_in_fields() {
        let every =
            serde_json::to_value(ScheduleView::from(&info(Cadence::EveryMinutes(1440)))).unwrap();
        assert_eq!(every["cadence"], "every 1d");
        assert_eq!(every["every_minutes"], 1440);
        assert!(every["cron"].is_null());
        assert_eq!(every["keep"], 3);
        assert_eq!(every["max_age_seconds"], 30 * 86_400);
        assert_eq!(every["next_run_at_ns"], NOW + 1800 * S);
        assert!(every["retry_at"].is_null());
        assert!(every.get("retention_text").is_none());
        let cron = serde_json::to_value(ScheduleView::from(&info(Cadence::Cron(
            "30 2 * * 1-5".into(),
        ))))
        .unwrap();
        assert_eq!(cron["cron"], "30 2 * * 1-5");
        assert!(cron["every_minutes"].is_null());
    }
}
