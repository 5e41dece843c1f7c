//! What the clouds that modules connect to require, done on the device: per-cloud limits
//! checked before anything is sent (`profiles`), and the signed, expiring credentials they
//! ask for (`sign`). Pure functions over caller buffers: no I/O, no clock, no heap. Each part
//! is a build-time feature, so a firmware that uses none of it pays no flash.

#[cfg(any(feature = "hmac-sha256", feature = "hmac-sha1"))]
mod digest;
#[cfg(feature = "cloud-profiles")]
pub mod profiles;
#[cfg(any(feature = "hmac-sha256", feature = "hmac-sha1"))]
pub mod sign;
#[cfg(any(feature = "hmac-sha256", feature = "hmac-sha1"))]
mod text;

/// Wall-clock seconds below this (2017-07-14) mean the clock was never set: a module without
/// network time reports 1970, 1980 or 2000 until NITZ or `AT+CCLK` sets it. A signature made
/// with such a time is already expired (or far in the past), so the signers refuse it.
pub const MIN_WALL_CLOCK_S: u64 = 1_500_000_000;
