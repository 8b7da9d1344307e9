//! The management canister's methods for canisters: creation, code installation (including
//! chunked), the chunk store, settings, status and info, start/stop/delete, cycles and
//! randomness. Each is named as the IC's method.

use super::{MResult, Management, Outcome, decode, reply, reply_empty};
use crate::canister::{Canister, Origin, Sender, Status};
use crate::cycles::DEFAULT_CYCLES;
use crate::execution::{EntryPoint, ExecError, ExecState};
use crate::replies;
use crate::system_api::{ApiType, CREATE_CANISTER_FEE};
use crate::types::{ErrorCode, MANAGEMENT_CANISTER, RejectResponse, nat_u64, nat_u128};
use crate::wasm::{self, MAX_CHUNK_SIZE, MAX_CHUNKS};
use candid::{Nat, Principal};
use ic_management_canister_types as mt;

/// Max controllers per canister.
pub const MAX_CONTROLLERS: usize = 10;
/// At most this many `allowed_viewers` in `snapshot_visibility` (interface spec).
pub const MAX_SNAPSHOT_VIEWERS: usize = 10;

impl Management<'_> {
    fn create(
        &mut self,
        sender: Sender,
        settings: Option<mt::CanisterSettings>,
        cycles: u128,
        specified: Option<Principal>,
    ) -> MResult {
        let controllers = settings
            .as_ref()
            .and_then(|s| s.controllers.clone())
            .unwrap_or_else(|| vec![sender.principal]);
        if controllers.len() > MAX_CONTROLLERS {
            return Err(RejectResponse::system(
                ErrorCode::InvalidManagementPayload,
                format!("Invalid settings: At most {MAX_CONTROLLERS} controllers are allowed."),
            ));
        }
        let id = match specified {
            Some(id) if self.net.canisters().contains_key(&id) => {
                return Err(RejectResponse::system(
                    ErrorCode::CanisterRejectedMessage,
                    format!("Canister {id} is already installed."),
                ));
            }
            Some(id) => id,
            None => self.net.canisters_mut().allocate_id(),
        };
        let mut canister = Canister::new(id, controllers.clone(), cycles);
        if let Some(settings) = settings {
            if let Some(ft) = settings.freezing_threshold {
                canister.freezing_threshold = nat_u64(&ft);
            }
            if let Some(v) = settings.snapshot_visibility {
                canister.snapshot_visibility = v;
            }
        }
        self.net.canisters_mut().insert(canister);
        self.record_change(
            id,
            sender,
            mt::ChangeDetails::Creation(mt::CreationRecord {
                controllers,
                environment_variables_hash: None,
            }),
        );
        reply(replies::CreateCanisterReply { canister_id: id })
    }

    pub(super) fn provisional_create_canister_with_cycles(
        &mut self,
        sender: Sender,
        arg: &[u8],
    ) -> MResult {
        let args: mt::ProvisionalCreateCanisterWithCyclesArgs = decode(arg)?;
        let cycles = args.amount.as_ref().map_or(DEFAULT_CYCLES, nat_u128);
        self.create(sender, args.settings, cycles, args.specified_id)
    }

    pub(super) fn create_canister(&mut self, sender: Sender, arg: &[u8], cycles: u128) -> MResult {
        let args: mt::CreateCanisterArgs = decode(arg)?;
        Self::canister_only(sender, "create_canister")?;
        if cycles < CREATE_CANISTER_FEE {
            return Err(RejectResponse::system(
                ErrorCode::InsufficientCyclesForCreateCanister,
                format!(
                    "Creating a canister requires a fee of {CREATE_CANISTER_FEE} that is deducted from the canister's initial balance but only {cycles} cycles were received with the create_canister request."
                ),
            ));
        }
        self.create(sender, args.settings, cycles - CREATE_CANISTER_FEE, None)
    }

    pub(super) fn provisional_top_up_canister(&mut self, arg: &[u8]) -> MResult {
        let args: mt::ProvisionalTopUpCanisterArgs = decode(arg)?;
        let c = self.net.canisters_mut().find_mut(args.canister_id)?;
        c.cycles += nat_u128(&args.amount);
        reply_empty()
    }

    pub(super) fn deposit_cycles(&mut self, arg: &[u8], cycles: u128) -> MResult {
        let args: mt::DepositCyclesArgs = decode(arg)?;
        let c = self.net.canisters_mut().find_mut(args.canister_id)?;
        c.cycles += cycles;
        reply_empty()
    }

    pub(super) fn install_code(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::InstallCodeArgs = decode(arg)?;
        self.install(
            sender,
            args.canister_id,
            args.mode,
            &args.wasm_module,
            args.arg,
        )
    }

    pub(super) fn install_chunked_code(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::InstallChunkedCodeArgs = decode(arg)?;
        let target = args.target_canister;
        self.controlled(target, sender, "install_chunked_code")?;
        let store_id = args.store_canister.unwrap_or(target);
        let store = self.controlled(store_id, sender, "install_chunked_code")?;
        let mut wasm = Vec::new();
        for chunk in &args.chunk_hashes_list {
            let key: Option<[u8; 32]> = chunk.hash.as_slice().try_into().ok();
            match key.and_then(|k| store.chunk_store.get(&k)) {
                Some(bytes) => wasm.extend_from_slice(bytes),
                None => {
                    return Err(RejectResponse::system(
                        ErrorCode::CanisterContractViolation,
                        format!(
                            "Error from Wasm chunk store: Chunk hash {} was not found.",
                            hex::encode(&chunk.hash)
                        ),
                    ));
                }
            }
        }
        let actual = wasm::sha256(&wasm);
        if actual.as_slice() != args.wasm_module_hash.as_slice() {
            return Err(RejectResponse::system(
                ErrorCode::CanisterContractViolation,
                format!(
                    "Error from Wasm chunk store: Wasm module hash {} does not match given hash {}.",
                    hex::encode(actual),
                    hex::encode(&args.wasm_module_hash)
                ),
            ));
        }
        self.install(sender, target, args.mode, &wasm, args.arg)
    }

    /// install / reinstall / upgrade, atomically: nothing changes unless every step succeeds.
    fn install(
        &mut self,
        sender: Sender,
        id: Principal,
        mode: mt::CanisterInstallMode,
        wasm_module: &[u8],
        arg: Vec<u8>,
    ) -> MResult {
        self.controlled(id, sender, "install_code")?;
        let invalid = |msg: String| {
            RejectResponse::system(
                ErrorCode::CanisterInvalidWasm,
                format!("Error from Canister {id}: Canister's Wasm module is not valid: {msg}"),
            )
        };
        let prepared = wasm::prepare(wasm_module).map_err(|e| invalid(e.to_string()))?;
        // Custom sections are the replica's rule at install; modules already installed (a
        // state directory, a snapshot) are not re-judged.
        wasm::check_custom_sections(&prepared.instrumented).map_err(|e| invalid(e.to_string()))?;
        let module = self
            .net
            .runtime_mut()
            .compile(prepared)
            .map_err(|e| invalid(e.message))?;
        let c = &self.net.canisters()[&id];
        let upgrade_flags = match mode {
            mt::CanisterInstallMode::Install if c.module.is_some() => {
                return Err(RejectResponse::system(
                    ErrorCode::CanisterNonEmpty,
                    format!(
                        "Canister {id} cannot be installed because the canister is not empty. Try installing with mode='reinstall' instead."
                    ),
                ));
            }
            mt::CanisterInstallMode::Upgrade(_) if c.module.is_none() => {
                return Err(RejectResponse::system(
                    ErrorCode::CanisterWasmModuleNotFound,
                    format!(
                        "Error from Canister {id}: Attempted to execute a message, but the canister contains no Wasm module."
                    ),
                ));
            }
            mt::CanisterInstallMode::Upgrade(flags) => Some(flags.unwrap_or_default()),
            _ => None,
        };
        let new_version = c.version + 1;
        let mut certified_data = c.certified_data.clone();
        let mut stable = crate::paged::PagedMemory::default();
        let mut logs_from = Vec::new();
        let mut hook_instructions = 0;
        let mut fail = None::<ExecError>;
        if let Some(flags) = upgrade_flags {
            stable = c.state.stable.clone();
            let old = c.module.clone().expect("checked");
            if !flags.skip_pre_upgrade.unwrap_or(false) && old.exports("canister_pre_upgrade") {
                let env =
                    self.net
                        .install_env(c, ApiType::PreUpgrade, sender.principal, Vec::new());
                let out = self.net.runtime().execute(
                    &old,
                    &c.state,
                    EntryPoint::Export("canister_pre_upgrade".into()),
                    env,
                    true,
                    Some(&c.live_heap),
                );
                logs_from.push(out.logs.clone());
                hook_instructions += out.instructions;
                match out.result {
                    Ok(state) => {
                        stable = state.expect("persisted").stable;
                        if let Some(data) = out.effects.certified_data {
                            certified_data = data;
                        }
                    }
                    Err(e) => fail = Some(e),
                }
            }
        } else {
            certified_data.clear();
        }
        let mut new_state = None;
        let mut timer = 0;
        if fail.is_none() {
            let init = if upgrade_flags.is_some() {
                "canister_post_upgrade"
            } else {
                "canister_init"
            };
            let export = module.exports(init).then(|| init.to_string());
            let mut env = self
                .net
                .install_env(c, ApiType::Init, sender.principal, arg);
            env.canister_version = new_version;
            env.global_timer = 0;
            env.certified_data = certified_data.clone();
            let base = ExecState {
                stable,
                ..ExecState::default()
            };
            let out = self.net.runtime().execute(
                &module,
                &base,
                EntryPoint::Fresh(export),
                env,
                true,
                None,
            );
            logs_from.push(out.logs.clone());
            hook_instructions += out.instructions;
            match out.result {
                Ok(state) => {
                    new_state = state;
                    if let Some(data) = out.effects.certified_data {
                        certified_data = data;
                    }
                    timer = out.effects.global_timer.unwrap_or(0);
                }
                Err(e) => fail = Some(e),
            }
        }
        let c = self.checked_mut(id);
        c.logs.extend(logs_from.into_iter().flatten());
        c.instructions_executed += hook_instructions;
        if let Some(e) = fail {
            return Err(e.into_reject(id));
        }
        c.module = Some(module.clone());
        c.state = new_state.expect("persisted");
        c.certified_data = certified_data;
        // install_code deactivates the global timer (IC-FACTS §5); init/post_upgrade may set it.
        c.global_timer = timer;
        c.version = new_version;
        let mode = match mode {
            mt::CanisterInstallMode::Install => mt::CodeDeploymentMode::Install,
            mt::CanisterInstallMode::Reinstall => mt::CodeDeploymentMode::Reinstall,
            mt::CanisterInstallMode::Upgrade(_) => mt::CodeDeploymentMode::Upgrade,
        };
        let hash = module.prepared.hash.to_vec();
        self.record_change(
            id,
            sender,
            mt::ChangeDetails::CodeDeployment(mt::CodeDeploymentRecord {
                mode,
                module_hash: hash,
            }),
        );
        reply_empty()
    }

    pub(super) fn uninstall_code(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::UninstallCodeArgs = decode(arg)?;
        self.controlled(args.canister_id, sender, "uninstall_code")?;
        self.net.uninstall(args.canister_id, sender);
        reply_empty()
    }

    pub(super) fn upload_chunk(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::UploadChunkArgs = decode(arg)?;
        let c = self.controlled(args.canister_id, sender, "upload_chunk")?;
        if args.chunk.len() > MAX_CHUNK_SIZE {
            return Err(RejectResponse::system(
                ErrorCode::CanisterContractViolation,
                format!(
                    "Error from Wasm chunk store: Wasm chunk size {} exceeds the maximum chunk size of {MAX_CHUNK_SIZE}.",
                    args.chunk.len()
                ),
            ));
        }
        let hash = wasm::sha256(&args.chunk);
        if !c.chunk_store.contains_key(&hash) && c.chunk_store.len() >= MAX_CHUNKS {
            return Err(RejectResponse::system(
                ErrorCode::CanisterContractViolation,
                format!(
                    "Error from Wasm chunk store: Wasm chunk store has already reached the maximum number of chunks ({MAX_CHUNKS})."
                ),
            ));
        }
        let c = self.checked_mut(args.canister_id);
        c.chunk_store.insert(hash, args.chunk);
        reply(replies::UploadChunkReply {
            hash: hash.to_vec(),
        })
    }

    pub(super) fn stored_chunks(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::StoredChunksArgs = decode(arg)?;
        let c = self.controlled(args.canister_id, sender, "stored_chunks")?;
        let hashes: replies::StoredChunksReply = c
            .chunk_store
            .keys()
            .map(|h| mt::ChunkHash { hash: h.to_vec() })
            .collect();
        reply(hashes)
    }

    pub(super) fn clear_chunk_store(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::ClearChunkStoreArgs = decode(arg)?;
        self.controlled(args.canister_id, sender, "clear_chunk_store")?;
        self.checked_mut(args.canister_id).chunk_store.clear();
        reply_empty()
    }

    pub(super) fn update_settings(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::UpdateSettingsArgs = decode(arg)?;
        let id = args.canister_id;
        self.controlled(id, sender, "update_settings")?;
        if let Some(controllers) = &args.settings.controllers
            && controllers.len() > MAX_CONTROLLERS
        {
            return Err(RejectResponse::system(
                ErrorCode::InvalidManagementPayload,
                format!("Invalid settings: At most {MAX_CONTROLLERS} controllers are allowed."),
            ));
        }
        if let Some(mt::SnapshotVisibility::AllowedViewers(viewers)) =
            &args.settings.snapshot_visibility
            && viewers.len() > MAX_SNAPSHOT_VIEWERS
        {
            // Bound from the spec (at most 10 allowed viewers); the text is an inference modelled
            // on the controllers one.
            return Err(RejectResponse::system(
                ErrorCode::InvalidManagementPayload,
                format!(
                    "Invalid settings: At most {MAX_SNAPSHOT_VIEWERS} snapshot viewers are allowed."
                ),
            ));
        }
        let c = self.checked_mut(id);
        c.version += 1;
        if let Some(v) = &args.settings.snapshot_visibility {
            c.snapshot_visibility = v.clone();
        }
        if let Some(ft) = &args.settings.freezing_threshold {
            c.freezing_threshold = nat_u64(ft);
        }
        if let Some(controllers) = args.settings.controllers {
            c.controllers = controllers.clone();
            self.record_change(
                id,
                sender,
                mt::ChangeDetails::ControllersChange(mt::ControllersChangeRecord { controllers }),
            );
        }
        reply_empty()
    }

    pub(super) fn canister_status(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::CanisterStatusArgs = decode(arg)?;
        let id = args.canister_id;
        // Controllers only (status_visibility is not modelled).
        let c = self.controlled(id, sender, "canister_status")?;
        reply(status_of(c))
    }

    pub(super) fn canister_info(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::CanisterInfoArgs = decode(arg)?;
        Self::canister_only(sender, "canister_info")?;
        let c = self.net.canisters().find(args.canister_id)?;
        let n = args.num_requested_changes.unwrap_or(0).min(20) as usize;
        let changes = c.history[c.history.len().saturating_sub(n)..]
            .iter()
            .map(|h| replies::ChangeReply {
                timestamp_nanos: h.timestamp,
                canister_version: h.canister_version,
                origin: if h.origin_is_canister {
                    mt::ChangeOrigin::FromCanister(mt::FromCanisterRecord {
                        canister_id: h.origin,
                        canister_version: None,
                    })
                } else {
                    mt::ChangeOrigin::FromUser(mt::FromUserRecord { user_id: h.origin })
                },
                details: h.details.clone(),
            })
            .collect();
        reply(replies::CanisterInfoReply {
            total_num_changes: c.history.len() as u64,
            recent_changes: changes,
            module_hash: c.module.as_ref().map(|m| m.prepared.hash.to_vec()),
            controllers: c.controllers.clone(),
        })
    }

    pub(super) fn start_canister(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::StartCanisterArgs = decode(arg)?;
        let id = args.canister_id;
        self.controlled(id, sender, "start_canister")?;
        let c = self.checked_mut(id);
        let cancelled = std::mem::take(&mut c.pending_stops);
        c.status = Status::Running;
        for origin in cancelled {
            let reject = RejectResponse::system(
                ErrorCode::CanisterStoppingCancelled,
                format!("Canister {id}'s stop request was cancelled."),
            );
            self.net
                .respond(MANAGEMENT_CANISTER, origin, Err(reject), 0);
        }
        reply_empty()
    }

    pub(super) fn stop_canister(&mut self, sender: Sender, arg: &[u8], origin: Origin) -> Outcome {
        let args: mt::StopCanisterArgs = match decode(arg) {
            Ok(a) => a,
            Err(e) => return Outcome::Reject(e),
        };
        let id = args.canister_id;
        if let Err(e) = self.controlled(id, sender, "stop_canister") {
            return Outcome::Reject(e);
        }
        let c = self.checked_mut(id);
        match c.status {
            Status::Stopped => Outcome::Reply(replies::empty()),
            Status::Running | Status::Stopping => {
                c.status = Status::Stopping;
                c.pending_stops.push(origin);
                self.net.check_stopped(id);
                Outcome::Deferred
            }
        }
    }

    pub(super) fn delete_canister(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::DeleteCanisterArgs = decode(arg)?;
        let id = args.canister_id;
        let c = self.controlled(id, sender, "delete_canister")?;
        if id == sender.principal {
            return Err(RejectResponse::system(
                ErrorCode::CanisterInvalidController,
                format!("Canister {id} cannot delete itself."),
            ));
        }
        if c.status != Status::Stopped {
            return Err(RejectResponse::system(
                ErrorCode::CanisterNotStopped,
                format!("Canister {id} must be stopped before it is deleted."),
            ));
        }
        // Snapshots die with the canister.
        self.net.canisters_mut().remove(&id);
        reply_empty()
    }

    pub(super) fn raw_rand(&mut self, sender: Sender) -> MResult {
        Self::canister_only(sender, "raw_rand")?;
        let mut out = Vec::with_capacity(32);
        for _ in 0..4 {
            out.extend_from_slice(&self.net.random_u64().to_le_bytes());
        }
        Ok(candid::encode_one(serde_bytes::ByteBuf::from(out)).expect("encode"))
    }
}

/// `canister_status` result for a canister.
fn status_of(c: &Canister) -> replies::CanisterStatusReply {
    let n = |v: u64| Nat::from(v);
    let globals = c.state.globals.len() as u64 * 8;
    let module_size = c
        .module
        .as_ref()
        .map_or(0, |m| m.prepared.original.len() as u64);
    let chunks: u64 = c.chunk_store.values().map(|v| v.len() as u64).sum();
    let snapshots = c.snapshots_size();
    mt::CanisterStatusResult {
        status: match c.status {
            Status::Running => mt::CanisterStatusType::Running,
            Status::Stopping => mt::CanisterStatusType::Stopping,
            Status::Stopped => mt::CanisterStatusType::Stopped,
        },
        ready_for_migration: false,
        version: c.version,
        settings: mt::DefiniteCanisterSettings {
            controllers: c.controllers.clone(),
            compute_allocation: n(0),
            memory_allocation: n(0),
            freezing_threshold: n(c.freezing_threshold),
            reserved_cycles_limit: n(5_000_000_000_000),
            minimum_incoming_canister_call_cycles: n(0),
            log_visibility: mt::LogVisibility::Controllers,
            log_memory_limit: n(4096),
            snapshot_visibility: c.snapshot_visibility.clone(),
            status_visibility: mt::StatusVisibility::Controllers,
            wasm_memory_limit: n(3 * 1024 * 1024 * 1024),
            wasm_memory_threshold: n(0),
            environment_variables: Vec::new(),
        },
        module_hash: c.module.as_ref().map(|m| m.prepared.hash.to_vec()),
        memory_size: n(c.memory_size() + globals + snapshots),
        memory_metrics: mt::MemoryMetrics {
            wasm_memory_size: n(c.state.heap.len()),
            stable_memory_size: n(c.state.stable.len()),
            global_memory_size: n(globals),
            wasm_binary_size: n(module_size),
            custom_sections_size: n(0),
            canister_history_size: n(c.history.len() as u64 * 64),
            wasm_chunk_store_size: n(chunks),
            snapshots_size: n(snapshots),
            log_memory_store_size: n(0),
        },
        cycles: Nat::from(c.cycles),
        reserved_cycles: n(0),
        idle_cycles_burned_per_day: Nat::from(crate::cycles::idle_cycles_per_day(c)),
        query_stats: mt::QueryStats {
            num_calls_total: n(0),
            num_instructions_total: n(0),
            request_payload_bytes_total: n(0),
            response_payload_bytes_total: n(0),
        },
    }
}
