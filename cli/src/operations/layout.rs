//! The on-disk layout of an exported snapshot, the same as dfx and icp-cli write:
//!
//! ```text
//! metadata.json                 serde_json of read_canister_snapshot_metadata's result
//! wasm_module.bin
//! wasm_memory.bin
//! stable_memory.bin             only when the stable memory is not empty
//! wasm_chunk_store/<hex>.bin    one file per chunk, named by its sha256
//! keepsake.json                 keepsake's manifest (absent in dfx/icp-cli folders)
//! ```
//!
//! And how that data is cut into slices for the management canister's read and upload calls.

use std::path::{Path, PathBuf};

use ic_utils::interfaces::management_canister::{SnapshotDataKind, SnapshotDataOffset};

use super::store::Metadata;

/// `metadata.json`.
pub const METADATA: &str = "metadata.json";
/// `keepsake.json`, the manifest.
pub const MANIFEST: &str = "keepsake.json";
/// The wasm module.
pub const WASM_MODULE: &str = "wasm_module.bin";
/// The heap.
pub const WASM_MEMORY: &str = "wasm_memory.bin";
/// The stable memory.
pub const STABLE_MEMORY: &str = "stable_memory.bin";
/// The chunk store folder.
pub const CHUNK_DIR: &str = "wasm_chunk_store";
/// The export's resume journal, only ever inside `<dir>.partial`.
pub const EXPORT_JOURNAL: &str = ".keepsake-export.journal";
/// Files other tools leave in a download folder that are not part of the snapshot
/// (icp-cli's `.lock`).
pub const IGNORED: &[&str] = &[".lock"];

/// The largest slice `read_canister_snapshot_data` returns (`MAX_SLICE_SIZE_BYTES`).
pub const READ_SLICE: u64 = 2_000_000;
/// Upload slices stay under the 2 MiB ingress limit with room for the envelope.
pub const UPLOAD_SLICE: u64 = 1_900_000;

/// One of the three byte regions of a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Region {
    /// The wasm module.
    WasmModule,
    /// The heap.
    WasmMemory,
    /// The stable memory.
    StableMemory,
}

impl Region {
    /// All of them, in file order.
    pub const ALL: [Region; 3] = [Region::WasmModule, Region::WasmMemory, Region::StableMemory];

    /// Its file.
    pub fn file(self) -> &'static str {
        match self {
            Region::WasmModule => WASM_MODULE,
            Region::WasmMemory => WASM_MEMORY,
            Region::StableMemory => STABLE_MEMORY,
        }
    }

    /// Its size according to the metadata.
    pub fn size(self, m: &Metadata) -> u64 {
        match self {
            Region::WasmModule => m.wasm_module_size,
            Region::WasmMemory => m.wasm_memory_size,
            Region::StableMemory => m.stable_memory_size,
        }
    }

    /// Whether the file is written even when empty (dfx and icp-cli skip an empty stable memory).
    pub fn written_when_empty(self) -> bool {
        self != Region::StableMemory
    }
}

/// What a file of the layout holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Content {
    /// A region.
    Region(Region),
    /// A chunk of the chunk store, by hash.
    Chunk(Vec<u8>),
}

/// A data file the metadata says the folder must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedFile {
    /// Relative path with `/` separators.
    pub path: String,
    /// What it holds.
    pub content: Content,
    /// Its size when the metadata says it (regions); chunks are known by hash only.
    pub size: Option<u64>,
    /// Whether a missing file is acceptable (an empty region dfx did not write).
    pub optional: bool,
}

/// The relative path of a chunk's file.
pub fn chunk_path(hash: &[u8]) -> String {
    format!("{CHUNK_DIR}/{}.bin", hex::encode(hash))
}

/// Every data file of the snapshot described by `m`.
pub fn expected_files(m: &Metadata) -> Vec<ExpectedFile> {
    let mut files: Vec<ExpectedFile> = Region::ALL
        .iter()
        .map(|&r| ExpectedFile {
            path: r.file().to_string(),
            content: Content::Region(r),
            size: Some(r.size(m)),
            optional: r.size(m) == 0,
        })
        .collect();
    files.extend(m.wasm_chunk_store.iter().map(|c| ExpectedFile {
        path: chunk_path(&c.hash),
        content: Content::Chunk(c.hash.clone()),
        size: None,
        optional: false,
    }));
    files
}

/// One read or upload call's worth of data.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slice {
    /// What it is part of.
    pub content: Content,
    /// Offset in the region (0 for a chunk).
    pub offset: u64,
    /// Bytes (for a chunk: 0 on export, where its size is unknown until read).
    pub len: u64,
}

impl Slice {
    /// The file it lives in.
    pub fn path(&self) -> String {
        match &self.content {
            Content::Region(r) => r.file().to_string(),
            Content::Chunk(h) => chunk_path(h),
        }
    }

    /// The read call's `kind`.
    pub fn read_kind(&self) -> SnapshotDataKind {
        let (offset, size) = (self.offset, self.len);
        match &self.content {
            Content::Region(Region::WasmModule) => SnapshotDataKind::WasmModule { offset, size },
            Content::Region(Region::WasmMemory) => SnapshotDataKind::WasmMemory { offset, size },
            Content::Region(Region::StableMemory) => {
                SnapshotDataKind::StableMemory { offset, size }
            }
            Content::Chunk(hash) => SnapshotDataKind::WasmChunk { hash: hash.clone() },
        }
    }

    /// The upload call's `kind`.
    pub fn upload_kind(&self) -> SnapshotDataOffset {
        let offset = self.offset;
        match &self.content {
            Content::Region(Region::WasmModule) => SnapshotDataOffset::WasmModule { offset },
            Content::Region(Region::WasmMemory) => SnapshotDataOffset::WasmMemory { offset },
            Content::Region(Region::StableMemory) => SnapshotDataOffset::StableMemory { offset },
            Content::Chunk(_) => SnapshotDataOffset::WasmChunk,
        }
    }
}

/// Cuts every region into slices of at most `slice` bytes, then one slice per chunk.
pub fn slices(m: &Metadata, slice: u64, chunk_len: impl Fn(&[u8]) -> u64) -> Vec<Slice> {
    let mut out = Vec::new();
    for r in Region::ALL {
        let size = r.size(m);
        let mut offset = 0;
        while offset < size {
            let len = slice.min(size - offset);
            out.push(Slice {
                content: Content::Region(r),
                offset,
                len,
            });
            offset += len;
        }
    }
    for c in &m.wasm_chunk_store {
        out.push(Slice {
            content: Content::Chunk(c.hash.clone()),
            offset: 0,
            len: chunk_len(&c.hash),
        });
    }
    out
}

/// `<dir>.partial`, where an export is written until it is complete.
pub fn partial_dir(out: &Path) -> PathBuf {
    let mut name = out
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".partial");
    out.with_file_name(name)
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use ic_utils::interfaces::management_canister::{
        CanisterTimer, ChunkHash, OnLowWasmMemoryHookStatus, SnapshotMetadataGlobal, SnapshotSource,
    };

    /// Metadata shaped like a Rust canister's snapshot.
    pub fn metadata(module: u64, heap: u64, stable: u64, chunks: Vec<Vec<u8>>) -> Metadata {
        Metadata {
            source: Some(SnapshotSource::TakenFromCanister(candid::Reserved)),
            taken_at_timestamp: 1_700_000_000_000_000_000,
            wasm_module_size: module,
            globals: vec![
                Some(SnapshotMetadataGlobal::I32(1_120_119)),
                Some(SnapshotMetadataGlobal::I32(1_048_576)),
            ],
            wasm_memory_size: heap,
            stable_memory_size: stable,
            wasm_chunk_store: chunks.into_iter().map(|hash| ChunkHash { hash }).collect(),
            canister_version: 7,
            certified_data: vec![],
            global_timer: Some(CanisterTimer::Inactive),
            on_low_wasm_memory_hook_status: Some(OnLowWasmMemoryHookStatus::ConditionNotSatisfied),
        }
    }

    #[test]
    fn metadata_json_is_snake_case_like_icp_cli_writes_it() {
        let json = serde_json::to_value(metadata(10, 65536, 0, vec![])).unwrap();
        assert_eq!(
            json["source"],
            serde_json::json!({"taken_from_canister": null})
        );
        assert_eq!(json["globals"][0], serde_json::json!({"i32": 1120119}));
        assert_eq!(json["certified_data"], serde_json::json!([]));
        assert_eq!(json["global_timer"], "inactive");
        assert_eq!(
            json["on_low_wasm_memory_hook_status"],
            "condition_not_satisfied"
        );
        assert_eq!(json["wasm_chunk_store"], serde_json::json!([]));
        // And icp-cli's file reads back.
        let icp = r#"{"source":{"taken_from_canister":null},"taken_at_timestamp":1,"wasm_module_size":3,
            "globals":[{"i32":1120119},{"i32":1120128},{"i32":1048576}],"wasm_memory_size":65536,
            "stable_memory_size":0,"wasm_chunk_store":[],"canister_version":2,"certified_data":[],
            "global_timer":"inactive","on_low_wasm_memory_hook_status":"condition_not_satisfied"}"#;
        let m: Metadata = serde_json::from_str(icp).unwrap();
        assert_eq!(m.globals.len(), 3);
        assert!(matches!(
            m.source,
            Some(SnapshotSource::TakenFromCanister(_))
        ));
    }

    #[test]
    fn regions_are_cut_into_two_million_byte_slices_and_chunks_are_one_slice_each() {
        let m = metadata(5_000_000, 2_000_000, 0, vec![vec![1; 32]]);
        let s = slices(&m, READ_SLICE, |_| 0);
        let lens: Vec<(String, u64, u64)> = s.iter().map(|s| (s.path(), s.offset, s.len)).collect();
        assert_eq!(
            lens,
            vec![
                (WASM_MODULE.into(), 0, 2_000_000),
                (WASM_MODULE.into(), 2_000_000, 2_000_000),
                (WASM_MODULE.into(), 4_000_000, 1_000_000),
                (WASM_MEMORY.into(), 0, 2_000_000),
                (chunk_path(&[1; 32]), 0, 0),
            ]
        );
    }

    #[test]
    fn an_empty_stable_memory_is_an_optional_file() {
        let files = expected_files(&metadata(1, 65536, 0, vec![]));
        let stable = files.iter().find(|f| f.path == STABLE_MEMORY).unwrap();
        assert!(stable.optional);
        assert!(
            !files
                .iter()
                .find(|f| f.path == WASM_MODULE)
                .unwrap()
                .optional
        );
    }

    #[test]
    fn the_partial_folder_sits_beside_the_output() {
        assert_eq!(
            partial_dir(Path::new("/x/backup")),
            PathBuf::from("/x/backup.partial")
        );
    }
}
