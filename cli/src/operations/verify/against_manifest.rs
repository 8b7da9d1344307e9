//! Step 6 of `verify`: the files against keepsake.json. The manifest must agree with the
//! metadata (else one of them was edited), every file it lists must be there with its size and
//! sha256, and every snapshot file must be listed.

use std::collections::BTreeMap;

use super::Problem;
use super::against_metadata::known_paths;
use super::findings::Findings;
use super::problem::size_problem;
use crate::operations::layout::{self, ExpectedFile};
use crate::operations::manifest::{FileEntry, Manifest};

/// Flags every disagreement between the manifest, the metadata and the files.
pub fn check(
    findings: &mut Findings,
    m: &Manifest,
    expected: &[ExpectedFile],
    files: &BTreeMap<String, FileEntry>,
) {
    let listed: BTreeMap<&str, &FileEntry> = m.files.iter().map(|f| (f.path.as_str(), f)).collect();
    flag_sizes_contradicting_the_metadata(findings, &listed, expected);
    for entry in &m.files {
        match files.get(&entry.path) {
            Some(actual) => check_listed_file(findings, entry, actual),
            None => findings.flag(Problem::Missing {
                path: entry.path.clone(),
            }),
        }
    }
    flag_unlisted_files(findings, &listed, expected, files);
}

/// The manifest and the metadata disagree on a file's size: one of them was tampered with.
fn flag_sizes_contradicting_the_metadata(
    findings: &mut Findings,
    listed: &BTreeMap<&str, &FileEntry>,
    expected: &[ExpectedFile],
) {
    for e in expected {
        if let (Some(size), Some(entry)) = (e.size, listed.get(e.path.as_str()))
            && entry.size != size
        {
            findings.flag(Problem::ManifestDisagrees {
                path: e.path.clone(),
                metadata_size: size,
                manifest_size: entry.size,
            });
        }
    }
}

/// One listed file: its size, then (if the size is right) its sha256.
fn check_listed_file(findings: &mut Findings, entry: &FileEntry, actual: &FileEntry) {
    if let Some(p) = size_problem(&entry.path, entry.size, actual.size, layout::MANIFEST) {
        findings.flag(p);
    } else if actual.sha256 != entry.sha256 {
        findings.flag(Problem::Corrupted {
            path: entry.path.clone(),
            expected_sha256: entry.sha256.clone(),
            actual_sha256: actual.sha256.clone(),
            according_to: layout::MANIFEST.into(),
        });
    }
}

/// Snapshot files the manifest does not list (it was edited or is stale).
fn flag_unlisted_files(
    findings: &mut Findings,
    listed: &BTreeMap<&str, &FileEntry>,
    expected: &[ExpectedFile],
    files: &BTreeMap<String, FileEntry>,
) {
    let known = known_paths(expected);
    for path in files.keys() {
        if known.contains(path.as_str()) && !listed.contains_key(path.as_str()) {
            findings.flag(Problem::Unlisted { path: path.clone() });
        }
    }
}
