//! A restic repository on any OpenDAL service (S3, WebDAV, SFTP, Azure Blob: the ones keepsake
//! compiles in, see `schemes`), as rustic_core's backend. rustic_backend's own OpenDAL backend
//! would compile in every OpenDAL service; this one sees only the services we enable.
//!
//! The repository's files sit under the service's root in restic's layout (`config`,
//! `keys/<id>`, `snapshots/<id>`, `index/<id>`, `data/<2 hex>/<id>`), so the `restic` CLI reads
//! it too. How a file is written depends on what the service can do:
//! - object stores that take a file in parts (S3, Azure Blob): a pack larger than `PART` goes
//!   up in `PART`-sized parts, `PARTS_IN_FLIGHT` at once (a failed part is retried alone, no
//!   request carries more than `PART` bytes); the store shows the file only once it is whole;
//! - file servers that can rename (SFTP, WebDAV): the bytes go to a temporary name next to the
//!   file, which is renamed into place once complete, so an interrupted write never leaves a
//!   half file under a restic name (the temporary name is not an id: listings skip it).
//!
//! Every request is retried `retries` times (exponential backoff from 1 s) by OpenDAL.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use opendal::layers::RetryLayer;
use opendal::options::{ListOptions, WriteOptions};
use opendal::{EntryMode, ErrorKind as DalKind};
use rustic_core::{
    BytesList, ErrorKind, FileType, Id, ReadBackend, RusticError, RusticResult, WriteBackend,
};

/// The part size of a multipart upload (S3's minimum is 5 MiB).
pub const PART: usize = 8 * 1024 * 1024;
/// Parts uploaded at once.
const PARTS_IN_FLIGHT: usize = 4;

/// Marks a file being written (`<name>.keepsake-part-<random>`), until it is renamed.
const PART_SUFFIX: &str = ".keepsake-part-";

/// The runtime OpenDAL's requests run on. rustic_core calls the backend from its own threads
/// (and from tokio's blocking pool), never from async code, so blocking on this is safe.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("keepsake-store")
            .enable_all()
            .build()
            .expect("a tokio runtime for storage requests")
    })
}

/// One OpenDAL service at one root (a bucket and prefix, a folder on a server, …).
#[derive(Debug)]
pub struct StoreBackend {
    op: opendal::blocking::Operator,
    location: String,
    /// Write to a temporary name and rename (see the module docs).
    rename_into_place: bool,
    /// Upload large files in parts.
    in_parts: bool,
}

fn backend_error(what: &'static str, path: &str, e: opendal::Error) -> Box<RusticError> {
    RusticError::with_source(ErrorKind::Backend, what, e).attach_context("path", path.to_string())
}

impl StoreBackend {
    /// `scheme`: the OpenDAL service; `options`: its settings (root, endpoint, credentials…);
    /// `location`: how the repository is named in messages (never with a secret in it).
    pub fn new(
        scheme: &str,
        options: BTreeMap<String, String>,
        retries: usize,
        location: String,
    ) -> RusticResult<Self> {
        // Registers the enabled services and the HTTP transport (idempotent).
        opendal::install_default();
        let op = opendal::Operator::via_iter(scheme, options)
            .map_err(|e| {
                RusticError::with_source(ErrorKind::Backend, "cannot set up access to `{path}`", e)
                    .attach_context("path", location.clone())
            })?
            .layer(RetryLayer::new().with_max_times(retries).with_jitter());
        let _guard = runtime().enter();
        let op = opendal::blocking::Operator::new(op).map_err(|e| {
            RusticError::with_source(ErrorKind::Internal, "no runtime for `{path}`", e)
                .attach_context("path", location.clone())
        })?;
        let cap = op.info().capability();
        Ok(Self {
            rename_into_place: cap.rename,
            in_parts: cap.write_can_multi && !cap.rename,
            op,
            location,
        })
    }

    /// Writes `parts` to a temporary name next to `path`, then renames it into place. A failed
    /// write removes the temporary file (if it can: one left behind is not a restic file).
    fn write_then_rename(&self, path: &str, parts: Vec<bytes::Bytes>) -> RusticResult<()> {
        let tmp = format!("{path}{PART_SUFFIX}{}", Id::random().to_hex().as_str());
        let content = opendal::Buffer::from(parts);
        let written = self
            .op
            .write(&tmp, content.clone())
            .map(|_| ())
            .and_then(|()| self.rename(&tmp, path, &content));
        // Whatever happened, the temporary file must not stay (renamed, it is gone already).
        let _ = self.op.delete(&tmp);
        written.map_err(|e| backend_error("cannot write `{path}`", path, e))
    }

    /// Renames `from` (holding `content`) to `to`. Some servers (SFTP version 3) refuse to
    /// rename onto an existing file. restic names its files by their content, so a file already
    /// there usually holds the same bytes: then it stays as it is (never removed, so a failure
    /// now cannot lose it). Only a file with other bytes under the same name — keepsake's lock,
    /// rewritten by its holder when it refreshes it — is removed and replaced.
    fn rename(&self, from: &str, to: &str, content: &opendal::Buffer) -> opendal::Result<()> {
        let Err(e) = self.op.rename(from, to) else {
            return Ok(());
        };
        let Ok(existing) = self.op.read(to) else {
            return Err(e);
        };
        if existing.to_bytes() == content.to_bytes() {
            return Ok(());
        }
        self.op.delete(to).map_err(|_| e)?;
        self.op.rename(from, to)
    }

    /// Where restic keeps a file of this type and id.
    fn path(tpe: FileType, id: &Id) -> String {
        let hex = id.to_hex();
        let hex = hex.as_str();
        match tpe {
            FileType::Config => "config".to_string(),
            FileType::Pack => format!("data/{}/{hex}", &hex[..2]),
            other => format!("{}/{hex}", other.dirname()),
        }
    }
}

impl ReadBackend for StoreBackend {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn list_with_size(&self, tpe: FileType) -> RusticResult<Vec<(Id, u32)>> {
        if tpe == FileType::Config {
            return match self.op.stat("config") {
                Ok(m) => Ok(vec![(
                    Id::default(),
                    u32::try_from(m.content_length()).unwrap_or(u32::MAX),
                )]),
                Err(e) if e.kind() == DalKind::NotFound => Ok(Vec::new()),
                Err(e) => Err(backend_error("cannot read `{path}`", "config", e)),
            };
        }
        let dir = format!("{}/", tpe.dirname());
        let opts = ListOptions {
            recursive: true,
            ..Default::default()
        };
        let entries = match self.op.list_options(&dir, opts) {
            Ok(e) => e,
            // A prefix with nothing under it (or a bucket that does not exist: the caller
            // then finds no config and says which).
            Err(e) if e.kind() == DalKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(backend_error("cannot list `{path}`", &dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            if entry.metadata().mode() != EntryMode::FILE {
                continue;
            }
            let name = entry.name();
            // Anything that is not named by an id is not restic's (e.g. a folder marker).
            let Ok(id) = name.parse::<Id>() else { continue };
            let size = u32::try_from(entry.metadata().content_length()).unwrap_or(u32::MAX);
            out.push((id, size));
        }
        Ok(out)
    }

    fn read_full(&self, tpe: FileType, id: &Id) -> RusticResult<bytes::Bytes> {
        let path = Self::path(tpe, id);
        self.op
            .read(&path)
            .map(|b| b.to_bytes())
            .map_err(|e| backend_error("cannot read `{path}`", &path, e))
    }

    fn read_partial(
        &self,
        tpe: FileType,
        id: &Id,
        _cacheable: bool,
        offset: u32,
        length: u32,
    ) -> RusticResult<bytes::Bytes> {
        let path = Self::path(tpe, id);
        let range = u64::from(offset)..u64::from(offset) + u64::from(length);
        self.op
            .reader(&path)
            .and_then(|r| r.read(range))
            .map(|b| b.to_bytes())
            .map_err(|e| backend_error("cannot read part of `{path}`", &path, e))
    }

    fn warmup_path(&self, tpe: FileType, id: &Id) -> String {
        Self::path(tpe, id)
    }
}

impl WriteBackend for StoreBackend {
    /// Object stores have no folders, and file servers get theirs made as files are written:
    /// nothing to create.
    fn create(&self) -> RusticResult<()> {
        Ok(())
    }

    fn write_bytes(
        &self,
        tpe: FileType,
        id: &Id,
        _cacheable: bool,
        content: BytesList,
    ) -> RusticResult<()> {
        let path = Self::path(tpe, id);
        let parts = content.into_vec();
        if self.rename_into_place {
            return self.write_then_rename(&path, parts);
        }
        let size: usize = parts.iter().map(|b| b.len()).sum();
        // Above one part, OpenDAL's S3 and Azure writers upload in parts of exactly `PART` bytes.
        let in_parts = self.in_parts && size > PART;
        let opts = if in_parts {
            WriteOptions {
                chunk: Some(PART),
                concurrent: PARTS_IN_FLIGHT,
                ..Default::default()
            }
        } else {
            WriteOptions::default()
        };
        let write = || -> opendal::Result<()> {
            let mut w = self.op.writer_options(&path, opts)?;
            if in_parts {
                for b in parts {
                    w.write(b)?;
                }
            } else {
                // One write, so one request: OpenDAL's S3 writer turns a second write into a
                // multipart upload with a part per write, and a pack that rustic_core hands over
                // in several buffers went up as parts smaller than S3's 5 MiB minimum (s3s-fs
                // accepts them; AWS answers EntityTooSmall).
                w.write(opendal::Buffer::from(parts))?;
            }
            w.close()?;
            Ok(())
        };
        write().map_err(|e| backend_error("cannot write `{path}`", &path, e))
    }

    fn remove(&self, tpe: FileType, id: &Id, _cacheable: bool) -> RusticResult<()> {
        let path = Self::path(tpe, id);
        self.op
            .delete(&path)
            .map_err(|e| backend_error("cannot delete `{path}`", &path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_sit_where_restic_puts_them() {
        let id: Id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
            .parse()
            .unwrap();
        let hex = id.to_hex();
        assert_eq!(StoreBackend::path(FileType::Config, &id), "config");
        assert_eq!(
            StoreBackend::path(FileType::Pack, &id),
            format!("data/01/{}", hex.as_str())
        );
        assert_eq!(
            StoreBackend::path(FileType::Snapshot, &id),
            format!("snapshots/{}", hex.as_str())
        );
        assert_eq!(
            StoreBackend::path(FileType::Key, &id),
            format!("keys/{}", hex.as_str())
        );
        assert_eq!(
            StoreBackend::path(FileType::Index, &id),
            format!("index/{}", hex.as_str())
        );
    }
}
