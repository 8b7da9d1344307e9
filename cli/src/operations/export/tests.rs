//! The export pipeline end to end against the fake store: layout, resume, hostile partial
//! folders, replies out of order and the memory bound.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use indicatif::ProgressBar;

use super::fetch::slice_budget;
use super::*;
use crate::operations::fake::FakeStore;
use crate::operations::journal::Journal;
use crate::operations::layout::{self, Region};
use crate::operations::manifest::sha256_hex;
use crate::operations::store::RetryPolicy;
use crate::operations::verify::verify_dir;

fn opts(out: PathBuf) -> ExportOptions {
    ExportOptions {
        out,
        concurrency: 4,
        slice: 100_000,
        retry: RetryPolicy {
            attempts: 3,
            first_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
        },
        timings: Arc::default(),
    }
}

#[tokio::test]
async fn an_export_writes_the_dfx_layout_and_a_manifest_that_verifies() {
    let store = FakeStore::with_snapshot(50_000, 3 * 65536, 5 * 65536, 2);
    let snap = store.snapshot_id();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("backup");
    let o = opts(out.clone());
    let s = export(&store, &snap, &o, &ProgressBar::hidden())
        .await
        .unwrap();
    // Hashed as the slices arrived: nothing was read back from disk.
    assert_eq!(o.timings.reread_bytes.load(Ordering::Relaxed), 0);
    assert!(!layout::partial_dir(&out).exists());
    assert_eq!(s.resumed_bytes, 0);
    assert_eq!(
        std::fs::read(out.join(layout::STABLE_MEMORY)).unwrap(),
        store.region(Region::StableMemory)
    );
    assert_eq!(
        std::fs::read(out.join(layout::WASM_MEMORY)).unwrap(),
        store.region(Region::WasmMemory)
    );
    let report = verify_dir(&out);
    assert!(report.ok, "{:?}", report.problems);
    assert!(report.manifest);
    assert_eq!(report.files.len(), 6);
    assert!(!out.join(layout::EXPORT_JOURNAL).exists());
}

#[tokio::test]
async fn an_empty_stable_memory_writes_no_file_like_dfx() {
    let store = FakeStore::with_snapshot(1000, 65536, 0, 0);
    let snap = store.snapshot_id();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    export(&store, &snap, &opts(out.clone()), &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(!out.join(layout::STABLE_MEMORY).exists());
    assert!(verify_dir(&out).ok);
}

#[tokio::test]
async fn an_interrupted_export_resumes_from_the_verified_slices_and_ends_identical() {
    let store = FakeStore::with_snapshot(10_000, 20 * 65536, 30 * 65536, 1);
    let snap = store.snapshot_id();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    store.fail_reads_after(12);
    let err = export(&store, &snap, &opts(out.clone()), &ProgressBar::hidden())
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("resumes it"), "{err:#}");
    assert!(layout::partial_dir(&out).exists());
    assert!(!out.exists());
    assert_eq!(
        Partial::claim(&out).unwrap().pending().unwrap().snapshot_id,
        hex::encode(&snap)
    );
    // Damage one journaled slice: it must be downloaded again, not trusted.
    let heap = layout::partial_dir(&out).join(layout::WASM_MODULE);
    let f = OpenOptions::new().write(true).open(&heap).unwrap();
    f.write_all_at(&[0xff; 10], 0).unwrap();
    store.fail_reads_after(u64::MAX);
    store.reset_reads();
    let o = opts(out.clone());
    let s = export(&store, &snap, &o, &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(s.resumed_bytes > 0);
    // The heap, part of which the first run wrote, is hashed from disk; the module (whose
    // damaged slice was downloaded again, so nothing of it was resumed) and the stable
    // memory, which the first run never reached, are hashed on the way.
    assert_eq!(o.timings.reread_bytes.load(Ordering::Relaxed), 20 * 65536);
    let total: u64 = 10_000 + 50 * 65536 + store.chunk_bytes();
    assert_eq!(s.transferred_bytes + s.resumed_bytes, total);
    assert!(s.transferred_bytes < total);
    assert_eq!(
        std::fs::read(out.join(layout::WASM_MODULE)).unwrap(),
        store.region(Region::WasmModule)
    );
    assert_eq!(
        std::fs::read(out.join(layout::STABLE_MEMORY)).unwrap(),
        store.region(Region::StableMemory)
    );
    assert!(verify_dir(&out).ok);
}

#[tokio::test]
async fn a_journal_written_before_the_crc_is_still_trusted_on_resume() {
    let store = FakeStore::with_snapshot(10_000, 20 * 65536, 30 * 65536, 1);
    let snap = store.snapshot_id();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    store.fail_reads_after(12);
    export(&store, &snap, &opts(out.clone()), &ProgressBar::hidden())
        .await
        .unwrap_err();
    // Rewrite every region entry as an older keepsake wrote it: the slice's sha256, no CRC.
    let partial = layout::partial_dir(&out);
    let journal = partial.join(layout::EXPORT_JOURNAL);
    let text = std::fs::read_to_string(&journal).unwrap();
    let mut lines = text.lines();
    let mut rewritten = format!("{}\n", lines.next().unwrap());
    let mut converted = 0;
    for line in lines {
        let mut e: crate::operations::journal::Entry = serde_json::from_str(line).unwrap();
        if e.crc32.take().is_some() {
            let mut buf = vec![0u8; e.len as usize];
            std::fs::File::open(partial.join(&e.path))
                .unwrap()
                .read_exact_at(&mut buf, e.offset)
                .unwrap();
            e.sha256 = Some(sha256_hex(&buf));
            converted += 1;
        }
        rewritten.push_str(&format!("{}\n", serde_json::to_string(&e).unwrap()));
    }
    assert!(converted > 0, "the first run journaled region slices");
    std::fs::write(&journal, rewritten).unwrap();
    store.fail_reads_after(u64::MAX);
    store.reset_reads();
    let s = export(&store, &snap, &opts(out.clone()), &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(s.resumed_bytes > 0, "the sha256 entries were trusted");
    assert_eq!(
        std::fs::read(out.join(layout::WASM_MEMORY)).unwrap(),
        store.region(Region::WasmMemory)
    );
    assert!(verify_dir(&out).ok);
}

#[tokio::test]
async fn transient_read_failures_are_retried_without_the_user_noticing() {
    let store = FakeStore::with_snapshot(10_000, 4 * 65536, 0, 0);
    let snap = store.snapshot_id();
    store.transient_failures(3);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    export(&store, &snap, &opts(out.clone()), &ProgressBar::hidden())
        .await
        .unwrap();
    assert!(verify_dir(&out).ok);
}

#[tokio::test]
async fn a_partial_folder_of_another_snapshot_is_not_mixed_in() {
    let store = FakeStore::with_snapshot(1000, 65536, 0, 0);
    let snap = store.snapshot_id();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    let partial = layout::partial_dir(&out);
    std::fs::create_dir_all(&partial).unwrap();
    let other = ExportHeader {
        canister_id: "aaaaa-aa".into(),
        snapshot_id: "ff".into(),
    };
    Journal::open(&partial.join(layout::EXPORT_JOURNAL), &other, true).unwrap();
    let err = export(&store, &snap, &opts(out), &ProgressBar::hidden())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("remove that folder"), "{err}");
}

#[tokio::test]
async fn a_link_planted_in_the_partial_folder_is_not_written_through() {
    let store = FakeStore::with_snapshot(1000, 65536, 0, 0);
    let snap = store.snapshot_id();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    let partial = layout::partial_dir(&out);
    std::fs::create_dir_all(&partial).unwrap();
    let header = ExportHeader {
        canister_id: store.canister().to_text(),
        snapshot_id: hex::encode(&snap),
    };
    Journal::open(&partial.join(layout::EXPORT_JOURNAL), &header, true).unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"keep me").unwrap();
    std::os::unix::fs::symlink(&victim, partial.join(layout::WASM_MODULE)).unwrap();
    let err = export(&store, &snap, &opts(out.clone()), &ProgressBar::hidden())
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("symbolic link"), "{err:#}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
    assert!(!out.exists());
}

#[tokio::test]
async fn an_export_of_a_snapshot_that_does_not_exist_leaves_no_partial_folder() {
    let store = FakeStore::with_snapshot(1000, 65536, 0, 0);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    export(&store, b"nope", &opts(out.clone()), &ProgressBar::hidden())
        .await
        .unwrap_err();
    assert!(!layout::partial_dir(&out).exists());
    // And the right snapshot then exports into the same --out.
    let snap = store.snapshot_id();
    export(&store, &snap, &opts(out.clone()), &ProgressBar::hidden())
        .await
        .unwrap();
}

#[tokio::test]
async fn an_existing_output_folder_is_never_overwritten() {
    let store = FakeStore::with_snapshot(1000, 65536, 0, 0);
    let snap = store.snapshot_id();
    let dir = tempfile::tempdir().unwrap();
    let err = export(
        &store,
        &snap,
        &opts(dir.path().to_path_buf()),
        &ProgressBar::hidden(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("already exists"));
}

/// Exports `store`'s snapshot with its replies delayed by `delay(n)` for the n-th read, and
/// checks the files and keepsake.json's hashes against the store's bytes.
async fn export_with_delays(delay: impl Fn(u64) -> Duration + 'static) {
    let store = FakeStore::with_snapshot(10_000, 20 * 65536, 30 * 65536, 3);
    let snap = store.snapshot_id();
    store.delay_replies(delay);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b");
    let o = opts(out.clone());
    let s = export(&store, &snap, &o, &ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!(o.timings.reread_bytes.load(Ordering::Relaxed), 0);
    for r in [Region::WasmModule, Region::WasmMemory, Region::StableMemory] {
        let bytes = store.region(r);
        assert_eq!(std::fs::read(out.join(r.file())).unwrap(), bytes);
        let entry = s.files.iter().find(|f| f.path == r.file()).unwrap();
        assert_eq!(entry.sha256, sha256_hex(&bytes), "{}", r.file());
    }
    let report = verify_dir(&out);
    assert!(report.ok, "{:?}", report.problems);
}

#[tokio::test]
async fn replies_coming_back_reversed_give_the_same_files_and_hashes() {
    // Within every 8 reads, the last issued answers first.
    export_with_delays(|n| Duration::from_millis(3 * (8 - n % 8))).await;
}

#[tokio::test]
async fn replies_coming_back_shuffled_give_the_same_files_and_hashes() {
    export_with_delays(|n| Duration::from_millis((n * 7919 + 3) % 11)).await;
}

#[tokio::test]
async fn one_slow_read_does_not_hold_the_other_reads_slots() {
    // With reads yielded in file order (`buffered`), the three reads issued after the slow
    // first one answer and then sit in their slots: nothing else is issued until it answers.
    // Here the slots are refilled: every other slice is read while the first is held.
    // One file of 20 slices, whose first slice is the slow read.
    let store = FakeStore::with_snapshot(20 * 100_000, 0, 0, 0);
    let snap = store.snapshot_id();
    store.hold_first_read_until(19);
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path().join("b"));
    export(&store, &snap, &o, &ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!(store.answered_while_held.get(), Some(19));
    assert_eq!(store.max_in_flight.get(), o.concurrency as u64);
    assert!(verify_dir(&o.out).ok);
}

#[tokio::test]
async fn slices_behind_a_slow_read_are_written_and_freed_not_held_for_the_hash() {
    // The first read never answers before the fake's 2 s limit. The slices after it are
    // written (and their bytes freed) meanwhile; the file's sha256 waits for the gap with
    // lengths only and reads them back once it fills. Before, the exporter held them in a
    // reorder buffer and stopped issuing reads at `slice_budget`.
    // One file of 20 slices, whose first slice is the slow read.
    let store = FakeStore::with_snapshot(20 * 100_000, 0, 0, 0);
    let snap = store.snapshot_id();
    store.hold_first_read_until(u64::MAX);
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path().join("b"));
    let s = export(&store, &snap, &o, &ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!(store.answered_while_held.get(), Some(19));
    assert!(
        slice_budget(o.concurrency) < 19,
        "the old cap would have stopped the reads"
    );
    let entry = s
        .files
        .iter()
        .find(|f| f.path == layout::WASM_MODULE)
        .unwrap();
    assert_eq!(entry.sha256, sha256_hex(&store.region(Region::WasmModule)));
    assert!(verify_dir(&o.out).ok);
}
