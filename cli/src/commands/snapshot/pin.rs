//! `keepsake snapshot pin <module> (<id> | --label <label>)` or `keepsake snapshot pin --group
//! <group> <group-snapshot-id>`, and the selector it shares with `snapshot unpin`.

use anyhow::Result;
use clap::Args;
use orchestrator_api::SnapshotSelector;

use crate::commands::group::GroupSnapshotView;
use crate::commands::views::SnapshotView;
use crate::config::parse_snapshot_id;
use crate::context::Ctx;
use crate::error::usage;
use crate::output;

/// Which snapshots `pin` and `unpin` act on: one id, every snapshot with a label, or (with
/// --group) every member's snapshot of a group snapshot.
#[derive(Args, Debug)]
pub struct SelectorArgs {
    /// The module (name or canister id); with --group, the group snapshot's id (from `group
    /// show`).
    pub module: String,
    /// The snapshot id (hex, from `snapshot list`); or give --label.
    #[arg(required_unless_present_any = ["label", "group"], conflicts_with_all = ["label", "group"])]
    pub id: Option<String>,
    /// Every snapshot of the module carrying exactly this label, instead of an id.
    #[arg(long, conflicts_with = "group")]
    pub label: Option<String>,
    /// A group: pin (or unpin) a whole group snapshot — every member's snapshot — given by
    /// its id: `snapshot pin --group shop 12`.
    #[arg(long)]
    pub group: Option<String>,
}

impl SelectorArgs {
    /// The selector the orchestrator takes; a malformed id or label is a usage error.
    pub fn selector(&self) -> Result<SnapshotSelector> {
        match (&self.id, &self.label) {
            (Some(id), None) => Ok(SnapshotSelector::Id(serde_bytes::ByteBuf::from(
                parse_snapshot_id(id)?,
            ))),
            (None, Some(label)) => {
                // A label no snapshot can carry is a typo, not a lookup that finds nothing.
                orchestrator_api::validate_label(label).map_err(usage)?;
                Ok(SnapshotSelector::Label(label.clone()))
            }
            _ => Err(usage("give a snapshot id or --label, not both")),
        }
    }
}

/// Pin a snapshot (by id, or every snapshot with a label): retention, scheduled snapshots and
/// full slots never delete or replace it, and `snapshot delete` refuses it until it is
/// unpinned.
#[derive(Args, Debug)]
pub struct PinArgs {
    #[command(flatten)]
    pub target: SelectorArgs,
}

/// Runs `pin` (`pin` true) or `unpin`: the orchestrator answers the snapshots it changed.
pub async fn set_pinned(ctx: &Ctx, target: &SelectorArgs, pin: bool) -> Result<()> {
    if let Some(group) = &target.group {
        return set_group_pinned(ctx, group, &target.module, pin).await;
    }
    let selector = target.selector()?;
    let orch = ctx.orchestrator().await?;
    let name = orch.module_name(&target.module).await?;
    let changed = orch.set_pinned(&name, selector, pin).await?;
    let views: Vec<SnapshotView> = changed.iter().map(SnapshotView::from).collect();
    if ctx.json() {
        return output::json(&views);
    }
    let verb = if pin { "Pinned" } else { "Unpinned" };
    for v in &views {
        output::println(&format!(
            "{verb} snapshot {} of {}{}",
            v.id,
            v.module,
            v.label
                .as_deref()
                .map(|l| format!(" (label {l:?})"))
                .unwrap_or_default()
        ));
    }
    Ok(())
}

/// Pins or unpins the group snapshot `id` of `group`: every member's snapshot.
async fn set_group_pinned(ctx: &Ctx, group: &str, id: &str, pin: bool) -> Result<()> {
    let id: u64 = id.parse().map_err(|_| {
        usage(format!(
            "{} is not a group snapshot id (a number); `keepsake group show {group}` lists them",
            crate::error::echo(id)
        ))
    })?;
    let orch = ctx.orchestrator().await?;
    let changed = orch.set_group_pinned(group, id, pin).await?;
    let view = GroupSnapshotView::from(&changed);
    if ctx.json() {
        return output::json(&view);
    }
    let verb = if pin { "Pinned" } else { "Unpinned" };
    output::println(&format!(
        "{verb} group snapshot {} of {group}: {}",
        view.id,
        view.members
            .iter()
            .filter_map(|m| m.snapshot_id.as_ref().map(|s| format!("{}={s}", m.module)))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    Ok(())
}

/// Runs it.
pub async fn exec(ctx: &Ctx, args: &PinArgs) -> Result<()> {
    set_pinned(ctx, &args.target, true).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        pin: PinArgs,
    }

    fn parse(args: &[&str]) -> Result<SelectorArgs, clap::Error> {
        let mut all = vec!["pin"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).map(|c| c.pin.target)
    }

    #[test]
    fn a_snapshot_is_selected_by_id_or_by_label_not_both() {
        assert_eq!(
            parse(&["app", "0a0b"]).unwrap().selector().unwrap(),
            SnapshotSelector::Id(serde_bytes::ByteBuf::from(vec![10, 11]))
        );
        assert_eq!(
            parse(&["app", "--label", "golden"])
                .unwrap()
                .selector()
                .unwrap(),
            SnapshotSelector::Label("golden".into())
        );
        assert!(parse(&["app"]).unwrap_err().use_stderr());
        assert!(
            parse(&["app", "0a", "--label", "x"])
                .unwrap_err()
                .use_stderr()
        );
        // A group snapshot: the group and its id, nothing else.
        let group = parse(&["--group", "shop", "12"]).unwrap();
        assert_eq!(
            (group.group.as_deref(), group.module.as_str()),
            (Some("shop"), "12")
        );
        assert!(parse(&["--group", "shop", "12", "0a"]).is_err());
        assert!(parse(&["--group", "shop", "12", "--label", "x"]).is_err());
        // A malformed id is a usage error (exit 2) that says where ids come from.
        let err = parse(&["app", "zz"]).unwrap().selector().unwrap_err();
        assert!(err.downcast_ref::<crate::error::UsageError>().is_some());
        assert!(err.to_string().contains("snapshot list"), "{err}");
    }
}
