//! System API rules checked with tiny hand-written modules (WAT), where a Rust canister could
//! not misbehave on purpose: calling an ic0 function outside the contexts the interface spec's
//! "Overview of imports" table allows traps with a contract violation (IC0504), as in dfinity/ic
//! `rs/embedders/src/wasmtime_embedder/system_api.rs`.

use candid::{Decode, Principal};
use localnet::{ErrorCode, LocalNet, RejectCode};

/// A module with the usual imports, one data segment holding an empty candid reply at 0, and
/// the given body appended.
fn module(body: &str) -> Vec<u8> {
    let wat = format!(
        r#"(module
          (import "ic0" "msg_reply" (func $msg_reply))
          (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
          (import "ic0" "call_new" (func $call_new (param i32 i32 i32 i32 i32 i32 i32 i32)))
          (import "ic0" "global_timer_set" (func $timer (param i64) (result i64)))
          (import "ic0" "stable64_read" (func $s_read (param i64 i64 i64)))
          (import "ic0" "stable64_grow" (func $s_grow (param i64) (result i64)))
          (memory 1)
          (global $g (mut i64) (i64.const 42))
          (data (i32.const 0) "DIDL\00\00")
          (func $reply (call $append (i32.const 0) (i32.const 6)) (call $msg_reply))
          {body})"#
    );
    wat::parse_str(wat).expect("valid wat")
}

fn install(net: &mut LocalNet, wasm: Vec<u8>) -> Principal {
    let id = net.create_canister();
    net.install_canister(id, wasm, vec![], None);
    id
}

#[test]
fn replying_in_canister_init_is_a_contract_violation() {
    let mut net = LocalNet::new();
    let id = net.create_canister();
    let wasm = module(r#"(func (export "canister_init") (call $reply))"#);
    let err = net.reinstall_canister(id, wasm, vec![], None).unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::CanisterContractViolation));
    assert!(
        err.reject_message
            .contains("\"ic0_msg_reply_data_append\" cannot be executed in init mode"),
        "{}",
        err.reject_message
    );
}

#[test]
fn a_query_cannot_make_calls_or_set_the_timer() {
    let mut net = LocalNet::new();
    let id = install(
        &mut net,
        module(
            r#"(func (export "canister_query call")
                 (call $call_new (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
                                 (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
               (func (export "canister_query timer") (drop (call $timer (i64.const 1))))"#,
        ),
    );
    for method in ["call", "timer"] {
        let err = net
            .query_call(id, Principal::anonymous(), method, vec![])
            .unwrap_err();
        assert_eq!(
            err.error_code,
            Some(ErrorCode::CanisterContractViolation),
            "{method}"
        );
        assert!(
            err.reject_message
                .contains("cannot be executed in non replicated query mode")
        );
    }
}

#[test]
fn replying_twice_is_a_contract_violation_and_not_replying_is_ic0506() {
    let mut net = LocalNet::new();
    let id = install(
        &mut net,
        module(
            r#"(func (export "canister_update twice") (call $reply) (call $reply))
               (func (export "canister_update silent"))"#,
        ),
    );
    let err = net
        .update_call(id, Principal::anonymous(), "twice", vec![])
        .unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::CanisterContractViolation));
    let err = net
        .update_call(id, Principal::anonymous(), "silent", vec![])
        .unwrap_err();
    assert_eq!(err.reject_code, RejectCode::CanisterError);
    assert_eq!(err.error_code, Some(ErrorCode::CanisterDidNotReply));
}

#[test]
fn reading_stable_memory_out_of_bounds_traps() {
    let mut net = LocalNet::new();
    let id = install(
        &mut net,
        module(
            r#"(func (export "canister_update oob")
                 (drop (call $s_grow (i64.const 1)))
                 (call $s_read (i64.const 0) (i64.const 65530) (i64.const 100)))"#,
        ),
    );
    let err = net
        .update_call(id, Principal::anonymous(), "oob", vec![])
        .unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::CanisterTrapped));
    assert!(err.reject_message.contains("stable memory out of bounds"));
}

#[test]
fn a_wasm_trap_is_ic0502_canister_trapped() {
    let mut net = LocalNet::new();
    let id = install(
        &mut net,
        module(r#"(func (export "canister_update boom") unreachable)"#),
    );
    let err = net
        .update_call(id, Principal::anonymous(), "boom", vec![])
        .unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::CanisterTrapped));
    assert!(
        err.reject_message
            .ends_with("Canister trapped: unreachable"),
        "{}",
        err.reject_message
    );
}

/// Mutable globals are exported by the instrumentation, so they are state and appear in
/// snapshot metadata with their type.
#[test]
fn mutable_globals_are_persisted_and_appear_in_snapshot_metadata() {
    let mut net = LocalNet::new();
    let id = install(
        &mut net,
        module(
            r#"(func (export "canister_update bump") (global.set $g (i64.add (global.get $g) (i64.const 1))) (call $reply))"#,
        ),
    );
    net.update_call(id, Principal::anonymous(), "bump", vec![])
        .unwrap();
    net.update_call(id, Principal::anonymous(), "bump", vec![])
        .unwrap();
    let snap = net.take_canister_snapshot(id, None, None).unwrap();
    let meta = net
        .read_canister_snapshot_metadata(id, None, snap.id)
        .unwrap();
    assert!(matches!(
        meta.globals.as_slice(),
        [Some(
            ic_management_canister_types::SnapshotMetadataGlobal::I64(44)
        )]
    ));
}

/// The IC's validation refuses imports it does not provide (IC0505); real ic0 functions that
/// localnet lacks still install and trap only when called.
#[test]
fn unknown_imports_make_a_module_invalid() {
    let mut net = LocalNet::new();
    let id = net.create_canister();
    let wasm = wat::parse_str(r#"(module (import "env" "f" (func)) (memory 1))"#).unwrap();
    let err = net.reinstall_canister(id, wasm, vec![], None).unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::CanisterInvalidWasm));
    let wasm = wat::parse_str(
        r#"(module (import "ic0" "root_key_size" (func $rk (result i32))) (memory 1)
             (func (export "canister_update rk") (drop (call $rk))))"#,
    )
    .unwrap();
    net.reinstall_canister(id, wasm, vec![], None).unwrap();
    let err = net
        .update_call(id, Principal::anonymous(), "rk", vec![])
        .unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::CanisterTrapped));
}

/// Heartbeats run once per round on running canisters; the global timer fires once when due
/// and is deactivated before its handler runs.
#[test]
fn heartbeat_runs_every_round_and_the_global_timer_fires_once() {
    let mut net = LocalNet::new();
    let id = install(
        &mut net,
        module(
            r#"(global $beats (mut i64) (i64.const 0))
               (global $fired (mut i64) (i64.const 0))
               (func (export "canister_heartbeat") (global.set $beats (i64.add (global.get $beats) (i64.const 1))))
               (func (export "canister_global_timer") (global.set $fired (i64.add (global.get $fired) (i64.const 1))))
               (func (export "canister_update arm") (drop (call $timer (i64.const 1))) (call $reply))
               (func (export "canister_query counts")
                 ;; candid: DIDL, no types, 2 args: nat64 nat64
                 (i64.store (i32.const 100) (i64.const 0x787802004c444944))
                 (i64.store (i32.const 108) (global.get $beats))
                 (i64.store (i32.const 116) (global.get $fired))
                 (call $append (i32.const 100) (i32.const 24))
                 (call $msg_reply))"#,
        ),
    );
    let counts = |net: &mut LocalNet| {
        let bytes = net
            .query_call(id, Principal::anonymous(), "counts", vec![])
            .unwrap();
        Decode!(&bytes, u64, u64).unwrap()
    };
    for _ in 0..3 {
        net.tick();
    }
    let (beats, fired) = counts(&mut net);
    assert!(beats >= 3, "{beats}");
    assert_eq!(fired, 0);
    net.update_call(id, Principal::anonymous(), "arm", vec![])
        .unwrap();
    net.tick();
    net.tick();
    assert_eq!(
        counts(&mut net).1,
        1,
        "the timer (due at time 1) fired exactly once"
    );
    assert_eq!(net.global_timer(id), None);
}
