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
    /// manual | upgrade | schedule; none for external snapshots.
    pub trigger: Option<String>,
    /// Taken outside the orchestrator.
    pub external: bool,
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
        }
    }
}

impl SnapshotView {
    /// Table row: id, time, size, label, trigger, external.
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
        ]
    }

    /// Table header.
    pub const HEADER: [&'static str; 6] = ["ID", "TAKEN", "SIZE", "LABEL", "TRIGGER", "EXTERNAL"];
}

/// One step of an operation.
#[derive(Serialize)]
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
        }
    }
}

impl StepView {
    /// Text form, one line.
    pub fn line(&self) -> String {
        match &self.detail {
            Some(d) => format!("  {:<18} {} ({d})", self.step, self.outcome),
            None => format!("  {:<18} {}", self.step, self.outcome),
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
    /// take_snapshot | restore_snapshot | delete_snapshot | upgrade.
    pub kind: String,
    /// in_progress | completed | failed.
    pub status: String,
    /// Why it failed.
    pub failure: Option<String>,
    /// manual | upgrade | schedule.
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
        let (status, failure) = match &o.status {
            OperationStatus::InProgress => ("in_progress", None),
            OperationStatus::Completed => ("completed", None),
            OperationStatus::Failed(r) => ("failed", Some(r.clone())),
            OperationStatus::Skipped(r) => ("skipped", Some(r.clone())),
        };
        Self {
            id: o.id,
            module: o.module.clone(),
            kind: o.kind.to_string(),
            status: status.into(),
            failure,
            trigger: variant_name(&o.trigger),
            caller: o.caller.to_text(),
            snapshot_id: o.snapshot_id.as_ref().map(hex::encode),
            started_at: output::time(o.started_at),
            finished_at: o.finished_at.map(output::time),
            steps: o.steps.iter().map(StepView::from).collect(),
        }
    }
}

/// How an upgrade ended.
#[derive(Serialize)]
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
}
