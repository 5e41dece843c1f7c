//! One connection's MQTT 3.1.1 state machine, sans-IO: it takes bytes and the time, and
//! hands back bytes to send (`pending_transmit`) and events (`poll_event`). It never
//! reads a clock or touches a socket, so it runs the same on a fake clock in tests.

use core::mem::MaybeUninit;
use core::ptr::addr_of_mut;

use heapless::Deque;

use crate::bytes::{copy_into, move_within};
use crate::config::{EVENT_QUEUE, MAX_INFLIGHT};
use crate::error::Error;
use crate::session::{AckOutcome, PublishAck, Resend, Session, SubKind};
use crate::time::Instant;
use crate::wire::{self, AckKind, Frame, Packet, QoS};

/// Timeouts and limits of one engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Outgoing QoS 1/2 messages in flight at once; clamped to 1..=MAX_INFLIGHT.
    pub inflight_window: u16,
    /// CONNACK must arrive this long after `connect` (0 = no limit).
    pub connect_timeout_ms: u32,
    /// PUBACK/PUBREC/PUBCOMP/SUBACK/UNSUBACK must arrive this long after sending (0 = off).
    pub ack_timeout_ms: u32,
    /// PINGRESP must arrive this long after PINGREQ (0 = keep-alive / 2; with keep-alive 0
    /// too, a user ping has no limit).
    pub ping_timeout_ms: u32,
    /// The largest packet accepted from the broker (the rx buffer's size).
    pub max_rx_packet: usize,
}

/// What an engine is built from (`Engine::init`): the caller's buffers and the configuration.
pub struct EngineParts<'b> {
    /// Outgoing bytes; its size bounds the largest packet sent.
    pub tx: &'b mut [u8],
    /// Encoded QoS 1/2 PUBLISH packets kept until acknowledged.
    pub store: &'b mut [u8],
    pub config: Config,
}

/// What CONNECT carries: the wire layer's fields, validated when encoded.
pub type ConnectOptions<'a> = wire::ConnectFields<'a>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Disconnected,
    AwaitConnack,
    Connected,
    Disconnecting,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Connected {
        session_present: bool,
    },
    /// CONNACK 1..=5; the state is Disconnected and no Disconnected event follows.
    ConnectRefused {
        code: u8,
    },
    /// None = clean disconnect asked by the user.
    Disconnected {
        reason: Option<Error>,
    },
    /// PUBACK (QoS 1) or PUBCOMP (QoS 2).
    PublishComplete {
        packet_id: u16,
    },
    Unsubscribed {
        packet_id: u16,
    },
    /// clean_session=0, had a session, CONNACK session_present=0.
    SessionLost,
    PingResponse,
}

/// An application message from the broker; it borrows the input of `handle_bytes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub qos: QoS,
    pub retain: bool,
    pub dup: bool,
    pub packet_id: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Incoming<'a> {
    Message(Message<'a>),
    /// SUBACK: one granted QoS (or 0x80 = failure) per filter, in order.
    Subscribed {
        packet_id: u16,
        granted: &'a [u8],
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handled<'a> {
    pub consumed: usize,
    pub incoming: Option<Incoming<'a>>,
}

/// Events one packet can emit at most (Connected + SessionLost, or Disconnected) plus
/// one spare: `handle_bytes` waits for this much room instead of dropping events.
const EVENT_ROOM_PER_PACKET: usize = 3;
const ACK_LEN: usize = 4;
/// A SUBACK return code: the broker refused that filter (§3.9.3).
const SUBACK_FAILURE: u8 = 0x80;

/// The outcome of one decoded packet.
enum Step<'a> {
    Handled(Option<Incoming<'a>>),
    /// tx has no room for the reply: nothing changed, try again later.
    NoRoom,
}

pub struct Engine<'b> {
    tx: &'b mut [u8],
    /// Bytes of `tx` waiting to be sent, from the start.
    tx_len: usize,
    session: Session<'b>,
    config: Config,
    state: State,
    events: Deque<Event, EVENT_QUEUE>,
    clean_session: bool,
    /// A CONNACK accepted a clean_session=0 connection: the broker holds our session.
    had_session: bool,
    keep_alive_ms: u32,
    connack_deadline: Option<Instant>,
    last_sent: Instant,
    last_received: Instant,
    /// A PINGREQ is asked for but not yet in tx.
    ping_unsent: bool,
    /// PINGREQ out: PINGRESP must arrive by then (None = no limit).
    ping_deadline: Option<Instant>,
    ping_outstanding: bool,
    disconnect_queued: bool,
    /// A DISCONNECT that cannot drain by then (the peer stopped reading) ends anyway.
    disconnect_deadline: Option<Instant>,
}

/// Bytes of the SUBACK that answers a SUBSCRIBE of `filters` filters: it must fit the rx
/// buffer, or the answer itself would end the connection.
fn suback_len(filters: usize) -> usize {
    wire::packet_len(filters.saturating_add(2)).unwrap_or(usize::MAX)
}

fn room_error(len: usize, capacity: usize) -> Error {
    if len > capacity {
        Error::TooLarge
    } else {
        Error::Full
    }
}

impl<'b> Engine<'b> {
    pub fn new(tx: &'b mut [u8], store: &'b mut [u8], config: Config) -> Engine<'b> {
        let mut slot = MaybeUninit::uninit();
        Engine::init(&mut slot, EngineParts { tx, store, config });
        // SAFETY: `init` wrote every field of the slot.
        unsafe { slot.assume_init() }
    }

    /// Builds a disconnected engine in `slot`, field by field (its session grows with the
    /// build-time capacities; see `Session::init`), so that no whole value is built on the
    /// stack first.
    pub fn init<'s>(
        slot: &'s mut MaybeUninit<Engine<'b>>,
        parts: EngineParts<'b>,
    ) -> &'s mut Engine<'b> {
        let EngineParts { tx, store, config } = parts;
        let max_window = u16::try_from(MAX_INFLIGHT).unwrap_or(u16::MAX);
        let config = Config {
            inflight_window: config.inflight_window.clamp(1, max_window),
            ..config
        };
        let engine = slot.as_mut_ptr();
        // SAFETY: `engine` points to the slot, valid for writes; each field is written once
        // through a raw projection (no reference to the partly written value; the session's
        // slot is the field's own memory, and MaybeUninit<T> has T's layout). So every field
        // is initialised when the slot is assumed so.
        let engine = unsafe {
            addr_of_mut!((*engine).tx).write(tx);
            addr_of_mut!((*engine).tx_len).write(0);
            let session = addr_of_mut!((*engine).session).cast::<MaybeUninit<Session<'b>>>();
            Session::init(&mut *session, store);
            addr_of_mut!((*engine).config).write(config);
            addr_of_mut!((*engine).state).write(State::Disconnected);
            addr_of_mut!((*engine).events).write(Deque::new());
            addr_of_mut!((*engine).clean_session).write(true);
            addr_of_mut!((*engine).had_session).write(false);
            addr_of_mut!((*engine).keep_alive_ms).write(0);
            addr_of_mut!((*engine).connack_deadline).write(None);
            addr_of_mut!((*engine).last_sent).write(Instant(0));
            addr_of_mut!((*engine).last_received).write(Instant(0));
            addr_of_mut!((*engine).ping_unsent).write(false);
            addr_of_mut!((*engine).ping_deadline).write(None);
            addr_of_mut!((*engine).ping_outstanding).write(false);
            addr_of_mut!((*engine).disconnect_queued).write(false);
            addr_of_mut!((*engine).disconnect_deadline).write(None);
            slot.assume_init_mut()
        };
        // Every field, by name: adding one fails to compile here until it is written above.
        let Engine {
            tx: _,
            tx_len: _,
            session: _,
            config: _,
            state: _,
            events: _,
            clean_session: _,
            had_session: _,
            keep_alive_ms: _,
            connack_deadline: _,
            last_sent: _,
            last_received: _,
            ping_unsent: _,
            ping_deadline: _,
            ping_outstanding: _,
            disconnect_queued: _,
            disconnect_deadline: _,
        } = &*engine;
        engine
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The tx buffer's size: the largest packet that can ever be sent.
    pub fn tx_capacity(&self) -> usize {
        self.tx.len()
    }

    /// Renewals or stored packets still wait for room in tx on this connection.
    pub fn has_unsent(&self) -> bool {
        self.session.resubscribe_pending().is_some() || self.session.next_unsent(0).is_some()
    }

    /// Outgoing QoS 1/2 messages not yet complete.
    pub fn inflight(&self) -> usize {
        self.session.inflight()
    }

    // --- tx buffer ---

    fn tx_free(&mut self) -> &mut [u8] {
        self.tx.get_mut(self.tx_len..).unwrap_or_default()
    }

    fn tx_room(&self) -> usize {
        self.tx.len().saturating_sub(self.tx_len)
    }

    /// Runs an encoder on the free part of tx and keeps what it wrote.
    fn encode_tx<F>(&mut self, encode: F) -> Result<(), Error>
    where
        F: FnOnce(&mut [u8]) -> Result<usize, Error>,
    {
        let written = encode(self.tx_free())?;
        self.tx_len = self.tx_len.saturating_add(written).min(self.tx.len());
        Ok(())
    }

    fn encode_ack(&mut self, kind: AckKind, packet_id: u16) -> Result<(), Error> {
        self.encode_tx(|out| wire::encode_ack(out, kind, packet_id))
    }

    pub fn pending_transmit(&self) -> &[u8] {
        self.tx.get(..self.tx_len).unwrap_or_default()
    }

    /// The first `n` bytes of `pending_transmit()` left; frees room and sends what waits.
    pub fn transmit_done(&mut self, now: Instant, n: usize) {
        let n = n.min(self.tx_len);
        if n == 0 {
            return;
        }
        // n <= tx_len <= tx.len(): the move cannot miss; if it did, keep tx as it is rather than
        // drop bytes that were never sent.
        if !move_within(self.tx, n, self.tx_len, 0) {
            return;
        }
        self.tx_len = self.tx_len.saturating_sub(n);
        self.last_sent = now;
        if self.state == State::Disconnecting && self.disconnect_queued && self.tx_len == 0 {
            self.finish(None);
            return;
        }
        self.flush(now);
    }

    /// Writes into tx, in order, whatever waits for room: PINGREQ, stored QoS 1/2 packets,
    /// DISCONNECT.
    fn flush(&mut self, now: Instant) {
        match self.state {
            State::Connected => {}
            State::Disconnecting => {
                if !self.disconnect_queued && self.encode_tx(wire::encode_disconnect).is_ok() {
                    self.disconnect_queued = true;
                }
                return;
            }
            State::Disconnected | State::AwaitConnack => return,
        }
        if self.ping_unsent && self.encode_tx(wire::encode_pingreq).is_ok() {
            self.ping_unsent = false;
        }
        self.flush_resubscribe(now);
        let mut from = 0;
        while let Some(index) = self.session.next_unsent(from) {
            // Not tx_free(): `self.session` is borrowed at the same time.
            let free = self.tx.get_mut(self.tx_len..).unwrap_or_default();
            let written = match self.session.resend(index) {
                Some(Resend::Publish(bytes)) if copy_into(free, bytes) => bytes.len(),
                Some(Resend::Publish(_)) => break,
                Some(Resend::Pubrel(id)) => match wire::encode_ack(free, AckKind::Pubrel, id) {
                    Ok(n) => n,
                    Err(_) => break,
                },
                None => break,
            };
            self.tx_len = self.tx_len.saturating_add(written).min(self.tx.len());
            self.session.mark_sent(index, now);
            from = index.saturating_add(1);
        }
    }

    /// Renews remembered subscriptions, as many per SUBSCRIBE as fit tx, while the
    /// pending-request table has room. Every pass sends one packet or stops.
    fn flush_resubscribe(&mut self, now: Instant) {
        while let Some(pending) = self.session.resubscribe_pending() {
            if self.session.pending_subs_full() {
                return;
            }
            let count = self.resubscribe_batch(pending.clone());
            if count == 0 {
                return;
            }
            let batch = pending.start..pending.start.saturating_add(count);
            let Ok(packet_id) = self.session.allocate_sub_id() else {
                return;
            };
            let session = &self.session;
            let filters = batch.clone().filter_map(|i| session.subscription(i));
            let free = self.tx.get_mut(self.tx_len..).unwrap_or_default();
            let Ok(written) = wire::encode_subscribe(free, packet_id, filters) else {
                return;
            };
            self.tx_len = self.tx_len.saturating_add(written).min(self.tx.len());
            if self
                .session
                .add_pending_sub(packet_id, SubKind::Subscribe, count, now)
                .is_err()
            {
                return;
            }
            self.session.resubscribed(packet_id, batch);
        }
    }

    /// How many subscriptions from `pending.start` fit one SUBSCRIBE in the free part of tx.
    fn resubscribe_batch(&self, pending: core::ops::Range<usize>) -> usize {
        let room = self.tx_room();
        // Packet id, then per filter: length prefix, filter, requested QoS (§3.8.3).
        let mut body = 2usize;
        let mut count = 0;
        for index in pending.clone() {
            let Some((filter, _)) = self.session.subscription(index) else {
                break;
            };
            body = body.saturating_add(filter.len()).saturating_add(3);
            if wire::packet_len(body).map_or(true, |len| len > room)
                || suback_len(count + 1) > self.config.max_rx_packet
            {
                break;
            }
            count += 1;
        }
        // Confirm with the encoder's own arithmetic.
        let session = &self.session;
        let batch = pending.start..pending.start.saturating_add(count);
        match wire::subscribe_len(batch.filter_map(|i| session.subscription(i))) {
            Ok(len) if len <= room => count,
            _ => 0,
        }
    }

    // --- events ---

    fn push_event(&mut self, event: Event) {
        // handle_bytes keeps room for its events; elsewhere a full queue (the caller
        // not draining it) loses the oldest event rather than the newest state change.
        if self.events.is_full() {
            self.events.pop_front();
        }
        let _ = self.events.push_back(event);
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn event_room(&self) -> usize {
        EVENT_QUEUE.saturating_sub(self.events.len())
    }

    // --- commands ---

    /// Disconnected -> AwaitConnack: clears tx, encodes CONNECT, arms the CONNACK timeout.
    pub fn connect(&mut self, now: Instant, opts: &ConnectOptions) -> Result<(), Error> {
        if self.state != State::Disconnected {
            return Err(Error::InvalidState);
        }
        let len = wire::connect_len(opts)?;
        if len > self.tx.len() {
            return Err(Error::TooLarge);
        }
        self.tx_len = 0;
        self.encode_tx(|out| wire::encode_connect(out, opts))?;
        self.clean_session = opts.clean_session;
        self.keep_alive_ms = u32::from(opts.keep_alive_s).saturating_mul(1000);
        self.connack_deadline = match self.config.connect_timeout_ms {
            0 => None,
            ms => Some(now.add_ms(ms)),
        };
        self.last_sent = now;
        self.last_received = now;
        self.ping_unsent = false;
        self.ping_outstanding = false;
        self.ping_deadline = None;
        self.disconnect_queued = false;
        self.session.clear_pending_subs();
        self.session.stop_resubscribe();
        self.state = State::AwaitConnack;
        Ok(())
    }

    /// QoS 0 goes straight to tx (Connected only). QoS 1/2 is stored in any state and sent
    /// when connected and tx has room. Returns the packet id (None at QoS 0).
    pub fn publish(
        &mut self,
        now: Instant,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
    ) -> Result<Option<u16>, Error> {
        let len = wire::publish_len(topic, payload.len(), qos)?;
        if qos == QoS::AtMostOnce {
            if self.state != State::Connected {
                return Err(Error::InvalidState);
            }
            if len > self.tx_room() {
                return Err(room_error(len, self.tx.len()));
            }
            // publish_len above validated the topic.
            self.encode_tx(|out| {
                wire::encode_publish_prechecked(out, topic, payload, qos, retain, false, 0)
            })?;
            return Ok(None);
        }
        if len > self.tx.len() || len > self.session.store_capacity() {
            return Err(Error::TooLarge);
        }
        let window = usize::from(self.config.inflight_window);
        let packet_id = self.session.add_publish(qos, len, window, |out, id| {
            wire::encode_publish_prechecked(out, topic, payload, qos, retain, false, id)
        })?;
        self.flush(now);
        Ok(Some(packet_id))
    }

    /// Sends one SUBSCRIBE for all `filters`; the SUBACK arrives as `Incoming::Subscribed`.
    pub fn subscribe<'f, I>(&mut self, now: Instant, filters: I) -> Result<u16, Error>
    where
        I: Iterator<Item = (&'f str, QoS)> + Clone,
    {
        if self.state != State::Connected {
            return Err(Error::InvalidState);
        }
        let len = wire::subscribe_len(filters.clone())?;
        let count = filters.clone().count();
        if suback_len(count) > self.config.max_rx_packet {
            return Err(Error::TooLarge);
        }
        // Remembered for renewal after a lost session; refused up front if it cannot be.
        self.session.subscriptions_have_room(filters.clone())?;
        let remembered = filters.clone();
        let packet_id = self.send_sub_request(now, SubKind::Subscribe, len, count, |out, id| {
            wire::encode_subscribe(out, id, filters)
        })?;
        self.session.remember_subscriptions(packet_id, remembered);
        Ok(packet_id)
    }

    /// Filters remembered for renewal after a lost session, with their QoS, in order.
    pub fn subscriptions(&self) -> impl Iterator<Item = (&str, QoS)> + '_ {
        (0..self.session.subscription_count()).filter_map(|i| self.session.subscription(i))
    }

    /// Sends one UNSUBSCRIBE for all `filters`; UNSUBACK arrives as `Event::Unsubscribed`.
    pub fn unsubscribe<'f, I>(&mut self, now: Instant, filters: I) -> Result<u16, Error>
    where
        I: Iterator<Item = &'f str> + Clone,
    {
        if self.state != State::Connected {
            return Err(Error::InvalidState);
        }
        let len = wire::unsubscribe_len(filters.clone())?;
        let count = filters.clone().count();
        let forgotten = filters.clone();
        let packet_id =
            self.send_sub_request(now, SubKind::Unsubscribe, len, count, |out, id| {
                wire::encode_unsubscribe(out, id, filters)
            })?;
        self.session.forget_subscriptions(forgotten);
        Ok(packet_id)
    }

    fn send_sub_request<F>(
        &mut self,
        now: Instant,
        kind: SubKind,
        len: usize,
        filter_count: usize,
        encode: F,
    ) -> Result<u16, Error>
    where
        F: FnOnce(&mut [u8], u16) -> Result<usize, Error>,
    {
        if len > self.tx_room() {
            return Err(room_error(len, self.tx.len()));
        }
        let packet_id = self.session.allocate_sub_id()?;
        self.encode_tx(|out| encode(out, packet_id))?;
        self.session
            .add_pending_sub(packet_id, kind, filter_count, now)?;
        Ok(packet_id)
    }

    /// Sends PINGREQ now; Full if one is already out.
    pub fn ping(&mut self, now: Instant) -> Result<(), Error> {
        if self.state != State::Connected {
            return Err(Error::InvalidState);
        }
        if self.ping_outstanding {
            return Err(Error::Full);
        }
        self.start_ping(now);
        Ok(())
    }

    fn start_ping(&mut self, now: Instant) {
        self.ping_outstanding = true;
        self.ping_unsent = true;
        let timeout = match self.config.ping_timeout_ms {
            0 => self.keep_alive_ms / 2,
            ms => ms,
        };
        self.ping_deadline = (timeout > 0).then(|| now.add_ms(timeout));
        self.flush(now);
    }

    /// Queues DISCONNECT -> Disconnecting; once tx is drained (or the connect timeout passes
    /// with the peer not reading) the state becomes Disconnected and
    /// Event::Disconnected{reason: None} is emitted. From AwaitConnack: at once.
    pub fn disconnect(&mut self, now: Instant) -> Result<(), Error> {
        match self.state {
            State::Connected => {
                self.state = State::Disconnecting;
                self.disconnect_queued = false;
                self.disconnect_deadline = match self.config.connect_timeout_ms {
                    0 => None,
                    ms => Some(now.add_ms(ms)),
                };
                self.flush(now);
                Ok(())
            }
            State::AwaitConnack => {
                self.finish(None);
                Ok(())
            }
            State::Disconnected | State::Disconnecting => Err(Error::InvalidState),
        }
    }

    /// The transport is gone (or the client gave up): -> Disconnected, emits
    /// Disconnected{Some(reason)}, drops tx bytes, marks stored packets for re-send.
    pub fn connection_lost(&mut self, _now: Instant, reason: Error) {
        if self.state != State::Disconnected {
            self.finish(Some(reason));
        }
    }

    /// Ends the connection: nothing in tx goes out, every stored packet goes out again.
    fn finish(&mut self, reason: Option<Error>) {
        self.enter_disconnected();
        self.push_event(Event::Disconnected { reason });
    }

    fn enter_disconnected(&mut self) {
        self.state = State::Disconnected;
        self.tx_len = 0;
        self.connack_deadline = None;
        self.ping_unsent = false;
        self.ping_outstanding = false;
        self.ping_deadline = None;
        self.disconnect_queued = false;
        self.disconnect_deadline = None;
        self.session.mark_all_for_resend();
    }

    // --- input ---

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
        if self.event_room() < EVENT_ROOM_PER_PACKET {
            return WAIT;
        }
        let bad = |engine: &mut Self, reason: Error| {
            engine.finish(Some(reason));
            Handled {
                consumed: input.len(),
                incoming: None,
            }
        };
        let total_len = match wire::frame(input, self.config.max_rx_packet) {
            Ok(Frame::Incomplete) => return WAIT,
            Ok(Frame::Complete { total_len }) => total_len,
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

    fn handle_packet<'a>(&mut self, now: Instant, packet: Packet<'a>) -> Result<Step<'a>, Error> {
        if self.state == State::AwaitConnack {
            return match packet {
                Packet::Connack {
                    session_present,
                    code,
                } => self
                    .on_connack(now, session_present, code)
                    .map(|()| Step::Handled(None)),
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
        if needs_reply && (self.tx_room() < ACK_LEN || self.disconnect_queued) {
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
                self.on_publish_ack(now, PublishAck::Puback, id)?;
                None
            }
            Packet::Pubrec(id) => {
                self.on_publish_ack(now, PublishAck::Pubrec, id)?;
                None
            }
            Packet::Pubcomp(id) => {
                self.on_publish_ack(now, PublishAck::Pubcomp, id)?;
                None
            }
            Packet::Pubrel(id) => {
                // Forget the id (if known) and answer PUBCOMP either way (§4.3.3).
                self.session.rx_qos2_release(id);
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
                    self.ping_deadline = None;
                    self.push_event(Event::PingResponse);
                }
                None
            }
        };
        Ok(Step::Handled(incoming))
    }

    fn on_connack(&mut self, now: Instant, session_present: bool, code: u8) -> Result<(), Error> {
        if code != 0 {
            self.enter_disconnected();
            self.push_event(Event::ConnectRefused { code });
            return Ok(());
        }
        if session_present && self.clean_session {
            // §3.2.2.2: a clean session is never present.
            return Err(Error::Malformed);
        }
        self.session.rx_qos2_resume(session_present);
        // A new session has no subscriptions, and a kept one may lack those never
        // acknowledged: renew them before anything else is sent.
        self.session.plan_resubscribe(session_present);
        let lost = !self.clean_session && self.had_session && !session_present;
        self.had_session = !self.clean_session;
        self.state = State::Connected;
        self.connack_deadline = None;
        self.last_received = now;
        self.last_sent = now;
        self.push_event(Event::Connected { session_present });
        if lost {
            self.push_event(Event::SessionLost);
        }
        self.flush(now);
        Ok(())
    }

    fn on_publish<'a>(&mut self, message: Message<'a>) -> Result<Option<Message<'a>>, Error> {
        match message.qos {
            QoS::AtMostOnce => Ok(Some(message)),
            QoS::AtLeastOnce => {
                self.encode_ack(AckKind::Puback, message.packet_id)?;
                Ok(Some(message))
            }
            QoS::ExactlyOnce => {
                let id = message.packet_id;
                if self.session.rx_qos2_touch(id) {
                    // Delivered already; the broker missed our PUBREC.
                    self.encode_ack(AckKind::Pubrec, id)?;
                    return Ok(None);
                }
                if !message.dup {
                    self.session.rx_qos2_drop_stale();
                }
                if !self.session.rx_qos2_has_room() {
                    // Refuse rather than risk a second delivery; the broker re-sends it
                    // after the reconnect, and PUBRELs free room meanwhile.
                    return Err(Error::RxQos2Full);
                }
                self.encode_ack(AckKind::Pubrec, id)?;
                self.session.rx_qos2_remember(id)?;
                Ok(Some(message))
            }
        }
    }

    fn on_publish_ack(&mut self, now: Instant, ack: PublishAck, id: u16) -> Result<(), Error> {
        match self.session.acknowledge(ack, id, now)? {
            AckOutcome::Completed => {
                self.push_event(Event::PublishComplete { packet_id: id });
                // A window slot is free; stored packets may wait for it.
                self.flush(now);
            }
            AckOutcome::SendPubrel => self.encode_ack(AckKind::Pubrel, id)?,
        }
        Ok(())
    }

    // --- timers ---

    fn ping_timeout_deadline(&self, now: Instant) -> Option<u32> {
        self.ping_deadline
            .filter(|_| self.ping_outstanding)
            .map(|d| now.ms_until(d))
    }

    fn keep_alive_deadline(&self, now: Instant) -> Option<u32> {
        if self.keep_alive_ms == 0 || self.ping_outstanding {
            return None;
        }
        let since_sent = now.ms_until(self.last_sent.add_ms(self.keep_alive_ms));
        let since_received = now.ms_until(self.last_received.add_ms(self.keep_alive_ms));
        Some(since_sent.min(since_received))
    }

    fn ack_timeout_deadline(&self, now: Instant) -> Option<u32> {
        match self.config.ack_timeout_ms {
            0 => None,
            ms => self.session.ack_deadline(now, ms),
        }
    }

    /// Keep-alive PINGREQ, and the CONNACK, PINGRESP and ack timeouts.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::AwaitConnack => {
                if self.connack_deadline.is_some_and(|d| now.reached(d)) {
                    self.finish(Some(Error::ConnectTimeout));
                }
            }
            State::Connected => {
                if self.ping_timeout_deadline(now) == Some(0) {
                    self.finish(Some(Error::PingTimeout));
                } else if self.ack_timeout_deadline(now) == Some(0) {
                    self.finish(Some(Error::AckTimeout));
                } else if self.keep_alive_deadline(now) == Some(0) {
                    self.start_ping(now);
                }
            }
            State::Disconnecting => {
                if self.disconnect_deadline.is_some_and(|d| now.reached(d)) {
                    self.finish(None);
                }
            }
            State::Disconnected => {}
        }
    }

    /// ms from `now` until `handle_timeout` has work (0 = now); None when no timer is armed.
    pub fn next_deadline(&self, now: Instant) -> Option<u32> {
        match self.state {
            State::AwaitConnack => self.connack_deadline.map(|d| now.ms_until(d)),
            State::Connected => [
                self.ping_timeout_deadline(now),
                self.ack_timeout_deadline(now),
                self.keep_alive_deadline(now),
            ]
            .into_iter()
            .flatten()
            .min(),
            State::Disconnecting => self.disconnect_deadline.map(|d| now.ms_until(d)),
            State::Disconnected => None,
        }
    }
}
