//! The message handlers `mqe_subscribe_cb` registers, one per topic filter: which of them a
//! message goes to, and which a SUBACK refusal frees.

use core::ffi::c_void;
use core::ptr;

use super::cell::ClientCell;
use super::types::*;
use crate::bytes::copy_into;
use crate::config::{HANDLER_FILTER_BYTES, MAX_TOPIC_HANDLERS};
use crate::wire;

/// A message handler registered with `mqe_subscribe_cb` for one topic filter.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct TopicHandler {
    handler: mqe_message_handler_t,
    user: *mut c_void,
    filter_len: u16,
    /// The SUBSCRIBE whose SUBACK is awaited (0: none): a refusal (0x80) frees the slot.
    suback_id: u16,
    filter: [u8; HANDLER_FILTER_BYTES],
}

impl TopicHandler {
    pub(super) const EMPTY: TopicHandler = TopicHandler {
        handler: None,
        user: ptr::null_mut(),
        filter_len: 0,
        suback_id: 0,
        filter: [0; HANDLER_FILTER_BYTES],
    };

    fn filter(&self) -> &[u8] {
        self.filter
            .get(..usize::from(self.filter_len))
            .unwrap_or(&[])
    }
}

/// The handlers one message goes to.
pub(crate) type Targets = heapless::Vec<(MessageFn, *mut c_void), MAX_TOPIC_HANDLERS>;
pub(crate) type MessageFn = unsafe extern "C" fn(*mut c_void, *const mqe_message_t);

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

    /// Notes that the handler in `index` awaits the SUBACK of SUBSCRIBE `packet_id`.
    pub(crate) fn topic_handler_awaits(&mut self, index: usize, packet_id: u16) {
        if let Some(slot) = self.topic_handlers.get_mut(index) {
            slot.suback_id = packet_id;
        }
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

    /// Every handler whose filter matches `topic`, else the default handler.
    pub(super) fn targets_for(&self, topic: &[u8]) -> Targets {
        let mut targets = Targets::new();
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
        if targets.is_empty() {
            if let Some(handler) = self.message_handler {
                let _ = targets.push((handler, self.message_user));
            }
        }
        targets
    }
}

/// A SUBACK arrived: the handlers that awaited it are kept when the broker granted their
/// filter, and freed when it refused it (one filter per `mqe_subscribe_cb`).
pub(super) fn settle_topic_handlers(handlers: &mut [TopicHandler], packet_id: u16, granted: &[u8]) {
    let refused = granted.first() == Some(&MQE_SUBACK_FAILURE);
    for slot in handlers.iter_mut() {
        if slot.handler.is_some() && slot.suback_id == packet_id && packet_id != 0 {
            if refused {
                *slot = TopicHandler::EMPTY;
            } else {
                slot.suback_id = 0;
            }
        }
    }
}
