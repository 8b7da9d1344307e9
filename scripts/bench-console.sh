#!/usr/bin/env bash
# The console's Modules page with 1, 10 and 50 modules on localnet (docs/BENCHMARKS.md):
# prints a table of render times. Needs the canister wasm (scripts/build-canisters.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_INCREMENTAL=0
[[ -f target/canisters/orchestrator.wasm.gz ]] || scripts/build-canisters.sh
cargo test -p keepsake --test e2e_console_bench -- --ignored --nocapture --test-threads 1
