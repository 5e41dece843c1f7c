//! MQTT 3.1.1 on the wire: strict framing, strict decoding of what a broker may send,
//! validating encoders, and topic names/filters.
//!
//! Every packet is framed, decoded and encoded here, by the spec, with no codec crate at run
//! time and no panic path. mqttrs 0.4.1 is a dev-dependency: the unit tests use it as the
//! reference codec and check that it writes and reads the same bytes.

use crate::error::Error;

mod decode;
mod encode;
mod frame;
mod publish_head;
mod topic;

pub use decode::{decode, Packet};
pub use encode::{
    connect_len, encode_ack, encode_connect, encode_disconnect, encode_pingreq, encode_publish,
    encode_publish_prechecked, encode_subscribe, encode_unsubscribe, packet_len, publish_len,
    subscribe_len, unsubscribe_len, AckKind, ConnectFields, Will, PUBLISH_DUP_FLAG,
};
pub use frame::{frame, Frame};
pub use publish_head::{publish_head, PublishHead};
pub use topic::{topic_matches, validate_topic_filter, validate_topic_name, validate_utf8};

/// The largest remaining length a 4-byte variable length can carry (§2.2.3).
pub const MAX_REMAINING_LEN: usize = 268_435_455;
/// The largest UTF-8 string or binary field (a 2-byte length prefix, §1.5.3).
pub const MAX_STRING_LEN: usize = 65_535;

/// Quality of service of a PUBLISH or a subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum QoS {
    AtMostOnce = 0,
    AtLeastOnce = 1,
    ExactlyOnce = 2,
}

impl QoS {
    /// 0, 1 or 2; anything else is `InvalidQos`.
    pub fn from_u8(v: u8) -> Result<QoS, Error> {
        match v {
            0 => Ok(QoS::AtMostOnce),
            1 => Ok(QoS::AtLeastOnce),
            2 => Ok(QoS::ExactlyOnce),
            _ => Err(Error::InvalidQos),
        }
    }
}

#[cfg(all(test, feature = "will"))]
impl QoS {
    /// The reference codec's QoS, for the tests that compare bytes with mqttrs.
    pub(crate) fn to_mqttrs(self) -> mqttrs::QoS {
        match self {
            QoS::AtMostOnce => mqttrs::QoS::AtMostOnce,
            QoS::AtLeastOnce => mqttrs::QoS::AtLeastOnce,
            QoS::ExactlyOnce => mqttrs::QoS::ExactlyOnce,
        }
    }
}

/// Control packet types (the high nibble of the first byte, §2.2.1).
mod packet_type {
    pub const CONNECT: u8 = 1;
    pub const CONNACK: u8 = 2;
    pub const PUBLISH: u8 = 3;
    pub const PUBACK: u8 = 4;
    pub const PUBREC: u8 = 5;
    pub const PUBREL: u8 = 6;
    pub const PUBCOMP: u8 = 7;
    pub const SUBSCRIBE: u8 = 8;
    pub const SUBACK: u8 = 9;
    pub const UNSUBSCRIBE: u8 = 10;
    pub const UNSUBACK: u8 = 11;
    pub const PINGREQ: u8 = 12;
    pub const PINGRESP: u8 = 13;
    pub const DISCONNECT: u8 = 14;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qos_from_u8() {
        assert_eq!(QoS::from_u8(0), Ok(QoS::AtMostOnce));
        assert_eq!(QoS::from_u8(1), Ok(QoS::AtLeastOnce));
        assert_eq!(QoS::from_u8(2), Ok(QoS::ExactlyOnce));
        assert_eq!(QoS::from_u8(3), Err(Error::InvalidQos));
        assert_eq!(QoS::from_u8(255), Err(Error::InvalidQos));
        assert_eq!(QoS::ExactlyOnce as u8, 2);
    }
}
