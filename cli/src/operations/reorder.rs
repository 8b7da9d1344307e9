//! In-order release of what completes out of order: reads (and writes) complete in any order,
//! but a sha256 must be fed in file order. Something that arrives ahead of a gap is held until
//! what comes before it has arrived.
//!
//! What is held is an [`Extent`]: a backup source holds the slice's bytes (the caller bounds
//! how many are held by not issuing new reads while the buffer is full, `held`); an export holds
//! only the length of a slice already written to its file, and hashes by reading it back.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{Result, bail};

/// Something that covers a range of a file: its length is all the buffer needs.
pub trait Extent {
    /// Bytes covered.
    fn extent(&self) -> u64;
}

/// A slice's bytes.
impl Extent for Arc<Vec<u8>> {
    fn extent(&self) -> u64 {
        self.len() as u64
    }
}

/// A slice's length alone (its bytes are elsewhere, e.g. already in the file).
impl Extent for u64 {
    fn extent(&self) -> u64 {
        *self
    }
}

/// In-order release of slices, per file.
pub struct Reorder<K: Ord + Copy, T: Extent> {
    /// Per tracked file: the offset the hasher expects next.
    next: BTreeMap<K, u64>,
    /// Slices that arrived ahead of a gap, by (file, offset).
    held: BTreeMap<(K, u64), T>,
}

impl<K: Ord + Copy, T: Extent> Reorder<K, T> {
    /// Tracks these files, each starting at offset 0.
    pub fn new(files: impl IntoIterator<Item = K>) -> Self {
        Self {
            next: files.into_iter().map(|k| (k, 0)).collect(),
            held: BTreeMap::new(),
        }
    }

    /// Is this file's hash fed through the buffer?
    pub fn tracks(&self, file: K) -> bool {
        self.next.contains_key(&file)
    }

    /// Slices held, waiting for a gap to fill.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Bytes of `file` released so far (its size once every slice has arrived).
    pub fn released(&self, file: K) -> u64 {
        self.next.get(&file).copied().unwrap_or(0)
    }

    /// Accepts the slice of `file` at `offset` and returns the slices now ready, in file order
    /// (empty while a slice before it is missing). A slice before the released point, or one
    /// already held, is a bug in the caller.
    pub fn push(&mut self, file: K, offset: u64, data: T) -> Result<Vec<T>> {
        let Some(next) = self.next.get_mut(&file) else {
            bail!("internal error: a slice of an untracked file reached the reorder buffer");
        };
        if offset < *next || self.held.contains_key(&(file, offset)) {
            bail!("internal error: the slice at {offset} arrived twice");
        }
        if offset > *next {
            self.held.insert((file, offset), data);
            return Ok(vec![]);
        }
        *next += data.extent();
        let mut ready = vec![data];
        while let Some(d) = self.held.remove(&(file, *next)) {
            *next += d.extent();
            ready.push(d);
        }
        Ok(ready)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(b: u8) -> Arc<Vec<u8>> {
        Arc::new(vec![b; 10])
    }

    #[test]
    fn slices_arriving_reversed_are_released_in_file_order_once_the_gap_fills() {
        let mut r = Reorder::new([1u8]);
        assert!(r.push(1, 20, slice(2)).unwrap().is_empty());
        assert!(r.push(1, 10, slice(1)).unwrap().is_empty());
        assert_eq!(r.held(), 2);
        let out = r.push(1, 0, slice(0)).unwrap();
        let firsts: Vec<u8> = out.iter().map(|d| d[0]).collect();
        assert_eq!(firsts, [0, 1, 2]);
        assert_eq!(r.held(), 0);
        assert_eq!(r.released(1), 30);
    }

    #[test]
    fn files_are_ordered_independently() {
        let mut r = Reorder::new([1u8, 2]);
        assert!(r.push(1, 10, slice(1)).unwrap().is_empty());
        assert_eq!(r.push(2, 0, slice(9)).unwrap().len(), 1);
        assert_eq!(r.push(1, 0, slice(0)).unwrap().len(), 2);
    }

    #[test]
    fn lengths_alone_are_released_in_file_order_too() {
        let mut r: Reorder<u8, u64> = Reorder::new([1u8]);
        assert!(r.push(1, 7, 3).unwrap().is_empty());
        assert_eq!(r.push(1, 0, 7).unwrap(), [7, 3]);
        assert_eq!(r.released(1), 10);
    }

    #[test]
    fn a_slice_delivered_twice_is_an_error_not_a_wrong_hash() {
        let mut r = Reorder::new([1u8]);
        r.push(1, 0, slice(0)).unwrap();
        assert!(r.push(1, 0, slice(0)).is_err());
        r.push(1, 20, slice(2)).unwrap();
        assert!(r.push(1, 20, slice(2)).is_err());
        assert!(r.push(3, 0, slice(0)).is_err());
    }
}
