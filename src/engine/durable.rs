//! The session store's hooks: each state change of the durable session is journaled before
//! it takes effect outside (before `publish` returns, before a message is delivered). Without
//! the `store` feature every hook is an empty inline function.

use super::Engine;
use crate::error::Error;
use crate::session::AckOutcome;

#[cfg(feature = "store")]
pub use enabled::Restored;

#[cfg(feature = "store")]
mod enabled {
    use super::super::State;
    use super::*;
    use crate::store::{Journal, Record};

    /// The filters of a SUBSCRIBE, as the records the store would take.
    struct Filters<I>(I);

    impl<'f, I> crate::store::Image for Filters<I>
    where
        I: Iterator<Item = (&'f str, crate::wire::QoS)> + Clone,
    {
        fn visit(&self, f: &mut dyn FnMut(Record<'_>) -> bool) -> bool {
            self.0.clone().all(|(filter, qos)| {
                f(Record::Subscribe {
                    qos: qos as u8,
                    filter: filter.as_bytes(),
                })
            })
        }
    }

    /// What `attach_store` brought back from flash.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Restored {
        /// Outgoing QoS 1/2 messages restored (PUBLISH or PUBREL to re-send).
        pub outgoing: usize,
        /// Incoming QoS 2 ids restored (each waits for its PUBREL).
        pub rx_qos2: usize,
        /// Records applied.
        pub records: u32,
        /// Records that did not fit this build's capacities or were malformed: dropped.
        pub dropped: u32,
        /// Records that failed their CRC (torn by a cut, or damaged): skipped, never trusted.
        pub corrupt: u32,
    }

    impl<'b> Engine<'b> {
        /// Restores the session from `journal` and journals every change from now on. Call it
        /// once, before the first `connect`: the next connection re-sends what was in flight
        /// as after a reconnect (same ids, DUP=1, PUBRELs re-sent).
        pub fn attach_store(
            &mut self,
            journal: &'b mut (dyn Journal + 'static),
        ) -> Result<Restored, Error> {
            if self.state != State::Disconnected || self.journal.is_some() {
                return Err(Error::InvalidState);
            }
            let mut restored = Restored::default();
            let session = &mut self.session;
            // tx is free before the first connect, and no PUBLISH is ever larger than it.
            let replayed = journal.replay(self.tx, &mut |record| {
                restored.records = restored.records.saturating_add(1);
                if !session.restore(record) {
                    restored.dropped = restored.dropped.saturating_add(1);
                }
            });
            replayed.map_err(|_| Error::InvalidState)?;
            restored.corrupt = journal.stats().corrupt_records;
            restored.outgoing = self.session.inflight();
            restored.rx_qos2 = self.session.rx_qos2_count();
            // A broker that lost the session while we were down is reported as SessionLost.
            self.had_session = restored.outgoing > 0 || restored.rx_qos2 > 0;
            self.journal = Some(journal);
            self.push_event(super::super::Event::Restored {
                outgoing: u16::try_from(restored.outgoing).unwrap_or(u16::MAX),
                rx_qos2: u16::try_from(restored.rx_qos2).unwrap_or(u16::MAX),
                corrupt: u16::try_from(restored.corrupt).unwrap_or(u16::MAX),
            });
            Ok(restored)
        }

        /// A store is attached.
        pub fn has_store(&self) -> bool {
            self.journal.is_some()
        }

        fn journal(&mut self, record: Record<'_>) -> Result<(), Error> {
            let Some(journal) = self.journal.as_deref_mut() else {
                return Ok(());
            };
            journal
                .append(record, &self.session)
                .map_err(|_| Error::Full)
        }

        /// The message `publish` just stored: on flash before `publish` returns, or taken back
        /// (`Full`: back-pressure, never a silent drop).
        pub(in crate::engine) fn durable_publish(&mut self) -> Result<(), Error> {
            let Some(journal) = self.journal.as_deref_mut() else {
                return Ok(());
            };
            let result = match self.session.last_publish() {
                // The session already holds it, so the image with nothing extra must fit.
                Some((packet_id, packet)) if journal.fits(Record::RxClear, &self.session) => {
                    journal
                        .append(Record::Publish { packet_id, packet }, &self.session)
                        .map_err(|_| Error::Full)
                }
                _ => Err(Error::Full),
            };
            if result.is_err() {
                self.session.drop_last();
            }
            result
        }

        /// PUBREC or PUBACK/PUBCOMP accepted. A failed write is not fatal: the flash then
        /// holds an older stage, and after a reset the message is re-sent, which the broker
        /// answers as a duplicate (PUBACK, or PUBREC for a QoS 2 id it holds).
        pub(in crate::engine) fn durable_ack(&mut self, packet_id: u16, outcome: AckOutcome) {
            let record = match outcome {
                AckOutcome::Completed => Record::Done(packet_id),
                AckOutcome::SendPubrel => Record::Pubrel(packet_id),
            };
            let _ = self.journal(record);
        }

        /// An incoming QoS 2 id, before its message is delivered. Full when it cannot be stored:
        /// the message is refused (the connection ends, the broker re-sends it later).
        pub(in crate::engine) fn durable_rx(
            &mut self,
            packet_id: u16,
            hash: u16,
        ) -> Result<(), Error> {
            let Some(journal) = self.journal.as_deref_mut() else {
                return Ok(());
            };
            let record = Record::RxQos2 {
                id: packet_id,
                hash,
            };
            // The session holds the id already: the image with nothing extra must fit.
            let stored = journal.fits(Record::RxClear, &self.session)
                && journal.append(record, &self.session).is_ok();
            if !stored {
                self.session.rx_qos2_release(packet_id);
                return Err(Error::Full);
            }
            Ok(())
        }

        /// PUBREL for an incoming id: journaled when the id was known.
        pub(in crate::engine) fn durable_rx_release(&mut self, known: bool, packet_id: u16) {
            if known {
                let _ = self.journal(Record::RxRelease(packet_id));
            }
        }

        /// Refuses (`Full`) a SUBSCRIBE whose filters the store could not hold; checked before
        /// it is sent.
        pub(in crate::engine) fn durable_subscriptions_fit<'f, I>(
            &self,
            filters: I,
        ) -> Result<(), Error>
        where
            I: Iterator<Item = (&'f str, crate::wire::QoS)> + Clone,
        {
            let Some(journal) = self.journal.as_deref() else {
                return Ok(());
            };
            let extra = Filters(filters);
            if journal.fits_all(&self.session, &extra) {
                Ok(())
            } else {
                Err(Error::Full)
            }
        }

        /// The filters of a SUBSCRIBE, remembered for renewal, before it is sent; `Full`
        /// when they cannot be written (nothing is sent then). Records written for a
        /// SUBSCRIBE that is then not sent only renew it after a reset.
        pub(in crate::engine) fn durable_subscribe<'f, I>(
            &mut self,
            filters: I,
        ) -> Result<(), Error>
        where
            I: Iterator<Item = (&'f str, crate::wire::QoS)>,
        {
            for (filter, qos) in filters {
                let record = Record::Subscribe {
                    qos: qos as u8,
                    filter: filter.as_bytes(),
                };
                self.journal(record)?;
            }
            Ok(())
        }

        /// The filters of an UNSUBSCRIBE, no longer renewed.
        pub(in crate::engine) fn durable_unsubscribe<'f, I>(&mut self, filters: I)
        where
            I: Iterator<Item = &'f str>,
        {
            for filter in filters {
                let record = Record::Unsubscribe {
                    filter: filter.as_bytes(),
                };
                if self.journal(record).is_err() {
                    return;
                }
            }
        }

        /// The broker kept no session: the incoming ids were forgotten.
        pub(in crate::engine) fn durable_rx_clear(&mut self, had_ids: bool) {
            if had_ids {
                let _ = self.journal(Record::RxClear);
            }
        }

        pub(in crate::engine) fn rx_qos2_known(&self, packet_id: u16) -> bool {
            self.session.rx_qos2_known(packet_id)
        }

        pub(in crate::engine) fn rx_qos2_any(&self) -> bool {
            self.session.rx_qos2_count() > 0
        }
    }
}

#[cfg(not(feature = "store"))]
impl Engine<'_> {
    #[inline(always)]
    pub(in crate::engine) fn durable_subscriptions_fit<'f, I>(
        &self,
        _filters: I,
    ) -> Result<(), Error>
    where
        I: Iterator<Item = (&'f str, crate::wire::QoS)> + Clone,
    {
        Ok(())
    }
    #[inline(always)]
    pub(in crate::engine) fn durable_subscribe<'f, I>(&mut self, _filters: I) -> Result<(), Error>
    where
        I: Iterator<Item = (&'f str, crate::wire::QoS)>,
    {
        Ok(())
    }
    #[inline(always)]
    pub(in crate::engine) fn durable_unsubscribe<'f, I>(&mut self, _filters: I)
    where
        I: Iterator<Item = &'f str>,
    {
    }
    #[inline(always)]
    pub(in crate::engine) fn durable_publish(&mut self) -> Result<(), Error> {
        Ok(())
    }
    #[inline(always)]
    pub(in crate::engine) fn durable_ack(&mut self, _packet_id: u16, _outcome: AckOutcome) {}
    #[inline(always)]
    pub(in crate::engine) fn durable_rx(
        &mut self,
        _packet_id: u16,
        _hash: u16,
    ) -> Result<(), Error> {
        Ok(())
    }
    #[inline(always)]
    pub(in crate::engine) fn durable_rx_release(&mut self, _known: bool, _packet_id: u16) {}
    #[inline(always)]
    pub(in crate::engine) fn durable_rx_clear(&mut self, _had_ids: bool) {}
    #[inline(always)]
    pub(in crate::engine) fn rx_qos2_known(&self, _packet_id: u16) -> bool {
        false
    }
    #[inline(always)]
    pub(in crate::engine) fn rx_qos2_any(&self) -> bool {
        false
    }
}
