//! Upgrades started from the Upgrade page run here, in the background, so the page can follow
//! them: staging (the CLI's own resumable `stage`, whose progress bar is read, not drawn),
//! then `upgrade_module`, whose steps the orchestrator records as it goes and the page polls.

use std::collections::HashMap;
use std::sync::Arc;

use indicatif::ProgressBar;
use orchestrator_api::{HistoryQuery, OperationKind, UpgradeArgs};
use serde::Serialize;

use super::state::App;
use crate::commands::views::{OutcomeView, StepView};
use crate::operations::orchestrator::Answered;
use crate::operations::orchestrator::Orchestrator;
use crate::operations::upgrade::stage;

/// Where an upgrade job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Sending the wasm to the orchestrator in chunks.
    Staging,
    /// The orchestrator is upgrading (snapshot, stop, install, start, health check…).
    Upgrading,
    /// It ended; see the outcome (or the error).
    Finished,
}

/// One upgrade.
pub struct Job {
    /// The module.
    pub module: String,
    /// Where it is.
    pub phase: Phase,
    /// The staging progress (position = bytes staged, resumed ones included).
    pub staged: ProgressBar,
    /// The wasm's size.
    pub size: u64,
    /// Bytes an earlier staging had already sent (known once staging ends).
    pub resumed_from: Option<u64>,
    /// The module's newest history id before the upgrade started (none: it had no history):
    /// the upgrade's record is newer.
    pub history_head: Option<u64>,
    /// The upgrade's operation id, once known.
    pub operation_id: Option<u64>,
    /// Its steps, as last seen.
    pub steps: Vec<StepView>,
    /// How it ended.
    pub outcome: Option<OutcomeView>,
    /// Why it could not run (staging refused, call failed), in the orchestrator's words.
    pub error: Option<String>,
}

/// The jobs, by id.
#[derive(Default)]
pub struct Jobs {
    next: u64,
    jobs: HashMap<u64, Job>,
}

impl Jobs {
    /// Adds a job; its id.
    pub fn add(&mut self, job: Job) -> u64 {
        self.next += 1;
        self.jobs.insert(self.next, job);
        self.next
    }

    /// A job.
    pub fn get_mut(&mut self, id: u64) -> Option<&mut Job> {
        self.jobs.get_mut(&id)
    }
}

/// Starts job `id`: stage `wasm`, then upgrade with `args` (its hash filled in here).
pub fn spawn(app: Arc<App>, id: u64, wasm: Vec<u8>, mut args: UpgradeArgs) {
    tokio::spawn(async move {
        let agent = app.agent();
        let orch = Orchestrator::new(&agent, app.orchestrator_id());
        let (module, bar) = match app.jobs.lock().ok().and_then(|mut j| {
            j.get_mut(id)
                .map(|job| (job.module.clone(), job.staged.clone()))
        }) {
            Some(x) => x,
            None => return,
        };
        let update = |f: &dyn Fn(&mut Job)| {
            if let Ok(mut jobs) = app.jobs.lock()
                && let Some(job) = jobs.get_mut(id)
            {
                f(job);
            }
        };
        // 1. Stage, resuming what the orchestrator already holds (the CLI's code).
        let (hash, summary) = match stage(&orch, &wasm, &bar).await {
            Ok(x) => x,
            Err(e) => {
                let text = format!("{e:#}");
                update(&|job| {
                    job.phase = Phase::Finished;
                    job.error = Some(text.clone());
                });
                return;
            }
        };
        // 2. Where the history is now, so the upgrade's record can be told apart.
        let head = orch
            .history(HistoryQuery {
                module: Some(module.clone()),
                before: None,
                limit: Some(1),
            })
            .await
            .answered()
            .ok()
            .and_then(|p| p.operations.first().map(|o| o.id));
        update(&|job| {
            job.phase = Phase::Upgrading;
            job.resumed_from = Some(summary.resumed_from);
            job.history_head = head;
        });
        // 3. Upgrade: one long update call; the page polls the steps meanwhile.
        args.wasm_hash = hash;
        let result = orch.upgrade_module(&module, args).await.answered();
        update(&|job| {
            job.phase = Phase::Finished;
            match &result {
                Ok(report) => {
                    job.operation_id = Some(report.operation_id);
                    job.steps = report.steps.iter().map(StepView::from).collect();
                    job.outcome = Some(OutcomeView::from(&report.outcome));
                }
                Err(e) => job.error = Some(format!("{e:#}")),
            }
        });
    });
}

/// While the upgrade runs: its record in the history (newer than the head), steps so far.
pub async fn poll_steps(
    app: &App,
    module: &str,
    head: Option<u64>,
) -> Option<(u64, Vec<StepView>)> {
    let page = app
        .orch()
        .history(HistoryQuery {
            module: Some(module.to_string()),
            before: None,
            limit: Some(5),
        })
        .await
        .answered()
        .ok()?;
    page.operations
        .iter()
        .find(|o| head.is_none_or(|h| o.id > h) && o.kind == OperationKind::Upgrade)
        .map(|o| (o.id, o.steps.iter().map(StepView::from).collect()))
}
