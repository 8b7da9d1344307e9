//! `backup restore`: a backup uploaded from the repository into a canister as a new snapshot,
//! streamed (nothing on local disk), and optionally loaded.
//!
//! 1. Find the backup; read its tree, metadata.json and keepsake.json; every file keepsake.json
//!    lists must be in the tree with its size.
//! 2. Upload the metadata (creates the snapshot; not retried, like import: a lost reply could
//!    otherwise create two snapshots).
//! 3. One thread reads the files from the repository slice by slice, in file order (rustic_core
//!    decrypts and authenticates every blob, so a corrupted pack fails here, before its bytes
//!    are uploaded) and hashes each file; `concurrency` uploads run at once.
//! 4. Every file's sha256 must match keepsake.json before the snapshot is loaded.
//! 5. `--load`: stop, load, and start again whatever happened (as `import --restore`).

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use futures::StreamExt;
use indicatif::ProgressBar;
use rustic_core::repofile::{Node, SnapshotFile};
use rustic_core::vfs::OpenFile;
use rustic_core::{IndexedFull, Repository, TreeId};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::repo::{Password, RepoSpec, rustic_error};
use super::tags::{self, GroupOrigin, Origin};
use crate::operations::import::{RestoreSteps, restore as load_snapshot, upload_args};
use crate::operations::layout::{self, Slice};
use crate::operations::manifest::Manifest;
use crate::operations::store::{Metadata, RetryPolicy, SnapshotStore, retry};

/// How to restore.
#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// Snapshot of the target to replace (`--replace`).
    pub replace: Option<Vec<u8>>,
    /// Uploads in flight.
    pub concurrency: usize,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// Load the snapshot after the upload.
    pub load: bool,
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreSummary {
    /// The backup (restic snapshot id).
    pub backup_id: String,
    /// Where the backup came from.
    pub origin: Origin,
    /// The canister it went to.
    pub canister_id: String,
    /// The new snapshot on that canister, hex.
    pub snapshot_id: String,
    /// Bytes uploaded.
    pub uploaded_bytes: u64,
    /// The load's steps, with `--load`.
    pub load: Option<RestoreSteps>,
}

/// One snapshot's files in a backup (the whole backup, or one member's folder of a group
/// backup), checked against its metadata.json and keepsake.json, ready to be read.
pub(crate) struct Opened {
    pub meta: Metadata,
    pub manifest: Manifest,
    /// Files by path relative to the snapshot's folder.
    pub nodes: BTreeMap<String, Node>,
}

/// Reads a whole (small) file of the backup.
fn read_all<S: IndexedFull>(repo: &Repository<S>, node: &Node) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    repo.dump(node, &mut out).map_err(|e| rustic_error(*e))?;
    Ok(out)
}

/// One slice of a file of the backup; `open` keeps the file being read open.
fn read_slice<S: IndexedFull>(
    repo: &Repository<S>,
    nodes: &BTreeMap<String, Node>,
    open: &mut Option<(String, OpenFile)>,
    s: &Slice,
) -> Result<Vec<u8>> {
    let path = s.path();
    let node = nodes
        .get(&path)
        .ok_or_else(|| anyhow!("the backup has no {path}"))?;
    if open.as_ref().is_none_or(|(p, _)| p != &path) {
        *open = Some((
            path.clone(),
            repo.open_file(node).map_err(|e| rustic_error(*e))?,
        ));
    }
    let (_, f) = open.as_ref().expect("opened above");
    // A chunk is uploaded whole (its slice length is 0 until read).
    let len = if s.len == 0 { node.meta.size } else { s.len };
    let bytes = repo
        .read_file_at(f, s.offset as usize, len as usize)
        .map_err(|e| rustic_error(*e))
        .with_context(|| format!("cannot read {path} from the repository"))?;
    if bytes.len() as u64 != len {
        bail!(
            "{path} at offset {}: the repository gave {} of {len} bytes",
            s.offset,
            bytes.len()
        );
    }
    Ok(bytes.to_vec())
}

/// Opens the repository (with its full index) and finds the backup; refuses an unfinished one.
pub(crate) fn find_backup(
    spec: &RepoSpec,
    password: &Password,
    backup_id: &str,
) -> Result<(Repository<impl IndexedFull + use<>>, SnapshotFile)> {
    let repo = spec
        .open(password)?
        .to_indexed()
        .map_err(|e| rustic_error(*e))?;
    let snap = repo
        .get_snapshot_from_str(backup_id, |_| true)
        .map_err(|e| rustic_error(*e))
        .with_context(|| {
            format!(
                "no backup {backup_id} in {}; `keepsake backup list --repo {}` shows them",
                spec.repo, spec.repo
            )
        })?;
    if tags::is_partial(&snap) {
        bail!("{backup_id} is an unfinished backup (a killed `backup run`); it cannot be restored");
    }
    Ok((repo, snap))
}

/// Step 1 for one snapshot's folder (`tree`): its files, metadata.json and keepsake.json, and
/// every file keepsake.json lists present with its size. `what` names it in errors.
pub(crate) fn open_tree<S: IndexedFull>(
    repo: &Repository<S>,
    tree: TreeId,
    what: &str,
) -> Result<Opened> {
    let mut nodes = BTreeMap::new();
    let root = repo.get_tree(&tree).map_err(|e| rustic_error(*e))?;
    for node in root.nodes {
        let name = node.name().to_string_lossy().into_owned();
        if node.is_dir() && name == layout::CHUNK_DIR {
            let id = node
                .subtree
                .ok_or_else(|| anyhow!("{} has no content", layout::CHUNK_DIR))?;
            for chunk in repo.get_tree(&id).map_err(|e| rustic_error(*e))?.nodes {
                let n = chunk.name().to_string_lossy().into_owned();
                nodes.insert(format!("{}/{n}", layout::CHUNK_DIR), chunk);
            }
        } else if node.is_file() {
            nodes.insert(name, node);
        }
    }
    let get = |path: &str| {
        nodes
            .get(path)
            .ok_or_else(|| anyhow!("{what} has no {path}"))
    };
    let meta_bytes = read_all(repo, get(layout::METADATA)?)?;
    let meta: Metadata = serde_json::from_slice(&meta_bytes)
        .with_context(|| format!("the {} of {what}", layout::METADATA))?;
    let manifest: Manifest = serde_json::from_slice(&read_all(repo, get(layout::MANIFEST)?)?)
        .with_context(|| format!("the {} of {what}", layout::MANIFEST))?;
    for f in &manifest.files {
        let node = get(&f.path)?;
        if node.meta.size != f.size {
            bail!(
                "{what}: {} holds {} bytes, keepsake.json says {}",
                f.path,
                node.meta.size,
                f.size
            );
        }
    }
    for e in layout::expected_files(&meta) {
        if !e.optional && !manifest.files.iter().any(|f| f.path == e.path) {
            bail!("{what} lacks {}", e.path);
        }
    }
    Ok(Opened {
        meta,
        manifest,
        nodes,
    })
}

/// Uploads backup `backup_id` of the repository to `store`'s canister.
pub async fn restore<S: SnapshotStore>(
    spec: &RepoSpec,
    password: Password,
    backup_id: &str,
    store: &S,
    opts: &RestoreOptions,
    progress: &ProgressBar,
) -> Result<RestoreSummary> {
    // 1. The backup.
    let (spec2, id) = (spec.clone(), backup_id.to_string());
    let (repo, snap, origin, opened) = tokio::task::spawn_blocking(move || -> Result<_> {
        let (repo, snap) = find_backup(&spec2, &password, &id)?;
        if GroupOrigin::from_snapshot(&snap).is_some() {
            bail!(
                "{id} is a group backup; restore it as a unit with `keepsake backup restore {id} --repo {} [--to <module>=<canister>…] [--load]`",
                spec2.repo
            );
        }
        let origin = Origin::from_snapshot(&snap)
            .ok_or_else(|| anyhow!("{id} is not a keepsake backup (it has no keepsake tags)"))?;
        let opened = open_tree(&repo, snap.tree, &format!("backup {id}"))?;
        Ok((repo, snap, origin, opened))
    })
    .await
    .context("the repository thread panicked")??;

    // 2.–4.
    let (snapshot, uploaded_bytes) =
        upload(Arc::new(repo), opened, store, opts, progress, &spec.repo).await?;

    // 5. Load.
    let load = if opts.load {
        Some(load_snapshot(store, &snapshot, opts.retry).await?)
    } else {
        None
    };
    Ok(RestoreSummary {
        backup_id: snap.id.to_hex().as_str().to_string(),
        origin,
        canister_id: store.canister().to_text(),
        snapshot_id: hex::encode(&snapshot),
        uploaded_bytes,
        load,
    })
}

/// Steps 2–4 for one snapshot's folder: uploads it to `store`'s canister as a new snapshot
/// and returns its id and the bytes uploaded. On any failure after the metadata upload, the
/// partly uploaded snapshot is deleted (the error says whether that worked).
pub(crate) async fn upload<S: SnapshotStore, R: IndexedFull + Send + Sync + 'static>(
    repo: Arc<Repository<R>>,
    opened: Opened,
    store: &S,
    opts: &RestoreOptions,
    progress: &ProgressBar,
    repo_name: &str,
) -> Result<(Vec<u8>, u64)> {
    let target = store.canister();
    let sizes: BTreeMap<String, u64> = opened
        .manifest
        .files
        .iter()
        .map(|f| (f.path.clone(), f.size))
        .collect();
    let slices = layout::slices(&opened.meta, layout::UPLOAD_SLICE, |h| {
        sizes.get(&layout::chunk_path(h)).copied().unwrap_or(0)
    });
    let total: u64 = slices.iter().map(|s| s.len).sum();
    progress.set_length(total);

    // 2. Metadata.
    let args = upload_args(&opened.meta, target, opts.replace.clone())?;
    let snapshot = store.upload_metadata(args).await.map_err(|e| e.error)?;
    let snapshot_hex = hex::encode(&snapshot);

    // 3.–4. On any failure the partly uploaded snapshot is deleted: it must never be left
    // looking like a usable snapshot (and it holds one of the canister's few slots).
    match upload_files(
        repo, opened, slices, total, store, &snapshot, opts, progress,
    )
    .await
    {
        Ok(bytes) => Ok((snapshot, bytes)),
        Err(e) => {
            let deleted = retry(opts.retry, || store.delete(&snapshot)).await;
            Err(match deleted {
                Ok(()) => e.context(format!(
                    "the restore stopped and nothing was loaded; the partly uploaded snapshot {snapshot_hex} \
                     of {target} was deleted. Check the repository with `keepsake backup check --repo {repo_name} --read-data`"
                )),
                Err(d) => e.context(format!(
                    "the restore stopped and nothing was loaded; snapshot {snapshot_hex} of {target} is \
                     incomplete and could not be deleted ({:#}): do not load it; delete it with \
                     `dfx canister snapshot delete {target} {snapshot_hex}`",
                    d
                )),
            })
        }
    }
}

/// Steps 3 and 4: reads the files from the repository in file order on a thread (every blob
/// decrypted and authenticated by rustic_core, every file hashed against keepsake.json) and
/// uploads `concurrency` slices at once. Returns the bytes uploaded.
#[allow(clippy::too_many_arguments)]
async fn upload_files<S: SnapshotStore, R: IndexedFull + Send + Sync + 'static>(
    repo: Arc<Repository<R>>,
    opened: Opened,
    slices: Vec<Slice>,
    total: u64,
    store: &S,
    snapshot: &[u8],
    opts: &RestoreOptions,
    progress: &ProgressBar,
) -> Result<u64> {
    let concurrency = opts.concurrency.max(1);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<(Slice, Vec<u8>)>>(concurrency);
    let expected: BTreeMap<String, String> = opened
        .manifest
        .files
        .iter()
        .map(|f| (f.path.clone(), f.sha256.clone()))
        .collect();
    let nodes = opened.nodes;
    let reader = tokio::task::spawn_blocking(move || -> Result<()> {
        let mut hashes: BTreeMap<String, Sha256> = BTreeMap::new();
        let mut open = None;
        for s in slices {
            let path = s.path();
            let r = read_slice(&repo, &nodes, &mut open, &s);
            let failed = r.is_err();
            if let Ok(b) = &r {
                hashes.entry(path).or_default().update(b);
            }
            if tx.blocking_send(r.map(|b| (s, b))).is_err() || failed {
                return Ok(());
            }
        }
        // 4. Every file as keepsake.json says.
        for (path, sha) in hashes {
            let got = hex::encode(sha.finalize());
            if expected.get(&path) != Some(&got) {
                bail!("{path} read from the repository does not match the sha256 in keepsake.json");
            }
        }
        Ok(())
    });
    let mut uploads = futures::stream::poll_fn(|cx| rx.poll_recv(cx))
        .map(|r| async move {
            let (s, bytes) = r?;
            let len = bytes.len() as u64;
            retry(opts.retry, || {
                store.upload_data(snapshot, s.upload_kind(), bytes.clone())
            })
            .await?;
            Ok::<_, anyhow::Error>(len)
        })
        .buffer_unordered(concurrency);
    let mut uploaded_bytes = 0;
    let mut failed = None;
    while let Some(r) = uploads.next().await {
        match r {
            Ok(n) => {
                uploaded_bytes += n;
                progress.inc(n);
            }
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    drop(uploads);
    let read = reader.await.context("the repository thread panicked")?;
    // The reader's own error (a corrupted pack) explains an upload stream cut short.
    read?;
    if let Some(e) = failed {
        return Err(e);
    }
    if uploaded_bytes != total {
        bail!("uploaded {uploaded_bytes} of {total} bytes");
    }
    progress.finish_and_clear();
    Ok(uploaded_bytes)
}
