//! Status codes: the numbers C sees, their texts, and the mapping from [`Error`].
//! Grouped by cause; a number, once given, is never reused.

use core::ffi::{c_char, CStr};

use super::types::mqe_status_t;
use crate::Error;

/// Success.
pub const MQE_OK: mqe_status_t = 0;

// --- arguments ---
/// A required pointer is NULL (or a data pointer is NULL with a length > 0).
pub const MQE_ERR_NULL: mqe_status_t = -1;
/// An argument is out of range or inconsistent (e.g. overlapping buffers, empty list).
pub const MQE_ERR_ARG: mqe_status_t = -2;
/// A string is not valid UTF-8 (or contains U+0000).
pub const MQE_ERR_UTF8: mqe_status_t = -3;
/// A topic name or filter breaks the MQTT rules (empty, wildcard in a publish topic, misplaced
/// wildcard in a filter).
pub const MQE_ERR_TOPIC: mqe_status_t = -4;
/// QoS is not 0, 1 or 2.
pub const MQE_ERR_QOS: mqe_status_t = -5;
/// A string is longer than 65,535 bytes (or unterminated within 65,536), or a message can never
/// fit the tx or store buffer.
pub const MQE_ERR_TOO_LARGE: mqe_status_t = -6;
/// A password was given without a username (MQTT 3.1.1 §3.1.2.9).
pub const MQE_ERR_PASSWORD_WITHOUT_USER: mqe_status_t = -7;
/// A buffer is missing or below its minimum (`MQE_MIN_BUFFER`, or too small for CONNECT).
pub const MQE_ERR_BUFFER: mqe_status_t = -8;
/// The header and the library were built with different capacities or features: the
/// `mqe_client_t` the caller allocated does not fit the library's client (nothing is written).
pub const MQE_ERR_ABI_MISMATCH: mqe_status_t = -9;
/// The client storage is not aligned to `MQE_CLIENT_ALIGN` (nothing is written).
pub const MQE_ERR_ALIGNMENT: mqe_status_t = -10;

// --- state ---
/// The client storage was never set up by `mqe_init`.
pub const MQE_ERR_NOT_INIT: mqe_status_t = -20;
/// The call is not allowed in the client's current state (see each function).
pub const MQE_ERR_STATE: mqe_status_t = -21;
/// Called from inside a callback of the same client, where this call is not allowed.
pub const MQE_ERR_REENTRANT: mqe_status_t = -22;

/// `mqe_post_publish` needs the critical section registered with `mqe_set_critical_section`.
pub const MQE_ERR_NO_CRITICAL_SECTION: mqe_status_t = -23;

// --- capacity ---
/// The in-flight window, the store or the tx buffer is full for now: back-pressure. Nothing was
/// queued; retry after `mqe_poll` has made progress.
pub const MQE_ERR_FULL: mqe_status_t = -30;

// --- transport ---
/// The transport failed (open, connect, send or recv returned an error).
pub const MQE_ERR_TRANSPORT: mqe_status_t = -40;
/// The host name could not be resolved (or no resolver was given).
pub const MQE_ERR_DNS: mqe_status_t = -41;
/// The broker closed the connection.
pub const MQE_ERR_CLOSED: mqe_status_t = -42;
/// Resolve + TCP connect + CONNACK took longer than `connect_timeout_ms`.
pub const MQE_ERR_CONNECT_TIMEOUT: mqe_status_t = -43;
/// No PINGRESP within the ping timeout.
pub const MQE_ERR_PING_TIMEOUT: mqe_status_t = -44;
/// No acknowledgement within `ack_timeout_ms`.
pub const MQE_ERR_ACK_TIMEOUT: mqe_status_t = -45;
/// A blocking helper's timeout passed before what it waits for happened.
pub const MQE_ERR_TIMEOUT: mqe_status_t = -46;

// --- protocol ---
/// The broker sent bytes that are not a valid MQTT 3.1.1 packet.
pub const MQE_ERR_MALFORMED: mqe_status_t = -50;
/// The broker sent a packet not allowed at this point.
pub const MQE_ERR_UNEXPECTED_PACKET: mqe_status_t = -51;
/// The broker acknowledged a packet id the client was not waiting for.
pub const MQE_ERR_UNKNOWN_PACKET_ID: mqe_status_t = -52;
/// The broker sent a packet larger than the rx buffer.
pub const MQE_ERR_PACKET_TOO_LARGE: mqe_status_t = -53;

// --- refused by the broker (CONNACK return codes 1..5) ---
/// CONNACK 1: unacceptable protocol version.
pub const MQE_ERR_REFUSED_PROTOCOL: mqe_status_t = -61;
/// CONNACK 2: client identifier rejected.
pub const MQE_ERR_REFUSED_ID: mqe_status_t = -62;
/// CONNACK 3: server unavailable.
pub const MQE_ERR_REFUSED_UNAVAILABLE: mqe_status_t = -63;
/// CONNACK 4: bad user name or password.
pub const MQE_ERR_REFUSED_CREDENTIALS: mqe_status_t = -64;
/// CONNACK 5: not authorized.
pub const MQE_ERR_REFUSED_NOT_AUTHORIZED: mqe_status_t = -65;

/// The status code C sees for an error of any layer.
pub(crate) fn status_of(error: Error) -> mqe_status_t {
    match error {
        Error::InvalidArgument => MQE_ERR_ARG,
        Error::InvalidUtf8 => MQE_ERR_UTF8,
        Error::InvalidTopic => MQE_ERR_TOPIC,
        Error::InvalidQos => MQE_ERR_QOS,
        Error::PasswordWithoutUsername => MQE_ERR_PASSWORD_WITHOUT_USER,
        Error::TooLarge => MQE_ERR_TOO_LARGE,
        Error::InvalidState => MQE_ERR_STATE,
        Error::Full => MQE_ERR_FULL,
        Error::Transport => MQE_ERR_TRANSPORT,
        Error::Dns => MQE_ERR_DNS,
        Error::PeerClosed => MQE_ERR_CLOSED,
        Error::ConnectTimeout => MQE_ERR_CONNECT_TIMEOUT,
        Error::PingTimeout => MQE_ERR_PING_TIMEOUT,
        Error::AckTimeout => MQE_ERR_ACK_TIMEOUT,
        Error::Malformed => MQE_ERR_MALFORMED,
        Error::UnexpectedPacket => MQE_ERR_UNEXPECTED_PACKET,
        Error::UnknownPacketId => MQE_ERR_UNKNOWN_PACKET_ID,
        Error::PacketTooLarge => MQE_ERR_PACKET_TOO_LARGE,
        // Until helper ffiapi adds MQE_ERR_RX_QOS2_FULL.
        Error::RxQos2Full => MQE_ERR_FULL,
        Error::Refused(code) => refused_status(code),
    }
}

/// The status for a CONNACK return code; codes outside 1..=5 are not valid refusals.
pub(crate) fn refused_status(code: u8) -> mqe_status_t {
    match code {
        1 => MQE_ERR_REFUSED_PROTOCOL,
        2 => MQE_ERR_REFUSED_ID,
        3 => MQE_ERR_REFUSED_UNAVAILABLE,
        4 => MQE_ERR_REFUSED_CREDENTIALS,
        5 => MQE_ERR_REFUSED_NOT_AUTHORIZED,
        _ => MQE_ERR_MALFORMED,
    }
}

/// Every status code with its text; `mqe_strerror` and the tests read this one table.
pub(crate) const STATUS_TEXTS: &[(mqe_status_t, &CStr)] = &[
    (MQE_OK, c"ok"),
    (MQE_ERR_NULL, c"NULL pointer argument"),
    (MQE_ERR_ARG, c"invalid argument"),
    (MQE_ERR_UTF8, c"string is not valid UTF-8"),
    (MQE_ERR_TOPIC, c"invalid topic name or filter"),
    (MQE_ERR_QOS, c"QoS must be 0, 1 or 2"),
    (MQE_ERR_TOO_LARGE, c"string or message too large"),
    (
        MQE_ERR_PASSWORD_WITHOUT_USER,
        c"password given without a username",
    ),
    (MQE_ERR_BUFFER, c"buffer missing or too small"),
    (
        MQE_ERR_ABI_MISMATCH,
        c"header and library were built with different capacities or features",
    ),
    (
        MQE_ERR_ALIGNMENT,
        c"client storage not aligned to MQE_CLIENT_ALIGN",
    ),
    (MQE_ERR_NOT_INIT, c"client not initialised"),
    (MQE_ERR_STATE, c"not allowed in the current state"),
    (MQE_ERR_REENTRANT, c"not allowed from a callback"),
    (
        MQE_ERR_NO_CRITICAL_SECTION,
        c"no critical section registered (mqe_set_critical_section)",
    ),
    (MQE_ERR_FULL, c"window or buffer full, try again later"),
    (MQE_ERR_TRANSPORT, c"transport error"),
    (MQE_ERR_DNS, c"host name not resolved"),
    (MQE_ERR_CLOSED, c"connection closed by the broker"),
    (MQE_ERR_CONNECT_TIMEOUT, c"connect timed out"),
    (MQE_ERR_PING_TIMEOUT, c"no PINGRESP in time"),
    (MQE_ERR_ACK_TIMEOUT, c"no acknowledgement in time"),
    (MQE_ERR_TIMEOUT, c"timed out waiting"),
    (MQE_ERR_MALFORMED, c"malformed packet from the broker"),
    (
        MQE_ERR_UNEXPECTED_PACKET,
        c"unexpected packet from the broker",
    ),
    (
        MQE_ERR_UNKNOWN_PACKET_ID,
        c"unknown packet id from the broker",
    ),
    (
        MQE_ERR_PACKET_TOO_LARGE,
        c"packet larger than the rx buffer",
    ),
    (
        MQE_ERR_REFUSED_PROTOCOL,
        c"refused: unacceptable protocol version",
    ),
    (MQE_ERR_REFUSED_ID, c"refused: identifier rejected"),
    (MQE_ERR_REFUSED_UNAVAILABLE, c"refused: server unavailable"),
    (
        MQE_ERR_REFUSED_CREDENTIALS,
        c"refused: bad user name or password",
    ),
    (MQE_ERR_REFUSED_NOT_AUTHORIZED, c"refused: not authorized"),
];

pub(crate) fn status_text(status: mqe_status_t) -> *const c_char {
    status_cstr(status).as_ptr()
}

pub(crate) fn status_cstr(status: mqe_status_t) -> &'static CStr {
    STATUS_TEXTS
        .iter()
        .find(|(code, _)| *code == status)
        .map_or(c"unknown status", |(_, text)| *text)
}

/// A broker that broke MQTT 3.1.1 (as opposed to a lost or refused connection).
pub(crate) fn is_protocol_error(status: mqe_status_t) -> bool {
    (MQE_ERR_PACKET_TOO_LARGE..=MQE_ERR_MALFORMED).contains(&status)
}
