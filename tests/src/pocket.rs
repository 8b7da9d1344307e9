//! The PocketIC backend of [`Subnet`]: the IC's own execution environment in a PocketIC server
//! (the `pocket-ic` crate 10, for server 10.x), chosen when `POCKET_IC_BIN` names the server
//! binary. One instance with one application subnet per `Env`, driven deterministically:
//! rounds run only on `tick`, the clock moves only when a test moves it.
//!
//! No PocketIC server can be installed on the machines this project is built on, so this file
//! is compiled by every test build and written against the crate's documented API, but it has
//! not been run there (README, "Tests").

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use candid::utils::{ArgumentDecoder, ArgumentEncoder};
use candid::{Principal, decode_args, encode_args};
use ic_management_canister_types::{
    CanisterIdRecord, CanisterStatusResult, ChunkHash, DeleteCanisterSnapshotArgs, Snapshot,
    TakeCanisterSnapshotArgs,
};
use localnet::{ErrorCode, LocalNet, MessageId, RejectCode, RejectResponse};
use pocket_ic::common::rest::{RawEffectivePrincipal, RawMessageId};
use pocket_ic::{PocketIc, PocketIcBuilder, Time};

use crate::subnet::Subnet;

/// The variable naming the PocketIC server binary (the crate reads the same one).
pub const POCKET_IC_BIN: &str = "POCKET_IC_BIN";

/// Rounds [`Subnet::run_until_idle`] executes: PocketIC cannot say when a subnet is idle, and
/// the longest chains the suites start (a timer's self-call, the orchestrator's stop → take →
/// start calls, each a request and a response) settle well within this many rounds.
const IDLE_ROUNDS: usize = 50;

/// Where an instance's clock starts: 2026-01-01T00:00:00Z. PocketIC starts at the wall clock
/// and neither backend moves the clock back, so the schedule suites' fixed dates (November
/// 2026) must lie ahead of it.
const START_NANOS: u64 = 1_767_225_600 * 1_000_000_000;

/// The server binary, when `POCKET_IC_BIN` names one.
pub fn server_binary() -> Option<PathBuf> {
    std::env::var_os(POCKET_IC_BIN)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

/// A PocketIC instance with one application subnet.
pub struct PocketSubnet {
    pic: PocketIc,
    /// Submitted calls by the id handed to the test (localnet's id type, so tests are shared).
    submitted: BTreeMap<u64, RawMessageId>,
    next_id: u64,
}

impl PocketSubnet {
    /// Starts (or reuses) the server at `binary` and creates an instance on it.
    pub fn start(binary: PathBuf) -> Self {
        // The crate waits for a server that never starts when the path is wrong: say so now.
        assert!(
            binary.is_file(),
            "{POCKET_IC_BIN}={} is not a file: point it at a PocketIC server 10.x binary \
             (github.com/dfinity/pocketic releases), or unset it to run on localnet",
            binary.display()
        );
        let pic = PocketIcBuilder::new()
            .with_server_binary(binary)
            .with_application_subnet()
            .with_initial_timestamp(START_NANOS)
            .build();
        PocketSubnet {
            pic,
            submitted: BTreeMap::new(),
            next_id: 0,
        }
    }
}

impl PocketSubnet {
    /// A management canister method on `canister`, as `sender`, encoded and decoded with the
    /// spec's types the suites use (ic-management-canister-types 0.11) whatever version of
    /// them the pocket-ic crate was built with: the server speaks the spec's candid.
    fn management<A: ArgumentEncoder, R: for<'a> ArgumentDecoder<'a>>(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
        method: &str,
        args: A,
    ) -> Result<R, RejectResponse> {
        let reply = self
            .pic
            .update_call_with_effective_principal(
                Principal::management_canister(),
                RawEffectivePrincipal::CanisterId(canister.as_slice().to_vec()),
                sender.unwrap_or(Principal::anonymous()),
                method,
                encode_args(args).unwrap(),
            )
            .map_err(reject)?;
        Ok(decode_args(&reply).unwrap_or_else(|e| {
            panic!("management canister {method}: reply does not decode ({e})")
        }))
    }
}

/// PocketIC's rejection in localnet's shape: reject code and IC error code by number, so a
/// test decides from codes on either backend.
fn reject(r: pocket_ic::RejectResponse) -> RejectResponse {
    let reject_code = match r.reject_code as u32 {
        1 => RejectCode::SysFatal,
        2 => RejectCode::SysTransient,
        3 => RejectCode::DestinationInvalid,
        4 => RejectCode::CanisterReject,
        5 => RejectCode::CanisterError,
        _ => RejectCode::SysUnknown,
    };
    let number = r.error_code as u32;
    let error_code = error_code(number);
    // A code localnet does not model keeps its number in the message.
    let reject_message = match error_code {
        Some(_) => r.reject_message,
        None => format!("IC{number:04}: {}", r.reject_message),
    };
    RejectResponse {
        reject_code,
        reject_message,
        error_code,
    }
}

/// localnet's [`ErrorCode`] for an IC error code number, if localnet has it.
fn error_code(number: u32) -> Option<ErrorCode> {
    use ErrorCode::*;
    [
        SubnetOversubscribed,
        MaxNumberOfCanistersReached,
        CanisterQueueFull,
        IngressMessageTimeout,
        CanisterOutOfCycles,
        CanisterNotFound,
        CanisterSnapshotNotFound,
        InsufficientMemoryAllocation,
        InsufficientCyclesForCreateCanister,
        SubnetNotFound,
        CanisterNotHostedBySubnet,
        CanisterRejectedMessage,
        UnknownManagementMessage,
        InvalidManagementPayload,
        CanisterSnapshotImmutable,
        CanisterTrapped,
        CanisterCalledTrap,
        CanisterContractViolation,
        CanisterInvalidWasm,
        CanisterDidNotReply,
        CanisterOutOfMemory,
        CanisterStopped,
        CanisterStopping,
        CanisterNotStopped,
        CanisterStoppingCancelled,
        CanisterInvalidController,
        CanisterFunctionNotFound,
        CanisterNonEmpty,
        InsufficientCyclesInCall,
        CanisterInstructionLimitExceeded,
        CanisterMethodNotFound,
        CanisterWasmModuleNotFound,
        CanisterAlreadyInstalled,
        DeadlineExpired,
    ]
    .into_iter()
    .find(|c| c.number() == number)
}

impl Subnet for PocketSubnet {
    fn name(&self) -> &'static str {
        "PocketIC"
    }

    fn create_canister(&mut self, controller: Principal) -> Principal {
        self.pic
            .create_canister_with_settings(Some(controller), None)
    }

    fn install_canister(
        &mut self,
        canister: Principal,
        wasm: Vec<u8>,
        arg: Vec<u8>,
        sender: Option<Principal>,
    ) {
        self.pic.install_canister(canister, wasm, arg, sender)
    }

    fn set_controllers(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
        controllers: Vec<Principal>,
    ) -> Result<(), RejectResponse> {
        self.pic
            .set_controllers(canister, sender, controllers)
            .map_err(reject)
    }

    fn stop_canister(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
    ) -> Result<(), RejectResponse> {
        self.pic.stop_canister(canister, sender).map_err(reject)
    }

    fn upgrade_canister(
        &mut self,
        canister: Principal,
        wasm: Vec<u8>,
        arg: Vec<u8>,
        sender: Option<Principal>,
    ) -> Result<(), RejectResponse> {
        self.pic
            .upgrade_canister(canister, wasm, arg, sender)
            .map_err(reject)
    }

    fn start_canister(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
    ) -> Result<(), RejectResponse> {
        self.pic.start_canister(canister, sender).map_err(reject)
    }

    fn take_canister_snapshot(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
        replace_snapshot: Option<Vec<u8>>,
    ) -> Result<Snapshot, RejectResponse> {
        let args = TakeCanisterSnapshotArgs {
            canister_id: canister,
            replace_snapshot,
            uninstall_code: None,
            sender_canister_version: None,
        };
        let (taken,) = self.management(canister, sender, "take_canister_snapshot", (args,))?;
        Ok(taken)
    }

    fn list_canister_snapshots(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
    ) -> Result<Vec<Snapshot>, RejectResponse> {
        let args = CanisterIdRecord {
            canister_id: canister,
        };
        let (list,) = self.management(canister, sender, "list_canister_snapshots", (args,))?;
        Ok(list)
    }

    fn delete_canister_snapshot(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
        snapshot_id: Vec<u8>,
    ) -> Result<(), RejectResponse> {
        let args = DeleteCanisterSnapshotArgs {
            canister_id: canister,
            snapshot_id,
        };
        self.management(canister, sender, "delete_canister_snapshot", (args,))
    }

    fn stored_chunks(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
    ) -> Result<Vec<Vec<u8>>, RejectResponse> {
        let args = CanisterIdRecord {
            canister_id: canister,
        };
        let (hashes,): (Vec<ChunkHash>,) =
            self.management(canister, sender, "stored_chunks", (args,))?;
        Ok(hashes.into_iter().map(|h| h.hash).collect())
    }

    fn canister_status(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
    ) -> Result<CanisterStatusResult, RejectResponse> {
        let args = CanisterIdRecord {
            canister_id: canister,
        };
        let (status,) = self.management(canister, sender, "canister_status", (args,))?;
        Ok(status)
    }

    fn update_call(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> Result<Vec<u8>, RejectResponse> {
        self.pic
            .update_call(canister, sender, method, arg)
            .map_err(reject)
    }

    fn query_call(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> Result<Vec<u8>, RejectResponse> {
        self.pic
            .query_call(canister, sender, method, arg)
            .map_err(reject)
    }

    fn submit_call(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> Result<MessageId, RejectResponse> {
        let raw = self
            .pic
            .submit_call(canister, sender, method, arg)
            .map_err(reject)?;
        let id = self.next_id;
        self.next_id += 1;
        self.submitted.insert(id, raw);
        Ok(MessageId(id))
    }

    fn await_call(&mut self, id: MessageId) -> Result<Vec<u8>, RejectResponse> {
        let raw = self
            .submitted
            .remove(&id.0)
            .unwrap_or_else(|| panic!("no submitted call {}", id.0));
        self.pic.await_call(raw).map_err(reject)
    }

    fn add_cycles(&mut self, canister: Principal, amount: u128) -> u128 {
        self.pic.add_cycles(canister, amount)
    }

    fn cycle_balance(&mut self, canister: Principal) -> u128 {
        self.pic.cycle_balance(canister)
    }

    fn time_nanos(&mut self) -> u64 {
        self.pic.get_time().as_nanos_since_unix_epoch()
    }

    fn set_time_nanos(&mut self, nanos: u64) {
        // Like localnet: the clock never goes back.
        let to = nanos.max(self.time_nanos());
        self.pic.set_time(Time::from_nanos_since_unix_epoch(to));
    }

    fn advance_time(&mut self, by: Duration) {
        self.pic.advance_time(by);
    }

    fn tick(&mut self) {
        self.pic.tick();
    }

    fn run_until_idle(&mut self) {
        for _ in 0..IDLE_ROUNDS {
            self.pic.tick();
        }
    }

    fn as_localnet(&mut self) -> Option<&mut LocalNet> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "is not a file: point it at a PocketIC server 10.x binary")]
    fn a_pocket_ic_bin_that_is_not_a_file_is_refused_with_what_to_do() {
        PocketSubnet::start(PathBuf::from("/nonexistent/pocket-ic"));
    }

    #[test]
    fn pocket_ic_rejections_keep_their_reject_and_error_codes() {
        let r = reject(pocket_ic::RejectResponse {
            reject_code: pocket_ic::RejectCode::CanisterError,
            reject_message: "Canister x is stopped".into(),
            error_code: pocket_ic::ErrorCode::CanisterStopped,
            certified: true,
        });
        assert_eq!(r.reject_code, RejectCode::CanisterError);
        assert_eq!(r.error_code, Some(ErrorCode::CanisterStopped));
        assert_eq!(r.reject_message, "Canister x is stopped");
    }
}
