use orchestrator_api::{MAX_WASM_SIZE, StageWasmChunkArgs, StagingError};
use sha2::{Digest, Sha256};

use crate::staging::{self, STAGED_WASM_TTL_NANOS};

const NOW: u64 = 1_000;

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
    let wasm = b"\0asm some module bytes";
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
    let a = Sha256::digest(b"a").to_vec();
    let b = Sha256::digest(b"b").to_vec();
    chunk(&a, 0, b"a").unwrap();
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
    crate::state::read_state(|s| {
        assert!(s.staged_wasms.is_empty());
        assert!(s.staged_chunks.is_empty(), "expired chunks are purged too");
    });
}
