//! One operation at a time per module: a lock taken before the first step and released when
//! the guard is dropped — on every path, including when a callback traps (ic-cdk then drops
//! the operation's future in the cleanup callback, whose state changes the IC keeps).
//!
//! An import holds the lock across messages as a *lease* (`expires_at`): its client uploads
//! between `begin_import` and `finish_import`. A lease that lapsed is free for the next
//! operation, which closes the abandoned import in the history.
//!
//! The locks live in stable memory so that an upgrade of the orchestrator itself can find the
//! operations it interrupted and release them (`release_interrupted`).

use orchestrator_api::{OperationKind, OperationStatus};

use crate::store::{LockRecord, locks, operations};

/// Holds a module's lock until dropped.
#[must_use = "the lock is released when this guard is dropped"]
pub struct ModuleLock {
    module: String,
}

impl ModuleLock {
    /// Takes the lock, or says which operation holds it. An import lease that lapsed before
    /// `now` does not hold it any more: its operation is closed as abandoned.
    pub fn acquire(
        module: &str,
        operation: OperationKind,
        now: u64,
    ) -> Result<Self, OperationKind> {
        if let Some(held) = locks::get(module) {
            match held.expires_at {
                Some(expires_at) if expires_at <= now => {
                    if let Some(id) = held.operation_id {
                        close_in_progress(
                            id,
                            "abandoned: the importing client stopped calling and its lease \
                             lapsed; a snapshot it uploaded may be left on the module \
                             (`keepsake snapshot list` shows it as external)",
                            now,
                        );
                    }
                }
                _ => return Err(held.operation),
            }
        }
        locks::put(
            module,
            LockRecord {
                operation,
                operation_id: None,
                expires_at: None,
                import_replace: None,
            },
        );
        Ok(Self {
            module: module.to_string(),
        })
    }

    /// Links the lock to its history entry, so an interrupted operation can be closed.
    pub fn set_operation_id(&self, id: u64) {
        locks::update(&self.module, |lock| lock.operation_id = Some(id));
    }

    /// Keeps the lock after this message as a lease until `expires_at` (an import's client
    /// uploads meanwhile); `finish_import` / `abort_import` take it back with [`Self::reclaim`].
    pub fn into_lease(self, expires_at: u64, import_replace: Option<Vec<u8>>) {
        locks::update(&self.module, |lock| {
            lock.expires_at = Some(expires_at);
            lock.import_replace = import_replace;
        });
        std::mem::forget(self);
    }

    /// The module whose lease belongs to operation `id`, and the lease. The lease still holds
    /// after its expiry as long as no other operation took the module.
    pub fn lease_of(id: u64) -> Option<(String, LockRecord)> {
        locks::list()
            .into_iter()
            .find(|(_, lock)| lock.operation_id == Some(id) && lock.expires_at.is_some())
    }

    /// Extends the lease of `module` to `expires_at`.
    pub fn renew(module: &str, expires_at: u64) {
        locks::update(module, |lock| lock.expires_at = Some(expires_at));
    }

    /// Turns the lease found with [`Self::lease_of`] back into an ordinary lock held by this
    /// message (so an orchestrator upgrade during the rest releases it as interrupted);
    /// dropping the guard releases the module.
    pub fn reclaim(module: &str) -> Self {
        locks::update(module, |lock| lock.expires_at = None);
        Self {
            module: module.to_string(),
        }
    }
}

impl Drop for ModuleLock {
    fn drop(&mut self) {
        locks::remove(&self.module);
    }
}

/// The operation holding the module's lock, if any.
pub fn held_by(module: &str) -> Option<OperationKind> {
    locks::get(module).map(|l| l.operation)
}

/// After an upgrade of the orchestrator no operation of the old code can still run (its
/// futures are gone): release every lock and mark its operation failed. Import leases are
/// kept: their client runs outside the orchestrator and still uploads; the lease's expiry
/// frees the module if it never comes back.
pub fn release_interrupted(now: u64) {
    for (module, lock) in locks::list() {
        if lock.expires_at.is_some() {
            continue;
        }
        locks::remove(&module);
        if let Some(id) = lock.operation_id {
            close_in_progress(
                id,
                "interrupted by an upgrade of the orchestrator; check the module's state (it \
                 may be stopped)",
                now,
            );
        }
    }
}

/// Closes operation `id` as failed for `reason`, if it is still in progress (its lock is
/// gone: a lapsed lease, or an upgrade of the orchestrator).
fn close_in_progress(id: u64, reason: &str, now: u64) {
    operations::update(id, |op| {
        if op.status == OperationStatus::InProgress {
            op.status = OperationStatus::Failed(reason.into());
            op.finished_at = Some(now);
        }
    });
}

/// The snapshot the import holding `module`'s lock replaces (its lease's `import_replace`).
pub fn import_replace(module: &str) -> Option<Vec<u8>> {
    locks::get(module).and_then(|l| l.import_replace)
}

/// The snapshot an import's live lease on `module` is about to replace, if any.
pub fn leased_replace(module: &str) -> Option<Vec<u8>> {
    locks::get(module).and_then(|l| l.expires_at.and(l.import_replace))
}
