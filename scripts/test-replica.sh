#!/usr/bin/env bash
# The CLI's end-to-end suites against an external IC HTTP endpoint instead of the localnet they
# start in process: dfx's or icp-cli's local replica, PocketIC's HTTP gateway, or `localnet
# --port 0` run as its own process. The fixture (cli/tests/common/replica.rs) fetches the root
# key, creates its canisters with provisional_create_canister_with_cycles and installs them over
# HTTP. Tests that need what only localnet offers are skipped, each with a line
# "skipped against <url>: <test>: <why>"; the count per suite is printed at the end.
#
# Usage: scripts/test-replica.sh <url> [--test <suite>]... [-- <test filter/args>]
#   with no --test, every suite in cli/tests runs.
set -euo pipefail
cd "$(dirname "$0")/.."
URL=${1:?usage: scripts/test-replica.sh <url> [--test <suite>]... [-- <test args>]}
shift
SUITES=() REST=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --test) SUITES+=(--test "$2"); shift 2 ;;
    --) shift; REST=("$@"); break ;;
    *) echo "unknown argument: $1 (usage: scripts/test-replica.sh <url> [--test <suite>]... [-- <test args>])" >&2; exit 2 ;;
  esac
done
if [[ ${#SUITES[@]} -eq 0 ]]; then
  for f in cli/tests/e2e*.rs; do SUITES+=(--test "$(basename "$f" .rs)"); done
fi
[[ -f target/canisters/orchestrator.wasm.gz ]] || scripts/build-canisters.sh

LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
status=0
# --workspace keeps the feature set of scripts/test.sh's run, so nothing is rebuilt.
KEEPSAKE_TEST_REPLICA="$URL" cargo test --workspace --locked "${SUITES[@]}" -- "${REST[@]}" 2>&1 \
  | tee "$LOG" || status=$?

echo "== skipped against $URL (they need what only localnet offers)"
awk '
  /^ *Running / { suite = $2; sub(/^tests\//, "", suite); sub(/\.rs$/, "", suite); if (!(suite in n)) { n[suite] = 0; order[++k] = suite } }
  /^skipped against / { n[suite]++ }
  END { for (i = 1; i <= k; i++) printf "  %-28s %d skipped\n", order[i], n[order[i]] }
' "$LOG"
exit $status
