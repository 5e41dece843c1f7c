//! Encoders: validate every argument first, then write the packet.
//!
//! CONNECT, PUBLISH, the acks, PINGREQ and DISCONNECT go through `mqttrs::encode_slice`;
//! SUBSCRIBE and UNSUBSCRIBE are written here (mqttrs's no_std types cap them at 5 filters of
//! 256 bytes). `out` is always checked against the exact packet length before mqttrs writes,
//! so mqttrs never runs short (its `write_u8` indexes without a check).

use super::topic::{validate_topic_filter, validate_topic_name, validate_utf8};
use super::{QoS, MAX_REMAINING_LEN, MAX_STRING_LEN};
use crate::error::Error;
use mqttrs::Pid;

/// The DUP bit of a PUBLISH first byte; set when a stored packet is re-sent.
pub const PUBLISH_DUP_FLAG: u8 = 0x08;

const SUBSCRIBE_FIRST_BYTE: u8 = 0x82;
const UNSUBSCRIBE_FIRST_BYTE: u8 = 0xA2;
/// Protocol name (2+4), level, connect flags, keep-alive (§3.1.2).
const CONNECT_VARIABLE_HEADER_LEN: usize = 10;
const ACK_LEN: usize = 4;
const EMPTY_PACKET_LEN: usize = 2;

/// The last will (§3.1.2.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Will<'a> {
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub qos: QoS,
    pub retain: bool,
}

/// Everything a CONNECT carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectFields<'a> {
    pub client_id: &'a str,
    pub keep_alive_s: u16,
    pub clean_session: bool,
    pub username: Option<&'a str>,
    pub password: Option<&'a [u8]>,
    pub will: Option<Will<'a>>,
}

/// Bytes a remaining length takes (1..=4); `TooLarge` above 268,435,455 (§2.2.3).
fn remaining_len_bytes(rem: usize) -> Result<usize, Error> {
    match rem {
        0..=127 => Ok(1),
        128..=16_383 => Ok(2),
        16_384..=2_097_151 => Ok(3),
        2_097_152..=MAX_REMAINING_LEN => Ok(4),
        _ => Err(Error::TooLarge),
    }
}

/// The whole packet's length for a remaining length `rem`.
fn packet_len(rem: usize) -> Result<usize, Error> {
    // rem <= 268,435,455 here, so the sum cannot overflow even a 32-bit usize.
    Ok(1 + remaining_len_bytes(rem)? + rem)
}

/// A length-prefixed field's size on the wire (string or binary data).
fn field_len(len: usize) -> Result<usize, Error> {
    if len > MAX_STRING_LEN {
        return Err(Error::TooLarge);
    }
    Ok(2 + len)
}

/// Adds field sizes without overflow; an overflow is a packet that can never be sent.
fn sum(parts: &[usize]) -> Result<usize, Error> {
    parts
        .iter()
        .try_fold(0usize, |acc, &p| acc.checked_add(p))
        .ok_or(Error::TooLarge)
}

/// Runs mqttrs's encoder once `out` is known to hold `expected` bytes, and insists it wrote
/// exactly that many (a disagreement would put a corrupt packet on the wire).
fn encode_with_mqttrs(
    out: &mut [u8],
    packet: &mqttrs::Packet,
    expected: usize,
) -> Result<usize, Error> {
    if out.len() < expected {
        return Err(Error::Full);
    }
    match mqttrs::encode_slice(packet, out) {
        Ok(written) if written == expected => Ok(written),
        Ok(_) => Err(Error::InvalidArgument),
        Err(_) => Err(Error::Full),
    }
}

/// Validates a CONNECT and returns its length on the wire.
///
/// Client id: UTF-8 without U+0000, <= 65,535 bytes, empty only with clean session
/// (`InvalidArgument`, §3.1.3.1). Password needs a username (`PasswordWithoutUsername`).
/// Will topic must be a valid topic name; will payload <= 65,535 bytes.
pub fn connect_len(c: &ConnectFields) -> Result<usize, Error> {
    validate_utf8(c.client_id.as_bytes())?;
    if c.client_id.is_empty() && !c.clean_session {
        return Err(Error::InvalidArgument);
    }
    let mut rem = sum(&[CONNECT_VARIABLE_HEADER_LEN, field_len(c.client_id.len())?])?;
    if let Some(will) = &c.will {
        validate_topic_name(will.topic)?;
        let will_len = sum(&[field_len(will.topic.len())?, field_len(will.payload.len())?])?;
        rem = sum(&[rem, will_len])?;
    }
    if let Some(username) = c.username {
        validate_utf8(username.as_bytes())?;
        rem = sum(&[rem, field_len(username.len())?])?;
    }
    if let Some(password) = c.password {
        if c.username.is_none() {
            return Err(Error::PasswordWithoutUsername);
        }
        rem = sum(&[rem, field_len(password.len())?])?;
    }
    packet_len(rem)
}

/// Encodes a CONNECT (protocol "MQTT", level 4) after `connect_len`'s checks.
pub fn encode_connect(out: &mut [u8], c: &ConnectFields) -> Result<usize, Error> {
    let len = connect_len(c)?;
    let connect = mqttrs::Connect {
        protocol: mqttrs::Protocol::MQTT311,
        keep_alive: c.keep_alive_s,
        client_id: c.client_id,
        clean_session: c.clean_session,
        last_will: c.will.map(|w| mqttrs::LastWill {
            topic: w.topic,
            message: w.payload,
            qos: w.qos.to_mqttrs(),
            retain: w.retain,
        }),
        username: c.username,
        password: c.password,
    };
    encode_with_mqttrs(out, &mqttrs::Packet::Connect(connect), len)
}

/// Validates the topic and returns the length of a PUBLISH with `payload_len` bytes of payload.
pub fn publish_len(topic: &str, payload_len: usize, qos: QoS) -> Result<usize, Error> {
    validate_topic_name(topic)?;
    let id_len = if qos == QoS::AtMostOnce { 0 } else { 2 };
    packet_len(sum(&[field_len(topic.len())?, id_len, payload_len])?)
}

/// Encodes a PUBLISH. `packet_id` must be 0 at QoS 0 and non-zero above; DUP must be 0 at
/// QoS 0 (§3.3.1.2); both else `InvalidArgument`.
pub fn encode_publish(
    out: &mut [u8],
    topic: &str,
    payload: &[u8],
    qos: QoS,
    retain: bool,
    dup: bool,
    packet_id: u16,
) -> Result<usize, Error> {
    let len = publish_len(topic, payload.len(), qos)?;
    let qospid = match (qos, Pid::try_from(packet_id)) {
        (QoS::AtMostOnce, Err(_)) if !dup => mqttrs::QosPid::AtMostOnce,
        (QoS::AtLeastOnce, Ok(pid)) => mqttrs::QosPid::AtLeastOnce(pid),
        (QoS::ExactlyOnce, Ok(pid)) => mqttrs::QosPid::ExactlyOnce(pid),
        _ => return Err(Error::InvalidArgument),
    };
    let publish = mqttrs::Publish {
        dup,
        qospid,
        retain,
        topic_name: topic,
        payload,
    };
    encode_with_mqttrs(out, &mqttrs::Packet::Publish(publish), len)
}

/// Writes into `out` from a logical position, remembering how far it would have gone even
/// when `out` ends first, so one pass both validates and measures.
struct Writer<'o> {
    out: &'o mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.pos.saturating_add(bytes.len());
        if let Some(dst) = self.out.get_mut(self.pos..end) {
            dst.copy_from_slice(bytes);
        }
        self.pos = end;
    }
}

/// SUBSCRIBE/UNSUBSCRIBE in one pass over a (possibly non-Clone) iterator: the body is written
/// after a provisional 1-byte length, then moved right if the length needs more bytes.
/// Returns the packet length and whether it was written (false: `out` too small).
fn encode_filter_list<'f>(
    out: &mut [u8],
    first_byte: u8,
    packet_id: u16,
    filters: impl Iterator<Item = (&'f str, Option<QoS>)>,
) -> Result<(usize, bool), Error> {
    const BODY_START: usize = 2;
    let mut w = Writer {
        out,
        pos: BODY_START,
    };
    w.put(&packet_id.to_be_bytes());
    let mut any = false;
    for (filter, qos) in filters {
        validate_topic_filter(filter)?;
        let len = u16::try_from(filter.len()).map_err(|_| Error::TooLarge)?;
        w.put(&len.to_be_bytes());
        w.put(filter.as_bytes());
        if let Some(qos) = qos {
            w.put(&[qos as u8]);
        }
        any = true;
    }
    if !any {
        return Err(Error::InvalidArgument); // §3.8.3-3, §3.10.3-2: at least one filter
    }
    let rem = w.pos.saturating_sub(BODY_START);
    let total = packet_len(rem)?;
    let out = w.out;
    let len_bytes = total.saturating_sub(1).saturating_sub(rem);
    let Some(packet) = out.get_mut(..total) else {
        return Ok((total, false));
    };
    // In bounds: total = 1 + len_bytes + rem >= BODY_START + rem, and packet.len() == total.
    packet.copy_within(BODY_START..BODY_START + rem, 1 + len_bytes);
    if let Some(first) = packet.first_mut() {
        *first = first_byte;
    }
    let mut x = rem;
    for byte in packet.iter_mut().skip(1).take(len_bytes) {
        // Low 7 bits first; the continuation bit on all but the last (§2.2.3).
        *byte = (x % 128) as u8;
        x /= 128;
        if x > 0 {
            *byte |= 0x80;
        }
    }
    Ok((total, true))
}

/// Validates the filters and returns the SUBSCRIBE's length; an empty list is `InvalidArgument`.
pub fn subscribe_len<'f, I: Iterator<Item = (&'f str, QoS)>>(filters: I) -> Result<usize, Error> {
    encode_filter_list(
        &mut [],
        SUBSCRIBE_FIRST_BYTE,
        1,
        filters.map(|(f, q)| (f, Some(q))),
    )
    .map(|(total, _)| total)
}

/// Encodes a SUBSCRIBE (first byte 0x82); `packet_id` 0 is `InvalidArgument`.
pub fn encode_subscribe<'f, I: Iterator<Item = (&'f str, QoS)>>(
    out: &mut [u8],
    packet_id: u16,
    filters: I,
) -> Result<usize, Error> {
    if packet_id == 0 {
        return Err(Error::InvalidArgument);
    }
    let filters = filters.map(|(f, q)| (f, Some(q)));
    match encode_filter_list(out, SUBSCRIBE_FIRST_BYTE, packet_id, filters)? {
        (total, true) => Ok(total),
        (_, false) => Err(Error::Full),
    }
}

/// Validates the filters and returns the UNSUBSCRIBE's length; an empty list is `InvalidArgument`.
pub fn unsubscribe_len<'f, I: Iterator<Item = &'f str>>(filters: I) -> Result<usize, Error> {
    encode_filter_list(
        &mut [],
        UNSUBSCRIBE_FIRST_BYTE,
        1,
        filters.map(|f| (f, None)),
    )
    .map(|(total, _)| total)
}

/// Encodes an UNSUBSCRIBE (first byte 0xA2); `packet_id` 0 is `InvalidArgument`.
pub fn encode_unsubscribe<'f, I: Iterator<Item = &'f str>>(
    out: &mut [u8],
    packet_id: u16,
    filters: I,
) -> Result<usize, Error> {
    if packet_id == 0 {
        return Err(Error::InvalidArgument);
    }
    let filters = filters.map(|f| (f, None));
    match encode_filter_list(out, UNSUBSCRIBE_FIRST_BYTE, packet_id, filters)? {
        (total, true) => Ok(total),
        (_, false) => Err(Error::Full),
    }
}

/// The acknowledgements a client sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckKind {
    Puback,
    Pubrec,
    Pubrel,
    Pubcomp,
}

/// Encodes a 4-byte PUBACK/PUBREC/PUBREL/PUBCOMP (PUBREL's first byte is 0x62); id 0 is
/// `InvalidArgument`.
pub fn encode_ack(out: &mut [u8], kind: AckKind, packet_id: u16) -> Result<usize, Error> {
    let pid = Pid::try_from(packet_id).map_err(|_| Error::InvalidArgument)?;
    let packet = match kind {
        AckKind::Puback => mqttrs::Packet::Puback(pid),
        AckKind::Pubrec => mqttrs::Packet::Pubrec(pid),
        AckKind::Pubrel => mqttrs::Packet::Pubrel(pid),
        AckKind::Pubcomp => mqttrs::Packet::Pubcomp(pid),
    };
    encode_with_mqttrs(out, &packet, ACK_LEN)
}

/// Encodes PINGREQ: C0 00.
pub fn encode_pingreq(out: &mut [u8]) -> Result<usize, Error> {
    encode_with_mqttrs(out, &mqttrs::Packet::Pingreq, EMPTY_PACKET_LEN)
}

/// Encodes DISCONNECT: E0 00.
pub fn encode_disconnect(out: &mut [u8]) -> Result<usize, Error> {
    encode_with_mqttrs(out, &mqttrs::Packet::Disconnect, EMPTY_PACKET_LEN)
}
