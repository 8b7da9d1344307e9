//! Step 5 of `verify`: the files against what the metadata requires. Each file it names is
//! there, of its size, and each chunk matches the hash it is named by; nothing else is there.

use std::collections::{BTreeMap, BTreeSet};

use super::Problem;
use super::findings::Findings;
use super::problem::size_problem;
use crate::operations::layout::{self, Content, ExpectedFile};
use crate::operations::manifest::FileEntry;

/// Flags every file the metadata requires that is missing or wrong, then every extra file.
pub fn check(
    findings: &mut Findings,
    expected: &[ExpectedFile],
    files: &BTreeMap<String, FileEntry>,
) {
    for e in expected {
        match files.get(&e.path) {
            Some(actual) => check_file(findings, e, actual),
            None if e.optional => {}
            None => findings.flag(Problem::Missing {
                path: e.path.clone(),
            }),
        }
    }
    flag_extra_files(findings, expected, files);
}

/// One file the metadata names: its size, and for a chunk the hash it is named by.
fn check_file(findings: &mut Findings, e: &ExpectedFile, actual: &FileEntry) {
    if let Some(size) = e.size
        && let Some(p) = size_problem(&e.path, size, actual.size, layout::METADATA)
    {
        findings.flag(p);
    }
    if let Content::Chunk(hash) = &e.content
        && actual.sha256 != hex::encode(hash)
    {
        findings.flag(Problem::Corrupted {
            path: e.path.clone(),
            expected_sha256: hex::encode(hash),
            actual_sha256: actual.sha256.clone(),
            according_to: "chunk hash".into(),
        });
    }
}

/// Files that are no part of the snapshot.
fn flag_extra_files(
    findings: &mut Findings,
    expected: &[ExpectedFile],
    files: &BTreeMap<String, FileEntry>,
) {
    let known = known_paths(expected);
    for path in files.keys() {
        if !known.contains(path.as_str()) {
            findings.flag(Problem::Extra { path: path.clone() });
        }
    }
}

/// Every path the snapshot may hold: the metadata's files and metadata.json itself.
pub fn known_paths(expected: &[ExpectedFile]) -> BTreeSet<&str> {
    expected
        .iter()
        .map(|e| e.path.as_str())
        .chain([layout::METADATA])
        .collect()
}
