//! Test fixture for Keepsake's integration tests: a subnet with the orchestrator's real wasm
//! and a sample module, and typed call helpers that panic with
//! "{canister}.{method} failed … (caller …)" so a failing test says what broke.
//!
//! The subnet is localnet in process, or a PocketIC server when `POCKET_IC_BIN` names its
//! binary — chosen at run time, behind the [`Subnet`] trait (`subnet.rs`, `pocket.rs`). Tests
//! that need what only localnet offers start with `localnet_only!("why")`.
//!
//! The wasm comes from `target/canisters/` (built by `scripts/build-canisters.sh`, which the
//! README's test command runs first) and is read once per test process.

pub mod client;
pub mod pocket;
pub mod subnet;

pub use client::{NetClient, NetTransport, answer, block_on, rejected};
pub use subnet::Subnet;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use candid::utils::{ArgumentDecoder, ArgumentEncoder};
use candid::{CandidType, Principal, decode_args, encode_args};
use localnet::{LocalNet, MessageId, RejectResponse};
use orchestrator_api::client::Call;
use orchestrator_api::*;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

/// Where scripts/build-canisters.sh puts the wasm.
pub fn canisters_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/canisters")
}

/// The bytes of `target/canisters/<name>` (e.g. `sample-module-v2.wasm.gz`), read once.
pub fn wasm(name: &str) -> Vec<u8> {
    static CACHE: OnceLock<Mutex<BTreeMap<String, Vec<u8>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap();
    cache
        .entry(name.to_string())
        .or_insert_with(|| {
            let path = canisters_dir().join(name);
            std::fs::read(&path).unwrap_or_else(|e| {
                panic!(
                    "cannot read {} ({e}); build the canisters first: scripts/build-canisters.sh",
                    path.display()
                )
            })
        })
        .clone()
}

/// True (after saying so on stderr) when the calling test needs localnet and the suites run on
/// PocketIC. Used through [`localnet_only!`].
pub fn skip_without_localnet(why: &str) -> bool {
    let Some(bin) = pocket::server_binary() else {
        return false;
    };
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    // Straight to the process's stderr: libtest captures `eprintln!` of passing tests.
    let _ = writeln!(
        std::io::stderr(),
        "skipped on PocketIC ({}): {test}: {why}",
        bin.display()
    );
    true
}

/// Skips the calling test on PocketIC, naming what it needs from localnet (held messages,
/// fault injection, the random scheduler, instruction counts, lowered limits, localnet's own
/// cycle or timer bookkeeping).
#[macro_export]
macro_rules! localnet_only {
    ($why:expr) => {
        if $crate::skip_without_localnet($why) {
            return;
        }
    };
}

/// Calls an orchestrator endpoint through [`Env::client`] (as the admin, or `as caller`) and
/// returns the endpoint's own answer, `Result<T, E>`; a reject fails the test
/// ([`client::answer`]). `orch!(env, take_snapshot("app", args))`.
#[macro_export]
macro_rules! orch {
    ($env:expr, as $caller:expr, $method:ident($($arg:expr),* $(,)?)) => {
        $crate::answer($crate::block_on($env.client_as($caller).$method($($arg),*)))
    };
    ($env:expr, $method:ident($($arg:expr),* $(,)?)) => {
        $crate::answer($crate::block_on($env.client().$method($($arg),*)))
    };
}

/// The subnet this test process runs on: PocketIC when `POCKET_IC_BIN` is set, else localnet.
pub fn new_subnet() -> Box<dyn Subnet> {
    match pocket::server_binary() {
        Some(bin) => Box::new(pocket::PocketSubnet::start(bin)),
        None => {
            let mut net = LocalNet::new();
            // KEEPSAKE_TEST_SEED=<n> runs the whole suite under the seeded random scheduler
            // (scripts/test.sh repeats the orchestrator suites with several seeds).
            if let Some(seed) = std::env::var("KEEPSAKE_TEST_SEED")
                .ok()
                .and_then(|s| s.parse().ok())
            {
                net.set_scheduler_policy(localnet::SchedulerPolicy::Random { seed });
            }
            Box::new(net)
        }
    }
}

/// A principal for tests.
pub fn user(n: u8) -> Principal {
    Principal::self_authenticating([n; 32])
}

/// The subnet, the orchestrator and one registered sample module called "app".
pub struct Env {
    /// localnet or PocketIC (`env.net.localnet()` for what only localnet has).
    pub net: Box<dyn Subnet>,
    pub orchestrator: Principal,
    /// An admin given in the orchestrator's init argument (not a controller of it).
    pub admin: Principal,
    /// The developer who controls everything (and deployed it).
    pub developer: Principal,
    /// The sample module's canister.
    pub module: Principal,
}

impl Env {
    /// The orchestrator and a v1 sample module registered as "app".
    pub fn new() -> Self {
        Self::with_orchestrator("orchestrator.wasm.gz")
    }

    /// Like `new`, with the orchestrator built as `orchestrator_wasm` (e.g. its test-traps build).
    pub fn with_orchestrator(orchestrator_wasm: &str) -> Self {
        let mut net = new_subnet();
        let developer = user(1);
        let admin = user(2);
        let orchestrator = net.create_canister(developer);
        let init = candid::encode_one(InitArg {
            admins: vec![admin],
        })
        .unwrap();
        net.install_canister(orchestrator, wasm(orchestrator_wasm), init, Some(developer));
        let module = net.create_canister(developer);
        net.install_canister(
            module,
            wasm("sample-module-v1.wasm.gz"),
            encode_args(()).unwrap(),
            Some(developer),
        );
        net.set_controllers(module, Some(developer), vec![developer, orchestrator])
            .expect("update_settings");
        let mut env = Env {
            net,
            orchestrator,
            admin,
            developer,
            module,
        };
        env.add_module("app", module)
            .unwrap_or_else(|e| panic!("add_module: {e}"));
        env
    }

    /// The orchestrator's typed client, calling as `caller`.
    pub fn client_as(&mut self, caller: Principal) -> NetClient<'_> {
        NetClient::new(NetTransport::new(&mut *self.net, self.orchestrator, caller))
    }

    /// The orchestrator's typed client, calling as the admin.
    pub fn client(&mut self) -> NetClient<'_> {
        let admin = self.admin;
        self.client_as(admin)
    }

    /// Submits `call` to the orchestrator as the admin without running it, so that several
    /// run interleaved or are held (`submit_call`); [`Env::answer_of`] reads its answer.
    pub fn submit<R, E>(&mut self, call: &Call<R, E>) -> MessageId {
        let (orchestrator, admin) = (self.orchestrator, self.admin);
        self.net
            .submit_call(orchestrator, admin, call.method, call.arg.clone())
            .unwrap_or_else(|e| panic!("orchestrator.{} not accepted: {e:?}", call.method))
    }

    /// Runs until the submitted `call` (message `id`) is answered, and decodes the answer; a
    /// reject fails the test.
    pub fn answer_of<R, E>(&mut self, id: MessageId, call: &Call<R, E>) -> Result<R, E>
    where
        R: CandidType + DeserializeOwned,
        E: CandidType + DeserializeOwned,
    {
        let reply = self.net.await_call(id).unwrap_or_else(|e| {
            panic!(
                "orchestrator.{} was rejected ({e:?}); it must reply",
                call.method
            )
        });
        call.decode(&reply)
            .unwrap_or_else(|e| panic!("orchestrator.{}: reply does not decode ({e})", call.method))
    }

    /// Arms the test-traps build's fault: while armed, the orchestrator traps after each call
    /// of management `method` (none disarms). Not part of the interface, so not in the client.
    pub fn arm_trap(&mut self, method: Option<&str>) {
        let (orchestrator, admin) = (self.orchestrator, self.admin);
        let reply = self
            .net
            .update_call(
                orchestrator,
                admin,
                "test_arm_trap",
                encode_args((method,)).unwrap(),
            )
            .unwrap_or_else(|e| {
                panic!("orchestrator.test_arm_trap failed: {e:?} (caller {admin})")
            });
        let () = decode_args(&reply).unwrap();
    }

    /// Upgrades the orchestrator (as its controller, the developer) to the current wasm.
    pub fn upgrade_orchestrator(&mut self) {
        let (orchestrator, developer) = (self.orchestrator, self.developer);
        self.net
            .upgrade_canister(
                orchestrator,
                wasm("orchestrator.wasm.gz"),
                encode_args(()).unwrap(),
                Some(developer),
            )
            .expect("upgrade of the orchestrator");
    }

    pub fn add_module(
        &mut self,
        name: &str,
        canister_id: Principal,
    ) -> Result<ModuleInfo, ModuleError> {
        orch!(
            self,
            add_module(AddModuleArgs {
                canister_id,
                name: name.into(),
                kind: ModuleKind::Satellite,
            })
        )
    }

    pub fn update_settings(&mut self, update: ModuleSettingsUpdate) -> ModuleInfo {
        orch!(self, update_module_settings("app", update))
            .unwrap_or_else(|e| panic!("update_module_settings: {e}"))
    }

    pub fn take(&mut self, label: Option<&str>) -> Result<SnapshotInfo, SnapshotError> {
        orch!(
            self,
            take_snapshot(
                "app",
                TakeSnapshotArgs {
                    label: label.map(Into::into),
                    pin: None,
                }
            )
        )
    }

    pub fn restore(&mut self, id: Option<&[u8]>) -> Result<SnapshotInfo, SnapshotError> {
        orch!(self, restore_snapshot("app", id))
    }

    pub fn delete(&mut self, id: Option<&[u8]>) -> Result<SnapshotInfo, SnapshotError> {
        orch!(self, delete_snapshot("app", id))
    }

    pub fn list(&mut self) -> Vec<SnapshotInfo> {
        self.list_of("app")
    }

    /// Stages `wasm` in chunks of `chunk` bytes and commits it; returns its hash.
    pub fn stage(&mut self, wasm: &[u8], chunk: usize) -> Vec<u8> {
        let hash = self.stage_uncommitted(wasm, chunk);
        orch!(self, commit_staged_wasm(&hash))
            .unwrap_or_else(|e| panic!("commit_staged_wasm: {e}"));
        hash
    }

    /// Stages `wasm` in chunks of `chunk` bytes without committing it; returns its hash.
    pub fn stage_uncommitted(&mut self, wasm: &[u8], chunk: usize) -> Vec<u8> {
        let hash = Sha256::digest(wasm).to_vec();
        let mut offset = 0u64;
        for piece in wasm.chunks(chunk) {
            let args = StageWasmChunkArgs {
                wasm_hash: hash.clone(),
                offset,
                chunk: piece.to_vec(),
            };
            offset = orch!(self, stage_wasm_chunk(args))
                .unwrap_or_else(|e| panic!("stage_wasm_chunk: {e}"))
                .size;
        }
        hash
    }

    pub fn upgrade(&mut self, args: UpgradeArgs) -> Result<UpgradeReport, UpgradeError> {
        orch!(self, upgrade_module("app", args))
    }

    pub fn history(&mut self) -> Vec<OperationRecord> {
        orch!(self, history(HistoryQuery::default()))
            .unwrap()
            .operations
    }

    pub fn modules(&mut self) -> Vec<ModuleInfo> {
        orch!(self, list_modules()).unwrap()
    }

    // ---- the sample module ----

    pub fn module_update<A: ArgumentEncoder, R: for<'a> ArgumentDecoder<'a>>(
        &mut self,
        method: &str,
        args: A,
    ) -> R {
        let bytes = self
            .net
            .update_call(
                self.module,
                self.developer,
                method,
                encode_args(args).unwrap(),
            )
            .unwrap_or_else(|e| panic!("module.{method} failed: {e:?}"));
        decode_args(&bytes).unwrap()
    }

    pub fn module_query<A: ArgumentEncoder, R: for<'a> ArgumentDecoder<'a>>(
        &mut self,
        method: &str,
        args: A,
    ) -> Result<R, RejectResponse> {
        let bytes = self.net.query_call(
            self.module,
            self.developer,
            method,
            encode_args(args).unwrap(),
        )?;
        Ok(decode_args(&bytes).unwrap())
    }

    pub fn set(&mut self, key: &str, value: &[u8]) {
        let () = self.module_update("set", (key, serde_bytes::ByteBuf::from(value.to_vec())));
    }

    pub fn get(&mut self, key: &str) -> Option<Vec<u8>> {
        let (v,): (Option<serde_bytes::ByteBuf>,) = self.module_query("get", (key,)).unwrap();
        v.map(|v| v.into_vec())
    }

    pub fn version(&mut self) -> String {
        let (v,): (String,) = self.module_query("version", ()).unwrap();
        v
    }

    pub fn heap_counter(&mut self) -> u64 {
        let (v,): (u64,) = self.module_query("heap_counter", ()).unwrap();
        v
    }

    pub fn module_status(&mut self) -> ic_management_canister_types::CanisterStatusResult {
        let developer = self.developer;
        self.net
            .canister_status(self.module, Some(developer))
            .expect("canister_status")
    }

    pub fn module_is_running(&mut self) -> bool {
        self.module_status().status == ic_management_canister_types::CanisterStatusType::Running
    }
}

/// More modules for group tests: sample modules registered under their own names.
impl Env {
    /// Installs another v1 sample module, controlled by the developer and the orchestrator,
    /// and registers it as `name`.
    pub fn add_sample_module(&mut self, name: &str) -> Principal {
        let developer = self.developer;
        let canister = self.net.create_canister(developer);
        self.net.install_canister(
            canister,
            wasm("sample-module-v1.wasm.gz"),
            encode_args(()).unwrap(),
            Some(developer),
        );
        self.net
            .set_controllers(
                canister,
                Some(developer),
                vec![developer, self.orchestrator],
            )
            .expect("update_settings");
        self.add_module(name, canister)
            .unwrap_or_else(|e| panic!("add_module {name}: {e}"));
        canister
    }

    /// Calls `method` on any canister as the developer; a reject is a test failure.
    pub fn update_on<A: ArgumentEncoder, R: for<'a> ArgumentDecoder<'a>>(
        &mut self,
        canister: Principal,
        method: &str,
        args: A,
    ) -> R {
        let bytes = self
            .net
            .update_call(canister, self.developer, method, encode_args(args).unwrap())
            .unwrap_or_else(|e| panic!("{canister}.{method} failed: {e:?}"));
        decode_args(&bytes).unwrap()
    }

    /// Queries `method` on any canister as the developer; a reject is a test failure.
    pub fn query_on<A: ArgumentEncoder, R: for<'a> ArgumentDecoder<'a>>(
        &mut self,
        canister: Principal,
        method: &str,
        args: A,
    ) -> R {
        let bytes = self
            .net
            .query_call(canister, self.developer, method, encode_args(args).unwrap())
            .unwrap_or_else(|e| panic!("{canister}.{method} failed: {e:?}"));
        decode_args(&bytes).unwrap()
    }

    /// Whether `canister` runs.
    pub fn is_running(&mut self, canister: Principal) -> bool {
        let developer = self.developer;
        self.net
            .canister_status(canister, Some(developer))
            .expect("canister_status")
            .status
            == ic_management_canister_types::CanisterStatusType::Running
    }

    /// The orchestrator's view of module `name`'s snapshots.
    pub fn list_of(&mut self, name: &str) -> Vec<SnapshotInfo> {
        orch!(self, list_snapshots(name)).unwrap_or_else(|e| panic!("list_snapshots {name}: {e}"))
    }
}

impl Default for Env {
    fn default() -> Self {
        Self::new()
    }
}

/// Upgrade arguments with the defaults a console would use.
pub fn upgrade_args(wasm_hash: &[u8]) -> UpgradeArgs {
    UpgradeArgs {
        wasm_hash: wasm_hash.to_vec(),
        arg: encode_args(()).unwrap(),
        snapshot: None,
        on_existing: OnExisting::Replace,
        rollback_on_failure: true,
    }
}

/// `wasm` with a custom section of `size` bytes appended: the same code, a larger module (and
/// another hash), e.g. to push an upgrade past the one-message install limit.
pub fn with_padding_section(mut wasm: Vec<u8>, size: usize) -> Vec<u8> {
    let name = b"keepsake:padding";
    let mut section = Vec::with_capacity(size + name.len() + 5);
    leb128(name.len() as u64, &mut section);
    section.extend_from_slice(name);
    section.extend((0..size).map(|i| (i * 7 % 256) as u8));
    wasm.push(0); // custom section id
    leb128(section.len() as u64, &mut wasm);
    wasm.extend_from_slice(&section);
    wasm
}

/// `wasm` padded with a custom section to exactly `total` bytes (see [`with_padding_section`]).
pub fn padded_to(wasm: Vec<u8>, total: usize) -> Vec<u8> {
    let name_overhead = 1 + b"keepsake:padding".len();
    let leb_len = |v: usize| {
        let mut out = Vec::new();
        leb128(v as u64, &mut out);
        out.len()
    };
    for len_bytes in 1..=5 {
        let Some(size) = total.checked_sub(wasm.len() + 1 + len_bytes + name_overhead) else {
            continue;
        };
        if leb_len(size + name_overhead) == len_bytes {
            let padded = with_padding_section(wasm, size);
            assert_eq!(padded.len(), total);
            return padded;
        }
    }
    panic!("cannot pad a {}-byte wasm to {total} bytes", wasm.len());
}

fn leb128(mut value: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}
