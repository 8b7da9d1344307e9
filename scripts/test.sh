#!/usr/bin/env bash
# The whole test suite: builds every canister wasm (the tests run the real wasm), then runs
# every test of the workspace. Usage: scripts/test.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build-canisters.sh
# The previous version's orchestrator, which tests/tests/orchestrator_upgrade_compat.rs upgrades
# from (cached per revision).
scripts/build-previous-orchestrator.sh
# The official JS agent that localnet's conformance test runs (localnet/tests/js_agent.rs),
# from the committed lock file; once per checkout.
[[ -d localnet/tests/js/node_modules ]] || npm ci --prefix localnet/tests/js --no-audit --no-fund
cargo test --workspace --locked "$@"
# The CLI suites again, unchanged, against an endpoint they did not start: localnet's binary as
# a separate process (built by the run above), reached only over HTTP, as dfx's, icp-cli's or
# PocketIC's replica would be (scripts/test-replica.sh; README, "Tests"). e2e and one backup
# suite keep this step short.
echo "== CLI suites against an external endpoint (localnet --port 0 --round-ms 0 as its own process)"
[[ -x target/debug/localnet ]] || { echo "target/debug/localnet is missing: the cargo test run above builds it" >&2; exit 1; }
REPLICA_OUT=$(mktemp)
target/debug/localnet --port 0 --round-ms 0 >"$REPLICA_OUT" 2>/dev/null &
REPLICA_PID=$!
trap 'kill $REPLICA_PID 2>/dev/null || true; rm -f "$REPLICA_OUT"' EXIT
for _ in $(seq 100); do grep -q listening "$REPLICA_OUT" && break; sleep 0.1; done
REPLICA_URL=$(sed -n 's/^listening on //p' "$REPLICA_OUT")
SECONDS=0
scripts/test-replica.sh "$REPLICA_URL" --test e2e --test e2e_backup
echo "== the external-endpoint run took ${SECONDS}s"
kill $REPLICA_PID 2>/dev/null || true
# The orchestrator's suites again under localnet's seeded random scheduler: responses and
# independent requests in another order each time (the FIFO run above is the default).
for seed in 7 2026; do
  echo "== orchestrator suites under the random scheduler, seed $seed"
  # --workspace keeps the feature set of the run above, so nothing is rebuilt.
  KEEPSAKE_TEST_SEED=$seed cargo test --workspace --locked --test orchestrator_flows --test fault_injection --test schedules --test groups "$@"
done
