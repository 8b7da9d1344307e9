//! Checks an export folder against its `metadata.json` and, when present, its `keepsake.json`,
//! and names every problem precisely (`problem`): missing, truncated, oversized, extra,
//! corrupted, unlisted files, and a manifest that contradicts the metadata (tampering).
//!
//! Without a manifest (a dfx or icp-cli download) it checks what can be checked: region sizes
//! against the metadata and each chunk against the hash it is named by; and it says that the
//! contents could not be checked (`no_manifest`), so such a folder never verifies as OK.
//!
//! Only regular files are read: a symbolic link, FIFO, socket or device in the folder is a
//! problem (`not_regular_file`), never opened or hashed (`files`).
//!
//! [`verify_dir`] is a pipeline of steps, each in its own module: `walk` (list and hash) →
//! `read` (manifest, metadata, what nothing vouches for) → `against_metadata` →
//! `against_manifest` → the report (`findings`).

mod against_manifest;
mod against_metadata;
mod findings;
mod problem;
mod read;
#[cfg(test)]
pub mod tests;
mod walk;

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::layout;
use super::manifest::FileEntry;
use super::store::Metadata;
use findings::Findings;
pub use problem::Problem;

/// What `verify` found.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// The folder.
    pub dir: PathBuf,
    /// True when there is no problem.
    pub ok: bool,
    /// Whether keepsake.json was there (and readable).
    pub manifest: bool,
    /// Source canister, from the manifest.
    pub canister_id: Option<String>,
    /// Snapshot id (hex), from the manifest.
    pub snapshot_id: Option<String>,
    /// Every file found (but keepsake.json and ignored files), with its size and sha256.
    pub files: Vec<FileEntry>,
    /// Everything wrong.
    pub problems: Vec<Problem>,
    /// What could not be checked, and why.
    pub notes: Vec<String>,
    /// The metadata, when readable (used by import).
    #[serde(skip)]
    pub metadata: Option<Metadata>,
}

impl VerifyReport {
    /// Nothing is wrong but the absence of keepsake.json: what `import --no-manifest` accepts.
    pub fn ok_but_for_the_manifest(&self) -> bool {
        !self.problems.is_empty()
            && self
                .problems
                .iter()
                .all(|p| matches!(p, Problem::NoManifest { .. }))
    }
}

/// Verifies the export folder `dir`. Never fails: every problem ends up in the report.
///
/// The steps, each adding what it finds to `Findings`:
/// 1. hash every regular file (metadata.json read once: the bytes hashed are the bytes parsed);
/// 2. read the manifest, if there is one;
/// 3. parse the metadata — without it nothing else can be checked;
/// 4. without a manifest, say which contents nothing vouches for;
/// 5. compare the files with what the metadata requires;
/// 6. compare the files with the manifest's sizes and hashes.
pub fn verify_dir(dir: &Path) -> VerifyReport {
    let mut findings = Findings::default();
    let Some(hashed) = walk::hash_files(dir, &mut findings) else {
        return findings.report(dir, vec![], None, None);
    };
    let manifest = read::read_manifest(dir, &mut findings);
    let Some(meta) = read::parse_metadata(hashed.metadata_bytes.as_deref(), &mut findings) else {
        return findings.report(dir, hashed.entries(), None, manifest.as_ref());
    };
    if manifest.is_none() && !findings.manifest_invalid() {
        read::no_manifest(&meta, &mut findings);
    }
    let expected = layout::expected_files(&meta);
    against_metadata::check(&mut findings, &expected, &hashed.files);
    if let Some(m) = &manifest {
        against_manifest::check(&mut findings, m, &expected, &hashed.files);
    }
    findings.report(dir, hashed.entries(), Some(meta), manifest.as_ref())
}
