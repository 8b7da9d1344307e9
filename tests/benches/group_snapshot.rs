//! A group snapshot of 3 and of 10 sample modules, and a group upgrade of 3: the orchestrator's
//! own instructions
//! (localnet's per-canister counter; the management canister's copying is the IC's) and the
//! window from the first stop to the last start, in rounds. The subnet is driven one round at
//! a time with the clock moved 1 s per round (a replica makes about one block per second), so
//! the recorded window in seconds is the number of rounds it spanned.
//!
//! Run: `scripts/build-canisters.sh && cargo bench -p integration-tests --bench group_snapshot`

use integration_tests::{Env, orch, wasm};
use orchestrator_api::client::calls;
use orchestrator_api::{GroupSnapshotArgs, GroupUpgradeArgs, GroupUpgradeMember};

const SECOND: u64 = 1_000_000_000;

fn bench(members: usize) {
    let mut env = Env::new();
    let mut names = vec!["app".to_string()];
    for i in 1..members {
        let name = format!("m{i}");
        env.add_sample_module(&name);
        names.push(name);
    }
    let r = orch!(env, add_group("g", names));
    r.unwrap();
    for round in 0..2 {
        let orchestrator = env.orchestrator;
        let before = env.net.localnet().instructions_executed(orchestrator);
        let take = calls::take_group_snapshot("g", GroupSnapshotArgs::default()).unwrap();
        let id = env.submit(&take);
        let mut rounds = 0;
        let reply = loop {
            if let Some(reply) = env.net.localnet().ingress_status(id) {
                break reply.unwrap();
            }
            env.net.tick();
            env.net.advance_time_nanos(SECOND);
            rounds += 1;
            assert!(rounds < 1000, "the group snapshot does not finish");
        };
        let spent = env.net.localnet().instructions_executed(orchestrator) - before;
        let taken = take.decode(&reply).unwrap().unwrap();
        let window = (taken.window_end - taken.window_start) / SECOND;
        println!(
            "{members:>2} modules, run {}: {spent:>12} instructions, window {window} rounds, call {rounds} rounds",
            round + 1
        );
    }
}

/// A group upgrade of `members` sample modules, every one to v2 (staged before measuring).
fn bench_upgrade(members: usize) {
    let mut env = Env::new();
    let mut names = vec!["app".to_string()];
    for i in 1..members {
        let name = format!("m{i}");
        env.add_sample_module(&name);
        names.push(name);
    }
    let r = orch!(env, add_group("g", names.clone()));
    r.unwrap();
    let v2 = env.stage(&wasm("sample-module-v2.wasm.gz"), 1_000_000);
    let args = GroupUpgradeArgs {
        members: names
            .iter()
            .map(|m| GroupUpgradeMember {
                module: m.clone(),
                wasm_hash: v2.clone(),
                arg: None,
            })
            .collect(),
        stop_timeout_seconds: None,
    };
    let orchestrator = env.orchestrator;
    let before = env.net.localnet().instructions_executed(orchestrator);
    let upgrade = calls::upgrade_group("g", args).unwrap();
    let id = env.submit(&upgrade);
    let mut rounds = 0;
    let reply = loop {
        if let Some(reply) = env.net.localnet().ingress_status(id) {
            break reply.unwrap();
        }
        env.net.tick();
        env.net.advance_time_nanos(SECOND);
        rounds += 1;
        assert!(rounds < 1000, "the group upgrade does not finish");
    };
    let spent = env.net.localnet().instructions_executed(orchestrator) - before;
    let report = upgrade.decode(&reply).unwrap().unwrap();
    assert!(report.upgraded, "{report:?}");
    println!("{members:>2} modules upgraded: {spent:>12} instructions, call {rounds} rounds");
}

fn main() {
    println!("take_group_snapshot: orchestrator instructions and stop→start window\n");
    bench(3);
    bench(10);
    println!("\nupgrade_group: orchestrator instructions\n");
    bench_upgrade(3);
}
