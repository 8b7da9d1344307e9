//! The eight snapshot methods against the probe canister, with the semantics and error codes
//! of IC-FACTS §1, §2 and §8 (observed on PocketIC 10 / dfinity/ic
//! `rs/execution_environment/src/canister_manager.rs`).

mod common;

use candid::Encode;
use common::{Fixture, admin, stranger};
use ic_management_canister_types::{
    CanisterTimer, OnLowWasmMemoryHookStatus, SnapshotDataKind, SnapshotDataOffset, SnapshotSource,
    UploadCanisterSnapshotMetadataArgs,
};
use localnet::{ErrorCode, RejectCode};
use serde_bytes::ByteBuf;
use std::time::Duration;

fn module_bytes(
    f: &mut Fixture,
    p: candid::Principal,
    id: &[u8],
    kind: fn(u64, u64) -> SnapshotDataKind,
    total: u64,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < total {
        let size = (total - offset).min(2_000_000);
        out.extend(
            f.net
                .read_canister_snapshot_data(p, None, id.to_vec(), kind(offset, size))
                .unwrap(),
        );
        offset += size;
    }
    out
}

/// Take and load work on a running canister (no stop enforced) and restore heap and stable
/// memory; load bumps canister_version and runs no canister code.
#[test]
fn take_and_load_restore_heap_and_stable_memory_of_a_running_canister() {
    let mut f = Fixture::new();
    let p = f.probe();
    f.update::<_, u64>(p, "inc", ());
    f.update::<_, ()>(
        p,
        "stable_write",
        (10u64, ByteBuf::from(b"before".to_vec())),
    );
    let snap = f.net.take_canister_snapshot(p, None, None).unwrap();
    f.update::<_, u64>(p, "inc", ());
    f.update::<_, ()>(
        p,
        "stable_write",
        (10u64, ByteBuf::from(b"after!".to_vec())),
    );
    let version = f.net.canister_status(p, None).unwrap().version;
    f.net
        .load_canister_snapshot(p, None, snap.id.clone())
        .unwrap();
    assert_eq!(f.counter(p), 1);
    let stable: ByteBuf = f.query(p, "stable_read", (10u64, 6u64));
    assert_eq!(stable.as_slice(), b"before");
    assert_eq!(f.net.canister_status(p, None).unwrap().version, version + 1);
    assert_eq!(
        f.query::<_, Vec<String>>(p, "hooks", ()),
        vec!["init"],
        "no post_upgrade ran"
    );
}

/// IC-FACTS §8: ids are an 8-byte big-endian counter (0, 1, 2, … never reused) followed by
/// the canister id; a replacing take gets the next number and the replaced id is gone.
#[test]
fn snapshot_ids_are_a_never_reused_counter_followed_by_the_canister_id() {
    let mut f = Fixture::new();
    let p = f.probe();
    let s0 = f.net.take_canister_snapshot(p, None, None).unwrap();
    let s1 = f
        .net
        .take_canister_snapshot(p, None, Some(s0.id.clone()))
        .unwrap();
    assert_eq!(s0.id.len(), 18);
    assert_eq!(&s0.id[..8], &0u64.to_be_bytes());
    assert_eq!(&s1.id[..8], &1u64.to_be_bytes());
    assert_eq!(&s0.id[8..], p.as_slice());
    let list = f.net.list_canister_snapshots(p, None).unwrap();
    assert_eq!(
        list.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        vec![s1.id.clone()]
    );
    let err = f
        .net
        .load_canister_snapshot(p, None, s0.id.clone())
        .unwrap_err();
    assert_eq!(err.reject_code, RejectCode::DestinationInvalid);
    assert_eq!(err.error_code, Some(ErrorCode::CanisterSnapshotNotFound));
    assert_eq!(
        err.reject_message,
        format!("Could not find the snapshot ID {p}-0 for canister {p}.")
    );
    f.net.delete_canister_snapshot(p, None, s1.id).unwrap();
    let s2 = f.net.take_canister_snapshot(p, None, None).unwrap();
    assert_eq!(
        &s2.id[..8],
        &2u64.to_be_bytes(),
        "deleted numbers are not reused"
    );
}

/// IC-FACTS §8: the 11th snapshot without replace is reject code 4, IC0406.
#[test]
fn the_eleventh_snapshot_is_refused_with_ic0406_unless_it_replaces_one() {
    let mut f = Fixture::new();
    let p = f.probe();
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(f.net.take_canister_snapshot(p, None, None).unwrap().id);
    }
    let err = f.net.take_canister_snapshot(p, None, None).unwrap_err();
    assert_eq!(err.reject_code, RejectCode::CanisterReject);
    assert_eq!(err.error_code, Some(ErrorCode::CanisterRejectedMessage));
    assert!(err.reject_message.starts_with(&format!(
        "Canister {p} has reached the maximum number of snapshots allowed: 10."
    )));
    f.net
        .take_canister_snapshot(p, None, Some(ids[3].clone()))
        .unwrap();
    assert_eq!(f.net.list_canister_snapshots(p, None).unwrap().len(), 10);
}

/// IC-FACTS §8: every snapshot method is controller-only, IC0512.
#[test]
fn every_snapshot_method_is_controller_only() {
    let mut f = Fixture::new();
    let p = f.probe();
    let id = f.net.take_canister_snapshot(p, None, None).unwrap().id;
    let s = Some(stranger());
    let errors = vec![
        f.net.take_canister_snapshot(p, s, None).unwrap_err(),
        f.net.load_canister_snapshot(p, s, id.clone()).unwrap_err(),
        f.net.list_canister_snapshots(p, s).unwrap_err(),
        f.net
            .delete_canister_snapshot(p, s, id.clone())
            .unwrap_err(),
        f.net
            .read_canister_snapshot_metadata(p, s, id.clone())
            .unwrap_err(),
        f.net
            .read_canister_snapshot_data(
                p,
                s,
                id.clone(),
                SnapshotDataKind::WasmModule { offset: 0, size: 1 },
            )
            .unwrap_err(),
        f.net
            .upload_canister_snapshot_metadata(s, upload_args(p, 1, 0, 0))
            .unwrap_err(),
        f.net
            .upload_canister_snapshot_data(
                p,
                s,
                id.clone(),
                SnapshotDataOffset::WasmModule { offset: 0 },
                vec![1],
            )
            .unwrap_err(),
    ];
    for err in errors {
        assert_eq!(err.reject_code, RejectCode::CanisterError);
        assert_eq!(
            err.error_code,
            Some(ErrorCode::CanisterInvalidController),
            "{}",
            err.reject_message
        );
        assert!(err.reject_message.starts_with(&format!(
            "Only controllers of canister {p} can call ic00 method "
        )));
    }
}

#[test]
fn deleting_an_unknown_snapshot_is_ic0305() {
    let mut f = Fixture::new();
    let p = f.probe();
    let mut bogus = 5u64.to_be_bytes().to_vec();
    bogus.extend_from_slice(p.as_slice());
    let err = f.net.delete_canister_snapshot(p, None, bogus).unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::CanisterSnapshotNotFound));
    assert_eq!(
        err.reject_message,
        format!("Could not find the snapshot ID {p}-5 for canister {p}.")
    );
}

/// IC-FACTS §8: slices are capped at 2,000,000 bytes and bounded by the data (IC0408).
#[test]
fn reads_are_sliced_at_2_000_000_bytes_and_bounded_by_the_data() {
    let mut f = Fixture::new();
    let p = f.probe();
    let id = f.net.take_canister_snapshot(p, None, None).unwrap().id;
    let err = f
        .net
        .read_canister_snapshot_data(
            p,
            None,
            id.clone(),
            SnapshotDataKind::WasmMemory {
                offset: 0,
                size: 2_000_001,
            },
        )
        .unwrap_err();
    assert_eq!(err.reject_code, RejectCode::CanisterReject);
    assert_eq!(err.error_code, Some(ErrorCode::InvalidManagementPayload));
    assert_eq!(
        err.reject_message,
        "Requested slice too large: 2000001 > 2000000"
    );
    let meta = f
        .net
        .read_canister_snapshot_metadata(p, None, id.clone())
        .unwrap();
    let size = meta.wasm_module_size;
    let err = f
        .net
        .read_canister_snapshot_data(
            p,
            None,
            id.clone(),
            SnapshotDataKind::WasmModule {
                offset: size,
                size: 1,
            },
        )
        .unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::InvalidManagementPayload));
    assert_eq!(
        err.reject_message,
        format!(
            "Invalid subslice into wasm module / main memory / stable memory: offset: {size}, size: 1"
        )
    );
    let module = module_bytes(
        &mut f,
        p,
        &id,
        |offset, size| SnapshotDataKind::WasmModule { offset, size },
        size,
    );
    assert_eq!(
        module,
        common::probe_wasm(),
        "the snapshot holds the module as installed"
    );
}

/// IC-FACTS §8: metadata of a taken snapshot of a Rust canister.
#[test]
fn metadata_of_a_taken_snapshot_matches_what_the_ic_reports() {
    let mut f = Fixture::new();
    let p = f.probe();
    f.update::<_, ()>(p, "set_certified", (ByteBuf::from(vec![7u8; 4]),));
    f.net.advance_time(Duration::from_secs(1));
    let snap = f.net.take_canister_snapshot(p, None, None).unwrap();
    let meta = f
        .net
        .read_canister_snapshot_metadata(p, None, snap.id.clone())
        .unwrap();
    assert!(matches!(
        meta.source,
        Some(SnapshotSource::TakenFromCanister(_))
    ));
    assert_eq!(meta.taken_at_timestamp, f.net.time_nanos());
    assert_eq!(meta.taken_at_timestamp, snap.taken_at_timestamp);
    assert!(!meta.globals.is_empty());
    assert!(meta.globals.iter().all(|g| matches!(
        g,
        Some(ic_management_canister_types::SnapshotMetadataGlobal::I32(_))
    )));
    assert_eq!(meta.wasm_memory_size % 65536, 0);
    assert_eq!(meta.stable_memory_size % 65536, 0);
    assert!(matches!(meta.global_timer, Some(CanisterTimer::Inactive)));
    assert!(matches!(
        meta.on_low_wasm_memory_hook_status,
        Some(OnLowWasmMemoryHookStatus::ConditionNotSatisfied)
    ));
    assert_eq!(meta.certified_data, vec![7u8; 4]);
    assert!(meta.wasm_chunk_store.is_empty());
    assert_eq!(
        meta.canister_version,
        f.net.canister_status(p, None).unwrap().version
    );
    let status = f.net.canister_status(p, None).unwrap();
    assert_eq!(status.memory_metrics.snapshots_size, snap.total_size);
}

/// IC-FACTS §8: only snapshots created by metadata upload accept data (IC0409).
#[test]
fn uploading_data_into_a_taken_snapshot_is_refused_with_ic0409() {
    let mut f = Fixture::new();
    let p = f.probe();
    let id = f.net.take_canister_snapshot(p, None, None).unwrap().id;
    let err = f
        .net
        .upload_canister_snapshot_data(
            p,
            None,
            id,
            SnapshotDataOffset::WasmMemory { offset: 0 },
            vec![1],
        )
        .unwrap_err();
    assert_eq!(err.reject_code, RejectCode::CanisterReject);
    assert_eq!(err.error_code, Some(ErrorCode::CanisterSnapshotImmutable));
    assert_eq!(
        err.reject_message,
        "Only canister snapshots created by metadata upload can be mutated."
    );
}

fn upload_args(
    p: candid::Principal,
    module: u64,
    heap: u64,
    stable: u64,
) -> UploadCanisterSnapshotMetadataArgs {
    UploadCanisterSnapshotMetadataArgs {
        canister_id: p,
        replace_snapshot: None,
        wasm_module_size: module,
        globals: vec![],
        wasm_memory_size: heap,
        stable_memory_size: stable,
        certified_data: vec![],
        global_timer: None,
        on_low_wasm_memory_hook_status: None,
    }
}

/// IC-FACTS §2 "Upload": validation of the metadata.
#[test]
fn upload_metadata_is_validated() {
    let mut f = Fixture::new();
    let p = f.probe();
    let bad = [
        upload_args(p, 0, 0, 0),
        upload_args(p, 100 * 1024 * 1024 + 1, 0, 0),
        upload_args(p, 10, 1000, 0),
        upload_args(p, 10, 0, 65537),
        upload_args(p, 10, 8 * 1024 * 1024 * 1024, 0),
        UploadCanisterSnapshotMetadataArgs {
            certified_data: vec![0; 33],
            ..upload_args(p, 10, 0, 0)
        },
    ];
    for args in bad {
        let err = f
            .net
            .upload_canister_snapshot_metadata(None, args)
            .unwrap_err();
        assert_eq!(
            err.error_code,
            Some(ErrorCode::CanisterContractViolation),
            "{}",
            err.reject_message
        );
    }
    assert!(f.net.list_canister_snapshots(p, None).unwrap().is_empty());
}

/// IC-FACTS §8: metadata + data copied from a taken snapshot and loaded restores the same
/// state; uploaded ids continue the counter; an uploaded snapshot restores the global timer.
#[test]
fn an_uploaded_copy_of_a_taken_snapshot_restores_the_same_state() {
    let mut f = Fixture::new();
    let p = f.probe();
    for _ in 0..5 {
        f.update::<_, u64>(p, "inc", ());
    }
    f.update::<_, ()>(
        p,
        "stable_write",
        (70_000u64, ByteBuf::from(b"stable!".to_vec())),
    );
    let taken = f.net.take_canister_snapshot(p, None, None).unwrap().id;
    let meta = f
        .net
        .read_canister_snapshot_metadata(p, None, taken.clone())
        .unwrap();
    let module = module_bytes(
        &mut f,
        p,
        &taken,
        |offset, size| SnapshotDataKind::WasmModule { offset, size },
        meta.wasm_module_size,
    );
    let heap = module_bytes(
        &mut f,
        p,
        &taken,
        |offset, size| SnapshotDataKind::WasmMemory { offset, size },
        meta.wasm_memory_size,
    );
    let stable = module_bytes(
        &mut f,
        p,
        &taken,
        |offset, size| SnapshotDataKind::StableMemory { offset, size },
        meta.stable_memory_size,
    );

    // A second canister receives the upload.
    let q = f.probe();
    let timer_at = f.net.time_nanos() + 3_600_000_000_000;
    let args = UploadCanisterSnapshotMetadataArgs {
        canister_id: q,
        replace_snapshot: None,
        wasm_module_size: meta.wasm_module_size,
        globals: meta.globals.iter().map(|g| g.clone().unwrap()).collect(),
        wasm_memory_size: meta.wasm_memory_size,
        stable_memory_size: meta.stable_memory_size,
        certified_data: meta.certified_data.clone(),
        global_timer: Some(CanisterTimer::Active(timer_at)),
        on_low_wasm_memory_hook_status: None,
    };
    let q_taken = f.net.take_canister_snapshot(q, None, None).unwrap().id;
    let uploaded = f.net.upload_canister_snapshot_metadata(None, args).unwrap();
    assert_eq!(
        &uploaded[..8],
        &1u64.to_be_bytes(),
        "the upload continues q's counter after {q_taken:?}"
    );
    for (kind, data) in [(0, &module), (1, &heap), (2, &stable)] {
        for (i, piece) in data.chunks(1_000_000).enumerate() {
            let offset = i as u64 * 1_000_000;
            let kind = match kind {
                0 => SnapshotDataOffset::WasmModule { offset },
                1 => SnapshotDataOffset::WasmMemory { offset },
                _ => SnapshotDataOffset::StableMemory { offset },
            };
            f.net
                .upload_canister_snapshot_data(q, None, uploaded.clone(), kind, piece.to_vec())
                .unwrap();
        }
    }
    let meta_up = f
        .net
        .read_canister_snapshot_metadata(q, None, uploaded.clone())
        .unwrap();
    assert!(matches!(
        meta_up.source,
        Some(SnapshotSource::MetadataUpload(_))
    ));
    f.net.load_canister_snapshot(q, None, uploaded).unwrap();
    assert_eq!(f.counter(q), 5);
    let s: ByteBuf = f.query(q, "stable_read", (70_000u64, 7u64));
    assert_eq!(s.as_slice(), b"stable!");
    assert_eq!(
        f.net.global_timer(q),
        Some(timer_at),
        "an uploaded snapshot restores the timer"
    );
}

/// IC-FACTS §2: a taken snapshot does not restore the global timer.
#[test]
fn loading_a_taken_snapshot_does_not_restore_the_global_timer() {
    let mut f = Fixture::new();
    let p = f.probe();
    f.update::<_, ()>(p, "timer_after", (100u64,));
    let armed = f.net.global_timer(p);
    assert!(armed.is_some());
    let id = f.net.take_canister_snapshot(p, None, None).unwrap().id;
    f.net.advance_time(Duration::from_secs(200));
    f.net.run_until_idle();
    assert_eq!(f.query::<_, u64>(p, "timer_fired", ()), 1);
    assert_eq!(f.net.global_timer(p), None);
    f.net.load_canister_snapshot(p, None, id).unwrap();
    assert_eq!(
        f.net.global_timer(p),
        None,
        "the timer stays as it was before the load"
    );
}

/// Take with the taken canister's own controller when it is the canister itself: a canister
/// can snapshot itself only if it controls itself (IC-FACTS §2 "Who").
#[test]
fn a_canister_can_snapshot_itself_only_when_it_is_its_own_controller() {
    let mut f = Fixture::new();
    let p = f.probe();
    let arg = Encode!(&ic_management_canister_types::TakeCanisterSnapshotArgs {
        canister_id: p,
        replace_snapshot: None,
        uninstall_code: None,
        sender_canister_version: None,
    })
    .unwrap();
    let call = |f: &mut Fixture| -> common::CallOutcome {
        f.update(
            p,
            "call",
            (
                localnet::MANAGEMENT_CANISTER,
                "take_canister_snapshot",
                ByteBuf::from(arg.clone()),
                0u128,
            ),
        )
    };
    let (code, msg) = call(&mut f).unwrap_err();
    assert_eq!(code, 5);
    // A canister caller gets the canister manager's wording (canister_manager/types.rs).
    assert!(
        msg.contains(&format!(
            "Only the controllers of the canister {p} can control it."
        )),
        "{msg}"
    );
    f.net.set_controllers(p, None, vec![admin(), p]).unwrap();
    assert!(call(&mut f).is_ok());
}

/// Explicit uninstall keeps snapshots; take with uninstall_code empties the canister.
#[test]
fn snapshots_survive_uninstall_and_can_restore_the_code() {
    let mut f = Fixture::new();
    let p = f.probe();
    f.update::<_, u64>(p, "inc", ());
    let id = f.net.take_canister_snapshot(p, None, None).unwrap().id;
    f.net.uninstall_canister(p, None).unwrap();
    assert!(f.try_update::<_, u64>(p, "inc", ()).is_err());
    assert_eq!(f.net.list_canister_snapshots(p, None).unwrap().len(), 1);
    f.net.load_canister_snapshot(p, None, id).unwrap();
    assert_eq!(f.counter(p), 1);
    let empty = f.net.create_canister();
    let err = f.net.take_canister_snapshot(empty, None, None).unwrap_err();
    assert!(
        err.reject_message.contains("empty canister"),
        "{}",
        err.reject_message
    );
}

fn set_snapshot_visibility(
    f: &mut Fixture,
    p: candid::Principal,
    visibility: ic_management_canister_types::SnapshotVisibility,
) -> Result<(), localnet::RejectResponse> {
    f.net.management_call(
        admin(),
        "update_settings",
        ic_management_canister_types::UpdateSettingsArgs {
            canister_id: p,
            settings: ic_management_canister_types::CanisterSettings {
                snapshot_visibility: Some(visibility),
                ..Default::default()
            },
            sender_canister_version: None,
        },
    )
}

/// Interface spec 0.54+: `snapshot_visibility = allowed_viewers` lets the listed principals
/// list snapshots and read their metadata and data — nothing else — without being controllers.
#[test]
fn an_allowed_viewer_can_list_and_read_snapshots_but_not_change_them() {
    use ic_management_canister_types::SnapshotVisibility;
    let mut f = Fixture::new();
    let p = f.probe();
    let id = f.net.take_canister_snapshot(p, None, None).unwrap().id;
    let viewer = candid::Principal::from_slice(&[0xee; 29]);
    let (v, s) = (Some(viewer), Some(stranger()));
    // Default: controllers only.
    let err = f.net.list_canister_snapshots(p, v).unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::CanisterInvalidController));
    set_snapshot_visibility(&mut f, p, SnapshotVisibility::AllowedViewers(vec![viewer])).unwrap();
    let status = f.net.canister_status(p, None).unwrap();
    assert_eq!(
        status.settings.snapshot_visibility,
        SnapshotVisibility::AllowedViewers(vec![viewer])
    );
    assert_eq!(f.net.list_canister_snapshots(p, v).unwrap().len(), 1);
    let meta = f
        .net
        .read_canister_snapshot_metadata(p, v, id.clone())
        .unwrap();
    let module = f
        .net
        .read_canister_snapshot_data(
            p,
            v,
            id.clone(),
            SnapshotDataKind::WasmModule {
                offset: 0,
                size: meta.wasm_module_size.min(1000),
            },
        )
        .unwrap();
    assert_eq!(module.len() as u64, meta.wasm_module_size.min(1000));
    // Everything else stays controller-only, for the viewer too; strangers see nothing.
    let refused = [
        f.net.take_canister_snapshot(p, v, None).unwrap_err(),
        f.net.load_canister_snapshot(p, v, id.clone()).unwrap_err(),
        f.net
            .delete_canister_snapshot(p, v, id.clone())
            .unwrap_err(),
        f.net.canister_status(p, v).unwrap_err(),
        f.net.list_canister_snapshots(p, s).unwrap_err(),
        f.net
            .read_canister_snapshot_metadata(p, s, id.clone())
            .unwrap_err(),
    ];
    for err in refused {
        assert_eq!(err.reject_code, RejectCode::CanisterError);
        assert_eq!(
            err.error_code,
            Some(ErrorCode::CanisterInvalidController),
            "{}",
            err.reject_message
        );
    }
    // Public: anyone reads; back to controllers: the viewer is refused again.
    set_snapshot_visibility(&mut f, p, SnapshotVisibility::Public).unwrap();
    assert_eq!(f.net.list_canister_snapshots(p, s).unwrap().len(), 1);
    set_snapshot_visibility(&mut f, p, SnapshotVisibility::Controllers).unwrap();
    assert!(f.net.list_canister_snapshots(p, v).is_err());
}

#[test]
fn more_than_ten_allowed_viewers_are_refused() {
    use ic_management_canister_types::SnapshotVisibility;
    let mut f = Fixture::new();
    let p = f.probe();
    let viewers = (0..11u8)
        .map(|i| candid::Principal::from_slice(&[i; 29]))
        .collect();
    let err = set_snapshot_visibility(&mut f, p, SnapshotVisibility::AllowedViewers(viewers))
        .unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::InvalidManagementPayload));
    assert!(
        err.reject_message.contains("At most 10"),
        "{}",
        err.reject_message
    );
}
