//! The Module page's state changes, each one orchestrator call the CLI also makes (through the
//! same client): take, restore, delete, pin, unpin, settings, schedule set and clear. Each
//! answers the page's script with a message, or the orchestrator's refusal in its own words.
//! The security layer has already checked the Origin and the CSRF token.

use std::sync::Arc;

use anyhow::Result;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;
use orchestrator_api::{
    HealthCheckSetting, ModuleSettingsUpdate, Retention, ScheduleArgs, SnapshotSelector,
    TakeSnapshotArgs,
};

use super::page::{Fields, field, reply};
use super::state::App;
use crate::error::usage;
use crate::operations::orchestrator::Answered;
use crate::operations::schedule::{self, parse_duration};
use crate::output;

/// Whether a checkbox `name` is ticked.
fn flag(fields: &Fields, name: &str) -> bool {
    fields.iter().any(|(k, v)| k == name && v == "true")
}

/// A snapshot id from the address, hex.
fn snapshot_id(id: &str) -> Result<Vec<u8>> {
    hex::decode(id).map_err(|_| usage(format!("{id:?} is not a snapshot id (hex)")))
}

/// `POST /modules/{name}/snapshots`: take one (label, pin).
pub async fn take(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    reply(
        async {
            let args = TakeSnapshotArgs {
                label: field(&fields, "label").map(str::to_string),
                pin: flag(&fields, "pin").then_some(true),
            };
            let s = app.orch().take_snapshot(&name, args).await.answered()?;
            anyhow::Ok(format!(
                "Took snapshot {} of {name} at {}",
                hex::encode(&s.id),
                output::time(s.taken_at)
            ))
        }
        .await,
    )
}

/// `POST /modules/{name}/snapshots/{id}/restore` (the page asked for confirmation first).
pub async fn restore(
    State(app): State<Arc<App>>,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    reply(
        async {
            let s = app
                .orch()
                .restore_snapshot(&name, Some(&snapshot_id(&id)?))
                .await
                .answered()?;
            anyhow::Ok(format!(
                "Restored {name} to its snapshot taken at {}",
                output::time(s.taken_at)
            ))
        }
        .await,
    )
}

/// `POST /modules/{name}/snapshots/{id}/delete`.
pub async fn delete(
    State(app): State<Arc<App>>,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    reply(
        async {
            let s = app
                .orch()
                .delete_snapshot(&name, Some(&snapshot_id(&id)?))
                .await
                .answered()?;
            anyhow::Ok(format!(
                "Deleted the snapshot of {name} taken at {}",
                output::time(s.taken_at)
            ))
        }
        .await,
    )
}

/// `POST /modules/{name}/snapshots/{id}/pin`.
pub async fn pin(state: State<Arc<App>>, path: Path<(String, String)>) -> Response {
    set_pinned(state, path, true).await
}

/// `POST /modules/{name}/snapshots/{id}/unpin`.
pub async fn unpin(state: State<Arc<App>>, path: Path<(String, String)>) -> Response {
    set_pinned(state, path, false).await
}

async fn set_pinned(
    State(app): State<Arc<App>>,
    Path((name, id)): Path<(String, String)>,
    pin: bool,
) -> Response {
    reply(
        async {
            let selector = SnapshotSelector::Id(serde_bytes::ByteBuf::from(snapshot_id(&id)?));
            app.orch().set_pinned(&name, selector, pin).await?;
            anyhow::Ok(format!(
                "{} the snapshot {id} of {name}",
                if pin { "Pinned" } else { "Unpinned" }
            ))
        }
        .await,
    )
}

/// `POST /modules/{name}/settings`.
pub async fn settings(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    reply(
        async {
            let max_snapshots = field(&fields, "max_snapshots")
                .map(|m| {
                    m.parse::<u8>().map_err(|_| {
                        usage(format!("max snapshots {m:?} is not a number from 1 to 10"))
                    })
                })
                .transpose()?;
            let update = ModuleSettingsUpdate {
                max_snapshots,
                snapshot_before_upgrade: Some(flag(&fields, "snapshot_before_upgrade")),
                stop_for_snapshot: Some(flag(&fields, "stop_for_snapshot")),
                health_check: Some(match field(&fields, "health_check") {
                    None | Some("none") => HealthCheckSetting::Disabled,
                    Some(m) => HealthCheckSetting::Method(m.to_string()),
                }),
            };
            app.orch()
                .update_module_settings(&name, update)
                .await
                .answered()?;
            anyhow::Ok(format!("Saved the settings of {name}"))
        }
        .await,
    )
}

/// `POST /modules/{name}/schedule`: kind (cron | every), value, keep, max_age.
pub async fn set_schedule(
    State(app): State<Arc<App>>,
    Path(name): Path<String>,
    Form(fields): Form<Fields>,
) -> Response {
    reply(
        async {
            let value = field(&fields, "value");
            let cadence = match field(&fields, "kind") {
                Some("every") => schedule::cadence(value, None),
                _ => schedule::cadence(None, Some(value.unwrap_or(""))),
            }
            .map_err(|e| usage(e.replace("--every ", "the interval ")))?;
            let keep = field(&fields, "keep")
                .map(|k| {
                    k.parse::<u8>()
                        .map_err(|_| usage(format!("keep {k:?} is not a number from 1 to 10")))
                })
                .transpose()?;
            let max_age_seconds = field(&fields, "max_age")
                .map(|a| parse_duration(a).map_err(|e| usage(format!("max age: {e}"))))
                .transpose()?;
            let info = app
                .orch()
                .set_schedule(
                    &name,
                    ScheduleArgs {
                        cadence,
                        retention: Retention {
                            keep,
                            max_age_seconds,
                        },
                    },
                )
                .await
                .answered()?;
            anyhow::Ok(format!(
                "Scheduled snapshots of {name}: {}; next run {}",
                schedule::describe_cadence(&info.cadence),
                output::time(info.next_run_at)
            ))
        }
        .await,
    )
}

/// `POST /modules/{name}/schedule/clear`.
pub async fn clear_schedule(State(app): State<Arc<App>>, Path(name): Path<String>) -> Response {
    reply(
        async {
            app.orch().clear_schedule(&name).await.answered()?;
            anyhow::Ok(format!("Cleared the schedule of {name}"))
        }
        .await,
    )
}
