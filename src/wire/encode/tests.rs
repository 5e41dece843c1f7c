use super::*;
use std::string::String;
use std::vec;
use std::vec::Vec;

fn fields(client_id: &str) -> ConnectFields<'_> {
    ConnectFields {
        client_id,
        keep_alive_s: 60,
        clean_session: true,
        username: None,
        password: None,
        will: None,
    }
}

/// Encodes into a buffer of exactly the announced length, checks every shorter buffer
/// is `Full`, and returns the bytes.
fn encode_exact(len: usize, encode: impl Fn(&mut [u8]) -> Result<usize, Error>) -> Vec<u8> {
    let mut out = vec![0u8; len];
    assert_eq!(encode(&mut out), Ok(len));
    for short in [0, 1, len / 2, len - 1] {
        let mut buf = vec![0u8; short];
        assert_eq!(encode(&mut buf), Err(Error::Full), "buffer of {short}");
    }
    // A larger buffer works too and is written only at the front.
    let mut big = vec![0xEEu8; len + 3];
    assert_eq!(encode(&mut big), Ok(len));
    assert_eq!(&big[..len], &out[..]);
    assert_eq!(&big[len..], &[0xEE; 3]);
    out
}

fn connect_bytes(c: &ConnectFields) -> Vec<u8> {
    let len = connect_len(c).unwrap();
    encode_exact(len, |out| encode_connect(out, c))
}

#[test]
fn connect_minimal_clean() {
    let c = fields("abc");
    assert_eq!(
        connect_bytes(&c),
        [
            0x10, 0x0F, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x03,
            b'a', b'b', b'c'
        ]
    );
}

#[cfg(feature = "will")]
#[test]
fn connect_not_clean_with_will_user_password() {
    let c = ConnectFields {
        client_id: "c1",
        keep_alive_s: 0x1234,
        clean_session: false,
        username: Some("u"),
        password: Some(b"p\0w"), // binary data: U+0000 allowed
        will: Some(Will {
            topic: "w/t",
            payload: b"bye",
            qos: QoS::AtLeastOnce,
            retain: true,
        }),
    };
    assert_eq!(
        connect_bytes(&c),
        [
            0x10, 0x20, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0xEC, 0x12, 0x34, 0x00, 0x02,
            b'c', b'1', 0x00, 0x03, b'w', b'/', b't', 0x00, 0x03, b'b', b'y', b'e', 0x00, 0x01,
            b'u', 0x00, 0x03, b'p', 0x00, b'w'
        ]
    );
}

#[cfg(feature = "will")]
#[test]
fn connect_will_qos2_no_retain_and_username_only() {
    let c = ConnectFields {
        will: Some(Will {
            topic: "x",
            payload: b"",
            qos: QoS::ExactlyOnce,
            retain: false,
        }),
        username: Some("me"),
        keep_alive_s: 1,
        ..fields("id")
    };
    assert_eq!(
        connect_bytes(&c),
        [
            0x10, 0x17, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x96, 0x00, 0x01, 0x00, 0x02,
            b'i', b'd', 0x00, 0x01, b'x', 0x00, 0x00, 0x00, 0x02, b'm', b'e'
        ]
    );
    // Will QoS 0 with retain: flags 0x20 | 0x04 | clean 0x02.
    let c = ConnectFields {
        will: Some(Will {
            topic: "x",
            payload: b"",
            qos: QoS::AtMostOnce,
            retain: true,
        }),
        ..fields("id")
    };
    assert_eq!(connect_bytes(&c)[9], 0x26);
}

#[test]
fn connect_empty_client_id_only_with_clean_session() {
    assert_eq!(
        connect_bytes(&fields("")),
        [0x10, 0x0C, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x00]
    );
    let c = ConnectFields {
        clean_session: false,
        ..fields("")
    };
    assert_eq!(connect_len(&c), Err(Error::InvalidArgument));
    assert_eq!(
        encode_connect(&mut [0; 64], &c),
        Err(Error::InvalidArgument)
    );
}

#[cfg(feature = "will")]
#[test]
fn connect_validation_errors() {
    let long = "a".repeat(65_536);
    let max = "a".repeat(65_535);
    let long_bytes = vec![0u8; 65_536];
    let mut out = vec![0u8; 400_000];
    let cases: Vec<(ConnectFields, Error)> = vec![
        (
            ConnectFields {
                password: Some(b"pw"),
                ..fields("c")
            },
            Error::PasswordWithoutUsername,
        ),
        (fields("a\0b"), Error::InvalidUtf8),
        (
            ConnectFields {
                username: Some("u\0"),
                ..fields("c")
            },
            Error::InvalidUtf8,
        ),
        (fields(&long), Error::TooLarge),
        (
            ConnectFields {
                username: Some(&long),
                ..fields("c")
            },
            Error::TooLarge,
        ),
        (
            ConnectFields {
                username: Some("u"),
                password: Some(&long_bytes),
                ..fields("c")
            },
            Error::TooLarge,
        ),
        (
            ConnectFields {
                will: Some(Will {
                    topic: "a/#",
                    payload: b"",
                    qos: QoS::AtMostOnce,
                    retain: false,
                }),
                ..fields("c")
            },
            Error::InvalidTopic,
        ),
        (
            ConnectFields {
                will: Some(Will {
                    topic: "",
                    payload: b"",
                    qos: QoS::AtMostOnce,
                    retain: false,
                }),
                ..fields("c")
            },
            Error::InvalidTopic,
        ),
        (
            ConnectFields {
                will: Some(Will {
                    topic: &long,
                    payload: b"",
                    qos: QoS::AtMostOnce,
                    retain: false,
                }),
                ..fields("c")
            },
            Error::TooLarge,
        ),
        (
            ConnectFields {
                will: Some(Will {
                    topic: "w",
                    payload: &long_bytes,
                    qos: QoS::AtMostOnce,
                    retain: false,
                }),
                ..fields("c")
            },
            Error::TooLarge,
        ),
    ];
    for (c, err) in cases {
        assert_eq!(connect_len(&c), Err(err), "{c:?}");
        assert_eq!(encode_connect(&mut out, &c), Err(err));
    }
    // Every field at its maximum still encodes (rem > 16383: a 3-byte length).
    let max_bytes = vec![7u8; 65_535];
    let c = ConnectFields {
        client_id: &max,
        username: Some(&max),
        password: Some(&max_bytes),
        will: Some(Will {
            topic: &max,
            payload: &max_bytes,
            qos: QoS::ExactlyOnce,
            retain: true,
        }),
        ..fields("")
    };
    let rem = 10 + 5 * 65_537;
    assert_eq!(connect_len(&c), Ok(1 + 3 + rem));
    let n = encode_connect(&mut out, &c).unwrap();
    assert_eq!(n, 1 + 3 + rem);
    assert_eq!(
        &out[..4],
        &[
            0x10,
            (rem % 128) as u8 | 0x80,
            ((rem / 128) % 128) as u8 | 0x80,
            (rem / 16384) as u8
        ]
    );
}

/// The non-normative example of §3.1.2.10 (Figure 3.6): protocol "MQTT", level 4, flags 0xCE
/// (username, password, will QoS 1, will, clean session), keep-alive 10; then the payload in
/// the order of §3.1.3.
#[cfg(feature = "will")]
#[test]
fn connect_spec_example_exact_bytes() {
    let c = ConnectFields {
        client_id: "ID",
        keep_alive_s: 10,
        clean_session: true,
        username: Some("user"),
        password: Some(b"pw"),
        will: Some(Will {
            topic: "w",
            payload: b"bye",
            qos: QoS::AtLeastOnce,
            retain: false,
        }),
    };
    #[rustfmt::skip]
    let expected = [
        0x10, 0x20,                                     // CONNECT, remaining length 32
        0x00, 0x04, b'M', b'Q', b'T', b'T',             // protocol name
        0x04,                                           // protocol level 4
        0xCE,                                           // connect flags
        0x00, 0x0A,                                     // keep-alive 10 s
        0x00, 0x02, b'I', b'D',                         // client id
        0x00, 0x01, b'w',                               // will topic
        0x00, 0x03, b'b', b'y', b'e',                   // will message
        0x00, 0x04, b'u', b's', b'e', b'r',             // username
        0x00, 0x02, b'p', b'w',                         // password
    ];
    assert_eq!(connect_bytes(&c), expected);
}

/// The CONNECT the reference codec writes for the same fields.
#[cfg(feature = "will")]
fn mqttrs_connect(c: &ConnectFields, len: usize) -> Vec<u8> {
    let packet = mqttrs::Packet::Connect(mqttrs::Connect {
        protocol: mqttrs::Protocol::MQTT311,
        keep_alive: c.keep_alive_s,
        client_id: c.client_id,
        clean_session: c.clean_session,
        last_will: c.will.map(|w| mqttrs::LastWill {
            topic: w.topic,
            message: w.payload,
            qos: w.qos.to_mqttrs(),
            retain: w.retain,
        }),
        username: c.username,
        password: c.password,
    });
    let mut out = vec![0u8; len + 8];
    assert_eq!(mqttrs::encode_slice(&packet, &mut out), Ok(len), "{c:?}");
    out.truncate(len);
    out
}

/// Every combination of will (none, QoS 0/1/2, retain or not), username, password, clean
/// flag and keep-alive (0, 1, 65,535), with short, multi-byte and long strings (remaining
/// lengths of 1, 2 and 3 bytes): byte for byte what mqttrs writes.
#[cfg(feature = "will")]
#[test]
fn connect_matches_mqttrs() {
    let long_id = "c".repeat(200);
    let long_topic = "t/".repeat(4_000) + "end";
    let long_payload = vec![0x5Au8; 20_000];
    let long_user = "u".repeat(65_535);
    let long_password = vec![0u8; 300];
    let ids = ["", "a", "clientId-é-ü", long_id.as_str()];
    let wills: Vec<Option<Will>> = [None]
        .into_iter()
        .chain(
            [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce]
                .into_iter()
                .flat_map(|qos| {
                    [false, true].into_iter().flat_map(move |retain| {
                        [("w", &b""[..]), ("a/b/c", &b"bye\0"[..])].into_iter().map(
                            move |(topic, payload)| {
                                Some(Will {
                                    topic,
                                    payload,
                                    qos,
                                    retain,
                                })
                            },
                        )
                    })
                }),
        )
        .chain([Some(Will {
            topic: &long_topic,
            payload: &long_payload,
            qos: QoS::AtLeastOnce,
            retain: true,
        })])
        .collect();
    let credentials: [(Option<&str>, Option<&[u8]>); 5] = [
        (None, None),
        (Some(""), None),
        (Some("user"), Some(b"")),
        (Some("user"), Some(b"p\xFFw")),
        (Some(&long_user), Some(&long_password)),
    ];
    let mut checked = 0;
    for client_id in ids {
        for will in &wills {
            for (username, password) in credentials {
                for clean_session in [false, true] {
                    for keep_alive_s in [0, 1, 65_535] {
                        let c = ConnectFields {
                            client_id,
                            keep_alive_s,
                            clean_session,
                            username,
                            password,
                            will: *will,
                        };
                        if client_id.is_empty() && !clean_session {
                            assert_eq!(connect_len(&c), Err(Error::InvalidArgument));
                            continue;
                        }
                        let len = connect_len(&c).unwrap();
                        let mut ours = vec![0u8; len];
                        assert_eq!(encode_connect(&mut ours, &c), Ok(len));
                        assert!(ours == mqttrs_connect(&c, len), "{c:?}");
                        checked += 1;
                    }
                }
            }
        }
    }
    assert_eq!(checked, (4 * 2 - 1) * 3 * 14 * 5);
    // Remaining lengths of 1, 2 and 3 bytes were all among them.
    let with_user = ConnectFields {
        username: Some(&long_user),
        ..fields("a")
    };
    let sizes = [fields("a"), fields(&long_id), with_user].map(|c| connect_len(&c).unwrap());
    assert_eq!(sizes, [2 + 13, 3 + 212, 4 + 13 + 65_537]);
}

fn publish_bytes(
    topic: &str,
    payload: &[u8],
    qos: QoS,
    retain: bool,
    dup: bool,
    id: u16,
) -> Vec<u8> {
    let len = publish_len(topic, payload.len(), qos).unwrap();
    encode_exact(len, |out| {
        encode_publish(out, topic, payload, qos, retain, dup, id)
    })
}

#[test]
fn publish_qos0() {
    assert_eq!(
        publish_bytes("a/b", b"hi", QoS::AtMostOnce, false, false, 0),
        [0x30, 0x07, 0x00, 0x03, b'a', b'/', b'b', b'h', b'i']
    );
    assert_eq!(
        publish_bytes("a/b", b"", QoS::AtMostOnce, true, false, 0),
        [0x31, 0x05, 0x00, 0x03, b'a', b'/', b'b']
    );
}

#[test]
fn publish_qos1_and_qos2_with_retain_and_dup() {
    assert_eq!(
        publish_bytes("a/b", b"hi", QoS::AtLeastOnce, true, false, 10),
        [0x33, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x0A, b'h', b'i']
    );
    assert_eq!(
        publish_bytes("a/b", b"hi", QoS::AtLeastOnce, false, true, 0xFFFF),
        [0x3A, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0xFF, 0xFF, b'h', b'i']
    );
    assert_eq!(
        publish_bytes("a/b", b"hi", QoS::ExactlyOnce, false, false, 0x1234),
        [0x34, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x12, 0x34, b'h', b'i']
    );
    assert_eq!(
        publish_bytes("a/b", b"hi", QoS::ExactlyOnce, true, true, 1),
        [0x3D, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x01, b'h', b'i']
    );
    assert_eq!(PUBLISH_DUP_FLAG, 0x3D ^ 0x35);
}

#[test]
fn publish_validation_errors() {
    let mut out = [0u8; 64];
    let cases = [
        ("t", QoS::AtMostOnce, false, 1, Error::InvalidArgument),
        ("t", QoS::AtMostOnce, true, 0, Error::InvalidArgument),
        ("t", QoS::AtLeastOnce, false, 0, Error::InvalidArgument),
        ("t", QoS::ExactlyOnce, true, 0, Error::InvalidArgument),
        ("a/+", QoS::AtLeastOnce, false, 1, Error::InvalidTopic),
        ("#", QoS::AtMostOnce, false, 0, Error::InvalidTopic),
        ("", QoS::AtMostOnce, false, 0, Error::InvalidTopic),
        ("a\0", QoS::AtMostOnce, false, 0, Error::InvalidTopic),
    ];
    for (topic, qos, dup, id, err) in cases {
        assert_eq!(
            encode_publish(&mut out, topic, b"x", qos, false, dup, id),
            Err(err),
            "{topic:?} {qos:?} {dup} {id}"
        );
    }
    assert_eq!(
        publish_len("a/+", 0, QoS::AtMostOnce),
        Err(Error::InvalidTopic)
    );
    let long = "a".repeat(65_536);
    assert_eq!(publish_len(&long, 0, QoS::AtMostOnce), Err(Error::TooLarge));
    assert_eq!(
        encode_publish(&mut out, &long, b"", QoS::AtMostOnce, false, false, 0),
        Err(Error::TooLarge)
    );
    assert_eq!(
        publish_len("t", usize::MAX, QoS::AtLeastOnce),
        Err(Error::TooLarge)
    );
}

/// The hand-written PUBLISH and ack encoders write exactly what mqttrs writes, over topic
/// lengths, payload lengths around each remaining-length boundary, QoS, flags and ids.
#[test]
fn publish_and_acks_match_mqttrs() {
    let mut seed = 0x2545_F491_u32;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    let payload = vec![0xA5u8; 16_500];
    for &payload_len in &[
        0usize, 1, 64, 120, 121, 122, 123, 124, 125, 126, 127, 128, 16_370, 16_380,
    ] {
        for topic_len in [1usize, 2, 7, 8, 9, 15, 16, 17, 40] {
            let topic: String = (0..topic_len)
                .map(|i| (b'a' + (i % 26) as u8) as char)
                .collect();
            for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
                let retain = next() % 2 == 0;
                let dup = qos != QoS::AtMostOnce && next() % 2 == 0;
                let id = if qos == QoS::AtMostOnce {
                    0
                } else {
                    (next() % 65_535 + 1) as u16
                };
                let body = &payload[..payload_len];
                let len = publish_len(&topic, body.len(), qos).unwrap();
                let mut ours = vec![0u8; len];
                assert_eq!(
                    encode_publish(&mut ours, &topic, body, qos, retain, dup, id),
                    Ok(len)
                );
                let qospid = match qos {
                    QoS::AtMostOnce => mqttrs::QosPid::AtMostOnce,
                    QoS::AtLeastOnce => {
                        mqttrs::QosPid::AtLeastOnce(mqttrs::Pid::try_from(id).unwrap())
                    }
                    QoS::ExactlyOnce => {
                        mqttrs::QosPid::ExactlyOnce(mqttrs::Pid::try_from(id).unwrap())
                    }
                };
                let packet = mqttrs::Packet::Publish(mqttrs::Publish {
                    dup,
                    qospid,
                    retain,
                    topic_name: &topic,
                    payload: body,
                });
                let mut theirs = vec![0u8; len + 8];
                assert_eq!(mqttrs::encode_slice(&packet, &mut theirs), Ok(len));
                assert_eq!(
                    ours,
                    theirs[..len],
                    "topic {topic_len} payload {payload_len} {qos:?}"
                );
            }
        }
    }
    for _ in 0..200 {
        let id = (next() % 65_535 + 1) as u16;
        let pid = mqttrs::Pid::try_from(id).unwrap();
        for (kind, packet) in [
            (AckKind::Puback, mqttrs::Packet::Puback(pid)),
            (AckKind::Pubrec, mqttrs::Packet::Pubrec(pid)),
            (AckKind::Pubrel, mqttrs::Packet::Pubrel(pid)),
            (AckKind::Pubcomp, mqttrs::Packet::Pubcomp(pid)),
        ] {
            let (mut ours, mut theirs) = ([0u8; 4], [0u8; 4]);
            assert_eq!(encode_ack(&mut ours, kind, id), Ok(4));
            assert_eq!(mqttrs::encode_slice(&packet, &mut theirs), Ok(4));
            assert_eq!(ours, theirs);
        }
    }
}

/// PUBLISH "t" (QoS 0) with remaining length `rem`: header bytes on the wire.
fn publish_header_for_remaining(rem: usize) -> Vec<u8> {
    let payload = vec![0x55u8; rem - 3];
    let len = publish_len("t", payload.len(), QoS::AtMostOnce).unwrap();
    let mut out = vec![0u8; len];
    assert_eq!(
        encode_publish(&mut out, "t", &payload, QoS::AtMostOnce, false, false, 0),
        Ok(len)
    );
    assert_eq!(&out[len - payload.len()..], &payload[..]);
    let header_len = len - rem;
    assert_eq!(&out[header_len..header_len + 3], &[0x00, 0x01, b't']);
    out.truncate(header_len);
    out
}

#[test]
fn publish_remaining_length_boundaries() {
    assert_eq!(publish_header_for_remaining(127), [0x30, 0x7F]);
    assert_eq!(publish_header_for_remaining(128), [0x30, 0x80, 0x01]);
    assert_eq!(publish_header_for_remaining(16_383), [0x30, 0xFF, 0x7F]);
    assert_eq!(
        publish_header_for_remaining(16_384),
        [0x30, 0x80, 0x80, 0x01]
    );
    assert_eq!(
        publish_header_for_remaining(2_097_151),
        [0x30, 0xFF, 0xFF, 0x7F]
    );
    assert_eq!(
        publish_header_for_remaining(2_097_152),
        [0x30, 0x80, 0x80, 0x80, 0x01]
    );
    // The largest packet is only measured: 256 MiB is not worth writing in a unit test.
    let max_payload = MAX_REMAINING_LEN - 3;
    assert_eq!(
        publish_len("t", max_payload, QoS::AtMostOnce),
        Ok(MAX_REMAINING_LEN + 5)
    );
    assert_eq!(
        publish_len("t", max_payload + 1, QoS::AtMostOnce),
        Err(Error::TooLarge)
    );
    assert_eq!(
        publish_len("t", max_payload - 2, QoS::AtLeastOnce),
        Ok(MAX_REMAINING_LEN + 5)
    );
    assert_eq!(
        publish_len("t", max_payload - 1, QoS::AtLeastOnce),
        Err(Error::TooLarge)
    );
}

fn subscribe_bytes(id: u16, filters: &[(&str, QoS)]) -> Vec<u8> {
    let len = subscribe_len(filters.iter().copied()).unwrap();
    encode_exact(len, |out| {
        encode_subscribe(out, id, filters.iter().copied())
    })
}

fn unsubscribe_bytes(id: u16, filters: &[&str]) -> Vec<u8> {
    let len = unsubscribe_len(filters.iter().copied()).unwrap();
    encode_exact(len, |out| {
        encode_unsubscribe(out, id, filters.iter().copied())
    })
}

#[test]
fn subscribe_several_filters() {
    assert_eq!(
        subscribe_bytes(
            1,
            &[
                ("a/b", QoS::AtMostOnce),
                ("c/#", QoS::AtLeastOnce),
                ("+", QoS::ExactlyOnce)
            ]
        ),
        [
            0x82, 0x12, 0x00, 0x01, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x00, 0x03, b'c', b'/',
            b'#', 0x01, 0x00, 0x01, b'+', 0x02
        ]
    );
    assert_eq!(
        subscribe_bytes(0xABCD, &[("x", QoS::AtLeastOnce)]),
        [0x82, 0x06, 0xAB, 0xCD, 0x00, 0x01, b'x', 0x01]
    );
}

#[test]
fn subscribe_beyond_mqttrs_caps() {
    // 8 filters (mqttrs no_std caps at 5), one of 300 bytes (mqttrs caps at 256).
    let long = "L".repeat(300);
    let mut filters: Vec<(&str, QoS)> = vec![("a", QoS::AtLeastOnce); 7];
    filters.push((&long, QoS::ExactlyOnce));
    let bytes = subscribe_bytes(2, &filters);
    let rem = 2 + 7 * 4 + 2 + 300 + 1;
    assert_eq!(
        &bytes[..5],
        &[
            0x82,
            (rem % 128) as u8 | 0x80,
            (rem / 128) as u8,
            0x00,
            0x02
        ]
    );
    assert_eq!(&bytes[5..9], &[0x00, 0x01, b'a', 0x01]);
    assert_eq!(&bytes[bytes.len() - 3..], &[b'L', b'L', 0x02]);
    assert_eq!(bytes.len(), 3 + rem);
}

type Filters = Vec<(String, QoS)>;

/// Body of a SUBSCRIBE built by hand, for the boundary tests.
fn subscribe_body(id: u16, filters: &[(String, QoS)]) -> Vec<u8> {
    let mut body = id.to_be_bytes().to_vec();
    for (f, q) in filters {
        body.extend_from_slice(&(f.len() as u16).to_be_bytes());
        body.extend_from_slice(f.as_bytes());
        body.push(*q as u8);
    }
    body
}

#[test]
fn subscribe_remaining_length_boundaries() {
    // One entry costs 2 + len + 1; the packet id 2 more.
    let one = |len: usize| vec![("f".repeat(len), QoS::AtLeastOnce)];
    let near_2m = |last: usize| {
        let mut v = vec![("g".repeat(65_535), QoS::AtMostOnce); 31];
        v.push(("h".repeat(last), QoS::ExactlyOnce));
        v
    };
    let cases: [(Filters, usize, &[u8]); 6] = [
        (one(122), 127, &[0x82, 0x7F]),
        (one(123), 128, &[0x82, 0x80, 0x01]),
        (one(16_378), 16_383, &[0x82, 0xFF, 0x7F]),
        (one(16_379), 16_384, &[0x82, 0x80, 0x80, 0x01]),
        (near_2m(65_468), 2_097_151, &[0x82, 0xFF, 0xFF, 0x7F]),
        (near_2m(65_469), 2_097_152, &[0x82, 0x80, 0x80, 0x80, 0x01]),
    ];
    for (filters, rem, header) in cases {
        let body = subscribe_body(7, &filters);
        assert_eq!(body.len(), rem);
        let refs: Vec<(&str, QoS)> = filters.iter().map(|(f, q)| (f.as_str(), *q)).collect();
        let bytes = subscribe_bytes(7, &refs);
        assert_eq!(&bytes[..header.len()], header, "rem {rem}");
        assert_eq!(&bytes[header.len()..], &body[..], "rem {rem}");
    }
}

#[test]
fn subscribe_too_large_above_max_remaining_length() {
    // 4095 entries of 65,535-byte filters, one of `last` bytes, and the packet id:
    // remaining length 4095 * 65,538 + (2 + last + 1) + 2.
    fn list<'a>(filter: &'a str, last: &'a str) -> impl Iterator<Item = (&'a str, QoS)> {
        core::iter::repeat_n((filter, QoS::AtMostOnce), 4095)
            .chain(core::iter::once((last, QoS::AtLeastOnce)))
    }
    let filter = "z".repeat(65_535);
    let last_max = "y".repeat(57_340);
    let last_over = "y".repeat(57_341);
    assert_eq!(
        subscribe_len(list(&filter, &last_max)),
        Ok(MAX_REMAINING_LEN + 5)
    );
    assert_eq!(
        subscribe_len(list(&filter, &last_over)),
        Err(Error::TooLarge)
    );
    assert_eq!(
        encode_subscribe(&mut [0u8; 16], 1, list(&filter, &last_over)),
        Err(Error::TooLarge)
    );
}

#[test]
fn subscribe_validation_errors() {
    let mut out = [0u8; 64];
    let none: [(&str, QoS); 0] = [];
    assert_eq!(
        subscribe_len(none.iter().copied()),
        Err(Error::InvalidArgument)
    );
    assert_eq!(
        encode_subscribe(&mut out, 1, none.iter().copied()),
        Err(Error::InvalidArgument)
    );
    let ok = [("a", QoS::AtMostOnce)];
    assert_eq!(
        encode_subscribe(&mut out, 0, ok.iter().copied()),
        Err(Error::InvalidArgument)
    );
    for (bad, err) in [
        ("a#", Error::InvalidTopic),
        ("", Error::InvalidTopic),
        ("a/+b", Error::InvalidTopic),
    ] {
        let filters = [("ok/#", QoS::AtMostOnce), (bad, QoS::AtLeastOnce)];
        assert_eq!(subscribe_len(filters.iter().copied()), Err(err));
        assert_eq!(
            encode_subscribe(&mut out, 1, filters.iter().copied()),
            Err(err)
        );
        // A bad filter is reported even when the buffer is too small as well.
        assert_eq!(
            encode_subscribe(&mut [0u8; 3], 1, filters.iter().copied()),
            Err(err)
        );
    }
    let long = "a".repeat(65_536);
    assert_eq!(
        subscribe_len([(long.as_str(), QoS::AtMostOnce)].into_iter()),
        Err(Error::TooLarge)
    );
}

#[test]
fn unsubscribe_bytes_and_errors() {
    assert_eq!(
        unsubscribe_bytes(7, &["a/b", "c/#"]),
        [0xA2, 0x0C, 0x00, 0x07, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x03, b'c', b'/', b'#']
    );
    assert_eq!(
        unsubscribe_bytes(0x0102, &["+"]),
        [0xA2, 0x05, 0x01, 0x02, 0x00, 0x01, b'+']
    );
    let mut out = [0u8; 64];
    assert_eq!(
        unsubscribe_len(core::iter::empty()),
        Err(Error::InvalidArgument)
    );
    assert_eq!(
        encode_unsubscribe(&mut out, 1, core::iter::empty()),
        Err(Error::InvalidArgument)
    );
    assert_eq!(
        encode_unsubscribe(&mut out, 0, ["a"].into_iter()),
        Err(Error::InvalidArgument)
    );
    assert_eq!(
        unsubscribe_len(["a", "#/a"].into_iter()),
        Err(Error::InvalidTopic)
    );
    assert_eq!(
        encode_unsubscribe(&mut out, 1, ["a+"].into_iter()),
        Err(Error::InvalidTopic)
    );
    let long = "a".repeat(65_536);
    assert_eq!(
        unsubscribe_len([long.as_str()].into_iter()),
        Err(Error::TooLarge)
    );
    // 50 filters of 300 bytes: far beyond mqttrs's caps.
    let f = "u".repeat(300);
    let filters = vec![f.as_str(); 50];
    let bytes = unsubscribe_bytes(9, &filters);
    let rem = 2 + 50 * 302;
    assert_eq!(
        &bytes[..6],
        &[
            0xA2,
            (rem % 128) as u8 | 0x80,
            (rem / 128) as u8,
            0x00,
            0x09,
            0x01
        ]
    );
    assert_eq!(bytes.len(), 3 + rem);
}

#[test]
fn acks() {
    let cases = [
        (AckKind::Puback, 0x40),
        (AckKind::Pubrec, 0x50),
        (AckKind::Pubrel, 0x62),
        (AckKind::Pubcomp, 0x70),
    ];
    for (kind, first) in cases {
        assert_eq!(
            encode_exact(4, |out| encode_ack(out, kind, 0x1234)),
            [first, 0x02, 0x12, 0x34]
        );
        assert_eq!(
            encode_exact(4, |out| encode_ack(out, kind, 1)),
            [first, 0x02, 0x00, 0x01]
        );
        assert_eq!(
            encode_ack(&mut [0u8; 4], kind, 0),
            Err(Error::InvalidArgument)
        );
        for short in 0..4 {
            assert_eq!(encode_ack(&mut vec![0u8; short], kind, 5), Err(Error::Full));
        }
    }
}

#[test]
fn pingreq_and_disconnect() {
    assert_eq!(encode_exact(2, encode_pingreq), [0xC0, 0x00]);
    assert_eq!(encode_exact(2, encode_disconnect), [0xE0, 0x00]);
    assert_eq!(encode_pingreq(&mut []), Err(Error::Full));
    assert_eq!(encode_disconnect(&mut [0u8; 1]), Err(Error::Full));
}

/// Without the `will` feature a will is refused, not silently left out of the CONNECT.
#[cfg(not(feature = "will"))]
#[test]
fn a_will_is_refused_without_the_will_feature() {
    let c = ConnectFields {
        will: Some(Will {
            topic: "w",
            payload: b"bye",
            qos: QoS::AtMostOnce,
            retain: false,
        }),
        ..fields("c")
    };
    let mut out = [0u8; 64];
    assert_eq!(connect_len(&c), Err(Error::InvalidArgument));
    assert_eq!(encode_connect(&mut out, &c), Err(Error::InvalidArgument));
    assert_eq!(connect_len(&fields("c")), Ok(15));
}
