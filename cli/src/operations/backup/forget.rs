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

use std::collections::BTreeMap;

use anyhow::Result;
use rustic_core::KeepOptions;
use rustic_core::jiff::Zoned;
use rustic_core::repofile::SnapshotFile;
use serde::Serialize;

use super::repo::rustic_error;
use super::tags::{self, Origin};

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
    /// Where it came from.
    #[serde(flatten)]
    pub origin: Origin,
    /// Kept (true) or removed.
    pub keep: bool,
    /// Why: the rules that keep it (restic's words: "last", "daily", …), or why it goes.
    pub reasons: Vec<String>,
}

/// Decides, for every keepsake backup in `snaps`, whether `keep` keeps it.
pub fn plan(snaps: Vec<SnapshotFile>, keep: &Keep, now: &Zoned) -> Result<Vec<Decision>> {
    let opts = keep.options();
    let mut out = Vec::new();
    // 1. Ours only; unfinished first passes go.
    let mut groups: BTreeMap<String, Vec<(SnapshotFile, Origin)>> = BTreeMap::new();
    for s in snaps {
        let Some(origin) = Origin::from_snapshot(&s) else {
            continue;
        };
        if tags::is_partial(&s) {
            out.push(decision(
                &s,
                origin,
                false,
                "unfinished backup left by an interrupted run",
            ));
            continue;
        }
        groups
            .entry(origin.canister_id.clone())
            .or_default()
            .push((s, origin));
    }
    for (_, mut group) in groups {
        // 2. One backup stands for each IC snapshot: the newest copy.
        group.sort_by_key(|(s, _)| std::cmp::Reverse(backed_up_at(s)));
        let mut stands_for: BTreeMap<(String, String), String> = BTreeMap::new();
        let mut representatives = Vec::new();
        let mut origins = BTreeMap::new();
        for (s, origin) in group {
            let key = (origin.snapshot_id.clone(), origin.taken_at.clone());
            if let Some(kept) = stands_for.get(&key) {
                let why = format!("another backup ({}) holds the same snapshot", &kept[..8]);
                out.push(decision(&s, origin, false, &why));
                continue;
            }
            stands_for.insert(key, s.id.to_hex().as_str().to_string());
            origins.insert(s.id, origin);
            representatives.push(s);
        }
        // 3. restic's rules over the snapshots.
        for f in opts
            .apply(representatives, now)
            .map_err(|e| rustic_error(*e))?
        {
            let origin = origins.remove(&f.snapshot.id).unwrap_or_default();
            let mut d = decision(&f.snapshot, origin, f.keep, "");
            d.reasons = if f.keep {
                f.reasons
            } else {
                vec!["not kept by the --keep-* rules".into()]
            };
            out.push(d);
        }
    }
    out.sort_by(|a, b| {
        a.origin
            .canister_id
            .cmp(&b.origin.canister_id)
            .then(b.origin.taken_at.cmp(&a.origin.taken_at))
    });
    Ok(out)
}

fn backed_up_at(s: &SnapshotFile) -> String {
    s.summary
        .as_ref()
        .map(|x| x.backup_end.timestamp().to_string())
        .unwrap_or_default()
}

fn decision(s: &SnapshotFile, origin: Origin, keep: bool, why: &str) -> Decision {
    Decision {
        backup_id: s.id.to_hex().as_str().to_string(),
        origin,
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
            .map(|d| (d.origin.canister_id.clone(), d.origin.snapshot_id.clone()))
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
        let copies: Vec<_> = p.iter().filter(|d| d.origin.snapshot_id == "a2").collect();
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
}
