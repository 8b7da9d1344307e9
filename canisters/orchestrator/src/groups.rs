//! Groups (applications) and their group snapshots: the only writer of the `groups` and
//! `group_snapshots` maps. A module may belong to several groups; removing a module from the
//! registry removes it from every group (`forget_module`). The flows that stop, take, load and
//! start the members are in `group_flows.rs`.

use candid::Principal;
use orchestrator_api::{
    GroupError, GroupInfo, GroupSnapshotInfo, GroupSnapshotStatus, MAX_GROUP_MEMBERS,
    validate_module_name,
};

use crate::registry;
use crate::state::{Candid, GroupRecord, mutate_state, read_state};

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
    })
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
    mutate_state(|s| {
        let groups: Vec<_> = s.groups.iter().map(|e| e.into_pair()).collect();
        for (name, mut record) in groups {
            if !record.0.modules.iter().any(|m| m == module) {
                continue;
            }
            record.0.modules.retain(|m| m != module);
            if record.0.modules.is_empty() {
                s.groups.remove(&name);
            } else {
                s.groups.insert(name, record);
            }
        }
    });
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
            .collect()
    })
}

/// The group snapshot `id` of `group`, or its newest complete one.
pub fn find_snapshot(group: &str, id: Option<u64>) -> Result<GroupSnapshotInfo, GroupError> {
    match id {
        Some(id) => read_state(|s| s.group_snapshots.get(&id))
            .map(|g| g.0)
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
