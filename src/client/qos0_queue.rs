//! The offline QoS 0 queue: messages published while there is no connection, sent in order
//! once connected.

use core::mem::MaybeUninit;
#[cfg(feature = "offline-queue")]
use core::ptr::addr_of_mut;

use embedded_nal::{Dns, TcpClientStack};
#[cfg(feature = "offline-queue")]
use heapless::Vec;

use super::{Client, Qos0Policy};
#[cfg(feature = "offline-queue")]
use crate::bytes::{copy_into, move_within, remove_at};
#[cfg(feature = "offline-queue")]
use crate::config::OFFLINE_QOS0_BYTES;
use crate::config::OFFLINE_QOS0_MSGS;
use crate::engine::State;
use crate::time::Instant;
#[cfg(feature = "offline-queue")]
use crate::wire;
use crate::wire::QoS;
use crate::Error;

/// One queued QoS 0 message: `topic_len` + `payload_len` bytes of the queue's arena, after
/// those of every earlier entry.
#[cfg(feature = "offline-queue")]
#[derive(Clone, Copy, Debug)]
struct Queued {
    topic_len: usize,
    payload_len: usize,
    retain: bool,
}

/// QoS 0 messages published while there is no connection, oldest first, in fixed storage;
/// what a full queue does, and what it dropped. Without `offline-queue` it holds nothing and
/// takes no byte of the client ([`NoQueue`]): QoS 0 then needs a connection.
#[cfg(feature = "offline-queue")]
pub(super) struct Qos0Queue {
    entries: Vec<Queued, OFFLINE_QOS0_MSGS>,
    bytes: [u8; OFFLINE_QOS0_BYTES],
    used: usize,
    policy: Qos0Policy,
    /// Messages dropped since the client was made (`Client::qos0_dropped`).
    dropped: u32,
    /// Of those, not yet reported by `Dispatch::Qos0Dropped`.
    unreported: u32,
}

#[cfg(not(feature = "offline-queue"))]
pub(super) use NoQueue as Qos0Queue;

#[cfg(feature = "offline-queue")]
impl Qos0Queue {
    /// An empty queue in `slot`, written in place (the arena is most of its size).
    pub(super) fn init(slot: &mut MaybeUninit<Qos0Queue>) {
        let queue = slot.as_mut_ptr();
        // SAFETY: `queue` points to the slot, valid for writes; each field is written once
        // through a raw projection, the arena as zero bytes.
        let queue = unsafe {
            addr_of_mut!((*queue).entries).write(Vec::new());
            addr_of_mut!((*queue).bytes).write_bytes(0, 1);
            addr_of_mut!((*queue).used).write(0);
            addr_of_mut!((*queue).policy).write(Qos0Policy::RejectWhenFull);
            addr_of_mut!((*queue).dropped).write(0);
            addr_of_mut!((*queue).unreported).write(0);
            slot.assume_init_mut()
        };
        // Every field, by name: adding one fails to compile here until it is written above.
        let Qos0Queue {
            entries: _,
            bytes: _,
            used: _,
            policy: _,
            dropped: _,
            unreported: _,
        } = queue;
    }

    pub(super) fn set_policy(&mut self, policy: Qos0Policy) {
        self.policy = policy;
    }

    pub(super) fn dropped(&self) -> u32 {
        self.dropped
    }

    pub(super) fn has_unreported(&self) -> bool {
        self.unreported > 0
    }

    /// Drops not yet reported, now reported (0: none).
    pub(super) fn take_unreported(&mut self) -> u32 {
        core::mem::take(&mut self.unreported)
    }

    /// A queued message was dropped.
    fn count_dropped(&mut self, count: u32) {
        self.dropped = self.dropped.saturating_add(count);
        self.unreported = self.unreported.saturating_add(count);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Appends a message; returns how many old ones were dropped for it (counted).
    pub(super) fn push(&mut self, topic: &str, payload: &[u8], retain: bool) -> Result<u32, Error> {
        let policy = self.policy;
        let need = topic
            .len()
            .checked_add(payload.len())
            .ok_or(Error::TooLarge)?;
        if OFFLINE_QOS0_MSGS == 0 {
            return Err(Error::InvalidState);
        }
        if need > OFFLINE_QOS0_BYTES {
            return Err(Error::TooLarge);
        }
        let mut dropped = 0u32;
        // Each pass drops one entry, so this ends within OFFLINE_QOS0_MSGS passes.
        while self.entries.is_full() || self.used.saturating_add(need) > OFFLINE_QOS0_BYTES {
            if policy == Qos0Policy::RejectWhenFull || self.entries.is_empty() {
                return Err(Error::Full);
            }
            self.pop_front();
            dropped = dropped.saturating_add(1);
        }
        let end = self.used.saturating_add(need);
        let Some((topic_dst, payload_dst)) = self
            .bytes
            .get_mut(self.used..end)
            .and_then(|dst| dst.split_at_mut_checked(topic.len()))
        else {
            return Err(Error::Full);
        };
        if !copy_into(topic_dst, topic.as_bytes()) || !copy_into(payload_dst, payload) {
            return Err(Error::Full);
        }
        let entry = Queued {
            topic_len: topic.len(),
            payload_len: payload.len(),
            retain,
        };
        self.entries.push(entry).map_err(|_| Error::Full)?;
        self.used = end;
        self.count_dropped(dropped);
        Ok(dropped)
    }

    /// The oldest message: topic, payload, retain.
    pub(super) fn front(&self) -> Option<(&str, &[u8], bool)> {
        let entry = self.entries.first()?;
        let (topic, rest) = self.bytes.split_at_checked(entry.topic_len)?;
        let payload = rest.get(..entry.payload_len)?;
        // A copy of the validated `&str` given to `push`; checked again, as the session does
        // its stored filters (ASCII is a word-at-a-time scan), so no bookkeeping slip can ever
        // yield an invalid `&str`.
        let topic = wire::validate_utf8(topic).ok()?;
        Some((topic, payload, entry.retain))
    }

    pub(super) fn pop_front(&mut self) {
        let Some(entry) = remove_at(&mut self.entries, 0) else {
            return;
        };
        let len = entry.topic_len.saturating_add(entry.payload_len);
        if len > self.used || !move_within(&mut self.bytes, len, self.used, 0) {
            // Never: the entries tile `bytes[..used]`. Were it to happen, the rest could not be
            // found again, so they are dropped rather than misread.
            self.entries.clear();
            self.used = 0;
            return;
        }
        self.used -= len;
    }
}

/// The queue of a build without `offline-queue`: always empty, refusing every message as the
/// empty queue did (`Error::InvalidState`: QoS 0 needs a connection).
#[cfg(not(feature = "offline-queue"))]
pub(super) struct NoQueue;

#[cfg(not(feature = "offline-queue"))]
impl NoQueue {
    pub(super) fn init(slot: &mut MaybeUninit<NoQueue>) {
        slot.write(NoQueue);
    }

    pub(super) fn set_policy(&mut self, _policy: Qos0Policy) {}

    pub(super) fn dropped(&self) -> u32 {
        0
    }

    pub(super) fn has_unreported(&self) -> bool {
        false
    }

    pub(super) fn take_unreported(&mut self) -> u32 {
        0
    }

    fn count_dropped(&mut self, _count: u32) {}

    pub(super) fn is_empty(&self) -> bool {
        true
    }

    pub(super) fn len(&self) -> usize {
        0
    }

    pub(super) fn push(
        &mut self,
        topic: &str,
        payload: &[u8],
        _retain: bool,
    ) -> Result<u32, Error> {
        topic
            .len()
            .checked_add(payload.len())
            .ok_or(Error::TooLarge)?;
        Err(Error::InvalidState)
    }

    pub(super) fn front(&self) -> Option<(&str, &[u8], bool)> {
        None
    }

    pub(super) fn pop_front(&mut self) {}
}

impl<'b, S: TcpClientStack + Dns> Client<'b, S> {
    /// Sends queued QoS 0 messages once the engine has written its renewals and re-sends,
    /// while tx has room.
    // OFFLINE_QOS0_MSGS is 0 without the `offline-queue` feature: the loop is then empty.
    #[allow(clippy::reversed_empty_ranges)]
    pub(super) fn flush_offline_qos0(&mut self, now: Instant) {
        // Runs on every step: the empty queue, by far the common case, must cost nothing.
        if self.qos0_queue.is_empty()
            || self.engine.state() != State::Connected
            || self.engine.has_unsent()
        {
            return;
        }
        for _ in 0..OFFLINE_QOS0_MSGS {
            let Some((topic, payload, retain)) = self.qos0_queue.front() else {
                return;
            };
            match self
                .engine
                .publish(now, topic, payload, QoS::AtMostOnce, retain)
            {
                Ok(_) => {}
                Err(Error::Full) => return,
                // Checked when queued, so never; if it were, the message is reported dropped.
                Err(_) => self.qos0_queue.count_dropped(1),
            }
            self.qos0_queue.pop_front();
        }
    }
}
