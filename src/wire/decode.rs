//! Strict decoding of the packets a broker may send a client.
//!
//! Every check happens here, on the exact frame, before `mqttrs::decode_slice` sees it:
//! mqttrs indexes without bounds checks and accepts too much. Its answer is then cross-checked
//! against ours, so the two can never silently disagree.

use super::frame::parse_fixed_header;
use super::packet_type::*;
use super::topic::{validate_topic_name, validate_utf8};
use super::QoS;
use crate::error::Error;

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
        CONNACK => decode_connack(frame, body),
        PUBLISH => decode_publish(frame, header.flags(), body),
        PUBACK | PUBREC | PUBREL | PUBCOMP | UNSUBACK => {
            decode_ack(frame, header.packet_type(), body)
        }
        SUBACK => decode_suback(body),
        PINGRESP if body.is_empty() => Ok(Packet::Pingresp),
        CONNECT | SUBSCRIBE | UNSUBSCRIBE | PINGREQ | DISCONNECT => Err(Error::UnexpectedPacket),
        _ => Err(Error::Malformed),
    }
}

/// mqttrs's reading of a frame we have already checked.
fn mqttrs_decode(frame: &[u8]) -> Result<mqttrs::Packet<'_>, Error> {
    match mqttrs::decode_slice(frame) {
        Ok(Some(packet)) => Ok(packet),
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

fn same_slice(a: &[u8], b: &[u8]) -> bool {
    a.as_ptr() == b.as_ptr() && a.len() == b.len()
}

/// CONNACK: remaining length 2, ack flags bits 7..1 zero, return code 0..=5 (§3.2).
fn decode_connack<'a>(frame: &'a [u8], body: &'a [u8]) -> Result<Packet<'a>, Error> {
    let &[flags, code] = body else {
        return Err(Error::Malformed);
    };
    if flags & 0xFE != 0 || code > 5 {
        return Err(Error::Malformed);
    }
    let session_present = flags & 1 == 1;
    let mqttrs::Packet::Connack(c) = mqttrs_decode(frame)? else {
        return Err(Error::Malformed);
    };
    let their_code = match c.code {
        mqttrs::ConnectReturnCode::Accepted => 0,
        mqttrs::ConnectReturnCode::RefusedProtocolVersion => 1,
        mqttrs::ConnectReturnCode::RefusedIdentifierRejected => 2,
        mqttrs::ConnectReturnCode::ServerUnavailable => 3,
        mqttrs::ConnectReturnCode::BadUsernamePassword => 4,
        mqttrs::ConnectReturnCode::NotAuthorized => 5,
    };
    if c.session_present != session_present || their_code != code {
        return Err(Error::Malformed);
    }
    Ok(Packet::Connack {
        session_present,
        code,
    })
}

/// PUBLISH: QoS 0..=2 and DUP=0 at QoS 0 (§3.3.1), a topic that fits and is a valid name,
/// a non-zero packet id at QoS > 0 (§2.3.1); the rest is payload.
fn decode_publish<'a>(frame: &'a [u8], flags: u8, body: &'a [u8]) -> Result<Packet<'a>, Error> {
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

    let mqttrs::Packet::Publish(p) = mqttrs_decode(frame)? else {
        return Err(Error::Malformed);
    };
    let their_id = p.qospid.pid().map_or(0, |pid| pid.get());
    let their_qos = match p.qospid {
        mqttrs::QosPid::AtMostOnce => QoS::AtMostOnce,
        mqttrs::QosPid::AtLeastOnce(_) => QoS::AtLeastOnce,
        mqttrs::QosPid::ExactlyOnce(_) => QoS::ExactlyOnce,
    };
    if p.dup != dup
        || p.retain != retain
        || their_qos != qos
        || their_id != packet_id
        || !same_slice(p.topic_name.as_bytes(), topic.as_bytes())
        || !same_slice(p.payload, payload)
    {
        return Err(Error::Malformed);
    }
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
fn decode_ack<'a>(frame: &'a [u8], packet_type: u8, body: &'a [u8]) -> Result<Packet<'a>, Error> {
    if body.len() != 2 {
        return Err(Error::Malformed);
    }
    let id = read_u16(body)?;
    if id == 0 {
        return Err(Error::Malformed);
    }
    let ours = match packet_type {
        PUBACK => Packet::Puback(id),
        PUBREC => Packet::Pubrec(id),
        PUBREL => Packet::Pubrel(id),
        PUBCOMP => Packet::Pubcomp(id),
        UNSUBACK => Packet::Unsuback(id),
        _ => return Err(Error::Malformed),
    };
    let agrees = match (ours, mqttrs_decode(frame)?) {
        (Packet::Puback(a), mqttrs::Packet::Puback(b))
        | (Packet::Pubrec(a), mqttrs::Packet::Pubrec(b))
        | (Packet::Pubrel(a), mqttrs::Packet::Pubrel(b))
        | (Packet::Pubcomp(a), mqttrs::Packet::Pubcomp(b))
        | (Packet::Unsuback(a), mqttrs::Packet::Unsuback(b)) => a == b.get(),
        _ => false,
    };
    if agrees {
        Ok(ours)
    } else {
        Err(Error::Malformed)
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
