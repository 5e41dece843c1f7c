//! Seed inputs built from valid transcripts (committed under fuzz/seeds/<target>/).

use super::c_api::op as cop;
use super::engine::op as eop;
use super::input::Program;
use super::wire_log::{ack, connack, packet, publish, suback};

/// (target, name, bytes) of every seed.
pub fn seeds() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let mut out = Vec::new();
    for (name, bytes) in frame_seeds() {
        out.push(("frame_decoder", name, bytes));
    }
    out.push(("engine", "session", engine_session(false)));
    out.push(("engine", "session-split", engine_session(true)));
    out.push(("engine", "near-wrap", engine_near_wrap()));
    out.push(("c_api", "session", c_api_session()));
    out
}

/// A valid packet of every kind a broker sends, and the CONNECT it must not send.
fn frame_seeds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("connack", connack(false, 0)),
        ("connack-refused", connack(false, 5)),
        ("publish-qos0", publish(0x01, b"a/b", 0, b"hello")),
        ("publish-qos1", publish(0x02, b"sensors/1/temp", 7, b"21.5")),
        ("publish-qos2-dup", publish(0x0C, b"a", 65535, b"")),
        ("puback", ack(0x40, 1)),
        ("pubrec", ack(0x50, 2)),
        ("pubrel", ack(0x62, 3)),
        ("pubcomp", ack(0x70, 4)),
        ("suback", suback(5, &[0, 1, 2, 0x80])),
        ("unsuback", ack(0xB0, 6)),
        ("pingresp", vec![0xD0, 0x00]),
        (
            "connect",
            packet(0x10, b"\x00\x04MQTT\x04\x02\x00\x3c\x00\x01x"),
        ),
        (
            "publish-2-byte-length",
            publish(0x00, b"t", 0, &[b'p'; 200]),
        ),
    ]
}

/// The engine header: tx 416 B, store 2000 B, window 4, timeouts, rx limit 520 B, start tick.
fn engine_header(p: &mut Program, start: u32) {
    p.u8(100)
        .u16(2000)
        .u8(4)
        .u16(5000)
        .u16(10000)
        .u8(0)
        .u8(64)
        .u32(start);
}

fn engine_connect(p: &mut Program, clean: bool) {
    // client id 0, no will payload, no will, keep-alive 30, clean, no user, no password.
    p.u8(eop::CONNECT)
        .u8(0)
        .blob(b"")
        .u8(0)
        .u8(30)
        .u8(clean.into())
        .u8(0)
        .u8(0);
}

fn engine_publish(p: &mut Program, qos: u8, topic: u8, len: u16) {
    p.u8(eop::PUBLISH)
        .u8(qos)
        .blob(b"")
        .u8(0)
        .u8(topic)
        .u16(len)
        .u8(0);
}

fn good_broker(p: &mut Program, session_present: bool) {
    p.u8(eop::GOOD_BROKER).u8(session_present.into());
}

/// Connect, publish at QoS 0/1/2, subscribe, an incoming QoS 2 message, ping, unsubscribe,
/// a dropped connection with QoS 1 in flight, a persistent reconnect, disconnect.
fn engine_session(split: bool) -> Vec<u8> {
    let mut p = Program::default();
    engine_header(&mut p, 1000);
    engine_connect(&mut p, false);
    good_broker(&mut p, false);
    engine_publish(&mut p, 0, 1, 5);
    engine_publish(&mut p, 1, 2, 20);
    engine_publish(&mut p, 2, 3, 300);
    if split {
        // Partial writes: 3 bytes, then the rest.
        p.u8(eop::TRANSMIT).u8(0).u16(3);
    }
    good_broker(&mut p, false);
    p.u8(eop::SUBSCRIBE).u8(1).u8(1).u8(0).u8(2).u8(4);
    good_broker(&mut p, false);
    // Incoming QoS 2 PUBLISH, id 9, cut after 4 bytes.
    p.u8(eop::BROKER_PACKET)
        .u8(2)
        .u16(9)
        .u8(8)
        .u8(0x04)
        .u8(0)
        .u8(1)
        .blob(b"data")
        .u8(4);
    p.u8(eop::BROKER_PACKET).u8(2).u16(9).u8(4).u8(4);
    good_broker(&mut p, false);
    p.u8(eop::PING);
    good_broker(&mut p, false);
    p.u8(eop::UNSUBSCRIBE).u8(0);
    good_broker(&mut p, false);
    engine_publish(&mut p, 1, 0, 10);
    p.u8(eop::TRANSMIT).u8(1);
    p.u8(eop::CONNECTION_LOST).u8(0);
    engine_connect(&mut p, false);
    good_broker(&mut p, true);
    good_broker(&mut p, true);
    p.u8(eop::TIME).u8(1).u16(2000).u8(1);
    p.u8(eop::DISCONNECT);
    p.u8(eop::TRANSMIT).u8(1);
    p.bytes
}

/// Keep-alive and an ack timeout across the 2^32 wrap of the tick.
fn engine_near_wrap() -> Vec<u8> {
    let mut p = Program::default();
    engine_header(&mut p, u32::MAX - 3000);
    engine_connect(&mut p, true);
    good_broker(&mut p, false);
    engine_publish(&mut p, 1, 0, 8);
    p.u8(eop::TRANSMIT).u8(1);
    p.u8(eop::TIME).u8(1).u16(2000).u8(1);
    p.u8(eop::TRANSMIT).u8(1);
    p.u8(eop::TIME).u8(1).u16(2000).u8(1);
    engine_connect(&mut p, true);
    good_broker(&mut p, false);
    good_broker(&mut p, false);
    p.bytes
}

/// Through the C API: init, connect, QoS 1 and 2 publishes, a subscription, an incoming
/// message, a clean disconnect.
fn c_api_session() -> Vec<u8> {
    let mut p = Program::default();
    p.u32(5000);
    // host 127.0.0.1, port 1883, client id "c1", no user, no password, keep-alive 60,
    // clean, no will topic, no will payload, will QoS 0, no retain; rx 2048, tx 2048,
    // store 4096, layout 0; timeouts 5000/10000/0; no reconnect; window 4; no resolver.
    p.u8(cop::INIT)
        .u8(1)
        .u16(1883)
        .u8(1)
        .u8(0)
        .u8(0)
        .u8(60)
        .u8(1)
        .u8(0)
        .u8(0)
        .u8(0)
        .u8(0);
    p.u8(5)
        .u8(5)
        .u8(3)
        .u8(0)
        .u16(5000)
        .u16(10000)
        .u8(0)
        .u8(0)
        .u16(0)
        .u16(0)
        .u8(4)
        .u8(0);
    p.u8(cop::GOOD_BROKER).u8(1).u8(0);
    p.u8(cop::HANDLERS).u8(1).u8(0);
    p.u8(cop::CONNECT);
    p.u8(cop::POLL).u8(7);
    // publish: topic choice 1, 12 bytes, payload pointer, QoS 1, no retain, id pointer.
    p.u8(cop::PUBLISH)
        .u8(4)
        .u8(1)
        .u16(12)
        .u8(1)
        .u8(1)
        .u8(0)
        .u8(1);
    p.u8(cop::PUBLISH)
        .u8(4)
        .u8(2)
        .u16(100)
        .u8(1)
        .u8(2)
        .u8(0)
        .u8(1);
    p.u8(cop::POLL).u8(7);
    // subscribe 2 filters at QoS 1 and 2.
    p.u8(cop::SUBSCRIBE)
        .u8(2)
        .u8(4)
        .u8(0)
        .u8(4)
        .u8(4)
        .u8(1)
        .u8(2)
        .u8(1);
    p.u8(cop::POLL).u8(7);
    // an incoming QoS 1 PUBLISH with id 7.
    p.u8(cop::BROKER_PACKET)
        .u8(1)
        .u16(7)
        .u8(8)
        .u8(0x02)
        .u8(1)
        .blob(b"hi");
    p.u8(cop::POLL).u8(7);
    p.u8(cop::QUERIES).u32(0xFFFF_FFCE);
    p.u8(cop::TIME).u8(1).u16(100);
    p.u8(cop::DISCONNECT);
    p.u8(cop::POLL).u8(7);
    p.bytes
}
