//! The one trait the integration suites drive a subnet through, so the same tests run on
//! localnet (in process, the default) or on a PocketIC server (`POCKET_IC_BIN` set; see
//! `pocket.rs`): canisters, calls, cycles and the clock. What only localnet offers (held
//! messages, fault injection, the random scheduler, instruction counters, lowered limits) is
//! reached through [`Subnet::as_localnet`], and tests that need it start with `localnet_only!`.

use std::time::Duration;

use candid::Principal;
use ic_management_canister_types::{CanisterStatusResult, Snapshot};
use localnet::{LocalNet, MessageId, RejectResponse};

/// A subnet the suites can run on. Method names and shapes follow localnet's (which follow
/// `pocket_ic::PocketIc`), so a test reads the same on either.
pub trait Subnet {
    /// "localnet" or "PocketIC", for messages.
    fn name(&self) -> &'static str;

    /// A new empty canister with provisional cycles, controlled by `controller`.
    fn create_canister(&mut self, controller: Principal) -> Principal;

    /// Installs `wasm` (gzipped or not) with `arg`, as `sender`; a failure is a test bug.
    fn install_canister(
        &mut self,
        canister: Principal,
        wasm: Vec<u8>,
        arg: Vec<u8>,
        sender: Option<Principal>,
    );

    /// Replaces `canister`'s controllers, as `sender`.
    fn set_controllers(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
        controllers: Vec<Principal>,
    ) -> Result<(), RejectResponse>;

    /// Upgrades `canister` to `wasm` with `arg`, as `sender`.
    fn upgrade_canister(
        &mut self,
        canister: Principal,
        wasm: Vec<u8>,
        arg: Vec<u8>,
        sender: Option<Principal>,
    ) -> Result<(), RejectResponse>;

    /// Starts `canister`, as `sender`.
    fn start_canister(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
    ) -> Result<(), RejectResponse>;

    /// `take_canister_snapshot` as `sender`.
    fn take_canister_snapshot(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
        replace_snapshot: Option<Vec<u8>>,
    ) -> Result<Snapshot, RejectResponse>;

    /// `list_canister_snapshots` as `sender`.
    fn list_canister_snapshots(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
    ) -> Result<Vec<Snapshot>, RejectResponse>;

    /// `delete_canister_snapshot` as `sender`.
    fn delete_canister_snapshot(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
        snapshot_id: Vec<u8>,
    ) -> Result<(), RejectResponse>;

    /// The hashes in `canister`'s wasm chunk store, as `sender`.
    fn stored_chunks(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
    ) -> Result<Vec<Vec<u8>>, RejectResponse>;

    /// Stops `canister`, as `sender`.
    fn stop_canister(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
    ) -> Result<(), RejectResponse>;

    /// `canister_status` as `sender`, decoded with the spec's types.
    fn canister_status(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
    ) -> Result<CanisterStatusResult, RejectResponse>;

    /// An ingress update, executed to completion.
    fn update_call(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> Result<Vec<u8>, RejectResponse>;

    /// A query.
    fn query_call(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> Result<Vec<u8>, RejectResponse>;

    /// Submits an ingress update without executing it (several can then run interleaved).
    fn submit_call(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> Result<MessageId, RejectResponse>;

    /// Executes rounds until the submitted call has its answer.
    fn await_call(&mut self, id: MessageId) -> Result<Vec<u8>, RejectResponse>;

    /// Provisional top-up; returns the new balance.
    fn add_cycles(&mut self, canister: Principal, amount: u128) -> u128;

    /// The canister's cycle balance.
    fn cycle_balance(&mut self, canister: Principal) -> u128;

    /// The subnet's clock, nanoseconds since the epoch.
    fn time_nanos(&mut self) -> u64;

    /// Moves the clock to `nanos` (never backwards).
    fn set_time_nanos(&mut self, nanos: u64);

    /// Moves the clock forward by `by`.
    fn advance_time(&mut self, by: Duration);

    /// Moves the clock forward by `nanos`.
    fn advance_time_nanos(&mut self, nanos: u64) {
        self.advance_time(Duration::from_nanos(nanos));
    }

    /// Executes one round.
    fn tick(&mut self);

    /// Executes rounds until nothing is left to do (timers due, calls in flight).
    fn run_until_idle(&mut self);

    /// localnet itself, when that is what runs.
    fn as_localnet(&mut self) -> Option<&mut LocalNet>;

    /// localnet, for what only it offers; the calling test must start with `localnet_only!`.
    fn localnet(&mut self) -> &mut LocalNet {
        let name = self.name();
        self.as_localnet().unwrap_or_else(|| {
            panic!("this test needs localnet but runs on {name}: start it with localnet_only!")
        })
    }
}

impl Subnet for LocalNet {
    fn name(&self) -> &'static str {
        "localnet"
    }

    fn create_canister(&mut self, controller: Principal) -> Principal {
        LocalNet::create_canister_with_settings(self, Some(controller), None)
    }

    fn install_canister(
        &mut self,
        canister: Principal,
        wasm: Vec<u8>,
        arg: Vec<u8>,
        sender: Option<Principal>,
    ) {
        LocalNet::install_canister(self, canister, wasm, arg, sender)
    }

    fn set_controllers(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
        controllers: Vec<Principal>,
    ) -> Result<(), RejectResponse> {
        LocalNet::set_controllers(self, canister, sender, controllers)
    }

    fn stop_canister(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
    ) -> Result<(), RejectResponse> {
        LocalNet::stop_canister(self, canister, sender)
    }

    fn upgrade_canister(
        &mut self,
        canister: Principal,
        wasm: Vec<u8>,
        arg: Vec<u8>,
        sender: Option<Principal>,
    ) -> Result<(), RejectResponse> {
        LocalNet::upgrade_canister(self, canister, wasm, arg, sender)
    }

    fn start_canister(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
    ) -> Result<(), RejectResponse> {
        LocalNet::start_canister(self, canister, sender)
    }

    fn take_canister_snapshot(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
        replace_snapshot: Option<Vec<u8>>,
    ) -> Result<Snapshot, RejectResponse> {
        LocalNet::take_canister_snapshot(self, canister, sender, replace_snapshot)
    }

    fn list_canister_snapshots(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
    ) -> Result<Vec<Snapshot>, RejectResponse> {
        LocalNet::list_canister_snapshots(self, canister, sender)
    }

    fn delete_canister_snapshot(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
        snapshot_id: Vec<u8>,
    ) -> Result<(), RejectResponse> {
        LocalNet::delete_canister_snapshot(self, canister, sender, snapshot_id)
    }

    fn stored_chunks(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
    ) -> Result<Vec<Vec<u8>>, RejectResponse> {
        LocalNet::stored_chunks(self, canister, sender)
    }

    fn canister_status(
        &mut self,
        canister: Principal,
        sender: Option<Principal>,
    ) -> Result<CanisterStatusResult, RejectResponse> {
        LocalNet::canister_status(self, canister, sender)
    }

    fn update_call(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> Result<Vec<u8>, RejectResponse> {
        LocalNet::update_call(self, canister, sender, method, arg)
    }

    fn query_call(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> Result<Vec<u8>, RejectResponse> {
        LocalNet::query_call(self, canister, sender, method, arg)
    }

    fn submit_call(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> Result<MessageId, RejectResponse> {
        LocalNet::submit_call(self, canister, sender, method, arg)
    }

    fn await_call(&mut self, id: MessageId) -> Result<Vec<u8>, RejectResponse> {
        LocalNet::await_call(self, id)
    }

    fn add_cycles(&mut self, canister: Principal, amount: u128) -> u128 {
        LocalNet::add_cycles(self, canister, amount)
    }

    fn cycle_balance(&mut self, canister: Principal) -> u128 {
        LocalNet::cycle_balance(self, canister)
    }

    fn time_nanos(&mut self) -> u64 {
        LocalNet::time_nanos(self)
    }

    fn set_time_nanos(&mut self, nanos: u64) {
        LocalNet::set_time_nanos(self, nanos)
    }

    fn advance_time(&mut self, by: Duration) {
        LocalNet::advance_time(self, by)
    }

    fn advance_time_nanos(&mut self, nanos: u64) {
        LocalNet::advance_time_nanos(self, nanos)
    }

    fn tick(&mut self) {
        LocalNet::tick(self)
    }

    fn run_until_idle(&mut self) {
        LocalNet::run_until_idle(self)
    }

    fn as_localnet(&mut self) -> Option<&mut LocalNet> {
        Some(self)
    }
}
