//! What survives a reconnect: the packet-id allocator, outgoing QoS 1/2 messages in flight
//! (their encoded PUBLISH kept in the caller's store buffer), incoming QoS 2 ids awaiting
//! PUBREL, SUBSCRIBE/UNSUBSCRIBE packets awaiting their acknowledgement, and the
//! subscriptions to renew when the broker kept no session.

#[cfg(feature = "store")]
mod durable;
mod rx_qos2;
mod subscriptions;

use core::mem::MaybeUninit;
use core::ptr::addr_of_mut;

use heapless::Vec;

use crate::bytes::{move_within, remove_at};
use crate::config::{MAX_INFLIGHT, MAX_PENDING_SUBS, MAX_SUBSCRIPTIONS, SUB_FILTER_BYTES};
use crate::error::Error;
use crate::time::Instant;
use crate::wire::{QoS, PUBLISH_DUP_FLAG};

pub(crate) use rx_qos2::content_hash;
#[cfg(any(feature = "qos2", feature = "store"))]
pub(crate) use rx_qos2::Evicted;
use rx_qos2::RxQos2;
#[cfg(feature = "qos2")]
pub(crate) use rx_qos2::Verdict;
use subscriptions::Subscription;

/// Where an outgoing QoS 1/2 message stands in its handshake.
// Named for what each stage waits for, as the design names them.
#[allow(clippy::enum_variant_names)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// QoS 1 PUBLISH sent (or to send); waiting for PUBACK.
    AwaitPuback,
    /// QoS 2 PUBLISH sent (or to send); waiting for PUBREC.
    AwaitPubrec,
    /// QoS 2 PUBREL sent (or to send); waiting for PUBCOMP. The PUBLISH bytes are freed.
    AwaitPubcomp,
    /// The PUBREL went unanswered on too many connections: the broker, which owns the
    /// message since its PUBREC, will never complete it. Reported, then forgotten.
    Abandoned,
}

/// One outgoing QoS 1/2 message. Its bytes are the `len` bytes of the store that follow
/// the bytes of every earlier entry: entries are kept contiguous, in publish order.
#[derive(Clone, Copy, Debug)]
struct Outgoing {
    packet_id: u16,
    stage: Stage,
    len: usize,
    /// Not yet written to tx on this connection.
    needs_sending: bool,
    /// When it was last written to tx: the start of its ack timeout.
    sent_at: Instant,
    /// Connections that ended with this PUBREL sent and no PUBCOMP, on which the broker had it.
    pubrel_unanswered: u8,
    /// `Session::write_seq` when it was last written to tx (u16: fits the padding).
    sent_seq: u16,
}

/// What the next stored packet to send is.
pub(crate) enum Resend<'s> {
    /// An encoded PUBLISH, DUP already set when it is a re-send.
    Publish(&'s [u8]),
    /// A PUBREL for this packet id.
    Pubrel(u16),
}

/// An acknowledgement the broker sent for an outgoing PUBLISH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "qos2"), allow(dead_code))]
pub(crate) enum PublishAck {
    Puback,
    Pubrec,
    Pubcomp,
}

/// What the engine does after an acknowledgement was accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AckOutcome {
    /// The message is done (PUBACK or PUBCOMP): report it.
    Completed,
    /// PUBREC accepted: send PUBREL now.
    SendPubrel,
}

/// SUBSCRIBE or UNSUBSCRIBE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SubKind {
    Subscribe,
    Unsubscribe,
}

#[derive(Clone, Copy, Debug)]
struct PendingSub {
    packet_id: u16,
    kind: SubKind,
    filter_count: usize,
    sent_at: Instant,
}

pub(crate) struct Session<'b> {
    store: &'b mut [u8],
    /// Bytes of `store` used by `outgoing`, from the start.
    store_used: usize,
    next_id: u16,
    outgoing: Vec<Outgoing, MAX_INFLIGHT>,
    rx_qos2: RxQos2,
    pending_subs: Vec<PendingSub, MAX_PENDING_SUBS>,
    subscriptions: Vec<Subscription, MAX_SUBSCRIPTIONS>,
    filters: [u8; SUB_FILTER_BYTES],
    filters_used: usize,
    /// Counts stored packets written to tx, so that `answered_seq` orders them (compared
    /// on the u16 ring: a wrong order needs 32,768 writes between a PUBREL and an ack, and
    /// then only counts the connection as before this rule).
    write_seq: u16,
    /// The latest `sent_seq` the broker acknowledged: it read everything written before.
    answered_seq: u16,
    /// Set when an entry became `Stage::Abandoned`, cleared by the scan that finds none: the
    /// event poll (several times per `mqe_poll`) skips that scan while it is clear.
    maybe_abandoned: bool,
}

impl<'b> Session<'b> {
    /// Builds an empty session in `slot`, field by field: its size grows with the build-time
    /// capacities (the filter bytes above all), and a value built first and then moved would
    /// cost that much stack in `mqe_init`.
    pub(crate) fn init<'s>(
        slot: &'s mut MaybeUninit<Session<'b>>,
        store: &'b mut [u8],
    ) -> &'s mut Session<'b> {
        let session = slot.as_mut_ptr();
        // SAFETY: `session` points to the slot, valid for writes; each field is written once
        // through a raw projection (no reference to the partly written value), `filters` and
        // `rx_qos2` (integers only: all zeros is its empty state) by zeroing them in place.
        // So every field is initialised when the slot is assumed so.
        let session = unsafe {
            addr_of_mut!((*session).store).write(store);
            addr_of_mut!((*session).store_used).write(0);
            addr_of_mut!((*session).next_id).write(1);
            addr_of_mut!((*session).outgoing).write(Vec::new());
            addr_of_mut!((*session).rx_qos2).write_bytes(0, 1);
            addr_of_mut!((*session).pending_subs).write(Vec::new());
            addr_of_mut!((*session).subscriptions).write(Vec::new());
            addr_of_mut!((*session).filters).write_bytes(0, 1);
            addr_of_mut!((*session).filters_used).write(0);
            addr_of_mut!((*session).write_seq).write(0);
            addr_of_mut!((*session).answered_seq).write(0);
            addr_of_mut!((*session).maybe_abandoned).write(false);
            slot.assume_init_mut()
        };
        // Every field, by name: adding one fails to compile here until it is written above.
        let Session {
            store: _,
            store_used: _,
            next_id: _,
            outgoing: _,
            rx_qos2: _,
            pending_subs: _,
            subscriptions: _,
            filters: _,
            filters_used: _,
            write_seq: _,
            answered_seq: _,
            maybe_abandoned: _,
        } = &*session;
        session
    }

    // --- packet ids ---

    fn id_in_use(&self, id: u16) -> bool {
        self.outgoing.iter().any(|o| o.packet_id == id)
            || self.pending_subs.iter().any(|p| p.packet_id == id)
    }

    /// The next free packet id, 1..=65535 wrapping, skipping ids in use.
    fn allocate_id(&mut self) -> Result<u16, Error> {
        // At most MAX_INFLIGHT + MAX_PENDING_SUBS ids are in use, far fewer than 65535,
        // so this loop ends early; its bound only guards the impossible case.
        for _ in 0..u16::MAX {
            let id = self.next_id;
            self.next_id = if id == u16::MAX { 1 } else { id + 1 };
            if !self.id_in_use(id) {
                return Ok(id);
            }
        }
        Err(Error::Full)
    }

    // --- outgoing QoS 1/2 ---

    pub(crate) fn inflight(&self) -> usize {
        self.outgoing.len()
    }

    pub(crate) fn store_capacity(&self) -> usize {
        self.store.len()
    }

    /// Stores a new QoS 1/2 PUBLISH of `len` bytes that `encode(buf, packet_id)` writes
    /// into `buf`. Full when `window` messages are in flight or the store lacks room.
    pub(crate) fn add_publish<F>(
        &mut self,
        qos: QoS,
        len: usize,
        window: usize,
        encode: F,
    ) -> Result<u16, Error>
    where
        F: FnOnce(&mut [u8], u16) -> Result<usize, Error>,
    {
        let stage = match qos {
            QoS::AtMostOnce => return Err(Error::InvalidQos),
            QoS::AtLeastOnce => Stage::AwaitPuback,
            QoS::ExactlyOnce => Stage::AwaitPubrec,
        };
        if self.outgoing.len() >= window || self.outgoing.is_full() {
            return Err(Error::Full);
        }
        let end = self.store_used.checked_add(len).ok_or(Error::TooLarge)?;
        if end > self.store.len() {
            return Err(Error::Full);
        }
        let packet_id = self.allocate_id()?;
        let buf = self
            .store
            .get_mut(self.store_used..end)
            .ok_or(Error::Full)?;
        let written = encode(buf, packet_id)?;
        let entry = Outgoing {
            packet_id,
            stage,
            len: written,
            needs_sending: true,
            sent_at: Instant(0),
            pubrel_unanswered: 0,
            sent_seq: 0,
        };
        self.outgoing.push(entry).map_err(|_| Error::Full)?;
        self.store_used = self.store_used.saturating_add(written);
        Ok(packet_id)
    }

    fn entry_start(&self, index: usize) -> usize {
        self.outgoing
            .iter()
            .take(index)
            .fold(0usize, |acc, o| acc.saturating_add(o.len))
    }

    /// Drops the stored bytes of entry `index` and moves later bytes down over them.
    fn free_bytes(&mut self, index: usize) {
        let Some(len) = self.outgoing.get(index).map(|o| o.len) else {
            return;
        };
        let start = self.entry_start(index);
        let end = start.saturating_add(len);
        // Entries are contiguous from 0, so this only fails if that bookkeeping broke: then the
        // bytes stay where they are, still readable, rather than shifting the wrong ones.
        if move_within(self.store, end, self.store_used, start) {
            self.store_used = self.store_used.saturating_sub(len);
            if let Some(o) = self.outgoing.get_mut(index) {
                o.len = 0;
            }
        }
    }

    fn remove(&mut self, index: usize) {
        if index < self.outgoing.len() {
            self.free_bytes(index);
            remove_at(&mut self.outgoing, index);
        }
    }

    /// Index of the first stored packet not yet written on this connection.
    pub(crate) fn next_unsent(&self, from: usize) -> Option<usize> {
        self.outgoing
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, o)| o.needs_sending)
            .map(|(i, _)| i)
    }

    /// The packet entry `index` must send.
    pub(crate) fn resend(&self, index: usize) -> Option<Resend<'_>> {
        let o = self.outgoing.get(index)?;
        match o.stage {
            Stage::AwaitPubcomp => Some(Resend::Pubrel(o.packet_id)),
            Stage::Abandoned => None,
            Stage::AwaitPuback | Stage::AwaitPubrec => {
                let start = self.entry_start(index);
                let bytes = self.store.get(start..start.checked_add(o.len)?)?;
                Some(Resend::Publish(bytes))
            }
        }
    }

    fn next_seq(&mut self) -> u16 {
        // 0 stays "never written".
        self.write_seq = self.write_seq.wrapping_add(1).max(1);
        self.write_seq
    }

    pub(crate) fn mark_sent(&mut self, index: usize, now: Instant) {
        let seq = self.next_seq();
        if let Some(o) = self.outgoing.get_mut(index) {
            o.needs_sending = false;
            o.sent_at = now;
            o.sent_seq = seq;
        }
    }

    /// The connection is gone: everything must go out again on the next one, and a
    /// PUBLISH that may have reached the broker carries DUP=1 (§3.3.1.1). A PUBREL left
    /// unanswered by a broker that had it counts; on `pubrel_limit` such connections the
    /// message is abandoned (0: never). The broker had it when `broker_had_it` (it ended the
    /// connection, or our ack timeout did) or when it acknowledged a packet written after
    /// the PUBREL; a link cut right behind the PUBREL proves nothing and does not count.
    pub(crate) fn mark_all_for_resend(&mut self, pubrel_limit: u8, broker_had_it: bool) {
        let mut start = 0usize;
        let answered = self.answered_seq;
        for o in self.outgoing.iter_mut() {
            // Sequence numbers of one connection are compared only: `sent_seq` and
            // `answered` are both of the connection that just ended, or `answered` is older.
            let read_past = o.sent_seq != 0 && answered.wrapping_sub(o.sent_seq) as i16 > 0;
            if o.stage == Stage::AwaitPubcomp && !o.needs_sending && (broker_had_it || read_past) {
                o.pubrel_unanswered = o.pubrel_unanswered.saturating_add(1);
                if pubrel_limit > 0 && o.pubrel_unanswered >= pubrel_limit {
                    o.stage = Stage::Abandoned;
                    self.maybe_abandoned = true;
                }
            }
            let publish = matches!(o.stage, Stage::AwaitPuback | Stage::AwaitPubrec);
            if !o.needs_sending && publish {
                if let Some(first) = self.store.get_mut(start) {
                    *first |= PUBLISH_DUP_FLAG;
                }
            }
            // An abandoned message is never sent again, only reported.
            o.needs_sending = o.stage != Stage::Abandoned;
            start = start.saturating_add(o.len);
        }
    }

    /// False when no entry is abandoned (true may still find none).
    pub(crate) fn maybe_abandoned(&self) -> bool {
        self.maybe_abandoned
    }

    /// Forgets one abandoned message (see `Stage::Abandoned`) and returns its id.
    pub(crate) fn take_abandoned(&mut self) -> Option<u16> {
        if !self.maybe_abandoned {
            return None;
        }
        let Some(index) = self
            .outgoing
            .iter()
            .position(|o| o.stage == Stage::Abandoned)
        else {
            self.maybe_abandoned = false;
            return None;
        };
        let packet_id = self.outgoing.get(index)?.packet_id;
        self.remove(index);
        Some(packet_id)
    }

    /// Applies an acknowledgement from the broker for an outgoing PUBLISH.
    pub(crate) fn acknowledge(
        &mut self,
        ack: PublishAck,
        packet_id: u16,
        now: Instant,
    ) -> Result<AckOutcome, Error> {
        let index = self.outgoing.iter().position(|o| o.packet_id == packet_id);
        let Some(index) = index else {
            // The id may belong to a pending SUBSCRIBE: still not a publish of ours.
            return Err(Error::UnknownPacketId);
        };
        let stage = self.outgoing.get(index).map(|o| o.stage);
        // Acknowledging it, the broker shows it read every packet written before it.
        if let Some(seq) = self.outgoing.get(index).map(|o| o.sent_seq) {
            if seq != 0 && seq.wrapping_sub(self.answered_seq) as i16 > 0 {
                self.answered_seq = seq;
            }
        }
        match (ack, stage) {
            (PublishAck::Puback, Some(Stage::AwaitPuback))
            | (PublishAck::Pubcomp, Some(Stage::AwaitPubcomp | Stage::Abandoned)) => {
                self.remove(index);
                Ok(AckOutcome::Completed)
            }
            // A repeated PUBREC (after a re-send) is answered with PUBREL again.
            (PublishAck::Pubrec, Some(Stage::AwaitPubrec | Stage::AwaitPubcomp)) => {
                // The PUBLISH is done with: its bytes are no longer needed.
                self.free_bytes(index);
                let seq = self.next_seq();
                if let Some(o) = self.outgoing.get_mut(index) {
                    o.stage = Stage::AwaitPubcomp;
                    o.needs_sending = false;
                    o.sent_at = now;
                    o.sent_seq = seq;
                }
                Ok(AckOutcome::SendPubrel)
            }
            _ => Err(Error::UnexpectedPacket),
        }
    }

    /// ms from `now` until the oldest unanswered packet (stored publish or pending
    /// SUBSCRIBE/UNSUBSCRIBE) exceeds `timeout_ms`; None when nothing awaits an answer.
    pub(crate) fn ack_deadline(&self, now: Instant, timeout_ms: u32) -> Option<u32> {
        let publishes = self
            .outgoing
            .iter()
            .filter(|o| !o.needs_sending && o.stage != Stage::Abandoned)
            .map(|o| o.sent_at);
        let subs = self.pending_subs.iter().map(|p| p.sent_at);
        publishes
            .chain(subs)
            .map(|sent_at| now.ms_until(sent_at.add_ms(timeout_ms)))
            .min()
    }

    // --- incoming QoS 2 ---

    /// An incoming QoS 2 PUBLISH: deliver it or not (see `rx_qos2`). Err(RxQos2Full)
    /// changes nothing.
    #[cfg(feature = "qos2")]
    pub(crate) fn rx_qos2_receive(
        &mut self,
        packet_id: u16,
        hash: u16,
        dup: bool,
    ) -> Result<(Verdict, Evicted), Error> {
        self.rx_qos2.receive(packet_id, hash, dup)
    }

    /// PUBREL: the id is forgotten (and a run split, or its shorter side evicted).
    #[cfg(any(feature = "qos2", feature = "store"))]
    pub(crate) fn rx_qos2_release(&mut self, packet_id: u16) -> Evicted {
        self.rx_qos2.release(packet_id)
    }

    /// A new connection: with no session every id is forgotten; with one, every id waits
    /// for the broker to mention it again before it counts as live (never evicted).
    pub(crate) fn rx_qos2_resume(&mut self, session_present: bool) {
        self.rx_qos2.resume(session_present);
    }

    /// (open ids, entries used, ids evicted, unverified deliveries).
    pub(crate) fn rx_qos2_stats(&self) -> (u32, usize, u32, u32) {
        let (evicted, unverified) = self.rx_qos2.counters();
        (
            self.rx_qos2.open_ids(),
            self.rx_qos2.entries_used(),
            evicted,
            unverified,
        )
    }

    // --- SUBSCRIBE / UNSUBSCRIBE ---

    /// Allocates an id for a SUBSCRIBE/UNSUBSCRIBE of `filter_count` filters; the caller
    /// must call `add_pending_sub` with it once the packet is in tx.
    pub(crate) fn allocate_sub_id(&mut self) -> Result<u16, Error> {
        if self.pending_subs.is_full() {
            return Err(Error::Full);
        }
        self.allocate_id()
    }

    pub(crate) fn add_pending_sub(
        &mut self,
        packet_id: u16,
        kind: SubKind,
        filter_count: usize,
        now: Instant,
    ) -> Result<(), Error> {
        let pending = PendingSub {
            packet_id,
            kind,
            filter_count,
            sent_at: now,
        };
        self.pending_subs.push(pending).map_err(|_| Error::Full)
    }

    /// Matches a SUBACK (with `code_count` return codes) or an UNSUBACK (None) to its
    /// request and forgets the request. A SUBACK must carry one code per filter.
    pub(crate) fn complete_sub(
        &mut self,
        packet_id: u16,
        kind: SubKind,
        code_count: Option<usize>,
    ) -> Result<(), Error> {
        let index = self
            .pending_subs
            .iter()
            .position(|p| p.packet_id == packet_id)
            .ok_or(Error::UnknownPacketId)?;
        let pending = *self.pending_subs.get(index).ok_or(Error::UnknownPacketId)?;
        if pending.kind != kind {
            return Err(Error::UnexpectedPacket);
        }
        if code_count.is_some_and(|n| n != pending.filter_count) {
            return Err(Error::Malformed);
        }
        remove_at(&mut self.pending_subs, index);
        Ok(())
    }

    /// A SUBACK/UNSUBACK is never re-sent on a new connection, so requests from an
    /// earlier one are forgotten (the user saw that connection end).
    pub(crate) fn clear_pending_subs(&mut self) {
        self.pending_subs.clear();
    }

    pub(crate) fn pending_sub_count(&self) -> usize {
        self.pending_subs.len()
    }

    pub(crate) fn pending_subs_full(&self) -> bool {
        self.pending_subs.is_full()
    }
}
