#!/usr/bin/env bash
# Export benchmark against any IC endpoint (localnet by default), in one run:
#   1. throughput of a large stable memory at concurrency 1, 4 and 8, keepsake export next to a
#      bare ic-utils read loop (cli-bench/src/bin/read-loop.rs), both timed as whole processes,
#      median of --reps runs, with keepsake's own breakdown (KEEPSAKE_TIMINGS: hashing, writes,
#      fsync) of its median run;
#   2. the same through a TCP proxy that adds --delay-ms to every round trip
#      (cli-bench/src/bin/latency-proxy.rs), as against a replica across a network (one table
#      per delay);
#   3. peak RSS of keepsake for a ~64 MiB and a ~1 GiB snapshot (and the throughput run's), over
#      h2c (keepsake's default on http://) and over HTTP/1.1, with the ratio;
#   4. the bytes a resume re-transfers after a kill at ~50%.
#   5. keepsake export vs the bare read loop vs icp-cli 1.5 (`canister snapshot download`, npm
#      `@icp-sdk/icp-cli-linux-x64`, installed into target/icp-cli like the interop test does)
#      on the same snapshot in the same run, runs alternated, for --icp-mb sizes (50,200) at
#      --icp-concurrency levels (default 8,16,32,40), with peak RSS; keepsake also with
#      KEEPSAKE_HTTP1=1 (HTTP/1.1 instead of h2c), as in section 3.
#   6. keepsake at concurrency 40 over h2c (its default on http://) and over HTTP/1.1
#      (KEEPSAKE_HTTP1=1), direct and through the latency proxy at each --delay-ms: an h2
#      connection window caps throughput at window / round trip, HTTP/1.1's forty connections do not.
# localnet (when no --url) runs in rounds of --round-ms (default 1000, as the server binary):
# replies come in batches a round apart, out of order, like a replica's.
# Usage: scripts/bench.sh [--url URL --pem FILE] [--mb N] [--delay-ms D[,D...]] [--reps R]
#                         [--profile release|dev] [--no-rss] [--round-ms N]
#                         [--icp-only] [--icp-mb N[,N...]] [--icp-concurrency C[,C...]]
#                         [--rss-only]   (section 3 alone)   [--http-only]   (section 6 alone)
#                         [--no-build]   (use the binaries already in target/, e.g. on a busy box)
# Defaults: localnet, 200 MB, 30 and 200 ms, 3 reps, release. Against another endpoint the PEM's
# identity must be able to create canisters (provisional_create_canister_with_cycles: local
# replicas only).
set -euo pipefail
cd "$(dirname "$0")/.."
MB=200; URL=""; PEM=""; DELAY=30,200; REPS=3; PROFILE=release; RSS=1; ROUND_MS=1000
ICP_ONLY=0; RSS_ONLY=0; HTTP_ONLY=0; ICP_MB=50,200; ICP_C=8,16,32,40; BUILD=1
while [ $# -gt 0 ]; do case "$1" in
  --url) URL=$2; shift 2;; --pem) PEM=$2; shift 2;; --mb) MB=$2; shift 2;;
  --delay-ms) DELAY=$2; shift 2;; --reps) REPS=$2; shift 2;; --profile) PROFILE=$2; shift 2;;
  --no-rss) RSS=0; shift;; --round-ms) ROUND_MS=$2; shift 2;;
  --icp-only) ICP_ONLY=1; shift;; --rss-only) RSS_ONLY=1; shift;; --icp-mb) ICP_MB=$2; shift 2;;
  --icp-concurrency) ICP_C=$2; shift 2;; --no-build) BUILD=0; shift;;
  --http-only) HTTP_ONLY=1; shift;;
  *) echo "unknown argument $1" >&2; exit 2;; esac; done
case "$PROFILE" in release) BIN=target/release;; dev) BIN=target/debug;;
  *) echo "--profile is release or dev" >&2; exit 2;; esac
if [ "$BUILD" = 1 ]; then
scripts/build-canisters.sh >/dev/null
# The measured binaries: keepsake and the helpers (read loop, proxy; devnet deploys), in $PROFILE.
# None needs wasmtime, so a release build is the ic-agent graph only. localnet stays debug: it
# shares the test build, and its hot crates are optimised in dev builds (Cargo.toml).
cargo build -q --locked --profile "$PROFILE" -p keepsake -p cli-bench --bins
cargo build -q --locked -p localnet --bin localnet
fi
WORK=target/bench; rm -rf "$WORK"; mkdir -p "$WORK/home"
if [ -z "$URL" ]; then
  target/debug/localnet --port 0 --round-ms "$ROUND_MS" >"$WORK/localnet.out" 2>"$WORK/localnet.err" &
  LOCALNET=$!
  for _ in $(seq 100); do grep -q listening "$WORK/localnet.out" 2>/dev/null && break; sleep 0.1; done
  URL=$(sed -n 's/^listening on //p' "$WORK/localnet.out")
fi
PROXY=""
cleanup() {
  [ -z "$PROXY" ] || kill "$PROXY" 2>/dev/null || true
  [ -z "${LOCALNET:-}" ] || kill "$LOCALNET" 2>/dev/null || true
}
trap cleanup EXIT
[ -n "$PEM" ] || { PEM="$WORK/bench.pem"; openssl genpkey -algorithm ed25519 -out "$PEM" 2>/dev/null; }
export DFX_CONFIG_ROOT="$PWD/$WORK/home"
DEVNET=("$BIN/devnet" --network "$URL" --pem "$PEM")

# A sample module whose stable memory holds $1 bytes, with a snapshot; prints "canister snapshot bytes".
prepare() {
  local bytes=$1 canister left n snap
  canister=$("${DEVNET[@]}" create target/canisters/sample-module-v1.wasm.gz)
  left=$bytes
  while [ "$left" -gt 0 ]; do
    n=$(( left < 10000000 ? left : 10000000 ))
    "${DEVNET[@]}" call "$canister" append_bulk "($n : nat64, 1 : nat32)" >/dev/null
    left=$(( left - n ))
  done
  snap=$("$BIN/keepsake" --network "$URL" --pem "$PEM" --json export "$canister" --take \
    --out "$WORK/prepare-$canister" | sed -n 's/.*"snapshot_id": "\([0-9a-f]*\)".*/\1/p')
  echo "$canister $snap $(du -sb --exclude keepsake.json "$WORK/prepare-$canister" | cut -f1)"
  rm -rf "$WORK/prepare-$canister"
}

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mbps() { echo "scale=1; $1 / $2 / 1000000" | bc; }

# keepsake export at concurrency $2 against endpoint $1, $REPS times (KEEPSAKE_HTTP1=$3: 1 keeps
# it on HTTP/1.1); prints "secs rss_kib" of the median run and leaves its timings in $WORK/timings.
keepsake_runs() {
  local url=$1 c=$2 http1=${3:-0} i s e
  : >"$WORK/runs"
  for i in $(seq "$REPS"); do
    rm -rf "$WORK/out" "$WORK/out.partial"
    s=$(now)
    KEEPSAKE_HTTP1=$http1 KEEPSAKE_TIMINGS=1 /usr/bin/time -f "%M" -o "$WORK/rss" "$BIN/keepsake" --network "$url" \
      --pem "$PEM" --json export "$CANISTER" --snapshot "$SNAP" --concurrency "$c" \
      --out "$WORK/out" >/dev/null 2>"$WORK/stderr-$i"
    e=$(now)
    echo "$(echo "$e - $s" | bc) $(cat "$WORK/rss") $i" >>"$WORK/runs"
  done
  rm -rf "$WORK/out"
  local line
  line=$(sort -g "$WORK/runs" | awk -v m=$(( (REPS + 1) / 2 )) 'NR==m')
  grep '^timings' "$WORK/stderr-${line##* }" >"$WORK/timings"
  echo "${line% *}"
}

# The bare read loop at concurrency $2 against $1, $REPS times; prints the median process time.
loop_runs() {
  local url=$1 c=$2 i s e
  for i in $(seq "$REPS"); do
    s=$(now)
    "$BIN/read-loop" "$url" "$PEM" "$CANISTER" "$SNAP" "$c" >/dev/null
    e=$(now)
    echo "$e - $s" | bc
  done | median
}

# One table: concurrency, keepsake MB/s, read loop MB/s, ratio, keepsake RSS, breakdown.
compare() {
  local url=$1 c k ks krss l
  echo "| concurrency | keepsake export | bare read loop | keepsake / loop | keepsake peak RSS |"
  echo "|---|---|---|---|---|"
  : >"$WORK/breakdowns"
  for c in 1 4 8; do
    k=$(keepsake_runs "$url" "$c"); ks=${k% *}; krss=${k#* }
    l=$(loop_runs "$url" "$c")
    echo "| $c | $(mbps "$BYTES" "$ks") MB/s ($ks s) | $(mbps "$BYTES" "$l") MB/s ($l s) | $(echo "scale=0; 100 * $l / $ks" | bc)% | $((krss / 1024)) MiB |"
    { echo "concurrency $c:"; sed 's/^/  /' "$WORK/timings"; } >>"$WORK/breakdowns"
  done
  echo
  echo "keepsake's own breakdown of each median run (KEEPSAKE_TIMINGS=1):"
  cat "$WORK/breakdowns"
}

# icp-cli 1.5, as the interop test installs it (ICP_CLI overrides).
ICP=${ICP_CLI:-target/icp-cli/node_modules/@icp-sdk/icp-cli-linux-x64/bin/icp}
icp() {
  env HOME="$PWD/$WORK/icp-home" DO_NOT_TRACK=1 ICP_TELEMETRY_DISABLED=1 "$ICP" "$@"
}
# One timed process: "secs rss_kib".
timed() {
  local s e
  s=$(now)
  /usr/bin/time -f "%M" -o "$WORK/rss1" "$@" >/dev/null 2>"$WORK/timed.err" \
    || { cat "$WORK/timed.err" >&2; return 1; }
  e=$(now)
  echo "$(echo "$e - $s" | bc) $(cat "$WORK/rss1")"
}
# Section 5 for a snapshot of $1 MB: every tool on the same snapshot, runs alternated.
vs_icp() {
  local mb=$1 i c key
  read -r CANISTER SNAP BYTES < <(prepare $((mb * 1000000)))
  : >"$WORK/vs"
  for i in $(seq "$REPS"); do
    for c in ${ICP_C//,/ }; do
      rm -rf "$WORK/out" "$WORK/out.partial"
      echo "keepsake-c$c $(timed "$BIN/keepsake" --network "$URL" --pem "$PEM" --json export \
        "$CANISTER" --snapshot "$SNAP" --concurrency "$c" --out "$WORK/out")" >>"$WORK/vs"
      rm -rf "$WORK/out-h1"
      echo "keepsake-http1-c$c $(timed env KEEPSAKE_HTTP1=1 "$BIN/keepsake" --network "$URL" \
        --pem "$PEM" --json export "$CANISTER" --snapshot "$SNAP" --concurrency "$c" \
        --out "$WORK/out-h1")" >>"$WORK/vs"
      echo "loop-c$c $(timed "$BIN/read-loop" "$URL" "$PEM" "$CANISTER" "$SNAP" "$c")" >>"$WORK/vs"
    done
    rm -rf "$WORK/icp-out"
    echo "icp-cli $(timed env HOME="$PWD/$WORK/icp-home" DO_NOT_TRACK=1 ICP_TELEMETRY_DISABLED=1 \
      "$ICP" canister snapshot download "$CANISTER" "$SNAP" -o "$WORK/icp-out" \
      --network "$URL/" --root-key fetch --identity bench)" >>"$WORK/vs"
  done
  if [ -d "$WORK/out" ]; then
    for f in stable_memory.bin wasm_memory.bin wasm_module.bin; do
      cmp -s "$WORK/out/$f" "$WORK/icp-out/$f" || echo "WARNING: $f differs between keepsake and icp-cli"
    done
  fi
  rm -rf "$WORK/out" "$WORK/out-h1" "$WORK/icp-out"
  local icp_s
  icp_s=$(awk '$1=="icp-cli" {print $2}' "$WORK/vs" | median)
  echo
  echo "### $BYTES bytes (snapshot $SNAP), median of $REPS alternated runs"
  echo "| tool | concurrency | time | throughput | speed vs icp-cli | keepsake / loop | peak RSS |"
  echo "|---|---|---|---|---|---|---|"
  for key in $(awk '{print $1}' "$WORK/vs" | awk '!seen[$0]++'); do
    local t r tool conc ratio
    t=$(awk -v k="$key" '$1==k {print $2}' "$WORK/vs" | median)
    r=$(awk -v k="$key" '$1==k {print $3}' "$WORK/vs" | sort -g | tail -1)
    tool=${key%-c[0-9]*}; conc=${key##*-c}; [ "$tool" = "$key" ] && conc="(all at once)"
    ratio=""
    if [ "${tool%-http1}" = keepsake ]; then
      ratio="$(echo "scale=0; 100 * $(awk -v k="loop-c$conc" '$1==k {print $2}' "$WORK/vs" | median) / $t" | bc)%"
    fi
    echo "| $tool | $conc | $t s | $(mbps "$BYTES" "$t") MB/s | $(echo "scale=2; $icp_s / $t" | bc)× | $ratio | $((r / 1024)) MiB (max) |"
  done
}
section_5() {
  [ -x "$ICP" ] || npm install --prefix target/icp-cli --no-save --no-audit --no-fund \
    @icp-sdk/icp-cli-linux-x64@1.5.0 >/dev/null
  mkdir -p "$WORK/icp-home"
  icp identity import bench --from-pem "$PEM" --storage plaintext >/dev/null 2>&1 || true
  echo
  echo "## 5. keepsake export vs bare read loop vs icp-cli 1.5 ($ICP)"
  for mb in ${ICP_MB//,/ }; do vs_icp "$mb"; done
}

echo "endpoint $URL$([ -n "${LOCALNET:-}" ] && echo " (localnet, rounds of $ROUND_MS ms)"), $PROFILE build of keepsake and the read loop, $(nproc) cores, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$ICP_ONLY" = 1 ]; then
  section_5
  echo
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  exit 0
fi

# Peak RSS (KiB) of the runs keepsake_runs just made: "median min max".
peaks_of_runs() {
  awk '{print $2}' "$WORK/runs" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)], a[1], a[NR]}'
}
mib() { echo $(( $1 / 1024 )); }

section_3() {
  echo
  echo "## 3. Peak RSS by snapshot size (concurrency 40, export's default; median (min-max) of $REPS runs)"
  echo "| snapshot | keepsake peak RSS | throughput | over HTTP/1.1 (KEEPSAKE_HTTP1=1): peak RSS | throughput |"
  echo "|---|---|---|---|---|"
  local peaks=() peaks1=() k h p p1
  # Stable memory sized so the snapshot (plus ~21-26 MB of heap, module and stable-structures
  # buckets of the sample module) comes to about 64 MiB and 1 GiB.
  MAIN=("${CANISTER:-}" "${SNAP:-}" "${BYTES:-}")
  for fill in 46000000 1048000000; do
    read -r CANISTER SNAP BYTES < <(prepare "$fill")
    # One run's peak varies by about ±10% with how a round's replies overlap: the median of the
    # runs' peaks, and their range.
    k=$(keepsake_runs "$URL" 40); read -r -a p < <(peaks_of_runs)
    h=$(keepsake_runs "$URL" 40 1); read -r -a p1 < <(peaks_of_runs)
    peaks+=("${p[0]}"); peaks1+=("${p1[0]}")
    echo "| $BYTES bytes ($(echo "scale=1; $BYTES / 1048576" | bc) MiB) | $(mib "${p[0]}") MiB ($(mib "${p[1]}")-$(mib "${p[2]}")) | $(mbps "$BYTES" "${k% *}") MB/s | $(mib "${p1[0]}") MiB ($(mib "${p1[1]}")-$(mib "${p1[2]}")) | $(mbps "$BYTES" "${h% *}") MB/s |"
  done
  echo
  echo "median peak at 1 GiB / at 64 MiB: $(echo "scale=2; ${peaks[1]} / ${peaks[0]}" | bc) (target ≤ 1.10); over HTTP/1.1 $(echo "scale=2; ${peaks1[1]} / ${peaks1[0]}" | bc)"
  CANISTER=${MAIN[0]}; SNAP=${MAIN[1]}; BYTES=${MAIN[2]}
}
section_6() {
  echo
  echo "## 6. h2c vs HTTP/1.1, concurrency 40, $BYTES bytes (median time and peak RSS of $REPS runs)"
  echo "| path | keepsake over h2c | over HTTP/1.1 | h2c / HTTP/1.1 time |"
  echo "|---|---|---|---|"
  local url delay k h
  for delay in 0 ${DELAY//,/ }; do
    url=$URL
    if [ "$delay" != 0 ]; then start_proxy "$delay"; url=$PROXY_URL; fi
    k=$(keepsake_runs "$url" 40); h=$(keepsake_runs "$url" 40 1)
    echo "| $([ "$delay" = 0 ] && echo direct || echo "+$delay ms") | ${k% *} s, $(mib "${k#* }") MiB | ${h% *} s, $(mib "${h#* }") MiB | $(echo "scale=2; ${k% *} / ${h% *}" | bc) |"
    if [ -n "$PROXY" ]; then stop_proxy; fi
  done
}
HOSTPORT=${URL#*://}; HOSTPORT=${HOSTPORT%%/*}
# latency-proxy in front of the endpoint, adding $1 ms: sets PROXY (its pid) and PROXY_URL. The
# output file is emptied first, so an earlier proxy's address line is never taken for this one's.
start_proxy() {
  : >"$WORK/proxy.out"
  "$BIN/latency-proxy" "$HOSTPORT" "$1" >"$WORK/proxy.out" &
  PROXY=$!
  for _ in $(seq 100); do grep -q listening "$WORK/proxy.out" 2>/dev/null && break; sleep 0.05; done
  PROXY_URL=$(sed -n 's/^listening on //p' "$WORK/proxy.out")
}
stop_proxy() { kill "$PROXY"; PROXY=""; }
if [ "$HTTP_ONLY" = 1 ]; then
  echo "endpoint $URL$([ -n "${LOCALNET:-}" ] && echo " (localnet, rounds of $ROUND_MS ms)"), $PROFILE build, $(nproc) cores, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  read -r CANISTER SNAP BYTES < <(prepare $((MB * 1000000)))
  section_6
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  exit 0
fi
if [ "$RSS_ONLY" = 1 ]; then
  echo "endpoint $URL, $PROFILE build, $(nproc) cores, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  section_3
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  exit 0
fi

read -r CANISTER SNAP BYTES < <(prepare $((MB * 1000000)))
echo "snapshot $SNAP of $CANISTER: $BYTES bytes; median of $REPS runs, each a whole process"
echo
echo "## 1. Direct"
compare "$URL"
for delay in ${DELAY//,/ }; do
  echo
  echo "## 2. Through latency-proxy, +$delay ms per round trip"
  start_proxy "$delay"
  compare "$PROXY_URL"
  stop_proxy
done

if [ "$RSS" = 1 ]; then section_3; fi

echo
echo "## 4. Resume after a kill at ~50% of the slices (concurrency 8)"
K=("$BIN/keepsake" --network "$URL" --pem "$PEM" --json)
SLICES=$(( BYTES / 2000000 ))
"${K[@]}" export "$CANISTER" --snapshot "$SNAP" --concurrency 8 --out "$WORK/resume" >/dev/null 2>&1 &
PID=$!
while [ "$(cat "$WORK/resume.partial/.keepsake-export.journal" 2>/dev/null | wc -l)" -lt $((SLICES / 2)) ]; do sleep 0.01; done
kill -9 $PID; wait $PID 2>/dev/null || true
OUT=$("${K[@]}" export "$CANISTER" --snapshot "$SNAP" --concurrency 8 --out "$WORK/resume")
T=$(echo "$OUT" | sed -n 's/.*"transferred_bytes": \([0-9]*\).*/\1/p')
echo "re-transferred $T of $BYTES bytes ($(( 100 * T / BYTES ))%)"
rm -rf "$WORK/resume"
section_5
section_6
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
