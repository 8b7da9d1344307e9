//! The orchestrator's flows again, under localnet's seeded random scheduler: responses and
//! independent requests run in an order chosen by the seed, as on a busy subnet. The same
//! invariants must hold for every seed.

use integration_tests::{Env, upgrade_args, wasm};
use localnet::SchedulerPolicy;
use orchestrator_api::client::calls;
use orchestrator_api::*;

const SEEDS: [u64; 4] = [1, 7, 42, 2026];

fn env_with_seed(seed: u64) -> Env {
    let mut env = Env::new();
    env.net
        .localnet()
        .set_scheduler_policy(SchedulerPolicy::Random { seed });
    env
}

#[test]
fn take_and_restore_bring_back_the_data_under_every_seed() {
    integration_tests::localnet_only!("runs under localnet's seeded random scheduler");
    for seed in SEEDS {
        let mut env = env_with_seed(seed);
        env.set("k", b"saved");
        env.take(None).unwrap();
        env.set("k", b"lost");
        env.restore(None).unwrap();
        assert_eq!(env.get("k").as_deref(), Some(&b"saved"[..]), "seed {seed}");
        assert!(env.module_is_running(), "seed {seed}");
    }
}

#[test]
fn a_rolled_back_upgrade_restores_the_module_under_every_seed() {
    integration_tests::localnet_only!("runs under localnet's seeded random scheduler");
    for seed in SEEDS {
        let mut env = env_with_seed(seed);
        env.set("k", b"precious");
        let hash = env.stage(
            &wasm("sample-module-broken-post-upgrade.wasm.gz"),
            1_000_000,
        );
        let report = env.upgrade(upgrade_args(&hash)).unwrap();
        assert!(
            matches!(report.outcome, UpgradeOutcome::RolledBack { .. }),
            "seed {seed}: {report:?}"
        );
        assert_eq!(env.version(), "v1", "seed {seed}");
        assert_eq!(
            env.get("k").as_deref(),
            Some(&b"precious"[..]),
            "seed {seed}"
        );
        assert!(env.module_is_running(), "seed {seed}");
    }
}

#[test]
fn concurrent_operations_on_one_module_are_serialised_under_every_seed() {
    integration_tests::localnet_only!("runs under localnet's seeded random scheduler");
    for seed in SEEDS {
        let mut env = env_with_seed(seed);
        let hash = env.stage(&wasm("sample-module-v2.wasm.gz"), 1_000_000);
        let take_call = calls::take_snapshot("app", TakeSnapshotArgs::default()).unwrap();
        let upgrade_call = calls::upgrade_module("app", upgrade_args(&hash)).unwrap();
        let take = env.submit(&take_call);
        let upgrade = env.submit(&upgrade_call);
        let take = env.answer_of(take, &take_call);
        let upgrade = env.answer_of(upgrade, &upgrade_call);
        // Exactly one of them ran; the other was refused as busy with the first.
        match (&take, &upgrade) {
            (Ok(_), Err(UpgradeError::Busy { operation, .. })) => {
                assert_eq!(*operation, OperationKind::TakeSnapshot, "seed {seed}")
            }
            (Err(SnapshotError::Busy { operation, .. }), Ok(report)) => {
                assert_eq!(*operation, OperationKind::Upgrade, "seed {seed}");
                assert_eq!(report.outcome, UpgradeOutcome::Upgraded, "seed {seed}");
            }
            other => panic!("seed {seed}: {other:?}"),
        }
        assert!(env.module_is_running(), "seed {seed}");
        assert_eq!(env.modules()[0].busy_with, None, "seed {seed}");
    }
}
