//! Checks an export folder against its `metadata.json` and, when present, its `keepsake.json`,
//! and names every problem precisely: missing, truncated, oversized, extra, corrupted,
//! unlisted files, and a manifest that contradicts the metadata (tampering).
//!
//! Without a manifest (a dfx or icp-cli download) it checks what can be checked: region sizes
//! against the metadata and each chunk against the hash it is named by; and it says that the
//! contents could not be checked (`no_manifest`), so such a folder never verifies as OK.
//!
//! Only regular files are read: a symbolic link, FIFO, socket or device in the folder is a
//! problem (`not_regular_file`), never opened or hashed (`files`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::files;
use super::layout::{self, Content, ExpectedFile};
use super::manifest::{self, FileEntry, Manifest};
use super::store::Metadata;

/// One thing wrong with the folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// A file the snapshot needs is not there.
    Missing {
        /// Relative path.
        path: String,
    },
    /// A file is shorter than it must be.
    Truncated {
        /// Relative path.
        path: String,
        /// Size it must have.
        expected_size: u64,
        /// Size it has.
        actual_size: u64,
        /// Which file says so: `metadata.json` or `keepsake.json`.
        according_to: String,
    },
    /// A file is longer than it must be.
    Oversized {
        /// Relative path.
        path: String,
        /// Size it must have.
        expected_size: u64,
        /// Size it has.
        actual_size: u64,
        /// Which file says so.
        according_to: String,
    },
    /// A file has the right size but not the right content.
    Corrupted {
        /// Relative path.
        path: String,
        /// sha256 it must have.
        expected_sha256: String,
        /// sha256 it has.
        actual_sha256: String,
        /// Which says so: `keepsake.json`, or `chunk hash` (a chunk file's name is its hash).
        according_to: String,
    },
    /// A file that is not part of the snapshot.
    Extra {
        /// Relative path.
        path: String,
    },
    /// A snapshot file the manifest does not list (the manifest was edited or is stale).
    Unlisted {
        /// Relative path.
        path: String,
    },
    /// The manifest and the metadata disagree on a file's size (one of them was edited).
    ManifestDisagrees {
        /// Relative path.
        path: String,
        /// Size in metadata.json.
        metadata_size: u64,
        /// Size in keepsake.json.
        manifest_size: u64,
    },
    /// metadata.json cannot be read as snapshot metadata.
    InvalidMetadata {
        /// Why.
        error: String,
    },
    /// keepsake.json cannot be read.
    InvalidManifest {
        /// Why.
        error: String,
    },
    /// There is no keepsake.json, so the contents of the module, memory and metadata files
    /// cannot be checked (a dfx or icp-cli download has none).
    NoManifest {
        /// The files whose contents nothing vouches for.
        unchecked: Vec<String>,
    },
    /// An entry that is a symbolic link, FIFO, socket or device: not opened, not followed.
    NotRegularFile {
        /// Relative path.
        path: String,
        /// What it is ("a symbolic link", "a FIFO (named pipe)", ...).
        file_type: String,
    },
    /// A file cannot be read.
    Unreadable {
        /// Relative path.
        path: String,
        /// Why.
        error: String,
    },
}

impl Problem {
    /// The file it is about, if any.
    pub fn path(&self) -> Option<&str> {
        match self {
            Problem::Missing { path }
            | Problem::Truncated { path, .. }
            | Problem::Oversized { path, .. }
            | Problem::Corrupted { path, .. }
            | Problem::Extra { path }
            | Problem::Unlisted { path }
            | Problem::ManifestDisagrees { path, .. }
            | Problem::NotRegularFile { path, .. }
            | Problem::Unreadable { path, .. } => Some(path),
            Problem::NoManifest { .. } => Some(layout::MANIFEST),
            Problem::InvalidMetadata { .. } | Problem::InvalidManifest { .. } => None,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Missing { path } => write!(f, "{path}: missing"),
            Problem::Truncated {
                path,
                expected_size,
                actual_size,
                according_to,
            } => write!(
                f,
                "{path}: truncated: {actual_size} bytes, {according_to} says {expected_size}"
            ),
            Problem::Oversized {
                path,
                expected_size,
                actual_size,
                according_to,
            } => write!(
                f,
                "{path}: too long: {actual_size} bytes, {according_to} says {expected_size}"
            ),
            Problem::Corrupted {
                path,
                expected_sha256,
                actual_sha256,
                according_to,
            } => write!(
                f,
                "{path}: corrupted or tampered: sha256 {actual_sha256}, {according_to} says {expected_sha256}"
            ),
            Problem::Extra { path } => write!(f, "{path}: extra file, not part of the snapshot"),
            Problem::Unlisted { path } => {
                write!(
                    f,
                    "{path}: not listed in keepsake.json (the manifest was edited or is stale)"
                )
            }
            Problem::ManifestDisagrees {
                path,
                metadata_size,
                manifest_size,
            } => write!(
                f,
                "{path}: metadata.json says {metadata_size} bytes but keepsake.json says {manifest_size} (one of them was edited)"
            ),
            Problem::InvalidMetadata { error } => {
                write!(f, "metadata.json: not snapshot metadata: {error}")
            }
            Problem::InvalidManifest { error } => {
                write!(f, "keepsake.json: unreadable manifest: {error}")
            }
            Problem::NoManifest { unchecked } => write!(
                f,
                "{}: absent, so the contents of {} cannot be checked (sizes were checked against \
                 metadata.json, chunks against their hashes). A dfx or icp-cli download has no \
                 manifest: `keepsake import --no-manifest` imports it if you trust where it came from",
                layout::MANIFEST,
                unchecked.join(", ")
            ),
            Problem::NotRegularFile { path, file_type } => write!(
                f,
                "{path}: is {file_type}, not a regular file; keepsake does not follow links or open \
                 special files in a snapshot folder (replace it with the file itself)"
            ),
            Problem::Unreadable { path, error } => write!(f, "{path}: cannot be read: {error}"),
        }
    }
}

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

/// A folder entry: a regular file to hash, or something else to refuse without opening it.
enum Found {
    File(String),
    NotRegular(String, &'static str),
}

/// Lists the folder. `DirEntry::file_type` does not follow links, so a link to a folder is
/// reported, not walked into.
fn walk(dir: &Path, rel: &str, out: &mut Vec<Found>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let t = entry.file_type()?;
        if t.is_dir() {
            walk(&entry.path(), &path, out)?;
        } else if t.is_file() {
            out.push(Found::File(path));
        } else {
            out.push(Found::NotRegular(path, files::describe(&t)));
        }
    }
    Ok(())
}

/// The largest metadata.json read: real ones are a few KiB (at most 1,000 globals and 100 chunk
/// hashes); a hostile one must not fill memory.
const MAX_METADATA: u64 = 1 << 20;

/// Reads metadata.json whole (a regular file only, at most `MAX_METADATA` bytes).
fn read_metadata(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = files::open_regular(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_METADATA + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_METADATA {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_METADATA} bytes, far more than any snapshot's metadata"
        )));
    }
    Ok(bytes)
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
    let Some(hashed) = findings.hash_files(dir) else {
        return findings.report(dir, vec![], None, None);
    };
    let manifest = findings.read_manifest(dir);
    let Some(meta) = findings.parse_metadata(hashed.metadata_bytes.as_deref()) else {
        return findings.report(dir, hashed.entries(), None, manifest.as_ref());
    };
    if manifest.is_none() && !findings.manifest_invalid() {
        findings.no_manifest(&meta);
    }
    let expected = layout::expected_files(&meta);
    findings.against_metadata(&expected, &hashed.files);
    if let Some(m) = &manifest {
        findings.against_manifest(m, &expected, &hashed.files);
    }
    findings.report(dir, hashed.entries(), Some(meta), manifest.as_ref())
}

/// Step 1's result: every regular file's size and sha256, and metadata.json's bytes.
struct Hashed {
    files: BTreeMap<String, FileEntry>,
    metadata_bytes: Option<Vec<u8>>,
}

impl Hashed {
    fn entries(&self) -> Vec<FileEntry> {
        self.files.values().cloned().collect()
    }
}

/// The problems found so far.
#[derive(Default)]
struct Findings {
    problems: Vec<Problem>,
}

impl Findings {
    /// Records a problem unless one about the same file is already there: each file is
    /// reported once, by the first check that found it wrong (steps 5 and 6).
    fn flag(&mut self, p: Problem) {
        if let Some(path) = p.path()
            && self.problems.iter().any(|q| q.path() == Some(path))
        {
            return;
        }
        self.problems.push(p);
    }

    fn has_problem_with(&self, path: &str) -> bool {
        self.problems.iter().any(|p| p.path() == Some(path))
    }

    fn manifest_invalid(&self) -> bool {
        self.problems
            .iter()
            .any(|p| matches!(p, Problem::InvalidManifest { .. }))
    }

    /// Step 1. `None` when the folder itself cannot be listed.
    fn hash_files(&mut self, dir: &Path) -> Option<Hashed> {
        let mut found = Vec::new();
        if let Err(e) = walk(dir, "", &mut found) {
            self.problems.push(Problem::Unreadable {
                path: dir.display().to_string(),
                error: e.to_string(),
            });
            return None;
        }
        let mut regular = Vec::new();
        for f in found {
            match f {
                // keepsake.json is read (and refused if it is not a regular file) in step 2.
                Found::File(path) | Found::NotRegular(path, _)
                    if path == layout::MANIFEST || layout::IGNORED.contains(&path.as_str()) => {}
                Found::File(path) => regular.push(path),
                Found::NotRegular(path, what) => self.problems.push(Problem::NotRegularFile {
                    path,
                    file_type: what.into(),
                }),
            }
        }
        regular.sort();
        let mut hashed = Hashed {
            files: BTreeMap::new(),
            metadata_bytes: None,
        };
        for path in regular {
            let result = if path == layout::METADATA {
                read_metadata(&dir.join(&path)).map(|bytes| {
                    let entry = (bytes.len() as u64, manifest::sha256_hex(&bytes));
                    hashed.metadata_bytes = Some(bytes);
                    entry
                })
            } else {
                manifest::hash_file(&dir.join(&path))
            };
            match result {
                Ok((size, sha256)) => {
                    hashed
                        .files
                        .insert(path.clone(), FileEntry { path, size, sha256 });
                }
                Err(e) => self.problems.push(Problem::Unreadable {
                    path,
                    error: e.to_string(),
                }),
            }
        }
        Some(hashed)
    }

    /// Step 2.
    fn read_manifest(&mut self, dir: &Path) -> Option<Manifest> {
        manifest::read(dir).unwrap_or_else(|e| {
            self.problems.push(Problem::InvalidManifest {
                error: format!("{e:#}"),
            });
            None
        })
    }

    /// Step 3, from the bytes hashed in step 1.
    fn parse_metadata(&mut self, bytes: Option<&[u8]>) -> Option<Metadata> {
        match bytes {
            Some(bytes) => serde_json::from_slice(bytes)
                .map_err(|e| {
                    self.problems.push(Problem::InvalidMetadata {
                        error: e.to_string(),
                    })
                })
                .ok(),
            // Not a regular file, or unreadable: reported in step 1.
            None if self.has_problem_with(layout::METADATA) => None,
            None => {
                self.problems.push(Problem::Missing {
                    path: layout::METADATA.into(),
                });
                None
            }
        }
    }

    /// Step 4: without a manifest nothing vouches for the files' contents, so the folder is
    /// not OK whatever else holds; the problem names what import would load unchecked.
    fn no_manifest(&mut self, meta: &Metadata) {
        let unchecked = std::iter::once(layout::METADATA.to_string())
            .chain(
                layout::expected_files(meta)
                    .into_iter()
                    .filter(|e| matches!(e.content, Content::Region(_)) && !e.optional)
                    .map(|e| e.path),
            )
            .collect();
        self.problems.push(Problem::NoManifest { unchecked });
    }

    /// Step 5: each file the metadata requires is there, of its size, and each chunk matches
    /// the hash it is named by; nothing else is there.
    fn against_metadata(&mut self, expected: &[ExpectedFile], files: &BTreeMap<String, FileEntry>) {
        for e in expected {
            let Some(actual) = files.get(&e.path) else {
                if !e.optional {
                    self.flag(Problem::Missing {
                        path: e.path.clone(),
                    });
                }
                continue;
            };
            if let Some(size) = e.size
                && let Some(p) = size_problem(&e.path, size, actual.size, layout::METADATA)
            {
                self.flag(p);
            }
            if let Content::Chunk(hash) = &e.content
                && actual.sha256 != hex::encode(hash)
            {
                self.flag(Problem::Corrupted {
                    path: e.path.clone(),
                    expected_sha256: hex::encode(hash),
                    actual_sha256: actual.sha256.clone(),
                    according_to: "chunk hash".into(),
                });
            }
        }
        let known = known_paths(expected);
        for path in files.keys() {
            if !known.contains(path.as_str()) {
                self.flag(Problem::Extra { path: path.clone() });
            }
        }
    }

    /// Step 6: the manifest agrees with the metadata (else it was tampered with), and every
    /// file it lists is there with its size and sha256; every known file is listed.
    fn against_manifest(
        &mut self,
        m: &Manifest,
        expected: &[ExpectedFile],
        files: &BTreeMap<String, FileEntry>,
    ) {
        let listed: BTreeMap<&str, &FileEntry> =
            m.files.iter().map(|f| (f.path.as_str(), f)).collect();
        for e in expected {
            if let (Some(size), Some(entry)) = (e.size, listed.get(e.path.as_str()))
                && entry.size != size
            {
                self.flag(Problem::ManifestDisagrees {
                    path: e.path.clone(),
                    metadata_size: size,
                    manifest_size: entry.size,
                });
            }
        }
        for entry in &m.files {
            let Some(actual) = files.get(&entry.path) else {
                self.flag(Problem::Missing {
                    path: entry.path.clone(),
                });
                continue;
            };
            if let Some(p) = size_problem(&entry.path, entry.size, actual.size, layout::MANIFEST) {
                self.flag(p);
            } else if actual.sha256 != entry.sha256 {
                self.flag(Problem::Corrupted {
                    path: entry.path.clone(),
                    expected_sha256: entry.sha256.clone(),
                    actual_sha256: actual.sha256.clone(),
                    according_to: layout::MANIFEST.into(),
                });
            }
        }
        let known = known_paths(expected);
        for path in files.keys() {
            if known.contains(path.as_str()) && !listed.contains_key(path.as_str()) {
                self.flag(Problem::Unlisted { path: path.clone() });
            }
        }
    }

    fn report(
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

/// Every path the snapshot may hold: the metadata's files and metadata.json itself.
fn known_paths(expected: &[ExpectedFile]) -> BTreeSet<&str> {
    expected
        .iter()
        .map(|e| e.path.as_str())
        .chain([layout::METADATA])
        .collect()
}

/// A truncated or oversized file, `according_to` the file that gave the expected size.
fn size_problem(path: &str, expected: u64, actual: u64, according_to: &str) -> Option<Problem> {
    let (path, according_to) = (path.to_string(), according_to.to_string());
    match actual.cmp(&expected) {
        std::cmp::Ordering::Less => Some(Problem::Truncated {
            path,
            expected_size: expected,
            actual_size: actual,
            according_to,
        }),
        std::cmp::Ordering::Greater => Some(Problem::Oversized {
            path,
            expected_size: expected,
            actual_size: actual,
            according_to,
        }),
        std::cmp::Ordering::Equal => None,
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::operations::layout::tests::metadata;
    use crate::operations::layout::*;
    use crate::operations::manifest::sha256_hex;

    /// Writes a complete, valid export (with manifest when `with_manifest`) and returns the
    /// chunk's path.
    pub fn write_export(dir: &Path, with_manifest: bool) -> String {
        let chunk = vec![9u8; 1000];
        let hash = sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(&chunk))
            .to_vec();
        let m = metadata(3000, 65536, 131072, vec![hash.clone()]);
        std::fs::create_dir_all(dir.join(CHUNK_DIR)).unwrap();
        std::fs::write(dir.join(METADATA), serde_json::to_vec_pretty(&m).unwrap()).unwrap();
        std::fs::write(dir.join(WASM_MODULE), vec![1u8; 3000]).unwrap();
        std::fs::write(dir.join(WASM_MEMORY), vec![2u8; 65536]).unwrap();
        std::fs::write(dir.join(STABLE_MEMORY), vec![3u8; 131072]).unwrap();
        std::fs::write(dir.join(chunk_path(&hash)), &chunk).unwrap();
        if with_manifest {
            let mut files: Vec<FileEntry> = [METADATA, WASM_MODULE, WASM_MEMORY, STABLE_MEMORY]
                .iter()
                .map(|p| p.to_string())
                .chain([chunk_path(&hash)])
                .map(|p| {
                    let bytes = std::fs::read(dir.join(&p)).unwrap();
                    FileEntry {
                        path: p,
                        size: bytes.len() as u64,
                        sha256: sha256_hex(&bytes),
                    }
                })
                .collect();
            files.sort_by(|a, b| a.path.cmp(&b.path));
            let man = Manifest {
                format: 1,
                tool: "keepsake".into(),
                tool_version: "test".into(),
                canister_id: "aaaaa-aa".into(),
                snapshot_id: "00".into(),
                taken_at_timestamp: 1,
                taken_at: "x".into(),
                exported_at: "y".into(),
                files,
            };
            std::fs::write(dir.join(MANIFEST), serde_json::to_vec_pretty(&man).unwrap()).unwrap();
        }
        chunk_path(&hash)
    }

    fn kinds(r: &VerifyReport) -> Vec<String> {
        r.problems
            .iter()
            .map(|p| {
                serde_json::to_value(p).unwrap()["kind"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn a_complete_export_verifies() {
        let dir = tempfile::tempdir().unwrap();
        write_export(dir.path(), true);
        let r = verify_dir(dir.path());
        assert!(r.ok, "{:?}", r.problems);
        assert!(r.manifest);
        assert_eq!(r.files.len(), 5);
    }

    #[test]
    fn a_truncated_memory_file_is_reported_as_truncated_with_both_sizes() {
        let dir = tempfile::tempdir().unwrap();
        write_export(dir.path(), true);
        std::fs::write(dir.path().join(STABLE_MEMORY), vec![3u8; 1000]).unwrap();
        let r = verify_dir(dir.path());
        assert_eq!(
            r.problems,
            vec![Problem::Truncated {
                path: STABLE_MEMORY.into(),
                expected_size: 131072,
                actual_size: 1000,
                according_to: METADATA.into()
            }]
        );
        assert!(
            r.problems[0]
                .to_string()
                .contains("truncated: 1000 bytes, metadata.json says 131072")
        );
    }

    #[test]
    fn a_flipped_byte_is_corruption_according_to_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        write_export(dir.path(), true);
        let mut heap = vec![2u8; 65536];
        heap[100] = 0;
        std::fs::write(dir.path().join(WASM_MEMORY), heap).unwrap();
        let r = verify_dir(dir.path());
        assert_eq!(kinds(&r), vec!["corrupted"]);
    }

    #[test]
    fn extra_and_missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        write_export(dir.path(), true);
        std::fs::write(dir.path().join("notes.txt"), "hi").unwrap();
        std::fs::remove_file(dir.path().join(WASM_MODULE)).unwrap();
        let r = verify_dir(dir.path());
        let mut k = kinds(&r);
        k.sort();
        assert_eq!(k, vec!["extra", "missing"]);
        assert!(r.problems.iter().any(|p| p.path() == Some("notes.txt")));
    }

    #[test]
    fn edited_metadata_is_caught_by_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        write_export(dir.path(), true);
        let path = dir.path().join(METADATA);
        let mut m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        m["canister_version"] = 9.into(); // same length: only the hash can tell
        std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
        let r = verify_dir(dir.path());
        assert_eq!(kinds(&r), vec!["corrupted"]);
        assert_eq!(r.problems[0].path(), Some(METADATA));
    }

    #[test]
    fn a_manifest_whose_sizes_contradict_the_metadata_is_reported_as_tampered() {
        let dir = tempfile::tempdir().unwrap();
        write_export(dir.path(), true);
        let path = dir.path().join(MANIFEST);
        let mut m: Manifest = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        m.files
            .iter_mut()
            .find(|f| f.path == WASM_MODULE)
            .unwrap()
            .size = 10;
        std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
        let r = verify_dir(dir.path());
        assert_eq!(kinds(&r), vec!["manifest_disagrees"]);
    }

    #[test]
    fn a_folder_without_manifest_is_not_ok_but_still_checks_sizes_and_chunk_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let chunk = write_export(dir.path(), false);
        std::fs::write(dir.path().join(".lock"), "").unwrap();
        let r = verify_dir(dir.path());
        assert!(!r.ok, "content was not checked, so not OK");
        assert!(r.ok_but_for_the_manifest());
        assert!(!r.manifest);
        assert_eq!(kinds(&r), vec!["no_manifest"]);
        let text = r.problems[0].to_string();
        assert!(
            text.contains("cannot be checked") && text.contains("--no-manifest"),
            "{text}"
        );
        assert!(text.contains(STABLE_MEMORY), "{text}");
        std::fs::write(dir.path().join(&chunk), vec![8u8; 1000]).unwrap();
        std::fs::write(dir.path().join(WASM_MEMORY), vec![2u8; 100]).unwrap();
        let r = verify_dir(dir.path());
        let mut k = kinds(&r);
        k.sort();
        assert_eq!(k, vec!["corrupted", "no_manifest", "truncated"]);
        assert!(!r.ok_but_for_the_manifest());
    }

    #[test]
    fn a_symlinked_memory_file_is_refused_and_not_hashed() {
        let dir = tempfile::tempdir().unwrap();
        write_export(dir.path(), true);
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("stable");
        std::fs::write(&target, vec![3u8; 131072]).unwrap();
        std::fs::remove_file(dir.path().join(STABLE_MEMORY)).unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join(STABLE_MEMORY)).unwrap();
        let r = verify_dir(dir.path());
        assert!(!r.ok);
        assert_eq!(kinds(&r), vec!["not_regular_file"]);
        assert_eq!(r.problems[0].path(), Some(STABLE_MEMORY));
        assert!(r.files.iter().all(|f| f.path != STABLE_MEMORY));
    }

    #[test]
    fn extra_links_fifos_and_devices_are_named_without_being_opened() {
        let dir = tempfile::tempdir().unwrap();
        write_export(dir.path(), true);
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join(CHUNK_DIR).join("x.bin"))
            .unwrap();
        assert!(
            std::process::Command::new("mkfifo")
                .arg(dir.path().join("fifo"))
                .status()
                .unwrap()
                .success()
        );
        let start = std::time::Instant::now();
        let r = verify_dir(dir.path());
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
        assert_eq!(
            kinds(&r),
            vec!["not_regular_file", "not_regular_file", "not_regular_file"]
        );
        let json = serde_json::to_value(&r).unwrap();
        let listed: Vec<&str> = json["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect();
        assert!(
            !listed.contains(&"zero") && !listed.contains(&"fifo"),
            "{listed:?}"
        );
        assert!(r.problems.iter().any(|p| p.to_string().contains("FIFO")));
    }

    #[test]
    fn a_manifest_of_format_99_does_not_verify() {
        let dir = tempfile::tempdir().unwrap();
        write_export(dir.path(), true);
        let path = dir.path().join(MANIFEST);
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("\"format\": 1", "\"format\": 99");
        std::fs::write(&path, text).unwrap();
        let r = verify_dir(dir.path());
        assert_eq!(kinds(&r), vec!["invalid_manifest"]);
        assert!(r.problems[0].to_string().contains("reads format 1"));
    }

    #[test]
    fn a_missing_metadata_file_is_the_first_problem() {
        let dir = tempfile::tempdir().unwrap();
        write_export(dir.path(), false);
        std::fs::remove_file(dir.path().join(METADATA)).unwrap();
        let r = verify_dir(dir.path());
        assert_eq!(
            r.problems,
            vec![Problem::Missing {
                path: METADATA.into()
            }]
        );
    }
}
