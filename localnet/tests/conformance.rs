//! Conformance suite: each test drives the real probe canister (localnet/probes/probe, built by
//! scripts/build-canisters.sh) through one IC behaviour and checks localnet does what the IC
//! does. References: the IC interface spec (ic-interface-spec), dfinity/ic
//! `rs/execution_environment`, and the observations in shared/IC-FACTS.md §8.

mod common;

use candid::{Decode, Encode, Principal, encode_args};
use common::{CallOutcome, Fixture, admin, probe_v2_wasm, probe_wasm, stranger};
use localnet::{CallFilter, ErrorCode, MANAGEMENT_CANISTER, RejectCode, SchedulerPolicy};
use serde_bytes::ByteBuf;
use std::time::Duration;

fn bytes(v: &[u8]) -> ByteBuf {
    ByteBuf::from(v.to_vec())
}

// ----- per-message atomicity ---------------------------------------------------------------

/// Spec, "Execution": a trapping message's state changes are discarded and its outgoing calls
/// are not sent. IC-FACTS §8: a trap is reject code 5 / IC0503 when the canister called trap.
#[test]
fn a_trapping_update_rolls_back_heap_stable_memory_certified_data_timer_and_calls() {
    let mut f = Fixture::new();
    let p = f.probe();
    f.update::<_, ()>(p, "stable_write", (0u64, bytes(b"kept")));
    let err = f.try_update::<_, ()>(p, "inc_then_trap", ()).unwrap_err();
    assert_eq!(err.reject_code, RejectCode::CanisterError);
    assert_eq!(err.error_code, Some(ErrorCode::CanisterCalledTrap));
    assert!(
        err.reject_message.contains("inc_then_trap traps"),
        "{}",
        err.reject_message
    );
    f.net.run_until_idle();
    assert_eq!(
        f.counter(p),
        0,
        "heap change and the self-call to inc were discarded"
    );
    let stable: ByteBuf = f.query(p, "stable_read", (100u64, 16u64));
    assert_eq!(stable.as_slice(), &[0u8; 16], "stable write discarded");
    assert_eq!(f.net.certified_data(p), Vec::<u8>::new());
    assert_eq!(f.net.global_timer(p), None);
}

/// Spec: state committed before an await stays when the callback traps; then the cleanup
/// callback runs (ic-cdk drops the future there, so Drop guards run) and its changes commit.
/// The call context is rejected with the callback's trap.
#[test]
fn work_before_an_await_survives_a_trapping_callback_and_cleanup_drops_the_future() {
    let mut f = Fixture::new();
    let a = f.probe();
    let b = f.probe();
    let err = f
        .try_update::<_, ()>(a, "call_then_trap", (b,))
        .unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::CanisterCalledTrap));
    assert!(err.reject_message.contains("trap after await"));
    assert_eq!(f.counter(a), 1, "the increment before the await committed");
    assert_eq!(f.counter(b), 1, "the callee ran");
    assert_eq!(
        f.query::<_, u64>(a, "after_await", ()),
        0,
        "the callback's change rolled back"
    );
    assert_eq!(
        f.query::<_, u64>(a, "guards_dropped", ()),
        1,
        "cleanup dropped the future"
    );
    assert_eq!(f.net.open_call_contexts(a), 0);
}

#[test]
fn a_query_call_runs_on_a_copy_of_the_state() {
    let mut f = Fixture::new();
    let p = f.probe();
    // `inc` is an update; a query call to it is refused (IC0536), and `get` cannot change state.
    let err = f
        .net
        .query_call(p, admin(), "inc", Encode!().unwrap())
        .unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::CanisterMethodNotFound));
    assert_eq!(f.counter(p), 0);
}

// ----- calls --------------------------------------------------------------------------------

#[test]
fn an_inter_canister_call_delivers_the_reply_to_the_callers_callback() {
    let mut f = Fixture::new();
    let a = f.probe();
    let b = f.probe();
    let r: CallOutcome = f.update(a, "call", (b, "inc", bytes(&Encode!().unwrap()), 0u128));
    assert_eq!(Decode!(&r.unwrap(), u64).unwrap(), 1);
    let r: CallOutcome = f.update(a, "call", (b, "caller", bytes(&Encode!().unwrap()), 0u128));
    assert_eq!(
        Decode!(&r.unwrap(), Principal).unwrap(),
        a,
        "msg_caller is the calling canister"
    );
}

/// Spec "Reject codes": msg_reject gives CANISTER_REJECT (4) to the caller.
#[test]
fn a_canister_reject_reaches_the_caller_with_reject_code_4() {
    let mut f = Fixture::new();
    let a = f.probe();
    let b = f.probe();
    let r: CallOutcome = f.update(
        a,
        "call",
        (b, "reject", bytes(&Encode!(&"no").unwrap()), 0u128),
    );
    assert_eq!(r.unwrap_err(), (4, "no".to_string()));
    let err = f.try_update::<_, ()>(b, "reject", ("nope",)).unwrap_err();
    assert_eq!(err.reject_code, RejectCode::CanisterReject);
    assert_eq!(err.reject_message, "nope");
}

/// A trap in the callee reaches the caller as CANISTER_ERROR (5); a missing method is
/// IC0536 and a missing canister IC0301 (DESTINATION_INVALID, 3).
#[test]
fn callee_traps_and_missing_destinations_are_rejected_with_the_ics_codes() {
    let mut f = Fixture::new();
    let a = f.probe();
    let b = f.probe();
    let r: CallOutcome = f.update(
        a,
        "call",
        (b, "inc_then_trap", bytes(&Encode!().unwrap()), 0u128),
    );
    assert_eq!(r.unwrap_err().0, 5);
    let r: CallOutcome = f.update(
        a,
        "call",
        (b, "no_such_method", bytes(&Encode!().unwrap()), 0u128),
    );
    let (code, msg) = r.unwrap_err();
    assert_eq!(code, 5);
    assert!(
        msg.contains("has no update method 'no_such_method'"),
        "{msg}"
    );
    let ghost = Principal::from_slice(&[0, 0, 0, 0, 0, 0, 0x99, 0, 1, 1]);
    let r: CallOutcome = f.update(a, "call", (ghost, "inc", bytes(&Encode!().unwrap()), 0u128));
    assert_eq!(r.unwrap_err().0, 3);
    let err = f
        .net
        .update_call(ghost, admin(), "inc", Encode!().unwrap())
        .unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::CanisterNotFound));
}

/// One-way calls pass u32::MAX as callbacks (IC-FACTS §5): the callee runs, nothing returns.
#[test]
fn a_one_way_call_runs_the_callee_without_a_callback() {
    let mut f = Fixture::new();
    let a = f.probe();
    let b = f.probe();
    f.update::<_, ()>(a, "oneway", (b, "inc"));
    f.net.run_until_idle();
    assert_eq!(f.counter(b), 1);
    assert_eq!(f.net.open_call_contexts(a), 0);
}

#[test]
fn a_canister_can_call_itself() {
    let mut f = Fixture::new();
    let p = f.probe();
    assert_eq!(f.update::<_, u64>(p, "self_inc", ()), 1);
}

/// ic-cdk-timers arms the global timer and, when it fires, makes a self-call (IC-FACTS §5).
#[test]
fn ic_cdk_timers_fire_once_the_virtual_clock_reaches_them() {
    let mut f = Fixture::new();
    let p = f.probe();
    f.update::<_, ()>(p, "timer_after", (5u64,));
    f.net.run_until_idle();
    assert_eq!(f.query::<_, u64>(p, "timer_fired", ()), 0, "not yet due");
    f.net.advance_time(Duration::from_secs(5));
    f.net.run_until_idle();
    assert_eq!(f.query::<_, u64>(p, "timer_fired", ()), 1);
}

/// Bounded-wait calls: when the deadline passes without a response the caller gets
/// SYS_UNKNOWN (6), and a late response is dropped.
#[test]
fn a_bounded_wait_call_times_out_with_sys_unknown() {
    let mut f = Fixture::new();
    let a = f.probe();
    let b = f.probe();
    f.net.hold_calls(CallFilter {
        callee: Some(b),
        ..Default::default()
    });
    let arg = encode_args((b, "inc", bytes(&Encode!().unwrap()), 10u32)).unwrap();
    let id = f.net.submit_call(a, admin(), "call_bounded", arg).unwrap();
    f.net.run_until_idle();
    assert_eq!(f.net.held_calls().len(), 1);
    f.net.advance_time(Duration::from_secs(11));
    let reply = f.net.await_call(id).unwrap();
    let outcome = Decode!(&reply, CallOutcome).unwrap();
    assert_eq!(outcome.unwrap_err().0, 6);
    assert_eq!(f.counter(b), 0, "the expired request was never delivered");
}

/// The manual policy answers a held call with any reject, without running the callee.
#[test]
fn a_held_call_can_be_rejected_or_released() {
    let mut f = Fixture::new();
    f.net.set_scheduler_policy(SchedulerPolicy::Manual);
    let a = f.probe();
    let b = f.probe();
    f.net.hold_calls(CallFilter {
        callee: Some(b),
        method: Some("inc".into()),
        ..Default::default()
    });
    let arg = encode_args((b, "inc", bytes(&Encode!().unwrap()), 0u128)).unwrap();
    let first = f.net.submit_call(a, admin(), "call", arg.clone()).unwrap();
    let second = f.net.submit_call(a, admin(), "call", arg).unwrap();
    f.net.run_until_idle();
    let held = f.net.held_calls();
    assert_eq!(held.len(), 2);
    assert!(
        f.net
            .reject_call(held[0].id, RejectCode::SysTransient, "injected")
    );
    assert!(f.net.release_call(held[1].id));
    let r1 = Decode!(&f.net.await_call(first).unwrap(), CallOutcome).unwrap();
    let r2 = Decode!(&f.net.await_call(second).unwrap(), CallOutcome).unwrap();
    assert_eq!(r1.unwrap_err(), (2, "injected".to_string()));
    assert_eq!(Decode!(&r2.unwrap(), u64).unwrap(), 1);
}

/// Under the random policy, runs with the same seed are identical; the outcome of
/// independent messages does not depend on the seed.
#[test]
fn the_random_policy_is_reproducible_per_seed() {
    let run = |seed: u64| {
        let mut f = Fixture::new();
        f.net.set_scheduler_policy(SchedulerPolicy::Random { seed });
        let a = f.probe();
        let b = f.probe();
        let ids: Vec<_> = (0..6)
            .map(|i| {
                let target = if i % 2 == 0 { a } else { b };
                let arg = encode_args((target, "inc", bytes(&Encode!().unwrap()), 0u128)).unwrap();
                f.net
                    .submit_call(if i % 2 == 0 { b } else { a }, admin(), "call", arg)
                    .unwrap()
            })
            .collect();
        ids.into_iter()
            .map(|id| {
                Decode!(
                    &Decode!(&f.net.await_call(id).unwrap(), CallOutcome)
                        .unwrap()
                        .unwrap(),
                    u64
                )
                .unwrap()
            })
            .collect::<Vec<u64>>()
    };
    assert_eq!(run(7), run(7));
    let mut sorted = run(11);
    sorted.sort();
    assert_eq!(sorted, vec![1, 1, 2, 2, 3, 3]);
}

/// Spec "Ordering guarantees": requests between one (caller, callee) pair are delivered in the
/// order they were made, whatever the scheduler does with everything else.
#[test]
fn requests_between_one_pair_stay_in_order_under_the_random_policy() {
    let mut interleavings = 0;
    for seed in [1, 2, 3, 4] {
        let mut f = Fixture::new();
        f.net.set_scheduler_policy(SchedulerPolicy::Random { seed });
        let a = f.probe();
        let b = f.probe();
        let c = f.probe();
        let first = f
            .net
            .submit_call(a, admin(), "fan_out", encode_args((c, 20u64)).unwrap())
            .unwrap();
        let second = f
            .net
            .submit_call(b, admin(), "fan_out", encode_args((c, 20u64)).unwrap())
            .unwrap();
        f.net.await_call(first).unwrap();
        f.net.await_call(second).unwrap();
        f.net.run_until_idle();
        let log: Vec<u64> = f.query(c, "log", ());
        assert_eq!(log.len(), 40);
        // Each sender's 0..20 arrive in order; the two streams may interleave.
        let mut next = [0u64; 2];
        for x in &log {
            if next[0] == *x {
                next[0] += 1;
            } else if next[1] == *x {
                next[1] += 1;
            } else {
                panic!("seed {seed}: a pair's requests arrived out of order: {log:?}");
            }
        }
        let sequential: Vec<u64> = (0..20).chain(0..20).collect();
        interleavings += usize::from(log != sequential);
    }
    assert!(
        interleavings > 0,
        "the random policy never interleaved the two senders"
    );
}

// ----- stop / start / delete -----------------------------------------------------------------

/// IC-FACTS §8: a call to a stopped canister is reject code 5, IC0508 "Canister … is stopped".
#[test]
fn a_call_to_a_stopped_canister_is_rejected_with_ic0508() {
    let mut f = Fixture::new();
    let p = f.probe();
    f.net.stop_canister(p, None).unwrap();
    let err = f.try_update::<_, u64>(p, "inc", ()).unwrap_err();
    assert_eq!(err.reject_code, RejectCode::CanisterError);
    assert_eq!(err.error_code, Some(ErrorCode::CanisterStopped));
    assert_eq!(err.reject_message, format!("Canister {p} is stopped"));
    f.net.start_canister(p, None).unwrap();
    assert_eq!(f.update::<_, u64>(p, "inc", ()), 1);
}

/// Spec "IC method stop_canister": the canister is Stopping until its open call contexts
/// close; meanwhile new calls are rejected (IC0509) but responses are still delivered.
#[test]
fn stop_completes_only_when_open_call_contexts_drain() {
    let mut f = Fixture::new();
    let a = f.probe();
    let b = f.probe();
    f.net.hold_calls(CallFilter {
        callee: Some(b),
        ..Default::default()
    });
    let arg = encode_args((b, "inc", bytes(&Encode!().unwrap()), 0u128)).unwrap();
    let pending = f.net.submit_call(a, admin(), "call", arg).unwrap();
    f.net.run_until_idle();
    let stop = f
        .net
        .submit_call(
            MANAGEMENT_CANISTER,
            admin(),
            "stop_canister",
            Encode!(&ic_management_canister_types::CanisterIdRecord { canister_id: a }).unwrap(),
        )
        .unwrap();
    f.net.run_until_idle();
    assert!(
        f.net.ingress_status(stop).is_none(),
        "stop waits for the open call context"
    );
    let status = f.net.canister_status(a, None).unwrap();
    assert_eq!(
        status.status,
        ic_management_canister_types::CanisterStatusType::Stopping
    );
    let err = f.try_update::<_, u64>(a, "inc", ()).unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::CanisterStopping));
    f.net.release_call(f.net.held_calls()[0].id);
    assert!(
        f.net.await_call(pending).is_ok(),
        "the response reached the stopping canister"
    );
    assert!(f.net.await_call(stop).is_ok());
    assert_eq!(
        f.net.canister_status(a, None).unwrap().status,
        ic_management_canister_types::CanisterStatusType::Stopped
    );
}

#[test]
fn starting_a_stopping_canister_cancels_the_stop_with_ic0511() {
    let mut f = Fixture::new();
    let a = f.probe();
    let b = f.probe();
    f.net.hold_calls(CallFilter {
        callee: Some(b),
        ..Default::default()
    });
    let arg = encode_args((b, "inc", bytes(&Encode!().unwrap()), 0u128)).unwrap();
    f.net.submit_call(a, admin(), "call", arg).unwrap();
    f.net.run_until_idle();
    let stop = f
        .net
        .submit_call(
            MANAGEMENT_CANISTER,
            admin(),
            "stop_canister",
            Encode!(&ic_management_canister_types::CanisterIdRecord { canister_id: a }).unwrap(),
        )
        .unwrap();
    f.net.run_until_idle();
    f.net.start_canister(a, None).unwrap();
    let err = f.net.await_call(stop).unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::CanisterStoppingCancelled));
}

#[test]
fn only_a_stopped_canister_can_be_deleted_and_its_snapshots_die_with_it() {
    let mut f = Fixture::new();
    let p = f.probe();
    f.net.take_canister_snapshot(p, None, None).unwrap();
    let err = f.net.delete_canister(p, None).unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::CanisterNotStopped));
    f.net.stop_canister(p, None).unwrap();
    f.net.delete_canister(p, None).unwrap();
    let err = f.net.list_canister_snapshots(p, None).unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::CanisterNotFound));
}

/// The canister version grows with every successful update, and not with queries or traps.
#[test]
fn canister_version_counts_successful_updates() {
    let mut f = Fixture::new();
    let p = f.probe();
    let v0: u64 = f.query(p, "canister_version", ());
    f.update::<_, u64>(p, "inc", ());
    let _ = f.try_update::<_, ()>(p, "inc_then_trap", ());
    f.counter(p);
    let v1: u64 = f.query(p, "canister_version", ());
    assert_eq!(v1, v0 + 1);
}

// ----- install / upgrade ----------------------------------------------------------------------

/// Upgrade runs pre_upgrade on the old code and post_upgrade on the new; stable memory
/// survives, the heap does not.
#[test]
fn an_upgrade_runs_both_hooks_and_keeps_only_stable_memory() {
    let mut f = Fixture::new();
    let p = f.probe();
    for _ in 0..3 {
        f.update::<_, u64>(p, "inc", ());
    }
    f.net
        .upgrade_canister(p, probe_v2_wasm(), Encode!(&None::<bool>).unwrap(), None)
        .unwrap();
    assert_eq!(f.query::<_, String>(p, "version", ()), "v2");
    assert_eq!(
        f.counter(p),
        3,
        "pre_upgrade saved it to stable memory, post_upgrade restored it"
    );
    assert_eq!(
        f.query::<_, Vec<String>>(p, "hooks", ()),
        vec!["post_upgrade"],
        "the heap is fresh"
    );
}

/// A trap in post_upgrade fails install_code atomically: old code and state stay.
#[test]
fn a_trapping_post_upgrade_leaves_the_old_code_and_state() {
    let mut f = Fixture::new();
    let p = f.probe();
    f.update::<_, u64>(p, "inc", ());
    let version_before = f.net.canister_status(p, None).unwrap().version;
    let err = f
        .net
        .upgrade_canister(p, probe_v2_wasm(), Encode!(&Some(true)).unwrap(), None)
        .unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::CanisterCalledTrap));
    assert!(err.reject_message.contains("post_upgrade asked to trap"));
    assert_eq!(f.query::<_, String>(p, "version", ()), "v1");
    assert_eq!(f.counter(p), 1);
    assert_eq!(
        f.net.canister_status(p, None).unwrap().version,
        version_before
    );
}

#[test]
fn a_trapping_pre_upgrade_blocks_the_upgrade_unless_skipped() {
    let mut f = Fixture::new();
    let p = f.probe();
    f.update::<_, ()>(p, "set_trap_in_pre_upgrade", (true,));
    let err = f
        .net
        .upgrade_canister(p, probe_v2_wasm(), Encode!(&None::<bool>).unwrap(), None)
        .unwrap_err();
    assert!(err.reject_message.contains("pre_upgrade asked to trap"));
    f.net
        .upgrade_canister_skip_pre_upgrade(
            p,
            probe_v2_wasm(),
            Encode!(&None::<bool>).unwrap(),
            None,
        )
        .unwrap();
    assert_eq!(f.query::<_, String>(p, "version", ()), "v2");
}

#[test]
fn reinstall_wipes_heap_and_stable_memory_and_install_refuses_a_non_empty_canister() {
    let mut f = Fixture::new();
    let p = f.probe();
    f.update::<_, ()>(p, "stable_write", (0u64, bytes(b"old")));
    f.net
        .reinstall_canister(p, probe_wasm(), encode_args((Some(7u64),)).unwrap(), None)
        .unwrap();
    assert_eq!(f.counter(p), 7, "init ran with the argument");
    assert!(f.net.stable_memory(p).is_empty());
    let err = f
        .net
        .upgrade_canister(p, vec![1, 2, 3], vec![], None)
        .unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::CanisterInvalidWasm));
    let args = ic_management_canister_types::InstallCodeArgs {
        mode: ic_management_canister_types::CanisterInstallMode::Install,
        canister_id: p,
        wasm_module: probe_wasm(),
        arg: vec![],
        sender_canister_version: None,
    };
    let err = f
        .net
        .management_call::<_, ()>(admin(), "install_code", args)
        .unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::CanisterNonEmpty));
}

/// The module hash is sha256 of the module as sent (gzipped here); install bumps the version.
#[test]
fn canister_status_reports_the_module_hash_version_and_memory() {
    let mut f = Fixture::new();
    let p = f.probe();
    let status = f.net.canister_status(p, None).unwrap();
    assert_eq!(
        status.module_hash,
        Some(localnet::wasm::sha256(&probe_wasm()).to_vec())
    );
    assert_eq!(status.version, 1);
    assert!(status.memory_metrics.wasm_memory_size > 0u64);
    let err = f.net.canister_status(p, Some(stranger())).unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::CanisterInvalidController));
}

/// install_chunked_code: the module is the concatenation of the listed chunks and must match
/// the given hash.
#[test]
fn chunked_install_assembles_the_module_from_the_chunk_store() {
    let mut f = Fixture::new();
    let p = f.net.create_canister();
    let wasm = probe_wasm();
    let mut hashes = Vec::new();
    for part in wasm.chunks(100_000) {
        hashes.push(f.net.upload_chunk(p, None, part.to_vec()).unwrap());
    }
    let mut stored = f.net.stored_chunks(p, None).unwrap();
    stored.sort();
    let mut expected = hashes.clone();
    expected.sort();
    assert_eq!(stored, expected);
    let mode = ic_management_canister_types::CanisterInstallMode::Install;
    let err = f
        .net
        .install_chunked_canister(
            p,
            None,
            mode,
            None,
            hashes.clone(),
            vec![0; 32],
            encode_args((None::<u64>,)).unwrap(),
        )
        .unwrap_err();
    // canister_manager/types.rs: WasmChunkStoreError is IC0504.
    assert_eq!(err.error_code, Some(ErrorCode::CanisterContractViolation));
    assert!(
        err.reject_message.contains("does not match"),
        "{}",
        err.reject_message
    );
    let hash = localnet::wasm::sha256(&wasm).to_vec();
    f.net
        .install_chunked_canister(
            p,
            None,
            mode,
            None,
            hashes,
            hash,
            encode_args((None::<u64>,)).unwrap(),
        )
        .unwrap();
    assert_eq!(f.update::<_, u64>(p, "inc", ()), 1);
    f.net.clear_chunk_store(p, None).unwrap();
    assert!(f.net.stored_chunks(p, None).unwrap().is_empty());
}

#[test]
fn inspect_message_can_refuse_an_ingress_message() {
    let mut f = Fixture::new();
    let p = f.probe();
    let err = f
        .net
        .submit_call(p, admin(), "forbidden", Encode!().unwrap())
        .unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::CanisterRejectedMessage));
    assert!(f.try_update::<_, u64>(p, "inc", ()).is_ok());
}

/// Fuel backs performance_counter, and the per-message limit traps with IC0522.
#[test]
fn the_instruction_counter_grows_with_work_and_the_limit_traps() {
    let mut f = Fixture::new();
    let p = f.probe();
    let small: u64 = f.update(p, "burn", (1_000u64,));
    let before = f.net.instructions_executed(p);
    let big: u64 = f.update(p, "burn", (100_000u64,));
    let spent = f.net.instructions_executed(p) - before;
    assert!(
        spent >= big,
        "the per-canister total ({spent}) includes the message ({big})"
    );
    assert!(big > small * 10, "{small} vs {big}");
    f.net.limits.update_instructions = 1_000_000;
    let err = f
        .try_update::<_, u64>(p, "burn", (10_000_000u64,))
        .unwrap_err();
    assert_eq!(
        err.error_code,
        Some(ErrorCode::CanisterInstructionLimitExceeded)
    );
}

/// Cycles attached to a call move: deposit_cycles adds them to the target, and cycles a
/// callee does not accept are refunded.
#[test]
fn cycles_attached_to_calls_move() {
    let mut f = Fixture::new();
    let a = f.probe();
    let b = f.probe();
    let before_b = f.net.cycle_balance(b);
    let arg = Encode!(&ic_management_canister_types::CanisterIdRecord { canister_id: b }).unwrap();
    let r: CallOutcome = f.update(
        a,
        "call",
        (
            MANAGEMENT_CANISTER,
            "deposit_cycles",
            bytes(&arg),
            1_000_000u128,
        ),
    );
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(f.net.cycle_balance(b), before_b + 1_000_000);
    // The same call with and without 5 M attached costs the caller the same fees (execution,
    // ingress, call): the unaccepted 5 M came back.
    let mut spent = Vec::new();
    for attached in [0u128, 5_000_000] {
        let before_a = f.net.cycle_balance(a);
        let r: CallOutcome = f.update(a, "call", (b, "inc", bytes(&Encode!().unwrap()), attached));
        assert!(r.is_ok());
        spent.push(before_a - f.net.cycle_balance(a));
    }
    assert!(
        spent[1].abs_diff(spent[0]) < 100_000,
        "unaccepted cycles came back; only fees were spent ({spent:?})"
    );
}

/// raw_rand is deterministic per run (seeded) and refused by ingress.
#[test]
fn raw_rand_is_deterministic_and_canister_only() {
    let rand = || {
        let mut f = Fixture::new();
        let p = f.probe();
        let r: CallOutcome = f.update(
            p,
            "call",
            (
                MANAGEMENT_CANISTER,
                "raw_rand",
                bytes(&Encode!().unwrap()),
                0u128,
            ),
        );
        Decode!(&r.unwrap(), ByteBuf).unwrap().into_vec()
    };
    let first = rand();
    assert_eq!(first.len(), 32);
    assert_eq!(first, rand());
    let mut f = Fixture::new();
    assert!(
        f.net
            .update_call(MANAGEMENT_CANISTER, admin(), "raw_rand", Encode!().unwrap())
            .is_err()
    );
}

/// canister_info (canister-only) lists history: creation, code deployment, controllers change.
#[test]
fn canister_info_reports_history_module_hash_and_controllers() {
    let mut f = Fixture::new();
    let a = f.probe();
    let b = f.probe();
    f.net.set_controllers(b, None, vec![admin(), a]).unwrap();
    let arg = Encode!(&ic_management_canister_types::CanisterInfoArgs {
        canister_id: b,
        num_requested_changes: Some(10)
    })
    .unwrap();
    let r: CallOutcome = f.update(
        a,
        "call",
        (MANAGEMENT_CANISTER, "canister_info", bytes(&arg), 0u128),
    );
    let info = Decode!(
        &r.unwrap(),
        ic_management_canister_types::CanisterInfoResult
    )
    .unwrap();
    assert_eq!(info.total_num_changes, 3);
    assert_eq!(info.controllers, vec![admin(), a]);
    assert_eq!(
        info.module_hash,
        Some(localnet::wasm::sha256(&probe_wasm()).to_vec())
    );
}

// ----- management canister lifecycle --------------------------------------------------------

/// update_settings replaces the controller list; the old controller loses access (IC0512).
#[test]
fn update_settings_replaces_the_controllers() {
    let mut f = Fixture::new();
    let p = f.probe();
    f.net.set_controllers(p, None, vec![stranger()]).unwrap();
    let err = f.net.canister_status(p, None).unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::CanisterInvalidController));
    let status = f.net.canister_status(p, Some(stranger())).unwrap();
    assert_eq!(status.settings.controllers, vec![stranger()]);
}

/// Uninstalling rejects the canister's open call contexts and drops its callbacks.
#[test]
fn uninstall_rejects_open_call_contexts() {
    let mut f = Fixture::new();
    let a = f.probe();
    let b = f.probe();
    f.net.hold_calls(CallFilter {
        callee: Some(b),
        ..Default::default()
    });
    let arg = encode_args((b, "inc", bytes(&Encode!().unwrap()), 0u128)).unwrap();
    let pending = f.net.submit_call(a, admin(), "call", arg).unwrap();
    f.net.run_until_idle();
    f.net.uninstall_canister(a, None).unwrap();
    let err = f.net.await_call(pending).unwrap_err();
    assert_eq!(err.reject_code, RejectCode::CanisterReject);
    assert_eq!(f.net.open_call_contexts(a), 0);
    let status = f.net.canister_status(a, None).unwrap();
    assert_eq!(status.module_hash, None);
}

/// A canister creates a canister with attached cycles: the fee is deducted from them and the
/// creator is the default controller.
#[test]
fn a_canister_can_create_a_canister_with_its_cycles() {
    let mut f = Fixture::new();
    let p = f.probe();
    let args = Encode!(&ic_management_canister_types::CreateCanisterArgs {
        settings: None,
        sender_canister_version: None
    })
    .unwrap();
    let cycles = 2_000_000_000_000u128;
    let r: CallOutcome = f.update(
        p,
        "call",
        (MANAGEMENT_CANISTER, "create_canister", bytes(&args), cycles),
    );
    let created = Decode!(&r.unwrap(), ic_management_canister_types::CanisterIdRecord)
        .unwrap()
        .canister_id;
    assert_eq!(
        f.net.cycle_balance(created),
        cycles - localnet::system_api::CREATE_CANISTER_FEE
    );
    let err = f.net.canister_status(created, None).unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::CanisterInvalidController));
    // By ingress, create_canister is refused (IC0406, "Only canisters can call ic00 method").
    let err = f
        .net
        .update_call(MANAGEMENT_CANISTER, admin(), "create_canister", args)
        .unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::CanisterRejectedMessage));
}

/// IC-FACTS §2: loading another canister's snapshot needs control of both canisters.
#[test]
fn a_snapshot_can_be_loaded_into_another_canister_controlled_by_the_same_caller() {
    let mut f = Fixture::new();
    let a = f.probe();
    let b = f.probe();
    for _ in 0..4 {
        f.update::<_, u64>(a, "inc", ());
    }
    let snap = f.net.take_canister_snapshot(a, None, None).unwrap();
    f.net
        .load_canister_snapshot(b, None, snap.id.clone())
        .unwrap();
    assert_eq!(f.counter(b), 4);
    f.net.set_controllers(a, None, vec![stranger()]).unwrap();
    let err = f.net.load_canister_snapshot(b, None, snap.id).unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::CanisterInvalidController));
}

/// The shape the HTTP layer will use: the subnet behind a mutex, one thread submitting and
/// polling, another driving rounds; the lock is held per call, never across a wait.
#[test]
fn the_subnet_can_be_driven_from_several_threads_behind_a_mutex() {
    use std::sync::{Arc, Mutex};
    let mut f = Fixture::new();
    let p = f.probe();
    let net = Arc::new(Mutex::new(f.net));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let driver = {
        let (net, stop) = (Arc::clone(&net), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                net.lock().unwrap().tick();
                std::thread::yield_now();
            }
        })
    };
    let mut done = 0;
    for _ in 0..5 {
        let id = net
            .lock()
            .unwrap()
            .submit_call(p, admin(), "inc", Encode!().unwrap())
            .unwrap();
        loop {
            let status = net.lock().unwrap().ingress_status(id);
            if let Some(result) = status {
                assert!(result.is_ok());
                done += 1;
                break;
            }
            std::thread::yield_now();
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    driver.join().unwrap();
    assert_eq!(done, 5);
}

/// A bounded-wait call whose callee has started but not answered by the deadline: the caller
/// gets SYS_UNKNOWN at the deadline and the callee's late response is dropped.
#[test]
fn a_late_response_to_a_timed_out_bounded_wait_call_is_dropped() {
    let mut f = Fixture::new();
    let a = f.probe();
    let b = f.probe();
    let c = f.probe();
    f.net.hold_calls(CallFilter {
        callee: Some(c),
        ..Default::default()
    });
    // a --bounded(10 s)--> b.call(c.inc) --unbounded, held--> c
    let inner = encode_args((c, "inc", bytes(&Encode!().unwrap()), 0u128)).unwrap();
    let arg = encode_args((b, "call", bytes(&inner), 10u32)).unwrap();
    let id = f.net.submit_call(a, admin(), "call_bounded", arg).unwrap();
    f.net.run_until_idle();
    assert_eq!(f.net.open_call_contexts(b), 1, "b is waiting for c");
    f.net.advance_time(Duration::from_secs(11));
    let outcome = Decode!(&f.net.await_call(id).unwrap(), CallOutcome).unwrap();
    assert_eq!(outcome.unwrap_err().0, 6);
    let held = f.net.held_calls();
    f.net.release_call(held[0].id);
    f.net.run_until_idle();
    assert_eq!(f.counter(c), 1);
    assert_eq!(
        f.net.open_call_contexts(b),
        0,
        "b answered; the answer was dropped"
    );
    assert_eq!(f.net.open_call_contexts(a), 0);
}
