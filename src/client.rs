//! Drives one [`Engine`] over an `embedded_nal` TCP stack: resolve, TCP connect, moving bytes
//! between the socket and the engine, and the connection's lifecycle: automatic reconnect with
//! exponential backoff and jitter, walking the broker endpoints in order (failover), and the
//! bounded queue that holds QoS 0 messages while there is no connection.
//!
//! Everything is non-blocking: every socket call may answer `WouldBlock`, and the work is picked
//! up again on the next [`Client::poll_once`]. Each call does a bounded amount of work.
//!
//! Received bytes are appended to the caller's rx buffer after the unconsumed tail; the buffer is
//! compacted only at the start of a later call, so the bytes a returned [`Dispatch`] points at stay
//! in place until the next call.

mod ip_literal;

use core::mem::MaybeUninit;
use core::net::SocketAddr;
use core::ops::Range;
use core::ptr::addr_of_mut;

use embedded_nal::{nb, AddrType, Dns, TcpClientStack, TcpError, TcpErrorKind};
use heapless::{Deque, Vec};

use crate::bytes::{copy_into, move_within, remove_at};
use crate::config::{MAX_ENDPOINTS, OFFLINE_QOS0_BYTES, OFFLINE_QOS0_MSGS};
use crate::engine::{ConnectOptions, Engine, EngineParts, Event, Incoming, State};
use crate::time::Instant;
use crate::wire::{self, QoS};
use crate::Error;

/// Socket steps (send, handle one packet, receive) one `poll_once` may take before it yields.
const STEP_BUDGET: usize = 32;

/// How soon to poll again while waiting on a step the stack reports only by polling
/// (DNS, TCP connect, a send that would block).
pub const RETRY_POLL_MS: u32 = 10;

/// Where the broker is. `host` is an IP literal (parsed, no DNS) or a name to resolve.
#[derive(Clone, Copy, Debug)]
pub struct Endpoint<'a> {
    pub host: &'a str,
    pub port: u16,
}

/// An incoming PUBLISH whose topic and payload are ranges of [`Client::rx_window`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRef {
    pub topic: Range<usize>,
    pub payload: Range<usize>,
    pub qos: QoS,
    pub retain: bool,
    pub dup: bool,
    pub packet_id: u16,
}

/// One thing for the application to look at. Ranges index [`Client::rx_window`] and stay valid
/// until the next call on the client. Renewed subscriptions' SUBACKs arrive as `Subscribed`
/// too, with ids the client chose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dispatch {
    Event(Event),
    Message(MessageRef),
    /// A SUBACK: one granted QoS (or 0x80 for failure) per filter, in the order subscribed.
    Subscribed {
        packet_id: u16,
        granted: Range<usize>,
    },
    /// The connection ended and the next attempt starts in `delay_ms`, at `endpoint`
    /// (an index of the endpoint list). `attempt` counts from 1 since the last CONNACK.
    Reconnecting {
        attempt: u32,
        delay_ms: u32,
        endpoint: usize,
    },
    /// The offline QoS 0 queue was full and dropped its `count` oldest messages
    /// ([`Qos0Policy::DropOldest`]) since the last such report.
    Qos0Dropped {
        count: u32,
    },
}

/// Automatic reconnect: after a connection ends for any reason but `disconnect`, the next
/// attempt waits `min_ms * 2^(attempt-1)`, capped at `max_ms`, less up to a quarter of jitter,
/// never below `min_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReconnectPolicy {
    pub enabled: bool,
    pub min_ms: u32,
    pub max_ms: u32,
}

impl ReconnectPolicy {
    pub const OFF: ReconnectPolicy = ReconnectPolicy {
        enabled: false,
        min_ms: 0,
        max_ms: 0,
    };

    /// The wait before attempt `attempt` (1 = the first retry), `random` picking the jitter.
    pub fn delay_ms(&self, attempt: u32, random: u32) -> u32 {
        let max_ms = self.max_ms.max(self.min_ms);
        let doublings = attempt.saturating_sub(1).min(31);
        let base = self.min_ms.saturating_mul(1u32 << doublings).min(max_ms);
        let jitter = random.checked_rem(base / 4 + 1).unwrap_or(0);
        base.saturating_sub(jitter).max(self.min_ms)
    }
}

/// What a QoS 0 publish does when the offline queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Qos0Policy {
    /// Refuse the new message with `Error::Full` (back-pressure).
    RejectWhenFull,
    /// Drop the oldest queued messages to make room; reported by [`Dispatch::Qos0Dropped`]
    /// and counted by [`Client::qos0_dropped`].
    DropOldest,
}

/// The client's connection state, as the application sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientState {
    Disconnected,
    /// Resolving, TCP connecting, or waiting for CONNACK.
    Connecting,
    /// Waiting out the backoff before the next automatic attempt.
    Reconnecting,
    Connected,
    /// DISCONNECT queued; the socket closes once it is sent.
    Disconnecting,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    /// Automatic reconnect: the next attempt starts at this time.
    Backoff(Instant),
    Resolving,
    TcpConnecting(SocketAddr),
    /// The socket is up; the engine owns the protocol state.
    Mqtt,
}

/// What one socket step achieved.
enum Step {
    Dispatch(Dispatch),
    Progress,
    Stalled,
}

/// Things the client reports itself (setup failures, reconnect notices), in order.
const OWN_EVENTS: usize = 4;

/// One queued QoS 0 message: `topic_len` + `payload_len` bytes of the queue's arena, after
/// those of every earlier entry.
#[derive(Clone, Copy, Debug)]
struct Queued {
    topic_len: usize,
    payload_len: usize,
    retain: bool,
}

/// QoS 0 messages published while there is no connection, oldest first, in fixed storage.
struct Qos0Queue {
    entries: Vec<Queued, OFFLINE_QOS0_MSGS>,
    bytes: [u8; OFFLINE_QOS0_BYTES],
    used: usize,
}

impl Qos0Queue {
    /// An empty queue in `slot`, written in place (the arena is most of its size).
    fn init(slot: &mut MaybeUninit<Qos0Queue>) {
        let queue = slot.as_mut_ptr();
        // SAFETY: `queue` points to the slot, valid for writes; each field is written once
        // through a raw projection, the arena as zero bytes.
        let queue = unsafe {
            addr_of_mut!((*queue).entries).write(Vec::new());
            addr_of_mut!((*queue).bytes).write_bytes(0, 1);
            addr_of_mut!((*queue).used).write(0);
            slot.assume_init_mut()
        };
        // Every field, by name: adding one fails to compile here until it is written above.
        let Qos0Queue {
            entries: _,
            bytes: _,
            used: _,
        } = queue;
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends a message; returns how many old ones were dropped for it.
    fn push(
        &mut self,
        topic: &str,
        payload: &[u8],
        retain: bool,
        policy: Qos0Policy,
    ) -> Result<u32, Error> {
        let need = topic
            .len()
            .checked_add(payload.len())
            .ok_or(Error::TooLarge)?;
        if OFFLINE_QOS0_MSGS == 0 {
            return Err(Error::InvalidState);
        }
        if need > OFFLINE_QOS0_BYTES {
            return Err(Error::TooLarge);
        }
        let mut dropped = 0u32;
        // Each pass drops one entry, so this ends within OFFLINE_QOS0_MSGS passes.
        while self.entries.is_full() || self.used.saturating_add(need) > OFFLINE_QOS0_BYTES {
            if policy == Qos0Policy::RejectWhenFull || self.entries.is_empty() {
                return Err(Error::Full);
            }
            self.pop_front();
            dropped = dropped.saturating_add(1);
        }
        let end = self.used.saturating_add(need);
        let Some((topic_dst, payload_dst)) = self
            .bytes
            .get_mut(self.used..end)
            .and_then(|dst| dst.split_at_mut_checked(topic.len()))
        else {
            return Err(Error::Full);
        };
        if !copy_into(topic_dst, topic.as_bytes()) || !copy_into(payload_dst, payload) {
            return Err(Error::Full);
        }
        let entry = Queued {
            topic_len: topic.len(),
            payload_len: payload.len(),
            retain,
        };
        self.entries.push(entry).map_err(|_| Error::Full)?;
        self.used = end;
        Ok(dropped)
    }

    /// The oldest message: topic, payload, retain.
    fn front(&self) -> Option<(&str, &[u8], bool)> {
        let entry = self.entries.first()?;
        let (topic, rest) = self.bytes.split_at_checked(entry.topic_len)?;
        let payload = rest.get(..entry.payload_len)?;
        // A copy of the validated `&str` given to `push`; checked again, as the session does
        // its stored filters (ASCII is a word-at-a-time scan), so no bookkeeping slip can ever
        // yield an invalid `&str`.
        let topic = wire::validate_utf8(topic).ok()?;
        Some((topic, payload, entry.retain))
    }

    fn pop_front(&mut self) {
        let Some(entry) = remove_at(&mut self.entries, 0) else {
            return;
        };
        let len = entry.topic_len.saturating_add(entry.payload_len);
        if len > self.used || !move_within(&mut self.bytes, len, self.used, 0) {
            // Never: the entries tile `bytes[..used]`. Were it to happen, the rest could not be
            // found again, so they are dropped rather than misread.
            self.entries.clear();
            self.used = 0;
            return;
        }
        self.used -= len;
    }
}

/// One MQTT connection over a `TcpClientStack + Dns`, with caller-owned buffers.
pub struct Client<'b, S: TcpClientStack + Dns> {
    stack: S,
    socket: Option<S::TcpSocket>,
    engine: Engine<'b>,
    rx: &'b mut [u8],
    /// Unconsumed bytes are `rx[rx_start..rx_end]`.
    rx_start: usize,
    rx_end: usize,
    /// Tried in order; never empty.
    endpoints: Vec<Endpoint<'b>, MAX_ENDPOINTS>,
    endpoint_index: usize,
    connect_options: ConnectOptions<'b>,
    phase: Phase,
    /// Covers resolve + TCP + CONNACK.
    connect_deadline: Instant,
    /// What the client reports itself, before the engine's events.
    own_events: Deque<Dispatch, OWN_EVENTS>,
    /// The last poll ran out of its step budget with work left.
    more_work: bool,
    reconnect: ReconnectPolicy,
    /// The application asked to be connected (`connect`) and has not asked to disconnect.
    want_connection: bool,
    /// Failed attempts since the last accepted CONNACK.
    attempt: u32,
    /// The current attempt reached CONNACK: a later loss retries the same endpoint.
    connected_on_attempt: bool,
    /// xorshift32 state for the backoff jitter (never 0).
    jitter: u32,
    qos0_queue: Qos0Queue,
    qos0_policy: Qos0Policy,
    qos0_dropped: u32,
    qos0_dropped_unreported: u32,
}

impl<'b, S: TcpClientStack + Dns> Client<'b, S> {
    pub fn new(
        stack: S,
        engine: Engine<'b>,
        rx: &'b mut [u8],
        endpoint: Endpoint<'b>,
        connect: ConnectOptions<'b>,
    ) -> Self {
        let mut slot = MaybeUninit::uninit();
        // Built around an empty engine, which the given one then replaces.
        let placeholder = EngineParts {
            tx: &mut [],
            store: &mut [],
            config: *engine.config(),
        };
        Self::init(&mut slot, stack, placeholder, rx, endpoint, connect).engine = engine;
        // SAFETY: `init` wrote every field of the slot.
        unsafe { slot.assume_init() }
    }

    /// Builds the client in `slot` field by field, its engine in place from `engine` (see
    /// `Engine::init`): with the default capacities the client is about 2 KB, and building it
    /// as one value first would put that much (and again for the move) on the stack.
    pub fn init<'s>(
        slot: &'s mut MaybeUninit<Self>,
        stack: S,
        engine: EngineParts<'b>,
        rx: &'b mut [u8],
        endpoint: Endpoint<'b>,
        connect: ConnectOptions<'b>,
    ) -> &'s mut Self {
        let client = slot.as_mut_ptr();
        // SAFETY: `client` points to the slot, valid for writes; each field is written once
        // through a raw projection (no reference to the partly written value is made; the
        // references made, to `endpoints` once written and to the engine's and the queue's
        // slots, cover one field each), and the field list
        // below stops compiling when a field is added and not written here. So every field is
        // initialised when the slot is assumed initialised.
        let client = unsafe {
            addr_of_mut!((*client).stack).write(stack);
            addr_of_mut!((*client).socket).write(None);
            // MaybeUninit<T> has T's layout; the reference covers the engine field only.
            let engine_slot = addr_of_mut!((*client).engine).cast::<MaybeUninit<Engine<'b>>>();
            Engine::init(&mut *engine_slot, engine);
            addr_of_mut!((*client).rx).write(rx);
            addr_of_mut!((*client).rx_start).write(0);
            addr_of_mut!((*client).rx_end).write(0);
            let endpoints = addr_of_mut!((*client).endpoints);
            endpoints.write(Vec::new());
            // MAX_ENDPOINTS >= 1 (build.rs), so the first endpoint always fits.
            let _ = (*endpoints).push(endpoint);
            addr_of_mut!((*client).endpoint_index).write(0);
            addr_of_mut!((*client).connect_options).write(connect);
            addr_of_mut!((*client).phase).write(Phase::Idle);
            addr_of_mut!((*client).connect_deadline).write(Instant(0));
            addr_of_mut!((*client).own_events).write(Deque::new());
            addr_of_mut!((*client).more_work).write(false);
            addr_of_mut!((*client).reconnect).write(ReconnectPolicy::OFF);
            addr_of_mut!((*client).want_connection).write(false);
            addr_of_mut!((*client).attempt).write(0);
            addr_of_mut!((*client).connected_on_attempt).write(false);
            addr_of_mut!((*client).jitter).write(0x9E37_79B9);
            Qos0Queue::init(&mut *addr_of_mut!((*client).qos0_queue).cast::<MaybeUninit<_>>());
            addr_of_mut!((*client).qos0_policy).write(Qos0Policy::RejectWhenFull);
            addr_of_mut!((*client).qos0_dropped).write(0);
            addr_of_mut!((*client).qos0_dropped_unreported).write(0);
            slot.assume_init_mut()
        };
        // Every field, by name: adding one fails to compile here until it is written above.
        let Client {
            stack: _,
            socket: _,
            engine: _,
            rx: _,
            rx_start: _,
            rx_end: _,
            endpoints: _,
            endpoint_index: _,
            connect_options: _,
            phase: _,
            connect_deadline: _,
            own_events: _,
            more_work: _,
            reconnect: _,
            want_connection: _,
            attempt: _,
            connected_on_attempt: _,
            jitter: _,
            qos0_queue: _,
            qos0_policy: _,
            qos0_dropped: _,
            qos0_dropped_unreported: _,
        } = &*client;
        client
    }

    /// Replaces the broker endpoints, tried in this order (failover). `InvalidArgument` when
    /// empty, `TooLarge` beyond `MAX_ENDPOINTS`.
    pub fn set_endpoints(&mut self, endpoints: &[Endpoint<'b>]) -> Result<(), Error> {
        if endpoints.is_empty() {
            return Err(Error::InvalidArgument);
        }
        self.endpoints = Vec::from_slice(endpoints).map_err(|_| Error::TooLarge)?;
        self.endpoint_index = 0;
        Ok(())
    }

    pub fn set_reconnect(&mut self, policy: ReconnectPolicy) {
        self.reconnect = policy;
    }

    pub fn set_qos0_policy(&mut self, policy: Qos0Policy) {
        self.qos0_policy = policy;
    }

    /// Stirs randomness (e.g. the platform's `random`) into the backoff jitter.
    pub fn mix_entropy(&mut self, random: u32) {
        self.jitter = (self.jitter ^ random).rotate_left(7) | 1;
    }

    /// The index of the endpoint in use, or tried next.
    pub fn endpoint_index(&self) -> usize {
        self.endpoint_index
    }

    /// QoS 0 messages dropped by [`Qos0Policy::DropOldest`] since the client was made.
    pub fn qos0_dropped(&self) -> u32 {
        self.qos0_dropped
    }

    /// QoS 0 messages waiting for a connection.
    pub fn qos0_queued(&self) -> usize {
        self.qos0_queue.entries.len()
    }

    /// Starts connecting: resolve, socket, TCP connect, CONNECT. Non-blocking; the outcome
    /// arrives as `Event::Connected`, `ConnectRefused` or `Disconnected` from `poll_once`.
    /// While a reconnect waits out its backoff, this starts the attempt now.
    /// `InvalidState` when connecting or connected.
    pub fn connect(&mut self, now: Instant) -> Result<(), Error> {
        self.close_if_engine_disconnected();
        match self.phase {
            Phase::Backoff(_) => {}
            Phase::Idle if self.engine.state() == State::Disconnected => {
                self.attempt = 0;
                self.endpoint_index = 0;
            }
            _ => return Err(Error::InvalidState),
        }
        self.want_connection = true;
        self.start_attempt(now);
        Ok(())
    }

    /// One connection attempt to the current endpoint.
    fn start_attempt(&mut self, now: Instant) {
        // Bytes of the old connection mean nothing on the new one.
        self.rx_start = 0;
        self.rx_end = 0;
        self.more_work = true;
        self.connected_on_attempt = false;
        self.connect_deadline = now.add_ms(self.engine.config().connect_timeout_ms);
        let endpoint = self.endpoint();
        self.phase = match ip_literal::parse(endpoint.host) {
            Some(ip) => Phase::TcpConnecting(SocketAddr::new(ip, endpoint.port)),
            None => Phase::Resolving,
        };
    }

    fn endpoint(&self) -> Endpoint<'b> {
        let first = Endpoint { host: "", port: 0 };
        let fallback = self.endpoints.first().copied().unwrap_or(first);
        self.endpoints
            .get(self.endpoint_index)
            .copied()
            .unwrap_or(fallback)
    }

    /// Ends the connection cleanly: DISCONNECT is sent, then the socket closes. Cancels a
    /// connection being set up and stops automatic reconnect. `InvalidState` when already
    /// disconnected or disconnecting.
    pub fn disconnect(&mut self, now: Instant) -> Result<(), Error> {
        let was_wanted = core::mem::replace(&mut self.want_connection, false);
        match self.phase {
            Phase::Idle => Err(Error::InvalidState),
            Phase::Backoff(_) | Phase::Resolving | Phase::TcpConnecting(_) => {
                self.close_socket();
                self.push_own(Dispatch::Event(Event::Disconnected { reason: None }));
                Ok(())
            }
            Phase::Mqtt => {
                if let Err(e) = self.engine.disconnect(now) {
                    self.want_connection = was_wanted;
                    return Err(e);
                }
                self.more_work = true;
                self.close_if_engine_disconnected();
                Ok(())
            }
        }
    }

    /// Publishes through the engine. QoS 1/2 go to the session store in any state. QoS 0 goes
    /// out now when connected; while a connection is wanted but not up (connecting,
    /// reconnecting, or lost) it waits in the offline queue, per the [`Qos0Policy`], and is
    /// sent in order once connected. QoS 0 before `connect` or after `disconnect`:
    /// `InvalidState`.
    pub fn publish(
        &mut self,
        now: Instant,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
    ) -> Result<Option<u16>, Error> {
        if qos != QoS::AtMostOnce {
            return self.engine.publish(now, topic, payload, qos, retain);
        }
        let connected = self.engine.state() == State::Connected;
        if connected && self.qos0_queue.is_empty() {
            return self.engine.publish(now, topic, payload, qos, retain);
        }
        if !self.want_connection && !connected {
            return Err(Error::InvalidState);
        }
        let len = wire::publish_len(topic, payload.len(), qos)?;
        if len > self.engine.tx_capacity() {
            return Err(Error::TooLarge);
        }
        let dropped = self
            .qos0_queue
            .push(topic, payload, retain, self.qos0_policy)?;
        self.qos0_dropped = self.qos0_dropped.saturating_add(dropped);
        self.qos0_dropped_unreported = self.qos0_dropped_unreported.saturating_add(dropped);
        if dropped > 0 || connected {
            self.more_work = true;
        }
        Ok(None)
    }

    pub fn state(&self) -> ClientState {
        match self.phase {
            Phase::Idle => ClientState::Disconnected,
            Phase::Backoff(_) => ClientState::Reconnecting,
            Phase::Resolving | Phase::TcpConnecting(_) => ClientState::Connecting,
            Phase::Mqtt => match self.engine.state() {
                State::Disconnected => ClientState::Disconnected,
                State::AwaitConnack => ClientState::Connecting,
                State::Connected => ClientState::Connected,
                State::Disconnecting => ClientState::Disconnecting,
            },
        }
    }

    /// The bytes that [`Dispatch`] ranges index.
    pub fn rx_window(&self) -> &[u8] {
        self.rx.get(..self.rx_end).unwrap_or(&[])
    }

    pub fn engine(&self) -> &Engine<'b> {
        &self.engine
    }

    pub fn engine_mut(&mut self) -> &mut Engine<'b> {
        &mut self.engine
    }

    pub fn stack(&self) -> &S {
        &self.stack
    }

    pub fn stack_mut(&mut self) -> &mut S {
        &mut self.stack
    }

    /// Milliseconds until `poll_once` has work that no socket readiness announces
    /// (0 = now); `None` when nothing is scheduled. Received data is not predicted: poll
    /// when the socket becomes readable, too.
    pub fn next_deadline(&self, now: Instant) -> Option<u32> {
        if self.more_work || !self.own_events.is_empty() || self.qos0_dropped_unreported > 0 {
            return Some(0);
        }
        let connect_left = now.ms_until(self.connect_deadline);
        match self.phase {
            Phase::Idle => None,
            Phase::Backoff(at) => Some(now.ms_until(at)),
            Phase::Resolving | Phase::TcpConnecting(_) => Some(connect_left.min(RETRY_POLL_MS)),
            Phase::Mqtt => {
                let mut due = self.engine.next_deadline(now);
                let queued = self.engine.state() == State::Connected && !self.qos0_queue.is_empty();
                if !self.engine.pending_transmit().is_empty() || queued {
                    due = Some(due.map_or(RETRY_POLL_MS, |d| d.min(RETRY_POLL_MS)));
                }
                if self.engine.state() == State::AwaitConnack {
                    due = Some(due.map_or(connect_left, |d| d.min(connect_left)));
                }
                due
            }
        }
    }

    /// Does one bounded step of work and returns at most one thing to dispatch; `None` when
    /// nothing more is due now. The bytes behind a returned range stay valid until the next call.
    pub fn poll_once(&mut self, now: Instant) -> Option<Dispatch> {
        self.more_work = false;
        let mut timeouts_checked = false;
        // Once the socket said WouldBlock, asking again in the same call only costs a syscall.
        let mut rx_idle = false;
        for _ in 0..STEP_BUDGET {
            self.check_connect_deadline(now);
            if let Some(dispatch) = self.next_notice(now) {
                self.more_work = true;
                return Some(dispatch);
            }
            match self.phase {
                Phase::Idle => return None,
                Phase::Backoff(at) => {
                    if !now.reached(at) {
                        return None;
                    }
                    self.start_attempt(now);
                }
                Phase::Resolving => {
                    if !self.resolve_step() {
                        return None;
                    }
                }
                Phase::TcpConnecting(addr) => {
                    if !self.tcp_connect_step(now, addr) {
                        return None;
                    }
                }
                Phase::Mqtt => match self.mqtt_step(now, &mut rx_idle) {
                    Step::Dispatch(dispatch) => {
                        // Under a steady inbound flow the socket is never quiet; due timers
                        // still run (the PINGREQ goes out with the next send).
                        if self.engine.next_deadline(now) == Some(0) {
                            self.engine.handle_timeout(now);
                        }
                        self.more_work = true;
                        return Some(dispatch);
                    }
                    Step::Progress => {}
                    Step::Stalled => {
                        if timeouts_checked {
                            return None;
                        }
                        // Timers run once the socket is quiet, so a PINGRESP already
                        // received is seen before the ping timeout is judged.
                        self.engine.handle_timeout(now);
                        timeouts_checked = true;
                    }
                },
            }
        }
        // Out of budget with work left: a busy socket must not starve the timers (a client
        // that only receives still owes the broker its PINGREQ).
        if !timeouts_checked {
            self.engine.handle_timeout(now);
        }
        self.close_if_engine_disconnected();
        self.more_work = true;
        None
    }

    /// The client's own notices first, then the engine's events, then a drop report; closes
    /// the socket once the engine has reached Disconnected, and schedules a reconnect when a
    /// connection ended.
    fn next_notice(&mut self, now: Instant) -> Option<Dispatch> {
        self.close_if_engine_disconnected();
        let dispatch = match self.own_events.pop_front() {
            Some(dispatch) => dispatch,
            None => match self.engine.poll_event() {
                Some(event) => Dispatch::Event(event),
                None if self.qos0_dropped_unreported > 0 => {
                    let count = core::mem::take(&mut self.qos0_dropped_unreported);
                    return Some(Dispatch::Qos0Dropped { count });
                }
                None => return None,
            },
        };
        if let Dispatch::Event(event) = dispatch {
            self.observe(now, event);
        }
        Some(dispatch)
    }

    fn observe(&mut self, now: Instant, event: Event) {
        match event {
            Event::Connected { .. } => {
                self.attempt = 0;
                self.connected_on_attempt = true;
            }
            Event::Disconnected { reason: None } => self.want_connection = false,
            Event::Disconnected { reason: Some(_) } | Event::ConnectRefused { .. } => {
                self.schedule_reconnect(now);
            }
            _ => {}
        }
    }

    /// After a lost connection: wait out the backoff, then try again. A connection that
    /// reached CONNACK is retried at the same endpoint; a failed attempt moves to the next.
    fn schedule_reconnect(&mut self, now: Instant) {
        self.close_if_engine_disconnected();
        if !self.want_connection || !self.reconnect.enabled || self.phase != Phase::Idle {
            return;
        }
        if !self.connected_on_attempt {
            let next = self.endpoint_index.saturating_add(1);
            self.endpoint_index = if next < self.endpoints.len() { next } else { 0 };
        }
        self.connected_on_attempt = false;
        self.attempt = self.attempt.saturating_add(1);
        let random = self.next_random();
        let delay_ms = self.reconnect.delay_ms(self.attempt, random);
        self.phase = Phase::Backoff(now.add_ms(delay_ms));
        self.push_own(Dispatch::Reconnecting {
            attempt: self.attempt,
            delay_ms,
            endpoint: self.endpoint_index,
        });
    }

    fn next_random(&mut self) -> u32 {
        // xorshift32: enough to spread the retries of many devices.
        let mut x = self.jitter | 1;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.jitter = x;
        x
    }

    fn push_own(&mut self, dispatch: Dispatch) {
        // Producers push at most two before a poll drains them; never drop the newest.
        if self.own_events.is_full() {
            self.own_events.pop_front();
        }
        let _ = self.own_events.push_back(dispatch);
    }

    /// Sends queued QoS 0 messages once the engine has written its renewals and re-sends,
    /// while tx has room.
    fn flush_offline_qos0(&mut self, now: Instant) {
        // Runs on every step: the empty queue, by far the common case, must cost nothing.
        if self.qos0_queue.is_empty()
            || self.engine.state() != State::Connected
            || self.engine.has_unsent()
        {
            return;
        }
        for _ in 0..OFFLINE_QOS0_MSGS {
            let Some((topic, payload, retain)) = self.qos0_queue.front() else {
                return;
            };
            match self
                .engine
                .publish(now, topic, payload, QoS::AtMostOnce, retain)
            {
                Ok(_) => {}
                Err(Error::Full) => return,
                // Checked when queued, so never; if it were, the message is reported dropped.
                Err(_) => {
                    self.qos0_dropped = self.qos0_dropped.saturating_add(1);
                    self.qos0_dropped_unreported = self.qos0_dropped_unreported.saturating_add(1);
                }
            }
            self.qos0_queue.pop_front();
        }
    }

    fn close_if_engine_disconnected(&mut self) {
        if self.phase == Phase::Mqtt && self.engine.state() == State::Disconnected {
            self.close_socket();
        }
    }

    fn close_socket(&mut self) {
        if let Some(socket) = self.socket.take() {
            // Nothing useful to do if close fails: the socket is abandoned either way.
            let _ = self.stack.close(socket);
        }
        self.phase = Phase::Idle;
    }

    /// Ends a connection attempt that failed before the engine was involved.
    fn fail_setup(&mut self, reason: Error) {
        self.close_socket();
        self.push_own(Dispatch::Event(Event::Disconnected {
            reason: Some(reason),
        }));
    }

    fn check_connect_deadline(&mut self, now: Instant) {
        if !now.reached(self.connect_deadline) {
            return;
        }
        match self.phase {
            Phase::Resolving | Phase::TcpConnecting(_) => self.fail_setup(Error::ConnectTimeout),
            Phase::Mqtt if self.engine.state() == State::AwaitConnack => {
                self.engine.connection_lost(now, Error::ConnectTimeout);
                self.close_if_engine_disconnected();
            }
            _ => {}
        }
    }

    /// Returns true when the phase moved on (success or failure).
    fn resolve_step(&mut self) -> bool {
        let endpoint = self.endpoint();
        match self.stack.get_host_by_name(endpoint.host, AddrType::Either) {
            Ok(ip) => {
                self.phase = Phase::TcpConnecting(SocketAddr::new(ip, endpoint.port));
                true
            }
            Err(nb::Error::WouldBlock) => false,
            Err(nb::Error::Other(_)) => {
                self.fail_setup(Error::Dns);
                true
            }
        }
    }

    /// Returns true when the phase moved on (success or failure).
    fn tcp_connect_step(&mut self, now: Instant, addr: SocketAddr) -> bool {
        let socket = match self.socket.as_mut() {
            Some(socket) => socket,
            None => match self.stack.socket() {
                Ok(socket) => self.socket.insert(socket),
                Err(_) => {
                    self.fail_setup(Error::Transport);
                    return true;
                }
            },
        };
        match self.stack.connect(socket, addr) {
            Ok(()) => {
                self.phase = Phase::Mqtt;
                if let Err(reason) = self.engine.connect(now, &self.connect_options) {
                    self.fail_setup(reason);
                }
                true
            }
            Err(nb::Error::WouldBlock) => false,
            Err(nb::Error::Other(_)) => {
                self.fail_setup(Error::Transport);
                true
            }
        }
    }

    /// Queued QoS 0 messages into tx when there is room, then one socket step.
    fn mqtt_step(&mut self, now: Instant, rx_idle: &mut bool) -> Step {
        self.flush_offline_qos0(now);
        self.socket_step(now, rx_idle)
    }

    /// One send, then one packet or one receive (skipped once `rx_idle`: the socket had
    /// nothing earlier in this call).
    fn socket_step(&mut self, now: Instant, rx_idle: &mut bool) -> Step {
        let sent = self.send_step(now);
        if self.engine.state() == State::Disconnected {
            return Step::Progress; // next_event closes the socket and reports why
        }
        match self.packet_step(now) {
            Step::Stalled => {}
            other => return other,
        }
        if self.engine.state() == State::Disconnected {
            return Step::Progress;
        }
        let received = !*rx_idle && self.receive_step(now);
        *rx_idle = !received;
        if received || sent {
            Step::Progress
        } else {
            Step::Stalled
        }
    }

    /// Sends what the engine has queued; true if any byte left.
    fn send_step(&mut self, now: Instant) -> bool {
        let Some(socket) = self.socket.as_mut() else {
            return false;
        };
        let pending = self.engine.pending_transmit();
        if pending.is_empty() {
            return false;
        }
        let pending_len = pending.len();
        match self.stack.send(socket, pending) {
            Ok(sent) => {
                // A stack claiming more than it was given sent at most what it was given.
                let sent = sent.min(pending_len);
                if sent > 0 {
                    self.engine.transmit_done(now, sent);
                }
                sent > 0
            }
            Err(nb::Error::WouldBlock) => false,
            Err(nb::Error::Other(e)) => {
                self.engine.connection_lost(now, transport_error(e.kind()));
                true
            }
        }
    }

    /// Feeds the buffered bytes to the engine, one packet at most.
    fn packet_step(&mut self, now: Instant) -> Step {
        if self.rx_start >= self.rx_end {
            return Step::Stalled;
        }
        let window = self.rx.get(..self.rx_end).unwrap_or(&[]);
        let input = window.get(self.rx_start..).unwrap_or(&[]);
        let handled = self.engine.handle_bytes(now, input);
        let consumed = handled.consumed.min(input.len());
        let dispatch = handled
            .incoming
            .map(|incoming| to_dispatch(window, incoming));
        self.rx_start = self.rx_start.saturating_add(consumed);
        match dispatch {
            Some(dispatch) => Step::Dispatch(dispatch),
            None if consumed > 0 => Step::Progress,
            None => {
                self.lose_if_packet_cannot_fit(now);
                Step::Stalled
            }
        }
    }

    /// A packet that needs more room than the whole rx buffer can never be read.
    fn lose_if_packet_cannot_fit(&mut self, now: Instant) {
        let buffered = self.rx_end.saturating_sub(self.rx_start);
        if buffered < self.rx.len() {
            return;
        }
        let input = self.rx.get(self.rx_start..self.rx_end).unwrap_or(&[]);
        if matches!(
            wire::frame(input, self.rx.len()),
            Err(Error::PacketTooLarge) | Ok(wire::Frame::Incomplete)
        ) {
            self.engine.connection_lost(now, Error::PacketTooLarge);
        }
    }

    /// Receives after the unconsumed tail; true if bytes arrived or the connection ended.
    fn receive_step(&mut self, now: Instant) -> bool {
        if !self.make_rx_room(now) {
            return true;
        }
        let Some(socket) = self.socket.as_mut() else {
            return false;
        };
        let Some(free) = self.rx.get_mut(self.rx_end..) else {
            return false;
        };
        if free.is_empty() {
            return false;
        }
        let free_len = free.len();
        match self.stack.receive(socket, free) {
            Ok(0) => {
                self.engine.connection_lost(now, Error::PeerClosed);
                true
            }
            Ok(received) => {
                self.rx_end = self.rx_end.saturating_add(received.min(free_len));
                true
            }
            Err(nb::Error::WouldBlock) => false,
            Err(nb::Error::Other(e)) => {
                self.engine.connection_lost(now, transport_error(e.kind()));
                true
            }
        }
    }

    /// Moves the unconsumed tail to the front. Only called before anything is dispatched in
    /// the current call, so no returned range is invalidated. False when the connection ended.
    fn make_rx_room(&mut self, now: Instant) -> bool {
        if self.rx_start == 0 {
            return true;
        }
        if self.rx_start >= self.rx_end {
            self.rx_start = 0;
            self.rx_end = 0;
        } else if self.rx_end == self.rx.len() {
            if !move_within(self.rx, self.rx_start, self.rx_end, 0) {
                // Never (rx_start < rx_end == rx.len()); the stream could not be followed.
                self.engine.connection_lost(now, Error::Malformed);
                return false;
            }
            self.rx_end = self.rx_end.saturating_sub(self.rx_start);
            self.rx_start = 0;
        }
        true
    }
}

fn transport_error(kind: TcpErrorKind) -> Error {
    match kind {
        TcpErrorKind::PipeClosed => Error::PeerClosed,
        _ => Error::Transport,
    }
}

fn to_dispatch(window: &[u8], incoming: Incoming<'_>) -> Dispatch {
    match incoming {
        Incoming::Message(m) => Dispatch::Message(MessageRef {
            topic: range_in(window, m.topic.as_bytes()),
            payload: range_in(window, m.payload),
            qos: m.qos,
            retain: m.retain,
            dup: m.dup,
            packet_id: m.packet_id,
        }),
        Incoming::Subscribed { packet_id, granted } => Dispatch::Subscribed {
            packet_id,
            granted: range_in(window, granted),
        },
    }
}

/// Where `part` lies in `window`. The engine hands back sub-slices of its input; anything else
/// (only an empty slice can be) becomes an empty range.
fn range_in(window: &[u8], part: &[u8]) -> Range<usize> {
    let start = (part.as_ptr() as usize).checked_sub(window.as_ptr() as usize);
    match start.and_then(|s| Some(s..s.checked_add(part.len())?)) {
        Some(range) if range.end <= window.len() => range,
        _ => 0..0,
    }
}
