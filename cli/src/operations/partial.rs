//! `--out` and `<out>.partial` for an export: everything checked before anything is downloaded
//! (or a snapshot taken), and an advisory lock so that two exports never write one folder.
//!
//! 1. `--out` must not exist at all: not as a folder, a file, or a (dangling) link.
//! 2. `<out>.partial` is a real folder (never a link: an export would write through it into
//!    another folder, then rename the link into place), created here if absent.
//! 3. The lock: `<out>.partial/.keepsake-export.lock`, `flock`ed (`File::try_lock`) for the whole
//!    export and holding the holder's pid for the message a second export prints. The lock file
//!    is checked to still be the one at that path after locking, so an export that lost a race
//!    with one finishing (which removes the file before its rename) retries instead of writing
//!    into a folder that is gone.
//! 4. Under the lock, the folder must hold a journal of an export, or nothing but the lock file
//!    and an empty `wasm_chunk_store/`: a `.partial` made by something else is never mixed into
//!    an export.
//!
//! Dropping a claim whose folder it created and that still holds nothing else (the command
//! failed before the export wrote anything) removes the folder again.

use std::fs::{File, TryLockError};
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::export::ExportHeader;
use super::files;
use super::journal::{self, Loaded};
use super::layout;

/// The lock file inside `<out>.partial`.
pub const LOCK: &str = ".keepsake-export.lock";

/// Checks that `out` does not exist in any form (a dangling link counts: the final rename
/// would fail on it after the whole download).
pub fn check_out(out: &Path) -> Result<()> {
    match std::fs::symlink_metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot look at --out {}", out.display())),
        Ok(m) if m.file_type().is_symlink() => {
            let to = std::fs::read_link(out)
                .map(|t| t.display().to_string())
                .unwrap_or_else(|_| "?".into());
            let dangling = if out.exists() {
                ""
            } else {
                ", which does not exist"
            };
            bail!(
                "--out {} is a symbolic link (to {to}{dangling}); give a path that does not exist yet",
                out.display()
            )
        }
        Ok(m) if m.is_dir() => bail!(
            "{} already exists; choose another --out, or remove it to export again",
            out.display()
        ),
        Ok(m) => bail!(
            "--out {} already exists and is {}, not a folder; give a path that does not exist yet",
            out.display(),
            files::describe(&m.file_type())
        ),
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty())
        && let Ok(m) = std::fs::metadata(parent)
        && !m.is_dir()
    {
        bail!(
            "{} is not a folder, so --out {} cannot be created in it",
            parent.display(),
            out.display()
        );
    }
    Ok(())
}

/// An export's hold on `<out>.partial`: checked, locked, and what an earlier run left in it.
pub struct Partial {
    /// The final folder.
    pub out: PathBuf,
    /// `<out>.partial`.
    pub dir: PathBuf,
    /// The journal an interrupted export left, if any.
    pub previous: Option<Loaded<ExportHeader>>,
    lock: File,
    /// The folder was created by this claim (removed again on drop if nothing was written).
    created: bool,
}

/// What `dir` holds besides the lock file and an empty, real `wasm_chunk_store/` (what an
/// export holds before it writes its journal).
fn contents(dir: &Path) -> Result<Vec<String>> {
    let mut others = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let empty_chunk_dir = name == layout::CHUNK_DIR
            && entry.file_type()?.is_dir()
            && std::fs::read_dir(entry.path())?.next().is_none();
        if name != LOCK && !empty_chunk_dir {
            others.push(name);
        }
    }
    Ok(others)
}

/// The pid written in a lock file, for the message a second export prints.
fn holder(lock: &mut File) -> String {
    let mut text = String::new();
    let _ = lock.read_to_string(&mut text);
    let pid = text.trim();
    if pid.is_empty() {
        "unknown".into()
    } else {
        pid.into()
    }
}

impl Partial {
    /// Checks `out`, creates or checks `<out>.partial`, and locks it (steps 1–4 above).
    pub fn claim(out: &Path) -> Result<Self> {
        for _ in 0..3 {
            if let Some(p) = Self::try_claim(out)? {
                return Ok(p);
            }
        }
        bail!(
            "another export into {} keeps starting or finishing; wait for it and run again",
            out.display()
        )
    }

    /// One attempt; `Ok(None)` when the lock file was replaced while it was being locked.
    fn try_claim(out: &Path) -> Result<Option<Self>> {
        check_out(out)?;
        let dir = layout::partial_dir(out);
        let mut created = false;
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_symlink() => bail!(
                "{} is a symbolic link; an export writes only into a folder it created. Remove \
                 the link (not what it points to) and run again",
                dir.display()
            ),
            Ok(m) if !m.is_dir() => bail!(
                "{} is {}, not an export's folder; remove it or choose another --out",
                dir.display(),
                files::describe(&m.file_type())
            ),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)
                        .with_context(|| format!("cannot create {}", parent.display()))?;
                }
                match std::fs::create_dir(&dir) {
                    Ok(()) => created = true,
                    // Another export created it first: the lock decides.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => {
                        return Err(e).with_context(|| format!("cannot create {}", dir.display()));
                    }
                }
            }
            Err(e) => return Err(e).with_context(|| format!("cannot look at {}", dir.display())),
        }
        let lock_path = dir.join(LOCK);
        let mut lock = files::open_writable(&lock_path)
            .with_context(|| format!("cannot open the lock file {}", lock_path.display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => bail!(
                "another export into {} is running (pid {}?); wait for it to finish, or stop it \
                 and run this command again to resume",
                out.display(),
                holder(&mut lock)
            ),
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", lock_path.display()));
            }
        }
        // Still the file at that path? An export that finished removed it before its rename.
        let locked = lock.metadata()?;
        match std::fs::symlink_metadata(&lock_path) {
            Ok(m) if (m.dev(), m.ino()) == (locked.dev(), locked.ino()) => {}
            _ => return Ok(None),
        }
        lock.set_len(0)?;
        lock.write_all(format!("{}\n", std::process::id()).as_bytes())?;

        // 4. Under the lock: a journal of an export, or nothing but the lock file.
        let previous = journal::load::<ExportHeader>(&dir.join(layout::EXPORT_JOURNAL))?;
        if previous.is_none() {
            let others = contents(&dir)?;
            if !others.is_empty() {
                bail!(
                    "{} holds no journal of a keepsake export (it holds {}), so it was not written \
                     by an export of this folder or its journal is gone; remove it, or choose \
                     another --out",
                    dir.display(),
                    others.join(", ")
                );
            }
        }
        Ok(Some(Partial {
            out: out.to_path_buf(),
            dir,
            previous,
            lock,
            created,
        }))
    }

    /// The interrupted export's header, if any.
    pub fn pending(&self) -> Option<&ExportHeader> {
        self.previous.as_ref().map(|l| &l.header)
    }

    /// Renames `<out>.partial` to `<out>`. The lock file is removed first (while still held),
    /// so the published folder holds only the snapshot; an export that locked it meanwhile
    /// sees it gone and retries, then finds `<out>`.
    pub fn publish(mut self) -> Result<()> {
        check_out(&self.out)?;
        let lock_path = self.dir.join(LOCK);
        std::fs::remove_file(&lock_path)
            .with_context(|| format!("cannot remove {}", lock_path.display()))?;
        std::fs::rename(&self.dir, &self.out).with_context(|| {
            format!(
                "cannot rename {} to {}",
                self.dir.display(),
                self.out.display()
            )
        })?;
        self.created = false;
        Ok(())
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        // Nothing written yet (the command failed before the export began): leave no folder.
        if self.created && contents(&self.dir).is_ok_and(|c| c.is_empty()) {
            let _ = std::fs::remove_dir(self.dir.join(layout::CHUNK_DIR));
            let _ = std::fs::remove_file(self.dir.join(LOCK));
            let _ = std::fs::remove_dir(&self.dir);
        }
        let _ = self.lock.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operations::journal::Journal;

    #[test]
    fn a_second_claim_of_the_same_out_is_refused_naming_the_running_export() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("b");
        let first = Partial::claim(&out).unwrap();
        let err = Partial::claim(&out).err().unwrap().to_string();
        assert!(
            err.contains("another export into")
                && err.contains(&format!("pid {}?", std::process::id())),
            "{err}"
        );
        drop(first);
        // Released, and the empty folder it created is gone.
        assert!(!layout::partial_dir(&out).exists());
        Partial::claim(&out).unwrap();
    }

    #[test]
    fn a_symlinked_partial_folder_is_refused_and_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("b");
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, layout::partial_dir(&out)).unwrap();
        let err = Partial::claim(&out).err().unwrap().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    }

    #[test]
    fn a_partial_folder_without_a_journal_is_refused_and_one_with_a_journal_is_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("b");
        let partial = layout::partial_dir(&out);
        std::fs::create_dir(&partial).unwrap();
        std::fs::write(partial.join("wasm_module.bin"), b"?").unwrap();
        let err = Partial::claim(&out).err().unwrap().to_string();
        assert!(err.contains("holds no journal"), "{err}");
        let header = ExportHeader {
            canister_id: "aaaaa-aa".into(),
            snapshot_id: "01".into(),
        };
        Journal::open(&partial.join(layout::EXPORT_JOURNAL), &header, true).unwrap();
        let p = Partial::claim(&out).unwrap();
        assert_eq!(p.pending(), Some(&header));
    }

    #[test]
    fn an_out_that_is_a_dangling_link_or_a_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("b");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &out).unwrap();
        let err = check_out(&out).unwrap_err().to_string();
        assert!(
            err.contains("symbolic link") && err.contains("does not exist"),
            "{err}"
        );
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        let err = check_out(&file).unwrap_err().to_string();
        assert!(err.contains("not a folder"), "{err}");
        assert!(Partial::claim(&out).is_err());
        assert!(!layout::partial_dir(&out).exists());
    }
}
