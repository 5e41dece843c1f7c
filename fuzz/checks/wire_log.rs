//! What the client sent, checked packet by packet, and the ledger of accepted QoS 1/2
//! messages that must never vanish. Also a well-behaved broker's answers, and the broker
//! packets the targets inject.

use std::collections::BTreeMap;

use super::client_decoder::{decode, ClientPacket, Decoded};

/// The bytes one connection carried from the client, re-decoded strictly as they arrive.
#[derive(Default)]
pub struct WireLog {
    pending: Vec<u8>,
    connect_seen: bool,
    disconnect_seen: bool,
    /// Every packet of this connection, for the broker to answer.
    pub unanswered: Vec<ClientPacket>,
}

impl WireLog {
    /// A new connection starts: bytes cut off by the end of the last one are forgotten.
    pub fn new_connection(&mut self) {
        *self = WireLog::default();
    }

    /// Appends bytes the client sent; returns the packets they completed.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<ClientPacket> {
        self.pending.extend_from_slice(bytes);
        let mut packets = Vec::new();
        loop {
            match decode(&self.pending) {
                Ok(Decoded::Incomplete) => break,
                Ok(Decoded::Packet(packet, len)) => {
                    self.pending.drain(..len);
                    self.check_order(&packet);
                    if super::trace_on() {
                        eprintln!("  client sent {packet:?}");
                    }
                    self.unanswered.push(packet.clone());
                    packets.push(packet);
                }
                Err(why) => panic!(
                    "the client sent invalid MQTT 3.1.1 ({why}): {:02X?}",
                    &self.pending[..self.pending.len().min(64)]
                ),
            }
        }
        packets
    }

    /// The whole packets the client has queued but not yet sent: the partial packet `feed`
    /// holds, completed by `unsent` (the engine's pending transmit). Nothing is recorded.
    pub fn queued(&self, unsent: &[u8]) -> Vec<ClientPacket> {
        let mut bytes = self.pending.clone();
        bytes.extend_from_slice(unsent);
        let mut packets = Vec::new();
        let mut rest = bytes.as_slice();
        while let Ok(Decoded::Packet(packet, len)) = decode(rest) {
            packets.push(packet);
            rest = &rest[len..];
        }
        packets
    }

    fn check_order(&mut self, packet: &ClientPacket) {
        assert!(!self.disconnect_seen, "{packet:?} sent after DISCONNECT");
        let is_connect = matches!(packet, ClientPacket::Connect { .. });
        assert_eq!(
            is_connect, !self.connect_seen,
            "CONNECT must be the first packet and only the first: {packet:?}"
        );
        self.connect_seen = true;
        self.disconnect_seen = matches!(packet, ClientPacket::Disconnect);
    }
}

/// One QoS 1/2 message `publish` accepted.
#[derive(Debug)]
struct Accepted {
    topic: String,
    payload: Vec<u8>,
    qos: u8,
    retain: bool,
    /// Its PUBLISH went out whole on some connection: a re-send must carry DUP.
    ever_sent: bool,
    /// The connection number its PUBLISH or PUBREL last went out on.
    sent_on: Option<u64>,
    /// PUBREL seen: the PUBLISH must never be sent again.
    released: bool,
}

/// Accepted QoS 1/2 messages by packet id, until their completion event.
#[derive(Default)]
pub struct Ledger {
    accepted: BTreeMap<u16, Accepted>,
    /// Completed messages whose PUBLISH or PUBREL may still sit in tx: a broker that acks
    /// before it has received the packet makes the client send it after completion.
    retired: BTreeMap<u16, Accepted>,
    connection: u64,
}

impl Ledger {
    pub fn len(&self) -> usize {
        self.accepted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.accepted.is_empty()
    }

    pub fn ids(&self) -> Vec<u16> {
        self.accepted.keys().copied().collect()
    }

    pub fn contains(&self, id: u16) -> bool {
        self.accepted.contains_key(&id)
    }

    pub fn clear(&mut self) {
        self.accepted.clear();
        self.retired.clear();
    }

    pub fn new_connection(&mut self) {
        self.connection += 1;
    }

    pub fn accept(&mut self, id: u16, topic: &str, payload: &[u8], qos: u8, retain: bool) {
        assert!(id != 0, "publish accepted with packet id 0");
        assert!(qos == 1 || qos == 2, "QoS {qos} got a packet id");
        let old = self.accepted.insert(
            id,
            Accepted {
                topic: topic.to_string(),
                payload: payload.to_vec(),
                qos,
                retain,
                ever_sent: false,
                sent_on: None,
                released: false,
            },
        );
        assert!(
            old.is_none(),
            "packet id {id} handed out while still in flight"
        );
        self.retired.remove(&id);
    }

    pub fn complete(&mut self, id: u16) {
        let Some(done) = self.accepted.remove(&id) else {
            panic!("completion event for packet id {id}, which is not in flight");
        };
        self.retired.insert(id, done);
    }

    /// Checks one packet the client sent against what was accepted.
    pub fn on_sent(&mut self, packet: &ClientPacket) {
        let connection = self.connection;
        match packet {
            ClientPacket::Publish {
                dup,
                qos,
                retain,
                topic,
                packet_id,
                payload,
            } if *qos > 0 => {
                let Some(a) = self.accepted.get_mut(packet_id) else {
                    let Some(r) = self.retired.get(packet_id) else {
                        panic!("PUBLISH with packet id {packet_id}, which was never accepted");
                    };
                    assert_eq!(
                        (&r.topic, &r.payload),
                        (topic, payload),
                        "stale PUBLISH differs"
                    );
                    return;
                };
                assert_eq!(
                    (&a.topic, &a.payload, a.qos, a.retain),
                    (topic, payload, *qos, *retain),
                    "PUBLISH {packet_id} differs from what was accepted"
                );
                assert!(!a.released, "PUBLISH {packet_id} re-sent after its PUBREL");
                assert!(
                    *dup || !a.ever_sent,
                    "re-sent PUBLISH {packet_id} without DUP"
                );
                assert_ne!(
                    a.sent_on,
                    Some(connection),
                    "PUBLISH {packet_id} sent twice on one connection"
                );
                a.ever_sent = true;
                a.sent_on = Some(connection);
            }
            ClientPacket::Pubrel(id) => {
                let Some(a) = self.accepted.get_mut(id) else {
                    assert!(
                        self.retired.contains_key(id),
                        "PUBREL {id}, which was never accepted"
                    );
                    return;
                };
                assert_eq!(a.qos, 2, "PUBREL for QoS 1 message {id}");
                a.released = true;
                a.sent_on = Some(connection);
            }
            ClientPacket::Subscribe { packet_id, .. }
            | ClientPacket::Unsubscribe { packet_id, .. } => {
                assert!(
                    !self.accepted.contains_key(packet_id),
                    "(UN)SUBSCRIBE reuses packet id {packet_id} of a message in flight"
                );
            }
            _ => {}
        }
    }
}

/// A fixed header (type and flags in `first`) and `body`, as one packet.
pub fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    let mut len = body.len();
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

pub fn ack(first: u8, id: u16) -> Vec<u8> {
    packet(first, &id.to_be_bytes())
}

pub fn connack(session_present: bool, code: u8) -> Vec<u8> {
    packet(0x20, &[u8::from(session_present), code])
}

pub fn suback(id: u16, codes: &[u8]) -> Vec<u8> {
    packet(0x90, &[&id.to_be_bytes()[..], codes].concat())
}

/// A PUBLISH from the broker; `flags` is the low nibble as sent (it may be invalid).
pub fn publish(flags: u8, topic: &[u8], id: u16, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    body.extend_from_slice(topic);
    if flags & 0b0110 != 0 {
        body.extend_from_slice(&id.to_be_bytes());
    }
    body.extend_from_slice(payload);
    packet(0x30 | (flags & 0x0F), &body)
}

/// What a well-behaved broker answers to one client packet.
pub fn broker_reply(packet: &ClientPacket, session_present: bool) -> Vec<u8> {
    match packet {
        ClientPacket::Connect { clean_session, .. } => {
            connack(session_present && !clean_session, 0)
        }
        ClientPacket::Publish {
            qos: 1, packet_id, ..
        } => ack(0x40, *packet_id),
        ClientPacket::Publish {
            qos: 2, packet_id, ..
        } => ack(0x50, *packet_id),
        ClientPacket::Pubrel(id) => ack(0x70, *id),
        ClientPacket::Subscribe { packet_id, filters } => {
            let codes: Vec<u8> = filters.iter().map(|(_, qos)| *qos).collect();
            suback(*packet_id, &codes)
        }
        ClientPacket::Unsubscribe { packet_id, .. } => ack(0xB0, *packet_id),
        ClientPacket::Pingreq => vec![0xD0, 0x00],
        _ => Vec::new(),
    }
}
