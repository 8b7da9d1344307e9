#!/usr/bin/env bash
# Builds every canister (and every build variant) to release wasm in target/canisters/.
#   target/canisters/<name>.wasm     optimised module
#   target/canisters/<name>.wasm.gz  the same, gzipped (what install/upgrade send: smaller messages)
# Installs the wasm32 target when it is missing (TOOLCHAIN.md), falling back to Debian's
# rust-web toolchain with build-std when rustup cannot download it.
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

cargo_wasm=(cargo)
if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  if ! rustup target add wasm32-unknown-unknown; then
    echo "rustup could not add wasm32-unknown-unknown; using Debian's rust-web with build-std" >&2
    apt-get install -y rustc-web cargo-web rust-web-src >&2
    export RUSTC_BOOTSTRAP=1
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$(rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld"
    export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER
    cargo_wasm=(/usr/bin/cargo -Zbuild-std=std,panic_abort)
  fi
fi

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
