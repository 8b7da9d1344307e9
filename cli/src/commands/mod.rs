//! The commands: each leaf parses its flags (`XxxArgs`, whose doc comments are the help text),
//! calls into `operations`, and presents the result as text or `--json`.

pub mod admin;
pub mod backup;
pub mod console;
pub mod export;
pub mod group;
pub mod history;
pub mod import;
pub mod module;
pub mod schedule;
pub mod snapshot;
pub mod upgrade;
pub mod verify;
pub mod views;

use anyhow::Result;
use clap::Subcommand;

use crate::context::Ctx;

/// Every command.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Register, list, configure and remove the canisters the orchestrator manages.
    #[command(subcommand)]
    Module(module::ModuleCommand),
    /// Groups (applications): modules snapshotted and restored together as one consistent cut.
    #[command(subcommand)]
    Group(group::GroupCommand),
    /// Take, list, restore and delete a module's snapshots through the orchestrator.
    #[command(subcommand)]
    Snapshot(snapshot::SnapshotCommand),
    /// Scheduled snapshots of a module (an interval or a UTC cron expression) and their retention.
    #[command(subcommand)]
    Schedule(schedule::ScheduleCommand),
    /// Who may drive the orchestrator: add, list and remove admins.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Upgrade a module: stage the wasm, snapshot, install, health-check, roll back on failure.
    Upgrade(upgrade::UpgradeArgs),
    /// Show the orchestrator's audit history, newest first.
    History(history::HistoryArgs),
    /// Download a snapshot to a folder (the layout dfx and icp-cli use, plus keepsake.json).
    Export(export::ExportArgs),
    /// Check an export folder: sizes, hashes, missing, extra, corrupted or tampered files.
    Verify(verify::VerifyArgs),
    /// Upload an export folder as a new snapshot of a canister, and optionally restore it.
    Import(import::ImportArgs),
    /// Off-chain backups into an encrypted restic repository (a local folder or S3).
    #[command(subcommand)]
    Backup(backup::BackupCommand),
    /// A web console on 127.0.0.1: modules, snapshots, schedules, upgrades, history, fleet.
    Console(console::ConsoleArgs),
}

/// Runs `command`.
pub async fn exec(ctx: &Ctx, command: Command) -> Result<()> {
    match command {
        Command::Module(c) => module::exec(ctx, c).await,
        Command::Group(c) => group::exec(ctx, c).await,
        Command::Snapshot(c) => snapshot::exec(ctx, c).await,
        Command::Schedule(c) => schedule::exec(ctx, c).await,
        Command::Admin(c) => admin::exec(ctx, c).await,
        Command::Upgrade(a) => upgrade::exec(ctx, &a).await,
        Command::History(a) => history::exec(ctx, &a).await,
        Command::Export(a) => export::exec(ctx, &a).await,
        Command::Verify(a) => verify::exec(ctx, &a).await,
        Command::Import(a) => import::exec(ctx, &a).await,
        Command::Backup(c) => backup::exec(ctx, c).await,
        Command::Console(a) => console::exec(ctx, &a).await,
    }
}
