//! `keepsake.json`: what keepsake adds to the dfx/icp-cli layout so an export can be checked
//! byte for byte later — where it came from, and the size and sha256 of every file.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The manifest's format version; bumped only for changes old readers cannot ignore.
pub const FORMAT: u32 = 1;

/// `keepsake.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    /// Always 1 for now.
    pub format: u32,
    /// `keepsake`.
    pub tool: String,
    /// The keepsake version that wrote it.
    pub tool_version: String,
    /// The canister the snapshot was taken from.
    pub canister_id: String,
    /// The snapshot's id, hex.
    pub snapshot_id: String,
    /// When the IC took the snapshot (nanoseconds since the epoch).
    pub taken_at_timestamp: u64,
    /// The same, RFC 3339.
    pub taken_at: String,
    /// When the export finished, RFC 3339.
    pub exported_at: String,
    /// Every file of the folder but this one, sorted by path.
    pub files: Vec<FileEntry>,
}

/// One file of the export.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    /// Relative path with `/` separators.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// sha256 of the content, hex.
    pub sha256: String,
}

/// Size and sha256 of a file, streamed (memory stays flat however large the file).
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// sha256 of bytes, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Reads `keepsake.json` from `dir`: `Ok(None)` when absent (a dfx/icp-cli folder).
pub fn read(dir: &Path) -> Result<Option<Manifest>> {
    let path = dir.join(super::layout::MANIFEST);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(Some(serde_json::from_str(&text).with_context(|| {
            format!("{} is not a keepsake manifest", path.display())
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_hashed_in_a_stream() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, vec![7u8; 3 << 20]).unwrap();
        let (size, sha) = hash_file(&p).unwrap();
        assert_eq!(size, 3 << 20);
        assert_eq!(sha, sha256_hex(&vec![7u8; 3 << 20]));
    }
}
