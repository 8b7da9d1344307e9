//! The management canister (`aaaaa-aa`): [`Management`] answers one request, dispatching on the
//! IC method's name to a method of the same name — canister lifecycle, code, settings, chunks,
//! cycles and randomness in [`lifecycle`], the eight snapshot methods in [`snapshot_methods`].
//!
//! It acts on the subnet through [`Subnet`], the few things it needs from it (the canister
//! table, the wasm runtime, the clock, answering a call, stop completion, uninstalling), so this
//! module does not depend on [`crate::net`]; the subnet implements the trait and routes every
//! request for `aaaaa-aa` here. Arguments use the candid types of
//! `ic-management-canister-types`, replies the spec's ([`crate::replies`]), so a canister
//! calling through ic-cdk and a test calling through the Rust API take the same path. Errors
//! carry the IC's error codes and messages (dfinity/ic
//! `rs/execution_environment/src/canister_manager.rs`).

mod lifecycle;
mod snapshot_methods;

use crate::canister::{Canister, Origin, Request, Sender};
use crate::canister_table::CanisterTable;
use crate::execution::Runtime;
use crate::replies;
use crate::system_api::{ApiType, MessageEnv};
use crate::types::{ErrorCode, MANAGEMENT_CANISTER, RejectResponse};
use candid::{CandidType, Decode, Principal, encode_one};
use ic_management_canister_types as mt;
use serde::de::DeserializeOwned;

pub use lifecycle::{MAX_CONTROLLERS, MAX_SNAPSHOT_VIEWERS};

/// What the management canister needs from the subnet it runs on.
pub(crate) trait Subnet {
    /// The canisters.
    fn canisters(&self) -> &CanisterTable;
    /// The canisters, to change.
    fn canisters_mut(&mut self) -> &mut CanisterTable;
    /// The wasm runtime (install hooks run on it).
    fn runtime(&self) -> &Runtime;
    /// The wasm runtime, to compile modules.
    fn runtime_mut(&mut self) -> &mut Runtime;
    /// The subnet's time (ns).
    fn now(&self) -> u64;
    /// What an install step (`canister_init`, `pre_upgrade`, `post_upgrade`) of `c` sees.
    fn install_env(
        &self,
        c: &Canister,
        api_type: ApiType,
        caller: Principal,
        arg: Vec<u8>,
    ) -> MessageEnv;
    /// Sends a response to whoever waits on `origin`.
    fn respond(
        &mut self,
        responder: Principal,
        origin: Origin,
        result: Result<Vec<u8>, RejectResponse>,
        refund: u128,
    );
    /// Completes a pending stop once the canister has no open call contexts.
    fn check_stopped(&mut self, canister: Principal);
    /// Removes code and memories, rejecting open call contexts.
    fn uninstall(&mut self, id: Principal, sender: Sender);
    /// Eight random bytes, deterministic per run (`raw_rand`).
    fn random_u64(&mut self) -> u64;
}

/// What a management method produced.
enum Outcome {
    /// Reply bytes (candid).
    Reply(Vec<u8>),
    /// Rejected.
    Reject(RejectResponse),
    /// Answered later (stop_canister waits for the canister to stop).
    Deferred,
}

impl From<Result<Vec<u8>, RejectResponse>> for Outcome {
    fn from(r: Result<Vec<u8>, RejectResponse>) -> Self {
        match r {
            Ok(b) => Outcome::Reply(b),
            Err(e) => Outcome::Reject(e),
        }
    }
}

/// A management method's reply bytes or its refusal.
type MResult = Result<Vec<u8>, RejectResponse>;

fn decode<T: CandidType + DeserializeOwned>(arg: &[u8]) -> Result<T, RejectResponse> {
    Decode!(arg, T).map_err(|e| {
        RejectResponse::system(
            ErrorCode::InvalidManagementPayload,
            format!("Error decoding candid: {e}"),
        )
    })
}

/// A reply of one value; `T` is one of [`crate::replies`]' types.
fn reply<T: CandidType>(value: T) -> MResult {
    Ok(encode_one(value).expect("candid encoding of a management result"))
}

/// The reply of a method whose result is `()`.
fn reply_empty() -> MResult {
    Ok(replies::empty())
}

/// The management canister answering one request on a subnet.
pub(crate) struct Management<'a> {
    net: &'a mut dyn Subnet,
}

impl<'a> Management<'a> {
    /// The management canister of `net`.
    pub(crate) fn new(net: &'a mut dyn Subnet) -> Self {
        Management { net }
    }

    /// Executes `req` and answers it (except `stop_canister`, answered when the canister stops).
    pub(crate) fn execute(&mut self, req: Request) {
        let sender = Sender {
            principal: req.sender,
            is_canister: !matches!(req.origin, Origin::Ingress(_)),
        };
        let mut refund = req.cycles;
        let arg = &req.arg;
        let outcome: Outcome = match req.method.as_str() {
            "provisional_create_canister_with_cycles" => self
                .provisional_create_canister_with_cycles(sender, arg)
                .into(),
            "create_canister" => {
                let r = self.create_canister(sender, arg, req.cycles);
                if r.is_ok() {
                    refund = 0;
                }
                r.into()
            }
            "provisional_top_up_canister" => self.provisional_top_up_canister(arg).into(),
            "deposit_cycles" => {
                let r = self.deposit_cycles(arg, req.cycles);
                if r.is_ok() {
                    refund = 0;
                }
                r.into()
            }
            "install_code" => self.install_code(sender, arg).into(),
            "install_chunked_code" => self.install_chunked_code(sender, arg).into(),
            "uninstall_code" => self.uninstall_code(sender, arg).into(),
            "upload_chunk" => self.upload_chunk(sender, arg).into(),
            "stored_chunks" => self.stored_chunks(sender, arg).into(),
            "clear_chunk_store" => self.clear_chunk_store(sender, arg).into(),
            "update_settings" => self.update_settings(sender, arg).into(),
            "canister_status" => self.canister_status(sender, arg).into(),
            "canister_info" => self.canister_info(sender, arg).into(),
            "start_canister" => self.start_canister(sender, arg).into(),
            "stop_canister" => self.stop_canister(sender, arg, req.origin.clone()),
            "delete_canister" => self.delete_canister(sender, arg).into(),
            "raw_rand" => self.raw_rand(sender).into(),
            "take_canister_snapshot" => self.take_canister_snapshot(sender, arg).into(),
            "load_canister_snapshot" => self.load_canister_snapshot(sender, arg).into(),
            "list_canister_snapshots" => self.list_canister_snapshots(sender, arg).into(),
            "delete_canister_snapshot" => self.delete_canister_snapshot(sender, arg).into(),
            "read_canister_snapshot_metadata" => {
                self.read_canister_snapshot_metadata(sender, arg).into()
            }
            "read_canister_snapshot_data" => self.read_canister_snapshot_data(sender, arg).into(),
            "upload_canister_snapshot_metadata" => {
                self.upload_canister_snapshot_metadata(sender, arg).into()
            }
            "upload_canister_snapshot_data" => {
                self.upload_canister_snapshot_data(sender, arg).into()
            }
            other => Outcome::Reject(RejectResponse::system(
                ErrorCode::CanisterMethodNotFound,
                format!("Management canister has no method '{other}'"),
            )),
        };
        match outcome {
            Outcome::Reply(bytes) => {
                self.net
                    .respond(MANAGEMENT_CANISTER, req.origin, Ok(bytes), refund)
            }
            Outcome::Reject(reject) => {
                self.net
                    .respond(MANAGEMENT_CANISTER, req.origin, Err(reject), req.cycles)
            }
            Outcome::Deferred => {}
        }
    }

    /// The canister, if `sender` controls it (IC0301 / IC0512 otherwise). The replica words the
    /// refusal differently for ingress, which it filters before execution
    /// (`execution_environment.rs`: "Only controllers of canister X can call ic00 method M"), and
    /// for canister callers, which reach the canister manager (`canister_manager/types.rs`).
    fn controlled(
        &self,
        id: Principal,
        sender: Sender,
        method: &str,
    ) -> Result<&Canister, RejectResponse> {
        let c = self.net.canisters().find(id)?;
        if c.is_controller(&sender.principal) {
            return Ok(c);
        }
        let message = if sender.is_canister {
            let controllers: Vec<String> = c.controllers.iter().map(Principal::to_text).collect();
            format!(
                "Only the controllers of the canister {id} can control it.\nCanister's controllers: {}\nSender's ID: {}",
                controllers.join(" "),
                sender.principal
            )
        } else {
            format!("Only controllers of canister {id} can call ic00 method {method}")
        };
        Err(RejectResponse::system(
            ErrorCode::CanisterInvalidController,
            message,
        ))
    }

    /// The canister, if `sender` may read its snapshots (`list_canister_snapshots`,
    /// `read_canister_snapshot_metadata`, `read_canister_snapshot_data`): a controller, anyone
    /// when `snapshot_visibility` is `public`, or a principal in `allowed_viewers` (interface
    /// spec 0.54+). Everyone else gets the controller refusal (IC0512; the replica's wording for
    /// a non-viewer was not observed, so the controller text is an inference).
    fn snapshot_viewable(
        &self,
        id: Principal,
        sender: Sender,
        method: &str,
    ) -> Result<&Canister, RejectResponse> {
        let c = self.net.canisters().find(id)?;
        let viewer = match &c.snapshot_visibility {
            mt::SnapshotVisibility::Controllers => false,
            mt::SnapshotVisibility::Public => true,
            mt::SnapshotVisibility::AllowedViewers(v) => v.contains(&sender.principal),
        };
        if viewer {
            return Ok(c);
        }
        self.controlled(id, sender, method)
    }

    /// Methods the IC accepts only from canisters (ingress gets IC0406).
    fn canister_only(sender: Sender, method: &str) -> Result<(), RejectResponse> {
        if sender.is_canister {
            Ok(())
        } else {
            Err(RejectResponse::system(
                ErrorCode::CanisterRejectedMessage,
                format!("Only canisters can call ic00 method {method}"),
            ))
        }
    }

    /// The canister `id`, which an access check above has found, to change.
    fn checked_mut(&mut self, id: Principal) -> &mut Canister {
        self.net.canisters_mut().get_mut(&id).expect("checked")
    }

    /// Records a change in canister `id`'s history.
    fn record_change(&mut self, id: Principal, sender: Sender, details: mt::ChangeDetails) {
        let now = self.net.now();
        if let Some(c) = self.net.canisters_mut().get_mut(&id) {
            c.record_change(now, sender, details);
        }
    }
}
