//! The handler and log-level setters: what a client calls back, and how much it logs.

use core::ffi::c_void;

#[cfg(feature = "log")]
use super::log::mqe_log_level_t;
#[cfg(feature = "log")]
use super::status::*;
use super::types::*;
use super::{into_status, with_cell};

/// Sets (or with NULL clears) the handler for incoming messages that no `mqe_subscribe_cb`
/// handler matches; `user` is passed back to it.
/// Any state, also from a callback. Errors: `MQE_ERR_NULL`, `MQE_ERR_NOT_INIT`.
///
/// # Safety
/// `c` is NULL or client storage; `handler` and `user` stay valid while set.
#[no_mangle]
pub unsafe extern "C" fn mqe_set_message_handler(
    c: *mut mqe_client_t,
    handler: mqe_message_handler_t,
    user: *mut c_void,
) -> mqe_status_t {
    // SAFETY: forwarded contract.
    into_status(unsafe {
        with_cell(c, |cell| {
            cell.message_handler = handler;
            cell.message_user = user;
            Ok(())
        })
    })
}

/// Sets (or with NULL clears) the handler for events; `user` is passed back to it.
/// Any state, also from a callback. Errors: `MQE_ERR_NULL`, `MQE_ERR_NOT_INIT`.
///
/// # Safety
/// `c` is NULL or client storage; `handler` and `user` stay valid while set.
#[no_mangle]
pub unsafe extern "C" fn mqe_set_event_handler(
    c: *mut mqe_client_t,
    handler: mqe_event_handler_t,
    user: *mut c_void,
) -> mqe_status_t {
    // SAFETY: forwarded contract.
    into_status(unsafe {
        with_cell(c, |cell| {
            cell.event_handler = handler;
            cell.event_user = user;
            Ok(())
        })
    })
}

/// Sets the most verbose level passed to the platform's `log` hook (feature `log`; without it
/// the hook is never called): `MQE_LOG_ERROR` ..
/// `MQE_LOG_DEBUG`, or `MQE_LOG_OFF`; `MQE_LOG_INFO` after `mqe_init`. Lines are formatted
/// (into a 96-byte stack buffer, cut there, NUL-terminated) only when the hook is set and the
/// level passes. Any state, also from a callback.
/// Errors: `MQE_ERR_NULL`, `MQE_ERR_NOT_INIT`, `MQE_ERR_ARG` (unknown level: nothing changes).
///
/// # Safety
/// `c` is NULL or client storage.
#[cfg(feature = "log")]
#[no_mangle]
pub unsafe extern "C" fn mqe_set_log_level(
    c: *mut mqe_client_t,
    max_level: mqe_log_level_t,
) -> mqe_status_t {
    // SAFETY: forwarded contract.
    into_status(unsafe {
        with_cell(c, |cell| {
            if cell.log_filter.set_max_level(max_level) {
                Ok(())
            } else {
                Err(MQE_ERR_ARG)
            }
        })
    })
}
