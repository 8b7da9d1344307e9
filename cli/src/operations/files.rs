//! Opening the files of a snapshot folder: only regular files, never through a symbolic link,
//! never a FIFO, socket or device.
//!
//! An export folder is input from anywhere (cold storage, a colleague, another tool). A link in
//! it could make keepsake read (and upload, or print the hash of) a file outside the folder; a
//! FIFO blocks `open` forever, and `/dev/zero` never ends. So every open here:
//! 1. looks at the entry itself (`symlink_metadata`, which does not follow links) and refuses
//!    anything that is not a regular file, naming what it is;
//! 2. opens with `O_NOFOLLOW` (a link swapped in after step 1 fails the open instead of being
//!    followed) and `O_NONBLOCK` (a FIFO swapped in does not block the open; on regular files
//!    the flag changes nothing);
//! 3. checks that what was opened is a regular file and the same one step 1 saw.

use std::fs::{File, FileType, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Flags every open of a snapshot file carries.
const FLAGS: i32 = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;

/// What an entry is, in words, for error messages.
pub fn describe(t: &FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

/// The error for an entry that is not a regular file.
pub fn not_regular(path: &Path, t: &FileType) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is {}; keepsake reads only regular files in a snapshot folder and never follows \
             links (replace it with the file itself)",
            path.display(),
            describe(t)
        ),
    )
}

/// Checks that `opened` is a regular file and the same file as `seen` (if given).
fn check_opened(path: &Path, file: &File, seen: Option<&Metadata>) -> io::Result<()> {
    let now = file.metadata()?;
    if !now.file_type().is_file() {
        return Err(not_regular(path, &now.file_type()));
    }
    if let Some(seen) = seen
        && (seen.dev(), seen.ino()) != (now.dev(), now.ino())
    {
        return Err(io::Error::other(format!(
            "{} was replaced while it was being opened; make sure nothing writes to the folder",
            path.display()
        )));
    }
    Ok(())
}

/// Maps the error of an `O_NOFOLLOW` open of a link (ELOOP) to a clear one.
fn open_error(path: &Path, e: io::Error) -> io::Error {
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_file() => not_regular(path, &m.file_type()),
        _ => e,
    }
}

/// Opens `path` for reading if, and only if, it is a regular file.
pub fn open_regular(path: &Path) -> io::Result<File> {
    let seen = std::fs::symlink_metadata(path)?;
    if !seen.file_type().is_file() {
        return Err(not_regular(path, &seen.file_type()));
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(FLAGS)
        .open(path)
        .map_err(|e| open_error(path, e))?;
    check_opened(path, &file, Some(&seen))?;
    Ok(file)
}

/// Reads a whole regular file.
pub fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open_regular(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Reads a whole regular file as UTF-8.
pub fn read_regular_to_string(path: &Path) -> io::Result<String> {
    String::from_utf8(read_regular(path)?)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Opens (creating it if needed) a regular file for reading and writing, without following a
/// link and without truncating it.
pub fn open_writable(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .read(true)
        .write(true)
        .truncate(false)
        .custom_flags(FLAGS)
        .open(path)
        .map_err(|e| open_error(path, e))?;
    check_opened(path, &file, None)?;
    Ok(file)
}

/// Writes `data` as the whole content of `path` (created or truncated), never through a link.
pub fn write_regular(path: &Path, data: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut file = open_writable(path)?;
    file.set_len(0)?;
    file.write_all(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_symlink_is_refused_and_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("outside");
        std::fs::write(&target, b"secret").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = open_regular(&link).unwrap_err();
        assert!(e.to_string().contains("a symbolic link"), "{e}");
        let e = write_regular(&link, b"x").unwrap_err();
        assert!(e.to_string().contains("a symbolic link"), "{e}");
        assert_eq!(std::fs::read(&target).unwrap(), b"secret");
    }

    #[test]
    fn a_fifo_and_a_device_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let start = Instant::now();
        let e = open_regular(&fifo).unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
        let e = write_regular(&fifo, b"x").unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
        let e = open_regular(Path::new("/dev/zero")).unwrap_err();
        assert!(e.to_string().contains("character device"), "{e}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_regular_file_is_read_and_written() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        write_regular(&p, b"hello").unwrap();
        write_regular(&p, b"hi").unwrap();
        assert_eq!(read_regular(&p).unwrap(), b"hi");
    }
}
