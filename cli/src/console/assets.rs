//! The console's stylesheet and scripts, compiled into the binary: the page needs nothing from
//! the internet, and there is no build step (plain ES modules, written for this console).

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

const FILES: [(&str, &str, &str); 5] = [
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("static/console.css"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("static/console.js"),
    ),
    (
        "schedule.js",
        "text/javascript; charset=utf-8",
        include_str!("static/schedule.js"),
    ),
    (
        "backups.js",
        "text/javascript; charset=utf-8",
        include_str!("static/backups.js"),
    ),
    (
        "upgrade.js",
        "text/javascript; charset=utf-8",
        include_str!("static/upgrade.js"),
    ),
];

/// `GET /assets/{file}`.
pub async fn serve(Path(file): Path<String>) -> Response {
    match FILES.iter().find(|(name, _, _)| *name == file) {
        Some((_, mime, text)) => ([(header::CONTENT_TYPE, *mime)], *text).into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
