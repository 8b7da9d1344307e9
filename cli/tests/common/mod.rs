//! The end-to-end fixture shared by the CLI's test files: a network with the orchestrator's
//! real wasm and a v1 sample module, and helpers that run the real `keepsake` binary against
//! it. The network is localnet's server on a loopback port, or the external endpoint named by
//! `KEEPSAKE_TEST_REPLICA` (`replica.rs`).
//!
//! Each test file compiles this module on its own and uses part of it.
#![allow(dead_code, unused_imports)]

pub mod backup;
pub mod console;
pub mod gate;
pub mod replica;

pub(crate) use replica::localnet_only;
use replica::{External, Network};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use assert_cmd::Command;
use candid::{CandidType, Principal, decode_one, encode_args, encode_one};
use ic_agent::Identity;
use ic_agent::identity::BasicIdentity;
use localnet::LocalNet;
use localnet::http::{Keys, ReplicaConfig, Server};
use orchestrator_api::InitArg;
use orchestrator_api::client::{Call, Mode};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The developer: controls the orchestrator and the module.
pub const DEVELOPER_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIDDOgc8Lf5zz4wAC+ZdkcfSZypU2+vo3eihSSGIojAws\n-----END PRIVATE KEY-----\n";
/// Someone else: controls nothing, admin of nothing.
pub const STRANGER_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIExxdtoIFnYELehRTY4oJygvwvSHcxsh9PlWgszWZjww\n-----END PRIVATE KEY-----\n";

pub fn wasm(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/canisters")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}); build the canisters first: scripts/build-canisters.sh",
            path.display()
        )
    })
}

pub fn principal_of(pem: &str) -> Principal {
    let id: Arc<dyn Identity> = Arc::new(BasicIdentity::from_pem(pem.as_bytes()).unwrap());
    id.sender().unwrap()
}

/// Runs `c`, asserts success, returns stdout.
pub fn succeeds(c: &mut Command) -> Vec<u8> {
    let out = c.output().unwrap();
    succeeded(&format!("{c:?}"), out)
}

/// Asserts that `what`, which has finished, succeeded; returns its stdout.
pub fn succeeded(what: &str, out: std::process::Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs `c`, asserts success, parses stdout as JSON.
pub fn succeeds_with_json(c: &mut Command) -> Value {
    json_of(&succeeds(c))
}

/// `stdout` parsed as JSON.
pub fn json_of(stdout: &[u8]) -> Value {
    serde_json::from_slice(stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(stdout)))
}

/// Runs `c`, asserts failure, returns (exit code, stdout, stderr).
pub fn fails(c: &mut Command) -> (i32, String, String) {
    let out = c.output().unwrap();
    assert!(
        !out.status.success(),
        "expected a failure:\nstdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every file under `root`, relative, sorted.
pub fn files_of(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                walk(root, &e.path(), out);
            } else {
                let path = e.path();
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// A network with the orchestrator and a v1 sample module (not yet registered).
pub struct Env {
    /// localnet's server, or the external endpoint (`server.url()` either way).
    pub server: Network,
    pub dir: tempfile::TempDir,
    pub developer: Principal,
    pub orchestrator: Principal,
    pub module: Principal,
}

impl Env {
    pub fn new() -> Self {
        match replica::external_url() {
            Some(url) => Self::around(Self::deploy_external(&url)),
            None => Self::around(Self::deploy_local(ReplicaConfig::default())),
        }
    }

    /// On localnet's server with `config` (tests that need a server setting start with
    /// `localnet_only!`).
    pub fn local_with(config: ReplicaConfig) -> Self {
        Self::around(Self::deploy_local(config))
    }

    fn around((server, (orchestrator, module)): (Network, (Principal, Principal))) -> Self {
        let developer = principal_of(DEVELOPER_PEM);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("developer.pem"), DEVELOPER_PEM).unwrap();
        std::fs::write(dir.path().join("stranger.pem"), STRANGER_PEM).unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        Env {
            server,
            dir,
            developer,
            orchestrator,
            module,
        }
    }

    /// Builds the subnet in process (no HTTP round trips), then serves it.
    fn deploy_local(config: ReplicaConfig) -> (Network, (Principal, Principal)) {
        let developer = principal_of(DEVELOPER_PEM);
        let mut net = LocalNet::new();
        let orchestrator = net.create_canister_with_settings(Some(developer), None);
        let init = encode_one(InitArg { admins: vec![] }).unwrap();
        net.install_canister(
            orchestrator,
            wasm("orchestrator.wasm.gz"),
            init,
            Some(developer),
        );
        let module = net.create_canister_with_settings(Some(developer), None);
        net.install_canister(
            module,
            wasm("sample-module-v1.wasm.gz"),
            encode_args(()).unwrap(),
            Some(developer),
        );
        net.set_controllers(module, Some(developer), vec![developer, orchestrator])
            .unwrap();
        let server = Server::start(net, Keys::random(), config, 0).expect("localnet server");
        (Network::Local(server), (orchestrator, module))
    }

    /// Deploys over HTTP, as a user's tooling would: the same canisters and controllers.
    fn deploy_external(url: &str) -> (Network, (Principal, Principal)) {
        let ext = External::connect(url, DEVELOPER_PEM);
        let developer = principal_of(DEVELOPER_PEM);
        let init = encode_one(InitArg { admins: vec![] }).unwrap();
        let orchestrator = ext.create_and_install(&wasm("orchestrator.wasm.gz"), init);
        let module =
            ext.create_and_install(&wasm("sample-module-v1.wasm.gz"), encode_args(()).unwrap());
        ext.set_controllers(module, vec![developer, orchestrator]);
        (Network::External(ext), (orchestrator, module))
    }

    /// An Env with the module registered as "app".
    pub fn registered() -> Self {
        let env = Self::new();
        env.register(env.module, "app");
        env
    }

    /// `keepsake module add <id> --name <name> --kind satellite`.
    pub fn register(&self, id: Principal, name: &str) {
        self.ok(&[
            "module",
            "add",
            &id.to_text(),
            "--name",
            name,
            "--kind",
            "satellite",
        ]);
    }

    /// A fresh v1 sample module (controlled by the developer and the orchestrator),
    /// registered as `name`.
    pub fn add_module(&self, name: &str) -> Principal {
        let id = self.fresh_module();
        self.register(id, name);
        id
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// `keepsake` as `pem` ("developer" or "stranger") on this network and orchestrator.
    pub fn keepsake_as(&self, who: &str) -> Command {
        let mut c = Command::cargo_bin("keepsake").unwrap();
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DFX_CONFIG_ROOT", self.path("home"))
            .env("HOME", self.path("home"))
            .env("KEEPSAKE_CACHE_DIR", self.path("cache"))
            .current_dir(self.dir.path())
            .args(["--network", &self.server.url()])
            .args(["--pem", self.path(&format!("{who}.pem")).to_str().unwrap()])
            .args(["--orchestrator", &self.orchestrator.to_text()]);
        c
    }

    pub fn keepsake(&self) -> Command {
        self.keepsake_as("developer")
    }

    /// Runs as the developer, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.keepsake().args(args).output().unwrap();
        String::from_utf8(succeeded(&format!("keepsake {args:?}"), out)).unwrap()
    }

    /// Runs with `--json` as the developer, asserts success, parses stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        json_of(self.ok(&all).as_bytes())
    }

    /// `keepsake snapshot take app`: the new snapshot's id (hex).
    pub fn take_snapshot(&self) -> String {
        let taken = self.json(&["snapshot", "take", "app"]);
        taken["id"].as_str().expect("a snapshot id").to_string()
    }

    /// Appends `bytes` of bulk data to the module's stable memory, in `chunks` updates.
    pub fn fill(&self, bytes: u64, chunks: u32) {
        self.update(
            self.module,
            "append_bulk",
            encode_args((bytes, chunks)).unwrap(),
        );
    }

    pub fn update(&self, canister: Principal, method: &str, arg: Vec<u8>) -> Vec<u8> {
        if let Some(ext) = self.server.external() {
            return ext.update(canister, method, arg);
        }
        let dev = self.developer;
        self.server
            .replica()
            .with_net(|net| net.update_call(canister, dev, method, arg))
            .unwrap_or_else(|e| panic!("{canister}.{method} failed: {e:?}"))
    }

    pub fn query(&self, canister: Principal, method: &str, arg: Vec<u8>) -> Vec<u8> {
        if let Some(ext) = self.server.external() {
            return ext.query(canister, method, arg);
        }
        let dev = self.developer;
        self.server
            .replica()
            .with_net(|net| net.query_call(canister, dev, method, arg))
            .unwrap_or_else(|e| panic!("{canister}.{method} failed: {e:?}"))
    }

    /// Calls the orchestrator as the developer, encoded by the typed client
    /// (`orchestrator_api::client::calls::…`): the endpoint's answer, `Ok` or its error.
    pub fn call<R, E>(&self, call: Result<Call<R, E>, candid::Error>) -> Result<R, E>
    where
        R: CandidType + DeserializeOwned,
        E: CandidType + DeserializeOwned,
    {
        let call = call.expect("the arguments encode");
        let (orchestrator, method) = (self.orchestrator, call.method);
        let reply = match call.mode {
            Mode::Query => self.query(orchestrator, method, call.arg.clone()),
            Mode::Update => self.update(orchestrator, method, call.arg.clone()),
        };
        call.decode(&reply)
            .unwrap_or_else(|e| panic!("{orchestrator}.{method}: not its result type: {e}"))
    }

    pub fn set(&self, canister: Principal, key: &str, value: &[u8]) {
        self.update(
            canister,
            "set",
            encode_args((key, serde_bytes::ByteBuf::from(value.to_vec()))).unwrap(),
        );
    }

    pub fn get(&self, canister: Principal, key: &str) -> Option<Vec<u8>> {
        let bytes = self.query(canister, "get", encode_one(key).unwrap());
        decode_one::<Option<serde_bytes::ByteBuf>>(&bytes)
            .unwrap()
            .map(|b| b.into_vec())
    }

    /// The whole bulk area of the sample module.
    pub fn bulk(&self, canister: Principal) -> Vec<u8> {
        let size: u64 =
            decode_one(&self.query(canister, "bulk_size", encode_args(()).unwrap())).unwrap();
        let mut out = Vec::new();
        while (out.len() as u64) < size {
            let len = (size - out.len() as u64).min(1_000_000);
            let chunk: serde_bytes::ByteBuf = decode_one(&self.query(
                canister,
                "bulk_read",
                encode_args((out.len() as u64, len)).unwrap(),
            ))
            .unwrap();
            out.extend(chunk.into_vec());
        }
        out
    }

    /// A fresh canister controlled by the developer only, running the v1 sample module.
    pub fn fresh_canister(&self) -> Principal {
        let dev = self.developer;
        let w = wasm("sample-module-v1.wasm.gz");
        if let Some(ext) = self.server.external() {
            return ext.create_and_install(&w, encode_args(()).unwrap());
        }
        self.server.replica().with_net(|net| {
            let id = net.create_canister_with_settings(Some(dev), None);
            net.install_canister(id, w, encode_args(()).unwrap(), Some(dev));
            id
        })
    }

    /// Sets `canister`'s controllers as the developer (who must control it).
    pub fn set_controllers(&self, canister: Principal, controllers: Vec<Principal>) {
        if let Some(ext) = self.server.external() {
            return ext.set_controllers(canister, controllers);
        }
        let dev = self.developer;
        self.server
            .replica()
            .with_net(|net| net.set_controllers(canister, Some(dev), controllers))
            .unwrap_or_else(|e| panic!("update_settings of {canister}: {e:?}"));
    }

    /// A fresh v1 sample module controlled by the developer and the orchestrator.
    pub fn fresh_module(&self) -> Principal {
        let id = self.fresh_canister();
        self.set_controllers(id, vec![self.developer, self.orchestrator]);
        id
    }

    /// The ids of `canister`'s snapshots as the management canister lists them (developer).
    pub fn snapshot_ids(&self, canister: Principal) -> Vec<Vec<u8>> {
        if let Some(ext) = self.server.external() {
            return ext.snapshot_ids(canister);
        }
        let dev = self.developer;
        self.server
            .replica()
            .with_net(|net| net.list_canister_snapshots(canister, Some(dev)))
            .unwrap_or_else(|e| panic!("list_canister_snapshots of {canister}: {e:?}"))
            .into_iter()
            .map(|s| s.id)
            .collect()
    }
}
