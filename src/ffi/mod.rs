//! The C ABI: exported functions, `#[repr(C)]` types, status codes, the C transport as a
//! `TcpClientStack`, argument checks and the panic handler. Nothing else lives here.
//!
//! Threading: every call on a client belongs to the one task that owns it. Callbacks run inside
//! `mqe_poll`; from a callback, `mqe_publish`, `mqe_subscribe`, `mqe_subscribe_many`,
//! `mqe_unsubscribe`, `mqe_disconnect` and the read-only calls are allowed on the same client;
//! `mqe_poll`, `mqe_connect` and `mqe_init` return `MQE_ERR_REENTRANT`.
//!
//! The exported functions, by concern: `init` (options, `mqe_init`), `handlers` (callback and
//! log setters), `commands` (connect, publish, subscribe, ...), `poll` (`mqe_poll`, deadlines),
//! `query` (read-only calls), `blocking` (umqtt-style helpers), `outbox` (the critical section).
#![allow(non_camel_case_types)]

mod args;
mod blocking;
mod cell;
mod cloud;
mod commands;
mod events;
mod handlers;
mod init;
#[cfg(feature = "link")]
mod link;
mod log;
#[cfg(feature = "outbox")]
mod outbox;
mod panic;
#[cfg(feature = "pending")]
mod pending;
mod poll;
mod query;
#[cfg(feature = "stats")]
mod stats;
mod status;
#[cfg(feature = "store")]
mod store;
mod topic_handlers;
mod transport;
mod types;

pub use blocking::*;
#[cfg(feature = "std")]
pub use cell::client_bytes_used;
use cell::{cell_ptr, ClientCell};
pub use cloud::*;
pub use commands::*;
pub use handlers::*;
pub use init::*;
#[cfg(feature = "link")]
pub use link::*;
pub use log::{
    mqe_log_level_t, MQE_LOG_DEBUG, MQE_LOG_ERROR, MQE_LOG_INFO, MQE_LOG_OFF, MQE_LOG_WARN,
};
#[cfg(feature = "outbox")]
pub use outbox::{mqe_critical_enter_t, mqe_critical_exit_t, mqe_set_critical_section};
pub use panic::*;
#[cfg(feature = "pending")]
pub use pending::*;
pub use poll::*;
pub use query::*;
#[cfg(feature = "stats")]
pub use stats::*;
pub use status::*;
#[cfg(feature = "store")]
pub use store::*;
pub use types::*;

/// Runs `f` on an initialised client.
///
/// # Safety
/// `c` is NULL or points to client storage; no Rust borrow of the client is alive (true for
/// any call from C, including from a callback, since `mqe_poll` holds none while C runs).
unsafe fn with_cell<T>(
    c: *const mqe_client_t,
    f: impl FnOnce(&mut ClientCell) -> Result<T, mqe_status_t>,
) -> Result<T, mqe_status_t> {
    // SAFETY: forwarded contract.
    let cell = unsafe { cell_ptr(c) }?;
    // SAFETY: initialised storage, and no other borrow is alive per the contract.
    f(unsafe { &mut *cell })
}

fn into_status(result: Result<(), mqe_status_t>) -> mqe_status_t {
    match result {
        Ok(()) => MQE_OK,
        Err(status) => status,
    }
}
