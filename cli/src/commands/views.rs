//! The `--json` output structures of the orchestrator commands, and their text forms.
//!
//! They are keepsake's stable interface for scripts, documented in cli/README.md: principals
//! as text, snapshot ids and hashes as hex, times both as RFC 3339 and as nanoseconds. Changing
//! a field's meaning is a breaking change; adding fields is not.

use orchestrator_api::*;
use serde::Serialize;

use crate::output;

/// The serde name of a candid variant (`satellite`, `take_snapshot`, …).
pub fn variant_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(o)) => o.keys().next().cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

/// A module.
#[derive(Serialize)]
pub struct ModuleView {
    /// Its name in the orchestrator.
    pub name: String,
    /// The canister.
    pub canister_id: String,
    /// satellite | mission_control | orbiter | other.
    pub kind: String,
    /// Snapshots it may hold.
    pub max_snapshots: u8,
    /// Snapshot before each upgrade.
    pub snapshot_before_upgrade: bool,
    /// Stop it while a snapshot is taken.
    pub stop_for_snapshot: bool,
    /// Health-check method, if any.
    pub health_check: Option<String>,
    /// When it was registered, RFC 3339.
    pub added_at: String,
    /// Who registered it.
    pub added_by: String,
    /// The operation running on it now, if any.
    pub busy_with: Option<String>,
    /// Its snapshot memory and monthly cost; null when the orchestrator could not ask
    /// canister_status, and in the replies of `module add` / `module set`.
    pub snapshot_storage: Option<StorageView>,
    /// When its schedule takes the next snapshot, RFC 3339; null without a schedule.
    pub next_snapshot_at: Option<String>,
    /// The same in nanoseconds since the epoch.
    pub next_snapshot_at_ns: Option<u64>,
    /// running | stopping | stopped, as the orchestrator saw it; null when it could not ask
    /// canister_status, and in the replies of `module add` / `module set`.
    pub status: Option<String>,
}

/// A module's snapshot memory and what it costs.
#[derive(Serialize)]
pub struct StorageView {
    /// Bytes its snapshots use (canister_status `memory_metrics.snapshots_size`).
    pub bytes: u64,
    /// Estimated cycles per 30-day month at the 13-node-subnet rate.
    pub monthly_cost_cycles: u128,
}

impl From<&ModuleInfo> for ModuleView {
    fn from(m: &ModuleInfo) -> Self {
        Self {
            name: m.name.clone(),
            canister_id: m.canister_id.to_text(),
            kind: variant_name(&m.kind),
            max_snapshots: m.settings.max_snapshots,
            snapshot_before_upgrade: m.settings.snapshot_before_upgrade,
            stop_for_snapshot: m.settings.stop_for_snapshot,
            health_check: m.settings.health_check.clone(),
            added_at: output::time(m.added_at),
            added_by: m.added_by.to_text(),
            busy_with: m.busy_with.map(|k| k.to_string()),
            snapshot_storage: m.snapshot_storage.as_ref().map(|s| StorageView {
                bytes: s.bytes,
                monthly_cost_cycles: s.monthly_cost_cycles,
            }),
            next_snapshot_at: m.next_snapshot_at.map(output::time),
            next_snapshot_at_ns: m.next_snapshot_at,
            status: m.status.as_ref().map(variant_name),
        }
    }
}

impl ModuleView {
    /// Text form.
    pub fn print(&self) {
        output::println(&format!(
            "{} ({}, {})",
            self.name, self.canister_id, self.kind
        ));
        output::println(&format!(
            "  max_snapshots {}, snapshot_before_upgrade {}, stop_for_snapshot {}, health_check {}",
            self.max_snapshots,
            self.snapshot_before_upgrade,
            self.stop_for_snapshot,
            self.health_check.as_deref().unwrap_or("none")
        ));
    }

    /// Its snapshot memory, e.g. `4.2 MiB`; `?` when unknown.
    pub fn storage_text(&self) -> String {
        match &self.snapshot_storage {
            Some(s) => output::bytes(s.bytes),
            None => "?".into(),
        }
    }

    /// Its estimated storage cost, e.g. `0.33 T cycles/month`; `?` when unknown.
    pub fn cost_text(&self) -> String {
        match &self.snapshot_storage {
            Some(s) => format!("{} cycles/month", output::cycles(s.monthly_cost_cycles)),
            None => "?".into(),
        }
    }

    /// Its next scheduled snapshot, RFC 3339 and relative to `now_ns`; `-` without a schedule.
    pub fn next_snapshot_text(&self, now_ns: u64) -> String {
        match self.next_snapshot_at_ns {
            Some(ns) => output::time_and_relative(ns, now_ns),
            None => "-".into(),
        }
    }
}

/// A snapshot.
#[derive(Serialize)]
pub struct SnapshotView {
    /// The IC's snapshot id, hex.
    pub id: String,
    /// The module.
    pub module: String,
    /// When it was taken, RFC 3339.
    pub taken_at: String,
    /// The same in nanoseconds since the epoch.
    pub taken_at_ns: u64,
    /// Size in bytes.
    pub total_size: u64,
    /// Label, if any.
    pub label: Option<String>,
    /// manual | upgrade | schedule | fleet; none for external snapshots.
    pub trigger: Option<String>,
    /// Taken outside the orchestrator.
    pub external: bool,
    /// Pinned: never deleted or replaced automatically; unpin it before deleting it.
    pub pinned: bool,
    /// Taken before the module's latest upgrade: kept until the next successful upgrade.
    pub kept_for_upgrade: bool,
}

impl From<&SnapshotInfo> for SnapshotView {
    fn from(s: &SnapshotInfo) -> Self {
        Self {
            id: hex::encode(&s.id),
            module: s.module.clone(),
            taken_at: output::time(s.taken_at),
            taken_at_ns: s.taken_at,
            total_size: s.total_size,
            label: s.label.clone(),
            trigger: s.trigger.as_ref().map(variant_name),
            external: s.external,
            pinned: s.pinned,
            kept_for_upgrade: s.kept_for_upgrade,
        }
    }
}

impl SnapshotView {
    /// What protects it from automatic deletion: `pinned`, `kept-for-upgrade`, both or `-`.
    pub fn markers(&self) -> String {
        let mut markers = Vec::new();
        if self.pinned {
            markers.push("pinned");
        }
        if self.kept_for_upgrade {
            markers.push("kept-for-upgrade");
        }
        if markers.is_empty() {
            "-".into()
        } else {
            markers.join(",")
        }
    }

    /// Table row: id, time, size, label, trigger, external, markers.
    pub fn row(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.taken_at.clone(),
            output::bytes(self.total_size),
            self.label.clone().unwrap_or_else(|| "-".into()),
            self.trigger.clone().unwrap_or_else(|| "-".into()),
            if self.external {
                "yes".into()
            } else {
                "no".into()
            },
            self.markers(),
        ]
    }

    /// Table header.
    pub const HEADER: [&'static str; 7] = [
        "ID", "TAKEN", "SIZE", "LABEL", "TRIGGER", "EXTERNAL", "KEPT",
    ];
}

/// One step of an operation.
#[derive(Serialize, Clone)]
pub struct StepView {
    /// check_status | list_snapshots | stop | take_snapshot | … (candid names).
    pub step: String,
    /// ok | skipped | failed | running.
    pub outcome: String,
    /// Why it was skipped or failed.
    pub detail: Option<String>,
    /// Start, RFC 3339.
    pub started_at: String,
    /// End, RFC 3339, unless running.
    pub finished_at: Option<String>,
    /// The member module it acted on, in a group operation (null otherwise).
    pub module: Option<String>,
}

impl From<&StepRecord> for StepView {
    fn from(s: &StepRecord) -> Self {
        let (outcome, detail) = match &s.outcome {
            StepOutcome::Ok => ("ok", None),
            StepOutcome::Running => ("running", None),
            StepOutcome::Failed(r) => ("failed", Some(r.clone())),
            StepOutcome::Skipped(r) => ("skipped", Some(r.clone())),
        };
        Self {
            step: s.step.to_string(),
            outcome: outcome.into(),
            detail,
            started_at: output::time(s.started_at),
            finished_at: s.finished_at.map(output::time),
            module: s.module.clone(),
        }
    }
}

impl StepView {
    /// Text form, one line.
    pub fn line(&self) -> String {
        // A group operation's steps name their member.
        let step = match &self.module {
            Some(module) => format!("{module}: {}", self.step),
            None => self.step.clone(),
        };
        match &self.detail {
            Some(d) => format!("  {step:<18} {} ({d})", self.outcome),
            None => format!("  {step:<18} {}", self.outcome),
        }
    }
}

/// An operation in the history.
#[derive(Serialize)]
pub struct OperationView {
    /// Sequential id.
    pub id: u64,
    /// The module.
    pub module: String,
    /// take_snapshot | restore_snapshot | delete_snapshot | upgrade | import | group_snapshot |
    /// group_restore (for a group operation, `module` is the group).
    pub kind: String,
    /// in_progress | completed | failed | skipped.
    pub status: String,
    /// Why it failed (status `failed`).
    pub failure: Option<String>,
    /// Why it did not run (status `skipped`): every slot protected, or the module was busy
    /// and when it is tried again.
    pub skipped_because: Option<String>,
    /// manual | upgrade | schedule | fleet | retention (for snapshots also import).
    pub trigger: String,
    /// Who asked.
    pub caller: String,
    /// The snapshot it took, restored or deleted, hex.
    pub snapshot_id: Option<String>,
    /// Start, RFC 3339.
    pub started_at: String,
    /// End, RFC 3339.
    pub finished_at: Option<String>,
    /// Every step.
    pub steps: Vec<StepView>,
}

impl From<&OperationRecord> for OperationView {
    fn from(o: &OperationRecord) -> Self {
        let (status, failure, skipped_because) = match &o.status {
            OperationStatus::InProgress => ("in_progress", None, None),
            OperationStatus::Completed => ("completed", None, None),
            OperationStatus::Failed(r) => ("failed", Some(r.clone()), None),
            OperationStatus::Skipped(r) => ("skipped", None, Some(r.clone())),
        };
        Self {
            id: o.id,
            module: o.module.clone(),
            kind: o.kind.to_string(),
            status: status.into(),
            failure,
            skipped_because,
            trigger: variant_name(&o.trigger),
            caller: o.caller.to_text(),
            snapshot_id: o.snapshot_id.as_ref().map(hex::encode),
            started_at: output::time(o.started_at),
            finished_at: o.finished_at.map(output::time),
            steps: o.steps.iter().map(StepView::from).collect(),
        }
    }
}

impl OperationView {
    /// Its status for people: `completed`, `failed: <why>`, `skipped: <why>`, `in_progress`.
    pub fn status_text(&self) -> String {
        match (&self.failure, &self.skipped_because) {
            (Some(why), _) => format!("failed: {why}"),
            (None, Some(why)) => format!("skipped: {why}"),
            (None, None) => self.status.clone(),
        }
    }
}

/// How an upgrade ended.
#[derive(Serialize, Clone)]
pub struct OutcomeView {
    /// upgraded | rolled_back | failed | rollback_failed.
    pub kind: String,
    /// The step that failed.
    pub failed_step: Option<String>,
    /// Why it failed.
    pub reason: Option<String>,
    /// Why there was no rollback (`failed`).
    pub no_rollback_because: Option<String>,
    /// The rollback step that failed (`rollback_failed`).
    pub rollback_step: Option<String>,
    /// Its error.
    pub rollback_error: Option<String>,
    /// Whether the module runs (absent when it surely does).
    pub module_running: Option<bool>,
}

impl OutcomeView {
    /// How the upgrade of module `name` ended, in a sentence; `help` says where to look and
    /// how to restore when even the rollback failed (the CLI names commands, the console its
    /// pages).
    pub fn sentence(&self, name: &str, help: &str) -> String {
        let failed_at = self.failed_step.as_deref().unwrap_or("?");
        let reason = self.reason.as_deref().unwrap_or("");
        let running = self.module_running.unwrap_or(false);
        match self.kind.as_str() {
            "upgraded" => format!("Upgraded {name}."),
            "rolled_back" => format!(
                "Upgrade failed at {failed_at} ({reason}); {name} was rolled back to the \
                 pre-upgrade snapshot and runs its old code and state."
            ),
            "failed" => format!(
                "Upgrade failed at {failed_at} ({reason}); no rollback: {}. Module running: \
                 {running}.",
                self.no_rollback_because.as_deref().unwrap_or("")
            ),
            _ => format!(
                "Upgrade failed at {failed_at} ({reason}) and the rollback failed at {} ({}); \
                 module running: {running}. It needs a human: {help}.",
                self.rollback_step.as_deref().unwrap_or("?"),
                self.rollback_error.as_deref().unwrap_or("")
            ),
        }
    }
}

impl From<&UpgradeOutcome> for OutcomeView {
    fn from(o: &UpgradeOutcome) -> Self {
        let mut v = OutcomeView {
            kind: variant_name(o),
            failed_step: None,
            reason: None,
            no_rollback_because: None,
            rollback_step: None,
            rollback_error: None,
            module_running: None,
        };
        match o {
            UpgradeOutcome::Upgraded => {}
            UpgradeOutcome::RolledBack {
                failed_step,
                reason,
            } => {
                v.failed_step = Some(failed_step.to_string());
                v.reason = Some(reason.clone());
            }
            UpgradeOutcome::Failed {
                failed_step,
                reason,
                no_rollback_because,
                module_running,
            } => {
                v.failed_step = Some(failed_step.to_string());
                v.reason = Some(reason.clone());
                v.no_rollback_because = Some(no_rollback_because.clone());
                v.module_running = Some(*module_running);
            }
            UpgradeOutcome::RollbackFailed {
                failed_step,
                reason,
                rollback_step,
                rollback_error,
                module_running,
            } => {
                v.failed_step = Some(failed_step.to_string());
                v.reason = Some(reason.clone());
                v.rollback_step = Some(rollback_step.to_string());
                v.rollback_error = Some(rollback_error.clone());
                v.module_running = Some(*module_running);
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_are_named_as_in_candid() {
        assert_eq!(variant_name(&ModuleKind::MissionControl), "mission_control");
        assert_eq!(variant_name(&Trigger::Upgrade), "upgrade");
        let o = UpgradeOutcome::RolledBack {
            failed_step: OperationStep::Install,
            reason: "trap".into(),
        };
        let v = OutcomeView::from(&o);
        assert_eq!(v.kind, "rolled_back");
        assert_eq!(v.failed_step.as_deref(), Some("install"));
    }

    fn operation(status: OperationStatus, trigger: Trigger) -> OperationRecord {
        OperationRecord {
            id: 7,
            module: "app".into(),
            kind: OperationKind::TakeSnapshot,
            caller: candid::Principal::anonymous(),
            trigger,
            started_at: 0,
            finished_at: Some(1),
            steps: vec![],
            status,
            snapshot_id: None,
        }
    }

    #[test]
    fn a_skipped_operation_says_why_apart_from_failures() {
        let skipped = OperationView::from(&operation(
            OperationStatus::Skipped("every slot is pinned".into()),
            Trigger::Schedule,
        ));
        assert_eq!(skipped.status, "skipped");
        assert_eq!(skipped.failure, None);
        assert_eq!(
            skipped.skipped_because.as_deref(),
            Some("every slot is pinned")
        );
        assert_eq!(skipped.trigger, "schedule");
        assert_eq!(skipped.status_text(), "skipped: every slot is pinned");
        let failed = OperationView::from(&operation(
            OperationStatus::Failed("stop rejected".into()),
            Trigger::Fleet,
        ));
        assert_eq!(failed.status_text(), "failed: stop rejected");
        assert_eq!(failed.skipped_because, None);
        assert_eq!(failed.trigger, "fleet");
        let json = serde_json::to_value(&skipped).unwrap();
        assert_eq!(json["skipped_because"], "every slot is pinned");
        assert_eq!(
            OperationView::from(&operation(OperationStatus::Completed, Trigger::Retention))
                .status_text(),
            "completed"
        );
    }

    fn snapshot(pinned: bool, kept_for_upgrade: bool) -> SnapshotInfo {
        SnapshotInfo {
            id: serde_bytes::ByteBuf::from(vec![0, 1]),
            module: "app".into(),
            taken_at: 0,
            total_size: 10,
            label: None,
            trigger: Some(Trigger::Upgrade),
            external: false,
            pinned,
            kept_for_upgrade,
        }
    }

    #[test]
    fn snapshots_show_what_keeps_them_from_automatic_deletion() {
        assert_eq!(SnapshotView::from(&snapshot(false, false)).markers(), "-");
        assert_eq!(
            SnapshotView::from(&snapshot(true, false)).markers(),
            "pinned"
        );
        let both = SnapshotView::from(&snapshot(true, true));
        assert_eq!(both.markers(), "pinned,kept-for-upgrade");
        assert_eq!(both.row().len(), SnapshotView::HEADER.len());
        let json = serde_json::to_value(&both).unwrap();
        assert_eq!(json["pinned"], true);
        assert_eq!(json["kept_for_upgrade"], true);
    }

    #[test]
    fn modules_show_snapshot_memory_cost_and_next_snapshot() {
        let module = ModuleInfo {
            name: "app".into(),
            canister_id: candid::Principal::anonymous(),
            kind: ModuleKind::Other,
            settings: ModuleSettings::default(),
            added_at: 0,
            added_by: candid::Principal::anonymous(),
            busy_with: None,
            snapshot_storage: Some(SnapshotStorage {
                bytes: 1 << 30,
                monthly_cost_cycles: monthly_storage_cost(1 << 30),
            }),
            next_snapshot_at: Some(1_700_000_000_000_000_000),
            status: Some(orchestrator_api::ModuleRunStatus::Stopping),
        };
        let view = ModuleView::from(&module);
        assert_eq!(view.storage_text(), "1.0 GiB");
        assert_eq!(view.cost_text(), "0.33 T cycles/month");
        assert_eq!(
            view.next_snapshot_text(1_700_000_000_000_000_000 - 600_000_000_000),
            "2023-11-14T22:13:20Z (in 10m)"
        );
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(json["snapshot_storage"]["bytes"], 1u64 << 30);
        assert_eq!(
            json["snapshot_storage"]["monthly_cost_cycles"],
            329_184_000_000u64
        );
        assert_eq!(json["next_snapshot_at"], "2023-11-14T22:13:20Z");
        assert_eq!(json["status"], "stopping");
        let bare = ModuleView::from(&ModuleInfo {
            snapshot_storage: None,
            next_snapshot_at: None,
            ..module
        });
        assert_eq!(
            (bare.storage_text(), bare.cost_text()),
            ("?".into(), "?".into())
        );
        assert_eq!(bare.next_snapshot_text(0), "-");
        assert!(serde_json::to_value(&bare).unwrap()["snapshot_storage"].is_null());
    }
}
