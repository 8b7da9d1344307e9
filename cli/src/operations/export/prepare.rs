//! Stage 1 of an export: the claimed `<out>.partial` made ready to receive slices.
//!
//! An interrupted export of the same snapshot is resumed (its journal says which slices are
//! already on disk); one of another snapshot is refused, never mixed in. The journal's header
//! is written only once the snapshot is known to exist (a mistyped `--snapshot` leaves no
//! journal to trip over) and before any file, so until then the folder holds nothing but the
//! lock and an empty chunk folder (`partial` refuses a `.partial` holding anything else without
//! a journal). metadata.json is then written, or checked against the one an earlier run wrote.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::{ExportHeader, ExportOptions};
use crate::operations::files;
use crate::operations::journal::{Entry, Journal};
use crate::operations::layout;
use crate::operations::partial::Partial;
use crate::operations::store::{Metadata, SnapshotStore, retry};

/// Slices an earlier run journaled, by (path, offset); each is re-checked before it is trusted.
pub type Journaled = BTreeMap<(String, u64), Entry>;

/// `<out>.partial`, ready: the journal open, metadata.json written.
pub struct Prepared {
    /// `<out>.partial`.
    pub partial: PathBuf,
    /// Which snapshot it holds (the journal's first line).
    pub header: ExportHeader,
    /// What an interrupted run of this export left (empty for a fresh export).
    pub journaled: Journaled,
    /// The journal this run appends to.
    pub journal: Journal,
    /// The snapshot's metadata.
    pub meta: Metadata,
    /// metadata.json's bytes, as written.
    pub meta_json: Vec<u8>,
}

/// Resumes or starts the export of `snapshot` into `claim`'s folder, reads the metadata and
/// writes metadata.json.
pub async fn prepare<S: SnapshotStore>(
    store: &S,
    snapshot: &[u8],
    opts: &ExportOptions,
    claim: &mut Partial,
) -> Result<Prepared> {
    if claim.out != opts.out {
        bail!(
            "internal error: claimed {} to export into {}",
            claim.out.display(),
            opts.out.display()
        );
    }
    let partial = claim.dir.clone();
    let header = ExportHeader {
        canister_id: store.canister().to_text(),
        snapshot_id: hex::encode(snapshot),
    };
    let journaled = resume_point(claim, &header)?;
    let fresh = journaled.is_empty();
    real_dir(&partial.join(layout::CHUNK_DIR))?;
    let meta = retry(opts.retry, || store.read_metadata(snapshot)).await?;
    let journal = Journal::open(&partial.join(layout::EXPORT_JOURNAL), &header, fresh)?;
    let meta_json = serde_json::to_vec_pretty(&meta)?;
    write_metadata(&partial.join(layout::METADATA), &meta_json, fresh, &partial)?;
    Ok(Prepared {
        partial,
        header,
        journaled,
        journal,
        meta,
        meta_json,
    })
}

/// The slices an interrupted export of this same snapshot journaled; none for a fresh export.
fn resume_point(claim: &mut Partial, header: &ExportHeader) -> Result<Journaled> {
    match claim.previous.take() {
        Some(l) if l.header == *header => Ok(l.done),
        Some(l) => bail!(
            "{} holds an interrupted export of snapshot {} of {}, not of snapshot {} of {}; \
             resume it with `--snapshot {}`, or remove that folder to start over",
            claim.dir.display(),
            l.header.snapshot_id,
            l.header.canister_id,
            header.snapshot_id,
            header.canister_id,
            l.header.snapshot_id
        ),
        None => Ok(BTreeMap::new()),
    }
}

/// Writes metadata.json; a resumed export's must be the one written before (the snapshot's
/// state is what its journaled slices belong to).
fn write_metadata(path: &Path, meta_json: &[u8], fresh: bool, partial: &Path) -> Result<()> {
    if !fresh
        && let Ok(old) = files::read_regular(path)
        && old != meta_json
    {
        bail!(
            "{} was written for a different snapshot state; remove {} and export again",
            path.display(),
            partial.display()
        );
    }
    files::write_regular(path, meta_json)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Creates `path` as a folder, or checks the one there is a real folder (not a link to one).
fn real_dir(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(m) => bail!(
            "{} is {}, not a folder; remove it and run again",
            path.display(),
            files::describe(&m.file_type())
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir(path).with_context(|| format!("cannot create {}", path.display()))
        }
        Err(e) => Err(e).with_context(|| format!("cannot look at {}", path.display())),
    }
}
