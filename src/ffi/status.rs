//! Status codes: the numbers C sees, their texts, and the mapping from [`Error`].
//! The codes themselves are listed once, in `status_table.rs`.

use core::ffi::{c_char, CStr};

use super::types::{
    mqe_status_t, MQE_IO_ERR_NET_DOWN, MQE_IO_ERR_REFUSED, MQE_IO_ERR_RESET, MQE_IO_ERR_TIMEOUT,
    MQE_IO_ERR_TLS, MQE_IO_ERR_UNREACHABLE,
};
use crate::Error;

/// Defines each code of `status_table.rs` as a constant, and the table `mqe_strerror` and
/// the tests read.
macro_rules! status_table {
    ($($(#[doc = $doc:literal])* $name:ident = $value:literal, $text:literal;)*) => {
        $($(#[doc = $doc])* pub const $name: mqe_status_t = $value;)*

        /// Every status code with its name and text, in the order of the table.
        pub const MQE_STATUS_CODES: &[(&str, mqe_status_t, &CStr)] =
            &[$((stringify!($name), $name, $text)),*];
    };
}

include!("status_table.rs");

/// The status code C sees for an error of any layer.
pub(crate) fn status_of(error: Error) -> mqe_status_t {
    match error {
        Error::InvalidArgument => MQE_ERR_ARG,
        Error::InvalidUtf8 => MQE_ERR_UTF8,
        Error::InvalidTopic => MQE_ERR_TOPIC,
        Error::InvalidQos => MQE_ERR_QOS,
        Error::PasswordWithoutUsername => MQE_ERR_PASSWORD_WITHOUT_USER,
        Error::TooLarge => MQE_ERR_TOO_LARGE,
        Error::Unsupported => MQE_ERR_UNSUPPORTED,
        Error::NoCredentials => MQE_ERR_NO_CREDENTIALS,
        Error::InvalidState => MQE_ERR_STATE,
        Error::Full => MQE_ERR_FULL,
        Error::RxQos2Full => MQE_ERR_RX_QOS2_FULL,
        Error::Transport => MQE_ERR_TRANSPORT,
        Error::Dns => MQE_ERR_DNS,
        Error::PeerClosed => MQE_ERR_CLOSED,
        Error::ConnectTimeout => MQE_ERR_CONNECT_TIMEOUT,
        Error::PingTimeout => MQE_ERR_PING_TIMEOUT,
        Error::AckTimeout => MQE_ERR_ACK_TIMEOUT,
        Error::LinkDown => MQE_ERR_LINK_DOWN,
        Error::Malformed => MQE_ERR_MALFORMED,
        Error::UnexpectedPacket => MQE_ERR_UNEXPECTED_PACKET,
        Error::UnknownPacketId => MQE_ERR_UNKNOWN_PACKET_ID,
        Error::PacketTooLarge => MQE_ERR_PACKET_TOO_LARGE,
        Error::Refused(code) => refused_status(code),
    }
}

/// The status that names a transport's `MQE_IO_ERR_*` code; `None` for a code without detail.
pub(crate) fn io_error_status(code: i32) -> Option<mqe_status_t> {
    match code {
        MQE_IO_ERR_REFUSED => Some(MQE_ERR_CONN_REFUSED),
        MQE_IO_ERR_UNREACHABLE => Some(MQE_ERR_UNREACHABLE),
        MQE_IO_ERR_TIMEOUT => Some(MQE_ERR_NET_TIMEOUT),
        MQE_IO_ERR_RESET => Some(MQE_ERR_CONN_RESET),
        MQE_IO_ERR_NET_DOWN => Some(MQE_ERR_NET_DOWN),
        MQE_IO_ERR_TLS => Some(MQE_ERR_TLS),
        _ => None,
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

pub(crate) fn status_text(status: mqe_status_t) -> *const c_char {
    status_cstr(status).as_ptr()
}

pub(crate) fn status_cstr(status: mqe_status_t) -> &'static CStr {
    MQE_STATUS_CODES
        .iter()
        .find(|(_, code, _)| *code == status)
        .map_or(c"unknown status", |(_, _, text)| *text)
}

/// A broker that broke MQTT 3.1.1 (as opposed to a lost or refused connection).
pub(crate) fn is_protocol_error(status: mqe_status_t) -> bool {
    (MQE_ERR_PACKET_TOO_LARGE..=MQE_ERR_MALFORMED).contains(&status)
}
