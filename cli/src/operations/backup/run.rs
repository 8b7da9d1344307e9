//! `backup run`: one IC snapshot into one restic snapshot of the repository, streamed.
//!
//! 1. Read the metadata; read each chunk of the chunk store once to learn its size (a restic
//!    tree records every file's size; chunks are at most 1 MiB and usually absent).
//! 2. If the repository already holds a complete backup of this snapshot, that is the answer
//!    (a rerun and `sync` are idempotent). Unfinished first passes of this snapshot left by a
//!    killed run are removed.
//! 3. First pass: every file but keepsake.json, streamed from the IC into the repository,
//!    hashed on the way. The restic snapshot it makes is tagged `keepsake-partial` (hidden
//!    from `backup list`). keepsake.json cannot go in this pass: it holds the other files'
//!    hashes, and restic trees list files by name, so it would be read first.
//! 4. Refuse the pass if any file failed or is missing (rustic_core drops a file that fails
//!    to read, with only a warning): delete the partial snapshot and fail.
//! 5. Second pass, with the first as parent: the same files (taken over from the parent
//!    without reading anything) plus keepsake.json. This is the backup.
//! 6. Delete the first pass.
//!
//! A group backup (`group.rs`) is the same two passes over several snapshots, each in its own
//! folder with its own keepsake.json: `write` takes any number of `Part`s.
//!
//! Data blobs are content-addressed, so the second pass adds only keepsake.json and a tree;
//! a killed run leaves at worst a partial snapshot (removed by the next run) and unreferenced
//! blobs (removed by prune).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use anyhow::{Context, Result, anyhow, bail};
use rustic_core::jiff::{Timestamp, tz::TimeZone};
use rustic_core::repofile::{SnapshotFile, SnapshotId};
use rustic_core::{
    BackupOptions, IndexedIds, ParentOptions, Repository, SnapshotOptions, StringList,
};
use serde::Serialize;

use super::repo::{Password, RepoSpec, backup_id, bytes_backed_up, rustic_error};
use super::source::{IcSnapshot, IcSource, Item, Open, Outcome, snapshot_items};
use super::tags::{self, Origin};
use crate::operations::layout::{self, Content};
use crate::operations::manifest::{self, FileEntry, Manifest};
use crate::operations::store::{IcStore, Metadata, SnapshotStore as _, retry};

/// What `backup run` did.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// The restic snapshot id of the backup (what `backup restore` takes).
    pub backup_id: String,
    /// Where it came from.
    #[serde(flatten)]
    pub origin: Origin,
    /// The repository already held it: nothing was read or written.
    pub already_present: bool,
    /// Bytes of all files.
    pub total_bytes: u64,
    /// Bytes the repository grew by (after deduplication and compression).
    pub added_bytes: u64,
    /// Every file with its size and sha256 (as in keepsake.json).
    pub files: Vec<FileEntry>,
}

/// One IC snapshot's files in a backup, under `prefix` (empty for a backup of one snapshot; the
/// member's folder in a group backup), with its own keepsake.json made in the second pass.
pub(crate) struct Part {
    /// The folder (no trailing `/`), or empty for the backup's root.
    pub prefix: String,
    /// For its keepsake.json.
    pub canister_id: String,
    /// For its keepsake.json (hex).
    pub snapshot_id: String,
    /// When the IC took it.
    pub taken_at_ns: u64,
    /// Its files in export's layout but keepsake.json, paths relative to `prefix`.
    pub items: Vec<Item>,
}

impl Part {
    fn full(&self, path: &str) -> String {
        if self.prefix.is_empty() {
            path.to_string()
        } else {
            format!("{}/{path}", self.prefix)
        }
    }
}

/// Reads `from`'s metadata and the size of each chunk: the snapshot's files (keepsake.json
/// aside) as `Item`s, relative to the snapshot's folder, and the metadata.
pub(crate) async fn prepare(from: &IcSnapshot) -> Result<(Metadata, Vec<Item>)> {
    let store = IcStore::new(&from.agent, from.canister);
    let meta = retry(from.retry, || store.read_metadata(&from.snapshot)).await?;
    let meta_json = serde_json::to_vec_pretty(&meta)?;
    let mut chunk_sizes = BTreeMap::new();
    for c in &meta.wasm_chunk_store {
        let slice = layout::Slice {
            content: Content::Chunk(c.hash.clone()),
            offset: 0,
            len: 0,
        };
        let data = retry(from.retry, || {
            store.read_data(&from.snapshot, slice.read_kind())
        })
        .await?;
        chunk_sizes.insert(slice.path(), data.len() as u64);
    }
    let items = snapshot_items(from, &meta, meta_json, &chunk_sizes);
    Ok((meta, items))
}

/// What to write: the parts, files that go in with the keepsake.jsons (a group backup's
/// keepsake-group.json), and the restic snapshot's metadata.
pub(crate) struct Plan {
    /// One per IC snapshot.
    pub parts: Vec<Part>,
    /// Small files written in the second pass, by path.
    pub extra: Vec<(String, Vec<u8>)>,
    /// The backup's tags (the first pass gets `keepsake-partial` besides).
    pub tags: Vec<String>,
    /// restic's host (restic groups snapshots by host and paths).
    pub host: String,
    /// restic's path.
    pub path: String,
    /// The restic snapshot's time and every file's mtime: when the IC took the snapshot.
    pub time_ns: u64,
}

/// What `write` did.
pub(crate) enum Written {
    /// The repository already held it.
    Already(SnapshotFile),
    /// Written now.
    New {
        /// The backup.
        snap: SnapshotFile,
        /// Bytes the repository grew by.
        added_bytes: u64,
        /// Bytes of all files but the keepsake.jsons and extras.
        total_bytes: u64,
        /// Each part's files (paths relative to the part), as in its keepsake.json.
        files: Vec<Vec<FileEntry>>,
    },
}

/// Backs up `from`'s snapshot into the repository `spec`.
pub async fn run(
    spec: &RepoSpec,
    password: Password,
    from: IcSnapshot,
    origin: Origin,
) -> Result<RunSummary> {
    // 1. Metadata and chunk sizes.
    let (meta, items) = prepare(&from).await?;
    let total: u64 = items.iter().map(|i| i.size).sum();
    from.progress.set_length(total);
    let taken_at_ns = meta.taken_at_timestamp;
    let plan = Plan {
        parts: vec![Part {
            prefix: String::new(),
            canister_id: origin.canister_id.clone(),
            snapshot_id: origin.snapshot_id.clone(),
            taken_at_ns,
            items,
        }],
        extra: Vec::new(),
        tags: origin.tags(),
        host: origin.canister_id.clone(),
        path: format!("/{}", origin.canister_id),
        time_ns: taken_at_ns,
    };
    let spec = spec.clone();
    let key = origin.clone();
    // taken_at too: snapshot ids are never reused on one network, but a reset local network
    // counts from zero again.
    let mine = move |s: &SnapshotFile| {
        Origin::from_snapshot(s).is_some_and(|o| {
            o.canister_id == key.canister_id
                && o.snapshot_id == key.snapshot_id
                && o.taken_at == key.taken_at
        })
    };
    let written = tokio::task::spawn_blocking(move || write(&spec, &password, plan, mine))
        .await
        .context("the backup thread panicked")??;
    Ok(match written {
        Written::Already(done) => RunSummary {
            backup_id: backup_id(&done),
            origin,
            already_present: true,
            total_bytes: bytes_backed_up(&done),
            added_bytes: 0,
            files: Vec::new(),
        },
        Written::New {
            snap,
            added_bytes,
            total_bytes,
            mut files,
        } => RunSummary {
            backup_id: backup_id(&snap),
            origin,
            already_present: false,
            total_bytes,
            added_bytes,
            files: files.pop().unwrap_or_default(),
        },
    })
}

/// Steps 2–6 for any plan (on a blocking thread): `is_this` says which snapshots of the
/// repository are backups (complete, or first passes) of the same thing.
pub(crate) fn write(
    spec: &RepoSpec,
    password: &Password,
    plan: Plan,
    is_this: impl Fn(&SnapshotFile) -> bool,
) -> Result<Written> {
    let repo = spec.open(password)?;

    // 2. Already there? Leftovers of a killed run?
    let existing = repo.get_all_snapshots().map_err(|e| rustic_error(*e))?;
    if let Some(done) = existing
        .iter()
        .filter(|s| is_this(s) && !tags::is_partial(s))
        .max_by_key(|s| s.time.timestamp())
    {
        return Ok(Written::Already(done.clone()));
    }
    let stale: Vec<SnapshotId> = existing
        .iter()
        .filter(|s| is_this(s) && tags::is_partial(s))
        .map(|s| s.id)
        .collect();
    if !stale.is_empty() {
        repo.delete_snapshots(&stale)
            .map_err(|e| rustic_error(*e))
            .context("cannot remove an unfinished backup of this snapshot")?;
    }

    // 3. First pass: the data of every part.
    let mut items = Vec::new();
    for part in &plan.parts {
        if !part.prefix.is_empty() {
            items.push(Item {
                path: part.prefix.clone(),
                open: None,
                dir: true,
                size: 0,
            });
        }
        for i in &part.items {
            let mut i = i.clone();
            i.path = part.full(&i.path);
            items.push(i);
        }
    }
    let total_bytes: u64 = items.iter().map(|i| i.size).sum();
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let source = IcSource::new(items.clone(), plan.time_ns, outcome.clone());
    let repo = repo.to_indexed_ids().map_err(|e| rustic_error(*e))?;
    let mut first_tags = plan.tags.clone();
    first_tags.push(tags::PARTIAL.to_string());
    let first = archive(
        &repo,
        &source,
        &plan,
        &first_tags,
        BackupOptions::default().parent_opts(ParentOptions::default().force(true)),
    )?;

    // 4. Every file, whole.
    let files_expected = items.iter().filter(|i| !i.dir).count() as u64;
    let problem = {
        let o = outcome.lock().unwrap();
        if !o.errors.is_empty() {
            Some(anyhow!("{}", o.errors.join("; ")))
        } else {
            check_summary(&first, files_expected, total_bytes).err()
        }
    };
    if let Some(p) = problem {
        let cleanup = repo.delete_snapshots(&[first.id]);
        let mut e = p.context(
            "the backup failed and was not kept; run the same command again (data already stored is reused)",
        );
        if let Err(c) = cleanup {
            e = e.context(format!(
                "could not remove the unfinished snapshot {} ({}); the next run removes it",
                first.id,
                c.display_log()
            ));
        }
        return Err(e);
    }

    // 5. Second pass: each part's keepsake.json (and the extras), the rest taken from the
    // first pass.
    let done = outcome.lock().unwrap().files.clone();
    let mut files = Vec::new();
    let mut second_items: Vec<Item> = items
        .into_iter()
        .map(|mut i| {
            if !i.dir {
                i.open = None;
            }
            i
        })
        .collect();
    for part in &plan.parts {
        let mut mine: Vec<FileEntry> = part
            .items
            .iter()
            .filter(|i| !i.dir)
            .filter_map(|i| done.get(&part.full(&i.path)))
            .map(|f| FileEntry {
                path: if part.prefix.is_empty() {
                    f.path.clone()
                } else {
                    f.path[part.prefix.len() + 1..].to_string()
                },
                ..f.clone()
            })
            .collect();
        mine.sort_by(|a, b| a.path.cmp(&b.path));
        let man = Manifest {
            format: manifest::FORMAT,
            tool: "keepsake".into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            canister_id: part.canister_id.clone(),
            snapshot_id: part.snapshot_id.clone(),
            taken_at_timestamp: part.taken_at_ns,
            taken_at: crate::output::time(part.taken_at_ns),
            exported_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            files: mine.clone(),
        };
        let man_json = serde_json::to_vec_pretty(&man)?;
        second_items.push(Item {
            path: part.full(layout::MANIFEST),
            size: man_json.len() as u64,
            open: Some(Open::Bytes(man_json)),
            dir: false,
        });
        files.push(mine);
    }
    for (path, bytes) in &plan.extra {
        second_items.push(Item {
            path: path.clone(),
            size: bytes.len() as u64,
            open: Some(Open::Bytes(bytes.clone())),
            dir: false,
        });
    }
    let second_files = second_items.iter().filter(|i| !i.dir).count() as u64;
    let second_total: u64 = second_items.iter().map(|i| i.size).sum();
    let second_source = IcSource::new(second_items, plan.time_ns, outcome.clone());
    // The first pass's tree is not in the index read at open: read it again (on the open
    // repository: opening again would derive the key again, scrypt, a few hundred ms of CPU).
    let repo = repo
        .drop_index()
        .to_indexed_ids()
        .map_err(|e| rustic_error(*e))?;
    let backup = archive(
        &repo,
        &second_source,
        &plan,
        &plan.tags,
        BackupOptions::default().parent_opts(
            ParentOptions::default().parents(vec![first.id.to_hex().as_str().to_string()]),
        ),
    )?;
    let checked = {
        let o = outcome.lock().unwrap();
        if o.errors.is_empty() {
            check_summary(&backup, second_files, second_total)
        } else {
            Err(anyhow!("{}", o.errors.join("; ")))
        }
    }
    .and_then(|()| {
        let s = backup.summary.as_ref().map(|s| s.files_unmodified);
        if s == Some(files_expected) {
            Ok(())
        } else {
            // The parent was not used: the data files would be empty.
            Err(anyhow!(
                "the second pass did not take the files over from the first"
            ))
        }
    });
    if let Err(e) = checked {
        let _ = repo.delete_snapshots(&[backup.id, first.id]);
        return Err(e.context("the backup failed and was not kept; run the same command again"));
    }

    // 6. The first pass is no longer needed.
    repo.delete_snapshots(&[first.id])
        .map_err(|e| rustic_error(*e))
        .context("the backup is complete, but its first pass could not be removed; the next run removes it")?;
    let added_bytes = [&first, &backup]
        .iter()
        .filter_map(|s| s.summary.as_ref())
        .map(|s| s.data_added_packed)
        .sum();
    Ok(Written::New {
        snap: backup,
        added_bytes,
        total_bytes,
        files,
    })
}

/// Did the pass archive every file, with every byte?
fn check_summary(s: &SnapshotFile, files: u64, bytes: u64) -> Result<()> {
    let summary = s
        .summary
        .as_ref()
        .ok_or_else(|| anyhow!("the snapshot has no summary"))?;
    if summary.total_files_processed != files || summary.total_bytes_processed != bytes {
        bail!(
            "only {} of {} files ({} of {} bytes) made it into the repository",
            summary.total_files_processed,
            files,
            summary.total_bytes_processed,
            bytes
        );
    }
    Ok(())
}

/// One archive pass: a restic snapshot of `source`, dated when the IC took the snapshot, with
/// the plan's host and path (restic groups snapshots by host and paths for `forget`).
fn archive<S: IndexedIds>(
    repo: &Repository<S>,
    source: &IcSource,
    plan: &Plan,
    tags: &[String],
    opts: BackupOptions,
) -> Result<SnapshotFile> {
    let time = Timestamp::from_nanosecond(i128::from(plan.time_ns))
        .unwrap_or_default()
        .to_zoned(TimeZone::UTC);
    let snap_opts = SnapshotOptions::default()
        .host(Some(plan.host.clone()))
        .time(Some(time))
        .command(Some(format!("keepsake {}", env!("CARGO_PKG_VERSION"))));
    let mut snap = SnapshotFile::from_options(&snap_opts).map_err(|e| rustic_error(*e))?;
    let list: StringList = tags
        .join(",")
        .parse()
        .map_err(|e| anyhow!("cannot tag the snapshot: {e}"))?;
    snap.add_tags(vec![list]);
    let paths = [PathBuf::from(&plan.path)];
    repo.archive(&opts, source, snap, &paths)
        .map_err(|e| rustic_error(*e))
        .context("writing to the repository failed")
}
