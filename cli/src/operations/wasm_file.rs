//! What `keepsake upgrade` accepts as a wasm file, checked before anything is contacted: a
//! wasm module (`\0asm`, version 1) or a gzip of one that inflates completely. Anything else
//! would make the orchestrator stop the module and take — at `max_snapshots`, replace — a
//! snapshot for bytes the IC then refuses to install.
//!
//! A gzip is inflated as a stream into a small buffer, so a 100 MB module costs no 100 MB
//! of memory besides the file itself.

use std::io::Read;

use flate2::read::GzDecoder;

/// `\0asm` followed by version 1, little-endian.
const WASM_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Why `bytes` are not something the IC installs, in words for the user; `Ok` if they are.
pub fn check(bytes: &[u8]) -> Result<(), String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    if bytes.starts_with(&GZIP_MAGIC) {
        return check_gzip(bytes);
    }
    check_start(bytes).map_err(|why| format!("it is not a wasm module: {why}"))
}

/// The wasm magic and version at the start of `start`.
fn check_start(start: &[u8]) -> Result<(), String> {
    if start.len() >= 4 && start[..4] == WASM_HEADER[..4] {
        if start.len() < WASM_HEADER.len() {
            return Err("it ends inside the wasm header".into());
        }
        if start[4..8] != WASM_HEADER[4..] {
            return Err(format!(
                "it starts with \\0asm but has version {}, not 1",
                u32::from_le_bytes(start[4..8].try_into().expect("4 bytes"))
            ));
        }
        return Ok(());
    }
    let shown: Vec<String> = start.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Err(format!(
        "it starts with {} instead of \\0asm (00 61 73 6d) or a gzip header (1f 8b)",
        shown.join(" ")
    ))
}

/// A gzip whose inflated start is a wasm header and which inflates to its end (the trailer's
/// CRC and length included).
fn check_gzip(bytes: &[u8]) -> Result<(), String> {
    let broken = |e: std::io::Error| format!("it is a gzip that does not inflate ({e})");
    let mut inflate = GzDecoder::new(bytes);
    let mut start = Vec::with_capacity(WASM_HEADER.len());
    (&mut inflate)
        .take(WASM_HEADER.len() as u64)
        .read_to_end(&mut start)
        .map_err(broken)?;
    check_start(&start).map_err(|why| {
        format!("it is a gzip, but the inflated content is not a wasm module: {why}")
    })?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match inflate.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(broken(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gzip(content: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(content).unwrap();
        e.finish().unwrap()
    }

    fn wasm() -> Vec<u8> {
        let mut w = WASM_HEADER.to_vec();
        w.extend((0..50_000u32).flat_map(|i| i.to_le_bytes()));
        w
    }

    #[test]
    fn a_wasm_and_a_gzipped_wasm_pass() {
        check(&wasm()).unwrap();
        check(&gzip(&wasm())).unwrap();
    }

    #[test]
    fn empty_text_noise_and_other_versions_are_refused_with_what_is_wrong() {
        assert_eq!(check(b"").unwrap_err(), "the file is empty");
        let e = check(b"hello world\n").unwrap_err();
        assert!(
            e.contains("68 65 6c 6c 6f 20 77 6f instead of \\0asm"),
            "{e}"
        );
        let e = check(b"\0asm\x02\0\0\0").unwrap_err();
        assert!(e.contains("version 2"), "{e}");
        let e = check(b"\0asm").unwrap_err();
        assert!(e.contains("ends inside"), "{e}");
    }

    #[test]
    fn a_gzip_of_text_a_truncated_gzip_and_a_corrupted_one_are_refused() {
        let e = check(&gzip(b"not a module at all")).unwrap_err();
        assert!(e.contains("inflated content is not a wasm"), "{e}");
        let whole = gzip(&wasm());
        let e = check(&whole[..whole.len() / 2]).unwrap_err();
        assert!(e.contains("does not inflate"), "{e}");
        let mut bad_crc = whole.clone();
        let n = bad_crc.len();
        bad_crc[n - 6] ^= 0xff;
        let e = check(&bad_crc).unwrap_err();
        assert!(e.contains("does not inflate"), "{e}");
        let e = check(&[0x1f, 0x8b, 8, 0, 0, 0]).unwrap_err();
        assert!(e.contains("does not inflate"), "{e}");
    }
}
