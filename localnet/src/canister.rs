//! The state of one canister: code and memories, settings, status, cycles, chunk store,
//! snapshots, history, and the bookkeeping of open call contexts and callbacks.

use crate::execution::{CompiledModule, ExecState};
use crate::heap::LiveHeap;
use crate::snapshots::SnapshotStore;
use crate::system_api::Payload;
use crate::types::RejectCode;
use candid::Principal;
use std::collections::BTreeMap;

/// Running status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Accepts calls.
    Running,
    /// A stop was requested; waits for open call contexts to close.
    Stopping,
    /// Stopped.
    Stopped,
}

/// Where the response of a call context goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// An ingress message.
    Ingress(u64),
    /// Another (or the same) canister's callback.
    Canister {
        /// The caller.
        caller: Principal,
        /// Callback id at the caller.
        callback: u64,
    },
    /// Heartbeat / global timer: nobody waits for a response.
    System,
}

/// An open call context.
#[derive(Clone, Debug)]
pub struct CallContext {
    /// Where the response goes.
    pub origin: Origin,
    /// `msg_caller` in this context.
    pub caller: Principal,
    /// Whether a response was sent.
    pub responded: bool,
    /// Callbacks still waiting.
    pub outstanding: u32,
    /// Instructions spent so far (performance counter 1).
    pub instructions: u64,
    /// Deadline of the incoming call (0 = guaranteed response).
    pub deadline: u64,
    /// Cycles still available to accept.
    pub cycles_available: u128,
}

/// A callback waiting for a response.
#[derive(Clone, Debug)]
pub struct Callback {
    /// Its call context.
    pub call_context: u64,
    /// Callee.
    pub callee: Principal,
    /// Method called (for fault injection and diagnostics).
    pub method: String,
    /// Reply closure.
    pub reply: (u32, u32),
    /// Reject closure.
    pub reject: (u32, u32),
    /// Cleanup closure.
    pub cleanup: Option<(u32, u32)>,
    /// Bounded-wait deadline (ns), if any.
    pub deadline: Option<u64>,
    /// A timeout response has been delivered: a late real response is dropped.
    pub timed_out: bool,
}

/// Who asked for a change (a management call's sender, or the system), as the canister history
/// records it.
#[derive(Clone, Copy, Debug)]
pub struct Sender {
    /// The principal.
    pub principal: Principal,
    /// Whether it is a canister (rather than a user).
    pub is_canister: bool,
}

impl Sender {
    /// The system acting on its own (a canister running out of cycles): the history names the
    /// management canister.
    pub const SYSTEM: Sender = Sender {
        principal: crate::types::MANAGEMENT_CANISTER,
        is_canister: true,
    };
}

/// One change in the canister history (`canister_info`).
#[derive(Clone, Debug)]
pub struct HistoryEntry {
    /// When.
    pub timestamp: u64,
    /// canister_version after the change.
    pub canister_version: u64,
    /// Who.
    pub origin: Principal,
    /// Whether the origin was a canister.
    pub origin_is_canister: bool,
    /// What.
    pub details: ic_management_canister_types::ChangeDetails,
}

/// A canister on the local subnet.
pub struct Canister {
    /// Id.
    pub id: Principal,
    /// Controllers.
    pub controllers: Vec<Principal>,
    /// Cycle balance.
    pub cycles: u128,
    /// Status.
    pub status: Status,
    /// Installed code.
    pub module: Option<CompiledModule>,
    /// Heap, globals, stable memory.
    pub state: ExecState,
    /// The mapped heap messages run on (mirrors `state.heap`; not saved, rebuilt on demand).
    pub live_heap: LiveHeap,
    /// Certified data.
    pub certified_data: Vec<u8>,
    /// Global timer (0 = inactive).
    pub global_timer: u64,
    /// `canister_version`.
    pub version: u64,
    /// Wasm chunk store (upload_chunk).
    pub chunk_store: BTreeMap<[u8; 32], Vec<u8>>,
    /// Snapshots and their id counter.
    pub snapshots: SnapshotStore,
    /// Open call contexts.
    pub call_contexts: BTreeMap<u64, CallContext>,
    /// Next call context id.
    pub next_call_context: u64,
    /// Waiting callbacks.
    pub callbacks: BTreeMap<u64, Callback>,
    /// Next callback id.
    pub next_callback: u64,
    /// stop_canister calls waiting for the canister to stop.
    pub pending_stops: Vec<Origin>,
    /// Canister history.
    pub history: Vec<HistoryEntry>,
    /// Debug prints.
    pub logs: Vec<String>,
    /// Freezing threshold setting (seconds; reported only).
    pub freezing_threshold: u64,
    /// Who may list and read the canister's snapshots besides its controllers (spec 0.54+).
    pub snapshot_visibility: ic_management_canister_types::SnapshotVisibility,
    /// Instructions executed by this canister's own code so far (all messages, trapped or not;
    /// install hooks included). Management-canister work is not counted: it runs no wasm.
    pub instructions_executed: u64,
}

impl Canister {
    /// A new empty canister.
    pub fn new(id: Principal, controllers: Vec<Principal>, cycles: u128) -> Self {
        Canister {
            id,
            controllers,
            cycles,
            status: Status::Running,
            module: None,
            state: ExecState::default(),
            live_heap: LiveHeap::default(),
            certified_data: Vec::new(),
            global_timer: 0,
            version: 0,
            chunk_store: BTreeMap::new(),
            snapshots: SnapshotStore::default(),
            call_contexts: BTreeMap::new(),
            next_call_context: 0,
            callbacks: BTreeMap::new(),
            next_callback: 0,
            pending_stops: Vec::new(),
            history: Vec::new(),
            logs: Vec::new(),
            freezing_threshold: 2_592_000,
            snapshot_visibility: Default::default(),
            instructions_executed: 0,
        }
    }

    /// Appends a change to the canister history, at the current `canister_version`.
    pub fn record_change(
        &mut self,
        now: u64,
        sender: Sender,
        details: ic_management_canister_types::ChangeDetails,
    ) {
        self.history.push(HistoryEntry {
            timestamp: now,
            canister_version: self.version,
            origin: sender.principal,
            origin_is_canister: sender.is_canister,
            details,
        });
    }

    /// Whether `p` controls this canister.
    pub fn is_controller(&self, p: &Principal) -> bool {
        self.controllers.contains(p)
    }

    /// Memory the canister uses (heap + stable + module + chunk store + snapshots excluded).
    pub fn memory_size(&self) -> u64 {
        self.state.heap.len()
            + self.state.stable.len()
            + (self
                .module
                .as_ref()
                .map_or(0, |m| m.prepared.original.len())
                + self.chunk_store.values().map(Vec::len).sum::<usize>()) as u64
    }

    /// Total bytes held by snapshots.
    pub fn snapshots_size(&self) -> u64 {
        self.snapshots.total_size()
    }

    /// `ic0.canister_status` value.
    pub fn status_code(&self) -> u32 {
        match self.status {
            Status::Running => 1,
            Status::Stopping => 2,
            Status::Stopped => 3,
        }
    }
}

/// A message between canisters (or from a user) waiting in the subnet's queues.
#[derive(Clone, Debug)]
pub enum Message {
    /// A call.
    Request(Request),
    /// A response to a callback.
    Response(Response),
}

/// A call waiting to be executed.
#[derive(Clone, Debug)]
pub struct Request {
    /// Unique id (also the handle of the manual policy).
    pub id: u64,
    /// Sender (canister or user).
    pub sender: Principal,
    /// Receiver.
    pub receiver: Principal,
    /// Method.
    pub method: String,
    /// Argument.
    pub arg: Vec<u8>,
    /// Attached cycles.
    pub cycles: u128,
    /// Where the response goes.
    pub origin: Origin,
    /// Bounded-wait deadline (0 = guaranteed response).
    pub deadline: u64,
}

/// A response on its way back.
#[derive(Clone, Debug)]
pub struct Response {
    /// Unique id.
    pub id: u64,
    /// The callee that responded.
    pub sender: Principal,
    /// The canister whose callback it is.
    pub receiver: Principal,
    /// Callback id.
    pub callback: u64,
    /// Reply or reject (code, message).
    pub payload: Result<Vec<u8>, (RejectCode, String)>,
    /// Cycles refunded.
    pub refund: u128,
}

impl Message {
    /// Unique id.
    pub fn id(&self) -> u64 {
        match self {
            Message::Request(r) => r.id,
            Message::Response(r) => r.id,
        }
    }
}

/// Turns a canister's own response into the wire payload.
pub fn payload_to_result(payload: Payload) -> Result<Vec<u8>, (RejectCode, String)> {
    match payload {
        Payload::Reply(bytes) => Ok(bytes),
        Payload::Reject(msg) => Err((RejectCode::CanisterReject, msg)),
    }
}
