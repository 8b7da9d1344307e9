//! What a backup says about itself, as restic snapshot tags (`key=value`), so `backup list`
//! and the `restic` CLI (`restic snapshots --tag module=app`) can filter on them.

use rustic_core::repofile::SnapshotFile;
use serde::Serialize;

/// Every backup carries this tag.
pub const KEEPSAKE: &str = "keepsake";
/// A first pass that is not a backup yet (see `run`): hidden from `backup list`, removed by
/// the run that made it, and by the next run if that one was killed.
pub const PARTIAL: &str = "keepsake-partial";

/// Where a backup's snapshot came from.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Origin {
    /// The orchestrator's module name, when the canister is a registered module.
    pub module: Option<String>,
    /// The canister.
    pub canister_id: String,
    /// The IC snapshot, hex.
    pub snapshot_id: String,
    /// When the IC took it, RFC 3339.
    pub taken_at: String,
    /// The orchestrator, when known.
    pub orchestrator_id: Option<String>,
    /// The network (its name, or URL).
    pub network: String,
}

impl Origin {
    /// The tags (restic tags cannot hold commas; none of these values can).
    pub fn tags(&self) -> Vec<String> {
        let mut t = vec![
            KEEPSAKE.to_string(),
            format!("canister={}", self.canister_id),
            format!("snapshot={}", self.snapshot_id),
            format!("taken_at={}", self.taken_at),
            format!("network={}", self.network),
        ];
        if let Some(m) = &self.module {
            t.push(format!("module={m}"));
        }
        if let Some(o) = &self.orchestrator_id {
            t.push(format!("orchestrator={o}"));
        }
        t
    }

    /// Reads the tags back; `None` for a snapshot keepsake did not write.
    pub fn from_snapshot(s: &SnapshotFile) -> Option<Self> {
        if !s.tags.contains(KEEPSAKE) {
            return None;
        }
        let get = |key: &str| {
            s.tags
                .iter()
                .find_map(|t| t.strip_prefix(key)?.strip_prefix('=').map(str::to_string))
        };
        Some(Self {
            module: get("module"),
            canister_id: get("canister")?,
            snapshot_id: get("snapshot")?,
            taken_at: get("taken_at").unwrap_or_default(),
            orchestrator_id: get("orchestrator"),
            network: get("network").unwrap_or_default(),
        })
    }
}

/// Is this snapshot an unfinished first pass?
pub fn is_partial(s: &SnapshotFile) -> bool {
    s.tags.contains(PARTIAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_through_a_snapshot() {
        let o = Origin {
            module: Some("app".into()),
            canister_id: "aaaaa-aa".into(),
            snapshot_id: "00ff".into(),
            taken_at: "2026-01-01T00:00:00Z".into(),
            orchestrator_id: Some("2vxsx-fae".into()),
            network: "http://127.0.0.1:4943".into(),
        };
        let mut s = SnapshotFile::default();
        let tags = o.tags().join(",").parse().unwrap();
        s.add_tags(vec![tags]);
        assert_eq!(Origin::from_snapshot(&s), Some(o));
        assert!(!is_partial(&s));
        assert_eq!(Origin::from_snapshot(&SnapshotFile::default()), None);
    }
}
