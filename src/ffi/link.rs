//! The data link (feature `link`): `mqe_link_down` / `mqe_link_up`, their events and state.

use super::types::*;
use super::{into_status, with_cell};

/// The firmware reported the data link down (`mqe_link_down`). An `MQE_EVENT_DISCONNECTED`
/// with `MQE_ERR_LINK_DOWN` follows when a connection or an attempt was under way.
pub const MQE_EVENT_LINK_DOWN: mqe_event_kind_t = 16;
/// The firmware reported the data link up (`mqe_link_up`); a wanted connection is being set up.
pub const MQE_EVENT_LINK_UP: mqe_event_kind_t = 17;
/// CONNACK refused the credentials (`return_code` 4 or 5, `reason` its `MQE_ERR_REFUSED_*`)
/// `mqe_options_t.auth_retry_limit` times in a row: automatic reconnect stopped. `mqe_connect`
/// starts again (with new credentials, after a new `mqe_init`).
pub const MQE_EVENT_RECONNECT_STOPPED: mqe_event_kind_t = 18;

/// A connection is wanted (`mqe_connect` was called) but the data link is down: no attempt is
/// made until `mqe_link_up`. Publishing works as while reconnecting.
pub const MQE_STATE_LINK_DOWN: mqe_state_t = 5;

/// Tells the client that the data link (PDP context, bearer) went down, typically from the
/// modem's data-call callback on the owner task. The connection, or the attempt under way,
/// ends at once (`MQE_EVENT_LINK_DOWN`, then `MQE_EVENT_DISCONNECTED` with
/// `MQE_ERR_LINK_DOWN`, on the next `mqe_poll`), and no connect attempt is made, so no battery
/// or data is spent on a dead bearer, until `mqe_link_up`. `mqe_publish` keeps its offline
/// behaviour: QoS 1/2 are stored, QoS 0 queued. `mqe_state` says `MQE_STATE_LINK_DOWN` while a
/// connection is wanted. Calling it again while down does nothing. Any state.
///
/// Errors: `MQE_ERR_NULL`, `MQE_ERR_NOT_INIT`. Allowed from a callback of this client.
///
/// # Safety
/// `c` is NULL or client storage.
#[no_mangle]
pub unsafe extern "C" fn mqe_link_down(c: *mut mqe_client_t) -> mqe_status_t {
    // SAFETY: forwarded contract.
    into_status(unsafe {
        with_cell(c, |cell| {
            let now = cell.now();
            cell.client.link_down(now);
            Ok(())
        })
    })
}

/// Tells the client that the data link is up again. When a connection is wanted, the attempt
/// starts now, without waiting out the reconnect backoff (also when a backoff runs and the link
/// was never reported down); `MQE_EVENT_LINK_UP` is reported when the link was down. Any state.
///
/// Errors: `MQE_ERR_NULL`, `MQE_ERR_NOT_INIT`.
///
/// # Safety
/// `c` is NULL or client storage.
#[no_mangle]
pub unsafe extern "C" fn mqe_link_up(c: *mut mqe_client_t) -> mqe_status_t {
    // SAFETY: forwarded contract.
    into_status(unsafe {
        with_cell(c, |cell| {
            let now = cell.now();
            cell.client.link_up(now);
            Ok(())
        })
    })
}
