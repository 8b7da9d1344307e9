#!/usr/bin/env bash
# The whole test suite: builds every canister wasm (the tests run the real wasm), then runs
# every test of the workspace. Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-canisters.sh
cargo test --workspace --locked "$@"
