//! Registered modules and their per-module settings.

use candid::{CandidType, Principal};
use serde::{Deserialize, Serialize};

/// What kind of canister a module is (Juno's vocabulary); informational only.
#[derive(CandidType, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModuleKind {
    /// A Juno-style satellite (an application's backend).
    #[serde(rename = "satellite")]
    Satellite,
    /// A Juno-style mission control (a developer's wallet and console).
    #[serde(rename = "mission_control")]
    MissionControl,
    /// A Juno-style orbiter (analytics).
    #[serde(rename = "orbiter")]
    Orbiter,
    /// Any other canister.
    #[serde(rename = "other")]
    Other,
}

/// Argument of `add_module`.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct AddModuleArgs {
    /// The canister to manage. The orchestrator must be one of its controllers.
    pub canister_id: Principal,
    /// Unique name, `[A-Za-z0-9_-]{1,64}`.
    pub name: String,
    /// What the canister is.
    pub kind: ModuleKind,
}

/// How the orchestrator treats one module.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ModuleSettings {
    /// Snapshots the module may hold (1..=10). When it holds this many, a new snapshot replaces
    /// the oldest. Default 1: one snapshot per module.
    pub max_snapshots: u8,
    /// Take a snapshot before every upgrade unless the upgrade says otherwise. Default true.
    pub snapshot_before_upgrade: bool,
    /// Stop the module while a manual or scheduled snapshot is taken. Default true.
    pub stop_for_snapshot: bool,
    /// A method of the module that must reply (not reject) after an upgrade; none = no check.
    pub health_check: Option<String>,
}

impl Default for ModuleSettings {
    fn default() -> Self {
        Self {
            max_snapshots: 1,
            snapshot_before_upgrade: true,
            stop_for_snapshot: true,
            health_check: None,
        }
    }
}

/// How `update_module_settings` changes the health check.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub enum HealthCheckSetting {
    /// No health check after upgrades.
    #[serde(rename = "disabled")]
    Disabled,
    /// Call this method (with empty candid arguments) after each upgrade.
    #[serde(rename = "method")]
    Method(String),
}

/// Argument of `update_module_settings`: fields left out keep their value.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct ModuleSettingsUpdate {
    /// New `max_snapshots` (1..=10).
    pub max_snapshots: Option<u8>,
    /// New `snapshot_before_upgrade`.
    pub snapshot_before_upgrade: Option<bool>,
    /// New `stop_for_snapshot`.
    pub stop_for_snapshot: Option<bool>,
    /// New health check.
    pub health_check: Option<HealthCheckSetting>,
}

/// A registered module as `list_modules` shows it.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ModuleInfo {
    /// The module's unique name.
    pub name: String,
    /// The canister.
    pub canister_id: Principal,
    /// What it is.
    pub kind: ModuleKind,
    /// How the orchestrator treats it.
    pub settings: ModuleSettings,
    /// When it was registered (nanoseconds since the epoch).
    pub added_at: u64,
    /// Who registered it.
    pub added_by: Principal,
    /// The operation running on it right now, if any.
    pub busy_with: Option<crate::OperationKind>,
    /// Its snapshot memory and what it costs; filled by `list_modules` (none when
    /// `canister_status` failed, and in the replies of the other module endpoints).
    pub snapshot_storage: Option<crate::SnapshotStorage>,
    /// When its schedule takes the next snapshot, if it has a schedule.
    pub next_snapshot_at: Option<u64>,
    /// Whether it runs, from `canister_status`; filled by `list_modules` (none when
    /// `canister_status` failed, and in the replies of the other module endpoints).
    pub status: Option<ModuleRunStatus>,
}

/// A module's run status as the IC reports it (`canister_status`).
#[derive(CandidType, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModuleRunStatus {
    /// It runs and accepts calls.
    #[serde(rename = "running")]
    Running,
    /// A stop was asked; it waits for its open calls to finish.
    #[serde(rename = "stopping")]
    Stopping,
    /// It is stopped: calls to it are rejected.
    #[serde(rename = "stopped")]
    Stopped,
}

/// Why a module name is refused.
pub fn validate_module_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err(format!(
            "a module name has 1 to 64 characters; {:?} has {}",
            name,
            name.chars().count()
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(format!(
            "a module name may contain only letters, digits, '_' and '-'; {name:?} contains {bad:?}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_letters_digits_underscore_dash_rule() {
        assert!(validate_module_name("satellite_1-prod").is_ok());
        assert!(validate_module_name(&"a".repeat(64)).is_ok());
        assert!(validate_module_name("").is_err());
        assert!(validate_module_name(&"a".repeat(65)).is_err());
        assert!(validate_module_name("has space").is_err());
        assert!(validate_module_name("dot.name").is_err());
        assert!(validate_module_name("émoji").is_err());
    }
}
