//! Schedules by target name: modules' ([`MODULES`], memory 7) and groups' ([`GROUPS`], memory
//! 22). Both have the same shape, so the scheduler's bookkeeping (earliest due time, claiming
//! due runs) is written once, here.

use std::cell::RefCell;
use std::thread::LocalKey;

use ic_stable_structures::StableBTreeMap;

use super::{Candid, Memory, ScheduleRecord, update_record};

type ScheduleMap = StableBTreeMap<String, Candid<ScheduleRecord>, Memory>;

thread_local! {
    static MODULE_SCHEDULES: RefCell<ScheduleMap> = super::open(super::SCHEDULES);
    static GROUP_SCHEDULES: RefCell<ScheduleMap> = super::open(super::GROUP_SCHEDULES);
}

/// One collection of schedules.
pub struct Schedules(&'static LocalKey<RefCell<ScheduleMap>>);

/// Modules' schedules (key: module name).
pub static MODULES: Schedules = Schedules(&MODULE_SCHEDULES);
/// Groups' schedules (key: group name).
pub static GROUPS: Schedules = Schedules(&GROUP_SCHEDULES);

impl Schedules {
    /// The schedule of `name`.
    pub fn get(&self, name: &str) -> Option<ScheduleRecord> {
        self.0
            .with(|m| m.borrow().get(&name.to_string()).map(|r| r.0))
    }

    /// Sets (or replaces) the schedule of `name`.
    pub fn put(&self, name: &str, record: ScheduleRecord) {
        self.0
            .with(|m| m.borrow_mut().insert(name.to_string(), Candid(record)));
    }

    /// Removes the schedule of `name`, returning it.
    pub fn remove(&self, name: &str) -> Option<ScheduleRecord> {
        self.0
            .with(|m| m.borrow_mut().remove(&name.to_string()))
            .map(|r| r.0)
    }

    /// Changes the schedule of `name`, if there is one.
    pub fn update(&self, name: &str, f: impl FnOnce(&mut ScheduleRecord)) {
        self.0
            .with(|m| update_record(&mut m.borrow_mut(), &name.to_string(), f));
    }

    /// Every schedule, by name.
    pub fn list(&self) -> Vec<(String, ScheduleRecord)> {
        self.0.with(|m| super::entries(&m.borrow()))
    }

    /// When the earliest schedule is due, if there is any.
    pub fn earliest_due(&self) -> Option<u64> {
        self.0
            .with(|m| m.borrow().iter().map(|e| e.value().0.due_at()).min())
    }

    /// The names whose run is due at `now`, each marked as started by `claim` and written
    /// back in the same message, so a second timer firing meanwhile cannot claim them again.
    pub fn claim_due(&self, now: u64, claim: impl Fn(&mut ScheduleRecord)) -> Vec<String> {
        self.0.with(|m| {
            let mut m = m.borrow_mut();
            let due: Vec<(String, ScheduleRecord)> = m
                .iter()
                .map(|e| e.into_pair())
                .filter(|(_, r)| r.0.due_at() <= now)
                .map(|(name, r)| (name, r.0))
                .collect();
            due.into_iter()
                .map(|(name, mut record)| {
                    claim(&mut record);
                    m.insert(name.clone(), Candid(record));
                    name
                })
                .collect()
        })
    }
}
