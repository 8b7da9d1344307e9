//! The Module page: one module's snapshots on a timeline and in a table (take, restore,
//! delete, pin, unpin), its settings, and its schedule with an editor that previews the next
//! runs. Built from one round of three calls made at the same time.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Html;
use orchestrator_api::{Cadence, ModuleInfo, ScheduleInfo, SnapshotInfo};

use super::page::{PageError, esc, layout, url_part};
use super::state::App;
use super::timeline;
use crate::commands::views::{ModuleView, SnapshotView};
use crate::operations::orchestrator::Answered;
use crate::operations::orchestrator::find_module;
use crate::operations::schedule::{describe_cadence, describe_retention, format_duration};
use crate::output;

/// `GET /modules/{name}`.
pub async fn show(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
) -> Result<Html<String>, PageError> {
    let orch = app.orch();
    let (modules, snapshots, schedules) = futures::join!(
        orch.list_modules(),
        orch.list_snapshots(&name),
        orch.list_schedules(Some(&name))
    );
    let title = format!("Module {name}");
    let fail = |e| PageError::new(&app, &title, "Modules", e);
    let modules = modules.answered().map_err(fail)?;
    let module = find_module(&modules, &name).map_err(fail)?;
    let snapshots = snapshots.answered().map_err(fail)?;
    let schedule = schedules.answered().map_err(fail)?.into_iter().next();
    Ok(layout(
        &app,
        &title,
        "Modules",
        &render(module, &snapshots, schedule.as_ref()),
    ))
}

fn render(
    module: &ModuleInfo,
    snapshots: &[SnapshotInfo],
    schedule: Option<&ScheduleInfo>,
) -> String {
    let v = ModuleView::from(module);
    let base = format!("/modules/{}", url_part(&v.name));
    let busy = match &v.busy_with {
        Some(op) => format!(" · <span class=\"busy\">busy: {}</span>", esc(op)),
        None => String::new(),
    };
    let mut html = format!(
        "<p><code>{id}</code> · {kind} · {count} of {max} snapshots · {storage} ({cost}){busy} · \
         <a href=\"/upgrade?module={href}\">Upgrade…</a> · <a href=\"/history?module={href}\">History</a></p>\
         <h2>Snapshots</h2>{timeline}",
        id = esc(&v.canister_id),
        kind = esc(&v.kind),
        count = snapshots.len(),
        max = v.max_snapshots,
        storage = esc(&v.storage_text()),
        cost = esc(&v.cost_text()),
        href = url_part(&v.name),
        timeline = timeline::render(snapshots),
    );
    html.push_str(&format!(
        "<form id=\"take-form\" class=\"inline\" data-action=\"{base}/snapshots\">\
         <label>Label <input name=\"label\" maxlength=\"64\" placeholder=\"optional\"></label>\
         <label><input type=\"checkbox\" name=\"pin\" value=\"true\"> pin it</label>\
         <button type=\"submit\">Take a snapshot</button></form>"
    ));
    html.push_str(&snapshot_table(&v.name, &base, snapshots));
    html.push_str(&settings_form(&v, &base));
    html.push_str(&schedule_section(&base, schedule));
    html
}

fn snapshot_table(name: &str, base: &str, snapshots: &[SnapshotInfo]) -> String {
    if snapshots.is_empty() {
        return String::new();
    }
    let mut sorted: Vec<SnapshotView> = snapshots.iter().map(SnapshotView::from).collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.taken_at_ns));
    let mut rows = String::new();
    for s in &sorted {
        let at = format!("{base}/snapshots/{}", s.id);
        let pin = if s.pinned {
            format!("<button data-action=\"{at}/unpin\">Unpin</button>")
        } else {
            format!("<button data-action=\"{at}/pin\">Pin</button>")
        };
        rows.push_str(&format!(
            "<tr data-snapshot-id=\"{id}\"><td><code title=\"{id}\">{short}</code></td>\
             <td><time data-utc=\"{ms}\">{taken}</time></td><td class=\"num\">{size}</td><td>{label}</td>\
             <td>{trigger}</td><td>{markers}</td><td class=\"actions\">\
             <button class=\"restore\" data-action=\"{at}/restore\" data-confirm=\"{restore}\">Restore</button> \
             <button class=\"delete\" data-action=\"{at}/delete\" data-confirm=\"{delete}\">Delete</button> {pin}</td></tr>",
            id = s.id,
            short = esc(&s.id[..s.id.len().min(16)]),
            ms = s.taken_at_ns / 1_000_000,
            taken = esc(&s.taken_at),
            size = esc(&output::bytes(s.total_size)),
            label = esc(s.label.as_deref().unwrap_or("-")),
            trigger = esc(s.trigger.as_deref().unwrap_or("external")),
            markers = esc(&s.markers()),
            restore = esc(&format!(
                "Restore module {name} to its snapshot taken at {}? The module's current state is replaced by the snapshot's.",
                s.taken_at
            )),
            delete = esc(&format!(
                "Delete the snapshot of module {name} taken at {}? It cannot be brought back.",
                s.taken_at
            )),
        ));
    }
    format!(
        "<table id=\"snapshots\"><thead><tr><th>Id</th><th>Taken (UTC)</th><th>Size</th><th>Label</th>\
         <th>Trigger</th><th>Kept</th><th></th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

fn settings_form(v: &ModuleView, base: &str) -> String {
    let checked = |on: bool| if on { " checked" } else { "" };
    format!(
        "<h2>Settings</h2><form id=\"settings-form\" data-action=\"{base}/settings\">\
         <label>Max snapshots <input name=\"max_snapshots\" type=\"number\" min=\"1\" max=\"10\" value=\"{max}\"></label>\
         <input type=\"hidden\" name=\"snapshot_before_upgrade\" value=\"false\">\
         <label><input type=\"checkbox\" name=\"snapshot_before_upgrade\" value=\"true\"{sbu}> snapshot before each upgrade</label>\
         <input type=\"hidden\" name=\"stop_for_snapshot\" value=\"false\">\
         <label><input type=\"checkbox\" name=\"stop_for_snapshot\" value=\"true\"{sfs}> stop the module while a snapshot is taken</label>\
         <label>Health check method <input name=\"health_check\" value=\"{hc}\" placeholder=\"none\"></label>\
         <button type=\"submit\">Save settings</button></form>",
        max = v.max_snapshots,
        sbu = checked(v.snapshot_before_upgrade),
        sfs = checked(v.stop_for_snapshot),
        hc = esc(v.health_check.as_deref().unwrap_or("")),
    )
}

fn schedule_section(base: &str, schedule: Option<&ScheduleInfo>) -> String {
    let now = output::now_ns();
    let (current, kind, value, keep, age) = match schedule {
        Some(s) => {
            let (kind, value) = match &s.cadence {
                Cadence::EveryMinutes(m) => ("every", format_duration(u64::from(*m) * 60)),
                Cadence::Cron(e) => ("cron", e.clone()),
            };
            (
                format!(
                    "<p id=\"schedule-current\">{} · {} · next run {}</p>",
                    esc(&describe_cadence(&s.cadence)),
                    esc(&describe_retention(&s.retention)),
                    esc(&output::time_and_relative(
                        s.retry_at.unwrap_or(s.next_run_at),
                        now
                    ))
                ),
                kind,
                value,
                s.retention.keep.map(|k| k.to_string()).unwrap_or_default(),
                s.retention
                    .max_age_seconds
                    .map(format_duration)
                    .unwrap_or_default(),
            )
        }
        None => (
            "<p id=\"schedule-current\">No schedule.</p>".into(),
            "cron",
            String::new(),
            String::new(),
            String::new(),
        ),
    };
    let selected = |k: &str| if k == kind { " selected" } else { "" };
    let clear = if schedule.is_some() {
        format!(
            "<button type=\"button\" data-action=\"{base}/schedule/clear\" \
             data-confirm=\"Clear this module's schedule? No more scheduled snapshots are taken.\">Clear schedule</button>"
        )
    } else {
        String::new()
    };
    format!(
        "<h2>Schedule</h2>{current}<form id=\"schedule-form\" data-action=\"{base}/schedule\">\
         <label>Cadence <select name=\"kind\"><option value=\"cron\"{cron}>cron (UTC)</option>\
         <option value=\"every\"{every}>every</option></select></label>\
         <label>Expression or interval <input name=\"value\" value=\"{value}\" placeholder=\"30 2 * * * or 1d\" required></label>\
         <label>Keep <input name=\"keep\" type=\"number\" min=\"1\" max=\"10\" value=\"{keep}\" placeholder=\"max_snapshots\"></label>\
         <label>Max age <input name=\"max_age\" value=\"{age}\" placeholder=\"e.g. 30d\"></label>\
         <button type=\"submit\">Save schedule</button> {clear}</form>\
         <div id=\"schedule-preview\" class=\"preview\" aria-live=\"polite\"></div>",
        cron = selected("cron"),
        every = selected("every"),
        value = esc(&value),
        keep = esc(&keep),
        age = esc(&age),
    )
}
