//! Schedules by target name: modules' ([`MODULES`], memory 7) and groups' ([`GROUPS`], memory
//! 22). Both have the same shape, so the scheduler's bookkeeping (earliest due time, claiming
//! due runs) is written once, here.

use super::{Records, ScheduleRecord, collection};

collection! {
    /// Modules' schedules (key: module name).
    pub static MODULES: Records<String, ScheduleRecord> = super::SCHEDULES;
}

collection! {
    /// Groups' schedules (key: group name).
    pub static GROUPS: Records<String, ScheduleRecord> = super::GROUP_SCHEDULES;
}

/// One collection of schedules (modules' or groups').
pub type Schedules = Records<String, ScheduleRecord>;

impl Schedules {
    /// When the earliest schedule is due, if there is any.
    pub fn earliest_due(&self) -> Option<u64> {
        self.with(|m| m.iter().map(|e| e.value().0.due_at()).min())
    }

    /// The names whose run is due at `now`, each marked as started by `claim` and written
    /// back in the same message, so a second timer firing meanwhile cannot claim them again.
    pub fn claim_due(&self, now: u64, claim: impl Fn(&mut ScheduleRecord)) -> Vec<String> {
        let due: Vec<(String, ScheduleRecord)> = self
            .list()
            .into_iter()
            .filter(|(_, r)| r.due_at() <= now)
            .collect();
        due.into_iter()
            .map(|(name, mut record)| {
                claim(&mut record);
                self.put(name.clone(), record);
                name
            })
            .collect()
    }
}
