//! The calls the orchestrator makes to the outside world — the management canister and the
//! modules' health checks — behind a small trait, so the flows run natively in unit tests
//! against a fake (`crate::fake`) and on the IC against [`IcManagement`].

use candid::{CandidType, Principal};
use ic_cdk::call::{Call, Error as CallError};
use ic_cdk_management_canister as mgmt;
use orchestrator_api::CallFailure;
use serde::Deserialize;

/// A snapshot as the IC lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IcSnapshot {
    pub id: Vec<u8>,
    pub taken_at: u64,
    pub total_size: u64,
}

/// A module's run status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    Stopping,
    Stopped,
}

/// What the flows need from `canister_status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleStatus {
    pub status: RunStatus,
    pub controllers: Vec<Principal>,
    /// Memory the canister's snapshots use (`memory_metrics.snapshots_size`); none on a
    /// replica that does not report memory metrics.
    pub snapshots_size: Option<u64>,
}

/// Everything the orchestrator's flows do outside their own state.
#[allow(async_fn_in_trait)] // only used with concrete types, never `dyn` or across threads
pub trait Management {
    /// Current time, nanoseconds since the epoch.
    fn now(&self) -> u64;
    /// The orchestrator's own principal.
    fn self_id(&self) -> Principal;
    async fn canister_status(&self, canister: Principal) -> Result<ModuleStatus, CallFailure>;
    async fn stop_canister(&self, canister: Principal) -> Result<(), CallFailure>;
    async fn start_canister(&self, canister: Principal) -> Result<(), CallFailure>;
    /// `stop_canister` that gives up after `timeout_seconds` (a module waiting on a call that
    /// never returns never stops). A timeout is a failure with reject code 6 (SYS_UNKNOWN); the
    /// module is then left stopping, and a `start_canister` cancels the stop. The default waits
    /// without bound (the unit-test fake stops at once).
    async fn stop_canister_within(
        &self,
        canister: Principal,
        timeout_seconds: u32,
    ) -> Result<(), CallFailure> {
        let _ = timeout_seconds;
        self.stop_canister(canister).await
    }
    async fn list_snapshots(&self, canister: Principal) -> Result<Vec<IcSnapshot>, CallFailure>;
    async fn take_snapshot(
        &self,
        canister: Principal,
        replace: Option<Vec<u8>>,
    ) -> Result<IcSnapshot, CallFailure>;
    async fn load_snapshot(&self, canister: Principal, id: Vec<u8>) -> Result<(), CallFailure>;
    async fn delete_snapshot(&self, canister: Principal, id: Vec<u8>) -> Result<(), CallFailure>;
    /// `install_code` in upgrade mode with the whole module in the message.
    async fn install_code(
        &self,
        canister: Principal,
        wasm: &[u8],
        arg: &[u8],
    ) -> Result<(), CallFailure>;
    /// `upload_chunk` into the canister's own chunk store; returns the chunk's hash.
    async fn upload_chunk(&self, canister: Principal, chunk: &[u8])
    -> Result<Vec<u8>, CallFailure>;
    /// `install_chunked_code` in upgrade mode from the canister's own chunk store.
    async fn install_chunked_code(
        &self,
        canister: Principal,
        chunk_hashes: Vec<Vec<u8>>,
        wasm_hash: Vec<u8>,
        arg: &[u8],
    ) -> Result<(), CallFailure>;
    async fn clear_chunk_store(&self, canister: Principal) -> Result<(), CallFailure>;
    /// `update_settings` with only `snapshot_visibility`: `allowed_viewers` (the given
    /// principals) or, for none, `controllers`. Other settings are left as they are.
    async fn set_snapshot_viewers(
        &self,
        canister: Principal,
        viewers: Vec<Principal>,
    ) -> Result<(), CallFailure>;
    /// Calls `method` on the module with empty candid arguments; a reply (any) is healthy.
    async fn health_check(&self, canister: Principal, method: &str) -> Result<(), CallFailure>;
}

/// The real thing: inter-canister calls from the orchestrator canister.
pub struct IcManagement;

/// The part of `canister_status`'s result the orchestrator reads. Decoding into this subset
/// (candid allows dropping record fields) keeps working when replicas add fields.
#[derive(CandidType, Deserialize)]
struct StatusSubset {
    status: mgmt::CanisterStatusType,
    settings: SettingsSubset,
    memory_metrics: Option<MemoryMetricsSubset>,
}

#[derive(CandidType, Deserialize)]
struct MemoryMetricsSubset {
    snapshots_size: candid::Nat,
}

#[derive(CandidType, Deserialize)]
struct SettingsSubset {
    controllers: Vec<Principal>,
}

/// Reject code CANISTER_ERROR (interface spec, "reject codes"): what the management canister
/// answers a caller that is not a controller (IC0512). Inter-canister rejects carry no IC error
/// code, so this code is the most precise signal a canister gets.
pub const REJECT_CANISTER_ERROR: u32 = 5;

fn failure(method: &str, error: CallError) -> CallFailure {
    let reject_code = match &error {
        CallError::CallRejected(rejected) => rejected.raw_reject_code(),
        _ => 0,
    };
    let message = match &error {
        CallError::CallRejected(rejected) => rejected.reject_message().to_string(),
        other => other.to_string(),
    };
    CallFailure {
        method: method.to_string(),
        reject_code,
        message,
    }
}

/// Test builds only (feature `test-traps`): traps right after the reply of an armed method
/// arrives — in the orchestrator's callback, as a bug would — so tests on the real wasm can
/// check what a trap leaves behind (lock released, operation marked interrupted).
#[cfg(feature = "test-traps")]
pub mod test_traps {
    use std::cell::RefCell;

    thread_local! {
        static ARMED: RefCell<Option<String>> = const { RefCell::new(None) };
    }

    /// Traps after the next reply to `method` (none disarms).
    pub fn arm(method: Option<String>) {
        ARMED.with(|a| *a.borrow_mut() = method);
    }

    pub fn check(method: &str) {
        if ARMED.with(|a| a.borrow().as_deref() == Some(method)) {
            ic_cdk::trap(format!("test-traps: armed trap after {method}"));
        }
    }
}

/// A management call's result in the flows' terms: a failure names the method, and a success
/// passes the trap point of `test-traps` builds (a no-op otherwise).
fn replied<T>(method: &str, result: Result<T, CallError>) -> Result<T, CallFailure> {
    let value = result.map_err(|e| failure(method, e))?;
    #[cfg(feature = "test-traps")]
    test_traps::check(method);
    Ok(value)
}

fn snapshot(s: mgmt::Snapshot) -> IcSnapshot {
    IcSnapshot {
        id: s.id,
        taken_at: s.taken_at_timestamp,
        total_size: s.total_size,
    }
}

impl Management for IcManagement {
    fn now(&self) -> u64 {
        ic_cdk::api::time()
    }

    fn self_id(&self) -> Principal {
        ic_cdk::api::canister_self()
    }

    async fn canister_status(&self, canister: Principal) -> Result<ModuleStatus, CallFailure> {
        let method = "canister_status";
        let status: StatusSubset = async {
            Call::unbounded_wait(Principal::management_canister(), method)
                .with_arg(mgmt::CanisterIdRecord {
                    canister_id: canister,
                })
                .await?
                .candid()
                .map_err(CallError::from)
        }
        .await
        .map_err(|e| failure(method, e))?;
        Ok(ModuleStatus {
            status: match status.status {
                mgmt::CanisterStatusType::Running => RunStatus::Running,
                mgmt::CanisterStatusType::Stopping => RunStatus::Stopping,
                mgmt::CanisterStatusType::Stopped => RunStatus::Stopped,
            },
            controllers: status.settings.controllers,
            snapshots_size: status
                .memory_metrics
                .and_then(|m| u64::try_from(m.snapshots_size.0).ok()),
        })
    }

    async fn stop_canister(&self, canister: Principal) -> Result<(), CallFailure> {
        replied(
            "stop_canister",
            mgmt::stop_canister(&mgmt::StopCanisterArgs {
                canister_id: canister,
            })
            .await,
        )
    }

    async fn stop_canister_within(
        &self,
        canister: Principal,
        timeout_seconds: u32,
    ) -> Result<(), CallFailure> {
        // Bounded wait: the IC answers SYS_UNKNOWN after the timeout; the stop itself goes on
        // (the module stays `stopping`) until someone starts the module again.
        let result = Call::bounded_wait(Principal::management_canister(), "stop_canister")
            .change_timeout(timeout_seconds)
            .with_arg(mgmt::StopCanisterArgs {
                canister_id: canister,
            })
            .await
            .map(|_| ())
            .map_err(CallError::from);
        replied("stop_canister", result)
    }

    async fn start_canister(&self, canister: Principal) -> Result<(), CallFailure> {
        replied(
            "start_canister",
            mgmt::start_canister(&mgmt::StartCanisterArgs {
                canister_id: canister,
            })
            .await,
        )
    }

    async fn list_snapshots(&self, canister: Principal) -> Result<Vec<IcSnapshot>, CallFailure> {
        replied(
            "list_canister_snapshots",
            mgmt::list_canister_snapshots(&mgmt::ListCanisterSnapshotsArgs {
                canister_id: canister,
            })
            .await
            .map(|list| list.into_iter().map(snapshot).collect()),
        )
    }

    async fn take_snapshot(
        &self,
        canister: Principal,
        replace: Option<Vec<u8>>,
    ) -> Result<IcSnapshot, CallFailure> {
        replied(
            "take_canister_snapshot",
            mgmt::take_canister_snapshot(&mgmt::TakeCanisterSnapshotArgs {
                canister_id: canister,
                replace_snapshot: replace,
                uninstall_code: None,
                sender_canister_version: Some(ic_cdk::api::canister_version()),
            })
            .await
            .map(snapshot),
        )
    }

    async fn load_snapshot(&self, canister: Principal, id: Vec<u8>) -> Result<(), CallFailure> {
        replied(
            "load_canister_snapshot",
            mgmt::load_canister_snapshot(&mgmt::LoadCanisterSnapshotArgs {
                canister_id: canister,
                snapshot_id: id,
            })
            .await,
        )
    }

    async fn delete_snapshot(&self, canister: Principal, id: Vec<u8>) -> Result<(), CallFailure> {
        replied(
            "delete_canister_snapshot",
            mgmt::delete_canister_snapshot(&mgmt::DeleteCanisterSnapshotArgs {
                canister_id: canister,
                snapshot_id: id,
            })
            .await,
        )
    }

    async fn install_code(
        &self,
        canister: Principal,
        wasm: &[u8],
        arg: &[u8],
    ) -> Result<(), CallFailure> {
        replied(
            "install_code",
            mgmt::install_code(&mgmt::InstallCodeArgs {
                mode: mgmt::CanisterInstallMode::Upgrade(None),
                canister_id: canister,
                wasm_module: wasm.to_vec(),
                arg: arg.to_vec(),
            })
            .await,
        )
    }

    async fn upload_chunk(
        &self,
        canister: Principal,
        chunk: &[u8],
    ) -> Result<Vec<u8>, CallFailure> {
        replied(
            "upload_chunk",
            mgmt::upload_chunk(&mgmt::UploadChunkArgs {
                canister_id: canister,
                chunk: chunk.to_vec(),
            })
            .await
            .map(|hash| hash.hash),
        )
    }

    async fn install_chunked_code(
        &self,
        canister: Principal,
        chunk_hashes: Vec<Vec<u8>>,
        wasm_hash: Vec<u8>,
        arg: &[u8],
    ) -> Result<(), CallFailure> {
        replied(
            "install_chunked_code",
            mgmt::install_chunked_code(&mgmt::InstallChunkedCodeArgs {
                mode: mgmt::CanisterInstallMode::Upgrade(None),
                target_canister: canister,
                store_canister: None,
                chunk_hashes_list: chunk_hashes
                    .into_iter()
                    .map(|hash| mgmt::ChunkHash { hash })
                    .collect(),
                wasm_module_hash: wasm_hash,
                arg: arg.to_vec(),
            })
            .await,
        )
    }

    async fn clear_chunk_store(&self, canister: Principal) -> Result<(), CallFailure> {
        replied(
            "clear_chunk_store",
            mgmt::clear_chunk_store(&mgmt::ClearChunkStoreArgs {
                canister_id: canister,
            })
            .await,
        )
    }

    async fn set_snapshot_viewers(
        &self,
        canister: Principal,
        viewers: Vec<Principal>,
    ) -> Result<(), CallFailure> {
        let visibility = if viewers.is_empty() {
            mgmt::SnapshotVisibility::Controllers
        } else {
            mgmt::SnapshotVisibility::AllowedViewers(viewers)
        };
        replied(
            "update_settings",
            mgmt::update_settings(&mgmt::UpdateSettingsArgs {
                canister_id: canister,
                settings: mgmt::CanisterSettings {
                    snapshot_visibility: Some(visibility),
                    ..Default::default()
                },
            })
            .await,
        )
    }

    async fn health_check(&self, canister: Principal, method: &str) -> Result<(), CallFailure> {
        // Bounded wait: a module that never answers must not hold the orchestrator (and the
        // module's lock) forever; the IC rejects with SYS_UNKNOWN after the timeout.
        Call::bounded_wait(canister, method)
            .with_raw_args(&candid::encode_args(()).expect("empty args encode"))
            .await
            .map(|_| ())
            .map_err(|e| failure(method, e.into()))
    }
}
