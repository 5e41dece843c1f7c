//! Fault injection: the client over a network that, from a seed, drops connections (also in
//! the middle of a packet), answers WouldBlock, accepts partial writes, splits reads, refuses
//! TCP connects and stalls the broker. Behind it, a broker model with a persistent session does
//! the broker's side of QoS 1 and QoS 2 in both directions.
//!
//! Every seed must show: every QoS 1 message delivered at least once, every QoS 2 message
//! exactly once, and per topic the first deliveries in publish order, both ways.
//!
//! `cargo test --test faults` runs a handful of seeds. More: `MQE_FAULT_SEEDS=200` (seeds
//! 1..=200); one: `MQE_FAULT_SEED=17`. A failing seed is printed.
#![cfg(all(feature = "qos2", feature = "reconnect"))]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use embedded_nal::{nb, AddrType, Dns, TcpClientStack, TcpError, TcpErrorKind};
use mqtt_engine::client::{Client, Dispatch, Endpoint, ReconnectPolicy};
use mqtt_engine::engine::{Config, ConnectOptions, Engine};
use mqtt_engine::time::Instant;
use mqtt_engine::wire::QoS;
use mqtt_engine::Error;

/// Messages each way per QoS level.
const MESSAGES_PER_QOS: usize = 2_000;
/// Connection drops every seed must survive at least.
const MIN_DROPS: usize = 100;
const DEFAULT_SEEDS: u64 = 64;
/// Simulation steps per seed; a seed that needs more has stopped making progress.
const MAX_STEPS: usize = 3_000_000;
const TOPICS_PER_QOS: usize = 2;
const BROKER_WINDOW: usize = 4;

// --- a seeded random source (splitmix64) ---

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability `per_million` / 1,000,000.
    fn chance(&mut self, per_million: u64) -> bool {
        self.below(1_000_000) < per_million
    }
}

// --- fault rates (per million calls) ---

const DROP_PER_CALL: u64 = 10_000;
const WOULD_BLOCK: u64 = 150_000;
const PARTIAL_WRITE: u64 = 300_000;
const SPLIT_READ: u64 = 400_000;
const STALL: u64 = 2_000;
const CONNECT_FAIL: u64 = 50_000;
const CONNECT_WOULD_BLOCK: u64 = 200_000;

#[derive(Debug, Clone, Copy, PartialEq)]
struct NetError;

impl TcpError for NetError {
    fn kind(&self) -> TcpErrorKind {
        TcpErrorKind::Other
    }
}

/// One message the broker delivered (or the client received): topic and sequence number.
type Delivery = (String, u32);

/// What an outbound message waits for.
#[derive(Clone, Copy, Debug, PartialEq)]
enum OutStage {
    Puback,
    Pubrec,
    Pubcomp,
}

struct OutMsg {
    id: u16,
    qos: u8,
    stage: OutStage,
    topic: String,
    seq: u32,
}

/// The broker's side, with one persistent session (clean_session = 0).
#[derive(Default)]
struct Broker {
    session: bool,
    /// CONNECT seen on the current connection.
    connected: bool,
    /// Incoming QoS 2 ids received and not yet released: delivered once, never again.
    rx_qos2: BTreeSet<u16>,
    delivered: Vec<(Delivery, u8)>,
    /// What the broker publishes to the client, in order; `next_out` is the next to start.
    outbound: Vec<(String, u32, u8)>,
    next_out: usize,
    inflight: Vec<OutMsg>,
    next_id: u16,
}

impl Broker {
    fn outbound_done(&self) -> bool {
        self.next_out == self.outbound.len() && self.inflight.is_empty()
    }

    fn allocate_id(&mut self) -> u16 {
        loop {
            self.next_id = self.next_id.wrapping_add(1).max(1);
            if !self.inflight.iter().any(|m| m.id == self.next_id) {
                return self.next_id;
            }
        }
    }

    /// Handles one complete packet from the client; appends the answers to `out`.
    fn handle(&mut self, packet: &[u8], out: &mut Vec<u8>) {
        let kind = packet[0];
        let body = &packet[header_len(packet)..];
        if kind != 0x10 && !self.connected {
            panic!("packet {kind:#04X} before CONNECT");
        }
        match kind {
            0x10 => {
                assert!(!self.connected, "second CONNECT");
                assert_eq!(&body[..7], b"\x00\x04MQTT\x04", "protocol name and level");
                let clean = body[7] & 0x02 != 0;
                assert!(!clean, "this client keeps its session");
                let present = self.session;
                self.session = true;
                self.connected = true;
                out.extend([0x20, 0x02, present as u8, 0x00]);
                // Resume: what the client has not acknowledged goes again, in order.
                for m in &self.inflight {
                    match m.stage {
                        OutStage::Puback | OutStage::Pubrec => {
                            out.extend(publish(&m.topic, m.seq, m.qos, m.id, true))
                        }
                        OutStage::Pubcomp => {
                            out.extend([0x62, 0x02, (m.id >> 8) as u8, m.id as u8])
                        }
                    }
                }
                self.top_up(out);
            }
            k if k & 0xF0 == 0x30 => {
                let qos = (k >> 1) & 0x03;
                let topic_len = u16::from_be_bytes([body[0], body[1]]) as usize;
                let topic = std::str::from_utf8(&body[2..2 + topic_len])
                    .unwrap()
                    .to_owned();
                let mut rest = &body[2 + topic_len..];
                let mut id = 0;
                if qos > 0 {
                    id = u16::from_be_bytes([rest[0], rest[1]]);
                    assert_ne!(id, 0);
                    rest = &rest[2..];
                }
                let seq = std::str::from_utf8(rest).unwrap().parse::<u32>().unwrap();
                match qos {
                    1 => {
                        self.delivered.push(((topic, seq), 1));
                        out.extend([0x40, 0x02, (id >> 8) as u8, id as u8]);
                    }
                    2 => {
                        if self.rx_qos2.insert(id) {
                            self.delivered.push(((topic, seq), 2));
                        } else {
                            assert!(k & 0x08 != 0, "a repeated QoS 2 PUBLISH carries DUP");
                        }
                        out.extend([0x50, 0x02, (id >> 8) as u8, id as u8]);
                    }
                    _ => panic!("unexpected QoS {qos}"),
                }
            }
            0x62 => {
                let id = u16::from_be_bytes([body[0], body[1]]);
                self.rx_qos2.remove(&id);
                out.extend([0x70, 0x02, body[0], body[1]]);
            }
            0x40 | 0x50 | 0x70 => {
                let id = u16::from_be_bytes([body[0], body[1]]);
                let index = self.inflight.iter().position(|m| m.id == id);
                let Some(index) = index else {
                    // An ack repeated after a reconnect for something already finished.
                    return;
                };
                let m = &mut self.inflight[index];
                match (kind, m.stage) {
                    (0x40, OutStage::Puback) | (0x70, OutStage::Pubcomp) => {
                        self.inflight.remove(index);
                        self.top_up(out);
                    }
                    (0x50, OutStage::Pubrec | OutStage::Pubcomp) => {
                        m.stage = OutStage::Pubcomp;
                        out.extend([0x62, 0x02, body[0], body[1]]);
                    }
                    other => panic!("ack {other:?} for id {id}"),
                }
            }
            0xC0 => out.extend([0xD0, 0x00]),
            0xE0 => {}
            other => panic!("unexpected packet {other:#04X}"),
        }
    }

    /// Starts outbound messages while the window has room.
    fn top_up(&mut self, out: &mut Vec<u8>) {
        while self.inflight.len() < BROKER_WINDOW && self.next_out < self.outbound.len() {
            let (topic, seq, qos) = self.outbound[self.next_out].clone();
            self.next_out += 1;
            let id = self.allocate_id();
            out.extend(publish(&topic, seq, qos, id, false));
            let stage = if qos == 1 {
                OutStage::Puback
            } else {
                OutStage::Pubrec
            };
            self.inflight.push(OutMsg {
                id,
                qos,
                stage,
                topic,
                seq,
            });
        }
    }
}

fn remaining_length(packet: &[u8]) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for i in 0..4 {
        let byte = *packet.get(1 + i)?;
        value |= ((byte & 0x7F) as usize) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, 2 + i));
        }
    }
    panic!("remaining length longer than 4 bytes");
}

fn header_len(packet: &[u8]) -> usize {
    remaining_length(packet).unwrap().1
}

fn publish(topic: &str, seq: u32, qos: u8, id: u16, dup: bool) -> Vec<u8> {
    let payload = seq.to_string();
    let body_len = 2 + topic.len() + 2 + payload.len();
    let mut out = vec![
        0x30 | (qos << 1) | if dup { 0x08 } else { 0 },
        body_len as u8,
    ];
    out.extend((topic.len() as u16).to_be_bytes());
    out.extend(topic.as_bytes());
    out.extend(id.to_be_bytes());
    out.extend(payload.as_bytes());
    out
}

/// The network between the client and the broker model, failing at random.
struct FaultNet {
    rng: Rng,
    now: u32,
    next_socket: u32,
    /// The socket connected to the broker, and whether the path has broken.
    live: Option<u32>,
    broken: bool,
    from_client: Vec<u8>,
    to_client: VecDeque<u8>,
    stalled_until: u32,
    broker: Broker,
    drops: usize,
    stalls: usize,
    would_blocks: usize,
}

impl FaultNet {
    fn new(seed: u64) -> Self {
        FaultNet {
            rng: Rng(seed),
            now: 0,
            next_socket: 0,
            live: None,
            broken: false,
            from_client: Vec::new(),
            to_client: VecDeque::new(),
            stalled_until: 0,
            broker: Broker::default(),
            drops: 0,
            stalls: 0,
            would_blocks: 0,
        }
    }

    fn stalled(&self) -> bool {
        (self.stalled_until.wrapping_sub(self.now) as i32) > 0
    }

    /// The broker handles every complete packet it has (unless stalled).
    fn run_broker(&mut self) {
        if self.stalled() || self.broken || self.live.is_none() {
            return;
        }
        let mut out = Vec::new();
        while let Some((len, header)) = remaining_length(&self.from_client) {
            if self.from_client.len() < header + len {
                break;
            }
            let packet: Vec<u8> = self.from_client.drain(..header + len).collect();
            self.broker.handle(&packet, &mut out);
        }
        self.to_client.extend(out);
    }

    /// The path breaks: what is in flight either way is lost, a partial packet included.
    fn cut(&mut self) {
        self.broken = true;
        self.drops += 1;
        self.from_client.clear();
        self.to_client.clear();
        self.broker.connected = false;
    }

    fn is_live(&self, socket: &u32) -> bool {
        self.live == Some(*socket) && !self.broken
    }
}

impl TcpClientStack for FaultNet {
    type TcpSocket = u32;
    type Error = NetError;

    fn socket(&mut self) -> Result<u32, NetError> {
        self.next_socket += 1;
        Ok(self.next_socket)
    }

    fn connect(&mut self, socket: &mut u32, _remote: SocketAddr) -> nb::Result<(), NetError> {
        if self.rng.chance(CONNECT_WOULD_BLOCK) {
            return Err(nb::Error::WouldBlock);
        }
        if self.rng.chance(CONNECT_FAIL) || self.stalled() {
            return Err(nb::Error::Other(NetError));
        }
        // One connection at a time: the client closed the previous socket first.
        assert!(self.live.is_none(), "a second live connection");
        self.live = Some(*socket);
        self.broken = false;
        self.from_client.clear();
        self.to_client.clear();
        self.broker.connected = false;
        Ok(())
    }

    fn send(&mut self, socket: &mut u32, buffer: &[u8]) -> nb::Result<usize, NetError> {
        if !self.is_live(socket) {
            return Err(nb::Error::Other(NetError));
        }
        if self.rng.chance(DROP_PER_CALL) {
            // Some bytes reach the broker before the cut: whole packets it acts on (their
            // answers are lost), and maybe a packet cut in half.
            let n = self.rng.below(buffer.len() as u64 + 1) as usize;
            self.from_client.extend_from_slice(&buffer[..n]);
            self.run_broker();
            self.cut();
            return Err(nb::Error::Other(NetError));
        }
        if self.rng.chance(WOULD_BLOCK) {
            self.would_blocks += 1;
            return Err(nb::Error::WouldBlock);
        }
        let n = if self.rng.chance(PARTIAL_WRITE) {
            1 + self.rng.below(buffer.len() as u64) as usize
        } else {
            buffer.len()
        };
        self.from_client.extend_from_slice(&buffer[..n]);
        self.run_broker();
        Ok(n)
    }

    fn receive(&mut self, socket: &mut u32, buffer: &mut [u8]) -> nb::Result<usize, NetError> {
        if !self.is_live(socket) {
            return Err(nb::Error::Other(NetError));
        }
        if self.rng.chance(STALL) {
            self.stalls += 1;
            self.stalled_until = self.now.wrapping_add(500 + self.rng.below(4_000) as u32);
        }
        if self.rng.chance(DROP_PER_CALL) {
            self.cut();
            return match self.rng.below(2) {
                0 => Ok(0),
                _ => Err(nb::Error::Other(NetError)),
            };
        }
        self.run_broker();
        if self.stalled() || self.to_client.is_empty() || self.rng.chance(WOULD_BLOCK) {
            self.would_blocks += 1;
            return Err(nb::Error::WouldBlock);
        }
        let mut n = buffer.len().min(self.to_client.len());
        if self.rng.chance(SPLIT_READ) {
            n = 1 + self.rng.below(n as u64) as usize;
        }
        for (slot, byte) in buffer.iter_mut().zip(self.to_client.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }

    fn close(&mut self, socket: u32) -> Result<(), NetError> {
        if self.live == Some(socket) {
            if !self.broken {
                // The client hung up by itself (a timeout): the broker sees the close.
                self.from_client.clear();
                self.to_client.clear();
            }
            self.live = None;
            self.broken = false;
            self.broker.connected = false;
        }
        Ok(())
    }
}

impl Dns for FaultNet {
    type Error = NetError;

    fn get_host_by_name(&mut self, _h: &str, _t: AddrType) -> nb::Result<IpAddr, NetError> {
        Ok(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    fn get_host_by_address(&mut self, _a: IpAddr, _r: &mut [u8]) -> nb::Result<usize, NetError> {
        Err(nb::Error::Other(NetError))
    }
}

/// Per topic: every message of `published` arrived (exactly once where `exactly_once`), and
/// first arrivals keep publish order.
fn check_deliveries(what: &str, published: &[(Delivery, u8)], got: &[(Delivery, u8)]) {
    let mut counts: BTreeMap<&Delivery, usize> = BTreeMap::new();
    let mut last_first: BTreeMap<&str, u32> = BTreeMap::new();
    for (d, qos) in got {
        let n = counts.entry(d).or_default();
        *n += 1;
        if *n == 1 {
            let last = last_first.entry(d.0.as_str()).or_insert(0);
            assert!(
                d.1 > *last,
                "{what}: {} #{} first arrived after #{} (order broken)",
                d.0,
                d.1,
                last
            );
            *last = d.1;
        }
        assert!(*qos == 1 || *qos == 2);
    }
    let (mut lost, mut dup2) = (0, 0);
    for (d, qos) in published {
        match counts.get(d).copied().unwrap_or(0) {
            0 => lost += 1,
            1 => {}
            _ if *qos == 2 => dup2 += 1,
            _ => {}
        }
    }
    assert_eq!(lost, 0, "{what}: messages lost");
    assert_eq!(dup2, 0, "{what}: QoS 2 messages delivered more than once");
    assert_eq!(counts.len(), published.len(), "{what}: unknown messages");
}

fn messages(prefix: &str) -> Vec<(Delivery, u8)> {
    let mut out = Vec::new();
    let mut seq = [0u32; 2 * TOPICS_PER_QOS];
    for i in 0..2 * MESSAGES_PER_QOS {
        let qos = 1 + (i % 2) as u8;
        let slot = (qos as usize - 1) * TOPICS_PER_QOS + (i / 2) % TOPICS_PER_QOS;
        seq[slot] += 1;
        out.push((
            (
                format!("{prefix}/q{qos}/{}", slot % TOPICS_PER_QOS),
                seq[slot],
            ),
            qos,
        ));
    }
    out
}

struct Outcome {
    drops: usize,
    stalls: usize,
    steps: usize,
}

fn run_seed(seed: u64) -> Outcome {
    let mut rx = vec![0u8; 256];
    let mut tx = vec![0u8; 256];
    let mut store = vec![0u8; 2048];
    let config = Config {
        inflight_window: 8,
        connect_timeout_ms: 3_000,
        ack_timeout_ms: 2_000,
        ping_timeout_ms: 0,
        max_rx_packet: rx.len(),
        pubrel_max_connections: mqtt_engine::engine::DEFAULT_PUBREL_MAX_CONNECTIONS,
        oversized_limit: mqtt_engine::engine::DEFAULT_OVERSIZED_LIMIT,
    };
    let engine = Engine::new(&mut tx, &mut store, config);
    let connect = ConnectOptions {
        client_id: "fault",
        keep_alive_s: 5,
        clean_session: false,
        username: None,
        password: None,
        will: None,
    };
    let mut net = FaultNet::new(seed);
    let to_client = messages("down");
    net.broker.outbound = to_client
        .iter()
        .map(|((t, s), q)| (t.clone(), *s, *q))
        .collect();
    let endpoint = Endpoint {
        host: "127.0.0.1",
        port: 1883,
    };
    let mut client = Client::new(net, engine, &mut rx, endpoint, connect);
    client.set_reconnect(ReconnectPolicy {
        enabled: true,
        min_ms: 10,
        max_ms: 500,
    });
    client.mix_entropy(seed as u32);

    let to_broker = messages("up");
    let mut next = 0;
    let mut received: Vec<(Delivery, u8)> = Vec::new();
    let mut now = Instant(0xFFFF_0000u32.wrapping_add(seed as u32)); // wraps during the run
    client.connect(now).unwrap();
    for step in 0..MAX_STEPS {
        let advance = client.stack_mut().rng.below(15) as u32;
        now = now.add_ms(advance);
        client.stack_mut().now = now.0;
        while let Some(((topic, seq), qos)) = to_broker.get(next) {
            let qos = if *qos == 1 {
                QoS::AtLeastOnce
            } else {
                QoS::ExactlyOnce
            };
            match client.publish(now, topic, seq.to_string().as_bytes(), qos, false) {
                Ok(_) => next += 1,
                Err(Error::Full) => break,
                Err(e) => panic!("publish: {e:?}"),
            }
        }
        for _ in 0..1_000 {
            let Some(dispatch) = client.poll_once(now) else {
                break;
            };
            if let Dispatch::Message(m) = dispatch {
                let window = client.rx_window();
                let topic = String::from_utf8(window[m.topic].to_vec()).unwrap();
                let payload = std::str::from_utf8(&window[m.payload]).unwrap();
                received.push(((topic, payload.parse().unwrap()), m.qos as u8));
            }
        }
        let net = client.stack();
        if next == to_broker.len() && client.engine().inflight() == 0 && net.broker.outbound_done()
        {
            check_deliveries("client -> broker", &to_broker, &net.broker.delivered);
            check_deliveries("broker -> client", &to_client, &received);
            return Outcome {
                drops: net.drops,
                stalls: net.stalls,
                steps: step,
            };
        }
    }
    let net = client.stack();
    panic!(
        "no progress: published {next}, in flight {}, broker sent {} of {}, drops {}",
        client.engine().inflight(),
        net.broker.next_out,
        net.broker.outbound.len(),
        net.drops
    );
}

fn seeds() -> Vec<u64> {
    if let Ok(one) = std::env::var("MQE_FAULT_SEED") {
        return vec![one.parse().expect("MQE_FAULT_SEED is a number")];
    }
    let count = std::env::var("MQE_FAULT_SEEDS")
        .ok()
        .map(|n| n.parse().expect("MQE_FAULT_SEEDS is a number"))
        .unwrap_or(DEFAULT_SEEDS);
    (1..=count).collect()
}

#[test]
fn no_message_is_lost_or_duplicated_under_faults() {
    for seed in seeds() {
        let result = std::panic::catch_unwind(|| run_seed(seed));
        match result {
            Ok(o) => {
                eprintln!(
                    "seed {seed}: ok, {} drops, {} stalls, {} steps",
                    o.drops, o.stalls, o.steps
                );
                assert!(
                    o.drops >= MIN_DROPS,
                    "seed {seed}: only {} drops, fewer than {MIN_DROPS}",
                    o.drops
                );
            }
            Err(panic) => {
                eprintln!("FAILED seed {seed}: reproduce with MQE_FAULT_SEED={seed} cargo test --test faults");
                std::panic::resume_unwind(panic);
            }
        }
    }
}
