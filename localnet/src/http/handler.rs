//! [`HttpHandler`]: the IC HTTP interface's endpoints over a [`Replica`](super::Replica), as a
//! plain `http::Request<Bytes>` → `http::Response<Bytes>` function, so the TCP server and an
//! in-process transport share it.
//!
//! | endpoint | answer |
//! |---|---|
//! | `GET /api/v2/status` | CBOR map with `root_key` (DER) |
//! | `POST /api/v2/canister/<ecid>/call` | 202, then poll `read_state` |
//! | `POST /api/v3|v4/canister/<ecid>/call`, `/api/v4/subnet/<sid>/call` | 200 + certificate, 200 non-replicated rejection, or 202 after [`super::ReplicaConfig::sync_call_timeout`] |
//! | `POST /api/v2|v3/canister/<ecid>/query` | query response signed by the node key |
//! | `POST /api/v2|v3/canister/<ecid>/read_state`, `/api/v2|v3/subnet/<sid>/read_state` | certificate of the requested paths |
//!
//! Status codes and messages follow the replica (dfinity/ic `rs/http_endpoints/public`): 400 for
//! malformed CBOR, a bad signature, an expiry out of range or an effective canister id that does
//! not match; 413 for a body over the limit; 403 for another user's request id; 404 for an
//! unknown path. An unknown canister is a (non-replicated) rejection with IC0301, as the
//! replica's ingress filter answers.

use super::HttpError;
use super::auth::{Authenticated, authenticate};
use super::certificate::{StateTree, certify, leb128, to_cbor};
use super::replica::{IngressStatus, Shared, Submitted};
use crate::types::{ErrorCode, MANAGEMENT_CANISTER, RejectResponse, canister_id_from_index};
use bytes::Bytes;
use candid::Principal;
use http::{Method, Response, StatusCode, header};
use ic_transport_types::{
    EnvelopeContent, NodeSignature, QueryResponse, RejectCode as TransportRejectCode,
    RejectResponse as TransportReject, ReplyResponse,
};
use serde_cbor::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Highest canister index the subnet's range covers (`canister_id_from_index`): 2^20 canisters,
/// like a local replica's application subnet.
pub const CANISTER_RANGE_END: u64 = 0xF_FFFF;

/// The subnet's only canister range.
pub fn canister_range() -> (Principal, Principal) {
    (
        canister_id_from_index(0),
        canister_id_from_index(CANISTER_RANGE_END),
    )
}

/// Management methods a user may call by ingress (the rest are canister-only, as on the IC).
const INGRESS_MANAGEMENT_METHODS: &[&str] = &[
    "provisional_create_canister_with_cycles",
    "provisional_top_up_canister",
    "install_code",
    "install_chunked_code",
    "uninstall_code",
    "upload_chunk",
    "stored_chunks",
    "clear_chunk_store",
    "update_settings",
    "canister_status",
    "start_canister",
    "stop_canister",
    "delete_canister",
    "take_canister_snapshot",
    "load_canister_snapshot",
    "list_canister_snapshots",
    "delete_canister_snapshot",
    "read_canister_snapshot_metadata",
    "read_canister_snapshot_data",
    "upload_canister_snapshot_metadata",
    "upload_canister_snapshot_data",
];

/// Serves the IC HTTP interface of one [`super::Replica`]. Cheap to clone.
#[derive(Clone)]
pub struct HttpHandler {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for HttpHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpHandler").finish_non_exhaustive()
    }
}

/// Which kind of endpoint a path names.
enum Route {
    Status,
    Call { effective: Principal, sync: bool },
    SubnetCall { subnet: Principal },
    Query { effective: Principal },
    ReadState { effective: Principal },
    SubnetReadState { subnet: Principal },
}

fn route(method: &Method, path: &str) -> Result<Route, HttpError> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let principal = |s: &str| {
        Principal::from_text(s)
            .map_err(|e| HttpError::bad_request(format!("Could not parse principal {s}: {e}")))
    };
    let (expected, route) = match parts.as_slice() {
        ["api", "v2", "status"] => (Method::GET, Route::Status),
        ["api", v, "canister", id, "call"] if matches!(*v, "v2" | "v3" | "v4") => (
            Method::POST,
            Route::Call {
                effective: principal(id)?,
                sync: *v != "v2",
            },
        ),
        ["api", "v4", "subnet", id, "call"] => (
            Method::POST,
            Route::SubnetCall {
                subnet: principal(id)?,
            },
        ),
        ["api", "v2" | "v3", "canister", id, "query"] => (
            Method::POST,
            Route::Query {
                effective: principal(id)?,
            },
        ),
        ["api", "v2" | "v3", "canister", id, "read_state"] => (
            Method::POST,
            Route::ReadState {
                effective: principal(id)?,
            },
        ),
        ["api", "v2" | "v3", "subnet", id, "read_state"] => (
            Method::POST,
            Route::SubnetReadState {
                subnet: principal(id)?,
            },
        ),
        _ => return Err(HttpError::new(StatusCode::NOT_FOUND, "Not found")),
    };
    if *method != expected {
        return Err(HttpError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Method {method} is not allowed; use {expected}."),
        ));
    }
    Ok(route)
}

fn cbor_response(status: StatusCode, body: Vec<u8>) -> Response<Bytes> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/cbor")
        .body(Bytes::from(body))
        .expect("a valid response")
}

fn text_response(status: StatusCode, text: &str) -> Response<Bytes> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Bytes::from(text.to_string()))
        .expect("a valid response")
}

impl HttpError {
    fn into_response(self) -> Response<Bytes> {
        text_response(self.status, &self.message)
    }
}

/// The reject as the interface encodes it (`IC0503`-style error codes).
fn transport_reject(r: &RejectResponse) -> TransportReject {
    TransportReject {
        // SYS_UNKNOWN (6) is newer than ic-transport-types; only bounded-wait calls produce it.
        reject_code: TransportRejectCode::try_from(u64::from(r.reject_code.as_u32()))
            .unwrap_or(TransportRejectCode::SysTransient),
        reject_message: r.reject_message.clone(),
        error_code: r.error_code.map(|c| c.to_string()),
    }
}

fn non_replicated_rejection(r: &RejectResponse) -> Response<Bytes> {
    let mut map = BTreeMap::new();
    let text = |s: &str| Value::Text(s.to_string());
    map.insert(text("status"), text("non_replicated_rejection"));
    map.insert(
        text("reject_code"),
        Value::Integer(i128::from(r.reject_code.as_u32())),
    );
    map.insert(text("reject_message"), text(&r.reject_message));
    if let Some(code) = r.error_code {
        map.insert(text("error_code"), Value::Text(code.to_string()));
    }
    cbor_response(StatusCode::OK, to_cbor(&Value::Map(map)))
}

/// Runs blocking work (locks, wasm, crypto) off the async workers.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("a handler task panicked")
}

impl HttpHandler {
    /// Answers one request. Never fails: errors are HTTP responses.
    pub async fn handle(&self, request: http::Request<Bytes>) -> Response<Bytes> {
        let (parts, body) = request.into_parts();
        let route = match route(&parts.method, parts.uri.path()) {
            Ok(r) => r,
            Err(e) => return e.into_response(),
        };
        if !matches!(route, Route::Status) {
            let cbor = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("application/cbor"));
            if !cbor {
                return HttpError::bad_request(
                    "Unexpected content-type, expected application/cbor.",
                )
                .into_response();
            }
            if body.len() > self.shared.config.max_request_bytes {
                return HttpError::too_large(body.len(), self.shared.config.max_request_bytes)
                    .into_response();
            }
        }
        let result = match route {
            Route::Status => Ok(self.status()),
            Route::Call { effective, sync } => self.call(effective, body, sync).await,
            Route::SubnetCall { subnet } => {
                if subnet != self.shared.keys.subnet_id() {
                    Err(HttpError::new(
                        StatusCode::NOT_FOUND,
                        format!("Subnet {subnet} is not this subnet."),
                    ))
                } else {
                    self.call(MANAGEMENT_CANISTER, body, true).await
                }
            }
            Route::Query { effective } => self.query(effective, body).await,
            Route::ReadState { effective } => self.read_state(Some(effective), body).await,
            Route::SubnetReadState { subnet } => {
                if subnet != self.shared.keys.subnet_id() {
                    Err(HttpError::new(
                        StatusCode::NOT_FOUND,
                        format!("Subnet {subnet} is not this subnet."),
                    ))
                } else {
                    self.read_state(None, body).await
                }
            }
        };
        result.unwrap_or_else(HttpError::into_response)
    }

    fn status(&self) -> Response<Bytes> {
        let text = |s: &str| Value::Text(s.to_string());
        let mut map = BTreeMap::new();
        map.insert(text("ic_api_version"), text("0.18.0"));
        map.insert(
            text("impl_version"),
            text(concat!("localnet-", env!("CARGO_PKG_VERSION"))),
        );
        map.insert(
            text("root_key"),
            Value::Bytes(self.shared.keys.root_key_der().to_vec()),
        );
        map.insert(text("replica_health_status"), text("healthy"));
        cbor_response(StatusCode::OK, to_cbor(&Value::Map(map)))
    }

    /// Authenticates off the async workers, at the subnet's current time.
    async fn authenticate(&self, body: Bytes) -> Result<Authenticated, HttpError> {
        let shared = self.shared.clone();
        blocking(move || authenticate(&body, shared.now())).await
    }

    async fn call(
        &self,
        effective: Principal,
        body: Bytes,
        sync: bool,
    ) -> Result<Response<Bytes>, HttpError> {
        let max = self.shared.config.max_ingress_bytes;
        if body.len() > max {
            return Err(HttpError::too_large(body.len(), max));
        }
        let auth = self.authenticate(body).await?;
        check_targets(&auth)?;
        let request_id = *auth.request_id;
        let sender = auth.sender;
        let EnvelopeContent::Call {
            canister_id,
            method_name,
            arg,
            ingress_expiry,
            ..
        } = auth.content
        else {
            return Err(HttpError::bad_request(
                "Could not parse body as call message: the request type is not call",
            ));
        };
        // Boundary nodes filter by the URL's id while the replica runs `canister_id`: they must
        // agree (the management canister is routed by its argument instead).
        if canister_id != MANAGEMENT_CANISTER && canister_id != effective {
            return Err(HttpError::bad_request(format!(
                "Specified CanisterId {canister_id} does not match effective canister id in URL {effective}"
            )));
        }
        if canister_id == MANAGEMENT_CANISTER
            && let Err(refusal) = check_management_call(&method_name, &arg, effective)
        {
            return match refusal {
                Refusal::Http(e) => Err(e),
                Refusal::Reject(r) if sync => Ok(non_replicated_rejection(&r)),
                Refusal::Reject(r) => Err(HttpError::bad_request(r.reject_message)),
            };
        }
        let shared = self.shared.clone();
        let submitted = blocking(move || {
            shared.submit(
                request_id,
                sender,
                canister_id,
                &method_name,
                arg,
                ingress_expiry,
            )
        })
        .await;
        match submitted {
            Submitted::Refused(reject) if sync => return Ok(non_replicated_rejection(&reject)),
            Submitted::Refused(reject) => {
                return Err(HttpError::bad_request(reject.reject_message));
            }
            Submitted::Accepted if !sync => {
                return Ok(text_response(StatusCode::ACCEPTED, ""));
            }
            Submitted::Accepted => {}
        }
        if !self
            .shared
            .wait(request_id, self.shared.config.sync_call_timeout)
            .await
        {
            return Ok(text_response(
                StatusCode::ACCEPTED,
                "Message did not complete execution and certification within the replica defined timeout.",
            ));
        }
        let shared = self.shared.clone();
        let certificate = blocking(move || {
            let mut tree = StateTree::default();
            tree.insert(&[b"time"], leb128(shared.now()));
            if let Some(info) = shared.ingress().info(&request_id) {
                insert_request_status(&mut tree, &request_id, &info.status);
            }
            certify(&shared.keys, &tree)
        })
        .await;
        let mut map = BTreeMap::new();
        map.insert(Value::Text("status".into()), Value::Text("replied".into()));
        map.insert(Value::Text("certificate".into()), Value::Bytes(certificate));
        Ok(cbor_response(StatusCode::OK, to_cbor(&Value::Map(map))))
    }

    async fn query(&self, effective: Principal, body: Bytes) -> Result<Response<Bytes>, HttpError> {
        let auth = self.authenticate(body).await?;
        check_targets(&auth)?;
        let sender = auth.sender;
        let request_id = auth.request_id;
        let EnvelopeContent::Query {
            canister_id,
            method_name,
            arg,
            ..
        } = auth.content
        else {
            return Err(HttpError::bad_request(
                "Malformed request: the request type is not query",
            ));
        };
        if canister_id != MANAGEMENT_CANISTER && canister_id != effective {
            return Err(HttpError::bad_request(format!(
                "Specified CanisterId {canister_id} does not match effective canister id in URL {effective}"
            )));
        }
        let shared = self.shared.clone();
        let response = blocking(move || {
            let (result, timestamp) = {
                let mut net = shared.net();
                net.set_time_nanos(shared.now());
                let result = if canister_id == MANAGEMENT_CANISTER {
                    management_query(&mut net, sender, &method_name, arg, effective)
                } else {
                    net.query_call(canister_id, sender, &method_name, arg)
                };
                (result, net.time_nanos())
            };
            let mut response = match result {
                Ok(arg) => QueryResponse::Replied {
                    reply: ReplyResponse { arg },
                    signatures: Vec::new(),
                },
                Err(reject) => QueryResponse::Rejected {
                    reject: transport_reject(&reject),
                    signatures: Vec::new(),
                },
            };
            // The node signs the response with the request id, so clients can check it came
            // from a node of the subnet (ic-agent's query signature verification).
            let signature = NodeSignature {
                timestamp,
                signature: shared
                    .keys
                    .sign_as_node(&response.signable(request_id, timestamp)),
                identity: shared.keys.node_id(),
            };
            match &mut response {
                QueryResponse::Replied { signatures, .. }
                | QueryResponse::Rejected { signatures, .. } => signatures.push(signature),
            }
            to_cbor(&response)
        })
        .await;
        Ok(cbor_response(StatusCode::OK, response))
    }

    /// `effective`: the canister of a canister-scoped read; `None` for the subnet endpoint.
    async fn read_state(
        &self,
        effective: Option<Principal>,
        body: Bytes,
    ) -> Result<Response<Bytes>, HttpError> {
        let auth = self.authenticate(body).await?;
        let EnvelopeContent::ReadState { paths, .. } = &auth.content else {
            return Err(HttpError::bad_request(
                "Malformed request: the request type is not read_state",
            ));
        };
        let paths: Vec<Vec<Vec<u8>>> = paths
            .iter()
            .map(|p| p.iter().map(|l| l.as_bytes().to_vec()).collect())
            .collect();
        let shared = self.shared.clone();
        let certificate =
            blocking(move || read_state_certificate(&shared, &auth, effective, &paths)).await?;
        let mut map = BTreeMap::new();
        map.insert(Value::Text("certificate".into()), Value::Bytes(certificate));
        Ok(cbor_response(StatusCode::OK, to_cbor(&Value::Map(map))))
    }
}

/// A query to the management canister: `canister_status` may be called as a query (ic-utils
/// does by default); it runs like the update, without certification.
fn management_query(
    net: &mut crate::LocalNet,
    sender: Principal,
    method: &str,
    arg: Vec<u8>,
    effective: Principal,
) -> Result<Vec<u8>, RejectResponse> {
    if method != "canister_status" {
        return Err(RejectResponse::system(
            ErrorCode::CanisterMethodNotFound,
            format!("Management canister has no query method '{method}'"),
        ));
    }
    match check_management_call(method, &arg, effective) {
        Ok(()) => net.update_call(MANAGEMENT_CANISTER, sender, method, arg),
        Err(Refusal::Reject(r)) => Err(r),
        Err(Refusal::Http(e)) => Err(RejectResponse::system(
            ErrorCode::CanisterRejectedMessage,
            e.message,
        )),
    }
}

/// Delegations may restrict which canisters a key acts on (checked like the replica's validator).
fn check_targets(auth: &Authenticated) -> Result<(), HttpError> {
    let target = match &auth.content {
        EnvelopeContent::Call { canister_id, .. } | EnvelopeContent::Query { canister_id, .. } => {
            canister_id
        }
        EnvelopeContent::ReadState { .. } => return Ok(()),
    };
    if auth.may_target(target) {
        Ok(())
    } else {
        Err(HttpError::bad_request(format!(
            "Canister {target} is not one of the delegation targets"
        )))
    }
}

enum Refusal {
    Http(HttpError),
    Reject(RejectResponse),
}

/// Ingress rules of the management canister: only some methods are open to users, and the
/// effective canister id must be the canister the call is about (any id is fine for creating
/// one, as local replicas accept `aaaaa-aa` or an id in the subnet's range).
fn check_management_call(method: &str, arg: &[u8], effective: Principal) -> Result<(), Refusal> {
    if !INGRESS_MANAGEMENT_METHODS.contains(&method) {
        return Err(Refusal::Reject(RejectResponse::system(
            ErrorCode::CanisterRejectedMessage,
            format!("Only canisters can call ic00 method {method}"),
        )));
    }
    if method == "provisional_create_canister_with_cycles" {
        return Ok(());
    }
    #[derive(candid::Deserialize, candid::CandidType)]
    struct Target {
        canister_id: Principal,
    }
    let target = candid::decode_one::<Target>(arg).map_err(|e| {
        Refusal::Reject(RejectResponse::system(
            ErrorCode::InvalidManagementPayload,
            format!("Error decoding candid: {e}"),
        ))
    })?;
    if target.canister_id != effective {
        return Err(Refusal::Http(HttpError::bad_request(format!(
            "Effective canister id {effective} in URL does not match the canister id {} of the ic00 method {method}",
            target.canister_id
        ))));
    }
    Ok(())
}

fn insert_request_status(tree: &mut StateTree, request_id: &[u8; 32], status: &IngressStatus) {
    let base: [&[u8]; 2] = [b"request_status", request_id];
    let at = |field: &'static [u8]| [base[0], base[1], field];
    match status {
        IngressStatus::Processing => tree.insert(&at(b"status"), b"processing".to_vec()),
        IngressStatus::Done => tree.insert(&at(b"status"), b"done".to_vec()),
        IngressStatus::Replied(reply) => {
            tree.insert(&at(b"status"), b"replied".to_vec());
            tree.insert(&at(b"reply"), reply.to_vec());
        }
        IngressStatus::Rejected(r) => {
            tree.insert(&at(b"status"), b"rejected".to_vec());
            tree.insert(
                &at(b"reject_code"),
                leb128(u64::from(r.reject_code.as_u32())),
            );
            tree.insert(
                &at(b"reject_message"),
                r.reject_message.clone().into_bytes(),
            );
            if let Some(code) = r.error_code {
                tree.insert(&at(b"error_code"), code.to_string().into_bytes());
            }
        }
    }
}

fn parse_principal(bytes: &[u8]) -> Result<Principal, HttpError> {
    Principal::try_from_slice(bytes)
        .map_err(|e| HttpError::bad_request(format!("Could not parse principal: {e}")))
}

fn insert_subnet(tree: &mut StateTree, shared: &Shared) {
    let keys = &shared.keys;
    let sid = keys.subnet_id();
    let sid = sid.as_slice();
    tree.insert(
        &[b"subnet", sid, b"public_key"],
        keys.root_key_der().to_vec(),
    );
    tree.insert(
        &[b"subnet", sid, b"canister_ranges"],
        to_cbor(&vec![canister_range()]),
    );
    tree.insert(&[b"subnet", sid, b"type"], b"application".to_vec());
    let nid = keys.node_id();
    tree.insert(
        &[b"subnet", sid, b"node", nid.as_slice(), b"public_key"],
        keys.node_key_der().to_vec(),
    );
}

fn insert_canister_ranges(tree: &mut StateTree, shared: &Shared) {
    // One shard, named by its lowest canister id (the sharded layout of `/canister_ranges`).
    let sid = shared.keys.subnet_id();
    let (low, _) = canister_range();
    tree.insert(
        &[b"canister_ranges", sid.as_slice(), low.as_slice()],
        to_cbor(&vec![canister_range()]),
    );
}

/// Validates the paths like the replica's `verify_paths` and certifies what they reveal.
fn read_state_certificate(
    shared: &Shared,
    auth: &Authenticated,
    effective: Option<Principal>,
    paths: &[Vec<Vec<u8>>],
) -> Result<Vec<u8>, HttpError> {
    let mut tree = StateTree::default();
    let now = shared.now();
    tree.insert(&[b"time"], leb128(now));
    let own_subnet = shared.keys.subnet_id();
    let mut request_id_seen: Option<[u8; 32]> = None;
    let check_canister = |id: &[u8]| -> Result<Principal, HttpError> {
        let id = parse_principal(id)?;
        match effective {
            Some(e) if e == id => Ok(id),
            Some(e) => Err(HttpError::bad_request(format!(
                "Effective principal id in URL {e} does not match requested principal id: {id}."
            ))),
            None => Err(HttpError::new(
                StatusCode::NOT_FOUND,
                "Invalid path requested.",
            )),
        }
    };
    for path in paths {
        let p: Vec<&[u8]> = path.iter().map(Vec::as_slice).collect();
        match p.as_slice() {
            [b"time"] => {}
            [b"subnet"] => insert_subnet(&mut tree, shared),
            [b"subnet", sid, ..]
                if matches!(
                    &p[2..],
                    [] | [b"public_key"]
                        | [b"canister_ranges"]
                        | [b"node"]
                        | [b"type"]
                        | [b"metrics"]
                        | [b"node", _]
                        | [b"node", _, b"public_key"]
                ) =>
            {
                if parse_principal(sid)? == own_subnet {
                    insert_subnet(&mut tree, shared);
                }
            }
            [b"canister_ranges", sid, ..] if p.len() <= 3 => {
                if parse_principal(sid)? == own_subnet {
                    insert_canister_ranges(&mut tree, shared);
                }
            }
            [b"api_boundary_nodes", ..] => {}
            [b"canister", id, b"module_hash" | b"controllers"] => {
                let id = check_canister(id)?;
                let net = shared.net();
                if let Some(c) = net.canisters.get(&id) {
                    if p[2] == b"module_hash" {
                        if let Some(m) = &c.module {
                            let hash = m.prepared.hash.to_vec();
                            tree.insert(&[b"canister", id.as_slice(), b"module_hash"], hash);
                        }
                    } else {
                        tree.insert(
                            &[b"canister", id.as_slice(), b"controllers"],
                            to_cbor(&c.controllers),
                        );
                    }
                }
            }
            [b"canister", id, b"metadata", name] => {
                let id = check_canister(id)?;
                let name = std::str::from_utf8(name).map_err(|e| {
                    HttpError::bad_request(format!("Could not parse the custom section name: {e}."))
                })?;
                let found = {
                    let net = shared.net();
                    net.canisters.get(&id).and_then(|c| {
                        c.module
                            .as_ref()
                            .map(|m| (m.prepared.clone(), c.controllers.clone()))
                    })
                };
                if let Some((module, controllers)) = found {
                    match custom_section(&module.original, name) {
                        Some((true, _)) if !controllers.contains(&auth.sender) => {
                            return Err(HttpError::new(
                                StatusCode::FORBIDDEN,
                                format!(
                                    "Custom section {name:.100} can only be requested by the controllers of the canister."
                                ),
                            ));
                        }
                        Some((_, data)) => tree.insert(
                            &[b"canister", id.as_slice(), b"metadata", name.as_bytes()],
                            data,
                        ),
                        None => {}
                    }
                }
            }
            [b"request_status", rid, ..]
                if p.len() == 2
                    || (p.len() == 3
                        && matches!(
                            p[2],
                            b"status"
                                | b"reply"
                                | b"reject_code"
                                | b"reject_message"
                                | b"error_code"
                        )) =>
            {
                if effective.is_none() {
                    return Err(HttpError::new(
                        StatusCode::NOT_FOUND,
                        "Invalid path requested.",
                    ));
                }
                let rid: [u8; 32] = (*rid).try_into().map_err(|_| {
                    HttpError::bad_request(
                        "Invalid request id in paths. Maybe the request ID is not of 32 bytes in length?!",
                    )
                })?;
                if let Some(seen) = request_id_seen
                    && seen != rid
                {
                    return Err(HttpError::bad_request(format!(
                        "More than one non-unique request ID exists in request_status paths: {} and {}.",
                        hex::encode(seen),
                        hex::encode(rid)
                    )));
                }
                request_id_seen = Some(rid);
                let info = shared.ingress().info(&rid);
                if let Some(info) = info {
                    if info.sender != auth.sender {
                        return Err(HttpError::new(
                            StatusCode::FORBIDDEN,
                            "The user tries to access Request ID not signed by the caller.",
                        ));
                    }
                    if !auth.may_target(&info.receiver) {
                        return Err(HttpError::new(
                            StatusCode::FORBIDDEN,
                            "The user tries to access request IDs for canisters not belonging to sender delegation targets.",
                        ));
                    }
                    insert_request_status(&mut tree, &rid, &info.status);
                }
            }
            _ => {
                return Err(HttpError::new(
                    StatusCode::NOT_FOUND,
                    "Invalid path requested.",
                ));
            }
        }
    }
    Ok(certify(&shared.keys, &tree))
}

/// The custom section `icp:public <name>` or `icp:private <name>` of a module (gzipped or not):
/// `(private, bytes)`.
fn custom_section(original: &[u8], name: &str) -> Option<(bool, Vec<u8>)> {
    let wasm = crate::wasm::decode(original).ok()?;
    for payload in wasmparser::Parser::new(0).parse_all(&wasm) {
        if let Ok(wasmparser::Payload::CustomSection(section)) = payload {
            let private = match section.name().split_once(' ') {
                Some(("icp:public", n)) if n == name => false,
                Some(("icp:private", n)) if n == name => true,
                _ => continue,
            };
            return Some((private, section.data().to_vec()));
        }
    }
    None
}
