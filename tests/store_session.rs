//! The session store under the engine: a scripted session (publish QoS 1 and 2, receive QoS 2,
//! a reconnect) against a persistent broker model, with the power cut after every programmed
//! flash word. After each cut the device restores from flash, reconnects with
//! clean_session=0 and runs the script to its end. Then:
//! - every message whose `publish` returned Ok reached the broker's subscriber;
//! - no QoS 2 message reached it twice, and no incoming QoS 2 message reached the app twice;
//! - nothing that was never accepted appears.

mod store_common;
use std::collections::{BTreeMap, BTreeSet};
use store_common::{leak, opts};

use mqtt_engine::engine::{Engine, Incoming};
use mqtt_engine::store::{Geometry, Store};
use mqtt_engine::time::Instant;
use mqtt_engine::wire::QoS;
use mqtt_engine::Error;

type Shared = store_common::Shared<4, 256>;
const SECTORS: usize = 4;
const MESSAGES: u32 = 40;
const INCOMING: u32 = 12;

fn msg_number(payload: &[u8]) -> u32 {
    std::str::from_utf8(payload).unwrap()[1..].parse().unwrap()
}

/// A persistent broker (persistence on, the session kept): one subscriber counts arrivals.
#[derive(Default)]
struct BrokerModel {
    /// Bytes for the client on the current connection.
    to_client: Vec<u8>,
    /// QoS 2 ids from the client: PUBREC sent, PUBREL awaited (delivered once already).
    q2_held: BTreeSet<u16>,
    /// Message number -> times delivered to the subscriber.
    delivered: BTreeMap<u32, u32>,
    /// QoS 2 messages to the client: id -> (message number, PUBREC received).
    out: BTreeMap<u16, (u32, bool)>,
    next_out: u32,
    /// SUBSCRIBE packets received (the first, then the renewals after resets).
    subscribes: u32,
}

fn ack(kind: u8, id: u16) -> [u8; 4] {
    let [hi, lo] = id.to_be_bytes();
    [kind, 2, hi, lo]
}

fn publish_packet(dup: bool, id: u16, n: u32) -> Vec<u8> {
    let payload = format!("i{n}");
    let mut p = vec![0x34 | if dup { 0x08 } else { 0 }, 0];
    p.extend_from_slice(&[0, 1, b'r']);
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(payload.as_bytes());
    p[1] = (p.len() - 2) as u8;
    p
}

impl BrokerModel {
    /// Handles every whole packet the client sent.
    fn on_client_bytes(&mut self, bytes: &[u8]) {
        let mut at = 0;
        while at + 2 <= bytes.len() {
            let first = bytes[at];
            let len = bytes[at + 1] as usize; // every packet here is under 128 bytes
            let body = &bytes[at + 2..at + 2 + len];
            at += 2 + len;
            let id = || u16::from_be_bytes([body[0], body[1]]);
            match first >> 4 {
                1 => {
                    // CONNECT: the session is present; re-send what the client has not finished.
                    self.to_client = vec![0x20, 2, 1, 0];
                    for (&id, &(n, rec)) in &self.out {
                        if rec {
                            self.to_client.extend_from_slice(&ack(0x62, id));
                        } else {
                            self.to_client.extend(publish_packet(true, id, n));
                        }
                    }
                }
                3 => {
                    let qos = (first >> 1) & 3;
                    let topic_len = u16::from_be_bytes([body[0], body[1]]) as usize;
                    let pid = u16::from_be_bytes([body[2 + topic_len], body[3 + topic_len]]);
                    let n = msg_number(&body[4 + topic_len..]);
                    if qos == 1 {
                        *self.delivered.entry(n).or_default() += 1;
                        self.to_client.extend_from_slice(&ack(0x40, pid));
                    } else {
                        if self.q2_held.insert(pid) {
                            *self.delivered.entry(n).or_default() += 1;
                        }
                        self.to_client.extend_from_slice(&ack(0x50, pid));
                    }
                }
                6 => {
                    self.q2_held.remove(&id());
                    self.to_client.extend_from_slice(&ack(0x70, id()));
                }
                5 => {
                    if let Some(entry) = self.out.get_mut(&id()) {
                        entry.1 = true;
                    }
                    self.to_client.extend_from_slice(&ack(0x62, id()));
                }
                7 => {
                    self.out.remove(&id());
                }
                8 => {
                    // SUBSCRIBE: grant each filter its QoS.
                    let mut granted = Vec::new();
                    let mut at = 2;
                    while at + 2 < body.len() {
                        let len = u16::from_be_bytes([body[at], body[at + 1]]) as usize;
                        granted.push(body[at + 2 + len]);
                        at += 3 + len;
                    }
                    self.subscribes += 1;
                    self.to_client.extend_from_slice(&[
                        0x90,
                        2 + granted.len() as u8,
                        body[0],
                        body[1],
                    ]);
                    self.to_client.extend(granted);
                }
                _ => {}
            }
        }
    }

    /// A new QoS 2 message for the client.
    fn send_incoming(&mut self) {
        let n = self.next_out;
        self.next_out += 1;
        let id = 500 + n as u16;
        self.out.insert(id, (n, false));
        self.to_client.extend(publish_packet(false, id, n));
    }
}

struct Device {
    engine: Engine<'static>,
}

struct World {
    flash: Shared,
    broker: BrokerModel,
    device: Option<Device>,
    now: Instant,
    /// The app's own durable record: the next message number to publish.
    next_msg: u32,
    accepted: BTreeSet<u32>,
    /// Publishes that failed with the cut while their record may have landed whole.
    maybe: BTreeSet<u32>,
    app_got: BTreeMap<u32, u32>,
    /// Incoming messages whose id was stored but that the cut kept from the app.
    lost_in_window: BTreeSet<u32>,
    reboots: u32,
    /// The store's durability mode (`Store::set_batch`).
    batch: usize,
    /// The app's record: its subscribe call returned Ok.
    subscribed: bool,
}

impl World {
    fn new(cut: Option<u64>) -> World {
        World::with_batch(cut, 0)
    }

    fn with_batch(cut: Option<u64>, batch: usize) -> World {
        let flash = Shared::new(SECTORS);
        {
            // Format outside the measured run.
            Store::open(flash.clone(), Geometry::of(&flash)).unwrap();
            let mut f = flash.0.borrow_mut();
            f.ops = 0;
            f.cut_at = cut;
        }
        let mut world = World {
            flash,
            broker: BrokerModel::default(),
            device: None,
            now: Instant(1000),
            next_msg: 0,
            accepted: BTreeSet::new(),
            maybe: BTreeSet::new(),
            app_got: BTreeMap::new(),
            lost_in_window: BTreeSet::new(),
            reboots: 0,
            batch,
            subscribed: false,
        };
        world.boot();
        world
    }

    fn dead(&self) -> bool {
        self.flash.0.borrow().dead
    }

    /// Power on: restore from flash and connect.
    fn boot(&mut self) {
        let (mut store, _) = Store::open(self.flash.clone(), Geometry::of(&self.flash))
            .unwrap_or_else(|e| panic!("restore refused after a cut: {e:?}"));
        store.set_batch(self.batch);
        let store: &'static mut Store<Shared> = Box::leak(Box::new(store));
        let mut engine = Engine::new(leak(256), leak(1024), store_common::config(4, 256));
        engine.attach_store(store).unwrap();
        // The connection of the previous boot is gone; the broker keeps the session.
        self.broker.to_client.clear();
        engine.connect(self.now, &opts()).unwrap();
        self.device = Some(Device { engine });
    }

    /// After each engine call: a cut kills the device before anything it produced leaves.
    fn after_call(&mut self) -> bool {
        if self.dead() {
            self.device = None;
            self.reboots += 1;
            // Power back on, with no further cut.
            self.flash.0.borrow_mut().reboot();
            self.boot();
            return true;
        }
        false
    }

    fn engine(&mut self) -> &mut Engine<'static> {
        &mut self.device.as_mut().unwrap().engine
    }

    fn publish(&mut self) {
        let n = self.next_msg;
        let qos = if n.is_multiple_of(2) {
            QoS::AtLeastOnce
        } else {
            QoS::ExactlyOnce
        };
        let payload = format!("m{n}");
        let now = self.now;
        let result = self
            .engine()
            .publish(now, "t", payload.as_bytes(), qos, false);
        let torn_whole = self.flash.0.borrow().torn_complete;
        match result {
            // Ok with the power gone after it: committed by a snapshot whose clean-up erase the
            // cut interrupted. Accepted all the same.
            Ok(_) => {
                self.accepted.insert(n);
                self.next_msg += 1;
            }
            Err(Error::Full) => {
                if self.dead() && torn_whole {
                    self.maybe.insert(n);
                }
            }
            Err(e) => panic!("publish: {e:?}"),
        }
        self.after_call();
    }

    /// Client tx to the broker, then one packet of the broker's to the client.
    fn exchange(&mut self) {
        let now = self.now;
        let sent = self.engine().pending_transmit().to_vec();
        if !sent.is_empty() {
            self.engine().transmit_done(now, sent.len());
            self.broker.on_client_bytes(&sent);
        }
        if self.broker.to_client.is_empty() {
            return;
        }
        let input = self.broker.to_client.clone();
        let handled = self.engine().handle_bytes(now, &input);
        let got = match handled.incoming {
            Some(Incoming::Message(m)) => Some(msg_number(m.payload)),
            _ => None,
        };
        let torn_whole = self.flash.0.borrow().torn_complete;
        // handle_bytes returned it: the application has it, whatever the power does next.
        if let Some(n) = got {
            *self.app_got.entry(n).or_default() += 1;
        }
        if self.after_call() {
            // The cut hit the id's record, which landed whole though the write failed: the
            // id is restored, the message was never delivered, and the broker's re-send is
            // taken for a duplicate. The crash window between the record and the delivery.
            if torn_whole && input[0] >> 4 == 3 {
                let len = input[1] as usize;
                self.lost_in_window.insert(msg_number(&input[7..2 + len]));
            }
            return;
        }
        self.broker
            .to_client
            .drain(..handled.consumed.min(input.len()));
        while self.engine().poll_event().is_some() {}
    }

    fn finished(&mut self) -> bool {
        self.next_msg == MESSAGES
            && self.broker.next_out == INCOMING
            && self.broker.out.is_empty()
            && self.engine().inflight() == 0
            && self.broker.to_client.is_empty()
            && self.engine().pending_transmit().is_empty()
    }

    fn run(&mut self) {
        for step in 0..20_000u32 {
            if self.finished() {
                return;
            }
            self.now = self.now.add_ms(10);
            if step == 60 {
                // A network drop in the middle: the session resumes without a reset.
                let now = self.now;
                self.engine().connection_lost(now, Error::PeerClosed);
                self.broker.to_client.clear();
                self.engine().connect(now, &opts()).unwrap();
            }
            if !self.subscribed && step >= 4 && step % 3 == 1 {
                let now = self.now;
                let filters = [("s/#", QoS::AtLeastOnce)];
                let result = self.engine().subscribe(now, filters.iter().copied());
                // Ok with the power gone after it: its record is on flash all the same.
                self.subscribed = result.is_ok();
                self.after_call();
                continue;
            }
            if step % 3 == 0 && self.next_msg < MESSAGES {
                self.publish();
                continue;
            }
            if step % 7 == 0 && self.broker.next_out < INCOMING {
                self.broker.send_incoming();
            }
            self.exchange();
        }
        panic!("the script did not finish");
    }

    fn check(&mut self, cut: Option<u64>) {
        // A subscription whose call returned Ok is remembered, across every reset.
        assert!(self.subscribed, "cut {cut:?}: never subscribed");
        let subs: Vec<(String, QoS)> = self
            .engine()
            .subscriptions()
            .map(|(f, q)| (f.to_owned(), q))
            .collect();
        assert_eq!(subs, [("s/#".to_owned(), QoS::AtLeastOnce)], "cut {cut:?}");
        assert!(self.broker.subscribes >= 1);
        for n in &self.accepted {
            let count = self.broker.delivered.get(n).copied().unwrap_or(0);
            assert!(count >= 1, "cut {cut:?}: accepted message {n} lost");
            if n % 2 == 1 {
                assert_eq!(
                    count, 1,
                    "cut {cut:?}: QoS 2 message {n} delivered {count} times"
                );
            }
        }
        for n in self.broker.delivered.keys() {
            assert!(
                self.accepted.contains(n) || self.maybe.contains(n),
                "cut {cut:?}: message {n} was never accepted"
            );
        }
        for n in 0..INCOMING {
            let count = self.app_got.get(&n).copied().unwrap_or(0);
            assert!(
                count <= 1,
                "cut {cut:?}: incoming {n} delivered {count} times"
            );
            assert!(
                count == 1 || self.lost_in_window.contains(&n),
                "cut {cut:?}: incoming {n} never delivered"
            );
        }
    }
}

#[test]
fn the_script_runs_without_a_cut() {
    let mut world = World::new(None);
    world.run();
    world.check(None);
    assert_eq!(world.reboots, 0);
    assert_eq!(world.accepted.len(), MESSAGES as usize);
    let flash = world.flash.0.borrow();
    assert!(flash.ops > 200, "{} flash operations", flash.ops);
    // The run wraps the ring: snapshots were written and old sectors erased.
    assert!(flash.erases.iter().all(|&e| e >= 1), "{:?}", flash.erases);
}

#[test]
fn a_power_cut_after_every_programmed_word() {
    let total = {
        let mut world = World::new(None);
        world.run();
        let ops = world.flash.0.borrow().ops;
        ops
    };
    let mut cuts = 0;
    for at in 1..=total {
        let mut world = World::new(Some(at));
        world.run();
        world.check(Some(at));
        cuts += world.reboots;
    }
    // Every operation of the uncut run was a cut point (a run can end before its cut only
    // when the script took fewer operations than that).
    assert!(cuts as u64 >= total - 5, "{cuts} cuts of {total}");
}

/// The batched mode (completions written 4 at a time) under the same cuts: nothing accepted is
/// lost and no QoS 2 message arrives twice; QoS 1 may arrive twice (the loss window).
#[test]
fn a_power_cut_after_every_programmed_word_batched() {
    let (total, programmed) = {
        let mut world = World::with_batch(None, 4);
        world.run();
        world.check(None);
        let flash = world.flash.0.borrow();
        (flash.ops, flash.words_programmed)
    };
    let plain = {
        let mut world = World::new(None);
        world.run();
        let words = world.flash.0.borrow().words_programmed;
        words
    };
    assert!(
        programmed < plain,
        "batched {programmed} words, plain {plain}"
    );
    for at in 1..=total {
        let mut world = World::with_batch(Some(at), 4);
        world.run();
        world.check(Some(at));
    }
}

/// CONNECT (exact bytes, MQTT 3.1.1 §3.1: clean_session=0, keep-alive 0, client "dev") sent,
/// then the broker's CONNACK with this session-present flag.
fn connect_acked(engine: &mut Engine<'static>, now: Instant, session_present: bool) {
    engine.connect(now, &opts()).unwrap();
    let connect = [
        0x10, 15, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x00, 0, 0, 0, 3, b'd', b'e', b'v',
    ];
    assert_eq!(engine.pending_transmit(), connect);
    engine.transmit_done(now, connect.len());
    engine.handle_bytes(now, &[0x20, 2, u8::from(session_present), 0]);
}

/// A reset with one QoS 1 message unacknowledged and one QoS 2 message past PUBREC: the next
/// connection re-sends exactly as after a reconnect (same ids, DUP=1, the PUBREL again).
#[test]
fn a_reset_resends_with_dup_and_pubrel() {
    let flash = Shared::new(SECTORS);
    let now = Instant(1000);
    {
        let (store, _) = Store::open(flash.clone(), Geometry::of(&flash)).unwrap();
        let store: &'static mut Store<Shared> = Box::leak(Box::new(store));
        let mut engine = Engine::new(leak(256), leak(1024), store_common::config(4, 256));
        assert_eq!(engine.attach_store(store).unwrap().outgoing, 0);
        connect_acked(&mut engine, now, false);
        assert_eq!(
            engine.publish(now, "t", b"a", QoS::AtLeastOnce, false),
            Ok(Some(1))
        );
        assert_eq!(
            engine.publish(now, "t", b"b", QoS::ExactlyOnce, false),
            Ok(Some(2))
        );
        let n = engine.pending_transmit().len();
        engine.transmit_done(now, n);
        engine.handle_bytes(now, &ack(0x50, 2));
        assert_eq!(engine.pending_transmit(), &ack(0x62, 2));
        // The power goes: the engine and its RAM are gone.
    }
    let (store, opened) = Store::open(flash.clone(), Geometry::of(&flash)).unwrap();
    assert_eq!(opened.corrupt_records, 0);
    let store: &'static mut Store<Shared> = Box::leak(Box::new(store));
    let mut engine = Engine::new(leak(256), leak(1024), store_common::config(4, 256));
    let restored = engine.attach_store(store).unwrap();
    assert_eq!((restored.outgoing, restored.rx_qos2), (1 + 1, 0));
    connect_acked(&mut engine, now, true);
    assert_eq!(
        engine.pending_transmit(),
        &[
            0x3A, 6, 0, 1, b't', 0, 1, b'a', // PUBLISH QoS 1, DUP=1, id 1
            0x62, 2, 0, 2, // PUBREL id 2
        ]
    );
    // The next id continues after the restored ones.
    assert_eq!(
        engine.publish(now, "t", b"c", QoS::AtLeastOnce, false),
        Ok(Some(3))
    );
}

/// A subscription survives a reset: the first connection after it renews the subscription
/// (a SUBSCRIBE with the same filter and QoS); one unsubscribed before the reset does not.
#[test]
fn subscriptions_are_renewed_after_a_reset() {
    let flash = Shared::new(SECTORS);
    let now = Instant(1000);
    {
        let (store, _) = Store::open(flash.clone(), Geometry::of(&flash)).unwrap();
        let store: &'static mut Store<Shared> = Box::leak(Box::new(store));
        let mut engine = Engine::new(leak(256), leak(1024), store_common::config(4, 256));
        engine.attach_store(store).unwrap();
        connect_acked(&mut engine, now, false);
        let filters = [("a/+", QoS::ExactlyOnce), ("b", QoS::AtLeastOnce)];
        let id = engine.subscribe(now, filters.iter().copied()).unwrap();
        engine.handle_bytes(now, &[0x90, 4, 0, id as u8, 2, 1]);
        engine.unsubscribe(now, ["b"].iter().copied()).unwrap();
    }
    let (store, _) = Store::open(flash.clone(), Geometry::of(&flash)).unwrap();
    let store: &'static mut Store<Shared> = Box::leak(Box::new(store));
    let mut engine = Engine::new(leak(256), leak(1024), store_common::config(4, 256));
    engine.attach_store(store).unwrap();
    assert_eq!(
        engine.subscriptions().collect::<Vec<_>>(),
        [("a/+", QoS::ExactlyOnce)]
    );
    connect_acked(&mut engine, now, true);
    // SUBSCRIBE, packet id 1 (ids restart: no message was in flight), "a/+" at QoS 2.
    assert_eq!(
        engine.pending_transmit(),
        &[0x82, 8, 0, 1, 0, 3, b'a', b'/', b'+', 2]
    );
}
