//! localnet: an embedded local Internet Computer subnet that runs real canister wasm.
//!
//! * [`wasm`]: decoding (gzip), hashing and the IC's export instrumentation.
//! * [`execution`]: one message on wasmtime with fuel; rollback by construction.
//! * [`paged`]: heap and stable memory as copy-on-write pages.
//! * [`heap`]: each canister's heap kept mapped between messages, writes tracked per page.
//! * [`system_api`]: the ic0 functions and where each may be called.
//! * [`canister`]: per-canister state, call contexts, callbacks, history, queue messages.
//! * [`snapshots`]: the snapshot store (each canister's snapshots, ids, slices, upload rules).
//! * [`canister_table`]: the subnet's canisters by id and the id counter.
//! * [`cycles`]: the fee schedule and the freezing rule.
//! * [`scheduler`]: per-pair FIFO ordering and the FIFO / random / manual policies.
//! * [`net`]: [`LocalNet`], the subnet: message execution, timers, heartbeats, deadlines.
//! * [`management`]: the management canister `aaaaa-aa`, acting on the subnet through a small
//!   trait; [`replies`]: its reply types, as the replica sends them.
//! * [`api`]: helpers shaped like the `pocket-ic` crate's.
//! * [`http`]: the IC HTTP interface (certificates, authentication, server) over a `LocalNet`.
//! * [`persist`]: saving and loading a subnet (`localnet --state-dir`).
//!
//! localnet is single-threaded by design: a server can share it as `Arc<Mutex<LocalNet>>`,
//! locking per call (every public method runs to completion and leaves no borrowed state).

pub mod api;
pub mod canister;
pub mod canister_table;
pub mod cycles;
pub mod execution;
pub mod heap;
pub mod http;
pub mod management;
pub mod net;
pub mod paged;
pub mod persist;
pub mod replies;
pub mod scheduler;
pub mod snapshots;
pub mod system_api;
pub mod types;
pub mod wasm;

pub use cycles::DEFAULT_CYCLES;
pub use net::{
    CROSS_SUBNET_PAYLOAD_BYTES, Limits, LocalNet, MAX_REPLY_BYTES, MessageId,
    SAME_SUBNET_PAYLOAD_BYTES,
};
pub use scheduler::{CallFilter, HeldCall, SchedulerPolicy};
pub use types::{ErrorCode, MANAGEMENT_CANISTER, RejectCode, RejectResponse};

#[cfg(test)]
mod tests {
    /// A server shares the subnet across threads behind a mutex.
    #[test]
    fn localnet_can_be_shared_across_threads() {
        fn assert_send<T: Send>() {}
        assert_send::<crate::LocalNet>();
    }
}
