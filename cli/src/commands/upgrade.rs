//! `keepsake upgrade <module> <wasm-file> [--arg <candid>] [--no-snapshot] [--on-existing …]
//! [--no-rollback]`: stage, commit, upgrade, and print each step's outcome. With `--group <g>
//! <module>=<wasm>…` it is a group upgrade (`commands/group/upgrade.rs`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use orchestrator_api::{OnExisting, UpgradeArgs as ApiUpgradeArgs, UpgradeOutcome};
use serde::Serialize;

use crate::commands::views::{OutcomeView, StepView};
use crate::context::Ctx;
use crate::error::{Reported, usage};
use crate::operations::orchestrator::Answered;
use crate::operations::upgrade::{StageSummary, stage};
use crate::operations::wasm_file;
use crate::output;

/// What to do when the module's snapshot slots are full.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum OnExistingArg {
    /// Replace the oldest snapshot with the pre-upgrade one.
    Replace,
    /// Keep the existing snapshots and take none (no rollback possible).
    Keep,
    /// Refuse the upgrade before touching the module.
    Fail,
}

/// Upgrade a module with a wasm file.
///
/// Stages the wasm in the orchestrator (resuming an interrupted staging), then the orchestrator
/// takes a snapshot, stops the module, installs, starts it, runs its health check, and rolls
/// back to the snapshot if any of that fails. Asks for confirmation. Exit code 1 unless the
/// module ends up upgraded.
///
/// With --group <group> <module>=<wasm>…: a group upgrade. Each wasm is staged, then the
/// orchestrator stops every member of the group, takes a group snapshot (the consistent cut),
/// installs the named members' wasms, starts everyone, health-checks the upgraded members,
/// and rolls every changed member back to the cut if any of that fails.
#[derive(Args, Debug)]
pub struct UpgradeArgs {
    /// The module (name or canister id); with --group, the first `<module>=<wasm>` pair.
    pub module: String,
    /// The new wasm (gzipped or not); with --group, the next `<module>=<wasm>` pair.
    #[arg(required_unless_present = "group")]
    pub wasm: Option<PathBuf>,
    /// More `<module>=<wasm>` pairs (with --group).
    #[arg(requires = "group", value_name = "MODULE=WASM")]
    pub more: Vec<String>,
    /// Upgrade members of this group (application) behind one group snapshot.
    #[arg(long, conflicts_with_all = ["arg", "no_snapshot", "no_rollback"])]
    pub group: Option<String>,
    /// The post_upgrade argument in candid text, e.g. '(record { x = 1 })'. Default: ().
    #[arg(long)]
    pub arg: Option<String>,
    /// Do not take a snapshot first (overrides the module's snapshot_before_upgrade); no
    /// rollback is then possible.
    #[arg(long)]
    pub no_snapshot: bool,
    /// When the module's snapshot slots are full.
    #[arg(long, value_enum, default_value = "replace")]
    pub on_existing: OnExistingArg,
    /// Do not roll back when the install, restart or health check fails.
    #[arg(long)]
    pub no_rollback: bool,
}

/// `--json` output.
#[derive(Serialize)]
struct UpgradeView {
    module: String,
    staging: StageSummary,
    operation_id: u64,
    /// The pre-upgrade snapshot, hex.
    snapshot_id: Option<String>,
    outcome: OutcomeView,
    steps: Vec<StepView>,
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &UpgradeArgs) -> Result<()> {
    if let Some(group) = &args.group {
        let mut pairs = vec![args.module.clone()];
        pairs.extend(args.wasm.iter().map(|w| w.to_string_lossy().into_owned()));
        pairs.extend(args.more.iter().cloned());
        return crate::commands::group::upgrade::exec(ctx, group, &pairs).await;
    }
    let Some(wasm_path) = &args.wasm else {
        return Err(usage("give the module and its wasm file"));
    };
    let wasm = std::fs::read(wasm_path)
        .with_context(|| format!("cannot read the wasm file {}", wasm_path.display()))?;
    // Before anything is contacted: a file the IC cannot install would still make the
    // orchestrator stop the module and take (maybe replace) a snapshot.
    wasm_file::check(&wasm).map_err(|why| {
        usage(format!(
            "{} cannot be installed: {why}; nothing was sent. Give a .wasm file or a .wasm.gz of one",
            wasm_path.display()
        ))
    })?;
    let arg = match &args.arg {
        Some(text) => candid_parser::parse_idl_args(text)
            .map_err(|e| {
                usage(format!(
                    "--arg is not candid text ({e}); example: '(record {{ x = 1 }})'"
                ))
            })?
            .to_bytes()
            .context("cannot encode --arg")?,
        None => candid::encode_args(())?,
    };
    let orch = ctx.orchestrator().await?;
    let name = orch.module_name(&args.module).await?;
    ctx.confirm(&format!(
        "Upgrade module {name} with {} ({})",
        wasm_path.display(),
        output::bytes(wasm.len() as u64)
    ))?;
    let bar = output::byte_bar(ctx.show_progress(), wasm.len() as u64, "staging");
    let (hash, staging) = stage(&orch, &wasm, &bar).await?;
    if !ctx.json() {
        output::note(&format!(
            "Staged {} ({} sent, {} already there), sha256 {}",
            wasm_path.display(),
            output::bytes(staging.sent),
            output::bytes(staging.resumed_from),
            staging.wasm_sha256
        ));
    }
    let report = orch
        .upgrade_module(
            &name,
            ApiUpgradeArgs {
                wasm_hash: hash,
                arg,
                snapshot: if args.no_snapshot { Some(false) } else { None },
                on_existing: match args.on_existing {
                    OnExistingArg::Replace => OnExisting::Replace,
                    OnExistingArg::Keep => OnExisting::Keep,
                    OnExistingArg::Fail => OnExisting::Fail,
                },
                rollback_on_failure: !args.no_rollback,
            },
        )
        .await
        .answered()?;
    let upgraded = report.outcome == UpgradeOutcome::Upgraded;
    let view = UpgradeView {
        module: name.clone(),
        staging,
        operation_id: report.operation_id,
        snapshot_id: report.snapshot_id.as_ref().map(hex::encode),
        outcome: OutcomeView::from(&report.outcome),
        steps: report.steps.iter().map(StepView::from).collect(),
    };
    if ctx.json() {
        output::json(&view)?;
    } else {
        output::println(&format!(
            "Upgrade of {name} (operation {}):",
            view.operation_id
        ));
        for s in &view.steps {
            output::println(&s.line());
        }
        if let Some(id) = &view.snapshot_id {
            output::println(&format!("Pre-upgrade snapshot: {id}"));
        }
        let line = view.outcome.sentence(
            &name,
            &format!(
                "check `keepsake history {name}` and restore with `keepsake snapshot restore {name}`"
            ),
        );
        output::println(&line);
    }
    if upgraded {
        Ok(())
    } else {
        Err(Reported(format!(
            "the upgrade of {name} did not succeed ({})",
            view.outcome.kind
        ))
        .into())
    }
}
