//! The engine target: an arbitrary broker byte stream, split arbitrarily, interleaved with
//! clock steps (jumps and wraps included) and API commands, over the sans-IO engine.

use std::collections::{BTreeMap, BTreeSet};

use mqtt_engine::engine::{
    Config, ConnectOptions, Engine, Event, Incoming, State, DEFAULT_OVERSIZED_LIMIT,
    DEFAULT_PUBREL_MAX_CONNECTIONS,
};
use mqtt_engine::time::Instant;
use mqtt_engine::wire::{QoS, Will};
use mqtt_engine::Error;

use super::client_decoder::{check_topic_name, ClientPacket};
use super::input::Input;
use super::wire_log::{ack, broker_reply, connack, publish, suback, Ledger, WireLog};

pub const TOPICS: [&str; 5] = ["a", "a/b", "sensors/1/temp", "\u{e9}/\u{fc}", "x/y/z"];

/// One packet a broker might send about `id`, valid or nearly so. With `raw_topics`, a
/// PUBLISH topic may also be arbitrary bytes (the engine target); else one of `TOPICS`.
pub fn crafted_broker_packet(input: &mut Input, id: u16, raw_topics: bool) -> Vec<u8> {
    match input.u8() % 9 {
        0 => connack(input.bool(), input.u8() % 7),
        1 => ack(0x40, id),
        2 => ack(0x50, id),
        3 => ack(0x70, id),
        4 => ack(0x62, id),
        5 => {
            let n = usize::from(input.u8() % 5);
            let codes: Vec<u8> = (0..n).map(|_| input.pick(&[0, 1, 2, 0x80, 3])).collect();
            suback(id, &codes)
        }
        6 => ack(0xB0, id),
        7 => vec![0xD0, 0x00],
        _ => {
            let flags = input.u8() & 0x0F;
            let topic = if raw_topics && input.bool() {
                input.blob(16).to_vec()
            } else {
                input.pick(&TOPICS).as_bytes().to_vec()
            };
            let payload = input.blob(64).to_vec();
            publish(flags, &topic, id, &payload)
        }
    }
}
pub const FILTERS: [&str; 6] = ["a/#", "+/b", "#", "a", "sensors/+/temp", "a/+/+"];
const CLIENT_IDS: [&str; 3] = ["dev-1", "", "a-very-long-client-id-of-thirty-bytes"];
const REASONS: [Error; 4] = [
    Error::PeerClosed,
    Error::Transport,
    Error::PingTimeout,
    Error::Malformed,
];
/// Operations per input: bounds the run time of any input.
const MAX_OPS: usize = 400;
/// Rounds of the final drain: enough for every stored message at the smallest buffers.
const DRAIN_ROUNDS: usize = 3000;

pub mod op {
    pub const CONNECT: u8 = 0;
    pub const PUBLISH: u8 = 1;
    pub const SUBSCRIBE: u8 = 2;
    pub const UNSUBSCRIBE: u8 = 3;
    pub const PING: u8 = 4;
    pub const DISCONNECT: u8 = 5;
    pub const TIME: u8 = 6;
    pub const TRANSMIT: u8 = 7;
    pub const RAW_BYTES: u8 = 8;
    pub const BROKER_PACKET: u8 = 9;
    pub const CONNECTION_LOST: u8 = 10;
    pub const GOOD_BROKER: u8 = 11;
    pub const COUNT: u8 = 12;
}

struct Harness<'b> {
    engine: Engine<'b>,
    now: Instant,
    /// Broker bytes the engine has not consumed yet.
    rx: Vec<u8>,
    wire: WireLog,
    ledger: Ledger,
    /// SUBSCRIBE (Some(filter count)) / UNSUBSCRIBE (None) awaiting their ack, by id.
    pending_subs: BTreeMap<u16, Option<usize>>,
    /// (UN)SUBSCRIBE ids answered while their packet still waited in tx (the engine matches
    /// answers by id, as it does for PUBACK): when the packet goes out later, it is not
    /// pending again.
    answered_unsent: BTreeSet<u16>,
    /// The state seen after the last step: a connection ends when it turns Disconnected.
    last_state: State,
    session_present: bool,
}

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let tx_len = 16 + usize::from(input.u8()) * 4;
    let store_len = usize::from(input.u16()) % 4096;
    let config = Config {
        inflight_window: u16::from(input.u8() % 12),
        connect_timeout_ms: u32::from(input.u16()),
        ack_timeout_ms: u32::from(input.u16()),
        ping_timeout_ms: u32::from(input.u8()) * 100,
        // At least MQE_MIN_BUFFER, as the C API demands: a SUBACK for every subscription fits.
        max_rx_packet: 64 + usize::from(input.u8()) * 8,
        pubrel_max_connections: DEFAULT_PUBREL_MAX_CONNECTIONS,
        oversized_limit: DEFAULT_OVERSIZED_LIMIT,
    };
    let start = Instant(input.u32());
    let mut tx = vec![0u8; tx_len];
    let mut store = vec![0u8; store_len];
    let mut h = Harness {
        engine: Engine::new(&mut tx, &mut store, config),
        now: start,
        rx: Vec::new(),
        wire: WireLog::default(),
        ledger: Ledger::default(),
        pending_subs: BTreeMap::new(),
        answered_unsent: BTreeSet::new(),
        last_state: State::Disconnected,
        session_present: false,
    };
    for _ in 0..MAX_OPS {
        if input.is_empty() {
            break;
        }
        h.step(&mut input);
        h.check();
    }
    h.drain_everything();
}

impl Harness<'_> {
    fn step(&mut self, input: &mut Input) {
        let op = input.u8() % op::COUNT;
        if super::trace_on() {
            eprintln!("op {op} at {:?}, state {:?}", self.now, self.engine.state());
        }
        match op {
            op::CONNECT => {
                let client_id = input.pick(&CLIENT_IDS);
                let will_payload = input.blob(16).to_vec();
                let will = input.bool().then(|| Will {
                    topic: "will/t",
                    payload: &will_payload,
                    qos: QoS::from_u8(input.u8() % 3).unwrap_or(QoS::AtMostOnce),
                    retain: input.bool(),
                });
                let opts = ConnectOptions {
                    client_id,
                    keep_alive_s: u16::from(input.u8()),
                    clean_session: input.bool(),
                    username: input.bool().then_some("user"),
                    password: input.bool().then_some(b"pw".as_slice()),
                    will,
                };
                self.connect(&opts);
            }
            op::PUBLISH => {
                let qos = QoS::from_u8(input.u8() % 3).unwrap_or(QoS::AtMostOnce);
                let topic_bytes = input.blob(12);
                let topic = if input.bool() {
                    std::str::from_utf8(topic_bytes).unwrap_or("bad")
                } else {
                    input.pick(&TOPICS)
                };
                let len = usize::from(input.u16()) % 1200;
                let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let retain = input.bool();
                self.publish(topic, &payload, qos, retain);
            }
            op::SUBSCRIBE => {
                let count = 1 + usize::from(input.u8() % 3);
                let filters: Vec<(&str, QoS)> = (0..count)
                    .map(|_| {
                        let qos = QoS::from_u8(input.u8() % 3).unwrap_or(QoS::AtMostOnce);
                        (input.pick(&FILTERS), qos)
                    })
                    .collect();
                if let Ok(id) = self.engine.subscribe(self.now, filters.iter().copied()) {
                    self.new_sub(id, Some(count));
                }
            }
            op::UNSUBSCRIBE => {
                let filter = input.pick(&FILTERS);
                if let Ok(id) = self.engine.unsubscribe(self.now, core::iter::once(filter)) {
                    self.new_sub(id, None);
                }
            }
            op::PING => {
                let _ = self.engine.ping(self.now);
            }
            op::DISCONNECT => {
                let _ = self.engine.disconnect(self.now);
            }
            op::TIME => {
                self.now = match input.u8() % 4 {
                    0 => self.now.add_ms(u32::from(input.u8())),
                    1 => self.now.add_ms(u32::from(input.u16()) * 16),
                    2 => self.now.add_ms(input.u32()),
                    _ => Instant(u32::MAX - u32::from(input.u8())),
                };
                if input.bool() {
                    self.engine.handle_timeout(self.now);
                }
                let _ = self.engine.next_deadline(self.now);
            }
            op::TRANSMIT => {
                let pending = self.engine.pending_transmit().len();
                let n = if input.bool() {
                    pending
                } else {
                    usize::from(input.u16()) % (pending + 1)
                };
                self.transmit(n);
            }
            op::RAW_BYTES => {
                let bytes = input.blob(64).to_vec();
                self.receive(&bytes);
            }
            op::BROKER_PACKET => {
                let bytes = self.broker_packet(input);
                // Split: deliver a prefix now, the rest with the next bytes.
                let cut = usize::from(input.u8()) % (bytes.len() + 1);
                self.receive(&bytes[..cut]);
                self.receive(&bytes[cut..]);
            }
            op::CONNECTION_LOST => {
                let reason = input.pick(&REASONS);
                self.engine.connection_lost(self.now, reason);
            }
            _ => {
                self.session_present = input.bool();
                self.good_broker_round();
            }
        }
        self.take_events();
    }

    fn connect(&mut self, opts: &ConnectOptions) {
        if self.engine.connect(self.now, opts).is_ok() {
            self.rx.clear();
            self.wire.new_connection();
            self.ledger.new_connection();
            self.pending_subs.clear();
            self.answered_unsent.clear();
        }
    }

    fn publish(&mut self, topic: &str, payload: &[u8], qos: QoS, retain: bool) {
        let result = self.engine.publish(self.now, topic, payload, qos, retain);
        match (result, qos) {
            (Ok(Some(id)), QoS::AtLeastOnce | QoS::ExactlyOnce) => {
                self.ledger.accept(id, topic, payload, qos as u8, retain)
            }
            (Ok(None), QoS::AtMostOnce) => {}
            (Ok(id), _) => panic!("publish at {qos:?} returned id {id:?}"),
            (Err(_), _) => {}
        }
    }

    fn new_sub(&mut self, id: u16, count: Option<usize>) {
        assert!(
            !self.ledger.contains(id),
            "(un)subscribe got in-flight id {id}"
        );
        assert!(
            self.pending_subs.insert(id, count).is_none(),
            "(un)subscribe id {id} handed out twice"
        );
    }

    /// The (UN)SUBSCRIBE an answer with `id` matches: one the test asked for or saw go out,
    /// or one the engine queued by itself (a resubscription) that is still in tx. Returns
    /// its filter count (None for UNSUBSCRIBE), or None if the engine issued no such request.
    fn take_sub_request(&mut self, id: u16) -> Option<Option<usize>> {
        let queued = self
            .wire
            .queued(self.engine.pending_transmit())
            .into_iter()
            .find_map(|packet| match packet {
                ClientPacket::Subscribe { packet_id, filters } if packet_id == id => {
                    Some(Some(filters.len()))
                }
                ClientPacket::Unsubscribe { packet_id, .. } if packet_id == id => Some(None),
                _ => None,
            });
        if queued.is_some() {
            self.answered_unsent.insert(id);
        }
        self.pending_subs.remove(&id).or(queued)
    }

    /// The first `n` pending bytes reach the broker.
    fn transmit(&mut self, n: usize) {
        let sent = self.engine.pending_transmit()[..n].to_vec();
        for packet in self.wire.feed(&sent) {
            self.ledger.on_sent(&packet);
            // The engine subscribes again by itself after a reconnect: learn those ids here.
            let (id, count) = match &packet {
                ClientPacket::Subscribe { packet_id, filters } => (*packet_id, Some(filters.len())),
                ClientPacket::Unsubscribe { packet_id, .. } => (*packet_id, None),
                _ => continue,
            };
            if !self.answered_unsent.remove(&id) {
                self.pending_subs.entry(id).or_insert(count);
            }
        }
        self.engine.transmit_done(self.now, n);
    }

    /// Broker bytes arrive; the engine consumes what it can, as a driver would.
    fn receive(&mut self, bytes: &[u8]) {
        self.rx.extend_from_slice(bytes);
        for _ in 0..1000 {
            let handled = self.engine.handle_bytes(self.now, &self.rx);
            let consumed = handled.consumed;
            assert!(consumed <= self.rx.len(), "consumed past the input");
            let mut suback = None;
            match handled.incoming {
                Some(Incoming::Message(m)) => {
                    check_topic_name(m.topic).unwrap();
                    assert!(m.qos == QoS::AtMostOnce || m.packet_id != 0);
                    assert!(consumed > 0, "a message from no bytes");
                }
                Some(Incoming::Oversized(o)) => {
                    if let Some(topic) = o.topic {
                        check_topic_name(topic).unwrap();
                    }
                    assert!(o.qos == QoS::AtMostOnce || o.packet_id != 0);
                    assert!(o.size > 0 && o.size <= DEFAULT_OVERSIZED_LIMIT);
                }
                Some(Incoming::Subscribed { packet_id, granted }) => {
                    for code in granted {
                        assert!(matches!(code, 0 | 1 | 2 | 0x80), "granted {code:#04x}");
                    }
                    suback = Some((packet_id, granted.len()));
                }
                None => {}
            }
            if let Some((packet_id, code_count)) = suback {
                assert_eq!(
                    self.take_sub_request(packet_id),
                    Some(Some(code_count)),
                    "SUBACK {packet_id} accepted for no matching SUBSCRIBE"
                );
            }
            if consumed == 0 {
                break;
            }
            self.rx.drain(..consumed);
        }
    }

    /// A broker packet, valid or nearly so, aimed at the ids the engine knows.
    fn broker_packet(&mut self, input: &mut Input) -> Vec<u8> {
        let id = self.pick_id(input);
        crafted_broker_packet(input, id, true)
    }

    fn pick_id(&mut self, input: &mut Input) -> u16 {
        let ids = self.ledger.ids();
        let subs: Vec<u16> = self.pending_subs.keys().copied().collect();
        match input.u8() % 4 {
            0 if !ids.is_empty() => ids[usize::from(input.u8()) % ids.len()],
            1 if !subs.is_empty() => subs[usize::from(input.u8()) % subs.len()],
            _ => input.u16(),
        }
    }

    /// Sends everything pending; the broker answers every packet it got, correctly.
    fn good_broker_round(&mut self) {
        let n = self.engine.pending_transmit().len();
        self.transmit(n);
        let answers: Vec<u8> = std::mem::take(&mut self.wire.unanswered)
            .iter()
            .flat_map(|p| broker_reply(p, self.session_present))
            .collect();
        self.receive(&answers);
    }

    fn take_events(&mut self) {
        while let Some(event) = self.engine.poll_event() {
            if super::trace_on() {
                eprintln!("  event {event:?}");
            }
            match event {
                // Abandoned after PUBREC: the broker owns it, so it is complete too.
                Event::PublishComplete { packet_id } | Event::PublishAbandoned { packet_id } => {
                    self.ledger.complete(packet_id)
                }
                Event::Unsubscribed { packet_id } => assert_eq!(
                    self.take_sub_request(packet_id),
                    Some(None),
                    "UNSUBACK {packet_id} accepted for no UNSUBSCRIBE"
                ),
                Event::ConnectRefused { code } => assert!((1..=5).contains(&code)),
                Event::Disconnected { .. }
                | Event::Connected { .. }
                | Event::SessionLost
                | Event::PingResponse
                | Event::RxQos2Evicted { .. } => {}
                // Event::Restored, when the library is built with the session store.
                #[allow(unreachable_patterns)]
                _ => {}
            }
        }
    }

    /// After every operation: nothing accepted has vanished, tx is sane.
    fn check(&mut self) {
        assert_eq!(
            self.engine.inflight(),
            self.ledger.len(),
            "in flight {} but accepted and not completed {:?}",
            self.engine.inflight(),
            self.ledger.ids()
        );
        let state = self.engine.state();
        if state == State::Disconnected {
            assert!(self.engine.pending_transmit().is_empty());
        }
        if state == State::Disconnected && self.last_state != State::Disconnected {
            self.rx.clear();
        }
        self.last_state = state;
        let _ = self.engine.next_deadline(self.now);
    }

    /// The end of every run: a new connection to a well-behaved broker completes every
    /// accepted message. This is what "nothing accepted is lost" means.
    fn drain_everything(&mut self) {
        if self.engine.state() != State::Disconnected {
            self.engine.connection_lost(self.now, Error::PeerClosed);
        }
        self.take_events();
        let opts = ConnectOptions {
            client_id: "d",
            keep_alive_s: 0,
            clean_session: false,
            username: None,
            password: None,
            will: None,
        };
        self.connect(&opts);
        self.session_present = true;
        for _ in 0..DRAIN_ROUNDS {
            if self.ledger.is_empty() {
                break;
            }
            self.good_broker_round();
            self.take_events();
            self.check();
            assert_eq!(
                self.engine.state(),
                State::Connected,
                "the drain connection ended"
            );
        }
        assert!(
            self.ledger.is_empty(),
            "accepted messages never completed: {:?}",
            self.ledger.ids()
        );
        assert_eq!(self.engine.inflight(), 0);
    }
}
