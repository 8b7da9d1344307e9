//! The contexts a message runs in and the sets of them each ic0 function may be called from:
//! the columns of the interface spec's "Overview of imports" table (I G U RQ NRQ CQ Ry Rt C F T,
//! `*` = all but start, `s` = start). The linker's table names one set per function.

/// The context a message runs in (the spec's import-table columns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiType {
    /// `(start)` function (s).
    Start,
    /// `canister_init` and `canister_post_upgrade` (I).
    Init,
    /// `canister_pre_upgrade` (G).
    PreUpgrade,
    /// `canister_update` (U).
    Update,
    /// A query executed in replicated mode, e.g. called by another canister (RQ).
    ReplicatedQuery,
    /// A query executed by a query call (NRQ).
    NonReplicatedQuery,
    /// `canister_composite_query` (CQ).
    CompositeQuery,
    /// Reply callback (Ry).
    ReplyCallback,
    /// Reject callback (Rt).
    RejectCallback,
    /// Cleanup callback (C).
    Cleanup,
    /// `canister_inspect_message` (F).
    InspectMessage,
    /// `canister_heartbeat`, `canister_global_timer`, `canister_on_low_wasm_memory` (T).
    SystemTask,
}

impl ApiType {
    /// The name the replica's contract-violation message gives the context.
    pub(super) fn mode_name(self) -> &'static str {
        match self {
            ApiType::Start => "start",
            ApiType::Init => "init",
            ApiType::PreUpgrade => "pre upgrade",
            ApiType::Update => "update",
            ApiType::ReplicatedQuery => "replicated query",
            ApiType::NonReplicatedQuery => "non replicated query",
            ApiType::CompositeQuery => "composite query",
            ApiType::ReplyCallback => "reply callback",
            ApiType::RejectCallback => "reject callback",
            ApiType::Cleanup => "cleanup",
            ApiType::InspectMessage => "inspect message",
            ApiType::SystemTask => "system task",
        }
    }
}

use ApiType::*;

/// A set of contexts an ic0 function may be called from.
pub(super) type Contexts = &'static [ApiType];

/// `* s`: everything.
pub(super) const ANY_S: Contexts = &[
    Start,
    Init,
    PreUpgrade,
    Update,
    ReplicatedQuery,
    NonReplicatedQuery,
    CompositeQuery,
    ReplyCallback,
    RejectCallback,
    Cleanup,
    InspectMessage,
    SystemTask,
];
/// `*`: everything but `(start)`, which comes first in [`ANY_S`].
pub(super) const ANY: Contexts = ANY_S.split_at(1).1;
/// Messages with an argument (`msg_arg_data_*`).
pub(super) const ARG: Contexts = &[
    Init,
    Update,
    ReplicatedQuery,
    NonReplicatedQuery,
    CompositeQuery,
    ReplyCallback,
    InspectMessage,
];
/// Messages that answer a call context (`msg_reply*`, `msg_reject`, `msg_deadline`).
pub(super) const REPLY: Contexts = &[
    Update,
    ReplicatedQuery,
    NonReplicatedQuery,
    CompositeQuery,
    ReplyCallback,
    RejectCallback,
];
/// Both callbacks (`msg_reject_code`, `msg_cycles_refunded128`).
pub(super) const CALLBACK: Contexts = &[ReplyCallback, RejectCallback];
/// The reject callback only (`msg_reject_msg_*`).
pub(super) const REJECT_CALLBACK: Contexts = &[RejectCallback];
/// `canister_inspect_message` only.
pub(super) const INSPECT: Contexts = &[InspectMessage];
/// Messages that may receive cycles.
pub(super) const CYCLES_IN: Contexts = &[Update, ReplicatedQuery, ReplyCallback, RejectCallback];
/// Messages that may make calls.
pub(super) const CALL: Contexts = &[
    Update,
    CompositeQuery,
    ReplyCallback,
    RejectCallback,
    SystemTask,
];
/// Messages that may attach cycles to calls (not composite queries).
pub(super) const CALL_CYCLES: Contexts = &[Update, ReplyCallback, RejectCallback, SystemTask];
/// Messages that may set certified data.
pub(super) const CERTIFY: Contexts = &[
    Init,
    PreUpgrade,
    Update,
    ReplyCallback,
    RejectCallback,
    SystemTask,
];
/// Messages that may set the global timer.
pub(super) const TIMER: Contexts = &[
    Init,
    PreUpgrade,
    Update,
    ReplyCallback,
    RejectCallback,
    Cleanup,
    SystemTask,
];
/// Messages that may see a data certificate (non-replicated queries).
pub(super) const DATA_CERTIFICATE: Contexts = &[NonReplicatedQuery, CompositeQuery];
