//! The Backups page. Without `--repo` it says how to get one; with it, it shows where the
//! repository is.
//!
//! TODO(backups): list the repository's backups per module and restore one into a canister
//! (cli/src/operations/backup: `repo::RepoSpec::open`, `restore`), and run `backup sync`
//! once that command lands on main (another change is writing it). The repository password
//! must then come from `--password-file`/KEEPSAKE_REPO_PASSWORD at start-up, never from the
//! browser.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::page::{esc, layout};
use super::state::App;

/// `GET /backups`.
pub async fn show(State(app): State<Arc<App>>) -> Html<String> {
    let body = match &app.options.repo {
        None => "<p>No backup repository: start the console with <code>--repo &lt;folder or \
                 s3://bucket/prefix&gt;</code> to see its backups here.</p>"
            .to_string(),
        Some(repo) => format!(
            "<p>Repository <code>{}</code>.</p><p class=\"muted\">Listing and restoring backups \
             from the console is not built yet; use <code>keepsake backup list</code> and \
             <code>keepsake backup restore</code>.</p>",
            esc(repo)
        ),
    };
    layout(&app, "Backups", "Backups", &body)
}

/// `POST /backups/restore`: not built yet (see the module's TODO); says so rather than
/// pretending.
pub async fn restore() -> Response {
    (
        StatusCode::NOT_IMPLEMENTED,
        "restoring a backup from the console is not built yet; use `keepsake backup restore`",
    )
        .into_response()
}
