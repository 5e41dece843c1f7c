//! Exactly once to the application (feature `store`, docs/STORE.md): with manual
//! acknowledgement an incoming QoS 2 message has no record and no PUBREC until `rx_done`, so
//! a reset before it brings the broker's re-send (DUP=1) to the application again, and a reset
//! after it does not. Exact bytes per MQTT 3.1.1 §3.3, §3.5.

mod store_common;
use store_common::{leak, opts};

use mqtt_engine::engine::{Engine, Incoming, MAX_RX_AWAITING};
use mqtt_engine::store::{Geometry, Store};
use mqtt_engine::time::Instant;
use mqtt_engine::Error;

type Shared = store_common::Shared<4, 256>;
const NOW: Instant = Instant(1000);

/// PUBLISH QoS 2 on "r", payload "m", with `id` and DUP as given.
fn publish(dup: bool, id: u16) -> [u8; 8] {
    let [hi, lo] = id.to_be_bytes();
    [
        0x34 | if dup { 0x08 } else { 0 },
        6,
        0,
        1,
        b'r',
        hi,
        lo,
        b'm',
    ]
}

fn pubrec(id: u16) -> [u8; 4] {
    let [hi, lo] = id.to_be_bytes();
    [0x50, 2, hi, lo]
}

/// A device boot over `flash` (None: no store), manual acknowledgement on, connected with
/// the broker's session present.
fn boot(flash: Option<&Shared>) -> (Engine<'static>, usize) {
    let mut engine = Engine::new(leak(256), leak(1024), store_common::config(4, 256));
    let mut restored = 0;
    if let Some(flash) = flash {
        let (store, _) = Store::open(flash.clone(), Geometry::of(flash)).unwrap();
        let store: &'static mut Store<Shared> = Box::leak(Box::new(store));
        restored = engine.attach_store(store).unwrap().rx_qos2;
    }
    engine.set_rx_manual_ack(true);
    connect(&mut engine);
    (engine, restored)
}

fn connect(engine: &mut Engine<'static>) {
    engine.connect(NOW, &opts()).unwrap();
    sent(engine);
    engine.handle_bytes(NOW, &[0x20, 2, 1, 0]);
    sent(engine);
    while engine.poll_event().is_some() {}
}

/// What the engine queued for the broker, taken.
fn sent(engine: &mut Engine<'static>) -> Vec<u8> {
    let bytes = engine.pending_transmit().to_vec();
    engine.transmit_done(NOW, bytes.len());
    bytes
}

/// Feeds one packet; Some(dup flag) when a message reached the application.
fn feed(engine: &mut Engine<'static>, bytes: &[u8]) -> Option<bool> {
    let handled = engine.handle_bytes(NOW, bytes);
    assert_eq!(handled.consumed, bytes.len());
    match handled.incoming {
        Some(Incoming::Message(m)) => {
            assert_eq!((m.topic, m.payload, m.packet_id), ("r", &b"m"[..], 7));
            Some(m.dup)
        }
        None => None,
        Some(_) => panic!("not a message"),
    }
}

fn new_flash() -> Shared {
    Shared::new(4)
}

#[test]
fn no_pubrec_before_rx_done_and_the_pubrec_right_after() {
    let flash = new_flash();
    let (mut engine, _) = boot(Some(&flash));
    assert_eq!(feed(&mut engine, &publish(false, 7)), Some(false));
    assert_eq!(sent(&mut engine), b"");
    assert_eq!(engine.rx_awaiting(), 1);
    // The broker's re-send while the id awaits the app: neither delivered nor answered.
    assert_eq!(feed(&mut engine, &publish(true, 7)), None);
    assert_eq!(sent(&mut engine), b"");
    assert_eq!(engine.rx_done(8), Err(Error::InvalidArgument));
    assert_eq!(engine.rx_done(7), Ok(()));
    assert_eq!(sent(&mut engine), pubrec(7));
    assert_eq!(engine.rx_awaiting(), 0);
    assert_eq!(engine.rx_done(7), Err(Error::InvalidArgument));
    // From now on the usual rule: a re-send is answered PUBREC, not delivered.
    assert_eq!(feed(&mut engine, &publish(true, 7)), None);
    assert_eq!(sent(&mut engine), pubrec(7));
    assert_eq!(feed(&mut engine, &[0x62, 2, 0, 7]), None);
    assert_eq!(sent(&mut engine), [0x70, 2, 0, 7]);
}

#[test]
fn without_the_option_rx_done_is_refused_and_pubrec_goes_at_once() {
    let mut engine = Engine::new(leak(256), leak(1024), store_common::config(4, 256));
    connect(&mut engine);
    assert_eq!(feed(&mut engine, &publish(false, 7)), Some(false));
    assert_eq!(sent(&mut engine), pubrec(7));
    assert_eq!(engine.rx_done(7), Err(Error::InvalidState));
}

#[test]
fn a_reset_before_rx_done_delivers_the_broker_resend_again() {
    let flash = new_flash();
    {
        let (mut engine, _) = boot(Some(&flash));
        assert_eq!(feed(&mut engine, &publish(false, 7)), Some(false));
        assert_eq!(sent(&mut engine), b"");
        // The power goes before the application called rx_done.
    }
    let (mut engine, restored) = boot(Some(&flash));
    assert_eq!(restored, 0);
    // The broker never got PUBREC: it re-sends with DUP=1, and the app sees it again.
    assert_eq!(feed(&mut engine, &publish(true, 7)), Some(true));
    assert_eq!(sent(&mut engine), b"");
    assert_eq!(engine.rx_done(7), Ok(()));
    assert_eq!(sent(&mut engine), pubrec(7));
}

#[test]
fn a_reset_after_rx_done_holds_the_resend() {
    let flash = new_flash();
    {
        let (mut engine, _) = boot(Some(&flash));
        assert_eq!(feed(&mut engine, &publish(false, 7)), Some(false));
        assert_eq!(engine.rx_done(7), Ok(()));
        assert_eq!(sent(&mut engine), pubrec(7));
        // The power goes before the broker's PUBREL.
    }
    let (mut engine, restored) = boot(Some(&flash));
    assert_eq!(restored, 1);
    assert_eq!(feed(&mut engine, &publish(true, 7)), None);
    assert_eq!(sent(&mut engine), pubrec(7));
}

#[test]
fn rx_done_while_disconnected_writes_the_record_and_the_resend_gets_the_pubrec() {
    let flash = new_flash();
    {
        let (mut engine, _) = boot(Some(&flash));
        assert_eq!(feed(&mut engine, &publish(false, 7)), Some(false));
        engine.connection_lost(NOW, Error::PeerClosed);
        assert_eq!(engine.rx_done(7), Ok(()));
        assert_eq!(sent(&mut engine), b"");
        // A reconnect in the same run: the re-send is answered, not delivered.
        connect(&mut engine);
        assert_eq!(feed(&mut engine, &publish(true, 7)), None);
        assert_eq!(sent(&mut engine), pubrec(7));
    }
    // The record was written by rx_done: it survives a reset.
    let (_, restored) = boot(Some(&flash));
    assert_eq!(restored, 1);
}

#[test]
fn one_message_more_than_can_await_closes_the_connection_unanswered() {
    let (mut engine, _) = boot(None);
    for id in 1..=MAX_RX_AWAITING as u16 {
        let [hi, lo] = id.to_be_bytes();
        let packet = [0x34, 6, 0, 1, b'r', hi, lo, b'm'];
        let handled = engine.handle_bytes(NOW, &packet);
        assert!(matches!(handled.incoming, Some(Incoming::Message(_))));
    }
    let id = MAX_RX_AWAITING as u16 + 1;
    let [hi, lo] = id.to_be_bytes();
    let packet = [0x34, 6, 0, 1, b'r', hi, lo, b'm'];
    let handled = engine.handle_bytes(NOW, &packet);
    assert!(handled.incoming.is_none());
    assert_eq!(sent(&mut engine), b"");
    let mut reason = None;
    while let Some(event) = engine.poll_event() {
        if let mqtt_engine::engine::Event::Disconnected { reason: r } = event {
            reason = r;
        }
    }
    assert_eq!(reason, Some(Error::RxQos2Full));
    // What awaits stays: done while disconnected, answered after the reconnect.
    assert_eq!(engine.rx_done(1), Ok(()));
    assert_eq!(engine.rx_awaiting(), MAX_RX_AWAITING - 1);
}
