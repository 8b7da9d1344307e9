#!/usr/bin/env bash
# Builds every canister (and every build variant) to release wasm in target/canisters/.
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

source scripts/lib/wasm-cargo.sh

for artifact in "${ARTIFACTS[@]}"; do
  IFS='|' read -r name package features <<<"$artifact"
  args=(build --quiet --locked --target wasm32-unknown-unknown --profile canister-release -p "$package")
  [[ -n "$features" ]] && args+=(--features "$features")
  "${cargo_wasm[@]}" "${args[@]}"
  src="$CARGO_TARGET_DIR/wasm32-unknown-unknown/canister-release/${package//-/_}.wasm"
  cp "$src" "$out/$name.wasm"
  gzip -n -9 -c "$out/$name.wasm" >"$out/$name.wasm.gz"
  printf '%-40s %9d bytes  (gz %d)\n' "$name" "$(stat -c %s "$out/$name.wasm")" "$(stat -c %s "$out/$name.wasm.gz")"
done
