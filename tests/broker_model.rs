//! A broker model that sends QoS 2 messages to the engine in every way MQTT 3.1.1 allows,
//! and in the wrong ways real brokers do, each named after the broker. The guarantee checked
//! is docs/DELIVERY.md's "Incoming QoS 2: the rule": every message reaches the application
//! exactly once, or degrades exactly as documented there (and counted).
//!
//! Deterministic: every choice comes from a seeded xorshift generator written here.
#![cfg(feature = "qos2")]

mod common;

use std::collections::VecDeque;

use common::*;
use mqtt_engine::config::MAX_RX_QOS2;
use mqtt_engine::engine::{Event, RxQos2Stats};
use mqtt_engine::Error;

/// xorshift64: a tiny, seeded generator, so every run takes the same path.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// How the broker picks the id of a new message (any unused id is allowed, §2.3.1).
#[derive(Clone, Copy, Debug)]
enum Numbering {
    /// The next id after the last one (mosquitto, aedes).
    Sequential,
    /// Any free id.
    Random,
    /// The lowest free id: ids are reused as soon as their flow completed.
    LowestFree,
}

/// Where re-sends go after a reconnect, relative to new messages (§4.4 sets no order).
#[derive(Clone, Copy, Debug)]
enum ResendOrder {
    Before,
    After,
    Between,
}

#[derive(Clone, Copy, Debug)]
struct Behaviour {
    numbering: Numbering,
    order: ResendOrder,
    /// Open ids (PUBLISH sent, PUBCOMP not yet received) at most.
    window: usize,
    /// PUBRELs are held back until this many more new PUBLISH packets went out.
    pubrel_delay: usize,
    /// The connection is cut after a random 1..=this many packets (0: never).
    cut_every: u64,
    /// The client's replies reach the broker this many packets late; a cut loses them.
    reply_lag: usize,
    /// aedes: a re-sent PUBLISH carries DUP=0.
    resend_dup0: bool,
    /// aedes: after a reconnect, messages completed on the last connection are sent again.
    resend_completed: bool,
    /// Payloads repeat (n % 3): a reused id may carry the same content as before.
    repeat_payloads: bool,
}

const COMPLIANT: Behaviour = Behaviour {
    numbering: Numbering::Sequential,
    order: ResendOrder::Before,
    window: 20,
    pubrel_delay: 0,
    cut_every: 0,
    reply_lag: 0,
    resend_dup0: false,
    resend_completed: false,
    repeat_payloads: false,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// PUBLISH sent, PUBREC not yet received.
    Published,
    /// PUBREC received; PUBREL queued or sent, PUBCOMP not yet received.
    Released,
}

#[derive(Clone, Copy, Debug)]
struct Open {
    id: u16,
    msg: usize,
    phase: Phase,
}

enum Out {
    Publish { id: u16, msg: usize, dup: bool },
    Pubrel(u16),
}

struct Model {
    b: Broker,
    how: Behaviour,
    rng: Rng,
    last_id: u16,
    messages: usize,
    next_msg: usize,
    open: Vec<Open>,
    /// PUBRELs waiting for `pubrel_delay` more new messages.
    held_pubrels: VecDeque<(u16, usize)>,
    new_sent: usize,
    /// The client's replies still on their way to the broker.
    in_flight_replies: VecDeque<Vec<u8>>,
    completed_this_connection: Vec<(u16, usize)>,
    /// Deliveries per message index.
    delivered: Vec<u32>,
    evicted_events: Vec<(u16, u16)>,
    closes_full: usize,
    connections: usize,
}

impl Model {
    fn new(how: Behaviour, messages: usize, seed: u64) -> Model {
        let mut b = Broker::new(config());
        b.connect_ok(&opts("model", false), &CONNACK_OK);
        b.take_events();
        Model {
            b,
            how,
            rng: Rng(seed | 1),
            last_id: 0,
            messages,
            next_msg: 0,
            open: Vec::new(),
            held_pubrels: VecDeque::new(),
            new_sent: 0,
            in_flight_replies: VecDeque::new(),
            completed_this_connection: Vec::new(),
            delivered: vec![0; messages],
            evicted_events: Vec::new(),
            closes_full: 0,
            connections: 1,
        }
    }

    fn payload(&self, msg: usize) -> Vec<u8> {
        if self.how.repeat_payloads {
            format!("p{}", msg % 3).into_bytes()
        } else {
            format!("m{msg}").into_bytes()
        }
    }

    fn id_free(&self, id: u16) -> bool {
        id != 0 && self.open.iter().all(|o| o.id != id)
    }

    fn new_id(&mut self) -> u16 {
        match self.how.numbering {
            Numbering::Sequential => {
                let mut id = self.last_id;
                loop {
                    id = if id == u16::MAX { 1 } else { id + 1 };
                    if self.id_free(id) {
                        break;
                    }
                }
                self.last_id = id;
                id
            }
            Numbering::Random => loop {
                let id = self.rng.below(65535) as u16 + 1;
                if self.id_free(id) {
                    break id;
                }
            },
            Numbering::LowestFree => (1..=u16::MAX).find(|&id| self.id_free(id)).unwrap(),
        }
    }

    fn bytes_of(&self, out: &Out) -> Vec<u8> {
        match *out {
            Out::Publish { id, msg, dup } => {
                let flags = if dup { 0x0C } else { 0x04 };
                // The topic carries the message index, so each delivery is attributable.
                publish_bytes(flags, &format!("m/{msg}"), Some(id), &self.payload(msg))
            }
            Out::Pubrel(id) => ack(PUBREL, id),
        }
    }

    /// Sends one packet; false when the connection ended (cut by the model or the client).
    fn send(&mut self, out: Out, cut: bool) -> bool {
        let bytes = self.bytes_of(&out);
        self.b.recv(&bytes);
        for got in self.b.take_got() {
            let Got::Message { topic, payload, .. } = got else {
                panic!("only messages expected");
            };
            let msg: usize = topic.strip_prefix("m/").unwrap().parse().unwrap();
            assert_eq!(payload, self.payload(msg), "message {msg} arrived intact");
            self.delivered[msg] += 1;
        }
        let mut ended = false;
        for event in self.b.take_events() {
            match event {
                Event::RxQos2Evicted { first, count } => self.evicted_events.push((first, count)),
                Event::Disconnected { reason } => {
                    assert_eq!(
                        reason,
                        Some(Error::RxQos2Full),
                        "the only close the client makes"
                    );
                    self.closes_full += 1;
                    ended = true;
                }
                other => panic!("unexpected event {other:?}"),
            }
        }
        self.in_flight_replies.push_back(self.b.sent());
        if cut {
            self.b.engine.connection_lost(self.b.now, Error::PeerClosed);
            self.b.take_events();
            self.in_flight_replies.clear();
            return false;
        }
        while self.in_flight_replies.len() > self.how.reply_lag {
            self.take_replies();
        }
        !ended
    }

    /// The broker reads the oldest replies still on their way.
    fn take_replies(&mut self) {
        let Some(replies) = self.in_flight_replies.pop_front() else {
            return;
        };
        for reply in replies.chunks(4) {
            assert_eq!(reply.len(), 4, "only 4-byte acks expected: {replies:02x?}");
            let id = u16::from_be_bytes([reply[2], reply[3]]);
            match reply[0] {
                PUBREC => self.on_pubrec(id),
                PUBCOMP => self.on_pubcomp(id),
                other => panic!("unexpected packet {other:#04x}"),
            }
        }
    }

    fn on_pubrec(&mut self, id: u16) {
        let Some(open) = self.open.iter_mut().find(|o| o.id == id) else {
            panic!("PUBREC for id {id} the broker does not hold");
        };
        if open.phase == Phase::Published {
            open.phase = Phase::Released;
            let due = self.new_sent + self.how.pubrel_delay;
            self.held_pubrels.push_back((id, due));
        }
    }

    fn on_pubcomp(&mut self, id: u16) {
        // A PUBCOMP for an id already completed (after a repeated PUBREL) is ignored.
        if let Some(index) = self.open.iter().position(|o| o.id == id) {
            let open = self.open.remove(index);
            assert_eq!(open.phase, Phase::Released, "PUBCOMP only after PUBREL");
            self.completed_this_connection.push((open.id, open.msg));
        }
    }

    fn due_pubrel(&mut self, all: bool) -> Option<Out> {
        let &(id, due) = self.held_pubrels.front()?;
        if all || due <= self.new_sent {
            self.held_pubrels.pop_front();
            return Some(Out::Pubrel(id));
        }
        None
    }

    fn next_new(&mut self) -> Option<Out> {
        if self.next_msg >= self.messages || self.open.len() >= self.how.window {
            return None;
        }
        let msg = self.next_msg;
        self.next_msg += 1;
        let id = self.new_id();
        self.open.push(Open {
            id,
            msg,
            phase: Phase::Published,
        });
        self.new_sent += 1;
        Some(Out::Publish {
            id,
            msg,
            dup: false,
        })
    }

    /// What a broker re-sends on a resumed session: open PUBLISHes and PUBRELs (§4.4).
    fn resends(&mut self) -> VecDeque<Out> {
        let mut out = VecDeque::new();
        if self.how.resend_completed {
            // aedes: completed messages come back as new ones under their old ids.
            for (id, msg) in std::mem::take(&mut self.completed_this_connection) {
                if self.id_free(id) {
                    self.open.push(Open {
                        id,
                        msg,
                        phase: Phase::Published,
                    });
                }
            }
        }
        self.completed_this_connection.clear();
        self.held_pubrels.clear();
        for open in &self.open {
            out.push_back(match open.phase {
                Phase::Published => Out::Publish {
                    id: open.id,
                    msg: open.msg,
                    dup: !self.how.resend_dup0,
                },
                Phase::Released => Out::Pubrel(open.id),
            });
        }
        out
    }

    /// One connection: re-sends and new messages in the chosen order, until a cut, a close
    /// by the client or nothing is left to send.
    fn connection(&mut self, mut resends: VecDeque<Out>) {
        let cut_at = match self.how.cut_every {
            0 => u64::MAX,
            n => 1 + self.rng.below(n),
        };
        let mut sent = 0u64;
        for _ in 0..1_000_000 {
            let resend_first = match self.how.order {
                ResendOrder::Before => true,
                ResendOrder::After => {
                    self.next_msg >= self.messages || self.open.len() >= self.how.window
                }
                ResendOrder::Between => sent.is_multiple_of(2),
            };
            let draining = self.next_msg >= self.messages;
            let out = self
                .due_pubrel(draining && resends.is_empty())
                .or_else(|| {
                    if resend_first {
                        resends.pop_front().or_else(|| self.next_new())
                    } else {
                        self.next_new().or_else(|| resends.pop_front())
                    }
                })
                .or_else(|| self.due_pubrel(true));
            let Some(out) = out else {
                if self.in_flight_replies.is_empty() {
                    return;
                }
                // Nothing to send until the late replies arrive.
                while !self.in_flight_replies.is_empty() {
                    self.take_replies();
                }
                continue;
            };
            sent += 1;
            if !self.send(out, sent == cut_at) {
                return;
            }
        }
        panic!("connection did not finish");
    }

    fn run(&mut self) -> RxQos2Stats {
        self.connection(VecDeque::new());
        for _ in 0..10_000 {
            if self.next_msg >= self.messages && self.open.is_empty() {
                return self.b.engine.rx_qos2_stats();
            }
            self.reconnect();
        }
        panic!("the model never finished: {} open", self.open.len());
    }

    fn reconnect(&mut self) {
        self.connections += 1;
        self.b.connect_ok(&opts("model", false), &CONNACK_PRESENT);
        assert_eq!(
            self.b.take_events(),
            [Event::Connected {
                session_present: true
            }]
        );
        let resends = self.resends();
        self.connection(resends);
    }

    fn duplicates(&self) -> u32 {
        self.delivered.iter().map(|&n| n.saturating_sub(1)).sum()
    }

    fn assert_exactly_once(&self) {
        for (msg, &n) in self.delivered.iter().enumerate() {
            assert_eq!(n, 1, "message {msg} delivered {n} times");
        }
    }
}

fn run(how: Behaviour, messages: usize, seed: u64) -> (Model, RxQos2Stats) {
    let mut model = Model::new(how, messages, seed);
    let stats = model.run();
    assert_eq!(stats.open_ids, 0, "every id released at the end");
    (model, stats)
}

// ------------------------------------------------------------------ what 3.1.1 allows

#[test]
fn resends_before_after_and_between_new_messages_across_cuts() {
    for order in [
        ResendOrder::Before,
        ResendOrder::After,
        ResendOrder::Between,
    ] {
        for numbering in [
            Numbering::Sequential,
            Numbering::Random,
            Numbering::LowestFree,
        ] {
            for seed in 1..=8 {
                let how = Behaviour {
                    order,
                    numbering,
                    cut_every: 9,
                    reply_lag: (seed % 4) as usize,
                    pubrel_delay: (seed % 3) as usize,
                    ..COMPLIANT
                };
                let (model, stats) = run(how, 200, seed);
                let case = format!("{order:?} {numbering:?} seed {seed}");
                model.assert_exactly_once();
                assert!(model.connections > 10, "{case}: the cuts happened");
                assert_eq!((stats.evicted, stats.unverified), (0, 0), "{case}");
                assert_eq!(model.closes_full, 0, "{case}");
            }
        }
    }
}

#[test]
fn ids_reused_after_completion_with_the_same_content_are_new_messages() {
    let how = Behaviour {
        numbering: Numbering::LowestFree,
        window: 1,
        repeat_payloads: true,
        ..COMPLIANT
    };
    let (model, _) = run(how, 30, 7);
    model.assert_exactly_once();
    let how = Behaviour {
        cut_every: 5,
        window: 3,
        ..how
    };
    let (model, _) = run(how, 60, 8);
    model.assert_exactly_once();
}

#[test]
fn delayed_pubrels_keep_every_id_until_it_comes() {
    let how = Behaviour {
        window: 40,
        pubrel_delay: 30,
        cut_every: 50,
        reply_lag: 10,
        order: ResendOrder::After,
        ..COMPLIANT
    };
    for seed in 1..=4 {
        let (model, stats) = run(how, 300, seed);
        model.assert_exactly_once();
        assert_eq!(
            (stats.evicted, stats.unverified, model.closes_full),
            (0, 0, 0)
        );
    }
}

#[test]
fn a_burst_of_1000_sequential_open_ids_does_not_close_the_connection() {
    let how = Behaviour {
        window: 1000,
        pubrel_delay: 1000,
        ..COMPLIANT
    };
    let mut model = Model::new(how, 1000, 3);
    // The burst: 1000 PUBLISH packets before the first PUBREL.
    model.connection(VecDeque::new());
    assert_eq!(model.connections, 1);
    assert_eq!(model.closes_full, 0);
    model.assert_exactly_once();
    let stats = model.b.engine.rx_qos2_stats();
    assert_eq!((stats.open_ids, stats.evicted, stats.unverified), (0, 0, 0));
    // Across a cut in the middle of the burst, with every re-send after the new messages.
    let how = Behaviour {
        cut_every: 1500,
        reply_lag: 100,
        order: ResendOrder::After,
        ..how
    };
    let (model, stats) = run(how, 3000, 5);
    model.assert_exactly_once();
    assert_eq!(
        (stats.evicted, stats.unverified, model.closes_full),
        (0, 0, 0)
    );
}

#[test]
fn a_burst_of_random_ids_closes_with_rx_qos2_full_and_loses_nothing() {
    let how = Behaviour {
        numbering: Numbering::Random,
        window: 1000,
        pubrel_delay: 1000,
        ..COMPLIANT
    };
    let (model, stats) = run(how, 1000, 11);
    // Documented: one close per MAX_RX_QOS2 open ids; re-sends come before new messages
    // here, so nothing is evicted.
    model.assert_exactly_once();
    assert!(
        model.closes_full >= 1000 / MAX_RX_QOS2 - 1,
        "{}",
        model.closes_full
    );
    assert_eq!((stats.evicted, stats.unverified), (0, 0));
    // New messages first after each reconnect: stale entries are evicted, each reported, and
    // a message is delivered twice only if its evicted id was re-sent.
    let how = Behaviour {
        order: ResendOrder::After,
        cut_every: 200,
        ..how
    };
    let (model, stats) = run(how, 1000, 12);
    let reported: u32 = model
        .evicted_events
        .iter()
        .map(|&(_, n)| u32::from(n))
        .sum();
    assert_eq!(reported, stats.evicted);
    assert!(model.duplicates() <= stats.evicted);
    assert_eq!(
        model.delivered.iter().filter(|&&n| n == 0).count(),
        0,
        "nothing lost"
    );
}

// ------------------------------------------------------------------ what brokers get wrong

/// aedes re-sends with DUP=0: the content hash still recognises every re-send while the
/// open ids fit the hashed entries.
#[test]
fn aedes_resends_with_dup0_are_recognised_by_their_hash() {
    let how = Behaviour {
        resend_dup0: true,
        cut_every: 12,
        reply_lag: 5,
        window: MAX_RX_QOS2 - 1,
        ..COMPLIANT
    };
    for order in [
        ResendOrder::Before,
        ResendOrder::After,
        ResendOrder::Between,
    ] {
        let (model, stats) = run(Behaviour { order, ..how }, 300, 21);
        model.assert_exactly_once();
        assert_eq!((stats.evicted, stats.unverified), (0, 0));
    }
}

/// A cut loses the PUBRECs still on their way, so the PUBLISH packets aedes re-sends are the
/// most recent ids: those keep their hash. A 1,000-id burst with up to 40 replies lost per
/// cut is still exactly once.
#[test]
fn aedes_dup0_resends_after_a_burst_hit_the_hashed_recent_ids() {
    let how = Behaviour {
        resend_dup0: true,
        window: 1000,
        pubrel_delay: 1000,
        cut_every: 1200,
        reply_lag: 40,
        ..COMPLIANT
    };
    for seed in 1..=4 {
        let (model, stats) = run(how, 3000, 50 + seed);
        model.assert_exactly_once();
        assert!(model.connections > 2);
        assert_eq!(
            (stats.evicted, stats.unverified, model.closes_full),
            (0, 0, 0)
        );
    }
}

/// Beyond the hashed entries an id held in a run has no hash: DUP=0 makes it new. Each such
/// delivery is counted, and only those can be duplicates.
#[test]
fn aedes_dup0_resends_of_ids_without_a_hash_are_counted() {
    let how = Behaviour {
        resend_dup0: true,
        window: 400,
        pubrel_delay: 400,
        cut_every: 400,
        reply_lag: 100,
        ..COMPLIANT
    };
    let (model, stats) = run(how, 800, 31);
    assert!(stats.unverified > 0);
    assert!(model.duplicates() > 0);
    assert!(model.duplicates() <= stats.unverified);
    assert_eq!(
        model.delivered.iter().filter(|&&n| n == 0).count(),
        0,
        "nothing lost"
    );
    // The same broker with DUP=1 on its re-sends: exactly once.
    let (model, stats) = run(
        Behaviour {
            resend_dup0: false,
            ..how
        },
        800,
        31,
    );
    model.assert_exactly_once();
    assert_eq!(stats.unverified, 0);
}

/// aedes re-sends completed QoS 2 messages after a reconnect. Their ids were released by
/// PUBREL, so nothing tells them from new messages: documented, they are delivered again.
#[test]
fn aedes_resends_of_completed_messages_are_delivered_again_as_documented() {
    let how = Behaviour {
        resend_completed: true,
        resend_dup0: true,
        window: 4,
        ..COMPLIANT
    };
    let mut model = Model::new(how, 10, 41);
    model.connection(VecDeque::new());
    model.assert_exactly_once();
    model
        .b
        .engine
        .connection_lost(model.b.now, Error::PeerClosed);
    model.b.take_events();
    model.reconnect();
    // Every completed message came back, under its old id, and was delivered again.
    assert!(
        model.delivered.iter().all(|&n| n == 2),
        "{:?}",
        model.delivered
    );
}

// amqtt never sends PUBCOMP for a PUBREL it already completed: that concerns our outgoing
// QoS 2 (issue 12 §3, helper `split`); its model case belongs with that change.

/// mosquitto 2.0.11 with persistence: after a restart it restores only `max_inflight_messages`
/// (20) of a session's in-flight messages as in flight; the rest go back to its queue and are
/// sent again as PUBLISH (DUP 1), even those whose PUBREL it had already sent (MQTT-4.3.3-1;
/// docs/BROKERS.md, mosquitto-restart-resend). Exact bytes, as the soak's tap saw them for
/// ids 97 and 98. Whether the client delivers such a PUBLISH again depends only on whether the
/// PUBREL reached it: a released id carries a new message (MQTT-4.3.3-2); a held one is a
/// re-send.
fn message(packet_id: u16, payload: &[u8], dup: bool) -> Got {
    Got::Message {
        topic: "s/q2".to_string(),
        payload: payload.to_vec(),
        qos: mqtt_engine::wire::QoS::ExactlyOnce,
        retain: false,
        dup,
        packet_id,
    }
}

#[test]
fn mosquitto_restart_resends_publish_after_its_pubrel_as_documented() {
    let mut b = Broker::new(config());
    b.connect_ok(&opts("sub", false), &CONNACK_OK);
    b.take_events();
    let m97 = publish_bytes(0x04, "s/q2", Some(97), b"45");
    let m98 = publish_bytes(0x04, "s/q2", Some(98), b"46");
    assert_eq!(
        m97,
        [0x34, 0x0A, 0, 4, b's', b'/', b'q', b'2', 0, 97, b'4', b'5']
    );
    b.recv(&m97);
    b.recv(&m98);
    assert_eq!(b.sent(), [ack(PUBREC, 97), ack(PUBREC, 98)].concat());
    // PUBREL 97 reaches the client (its PUBCOMP is lost in the cut); PUBREL 98 does not.
    b.recv(&ack(PUBREL, 97));
    assert_eq!(b.sent(), ack(PUBCOMP, 97));
    assert_eq!(
        b.take_got(),
        [message(97, b"45", false), message(98, b"46", false)]
    );
    b.engine.connection_lost(b.now, Error::PeerClosed);
    b.take_events();

    // The broker restarts; on the resumed session it sends both PUBLISHes again, DUP 1.
    b.connect_ok(&opts("sub", false), &CONNACK_PRESENT);
    b.take_events();
    let again97 = publish_bytes(0x0C, "s/q2", Some(97), b"45");
    assert_eq!(again97[0], 0x3C);
    b.recv(&again97);
    b.recv(&publish_bytes(0x0C, "s/q2", Some(98), b"46"));
    assert_eq!(b.sent(), [ack(PUBREC, 97), ack(PUBREC, 98)].concat());
    let got = b.take_got();
    // 97 was released: a new message to the client, delivered again (the soak's duplicate).
    // 98 is still held with its hash: recognised, not delivered.
    assert_eq!(got, [message(97, b"45", true)]);
    let stats = b.engine.rx_qos2_stats();
    assert_eq!((stats.open_ids, stats.evicted, stats.unverified), (2, 0, 0));
    // The broker then releases both; each PUBREL is answered.
    b.recv(&[ack(PUBREL, 97), ack(PUBREL, 98)].concat());
    assert_eq!(b.sent(), [ack(PUBCOMP, 97), ack(PUBCOMP, 98)].concat());
    assert_eq!(b.engine.rx_qos2_stats().open_ids, 0);
}
