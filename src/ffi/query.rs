//! Read-only calls: the connection state, umqtt's status code, drop counters, status texts
//! and the version.

use core::ffi::c_char;

use super::cell::cell_ptr;
use super::status::*;
use super::types::*;
use crate::client::ClientState;

/// The connection state (`MQE_STATE_*`), or `MQE_ERR_NULL` / `MQE_ERR_NOT_INIT`. Any state,
/// also from a callback.
///
/// # Safety
/// `c` is NULL or client storage.
#[no_mangle]
pub unsafe extern "C" fn mqe_state(c: *const mqe_client_t) -> mqe_state_t {
    // SAFETY: forwarded contract.
    let cell = match unsafe { cell_ptr(c) } {
        Ok(cell) => cell,
        Err(status) => return status,
    };
    // SAFETY: initialised; shared read while no `&mut` is alive.
    match unsafe { &*cell }.client.state() {
        ClientState::Disconnected => MQE_STATE_DISCONNECTED,
        ClientState::Connecting => MQE_STATE_CONNECTING,
        ClientState::Connected => MQE_STATE_CONNECTED,
        ClientState::Disconnecting => MQE_STATE_DISCONNECTING,
        ClientState::Reconnecting => MQE_STATE_RECONNECTING,
        #[cfg(feature = "link")]
        ClientState::LinkDown => super::MQE_STATE_LINK_DOWN,
    }
}

/// QoS 0 messages the offline queue dropped (policy `MQE_QOS0_DROP_OLDEST`) since `mqe_init`;
/// 0 for NULL or an uninitialised client. Any state, also from a callback. Feature
/// `offline-queue`.
///
/// # Safety
/// `c` is NULL or client storage.
#[cfg(feature = "offline-queue")]
#[no_mangle]
pub unsafe extern "C" fn mqe_qos0_dropped(c: *const mqe_client_t) -> u32 {
    // SAFETY: forwarded contract.
    match unsafe { cell_ptr(c) } {
        // SAFETY: initialised; shared read while no `&mut` is alive.
        Ok(cell) => unsafe { &*cell }.client.qos0_dropped(),
        Err(_) => 0,
    }
}

/// Incoming messages larger than `rx_buf` that were read past and reported with
/// `MQE_EVENT_MESSAGE_TOO_LARGE` since `mqe_init`; 0 for NULL or an uninitialised client.
/// Any state, also from a callback.
///
/// # Safety
/// `c` is NULL or client storage.
#[no_mangle]
pub unsafe extern "C" fn mqe_oversized_count(c: *const mqe_client_t) -> u32 {
    // SAFETY: forwarded contract.
    match unsafe { cell_ptr(c) } {
        // SAFETY: initialised; shared read while no `&mut` is alive.
        Ok(cell) => unsafe { &*cell }.client.oversized_count(),
        Err(_) => 0,
    }
}

/// umqtt's `get_mqttsta()`: 0 connected, 1 connecting or reconnecting, 2 the broker closed
/// the connection, -1 anything else (error, disconnected, NULL, not initialised).
///
/// # Safety
/// `c` is NULL or client storage.
#[no_mangle]
pub unsafe extern "C" fn mqe_mqttsta(c: *const mqe_client_t) -> i32 {
    // SAFETY: forwarded contract.
    match unsafe { cell_ptr(c) } {
        // SAFETY: initialised; shared read while no `&mut` is alive.
        Ok(cell) => unsafe { &*cell }.mqttsta(),
        Err(_) => -1,
    }
}

/// A static, NUL-terminated description of `status`; "unknown status" for codes not listed.
/// The string is owned by the library and never freed.
#[no_mangle]
pub extern "C" fn mqe_strerror(status: mqe_status_t) -> *const c_char {
    status_text(status)
}

/// The library version, "MAJOR.MINOR.PATCH": a static string owned by the library.
#[no_mangle]
pub extern "C" fn mqe_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0")
        .as_ptr()
        .cast::<c_char>()
}
