//! Snapshots as the orchestrator records and lists them.

use candid::CandidType;
use serde::{Deserialize, Serialize};

/// A snapshot id as the IC issues it: an 8-byte big-endian per-canister counter followed by
/// the canister id's bytes.
pub type SnapshotId = serde_bytes::ByteBuf;

/// Longest label a snapshot may carry, in characters.
pub const MAX_LABEL_CHARS: usize = 100;

/// Why a snapshot was taken.
#[derive(CandidType, Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// An admin asked for it (`take_snapshot`).
    #[serde(rename = "manual")]
    Manual,
    /// Taken automatically before an upgrade.
    #[serde(rename = "upgrade")]
    Upgrade,
    /// Taken by a schedule.
    #[serde(rename = "schedule")]
    Schedule,
    /// Taken by a fleet snapshot (`take_all_snapshots`).
    #[serde(rename = "fleet")]
    Fleet,
    /// Deleted by a schedule's retention rule (history only: no snapshot is taken this way).
    #[serde(rename = "retention")]
    Retention,
    /// Uploaded by a client (`keepsake import`) through `begin_import` / `finish_import`.
    #[serde(rename = "import")]
    Import,
}

/// Argument of `take_snapshot`.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct TakeSnapshotArgs {
    /// A free-text label (at most 100 characters, no control characters).
    pub label: Option<String>,
    /// Pin the new snapshot: nothing deletes or replaces it automatically.
    pub pin: Option<bool>,
}

/// One snapshot of a module.
#[derive(CandidType, Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The IC's snapshot id.
    pub id: SnapshotId,
    /// The module it belongs to.
    pub module: String,
    /// When the IC took it (nanoseconds since the epoch).
    pub taken_at: u64,
    /// Its size in bytes, as the IC reports it.
    pub total_size: u64,
    /// The label given when it was taken.
    pub label: Option<String>,
    /// Why it was taken; none for external snapshots.
    pub trigger: Option<Trigger>,
    /// True when it was taken outside the orchestrator (dfx, icp-cli, another tool).
    pub external: bool,
    /// Pinned: never deleted or replaced automatically, and not deleted before it is unpinned.
    pub pinned: bool,
    /// Taken before the module's latest upgrade: retention and scheduled snapshots keep it
    /// until the next successful upgrade.
    pub kept_for_upgrade: bool,
}

/// Why a label is refused.
pub fn validate_label(label: &str) -> Result<(), String> {
    let chars = label.chars().count();
    if chars == 0 || chars > MAX_LABEL_CHARS {
        return Err(format!(
            "a label has 1 to {MAX_LABEL_CHARS} characters; this one has {chars}"
        ));
    }
    if label.chars().any(char::is_control) {
        return Err("a label may not contain control characters (newlines, tabs, …)".into());
    }
    Ok(())
}

/// The snapshot id in the hexadecimal form dfx and icp-cli print.
pub fn snapshot_id_hex(id: &[u8]) -> String {
    hex::encode(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_short_printable_text() {
        assert!(validate_label("before v2 migration").is_ok());
        assert!(validate_label("").is_err());
        assert!(validate_label(&"x".repeat(MAX_LABEL_CHARS + 1)).is_err());
        assert!(validate_label("two\nlines").is_err());
    }
}
