//! The HTML shell every page shares (navigation, the CSRF token for the scripts, the error
//! box), HTML escaping, and how a failed orchestrator call is shown: in the page, with the
//! orchestrator's own text, never a blank page or a stack trace.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;

use super::state::App;
use crate::error::UsageError;

/// A form as its pairs (a checkbox after its hidden default repeats a name).
pub type Fields = Vec<(String, String)>;

/// The last non-empty value of `name` in a form, trimmed.
pub fn field<'f>(fields: &'f Fields, name: &str) -> Option<&'f str> {
    fields
        .iter()
        .rev()
        .find(|(k, v)| k == name && !v.trim().is_empty())
        .map(|(_, v)| v.trim())
}

/// Escapes text for HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Percent-encodes a path segment or query value (module names are `[a-z0-9_-]`, but a
/// label or a cron expression is free text).
pub fn url_part(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A whole page: `body` inside the shell, the navigation naming `active`.
pub fn layout(app: &App, title: &str, active: &str, body: &str) -> Html<String> {
    let mut nav = String::new();
    for (href, name) in [
        ("/", "Modules"),
        ("/upgrade", "Upgrade"),
        ("/history", "History"),
        ("/fleet", "Fleet"),
        ("/applications", "Applications"),
        ("/backups", "Backups"),
    ] {
        let current = if name == active {
            " aria-current=\"page\""
        } else {
            ""
        };
        nav.push_str(&format!("<a href=\"{href}\"{current}>{name}</a>"));
    }
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"keepsake-csrf\" content=\"{csrf}\">\
         <title>{title} · keepsake console</title>\
         <link rel=\"stylesheet\" href=\"/assets/console.css\">\
         <script type=\"module\" src=\"/assets/console.js\"></script></head>\
         <body><header><strong>keepsake</strong> <span class=\"muted\">orchestrator {orch}</span>\
         <nav>{nav}</nav></header><main>\
         <div id=\"message\" role=\"status\" hidden></div>\
         <h1>{title}</h1>{body}</main></body></html>",
        csrf = app.csrf,
        title = esc(title),
        orch = app.orchestrator_id(),
    ))
}

/// The text of an error with its causes, as the CLI prints it.
pub fn error_text(e: &anyhow::Error) -> String {
    format!("{e:#}")
}

/// The status of a failed orchestrator call: 400 when it refused the input, 502 otherwise
/// (the console worked; the orchestrator or the network did not).
pub fn error_status(e: &anyhow::Error) -> StatusCode {
    if e.downcast_ref::<UsageError>().is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::BAD_GATEWAY
    }
}

/// A page that could not be built: shown in the shell, with the error's own text.
pub struct PageError {
    /// What failed.
    pub error: anyhow::Error,
    /// The shell to show it in.
    pub html: Html<String>,
}

impl PageError {
    /// The page `title` showing `error`.
    pub fn new(app: &App, title: &str, active: &str, error: anyhow::Error) -> Self {
        let body = format!(
            "<div class=\"error\" role=\"alert\">{}</div>",
            esc(&error_text(&error))
        );
        let html = layout(app, title, active, &body);
        Self { error, html }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        (error_status(&self.error), self.html).into_response()
    }
}

/// What a POST answers the page's script: a message to show and whether to reload, or the
/// orchestrator's error text.
#[derive(Serialize)]
pub struct ActionReply {
    /// Whether it worked.
    pub ok: bool,
    /// What happened, or the error's text.
    pub message: String,
    /// Reload the page to show the new state.
    pub reload: bool,
    /// A fragment of HTML to show (fleet results).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// A successful action.
pub fn done(message: impl Into<String>) -> Response {
    Json(ActionReply {
        ok: true,
        message: message.into(),
        reload: true,
        html: None,
    })
    .into_response()
}

/// A failed action: its status and the error's own text.
pub fn failed(e: &anyhow::Error) -> Response {
    (
        error_status(e),
        Json(ActionReply {
            ok: false,
            message: error_text(e),
            reload: false,
            html: None,
        }),
    )
        .into_response()
}

/// An action's result as a reply.
pub fn reply(result: anyhow::Result<String>) -> Response {
    match result {
        Ok(message) => done(message),
        Err(e) => failed(&e),
    }
}
