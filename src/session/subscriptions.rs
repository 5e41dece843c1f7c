//! The subscriptions to renew when the broker kept no session: each filter, its QoS, and the
//! SUBSCRIBE that last carried it. Without the `resubscribe` feature nothing is remembered:
//! the table stays empty and the renewal code drops out (the app renews on `SessionLost`).

#[cfg(feature = "resubscribe")]
use crate::bytes::{copy_into, move_within, remove_at};
#[cfg(feature = "resubscribe")]
use crate::config::{MAX_SUBSCRIPTIONS, SUB_FILTER_BYTES};
use crate::error::Error;
#[cfg(feature = "resubscribe")]
use crate::wire::validate_utf8;
use crate::wire::QoS;

use super::Session;

/// One remembered subscription; its filter is `filters[start..start + len]`. Filters are
/// kept contiguous, in subscription order.
#[cfg(feature = "resubscribe")]
#[derive(Clone, Copy, Debug)]
pub(super) struct Subscription {
    start: usize,
    len: usize,
    qos: QoS,
    /// The SUBSCRIBE that last carried it and its position there: a SUBACK failure code
    /// (0x80) at that position forgets it.
    packet_id: u16,
    position: usize,
    /// A SUBACK confirmed it: a broker that kept the session has it.
    acked: bool,
    /// To be sent again on this connection.
    renew: bool,
}

#[cfg(feature = "resubscribe")]
impl Session<'_> {
    fn subscription_index(&self, filter: &str) -> Option<usize> {
        (0..self.subscriptions.len())
            .find(|&i| self.subscription(i).map(|(f, _)| f) == Some(filter))
    }

    /// The filter and QoS of remembered subscription `index`.
    pub(crate) fn subscription(&self, index: usize) -> Option<(&str, QoS)> {
        let sub = self.subscriptions.get(index)?;
        let bytes = self
            .filters
            .get(sub.start..sub.start.checked_add(sub.len)?)?;
        // Stored from a validated filter, so this never fails; checked anyway (ASCII is a
        // word-at-a-time scan) so a bookkeeping slip can never yield an invalid `&str`.
        let filter = validate_utf8(bytes).ok()?;
        Some((filter, sub.qos))
    }

    pub(crate) fn subscription_count(&self) -> usize {
        self.subscriptions.len()
    }

    /// Full unless every filter of `filters` new to the table fits the table and the arena
    /// (checked before anything is sent, so a subscription is never sent but forgotten).
    pub(crate) fn subscriptions_have_room<'f, I>(&self, filters: I) -> Result<(), Error>
    where
        I: Iterator<Item = (&'f str, QoS)>,
    {
        let mut entries = self.subscriptions.len();
        let mut bytes = self.filters_used;
        for (filter, _) in filters {
            if self.subscription_index(filter).is_none() {
                entries = entries.saturating_add(1);
                bytes = bytes.saturating_add(filter.len());
            }
        }
        if entries > MAX_SUBSCRIPTIONS || bytes > SUB_FILTER_BYTES {
            return Err(Error::Full);
        }
        Ok(())
    }

    /// Remembers the filters of SUBSCRIBE `packet_id`; a filter already known takes the new
    /// QoS (a new SUBSCRIBE replaces the old one, §3.8.4). Call `subscriptions_have_room` first.
    pub(crate) fn remember_subscriptions<'f, I>(&mut self, packet_id: u16, filters: I)
    where
        I: Iterator<Item = (&'f str, QoS)>,
    {
        for (position, (filter, qos)) in filters.enumerate() {
            if let Some(index) = self.subscription_index(filter) {
                if let Some(sub) = self.subscriptions.get_mut(index) {
                    sub.qos = qos;
                    sub.packet_id = packet_id;
                    sub.position = position;
                    sub.acked = false;
                    sub.renew = false;
                }
                continue;
            }
            // `subscriptions_have_room` was checked before the SUBSCRIBE was sent.
            let free = self
                .filters
                .get_mut(self.filters_used..)
                .unwrap_or_default();
            if self.subscriptions.is_full() || !copy_into(free, filter.as_bytes()) {
                continue;
            }
            let sub = Subscription {
                start: self.filters_used,
                len: filter.len(),
                qos,
                packet_id,
                position,
                acked: false,
                renew: false,
            };
            if self.subscriptions.push(sub).is_ok() {
                self.filters_used = self.filters_used.saturating_add(filter.len());
            }
        }
    }

    fn forget_subscription(&mut self, index: usize) {
        let Some((start, len)) = self.subscriptions.get(index).map(|s| (s.start, s.len)) else {
            return;
        };
        let end = start.saturating_add(len);
        // Filters are contiguous from 0; should that break, the entry and its bytes stay rather
        // than shifting the wrong ones.
        if !move_within(&mut self.filters, end, self.filters_used, start) {
            return;
        }
        self.filters_used = self.filters_used.saturating_sub(len);
        remove_at(&mut self.subscriptions, index);
        for later in self.subscriptions.iter_mut().skip(index) {
            later.start = later.start.saturating_sub(len);
        }
    }

    /// UNSUBSCRIBE: these filters are not renewed any more.
    pub(crate) fn forget_subscriptions<'f, I: Iterator<Item = &'f str>>(&mut self, filters: I) {
        for filter in filters {
            if let Some(index) = self.subscription_index(filter) {
                self.forget_subscription(index);
            }
        }
    }

    /// The broker refused the filter at `position` of SUBSCRIBE `packet_id` (code 0x80).
    pub(crate) fn subscription_refused(&mut self, packet_id: u16, position: usize) {
        let index = self
            .subscriptions
            .iter()
            .position(|s| s.packet_id == packet_id && s.position == position);
        if let Some(index) = index {
            self.forget_subscription(index);
        }
    }

    /// SUBACK for `packet_id`: its filters are confirmed (refusals were forgotten first).
    pub(crate) fn subscriptions_acked(&mut self, packet_id: u16) {
        for sub in self
            .subscriptions
            .iter_mut()
            .filter(|s| s.packet_id == packet_id)
        {
            sub.acked = true;
        }
    }

    /// A new connection: with no session at the broker every subscription is sent again;
    /// with one, those never confirmed (their SUBSCRIBE may not have arrived).
    pub(crate) fn plan_resubscribe(&mut self, session_present: bool) {
        for sub in self.subscriptions.iter_mut() {
            sub.renew = !session_present || !sub.acked;
        }
    }

    pub(crate) fn stop_resubscribe(&mut self) {
        for sub in self.subscriptions.iter_mut() {
            sub.renew = false;
        }
    }

    /// The next run of consecutive subscriptions to renew.
    pub(crate) fn resubscribe_pending(&self) -> Option<core::ops::Range<usize>> {
        let start = self.subscriptions.iter().position(|s| s.renew)?;
        let run = self
            .subscriptions
            .iter()
            .skip(start)
            .take_while(|s| s.renew)
            .count();
        Some(start..start.saturating_add(run))
    }

    /// Subscriptions `range` went out in SUBSCRIBE `packet_id`.
    pub(crate) fn resubscribed(&mut self, packet_id: u16, range: core::ops::Range<usize>) {
        for (position, index) in range.enumerate() {
            if let Some(sub) = self.subscriptions.get_mut(index) {
                sub.packet_id = packet_id;
                sub.position = position;
                sub.acked = false;
                sub.renew = false;
            }
        }
    }
}

/// Without `resubscribe` there is no table (and no byte of it in the client): nothing is
/// remembered, nothing renewed.
#[cfg(not(feature = "resubscribe"))]
impl Session<'_> {
    pub(crate) fn subscription(&self, _index: usize) -> Option<(&str, QoS)> {
        None
    }

    pub(crate) fn subscription_count(&self) -> usize {
        0
    }

    pub(crate) fn subscriptions_have_room<'f, I>(&self, _filters: I) -> Result<(), Error>
    where
        I: Iterator<Item = (&'f str, QoS)>,
    {
        Ok(())
    }

    pub(crate) fn remember_subscriptions<'f, I>(&mut self, _packet_id: u16, _filters: I)
    where
        I: Iterator<Item = (&'f str, QoS)>,
    {
    }

    pub(crate) fn forget_subscriptions<'f, I: Iterator<Item = &'f str>>(&mut self, _filters: I) {}

    pub(crate) fn subscription_refused(&mut self, _packet_id: u16, _position: usize) {}

    pub(crate) fn subscriptions_acked(&mut self, _packet_id: u16) {}

    pub(crate) fn plan_resubscribe(&mut self, _session_present: bool) {}

    pub(crate) fn stop_resubscribe(&mut self) {}

    pub(crate) fn resubscribe_pending(&self) -> Option<core::ops::Range<usize>> {
        None
    }

    pub(crate) fn resubscribed(&mut self, _packet_id: u16, _range: core::ops::Range<usize>) {}
}
