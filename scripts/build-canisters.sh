#!/usr/bin/env bash
# Builds canisters (and build variants) to release wasm in target/canisters/: every one, or only
# the artifacts named (`scripts/build-canisters.sh orchestrator sample-module-v1`: the demo builds
# the three it runs, not the test variants and probes).
#   target/canisters/<name>.wasm     optimised module
#   target/canisters/<name>.wasm.gz  the same, gzipped (what install/upgrade send: smaller messages)
# Installs the wasm32 target when it is missing (scripts/lib/wasm-cargo.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out="$root/target/canisters"
mkdir -p "$out"
export CARGO_TARGET_DIR="$root/target/wasm"

# name | package | features — one line per artifact; a variant is a cargo feature of its package.
ARTIFACTS=(
  "orchestrator|orchestrator|"
  "orchestrator-test-traps|orchestrator|test-traps"
  "sample-module-v1|sample-module|"
  "sample-module-v2|sample-module|v2"
  "sample-module-broken-post-upgrade|sample-module|broken_post_upgrade"
  "sample-module-unhealthy|sample-module|unhealthy"
)
# Extra artifacts (e.g. localnet probe canisters) register themselves in scripts/canisters.d/*.list
# with the same "name|package|features" lines.
if compgen -G "scripts/canisters.d/*.list" >/dev/null; then
  while IFS= read -r line; do
    [[ -z "$line" || "$line" == \#* ]] || ARTIFACTS+=("$line")
  done < <(cat scripts/canisters.d/*.list)
fi

# The artifacts named on the command line, in that order; an unknown name is an error.
if [[ $# -gt 0 ]]; then
  SELECTED=()
  for wanted in "$@"; do
    found=
    for artifact in "${ARTIFACTS[@]}"; do
      [[ "${artifact%%|*}" == "$wanted" ]] && { SELECTED+=("$artifact"); found=1; }
    done
    [[ -n "$found" ]] || { echo "no canister artifact named '$wanted' (see ARTIFACTS in $0)" >&2; exit 2; }
  done
  ARTIFACTS=("${SELECTED[@]}")
fi

source scripts/lib/wasm-cargo.sh

for artifact in "${ARTIFACTS[@]}"; do
  IFS='|' read -r name package features <<<"$artifact"
  started=$SECONDS
  args=(build --quiet --locked --target wasm32-unknown-unknown --profile canister-release -p "$package")
  [[ -n "$features" ]] && args+=(--features "$features")
  "${cargo_wasm[@]}" "${args[@]}"
  src="$CARGO_TARGET_DIR/wasm32-unknown-unknown/canister-release/${package//-/_}.wasm"
  cp "$src" "$out/$name.wasm"
  gzip -n -9 -c "$out/$name.wasm" >"$out/$name.wasm.gz"
  printf '%-40s %9d bytes  (gz %d)  %3ds\n' "$name" "$(stat -c %s "$out/$name.wasm")" \
    "$(stat -c %s "$out/$name.wasm.gz")" "$((SECONDS - started))"
done
