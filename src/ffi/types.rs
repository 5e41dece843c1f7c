//! The C-visible types and constants. Everything here appears in `include/mqtt_engine.h`.

use core::ffi::{c_char, c_void};

/// A status code: `MQE_OK` (0) or a negative `MQE_ERR_*` code. See `mqe_strerror`.
pub type mqe_status_t = i32;

/// What an `mqe_event_t` reports: one of the `MQE_EVENT_*` constants.
pub type mqe_event_kind_t = u8;

/// The client's connection state: one of the `MQE_STATE_*` constants.
pub type mqe_state_t = i32;

/// Returned by a transport's send, recv, connect or resolve: nothing can be done now, call
/// again later. Any other negative value means the connection (or the lookup) failed: -1 (or
/// any value not listed here) for a failure without detail, or one of the `MQE_IO_ERR_*`
/// codes below, which the client reports as its own status (event `reason`, log line).
pub const MQE_IO_WOULD_BLOCK: i32 = -2;
/// A transport failure without detail (any negative value not listed here means the same).
pub const MQE_IO_ERR: i32 = -1;
/// Transport failure: the peer refused the connection (POSIX `ECONNREFUSED`). Reported as
/// `MQE_ERR_CONN_REFUSED`.
pub const MQE_IO_ERR_REFUSED: i32 = -10;
/// Transport failure: no route to the host or network (POSIX `EHOSTUNREACH`, `ENETUNREACH`).
/// Reported as `MQE_ERR_UNREACHABLE`.
pub const MQE_IO_ERR_UNREACHABLE: i32 = -11;
/// Transport failure: the network stack timed out (POSIX `ETIMEDOUT`). Reported as
/// `MQE_ERR_NET_TIMEOUT`.
pub const MQE_IO_ERR_TIMEOUT: i32 = -12;
/// Transport failure: the connection was reset or aborted (POSIX `ECONNRESET`, `EPIPE`,
/// `ECONNABORTED`). Reported as `MQE_ERR_CONN_RESET`.
pub const MQE_IO_ERR_RESET: i32 = -13;
/// Transport failure: the local network is down (no interface, address or data context;
/// POSIX `ENETDOWN`, `EADDRNOTAVAIL`). Reported as `MQE_ERR_NET_DOWN`.
pub const MQE_IO_ERR_NET_DOWN: i32 = -14;
/// Transport failure: the TLS layer failed (handshake, certificate, alert). Reported as
/// `MQE_ERR_TLS`.
pub const MQE_IO_ERR_TLS: i32 = -15;

/// QoS 0, at most once: the `qos` argument of the publish and subscribe calls.
pub const MQE_QOS_0: u8 = 0;
/// QoS 1, at least once.
pub const MQE_QOS_1: u8 = 1;
/// QoS 2, exactly once.
pub const MQE_QOS_2: u8 = 2;
/// The SUBACK return code of a refused filter (`mqe_event_t.granted[i]`).
pub const MQE_SUBACK_FAILURE: u8 = 0x80;

/// The smallest rx and tx buffer `mqe_init` accepts, in bytes.
pub const MQE_MIN_BUFFER: usize = 64;

/// The library's version; `mqe_version()` returns the same as a string.
pub const MQE_VERSION_MAJOR: u32 = 0;
pub const MQE_VERSION_MINOR: u32 = 1;
pub const MQE_VERSION_PATCH: u32 = 0;

/// CONNACK accepted the connection. `session_present` is set, and `endpoint`: the index of the
/// endpoint that answered (0 for `host`/`port`).
pub const MQE_EVENT_CONNECTED: mqe_event_kind_t = 1;
/// CONNACK refused the connection. `return_code` is the CONNACK code (1..5) and `reason` the
/// matching `MQE_ERR_REFUSED_*`. The client is disconnected.
pub const MQE_EVENT_CONNECT_REFUSED: mqe_event_kind_t = 2;
/// The connection ended. `reason` is `MQE_OK` after `mqe_disconnect`, else why it ended.
pub const MQE_EVENT_DISCONNECTED: mqe_event_kind_t = 3;
/// Automatic reconnect: the connection ended (the `MQE_EVENT_DISCONNECTED` before says why)
/// and attempt `attempt` (1, 2, ... since the last CONNACK) starts in `delay_ms`, at endpoint
/// `endpoint`.
pub const MQE_EVENT_RECONNECTING: mqe_event_kind_t = 4;
/// A QoS 1 (PUBACK) or QoS 2 (PUBCOMP) publish completed. `packet_id` is set. `abandoned`
/// is true when a QoS 2 publish completed without its PUBCOMP: the broker acknowledged it
/// with PUBREC (it owns the message) but left the PUBREL unanswered on
/// `pubrel_max_connections` connections; the slot is free (docs/DELIVERY.md).
pub const MQE_EVENT_PUBLISH_COMPLETE: mqe_event_kind_t = 5;
/// SUBACK: `packet_id`, and `granted`/`granted_count`: one granted QoS per filter, in order;
/// 0x80 means that filter was refused. `granted` is valid only during the callback.
pub const MQE_EVENT_SUBSCRIBED: mqe_event_kind_t = 6;
/// UNSUBACK: `packet_id` is set.
pub const MQE_EVENT_UNSUBSCRIBED: mqe_event_kind_t = 7;
/// The broker had no session although clean_session was 0: subscriptions must be renewed.
pub const MQE_EVENT_SESSION_LOST: mqe_event_kind_t = 8;
/// An error not tied to a connection: messages posted with `mqe_post_publish` that could not be
/// published were dropped; `dropped` counts them and `reason` is the last one's status.
pub const MQE_EVENT_ERROR: mqe_event_kind_t = 9;
/// PINGRESP arrived.
pub const MQE_EVENT_PING_RESPONSE: mqe_event_kind_t = 10;
/// The offline QoS 0 queue was full (policy `MQE_QOS0_DROP_OLDEST`) and dropped its `dropped`
/// oldest messages since the last such event. `mqe_qos0_dropped` counts them all.
pub const MQE_EVENT_QOS0_DROPPED: mqe_event_kind_t = 11;
/// An incoming PUBLISH larger than `rx_buf` (and at most `oversized_limit`) was read past:
/// acknowledged per its QoS, its payload discarded. `topic`/`topic_len` (NULL/0 when the
/// topic itself did not fit `rx_buf`; valid only during the callback), `size` (the whole
/// packet in bytes), `qos` and `packet_id` are set. `mqe_oversized_count` counts them.
pub const MQE_EVENT_MESSAGE_TOO_LARGE: mqe_event_kind_t = 12;
/// The incoming QoS 2 table (`MQE_MAX_RX_QOS2` entries) was full and forgot `dropped` ids,
/// consecutive from `packet_id`, before their PUBREL (stale ids a broker left open; see
/// docs/DELIVERY.md). Should the broker re-send one of those PUBLISH packets, it is
/// delivered again. A warning is logged too.
pub const MQE_EVENT_RX_QOS2_EVICTED: mqe_event_kind_t = 13;
/// `mqe_set_store` restored the session from flash (feature `store`): `restored_outgoing`
/// QoS 1/2 messages (re-sent on the next connection with DUP=1, or their PUBREL) and
/// `restored_rx_qos2` incoming QoS 2 ids awaiting PUBREL; `dropped`: records that failed
/// their check (torn by a power cut, or damaged), skipped and never trusted (a warning is
/// logged). Delivered by the next `mqe_poll`.
pub const MQE_EVENT_RESTORED: mqe_event_kind_t = 14;

/// `mqe_options_t.qos0_policy`: a QoS 0 publish while the offline queue is full fails with
/// `MQE_ERR_FULL` (default).
pub const MQE_QOS0_REJECT_WHEN_FULL: u8 = 0;
/// `mqe_options_t.qos0_policy`: a QoS 0 publish while the offline queue is full drops the
/// oldest queued messages, reported by `MQE_EVENT_QOS0_DROPPED` and `mqe_qos0_dropped`.
pub const MQE_QOS0_DROP_OLDEST: u8 = 1;

/// No connection and none being set up.
pub const MQE_STATE_DISCONNECTED: mqe_state_t = 0;
/// Resolving the host, TCP connecting, or waiting for CONNACK.
pub const MQE_STATE_CONNECTING: mqe_state_t = 1;
/// CONNACK accepted; publish, subscribe and unsubscribe work.
pub const MQE_STATE_CONNECTED: mqe_state_t = 2;
/// DISCONNECT is queued; the socket closes once it is sent.
pub const MQE_STATE_DISCONNECTING: mqe_state_t = 3;
/// The connection was lost; automatic reconnect waits out its backoff before the next attempt.
/// `mqe_connect` starts it at once; `mqe_disconnect` stops reconnecting.
pub const MQE_STATE_RECONNECTING: mqe_state_t = 4;

/// One broker address for `mqe_options_t.endpoints` (failover).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mqe_endpoint_t {
    /// NUL-terminated host name or IP literal; kept by the client (must stay valid).
    pub host: *const c_char,
    pub port: u16,
}

/// A socket address handed to `mqe_transport_t.connect` and filled by `resolve`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct mqe_sockaddr_t {
    /// 4 (IPv4) or 6 (IPv6).
    pub family: u8,
    /// Network byte order; IPv4 uses the first 4 bytes.
    pub addr: [u8; 16],
    /// Host byte order.
    pub port: u16,
}

/// The socket layer the firmware provides (plain TCP or the module's TLS socket).
/// `mqe_init` copies this struct; `ctx` and the functions must stay valid while the client is
/// used. Every function is called only from inside an `mqe_*` call on the owning task, and
/// must not block for long: return `MQE_IO_WOULD_BLOCK` instead. A function that fails returns
/// the `MQE_IO_ERR_*` code of the cause when it knows it (the client then reports
/// `MQE_ERR_CONN_REFUSED`, `MQE_ERR_UNREACHABLE`, ... instead of `MQE_ERR_TRANSPORT`), else -1.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct mqe_transport_t {
    /// Passed back unchanged as the first argument of every function.
    pub ctx: *mut c_void,
    /// Required. Creates a socket: its handle (>= 0), or < 0 on failure.
    pub open: Option<unsafe extern "C" fn(ctx: *mut c_void) -> i32>,
    /// Required. Connects `sock` to `*addr` (valid only during the call): 0 when connected,
    /// `MQE_IO_WOULD_BLOCK` to be called again on a later poll, < 0 on failure.
    pub connect: Option<
        unsafe extern "C" fn(ctx: *mut c_void, sock: i32, addr: *const mqe_sockaddr_t) -> i32,
    >,
    /// Required. Sends up to `len` bytes of `buf` (valid only during the call): bytes accepted
    /// (>= 0; fewer than `len` is fine), `MQE_IO_WOULD_BLOCK`, or < 0 when the connection is lost.
    pub send: Option<
        unsafe extern "C" fn(ctx: *mut c_void, sock: i32, buf: *const u8, len: usize) -> i32,
    >,
    /// Required. Receives up to `len` bytes into `buf` (valid only during the call): bytes
    /// received (> 0), 0 when the peer closed, `MQE_IO_WOULD_BLOCK`, or < 0 when lost.
    pub recv:
        Option<unsafe extern "C" fn(ctx: *mut c_void, sock: i32, buf: *mut u8, len: usize) -> i32>,
    /// Required. Closes `sock`; called exactly once per handle `open` returned.
    pub close: Option<unsafe extern "C" fn(ctx: *mut c_void, sock: i32)>,
    /// Optional (NULL: only IP literals work as host). Resolves the NUL-terminated `host`
    /// (valid only during the call) into `*out`: 0 when done, `MQE_IO_WOULD_BLOCK` to be called
    /// again on a later poll, < 0 on failure. `out->port` is ignored.
    pub resolve: Option<
        unsafe extern "C" fn(
            ctx: *mut c_void,
            host: *const c_char,
            out: *mut mqe_sockaddr_t,
        ) -> i32,
    >,
}

/// The platform services. `mqe_init` copies this struct; `ctx` and the functions must stay
/// valid while the client is used.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct mqe_platform_t {
    /// Passed back unchanged as the first argument of every function.
    pub ctx: *mut c_void,
    /// Required. A millisecond tick that wraps at 2^32.
    pub now_ms: Option<unsafe extern "C" fn(ctx: *mut c_void) -> u32>,
    /// Optional. Random numbers for the reconnect jitter (NULL: seeded from the client address).
    pub random: Option<unsafe extern "C" fn(ctx: *mut c_void) -> u32>,
    /// Optional. Sleeps `ms` milliseconds (yielding to other tasks); needed by the blocking
    /// helpers (`mqe_connect_wait`, `mqe_wait_msg`, `mqe_ping`), which sleep at most 10 ms at a time.
    pub delay_ms: Option<unsafe extern "C" fn(ctx: *mut c_void, ms: u32)>,
    /// Optional. Log sink: `level` is an `MQE_LOG_*` constant and `msg` a NUL-terminated line
    /// without newline (at most 95 bytes, valid only during the call). Called from inside the
    /// library's calls on the owner task (connect, poll) for lines at or below the level set
    /// by `mqe_set_log_level` (default `MQE_LOG_INFO`); must not call the library. NULL: the
    /// library formats nothing.
    pub log: Option<unsafe extern "C" fn(ctx: *mut c_void, level: i32, msg: *const c_char)>,
}

/// Connection options; start from `mqe_options_default()`. Strings are NUL-terminated UTF-8.
/// `mqe_init` keeps the pointers (it copies none of the strings or buffers): everything this
/// struct points to must stay valid, and the buffers untouched by the application, for as long
/// as the client is used. The struct itself may be discarded after `mqe_init`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct mqe_options_t {
    /// Broker host name or IP literal. Required unless `endpoints` is given (then NULL).
    pub host: *const c_char,
    /// Broker port (default 1883).
    pub port: u16,
    /// Failover: `endpoint_count` (1..=`MQE_MAX_ENDPOINTS`) brokers tried in order instead of
    /// `host`/`port`. A failed attempt moves to the next (wrapping), a lost connection retries
    /// the same one first. The array and its strings are kept: they must stay valid.
    pub endpoints: *const mqe_endpoint_t,
    pub endpoint_count: usize,
    /// Client identifier; NULL or "" asks the broker to assign one (needs clean_session).
    pub client_id: *const c_char,
    /// NULL: no username.
    pub username: *const c_char,
    /// Binary password of `password_len` bytes; NULL: none. Needs a username.
    pub password: *const u8,
    pub password_len: usize,
    /// Keep-alive in seconds (default 60); 0 turns it off.
    pub keep_alive_s: u16,
    /// Start a new session (default true); false resumes the broker's session.
    pub clean_session: bool,
    /// NULL: no will. Otherwise a topic name (no wildcards).
    pub will_topic: *const c_char,
    pub will_payload: *const u8,
    pub will_payload_len: usize,
    pub will_qos: u8,
    pub will_retain: bool,
    /// Receive buffer, >= `MQE_MIN_BUFFER`; also the largest packet received whole (a larger
    /// PUBLISH is read past and reported: `oversized_limit`).
    pub rx_buf: *mut u8,
    pub rx_buf_len: usize,
    /// Transmit buffer, >= `MQE_MIN_BUFFER` and large enough for CONNECT and the largest publish.
    pub tx_buf: *mut u8,
    pub tx_buf_len: usize,
    /// Holds QoS 1/2 publishes until acknowledged (re-sent after a reconnect). May be NULL with
    /// length 0 when only QoS 0 is published: QoS 1/2 publishes then fail with
    /// `MQE_ERR_TOO_LARGE`, as they can never fit (`MQE_ERR_FULL` means full for now).
    pub store_buf: *mut u8,
    pub store_buf_len: usize,
    /// Resolve + TCP connect + CONNACK must finish within this (default 10000, must be > 0).
    pub connect_timeout_ms: u32,
    /// How long the broker may take to acknowledge a QoS 1/2 PUBLISH or PUBREL, a SUBSCRIBE or
    /// an UNSUBSCRIBE (default 20000; 0: no limit). When it passes, the client closes the
    /// connection (`MQE_EVENT_DISCONNECTED` with `MQE_ERR_ACK_TIMEOUT`); unacknowledged QoS 1/2
    /// messages are re-sent (DUP set) after the next CONNACK, by automatic reconnect or the
    /// next `mqe_connect`. MQTT 3.1.1 re-sends only on a new connection, never on the same one.
    pub ack_timeout_ms: u32,
    /// PINGRESP must arrive within this; 0 (default): half the keep-alive.
    pub ping_timeout_ms: u32,
    /// Automatic reconnect (default on): after a connection started by `mqe_connect` ends for
    /// any reason but `mqe_disconnect`, `mqe_poll` waits a delay drawn uniformly (from
    /// `platform.random`) from [0, min(`reconnect_max_ms`, `reconnect_min_ms` * 2^(attempt-1))]
    /// ("full jitter"; defaults 1000 and 60000), and connects again.
    pub reconnect: bool,
    pub reconnect_min_ms: u32,
    pub reconnect_max_ms: u32,
    /// Outgoing QoS 1/2 messages in flight at once, 1..=`MQE_MAX_INFLIGHT`; 0: the default.
    pub inflight_window: u16,
    /// What a QoS 0 publish does when the offline queue (`MQE_OFFLINE_QOS0_MSGS` messages,
    /// `MQE_OFFLINE_QOS0_BYTES` of topic + payload) is full: `MQE_QOS0_REJECT_WHEN_FULL`
    /// (default) or `MQE_QOS0_DROP_OLDEST`.
    pub qos0_policy: u8,
    /// Cloud profile (`MQE_CLOUD_*`, default `MQE_CLOUD_NONE`); set with
    /// `mqe_options_for_cloud`. Any other than `MQE_CLOUD_NONE` needs the `cloud-profiles`
    /// feature (`MQE_FEATURE_CLOUD_PROFILES`), else `mqe_init` returns `MQE_ERR_UNSUPPORTED`.
    pub cloud: u8,
    /// Feature `link`. The idle timeout, in seconds, of the NAT between the device and the
    /// broker, when known (carrier NATs drop idle TCP after 2-5 minutes: docs/CELLULAR.md); 0
    /// (default): unknown. The keep-alive is clamped below two thirds of it (and turned on if
    /// 0), so that a PINGREQ crosses the NAT before its entry expires.
    #[cfg(feature = "link")]
    pub nat_timeout_s: u32,
    /// Feature `link`. A connection lost within this many ms of its CONNACK counts as a failed
    /// attempt: the backoff keeps growing (default 10000; 0: off).
    #[cfg(feature = "link")]
    pub reconnect_stable_ms: u32,
    /// Feature `link`. After this many CONNACK 4 or 5 (bad credentials, not authorised) in a
    /// row, automatic reconnect stops with `MQE_EVENT_RECONNECT_STOPPED` (default 3; 0: never),
    /// unless the credentials are renewed before every CONNECT.
    #[cfg(feature = "link")]
    pub auth_retry_limit: u8,
    /// Feature `pending`. Report `MQE_EVENT_IDLE` each time the client becomes idle (default
    /// false).
    #[cfg(feature = "pending")]
    pub idle_event: bool,
    /// Connections on which a QoS 2 PUBREL may go unanswered before the publish completes
    /// without its PUBCOMP (`MQE_EVENT_PUBLISH_COMPLETE` with `abandoned`); default 3,
    /// 0: wait for ever.
    pub pubrel_max_connections: u8,
    /// An incoming PUBLISH larger than `rx_buf` but at most this many bytes is read past,
    /// acknowledged and reported (`MQE_EVENT_MESSAGE_TOO_LARGE`); a larger one closes the
    /// connection with `MQE_ERR_PACKET_TOO_LARGE`. Default 65536; 0: close on any.
    pub oversized_limit: u32,
}

/// What happened; which fields are meaningful depends on `kind` (see `MQE_EVENT_*`).
/// Valid only during the event callback.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mqe_event_t {
    pub kind: mqe_event_kind_t,
    pub session_present: bool,
    /// CONNACK return code (`MQE_EVENT_CONNECT_REFUSED`).
    pub return_code: u8,
    pub packet_id: u16,
    /// `MQE_OK` or the status code explaining a disconnect or refusal.
    pub reason: mqe_status_t,
    /// `MQE_EVENT_SUBSCRIBED`: granted QoS per filter; valid only during the callback.
    pub granted: *const u8,
    pub granted_count: usize,
    /// `MQE_EVENT_RECONNECTING`: the attempt number and its delay.
    pub attempt: u32,
    pub delay_ms: u32,
    /// `MQE_EVENT_CONNECTED` and `MQE_EVENT_RECONNECTING`: index of the endpoint (0 for `host`).
    pub endpoint: u32,
    /// `MQE_EVENT_QOS0_DROPPED`: how many queued QoS 0 messages were dropped;
    /// `MQE_EVENT_ERROR`: how many posted messages were dropped;
    /// `MQE_EVENT_RX_QOS2_EVICTED`: how many incoming QoS 2 ids were forgotten.
    pub dropped: u32,
    /// `MQE_EVENT_PUBLISH_COMPLETE`: the PUBCOMP never came (see the event).
    pub abandoned: bool,
    /// `MQE_EVENT_MESSAGE_TOO_LARGE`: QoS, topic (NOT NUL-terminated; NULL when it did not
    /// fit `rx_buf`; valid only during the callback) and the packet's size in bytes.
    pub qos: u8,
    pub topic: *const c_char,
    pub topic_len: usize,
    pub size: u32,
    /// `MQE_EVENT_RESTORED`: outgoing messages and incoming QoS 2 ids restored from flash.
    pub restored_outgoing: u32,
    pub restored_rx_qos2: u32,
}

/// An incoming PUBLISH. `topic` and `payload` point into the rx buffer and are valid only
/// during the message callback; copy what you keep.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mqe_message_t {
    /// NOT NUL-terminated: use `topic_len`.
    pub topic: *const c_char,
    pub topic_len: usize,
    pub payload: *const u8,
    pub payload_len: usize,
    pub qos: u8,
    pub retain: bool,
    pub dup: bool,
    /// 0 at QoS 0.
    pub packet_id: u16,
}

/// Called from inside `mqe_poll` for each incoming message. `msg` is valid only during the call.
pub type mqe_message_handler_t =
    Option<unsafe extern "C" fn(user: *mut c_void, msg: *const mqe_message_t)>;

/// Called from inside `mqe_poll` (and `mqe_disconnect`'s next poll) for each event. `event` is
/// valid only during the call.
pub type mqe_event_handler_t =
    Option<unsafe extern "C" fn(user: *mut c_void, event: *const mqe_event_t)>;

/// Called by the panic handler of the static library; it should reset the device.
pub type mqe_panic_hook_t = Option<unsafe extern "C" fn()>;

/// One filter for `mqe_subscribe_many`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct mqe_subscription_t {
    /// NUL-terminated topic filter; wildcards allowed.
    pub filter: *const c_char,
    pub qos: u8,
}

/// Opaque client storage, allocated by the caller (e.g. `static mqe_client_t c;`) and set up
/// by `mqe_init`. Its size depends on the build-time capacities. Do not copy or move it after
/// `mqe_init`.
#[repr(C, align(8))]
pub struct mqe_client_t {
    opaque: [u64; MQE_CLIENT_WORDS],
}

impl mqe_client_t {
    /// All-zero storage, as a C `static` starts out (Rust callers and tests).
    pub const fn zeroed() -> Self {
        mqe_client_t {
            opaque: [0; MQE_CLIENT_WORDS],
        }
    }
}

include!(concat!(env!("OUT_DIR"), "/client_size.rs"));

/// `mqe_client_t` in 8-byte words.
pub const MQE_CLIENT_WORDS: usize = MQE_CLIENT_SIZE / 8;
