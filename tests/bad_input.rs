//! Rows of the bad-input table (docs/BAD_INPUT.md) that no other test shows, at the engine level.
//! (The C API rows and the network rows through the C API are in tests/c/bad_input.c.)
// Helpers of the tests gated on facilities a smaller build (e.g. `lite`) lacks.
#![cfg_attr(not(feature = "full"), allow(dead_code, unused_imports))]

mod common;

use common::*;
use mqtt_engine::engine::{Event, State};
use mqtt_engine::wire::QoS;

#[cfg(feature = "qos2")]
/// Found by the engine fuzz target: a QoS 2 PUBLISH (or a PUBREC/PUBREL) arriving after
/// `disconnect` had queued DISCONNECT put its reply on the wire after the DISCONNECT,
/// which §3.14.4 forbids. Now such a packet waits unread until the connection ends.
#[test]
fn nothing_follows_disconnect_on_the_wire() {
    let mut b = Broker::connected(config());
    assert_eq!(b.publish("a", b"x", QoS::ExactlyOnce, false), Some(1));
    b.engine.disconnect(b.now).unwrap();
    assert_eq!(b.engine.state(), State::Disconnecting);
    let expected = [
        &[0x34, 0x06, 0x00, 0x01, b'a', 0x00, 0x01, b'x'][..],
        &[0xE0, 0x00],
    ]
    .concat();
    assert_eq!(b.engine.pending_transmit(), &expected[..]);

    // Each needs a reply; none is read while DISCONNECT waits in tx.
    for input in [
        publish_bytes(0x04, "in", Some(7), b"q2"),
        publish_bytes(0x02, "in", Some(8), b"q1"),
        ack(PUBREC, 1),
        ack(PUBREL, 9),
    ] {
        assert_eq!(b.handle_once_no_pump(&input), (0, None), "{input:02X?}");
    }
    assert_eq!(b.sent(), expected, "DISCONNECT is the last packet sent");
    assert_eq!(b.engine.state(), State::Disconnected);
    assert_eq!(b.take_events(), [Event::Disconnected { reason: None }]);
    // The QoS 2 message is still in flight and goes out again on the next connection.
    assert_eq!(b.engine.inflight(), 1);
    let (_, resent) = b.connect_ok(&opts("c", true), &CONNACK_OK);
    assert_eq!(
        resent,
        [0x3C, 0x06, 0x00, 0x01, b'a', 0x00, 0x01, b'x'],
        "re-sent with DUP"
    );
}

/// A reply-free packet (PUBACK) after DISCONNECT is still handled: the message completes.
#[test]
fn acks_after_disconnect_still_complete() {
    let mut b = Broker::connected(config());
    assert_eq!(b.publish("a", b"x", QoS::AtLeastOnce, false), Some(1));
    b.sent();
    b.engine.disconnect(b.now).unwrap();
    assert_eq!(b.handle_once_no_pump(&ack(PUBACK, 1)).0, 4);
    assert_eq!(b.engine.inflight(), 0);
    assert_eq!(b.sent(), [0xE0, 0x00]);
    assert_eq!(
        b.take_events(),
        [
            Event::PublishComplete { packet_id: 1 },
            Event::Disconnected { reason: None }
        ]
    );
}
