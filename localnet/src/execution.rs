//! Running one message of canister code on wasmtime, atomically.
//!
//! A canister's persistent execution state is [`ExecState`]: heap pages, the exported mutable
//! globals and stable memory. Every message runs in a fresh wasmtime `Store`: the compiled
//! module is instantiated, the saved globals are written over the fresh instance, the entry
//! point (an exported function or a callback from table `table`) runs with a fuel budget, and
//! only if it returns without trapping is a new `ExecState` read back. The heap is the
//! canister's mapped [`LiveHeap`] (`heap.rs`): writes are tracked per page, a success copies the
//! written pages out, a trap copies them back — so a message costs what it writes, and a trap
//! leaves heap, globals and stable memory exactly as they were (the caller discards the
//! message's other effects the same way). Install steps, and modules the live heap cannot serve,
//! copy the heap into a memory of their own and compare it back page by page.
//!
//! Fuel stands in for the IC's instruction counter: wasmtime charges about one unit per wasm
//! operator, close to the replica's instrumentation, and system calls that copy bytes charge one
//! unit per byte. `performance_counter(0)` reads it; running out is the IC's
//! "instruction limit exceeded".

use crate::heap::{self, HeapCreator, LiveHeap, Mirror};
use crate::paged::PagedMemory;
use crate::system_api::{self, ApiType, Effects, Host, HostTrap, MessageEnv};
use crate::types::{ErrorCode, RejectResponse};
use crate::wasm::{GLOBAL_EXPORT_PREFIX, MEMORY_EXPORT, PreparedModule, TABLE_EXPORT};
use candid::Principal;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use wasmtime::{Config, Engine, Instance, Linker, Module, Ref, Store, Trap, Val};

/// Wasm page size.
pub const WASM_PAGE: usize = 65536;

/// A value of a persisted mutable global (the variants of the snapshot metadata's `globals`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GlobalValue {
    /// i32
    I32(i32),
    /// i64
    I64(i64),
    /// f32 bits
    F32(u32),
    /// f64 bits
    F64(u64),
    /// v128
    V128(u128),
}

/// The persistent state of an installed canister's code.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecState {
    /// Heap (wasm memory 0), in shared pages.
    pub heap: PagedMemory,
    /// Exported mutable globals in index order.
    pub globals: Vec<GlobalValue>,
    /// Stable memory (shared copy-on-write pages).
    pub stable: PagedMemory,
}

/// What to run.
#[derive(Clone, Debug)]
pub enum EntryPoint {
    /// Instantiate from scratch (runs the wasm `start` function), then optionally call an
    /// export (`canister_init`, `canister_post_upgrade`).
    Fresh(Option<String>),
    /// Call an exported function (e.g. `canister_update foo`) on the saved state.
    Export(String),
    /// Call the table entry `fun` with `env` (a reply, reject or cleanup callback).
    Callback {
        /// Table index.
        fun: u32,
        /// The callback's environment argument.
        env: u32,
    },
}

/// How a message ended when it did not succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecError {
    /// The IC error code.
    pub code: ErrorCode,
    /// Description without the "Error from Canister X: " prefix.
    pub message: String,
}

impl ExecError {
    /// The reject a caller gets when `canister`'s code failed this way.
    pub fn into_reject(self, canister: Principal) -> RejectResponse {
        RejectResponse::system(
            self.code,
            format!("Error from Canister {canister}: {}", self.message),
        )
    }
}

/// The result of running one message.
pub struct ExecOutput {
    /// `Ok` with the new state (when asked to persist), or the trap.
    pub result: Result<Option<ExecState>, ExecError>,
    /// Effects recorded by the system API; meaningful only when `result` is `Ok`.
    pub effects: Effects,
    /// Instructions (fuel) used.
    pub instructions: u64,
    /// Debug prints (kept even when the message trapped, as the IC's canister log does).
    pub logs: Vec<String>,
}

/// A compiled canister module.
#[derive(Clone)]
pub struct CompiledModule {
    module: Module,
    /// A linker with trapping stubs, when the module imports ic0 functions localnet lacks.
    linker: Option<Arc<Linker<Host>>>,
    /// The prepared (instrumented) module this was compiled from.
    pub prepared: Arc<PreparedModule>,
}

impl CompiledModule {
    /// Whether the module exports `name`.
    pub fn exports(&self, name: &str) -> bool {
        self.prepared.entry_points.iter().any(|e| e == name)
    }
}

/// The wasmtime engine, the ic0 linker and a cache of compiled modules (by module hash).
pub struct Runtime {
    engine: Engine,
    linker: Linker<Host>,
    cache: HashMap<[u8; 32], CompiledModule>,
}

impl Runtime {
    /// A runtime with fuel metering on.
    pub fn new() -> Self {
        let engine = shared_engine().clone();
        let mut linker = Linker::new(&engine);
        system_api::link(&mut linker).expect("ic0 functions link");
        Runtime {
            engine,
            linker,
            cache: HashMap::new(),
        }
    }

    /// Compiles (or fetches from the cache) a prepared module.
    pub fn compile(&mut self, prepared: PreparedModule) -> Result<CompiledModule, ExecError> {
        if let Some(hit) = self.cache.get(&prepared.hash) {
            return Ok(hit.clone());
        }
        let cached = shared_modules()
            .lock()
            .expect("cache lock")
            .get(&prepared.hash)
            .cloned();
        let module = match cached {
            Some(module) => module,
            None => {
                let module =
                    Module::new(&self.engine, &prepared.instrumented).map_err(|e| ExecError {
                        code: ErrorCode::CanisterInvalidWasm,
                        message: format!("Wasm module is invalid: {e}"),
                    })?;
                shared_modules()
                    .lock()
                    .expect("cache lock")
                    .insert(prepared.hash, module.clone());
                module
            }
        };
        // Imports outside ic0, or of functions the IC does not have, make the module invalid,
        // as the replica's validation does. Real ic0 functions localnet lacks link as traps.
        let mut needs_stubs = false;
        for import in module.imports() {
            let known = import.module() == "ic0"
                && (system_api::IMPLEMENTED.contains(&import.name())
                    || system_api::KNOWN_UNIMPLEMENTED.contains(&import.name()));
            needs_stubs |= known && !system_api::IMPLEMENTED.contains(&import.name());
            if !known {
                return Err(ExecError {
                    code: ErrorCode::CanisterInvalidWasm,
                    message: format!(
                        "Wasm module has an invalid import section. Module imports function '{}' from '{}' that is not exported by the runtime.",
                        import.name(),
                        import.module()
                    ),
                });
            }
        }
        let linker = if needs_stubs {
            let mut linker = self.linker.clone();
            linker
                .define_unknown_imports_as_traps(&module)
                .expect("stubs for unknown imports");
            Some(Arc::new(linker))
        } else {
            None
        };
        let compiled = CompiledModule {
            module,
            linker,
            prepared: Arc::new(prepared),
        };
        self.cache.insert(compiled.prepared.hash, compiled.clone());
        Ok(compiled)
    }

    /// Runs one message. `state` is ignored for [`EntryPoint::Fresh`] except for its stable
    /// memory, which survives upgrades. With `persist`, the new state is read back on success.
    /// With `live` (the canister's [`LiveHeap`]), an export or callback runs on the canister's
    /// mapped heap and pays only for the pages it writes; otherwise the heap is copied in and
    /// compared back (install steps, modules `heap.rs` cannot serve).
    pub fn execute(
        &self,
        module: &CompiledModule,
        state: &ExecState,
        entry: EntryPoint,
        env: MessageEnv,
        persist: bool,
        live: Option<&LiveHeap>,
    ) -> ExecOutput {
        let limit = env.instruction_limit;
        let host = Host::new(env, state.stable.clone());
        let mut store = Store::new(&self.engine, host);
        store.set_fuel(limit).expect("fuel is enabled");
        let segments = module.prepared.live_heap_segments.as_deref();
        let mut mirror = match (&entry, live, segments) {
            (EntryPoint::Fresh(_), _, _) => None,
            (_, Some(live), Some(_)) if live_heap_enabled() => live.checkout(&state.heap),
            _ => None,
        };
        let result = self.run(&mut store, module, state, entry, persist, mirror.as_mut());
        let instructions = limit.saturating_sub(store.get_fuel().unwrap_or(0));
        let host = store.into_data();
        if let (Some(mirror), Some(live)) = (mirror, live) {
            live.checkin(mirror);
        }
        let (effects, logs, stable) = host.finish();
        let result = result.map(|state| {
            state.map(|(heap, globals)| ExecState {
                heap,
                globals,
                stable,
            })
        });
        ExecOutput {
            result,
            effects,
            instructions,
            logs,
        }
    }

    #[allow(clippy::type_complexity)]
    fn run(
        &self,
        store: &mut Store<Host>,
        module: &CompiledModule,
        state: &ExecState,
        entry: EntryPoint,
        persist: bool,
        mut mirror: Option<&mut Mirror>,
    ) -> Result<Option<(PagedMemory, Vec<GlobalValue>)>, ExecError> {
        let linker = module.linker.as_deref().unwrap_or(&self.linker);
        let segments = module.prepared.live_heap_segments.as_deref().unwrap_or(&[]);
        if let Some(m) = mirror.as_deref() {
            m.offer(store, segments);
        }
        let instance = linker.instantiate(&mut *store, &module.module);
        // Without the mirror (no memory, or one it does not fit) the copy path below runs.
        if let Some(m) = mirror.take_if(|m| !m.accept(segments)) {
            m.rollback();
        }
        let instance = match instance {
            Ok(instance) => instance,
            Err(e) => {
                if let Some(m) = mirror {
                    m.rollback();
                }
                return Err(classify(e));
            }
        };
        let outcome = self.call_entry(store, &instance, state, entry, mirror.as_deref());
        let Some(m) = mirror else {
            outcome?;
            return Ok(persist.then(|| capture(store, &instance, &state.heap)));
        };
        match outcome {
            Ok(()) if persist => Ok(Some((m.commit(), read_globals(store, &instance)))),
            Ok(()) => {
                m.rollback();
                Ok(None)
            }
            Err(e) => {
                m.rollback();
                Err(e)
            }
        }
    }

    /// Restores the saved state over the fresh instance (except for `Fresh`) and runs the entry
    /// point, tracking heap writes when the instance runs on the canister's mirror.
    fn call_entry(
        &self,
        store: &mut Store<Host>,
        instance: &Instance,
        state: &ExecState,
        entry: EntryPoint,
        mirror: Option<&Mirror>,
    ) -> Result<(), ExecError> {
        let export = match entry {
            EntryPoint::Fresh(export) => export,
            other => {
                restore(store, instance, state, mirror.is_none())?;
                if let Some(m) = mirror {
                    m.arm(true);
                }
                match other {
                    EntryPoint::Export(name) => Some(name),
                    EntryPoint::Callback { fun, env } => {
                        call_callback(store, instance, fun, env)?;
                        None
                    }
                    EntryPoint::Fresh(_) => unreachable!(),
                }
            }
        };
        if let Some(name) = export {
            let func = instance
                .get_typed_func::<(), ()>(&mut *store, &name)
                .map_err(|_| ExecError {
                    code: ErrorCode::CanisterInvalidWasm,
                    message: format!("Exported method {name} has the wrong type"),
                })?;
            func.call(&mut *store, ()).map_err(classify)?;
        }
        Ok(())
    }
}

/// Whether messages run on the canisters' live heaps: `LOCALNET_LIVE_HEAP=0` puts every message
/// on the copy path (to compare the two in benchmarks, or to rule the live heap out).
fn live_heap_enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| !std::env::var("LOCALNET_LIVE_HEAP").is_ok_and(|v| v == "0"))
}

/// One engine per process: compiled modules are shared by every [`Runtime`] (tests create many
/// subnets; compiling a canister with Cranelift costs far more than running a message).
fn shared_engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = Config::new();
        config.consume_fuel(true);
        // Heaps come from `heap.rs`: a canister's messages run on its mapped heap (no copy per
        // message). Its reservation and guard are fixed here so that the mirror made before
        // instantiation is the one wasmtime asks for; copy-on-write data images are off because
        // they need wasmtime's own mmap memories.
        config.with_host_memory(Arc::new(HeapCreator));
        config.memory_init_cow(false);
        config.memory_reservation(heap::RESERVATION as u64);
        config.memory_guard_size(heap::GUARD as u64);
        Engine::new(&config).expect("wasmtime engine configuration is valid")
    })
}

/// Compiled modules by module hash, for every runtime of the process.
fn shared_modules() -> &'static Mutex<HashMap<[u8; 32], Module>> {
    static MODULES: OnceLock<Mutex<HashMap<[u8; 32], Module>>> = OnceLock::new();
    MODULES.get_or_init(Default::default)
}

impl Default for Runtime {
    fn default() -> Self {
        Self::new()
    }
}

fn call_callback(
    store: &mut Store<Host>,
    instance: &Instance,
    fun: u32,
    env: u32,
) -> Result<(), ExecError> {
    let trapped = |msg: String| ExecError {
        code: ErrorCode::CanisterTrapped,
        message: format!("Canister trapped: {msg}"),
    };
    let table = instance
        .get_table(&mut *store, TABLE_EXPORT)
        .ok_or_else(|| trapped("the module has no function table".into()))?;
    let func = match table.get(&mut *store, u64::from(fun)) {
        Some(Ref::Func(Some(f))) => f,
        _ => {
            return Err(trapped(format!(
                "callback {fun} is not a function in the table"
            )));
        }
    };
    let func = func
        .typed::<i32, ()>(&*store)
        .map_err(|_| trapped(format!("callback {fun} has the wrong type")))?;
    func.call(&mut *store, env as i32).map_err(classify)
}

/// Writes the saved heap (with `copy_heap`; on the mirror it is there already, growing the
/// memory to its size is enough) and globals over a fresh instance.
fn restore(
    store: &mut Store<Host>,
    instance: &Instance,
    state: &ExecState,
    copy_heap: bool,
) -> Result<(), ExecError> {
    if let Some(memory) = instance.get_memory(&mut *store, MEMORY_EXPORT) {
        let want = state.heap.pages();
        let have = memory.size(&*store);
        if want > have {
            memory
                .grow(&mut *store, want - have)
                .map_err(|e| ExecError {
                    code: ErrorCode::CanisterOutOfMemory,
                    message: format!("Canister cannot grow its memory: {e}"),
                })?;
        }
        if copy_heap {
            let data = memory.data_mut(&mut *store);
            state.heap.copy_into(data);
        }
    }
    let names = global_names(store, instance);
    for (name, value) in names.iter().zip(&state.globals) {
        let global = instance
            .get_global(&mut *store, name)
            .expect("listed export");
        let val = match *value {
            GlobalValue::I32(v) => Val::I32(v),
            GlobalValue::I64(v) => Val::I64(v),
            GlobalValue::F32(v) => Val::F32(v),
            GlobalValue::F64(v) => Val::F64(v),
            GlobalValue::V128(v) => Val::V128(v.into()),
        };
        global.set(&mut *store, val).map_err(|e| ExecError {
            code: ErrorCode::CanisterInvalidWasm,
            message: format!("global {name} does not match the module: {e}"),
        })?;
    }
    Ok(())
}

/// Reads heap and globals back after a successful message (copy path).
fn capture(
    store: &mut Store<Host>,
    instance: &Instance,
    previous: &PagedMemory,
) -> (PagedMemory, Vec<GlobalValue>) {
    let heap = instance
        .get_memory(&mut *store, MEMORY_EXPORT)
        .map(|m| PagedMemory::capture(previous, m.data(&*store)))
        .unwrap_or_default();
    (heap, read_globals(store, instance))
}

/// The persisted globals' values.
fn read_globals(store: &mut Store<Host>, instance: &Instance) -> Vec<GlobalValue> {
    global_names(store, instance)
        .iter()
        .map(|name| {
            let global = instance
                .get_global(&mut *store, name)
                .expect("listed export");
            match global.get(&mut *store) {
                Val::I32(v) => GlobalValue::I32(v),
                Val::I64(v) => GlobalValue::I64(v),
                Val::F32(v) => GlobalValue::F32(v),
                Val::F64(v) => GlobalValue::F64(v),
                Val::V128(v) => GlobalValue::V128(v.as_u128()),
                _ => GlobalValue::I32(0),
            }
        })
        .collect()
}

/// The persisted-global export names, in global index order.
fn global_names(store: &mut Store<Host>, instance: &Instance) -> Vec<String> {
    let mut names: Vec<(u32, String)> = instance
        .exports(&mut *store)
        .filter_map(|e| {
            let name = e.name();
            name.strip_prefix(GLOBAL_EXPORT_PREFIX)
                .and_then(|i| i.parse::<u32>().ok())
                .map(|i| (i, name.to_string()))
        })
        .collect();
    names.sort();
    names.into_iter().map(|(_, n)| n).collect()
}

/// Maps a wasmtime error to the IC's error code and message.
fn classify(error: wasmtime::Error) -> ExecError {
    if let Some(trap) = error.downcast_ref::<HostTrap>() {
        return ExecError {
            code: trap.code,
            message: trap.message.clone(),
        };
    }
    if let Some(trap) = error.downcast_ref::<Trap>() {
        let what = match trap {
            Trap::OutOfFuel => {
                return ExecError {
                    code: ErrorCode::CanisterInstructionLimitExceeded,
                    message:
                        "Canister exceeded the limit of instructions for single message execution."
                            .into(),
                };
            }
            Trap::UnreachableCodeReached => "unreachable".to_string(),
            Trap::MemoryOutOfBounds => "heap out of bounds".to_string(),
            Trap::IntegerDivisionByZero => "integer division by 0".to_string(),
            Trap::IntegerOverflow => "integer overflow".to_string(),
            Trap::StackOverflow => "stack overflow".to_string(),
            Trap::TableOutOfBounds => "table out of bounds".to_string(),
            Trap::IndirectCallToNull => "indirect call to null".to_string(),
            Trap::BadSignature => "indirect call signature mismatch".to_string(),
            other => other.to_string(),
        };
        return ExecError {
            code: ErrorCode::CanisterTrapped,
            message: format!("Canister trapped: {what}"),
        };
    }
    ExecError {
        code: ErrorCode::CanisterTrapped,
        message: format!("Canister trapped: {error}"),
    }
}

/// The API type an export runs under, from its name.
pub fn api_type_of_export(name: &str) -> ApiType {
    if name.starts_with("canister_query ") {
        ApiType::ReplicatedQuery
    } else if name.starts_with("canister_composite_query ") {
        ApiType::CompositeQuery
    } else {
        ApiType::Update
    }
}
