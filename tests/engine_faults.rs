//! Bad input from the broker: every mqttrs crash class and every protocol violation ends
//! the connection with the specific reason, never panics, and loses nothing accepted.
// The fixture publishes QoS 2 (its exchanges are part of what breaks): the qos2 builds only.
#![cfg(feature = "qos2")]

mod common;

use common::*;
use mqtt_engine::engine::{Event, State};
use mqtt_engine::wire::QoS;
use mqtt_engine::Error;

/// A persistent session with QoS 1 id 1 sent and QoS 2 id 2 at the PUBREL stage, and a
/// pending SUBSCRIBE (id 3, 2 filters).
fn busy_session() -> Broker {
    let mut b = Broker::new(config());
    b.connect_ok(&opts("dev", false), &CONNACK_OK);
    assert_eq!(b.publish("k/1", b"a", QoS::AtLeastOnce, false), Some(1));
    assert_eq!(b.publish("k/2", b"b", QoS::ExactlyOnce, false), Some(2));
    let sub = b.engine.subscribe(
        b.now,
        [("s/1", QoS::AtMostOnce), ("s/2", QoS::AtMostOnce)].into_iter(),
    );
    assert_eq!(sub, Ok(3));
    b.sent();
    b.recv(&ack(PUBREC, 2));
    assert_eq!(b.sent(), ack(PUBREL, 2));
    assert_eq!(
        b.take_events(),
        [Event::Connected {
            session_present: false
        }]
    );
    b
}

/// Feeds `input` in one call to a connected busy session and checks the outcome; then
/// checks that a new connection re-sends everything that was in flight.
fn assert_closes_with(input: &[u8], reason: Error) {
    let mut b = busy_session();
    let (consumed, got) = b.handle_once(input);
    assert_eq!(consumed, input.len(), "input {input:02X?}: all consumed");
    assert_eq!(got, None, "input {input:02X?}");
    assert_eq!(b.engine.state(), State::Disconnected, "input {input:02X?}");
    assert_eq!(
        b.take_events(),
        [Event::Disconnected {
            reason: Some(reason)
        }],
        "input {input:02X?}"
    );
    assert!(b.sent().is_empty(), "input {input:02X?}: nothing answered");
    assert_eq!(b.engine.inflight(), 2);
    assert_resent_after_reconnect(&mut b);
}

fn assert_resent_after_reconnect(b: &mut Broker) {
    let (_, resent) = b.connect_ok(&opts("dev", false), &CONNACK_PRESENT);
    // The SUBSCRIBE never acknowledged may not have arrived: renewed first (new id 4), then
    // the stored QoS 1 PUBLISH with DUP and the QoS 2 PUBREL.
    assert_eq!(
        resent,
        [
            &[0x82, 0x0E, 0x00, 0x04][..],
            &[0x00, 0x03, b's', b'/', b'1', 0x00, 0x00, 0x03, b's', b'/', b'2', 0x00],
            &[0x3A, 0x08, 0x00, 0x03, b'k', b'/', b'1', 0x00, 0x01, b'a'],
            &[0x62, 0x02, 0x00, 0x02],
        ]
        .concat()
    );
    assert_eq!(
        b.take_events(),
        [Event::Connected {
            session_present: true
        }]
    );
    b.recv(&ack(PUBACK, 1));
    b.recv(&ack(PUBCOMP, 2));
    assert_eq!(
        b.take_events(),
        [
            Event::PublishComplete { packet_id: 1 },
            Event::PublishComplete { packet_id: 2 }
        ]
    );
    assert_eq!(b.engine.inflight(), 0);
}

// ------------------------------------------------------------ mqttrs crash classes

#[test]
fn short_acks_are_malformed() {
    assert_closes_with(&[0x40, 0x01, 0x00], Error::Malformed); // PUBACK
    assert_closes_with(&[0x40, 0x00], Error::Malformed);
    assert_closes_with(&[0xB0, 0x01, 0x03], Error::Malformed); // UNSUBACK
    assert_closes_with(&[0x50, 0x01, 0x02], Error::Malformed); // PUBREC
    assert_closes_with(&[0x62, 0x00], Error::Malformed); // PUBREL
    assert_closes_with(&[0x70, 0x01, 0x02], Error::Malformed); // PUBCOMP
}

#[test]
fn short_connack_is_malformed() {
    for input in [&[0x20, 0x01, 0x00][..], &[0x20, 0x00]] {
        let mut b = busy_session();
        b.engine.connection_lost(b.now, Error::PeerClosed);
        b.take_events();
        b.connect(&opts("dev", false));
        let (consumed, got) = b.handle_once(input);
        assert_eq!((consumed, got), (input.len(), None));
        assert_eq!(
            b.take_events(),
            [Event::Disconnected {
                reason: Some(Error::Malformed)
            }]
        );
        assert_resent_after_reconnect(&mut b);
    }
}

#[test]
fn qos1_publish_without_room_for_its_id() {
    assert_closes_with(&[0x32, 0x03, 0x00, 0x01, b't'], Error::Malformed);
    assert_closes_with(&[0x32, 0x04, 0x00, 0x01, b't', 0x00], Error::Malformed);
    assert_closes_with(&[0x34, 0x03, 0x00, 0x01, b't'], Error::Malformed);
}

#[test]
fn topic_length_past_the_packet() {
    assert_closes_with(&[0x30, 0x04, 0x00, 0x09, b'a', b'b'], Error::Malformed);
    assert_closes_with(&[0x30, 0x01, 0x00], Error::Malformed);
    assert_closes_with(&[0x30, 0x00], Error::Malformed);
}

#[test]
fn wrong_remaining_length() {
    // Complete frames whose length does not fit their type (a length larger than the
    // bytes at hand is just Incomplete).
    assert_closes_with(&[0x40, 0x03, 0x00, 0x01, 0x00], Error::Malformed);
    assert_closes_with(&[0xD0, 0x01, 0x00], Error::Malformed); // PINGRESP
    assert_closes_with(&[0x20, 0x03, 0x00, 0x00, 0x00], Error::Malformed); // CONNACK
}

#[test]
fn non_minimal_remaining_length() {
    assert_closes_with(&[0x40, 0x82, 0x00, 0x00, 0x01], Error::Malformed);
    assert_closes_with(&[0xD0, 0x80, 0x00], Error::Malformed);
    // Five length bytes.
    assert_closes_with(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], Error::Malformed);
}

#[test]
fn wildcard_or_bad_publish_topic() {
    assert_closes_with(&publish_bytes(0x00, "a/#", None, b""), Error::Malformed);
    assert_closes_with(&publish_bytes(0x00, "+", None, b"x"), Error::Malformed);
    assert_closes_with(
        &publish_bytes(0x02, "a/+/b", Some(5), b""),
        Error::Malformed,
    );
    assert_closes_with(&publish_bytes(0x00, "", None, b"x"), Error::Malformed);
    assert_closes_with(&publish_bytes(0x00, "a\0b", None, b""), Error::Malformed);
    assert_closes_with(&[0x30, 0x04, 0x00, 0x02, 0xC3, 0x28], Error::Malformed);
    // not UTF-8
}

#[test]
fn publish_flag_violations() {
    assert_closes_with(&publish_bytes(0x06, "t", Some(1), b""), Error::Malformed); // QoS 3
    assert_closes_with(&publish_bytes(0x08, "t", None, b""), Error::Malformed); // DUP at QoS 0
    assert_closes_with(&publish_bytes(0x02, "t", Some(0), b""), Error::Malformed);
    // id 0
}

#[test]
fn suback_with_no_codes_or_bad_codes() {
    assert_closes_with(&[0x90, 0x02, 0x00, 0x03], Error::Malformed);
    assert_closes_with(&[0x90, 0x04, 0x00, 0x03, 0x00, 0x03], Error::Malformed);
}

#[test]
fn suback_with_the_wrong_number_of_codes() {
    assert_closes_with(&[0x90, 0x03, 0x00, 0x03, 0x00], Error::Malformed);
    assert_closes_with(
        &[0x90, 0x05, 0x00, 0x03, 0x00, 0x01, 0x02],
        Error::Malformed,
    );
}

#[test]
fn reserved_connack_flags() {
    for flags in [0x02, 0x80, 0xFE] {
        let mut b = busy_session();
        b.engine.connection_lost(b.now, Error::PeerClosed);
        b.take_events();
        b.connect(&opts("dev", false));
        let input = [0x20, 0x02, flags, 0x00];
        assert_eq!(b.handle_once(&input), (4, None));
        assert_eq!(
            b.take_events(),
            [Event::Disconnected {
                reason: Some(Error::Malformed)
            }]
        );
        assert_resent_after_reconnect(&mut b);
    }
    // A return code above 5.
    let mut b = Broker::new(config());
    b.connect(&opts("c", true));
    b.recv(&[0x20, 0x02, 0x00, 0x06]);
    assert_eq!(
        b.take_events(),
        [Event::Disconnected {
            reason: Some(Error::Malformed)
        }]
    );
}

// ------------------------------------------------------------ protocol violations

#[test]
fn second_connack() {
    assert_closes_with(&CONNACK_OK, Error::UnexpectedPacket);
    assert_closes_with(&[0x20, 0x02, 0x00, 0x05], Error::UnexpectedPacket);
}

#[test]
fn packets_a_broker_never_sends() {
    let connect = [
        0x10, 0x0D, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x01, b'x',
    ];
    assert_closes_with(&connect, Error::UnexpectedPacket);
    assert_closes_with(
        &[0x82, 0x06, 0x00, 0x09, 0x00, 0x01, b'a', 0x00],
        Error::UnexpectedPacket,
    );
    assert_closes_with(
        &[0xA2, 0x05, 0x00, 0x09, 0x00, 0x01, b'a'],
        Error::UnexpectedPacket,
    );
    assert_closes_with(&[0xC0, 0x00], Error::UnexpectedPacket); // PINGREQ
    assert_closes_with(&[0xE0, 0x00], Error::UnexpectedPacket); // DISCONNECT
}

#[test]
fn reserved_types_and_wrong_fixed_flags() {
    assert_closes_with(&[0x00, 0x00], Error::Malformed);
    assert_closes_with(&[0xF0, 0x00], Error::Malformed);
    assert_closes_with(&[0x41, 0x02, 0x00, 0x01], Error::Malformed); // PUBACK flags
    assert_closes_with(&[0x60, 0x02, 0x00, 0x02], Error::Malformed); // PUBREL without 0b0010
    assert_closes_with(&[0xD2, 0x00], Error::Malformed);
}

#[test]
fn packet_bigger_than_max_rx_packet() {
    // max_rx_packet is 1024: decided from the header alone, before the body arrives. Only a
    // PUBLISH within the oversized limit is read past (tests/no_wedge.rs).
    let mut big = vec![0x90];
    big.extend(remaining_length(2000));
    assert_closes_with(&big, Error::PacketTooLarge);
    let mut hostile = vec![0x30];
    hostile.extend(remaining_length(
        mqtt_engine::engine::DEFAULT_OVERSIZED_LIMIT,
    ));
    assert_closes_with(&hostile, Error::PacketTooLarge);
    // Exactly at the limit is fine.
    let mut b = busy_session();
    let payload = vec![b'p'; 1024 - 3 - 2 - 1];
    let at_limit = publish_bytes(0x00, "t", None, &payload);
    assert_eq!(at_limit.len(), 1024);
    let (consumed, got) = b.handle_once(&at_limit);
    assert_eq!(consumed, 1024);
    assert!(got.is_some());
    let over = publish_bytes(0x00, "t", None, &[payload.clone(), vec![0]].concat());
    let (consumed, got) = b.handle_once(&over);
    assert_eq!(consumed, 6, "the head: fixed header, topic");
    assert_eq!(
        got,
        Some(Got::Oversized {
            topic: Some("t".to_string()),
            size: 1025,
            qos: QoS::AtMostOnce,
            packet_id: 0
        })
    );
    assert_eq!(b.handle_once(&over[6..]), (1019, None));
    assert_eq!(b.engine.state(), State::Connected);
}

#[test]
fn acks_for_unknown_ids() {
    assert_closes_with(&ack(PUBACK, 99), Error::UnknownPacketId);
    assert_closes_with(&ack(PUBREC, 99), Error::UnknownPacketId);
    assert_closes_with(&ack(PUBCOMP, 99), Error::UnknownPacketId);
    assert_closes_with(&ack(UNSUBACK, 99), Error::UnknownPacketId);
    assert_closes_with(&[0x90, 0x03, 0x00, 0x63, 0x00], Error::UnknownPacketId);
    // Id of the pending SUBSCRIBE acknowledged as a publish, and the other way round.
    assert_closes_with(&ack(PUBACK, 3), Error::UnknownPacketId);
    assert_closes_with(&[0x90, 0x03, 0x00, 0x01, 0x00], Error::UnknownPacketId);
}

#[test]
fn anything_but_connack_before_connack() {
    for input in [
        &[0xD0, 0x00][..],
        &[0x40, 0x02, 0x00, 0x01],
        &[0x30, 0x03, 0x00, 0x01, b't'],
    ] {
        let mut b = busy_session();
        b.engine.connection_lost(b.now, Error::PeerClosed);
        b.take_events();
        b.connect(&opts("dev", false));
        assert_eq!(b.handle_once(input), (input.len(), None));
        assert_eq!(
            b.take_events(),
            [Event::Disconnected {
                reason: Some(Error::UnexpectedPacket)
            }]
        );
        assert_resent_after_reconnect(&mut b);
    }
}

#[test]
fn bad_packet_after_good_ones_in_one_buffer() {
    // Good packets before the bad one are handled; the rest of the buffer is dropped.
    let mut b = busy_session();
    let input = [
        &publish_bytes(0x02, "in", Some(4), b"ok")[..],
        &[0x40, 0x01, 0x00],
        &ack(PUBACK, 1),
    ]
    .concat();
    let first = b.handle_once(&input);
    assert_eq!(first.0, 10);
    assert!(first.1.is_some());
    assert_eq!(b.sent(), ack(PUBACK, 4));
    let second = b.handle_once(&input[10..]);
    assert_eq!(second, (input.len() - 10, None));
    assert_eq!(
        b.take_events(),
        [Event::Disconnected {
            reason: Some(Error::Malformed)
        }]
    );
    assert_resent_after_reconnect(&mut b);
}

#[test]
fn garbage_never_panics() {
    // Every 1- to 3-byte input and a pseudo-random sweep of longer ones.
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for a in 0..=255u8 {
        inputs.push(vec![a]);
        for b in [0x00, 0x01, 0x02, 0x03, 0x7F, 0x80, 0xFF] {
            inputs.push(vec![a, b]);
            inputs.push(vec![a, b, 0x00]);
            inputs.push(vec![a, b, 0x01, 0x00, 0x02]);
        }
    }
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..2_000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 40) as usize;
        inputs.push(
            (0..len)
                .map(|i| (seed >> (i % 8 * 8)) as u8 ^ i as u8)
                .collect(),
        );
    }
    for input in inputs {
        let mut b = busy_session();
        let (consumed, _) = b.handle_once(&input);
        assert!(consumed <= input.len());
        b.pump();
        if b.engine.state() == State::Disconnected {
            assert!(matches!(
                b.events.last(),
                Some(Event::Disconnected { reason: Some(_) })
            ));
            assert_eq!(b.engine.inflight(), 2, "input {input:02X?}");
        }
    }
}
