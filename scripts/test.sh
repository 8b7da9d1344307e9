#!/usr/bin/env bash
# The whole test suite: builds every canister wasm (the tests run the real wasm), then runs
# every test of the workspace. Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-canisters.sh
# The official JS agent that localnet's conformance test runs (localnet/tests/js_agent.rs),
# from the committed lock file; once per checkout.
[[ -d localnet/tests/js/node_modules ]] || npm ci --prefix localnet/tests/js --no-audit --no-fund
cargo test --workspace --locked "$@"
# The orchestrator's suites again under localnet's seeded random scheduler: responses and
# independent requests in another order each time (the FIFO run above is the default).
for seed in 7 2026; do
  echo "== orchestrator suites under the random scheduler, seed $seed"
  # --workspace keeps the feature set of the run above, so nothing is rebuilt.
  KEEPSAKE_TEST_SEED=$seed cargo test --workspace --locked --test orchestrator_flows --test fault_injection --test schedules --test groups "$@"
done
