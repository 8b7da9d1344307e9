//! One operation at a time per module: a lock taken before the first step and released when
//! the guard is dropped — on every path, including when a callback traps (ic-cdk then drops
//! the operation's future in the cleanup callback, whose state changes the IC keeps).
//!
//! The locks live in stable memory so that an upgrade of the orchestrator itself can find the
//! operations it interrupted and release them (`release_interrupted`).

use orchestrator_api::{OperationKind, OperationStatus};

use crate::state::{Candid, LockRecord, mutate_state, read_state, update_record};

/// Holds a module's lock until dropped.
#[must_use = "the lock is released when this guard is dropped"]
pub struct ModuleLock {
    module: String,
}

impl ModuleLock {
    /// Takes the lock, or says which operation holds it.
    pub fn acquire(module: &str, operation: OperationKind) -> Result<Self, OperationKind> {
        mutate_state(|s| {
            if let Some(held) = s.locks.get(&module.to_string()) {
                return Err(held.0.operation);
            }
            s.locks.insert(
                module.to_string(),
                Candid(LockRecord {
                    operation,
                    operation_id: None,
                }),
            );
            Ok(Self {
                module: module.to_string(),
            })
        })
    }

    /// Links the lock to its history entry, so an interrupted operation can be closed.
    pub fn set_operation_id(&self, id: u64) {
        mutate_state(|s| {
            update_record(&mut s.locks, &self.module, |lock| {
                lock.operation_id = Some(id)
            })
        });
    }
}

impl Drop for ModuleLock {
    fn drop(&mut self) {
        mutate_state(|s| s.locks.remove(&self.module));
    }
}

/// The operation holding the module's lock, if any.
pub fn held_by(module: &str) -> Option<OperationKind> {
    read_state(|s| s.locks.get(&module.to_string()).map(|l| l.0.operation))
}

/// After an upgrade of the orchestrator no operation of the old code can still run (its
/// futures are gone): release every lock and mark its operation failed.
pub fn release_interrupted(now: u64) {
    mutate_state(|s| {
        let locks: Vec<_> = s.locks.iter().map(|e| e.into_pair()).collect();
        for (module, lock) in locks {
            s.locks.remove(&module);
            let Some(id) = lock.0.operation_id else {
                continue;
            };
            if let Some(mut op) = s.operations.get(&id)
                && op.0.status == OperationStatus::InProgress
            {
                op.0.status = OperationStatus::Failed(
                    "interrupted by an upgrade of the orchestrator; check the module's state \
                     (it may be stopped)"
                        .into(),
                );
                op.0.finished_at = Some(now);
                s.operations.insert(id, op);
            }
        }
    });
}
