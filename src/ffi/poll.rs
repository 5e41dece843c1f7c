//! `mqe_poll`: drains the outbox, drives the client and delivers its messages and events to
//! the handlers; `mqe_next_deadline_ms` says when to poll again.

use super::cell::{cell_ptr, ClientCell, Handoff};
use super::events::blank_event;
use super::status::*;
use super::topic_handlers::Targets;
use super::types::*;
use crate::client::Dispatch;
#[cfg(feature = "outbox")]
use {
    super::cell::outbox_ptr,
    super::log::MQE_LOG_ERROR,
    super::outbox,
    crate::client::ClientState,
    crate::config,
    crate::wire::{self, QoS},
};

/// Dispatches one `mqe_poll` delivers at most; the rest wait for the next poll
/// (`mqe_next_deadline_ms` then answers 0).
const MAX_DISPATCH_PER_POLL: usize = 64;

/// Does everything that is due without blocking: publishes what `mqe_post_publish` queued
/// (oldest first, as far as the window allows; only while `MQE_STATE_CONNECTED`), connect
/// steps, send, receive, keep-alive, timeouts, and runs the handlers for each message and event. Call it whenever the socket may
/// have data and at least when `mqe_next_deadline_ms` says. Any state.
///
/// Returns `MQE_OK`, or when a connection ended during this call, the reason (e.g.
/// `MQE_ERR_CLOSED`, `MQE_ERR_PING_TIMEOUT`, `MQE_ERR_REFUSED_*`; a clean disconnect is
/// `MQE_OK`). Errors: `MQE_ERR_NULL`, `MQE_ERR_NOT_INIT`, `MQE_ERR_REENTRANT` (from a callback).
///
/// # Safety
/// `c` is NULL or client storage; the handlers set must be callable.
#[no_mangle]
pub unsafe extern "C" fn mqe_poll(c: *mut mqe_client_t) -> mqe_status_t {
    // SAFETY: forwarded contract.
    let cell = match unsafe { cell_ptr(c) } {
        Ok(cell) => cell,
        Err(status) => return status,
    };
    {
        // SAFETY: initialised; no borrow is alive (see with_cell). This one ends in the block.
        let cell = unsafe { &mut *cell };
        if cell.dispatching {
            return MQE_ERR_REENTRANT;
        }
        cell.dispatching = true;
    }
    // SAFETY: `c` is initialised storage (cell_ptr succeeded); no borrow of the cell is alive.
    #[cfg(feature = "outbox")]
    if let Some((dropped, reason)) = unsafe { drain_outbox(c, cell) } {
        // SAFETY: as above.
        unsafe { report_dropped(cell, dropped, reason) };
    }
    let mut result = MQE_OK;
    for _ in 0..MAX_DISPATCH_PER_POLL {
        // Only the notice is held here while the client runs (the deepest path); the message
        // or event is built by `deliver`, after. The borrow ends with this statement.
        // SAFETY: as above.
        let next = (unsafe { &mut *cell }).step();
        // Borrowed, not moved out: one copy of the notice in this frame.
        let Some(dispatch) = &next else {
            break;
        };
        // SAFETY: as above; nothing touched the rx window since `step`.
        if let Some(reason) = unsafe { deliver(cell, dispatch) } {
            result = reason;
        }
    }
    // SAFETY: as above; the callbacks have returned.
    unsafe { (*cell).dispatching = false };
    result
}

/// Runs the handlers for one notice of `step`: the message or event is built in this frame,
/// which is not under the client's deepest path. Returns the reason of a
/// `MQE_EVENT_CONNECT_REFUSED` or `_DISCONNECTED` (`mqe_poll` returns the last one).
///
/// # Safety
/// `cell` is an initialised cell with no borrow alive, and the rx window has not changed since
/// the step that returned `dispatch`.
/// Out of line in the size profiles (the stack goal); inline at opt-level 2/3
/// (`cfg(mqe_speed)`), where the call and the notice's trip through memory cost about 40
/// instructions per message.
#[cfg_attr(not(mqe_speed), inline(never))]
#[cfg_attr(mqe_speed, inline(always))]
unsafe fn deliver(cell: *mut ClientCell, dispatch: &Dispatch) -> Option<mqe_status_t> {
    // Each borrow of the cell ends with its statement, before C runs; nothing touches the rx
    // window the message points into until this returns.
    if let Dispatch::Message(m) = dispatch {
        let mut targets = Targets::new();
        // SAFETY: per the contract.
        let message = (unsafe { &mut *cell }).message_for(m, &mut targets)?;
        for (handler, user) in &targets {
            // SAFETY: no borrow of the cell is alive; each handler and user as the application
            // registered.
            unsafe { handler(*user, &message) };
        }
        return None;
    }
    // SAFETY: forwarded contract.
    unsafe { deliver_event(cell, dispatch) }
}

/// `deliver` for anything but a message: out of line, so the message path stays lean.
///
/// # Safety
/// As `deliver`.
#[cfg_attr(not(mqe_speed), inline(never))]
#[cfg_attr(mqe_speed, inline(always))]
unsafe fn deliver_event(cell: *mut ClientCell, dispatch: &Dispatch) -> Option<mqe_status_t> {
    let mut event = blank_event();
    // SAFETY: per the contract.
    let handoff = (unsafe { &mut *cell }).event_for(dispatch, &mut event);
    match handoff {
        Handoff::Skip => None,
        Handoff::Event => {
            // SAFETY: no borrow of the cell is alive; the event's pointers are into the rx window.
            unsafe { run_event_handler(cell, &event) };
            matches!(
                event.kind,
                MQE_EVENT_CONNECT_REFUSED | MQE_EVENT_DISCONNECTED
            )
            .then_some(event.reason)
        }
        #[cfg(feature = "credentials-cb")]
        Handoff::Credentials(hook, refused) => {
            // SAFETY: no borrow of the cell is alive; the client is initialised.
            unsafe { super::cloud::run_credentials(cell, hook, refused) };
            None
        }
    }
}

/// Reports messages the outbox dropped as `MQE_EVENT_ERROR`. Out of line, so the event is
/// not in `mqe_poll`'s frame while the client runs, nor built on every poll.
///
/// # Safety
/// `cell` is an initialised cell with no borrow alive.
#[cfg(feature = "outbox")]
#[cold]
#[inline(never)]
unsafe fn report_dropped(cell: *mut ClientCell, dropped: u32, reason: mqe_status_t) {
    let mut event = blank_event();
    event.kind = MQE_EVENT_ERROR;
    event.dropped = dropped;
    event.reason = reason;
    // SAFETY: no borrow of the cell is alive; the event is self-contained.
    unsafe { run_event_handler(cell, &event) };
}

#[cfg(feature = "outbox")]
/// Publishes the outbox's messages in FIFO order until it is empty or the client pushes back
/// (`MQE_ERR_FULL`: they wait for the next poll). A message the client refuses for good is
/// dropped; returns how many and the last one's reason, for `report_dropped`.
///
/// # Safety
/// `c` is initialised client storage and `cell` its cell; no borrow of the cell is alive.
unsafe fn drain_outbox(c: *mut mqe_client_t, cell: *mut ClientCell) -> Option<(u32, mqe_status_t)> {
    // SAFETY: initialised storage, per the contract.
    let Ok(outbox) = (unsafe { outbox_ptr(c) }) else {
        return None;
    };
    // SAFETY: owner task; the borrow covers the cell only, never the outbox (cell.rs).
    let cell = unsafe { &mut *cell };
    // Only while connected, so posted messages go out in the order posted whatever their QoS
    // (after a reconnect the client sends stored QoS 1/2 before queued QoS 0).
    if cell.client.state() != ClientState::Connected {
        return None;
    }
    let mut dropped = 0u32;
    let mut last_reason = MQE_OK;
    for _ in 0..config::OUTBOX_SLOTS {
        // SAFETY: owner task; the borrow ends before `pop`.
        let Some(posted) = (unsafe { outbox::front(outbox) }) else {
            break;
        };
        let now = cell.now();
        // Checked by mqe_post_publish; re-checked since the bytes came through memory others write.
        let result = wire::validate_utf8(posted.topic)
            .and_then(|topic| QoS::from_u8(posted.qos).map(|qos| (topic, qos)))
            .and_then(|(topic, qos)| {
                super::cloud::check_publish(
                    cell,
                    topic,
                    posted.payload.len(),
                    posted.qos,
                    posted.retain,
                )
                .map_err(|_| crate::Error::Unsupported)?;
                cell.client
                    .publish(now, topic, posted.payload, qos, posted.retain)
            });
        match result {
            Err(crate::Error::Full) => break,
            Ok(_) => {}
            Err(error) => {
                dropped = dropped.saturating_add(1);
                last_reason = status_of(error);
            }
        }
        // SAFETY: owner task; `posted` is no longer used.
        unsafe { outbox::pop(outbox) };
    }
    if dropped == 0 {
        return None;
    }
    cell.log(
        MQE_LOG_ERROR,
        b"outbox dropped \x01, last: \x12",
        [dropped, last_reason as u32, 0],
    );
    Some((dropped, last_reason))
}

/// Runs the event handler, if one is set, on `event`.
///
/// # Safety
/// `cell` is an initialised cell with no borrow alive; the pointers in `event` are valid.
unsafe fn run_event_handler(cell: *mut ClientCell, event: &mqe_event_t) {
    // SAFETY: a shared borrow that ends before C runs.
    let (handler, user) = unsafe { ((*cell).event_handler, (*cell).event_user) };
    if let Some(handler) = handler {
        // SAFETY: the handler and user pointer were given by the application.
        unsafe { handler(user, event) }
    }
}

/// Milliseconds the task may sleep before `mqe_poll` has timed work; 0 = poll now (also while
/// posted messages wait and the in-flight window has room); `UINT32_MAX` = no timer (or NULL /
/// not initialised). Incoming data and new posts are not predicted: also poll when the socket
/// becomes readable, and have tasks that call `mqe_post_publish` wake the owner task (e.g. a
/// task notification) if it sleeps long. Any state, also from a callback.
///
/// # Safety
/// `c` is NULL or client storage.
#[no_mangle]
pub unsafe extern "C" fn mqe_next_deadline_ms(c: *const mqe_client_t) -> u32 {
    // SAFETY: forwarded contract; only read.
    let Ok(cell) = (unsafe { cell_ptr(c) }) else {
        return u32::MAX;
    };
    // SAFETY: initialised; shared read while no `&mut` is alive.
    let cell = unsafe { &*cell };
    // Posted messages wait for a poll: now, while the window has room for them.
    #[cfg(feature = "outbox")]
    let engine = cell.client.engine();
    #[cfg(feature = "outbox")]
    if cell.client.state() == ClientState::Connected
        && engine.inflight() < usize::from(engine.config().inflight_window)
    {
        // SAFETY: initialised storage (cell_ptr succeeded); `waiting` only reads the counter.
        if let Ok(outbox) = unsafe { outbox_ptr(c) } {
            // SAFETY: as above, through the outbox functions.
            if unsafe { outbox::waiting(outbox) } > 0 {
                return 0;
            }
        }
    }
    cell.client.next_deadline(cell.now()).unwrap_or(u32::MAX)
}
