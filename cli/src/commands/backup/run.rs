//! `keepsake backup run (<module-or-canister-id> | --all | --group <g>) --repo <R>
//! [--snapshot <id> | --group-snapshot <id> | --take] [--concurrency N]`.

use anyhow::{Result, anyhow};
use candid::Principal;
use clap::Args;
use serde::Serialize;

use super::RepoArgs;
use super::group::{back_up_group, choose_group_snapshot, print_group_summary};
use crate::commands::export::resolve_target;
use crate::config::parse_snapshot_id;
use crate::context::Ctx;
use crate::error::Reported;
use crate::operations::backup::lock::LockKind;
use crate::operations::backup::repo::{Password, RepoSpec};
use crate::operations::backup::run::{RunSummary, run};
use crate::operations::backup::source::IcSnapshot;
use crate::operations::backup::tags::Origin;
use crate::operations::orchestrator::Answered;
use crate::operations::store::{IcStore, RetryPolicy, SnapshotStore as _, retry};
use crate::output;

/// Back up a snapshot into the repository, streamed from the management canister (no copy on
/// local disk): the files `export` writes, as one restic snapshot tagged with the module,
/// canister, snapshot, when it was taken, the orchestrator and the network.
///
/// The identity must be a controller of the canister. Running it again for a snapshot the
/// repository already holds changes nothing. With --all, every registered module is backed
/// up, one after another; one failing does not stop the others (the exit code says so).
///
/// With --group, a group snapshot (every member taken while all were stopped) is stored as
/// one backup: a folder per member holding export's layout, and keepsake-group.json. A
/// partial group snapshot is refused (it is not a consistent cut).
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The module (orchestrator name) or canister id.
    #[arg(required_unless_present_any = ["all", "group"], conflicts_with_all = ["all", "group"])]
    pub target: Option<String>,
    /// Every module registered with the orchestrator: its newest snapshot (or a fresh one
    /// with --take).
    #[arg(long, conflicts_with_all = ["snapshot", "group"])]
    pub all: bool,
    /// A group (application): one of its group snapshots as one group backup; default its
    /// newest complete group snapshot, or a fresh one with --take.
    #[arg(long, value_name = "GROUP", conflicts_with = "snapshot")]
    pub group: Option<String>,
    /// With --group: the group snapshot (its id from `keepsake group show <group>`).
    #[arg(long, value_name = "ID", requires = "group", conflicts_with = "take")]
    pub group_snapshot: Option<u64>,
    #[command(flatten)]
    pub repo: RepoArgs,
    /// The snapshot id (hex); default: the newest snapshot of the canister.
    #[arg(long, conflicts_with = "take")]
    pub snapshot: Option<String>,
    /// Take a new snapshot first (through the orchestrator for a module, directly otherwise;
    /// with --group a group snapshot, through the orchestrator: if it fails, nothing is backed
    /// up).
    #[arg(long)]
    pub take: bool,
    /// Reads in flight per file being backed up (1 to 64). Modules are backed up one after
    /// another, so memory stays bounded by this, whatever the number of modules.
    /// The default is export's: a replica answers in rounds, and reads at 8 in flight ran at a
    /// third of 32's speed (export of 200 MB: 32 s vs 10 s); a backup at 32 peaked at 144 MiB
    /// (docs/BENCHMARKS.md, "Backups").
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &RunArgs) -> Result<()> {
    let spec = args.repo.spec().with_progress(ctx.show_progress());
    // The password first: a wrong setup fails before anything is taken or read.
    let password = args.repo.password(false)?;
    let explicit = args
        .snapshot
        .as_deref()
        .map(parse_snapshot_id)
        .transpose()?;
    if let Some(group) = &args.group {
        return run_group(ctx, &spec, &password, group, args).await;
    }
    // Checked by clap: a target unless --all.
    let target = match (&args.target, args.all) {
        (_, true) => None,
        (Some(t), false) => Some(t.clone()),
        (None, false) => return Err(crate::error::usage("name a module or canister, or --all")),
    };
    let (canister, module) = match &target {
        Some(t) => {
            let (c, m) = resolve_target(ctx, t, true).await?;
            (Some(c), m)
        }
        None => (None, None),
    };
    let _lock = spec.lock(LockKind::Backup, "keepsake backup run")?;
    let Some(canister) = canister else {
        return run_all(ctx, &spec, &password, args).await;
    };
    let snapshot = choose_snapshot(ctx, canister, module.as_deref(), explicit, args.take).await?;
    let summary = back_up(
        ctx,
        &spec,
        &password,
        canister,
        module,
        snapshot,
        args.concurrency,
    )
    .await?;
    if ctx.json() {
        return output::json(&summary);
    }
    print_summary(&summary);
    Ok(())
}

/// `run --group`: the group is resolved (its group snapshots listed) before the lock, and the
/// lock is taken before a `--take`, as for one module.
async fn run_group(
    ctx: &Ctx,
    spec: &RepoSpec,
    password: &Password,
    group: &str,
    args: &RunArgs,
) -> Result<()> {
    let listed = ctx
        .orchestrator()
        .await?
        .list_group_snapshots(group)
        .await
        .answered()?;
    let _lock = spec.lock(LockKind::Backup, "keepsake backup run --group")?;
    let chosen = choose_group_snapshot(ctx, group, listed, args.group_snapshot, args.take).await?;
    let summary = back_up_group(ctx, spec, password, &chosen, args.concurrency).await?;
    if ctx.json() {
        return output::json(&summary);
    }
    print_group_summary(&summary);
    Ok(())
}

/// The human line for one backup.
pub(super) fn print_summary(summary: &RunSummary) {
    if summary.already_present {
        output::println(&format!(
            "Backup {} already holds snapshot {} of {}; nothing to do",
            summary.backup_id, summary.origin.snapshot_id, summary.origin.canister_id
        ));
    } else {
        output::println(&format!(
            "Backed up snapshot {} of {} as {}: {} in {} files, the repository grew by {}",
            summary.origin.snapshot_id,
            summary.origin.canister_id,
            summary.backup_id,
            output::bytes(summary.total_bytes),
            summary.files.len() + 1,
            output::bytes(summary.added_bytes)
        ));
    }
}

/// Which snapshot to back up: the one named, a fresh one, or the newest.
async fn choose_snapshot(
    ctx: &Ctx,
    canister: Principal,
    module: Option<&str>,
    explicit: Option<Vec<u8>>,
    take: bool,
) -> Result<Vec<u8>> {
    let agent = ctx.agent().await?;
    let store = IcStore::new(agent, canister);
    let policy = RetryPolicy::default();
    if let Some(id) = explicit {
        return Ok(id);
    }
    if take {
        return match module {
            Some(name) => {
                let orch = ctx.orchestrator().await?;
                Ok(orch.take_labelled(name, "backup").await?.id.into_vec())
            }
            None => {
                // A canister the orchestrator does not manage: stop, take, start (always).
                retry(policy, || store.stop()).await?;
                let taken = retry(policy, || store.take()).await;
                retry(policy, || store.start()).await?;
                Ok(taken?.id)
            }
        };
    }
    retry(policy, || store.list())
        .await?
        .into_iter()
        .max_by_key(|s| s.taken_at_timestamp)
        .map(|s| s.id)
        .ok_or_else(|| {
            anyhow!("canister {canister} has no snapshot; take one with --take (or `keepsake snapshot take <module>`)")
        })
}

/// Backs up one snapshot of `canister` (the caller holds the repository's lock).
pub(super) async fn back_up(
    ctx: &Ctx,
    spec: &RepoSpec,
    password: &Password,
    canister: Principal,
    module: Option<String>,
    snapshot: Vec<u8>,
    concurrency: u16,
) -> Result<RunSummary> {
    let agent = ctx.agent().await?;
    let store = IcStore::new(agent, canister);
    let policy = RetryPolicy::default();
    let network = ctx.network()?;
    let orchestrator_id = if module.is_some() {
        ctx.orchestrator().await.ok().map(|o| o.id.to_text())
    } else {
        None
    };
    let taken_at = retry(policy, || store.list())
        .await?
        .into_iter()
        .find(|s| s.id == snapshot)
        .map(|s| output::time(s.taken_at_timestamp))
        .ok_or_else(|| {
            anyhow!(
                "canister {canister} has no snapshot {}; `keepsake snapshot list` shows them",
                hex::encode(&snapshot)
            )
        })?;
    let origin = Origin {
        module,
        canister_id: canister.to_text(),
        snapshot_id: hex::encode(&snapshot),
        taken_at,
        orchestrator_id,
        network: network.name.clone().unwrap_or(network.url.clone()),
    };
    if !ctx.json() {
        output::note(&format!(
            "Backing up snapshot {} of {canister} to {}",
            origin.snapshot_id, spec.repo
        ));
    }
    let from = IcSnapshot {
        agent: agent.clone(),
        canister,
        snapshot,
        runtime: tokio::runtime::Handle::current(),
        concurrency: concurrency as usize,
        retry: policy,
        // rustic_core's archive bar counts the same bytes as they reach the repository.
        progress: output::byte_bar(false, 0, "backup"),
    };
    let bar = from.progress.clone();
    let summary = run(spec, password.clone(), from, origin).await;
    bar.finish_and_clear();
    summary
}

/// How one backup of a batch (`backup run --all`, `backup sync`) ended: the fields every
/// line of the batch has, module or group.
#[derive(Debug, Serialize)]
pub(super) struct Outcome {
    /// `backed_up`, `already_present` or `failed`.
    pub result: &'static str,
    /// The backup, when there is one.
    pub backup_id: Option<String>,
    /// Bytes the repository grew by.
    pub added_bytes: u64,
    /// Why it failed (with its causes).
    pub error: Option<String>,
}

impl Outcome {
    /// The outcome of a run that ended in `r`: (already present, backup id, bytes added).
    pub(super) fn of(r: Result<(bool, String, u64)>) -> Self {
        match r {
            Ok((already_present, backup_id, added_bytes)) => Self {
                result: if already_present {
                    "already_present"
                } else {
                    "backed_up"
                },
                backup_id: Some(backup_id),
                added_bytes,
                error: None,
            },
            Err(e) => Self {
                result: "failed",
                backup_id: None,
                added_bytes: 0,
                error: Some(format!("{e:#}")),
            },
        }
    }

    /// The last column of a table row: the backup and what it added, or why it failed (one
    /// line, so that one backup stays one row).
    pub(super) fn detail(&self) -> String {
        match (&self.backup_id, &self.error) {
            (Some(b), _) => format!("{} (+{})", &b[..8], output::bytes(self.added_bytes)),
            (None, Some(e)) => e.lines().collect::<Vec<_>>().join(" "),
            (None, None) => String::new(),
        }
    }
}

/// One module's line of `backup run --all` and `backup sync`.
#[derive(Debug, Serialize)]
pub(super) struct ModuleResult {
    /// The module.
    pub module: String,
    /// Its canister.
    pub canister_id: String,
    /// The snapshot (hex), when one was chosen.
    pub snapshot_id: Option<String>,
    /// How its backup ended.
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl ModuleResult {
    pub(super) fn of(
        module: &str,
        canister: Principal,
        snapshot: Option<&[u8]>,
        r: Result<RunSummary>,
    ) -> Self {
        let snapshot_id = match &r {
            Ok(s) => Some(s.origin.snapshot_id.clone()),
            Err(_) => snapshot.map(hex::encode),
        };
        Self {
            module: module.to_string(),
            canister_id: canister.to_text(),
            snapshot_id,
            outcome: Outcome::of(r.map(|s| (s.already_present, s.backup_id, s.added_bytes))),
        }
    }

    /// A table row: module, result, snapshot, backup or reason.
    pub(super) fn row(&self) -> Vec<String> {
        vec![
            self.module.clone(),
            self.outcome.result.to_string(),
            self.snapshot_id.clone().unwrap_or_else(|| "-".into()),
            self.outcome.detail(),
        ]
    }
}

/// `--json` of `run --all` and `sync`.
#[derive(Debug, Serialize)]
pub(super) struct FleetResults {
    pub results: Vec<ModuleResult>,
    pub failed: usize,
}

/// Prints the results; an error (already reported) when any failed.
pub(super) fn report(ctx: &Ctx, results: Vec<ModuleResult>, what: &str) -> Result<()> {
    let failed = results
        .iter()
        .filter(|r| r.outcome.result == "failed")
        .count();
    let total = results.len();
    let view = FleetResults { results, failed };
    if ctx.json() {
        output::json(&view)?;
    } else if view.results.is_empty() {
        output::println(what);
    } else {
        let rows: Vec<Vec<String>> = view.results.iter().map(ModuleResult::row).collect();
        output::table(&["MODULE", "RESULT", "SNAPSHOT", "BACKUP OR REASON"], &rows);
    }
    if failed > 0 {
        // Every result is printed above; the exit code still says that something failed.
        return Err(Reported(format!(
            "{failed} of {total} backups failed; the others were made (run the command again to retry)"
        ))
        .into());
    }
    Ok(())
}

/// `run --all`: each module's newest snapshot (or a fresh one), one after another.
async fn run_all(ctx: &Ctx, spec: &RepoSpec, password: &Password, args: &RunArgs) -> Result<()> {
    let modules = ctx.orchestrator().await?.list_modules().await.answered()?;
    let mut results = Vec::new();
    for m in modules {
        let chosen = choose_snapshot(ctx, m.canister_id, Some(&m.name), None, args.take).await;
        let (snapshot, r) = match chosen {
            Ok(s) => {
                let r = back_up(
                    ctx,
                    spec,
                    password,
                    m.canister_id,
                    Some(m.name.clone()),
                    s.clone(),
                    args.concurrency,
                )
                .await;
                (Some(s), r)
            }
            Err(e) => (None, Err(e)),
        };
        results.push(ModuleResult::of(
            &m.name,
            m.canister_id,
            snapshot.as_deref(),
            r,
        ));
    }
    report(
        ctx,
        results,
        "No modules. Register one with `keepsake module add <canister-id> --name <name>`.",
    )
}
