//! The ic0 system API: the host functions canister wasm imports, the per-message state they
//! read and write ([`Host`]), and the rule of which function may run in which context.
//!
//! Each function first checks the message's [`ApiType`] against the contexts the interface
//! spec's "Overview of imports" table allows (I G U RQ NRQ CQ Ry Rt C F T, `*` = all but start)
//! and traps with a contract violation (IC0504) elsewhere, as the replica's
//! `rs/embedders/src/wasmtime_embedder/system_api.rs` does. Everything a message changes besides
//! heap/globals/stable memory is recorded in [`Effects`] and applied by the caller only if the
//! message did not trap.

use crate::paged::PagedMemory;
use crate::types::ErrorCode;
use candid::Principal;
use std::fmt;
use wasmtime::{Caller, Linker, Memory, Trap};

/// The context a message runs in (the spec's import-table columns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiType {
    /// `(start)` function (s).
    Start,
    /// `canister_init` and `canister_post_upgrade` (I).
    Init,
    /// `canister_pre_upgrade` (G).
    PreUpgrade,
    /// `canister_update` (U).
    Update,
    /// A query executed in replicated mode, e.g. called by another canister (RQ).
    ReplicatedQuery,
    /// A query executed by a query call (NRQ).
    NonReplicatedQuery,
    /// `canister_composite_query` (CQ).
    CompositeQuery,
    /// Reply callback (Ry).
    ReplyCallback,
    /// Reject callback (Rt).
    RejectCallback,
    /// Cleanup callback (C).
    Cleanup,
    /// `canister_inspect_message` (F).
    InspectMessage,
    /// `canister_heartbeat`, `canister_global_timer`, `canister_on_low_wasm_memory` (T).
    SystemTask,
}

impl ApiType {
    fn mode_name(self) -> &'static str {
        match self {
            ApiType::Start => "start",
            ApiType::Init => "init",
            ApiType::PreUpgrade => "pre upgrade",
            ApiType::Update => "update",
            ApiType::ReplicatedQuery => "replicated query",
            ApiType::NonReplicatedQuery => "non replicated query",
            ApiType::CompositeQuery => "composite query",
            ApiType::ReplyCallback => "reply callback",
            ApiType::RejectCallback => "reject callback",
            ApiType::Cleanup => "cleanup",
            ApiType::InspectMessage => "inspect message",
            ApiType::SystemTask => "system task",
        }
    }
}

use ApiType::*;
/// `*`: everything but `(start)`.
const ANY: &[ApiType] = &[
    Init,
    PreUpgrade,
    Update,
    ReplicatedQuery,
    NonReplicatedQuery,
    CompositeQuery,
    ReplyCallback,
    RejectCallback,
    Cleanup,
    InspectMessage,
    SystemTask,
];
/// `* s`: everything.
const ANY_S: &[ApiType] = &[
    Start,
    Init,
    PreUpgrade,
    Update,
    ReplicatedQuery,
    NonReplicatedQuery,
    CompositeQuery,
    ReplyCallback,
    RejectCallback,
    Cleanup,
    InspectMessage,
    SystemTask,
];
const ARG: &[ApiType] = &[
    Init,
    Update,
    ReplicatedQuery,
    NonReplicatedQuery,
    CompositeQuery,
    ReplyCallback,
    InspectMessage,
];
const REPLY: &[ApiType] = &[
    Update,
    ReplicatedQuery,
    NonReplicatedQuery,
    CompositeQuery,
    ReplyCallback,
    RejectCallback,
];
const CYCLES_IN: &[ApiType] = &[Update, ReplicatedQuery, ReplyCallback, RejectCallback];
const CALL: &[ApiType] = &[
    Update,
    CompositeQuery,
    ReplyCallback,
    RejectCallback,
    SystemTask,
];
const CALL_CYCLES: &[ApiType] = &[Update, ReplyCallback, RejectCallback, SystemTask];
const CERTIFY: &[ApiType] = &[
    Init,
    PreUpgrade,
    Update,
    ReplyCallback,
    RejectCallback,
    SystemTask,
];
const TIMER: &[ApiType] = &[
    Init,
    PreUpgrade,
    Update,
    ReplyCallback,
    RejectCallback,
    Cleanup,
    SystemTask,
];

/// ic0 functions localnet implements. Importing any other *known* ic0 function is allowed (the
/// call traps); importing an unknown one makes the module invalid, as on the IC.
pub const IMPLEMENTED: &[&str] = &[
    "msg_arg_data_size",
    "msg_arg_data_copy",
    "msg_caller_size",
    "msg_caller_copy",
    "msg_reject_code",
    "msg_reject_msg_size",
    "msg_reject_msg_copy",
    "msg_deadline",
    "msg_reply_data_append",
    "msg_reply",
    "msg_reject",
    "msg_cycles_available128",
    "msg_cycles_refunded128",
    "msg_cycles_accept128",
    "msg_method_name_size",
    "msg_method_name_copy",
    "accept_message",
    "canister_self_size",
    "canister_self_copy",
    "canister_cycle_balance128",
    "canister_liquid_cycle_balance128",
    "canister_status",
    "canister_version",
    "call_new",
    "call_on_cleanup",
    "call_data_append",
    "call_with_best_effort_response",
    "call_cycles_add128",
    "call_perform",
    "stable_size",
    "stable_grow",
    "stable_read",
    "stable_write",
    "stable64_size",
    "stable64_grow",
    "stable64_read",
    "stable64_write",
    "certified_data_set",
    "data_certificate_present",
    "data_certificate_size",
    "data_certificate_copy",
    "time",
    "global_timer_set",
    "performance_counter",
    "is_controller",
    "in_replicated_execution",
    "cost_call",
    "cost_create_canister",
    "debug_print",
    "trap",
];

/// ic0 functions the IC offers that localnet does not implement (calling one traps).
pub const KNOWN_UNIMPLEMENTED: &[&str] = &[
    "msg_caller_info_data_size",
    "msg_caller_info_data_copy",
    "msg_caller_info_signer_size",
    "msg_caller_info_signer_copy",
    "cycles_burn128",
    "subnet_self_size",
    "subnet_self_copy",
    "subnet_self_node_count",
    "root_key_size",
    "root_key_copy",
    "cost_http_request",
    "cost_http_request_v2",
    "cost_sign_with_ecdsa",
    "cost_sign_with_schnorr",
    "cost_vetkd_derive_key",
    "env_var_count",
    "env_var_name_size",
    "env_var_name_copy",
    "env_var_name_exists",
    "env_var_value_size",
    "env_var_value_copy",
    "mint_cycles128",
];

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

type C<'a> = Caller<'a, Host>;
type R<T> = wasmtime::Result<T>;

fn check(caller: &C<'_>, name: &str, allowed: &[ApiType]) -> R<()> {
    let api = caller.data().env.api_type;
    if allowed.contains(&api) {
        Ok(())
    } else {
        Err(violation(format!(
            "\"ic0_{name}\" cannot be executed in {} mode",
            api.mode_name()
        )))
    }
}

fn memory(caller: &mut C<'_>) -> R<Memory> {
    caller
        .get_export(crate::wasm::MEMORY_EXPORT)
        .and_then(|e| e.into_memory())
        .ok_or_else(|| trapped("the module has no memory"))
}

/// Charges `n` instructions (system calls cost per byte they move).
fn charge(caller: &mut C<'_>, n: u64) -> R<()> {
    let fuel = caller.get_fuel()?;
    if fuel < n {
        caller.set_fuel(0)?;
        return Err(wasmtime::Error::new(Trap::OutOfFuel));
    }
    caller.set_fuel(fuel - n)
}

fn read(caller: &mut C<'_>, src: u64, size: u64) -> R<Vec<u8>> {
    charge(caller, size)?;
    let mem = memory(caller)?;
    let data = mem.data(&*caller);
    let end = src.checked_add(size).filter(|&e| e <= data.len() as u64);
    match end {
        Some(end) => Ok(data[src as usize..end as usize].to_vec()),
        None => Err(trapped("heap out of bounds")),
    }
}

fn write(caller: &mut C<'_>, dst: u64, bytes: &[u8]) -> R<()> {
    charge(caller, bytes.len() as u64)?;
    let mem = memory(caller)?;
    let data = mem.data_mut(&mut *caller);
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

/// `*_copy(dst, offset, size)` of `source`.
fn copy_out(
    caller: &mut C<'_>,
    name: &str,
    dst: u32,
    offset: u32,
    size: u32,
    source: &[u8],
) -> R<()> {
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
    let slice = source[offset..offset + size].to_vec();
    write(caller, dst as u64, &slice)
}

fn write_u128(caller: &mut C<'_>, dst: u32, value: u128) -> R<()> {
    write(caller, dst as u64, &value.to_le_bytes())
}

fn principal(bytes: &[u8], what: &str) -> R<Principal> {
    Principal::try_from_slice(bytes)
        .map_err(|e| violation(format!("{what}: invalid principal: {e}")))
}

fn stable_read(caller: &mut C<'_>, dst: u64, offset: u64, size: u64) -> R<()> {
    if !caller.data().stable.contains(offset, size) {
        return Err(trapped("stable memory out of bounds"));
    }
    let bytes = caller.data().stable.slice(offset, size);
    write(caller, dst, &bytes)
}

fn stable_write(caller: &mut C<'_>, offset: u64, src: u64, size: u64) -> R<()> {
    if !caller.data().stable.contains(offset, size) {
        return Err(trapped("stable memory out of bounds"));
    }
    let bytes = read(caller, src, size)?;
    caller.data_mut().stable.write(offset, &bytes);
    Ok(())
}

/// Grows stable memory; returns the old size in pages or `u64::MAX` when refused.
fn stable_grow(caller: &mut C<'_>, pages: u64, max_bytes: u64) -> u64 {
    let old = caller.data().stable.pages();
    match old.checked_add(pages).and_then(|p| p.checked_mul(PAGE)) {
        Some(b) if b <= max_bytes => {
            caller.data_mut().stable.grow(pages);
            old
        }
        _ => u64::MAX,
    }
}

fn reply_append(caller: &mut C<'_>, bytes: Vec<u8>) -> R<()> {
    if caller.data().replied {
        return Err(violation("msg.reply: the call is already replied".into()));
    }
    let (len, max) = (
        caller.data().reply_buf.len() as u64 + bytes.len() as u64,
        caller.data().env.max_reply_bytes,
    );
    if len > max {
        // The replica's text (system_api.rs, `ic0_msg_reply_data_append`) as remembered; the
        // code (IC0504, contract violation) is certain, the wording is an inference.
        return Err(violation(format!(
            "ic0.msg_reply_data_append: application payload size ({len}) cannot be larger than {max}."
        )));
    }
    caller.data_mut().reply_buf.extend(bytes);
    Ok(())
}

fn cost_call(method_name_size: u64, payload_size: u64) -> u128 {
    XNET_CALL_FEE
        + XNET_BYTE_FEE * (u128::from(method_name_size) + u128::from(payload_size))
        + RESPONSE_RESERVATION
}

/// Registers every implemented ic0 function.
pub fn link(linker: &mut Linker<Host>) -> wasmtime::Result<()> {
    let m = "ic0";
    linker.func_wrap(m, "msg_arg_data_size", |c: C<'_>| -> R<i32> {
        check(&c, "msg_arg_data_size", ARG)?;
        Ok(c.data().env.arg.len() as i32)
    })?;
    linker.func_wrap(
        m,
        "msg_arg_data_copy",
        |mut c: C<'_>, dst: i32, off: i32, size: i32| -> R<()> {
            check(&c, "msg_arg_data_copy", ARG)?;
            let arg = std::mem::take(&mut c.data_mut().env.arg);
            let r = copy_out(
                &mut c,
                "msg_arg_data_copy",
                dst as u32,
                off as u32,
                size as u32,
                &arg,
            );
            c.data_mut().env.arg = arg;
            r
        },
    )?;
    linker.func_wrap(m, "msg_caller_size", |c: C<'_>| -> R<i32> {
        check(&c, "msg_caller_size", ANY)?;
        Ok(c.data().env.caller.as_slice().len() as i32)
    })?;
    linker.func_wrap(
        m,
        "msg_caller_copy",
        |mut c: C<'_>, dst: i32, off: i32, size: i32| -> R<()> {
            check(&c, "msg_caller_copy", ANY)?;
            let bytes = c.data().env.caller.as_slice().to_vec();
            copy_out(
                &mut c,
                "msg_caller_copy",
                dst as u32,
                off as u32,
                size as u32,
                &bytes,
            )
        },
    )?;
    linker.func_wrap(m, "msg_reject_code", |c: C<'_>| -> R<i32> {
        check(&c, "msg_reject_code", &[ReplyCallback, RejectCallback])?;
        Ok(c.data().env.reject.as_ref().map_or(0, |(code, _)| *code) as i32)
    })?;
    linker.func_wrap(m, "msg_reject_msg_size", |c: C<'_>| -> R<i32> {
        check(&c, "msg_reject_msg_size", &[RejectCallback])?;
        Ok(c.data().env.reject.as_ref().map_or(0, |(_, m)| m.len()) as i32)
    })?;
    linker.func_wrap(
        m,
        "msg_reject_msg_copy",
        |mut c: C<'_>, dst: i32, off: i32, size: i32| -> R<()> {
            check(&c, "msg_reject_msg_copy", &[RejectCallback])?;
            let bytes = c
                .data()
                .env
                .reject
                .as_ref()
                .map(|(_, m)| m.clone().into_bytes())
                .unwrap_or_default();
            copy_out(
                &mut c,
                "msg_reject_msg_copy",
                dst as u32,
                off as u32,
                size as u32,
                &bytes,
            )
        },
    )?;
    linker.func_wrap(m, "msg_deadline", |c: C<'_>| -> R<i64> {
        check(&c, "msg_deadline", REPLY)?;
        Ok(c.data().env.deadline as i64)
    })?;
    linker.func_wrap(
        m,
        "msg_reply_data_append",
        |mut c: C<'_>, src: i32, size: i32| -> R<()> {
            check(&c, "msg_reply_data_append", REPLY)?;
            let bytes = read(&mut c, src as u32 as u64, size as u32 as u64)?;
            reply_append(&mut c, bytes)
        },
    )?;
    linker.func_wrap(m, "msg_reply", |mut c: C<'_>| -> R<()> {
        check(&c, "msg_reply", REPLY)?;
        let host = c.data_mut();
        if host.replied {
            return Err(violation("msg.reply: the call is already replied".into()));
        }
        host.replied = true;
        let data = std::mem::take(&mut host.reply_buf);
        host.effects.response = Some(Payload::Reply(data));
        Ok(())
    })?;
    linker.func_wrap(
        m,
        "msg_reject",
        |mut c: C<'_>, src: i32, size: i32| -> R<()> {
            check(&c, "msg_reject", REPLY)?;
            let bytes = read(&mut c, src as u32 as u64, size as u32 as u64)?;
            let host = c.data_mut();
            if host.replied {
                return Err(violation("msg.reject: the call is already replied".into()));
            }
            host.replied = true;
            host.effects.response = Some(Payload::Reject(
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
            Ok(())
        },
    )?;
    linker.func_wrap(
        m,
        "msg_cycles_available128",
        |mut c: C<'_>, dst: i32| -> R<()> {
            check(&c, "msg_cycles_available128", CYCLES_IN)?;
            let v = c.data().cycles_available;
            write_u128(&mut c, dst as u32, v)
        },
    )?;
    linker.func_wrap(
        m,
        "msg_cycles_refunded128",
        |mut c: C<'_>, dst: i32| -> R<()> {
            check(
                &c,
                "msg_cycles_refunded128",
                &[ReplyCallback, RejectCallback],
            )?;
            let v = c.data().env.cycles_refunded;
            write_u128(&mut c, dst as u32, v)
        },
    )?;
    linker.func_wrap(
        m,
        "msg_cycles_accept128",
        |mut c: C<'_>, high: i64, low: i64, dst: i32| -> R<()> {
            check(&c, "msg_cycles_accept128", CYCLES_IN)?;
            let max = (u128::from(high as u64) << 64) | u128::from(low as u64);
            let host = c.data_mut();
            let take = max.min(host.cycles_available);
            host.cycles_available -= take;
            host.effects.cycles_accepted += take;
            host.balance += take;
            write_u128(&mut c, dst as u32, take)
        },
    )?;
    linker.func_wrap(m, "msg_method_name_size", |c: C<'_>| -> R<i32> {
        check(&c, "msg_method_name_size", &[InspectMessage])?;
        Ok(c.data().env.method_name.len() as i32)
    })?;
    linker.func_wrap(
        m,
        "msg_method_name_copy",
        |mut c: C<'_>, dst: i32, off: i32, size: i32| -> R<()> {
            check(&c, "msg_method_name_copy", &[InspectMessage])?;
            let bytes = c.data().env.method_name.clone().into_bytes();
            copy_out(
                &mut c,
                "msg_method_name_copy",
                dst as u32,
                off as u32,
                size as u32,
                &bytes,
            )
        },
    )?;
    linker.func_wrap(m, "accept_message", |mut c: C<'_>| -> R<()> {
        check(&c, "accept_message", &[InspectMessage])?;
        let host = c.data_mut();
        if host.effects.accepted_message {
            return Err(violation(
                "ic0.accept_message: the message is already accepted".into(),
            ));
        }
        host.effects.accepted_message = true;
        Ok(())
    })?;
    linker.func_wrap(m, "canister_self_size", |c: C<'_>| -> R<i32> {
        check(&c, "canister_self_size", ANY)?;
        Ok(c.data().env.canister_id.as_slice().len() as i32)
    })?;
    linker.func_wrap(
        m,
        "canister_self_copy",
        |mut c: C<'_>, dst: i32, off: i32, size: i32| -> R<()> {
            check(&c, "canister_self_copy", ANY)?;
            let bytes = c.data().env.canister_id.as_slice().to_vec();
            copy_out(
                &mut c,
                "canister_self_copy",
                dst as u32,
                off as u32,
                size as u32,
                &bytes,
            )
        },
    )?;
    linker.func_wrap(
        m,
        "canister_cycle_balance128",
        |mut c: C<'_>, dst: i32| -> R<()> {
            check(&c, "canister_cycle_balance128", ANY)?;
            let v = c.data().balance;
            write_u128(&mut c, dst as u32, v)
        },
    )?;
    linker.func_wrap(
        m,
        "canister_liquid_cycle_balance128",
        |mut c: C<'_>, dst: i32| -> R<()> {
            check(&c, "canister_liquid_cycle_balance128", ANY)?;
            // No freezing threshold or reservations are modelled: all of the balance is liquid.
            let v = c.data().balance;
            write_u128(&mut c, dst as u32, v)
        },
    )?;
    linker.func_wrap(m, "canister_status", |c: C<'_>| -> R<i32> {
        check(&c, "canister_status", ANY)?;
        Ok(c.data().env.status as i32)
    })?;
    linker.func_wrap(m, "canister_version", |c: C<'_>| -> R<i64> {
        check(&c, "canister_version", ANY)?;
        Ok(c.data().env.canister_version as i64)
    })?;
    linker.func_wrap(
        m,
        "call_new",
        |mut c: C<'_>,
         callee_src: i32,
         callee_size: i32,
         name_src: i32,
         name_size: i32,
         reply_fun: i32,
         reply_env: i32,
         reject_fun: i32,
         reject_env: i32|
         -> R<()> {
            check(&c, "call_new", CALL)?;
            let callee = read(&mut c, callee_src as u32 as u64, callee_size as u32 as u64)?;
            let callee = principal(&callee, "ic0.call_new")?;
            let name = read(&mut c, name_src as u32 as u64, name_size as u32 as u64)?;
            let method = String::from_utf8(name)
                .map_err(|_| violation("ic0.call_new: method name is not valid UTF-8".into()))?;
            // A call under construction that was never performed is discarded.
            c.data_mut().pending = Some(OutgoingCall {
                callee,
                method,
                arg: Vec::new(),
                cycles: 0,
                reply: (reply_fun as u32, reply_env as u32),
                reject: (reject_fun as u32, reject_env as u32),
                cleanup: None,
                timeout_seconds: None,
            });
            Ok(())
        },
    )?;
    linker.func_wrap(
        m,
        "call_on_cleanup",
        |mut c: C<'_>, fun: i32, env: i32| -> R<()> {
            check(&c, "call_on_cleanup", CALL)?;
            let pending = c.data_mut().pending.as_mut().ok_or_else(|| {
                violation("ic0.call_on_cleanup: no call is under construction".into())
            })?;
            if pending.cleanup.is_some() {
                return Err(violation(
                    "ic0.call_on_cleanup: cleanup is already set".into(),
                ));
            }
            pending.cleanup = Some((fun as u32, env as u32));
            Ok(())
        },
    )?;
    linker.func_wrap(
        m,
        "call_data_append",
        |mut c: C<'_>, src: i32, size: i32| -> R<()> {
            check(&c, "call_data_append", CALL)?;
            let bytes = read(&mut c, src as u32 as u64, size as u32 as u64)?;
            let max = c.data().env.max_call_bytes;
            let pending = c.data_mut().pending.as_mut().ok_or_else(|| {
                violation("ic0.call_data_append: no call is under construction".into())
            })?;
            let size = (pending.method.len() + pending.arg.len() + bytes.len()) as u64;
            if size > max {
                // The replica checks method name + payload against the limit when the data is
                // appended (`request_in_prep.rs`); code certain (IC0504), wording inferred.
                return Err(violation(format!(
                    "ic0.call_data_append: Request to {}:{} has a payload size of {size}, \
                     which exceeds the permitted limit of {max}",
                    pending.callee, pending.method
                )));
            }
            pending.arg.extend(bytes);
            Ok(())
        },
    )?;
    linker.func_wrap(
        m,
        "call_with_best_effort_response",
        |mut c: C<'_>, timeout: i32| -> R<()> {
            check(&c, "call_with_best_effort_response", CALL)?;
            let pending = c.data_mut().pending.as_mut().ok_or_else(|| {
                violation(
                    "ic0.call_with_best_effort_response: no call is under construction".into(),
                )
            })?;
            if pending.timeout_seconds.is_some() {
                return Err(violation(
                    "ic0.call_with_best_effort_response: timeout is already set".into(),
                ));
            }
            // The spec clamps the timeout to [1, MAX_CALL_TIMEOUT = 300] seconds.
            pending.timeout_seconds = Some((timeout as u32).clamp(1, 300));
            Ok(())
        },
    )?;
    linker.func_wrap(m, "call_cycles_add128", |mut c: C<'_>, high: i64, low: i64| -> R<()> {
        check(&c, "call_cycles_add128", CALL_CYCLES)?;
        let amount = (u128::from(high as u64) << 64) | u128::from(low as u64);
        let host = c.data_mut();
        if host.pending.is_none() {
            return Err(violation("ic0.call_cycles_add128: no call is under construction".into()));
        }
        if amount > host.balance {
            return Err(violation(format!(
                "ic0.call_cycles_add128: canister cannot transfer {amount} cycles, its balance is {}",
                host.balance
            )));
        }
        host.balance -= amount;
        host.effects.cycles_spent += amount;
        host.pending.as_mut().expect("checked").cycles += amount;
        Ok(())
    })?;
    linker.func_wrap(m, "call_perform", |mut c: C<'_>| -> R<i32> {
        check(&c, "call_perform", CALL)?;
        let host = c.data_mut();
        let call = host
            .pending
            .take()
            .ok_or_else(|| violation("ic0.call_perform: no call is under construction".into()))?;
        let fee = XNET_CALL_FEE + XNET_BYTE_FEE * (call.method.len() + call.arg.len()) as u128;
        if host.balance < fee + RESPONSE_RESERVATION {
            // Not enough cycles: the call is not made and its attached cycles return.
            host.balance += call.cycles;
            host.effects.cycles_spent -= call.cycles;
            return Ok(2); // SYS_TRANSIENT
        }
        host.balance -= fee;
        host.effects.cycles_spent += fee;
        host.effects.calls.push(call);
        Ok(0)
    })?;
    linker.func_wrap(m, "stable_size", |c: C<'_>| -> R<i32> {
        check(&c, "stable_size", ANY_S)?;
        let pages = c.data().stable.pages();
        if pages > u64::from(u16::MAX) + 1 {
            return Err(trapped(
                "32 bit stable memory api used on a memory larger than 4GB",
            ));
        }
        Ok(pages as i32)
    })?;
    linker.func_wrap(m, "stable_grow", |mut c: C<'_>, pages: i32| -> R<i32> {
        check(&c, "stable_grow", ANY_S)?;
        let r = stable_grow(&mut c, pages as u32 as u64, 4 * 1024 * 1024 * 1024);
        Ok(if r == u64::MAX { -1 } else { r as i32 })
    })?;
    linker.func_wrap(
        m,
        "stable_read",
        |mut c: C<'_>, dst: i32, off: i32, size: i32| -> R<()> {
            check(&c, "stable_read", ANY_S)?;
            stable_read(
                &mut c,
                dst as u32 as u64,
                off as u32 as u64,
                size as u32 as u64,
            )
        },
    )?;
    linker.func_wrap(
        m,
        "stable_write",
        |mut c: C<'_>, off: i32, src: i32, size: i32| -> R<()> {
            check(&c, "stable_write", ANY_S)?;
            stable_write(
                &mut c,
                off as u32 as u64,
                src as u32 as u64,
                size as u32 as u64,
            )
        },
    )?;
    linker.func_wrap(m, "stable64_size", |c: C<'_>| -> R<i64> {
        check(&c, "stable64_size", ANY_S)?;
        Ok(c.data().stable.pages() as i64)
    })?;
    linker.func_wrap(m, "stable64_grow", |mut c: C<'_>, pages: i64| -> R<i64> {
        check(&c, "stable64_grow", ANY_S)?;
        Ok(stable_grow(&mut c, pages as u64, MAX_STABLE_BYTES) as i64)
    })?;
    linker.func_wrap(
        m,
        "stable64_read",
        |mut c: C<'_>, dst: i64, off: i64, size: i64| -> R<()> {
            check(&c, "stable64_read", ANY_S)?;
            stable_read(&mut c, dst as u64, off as u64, size as u64)
        },
    )?;
    linker.func_wrap(
        m,
        "stable64_write",
        |mut c: C<'_>, off: i64, src: i64, size: i64| -> R<()> {
            check(&c, "stable64_write", ANY_S)?;
            stable_write(&mut c, off as u64, src as u64, size as u64)
        },
    )?;
    linker.func_wrap(m, "certified_data_set", |mut c: C<'_>, src: i32, size: i32| -> R<()> {
        check(&c, "certified_data_set", CERTIFY)?;
        if size as u32 > 32 {
            return Err(violation("ic0_certified_data_set failed because the passed data must be no larger than 32 bytes".into()));
        }
        let bytes = read(&mut c, src as u32 as u64, size as u32 as u64)?;
        c.data_mut().effects.certified_data = Some(bytes);
        Ok(())
    })?;
    linker.func_wrap(m, "data_certificate_present", |c: C<'_>| -> R<i32> {
        check(&c, "data_certificate_present", ANY)?;
        Ok(i32::from(c.data().env.data_certificate.is_some()))
    })?;
    linker.func_wrap(m, "data_certificate_size", |c: C<'_>| -> R<i32> {
        check(
            &c,
            "data_certificate_size",
            &[NonReplicatedQuery, CompositeQuery],
        )?;
        match &c.data().env.data_certificate {
            Some(cert) => Ok(cert.len() as i32),
            None => Err(violation(
                "ic0_data_certificate_size: no certificate is present".into(),
            )),
        }
    })?;
    linker.func_wrap(
        m,
        "data_certificate_copy",
        |mut c: C<'_>, dst: i32, offset: i32, size: i32| -> R<()> {
            check(
                &c,
                "data_certificate_copy",
                &[NonReplicatedQuery, CompositeQuery],
            )?;
            let Some(cert) = c.data().env.data_certificate.clone() else {
                return Err(violation(
                    "ic0_data_certificate_copy: no certificate is present".into(),
                ));
            };
            copy_out(
                &mut c,
                "data_certificate_copy",
                dst as u32,
                offset as u32,
                size as u32,
                &cert,
            )
        },
    )?;
    linker.func_wrap(m, "time", |c: C<'_>| -> R<i64> {
        check(&c, "time", ANY)?;
        Ok(c.data().env.time as i64)
    })?;
    linker.func_wrap(m, "global_timer_set", |mut c: C<'_>, ts: i64| -> R<i64> {
        check(&c, "global_timer_set", TIMER)?;
        let host = c.data_mut();
        let old = host.effects.global_timer.unwrap_or(host.env.global_timer);
        host.effects.global_timer = Some(ts as u64);
        Ok(old as i64)
    })?;
    linker.func_wrap(m, "performance_counter", |c: C<'_>, kind: i32| -> R<i64> {
        check(&c, "performance_counter", ANY_S)?;
        let used = c.data().env.instruction_limit.saturating_sub(c.get_fuel()?);
        match kind {
            0 => Ok(used as i64),
            1 => Ok((c.data().env.call_context_instructions + used) as i64),
            _ => Err(violation(format!(
                "ic0_performance_counter: unknown counter type {kind}"
            ))),
        }
    })?;
    linker.func_wrap(
        m,
        "is_controller",
        |mut c: C<'_>, src: i32, size: i32| -> R<i32> {
            check(&c, "is_controller", ANY_S)?;
            let bytes = read(&mut c, src as u32 as u64, size as u32 as u64)?;
            let p = principal(&bytes, "ic0.is_controller")?;
            Ok(c.data().env.controllers.contains(&p) as i32)
        },
    )?;
    linker.func_wrap(m, "in_replicated_execution", |c: C<'_>| -> R<i32> {
        check(&c, "in_replicated_execution", ANY_S)?;
        Ok((c.data().env.api_type != NonReplicatedQuery) as i32)
    })?;
    linker.func_wrap(
        m,
        "cost_call",
        |mut c: C<'_>, name_size: i64, payload_size: i64, dst: i32| -> R<()> {
            check(&c, "cost_call", ANY_S)?;
            write_u128(
                &mut c,
                dst as u32,
                cost_call(name_size as u64, payload_size as u64),
            )
        },
    )?;
    linker.func_wrap(
        m,
        "cost_create_canister",
        |mut c: C<'_>, dst: i32| -> R<()> {
            check(&c, "cost_create_canister", ANY_S)?;
            write_u128(&mut c, dst as u32, CREATE_CANISTER_FEE)
        },
    )?;
    linker.func_wrap(
        m,
        "debug_print",
        |mut c: C<'_>, src: i32, size: i32| -> R<()> {
            check(&c, "debug_print", ANY_S)?;
            let bytes = read(&mut c, src as u32 as u64, size as u32 as u64)?;
            c.data_mut()
                .logs
                .push(String::from_utf8_lossy(&bytes).into_owned());
            Ok(())
        },
    )?;
    linker.func_wrap(m, "trap", |mut c: C<'_>, src: i32, size: i32| -> R<()> {
        check(&c, "trap", ANY_S)?;
        let bytes = read(&mut c, src as u32 as u64, size as u32 as u64)?;
        Err(wasmtime::Error::new(HostTrap {
            code: ErrorCode::CanisterCalledTrap,
            message: format!(
                "Canister called `ic0.trap` with message: '{}'",
                String::from_utf8_lossy(&bytes)
            ),
        }))
    })?;
    Ok(())
}
