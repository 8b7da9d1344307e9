//! Each region file's sha256 for keepsake.json, computed as the slices arrive, without reading
//! anything back: the slices of a file go, in file order, to one hashing thread; a slice that
//! arrives ahead of a gap waits in the reorder buffer (`reorder`, shared with its write, not
//! copied). Only files an earlier run had started are hashed from disk instead (`finish`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::operations::layout::Region;
use crate::operations::reorder::Reorder;
use crate::operations::timings::{Timings, timed};

/// A file's hash, as fed in order.
pub struct FileHash {
    /// Bytes released to the hasher (the file's size once every slice arrived).
    pub size: u64,
    /// sha256, hex.
    pub sha256: String,
}

/// The hashing thread and the reorder buffer in front of it.
pub struct InOrderHasher {
    order: Reorder<Region>,
    to_thread: mpsc::Sender<(Region, Arc<Vec<u8>>)>,
    thread: JoinHandle<BTreeMap<Region, String>>,
}

impl InOrderHasher {
    /// Starts the thread hashing `regions` (on tokio's blocking pool).
    pub fn start(regions: &BTreeSet<Region>, timings: Arc<Timings>) -> Self {
        // Two slices queued at most: the thread keeps up with the download, and what waits
        // is counted in the export's memory bound.
        let (to_thread, mut rx) = mpsc::channel::<(Region, Arc<Vec<u8>>)>(2);
        let mut hashers: BTreeMap<Region, Sha256> =
            regions.iter().map(|&r| (r, Sha256::new())).collect();
        let thread = tokio::task::spawn_blocking(move || {
            while let Some((region, data)) = rx.blocking_recv() {
                if let Some(sha) = hashers.get_mut(&region) {
                    timed(&timings.hash_files, || sha.update(&*data));
                }
            }
            hashers
                .into_iter()
                .map(|(r, sha)| (r, hex::encode(sha.finalize())))
                .collect()
        });
        Self {
            order: Reorder::new(regions.iter().copied()),
            to_thread,
            thread,
        }
    }

    /// Slices held in the reorder buffer (they count in the export's memory bound).
    pub fn held(&self) -> usize {
        self.order.held()
    }

    /// Accepts the slice of `region` at `offset`; sends it and whatever it unblocks to the
    /// thread. A region not hashed on the way is ignored.
    pub async fn push(&mut self, region: Region, offset: u64, data: Arc<Vec<u8>>) -> Result<()> {
        if !self.order.tracks(region) {
            return Ok(());
        }
        for ready in self.order.push(region, offset, data)? {
            if self.to_thread.send((region, ready)).await.is_err() {
                bail!("internal error: the hashing thread stopped");
            }
        }
        Ok(())
    }

    /// Waits for the thread and returns every region's hash.
    pub async fn finish(self) -> Result<BTreeMap<Region, FileHash>> {
        drop(self.to_thread);
        let hashes = self.thread.await.context("the hashing thread failed")?;
        Ok(hashes
            .into_iter()
            .map(|(r, sha256)| {
                let size = self.order.released(r);
                (r, FileHash { size, sha256 })
            })
            .collect())
    }
}
