//! `keepsake console`: a web console on 127.0.0.1 that drives the orchestrator with the CLI's
//! own network, identity and orchestrator resolution, through the same typed client.
//!
//! This module owns starting the server (bind, the URL with its token on stdout's first line)
//! and the route table; each page or concern lives in its own module:
//! - `security`: Host, token cookie, Origin and CSRF checks, response headers;
//! - `state`: what every handler shares (the agent, the tokens, the upgrade jobs);
//! - `page`: the HTML shell, escaping, and how errors are shown;
//! - `modules_page`, `module_page` (with `timeline` and `schedule_preview`), `history_page`,
//!   `fleet_page`, `upgrade_page` (with `jobs`), `backups_page` (with `backup_repo` and
//!   `backup_jobs`), `applications_page` (groups): one page each;
//! - `actions`: the state-changing POSTs of the module page;
//! - `assets`: the CSS and the plain JS modules, compiled into the binary.
//!
//! The browser never sees the identity: it holds a random token, and every orchestrator call
//! is made here, signed by the agent the CLI built.

mod actions;
mod applications_page;
mod assets;
mod backup_jobs;
mod backup_repo;
mod backups_page;
mod fleet_page;
mod history_page;
mod jobs;
mod module_page;
mod modules_page;
mod page;
mod schedule_preview;
mod security;
mod state;
mod timeline;
mod upgrade_page;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::context::Ctx;
use crate::operations::backup::repo::PASSWORD_ENV;
use crate::output;

use backup_repo::BackupRepo;
use state::App;
pub use state::ConsoleOptions;

/// Largest wasm the upgrade page accepts: the IC's limit for a module is 100 MiB.
const MAX_WASM_BYTES: usize = 110 * 1024 * 1024;

/// Starts the console and serves until the process is stopped (Ctrl-C).
pub async fn serve(ctx: &Ctx, options: ConsoleOptions) -> Result<()> {
    // Reach the network and resolve the orchestrator before anything is printed: a console that
    // cannot reach it says so here, with the CLI's own advice, rather than in every page.
    let agent = ctx.agent().await?.clone();
    let orchestrator = ctx.orchestrator().await?.id;
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((
        Ipv4Addr::LOCALHOST,
        options.port,
    )))
    .await
    .with_context(|| {
        format!(
            "cannot listen on 127.0.0.1:{}; is another program using it? Choose another with --port (0 picks a free one)",
            options.port
        )
    })?;
    let port = listener.local_addr()?.port();
    let network = ctx.network()?;
    let network = network.name.clone().unwrap_or(network.url);
    // The repository is checked once here: a wrong password or a missing repository is said
    // now (and on the Backups page), and the console starts anyway.
    let backups = match &options.repo {
        Some(spec) => {
            let repo = BackupRepo::start(spec.clone(), options.password_file.as_deref()).await;
            if let Some(why) = &repo.startup_error {
                output::note(&format!(
                    "warning: the Backups page cannot use the repository {}: {why}",
                    spec.repo
                ));
            }
            Some(repo)
        }
        None => None,
    };
    let app = Arc::new(App::new(agent, orchestrator, port, network, backups)?);
    let url = format!("http://127.0.0.1:{port}/?token={}", app.token);
    // The first line of stdout, for people and for scripts (tests read it).
    output::println(&format!("console on {url}"));
    output::note("Open it in a browser on this machine; stop the console with Ctrl-C.");
    if options.open {
        open_browser(&url);
    }
    axum::serve(listener, router(app))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("the console's server stopped")
}

/// Every route. GET only reads; every state change is a POST (the security layer checks its
/// Origin and CSRF token), so a GET on a state-changing route is a 405.
fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(modules_page::show))
        .route("/modules/{name}", get(module_page::show))
        .route("/modules/{name}/snapshots", post(actions::take))
        .route(
            "/modules/{name}/snapshots/{id}/restore",
            post(actions::restore),
        )
        .route(
            "/modules/{name}/snapshots/{id}/delete",
            post(actions::delete),
        )
        .route("/modules/{name}/snapshots/{id}/pin", post(actions::pin))
        .route("/modules/{name}/snapshots/{id}/unpin", post(actions::unpin))
        .route("/modules/{name}/settings", post(actions::settings))
        .route("/modules/{name}/schedule", post(actions::set_schedule))
        .route(
            "/modules/{name}/schedule/clear",
            post(actions::clear_schedule),
        )
        .route("/schedule/preview", get(schedule_preview::preview))
        .route("/history", get(history_page::show))
        .route("/fleet", get(fleet_page::show))
        .route("/fleet/snapshot", post(fleet_page::snapshot))
        .route("/upgrade", get(upgrade_page::show))
        .route(
            "/upgrade/start",
            post(upgrade_page::start).layer(DefaultBodyLimit::max(MAX_WASM_BYTES)),
        )
        .route("/upgrade/jobs/{id}", get(upgrade_page::job))
        .route("/backups", get(backups_page::show))
        .route("/backups/sync", post(backups_page::sync))
        .route("/backups/restore", post(backups_page::restore))
        .route("/backups/jobs/{id}", get(backups_page::job))
        .route("/applications", get(applications_page::show))
        .route(
            "/applications/{group}/snapshot",
            post(applications_page::take),
        )
        .route(
            "/applications/{group}/snapshots/{id}/restore",
            post(applications_page::restore),
        )
        .route("/assets/{file}", get(assets::serve))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            security::guard,
        ))
        .with_state(app)
}

/// `--open`: the system's browser opener; failing to start one is only a note (the URL is
/// printed anyway).
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    // The opener (and the browser it starts) must not inherit the repository's password.
    if let Err(e) = std::process::Command::new(opener)
        .arg(url)
        .env_remove(PASSWORD_ENV)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        output::note(&format!(
            "cannot start {opener} to open the browser ({e}); open the URL above yourself"
        ));
    }
}
