//! Every reply type of localnet's management canister has the interface spec's candid type
//! (`tests/spec/management-replies.did`), so clients typed after the spec decode what localnet
//! sends. The JS agent test (`tests/js_agent.rs`) checks the same over HTTP with a client we did
//! not write; this one covers every method, including those only canisters may call.

use candid::types::internal::TypeContainer;
use candid::types::{Type, TypeInner};
use candid_parser::utils::CandidSource;
use localnet::replies::*;
use std::path::Path;

/// The methods localnet's `aaaaa-aa` answers and the types it encodes their replies with (`()`
/// = no values).
fn localnet_replies(c: &mut TypeContainer) -> Vec<(&'static str, Vec<Type>)> {
    // `TypeContainer::add` turns the Rust type into candid types over its own environment.
    let mut one = |add: fn(&mut TypeContainer) -> Type| vec![add(c)];
    let none = Vec::new;
    vec![
        (
            "create_canister",
            one(TypeContainer::add::<CreateCanisterReply>),
        ),
        (
            "provisional_create_canister_with_cycles",
            one(TypeContainer::add::<CreateCanisterReply>),
        ),
        ("update_settings", none()),
        ("upload_chunk", one(TypeContainer::add::<UploadChunkReply>)),
        ("clear_chunk_store", none()),
        (
            "stored_chunks",
            one(TypeContainer::add::<StoredChunksReply>),
        ),
        ("install_code", none()),
        ("install_chunked_code", none()),
        ("uninstall_code", none()),
        ("start_canister", none()),
        ("stop_canister", none()),
        (
            "canister_status",
            one(TypeContainer::add::<CanisterStatusReply>),
        ),
        (
            "canister_info",
            one(TypeContainer::add::<CanisterInfoReply>),
        ),
        ("delete_canister", none()),
        ("deposit_cycles", none()),
        ("raw_rand", one(TypeContainer::add::<serde_bytes::ByteBuf>)),
        ("provisional_top_up_canister", none()),
        (
            "take_canister_snapshot",
            one(TypeContainer::add::<TakeSnapshotReply>),
        ),
        ("load_canister_snapshot", none()),
        (
            "list_canister_snapshots",
            one(TypeContainer::add::<ListSnapshotsReply>),
        ),
        ("delete_canister_snapshot", none()),
        (
            "read_canister_snapshot_metadata",
            one(TypeContainer::add::<SnapshotMetadataReply>),
        ),
        (
            "read_canister_snapshot_data",
            one(TypeContainer::add::<ReadSnapshotDataReply>),
        ),
        (
            "upload_canister_snapshot_metadata",
            one(TypeContainer::add::<UploadSnapshotMetadataReply>),
        ),
        ("upload_canister_snapshot_data", none()),
    ]
}

#[test]
fn every_management_reply_has_the_interface_specs_candid_type() {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/spec/management-replies.did");
    let (mut env, service) = CandidSource::File(&spec)
        .load()
        .expect("the spec's did parses");
    let service = service.expect("a service");
    let TypeInner::Service(methods) = env.trace_type(&service).expect("service").as_ref().clone()
    else {
        panic!("not a service")
    };
    let mut container = TypeContainer::new();
    let ours = localnet_replies(&mut container);
    let mut missing: Vec<&str> = methods
        .iter()
        .map(|(m, _)| m.as_str())
        .filter(|m| !ours.iter().any(|(o, _)| o == m))
        .collect();
    missing.extend(
        ours.iter()
            .map(|(o, _)| *o)
            .filter(|o| !methods.iter().any(|(m, _)| m == o)),
    );
    assert!(
        missing.is_empty(),
        "methods in only one of the spec file and this test: {missing:?}"
    );
    let mut wrong = Vec::new();
    for (method, rets) in ours {
        let expected = env
            .get_method(&service, method)
            .expect("the method is in the spec")
            .rets
            .clone();
        // Our types into the spec's environment (renamed where names clash), then equality.
        let rets: Vec<Type> = rets
            .into_iter()
            .map(|t| env.merge_type(container.env.clone(), t))
            .collect();
        let mut gamma = std::collections::HashSet::new();
        let mut why = String::from("a different number of values");
        let equal = rets.len() == expected.len()
            && rets.iter().zip(&expected).all(|(ours, spec)| {
                candid::types::subtype::equal(&mut gamma, &env, ours, spec)
                    .map_err(|e| why = e.to_string())
                    .is_ok()
            });
        if !equal {
            wrong.push(format!(
                "{method}: localnet sends ({}) but the spec says ({}): {why}",
                rets.iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                expected
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
