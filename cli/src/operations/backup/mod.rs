//! Off-chain backups: a snapshot's files, in the layout `export` writes, stored as one snapshot
//! of a restic repository (encrypted, deduplicated, compressed) through rustic_core, so the
//! `restic` CLI can list and restore them without keepsake.
//!
//! `repo` opens and creates repositories and holds the password; `schemes` says what a `--repo`
//! names (a local folder, or S3, WebDAV, SFTP, Azure Blob) and `store` reaches the remote ones
//! through OpenDAL; `lock` keeps two keepsakes from working on one repository in ways that hurt
//! each other; `source` streams a snapshot from the IC into rustic_core; `run` makes one backup;
//! `restore` uploads one back into a canister; `check` verifies the repository; `forget` decides
//! retention; `progress` draws rustic_core's bars; `tags` is what a backup says about itself;
//! `list` reads the repository's backups and `sync` plans and makes the backups `backup sync`
//! makes, without printing (the console uses both); `group` makes a group backup (a group
//! snapshot as one backup) and `group_restore` restores one as a unit.

pub mod check;
pub mod forget;
pub mod group;
pub mod group_restore;
pub mod list;
pub mod lock;
pub mod progress;
pub mod repo;
pub mod restore;
pub mod run;
pub mod schemes;
pub mod source;
pub mod store;
pub mod sync;
pub mod tags;
