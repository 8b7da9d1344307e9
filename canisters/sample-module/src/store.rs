//! The sample module's state: every memory id declared here; no pre_upgrade hook.

use std::cell::{Cell, RefCell};

use ic_stable_structures::memory_manager::{MemoryId, MemoryManager, VirtualMemory};
use ic_stable_structures::{DefaultMemoryImpl, Memory as _, StableBTreeMap, StableCell};

type Memory = VirtualMemory<DefaultMemoryImpl>;

const ENTRIES: MemoryId = MemoryId::new(0);
const BULK: MemoryId = MemoryId::new(1);
const BULK_LEN: MemoryId = MemoryId::new(2);
const SCHEMA: MemoryId = MemoryId::new(3);
// Added by schema 2.
const UPDATED_AT: MemoryId = MemoryId::new(4);

const WASM_PAGE: u64 = 65_536;

thread_local! {
    static MM: MemoryManager<DefaultMemoryImpl> = MemoryManager::init(DefaultMemoryImpl::default());
    static ENTRY_MAP: RefCell<StableBTreeMap<String, Vec<u8>, Memory>> =
        RefCell::new(StableBTreeMap::init(MM.with(|m| m.get(ENTRIES))));
    static BULK_MEM: Memory = MM.with(|m| m.get(BULK));
    static BULK_SIZE: RefCell<StableCell<u64, Memory>> =
        RefCell::new(StableCell::init(MM.with(|m| m.get(BULK_LEN)), 0));
    static SCHEMA_CELL: RefCell<StableCell<u32, Memory>> =
        RefCell::new(StableCell::init(MM.with(|m| m.get(SCHEMA)), 1));
    static UPDATED: RefCell<StableBTreeMap<String, u64, Memory>> =
        RefCell::new(StableBTreeMap::init(MM.with(|m| m.get(UPDATED_AT))));
    static HEAP_COUNTER: Cell<u64> = const { Cell::new(0) };
}

pub fn init_schema(schema: u32) {
    SCHEMA_CELL.with(|c| c.borrow_mut().set(schema));
}

/// Brings the data up to `target` without losing any: schema 2 adds `updated_at` (set to
/// `now` for keys written under schema 1). A build with an older schema leaves newer data be.
pub fn migrate(target: u32, now: u64) {
    let current = schema();
    if current < 2 && target >= 2 {
        let keys: Vec<String> = ENTRY_MAP.with(|m| m.borrow().keys().collect());
        UPDATED.with(|u| {
            let mut u = u.borrow_mut();
            for key in keys {
                u.insert(key, now);
            }
        });
    }
    if target > current {
        init_schema(target);
    }
}

pub fn schema() -> u32 {
    SCHEMA_CELL.with(|c| *c.borrow().get())
}

pub fn bump_heap_counter() {
    HEAP_COUNTER.with(|c| c.set(c.get() + 1));
}

pub fn heap_counter() -> u64 {
    HEAP_COUNTER.with(Cell::get)
}

pub fn set(key: String, value: Vec<u8>, schema: u32, now: u64) {
    if schema >= 2 {
        UPDATED.with(|u| u.borrow_mut().insert(key.clone(), now));
    }
    ENTRY_MAP.with(|m| m.borrow_mut().insert(key, value));
}

pub fn get(key: &str) -> Option<Vec<u8>> {
    ENTRY_MAP.with(|m| m.borrow().get(&key.to_string()))
}

pub fn delete(key: &str) -> bool {
    UPDATED.with(|u| u.borrow_mut().remove(&key.to_string()));
    ENTRY_MAP.with(|m| m.borrow_mut().remove(&key.to_string()).is_some())
}

pub fn count() -> u64 {
    ENTRY_MAP.with(|m| m.borrow().len())
}

pub fn updated_at(key: &str) -> Option<u64> {
    UPDATED.with(|u| u.borrow().get(&key.to_string()))
}

pub fn bulk_size() -> u64 {
    BULK_SIZE.with(|c| *c.borrow().get())
}

/// The byte at `position` of the stream derived from `seed` (cheap, deterministic, not
/// constant, so compression or sparse tricks cannot hide the size).
fn bulk_byte(seed: u32, position: u64) -> u8 {
    let x = position
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(u64::from(seed).wrapping_mul(0xD1B5_4A32_D192_ED03));
    (x >> 56) as u8 ^ (x >> 24) as u8
}

pub fn append_bulk(nbytes: u64, seed: u32) -> u64 {
    let start = bulk_size();
    let end = start + nbytes;
    BULK_MEM.with(|mem| {
        let needed_pages = end.div_ceil(WASM_PAGE);
        if needed_pages > mem.size() && mem.grow(needed_pages - mem.size()) < 0 {
            ic_cdk::trap("append_bulk: out of stable memory");
        }
        const BLOCK: u64 = 1 << 20;
        let mut buffer = Vec::with_capacity(BLOCK as usize);
        let mut offset = start;
        while offset < end {
            let len = BLOCK.min(end - offset);
            buffer.clear();
            buffer.extend((offset..offset + len).map(|p| bulk_byte(seed, p)));
            mem.write(offset, &buffer);
            offset += len;
        }
    });
    BULK_SIZE.with(|c| c.borrow_mut().set(end));
    end
}

pub fn bulk_read(offset: u64, len: u64) -> Vec<u8> {
    let end = (offset.saturating_add(len)).min(bulk_size());
    if offset >= end {
        return Vec::new();
    }
    let mut buffer = vec![0; (end - offset) as usize];
    BULK_MEM.with(|mem| mem.read(offset, &mut buffer));
    buffer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_two_keeps_v1_data_and_stamps_it() {
        init_schema(1);
        set("a".into(), b"1".to_vec(), 1, 5);
        assert_eq!(updated_at("a"), None);
        migrate(2, 42);
        assert_eq!((schema(), get("a"), updated_at("a")), (2, Some(b"1".to_vec()), Some(42)));
        migrate(1, 50);
        assert_eq!(schema(), 2, "an older build does not downgrade the schema");
    }

    #[test]
    fn the_bulk_area_grows_and_reads_back_deterministically() {
        assert_eq!(append_bulk(100_000, 7), 100_000);
        assert_eq!(append_bulk(50_000, 7), 150_000);
        let slice = bulk_read(99_990, 20);
        let expected: Vec<u8> = (99_990..100_010).map(|p| bulk_byte(7, p)).collect();
        assert_eq!(slice, expected);
        assert_eq!(bulk_read(149_990, 100).len(), 10, "reads stop at the end");
        assert!(bulk_read(200_000, 10).is_empty());
        assert!(expected.iter().any(|b| *b != expected[0]), "not constant");
    }
}
