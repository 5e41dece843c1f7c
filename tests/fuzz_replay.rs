//! Replays, on stable, every fuzz input kept in the repository or found locally through the
//! same checks the fuzz targets run (fuzz/checks/, included below):
//! - fuzz/seeds/<target>/: the committed seed corpora, built from valid transcripts;
//! - fuzz/regressions/<target>/: every crash found so far, committed once fixed;
//! - fuzz/corpus/<target>/ and fuzz/artifacts/<target>/: a local fuzz run's corpus and crashes
//!   (not committed; replayed when present).

#[path = "../fuzz/checks/mod.rs"]
mod fuzz_checks;

use std::fs;
use std::path::{Path, PathBuf};

const DIRS: [&str; 4] = ["seeds", "regressions", "corpus", "artifacts"];

fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    files.sort();
    files
}

fn replay(target: &str) -> usize {
    let mut count = 0;
    for kind in DIRS {
        for path in inputs(kind, target) {
            // A fuzzer running now may remove a corpus file between listing and reading.
            let Ok(data) = fs::read(&path) else {
                continue;
            };
            let outcome = std::panic::catch_unwind(|| fuzz_checks::run(target, &data));
            assert!(outcome.is_ok(), "{} fails the checks", path.display());
            count += 1;
        }
    }
    count
}

#[test]
fn frame_decoder_inputs_pass() {
    assert!(replay("frame_decoder") >= 10);
}

#[test]
fn engine_inputs_pass() {
    assert!(replay("engine") >= 3);
}

#[test]
fn c_api_inputs_pass() {
    assert!(replay("c_api") >= 1);
}

/// The committed seeds are exactly what fuzz/checks/seeds.rs builds, so they follow any change
/// of an input format. `MQE_WRITE_SEEDS=1 cargo test --test fuzz_replay` rewrites them.
#[test]
fn seeds_are_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let write = std::env::var_os("MQE_WRITE_SEEDS").is_some();
    for (target, name, bytes) in fuzz_checks::seeds::seeds() {
        let path = root.join(target).join(name);
        if write {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, &bytes).unwrap();
        }
        assert_eq!(
            fs::read(&path).ok(),
            Some(bytes),
            "{} is stale: run MQE_WRITE_SEEDS=1 cargo test --test fuzz_replay",
            path.display()
        );
    }
}

/// The checks catch what they claim to: a broken transcript fails them.
#[test]
fn the_checks_can_fail() {
    use fuzz_checks::client_decoder::{decode, Decoded};
    // A QoS 0 PUBLISH with DUP, a PUBREL with flags 0, a SUBSCRIBE without filters,
    // a non-minimal length, a CONNACK (never sent by a client).
    for bad in [
        &[0x38, 0x03, 0x00, 0x01, b't'][..],
        &[0x60, 0x02, 0x00, 0x01],
        &[0x82, 0x02, 0x00, 0x01],
        &[0xC0, 0x80, 0x00],
        &[0x20, 0x02, 0x00, 0x00],
    ] {
        assert!(decode(bad).is_err(), "{bad:02X?}");
    }
    assert!(matches!(decode(&[0xC0, 0x00]), Ok(Decoded::Packet(_, 2))));
    let mut ledger = fuzz_checks::wire_log::Ledger::default();
    ledger.accept(1, "t", b"x", 1, false);
    let completes_unknown = std::panic::catch_unwind(move || ledger.complete(2));
    assert!(completes_unknown.is_err());
}

#[cfg(feature = "store")]
#[test]
fn restore_inputs_pass() {
    assert!(replay("restore") >= 3);
}
