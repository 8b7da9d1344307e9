//! Each region file's sha256 for keepsake.json, computed during the download by reading back
//! what was just written: a slice, once written at its offset, is reported here by its length
//! alone; once every slice before it is written too (the reorder buffer, `reorder`, holding
//! lengths, not bytes), one hashing thread reads the newly contiguous range back from the file
//! (from the page cache: it was written moments ago) and feeds the file's sha256 in order.
//!
//! Why read back rather than hash the bytes as received: slices arrive in any order and the
//! sha256 needs file order, so hashing the received bytes meant holding every slice that arrived
//! ahead of a gap. In rounds a replica answers a round's reads in one batch, in any order, so
//! the buffer held up to half the reads in flight again: measured, 78 MiB peak RSS at 50 MB
//! against icp-cli's 73 (docs/BENCHMARKS.md, issue 16). Reading back costs one copy out of the
//! page cache (about 0.1 s of CPU per 235 MiB) and frees each slice as soon as it is written.
//! The hash is then of the file's content, which is what `verify` checks later anyway. Only
//! files an earlier run had started are hashed from disk at the end instead (`finish`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::mpsc;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

use super::write::RegionFiles;
use crate::operations::layout::Region;
use crate::operations::reorder::Reorder;
use crate::operations::timings::{Timings, timed};

/// Bytes read back at a time: the hashing thread's only buffer.
const READ_BACK: usize = 1 << 20;

/// A file's hash, as fed in order.
pub struct FileHash {
    /// Bytes hashed (the file's size once every slice was written).
    pub size: u64,
    /// sha256, hex.
    pub sha256: String,
}

/// A range of a region file that is written and follows what was hashed before.
type Range = (Region, u64, u64);

/// The hashing thread and the reorder buffer (of lengths) in front of it.
pub struct InOrderHasher {
    order: Reorder<Region, u64>,
    to_thread: mpsc::Sender<Range>,
    thread: JoinHandle<Result<BTreeMap<Region, String>>>,
}

impl InOrderHasher {
    /// Starts the thread hashing `regions` of `files` (on tokio's blocking pool).
    pub fn start(
        regions: &BTreeSet<Region>,
        files: Arc<RegionFiles>,
        timings: Arc<Timings>,
    ) -> Self {
        // Unbounded: a message is three numbers, and the thread reads what is already on disk.
        let (to_thread, rx) = mpsc::channel::<Range>();
        let mut hashers: BTreeMap<Region, Sha256> =
            regions.iter().map(|&r| (r, Sha256::new())).collect();
        let thread = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; READ_BACK];
            while let Ok((region, mut offset, len)) = rx.recv() {
                let Some(sha) = hashers.get_mut(&region) else {
                    continue;
                };
                let end = offset + len;
                while offset < end {
                    let n = (end - offset).min(READ_BACK as u64) as usize;
                    files
                        .read_at(region, &mut buf[..n], offset)
                        .with_context(|| {
                            format!("cannot read {} back to hash it", region.file())
                        })?;
                    timed(&timings.hash_files, || sha.update(&buf[..n]));
                    offset += n as u64;
                }
            }
            Ok(hashers
                .into_iter()
                .map(|(r, sha)| (r, hex::encode(sha.finalize())))
                .collect())
        });
        Self {
            order: Reorder::new(regions.iter().copied()),
            to_thread,
            thread,
        }
    }

    /// Accepts that the slice of `region` at `offset` (`len` bytes) is written; sends the thread
    /// whatever range is now contiguous. A region not hashed on the way is ignored.
    pub fn written(&mut self, region: Region, offset: u64, len: u64) -> Result<()> {
        if !self.order.tracks(region) {
            return Ok(());
        }
        let start = self.order.released(region);
        let ready: u64 = self.order.push(region, offset, len)?.iter().sum();
        if ready > 0 {
            // A send fails only once the thread stopped on a read error, which `finish`
            // reports with its cause.
            let _ = self.to_thread.send((region, start, ready));
        }
        Ok(())
    }

    /// Waits for the thread and returns every region's hash.
    pub async fn finish(self) -> Result<BTreeMap<Region, FileHash>> {
        drop(self.to_thread);
        let hashes = self.thread.await.context("the hashing thread failed")??;
        Ok(hashes
            .into_iter()
            .map(|(r, sha256)| {
                let size = self.order.released(r);
                (r, FileHash { size, sha256 })
            })
            .collect())
    }
}
