// localnet's management canister driven by a client we did not write: the official JS agent
// (@icp-sdk/core) and its ic-management client (@icp-sdk/canisters), typed after the interface
// spec. Every reply is decoded by the agent with the spec's candid, so a reply localnet encodes
// with other types fails here.
//
//   node conformance.mjs <url> <canister-id> <wasm-path>
//
// <canister-id>: a running canister with some state, controlled by the anonymous principal.
// <wasm-path>: a module to install into a canister this script creates.
// Prints one `ok <step>` line per step; on the first failure prints `FAILED <step>: <error>`
// and exits 1.

import { HttpAgent } from "@icp-sdk/core/agent";
import { IDL } from "@icp-sdk/core/candid";
import { Principal } from "@icp-sdk/core/principal";
import { IcManagementCanister } from "@icp-sdk/canisters/ic-management";
import { readFileSync } from "node:fs";

const [url, canisterText, wasmPath] = process.argv.slice(2);
if (!url || !canisterText || !wasmPath) {
  console.error("usage: node conformance.mjs <url> <canister-id> <wasm-path>");
  process.exit(2);
}

const SLICE = 1_000_000n;
let current = "setup";

async function step(name, f) {
  current = name;
  const result = await f();
  console.log(`ok ${name}`);
  return result;
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function hex(bytes) {
  return Buffer.from(bytes).toString("hex");
}

function sameBytes(a, b) {
  return a.length === b.length && Buffer.from(a).equals(Buffer.from(b));
}

/// Reads `size` bytes of one kind of snapshot data, slice by slice.
async function readAll(mgmt, canisterId, snapshotId, kind, size) {
  const out = new Uint8Array(Number(size));
  for (let offset = 0n; offset < size; offset += SLICE) {
    const len = size - offset < SLICE ? size - offset : SLICE;
    const { chunk } = await mgmt.readCanisterSnapshotData({
      canisterId,
      snapshotId,
      kind: { [kind]: { offset, size: len } },
    });
    check(BigInt(chunk.length) === len, `${kind} slice at ${offset}: ${chunk.length} bytes, wanted ${len}`);
    out.set(chunk, Number(offset));
  }
  return out;
}

/// Uploads `bytes` as one kind of snapshot data, slice by slice.
async function uploadAll(mgmt, canisterId, snapshotId, kind, bytes) {
  for (let offset = 0; offset < bytes.length; offset += Number(SLICE)) {
    await mgmt.uploadCanisterSnapshotData({
      canisterId,
      snapshotId,
      kind: { [kind]: { offset: BigInt(offset) } },
      chunk: bytes.subarray(offset, offset + Number(SLICE)),
    });
  }
}

async function main() {
  const agent = await HttpAgent.create({ host: url, shouldFetchRootKey: true });
  const mgmt = IcManagementCanister.create({ agent });
  const canisterId = Principal.fromText(canisterText);
  const wasm = readFileSync(wasmPath);

  // Lifecycle.
  const created = await step("provisional_create_canister_with_cycles", () =>
    mgmt.provisionalCreateCanisterWithCycles({ amount: 1_000_000_000_000n }),
  );
  await step("install_code", () =>
    mgmt.installCode({
      mode: { install: null },
      canisterId: created,
      wasmModule: wasm,
      arg: new Uint8Array(IDL.encode([IDL.Opt(IDL.Nat64)], [[]])),
    }),
  );
  const status = await step("canister_status", () => mgmt.canisterStatus({ canisterId }));
  check("running" in status.status, `status ${JSON.stringify(Object.keys(status.status))}`);
  check(status.module_hash.length === 1, "no module hash");
  await step("stop_canister", () => mgmt.stopCanister(canisterId));
  const stopped = await step("canister_status (stopped)", () => mgmt.canisterStatus({ canisterId }));
  check("stopped" in stopped.status, "not stopped");
  await step("start_canister", () => mgmt.startCanister(canisterId));

  // The chunk store, so that snapshots carry a chunk.
  const chunkBytes = new TextEncoder().encode("a chunk in the store");
  const { hash: chunkHash } = await step("upload_chunk", () =>
    mgmt.uploadChunk({ canisterId, chunk: chunkBytes }),
  );
  const stored = await step("stored_chunks", () => mgmt.storedChunks({ canisterId }));
  check(stored.some((c) => sameBytes(c.hash, chunkHash)), "uploaded chunk not listed");

  // Take, list, read.
  const taken = await step("take_canister_snapshot", () => mgmt.takeCanisterSnapshot({ canisterId }));
  check(taken.total_size > 0n, "empty snapshot");
  const listed = await step("list_canister_snapshots", () => mgmt.listCanisterSnapshots({ canisterId }));
  check(listed.some((s) => sameBytes(s.id, taken.id)), "taken snapshot not listed");
  const meta = await step("read_canister_snapshot_metadata", () =>
    mgmt.readCanisterSnapshotMetadata({ canisterId, snapshotId: taken.id }),
  );
  check("takenFromCanister" in meta.source, `source ${JSON.stringify(Object.keys(meta.source))}`);
  check(meta.globals.length > 0, "no globals");
  check(meta.wasmChunkStore.some((c) => sameBytes(c.hash, chunkHash)), "chunk not in the metadata");
  const module = await step("read_canister_snapshot_data (wasm_module)", () =>
    readAll(mgmt, canisterId, taken.id, "wasmModule", meta.wasmModuleSize),
  );
  check(sameBytes(module, wasm), "module bytes differ from the installed module");
  const heap = await step("read_canister_snapshot_data (wasm_memory)", () =>
    readAll(mgmt, canisterId, taken.id, "wasmMemory", meta.wasmMemorySize),
  );
  const stable = await step("read_canister_snapshot_data (stable_memory)", () =>
    readAll(mgmt, canisterId, taken.id, "stableMemory", meta.stableMemorySize),
  );
  check(stable.length > 0, "no stable memory");
  const { chunk } = await step("read_canister_snapshot_data (wasm_chunk)", () =>
    mgmt.readCanisterSnapshotData({ canisterId, snapshotId: taken.id, kind: { wasmChunk: { hash: chunkHash } } }),
  );
  check(sameBytes(chunk, chunkBytes), "chunk bytes differ");

  // Upload a copy and load it.
  const { snapshot_id: uploaded } = await step("upload_canister_snapshot_metadata", () =>
    mgmt.uploadCanisterSnapshotMetadata({
      canisterId,
      metadata: {
        globals: meta.globals,
        certifiedData: meta.certifiedData,
        globalTimer: meta.globalTimer,
        onLowWasmMemoryHookStatus: meta.onLowWasmMemoryHookStatus,
        wasmModuleSize: meta.wasmModuleSize,
        wasmMemorySize: meta.wasmMemorySize,
        stableMemorySize: meta.stableMemorySize,
      },
    }),
  );
  await step("upload_canister_snapshot_data (wasm_module)", () =>
    uploadAll(mgmt, canisterId, uploaded, "wasmModule", module),
  );
  await step("upload_canister_snapshot_data (wasm_memory)", () =>
    uploadAll(mgmt, canisterId, uploaded, "wasmMemory", heap),
  );
  await step("upload_canister_snapshot_data (stable_memory)", () =>
    uploadAll(mgmt, canisterId, uploaded, "stableMemory", stable),
  );
  await step("upload_canister_snapshot_data (wasm_chunk)", () =>
    mgmt.uploadCanisterSnapshotData({ canisterId, snapshotId: uploaded, kind: { wasmChunk: null }, chunk: chunkBytes }),
  );
  const upMeta = await step("read_canister_snapshot_metadata (uploaded)", () =>
    mgmt.readCanisterSnapshotMetadata({ canisterId, snapshotId: uploaded }),
  );
  check("metadataUpload" in upMeta.source, `source ${JSON.stringify(Object.keys(upMeta.source))}`);
  check(upMeta.globals.length === meta.globals.length, "globals differ");
  const upStable = await step("read_canister_snapshot_data (uploaded stable_memory)", () =>
    readAll(mgmt, canisterId, uploaded, "stableMemory", upMeta.stableMemorySize),
  );
  check(sameBytes(upStable, stable), "uploaded stable memory differs");
  await step("stop_canister (before load)", () => mgmt.stopCanister(canisterId));
  await step("load_canister_snapshot (uploaded)", () =>
    mgmt.loadCanisterSnapshot({ canisterId, snapshotId: uploaded }),
  );
  await step("start_canister (after load)", () => mgmt.startCanister(canisterId));
  const after = await step("canister_status (after load)", () => mgmt.canisterStatus({ canisterId }));
  check(hex(after.module_hash[0]) === hex(status.module_hash[0]), "module hash changed by the load");
  check(after.version > status.version, "canister version did not grow");

  // Clean up.
  await step("delete_canister_snapshot", async () => {
    await mgmt.deleteCanisterSnapshot({ canisterId, snapshotId: taken.id });
    await mgmt.deleteCanisterSnapshot({ canisterId, snapshotId: uploaded });
  });
  const left = await step("list_canister_snapshots (after delete)", () =>
    mgmt.listCanisterSnapshots({ canisterId }),
  );
  check(left.length === 0, `${left.length} snapshots left`);
  await step("clear_chunk_store", () => mgmt.clearChunkStore({ canisterId }));
}

main().then(
  () => process.exit(0),
  (e) => {
    console.log(`FAILED ${current}: ${e?.stack ?? e}`);
    process.exit(1);
  },
);
