//! `mqe_stats` (feature `stats`): what went over the wire, the application's data bill.

use super::cell::cell_ptr;
use super::status::*;
use super::types::*;

/// What went over the wire since `mqe_init` (`mqe_stats`): the bytes the transport's send
/// accepted and its recv returned (fixed headers, PINGREQs and re-sends included; with a TLS
/// transport, the MQTT bytes inside TLS), packets per MQTT control packet type, connects and
/// reconnects.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct mqe_stats_t {
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Indexed by packet type: 1 CONNECT, 3 PUBLISH, 4 PUBACK, 5 PUBREC, 6 PUBREL, 7 PUBCOMP,
    /// 8 SUBSCRIBE, 10 UNSUBSCRIBE, 12 PINGREQ, 14 DISCONNECT (0 and 15 stay 0).
    pub packets_sent: [u32; 16],
    /// Indexed likewise: 2 CONNACK, 3 PUBLISH, 4 PUBACK, ..., 9 SUBACK, 11 UNSUBACK, 13 PINGRESP.
    pub packets_received: [u32; 16],
    /// PUBLISH packets sent again with DUP set (after a reconnect).
    pub publish_resends: u32,
    /// PINGREQs sent (`packets_sent[12]`).
    pub pings: u32,
    /// CONNACKs that accepted a connection.
    pub connects: u32,
    /// Connection attempts started by automatic reconnect or `mqe_link_up` (not `mqe_connect`).
    pub reconnects: u32,
}

/// Fills `*out` with the wire counters since `mqe_init`. Any state, also from a callback.
/// Errors: `MQE_ERR_NULL`, `MQE_ERR_NOT_INIT`.
///
/// # Safety
/// `c` is NULL or client storage; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqe_stats(c: *const mqe_client_t, out: *mut mqe_stats_t) -> mqe_status_t {
    if out.is_null() {
        return MQE_ERR_NULL;
    }
    // SAFETY: forwarded contract.
    let cell = match unsafe { cell_ptr(c) } {
        Ok(cell) => cell,
        Err(status) => return status,
    };
    // SAFETY: initialised; shared read while no `&mut` is alive.
    let wire = unsafe { &*cell }.client.wire_stats();
    let stats = mqe_stats_t {
        bytes_sent: wire.bytes_sent,
        bytes_received: wire.bytes_received,
        packets_sent: wire.packets_sent,
        packets_received: wire.packets_received,
        publish_resends: wire.publish_resends,
        pings: wire.packets_sent.get(12).copied().unwrap_or(0),
        connects: wire.connects,
        reconnects: wire.reconnects,
    };
    // SAFETY: non-NULL and writable per the contract.
    unsafe { out.write(stats) };
    MQE_OK
}
