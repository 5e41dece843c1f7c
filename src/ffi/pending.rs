//! `mqe_pending` and `MQE_EVENT_IDLE` (feature `pending`): the work in hand, for applications
//! that sleep (PSM, eDRX) and must know when nothing is sent or awaited.

use super::cell::cell_ptr;
#[cfg(feature = "outbox")]
use super::cell::outbox_ptr;
#[cfg(feature = "outbox")]
use super::outbox;
use super::status::*;
use super::types::*;

/// Nothing to send and nothing awaited (`mqe_options_t.idle_event`): connected, every count of
/// `mqe_pending_t` is 0. Reported once each time the client becomes idle (again after each
/// keep-alive PINGRESP). A PSM/eDRX application may then sleep until `mqe_next_deadline_ms`.
pub const MQE_EVENT_IDLE: mqe_event_kind_t = 19;

/// The work in hand (`mqe_pending`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct mqe_pending_t {
    /// Outgoing QoS 1/2 messages not yet complete (PUBACK or PUBCOMP not received).
    pub inflight: u32,
    /// QoS 0 messages waiting in the offline queue.
    pub qos0_queued: u32,
    /// Messages `mqe_post_publish` queued and `mqe_poll` has not taken yet.
    pub outbox: u32,
    /// SUBSCRIBE and UNSUBSCRIBE packets awaiting SUBACK or UNSUBACK.
    pub subs_awaiting: u32,
    /// Bytes queued for the transport and not yet accepted by its send.
    pub tx_bytes: u32,
    /// Incoming QoS 2 messages awaiting the broker's PUBREL.
    pub rx_qos2_open: u32,
    /// A PINGREQ is queued or awaits its PINGRESP.
    pub ping_outstanding: bool,
    /// Connected and nothing above pending: the modem may sleep until `mqe_next_deadline_ms`.
    pub idle: bool,
}

/// Fills `*out` with the work in hand. Any state, also from a callback.
/// Errors: `MQE_ERR_NULL`, `MQE_ERR_NOT_INIT`.
///
/// # Safety
/// `c` is NULL or client storage; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqe_pending(
    c: *const mqe_client_t,
    out: *mut mqe_pending_t,
) -> mqe_status_t {
    if out.is_null() {
        return MQE_ERR_NULL;
    }
    // SAFETY: forwarded contract.
    let cell = match unsafe { cell_ptr(c) } {
        Ok(cell) => cell,
        Err(status) => return status,
    };
    // SAFETY: initialised; shared read while no `&mut` is alive.
    let pending = unsafe { &*cell }.client.pending();
    // SAFETY: initialised storage (cell_ptr succeeded); `waiting` only reads the counter.
    #[cfg(feature = "outbox")]
    let posted = match unsafe { outbox_ptr(c) } {
        // SAFETY: as above.
        Ok(outbox) => unsafe { outbox::waiting(outbox) },
        Err(_) => 0,
    };
    #[cfg(not(feature = "outbox"))]
    let posted = 0;
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let posted = count(posted);
    let out_value = mqe_pending_t {
        inflight: count(pending.inflight),
        qos0_queued: count(pending.qos0_queued),
        outbox: posted,
        subs_awaiting: count(pending.subs_awaiting),
        tx_bytes: count(pending.tx_bytes),
        rx_qos2_open: pending.rx_qos2_open,
        ping_outstanding: pending.ping_outstanding,
        idle: pending.idle && posted == 0,
    };
    // SAFETY: non-NULL and writable per the contract.
    unsafe { out.write(out_value) };
    MQE_OK
}
