//! What a failed agent call means, decided from the IC's reject code and error code (IC-FACTS
//! §8; dfinity/ic `ErrorCode`) and from the transport's error kind, never from message text:
//! messages change between replica versions, codes are the contract.
//!
//! Three questions are answered here: is it worth a retry, is the caller not a controller, and
//! did the call reach the network at all (nothing happened) or was its reply lost (it may or
//! may not have taken effect).

use anyhow::anyhow;
use ic_agent::AgentError;
use ic_agent::agent::{RejectCode, RejectResponse};

/// `CanisterOutOfCycles` (IC0207): reject code 2 like the transient ones, but waiting does not
/// help; the canister needs cycles.
pub const OUT_OF_CYCLES: &str = "IC0207";
/// `CanisterInvalidController` (IC0512): the caller does not control the canister.
pub const NOT_A_CONTROLLER: &str = "IC0512";

/// `CanisterNotFound` (IC0301), `CanisterMethodNotFound` (IC0536), `CanisterWasmModuleNotFound`
/// (IC0537): the call went to something that is not the expected canister.
pub const MISSING_TARGET: [&str; 3] = ["IC0301", "IC0536", "IC0537"];

/// The replica's reject, if the call was rejected.
pub fn reject(e: &AgentError) -> Option<&RejectResponse> {
    match e {
        AgentError::CertifiedReject { reject, .. }
        | AgentError::UncertifiedReject { reject, .. } => Some(reject),
        _ => None,
    }
}

/// The IC error code of a reject (`IC0512`, …), when the replica gave one.
pub fn error_code(e: &AgentError) -> Option<&str> {
    reject(e).and_then(|r| r.error_code.as_deref())
}

/// Whether a retry may succeed: a transient reject (reject code 2, the IC's `IC02xx` codes:
/// queue full, heap-delta or install rate limited, certified state unavailable, …) except
/// running out of cycles, an HTTP 429 or 5xx from the boundary, or a lost connection. Only
/// idempotent calls (reads) are retried on a lost connection; see [`lost_in_transport`].
pub fn is_transient(e: &AgentError) -> bool {
    match e {
        AgentError::CertifiedReject { reject, .. }
        | AgentError::UncertifiedReject { reject, .. } => {
            reject.reject_code == RejectCode::SysTransient
                && reject.error_code.as_deref() != Some(OUT_OF_CYCLES)
        }
        AgentError::HttpError(p) => p.status == 429 || p.status >= 500,
        AgentError::TransportError(_) | AgentError::TimeoutWaitingForResponse() => true,
        _ => false,
    }
}

/// Whether the IC refused the call because the caller is not a controller (IC0512).
pub fn is_not_controller(e: &AgentError) -> bool {
    error_code(e) == Some(NOT_A_CONTROLLER)
}

/// Whether the called canister or method does not exist (or the canister holds no code): an
/// IC0301 / IC0536 / IC0537 reject, or a destination-invalid reject code without an error code.
pub fn is_missing_target(e: &AgentError) -> bool {
    reject(e).is_some_and(|r| match r.error_code.as_deref() {
        Some(code) => MISSING_TARGET.contains(&code),
        None => r.reject_code == RejectCode::DestinationInvalid,
    })
}

/// How far a call got when the transport failed under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lost {
    /// No connection could be made, so no request left this machine: nothing happened.
    NotSent,
    /// The request may have been delivered and its reply was lost (connection reset or closed
    /// mid-call, a timeout): the call may or may not have taken effect.
    ReplyLost,
}

/// Whether `e` is a transport failure, and how far the call got. `submitted` says whether the
/// request had already been accepted (an update being polled for its result): then even a
/// refused connection leaves the outcome unknown.
pub fn lost_in_transport(e: &AgentError, submitted: bool) -> Option<Lost> {
    let lost = match e {
        AgentError::TransportError(ic_agent::agent::agent_error::TransportError::Reqwest(r))
            if r.is_connect() =>
        {
            Lost::NotSent
        }
        AgentError::TransportError(_) | AgentError::TimeoutWaitingForResponse() => Lost::ReplyLost,
        _ => return None,
    };
    Some(if submitted { Lost::ReplyLost } else { lost })
}

/// Turns an agent error into a readable one: a reject as its codes and message (not a debug
/// dump), anything else as the agent words it.
pub fn describe(e: AgentError) -> anyhow::Error {
    match reject(&e) {
        Some(reject) => anyhow!(
            "rejected (code {:?}{}): {}",
            reject.reject_code,
            reject
                .error_code
                .as_ref()
                .map(|c| format!(", {c}"))
                .unwrap_or_default(),
            reject.reject_message
        ),
        None => anyhow!(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(code: RejectCode, error_code: Option<&str>, message: &str) -> AgentError {
        AgentError::UncertifiedReject {
            reject: RejectResponse {
                reject_code: code,
                reject_message: message.into(),
                error_code: error_code.map(str::to_string),
            },
            operation: None,
        }
    }

    #[test]
    fn retries_and_controller_checks_follow_the_codes_not_the_words() {
        // Transient by code, whatever the message says.
        assert!(is_transient(&rejected(
            RejectCode::SysTransient,
            Some("IC0210"),
            "anything"
        )));
        // A message that sounds transient is not, when the code says otherwise.
        assert!(!is_transient(&rejected(
            RejectCode::CanisterReject,
            Some("IC0406"),
            "please try again later, rate limit, wait a few seconds"
        )));
        // Out of cycles: waiting will not help.
        assert!(!is_transient(&rejected(
            RejectCode::SysTransient,
            Some(OUT_OF_CYCLES),
            "out of cycles"
        )));
        assert!(is_not_controller(&rejected(
            RejectCode::CanisterError,
            Some("IC0512"),
            "reworded by a newer replica"
        )));
        assert!(!is_not_controller(&rejected(
            RejectCode::CanisterError,
            Some("IC0503"),
            "Only controllers of canister … can call ic00 method take_canister_snapshot"
        )));
    }

    #[test]
    fn a_timeout_loses_the_reply_and_a_polled_call_is_never_unsent() {
        let timeout = AgentError::TimeoutWaitingForResponse();
        assert_eq!(lost_in_transport(&timeout, false), Some(Lost::ReplyLost));
        let generic = AgentError::TransportError(
            ic_agent::agent::agent_error::TransportError::Generic("reset".into()),
        );
        assert_eq!(lost_in_transport(&generic, true), Some(Lost::ReplyLost));
        assert_eq!(
            lost_in_transport(&rejected(RejectCode::CanisterError, None, "x"), false),
            None
        );
    }
}
