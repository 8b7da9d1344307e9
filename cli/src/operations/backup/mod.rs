//! Off-chain backups: a snapshot's files, in the layout `export` writes, stored as one snapshot
//! of a restic repository (encrypted, deduplicated, compressed) through rustic_core, so the
//! `restic` CLI can list and restore them without keepsake.
//!
//! `repo` opens and creates repositories (local folders; S3 through `s3`, on OpenDAL) and holds
//! the password; `lock` keeps two keepsakes from working on one repository in ways that hurt
//! each other; `source` streams a snapshot from the IC into rustic_core; `run` makes one backup;
//! `restore` uploads one back into a canister; `check` verifies the repository; `forget` decides
//! retention; `progress` draws rustic_core's bars; `tags` is what a backup says about itself;
//! `group` makes a group backup (a group snapshot as one backup) and `group_restore` restores
//! one as a unit.

pub mod check;
pub mod forget;
pub mod group;
pub mod group_restore;
pub mod lock;
pub mod progress;
pub mod repo;
pub mod restore;
pub mod run;
pub mod s3;
pub mod source;
pub mod tags;
