//! The one error type every layer returns; `ffi` maps each variant to a C status code.

/// Why an operation failed or a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    // --- arguments ---
    /// An argument is out of range or inconsistent.
    InvalidArgument,
    /// A string is not valid UTF-8, or contains U+0000.
    InvalidUtf8,
    /// A topic name or filter breaks the MQTT rules (empty, misplaced or forbidden wildcard).
    InvalidTopic,
    /// QoS is not 0, 1 or 2.
    InvalidQos,
    /// A password was given without a username (MQTT 3.1.1 §3.1.2.9).
    PasswordWithoutUsername,
    /// A string is longer than 65,535 bytes, or a packet can never fit the buffer it needs.
    TooLarge,
    /// The cloud profile does not allow this (QoS, retain, will, or a limit of its own).
    Unsupported,
    /// The credentials asked for before CONNECT were not given.
    NoCredentials,
    // --- state ---
    /// The call is not allowed in the current state.
    InvalidState,
    // --- capacity ---
    /// The in-flight window, the store or the tx buffer is full for now: back-pressure.
    Full,
    /// The broker sent more unreleased QoS 2 messages than the client can remember
    /// (`MAX_RX_QOS2`): the connection is closed, the new message left unacknowledged.
    RxQos2Full,
    // --- transport ---
    /// The transport failed (open, connect, send or recv error).
    Transport,
    /// The broker's host name could not be resolved.
    Dns,
    /// The peer closed the connection.
    PeerClosed,
    /// TCP connect or CONNACK did not complete within the connect timeout.
    ConnectTimeout,
    /// PINGRESP did not arrive in time: the broker or the path is gone.
    PingTimeout,
    /// An acknowledgement did not arrive within the ack timeout.
    AckTimeout,
    /// The firmware reported the data link (PDP context, bearer) down: `link_down`.
    LinkDown,
    // --- protocol ---
    /// The broker sent bytes that are not a valid MQTT 3.1.1 packet.
    Malformed,
    /// The broker sent a valid packet that is not allowed now (or never, to a client).
    UnexpectedPacket,
    /// The broker acknowledged a packet id the client is not waiting for.
    UnknownPacketId,
    /// The broker sent a packet larger than the rx buffer.
    PacketTooLarge,
    // --- refused by the broker ---
    /// CONNACK refused the connection with this return code (1..=5).
    Refused(u8),
}
