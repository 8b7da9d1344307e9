//! Groups (applications) and their group snapshots: the only writer of the `groups` and
//! `group_snapshots` maps. A module may belong to several groups; removing a module from the
//! registry removes it from every group (`forget_module`). The flows that stop, take, load and
//! start the members are in `group_flows.rs` and `group_upgrade.rs`; a group's schedule is in
//! `group_schedules.rs` (removed here with its group).

use candid::Principal;
use orchestrator_api::{
    GroupError, GroupInfo, GroupSnapshotInfo, GroupSnapshotStatus, MAX_GROUP_MEMBERS,
    validate_module_name,
};

use crate::state::{Candid, GroupRecord, State, mutate_state, read_state};
use crate::{group_schedules, registry};

fn info(name: String, record: GroupRecord) -> GroupInfo {
    GroupInfo {
        name,
        modules: record.modules,
        added_at: record.added_at,
        added_by: record.added_by,
    }
}

/// Adds a group of registered modules (in the given order, each once).
pub fn add(
    name: &str,
    modules: Vec<String>,
    caller: Principal,
    now: u64,
) -> Result<GroupInfo, GroupError> {
    validate_module_name(name).map_err(|reason| GroupError::InvalidName {
        reason: reason.replace("module name", "group name"),
    })?;
    if modules.is_empty() || modules.len() > MAX_GROUP_MEMBERS {
        return Err(GroupError::InvalidMembers {
            reason: format!(
                "a group has 1 to {MAX_GROUP_MEMBERS} modules; got {}",
                modules.len()
            ),
        });
    }
    for (i, module) in modules.iter().enumerate() {
        if modules[..i].contains(module) {
            return Err(GroupError::InvalidMembers {
                reason: format!("module {module:?} is named twice"),
            });
        }
        if registry::get(module).is_none() {
            return Err(GroupError::ModuleNotFound {
                name: module.clone(),
            });
        }
    }
    if read_state(|s| s.groups.contains_key(&name.to_string())) {
        return Err(GroupError::NameTaken {
            name: name.to_string(),
        });
    }
    let record = GroupRecord {
        modules,
        added_at: now,
        added_by: caller,
    };
    mutate_state(|s| s.groups.insert(name.to_string(), Candid(record.clone())));
    Ok(info(name.to_string(), record))
}

/// Removes a group. Its members, their snapshots and its group snapshots' records stay: the
/// members' snapshots are ordinary snapshots of each module.
pub fn remove(name: &str) -> Result<(), GroupError> {
    mutate_state(|s| {
        s.groups
            .remove(&name.to_string())
            .map(|_| ())
            .ok_or_else(|| GroupError::GroupNotFound {
                name: name.to_string(),
            })
    })?;
    // Its schedule would have nothing to snapshot.
    group_schedules::forget(name);
    Ok(())
}

/// The group called `name`.
pub fn get(name: &str) -> Result<GroupInfo, GroupError> {
    read_state(|s| s.groups.get(&name.to_string()))
        .map(|record| info(name.to_string(), record.0))
        .ok_or_else(|| GroupError::GroupNotFound {
            name: name.to_string(),
        })
}

/// Every group, by name.
pub fn list() -> Vec<GroupInfo> {
    read_state(|s| s.groups.iter().map(|e| e.into_pair()).collect::<Vec<_>>())
        .into_iter()
        .map(|(name, record)| info(name, record.0))
        .collect()
}

/// Removes a module that leaves the registry from every group (a group left empty is removed).
pub fn forget_module(module: &str) {
    let emptied = mutate_state(|s| {
        let groups: Vec<_> = s.groups.iter().map(|e| e.into_pair()).collect();
        let mut emptied = Vec::new();
        for (name, mut record) in groups {
            if !record.0.modules.iter().any(|m| m == module) {
                continue;
            }
            record.0.modules.retain(|m| m != module);
            if record.0.modules.is_empty() {
                s.groups.remove(&name);
                emptied.push(name);
            } else {
                s.groups.insert(name, record);
            }
        }
        emptied
    });
    for name in emptied {
        group_schedules::forget(&name);
    }
}

/// `g` with `pinned` filled in: whether every member's snapshot is pinned.
fn with_pin(s: &State, mut g: GroupSnapshotInfo) -> GroupSnapshotInfo {
    let ids: Vec<_> = g
        .members
        .iter()
        .filter_map(|m| m.snapshot_id.as_ref().map(|id| (m.module.as_str(), id)))
        .collect();
    g.pinned = Some(!ids.is_empty() && ids.iter().all(|(m, id)| s.is_pinned(m, id)));
    g
}

/// Whether any member's snapshot of `g` is pinned or kept for its module's latest upgrade:
/// group retention then keeps the whole group snapshot (deleting the others would break it).
pub fn any_member_protected(g: &GroupSnapshotInfo) -> bool {
    read_state(|s| {
        g.members.iter().any(|m| {
            m.snapshot_id.as_ref().is_some_and(|id| {
                s.is_pinned(&m.module, id)
                    || s.modules
                        .get(&m.module)
                        .is_some_and(|r| r.0.keeps_for_upgrade(id))
            })
        })
    })
}

/// Forgets the group snapshot `id` (its members were deleted by retention).
pub fn forget_snapshot(id: u64) {
    mutate_state(|s| s.group_snapshots.remove(&id));
}

/// Whether `id` is `module`'s snapshot in a complete group snapshot of a group other than
/// `group`.
pub fn holds_member_snapshot_outside(module: &str, id: &[u8], group: &str) -> bool {
    read_state(|s| {
        s.group_snapshots.iter().any(|e| {
            let g = e.value().0;
            g.group != group
                && g.status == GroupSnapshotStatus::Complete
                && g.members.iter().any(|m| {
                    m.module == module && m.snapshot_id.as_ref().is_some_and(|s| **s == *id)
                })
        })
    })
}

/// Records a group snapshot.
pub fn record_snapshot(snapshot: GroupSnapshotInfo) {
    mutate_state(|s| s.group_snapshots.insert(snapshot.id, Candid(snapshot)));
}

/// The group's snapshots, oldest first.
pub fn snapshots_of(group: &str) -> Vec<GroupSnapshotInfo> {
    read_state(|s| {
        s.group_snapshots
            .iter()
            .map(|e| e.value().0)
            .filter(|g| g.group == group)
            .map(|g| with_pin(s, g))
            .collect()
    })
}

/// The group snapshot `id` of `group`, or its newest complete one.
pub fn find_snapshot(group: &str, id: Option<u64>) -> Result<GroupSnapshotInfo, GroupError> {
    match id {
        Some(id) => read_state(|s| s.group_snapshots.get(&id).map(|g| with_pin(s, g.0)))
            .filter(|g| g.group == group)
            .ok_or_else(|| GroupError::GroupSnapshotNotFound {
                group: group.to_string(),
                id,
            }),
        None => snapshots_of(group)
            .into_iter()
            .rev()
            .find(|g| g.status == GroupSnapshotStatus::Complete)
            .ok_or_else(|| GroupError::NoGroupSnapshot {
                group: group.to_string(),
            }),
    }
}

/// Whether `id` is `module`'s snapshot in a complete group snapshot: retention and scheduled
/// replacement spare it, so that a kept group snapshot stays restorable as a unit.
pub fn holds_member_snapshot(module: &str, id: &[u8]) -> bool {
    read_state(|s| {
        s.group_snapshots.iter().any(|e| {
            let g = e.value().0;
            g.status == GroupSnapshotStatus::Complete
                && g.members.iter().any(|m| {
                    m.module == module && m.snapshot_id.as_ref().is_some_and(|s| **s == *id)
                })
        })
    })
}

/// Forgets the group snapshots that had `id` as `module`'s member snapshot (it was deleted):
/// they can no longer be restored as a unit. Their other members' snapshots stay, as ordinary
/// snapshots of each module.
pub fn forget_snapshots_with(module: &str, id: &[u8]) {
    mutate_state(|s| {
        let stale: Vec<u64> = s
            .group_snapshots
            .iter()
            .filter(|e| {
                e.value().0.members.iter().any(|m| {
                    m.module == module && m.snapshot_id.as_ref().is_some_and(|s| **s == *id)
                })
            })
            .map(|e| *e.key())
            .collect();
        for key in stale {
            s.group_snapshots.remove(&key);
        }
    });
}
