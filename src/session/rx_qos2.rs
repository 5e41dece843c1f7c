//! Incoming QoS 2 ids between our PUBREC and the broker's PUBREL, in `MAX_RX_QOS2` entries of
//! 4 bytes. docs/DELIVERY.md, "Incoming QoS 2: the rule", states the rule this implements.
//!
//! An entry is either one id with a 14-bit hash of its topic and payload (the most recent
//! ids), or a run of consecutive ids without hashes (older ids, compacted). A broker that
//! numbers in sequence fills one run densely, so a few entries hold thousands of open ids;
//! a broker that numbers at random needs one entry per id. Entries are kept oldest first.
//! No rule depends on the order in which the broker re-sends. Runs never span the wrap of
//! packet ids from 65535 to 1: a sequential broker starts a new run there.
// Without the `qos2` feature only `resume` and the counters are reached (the table stays
// empty); the rest is kept in the source, and drops out of the image.
#![cfg_attr(not(feature = "qos2"), allow(dead_code))]

use crate::config::MAX_RX_QOS2;
use crate::error::Error;

/// `meta` bit: the entry is a run (`low` = length - 1), not one hashed id (`low` = hash).
const RUN: u16 = 0x8000;
/// `meta` bit: the broker sent or mentioned an id of this entry on the current connection.
const LIVE: u16 = 0x4000;
const LOW: u16 = 0x3FFF;
/// The longest run: its length - 1 must fit `LOW`.
const MAX_RUN: u32 = LOW as u32 + 1;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Entry {
    /// The id, or the first id of a run.
    id: u16,
    meta: u16,
}

impl Entry {
    fn hashed(id: u16, hash: u16) -> Entry {
        Entry {
            id,
            meta: LIVE | (hash & LOW),
        }
    }
    fn is_run(self) -> bool {
        self.meta & RUN != 0
    }
    fn is_live(self) -> bool {
        self.meta & LIVE != 0
    }
    fn low(self) -> u16 {
        self.meta & LOW
    }
    /// Ids it holds: 1 for a hashed id.
    fn len(self) -> u32 {
        if self.is_run() {
            u32::from(self.low()) + 1
        } else {
            1
        }
    }
    /// Position of `id` in this entry, if it holds it.
    fn offset_of(self, id: u16) -> Option<u32> {
        let offset = distance(self.id, id);
        (offset < self.len()).then_some(offset)
    }
    /// A run from `start` of `len` ids (1..=MAX_RUN), with `flags` (LIVE or 0).
    fn run(start: u16, len: u32, flags: u16) -> Entry {
        // Callers keep len <= MAX_RUN, so the cast keeps every bit of len - 1.
        let low = (len.saturating_sub(1) as u16) & LOW;
        Entry {
            id: start,
            meta: RUN | flags | low,
        }
    }
}

/// How far `to` lies after `from`, on the u16 ring. Packet ids skip 0 (65535 is followed by
/// 1), so a run never spans the wrap: a sequential broker starts a new run there.
fn distance(from: u16, to: u16) -> u32 {
    u32::from(to.wrapping_sub(from))
}

/// The id `steps` after `id` on the u16 ring (0 after 65535, which no packet carries).
fn id_after(id: u16, steps: u32) -> u16 {
    id.wrapping_add(steps as u16)
}

/// A 14-bit FNV-1a hash of topic and payload: a re-send carries both unchanged.
pub(crate) fn content_hash(topic: &str, payload: &[u8]) -> u16 {
    let step = |hash: u32, byte: u8| (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
    let mut hash = topic.bytes().fold(0x811C_9DC5, step);
    // A topic never contains U+0000 (§1.5.3), so the 0 byte separates it from the payload.
    hash = step(hash, 0);
    hash = payload.iter().fold(hash, |h, &b| step(h, b));
    ((hash ^ (hash >> 14) ^ (hash >> 28)) & u32::from(LOW)) as u16
}

/// What to do with an incoming QoS 2 PUBLISH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Deliver it and send PUBREC. `unverified`: its id was held without a hash and DUP=0
    /// made it new; a broker that re-sends with DUP=0 makes this a second delivery.
    New { unverified: bool },
    /// Delivered before: send PUBREC again, do not deliver.
    Duplicate,
}

/// Ids the table forgot to make room (reported, never silent).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Evicted {
    /// The first id forgotten, and how many consecutive ids from it (0: none).
    pub first: u16,
    pub count: u16,
}

/// Integers only: all zeros is the empty table (`Session::init` zeroes it in place, so a
/// large `MQE_MAX_RX_QOS2` costs no stack).
pub(crate) struct RxQos2 {
    entries: [Entry; MAX_RX_QOS2],
    len: u16,
    /// Ids forgotten before their PUBREL, since init.
    evicted: u32,
    /// Deliveries of an id held without a hash that DUP=0 made new, since init.
    unverified: u32,
}

impl RxQos2 {
    #[cfg(test)]
    pub(crate) const fn new() -> RxQos2 {
        RxQos2 {
            entries: [Entry { id: 0, meta: 0 }; MAX_RX_QOS2],
            len: 0,
            evicted: 0,
            unverified: 0,
        }
    }

    fn used(&self) -> &[Entry] {
        self.entries
            .get(..usize::from(self.len))
            .unwrap_or_default()
    }

    fn used_mut(&mut self) -> &mut [Entry] {
        let len = usize::from(self.len);
        self.entries.get_mut(..len).unwrap_or_default()
    }

    fn is_full(&self) -> bool {
        usize::from(self.len) >= MAX_RX_QOS2
    }

    /// Open ids held (a run counts all its ids).
    pub(crate) fn open_ids(&self) -> u32 {
        self.used().iter().map(|e| e.len()).sum()
    }

    /// (ids evicted, unverified deliveries) since init.
    pub(crate) fn counters(&self) -> (u32, u32) {
        (self.evicted, self.unverified)
    }

    fn count(&mut self, evicted: Evicted, verdict: Option<Verdict>) {
        self.evicted = self.evicted.saturating_add(u32::from(evicted.count));
        if verdict == Some(Verdict::New { unverified: true }) {
            self.unverified = self.unverified.saturating_add(1);
        }
    }

    /// Entries in use, of `MAX_RX_QOS2`.
    pub(crate) fn entries_used(&self) -> usize {
        usize::from(self.len)
    }

    fn find(&self, id: u16) -> Option<(usize, Entry)> {
        self.used()
            .iter()
            .copied()
            .enumerate()
            .find(|(_, e)| e.offset_of(id).is_some())
    }

    fn remove(&mut self, index: usize) -> Option<Entry> {
        let used = self.used_mut();
        let removed = *used.get(index)?;
        for k in index..used.len() {
            if let Some([a, b]) = used.get_mut(k..k.saturating_add(2)) {
                core::mem::swap(a, b);
            }
        }
        self.len = self.len.saturating_sub(1);
        Some(removed)
    }

    fn push(&mut self, entry: Entry) -> bool {
        match self.entries.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = entry;
                self.len = self.len.saturating_add(1);
                true
            }
            None => false,
        }
    }

    /// Inserts `entry` at `index`, moving later entries up; false when full.
    fn insert(&mut self, index: usize, entry: Entry) -> bool {
        if index > usize::from(self.len) || !self.push(entry) {
            return false;
        }
        let used = self.used_mut();
        for k in (index..used.len().saturating_sub(1)).rev() {
            if let Some([a, b]) = used.get_mut(k..k.saturating_add(2)) {
                core::mem::swap(a, b);
            }
        }
        true
    }

    /// Classifies an incoming QoS 2 PUBLISH and, when new, remembers it as the most recent
    /// id. `Err(RxQos2Full)` changes nothing: every entry is live on this connection and none
    /// can be compacted. `Evicted` reports ids forgotten to make room.
    pub(crate) fn receive(
        &mut self,
        id: u16,
        hash: u16,
        dup: bool,
    ) -> Result<(Verdict, Evicted), Error> {
        let (verdict, evicted) = self.classify(id, hash, dup)?;
        self.count(evicted, Some(verdict));
        Ok((verdict, evicted))
    }

    fn classify(&mut self, id: u16, hash: u16, dup: bool) -> Result<(Verdict, Evicted), Error> {
        match self.find(id) {
            Some((index, entry)) if !entry.is_run() => {
                if entry.low() == hash & LOW {
                    if let Some(e) = self.entries.get_mut(index) {
                        e.meta |= LIVE;
                    }
                    return Ok((Verdict::Duplicate, Evicted::default()));
                }
                // Another message under an id we hold: the broker released it (its PUBREL
                // never reached us). It becomes the most recent id, with the new hash.
                self.remove(index);
                self.push(Entry::hashed(id, hash));
                Ok((Verdict::New { unverified: false }, Evicted::default()))
            }
            Some((index, _)) => {
                if let Some(e) = self.entries.get_mut(index) {
                    e.meta |= LIVE;
                }
                // No hash to compare: DUP decides, as the spec means it to (§3.3.1.1).
                if dup {
                    return Ok((Verdict::Duplicate, Evicted::default()));
                }
                // With two entries free the id leaves its run (a split never evicts then) and
                // keeps this message's hash, so a re-send of it is recognised.
                if usize::from(self.len).saturating_add(2) <= MAX_RX_QOS2 {
                    self.forget(id);
                    self.push(Entry::hashed(id, hash));
                }
                Ok((Verdict::New { unverified: true }, Evicted::default()))
            }
            None => {
                let new = Verdict::New { unverified: false };
                if self.is_full() && !self.compact() && self.absorb(id) {
                    return Ok((new, Evicted::default()));
                }
                let evicted = self.make_room()?;
                self.push(Entry::hashed(id, hash));
                Ok((new, evicted))
            }
        }
    }

    /// PUBREL: forgets `id`. Splitting a run needs an entry; when none can be made, the
    /// shorter side of the run is forgotten and reported.
    pub(crate) fn release(&mut self, id: u16) -> Evicted {
        let evicted = self.forget(id);
        self.count(evicted, None);
        evicted
    }

    fn forget(&mut self, id: u16) -> Evicted {
        let Some((index, entry)) = self.find(id) else {
            return Evicted::default();
        };
        let head = entry.offset_of(id).unwrap_or(0);
        let tail = entry.len() - head - 1;
        let flags = entry.meta & LIVE;
        let head_run = Entry::run(entry.id, head, flags);
        let tail_run = Entry::run(id_after(id, 1), tail, flags);
        let kept = match (head, tail) {
            (0, 0) => {
                self.remove(index);
                return Evicted::default();
            }
            (0, _) => tail_run,
            (_, 0) => head_run,
            _ if self.is_full() && self.compact() => {
                // Compaction may have merged into this very run: look it up again.
                return self.forget(id);
            }
            _ if self.insert(index.saturating_add(1), tail_run) => head_run,
            // No entry to split into: keep the longer side, forget the shorter one.
            _ => {
                let (kept, lost) = if head >= tail {
                    (head_run, tail_run)
                } else {
                    (tail_run, head_run)
                };
                if let Some(slot) = self.entries.get_mut(index) {
                    *slot = kept;
                }
                return Evicted {
                    first: lost.id,
                    count: lost.len() as u16,
                };
            }
        };
        if let Some(slot) = self.entries.get_mut(index) {
            *slot = kept;
        }
        Evicted::default()
    }

    /// True when `id` is held.
    #[cfg(feature = "store")]
    pub(crate) fn holds(&self, id: u16) -> bool {
        self.find(id).is_some()
    }

    /// The durable view, oldest first: each entry as (first id, ids held, hash of a lone id).
    #[cfg(feature = "store")]
    pub(crate) fn visit(&self, f: &mut dyn FnMut(u16, u32, Option<u16>) -> bool) -> bool {
        self.used().iter().all(|e| {
            let hash = (!e.is_run()).then_some(e.low());
            f(e.id, e.len(), hash)
        })
    }

    /// A restored run of `len` ids from `start` (session store); false when full.
    #[cfg(feature = "store")]
    pub(crate) fn restore_run(&mut self, start: u16, len: u32) -> bool {
        if self.find(start).is_some() {
            return true;
        }
        (1..=MAX_RUN).contains(&len) && self.push(Entry::run(start, len, 0))
    }

    /// A new connection: without a session every id is forgotten; with one, every entry
    /// waits for the broker to mention it again before it counts as live.
    pub(crate) fn resume(&mut self, session_present: bool) {
        if !session_present {
            self.len = 0;
        }
        for entry in self.used_mut() {
            entry.meta &= !LIVE;
        }
    }

    /// Frees one entry: by compaction if possible, else by evicting the oldest entry that
    /// is not live on this connection. Live entries are never evicted: Err(RxQos2Full).
    fn make_room(&mut self) -> Result<Evicted, Error> {
        if !self.is_full() || self.compact() {
            return Ok(Evicted::default());
        }
        let stale = self.used().iter().position(|e| !e.is_live());
        let entry = stale.and_then(|index| self.remove(index));
        let entry = entry.ok_or(Error::RxQos2Full)?;
        Ok(Evicted {
            first: entry.id,
            count: entry.len() as u16,
        })
    }

    /// Holds `id` in the entry it extends (a run, or a hashed id that becomes one), without
    /// its hash; false when no entry ends just before it or starts just after it.
    fn absorb(&mut self, id: u16) -> bool {
        let next = id_after(id, 1);
        let found = self
            .used_mut()
            .iter_mut()
            .find(|e| e.len() < MAX_RUN && (e.id == next || id_after(e.id, e.len()) == id));
        let Some(entry) = found else {
            return false;
        };
        let start = if entry.id == next { id } else { entry.id };
        *entry = Entry::run(start, entry.len() + 1, LIVE);
        true
    }

    /// Frees one entry without forgetting an id: the oldest hashed id next to a run (or to
    /// another hashed id) joins it, losing its hash. False when no two entries are adjacent.
    fn compact(&mut self) -> bool {
        for index in 0..usize::from(self.len) {
            let Some(&entry) = self.used().get(index) else {
                break;
            };
            if entry.is_run() {
                continue;
            }
            let next = id_after(entry.id, 1);
            let neighbour = self.used().iter().enumerate().find(|(i, e)| {
                *i != index
                    && e.len() < MAX_RUN
                    && (e.id == next || id_after(e.id, e.len()) == entry.id)
            });
            let Some((other_index, &other)) = neighbour else {
                continue;
            };
            let flags = (entry.meta | other.meta) & LIVE;
            let joined = if other.id == next {
                Entry::run(entry.id, other.len() + 1, flags)
            } else {
                Entry::run(other.id, other.len() + 1, flags)
            };
            // The joined run takes the older entry's place.
            let (keep, drop) = if index < other_index {
                (index, other_index)
            } else {
                (other_index, index)
            };
            if let Some(slot) = self.entries.get_mut(keep) {
                *slot = joined;
            }
            self.remove(drop);
            return true;
        }
        false
    }
}

// The table at its default capacity; without `qos2` it has one entry and is never filled.
#[cfg(all(test, feature = "qos2"))]
mod tests {
    use super::*;

    const NEW: Verdict = Verdict::New { unverified: false };

    fn fresh(table: &mut RxQos2, id: u16) -> Verdict {
        table.receive(id, id, false).unwrap().0
    }

    #[test]
    fn the_table_costs_4_bytes_an_entry_plus_12() {
        // The RAM budget in docs/DELIVERY.md: 62 entries are 260 bytes, as 64 plain ids were.
        assert_eq!(core::mem::size_of::<RxQos2>(), 4 * MAX_RX_QOS2 + 12);
    }

    #[test]
    fn runs_never_span_the_wrap_from_65535_to_1() {
        let mut t = RxQos2::new();
        for id in [65533, 65534, 65535, 1, 2, 3] {
            fresh(&mut t, id);
        }
        t.compact();
        t.compact();
        t.compact();
        t.compact();
        assert_eq!(t.entries_used(), 2);
        assert_eq!(t.find(65535).unwrap().1, Entry::run(65533, 3, LIVE));
        assert_eq!(t.find(1).unwrap().1, Entry::run(1, 3, LIVE));
        assert!(t.find(0).is_none());
        assert_eq!(t.open_ids(), 6);
        assert_eq!(t.release(65534), Evicted::default());
        assert_eq!(t.release(2), Evicted::default());
        assert_eq!(t.open_ids(), 4);
        assert_eq!(t.entries_used(), 4);
    }

    #[test]
    fn the_hash_separates_topic_from_payload() {
        assert_ne!(content_hash("ab", b"c"), content_hash("a", b"bc"));
        assert_eq!(content_hash("t", b"x"), content_hash("t", b"x"));
        assert!(content_hash("t", b"x") <= LOW);
    }

    #[test]
    fn same_hash_is_a_duplicate_whatever_dup_says_other_content_is_new() {
        let mut t = RxQos2::new();
        assert_eq!(t.receive(10, 7, false), Ok((NEW, Evicted::default())));
        assert_eq!(t.receive(10, 7, false).unwrap().0, Verdict::Duplicate);
        assert_eq!(t.receive(10, 7, true).unwrap().0, Verdict::Duplicate);
        assert_eq!(t.receive(10, 8, false).unwrap().0, NEW);
        assert_eq!(t.receive(10, 8, true).unwrap().0, Verdict::Duplicate);
        assert_eq!(t.open_ids(), 1);
        assert_eq!(t.release(10), Evicted::default());
        assert_eq!(t.open_ids(), 0);
        assert_eq!(t.receive(10, 8, false).unwrap().0, NEW);
    }

    #[test]
    fn a_sequential_burst_compacts_into_one_run_and_keeps_the_recent_hashes() {
        let mut t = RxQos2::new();
        for id in 1..=1000u16 {
            assert_eq!(fresh(&mut t, id), NEW, "id {id}");
        }
        assert_eq!(t.open_ids(), 1000);
        assert_eq!(t.entries_used(), MAX_RX_QOS2);
        // The most recent MAX_RX_QOS2 - 1 ids keep their hash.
        let hashed = 1000 - (MAX_RX_QOS2 as u16 - 1) + 1;
        assert_eq!(
            t.receive(hashed, hashed, false).unwrap().0,
            Verdict::Duplicate
        );
        assert_eq!(t.receive(hashed, 0, false).unwrap().0, NEW);
        // Older ones are in the run: DUP decides.
        assert_eq!(t.receive(5, 5, true).unwrap().0, Verdict::Duplicate);
        let unverified = Verdict::New { unverified: true };
        assert_eq!(t.receive(5, 5, false).unwrap().0, unverified);
        // PUBRELs in order shrink the run from its start.
        for id in 1..=1000u16 {
            assert_eq!(t.release(id), Evicted::default());
        }
        assert_eq!(t.open_ids(), 0);
        assert_eq!(t.entries_used(), 0);
    }

    #[test]
    fn a_new_message_under_an_id_in_a_run_takes_its_hash_when_there_is_room() {
        let mut t = RxQos2::new();
        t.push(Entry::run(1, 10, 0));
        let unverified = Verdict::New { unverified: true };
        assert_eq!(t.receive(5, 9, false).unwrap().0, unverified);
        assert_eq!(t.receive(5, 9, false).unwrap().0, Verdict::Duplicate);
        assert_eq!(t.find(4).unwrap().1, Entry::run(1, 4, LIVE));
        assert_eq!(t.find(6).unwrap().1, Entry::run(6, 5, LIVE));
        assert_eq!(t.open_ids(), 10);
        assert_eq!(t.counters(), (0, 1));
    }

    #[test]
    fn a_pubrel_inside_a_run_splits_it_or_forgets_the_shorter_side() {
        let mut t = RxQos2::new();
        for id in 1..=100u16 {
            fresh(&mut t, id);
        }
        assert_eq!(t.release(3), Evicted::default());
        assert_eq!(t.open_ids(), 99);
        assert_eq!(t.receive(4, 0, true).unwrap().0, Verdict::Duplicate);
        assert_eq!(t.receive(2, 0, true).unwrap().0, Verdict::Duplicate);
        assert!(t.find(3).is_none());
        // A full table with no two adjacent entries: the shorter side of the run goes.
        let mut t = RxQos2::new();
        t.push(Entry::run(1, 6, LIVE));
        while !t.is_full() {
            let id = 1000 + 2 * t.len;
            fresh(&mut t, id);
        }
        assert_eq!(t.release(2), Evicted { first: 1, count: 1 });
        assert_eq!(t.open_ids(), MAX_RX_QOS2 as u32 - 1 + 6 - 2);
        assert!(t.find(1).is_none() && t.find(2).is_none());
        assert_eq!(t.find(3).unwrap().1, Entry::run(3, 4, LIVE));
    }

    #[test]
    fn a_table_of_runs_still_takes_the_next_id_of_a_run() {
        let mut t = RxQos2::new();
        for n in 0..MAX_RX_QOS2 as u16 {
            t.push(Entry::run(100 * n + 1, 10, 0));
        }
        assert_eq!(fresh(&mut t, 11), NEW);
        assert_eq!(fresh(&mut t, 100), NEW);
        assert_eq!(t.find(11).unwrap().1, Entry::run(1, 11, LIVE));
        assert_eq!(t.find(100).unwrap().1, Entry::run(100, 11, LIVE));
        assert_eq!(t.open_ids(), 10 * MAX_RX_QOS2 as u32 + 2);
        // Not next to a run: the oldest stale run is evicted, all of its ids reported.
        let (verdict, evicted) = t.receive(50, 50, false).unwrap();
        assert_eq!(verdict, NEW);
        assert_eq!(
            evicted,
            Evicted {
                first: 201,
                count: 10
            }
        );
        assert_eq!(t.counters(), (10, 0));
    }

    #[test]
    fn random_ids_fill_the_table_then_stale_entries_are_evicted_oldest_first() {
        let mut t = RxQos2::new();
        let id = |n: usize| (n as u16) * 3 + 7;
        for n in 0..MAX_RX_QOS2 {
            fresh(&mut t, id(n));
        }
        // All live on this connection: the next one is refused, nothing changes.
        assert_eq!(t.receive(2, 2, false), Err(Error::RxQos2Full));
        assert_eq!(t.open_ids(), MAX_RX_QOS2 as u32);
        t.resume(true);
        // The broker mentions the oldest again: it is live, the second oldest is not.
        assert_eq!(t.receive(id(0), id(0), true).unwrap().0, Verdict::Duplicate);
        let (verdict, evicted) = t.receive(2, 2, false).unwrap();
        assert_eq!(verdict, NEW);
        assert_eq!(
            evicted,
            Evicted {
                first: id(1),
                count: 1
            }
        );
        t.resume(false);
        assert_eq!(t.open_ids(), 0);
    }
}
