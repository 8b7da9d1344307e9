//! Where an export's bytes land: the region files, created at their final size so that slices
//! arriving in any order are written at their offsets (positioned writes, on tokio's blocking
//! pool), chunk files written whole, and the fsyncs that make the folder durable before it is
//! published.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::operations::files;
use crate::operations::journal::Entry;
use crate::operations::layout::{self, Content, Region, Slice};
use crate::operations::manifest::sha256_hex;
use crate::operations::store::Metadata;
use crate::operations::timings::{Timings, timed};

/// The open region files, each at its final size. An empty region dfx does not write has none.
pub struct RegionFiles(BTreeMap<Region, File>);

impl RegionFiles {
    /// Creates (or reopens, on resume) every region file in `dir` at its size in `meta`.
    pub fn create(dir: &Path, meta: &Metadata) -> Result<Self> {
        let mut files = BTreeMap::new();
        for r in Region::ALL {
            let size = r.size(meta);
            if size == 0 && !r.written_when_empty() {
                continue;
            }
            let path = dir.join(r.file());
            let f = files::open_writable(&path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            f.set_len(size)?;
            files.insert(r, f);
        }
        Ok(Self(files))
    }

    /// The regions that have a file.
    pub fn regions(&self) -> impl Iterator<Item = Region> + '_ {
        self.0.keys().copied()
    }

    /// Reads back `buf.len()` bytes of `region` at `offset` (for its hash, `hash`).
    pub fn read_at(&self, region: Region, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        match self.0.get(&region) {
            Some(f) => f.read_exact_at(buf, offset),
            None => Err(std::io::Error::other("the region has no file")),
        }
    }

    /// Checksums a downloaded slice for the journal (a region slice's CRC-32, a chunk's sha256,
    /// which must be its name) and writes it where it belongs (called on the blocking pool).
    pub fn write_slice(
        &self,
        dir: &Path,
        slice: &Slice,
        data: &[u8],
        t: &Timings,
    ) -> Result<Entry> {
        let (sha256, crc32) = match &slice.content {
            Content::Region(r) => {
                let crc = timed(&t.hash_slices, || crc32fast::hash(data));
                timed(&t.write, || self.0[r].write_all_at(data, slice.offset))
                    .with_context(|| format!("cannot write {}", r.file()))?;
                (None, Some(crc))
            }
            Content::Chunk(hash) => {
                let sha256 = timed(&t.hash_slices, || sha256_hex(data));
                if sha256 != hex::encode(hash) {
                    bail!(
                        "chunk {} arrived with a different hash; run the export again",
                        hex::encode(hash)
                    );
                }
                let path = dir.join(slice.path());
                timed(&t.write, || files::write_regular(&path, data))
                    .with_context(|| format!("cannot write {}", path.display()))?;
                (Some(sha256), None)
            }
        };
        Ok(Entry {
            path: slice.path(),
            offset: slice.offset,
            len: data.len() as u64,
            sha256,
            crc32,
        })
    }

    /// Makes every file of the snapshot durable: the region files, the chunks and metadata.json
    /// (the manifest and the folders come after the manifest is written, `finish`).
    pub fn sync_all(&self, dir: &Path, meta: &Metadata) -> Result<()> {
        for f in self.0.values() {
            f.sync_all()?;
        }
        for c in &meta.wasm_chunk_store {
            fsync_file(&dir.join(layout::chunk_path(&c.hash)))?;
        }
        fsync_file(&dir.join(layout::METADATA))
    }
}

/// fsyncs the regular file at `path` (never through a link).
pub fn fsync_file(path: &Path) -> Result<()> {
    files::open_regular(path)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("cannot fsync {}", path.display()))
}

/// fsyncs a folder, so the names in it (new files, a rename) are durable.
pub fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot fsync {}", dir.display()))
}
