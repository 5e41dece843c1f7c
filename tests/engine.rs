//! The engine driven by a scripted broker: exact MQTT 3.1.1 bytes for every flow.
// Helpers of the tests gated on facilities a smaller build (e.g. `lite`) lacks.
#![cfg_attr(not(feature = "full"), allow(dead_code, unused_imports))]

mod common;

use common::*;
use mqtt_engine::engine::{ConnectOptions, Event, State};
use mqtt_engine::wire::{QoS, Will};
use mqtt_engine::Error;

// ---------------------------------------------------------------- CONNECT / CONNACK

#[test]
fn connect_clean_with_keep_alive() {
    let mut b = Broker::new(config());
    let mut o = opts("c1", true);
    o.keep_alive_s = 60;
    let connect = b.connect(&o);
    assert_eq!(
        connect,
        [
            0x10, 0x0E, // CONNECT, remaining 14
            0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, // protocol name, level 4
            0x02, // clean session
            0x00, 0x3C, // keep-alive 60 s
            0x00, 0x02, b'c', b'1',
        ]
    );
    assert!(b.take_events().is_empty());
    b.recv(&CONNACK_OK);
    assert_eq!(b.engine.state(), State::Connected);
    assert_eq!(
        b.take_events(),
        [Event::Connected {
            session_present: false
        }]
    );
    assert!(b.sent().is_empty());
}

#[test]
fn connect_persistent_with_user_and_password() {
    let mut b = Broker::new(config());
    let o = ConnectOptions {
        client_id: "dev",
        keep_alive_s: 0x0102,
        clean_session: false,
        username: Some("u"),
        password: Some(&[0x00, 0xFF]),
        will: None,
    };
    assert_eq!(
        b.connect(&o),
        [
            0x10, 0x16, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, //
            0xC0, // username + password, clean session 0
            0x01, 0x02, // keep-alive
            0x00, 0x03, b'd', b'e', b'v', //
            0x00, 0x01, b'u', //
            0x00, 0x02, 0x00, 0xFF,
        ]
    );
}

#[cfg(all(feature = "qos2", feature = "will"))]
#[test]
fn connect_with_will_qos_and_retain() {
    let mut b = Broker::new(config());
    let mut o = opts("c", true);
    o.keep_alive_s = 0;
    o.will = Some(Will {
        topic: "w",
        payload: b"bye",
        qos: QoS::AtLeastOnce,
        retain: true,
    });
    assert_eq!(
        b.connect(&o),
        [
            0x10, 0x15, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, //
            0x2E, // will retain 0x20 | will QoS 1 (0x08) | will 0x04 | clean 0x02
            0x00, 0x00, //
            0x00, 0x01, b'c', //
            0x00, 0x01, b'w', //
            0x00, 0x03, b'b', b'y', b'e',
        ]
    );

    let mut b = Broker::new(config());
    o.will = Some(Will {
        topic: "w",
        payload: b"",
        qos: QoS::ExactlyOnce,
        retain: false,
    });
    o.clean_session = false;
    let connect = b.connect(&o);
    assert_eq!(connect[9], 0x14, "will QoS 2 (0x10) | will 0x04");
    assert_eq!(
        &connect[connect.len() - 5..],
        [0x00, 0x01, b'w', 0x00, 0x00]
    );
}

#[test]
fn connect_arguments_are_checked_before_anything_is_sent() {
    let mut b = Broker::new(config());
    let mut o = opts("c", true);
    o.password = Some(b"p");
    assert_eq!(
        b.engine.connect(b.now, &o),
        Err(Error::PasswordWithoutUsername)
    );
    assert_eq!(b.engine.state(), State::Disconnected);
    assert!(b.sent().is_empty());
    // A CONNECT that can never fit tx.
    let mut b = Broker::with_buffers(config(), 16, 64);
    assert_eq!(
        b.engine.connect(b.now, &opts("a-long-client-id", true)),
        Err(Error::TooLarge)
    );
    // connect() twice.
    let mut b = Broker::new(config());
    b.connect(&opts("c", true));
    assert_eq!(
        b.engine.connect(b.now, &opts("c", true)),
        Err(Error::InvalidState)
    );
}

#[test]
fn connack_refused_codes_1_to_5() {
    for code in 1..=5u8 {
        let mut b = Broker::new(config());
        b.connect(&opts("c", true));
        b.recv(&[0x20, 0x02, 0x00, code]);
        assert_eq!(b.engine.state(), State::Disconnected);
        assert_eq!(b.take_events(), [Event::ConnectRefused { code }]);
        assert_eq!(b.engine.next_deadline(b.now), None);
        // A later connect works.
        b.connect_ok(&opts("c", true), &CONNACK_OK);
        assert_eq!(
            b.take_events(),
            [Event::Connected {
                session_present: false
            }]
        );
    }
}

#[test]
fn connack_refusal_with_session_present_is_malformed() {
    // [MQTT-3.2.2-4]: a refusing CONNACK sets session present to 0; a broker that sets it is
    // broken, and the connection ends as a protocol error, not as a refusal.
    for code in 1..=5u8 {
        let mut b = Broker::new(config());
        b.connect(&opts("c", false));
        b.recv(&[0x20, 0x02, 0x01, code]);
        assert_eq!(b.engine.state(), State::Disconnected);
        assert_eq!(
            b.take_events(),
            [Event::Disconnected {
                reason: Some(Error::Malformed)
            }]
        );
    }
}

#[test]
fn connack_timeout() {
    let mut b = Broker::new(config()); // connect timeout 10 s
    b.connect(&opts("c", true));
    assert_eq!(b.engine.next_deadline(b.now), Some(10_000));
    b.advance(9_999);
    b.tick();
    assert_eq!(b.engine.state(), State::AwaitConnack);
    assert_eq!(b.engine.next_deadline(b.now), Some(1));
    b.advance(1);
    assert_eq!(b.engine.next_deadline(b.now), Some(0));
    b.tick();
    assert_eq!(b.engine.state(), State::Disconnected);
    assert_eq!(
        b.take_events(),
        [Event::Disconnected {
            reason: Some(Error::ConnectTimeout)
        }]
    );
    // A CONNACK arriving afterwards is ignored.
    let (consumed, got) = b.handle_once(&CONNACK_OK);
    assert_eq!((consumed, got), (4, None));
    assert_eq!(b.engine.state(), State::Disconnected);
    assert!(b.take_events().is_empty());
}

// ---------------------------------------------------------------- outgoing PUBLISH

#[test]
fn publish_qos0() {
    let mut b = Broker::new(config());
    assert_eq!(
        b.engine
            .publish(b.now, "a/b", b"hi", QoS::AtMostOnce, false),
        Err(Error::InvalidState)
    );
    let mut b = Broker::connected(config());
    assert_eq!(b.publish("a/b", b"hi", QoS::AtMostOnce, false), None);
    assert_eq!(b.publish("a/b", b"", QoS::AtMostOnce, true), None);
    assert_eq!(
        b.sent(),
        [
            0x30, 0x07, 0x00, 0x03, b'a', b'/', b'b', b'h', b'i', //
            0x31, 0x05, 0x00, 0x03, b'a', b'/', b'b',
        ]
    );
    assert_eq!(b.engine.inflight(), 0);
    assert_eq!(
        b.engine.publish(b.now, "a/+", b"", QoS::AtMostOnce, false),
        Err(Error::InvalidTopic)
    );
}

#[test]
fn publish_qos1_puback() {
    let mut b = Broker::connected(config());
    assert_eq!(b.publish("a/b", b"hi", QoS::AtLeastOnce, false), Some(1));
    assert_eq!(
        b.sent(),
        [0x32, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x01, b'h', b'i']
    );
    assert_eq!(b.engine.inflight(), 1);
    b.recv(&[0x40, 0x02, 0x00, 0x01]);
    assert_eq!(b.take_events(), [Event::PublishComplete { packet_id: 1 }]);
    assert_eq!(b.engine.inflight(), 0);
    assert!(b.sent().is_empty());
    // Its id is not acknowledged twice.
    b.recv(&[0x40, 0x02, 0x00, 0x01]);
    assert_eq!(
        b.take_events(),
        [Event::Disconnected {
            reason: Some(Error::UnknownPacketId)
        }]
    );
}

#[cfg(feature = "qos2")]
#[test]
fn publish_qos2_pubrec_pubrel_pubcomp() {
    let mut b = Broker::connected(config());
    assert_eq!(b.publish("t", b"x", QoS::ExactlyOnce, true), Some(1));
    assert_eq!(b.sent(), [0x35, 0x06, 0x00, 0x01, b't', 0x00, 0x01, b'x']);
    b.recv(&[0x50, 0x02, 0x00, 0x01]);
    assert_eq!(b.sent(), [0x62, 0x02, 0x00, 0x01]);
    assert!(b.take_events().is_empty());
    assert_eq!(b.engine.inflight(), 1);
    b.recv(&[0x70, 0x02, 0x00, 0x01]);
    assert_eq!(b.take_events(), [Event::PublishComplete { packet_id: 1 }]);
    assert_eq!(b.engine.inflight(), 0);
    assert!(b.sent().is_empty());
}

#[cfg(feature = "qos2")]
#[test]
fn wrong_ack_for_the_stage_is_a_protocol_error() {
    // PUBREC for a QoS 1 message.
    let mut b = Broker::connected(config());
    b.publish("t", b"", QoS::AtLeastOnce, false);
    b.sent();
    b.recv(&ack(PUBREC, 1));
    assert_eq!(
        b.take_events(),
        [Event::Disconnected {
            reason: Some(Error::UnexpectedPacket)
        }]
    );
    // PUBCOMP before PUBREC.
    let mut b = Broker::connected(config());
    b.publish("t", b"", QoS::ExactlyOnce, false);
    b.sent();
    b.recv(&ack(PUBCOMP, 1));
    assert_eq!(
        b.take_events(),
        [Event::Disconnected {
            reason: Some(Error::UnexpectedPacket)
        }]
    );
    // PUBACK for a QoS 2 message.
    let mut b = Broker::connected(config());
    b.publish("t", b"", QoS::ExactlyOnce, false);
    b.sent();
    b.recv(&ack(PUBACK, 1));
    assert_eq!(
        b.take_events(),
        [Event::Disconnected {
            reason: Some(Error::UnexpectedPacket)
        }]
    );
}

#[cfg(feature = "qos2")]
#[test]
fn qos1_and_qos2_are_stored_while_disconnected_and_sent_after_connack() {
    let mut b = Broker::new(config());
    assert_eq!(b.publish("t", b"1", QoS::AtLeastOnce, false), Some(1));
    assert_eq!(b.publish("t", b"2", QoS::ExactlyOnce, false), Some(2));
    assert!(b.sent().is_empty());
    let (_, after) = b.connect_ok(&opts("c", true), &CONNACK_OK);
    // Never sent before: DUP stays 0.
    assert_eq!(
        after,
        [
            0x32, 0x06, 0x00, 0x01, b't', 0x00, 0x01, b'1', //
            0x34, 0x06, 0x00, 0x01, b't', 0x00, 0x02, b'2',
        ]
    );
}

#[test]
fn window_full_and_packet_ids_skip_ids_in_use() {
    let mut cfg = config();
    cfg.inflight_window = 3;
    let mut b = Broker::connected(cfg);
    assert_eq!(b.engine.config().inflight_window, 3);
    for id in 1..=3 {
        assert_eq!(b.publish("t", b"", QoS::AtLeastOnce, false), Some(id));
    }
    assert_eq!(
        b.engine.publish(b.now, "t", b"", QoS::AtLeastOnce, false),
        Err(Error::Full)
    );
    // QoS 0 does not use the window.
    assert_eq!(b.publish("t", b"", QoS::AtMostOnce, false), None);
    b.sent();
    b.recv(&ack(PUBACK, 2));
    assert_eq!(b.take_events(), [Event::PublishComplete { packet_id: 2 }]);
    // Ids keep counting up: 4, not the freed 2.
    assert_eq!(b.publish("t", b"", QoS::AtLeastOnce, false), Some(4));
    assert_eq!(
        b.engine.publish(b.now, "t", b"", QoS::AtLeastOnce, false),
        Err(Error::Full)
    );
    // A SUBSCRIBE id comes from the same space.
    assert_eq!(
        b.engine
            .subscribe(b.now, [("f", QoS::AtMostOnce)].into_iter()),
        Ok(5)
    );
}

#[test]
fn packet_ids_wrap_from_65535_to_1_skipping_ids_in_use() {
    let mut b = Broker::connected(config());
    // Id 1 stays in flight for the whole run.
    assert_eq!(b.publish("t", b"", QoS::AtLeastOnce, false), Some(1));
    b.sent();
    let mut rx = Vec::new();
    for expected in 2..=65535u16 {
        let id = b.publish("t", b"", QoS::AtLeastOnce, false).unwrap();
        assert_eq!(id, expected);
        rx.clear();
        rx.extend_from_slice(&ack(PUBACK, id));
        let handled = b.engine.handle_bytes(b.now, &rx);
        assert_eq!(handled.consumed, 4);
        let pending = b.engine.pending_transmit().len();
        b.engine.transmit_done(b.now, pending);
        assert_eq!(
            b.engine.poll_event(),
            Some(Event::PublishComplete { packet_id: id })
        );
    }
    // 65535 -> 1 is in use -> 2.
    let id = b.publish("t", b"", QoS::AtLeastOnce, false);
    assert_eq!(id, Some(2));
    assert_eq!(
        b.sent(),
        [0x32, 0x05, 0x00, 0x01, b't', 0x00, 0x02],
        "the PUBLISH after the wrap carries id 2"
    );
}

#[test]
fn store_full_too_large_and_compaction() {
    // Each "t"+1-byte QoS1 PUBLISH takes 8 bytes; the store holds three.
    let mut b = Broker::with_buffers(config(), 64, 24);
    b.connect_ok(&opts("c", true), &CONNACK_OK);
    b.take_events();
    for (id, p) in [(1, b"a"), (2, b"b"), (3, b"c")] {
        assert_eq!(b.publish("t", p, QoS::AtLeastOnce, false), Some(id));
    }
    assert_eq!(
        b.engine.publish(b.now, "t", b"d", QoS::AtLeastOnce, false),
        Err(Error::Full)
    );
    assert_eq!(
        b.engine
            .publish(b.now, "t", &[0; 30], QoS::AtLeastOnce, false),
        Err(Error::TooLarge),
        "bigger than the whole store"
    );
    assert_eq!(
        b.engine
            .publish(b.now, "t", &[0; 70], QoS::AtMostOnce, false),
        Err(Error::TooLarge),
        "bigger than tx"
    );
    b.sent();
    // Free the middle one: the last one's bytes move down and a new one fits.
    b.recv(&ack(PUBACK, 2));
    assert_eq!(b.publish("t", b"d", QoS::AtLeastOnce, false), Some(4));
    b.sent();
    // After a reconnect, the stored bytes are intact and in publish order.
    b.engine.connection_lost(b.now, Error::PeerClosed);
    let (_, resent) = b.connect_ok(&opts("c", false), &CONNACK_OK);
    assert_eq!(
        resent,
        [
            0x3A, 0x06, 0x00, 0x01, b't', 0x00, 0x01, b'a', //
            0x3A, 0x06, 0x00, 0x01, b't', 0x00, 0x03, b'c', //
            0x3A, 0x06, 0x00, 0x01, b't', 0x00, 0x04, b'd',
        ]
    );
}

#[test]
fn store_of_zero_bytes_refuses_qos1() {
    let mut b = Broker::with_buffers(config(), 64, 0);
    b.connect_ok(&opts("c", true), &CONNACK_OK);
    assert_eq!(
        b.engine.publish(b.now, "t", b"", QoS::AtLeastOnce, false),
        Err(Error::TooLarge)
    );
    assert_eq!(b.publish("t", b"", QoS::AtMostOnce, false), None);
}

#[cfg(feature = "qos2")]
#[test]
fn stored_packets_wait_for_tx_room_and_keep_their_order() {
    // tx (16 bytes) holds one 9-byte PUBLISH, not two.
    let mut b = Broker::with_buffers(config(), 16, 64);
    b.connect_ok(&opts("c", true), &CONNACK_OK);
    b.take_events();
    b.publish("t", b"1x", QoS::AtLeastOnce, false);
    b.publish("t", b"2x", QoS::AtLeastOnce, false);
    b.publish("t", b"3x", QoS::ExactlyOnce, false);
    assert_eq!(
        b.engine.pending_transmit(),
        [0x32, 0x07, 0x00, 0x01, b't', 0x00, 0x01, b'1', b'x']
    );
    // transmit_done flushes the next ones as room appears, in order.
    assert_eq!(
        b.sent(),
        [
            0x32, 0x07, 0x00, 0x01, b't', 0x00, 0x01, b'1', b'x', //
            0x32, 0x07, 0x00, 0x01, b't', 0x00, 0x02, b'2', b'x', //
            0x34, 0x07, 0x00, 0x01, b't', 0x00, 0x03, b'3', b'x',
        ]
    );
}

// ---------------------------------------------------------------- incoming PUBLISH

#[cfg(all(feature = "qos2", feature = "offline-queue"))]
#[test]
fn incoming_qos0_qos1_qos2() {
    let mut b = Broker::connected(config());
    b.recv(&[0x31, 0x06, 0x00, 0x02, b'a', b'b', b'h', b'i']);
    assert!(b.sent().is_empty(), "QoS 0 is not acknowledged");
    b.recv(&[0x32, 0x07, 0x00, 0x01, b'a', 0x12, 0x34, b'h', b'i']);
    assert_eq!(b.sent(), [0x40, 0x02, 0x12, 0x34]);
    b.recv(&[0x3C, 0x05, 0x00, 0x01, b'a', 0x00, 0x07]);
    assert_eq!(b.sent(), [0x50, 0x02, 0x00, 0x07]);
    assert_eq!(
        b.take_got(),
        [
            Got::Message {
                topic: "ab".into(),
                payload: b"hi".to_vec(),
                qos: QoS::AtMostOnce,
                retain: true,
                dup: false,
                packet_id: 0
            },
            Got::Message {
                topic: "a".into(),
                payload: b"hi".to_vec(),
                qos: QoS::AtLeastOnce,
                retain: false,
                dup: false,
                packet_id: 0x1234
            },
            Got::Message {
                topic: "a".into(),
                payload: vec![],
                qos: QoS::ExactlyOnce,
                retain: false,
                dup: true,
                packet_id: 7
            },
        ]
    );
    assert!(b.take_events().is_empty());
}

#[cfg(feature = "qos2")]
#[test]
fn incoming_qos2_is_delivered_exactly_once() {
    let mut b = Broker::connected(config());
    let first = publish_bytes(0x04, "q", Some(9), b"once");
    let again = publish_bytes(0x0C, "q", Some(9), b"once");
    b.recv(&first);
    assert_eq!(b.sent(), ack(PUBREC, 9));
    assert_eq!(b.take_got().len(), 1);
    // The broker missed our PUBREC and re-sends: PUBREC again, no second delivery.
    b.recv(&again);
    assert_eq!(b.sent(), ack(PUBREC, 9));
    assert!(b.take_got().is_empty());
    b.recv(&ack(PUBREL, 9));
    assert_eq!(b.sent(), [0x70, 0x02, 0x00, 0x09]);
    // The id is forgotten: the broker may use it for a new message.
    b.recv(&first);
    assert_eq!(b.sent(), ack(PUBREC, 9));
    assert_eq!(b.take_got().len(), 1);
}

#[cfg(feature = "qos2")]
#[test]
fn unknown_pubrel_is_answered_with_pubcomp() {
    let mut b = Broker::connected(config());
    b.recv(&[0x62, 0x02, 0xAB, 0xCD]);
    assert_eq!(b.sent(), [0x70, 0x02, 0xAB, 0xCD]);
    assert_eq!(b.engine.state(), State::Connected);
    assert!(b.take_events().is_empty());
}

#[cfg(feature = "qos2")]
#[test]
fn incoming_qos2_table_full_closes_the_connection() {
    let mut b = Broker::connected(config());
    let max = mqtt_engine::config::MAX_RX_QOS2 as u16;
    // Every other id: no two are consecutive, so each takes an entry of its own.
    for n in 1..=max {
        b.recv(&publish_bytes(0x04, "q", Some(2 * n), b""));
    }
    assert_eq!(b.take_got().len(), max as usize);
    b.sent();
    let (consumed, got) = b.handle_once(&publish_bytes(0x04, "q", Some(2 * max + 3), b""));
    assert_eq!((consumed, got), (7, None));
    assert_eq!(
        b.take_events(),
        [Event::Disconnected {
            reason: Some(Error::RxQos2Full)
        }]
    );
    assert!(b.sent().is_empty(), "no PUBREC for the refused message");
    let stats = b.engine.rx_qos2_stats();
    assert_eq!((stats.open_ids, stats.evicted), (max as u32, 0));
}

#[cfg(feature = "qos2")]
/// Issue 12's reproduction: after a resume the broker sends a new message before it re-sends
/// an open one. Every held id stays held, whatever arrives first: A once, B once.
#[test]
fn a_new_message_before_a_resend_forgets_nothing() {
    let mut b = Broker::new(config());
    b.connect_ok(&opts("dev", false), &CONNACK_OK);
    b.take_events();
    // PUBLISH QoS 2, id 10, topic "t", payload "A".
    b.recv(&[0x34, 0x06, 0x00, 0x01, b't', 0x00, 0x0A, b'A']);
    assert_eq!(b.sent(), [0x50, 0x02, 0x00, 0x0A]);
    b.engine.connection_lost(b.now, Error::PeerClosed);
    b.connect_ok(&opts("dev", false), &CONNACK_PRESENT);
    b.take_events();
    // New: id 11 "B", DUP=0. Then the re-send of id 10 "A", DUP=1.
    b.recv(&[0x34, 0x06, 0x00, 0x01, b't', 0x00, 0x0B, b'B']);
    assert_eq!(b.sent(), [0x50, 0x02, 0x00, 0x0B]);
    b.recv(&[0x3C, 0x06, 0x00, 0x01, b't', 0x00, 0x0A, b'A']);
    assert_eq!(b.sent(), [0x50, 0x02, 0x00, 0x0A]);
    let payloads: Vec<Vec<u8>> = b
        .take_got()
        .into_iter()
        .map(|g| match g {
            Got::Message { payload, .. } => payload,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(payloads, [b"A".to_vec(), b"B".to_vec()]);
    assert!(b.take_events().is_empty());
}

// ---------------------------------------------------------------- SUBSCRIBE / UNSUBSCRIBE

#[cfg(feature = "qos2")]
#[test]
fn subscribe_many_filters_and_suback_codes() {
    let mut b = Broker::connected(config());
    let filters = [
        ("a/+", QoS::AtMostOnce),
        ("b/#", QoS::AtLeastOnce),
        ("c", QoS::ExactlyOnce),
        ("$SYS/x", QoS::AtLeastOnce),
        ("e", QoS::AtMostOnce),
        ("f", QoS::AtMostOnce),
    ];
    let id = b.engine.subscribe(b.now, filters.iter().copied()).unwrap();
    assert_eq!(id, 1);
    assert_eq!(
        b.sent(),
        [
            0x82, 0x23, 0x00, 0x01, //
            0x00, 0x03, b'a', b'/', b'+', 0x00, //
            0x00, 0x03, b'b', b'/', b'#', 0x01, //
            0x00, 0x01, b'c', 0x02, //
            0x00, 0x06, b'$', b'S', b'Y', b'S', b'/', b'x', 0x01, //
            0x00, 0x01, b'e', 0x00, //
            0x00, 0x01, b'f', 0x00,
        ]
    );
    b.recv(&[0x90, 0x08, 0x00, 0x01, 0x00, 0x01, 0x02, 0x80, 0x00, 0x00]);
    assert_eq!(
        b.take_got(),
        [Got::Subscribed {
            packet_id: 1,
            granted: vec![0x00, 0x01, 0x02, 0x80, 0x00, 0x00]
        }]
    );
    assert!(b.take_events().is_empty());
    assert_eq!(b.engine.state(), State::Connected);
}

#[test]
fn subscribe_checks() {
    let mut b = Broker::new(config());
    assert_eq!(
        b.engine
            .subscribe(b.now, [("a", QoS::AtMostOnce)].into_iter()),
        Err(Error::InvalidState)
    );
    let mut b = Broker::connected(config());
    assert_eq!(
        b.engine
            .subscribe(b.now, [("a/#/b", QoS::AtMostOnce)].into_iter()),
        Err(Error::InvalidTopic)
    );
    assert_eq!(
        b.engine.subscribe(b.now, core::iter::empty()),
        Err(Error::InvalidArgument)
    );
    let max = mqtt_engine::config::MAX_PENDING_SUBS as u16;
    for id in 1..=max {
        assert_eq!(
            b.engine
                .subscribe(b.now, [("a", QoS::AtMostOnce)].into_iter()),
            Ok(id)
        );
    }
    assert_eq!(
        b.engine
            .subscribe(b.now, [("a", QoS::AtMostOnce)].into_iter()),
        Err(Error::Full)
    );
    assert_eq!(
        b.engine.unsubscribe(b.now, ["a"].into_iter()),
        Err(Error::Full)
    );
}

/// A SUBSCRIBE carries at most 65,535 filters: its pending entry counts the SUBACK's codes in
/// 16 bits. Refused up front, even where the SUBACK would fit the rx buffer.
#[test]
fn a_subscribe_carries_at_most_65535_filters() {
    let config = mqtt_engine::engine::Config {
        max_rx_packet: 70_000,
        ..config()
    };
    let mut b = Broker::with_buffers(config, 300_000, 64);
    b.connect_ok(&opts("c", true), &CONNACK_OK);
    let many = |n| std::iter::repeat_n(("a", QoS::AtMostOnce), n);
    assert_eq!(
        b.engine.subscribe(b.now, many(65_536)),
        Err(Error::TooLarge)
    );
    assert_eq!(b.engine.pending_transmit(), []);
    // One fewer passes that check (the remembered-subscription table may still refuse it).
    assert_ne!(
        b.engine.subscribe(b.now, many(65_535)),
        Err(Error::TooLarge)
    );
}

#[test]
fn unsubscribe_and_unsuback() {
    let mut b = Broker::connected(config());
    let id = b
        .engine
        .unsubscribe(b.now, ["a/b", "c/#"].into_iter())
        .unwrap();
    assert_eq!(id, 1);
    assert_eq!(
        b.sent(),
        [0xA2, 0x0C, 0x00, 0x01, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x03, b'c', b'/', b'#']
    );
    b.recv(&[0xB0, 0x02, 0x00, 0x01]);
    assert_eq!(b.take_events(), [Event::Unsubscribed { packet_id: 1 }]);
    // A SUBACK for an UNSUBSCRIBE id, or an UNSUBACK for a SUBSCRIBE id, is wrong.
    let sub = b
        .engine
        .subscribe(b.now, [("x", QoS::AtMostOnce)].into_iter())
        .unwrap();
    b.sent();
    b.recv(&ack(UNSUBACK, sub));
    assert_eq!(
        b.take_events(),
        [Event::Disconnected {
            reason: Some(Error::UnexpectedPacket)
        }]
    );
}

// ---------------------------------------------------------------- keep-alive

#[test]
fn keep_alive_pingreq_when_idle_and_pingresp() {
    let mut b = Broker::new(config());
    let mut o = opts("c", true);
    o.keep_alive_s = 10;
    b.connect_ok(&o, &CONNACK_OK);
    b.take_events();
    assert_eq!(b.engine.next_deadline(b.now), Some(10_000));
    b.advance(9_999);
    b.tick();
    assert!(b.sent().is_empty());
    b.advance(1);
    b.tick();
    assert_eq!(b.sent(), [0xC0, 0x00]);
    // PINGRESP due within keep-alive / 2.
    assert_eq!(b.engine.next_deadline(b.now), Some(5_000));
    b.advance(4_000);
    b.recv(&[0xD0, 0x00]);
    assert_eq!(b.take_events(), [Event::PingResponse]);
    // Sent at 10 s, received at 14 s: the next ping is due 10 s after the send.
    assert_eq!(b.engine.next_deadline(b.now), Some(6_000));
}

#[test]
fn keep_alive_pings_when_only_sending() {
    let mut b = Broker::new(config());
    let mut o = opts("c", true);
    o.keep_alive_s = 10;
    b.connect_ok(&o, &CONNACK_OK);
    // QoS 0 traffic every 3 s keeps "sent" fresh, but nothing is received.
    for _ in 0..3 {
        b.advance(3_000);
        b.publish("t", b"", QoS::AtMostOnce, false);
        b.sent();
        b.tick();
    }
    b.advance(999);
    b.tick();
    assert!(b.sent().is_empty());
    b.advance(1);
    b.tick();
    assert_eq!(b.sent(), [0xC0, 0x00], "nothing received for 10 s");
}

#[test]
fn keep_alive_pings_when_only_receiving() {
    let mut b = Broker::new(config());
    let mut o = opts("c", true);
    o.keep_alive_s = 10;
    b.connect_ok(&o, &CONNACK_OK);
    for _ in 0..3 {
        b.advance(3_000);
        b.recv(&[0x30, 0x03, 0x00, 0x01, b't']);
        b.tick();
    }
    b.advance(1_000);
    b.tick();
    assert_eq!(b.sent(), [0xC0, 0x00], "nothing sent for 10 s");
}

#[test]
fn pingresp_late_is_a_ping_timeout() {
    let mut cfg = config();
    cfg.ping_timeout_ms = 3_000;
    let mut b = Broker::new(cfg);
    let mut o = opts("c", true);
    o.keep_alive_s = 10;
    b.connect_ok(&o, &CONNACK_OK);
    b.take_events();
    b.advance(10_000);
    b.tick();
    assert_eq!(b.sent(), [0xC0, 0x00]);
    b.advance(2_999);
    b.tick();
    assert_eq!(b.engine.state(), State::Connected);
    assert!(b.sent().is_empty(), "no second PINGREQ while one is out");
    b.advance(1);
    b.tick();
    assert_eq!(b.engine.state(), State::Disconnected);
    assert_eq!(
        b.take_events(),
        [Event::Disconnected {
            reason: Some(Error::PingTimeout)
        }]
    );
}

#[test]
fn user_ping() {
    let mut b = Broker::connected(config()); // keep-alive 60 s
    b.engine.ping(b.now).unwrap();
    assert_eq!(b.engine.ping(b.now), Err(Error::Full));
    assert_eq!(b.sent(), [0xC0, 0x00]);
    assert_eq!(b.engine.next_deadline(b.now), Some(30_000));
    b.recv(&[0xD0, 0x00]);
    assert_eq!(b.take_events(), [Event::PingResponse]);
    b.engine.ping(b.now).unwrap();
}

#[test]
fn keep_alive_zero_arms_no_timer() {
    let mut b = Broker::new(config());
    let mut o = opts("c", true);
    o.keep_alive_s = 0;
    b.connect_ok(&o, &CONNACK_OK);
    assert_eq!(b.engine.next_deadline(b.now), None);
    b.advance(1_000_000);
    b.tick();
    assert!(b.sent().is_empty());
}

#[test]
fn ack_timeout() {
    let mut cfg = config();
    cfg.ack_timeout_ms = 5_000;
    let mut b = Broker::connected(cfg);
    b.publish("t", b"", QoS::AtLeastOnce, false);
    b.sent();
    b.advance(2_000);
    let sub = b
        .engine
        .subscribe(b.now, [("f", QoS::AtMostOnce)].into_iter());
    assert_eq!(sub, Ok(2));
    b.sent();
    assert_eq!(b.engine.next_deadline(b.now), Some(3_000));
    b.advance(2_999);
    b.tick();
    assert_eq!(b.engine.state(), State::Connected);
    b.advance(1);
    b.tick();
    assert_eq!(
        b.take_events(),
        [Event::Disconnected {
            reason: Some(Error::AckTimeout)
        }]
    );
    // Off when 0.
    let mut b = Broker::connected(config());
    b.publish("t", b"", QoS::AtLeastOnce, false);
    b.sent();
    assert_eq!(
        b.engine.next_deadline(b.now),
        Some(60_000),
        "keep-alive only"
    );
}

// ---------------------------------------------------------------- DISCONNECT

#[test]
fn disconnect_after_tx_drains() {
    let mut b = Broker::connected(config());
    b.publish("t", b"q", QoS::AtMostOnce, false);
    b.engine.disconnect(b.now).unwrap();
    assert_eq!(b.engine.state(), State::Disconnecting);
    assert_eq!(b.engine.disconnect(b.now), Err(Error::InvalidState));
    assert_eq!(
        b.engine.pending_transmit(),
        [0x30, 0x04, 0x00, 0x01, b't', b'q', 0xE0, 0x00]
    );
    assert_eq!(
        b.engine.publish(b.now, "t", b"", QoS::AtMostOnce, false),
        Err(Error::InvalidState)
    );
    b.engine.transmit_done(b.now, 7);
    assert_eq!(b.engine.state(), State::Disconnecting);
    assert_eq!(b.engine.poll_event(), None);
    b.engine.transmit_done(b.now, 1);
    assert_eq!(b.engine.state(), State::Disconnected);
    assert_eq!(b.take_events(), [Event::Disconnected { reason: None }]);
    assert_eq!(b.engine.next_deadline(b.now), None);
}

#[test]
fn disconnect_ends_at_the_connect_timeout_when_the_peer_stops_reading() {
    let mut b = Broker::connected(config());
    b.engine.disconnect(b.now).unwrap();
    assert_eq!(b.engine.pending_transmit(), [0xE0, 0x00]);
    // The peer never reads: the DISCONNECT stays in tx.
    assert_eq!(b.engine.next_deadline(b.now), Some(10_000));
    b.advance(9_999);
    b.engine.handle_timeout(b.now);
    assert_eq!(b.engine.state(), State::Disconnecting);
    b.advance(1);
    b.engine.handle_timeout(b.now);
    assert_eq!(b.engine.state(), State::Disconnected);
    assert_eq!(b.take_events(), [Event::Disconnected { reason: None }]);
    assert!(b.engine.pending_transmit().is_empty());
}

#[test]
fn disconnect_while_awaiting_connack_is_immediate() {
    let mut b = Broker::new(config());
    b.connect(&opts("c", true));
    b.engine.disconnect(b.now).unwrap();
    assert_eq!(b.engine.state(), State::Disconnected);
    assert_eq!(b.take_events(), [Event::Disconnected { reason: None }]);
    assert!(b.sent().is_empty());
    assert_eq!(b.engine.disconnect(b.now), Err(Error::InvalidState));
}

#[test]
fn qos1_stored_at_disconnect_is_resent_next_time() {
    let mut b = Broker::connected(config());
    b.publish("t", b"", QoS::AtLeastOnce, false);
    b.engine.disconnect(b.now).unwrap();
    assert_eq!(
        b.sent(),
        [0x32, 0x05, 0x00, 0x01, b't', 0x00, 0x01, 0xE0, 0x00]
    );
    let (_, resent) = b.connect_ok(&opts("c", false), &CONNACK_OK);
    assert_eq!(resent, [0x3A, 0x05, 0x00, 0x01, b't', 0x00, 0x01]);
}

// ---------------------------------------------------------------- persistent session

/// Disconnected from a persistent session with: id 1 QoS 1 sent, id 2 QoS 2 at PUBREL,
/// id 3 QoS 2 sent, id 4 QoS 1 published after the loss, and incoming QoS 2 id 77 awaiting PUBREL.
fn session_with_everything_in_flight(split: Split, start: u32) -> Broker {
    let mut b = Broker::new(config()).start_at(start);
    b.split = split;
    b.connect_ok(&opts("dev", false), &CONNACK_OK);
    assert_eq!(b.publish("s/1", b"one", QoS::AtLeastOnce, false), Some(1));
    assert_eq!(b.publish("s/2", b"two", QoS::ExactlyOnce, false), Some(2));
    assert_eq!(b.publish("s/3", b"three", QoS::ExactlyOnce, true), Some(3));
    b.sent();
    b.recv(&ack(PUBREC, 2));
    assert_eq!(b.sent(), ack(PUBREL, 2));
    b.recv(&publish_bytes(0x04, "in", Some(77), b"x"));
    assert_eq!(b.sent(), ack(PUBREC, 77));
    assert_eq!(b.take_got().len(), 1);
    // A QoS 0 message still in tx is dropped with it (at most once): never re-sent.
    b.publish("s/1", b"lost", QoS::AtMostOnce, false);
    assert!(!b.engine.pending_transmit().is_empty());
    b.engine.connection_lost(b.now, Error::PeerClosed);
    assert_eq!(b.engine.state(), State::Disconnected);
    assert!(b.engine.pending_transmit().is_empty(), "tx dropped");
    assert_eq!(b.publish("s/4", b"four", QoS::AtLeastOnce, false), Some(4));
    assert_eq!(
        b.take_events(),
        [
            Event::Connected {
                session_present: false
            },
            Event::Disconnected {
                reason: Some(Error::PeerClosed)
            }
        ]
    );
    b
}

/// What a reconnect must re-send for `session_with_everything_in_flight`, in order.
fn expected_resend() -> Vec<u8> {
    [
        &[
            0x3A, 0x0A, 0x00, 0x03, b's', b'/', b'1', 0x00, 0x01, b'o', b'n', b'e',
        ][..],
        &[0x62, 0x02, 0x00, 0x02],
        &[
            0x3D, 0x0C, 0x00, 0x03, b's', b'/', b'3', 0x00, 0x03, b't', b'h', b'r', b'e', b'e',
        ],
        // Never sent: DUP 0.
        &[
            0x32, 0x0B, 0x00, 0x03, b's', b'/', b'4', 0x00, 0x04, b'f', b'o', b'u', b'r',
        ],
    ]
    .concat()
}

#[cfg(feature = "qos2")]
#[test]
fn session_present_resends_with_dup_same_ids_in_order() {
    let mut b = session_with_everything_in_flight(Split::Whole, 1_000);
    let (_, resent) = b.connect_ok(&opts("dev", false), &CONNACK_PRESENT);
    assert_eq!(resent, expected_resend());
    assert_eq!(
        b.take_events(),
        [Event::Connected {
            session_present: true
        }]
    );
    // Incoming QoS 2 id 77 is still remembered: its redelivery is not delivered again.
    b.recv(&publish_bytes(0x0C, "in", Some(77), b"x"));
    assert_eq!(b.sent(), ack(PUBREC, 77));
    assert!(b.take_got().is_empty());
    // The handshakes finish on the new connection.
    b.recv(&ack(PUBACK, 1));
    b.recv(&ack(PUBCOMP, 2));
    b.recv(&ack(PUBREC, 3));
    assert_eq!(b.sent(), ack(PUBREL, 3));
    b.recv(&ack(PUBCOMP, 3));
    b.recv(&ack(PUBACK, 4));
    assert_eq!(
        b.take_events(),
        [1, 2, 3, 4].map(|packet_id| Event::PublishComplete { packet_id })
    );
    assert_eq!(b.engine.inflight(), 0);
    // A second loss re-sends nothing.
    b.engine.connection_lost(b.now, Error::Transport);
    let (_, resent) = b.connect_ok(&opts("dev", false), &CONNACK_PRESENT);
    assert!(resent.is_empty());
}

#[cfg(feature = "qos2")]
#[test]
fn session_not_present_is_session_lost_but_nothing_is_dropped() {
    let mut b = session_with_everything_in_flight(Split::Whole, 1_000);
    let (_, resent) = b.connect_ok(&opts("dev", false), &CONNACK_OK);
    assert_eq!(resent, expected_resend());
    assert_eq!(
        b.take_events(),
        [
            Event::Connected {
                session_present: false
            },
            Event::SessionLost
        ]
    );
    // Incoming QoS 2 ids were cleared with the broker's session: id 77 is a new message.
    b.recv(&publish_bytes(0x04, "in", Some(77), b"y"));
    assert_eq!(b.take_got().len(), 1);
}

#[test]
fn first_persistent_connect_is_not_session_lost() {
    let mut b = Broker::new(config());
    b.connect_ok(&opts("dev", false), &CONNACK_OK);
    assert_eq!(
        b.take_events(),
        [Event::Connected {
            session_present: false
        }]
    );
}

#[test]
fn clean_session_with_session_present_is_malformed() {
    let mut b = Broker::new(config());
    b.connect(&opts("c", true));
    b.recv(&CONNACK_PRESENT);
    assert_eq!(
        b.take_events(),
        [Event::Disconnected {
            reason: Some(Error::Malformed)
        }]
    );
}

// ---------------------------------------------------------------- splitting and the clock

/// A long scenario; returns everything observable.
fn scenario(split: Split, start: u32) -> (Vec<u8>, Vec<Event>, Vec<Got>, State) {
    let mut b = session_with_everything_in_flight(split, start);
    let mut all_sent = Vec::new();
    let mut o = opts("dev", false);
    o.keep_alive_s = 2;
    let (connect, resent) = b.connect_ok(&o, &CONNACK_PRESENT);
    all_sent.extend(connect);
    all_sent.extend(resent);
    let sub = b
        .engine
        .subscribe(
            b.now,
            [("a/#", QoS::ExactlyOnce), ("b", QoS::AtMostOnce)].into_iter(),
        )
        .unwrap();
    let mut input = Vec::new();
    input.extend([0x90, 0x04, 0x00, sub as u8, 0x02, 0x80]);
    input.extend(ack(PUBACK, 1));
    input.extend(ack(PUBCOMP, 2));
    input.extend(publish_bytes(0x00, "a/x", None, &[7; 300]));
    input.extend(publish_bytes(0x02, "a/y", Some(5), b"q1"));
    input.extend(publish_bytes(0x05, "a/z", Some(6), b"q2"));
    input.extend(publish_bytes(0x0D, "a/z", Some(6), b"q2"));
    input.extend(ack(PUBREL, 6));
    input.extend(ack(PUBREC, 3));
    input.extend(ack(PUBCOMP, 3));
    b.recv(&input);
    all_sent.extend(b.sent());
    // Keep-alive (2 s, PINGRESP within 1 s) across the clock's wrap: PINGREQ at +2.1 s,
    // PINGRESP, PINGREQ at +4.2 s, no PINGRESP, timeout at +5.2 s.
    for _ in 0..3 {
        b.advance(700);
        b.tick();
        all_sent.extend(b.sent());
    }
    b.recv(&[0xD0, 0x00]);
    for _ in 0..3 {
        b.advance(700);
        b.tick();
        all_sent.extend(b.sent());
    }
    b.advance(1_000);
    b.tick();
    let events = b.take_events();
    (all_sent, events, b.take_got(), b.engine.state())
}

#[cfg(feature = "qos2")]
#[test]
fn any_split_of_the_input_gives_identical_results() {
    let whole = scenario(Split::Whole, 1_000);
    let (sent, events, got, state) = &whole;
    // Spot checks that the scenario did what it says.
    assert_eq!(got.len(), 4, "SUBACK, QoS 0, QoS 1, QoS 2 once");
    assert!(sent.windows(4).any(|w| w == [0x70, 0x02, 0x00, 0x06]));
    assert!(!events.contains(&Event::PublishComplete { packet_id: 4 }));
    assert!(events.contains(&Event::PublishComplete { packet_id: 3 }));
    assert_eq!(
        events.last(),
        Some(&Event::Disconnected {
            reason: Some(Error::PingTimeout)
        })
    );
    assert_eq!(*state, State::Disconnected);
    assert_eq!(
        sent.iter().filter(|&&x| x == 0xC0).count(),
        2,
        "two PINGREQs"
    );
    assert_eq!(scenario(Split::Bytewise, 1_000), whole);
    for seed in 1..=20 {
        assert_eq!(scenario(Split::Random(seed), 1_000), whole, "seed {seed}");
    }
}

#[cfg(feature = "qos2")]
#[test]
fn timers_cross_the_clock_wrap() {
    let whole = scenario(Split::Whole, 1_000);
    assert_eq!(scenario(Split::Whole, u32::MAX - 1000), whole);
    assert_eq!(scenario(Split::Bytewise, u32::MAX - 1000), whole);
    // And each timer on its own, straddling the wrap.
    let mut b = Broker::new(config()).start_at(u32::MAX - 1000);
    b.connect(&opts("c", true));
    assert_eq!(b.engine.next_deadline(b.now), Some(10_000));
    b.advance(9_999);
    b.tick();
    assert_eq!(b.engine.state(), State::AwaitConnack);
    assert!(b.now.0 < 10_000, "the clock wrapped");
    b.advance(1);
    b.tick();
    assert_eq!(
        b.take_events(),
        [Event::Disconnected {
            reason: Some(Error::ConnectTimeout)
        }]
    );
    // The ack timeout too.
    let mut cfg = config();
    cfg.ack_timeout_ms = 2_000;
    let mut b = Broker::new(cfg).start_at(u32::MAX - 1000);
    b.connect_ok(&opts("c", true), &CONNACK_OK);
    b.take_events();
    b.publish("t", b"", QoS::AtLeastOnce, false);
    b.sent();
    b.advance(1_999);
    b.tick();
    assert_eq!(b.engine.next_deadline(b.now), Some(1));
    assert_eq!(b.engine.state(), State::Connected);
    b.advance(1);
    b.tick();
    assert_eq!(
        b.take_events(),
        [Event::Disconnected {
            reason: Some(Error::AckTimeout)
        }]
    );
}

// ---------------------------------------------------------------- back-pressure

#[test]
fn tx_full_holds_input_until_transmitted() {
    // tx of 16 holding a 14-byte PUBLISH has no room for a 4-byte PUBACK.
    let mut b = Broker::with_buffers(config(), 16, 64);
    b.connect_ok(&opts("c", true), &CONNACK_OK);
    b.publish("t", &[0; 9], QoS::AtMostOnce, false);
    assert_eq!(b.engine.pending_transmit().len(), 14);
    let input = publish_bytes(0x02, "t", Some(3), b"m");
    let (consumed, got) = b.handle_once_no_pump(&input);
    assert_eq!((consumed, got), (0, None), "no room for PUBACK");
    assert_eq!(b.engine.pending_transmit().len(), 14);
    b.engine.transmit_done(b.now, 14);
    let (consumed, got) = b.handle_once_no_pump(&input);
    assert_eq!(consumed, input.len());
    assert!(got.is_some());
    assert_eq!(b.engine.pending_transmit(), [0x40, 0x02, 0x00, 0x03]);
}

#[test]
fn full_event_queue_holds_input() {
    let mut b = Broker::connected(config());
    let cap = mqtt_engine::config::EVENT_QUEUE;
    // Fill the queue with UNSUBACK events, leaving < 3 free.
    let ids: Vec<u16> = (0..cap - 2)
        .map(|_| {
            let id = b.engine.unsubscribe(b.now, ["x"].into_iter());
            let id = id.unwrap();
            let pending = b.engine.pending_transmit().len();
            b.engine.transmit_done(b.now, pending);
            let consumed = b.engine.handle_bytes(b.now, &ack(UNSUBACK, id)).consumed;
            assert_eq!(consumed, 4);
            id
        })
        .collect();
    let id = b.engine.unsubscribe(b.now, ["x"].into_iter()).unwrap();
    let consumed = b.engine.handle_bytes(b.now, &ack(UNSUBACK, id)).consumed;
    assert_eq!(consumed, 0, "only 2 event slots free");
    for expected in &ids {
        assert_eq!(
            b.engine.poll_event(),
            Some(Event::Unsubscribed {
                packet_id: *expected
            })
        );
    }
    let consumed = b.engine.handle_bytes(b.now, &ack(UNSUBACK, id)).consumed;
    assert_eq!(consumed, 4);
    assert_eq!(
        b.engine.poll_event(),
        Some(Event::Unsubscribed { packet_id: id })
    );
}

#[test]
fn inflight_window_is_clamped() {
    let mut cfg = config();
    cfg.inflight_window = 0;
    assert_eq!(Broker::new(cfg).engine.config().inflight_window, 1);
    cfg.inflight_window = u16::MAX;
    assert_eq!(
        Broker::new(cfg).engine.config().inflight_window as usize,
        mqtt_engine::config::MAX_INFLIGHT
    );
}

#[test]
fn subscribe_refuses_a_suback_the_rx_buffer_could_not_hold() {
    // SUBACK for n filters is 4 + n bytes: a 10-byte rx buffer holds the answer to 6.
    let mut b = Broker::connected(mqtt_engine::engine::Config {
        max_rx_packet: 10,
        pubrel_max_connections: mqtt_engine::engine::DEFAULT_PUBREL_MAX_CONNECTIONS,
        oversized_limit: mqtt_engine::engine::DEFAULT_OVERSIZED_LIMIT,
        ..config()
    });
    let seven = ["a", "b", "c", "d", "e", "f", "g"].map(|f| (f, QoS::AtMostOnce));
    assert_eq!(
        b.engine.subscribe(b.now, seven.iter().copied()),
        Err(Error::TooLarge)
    );
    assert!(b.sent().is_empty());
    assert_eq!(b.engine.subscribe(b.now, seven[..6].iter().copied()), Ok(1));
    b.sent();
    b.recv(&[0x90, 0x08, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
    assert_eq!(b.engine.state(), State::Connected);
}

#[cfg(all(feature = "qos2", feature = "resubscribe"))]
#[test]
fn renewed_subscriptions_come_in_batches_whose_suback_fits_rx() {
    // A 7-byte rx buffer holds the SUBACK of at most 3 filters.
    let mut b = Broker::connected(mqtt_engine::engine::Config {
        max_rx_packet: 7,
        pubrel_max_connections: mqtt_engine::engine::DEFAULT_PUBREL_MAX_CONNECTIONS,
        oversized_limit: mqtt_engine::engine::DEFAULT_OVERSIZED_LIMIT,
        ..config()
    });
    let abc = ["a", "b", "c"].map(|f| (f, QoS::AtMostOnce));
    assert_eq!(b.engine.subscribe(b.now, abc.iter().copied()), Ok(1));
    b.sent();
    b.recv(&[0x90, 0x05, 0x00, 0x01, 0, 0, 0]);
    let de = ["d", "e"].map(|f| (f, QoS::AtLeastOnce));
    assert_eq!(b.engine.subscribe(b.now, de.iter().copied()), Ok(2));
    b.sent();
    b.recv(&[0x90, 0x04, 0x00, 0x02, 1, 1]);
    b.take_got();
    b.engine.connection_lost(b.now, Error::Transport);
    // Clean session: the broker has none of them; all five are renewed, three at a time.
    let (_, renewed) = b.connect_ok(&opts("c", true), &CONNACK_OK);
    assert_eq!(
        renewed,
        [
            0x82, 0x0E, 0x00, 0x03, //
            0x00, 0x01, b'a', 0x00, //
            0x00, 0x01, b'b', 0x00, //
            0x00, 0x01, b'c', 0x00, //
            0x82, 0x0A, 0x00, 0x04, //
            0x00, 0x01, b'd', 0x01, //
            0x00, 0x01, b'e', 0x01,
        ]
    );
}
