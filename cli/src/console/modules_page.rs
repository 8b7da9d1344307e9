//! The Modules page: every registered module with its canister id, kind, status, snapshot
//! count against max_snapshots, snapshot memory and cost, next scheduled run and the operation
//! running on it.
//!
//! One round of calls whatever the page shows: `list_modules` (which already carries storage,
//! next run and busy state), then, all at once, each module's `list_snapshots` (the count) and
//! `canister_status` (running or stopped; answered only to a controller of the module). Never
//! one call per module per column. `docs/BENCHMARKS.md` has the times for 1, 10 and 50
//! modules.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Html;
use futures::future::join_all;
use ic_utils::interfaces::ManagementCanister;
use orchestrator_api::ModuleInfo;

use super::page::{PageError, esc, layout, url_part};
use super::state::App;
use crate::commands::views::{ModuleView, variant_name};
use crate::output;

/// What the page knows of one module beyond `list_modules`.
struct Extra {
    /// Snapshot count, or why it is unknown.
    snapshots: Result<usize, String>,
    /// running | stopping | stopped, or why it is unknown.
    status: Result<String, String>,
}

/// `GET /`.
pub async fn show(State(app): State<Arc<App>>) -> Result<Html<String>, PageError> {
    let modules = app
        .orch()
        .list_modules()
        .await
        .map_err(|e| PageError::new(&app, "Modules", "Modules", e))?;
    let extras = join_all(modules.iter().map(|m| extra(&app, m))).await;
    Ok(layout(
        &app,
        "Modules",
        "Modules",
        &render(&modules, &extras),
    ))
}

/// The module's snapshot count and status, asked at the same time.
async fn extra(app: &App, module: &ModuleInfo) -> Extra {
    let orch = app.orch();
    let mgmt = ManagementCanister::create(app.agent_ref());
    let (snapshots, status) = futures::join!(
        orch.list_snapshots(&module.name),
        mgmt.canister_status(&module.canister_id).call()
    );
    Extra {
        snapshots: snapshots.map(|s| s.len()).map_err(|e| format!("{e:#}")),
        status: status
            .map(|(s,)| variant_name(&s.status))
            .map_err(|_| "unknown: only a controller of the module may ask".to_string()),
    }
}

fn render(modules: &[ModuleInfo], extras: &[Extra]) -> String {
    if modules.is_empty() {
        return "<p>No modules yet. Register one with <code>keepsake module add &lt;canister-id&gt; \
                --name &lt;name&gt;</code>.</p>"
            .into();
    }
    let now = output::now_ns();
    let mut rows = String::new();
    for (m, x) in modules.iter().zip(extras) {
        let v = ModuleView::from(m);
        let count = match &x.snapshots {
            Ok(n) => format!("{n} / {}", v.max_snapshots),
            Err(e) => format!("<span title=\"{}\">? / {}</span>", esc(e), v.max_snapshots),
        };
        let status = match &x.status {
            Ok(s) => format!("<span class=\"status-{0}\">{0}</span>", esc(s)),
            Err(e) => format!("<span class=\"muted\" title=\"{}\">?</span>", esc(e)),
        };
        let busy = match &v.busy_with {
            Some(op) => format!("<span class=\"busy\">{}</span>", esc(op)),
            None => "-".into(),
        };
        rows.push_str(&format!(
            "<tr data-module=\"{name}\"><td><a href=\"/modules/{href}\">{name}</a></td>\
             <td><code>{id}</code></td><td>{kind}</td><td>{status}</td><td class=\"num\">{count}</td>\
             <td class=\"num\">{storage}</td><td class=\"num\">{cost}</td><td>{next}</td><td>{busy}</td></tr>",
            name = esc(&v.name),
            href = url_part(&v.name),
            id = esc(&v.canister_id),
            kind = esc(&v.kind),
            storage = esc(&v.storage_text()),
            cost = esc(&v.cost_text()),
            next = esc(&v.next_snapshot_text(now)),
        ));
    }
    format!(
        "<table id=\"modules\"><thead><tr><th>Module</th><th>Canister</th><th>Kind</th>\
         <th>Status</th><th>Snapshots</th><th>Snapshot memory</th><th>Cost</th>\
         <th>Next scheduled snapshot</th><th>In progress</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}
