//! [`Replica`]: a [`LocalNet`] made to behave like a replica node behind the HTTP interface.
//!
//! It owns the subnet (behind a mutex), the ingress history (request id → status, as the
//! `request_status` subtree of the state tree shows it) and a driver thread that plays the role
//! of consensus: it keeps the subnet's clock on the wall clock (certificates' `/time` must be
//! fresh for ic-agent) and executes rounds while messages are waiting, plus one idle round per
//! second so timers and heartbeats fire — or, with [`ReplicaConfig::round`], executes on a
//! replica's schedule instead ([`super::rounds`]). Either way every reply goes out through one
//! group commit ([`Shared::commit_and_release`]). Each round is one short critical section;
//! HTTP handlers take the lock only to submit a message, run a query or read a few canister
//! fields, and do their CBOR and crypto work outside it.
//!
//! Lock order: `net`, then `durable`, then `ingress`, then the rounds inbox; never the other
//! way round.

use super::keys::Keys;
use crate::types::RejectResponse;
use crate::{LocalNet, MessageId};
use candid::Principal;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::oneshot;

/// Tunables of the HTTP interface.
#[derive(Clone, Debug)]
pub struct ReplicaConfig {
    /// How long a synchronous call (`/api/v3|v4/.../call`) waits for its result before answering
    /// 202 and leaving the client to poll `read_state`.
    pub sync_call_timeout: Duration,
    /// Largest accepted request body (larger ones get 413 before being read).
    pub max_request_bytes: usize,
    /// Largest ingress message (the IC's 2 MiB application-subnet limit).
    pub max_ingress_bytes: usize,
    /// Interval of the idle rounds that fire timers and heartbeats.
    pub idle_round: Duration,
    /// Reply bytes the ingress history keeps; beyond it the oldest replies turn into `done`
    /// (the IC keeps them until the message's expiry; a cap bounds memory during bulk
    /// downloads).
    pub retained_reply_bytes: usize,
    /// Where to keep the subnet across restarts ([`crate::persist`]). Every round is committed
    /// there before the replies of the messages it finished are released (group commit), so
    /// an acknowledged update survives a crash. `None`: nothing is saved.
    pub state_dir: Option<std::path::PathBuf>,
    /// Execute in rounds of this length, like a replica ([`super::rounds`]); zero: execute as
    /// soon as messages arrive. Default: `LOCALNET_ROUND_MS`, else zero (the `localnet` server
    /// binary defaults to 1000 ms).
    pub round: Duration,
    /// With rounds: management-canister instructions per round (the replica's share for subnet
    /// messages on an application subnet).
    pub round_subnet_instructions: u64,
    /// Speak HTTP/2 as well as HTTP/1.1 on the same port (h2c: cleartext, chosen by the
    /// client's connection preface), as PocketIC's and a boundary node's servers do. `false`
    /// serves HTTP/1.1 only, like a replica behind an HTTP/1-only proxy.
    pub http2: bool,
}

impl Default for ReplicaConfig {
    fn default() -> Self {
        ReplicaConfig {
            sync_call_timeout: Duration::from_secs(10),
            max_request_bytes: 4 * 1024 * 1024,
            max_ingress_bytes: 2 * 1024 * 1024,
            idle_round: Duration::from_secs(1),
            retained_reply_bytes: 512 * 1024 * 1024,
            state_dir: None,
            round: super::rounds::round_from_env(),
            round_subnet_instructions: super::rounds::SUBNET_MESSAGE_INSTRUCTIONS_PER_ROUND,
            http2: true,
        }
    }
}

/// The status of an ingress message, as `request_status/<id>/status` reports it.
#[derive(Clone, Debug)]
pub(crate) enum IngressStatus {
    Processing,
    Replied(Arc<Vec<u8>>),
    Rejected(RejectResponse),
    Done,
}

impl IngressStatus {
    fn is_final(&self) -> bool {
        !matches!(self, IngressStatus::Processing)
    }
}

struct Entry {
    sender: Principal,
    receiver: Principal,
    expiry: u64,
    status: IngressStatus,
    waiters: Vec<oneshot::Sender<()>>,
}

/// The ingress history: every accepted call by request id.
#[derive(Default)]
pub(crate) struct IngressHistory {
    entries: HashMap<[u8; 32], Entry>,
    /// Submitted messages not finished yet.
    pending: HashMap<MessageId, [u8; 32]>,
    /// Finished replies, oldest first, and their total size.
    replies: VecDeque<[u8; 32]>,
    reply_bytes: usize,
    last_sweep: u64,
}

/// What `read_state` may learn about a request.
pub(crate) struct RequestInfo {
    pub sender: Principal,
    pub receiver: Principal,
    pub status: IngressStatus,
}

impl IngressHistory {
    pub(crate) fn info(&self, request_id: &[u8; 32]) -> Option<RequestInfo> {
        self.entries.get(request_id).map(|e| RequestInfo {
            sender: e.sender,
            receiver: e.receiver,
            status: e.status.clone(),
        })
    }

    /// Tracks a submitted message under its request id.
    pub(crate) fn track(&mut self, id: MessageId, request_id: [u8; 32]) {
        self.pending.insert(id, request_id);
    }

    /// Moves the results of every finished message out of the subnet, with their request ids
    /// (for [`Shared::commit_and_release`]; nothing is visible until it releases them).
    pub(crate) fn take_finished(&mut self, net: &mut LocalNet) -> Finished {
        let finished: Vec<(MessageId, [u8; 32])> = self
            .pending
            .iter()
            .filter(|(id, _)| net.ingress_status(**id).is_some())
            .map(|(id, rid)| (*id, *rid))
            .collect();
        finished
            .into_iter()
            .map(|(id, rid)| {
                self.pending.remove(&id);
                // The result is there: `await_call` returns it at once and drops localnet's copy.
                (rid, net.await_call(id))
            })
            .collect()
    }

    /// Gives the request its final status and wakes its waiters. Only
    /// [`Shared::commit_and_release`] calls it: a result is released once its state is durable.
    fn finish(
        &mut self,
        request_id: [u8; 32],
        result: Result<Vec<u8>, RejectResponse>,
        retain: usize,
    ) {
        let Some(entry) = self.entries.get_mut(&request_id) else {
            return;
        };
        entry.status = match result {
            Ok(bytes) => {
                self.reply_bytes += bytes.len();
                self.replies.push_back(request_id);
                IngressStatus::Replied(Arc::new(bytes))
            }
            Err(reject) => IngressStatus::Rejected(reject),
        };
        for waiter in entry.waiters.drain(..) {
            let _ = waiter.send(());
        }
        while self.reply_bytes > retain {
            let Some(oldest) = self.replies.pop_front() else {
                break;
            };
            self.forget_reply(&oldest);
        }
    }

    fn forget_reply(&mut self, request_id: &[u8; 32]) {
        if let Some(e) = self.entries.get_mut(request_id)
            && let IngressStatus::Replied(bytes) = &e.status
        {
            self.reply_bytes -= bytes.len();
            e.status = IngressStatus::Done;
        }
    }

    /// Past its expiry a finished message is `done`; five minutes later it is forgotten.
    fn sweep(&mut self, now: u64) {
        if now < self.last_sweep + 1_000_000_000 {
            return;
        }
        self.last_sweep = now;
        let forget_after = super::auth::MAX_INGRESS_TTL_NANOS;
        let expired: Vec<[u8; 32]> = self
            .entries
            .iter()
            .filter(|(_, e)| e.status.is_final() && e.expiry < now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.forget_reply(&id);
            if self.entries[&id].expiry.saturating_add(forget_after) < now {
                self.entries.remove(&id);
            }
        }
        let entries = &self.entries;
        self.replies.retain(|id| {
            entries
                .get(id)
                .is_some_and(|e| matches!(e.status, IngressStatus::Replied(_)))
        });
    }
}

/// State shared by the HTTP handlers and the driver thread.
pub(crate) struct Shared {
    pub net: Mutex<LocalNet>,
    pub ingress: Mutex<IngressHistory>,
    pub keys: Keys,
    pub config: ReplicaConfig,
    /// The subnet's clock as of the last round, readable without the `net` lock.
    clock: AtomicU64,
    wake: Condvar,
    woken: Mutex<bool>,
    stop: AtomicBool,
    /// With rounds: management calls waiting for a round with budget left.
    pub(crate) inbox: super::rounds::Inbox,
    /// The state directory and the results waiting for their round to be durable.
    /// Lock order: `net`, then `durable`, then `ingress`.
    durable: Mutex<Durable>,
}

/// Results of finished ingress messages, held back until the state that produced them is on
/// disk.
pub(crate) type Finished = Vec<([u8; 32], Result<Vec<u8>, RejectResponse>)>;

/// The group commit's state.
struct Durable {
    /// `None` without a state directory.
    store: Option<crate::persist::Store>,
    /// Finished messages whose round is not durable yet.
    unreleased: Finished,
    /// Whether the last commit failed (reported once until one succeeds).
    failing: bool,
}

/// The outcome of submitting a call.
pub(crate) enum Submitted {
    /// Newly accepted (or already known): wait for it.
    Accepted,
    /// Refused before execution (unknown canister, `canister_inspect_message`): not certified.
    Refused(RejectResponse),
}

/// Nanoseconds since the Unix epoch by the wall clock.
pub(crate) fn wall_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock (a localnet bug) must not take the whole server down.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn net(&self) -> MutexGuard<'_, LocalNet> {
        lock(&self.net)
    }

    pub(crate) fn ingress(&self) -> MutexGuard<'_, IngressHistory> {
        lock(&self.ingress)
    }

    /// The subnet's time: the wall clock, or later if the subnet's clock was moved ahead.
    /// Lock-free, so validating a request never waits for a round to finish.
    pub(crate) fn now(&self) -> u64 {
        wall_nanos().max(self.clock.load(Ordering::Acquire))
    }

    pub(crate) fn sync_clock(&self, net: &mut LocalNet) {
        net.set_time_nanos(wall_nanos());
        self.clock.fetch_max(net.time_nanos(), Ordering::AcqRel);
    }

    /// Sleeps until `deadline` (submissions do not wake it); false once the replica stops.
    pub(crate) fn sleep_until(&self, deadline: Instant) -> bool {
        let mut woken = lock(&self.woken);
        loop {
            if self.stop.load(Ordering::Acquire) {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            woken = self
                .wake
                .wait_timeout(woken, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn wake_driver(&self) {
        *lock(&self.woken) = true;
        self.wake.notify_one();
    }

    fn durable(&self) -> MutexGuard<'_, Durable> {
        lock(&self.durable)
    }

    /// The group-commit point (the only place replies are released): makes everything the
    /// subnet executed since the last commit durable in one atomic save, then releases the
    /// results of the ingress messages that finished meanwhile (`finished`, and any held back
    /// by an earlier failed commit) to the ingress history — from where the call endpoint
    /// answers and `read_state` certifies them. A failed save releases nothing: the results wait
    /// for the next round's commit, so no client is told of an update that a crash would lose.
    ///
    /// Called with the subnet locked (`net`), so no round runs while its state is written.
    /// Whoever changes the driver to run several rounds per iteration calls this once per
    /// iteration, after the rounds. The driver in rounds ([`super::rounds`]) calls it at each
    /// boundary with the batch the previous round finished: rounds decide when a batch is
    /// released, this makes its state durable first.
    pub(crate) fn commit_and_release(
        &self,
        net: &LocalNet,
        finished: Finished,
    ) -> std::io::Result<()> {
        let mut guard = self.durable();
        let durable = &mut *guard;
        durable.unreleased.extend(finished);
        if let Some(store) = durable.store.as_mut() {
            if let Err(e) = store.commit(net) {
                if !durable.failing {
                    eprintln!(
                        "localnet: cannot save the state to {}: {e}; replies are held until a save succeeds",
                        store.dir().display()
                    );
                }
                durable.failing = true;
                return Err(e);
            }
            durable.failing = false;
        }
        let results = std::mem::take(&mut durable.unreleased);
        drop(guard);
        let mut ingress = self.ingress();
        for (request_id, result) in results {
            ingress.finish(request_id, result, self.config.retained_reply_bytes);
        }
        ingress.sweep(net.time_nanos());
        Ok(())
    }

    /// Stops the driver thread (it finishes the iteration under way, whose commit is the last
    /// one) and commits whatever [`Replica::with_net`] changed after it.
    fn shutdown_driver_and_commit(&self, driver: &mut Option<JoinHandle<()>>) {
        self.stop.store(true, Ordering::Release);
        self.wake_driver();
        if let Some(driver) = driver.take() {
            let _ = driver.join();
            if let Err(e) = self.save() {
                eprintln!("localnet: saving the state failed: {e}");
            }
        }
    }

    /// Commits now (tests and shutdown).
    pub(crate) fn save(&self) -> std::io::Result<()> {
        let net = self.net();
        self.commit_and_release(&net, Vec::new())
    }

    /// Accepts an ingress call into the subnet, once per request id.
    pub(crate) fn submit(
        &self,
        request_id: [u8; 32],
        sender: Principal,
        canister: Principal,
        method: &str,
        arg: Vec<u8>,
        expiry: u64,
    ) -> Submitted {
        // 1. Claim the request id, so a resubmission (a client retry) is not executed twice.
        {
            let mut ingress = self.ingress();
            if ingress.entries.contains_key(&request_id) {
                return Submitted::Accepted;
            }
            ingress.entries.insert(
                request_id,
                Entry {
                    sender,
                    receiver: canister,
                    expiry,
                    status: IngressStatus::Processing,
                    waiters: Vec::new(),
                },
            );
        }
        // 2. In rounds, a management call waits for a round with budget left.
        if !self.config.round.is_zero() && canister == crate::MANAGEMENT_CANISTER {
            self.inbox.defer(request_id, sender, method, arg, expiry);
            return Submitted::Accepted;
        }
        // 3. Enqueue it (runs `canister_inspect_message`, which may refuse it).
        let mut net = self.net();
        self.sync_clock(&mut net);
        // The expiry goes along: a message still queued (held) past it is dropped, as the
        // replica drops expired ingress at the start of a round.
        let submitted = net.submit_ingress(canister, sender, method, arg, expiry, &request_id);
        let mut ingress = self.ingress();
        match submitted {
            Ok(id) => {
                ingress.pending.insert(id, request_id);
                drop(ingress);
                drop(net);
                self.wake_driver();
                Submitted::Accepted
            }
            Err(reject) => {
                ingress.entries.remove(&request_id);
                Submitted::Refused(reject)
            }
        }
    }

    /// Waits until the request has a final status, or `timeout` passes.
    pub(crate) async fn wait(&self, request_id: [u8; 32], timeout: Duration) -> bool {
        let rx = {
            let mut ingress = self.ingress();
            let Some(entry) = ingress.entries.get_mut(&request_id) else {
                return false;
            };
            if entry.status.is_final() {
                return true;
            }
            let (tx, rx) = oneshot::channel();
            entry.waiters.push(tx);
            rx
        };
        matches!(tokio::time::timeout(timeout, rx).await, Ok(Ok(())))
    }

    /// One iteration of the driver: sync the clock, run a round if there is work (or an idle
    /// round is due), take the results of finished ingress messages out of the subnet, and
    /// commit ([`Shared::commit_and_release`]). Returns whether messages were waiting and
    /// whether a round ran.
    fn drive_once(&self, idle_round_due: bool) -> (bool, bool) {
        let mut net = self.net();
        self.sync_clock(&mut net);
        // Held requests (fault injection through `with_net`) wait for a release, not a round.
        let busy = net.pending_messages() > net.held_calls().len();
        let ticked = busy || idle_round_due;
        if ticked {
            net.tick();
        }
        let results = self.ingress().take_finished(&mut net);
        // A failed commit is reported inside and retried on the next iteration.
        let _ = self.commit_and_release(&net, results);
        (busy, ticked)
    }
}

fn drive(shared: Arc<Shared>) {
    if !shared.config.round.is_zero() {
        return super::rounds::drive(&shared, shared.config.round);
    }
    let mut last_round = Instant::now();
    while !shared.stop.load(Ordering::Acquire) {
        let due = last_round.elapsed() >= shared.config.idle_round;
        let (busy, ticked) = shared.drive_once(due);
        if ticked {
            last_round = Instant::now();
        }
        if busy {
            // Let handlers waiting for the lock in between rounds.
            std::thread::yield_now();
            continue;
        }
        let woken = lock(&shared.woken);
        let (mut woken, _) = shared
            .wake
            .wait_timeout_while(woken, shared.config.idle_round, |w| {
                !*w && !shared.stop.load(Ordering::Acquire)
            })
            .unwrap_or_else(|e| e.into_inner());
        *woken = false;
    }
}

/// A [`LocalNet`] served like a replica: keys, ingress history and the driver thread.
/// Dropping it stops the driver.
pub struct Replica {
    pub(crate) shared: Arc<Shared>,
    driver: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica")
            .field("keys", &self.shared.keys)
            .finish_non_exhaustive()
    }
}

impl Replica {
    /// Wraps `net` and starts driving it on the wall clock. With a
    /// [`ReplicaConfig::state_dir`], `net` replaces whatever state the directory held; the
    /// driver's first commit writes it (load it first with [`crate::persist::load`] to keep it).
    pub fn new(mut net: LocalNet, keys: Keys, config: ReplicaConfig) -> std::io::Result<Replica> {
        net.jump_clock_nanos(wall_nanos());
        let store = match &config.state_dir {
            Some(dir) => Some(crate::persist::Store::create(dir)?),
            None => None,
        };
        let shared = Arc::new(Shared {
            net: Mutex::new(net),
            ingress: Mutex::new(IngressHistory::default()),
            clock: AtomicU64::new(0),
            keys,
            config,
            wake: Condvar::new(),
            woken: Mutex::new(false),
            stop: AtomicBool::new(false),
            inbox: Default::default(),
            durable: Mutex::new(Durable {
                store,
                unreleased: Vec::new(),
                failing: false,
            }),
        });
        // The state directory holds `net` before anyone can call it.
        shared.save()?;
        let driver = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("localnet-driver".into())
                .spawn(move || drive(shared))
                .expect("spawn the driver thread")
        };
        Ok(Replica {
            shared,
            driver: Some(driver),
        })
    }

    /// The subnet's keys (root key, subnet and node ids).
    pub fn keys(&self) -> &Keys {
        &self.shared.keys
    }

    /// Runs `f` on the subnet (setup in tests: installing canisters directly, moving time).
    pub fn with_net<R>(&self, f: impl FnOnce(&mut LocalNet) -> R) -> R {
        let r = {
            let mut net = self.shared.net();
            let r = f(&mut net);
            self.shared.sync_clock(&mut net);
            r
        };
        self.shared.wake_driver();
        r
    }

    /// Commits the subnet to [`ReplicaConfig::state_dir`] now. The driver commits every round
    /// anyway; this is for changes made through [`Replica::with_net`] that must be on disk
    /// before the next round.
    pub fn save(&self) -> std::io::Result<()> {
        self.shared.save()
    }

    /// Stops the driver after a last commit. Open requests get no reply (nothing unsaved is
    /// acknowledged); what the last commit holds survives. Also done on drop.
    pub fn shutdown(&mut self) {
        self.shared.shutdown_driver_and_commit(&mut self.driver);
    }

    /// The request handler over this replica (for a server or an in-process transport).
    pub fn handler(&self) -> super::HttpHandler {
        super::HttpHandler {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.shared.shutdown_driver_and_commit(&mut self.driver);
    }
}
