//! Setting a client up: the default options, `mqe_init`, and the option checks that run
//! before anything is written to the caller's storage.

use core::mem::MaybeUninit;
use core::ptr;

#[cfg(feature = "will")]
use super::args::c_slice;
use super::args::{c_slice_opt, c_str, c_str_opt};
use super::cell::{cell_ptr, init_storage};
use super::status::*;
use super::transport::CTransport;
use super::types::*;
use crate::client::{Client, ClientState, Endpoint, Qos0Policy, ReconnectPolicy};
use crate::config;
use crate::engine::{
    Config, ConnectOptions, EngineParts, DEFAULT_OVERSIZED_LIMIT, DEFAULT_PUBREL_MAX_CONNECTIONS,
};
use crate::wire;
#[cfg(feature = "will")]
use crate::wire::QoS;

/// Options with every default filled in and every pointer NULL: port 1883, keep-alive 60 s,
/// clean session, connect timeout 10000 ms, ack timeout 20000 ms, ping timeout 0 (half the
/// keep-alive), reconnect on with 1000..60000 ms backoff (off without the `reconnect` feature),
/// the default in-flight window.
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
        reconnect: cfg!(feature = "reconnect"),
        reconnect_min_ms: 1_000,
        reconnect_max_ms: 60_000,
        inflight_window: 0,
        qos0_policy: MQE_QOS0_REJECT_WHEN_FULL,
        #[cfg(feature = "link")]
        nat_timeout_s: 0,
        #[cfg(feature = "link")]
        reconnect_stable_ms: 10_000,
        #[cfg(feature = "link")]
        auth_retry_limit: 3,
        #[cfg(feature = "pending")]
        idle_event: false,
        pubrel_max_connections: DEFAULT_PUBREL_MAX_CONNECTIONS,
        oversized_limit: DEFAULT_OVERSIZED_LIMIT as u32,
        cloud: 0,
        rx_qos2_manual_ack: false,
    }
}

/// Sets up the client in caller-owned storage `c`. C calls it as `mqe_init(c, opts, transport,
/// platform)`, a macro of the header that adds `client_size` = `sizeof(mqe_client_t)` and
/// `abi_tag` = `MQE_ABI_TAG` (Rust: the crate's `ffi::mqe_init` does the same). Other
/// languages pass the values of the header that matches the library.
///
/// Needs: `c` never initialised, or initialised and disconnected (it is then reset, and its
/// stored and posted messages are dropped). No task may call `mqe_post_publish` on `c` during `mqe_init`.
///
/// Ownership: `*opts`, `*transport` and `*platform` are copied and may be discarded after the
/// call; everything `opts` points to (strings, password, will, the three buffers) and the
/// transport's and platform's `ctx` and functions are kept and must stay valid, and the buffers
/// untouched, for as long as the client is used. `c` must not be moved or copied afterwards.
///
/// ABI guard, checked first: `MQE_ERR_ABI_MISMATCH` when `client_size` or `abi_tag` is not the
/// library's (the header was generated with other capacities or features), then
/// `MQE_ERR_ALIGNMENT` when `c` is not aligned to `MQE_CLIENT_ALIGN`. No error writes to `c`.
///
/// Errors: `MQE_ERR_NULL` (a required pointer or function is NULL: host without endpoints,
/// an endpoint's host, now_ms, open, connect, send, recv, close), `MQE_ERR_BUFFER` (rx or tx
/// missing or below `MQE_MIN_BUFFER`, store NULL with a length, tx too small for CONNECT),
/// `MQE_ERR_ARG` (overlapping buffers, empty host, both host and endpoints, endpoints NULL with
/// a count, connect_timeout_ms 0, window above `MQE_MAX_INFLIGHT`, reconnect min > max, unknown
/// qos0_policy, empty client id without clean session), `MQE_ERR_TOO_LARGE` (more than
/// `MQE_MAX_ENDPOINTS` endpoints, a string over 65,535 bytes), `MQE_ERR_UTF8`, `MQE_ERR_TOPIC` (will
/// topic), `MQE_ERR_QOS` (will QoS), `MQE_ERR_PASSWORD_WITHOUT_USER`, `MQE_ERR_STATE` (client
/// not disconnected), `MQE_ERR_REENTRANT` (from a callback of this client).
///
/// # Safety
/// Every non-NULL pointer must be valid as described above.
#[no_mangle]
pub unsafe extern "C" fn mqe_init_abi(
    c: *mut mqe_client_t,
    opts: *const mqe_options_t,
    transport: *const mqe_transport_t,
    platform: *const mqe_platform_t,
    client_size: usize,
    abi_tag: u32,
) -> mqe_status_t {
    // Before anything is read through a pointer: with another layout even `opts` may differ.
    if client_size != MQE_CLIENT_SIZE || abi_tag != MQE_ABI_TAG {
        return MQE_ERR_ABI_MISMATCH;
    }
    if c.is_null() || opts.is_null() || transport.is_null() || platform.is_null() {
        return MQE_ERR_NULL;
    }
    if !c.is_aligned() {
        return MQE_ERR_ALIGNMENT;
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
    // SAFETY: non-NULL and valid per the caller for the call; the platform is copied, the
    // transport's functions taken out, the options (over 100 bytes) only read.
    let (opts, transport, platform) = unsafe { (&*opts, &*transport, *platform) };
    if platform.now_ms.is_none() {
        return MQE_ERR_NULL;
    }
    // SAFETY: `c` is valid storage; the options' pointers are valid per the caller.
    // Written in place: a Result holding the setup costs a copy and a wider error path.
    let mut slot = MaybeUninit::uninit();
    match unsafe { check_options(c, opts, transport, &mut slot) } {
        Ok(setup) => {
            let jitter_seed = match platform.random {
                // SAFETY: given by the application, valid with its ctx while the client is used.
                Some(random) => unsafe { random(platform.ctx) },
                None => c as usize as u32,
            };
            // SAFETY: caller-owned storage, not used by another task during mqe_init (its
            // contract); any previous client there holds nothing needing a drop; a fresh setup.
            unsafe { init_storage(c, platform, setup, jitter_seed) };
            MQE_OK
        }
        Err(status) => status,
    }
}

/// `mqe_init` for Rust callers: `mqe_init_abi` with this build's size and tag, as the C macro
/// passes them (a Rust caller is compiled against this very build, so they always match).
///
/// # Safety
/// As `mqe_init_abi`.
pub unsafe fn mqe_init(
    c: *mut mqe_client_t,
    opts: *const mqe_options_t,
    transport: *const mqe_transport_t,
    platform: *const mqe_platform_t,
) -> mqe_status_t {
    // SAFETY: forwarded contract.
    unsafe {
        mqe_init_abi(
            c,
            opts,
            transport,
            platform,
            core::mem::size_of::<mqe_client_t>(),
            MQE_ABI_TAG,
        )
    }
}

/// Everything a client is built from, checked: `mqe_init` refuses bad options before it writes
/// the storage, then builds the client in place from these (see `ClientSetup::build_in`). The
/// numbers are read from the options themselves, not copied here first.
pub(crate) struct ClientSetup<'o> {
    /// Checked by `check_options`: its buffers are non-NULL, long enough, disjoint and no
    /// longer than isize::MAX (fields are private: only `check_options` makes a setup).
    opts: &'o mqe_options_t,
    transport: CTransport,
    /// Non-empty.
    endpoints: heapless::Vec<Endpoint<'static>, { config::MAX_ENDPOINTS }>,
    connect: ConnectOptions<'static>,
}

impl ClientSetup<'_> {
    /// The cloud profile (`MQE_CLOUD_*`), checked.
    #[cfg(feature = "cloud-profiles")]
    pub(crate) fn cloud(&self) -> u8 {
        self.opts.cloud
    }

    /// Builds the client in `slot`, lending it the buffers. By reference, so that the setup is
    /// not copied again on the way down.
    ///
    /// # Safety
    /// Called at most once per setup: each call lends the same buffers.
    pub(crate) unsafe fn build_in(
        &mut self,
        slot: &mut MaybeUninit<Client<'static, CTransport>>,
        jitter_seed: u32,
    ) {
        let opts = self.opts;
        // SAFETY: non-NULL, lengths <= isize::MAX, pairwise disjoint and disjoint from the
        // client storage (all checked by `check_options`, the only maker of a setup), and
        // exclusively lent to the client for as long as it is used (documented on
        // mqe_options_t); lent once, per the contract.
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
        let config = Config {
            inflight_window: match opts.inflight_window {
                0 => config::DEFAULT_INFLIGHT_WINDOW,
                w => w,
            },
            connect_timeout_ms: opts.connect_timeout_ms,
            ack_timeout_ms: opts.ack_timeout_ms,
            ping_timeout_ms: opts.ping_timeout_ms,
            max_rx_packet: opts.rx_buf_len,
            pubrel_max_connections: opts.pubrel_max_connections,
            oversized_limit: usize::try_from(opts.oversized_limit).unwrap_or(usize::MAX),
        };
        let first = self.endpoints.first().copied();
        let client = Client::init(
            slot,
            self.transport,
            EngineParts { tx, store, config },
            rx,
            first.unwrap_or(Endpoint { host: "", port: 0 }),
            self.connect,
        );
        // Cannot fail: the list is non-empty (check_options) and has the client's capacity.
        // Were it to, the client would keep the first endpoint alone.
        let _ = client.set_endpoints(&self.endpoints);
        client.set_reconnect(ReconnectPolicy {
            enabled: opts.reconnect,
            min_ms: opts.reconnect_min_ms,
            max_ms: opts.reconnect_max_ms,
        });
        client.set_qos0_policy(match opts.qos0_policy {
            MQE_QOS0_DROP_OLDEST => Qos0Policy::DropOldest,
            _ => Qos0Policy::RejectWhenFull,
        });
        #[cfg(feature = "link")]
        client.set_link_policy(crate::client::LinkPolicy {
            stable_ms: opts.reconnect_stable_ms,
            auth_retry_limit: opts.auth_retry_limit,
        });
        #[cfg(feature = "pending")]
        client.set_idle_events(opts.idle_event);
        #[cfg(feature = "store")]
        client
            .engine_mut()
            .set_rx_manual_ack(opts.rx_qos2_manual_ack);
        client.mix_entropy(jitter_seed);
    }
}

/// Checks the options, in the order of the statuses `mqe_init` documents: strings, will and
/// endpoints, then the buffers, then the numbers. Plain compares: a table of (field, min, max,
/// status) rows walked by a loop measured 120 B larger on Thumb-2 (a compare is a row's size).
///
/// # Safety
/// The options' pointers are valid as `mqe_init` documents; `storage` is the client storage.
// Out of line: its temporaries are gone before mqe_init builds the client (peak stack).
#[inline(never)]
unsafe fn check_options<'o, 's>(
    storage: *const mqe_client_t,
    opts: &'o mqe_options_t,
    transport: &mqe_transport_t,
    slot: &'s mut MaybeUninit<ClientSetup<'o>>,
) -> Result<&'s mut ClientSetup<'o>, mqe_status_t> {
    let mut transport = CTransport::new(transport).ok_or(MQE_ERR_NULL)?;
    // SAFETY (all reads below): the pointers are NULL or valid for as long as the client is
    // used, which is what 'static stands for here (documented on mqe_options_t).
    let endpoints = unsafe { endpoints_of(opts, &mut transport) }?;
    let client_id = unsafe { c_str_opt(opts.client_id) }?.unwrap_or("");
    let username = unsafe { c_str_opt(opts.username) }?;
    let password = unsafe { c_slice_opt(opts.password, opts.password_len) }?;
    // Without the `will` feature a will is refused here, its fields never read.
    #[cfg(not(feature = "will"))]
    let will = match opts.will_topic.is_null() {
        true => None,
        false => return Err(MQE_ERR_ARG),
    };
    #[cfg(feature = "will")]
    let will = match unsafe { c_str_opt(opts.will_topic) }? {
        None => None,
        Some(topic) => Some(wire::Will {
            topic,
            payload: unsafe { c_slice(opts.will_payload, opts.will_payload_len) }?,
            qos: QoS::from_u8(opts.will_qos).map_err(|_| MQE_ERR_QOS)?,
            retain: opts.will_retain,
        }),
    };
    #[cfg(feature = "link")]
    let keep_alive_s = crate::client::nat_keep_alive(opts.keep_alive_s, opts.nat_timeout_s);
    #[cfg(not(feature = "link"))]
    let keep_alive_s = opts.keep_alive_s;
    let connect = ConnectOptions {
        client_id,
        keep_alive_s,
        clean_session: opts.clean_session,
        username,
        password,
        will,
    };
    let connect_len = wire::connect_len(&connect).map_err(status_of)?;
    check_cloud(&connect, opts.cloud)?;

    if opts.rx_buf.is_null()
        || opts.rx_buf_len < MQE_MIN_BUFFER
        || opts.tx_buf.is_null()
        || opts.tx_buf_len < MQE_MIN_BUFFER
        || opts.tx_buf_len < connect_len
        || (opts.store_buf.is_null() && opts.store_buf_len > 0)
    {
        return Err(MQE_ERR_BUFFER);
    }
    let regions = [
        (opts.rx_buf as usize, opts.rx_buf_len),
        (opts.tx_buf as usize, opts.tx_buf_len),
        (opts.store_buf as usize, opts.store_buf_len),
        (storage as usize, MQE_CLIENT_SIZE),
    ];
    // Reconnect asked of a library built without it: refused here, not ignored later.
    if !disjoint(&regions)
        || opts.connect_timeout_ms == 0
        || (opts.reconnect && !cfg!(feature = "reconnect"))
        || (opts.reconnect && opts.reconnect_min_ms > opts.reconnect_max_ms)
        || usize::from(opts.inflight_window) > config::MAX_INFLIGHT
        || opts.qos0_policy > MQE_QOS0_DROP_OLDEST
    {
        return Err(MQE_ERR_ARG);
    }
    // Manual acknowledgement defers a record to the session store: nothing to defer without it.
    if cfg!(not(feature = "store")) && opts.rx_qos2_manual_ack {
        return Err(MQE_ERR_UNSUPPORTED);
    }
    Ok(slot.write(ClientSetup {
        opts,
        transport,
        endpoints,
        connect,
    }))
}

/// The CONNECT options against the cloud profile: `MQE_ERR_UNSUPPORTED` for what the cloud
/// refuses, or any profile in a build without `cloud-profiles`.
fn check_cloud(connect: &ConnectOptions, cloud: u8) -> Result<(), mqe_status_t> {
    #[cfg(feature = "cloud-profiles")]
    {
        let will = connect
            .will
            .as_ref()
            .map(|w| (w.topic, w.payload.len(), w.qos as u8, w.retain));
        let limits = super::cloud::limits_of(cloud)?;
        super::cloud::allowed(limits.check_connect(connect.keep_alive_s, connect.client_id, will))
    }
    #[cfg(not(feature = "cloud-profiles"))]
    {
        let _ = connect;
        if cloud == 0 {
            Ok(())
        } else {
            Err(MQE_ERR_UNSUPPORTED)
        }
    }
}

/// The broker endpoints: `host`/`port`, or the `endpoints` array (not both); their C host
/// strings kept in `transport` for its resolver.
///
/// # Safety
/// `opts.host` is NULL or a NUL-terminated string, `opts.endpoints` NULL or readable for
/// `endpoint_count` elements whose hosts are NULL or NUL-terminated; all valid while the client
/// is used.
unsafe fn endpoints_of(
    opts: &mqe_options_t,
    transport: &mut CTransport,
) -> Result<heapless::Vec<Endpoint<'static>, { config::MAX_ENDPOINTS }>, mqe_status_t> {
    // `host`/`port` is a list of one: one loop checks both forms.
    let single = [mqe_endpoint_t {
        host: opts.host,
        port: opts.port,
    }];
    let given: &[mqe_endpoint_t] = if opts.endpoint_count == 0 {
        &single
    } else if !opts.host.is_null() || opts.endpoints.is_null() {
        return Err(MQE_ERR_ARG);
    } else if opts.endpoint_count > config::MAX_ENDPOINTS {
        return Err(MQE_ERR_TOO_LARGE);
    } else {
        // SAFETY: non-NULL, and count <= MAX_ENDPOINTS elements are readable per the contract.
        unsafe { core::slice::from_raw_parts(opts.endpoints, opts.endpoint_count) }
    };
    let mut list = heapless::Vec::new();
    for endpoint in given {
        // SAFETY: forwarded contract.
        let host = unsafe { c_str(endpoint.host) }?;
        if host.is_empty() {
            return Err(MQE_ERR_ARG);
        }
        // SAFETY: the application's own pointer, a C string valid while the client is used
        // (read just above; documented on mqe_options_t).
        unsafe { transport.keep_host(list.len(), endpoint.host) };
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
    regions.iter().enumerate().all(|(i, &(a, a_len))| {
        // A region that wraps fails here, so the wrapping ends below only ever decide a result
        // that is false anyway.
        a_len <= isize::MAX as usize
            && a.checked_add(a_len).is_some()
            && regions.iter().skip(i + 1).all(|&(b, b_len)| {
                a_len == 0 || b_len == 0 || a.wrapping_add(a_len) <= b || b.wrapping_add(b_len) <= a
            })
    })
}
