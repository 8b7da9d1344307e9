//! Probe canister for localnet's conformance suite (localnet/tests/conformance.rs). Each
//! method exercises one behaviour of the IC: per-message rollback, callbacks and cleanup,
//! self-calls, timers, bounded-wait calls, upgrade hooks. State is deliberately simple: a few
//! counters in the heap and raw stable memory, so tests can tell exactly what survived.

use candid::Principal;
use ic_cdk::api;
use ic_cdk::call::{Call, CallFailed};
use ic_cdk::{init, inspect_message, post_upgrade, pre_upgrade, query, update};
use serde_bytes::ByteBuf;
use std::cell::{Cell, RefCell};
use std::time::Duration;

thread_local! {
    static COUNTER: Cell<u64> = const { Cell::new(0) };
    static AFTER_AWAIT: Cell<u64> = const { Cell::new(0) };
    static GUARDS_DROPPED: Cell<u64> = const { Cell::new(0) };
    static TIMER_FIRED: Cell<u64> = const { Cell::new(0) };
    static TRAP_IN_PRE_UPGRADE: Cell<bool> = const { Cell::new(false) };
    static HOOKS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    static LOG: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// What a forwarded call returned: reply bytes, or (reject code, message).
type CallOutcome = Result<ByteBuf, (u32, String)>;

fn outcome(r: Result<ic_cdk::call::Response, CallFailed>) -> CallOutcome {
    match r {
        Ok(bytes) => Ok(ByteBuf::from(bytes.into_bytes())),
        Err(CallFailed::CallRejected(rej)) => {
            Err((rej.raw_reject_code(), rej.reject_message().to_string()))
        }
        Err(other) => Err((0, other.to_string())),
    }
}

fn hook(name: &str) {
    HOOKS.with(|h| h.borrow_mut().push(name.to_string()));
}

#[init]
fn init(start: Option<u64>) {
    COUNTER.set(start.unwrap_or(0));
    hook("init");
}

/// Saves the counter to stable memory (bytes 0..8); traps when asked to.
#[pre_upgrade]
fn pre_upgrade() {
    if TRAP_IN_PRE_UPGRADE.get() {
        ic_cdk::trap("pre_upgrade asked to trap");
    }
    if api::stable_size() == 0 {
        api::stable_grow(1);
    }
    api::stable_write(0, &COUNTER.get().to_le_bytes());
}

/// Restores the counter; traps when the argument says so.
#[post_upgrade]
fn post_upgrade(trap: Option<bool>) {
    if trap == Some(true) {
        ic_cdk::trap("post_upgrade asked to trap");
    }
    let mut buf = [0u8; 8];
    if api::stable_size() > 0 {
        api::stable_read(0, &mut buf);
    }
    COUNTER.set(u64::from_le_bytes(buf));
    hook("post_upgrade");
}

#[inspect_message]
fn inspect_message() {
    if api::msg_method_name() != "forbidden" {
        api::accept_message();
    }
}

#[update]
fn forbidden() {}

#[update]
fn inc() -> u64 {
    COUNTER.set(COUNTER.get() + 1);
    COUNTER.get()
}

#[query]
fn get() -> u64 {
    COUNTER.get()
}

#[query]
fn hooks() -> Vec<String> {
    HOOKS.with(|h| h.borrow().clone())
}

#[query]
fn version() -> String {
    if cfg!(feature = "v2") {
        "v2".into()
    } else {
        "v1".into()
    }
}

#[update]
fn set_trap_in_pre_upgrade(on: bool) {
    TRAP_IN_PRE_UPGRADE.set(on);
}

/// Changes every kind of state, makes a call, then traps: none of it may survive.
#[update]
fn inc_then_trap() {
    COUNTER.set(COUNTER.get() + 1);
    if api::stable_size() == 0 {
        api::stable_grow(1);
    }
    api::stable_write(100, b"must not persist");
    api::certified_data_set(b"must not persist");
    api::global_timer_set(api::time() + 1_000_000_000);
    let _ = Call::unbounded_wait(api::canister_self(), "inc").oneway();
    ic_cdk::trap("inc_then_trap traps");
}

#[update]
fn stable_write(offset: u64, bytes: ByteBuf) {
    let need = (offset + bytes.len() as u64).div_ceil(65536);
    if api::stable_size() < need {
        api::stable_grow(need - api::stable_size());
    }
    api::stable_write(offset, &bytes);
}

#[query]
fn stable_read(offset: u64, len: u64) -> ByteBuf {
    let mut buf = vec![0; len as usize];
    api::stable_read(offset, &mut buf);
    ByteBuf::from(buf)
}

#[update]
fn set_certified(bytes: ByteBuf) {
    api::certified_data_set(&bytes);
}

struct Guard;
impl Drop for Guard {
    fn drop(&mut self) {
        GUARDS_DROPPED.set(GUARDS_DROPPED.get() + 1);
    }
}

/// Commits +1 before the await, then traps in the callback with a drop guard alive: the
/// cleanup callback must drop the future (running the guard) and the post-await change must
/// roll back.
#[update]
async fn call_then_trap(target: Principal) {
    let _guard = Guard;
    COUNTER.set(COUNTER.get() + 1);
    let _ = Call::unbounded_wait(target, "inc").await;
    AFTER_AWAIT.set(AFTER_AWAIT.get() + 1);
    ic_cdk::trap("trap after await");
}

#[query]
fn after_await() -> u64 {
    AFTER_AWAIT.get()
}

#[query]
fn guards_dropped() -> u64 {
    GUARDS_DROPPED.get()
}

/// Forwards a call (unbounded wait) with raw argument bytes.
#[update]
async fn call(target: Principal, method: String, arg: ByteBuf, cycles: u128) -> CallOutcome {
    outcome(
        Call::unbounded_wait(target, &method)
            .with_raw_args(&arg)
            .with_cycles(cycles)
            .await,
    )
}

/// Forwards a bounded-wait call.
#[update]
async fn call_bounded(
    target: Principal,
    method: String,
    arg: ByteBuf,
    timeout_seconds: u32,
) -> CallOutcome {
    outcome(
        Call::bounded_wait(target, &method)
            .with_raw_args(&arg)
            .change_timeout(timeout_seconds)
            .await,
    )
}

/// A one-way call: no callback (u32::MAX indices).
#[update]
fn oneway(target: Principal, method: String) {
    Call::unbounded_wait(target, &method)
        .oneway()
        .expect("oneway call");
}

/// A self-call to `inc`.
#[update]
async fn self_inc() -> u64 {
    let r = Call::unbounded_wait(api::canister_self(), "inc")
        .await
        .expect("self-call");
    r.candid::<u64>().expect("decode")
}

/// Schedules an ic-cdk-timers timer (which runs through a self-call).
#[update]
fn timer_after(seconds: u64) {
    ic_cdk_timers::set_timer(Duration::from_secs(seconds), async {
        TIMER_FIRED.set(TIMER_FIRED.get() + 1);
    });
}

#[query]
fn timer_fired() -> u64 {
    TIMER_FIRED.get()
}

#[query]
fn caller() -> Principal {
    api::msg_caller()
}

#[query]
fn balance() -> u128 {
    api::canister_cycle_balance()
}

/// Runs a loop of `n` iterations and reports the instruction counter.
#[update]
fn burn(n: u64) -> u64 {
    let mut x = 0u64;
    for i in 0..n {
        x = std::hint::black_box(x.wrapping_add(i));
    }
    std::hint::black_box(x);
    api::performance_counter(0)
}

/// Replies with a canister-level reject.
#[update(manual_reply = true)]
fn reject(message: String) {
    api::msg_reject(message);
}

#[query]
fn canister_version() -> u64 {
    api::canister_version()
}

/// Records `x` in arrival order.
#[update]
fn append(x: u64) {
    LOG.with(|l| l.borrow_mut().push(x));
}

#[query]
fn log() -> Vec<u64> {
    LOG.with(|l| l.borrow().clone())
}

/// Sends `append(0..n)` to `target` as `n` one-way calls from one message: the IC delivers
/// requests of one (caller, callee) pair in order.
#[update]
fn fan_out(target: Principal, n: u64) {
    for i in 0..n {
        Call::unbounded_wait(target, "append")
            .with_arg(i)
            .oneway()
            .expect("oneway call");
    }
}
