//! A restic repository in an S3 bucket, as rustic_core's backend, on OpenDAL's S3 service
//! (only that one: rustic_backend's OpenDAL backend compiles in every OpenDAL service).
//!
//! The repository's files sit under the prefix in restic's layout (`config`, `keys/<id>`,
//! `snapshots/<id>`, `index/<id>`, `data/<2 hex>/<id>`), so the `restic` CLI reads it too.
//! A pack file larger than `PART` goes up as a multipart upload of `PART`-sized parts,
//! `PARTS_IN_FLIGHT` at once: a failed part is retried alone instead of the whole pack, and
//! no single request carries more than `PART` bytes (restic packs grow with the repository).
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

/// The runtime OpenDAL's requests run on. rustic_core calls the backend from its own threads
/// (and from tokio's blocking pool), never from async code, so blocking on this is safe.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("keepsake-s3")
            .enable_all()
            .build()
            .expect("a tokio runtime for S3 requests")
    })
}

/// One bucket and prefix.
#[derive(Debug)]
pub struct S3Backend {
    op: opendal::blocking::Operator,
    location: String,
}

fn backend_error(what: &'static str, path: &str, e: opendal::Error) -> Box<RusticError> {
    RusticError::with_source(ErrorKind::Backend, what, e).attach_context("path", path.to_string())
}

impl S3Backend {
    /// `options`: OpenDAL's S3 settings (bucket, root, endpoint, region); credentials come from
    /// the environment (AWS_ACCESS_KEY_ID, …).
    pub fn new(options: BTreeMap<String, String>, retries: usize) -> RusticResult<Self> {
        let location = format!(
            "s3:{}{}",
            options.get("bucket").map(String::as_str).unwrap_or(""),
            options.get("root").map(String::as_str).unwrap_or("")
        );
        // Registers the S3 service and the HTTP transport (idempotent).
        opendal::install_default();
        let op = opendal::Operator::via_iter("s3", options)
            .map_err(|e| {
                RusticError::with_source(
                    ErrorKind::Backend,
                    "cannot set up S3 access for `{path}`",
                    e,
                )
                .attach_context("path", location.clone())
            })?
            .layer(RetryLayer::new().with_max_times(retries).with_jitter());
        let _guard = runtime().enter();
        let op = opendal::blocking::Operator::new(op).map_err(|e| {
            RusticError::with_source(ErrorKind::Internal, "no runtime for `{path}`", e)
                .attach_context("path", location.clone())
        })?;
        Ok(Self { op, location })
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

impl ReadBackend for S3Backend {
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

impl WriteBackend for S3Backend {
    /// S3 has no folders: nothing to create.
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
        let size: usize = parts.iter().map(|b| b.len()).sum();
        // Above one part, OpenDAL's S3 writer uploads in parts of exactly `PART` bytes.
        let opts = if size > PART {
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
            for b in parts {
                w.write(b)?;
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
        assert_eq!(S3Backend::path(FileType::Config, &id), "config");
        assert_eq!(
            S3Backend::path(FileType::Pack, &id),
            format!("data/01/{}", hex.as_str())
        );
        assert_eq!(
            S3Backend::path(FileType::Snapshot, &id),
            format!("snapshots/{}", hex.as_str())
        );
        assert_eq!(
            S3Backend::path(FileType::Key, &id),
            format!("keys/{}", hex.as_str())
        );
        assert_eq!(
            S3Backend::path(FileType::Index, &id),
            format!("index/{}", hex.as_str())
        );
    }
}
