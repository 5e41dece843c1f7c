//! The message handlers `mqe_subscribe_cb` registers, one per topic filter: which of them a
//! message goes to, and which a SUBACK refusal frees. Without the `topic-handlers` feature
//! only the `mqe_set_message_handler` handler is left.

use core::ffi::c_void;

use super::cell::ClientCell;
use super::types::*;
#[cfg(feature = "topic-handlers")]
use {
    crate::bytes::copy_into,
    crate::config::{HANDLER_FILTER_BYTES, MAX_TOPIC_HANDLERS},
    crate::wire,
    core::ptr,
};

#[cfg(feature = "topic-handlers")]
/// A message handler registered with `mqe_subscribe_cb` for one topic filter.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct TopicHandler {
    handler: mqe_message_handler_t,
    user: *mut c_void,
    filter_len: u16,
    filter: [u8; HANDLER_FILTER_BYTES],
}

#[cfg(feature = "topic-handlers")]
impl TopicHandler {
    pub(super) const EMPTY: TopicHandler = TopicHandler {
        handler: None,
        user: ptr::null_mut(),
        filter_len: 0,
        filter: [0; HANDLER_FILTER_BYTES],
    };

    fn filter(&self) -> &[u8] {
        self.filter
            .get(..usize::from(self.filter_len))
            .unwrap_or(&[])
    }
}

/// The handlers one message goes to.
pub(crate) type Targets = heapless::Vec<(MessageFn, *mut c_void), TARGETS>;
#[cfg(feature = "topic-handlers")]
const TARGETS: usize = MAX_TOPIC_HANDLERS;
#[cfg(not(feature = "topic-handlers"))]
const TARGETS: usize = 1;
pub(crate) type MessageFn = unsafe extern "C" fn(*mut c_void, *const mqe_message_t);

#[cfg(feature = "topic-handlers")]
impl ClientCell {
    /// Registers `handler` for `filter` (already validated); the same filter replaces its
    /// handler. Returns the slot and what it held, for `restore_topic_handler`.
    /// `Err(MQE_ERR_TOO_LARGE)` for a filter over `MQE_HANDLER_FILTER_BYTES`,
    /// `Err(MQE_ERR_FULL)` when every slot is taken.
    pub(crate) fn add_topic_handler(
        &mut self,
        filter: &str,
        handler: MessageFn,
        user: *mut c_void,
    ) -> Result<(usize, TopicHandler), mqe_status_t> {
        let bytes = filter.as_bytes();
        let filter_len = u16::try_from(bytes.len()).map_err(|_| super::MQE_ERR_TOO_LARGE)?;
        if bytes.len() > HANDLER_FILTER_BYTES {
            return Err(super::MQE_ERR_TOO_LARGE);
        }
        let index = self
            .topic_handlers
            .iter()
            .position(|h| h.handler.is_some() && h.filter() == bytes)
            .or_else(|| self.topic_handlers.iter().position(|h| h.handler.is_none()))
            .ok_or(super::MQE_ERR_FULL)?;
        let slot = self
            .topic_handlers
            .get_mut(index)
            .ok_or(super::MQE_ERR_FULL)?;
        let previous = *slot;
        let mut entry = TopicHandler::EMPTY;
        if !copy_into(&mut entry.filter, bytes) {
            return Err(super::MQE_ERR_TOO_LARGE);
        }
        entry.filter_len = filter_len;
        entry.handler = Some(handler);
        entry.user = user;
        *slot = entry;
        Ok((index, previous))
    }

    /// Undoes `add_topic_handler`.
    pub(crate) fn restore_topic_handler(&mut self, (index, previous): (usize, TopicHandler)) {
        if let Some(slot) = self.topic_handlers.get_mut(index) {
            *slot = previous;
        }
    }

    /// Removes the handler of exactly `filter`, if any.
    pub(crate) fn remove_topic_handler(&mut self, filter: &str) {
        for slot in self.topic_handlers.iter_mut() {
            if slot.handler.is_some() && slot.filter() == filter.as_bytes() {
                *slot = TopicHandler::EMPTY;
            }
        }
    }

    /// Every handler whose filter matches `topic`, else the default handler, into `targets`.
    pub(super) fn fill_targets(&self, topic: &[u8], targets: &mut Targets) {
        targets.clear();
        // This runs for every message: no topic check while no handler is set.
        if self.topic_handlers.iter().any(|e| e.handler.is_some()) {
            let topic = wire::validate_utf8(topic).unwrap_or("");
            for entry in &self.topic_handlers {
                let Some(handler) = entry.handler else {
                    continue;
                };
                let filter = wire::validate_utf8(entry.filter()).unwrap_or("");
                if !filter.is_empty() && wire::topic_matches(filter, topic) {
                    // At most MAX_TOPIC_HANDLERS entries exist, so this never fails.
                    let _ = targets.push((handler, entry.user));
                }
            }
        }
        if targets.is_empty() {
            if let Some(handler) = self.message_handler {
                let _ = targets.push((handler, self.message_user));
            }
        }
    }
}

#[cfg(not(feature = "topic-handlers"))]
impl ClientCell {
    /// The default handler only, into `targets`.
    pub(super) fn fill_targets(&self, _topic: &[u8], targets: &mut Targets) {
        targets.clear();
        if let Some(handler) = self.message_handler {
            let _ = targets.push((handler, self.message_user));
        }
    }
}

#[cfg(feature = "topic-handlers")]
/// A SUBACK with a refusal (0x80) arrived. The client forgets each filter the broker refused,
/// so a handler whose filter `remembered` no longer holds was refused and its slot is freed.
/// One rule for the SUBACK of a `mqe_subscribe_cb` and for that of a renewal after a lost
/// session, whose SUBSCRIBE the client sent by itself with ids of its own.
pub(super) fn free_refused_handlers<F>(handlers: &mut [TopicHandler], granted: &[u8], remembered: F)
where
    F: Fn(&[u8]) -> bool,
{
    // Not `contains`: for bytes it links core's memchr (300 B of flash on the Cortex-M4).
    #[allow(clippy::manual_contains)]
    let refused = granted.iter().any(|&code| code == MQE_SUBACK_FAILURE);
    if !refused {
        return;
    }
    for slot in handlers.iter_mut() {
        if slot.handler.is_some() && !remembered(slot.filter()) {
            *slot = TopicHandler::EMPTY;
        }
    }
}
