//! `verify` against hand-made folders: complete, truncated, corrupted, extra and missing files,
//! edited metadata or manifest, no manifest, links and special files.

use std::path::Path;

use super::*;
use crate::operations::layout::tests::metadata;
use crate::operations::layout::*;
use crate::operations::manifest::{FileEntry, Manifest, sha256_hex};

/// Writes a complete, valid export (with manifest when `with_manifest`) and returns the
/// chunk's path.
pub fn write_export(dir: &Path, with_manifest: bool) -> String {
    let chunk = vec![9u8; 1000];
    let hash =
        sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(&chunk)).to_vec();
    let m = metadata(3000, 65536, 131072, vec![hash.clone()]);
    std::fs::create_dir_all(dir.join(CHUNK_DIR)).unwrap();
    std::fs::write(dir.join(METADATA), serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    std::fs::write(dir.join(WASM_MODULE), vec![1u8; 3000]).unwrap();
    std::fs::write(dir.join(WASM_MEMORY), vec![2u8; 65536]).unwrap();
    std::fs::write(dir.join(STABLE_MEMORY), vec![3u8; 131072]).unwrap();
    std::fs::write(dir.join(chunk_path(&hash)), &chunk).unwrap();
    if with_manifest {
        let mut files: Vec<FileEntry> = [METADATA, WASM_MODULE, WASM_MEMORY, STABLE_MEMORY]
            .iter()
            .map(|p| p.to_string())
            .chain([chunk_path(&hash)])
            .map(|p| {
                let bytes = std::fs::read(dir.join(&p)).unwrap();
                FileEntry {
                    path: p,
                    size: bytes.len() as u64,
                    sha256: sha256_hex(&bytes),
                }
            })
            .collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let man = Manifest {
            format: 1,
            tool: "keepsake".into(),
            tool_version: "test".into(),
            canister_id: "aaaaa-aa".into(),
            snapshot_id: "00".into(),
            taken_at_timestamp: 1,
            taken_at: "x".into(),
            exported_at: "y".into(),
            files,
        };
        std::fs::write(dir.join(MANIFEST), serde_json::to_vec_pretty(&man).unwrap()).unwrap();
    }
    chunk_path(&hash)
}

fn kinds(r: &VerifyReport) -> Vec<String> {
    r.problems
        .iter()
        .map(|p| {
            serde_json::to_value(p).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn a_complete_export_verifies() {
    let dir = tempfile::tempdir().unwrap();
    write_export(dir.path(), true);
    let r = verify_dir(dir.path());
    assert!(r.ok, "{:?}", r.problems);
    assert!(r.manifest);
    assert_eq!(r.files.len(), 5);
}

#[test]
fn a_truncated_memory_file_is_reported_as_truncated_with_both_sizes() {
    let dir = tempfile::tempdir().unwrap();
    write_export(dir.path(), true);
    std::fs::write(dir.path().join(STABLE_MEMORY), vec![3u8; 1000]).unwrap();
    let r = verify_dir(dir.path());
    assert_eq!(
        r.problems,
        vec![Problem::Truncated {
            path: STABLE_MEMORY.into(),
            expected_size: 131072,
            actual_size: 1000,
            according_to: METADATA.into()
        }]
    );
    assert!(
        r.problems[0]
            .to_string()
            .contains("truncated: 1000 bytes, metadata.json says 131072")
    );
}

#[test]
fn a_flipped_byte_is_corruption_according_to_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    write_export(dir.path(), true);
    let mut heap = vec![2u8; 65536];
    heap[100] = 0;
    std::fs::write(dir.path().join(WASM_MEMORY), heap).unwrap();
    let r = verify_dir(dir.path());
    assert_eq!(kinds(&r), vec!["corrupted"]);
}

#[test]
fn extra_and_missing_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    write_export(dir.path(), true);
    std::fs::write(dir.path().join("notes.txt"), "hi").unwrap();
    std::fs::remove_file(dir.path().join(WASM_MODULE)).unwrap();
    let r = verify_dir(dir.path());
    let mut k = kinds(&r);
    k.sort();
    assert_eq!(k, vec!["extra", "missing"]);
    assert!(r.problems.iter().any(|p| p.path() == Some("notes.txt")));
}

#[test]
fn edited_metadata_is_caught_by_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    write_export(dir.path(), true);
    let path = dir.path().join(METADATA);
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    m["canister_version"] = 9.into(); // same length: only the hash can tell
    std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    let r = verify_dir(dir.path());
    assert_eq!(kinds(&r), vec!["corrupted"]);
    assert_eq!(r.problems[0].path(), Some(METADATA));
}

#[test]
fn a_manifest_whose_sizes_contradict_the_metadata_is_reported_as_tampered() {
    let dir = tempfile::tempdir().unwrap();
    write_export(dir.path(), true);
    let path = dir.path().join(MANIFEST);
    let mut m: Manifest = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    m.files
        .iter_mut()
        .find(|f| f.path == WASM_MODULE)
        .unwrap()
        .size = 10;
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
    let r = verify_dir(dir.path());
    assert_eq!(kinds(&r), vec!["manifest_disagrees"]);
}

#[test]
fn a_folder_without_manifest_is_not_ok_but_still_checks_sizes_and_chunk_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let chunk = write_export(dir.path(), false);
    std::fs::write(dir.path().join(".lock"), "").unwrap();
    let r = verify_dir(dir.path());
    assert!(!r.ok, "content was not checked, so not OK");
    assert!(r.ok_but_for_the_manifest());
    assert!(!r.manifest);
    assert_eq!(kinds(&r), vec!["no_manifest"]);
    let text = r.problems[0].to_string();
    assert!(
        text.contains("cannot be checked") && text.contains("--no-manifest"),
        "{text}"
    );
    assert!(text.contains(STABLE_MEMORY), "{text}");
    std::fs::write(dir.path().join(&chunk), vec![8u8; 1000]).unwrap();
    std::fs::write(dir.path().join(WASM_MEMORY), vec![2u8; 100]).unwrap();
    let r = verify_dir(dir.path());
    let mut k = kinds(&r);
    k.sort();
    assert_eq!(k, vec!["corrupted", "no_manifest", "truncated"]);
    assert!(!r.ok_but_for_the_manifest());
}

#[test]
fn a_symlinked_memory_file_is_refused_and_not_hashed() {
    let dir = tempfile::tempdir().unwrap();
    write_export(dir.path(), true);
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("stable");
    std::fs::write(&target, vec![3u8; 131072]).unwrap();
    std::fs::remove_file(dir.path().join(STABLE_MEMORY)).unwrap();
    std::os::unix::fs::symlink(&target, dir.path().join(STABLE_MEMORY)).unwrap();
    let r = verify_dir(dir.path());
    assert!(!r.ok);
    assert_eq!(kinds(&r), vec!["not_regular_file"]);
    assert_eq!(r.problems[0].path(), Some(STABLE_MEMORY));
    assert!(r.files.iter().all(|f| f.path != STABLE_MEMORY));
}

#[test]
fn extra_links_fifos_and_devices_are_named_without_being_opened() {
    let dir = tempfile::tempdir().unwrap();
    write_export(dir.path(), true);
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", dir.path().join(CHUNK_DIR).join("x.bin")).unwrap();
    assert!(
        std::process::Command::new("mkfifo")
            .arg(dir.path().join("fifo"))
            .status()
            .unwrap()
            .success()
    );
    let start = std::time::Instant::now();
    let r = verify_dir(dir.path());
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(
        kinds(&r),
        vec!["not_regular_file", "not_regular_file", "not_regular_file"]
    );
    let json = serde_json::to_value(&r).unwrap();
    let listed: Vec<&str> = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(
        !listed.contains(&"zero") && !listed.contains(&"fifo"),
        "{listed:?}"
    );
    assert!(r.problems.iter().any(|p| p.to_string().contains("FIFO")));
}

#[test]
fn a_manifest_of_format_99_does_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    write_export(dir.path(), true);
    let path = dir.path().join(MANIFEST);
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("\"format\": 1", "\"format\": 99");
    std::fs::write(&path, text).unwrap();
    let r = verify_dir(dir.path());
    assert_eq!(kinds(&r), vec!["invalid_manifest"]);
    assert!(r.problems[0].to_string().contains("reads format 1"));
}

#[test]
fn a_missing_metadata_file_is_the_first_problem() {
    let dir = tempfile::tempdir().unwrap();
    write_export(dir.path(), false);
    std::fs::remove_file(dir.path().join(METADATA)).unwrap();
    let r = verify_dir(dir.path());
    assert_eq!(
        r.problems,
        vec![Problem::Missing {
            path: METADATA.into()
        }]
    );
}
