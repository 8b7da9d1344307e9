//! The ic0 linker: one table row per implemented ic0 function — its name (also the name of the
//! [`SystemApi`] method it delegates to), its wasm signature and the contexts that may call it.
//! The `ic0!` macro turns the table into [`IMPLEMENTED`] and [`link`], so a function is named
//! once and its behaviour lives in the system-API files by concern, as the replica's
//! `rs/embedders/src/wasmtime_embedder/system_api.rs` delegates to `SystemApiImpl`.
//!
//! Signatures use `u32`/`u64` where the spec's values are unsigned: wasmtime passes them as
//! `i32`/`i64` with the same bits, so the import types are the wasm ones.

use super::context::*;
use super::{Host, SystemApi};
use wasmtime::{Caller, Linker};

/// Builds [`IMPLEMENTED`] and [`link`] from the table rows
/// `name(param: type, …) -> result [CONTEXTS];`.
macro_rules! ic0 {
    (@result) => { () };
    (@result $result:ty) => { $result };
    ($( $name:ident ( $($param:ident : $ty:ty),* ) $(-> $result:ty)? [$contexts:expr]; )*) => {
        /// ic0 functions localnet implements. Importing any other *known* ic0 function is allowed
        /// (the call traps); importing an unknown one makes the module invalid, as on the IC.
        pub const IMPLEMENTED: &[&str] = &[$(stringify!($name)),*];

        /// Registers every implemented ic0 function: each checks its contexts, then runs the
        /// [`SystemApi`] method of the same name.
        pub fn link(linker: &mut Linker<Host>) -> wasmtime::Result<()> {
            $(
                linker.func_wrap(
                    "ic0",
                    stringify!($name),
                    |mut caller: Caller<'_, Host>, $($param: $ty),*|
                        -> wasmtime::Result<ic0!(@result $($result)?)> {
                        SystemApi::enter(&mut caller, stringify!($name), $contexts)?
                            .$name($($param),*)
                    },
                )?;
            )*
            Ok(())
        }
    };
}

ic0! {
    // message: argument, caller, reject, reply (message.rs)
    msg_arg_data_size() -> u32 [ARG];
    msg_arg_data_copy(dst: u32, offset: u32, size: u32) [ARG];
    msg_caller_size() -> u32 [ANY];
    msg_caller_copy(dst: u32, offset: u32, size: u32) [ANY];
    msg_reject_code() -> u32 [CALLBACK];
    msg_reject_msg_size() -> u32 [REJECT_CALLBACK];
    msg_reject_msg_copy(dst: u32, offset: u32, size: u32) [REJECT_CALLBACK];
    msg_deadline() -> u64 [REPLY];
    msg_reply_data_append(src: u32, size: u32) [REPLY];
    msg_reply() [REPLY];
    msg_reject(src: u32, size: u32) [REPLY];
    msg_method_name_size() -> u32 [INSPECT];
    msg_method_name_copy(dst: u32, offset: u32, size: u32) [INSPECT];
    accept_message() [INSPECT];
    // cycles (cycles.rs)
    msg_cycles_available128(dst: u32) [CYCLES_IN];
    msg_cycles_refunded128(dst: u32) [CALLBACK];
    msg_cycles_accept128(high: u64, low: u64, dst: u32) [CYCLES_IN];
    canister_cycle_balance128(dst: u32) [ANY];
    canister_liquid_cycle_balance128(dst: u32) [ANY];
    cost_call(method_name_size: u64, payload_size: u64, dst: u32) [ANY_S];
    cost_create_canister(dst: u32) [ANY_S];
    // canister information, time, timer, certification (canister.rs)
    canister_self_size() -> u32 [ANY];
    canister_self_copy(dst: u32, offset: u32, size: u32) [ANY];
    canister_status() -> u32 [ANY];
    canister_version() -> u64 [ANY];
    is_controller(src: u32, size: u32) -> u32 [ANY_S];
    in_replicated_execution() -> u32 [ANY_S];
    time() -> u64 [ANY];
    global_timer_set(timestamp: u64) -> u64 [TIMER];
    performance_counter(kind: i32) -> u64 [ANY_S];
    certified_data_set(src: u32, size: u32) [CERTIFY];
    data_certificate_present() -> u32 [ANY];
    data_certificate_size() -> u32 [DATA_CERTIFICATE];
    data_certificate_copy(dst: u32, offset: u32, size: u32) [DATA_CERTIFICATE];
    // inter-canister calls (calls.rs)
    call_new(
        callee_src: u32, callee_size: u32, name_src: u32, name_size: u32,
        reply_fun: u32, reply_env: u32, reject_fun: u32, reject_env: u32
    ) [CALL];
    call_on_cleanup(fun: u32, env: u32) [CALL];
    call_data_append(src: u32, size: u32) [CALL];
    call_with_best_effort_response(timeout_seconds: u32) [CALL];
    call_cycles_add128(high: u64, low: u64) [CALL_CYCLES];
    call_perform() -> u32 [CALL];
    // stable memory (stable.rs)
    stable_size() -> u32 [ANY_S];
    stable_grow(new_pages: u32) -> u32 [ANY_S];
    stable_read(dst: u32, offset: u32, size: u32) [ANY_S];
    stable_write(offset: u32, src: u32, size: u32) [ANY_S];
    stable64_size() -> u64 [ANY_S];
    stable64_grow(new_pages: u64) -> u64 [ANY_S];
    stable64_read(dst: u64, offset: u64, size: u64) [ANY_S];
    stable64_write(offset: u64, src: u64, size: u64) [ANY_S];
    // debugging and traps (debug.rs)
    debug_print(src: u32, size: u32) [ANY_S];
    trap(src: u32, size: u32) [ANY_S];
}

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
