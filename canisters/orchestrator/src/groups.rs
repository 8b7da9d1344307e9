//! Groups (applications) and their group snapshots (stored in `store::groups`). A module may
//! belong to several groups; removing a module from the registry removes it from every group
//! (`store::remove_module`). The flows that stop, take, load and
//! start the members are in `group_flows.rs` and `group_upgrade.rs`; a group's schedule is in
//! `group_schedules.rs` (removed with its group: `store::remove_group`).

use candid::Principal;
use orchestrator_api::{
    GroupError, GroupInfo, GroupSnapshotInfo, GroupSnapshotStatus, MAX_GROUP_MEMBERS,
    validate_module_name,
};

use crate::store::{self, GroupRecord, snapshot_meta};
use crate::{registry, views};

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
    if store::groups::GROUPS.get(name).is_some() {
        return Err(GroupError::NameTaken {
            name: name.to_string(),
        });
    }
    let record = GroupRecord {
        modules,
        added_at: now,
        added_by: caller,
    };
    store::groups::GROUPS.put(name, record.clone());
    Ok(views::group(name.to_string(), record))
}

/// Removes a group. Its members, their snapshots and its group snapshots' records stay: the
/// members' snapshots are ordinary snapshots of each module.
pub fn remove(name: &str) -> Result<(), GroupError> {
    if store::remove_group(name) {
        Ok(())
    } else {
        Err(GroupError::GroupNotFound {
            name: name.to_string(),
        })
    }
}

/// The group called `name`.
pub fn get(name: &str) -> Result<GroupInfo, GroupError> {
    store::groups::GROUPS
        .get(name)
        .map(|record| views::group(name.to_string(), record))
        .ok_or_else(|| GroupError::GroupNotFound {
            name: name.to_string(),
        })
}

/// Every group, by name.
pub fn list() -> Vec<GroupInfo> {
    store::groups::GROUPS
        .list()
        .into_iter()
        .map(|(name, record)| views::group(name, record))
        .collect()
}

/// Whether any member's snapshot of `g` is pinned or kept for its module's latest upgrade:
/// group retention then keeps the whole group snapshot (deleting the others would break it).
pub fn any_member_protected(g: &GroupSnapshotInfo) -> bool {
    g.members.iter().any(|m| {
        m.snapshot_id.as_ref().is_some_and(|id| {
            snapshot_meta::is_pinned(&m.module, id)
                || snapshot_meta::is_kept_for_upgrade(&m.module, id)
        })
    })
}

/// Forgets the group snapshot `id` (its members were deleted by retention).
pub fn forget_snapshot(id: u64) {
    store::groups::SNAPSHOTS.remove(id);
}

/// Whether `id` is `module`'s snapshot in a complete group snapshot of a group other than
/// `group`.
pub fn holds_member_snapshot_outside(module: &str, id: &[u8], group: &str) -> bool {
    store::groups::SNAPSHOTS.any(|g| {
        g.group != group && g.status == GroupSnapshotStatus::Complete && has_member(g, module, id)
    })
}

/// Records a group snapshot.
pub fn record_snapshot(snapshot: GroupSnapshotInfo) {
    store::groups::SNAPSHOTS.put(snapshot.id, snapshot);
}

/// The group's snapshots, oldest first.
pub fn snapshots_of(group: &str) -> Vec<GroupSnapshotInfo> {
    store::groups::SNAPSHOTS
        .values_where(|g| g.group == group)
        .into_iter()
        .map(views::group_snapshot)
        .collect()
}

/// The group snapshot `id` of `group`, or its newest complete one.
pub fn find_snapshot(group: &str, id: Option<u64>) -> Result<GroupSnapshotInfo, GroupError> {
    match id {
        Some(id) => store::groups::SNAPSHOTS
            .get(id)
            .filter(|g| g.group == group)
            .map(views::group_snapshot)
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
    store::groups::SNAPSHOTS
        .any(|g| g.status == GroupSnapshotStatus::Complete && has_member(g, module, id))
}

/// Forgets the group snapshots that had `id` as `module`'s member snapshot (it was deleted):
/// they can no longer be restored as a unit. Their other members' snapshots stay, as ordinary
/// snapshots of each module.
pub fn forget_snapshots_with(module: &str, id: &[u8]) {
    store::groups::SNAPSHOTS.remove_where(|g| has_member(g, module, id));
}

/// Whether `id` is `module`'s member snapshot in `g`.
fn has_member(g: &GroupSnapshotInfo, module: &str, id: &[u8]) -> bool {
    g.members
        .iter()
        .any(|m| m.module == module && m.snapshot_id.as_ref().is_some_and(|s| **s == *id))
}
