//! A canister's heap kept mapped between messages, so that a message costs the pages it writes,
//! not the size of the heap.
//!
//! The heap *of record* stays a [`PagedMemory`] in the canister's state (shared with snapshots
//! and the state directory). Next to it every canister keeps a [`LiveHeap`]: one virtual-memory
//! reservation laid out as wasmtime expects a static linear memory (4 GiB + guard) that holds
//! the same bytes as the heap of record it last ran on. wasmtime gets that region through a
//! custom [`MemoryCreator`] ([`HeapCreator`]), so instantiating a module for a message copies
//! nothing.
//!
//! Writes are tracked the way the replica's memory tracker does it: between messages every page
//! of the region is read-only; the first write of a message to a page faults, the store's signal
//! handler marks the page dirty and makes it writable, and the write resumes. After the message:
//!
//! * success: the new heap of record is the old one with the dirty pages copied out (a page
//!   written back with the bytes it had stays shared, so the state directory does not write it);
//! * trap, or a query (nothing persists): the dirty pages are copied back from the heap of
//!   record, so the region is exactly the heap from before the message.
//!
//! Either way only dirty pages are touched. Before a message the region is brought in line with
//! the heap of record by page identity (pages are immutable once shared, so an identical pointer
//! means identical bytes): after a snapshot load, an upgrade or a restart the pages that differ
//! are copied in, once.
//!
//! Instantiation writes the module's active data segments into memory; those pages are made
//! writable for it and copied back from the heap of record afterwards, which is what the copy
//! path's overwrite of the whole heap did. Modules whose segment offsets are not constants, with
//! a start function or a 64-bit memory keep the copy path (`execution.rs`).

// The workspace denies unsafe code; this module is the exception the live heap needs: mapping
// memory, changing its protection and a signal handler. Every block says why it is sound.
#![allow(unsafe_code)]

use crate::paged::{PAGE, PagedMemory, zero_page};
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use wasmtime::{LinearMemory, MemoryCreator, MemoryType, Store};

/// Virtual memory reserved per linear memory: all of wasm32's 4 GiB, so compiled code needs no
/// bounds checks (the engine is configured with the same figure).
pub(crate) const RESERVATION: usize = 1 << 32;
/// Inaccessible bytes after the reservation (wasmtime's default on 64-bit hosts).
pub(crate) const GUARD: usize = 32 << 20;
/// Wasm pages in a reservation: one dirty bit each.
const PAGES: usize = RESERVATION / PAGE;

const READ: libc::c_int = libc::PROT_READ;
const READ_WRITE: libc::c_int = libc::PROT_READ | libc::PROT_WRITE;

/// One anonymous mapping: `capacity` usable bytes followed by `guard` bytes, all inaccessible
/// until made accessible.
struct Region {
    base: *mut u8,
    capacity: usize,
    guard: usize,
}

// SAFETY: the mapping is plain memory owned by the region; who may write it when is decided by
// the owners (one message at a time per canister).
unsafe impl Send for Region {}
unsafe impl Sync for Region {}

impl Region {
    fn new(capacity: usize, guard: usize) -> Result<Region, String> {
        let len = capacity
            .checked_add(guard)
            .ok_or("the memory reservation overflows")?;
        // SAFETY: a fresh private anonymous mapping that only this region uses. NORESERVE:
        // reserving 4 GiB of address space commits nothing.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(format!(
                "cannot reserve {len} bytes of address space for a wasm memory: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok(Region {
            base: base.cast(),
            capacity,
            guard,
        })
    }

    /// Sets the protection of `[offset, offset + len)` (page aligned). Async-signal-safe.
    fn protect(&self, offset: usize, len: usize, prot: libc::c_int) -> bool {
        if len == 0 {
            return true;
        }
        debug_assert!(offset + len <= self.capacity);
        // SAFETY: the range lies inside the mapping.
        unsafe { libc::mprotect(self.base.add(offset).cast(), len, prot) == 0 }
    }

    /// Like [`Region::protect`] outside a signal handler, where failing is a bug or an exhausted
    /// process (the kernel's mapping count), not something a message can cause by itself.
    fn set(&self, offset: usize, len: usize, prot: libc::c_int) {
        assert!(
            self.protect(offset, len, prot),
            "localnet: mprotect of a canister heap failed: {}",
            std::io::Error::last_os_error()
        );
    }

    /// Forgets the contents of `[offset, offset + len)` (zero when next used) and makes it
    /// inaccessible.
    fn discard(&self, offset: usize, len: usize) {
        if len == 0 {
            return;
        }
        // SAFETY: the range lies inside the mapping; dropping private anonymous pages is allowed.
        unsafe {
            libc::madvise(self.base.add(offset).cast(), len, libc::MADV_DONTNEED);
        }
        self.set(offset, len, libc::PROT_NONE);
    }

    /// Wasm page `page` (must be readable, for reads; writable, for writes).
    ///
    /// # Safety
    /// The caller must hold the only access to the page for the slice's lifetime.
    #[allow(clippy::mut_from_ref)]
    unsafe fn page(&self, page: usize) -> &mut [u8] {
        unsafe { std::slice::from_raw_parts_mut(self.base.add(page * PAGE), PAGE) }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `new` mapped; nothing refers to it any more.
        unsafe {
            libc::munmap(self.base.cast(), self.capacity + self.guard);
        }
    }
}

/// What the signal handler and the wasmtime memory share with the canister's [`Mirror`].
struct Shared {
    region: Region,
    /// Bytes the instance can access now (its `memory.size`).
    size: AtomicUsize,
    /// Bytes that hold the heap of record; beyond them the region is zero and inaccessible.
    valid: AtomicUsize,
    /// Whether first writes are being tracked (while the entry point runs).
    armed: AtomicBool,
    /// One bit per wasm page: written since the message started.
    dirty: Box<[AtomicU64]>,
}

impl Shared {
    fn mark(&self, page: usize) {
        self.dirty[page / 64].fetch_or(1 << (page % 64), Relaxed);
    }

    fn is_dirty(&self, page: usize) -> bool {
        self.dirty[page / 64].load(Relaxed) & (1 << (page % 64)) != 0
    }

    /// Dirty pages in ascending order.
    fn dirty_pages(&self) -> Vec<usize> {
        let mut out = Vec::new();
        for (w, word) in self.dirty.iter().enumerate() {
            let mut bits = word.load(Relaxed);
            while bits != 0 {
                out.push(w * 64 + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        }
        out
    }

    fn clear_dirty(&self) {
        for word in self.dirty.iter() {
            word.store(0, Relaxed);
        }
    }

    /// The signal handler's body (async-signal-safe: atomics and `mprotect` only). A write to a
    /// clean page of the accessible heap is the tracked first write: mark it, open the page,
    /// resume. Anything else is wasmtime's to handle (out of bounds → a wasm trap).
    fn on_fault(&self, addr: usize) -> bool {
        if !self.armed.load(Relaxed) {
            return false;
        }
        let Some(offset) = addr.checked_sub(self.region.base as usize) else {
            return false;
        };
        if offset >= self.size.load(Relaxed) {
            return false;
        }
        let page = offset / PAGE;
        if self.is_dirty(page) || !self.region.protect(page * PAGE, PAGE, READ_WRITE) {
            return false;
        }
        self.mark(page);
        true
    }

    /// Makes `[from, to)` accessible as fresh zero pages, dirty from the start (they are new
    /// state: kept on success, discarded on rollback).
    fn open_new(&self, from: usize, to: usize) -> bool {
        if to <= from {
            return true;
        }
        if !self.region.protect(from, to - from, READ_WRITE) {
            return false;
        }
        for page in from / PAGE..to.div_ceil(PAGE) {
            self.mark(page);
        }
        true
    }
}

/// Maximal runs of consecutive pages, as `(first, count)`.
fn runs(pages: &[usize]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for &p in pages {
        match out.last_mut() {
            Some((first, count)) if *first + *count == p => *count += 1,
            _ => out.push((p, 1)),
        }
    }
    out
}

/// The wasm memory wasmtime gets when the canister's mirror is used.
struct MirrorMemory {
    shared: Arc<Shared>,
    size: usize,
}

// SAFETY: `as_ptr` stays valid and fixed for the memory's life (the region outlives it through
// the `Arc`), `byte_capacity` bytes plus the guard are reserved, and growing never moves it.
unsafe impl LinearMemory for MirrorMemory {
    fn byte_size(&self) -> usize {
        self.size
    }

    fn byte_capacity(&self) -> usize {
        self.shared.region.capacity
    }

    fn grow_to(&mut self, new_size: usize) -> wasmtime::Result<()> {
        if new_size > self.byte_capacity() {
            wasmtime::bail!("the heap cannot grow past {} bytes", self.byte_capacity());
        }
        // Bytes below `valid` already hold the heap of record (growing the fresh instance to the
        // heap's size); bytes above it are new zero pages.
        let from = self.size.max(self.shared.valid.load(Relaxed));
        if !self.shared.open_new(from, new_size) {
            wasmtime::bail!("cannot map more heap: {}", std::io::Error::last_os_error());
        }
        self.size = new_size;
        self.shared.size.store(new_size, Relaxed);
        Ok(())
    }

    fn as_ptr(&self) -> *mut u8 {
        self.shared.region.base
    }
}

/// A wasm memory of its own (install steps, modules the mirror does not fit).
struct OwnedMemory {
    region: Region,
    size: usize,
}

// SAFETY: as for `MirrorMemory`; the region is owned.
unsafe impl LinearMemory for OwnedMemory {
    fn byte_size(&self) -> usize {
        self.size
    }

    fn byte_capacity(&self) -> usize {
        self.region.capacity
    }

    fn grow_to(&mut self, new_size: usize) -> wasmtime::Result<()> {
        if new_size > self.region.capacity {
            wasmtime::bail!("the heap cannot grow past {} bytes", self.region.capacity);
        }
        if new_size > self.size
            && !self
                .region
                .protect(self.size, new_size - self.size, READ_WRITE)
        {
            wasmtime::bail!("cannot map more heap: {}", std::io::Error::last_os_error());
        }
        self.size = new_size;
        Ok(())
    }

    fn as_ptr(&self) -> *mut u8 {
        self.region.base
    }
}

thread_local! {
    /// The mirror offered to the next memory wasmtime creates on this thread (set just before
    /// instantiation, taken by [`HeapCreator`]).
    static OFFERED: RefCell<Option<Arc<Shared>>> = const { RefCell::new(None) };
}

/// The engine's memory creator: the offered mirror when it fits, otherwise a memory of its own.
pub(crate) struct HeapCreator;

// SAFETY: every memory returned reserves `reserved_size_in_bytes` plus `guard_size_in_bytes`,
// starts zeroed where it is not the mirror's heap of record, and never moves.
unsafe impl MemoryCreator for HeapCreator {
    fn new_memory(
        &self,
        ty: MemoryType,
        minimum: usize,
        _maximum: Option<usize>,
        reserved_size_in_bytes: Option<usize>,
        guard_size_in_bytes: usize,
    ) -> Result<Box<dyn LinearMemory>, String> {
        let capacity = reserved_size_in_bytes.unwrap_or(RESERVATION);
        let offered = OFFERED.with(|o| {
            o.borrow_mut().take_if(|s| {
                !ty.is_64()
                    && !ty.is_shared()
                    && s.region.capacity == capacity
                    && s.region.guard >= guard_size_in_bytes
            })
        });
        if let Some(shared) = offered {
            let mut memory = MirrorMemory { shared, size: 0 };
            memory.grow_to(minimum).map_err(|e| e.to_string())?;
            return Ok(Box::new(memory));
        }
        let region = Region::new(capacity, guard_size_in_bytes)?;
        let mut memory = OwnedMemory { region, size: 0 };
        memory.grow_to(minimum).map_err(|e| e.to_string())?;
        Ok(Box::new(memory))
    }
}

/// Where a canister's messages run (see the module docs). Empty until the first message that can
/// use it; dropped with the canister.
#[derive(Default)]
pub struct LiveHeap {
    slot: Mutex<Option<Mirror>>,
}

impl std::fmt::Debug for LiveHeap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveHeap")
    }
}

impl LiveHeap {
    /// Takes the mirror for one message (creating it the first time), in line with `heap`.
    /// `None` when no address space is left for it: the message takes the copy path.
    pub(crate) fn checkout(&self, heap: &PagedMemory) -> Option<Mirror> {
        let taken = self.slot.lock().unwrap_or_else(|e| e.into_inner()).take();
        let mut mirror = match taken {
            Some(mirror) => mirror,
            None => Mirror::new().ok()?,
        };
        mirror.sync(heap);
        Some(mirror)
    }

    /// Returns the mirror after the message ([`Mirror::commit`] or [`Mirror::rollback`] done).
    pub(crate) fn checkin(&self, mirror: Mirror) {
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(mirror);
    }
}

/// The region and the heap of record it holds.
pub(crate) struct Mirror {
    shared: Arc<Shared>,
    synced: PagedMemory,
}

impl Mirror {
    fn new() -> Result<Mirror, String> {
        let region = Region::new(RESERVATION, GUARD)?;
        Ok(Mirror {
            shared: Arc::new(Shared {
                region,
                size: AtomicUsize::new(0),
                valid: AtomicUsize::new(0),
                armed: AtomicBool::new(false),
                dirty: (0..PAGES / 64).map(|_| AtomicU64::new(0)).collect(),
            }),
            synced: PagedMemory::default(),
        })
    }

    /// Makes the region hold `heap`: copies the pages whose identity differs, forgets pages past
    /// its end. Leaves every page of the heap read-only.
    fn sync(&mut self, heap: &PagedMemory) {
        let region = &self.shared.region;
        let old = self.synced.shared_pages();
        let new = heap.shared_pages();
        if new.len() < old.len() {
            region.discard(new.len() * PAGE, (old.len() - new.len()) * PAGE);
        }
        let changed: Vec<usize> = (0..new.len())
            .filter(|&i| old.get(i).is_none_or(|o| !Arc::ptr_eq(o, &new[i])))
            .collect();
        let zero = zero_page();
        for (first, count) in runs(&changed) {
            region.set(first * PAGE, count * PAGE, READ_WRITE);
            for (i, page) in new.iter().enumerate().skip(first).take(count) {
                // Past the old end the region is zero already: a zero page costs nothing.
                if i >= old.len() && Arc::ptr_eq(page, &zero) {
                    continue;
                }
                // SAFETY: the page was just made writable; the mirror is checked out to us.
                unsafe { region.page(i) }.copy_from_slice(page);
            }
            region.set(first * PAGE, count * PAGE, READ);
        }
        // The usual case (the heap the last message committed) changes nothing: keep the pages.
        if !changed.is_empty() || new.len() != old.len() {
            self.synced = heap.clone();
        }
        self.shared.valid.store(new.len() * PAGE, Relaxed);
        self.shared.size.store(new.len() * PAGE, Relaxed);
        self.shared.clear_dirty();
    }

    /// Heap pages covered by `segments` (`(offset, len)` of the active data segments).
    fn segment_pages(&self, segments: &[(u64, u64)]) -> Vec<usize> {
        let mut pages: Vec<usize> = segments
            .iter()
            .filter(|(_, len)| *len > 0)
            .flat_map(|&(offset, len)| {
                let first = (offset / PAGE as u64) as usize;
                let last = ((offset + len - 1) / PAGE as u64) as usize;
                first..=last
            })
            .filter(|&p| p < self.synced.pages() as usize)
            .collect();
        pages.sort_unstable();
        pages.dedup();
        pages
    }

    /// Before instantiation: offers the region to the engine's memory creator, makes the pages
    /// the data segments will be written to writable, and installs the write tracker on the
    /// store.
    pub(crate) fn offer<T>(&self, store: &mut Store<T>, segments: &[(u64, u64)]) {
        for (first, count) in runs(&self.segment_pages(segments)) {
            self.shared
                .region
                .set(first * PAGE, count * PAGE, READ_WRITE);
        }
        let shared = self.shared.clone();
        let handler = move |signum: libc::c_int,
                            info: *const libc::siginfo_t,
                            _context: *const libc::c_void| {
            if signum != libc::SIGSEGV && signum != libc::SIGBUS {
                return false;
            }
            // SAFETY: the kernel passes a valid `siginfo_t` with SIGSEGV and SIGBUS.
            let addr = unsafe { (*info).si_addr() } as usize;
            shared.on_fault(addr)
        };
        // SAFETY: the handler is async-signal-safe (see `Shared::on_fault`).
        unsafe { wasmtime::unix::StoreExt::set_signal_handler(store, handler) };
        OFFERED.with(|o| *o.borrow_mut() = Some(self.shared.clone()));
    }

    /// After instantiation (successful or not): whether the instance runs on the region. The
    /// data segments' pages get the heap of record's bytes back and are read-only again.
    pub(crate) fn accept(&self, segments: &[(u64, u64)]) -> bool {
        let used = OFFERED.with(|o| o.borrow_mut().take()).is_none();
        let region = &self.shared.region;
        let heap = self.synced.shared_pages();
        for (first, count) in runs(&self.segment_pages(segments)) {
            for (i, page) in heap.iter().enumerate().skip(first).take(count) {
                // SAFETY: made writable by `offer`; the mirror is checked out to us.
                unsafe { region.page(i) }.copy_from_slice(page);
            }
            region.set(first * PAGE, count * PAGE, READ);
        }
        used
    }

    /// Starts (`true`) or stops tracking first writes.
    pub(crate) fn arm(&self, on: bool) {
        self.shared.armed.store(on, Relaxed);
    }

    /// After a successful message: the new heap of record — the old one's pages, with the dirty
    /// ones copied out of the region. The region stays in line with it.
    pub(crate) fn commit(&mut self) -> PagedMemory {
        self.arm(false);
        let size = self.shared.size.load(Relaxed);
        let region = &self.shared.region;
        let old = self.synced.shared_pages();
        let pages = (0..size / PAGE)
            .map(|i| {
                let page = old.get(i);
                if !self.shared.is_dirty(i)
                    && let Some(page) = page
                {
                    return page.clone();
                }
                // SAFETY: a dirty page is writable, others readable; checked out to us.
                let bytes: &[u8] = unsafe { region.page(i) };
                match page {
                    Some(page) if page.as_slice() == bytes => page.clone(),
                    None if bytes.iter().all(|&b| b == 0) => zero_page(),
                    _ => Arc::new(bytes.to_vec()),
                }
            })
            .collect();
        for (first, count) in runs(&self.shared.dirty_pages()) {
            region.set(first * PAGE, count * PAGE, READ);
        }
        self.synced = PagedMemory::from_shared_pages(pages);
        self.shared.valid.store(size, Relaxed);
        self.shared.clear_dirty();
        self.synced.clone()
    }

    /// After a trap or a query: the dirty pages get the heap of record's bytes back (pages grown
    /// by the message are forgotten), so the region holds exactly the heap from before.
    pub(crate) fn rollback(&mut self) {
        self.arm(false);
        let region = &self.shared.region;
        let heap = self.synced.shared_pages();
        for (first, count) in runs(&self.shared.dirty_pages()) {
            for i in first..first + count {
                match heap.get(i) {
                    // SAFETY: a dirty page is writable; checked out to us.
                    Some(page) => unsafe { region.page(i) }.copy_from_slice(page),
                    None => region.discard(i * PAGE, PAGE),
                }
            }
            let kept = count.min(heap.len().saturating_sub(first));
            region.set(first * PAGE, kept * PAGE, READ);
        }
        let valid = self.shared.valid.load(Relaxed);
        self.shared.size.store(valid, Relaxed);
        self.shared.clear_dirty();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_group_consecutive_pages() {
        assert_eq!(runs(&[1, 2, 3, 7, 9, 10]), vec![(1, 3), (7, 1), (9, 2)]);
        assert!(runs(&[]).is_empty());
    }

    #[test]
    fn sync_copies_only_pages_that_differ_and_rollback_restores_them() {
        let mut mirror = Mirror::new().unwrap();
        let heap = PagedMemory::from_bytes(&vec![5u8; 3 * PAGE]);
        mirror.sync(&heap);
        // SAFETY: readable after sync; the test owns the mirror.
        assert!(
            unsafe { mirror.shared.region.page(2) }
                .iter()
                .all(|&b| b == 5)
        );
        // A "message" writes page 1 (as the signal handler would let it) and page 3 (grown).
        mirror.shared.region.set(PAGE, PAGE, READ_WRITE);
        mirror.shared.mark(1);
        let page = unsafe { mirror.shared.region.page(1) };
        page[0] = 9;
        assert!(mirror.shared.open_new(3 * PAGE, 4 * PAGE));
        mirror.shared.size.store(4 * PAGE, Relaxed);
        let page = unsafe { mirror.shared.region.page(3) };
        page[0] = 1;
        mirror.rollback();
        assert_eq!(unsafe { mirror.shared.region.page(1) }[0], 5);
        assert_eq!(mirror.shared.size.load(Relaxed), 3 * PAGE);
        // The same writes committed: pages 0 and 2 stay shared, 1 and 3 are new.
        mirror.shared.region.set(PAGE, PAGE, READ_WRITE);
        mirror.shared.mark(1);
        let page = unsafe { mirror.shared.region.page(1) };
        page[0] = 9;
        assert!(mirror.shared.open_new(3 * PAGE, 4 * PAGE));
        mirror.shared.size.store(4 * PAGE, Relaxed);
        let after = mirror.commit();
        assert_eq!(after.pages(), 4);
        let (a, b) = (heap.shared_pages(), after.shared_pages());
        assert!(Arc::ptr_eq(&a[0], &b[0]) && Arc::ptr_eq(&a[2], &b[2]));
        assert_eq!(b[1][0], 9);
        assert!(Arc::ptr_eq(&b[3], &zero_page()));
    }
}
