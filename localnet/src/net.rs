//! [`LocalNet`]: the subnet. Owns the canisters, the message queue, the virtual clock and the
//! scheduler loop, and executes each message (ingress, inter-canister request, response,
//! heartbeat, global timer) with the bookkeeping of call contexts and callbacks around it.
//!
//! How a message executes: the scheduler picks an eligible message (see
//! [`crate::scheduler`]); a request to a canister opens a call context and runs the method; a
//! response runs the callback of its call context. The execution layer returns the new wasm
//! state and the message's [`Effects`] only if it did not trap; [`LocalNet::commit`] then applies
//! them (memories, certified data, timer, cycles, outgoing calls, response). A trap commits
//! nothing, so the rollback of heap, globals, stable memory, certified data, timer and outgoing
//! calls is structural. After a trapping callback the cleanup callback runs on the pre-callback
//! state, and a call context with nothing left to wait for is closed: rejected with the trap,
//! or with IC0506 when it simply never replied.

use crate::canister::{
    CallContext, Callback, Canister, Message, Origin, Request, Response, Sender, Status,
    payload_to_result,
};
use crate::canister_table::{CanisterTable, not_found};
use crate::cycles;
use crate::execution::{EntryPoint, ExecError, ExecOutput, ExecState, Runtime, api_type_of_export};
use crate::management::{Management, Subnet};
use crate::replies;
use crate::scheduler::{CallFilter, HeldCall, Scheduler, SchedulerPolicy};
use crate::system_api::{ApiType, Effects, MessageEnv};
use crate::types::{ErrorCode, MANAGEMENT_CANISTER, RejectCode, RejectResponse};
use candid::Principal;
use ic_management_canister_types as mt;
use std::collections::HashMap;
/// 2025-11-01T00:00:00Z: the clock's start, so runs are reproducible.
pub const GENESIS_TIME_NANOS: u64 = 1_761_955_200_000_000_000;
/// Instruction limit of an update message (IC: 40 B).
pub const UPDATE_INSTRUCTION_LIMIT: u64 = 40_000_000_000;
/// Instruction limit of a query (IC: 5 B).
pub const QUERY_INSTRUCTION_LIMIT: u64 = 5_000_000_000;
/// Instruction limit of install_code (IC: 300 B).
pub const INSTALL_INSTRUCTION_LIMIT: u64 = 300_000_000_000;
/// Largest reply a message may produce (IC: 2 MiB, `MAX_INTER_CANISTER_PAYLOAD_IN_BYTES`; the
/// same bound holds for replies to ingress messages, queries and canisters).
pub const MAX_REPLY_BYTES: u64 = 2 * 1024 * 1024;
/// Largest request (method name + argument) to a canister on the same subnet (IC: 10 MiB).
pub const SAME_SUBNET_PAYLOAD_BYTES: u64 = 10 * 1024 * 1024;
/// Largest request (method name + argument) to a canister on another subnet (IC: 2 MiB).
pub const CROSS_SUBNET_PAYLOAD_BYTES: u64 = 2 * 1024 * 1024;
/// Ticks `await_call` / `run_until_idle` run before giving up.
pub const MAX_TICKS: usize = 10_000;

/// Handle of a submitted ingress message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub u64);

/// Limits that tests may lower to exercise them.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Per update / callback / system task.
    pub update_instructions: u64,
    /// Per query.
    pub query_instructions: u64,
    /// Per install_code (init / pre_upgrade / post_upgrade each).
    pub install_instructions: u64,
    /// Largest reply (`msg_reply_data_append` traps beyond it).
    pub reply_bytes: u64,
    /// Largest inter-canister request, method name + argument (`call_data_append` /
    /// `call_perform` trap beyond it). localnet is one subnet, so the default is the IC's
    /// same-subnet 10 MiB; set [`CROSS_SUBNET_PAYLOAD_BYTES`] to model callees (and the
    /// management canister acting for canisters) on another subnet.
    pub inter_canister_payload_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            update_instructions: UPDATE_INSTRUCTION_LIMIT,
            query_instructions: QUERY_INSTRUCTION_LIMIT,
            install_instructions: INSTALL_INSTRUCTION_LIMIT,
            reply_bytes: MAX_REPLY_BYTES,
            inter_canister_payload_bytes: SAME_SUBNET_PAYLOAD_BYTES,
        }
    }
}

/// An embedded local Internet Computer subnet.
pub struct LocalNet {
    pub(crate) runtime: Runtime,
    pub(crate) canisters: CanisterTable,
    pub(crate) time: u64,
    pub(crate) scheduler: Scheduler,
    next_message_id: u64,
    ingress: HashMap<u64, Option<Result<Vec<u8>, RejectResponse>>>,
    /// Expiry (ns) and message id as the replica prints it, of queued ingress messages that
    /// have one (`submit_call_with_expiry`, the HTTP interface).
    ingress_expiry: HashMap<u64, (u64, String)>,
    rand_state: u64,
    /// Limits (public so tests can lower them).
    pub limits: Limits,
    /// Print canister debug output to stderr (also enabled by `LOCALNET_LOG=1`).
    pub print_logs: bool,
}

impl Default for LocalNet {
    fn default() -> Self {
        Self::new()
    }
}

impl LocalNet {
    /// An empty subnet with the deterministic FIFO scheduler.
    pub fn new() -> Self {
        LocalNet {
            runtime: Runtime::new(),
            canisters: CanisterTable::default(),
            time: GENESIS_TIME_NANOS,
            scheduler: Scheduler::new(SchedulerPolicy::Fifo),
            next_message_id: 0,
            ingress: HashMap::new(),
            ingress_expiry: HashMap::new(),
            rand_state: 0x5eed,
            limits: Limits::default(),
            print_logs: std::env::var("LOCALNET_LOG").is_ok_and(|v| v == "1"),
        }
    }

    // ----- clock -----------------------------------------------------------------------------

    /// Current time (ns since the epoch).
    pub fn time_nanos(&self) -> u64 {
        self.time
    }

    /// Moves the clock forward (timers and deadlines due by then fire on the next tick).
    /// Canisters pay storage for the time that passes (`crate::cycles`).
    pub fn advance_time_nanos(&mut self, nanos: u64) {
        let to = self.time.saturating_add(nanos);
        self.charge_storage(to - self.time);
        self.time = to;
    }

    /// Sets the clock; it never goes backwards (as on the IC). Canisters pay storage for the
    /// time that passes.
    pub fn set_time_nanos(&mut self, nanos: u64) {
        let to = self.time.max(nanos);
        self.charge_storage(to - self.time);
        self.time = to;
    }

    /// Sets the clock without charging storage for the jump: a server that starts (or restarts
    /// on a state directory) moves the clock from the subnet's last time to the wall clock, and
    /// no canister lived through that gap.
    pub(crate) fn jump_clock_nanos(&mut self, nanos: u64) {
        self.time = self.time.max(nanos);
    }

    /// Charges every canister for storing its memory (snapshots included) over `nanos`. A
    /// canister that cannot pay is uninstalled and loses its snapshots, as on the IC when a
    /// canister runs out of cycles.
    fn charge_storage(&mut self, nanos: u64) {
        if nanos == 0 {
            return;
        }
        let mut dry = Vec::new();
        for c in self.canisters.values_mut() {
            let cost = cycles::storage_cost(cycles::charged_memory(c), nanos);
            if cost > c.cycles {
                c.cycles = 0;
                dry.push(c.id);
            } else {
                c.cycles -= cost;
            }
        }
        for id in dry {
            self.run_dry(id);
        }
    }

    /// What the IC does to a canister that ran out of cycles: its code, memories, chunk store
    /// and snapshots are deleted; the canister (id, controllers, settings) stays.
    fn run_dry(&mut self, id: Principal) {
        let Some(c) = self.canisters.get_mut(&id) else {
            return;
        };
        if c.module.is_none() && c.snapshots.is_empty() {
            return;
        }
        c.snapshots.clear();
        c.chunk_store.clear();
        // The system uninstalls it; the history records the management canister as the origin.
        self.uninstall(id, Sender::SYSTEM);
    }

    /// Seeds `raw_rand` (each call then returns the next 32 bytes of a splitmix64 stream).
    pub fn set_rand_seed(&mut self, seed: u64) {
        self.rand_state = seed;
    }

    // ----- scheduling ------------------------------------------------------------------------

    /// Replaces the scheduling policy.
    pub fn set_scheduler_policy(&mut self, policy: SchedulerPolicy) {
        self.scheduler.set_policy(policy);
    }

    /// Holds every inter-canister request matching `filter` until released, rejected or timed
    /// out (fault injection; works under any policy).
    pub fn hold_calls(&mut self, filter: CallFilter) {
        self.scheduler.hold(filter);
    }

    /// Stops holding new requests (already held ones stay held).
    pub fn clear_holds(&mut self) {
        self.scheduler.clear_holds();
    }

    /// Requests currently held.
    pub fn held_calls(&self) -> Vec<HeldCall> {
        self.scheduler.held_calls()
    }

    /// Lets a held request run.
    pub fn release_call(&mut self, id: u64) -> bool {
        self.scheduler.release(id)
    }

    /// Answers a held request with a reject without running the callee.
    pub fn reject_call(&mut self, id: u64, code: RejectCode, message: &str) -> bool {
        match self.scheduler.take_held(id) {
            Some(req) => {
                let reject = RejectResponse {
                    reject_code: code,
                    reject_message: message.to_string(),
                    error_code: None,
                };
                self.respond(req.receiver, req.origin, Err(reject), req.cycles);
                true
            }
            None => false,
        }
    }

    /// Drops a held request and answers SYS_UNKNOWN, as when a bounded-wait call times out.
    pub fn time_out_call(&mut self, id: u64) -> bool {
        self.reject_call(id, RejectCode::SysUnknown, "Call deadline has expired.")
    }

    /// Number of messages waiting (held ones included).
    pub fn pending_messages(&self) -> usize {
        self.scheduler.len()
    }

    /// One round: expire deadlines, run due global timers and heartbeats, then execute the
    /// messages that were waiting when the round began, in the policy's order.
    pub fn tick(&mut self) {
        self.expire_ingress();
        self.expire_deadlines();
        self.run_system_tasks();
        let budget = self.scheduler.len();
        for _ in 0..budget {
            match self.scheduler.pick() {
                Some(msg) => self.execute_message(msg),
                None => break,
            }
        }
    }

    /// Ticks until no message can run (held messages do not count). Panics after
    /// [`MAX_TICKS`] rounds (a canister that keeps calling itself forever).
    pub fn run_until_idle(&mut self) {
        for _ in 0..MAX_TICKS {
            if !self.can_progress() {
                return;
            }
            self.tick();
        }
        panic!("localnet: still busy after {MAX_TICKS} ticks");
    }

    /// Whether a tick would do anything: a message can run, a timer is due, or a deadline has
    /// passed (which turns into a SYS_UNKNOWN response).
    fn can_progress(&self) -> bool {
        self.scheduler.has_eligible()
            || self.ingress_expiry.values().any(|(e, _)| *e < self.time)
            || self.timer_due()
            || self.scheduler.has_expired(self.time)
            || self.canisters.values().any(|c| {
                c.callbacks
                    .values()
                    .any(|cb| !cb.timed_out && cb.deadline.is_some_and(|d| d <= self.time))
            })
    }

    fn timer_due(&self) -> bool {
        self.canisters.values().any(|c| {
            c.status == Status::Running
                && c.global_timer != 0
                && c.global_timer <= self.time
                && c.module
                    .as_ref()
                    .is_some_and(|m| m.exports("canister_global_timer"))
        })
    }

    // ----- ingress ---------------------------------------------------------------------------

    /// Submits an ingress update call; `inspect_message` runs first when the canister has one.
    pub fn submit_call(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> Result<MessageId, RejectResponse> {
        if canister != MANAGEMENT_CANISTER {
            self.inspect_message(canister, sender, method, &arg)?;
        }
        // The canister the message is for pays for receiving it (for the management canister:
        // the canister named in the argument), and a frozen one does not get it.
        let payer = if canister == MANAGEMENT_CANISTER {
            // A top-up is free: it is how a frozen canister is unfrozen.
            (method != "provisional_top_up_canister")
                .then(|| target_canister(&arg))
                .flatten()
        } else {
            Some(canister)
        };
        if let Some(payer) = payer {
            self.canisters
                .charge_or_refuse(payer, cycles::ingress_cost(method.len() + arg.len()))?;
        }
        let id = self.next_id();
        self.ingress.insert(id, None);
        self.scheduler.push(Message::Request(Request {
            id,
            sender,
            receiver: canister,
            method: method.to_string(),
            arg,
            cycles: 0,
            origin: Origin::Ingress(id),
            deadline: 0,
        }));
        Ok(MessageId(id))
    }

    /// Submits an ingress update call that expires at `expiry` (ns since the epoch, as an
    /// envelope's `ingress_expiry`): if it is still queued when a round starts after that time
    /// (held, or behind other messages), it is not executed and fails with IC0202
    /// `IngressMessageTimeout`, as the replica purges expired ingress at the start of a round.
    pub fn submit_call_with_expiry(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
        expiry: u64,
    ) -> Result<MessageId, RejectResponse> {
        let id = self.submit_call(canister, sender, method, arg)?;
        self.ingress_expiry
            .insert(id.0, (expiry, format!("{:016x}", id.0)));
        Ok(id)
    }

    /// Like [`LocalNet::submit_call_with_expiry`], naming the message by its request id in the
    /// timeout's text (the HTTP interface).
    pub(crate) fn submit_ingress(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
        expiry: u64,
        request_id: &[u8; 32],
    ) -> Result<MessageId, RejectResponse> {
        let id = self.submit_call(canister, sender, method, arg)?;
        self.ingress_expiry
            .insert(id.0, (expiry, hex::encode(request_id)));
        Ok(id)
    }

    /// Drops queued ingress messages whose expiry has passed (held ones too), failing them with
    /// the replica's IC0202 "Ingress message <id> timed out waiting to start executing."
    /// (dfinity/ic `rs/execution_environment/src/scheduler.rs`,
    /// `purge_expired_ingress_messages`, run at the start of every round).
    fn expire_ingress(&mut self) {
        let now = self.time;
        if self.ingress_expiry.values().all(|(e, _)| *e >= now) {
            return;
        }
        let expired: std::collections::HashSet<u64> = self
            .ingress_expiry
            .iter()
            .filter(|(_, (e, _))| *e < now)
            .map(|(id, _)| *id)
            .collect();
        let dropped = self
            .scheduler
            .take_requests(|r| matches!(r.origin, Origin::Ingress(id) if expired.contains(&id)));
        for id in expired {
            // Not queued any more (it ran): only the bookkeeping goes.
            let (_, name) = self.ingress_expiry.remove(&id).expect("listed");
            if !dropped.iter().any(|r| r.origin == Origin::Ingress(id)) {
                continue;
            }
            let reject = RejectResponse::system(
                ErrorCode::IngressMessageTimeout,
                format!("Ingress message {name} timed out waiting to start executing."),
            );
            self.ingress.insert(id, Some(Err(reject)));
        }
    }

    /// Runs the subnet until the message has a result.
    pub fn await_call(&mut self, id: MessageId) -> Result<Vec<u8>, RejectResponse> {
        for _ in 0..MAX_TICKS {
            if let Some(Some(_)) = self.ingress.get(&id.0) {
                return self.ingress.remove(&id.0).flatten().expect("checked");
            }
            if !self.can_progress() {
                return Err(RejectResponse {
                    reject_code: RejectCode::SysTransient,
                    reject_message: "localnet: the message cannot make progress (a call it waits for is held, or a timer/deadline needs the clock to move)".into(),
                    error_code: None,
                });
            }
            self.tick();
        }
        panic!("localnet: message {id:?} did not complete in {MAX_TICKS} ticks");
    }

    /// The result of a submitted message, if it has one (does not run anything).
    pub fn ingress_status(&self, id: MessageId) -> Option<Result<Vec<u8>, RejectResponse>> {
        self.ingress.get(&id.0).cloned().flatten()
    }

    /// Submit + await.
    pub fn update_call(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> Result<Vec<u8>, RejectResponse> {
        let id = self.submit_call(canister, sender, method, arg)?;
        self.await_call(id)
    }

    /// A query call: runs at once on a copy of the state (non-replicated mode).
    pub fn query_call(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> Result<Vec<u8>, RejectResponse> {
        self.query_call_with_data_certificate(canister, sender, method, arg, None)
    }

    /// A query call that sees `data_certificate` through `ic0.data_certificate_*` (the HTTP
    /// interface passes a certificate of the canister's certified data).
    pub fn query_call_with_data_certificate(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
        data_certificate: Option<Vec<u8>>,
    ) -> Result<Vec<u8>, RejectResponse> {
        let c = self.canisters.find(canister)?;
        check_running(c)?;
        let module = c.module.clone().ok_or_else(|| empty(canister))?;
        let export = [
            format!("canister_query {method}"),
            format!("canister_composite_query {method}"),
        ]
        .into_iter()
        .find(|e| module.exports(e))
        .ok_or_else(|| {
            RejectResponse::system(
                ErrorCode::CanisterMethodNotFound,
                format!("Error from Canister {canister}: Canister has no query method '{method}'."),
            )
        })?;
        let mut env = self.env(c, ApiType::NonReplicatedQuery, sender, arg);
        env.instruction_limit = self.limits.query_instructions;
        env.data_certificate = data_certificate;
        let out = self.runtime.execute(
            &module,
            &c.state,
            EntryPoint::Export(export),
            env,
            false,
            Some(&c.live_heap),
        );
        self.record_logs(canister, &out);
        if let Some(c) = self.canisters.get_mut(&canister) {
            c.instructions_executed += out.instructions;
        }
        match out.result {
            Err(e) => Err(e.into_reject(canister)),
            Ok(_) => match out.effects.response {
                Some(payload) => {
                    payload_to_result(payload).map_err(|(_, m)| RejectResponse::canister(m))
                }
                None => Err(did_not_reply(canister)),
            },
        }
    }

    fn inspect_message(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: &[u8],
    ) -> Result<(), RejectResponse> {
        let Some(c) = self.canisters.get(&canister) else {
            return Err(not_found(canister));
        };
        let Some(module) = c.module.clone() else {
            return Ok(());
        };
        if !module.exports("canister_inspect_message") {
            return Ok(());
        }
        let mut env = self.env(c, ApiType::InspectMessage, sender, arg.to_vec());
        env.method_name = method.to_string();
        env.instruction_limit = self.limits.query_instructions;
        let out = self.runtime.execute(
            &module,
            &c.state,
            EntryPoint::Export("canister_inspect_message".into()),
            env,
            false,
            Some(&c.live_heap),
        );
        match out.result {
            Err(e) => Err(e.into_reject(canister)),
            Ok(_) if out.effects.accepted_message => Ok(()),
            Ok(_) => Err(RejectResponse::system(
                ErrorCode::CanisterRejectedMessage,
                format!("Error from Canister {canister}: Canister rejected the message"),
            )),
        }
    }

    // ----- canisters -------------------------------------------------------------------------

    /// Ids of all canisters.
    pub fn canister_ids(&self) -> Vec<Principal> {
        self.canisters.keys().copied().collect()
    }

    /// Cycle balance of a canister.
    pub fn cycle_balance(&self, canister: Principal) -> u128 {
        self.canisters.get(&canister).map_or(0, |c| c.cycles)
    }

    /// Debug prints of a canister so far.
    pub fn canister_logs(&self, canister: Principal) -> Vec<String> {
        self.canisters
            .get(&canister)
            .map(|c| c.logs.clone())
            .unwrap_or_default()
    }

    /// Raw stable memory of a canister (for tests and benchmarks).
    pub fn stable_memory(&self, canister: Principal) -> Vec<u8> {
        self.canisters
            .get(&canister)
            .map(|c| c.state.stable.to_vec())
            .unwrap_or_default()
    }

    /// Instructions the canister's own wasm has executed so far, over all messages (the
    /// management canister's work is not included). Take the difference around an operation to
    /// measure what it cost the canister.
    pub fn instructions_executed(&self, canister: Principal) -> u64 {
        self.canisters
            .get(&canister)
            .map_or(0, |c| c.instructions_executed)
    }

    /// Certified data of a canister.
    pub fn certified_data(&self, canister: Principal) -> Vec<u8> {
        self.canisters
            .get(&canister)
            .map(|c| c.certified_data.clone())
            .unwrap_or_default()
    }

    /// Whether a canister has a pending (active) global timer, and when.
    pub fn global_timer(&self, canister: Principal) -> Option<u64> {
        self.canisters
            .get(&canister)
            .map(|c| c.global_timer)
            .filter(|&t| t != 0)
    }

    /// Number of open call contexts of a canister.
    pub fn open_call_contexts(&self, canister: Principal) -> usize {
        self.canisters
            .get(&canister)
            .map_or(0, |c| c.call_contexts.len())
    }

    pub(crate) fn next_id(&mut self) -> u64 {
        self.next_message_id += 1;
        self.next_message_id
    }

    pub(crate) fn env(
        &self,
        c: &Canister,
        api_type: ApiType,
        caller: Principal,
        arg: Vec<u8>,
    ) -> MessageEnv {
        MessageEnv {
            api_type,
            canister_id: c.id,
            caller,
            arg,
            reject: None,
            method_name: String::new(),
            time: self.time,
            controllers: c.controllers.clone(),
            balance: c.cycles,
            cycles_available: 0,
            cycles_refunded: 0,
            canister_version: c.version,
            status: c.status_code(),
            certified_data: c.certified_data.clone(),
            global_timer: c.global_timer,
            deadline: 0,
            replied: false,
            instruction_limit: self.limits.update_instructions,
            max_reply_bytes: self.limits.reply_bytes,
            max_call_bytes: self.limits.inter_canister_payload_bytes,
            call_context_instructions: 0,
            data_certificate: None,
        }
    }

    pub(crate) fn record_logs(&mut self, canister: Principal, out: &ExecOutput) {
        if let Some(c) = self.canisters.get_mut(&canister) {
            for line in &out.logs {
                if self.print_logs {
                    eprintln!("[localnet {canister}] {line}");
                }
                c.logs.push(line.clone());
            }
        }
    }

    // ----- message execution -----------------------------------------------------------------

    fn execute_message(&mut self, msg: Message) {
        if let Message::Request(Request {
            origin: Origin::Ingress(id),
            ..
        }) = &msg
        {
            // It starts executing: its expiry no longer matters.
            self.ingress_expiry.remove(id);
        }
        match msg {
            Message::Request(req) if req.receiver == MANAGEMENT_CANISTER => {
                Management::new(self).execute(req)
            }
            Message::Request(req) => self.execute_request(req),
            Message::Response(resp) => self.execute_response(resp),
        }
    }

    /// Sends a response to whoever waits on `origin`.
    pub(crate) fn respond(
        &mut self,
        responder: Principal,
        origin: Origin,
        result: Result<Vec<u8>, RejectResponse>,
        refund: u128,
    ) {
        match origin {
            Origin::Ingress(id) => {
                self.ingress.insert(id, Some(result));
            }
            Origin::Canister { caller, callback } => {
                let id = self.next_id();
                self.scheduler.push(Message::Response(Response {
                    id,
                    sender: responder,
                    receiver: caller,
                    callback,
                    payload: result.map_err(|r| (r.reject_code, r.reject_message)),
                    refund,
                }));
            }
            Origin::System => {}
        }
    }

    fn execute_request(&mut self, req: Request) {
        let refuse = |net: &mut LocalNet, reject: RejectResponse| {
            net.respond(req.receiver, req.origin.clone(), Err(reject), req.cycles)
        };
        let Some(c) = self.canisters.get(&req.receiver) else {
            return refuse(self, not_found(req.receiver));
        };
        if let Err(reject) = check_running(c) {
            return refuse(self, reject);
        }
        let Some(module) = c.module.clone() else {
            return refuse(self, empty(req.receiver));
        };
        if let Err(reject) = self.canisters.check_not_frozen(req.receiver) {
            return refuse(self, reject);
        }
        let candidates = [
            format!("canister_update {}", req.method),
            format!("canister_query {}", req.method),
            format!("canister_composite_query {}", req.method),
        ];
        let Some(export) = candidates.into_iter().find(|e| module.exports(e)) else {
            return refuse(
                self,
                RejectResponse::system(
                    ErrorCode::CanisterMethodNotFound,
                    format!(
                        "Error from Canister {}: Canister has no update method '{}'.",
                        req.receiver, req.method
                    ),
                ),
            );
        };
        let api_type = api_type_of_export(&export);
        // Queries called by canisters run in replicated mode and keep no state.
        let persist = api_type == ApiType::Update;
        let api_type = if api_type == ApiType::CompositeQuery {
            ApiType::ReplicatedQuery
        } else {
            api_type
        };
        let c = self.canisters.get_mut(&req.receiver).expect("checked");
        let cc_id = c.next_call_context;
        c.next_call_context += 1;
        c.call_contexts.insert(
            cc_id,
            CallContext {
                origin: req.origin.clone(),
                caller: req.sender,
                responded: false,
                outstanding: 0,
                instructions: 0,
                deadline: req.deadline,
                cycles_available: req.cycles,
            },
        );
        let c = &self.canisters[&req.receiver];
        let mut env = self.env(c, api_type, req.sender, req.arg);
        env.cycles_available = req.cycles;
        env.deadline = req.deadline;
        if api_type == ApiType::ReplicatedQuery {
            env.instruction_limit = self.limits.query_instructions;
        }
        let out = self.runtime.execute(
            &module,
            &c.state,
            EntryPoint::Export(export),
            env,
            persist,
            Some(&c.live_heap),
        );
        let trap = self.commit(req.receiver, cc_id, out).err();
        self.close_if_done(req.receiver, cc_id, trap);
    }

    fn execute_response(&mut self, resp: Response) {
        let Some(c) = self.canisters.get_mut(&resp.receiver) else {
            return;
        };
        // A late response (after a timeout or uninstall already settled the callback) is dropped.
        let Some(callback) = c.callbacks.remove(&resp.callback) else {
            return;
        };
        c.cycles += resp.refund;
        let cc_id = callback.call_context;
        let Some(cc) = c.call_contexts.get_mut(&cc_id) else {
            return;
        };
        cc.outstanding -= 1;
        let one_way = callback.reply.0 == u32::MAX && callback.reject.0 == u32::MAX;
        let module = match (&c.module, one_way) {
            (Some(m), false) => m.clone(),
            _ => return self.close_if_done(resp.receiver, cc_id, None),
        };
        let (caller, replied, instructions, available, deadline) = (
            cc.caller,
            cc.responded,
            cc.instructions,
            cc.cycles_available,
            cc.deadline,
        );
        let c = &self.canisters[&resp.receiver];
        let (api_type, arg, reject, entry) = match resp.payload {
            Ok(bytes) => (ApiType::ReplyCallback, bytes, None, callback.reply),
            Err((code, msg)) => (
                ApiType::RejectCallback,
                Vec::new(),
                Some((code.as_u32(), msg)),
                callback.reject,
            ),
        };
        let mut env = self.env(c, api_type, caller, arg);
        env.reject = reject.or(Some((0, String::new())));
        env.replied = replied;
        env.cycles_refunded = resp.refund;
        env.cycles_available = available;
        env.call_context_instructions = instructions;
        env.deadline = deadline;
        let out = self.runtime.execute(
            &module,
            &c.state,
            EntryPoint::Callback {
                fun: entry.0,
                env: entry.1,
            },
            env,
            true,
            Some(&c.live_heap),
        );
        let trap = self.commit(resp.receiver, cc_id, out).err();
        if trap.is_some()
            && let Some((fun, env_arg)) = callback.cleanup
        {
            // The cleanup runs on the state from before the trapping callback; its own
            // trap is rolled back too and otherwise ignored.
            let c = &self.canisters[&resp.receiver];
            let mut env = self.env(c, ApiType::Cleanup, caller, Vec::new());
            env.replied = replied;
            let out = self.runtime.execute(
                &module,
                &c.state,
                EntryPoint::Callback { fun, env: env_arg },
                env,
                true,
                Some(&c.live_heap),
            );
            let _ = self.commit(resp.receiver, cc_id, out);
        }
        self.close_if_done(resp.receiver, cc_id, trap);
    }

    /// Applies a message's outcome. Returns the trap, if any, after recording logs.
    pub(crate) fn commit(
        &mut self,
        canister: Principal,
        cc_id: u64,
        out: ExecOutput,
    ) -> Result<(), ExecError> {
        self.record_logs(canister, &out);
        let now = self.time;
        let c = self.canisters.get_mut(&canister).expect("canister exists");
        c.instructions_executed += out.instructions;
        if let Some(cc) = c.call_contexts.get_mut(&cc_id) {
            cc.instructions += out.instructions;
        }
        // Paid whether or not the message trapped.
        self.canisters.charge_execution(canister, out.instructions);
        let c = self.canisters.get_mut(&canister).expect("canister exists");
        let new_state = out.result?;
        let Effects {
            response,
            calls,
            certified_data,
            global_timer,
            cycles_accepted,
            cycles_spent,
            accepted_message: _,
        } = out.effects;
        if let Some(state) = new_state {
            c.state = state;
            // The canister version grows with every successful replicated execution, not only
            // with code and settings changes (a DFINITY engineer confirms it on the forum,
            // "canister_info canister_version skips numbers when receiving update method calls").
            c.version += 1;
        }
        if let Some(data) = certified_data {
            c.certified_data = data;
        }
        if let Some(timer) = global_timer {
            c.global_timer = timer;
        }
        c.cycles = c.cycles + cycles_accepted - cycles_spent.min(c.cycles + cycles_accepted);
        let mut requests = Vec::new();
        let mut reply = None;
        if let Some(cc) = c.call_contexts.get_mut(&cc_id) {
            cc.cycles_available -= cycles_accepted.min(cc.cycles_available);
            for call in calls {
                let cb_id = c.next_callback;
                c.next_callback += 1;
                cc.outstanding += 1;
                let deadline = call
                    .timeout_seconds
                    .map(|s| now + u64::from(s) * 1_000_000_000);
                c.callbacks.insert(
                    cb_id,
                    Callback {
                        call_context: cc_id,
                        callee: call.callee,
                        method: call.method.clone(),
                        reply: call.reply,
                        reject: call.reject,
                        cleanup: call.cleanup,
                        deadline,
                        timed_out: false,
                    },
                );
                requests.push(Request {
                    id: 0,
                    sender: canister,
                    receiver: call.callee,
                    method: call.method,
                    arg: call.arg,
                    cycles: call.cycles,
                    origin: Origin::Canister {
                        caller: canister,
                        callback: cb_id,
                    },
                    deadline: deadline.unwrap_or(0),
                });
            }
            if let Some(payload) = response {
                cc.responded = true;
                let refund = std::mem::take(&mut cc.cycles_available);
                reply = Some((cc.origin.clone(), payload, refund));
            }
        }
        for mut req in requests {
            req.id = self.next_id();
            self.scheduler.push(Message::Request(req));
        }
        if let Some((origin, payload, refund)) = reply {
            let result = payload_to_result(payload).map_err(|(_, m)| RejectResponse::canister(m));
            self.respond(canister, origin, result, refund);
        }
        Ok(())
    }

    /// Closes a call context that has nothing left to wait for, answering it if nobody did.
    pub(crate) fn close_if_done(
        &mut self,
        canister: Principal,
        cc_id: u64,
        trap: Option<ExecError>,
    ) {
        let Some(c) = self.canisters.get_mut(&canister) else {
            return;
        };
        let Some(cc) = c.call_contexts.get(&cc_id) else {
            return;
        };
        if cc.outstanding > 0 {
            return;
        }
        let cc = c.call_contexts.remove(&cc_id).expect("checked");
        if !cc.responded {
            let reject = match trap {
                Some(e) => e.into_reject(canister),
                None => did_not_reply(canister),
            };
            self.respond(canister, cc.origin, Err(reject), cc.cycles_available);
        }
        self.check_stopped(canister);
    }

    /// Completes a pending stop once the canister has no open call contexts.
    pub(crate) fn check_stopped(&mut self, canister: Principal) {
        let Some(c) = self.canisters.get_mut(&canister) else {
            return;
        };
        if c.status != Status::Stopping || !c.call_contexts.is_empty() {
            return;
        }
        c.status = Status::Stopped;
        let waiting = std::mem::take(&mut c.pending_stops);
        for origin in waiting {
            self.respond(MANAGEMENT_CANISTER, origin, Ok(replies::empty()), 0);
        }
    }

    /// Removes code and memories; open call contexts are rejected and callbacks dropped.
    /// Snapshots and the chunk store stay (an explicit uninstall keeps snapshots, IC-FACTS §2).
    pub(crate) fn uninstall(&mut self, id: Principal, sender: Sender) {
        let c = self.canisters.get_mut(&id).expect("exists");
        c.module = None;
        c.state = ExecState::default();
        c.certified_data.clear();
        c.global_timer = 0;
        c.version += 1;
        c.callbacks.clear();
        let contexts = std::mem::take(&mut c.call_contexts);
        for cc in contexts.into_values() {
            if !cc.responded {
                let reject = RejectResponse::system(
                    ErrorCode::CanisterRejectedMessage,
                    "Canister has been uninstalled.",
                );
                self.respond(id, cc.origin, Err(reject), cc.cycles_available);
            }
        }
        let now = self.time;
        if let Some(c) = self.canisters.get_mut(&id) {
            c.record_change(now, sender, mt::ChangeDetails::CodeUninstall);
        }
        self.check_stopped(id);
    }

    /// Rejects bounded-wait requests still queued past their deadline and delivers SYS_UNKNOWN
    /// to callbacks whose deadline passed.
    fn expire_deadlines(&mut self) {
        let now = self.time;
        for req in self.scheduler.take_expired(now) {
            let reject =
                RejectResponse::system(ErrorCode::DeadlineExpired, "Call deadline has expired.");
            self.respond(req.receiver, req.origin, Err(reject), req.cycles);
        }
        let mut expired = Vec::new();
        for c in self.canisters.values_mut() {
            for (id, cb) in c.callbacks.iter_mut() {
                if !cb.timed_out && cb.deadline.is_some_and(|d| d <= now) {
                    cb.timed_out = true;
                    expired.push((c.id, *id, cb.callee));
                }
            }
        }
        for (caller, callback, callee) in expired {
            let reject =
                RejectResponse::system(ErrorCode::DeadlineExpired, "Call deadline has expired.");
            self.respond(
                callee,
                Origin::Canister { caller, callback },
                Err(reject),
                0,
            );
        }
    }

    /// Runs due global timers and heartbeats of running canisters, in canister id order.
    fn run_system_tasks(&mut self) {
        let ids: Vec<Principal> = self.canisters.keys().copied().collect();
        for id in ids {
            let c = &self.canisters[&id];
            let Some(module) = c.module.clone() else {
                continue;
            };
            if c.status != Status::Running {
                continue;
            }
            let timer_due = c.global_timer != 0 && c.global_timer <= self.time;
            if timer_due && module.exports("canister_global_timer") {
                // The timer is deactivated before the handler runs; a trap does not re-arm it.
                self.canisters.get_mut(&id).expect("exists").global_timer = 0;
                self.run_system_task(id, &module, "canister_global_timer");
            }
            if module.exports("canister_heartbeat") {
                self.run_system_task(id, &module, "canister_heartbeat");
            }
        }
    }

    fn run_system_task(
        &mut self,
        id: Principal,
        module: &crate::execution::CompiledModule,
        export: &str,
    ) {
        let c = self.canisters.get_mut(&id).expect("exists");
        let cc_id = c.next_call_context;
        c.next_call_context += 1;
        c.call_contexts.insert(
            cc_id,
            CallContext {
                origin: Origin::System,
                caller: id,
                responded: false,
                outstanding: 0,
                instructions: 0,
                deadline: 0,
                cycles_available: 0,
            },
        );
        let c = &self.canisters[&id];
        let env = self.env(c, ApiType::SystemTask, id, Vec::new());
        let out = self.runtime.execute(
            module,
            &c.state,
            EntryPoint::Export(export.into()),
            env,
            true,
            Some(&c.live_heap),
        );
        let trap = self.commit(id, cc_id, out).err();
        self.close_if_done(id, cc_id, trap);
    }
}

/// The subnet as the management canister sees it.
impl Subnet for LocalNet {
    fn canisters(&self) -> &CanisterTable {
        &self.canisters
    }

    fn canisters_mut(&mut self) -> &mut CanisterTable {
        &mut self.canisters
    }

    fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    fn runtime_mut(&mut self) -> &mut Runtime {
        &mut self.runtime
    }

    fn now(&self) -> u64 {
        self.time
    }

    fn install_env(
        &self,
        c: &Canister,
        api_type: ApiType,
        caller: Principal,
        arg: Vec<u8>,
    ) -> MessageEnv {
        let mut env = self.env(c, api_type, caller, arg);
        env.instruction_limit = self.limits.install_instructions;
        env
    }

    fn respond(
        &mut self,
        responder: Principal,
        origin: Origin,
        result: Result<Vec<u8>, RejectResponse>,
        refund: u128,
    ) {
        LocalNet::respond(self, responder, origin, result, refund)
    }

    fn check_stopped(&mut self, canister: Principal) {
        LocalNet::check_stopped(self, canister)
    }

    fn uninstall(&mut self, id: Principal, sender: Sender) {
        LocalNet::uninstall(self, id, sender)
    }

    fn random_u64(&mut self) -> u64 {
        // splitmix64 over a seed: deterministic per run, distinct per call.
        self.rand_state = self.rand_state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rand_state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The canister a management call is about (`canister_id`, or `target_canister` of
/// `install_chunked_code`), if its argument names one: it pays for an ingress message to
/// `aaaaa-aa` (IC-FACTS §2: the ingress bytes of a snapshot upload are paid by the target).
fn target_canister(arg: &[u8]) -> Option<Principal> {
    #[derive(candid::CandidType, serde::Deserialize)]
    struct Target {
        canister_id: Principal,
    }
    #[derive(candid::CandidType, serde::Deserialize)]
    struct Chunked {
        target_canister: Principal,
    }
    candid::decode_one::<Target>(arg)
        .map(|t| t.canister_id)
        .or_else(|_| candid::decode_one::<Chunked>(arg).map(|t| t.target_canister))
        .ok()
}

fn empty(id: Principal) -> RejectResponse {
    RejectResponse::system(
        ErrorCode::CanisterWasmModuleNotFound,
        format!(
            "Error from Canister {id}: Attempted to execute a message, but the canister contains no Wasm module."
        ),
    )
}

fn did_not_reply(id: Principal) -> RejectResponse {
    RejectResponse::system(
        ErrorCode::CanisterDidNotReply,
        format!("Error from Canister {id}: Canister did not produce a response"),
    )
}

fn check_running(c: &Canister) -> Result<(), RejectResponse> {
    match c.status {
        Status::Running => Ok(()),
        Status::Stopping => Err(RejectResponse::system(
            ErrorCode::CanisterStopping,
            format!("Canister {} is stopping", c.id),
        )),
        Status::Stopped => Err(RejectResponse::system(
            ErrorCode::CanisterStopped,
            format!("Canister {} is stopped", c.id),
        )),
    }
}
