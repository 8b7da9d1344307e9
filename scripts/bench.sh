#!/usr/bin/env bash
# Export benchmark against any IC endpoint (localnet by default): throughput of a large stable
# memory at concurrency 1, 4 and 8, peak RSS of the CLI, and the bytes a resume re-transfers after
# a kill at ~50%. Usage: scripts/bench.sh [--url URL --pem FILE] [--mb N]   (default 200 MB)
# Against another endpoint the PEM's identity must be able to create canisters (local replicas).
set -euo pipefail
cd "$(dirname "$0")/.."
MB=200; URL=""; PEM=""
while [ $# -gt 0 ]; do case "$1" in
  --url) URL=$2; shift 2;; --pem) PEM=$2; shift 2;; --mb) MB=$2; shift 2;;
  *) echo "unknown argument $1" >&2; exit 2;; esac; done
scripts/build-canisters.sh >/dev/null
cargo build -q -p keepsake --bin keepsake --example devnet  # debug: one build graph with the tests
cargo build -q -p localnet --bin localnet
WORK=target/bench; rm -rf "$WORK"; mkdir -p "$WORK/home"
if [ -z "$URL" ]; then
  target/debug/localnet --port 0 >"$WORK/localnet.out" 2>"$WORK/localnet.err" &
  LOCALNET=$!; trap 'kill $LOCALNET 2>/dev/null || true' EXIT
  for _ in $(seq 100); do grep -q listening "$WORK/localnet.out" 2>/dev/null && break; sleep 0.1; done
  URL=$(sed -n 's/^listening on //p' "$WORK/localnet.out")
fi
[ -n "$PEM" ] || { PEM="$WORK/bench.pem"; openssl genpkey -algorithm ed25519 -out "$PEM" 2>/dev/null; }
DEVNET=(target/debug/examples/devnet --network "$URL" --pem "$PEM")
CANISTER=$("${DEVNET[@]}" create target/canisters/sample-module-v1.wasm.gz)
for _ in $(seq $((MB / 10))); do "${DEVNET[@]}" call "$CANISTER" append_bulk '(10_000_000 : nat64, 1 : nat32)' >/dev/null; done
export DFX_CONFIG_ROOT="$PWD/$WORK/home"
K=(target/debug/keepsake --network "$URL" --pem "$PEM" --json)
SNAP=$("${K[@]}" export "$CANISTER" --take --out "$WORK/warmup" | sed -n 's/.*"snapshot_id": "\([0-9a-f]*\)".*/\1/p')
BYTES=$(du -sb "$WORK/warmup" | cut -f1)
echo "endpoint $URL, canister $CANISTER, snapshot $SNAP, $BYTES bytes"
for c in 1 4 8; do
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$WORK/rss-$c" "${K[@]}" export "$CANISTER" --snapshot "$SNAP" --concurrency $c --out "$WORK/c$c" >/dev/null
  end=$(date +%s.%N)
  echo "concurrency $c: $(echo "scale=1; $BYTES / ($end - $start) / 1000000" | bc) MB/s, peak RSS $(( $(cat "$WORK/rss-$c") / 1024 )) MiB; bare ic-utils read loop: $("${DEVNET[@]}" read-loop "$CANISTER" "$SNAP" $c)"
done
# Resume: kill at ~50% of the slices, then run again.
SLICES=$(( BYTES / 2000000 ))
"${K[@]}" export "$CANISTER" --snapshot "$SNAP" --concurrency 8 --out "$WORK/resume" >/dev/null 2>&1 &
PID=$!
while [ "$(cat "$WORK/resume.partial/.keepsake-export.journal" 2>/dev/null | wc -l)" -lt $((SLICES / 2)) ]; do sleep 0.05; done
kill -9 $PID; wait $PID 2>/dev/null || true
OUT=$("${K[@]}" export "$CANISTER" --snapshot "$SNAP" --concurrency 8 --out "$WORK/resume")
T=$(echo "$OUT" | sed -n 's/.*"transferred_bytes": \([0-9]*\).*/\1/p')
echo "resume after a kill at ~50%: re-transferred $T of $BYTES bytes ($(( 100 * T / BYTES ))%)"
