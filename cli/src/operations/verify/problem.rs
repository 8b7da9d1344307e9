//! Everything `verify` can find wrong with an export folder, each with the file it is about and
//! a message saying what to do (the `--json` shape is `kind` plus the fields).

use serde::Serialize;

use crate::operations::layout;

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

/// A truncated or oversized file, `according_to` the file that gave the expected size.
pub fn size_problem(path: &str, expected: u64, actual: u64, according_to: &str) -> Option<Problem> {
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
