//! Staged wasms (key: the announced sha256) and their chunks (key: hash, index). A staged
//! wasm's chunks are written and removed with it.

use std::cell::RefCell;

use ic_stable_structures::StableBTreeMap;

use super::records::ChunkKey;
use super::{Memory, StagedWasm, collection};

/// How long a staged wasm lives after its last write (purged lazily after that).
pub const TTL_NANOS: u64 = 24 * 60 * 60 * 1_000_000_000;

collection!(static STAGED_WASMS: Records<Vec<u8>, StagedWasm> = super::STAGED_WASMS);

thread_local! {
    static STAGED_CHUNKS: RefCell<StableBTreeMap<ChunkKey, Vec<u8>, Memory>> =
        super::open(super::STAGED_CHUNKS);
}

/// The staged wasm announced with `hash`.
pub fn get(hash: &[u8]) -> Option<StagedWasm> {
    STAGED_WASMS.get(hash)
}

/// Every staged wasm, by hash.
pub fn list() -> Vec<(Vec<u8>, StagedWasm)> {
    STAGED_WASMS.list()
}

/// Stores the staged wasm's record (its chunks are stored with [`append_chunk`]).
pub fn put(hash: &[u8], staged: StagedWasm) {
    STAGED_WASMS.put(hash, staged);
}

/// Stores `chunk` as the next chunk of `hash` (`staged` counts it and is stored with it).
pub fn append_chunk(hash: &[u8], staged: &mut StagedWasm, chunk: Vec<u8>) {
    STAGED_CHUNKS.with(|m| {
        m.borrow_mut().insert(
            ChunkKey {
                wasm_hash: hash.to_vec(),
                index: staged.chunk_count,
            },
            chunk,
        )
    });
    staged.chunk_count += 1;
}

/// Chunk `index` of `hash`.
pub fn chunk(hash: &[u8], index: u32) -> Option<Vec<u8>> {
    STAGED_CHUNKS.with(|m| {
        m.borrow().get(&ChunkKey {
            wasm_hash: hash.to_vec(),
            index,
        })
    })
}

/// Deletes the staged wasm and its chunks.
pub fn remove(hash: &[u8]) {
    if let Some(staged) = STAGED_WASMS.remove(hash) {
        STAGED_CHUNKS.with(|m| {
            let mut m = m.borrow_mut();
            for index in 0..staged.chunk_count {
                m.remove(&ChunkKey {
                    wasm_hash: hash.to_vec(),
                    index,
                });
            }
        });
    }
}

/// Whether no chunk is stored at all (tests: nothing leaks).
#[cfg(test)]
pub fn no_chunks() -> bool {
    STAGED_CHUNKS.with(|m| m.borrow().is_empty())
}
