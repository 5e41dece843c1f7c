//! The C ABI: exported functions, `#[repr(C)]` types, status codes, the C transport as a
//! `TcpClientStack`, argument checks and the panic handler. Nothing else lives here.
//!
//! Threading: every call on a client belongs to the one task that owns it. Callbacks run inside
//! `mqe_poll`; from a callback, `mqe_publish`, `mqe_subscribe`, `mqe_subscribe_many`,
//! `mqe_unsubscribe`, `mqe_disconnect` and the read-only calls are allowed on the same client;
//! `mqe_poll`, `mqe_connect` and `mqe_init` return `MQE_ERR_REENTRANT`.
#![allow(non_camel_case_types)]

mod args;
mod blocking;
mod cell;
mod log;
mod outbox;
mod panic;
mod status;
mod transport;
mod types;

use core::ffi::{c_char, c_void};
use core::mem::{take, MaybeUninit};
use core::ptr;

use args::{c_slice, c_slice_opt, c_str, c_str_opt, write_out};
pub use blocking::*;
#[cfg(feature = "std")]
pub use cell::client_bytes_used;
use cell::{blank_event, cell_ptr, init_storage, outbox_ptr, Callback, ClientCell};
pub use log::{
    mqe_log_level_t, MQE_LOG_DEBUG, MQE_LOG_ERROR, MQE_LOG_INFO, MQE_LOG_OFF, MQE_LOG_WARN,
};
pub use outbox::{mqe_critical_enter_t, mqe_critical_exit_t, mqe_set_critical_section};
pub use panic::*;
pub use status::*;
use transport::CTransport;
pub use types::*;

use crate::client::{Client, ClientState, Endpoint, Qos0Policy, ReconnectPolicy};
use crate::config;
use crate::engine::{Config, ConnectOptions, EngineParts};
use crate::wire::{self, QoS};

/// Dispatches one `mqe_poll` delivers at most; the rest wait for the next poll
/// (`mqe_next_deadline_ms` then answers 0).
const MAX_DISPATCH_PER_POLL: usize = 64;

/// Options with every default filled in and every pointer NULL: port 1883, keep-alive 60 s,
/// clean session, connect timeout 10000 ms, ack timeout 20000 ms, ping timeout 0 (half the
/// keep-alive), reconnect on with 1000..60000 ms backoff, the default in-flight window.
/// Set at least `host` and the rx and tx buffers before `mqe_init`.
#[no_mangle]
pub extern "C" fn mqe_options_default() -> mqe_options_t {
    mqe_options_t {
        host: ptr::null(),
        port: 1883,
        endpoints: ptr::null(),
        endpoint_count: 0,
        client_id: ptr::null(),
        username: ptr::null(),
        password: ptr::null(),
        password_len: 0,
        keep_alive_s: 60,
        clean_session: true,
        will_topic: ptr::null(),
        will_payload: ptr::null(),
        will_payload_len: 0,
        will_qos: 0,
        will_retain: false,
        rx_buf: ptr::null_mut(),
        rx_buf_len: 0,
        tx_buf: ptr::null_mut(),
        tx_buf_len: 0,
        store_buf: ptr::null_mut(),
        store_buf_len: 0,
        connect_timeout_ms: 10_000,
        ack_timeout_ms: 20_000,
        ping_timeout_ms: 0,
        reconnect: true,
        reconnect_min_ms: 1_000,
        reconnect_max_ms: 60_000,
        inflight_window: 0,
        qos0_policy: MQE_QOS0_REJECT_WHEN_FULL,
    }
}

/// Sets up the client in caller-owned storage `c`. Needs: `c` never initialised, or
/// initialised and disconnected (it is then reset, and its stored and posted messages are
/// dropped). No task may call `mqe_post_publish` on `c` during `mqe_init`.
///
/// Ownership: `*opts`, `*transport` and `*platform` are copied and may be discarded after the
/// call; everything `opts` points to (strings, password, will, the three buffers) and the
/// transport's and platform's `ctx` and functions are kept and must stay valid, and the buffers
/// untouched, for as long as the client is used. `c` must not be moved or copied afterwards.
///
/// Errors: `MQE_ERR_NULL` (a required pointer or function is NULL: host without endpoints,
/// an endpoint's host, now_ms, open, connect, send, recv, close), `MQE_ERR_BUFFER` (rx or tx
/// missing or below `MQE_MIN_BUFFER`, store NULL with a length, tx too small for CONNECT),
/// `MQE_ERR_ARG` (overlapping buffers, empty host, both host and endpoints, endpoints NULL with
/// a count, connect_timeout_ms 0, window above `MQE_MAX_INFLIGHT`, reconnect min > max, unknown
/// qos0_policy, empty client id without clean session), `MQE_ERR_TOO_LARGE` (more than
/// `MQE_MAX_ENDPOINTS` endpoints), `MQE_ERR_UTF8`, `MQE_ERR_TOO_LARGE`, `MQE_ERR_TOPIC` (will
/// topic), `MQE_ERR_QOS` (will QoS), `MQE_ERR_PASSWORD_WITHOUT_USER`, `MQE_ERR_STATE` (client
/// not disconnected), `MQE_ERR_REENTRANT` (from a callback of this client).
///
/// # Safety
/// Every non-NULL pointer must be valid as described above.
#[no_mangle]
pub unsafe extern "C" fn mqe_init(
    c: *mut mqe_client_t,
    opts: *const mqe_options_t,
    transport: *const mqe_transport_t,
    platform: *const mqe_platform_t,
) -> mqe_status_t {
    if c.is_null() || opts.is_null() || transport.is_null() || platform.is_null() {
        return MQE_ERR_NULL;
    }
    // SAFETY: `c` is non-NULL caller storage.
    if let Ok(cell) = unsafe { cell_ptr(c) } {
        // SAFETY: initialised storage; no other borrow is alive (a callback holds none).
        let cell = unsafe { &*cell };
        if cell.dispatching {
            return MQE_ERR_REENTRANT;
        }
        if cell.client.state() != ClientState::Disconnected {
            return MQE_ERR_STATE;
        }
    }
    // SAFETY: non-NULL and valid per the caller for the call; the small structs are copied,
    // the options (over 100 bytes) only read.
    let (opts, transport, platform) = unsafe { (&*opts, *transport, *platform) };
    if platform.now_ms.is_none() {
        return MQE_ERR_NULL;
    }
    let Some(transport) = CTransport::new(transport) else {
        return MQE_ERR_NULL;
    };
    // SAFETY: `c` is valid storage; the options' pointers are valid per the caller.
    let mut checked = unsafe { check_options(c, opts, transport) };
    // By reference: moving the setup out of the Result would copy it.
    match &mut checked {
        Ok(setup) => {
            let jitter_seed = match platform.random {
                // SAFETY: given by the application, valid with its ctx while the client is used.
                Some(random) => unsafe { random(platform.ctx) },
                None => c as usize as u32,
            };
            // SAFETY: caller-owned storage, not used by another task during mqe_init (its
            // contract); any previous client there holds nothing needing a drop.
            unsafe { init_storage(c, platform, setup, jitter_seed) };
            MQE_OK
        }
        Err(status) => *status,
    }
}

/// Everything a client is built from, checked: `mqe_init` refuses bad options before it writes
/// the storage, then builds the client in place from these (see `ClientSetup::build_in`).
pub(crate) struct ClientSetup {
    transport: CTransport,
    /// Non-empty.
    endpoints: heapless::Vec<Endpoint<'static>, { config::MAX_ENDPOINTS }>,
    connect: ConnectOptions<'static>,
    rx: &'static mut [u8],
    tx: &'static mut [u8],
    store: &'static mut [u8],
    engine_config: Config,
    reconnect: ReconnectPolicy,
    qos0_policy: Qos0Policy,
}

impl ClientSetup {
    /// Builds the client in `slot`, lending it the buffers (taken out of `self`, so once). By
    /// reference, so that the setup is not copied again on the way down.
    pub(crate) fn build_in(
        &mut self,
        slot: &mut MaybeUninit<Client<'static, CTransport>>,
        jitter_seed: u32,
    ) {
        let (tx, store) = (take(&mut self.tx), take(&mut self.store));
        let engine_config = self.engine_config;
        let first = self.endpoints.first().copied();
        let client = Client::init(
            slot,
            self.transport,
            EngineParts {
                tx,
                store,
                config: engine_config,
            },
            take(&mut self.rx),
            first.unwrap_or(Endpoint { host: "", port: 0 }),
            self.connect,
        );
        // Cannot fail: the list is non-empty (check_options) and has the client's capacity.
        // Were it to, the client would keep the first endpoint alone.
        let _ = client.set_endpoints(&self.endpoints);
        client.set_reconnect(self.reconnect);
        client.set_qos0_policy(self.qos0_policy);
        client.mix_entropy(jitter_seed);
    }
}

/// Checks the options and lends the client the caller's buffers.
///
/// # Safety
/// The options' pointers are valid as `mqe_init` documents; `storage` is the client storage.
// Out of line: its temporaries are gone before mqe_init builds the client (peak stack).
#[inline(never)]
unsafe fn check_options(
    storage: *const mqe_client_t,
    opts: &mqe_options_t,
    transport: CTransport,
) -> Result<ClientSetup, mqe_status_t> {
    // SAFETY (all reads below): the pointers are NULL or valid for as long as the client is
    // used, which is what 'static stands for here (documented on mqe_options_t).
    let endpoints = unsafe { endpoints_of(opts) }?;
    let client_id = unsafe { c_str_opt(opts.client_id) }?.unwrap_or("");
    let username = unsafe { c_str_opt(opts.username) }?;
    let password = unsafe { c_slice_opt(opts.password, opts.password_len) }?;
    let will = match unsafe { c_str_opt(opts.will_topic) }? {
        None => None,
        Some(topic) => Some(wire::Will {
            topic,
            payload: unsafe { c_slice(opts.will_payload, opts.will_payload_len) }?,
            qos: QoS::from_u8(opts.will_qos).map_err(|_| MQE_ERR_QOS)?,
            retain: opts.will_retain,
        }),
    };
    let connect = ConnectOptions {
        client_id,
        keep_alive_s: opts.keep_alive_s,
        clean_session: opts.clean_session,
        username,
        password,
        will,
    };
    let connect_len = wire::connect_len(&connect).map_err(status_of)?;

    if opts.rx_buf.is_null() || opts.rx_buf_len < MQE_MIN_BUFFER {
        return Err(MQE_ERR_BUFFER);
    }
    if opts.tx_buf.is_null() || opts.tx_buf_len < MQE_MIN_BUFFER.max(connect_len) {
        return Err(MQE_ERR_BUFFER);
    }
    if opts.store_buf.is_null() && opts.store_buf_len > 0 {
        return Err(MQE_ERR_BUFFER);
    }
    let regions = [
        (opts.rx_buf as usize, opts.rx_buf_len),
        (opts.tx_buf as usize, opts.tx_buf_len),
        (opts.store_buf as usize, opts.store_buf_len),
        (storage as usize, MQE_CLIENT_SIZE),
    ];
    if !disjoint(&regions) {
        return Err(MQE_ERR_ARG);
    }
    if opts.connect_timeout_ms == 0
        || (opts.reconnect && opts.reconnect_min_ms > opts.reconnect_max_ms)
    {
        return Err(MQE_ERR_ARG);
    }
    let inflight_window = match opts.inflight_window {
        0 => config::DEFAULT_INFLIGHT_WINDOW,
        w if usize::from(w) <= config::MAX_INFLIGHT => w,
        _ => return Err(MQE_ERR_ARG),
    };

    // SAFETY: non-NULL (checked), lengths <= isize::MAX (checked by `disjoint`), pairwise
    // disjoint and disjoint from the client storage, exclusively lent to the client for as long
    // as it is used (documented on mqe_options_t).
    let (rx, tx, store) = unsafe {
        (
            core::slice::from_raw_parts_mut(opts.rx_buf, opts.rx_buf_len),
            core::slice::from_raw_parts_mut(opts.tx_buf, opts.tx_buf_len),
            if opts.store_buf_len == 0 {
                <&mut [u8]>::default()
            } else {
                core::slice::from_raw_parts_mut(opts.store_buf, opts.store_buf_len)
            },
        )
    };
    let engine_config = Config {
        inflight_window,
        connect_timeout_ms: opts.connect_timeout_ms,
        ack_timeout_ms: opts.ack_timeout_ms,
        ping_timeout_ms: opts.ping_timeout_ms,
        max_rx_packet: opts.rx_buf_len,
    };
    let qos0_policy = match opts.qos0_policy {
        MQE_QOS0_REJECT_WHEN_FULL => Qos0Policy::RejectWhenFull,
        MQE_QOS0_DROP_OLDEST => Qos0Policy::DropOldest,
        _ => return Err(MQE_ERR_ARG),
    };
    if endpoints.is_empty() {
        return Err(MQE_ERR_ARG);
    }
    Ok(ClientSetup {
        transport,
        endpoints,
        connect,
        rx,
        tx,
        store,
        engine_config,
        reconnect: ReconnectPolicy {
            enabled: opts.reconnect,
            min_ms: opts.reconnect_min_ms,
            max_ms: opts.reconnect_max_ms,
        },
        qos0_policy,
    })
}

/// The broker endpoints: `host`/`port`, or the `endpoints` array (not both).
///
/// # Safety
/// `opts.host` is NULL or a NUL-terminated string, `opts.endpoints` NULL or readable for
/// `endpoint_count` elements whose hosts are NULL or NUL-terminated; all valid while the client
/// is used.
unsafe fn endpoints_of(
    opts: &mqe_options_t,
) -> Result<heapless::Vec<Endpoint<'static>, { config::MAX_ENDPOINTS }>, mqe_status_t> {
    let mut list = heapless::Vec::new();
    if opts.endpoint_count == 0 {
        // SAFETY: forwarded contract.
        let host = unsafe { c_str(opts.host) }?;
        if host.is_empty() {
            return Err(MQE_ERR_ARG);
        }
        let endpoint = Endpoint {
            host,
            port: opts.port,
        };
        list.push(endpoint).map_err(|_| MQE_ERR_TOO_LARGE)?;
        return Ok(list);
    }
    if !opts.host.is_null() || opts.endpoints.is_null() {
        return Err(MQE_ERR_ARG);
    }
    if opts.endpoint_count > config::MAX_ENDPOINTS {
        return Err(MQE_ERR_TOO_LARGE);
    }
    // SAFETY: non-NULL, and count <= MAX_ENDPOINTS elements are readable per the contract.
    let given = unsafe { core::slice::from_raw_parts(opts.endpoints, opts.endpoint_count) };
    for endpoint in given {
        // SAFETY: forwarded contract.
        let host = unsafe { c_str(endpoint.host) }?;
        if host.is_empty() {
            return Err(MQE_ERR_ARG);
        }
        let endpoint = Endpoint {
            host,
            port: endpoint.port,
        };
        list.push(endpoint).map_err(|_| MQE_ERR_TOO_LARGE)?;
    }
    Ok(list)
}

/// True when no two non-empty regions overlap and none is longer than isize::MAX or wraps.
fn disjoint(regions: &[(usize, usize)]) -> bool {
    let mut ends = [(0usize, 0usize); 4];
    for (slot, &(start, len)) in ends.iter_mut().zip(regions) {
        if len > isize::MAX as usize {
            return false;
        }
        match start.checked_add(len) {
            Some(end) => *slot = (start, end),
            None => return false,
        }
    }
    let live = ends.get(..regions.len()).unwrap_or(&[]);
    live.iter().enumerate().all(|(i, &(a_start, a_end))| {
        live.iter().skip(i + 1).all(|&(b_start, b_end)| {
            a_start == a_end || b_start == b_end || a_end <= b_start || b_end <= a_start
        })
    })
}

/// Runs `f` on an initialised client.
///
/// # Safety
/// `c` is NULL or points to client storage; no Rust borrow of the client is alive (true for
/// any call from C, including from a callback, since `mqe_poll` holds none while C runs).
unsafe fn with_cell<T>(
    c: *const mqe_client_t,
    f: impl FnOnce(&mut ClientCell) -> Result<T, mqe_status_t>,
) -> Result<T, mqe_status_t> {
    // SAFETY: forwarded contract.
    let cell = unsafe { cell_ptr(c) }?;
    // SAFETY: initialised storage, and no other borrow is alive per the contract.
    f(unsafe { &mut *cell })
}

fn into_status(result: Result<(), mqe_status_t>) -> mqe_status_t {
    match result {
        Ok(()) => MQE_OK,
        Err(status) => status,
    }
}

/// Sets (or with NULL clears) the handler for incoming messages that no `mqe_subscribe_cb`
/// handler matches; `user` is passed back to it.
/// Any state, also from a callback. Errors: `MQE_ERR_NULL`, `MQE_ERR_NOT_INIT`.
///
/// # Safety
/// `c` is NULL or client storage; `handler` and `user` stay valid while set.
#[no_mangle]
pub unsafe extern "C" fn mqe_set_message_handler(
    c: *mut mqe_client_t,
    handler: mqe_message_handler_t,
    user: *mut c_void,
) -> mqe_status_t {
    // SAFETY: forwarded contract.
    into_status(unsafe {
        with_cell(c, |cell| {
            cell.message_handler = handler;
            cell.message_user = user;
            Ok(())
        })
    })
}

/// Sets (or with NULL clears) the handler for events; `user` is passed back to it.
/// Any state, also from a callback. Errors: `MQE_ERR_NULL`, `MQE_ERR_NOT_INIT`.
///
/// # Safety
/// `c` is NULL or client storage; `handler` and `user` stay valid while set.
#[no_mangle]
pub unsafe extern "C" fn mqe_set_event_handler(
    c: *mut mqe_client_t,
    handler: mqe_event_handler_t,
    user: *mut c_void,
) -> mqe_status_t {
    // SAFETY: forwarded contract.
    into_status(unsafe {
        with_cell(c, |cell| {
            cell.event_handler = handler;
            cell.event_user = user;
            Ok(())
        })
    })
}

/// Sets the most verbose level passed to the platform's `log` hook: `MQE_LOG_ERROR` ..
/// `MQE_LOG_DEBUG`, or `MQE_LOG_OFF`; `MQE_LOG_INFO` after `mqe_init`. Lines are formatted
/// (into a 96-byte stack buffer, cut there, NUL-terminated) only when the hook is set and the
/// level passes. Any state, also from a callback.
/// Errors: `MQE_ERR_NULL`, `MQE_ERR_NOT_INIT`, `MQE_ERR_ARG` (unknown level: nothing changes).
///
/// # Safety
/// `c` is NULL or client storage.
#[no_mangle]
pub unsafe extern "C" fn mqe_set_log_level(
    c: *mut mqe_client_t,
    max_level: mqe_log_level_t,
) -> mqe_status_t {
    // SAFETY: forwarded contract.
    into_status(unsafe {
        with_cell(c, |cell| {
            if cell.log_filter.set_max_level(max_level) {
                Ok(())
            } else {
                Err(MQE_ERR_ARG)
            }
        })
    })
}

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
/// `MQE_ERR_TOO_LARGE` (can never fit the tx or store buffer, or the offline queue), `MQE_ERR_FULL`
/// (window, store, tx or offline queue full now: back-pressure, nothing queued, retry after
/// `mqe_poll`), `MQE_ERR_STATE` (QoS 0 before `mqe_connect` or after `mqe_disconnect`).
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
            // The topic's MQTT rules are checked once, by the engine.
            let topic = c_str(topic)?;
            let payload = c_slice(payload.cast::<u8>(), len)?;
            let qos = QoS::from_u8(qos).map_err(|_| MQE_ERR_QOS)?;
            let now = cell.now();
            let id = cell
                .client
                .publish(now, topic, payload, qos, retain)
                .map_err(status_of)?;
            write_out(packet_id, id.unwrap_or(0));
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
            }
            // Every element was checked above, so none is dropped here.
            let filters = subs.iter().filter_map(|sub| {
                // Validated above and unchanged during this call per the contract.
                let filter = c_str(sub.filter).ok()?;
                Some((filter, QoS::from_u8(sub.qos).ok()?))
            });
            let now = cell.now();
            let id = cell
                .client
                .engine_mut()
                .subscribe(now, filters)
                .map_err(status_of)?;
            write_out(packet_id, id);
            Ok(())
        })
    })
}

/// Sends UNSUBSCRIBE for `filter` and removes the `mqe_subscribe_cb` handler of exactly that
/// filter; returns at once. The UNSUBACK arrives as
/// `MQE_EVENT_UNSUBSCRIBED` with the packet id written to `*packet_id` (if not NULL). Needs
/// `MQE_STATE_CONNECTED`. Allowed from a callback. Errors as `mqe_subscribe_many`.
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
            cell.remove_topic_handler(filter);
            write_out(packet_id, id);
            Ok(())
        })
    })
}

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
    // SAFETY: `c` is initialised storage (cell_ptr succeeded); the cell borrow is inside.
    let dropped = unsafe { drain_outbox(c, cell) };
    if let Some(callback) = dropped {
        // SAFETY: no borrow of the cell is alive; the event is self-contained.
        unsafe { callback.invoke() };
    }
    let mut result = MQE_OK;
    for _ in 0..MAX_DISPATCH_PER_POLL {
        // The borrow ends with this statement, before C runs.
        // SAFETY: as above.
        let Some((callback, ended)) = (unsafe { &mut *cell }).step() else {
            break;
        };
        if let Some(reason) = ended {
            result = reason;
        }
        // SAFETY: no borrow of the cell is alive, and nothing touched the rx window since
        // `step` took the pointers.
        unsafe { callback.invoke() };
    }
    // SAFETY: as above; the callbacks have returned.
    unsafe { (*cell).dispatching = false };
    result
}

/// Publishes the outbox's messages in FIFO order until it is empty or the client pushes back
/// (`MQE_ERR_FULL`: they wait for the next poll). A message the client refuses for good is
/// dropped; the returned callback reports those as `MQE_EVENT_ERROR`.
///
/// # Safety
/// `c` is initialised client storage and `cell` its cell; no borrow of the cell is alive.
unsafe fn drain_outbox(c: *mut mqe_client_t, cell: *mut ClientCell) -> Option<Callback> {
    // SAFETY: initialised storage, per the contract.
    let outbox = unsafe { outbox_ptr(c) }.ok()?;
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
    let handler = cell.event_handler?;
    let mut event = blank_event(MQE_EVENT_ERROR);
    event.dropped = dropped;
    event.reason = last_reason;
    Some(Callback::Event(handler, cell.event_user, event))
}

/// Queues a publish from any task or ISR (every other call belongs to the owner task): topic
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
/// again replaces its handler; `mqe_unsubscribe` of the filter removes it. The filter is
/// copied. Needs `MQE_STATE_CONNECTED`. Allowed from a callback.
///
/// Errors: as `mqe_subscribe`, plus `MQE_ERR_NULL` (handler), `MQE_ERR_TOO_LARGE` (filter over
/// `MQE_HANDLER_FILTER_BYTES`), `MQE_ERR_FULL` (`MQE_MAX_TOPIC_HANDLERS` handlers registered:
/// nothing is sent). On any error no handler is registered.
///
/// # Safety
/// As `mqe_subscribe`; `handler` and `user` stay valid while registered.
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
            wire::validate_topic_filter(filter).map_err(status_of)?;
            let qos = QoS::from_u8(qos).map_err(|_| MQE_ERR_QOS)?;
            // Take a handler slot first, so a full table sends nothing.
            let undo = cell.add_topic_handler(filter, handler, user)?;
            let now = cell.now();
            match cell
                .client
                .engine_mut()
                .subscribe(now, core::iter::once((filter, qos)))
            {
                Ok(id) => {
                    write_out(packet_id, id);
                    Ok(())
                }
                Err(error) => {
                    cell.restore_topic_handler(undo);
                    Err(status_of(error))
                }
            }
        })
    })
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
    let engine = cell.client.engine();
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

/// The connection state (`MQE_STATE_*`), or `MQE_ERR_NULL` / `MQE_ERR_NOT_INIT`. Any state,
/// also from a callback.
///
/// # Safety
/// `c` is NULL or client storage.
#[no_mangle]
pub unsafe extern "C" fn mqe_state(c: *const mqe_client_t) -> mqe_state_t {
    // SAFETY: forwarded contract.
    let cell = match unsafe { cell_ptr(c) } {
        Ok(cell) => cell,
        Err(status) => return status,
    };
    // SAFETY: initialised; shared read while no `&mut` is alive.
    match unsafe { &*cell }.client.state() {
        ClientState::Disconnected => MQE_STATE_DISCONNECTED,
        ClientState::Connecting => MQE_STATE_CONNECTING,
        ClientState::Connected => MQE_STATE_CONNECTED,
        ClientState::Disconnecting => MQE_STATE_DISCONNECTING,
        ClientState::Reconnecting => MQE_STATE_RECONNECTING,
    }
}

/// QoS 0 messages the offline queue dropped (policy `MQE_QOS0_DROP_OLDEST`) since `mqe_init`;
/// 0 for NULL or an uninitialised client. Any state, also from a callback.
///
/// # Safety
/// `c` is NULL or client storage.
#[no_mangle]
pub unsafe extern "C" fn mqe_qos0_dropped(c: *const mqe_client_t) -> u32 {
    // SAFETY: forwarded contract.
    match unsafe { cell_ptr(c) } {
        // SAFETY: initialised; shared read while no `&mut` is alive.
        Ok(cell) => unsafe { &*cell }.client.qos0_dropped(),
        Err(_) => 0,
    }
}

/// umqtt's `get_mqttsta()`: 0 connected, 1 connecting or reconnecting, 2 the broker closed
/// the connection, -1 anything else (error, disconnected, NULL, not initialised).
///
/// # Safety
/// `c` is NULL or client storage.
#[no_mangle]
pub unsafe extern "C" fn mqe_mqttsta(c: *const mqe_client_t) -> i32 {
    // SAFETY: forwarded contract.
    match unsafe { cell_ptr(c) } {
        // SAFETY: initialised; shared read while no `&mut` is alive.
        Ok(cell) => unsafe { &*cell }.mqttsta(),
        Err(_) => -1,
    }
}

/// A static, NUL-terminated description of `status`; "unknown status" for codes not listed.
/// The string is owned by the library and never freed.
#[no_mangle]
pub extern "C" fn mqe_strerror(status: mqe_status_t) -> *const c_char {
    status_text(status)
}

/// The library version, "MAJOR.MINOR.PATCH": a static string owned by the library.
#[no_mangle]
pub extern "C" fn mqe_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0")
        .as_ptr()
        .cast::<c_char>()
}
