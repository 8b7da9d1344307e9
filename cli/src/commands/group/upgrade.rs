//! `keepsake upgrade --group <group> <module>=<wasm>…`: checks every file before anything is
//! contacted, stages each wasm (resuming staged chunks, as `keepsake upgrade` does), then asks
//! the orchestrator for one group upgrade and prints what happened to each member.

use std::path::PathBuf;

use anyhow::{Context, Result};
use orchestrator_api::{GroupUpgradeArgs, GroupUpgradeMember};
use serde::Serialize;

use crate::commands::group::{MemberReportView, print_members};
use crate::context::Ctx;
use crate::error::{Reported, echo, usage};
use crate::operations::orchestrator::Answered;
use crate::operations::upgrade::{StageSummary, stage};
use crate::operations::wasm_file;
use crate::output;

/// One `<module>=<wasm>` pair, split; a malformed pair is a usage error.
fn split_pair(pair: &str) -> Result<(String, PathBuf)> {
    let Some((module, path)) = pair.split_once('=') else {
        return Err(usage(format!(
            "{} is not <module>=<wasm>; example: keepsake upgrade --group shop app=app.wasm.gz index=index.wasm",
            echo(pair)
        )));
    };
    if module.is_empty() || path.is_empty() {
        return Err(usage(format!(
            "{} is not <module>=<wasm>: both sides are needed",
            echo(pair)
        )));
    }
    Ok((module.to_string(), PathBuf::from(path)))
}

/// A member's staging in `--json`.
#[derive(Serialize)]
struct StagedView {
    module: String,
    wasm: String,
    staging: StageSummary,
}

/// `--json` output.
#[derive(Serialize)]
struct GroupUpgradeView {
    group: String,
    operation_id: u64,
    /// The group snapshot taken first: what a failed upgrade rolled back to.
    group_snapshot_id: u64,
    upgraded: bool,
    staged: Vec<StagedView>,
    members: Vec<MemberReportView>,
}

/// Runs a group upgrade of `group` with `pairs` (`<module>=<wasm>`).
pub async fn exec(ctx: &Ctx, group: &str, pairs: &[String]) -> Result<()> {
    // 1. Every pair well-formed, every file a wasm, each module once — before any call.
    let mut planned = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let (module, path) = split_pair(pair)?;
        crate::operations::orchestrator::check_module_arg(&module)?;
        if planned
            .iter()
            .any(|(m, _, _): &(String, PathBuf, Vec<u8>)| *m == module)
        {
            return Err(usage(format!(
                "module {} is named twice; give each member once",
                echo(&module)
            )));
        }
        let wasm = std::fs::read(&path)
            .with_context(|| format!("cannot read the wasm file {}", path.display()))?;
        wasm_file::check(&wasm).map_err(|why| {
            usage(format!(
                "{} cannot be installed: {why}; nothing was sent. Give a .wasm file or a .wasm.gz of one",
                path.display()
            ))
        })?;
        planned.push((module, path, wasm));
    }
    let orch = ctx.orchestrator().await?;
    let mut named = Vec::with_capacity(planned.len());
    for (module, path, wasm) in planned {
        named.push((orch.module_name(&module).await?, path, wasm));
    }
    ctx.confirm(&format!(
        "Upgrade group {group}: {} (every member is stopped for the group snapshot and the installs)",
        named
            .iter()
            .map(|(m, p, w)| format!(
                "{m} with {} ({})",
                p.display(),
                output::bytes(w.len() as u64)
            ))
            .collect::<Vec<_>>()
            .join(", ")
    ))?;

    // 2. Stage each wasm.
    let mut staged = Vec::with_capacity(named.len());
    let mut members = Vec::with_capacity(named.len());
    for (module, path, wasm) in &named {
        let bar = output::byte_bar(ctx.show_progress(), wasm.len() as u64, "staging");
        let (hash, staging) = stage(&orch, wasm, &bar).await?;
        if !ctx.json() {
            output::note(&format!(
                "Staged {} for {module} ({} sent, {} already there)",
                path.display(),
                output::bytes(staging.sent),
                output::bytes(staging.resumed_from),
            ));
        }
        members.push(GroupUpgradeMember {
            module: module.clone(),
            wasm_hash: hash,
            arg: None,
        });
        staged.push(StagedView {
            module: module.clone(),
            wasm: path.display().to_string(),
            staging,
        });
    }

    // 3. The group upgrade.
    let report = orch
        .upgrade_group(
            group,
            GroupUpgradeArgs {
                members,
                stop_timeout_seconds: None,
            },
        )
        .await
        .answered()?;
    let view = GroupUpgradeView {
        group: group.to_string(),
        operation_id: report.operation_id,
        group_snapshot_id: report.group_snapshot_id,
        upgraded: report.upgraded,
        staged,
        members: report.members.iter().map(MemberReportView::from).collect(),
    };
    if ctx.json() {
        output::json(&view)?;
    } else {
        output::println(&format!(
            "Group upgrade of {group} (operation {}, group snapshot {}):",
            view.operation_id, view.group_snapshot_id
        ));
        print_members(&view.members);
        output::println(&if view.upgraded {
            format!("Upgraded {group}.")
        } else {
            format!(
                "The group upgrade failed; the members were rolled back to group snapshot {} \
                 (see each member above; `keepsake history {group}` has every step).",
                view.group_snapshot_id
            )
        });
    }
    if view.upgraded {
        Ok(())
    } else {
        Err(Reported(format!("the group upgrade of {group} did not succeed")).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_is_given_as_module_equals_wasm() {
        let (m, p) = split_pair("app=dist/app.wasm.gz").unwrap();
        assert_eq!((m.as_str(), p), ("app", PathBuf::from("dist/app.wasm.gz")));
        // Only the first `=` splits: a path may hold one.
        let (m, p) = split_pair("b=a=b.wasm").unwrap();
        assert_eq!((m.as_str(), p), ("b", PathBuf::from("a=b.wasm")));
        for bad in ["app", "=x.wasm", "app="] {
            let err = split_pair(bad).unwrap_err();
            assert!(
                err.downcast_ref::<crate::error::UsageError>().is_some(),
                "{bad}"
            );
        }
    }
}
