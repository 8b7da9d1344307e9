# Sourced by the scripts that build canister wasm: sets `cargo_wasm`, the cargo command line
# that builds for wasm32-unknown-unknown. Installs the target when it is missing (TOOLCHAIN.md),
# falling back to Debian's rust-web toolchain with build-std when rustup cannot download it.
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
