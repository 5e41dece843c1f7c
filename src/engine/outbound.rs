//! Outputs: bytes to send (tx, and what waits for room in it) and events.

use super::commands::{filters_of, suback_len};
use super::{Engine, Event, FilterList, State};
use crate::bytes::{copy_into, move_within};
use crate::config::EVENT_QUEUE;
use crate::error::Error;
use crate::session::{Resend, SubKind};
use crate::time::Instant;
use crate::wire::{self, AckKind, QoS};

impl<'b> Engine<'b> {
    fn tx_free(&mut self) -> &mut [u8] {
        self.tx.get_mut(self.tx_len..).unwrap_or_default()
    }

    pub(super) fn tx_room(&self) -> usize {
        self.tx.len().saturating_sub(self.tx_len)
    }

    /// Runs an encoder on the free part of tx and keeps what it wrote. Always inlined: two
    /// lines around the encoder, so no monomorphised copy per packet kind is kept (issue 16).
    #[inline(always)]
    pub(super) fn encode_tx<F>(&mut self, encode: F) -> Result<(), Error>
    where
        F: FnOnce(&mut [u8]) -> Result<usize, Error>,
    {
        let written = encode(self.tx_free())?;
        self.tx_len = self.tx_len.saturating_add(written).min(self.tx.len());
        Ok(())
    }

    pub(super) fn encode_ack(&mut self, kind: AckKind, packet_id: u16) -> Result<(), Error> {
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
        self.flush_waiting(now);
    }

    /// `flush` when anything may wait: after a send or a completion usually nothing does, and
    /// the writer's entry and exit alone cost more than these checks (exact: with none of
    /// them it writes nothing).
    pub(super) fn flush_waiting(&mut self, now: Instant) {
        if self.state != State::Connected || self.ping_unsent || self.has_unsent() {
            self.flush(now);
        }
    }

    /// Writes into tx, in order, whatever waits for room: PINGREQ, stored QoS 1/2 packets,
    /// DISCONNECT.
    pub(super) fn flush(&mut self, now: Instant) {
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
            let renewals = Renewals {
                session: &self.session,
                batch: batch.clone(),
            };
            let free = self.tx.get_mut(self.tx_len..).unwrap_or_default();
            let Ok(written) = wire::encode_subscribe(free, packet_id, filters_of(&renewals)) else {
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
        let renewals = Renewals {
            session: &self.session,
            batch: pending.start..pending.start.saturating_add(count),
        };
        match wire::subscribe_len(filters_of(&renewals)) {
            Ok(len) if len <= room => count,
            _ => 0,
        }
    }

    // --- events ---

    pub(super) fn push_event(&mut self, event: Event) {
        // handle_bytes keeps room for its events; elsewhere a full queue (the caller
        // not draining it) loses the oldest event rather than the newest state change.
        if self.events.is_full() {
            self.events.pop_front();
        }
        let _ = self.events.push_back(event);
    }

    /// The next event; abandoned publishes are reported (and their slots freed) one per
    /// call once the queue is empty, so none is ever dropped for lack of queue room.
    /// Asked several times per client poll: the common answer, none, stays inline and cheap.
    #[inline]
    pub fn poll_event(&mut self) -> Option<Event> {
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        if !self.session.maybe_abandoned() {
            return None;
        }
        self.poll_abandoned()
    }

    #[inline(never)]
    fn poll_abandoned(&mut self) -> Option<Event> {
        let packet_id = self.session.take_abandoned()?;
        self.durable_ack(packet_id, crate::session::AckOutcome::Completed);
        Some(Event::PublishAbandoned { packet_id })
    }

    pub(super) fn event_room(&self) -> usize {
        EVENT_QUEUE.saturating_sub(self.events.len())
    }
}

/// Remembered subscriptions `batch` as a [`FilterList`], for a renewal SUBSCRIBE.
struct Renewals<'s, 'b> {
    session: &'s crate::session::Session<'b>,
    batch: core::ops::Range<usize>,
}

impl FilterList for Renewals<'_, '_> {
    fn count(&self) -> usize {
        self.batch.len()
    }
    fn get(&self, index: usize) -> Option<(&str, QoS)> {
        self.session
            .subscription(self.batch.start.checked_add(index)?)
    }
}
