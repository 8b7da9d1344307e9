//! The Applications page: the orchestrator's groups (issue 15 calls them applications) with
//! their members and group snapshots (time window, complete or partial), taking a group
//! snapshot, and restoring a complete one after a confirmation that names the application and
//! its time. Each answer shows what happened to every member.
//!
//! One round of calls: `list_groups`, then every group's `list_group_snapshots` at once.

use std::sync::Arc;

use axum::Form;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use futures::future::join_all;
use orchestrator_api::{
    GroupError, GroupInfo, GroupMemberReport, GroupRestoreArgs, GroupSnapshotArgs,
    GroupSnapshotInfo,
};

use super::page::{ActionReply, PageError, error_status, error_text, esc, layout, url_part};
use super::state::App;
use crate::commands::group::{GroupSnapshotView, MemberReportView};
use crate::operations::orchestrator::Answered;

/// `GET /applications`.
pub async fn show(State(app): State<Arc<App>>) -> Result<Html<String>, PageError> {
    let orch = app.orch();
    let groups = orch
        .list_groups()
        .await
        .answered()
        .map_err(|e| PageError::new(&app, "Applications", "Applications", e))?;
    let snapshots = join_all(groups.iter().map(|g| orch.list_group_snapshots(&g.name))).await;
    let mut body = String::from(
        "<p class=\"muted\">An application is a group of modules snapshotted and restored as one \
         consistent cut: every member is stopped before any is snapshotted or loaded, and all \
         are started again whatever happens.</p>",
    );
    if groups.is_empty() {
        body.push_str(
            "<p id=\"no-applications\">No applications yet. Group modules with \
             <code>keepsake group add &lt;name&gt; &lt;module&gt;…</code>.</p>",
        );
    }
    for (g, snaps) in groups.iter().zip(snapshots) {
        body.push_str(&render_group(g, snaps.answered()));
    }
    Ok(layout(&app, "Applications", "Applications", &body))
}

fn render_group(g: &GroupInfo, snaps: anyhow::Result<Vec<GroupSnapshotInfo>>) -> String {
    let name = esc(&g.name);
    let href = url_part(&g.name);
    let members: Vec<String> = g
        .modules
        .iter()
        .map(|m| format!("<a href=\"/modules/{}\">{}</a>", url_part(m), esc(m)))
        .collect();
    let results = format!("group-results-{href}");
    let mut html = format!(
        "<section class=\"application\" data-group=\"{name}\"><h2>{name}</h2>\
         <p>Members: {members}</p>\
         <form class=\"inline take-group\" data-action=\"/applications/{href}/snapshot\">\
         <label>Label <input name=\"label\" maxlength=\"64\" placeholder=\"optional\"></label>\
         <label><input type=\"checkbox\" name=\"keep_partial\" value=\"true\"> keep a partial one \
         if a member fails</label>\
         <button type=\"submit\" data-results=\"{results}\">Take a group snapshot</button></form>\
         <div id=\"{results}\" class=\"results\"></div>",
        members = members.join(", "),
    );
    let snaps = match snaps {
        Ok(s) => s,
        Err(e) => {
            html.push_str(&format!(
                "<div class=\"error\" role=\"alert\">{}</div></section>",
                esc(&error_text(&e))
            ));
            return html;
        }
    };
    if snaps.is_empty() {
        html.push_str("<p class=\"muted\">No group snapshots yet.</p></section>");
        return html;
    }
    let mut rows = String::new();
    let mut sorted: Vec<&GroupSnapshotInfo> = snaps.iter().collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.id));
    for s in sorted {
        let v = GroupSnapshotView::from(s);
        let status = if v.missing.is_empty() {
            v.status.to_string()
        } else {
            format!("{} (missing {})", v.status, v.missing.join(", "))
        };
        let members: Vec<String> = v
            .members
            .iter()
            .map(|m| {
                format!(
                    "{}: <code>{}</code>",
                    esc(&m.module),
                    esc(m
                        .snapshot_id
                        .as_deref()
                        .map(|id| &id[..16.min(id.len())])
                        .unwrap_or("missing"))
                )
            })
            .collect();
        let restore = if v.status == "complete" {
            format!(
                "<button class=\"restore\" data-action=\"/applications/{href}/snapshots/{id}/restore\" \
                 data-results=\"{results}\" data-confirm=\"{confirm}\">Restore</button>",
                id = v.id,
                confirm = esc(&format!(
                    "Restore application {} to its group snapshot {} taken at {}? Every member ({}) \
                     is stopped, loaded with its snapshot of that cut and started again: their \
                     current state is replaced.",
                    g.name,
                    v.id,
                    v.window_start,
                    v.members
                        .iter()
                        .map(|m| m.module.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            )
        } else {
            "<span class=\"muted\" title=\"a partial group snapshot is not a consistent cut\">\
             not restorable as a unit</span>"
                .to_string()
        };
        rows.push_str(&format!(
            "<tr data-group-snapshot-id=\"{id}\" class=\"status-{cls}\"><td>{id}</td>\
             <td><time data-utc=\"{ms}\">{start}</time></td><td class=\"num\">{window} ms</td>\
             <td>{label}</td><td>{status}</td><td>{members}</td><td class=\"actions\">{restore}</td></tr>",
            id = v.id,
            cls = esc(v.status),
            ms = s.window_start / 1_000_000,
            start = esc(&v.window_start),
            window = v.window_ms,
            label = esc(v.label.as_deref().unwrap_or("-")),
            status = esc(&status),
            members = members.join("<br>"),
        ));
    }
    html.push_str(&format!(
        "<table class=\"group-snapshots\"><thead><tr><th>Id</th><th>Taken at</th>\
         <th>Window</th><th>Label</th><th>Status</th><th>Members</th><th></th></tr></thead>\
         <tbody>{rows}</tbody></table></section>"
    ));
    html
}

/// Per-member outcomes as a table.
fn members_table(members: &[GroupMemberReport]) -> String {
    let mut rows = String::new();
    for m in members.iter().map(MemberReportView::from) {
        let detail = match (&m.step, &m.reason) {
            (Some(step), Some(reason)) => format!("{step}: {reason}"),
            (None, Some(reason)) => reason.clone(),
            _ => String::new(),
        };
        rows.push_str(&format!(
            "<tr class=\"{cls}\" data-module=\"{module}\"><td>{module}</td><td>{outcome}</td>\
             <td>{running}</td><td>{detail}</td></tr>",
            cls = if m.outcome == "done" { "ok" } else { "failed" },
            module = esc(&m.module),
            outcome = esc(m.outcome),
            running = if m.running { "runs" } else { "NOT running" },
            detail = esc(&detail),
        ));
    }
    format!(
        "<table class=\"member-report\"><thead><tr><th>Member</th><th>Outcome</th><th>Running</th>\
         <th>Detail</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

/// A failed group call: the orchestrator's text, with each member's outcome when it says.
fn group_failed(e: &anyhow::Error) -> Response {
    let html = match e.downcast_ref::<GroupError>() {
        Some(GroupError::OperationFailed { members, .. }) => Some(members_table(members)),
        _ => None,
    };
    (
        error_status(e),
        Json(ActionReply {
            ok: false,
            message: error_text(e),
            reload: false,
            html,
        }),
    )
        .into_response()
}

/// `POST /applications/{group}/snapshot`: label, keep_partial.
pub async fn take(
    State(app): State<Arc<App>>,
    Path(group): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let label = fields
        .iter()
        .rev()
        .find(|(k, v)| k == "label" && !v.trim().is_empty())
        .map(|(_, v)| v.trim().to_string());
    let keep_partial = fields
        .iter()
        .any(|(k, v)| k == "keep_partial" && v == "true");
    let args = GroupSnapshotArgs {
        label,
        keep_partial: keep_partial.then_some(true),
        stop_timeout_seconds: None,
    };
    match app
        .orch()
        .take_group_snapshot(&group, args)
        .await
        .answered()
    {
        Ok(info) => {
            let v = GroupSnapshotView::from(&info);
            let complete = v.status == "complete";
            Json(ActionReply {
                ok: complete,
                message: if complete {
                    format!(
                        "Took group snapshot {} of {group} at {} (complete; every member stopped for {} ms)",
                        v.id, v.window_start, v.window_ms
                    )
                } else {
                    format!(
                        "Group snapshot {} of {group} is partial: {} missing (kept as asked)",
                        v.id,
                        v.missing.join(", ")
                    )
                },
                reload: true,
                html: None,
            })
            .into_response()
        }
        Err(e) => group_failed(&e),
    }
}

/// `POST /applications/{group}/snapshots/{id}/restore` (the page asked for confirmation).
pub async fn restore(
    State(app): State<Arc<App>>,
    Path((group, id)): Path<(String, u64)>,
) -> Response {
    let args = GroupRestoreArgs {
        group_snapshot_id: Some(id),
        stop_timeout_seconds: None,
    };
    match app
        .orch()
        .restore_group_snapshot(&group, args)
        .await
        .answered()
    {
        Ok(report) => Json(ActionReply {
            ok: report.restored,
            message: if report.restored {
                format!(
                    "Restored {group} to group snapshot {} (history operation {})",
                    report.group_snapshot_id, report.operation_id
                )
            } else {
                format!(
                    "{group} was NOT restored to group snapshot {} (history operation {}); each \
                     member's outcome is below",
                    report.group_snapshot_id, report.operation_id
                )
            },
            reload: false,
            html: Some(members_table(&report.members)),
        })
        .into_response(),
        Err(e) => group_failed(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use orchestrator_api::GroupMemberOutcome;

    #[test]
    fn a_member_report_names_each_member_its_outcome_and_whether_it_runs() {
        let html = members_table(&[
            GroupMemberReport {
                module: "a".into(),
                outcome: GroupMemberOutcome::Done,
                running: true,
            },
            GroupMemberReport {
                module: "b<".into(),
                outcome: GroupMemberOutcome::UndoFailed {
                    reason: "gone".into(),
                },
                running: false,
            },
        ]);
        assert!(html.contains("data-module=\"a\""), "{html}");
        assert!(html.contains("b&lt;"), "escaped: {html}");
        assert!(html.contains("undo_failed") && html.contains("NOT running"));
    }
}
