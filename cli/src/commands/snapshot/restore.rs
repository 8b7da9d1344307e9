//! `keepsake snapshot restore <module> [--snapshot <id>]` and
//! `keepsake snapshot restore --group <group> [--snapshot <group-snapshot-id>]`.

use anyhow::Result;
use clap::Args;

use orchestrator_api::GroupRestoreArgs;

use crate::commands::group::{RestoreReportView, print_members};
use crate::commands::views::SnapshotView;
use crate::context::Ctx;
use crate::error::{Reported, echo, usage};
use crate::operations::orchestrator::Answered;
use crate::output;

/// Restore a module to one of its snapshots: the orchestrator stops it (if running), loads the
/// snapshot and starts it again. Its current state is replaced: asks for confirmation.
#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The module (name or canister id); not with --group.
    #[arg(required_unless_present = "group", conflicts_with = "group")]
    pub module: Option<String>,
    /// The snapshot id (hex, from `snapshot list`); with --group, the group snapshot's id
    /// (a number, from `group show`). The newest when omitted.
    #[arg(long)]
    pub snapshot: Option<String>,
    /// Restore every member of this group to a group snapshot: all stopped, a safety snapshot
    /// of each, each loaded, all started. If one load fails, the members already loaded are
    /// rolled back to their safety snapshot; the exit code is then 1.
    #[arg(long)]
    pub group: Option<String>,
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &RestoreArgs) -> Result<()> {
    if let Some(group) = &args.group {
        return restore_group(ctx, group, args).await;
    }
    let Some(module) = &args.module else {
        return Err(usage("give a module, or --group <group>"));
    };
    let (orch, name, id) = super::confirmed(
        ctx,
        module,
        args.snapshot.as_deref(),
        "its newest snapshot",
        |name, which| {
            format!("Restore module {name} to {which}; its current state will be replaced")
        },
    )
    .await?;
    let info = orch
        .restore_snapshot(&name, id.as_deref())
        .await
        .answered()?;
    ctx.show(&SnapshotView::from(&info), |view| {
        format!(
            "Restored {} to snapshot {} (taken {})",
            view.module, view.id, view.taken_at
        )
    })
}

async fn restore_group(ctx: &Ctx, group: &str, args: &RestoreArgs) -> Result<()> {
    let id = args
        .snapshot
        .as_deref()
        .map(|s| {
            s.parse::<u64>().map_err(|_| {
                usage(format!(
                    "--snapshot with --group is a group snapshot id (a number from `keepsake group show {group}`); got {}",
                    echo(s)
                ))
            })
        })
        .transpose()?;
    let orch = ctx.orchestrator().await?;
    ctx.confirm(&format!(
        "Restore every module of group {group} to {}; their current state will be replaced",
        id.map(|id| format!("group snapshot {id}"))
            .unwrap_or_else(|| "its newest complete group snapshot".into())
    ))?;
    let report = orch
        .restore_group_snapshot(
            group,
            GroupRestoreArgs {
                group_snapshot_id: id,
                stop_timeout_seconds: None,
            },
        )
        .await
        .answered()?;
    let view = RestoreReportView::from(&report);
    if ctx.json() {
        output::json(&view)?;
    } else {
        output::println(&if view.restored {
            format!(
                "Restored group {group} to group snapshot {}",
                view.group_snapshot_id
            )
        } else {
            format!(
                "Group {group} was NOT restored to group snapshot {} (history operation {}):",
                view.group_snapshot_id, view.operation_id
            )
        });
        print_members(&view.members);
    }
    if !view.restored {
        return Err(Reported(format!(
            "group restore failed; per member: {}",
            view.members
                .iter()
                .map(|m| format!("{} {}", m.module, m.outcome))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .into());
    }
    Ok(())
}
