#!/usr/bin/env bash
# localnet: a trivial update on a canister with a 16 MiB and a 1 GiB heap, on the live heap
# (default) and on the copy path (LOCALNET_LIVE_HEAP=0, what localnet did before), each in its
# own process so that its peak RSS is its own (docs/BENCHMARKS.md). Test profile (the suites'
# build); pass --release to build the test in release instead.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_INCREMENTAL=0
profile=()
[[ "${1:-}" == "--release" ]] && profile=(--release)
cargo test "${profile[@]}" -p localnet --test live_heap --no-run
for mib in 16 1024; do
  for live in 1 0; do
    LOCALNET_HEAP_BENCH_MIB=$mib LOCALNET_LIVE_HEAP=$live LOCALNET_HEAP_BENCH_UPDATES="${UPDATES:-50}" \
      cargo test "${profile[@]}" -p localnet --test live_heap -- --ignored --nocapture heap_update_benchmark \
      2>/dev/null | grep '^heap '
  done
done
