use super::*;
use crate::wire::{encode_publish, frame, publish_len, Frame};
use std::vec;
use std::vec::Vec;

/// mqttrs's reading of a frame (the reference codec, tests only).
fn mqttrs_decode(frame: &[u8]) -> Option<mqttrs::Packet<'_>> {
    mqttrs::decode_slice(frame).ok().flatten()
}

fn malformed(bytes: &[u8]) {
    assert_eq!(decode(bytes), Err(Error::Malformed), "{bytes:02x?}");
}

#[test]
fn connack() {
    assert_eq!(
        decode(&[0x20, 0x02, 0x00, 0x00]),
        Ok(Packet::Connack {
            session_present: false,
            code: 0
        })
    );
    assert_eq!(
        decode(&[0x20, 0x02, 0x01, 0x00]),
        Ok(Packet::Connack {
            session_present: true,
            code: 0
        })
    );
    for code in 1..=5 {
        assert_eq!(
            decode(&[0x20, 0x02, 0x00, code]),
            Ok(Packet::Connack {
                session_present: false,
                code
            })
        );
    }
}

#[test]
fn connack_rejections() {
    // mqttrs crash class: remaining length too small.
    malformed(&[0x20, 0x00]);
    malformed(&[0x20, 0x01, 0x00]);
    malformed(&[0x20, 0x03, 0x00, 0x00, 0x00]);
    // Reserved ack flags (bits 7..1), which mqttrs accepts.
    malformed(&[0x20, 0x02, 0x02, 0x00]);
    malformed(&[0x20, 0x02, 0x80, 0x00]);
    malformed(&[0x20, 0x02, 0xFF, 0x00]);
    // Return codes above 5.
    malformed(&[0x20, 0x02, 0x00, 0x06]);
    malformed(&[0x20, 0x02, 0x00, 0xFF]);
    // Session present with a refusal [MQTT-3.2.2-4] (mqttrs accepts it).
    for code in 1..=5 {
        malformed(&[0x20, 0x02, 0x01, code]);
    }
    // Fixed-header flags must be 0.
    malformed(&[0x21, 0x02, 0x00, 0x00]);
}

/// Every acknowledge-flags byte and return code against §3.2.2: the 7 valid CONNACKs are
/// accepted, and mqttrs reads each of them the same way; everything else is `Malformed`
/// (mqttrs accepts some of those: reserved flags, session present with a refusal).
#[test]
fn connack_all_flags_and_codes_against_mqttrs() {
    let mut accepted = 0;
    for flags in 0..=255u8 {
        for code in 0..=255u8 {
            let frame = [0x20, 0x02, flags, code];
            let ours = decode(&frame);
            let theirs = mqttrs_decode(&frame);
            let valid = flags <= 1 && code <= 5 && !(flags == 1 && code != 0);
            if !valid {
                assert_eq!(ours, Err(Error::Malformed), "{frame:02x?}");
                continue;
            }
            accepted += 1;
            assert_eq!(
                ours,
                Ok(Packet::Connack {
                    session_present: flags == 1,
                    code
                })
            );
            let Some(mqttrs::Packet::Connack(c)) = theirs else {
                panic!("mqttrs rejects {frame:02x?}");
            };
            let their_code = match c.code {
                mqttrs::ConnectReturnCode::Accepted => 0,
                mqttrs::ConnectReturnCode::RefusedProtocolVersion => 1,
                mqttrs::ConnectReturnCode::RefusedIdentifierRejected => 2,
                mqttrs::ConnectReturnCode::ServerUnavailable => 3,
                mqttrs::ConnectReturnCode::BadUsernamePassword => 4,
                mqttrs::ConnectReturnCode::NotAuthorized => 5,
            };
            assert_eq!((c.session_present, their_code), (flags == 1, code));
        }
    }
    // Accepted, refused 1..=5 without session present, accepted with it.
    assert_eq!(accepted, 7);
}

#[test]
fn two_byte_acks() {
    assert_eq!(
        decode(&[0x40, 0x02, 0x12, 0x34]),
        Ok(Packet::Puback(0x1234))
    );
    assert_eq!(decode(&[0x50, 0x02, 0x00, 0x01]), Ok(Packet::Pubrec(1)));
    assert_eq!(
        decode(&[0x62, 0x02, 0xFF, 0xFF]),
        Ok(Packet::Pubrel(0xFFFF))
    );
    assert_eq!(decode(&[0x70, 0x02, 0x00, 0x07]), Ok(Packet::Pubcomp(7)));
    assert_eq!(decode(&[0xB0, 0x02, 0x00, 0x09]), Ok(Packet::Unsuback(9)));
}

#[test]
fn two_byte_ack_rejections() {
    for first in [0x40, 0x50, 0x62, 0x70, 0xB0] {
        // mqttrs crash class: remaining length 0 or 1.
        malformed(&[first, 0x00]);
        malformed(&[first, 0x01, 0x00]);
        // Remaining length too big for an ack.
        malformed(&[first, 0x03, 0x00, 0x01, 0x00]);
        // Packet id 0 (§2.3.1).
        malformed(&[first, 0x02, 0x00, 0x00]);
    }
    // PUBREL must carry flags 0b0010; the others 0.
    malformed(&[0x60, 0x02, 0x00, 0x01]);
    malformed(&[0x42, 0x02, 0x00, 0x01]);
}

#[test]
fn suback() {
    assert_eq!(
        decode(&[0x90, 0x03, 0x00, 0x05, 0x01]),
        Ok(Packet::Suback {
            packet_id: 5,
            codes: &[1]
        })
    );
    // More codes than mqttrs's no_std SUBACK can hold (5).
    let bytes = [0x90, 0x09, 0xAB, 0xCD, 0, 1, 2, 0x80, 0, 1, 2];
    assert_eq!(
        decode(&bytes),
        Ok(Packet::Suback {
            packet_id: 0xABCD,
            codes: &[0, 1, 2, 0x80, 0, 1, 2]
        })
    );
}

#[test]
fn suback_rejections() {
    // No return codes (mqttrs accepts it).
    malformed(&[0x90, 0x02, 0x00, 0x01]);
    // Too short for a packet id.
    malformed(&[0x90, 0x00]);
    malformed(&[0x90, 0x01, 0x00]);
    // Packet id 0.
    malformed(&[0x90, 0x03, 0x00, 0x00, 0x00]);
    // Codes outside {0, 1, 2, 0x80}.
    for bad in [3, 0x7F, 0x81, 0xFF] {
        malformed(&[0x90, 0x04, 0x00, 0x01, 0x00, bad]);
    }
}

#[test]
fn pingresp() {
    assert_eq!(decode(&[0xD0, 0x00]), Ok(Packet::Pingresp));
    malformed(&[0xD0, 0x01, 0x00]);
    malformed(&[0xD1, 0x00]);
}

#[test]
fn client_only_packets_are_unexpected() {
    for bytes in [
        &[0xC0, 0x00][..],                                 // PINGREQ
        &[0xE0, 0x00],                                     // DISCONNECT
        &[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x00], // SUBSCRIBE
        &[0xA2, 0x05, 0x00, 0x01, 0x00, 0x01, b'a'],       // UNSUBSCRIBE
        &[0x10, 0x00],                                     // CONNECT (even an empty one)
    ] {
        assert_eq!(decode(bytes), Err(Error::UnexpectedPacket), "{bytes:02x?}");
    }
    // Wrong flags are still malformed, not unexpected.
    malformed(&[0x80, 0x00]);
    malformed(&[0xC1, 0x00]);
}

#[test]
fn publish() {
    assert_eq!(
        decode(&[0x30, 0x07, 0x00, 0x03, b'a', b'/', b'b', b'h', b'i']),
        Ok(Packet::Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: "a/b",
            packet_id: 0,
            payload: b"hi"
        })
    );
    assert_eq!(
        decode(&[0x33, 0x05, 0x00, 0x01, b't', 0x00, 0x0A]),
        Ok(Packet::Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: true,
            topic: "t",
            packet_id: 10,
            payload: b""
        })
    );
    assert_eq!(
        decode(&[0x3C, 0x06, 0x00, 0x01, b't', 0x12, 0x34, 0xFF]),
        Ok(Packet::Publish {
            dup: true,
            qos: QoS::ExactlyOnce,
            retain: false,
            topic: "t",
            packet_id: 0x1234,
            payload: &[0xFF]
        })
    );
    // '$' topics and binary payloads with NULs are fine.
    assert_eq!(
        decode(&[0x30, 0x07, 0x00, 0x04, b'$', b'S', b'Y', b'S', 0x00]),
        Ok(Packet::Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: "$SYS",
            packet_id: 0,
            payload: &[0]
        })
    );
}

#[test]
fn publish_rejections() {
    // QoS 1/2 with no room for the packet id (mqttrs crash class), or half of one.
    malformed(&[0x32, 0x03, 0x00, 0x01, b't']);
    malformed(&[0x34, 0x04, 0x00, 0x01, b't', 0x00]);
    // Topic length running past the packet (mqttrs crash class).
    malformed(&[0x30, 0x03, 0x00, 0x05, b't']);
    malformed(&[0x30, 0x04, 0xFF, 0xFF, b't', b'u']);
    malformed(&[0x32, 0x05, 0x00, 0x04, b't', 0x00, 0x01]);
    // No room for the topic length itself.
    malformed(&[0x30, 0x00]);
    malformed(&[0x30, 0x01, 0x00]);
    // Wildcards in the topic (mqttrs accepts them).
    malformed(&[0x30, 0x03, 0x00, 0x01, b'+']);
    malformed(&[0x30, 0x05, 0x00, 0x03, b'a', b'/', b'#']);
    malformed(&[0x30, 0x04, 0x00, 0x02, b'a', b'+']);
    // Empty topic, invalid UTF-8, U+0000 in the topic.
    malformed(&[0x30, 0x03, 0x00, 0x00, b'x']);
    malformed(&[0x30, 0x03, 0x00, 0x01, 0xFF]);
    malformed(&[0x30, 0x04, 0x00, 0x02, 0xC3, 0x28]);
    malformed(&[0x30, 0x04, 0x00, 0x02, b'a', 0x00]);
    // Packet id 0 at QoS 1 and 2.
    malformed(&[0x32, 0x05, 0x00, 0x01, b't', 0x00, 0x00]);
    malformed(&[0x34, 0x05, 0x00, 0x01, b't', 0x00, 0x00]);
    // DUP at QoS 0 (§3.3.1.2), QoS 3 (§3.3.1.2).
    malformed(&[0x38, 0x03, 0x00, 0x01, b't']);
    malformed(&[0x36, 0x05, 0x00, 0x01, b't', 0x00, 0x01]);
    malformed(&[0x3F, 0x05, 0x00, 0x01, b't', 0x00, 0x01]);
}

#[test]
fn frame_length_must_match_remaining_length() {
    // Wrong remaining length: mqttrs would consume the wrong number of bytes.
    malformed(&[0x40, 0x02, 0x00, 0x01, 0xFF]); // a byte too many
    malformed(&[0x40, 0x03, 0x00, 0x01]); // a byte too few
    malformed(&[0x30, 0x05, 0x00, 0x01, b't']);
    malformed(&[0x30, 0x02, 0x00, 0x01, b't']);
    malformed(&[]);
    malformed(&[0x40]);
}

#[test]
fn header_rejections_apply_to_decode_too() {
    // Non-minimal remaining length (mqttrs accepts it).
    malformed(&[0xD0, 0x80, 0x00]);
    malformed(&[0x40, 0x82, 0x00, 0x00, 0x01]);
    malformed(&[0x20, 0x82, 0x80, 0x00, 0x00, 0x00]);
    // A 5th length byte.
    malformed(&[0x30, 0x80, 0x80, 0x80, 0x80, 0x00]);
    // Reserved packet types.
    malformed(&[0x00, 0x00]);
    malformed(&[0xF0, 0x00]);
}

#[test]
fn publish_round_trip_through_frame_and_decode() {
    for (qos, id) in [
        (QoS::AtMostOnce, 0),
        (QoS::AtLeastOnce, 1),
        (QoS::ExactlyOnce, 0xFFFF),
    ] {
        for payload_len in [0usize, 1, 124, 125, 300, 16_400] {
            let payload: Vec<u8> = (0..payload_len).map(|i| i as u8).collect();
            let len = publish_len("sport/tennis", payload_len, qos).unwrap();
            let mut buf = vec![0u8; len + 2];
            let n = encode_publish(
                &mut buf,
                "sport/tennis",
                &payload,
                qos,
                true,
                qos != QoS::AtMostOnce,
                id,
            )
            .unwrap();
            buf[n..].copy_from_slice(&[0xD0, 0x00]); // the next packet follows
            assert_eq!(
                frame(&buf, usize::MAX),
                Ok(Frame::Complete { total_len: n })
            );
            assert_eq!(
                decode(&buf[..n]),
                Ok(Packet::Publish {
                    dup: qos != QoS::AtMostOnce,
                    qos,
                    retain: true,
                    topic: "sport/tennis",
                    packet_id: id,
                    payload: &payload
                })
            );
            assert_mqttrs_agrees(&buf[..n], &decode(&buf[..n]).unwrap());
            assert_eq!(
                frame(&buf[n..], usize::MAX),
                Ok(Frame::Complete { total_len: 2 })
            );
        }
    }
}

fn same_slice(a: &[u8], b: &[u8]) -> bool {
    a.as_ptr() == b.as_ptr() && a.len() == b.len()
}

/// mqttrs reads a frame we accepted exactly as we do. SUBACK is ours alone (mqttrs's no_std
/// SUBACK holds at most 5 codes); CONNACK has its own exhaustive test.
fn assert_mqttrs_agrees(frame: &[u8], ours: &Packet) {
    let theirs = match ours {
        Packet::Suback { .. } | Packet::Connack { .. } => return,
        _ => mqttrs_decode(frame).expect("mqttrs rejects a frame we accept"),
    };
    let agrees = match (*ours, theirs) {
        (Packet::Puback(a), mqttrs::Packet::Puback(b))
        | (Packet::Pubrec(a), mqttrs::Packet::Pubrec(b))
        | (Packet::Pubrel(a), mqttrs::Packet::Pubrel(b))
        | (Packet::Pubcomp(a), mqttrs::Packet::Pubcomp(b))
        | (Packet::Unsuback(a), mqttrs::Packet::Unsuback(b)) => a == b.get(),
        (Packet::Pingresp, mqttrs::Packet::Pingresp) => true,
        (
            Packet::Publish {
                dup,
                qos,
                retain,
                topic,
                packet_id,
                payload,
            },
            mqttrs::Packet::Publish(p),
        ) => {
            let their_qos = match p.qospid {
                mqttrs::QosPid::AtMostOnce => QoS::AtMostOnce,
                mqttrs::QosPid::AtLeastOnce(_) => QoS::AtLeastOnce,
                mqttrs::QosPid::ExactlyOnce(_) => QoS::ExactlyOnce,
            };
            p.dup == dup
                && p.retain == retain
                && their_qos == qos
                && p.qospid.pid().map_or(0, |pid| pid.get()) == packet_id
                && same_slice(p.topic_name.as_bytes(), topic.as_bytes())
                && same_slice(p.payload, payload)
        }
        _ => false,
    };
    assert!(agrees, "mqttrs reads {frame:02x?} differently: {ours:?}");
}

/// frame() then, when complete, decode() of exactly that frame: must never panic, and
/// what it accepts mqttrs reads the same way.
fn frame_and_decode(bytes: &[u8]) {
    if let Ok(Frame::Complete { total_len }) = frame(bytes, usize::MAX) {
        if let Ok(packet) = decode(&bytes[..total_len]) {
            assert_mqttrs_agrees(&bytes[..total_len], &packet);
        }
    }
    // decode() must also survive being handed arbitrary bytes directly.
    let _ = decode(bytes);
}

#[test]
fn exhaustive_short_inputs_never_panic() {
    // Every string of length 0..=3 (16.8 M).
    frame_and_decode(&[]);
    for a in 0..=255u8 {
        frame_and_decode(&[a]);
        for b in 0..=255u8 {
            frame_and_decode(&[a, b]);
            for c in 0..=255u8 {
                frame_and_decode(&[a, b, c]);
            }
        }
    }
    // Length 4 (all 4.3 G strings is too slow for a unit test): every first byte with
    // every 1-byte remaining length that fits in 4 bytes (0..=2) and every body; then
    // every first byte frame() accepts, every 2nd and 3rd byte, and a spread of 4th bytes
    // (a 4th byte only matters as a length byte or as the body of a 4-byte packet).
    for a in 0..=255u8 {
        for b in 0..=2u8 {
            for c in 0..=255u8 {
                for d in 0..=255u8 {
                    frame_and_decode(&[a, b, c, d]);
                }
            }
        }
    }
    let accepted_first: Vec<u8> = (0..=255u8)
        .filter(|&a| frame(&[a], usize::MAX).is_ok())
        .collect();
    assert_eq!(accepted_first.len(), 13 + 12); // 13 types with fixed flags, 12 PUBLISH variants
    for &a in &accepted_first {
        for b in 0..=255u8 {
            for c in 0..=255u8 {
                for d in [0x00, 0x01, 0x02, 0x7F, 0x80, 0x81, 0xFE, 0xFF] {
                    frame_and_decode(&[a, b, c, d]);
                }
            }
        }
    }
}

#[test]
fn random_inputs_never_panic() {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        // xorshift64
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let valid_first = [
        0x20u8, 0x30, 0x32, 0x34, 0x3B, 0x40, 0x50, 0x62, 0x70, 0x90, 0xB0, 0xD0,
    ];
    let mut buf = [0u8; 64];
    for _ in 0..300_000 {
        let len = (next() % 65) as usize;
        for byte in buf.iter_mut().take(len) {
            *byte = next() as u8;
        }
        // Mostly plausible headers, so the bodies get exercised too.
        let r = next();
        if len >= 2 && r % 4 != 0 {
            buf[0] = valid_first[(r >> 8) as usize % valid_first.len()];
            buf[1] = ((r >> 16) as usize % (len - 1)) as u8;
        }
        frame_and_decode(&buf[..len]);
    }
}
