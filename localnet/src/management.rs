//! The management canister (`aaaaa-aa`) implemented inside localnet: canister lifecycle,
//! code installation (including chunked), settings, status, cycles and randomness. Snapshot
//! methods live in [`crate::snapshots`].
//!
//! Arguments and results use the candid types of `ic-management-canister-types`, so a canister
//! calling through ic-cdk and a test calling through the Rust API take the same path: every API
//! helper submits an ingress message to `aaaaa-aa`. Errors carry the IC's error codes and
//! messages (dfinity/ic `rs/execution_environment/src/canister_manager.rs`).

use crate::canister::{Canister, HistoryEntry, Origin, Request, Status};
use crate::execution::{EntryPoint, ExecError, ExecState};
use crate::net::{DEFAULT_CYCLES, LocalNet, not_found, trap_reject};
use crate::replies;
use crate::system_api::{ApiType, CREATE_CANISTER_FEE};
use crate::types::{ErrorCode, MANAGEMENT_CANISTER, RejectResponse};
use crate::wasm;
use candid::{CandidType, Decode, Nat, Principal, encode_one};
use ic_management_canister_types as mt;
use serde::de::DeserializeOwned;

/// Max chunks in a chunk store (IC-FACTS §7).
pub const MAX_CHUNKS: usize = 100;
/// Max bytes per chunk.
pub const MAX_CHUNK_SIZE: usize = 1024 * 1024;
/// Max controllers per canister.
pub const MAX_CONTROLLERS: usize = 10;
/// The canister a management call is about (`canister_id`, or `target_canister` of
/// `install_chunked_code`), if its argument names one: it pays for an ingress message to
/// `aaaaa-aa` (IC-FACTS §2: the ingress bytes of a snapshot upload are paid by the target).
pub(crate) fn target_canister(arg: &[u8]) -> Option<Principal> {
    #[derive(candid::CandidType, serde::Deserialize)]
    struct Target {
        canister_id: Principal,
    }
    #[derive(candid::CandidType, serde::Deserialize)]
    struct Chunked {
        target_canister: Principal,
    }
    candid::decode_one::<Target>(arg)
        .map(|t| t.canister_id)
        .or_else(|_| candid::decode_one::<Chunked>(arg).map(|t| t.target_canister))
        .ok()
}

/// At most this many `allowed_viewers` in `snapshot_visibility` (interface spec).
pub const MAX_SNAPSHOT_VIEWERS: usize = 10;

/// What a management method produced.
pub(crate) enum Outcome {
    /// Reply bytes (candid).
    Reply(Vec<u8>),
    /// Rejected.
    Reject(RejectResponse),
    /// Answered later (stop_canister waits for the canister to stop).
    Deferred,
}

impl From<Result<Vec<u8>, RejectResponse>> for Outcome {
    fn from(r: Result<Vec<u8>, RejectResponse>) -> Self {
        match r {
            Ok(b) => Outcome::Reply(b),
            Err(e) => Outcome::Reject(e),
        }
    }
}

pub(crate) type MResult = Result<Vec<u8>, RejectResponse>;

pub(crate) fn decode<T: CandidType + DeserializeOwned>(arg: &[u8]) -> Result<T, RejectResponse> {
    Decode!(arg, T).map_err(|e| {
        RejectResponse::system(
            ErrorCode::InvalidManagementPayload,
            format!("Error decoding candid: {e}"),
        )
    })
}

/// A reply of one value; `T` is one of [`crate::replies`]' types.
pub(crate) fn reply<T: CandidType>(value: T) -> MResult {
    Ok(encode_one(value).expect("candid encoding of a management result"))
}

/// The candid of a method whose result is `()`: no values at all (`DIDL\0\0`), as the replica
/// sends it, rather than one `null`.
pub(crate) fn empty_reply_bytes() -> Vec<u8> {
    candid::encode_args(()).expect("candid encoding of no values")
}

/// The reply of a method whose result is `()`.
pub(crate) fn reply_empty() -> MResult {
    Ok(empty_reply_bytes())
}

/// The caller of a management method, as the IC records it in canister history.
#[derive(Clone, Copy)]
pub(crate) struct Sender {
    pub principal: Principal,
    pub is_canister: bool,
}

impl LocalNet {
    pub(crate) fn execute_management(&mut self, req: Request) {
        let sender = Sender {
            principal: req.sender,
            is_canister: !matches!(req.origin, Origin::Ingress(_)),
        };
        let mut refund = req.cycles;
        let outcome: Outcome = match req.method.as_str() {
            "provisional_create_canister_with_cycles" => {
                self.m_provisional_create(sender, &req.arg).into()
            }
            "create_canister" => {
                let r = self.m_create(sender, &req.arg, req.cycles);
                if r.is_ok() {
                    refund = 0;
                }
                r.into()
            }
            "provisional_top_up_canister" => self.m_top_up(&req.arg).into(),
            "deposit_cycles" => {
                let r = self.m_deposit(&req.arg, req.cycles);
                if r.is_ok() {
                    refund = 0;
                }
                r.into()
            }
            "install_code" => self.m_install_code(sender, &req.arg).into(),
            "install_chunked_code" => self.m_install_chunked(sender, &req.arg).into(),
            "uninstall_code" => self.m_uninstall(sender, &req.arg).into(),
            "upload_chunk" => self.m_upload_chunk(sender, &req.arg).into(),
            "stored_chunks" => self.m_stored_chunks(sender, &req.arg).into(),
            "clear_chunk_store" => self.m_clear_chunks(sender, &req.arg).into(),
            "update_settings" => self.m_update_settings(sender, &req.arg).into(),
            "canister_status" => self.m_status(sender, &req.arg).into(),
            "canister_info" => self.m_info(sender, &req.arg).into(),
            "start_canister" => self.m_start(sender, &req.arg).into(),
            "stop_canister" => self.m_stop(sender, &req.arg, req.origin.clone()),
            "delete_canister" => self.m_delete(sender, &req.arg).into(),
            "raw_rand" => self.m_raw_rand(sender).into(),
            "take_canister_snapshot" => self.m_take_snapshot(sender, &req.arg).into(),
            "load_canister_snapshot" => self.m_load_snapshot(sender, &req.arg).into(),
            "list_canister_snapshots" => self.m_list_snapshots(sender, &req.arg).into(),
            "delete_canister_snapshot" => self.m_delete_snapshot(sender, &req.arg).into(),
            "read_canister_snapshot_metadata" => {
                self.m_read_snapshot_metadata(sender, &req.arg).into()
            }
            "read_canister_snapshot_data" => self.m_read_snapshot_data(sender, &req.arg).into(),
            "upload_canister_snapshot_metadata" => {
                self.m_upload_snapshot_metadata(sender, &req.arg).into()
            }
            "upload_canister_snapshot_data" => self.m_upload_snapshot_data(sender, &req.arg).into(),
            other => Outcome::Reject(RejectResponse::system(
                ErrorCode::CanisterMethodNotFound,
                format!("Management canister has no method '{other}'"),
            )),
        };
        match outcome {
            Outcome::Reply(bytes) => {
                self.respond(MANAGEMENT_CANISTER, req.origin, Ok(bytes), refund)
            }
            Outcome::Reject(reject) => {
                self.respond(MANAGEMENT_CANISTER, req.origin, Err(reject), req.cycles)
            }
            Outcome::Deferred => {}
        }
    }

    /// The canister, if `sender` controls it (IC0301 / IC0512 otherwise). The replica words the
    /// refusal differently for ingress, which it filters before execution
    /// (`execution_environment.rs`: "Only controllers of canister X can call ic00 method M"), and
    /// for canister callers, which reach the canister manager (`canister_manager/types.rs`).
    pub(crate) fn controlled(
        &self,
        id: Principal,
        sender: Sender,
        method: &str,
    ) -> Result<&Canister, RejectResponse> {
        let c = self.canisters.get(&id).ok_or_else(|| not_found(id))?;
        if c.is_controller(&sender.principal) {
            return Ok(c);
        }
        let message = if sender.is_canister {
            let controllers: Vec<String> = c.controllers.iter().map(Principal::to_text).collect();
            format!(
                "Only the controllers of the canister {id} can control it.\nCanister's controllers: {}\nSender's ID: {}",
                controllers.join(" "),
                sender.principal
            )
        } else {
            format!("Only controllers of canister {id} can call ic00 method {method}")
        };
        Err(RejectResponse::system(
            ErrorCode::CanisterInvalidController,
            message,
        ))
    }

    /// The canister, if `sender` may read its snapshots (`list_canister_snapshots`,
    /// `read_canister_snapshot_metadata`, `read_canister_snapshot_data`): a controller, anyone
    /// when `snapshot_visibility` is `public`, or a principal in `allowed_viewers` (interface
    /// spec 0.54+). Everyone else gets the controller refusal (IC0512; the replica's wording for
    /// a non-viewer was not observed, so the controller text is an inference).
    pub(crate) fn snapshot_viewable(
        &self,
        id: Principal,
        sender: Sender,
        method: &str,
    ) -> Result<&Canister, RejectResponse> {
        let c = self.canisters.get(&id).ok_or_else(|| not_found(id))?;
        let viewer = match &c.snapshot_visibility {
            mt::SnapshotVisibility::Controllers => false,
            mt::SnapshotVisibility::Public => true,
            mt::SnapshotVisibility::AllowedViewers(v) => v.contains(&sender.principal),
        };
        if viewer {
            return Ok(c);
        }
        self.controlled(id, sender, method)
    }

    /// Methods the IC accepts only from canisters (ingress gets IC0406).
    fn canister_only(sender: Sender, method: &str) -> Result<(), RejectResponse> {
        if sender.is_canister {
            Ok(())
        } else {
            Err(RejectResponse::system(
                ErrorCode::CanisterRejectedMessage,
                format!("Only canisters can call ic00 method {method}"),
            ))
        }
    }

    pub(crate) fn add_history(
        &mut self,
        id: Principal,
        sender: Sender,
        details: mt::ChangeDetails,
    ) {
        let now = self.time;
        if let Some(c) = self.canisters.get_mut(&id) {
            c.history.push(HistoryEntry {
                timestamp: now,
                canister_version: c.version,
                origin: sender.principal,
                origin_is_canister: sender.is_canister,
                details,
            });
        }
    }

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
            Some(id) if self.canisters.contains_key(&id) => {
                return Err(RejectResponse::system(
                    ErrorCode::CanisterRejectedMessage,
                    format!("Canister {id} is already installed."),
                ));
            }
            Some(id) => id,
            None => self.allocate_canister_id(),
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
        self.insert_canister(canister);
        self.add_history(
            id,
            sender,
            mt::ChangeDetails::Creation(mt::CreationRecord {
                controllers,
                environment_variables_hash: None,
            }),
        );
        reply(replies::CreateCanisterReply { canister_id: id })
    }

    fn m_provisional_create(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::ProvisionalCreateCanisterWithCyclesArgs = decode(arg)?;
        let cycles = args.amount.as_ref().map_or(DEFAULT_CYCLES, nat_u128);
        self.create(sender, args.settings, cycles, args.specified_id)
    }

    fn m_create(&mut self, sender: Sender, arg: &[u8], cycles: u128) -> MResult {
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

    fn m_top_up(&mut self, arg: &[u8]) -> MResult {
        let args: mt::ProvisionalTopUpCanisterArgs = decode(arg)?;
        let c = self
            .canisters
            .get_mut(&args.canister_id)
            .ok_or_else(|| not_found(args.canister_id))?;
        c.cycles += nat_u128(&args.amount);
        reply_empty()
    }

    fn m_deposit(&mut self, arg: &[u8], cycles: u128) -> MResult {
        let args: mt::DepositCyclesArgs = decode(arg)?;
        let c = self
            .canisters
            .get_mut(&args.canister_id)
            .ok_or_else(|| not_found(args.canister_id))?;
        c.cycles += cycles;
        reply_empty()
    }

    fn m_install_code(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::InstallCodeArgs = decode(arg)?;
        self.install(
            sender,
            args.canister_id,
            args.mode,
            &args.wasm_module,
            args.arg,
        )
    }

    fn m_install_chunked(&mut self, sender: Sender, arg: &[u8]) -> MResult {
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
            .runtime
            .compile(prepared)
            .map_err(|e| invalid(e.message))?;
        let c = &self.canisters[&id];
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
                let mut env = self.env(c, ApiType::PreUpgrade, sender.principal, Vec::new());
                env.instruction_limit = self.limits.install_instructions;
                let out = self.runtime.execute(
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
            let mut env = self.env(c, ApiType::Init, sender.principal, arg);
            env.instruction_limit = self.limits.install_instructions;
            env.canister_version = new_version;
            env.global_timer = 0;
            env.certified_data = certified_data.clone();
            let base = ExecState {
                stable,
                ..ExecState::default()
            };
            let out =
                self.runtime
                    .execute(&module, &base, EntryPoint::Fresh(export), env, true, None);
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
        let c = self.canisters.get_mut(&id).expect("exists");
        c.logs.extend(logs_from.into_iter().flatten());
        c.instructions_executed += hook_instructions;
        if let Some(e) = fail {
            return Err(trap_reject(id, e));
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
        self.add_history(
            id,
            sender,
            mt::ChangeDetails::CodeDeployment(mt::CodeDeploymentRecord {
                mode,
                module_hash: hash,
            }),
        );
        reply_empty()
    }

    fn m_uninstall(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::UninstallCodeArgs = decode(arg)?;
        self.controlled(args.canister_id, sender, "uninstall_code")?;
        self.uninstall(args.canister_id, sender);
        reply_empty()
    }

    /// Removes code and memories; open call contexts are rejected and callbacks dropped.
    /// Snapshots and the chunk store stay (an explicit uninstall keeps snapshots, IC-FACTS §2).
    pub(crate) fn uninstall(&mut self, id: Principal, sender: Sender) {
        let c = self.canisters.get_mut(&id).expect("exists");
        c.module = None;
        c.state = ExecState::default();
        c.certified_data.clear();
        c.global_timer = 0;
        c.version += 1;
        c.callbacks.clear();
        let contexts = std::mem::take(&mut c.call_contexts);
        for cc in contexts.into_values() {
            if !cc.responded {
                let reject = RejectResponse::system(
                    ErrorCode::CanisterRejectedMessage,
                    "Canister has been uninstalled.",
                );
                self.respond(id, cc.origin, Err(reject), cc.cycles_available);
            }
        }
        self.add_history(id, sender, mt::ChangeDetails::CodeUninstall);
        self.check_stopped(id);
    }

    fn m_upload_chunk(&mut self, sender: Sender, arg: &[u8]) -> MResult {
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
        let c = self.canisters.get_mut(&args.canister_id).expect("checked");
        c.chunk_store.insert(hash, args.chunk);
        reply(replies::UploadChunkReply {
            hash: hash.to_vec(),
        })
    }

    fn m_stored_chunks(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::StoredChunksArgs = decode(arg)?;
        let c = self.controlled(args.canister_id, sender, "stored_chunks")?;
        let hashes: replies::StoredChunksReply = c
            .chunk_store
            .keys()
            .map(|h| mt::ChunkHash { hash: h.to_vec() })
            .collect();
        reply(hashes)
    }

    fn m_clear_chunks(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::ClearChunkStoreArgs = decode(arg)?;
        self.controlled(args.canister_id, sender, "clear_chunk_store")?;
        self.canisters
            .get_mut(&args.canister_id)
            .expect("checked")
            .chunk_store
            .clear();
        reply_empty()
    }

    fn m_update_settings(&mut self, sender: Sender, arg: &[u8]) -> MResult {
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
        let c = self.canisters.get_mut(&id).expect("checked");
        c.version += 1;
        if let Some(v) = &args.settings.snapshot_visibility {
            c.snapshot_visibility = v.clone();
        }
        if let Some(ft) = &args.settings.freezing_threshold {
            c.freezing_threshold = nat_u64(ft);
        }
        if let Some(controllers) = args.settings.controllers {
            c.controllers = controllers.clone();
            self.add_history(
                id,
                sender,
                mt::ChangeDetails::ControllersChange(mt::ControllersChangeRecord { controllers }),
            );
        }
        reply_empty()
    }

    fn m_status(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::CanisterStatusArgs = decode(arg)?;
        let id = args.canister_id;
        // Controllers only (status_visibility is not modelled).
        let c = self.controlled(id, sender, "canister_status")?;
        reply(status_of(c))
    }

    fn m_info(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::CanisterInfoArgs = decode(arg)?;
        Self::canister_only(sender, "canister_info")?;
        let c = self
            .canisters
            .get(&args.canister_id)
            .ok_or_else(|| not_found(args.canister_id))?;
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

    fn m_start(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::StartCanisterArgs = decode(arg)?;
        let id = args.canister_id;
        self.controlled(id, sender, "start_canister")?;
        let c = self.canisters.get_mut(&id).expect("checked");
        let cancelled = std::mem::take(&mut c.pending_stops);
        c.status = Status::Running;
        for origin in cancelled {
            let reject = RejectResponse::system(
                ErrorCode::CanisterStoppingCancelled,
                format!("Canister {id}'s stop request was cancelled."),
            );
            self.respond(MANAGEMENT_CANISTER, origin, Err(reject), 0);
        }
        reply_empty()
    }

    fn m_stop(&mut self, sender: Sender, arg: &[u8], origin: Origin) -> Outcome {
        let args: mt::StopCanisterArgs = match decode(arg) {
            Ok(a) => a,
            Err(e) => return Outcome::Reject(e),
        };
        let id = args.canister_id;
        if let Err(e) = self.controlled(id, sender, "stop_canister") {
            return Outcome::Reject(e);
        }
        let c = self.canisters.get_mut(&id).expect("checked");
        match c.status {
            Status::Stopped => Outcome::Reply(empty_reply_bytes()),
            Status::Running | Status::Stopping => {
                c.status = Status::Stopping;
                c.pending_stops.push(origin);
                self.check_stopped(id);
                Outcome::Deferred
            }
        }
    }

    fn m_delete(&mut self, sender: Sender, arg: &[u8]) -> MResult {
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
        self.canisters.remove(&id);
        reply_empty()
    }

    fn m_raw_rand(&mut self, sender: Sender) -> MResult {
        Self::canister_only(sender, "raw_rand")?;
        let mut out = Vec::with_capacity(32);
        for _ in 0..4 {
            // splitmix64 over a seed: deterministic per run, distinct per call.
            self.rand_state = self.rand_state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.rand_state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        Ok(encode_one(serde_bytes::ByteBuf::from(out)).expect("encode"))
    }
}

/// `canister_status` result for a canister.
pub(crate) fn status_of(c: &Canister) -> replies::CanisterStatusReply {
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

pub(crate) fn nat_u128(n: &Nat) -> u128 {
    u128::try_from(n.0.clone()).unwrap_or(u128::MAX)
}

pub(crate) fn nat_u64(n: &Nat) -> u64 {
    u64::try_from(n.0.clone()).unwrap_or(u64::MAX)
}
