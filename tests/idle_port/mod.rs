//! A transport that never moves data and a clock stopped at 0: for C-API tests that check
//! what `mqe_init` and the calls before any traffic do (the ABI guard, the store's restore).
#![allow(dead_code)]

use std::ffi::c_void;
use std::ptr;

use mqtt_engine::ffi::*;

unsafe extern "C" fn open(_: *mut c_void) -> i32 {
    1
}
unsafe extern "C" fn connect(_: *mut c_void, _: i32, _: *const mqe_sockaddr_t) -> i32 {
    MQE_IO_WOULD_BLOCK
}
unsafe extern "C" fn send(_: *mut c_void, _: i32, _: *const u8, _: usize) -> i32 {
    MQE_IO_WOULD_BLOCK
}
unsafe extern "C" fn recv(_: *mut c_void, _: i32, _: *mut u8, _: usize) -> i32 {
    MQE_IO_WOULD_BLOCK
}
unsafe extern "C" fn close(_: *mut c_void, _: i32) {}
unsafe extern "C" fn now_ms(_: *mut c_void) -> u32 {
    0
}

/// Opens socket 1; connect, send and recv would block for ever; no resolver.
pub fn transport() -> mqe_transport_t {
    mqe_transport_t {
        ctx: ptr::null_mut(),
        open: Some(open),
        connect: Some(connect),
        send: Some(send),
        recv: Some(recv),
        close: Some(close),
        resolve: None,
    }
}

/// A clock at 0 and nothing else.
pub fn platform() -> mqe_platform_t {
    mqe_platform_t {
        ctx: ptr::null_mut(),
        now_ms: Some(now_ms),
        random: None,
        delay_ms: None,
        log: None,
    }
}
