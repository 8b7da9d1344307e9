//! `keepsake snapshot take <module> [--label …] [--pin]` and
//! `keepsake snapshot take --all [--label …] [--pin] [--concurrency N]` (a fleet snapshot).

use anyhow::Result;
use clap::Args;
use orchestrator_api::{
    FleetSnapshotArgs, FleetSnapshotResult, GroupSnapshotArgs, TakeSnapshotArgs,
};
use serde::Serialize;

use crate::commands::group::GroupSnapshotView;
use crate::commands::views::SnapshotView;
use crate::context::Ctx;
use crate::error::{Reported, usage};
use crate::operations::orchestrator::Answered;
use crate::output;

/// Take a snapshot of a module, or of every module with --all. When a module holds its
/// `max_snapshots`, the oldest unpinned snapshot is replaced.
#[derive(Args, Debug)]
pub struct TakeArgs {
    /// The module (name or canister id); not with --all or --group.
    #[arg(required_unless_present_any = ["all", "group"], conflicts_with = "all")]
    pub module: Option<String>,
    /// A label to remember it by (at most 100 characters); with --all, for every snapshot.
    #[arg(long)]
    pub label: Option<String>,
    /// Pin the new snapshot (with --all, every new snapshot): nothing deletes or replaces it
    /// automatically until `keepsake snapshot unpin`.
    #[arg(long)]
    pub pin: bool,
    /// Snapshot every registered module (a fleet snapshot). One module failing does not stop
    /// the others; every result is printed and the exit code is 1 if any module failed.
    #[arg(long)]
    pub all: bool,
    /// Snapshot every module of this group as one consistent cut: all stopped (in parallel,
    /// each within a bounded time), all taken, all started again. All or nothing: if one
    /// member fails, the others' new snapshots are deleted (see --keep-partial).
    #[arg(long, conflicts_with_all = ["module", "all"])]
    pub group: Option<String>,
    /// With --group: keep the members' snapshots when another member fails; the group
    /// snapshot is then recorded as partial (not restorable as a unit) and the exit code is 1.
    #[arg(long)]
    pub keep_partial: bool,
    /// With --all: how many modules are snapshotted at once (1 to 10; default 4).
    // Not `requires = "all"`: clap counts the flag's default `false` as present.
    #[arg(long, conflicts_with = "module", value_parser = clap::value_parser!(u8).range(1..=10))]
    pub concurrency: Option<u8>,
}

/// One module's outcome in `--all`'s `--json` output.
#[derive(Serialize)]
struct FleetResultView {
    /// The module.
    module: String,
    /// `ok` or `failed`.
    status: &'static str,
    /// Its new snapshot when `ok`.
    snapshot: Option<SnapshotView>,
    /// Why it failed, when `failed`.
    error: Option<String>,
}

/// `--all`'s `--json` output.
#[derive(Serialize)]
struct FleetView {
    /// One per registered module, by name.
    results: Vec<FleetResultView>,
    /// How many failed.
    failed: usize,
}

impl From<&FleetSnapshotResult> for FleetResultView {
    fn from(r: &FleetSnapshotResult) -> Self {
        match &r.result {
            Ok(info) => Self {
                module: r.module.clone(),
                status: "ok",
                snapshot: Some(SnapshotView::from(info)),
                error: None,
            },
            Err(e) => Self {
                module: r.module.clone(),
                status: "failed",
                snapshot: None,
                error: Some(e.to_string()),
            },
        }
    }
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &TakeArgs) -> Result<()> {
    if let Some(l) = &args.label {
        orchestrator_api::validate_label(l).map_err(usage)?;
    }
    if let Some(group) = &args.group {
        return take_group(ctx, group, args).await;
    }
    if args.keep_partial {
        return Err(usage("--keep-partial goes with --group"));
    }
    match &args.module {
        Some(module) if !args.all => take_one(ctx, module, args).await,
        // clap enforces "a module or --all, not both"; this covers a caller bypassing it.
        Some(_) => Err(usage("give a module or --all, not both")),
        None if args.all => take_all(ctx, args).await,
        None => Err(usage("give a module, or --all for every module")),
    }
}

async fn take_one(ctx: &Ctx, module: &str, args: &TakeArgs) -> Result<()> {
    let orch = ctx.orchestrator().await?;
    let name = orch.module_name(module).await?;
    let info = orch
        .take_snapshot(
            &name,
            TakeSnapshotArgs {
                label: args.label.clone(),
                pin: args.pin.then_some(true),
            },
        )
        .await
        .answered()?;
    ctx.show(&SnapshotView::from(&info), |view| {
        format!(
            "Took snapshot {} of {} ({}, {}){}",
            view.id,
            view.module,
            output::bytes(view.total_size),
            view.taken_at,
            if view.pinned { ", pinned" } else { "" }
        )
    })
}

async fn take_group(ctx: &Ctx, group: &str, args: &TakeArgs) -> Result<()> {
    if args.pin {
        return Err(usage(
            "--pin does not go with --group yet; pin the members' snapshots by label",
        ));
    }
    let info = ctx
        .orchestrator()
        .await?
        .take_group_snapshot(
            group,
            GroupSnapshotArgs {
                label: args.label.clone(),
                keep_partial: args.keep_partial.then_some(true),
                stop_timeout_seconds: None,
            },
        )
        .await
        .answered()?;
    let view = GroupSnapshotView::from(&info);
    if ctx.json() {
        output::json(&view)?;
    } else {
        output::println(&format!(
            "Took group snapshot {} of {} ({}; every member stopped for {} ms)",
            view.id, view.group, view.status, view.window_ms
        ));
        let rows: Vec<Vec<String>> = view
            .members
            .iter()
            .map(|m| {
                vec![
                    m.module.clone(),
                    m.snapshot_id.clone().unwrap_or_else(|| "missing".into()),
                ]
            })
            .collect();
        output::table(&["MODULE", "SNAPSHOT"], &rows);
    }
    if view.status == "partial" {
        return Err(Reported(format!(
            "group snapshot {} is partial: {} missing (kept as asked with --keep-partial)",
            view.id,
            view.missing.join(", ")
        ))
        .into());
    }
    Ok(())
}

async fn take_all(ctx: &Ctx, args: &TakeArgs) -> Result<()> {
    let results = ctx
        .orchestrator()
        .await?
        .take_all_snapshots(FleetSnapshotArgs {
            label: args.label.clone(),
            concurrency: args.concurrency,
            pin: args.pin.then_some(true),
        })
        .await
        .answered()?;
    let view = FleetView {
        results: results.iter().map(FleetResultView::from).collect(),
        failed: results.iter().filter(|r| r.result.is_err()).count(),
    };
    if ctx.json() {
        output::json(&view)?;
    } else if view.results.is_empty() {
        output::println(
            "No modules. Register one with `keepsake module add <canister-id> --name <name>`.",
        );
    } else {
        let rows: Vec<Vec<String>> = view.results.iter().map(row).collect();
        output::table(&["MODULE", "RESULT", "SNAPSHOT OR REASON"], &rows);
    }
    if view.failed > 0 {
        // Every result is printed above; the exit code still says that something failed.
        return Err(Reported(format!(
            "{} of {} modules failed; the others were snapshotted",
            view.failed,
            view.results.len()
        ))
        .into());
    }
    Ok(())
}

/// A table row: module, ok | failed, the snapshot (id and size) or the reason.
fn row(r: &FleetResultView) -> Vec<String> {
    let detail = match (&r.snapshot, &r.error) {
        (Some(s), _) => format!("{} ({})", s.id, output::bytes(s.total_size)),
        // Reject messages span lines (controllers, sender); one module stays one line.
        (None, Some(e)) => e.split_whitespace().collect::<Vec<_>>().join(" "),
        (None, None) => String::new(),
    };
    vec![r.module.clone(), r.status.to_string(), detail]
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use orchestrator_api::{CallFailure, SnapshotError, SnapshotInfo};

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        take: TakeArgs,
    }

    fn parse(args: &[&str]) -> Result<TakeArgs, clap::Error> {
        let mut all = vec!["take"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).map(|c| c.take)
    }

    #[test]
    fn a_module_or_all_is_required_and_not_both() {
        assert_eq!(parse(&["app"]).unwrap().module.as_deref(), Some("app"));
        assert!(parse(&["--all"]).unwrap().all);
        assert!(parse(&["--all", "--concurrency", "3", "--label", "x"]).is_ok());
        assert!(parse(&["--all", "--pin"]).unwrap().pin);
        for bad in [
            &[][..],
            &["app", "--all"],
            &["app", "--concurrency", "2"],
            &["--all", "--concurrency", "0"],
            &["--all", "--concurrency", "11"],
        ] {
            let err = parse(bad).unwrap_err();
            // clap's usage errors print on stderr, which main turns into exit code 2.
            assert!(err.use_stderr(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn fleet_results_print_the_snapshot_or_the_reason() {
        let ok = FleetSnapshotResult {
            module: "app".into(),
            result: Ok(SnapshotInfo {
                id: serde_bytes::ByteBuf::from(vec![0xab, 0xcd]),
                module: "app".into(),
                taken_at: 0,
                total_size: 2048,
                label: None,
                trigger: Some(orchestrator_api::Trigger::Fleet),
                external: false,
                pinned: false,
                kept_for_upgrade: false,
            }),
        };
        let failed = FleetSnapshotResult {
            module: "gone".into(),
            result: Err(SnapshotError::CallFailed(CallFailure {
                method: "stop_canister".into(),
                reject_code: 4,
                message: "not a controller.\nSender's ID: x".into(),
            })),
        };
        let ok = FleetResultView::from(&ok);
        assert_eq!(row(&ok), vec!["app", "ok", "abcd (2.0 KiB)"]);
        let failed = FleetResultView::from(&failed);
        let cells = row(&failed);
        assert_eq!(cells[..2], ["gone", "failed"]);
        assert!(cells[2].contains("stop_canister") && cells[2].contains("not a controller"));
        assert!(
            cells[2].ends_with("controller. Sender's ID: x"),
            "{}",
            cells[2]
        );
        let json = serde_json::to_value(&failed).unwrap();
        assert_eq!(json["status"], "failed");
        assert!(json["snapshot"].is_null());
    }
}
