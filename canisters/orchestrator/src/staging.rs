//! The wasm staging area: a console uploads a module's new wasm in chunks (an ingress message
//! carries at most 2 MiB), commits it (the sha256 and the wasm header are checked), then
//! upgrades with it.
//! Staged wasms expire a day after their last write and are purged lazily.

use orchestrator_api::{MAX_WASM_SIZE, StageWasmChunkArgs, StagedWasmInfo, StagingError};
use sha2::{Digest, Sha256};

use crate::store::{StagedWasm, staging as staged_wasms};
use crate::{views, wasm_header};

/// How long a staged wasm lives after its last write.
pub use crate::store::staging::TTL_NANOS as STAGED_WASM_TTL_NANOS;

fn check_hash(hash: &[u8]) -> Result<(), StagingError> {
    if hash.len() != 32 {
        return Err(StagingError::InvalidHash {
            len: hash.len() as u64,
        });
    }
    Ok(())
}

/// Forgets every staged wasm whose time is up.
pub fn purge_expired(now: u64) {
    for (hash, staged) in staged_wasms::list() {
        if staged.updated_at.saturating_add(STAGED_WASM_TTL_NANOS) <= now {
            staged_wasms::remove(&hash);
        }
    }
}

/// Appends a chunk to the staging area of `args.wasm_hash` (creating it on offset 0).
pub fn stage_chunk(args: StageWasmChunkArgs, now: u64) -> Result<StagedWasmInfo, StagingError> {
    check_hash(&args.wasm_hash)?;
    purge_expired(now);
    let mut staged = staged_wasms::get(&args.wasm_hash).unwrap_or(StagedWasm {
        size: 0,
        chunk_count: 0,
        committed: false,
        updated_at: now,
    });
    if staged.committed {
        return Err(StagingError::AlreadyCommitted {
            wasm_hash: args.wasm_hash,
        });
    }
    if args.offset != staged.size {
        return Err(StagingError::OffsetMismatch {
            offset: args.offset,
            staged: staged.size,
        });
    }
    let size = staged.size + args.chunk.len() as u64;
    if size > MAX_WASM_SIZE {
        return Err(StagingError::TooLarge {
            size,
            max: MAX_WASM_SIZE,
        });
    }
    if !args.chunk.is_empty() {
        staged_wasms::append_chunk(&args.wasm_hash, &mut staged, args.chunk);
    }
    staged.size = size;
    staged.updated_at = now;
    staged_wasms::put(&args.wasm_hash, staged.clone());
    Ok(views::staged_wasm(args.wasm_hash, &staged))
}

/// Checks the staged bytes against the announced hash; a mismatch discards them.
pub fn commit(hash: Vec<u8>, now: u64) -> Result<StagedWasmInfo, StagingError> {
    check_hash(&hash)?;
    purge_expired(now);
    let mut staged = staged_wasms::get(&hash).ok_or_else(|| StagingError::NotFound {
        wasm_hash: hash.clone(),
    })?;
    if staged.committed {
        return Ok(views::staged_wasm(hash, &staged));
    }
    if staged.size == 0 {
        return Err(StagingError::Empty { wasm_hash: hash });
    }
    let mut hasher = Sha256::new();
    for index in 0..staged.chunk_count {
        hasher.update(staged_wasms::chunk(&hash, index).expect("every counted chunk is stored"));
    }
    let actual = hasher.finalize().to_vec();
    if actual != hash {
        staged_wasms::remove(&hash);
        return Err(StagingError::HashMismatch {
            expected: hash,
            actual,
        });
    }
    // Bytes that are not a wasm would make an upgrade stop the module and take (maybe
    // replace) a snapshot before the install fails: refuse them here, for every client.
    if let Err(reason) = wasm_header::check(&prefix(&hash, &staged), staged.size) {
        staged_wasms::remove(&hash);
        return Err(StagingError::NotAWasm {
            wasm_hash: hash,
            reason,
        });
    }
    staged.committed = true;
    staged.updated_at = now;
    staged_wasms::put(&hash, staged.clone());
    Ok(views::staged_wasm(hash, &staged))
}

/// The first [`wasm_header::PREFIX_LEN`] staged bytes (or all of them, if fewer).
fn prefix(hash: &[u8], staged: &StagedWasm) -> Vec<u8> {
    let mut prefix = Vec::new();
    for index in 0..staged.chunk_count {
        if prefix.len() >= wasm_header::PREFIX_LEN {
            break;
        }
        let chunk = staged_wasms::chunk(hash, index).expect("every counted chunk is stored");
        let wanted = wasm_header::PREFIX_LEN - prefix.len();
        prefix.extend_from_slice(&chunk[..chunk.len().min(wanted)]);
    }
    prefix
}

/// Discards a staged wasm.
pub fn delete(hash: Vec<u8>, now: u64) -> Result<(), StagingError> {
    purge_expired(now);
    if staged_wasms::get(&hash).is_none() {
        return Err(StagingError::NotFound { wasm_hash: hash });
    }
    staged_wasms::remove(&hash);
    Ok(())
}

/// Every live staged wasm.
pub fn list(now: u64) -> Vec<StagedWasmInfo> {
    staged_wasms::list()
        .into_iter()
        .filter(|(_, w)| w.updated_at.saturating_add(STAGED_WASM_TTL_NANOS) > now)
        .map(|(hash, w)| views::staged_wasm(hash, &w))
        .collect()
}

/// The bytes of a committed, unexpired staged wasm.
pub fn committed_wasm(hash: &[u8], now: u64) -> Option<Vec<u8>> {
    purge_expired(now);
    let staged = staged_wasms::get(hash)?;
    if !staged.committed {
        return None;
    }
    let mut wasm = Vec::with_capacity(staged.size as usize);
    for index in 0..staged.chunk_count {
        wasm.extend_from_slice(&staged_wasms::chunk(hash, index)?);
    }
    Some(wasm)
}
