// The one list of status codes: name = number, text; with the doc comment each gets.
// `src/ffi/status.rs` turns it into the Rust constants, `mqe_strerror`'s texts and
// `MQE_STATUS_CODES`; build.rs turns the same file into the header's `#define`s and the
// `MQE_STATUS_LIST(X)` X-macro. Grouped by cause in blocks of ten; a number, once given, is
// never reused. Each text is distinct and says what went wrong.
status_table! {
    /// Success.
    MQE_OK = 0, c"ok";

    // --- arguments ---
    /// A required pointer is NULL (or a data pointer is NULL with a length > 0).
    MQE_ERR_NULL = -1, c"NULL pointer argument";
    /// An argument is out of range or inconsistent (e.g. overlapping buffers, empty list).
    MQE_ERR_ARG = -2, c"invalid argument";
    /// A string is not valid UTF-8 (or contains U+0000).
    MQE_ERR_UTF8 = -3, c"string is not valid UTF-8";
    /// A topic name or filter breaks the MQTT rules (empty, wildcard in a publish topic,
    /// misplaced wildcard in a filter).
    MQE_ERR_TOPIC = -4, c"invalid topic name or filter";
    /// QoS is not 0, 1 or 2.
    MQE_ERR_QOS = -5, c"QoS must be 0, 1 or 2";
    /// A string is longer than 65,535 bytes (or unterminated within 65,536), or a message can
    /// never fit the tx or store buffer (QoS 1/2 without a store buffer included).
    MQE_ERR_TOO_LARGE = -6, c"string or message too large";
    /// A password was given without a username (MQTT 3.1.1 §3.1.2.9).
    MQE_ERR_PASSWORD_WITHOUT_USER = -7, c"password given without a username";
    /// A buffer is missing or below its minimum (`MQE_MIN_BUFFER`, or too small for CONNECT).
    MQE_ERR_BUFFER = -8, c"buffer missing or too small";
    /// The header and the library were built with different capacities or features: the
    /// `mqe_client_t` the caller allocated does not fit the library's client (nothing is
    /// written).
    MQE_ERR_ABI_MISMATCH = -9,
        c"header and library were built with different capacities or features";
    /// The client storage is not aligned to `MQE_CLIENT_ALIGN` (nothing is written).
    MQE_ERR_ALIGNMENT = -10, c"client storage not aligned to MQE_CLIENT_ALIGN";
    /// The cloud profile set with `mqe_options_for_cloud` does not allow this: QoS above its
    /// cap, retain, a will, or a topic, filter count, payload, client id or keep-alive beyond
    /// its limits (docs/CLOUDS.md). Nothing was sent; the cloud would have dropped the
    /// connection. A signer: a sign method this build or cloud does not have.
    MQE_ERR_UNSUPPORTED = -11, c"not supported by the cloud profile";
    /// A signer was given a wall-clock time before 2017-07-14 (`MQE_MIN_WALL_CLOCK_S`): the
    /// clock was never set (no NITZ or AT+CCLK yet), and a credential signed with it would be
    /// refused.
    MQE_ERR_CLOCK_UNSET = -12, c"wall clock not set";
    /// The credentials callback failed (returned an error, or wrote more than its buffers or
    /// a username that is not UTF-8): this connect attempt ends before CONNECT is sent.
    MQE_ERR_NO_CREDENTIALS = -13, c"credentials callback gave no credentials";

    // --- state ---
    /// The client storage was never set up by `mqe_init`.
    MQE_ERR_NOT_INIT = -20, c"client not initialised";
    /// The call is not allowed in the client's current state (see each function).
    MQE_ERR_STATE = -21, c"not allowed in the current state";
    /// Called from inside a callback of the same client, where this call is not allowed.
    MQE_ERR_REENTRANT = -22, c"not allowed from a callback";
    /// `mqe_post_publish` needs the critical section registered with
    /// `mqe_set_critical_section`.
    MQE_ERR_NO_CRITICAL_SECTION = -23,
        c"no critical section registered (mqe_set_critical_section)";

    // --- capacity ---
    /// The in-flight window, the store or the tx buffer is full for now: back-pressure.
    /// Nothing was queued; retry after `mqe_poll` has made progress.
    MQE_ERR_FULL = -30, c"window or buffer full, try again later";
    /// The broker sent more unreleased QoS 2 messages than the client can remember
    /// (`MQE_MAX_RX_QOS2`). The client closes the connection without acknowledging the new
    /// one, so it is not lost: the broker re-sends it after the reconnect.
    MQE_ERR_RX_QOS2_FULL = -31, c"incoming QoS 2 table full (MQE_MAX_RX_QOS2)";

    // --- transport ---
    /// The transport failed (open, connect, send or recv returned an error without a
    /// specific `MQE_IO_ERR_*` code).
    MQE_ERR_TRANSPORT = -40, c"transport failed (no cause given by the port)";
    /// The host name could not be resolved (or no resolver was given).
    MQE_ERR_DNS = -41, c"host name not resolved";
    /// The broker closed the connection.
    MQE_ERR_CLOSED = -42, c"connection closed by the broker";
    /// Resolve + TCP connect + CONNACK took longer than `connect_timeout_ms`.
    MQE_ERR_CONNECT_TIMEOUT = -43, c"connect timed out";
    /// No PINGRESP within the ping timeout.
    MQE_ERR_PING_TIMEOUT = -44, c"no PINGRESP in time";
    /// No acknowledgement within `ack_timeout_ms`: the connection is closed, and the
    /// message re-sent after the reconnect.
    MQE_ERR_ACK_TIMEOUT = -45, c"no acknowledgement in time";
    /// A blocking helper's timeout passed before what it waits for happened.
    MQE_ERR_TIMEOUT = -46, c"timed out waiting";
    /// The firmware reported the data link down (`mqe_link_down`): the connection was closed,
    /// and no attempt is made until `mqe_link_up`.
    MQE_ERR_LINK_DOWN = -47, c"data link down (mqe_link_down)";

    // --- protocol ---
    /// The broker sent bytes that are not a valid MQTT 3.1.1 packet.
    MQE_ERR_MALFORMED = -50, c"malformed packet from the broker";
    /// The broker sent a packet not allowed at this point.
    MQE_ERR_UNEXPECTED_PACKET = -51, c"unexpected packet from the broker";
    /// The broker acknowledged a packet id the client was not waiting for.
    MQE_ERR_UNKNOWN_PACKET_ID = -52, c"unknown packet id from the broker";
    /// The broker sent a packet larger than the rx buffer.
    MQE_ERR_PACKET_TOO_LARGE = -53, c"packet larger than the rx buffer";

    // --- refused by the broker (CONNACK return codes 1..5) ---
    /// CONNACK 1: unacceptable protocol version.
    MQE_ERR_REFUSED_PROTOCOL = -61, c"refused: unacceptable protocol version";
    /// CONNACK 2: client identifier rejected.
    MQE_ERR_REFUSED_ID = -62, c"refused: identifier rejected";
    /// CONNACK 3: server unavailable.
    MQE_ERR_REFUSED_UNAVAILABLE = -63, c"refused: server unavailable";
    /// CONNACK 4: bad user name or password.
    MQE_ERR_REFUSED_CREDENTIALS = -64, c"refused: bad user name or password";
    /// CONNACK 5: not authorized.
    MQE_ERR_REFUSED_NOT_AUTHORIZED = -65, c"refused: not authorized";

    // --- network failures a transport reported with an MQE_IO_ERR_* code ---
    /// The broker's host answered the TCP connect with a reset: nothing listens on that
    /// port (transport code `MQE_IO_ERR_REFUSED`, POSIX `ECONNREFUSED`).
    MQE_ERR_CONN_REFUSED = -70, c"connection refused";
    /// No route to the broker: host or network unreachable (`MQE_IO_ERR_UNREACHABLE`,
    /// POSIX `EHOSTUNREACH`, `ENETUNREACH`).
    MQE_ERR_UNREACHABLE = -71, c"host or network unreachable";
    /// The network stack gave up waiting: TCP connect or retransmission timeout
    /// (`MQE_IO_ERR_TIMEOUT`, POSIX `ETIMEDOUT`).
    MQE_ERR_NET_TIMEOUT = -72, c"network timed out";
    /// The connection was reset or aborted (`MQE_IO_ERR_RESET`, POSIX `ECONNRESET`, `EPIPE`,
    /// `ECONNABORTED`).
    MQE_ERR_CONN_RESET = -73, c"connection reset";
    /// The local network is down: no interface, no address, no data context
    /// (`MQE_IO_ERR_NET_DOWN`, POSIX `ENETDOWN`, `EADDRNOTAVAIL`).
    MQE_ERR_NET_DOWN = -74, c"network down";
    /// The TLS layer failed: handshake, certificate or alert (`MQE_IO_ERR_TLS`).
    MQE_ERR_TLS = -75, c"TLS handshake or certificate failed";

    // --- the session store in flash (feature `store`, docs/STORE.md) ---
    /// A flash function (`mqe_flash_t` read, program or erase) returned an error.
    MQE_ERR_STORE_FLASH = -80, c"flash read, program or erase failed";
    /// The flash region holds no valid session log (foreign or random bytes, a cut during
    /// the very first format). Refused, never read: `mqe_store_erase` makes it usable.
    MQE_ERR_STORE_CORRUPT = -81, c"flash region holds no valid session log";
    /// The flash region was written by another layout version of the store. Refused.
    MQE_ERR_STORE_VERSION = -82, c"flash region written by another store layout version";
    /// The flash geometry cannot hold the store: fewer than 3 sectors, sectors too small, a
    /// write size that is not a power of two up to 32.
    MQE_ERR_STORE_GEOMETRY = -83, c"flash geometry unusable for the session store";
}
