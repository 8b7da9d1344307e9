//! `keepsake group …`: groups (applications) of modules, snapshotted and restored as one
//! consistent cut (`keepsake snapshot take --group`, `keepsake snapshot restore --group`);
//! `upgrade.rs` runs `keepsake upgrade --group`.

pub mod upgrade;

use anyhow::Result;
use clap::{Args, Subcommand};
use orchestrator_api::{
    GroupInfo, GroupMemberOutcome, GroupMemberReport, GroupRestoreReport, GroupSnapshotInfo,
    GroupSnapshotStatus,
};
use serde::Serialize;

use crate::context::Ctx;
use crate::operations::orchestrator::Answered;
use crate::output;

/// Group commands.
#[derive(Subcommand, Debug)]
pub enum GroupCommand {
    /// Add a group of registered modules (a module may be in several groups).
    Add(AddArgs),
    /// Remove a group (its modules and their snapshots stay).
    Remove(NameArgs),
    /// List the groups and their modules.
    List(ListArgs),
    /// Show a group: its modules and its group snapshots.
    Show(NameArgs),
}

/// Add a group: `keepsake group add shop app index ledger`.
#[derive(Args, Debug)]
pub struct AddArgs {
    /// The group's name (letters, digits, `-` and `_`; at most 64).
    pub name: String,
    /// Its modules, by registered name.
    #[arg(required = true)]
    pub modules: Vec<String>,
}

/// A group's name.
#[derive(Args, Debug)]
pub struct NameArgs {
    /// The group's name.
    pub name: String,
}

/// List the groups.
#[derive(Args, Debug)]
pub struct ListArgs {}

/// A group in `--json`.
#[derive(Serialize)]
pub struct GroupView {
    /// Its name.
    pub name: String,
    /// Its modules.
    pub modules: Vec<String>,
    /// When it was added (RFC 3339).
    pub added_at: String,
    /// Who added it.
    pub added_by: String,
}

impl From<&GroupInfo> for GroupView {
    fn from(g: &GroupInfo) -> Self {
        Self {
            name: g.name.clone(),
            modules: g.modules.clone(),
            added_at: output::time(g.added_at),
            added_by: g.added_by.to_text(),
        }
    }
}

/// One member of a group snapshot in `--json`.
#[derive(Serialize)]
pub struct MemberSnapshotView {
    /// The module.
    pub module: String,
    /// Its snapshot (hex), none when missing from a partial group snapshot.
    pub snapshot_id: Option<String>,
}

/// A group snapshot in `--json`.
#[derive(Serialize)]
pub struct GroupSnapshotView {
    /// Its id.
    pub id: u64,
    /// The group.
    pub group: String,
    /// Its label.
    pub label: Option<String>,
    /// `complete` or `partial`.
    pub status: &'static str,
    /// The members without a snapshot (partial only).
    pub missing: Vec<String>,
    /// Each member's snapshot.
    pub members: Vec<MemberSnapshotView>,
    /// When the first member was asked to stop (RFC 3339).
    pub window_start: String,
    /// When the last member had started again.
    pub window_end: String,
    /// The window in milliseconds.
    pub window_ms: u64,
    /// Whether every member's snapshot is pinned (`snapshot pin --group`).
    pub pinned: bool,
}

impl From<&GroupSnapshotInfo> for GroupSnapshotView {
    fn from(g: &GroupSnapshotInfo) -> Self {
        let (status, missing) = match &g.status {
            GroupSnapshotStatus::Complete => ("complete", Vec::new()),
            GroupSnapshotStatus::Partial { missing } => ("partial", missing.clone()),
        };
        Self {
            id: g.id,
            group: g.group.clone(),
            label: g.label.clone(),
            status,
            missing,
            members: g
                .members
                .iter()
                .map(|m| MemberSnapshotView {
                    module: m.module.clone(),
                    snapshot_id: m.snapshot_id.as_ref().map(hex::encode),
                })
                .collect(),
            window_start: output::time(g.window_start),
            window_end: output::time(g.window_end),
            window_ms: g.window_end.saturating_sub(g.window_start) / 1_000_000,
            pinned: g.pinned.unwrap_or(false),
        }
    }
}

/// One member's outcome in `--json`.
#[derive(Serialize)]
pub struct MemberReportView {
    /// The module.
    pub module: String,
    /// `done`, `failed`, `undone`, `undo_failed` or `untouched`.
    pub outcome: &'static str,
    /// The failed step, when `failed`.
    pub step: Option<String>,
    /// Why, when `failed` or `undo_failed`.
    pub reason: Option<String>,
    /// Whether it runs afterwards.
    pub running: bool,
}

impl From<&GroupMemberReport> for MemberReportView {
    fn from(r: &GroupMemberReport) -> Self {
        let (outcome, step, reason) = match &r.outcome {
            GroupMemberOutcome::Done => ("done", None, None),
            GroupMemberOutcome::Failed { step, reason } => {
                ("failed", Some(step.to_string()), Some(reason.clone()))
            }
            GroupMemberOutcome::Undone => ("undone", None, None),
            GroupMemberOutcome::UndoFailed { reason } => {
                ("undo_failed", None, Some(reason.clone()))
            }
            GroupMemberOutcome::Untouched => ("untouched", None, None),
        };
        Self {
            module: r.module.clone(),
            outcome,
            step,
            reason,
            running: r.running,
        }
    }
}

/// A group restore's report in `--json`.
#[derive(Serialize)]
pub struct RestoreReportView {
    /// The history operation.
    pub operation_id: u64,
    /// The group snapshot.
    pub group_snapshot_id: u64,
    /// Whether every member now holds the group snapshot's state.
    pub restored: bool,
    /// Per member.
    pub members: Vec<MemberReportView>,
}

impl From<&GroupRestoreReport> for RestoreReportView {
    fn from(r: &GroupRestoreReport) -> Self {
        Self {
            operation_id: r.operation_id,
            group_snapshot_id: r.group_snapshot_id,
            restored: r.restored,
            members: r.members.iter().map(MemberReportView::from).collect(),
        }
    }
}

/// Prints per-member outcomes as a table.
pub fn print_members(members: &[MemberReportView]) {
    let rows: Vec<Vec<String>> = members
        .iter()
        .map(|m| {
            let detail = match (&m.step, &m.reason) {
                (Some(step), Some(reason)) => format!("{step}: {reason}"),
                (None, Some(reason)) => reason.clone(),
                _ => String::new(),
            };
            vec![
                m.module.clone(),
                m.outcome.to_string(),
                if m.running { "yes" } else { "NO" }.to_string(),
                detail.split_whitespace().collect::<Vec<_>>().join(" "),
            ]
        })
        .collect();
    output::table(&["MODULE", "OUTCOME", "RUNNING", "DETAIL"], &rows);
}

/// `group show`'s `--json`.
#[derive(Serialize)]
struct ShowView {
    group: GroupView,
    snapshots: Vec<GroupSnapshotView>,
}

/// Runs a group command.
pub async fn exec(ctx: &Ctx, c: GroupCommand) -> Result<()> {
    let orch = ctx.orchestrator().await?;
    match c {
        GroupCommand::Add(a) => {
            let info = orch
                .add_group(&a.name, a.modules.clone())
                .await
                .answered()?;
            let view = GroupView::from(&info);
            if ctx.json() {
                return output::json(&view);
            }
            output::println(&format!(
                "Added group {} with {}",
                view.name,
                view.modules.join(", ")
            ));
        }
        GroupCommand::Remove(a) => {
            orch.remove_group(&a.name).await.answered()?;
            if ctx.json() {
                return output::json(&serde_json::json!({ "removed": a.name }));
            }
            output::println(&format!(
                "Removed group {} (its modules and their snapshots stay)",
                a.name
            ));
        }
        GroupCommand::List(_) => {
            let groups: Vec<GroupView> = orch
                .list_groups()
                .await
                .answered()?
                .iter()
                .map(Into::into)
                .collect();
            if ctx.json() {
                return output::json(&groups);
            }
            if groups.is_empty() {
                output::println("No groups. Add one with `keepsake group add <name> <module>…`.");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = groups
                .iter()
                .map(|g| vec![g.name.clone(), g.modules.join(", ")])
                .collect();
            output::table(&["GROUP", "MODULES"], &rows);
        }
        GroupCommand::Show(a) => {
            let group = orch
                .list_groups()
                .await
                .answered()?
                .into_iter()
                .find(|g| g.name == a.name)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "no group named {:?}; `keepsake group list` shows the groups",
                        a.name
                    )
                })?;
            let snapshots = orch.list_group_snapshots(&a.name).await.answered()?;
            let view = ShowView {
                group: GroupView::from(&group),
                snapshots: snapshots.iter().map(Into::into).collect(),
            };
            if ctx.json() {
                return output::json(&view);
            }
            output::println(&format!(
                "Group {}: {}",
                view.group.name,
                view.group.modules.join(", ")
            ));
            if view.snapshots.is_empty() {
                output::println(
                    "No group snapshots. Take one with `keepsake snapshot take --group <group>`.",
                );
                return Ok(());
            }
            let rows: Vec<Vec<String>> = view
                .snapshots
                .iter()
                .map(|s| {
                    vec![
                        s.id.to_string(),
                        s.window_start.clone(),
                        format!("{} ms", s.window_ms),
                        if s.pinned {
                            format!("{} pinned", s.status)
                        } else {
                            s.status.to_string()
                        },
                        s.label.clone().unwrap_or_default(),
                        s.members
                            .iter()
                            .map(|m| {
                                format!(
                                    "{}={}",
                                    m.module,
                                    m.snapshot_id.as_deref().unwrap_or("missing")
                                )
                            })
                            .collect::<Vec<_>>()
                            .join(" "),
                    ]
                })
                .collect();
            output::table(
                &[
                    "ID",
                    "TAKEN",
                    "WINDOW",
                    "STATUS",
                    "LABEL",
                    "MEMBER SNAPSHOTS",
                ],
                &rows,
            );
        }
    }
    Ok(())
}
