//! The console's guard, run before every route: a local web server is an attack surface (any
//! web page the user visits can send requests to 127.0.0.1).
//!
//! In order:
//! 1. `Host` must be `127.0.0.1:<port>` or `localhost:<port>`: a page on evil.example whose
//!    name was rebound to 127.0.0.1 sends `Host: evil.example` (DNS rebinding).
//! 2. A state change (anything but GET/HEAD) must come from our own `Origin`, and carry the
//!    CSRF token in `x-keepsake-csrf` (only our pages know it; a cross-site form cannot set a
//!    header, and a cross-site fetch that sets one needs a CORS preflight we never grant).
//! 3. The login token: once as `?token=` (then an HttpOnly SameSite=Strict cookie and a
//!    redirect that drops it from the address bar), after that the cookie; anything else 401.
//!
//! Every response also gets headers that keep the pages to themselves: a CSP allowing only
//! our own scripts and styles, no framing, no referrer (the URL once held the token), no
//! caching.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::state::App;

/// The header a POST carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-keepsake-csrf";

/// Checks a request, then runs it.
pub async fn guard(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let mut response = match check(&app, &request) {
        Some(answer) => answer,
        None => next.run(request).await,
    };
    protect(response.headers_mut());
    response
}

/// `Some`: the answer right away (a refusal, or the login redirect); `None`: go on.
fn check(app: &App, request: &Request) -> Option<Response> {
    let headers = request.headers();
    // 1. DNS rebinding.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !is_own_host(host, app.port) {
        return Some(refuse(
            StatusCode::FORBIDDEN,
            &format!(
                "this console answers only to 127.0.0.1:{0} and localhost:{0}, not to Host {1:?}; \
                 open the URL `keepsake console` printed",
                app.port,
                host.chars().take(100).collect::<String>()
            ),
        ));
    }
    // 2. State changes: our Origin and the CSRF token.
    let changes_state = !matches!(*request.method(), Method::GET | Method::HEAD);
    if changes_state {
        let origin = headers.get(header::ORIGIN).and_then(|h| h.to_str().ok());
        if !origin.is_some_and(|o| is_own_origin(o, app.port)) {
            return Some(refuse(
                StatusCode::FORBIDDEN,
                "a change must come from the console's own page (the request's Origin is missing \
                 or foreign); nothing was changed",
            ));
        }
    }
    // 3. The login token.
    let query_token = token_in_query(request.uri().query().unwrap_or(""));
    if let Some(given) = &query_token {
        if !same(given, &app.token) {
            return Some(unauthorized(app));
        }
        if request.method() == Method::GET {
            return Some(login(app, request));
        }
    } else if !cookie(headers, &app.cookie_name()).is_some_and(|c| same(&c, &app.token)) {
        return Some(unauthorized(app));
    }
    if changes_state {
        let csrf = headers.get(CSRF_HEADER).and_then(|h| h.to_str().ok());
        if !csrf.is_some_and(|c| same(c, &app.csrf)) {
            return Some(refuse(
                StatusCode::FORBIDDEN,
                "this change lacks the console's CSRF token (reload the page and try again); \
                 nothing was changed",
            ));
        }
    }
    None
}

/// `127.0.0.1:<port>` or `localhost:<port>`, exactly.
fn is_own_host(host: &str, port: u16) -> bool {
    host == format!("127.0.0.1:{port}") || host == format!("localhost:{port}")
}

/// `http://127.0.0.1:<port>` or `http://localhost:<port>`, exactly.
fn is_own_origin(origin: &str, port: u16) -> bool {
    origin
        .strip_prefix("http://")
        .is_some_and(|host| is_own_host(host, port))
}

/// The `token` query parameter, if any.
fn token_in_query(query: &str) -> Option<String> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .map(str::to_string)
}

/// The value of cookie `name`.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        })
}

/// Compares without stopping at the first difference (no timing hint about the token).
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The cookie, and a redirect to the same page without the token in its address.
fn login(app: &App, request: &Request) -> Response {
    let rest: Vec<&str> = request
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("token="))
        .collect();
    let mut location = request.uri().path().to_string();
    if !rest.is_empty() {
        location = format!("{location}?{}", rest.join("&"));
    }
    let cookie = format!(
        "{}={}; HttpOnly; SameSite=Strict; Path=/",
        app.cookie_name(),
        app.token
    );
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let (Ok(location), Ok(cookie)) = (
        HeaderValue::from_str(&location),
        HeaderValue::from_str(&cookie),
    ) {
        headers.insert(header::LOCATION, location);
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}

fn unauthorized(app: &App) -> Response {
    refuse(
        StatusCode::UNAUTHORIZED,
        &format!(
            "this console needs its token: open the URL `keepsake console` printed \
             (http://127.0.0.1:{}/?token=…)",
            app.port
        ),
    )
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        why.to_string(),
    )
        .into_response()
}

/// Headers on every response.
fn protect(headers: &mut HeaderMap) {
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_loopback_names_with_our_port_are_our_host_and_origin() {
        assert!(is_own_host("127.0.0.1:8080", 8080));
        assert!(is_own_host("localhost:8080", 8080));
        for bad in [
            "127.0.0.1:8081",
            "evil.example:8080",
            "127.0.0.1",
            "localhost",
            "",
        ] {
            assert!(!is_own_host(bad, 8080), "{bad}");
        }
        assert!(is_own_origin("http://127.0.0.1:8080", 8080));
        assert!(!is_own_origin("https://127.0.0.1:8080", 8080));
        assert!(!is_own_origin("http://evil.example:8080", 8080));
        assert!(!is_own_origin("null", 8080));
    }

    #[test]
    fn the_token_is_read_from_the_query_and_the_cookie() {
        assert_eq!(token_in_query("a=1&token=abc"), Some("abc".into()));
        assert_eq!(token_in_query("a=1"), None);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("x=1; keepsake_console_9=tok"),
        );
        assert_eq!(cookie(&headers, "keepsake_console_9"), Some("tok".into()));
        assert_eq!(cookie(&headers, "keepsake_console_8"), None);
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
