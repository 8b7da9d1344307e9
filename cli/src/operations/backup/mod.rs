//! Off-chain backups: a snapshot's files, in the layout `export` writes, stored as one snapshot
//! of a restic repository (encrypted, deduplicated, compressed) through rustic_core, so the
//! `restic` CLI can list and restore them without keepsake.
//!
//! `repo` opens and creates repositories (local folders, S3 through OpenDAL) and holds the
//! password; `lock` keeps two keepsakes from working on one repository in ways that hurt each
//! other; `source` streams a snapshot from the IC into rustic_core; `run` makes one backup;
//! `restore` uploads one back into a canister; `forget` decides retention; `tags` is what a
//! backup says about itself.

pub mod forget;
pub mod lock;
pub mod repo;
pub mod restore;
pub mod run;
pub mod source;
pub mod tags;
