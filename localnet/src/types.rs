//! Public value types shared by every module: principals, reject codes, IC error codes, the
//! reject response returned by calls, and the canister id scheme.

use candid::Principal;
use std::fmt;

/// The management canister's id (`aaaaa-aa`).
pub const MANAGEMENT_CANISTER: Principal = Principal::management_canister();

/// Reject codes of the IC interface spec ("Reject codes").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectCode {
    /// 1: fatal system error.
    SysFatal = 1,
    /// 2: transient system error (retry may succeed).
    SysTransient = 2,
    /// 3: the destination does not exist or cannot take the message.
    DestinationInvalid = 3,
    /// 4: the canister explicitly rejected (or management canister refused) the call.
    CanisterReject = 4,
    /// 5: the canister trapped or otherwise failed.
    CanisterError = 5,
    /// 6: the outcome is unknown (a bounded-wait call timed out).
    SysUnknown = 6,
}

impl RejectCode {
    /// The numeric code as `ic0.msg_reject_code` reports it.
    pub fn as_u32(self) -> u32 {
        self as u32
    }
}

/// IC error codes (`IC0xxx`) that localnet produces, numbered as in dfinity/ic
/// `rs/types/error_types/src/lib.rs`. The first digit of the three-digit code is the reject
/// code (an HTTP-like convention the IC documents there), which [`ErrorCode::reject_code`] uses.
/// Several management-canister failures share a generic code on the IC: the snapshot limit is
/// IC0406 `CanisterRejectedMessage` and a bad slice is IC0408 `InvalidManagementPayload`
/// (IC-FACTS §8, observed on PocketIC 10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum ErrorCode {
    SubnetOversubscribed = 101,
    MaxNumberOfCanistersReached = 102,
    CanisterQueueFull = 201,
    IngressMessageTimeout = 202,
    CanisterOutOfCycles = 207,
    CanisterNotFound = 301,
    CanisterSnapshotNotFound = 305,
    InsufficientMemoryAllocation = 402,
    InsufficientCyclesForCreateCanister = 403,
    SubnetNotFound = 404,
    CanisterNotHostedBySubnet = 405,
    CanisterRejectedMessage = 406,
    UnknownManagementMessage = 407,
    InvalidManagementPayload = 408,
    CanisterSnapshotImmutable = 409,
    CanisterTrapped = 502,
    CanisterCalledTrap = 503,
    CanisterContractViolation = 504,
    CanisterInvalidWasm = 505,
    CanisterDidNotReply = 506,
    CanisterOutOfMemory = 507,
    CanisterStopped = 508,
    CanisterStopping = 509,
    CanisterNotStopped = 510,
    CanisterStoppingCancelled = 511,
    CanisterInvalidController = 512,
    CanisterFunctionNotFound = 513,
    CanisterNonEmpty = 514,
    InsufficientCyclesInCall = 520,
    CanisterInstructionLimitExceeded = 522,
    CanisterMethodNotFound = 536,
    CanisterWasmModuleNotFound = 537,
    CanisterAlreadyInstalled = 538,
    /// A bounded-wait call's deadline passed (reject code SYS_UNKNOWN; inference: the
    /// replica reports these without a user-facing IC error code).
    DeadlineExpired = 601,
}

impl ErrorCode {
    /// The three-digit number (`IC0` + this, zero padded).
    pub fn number(self) -> u32 {
        self as u32
    }

    /// The reject code the IC derives from the error code (its first digit).
    pub fn reject_code(self) -> RejectCode {
        match self.number() / 100 {
            1 => RejectCode::SysFatal,
            2 => RejectCode::SysTransient,
            3 => RejectCode::DestinationInvalid,
            4 => RejectCode::CanisterReject,
            5 => RejectCode::CanisterError,
            _ => RejectCode::SysUnknown,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IC{:04}", self.number())
    }
}

/// A rejected call, shaped like `pocket_ic::RejectResponse`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectResponse {
    /// The reject code delivered to the caller.
    pub reject_code: RejectCode,
    /// The reject message.
    pub reject_message: String,
    /// The IC error code, when the system (not the canister's own `msg_reject`) rejected.
    pub error_code: Option<ErrorCode>,
}

impl RejectResponse {
    /// A system-generated rejection: reject code derived from the error code.
    pub fn system(error_code: ErrorCode, message: impl Into<String>) -> Self {
        RejectResponse {
            reject_code: error_code.reject_code(),
            reject_message: message.into(),
            error_code: Some(error_code),
        }
    }

    /// A rejection produced by canister code via `ic0.msg_reject`.
    pub fn canister(message: impl Into<String>) -> Self {
        RejectResponse {
            reject_code: RejectCode::CanisterReject,
            reject_message: message.into(),
            error_code: Some(ErrorCode::CanisterRejectedMessage),
        }
    }
}

impl fmt::Display for RejectResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.error_code {
            Some(code) => write!(
                f,
                "reject code {} ({code}): {}",
                self.reject_code.as_u32(),
                self.reject_message
            ),
            None => write!(
                f,
                "reject code {}: {}",
                self.reject_code.as_u32(),
                self.reject_message
            ),
        }
    }
}

impl std::error::Error for RejectResponse {}

/// Canister ids as the IC allocates them on a subnet: the 8-byte big-endian index followed by
/// `0x01 0x01` (opaque-id class), ten bytes in all.
pub fn canister_id_from_index(index: u64) -> Principal {
    let mut bytes = index.to_be_bytes().to_vec();
    bytes.extend_from_slice(&[0x01, 0x01]);
    Principal::from_slice(&bytes)
}

/// A candid `nat` as a `u128`, saturating (cycle amounts, v128 globals).
pub fn nat_u128(n: &candid::Nat) -> u128 {
    u128::try_from(n.0.clone()).unwrap_or(u128::MAX)
}

/// A candid `nat` as a `u64`, saturating (settings).
pub fn nat_u64(n: &candid::Nat) -> u64 {
    u64::try_from(n.0.clone()).unwrap_or(u64::MAX)
}

/// The principal of an anonymous caller.
pub fn anonymous() -> Principal {
    Principal::anonymous()
}
