//! The Fleet page: a snapshot of every module at once (`take_all_snapshots`), with each
//! module's result.

use std::sync::Arc;

use axum::Form;
use axum::Json;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use orchestrator_api::FleetSnapshotArgs;

use super::page::{ActionReply, esc, failed, field, layout, url_part};
use super::state::App;
use crate::operations::orchestrator::Answered;
use crate::output;

/// `GET /fleet`.
pub async fn show(State(app): State<Arc<App>>) -> Html<String> {
    layout(
        &app,
        "Fleet",
        "Fleet",
        "<p>Snapshot every registered module at once. Each module's snapshot follows its own \
         settings (stop while taken, replace the oldest at max_snapshots).</p>\
         <form id=\"fleet-form\" class=\"inline\" data-action=\"/fleet/snapshot\" data-keep=\"true\">\
         <label>Label <input name=\"label\" maxlength=\"64\" placeholder=\"optional\"></label>\
         <label>At once <input name=\"concurrency\" type=\"number\" min=\"1\" max=\"10\" value=\"4\"></label>\
         <label><input type=\"checkbox\" name=\"pin\" value=\"true\"> pin them</label>\
         <button type=\"submit\">Snapshot every module</button></form>\
         <div id=\"fleet-results\" class=\"results\"></div>",
    )
}

/// `POST /fleet/snapshot`: label, concurrency, pin.
pub async fn snapshot(
    State(app): State<Arc<App>>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let get = |name: &str| field(&fields, name).map(str::to_string);
    let concurrency = match get("concurrency").map(|c| c.parse::<u8>()) {
        Some(Err(_)) => {
            return failed(&crate::error::usage(
                "the number of modules at once is a number from 1 to 10",
            ));
        }
        Some(Ok(c)) => Some(c),
        None => None,
    };
    let args = FleetSnapshotArgs {
        label: get("label"),
        concurrency,
        pin: get("pin").map(|p| p == "true").filter(|p| *p),
    };
    let results = match app.orch().take_all_snapshots(args).await.answered() {
        Ok(r) => r,
        Err(e) => return failed(&e),
    };
    let ok = results.iter().filter(|r| r.result.is_ok()).count();
    let mut rows = String::new();
    for r in &results {
        let (class, text) = match &r.result {
            Ok(s) => (
                "ok",
                format!(
                    "snapshot {} taken at {}",
                    hex::encode(&s.id),
                    output::time(s.taken_at)
                ),
            ),
            Err(e) => ("failed", e.to_string()),
        };
        rows.push_str(&format!(
            "<tr class=\"{class}\" data-module=\"{name}\"><td><a href=\"/modules/{href}\">{name}</a></td><td>{class}</td><td>{text}</td></tr>",
            name = esc(&r.module),
            href = url_part(&r.module),
            text = esc(&text)
        ));
    }
    Json(ActionReply {
        ok: ok == results.len(),
        message: format!("{ok} of {} modules snapshotted", results.len()),
        reload: false,
        html: Some(format!(
            "<table id=\"fleet-table\"><thead><tr><th>Module</th><th>Result</th><th></th></tr></thead><tbody>{rows}</tbody></table>"
        )),
    })
    .into_response()
}
