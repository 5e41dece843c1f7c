//! umqtt-style blocking helpers: `mqe_poll` in a loop, sleeping through `platform.delay_ms`,
//! each bounded by a timeout. They belong to the owner task, like every call but
//! `mqe_post_publish`, and are not allowed from a callback.

use super::cell::{cell_ptr, ClientCell};
use super::status::*;
use super::types::*;
use super::{mqe_connect, mqe_poll};
use crate::client::ClientState;
use crate::time::Instant;

/// The longest single sleep: incoming data is not predicted by `mqe_next_deadline_ms`, so the
/// helpers look at the socket at least this often.
const WAIT_SLICE_MS: u32 = 10;

/// What a wait waits for. One loop serves the three helpers (a closure per helper would build
/// the loop three times over).
#[derive(Clone, Copy)]
enum Until {
    /// CONNACK.
    Connected,
    /// A message dispatched since `messages_seen` was this (`None`: not initialised).
    Message(Option<u32>),
    /// A PINGRESP since `ping_responses` was this.
    PingResponse(u32),
}

impl Until {
    /// After a poll that returned `polled` (non-OK: a connection ended): the status to return,
    /// or `None` to keep waiting.
    fn decide(self, cell: &ClientCell, polled: mqe_status_t) -> Option<mqe_status_t> {
        let state = cell.client.state();
        match self {
            Until::Connected => match state {
                ClientState::Connected => Some(MQE_OK),
                _ if polled != MQE_OK => Some(polled),
                ClientState::Disconnected | ClientState::Disconnecting => Some(MQE_ERR_STATE),
                ClientState::Connecting | ClientState::Reconnecting => None,
                // Waits for link-up within the timeout.
                #[cfg(feature = "link")]
                ClientState::LinkDown => None,
            },
            Until::Message(seen_before) if Some(cell.messages_seen) != seen_before => Some(MQE_OK),
            Until::PingResponse(answered_before) if cell.ping_responses != answered_before => {
                Some(MQE_OK)
            }
            _ if polled != MQE_OK => Some(polled),
            Until::Message(_) if state == ClientState::Disconnected => Some(MQE_ERR_STATE),
            Until::PingResponse(_) if state != ClientState::Connected => Some(MQE_ERR_STATE),
            Until::Message(_) | Until::PingResponse(_) => None,
        }
    }
}

/// Polls `c` until `until` is reached or `timeout_ms` passed (`MQE_ERR_TIMEOUT`).
///
/// # Safety
/// `c` is NULL or client storage; called from the owner task, outside callbacks.
unsafe fn poll_until(c: *mut mqe_client_t, timeout_ms: u32, until: Until) -> mqe_status_t {
    // SAFETY: forwarded contract.
    let cell = match unsafe { cell_ptr(c) } {
        Ok(cell) => cell,
        Err(status) => return status,
    };
    let (delay_ms, start) = {
        // SAFETY: initialised; a shared borrow that ends in this block, before any poll.
        let cell = unsafe { &*cell };
        if cell.dispatching {
            return MQE_ERR_REENTRANT;
        }
        (cell.platform.delay_ms, cell.now())
    };
    let Some(delay_ms) = delay_ms else {
        return MQE_ERR_NULL;
    };
    // Bounded by time: every pass reads the clock and returns once the timeout has passed.
    loop {
        // SAFETY: forwarded contract; no borrow of the cell is alive.
        let polled = unsafe { mqe_poll(c) };
        if matches!(polled, MQE_ERR_NULL | MQE_ERR_NOT_INIT | MQE_ERR_REENTRANT) {
            return polled;
        }
        // SAFETY: initialised; the shared borrow ends before the next poll or sleep.
        let (decision, now, deadline, platform_ctx) = {
            let cell = unsafe { &*cell };
            let now = cell.now();
            (
                until.decide(cell, polled),
                now,
                cell.client.next_deadline(now),
                cell.platform.ctx,
            )
        };
        if let Some(status) = decision {
            return status;
        }
        let elapsed = now.ms_since(start);
        if elapsed >= timeout_ms {
            return MQE_ERR_TIMEOUT;
        }
        let nap = (timeout_ms - elapsed)
            .min(deadline.unwrap_or(WAIT_SLICE_MS))
            .min(WAIT_SLICE_MS);
        if nap > 0 {
            // SAFETY: given by the application at mqe_init with its ctx, valid while used.
            unsafe { delay_ms(platform_ctx, nap) };
        }
    }
}

/// umqtt's `connect()`: starts connecting when `MQE_STATE_DISCONNECTED` or
/// `MQE_STATE_RECONNECTING` (as `mqe_connect`), then polls until CONNACK. Already connected:
/// `MQE_OK` at once.
///
/// Returns `MQE_OK` when connected; the reason the attempt failed (e.g. `MQE_ERR_TRANSPORT`,
/// `MQE_ERR_DNS`, `MQE_ERR_CONNECT_TIMEOUT`, `MQE_ERR_REFUSED_*`; with `reconnect` on, the
/// client keeps retrying in later polls until `mqe_disconnect`); `MQE_ERR_TIMEOUT` after
/// `timeout_ms`; `MQE_ERR_STATE` while disconnecting; `MQE_ERR_NULL` (also: no
/// `platform.delay_ms`), `MQE_ERR_NOT_INIT`, `MQE_ERR_REENTRANT` (from a callback).
///
/// # Safety
/// `c` is NULL or client storage; the handlers set must be callable.
#[no_mangle]
pub unsafe extern "C" fn mqe_connect_wait(c: *mut mqe_client_t, timeout_ms: u32) -> mqe_status_t {
    // Checked before connecting, so a call that cannot wait changes nothing.
    // SAFETY: forwarded contract.
    match unsafe { cell_ptr(c) } {
        // SAFETY: initialised; shared read while no `&mut` is alive.
        Ok(cell) if unsafe { &*cell }.platform.delay_ms.is_none() => return MQE_ERR_NULL,
        Ok(_) => {}
        Err(status) => return status,
    }
    // SAFETY: forwarded contract.
    let state = unsafe { super::mqe_state(c) };
    match state {
        MQE_STATE_CONNECTED => return MQE_OK,
        MQE_STATE_DISCONNECTING => return MQE_ERR_STATE,
        MQE_STATE_DISCONNECTED | MQE_STATE_RECONNECTING => {
            // SAFETY: forwarded contract.
            let started = unsafe { mqe_connect(c) };
            if started != MQE_OK {
                return started;
            }
        }
        MQE_STATE_CONNECTING => {}
        error => return error,
    }
    // SAFETY: forwarded contract.
    unsafe { poll_until(c, timeout_ms, Until::Connected) }
}

/// umqtt's `wait_msg()`: polls until at least one incoming message has been dispatched to the
/// handlers (`MQE_OK`), or `timeout_ms` passed (`MQE_ERR_TIMEOUT`), or a connection ended
/// (its reason; a clean `mqe_disconnect` gives `MQE_ERR_STATE`). Events are dispatched too.
/// Errors: `MQE_ERR_NULL` (also: no `platform.delay_ms`), `MQE_ERR_NOT_INIT`,
/// `MQE_ERR_REENTRANT` (from a callback).
///
/// # Safety
/// `c` is NULL or client storage; the handlers set must be callable.
#[no_mangle]
pub unsafe extern "C" fn mqe_wait_msg(c: *mut mqe_client_t, timeout_ms: u32) -> mqe_status_t {
    let mut seen_before = None;
    // SAFETY: forwarded contract.
    unsafe {
        if let Ok(cell) = cell_ptr(c) {
            // SAFETY: initialised; shared read while no `&mut` is alive.
            seen_before = Some((*cell).messages_seen);
        }
        poll_until(c, timeout_ms, Until::Message(seen_before))
    }
}

/// umqtt's `check_msg()`: one `mqe_poll`, which dispatches any message that has arrived; never
/// blocks. Returns what `mqe_poll` returns.
///
/// # Safety
/// As `mqe_poll`.
#[no_mangle]
pub unsafe extern "C" fn mqe_check_msg(c: *mut mqe_client_t) -> mqe_status_t {
    // SAFETY: forwarded contract.
    unsafe { mqe_poll(c) }
}

/// umqtt's `ping()`, as a real round trip: sends PINGREQ (or, when the keep-alive's PINGREQ is
/// already out, waits for its answer) and polls until PINGRESP. Needs `MQE_STATE_CONNECTED`.
///
/// Returns `MQE_OK` on PINGRESP; `MQE_ERR_TIMEOUT` after `timeout_ms`; the reason when the
/// connection ended meanwhile (e.g. `MQE_ERR_PING_TIMEOUT`, `MQE_ERR_CLOSED`);
/// `MQE_ERR_STATE`, `MQE_ERR_NULL` (also: no `platform.delay_ms`),
/// `MQE_ERR_NOT_INIT`, `MQE_ERR_REENTRANT` (from a callback).
///
/// # Safety
/// `c` is NULL or client storage; the handlers set must be callable.
#[no_mangle]
pub unsafe extern "C" fn mqe_ping(c: *mut mqe_client_t, timeout_ms: u32) -> mqe_status_t {
    // SAFETY: forwarded contract.
    let cell = match unsafe { cell_ptr(c) } {
        Ok(cell) => cell,
        Err(status) => return status,
    };
    let answered_before = {
        // SAFETY: initialised; no other borrow is alive (owner task, not in a callback).
        let cell = unsafe { &mut *cell };
        if cell.dispatching {
            return MQE_ERR_REENTRANT;
        }
        // Checked before the PINGREQ, so a call that cannot wait sends nothing.
        if cell.platform.delay_ms.is_none() {
            return MQE_ERR_NULL;
        }
        let now: Instant = cell.now();
        match cell.client.engine_mut().ping(now) {
            // Full: a PINGREQ is already out; its PINGRESP answers this ping too.
            Ok(()) | Err(crate::Error::Full) => {}
            Err(error) => return status_of(error),
        }
        cell.ping_responses
    };
    // SAFETY: forwarded contract.
    unsafe { poll_until(c, timeout_ms, Until::PingResponse(answered_before)) }
}
