//! The commands: connect, disconnect, publish (also from any task, through the outbox),
//! subscribe and unsubscribe. Each returns at once; `mqe_poll` does the work.

use core::ffi::{c_char, c_void};

use super::args::{c_slice, c_str, c_str_n, write_out};
#[cfg(feature = "outbox")]
use super::cell::outbox_ptr;
use super::cell::ClientCell;
use super::log::MQE_LOG_INFO;
#[cfg(feature = "outbox")]
use super::outbox;
use super::status::*;
use super::types::*;
use super::{into_status, with_cell};
#[cfg(feature = "outbox")]
use crate::config;
use crate::engine::FilterList;
use crate::wire::{self, QoS};

/// Starts connecting (resolve, TCP connect, CONNECT) and returns at once; `mqe_poll` does the
/// work, and the outcome arrives as `MQE_EVENT_CONNECTED`, `MQE_EVENT_CONNECT_REFUSED` or
/// `MQE_EVENT_DISCONNECTED` (e.g. `MQE_ERR_DNS`, `MQE_ERR_CONNECT_TIMEOUT`). From then on, with
/// `reconnect` set, `mqe_poll` reconnects by itself until `mqe_disconnect`. After CONNACK,
/// unacknowledged QoS 1/2 messages are re-sent (same ids, DUP=1), then queued QoS 0 ones; when
/// the broker kept no session, every remembered subscription is renewed first.
/// Needs: `MQE_STATE_DISCONNECTED`, or `MQE_STATE_RECONNECTING` (the attempt starts now), else
/// `MQE_ERR_STATE`. Errors: `MQE_ERR_NULL`,
/// `MQE_ERR_NOT_INIT`, `MQE_ERR_REENTRANT` (from a callback).
///
/// # Safety
/// `c` is NULL or client storage.
#[no_mangle]
pub unsafe extern "C" fn mqe_connect(c: *mut mqe_client_t) -> mqe_status_t {
    // SAFETY: forwarded contract.
    into_status(unsafe {
        with_cell(c, |cell| {
            if cell.dispatching {
                return Err(MQE_ERR_REENTRANT);
            }
            let now = cell.now();
            cell.client.connect(now).map_err(status_of)?;
            let endpoint = u32::try_from(cell.client.endpoint_index()).unwrap_or(u32::MAX);
            cell.log(MQE_LOG_INFO, b"connecting, endpoint \x01", [endpoint, 0, 0]);
            Ok(())
        })
    })
}

/// Ends the connection cleanly: DISCONNECT is queued and sent by `mqe_poll`, then the socket
/// closes and `MQE_EVENT_DISCONNECTED` (reason `MQE_OK`) follows. Cancels a connection still
/// being set up and stops automatic reconnect (also while `MQE_STATE_RECONNECTING`). Allowed from
/// a callback. Needs: connecting, reconnecting or connected, else `MQE_ERR_STATE`.
/// Errors: `MQE_ERR_NULL`, `MQE_ERR_NOT_INIT`.
///
/// # Safety
/// `c` is NULL or client storage.
#[no_mangle]
pub unsafe extern "C" fn mqe_disconnect(c: *mut mqe_client_t) -> mqe_status_t {
    // SAFETY: forwarded contract.
    into_status(unsafe {
        with_cell(c, |cell| {
            let now = cell.now();
            cell.client.disconnect(now).map_err(status_of)
        })
    })
}

/// Publishes `len` bytes of `payload` on `topic` (no wildcards) and returns at once; the data is
/// copied, so both may be reused right after the call. QoS 1/2 are accepted in any state into
/// the store and sent when connected, re-sent after every reconnect until acknowledged
/// (completion: `MQE_EVENT_PUBLISH_COMPLETE` with the packet id). QoS 0 goes out at once when
/// connected; after `mqe_connect` while not (yet, or no longer) connected, it waits in the
/// offline queue and is sent in order once connected (full queue: see `qos0_policy`).
/// `*packet_id` (if not NULL) receives the id, 0 at QoS 0. Allowed from a callback.
///
/// Errors: `MQE_ERR_NULL` (c, topic, or payload NULL with len > 0), `MQE_ERR_NOT_INIT`,
/// `MQE_ERR_UTF8`, `MQE_ERR_TOPIC` (empty or wildcard), `MQE_ERR_QOS` (> 2),
/// `MQE_ERR_TOO_LARGE` (can never fit the tx or store buffer, or the offline queue; QoS 1/2
/// without a store buffer), `MQE_ERR_FULL` (window, store, tx or offline queue full now:
/// back-pressure, nothing queued, retry after `mqe_poll`), `MQE_ERR_STATE` (QoS 0 before
/// `mqe_connect` or after `mqe_disconnect`).
///
/// # Safety
/// `c` is NULL or client storage; `topic` NULL or NUL-terminated; `payload` readable for `len`
/// bytes; `packet_id` NULL or writable. All only during the call.
#[no_mangle]
pub unsafe extern "C" fn mqe_publish(
    c: *mut mqe_client_t,
    topic: *const c_char,
    payload: *const c_void,
    len: usize,
    qos: u8,
    retain: bool,
    packet_id: *mut u16,
) -> mqe_status_t {
    // SAFETY: forwarded contract; the strings and payload are only used during the call.
    into_status(unsafe {
        with_cell(c, |cell| {
            let topic = c_str(topic)?;
            publish_str(cell, topic, payload, len, qos, retain, packet_id)
        })
    })
}

/// `mqe_publish` with the topic given as `topic_len` bytes at `topic`, not NUL-terminated:
/// a received message's `topic` and `topic_len` can be passed as they are, to reply on the
/// same topic without a copy. The topic follows the MQTT rules as in `mqe_publish` (1 to
/// 65,535 bytes of UTF-8 without U+0000 or wildcards).
///
/// Errors: as `mqe_publish`; `MQE_ERR_NULL` for a NULL topic (any length),
/// `MQE_ERR_TOO_LARGE` for `topic_len` over 65,535, `MQE_ERR_TOPIC` for `topic_len` 0,
/// `MQE_ERR_UTF8` for bad UTF-8 or an embedded NUL.
///
/// # Safety
/// As `mqe_publish`, with `topic` NULL or readable for `topic_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mqe_publish_n(
    c: *mut mqe_client_t,
    topic: *const c_char,
    topic_len: usize,
    payload: *const c_void,
    payload_len: usize,
    qos: u8,
    retain: bool,
    packet_id: *mut u16,
) -> mqe_status_t {
    // SAFETY: forwarded contract; the topic and payload are only used during the call.
    into_status(unsafe {
        with_cell(c, |cell| {
            let topic = c_str_n(topic, topic_len)?;
            publish_str(cell, topic, payload, payload_len, qos, retain, packet_id)
        })
    })
}

/// The rest of `mqe_publish` once the topic is read.
///
/// # Safety
/// `payload` NULL or readable for `len` bytes; `packet_id` NULL or writable; during the call.
// Inline: one copy per caller is smaller than the call in the minimal images (one caller).
#[inline(always)]
unsafe fn publish_str(
    cell: &mut ClientCell,
    topic: &str,
    payload: *const c_void,
    len: usize,
    qos: u8,
    retain: bool,
    packet_id: *mut u16,
) -> Result<(), mqe_status_t> {
    // SAFETY: forwarded contract.
    let payload = unsafe { c_slice(payload.cast::<u8>(), len) }?;
    let qos = QoS::from_u8(qos).map_err(|_| MQE_ERR_QOS)?;
    super::cloud::check_publish(cell, topic, len, qos as u8, retain)?;
    let now = cell.now();
    // The topic's MQTT rules are checked once, by the engine.
    let id = cell
        .client
        .publish(now, topic, payload, qos, retain)
        .map_err(status_of)?;
    // SAFETY: forwarded contract.
    unsafe { write_out(packet_id, id.unwrap_or(0)) };
    Ok(())
}

/// `mqe_subscribe` with the filter given as `filter_len` bytes at `filter`, not
/// NUL-terminated. The filter follows the MQTT rules as in `mqe_subscribe` (1 to 65,535
/// bytes of UTF-8 without U+0000; wildcards only as whole levels, `#` last).
///
/// Errors: as `mqe_subscribe`; `MQE_ERR_NULL` for a NULL filter (any length),
/// `MQE_ERR_TOO_LARGE` for `filter_len` over 65,535, `MQE_ERR_TOPIC` for `filter_len` 0,
/// `MQE_ERR_UTF8` for bad UTF-8 or an embedded NUL.
///
/// # Safety
/// `c` is NULL or client storage; `filter` NULL or readable for `filter_len` bytes;
/// `packet_id` NULL or writable. All only during the call.
#[no_mangle]
pub unsafe extern "C" fn mqe_subscribe_n(
    c: *mut mqe_client_t,
    filter: *const c_char,
    filter_len: usize,
    qos: u8,
    packet_id: *mut u16,
) -> mqe_status_t {
    // SAFETY: forwarded contract.
    into_status(unsafe {
        with_cell(c, |cell| {
            let filter = c_str_n(filter, filter_len)?;
            wire::validate_topic_filter(filter).map_err(status_of)?;
            let qos = QoS::from_u8(qos).map_err(|_| MQE_ERR_QOS)?;
            super::cloud::check_subscribe(cell, filter, qos as u8, 1)?;
            let now = cell.now();
            let id = cell
                .client
                .engine_mut()
                .subscribe(now, core::iter::once((filter, qos)))
                .map_err(status_of)?;
            write_out(packet_id, id);
            Ok(())
        })
    })
}

/// Subscribes to one `filter` (wildcards allowed) at `qos`; see `mqe_subscribe_many`.
///
/// # Safety
/// As `mqe_subscribe_many`.
#[no_mangle]
pub unsafe extern "C" fn mqe_subscribe(
    c: *mut mqe_client_t,
    filter: *const c_char,
    qos: u8,
    packet_id: *mut u16,
) -> mqe_status_t {
    let sub = mqe_subscription_t { filter, qos };
    // SAFETY: `sub` is one valid element; the rest is forwarded.
    unsafe { mqe_subscribe_many(c, &sub, 1, packet_id) }
}

/// The C API's subscription array as the engine's filter list.
struct CFilters<'a>(&'a [mqe_subscription_t]);

impl FilterList for CFilters<'_> {
    fn count(&self) -> usize {
        self.0.len()
    }
    fn get(&self, index: usize) -> Option<(&str, QoS)> {
        let sub = self.0.get(index)?;
        // SAFETY: the filters were checked NUL-terminated (and valid) by mqe_subscribe_many,
        // and stay unchanged during its call per its contract; this lives only inside it.
        let filter = unsafe { c_str(sub.filter) }.ok()?;
        Some((filter, QoS::from_u8(sub.qos).ok()?))
    }
}

/// Sends one SUBSCRIBE for `count` filters; returns at once. The SUBACK arrives as
/// `MQE_EVENT_SUBSCRIBED` with the same packet id (written to `*packet_id` if not NULL) and one
/// granted QoS per filter. The filters are copied during the call. Needs `MQE_STATE_CONNECTED`.
/// Allowed from a callback.
///
/// Errors: `MQE_ERR_NULL` (c, subs with count > 0, a filter), `MQE_ERR_NOT_INIT`, `MQE_ERR_ARG`
/// (count 0), `MQE_ERR_UTF8`, `MQE_ERR_TOPIC`, `MQE_ERR_QOS`, `MQE_ERR_TOO_LARGE` (can never
/// fit tx), `MQE_ERR_FULL` (tx or pending-subscription table full now), `MQE_ERR_STATE`.
///
/// # Safety
/// `c` is NULL or client storage; `subs` readable for `count` elements whose filters are NULL
/// or NUL-terminated; `packet_id` NULL or writable. All only during the call.
#[no_mangle]
pub unsafe extern "C" fn mqe_subscribe_many(
    c: *mut mqe_client_t,
    subs: *const mqe_subscription_t,
    count: usize,
    packet_id: *mut u16,
) -> mqe_status_t {
    // SAFETY: forwarded contract.
    into_status(unsafe {
        with_cell(c, |cell| {
            if subs.is_null() {
                return Err(MQE_ERR_NULL);
            }
            if count == 0 {
                return Err(MQE_ERR_ARG);
            }
            if count > isize::MAX as usize / core::mem::size_of::<mqe_subscription_t>() {
                return Err(MQE_ERR_TOO_LARGE);
            }
            let subs = core::slice::from_raw_parts(subs, count);
            for sub in subs {
                let filter = c_str(sub.filter)?;
                wire::validate_topic_filter(filter).map_err(status_of)?;
                QoS::from_u8(sub.qos).map_err(|_| MQE_ERR_QOS)?;
                super::cloud::check_subscribe(cell, filter, sub.qos, count)?;
            }
            // Every element was checked above, so none is dropped here.
            let now = cell.now();
            let id = cell
                .client
                .engine_mut()
                .subscribe_list(now, &CFilters(subs))
                .map_err(status_of)?;
            write_out(packet_id, id);
            Ok(())
        })
    })
}

/// Sends UNSUBSCRIBE for `filter` and removes the `mqe_subscribe_cb` handler of exactly that
/// filter; returns at once. The UNSUBACK arrives as
/// `MQE_EVENT_UNSUBSCRIBED` with the packet id written to `*packet_id` (if not NULL). Needs
/// `MQE_STATE_CONNECTED`. Allowed from a callback.
///
/// Errors: `MQE_ERR_NULL` (c, filter), `MQE_ERR_NOT_INIT`, `MQE_ERR_UTF8`, `MQE_ERR_TOPIC`,
/// `MQE_ERR_TOO_LARGE` (can never fit tx), `MQE_ERR_FULL` (tx or pending-subscription table
/// full now), `MQE_ERR_STATE`.
///
/// # Safety
/// `c` is NULL or client storage; `filter` NULL or NUL-terminated; `packet_id` NULL or
/// writable. All only during the call.
#[no_mangle]
pub unsafe extern "C" fn mqe_unsubscribe(
    c: *mut mqe_client_t,
    filter: *const c_char,
    packet_id: *mut u16,
) -> mqe_status_t {
    // SAFETY: forwarded contract.
    into_status(unsafe {
        with_cell(c, |cell| {
            let filter = c_str(filter)?;
            wire::validate_topic_filter(filter).map_err(status_of)?;
            let now = cell.now();
            let id = cell
                .client
                .engine_mut()
                .unsubscribe(now, core::iter::once(filter))
                .map_err(status_of)?;
            #[cfg(feature = "topic-handlers")]
            cell.remove_topic_handler(filter);
            write_out(packet_id, id);
            Ok(())
        })
    })
}

#[cfg(feature = "outbox")]
/// Queues a publish from any task or ISR (feature `outbox`) (every other call belongs to the owner task): topic
/// and payload are copied into one of `MQE_OUTBOX_SLOTS` slots under the critical section, and
/// the owner's `mqe_poll` publishes them in the order posted while `MQE_STATE_CONNECTED` (as
/// `mqe_publish` would, without a packet id; failures it cannot retry are reported as
/// `MQE_EVENT_ERROR`); while not connected they wait, and the outbox fills. Needs `mqe_set_critical_section` and an
/// initialised client; never blocks beyond the critical section.
///
/// Errors: `MQE_ERR_NULL`, `MQE_ERR_NOT_INIT`, `MQE_ERR_NO_CRITICAL_SECTION`, `MQE_ERR_UTF8`,
/// `MQE_ERR_TOPIC`, `MQE_ERR_QOS`, `MQE_ERR_TOO_LARGE` (topic + payload over
/// `MQE_OUTBOX_SLOT_BYTES`), `MQE_ERR_FULL` (every slot taken: back-pressure, retry later).
///
/// # Safety
/// `c` is NULL or client storage initialised before this task started posting; `topic` NULL
/// or NUL-terminated; `payload` readable for `len` bytes. All only during the call.
#[no_mangle]
pub unsafe extern "C" fn mqe_post_publish(
    c: *mut mqe_client_t,
    topic: *const c_char,
    payload: *const c_void,
    len: usize,
    qos: u8,
    retain: bool,
) -> mqe_status_t {
    // SAFETY: forwarded contract; only the magic is read and the outbox projected.
    let outbox = match unsafe { outbox_ptr(c) } {
        Ok(outbox) => outbox,
        Err(status) => return status,
    };
    if !outbox::critical_section_registered() {
        return MQE_ERR_NO_CRITICAL_SECTION;
    }
    // SAFETY: forwarded contract.
    let checked = unsafe { c_str(topic) }.and_then(|topic| {
        wire::validate_topic_name(topic).map_err(status_of)?;
        QoS::from_u8(qos).map_err(|_| MQE_ERR_QOS)?;
        // SAFETY: forwarded contract.
        let payload = unsafe { c_slice(payload.cast::<u8>(), len) }?;
        if topic.len().saturating_add(payload.len()) > config::OUTBOX_SLOT_BYTES {
            return Err(MQE_ERR_TOO_LARGE);
        }
        Ok((topic, payload))
    });
    let (topic, payload) = match checked {
        Ok(parts) => parts,
        Err(status) => return status,
    };
    // SAFETY: initialised outbox, reached only through the outbox functions.
    match unsafe { outbox::push(outbox, topic.as_bytes(), payload, qos, retain) } {
        Ok(()) => MQE_OK,
        Err(()) => MQE_ERR_FULL,
    }
}

/// Subscribes to `filter` at `qos` like `mqe_subscribe`, and registers `handler` (with `user`)
/// for the messages whose topic matches it. A message goes to every matching handler, in
/// registration order, as with overlapping subscriptions; the `mqe_set_message_handler`
/// handler gets only the messages no per-topic handler matches. Registering the same filter
/// again replaces its handler; `mqe_unsubscribe` of the filter removes it, and so does a
/// SUBACK that refuses the filter (0x80, `MQE_SUBACK_FAILURE`), also the SUBACK of a renewal
/// the client sends by itself after a lost session: its slot is free again when that
/// `MQE_EVENT_SUBSCRIBED` is dispatched. The filter is copied. Needs
/// `MQE_STATE_CONNECTED`. Allowed from a callback.
///
/// Errors: as `mqe_subscribe`, plus `MQE_ERR_NULL` (handler), `MQE_ERR_TOO_LARGE` (filter over
/// `MQE_HANDLER_FILTER_BYTES`), `MQE_ERR_FULL` (`MQE_MAX_TOPIC_HANDLERS` handlers registered:
/// nothing is sent). On any error no handler is registered.
///
/// # Safety
/// As `mqe_subscribe`; `handler` and `user` stay valid while registered.
#[cfg(feature = "topic-handlers")]
#[no_mangle]
pub unsafe extern "C" fn mqe_subscribe_cb(
    c: *mut mqe_client_t,
    filter: *const c_char,
    qos: u8,
    handler: mqe_message_handler_t,
    user: *mut c_void,
    packet_id: *mut u16,
) -> mqe_status_t {
    // SAFETY: forwarded contract.
    into_status(unsafe {
        with_cell(c, |cell| {
            let handler = handler.ok_or(MQE_ERR_NULL)?;
            let filter = c_str(filter)?;
            subscribe_cb_str(cell, filter, qos, handler, user, packet_id)
        })
    })
}

/// `mqe_subscribe_cb` with the filter given as `filter_len` bytes at `filter`, not
/// NUL-terminated; the filter is checked as in `mqe_subscribe_n`.
///
/// # Safety
/// As `mqe_subscribe_cb`, with `filter` NULL or readable for `filter_len` bytes.
#[cfg(feature = "topic-handlers")]
#[no_mangle]
pub unsafe extern "C" fn mqe_subscribe_cb_n(
    c: *mut mqe_client_t,
    filter: *const c_char,
    filter_len: usize,
    qos: u8,
    handler: mqe_message_handler_t,
    user: *mut c_void,
    packet_id: *mut u16,
) -> mqe_status_t {
    // SAFETY: forwarded contract.
    into_status(unsafe {
        with_cell(c, |cell| {
            let handler = handler.ok_or(MQE_ERR_NULL)?;
            let filter = c_str_n(filter, filter_len)?;
            subscribe_cb_str(cell, filter, qos, handler, user, packet_id)
        })
    })
}

#[cfg(feature = "topic-handlers")]
/// The rest of `mqe_subscribe_cb` once the filter is read.
///
/// # Safety
/// `handler` and `user` stay valid while registered; `packet_id` NULL or writable.
unsafe fn subscribe_cb_str(
    cell: &mut ClientCell,
    filter: &str,
    qos: u8,
    handler: unsafe extern "C" fn(*mut c_void, *const mqe_message_t),
    user: *mut c_void,
    packet_id: *mut u16,
) -> Result<(), mqe_status_t> {
    wire::validate_topic_filter(filter).map_err(status_of)?;
    let qos = QoS::from_u8(qos).map_err(|_| MQE_ERR_QOS)?;
    super::cloud::check_subscribe(cell, filter, qos as u8, 1)?;
    // Take a handler slot first, so a full table sends nothing.
    let undo = cell.add_topic_handler(filter, handler, user)?;
    let now = cell.now();
    match cell
        .client
        .engine_mut()
        .subscribe_list(now, &[(filter, qos)])
    {
        Ok(id) => {
            // SAFETY: forwarded contract.
            unsafe { write_out(packet_id, id) };
            Ok(())
        }
        Err(error) => {
            cell.restore_topic_handler(undo);
            Err(status_of(error))
        }
    }
}
