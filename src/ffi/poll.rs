//! `mqe_poll`: drains the outbox, drives the client and delivers its messages and events to
//! the handlers; `mqe_next_deadline_ms` says when to poll again.

use super::cell::{cell_ptr, ClientCell, Delivery, Handoff};
use super::status::*;
use super::types::*;
#[cfg(feature = "outbox")]
use {
    super::cell::outbox_ptr,
    super::events::clear_event,
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
    let mut out = Delivery::new();
    // SAFETY: `c` is initialised storage (cell_ptr succeeded); the cell borrow is inside.
    #[cfg(feature = "outbox")]
    if unsafe { drain_outbox(c, cell, &mut out.event) } {
        // SAFETY: no borrow of the cell is alive; the event is self-contained.
        unsafe { run_event_handler(cell, &out.event) };
    }
    let mut result = MQE_OK;
    for _ in 0..MAX_DISPATCH_PER_POLL {
        // The borrow ends with this statement, before C runs.
        // SAFETY: as above.
        let Some(handoff) = (unsafe { &mut *cell }).step(&mut out) else {
            break;
        };
        // SAFETY (each arm): no borrow of the cell is alive, and nothing touched the rx window
        // since `step` took the pointers.
        match handoff {
            Handoff::Skip => {}
            Handoff::Event => {
                if matches!(
                    out.event.kind,
                    MQE_EVENT_CONNECT_REFUSED | MQE_EVENT_DISCONNECTED
                ) {
                    result = out.event.reason;
                }
                // SAFETY: see above.
                unsafe { run_event_handler(cell, &out.event) };
            }
            Handoff::Message => {
                for (handler, user) in &out.targets {
                    // SAFETY: see above; each handler and user as the application registered.
                    unsafe { handler(*user, &out.message) };
                }
            }
            #[cfg(feature = "credentials-cb")]
            // SAFETY: see above; the client is initialised.
            Handoff::Credentials(hook, refused) => unsafe {
                super::cloud::run_credentials(cell, hook, refused)
            },
        }
    }
    // SAFETY: as above; the callbacks have returned.
    unsafe { (*cell).dispatching = false };
    result
}

#[cfg(feature = "outbox")]
/// Publishes the outbox's messages in FIFO order until it is empty or the client pushes back
/// (`MQE_ERR_FULL`: they wait for the next poll). A message the client refuses for good is
/// dropped; the returned callback reports those as `MQE_EVENT_ERROR`.
///
/// # Safety
/// `c` is initialised client storage and `cell` its cell; no borrow of the cell is alive.
unsafe fn drain_outbox(
    c: *mut mqe_client_t,
    cell: *mut ClientCell,
    event: &mut mqe_event_t,
) -> bool {
    // SAFETY: initialised storage, per the contract.
    let Ok(outbox) = (unsafe { outbox_ptr(c) }) else {
        return false;
    };
    // SAFETY: owner task; the borrow covers the cell only, never the outbox (cell.rs).
    let cell = unsafe { &mut *cell };
    // Only while connected, so posted messages go out in the order posted whatever their QoS
    // (after a reconnect the client sends stored QoS 1/2 before queued QoS 0).
    if cell.client.state() != ClientState::Connected {
        return false;
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
        return false;
    }
    cell.log(
        MQE_LOG_ERROR,
        b"outbox dropped \x01, last: \x12",
        [dropped, last_reason as u32, 0],
    );
    clear_event(event);
    event.kind = MQE_EVENT_ERROR;
    event.dropped = dropped;
    event.reason = last_reason;
    true
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
