//! End to end: `keepsake upgrade` refuses a file that is not a wasm before anything is
//! contacted — no staging, no snapshot, no stop — with exit code 2.

mod common;

use orchestrator_api::client::calls;

use common::{Env, wasm};

fn gzip(content: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(content).unwrap();
    e.finish().unwrap()
}

#[test]
fn a_file_that_is_not_a_wasm_is_refused_before_anything_is_contacted() {
    let env = Env::registered();
    let before = env.take_snapshot();
    let mut noise = vec![0u8; 5_000_000];
    let mut x: u32 = 99;
    for b in noise.iter_mut() {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        *b = (x >> 16) as u8;
    }
    let good = wasm("sample-module-v2.wasm.gz");
    let mut truncated = good.clone();
    truncated.truncate(good.len() / 2);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.wasm", vec![], "the file is empty"),
        (
            "notes.txt",
            b"just some text\n".to_vec(),
            "it is not a wasm module",
        ),
        ("noise.bin", noise, "it is not a wasm module"),
        (
            "broken.wasm.gz",
            truncated,
            "it is a gzip that does not inflate",
        ),
        (
            "text.gz",
            gzip(b"hello"),
            "the inflated content is not a wasm module",
        ),
    ];
    for (name, bytes, says) in cases {
        let path = env.path(name);
        std::fs::write(&path, bytes).unwrap();
        let out = env
            .keepsake()
            .args(["upgrade", "app", path.to_str().unwrap(), "--yes"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(says), "{name}: {stderr}");
        assert!(stderr.contains("nothing was sent"), "{name}: {stderr}");
        assert!(!stderr.contains("no wasm is staged"), "{name}: {stderr}");
    }
    // Nothing staged, no operation beyond the snapshot taken above, and it is still there.
    let staged = env.call(calls::list_staged_wasms());
    assert!(staged.unwrap().is_empty());
    let history = env.json(&["history", "app"]);
    assert_eq!(
        history["operations"].as_array().unwrap().len(),
        1,
        "{history}"
    );
    let listed = env.json(&["snapshot", "list", "app"]);
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], before.as_str());
}
