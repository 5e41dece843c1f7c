//! Timers: keep-alive, and the CONNACK, PINGRESP, ack and DISCONNECT deadlines.

use super::{Engine, State};
use crate::error::Error;
use crate::time::Instant;

impl<'b> Engine<'b> {
    fn ping_timeout_deadline(&self, now: Instant) -> Option<u32> {
        self.deadline
            .filter(|_| self.ping_outstanding)
            .map(|d| now.ms_until(d))
    }

    fn keep_alive_deadline(&self, now: Instant) -> Option<u32> {
        let keep_alive_ms = self.keep_alive_ms();
        if keep_alive_ms == 0 || self.ping_outstanding {
            return None;
        }
        let since_sent = now.ms_until(self.last_sent.add_ms(keep_alive_ms));
        let since_received = now.ms_until(self.last_received.add_ms(keep_alive_ms));
        Some(since_sent.min(since_received))
    }

    /// Inline at opt-level 2/3 (`cfg(mqe_speed)`): `handle_timeout` runs on every poll.
    #[cfg_attr(mqe_speed, inline(always))]
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
                if self.deadline.is_some_and(|d| now.reached(d)) {
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
                if self.deadline.is_some_and(|d| now.reached(d)) {
                    self.finish(None);
                }
            }
            State::Disconnected => {}
        }
    }

    /// ms from `now` until `handle_timeout` has work (0 = now); None when no timer is armed.
    pub fn next_deadline(&self, now: Instant) -> Option<u32> {
        match self.state {
            State::AwaitConnack | State::Disconnecting => self.deadline.map(|d| now.ms_until(d)),
            State::Connected => [
                self.ping_timeout_deadline(now),
                self.ack_timeout_deadline(now),
                self.keep_alive_deadline(now),
            ]
            .into_iter()
            .flatten()
            .min(),
            State::Disconnected => None,
        }
    }
}
