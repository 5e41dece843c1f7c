//! Issue 12 §3, nothing wedges the client: a PUBREL the broker never completes, and an
//! incoming PUBLISH larger than the rx buffer. Exact bytes per MQTT 3.1.1.
// Helpers of the tests gated on facilities a smaller build (e.g. `lite`) lacks.
#![cfg_attr(not(feature = "full"), allow(dead_code, unused_imports))]

mod common;

use common::*;
use mqtt_engine::engine::{Config, Event, State};
use mqtt_engine::wire::QoS;
use mqtt_engine::Error;

/// PUBLISH QoS 2 "a/b" "hi" with this id, DUP as given (§3.3).
fn publish_qos2_ab(id: u8, dup: bool) -> Vec<u8> {
    let first = if dup { 0x3C } else { 0x34 };
    vec![
        first, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, id, b'h', b'i',
    ]
}

fn pubrel(id: u8) -> Vec<u8> {
    vec![0x62, 0x02, 0x00, id]
}

fn lose(b: &mut Broker) -> Vec<Event> {
    b.engine.connection_lost(b.now, Error::PeerClosed);
    b.take_events()
}

const LOST: Event = Event::Disconnected {
    reason: Some(Error::PeerClosed),
};

#[cfg(feature = "qos2")]
/// A broker like rumqttd (closes on a re-sent PUBREL) or amqtt (never answers it): after
/// `pubrel_max_connections` (3) connections ended with the PUBREL unanswered, the message
/// completes as abandoned, its slot frees, and publishing goes on.
#[test]
fn a_pubrel_never_completed_is_abandoned_after_three_connections() {
    let config = Config {
        inflight_window: 2,
        ..config()
    };
    let mut b = Broker::new(config);
    b.connect_ok(&opts("dev", false), &CONNACK_OK);
    assert_eq!(b.publish("a/b", b"hi", QoS::ExactlyOnce, false), Some(1));
    assert_eq!(b.publish("a/b", b"hi", QoS::ExactlyOnce, false), Some(2));
    assert_eq!(
        b.sent(),
        [publish_qos2_ab(1, false), publish_qos2_ab(2, false)].concat()
    );
    b.recv(&ack(PUBREC, 1));
    b.recv(&ack(PUBREC, 2));
    assert_eq!(b.sent(), [pubrel(1), pubrel(2)].concat());
    // The window is full of PUBRELs: nothing more can be published.
    assert_eq!(
        b.engine
            .publish(b.now, "a/b", b"hi", QoS::ExactlyOnce, false),
        Err(Error::Full)
    );
    b.take_events();
    // Connections 1 and 2 end with the PUBRELs unanswered: re-sent, exactly, each time.
    for _ in 0..2 {
        assert_eq!(lose(&mut b), [LOST]);
        let (_, resent) = b.connect_ok(&opts("dev", false), &CONNACK_PRESENT);
        assert_eq!(resent, [pubrel(1), pubrel(2)].concat());
        b.take_events();
        assert_eq!(b.engine.inflight(), 2);
    }
    // The third ends the same way: both complete without their PUBCOMP.
    assert_eq!(
        lose(&mut b),
        [
            LOST,
            Event::PublishAbandoned { packet_id: 1 },
            Event::PublishAbandoned { packet_id: 2 }
        ]
    );
    assert_eq!(b.engine.inflight(), 0);
    // Connection 4 re-sends nothing; publishing goes on (ids 1 and 2 are free again).
    let (_, resent) = b.connect_ok(&opts("dev", false), &CONNACK_PRESENT);
    assert_eq!(resent, []);
    assert_eq!(b.publish("a/b", b"hi", QoS::ExactlyOnce, false), Some(3));
    assert_eq!(b.sent(), publish_qos2_ab(3, false));
    b.recv(&ack(PUBREC, 3));
    assert_eq!(b.sent(), pubrel(3));
    b.recv(&ack(PUBCOMP, 3));
    assert_eq!(
        b.take_events(),
        [
            Event::Connected {
                session_present: true
            },
            Event::PublishComplete { packet_id: 3 }
        ]
    );
}

#[cfg(feature = "qos2")]
/// A link cut right behind the PUBREL proves nothing: the broker (mosquitto, say, which
/// forwards a QoS 2 message only on PUBREL) may never have read it, and abandoning would lose
/// the message. Such connections (a transport error, no acknowledgement of anything written
/// after the PUBREL) do not count. One on which the broker acknowledged a later packet does:
/// it read past the PUBREL and did not answer it.
#[test]
fn a_link_cut_behind_the_pubrel_does_not_count_a_broker_that_read_past_it_does() {
    let mut b = Broker::new(config());
    b.connect_ok(&opts("dev", false), &CONNACK_OK);
    assert_eq!(b.publish("a/b", b"hi", QoS::ExactlyOnce, false), Some(1));
    assert_eq!(b.sent(), publish_qos2_ab(1, false));
    b.recv(&ack(PUBREC, 1));
    assert_eq!(b.sent(), pubrel(1));
    b.take_events();
    let cut = Event::Disconnected {
        reason: Some(Error::Transport),
    };
    // Six cuts right behind the PUBREL (the soak saw three in a row lose a message).
    for _ in 0..6 {
        b.engine.connection_lost(b.now, Error::Transport);
        assert_eq!(b.take_events(), [cut]);
        let (_, resent) = b.connect_ok(&opts("dev", false), &CONNACK_PRESENT);
        assert_eq!(resent, pubrel(1));
        b.take_events();
    }
    // Now the broker acknowledges a QoS 1 PUBLISH written after the PUBREL, three times.
    let puback_id = |n: u16| n + 2;
    for n in 0..3u16 {
        let id = puback_id(n);
        assert_eq!(b.publish("a/b", b"hi", QoS::AtLeastOnce, false), Some(id));
        assert_eq!(
            b.sent(),
            [0x32, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, id as u8, b'h', b'i']
        );
        b.recv(&ack(PUBACK, id));
        b.engine.connection_lost(b.now, Error::Transport);
        let mut want = vec![Event::PublishComplete { packet_id: id }, cut];
        if n == 2 {
            want.push(Event::PublishAbandoned { packet_id: 1 });
        }
        assert_eq!(b.take_events(), want, "connection {n}");
        let (_, resent) = b.connect_ok(&opts("dev", false), &CONNACK_PRESENT);
        assert_eq!(resent, if n < 2 { pubrel(1) } else { vec![] });
        b.take_events();
    }
    assert_eq!(b.engine.inflight(), 0);
}

#[cfg(feature = "qos2")]
/// Only connections on which the PUBREL went out count; a PUBCOMP on a later one completes
/// the message as usual; 0 waits for ever.
#[test]
fn only_unanswered_pubrels_count_and_zero_never_gives_up() {
    let mut b = Broker::new(config());
    b.connect_ok(&opts("dev", false), &CONNACK_OK);
    b.publish("a/b", b"hi", QoS::ExactlyOnce, false);
    b.sent();
    b.recv(&ack(PUBREC, 1));
    assert_eq!(b.sent(), pubrel(1));
    assert_eq!(lose(&mut b).len(), 2, "Connected, Disconnected");
    // Two connection attempts refused before CONNACK: no PUBREL went out on them.
    for _ in 0..2 {
        b.connect(&opts("dev", false));
        b.recv(&[0x20, 0x02, 0x00, 0x03]);
        b.take_events();
    }
    let (_, resent) = b.connect_ok(&opts("dev", false), &CONNACK_PRESENT);
    assert_eq!(resent, pubrel(1));
    b.recv(&ack(PUBCOMP, 1));
    assert_eq!(
        b.take_events(),
        [
            Event::Connected {
                session_present: true
            },
            Event::PublishComplete { packet_id: 1 }
        ]
    );

    let mut b = Broker::new(Config {
        pubrel_max_connections: 0,
        ..config()
    });
    b.connect_ok(&opts("dev", false), &CONNACK_OK);
    b.publish("a/b", b"hi", QoS::ExactlyOnce, false);
    b.sent();
    b.recv(&ack(PUBREC, 1));
    assert_eq!(b.sent(), pubrel(1));
    for _ in 0..5 {
        assert!(!lose(&mut b)
            .iter()
            .any(|e| matches!(e, Event::PublishAbandoned { .. })));
        let (_, resent) = b.connect_ok(&opts("dev", false), &CONNACK_PRESENT);
        assert_eq!(resent, pubrel(1));
    }
    assert_eq!(b.engine.inflight(), 1);
}

/// QoS 2 PUBLISH "big/t" id 9 of `payload` bytes.
fn big_qos2(dup: bool, payload: usize) -> Vec<u8> {
    publish_bytes(
        if dup { 0x0C } else { 0x04 },
        "big/t",
        Some(9),
        &vec![b'x'; payload],
    )
}

#[cfg(feature = "qos2")]
/// A PUBLISH larger than max_rx_packet (1024) is read past, cut any way: PUBREC, its id
/// held like any QoS 2 id (a re-send is answered, not reported again), PUBREL -> PUBCOMP,
/// and the next message is delivered.
#[test]
fn an_oversized_qos2_publish_is_read_past_in_any_cut() {
    for split in [Split::Whole, Split::Bytewise, Split::Random(7)] {
        let mut b = Broker::connected(config());
        b.split = split;
        let big = big_qos2(false, 3000);
        assert_eq!(big.len(), 3012);
        b.recv(&big);
        assert_eq!(
            b.take_got(),
            [Got::Oversized {
                topic: Some("big/t".to_string()),
                size: 3012,
                qos: QoS::ExactlyOnce,
                packet_id: 9
            }]
        );
        assert_eq!(b.sent(), ack(PUBREC, 9), "{split:?}");
        // The broker missed the PUBREC and re-sends: PUBREC again, no second report.
        b.recv(&big_qos2(true, 3000));
        assert_eq!(b.take_got(), []);
        assert_eq!(b.sent(), ack(PUBREC, 9));
        b.recv(&ack(PUBREL, 9));
        assert_eq!(b.sent(), ack(PUBCOMP, 9));
        b.recv(&publish_bytes(0x00, "t", None, b"ok"));
        assert_eq!(
            b.take_got(),
            [Got::Message {
                topic: "t".to_string(),
                payload: b"ok".to_vec(),
                qos: QoS::AtMostOnce,
                retain: false,
                dup: false,
                packet_id: 0
            }]
        );
        assert_eq!(b.engine.oversized_count(), 1);
        assert_eq!(b.engine.state(), State::Connected);
        assert_eq!(b.take_events(), []);
    }
}

/// A topic that does not fit max_rx_packet streams past too: reported without it, after the
/// packet id, which is acknowledged.
#[test]
fn an_oversized_publish_whose_topic_does_not_fit() {
    for split in [Split::Whole, Split::Bytewise, Split::Random(3)] {
        let mut b = Broker::connected(Config {
            max_rx_packet: 64,
            ..config()
        });
        b.split = split;
        let topic = "t/".repeat(50);
        b.recv(&publish_bytes(0x02, &topic, Some(0x0102), b"payload"));
        assert_eq!(
            b.take_got(),
            [Got::Oversized {
                topic: None,
                size: 2 + 2 + 100 + 2 + 7,
                qos: QoS::AtLeastOnce,
                packet_id: 0x0102
            }],
            "{split:?}"
        );
        assert_eq!(b.sent(), ack(PUBACK, 0x0102));
        b.recv(&publish_bytes(0x00, "t", None, b"ok"));
        assert_eq!(b.take_got().len(), 1);
        assert_eq!(b.engine.state(), State::Connected);
        // QoS 0 with an empty payload: reported with the topic's last byte, not later.
        b.recv(&publish_bytes(0x00, &topic, None, b""));
        assert_eq!(
            b.take_got(),
            [Got::Oversized {
                topic: None,
                size: 2 + 2 + 100,
                qos: QoS::AtMostOnce,
                packet_id: 0
            }],
            "{split:?}"
        );
        assert_eq!(b.engine.oversized_count(), 2);
    }
}

/// Without room in tx for the acknowledgement the head waits, unread; nothing is lost.
#[test]
fn an_oversized_publish_waits_for_room_to_acknowledge() {
    let mut b = Broker::connected(config());
    let head_and_body = publish_bytes(0x02, "big/t", Some(5), &[b'x'; 1100]);
    // Fill tx with a QoS 0 publish that is not sent yet.
    b.engine
        .publish(b.now, "q", &[0u8; 1015], QoS::AtMostOnce, false)
        .unwrap();
    assert_eq!(b.handle_once_no_pump(&head_and_body), (0, None));
    b.sent();
    let (consumed, got) = b.handle_once(&head_and_body);
    assert_eq!(
        consumed,
        3 + 2 + 5 + 2,
        "the head: fixed header, topic, packet id"
    );
    assert!(matches!(got, Some(Got::Oversized { packet_id: 5, .. })));
    assert_eq!(b.sent(), ack(PUBACK, 5));
}

/// Beyond the limit, or with the limit 0, the connection closes as it always did.
#[test]
fn beyond_the_limit_the_connection_closes() {
    let mut b = Broker::connected(Config {
        oversized_limit: 2000,
        ..config()
    });
    b.recv(&publish_bytes(0x00, "t", None, &[0; 1994]));
    assert_eq!(b.take_got().len(), 1, "2000 bytes: read past");
    b.recv(&publish_bytes(0x00, "t", None, &[0; 1995]));
    assert_eq!(
        b.take_events(),
        [Event::Disconnected {
            reason: Some(Error::PacketTooLarge)
        }]
    );
    let mut b = Broker::connected(Config {
        oversized_limit: 0,
        ..config()
    });
    b.recv(&publish_bytes(0x00, "t", None, &[0; 1100]));
    assert_eq!(b.take_got(), []);
    assert_eq!(b.engine.state(), State::Disconnected);
}
