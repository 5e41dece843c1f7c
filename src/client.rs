//! Drives one [`Engine`] over an `embedded_nal` TCP stack: resolve, TCP connect, moving bytes
//! between the socket and the engine, and the connection's lifecycle.
//!
//! Everything is non-blocking: every socket call may answer `WouldBlock`, and the work is picked
//! up again on the next [`Client::poll_once`]. Each call does a bounded amount of work.
//!
//! Received bytes are appended to the caller's rx buffer after the unconsumed tail; the buffer is
//! compacted only at the start of a later call, so the bytes a returned [`Dispatch`] points at stay
//! in place until the next call.

use core::net::{IpAddr, SocketAddr};
use core::ops::Range;

use embedded_nal::{nb, AddrType, Dns, TcpClientStack, TcpError, TcpErrorKind};

use crate::engine::{ConnectOptions, Engine, Event, Incoming, State};
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
/// until the next call on the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dispatch {
    Event(Event),
    Message(MessageRef),
    /// A SUBACK: one granted QoS (or 0x80 for failure) per filter, in the order subscribed.
    Subscribed {
        packet_id: u16,
        granted: Range<usize>,
    },
}

/// The client's connection state, as the application sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientState {
    Disconnected,
    /// Resolving, TCP connecting, or waiting for CONNACK.
    Connecting,
    Connected,
    /// DISCONNECT queued; the socket closes once it is sent.
    Disconnecting,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
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

/// One MQTT connection over a `TcpClientStack + Dns`, with caller-owned buffers.
pub struct Client<'b, S: TcpClientStack + Dns> {
    stack: S,
    socket: Option<S::TcpSocket>,
    engine: Engine<'b>,
    rx: &'b mut [u8],
    /// Unconsumed bytes are `rx[rx_start..rx_end]`.
    rx_start: usize,
    rx_end: usize,
    endpoint: Endpoint<'b>,
    connect_options: ConnectOptions<'b>,
    phase: Phase,
    /// Covers resolve + TCP + CONNACK.
    connect_deadline: Instant,
    /// An event the client raises itself (failures before the engine is involved).
    own_event: Option<Event>,
    /// The last poll ran out of its step budget with work left.
    more_work: bool,
}

impl<'b, S: TcpClientStack + Dns> Client<'b, S> {
    pub fn new(
        stack: S,
        engine: Engine<'b>,
        rx: &'b mut [u8],
        endpoint: Endpoint<'b>,
        connect: ConnectOptions<'b>,
    ) -> Self {
        Client {
            stack,
            socket: None,
            engine,
            rx,
            rx_start: 0,
            rx_end: 0,
            endpoint,
            connect_options: connect,
            phase: Phase::Idle,
            connect_deadline: Instant(0),
            own_event: None,
            more_work: false,
        }
    }

    /// Starts connecting: resolve, socket, TCP connect, CONNECT. Non-blocking; the outcome
    /// arrives as `Event::Connected`, `ConnectRefused` or `Disconnected` from `poll_once`.
    /// `InvalidState` unless disconnected.
    pub fn connect(&mut self, now: Instant) -> Result<(), Error> {
        self.close_if_engine_disconnected();
        if self.phase != Phase::Idle || self.engine.state() != State::Disconnected {
            return Err(Error::InvalidState);
        }
        // Bytes of the old connection mean nothing on the new one.
        self.rx_start = 0;
        self.rx_end = 0;
        self.own_event = None;
        self.more_work = true;
        self.connect_deadline = now.add_ms(self.engine.config().connect_timeout_ms);
        self.phase = match self.endpoint.host.parse::<IpAddr>() {
            Ok(ip) => Phase::TcpConnecting(SocketAddr::new(ip, self.endpoint.port)),
            Err(_) => Phase::Resolving,
        };
        Ok(())
    }

    /// Ends the connection cleanly: DISCONNECT is sent, then the socket closes. Cancels a
    /// connection still being set up. `InvalidState` when already disconnected or disconnecting.
    pub fn disconnect(&mut self, now: Instant) -> Result<(), Error> {
        match self.phase {
            Phase::Idle => Err(Error::InvalidState),
            Phase::Resolving | Phase::TcpConnecting(_) => {
                self.close_socket();
                self.own_event = Some(Event::Disconnected { reason: None });
                Ok(())
            }
            Phase::Mqtt => {
                self.engine.disconnect(now)?;
                self.more_work = true;
                self.close_if_engine_disconnected();
                Ok(())
            }
        }
    }

    pub fn state(&self) -> ClientState {
        match self.phase {
            Phase::Idle => ClientState::Disconnected,
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
        if self.more_work || self.own_event.is_some() {
            return Some(0);
        }
        let connect_left = now.ms_until(self.connect_deadline);
        match self.phase {
            Phase::Idle => None,
            Phase::Resolving | Phase::TcpConnecting(_) => Some(connect_left.min(RETRY_POLL_MS)),
            Phase::Mqtt => {
                let mut due = self.engine.next_deadline(now);
                if !self.engine.pending_transmit().is_empty() {
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
        for _ in 0..STEP_BUDGET {
            self.check_connect_deadline(now);
            if let Some(event) = self.next_event() {
                self.more_work = true;
                return Some(Dispatch::Event(event));
            }
            match self.phase {
                Phase::Idle => return None,
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
                Phase::Mqtt => match self.socket_step(now) {
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

    /// The client's own event first, then the engine's; closes the socket once the engine
    /// has reached Disconnected.
    fn next_event(&mut self) -> Option<Event> {
        self.close_if_engine_disconnected();
        if let Some(event) = self.own_event.take() {
            return Some(event);
        }
        self.engine.poll_event()
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
        self.own_event = Some(Event::Disconnected {
            reason: Some(reason),
        });
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
        match self
            .stack
            .get_host_by_name(self.endpoint.host, AddrType::Either)
        {
            Ok(ip) => {
                self.phase = Phase::TcpConnecting(SocketAddr::new(ip, self.endpoint.port));
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

    /// One send, then one packet or one receive.
    fn socket_step(&mut self, now: Instant) -> Step {
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
        if self.receive_step(now) || sent {
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
        self.make_rx_room();
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
    /// the current call, so no returned range is invalidated.
    fn make_rx_room(&mut self) {
        if self.rx_start == 0 {
            return;
        }
        if self.rx_start >= self.rx_end {
            self.rx_start = 0;
            self.rx_end = 0;
        } else if self.rx_end == self.rx.len() {
            self.rx.copy_within(self.rx_start..self.rx_end, 0);
            self.rx_end = self.rx_end.saturating_sub(self.rx_start);
            self.rx_start = 0;
        }
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
