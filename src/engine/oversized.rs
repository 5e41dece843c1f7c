//! Reading past an incoming PUBLISH larger than the rx buffer, so that one oversized
//! message on a subscribed topic cannot wedge the client: a persistent session would
//! re-send it after every reconnect, for ever, were the connection closed on it.
//!
//! The head (fixed header, topic, packet id) is read whole when it fits `max_rx_packet`,
//! and the topic is reported; otherwise the topic streams past too. The payload is
//! discarded as it arrives. The message is acknowledged per its QoS when its head is read.

use super::inbound::EVENT_ROOM_PER_PACKET;
use super::{Engine, Handled, Incoming, Oversized, State};
use crate::error::Error;
use crate::session::content_hash;
use crate::time::Instant;
use crate::wire::{self, AckKind, PublishHead, QoS};

/// Where the engine is in an oversized PUBLISH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Skip {
    Idle,
    /// The topic did not fit: `left` of its bytes still to discard, then the packet id.
    Topic(Head),
    /// The rest of the packet (the payload): `left` bytes to discard.
    Body {
        left: usize,
    },
}

/// What accepting an oversized head led to.
enum Accepted<'a> {
    Report(Oversized<'a>),
    /// A QoS 2 id already held: answered with PUBREC again, reported before.
    Duplicate,
    /// tx has no room for the acknowledgement (or DISCONNECT is queued): try again later.
    NoRoom,
}

/// A [`PublishHead`] in the few bytes the spec bounds it to: a topic's length is a 2-byte
/// field (§1.5.3) and it starts within 7 bytes of the packet (§2.2.3): `Skip` is 12 bytes on a
/// 32-bit target instead of 20.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Head {
    total_len: usize,
    /// Bytes of the topic still to discard.
    left: u16,
    topic_len: u16,
    topic_at: u8,
    dup: bool,
    qos: QoS,
    retain: bool,
}

impl Head {
    fn new(head: PublishHead) -> Result<Head, Error> {
        let topic_len = u16::try_from(head.topic_len).map_err(|_| Error::Malformed)?;
        Ok(Head {
            total_len: head.total_len,
            left: topic_len,
            topic_len,
            topic_at: u8::try_from(head.topic_at).map_err(|_| Error::Malformed)?,
            dup: head.dup,
            qos: head.qos,
            retain: head.retain,
        })
    }

    fn publish_head(self) -> PublishHead {
        PublishHead {
            dup: self.dup,
            qos: self.qos,
            retain: self.retain,
            total_len: self.total_len,
            topic_at: usize::from(self.topic_at),
            topic_len: usize::from(self.topic_len),
        }
    }
}

const WAIT: Handled<'static> = Handled {
    consumed: 0,
    incoming: None,
};

impl<'b> Engine<'b> {
    pub(super) fn skipping(&self) -> bool {
        self.skip != Skip::Idle
    }

    /// `input` starts with a packet larger than `max_rx_packet`: reads past it when it is a
    /// PUBLISH within `oversized_limit`, else ends the connection with `PacketTooLarge`.
    // Kept out of line: its frame must not add to the common path's stack.
    #[inline(never)]
    pub(super) fn start_oversized<'a>(
        &mut self,
        now: Instant,
        input: &'a [u8],
    ) -> Result<Handled<'a>, Error> {
        if self.state != State::Connected && self.state != State::Disconnecting {
            return Err(Error::PacketTooLarge);
        }
        let Some(head) = wire::publish_head(input, self.config.oversized_limit)? else {
            return Ok(WAIT);
        };
        let head_len = head.head_len();
        if head_len > self.config.max_rx_packet {
            // The topic cannot be held: it streams past like the payload.
            let head = Head::new(head)?;
            self.skip = Skip::Topic(head);
            self.last_received = now;
            return Ok(Handled {
                consumed: usize::from(head.topic_at),
                incoming: None,
            });
        }
        let Some(bytes) = input.get(..head_len) else {
            return Ok(WAIT);
        };
        let topic_bytes = bytes
            .get(head.topic_at..head.topic_at.saturating_add(head.topic_len))
            .ok_or(Error::Malformed)?;
        let topic = wire::validate_utf8(topic_bytes).map_err(|_| Error::Malformed)?;
        wire::validate_topic_name(topic).map_err(|_| Error::Malformed)?;
        let id_bytes = bytes.get(head.topic_at.saturating_add(head.topic_len)..);
        self.accept_head(
            now,
            head,
            Some(topic),
            id_bytes.unwrap_or_default(),
            head_len,
        )
    }

    /// Continues an oversized PUBLISH: discards what `input` holds of it.
    // Kept out of line: its frame must not add to the common path's stack.
    #[inline(never)]
    pub(super) fn continue_oversized<'a>(
        &mut self,
        now: Instant,
        input: &'a [u8],
    ) -> Result<Handled<'a>, Error> {
        match self.skip {
            Skip::Idle => Ok(WAIT),
            Skip::Topic(head) if head.left == 0 => {
                // Accepting a QoS 2 id may report evicted ids.
                if self.event_room() < EVENT_ROOM_PER_PACKET {
                    return Ok(WAIT);
                }
                let head = head.publish_head();
                let id_len = head
                    .head_len()
                    .saturating_sub(head.topic_at + head.topic_len);
                let Some(id_bytes) = input.get(..id_len) else {
                    return Ok(WAIT);
                };
                self.accept_head(now, head, None, id_bytes, id_len)
            }
            Skip::Topic(mut head) => {
                let left = usize::from(head.left);
                let n = left.min(input.len());
                if n == left && head.qos == QoS::AtMostOnce {
                    // No packet id follows: the head ends here (no ack, no event to room for).
                    return self.accept_head(now, head.publish_head(), None, &[], n);
                }
                // `n` <= `left`, a u16.
                head.left = head
                    .left
                    .saturating_sub(u16::try_from(n).unwrap_or(u16::MAX));
                self.skip = Skip::Topic(head);
                self.last_received = now;
                Ok(Handled {
                    consumed: n,
                    incoming: None,
                })
            }
            Skip::Body { left } => {
                let n = left.min(input.len());
                self.skip = if n == left {
                    Skip::Idle
                } else {
                    Skip::Body { left: left - n }
                };
                self.last_received = now;
                Ok(Handled {
                    consumed: n,
                    incoming: None,
                })
            }
        }
    }

    /// The head is read (`consumed` bytes of input, ending with `id_bytes`): acknowledge,
    /// report, and discard the payload next.
    fn accept_head<'a>(
        &mut self,
        now: Instant,
        head: PublishHead,
        topic: Option<&'a str>,
        id_bytes: &[u8],
        consumed: usize,
    ) -> Result<Handled<'a>, Error> {
        let packet_id = match (head.qos, id_bytes) {
            (QoS::AtMostOnce, _) => 0,
            (_, &[hi, lo]) if u16::from_be_bytes([hi, lo]) != 0 => u16::from_be_bytes([hi, lo]),
            _ => return Err(Error::Malformed),
        };
        let report = Oversized {
            topic,
            size: head.total_len,
            qos: head.qos,
            retain: head.retain,
            dup: head.dup,
            packet_id,
        };
        let incoming = match self.acknowledge_oversized(report)? {
            Accepted::NoRoom => return Ok(WAIT),
            Accepted::Duplicate => None,
            Accepted::Report(report) => {
                self.oversized_count = self.oversized_count.saturating_add(1);
                Some(Incoming::Oversized(report))
            }
        };
        let left = head.total_len.saturating_sub(head.head_len());
        self.skip = if left == 0 {
            Skip::Idle
        } else {
            Skip::Body { left }
        };
        self.last_received = now;
        Ok(Handled { consumed, incoming })
    }

    /// Sends PUBACK (QoS 1) or PUBREC (QoS 2, the id held until PUBREL like any other).
    fn acknowledge_oversized<'a>(&mut self, report: Oversized<'a>) -> Result<Accepted<'a>, Error> {
        let id = report.packet_id;
        if report.qos != QoS::AtMostOnce && !self.has_ack_room() {
            return Ok(Accepted::NoRoom);
        }
        match report.qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => self.encode_ack(AckKind::Puback, id)?,
            QoS::ExactlyOnce => {
                // The payload is never read: a re-send is known by topic and size instead.
                let size = u32::try_from(report.size).unwrap_or(u32::MAX).to_be_bytes();
                let hash = content_hash(report.topic.unwrap_or_default(), &size);
                if !self.receive_qos2(id, hash, report.dup)? {
                    return Ok(Accepted::Duplicate);
                }
            }
        }
        Ok(Accepted::Report(report))
    }
}
