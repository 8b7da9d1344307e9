//! Where an export's time goes, measured rather than guessed: hashing, positioned writes,
//! fsync and the journal, each summed over the whole export (thread time: hashing and writes
//! overlap the download), plus the wall-clock phases.
//!
//! The counters are always kept (a few atomic adds per 2 MB slice cost nothing measurable), and
//! are printed on stderr only when `KEEPSAKE_TIMINGS` is set, for the benchmark
//! (`scripts/bench.sh`) and for anyone asking why an export is slower than the network.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The environment variable that makes `export` print its timings on stderr.
pub const ENV: &str = "KEEPSAKE_TIMINGS";

/// Nanoseconds (or bytes) summed by the export.
#[derive(Debug, Default)]
pub struct Timings {
    /// Checksum of each slice for the resume journal (CRC-32; a chunk's sha256 check).
    pub hash_slices: AtomicU64,
    /// The in-order sha256 of each whole file, for keepsake.json (read back as written).
    pub hash_files: AtomicU64,
    /// Positioned writes of slices (and chunk files).
    pub write: AtomicU64,
    /// Appending journal lines.
    pub journal: AtomicU64,
    /// `fsync` of every file and folder once everything is written.
    pub fsync_final: AtomicU64,
    /// Bytes read back from disk to hash a file (only files an earlier run had started).
    pub reread_bytes: AtomicU64,
    /// From the first read to the last slice written.
    pub download: AtomicU64,
    /// From the last slice written to the rename.
    pub finish: AtomicU64,
}

/// Adds the time `f` takes to `slot`.
pub fn timed<T>(slot: &AtomicU64, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    add(slot, start.elapsed());
    out
}

/// Adds `d` to `slot`.
pub fn add(slot: &AtomicU64, d: Duration) {
    slot.fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
}

fn secs(slot: &AtomicU64) -> f64 {
    slot.load(Ordering::Relaxed) as f64 / 1e9
}

impl Timings {
    /// Whether the user asked for the report.
    pub fn wanted() -> bool {
        std::env::var_os(ENV).is_some_and(|v| !v.is_empty() && v != "0")
    }

    /// One line per phase, for stderr. `total` is the command's wall-clock time and `setup` the
    /// part before the download (agent, root key, snapshot choice, metadata).
    pub fn report(&self, total: Duration, setup: Duration) -> String {
        format!(
            "timings: total {:.3} s = setup {:.3} s + download {:.3} s + finish {:.3} s\n\
             timings: per-byte work during the download, off the task that decodes the replies: \
             slice checksums {:.3} s + writes {:.3} s (blocking pool), file sha256 {:.3} s (hashing \
             thread); on that task: journal {:.3} s\n\
             timings: finish: fsync {:.3} s; bytes re-read to hash resumed files: {}",
            total.as_secs_f64(),
            setup.as_secs_f64(),
            secs(&self.download),
            secs(&self.finish),
            secs(&self.hash_slices),
            secs(&self.write),
            secs(&self.hash_files),
            secs(&self.journal),
            secs(&self.fsync_final),
            self.reread_bytes.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timed_sections_add_up_and_the_report_names_every_phase() {
        let t = Timings::default();
        let v = timed(&t.write, || {
            std::thread::sleep(Duration::from_millis(5));
            7
        });
        assert_eq!(v, 7);
        assert!(t.write.load(Ordering::Relaxed) >= 5_000_000);
        let r = t.report(Duration::from_secs(2), Duration::from_millis(100));
        for word in [
            "total 2.000 s",
            "setup 0.100 s",
            "writes 0.00",
            "fsync",
            "re-read",
        ] {
            assert!(r.contains(word), "{word} missing from {r}");
        }
    }
}
