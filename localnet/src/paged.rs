//! Canister memories (heap and stable memory) as vectors of shared 64 KiB pages, copy on write,
//! like the replica's page maps. Every message works on a clone of the stable memory so that a
//! trap can discard it; with shared pages that clone costs one pointer per page, and a message
//! pays only for the pages it writes. The heap lives in wasmtime's linear memory while a message
//! runs; afterwards [`PagedMemory::capture`] keeps every unchanged page shared with the previous
//! state. Snapshots share pages the same way, so taking or loading one copies no data.

use std::sync::{Arc, OnceLock};

/// Page size (the wasm page size).
pub const PAGE: usize = 65536;

type Page = Arc<Vec<u8>>;

/// The shared page of zeros (a grown page nobody wrote).
pub(crate) fn zero_page() -> Page {
    static ZERO: OnceLock<Page> = OnceLock::new();
    ZERO.get_or_init(|| Arc::new(vec![0; PAGE])).clone()
}

/// A canister's stable memory.
#[derive(Clone, Default, Debug)]
pub struct PagedMemory {
    pages: Vec<Page>,
}

impl PartialEq for PagedMemory {
    fn eq(&self, other: &Self) -> bool {
        self.pages.len() == other.pages.len()
            && self
                .pages
                .iter()
                .zip(&other.pages)
                .all(|(a, b)| Arc::ptr_eq(a, b) || a == b)
    }
}
impl Eq for PagedMemory {}

impl PagedMemory {
    /// Size in bytes.
    pub fn len(&self) -> u64 {
        (self.pages.len() * PAGE) as u64
    }

    /// Whether it has no pages.
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// Size in pages.
    pub fn pages(&self) -> u64 {
        self.pages.len() as u64
    }

    /// Adds zeroed pages (shared, so growing costs no memory until written).
    pub fn grow(&mut self, pages: u64) {
        let zero = zero_page();
        self.pages.extend((0..pages).map(|_| zero.clone()));
    }

    /// Whether `[offset, offset + size)` is inside.
    pub fn contains(&self, offset: u64, size: u64) -> bool {
        offset
            .checked_add(size)
            .is_some_and(|end| end <= self.len())
    }

    /// Copies bytes out; the range must be inside.
    pub fn read(&self, offset: u64, dst: &mut [u8]) {
        let mut pos = offset as usize;
        let mut done = 0;
        while done < dst.len() {
            let (page, within) = (pos / PAGE, pos % PAGE);
            let n = (PAGE - within).min(dst.len() - done);
            dst[done..done + n].copy_from_slice(&self.pages[page][within..within + n]);
            done += n;
            pos += n;
        }
    }

    /// Copies bytes in (unsharing only the pages written); the range must be inside.
    pub fn write(&mut self, offset: u64, src: &[u8]) {
        let mut pos = offset as usize;
        let mut done = 0;
        while done < src.len() {
            let (page, within) = (pos / PAGE, pos % PAGE);
            let n = (PAGE - within).min(src.len() - done);
            Arc::make_mut(&mut self.pages[page])[within..within + n]
                .copy_from_slice(&src[done..done + n]);
            done += n;
            pos += n;
        }
    }

    /// A byte range as a vector; the range must be inside.
    pub fn slice(&self, offset: u64, size: u64) -> Vec<u8> {
        let mut out = vec![0; size as usize];
        self.read(offset, &mut out);
        out
    }

    /// All bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        self.slice(0, self.len())
    }

    /// Writes all bytes to the start of `dst` (which must be at least as long).
    pub fn copy_into(&self, dst: &mut [u8]) {
        for (page, chunk) in self.pages.iter().zip(dst.chunks_mut(PAGE)) {
            chunk.copy_from_slice(&page[..chunk.len()]);
        }
    }

    /// Pages holding `data` (a multiple of the page size, else zero padded), sharing every page
    /// that equals the same page of `previous`.
    pub fn capture(previous: &PagedMemory, data: &[u8]) -> Self {
        let pages = data
            .chunks(PAGE)
            .enumerate()
            .map(|(i, chunk)| match previous.pages.get(i) {
                Some(old) if old.as_slice() == chunk => old.clone(),
                _ => {
                    let mut page = chunk.to_vec();
                    page.resize(PAGE, 0);
                    Arc::new(page)
                }
            })
            .collect();
        PagedMemory { pages }
    }

    /// Zeroed memory of `bytes` (rounded up to whole pages).
    pub fn zeroed(bytes: u64) -> Self {
        let mut m = PagedMemory::default();
        m.grow(bytes.div_ceil(PAGE as u64));
        m
    }

    /// The shared pages (for [`crate::persist`], which knows a page it already wrote by the
    /// identity of its buffer: a written page is always a new buffer).
    pub(crate) fn shared_pages(&self) -> &[Arc<Vec<u8>>] {
        &self.pages
    }

    /// Memory made of these pages (each [`PAGE`] bytes long).
    pub(crate) fn from_shared_pages(pages: Vec<Arc<Vec<u8>>>) -> Self {
        debug_assert!(pages.iter().all(|p| p.len() == PAGE));
        PagedMemory { pages }
    }

    /// Memory holding `bytes` (padded with zeros to whole pages).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut m = PagedMemory::zeroed(bytes.len() as u64);
        m.write(0, bytes);
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_across_page_boundaries_read_back_and_clones_stay_independent() {
        let mut a = PagedMemory::zeroed(3 * PAGE as u64);
        a.write(PAGE as u64 - 3, b"abcdef");
        let b = a.clone();
        a.write(PAGE as u64 - 3, b"XY");
        assert_eq!(a.slice(PAGE as u64 - 3, 6), b"XYcdef");
        assert_eq!(b.slice(PAGE as u64 - 3, 6), b"abcdef");
        assert_eq!(a.len(), 3 * PAGE as u64);
        assert!(a.contains(0, 3 * PAGE as u64) && !a.contains(1, 3 * PAGE as u64));
    }

    #[test]
    fn capture_shares_unchanged_pages() {
        let before = PagedMemory::from_bytes(&vec![7u8; 2 * PAGE]);
        let mut data = before.to_vec();
        data[PAGE + 1] = 8;
        let after = PagedMemory::capture(&before, &data);
        assert!(Arc::ptr_eq(&before.pages[0], &after.pages[0]));
        assert!(!Arc::ptr_eq(&before.pages[1], &after.pages[1]));
        assert_eq!(after.to_vec(), data);
        let mut out = vec![0u8; 2 * PAGE];
        after.copy_into(&mut out);
        assert_eq!(out, data);
    }
}
