//! What a committed wasm must start with: the wasm magic `\0asm` and version 1, or a gzip
//! member whose inflated bytes start that way. Checked at `commit_staged_wasm`, so that no
//! client (the CLI checks too) can make an upgrade stop a module and take a snapshot — at
//! `max_snapshots`, replacing one — for bytes nothing can install.
//!
//! Only the start of a gzip is inflated (a few bytes out of the first 64 KiB of input): the
//! canister never holds the inflated module, and the cost is well under a million
//! instructions whatever the wasm's size (measured on localnet, see docs/ARCHITECTURE.md).
//! A gzip that is corrupt further on still passes here; the IC refuses it at install, which
//! the upgrade's rollback covers.

use miniz_oxide::inflate::{TINFLStatus, decompress_to_vec_with_limit};

/// `\0asm` followed by version 1, little-endian.
pub const WASM_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/// How much of the staged bytes the check reads: enough for any gzip header and the first
/// deflate block's tables.
pub const PREFIX_LEN: usize = 64 * 1024;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Checks the first bytes of a wasm (`prefix`: at most [`PREFIX_LEN`] of them; `total` is the
/// whole size). `Err` says what is wrong, in words for the user.
pub fn check(prefix: &[u8], total: u64) -> Result<(), String> {
    if prefix.starts_with(&GZIP_MAGIC) {
        let deflate = gzip_payload(prefix)?;
        let inflated = match decompress_to_vec_with_limit(deflate, WASM_HEADER.len()) {
            Ok(all) => all,
            // The limit was reached: the first bytes are there, the rest is not wanted.
            Err(e) if e.status == TINFLStatus::HasMoreOutput => e.output,
            Err(e) if (prefix.len() as u64) < total => e.output,
            Err(e) => return Err(format!("the gzip stream does not inflate ({e})")),
        };
        return wasm_start(&inflated).map_err(|why| format!("it is a gzip, but {why}"));
    }
    wasm_start(prefix)
}

/// Checks the wasm magic and version at the start of `bytes`.
fn wasm_start(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < WASM_HEADER.len() {
        if WASM_HEADER.starts_with(bytes) {
            return Err(format!(
                "its content is {} byte(s) long, shorter than a wasm header",
                bytes.len()
            ));
        }
    } else if bytes[..4] == WASM_HEADER[..4] {
        return if bytes[4..8] == WASM_HEADER[4..] {
            Ok(())
        } else {
            Err(format!(
                "its content starts with \\0asm but has version {}, not 1",
                u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes"))
            ))
        };
    }
    Err(format!(
        "its content starts with {} instead of \\0asm (00 61 73 6d) or a gzip header (1f 8b)",
        hex_prefix(bytes)
    ))
}

fn hex_prefix(bytes: &[u8]) -> String {
    let shown: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    shown.join(" ")
}

/// The deflate stream inside a gzip member (RFC 1952 §2.3): skips the fixed 10-byte header and
/// the optional extra field, name, comment and header CRC.
fn gzip_payload(bytes: &[u8]) -> Result<&[u8], String> {
    const FHCRC: u8 = 0x02;
    const FEXTRA: u8 = 0x04;
    const FNAME: u8 = 0x08;
    const FCOMMENT: u8 = 0x10;
    let truncated = || "its gzip header is cut short".to_string();
    if bytes.len() < 10 {
        return Err(truncated());
    }
    if bytes[2] != 8 {
        return Err(format!(
            "its gzip header names compression method {}, not deflate (8)",
            bytes[2]
        ));
    }
    let flags = bytes[3];
    if flags & 0xe0 != 0 {
        return Err("its gzip header sets reserved flags".into());
    }
    let mut at = 10;
    if flags & FEXTRA != 0 {
        let len = bytes.get(at..at + 2).ok_or_else(truncated)?;
        at += 2 + usize::from(u16::from_le_bytes([len[0], len[1]]));
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let rest = bytes.get(at..).ok_or_else(truncated)?;
            let end = rest.iter().position(|b| *b == 0).ok_or_else(truncated)?;
            at += end + 1;
        }
    }
    if flags & FHCRC != 0 {
        at += 2;
    }
    bytes.get(at..).ok_or_else(truncated)
}
