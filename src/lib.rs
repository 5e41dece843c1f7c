//! mqtt-engine: an MQTT 3.1.1 client engine for C firmware, `no_std`, no allocator.
//!
//! # The poll contract
//! The protocol core ([`engine::Engine`]) does no I/O and reads no clock: it takes bytes and
//! the current [`time::Instant`], and hands back bytes to send and events. [`client::Client`]
//! drives it over an `embedded_nal::TcpClientStack`; the C ABI in `ffi` wraps the client.
//! Everything happens inside one non-blocking poll; nothing panics on any input.
#![no_std]
#![forbid(unsafe_op_in_unsafe_fn)]
// Nothing may panic on any input: no indexing, unwrap, expect or panic in library code.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

// The test harness and the `std` feature link std; the firmware build never does.
#[cfg(feature = "std")]
extern crate std;

/// Build-time capacities (see `build.rs`).
pub mod config {
    include!(concat!(env!("OUT_DIR"), "/config.rs"));
    /// Events one engine can hold before the caller drains them. One packet emits at most
    /// two, and `handle_bytes` waits for three free slots (`EVENT_ROOM_PER_PACKET`, one spare);
    /// one more for an event pushed outside `handle_bytes` since the last drain (a
    /// `Disconnected`), so that a packet is still read behind it. With the store, one more
    /// for `Restored`, which `attach_store` pushes before the first connect. The client drains
    /// the queue before it feeds the next packet.
    pub const EVENT_QUEUE: usize = if cfg!(feature = "store") { 5 } else { 4 };
    /// The in-flight window when the options leave it at 0.
    pub const DEFAULT_INFLIGHT_WINDOW: u16 = if MAX_INFLIGHT < 8 {
        MAX_INFLIGHT as u16
    } else {
        8
    };
}

mod bytes;
pub mod client;
pub mod cloud;
pub mod engine;
pub mod error;
pub mod ffi;
mod fifo;
mod session;
#[cfg(feature = "store")]
pub mod store;
pub mod time;
pub mod wire;

pub use error::Error;

/// Test-only (feature `panic-test`): panics on purpose, so a firmware image can show that the
/// panic handler reaches the hook set with `mqe_set_panic_hook`.
#[cfg(feature = "panic-test")]
#[no_mangle]
#[allow(clippy::panic)]
pub extern "C" fn mqe_test_panic() {
    panic!("mqe_test_panic: deliberate");
}
