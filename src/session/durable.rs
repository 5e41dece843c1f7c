//! The session's durable part, as the store sees it: [`Record`]s out (a snapshot, the newest
//! publish) and in (restore). Only what survives a reset crosses this boundary: runtime
//! fields (sent on this connection, timers, pending SUBSCRIBEs, rx confirmations) never do.

use super::{Outgoing, Session, Stage};
use crate::store::{Image, Record};
use crate::time::Instant;
use crate::wire::{validate_utf8, QoS, PUBLISH_DUP_FLAG};

impl Image for Session<'_> {
    fn visit(&self, f: &mut dyn FnMut(Record<'_>) -> bool) -> bool {
        if !f(Record::NextId(self.next_id)) {
            return false;
        }
        let mut start = 0usize;
        for o in self.outgoing.iter() {
            let end = start.saturating_add(o.len);
            let record = match o.stage {
                Stage::AwaitPubcomp => Record::Pubrel(o.packet_id),
                // Reported and forgotten at the next event poll: as good as done.
                Stage::Abandoned => {
                    start = end;
                    continue;
                }
                Stage::AwaitPuback | Stage::AwaitPubrec => Record::Publish {
                    packet_id: o.packet_id,
                    packet: self.store.get(start..end).unwrap_or_default(),
                },
            };
            start = end;
            if !f(record) {
                return false;
            }
        }
        let subscriptions = (0..self.subscription_count()).all(|i| match self.subscription(i) {
            Some((filter, qos)) => f(Record::Subscribe {
                qos: qos as u8,
                filter: filter.as_bytes(),
            }),
            None => true,
        });
        subscriptions
            && self.rx_qos2.visit(&mut |id, len, hash| match hash {
                Some(hash) => f(Record::RxQos2 { id, hash }),
                None => f(Record::RxRun {
                    start: id,
                    len: u16::try_from(len).unwrap_or(u16::MAX),
                }),
            })
    }
}

impl Session<'_> {
    /// The newest outgoing message: its id and encoded PUBLISH.
    pub(crate) fn last_publish(&self) -> Option<(u16, &[u8])> {
        let index = self.outgoing.len().checked_sub(1)?;
        let o = self.outgoing.get(index)?;
        let start = self.entry_start(index);
        Some((
            o.packet_id,
            self.store.get(start..start.checked_add(o.len)?)?,
        ))
    }

    /// Takes back the newest message: its record could not be stored.
    pub(crate) fn drop_last(&mut self) {
        if let Some(index) = self.outgoing.len().checked_sub(1) {
            self.remove(index);
        }
    }

    #[cfg_attr(not(feature = "qos2"), allow(dead_code))] // PUBREL handling is `qos2`'s
    pub(crate) fn rx_qos2_known(&self, packet_id: u16) -> bool {
        self.rx_qos2.holds(packet_id)
    }

    /// Incoming QoS 2 ids held.
    pub(crate) fn rx_qos2_count(&self) -> usize {
        self.rx_qos2.open_ids() as usize
    }

    /// Applies one restored record. Replaying a record twice changes nothing. False when it
    /// does not fit this build's capacities (or is malformed): it is then dropped.
    pub(crate) fn restore(&mut self, record: Record<'_>) -> bool {
        match record {
            Record::NextId(id) => {
                self.next_id = id.max(1);
                true
            }
            Record::Publish { packet_id, packet } => self.restore_publish(packet_id, packet),
            Record::Pubrel(id) => match self.outgoing.iter().position(|o| o.packet_id == id) {
                Some(index) => {
                    self.free_bytes(index);
                    if let Some(o) = self.outgoing.get_mut(index) {
                        o.stage = Stage::AwaitPubcomp;
                    }
                    true
                }
                None => self
                    .outgoing
                    .push(restored(id, Stage::AwaitPubcomp, 0))
                    .is_ok(),
            },
            Record::Done(id) => {
                self.restore_done(id);
                true
            }
            Record::DoneBatch { ids } => {
                for pair in ids.chunks_exact(2) {
                    if let [lo, hi] = *pair {
                        self.restore_done(u16::from_le_bytes([lo, hi]));
                    }
                }
                true
            }
            // Replayed through the table's own rule, as when the message arrived.
            Record::RxQos2 { id, hash } => self.rx_qos2.receive(id, hash, false).is_ok(),
            Record::RxRun { start, len } => self.rx_qos2.restore_run(start, u32::from(len)),
            Record::RxRelease(id) => {
                self.rx_qos2.release(id);
                true
            }
            Record::RxClear => {
                self.rx_qos2_resume(false);
                true
            }
            // Restored unconfirmed: the first connection renews them (`plan_resubscribe`).
            Record::Subscribe { qos, filter } => {
                let (Ok(filter), Ok(qos)) = (validate_utf8(filter), QoS::from_u8(qos)) else {
                    return false;
                };
                let one = || core::iter::once((filter, qos));
                if self.subscriptions_have_room(one()).is_err() {
                    return false;
                }
                self.remember_subscriptions(0, one());
                true
            }
            Record::Unsubscribe { filter } => {
                if let Ok(filter) = validate_utf8(filter) {
                    self.forget_subscriptions(core::iter::once(filter));
                }
                true
            }
            Record::SnapBegin { .. } | Record::SnapEnd { .. } => true,
        }
    }

    fn restore_done(&mut self, id: u16) {
        if let Some(index) = self.outgoing.iter().position(|o| o.packet_id == id) {
            self.remove(index);
        }
    }

    fn restore_publish(&mut self, packet_id: u16, packet: &[u8]) -> bool {
        if self.outgoing.iter().any(|o| o.packet_id == packet_id) {
            return true;
        }
        let stage = match packet.first().map(|b| (b >> 1) & 3) {
            Some(1) => Stage::AwaitPuback,
            Some(2) => Stage::AwaitPubrec,
            _ => return false,
        };
        let Some(end) = self.store_used.checked_add(packet.len()) else {
            return false;
        };
        let Some(dst) = self.store.get_mut(self.store_used..end) else {
            return false;
        };
        if self.outgoing.is_full() || !crate::bytes::copy_into(dst, packet) {
            return false;
        }
        // It may have reached the broker before the reset: a re-send (§3.3.1.1).
        if let Some(first) = dst.first_mut() {
            *first |= PUBLISH_DUP_FLAG;
        }
        if self
            .outgoing
            .push(restored(packet_id, stage, packet.len()))
            .is_err()
        {
            return false;
        }
        self.store_used = end;
        self.next_id = if packet_id == u16::MAX {
            1
        } else {
            packet_id + 1
        };
        true
    }
}

fn restored(packet_id: u16, stage: Stage, len: usize) -> Outgoing {
    Outgoing {
        packet_id,
        stage,
        len,
        needs_sending: true,
        sent_at: Instant(0),
        // Counted afresh after a reset: connections of an earlier boot are not counted.
        pubrel_unanswered: 0,
        sent_seq: 0,
    }
}
