//! `keepsake backup restore <backup-id> --repo <R> --to <canister> [--load]
//! [--replace <snapshot-id>]`, and for a group backup `keepsake backup restore <backup-id>
//! --repo <R> [--to <module>=<canister>…] [--load]`.

use std::collections::BTreeMap;

use anyhow::Result;
use clap::Args;

use super::RepoArgs;
use crate::config::parse_snapshot_id;
use crate::context::Ctx;
use crate::error::{Reported, usage};
use crate::operations::backup::group_restore::{GroupRestoreSummary, restore_group};
use crate::operations::backup::lock::LockKind;
use crate::operations::backup::repo::rustic_error;
use crate::operations::backup::restore::{RestoreOptions, restore};
use crate::operations::backup::tags::GroupOrigin;
use crate::operations::store::{IcStore, RetryPolicy};
use crate::output;

/// Upload a backup from the repository into a canister as a new snapshot (streamed: nothing
/// is written to local disk), and with --load stop the canister, load it and start it again.
///
/// Any canister the identity controls will do: the same one, a fresh one, one on another
/// network. Every file is checked against keepsake.json before the snapshot is loaded.
///
/// A group backup is restored as a unit: every member is uploaded into its own canister (or
/// the one `--to <module>=<canister>` names); if one upload fails, the others are deleted
/// again. With --load: all stopped, a safety snapshot of each, each loaded, and if one load
/// fails the others are loaded back to their state from before; all started again, always.
#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The backup (its id from `backup list`; a unique prefix is enough).
    pub backup: String,
    #[command(flatten)]
    pub repo: RepoArgs,
    /// The canister to upload to (a canister id or a module name). For a group backup:
    /// `<module>=<canister>` for each member that goes elsewhere than its own canister
    /// (repeat it).
    #[arg(long, value_name = "CANISTER")]
    pub to: Vec<String>,
    /// Then stop the canister, load the snapshot and start it again. Destructive.
    #[arg(long)]
    pub load: bool,
    /// Replace this snapshot of the canister (hex) instead of adding one (not for a group).
    #[arg(long)]
    pub replace: Option<String>,
    /// Uploads in flight (1 to 64).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &RestoreArgs) -> Result<()> {
    let spec = args.repo.spec().with_progress(ctx.show_progress());
    let password = args.repo.password(false)?;
    // Which kind of backup (reads only the snapshot file).
    let (s, p, id) = (spec.clone(), password.clone(), args.backup.clone());
    let is_group = tokio::task::spawn_blocking(move || -> Result<bool> {
        let repo = s.open(&p)?;
        Ok(repo
            .get_snapshot_from_str(&id, |_| true)
            .map_err(|e| rustic_error(*e))
            .ok()
            .is_some_and(|snap| GroupOrigin::from_snapshot(&snap).is_some()))
    })
    .await??;
    if is_group {
        return exec_group(ctx, args).await;
    }
    let to = match args.to.as_slice() {
        [one] if !one.contains('=') => one,
        [] => return Err(usage("say where to restore the backup: --to <canister>")),
        _ => {
            return Err(usage(
                "this backup holds one snapshot: give one --to <canister> (`<module>=<canister>` is for group backups)",
            ));
        }
    };
    let replace = args.replace.as_deref().map(parse_snapshot_id).transpose()?;
    let (canister, _) = crate::commands::export::resolve_target(ctx, to, false).await?;
    // A restore reads; it may run next to a backup, not next to a forget.
    let _lock = spec.lock(LockKind::Restore, "keepsake backup restore")?;
    if args.load {
        ctx.confirm(&format!(
            "This replaces the state of canister {canister} with backup {}",
            args.backup
        ))?;
    }
    let agent = ctx.agent().await?;
    let store = IcStore::new(agent, canister);
    let opts = RestoreOptions {
        replace,
        concurrency: args.concurrency as usize,
        retry: RetryPolicy::default(),
        load: args.load,
    };
    if !ctx.json() {
        output::note(&format!(
            "Restoring backup {} from {} into {canister}",
            args.backup, spec.repo
        ));
    }
    let bar = output::byte_bar(ctx.show_progress(), 0, "restore");
    let summary = restore(&spec, password, &args.backup, &store, &opts, &bar).await?;
    if ctx.json() {
        return output::json(&summary);
    }
    output::println(&format!(
        "Uploaded backup {} (snapshot {} of {}) to {} as snapshot {} ({}){}",
        &summary.backup_id[..8],
        summary.origin.snapshot_id,
        summary.origin.canister_id,
        summary.canister_id,
        summary.snapshot_id,
        output::bytes(summary.uploaded_bytes),
        if summary.load.is_some() {
            "; loaded and started"
        } else {
            ""
        }
    ));
    Ok(())
}

/// A group backup, as a unit.
async fn exec_group(ctx: &Ctx, args: &RestoreArgs) -> Result<()> {
    if args.replace.is_some() {
        return Err(usage(
            "--replace is for a backup of one snapshot; a group backup is uploaded as new snapshots",
        ));
    }
    let mut to = BTreeMap::new();
    for t in &args.to {
        let Some((module, target)) = t.split_once('=') else {
            return Err(usage(format!(
                "--to {t}: this is a group backup, so --to takes <module>=<canister> (one per member that goes elsewhere)"
            )));
        };
        let (canister, _) = crate::commands::export::resolve_target(ctx, target, false).await?;
        if to.insert(module.to_string(), canister).is_some() {
            return Err(usage(format!("--to names member {module} twice")));
        }
    }
    let spec = args.repo.spec();
    let password = args.repo.password(false)?;
    let _lock = spec.lock(LockKind::Restore, "keepsake backup restore")?;
    if args.load {
        ctx.confirm(&format!(
            "This replaces the state of every member's canister with group backup {}",
            args.backup
        ))?;
    }
    let agent = ctx.agent().await?;
    let opts = RestoreOptions {
        replace: None,
        concurrency: args.concurrency as usize,
        retry: RetryPolicy::default(),
        load: args.load,
    };
    if !ctx.json() {
        output::note(&format!(
            "Restoring group backup {} from {}",
            args.backup, spec.repo
        ));
    }
    let summary = restore_group(
        &spec,
        password,
        &args.backup,
        agent,
        &to,
        &opts,
        ctx.show_progress(),
    )
    .await?;
    let ok = summary.ok(args.load);
    if ctx.json() {
        output::json(&summary)?;
    } else {
        print_group(&summary, args.load);
    }
    if ok {
        return Ok(());
    }
    let failed: Vec<String> = summary
        .members
        .iter()
        .filter(|m| m.outcome == "failed" || m.outcome == "undo_failed" || m.running == Some(false))
        .map(|m| match m.step {
            Some(step) => format!("{} ({step})", m.module),
            None => format!("{} ({})", m.module, m.outcome),
        })
        .collect();
    Err(Reported(format!(
        "group backup {} was not restored: {}; see the report above for what each member holds",
        &summary.backup_id[..8],
        failed.join(", ")
    ))
    .into())
}

fn print_group(s: &GroupRestoreSummary, load: bool) {
    let rows: Vec<Vec<String>> = s
        .members
        .iter()
        .map(|m| {
            vec![
                m.module.clone(),
                m.canister_id.clone(),
                m.outcome.to_string(),
                m.snapshot_id.clone().unwrap_or_else(|| "-".into()),
                match m.running {
                    Some(true) => "yes".into(),
                    Some(false) => "NO".into(),
                    None => "-".into(),
                },
                m.reason
                    .as_deref()
                    .map(|r| {
                        let step = m.step.map(|s| format!("{s}: ")).unwrap_or_default();
                        format!(
                            "{step}{}",
                            r.split_whitespace().collect::<Vec<_>>().join(" ")
                        )
                    })
                    .unwrap_or_default(),
            ]
        })
        .collect();
    output::table(
        &[
            "MEMBER", "CANISTER", "OUTCOME", "SNAPSHOT", "RUNNING", "DETAIL",
        ],
        &rows,
    );
    if s.ok(load) {
        output::println(&format!(
            "{} group backup {} (group snapshot {} of {}) into {} canisters",
            if load { "Restored" } else { "Uploaded" },
            &s.backup_id[..8],
            s.group_snapshot_id,
            s.group,
            s.members.len()
        ));
    }
}
