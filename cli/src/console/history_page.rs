//! The History page: the orchestrator's audit log, newest first, filtered by module (asked of
//! the orchestrator), kind and outcome (applied to each page of 100 here, as the orchestrator
//! has no such filters), with every operation's steps.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Html;
use orchestrator_api::HistoryQuery;
use serde::Deserialize;

use super::page::{PageError, esc, layout, url_part};
use super::state::App;
use crate::commands::views::OperationView;
use crate::operations::orchestrator::Answered;

/// The filters.
#[derive(Deserialize, Default)]
pub struct Filters {
    /// One module's operations.
    #[serde(default)]
    pub module: String,
    /// take_snapshot | restore_snapshot | delete_snapshot | upgrade | import.
    #[serde(default)]
    pub kind: String,
    /// in_progress | completed | failed | skipped.
    #[serde(default)]
    pub outcome: String,
    /// The page: operations older than this id.
    pub before: Option<u64>,
}

const KINDS: [&str; 5] = [
    "take_snapshot",
    "restore_snapshot",
    "delete_snapshot",
    "upgrade",
    "import",
];
const OUTCOMES: [&str; 4] = ["in_progress", "completed", "failed", "skipped"];

/// `GET /history`.
pub async fn show(
    State(app): State<Arc<App>>,
    Query(f): Query<Filters>,
) -> Result<Html<String>, PageError> {
    let page = app
        .orch()
        .history(HistoryQuery {
            module: (!f.module.is_empty()).then(|| f.module.clone()),
            before: f.before,
            limit: Some(100),
        })
        .await
        .answered()
        .map_err(|e| PageError::new(&app, "History", "History", e))?;
    let ops: Vec<OperationView> = page
        .operations
        .iter()
        .map(OperationView::from)
        .filter(|o| f.kind.is_empty() || o.kind == f.kind)
        .filter(|o| f.outcome.is_empty() || o.status == f.outcome)
        .collect();
    let mut body = filters_form(&f);
    if ops.is_empty() {
        body.push_str("<p class=\"muted\">No operations match.</p>");
    }
    body.push_str("<div id=\"operations\">");
    for o in &ops {
        body.push_str(&operation(o));
    }
    body.push_str("</div>");
    if let Some(next) = page.next {
        body.push_str(&format!(
            "<p><a href=\"/history?module={}&kind={}&outcome={}&before={next}\">Older operations</a></p>",
            url_part(&f.module),
            url_part(&f.kind),
            url_part(&f.outcome)
        ));
    }
    Ok(layout(&app, "History", "History", &body))
}

fn options(all: &[&str], chosen: &str) -> String {
    let mut out = String::from("<option value=\"\">any</option>");
    for v in all {
        let selected = if *v == chosen { " selected" } else { "" };
        out.push_str(&format!("<option{selected}>{v}</option>"));
    }
    out
}

fn filters_form(f: &Filters) -> String {
    format!(
        "<form id=\"history-filters\" class=\"inline\" method=\"get\" action=\"/history\">\
         <label>Module <input name=\"module\" value=\"{}\" placeholder=\"any\"></label>\
         <label>Kind <select name=\"kind\">{}</select></label>\
         <label>Outcome <select name=\"outcome\">{}</select></label>\
         <button type=\"submit\">Filter</button></form>",
        esc(&f.module),
        options(&KINDS, &f.kind),
        options(&OUTCOMES, &f.outcome)
    )
}

/// One operation, its steps in a disclosure.
pub fn operation(o: &OperationView) -> String {
    let mut steps = String::new();
    for s in &o.steps {
        steps.push_str(&format!(
            "<li class=\"step-{outcome}\"><strong>{step}</strong> {outcome}{detail}</li>",
            step = esc(&s.step),
            outcome = esc(&s.outcome),
            detail = s
                .detail
                .as_ref()
                .map(|d| format!(": {}", esc(d)))
                .unwrap_or_default()
        ));
    }
    format!(
        "<details class=\"operation status-{status}\" data-operation-id=\"{id}\"><summary>#{id} \
         <strong>{kind}</strong> of <a href=\"/modules/{href}\">{module}</a> · {status_text} · \
         {trigger} · {started}</summary><p class=\"muted\">by {caller}{snapshot}</p><ol>{steps}</ol></details>",
        id = o.id,
        status = esc(&o.status),
        kind = esc(&o.kind),
        href = url_part(&o.module),
        module = esc(&o.module),
        status_text = esc(&o.status_text()),
        trigger = esc(&o.trigger),
        started = esc(&o.started_at),
        caller = esc(&o.caller),
        snapshot = o
            .snapshot_id
            .as_ref()
            .map(|s| format!(" · snapshot {}", esc(s)))
            .unwrap_or_default(),
    )
}
