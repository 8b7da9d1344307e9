//! Stable memory: the 32-bit functions (a 4 GiB view, refused on larger memories) and the
//! 64-bit ones, up to [`MAX_STABLE_BYTES`](super::MAX_STABLE_BYTES).

use super::{MAX_STABLE_BYTES, PAGE, R, SystemApi, trapped};

/// The 32-bit API's limit: 65,536 pages.
const MAX_STABLE32_BYTES: u64 = 4 * 1024 * 1024 * 1024;

impl SystemApi<'_, '_> {
    pub(super) fn stable_size(&mut self) -> R<u32> {
        let pages = self.host().stable.pages();
        if pages > u64::from(u16::MAX) + 1 {
            return Err(trapped(
                "32 bit stable memory api used on a memory larger than 4GB",
            ));
        }
        Ok(pages as u32)
    }

    /// The old size in pages, or -1 (as `u32::MAX`) when refused.
    pub(super) fn stable_grow(&mut self, new_pages: u32) -> R<u32> {
        let old = self.grow_stable(new_pages as u64, MAX_STABLE32_BYTES);
        Ok(if old == u64::MAX {
            u32::MAX
        } else {
            old as u32
        })
    }

    pub(super) fn stable_read(&mut self, dst: u32, offset: u32, size: u32) -> R<()> {
        self.stable64_read(dst as u64, offset as u64, size as u64)
    }

    pub(super) fn stable_write(&mut self, offset: u32, src: u32, size: u32) -> R<()> {
        self.stable64_write(offset as u64, src as u64, size as u64)
    }

    pub(super) fn stable64_size(&mut self) -> R<u64> {
        Ok(self.host().stable.pages())
    }

    /// The old size in pages, or `u64::MAX` (-1) when refused.
    pub(super) fn stable64_grow(&mut self, new_pages: u64) -> R<u64> {
        Ok(self.grow_stable(new_pages, MAX_STABLE_BYTES))
    }

    pub(super) fn stable64_read(&mut self, dst: u64, offset: u64, size: u64) -> R<()> {
        if !self.host().stable.contains(offset, size) {
            return Err(trapped("stable memory out of bounds"));
        }
        let bytes = self.host().stable.slice(offset, size);
        self.write(dst, &bytes)
    }

    pub(super) fn stable64_write(&mut self, offset: u64, src: u64, size: u64) -> R<()> {
        if !self.host().stable.contains(offset, size) {
            return Err(trapped("stable memory out of bounds"));
        }
        let bytes = self.read(src, size)?;
        self.host_mut().stable.write(offset, &bytes);
        Ok(())
    }

    /// Grows stable memory; returns the old size in pages or `u64::MAX` when refused.
    fn grow_stable(&mut self, pages: u64, max_bytes: u64) -> u64 {
        let old = self.host().stable.pages();
        match old.checked_add(pages).and_then(|p| p.checked_mul(PAGE)) {
            Some(bytes) if bytes <= max_bytes => {
                self.host_mut().stable.grow(pages);
                old
            }
            _ => u64::MAX,
        }
    }
}
