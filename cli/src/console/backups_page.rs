//! The Backups page: the repository's backups grouped per module (when taken, which snapshot,
//! size, tags), "Sync now" (what `keepsake backup sync` does, in the background, its progress
//! polled by the page), and "Restore" of a backup into a canister (after a confirmation that
//! names the module and the backup's time; its progress and result in the page).
//!
//! Without `--repo` the page says how to configure one. When the repository or its password
//! is wrong, the page shows the error and what to do (restart with the right ones); the
//! password itself is never in a page (see `backup_repo`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Form;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;

use super::backup_jobs;
use super::backup_repo::RESTART_ADVICE;
use super::page::{esc, failed, field, layout};
use super::state::App;
use crate::error::usage;
use crate::operations::backup::list::Backup;
use crate::output;

/// `GET /backups`.
pub async fn show(State(app): State<Arc<App>>) -> Html<String> {
    let body = match &app.backups {
        None => "<p id=\"backups-unconfigured\">No backup repository. Start the console with \
                 <code>--repo &lt;folder or s3://bucket/prefix&gt;</code> (or KEEPSAKE_REPO) and the \
                 repository's password in <code>--password-file &lt;file&gt;</code> (or \
                 KEEPSAKE_REPO_PASSWORD) to see its backups here, sync and restore them. Create a \
                 repository with <code>keepsake backup init --repo &lt;R&gt;</code>.</p>"
            .to_string(),
        Some(repo) => {
            let head = format!(
                "<p>Repository <code>{}</code>.</p>",
                esc(&repo.spec.repo)
            );
            match repo.list().await {
                Err(e) => format!(
                    "{head}<div class=\"error\" role=\"alert\" id=\"backups-error\">{}\n\n{}</div>",
                    esc(&format!("{e:#}")),
                    esc(RESTART_ADVICE)
                ),
                Ok(backups) => format!(
                    "{head}{}{}",
                    sync_section(&app),
                    render(&backups)
                ),
            }
        }
    };
    layout(&app, "Backups", "Backups", &body)
}

/// The Sync button and the area where a job's progress shows (resumed after a reload when a
/// sync runs).
fn sync_section(app: &App) -> String {
    let running = app
        .backup_jobs
        .lock()
        .ok()
        .and_then(|j| j.running_sync())
        .map(|id| format!(" data-running-job=\"{id}\""))
        .unwrap_or_default();
    format!(
        "<div id=\"backups\"{running}><p><button id=\"sync-button\" type=\"button\">Sync now</button> \
         <span class=\"muted\">backs up every snapshot the orchestrator holds that the repository \
         lacks, as <code>keepsake backup sync</code> does</span></p>\
         <section id=\"backup-job\" hidden><p id=\"job-doing\"></p>\
         <progress id=\"job-bar\" max=\"1\" value=\"0\"></progress> <span id=\"job-bytes\"></span>\
         <table id=\"job-lines\"><tbody></tbody></table>\
         <p id=\"job-summary\" role=\"status\"></p></section></div>"
    )
}

/// The backups, one table per module (a backup of a canister that is not a module under its
/// canister id).
fn render(backups: &[Backup]) -> String {
    if backups.is_empty() {
        return "<p id=\"no-backups\">No backups yet. <strong>Sync now</strong> backs up the \
                orchestrator's snapshots; <code>keepsake backup run &lt;module&gt;</code> backs up \
                one.</p>"
            .into();
    }
    let mut by_module: BTreeMap<&str, Vec<&Backup>> = BTreeMap::new();
    for b in backups {
        let key = b.origin.module.as_deref().unwrap_or(&b.origin.canister_id);
        by_module.entry(key).or_default().push(b);
    }
    let mut html = String::new();
    for (module, list) in by_module {
        let mut rows = String::new();
        for b in list {
            let short = &b.backup_id[..8.min(b.backup_id.len())];
            let tags: String = b
                .tags
                .iter()
                .map(|t| format!("<code>{}</code>", esc(t)))
                .collect::<Vec<_>>()
                .join(" ");
            let confirm = format!(
                "Restore the backup of module {module} taken at {} (snapshot {}) into the canister \
                 named below? It is uploaded as a new snapshot of that canister; with \"load it\", \
                 the canister is stopped, its state replaced by the backup's, and started again.",
                b.origin.taken_at, b.origin.snapshot_id
            );
            rows.push_str(&format!(
                "<tr data-backup-id=\"{id}\" data-snapshot-id=\"{snap}\"><td>{taken}</td>\
                 <td><code title=\"{snap}\">{snap_short}</code></td><td class=\"num\">{size}</td>\
                 <td>{written}</td><td><code title=\"{id}\">{short}</code></td><td class=\"tags\">{tags}</td>\
                 <td><form class=\"restore-form inline\" data-backup=\"{id}\" data-confirm=\"{confirm}\">\
                 <input name=\"target\" value=\"{canister}\" size=\"28\" aria-label=\"target canister id or module\" required>\
                 <label><input type=\"checkbox\" name=\"load\" value=\"true\"> load it</label>\
                 <button type=\"submit\">Restore</button></form></td></tr>",
                id = esc(&b.backup_id),
                snap = esc(&b.origin.snapshot_id),
                snap_short = esc(&b.origin.snapshot_id[..16.min(b.origin.snapshot_id.len())]),
                taken = esc(&b.origin.taken_at),
                size = esc(&output::bytes(b.total_bytes)),
                written = esc(&b.backed_up_at),
                short = esc(short),
                confirm = esc(&confirm),
                canister = esc(&b.origin.canister_id),
            ));
        }
        html.push_str(&format!(
            "<section class=\"backup-module\" data-module=\"{m}\"><h2>{m}</h2>\
             <table class=\"backups\"><thead><tr><th>Snapshot taken at</th><th>Snapshot</th>\
             <th>Size</th><th>Backed up at</th><th>Backup</th><th>Tags</th><th>Restore into</th>\
             </tr></thead><tbody>{rows}</tbody></table></section>",
            m = esc(module)
        ));
    }
    html
}

/// What a POST that starts a job answers.
#[derive(Serialize)]
struct Started {
    ok: bool,
    message: String,
    job: u64,
}

/// `POST /backups/sync`: starts a sync, or points at the one running.
pub async fn sync(State(app): State<Arc<App>>) -> Response {
    if let Err(e) = configured(&app) {
        return failed(&e);
    }
    match backup_jobs::start_sync(&app) {
        Ok(job) => Json(Started {
            ok: true,
            message: "Sync started".into(),
            job,
        })
        .into_response(),
        Err(running) => (
            StatusCode::CONFLICT,
            Json(Started {
                ok: false,
                message: format!(
                    "A sync is already running (job {running}); one sync at a time. Its progress \
                     is shown below."
                ),
                job: running,
            }),
        )
            .into_response(),
    }
}

/// `POST /backups/restore`: backup, target, load.
pub async fn restore(
    State(app): State<Arc<App>>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let get = |name: &str| field(&fields, name).map(str::to_string);
    let started = configured(&app).and_then(|()| {
        let backup = get("backup").ok_or_else(|| usage("choose a backup to restore"))?;
        if !backup.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(usage(format!(
                "{backup:?} is not a backup id (hex, as the Backups page lists them)"
            )));
        }
        let target = get("target").ok_or_else(|| {
            usage("name the canister to restore into (a canister id or a module name)")
        })?;
        let load = get("load").as_deref() == Some("true");
        backup_jobs::start_restore(&app, backup, target, load)
    });
    match started {
        Ok(job) => Json(Started {
            ok: true,
            message: "Restore started".into(),
            job,
        })
        .into_response(),
        Err(e) => failed(&e),
    }
}

/// `GET /backups/jobs/{id}`.
pub async fn job(State(app): State<Arc<App>>, Path(id): Path<u64>) -> Response {
    let view = app.backup_jobs.lock().ok().and_then(|j| j.view(id));
    match view {
        Some(v) => Json(v).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            format!("no backup job {id} in this console (jobs live as long as the console)"),
        )
            .into_response(),
    }
}

/// A repository with a password, or the error that says how to get one.
fn configured(app: &App) -> anyhow::Result<()> {
    let repo = app.backups.as_ref().ok_or_else(|| {
        usage("no backup repository: start the console with --repo <R> and --password-file <file>")
    })?;
    repo.password()
        .map(|_| ())
        .map_err(|e| usage(format!("{e:#} {RESTART_ADVICE}")))
}
