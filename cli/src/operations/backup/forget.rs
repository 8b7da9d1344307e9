//! `backup forget`: which backups a retention policy keeps, per canister, with restic's rules
//! (rustic_core's `KeepOptions`), and the removal and prune that follow.
//!
//! What "keep" means here: the policy counts IC snapshots, not copies. Backups are grouped by
//! canister id; within a group, backups holding the same IC snapshot (same snapshot id and
//! taken_at, e.g. made into the repository twice) count once: the newest copy stands for the
//! snapshot and is the one kept, the other copies are redundant and go. So `--keep-last 3`
//! keeps three different snapshots, and a snapshot the rules keep always keeps one backup.
//! A backup's time is when the IC took the snapshot (not when it was backed up), so daily,
//! weekly and monthly buckets follow the snapshots. Unfinished first passes left by a killed
//! run go too (no run is in progress: forget holds the repository's lock). Snapshots keepsake
//! did not write (a `restic backup` into the same repository) are left alone.
//!
//! A group backup is one restic snapshot holding every member, so it is kept or removed as a
//! unit: group backups form their own series per group (not per member canister), counted by
//! group snapshot, and the rules never split one.

use std::collections::BTreeMap;

use anyhow::Result;
use rustic_core::KeepOptions;
use rustic_core::jiff::Zoned;
use rustic_core::repofile::SnapshotFile;
use serde::Serialize;

use super::repo::rustic_error;
use super::tags::{self, GroupOrigin, Origin};

/// The retention flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct Keep {
    /// The newest N snapshots.
    pub last: Option<u32>,
    /// The newest snapshot of each of the last N days that have one.
    pub daily: Option<u32>,
    /// ... weeks.
    pub weekly: Option<u32>,
    /// ... months.
    pub monthly: Option<u32>,
}

impl Keep {
    /// Is any rule given?
    pub fn any(&self) -> bool {
        self.last.is_some()
            || self.daily.is_some()
            || self.weekly.is_some()
            || self.monthly.is_some()
    }

    fn options(&self) -> KeepOptions {
        let n = |v: Option<u32>| v.map(|v| i32::try_from(v).unwrap_or(i32::MAX));
        KeepOptions::default()
            .keep_last(n(self.last))
            .keep_daily(n(self.daily))
            .keep_weekly(n(self.weekly))
            .keep_monthly(n(self.monthly))
    }
}

/// What happens to one backup.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// The restic snapshot id.
    pub backup_id: String,
    /// `snapshot` or `group`.
    pub kind: &'static str,
    /// Where a backup of one snapshot came from.
    #[serde(flatten)]
    pub origin: Option<Origin>,
    /// Where a group backup came from.
    #[serde(flatten)]
    pub group: Option<GroupOrigin>,
    /// Kept (true) or removed.
    pub keep: bool,
    /// Why: the rules that keep it (restic's words: "last", "daily", …), or why it goes.
    pub reasons: Vec<String>,
}

impl Decision {
    /// The module (or `group <name>`), for a table.
    pub fn what(&self) -> String {
        match (&self.origin, &self.group) {
            (Some(o), _) => o.module.clone().unwrap_or_else(|| "-".into()),
            (None, Some(g)) => format!("group {}", g.group),
            (None, None) => "-".into(),
        }
    }

    /// The canister (or the group's members), for a table.
    pub fn source(&self) -> String {
        match (&self.origin, &self.group) {
            (Some(o), _) => o.canister_id.clone(),
            (None, Some(g)) => g
                .members
                .iter()
                .map(|m| m.module.as_str())
                .collect::<Vec<_>>()
                .join(","),
            (None, None) => "-".into(),
        }
    }

    /// When the IC took the snapshot (a group snapshot: when its window opened).
    pub fn taken_at(&self) -> &str {
        match (&self.origin, &self.group) {
            (Some(o), _) => &o.taken_at,
            (None, Some(g)) => &g.taken_at,
            (None, None) => "",
        }
    }

    /// The series the rules count in: a canister, or a group.
    fn series(&self) -> String {
        match (&self.origin, &self.group) {
            (Some(o), _) => format!("canister {}", o.canister_id),
            (None, Some(g)) => format!("group {}", g.group),
            (None, None) => String::new(),
        }
    }
}

/// A keepsake backup of either kind.
#[derive(Clone)]
enum Source {
    One(Origin),
    Group(GroupOrigin),
}

impl Source {
    fn of(s: &SnapshotFile) -> Option<Self> {
        GroupOrigin::from_snapshot(s)
            .map(Source::Group)
            .or_else(|| Origin::from_snapshot(s).map(Source::One))
    }

    /// The series: backups of one canister, or group backups of one group. A group backup is
    /// one restic snapshot, so the rules keep or remove it whole.
    fn series(&self) -> String {
        match self {
            Source::One(o) => format!("canister {}", o.canister_id),
            Source::Group(g) => format!("group {}", g.group),
        }
    }

    /// What one backup holds: the same key means another copy of the same thing.
    fn key(&self) -> (String, String) {
        match self {
            Source::One(o) => (o.snapshot_id.clone(), o.taken_at.clone()),
            Source::Group(g) => (g.group_snapshot_id.to_string(), g.taken_at.clone()),
        }
    }
}

/// Decides, for every keepsake backup in `snaps`, whether `keep` keeps it.
pub fn plan(snaps: Vec<SnapshotFile>, keep: &Keep, now: &Zoned) -> Result<Vec<Decision>> {
    let opts = keep.options();
    let mut out = Vec::new();
    // 1. Ours only; unfinished first passes go.
    let mut series: BTreeMap<String, Vec<(SnapshotFile, Source)>> = BTreeMap::new();
    for s in snaps {
        let Some(source) = Source::of(&s) else {
            continue;
        };
        if tags::is_partial(&s) {
            out.push(decision(
                &s,
                source,
                false,
                "unfinished backup left by an interrupted run",
            ));
            continue;
        }
        series.entry(source.series()).or_default().push((s, source));
    }
    for (_, mut backups) in series {
        // 2. One backup stands for each IC snapshot (or group snapshot): the newest copy.
        backups.sort_by_key(|(s, _)| std::cmp::Reverse(backed_up_at(s)));
        let mut stands_for: BTreeMap<(String, String), String> = BTreeMap::new();
        let mut representatives = Vec::new();
        let mut sources = BTreeMap::new();
        for (s, source) in backups {
            let key = source.key();
            if let Some(kept) = stands_for.get(&key) {
                let why = format!("another backup ({}) holds the same snapshot", &kept[..8]);
                out.push(decision(&s, source, false, &why));
                continue;
            }
            stands_for.insert(key, s.id.to_hex().as_str().to_string());
            sources.insert(s.id, source);
            representatives.push(s);
        }
        // 3. restic's rules over the snapshots.
        for f in opts
            .apply(representatives, now)
            .map_err(|e| rustic_error(*e))?
        {
            let Some(source) = sources.remove(&f.snapshot.id) else {
                continue;
            };
            let mut d = decision(&f.snapshot, source, f.keep, "");
            d.reasons = if f.keep {
                f.reasons
            } else {
                vec!["not kept by the --keep-* rules".into()]
            };
            out.push(d);
        }
    }
    out.sort_by(|a, b| {
        a.series()
            .cmp(&b.series())
            .then(b.taken_at().cmp(a.taken_at()))
    });
    Ok(out)
}

fn backed_up_at(s: &SnapshotFile) -> String {
    s.summary
        .as_ref()
        .map(|x| x.backup_end.timestamp().to_string())
        .unwrap_or_default()
}

fn decision(s: &SnapshotFile, source: Source, keep: bool, why: &str) -> Decision {
    let (kind, origin, group) = match source {
        Source::One(o) => ("snapshot", Some(o), None),
        Source::Group(g) => ("group", None, Some(g)),
    };
    Decision {
        backup_id: s.id.to_hex().as_str().to_string(),
        kind,
        origin,
        group,
        keep,
        reasons: if why.is_empty() {
            vec![]
        } else {
            vec![why.to_string()]
        },
    }
}

#[cfg(test)]
mod tests {
    use rustic_core::Id;
    use rustic_core::jiff::Timestamp;
    use rustic_core::jiff::tz::TimeZone;

    use super::*;

    const DAY: i64 = 86_400;

    /// A backup of `snapshot` of `canister`, taken `days_ago` days before `now`.
    fn backup(canister: &str, snapshot: &str, taken: Timestamp) -> SnapshotFile {
        let origin = Origin {
            module: Some("app".into()),
            canister_id: canister.into(),
            snapshot_id: snapshot.into(),
            taken_at: taken.to_string(),
            orchestrator_id: None,
            network: "local".into(),
        };
        let mut s = SnapshotFile {
            time: taken.to_zoned(TimeZone::UTC),
            ..SnapshotFile::default()
        };
        s.id = Id::random().into();
        s.add_tags(vec![origin.tags().join(",").parse().unwrap()]);
        s
    }

    fn kept(plan: &[Decision]) -> Vec<(String, String)> {
        let mut k: Vec<_> = plan
            .iter()
            .filter(|d| d.keep)
            .map(|d| {
                let o = d.origin.as_ref().unwrap();
                (o.canister_id.clone(), o.snapshot_id.clone())
            })
            .collect();
        k.sort();
        k
    }

    fn now() -> (Zoned, Timestamp) {
        let t = Timestamp::from_second(1_780_000_000).unwrap();
        (t.to_zoned(TimeZone::UTC), t)
    }

    #[test]
    fn daily_rules_count_days_per_canister_and_another_canister_keeps_its_own() {
        let (now, t) = now();
        let at = |secs: i64| {
            t.checked_sub(rustic_core::jiff::SignedDuration::from_secs(secs))
                .unwrap()
        };
        let snaps = vec![
            // Two snapshots today, one yesterday, one three days ago.
            backup("a", "a1", at(3 * DAY)),
            backup("a", "a2", at(DAY)),
            backup("a", "a3", at(3600)),
            backup("a", "a4", at(60)),
            // Another canister's only backup, old.
            backup("b", "b1", at(40 * DAY)),
        ];
        let p = plan(
            snaps,
            &Keep {
                daily: Some(2),
                ..Keep::default()
            },
            &now,
        )
        .unwrap();
        // Today's newest and yesterday's; b's only one (its own group).
        assert_eq!(
            kept(&p),
            vec![
                ("a".into(), "a2".into()),
                ("a".into(), "a4".into()),
                ("b".into(), "b1".into())
            ]
        );
        let p = plan(
            p_snaps_monthly(at),
            &Keep {
                monthly: Some(1),
                ..Keep::default()
            },
            &now,
        )
        .unwrap();
        assert_eq!(kept(&p), vec![("a".into(), "m2".into())]);
    }

    fn p_snaps_monthly(at: impl Fn(i64) -> Timestamp) -> Vec<SnapshotFile> {
        vec![
            backup("a", "m1", at(60 * DAY)),
            backup("a", "m2", at(2 * DAY)),
        ]
    }

    #[test]
    fn two_backups_of_one_snapshot_count_once_and_one_of_them_is_kept() {
        let (now, t) = now();
        let at = |secs: i64| {
            t.checked_sub(rustic_core::jiff::SignedDuration::from_secs(secs))
                .unwrap()
        };
        let snaps = vec![
            backup("a", "a1", at(3 * DAY)),
            backup("a", "a2", at(DAY)),
            backup("a", "a2", at(DAY)),
            backup("a", "a3", at(60)),
        ];
        let p = plan(
            snaps,
            &Keep {
                last: Some(2),
                ..Keep::default()
            },
            &now,
        )
        .unwrap();
        // The two newest *snapshots* (a3 and a2), a2 through one of its two backups.
        assert_eq!(
            kept(&p),
            vec![("a".into(), "a2".into()), ("a".into(), "a3".into())]
        );
        let copies: Vec<_> = p
            .iter()
            .filter(|d| d.origin.as_ref().unwrap().snapshot_id == "a2")
            .collect();
        assert_eq!(copies.len(), 2);
        assert_eq!(copies.iter().filter(|d| d.keep).count(), 1);
        assert!(
            copies
                .iter()
                .any(|d| !d.keep && d.reasons[0].contains("holds the same snapshot")),
            "{copies:?}"
        );
    }

    #[test]
    fn unfinished_first_passes_go_and_snapshots_keepsake_did_not_write_are_left_alone() {
        let (now, t) = now();
        let mut partial = backup("a", "a1", t);
        partial.add_tags(vec![tags::PARTIAL.parse().unwrap()]);
        let foreign = SnapshotFile {
            time: t.to_zoned(TimeZone::UTC),
            ..SnapshotFile::default()
        };
        let p = plan(
            vec![partial, foreign],
            &Keep {
                last: Some(1),
                ..Keep::default()
            },
            &now,
        )
        .unwrap();
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(!p[0].keep);
        assert!(p[0].reasons[0].contains("unfinished"));
    }

    /// A group backup of group snapshot `id` of "shop" (members app and b), taken at `taken`.
    fn group_backup(id: u64, taken: Timestamp) -> SnapshotFile {
        let g = GroupOrigin {
            group: "shop".into(),
            group_snapshot_id: id,
            taken_at: taken.to_string(),
            orchestrator_id: None,
            network: "local".into(),
            members: vec![
                tags::MemberTag {
                    module: "app".into(),
                    canister_id: "a".into(),
                    snapshot_id: format!("a{id}"),
                },
                tags::MemberTag {
                    module: "b".into(),
                    canister_id: "b".into(),
                    snapshot_id: format!("b{id}"),
                },
            ],
        };
        let mut s = SnapshotFile {
            time: taken.to_zoned(TimeZone::UTC),
            ..SnapshotFile::default()
        };
        s.id = Id::random().into();
        s.add_tags(vec![g.tags().join(",").parse().unwrap()]);
        s
    }

    #[test]
    fn group_backups_are_kept_or_removed_whole_in_their_own_series_beside_a_members_own_backups() {
        let (now, t) = now();
        let at = |secs: i64| {
            t.checked_sub(rustic_core::jiff::SignedDuration::from_secs(secs))
                .unwrap()
        };
        let mut partial = group_backup(9, at(10));
        partial.add_tags(vec![tags::PARTIAL.parse().unwrap()]);
        let snaps = vec![
            group_backup(1, at(3 * DAY)),
            group_backup(2, at(DAY)),
            // A second copy of group snapshot 2: counts once.
            group_backup(2, at(DAY)),
            partial,
            // A member's own backup, newer than every group backup: its own series.
            backup("a", "a7", at(60)),
        ];
        let p = plan(
            snaps,
            &Keep {
                last: Some(1),
                ..Keep::default()
            },
            &now,
        )
        .unwrap();
        let groups: Vec<&Decision> = p.iter().filter(|d| d.kind == "group").collect();
        assert_eq!(groups.len(), 4, "{p:?}");
        let kept: Vec<u64> = groups
            .iter()
            .filter(|d| d.keep)
            .map(|d| d.group.as_ref().unwrap().group_snapshot_id)
            .collect();
        // The newest group snapshot, through one of its two copies; the member's own backup
        // does not push the group backups out.
        assert_eq!(kept, vec![2], "{p:?}");
        assert!(p.iter().any(|d| d.kind == "snapshot" && d.keep));
        assert!(
            groups
                .iter()
                .any(|d| !d.keep && d.reasons[0].contains("unfinished"))
        );
    }
}
