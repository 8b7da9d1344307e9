//! The heap messages run on (`src/heap.rs`): each canister's heap stays mapped between messages
//! and writes are tracked per page. What must hold, checked here through canister code (so the
//! bytes compared are the ones the next message sees) and against the heap of record (what
//! snapshots and the state directory keep):
//!
//! * a trapping message leaves every byte of the heap, and its size, as before (IC-FACTS §5,
//!   per-message atomicity; IC-FACTS §8: a trap's state change is rolled back);
//! * a query's writes are never kept;
//! * data segments initialise the heap at install only, not again under later messages;
//! * a snapshot load, an upgrade and a save/load of the subnet put the right bytes under the next
//!   message.
//!
//! `heap_update_benchmark` (ignored) measures a trivial update on a large heap:
//! `scripts/bench-heap.sh` runs it (docs/BENCHMARKS.md).

use candid::Principal;
use ic_management_canister_types::SnapshotDataKind;
use localnet::{ErrorCode, LocalNet};
use std::time::Instant;

/// A module whose heap starts with "hello" (a data segment) and that can grow to `pages` wasm
/// pages, write all over it, trap, and hash it.
fn module(pages: u32) -> Vec<u8> {
    let grow = pages - 1;
    let wat = format!(
        r#"(module
          (import "ic0" "msg_reply" (func $reply))
          (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
          (memory 1)
          (data (i32.const 0) "hello")
          ;; Every wasm page from 1 on gets its index in its first word, and one more word in
          ;; its middle (so pages differ).
          (func $scatter (param $value i32) (local $i i32)
            (local.set $i (i32.const 1))
            (block $done (loop $next
              (br_if $done (i32.ge_u (local.get $i) (memory.size)))
              (i32.store (i32.mul (local.get $i) (i32.const 65536))
                         (i32.add (local.get $i) (local.get $value)))
              (i32.store (i32.add (i32.mul (local.get $i) (i32.const 65536)) (i32.const 40000))
                         (local.get $value))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $next))))
          (func $overwrite_grow_and_write_new_page
            (call $scatter (i32.const 99))
            (i32.store (i32.const 0) (i32.const -1))
            (drop (memory.grow (i32.const 4)))
            (i32.store (i32.mul (i32.sub (memory.size) (i32.const 1)) (i32.const 65536))
                       (i32.const 7)))
          ;; Grows the heap and writes every byte past page 0 (so the whole heap is resident).
          (func (export "canister_update fill")
            (drop (memory.grow (i32.const {grow})))
            (memory.fill (i32.const 65536) (i32.const 1)
                         (i32.mul (i32.sub (memory.size) (i32.const 1)) (i32.const 65536)))
            (call $scatter (i32.const 1))
            (call $reply))
          (func (export "canister_update scribble_then_trap")
            (call $overwrite_grow_and_write_new_page)
            unreachable)
          (func (export "canister_query scribble")
            (call $overwrite_grow_and_write_new_page)
            (call $reply))
          ;; "hello" -> "HELLO"
          (func (export "canister_update shout")
            (i32.store (i32.const 0) (i32.const 0x4c4c4548))
            (i32.store8 (i32.const 4) (i32.const 0x4f))
            (call $reply))
          (func (export "canister_update inc")
            (i32.store (i32.const 8) (i32.add (i32.load (i32.const 8)) (i32.const 1)))
            (call $reply))
          ;; Replies with the first 5 bytes, memory.size and a hash of every word of the heap
          ;; (h = h * 31 + word). Scratch space is at the end of page 0, after hashing.
          (func (export "canister_query look") (local $a i32) (local $h i32) (local $end i32)
            (local.set $end (i32.mul (memory.size) (i32.const 65536)))
            (block $done (loop $next
              (br_if $done (i32.ge_u (local.get $a) (local.get $end)))
              (local.set $h (i32.add (i32.mul (local.get $h) (i32.const 31))
                                     (i32.load (local.get $a))))
              (local.set $a (i32.add (local.get $a) (i32.const 4)))
              (br $next)))
            (i32.store (i32.const 65000) (memory.size))
            (i32.store (i32.const 65004) (local.get $h))
            (call $append (i32.const 0) (i32.const 5))
            (call $append (i32.const 65000) (i32.const 8))
            (call $reply)))"#
    );
    wat::parse_str(wat).expect("valid wat")
}

/// What `look` sees: the first five bytes, the size in pages and the hash of the whole heap.
#[derive(Debug, PartialEq, Eq)]
struct Look {
    head: String,
    pages: u32,
    hash: u32,
}

fn look(net: &mut LocalNet, id: Principal) -> Look {
    let r = net
        .query_call(id, Principal::anonymous(), "look", vec![])
        .expect("look");
    Look {
        head: String::from_utf8_lossy(&r[..5]).into_owned(),
        pages: u32::from_le_bytes(r[5..9].try_into().unwrap()),
        hash: u32::from_le_bytes(r[9..13].try_into().unwrap()),
    }
}

/// The same hash over bytes (the heap of record, read from a snapshot).
fn hash(heap: &[u8]) -> u32 {
    heap.chunks(4).fold(0u32, |h, w| {
        h.wrapping_mul(31)
            .wrapping_add(u32::from_le_bytes(w.try_into().unwrap()))
    })
}

fn install(net: &mut LocalNet, pages: u32) -> Principal {
    let id = net.create_canister();
    net.install_canister(id, module(pages), vec![], None);
    net.update_call(id, Principal::anonymous(), "fill", vec![])
        .expect("fill");
    id
}

fn update(net: &mut LocalNet, id: Principal, method: &str) {
    net.update_call(id, Principal::anonymous(), method, vec![])
        .unwrap_or_else(|e| panic!("{method}: {e:?}"));
}

/// The heap of record, through a snapshot (taken, read in 2 MB slices, deleted).
fn heap_of_record(net: &mut LocalNet, id: Principal) -> Vec<u8> {
    let snap = net.take_canister_snapshot(id, None, None).expect("take");
    let meta = net
        .read_canister_snapshot_metadata(id, None, snap.id.clone())
        .expect("metadata");
    let mut heap = Vec::new();
    while (heap.len() as u64) < meta.wasm_memory_size {
        let size = (meta.wasm_memory_size - heap.len() as u64).min(2_000_000);
        let kind = SnapshotDataKind::WasmMemory {
            offset: heap.len() as u64,
            size,
        };
        heap.extend(
            net.read_canister_snapshot_data(id, None, snap.id.clone(), kind)
                .expect("read"),
        );
    }
    net.delete_canister_snapshot(id, None, snap.id)
        .expect("delete");
    heap
}

#[test]
fn a_trapping_message_leaves_every_byte_of_a_16_mib_heap_and_its_size_as_before() {
    let mut net = LocalNet::new();
    let id = install(&mut net, 256);
    let before = look(&mut net, id);
    assert_eq!((before.head.as_str(), before.pages), ("hello", 256));
    let err = net
        .update_call(id, Principal::anonymous(), "scribble_then_trap", vec![])
        .unwrap_err();
    assert_eq!(err.error_code, Some(ErrorCode::CanisterTrapped));
    assert_eq!(look(&mut net, id), before);
    // The next message that succeeds keeps only its own write.
    update(&mut net, id, "inc");
    let after = look(&mut net, id);
    assert_eq!(after.pages, 256);
    let record = heap_of_record(&mut net, id);
    assert_eq!(
        hash(&record),
        after.hash,
        "the heap messages see is the heap of record"
    );
    assert_eq!(record[8], 1);
}

#[test]
fn a_query_that_writes_all_over_the_heap_keeps_none_of_it() {
    let mut net = LocalNet::new();
    let id = install(&mut net, 64);
    let before = look(&mut net, id);
    net.query_call(id, Principal::anonymous(), "scribble", vec![])
        .expect("a query may write its own copy");
    assert_eq!(look(&mut net, id), before);
    assert_eq!(hash(&heap_of_record(&mut net, id)), before.hash);
}

#[test]
fn data_segments_initialise_the_heap_at_install_and_not_again_under_later_messages() {
    let mut net = LocalNet::new();
    let id = install(&mut net, 4);
    update(&mut net, id, "shout");
    assert_eq!(look(&mut net, id).head, "HELLO");
    update(&mut net, id, "inc");
    update(&mut net, id, "inc");
    let now = look(&mut net, id);
    assert_eq!(now.head, "HELLO");
    assert_eq!(&heap_of_record(&mut net, id)[..5], b"HELLO");
}

#[test]
fn a_snapshot_load_and_an_upgrade_put_the_right_heap_under_the_next_message() {
    let mut net = LocalNet::new();
    let id = install(&mut net, 32);
    let snap = net.take_canister_snapshot(id, None, None).unwrap();
    let taken = look(&mut net, id);
    update(&mut net, id, "shout");
    assert_eq!(look(&mut net, id).head, "HELLO");
    net.load_canister_snapshot(id, None, snap.id).unwrap();
    assert_eq!(look(&mut net, id), taken);
    update(&mut net, id, "shout");
    assert_eq!(look(&mut net, id).head, "HELLO");
    // An upgrade starts the module on a fresh heap: one page holding the data segment.
    net.upgrade_canister(id, module(32), vec![], None).unwrap();
    let fresh = look(&mut net, id);
    assert_eq!((fresh.head.as_str(), fresh.pages), ("hello", 1));
    assert_eq!(hash(&heap_of_record(&mut net, id)), fresh.hash);
}

#[test]
fn a_subnet_saved_and_loaded_runs_its_canisters_on_the_saved_heap() {
    let mut net = LocalNet::new();
    let id = install(&mut net, 16);
    update(&mut net, id, "shout");
    update(&mut net, id, "inc");
    let saved = look(&mut net, id);
    let dir = std::env::temp_dir().join(format!("localnet-live-heap-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    localnet::persist::save(&net, &dir).expect("save");
    let mut loaded = localnet::persist::load(&dir)
        .expect("load")
        .expect("a saved subnet");
    assert_eq!(look(&mut loaded, id), saved);
    update(&mut loaded, id, "inc");
    assert_eq!(heap_of_record(&mut loaded, id)[8], 2);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Trivial update latency on a canister with a large heap, and the process's peak RSS.
/// Not a test (no timing assertions): `scripts/bench-heap.sh` runs it with
/// `LOCALNET_HEAP_BENCH_MIB` (heap size) and `LOCALNET_LIVE_HEAP=0` for the copy path.
#[test]
#[ignore = "benchmark; run by scripts/bench-heap.sh"]
fn heap_update_benchmark() {
    let mib: u32 = std::env::var("LOCALNET_HEAP_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16);
    let updates: usize = std::env::var("LOCALNET_HEAP_BENCH_UPDATES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let mut net = LocalNet::new();
    let started = Instant::now();
    let id = install(&mut net, mib * 16);
    let filled = started.elapsed();
    let mut times: Vec<f64> = (0..updates)
        .map(|_| {
            let t = Instant::now();
            update(&mut net, id, "inc");
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .unwrap_or("VmHWM: ?");
    println!(
        "heap {mib} MiB, live heap {}: install + fill {:.0} ms; trivial update p50 {:.2} ms, p90 {:.2} ms, max {:.2} ms over {updates}; peak RSS {}",
        if std::env::var("LOCALNET_LIVE_HEAP").is_ok_and(|v| v == "0") {
            "off (copy path)"
        } else {
            "on"
        },
        filled.as_secs_f64() * 1000.0,
        times[times.len() / 2],
        times[times.len() * 9 / 10],
        times[times.len() - 1],
        peak.trim_start_matches("VmHWM:").trim()
    );
}
