//! `keepsake history [<module>]`.

use anyhow::Result;
use clap::Args;
use orchestrator_api::HistoryQuery;

use crate::commands::views::OperationView;
use crate::context::Ctx;
use crate::operations::orchestrator::Answered;
use crate::output;

/// Show the orchestrator's audit history, newest first: every operation with its trigger
/// (manual, upgrade, schedule, fleet, retention), its status (a skipped scheduled snapshot
/// says why) and its steps.
#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Only this module (name or canister id).
    pub module: Option<String>,
    /// At most this many operations (1 to 100).
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub limit: u32,
    /// Only operations older than this id (the `next` of the previous page).
    #[arg(long)]
    pub before: Option<u64>,
}

/// `--json` output.
#[derive(serde::Serialize)]
struct HistoryView {
    operations: Vec<OperationView>,
    /// Pass as `--before` for the next page; null on the last page.
    next: Option<u64>,
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &HistoryArgs) -> Result<()> {
    let orch = ctx.orchestrator().await?;
    let module = match &args.module {
        Some(m) => Some(orch.module_name(m).await?),
        None => None,
    };
    let page = orch
        .history(HistoryQuery {
            module,
            before: args.before,
            limit: Some(args.limit),
        })
        .await
        .answered()?;
    let view = HistoryView {
        operations: page.operations.iter().map(OperationView::from).collect(),
        next: page.next,
    };
    if ctx.json() {
        return output::json(&view);
    }
    if view.operations.is_empty() {
        match &args.module {
            // The orchestrator filters by name without checking it, so say which name was used.
            Some(m) => output::println(&format!(
                "No operations on module {m:?} (`keepsake module list` shows the registered names)."
            )),
            None => output::println("No operations yet."),
        }
    }
    for op in &view.operations {
        let status = op.status_text();
        output::println(&format!(
            "#{} {} {} ({}) by {} at {}: {}",
            op.id, op.kind, op.module, op.trigger, op.caller, op.started_at, status
        ));
        if let Some(id) = &op.snapshot_id {
            output::println(&format!("  snapshot {id}"));
        }
        for s in &op.steps {
            output::println(&s.line());
        }
    }
    if let Some(next) = view.next {
        output::println(&format!("More: keepsake history --before {next}"));
    }
    Ok(())
}
