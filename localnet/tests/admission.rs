//! What the replica admits, and until when (issue 14):
//!
//! * **Ingress expiry.** An ingress message still queued when a round starts after its
//!   `ingress_expiry` is not executed: it fails with IC0202 `IngressMessageTimeout` (reject code
//!   2, SYS_TRANSIENT), "Ingress message <request id> timed out waiting to start executing." —
//!   code and text from dfinity/ic `rs/execution_environment/src/scheduler.rs`
//!   (`purge_expired_ingress_messages`, run at the start of every round), not observed on a
//!   replica. Queued means held (fault injection), waiting for a round (`--round-ms`) or for
//!   the round's management budget.
//! * **Custom sections.** At install the replica allows at most 16 `icp:` custom sections
//!   (canister metadata), 1 MiB of them in total (payloads plus names), each named
//!   `icp:public <name>` or `icp:private <name>`, names unique; other custom sections are not
//!   its business. A module that breaks a rule is refused with IC0505 `CanisterInvalidWasm`
//!   (reject code 5). Rules and texts from dfinity/ic `rs/embedders/src/wasm_utils/validation.rs`
//!   (`validate_custom_section`) and `rs/config/src/embedders.rs`; the "Canister's Wasm module
//!   is not valid: " prefix is localnet's existing inference.

use candid::{Encode, Principal};
use ic_agent::agent::RejectCode as AgentRejectCode;
use ic_agent::{Agent, AgentError};
use localnet::http::{Keys, ReplicaConfig, Server};
use localnet::{CallFilter, ErrorCode, LocalNet, RejectCode};
use std::time::Duration;

/// A counter canister: `inc` adds one, `get` replies with the count (4 bytes).
fn counter() -> Vec<u8> {
    wat::parse_str(
        r#"(module
          (import "ic0" "msg_reply" (func $reply))
          (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
          (memory 1)
          (func (export "canister_update inc")
            (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const 1)))
            (call $reply))
          (func (export "canister_query get")
            (call $append (i32.const 0) (i32.const 4))
            (call $reply)))"#,
    )
    .expect("valid wat")
}

fn count(net: &mut LocalNet, id: Principal) -> u32 {
    let r = net
        .query_call(id, Principal::anonymous(), "get", vec![])
        .expect("get");
    u32::from_le_bytes(r[..4].try_into().unwrap())
}

fn assert_timed_out(reject: &localnet::RejectResponse) {
    assert_eq!(reject.reject_code, RejectCode::SysTransient);
    assert_eq!(reject.error_code, Some(ErrorCode::IngressMessageTimeout));
    assert!(
        reject.reject_message.starts_with("Ingress message ")
            && reject
                .reject_message
                .ends_with(" timed out waiting to start executing."),
        "{}",
        reject.reject_message
    );
}

// ----- ingress expiry, in the library ----------------------------------------------------------

#[test]
fn a_held_ingress_message_whose_expiry_passes_is_not_executed_and_fails_with_ic0202() {
    let mut net = LocalNet::new();
    let id = net.create_canister();
    net.install_canister(id, counter(), vec![], None);
    net.hold_calls(CallFilter {
        callee: Some(id),
        ..Default::default()
    });
    let now = net.time_nanos();
    let short = net
        .submit_call_with_expiry(
            id,
            Principal::anonymous(),
            "inc",
            vec![],
            now + 60_000_000_000,
        )
        .unwrap();
    let long = net
        .submit_call_with_expiry(
            id,
            Principal::anonymous(),
            "inc",
            vec![],
            now + 300_000_000_000,
        )
        .unwrap();
    net.advance_time(Duration::from_secs(120));
    net.tick();
    assert_timed_out(&net.ingress_status(short).expect("a status").unwrap_err());
    // The one still within its expiry waits on; released, it runs (once).
    let held = net.held_calls();
    assert_eq!(held.len(), 1, "only the unexpired message is still queued");
    net.release_call(held[0].id);
    net.await_call(long).expect("the unexpired message runs");
    assert_eq!(count(&mut net, id), 1);
}

#[test]
fn a_queued_ingress_message_whose_expiry_passes_before_the_next_round_is_dropped() {
    let mut net = LocalNet::new();
    let id = net.create_canister();
    net.install_canister(id, counter(), vec![], None);
    let expiry = net.time_nanos() + 10_000_000_000;
    let msg = net
        .submit_call_with_expiry(id, Principal::anonymous(), "inc", vec![], expiry)
        .unwrap();
    net.advance_time(Duration::from_secs(11));
    assert_timed_out(&net.await_call(msg).unwrap_err());
    assert_eq!(count(&mut net, id), 0, "the expired message never ran");
    // Within its expiry a message runs as usual.
    let expiry = net.time_nanos() + 10_000_000_000;
    let msg = net
        .submit_call_with_expiry(id, Principal::anonymous(), "inc", vec![], expiry)
        .unwrap();
    net.await_call(msg).unwrap();
    assert_eq!(count(&mut net, id), 1);
}

// ----- ingress expiry, over HTTP (real ic-agent) -----------------------------------------------

/// An anonymous agent (anonymous controls canisters made by `create_canister`) whose messages
/// expire `expiry` after they are sent.
async fn agent(server: &Server, expiry: Duration) -> Agent {
    let agent = Agent::builder()
        .with_url(server.url())
        .with_ingress_expiry(expiry)
        .build()
        .expect("an agent");
    agent.fetch_root_key().await.expect("fetch_root_key");
    agent
}

fn reject_of(e: AgentError) -> ic_agent::agent::RejectResponse {
    match e {
        AgentError::CertifiedReject { reject, .. } => reject,
        other => panic!("expected a certified reject, got {other}"),
    }
}

fn assert_agent_timed_out(reject: &ic_agent::agent::RejectResponse) {
    assert_eq!(reject.reject_code, AgentRejectCode::SysTransient);
    assert_eq!(reject.error_code.as_deref(), Some("IC0202"));
    assert!(
        reject
            .reject_message
            .ends_with(" timed out waiting to start executing."),
        "{}",
        reject.reject_message
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn over_http_a_held_call_past_its_expiry_is_certified_as_rejected_with_ic0202() {
    let server = Server::start(
        LocalNet::new(),
        Keys::from_seed(b"admission tests"),
        ReplicaConfig::default(),
        0,
    )
    .expect("start the server");
    let id = server.replica().with_net(|net| {
        let id = net.create_canister();
        net.install_canister(id, counter(), vec![], None);
        net.hold_calls(CallFilter {
            callee: Some(id),
            ..Default::default()
        });
        id
    });
    let agent = agent(&server, Duration::from_secs(2)).await;
    let err = agent
        .update(&id, "inc")
        .with_arg(Vec::<u8>::new())
        .call_and_wait()
        .await
        .unwrap_err();
    let reject = reject_of(err);
    assert_agent_timed_out(&reject);
    server.replica().with_net(|net| {
        assert!(
            net.held_calls().is_empty(),
            "the expired call left the queue"
        );
        assert_eq!(count(net, id), 0, "and never ran");
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn in_rounds_a_management_call_that_waits_past_its_expiry_for_budget_fails_with_ic0202() {
    // A round budget of zero: a snapshot take (2 B instructions) never gets its turn.
    let config = ReplicaConfig {
        round: Duration::from_millis(200),
        round_subnet_instructions: 0,
        ..ReplicaConfig::default()
    };
    let server = Server::start(LocalNet::new(), Keys::from_seed(b"admission"), config, 0)
        .expect("start the server");
    let id = server.replica().with_net(|net| {
        let id = net.create_canister();
        net.install_canister(id, counter(), vec![], None);
        id
    });
    let agent = agent(&server, Duration::from_secs(2)).await;
    let args = ic_management_canister_types::TakeCanisterSnapshotArgs {
        canister_id: id,
        replace_snapshot: None,
        uninstall_code: None,
        sender_canister_version: None,
    };
    let err = agent
        .update(&Principal::management_canister(), "take_canister_snapshot")
        .with_effective_canister_id(id)
        .with_arg(Encode!(&args).unwrap())
        .call_and_wait()
        .await
        .unwrap_err();
    assert_agent_timed_out(&reject_of(err));
    server.replica().with_net(|net| {
        assert!(net.list_canister_snapshots(id, None).unwrap().is_empty());
    });
}

// ----- custom sections --------------------------------------------------------------------------

fn leb128(mut v: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// `wasm` with custom sections `(name, payload size)` appended.
fn with_sections(mut wasm: Vec<u8>, sections: &[(String, usize)]) -> Vec<u8> {
    for (name, size) in sections {
        let mut body = Vec::new();
        leb128(name.len(), &mut body);
        body.extend_from_slice(name.as_bytes());
        body.extend(std::iter::repeat_n(0xab, *size));
        wasm.push(0);
        leb128(body.len(), &mut wasm);
        wasm.extend(body);
    }
    wasm
}

fn icp_sections(n: usize) -> Vec<(String, usize)> {
    (0..n)
        .map(|i| {
            let scope = if i % 2 == 0 { "public" } else { "private" };
            (format!("icp:{scope} s{i}"), 10)
        })
        .collect()
}

/// Installs into a fresh canister: `Ok` or the refusal.
fn try_install(wasm: Vec<u8>) -> Result<(), localnet::RejectResponse> {
    let mut net = LocalNet::new();
    let id = net.create_canister();
    net.reinstall_canister(id, wasm, vec![], None)
}

fn assert_invalid_wasm(result: Result<(), localnet::RejectResponse>, text: &str) {
    let err = result.expect_err("the module is refused");
    assert_eq!(err.reject_code, RejectCode::CanisterError);
    assert_eq!(err.error_code, Some(ErrorCode::CanisterInvalidWasm));
    assert!(
        err.reject_message
            .contains("Canister's Wasm module is not valid: ")
            && err.reject_message.contains(text),
        "{}",
        err.reject_message
    );
}

#[test]
fn sixteen_icp_custom_sections_install_and_a_seventeenth_is_refused_with_ic0505() {
    try_install(with_sections(counter(), &icp_sections(16))).expect("16 are allowed");
    assert_invalid_wasm(
        try_install(with_sections(counter(), &icp_sections(17))),
        "Wasm module defined 17 custom sections which exceeds the maximum number allowed 16.",
    );
}

#[test]
fn icp_custom_sections_of_1_mib_in_total_install_and_one_byte_more_is_refused() {
    // Counted: payloads plus names without the scope prefix ("a" and "b": 1 byte each).
    let limit = 1 << 20;
    let fits = [
        ("icp:public a".to_string(), 1000),
        ("icp:private b".to_string(), limit - 1000 - 2),
    ];
    try_install(with_sections(counter(), &fits)).expect("exactly 1 MiB is allowed");
    let over = [
        ("icp:public a".to_string(), 1000),
        ("icp:private b".to_string(), limit - 1000 - 1),
    ];
    assert_invalid_wasm(
        try_install(with_sections(counter(), &over)),
        "Wasm module has an invalid custom section. Invalid custom sections: total size of the custom sections exceeds the maximum allowed: size 1048577 bytes, allowed 1048576 bytes",
    );
}

#[test]
fn an_icp_section_needs_a_public_or_private_scope_and_a_name_of_its_own() {
    assert_invalid_wasm(
        try_install(with_sections(counter(), &[("icp:secret x".into(), 1)])),
        "Invalid custom section: Custom section 'icp:secret x' has no public/private scope defined.",
    );
    assert_invalid_wasm(
        try_install(with_sections(counter(), &[("icp:public".into(), 1)])),
        "'icp:' section names must have a space after the public/private scope",
    );
    let twice = [
        ("icp:public candid:service".to_string(), 3),
        ("icp:private candid:service".to_string(), 3),
    ];
    assert_invalid_wasm(
        try_install(with_sections(counter(), &twice)),
        "Invalid custom section: name candid:service already exists",
    );
}

#[test]
fn custom_sections_outside_icp_are_not_counted_against_the_limits() {
    let mut sections: Vec<(String, usize)> = (0..20).map(|i| (format!("name{i}"), 100)).collect();
    sections.push(("keepsake:padding".into(), 2 << 20));
    sections.extend(icp_sections(16));
    try_install(with_sections(counter(), &sections)).expect("only icp: sections count");
}
