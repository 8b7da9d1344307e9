#!/usr/bin/env bash
# Backup benchmark on localnet, in one run (docs/BENCHMARKS.md, "Backups"):
#   1. `keepsake backup run` of a large module vs `keepsake export` of the same snapshot, same
#      endpoint, same concurrency: wall time, ratio (export time / backup time; target ≥ 0.8)
#      and peak RSS of each (/usr/bin/time -v; target for backup ≤ 128 MiB + concurrency × 4 MiB);
#   2. deduplication: append 1% to the module's stable memory, snapshot, back up again: how much
#      the repository grew, as a share of the module's size (target ≤ 3%);
#   3. a sparse module (stable memory grown to the same size, never written: zeros): repository
#      size after one backup;
#   4. restore from the repository into a fresh canister vs `keepsake import` of the export into
#      another: throughput of each.
# Usage: scripts/bench-backup.sh [--mb N] [--concurrency C] [--round-ms N] [--profile release|dev]
#                                [--no-build]
# Defaults: 1024 MB, concurrency 8, localnet without rounds (--round-ms 0: what is measured is
# keepsake, not a replica's latency), release.
set -euo pipefail
cd "$(dirname "$0")/.."
MB=1024; C=8; ROUND_MS=0; PROFILE=release; BUILD=1
while [ $# -gt 0 ]; do case "$1" in
  --mb) MB=$2; shift 2;; --concurrency) C=$2; shift 2;; --round-ms) ROUND_MS=$2; shift 2;;
  --profile) PROFILE=$2; shift 2;; --no-build) BUILD=0; shift;;
  *) echo "unknown argument $1" >&2; exit 2;; esac; done
case "$PROFILE" in release) BIN=target/release;; dev) BIN=target/debug;;
  *) echo "--profile is release or dev" >&2; exit 2;; esac
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time; Debian package time)" >&2; exit 2; }
if [ "$BUILD" = 1 ]; then
  scripts/build-canisters.sh >/dev/null
  cargo build -q --locked --profile "$PROFILE" -p keepsake --bin keepsake -p cli-bench --bin devnet
  cargo build -q --locked -p localnet --bin localnet
fi
WORK=target/bench-backup; rm -rf "$WORK"; mkdir -p "$WORK/home"
target/debug/localnet --port 0 --round-ms "$ROUND_MS" >"$WORK/localnet.out" 2>"$WORK/localnet.err" &
LOCALNET=$!
trap 'kill $LOCALNET 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q listening "$WORK/localnet.out" 2>/dev/null && break; sleep 0.1; done
URL=$(sed -n 's/^listening on //p' "$WORK/localnet.out")
PEM="$WORK/bench.pem"; openssl genpkey -algorithm ed25519 -out "$PEM" 2>/dev/null
export DFX_CONFIG_ROOT="$PWD/$WORK/home" KEEPSAKE_CACHE_DIR="$PWD/$WORK/cache"
export KEEPSAKE_REPO_PASSWORD="bench password"
DEVNET=("$BIN/devnet" --network "$URL" --pem "$PEM")
# An array, not a function: /usr/bin/time runs programs, not shell functions.
KS=("$BIN/keepsake" --network "$URL" --pem "$PEM")
keepsake() { "${KS[@]}" "$@"; }
BYTES=$((MB * 1000000))

# Runs "$@" under GNU time; sets SECS (wall) and RSS_MIB (peak resident set).
measure() {
  /usr/bin/time -v -o "$WORK/time.txt" "$@" >"$WORK/out.json"
  SECS=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$WORK/time.txt")
  RSS_MIB=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$WORK/time.txt")
}
json_field() { sed -n "s/.*\"$1\": *\"\\{0,1\\}\\([^\",]*\\)\"\\{0,1\\},\\{0,1\\}\$/\\1/p" "$WORK/out.json" | head -1; }
size_of() { du -sb "$1" | cut -f1; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", 100 * a / b }'; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f", b / 1e6 / s }'; }

echo "# $MB MB module, concurrency $C, localnet --round-ms $ROUND_MS, keepsake $PROFILE, $(nproc) cores"
CANISTER=$("${DEVNET[@]}" create target/canisters/sample-module-v1.wasm.gz)
left=$BYTES
while [ "$left" -gt 0 ]; do
  n=$(( left < 10000000 ? left : 10000000 ))
  "${DEVNET[@]}" call "$CANISTER" append_bulk "($n : nat64, 1 : nat32)" >/dev/null
  left=$(( left - n ))
done

# 1. export vs backup run, same snapshot. The snapshot is taken by an unmeasured export first:
# taking one costs several rounds on a replica, and backup run is given the snapshot too.
"${KS[@]}" --json export "$CANISTER" --take --out "$WORK/export" --concurrency "$C" >"$WORK/out.json"
SNAP=$(json_field snapshot_id)
rm -rf "$WORK/export"
measure "${KS[@]}" --json export "$CANISTER" --snapshot "$SNAP" --out "$WORK/export" --concurrency "$C"
EXPORT_S=$SECS; EXPORT_RSS=$RSS_MIB
SNAP_BYTES=$(du -sb --exclude keepsake.json "$WORK/export" | cut -f1)
keepsake backup init --repo "$WORK/repo" >/dev/null
measure "${KS[@]}" --json backup run "$CANISTER" --repo "$WORK/repo" --snapshot "$SNAP" --concurrency "$C"
BACKUP_S=$SECS; BACKUP_RSS=$RSS_MIB
FIRST_BACKUP=$(json_field backup_id)
REPO1=$(size_of "$WORK/repo")
echo
echo "## 1. backup run vs export (snapshot of $SNAP_BYTES bytes)"
printf '%-12s %8s %10s %9s\n' "" "seconds" "MB/s" "RSS MiB"
printf '%-12s %8s %10s %9s\n' export "$EXPORT_S" "$(mbps "$SNAP_BYTES" "$EXPORT_S")" "$EXPORT_RSS"
printf '%-12s %8s %10s %9s\n' "backup run" "$BACKUP_S" "$(mbps "$SNAP_BYTES" "$BACKUP_S")" "$BACKUP_RSS"
echo "backup speed / export speed: $(awk -v e="$EXPORT_S" -v b="$BACKUP_S" 'BEGIN { printf "%.2f", e / b }') (target ≥ 0.80)"
echo "backup peak RSS: $BACKUP_RSS MiB (target ≤ $((128 + C * 4)) MiB = 128 + $C × 4)"
echo "repository after the first backup: $REPO1 bytes ($(pct "$REPO1" "$SNAP_BYTES")% of the snapshot)"

# 2. 1% more stable memory, a new snapshot, a second backup.
"${DEVNET[@]}" call "$CANISTER" append_bulk "($((BYTES / 100)) : nat64, 2 : nat32)" >/dev/null
measure "${KS[@]}" --json backup run "$CANISTER" --repo "$WORK/repo" --take --concurrency "$C"
REPO2=$(size_of "$WORK/repo")
echo
echo "## 2. deduplication: $((BYTES / 100)) bytes appended to stable memory (1%), backed up again"
echo "repository grew by $((REPO2 - REPO1)) bytes = $(pct $((REPO2 - REPO1)) "$SNAP_BYTES")% of the module (target ≤ 3%); second run ${SECS}s, RSS $RSS_MIB MiB"

# 3. A sparse module: a minimal wasm whose init grows stable memory by $MB MB and writes nothing.
python3 - "$WORK/sparse.wasm" "$(( (BYTES + 65535) / 65536 ))" <<'PY'
import sys, gzip
path, pages = sys.argv[1], int(sys.argv[2])
def sleb(n):
    out = bytearray()
    while True:
        b = n & 0x7F; n >>= 7
        if (n == 0 and not b & 0x40) or (n == -1 and b & 0x40):
            out.append(b); return bytes(out)
        out.append(b | 0x80)
def sec(i, body): return bytes([i, len(body)]) + body
name = lambda s: bytes([len(s)]) + s
types = sec(1, b"\x02\x60\x01\x7e\x01\x7e\x60\x00\x00")              # (i64)->i64, ()->()
imports = sec(2, b"\x01" + name(b"ic0") + name(b"stable64_grow") + b"\x00\x00")
funcs = sec(3, b"\x01\x01")
exports = sec(7, b"\x01" + name(b"canister_init") + b"\x00\x01")
body = b"\x00\x42" + sleb(pages) + b"\x10\x00\x1a\x0b"            # drop(stable64_grow(pages))
code = sec(10, b"\x01" + bytes([len(body)]) + body)
open(path, "wb").write(gzip.compress(b"\x00asm\x01\x00\x00\x00" + types + imports + funcs + exports + code))
PY
SPARSE=$("${DEVNET[@]}" create "$WORK/sparse.wasm")
keepsake backup init --repo "$WORK/repo-sparse" >/dev/null
EMPTY=$(size_of "$WORK/repo-sparse")
measure "${KS[@]}" --json backup run "$SPARSE" --repo "$WORK/repo-sparse" --take --concurrency "$C"
SPARSE_TOTAL=$(json_field total_bytes)
echo
echo "## 3. sparse module: $SPARSE_TOTAL bytes of zeros backed up in ${SECS}s"
echo "repository: $(size_of "$WORK/repo-sparse") bytes ($EMPTY of them an empty repository's)"

# 4. restore from the repository vs import of the export, each into a fresh canister.
TO1=$("${DEVNET[@]}" create target/canisters/sample-module-v1.wasm.gz)
TO2=$("${DEVNET[@]}" create target/canisters/sample-module-v1.wasm.gz)
measure "${KS[@]}" --json backup restore "$FIRST_BACKUP" --repo "$WORK/repo" --to "$TO1" --concurrency "$C"
RESTORE_S=$SECS; RESTORE_RSS=$RSS_MIB
measure "${KS[@]}" --json import "$WORK/export" --to "$TO2" --concurrency "$C"
IMPORT_S=$SECS; IMPORT_RSS=$RSS_MIB
echo
echo "## 4. restore from the repository vs import of the export"
printf '%-14s %8s %10s %9s\n' "" "seconds" "MB/s" "RSS MiB"
printf '%-14s %8s %10s %9s\n' "backup restore" "$RESTORE_S" "$(mbps "$SNAP_BYTES" "$RESTORE_S")" "$RESTORE_RSS"
printf '%-14s %8s %10s %9s\n' import "$IMPORT_S" "$(mbps "$SNAP_BYTES" "$IMPORT_S")" "$IMPORT_RSS"
