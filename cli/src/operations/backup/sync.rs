//! `backup sync` as a library, without printing: which of the orchestrator's snapshots the
//! repository lacks (`plan`), and backing one of them up (`back_up`). The console's Backups
//! page runs these in the background and shows their progress.
//!
//! A snapshot is in the repository when a complete backup has its canister id, snapshot id
//! and taken_at (snapshot ids are never reused on a network, but a reset local network counts
//! from zero again) — the rule `keepsake backup sync` and `backup run` use.

use std::collections::BTreeSet;

use anyhow::Result;
use candid::Principal;
use ic_agent::Agent;
use indicatif::ProgressBar;

use super::list;
use super::repo::{Password, RepoSpec};
use super::run::{RunSummary, run};
use super::source::IcSnapshot;
use super::tags::Origin;
use crate::operations::orchestrator::Answered;
use crate::operations::orchestrator::Orchestrator;
use crate::operations::store::RetryPolicy;
use crate::output;

/// One snapshot to back up.
#[derive(Debug, Clone)]
pub struct Wanted {
    /// The module.
    pub module: String,
    /// Its canister.
    pub canister: Principal,
    /// The IC snapshot.
    pub snapshot: Vec<u8>,
    /// When the IC took it (nanoseconds since the epoch).
    pub taken_at: u64,
}

/// What a sync has to do.
#[derive(Debug, Default)]
pub struct Plan {
    /// The snapshots the repository lacks, oldest first.
    pub missing: Vec<Wanted>,
    /// How many the repository already holds.
    pub already_present: usize,
    /// Modules whose snapshots could not be listed (name, canister, why).
    pub unlisted: Vec<(String, Principal, String)>,
}

/// Where backups come from, for their tags.
#[derive(Debug, Clone)]
pub struct Provenance {
    /// The network (its name, or URL).
    pub network: String,
    /// The orchestrator.
    pub orchestrator_id: Principal,
}

/// Compares the repository with every module's snapshots.
pub async fn plan(orch: &Orchestrator<'_>, spec: &RepoSpec, password: &Password) -> Result<Plan> {
    let modules = orch.list_modules().await.answered()?;
    let held: BTreeSet<(String, String, String)> = list::list(spec, password)
        .await?
        .into_iter()
        .map(|b| {
            (
                b.origin.canister_id,
                b.origin.snapshot_id,
                b.origin.taken_at,
            )
        })
        .collect();
    let mut plan = Plan::default();
    for m in modules {
        let snaps = match orch.list_snapshots(&m.name).await.answered() {
            Ok(s) => s,
            Err(e) => {
                plan.unlisted
                    .push((m.name, m.canister_id, format!("{e:#}")));
                continue;
            }
        };
        for s in snaps {
            let key = (
                m.canister_id.to_text(),
                hex::encode(&s.id),
                output::time(s.taken_at),
            );
            if held.contains(&key) {
                plan.already_present += 1;
            } else {
                plan.missing.push(Wanted {
                    module: m.name.clone(),
                    canister: m.canister_id,
                    snapshot: s.id.to_vec(),
                    taken_at: s.taken_at,
                });
            }
        }
    }
    plan.missing.sort_by_key(|w| w.taken_at);
    Ok(plan)
}

/// Backs up one snapshot (the caller holds the repository's `Backup` lock); `progress`
/// counts its bytes as they are read from the IC.
pub async fn back_up(
    agent: &Agent,
    spec: &RepoSpec,
    password: &Password,
    wanted: &Wanted,
    from: &Provenance,
    concurrency: usize,
    progress: ProgressBar,
) -> Result<RunSummary> {
    let origin = Origin {
        module: Some(wanted.module.clone()),
        canister_id: wanted.canister.to_text(),
        snapshot_id: hex::encode(&wanted.snapshot),
        taken_at: output::time(wanted.taken_at),
        orchestrator_id: Some(from.orchestrator_id.to_text()),
        network: from.network.clone(),
    };
    let source = IcSnapshot {
        agent: agent.clone(),
        canister: wanted.canister,
        snapshot: wanted.snapshot.clone(),
        runtime: tokio::runtime::Handle::current(),
        concurrency: concurrency.max(1),
        retry: RetryPolicy::default(),
        progress,
    };
    run(spec, password.clone(), source, origin).await
}
