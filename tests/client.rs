//! The client over a scripted TCP stack: exact bytes on the wire (MQTT 3.1.1), partial writes,
//! split reads, WouldBlock everywhere, connection loss, timeouts and a manual reconnect.

mod mock_stack;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use embedded_nal::TcpErrorKind;
use mock_stack::{Answer, MockStack, RecvStep, SendStep};
use mqtt_engine::client::{Client, ClientState, Dispatch, Endpoint};
use mqtt_engine::engine::{Config, ConnectOptions, Engine, Event};
use mqtt_engine::time::Instant;
use mqtt_engine::wire::QoS;
use mqtt_engine::Error;

/// CONNECT, client id "c1", keep-alive 60 s, clean session (§3.1).
const CONNECT_CLEAN: &[u8] = &[
    0x10, 0x0E, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x02, b'c', b'1',
];
/// The same with clean_session = 0.
const CONNECT_RESUME: &[u8] = &[
    0x10, 0x0E, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x00, 0x00, 0x3C, 0x00, 0x02, b'c', b'1',
];
const CONNACK: &[u8] = &[0x20, 0x02, 0x00, 0x00];
const CONNACK_SESSION_PRESENT: &[u8] = &[0x20, 0x02, 0x01, 0x00];
const DISCONNECT: &[u8] = &[0xE0, 0x00];
const BROKER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));

/// PUBLISH QoS 1 "a/b" id 1 payload "hi", DUP as given (§3.3).
fn publish_qos1_ab(dup: bool) -> Vec<u8> {
    let first = if dup { 0x3A } else { 0x32 };
    vec![
        first, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x01, b'h', b'i',
    ]
}

struct Buffers {
    rx: Vec<u8>,
    tx: Vec<u8>,
    store: Vec<u8>,
}

impl Buffers {
    fn new(rx: usize) -> Self {
        Buffers {
            rx: vec![0; rx],
            tx: vec![0; 256],
            store: vec![0; 512],
        }
    }
}

fn client<'a>(
    bufs: &'a mut Buffers,
    host: &'a str,
    clean_session: bool,
    stack: MockStack,
) -> Client<'a, MockStack> {
    let config = Config {
        inflight_window: 4,
        connect_timeout_ms: 10_000,
        ack_timeout_ms: 0,
        ping_timeout_ms: 0,
        max_rx_packet: bufs.rx.len(),
    };
    let engine = Engine::new(&mut bufs.tx, &mut bufs.store, config);
    let connect = ConnectOptions {
        client_id: "c1",
        keep_alive_s: 60,
        clean_session,
        username: None,
        password: None,
        will: None,
    };
    Client::new(
        stack,
        engine,
        &mut bufs.rx,
        Endpoint { host, port: 1883 },
        connect,
    )
}

/// A dispatch with its ranges resolved, so it outlives the next call.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Event(Event),
    Message {
        topic: String,
        payload: Vec<u8>,
        qos: QoS,
        retain: bool,
        dup: bool,
        packet_id: u16,
    },
    Subscribed {
        packet_id: u16,
        granted: Vec<u8>,
    },
    Reconnecting {
        attempt: u32,
        delay_ms: u32,
        endpoint: usize,
    },
    Qos0Dropped(u32),
}

fn resolve(client: &Client<'_, MockStack>, dispatch: Dispatch) -> Seen {
    let window = client.rx_window();
    match dispatch {
        Dispatch::Event(event) => Seen::Event(event),
        Dispatch::Message(m) => Seen::Message {
            topic: String::from_utf8(window[m.topic].to_vec()).unwrap(),
            payload: window[m.payload].to_vec(),
            qos: m.qos,
            retain: m.retain,
            dup: m.dup,
            packet_id: m.packet_id,
        },
        Dispatch::Subscribed { packet_id, granted } => Seen::Subscribed {
            packet_id,
            granted: window[granted].to_vec(),
        },
        Dispatch::Reconnecting {
            attempt,
            delay_ms,
            endpoint,
        } => Seen::Reconnecting {
            attempt,
            delay_ms,
            endpoint,
        },
        Dispatch::Qos0Dropped { count } => Seen::Qos0Dropped(count),
    }
}

/// Polls until nothing is due (bounded), collecting everything dispatched.
fn drain(client: &mut Client<'_, MockStack>, now: Instant) -> Vec<Seen> {
    let mut seen = Vec::new();
    for _ in 0..10_000 {
        match client.poll_once(now) {
            Some(dispatch) => seen.push(resolve(client, dispatch)),
            None => return seen,
        }
    }
    panic!("poll_once never ran out of work");
}

/// Polls repeatedly (a stack that blocks now and then needs several polls), bounded.
fn drain_many(client: &mut Client<'_, MockStack>, now: Instant, polls: usize) -> Vec<Seen> {
    let mut seen = Vec::new();
    for _ in 0..polls {
        seen.extend(drain(client, now));
    }
    seen
}

fn connected(session_present: bool) -> Seen {
    Seen::Event(Event::Connected { session_present })
}

fn disconnected(reason: Option<Error>) -> Seen {
    Seen::Event(Event::Disconnected { reason })
}

/// Connects over an IP literal and checks the exact CONNECT and the CONNACK handling.
fn connect_ok(client: &mut Client<'_, MockStack>, now: Instant, connect: &[u8]) {
    client.connect(now).unwrap();
    assert_eq!(client.state(), ClientState::Connecting);
    assert_eq!(drain(client, now), vec![]);
    assert_eq!(client.stack_mut().take_sent(), connect);
    client.stack_mut().broker_sends(CONNACK);
    assert_eq!(drain(client, now), vec![connected(false)]);
    assert_eq!(client.state(), ClientState::Connected);
}

#[test]
fn connect_sends_exact_connect_and_connack_connects() {
    let mut bufs = Buffers::new(256);
    let mut c = client(&mut bufs, "127.0.0.1", true, MockStack::new());
    connect_ok(&mut c, Instant(5), CONNECT_CLEAN);
    let stack = c.stack();
    assert!(stack.dns_queries.is_empty(), "an IP literal needs no DNS");
    assert_eq!(stack.connect_calls, vec![SocketAddr::new(BROKER_IP, 1883)]);
    assert_eq!(stack.opened, vec![1]);
    assert!(stack.closed.is_empty());
}

#[test]
fn host_name_is_resolved_through_dns_with_would_block() {
    let mut bufs = Buffers::new(256);
    let mut stack = MockStack::new();
    stack.dns_plan.extend([
        Answer::WouldBlock,
        Answer::WouldBlock,
        Answer::Ready(BROKER_IP),
    ]);
    stack
        .connect_plan
        .extend([Answer::WouldBlock, Answer::Ready(())]);
    let mut c = client(&mut bufs, "broker.local", true, stack);
    c.connect(Instant(0)).unwrap();
    for t in 0..2 {
        assert_eq!(drain(&mut c, Instant(t)), vec![]);
        assert!(
            c.stack().opened.is_empty(),
            "no socket before the name resolves"
        );
        assert_eq!(c.state(), ClientState::Connecting);
        assert_eq!(c.next_deadline(Instant(t)), Some(10), "resolving is polled");
    }
    assert_eq!(drain(&mut c, Instant(2)), vec![]); // resolved; TCP connect would block
    assert!(c.stack().sent.is_empty());
    assert_eq!(drain(&mut c, Instant(3)), vec![]); // TCP connected, CONNECT sent
    assert_eq!(c.stack().dns_queries, vec!["broker.local"; 3]);
    assert_eq!(
        c.stack().connect_calls,
        vec![SocketAddr::new(BROKER_IP, 1883); 2]
    );
    assert_eq!(c.stack_mut().take_sent(), CONNECT_CLEAN);
}

#[test]
fn dns_failure_ends_the_attempt_without_a_socket() {
    let mut bufs = Buffers::new(256);
    let mut stack = MockStack::new();
    stack.dns_plan.push_back(Answer::Fail);
    let mut c = client(&mut bufs, "nowhere.invalid", true, stack);
    c.connect(Instant(0)).unwrap();
    assert_eq!(
        drain(&mut c, Instant(0)),
        vec![disconnected(Some(Error::Dns))]
    );
    assert_eq!(c.state(), ClientState::Disconnected);
    assert!(c.stack().opened.is_empty());
}

#[test]
fn tcp_connect_failure_closes_the_socket() {
    let mut bufs = Buffers::new(256);
    let mut stack = MockStack::new();
    stack.connect_plan.push_back(Answer::Fail);
    let mut c = client(&mut bufs, "127.0.0.1", true, stack);
    c.connect(Instant(0)).unwrap();
    assert_eq!(
        drain(&mut c, Instant(0)),
        vec![disconnected(Some(Error::Transport))]
    );
    assert_eq!(c.stack().closed, vec![1]);
    assert_eq!(c.stack().open_sockets(), 0);
}

#[test]
fn partial_writes_of_every_size_lose_and_repeat_nothing() {
    let expected: Vec<u8> = [CONNECT_CLEAN, &publish_qos1_ab(false)].concat();
    for chunk in 1..=CONNECT_CLEAN.len() + 1 {
        let mut bufs = Buffers::new(256);
        let mut stack = MockStack::new();
        stack.set_send_pattern(&[
            SendStep::Accept(chunk),
            SendStep::WouldBlock,
            SendStep::Accept(0),
        ]);
        let mut c = client(&mut bufs, "127.0.0.1", true, stack);
        // QoS 1 is accepted while disconnected and sent after CONNACK.
        assert_eq!(
            c.engine_mut()
                .publish(Instant(0), "a/b", b"hi", QoS::AtLeastOnce, false)
                .unwrap(),
            Some(1)
        );
        c.connect(Instant(0)).unwrap();
        drain_many(&mut c, Instant(0), 40);
        assert_eq!(c.stack().sent, CONNECT_CLEAN, "chunk {chunk}");
        c.stack_mut().broker_sends(CONNACK);
        let seen = drain_many(&mut c, Instant(1), 40);
        assert_eq!(seen, vec![connected(false)], "chunk {chunk}");
        assert_eq!(c.stack().sent, expected, "chunk {chunk}");
    }
}

/// CONNACK, then QoS 0 "t" "xyz", QoS 1 "a/b" id 7 "hi" retained, then SUBACK id 1 [1].
fn broker_stream() -> Vec<u8> {
    [
        CONNACK,
        &[0x30, 0x06, 0x00, 0x01, b't', b'x', b'y', b'z'],
        &[
            0x33, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x07, b'h', b'i',
        ],
    ]
    .concat()
}

fn expected_stream_dispatches() -> Vec<Seen> {
    vec![
        connected(false),
        Seen::Message {
            topic: "t".into(),
            payload: b"xyz".to_vec(),
            qos: QoS::AtMostOnce,
            retain: false,
            dup: false,
            packet_id: 0,
        },
        Seen::Message {
            topic: "a/b".into(),
            payload: b"hi".to_vec(),
            qos: QoS::AtLeastOnce,
            retain: true,
            dup: false,
            packet_id: 7,
        },
    ]
}

#[test]
fn reads_split_at_every_boundary_are_reassembled() {
    let stream = broker_stream();
    for split in 1..stream.len() {
        let mut bufs = Buffers::new(64);
        let mut c = client(&mut bufs, "127.0.0.1", true, MockStack::new());
        c.connect(Instant(0)).unwrap();
        drain(&mut c, Instant(0));
        c.stack_mut().take_sent();
        c.stack_mut()
            .recv_plan
            .extend([RecvStep::Give(split), RecvStep::WouldBlock]);
        c.stack_mut().broker_sends(&stream);
        let seen = drain_many(&mut c, Instant(1), 3);
        assert_eq!(seen, expected_stream_dispatches(), "split at {split}");
        // The QoS 1 message is acknowledged: PUBACK id 7 (§3.4).
        assert_eq!(c.stack().sent, [0x40, 0x02, 0x00, 0x07], "split at {split}");
    }
}

#[test]
fn one_byte_reads_into_a_small_rx_buffer() {
    let mut bufs = Buffers::new(16); // compaction is needed for every packet
    let mut c = client(&mut bufs, "127.0.0.1", true, MockStack::new());
    c.connect(Instant(0)).unwrap();
    drain(&mut c, Instant(0));
    let stream = broker_stream();
    c.stack_mut()
        .recv_plan
        .extend(std::iter::repeat_n(RecvStep::Give(1), stream.len()));
    c.stack_mut().broker_sends(&stream);
    assert_eq!(drain(&mut c, Instant(1)), expected_stream_dispatches());
}

#[test]
fn many_packets_in_one_read_are_each_dispatched() {
    let mut bufs = Buffers::new(128);
    let mut c = client(&mut bufs, "127.0.0.1", true, MockStack::new());
    connect_ok(&mut c, Instant(0), CONNECT_CLEAN);
    let one = [0x30, 0x05, 0x00, 0x01, b't', b'#', b'n'];
    let mut stream = Vec::new();
    for i in 0..40u8 {
        let mut p = one;
        p[6] = b'0' + i % 10;
        stream.extend_from_slice(&p);
    }
    c.stack_mut().broker_sends(&stream);
    let seen = drain(&mut c, Instant(1));
    assert_eq!(seen.len(), 40);
    for (i, s) in seen.iter().enumerate() {
        let Seen::Message { topic, payload, .. } = s else {
            panic!("{s:?}")
        };
        assert_eq!(topic, "t");
        assert_eq!(payload, &[b'#', b'0' + (i % 10) as u8]);
    }
}

#[test]
fn qos1_publish_round_trip() {
    let mut bufs = Buffers::new(256);
    let mut c = client(&mut bufs, "127.0.0.1", true, MockStack::new());
    connect_ok(&mut c, Instant(0), CONNECT_CLEAN);
    let id = c
        .engine_mut()
        .publish(Instant(1), "a/b", b"hi", QoS::AtLeastOnce, false)
        .unwrap();
    assert_eq!(id, Some(1));
    assert_eq!(drain(&mut c, Instant(1)), vec![]);
    assert_eq!(c.stack_mut().take_sent(), publish_qos1_ab(false));
    assert_eq!(c.engine().inflight(), 1);
    c.stack_mut().broker_sends(&[0x40, 0x02, 0x00, 0x01]);
    assert_eq!(
        drain(&mut c, Instant(2)),
        vec![Seen::Event(Event::PublishComplete { packet_id: 1 })]
    );
    assert_eq!(c.engine().inflight(), 0);
}

#[test]
fn subscribe_and_suback_dispatch_granted_codes() {
    let mut bufs = Buffers::new(256);
    let mut c = client(&mut bufs, "127.0.0.1", true, MockStack::new());
    connect_ok(&mut c, Instant(0), CONNECT_CLEAN);
    let id = c
        .engine_mut()
        .subscribe(
            Instant(1),
            [("a/#", QoS::AtLeastOnce), ("b", QoS::ExactlyOnce)].into_iter(),
        )
        .unwrap();
    drain(&mut c, Instant(1));
    let [hi, lo] = id.to_be_bytes();
    // SUBSCRIBE: flags 0b0010, id, then each filter with its requested QoS (§3.8).
    assert_eq!(
        c.stack_mut().take_sent(),
        [0x82, 0x0C, hi, lo, 0x00, 0x03, b'a', b'/', b'#', 0x01, 0x00, 0x01, b'b', 0x02]
    );
    c.stack_mut()
        .broker_sends(&[0x90, 0x04, hi, lo, 0x01, 0x80]);
    assert_eq!(
        drain(&mut c, Instant(2)),
        vec![Seen::Subscribed {
            packet_id: id,
            granted: vec![0x01, 0x80]
        }]
    );
}

#[test]
fn peer_close_disconnects_and_closes_the_socket() {
    let mut bufs = Buffers::new(256);
    let mut c = client(&mut bufs, "127.0.0.1", true, MockStack::new());
    connect_ok(&mut c, Instant(0), CONNECT_CLEAN);
    c.stack_mut().peer_closed = true;
    assert_eq!(
        drain(&mut c, Instant(1)),
        vec![disconnected(Some(Error::PeerClosed))]
    );
    assert_eq!(c.state(), ClientState::Disconnected);
    assert_eq!(c.stack().closed, vec![1]);
    assert_eq!(c.next_deadline(Instant(1)), None);
    // Nothing more happens on a closed connection.
    let calls = c.stack().recv_calls;
    assert_eq!(drain(&mut c, Instant(2)), vec![]);
    assert_eq!(c.stack().recv_calls, calls);
}

#[test]
fn recv_error_pipe_closed_is_peer_closed() {
    let mut bufs = Buffers::new(256);
    let mut c = client(&mut bufs, "127.0.0.1", true, MockStack::new());
    connect_ok(&mut c, Instant(0), CONNECT_CLEAN);
    c.stack_mut().recv_error = Some(TcpErrorKind::PipeClosed);
    assert_eq!(
        drain(&mut c, Instant(1)),
        vec![disconnected(Some(Error::PeerClosed))]
    );
    assert_eq!(c.stack().open_sockets(), 0);
}

#[test]
fn send_error_is_a_transport_error() {
    let mut bufs = Buffers::new(256);
    let mut c = client(&mut bufs, "127.0.0.1", true, MockStack::new());
    connect_ok(&mut c, Instant(0), CONNECT_CLEAN);
    c.stack_mut().send_error = Some(TcpErrorKind::Other);
    c.engine_mut()
        .publish(Instant(1), "a/b", b"hi", QoS::AtMostOnce, false)
        .unwrap();
    assert_eq!(
        drain(&mut c, Instant(1)),
        vec![disconnected(Some(Error::Transport))]
    );
    assert_eq!(c.state(), ClientState::Disconnected);
    assert_eq!(c.stack().closed, vec![1]);
}

#[test]
fn connect_timeout_covers_resolve_and_tcp() {
    let mut bufs = Buffers::new(256);
    let mut stack = MockStack::new();
    stack
        .dns_plan
        .extend(std::iter::repeat_n(Answer::WouldBlock, 5));
    stack.dns_plan.push_back(Answer::Ready(BROKER_IP));
    stack
        .connect_plan
        .extend(std::iter::repeat_n(Answer::WouldBlock, 1000));
    let mut c = client(&mut bufs, "broker.local", true, stack);
    c.connect(Instant(0)).unwrap();
    let mut t = 0;
    while t < 10_000 {
        assert_eq!(drain(&mut c, Instant(t)), vec![], "at {t} ms");
        t += 1_000;
    }
    assert_eq!(c.next_deadline(Instant(9_995)), Some(5));
    assert_eq!(
        drain(&mut c, Instant(10_000)),
        vec![disconnected(Some(Error::ConnectTimeout))]
    );
    assert_eq!(c.stack().opened, vec![1]);
    assert_eq!(c.stack().closed, vec![1]);
}

#[test]
fn connect_timeout_counts_from_connect_not_from_connack_wait() {
    let mut bufs = Buffers::new(256);
    let mut stack = MockStack::new();
    stack
        .connect_plan
        .extend(std::iter::repeat_n(Answer::WouldBlock, 6));
    let mut c = client(&mut bufs, "127.0.0.1", true, stack);
    c.connect(Instant(0)).unwrap();
    for t in 0..=6 {
        drain(&mut c, Instant(t * 1_000)); // TCP connects at 6 s; CONNECT goes out
    }
    assert_eq!(c.stack().sent, CONNECT_CLEAN);
    assert_eq!(drain(&mut c, Instant(9_999)), vec![]);
    assert_eq!(
        drain(&mut c, Instant(10_000)),
        vec![disconnected(Some(Error::ConnectTimeout))]
    );
    assert_eq!(c.stack().open_sockets(), 0);
}

#[test]
fn clean_disconnect_sends_disconnect_then_closes() {
    let mut bufs = Buffers::new(256);
    let mut c = client(&mut bufs, "127.0.0.1", true, MockStack::new());
    connect_ok(&mut c, Instant(0), CONNECT_CLEAN);
    c.stack_mut()
        .set_send_pattern(&[SendStep::WouldBlock, SendStep::Accept(1)]);
    c.disconnect(Instant(1)).unwrap();
    assert_eq!(c.state(), ClientState::Disconnecting);
    assert_eq!(c.disconnect(Instant(1)), Err(Error::InvalidState));
    assert_eq!(drain(&mut c, Instant(1)), vec![]);
    assert_eq!(c.stack().sent, DISCONNECT[..1]); // one byte got out
    assert_eq!(c.stack().open_sockets(), 1);
    assert_eq!(drain_many(&mut c, Instant(2), 3), vec![disconnected(None)]);
    assert_eq!(c.stack_mut().take_sent(), DISCONNECT);
    assert_eq!(c.stack().open_sockets(), 0);
    assert_eq!(c.state(), ClientState::Disconnected);
}

#[test]
fn disconnect_cancels_a_pending_tcp_connect() {
    let mut bufs = Buffers::new(256);
    let mut stack = MockStack::new();
    stack.connect_plan.extend([Answer::WouldBlock; 3]);
    let mut c = client(&mut bufs, "127.0.0.1", true, stack);
    assert_eq!(c.disconnect(Instant(0)), Err(Error::InvalidState));
    c.connect(Instant(0)).unwrap();
    assert_eq!(c.connect(Instant(0)), Err(Error::InvalidState));
    drain(&mut c, Instant(0));
    c.disconnect(Instant(1)).unwrap();
    assert_eq!(drain(&mut c, Instant(1)), vec![disconnected(None)]);
    assert_eq!(c.stack().closed, vec![1]);
    assert!(c.stack().sent.is_empty());
}

#[test]
fn packet_larger_than_rx_buffer_ends_the_connection() {
    let mut bufs = Buffers::new(64);
    let mut c = client(&mut bufs, "127.0.0.1", true, MockStack::new());
    connect_ok(&mut c, Instant(0), CONNECT_CLEAN);
    // A QoS 0 PUBLISH of 100 bytes remaining length.
    let mut big = vec![0x30, 100, 0x00, 0x01, b't'];
    big.resize(102, b'x');
    c.stack_mut().broker_sends(&big);
    assert_eq!(
        drain(&mut c, Instant(1)),
        vec![disconnected(Some(Error::PacketTooLarge))]
    );
    assert_eq!(c.stack().open_sockets(), 0);
}

#[test]
fn keep_alive_ping_is_sent_when_due() {
    let mut bufs = Buffers::new(256);
    let mut c = client(&mut bufs, "127.0.0.1", true, MockStack::new());
    connect_ok(&mut c, Instant(0), CONNECT_CLEAN);
    assert_eq!(c.next_deadline(Instant(0)), Some(60_000));
    assert_eq!(drain(&mut c, Instant(59_999)), vec![]);
    assert!(c.stack().sent.is_empty());
    assert_eq!(drain(&mut c, Instant(60_000)), vec![]);
    assert_eq!(c.stack_mut().take_sent(), [0xC0, 0x00]);
    c.stack_mut().broker_sends(&[0xD0, 0x00]);
    assert_eq!(
        drain(&mut c, Instant(60_001)),
        vec![Seen::Event(Event::PingResponse)]
    );
}

#[test]
fn manual_reconnect_resumes_the_session_and_resends_with_dup() {
    let mut bufs = Buffers::new(256);
    let mut c = client(&mut bufs, "127.0.0.1", false, MockStack::new());
    c.connect(Instant(0)).unwrap();
    drain(&mut c, Instant(0));
    assert_eq!(c.stack_mut().take_sent(), CONNECT_RESUME);
    c.stack_mut().broker_sends(CONNACK);
    assert_eq!(drain(&mut c, Instant(0)), vec![connected(false)]);

    c.engine_mut()
        .publish(Instant(1), "a/b", b"hi", QoS::AtLeastOnce, false)
        .unwrap();
    drain(&mut c, Instant(1));
    assert_eq!(c.stack_mut().take_sent(), publish_qos1_ab(false));

    // The broker goes away before acknowledging.
    c.stack_mut().peer_closed = true;
    assert_eq!(
        drain(&mut c, Instant(2)),
        vec![disconnected(Some(Error::PeerClosed))]
    );
    assert_eq!(c.engine().inflight(), 1, "nothing accepted is lost");

    c.stack_mut().peer_closed = false;
    c.connect(Instant(3)).unwrap();
    drain(&mut c, Instant(3));
    assert_eq!(c.stack_mut().take_sent(), CONNECT_RESUME);
    c.stack_mut().broker_sends(CONNACK_SESSION_PRESENT);
    assert_eq!(drain(&mut c, Instant(4)), vec![connected(true)]);
    // Same id, DUP set (§3.3.1.1, §4.4).
    assert_eq!(c.stack_mut().take_sent(), publish_qos1_ab(true));
    c.stack_mut().broker_sends(&[0x40, 0x02, 0x00, 0x01]);
    assert_eq!(
        drain(&mut c, Instant(5)),
        vec![Seen::Event(Event::PublishComplete { packet_id: 1 })]
    );
    assert_eq!(c.stack().opened, vec![1, 2]);
    assert_eq!(c.stack().closed, vec![1]);
}

#[test]
fn stale_bytes_of_a_lost_connection_are_not_read_on_the_next() {
    let mut bufs = Buffers::new(256);
    let mut c = client(&mut bufs, "127.0.0.1", true, MockStack::new());
    connect_ok(&mut c, Instant(0), CONNECT_CLEAN);
    // Half a PUBLISH, then the connection drops.
    c.stack_mut().broker_sends(&[0x30, 0x06, 0x00]);
    c.stack_mut().recv_plan.push_back(RecvStep::Give(3));
    drain(&mut c, Instant(1));
    c.stack_mut().recv_error = Some(TcpErrorKind::Other);
    assert_eq!(
        drain(&mut c, Instant(1)),
        vec![disconnected(Some(Error::Transport))]
    );
    c.stack_mut().recv_error = None;
    connect_ok(&mut c, Instant(2), CONNECT_CLEAN);
}

#[test]
fn broker_refusal_is_reported_and_the_socket_closed() {
    let mut bufs = Buffers::new(256);
    let mut c = client(&mut bufs, "127.0.0.1", true, MockStack::new());
    c.connect(Instant(0)).unwrap();
    drain(&mut c, Instant(0));
    c.stack_mut().broker_sends(&[0x20, 0x02, 0x00, 0x05]);
    let seen = drain(&mut c, Instant(1));
    assert_eq!(
        seen.first(),
        Some(&Seen::Event(Event::ConnectRefused { code: 5 }))
    );
    assert_eq!(c.state(), ClientState::Disconnected);
    assert_eq!(c.stack().open_sockets(), 0);
}

#[test]
fn keep_alive_is_not_starved_by_a_steady_inbound_flow() {
    let mut bufs = Buffers::new(256);
    let mut c = client(&mut bufs, "127.0.0.1", true, MockStack::new());
    connect_ok(&mut c, Instant(0), CONNECT_CLEAN);
    let one = [0x30, 0x05, 0x00, 0x01, b't', b'o', b'k'];
    c.stack_mut().broker_sends(&one.repeat(200));
    // Every call dispatches a message; the socket never goes quiet.
    for _ in 0..3 {
        assert!(matches!(
            c.poll_once(Instant(60_000)),
            Some(Dispatch::Message(_))
        ));
    }
    assert_eq!(c.stack_mut().take_sent(), [0xC0, 0x00]);
    assert_eq!(drain(&mut c, Instant(60_000)).len(), 197);
}
