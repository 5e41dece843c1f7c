//! The frame decoder target: arbitrary bytes through `wire::frame` and `wire::decode`.

use mqtt_engine::wire::{self, AckKind, Frame, Packet, QoS};

use super::client_decoder;

pub fn run(data: &[u8]) {
    // decode() on arbitrary bytes: only ever Ok for exactly one complete frame.
    if wire::decode(data).is_ok() {
        assert_eq!(
            wire::frame(data, usize::MAX),
            Ok(Frame::Complete {
                total_len: data.len()
            }),
            "decode accepted bytes that are not one frame"
        );
    }
    // The client-side decoder of the checks must not panic either.
    let _ = client_decoder::decode(data);

    for max in [usize::MAX, data.len(), 64, 2] {
        match wire::frame(data, max) {
            Ok(Frame::Complete { total_len }) => {
                assert!((2..=data.len().min(max)).contains(&total_len));
                // A prefix is incomplete; more bytes after it change nothing.
                assert_eq!(
                    wire::frame(&data[..total_len - 1], max),
                    Ok(Frame::Incomplete)
                );
                check_decoded(&data[..total_len]);
            }
            Ok(Frame::Incomplete) => assert!(data.len() < 6 || max >= data.len()),
            Err(_) => {}
        }
    }
}

/// Whatever decode accepts is valid per MQTT 3.1.1 and lies inside the frame.
fn check_decoded(frame: &[u8]) {
    let Ok(packet) = wire::decode(frame) else {
        return;
    };
    let inside = |part: &[u8]| {
        let (start, end) = (
            frame.as_ptr() as usize,
            frame.as_ptr() as usize + frame.len(),
        );
        let p = part.as_ptr() as usize;
        assert!(part.is_empty() || (p >= start && p + part.len() <= end));
    };
    let ack = |kind, id| {
        let mut out = [0u8; 4];
        assert_eq!(wire::encode_ack(&mut out, kind, id), Ok(4));
        assert_eq!(
            &out[..],
            frame,
            "{kind:?} {id} does not re-encode to its bytes"
        );
    };
    match packet {
        Packet::Connack { code, .. } => assert!(code <= 5 && frame.len() == 4),
        Packet::Publish {
            dup,
            qos,
            topic,
            packet_id,
            payload,
            ..
        } => {
            client_decoder::check_topic_name(topic).unwrap();
            assert!(!topic.contains('\0'));
            assert_eq!(qos == QoS::AtMostOnce, packet_id == 0);
            assert!(!(dup && qos == QoS::AtMostOnce));
            inside(topic.as_bytes());
            inside(payload);
        }
        Packet::Puback(id) => ack(AckKind::Puback, id),
        Packet::Pubrec(id) => ack(AckKind::Pubrec, id),
        Packet::Pubrel(id) => ack(AckKind::Pubrel, id),
        Packet::Pubcomp(id) => ack(AckKind::Pubcomp, id),
        Packet::Unsuback(id) => assert!(id != 0 && frame.len() == 4),
        Packet::Suback { packet_id, codes } => {
            assert!(packet_id != 0 && !codes.is_empty());
            assert!(codes.iter().all(|c| matches!(c, 0 | 1 | 2 | 0x80)));
            inside(codes);
        }
        Packet::Pingresp => assert_eq!(frame, [0xD0, 0x00]),
    }
}
