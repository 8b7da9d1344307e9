use orchestrator_api::{MAX_WASM_SIZE, StageWasmChunkArgs, StagingError};
use sha2::{Digest, Sha256};

use crate::staging::{self, STAGED_WASM_TTL_NANOS};

const NOW: u64 = 1_000;

/// The smallest thing the staging check takes for a wasm: magic and version 1.
const WASM: &[u8] = b"\0asm\x01\0\0\0";

/// A gzip member around `content`, as `gzip -n` writes it (the trailer's CRC is not checked
/// by the canister, so zeros do).
fn gzip(content: &[u8], flags: u8, extra: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3];
    out.extend_from_slice(extra);
    out.extend(miniz_oxide::deflate::compress_to_vec(content, 6));
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(content.len() as u32).to_le_bytes());
    out
}

/// Stages `bytes` in chunks of `size` and commits them.
fn stage_and_commit(
    bytes: &[u8],
    size: usize,
) -> Result<orchestrator_api::StagedWasmInfo, StagingError> {
    let hash = Sha256::digest(bytes).to_vec();
    let mut offset = 0;
    for part in bytes.chunks(size) {
        chunk(&hash, offset, part).unwrap();
        offset += part.len() as u64;
    }
    staging::commit(hash, NOW)
}

#[test]
fn bytes_that_are_not_a_wasm_are_refused_at_commit_and_discarded() {
    let mut noise = vec![0u8; 3_000_000];
    let mut x: u32 = 7;
    for b in noise.iter_mut() {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        *b = (x >> 16) as u8;
    }
    // A deflate block of the reserved type 3 (BFINAL 1, BTYPE 11).
    let mut broken_gzip = gzip(b"\0asm\x01\0\0\0 module", 0, &[]);
    broken_gzip.truncate(10);
    broken_gzip.extend_from_slice(&[0x07; 40]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("random bytes", noise, "instead of \\0asm"),
        (
            "a text file",
            b"#!/bin/sh\necho hello\n".to_vec(),
            "23 21 2f 62",
        ),
        (
            "a wasm of version 2",
            b"\0asm\x02\0\0\0rest".to_vec(),
            "version 2",
        ),
        (
            "a 3-byte file",
            b"\0as".to_vec(),
            "shorter than a wasm header",
        ),
        ("a broken gzip", broken_gzip, "does not inflate"),
        (
            "a gzip of text",
            gzip(b"hello, this is not wasm", 0, &[]),
            "it is a gzip, but",
        ),
        (
            "a gzip of another method",
            {
                let mut g = gzip(WASM, 0, &[]);
                g[2] = 7;
                g
            },
            "method 7",
        ),
    ];
    for (what, bytes, says) in cases {
        let hash = Sha256::digest(&bytes).to_vec();
        let error = stage_and_commit(&bytes, 1_900_000).unwrap_err();
        match &error {
            StagingError::NotAWasm { wasm_hash, reason } => {
                assert_eq!(*wasm_hash, hash, "{what}");
                assert!(reason.contains(says), "{what}: {reason}");
            }
            other => panic!("{what}: {other:?}"),
        }
        assert!(
            error.to_string().contains("no module was touched"),
            "{error}"
        );
        assert!(
            staging::list(NOW).is_empty(),
            "{what}: the bytes were discarded"
        );
        assert_eq!(staging::committed_wasm(&hash, NOW), None, "{what}");
    }
    assert!(crate::store::staging::no_chunks());
}

#[test]
fn a_wasm_and_a_gzipped_wasm_are_committed_however_they_were_chunked() {
    let mut module = WASM.to_vec();
    module.extend((0..200_000u32).flat_map(|i| i.to_le_bytes()));
    let mut named = gzip(&module, 0x08 | 0x10 | 0x04, &[]);
    // FEXTRA (2-byte length + data), FNAME and FCOMMENT, zero-terminated, after the header.
    let fields = [&[3u8, 0, 1, 2, 3][..], b"module.wasm\0", b"a comment\0"].concat();
    named.splice(10..10, fields);
    for (what, bytes, size) in [
        ("a plain wasm", module.clone(), 1_900_000),
        (
            "a plain wasm in 1-byte chunks first",
            module[..64].to_vec(),
            1,
        ),
        ("a gzip", gzip(&module, 0, &[]), 1_900_000),
        ("a gzip in 7-byte chunks", gzip(&module[..4096], 0, &[]), 7),
        ("a gzip with extra, name and comment", named.clone(), 100),
    ] {
        let info = stage_and_commit(&bytes, size).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(info.committed, "{what}");
    }
}

fn chunk(
    hash: &[u8],
    offset: u64,
    bytes: &[u8],
) -> Result<orchestrator_api::StagedWasmInfo, StagingError> {
    staging::stage_chunk(
        StageWasmChunkArgs {
            wasm_hash: hash.to_vec(),
            offset,
            chunk: bytes.to_vec(),
        },
        NOW,
    )
}

#[test]
fn chunks_are_appended_in_order_and_committed_after_a_hash_check() {
    let wasm = b"\0asm\x01\0\0\0 some module bytes";
    let hash = Sha256::digest(wasm).to_vec();
    chunk(&hash, 0, &wasm[..10]).unwrap();
    assert_eq!(
        chunk(&hash, 4, &wasm[10..]),
        Err(StagingError::OffsetMismatch {
            offset: 4,
            staged: 10
        })
    );
    let info = chunk(&hash, 10, &wasm[10..]).unwrap();
    assert_eq!(info.size, wasm.len() as u64);
    assert!(!info.committed);
    assert_eq!(
        staging::committed_wasm(&hash, NOW),
        None,
        "not committed yet"
    );
    let info = staging::commit(hash.clone(), NOW).unwrap();
    assert!(info.committed);
    assert_eq!(info.expires_at, NOW + STAGED_WASM_TTL_NANOS);
    assert_eq!(staging::committed_wasm(&hash, NOW).unwrap(), wasm);
    assert!(matches!(
        chunk(&hash, info.size, b"more"),
        Err(StagingError::AlreadyCommitted { .. })
    ));
    assert_eq!(
        staging::commit(hash, NOW).unwrap().size,
        info.size,
        "commit is idempotent"
    );
}

#[test]
fn a_hash_mismatch_discards_the_staged_bytes() {
    let hash = Sha256::digest(b"expected").to_vec();
    chunk(&hash, 0, b"something else").unwrap();
    assert!(matches!(
        staging::commit(hash.clone(), NOW),
        Err(StagingError::HashMismatch { .. })
    ));
    assert!(staging::list(NOW).is_empty());
    assert!(matches!(
        staging::commit(hash, NOW),
        Err(StagingError::NotFound { .. })
    ));
}

#[test]
fn bad_hashes_empty_and_oversized_wasms_are_refused() {
    assert_eq!(
        chunk(&[1, 2, 3], 0, b"x"),
        Err(StagingError::InvalidHash { len: 3 })
    );
    let hash = [9u8; 32];
    chunk(&hash, 0, b"").unwrap();
    assert!(matches!(
        staging::commit(hash.to_vec(), NOW),
        Err(StagingError::Empty { .. })
    ));
    let big = vec![0u8; 2_000_000];
    let mut offset = 0;
    let error = loop {
        match chunk(&hash, offset, &big) {
            Ok(info) => offset = info.size,
            Err(e) => break e,
        }
    };
    assert!(offset <= MAX_WASM_SIZE);
    assert!(matches!(
        error,
        StagingError::TooLarge {
            max: MAX_WASM_SIZE,
            ..
        }
    ));
}

#[test]
fn staged_wasms_expire_and_can_be_deleted() {
    let a = Sha256::digest(WASM).to_vec();
    let b = Sha256::digest(b"b").to_vec();
    chunk(&a, 0, WASM).unwrap();
    chunk(&b, 0, b"b").unwrap();
    assert_eq!(staging::list(NOW).len(), 2);
    staging::delete(b.clone(), NOW).unwrap();
    assert!(matches!(
        staging::delete(b, NOW),
        Err(StagingError::NotFound { .. })
    ));
    staging::commit(a.clone(), NOW).unwrap();
    let later = NOW + STAGED_WASM_TTL_NANOS;
    assert!(staging::list(later).is_empty());
    assert_eq!(staging::committed_wasm(&a, later), None);
    assert!(crate::store::staging::list().is_empty());
    assert!(
        crate::store::staging::no_chunks(),
        "expired chunks are purged too"
    );
}
