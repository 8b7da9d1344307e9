//! Canister modules as the IC accepts them: gunzip when gzipped, hash (module hash = sha256 of
//! the wasm as installed, i.e. of the bytes sent, gzipped or not), and the IC's instrumentation
//! step that exports what the replica needs to persist and call into.
//!
//! The replica rewrites every module (dfinity/ic `rs/embedders/src/wasm_utils/instrumentation.rs`)
//! to export table 0 as `table` (callbacks are table indices) and each mutable global as
//! `__persistent_mutable_global_<index>` (globals are canister state and go into snapshots).
//! localnet does the same with `wasmparser` + `wasm-encoder`, copying every other section
//! verbatim. Instruction counting is not injected into the code: wasmtime's fuel does that job.

use flate2::read::GzDecoder;
use sha2::{Digest, Sha256};
use std::io::Read;
use wasm_encoder::{ExportKind, ExportSection, RawSection};
use wasmparser::{ExternalKind, Parser, Payload, TypeRef};

/// The largest module the IC accepts (IC-FACTS §7): 100 MiB, after decompression.
pub const MAX_WASM_MODULE_SIZE: usize = 100 * 1024 * 1024;
/// Most chunks in a canister's wasm chunk store (IC-FACTS §7).
pub const MAX_CHUNKS: usize = 100;
/// Most bytes per wasm chunk.
pub const MAX_CHUNK_SIZE: usize = 1024 * 1024;

/// Export name prefix of the persisted mutable globals.
pub const GLOBAL_EXPORT_PREFIX: &str = "__persistent_mutable_global_";
/// Export name of the function table.
pub const TABLE_EXPORT: &str = "table";
/// Export name of the heap.
pub const MEMORY_EXPORT: &str = "memory";

/// A decoded and instrumented module, ready to compile.
#[derive(Clone, Debug)]
pub struct PreparedModule {
    /// sha256 of the module bytes as given (the IC's `module_hash`).
    pub hash: [u8; 32],
    /// The bytes as given (gzipped or not); kept for snapshots and `canister_info`.
    pub original: Vec<u8>,
    /// The instrumented wasm.
    pub instrumented: Vec<u8>,
    /// Indices of the module's own mutable globals, in export order.
    pub mutable_globals: Vec<u32>,
    /// Names of the exported `canister_*` entry points (full export names).
    pub entry_points: Vec<String>,
    /// `(offset, length)` of each active data segment, which instantiation writes into the heap
    /// (see `heap.rs`); `None` when a message cannot run on the canister's live heap: an offset
    /// that is not a constant, or a start function (it would run on the live heap).
    pub live_heap_segments: Option<Vec<(u64, u64)>>,
}

/// Why a module was refused.
#[derive(Debug, thiserror::Error)]
pub enum WasmError {
    /// gzip stream broken or too large.
    #[error("Failed to decode wasm module: {0}")]
    Decode(String),
    /// Not a valid wasm module.
    #[error("Wasm module is invalid: {0}")]
    Invalid(String),
    /// Valid wasm that breaks one of the IC's own rules (the text is the replica's).
    #[error("{0}")]
    Refused(String),
}

/// At most this many `icp:` custom sections (canister metadata) per module.
pub const MAX_CUSTOM_SECTIONS: usize = 16;
/// At most this many bytes of `icp:` custom sections per module (payloads plus names without
/// the `icp:public ` / `icp:private ` prefix).
pub const MAX_CUSTOM_SECTIONS_SIZE: usize = 1 << 20;

/// The replica's rules for custom sections, checked when code is installed (dfinity/ic
/// `rs/embedders/src/wasm_utils/validation.rs`, `validate_custom_section` and
/// `extract_custom_section_name`; the limits from `rs/config/src/embedders.rs`). Only sections
/// whose name starts with `icp:` count — other custom sections (names, producers, padding) are
/// ignored, as the replica ignores them. An `icp:` section must be `icp:public <name>` or
/// `icp:private <name>`, names are unique, and the limits above hold. The texts are the
/// replica's `WasmValidationError` messages as read in its source, not observed.
pub fn check_custom_sections(wasm: &[u8]) -> Result<(), WasmError> {
    let invalid = |why: String| {
        WasmError::Refused(format!("Wasm module has an invalid custom section. {why}"))
    };
    let mut names = std::collections::BTreeSet::new();
    let mut total = 0usize;
    for payload in Parser::new(0).parse_all(wasm) {
        let Ok(Payload::CustomSection(section)) = payload else {
            continue;
        };
        let full = section.name();
        if !full.starts_with("icp:") {
            continue;
        }
        let name = match full
            .strip_prefix("icp:public ")
            .or_else(|| full.strip_prefix("icp:private "))
        {
            Some(name) => name,
            None if full == "icp:public" || full == "icp:private" => {
                return Err(invalid(
                    "'icp:' section names must have a space after the public/private scope".into(),
                ));
            }
            None => {
                return Err(invalid(format!(
                    "Invalid custom section: Custom section '{full}' has no public/private scope defined."
                )));
            }
        };
        if !names.insert(name) {
            return Err(invalid(format!(
                "Invalid custom section: name {name} already exists"
            )));
        }
        total += section.data().len() + name.len();
        if total > MAX_CUSTOM_SECTIONS_SIZE {
            return Err(invalid(format!(
                "Invalid custom sections: total size of the custom sections exceeds the maximum allowed: size {total} bytes, allowed {MAX_CUSTOM_SECTIONS_SIZE} bytes"
            )));
        }
        if names.len() > MAX_CUSTOM_SECTIONS {
            return Err(WasmError::Refused(format!(
                "Wasm module defined {} custom sections which exceeds the maximum number allowed {MAX_CUSTOM_SECTIONS}.",
                names.len()
            )));
        }
    }
    Ok(())
}

/// sha256 of bytes.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Gunzips `bytes` when they start with the gzip magic, otherwise returns them.
pub fn decode(bytes: &[u8]) -> Result<Vec<u8>, WasmError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(bytes)
            .take(MAX_WASM_MODULE_SIZE as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| WasmError::Decode(e.to_string()))?;
        if out.len() > MAX_WASM_MODULE_SIZE {
            return Err(WasmError::Decode(format!(
                "decompressed module exceeds {MAX_WASM_MODULE_SIZE} bytes"
            )));
        }
        Ok(out)
    } else {
        Ok(bytes.to_vec())
    }
}

/// Decodes and instruments a module (see the module docs).
pub fn prepare(original: &[u8]) -> Result<PreparedModule, WasmError> {
    let wasm = decode(original)?;
    if !wasm.starts_with(b"\0asm") {
        return Err(WasmError::Invalid("not a wasm module (bad magic)".into()));
    }
    let invalid = |e: wasmparser::BinaryReaderError| WasmError::Invalid(e.to_string());

    // Pass 1: learn what exists (imported + defined tables/memories/globals) and the exports.
    let mut imported_tables = 0u32;
    let mut imported_memories = 0u32;
    let mut imported_globals = 0u32;
    let mut defined_tables = 0u32;
    let mut defined_memories = 0u32;
    let mut mutable_globals = Vec::new();
    let mut exports: Vec<(String, ExternalKind, u32)> = Vec::new();
    let mut segments = Some(Vec::new());
    for payload in Parser::new(0).parse_all(&wasm) {
        match payload.map_err(invalid)? {
            Payload::StartSection { .. } => segments = None,
            Payload::DataSection(reader) => {
                for data in reader {
                    let data = data.map_err(invalid)?;
                    if let wasmparser::DataKind::Active {
                        memory_index,
                        offset_expr,
                    } = data.kind
                    {
                        let offset = const_offset(&offset_expr).filter(|_| memory_index == 0);
                        match offset {
                            Some(offset) => {
                                if let Some(list) = segments.as_mut() {
                                    list.push((offset, data.data.len() as u64));
                                }
                            }
                            None => segments = None,
                        }
                    }
                }
            }
            Payload::ImportSection(reader) => {
                // Flattened: since wasmparser 0.240 the section yields groups of imports.
                for import in reader.into_imports() {
                    match import.map_err(invalid)?.ty {
                        TypeRef::Table(_) => imported_tables += 1,
                        TypeRef::Memory(_) => imported_memories += 1,
                        TypeRef::Global(_) => imported_globals += 1,
                        _ => {}
                    }
                }
            }
            Payload::TableSection(reader) => defined_tables += reader.count(),
            Payload::MemorySection(reader) => defined_memories += reader.count(),
            Payload::GlobalSection(reader) => {
                for (i, global) in reader.into_iter().enumerate() {
                    if global.map_err(invalid)?.ty.mutable {
                        mutable_globals.push(imported_globals + i as u32);
                    }
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(invalid)?;
                    exports.push((export.name.to_string(), export.kind, export.index));
                }
            }
            _ => {}
        }
    }

    // The export section we will write: the module's own plus the IC's additions.
    let mut new_exports = exports.clone();
    let has_name = |name: &str| exports.iter().any(|(n, _, _)| n == name);
    if imported_tables + defined_tables > 0 && !has_name(TABLE_EXPORT) {
        new_exports.push((TABLE_EXPORT.into(), ExternalKind::Table, 0));
    }
    if imported_memories + defined_memories > 0 && !has_name(MEMORY_EXPORT) {
        new_exports.push((MEMORY_EXPORT.into(), ExternalKind::Memory, 0));
    }
    for &index in &mutable_globals {
        new_exports.push((
            format!("{GLOBAL_EXPORT_PREFIX}{index}"),
            ExternalKind::Global,
            index,
        ));
    }
    let mut export_section = ExportSection::new();
    for (name, kind, index) in &new_exports {
        let kind = match kind {
            // An exact-type function export (custom-descriptors proposal) re-exported as a
            // plain one: the IC's wasm features do not include the proposal anyway.
            ExternalKind::Func | ExternalKind::FuncExact => ExportKind::Func,
            ExternalKind::Table => ExportKind::Table,
            ExternalKind::Memory => ExportKind::Memory,
            ExternalKind::Global => ExportKind::Global,
            ExternalKind::Tag => ExportKind::Tag,
        };
        export_section.export(name, kind, *index);
    }

    // Pass 2: copy sections verbatim, replacing (or inserting) the export section at its place
    // in the canonical order (after globals, before start/elements/code/data).
    let mut out = wasm_encoder::Module::new();
    let mut exports_written = false;
    for payload in Parser::new(0).parse_all(&wasm) {
        let payload = payload.map_err(invalid)?;
        if let Payload::ExportSection(_) = payload {
            out.section(&export_section);
            exports_written = true;
            continue;
        }
        let Some((id, range)) = payload.as_section() else {
            continue;
        };
        // Known sections after the export section: start 8, element 9, code 10, data 11,
        // data count 12.
        if !exports_written && matches!(id, 8..=12) {
            out.section(&export_section);
            exports_written = true;
        }
        out.section(&RawSection {
            id,
            data: &wasm[range],
        });
    }
    if !exports_written {
        out.section(&export_section);
    }
    let instrumented = out.finish();
    // The rewrite must still validate (it would be a localnet bug otherwise).
    wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
        .validate_all(&instrumented)
        .map_err(invalid)?;

    let entry_points = new_exports
        .iter()
        .filter(|(name, kind, _)| *kind == ExternalKind::Func && name.starts_with("canister_"))
        .map(|(name, _, _)| name.clone())
        .collect();
    Ok(PreparedModule {
        hash: sha256(original),
        original: original.to_vec(),
        instrumented,
        mutable_globals,
        entry_points,
        live_heap_segments: segments,
    })
}

/// The value of a data segment's offset when it is a plain constant.
fn const_offset(expr: &wasmparser::ConstExpr) -> Option<u64> {
    let mut ops = expr.get_operators_reader();
    let value = match ops.read().ok()? {
        wasmparser::Operator::I32Const { value } => u64::from(value as u32),
        wasmparser::Operator::I64Const { value } => value as u64,
        _ => return None,
    };
    matches!(ops.read().ok()?, wasmparser::Operator::End).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instrumentation_exports_the_table_and_each_mutable_global() {
        let wasm = wat::parse_str(
            r#"(module
                 (global $sp (mut i32) (i32.const 1048576))
                 (global $c i32 (i32.const 7))
                 (global $x (mut i64) (i64.const 3))
                 (table 2 funcref)
                 (memory 1)
                 (func (export "canister_update go")))"#,
        )
        .unwrap();
        let prepared = prepare(&wasm).unwrap();
        assert_eq!(prepared.mutable_globals, vec![0, 2]);
        let names: Vec<String> = Parser::new(0)
            .parse_all(&prepared.instrumented)
            .filter_map(|p| match p.unwrap() {
                Payload::ExportSection(r) => Some(
                    r.into_iter()
                        .map(|e| e.unwrap().name.to_string())
                        .collect::<Vec<_>>(),
                ),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(
            names,
            [
                "canister_update go",
                "table",
                "memory",
                "__persistent_mutable_global_0",
                "__persistent_mutable_global_2"
            ]
        );
        assert_eq!(prepared.entry_points, ["canister_update go"]);
    }

    #[test]
    fn a_gzipped_module_is_accepted_and_hashed_as_sent() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write;
        let wasm = wat::parse_str("(module (memory 1))").unwrap();
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&wasm).unwrap();
        let gz = gz.finish().unwrap();
        let prepared = prepare(&gz).unwrap();
        assert_eq!(prepared.hash, sha256(&gz));
        assert!(prepared.instrumented.starts_with(b"\0asm"));
    }
}
