//! Instructions the orchestrator's own wasm spends per operation — take, restore, delete,
//! list, stage + commit, upgrade (direct and chunked) — measured by localnet's per-canister
//! instruction counter around each call. The management canister's work (copying memories,
//! installing code) is not included: it is the IC's, and billed differently.
//!
//! Run: `scripts/build-canisters.sh && cargo bench -p integration-tests --bench orchestrator_instructions`

use integration_tests::{Env, orch, upgrade_args, wasm, with_padding_section};
use orchestrator_api::{Cadence, FleetSnapshotArgs, ModuleSettingsUpdate, Retention, ScheduleArgs};

fn measure(env: &mut Env, what: &str, f: impl FnOnce(&mut Env)) -> u64 {
    let orchestrator = env.orchestrator;
    let before = env.net.localnet().instructions_executed(orchestrator);
    f(env);
    let spent = env.net.localnet().instructions_executed(orchestrator) - before;
    println!("{what:<52} {spent:>14} instructions");
    spent
}

fn main() {
    let mut env = Env::new();
    env.update_settings(ModuleSettingsUpdate {
        max_snapshots: Some(2),
        ..Default::default()
    });
    println!("orchestrator instructions per operation (orchestrator wasm only, localnet fuel)\n");
    measure(&mut env, "take_snapshot (stop, take, start)", |env| {
        env.take(Some("bench")).unwrap();
    });
    measure(
        &mut env,
        "2 × take_snapshot, the second replacing the oldest",
        |env| {
            env.take(None).unwrap();
            env.take(None).unwrap();
        },
    );
    measure(&mut env, "list_snapshots (2 snapshots)", |env| {
        env.list();
    });
    measure(&mut env, "restore_snapshot (newest)", |env| {
        env.restore(None).unwrap();
    });
    let ids: Vec<_> = env.list().into_iter().map(|s| s.id).collect();
    measure(&mut env, "delete_snapshot", |env| {
        env.delete(Some(&ids[0])).unwrap();
    });
    let v2 = wasm("sample-module-v2.wasm.gz");
    let mut hash = Vec::new();
    let staged = measure(&mut env, "stage + commit a 150 KB wasm (2 chunks)", |env| {
        hash = env.stage(&v2, 100_000);
    });
    let upgrade = measure(
        &mut env,
        "upgrade_module (snapshot, install, start)",
        |env| {
            env.upgrade(upgrade_args(&hash)).unwrap();
        },
    );
    // A 3 MB wasm: staged in two messages, installed through the module's chunk store.
    let big = with_padding_section(wasm("sample-module-v1.wasm"), 3_000_000);
    let mut big_hash = Vec::new();
    let big_staged = measure(&mut env, "stage + commit a 3.5 MB wasm (2 chunks)", |env| {
        big_hash = env.stage(&big, 1_900_000);
    });
    let chunked = measure(&mut env, "upgrade_module through the chunk store", |env| {
        env.upgrade(upgrade_args(&big_hash)).unwrap();
    });
    // Schedules: a scheduled run on the timer (take + one retention deletion), the
    // canister_status fan-out of list_modules, and a fleet snapshot.
    measure(&mut env, "set_schedule (every 15 min, keep 1)", |env| {
        let args = ScheduleArgs {
            cadence: Cadence::EveryMinutes(15),
            retention: Retention {
                keep: Some(1),
                max_age_seconds: None,
            },
        };
        let r = orch!(env, set_schedule("app", args));
        r.unwrap();
    });
    measure(
        &mut env,
        "scheduled run (take replacing the oldest, retention check)",
        |env| {
            env.net.advance_time_nanos(15 * 60 * 1_000_000_000);
            env.net.run_until_idle();
        },
    );
    measure(
        &mut env,
        "list_modules (1 module, canister_status)",
        |env| {
            let r = orch!(env, list_modules());
            r.unwrap();
        },
    );
    measure(&mut env, "take_all_snapshots (1 module)", |env| {
        let r = orch!(env, take_all_snapshots(FleetSnapshotArgs::default()));
        r.unwrap();
    });
    println!(
        "\nper staged byte: {:.1} (small) / {:.1} (large) instructions; chunked upgrade / direct: {:.2}x",
        staged as f64 / v2.len() as f64,
        big_staged as f64 / big.len() as f64,
        chunked as f64 / upgrade as f64
    );
}
