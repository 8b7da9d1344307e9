//! Resume journals: a JSON-lines file whose first line says what transfer it belongs to and
//! whose next lines each record one finished slice.
//!
//! A line is appended only after its slice was written (export) or accepted (import), with one
//! `write` call, so a crash leaves at worst a torn last line, which `load` ignores. Export
//! entries carry a checksum of the slice and are re-checked against the disk before being
//! trusted, so no fsync per slice is needed.
//!
//! Which checksum: an export's region slices carry a CRC-32 (`crc32`). The journal only has to
//! catch a slice the disk lost or tore in a crash (the journal line can outlive its data without
//! an fsync); it is not the export's promise, which is the files' sha256 in keepsake.json,
//! computed from the bytes received or, on resume, read back from disk. A per-slice sha256 cost
//! 0.29 s of CPU per 235 MiB exported (docs/BENCHMARKS.md, issue 16); CRC-32 with the CPU's
//! carry-less multiply costs a tenth of that. Journals written before carry `sha256`, which is
//! still accepted. Chunk slices and import slices keep sha256 (a chunk must hash to its name;
//! an import re-checks the very bytes it sends against the verified manifest).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// One finished slice.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    /// Relative path of the file.
    pub path: String,
    /// Offset in it.
    pub offset: u64,
    /// Bytes.
    pub len: u64,
    /// sha256 of the slice, hex: of the bytes written (export chunks, and region slices of
    /// journals written before the CRC) or uploaded (import).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// CRC-32 (IEEE) of an exported region slice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32: Option<u32>,
}

impl Entry {
    /// Does `bytes` match what this entry recorded? An entry that recorded neither checksum
    /// matches nothing.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        if bytes.len() as u64 != self.len {
            return false;
        }
        match (&self.crc32, &self.sha256) {
            (Some(crc), _) => crc32fast::hash(bytes) == *crc,
            (None, Some(sha)) => super::manifest::sha256_hex(bytes) == *sha,
            (None, None) => false,
        }
    }
}

/// An open journal.
pub struct Journal {
    path: PathBuf,
    file: File,
}

/// What an existing journal holds.
pub struct Loaded<H> {
    /// Its first line.
    pub header: H,
    /// Finished slices by (path, offset).
    pub done: BTreeMap<(String, u64), Entry>,
}

/// Reads the journal at `path`; `Ok(None)` if there is none or its header is unreadable.
pub fn load<H: DeserializeOwned>(path: &Path) -> Result<Option<Loaded<H>>> {
    let text = match super::files::read_regular_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut lines = text.lines();
    let Some(header) = lines.next().and_then(|l| serde_json::from_str(l).ok()) else {
        return Ok(None);
    };
    let done = lines
        .filter_map(|l| serde_json::from_str::<Entry>(l).ok())
        .map(|e| ((e.path.clone(), e.offset), e))
        .collect();
    Ok(Some(Loaded { header, done }))
}

impl Journal {
    /// Opens `path` for appending, writing `header` first when the file is new.
    pub fn open<H: Serialize>(path: &Path, header: &H, fresh: bool) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        // Never through a link: an export's journal sits in a folder anyone may have prepared.
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .truncate(false)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .with_context(|| format!("cannot open the resume journal {}", path.display()))?;
        if fresh {
            file.set_len(0)?;
            file.write_all(format!("{}\n", serde_json::to_string(header)?).as_bytes())?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Records a finished slice.
    pub fn record(&mut self, entry: &Entry) -> Result<()> {
        let line = format!("{}\n", serde_json::to_string(entry)?);
        self.file
            .write_all(line.as_bytes())
            .with_context(|| format!("cannot write the resume journal {}", self.path.display()))
    }

    /// Deletes the journal once the transfer is complete.
    pub fn finish(self) -> Result<()> {
        drop(self.file);
        std::fs::remove_file(&self.path)
            .with_context(|| format!("cannot remove {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_ignored_on_resume() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let mut j = Journal::open(&path, &"header", true).unwrap();
        j.record(&Entry {
            path: "a".into(),
            offset: 0,
            len: 5,
            sha256: None,
            crc32: None,
        })
        .unwrap();
        drop(j);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"path\":\"a\",\"off")
            .unwrap();
        let loaded: Loaded<String> = load(&path).unwrap().unwrap();
        assert_eq!(loaded.header, "header");
        assert_eq!(loaded.done.len(), 1);
        assert!(load::<String>(&dir.path().join("none")).unwrap().is_none());
    }

    #[test]
    fn an_entry_matches_by_crc_or_by_an_older_journals_sha256() {
        let bytes = b"slice bytes";
        let entry = |sha256: Option<String>, crc32: Option<u32>| Entry {
            path: "a".into(),
            offset: 0,
            len: bytes.len() as u64,
            sha256,
            crc32,
        };
        let crc = entry(None, Some(crc32fast::hash(bytes)));
        assert!(crc.matches(bytes));
        assert!(!crc.matches(b"slice bytez"));
        assert!(!crc.matches(b"slice"), "a shorter slice never matches");
        let old = entry(Some(crate::operations::manifest::sha256_hex(bytes)), None);
        assert!(old.matches(bytes));
        assert!(!old.matches(b"slice bytez"));
        assert!(!entry(None, None).matches(bytes));
        // An entry line from a journal written before the CRC still loads.
        let line = format!(
            r#"{{"path":"a","offset":0,"len":11,"sha256":"{}"}}"#,
            old.sha256.clone().unwrap()
        );
        let parsed: Entry = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed, old);
    }
}
