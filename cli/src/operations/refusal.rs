//! Which of the orchestrator's refusals are about a value the user typed (a usage error, exit
//! 2) and which are about the state of things (exit 1), decided per error variant.
//!
//! Usage: the value is malformed or out of range whatever the state — an invalid cron, `--keep
//! 0`, a bad name, label or setting, `snapshot delete` needing `--snapshot`, the anonymous
//! principal as an admin. Not usage: a well-formed value naming something that does not exist
//! (or no longer does), a busy module, a caller without rights, a failed management call. The
//! matches are exhaustive so that a new variant needs a decision here. Also: which variant
//! says the caller is not an admin, so that every such refusal tells how to become one.

use candid::Principal;
use orchestrator_api::{
    AdminError, GroupError, ImportError, ModuleError, QueryError, ScheduleError, SnapshotError,
    StagingError, Unauthorized, UpgradeError,
};

/// An orchestrator error enum, classified.
pub trait Refusal: std::error::Error + Send + Sync + 'static {
    /// Whether the orchestrator refused a value given on the command line as malformed or out
    /// of range.
    fn is_bad_input(&self) -> bool;

    /// The caller, when the orchestrator refused it as not an admin.
    fn unauthorized(&self) -> Option<Principal>;
}

impl Refusal for AdminError {
    fn unauthorized(&self) -> Option<Principal> {
        match self {
            AdminError::Unauthorized(Unauthorized { caller }) => Some(*caller),
            _ => None,
        }
    }

    fn is_bad_input(&self) -> bool {
        match self {
            AdminError::AnonymousAdmin => true,
            AdminError::Unauthorized(_) | AdminError::LastAdmin { .. } => false,
        }
    }
}

impl Refusal for ModuleError {
    fn unauthorized(&self) -> Option<Principal> {
        match self {
            ModuleError::Unauthorized(Unauthorized { caller }) => Some(*caller),
            _ => None,
        }
    }

    fn is_bad_input(&self) -> bool {
        match self {
            ModuleError::InvalidName { .. } | ModuleError::InvalidSettings { .. } => true,
            ModuleError::Unauthorized(_)
            | ModuleError::NameTaken { .. }
            | ModuleError::AlreadyRegistered { .. }
            | ModuleError::NotController { .. }
            | ModuleError::ModuleNotFound { .. }
            | ModuleError::Busy { .. }
            | ModuleError::CallFailed(_) => false,
        }
    }
}

impl Refusal for SnapshotError {
    fn unauthorized(&self) -> Option<Principal> {
        match self {
            SnapshotError::Unauthorized(Unauthorized { caller }) => Some(*caller),
            _ => None,
        }
    }

    fn is_bad_input(&self) -> bool {
        match self {
            SnapshotError::InvalidLabel { .. }
            | SnapshotError::InvalidArgument { .. }
            | SnapshotError::AmbiguousSnapshot { .. } => true,
            SnapshotError::Unauthorized(_)
            | SnapshotError::ModuleNotFound { .. }
            | SnapshotError::Busy { .. }
            | SnapshotError::NoSnapshot { .. }
            | SnapshotError::SnapshotNotFound { .. }
            | SnapshotError::OperationFailed { .. }
            | SnapshotError::CallFailed(_)
            | SnapshotError::Pinned { .. }
            | SnapshotError::SlotsProtected { .. }
            | SnapshotError::LabelNotFound { .. } => false,
        }
    }
}

impl Refusal for ScheduleError {
    fn unauthorized(&self) -> Option<Principal> {
        match self {
            ScheduleError::Unauthorized(Unauthorized { caller }) => Some(*caller),
            _ => None,
        }
    }

    fn is_bad_input(&self) -> bool {
        match self {
            ScheduleError::InvalidCadence { .. } | ScheduleError::InvalidRetention { .. } => true,
            ScheduleError::Unauthorized(_)
            | ScheduleError::ModuleNotFound { .. }
            | ScheduleError::NoSchedule { .. } => false,
        }
    }
}

impl Refusal for StagingError {
    fn unauthorized(&self) -> Option<Principal> {
        match self {
            StagingError::Unauthorized(Unauthorized { caller }) => Some(*caller),
            _ => None,
        }
    }

    fn is_bad_input(&self) -> bool {
        // keepsake computes every staging argument itself (offsets, hashes); the file's size is
        // not a typed value. None of these is the user's typing.
        match self {
            StagingError::Unauthorized(_)
            | StagingError::InvalidHash { .. }
            | StagingError::OffsetMismatch { .. }
            | StagingError::TooLarge { .. }
            | StagingError::NotFound { .. }
            | StagingError::HashMismatch { .. }
            | StagingError::AlreadyCommitted { .. }
            | StagingError::Empty { .. } => false,
            // The file the user named is not a wasm: usage, as when keepsake's own check of the
            // file (which runs first) refuses it.
            StagingError::NotAWasm { .. } => true,
        }
    }
}

impl Refusal for UpgradeError {
    fn unauthorized(&self) -> Option<Principal> {
        match self {
            UpgradeError::Unauthorized(Unauthorized { caller }) => Some(*caller),
            _ => None,
        }
    }

    fn is_bad_input(&self) -> bool {
        match self {
            UpgradeError::Unauthorized(_)
            | UpgradeError::ModuleNotFound { .. }
            | UpgradeError::Busy { .. }
            | UpgradeError::WasmNotStaged { .. }
            | UpgradeError::SnapshotSlotsFull { .. }
            | UpgradeError::SlotsPinned { .. }
            | UpgradeError::PreflightFailed { .. } => false,
        }
    }
}

impl Refusal for ImportError {
    fn unauthorized(&self) -> Option<Principal> {
        match self {
            ImportError::Unauthorized(Unauthorized { caller }) => Some(*caller),
            _ => None,
        }
    }

    fn is_bad_input(&self) -> bool {
        // Every import refusal is about the state of the module (busy, pinned, full, gone) or
        // of the import itself, never a malformed value: keepsake builds the arguments.
        match self {
            ImportError::Unauthorized(_)
            | ImportError::ModuleNotFound { .. }
            | ImportError::Busy { .. }
            | ImportError::Pinned { .. }
            | ImportError::SnapshotNotFound { .. }
            | ImportError::SlotsFull { .. }
            | ImportError::NotInProgress { .. }
            | ImportError::OperationFailed { .. } => false,
        }
    }
}

impl Refusal for QueryError {
    fn unauthorized(&self) -> Option<Principal> {
        match self {
            QueryError::Unauthorized(Unauthorized { caller }) => Some(*caller),
        }
    }

    fn is_bad_input(&self) -> bool {
        match self {
            QueryError::Unauthorized(_) => false,
        }
    }
}

impl Refusal for GroupError {
    fn unauthorized(&self) -> Option<Principal> {
        match self {
            GroupError::Unauthorized(Unauthorized { caller }) => Some(*caller),
            _ => None,
        }
    }

    fn is_bad_input(&self) -> bool {
        match self {
            GroupError::InvalidName { .. }
            | GroupError::InvalidMembers { .. }
            | GroupError::InvalidArgument { .. } => true,
            GroupError::Unauthorized(_)
            | GroupError::NameTaken { .. }
            | GroupError::GroupNotFound { .. }
            | GroupError::ModuleNotFound { .. }
            | GroupError::Busy { .. }
            | GroupError::SlotsFull { .. }
            | GroupError::GroupSnapshotNotFound { .. }
            | GroupError::NoGroupSnapshot { .. }
            | GroupError::Partial { .. }
            | GroupError::MemberSnapshotGone { .. }
            | GroupError::PreflightFailed { .. }
            | GroupError::NotAMember { .. }
            | GroupError::WasmNotStaged { .. }
            | GroupError::NoSchedule { .. }
            | GroupError::OperationFailed { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_values_are_usage_and_missing_things_are_failures() {
        let reason = String::from("x");
        assert!(
            ScheduleError::InvalidCadence {
                reason: reason.clone()
            }
            .is_bad_input()
        );
        assert!(
            ScheduleError::InvalidRetention {
                reason: reason.clone()
            }
            .is_bad_input()
        );
        assert!(ModuleError::InvalidName { reason }.is_bad_input());
        assert!(AdminError::AnonymousAdmin.is_bad_input());
        assert!(!ScheduleError::ModuleNotFound { name: "app".into() }.is_bad_input());
        assert!(
            !SnapshotError::NoSnapshot {
                module: "app".into()
            }
            .is_bad_input()
        );
    }
}
