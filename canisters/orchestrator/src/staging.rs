//! The wasm staging area: a console uploads a module's new wasm in chunks (an ingress message
//! carries at most 2 MiB), commits it (the sha256 and the wasm header are checked), then
//! upgrades with it.
//! Staged wasms expire a day after their last write and are purged lazily.

use orchestrator_api::{MAX_WASM_SIZE, StageWasmChunkArgs, StagedWasmInfo, StagingError};
use sha2::{Digest, Sha256};

use crate::state::{Candid, ChunkKey, StagedWasm, mutate_state, read_state};
use crate::wasm_header;

/// How long a staged wasm lives after its last write.
pub const STAGED_WASM_TTL_NANOS: u64 = 24 * 60 * 60 * 1_000_000_000;

fn info(hash: Vec<u8>, staged: &StagedWasm) -> StagedWasmInfo {
    StagedWasmInfo {
        wasm_hash: hash,
        size: staged.size,
        committed: staged.committed,
        updated_at: staged.updated_at,
        expires_at: staged.updated_at.saturating_add(STAGED_WASM_TTL_NANOS),
    }
}

fn check_hash(hash: &[u8]) -> Result<(), StagingError> {
    if hash.len() != 32 {
        return Err(StagingError::InvalidHash {
            len: hash.len() as u64,
        });
    }
    Ok(())
}

/// Deletes the staged wasm and its chunks.
fn remove(hash: &[u8]) {
    mutate_state(|s| {
        if let Some(staged) = s.staged_wasms.remove(&hash.to_vec()) {
            for index in 0..staged.0.chunk_count {
                s.staged_chunks.remove(&ChunkKey {
                    wasm_hash: hash.to_vec(),
                    index,
                });
            }
        }
    });
}

/// Forgets every staged wasm whose time is up.
pub fn purge_expired(now: u64) {
    let expired: Vec<Vec<u8>> = read_state(|s| {
        s.staged_wasms
            .iter()
            .map(|e| e.into_pair())
            .filter(|(_, w)| w.0.updated_at.saturating_add(STAGED_WASM_TTL_NANOS) <= now)
            .map(|(hash, _)| hash)
            .collect()
    });
    for hash in expired {
        remove(&hash);
    }
}

/// Appends a chunk to the staging area of `args.wasm_hash` (creating it on offset 0).
pub fn stage_chunk(args: StageWasmChunkArgs, now: u64) -> Result<StagedWasmInfo, StagingError> {
    check_hash(&args.wasm_hash)?;
    purge_expired(now);
    let mut staged = read_state(|s| s.staged_wasms.get(&args.wasm_hash)).map_or(
        StagedWasm {
            size: 0,
            chunk_count: 0,
            committed: false,
            updated_at: now,
        },
        |w| w.0,
    );
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
    mutate_state(|s| {
        if !args.chunk.is_empty() {
            s.staged_chunks.insert(
                ChunkKey {
                    wasm_hash: args.wasm_hash.clone(),
                    index: staged.chunk_count,
                },
                args.chunk,
            );
            staged.chunk_count += 1;
        }
        staged.size = size;
        staged.updated_at = now;
        s.staged_wasms
            .insert(args.wasm_hash.clone(), Candid(staged.clone()));
    });
    Ok(info(args.wasm_hash, &staged))
}

/// Checks the staged bytes against the announced hash; a mismatch discards them.
pub fn commit(hash: Vec<u8>, now: u64) -> Result<StagedWasmInfo, StagingError> {
    check_hash(&hash)?;
    purge_expired(now);
    let mut staged = read_state(|s| s.staged_wasms.get(&hash))
        .ok_or_else(|| StagingError::NotFound {
            wasm_hash: hash.clone(),
        })?
        .0;
    if staged.committed {
        return Ok(info(hash, &staged));
    }
    if staged.size == 0 {
        return Err(StagingError::Empty { wasm_hash: hash });
    }
    let mut hasher = Sha256::new();
    read_state(|s| {
        for index in 0..staged.chunk_count {
            hasher.update(
                s.staged_chunks
                    .get(&ChunkKey {
                        wasm_hash: hash.clone(),
                        index,
                    })
                    .expect("every counted chunk is stored"),
            );
        }
    });
    let actual = hasher.finalize().to_vec();
    if actual != hash {
        remove(&hash);
        return Err(StagingError::HashMismatch {
            expected: hash,
            actual,
        });
    }
    // Bytes that are not a wasm would make an upgrade stop the module and take (maybe
    // replace) a snapshot before the install fails: refuse them here, for every client.
    if let Err(reason) = wasm_header::check(&prefix(&hash, &staged), staged.size) {
        remove(&hash);
        return Err(StagingError::NotAWasm {
            wasm_hash: hash,
            reason,
        });
    }
    staged.committed = true;
    staged.updated_at = now;
    mutate_state(|s| s.staged_wasms.insert(hash.clone(), Candid(staged.clone())));
    Ok(info(hash, &staged))
}

/// The first [`wasm_header::PREFIX_LEN`] staged bytes (or all of them, if fewer).
fn prefix(hash: &[u8], staged: &StagedWasm) -> Vec<u8> {
    read_state(|s| {
        let mut prefix = Vec::new();
        for index in 0..staged.chunk_count {
            if prefix.len() >= wasm_header::PREFIX_LEN {
                break;
            }
            let chunk = s
                .staged_chunks
                .get(&ChunkKey {
                    wasm_hash: hash.to_vec(),
                    index,
                })
                .expect("every counted chunk is stored");
            let wanted = wasm_header::PREFIX_LEN - prefix.len();
            prefix.extend_from_slice(&chunk[..chunk.len().min(wanted)]);
        }
        prefix
    })
}

/// Discards a staged wasm.
pub fn delete(hash: Vec<u8>, now: u64) -> Result<(), StagingError> {
    purge_expired(now);
    if read_state(|s| !s.staged_wasms.contains_key(&hash)) {
        return Err(StagingError::NotFound { wasm_hash: hash });
    }
    remove(&hash);
    Ok(())
}

/// Every live staged wasm.
pub fn list(now: u64) -> Vec<StagedWasmInfo> {
    read_state(|s| {
        s.staged_wasms
            .iter()
            .map(|e| e.into_pair())
            .filter(|(_, w)| w.0.updated_at.saturating_add(STAGED_WASM_TTL_NANOS) > now)
            .map(|(hash, w)| info(hash, &w.0))
            .collect()
    })
}

/// The bytes of a committed, unexpired staged wasm.
pub fn committed_wasm(hash: &[u8], now: u64) -> Option<Vec<u8>> {
    purge_expired(now);
    read_state(|s| {
        let staged = s.staged_wasms.get(&hash.to_vec())?.0;
        if !staged.committed {
            return None;
        }
        let mut wasm = Vec::with_capacity(staged.size as usize);
        for index in 0..staged.chunk_count {
            wasm.extend_from_slice(&s.staged_chunks.get(&ChunkKey {
                wasm_hash: hash.to_vec(),
                index,
            })?);
        }
        Some(wasm)
    })
}
