#!/usr/bin/env bash
# The main job end to end on localnet (or, with --network, on a local replica already running), with no dfx: build the canisters, start localnet, deploy
# the orchestrator and a sample module, register it, write data, snapshot, upgrade (with the
# automatic snapshot), break the data, restore, export, verify, import into a fresh canister and
# show the data came back; then back the module up into a local backup repository (restic
# format), change it, back up again (showing how little the repository grew), restore from the
# repository into another fresh canister and check the repository. Prints a transcript of every keepsake command and its output.
# Usage: scripts/demo.sh [--network <url>]   (work folder: target/demo)
#   --network <url>  run the same job against a local replica already running there (dfx's,
#                    icp-cli's, PocketIC's HTTP gateway, or a `localnet --port` of your own):
#                    canisters are created with provisional cycles, so not against mainnet.
set -euo pipefail
cd "$(dirname "$0")/.."
NETWORK=
case "${1:-}" in
  "") ;;
  --network) NETWORK=${2:?--network needs a URL, e.g. http://127.0.0.1:4943} ;;
  *) echo "usage: scripts/demo.sh [--network <url>]" >&2; exit 2 ;;
esac
WORK=target/demo
rm -rf "$WORK" && mkdir -p "$WORK/home"

# Build only what the demo runs, each crate graph once: the three canisters it deploys (not the
# test variants and probes), and localnet, keepsake and devnet in one cargo invocation (one
# feature set, so no dependency is built twice). The wasm and the native build run side by side:
# each ends in a long single-threaded step (the canisters' LTO, the binaries' link), so together
# they keep both cores busy. Cold on 2 cores this is the long part (docs/BENCHMARKS.md, "First
# run"); afterwards it takes seconds.
NATIVE=(-p keepsake --bin keepsake -p cli-bench --bin devnet)
PROGRAMS="keepsake, devnet"
[[ -n "$NETWORK" ]] || { NATIVE+=(-p localnet --bin localnet); PROGRAMS+=", localnet"; }
echo "# building the canisters the demo deploys (orchestrator, sample module v1 and v2: wasm) and"
echo "# its programs ($PROGRAMS): about 7 minutes on 2 cores from a fresh clone, seconds after"
SECONDS=0
scripts/build-canisters.sh orchestrator sample-module-v1 sample-module-v2 >"$WORK/build-canisters.log" 2>&1 &
CANISTERS=$!
cargo build -q --locked "${NATIVE[@]}" || { kill $CANISTERS 2>/dev/null; exit 1; }
echo "#   programs built after ${SECONDS}s"
wait $CANISTERS || { cat "$WORK/build-canisters.log" >&2; exit 1; }
sed 's/^/#   /' "$WORK/build-canisters.log"
echo "#   all built after ${SECONDS}s"
# A throwaway developer identity (Ed25519, the key type dfx creates).
openssl genpkey -algorithm ed25519 -out "$WORK/developer.pem" 2>/dev/null

if [[ -n "$NETWORK" ]]; then
  URL=$NETWORK
  echo "# an external replica serves the IC HTTP interface at $URL"
else
  # Rounds off: the demo shows what the tool does, not a replica's latency (in 1000 ms rounds,
  # localnet's server default, the same transcript takes ~60 s instead of ~7 s).
  target/debug/localnet --port 0 --round-ms 0 >"$WORK/localnet.out" 2>"$WORK/localnet.err" &
  LOCALNET=$!
  trap 'kill $LOCALNET 2>/dev/null || true' EXIT
  for _ in $(seq 100); do grep -q listening "$WORK/localnet.out" 2>/dev/null && break; sleep 0.1; done
  URL=$(sed -n 's/^listening on //p' "$WORK/localnet.out")
  echo "# localnet serves the IC HTTP interface at $URL"
fi

DEVNET=(target/debug/devnet --network "$URL" --pem "$WORK/developer.pem")
eval "$("${DEVNET[@]}" deploy target/canisters)"
echo "# deployed the orchestrator ($ORCHESTRATOR) and a sample module ($MODULE)"

export DFX_CONFIG_ROOT="$PWD/$WORK/home" KEEPSAKE_CACHE_DIR="$PWD/$WORK/cache"
export KEEPSAKE_NETWORK="$URL" KEEPSAKE_ORCHESTRATOR="$ORCHESTRATOR"
run() {
  echo
  echo "\$ $*"
  "$@" 2>&1 | sed 's/^/  /'
}
keepsake() { target/debug/keepsake --pem "$WORK/developer.pem" "$@"; }
call() { "${DEVNET[@]}" call "$@"; }

run keepsake module add "$MODULE" --name app --kind satellite
run call "$MODULE" set '("greeting", blob "hello, keepsake")'
run keepsake snapshot take app --label first
run keepsake module set app --max-snapshots 3
run keepsake upgrade app target/canisters/sample-module-v2.wasm.gz --yes
run call "$MODULE" version
run call "$MODULE" set '("greeting", blob "oops, broken")'
run call "$MODULE" get '("greeting")'
run keepsake snapshot list app
# The newest snapshot is the one the upgrade took automatically.
run keepsake snapshot restore app --yes
run call "$MODULE" get '("greeting")'
run keepsake export app --out "$WORK/backup" --take
run keepsake verify "$WORK/backup"
FRESH=$("${DEVNET[@]}" create target/canisters/sample-module-v1.wasm.gz)
echo; echo "# a fresh canister: $FRESH"
run call "$FRESH" get '("greeting")'
run keepsake import "$WORK/backup" --to "$FRESH" --restore --yes
run call "$FRESH" get '("greeting")'
run keepsake history app --limit 5

# Off-chain backups: a local restic repository (an s3://bucket/prefix works the same way). The
# password comes from the environment; keepsake never writes it anywhere.
export KEEPSAKE_REPO_PASSWORD="demo password: use a real secret"
REPO="$WORK/repo"
run keepsake backup init --repo "$REPO"
run keepsake backup run app --repo "$REPO" --take
FIRST_SIZE=$(du -sb "$REPO" | cut -f1)
run call "$MODULE" set '("greeting", blob "changed after the first backup")'
run keepsake backup run app --repo "$REPO" --take
SECOND_SIZE=$(du -sb "$REPO" | cut -f1)
echo
echo "# the repository: $FIRST_SIZE bytes after the first backup, $SECOND_SIZE after the second"
echo "# (+$((SECOND_SIZE - FIRST_SIZE)) bytes: only what changed is stored again)"
run keepsake backup list --repo "$REPO" app
# The oldest backup (the list is newest first) holds the greeting before the change.
OLDEST=$(keepsake --json backup list --repo "$REPO" app | sed -n 's/.*"backup_id": *"\([0-9a-f]*\)".*/\1/p' | tail -1)
FRESH2=$("${DEVNET[@]}" create target/canisters/sample-module-v1.wasm.gz)
echo; echo "# another fresh canister: $FRESH2"
run keepsake backup restore "$OLDEST" --repo "$REPO" --to "$FRESH2" --load --yes
run call "$FRESH2" get '("greeting")'
run keepsake backup check --repo "$REPO" --read-data
