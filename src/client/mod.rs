//! Drives one [`Engine`] over an `embedded_nal` TCP stack: resolve, TCP connect, moving bytes
//! between the socket and the engine, and the connection's lifecycle: automatic reconnect with
//! exponential backoff and jitter, walking the broker endpoints in order (failover), and the
//! bounded queue that holds QoS 0 messages while there is no connection.
//!
//! Everything is non-blocking: every socket call may answer `WouldBlock`, and the work is picked
//! up again on the next [`Client::poll_once`]. Each call does a bounded amount of work.
//!
//! Received bytes are appended to the caller's rx buffer after the unconsumed tail; the buffer is
//! compacted only at the start of a later call, so the bytes a returned [`Dispatch`] points at stay
//! in place until the next call.

mod drive;
mod io;
mod ip_literal;
mod link;
mod pending;
mod qos0_queue;
mod reconnect;
mod stats;

use core::mem::MaybeUninit;
use core::net::{IpAddr, SocketAddr};
use core::ops::Range;
use core::ptr::addr_of_mut;

use embedded_nal::{Dns, TcpClientStack};
use heapless::Vec;

use crate::config::MAX_ENDPOINTS;
use crate::engine::{ConnectOptions, Engine, EngineParts, Event, State};
use crate::fifo::Fifo;
use crate::time::Instant;
use crate::wire::{self, QoS};
use crate::Error;

pub use link::{nat_keep_alive, LinkPolicy};
pub use pending::Pending;
use qos0_queue::Qos0Queue;
pub use reconnect::ReconnectPolicy;
pub use stats::WireStats;

/// How soon to poll again while waiting on a step the stack reports only by polling
/// (DNS, TCP connect, a send that would block).
pub const RETRY_POLL_MS: u32 = 10;

/// Where the broker is. `host` is an IP literal (parsed, no DNS) or a name to resolve.
#[derive(Clone, Copy, Debug)]
pub struct Endpoint<'a> {
    pub host: &'a str,
    pub port: u16,
}

/// An incoming PUBLISH whose topic and payload are ranges of [`Client::rx_window`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRef {
    pub topic: Range<usize>,
    pub payload: Range<usize>,
    pub qos: QoS,
    pub retain: bool,
    pub dup: bool,
    pub packet_id: u16,
}

/// One thing for the application to look at. Ranges index [`Client::rx_window`] and stay valid
/// until the next call on the client. Renewed subscriptions' SUBACKs arrive as `Subscribed`
/// too, with ids the client chose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dispatch {
    Event(Event),
    Message(MessageRef),
    /// A SUBACK: one granted QoS (or 0x80 for failure) per filter, in the order subscribed.
    Subscribed {
        packet_id: u16,
        granted: Range<usize>,
    },
    /// The connection ended and the next attempt starts in `delay_ms`, at `endpoint`
    /// (an index of the endpoint list). `attempt` counts from 1 since the last CONNACK.
    Reconnecting {
        attempt: u32,
        delay_ms: u32,
        endpoint: usize,
    },
    /// A PUBLISH larger than the rx buffer was read past and acknowledged, its payload
    /// discarded (see `engine::Config::oversized_limit`). `topic` indexes
    /// [`Client::rx_window`] (None when the topic did not fit); `size` is the whole packet.
    Oversized {
        topic: Option<Range<usize>>,
        size: usize,
        qos: QoS,
        packet_id: u16,
    },
    /// The offline QoS 0 queue was full and dropped its `count` oldest messages
    /// ([`Qos0Policy::DropOldest`]) since the last such report.
    Qos0Dropped {
        count: u32,
    },
    /// A connect attempt starts: give it fresh credentials with [`Client::set_credentials`]
    /// (or end it with [`Client::abort_attempt`]) before the next call. Only after
    /// [`Client::set_credentials_hook`]; `refused` is the CONNACK code (4 or 5) that refused
    /// the previous attempt, else 0.
    CredentialsNeeded {
        refused: u8,
    },
    /// The firmware reported the data link down or up (`link_down`, `link_up`).
    #[cfg(feature = "link")]
    Link {
        up: bool,
    },
    /// CONNACK refused the credentials (`code` 4 or 5) `LinkPolicy::auth_retry_limit` times
    /// in a row: automatic reconnect stopped until the next `connect`.
    #[cfg(feature = "link")]
    ReconnectStopped {
        code: u8,
    },
    /// Nothing to send and nothing awaited (see [`Client::pending`]); once per change.
    #[cfg(feature = "pending")]
    Idle,
}

/// What a QoS 0 publish does when the offline queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Qos0Policy {
    /// Refuse the new message with `Error::Full` (back-pressure).
    RejectWhenFull,
    /// Drop the oldest queued messages to make room; reported by [`Dispatch::Qos0Dropped`]
    /// and counted by [`Client::qos0_dropped`].
    DropOldest,
}

/// The client's connection state, as the application sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientState {
    Disconnected,
    /// Resolving, TCP connecting, or waiting for CONNACK.
    Connecting,
    /// Waiting out the backoff before the next automatic attempt.
    Reconnecting,
    Connected,
    /// DISCONNECT queued; the socket closes once it is sent.
    Disconnecting,
    /// A connection is wanted, but the firmware reported the data link down.
    #[cfg(feature = "link")]
    LinkDown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Idle,
    /// Automatic reconnect: the next attempt starts at this time.
    #[cfg_attr(not(feature = "reconnect"), allow(dead_code))]
    Backoff(Instant),
    Resolving,
    TcpConnecting(PeerAddr),
    /// The socket is up; the engine owns the protocol state.
    Mqtt,
}

/// The broker's address while the TCP connect is retried: what `SocketAddr::new` makes of
/// the resolved IP and the endpoint's port (an IPv6 flow info and scope id of 0), kept
/// without them: `Phase` is 20 bytes instead of 32 on a 32-bit target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PeerAddr {
    ip: IpAddr,
    port: u16,
}

impl PeerAddr {
    fn socket(self) -> SocketAddr {
        SocketAddr::new(self.ip, self.port)
    }
}

/// Things the client reports itself (setup failures, reconnect notices), in order. Between
/// two polls the producers push at most two (`push_own`): an attempt's `CredentialsNeeded`
/// and its `Disconnected`, or a `Disconnected` and the `Reconnecting` it schedules. With
/// `reconnect` or `link`, room for a few more notices in a burst of commands.
const OWN_EVENTS: usize = if cfg!(any(feature = "reconnect", feature = "link")) {
    4
} else {
    2
};

/// One MQTT connection over a `TcpClientStack + Dns`, with caller-owned buffers.
pub struct Client<'b, S: TcpClientStack + Dns> {
    stack: S,
    socket: Option<S::TcpSocket>,
    engine: Engine<'b>,
    rx: &'b mut [u8],
    /// Unconsumed bytes are `rx[rx_start..rx_end]`.
    rx_start: usize,
    rx_end: usize,
    /// Tried in order; never empty.
    endpoints: Vec<Endpoint<'b>, MAX_ENDPOINTS>,
    /// Without `reconnect` there is one endpoint: always the first.
    #[cfg(feature = "reconnect")]
    endpoint_index: usize,
    connect_options: ConnectOptions<'b>,
    phase: Phase,
    /// Covers resolve + TCP + CONNACK.
    connect_deadline: Instant,
    /// What the client reports itself, before the engine's events.
    own_events: Fifo<Dispatch, OWN_EVENTS>,
    /// The last poll ran out of its step budget with work left.
    more_work: bool,
    /// Without `reconnect` nothing reads a policy: it is not kept.
    #[cfg(feature = "reconnect")]
    reconnect: ReconnectPolicy,
    /// The application asked to be connected (`connect`) and has not asked to disconnect.
    want_connection: bool,
    /// Failed attempts since the last accepted CONNACK (read by reconnect and the link rules).
    #[cfg(any(feature = "reconnect", feature = "link"))]
    attempt: u32,
    /// The current attempt reached CONNACK: a later loss retries the same endpoint.
    #[cfg(feature = "reconnect")]
    connected_on_attempt: bool,
    /// xorshift32 state for the backoff jitter (never 0).
    #[cfg(feature = "reconnect")]
    jitter: u32,
    qos0_queue: Qos0Queue,
    /// Ask for credentials before each attempt ([`Dispatch::CredentialsNeeded`]).
    ask_credentials: bool,
    /// The CONNACK code that refused the last attempt (0: none since the last CONNACK).
    last_refusal: u8,
    link: link::Link,
    stats: stats::Stats,
    idle: pending::IdleWatch,
}

impl<'b, S: TcpClientStack + Dns> Client<'b, S> {
    pub fn new(
        stack: S,
        engine: Engine<'b>,
        rx: &'b mut [u8],
        endpoint: Endpoint<'b>,
        connect: ConnectOptions<'b>,
    ) -> Self {
        let mut slot = MaybeUninit::uninit();
        // Built around an empty engine, which the given one then replaces.
        let placeholder = EngineParts {
            tx: &mut [],
            store: &mut [],
            config: *engine.config(),
        };
        let client = Self::init(&mut slot, stack, placeholder, rx, endpoint, connect);
        client.engine = engine;
        client.engine.limit_rx_packet(client.rx.len());
        // SAFETY: `init` wrote every field of the slot.
        unsafe { slot.assume_init() }
    }

    /// Builds the client in `slot` field by field, its engine in place from `engine` (see
    /// `Engine::init`): with the default capacities the client is about 2 KB, and building it
    /// as one value first would put that much (and again for the move) on the stack.
    pub fn init<'s>(
        slot: &'s mut MaybeUninit<Self>,
        stack: S,
        engine: EngineParts<'b>,
        rx: &'b mut [u8],
        endpoint: Endpoint<'b>,
        connect: ConnectOptions<'b>,
    ) -> &'s mut Self {
        let client = slot.as_mut_ptr();
        // SAFETY: `client` points to the slot, valid for writes; each field is written once
        // through a raw projection (no reference to the partly written value is made; the
        // references made, to `endpoints` once written and to the engine's and the queue's
        // slots, cover one field each), and the field list
        // below stops compiling when a field is added and not written here. So every field is
        // initialised when the slot is assumed initialised.
        let client = unsafe {
            addr_of_mut!((*client).stack).write(stack);
            addr_of_mut!((*client).socket).write(None);
            // MaybeUninit<T> has T's layout; the reference covers the engine field only.
            let engine_slot = addr_of_mut!((*client).engine).cast::<MaybeUninit<Engine<'b>>>();
            Engine::init(&mut *engine_slot, engine);
            addr_of_mut!((*client).rx).write(rx);
            addr_of_mut!((*client).rx_start).write(0);
            addr_of_mut!((*client).rx_end).write(0);
            let endpoints = addr_of_mut!((*client).endpoints);
            endpoints.write(Vec::new());
            // MAX_ENDPOINTS >= 1 (build.rs), so the first endpoint always fits.
            let _ = (*endpoints).push(endpoint);
            #[cfg(feature = "reconnect")]
            addr_of_mut!((*client).endpoint_index).write(0);
            addr_of_mut!((*client).connect_options).write(connect);
            addr_of_mut!((*client).phase).write(Phase::Idle);
            addr_of_mut!((*client).connect_deadline).write(Instant(0));
            addr_of_mut!((*client).own_events).write(Fifo::new());
            addr_of_mut!((*client).more_work).write(false);
            #[cfg(feature = "reconnect")]
            addr_of_mut!((*client).reconnect).write(ReconnectPolicy::OFF);
            addr_of_mut!((*client).want_connection).write(false);
            #[cfg(any(feature = "reconnect", feature = "link"))]
            addr_of_mut!((*client).attempt).write(0);
            #[cfg(feature = "reconnect")]
            addr_of_mut!((*client).connected_on_attempt).write(false);
            #[cfg(feature = "reconnect")]
            addr_of_mut!((*client).jitter).write(0x9E37_79B9);
            Qos0Queue::init(&mut *addr_of_mut!((*client).qos0_queue).cast::<MaybeUninit<_>>());
            addr_of_mut!((*client).ask_credentials).write(false);
            addr_of_mut!((*client).last_refusal).write(0);
            addr_of_mut!((*client).link).write(link::Link::NEW);
            addr_of_mut!((*client).stats).write(stats::Stats::NEW);
            addr_of_mut!((*client).idle).write(pending::IdleWatch::NEW);
            slot.assume_init_mut()
        };
        // Every field, by name: adding one fails to compile here until it is written above.
        let Client {
            stack: _,
            socket: _,
            engine: _,
            rx: _,
            rx_start: _,
            rx_end: _,
            endpoints: _,
            #[cfg(feature = "reconnect")]
                endpoint_index: _,
            connect_options: _,
            phase: _,
            connect_deadline: _,
            own_events: _,
            more_work: _,
            #[cfg(feature = "reconnect")]
                reconnect: _,
            want_connection: _,
            #[cfg(any(feature = "reconnect", feature = "link"))]
                attempt: _,
            #[cfg(feature = "reconnect")]
                connected_on_attempt: _,
            #[cfg(feature = "reconnect")]
                jitter: _,
            qos0_queue: _,
            ask_credentials: _,
            last_refusal: _,
            link: _,
            stats: _,
            idle: _,
        } = &*client;
        let rx_len = client.rx.len();
        client.engine.limit_rx_packet(rx_len);
        client
    }

    /// Asks for credentials before every connect attempt ([`Dispatch::CredentialsNeeded`]).
    pub fn set_credentials_hook(&mut self, on: bool) {
        self.ask_credentials = on;
        // Fresh credentials each attempt: a CONNACK 4/5 does not stop reconnecting.
        #[cfg(feature = "link")]
        self.set_credentials_refreshable(on);
    }

    /// Whether credentials are asked for before every attempt: then a refusal (CONNACK 4 or 5)
    /// may be cured by the next attempt's credentials.
    pub fn credentials_hook(&self) -> bool {
        self.ask_credentials
    }

    /// The username and password of the next CONNECT (replacing those the client was made with).
    pub fn set_credentials(&mut self, username: Option<&'b str>, password: Option<&'b [u8]>) {
        self.connect_options.username = username;
        self.connect_options.password = password;
    }

    pub fn set_qos0_policy(&mut self, policy: Qos0Policy) {
        self.qos0_queue.set_policy(policy);
    }

    /// QoS 0 messages dropped by [`Qos0Policy::DropOldest`] since the client was made.
    pub fn qos0_dropped(&self) -> u32 {
        self.qos0_queue.dropped()
    }

    /// Oversized PUBLISH packets read past and reported ([`Dispatch::Oversized`]).
    pub fn oversized_count(&self) -> u32 {
        self.engine.oversized_count()
    }

    /// QoS 0 messages waiting for a connection.
    pub fn qos0_queued(&self) -> usize {
        self.qos0_queue.len()
    }

    /// Publishes through the engine. QoS 1/2 go to the session store in any state. QoS 0 goes
    /// out now when connected; while a connection is wanted but not up (connecting,
    /// reconnecting, or lost) it waits in the offline queue, per the [`Qos0Policy`], and is
    /// sent in order once connected. QoS 0 before `connect` or after `disconnect`:
    /// `InvalidState`.
    pub fn publish(
        &mut self,
        now: Instant,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
    ) -> Result<Option<u16>, Error> {
        if qos != QoS::AtMostOnce {
            return self.engine.publish(now, topic, payload, qos, retain);
        }
        let connected = self.engine.state() == State::Connected;
        if connected && self.qos0_queue.is_empty() {
            return self.engine.publish(now, topic, payload, qos, retain);
        }
        if !self.want_connection && !connected {
            return Err(Error::InvalidState);
        }
        let len = wire::publish_len(topic, payload.len(), qos)?;
        if len > self.engine.tx_capacity() {
            return Err(Error::TooLarge);
        }
        let dropped = self.qos0_queue.push(topic, payload, retain)?;
        if dropped > 0 || connected {
            self.more_work = true;
        }
        Ok(None)
    }

    pub fn state(&self) -> ClientState {
        match self.phase {
            #[cfg(feature = "link")]
            Phase::Idle if self.want_connection && !self.link_is_up() => ClientState::LinkDown,
            Phase::Idle => ClientState::Disconnected,
            Phase::Backoff(_) => ClientState::Reconnecting,
            Phase::Resolving | Phase::TcpConnecting(_) => ClientState::Connecting,
            Phase::Mqtt => match self.engine.state() {
                State::Disconnected => ClientState::Disconnected,
                State::AwaitConnack => ClientState::Connecting,
                State::Connected => ClientState::Connected,
                State::Disconnecting => ClientState::Disconnecting,
            },
        }
    }

    /// The bytes that [`Dispatch`] ranges index.
    pub fn rx_window(&self) -> &[u8] {
        self.rx.get(..self.rx_end).unwrap_or(&[])
    }

    pub fn engine(&self) -> &Engine<'b> {
        &self.engine
    }

    pub fn engine_mut(&mut self) -> &mut Engine<'b> {
        &mut self.engine
    }

    pub fn stack(&self) -> &S {
        &self.stack
    }

    pub fn stack_mut(&mut self) -> &mut S {
        &mut self.stack
    }
}
