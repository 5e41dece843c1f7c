//! Encoders: validate every argument first, then write the packet.
//!
//! Every packet is written here, with no codec crate on the runtime path: a generic encoder's
//! `Packet` enum (1.3 KB in mqttrs's no_std build) would sit on the stack and cost ~800
//! instructions per 64-byte PUBLISH. The unit tests check the bytes against the spec and against
//! mqttrs (a dev-dependency only). `out` is checked against the exact packet length first, and
//! every write is bounds-checked, so a short buffer is `Full`, never a panic.

use super::packet_type::{CONNECT, DISCONNECT, PINGREQ, PUBACK, PUBCOMP, PUBLISH, PUBREC, PUBREL};
use super::topic::{validate_topic_filter, validate_topic_name, validate_utf8};
use super::{QoS, MAX_REMAINING_LEN, MAX_STRING_LEN};
use crate::bytes::{copy_into, move_within};
use crate::error::Error;

/// The DUP bit of a PUBLISH first byte; set when a stored packet is re-sent.
pub const PUBLISH_DUP_FLAG: u8 = 0x08;

const SUBSCRIBE_FIRST_BYTE: u8 = 0x82;
const UNSUBSCRIBE_FIRST_BYTE: u8 = 0xA2;
/// Protocol name (2+4), level, connect flags, keep-alive (§3.1.2).
const CONNECT_VARIABLE_HEADER_LEN: usize = 10;
/// Protocol name "MQTT" as a length-prefixed string, then protocol level 4 (§3.1.2.1-2).
const CONNECT_PROTOCOL: [u8; 7] = [0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04];
/// Connect flags (§3.1.2.3); bit 0 is reserved and stays 0.
const CONNECT_CLEAN_SESSION: u8 = 0x02;
#[cfg(feature = "will")]
const CONNECT_WILL: u8 = 0x04;
#[cfg(feature = "will")]
const CONNECT_WILL_QOS_SHIFT: u8 = 3;
#[cfg(feature = "will")]
const CONNECT_WILL_RETAIN: u8 = 0x20;
const CONNECT_PASSWORD: u8 = 0x40;
const CONNECT_USERNAME: u8 = 0x80;
const ACK_LEN: usize = 4;

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

/// A remaining length on the wire (§2.2.3): 7 bits a byte, low bits first, the continuation
/// bit on all but the last; returns the bytes and how many are used (1..=4 for valid lengths).
fn remaining_len_encoded(rem: usize) -> ([u8; 4], usize) {
    let mut bytes = [0u8; 4];
    let mut used = 0;
    let mut x = rem;
    for byte in bytes.iter_mut() {
        *byte = (x % 128) as u8;
        x /= 128;
        used += 1;
        if x == 0 {
            break;
        }
        *byte |= 0x80;
    }
    (bytes, used)
}

/// The whole packet's length for a remaining length `rem`; `TooLarge` above 268,435,455.
pub fn packet_len(rem: usize) -> Result<usize, Error> {
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

/// Validates a CONNECT and returns its length on the wire.
///
/// Client id: UTF-8 without U+0000, <= 65,535 bytes, empty only with clean session
/// (`InvalidArgument`, §3.1.3.1). Password needs a username (`PasswordWithoutUsername`).
/// Will topic must be a valid topic name; will payload <= 65,535 bytes.
// Inlined: a frame less between mqe_init's option checks and the UTF-8 check (stack budget).
#[inline(always)]
pub fn connect_len(c: &ConnectFields) -> Result<usize, Error> {
    packet_len(connect_remaining_len(c)?)
}

/// `connect_len`'s checks; returns the remaining length.
fn connect_remaining_len(c: &ConnectFields) -> Result<usize, Error> {
    validate_utf8(c.client_id.as_bytes())?;
    if c.client_id.is_empty() && !c.clean_session {
        return Err(Error::InvalidArgument);
    }
    // At most five fields of at most 65,537 bytes each: these sums cannot overflow, so they
    // saturate instead of checking (no slice of parts on the stack: mqe_init's budget).
    let mut rem = CONNECT_VARIABLE_HEADER_LEN.saturating_add(field_len(c.client_id.len())?);
    // Without the `will` feature the will's code is not built, and a will is refused.
    #[cfg(not(feature = "will"))]
    if c.will.is_some() {
        return Err(Error::InvalidArgument);
    }
    #[cfg(feature = "will")]
    if let Some(will) = &c.will {
        validate_topic_name(will.topic)?;
        rem = rem
            .saturating_add(field_len(will.topic.len())?)
            .saturating_add(field_len(will.payload.len())?);
    }
    if let Some(username) = c.username {
        validate_utf8(username.as_bytes())?;
        rem = rem.saturating_add(field_len(username.len())?);
    }
    if let Some(password) = c.password {
        if c.username.is_none() {
            return Err(Error::PasswordWithoutUsername);
        }
        rem = rem.saturating_add(field_len(password.len())?);
    }
    Ok(rem)
}

/// Encodes a CONNECT (§3.1) after `connect_len`'s checks: protocol "MQTT", level 4, the
/// connect flags, keep-alive, then client id, will topic and message, username, password, each
/// present only when its flag is set.
pub fn encode_connect(out: &mut [u8], c: &ConnectFields) -> Result<usize, Error> {
    let rem = connect_remaining_len(c)?;
    let len = packet_len(rem)?;
    let Some(packet) = out.get_mut(..len) else {
        return Err(Error::Full);
    };
    let mut flags = 0;
    if c.clean_session {
        flags |= CONNECT_CLEAN_SESSION;
    }
    #[cfg(feature = "will")]
    if let Some(will) = &c.will {
        flags |= CONNECT_WILL | ((will.qos as u8) << CONNECT_WILL_QOS_SHIFT);
        if will.retain {
            flags |= CONNECT_WILL_RETAIN;
        }
    }
    if c.username.is_some() {
        flags |= CONNECT_USERNAME;
    }
    if c.password.is_some() {
        flags |= CONNECT_PASSWORD;
    }
    let mut w = Writer {
        out: packet,
        pos: 0,
    };
    w.fixed_header(CONNECT << 4, rem);
    w.put(&CONNECT_PROTOCOL);
    w.byte(flags);
    w.put(&c.keep_alive_s.to_be_bytes());
    w.field(c.client_id.as_bytes())?;
    #[cfg(feature = "will")]
    if let Some(will) = &c.will {
        w.field(will.topic.as_bytes())?;
        w.field(will.payload)?;
    }
    if let Some(username) = c.username {
        w.field(username.as_bytes())?;
    }
    if let Some(password) = c.password {
        w.field(password)?;
    }
    w.finish(len)
}

/// Validates the topic and returns the length of a PUBLISH with `payload_len` bytes of payload.
pub fn publish_len(topic: &str, payload_len: usize, qos: QoS) -> Result<usize, Error> {
    packet_len(publish_remaining_len(topic, payload_len, qos)?)
}

/// Validates the topic and returns a PUBLISH's remaining length (not yet checked against the
/// 4-byte limit: `packet_len` does that).
fn publish_remaining_len(topic: &str, payload_len: usize, qos: QoS) -> Result<usize, Error> {
    validate_topic_name(topic)?;
    publish_remaining_len_of(topic.len(), payload_len, qos)
}

fn publish_remaining_len_of(
    topic_len: usize,
    payload_len: usize,
    qos: QoS,
) -> Result<usize, Error> {
    let id_len = if qos == QoS::AtMostOnce { 0 } else { 2 };
    field_len(topic_len)?
        .checked_add(id_len)
        .and_then(|n| n.checked_add(payload_len))
        .ok_or(Error::TooLarge)
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
    validate_topic_name(topic)?;
    encode_publish_prechecked(out, topic, payload, qos, retain, dup, packet_id)
}

/// `encode_publish` for a topic the caller has just validated (with `publish_len` or
/// `validate_topic_name`), so the per-message path checks it once; everything else is still
/// checked here.
pub fn encode_publish_prechecked(
    out: &mut [u8],
    topic: &str,
    payload: &[u8],
    qos: QoS,
    retain: bool,
    dup: bool,
    packet_id: u16,
) -> Result<usize, Error> {
    let rem = publish_remaining_len_of(topic.len(), payload.len(), qos)?;
    let len = packet_len(rem)?;
    let id_len = match (qos, packet_id) {
        (QoS::AtMostOnce, 0) if !dup => 0,
        (QoS::AtLeastOnce | QoS::ExactlyOnce, 1..) => 2,
        _ => return Err(Error::InvalidArgument),
    };
    let Some(packet) = out.get_mut(..len) else {
        return Err(Error::Full);
    };
    // Checked by publish_remaining_len_of; this only restates it as a u16.
    let topic_len = u16::try_from(topic.len()).map_err(|_| Error::TooLarge)?;
    let first = (PUBLISH << 4) | (u8::from(dup) << 3) | ((qos as u8) << 1) | u8::from(retain);
    let mut w = Writer {
        out: packet,
        pos: 0,
    };
    w.fixed_header(first, rem);
    // Single bytes are stored directly: a slice copy is a call at opt-level "s".
    let [topic_hi, topic_lo] = topic_len.to_be_bytes();
    w.byte(topic_hi);
    w.byte(topic_lo);
    w.put(topic.as_bytes());
    if id_len > 0 {
        let [id_hi, id_lo] = packet_id.to_be_bytes();
        w.byte(id_hi);
        w.byte(id_lo);
    }
    w.put(payload);
    w.finish(len)
}

/// Writes into `out` from a logical position, remembering how far it would have gone even
/// when `out` ends first, so one pass both validates and measures.
struct Writer<'o> {
    out: &'o mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.out.get_mut(self.pos..) {
            // A miss leaves the rest unwritten; `finish` or the caller's length check sees it.
            copy_into(dst, bytes);
        }
        self.pos = self.pos.saturating_add(bytes.len());
    }

    fn byte(&mut self, byte: u8) {
        if let Some(dst) = self.out.get_mut(self.pos) {
            *dst = byte;
        }
        self.pos = self.pos.saturating_add(1);
    }

    /// A length-prefixed string or binary field (§1.5.3); `TooLarge` above 65,535 bytes.
    fn field(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let len = u16::try_from(bytes.len()).map_err(|_| Error::TooLarge)?;
        let [hi, lo] = len.to_be_bytes();
        self.byte(hi);
        self.byte(lo);
        self.put(bytes);
        Ok(())
    }

    /// The first byte and the remaining length (§2.2).
    fn fixed_header(&mut self, first: u8, rem: usize) {
        self.byte(first);
        let (rem_bytes, rem_len) = remaining_len_encoded(rem);
        for &byte in rem_bytes.iter().take(rem_len) {
            self.byte(byte);
        }
    }

    /// Exactly `len` bytes written, or the length arithmetic disagrees: never put that on the
    /// wire.
    fn finish(self, len: usize) -> Result<usize, Error> {
        if self.pos == len && self.out.len() >= len {
            Ok(len)
        } else {
            Err(Error::InvalidArgument)
        }
    }
}

/// SUBSCRIBE/UNSUBSCRIBE in one pass over a (possibly non-Clone) iterator: the body is written
/// after a provisional 1-byte length, then moved right if the length needs more bytes.
/// Returns the packet length and whether it was written (false: `out` too small).
/// The iterator is `dyn`: one copy of this function serves every caller's iterator type
/// (generic, it was six copies, 2.4 KB of flash).
fn encode_filter_list(
    out: &mut [u8],
    first_byte: u8,
    packet_id: u16,
    filters: &mut dyn Iterator<Item = (&str, Option<QoS>)>,
) -> Result<(usize, bool), Error> {
    const BODY_START: usize = 2;
    let mut w = Writer {
        out,
        pos: BODY_START,
    };
    let [id_hi, id_lo] = packet_id.to_be_bytes();
    w.byte(id_hi);
    w.byte(id_lo);
    let mut any = false;
    for (filter, qos) in filters {
        validate_topic_filter(filter)?;
        w.field(filter.as_bytes())?;
        if let Some(qos) = qos {
            w.byte(qos as u8);
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
    // Fits: total = 1 + len_bytes + rem >= BODY_START + rem, and packet.len() == total; a miss
    // means the length arithmetic disagrees.
    let body_end = BODY_START.saturating_add(rem);
    let shifted_start = BODY_START.saturating_add(len_bytes.saturating_sub(1));
    if !move_within(packet, BODY_START, body_end, shifted_start) {
        return Err(Error::InvalidArgument);
    }
    if let Some(first) = packet.first_mut() {
        *first = first_byte;
    }
    let (rem_bytes, _) = remaining_len_encoded(rem);
    for (dst, &src) in packet
        .iter_mut()
        .skip(1)
        .zip(rem_bytes.iter().take(len_bytes))
    {
        *dst = src;
    }
    Ok((total, true))
}

/// Validates the filters and returns the SUBSCRIBE's length; an empty list is `InvalidArgument`.
pub fn subscribe_len<'f, I: Iterator<Item = (&'f str, QoS)>>(filters: I) -> Result<usize, Error> {
    encode_filter_list(
        &mut [],
        SUBSCRIBE_FIRST_BYTE,
        1,
        &mut filters.map(|(f, q)| (f, Some(q))),
    )
    .map(|(total, _)| total)
}

/// Encodes a SUBSCRIBE (first byte 0x82); `packet_id` 0 is `InvalidArgument`.
// Inlined into its two callers (a request, a renewal): a frame less above the list encoder on
// the deepest paths of mqe_subscribe and mqe_poll (stack budget).
#[inline(always)]
pub fn encode_subscribe<'f, I: Iterator<Item = (&'f str, QoS)>>(
    out: &mut [u8],
    packet_id: u16,
    filters: I,
) -> Result<usize, Error> {
    if packet_id == 0 {
        return Err(Error::InvalidArgument);
    }
    let mut filters = filters.map(|(f, q)| (f, Some(q)));
    match encode_filter_list(out, SUBSCRIBE_FIRST_BYTE, packet_id, &mut filters)? {
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
        &mut filters.map(|f| (f, None)),
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
    let mut filters = filters.map(|f| (f, None));
    match encode_filter_list(out, UNSUBSCRIBE_FIRST_BYTE, packet_id, &mut filters)? {
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
    if packet_id == 0 {
        return Err(Error::InvalidArgument);
    }
    let first = match kind {
        AckKind::Puback => PUBACK << 4,
        AckKind::Pubrec => PUBREC << 4,
        AckKind::Pubrel => (PUBREL << 4) | 0b0010, // §3.6.1: reserved flags 0010
        AckKind::Pubcomp => PUBCOMP << 4,
    };
    let [hi, lo] = packet_id.to_be_bytes();
    match out.first_chunk_mut::<ACK_LEN>() {
        Some(dst) => {
            *dst = [first, 2, hi, lo];
            Ok(ACK_LEN)
        }
        None => Err(Error::Full),
    }
}

/// A packet that is only its fixed header, remaining length 0.
fn encode_header_only(out: &mut [u8], first: u8) -> Result<usize, Error> {
    match out.first_chunk_mut::<2>() {
        Some(dst) => {
            *dst = [first, 0];
            Ok(2)
        }
        None => Err(Error::Full),
    }
}

/// Encodes PINGREQ: C0 00 (§3.12).
pub fn encode_pingreq(out: &mut [u8]) -> Result<usize, Error> {
    encode_header_only(out, PINGREQ << 4)
}

/// Encodes DISCONNECT: E0 00 (§3.14).
pub fn encode_disconnect(out: &mut [u8]) -> Result<usize, Error> {
    encode_header_only(out, DISCONNECT << 4)
}

#[cfg(test)]
mod tests;
