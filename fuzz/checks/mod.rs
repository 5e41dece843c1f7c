//! The checks the fuzz targets make, shared with `tests/fuzz_replay.rs` so that stable
//! `cargo test` replays every corpus file and every saved crash through the same logic.
//!
//! Each `run_*` function panics (assert) on a violation; libFuzzer reports the panic as a
//! crash, and the replay test fails. The checks:
//! - no panic anywhere in the library;
//! - no accepted QoS 1/2 message vanishes: every packet id `publish` accepted is completed
//!   exactly once (PUBACK/PUBCOMP event) or is still in flight;
//! - every byte the client sends re-decodes as valid MQTT 3.1.1 with [`client_decoder`], an
//!   independent strict decoder of client-to-server packets.
#![allow(dead_code)]

pub mod c_api;
pub mod client_decoder;
pub mod engine;
pub mod frame;
pub mod input;
pub mod seeds;
#[cfg(feature = "store")]
pub mod store;
pub mod wire_log;

/// `MQE_FUZZ_TRACE=1` prints what a run does (to read a crash's story).
pub fn trace_on() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("MQE_FUZZ_TRACE").is_some())
}

/// The fuzz targets, by the names of their corpus directories.
pub const TARGETS: [&str; 3] = ["frame_decoder", "engine", "c_api"];

/// Runs the checks of `target` on one input.
pub fn run(target: &str, data: &[u8]) {
    match target {
        "frame_decoder" => frame::run(data),
        "engine" => engine::run(data),
        "c_api" => c_api::run(data),
        #[cfg(feature = "store")]
        "restore" => store::run(data),
        other => panic!("unknown fuzz target {other}"),
    }
}
