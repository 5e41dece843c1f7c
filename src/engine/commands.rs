//! Commands: what the application asks of the connection.

use super::{ConnectOptions, Engine, State};
use crate::error::Error;
use crate::session::{SubKind, MAX_SUB_FILTERS};
use crate::time::Instant;
use crate::wire::{self, QoS};

/// Bytes of the SUBACK that answers a SUBSCRIBE of `filters` filters: it must fit the rx
/// buffer, or the answer itself would end the connection.
pub(super) fn suback_len(filters: usize) -> usize {
    wire::packet_len(filters.saturating_add(2)).unwrap_or(usize::MAX)
}

/// Topic filters with their requested QoS, read by index: what `Engine::subscribe_list` takes,
/// so that SUBSCRIBE is built by one non-generic path from a slice, the C API's array or an
/// iterator.
pub trait FilterList {
    fn count(&self) -> usize;
    /// Filter `index` (`< count()`), or `None` if it cannot be read (it is then skipped).
    fn get(&self, index: usize) -> Option<(&str, QoS)>;
}

impl<const N: usize> FilterList for [(&str, QoS); N] {
    fn count(&self) -> usize {
        N
    }
    fn get(&self, index: usize) -> Option<(&str, QoS)> {
        self.as_slice().get(index).copied()
    }
}

/// The filters of `list` in order: one iterator type, so the encoders are built once for
/// every SUBSCRIBE (the app's and the renewals).
pub(super) fn filters_of(list: &dyn FilterList) -> impl Iterator<Item = (&str, QoS)> + Clone {
    (0..list.count()).filter_map(move |i| list.get(i))
}

/// An iterator as a [`FilterList`] (the Rust API's `subscribe`): few filters, so re-walking
/// it per index costs nothing that matters.
/// (`'f` in the type, so that a borrow of it cannot outlive the filters.)
struct IterList<'f, I>(I, core::marker::PhantomData<&'f str>);

impl<'f, I: Iterator<Item = (&'f str, QoS)> + Clone> FilterList for IterList<'f, I> {
    fn count(&self) -> usize {
        self.0.clone().count()
    }
    fn get(&self, index: usize) -> Option<(&str, QoS)> {
        self.0.clone().nth(index)
    }
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
    /// `Full` while the event queue is full: the connection's `Disconnected` (pushed outside
    /// `handle_bytes`, e.g. by a timeout) must find a slot, or the oldest event would be lost.
    pub fn connect(&mut self, now: Instant, opts: &ConnectOptions) -> Result<(), Error> {
        if self.state != State::Disconnected {
            return Err(Error::InvalidState);
        }
        if self.events.is_full() {
            return Err(Error::Full);
        }
        let len = wire::connect_len(opts)?;
        if len > self.tx.len() {
            return Err(Error::TooLarge);
        }
        self.tx_len = 0;
        self.encode_tx(|out| wire::encode_connect(out, opts))?;
        self.clean_session = opts.clean_session;
        self.keep_alive_s = opts.keep_alive_s;
        self.deadline = match self.config.connect_timeout_ms {
            0 => None,
            ms => Some(now.add_ms(ms)),
        };
        self.last_sent = now;
        self.last_received = now;
        self.ping_unsent = false;
        self.ping_outstanding = false;
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
        // Without the `qos2` feature QoS 2 is refused, so its exchanges are never started.
        #[cfg(not(feature = "qos2"))]
        if qos == QoS::ExactlyOnce {
            return Err(Error::InvalidQos);
        }
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
    /// `TooLarge` when it or its SUBACK can never fit, or for more than 65,535 filters.
    pub fn subscribe<'f, I>(&mut self, now: Instant, filters: I) -> Result<u16, Error>
    where
        I: Iterator<Item = (&'f str, QoS)> + Clone,
    {
        self.subscribe_list(now, &IterList(filters, core::marker::PhantomData))
    }

    /// `subscribe` for a [`FilterList`]: the one SUBSCRIBE path (one copy in the image,
    /// whatever the callers' filter sources; issue 16).
    pub fn subscribe_list(&mut self, now: Instant, list: &dyn FilterList) -> Result<u16, Error> {
        if self.state != State::Connected {
            return Err(Error::InvalidState);
        }
        let filters = filters_of(list);
        // Without `qos2` a broker must not send QoS 2 (§3.8.4): ask for at most QoS 1.
        #[cfg(not(feature = "qos2"))]
        if filters.clone().any(|(_, qos)| qos == QoS::ExactlyOnce) {
            return Err(Error::InvalidQos);
        }
        let len = wire::subscribe_len(filters.clone())?;
        let count = list.count();
        if count > MAX_SUB_FILTERS || suback_len(count) > self.config.max_rx_packet {
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
            0 => self.keep_alive_ms() / 2,
            ms => ms,
        };
        // Only in Connected (`ping` and the keep-alive check it), whose deadline this is.
        self.deadline = (timeout > 0).then(|| now.add_ms(timeout));
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
                // Replaces a ping's deadline: a PINGRESP is no longer awaited.
                self.deadline = match self.config.connect_timeout_ms {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Config, Event, DEFAULT_OVERSIZED_LIMIT, DEFAULT_PUBREL_MAX_CONNECTIONS};

    #[test]
    fn connect_waits_for_event_room_so_no_disconnected_is_lost() {
        let (mut tx, mut store) = ([0u8; 128], [0u8; 64]);
        let config = Config {
            inflight_window: 1,
            connect_timeout_ms: 1000,
            ack_timeout_ms: 0,
            ping_timeout_ms: 0,
            max_rx_packet: 128,
            pubrel_max_connections: DEFAULT_PUBREL_MAX_CONNECTIONS,
            oversized_limit: DEFAULT_OVERSIZED_LIMIT,
        };
        let mut engine = Engine::new(&mut tx, &mut store, config);
        let opts = ConnectOptions {
            client_id: "c",
            keep_alive_s: 0,
            clean_session: true,
            username: None,
            password: None,
            will: None,
        };
        // Attempts that time out, with nobody draining the events.
        let mut now = Instant(0);
        for _ in 0..crate::config::EVENT_QUEUE {
            assert_eq!(engine.connect(now, &opts), Ok(()));
            now = now.add_ms(1000);
            engine.handle_timeout(now);
            assert_eq!(engine.state(), State::Disconnected);
        }
        assert_eq!(engine.connect(now, &opts), Err(Error::Full));
        for _ in 0..crate::config::EVENT_QUEUE {
            assert_eq!(
                engine.poll_event(),
                Some(Event::Disconnected {
                    reason: Some(Error::ConnectTimeout)
                })
            );
        }
        assert_eq!(engine.poll_event(), None);
        assert_eq!(engine.connect(now, &opts), Ok(()));
    }
}
