use candid::Principal;
use orchestrator_api::{
    AddModuleArgs, AdminError, HealthCheckSetting, ModuleError, ModuleKind, ModuleSettings,
    ModuleSettingsUpdate,
};

use super::{admin, run, setup};
use crate::fake::FakeManagement;
use crate::lock::ModuleLock;
use crate::{auth, registry};

fn add(mgmt: &FakeManagement, canister: Principal, name: &str) -> Result<(), ModuleError> {
    run(registry::add(
        mgmt,
        admin(),
        AddModuleArgs {
            canister_id: canister,
            name: name.into(),
            kind: ModuleKind::Other,
        },
    ))
    .map(|_| ())
}

#[test]
fn admins_are_the_stored_set_plus_controllers_and_never_anonymous() {
    let stranger = Principal::from_slice(&[9; 29]);
    auth::init(&[admin(), Principal::anonymous()]);
    assert!(auth::is_admin(admin(), false));
    assert!(!auth::is_admin(stranger, false));
    assert!(auth::is_admin(stranger, true), "controllers are admins");
    assert!(!auth::is_admin(Principal::anonymous(), false));
    assert!(!auth::is_admin(Principal::anonymous(), true));
    assert_eq!(auth::admins(), vec![admin()], "anonymous is never stored");
}

#[test]
fn the_last_admin_cannot_be_removed_and_anonymous_cannot_be_added() {
    let other = Principal::from_slice(&[8; 29]);
    auth::init(&[admin()]);
    assert_eq!(
        auth::remove_admin(admin()),
        Err(AdminError::LastAdmin { admin: admin() })
    );
    auth::add_admin(other).unwrap();
    auth::remove_admin(admin()).unwrap();
    assert_eq!(auth::admins(), vec![other]);
    assert_eq!(
        auth::add_admin(Principal::anonymous()),
        Err(AdminError::AnonymousAdmin)
    );
}

#[test]
fn a_module_gets_default_settings_one_snapshot_snapshot_before_upgrade_and_stop() {
    let (_, canister) = setup();
    let modules = registry::list();
    assert_eq!(modules.len(), 1);
    assert_eq!(modules[0].name, "app");
    assert_eq!(modules[0].canister_id, canister);
    assert_eq!(
        modules[0].settings,
        ModuleSettings {
            max_snapshots: 1,
            snapshot_before_upgrade: true,
            stop_for_snapshot: true,
            health_check: None,
        }
    );
}

#[test]
fn module_names_are_validated_and_unique() {
    let mgmt = FakeManagement::new();
    let a = mgmt.add_canister(1);
    let b = mgmt.add_canister(2);
    assert!(matches!(
        add(&mgmt, a, "with space"),
        Err(ModuleError::InvalidName { .. })
    ));
    assert!(matches!(
        add(&mgmt, a, ""),
        Err(ModuleError::InvalidName { .. })
    ));
    add(&mgmt, a, "app").unwrap();
    assert_eq!(
        add(&mgmt, b, "app"),
        Err(ModuleError::NameTaken { name: "app".into() })
    );
    assert_eq!(
        add(&mgmt, a, "other"),
        Err(ModuleError::AlreadyRegistered {
            canister_id: a,
            name: "app".into()
        })
    );
    assert!(
        mgmt.calls().len() == 1,
        "invalid adds make no call: {:?}",
        mgmt.calls()
    );
}

#[test]
fn adding_a_canister_the_orchestrator_does_not_control_names_the_principal_to_add() {
    let mgmt = FakeManagement::new();
    let canister = mgmt.add_canister(1);
    mgmt.canisters
        .borrow_mut()
        .get_mut(&canister)
        .unwrap()
        .controllers = vec![admin()];
    let error = add(&mgmt, canister, "app").unwrap_err();
    let ModuleError::NotController { orchestrator, .. } = &error else {
        panic!("expected NotController, got {error:?}");
    };
    assert_eq!(*orchestrator, mgmt.self_id);
    let message = error.to_string();
    assert!(message.contains(&mgmt.self_id.to_text()), "{message}");
    assert!(message.contains("--add-controller"), "{message}");
    assert!(registry::list().is_empty());
}

#[test]
fn adding_a_canister_that_does_not_exist_reports_the_management_error() {
    let mgmt = FakeManagement::new();
    let missing = Principal::from_slice(&[42; 10]);
    assert!(matches!(
        add(&mgmt, missing, "app"),
        Err(ModuleError::CallFailed(f)) if f.reject_code == 3
    ));
}

#[test]
fn settings_are_validated_before_any_is_applied() {
    let (_, _) = setup();
    for bad in [0, 11] {
        let error = registry::update_settings(
            "app",
            ModuleSettingsUpdate {
                max_snapshots: Some(bad),
                stop_for_snapshot: Some(false),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(
            matches!(error, ModuleError::InvalidSettings { .. }),
            "{error:?}"
        );
    }
    assert!(registry::get("app").unwrap().settings.stop_for_snapshot);
    assert!(matches!(
        registry::update_settings(
            "app",
            ModuleSettingsUpdate {
                health_check: Some(HealthCheckSetting::Method("has space".into())),
                ..Default::default()
            }
        ),
        Err(ModuleError::InvalidSettings { .. })
    ));
    let info = registry::update_settings(
        "app",
        ModuleSettingsUpdate {
            max_snapshots: Some(10),
            snapshot_before_upgrade: Some(false),
            health_check: Some(HealthCheckSetting::Method("health".into())),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(info.settings.max_snapshots, 10);
    assert!(!info.settings.snapshot_before_upgrade);
    assert_eq!(info.settings.health_check.as_deref(), Some("health"));
    let info = registry::update_settings(
        "app",
        ModuleSettingsUpdate {
            health_check: Some(HealthCheckSetting::Disabled),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(info.settings.health_check, None);
    assert_eq!(
        info.settings.max_snapshots, 10,
        "untouched fields keep their value"
    );
    assert!(matches!(
        registry::update_settings("nope", Default::default()),
        Err(ModuleError::ModuleNotFound { .. })
    ));
}

#[test]
fn a_busy_module_cannot_be_removed_and_a_removed_one_is_forgotten() {
    let (_, _) = setup();
    let lock = ModuleLock::acquire("app", orchestrator_api::OperationKind::Upgrade, 0).unwrap();
    assert_eq!(
        registry::remove("app"),
        Err(ModuleError::Busy {
            module: "app".into(),
            operation: orchestrator_api::OperationKind::Upgrade
        })
    );
    assert_eq!(
        registry::list()[0].busy_with,
        Some(orchestrator_api::OperationKind::Upgrade)
    );
    drop(lock);
    registry::remove("app").unwrap();
    assert!(registry::list().is_empty());
    assert!(matches!(
        registry::remove("app"),
        Err(ModuleError::ModuleNotFound { .. })
    ));
}

#[test]
fn snapshot_viewers_are_set_on_the_module_deduplicated_and_bounded_by_the_ics_ten() {
    let (mgmt, canister) = setup();
    let viewers: Vec<Principal> = (1..=3u8).map(|i| Principal::from_slice(&[i; 29])).collect();
    let mut twice = viewers.clone();
    twice.extend(viewers.clone());
    let info = run(registry::set_snapshot_viewers(&mgmt, "app", twice)).unwrap();
    assert_eq!(info.name, "app");
    assert_eq!(mgmt.canister(canister).snapshot_viewers, viewers);
    // None: back to controllers only.
    run(registry::set_snapshot_viewers(&mgmt, "app", vec![])).unwrap();
    assert!(mgmt.canister(canister).snapshot_viewers.is_empty());

    let eleven: Vec<Principal> = (1..=11u8)
        .map(|i| Principal::from_slice(&[i; 29]))
        .collect();
    let refused = [
        run(registry::set_snapshot_viewers(&mgmt, "app", eleven)),
        run(registry::set_snapshot_viewers(
            &mgmt,
            "app",
            vec![Principal::anonymous()],
        )),
    ];
    for r in refused {
        assert!(
            matches!(r, Err(ModuleError::InvalidSettings { .. })),
            "{r:?}"
        );
    }
    assert!(matches!(
        run(registry::set_snapshot_viewers(&mgmt, "nope", vec![])),
        Err(ModuleError::ModuleNotFound { .. })
    ));
    assert!(
        mgmt.canister(canister).snapshot_viewers.is_empty(),
        "refusals change nothing"
    );
}

#[test]
fn a_failed_update_settings_call_is_reported_as_call_failed() {
    let (mgmt, _) = setup();
    mgmt.fail_next("update_settings");
    let r = run(registry::set_snapshot_viewers(
        &mgmt,
        "app",
        vec![Principal::from_slice(&[1; 29])],
    ));
    assert!(matches!(r, Err(ModuleError::CallFailed(_))), "{r:?}");
}
