#!/usr/bin/env bash
# Builds the orchestrator wasm of an earlier git revision, for the upgrade-compatibility test
# (tests/tests/orchestrator_upgrade_compat.rs): an orchestrator holding that version's data is
# upgraded to the current wasm and must answer every query as before.
#   target/canisters/orchestrator-previous.wasm.gz  the previous version's wasm, gzipped
#   target/canisters/orchestrator-previous.rev      the revision it was built from
# Usage: scripts/build-previous-orchestrator.sh [REV]
#   REV defaults to scripts/previous-orchestrator.rev: the newest commit on main that changed
#   canisters/orchestrator* before the store/flows/views redesign (issue 12). Move it forward
#   when a release's stable layout is the one to stay compatible with.
# Cached: nothing is built when the artifact for that revision is already there. The build
# runs in a temporary `git worktree` with its own target dir (target/previous-orchestrator/),
# seeded from target/wasm so the dependencies are not compiled again.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
want=${1:-$(cat scripts/previous-orchestrator.rev)}
# A shallow clone (some CI checkouts) lacks the revision: deepen it once before giving up.
if ! git cat-file -e "$want^{commit}" 2>/dev/null && [[ "$(git rev-parse --is-shallow-repository)" == true ]]; then
  git fetch --quiet --unshallow || true
fi
rev=$(git rev-parse --verify "$want^{commit}") || {
  echo "revision $want is not in this clone; clone with full history (git clone without --depth)" >&2
  exit 1
}
out="$root/target/canisters"
wasm="$out/orchestrator-previous.wasm.gz"
if [[ -f "$wasm" && "$(cat "$out/orchestrator-previous.rev" 2>/dev/null)" == "$rev" ]]; then
  echo "orchestrator-previous.wasm.gz of $rev is already built"
  exit 0
fi
work="$root/target/previous-orchestrator"
export CARGO_TARGET_DIR="$work/target"
if [[ ! -d "$CARGO_TARGET_DIR" && -d "$root/target/wasm" ]]; then
  mkdir -p "$work" && cp -a "$root/target/wasm" "$CARGO_TARGET_DIR"
fi
source scripts/lib/wasm-cargo.sh
src="$work/src"
git worktree remove --force "$src" 2>/dev/null || rm -rf "$src"
git worktree add --detach --quiet "$src" "$rev"
trap 'git worktree remove --force "$src"' EXIT
echo "building the orchestrator of $rev ($(git log -1 --format=%s "$rev" | cut -c1-60)…)"
(cd "$src" && "${cargo_wasm[@]}" build --quiet --locked --target wasm32-unknown-unknown \
  --profile canister-release -p orchestrator)
mkdir -p "$out"
gzip -n -9 -c "$CARGO_TARGET_DIR/wasm32-unknown-unknown/canister-release/orchestrator.wasm" >"$wasm"
echo "$rev" >"$out/orchestrator-previous.rev"
printf '%-40s %9d bytes (gz), from %s\n' orchestrator-previous "$(stat -c %s "$wasm")" "$rev"
