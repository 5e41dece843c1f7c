//! Inputs: bytes from the broker, one packet at a time, and the transport's loss.

use super::{Engine, Event, Handled, Incoming, Message, State};
use crate::error::Error;
use crate::session::{content_hash, AckOutcome, PublishAck, SubKind};
#[cfg(feature = "qos2")]
use crate::session::{Evicted, Verdict};
use crate::time::Instant;
use crate::wire::{self, AckKind, Frame, Packet, QoS};

/// Events one packet can emit at most (Connected + SessionLost, or Disconnected) plus
/// one spare: `handle_bytes` waits for this much room instead of dropping events.
pub(super) const EVENT_ROOM_PER_PACKET: usize = 3;
const _: () = assert!(crate::config::EVENT_QUEUE > EVENT_ROOM_PER_PACKET);
const ACK_LEN: usize = 4;
/// A SUBACK return code: the broker refused that filter (§3.9.3).
const SUBACK_FAILURE: u8 = 0x80;

/// The outcome of one decoded packet.
enum Step<'a> {
    Handled(Option<Incoming<'a>>),
    /// tx has no room for the reply: nothing changed, try again later.
    NoRoom,
}

impl<'b> Engine<'b> {
    /// The transport is gone (or the client gave up): -> Disconnected, emits
    /// Disconnected{Some(reason)}, drops tx bytes, marks stored packets for re-send.
    pub fn connection_lost(&mut self, _now: Instant, reason: Error) {
        if self.state != State::Disconnected {
            self.finish(Some(reason));
        }
    }

    /// Handles at most one packet from the front of `input`. consumed == 0 with no
    /// incoming: more bytes are needed, or tx / the event queue must be drained first.
    /// Bad input ends the connection (Event::Disconnected with the reason) and consumes
    /// all of `input`.
    pub fn handle_bytes<'a>(&mut self, now: Instant, input: &'a [u8]) -> Handled<'a> {
        const WAIT: Handled<'static> = Handled {
            consumed: 0,
            incoming: None,
        };
        if self.state == State::Disconnected {
            // Bytes from a connection already closed mean nothing.
            return Handled {
                consumed: input.len(),
                incoming: None,
            };
        }
        let bad = |engine: &mut Self, reason: Error| {
            engine.finish(Some(reason));
            Handled {
                consumed: input.len(),
                incoming: None,
            }
        };
        if self.skipping() {
            return self
                .continue_oversized(now, input)
                .unwrap_or_else(|e| bad(self, e));
        }
        if self.event_room() < EVENT_ROOM_PER_PACKET {
            return WAIT;
        }
        let total_len = match wire::frame(input, self.config.max_rx_packet) {
            Ok(Frame::Incomplete) => return WAIT,
            Ok(Frame::Complete { total_len }) => total_len,
            Err(Error::PacketTooLarge) => {
                return self
                    .start_oversized(now, input)
                    .unwrap_or_else(|e| bad(self, e));
            }
            Err(e) => return bad(self, e),
        };
        let Some(bytes) = input.get(..total_len) else {
            return WAIT;
        };
        let packet = match wire::decode(bytes) {
            Ok(p) => p,
            Err(e) => return bad(self, e),
        };
        match self.handle_packet(now, packet) {
            Ok(Step::Handled(incoming)) => {
                self.last_received = now;
                Handled {
                    consumed: total_len,
                    incoming,
                }
            }
            Ok(Step::NoRoom) => WAIT,
            Err(e) => bad(self, e),
        }
    }

    // Called once: inlined, so that its frame and handle_bytes' are one (stack budget).
    #[inline(always)]
    fn handle_packet<'a>(&mut self, now: Instant, packet: Packet<'a>) -> Result<Step<'a>, Error> {
        if self.state == State::AwaitConnack {
            return match packet {
                Packet::Connack {
                    session_present,
                    code,
                } => {
                    self.on_connack(now, session_present, code)?;
                    // Here, not in on_connack: its frame must not add to flush's (stack budget).
                    self.flush(now);
                    Ok(Step::Handled(None))
                }
                _ => Err(Error::UnexpectedPacket),
            };
        }
        let needs_reply = match packet {
            Packet::Publish { qos, .. } => qos != QoS::AtMostOnce,
            Packet::Pubrec(_) | Packet::Pubrel(_) => true,
            _ => false,
        };
        // Nothing may follow DISCONNECT on the wire (§3.14.4): once it is queued, a packet
        // that needs a reply waits, unread, for the connection to end.
        if needs_reply && !self.has_ack_room() {
            return Ok(Step::NoRoom);
        }
        let incoming = match packet {
            Packet::Connack { .. } => return Err(Error::UnexpectedPacket),
            Packet::Publish {
                dup,
                qos,
                retain,
                topic,
                packet_id,
                payload,
            } => {
                let message = Message {
                    topic,
                    payload,
                    qos,
                    retain,
                    dup,
                    packet_id,
                };
                self.on_publish(message)?.map(Incoming::Message)
            }
            Packet::Puback(id) => {
                self.publish_acked(now, PublishAck::Puback, id)?;
                None
            }
            #[cfg(feature = "qos2")]
            Packet::Pubrec(id) => {
                self.publish_acked(now, PublishAck::Pubrec, id)?;
                None
            }
            #[cfg(feature = "qos2")]
            Packet::Pubcomp(id) => {
                self.publish_acked(now, PublishAck::Pubcomp, id)?;
                None
            }
            #[cfg(not(feature = "qos2"))]
            Packet::Pubrec(_) | Packet::Pubcomp(_) | Packet::Pubrel(_) => {
                return Err(Error::UnexpectedPacket)
            }
            #[cfg(feature = "qos2")]
            Packet::Pubrel(id) => {
                // Forget the id (if known) and answer PUBCOMP either way (§4.3.3).
                let known = self.rx_qos2_known(id);
                let evicted = self.session.rx_qos2_release(id);
                self.report_evicted(evicted);
                self.durable_rx_release(known, id);
                self.encode_ack(AckKind::Pubcomp, id)?;
                None
            }
            Packet::Suback { packet_id, codes } => {
                self.session
                    .complete_sub(packet_id, SubKind::Subscribe, Some(codes.len()))?;
                for (position, &code) in codes.iter().enumerate() {
                    if code == SUBACK_FAILURE {
                        self.session.subscription_refused(packet_id, position);
                    }
                }
                self.session.subscriptions_acked(packet_id);
                // A pending-request slot is free; renewals may wait for it.
                self.flush(now);
                Some(Incoming::Subscribed {
                    packet_id,
                    granted: codes,
                })
            }
            Packet::Unsuback(packet_id) => {
                self.session
                    .complete_sub(packet_id, SubKind::Unsubscribe, None)?;
                self.flush(now);
                self.push_event(Event::Unsubscribed { packet_id });
                None
            }
            Packet::Pingresp => {
                if self.ping_outstanding {
                    self.ping_outstanding = false;
                    // In Disconnecting the deadline is the DISCONNECT's, not the ping's.
                    if self.state == State::Connected {
                        self.deadline = None;
                    }
                    self.push_event(Event::PingResponse);
                }
                None
            }
        };
        Ok(Step::Handled(incoming))
    }

    fn on_connack(&mut self, now: Instant, session_present: bool, code: u8) -> Result<(), Error> {
        if code != 0 {
            self.enter_disconnected(false);
            self.push_event(Event::ConnectRefused { code });
            return Ok(());
        }
        if session_present && self.clean_session {
            // §3.2.2.2: a clean session is never present.
            return Err(Error::Malformed);
        }
        let had_ids = self.rx_qos2_any();
        self.session.rx_qos2_resume(session_present);
        self.durable_rx_clear(had_ids && !session_present);
        self.rx_manual_resume(session_present);
        // A new session has no subscriptions, and a kept one may lack those never
        // acknowledged: renew them before anything else is sent.
        self.session.plan_resubscribe(session_present);
        let lost = !self.clean_session && self.had_session && !session_present;
        self.had_session = !self.clean_session;
        self.state = State::Connected;
        self.deadline = None;
        self.last_received = now;
        self.last_sent = now;
        self.push_event(Event::Connected { session_present });
        if lost {
            self.push_event(Event::SessionLost);
        }
        // The caller flushes: renewals and stored packets go out first.
        Ok(())
    }

    // Called once, on the per-message path: inlined, so that the message is not copied into
    // its frame (stack budget).
    #[inline(always)]
    fn on_publish<'a>(&mut self, message: Message<'a>) -> Result<Option<Message<'a>>, Error> {
        match message.qos {
            QoS::AtMostOnce => Ok(Some(message)),
            QoS::AtLeastOnce => {
                self.encode_ack(AckKind::Puback, message.packet_id)?;
                Ok(Some(message))
            }
            QoS::ExactlyOnce => {
                let hash = content_hash(message.topic, message.payload);
                // Manual acknowledgement (feature `store`): held, without record or PUBREC.
                if let Some(deliver) = self.rx_manual(message.packet_id, hash)? {
                    return Ok(deliver.then_some(message));
                }
                let new = self.receive_qos2(message.packet_id, hash, message.dup)?;
                if new {
                    // On flash before the application sees it (docs/STORE.md, crash points).
                    self.durable_rx(message.packet_id, hash)?;
                }
                Ok(new.then_some(message))
            }
        }
    }

    /// Room in tx for a 4-byte acknowledgement, which may still be sent (§3.14.4: nothing
    /// follows DISCONNECT).
    pub(super) fn has_ack_room(&self) -> bool {
        self.tx_room() >= ACK_LEN && !self.disconnect_queued
    }

    /// An incoming QoS 2 PUBLISH (`hash`: its content hash): sends PUBREC; true when it is
    /// new (deliver it), false when it is a re-send of one held until its PUBREL.
    /// Without the `qos2` feature the client never asks for QoS 2, so one is a protocol error.
    #[cfg(not(feature = "qos2"))]
    pub(super) fn receive_qos2(&mut self, _id: u16, _hash: u16, _dup: bool) -> Result<bool, Error> {
        Err(Error::UnexpectedPacket)
    }

    #[cfg(feature = "qos2")]
    pub(super) fn receive_qos2(&mut self, id: u16, hash: u16, dup: bool) -> Result<bool, Error> {
        // The rule (docs/DELIVERY.md): an id is held until its PUBREL; a re-send is
        // known by its id and content hash, or by DUP once only the id is left.
        let (verdict, evicted) = self.session.rx_qos2_receive(id, hash, dup)?;
        self.report_evicted(evicted);
        self.encode_ack(AckKind::Pubrec, id)?;
        Ok(matches!(verdict, Verdict::New { .. }))
    }

    #[cfg(feature = "qos2")]
    pub(super) fn report_evicted(&mut self, evicted: Evicted) {
        if evicted.count > 0 {
            self.push_event(Event::RxQos2Evicted {
                first: evicted.first,
                count: evicted.count,
            });
        }
    }

    /// PUBACK, PUBREC or PUBCOMP; a completion frees a window slot, which stored packets may
    /// wait for. Inlined into handle_bytes: flush's frame then sits on handle_bytes' alone,
    /// not on on_publish_ack's too (stack budget).
    #[inline(always)]
    fn publish_acked(&mut self, now: Instant, ack: PublishAck, id: u16) -> Result<(), Error> {
        if self.on_publish_ack(now, ack, id)? == AckOutcome::Completed {
            self.flush_waiting(now);
        }
        Ok(())
    }

    fn on_publish_ack(
        &mut self,
        now: Instant,
        ack: PublishAck,
        id: u16,
    ) -> Result<AckOutcome, Error> {
        let outcome = self.session.acknowledge(ack, id, now)?;
        self.durable_ack(id, outcome);
        match outcome {
            AckOutcome::Completed => self.push_event(Event::PublishComplete { packet_id: id }),
            AckOutcome::SendPubrel => self.encode_ack(AckKind::Pubrel, id)?,
        }
        Ok(outcome)
    }
}
