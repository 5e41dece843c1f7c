//! The connection's lifecycle, driven by `poll_once`: connect (resolve, TCP, CONNECT),
//! disconnect, deadlines, and the notices handed to the application.

use core::net::SocketAddr;

use embedded_nal::{nb, AddrType, Dns, TcpClientStack};

use super::io::Step;
use super::{ip_literal, Client, Dispatch, PeerAddr, Phase, RETRY_POLL_MS};
use crate::engine::{Event, State};
use crate::time::Instant;
use crate::Error;

/// Socket steps (send, handle one packet, receive) one `poll_once` may take before it yields.
const STEP_BUDGET: usize = 32;

impl<'b, S: TcpClientStack + Dns> Client<'b, S> {
    /// Starts connecting: resolve, socket, TCP connect, CONNECT. Non-blocking; the outcome
    /// arrives as `Event::Connected`, `ConnectRefused` or `Disconnected` from `poll_once`.
    /// While a reconnect waits out its backoff, this starts the attempt now.
    /// `InvalidState` when connecting or connected.
    pub fn connect(&mut self, now: Instant) -> Result<(), Error> {
        self.close_if_engine_disconnected();
        match self.phase {
            Phase::Backoff(_) => {}
            Phase::Idle if self.engine.state() == State::Disconnected => {
                #[cfg(any(feature = "reconnect", feature = "link"))]
                {
                    self.attempt = 0;
                }
                #[cfg(feature = "reconnect")]
                {
                    self.endpoint_index = 0;
                }
            }
            _ => return Err(Error::InvalidState),
        }
        self.want_connection = true;
        if self.link_blocks_attempt() {
            // Starts at link-up.
            self.phase = Phase::Idle;
            return Ok(());
        }
        self.start_attempt(now);
        Ok(())
    }

    /// One connection attempt to the current endpoint.
    pub(super) fn start_attempt(&mut self, now: Instant) {
        // Bytes of the old connection mean nothing on the new one.
        self.rx_start = 0;
        self.rx_end = 0;
        self.more_work = true;
        #[cfg(feature = "reconnect")]
        {
            self.connected_on_attempt = false;
        }
        self.stats.new_connection();
        self.connect_deadline = now.add_ms(self.engine.config().connect_timeout_ms);
        let endpoint = self.endpoint();
        self.phase = match ip_literal::parse(endpoint.host) {
            Some(ip) => Phase::TcpConnecting(PeerAddr {
                ip,
                port: endpoint.port,
            }),
            None => Phase::Resolving,
        };
        // Delivered by the next `next_notice`, before any socket step of this attempt.
        if self.ask_credentials {
            let refused = self.last_refusal;
            self.push_own(Dispatch::CredentialsNeeded { refused });
        }
    }

    /// Ends the attempt being set up (resolve or TCP connect) with `reason`, as a failed
    /// attempt: reported as `Disconnected`, then retried per the reconnect policy.
    pub fn abort_attempt(&mut self, reason: Error) {
        if matches!(self.phase, Phase::Resolving | Phase::TcpConnecting(_)) {
            self.fail_setup(reason);
        }
    }

    /// Ends the connection cleanly: DISCONNECT is sent, then the socket closes. Cancels a
    /// connection being set up and stops automatic reconnect. `InvalidState` when already
    /// disconnected or disconnecting.
    pub fn disconnect(&mut self, now: Instant) -> Result<(), Error> {
        let was_wanted = core::mem::replace(&mut self.want_connection, false);
        match self.phase {
            #[cfg(feature = "link")]
            Phase::Idle if was_wanted && !self.link_is_up() => {
                self.push_own(Dispatch::Event(Event::Disconnected { reason: None }));
                Ok(())
            }
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

    /// Milliseconds until `poll_once` has work that no socket readiness announces
    /// (0 = now); `None` when nothing is scheduled. Received data is not predicted: poll
    /// when the socket becomes readable, too.
    pub fn next_deadline(&self, now: Instant) -> Option<u32> {
        if self.more_work
            || !self.own_events.is_empty()
            || self.qos0_queue.has_unreported()
            || self.idle_unreported()
        {
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
                    self.stats.reconnect();
                    self.start_attempt(now);
                }
                Phase::Resolving => {
                    if !self.resolve_step() {
                        return None;
                    }
                }
                Phase::TcpConnecting(addr) => {
                    if !self.tcp_connect_step(now, addr.socket()) {
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
                None if self.qos0_queue.has_unreported() => {
                    let count = self.qos0_queue.take_unreported();
                    return Some(Dispatch::Qos0Dropped { count });
                }
                None => return self.idle_notice(),
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
                self.last_refusal = 0;
                self.link_on_connected(now, self.failed_attempts());
                self.stats.connected();
                #[cfg(any(feature = "reconnect", feature = "link"))]
                {
                    self.attempt = 0;
                }
                #[cfg(feature = "reconnect")]
                {
                    self.connected_on_attempt = true;
                }
            }
            Event::Disconnected { reason: None } => self.want_connection = false,
            Event::Disconnected { reason: Some(_) } => {
                self.link_on_lost(now);
                self.schedule_reconnect(now);
            }
            Event::ConnectRefused { code } => {
                self.last_refusal = code;
                if !self.link_on_refused(code) {
                    self.schedule_reconnect(now);
                }
            }
            _ => {}
        }
    }

    pub(super) fn push_own(&mut self, dispatch: Dispatch) {
        // Producers push at most two before a poll drains them; never drop the newest.
        if self.own_events.is_full() {
            self.own_events.pop_front();
        }
        let _ = self.own_events.push_back(dispatch);
    }

    pub(super) fn close_if_engine_disconnected(&mut self) {
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
    pub(super) fn fail_setup(&mut self, reason: Error) {
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
                self.phase = Phase::TcpConnecting(PeerAddr {
                    ip,
                    port: endpoint.port,
                });
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
}
