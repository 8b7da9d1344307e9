//! The test-facing API, shaped like the `pocket-ic` crate's `PocketIc` so tests read familiarly
//! (and could later run on PocketIC). Every management helper submits an ingress message to
//! `aaaaa-aa` and runs the subnet until it completes, so it takes the same path as a canister's
//! call. Helpers that PocketIC makes panic on failure panic here too; the snapshot helpers
//! return `Result` so tests can check the IC's error codes.

use crate::net::LocalNet;
use crate::types::{MANAGEMENT_CANISTER, RejectResponse};
use candid::{CandidType, Decode, Nat, Principal, encode_one};
use ic_management_canister_types as mt;
use serde::de::DeserializeOwned;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use mt::{
    CanisterSettings, CanisterStatusResult, ReadCanisterSnapshotMetadataResult, Snapshot,
    SnapshotDataKind, SnapshotDataOffset, UploadCanisterSnapshotMetadataArgs,
};

fn sender_or_anonymous(sender: Option<Principal>) -> Principal {
    sender.unwrap_or(Principal::anonymous())
}

impl LocalNet {
    /// Calls a management method by ingress and decodes its result.
    pub fn management_call<A: CandidType, R: CandidType + DeserializeOwned>(
        &mut self,
        sender: Principal,
        method: &str,
        arg: A,
    ) -> Result<R, RejectResponse> {
        let bytes = self.update_call(
            MANAGEMENT_CANISTER,
            sender,
            method,
            encode_one(arg).expect("encode"),
        )?;
        Ok(Decode!(&bytes, R).expect("management canister result decodes"))
    }

    /// Creates a canister controlled by the anonymous principal, with [`crate::DEFAULT_CYCLES`].
    pub fn create_canister(&mut self) -> Principal {
        self.create_canister_with_settings(None, None)
    }

    /// Creates a canister with settings; `sender` (default anonymous) is the default controller.
    pub fn create_canister_with_settings(
        &mut self,
        sender: Option<Principal>,
        settings: Option<CanisterSettings>,
    ) -> Principal {
        let args = mt::ProvisionalCreateCanisterWithCyclesArgs {
            settings,
            ..Default::default()
        };
        let r: mt::CanisterIdRecord = self
            .management_call(
                sender_or_anonymous(sender),
                "provisional_create_canister_with_cycles",
                args,
            )
            .expect("provisional_create_canister_with_cycles");
        r.canister_id
    }

    /// Adds cycles; returns the new balance.
    pub fn add_cycles(&mut self, canister: Principal, amount: u128) -> u128 {
        let args = mt::ProvisionalTopUpCanisterArgs {
            canister_id: canister,
            amount: Nat::from(amount),
        };
        let () = self
            .management_call(Principal::anonymous(), "provisional_top_up_canister", args)
            .expect("provisional_top_up_canister");
        self.cycle_balance(canister)
    }

    /// Sets a canister's balance (a test knob, e.g. to leave a canister short of cycles; the
    /// IC has no such call). Returns the old balance.
    pub fn set_cycle_balance(&mut self, canister: Principal, balance: u128) -> u128 {
        let c = self.canisters.get_mut(&canister).expect("no such canister");
        std::mem::replace(&mut c.cycles, balance)
    }

    fn install_mode(
        &mut self,
        canister: Principal,
        wasm: Vec<u8>,
        arg: Vec<u8>,
        sender: Option<Principal>,
        mode: mt::CanisterInstallMode,
    ) -> Result<(), RejectResponse> {
        let args = mt::InstallCodeArgs {
            mode,
            canister_id: canister,
            wasm_module: wasm,
            arg,
            sender_canister_version: None,
        };
        self.management_call(sender_or_anonymous(sender), "install_code", args)
    }

    /// Installs code; panics on failure (as PocketIC does).
    pub fn install_canister(
        &mut self,
        canister: Principal,
        wasm: Vec<u8>,
        arg: Vec<u8>,
        sender: Option<Principal>,
    ) {
        if let Err(e) = self.install_mode(
            canister,
            wasm,
            arg,
            sender,
            mt::CanisterInstallMode::Install,
        ) {
            panic!("install_canister of {canister} failed: {e}");
        }
    }

    /// Upgrades (runs pre_upgrade and post_upgrade).
    pub fn upgrade_canister(
        &mut self,
        canister: Principal,
        wasm: Vec<u8>,
        arg: Vec<u8>,
        sender: Option<Principal>,
    ) -> Result<(), RejectResponse> {
        self.install_mode(
            canister,
            wasm,
            arg,
            sender,
            mt::CanisterInstallMode::Upgrade(None),
        )
    }

    /// Upgrades without running pre_upgrade.
    pub fn upgrade_canister_skip_pre_upgrade(
        &mut self,
        canister: Principal,
        wasm: Vec<u8>,
        arg: Vec<u8>,
        sender: Option<Principal>,
    ) -> Result<(), RejectResponse> {
        let flags = mt::UpgradeFlags {
            skip_pre_upgrade: Some(true),
            wasm_memory_persistence: None,
        };
        self.install_mode(
            canister,
            wasm,
            arg,
            sender,
            mt::CanisterInstallMode::Upgrade(Some(flags)),
        )
    }

    /// Reinstalls (wipes memories, runs init).
    pub fn reinstall_canister(
        &mut self,
        canister: Principal,
        wasm: Vec<u8>,
        arg: Vec<u8>,
        sender: Option<Principal>,
    ) -> Result<(), RejectResponse> {
        self.install_mode(
            canister,
            wasm,
            arg,
            sender,
            mt::CanisterInstallMode::Reinstall,
        )
    }

    /// Removes the code.
    pub fn uninstall_canister(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
    ) -> Result<(), RejectResponse> {
        let args = mt::UninstallCodeArgs {
            canister_id: canister,
            sender_canister_version: None,
        };
        self.management_call(sender_or_anonymous(sender), "uninstall_code", args)
    }

    /// Stops (waits until open call contexts drain).
    pub fn stop_canister(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
    ) -> Result<(), RejectResponse> {
        self.management_call(
            sender_or_anonymous(sender),
            "stop_canister",
            mt::CanisterIdRecord {
                canister_id: canister,
            },
        )
    }

    /// Starts.
    pub fn start_canister(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
    ) -> Result<(), RejectResponse> {
        self.management_call(
            sender_or_anonymous(sender),
            "start_canister",
            mt::CanisterIdRecord {
                canister_id: canister,
            },
        )
    }

    /// Deletes (must be stopped).
    pub fn delete_canister(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
    ) -> Result<(), RejectResponse> {
        self.management_call(
            sender_or_anonymous(sender),
            "delete_canister",
            mt::CanisterIdRecord {
                canister_id: canister,
            },
        )
    }

    /// `canister_status`.
    pub fn canister_status(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
    ) -> Result<CanisterStatusResult, RejectResponse> {
        self.management_call(
            sender_or_anonymous(sender),
            "canister_status",
            mt::CanisterIdRecord {
                canister_id: canister,
            },
        )
    }

    /// Replaces the controllers.
    pub fn set_controllers(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
        controllers: Vec<Principal>,
    ) -> Result<(), RejectResponse> {
        let settings = CanisterSettings {
            controllers: Some(controllers),
            ..Default::default()
        };
        let args = mt::UpdateSettingsArgs {
            canister_id: canister,
            settings,
            sender_canister_version: None,
        };
        self.management_call(sender_or_anonymous(sender), "update_settings", args)
    }

    /// Uploads a wasm chunk; returns its hash.
    pub fn upload_chunk(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
        chunk: Vec<u8>,
    ) -> Result<Vec<u8>, RejectResponse> {
        let r: mt::ChunkHash = self.management_call(
            sender_or_anonymous(sender),
            "upload_chunk",
            mt::UploadChunkArgs {
                canister_id: canister,
                chunk,
            },
        )?;
        Ok(r.hash)
    }

    /// Hashes in the chunk store (sorted).
    pub fn stored_chunks(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
    ) -> Result<Vec<Vec<u8>>, RejectResponse> {
        let r: Vec<mt::ChunkHash> = self.management_call(
            sender_or_anonymous(sender),
            "stored_chunks",
            mt::CanisterIdRecord {
                canister_id: canister,
            },
        )?;
        Ok(r.into_iter().map(|c| c.hash).collect())
    }

    /// Empties the chunk store.
    pub fn clear_chunk_store(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
    ) -> Result<(), RejectResponse> {
        self.management_call(
            sender_or_anonymous(sender),
            "clear_chunk_store",
            mt::CanisterIdRecord {
                canister_id: canister,
            },
        )
    }

    /// Installs code assembled from the chunk store.
    #[allow(clippy::too_many_arguments)]
    pub fn install_chunked_canister(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
        mode: mt::CanisterInstallMode,
        store_canister: Option<Principal>,
        chunk_hashes: Vec<Vec<u8>>,
        wasm_module_hash: Vec<u8>,
        arg: Vec<u8>,
    ) -> Result<(), RejectResponse> {
        let args = mt::InstallChunkedCodeArgs {
            mode,
            target_canister: canister,
            store_canister,
            chunk_hashes_list: chunk_hashes
                .into_iter()
                .map(|hash| mt::ChunkHash { hash })
                .collect(),
            wasm_module_hash,
            arg,
            sender_canister_version: None,
        };
        self.management_call(sender_or_anonymous(sender), "install_chunked_code", args)
    }

    /// `take_canister_snapshot`.
    pub fn take_canister_snapshot(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
        replace_snapshot: Option<Vec<u8>>,
    ) -> Result<Snapshot, RejectResponse> {
        let args = mt::TakeCanisterSnapshotArgs {
            canister_id: canister,
            replace_snapshot,
            uninstall_code: None,
            sender_canister_version: None,
        };
        self.management_call(sender_or_anonymous(sender), "take_canister_snapshot", args)
    }

    /// `load_canister_snapshot`.
    pub fn load_canister_snapshot(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
        snapshot_id: Vec<u8>,
    ) -> Result<(), RejectResponse> {
        let args = mt::LoadCanisterSnapshotArgs {
            canister_id: canister,
            snapshot_id,
            sender_canister_version: None,
        };
        self.management_call(sender_or_anonymous(sender), "load_canister_snapshot", args)
    }

    /// `list_canister_snapshots`.
    pub fn list_canister_snapshots(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
    ) -> Result<Vec<Snapshot>, RejectResponse> {
        self.management_call(
            sender_or_anonymous(sender),
            "list_canister_snapshots",
            mt::CanisterIdRecord {
                canister_id: canister,
            },
        )
    }

    /// `delete_canister_snapshot`.
    pub fn delete_canister_snapshot(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
        snapshot_id: Vec<u8>,
    ) -> Result<(), RejectResponse> {
        let args = mt::DeleteCanisterSnapshotArgs {
            canister_id: canister,
            snapshot_id,
        };
        self.management_call(
            sender_or_anonymous(sender),
            "delete_canister_snapshot",
            args,
        )
    }

    /// `read_canister_snapshot_metadata`.
    pub fn read_canister_snapshot_metadata(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
        snapshot_id: Vec<u8>,
    ) -> Result<ReadCanisterSnapshotMetadataResult, RejectResponse> {
        let args = mt::ReadCanisterSnapshotMetadataArgs {
            canister_id: canister,
            snapshot_id,
        };
        self.management_call(
            sender_or_anonymous(sender),
            "read_canister_snapshot_metadata",
            args,
        )
    }

    /// `read_canister_snapshot_data`: one slice.
    pub fn read_canister_snapshot_data(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
        snapshot_id: Vec<u8>,
        kind: SnapshotDataKind,
    ) -> Result<Vec<u8>, RejectResponse> {
        let args = mt::ReadCanisterSnapshotDataArgs {
            canister_id: canister,
            snapshot_id,
            kind,
        };
        let r: mt::ReadCanisterSnapshotDataResult = self.management_call(
            sender_or_anonymous(sender),
            "read_canister_snapshot_data",
            args,
        )?;
        Ok(r.chunk)
    }

    /// `upload_canister_snapshot_metadata`: returns the new snapshot id.
    pub fn upload_canister_snapshot_metadata(
        &mut self,
        sender: Option<Principal>,
        args: UploadCanisterSnapshotMetadataArgs,
    ) -> Result<Vec<u8>, RejectResponse> {
        let r: mt::UploadCanisterSnapshotMetadataResult = self.management_call(
            sender_or_anonymous(sender),
            "upload_canister_snapshot_metadata",
            args,
        )?;
        Ok(r.snapshot_id)
    }

    /// `upload_canister_snapshot_data`: one piece.
    pub fn upload_canister_snapshot_data(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
        snapshot_id: Vec<u8>,
        kind: SnapshotDataOffset,
        chunk: Vec<u8>,
    ) -> Result<(), RejectResponse> {
        let args = mt::UploadCanisterSnapshotDataArgs {
            canister_id: canister,
            snapshot_id,
            kind,
            chunk,
        };
        self.management_call(
            sender_or_anonymous(sender),
            "upload_canister_snapshot_data",
            args,
        )
    }

    /// Current time.
    pub fn get_time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.time_nanos())
    }

    /// Sets the clock (never backwards).
    pub fn set_time(&mut self, time: SystemTime) {
        let nanos = time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        self.set_time_nanos(nanos);
    }

    /// Moves the clock forward.
    pub fn advance_time(&mut self, by: Duration) {
        self.advance_time_nanos(by.as_nanos() as u64);
    }
}
