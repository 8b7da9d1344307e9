//! Prints localnet's own cost of taking, loading and downloading a snapshot of a canister with
//! 1 GiB of stable memory, next to a plain 1 GiB memory copy measured in the same run. Not a
//! timed test: `cargo bench -p localnet --bench snapshot_1gib`.

use candid::Principal;
use localnet::LocalNet;
use localnet::api::SnapshotDataKind;
use std::time::{Duration, Instant};

const GIB: u64 = 1024 * 1024 * 1024;
const PAGES: u64 = GIB / 65536;

/// A module whose `fill` grows stable memory to 1 GiB and writes a pattern into every page.
fn filler() -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
          (import "ic0" "msg_reply" (func $reply))
          (import "ic0" "stable64_grow" (func $grow (param i64) (result i64)))
          (import "ic0" "stable64_write" (func $write (param i64 i64 i64)))
          (memory 2)
          (func (export "canister_update fill") (local $i i64)
            (memory.fill (i32.const 0) (i32.const 0xab) (i32.const 65536))
            (drop (call $grow (i64.const {PAGES})))
            (loop $l
              (i64.store (i32.const 0) (local.get $i))
              (call $write (i64.mul (local.get $i) (i64.const 65536)) (i64.const 0) (i64.const 65536))
              (local.set $i (i64.add (local.get $i) (i64.const 1)))
              (br_if $l (i64.lt_u (local.get $i) (i64.const {PAGES}))))
            (call $reply)))"#
    ))
    .expect("valid wat")
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

fn main() {
    let mut net = LocalNet::new();
    let id = net.create_canister();
    net.install_canister(id, filler(), vec![], None);
    let ((), fill) = time(|| {
        net.update_call(id, Principal::anonymous(), "fill", vec![])
            .map(|_| ())
            .expect("fill")
    });
    let (snap, take) = time(|| net.take_canister_snapshot(id, None, None).expect("take"));
    let ((), load) = time(|| {
        net.load_canister_snapshot(id, None, snap.id.clone())
            .expect("load")
    });
    let (bytes, read) = time(|| {
        let mut total = 0u64;
        let mut offset = 0;
        while offset < GIB {
            let size = (GIB - offset).min(2_000_000);
            let kind = SnapshotDataKind::StableMemory { offset, size };
            total += net
                .read_canister_snapshot_data(id, None, snap.id.clone(), kind)
                .expect("read")
                .len() as u64;
            offset += size;
        }
        total
    });
    assert_eq!(bytes, GIB);
    let source = std::hint::black_box(vec![0xabu8; GIB as usize]);
    let (copy, memcpy) = time(|| std::hint::black_box(source.clone()));
    assert_eq!(copy[GIB as usize - 1], 0xab);
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("localnet snapshot of a canister with 1 GiB of stable memory (one run)");
    println!(
        "  fill 1 GiB by one update (16384 stable64_write)  {:>10.1} ms",
        ms(fill)
    );
    println!(
        "  take_canister_snapshot                           {:>10.1} ms",
        ms(take)
    );
    println!(
        "  load_canister_snapshot                           {:>10.1} ms",
        ms(load)
    );
    println!(
        "  read_canister_snapshot_data, 537 x 2 MB slices   {:>10.1} ms",
        ms(read)
    );
    println!(
        "  plain memory copy of 1 GiB (Vec::clone)          {:>10.1} ms",
        ms(memcpy)
    );
}
