//! A Juno-satellite-like module for tests and the demo: a key-value store in stable memory,
//! a bulk area to make the module as large as a test needs, and a heap counter (so a restore
//! can be seen to bring back heap memory too).
//!
//! Built in variants by cargo feature (scripts/build-canisters.sh builds each to its own wasm,
//! so each has its own module hash):
//! - none: **v1**, schema 1.
//! - `v2`: post_upgrade migrates schema 1 to 2 (adds an `updated_at` per key), keeping v1 data.
//! - `broken_post_upgrade`: post_upgrade traps, so an upgrade to it fails.
//! - `unhealthy`: installs fine, but `health` rejects.
//!
//! Modules that call each other (group tests): `set_peer` names a peer; `bump` adds one to a
//! counter only after the peer mirrored the new value (`mirror`, which forwards to its own
//! peer first), so a chain A → B → C holds the same number in A's counter and B's and C's
//! mirrors whenever no call between them is half done.

mod store;

use ic_cdk::{init, post_upgrade, query, update};

/// Which build this is.
pub const VARIANT: &str = if cfg!(feature = "broken_post_upgrade") {
    "broken_post_upgrade"
} else if cfg!(feature = "unhealthy") {
    "unhealthy"
} else if cfg!(feature = "v2") {
    "v2"
} else {
    "v1"
};

/// The data schema this build writes.
pub const SCHEMA: u32 = if cfg!(feature = "v2") { 2 } else { 1 };

/// Largest slice `bulk_read` returns: a reply must stay under 2 MiB, with room for candid.
pub const MAX_READ: u64 = 2_000_000;

#[init]
fn init() {
    store::init_schema(SCHEMA);
}

#[post_upgrade]
fn post_upgrade() {
    if cfg!(feature = "broken_post_upgrade") {
        ic_cdk::trap("broken_post_upgrade: this build always fails its post_upgrade");
    }
    store::migrate(SCHEMA, ic_cdk::api::time());
}

/// Stores `value` under `key`.
#[update]
fn set(key: String, value: serde_bytes::ByteBuf) {
    store::bump_heap_counter();
    store::set(key, value.into_vec(), SCHEMA, ic_cdk::api::time());
}

/// The value under `key`.
#[query]
fn get(key: String) -> Option<serde_bytes::ByteBuf> {
    store::get(&key).map(serde_bytes::ByteBuf::from)
}

/// Removes `key`; says whether it was there.
#[update]
fn delete(key: String) -> bool {
    store::bump_heap_counter();
    store::delete(&key)
}

/// How many keys are stored.
#[query]
fn count() -> u64 {
    store::count()
}

/// When `key` was last written (schema 2 only; none under schema 1).
#[query]
fn updated_at(key: String) -> Option<u64> {
    store::updated_at(&key)
}

/// Appends `nbytes` of deterministic data (derived from `seed`) to the bulk area; returns its
/// new size. Use several calls for hundreds of MiB (one message has an instruction limit).
#[update]
fn append_bulk(nbytes: u64, seed: u32) -> u64 {
    store::bump_heap_counter();
    store::append_bulk(nbytes, seed)
}

/// Size of the bulk area in bytes.
#[query]
fn bulk_size() -> u64 {
    store::bulk_size()
}

/// `len` bytes of the bulk area from `offset` (at most 2,000,000).
#[query]
fn bulk_read(offset: u64, len: u64) -> serde_bytes::ByteBuf {
    if len > MAX_READ {
        ic_cdk::trap(format!(
            "bulk_read: at most {MAX_READ} bytes per call; asked for {len}"
        ));
    }
    serde_bytes::ByteBuf::from(store::bulk_read(offset, len))
}

/// Update calls since the module was installed: lives in the heap, so only a snapshot (not
/// stable memory) brings it back.
#[query]
fn heap_counter() -> u64 {
    store::heap_counter()
}

thread_local! {
    // Heap on purpose: only a snapshot (not stable memory) brings these back.
    static PEER: std::cell::Cell<Option<candid::Principal>> = const { std::cell::Cell::new(None) };
    static COUNTER: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    static MIRROR: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Sets (or, with none, clears) the module `bump` and `mirror` forward to.
#[update]
fn set_peer(peer: Option<candid::Principal>) {
    PEER.with(|p| p.set(peer));
}

/// Asks the peer, if any, to mirror `n`; traps (rolling back the caller's message) if it
/// refuses, so a value is only kept once the whole chain kept it.
async fn forward(n: u64) {
    if let Some(peer) = PEER.with(|p| p.get())
        && let Err(e) = ic_cdk::call::Call::unbounded_wait(peer, "mirror")
            .with_arg(n)
            .await
    {
        ic_cdk::trap(format!("the peer did not mirror {n}: {e}"));
    }
}

/// Adds one to the counter once the peer chain mirrored the new value; returns it.
#[update]
async fn bump() -> u64 {
    let n = COUNTER.with(|c| c.get()) + 1;
    forward(n).await;
    COUNTER.with(|c| c.set(n));
    n
}

/// Mirrors `n` (after forwarding it to the peer, if any).
#[update]
async fn mirror(n: u64) {
    forward(n).await;
    MIRROR.with(|m| m.set(n));
}

/// The counter `bump` increments (heap).
#[query]
fn counter() -> u64 {
    COUNTER.with(|c| c.get())
}

/// The last value mirrored here (heap).
#[query]
fn mirrored() -> u64 {
    MIRROR.with(|m| m.get())
}

/// Which build runs: "v1", "v2", "broken_post_upgrade" or "unhealthy".
#[query]
fn version() -> String {
    VARIANT.to_string()
}

/// The schema of the stored data.
#[query]
fn schema_version() -> u32 {
    store::schema()
}

/// "ok" when healthy; rejects otherwise (the orchestrator's health check wants a reply).
#[query]
fn health() -> String {
    if cfg!(feature = "unhealthy") {
        ic_cdk::trap("unhealthy: this build reports failure on purpose");
    }
    "ok".to_string()
}

ic_cdk::export_candid!();

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_candid_interface_matches_the_code() {
        use candid_parser::utils::{CandidSource, service_equal};
        let exported = super::__export_service();
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../candid/sample-module.did");
        if std::env::var_os("UPDATE_CANDID").is_some() {
            let header = "// Keepsake's sample module: a key-value store in stable memory used by the tests and\n\
                          // the demo; the same interface in every build variant (v1, v2, broken_post_upgrade,\n\
                          // unhealthy). Generated by `UPDATE_CANDID=1 cargo test -p sample-module`; reviewed.\n\n";
            std::fs::write(&path, format!("{header}{exported}")).unwrap();
        }
        let committed = std::fs::read_to_string(&path).expect("candid/sample-module.did exists");
        service_equal(CandidSource::Text(&exported), CandidSource::Text(&committed)).unwrap_or_else(
            |e| panic!("candid/sample-module.did differs from the code ({e}); run UPDATE_CANDID=1 cargo test -p sample-module"),
        );
    }

    #[test]
    fn every_variant_has_its_own_name() {
        // Built without features in tests: v1.
        assert_eq!(super::VARIANT, "v1");
        assert_eq!(super::SCHEMA, 1);
    }
}
