//! The IC HTTP interface, driven by the real ic-agent and ic-utils' `ManagementCanister`, with
//! query-signature verification on (the agent's default): localnet must look like a replica.
//! Needs the probe canister: run scripts/build-canisters.sh first.

mod common;

use candid::{Decode, Encode, Principal};
use ic_agent::agent::{RejectCode, RejectResponse};
use ic_agent::identity::{BasicIdentity, Secp256k1Identity};
use ic_agent::{Agent, AgentError, Identity};
use ic_utils::call::AsyncCall;
use ic_utils::interfaces::ManagementCanister;
use ic_utils::interfaces::management_canister::{SnapshotDataKind, SnapshotDataOffset};
use localnet::LocalNet;
use localnet::http::{Keys, ReplicaConfig, Server};
use std::sync::Arc;

use common::agent::{
    agent_for, counter, create_canister, inc, install_probe, load_snapshot, snapshot_ids,
    take_snapshot,
};
use common::{probe_wasm, start_binary};

fn ed25519_identity(seed: u8) -> BasicIdentity {
    BasicIdentity::from_raw_key(&[seed; 32])
}

/// A server on a free port and an agent (Ed25519 identity) that trusts its root key.
struct Fixture {
    server: Server,
    agent: Agent,
}

impl Fixture {
    async fn new() -> Fixture {
        Self::with_identity(Arc::new(ed25519_identity(1))).await
    }

    async fn with_identity(identity: Arc<dyn Identity>) -> Fixture {
        let server = Server::start(
            LocalNet::new(),
            Keys::from_seed(b"http tests"),
            ReplicaConfig::default(),
            0,
        )
        .expect("start the server");
        let agent = agent_for(&server.url(), identity).await;
        Fixture { server, agent }
    }

    fn mgmt(&self) -> ManagementCanister<'_> {
        ManagementCanister::create(&self.agent)
    }

    /// Creates a canister controlled by the agent's identity and installs the probe.
    async fn probe(&self) -> Principal {
        install_probe(&self.agent, &probe_wasm()).await
    }

    async fn update(
        &self,
        canister: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> Result<Vec<u8>, AgentError> {
        self.agent
            .update(&canister, method)
            .with_arg(arg)
            .call_and_wait()
            .await
    }

    async fn query(
        &self,
        canister: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> Result<Vec<u8>, AgentError> {
        self.agent
            .query(&canister, method)
            .with_arg(arg)
            .call()
            .await
    }
}

fn reject_of(e: AgentError) -> RejectResponse {
    match e {
        AgentError::CertifiedReject { reject, .. }
        | AgentError::UncertifiedReject { reject, .. } => reject,
        other => panic!("expected a reject, got {other}"),
    }
}

fn http_status_of(e: AgentError) -> (u16, String) {
    match e {
        AgentError::HttpError(p) => (p.status, String::from_utf8_lossy(&p.content).into_owned()),
        other => panic!("expected an HTTP error, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_endpoint_reports_the_root_key_in_der() {
    let f = Fixture::new().await;
    let status = f.agent.status().await.expect("status");
    let root_key = status.root_key.expect("a root key");
    assert_eq!(root_key, f.server.replica().keys().root_key_der());
    assert_eq!(root_key.len(), 133);
    assert_eq!(
        hex::encode(&root_key[..37]),
        "308182301d060d2b0601040182dc7c0503010201060c2b0601040182dc7c05030201036100"
    );
    // A fixed seed gives a fixed root key.
    assert_eq!(root_key, Keys::from_seed(b"http tests").root_key_der());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_canister_is_created_installed_updated_and_queried_with_query_signatures_checked() {
    let f = Fixture::new().await;
    let id = f.probe().await;
    for expected in 1..=3u64 {
        let reply = f.update(id, "inc", Encode!().unwrap()).await.expect("inc");
        assert_eq!(Decode!(&reply, u64).unwrap(), expected);
    }
    let reply = f.query(id, "get", Encode!().unwrap()).await.expect("get");
    assert_eq!(Decode!(&reply, u64).unwrap(), 3);
    // The query ran as the agent's identity.
    let caller = f
        .query(id, "caller", Encode!().unwrap())
        .await
        .expect("caller");
    assert_eq!(
        Decode!(&caller, Principal).unwrap(),
        f.agent.get_principal().unwrap()
    );
    // Certified canister information.
    let hash = f
        .agent
        .read_state_canister_module_hash(id)
        .await
        .expect("module_hash");
    assert_eq!(hash, sha256(&probe_wasm()));
    let controllers = f
        .agent
        .read_state_canister_controllers(id)
        .await
        .expect("controllers");
    assert_eq!(controllers, vec![f.agent.get_principal().unwrap()]);
    let (status,) = f
        .mgmt()
        .canister_status(&id)
        .call()
        .await
        .expect("canister_status");
    assert_eq!(status.module_hash, Some(sha256(&probe_wasm())));
    let (status,) = f
        .mgmt()
        .canister_status(&id)
        .as_update()
        .call()
        .await
        .expect("canister_status as update");
    assert_eq!(status.module_hash, Some(sha256(&probe_wasm())));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secp256k1_identity_is_authenticated_too() {
    let key = k256::SecretKey::from_slice(&[7u8; 32]).unwrap();
    let f = Fixture::with_identity(Arc::new(Secp256k1Identity::from_private_key(key))).await;
    let id = f.probe().await;
    let reply = f.update(id, "inc", Encode!().unwrap()).await.expect("inc");
    assert_eq!(Decode!(&reply, u64).unwrap(), 1);
    let caller = f
        .query(id, "caller", Encode!().unwrap())
        .await
        .expect("caller");
    assert_eq!(
        Decode!(&caller, Principal).unwrap(),
        f.agent.get_principal().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_call_surfaces_the_right_reject_code() {
    let f = Fixture::new().await;
    let id = f.probe().await;
    let explicit = reject_of(
        f.update(id, "reject", Encode!(&"no thanks").unwrap())
            .await
            .unwrap_err(),
    );
    assert_eq!(explicit.reject_code, RejectCode::CanisterReject);
    assert_eq!(explicit.reject_message, "no thanks");
    let trapped = reject_of(
        f.update(id, "inc_then_trap", Encode!().unwrap())
            .await
            .unwrap_err(),
    );
    assert_eq!(trapped.reject_code, RejectCode::CanisterError);
    assert_eq!(trapped.error_code.as_deref(), Some("IC0503"));
    let missing = reject_of(
        f.update(id, "no_such_method", Encode!().unwrap())
            .await
            .unwrap_err(),
    );
    assert_eq!(missing.reject_code, RejectCode::CanisterError);
    // An unknown canister inside the subnet's range: refused before execution.
    let unknown = Principal::from_slice(&[0, 0, 0, 0, 0, 0, 0x10, 0, 1, 1]);
    let e = reject_of(
        f.update(unknown, "inc", Encode!().unwrap())
            .await
            .unwrap_err(),
    );
    assert_eq!(e.reject_code, RejectCode::DestinationInvalid);
    assert_eq!(e.error_code.as_deref(), Some("IC0301"));
    // A stopped canister rejects with IC0508.
    f.mgmt()
        .stop_canister(&id)
        .call_and_wait()
        .await
        .expect("stop");
    let stopped = reject_of(f.update(id, "inc", Encode!().unwrap()).await.unwrap_err());
    assert_eq!(stopped.error_code.as_deref(), Some("IC0508"));
    // A non-controller cannot touch snapshots (IC0512).
    let stranger = agent_for(&f.server.url(), Arc::new(ed25519_identity(9))).await;
    let e = ManagementCanister::create(&stranger)
        .list_canister_snapshots(&id)
        .call_and_wait()
        .await
        .unwrap_err();
    assert_eq!(reject_of(e).error_code.as_deref(), Some("IC0512"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_request_signature_is_refused_with_400() {
    let f = Fixture::new().await;
    let id = f.probe().await;
    let signed = f
        .agent
        .update(&id, "inc")
        .with_arg(Encode!().unwrap())
        .sign()
        .expect("sign");
    let mut envelope: serde_cbor::Value = serde_cbor::from_slice(&signed.signed_update).unwrap();
    let serde_cbor::Value::Map(map) = &mut envelope else {
        panic!("an envelope map")
    };
    let sig = map
        .get_mut(&serde_cbor::Value::Text("sender_sig".into()))
        .expect("signed");
    let serde_cbor::Value::Bytes(bytes) = sig else {
        panic!("signature bytes")
    };
    bytes[5] ^= 0xff;
    let tampered = serde_cbor::to_vec(&envelope).unwrap();
    let e = f.agent.update_signed(id, tampered).await.unwrap_err();
    let (status, text) = http_status_of(e);
    assert_eq!(status, 400);
    assert!(text.starts_with("Invalid signature"), "{text}");
    // The untampered request still goes through.
    f.agent
        .update_signed(id, signed.signed_update)
        .await
        .expect("the original is valid");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_request_is_refused_with_400() {
    let f = Fixture::new().await;
    let id = f.probe().await;
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
    let e = f
        .agent
        .update(&id, "inc")
        .with_arg(Encode!().unwrap())
        .expire_at(past)
        .call_and_wait()
        .await
        .unwrap_err();
    let (status, text) = http_status_of(e);
    assert_eq!(status, 400);
    assert!(
        text.contains("ingress_expiry not within expected range"),
        "{text}"
    );
    let far = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    let e = f
        .agent
        .query(&id, "get")
        .with_arg(Encode!().unwrap())
        .expire_at(far)
        .call()
        .await
        .unwrap_err();
    assert_eq!(http_status_of(e).0, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_snapshot_method_works_over_http_including_slices_and_an_upload_round_trip() {
    use mgmt08::{
        DeleteCanisterSnapshotArgs, LoadCanisterSnapshotArgs, ReadCanisterSnapshotDataArgs,
        ReadCanisterSnapshotMetadataArgs, UploadCanisterSnapshotDataArgs,
        UploadCanisterSnapshotMetadataArgs,
    };
    let f = Fixture::new().await;
    let owned_mgmt = f.mgmt();
    let mgmt = &owned_mgmt;
    let id = f.probe().await;
    // 3 MB of stable memory, so the reads need several slices.
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    for (i, chunk) in data.chunks(1_000_000).enumerate() {
        f.update(
            id,
            "stable_write",
            Encode!(
                &((i * 1_000_000) as u64),
                &serde_bytes::ByteBuf::from(chunk.to_vec())
            )
            .unwrap(),
        )
        .await
        .expect("stable_write");
    }
    f.update(id, "inc", Encode!().unwrap()).await.unwrap();
    mgmt.stop_canister(&id).call_and_wait().await.expect("stop");
    let snap = take_snapshot(&f.agent, id).await;
    let (list,) = mgmt
        .list_canister_snapshots(&id)
        .call_and_wait()
        .await
        .expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, snap);
    let (meta,) = mgmt
        .read_canister_snapshot_metadata(&ReadCanisterSnapshotMetadataArgs {
            canister_id: id,
            snapshot_id: snap.clone(),
        })
        .call_and_wait()
        .await
        .expect("read metadata");
    assert!(meta.stable_memory_size >= data.len() as u64);
    // Read everything back in 2,000,000-byte slices.
    let read = |kind: SnapshotDataKind| {
        let args = ReadCanisterSnapshotDataArgs {
            canister_id: id,
            snapshot_id: snap.clone(),
            kind,
        };
        async move {
            mgmt.read_canister_snapshot_data(&args)
                .call_and_wait()
                .await
                .map(|(r,)| r.chunk)
        }
    };
    let mut stable = Vec::new();
    while (stable.len() as u64) < meta.stable_memory_size {
        let size = (meta.stable_memory_size - stable.len() as u64).min(2_000_000);
        stable.extend(
            read(SnapshotDataKind::StableMemory {
                offset: stable.len() as u64,
                size,
            })
            .await
            .expect("stable slice"),
        );
    }
    assert_eq!(&stable[..data.len()], &data[..]);
    let mut module = Vec::new();
    while (module.len() as u64) < meta.wasm_module_size {
        let size = (meta.wasm_module_size - module.len() as u64).min(2_000_000);
        module.extend(
            read(SnapshotDataKind::WasmModule {
                offset: module.len() as u64,
                size,
            })
            .await
            .expect("module slice"),
        );
    }
    assert_eq!(module, probe_wasm());
    let mut heap = Vec::new();
    while (heap.len() as u64) < meta.wasm_memory_size {
        let size = (meta.wasm_memory_size - heap.len() as u64).min(2_000_000);
        heap.extend(
            read(SnapshotDataKind::WasmMemory {
                offset: heap.len() as u64,
                size,
            })
            .await
            .expect("heap slice"),
        );
    }
    let too_big = read(SnapshotDataKind::StableMemory {
        offset: 0,
        size: 2_000_001,
    })
    .await
    .unwrap_err();
    assert_eq!(reject_of(too_big).error_code.as_deref(), Some("IC0408"));

    // Upload the same state as a new snapshot, change the canister, load the upload back.
    let (uploaded,) = mgmt
        .upload_canister_snapshot_metadata(&UploadCanisterSnapshotMetadataArgs {
            canister_id: id,
            replace_snapshot: None,
            wasm_module_size: meta.wasm_module_size,
            globals: meta.globals.iter().flatten().cloned().collect(),
            wasm_memory_size: meta.wasm_memory_size,
            stable_memory_size: meta.stable_memory_size,
            certified_data: meta.certified_data.clone(),
            global_timer: meta.global_timer.clone(),
            on_low_wasm_memory_hook_status: meta.on_low_wasm_memory_hook_status.clone(),
        })
        .call_and_wait()
        .await
        .expect("upload metadata");
    let upload = |kind: SnapshotDataOffset, chunk: &[u8]| {
        let args = UploadCanisterSnapshotDataArgs {
            canister_id: id,
            snapshot_id: uploaded.snapshot_id.clone(),
            kind,
            chunk: chunk.to_vec(),
        };
        async move {
            mgmt.upload_canister_snapshot_data(&args)
                .call_and_wait()
                .await
        }
    };
    for (i, c) in module.chunks(1_900_000).enumerate() {
        upload(
            SnapshotDataOffset::WasmModule {
                offset: (i * 1_900_000) as u64,
            },
            c,
        )
        .await
        .expect("upload module");
    }
    for (i, c) in heap.chunks(1_900_000).enumerate() {
        upload(
            SnapshotDataOffset::WasmMemory {
                offset: (i * 1_900_000) as u64,
            },
            c,
        )
        .await
        .expect("upload heap");
    }
    for (i, c) in stable.chunks(1_900_000).enumerate() {
        upload(
            SnapshotDataOffset::StableMemory {
                offset: (i * 1_900_000) as u64,
            },
            c,
        )
        .await
        .expect("upload stable");
    }
    mgmt.start_canister(&id)
        .call_and_wait()
        .await
        .expect("start");
    f.update(id, "inc", Encode!().unwrap()).await.unwrap();
    f.update(
        id,
        "stable_write",
        Encode!(&0u64, &serde_bytes::ByteBuf::from(vec![0u8; 10])).unwrap(),
    )
    .await
    .unwrap();
    mgmt.stop_canister(&id).call_and_wait().await.expect("stop");
    mgmt.load_canister_snapshot(&LoadCanisterSnapshotArgs {
        canister_id: id,
        snapshot_id: uploaded.snapshot_id.clone(),
        sender_canister_version: None,
    })
    .call_and_wait()
    .await
    .expect("load the uploaded snapshot");
    mgmt.start_canister(&id)
        .call_and_wait()
        .await
        .expect("start");
    let get = f.query(id, "get", Encode!().unwrap()).await.unwrap();
    assert_eq!(Decode!(&get, u64).unwrap(), 1, "the heap came back");
    let head = f
        .query(id, "stable_read", Encode!(&0u64, &10u64).unwrap())
        .await
        .unwrap();
    assert_eq!(
        Decode!(&head, serde_bytes::ByteBuf).unwrap().into_vec(),
        data[..10].to_vec()
    );
    // Delete both.
    for sid in [snap.clone(), uploaded.snapshot_id.clone()] {
        mgmt.delete_canister_snapshot(&DeleteCanisterSnapshotArgs {
            canister_id: id,
            snapshot_id: sid,
        })
        .call_and_wait()
        .await
        .expect("delete");
    }
    let (list,) = mgmt
        .list_canister_snapshots(&id)
        .call_and_wait()
        .await
        .expect("list");
    assert!(list.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn management_calls_are_routed_by_effective_canister_id() {
    let f = Fixture::new().await;
    let id = f.probe().await;
    // Creating with an effective id inside the subnet's range works as well as aaaaa-aa.
    let (other,) = f
        .mgmt()
        .create_canister()
        .as_provisional_create_with_amount(Some(1_000_000_000_000))
        .with_effective_canister_id(id)
        .call_and_wait()
        .await
        .expect("create with an in-range effective id");
    assert_ne!(other, id);
    f.mgmt()
        .provisional_top_up_canister(
            &other,
            &mgmt08::ProvisionalTopUpCanisterArgs {
                canister_id: other,
                amount: 5u64.into(),
            },
        )
        .call_and_wait()
        .await
        .expect("top up");
    // A management call whose URL names another canister than its argument is refused.
    let e = f
        .agent
        .update(&Principal::management_canister(), "canister_status")
        .with_arg(Encode!(&mgmt08::CanisterIdRecord { canister_id: id }).unwrap())
        .with_effective_canister_id(other)
        .call_and_wait()
        .await
        .unwrap_err();
    assert_eq!(http_status_of(e).0, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn many_concurrent_clients_are_served() {
    let f = Fixture::new().await;
    let id = f.probe().await;
    let calls = (0..32).map(|_| f.update(id, "inc", Encode!().unwrap()));
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok));
    let queries = (0..32).map(|_| f.query(id, "get", Encode!().unwrap()));
    for r in futures::future::join_all(queries).await {
        assert_eq!(Decode!(&r.expect("get"), u64).unwrap(), 32);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_prints_its_address_first_serves_a_client_and_stops_on_sigterm() {
    let (child, url) = start_binary(&["--port", "0", "--seed", "binary test"]).await;
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let agent = agent_for(&url, Arc::new(ed25519_identity(3))).await;
    assert_eq!(
        agent.read_root_key(),
        Keys::from_seed(b"binary test").root_key_der()
    );
    let (id,) = ManagementCanister::create(&agent)
        .create_canister()
        .as_provisional_create_with_amount(None)
        .call_and_wait()
        .await
        .expect("create over the binary");
    assert_eq!(
        agent.read_state_canister_controllers(id).await.unwrap(),
        vec![agent.get_principal().unwrap()]
    );
    sigterm(child).await;
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).to_vec()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_in_process_transport_serves_an_agent_without_tcp() {
    use localnet::http::{InProcessTransport, Replica};
    let replica = Replica::new(
        LocalNet::new(),
        Keys::from_seed(b"in process"),
        ReplicaConfig::default(),
    )
    .expect("a replica");
    let agent = Agent::builder()
        .with_url("http://localnet.invalid")
        .with_arc_http_middleware(Arc::new(InProcessTransport::new(replica.handler())))
        .with_identity(ed25519_identity(5))
        .build()
        .expect("an agent");
    agent.fetch_root_key().await.expect("fetch_root_key");
    assert_eq!(agent.read_root_key(), replica.keys().root_key_der());
    let id = install_probe(&agent, &probe_wasm()).await;
    assert_eq!(inc(&agent, id).await, 1);
    assert_eq!(counter(&agent, id).await, 1);
}

/// Sets certified data in an update; a query returns the data certificate it sees.
const CERTIFIED_WAT: &str = r#"(module
  (import "ic0" "msg_arg_data_size" (func $arg_size (result i32)))
  (import "ic0" "msg_arg_data_copy" (func $arg_copy (param i32 i32 i32)))
  (import "ic0" "certified_data_set" (func $cd_set (param i32 i32)))
  (import "ic0" "data_certificate_size" (func $dc_size (result i32)))
  (import "ic0" "data_certificate_copy" (func $dc_copy (param i32 i32 i32)))
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "msg_reply" (func $reply))
  (memory 1)
  (func (export "canister_update set")
    (call $arg_copy (i32.const 0) (i32.const 0) (call $arg_size))
    (call $cd_set (i32.const 0) (call $arg_size))
    (call $reply))
  (func (export "canister_query cert")
    (call $dc_copy (i32.const 0) (i32.const 0) (call $dc_size))
    (call $append (i32.const 0) (call $dc_size))
    (call $reply)))"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_query_sees_a_data_certificate_of_its_certified_data() {
    let f = Fixture::new().await;
    let id = create_canister(&f.agent).await;
    f.mgmt()
        .install_code(&id, &wat::parse_str(CERTIFIED_WAT).unwrap())
        .call_and_wait()
        .await
        .expect("install");
    f.update(id, "set", b"hello".to_vec()).await.expect("set");
    let bytes = f.query(id, "cert", Vec::new()).await.expect("cert");
    let cert: ic_agent::Certificate = serde_cbor::from_slice(&bytes).expect("a certificate");
    f.agent
        .verify(&cert, id)
        .expect("signed by the root key, and fresh");
    let path: [&[u8]; 3] = [b"canister", id.as_slice(), b"certified_data"];
    match cert.tree.lookup_path(path) {
        ic_agent::hash_tree::LookupResult::Found(data) => assert_eq!(data, b"hello"),
        other => panic!("certified_data not found: {other:?}"),
    }
}

async fn sigterm(mut child: tokio::process::Child) {
    let pid = child.id().expect("running").to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait())
        .await
        .expect("stops within 20 s")
        .unwrap();
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn canisters_and_snapshots_survive_a_restart_with_a_state_dir() {
    let dir = std::env::temp_dir().join(format!("localnet-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let dir_arg = dir.to_str().unwrap();
    let args = ["--port", "0", "--seed", "restart", "--state-dir", dir_arg];
    let identity = || Arc::new(ed25519_identity(4)) as Arc<dyn Identity>;

    let (child, url) = start_binary(&args).await;
    let agent = agent_for(&url, identity()).await;
    let id = install_probe(&agent, &probe_wasm()).await;
    inc(&agent, id).await;
    let snap = take_snapshot(&agent, id).await;
    inc(&agent, id).await;
    sigterm(child).await;
    assert!(dir.join("state.bin").exists());
    assert!(!dir.join("state.bin.tmp").exists());

    let (child, url) = start_binary(&args).await;
    let agent = agent_for(&url, identity()).await;
    assert_eq!(counter(&agent, id).await, 2, "the canister is back");
    assert_eq!(snapshot_ids(&agent, id).await, vec![snap.clone()]);
    load_snapshot(&agent, id, snap).await;
    assert_eq!(counter(&agent, id).await, 1);
    // New canisters do not reuse ids.
    assert_ne!(create_canister(&agent).await, id);
    sigterm(child).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_cbor_and_oversized_messages_get_the_replicas_status_codes() {
    let f = Fixture::new().await;
    let id = f.probe().await;
    // ic-agent never sends bytes it cannot parse, so talk to the handler directly.
    let handler = f.server.replica().handler();
    let post = |path: String, content_type: &str, body: &'static [u8]| {
        http::Request::builder()
            .method("POST")
            .uri(path)
            .header("content-type", content_type)
            .body(bytes::Bytes::from_static(body))
            .unwrap()
    };
    let r = handler
        .handle(post(
            format!("/api/v4/canister/{id}/call"),
            "application/cbor",
            b"\xff\x00 not cbor",
        ))
        .await;
    assert_eq!(r.status(), 400);
    let text = String::from_utf8_lossy(r.body()).into_owned();
    assert!(
        text.starts_with("Failed to deserialize cbor request"),
        "{text}"
    );
    let r = handler
        .handle(post(
            format!("/api/v3/canister/{id}/query"),
            "text/plain",
            b"x",
        ))
        .await;
    assert_eq!(r.status(), 400);
    let r = handler
        .handle(post("/api/v9/nothing".into(), "application/cbor", b""))
        .await;
    assert_eq!(r.status(), 404);
    // 3 MB of argument: over the 2 MiB ingress limit.
    let big = Encode!(&0u64, &serde_bytes::ByteBuf::from(vec![1u8; 3_000_000])).unwrap();
    let e = f.update(id, "stable_write", big).await.unwrap_err();
    let (status, text) = http_status_of(e);
    assert_eq!(status, 413, "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_answered_with_202_is_polled_through_read_state_by_its_sender_only() {
    use ic_agent::agent::{CallResponse, RequestStatusResponse};
    let server = Server::start(
        LocalNet::new(),
        Keys::from_seed(b"polling"),
        ReplicaConfig {
            sync_call_timeout: std::time::Duration::from_millis(300),
            ..ReplicaConfig::default()
        },
        0,
    )
    .expect("start the server");
    let agent = agent_for(&server.url(), Arc::new(ed25519_identity(6))).await;
    let f = Fixture { server, agent };
    let id = f.probe().await;
    // The probe calls itself; holding that call keeps the ingress message open past the
    // synchronous timeout, so the call endpoint answers 202.
    f.server.replica().with_net(|net| {
        net.hold_calls(localnet::CallFilter {
            caller: Some(id),
            callee: Some(id),
            method: Some("inc".into()),
        })
    });
    let arg = Encode!(
        &id,
        &"inc".to_string(),
        &serde_bytes::ByteBuf::from(Encode!().unwrap()),
        &0u128
    )
    .unwrap();
    let response = f
        .agent
        .update(&id, "call")
        .with_arg(arg)
        .call()
        .await
        .expect("accepted");
    let CallResponse::Poll(request_id) = response else {
        panic!("expected 202 and a request id to poll")
    };
    let (status, _) = f
        .agent
        .request_status_raw(&request_id, id)
        .await
        .expect("read_state");
    assert!(
        matches!(status, RequestStatusResponse::Processing),
        "{status:?}"
    );
    // Another user may not read the request's status.
    let stranger = agent_for(&f.server.url(), Arc::new(ed25519_identity(7))).await;
    let e = stranger
        .request_status_raw(&request_id, id)
        .await
        .unwrap_err();
    assert_eq!(http_status_of(e).0, 403);
    // Release the self-call once it is held: in rounds (`LOCALNET_ROUND_MS`) the call has not
    // run yet when the 202 comes back, so wait for the round that makes it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let released = f.server.replica().with_net(|net| {
            let held: Vec<_> = net.held_calls().iter().map(|h| h.id).collect();
            for h in &held {
                net.release_call(*h);
            }
            !held.is_empty()
        });
        if released {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the probe's self-call was never held"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    f.agent
        .wait(&request_id, id)
        .await
        .expect("polled to completion");
    let get = f.query(id, "get", Encode!().unwrap()).await.unwrap();
    assert_eq!(Decode!(&get, u64).unwrap(), 1);
}
