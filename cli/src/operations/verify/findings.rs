//! The problems `verify` found so far, and the report they end up in. Each file is reported
//! once, by the first comparison that found it wrong.

use std::path::Path;

use super::{Problem, VerifyReport};
use crate::operations::manifest::{FileEntry, Manifest};
use crate::operations::store::Metadata;

/// The problems found so far.
#[derive(Default)]
pub struct Findings {
    problems: Vec<Problem>,
}

impl Findings {
    /// Records a problem (one about the folder or its reading, never a duplicate).
    pub fn push(&mut self, p: Problem) {
        self.problems.push(p);
    }

    /// Records a problem unless one about the same file is already there (the comparisons with
    /// the metadata and the manifest may both find a file wrong).
    pub fn flag(&mut self, p: Problem) {
        if let Some(path) = p.path()
            && self.has_problem_with(path)
        {
            return;
        }
        self.problems.push(p);
    }

    /// Is a problem about `path` already recorded?
    pub fn has_problem_with(&self, path: &str) -> bool {
        self.problems.iter().any(|p| p.path() == Some(path))
    }

    /// Was keepsake.json there but unreadable?
    pub fn manifest_invalid(&self) -> bool {
        self.problems
            .iter()
            .any(|p| matches!(p, Problem::InvalidManifest { .. }))
    }

    /// The report: OK only when nothing was found.
    pub fn report(
        self,
        dir: &Path,
        files: Vec<FileEntry>,
        metadata: Option<Metadata>,
        manifest: Option<&Manifest>,
    ) -> VerifyReport {
        VerifyReport {
            dir: dir.to_path_buf(),
            ok: self.problems.is_empty(),
            manifest: manifest.is_some(),
            canister_id: manifest.map(|m| m.canister_id.clone()),
            snapshot_id: manifest.map(|m| m.snapshot_id.clone()),
            files,
            problems: self.problems,
            // Kept in the --json shape; nothing is only a note any more (a missing manifest
            // is a problem).
            notes: Vec::new(),
            metadata,
        }
    }
}
