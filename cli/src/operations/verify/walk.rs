//! Step 1 of `verify`: list the folder and hash every regular file in it. Links, FIFOs, sockets
//! and devices are reported, never opened or followed; metadata.json is read once, so the bytes
//! hashed are the bytes later parsed.

use std::collections::BTreeMap;
use std::path::Path;

use super::Problem;
use super::findings::Findings;
use crate::operations::files;
use crate::operations::layout;
use crate::operations::manifest::{self, FileEntry};

/// What the folder holds: every regular file's size and sha256, and metadata.json's bytes.
pub struct Hashed {
    /// By relative path.
    pub files: BTreeMap<String, FileEntry>,
    /// metadata.json, when it is a readable regular file.
    pub metadata_bytes: Option<Vec<u8>>,
}

impl Hashed {
    /// Every file, sorted by path (the report's list).
    pub fn entries(&self) -> Vec<FileEntry> {
        self.files.values().cloned().collect()
    }
}

/// Hashes every regular file under `dir`; `None` when the folder itself cannot be listed.
pub fn hash_files(dir: &Path, findings: &mut Findings) -> Option<Hashed> {
    let mut found = Vec::new();
    if let Err(e) = walk(dir, "", &mut found) {
        findings.push(Problem::Unreadable {
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
            Found::NotRegular(path, what) => findings.push(Problem::NotRegularFile {
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
            Err(e) => findings.push(Problem::Unreadable {
                path,
                error: e.to_string(),
            }),
        }
    }
    Some(hashed)
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
