//! One connection's MQTT 3.1.1 state machine, sans-IO: it takes bytes and the time, and
//! hands back bytes to send (`pending_transmit`) and events (`poll_event`). It never
//! reads a clock or touches a socket, so it runs the same on a fake clock in tests.
//!
//! The methods live in one file per role, as [`Engine`]'s doc groups them: `inbound`
//! (`handle_bytes` and the per-packet handlers), `commands` (what the application asks),
//! `outbound` (tx and events), `timers` (`handle_timeout`, `next_deadline`).

mod commands;
mod durable;
mod inbound;
#[cfg(feature = "store")]
mod manual_ack;
mod outbound;
mod oversized;
mod timers;

use core::mem::MaybeUninit;
use core::ptr::addr_of_mut;

use crate::config::{EVENT_QUEUE, MAX_INFLIGHT};
use crate::error::Error;
use crate::fifo::Fifo;
use crate::session::Session;
use crate::time::Instant;
use crate::wire::{self, QoS};

pub use commands::FilterList;
#[cfg(feature = "store")]
pub use durable::Restored;
#[cfg(feature = "store")]
pub use manual_ack::MAX_RX_AWAITING;
use oversized::Skip;

/// Timeouts and limits of one engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Outgoing QoS 1/2 messages in flight at once; clamped to 1..=MAX_INFLIGHT.
    pub inflight_window: u16,
    /// CONNACK must arrive this long after `connect` (0 = no limit).
    pub connect_timeout_ms: u32,
    /// PUBACK/PUBREC/PUBCOMP/SUBACK/UNSUBACK must arrive this long after sending (0 = off).
    pub ack_timeout_ms: u32,
    /// PINGRESP must arrive this long after PINGREQ (0 = keep-alive / 2; with keep-alive 0
    /// too, a user ping has no limit).
    pub ping_timeout_ms: u32,
    /// The largest packet accepted from the broker (the rx buffer's size).
    pub max_rx_packet: usize,
    /// Connections on which an outgoing QoS 2 message's PUBREL may end unanswered before the
    /// message completes without its PUBCOMP (`Event::PublishAbandoned`); 0 = wait for ever.
    /// The broker owns the message once PUBREC came, so giving up loses nothing.
    pub pubrel_max_connections: u8,
    /// An incoming PUBLISH larger than `max_rx_packet` but at most this many bytes is read
    /// past: acknowledged per its QoS, its payload discarded as it streams in, and reported
    /// as `Incoming::Oversized`. A larger one closes the connection (`PacketTooLarge`), its
    /// length taken as hostile. 0 = close on any packet over `max_rx_packet`.
    pub oversized_limit: usize,
}

/// `Config::pubrel_max_connections` unless the application chooses.
pub const DEFAULT_PUBREL_MAX_CONNECTIONS: u8 = 3;
/// `Config::oversized_limit` unless the application chooses: 64 KiB.
pub const DEFAULT_OVERSIZED_LIMIT: usize = 65_536;

/// What an engine is built from (`Engine::init`): the caller's buffers and the configuration.
pub struct EngineParts<'b> {
    /// Outgoing bytes; its size bounds the largest packet sent.
    pub tx: &'b mut [u8],
    /// Encoded QoS 1/2 PUBLISH packets kept until acknowledged.
    pub store: &'b mut [u8],
    pub config: Config,
}

/// What CONNECT carries: the wire layer's fields, validated when encoded.
pub type ConnectOptions<'a> = wire::ConnectFields<'a>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Disconnected,
    AwaitConnack,
    Connected,
    Disconnecting,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Connected {
        session_present: bool,
    },
    /// CONNACK 1..=5; the state is Disconnected and no Disconnected event follows.
    ConnectRefused {
        code: u8,
    },
    /// None = clean disconnect asked by the user.
    Disconnected {
        reason: Option<Error>,
    },
    /// PUBACK (QoS 1) or PUBCOMP (QoS 2).
    PublishComplete {
        packet_id: u16,
    },
    /// A QoS 2 publish completed without its PUBCOMP: the broker acknowledged it with
    /// PUBREC, then left its PUBREL unanswered on `Config::pubrel_max_connections`
    /// connections. Its slot is free.
    PublishAbandoned {
        packet_id: u16,
    },
    Unsubscribed {
        packet_id: u16,
    },
    /// clean_session=0, had a session, CONNACK session_present=0.
    SessionLost,
    PingResponse,
    /// `attach_store` restored the session from flash (feature `store`). `corrupt`: records
    /// that failed their check (torn by a cut, or damaged), skipped.
    #[cfg(feature = "store")]
    Restored {
        outgoing: u16,
        rx_qos2: u16,
        corrupt: u16,
    },
    /// The incoming QoS 2 table was full and forgot `count` ids from `first` before their
    /// PUBREL (docs/DELIVERY.md): a later re-send of one of them would be delivered again.
    RxQos2Evicted {
        first: u16,
        count: u16,
    },
}

/// The incoming QoS 2 table (`Engine::rx_qos2_stats`); counters run since init.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RxQos2Stats {
    /// Ids awaiting their PUBREL.
    pub open_ids: u32,
    /// Entries used, of `MAX_RX_QOS2`.
    pub entries_used: usize,
    /// Ids forgotten before their PUBREL to make room (each also reported by
    /// `Event::RxQos2Evicted`).
    pub evicted: u32,
    /// Messages delivered under an id held without its hash because DUP was 0: a second
    /// delivery if the broker re-sent them with DUP=0 (aedes).
    pub unverified: u32,
}

/// An application message from the broker; it borrows the input of `handle_bytes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message<'a> {
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub qos: QoS,
    pub retain: bool,
    pub dup: bool,
    pub packet_id: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Incoming<'a> {
    Message(Message<'a>),
    /// SUBACK: one granted QoS (or 0x80 = failure) per filter, in order.
    Subscribed {
        packet_id: u16,
        granted: &'a [u8],
    },
    /// A PUBLISH larger than `Config::max_rx_packet` was read past (see
    /// `Config::oversized_limit`); already acknowledged.
    Oversized(Oversized<'a>),
}

/// What is known of a PUBLISH that was read past, its payload unread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Oversized<'a> {
    /// None when the topic itself did not fit `max_rx_packet`.
    pub topic: Option<&'a str>,
    /// The whole packet's length in bytes, fixed header included.
    pub size: usize,
    pub qos: QoS,
    pub retain: bool,
    pub dup: bool,
    /// 0 at QoS 0.
    pub packet_id: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handled<'a> {
    pub consumed: usize,
    pub incoming: Option<Incoming<'a>>,
}

/// One MQTT connection's protocol state.
///
/// - **Inputs**: [`handle_bytes`](Self::handle_bytes) (bytes from the broker),
///   [`handle_timeout`](Self::handle_timeout) (the time), [`connection_lost`](Self::connection_lost).
/// - **Commands**: [`connect`](Self::connect), [`publish`](Self::publish),
///   [`subscribe`](Self::subscribe), [`unsubscribe`](Self::unsubscribe), [`ping`](Self::ping),
///   [`disconnect`](Self::disconnect).
/// - **Outputs**, polled in this order after each input or command:
///   [`pending_transmit`](Self::pending_transmit) then [`transmit_done`](Self::transmit_done),
///   [`next_deadline`](Self::next_deadline), [`poll_event`](Self::poll_event).
pub struct Engine<'b> {
    tx: &'b mut [u8],
    /// Bytes of `tx` waiting to be sent, from the start.
    tx_len: usize,
    session: Session<'b>,
    config: Config,
    state: State,
    events: Fifo<Event, EVENT_QUEUE>,
    clean_session: bool,
    /// A CONNACK accepted a clean_session=0 connection: the broker holds our session.
    had_session: bool,
    /// The CONNECT's keep-alive, in seconds as on the wire (2 bytes, where ms took 4).
    keep_alive_s: u16,
    /// The deadline of what the state waits for (None = no limit): CONNACK in AwaitConnack,
    /// the PINGRESP in Connected while a ping is outstanding, the DISCONNECT draining in
    /// Disconnecting (then the peer stopped reading: it ends anyway). One field, as no state
    /// waits for two of them.
    deadline: Option<Instant>,
    last_sent: Instant,
    last_received: Instant,
    /// A PINGREQ is asked for but not yet in tx.
    ping_unsent: bool,
    ping_outstanding: bool,
    disconnect_queued: bool,
    /// The session store, once attached (`attach_store`): every durable change goes there.
    #[cfg(feature = "store")]
    journal: Option<&'b mut (dyn crate::store::Journal + 'static)>,
    /// Incoming QoS 2 messages delivered and awaiting `rx_done` (manual acknowledgement).
    #[cfg(feature = "store")]
    awaiting: manual_ack::Awaiting,
    /// An oversized PUBLISH being read past.
    skip: Skip,
    /// Oversized PUBLISH packets read past and reported, since init.
    oversized_count: u32,
}

impl<'b> Engine<'b> {
    pub fn new(tx: &'b mut [u8], store: &'b mut [u8], config: Config) -> Engine<'b> {
        let mut slot = MaybeUninit::uninit();
        Engine::init(&mut slot, EngineParts { tx, store, config });
        // SAFETY: `init` wrote every field of the slot.
        unsafe { slot.assume_init() }
    }

    /// Builds a disconnected engine in `slot`, field by field (its session grows with the
    /// build-time capacities; see `Session::init`), so that no whole value is built on the
    /// stack first.
    pub fn init<'s>(
        slot: &'s mut MaybeUninit<Engine<'b>>,
        parts: EngineParts<'b>,
    ) -> &'s mut Engine<'b> {
        let EngineParts { tx, store, config } = parts;
        let max_window = u16::try_from(MAX_INFLIGHT).unwrap_or(u16::MAX);
        let config = Config {
            inflight_window: config.inflight_window.clamp(1, max_window),
            ..config
        };
        let engine = slot.as_mut_ptr();
        // SAFETY: `engine` points to the slot, valid for writes; each field is written once
        // through a raw projection (no reference to the partly written value; the session's
        // slot is the field's own memory, and MaybeUninit<T> has T's layout). So every field
        // is initialised when the slot is assumed so.
        let engine = unsafe {
            addr_of_mut!((*engine).tx).write(tx);
            addr_of_mut!((*engine).tx_len).write(0);
            let session = addr_of_mut!((*engine).session).cast::<MaybeUninit<Session<'b>>>();
            Session::init(&mut *session, store);
            addr_of_mut!((*engine).config).write(config);
            addr_of_mut!((*engine).state).write(State::Disconnected);
            addr_of_mut!((*engine).events).write(Fifo::new());
            addr_of_mut!((*engine).clean_session).write(true);
            addr_of_mut!((*engine).had_session).write(false);
            addr_of_mut!((*engine).keep_alive_s).write(0);
            addr_of_mut!((*engine).deadline).write(None);
            addr_of_mut!((*engine).last_sent).write(Instant(0));
            addr_of_mut!((*engine).last_received).write(Instant(0));
            addr_of_mut!((*engine).ping_unsent).write(false);
            addr_of_mut!((*engine).ping_outstanding).write(false);
            addr_of_mut!((*engine).disconnect_queued).write(false);
            #[cfg(feature = "store")]
            addr_of_mut!((*engine).journal).write(None);
            #[cfg(feature = "store")]
            addr_of_mut!((*engine).awaiting).write(manual_ack::Awaiting::new());
            addr_of_mut!((*engine).skip).write(Skip::Idle);
            addr_of_mut!((*engine).oversized_count).write(0);
            slot.assume_init_mut()
        };
        // Every field, by name: adding one fails to compile here until it is written above.
        let Engine {
            tx: _,
            tx_len: _,
            session: _,
            config: _,
            state: _,
            events: _,
            clean_session: _,
            had_session: _,
            keep_alive_s: _,
            deadline: _,
            last_sent: _,
            last_received: _,
            ping_unsent: _,
            ping_outstanding: _,
            disconnect_queued: _,
            #[cfg(feature = "store")]
                journal: _,
            #[cfg(feature = "store")]
                awaiting: _,
            skip: _,
            oversized_count: _,
        } = &*engine;
        engine
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// The keep-alive in ms (0: off); at most 65,535,000, so no overflow.
    pub(super) fn keep_alive_ms(&self) -> u32 {
        u32::from(self.keep_alive_s) * 1000
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The incoming QoS 2 table: what it holds, and how far it degraded (docs/DELIVERY.md).
    pub fn rx_qos2_stats(&self) -> RxQos2Stats {
        let (open_ids, entries_used, evicted, unverified) = self.session.rx_qos2_stats();
        RxQos2Stats {
            open_ids,
            entries_used,
            evicted,
            unverified,
        }
    }

    /// The tx buffer's size: the largest packet that can ever be sent.
    pub fn tx_capacity(&self) -> usize {
        self.tx.len()
    }

    /// Renewals or stored packets still wait for room in tx on this connection.
    pub fn has_unsent(&self) -> bool {
        self.session.resubscribe_pending().is_some() || self.session.next_unsent(0).is_some()
    }

    /// Oversized PUBLISH packets read past and reported (`Incoming::Oversized`) since init.
    pub fn oversized_count(&self) -> u32 {
        self.oversized_count
    }

    /// Caps `Config::max_rx_packet` at the receive buffer's size: nothing the engine waits
    /// for may be larger than what the caller can hold.
    pub(crate) fn limit_rx_packet(&mut self, rx_len: usize) {
        self.config.max_rx_packet = self.config.max_rx_packet.min(rx_len);
    }

    /// Outgoing QoS 1/2 messages not yet complete.
    pub fn inflight(&self) -> usize {
        self.session.inflight()
    }

    /// SUBSCRIBE and UNSUBSCRIBE packets awaiting SUBACK or UNSUBACK.
    pub fn awaiting_subacks(&self) -> usize {
        self.session.pending_sub_count()
    }

    /// A PINGREQ is queued or awaits its PINGRESP.
    pub fn ping_outstanding(&self) -> bool {
        self.ping_unsent || self.ping_outstanding
    }

    /// Ends the connection: nothing in tx goes out, every stored packet goes out again.
    pub(super) fn finish(&mut self, reason: Option<Error>) {
        // The broker had our PUBRELs if it closed the connection or let an ack time out.
        let broker_had_it = matches!(reason, Some(Error::PeerClosed | Error::AckTimeout));
        self.enter_disconnected(broker_had_it);
        self.push_event(Event::Disconnected { reason });
    }

    pub(super) fn enter_disconnected(&mut self, broker_had_it: bool) {
        self.state = State::Disconnected;
        self.tx_len = 0;
        self.deadline = None;
        self.ping_unsent = false;
        self.ping_outstanding = false;
        self.disconnect_queued = false;
        self.skip = Skip::Idle;
        self.session
            .mark_all_for_resend(self.config.pubrel_max_connections, broker_had_it);
    }
}
