//! The Modules page: every registered module with its canister id, kind, status, snapshot
//! count against max_snapshots, snapshot memory and cost, next scheduled run, the operation
//! running on it, and — when the console has a backup repository — its last off-chain backup.
//!
//! One round of calls whatever the page shows: `list_modules` (which carries the status,
//! storage, next run and busy state: the orchestrator asks `canister_status`, as it controls
//! every module while the console's identity may not), each module's `list_snapshots` (the
//! count) all at once, and one listing of the repository at the same time. Never one call per
//! module per column. `docs/BENCHMARKS.md` has the times for 1, 10 and 50 modules.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Html;
use futures::future::join_all;
use orchestrator_api::ModuleInfo;

use super::page::{PageError, esc, layout, url_part};
use super::state::App;
use crate::commands::views::ModuleView;
use crate::operations::backup::list::Backup;
use crate::operations::orchestrator::Answered;
use crate::output;

/// `GET /`.
pub async fn show(State(app): State<Arc<App>>) -> Result<Html<String>, PageError> {
    let orch = app.orch();
    let backups = async {
        match &app.backups {
            Some(repo) => Some(repo.list().await.map_err(|e| format!("{e:#}"))),
            None => None,
        }
    };
    let (modules, backups) = futures::join!(orch.list_modules(), backups);
    let modules = modules
        .answered()
        .map_err(|e| PageError::new(&app, "Modules", "Modules", e))?;
    let counts = join_all(modules.iter().map(|m| orch.list_snapshots(&m.name))).await;
    let counts: Vec<Result<usize, String>> = counts
        .into_iter()
        .map(|r| r.answered().map(|s| s.len()).map_err(|e| format!("{e:#}")))
        .collect();
    Ok(layout(
        &app,
        "Modules",
        "Modules",
        &render(&modules, &counts, backups.as_ref()),
    ))
}

/// Each module's newest backup (by when its snapshot was taken), found by module name or,
/// for a backup made of the bare canister, by canister id.
fn last_backups<'b>(modules: &[ModuleInfo], backups: &'b [Backup]) -> Vec<Option<&'b Backup>> {
    let mut newest: BTreeMap<&str, &Backup> = BTreeMap::new();
    for b in backups {
        for key in [
            b.origin.module.as_deref(),
            Some(b.origin.canister_id.as_str()),
        ]
        .into_iter()
        .flatten()
        {
            let slot = newest.entry(key).or_insert(b);
            if b.origin.taken_at > slot.origin.taken_at {
                *slot = b;
            }
        }
    }
    modules
        .iter()
        .map(|m| {
            let by_name = newest.get(m.name.as_str()).copied();
            let by_id = newest.get(m.canister_id.to_text().as_str()).copied();
            match (by_name, by_id) {
                (Some(a), Some(b)) if b.origin.taken_at > a.origin.taken_at => Some(b),
                (Some(a), _) => Some(a),
                (None, b) => b,
            }
        })
        .collect()
}

fn render(
    modules: &[ModuleInfo],
    counts: &[Result<usize, String>],
    backups: Option<&Result<Vec<Backup>, String>>,
) -> String {
    if modules.is_empty() {
        return "<p>No modules yet. Register one with <code>keepsake module add &lt;canister-id&gt; \
                --name &lt;name&gt;</code>.</p>"
            .into();
    }
    let now = output::now_ns();
    let mut html = String::new();
    let last = match backups {
        Some(Ok(list)) => Some(last_backups(modules, list)),
        Some(Err(e)) => {
            html.push_str(&format!(
                "<div class=\"error\" role=\"alert\" id=\"backups-error\">The last backups are \
                 unknown: {} — the <a href=\"/backups\">Backups page</a> says what to do.</div>",
                esc(e)
            ));
            Some(vec![None; modules.len()])
        }
        None => None,
    };
    let mut rows = String::new();
    for (i, (m, count)) in modules.iter().zip(counts).enumerate() {
        let v = ModuleView::from(m);
        let count = match count {
            Ok(n) => format!("{n} / {}", v.max_snapshots),
            Err(e) => format!("<span title=\"{}\">? / {}</span>", esc(e), v.max_snapshots),
        };
        let status = match &v.status {
            Some(s) => format!("<span class=\"status-{0}\">{0}</span>", esc(s)),
            None => "<span class=\"muted\" title=\"the orchestrator could not ask canister_status \
                     (is it still a controller of the module?)\">?</span>"
                .into(),
        };
        let busy = match &v.busy_with {
            Some(op) => format!("<span class=\"busy\">{}</span>", esc(op)),
            None => "-".into(),
        };
        let backup = match &last {
            None => String::new(),
            Some(found) => match (found[i], backups) {
                (Some(b), _) => format!(
                    "<td class=\"last-backup\"><a href=\"/backups\" title=\"backup {id} of snapshot {snap}\">{taken}</a></td>",
                    id = esc(&b.backup_id),
                    snap = esc(&b.origin.snapshot_id),
                    taken = esc(&b.origin.taken_at),
                ),
                (None, Some(Err(_))) => "<td class=\"last-backup\">?</td>".into(),
                (None, _) => "<td class=\"last-backup muted\">none</td>".into(),
            },
        };
        rows.push_str(&format!(
            "<tr data-module=\"{name}\"><td><a href=\"/modules/{href}\">{name}</a></td>\
             <td><code>{id}</code></td><td>{kind}</td><td>{status}</td><td class=\"num\">{count}</td>\
             <td class=\"num\">{storage}</td><td class=\"num\">{cost}</td><td>{next}</td>{backup}<td>{busy}</td></tr>",
            name = esc(&v.name),
            href = url_part(&v.name),
            id = esc(&v.canister_id),
            kind = esc(&v.kind),
            storage = esc(&v.storage_text()),
            cost = esc(&v.cost_text()),
            next = esc(&v.next_snapshot_text(now)),
        ));
    }
    let backup_head = if last.is_some() {
        "<th>Last off-chain backup</th>"
    } else {
        ""
    };
    html.push_str(&format!(
        "<table id=\"modules\"><thead><tr><th>Module</th><th>Canister</th><th>Kind</th>\
         <th>Status</th><th>Snapshots</th><th>Snapshot memory</th><th>Cost</th>\
         <th>Next scheduled snapshot</th>{backup_head}<th>In progress</th></tr></thead><tbody>{rows}</tbody></table>"
    ));
    html
}
