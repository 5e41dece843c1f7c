//! Commands: what the application asks of the connection.

use super::{ConnectOptions, Engine, State};
use crate::error::Error;
use crate::session::SubKind;
use crate::time::Instant;
use crate::wire::{self, QoS};

/// Bytes of the SUBACK that answers a SUBSCRIBE of `filters` filters: it must fit the rx
/// buffer, or the answer itself would end the connection.
pub(super) fn suback_len(filters: usize) -> usize {
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
        self.durable_publish()?;
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
        self.durable_subscriptions_fit(filters.clone())?;
        // On flash before the SUBSCRIBE goes out: a subscription the broker may hold is one
        // the client renews after a reset.
        self.durable_subscribe(filters.clone())?;
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
        let journaled = filters.clone();
        let packet_id =
            self.send_sub_request(now, SubKind::Unsubscribe, len, count, |out, id| {
                wire::encode_unsubscribe(out, id, filters)
            })?;
        self.session.forget_subscriptions(forgotten);
        self.durable_unsubscribe(journaled);
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

    pub(super) fn start_ping(&mut self, now: Instant) {
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
}
