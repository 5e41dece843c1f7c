//! Exactly once to the application (feature `store`, docs/STORE.md): with `rx_manual_ack`
//! an incoming new QoS 2 message is delivered and held here, without its `RxQos2` record
//! and without its PUBREC, until the application made its effect durable and called
//! `rx_done`. A reset before that loses nothing: the broker, never answered, re-sends it.

use super::{Engine, State};
use crate::error::Error;
use crate::wire::AckKind;

/// Messages delivered and awaiting `rx_done` at once; one more closes the connection
/// (`RxQos2Full`) unanswered, and the broker re-sends it on the next one.
pub const MAX_RX_AWAITING: usize = 8;

/// Ids delivered, awaiting the application. Integers only.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Awaiting {
    on: bool,
    /// (id, content hash) for the first `len`.
    ids: [(u16, u16); MAX_RX_AWAITING],
    len: u8,
}

impl Awaiting {
    pub(super) const fn new() -> Awaiting {
        Awaiting {
            on: false,
            ids: [(0, 0); MAX_RX_AWAITING],
            len: 0,
        }
    }

    fn used(&self) -> &[(u16, u16)] {
        self.ids.get(..usize::from(self.len)).unwrap_or_default()
    }

    fn position(&self, id: u16) -> Option<usize> {
        self.used().iter().position(|&(held, _)| held == id)
    }

    fn push(&mut self, id: u16, hash: u16) -> Result<(), Error> {
        let slot = self.ids.get_mut(usize::from(self.len));
        let slot = slot.ok_or(Error::RxQos2Full)?;
        *slot = (id, hash);
        self.len = self.len.saturating_add(1);
        Ok(())
    }

    fn remove(&mut self, index: usize) {
        let len = usize::from(self.len);
        if index >= len {
            return;
        }
        for k in index..len {
            if let Some([a, b]) = self.ids.get_mut(k..k.saturating_add(2)) {
                core::mem::swap(a, b);
            }
        }
        self.len = self.len.saturating_sub(1);
    }
}

impl<'b> Engine<'b> {
    /// Turns manual acknowledgement of incoming QoS 2 messages on or off (`rx_done`). Set it
    /// before the first connect; turning it off forgets nothing already awaiting.
    pub fn set_rx_manual_ack(&mut self, on: bool) {
        self.awaiting.on = on;
    }

    /// Messages delivered and awaiting `rx_done`.
    pub fn rx_awaiting(&self) -> usize {
        usize::from(self.awaiting.len)
    }

    /// An incoming QoS 2 PUBLISH under manual acknowledgement: Some(deliver), or None for the
    /// usual rule (the option is off, or the id was answered PUBREC already and waits for its
    /// PUBREL). A new id is held without record or PUBREC; a re-send of a held id is neither
    /// delivered again nor answered.
    pub(in crate::engine) fn rx_manual(
        &mut self,
        id: u16,
        hash: u16,
    ) -> Result<Option<bool>, Error> {
        // Without `qos2` the usual path refuses the PUBLISH (UnexpectedPacket).
        if !cfg!(feature = "qos2") || !self.awaiting.on || self.session.rx_qos2_known(id) {
            return Ok(None);
        }
        if self.awaiting.position(id).is_some() {
            return Ok(Some(false));
        }
        self.awaiting.push(id, hash)?;
        Ok(Some(true))
    }

    /// A new connection without the broker's session: it will not re-send what awaits.
    pub(in crate::engine) fn rx_manual_resume(&mut self, session_present: bool) {
        if !session_present {
            self.awaiting.len = 0;
        }
    }

    /// The application made the effect of message `id` durable: writes its `RxQos2` record,
    /// then sends the PUBREC (when connected; otherwise the broker's re-send after the next
    /// CONNACK is answered PUBREC as a duplicate). On an error nothing changed and `id` still
    /// awaits. Errors: `InvalidState` (option off), `InvalidArgument` (`id` not awaiting),
    /// `Full` (no room in tx now, or the store is full), `RxQos2Full`.
    pub fn rx_done(&mut self, id: u16) -> Result<(), Error> {
        if !self.awaiting.on {
            return Err(Error::InvalidState);
        }
        let index = self.awaiting.position(id).ok_or(Error::InvalidArgument)?;
        let hash = self.awaiting.used().get(index).map_or(0, |&(_, h)| h);
        let send = self.state == State::Connected && !self.disconnect_queued;
        if send && !self.has_ack_room() {
            return Err(Error::Full);
        }
        // Without `qos2` no message ever awaits (a QoS 2 PUBLISH ends the connection).
        #[cfg(feature = "qos2")]
        {
            let (_, evicted) = self.session.rx_qos2_receive(id, hash, false)?;
            self.report_evicted(evicted);
        }
        self.durable_rx(id, hash)?;
        self.awaiting.remove(index);
        if send {
            self.encode_ack(AckKind::Pubrec, id)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_awaiting_ids_cost_4_bytes_each_plus_2() {
        // build.rs counts this much in MQE_CLIENT_SIZE; docs/STORE.md states it.
        assert_eq!(core::mem::size_of::<Awaiting>(), 4 * MAX_RX_AWAITING + 2);
    }

    #[test]
    fn remove_keeps_the_order_of_the_others() {
        let mut a = Awaiting::new();
        for id in 1..=MAX_RX_AWAITING as u16 {
            a.push(id, id).unwrap();
        }
        assert_eq!(a.push(99, 0), Err(Error::RxQos2Full));
        a.remove(0);
        a.remove(a.position(5).unwrap());
        a.remove(usize::from(a.len));
        let ids: [u16; 6] = core::array::from_fn(|i| a.used()[i].0);
        assert_eq!(ids, [2, 3, 4, 6, 7, 8]);
        assert_eq!(a.len, 6);
    }
}
