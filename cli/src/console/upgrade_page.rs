//! The Upgrade page (the console-triggered upgrade): a `.wasm`/`.wasm.gz` chosen in the
//! browser is sent to the console, checked like `keepsake upgrade` checks a file, staged in
//! chunks (resuming what the orchestrator already holds) and installed with the chosen
//! options; the page polls the job and shows the steps as the orchestrator records them, until
//! upgraded, rolled back or failed.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use indicatif::ProgressBar;
use orchestrator_api::{OnExisting, UpgradeArgs};
use serde::{Deserialize, Serialize};

use super::jobs::{self, Job, Phase};
use super::page::{PageError, esc, failed, layout};
use super::state::App;
use crate::commands::views::{OutcomeView, StepView};
use crate::error::usage;
use crate::operations::orchestrator::Answered;
use crate::operations::wasm_file;
use crate::output;

/// `GET /upgrade?module=…`.
#[derive(Deserialize, Default)]
pub struct Chosen {
    /// The module to preselect.
    #[serde(default)]
    pub module: String,
}

/// `GET /upgrade`.
pub async fn show(
    State(app): State<Arc<App>>,
    Query(chosen): Query<Chosen>,
) -> Result<Html<String>, PageError> {
    let modules = app
        .orch()
        .list_modules()
        .await
        .answered()
        .map_err(|e| PageError::new(&app, "Upgrade", "Upgrade", e))?;
    let mut options = String::new();
    for m in &modules {
        let selected = if m.name == chosen.module {
            " selected"
        } else {
            ""
        };
        options.push_str(&format!(
            "<option value=\"{0}\"{selected}>{0} ({1})</option>",
            esc(&m.name),
            m.canister_id
        ));
    }
    let body = format!(
        "<form id=\"upgrade-form\">\
         <label>Module <select name=\"module\" required>{options}</select></label>\
         <label>Wasm <input type=\"file\" name=\"wasm\" accept=\".wasm,.gz,application/wasm,application/gzip\" required></label>\
         <label>Upgrade argument (candid) <input name=\"arg\" placeholder=\"()\"></label>\
         <fieldset><legend>Options</legend>\
         <label><input type=\"checkbox\" name=\"snapshot\" value=\"true\" checked> snapshot before the upgrade \
         (unticked: no snapshot, so no rollback)</label>\
         <label>When the snapshot slots are full <select name=\"on_existing\">\
         <option value=\"replace\">replace the oldest</option><option value=\"keep\">keep them, take none</option>\
         <option value=\"fail\">refuse the upgrade</option></select></label>\
         <label><input type=\"checkbox\" name=\"rollback\" value=\"true\" checked> roll back if the install, \
         restart or health check fails</label></fieldset>\
         <button type=\"submit\">Upgrade</button></form>\
         <section id=\"upgrade-progress\" hidden>\
         <p><span id=\"upload-label\">Sending to the console</span> <progress id=\"upload-bar\" max=\"1\" value=\"0\"></progress></p>\
         <p><span id=\"stage-label\">Staging in the orchestrator</span> <progress id=\"stage-bar\" max=\"1\" value=\"0\"></progress> \
         <span id=\"stage-text\"></span></p>\
         <ol id=\"upgrade-steps\"></ol><p id=\"upgrade-outcome\" role=\"status\"></p></section>"
    );
    Ok(layout(&app, "Upgrade", "Upgrade", &body))
}

/// `POST /upgrade/start?module&arg&snapshot&on_existing&rollback`, the wasm as the body.
#[derive(Deserialize)]
pub struct StartQuery {
    /// The module.
    pub module: String,
    /// The upgrade argument, candid text; empty = `()`.
    #[serde(default)]
    pub arg: String,
    /// `false`: no snapshot first.
    #[serde(default)]
    pub snapshot: Option<bool>,
    /// replace | keep | fail.
    #[serde(default)]
    pub on_existing: Option<String>,
    /// `false`: no rollback.
    #[serde(default)]
    pub rollback: Option<bool>,
}

/// The job's id.
#[derive(Serialize)]
struct Started {
    job: u64,
}

/// Starts an upgrade job.
pub async fn start(
    State(app): State<Arc<App>>,
    Query(q): Query<StartQuery>,
    body: Bytes,
) -> Response {
    match prepare(&app, &q, &body).await {
        Ok((module, args)) => {
            let bar = ProgressBar::hidden();
            bar.set_length(body.len() as u64);
            let job = Job {
                module,
                phase: Phase::Staging,
                staged: bar,
                size: body.len() as u64,
                resumed_from: None,
                history_head: None,
                operation_id: None,
                steps: vec![],
                outcome: None,
                error: None,
            };
            let id = match app.jobs.lock() {
                Ok(mut jobs) => jobs.add(job),
                Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
            };
            jobs::spawn(app.clone(), id, body.to_vec(), args);
            Json(Started { job: id }).into_response()
        }
        Err(e) => failed(&e),
    }
}

/// Checks everything the CLI checks before anything is sent: the file, the argument, the
/// module.
async fn prepare(app: &App, q: &StartQuery, wasm: &[u8]) -> anyhow::Result<(String, UpgradeArgs)> {
    wasm_file::check(wasm).map_err(|why| {
        usage(format!(
            "the chosen file cannot be installed: {why}; nothing was sent. Choose a .wasm file or a .wasm.gz of one"
        ))
    })?;
    let arg = if q.arg.trim().is_empty() {
        candid::encode_args(())?
    } else {
        candid_parser::parse_idl_args(&q.arg)
            .map_err(|e| {
                usage(format!(
                    "the upgrade argument is not candid text ({e}); example: (record {{ x = 1 }})"
                ))
            })?
            .to_bytes()
            .map_err(|e| usage(format!("cannot encode the upgrade argument: {e}")))?
    };
    let on_existing = match q.on_existing.as_deref().unwrap_or("replace") {
        "replace" => OnExisting::Replace,
        "keep" => OnExisting::Keep,
        "fail" => OnExisting::Fail,
        other => {
            return Err(usage(format!(
                "on_existing {other:?}: choose replace, keep or fail"
            )));
        }
    };
    let module = app.orch().module_name(&q.module).await?;
    Ok((
        module,
        UpgradeArgs {
            wasm_hash: vec![],
            arg,
            snapshot: (q.snapshot == Some(false)).then_some(false),
            on_existing,
            rollback_on_failure: q.rollback != Some(false),
        },
    ))
}

/// A job as the page sees it.
#[derive(Serialize)]
struct JobView {
    module: String,
    phase: Phase,
    size: u64,
    staged: u64,
    resumed_from: Option<u64>,
    operation_id: Option<u64>,
    steps: Vec<StepView>,
    outcome: Option<OutcomeView>,
    error: Option<String>,
    /// One sentence for the page.
    summary: String,
}

/// `GET /upgrade/jobs/{id}`.
pub async fn job(State(app): State<Arc<App>>, Path(id): Path<u64>) -> Response {
    let (module, phase, head) = {
        let Ok(mut jobs) = app.jobs.lock() else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        let Some(job) = jobs.get_mut(id) else {
            return (
                StatusCode::NOT_FOUND,
                format!("no upgrade job {id} in this console (jobs live as long as the console)"),
            )
                .into_response();
        };
        (job.module.clone(), job.phase, job.history_head)
    };
    // While the orchestrator works, its record of the upgrade shows the steps so far.
    if phase == Phase::Upgrading
        && let Some((op, steps)) = jobs::poll_steps(&app, &module, head).await
        && let Ok(mut jobs) = app.jobs.lock()
        && let Some(job) = jobs.get_mut(id)
        && job.phase == Phase::Upgrading
    {
        job.operation_id = Some(op);
        job.steps = steps;
    }
    let Ok(mut jobs) = app.jobs.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Some(job) = jobs.get_mut(id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut view = JobView {
        module: job.module.clone(),
        phase: job.phase,
        size: job.size,
        staged: job.staged.position(),
        resumed_from: job.resumed_from,
        operation_id: job.operation_id,
        steps: job.steps.clone(),
        outcome: job.outcome.clone(),
        error: job.error.clone(),
        summary: String::new(),
    };
    view.summary = summary(&view);
    Json(view).into_response()
}

/// The job in one sentence, as `keepsake upgrade` ends.
fn summary(v: &JobView) -> String {
    let name = &v.module;
    if let Some(e) = &v.error {
        return format!("The upgrade of {name} did not run: {e}");
    }
    match (&v.phase, &v.outcome) {
        (Phase::Staging, _) => format!(
            "Staging {} of {}",
            output::bytes(v.staged),
            output::bytes(v.size)
        ),
        (Phase::Upgrading, _) => format!("Upgrading {name}…"),
        (Phase::Finished, Some(o)) => {
            o.sentence(name, "check the History page and restore a snapshot")
        }
        (Phase::Finished, None) => format!("The upgrade of {name} ended without a report"),
    }
}
