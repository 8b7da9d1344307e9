//! The last stages of an export: keepsake.json from the hashes computed on the way (a chunk's is
//! its name, checked on arrival or on resume; only files an earlier run wrote are hashed from
//! disk), everything fsynced, then `<out>.partial` renamed into place.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use anyhow::{Context, Result, bail};

use super::fetch::Downloaded;
use super::hash::FileHash;
use super::prepare::Prepared;
use super::write::{fsync_dir, fsync_file};
use crate::operations::files;
use crate::operations::layout::{self, Content, Region};
use crate::operations::manifest::{self, FileEntry, Manifest, sha256_hex};
use crate::operations::partial::Partial;
use crate::operations::timings::{Timings, timed};

/// Every file of the export with its size and sha256, sorted by path (keepsake.json's list).
pub fn file_entries(
    prepared: &Prepared,
    hashed_from_disk: &BTreeSet<Region>,
    mut hashes: BTreeMap<Region, FileHash>,
    downloaded: &Downloaded,
    t: &Timings,
) -> Result<Vec<FileEntry>> {
    let meta = &prepared.meta;
    let mut entries = vec![FileEntry {
        path: layout::METADATA.to_string(),
        size: prepared.meta_json.len() as u64,
        sha256: sha256_hex(&prepared.meta_json),
    }];
    for e in layout::expected_files(meta) {
        let path = prepared.partial.join(&e.path);
        let (size, sha256) = match &e.content {
            Content::Region(r) => match hashes.remove(r) {
                Some(h) => {
                    if h.size != r.size(meta) {
                        bail!(
                            "internal error: {} hashed {} of {} bytes",
                            r.file(),
                            h.size,
                            r.size(meta)
                        );
                    }
                    (h.size, h.sha256)
                }
                None if hashed_from_disk.contains(r) => {
                    let (size, sha) = timed(&t.hash_files, || manifest::hash_file(&path))
                        .with_context(|| format!("cannot hash {}", e.path))?;
                    t.reread_bytes.fetch_add(size, Ordering::Relaxed);
                    (size, sha)
                }
                // An empty region dfx does not write.
                None => continue,
            },
            Content::Chunk(hash) => {
                let size = match downloaded.chunk_sizes.get(&e.path) {
                    Some(&n) => n,
                    None => files::open_regular(&path)
                        .and_then(|f| f.metadata())
                        .with_context(|| format!("cannot read {}", path.display()))?
                        .len(),
                };
                (size, hex::encode(hash))
            }
        };
        entries.push(FileEntry {
            path: e.path,
            size,
            sha256,
        });
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}

/// Writes keepsake.json listing `entries`, then makes it, the journal's removal and the folders
/// durable.
pub fn write_manifest(prepared: Prepared, entries: &[FileEntry], t: &Timings) -> Result<()> {
    let man = Manifest {
        format: manifest::FORMAT,
        tool: "keepsake".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        canister_id: prepared.header.canister_id.clone(),
        snapshot_id: prepared.header.snapshot_id.clone(),
        taken_at_timestamp: prepared.meta.taken_at_timestamp,
        taken_at: crate::output::time(prepared.meta.taken_at_timestamp),
        exported_at: now_rfc3339(),
        files: entries.to_vec(),
    };
    let partial = &prepared.partial;
    let man_path = partial.join(layout::MANIFEST);
    files::write_regular(&man_path, &serde_json::to_vec_pretty(&man)?)
        .with_context(|| format!("cannot write {}", man_path.display()))?;
    timed(&t.fsync_final, || -> Result<()> {
        fsync_file(&man_path)?;
        prepared.journal.finish()?;
        fsync_dir(&partial.join(layout::CHUNK_DIR))?;
        fsync_dir(partial)
    })
}

/// Renames `<out>.partial` to `<out>` and makes the rename durable.
pub fn publish(claim: Partial, t: &Timings) -> Result<()> {
    let out = claim.out.clone();
    claim.publish()?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        timed(&t.fsync_final, || fsync_dir(parent))?;
    }
    Ok(())
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}
