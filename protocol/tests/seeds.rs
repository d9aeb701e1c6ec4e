//! The fuzz seed corpus (`fuzz/seeds/<target>/…`) is generated from the golden
//! vectors. This test fails if the committed files are stale; regenerate with
//! `TWINBEAT_WRITE_SEEDS=1 cargo test -p twinbeat-protocol --test seeds`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use twinbeat_protocol::vectors::ALL;

/// Every seed file: path under `fuzz/seeds` → contents.
fn expected() -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let all: Vec<u8> = ALL.iter().flat_map(|v| v.encoded.iter().copied()).collect();
    // Line noise (with a stray delimiter) in front of a frame: the resync case.
    let noisy = [&[0x13, 0x37, 0x00, 0x42, 0xff][..], ALL[0].encoded].concat();
    for v in ALL {
        let raw = &v.encoded[1..v.encoded.len() - 1];
        files.insert(format!("decode_bytes/{}", v.name), v.encoded.to_vec());
        // Control byte 1: filter on the vectors' cluster.
        files.insert(
            format!("chunked_vs_whole/{}", v.name),
            [&[1u8][..], v.encoded].concat(),
        );
        // `arbitrary` reads these bytes as some frame: varied lengths and values.
        files.insert(format!("roundtrip/{}", v.name), raw.to_vec());
    }
    files.insert("decode_bytes/all_vectors".into(), all.clone());
    files.insert("decode_bytes/noise_then_frame".into(), noisy.clone());
    files.insert(
        "chunked_vs_whole/all_vectors".into(),
        [&[0u8][..], &all].concat(),
    );
    files.insert(
        "chunked_vs_whole/noise_then_frame".into(),
        [&[0u8][..], &noisy].concat(),
    );
    files
}

#[test]
fn fuzz_seeds_are_current() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let write = std::env::var_os("TWINBEAT_WRITE_SEEDS").is_some();
    for (name, contents) in expected() {
        let path = root.join(&name);
        if write {
            std::fs::create_dir_all(path.parent().expect("seed files sit in a target dir"))
                .expect("create seed dir");
            std::fs::write(&path, &contents).expect("write seed");
        } else {
            let on_disk = std::fs::read(&path).unwrap_or_default();
            assert_eq!(
                on_disk, contents,
                "{name} is stale: run TWINBEAT_WRITE_SEEDS=1 cargo test -p twinbeat-protocol --test seeds"
            );
        }
    }
}
