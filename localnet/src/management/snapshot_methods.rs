//! The management canister's eight snapshot methods, named as the IC's. Who may call them is
//! decided here (controllers; `snapshot_visibility` for list and reads; the canister is not
//! required to be stopped), and so is what a snapshot holds of a canister and how it is loaded
//! back: module, memories, globals, chunk store and certified data, `canister_version` bumped,
//! a history record, the global timer only for an uploaded snapshot, no canister code run.
//! The snapshots themselves and their rules are the store's ([`crate::snapshots`]).

use super::{MResult, Management, decode, reply, reply_empty};
use crate::canister::Sender;
use crate::cycles;
use crate::execution::ExecState;
use crate::replies;
use crate::snapshots::{self, Snapshot, SnapshotSource};
use crate::types::{ErrorCode, RejectResponse};
use crate::wasm;
use ic_management_canister_types as mt;

impl Management<'_> {
    pub(super) fn take_canister_snapshot(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::TakeCanisterSnapshotArgs = decode(arg)?;
        let id = args.canister_id;
        let c = self.controlled(id, sender, "take_canister_snapshot")?;
        let Some(module) = c.module.clone() else {
            // `CanisterSnapshotExecutionStateNotFound` in canister_manager/types.rs (colon included).
            return Err(RejectResponse::system(
                ErrorCode::CanisterRejectedMessage,
                format!("Failed to create snapshot for empty canister {id}:"),
            ));
        };
        let slot = c.snapshots.slot(id, args.replace_snapshot.as_ref())?;
        // 2 B instructions + one per byte of the snapshot (IC-FACTS §2), paid by the canister
        // above its freezing reserve, before anything changes.
        let size =
            c.memory_size() + c.state.globals.len() as u64 * 8 + c.certified_data.len() as u64;
        self.net.canisters_mut().charge_or_refuse(
            id,
            cycles::instructions_cost(cycles::SNAPSHOT_BASE_INSTRUCTIONS + size),
        )?;
        let now = self.net.now();
        let c = self.checked_mut(id);
        let snapshot = Snapshot {
            id: c.snapshots.next_id(id),
            source: SnapshotSource::TakenFromCanister,
            taken_at: now,
            wasm_module: module.prepared.original.clone(),
            wasm_memory: c.state.heap.clone(),
            stable_memory: c.state.stable.clone(),
            globals: c.state.globals.clone(),
            chunk_store: c.chunk_store.clone(),
            certified_data: c.certified_data.clone(),
            global_timer: c.global_timer,
            canister_version: c.version,
            hook_status: 0,
        };
        let result: replies::TakeSnapshotReply = snapshot.summary();
        c.snapshots.insert(slot, snapshot);
        if args.uninstall_code == Some(true) {
            self.net.uninstall(id, sender);
        }
        reply(result)
    }

    pub(super) fn load_canister_snapshot(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::LoadCanisterSnapshotArgs = decode(arg)?;
        let id = args.canister_id;
        self.controlled(id, sender, "load_canister_snapshot")?;
        let owner = match snapshots::parse_snapshot_id(&args.snapshot_id) {
            Some((_, owner)) if self.net.canisters().contains_key(&owner) => owner,
            _ => return Err(snapshots::not_found(&args.snapshot_id, id)),
        };
        if owner != id {
            // Loading another canister's snapshot needs control of both (same subnet here).
            self.controlled(owner, sender, "load_canister_snapshot")?;
        }
        let snapshot = self.net.canisters()[&owner]
            .snapshots
            .get(owner, &args.snapshot_id)
            .map_err(|_| snapshots::not_found(&args.snapshot_id, id))?
            .clone();
        self.net.canisters_mut().charge_or_refuse(
            id,
            cycles::instructions_cost(cycles::SNAPSHOT_BASE_INSTRUCTIONS + snapshot.total_size()),
        )?;
        let prepared = wasm::prepare(&snapshot.wasm_module).map_err(|e| {
            RejectResponse::system(
                ErrorCode::CanisterInvalidWasm,
                format!("Error from Canister {id}: Canister's Wasm module is not valid: {e}"),
            )
        })?;
        if prepared.mutable_globals.len() != snapshot.globals.len() {
            return Err(snapshots::invalid_metadata(format!(
                "the snapshot has {} globals but the module exports {}",
                snapshot.globals.len(),
                prepared.mutable_globals.len()
            )));
        }
        let module = self.net.runtime_mut().compile(prepared).map_err(|e| {
            RejectResponse::system(
                ErrorCode::CanisterInvalidWasm,
                format!("Error from Canister {id}: {}", e.message),
            )
        })?;
        let c = self.checked_mut(id);
        c.module = Some(module);
        c.state = ExecState {
            heap: snapshot.wasm_memory,
            globals: snapshot.globals,
            stable: snapshot.stable_memory,
        };
        c.chunk_store = snapshot.chunk_store;
        c.certified_data = snapshot.certified_data;
        if snapshot.source == SnapshotSource::MetadataUpload {
            c.global_timer = snapshot.global_timer;
        }
        c.version += 1;
        let record = mt::LoadSnapshotRecord {
            from_canister_id: (owner != id).then_some(owner),
            snapshot_id: snapshot.id,
            canister_version: snapshot.canister_version,
            taken_at_timestamp: snapshot.taken_at,
            source: snapshot.source.to_candid(),
        };
        self.record_change(id, sender, mt::ChangeDetails::LoadSnapshot(record));
        reply_empty()
    }

    pub(super) fn list_canister_snapshots(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::ListCanisterSnapshotsArgs = decode(arg)?;
        let c = self.snapshot_viewable(args.canister_id, sender, "list_canister_snapshots")?;
        let list: replies::ListSnapshotsReply = c.snapshots.iter().map(Snapshot::summary).collect();
        reply(list)
    }

    pub(super) fn delete_canister_snapshot(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::DeleteCanisterSnapshotArgs = decode(arg)?;
        let id = args.canister_id;
        self.controlled(id, sender, "delete_canister_snapshot")?;
        self.checked_mut(id)
            .snapshots
            .remove(id, &args.snapshot_id)?;
        reply_empty()
    }

    pub(super) fn read_canister_snapshot_metadata(
        &mut self,
        sender: Sender,
        arg: &[u8],
    ) -> MResult {
        let args: mt::ReadCanisterSnapshotMetadataArgs = decode(arg)?;
        let id = args.canister_id;
        let c = self.snapshot_viewable(id, sender, "read_canister_snapshot_metadata")?;
        reply(c.snapshots.get(id, &args.snapshot_id)?.metadata())
    }

    pub(super) fn read_canister_snapshot_data(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::ReadCanisterSnapshotDataArgs = decode(arg)?;
        let id = args.canister_id;
        let c = self.snapshot_viewable(id, sender, "read_canister_snapshot_data")?;
        let chunk = c.snapshots.get(id, &args.snapshot_id)?.read(args.kind)?;
        self.net.canisters_mut().charge_or_refuse(
            id,
            cycles::instructions_cost(cycles::SNAPSHOT_READ_BASE_INSTRUCTIONS + chunk.len() as u64),
        )?;
        reply(replies::ReadSnapshotDataReply { chunk })
    }

    pub(super) fn upload_canister_snapshot_metadata(
        &mut self,
        sender: Sender,
        arg: &[u8],
    ) -> MResult {
        let args: mt::UploadCanisterSnapshotMetadataArgs = decode(arg)?;
        let id = args.canister_id;
        let c = self.controlled(id, sender, "upload_canister_snapshot_metadata")?;
        snapshots::validate_metadata(&args)?;
        let slot = c.snapshots.slot(id, args.replace_snapshot.as_ref())?;
        self.net.canisters_mut().charge_or_refuse(
            id,
            cycles::instructions_cost(cycles::SNAPSHOT_BASE_INSTRUCTIONS),
        )?;
        let now = self.net.now();
        let c = self.checked_mut(id);
        let snapshot_id = c.snapshots.next_id(id);
        let snapshot = Snapshot::uploaded(snapshot_id.clone(), now, c.version, args);
        c.snapshots.insert(slot, snapshot);
        reply(replies::UploadSnapshotMetadataReply { snapshot_id })
    }

    pub(super) fn upload_canister_snapshot_data(&mut self, sender: Sender, arg: &[u8]) -> MResult {
        let args: mt::UploadCanisterSnapshotDataArgs = decode(arg)?;
        let id = args.canister_id;
        let c = self.controlled(id, sender, "upload_canister_snapshot_data")?;
        c.snapshots.get(id, &args.snapshot_id)?;
        self.net
            .canisters_mut()
            .charge_or_refuse(id, cycles::instructions_cost(args.chunk.len() as u64))?;
        self.checked_mut(id)
            .snapshots
            .get_mut(id, &args.snapshot_id)?
            .write(args.kind, args.chunk)?;
        reply_empty()
    }
}
