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

/// Size and sha256 of a regular file, streamed (memory stays flat however large the file). A
/// link, FIFO or device is refused, not opened (`files::open_regular`).
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = super::files::open_regular(path)?;
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

/// Reads `keepsake.json` from `dir`: `Ok(None)` when absent (a dfx/icp-cli folder). A manifest
/// of a format this keepsake does not know is refused: its fields may mean something else, so
/// checking the folder against it could pass a folder that is not what its writer recorded.
pub fn read(dir: &Path) -> Result<Option<Manifest>> {
    let path = dir.join(super::layout::MANIFEST);
    let text = match super::files::read_regular_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    parse(&text)
        .with_context(|| format!("{} is not a keepsake manifest", path.display()))
        .map(Some)
}

/// Parses a manifest, checking its format first.
fn parse(text: &str) -> Result<Manifest> {
    let value: serde_json::Value = serde_json::from_str(text)?;
    match value.get("format").and_then(|f| f.as_u64()) {
        Some(f) if f == u64::from(FORMAT) => Ok(serde_json::from_value(value)?),
        Some(f) => anyhow::bail!(
            "it has format {f}, and this keepsake reads format {FORMAT} only; use the keepsake \
             version that wrote it (or a newer one)"
        ),
        None => anyhow::bail!("it has no numeric \"format\" (this keepsake reads format {FORMAT})"),
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

    #[test]
    fn a_manifest_of_an_unknown_format_is_refused_naming_the_format_this_keepsake_reads() {
        let dir = tempfile::tempdir().unwrap();
        let text = r#"{"format": 99, "tool": "keepsake", "tool_version": "9", "canister_id": "aaaaa-aa",
            "snapshot_id": "00", "taken_at_timestamp": 1, "taken_at": "x", "exported_at": "y", "files": []}"#;
        std::fs::write(dir.path().join(super::super::layout::MANIFEST), text).unwrap();
        let e = format!("{:#}", read(dir.path()).unwrap_err());
        assert!(
            e.contains("format 99") && e.contains("reads format 1"),
            "{e}"
        );
        std::fs::write(
            dir.path().join(super::super::layout::MANIFEST),
            text.replace("99", "1"),
        )
        .unwrap();
        assert!(read(dir.path()).unwrap().is_some());
    }
}
