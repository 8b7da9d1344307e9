//! The ic0 system API: the host functions canister wasm imports, the per-message state they
//! read and write ([`Host`]), and the rule of which function may run in which context.
//!
//! [`linker`] names each ic0 function once — signature, contexts, and the [`SystemApi`] method
//! it delegates to — as the replica's `rs/embedders/src/wasmtime_embedder/system_api.rs`
//! delegates to its `SystemApiImpl`. A call from outside the contexts the interface spec's
//! "Overview of imports" table allows ([`context`]) traps with a contract violation (IC0504).
//! The methods live by concern: [`message`] (argument, caller, reply, reject), [`cycles`],
//! [`canister`] (identity, status, time, timer, certification, counters), [`calls`],
//! [`stable`] and [`debug`]. Everything a message changes besides heap/globals/stable memory is
//! recorded in [`Effects`] and applied by the caller only if the message did not trap.

mod calls;
mod canister;
pub mod context;
mod cycles;
mod debug;
pub mod linker;
mod message;
mod stable;

pub use context::ApiType;
pub use linker::{IMPLEMENTED, KNOWN_UNIMPLEMENTED, link};

use crate::paged::PagedMemory;
use crate::types::ErrorCode;
use candid::Principal;
use context::Contexts;
use std::fmt;
use wasmtime::{Caller, Memory, Trap};

/// A trap raised by a system call (carried through wasmtime as the error value).
#[derive(Debug, Clone)]
pub struct HostTrap {
    /// IC error code.
    pub code: ErrorCode,
    /// Message.
    pub message: String,
}

impl fmt::Display for HostTrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}
impl std::error::Error for HostTrap {}

fn violation(message: String) -> wasmtime::Error {
    wasmtime::Error::new(HostTrap {
        code: ErrorCode::CanisterContractViolation,
        message: format!("Canister violated contract: {message}"),
    })
}

fn trapped(message: &str) -> wasmtime::Error {
    wasmtime::Error::new(HostTrap {
        code: ErrorCode::CanisterTrapped,
        message: format!("Canister trapped: {message}"),
    })
}

/// A response produced by the message (`msg_reply` or `msg_reject`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// Reply bytes.
    Reply(Vec<u8>),
    /// Reject message (reject code CANISTER_REJECT).
    Reject(String),
}

/// A call made with `call_new` … `call_perform`.
#[derive(Clone, Debug)]
pub struct OutgoingCall {
    /// Callee.
    pub callee: Principal,
    /// Method name.
    pub method: String,
    /// Argument bytes.
    pub arg: Vec<u8>,
    /// Cycles attached.
    pub cycles: u128,
    /// Reply callback (table index, env); `u32::MAX` marks a one-way call.
    pub reply: (u32, u32),
    /// Reject callback.
    pub reject: (u32, u32),
    /// Cleanup callback.
    pub cleanup: Option<(u32, u32)>,
    /// Bounded-wait timeout in seconds (`call_with_best_effort_response`).
    pub timeout_seconds: Option<u32>,
}

/// What a message changed besides its wasm state.
#[derive(Clone, Debug, Default)]
pub struct Effects {
    /// The response, if the message produced one.
    pub response: Option<Payload>,
    /// Calls made (in order).
    pub calls: Vec<OutgoingCall>,
    /// New certified data, if set.
    pub certified_data: Option<Vec<u8>>,
    /// New global timer value, if set (0 = deactivate).
    pub global_timer: Option<u64>,
    /// Cycles accepted from the incoming message.
    pub cycles_accepted: u128,
    /// Cycles that left the balance (attached to calls, plus call fees).
    pub cycles_spent: u128,
    /// `accept_message` was called (inspect_message).
    pub accepted_message: bool,
}

/// Everything a message may read.
#[derive(Clone, Debug)]
pub struct MessageEnv {
    /// The certificate a non-replicated query sees (`ic0.data_certificate_*`), if any.
    pub data_certificate: Option<Vec<u8>>,
    /// Context.
    pub api_type: ApiType,
    /// The canister running.
    pub canister_id: Principal,
    /// The caller of the call context.
    pub caller: Principal,
    /// Argument bytes (the reply for a reply callback).
    pub arg: Vec<u8>,
    /// Reject code (reply callback: 0) and message for callbacks.
    pub reject: Option<(u32, String)>,
    /// Method name (inspect_message).
    pub method_name: String,
    /// Current time in ns.
    pub time: u64,
    /// Controllers.
    pub controllers: Vec<Principal>,
    /// Cycle balance before the message.
    pub balance: u128,
    /// Cycles attached to the incoming message and not yet accepted.
    pub cycles_available: u128,
    /// Cycles refunded with a response.
    pub cycles_refunded: u128,
    /// `canister_version`.
    pub canister_version: u64,
    /// 1 running, 2 stopping, 3 stopped.
    pub status: u32,
    /// Certified data before the message.
    pub certified_data: Vec<u8>,
    /// Global timer before the message (0 = inactive).
    pub global_timer: u64,
    /// Deadline of a bounded-wait call (0 = guaranteed response).
    pub deadline: u64,
    /// Whether the call context has already been replied to.
    pub replied: bool,
    /// Instruction limit for this message.
    pub instruction_limit: u64,
    /// Instructions spent by earlier messages of the same call context.
    pub call_context_instructions: u64,
    /// Largest reply this message may produce.
    pub max_reply_bytes: u64,
    /// Largest request (method name + argument) this message may send.
    pub max_call_bytes: u64,
}

/// Per-message host state inside the wasmtime store.
pub struct Host {
    env: MessageEnv,
    stable: PagedMemory,
    effects: Effects,
    reply_buf: Vec<u8>,
    replied: bool,
    pending: Option<OutgoingCall>,
    cycles_available: u128,
    balance: u128,
    logs: Vec<String>,
}

impl Host {
    /// Host state for one message.
    pub fn new(env: MessageEnv, stable: PagedMemory) -> Self {
        Host {
            replied: env.replied,
            cycles_available: env.cycles_available,
            balance: env.balance,
            effects: Effects::default(),
            reply_buf: Vec::new(),
            pending: None,
            logs: Vec::new(),
            stable,
            env,
        }
    }

    /// Effects, debug prints and the stable memory after the message.
    pub fn finish(self) -> (Effects, Vec<String>, PagedMemory) {
        (self.effects, self.logs, self.stable)
    }
}

/// Stable memory limit (500 GiB, as on the IC; untouched pages cost no memory here).
pub const MAX_STABLE_BYTES: u64 = 500 * 1024 * 1024 * 1024;
const PAGE: u64 = 65536;
/// Fee of a call on a 13-node subnet (dfinity/ic `CyclesAccountManager`: xnet_call_fee).
pub const XNET_CALL_FEE: u128 = 260_000;
/// Per byte of a call (xnet_byte_transmission_fee).
pub const XNET_BYTE_FEE: u128 = 1_000;
/// Cycles reserved for the largest possible response (2 MB), part of `cost_call`.
pub const RESPONSE_RESERVATION: u128 = 2_000_000 * XNET_BYTE_FEE;
/// `cost_create_canister` on a 13-node subnet.
pub const CREATE_CANISTER_FEE: u128 = 500_000_000_000;

type R<T> = wasmtime::Result<T>;

/// The system-API object of one ic0 call: the wasmtime caller (for the message's [`Host`], its
/// heap and its fuel), entered only from a context the function allows. Its methods, one per
/// ic0 function, live in this module's files by concern.
pub(crate) struct SystemApi<'a, 'c> {
    caller: &'a mut Caller<'c, Host>,
}

impl<'a, 'c> SystemApi<'a, 'c> {
    /// The system API for ic0 function `name`, or a contract violation when the message's
    /// context is not among `allowed`.
    pub(crate) fn enter(
        caller: &'a mut Caller<'c, Host>,
        name: &str,
        allowed: Contexts,
    ) -> R<Self> {
        let api = caller.data().env.api_type;
        if allowed.contains(&api) {
            Ok(SystemApi { caller })
        } else {
            Err(violation(format!(
                "\"ic0_{name}\" cannot be executed in {} mode",
                api.mode_name()
            )))
        }
    }

    fn host(&self) -> &Host {
        self.caller.data()
    }

    fn host_mut(&mut self) -> &mut Host {
        self.caller.data_mut()
    }

    fn env(&self) -> &MessageEnv {
        &self.caller.data().env
    }

    fn memory(&mut self) -> R<Memory> {
        self.caller
            .get_export(crate::wasm::MEMORY_EXPORT)
            .and_then(|e| e.into_memory())
            .ok_or_else(|| trapped("the module has no memory"))
    }

    /// Charges `n` instructions (system calls cost per byte they move).
    fn charge(&mut self, n: u64) -> R<()> {
        let fuel = self.caller.get_fuel()?;
        if fuel < n {
            self.caller.set_fuel(0)?;
            return Err(wasmtime::Error::new(Trap::OutOfFuel));
        }
        self.caller.set_fuel(fuel - n)
    }

    /// Instructions the message has used so far.
    fn instructions_used(&self) -> R<u64> {
        Ok(self
            .env()
            .instruction_limit
            .saturating_sub(self.caller.get_fuel()?))
    }

    /// `size` bytes of the heap at `src`.
    fn read(&mut self, src: u64, size: u64) -> R<Vec<u8>> {
        self.charge(size)?;
        let mem = self.memory()?;
        let data = mem.data(&*self.caller);
        let end = src.checked_add(size).filter(|&e| e <= data.len() as u64);
        match end {
            Some(end) => Ok(data[src as usize..end as usize].to_vec()),
            None => Err(trapped("heap out of bounds")),
        }
    }

    /// Writes `bytes` into the heap at `dst`.
    fn write(&mut self, dst: u64, bytes: &[u8]) -> R<()> {
        self.charge(bytes.len() as u64)?;
        let mem = self.memory()?;
        let data = mem.data_mut(&mut *self.caller);
        let end = dst
            .checked_add(bytes.len() as u64)
            .filter(|&e| e <= data.len() as u64);
        match end {
            Some(end) => {
                data[dst as usize..end as usize].copy_from_slice(bytes);
                Ok(())
            }
            None => Err(trapped("heap out of bounds")),
        }
    }

    /// `*_copy(dst, offset, size)` of `source`; `name` is the function in the violation text.
    fn copy_out(&mut self, name: &str, dst: u32, offset: u32, size: u32, source: &[u8]) -> R<()> {
        let (offset, size) = (offset as usize, size as usize);
        if offset
            .checked_add(size)
            .is_none_or(|end| end > source.len())
        {
            return Err(violation(format!(
                "{name}: src={offset} + length={size} exceeds the slice size={}",
                source.len()
            )));
        }
        self.write(dst as u64, &source[offset..offset + size])
    }

    fn write_u128(&mut self, dst: u32, value: u128) -> R<()> {
        self.write(dst as u64, &value.to_le_bytes())
    }

    /// A principal the canister passed in at `src`.
    fn read_principal(&mut self, src: u32, size: u32, what: &str) -> R<Principal> {
        let bytes = self.read(src as u64, size as u64)?;
        Principal::try_from_slice(&bytes)
            .map_err(|e| violation(format!("{what}: invalid principal: {e}")))
    }
}
