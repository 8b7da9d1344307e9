//! Execution in rounds, as a replica does it ([`super::ReplicaConfig::round`] > 0; off by default in
//! the library, on by default in the `localnet` server binary).
//!
//! A real subnet agrees on a block about once a second, executes it, and certifies the state at
//! the end of the round; only then can a client read the replies. So, at every round boundary:
//!
//! 1. the state is committed to the state directory and then the replies of the messages
//!    executed at the previous boundary are released (their waiters woken, `read_state` shows
//!    them), both by the replica's group commit ([`Shared::commit_and_release`]): rounds decide
//!    when a batch is released, the commit makes its state durable first. A reply is never
//!    visible before the round after the one that executed it, nor before that state is on disk
//!    (a failed commit holds the batch until a later boundary's commit succeeds);
//! 2. the ingress messages that arrived since the previous boundary are executed — calls to
//!    canisters, and management-canister calls within the round's budget (below); whatever the
//!    executed messages call in turn (inter-canister, management) runs in the same round, as in
//!    the replica's inner iterations.
//!
//! When the replica stops, the batch executed but not yet released gets no reply (the last
//! commit, at shutdown, keeps its state): like any request open at shutdown, it was never
//! acknowledged.
//!
//! A message arriving just before a boundary waits about one round for its reply; one arriving
//! just after waits almost two. Replies come out in batches, one round apart — what a client
//! holding reads in file order stalls on, and what a constant-latency proxy does not show.
//!
//! The budget: the replica gives subnet (management-canister) messages 1/16 of the round's
//! instruction limit — `max_instructions_per_round` is 4 B on an application subnet, so 250 M
//! (dfinity/ic `rs/config/src/subnet_config.rs`, `SUBNET_MESSAGES_LIMIT_FRACTION` in
//! `rs/execution_environment/src/scheduler.rs`). Reading or uploading snapshot data costs a
//! baseline of 5 M instructions (`DEFAULT_CANISTERS_SNAPSHOT_DATA_BASELINE_INSTRUCTIONS`) plus
//! a part proportional to the bytes, which we take as one instruction per byte (inferred, not
//! read from the source); taking or loading a snapshot costs 2 B. A budgeted message runs if the
//! budget is not yet spent when its turn comes (so a 2 B one runs alone, first in a round), the
//! rest wait for later rounds in arrival order. Other management methods (status, settings)
//! are not counted, as in the replica. So a 2 MB read costs 7 M and at most 36 run per round.
//! Only ingress management calls are budgeted; those a canister makes run when it makes them.

use super::replica::{Finished, IngressHistory, Shared};
use crate::LocalNet;
use candid::Principal;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The replica's subnet-message share of an application subnet's round:
/// `max_instructions_per_round / SUBNET_MESSAGES_LIMIT_FRACTION` = 4 B / 16.
pub const SUBNET_MESSAGE_INSTRUCTIONS_PER_ROUND: u64 = 4_000_000_000 / 16;

/// Baseline cost of reading or uploading snapshot data.
const SNAPSHOT_DATA_BASELINE: u64 = 5_000_000;
/// Baseline cost of taking or loading a snapshot.
const SNAPSHOT_BASELINE: u64 = 2_000_000_000;
/// The most bytes one snapshot read returns (the IC's limit).
const MAX_SNAPSHOT_READ_BYTES: u64 = 2_000_000;
/// Inner iterations per round: messages produced during the round run in it, up to this many
/// times (a canister calling itself forever cannot stall the driver).
const MAX_ITERATIONS: usize = 100;

/// What a management call costs against the round's budget (`None`: not counted).
fn cost(method: &str, arg_len: usize) -> Option<u64> {
    match method {
        "read_canister_snapshot_data" => Some(SNAPSHOT_DATA_BASELINE + MAX_SNAPSHOT_READ_BYTES),
        "upload_canister_snapshot_data" => Some(SNAPSHOT_DATA_BASELINE + arg_len as u64),
        "take_canister_snapshot" | "load_canister_snapshot" => Some(SNAPSHOT_BASELINE),
        _ => None,
    }
}

/// An ingress call to the management canister, accepted and waiting for a round.
struct Deferred {
    request_id: [u8; 32],
    sender: Principal,
    method: String,
    arg: Vec<u8>,
    /// The envelope's `ingress_expiry` (ns).
    expiry: u64,
}

/// The round state shared with the HTTP handlers: management calls waiting for a round.
#[derive(Default)]
pub(crate) struct Inbox {
    waiting: Mutex<VecDeque<Deferred>>,
}

impl Inbox {
    /// Queues an accepted management call for the next round with budget left.
    pub(crate) fn defer(
        &self,
        request_id: [u8; 32],
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
        expiry: u64,
    ) {
        self.waiting
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(Deferred {
                request_id,
                sender,
                method: method.to_string(),
                arg,
                expiry,
            });
    }

    /// Moves waiting calls into the subnet, in arrival order, while the budget lasts. A call the
    /// subnet refuses at once joins `results` (released with the round's batch, like any reply),
    /// and so does one whose expiry passed while it waited: it is not executed and fails with
    /// IC0202, as the replica purges expired ingress at the start of a round.
    fn admit(
        &self,
        net: &mut LocalNet,
        ingress: &mut IngressHistory,
        budget: u64,
        results: &mut Finished,
    ) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        let mut left = budget as i128;
        let now = net.time_nanos();
        waiting.retain(|d| {
            if d.expiry >= now {
                return true;
            }
            results.push((d.request_id, Err(expired(&d.request_id))));
            false
        });
        while let Some(d) = waiting.front() {
            let c = cost(&d.method, d.arg.len());
            if c.is_some() && left <= 0 {
                break;
            }
            left -= i128::from(c.unwrap_or(0));
            let d = waiting.pop_front().expect("not empty");
            let submitted = net.submit_ingress(
                crate::MANAGEMENT_CANISTER,
                d.sender,
                &d.method,
                d.arg,
                d.expiry,
                &d.request_id,
            );
            match submitted {
                Ok(id) => ingress.track(id, d.request_id),
                Err(reject) => results.push((d.request_id, Err(reject))),
            }
        }
    }
}

/// The replica's refusal of an ingress message that expired before it started executing
/// (dfinity/ic `rs/execution_environment/src/scheduler.rs`, `purge_expired_ingress_messages`).
fn expired(request_id: &[u8; 32]) -> crate::RejectResponse {
    crate::RejectResponse::system(
        crate::ErrorCode::IngressMessageTimeout,
        format!(
            "Ingress message {} timed out waiting to start executing.",
            hex::encode(request_id)
        ),
    )
}

/// The driver in rounds: sleeps to each boundary, then commits and releases the previous
/// round's batch, admits and executes.
pub(crate) fn drive(shared: &Shared, round: Duration) {
    let mut boundary = Instant::now() + round;
    // Results of the round executed at the previous boundary, released at the next one.
    let mut batch: Finished = Vec::new();
    while shared.sleep_until(boundary) {
        // Never burst to catch up after a stall: the next boundary is a round from now.
        boundary = (boundary + round).max(Instant::now());
        let mut net = shared.net();
        shared.sync_clock(&mut net);
        // 1. Commit what the previous round executed, then release its batch (a failed commit
        //    is reported inside and keeps the batch for the next boundary's commit).
        let _ = shared.commit_and_release(&net, std::mem::take(&mut batch));
        // 2. Admit management calls within the budget; execute everything that arrived.
        let budget = shared.config.round_subnet_instructions;
        shared
            .inbox
            .admit(&mut net, &mut shared.ingress(), budget, &mut batch);
        // `ingress` is free while the round executes: `read_state` and waiters are not held up.
        net.tick();
        for _ in 1..MAX_ITERATIONS {
            if net.pending_messages() <= net.held_calls().len() {
                break;
            }
            net.tick();
        }
        // 3. Hold this round's results until the next boundary.
        batch.extend(shared.ingress().take_finished(&mut net));
    }
}

/// The round length from `LOCALNET_ROUND_MS` (unset or unreadable: 0, no rounds), so a test
/// suite can run against rounds without code changes.
pub fn round_from_env() -> Duration {
    std::env::var("LOCALNET_ROUND_MS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map_or(Duration::ZERO, Duration::from_millis)
}
