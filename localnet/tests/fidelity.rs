//! Fidelity conformance: message size limits and cycles.
//!
//! Message size limits (IC-FACTS §7; the interface spec's "Message size limits"): a reply is at
//! most 2 MiB, a request to a canister on the same subnet at most 10 MiB and to another subnet
//! at most 2 MiB (method name + argument). The replica enforces both in the system API, so the
//! canister that builds the oversized message traps with a contract violation (reject code 5,
//! IC0504). The codes are the replica's; the message texts are inferred (not observed on a
//! replica), so the tests check codes and only the gist of the text.

mod common;

use candid::Principal;
use common::{CallOutcome, Fixture, admin};
use localnet::{
    CROSS_SUBNET_PAYLOAD_BYTES, ErrorCode, MAX_REPLY_BYTES, RejectCode, SAME_SUBNET_PAYLOAD_BYTES,
};
use serde_bytes::ByteBuf;

/// Gives the probe `len` bytes of stable memory to read back.
fn fill_stable(f: &mut Fixture, p: Principal, len: u64) {
    f.update::<_, ()>(p, "stable_write", (len - 1, ByteBuf::from(vec![7u8])));
}

#[test]
fn a_reply_just_under_2_mib_is_delivered_and_one_over_it_traps_with_a_contract_violation() {
    let mut f = Fixture::new();
    let p = f.probe();
    fill_stable(&mut f, p, MAX_REPLY_BYTES + 65536);
    // Candid adds a dozen bytes around the blob.
    let ok: ByteBuf = f.query(p, "stable_read", (0u64, MAX_REPLY_BYTES - 64));
    assert_eq!(ok.len() as u64, MAX_REPLY_BYTES - 64);
    let args = candid::encode_args((0u64, MAX_REPLY_BYTES)).unwrap();
    // As a query and as an update (a query method run in replicated mode): same limit.
    let errs = [
        f.net
            .query_call(p, admin(), "stable_read", args.clone())
            .unwrap_err(),
        f.net
            .update_call(p, admin(), "stable_read", args)
            .unwrap_err(),
    ];
    for err in errs {
        assert_eq!(err.reject_code, RejectCode::CanisterError, "{err}");
        assert_eq!(
            err.error_code,
            Some(ErrorCode::CanisterContractViolation),
            "{err}"
        );
        assert!(
            err.reject_message.contains("msg_reply_data_append"),
            "{err}"
        );
        assert!(
            err.reject_message
                .contains(&format!("cannot be larger than {MAX_REPLY_BYTES}")),
            "{err}"
        );
    }
}

#[test]
fn a_reply_over_2_mib_to_a_canister_reaches_the_caller_as_the_callees_trap() {
    let mut f = Fixture::new();
    let (caller, callee) = (f.probe(), f.probe());
    fill_stable(&mut f, callee, MAX_REPLY_BYTES + 65536);
    let arg = candid::encode_args((0u64, MAX_REPLY_BYTES)).unwrap();
    let out: CallOutcome = f.update(
        caller,
        "call",
        (callee, "stable_read", ByteBuf::from(arg), 0u128),
    );
    let (code, message) = out.unwrap_err();
    assert_eq!(code, 5, "CANISTER_ERROR from the callee: {message}");
    assert!(message.contains("msg_reply_data_append"), "{message}");
}

/// localnet is one subnet, so canisters talk at the same-subnet limit by default.
#[test]
fn a_request_under_10_mib_reaches_the_callee_and_one_over_it_traps_in_the_caller() {
    let mut f = Fixture::new();
    let (caller, callee) = (f.probe(), f.probe());
    let method = "inc";
    let fits = SAME_SUBNET_PAYLOAD_BYTES as usize - method.len();
    // The callee gets it (ic-cdk's `inc` ignores the argument bytes and replies).
    let out: CallOutcome = f.update(
        caller,
        "call",
        (callee, method, ByteBuf::from(vec![0u8; fits]), 0u128),
    );
    assert!(out.is_ok(), "{out:?}");
    let err = f
        .try_update::<_, CallOutcome>(
            caller,
            "call",
            (callee, method, ByteBuf::from(vec![0u8; fits + 1]), 0u128),
        )
        .unwrap_err();
    assert_eq!(err.reject_code, RejectCode::CanisterError, "{err}");
    assert_eq!(
        err.error_code,
        Some(ErrorCode::CanisterContractViolation),
        "{err}"
    );
    assert!(
        err.reject_message.contains(&format!(
            "payload size of {}, which exceeds the permitted limit of {SAME_SUBNET_PAYLOAD_BYTES}",
            SAME_SUBNET_PAYLOAD_BYTES + 1
        )),
        "{err}"
    );
}

#[test]
fn with_the_cross_subnet_limit_a_request_over_2_mib_traps_in_the_caller() {
    let mut f = Fixture::new();
    let (caller, callee) = (f.probe(), f.probe());
    f.net.limits.inter_canister_payload_bytes = CROSS_SUBNET_PAYLOAD_BYTES;
    let fits = CROSS_SUBNET_PAYLOAD_BYTES as usize - "inc".len();
    let out: CallOutcome = f.update(
        caller,
        "call",
        (callee, "inc", ByteBuf::from(vec![0u8; fits]), 0u128),
    );
    assert!(out.is_ok(), "{out:?}");
    let err = f
        .try_update::<_, CallOutcome>(
            caller,
            "call",
            (callee, "inc", ByteBuf::from(vec![0u8; fits + 1]), 0u128),
        )
        .unwrap_err();
    assert_eq!(
        err.error_code,
        Some(ErrorCode::CanisterContractViolation),
        "{err}"
    );
    assert!(
        err.reject_message.contains("exceeds the permitted limit"),
        "{err}"
    );
}

// ----- cycles (IC-FACTS §2; fee constants of a 13-node subnet, localnet/src/cycles.rs) -------

use localnet::cycles::{
    SNAPSHOT_BASE_INSTRUCTIONS, execution_cost, ingress_cost, instructions_cost, storage_cost,
};
use std::time::Duration;

const DAY_NANOS: u64 = 86_400 * 1_000_000_000;

fn memory_and_snapshots(f: &mut Fixture, p: Principal) -> (u64, u64) {
    let s = f.net.canister_status(p, None).unwrap();
    let n = |v: &candid::Nat| u64::try_from(v.0.clone()).unwrap();
    (n(&s.memory_size), n(&s.memory_metrics.snapshots_size))
}

#[test]
fn an_update_costs_the_base_fee_its_instructions_and_its_ingress_bytes() {
    let mut f = Fixture::new();
    let p = f.probe();
    let (before, instructions) = (f.net.cycle_balance(p), f.net.instructions_executed(p));
    let arg = candid::encode_args(()).unwrap();
    f.net.update_call(p, admin(), "inc", arg.clone()).unwrap();
    let executed = f.net.instructions_executed(p) - instructions;
    assert_eq!(
        before - f.net.cycle_balance(p),
        ingress_cost("inc".len() + arg.len()) + execution_cost(executed)
    );
    // A query call is free.
    let before = f.net.cycle_balance(p);
    let _: u64 = f.query(p, "get", ());
    assert_eq!(f.net.cycle_balance(p), before);
}

#[test]
fn storage_is_charged_per_gib_second_for_memory_and_snapshots_and_reported_by_canister_status() {
    let mut f = Fixture::new();
    let p = f.probe();
    f.update::<_, ()>(
        p,
        "stable_write",
        (0u64, ByteBuf::from(vec![1u8; 1_000_000])),
    );
    f.net.take_canister_snapshot(p, None, None).unwrap();
    let status = f.net.canister_status(p, None).unwrap();
    let (memory, snapshots) = memory_and_snapshots(&mut f, p);
    assert!(
        snapshots > 1_000_000,
        "snapshots_size counts the snapshot: {snapshots}"
    );
    // memory_size includes the snapshots; the charge is for all of it.
    assert_eq!(
        status.idle_cycles_burned_per_day,
        candid::Nat::from(storage_cost(memory, DAY_NANOS))
    );
    let before = f.net.cycle_balance(p);
    f.net.advance_time(Duration::from_secs(30 * 86_400));
    let charged = before - f.net.cycle_balance(p);
    assert_eq!(charged, storage_cost(memory, 30 * DAY_NANOS));
    // 329,184,000,000 cycles per GiB per 30 days.
    assert_eq!(storage_cost(1 << 30, 30 * DAY_NANOS), 329_184_000_000);
}

#[test]
fn a_take_that_cannot_pay_is_refused_with_ic0207_and_leaves_no_snapshot_behind() {
    let mut f = Fixture::new();
    let p = f.probe();
    let s = f.net.canister_status(p, None).unwrap();
    let per_day = u128::try_from(s.idle_cycles_burned_per_day.0.clone()).unwrap();
    // The freezing reserve (30 days of storage) plus less than a take costs (800 M).
    let reserve = per_day * 30 + per_day;
    assert!(instructions_cost(SNAPSHOT_BASE_INSTRUCTIONS) >= 800_000_000);
    f.net.set_cycle_balance(p, reserve + 300_000_000);
    let err = f.net.take_canister_snapshot(p, None, None).unwrap_err();
    assert_eq!(
        err.error_code,
        Some(ErrorCode::CanisterOutOfCycles),
        "{err}"
    );
    assert_eq!(err.reject_code, RejectCode::SysTransient, "{err}");
    assert!(err.reject_message.contains("out of cycles"), "{err}");
    f.net.add_cycles(p, 10_000_000_000);
    assert!(f.net.list_canister_snapshots(p, None).unwrap().is_empty());
    // The failed take used no snapshot number.
    let snap = f.net.take_canister_snapshot(p, None, None).unwrap();
    assert_eq!(&snap.id[..8], &0u64.to_be_bytes());
}

#[test]
fn a_frozen_canister_refuses_ingress_and_calls_until_it_is_topped_up() {
    let mut f = Fixture::new();
    let (p, caller) = (f.probe(), f.probe());
    f.net.set_cycle_balance(p, 1_000);
    let err = f.try_update::<_, u64>(p, "inc", ()).unwrap_err();
    assert_eq!(
        err.error_code,
        Some(ErrorCode::CanisterOutOfCycles),
        "{err}"
    );
    let out: CallOutcome = f.update(
        caller,
        "call",
        (
            p,
            "inc",
            ByteBuf::from(candid::encode_args(()).unwrap()),
            0u128,
        ),
    );
    let (code, message) = out.unwrap_err();
    assert_eq!(code, 2, "SYS_TRANSIENT: {message}");
    assert!(message.contains("out of cycles"), "{message}");
    f.net.add_cycles(p, 1_000_000_000_000);
    assert_eq!(f.update::<_, u64>(p, "inc", ()), 1);
}

#[test]
fn a_canister_that_runs_dry_is_uninstalled_and_its_snapshots_are_deleted() {
    let mut f = Fixture::new();
    let p = f.probe();
    f.net.take_canister_snapshot(p, None, None).unwrap();
    f.net.set_cycle_balance(p, 1_000);
    f.net.advance_time(Duration::from_secs(86_400));
    assert_eq!(f.net.cycle_balance(p), 0);
    f.net.add_cycles(p, 1_000_000_000_000);
    let status = f.net.canister_status(p, None).unwrap();
    assert_eq!(status.module_hash, None, "uninstalled");
    assert!(f.net.list_canister_snapshots(p, None).unwrap().is_empty());
}
