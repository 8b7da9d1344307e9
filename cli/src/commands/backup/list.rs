//! `keepsake backup list --repo <R> [<module>|<group>]`.

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use super::RepoArgs;
use crate::context::Ctx;
use crate::operations::backup::repo::rustic_error;
use crate::operations::backup::tags::{self, GroupOrigin, Origin};
use crate::output;

/// List the backups in the repository, newest snapshot first (unfinished ones are not shown).
/// A group backup is one line, with its members below it.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only the backups of this module (or canister id), including group backups it is a
    /// member of, or of this group.
    pub module: Option<String>,
    #[command(flatten)]
    pub repo: RepoArgs,
}

/// One backup: of one snapshot, or of a group snapshot.
#[derive(Serialize)]
#[serde(untagged)]
enum Listed {
    One {
        /// The restic snapshot id (what `backup restore` takes; a unique prefix is enough).
        backup_id: String,
        /// `snapshot`.
        kind: &'static str,
        #[serde(flatten)]
        origin: Origin,
        /// When it was written, RFC 3339.
        backed_up_at: String,
        /// Bytes of its files.
        total_bytes: u64,
    },
    Group {
        backup_id: String,
        /// `group`.
        kind: &'static str,
        /// The group, the group snapshot, when its window opened, and its members.
        #[serde(flatten)]
        origin: GroupOrigin,
        backed_up_at: String,
        total_bytes: u64,
    },
}

impl Listed {
    fn taken_at(&self) -> &str {
        match self {
            Listed::One { origin, .. } => &origin.taken_at,
            Listed::Group { origin, .. } => &origin.taken_at,
        }
    }

    fn backed_up_at(&self) -> &str {
        match self {
            Listed::One { backed_up_at, .. } | Listed::Group { backed_up_at, .. } => backed_up_at,
        }
    }
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
    let filter = args.module.as_deref();
    let mut rows: Vec<Listed> = snaps
        .iter()
        .filter(|s| !tags::is_partial(s))
        .filter_map(|s| {
            let backup_id = s.id.to_hex().as_str().to_string();
            let backed_up_at = s
                .summary
                .as_ref()
                .map(|x| x.backup_end.timestamp().to_string())
                .unwrap_or_default();
            let total_bytes = s
                .summary
                .as_ref()
                .map(|x| x.total_bytes_processed)
                .unwrap_or(0);
            if let Some(origin) = GroupOrigin::from_snapshot(s) {
                let wanted = filter.is_none_or(|f| {
                    origin.group == f
                        || origin
                            .members
                            .iter()
                            .any(|m| m.module == f || m.canister_id == f)
                });
                return wanted.then_some(Listed::Group {
                    backup_id,
                    kind: "group",
                    origin,
                    backed_up_at,
                    total_bytes,
                });
            }
            let origin = Origin::from_snapshot(s)?;
            let wanted = filter
                .is_none_or(|m| origin.module.as_deref() == Some(m) || origin.canister_id == m);
            wanted.then_some(Listed::One {
                backup_id,
                kind: "snapshot",
                origin,
                backed_up_at,
                total_bytes,
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        b.taken_at()
            .cmp(a.taken_at())
            .then(b.backed_up_at().cmp(a.backed_up_at()))
    });
    if ctx.json() {
        return output::json(&rows);
    }
    if rows.is_empty() {
        output::println("No backups");
        return Ok(());
    }
    let mut table: Vec<Vec<String>> = Vec::new();
    for r in &rows {
        match r {
            Listed::One {
                backup_id,
                origin,
                total_bytes,
                ..
            } => table.push(vec![
                backup_id[..8].to_string(),
                origin.module.clone().unwrap_or_else(|| "-".into()),
                origin.canister_id.clone(),
                origin.snapshot_id.clone(),
                origin.taken_at.clone(),
                output::bytes(*total_bytes),
            ]),
            Listed::Group {
                backup_id,
                origin,
                total_bytes,
                ..
            } => {
                table.push(vec![
                    backup_id[..8].to_string(),
                    format!("group {}", origin.group),
                    format!("{} members", origin.members.len()),
                    format!("group snapshot {}", origin.group_snapshot_id),
                    origin.taken_at.clone(),
                    output::bytes(*total_bytes),
                ]);
                for m in &origin.members {
                    table.push(vec![
                        String::new(),
                        format!("  {}", m.module),
                        m.canister_id.clone(),
                        m.snapshot_id.clone(),
                        String::new(),
                        String::new(),
                    ]);
                }
            }
        }
    }
    output::table(
        &[
            "BACKUP", "MODULE", "CANISTER", "SNAPSHOT", "TAKEN AT", "SIZE",
        ],
        &table,
    );
    Ok(())
}
