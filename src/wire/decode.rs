//! Strict decoding of the packets a broker may send a client.
//!
//! Every packet is decoded here, on the exact frame, strictly by the spec: no codec crate on the
//! runtime path (mqttrs indexes without bounds checks, accepts too much, and its `decode_slice`
//! returns a 1.3 KB `Packet` by value). The tests check that mqttrs, a dev-dependency, reads
//! every frame we accept the same way.

use super::frame::parse_fixed_header;
use super::packet_type::*;
use super::topic::{validate_topic_name, validate_utf8};
use super::QoS;
use crate::error::Error;

/// The only acknowledge flag of a CONNACK (§3.2.2.1); bits 7..1 are reserved.
const CONNACK_SESSION_PRESENT: u8 = 0x01;
/// Return codes 1..=5 refuse the connection (§3.2.2.3); 6..=255 are reserved.
const CONNACK_MAX_RETURN_CODE: u8 = 5;

/// A packet received from the broker. Borrowed fields point into the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    Connack {
        session_present: bool,
        code: u8,
    },
    Publish {
        dup: bool,
        qos: QoS,
        retain: bool,
        topic: &'a str,
        /// 0 at QoS 0.
        packet_id: u16,
        payload: &'a [u8],
    },
    Puback(u16),
    Pubrec(u16),
    Pubrel(u16),
    Pubcomp(u16),
    Unsuback(u16),
    Suback {
        packet_id: u16,
        codes: &'a [u8],
    },
    Pingresp,
}

/// Decodes exactly one complete frame (its length as `frame()` reported), strictly by MQTT 3.1.1.
/// Anything wrong is `Malformed`; packets only a client sends are `UnexpectedPacket`.
pub fn decode(frame: &[u8]) -> Result<Packet<'_>, Error> {
    let header = parse_fixed_header(frame)?.ok_or(Error::Malformed)?;
    if header.total_len() != frame.len() {
        return Err(Error::Malformed);
    }
    let body = frame.get(header.header_len..).ok_or(Error::Malformed)?;
    match header.packet_type() {
        CONNACK => decode_connack(body),
        PUBLISH => decode_publish(header.flags(), body),
        PUBACK | PUBREC | PUBREL | PUBCOMP | UNSUBACK => decode_ack(header.packet_type(), body),
        SUBACK => decode_suback(body),
        PINGRESP if body.is_empty() => Ok(Packet::Pingresp),
        CONNECT | SUBSCRIBE | UNSUBSCRIBE | PINGREQ | DISCONNECT => Err(Error::UnexpectedPacket),
        _ => Err(Error::Malformed),
    }
}

/// A big-endian u16 at the front of `bytes`.
fn read_u16(bytes: &[u8]) -> Result<u16, Error> {
    match bytes {
        [hi, lo, ..] => Ok(u16::from_be_bytes([*hi, *lo])),
        _ => Err(Error::Malformed),
    }
}

/// CONNACK (§3.2): remaining length 2, acknowledge flags with only bit 0 (session present)
/// allowed, return code 0..=5; session present with a refusal breaks [MQTT-3.2.2-4].
fn decode_connack(body: &[u8]) -> Result<Packet<'_>, Error> {
    let &[flags, code] = body else {
        return Err(Error::Malformed);
    };
    if flags & !CONNACK_SESSION_PRESENT != 0 || code > CONNACK_MAX_RETURN_CODE {
        return Err(Error::Malformed);
    }
    let session_present = flags & CONNACK_SESSION_PRESENT != 0;
    if session_present && code != 0 {
        return Err(Error::Malformed);
    }
    Ok(Packet::Connack {
        session_present,
        code,
    })
}

/// PUBLISH: QoS 0..=2 and DUP=0 at QoS 0 (§3.3.1), a topic that fits and is a valid name,
/// a non-zero packet id at QoS > 0 (§2.3.1); the rest is payload.
// Inlined into `decode`, its one caller: one frame instead of two above the topic checks on
// the per-message path (stack budget).
#[inline(always)]
fn decode_publish(flags: u8, body: &[u8]) -> Result<Packet<'_>, Error> {
    let dup = flags & 0b1000 != 0;
    let retain = flags & 0b0001 != 0;
    let qos = QoS::from_u8((flags >> 1) & 0b11).map_err(|_| Error::Malformed)?;
    if qos == QoS::AtMostOnce && dup {
        return Err(Error::Malformed);
    }
    let topic_len = usize::from(read_u16(body)?);
    let after_len = body.get(2..).ok_or(Error::Malformed)?;
    let (topic_bytes, rest) = after_len
        .split_at_checked(topic_len)
        .ok_or(Error::Malformed)?;
    let topic = validate_utf8(topic_bytes).map_err(|_| Error::Malformed)?;
    validate_topic_name(topic).map_err(|_| Error::Malformed)?;
    let (packet_id, payload) = if qos == QoS::AtMostOnce {
        (0, rest)
    } else {
        let id = read_u16(rest)?;
        if id == 0 {
            return Err(Error::Malformed);
        }
        (id, rest.get(2..).ok_or(Error::Malformed)?)
    };

    Ok(Packet::Publish {
        dup,
        qos,
        retain,
        topic,
        packet_id,
        payload,
    })
}

/// PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK: remaining length 2, packet id non-zero.
fn decode_ack(packet_type: u8, body: &[u8]) -> Result<Packet<'_>, Error> {
    if body.len() != 2 {
        return Err(Error::Malformed);
    }
    let id = read_u16(body)?;
    if id == 0 {
        return Err(Error::Malformed);
    }
    match packet_type {
        PUBACK => Ok(Packet::Puback(id)),
        PUBREC => Ok(Packet::Pubrec(id)),
        PUBREL => Ok(Packet::Pubrel(id)),
        PUBCOMP => Ok(Packet::Pubcomp(id)),
        UNSUBACK => Ok(Packet::Unsuback(id)),
        _ => Err(Error::Malformed),
    }
}

/// SUBACK: packet id non-zero, at least one return code, each 0, 1, 2 or 0x80 (§3.9.3).
/// Decoded here: mqttrs's no_std SUBACK holds at most 5 codes.
fn decode_suback(body: &[u8]) -> Result<Packet<'_>, Error> {
    let packet_id = read_u16(body)?;
    let codes = body.get(2..).ok_or(Error::Malformed)?;
    if packet_id == 0 || codes.is_empty() {
        return Err(Error::Malformed);
    }
    if !codes.iter().all(|c| matches!(c, 0 | 1 | 2 | 0x80)) {
        return Err(Error::Malformed);
    }
    Ok(Packet::Suback { packet_id, codes })
}

#[cfg(test)]
mod tests;
