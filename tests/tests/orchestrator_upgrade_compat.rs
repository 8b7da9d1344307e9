//! The stable layout stays readable across versions: an orchestrator built from an earlier
//! revision (scripts/build-previous-orchestrator.sh) is filled with data of every kind, then
//! upgraded to the current wasm, and every list/get query must answer exactly as before.
//!
//! A change of a MemoryId, a key encoding or a record's candid shape shows up here as a trap
//! in `post_upgrade` or as a query answering differently.

use candid::Principal;
use integration_tests::{Env, canisters_dir, orch, upgrade_args, user, wasm};
use orchestrator_api::*;

/// What scripts/build-previous-orchestrator.sh writes.
const PREVIOUS_WASM: &str = "orchestrator-previous.wasm.gz";

/// Everything the orchestrator answers about its state, decoded with the current API types.
#[derive(Debug, PartialEq)]
struct Answers {
    admins: Vec<Principal>,
    modules: Vec<ModuleInfo>,
    snapshots: Vec<(String, Vec<SnapshotInfo>)>,
    schedules: Vec<ScheduleInfo>,
    groups: Vec<GroupInfo>,
    group_snapshots: Vec<(String, Vec<GroupSnapshotInfo>)>,
    group_schedules: Vec<GroupScheduleInfo>,
    staged_wasms: Vec<StagedWasmInfo>,
    /// Every page of the history, newest first.
    history: Vec<OperationRecord>,
    /// `get_operation` of each operation in the history.
    operations: Vec<Option<OperationRecord>>,
}

fn answers(env: &mut Env) -> Answers {
    let admins = orch!(env, list_admins());
    let modules = env.modules();
    let snapshots = modules
        .iter()
        .map(|m| (m.name.clone(), env.list_of(&m.name)))
        .collect();
    let schedules = orch!(env, list_schedules(None));
    let groups = orch!(env, list_groups());
    let groups = groups.unwrap();
    let group_snapshots = groups
        .iter()
        .map(|g| {
            let r = orch!(env, list_group_snapshots(&g.name));
            (g.name.clone(), r.unwrap())
        })
        .collect();
    let group_schedules = orch!(env, list_group_schedules());
    let staged_wasms = orch!(env, list_staged_wasms());
    let mut history = Vec::new();
    let mut before = None;
    loop {
        let page = orch!(
            env,
            history(HistoryQuery {
                module: None,
                before,
                limit: Some(3),
            })
        );
        let page = page.unwrap();
        history.extend(page.operations);
        match page.next {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    let operations = history
        .iter()
        .map(|op| {
            let r = orch!(env, get_operation(op.id));
            r.unwrap()
        })
        .collect();
    Answers {
        admins: admins.unwrap(),
        modules,
        snapshots,
        schedules: schedules.unwrap(),
        groups,
        group_snapshots,
        group_schedules: group_schedules.unwrap(),
        staged_wasms: staged_wasms.unwrap(),
        history,
        operations,
    }
}

/// Fills the orchestrator with data of every kind it stores.
fn fill(env: &mut Env) {
    // Admins: one stored besides the init argument's.
    let r = orch!(env, add_admin(user(3)));
    r.unwrap();

    // Modules with settings changed from the defaults.
    env.update_settings(ModuleSettingsUpdate {
        max_snapshots: Some(6),
        snapshot_before_upgrade: Some(true),
        stop_for_snapshot: Some(true),
        health_check: Some(HealthCheckSetting::Method("version".into())),
    });
    env.add_sample_module("b");
    let c = env.add_sample_module("c");
    // Room on c for the import below, beside its group snapshot.
    let r = orch!(
        env,
        update_module_settings(
            "c",
            ModuleSettingsUpdate {
                max_snapshots: Some(2),
                ..Default::default()
            }
        )
    );
    r.unwrap();

    // Snapshots: a labelled one, a pinned one, and one kept for an upgrade.
    env.take(Some("first")).unwrap();
    let pinned = orch!(
        env,
        take_snapshot(
            "app",
            TakeSnapshotArgs {
                label: Some("pinned".into()),
                pin: Some(true),
            }
        )
    );
    assert!(pinned.unwrap().pinned);
    let v2 = env.stage(&wasm("sample-module-v2.wasm.gz"), 100_000);
    let report = env.upgrade(upgrade_args(&v2)).unwrap();
    assert!(report.snapshot_id.is_some(), "the upgrade took a snapshot");
    assert!(
        env.list().iter().any(|s| s.kept_for_upgrade),
        "the upgrade's snapshot is kept"
    );

    // A staged wasm not committed yet (one chunk of two).
    let v1 = wasm("sample-module-v1.wasm.gz");
    let r = orch!(
        env,
        stage_wasm_chunk(StageWasmChunkArgs {
            wasm_hash: sha256(&v1),
            offset: 0,
            chunk: v1[..v1.len() / 2].to_vec(),
        })
    );
    assert!(!r.unwrap().committed);

    // Schedules: an interval with a count, a cron expression with an age.
    let r = orch!(
        env,
        set_schedule(
            "app",
            ScheduleArgs {
                cadence: Cadence::EveryMinutes(60),
                retention: Retention {
                    keep: Some(5),
                    max_age_seconds: None,
                },
            }
        )
    );
    r.unwrap();
    let r = orch!(
        env,
        set_schedule(
            "b",
            ScheduleArgs {
                cadence: Cadence::Cron("30 2 * * *".into()),
                retention: Retention {
                    keep: None,
                    max_age_seconds: Some(7 * 24 * 3600),
                },
            }
        )
    );
    r.unwrap();

    // A group, a group snapshot and a group schedule.
    let r = orch!(
        env,
        add_group("shop", vec!["b".to_string(), "c".to_string()])
    );
    r.unwrap();
    let r = orch!(
        env,
        take_group_snapshot(
            "shop",
            GroupSnapshotArgs {
                label: Some("cut".into()),
                keep_partial: None,
                stop_timeout_seconds: None,
            }
        )
    );
    r.unwrap();
    let r = orch!(
        env,
        set_group_schedule(
            "shop",
            ScheduleArgs {
                cadence: Cadence::EveryMinutes(24 * 60),
                retention: Retention {
                    keep: Some(1),
                    max_age_seconds: None,
                },
            }
        )
    );
    r.unwrap();

    // A live import lease: a lock that survives the upgrade.
    let r = orch!(
        env,
        begin_import(
            "c",
            BeginImportArgs {
                replace: None,
                restore: false,
                resume: None,
            }
        )
    );
    assert_eq!(r.unwrap().canister_id, c);
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).to_vec()
}

#[test]
fn an_orchestrator_holding_the_previous_versions_data_answers_the_same_after_an_upgrade() {
    let previous = canisters_dir().join(PREVIOUS_WASM);
    assert!(
        previous.exists(),
        "{} is missing: build it with scripts/build-previous-orchestrator.sh \
         (scripts/test.sh does)",
        previous.display()
    );
    let mut env = Env::with_orchestrator(PREVIOUS_WASM);
    fill(&mut env);
    let before = answers(&mut env);
    assert!(
        before.admins.contains(&user(3)),
        "the admin added after init"
    );
    assert_eq!(before.modules.len(), 3);
    assert_eq!(before.modules[1].busy_with, None, "b is idle");
    assert_eq!(before.modules[2].busy_with, Some(OperationKind::Import));
    assert!(before.snapshots[0].1.iter().any(|s| s.pinned));
    assert_eq!(before.schedules.len(), 2);
    assert_eq!(before.group_snapshots[0].1.len(), 1);
    assert_eq!(before.group_schedules.len(), 1);
    assert_eq!(before.staged_wasms.len(), 2);
    assert!(before.history.len() > 3, "more than one page of history");

    env.upgrade_orchestrator();
    let after = answers(&mut env);
    assert_eq!(after, before);
    // The current wasm also reads what it finds: a new snapshot joins the old ones.
    env.take(Some("after")).unwrap();
    assert_eq!(env.list().len(), before.snapshots[0].1.len() + 1);
}
