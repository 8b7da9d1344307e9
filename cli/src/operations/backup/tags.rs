//! What a backup says about itself, as restic snapshot tags (`key=value`), so `backup list`
//! and the `restic` CLI (`restic snapshots --tag module=app`) can filter on them.
//!
//! Two kinds: a backup of one snapshot (`Origin`: `canister=`, `snapshot=`, …) and a group
//! backup (`GroupOrigin`: tag `keepsake-group`, `group=`, `group_snapshot=`, one `member=` per
//! member), which holds every member's files in a folder named after the member. A group
//! backup has no `canister=` tag, so code that reads `Origin`s never mistakes it for one
//! canister's backup.

use rustic_core::repofile::SnapshotFile;
use serde::Serialize;

/// Every backup carries this tag.
pub const KEEPSAKE: &str = "keepsake";
/// A first pass that is not a backup yet (see `run`): hidden from `backup list`, removed by
/// the run that made it, and by the next run if that one was killed.
pub const PARTIAL: &str = "keepsake-partial";

/// Every group backup carries this tag too.
pub const GROUP: &str = "keepsake-group";

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
        if !s.tags.contains(KEEPSAKE) || s.tags.contains(GROUP) {
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

/// One member of a group backup: its folder in the backup is `module`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MemberTag {
    /// The module (and the member's folder in the backup).
    pub module: String,
    /// Its canister.
    pub canister_id: String,
    /// Its IC snapshot, hex.
    pub snapshot_id: String,
}

/// Where a group backup came from: one group snapshot of the orchestrator.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct GroupOrigin {
    /// The group (application).
    pub group: String,
    /// The group snapshot's id in the orchestrator.
    pub group_snapshot_id: u64,
    /// When the group snapshot's window opened (the first member asked to stop), RFC 3339:
    /// with the id, what tells two group snapshots apart after an orchestrator was reinstalled.
    pub taken_at: String,
    /// The orchestrator.
    pub orchestrator_id: Option<String>,
    /// The network (its name, or URL).
    pub network: String,
    /// The members (read back from tags: sorted by module name).
    pub members: Vec<MemberTag>,
}

impl GroupOrigin {
    /// The tags: `member=<module>/<canister>/<snapshot>` per member (none of the three can
    /// hold a `/` or a comma).
    pub fn tags(&self) -> Vec<String> {
        let mut t = vec![
            KEEPSAKE.to_string(),
            GROUP.to_string(),
            format!("group={}", self.group),
            format!("group_snapshot={}", self.group_snapshot_id),
            format!("taken_at={}", self.taken_at),
            format!("network={}", self.network),
        ];
        if let Some(o) = &self.orchestrator_id {
            t.push(format!("orchestrator={o}"));
        }
        for m in &self.members {
            t.push(format!(
                "member={}/{}/{}",
                m.module, m.canister_id, m.snapshot_id
            ));
        }
        t
    }

    /// Reads the tags back; `None` for anything but a group backup.
    pub fn from_snapshot(s: &SnapshotFile) -> Option<Self> {
        if !s.tags.contains(KEEPSAKE) || !s.tags.contains(GROUP) {
            return None;
        }
        let values = |key: &str| -> Vec<String> {
            s.tags
                .iter()
                .filter_map(|t| t.strip_prefix(key)?.strip_prefix('=').map(str::to_string))
                .collect()
        };
        let one = |key: &str| values(key).into_iter().next();
        let members = values("member")
            .iter()
            .map(|m| {
                let mut parts = m.splitn(3, '/');
                Some(MemberTag {
                    module: parts.next()?.to_string(),
                    canister_id: parts.next()?.to_string(),
                    snapshot_id: parts.next()?.to_string(),
                })
            })
            .collect::<Option<Vec<_>>>()?;
        // A snapshot's tags are a set: the members come back sorted by module name (the
        // group's own order is in keepsake-group.json).
        Some(Self {
            group: one("group")?,
            group_snapshot_id: one("group_snapshot")?.parse().ok()?,
            taken_at: one("taken_at").unwrap_or_default(),
            orchestrator_id: one("orchestrator"),
            network: one("network").unwrap_or_default(),
            members,
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
        assert_eq!(GroupOrigin::from_snapshot(&s), None);
    }

    #[test]
    fn group_tags_round_trip_and_a_group_backup_is_not_read_as_one_canisters_backup() {
        let g = GroupOrigin {
            group: "shop".into(),
            group_snapshot_id: 42,
            taken_at: "2026-01-01T00:00:00Z".into(),
            orchestrator_id: Some("2vxsx-fae".into()),
            network: "local".into(),
            members: vec![
                MemberTag {
                    module: "app".into(),
                    canister_id: "aaaaa-aa".into(),
                    snapshot_id: "00ff".into(),
                },
                MemberTag {
                    module: "b-2".into(),
                    canister_id: "2vxsx-fae".into(),
                    snapshot_id: "01ff".into(),
                },
            ],
        };
        let mut s = SnapshotFile::default();
        s.add_tags(vec![g.tags().join(",").parse().unwrap()]);
        assert_eq!(GroupOrigin::from_snapshot(&s), Some(g));
        assert_eq!(Origin::from_snapshot(&s), None);
    }
}
