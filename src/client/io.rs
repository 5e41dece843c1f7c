//! Moving bytes between the socket and the engine: send, feed one packet, receive into the
//! rx buffer after the unconsumed tail.

use core::ops::Range;

use embedded_nal::{nb, Dns, TcpClientStack, TcpError, TcpErrorKind};

use super::{Client, Dispatch, MessageRef};
use crate::bytes::move_within;
use crate::engine::{Incoming, State};
use crate::time::Instant;
use crate::Error;

/// What one socket step achieved.
pub(super) enum Step {
    Dispatch(Dispatch),
    Progress,
    Stalled,
}

impl<'b, S: TcpClientStack + Dns> Client<'b, S> {
    /// Queued QoS 0 messages into tx when there is room, then one socket step.
    pub(super) fn mqtt_step(&mut self, now: Instant, rx_idle: &mut bool) -> Step {
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
                self.stats.sent(pending.get(..sent).unwrap_or(&[]));
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
    #[inline(always)]
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
            // Nothing the engine waits for outgrows rx (`Engine::limit_rx_packet`): a larger
            // PUBLISH is read past, anything else larger ends the connection.
            None => Step::Stalled,
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
                let received = received.min(free_len);
                self.stats.received(free.get(..received).unwrap_or(&[]));
                self.rx_end = self.rx_end.saturating_add(received);
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
        Incoming::Oversized(o) => Dispatch::Oversized {
            topic: o.topic.map(|t| range_in(window, t.as_bytes())),
            size: o.size,
            qos: o.qos,
            packet_id: o.packet_id,
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
