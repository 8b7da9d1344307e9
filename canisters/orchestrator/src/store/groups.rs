//! Groups (key: the group's name) and group snapshots (key: the id of the operation that took
//! them). A module leaving the registry leaves every group ([`forget_module`]); a group
//! leaving takes its schedule with it (`super::remove_group`).

use orchestrator_api::GroupSnapshotInfo;

use super::{GroupRecord, collection};

collection! {
    /// The groups. Removing one goes through `super::remove_group` (its schedule goes too).
    pub static GROUPS: Records<String, GroupRecord> = super::GROUPS;
}

collection! {
    /// The group snapshots, oldest first.
    pub static SNAPSHOTS: Records<u64, GroupSnapshotInfo> = super::GROUP_SNAPSHOTS;
}

/// Removes `module` from every group; returns the groups it left empty, which are removed too.
pub(super) fn forget_module(module: &str) -> Vec<String> {
    let mut emptied = Vec::new();
    for (name, mut record) in GROUPS.list() {
        if !record.modules.iter().any(|member| member == module) {
            continue;
        }
        record.modules.retain(|member| member != module);
        if record.modules.is_empty() {
            GROUPS.remove(name.as_str());
            emptied.push(name);
        } else {
            GROUPS.put(name, record);
        }
    }
    emptied
}
