//! A fake management canister for native unit tests: canisters with a run status, a "state"
//! value, an installed wasm, a chunk store and snapshots with the IC's rules (10 per canister,
//! replace builds the new one before removing the old, ids = counter ‖ canister id). Any
//! method can be made to fail (a reject) or to panic (a trap in the orchestrator's callback)
//! on its next call, and every call yields once so that concurrent operations interleave.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use candid::Principal;
use orchestrator_api::CallFailure;
use sha2::{Digest, Sha256};

use crate::mgmt::{IcSnapshot, Management, ModuleStatus, RunStatus};

/// The wasm a fake canister must run for its health check to fail.
pub const UNHEALTHY_WASM: &[u8] = b"\0asm\x01\0\0\0unhealthy wasm";

/// A wasm (as far as the staging check looks) for a fake upgrade to v2.
pub const V2_WASM: &[u8] = b"\0asm\x01\0\0\0v2";

/// What a fake snapshot holds.
#[derive(Clone, Debug)]
pub struct SnapshotContent {
    pub listed: IcSnapshot,
    pub wasm: Vec<u8>,
    pub data: u64,
}

/// One fake canister.
#[derive(Clone, Debug)]
pub struct FakeCanister {
    pub status: RunStatus,
    pub controllers: Vec<Principal>,
    pub wasm: Vec<u8>,
    /// Stands for the canister's memories.
    pub data: u64,
    pub snapshots: Vec<SnapshotContent>,
    pub next_snapshot: u64,
    pub chunk_store: Vec<Vec<u8>>,
    /// `snapshot_visibility`'s allowed viewers (empty: controllers only).
    pub snapshot_viewers: Vec<Principal>,
}

/// The fake.
pub struct FakeManagement {
    pub self_id: Principal,
    pub now: Cell<u64>,
    pub canisters: RefCell<BTreeMap<Principal, FakeCanister>>,
    /// method name → how many more calls to let through before failing the next one.
    fail_at: RefCell<BTreeMap<&'static str, u32>>,
    panic_at: RefCell<Option<&'static str>>,
    /// Every call, in order: "method" (the canister is implied in these tests).
    pub calls: RefCell<Vec<&'static str>>,
    /// While set, calls wait (their reply is "in flight") until `release` is called.
    held: Cell<bool>,
    waiting: RefCell<Vec<Waker>>,
}

/// Waits while the fake holds its calls.
struct Held<'a>(&'a FakeManagement);

impl Future for Held<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0.held.get() {
            self.0.waiting.borrow_mut().push(cx.waker().clone());
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }
}

/// Resolves after returning `Pending` once, so a `LocalPool` switches tasks at every call.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

impl FakeManagement {
    pub fn new() -> Self {
        Self {
            self_id: Principal::from_slice(&[0xAA; 10]),
            now: Cell::new(1_700_000_000_000_000_000),
            canisters: RefCell::new(BTreeMap::new()),
            fail_at: RefCell::new(BTreeMap::new()),
            panic_at: RefCell::new(None),
            calls: RefCell::new(Vec::new()),
            held: Cell::new(false),
            waiting: RefCell::new(Vec::new()),
        }
    }

    /// From now on, calls wait for `release`.
    pub fn hold(&self) {
        self.held.set(true);
    }

    /// Lets held calls complete.
    pub fn release(&self) {
        self.held.set(false);
        for waker in self.waiting.borrow_mut().drain(..) {
            waker.wake();
        }
    }

    /// Adds a running canister controlled by the orchestrator.
    pub fn add_canister(&self, n: u8) -> Principal {
        let id = Principal::from_slice(&[n; 10]);
        self.canisters.borrow_mut().insert(
            id,
            FakeCanister {
                status: RunStatus::Running,
                controllers: vec![self.self_id],
                wasm: b"v1".to_vec(),
                data: 1,
                snapshots: Vec::new(),
                next_snapshot: 0,
                chunk_store: Vec::new(),
                snapshot_viewers: Vec::new(),
            },
        );
        id
    }

    pub fn canister(&self, id: Principal) -> FakeCanister {
        self.canisters.borrow()[&id].clone()
    }

    pub fn set_data(&self, id: Principal, data: u64) {
        self.canisters.borrow_mut().get_mut(&id).unwrap().data = data;
    }

    pub fn set_status(&self, id: Principal, status: RunStatus) {
        self.canisters.borrow_mut().get_mut(&id).unwrap().status = status;
    }

    /// The next call to `method` is rejected.
    pub fn fail_next(&self, method: &'static str) {
        self.fail_at.borrow_mut().insert(method, 0);
    }

    /// The call to `method` after `skip` successful ones is rejected.
    pub fn fail_after(&self, method: &'static str, skip: u32) {
        self.fail_at.borrow_mut().insert(method, skip);
    }

    /// The next call to `method` panics, as a trap in the orchestrator's callback would.
    pub fn panic_next(&self, method: &'static str) {
        *self.panic_at.borrow_mut() = Some(method);
    }

    pub fn calls(&self) -> Vec<&'static str> {
        self.calls.borrow().clone()
    }

    /// Records the call, advances the clock, yields once, then applies injected faults.
    async fn enter(&self, method: &'static str) -> Result<(), CallFailure> {
        self.calls.borrow_mut().push(method);
        self.now.set(self.now.get() + 1_000_000_000);
        YieldOnce(false).await;
        Held(self).await;
        if *self.panic_at.borrow() == Some(method) {
            *self.panic_at.borrow_mut() = None;
            panic!("injected trap in the callback of {method}");
        }
        let mut fail_at = self.fail_at.borrow_mut();
        if let Some(skip) = fail_at.get_mut(method) {
            if *skip == 0 {
                fail_at.remove(method);
                return Err(CallFailure {
                    method: method.to_string(),
                    reject_code: 5,
                    message: format!("injected failure of {method}"),
                });
            }
            *skip -= 1;
        }
        Ok(())
    }

    fn with<T>(
        &self,
        method: &str,
        id: Principal,
        f: impl FnOnce(&mut FakeCanister) -> Result<T, String>,
    ) -> Result<T, CallFailure> {
        let mut canisters = self.canisters.borrow_mut();
        let reject = |code, message: String| CallFailure {
            method: method.to_string(),
            reject_code: code,
            message,
        };
        let canister = canisters
            .get_mut(&id)
            .ok_or_else(|| reject(3, format!("Canister {id} not found")))?;
        if !canister.controllers.contains(&self.self_id) {
            return Err(reject(
                5,
                format!("Only controllers of canister {id} can call ic00 method {method}"),
            ));
        }
        f(canister).map_err(|message| reject(4, message))
    }
}

impl Management for FakeManagement {
    fn now(&self) -> u64 {
        self.now.get()
    }

    fn self_id(&self) -> Principal {
        self.self_id
    }

    async fn canister_status(&self, id: Principal) -> Result<ModuleStatus, CallFailure> {
        self.enter("canister_status").await?;
        self.with("canister_status", id, |c| {
            Ok(ModuleStatus {
                status: c.status,
                controllers: c.controllers.clone(),
                snapshots_size: Some(c.snapshots.iter().map(|s| s.listed.total_size).sum()),
            })
        })
    }

    async fn stop_canister(&self, id: Principal) -> Result<(), CallFailure> {
        self.enter("stop_canister").await?;
        self.with("stop_canister", id, |c| {
            c.status = RunStatus::Stopped;
            Ok(())
        })
    }

    async fn start_canister(&self, id: Principal) -> Result<(), CallFailure> {
        self.enter("start_canister").await?;
        self.with("start_canister", id, |c| {
            c.status = RunStatus::Running;
            Ok(())
        })
    }

    async fn list_snapshots(&self, id: Principal) -> Result<Vec<IcSnapshot>, CallFailure> {
        self.enter("list_canister_snapshots").await?;
        self.with("list_canister_snapshots", id, |c| {
            Ok(c.snapshots.iter().map(|s| s.listed.clone()).collect())
        })
    }

    async fn take_snapshot(
        &self,
        id: Principal,
        replace: Option<Vec<u8>>,
    ) -> Result<IcSnapshot, CallFailure> {
        self.enter("take_canister_snapshot").await?;
        let now = self.now.get();
        self.with("take_canister_snapshot", id, |c| {
            match &replace {
                Some(old) if !c.snapshots.iter().any(|s| s.listed.id == *old) => {
                    return Err("Could not find the snapshot ID".into());
                }
                None if c.snapshots.len() >= 10 => {
                    return Err(format!(
                        "Canister {id} has reached the maximum number of snapshots allowed: 10."
                    ));
                }
                _ => {}
            }
            let mut snapshot_id = c.next_snapshot.to_be_bytes().to_vec();
            snapshot_id.extend_from_slice(id.as_slice());
            c.next_snapshot += 1;
            let listed = IcSnapshot {
                id: snapshot_id,
                taken_at: now,
                total_size: 1000 + c.data,
            };
            c.snapshots.push(SnapshotContent {
                listed: listed.clone(),
                wasm: c.wasm.clone(),
                data: c.data,
            });
            if let Some(old) = replace {
                c.snapshots.retain(|s| s.listed.id != old);
            }
            Ok(listed)
        })
    }

    async fn load_snapshot(&self, id: Principal, snapshot: Vec<u8>) -> Result<(), CallFailure> {
        self.enter("load_canister_snapshot").await?;
        self.with("load_canister_snapshot", id, |c| {
            let content = c
                .snapshots
                .iter()
                .find(|s| s.listed.id == snapshot)
                .cloned()
                .ok_or("Could not find the snapshot ID")?;
            c.wasm = content.wasm;
            c.data = content.data;
            Ok(())
        })
    }

    async fn delete_snapshot(&self, id: Principal, snapshot: Vec<u8>) -> Result<(), CallFailure> {
        self.enter("delete_canister_snapshot").await?;
        self.with("delete_canister_snapshot", id, |c| {
            let before = c.snapshots.len();
            c.snapshots.retain(|s| s.listed.id != snapshot);
            if c.snapshots.len() == before {
                return Err("Could not find the snapshot ID".into());
            }
            Ok(())
        })
    }

    async fn install_code(
        &self,
        id: Principal,
        wasm: &[u8],
        _arg: &[u8],
    ) -> Result<(), CallFailure> {
        self.enter("install_code").await?;
        self.with("install_code", id, |c| {
            c.wasm = wasm.to_vec();
            c.data += 100;
            Ok(())
        })
    }

    async fn upload_chunk(&self, id: Principal, chunk: &[u8]) -> Result<Vec<u8>, CallFailure> {
        self.enter("upload_chunk").await?;
        self.with("upload_chunk", id, |c| {
            if chunk.len() > 1024 * 1024 {
                return Err("chunk too large".into());
            }
            c.chunk_store.push(chunk.to_vec());
            Ok(Sha256::digest(chunk).to_vec())
        })
    }

    async fn install_chunked_code(
        &self,
        id: Principal,
        chunk_hashes: Vec<Vec<u8>>,
        wasm_hash: Vec<u8>,
        _arg: &[u8],
    ) -> Result<(), CallFailure> {
        self.enter("install_chunked_code").await?;
        self.with("install_chunked_code", id, |c| {
            let mut wasm = Vec::new();
            for hash in &chunk_hashes {
                let chunk = c
                    .chunk_store
                    .iter()
                    .find(|chunk| Sha256::digest(chunk).as_slice() == hash.as_slice())
                    .ok_or("chunk not in the store")?;
                wasm.extend_from_slice(chunk);
            }
            if Sha256::digest(&wasm).as_slice() != wasm_hash.as_slice() {
                return Err("wasm_module_hash does not match the chunks".into());
            }
            c.wasm = wasm;
            c.data += 100;
            Ok(())
        })
    }

    async fn clear_chunk_store(&self, id: Principal) -> Result<(), CallFailure> {
        self.enter("clear_chunk_store").await?;
        self.with("clear_chunk_store", id, |c| {
            c.chunk_store.clear();
            Ok(())
        })
    }

    async fn set_snapshot_viewers(
        &self,
        id: Principal,
        viewers: Vec<Principal>,
    ) -> Result<(), CallFailure> {
        self.enter("update_settings").await?;
        self.with("update_settings", id, |c| {
            c.snapshot_viewers = viewers;
            Ok(())
        })
    }

    async fn health_check(&self, id: Principal, _method: &str) -> Result<(), CallFailure> {
        self.enter("health").await?;
        let canister = self.canister(id);
        if canister.status != RunStatus::Running {
            return Err(CallFailure {
                method: "health".into(),
                reject_code: 5,
                message: format!("Canister {id} is stopped"),
            });
        }
        if canister.wasm == UNHEALTHY_WASM {
            return Err(CallFailure {
                method: "health".into(),
                reject_code: 5,
                message: "Canister called `ic0.trap` with message: unhealthy".into(),
            });
        }
        Ok(())
    }
}
