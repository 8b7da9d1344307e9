//! Stage 2 of an export: which slices to download. A slice an earlier run journaled is
//! trusted only if the disk still holds exactly those bytes; a region file any of whose slices
//! are trusted that way is hashed from disk at the end, every other file as its slices arrive.

use std::collections::BTreeSet;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::prepare::Prepared;
use super::write::RegionFiles;
use crate::operations::files;
use crate::operations::journal::Entry;
use crate::operations::layout::{self, Content, Region, Slice};
use crate::operations::manifest::sha256_hex;

/// What is left to do, and what an earlier run already did.
pub struct Plan {
    /// Slices to download, in file order.
    pub todo: Vec<Slice>,
    /// Bytes an earlier run wrote that were re-checked on disk.
    pub resumed_bytes: u64,
    /// Region files partly written by an earlier run: hashed from disk at the end.
    pub hashed_from_disk: BTreeSet<Region>,
    /// Region files hashed as their slices arrive (every other region file).
    pub hashed_on_the_way: BTreeSet<Region>,
}

/// Cuts the snapshot into `slice`-byte reads and drops those already on disk.
pub fn plan(prepared: &Prepared, slice: u64, files: &RegionFiles) -> Plan {
    let mut todo = Vec::new();
    let mut resumed_bytes = 0;
    let mut hashed_from_disk = BTreeSet::new();
    for s in layout::slices(&prepared.meta, slice, |_| 0) {
        match prepared.journaled.get(&(s.path(), s.offset)) {
            Some(e) if on_disk(&prepared.partial, &s, e) => {
                resumed_bytes += e.len;
                if let Content::Region(r) = s.content {
                    hashed_from_disk.insert(r);
                }
            }
            _ => todo.push(s),
        }
    }
    let hashed_on_the_way = files
        .regions()
        .filter(|r| !hashed_from_disk.contains(r))
        .collect();
    Plan {
        todo,
        resumed_bytes,
        hashed_from_disk,
        hashed_on_the_way,
    }
}

/// Is the slice already on disk as the journal says?
fn on_disk(dir: &Path, slice: &Slice, entry: &Entry) -> bool {
    let path = dir.join(slice.path());
    match &slice.content {
        Content::Region(_) => {
            if entry.len != slice.len {
                return false;
            }
            let Ok(file) = files::open_regular(&path) else {
                return false;
            };
            let mut buf = vec![0u8; slice.len as usize];
            file.read_exact_at(&mut buf, slice.offset).is_ok() && entry.matches(&buf)
        }
        Content::Chunk(hash) => files::read_regular(&path)
            .map(|bytes| sha256_hex(&bytes) == hex::encode(hash))
            .unwrap_or(false),
    }
}
