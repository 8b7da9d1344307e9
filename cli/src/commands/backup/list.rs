//! `keepsake backup list --repo <R> [<module>]`.

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use super::RepoArgs;
use crate::context::Ctx;
use crate::operations::backup::repo::rustic_error;
use crate::operations::backup::tags::{self, Origin};
use crate::output;

/// List the backups in the repository, newest snapshot first (unfinished ones are not shown).
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only the backups of this module (or canister id).
    pub module: Option<String>,
    #[command(flatten)]
    pub repo: RepoArgs,
}

/// One backup.
#[derive(Serialize)]
struct Listed {
    /// The restic snapshot id (what `backup restore` takes; a unique prefix is enough).
    backup_id: String,
    #[serde(flatten)]
    origin: Origin,
    /// When it was written, RFC 3339.
    backed_up_at: String,
    /// Bytes of its files.
    total_bytes: u64,
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &ListArgs) -> Result<()> {
    let spec = args.repo.spec();
    let password = args.repo.password(false)?;
    let snaps = tokio::task::spawn_blocking(move || -> Result<_> {
        let repo = spec.open(&password)?;
        repo.get_all_snapshots().map_err(|e| rustic_error(*e))
    })
    .await??;
    let mut rows: Vec<Listed> = snaps
        .iter()
        .filter(|s| !tags::is_partial(s))
        .filter_map(|s| {
            let origin = Origin::from_snapshot(s)?;
            let wanted = args
                .module
                .as_deref()
                .is_none_or(|m| origin.module.as_deref() == Some(m) || origin.canister_id == m);
            wanted.then(|| Listed {
                backup_id: s.id.to_hex().as_str().to_string(),
                backed_up_at: s
                    .summary
                    .as_ref()
                    .map(|x| x.backup_end.timestamp().to_string())
                    .unwrap_or_default(),
                total_bytes: s
                    .summary
                    .as_ref()
                    .map(|x| x.total_bytes_processed)
                    .unwrap_or(0),
                origin,
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        b.origin
            .taken_at
            .cmp(&a.origin.taken_at)
            .then(b.backed_up_at.cmp(&a.backed_up_at))
    });
    if ctx.json() {
        return output::json(&rows);
    }
    if rows.is_empty() {
        output::println("No backups");
        return Ok(());
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.backup_id[..8].to_string(),
                r.origin.module.clone().unwrap_or_else(|| "-".into()),
                r.origin.canister_id.clone(),
                r.origin.snapshot_id.clone(),
                r.origin.taken_at.clone(),
                output::bytes(r.total_bytes),
            ]
        })
        .collect();
    output::table(
        &[
            "BACKUP", "MODULE", "CANISTER", "SNAPSHOT", "TAKEN AT", "SIZE",
        ],
        &table,
    );
    Ok(())
}
