//! A scripted broker around one engine: feeds broker bytes in chosen chunks (as a
//! client's rx buffer would), collects what the engine sends, its events and messages.
#![allow(dead_code)]

use mqtt_engine::engine::{Config, ConnectOptions, Engine, Event, Handled, Incoming, State};
use mqtt_engine::time::Instant;
use mqtt_engine::wire::QoS;

/// A message or SUBACK the engine handed back, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Got {
    Message {
        topic: String,
        payload: Vec<u8>,
        qos: QoS,
        retain: bool,
        dup: bool,
        packet_id: u16,
    },
    Subscribed {
        packet_id: u16,
        granted: Vec<u8>,
    },
    /// A PUBLISH larger than max_rx_packet, read past.
    Oversized {
        topic: Option<String>,
        size: usize,
        qos: QoS,
        packet_id: u16,
    },
}

pub fn config() -> Config {
    Config {
        inflight_window: 8,
        connect_timeout_ms: 10_000,
        ack_timeout_ms: 0,
        ping_timeout_ms: 0,
        max_rx_packet: 1024,
        pubrel_max_connections: mqtt_engine::engine::DEFAULT_PUBREL_MAX_CONNECTIONS,
        oversized_limit: mqtt_engine::engine::DEFAULT_OVERSIZED_LIMIT,
    }
}

pub fn opts(client_id: &str, clean_session: bool) -> ConnectOptions<'_> {
    ConnectOptions {
        client_id,
        keep_alive_s: 60,
        clean_session,
        username: None,
        password: None,
        will: None,
    }
}

fn leak(len: usize) -> &'static mut [u8] {
    Box::leak(vec![0u8; len].into_boxed_slice())
}

/// How broker bytes are cut before they reach the engine.
#[derive(Clone, Copy, Debug)]
pub enum Split {
    Whole,
    Bytewise,
    /// Pseudo-random chunk sizes 1..=7 from this seed.
    Random(u64),
}

pub struct Broker {
    pub engine: Engine<'static>,
    pub now: Instant,
    /// Bytes received but not yet consumed by the engine.
    pub rx: Vec<u8>,
    /// Everything the engine sent, in order, not yet taken by `sent()`.
    pub wire: Vec<u8>,
    pub events: Vec<Event>,
    pub got: Vec<Got>,
    pub split: Split,
    rng: u64,
}

pub const CONNACK_OK: [u8; 4] = [0x20, 0x02, 0x00, 0x00];
pub const CONNACK_PRESENT: [u8; 4] = [0x20, 0x02, 0x01, 0x00];

impl Broker {
    pub fn new(config: Config) -> Broker {
        Broker::with_buffers(config, 1024, 4096)
    }

    pub fn with_buffers(config: Config, tx_len: usize, store_len: usize) -> Broker {
        Broker {
            engine: Engine::new(leak(tx_len), leak(store_len), config),
            now: Instant(1_000),
            rx: Vec::new(),
            wire: Vec::new(),
            events: Vec::new(),
            got: Vec::new(),
            split: Split::Whole,
            rng: 0,
        }
    }

    pub fn start_at(mut self, now: u32) -> Broker {
        self.now = Instant(now);
        self
    }

    pub fn advance(&mut self, ms: u32) {
        self.now = self.now.add_ms(ms);
    }

    /// Moves everything in tx to `wire` and all events to `events`.
    pub fn pump(&mut self) {
        for _ in 0..1000 {
            let pending = self.engine.pending_transmit().to_vec();
            if pending.is_empty() {
                break;
            }
            self.wire.extend_from_slice(&pending);
            self.engine.transmit_done(self.now, pending.len());
        }
        while let Some(e) = self.engine.poll_event() {
            self.events.push(e);
        }
    }

    /// The bytes sent since the last call.
    pub fn sent(&mut self) -> Vec<u8> {
        self.pump();
        std::mem::take(&mut self.wire)
    }

    pub fn take_events(&mut self) -> Vec<Event> {
        self.pump();
        std::mem::take(&mut self.events)
    }

    pub fn take_got(&mut self) -> Vec<Got> {
        std::mem::take(&mut self.got)
    }

    fn record(&mut self, handled: Handled<'_>) -> usize {
        match handled.incoming {
            Some(Incoming::Message(m)) => self.got.push(Got::Message {
                topic: m.topic.to_string(),
                payload: m.payload.to_vec(),
                qos: m.qos,
                retain: m.retain,
                dup: m.dup,
                packet_id: m.packet_id,
            }),
            Some(Incoming::Subscribed { packet_id, granted }) => self.got.push(Got::Subscribed {
                packet_id,
                granted: granted.to_vec(),
            }),
            Some(Incoming::Oversized(o)) => self.got.push(Got::Oversized {
                topic: o.topic.map(str::to_string),
                size: o.size,
                qos: o.qos,
                packet_id: o.packet_id,
            }),
            None => {}
        }
        handled.consumed
    }

    /// Handles what `rx` holds, draining tx and events as a client would.
    fn process(&mut self) {
        for _ in 0..10_000 {
            if self.rx.is_empty() {
                return;
            }
            let rx = std::mem::take(&mut self.rx);
            let handled = self.engine.handle_bytes(self.now, &rx);
            assert!(handled.consumed <= rx.len());
            let consumed = self.record(handled);
            self.rx = rx[consumed..].to_vec();
            if consumed == 0 {
                let before = (self.engine.pending_transmit().len(), self.events.len());
                self.pump();
                let after = (self.engine.pending_transmit().len(), self.events.len());
                if before == after {
                    return; // waits for more bytes
                }
            }
        }
        panic!("engine made no progress");
    }

    fn next_chunk(&mut self, left: usize) -> usize {
        match self.split {
            Split::Whole => left,
            Split::Bytewise => 1,
            Split::Random(seed) => {
                if self.rng == 0 {
                    self.rng = seed | 1;
                }
                self.rng ^= self.rng << 13;
                self.rng ^= self.rng >> 7;
                self.rng ^= self.rng << 17;
                (1 + (self.rng % 7) as usize).min(left)
            }
        }
    }

    /// The broker sends `bytes`; they arrive cut as `split` says.
    pub fn recv(&mut self, bytes: &[u8]) {
        let mut at = 0;
        while at < bytes.len() {
            let n = self.next_chunk(bytes.len() - at);
            self.rx.extend_from_slice(&bytes[at..at + n]);
            at += n;
            self.process();
        }
        self.pump();
    }

    /// Feeds `bytes` in one call and returns what handle_bytes said (for fault tests).
    pub fn handle_once(&mut self, bytes: &[u8]) -> (usize, Option<Got>) {
        let handled = self.engine.handle_bytes(self.now, bytes);
        let before = self.got.len();
        let consumed = self.record(handled);
        let got = (self.got.len() > before).then(|| self.got.pop().unwrap());
        self.pump();
        (consumed, got)
    }

    /// Like `handle_once` but leaves tx and events alone (for back-pressure tests).
    pub fn handle_once_no_pump(&mut self, bytes: &[u8]) -> (usize, Option<Got>) {
        let handled = self.engine.handle_bytes(self.now, bytes);
        let before = self.got.len();
        let consumed = self.record(handled);
        let got = (self.got.len() > before).then(|| self.got.pop().unwrap());
        (consumed, got)
    }

    pub fn tick(&mut self) {
        self.engine.handle_timeout(self.now);
        self.pump();
    }

    pub fn connect(&mut self, opts: &ConnectOptions) -> Vec<u8> {
        self.engine.connect(self.now, opts).unwrap();
        assert_eq!(self.engine.state(), State::AwaitConnack);
        self.sent()
    }

    /// connect + CONNACK accepted; returns the CONNECT bytes and what followed it.
    pub fn connect_ok(&mut self, opts: &ConnectOptions, connack: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let connect = self.connect(opts);
        self.recv(connack);
        assert_eq!(self.engine.state(), State::Connected);
        (connect, self.sent())
    }

    /// A clean connection with client id "c".
    pub fn connected(config: Config) -> Broker {
        let mut b = Broker::new(config);
        b.connect_ok(&opts("c", true), &CONNACK_OK);
        assert_eq!(
            b.take_events(),
            vec![Event::Connected {
                session_present: false
            }]
        );
        b
    }

    pub fn publish(&mut self, topic: &str, payload: &[u8], qos: QoS, retain: bool) -> Option<u16> {
        self.engine
            .publish(self.now, topic, payload, qos, retain)
            .unwrap()
    }
}

/// A PUBLISH from the broker (or the engine): 0x30 | flags, then the fields.
pub fn publish_bytes(flags: u8, topic: &str, packet_id: Option<u16>, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    body.extend_from_slice(topic.as_bytes());
    if let Some(id) = packet_id {
        body.extend_from_slice(&id.to_be_bytes());
    }
    body.extend_from_slice(payload);
    let mut out = vec![0x30 | flags];
    out.extend_from_slice(&remaining_length(body.len()));
    out.extend_from_slice(&body);
    out
}

/// The variable-length encoding of §2.2.3, written out independently of the engine.
pub fn remaining_length(mut len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut byte = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if len == 0 {
            return out;
        }
    }
}

pub fn ack(kind: u8, packet_id: u16) -> Vec<u8> {
    let [hi, lo] = packet_id.to_be_bytes();
    vec![kind, 0x02, hi, lo]
}

pub const PUBACK: u8 = 0x40;
pub const PUBREC: u8 = 0x50;
pub const PUBREL: u8 = 0x62;
pub const PUBCOMP: u8 = 0x70;
pub const UNSUBACK: u8 = 0xB0;
