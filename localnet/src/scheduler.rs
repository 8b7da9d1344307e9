//! Message ordering. The IC guarantees only that requests between one (caller, callee) pair are
//! delivered in the order they were made; responses, and requests of different pairs, may
//! interleave in any order. The queue keeps every waiting message in arrival order and a
//! message is *eligible* when it is not held and no earlier request of its pair is waiting.
//! The policy chooses among eligible messages:
//!
//! * [`SchedulerPolicy::Fifo`] (default): the oldest eligible message — deterministic.
//! * [`SchedulerPolicy::Random`]: a seeded pseudo-random eligible message, to shake out
//!   interleaving bugs reproducibly.
//! * [`SchedulerPolicy::Manual`]: like FIFO, and meant to be used with holds: requests matching
//!   a [`CallFilter`] wait until the test releases, rejects or times them out.

use crate::canister::{Message, Request};
use candid::Principal;
use std::collections::{BTreeSet, HashSet, VecDeque};

/// How the next message is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedulerPolicy {
    /// Oldest eligible message first.
    Fifo,
    /// Seeded random choice among eligible messages.
    Random {
        /// Seed; the same seed gives the same interleaving.
        seed: u64,
    },
    /// FIFO plus holds (see [`crate::LocalNet::hold_calls`]).
    Manual,
}

/// Which inter-canister requests to hold. `None` fields match anything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallFilter {
    /// Caller.
    pub caller: Option<Principal>,
    /// Callee (use `Principal::management_canister()` for management calls).
    pub callee: Option<Principal>,
    /// Method name.
    pub method: Option<String>,
}

impl CallFilter {
    fn matches(&self, r: &Request) -> bool {
        self.caller.is_none_or(|c| c == r.sender)
            && self.callee.is_none_or(|c| c == r.receiver)
            && self.method.as_ref().is_none_or(|m| *m == r.method)
    }
}

/// A request waiting on a hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldCall {
    /// Handle for release / reject / time out.
    pub id: u64,
    /// Caller.
    pub caller: Principal,
    /// Callee.
    pub callee: Principal,
    /// Method.
    pub method: String,
    /// Argument bytes.
    pub arg: Vec<u8>,
}

/// The subnet's message queue and policy.
pub struct Scheduler {
    queue: VecDeque<Message>,
    policy: SchedulerPolicy,
    rng: u64,
    holds: Vec<CallFilter>,
    held: BTreeSet<u64>,
}

impl Scheduler {
    /// An empty queue.
    pub fn new(policy: SchedulerPolicy) -> Self {
        let mut s = Scheduler {
            queue: VecDeque::new(),
            policy,
            rng: 0,
            holds: Vec::new(),
            held: BTreeSet::new(),
        };
        s.set_policy(policy);
        s
    }

    /// Replaces the policy (re-seeding the generator for `Random`).
    pub fn set_policy(&mut self, policy: SchedulerPolicy) {
        self.policy = policy;
        if let SchedulerPolicy::Random { seed } = policy {
            self.rng = seed ^ 0x9E37_79B9_7F4A_7C15;
        }
    }

    /// Adds a hold filter.
    pub fn hold(&mut self, filter: CallFilter) {
        self.holds.push(filter);
    }

    /// Removes all hold filters.
    pub fn clear_holds(&mut self) {
        self.holds.clear();
    }

    /// Enqueues a message (held if it is a request matching a hold).
    pub fn push(&mut self, msg: Message) {
        if let Message::Request(r) = &msg
            && self.holds.iter().any(|f| f.matches(r))
        {
            self.held.insert(r.id);
        }
        self.queue.push_back(msg);
    }

    /// Messages waiting.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    fn eligible(&self) -> Vec<usize> {
        let mut blocked_pairs = HashSet::new();
        let mut out = Vec::new();
        for (i, msg) in self.queue.iter().enumerate() {
            match msg {
                Message::Request(r) => {
                    let fresh = blocked_pairs.insert((r.sender, r.receiver));
                    if fresh && !self.held.contains(&r.id) {
                        out.push(i);
                    }
                }
                Message::Response(_) => out.push(i),
            }
        }
        out
    }

    /// Whether some message can run.
    pub fn has_eligible(&self) -> bool {
        !self.eligible().is_empty()
    }

    /// Removes and returns the next message per the policy.
    pub fn pick(&mut self) -> Option<Message> {
        let eligible = self.eligible();
        let index = match self.policy {
            SchedulerPolicy::Fifo | SchedulerPolicy::Manual => *eligible.first()?,
            SchedulerPolicy::Random { .. } => {
                if eligible.is_empty() {
                    return None;
                }
                eligible[(self.next_random() % eligible.len() as u64) as usize]
            }
        };
        self.queue.remove(index)
    }

    /// splitmix64: tiny, seeded, good enough to shuffle interleavings.
    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Requests currently held.
    pub fn held_calls(&self) -> Vec<HeldCall> {
        self.queue
            .iter()
            .filter_map(|m| match m {
                Message::Request(r) if self.held.contains(&r.id) => Some(HeldCall {
                    id: r.id,
                    caller: r.sender,
                    callee: r.receiver,
                    method: r.method.clone(),
                    arg: r.arg.clone(),
                }),
                _ => None,
            })
            .collect()
    }

    /// Releases a held request.
    pub fn release(&mut self, id: u64) -> bool {
        self.held.remove(&id)
    }

    /// Removes a held request from the queue.
    pub fn take_held(&mut self, id: u64) -> Option<Request> {
        if !self.held.remove(&id) {
            return None;
        }
        let index = self.queue.iter().position(|m| m.id() == id)?;
        match self.queue.remove(index) {
            Some(Message::Request(r)) => Some(r),
            _ => None,
        }
    }

    /// Whether a queued bounded-wait request has passed its deadline.
    pub fn has_expired(&self, now: u64) -> bool {
        self.queue
            .iter()
            .any(|m| matches!(m, Message::Request(r) if r.deadline != 0 && r.deadline <= now))
    }

    /// Removes the queued requests (held or not) that match `pred`.
    pub fn take_requests(&mut self, pred: impl Fn(&Request) -> bool) -> Vec<Request> {
        let mut taken = Vec::new();
        self.queue.retain(|m| match m {
            Message::Request(r) if pred(r) => {
                taken.push(r.clone());
                false
            }
            _ => true,
        });
        for r in &taken {
            self.held.remove(&r.id);
        }
        taken
    }

    /// Removes bounded-wait requests whose deadline passed before delivery.
    pub fn take_expired(&mut self, now: u64) -> Vec<Request> {
        let mut expired = Vec::new();
        self.queue.retain(|m| match m {
            Message::Request(r) if r.deadline != 0 && r.deadline <= now => {
                expired.push(r.clone());
                false
            }
            _ => true,
        });
        for r in &expired {
            self.held.remove(&r.id);
        }
        expired
    }
}
