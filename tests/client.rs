//! The client over a scripted TCP stack: exact bytes on the wire (MQTT 3.1.1), partial writes,
//! split reads, WouldBlock everywhere, connection loss, timeouts and a manual reconnect.
// Helpers of the tests gated on facilities a smaller build (e.g. `lite`) lacks.
#![cfg_attr(not(feature = "full"), allow(dead_code, unused_imports))]

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
        pubrel_max_connections: mqtt_engine::engine::DEFAULT_PUBREL_MAX_CONNECTIONS,
        oversized_limit: mqtt_engine::engine::DEFAULT_OVERSIZED_LIMIT,
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
    CredentialsNeeded(u8),
    #[allow(dead_code)]
    Link(bool),
    #[allow(dead_code)]
    ReconnectStopped(u8),
    #[allow(dead_code)]
    Idle,
    Oversized {
        topic: Option<String>,
        size: usize,
        qos: QoS,
        packet_id: u16,
    },
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
        Dispatch::CredentialsNeeded { refused } => Seen::CredentialsNeeded(refused),
        #[cfg(feature = "link")]
        Dispatch::Link { up } => Seen::Link(up),
        #[cfg(feature = "link")]
        Dispatch::ReconnectStopped { code } => Seen::ReconnectStopped(code),
        #[cfg(feature = "pending")]
        Dispatch::Idle => Seen::Idle,
        Dispatch::Oversized {
            topic,
            size,
            qos,
            packet_id,
        } => Seen::Oversized {
            topic: topic.map(|t| String::from_utf8(window[t].to_vec()).unwrap()),
            size,
            qos,
            packet_id,
        },
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

#[cfg(feature = "qos2")]
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
fn an_idle_poll_asks_the_socket_once() {
    let mut bufs = Buffers::new(256);
    let mut c = client(&mut bufs, "127.0.0.1", true, MockStack::new());
    connect_ok(&mut c, Instant(0), CONNECT_CLEAN);
    let before = c.stack().recv_calls;
    assert_eq!(c.poll_once(Instant(1)), None);
    assert_eq!(
        c.stack().recv_calls,
        before + 1,
        "WouldBlock once is enough per call"
    );
    // Data that arrives later is read by the next call.
    c.stack_mut().broker_sends(&[0xD0, 0x00]); // PINGRESP nobody asked for: ignored
    assert_eq!(c.poll_once(Instant(2)), None);
    assert_eq!(
        c.stack().recv_calls,
        before + 3,
        "one read with data, one WouldBlock"
    );
    assert_eq!(c.state(), ClientState::Connected);
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
fn publish_larger_than_rx_buffer_is_read_past_acknowledged_and_reported() {
    let mut bufs = Buffers::new(64);
    let mut c = client(&mut bufs, "127.0.0.1", true, MockStack::new());
    connect_ok(&mut c, Instant(0), CONNECT_CLEAN);
    // QoS 1 PUBLISH "a/b" id 7 with 300 payload bytes (remaining length 307 = 0xB3 0x02),
    // then a QoS 0 PUBLISH "t" "ok" that fits.
    let mut big = vec![0x32, 0xB3, 0x02, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x07];
    big.resize(310, b'x');
    let small = [0x30, 0x05, 0x00, 0x01, b't', b'o', b'k'];
    c.stack_mut().broker_sends(&[big, small.to_vec()].concat());
    assert_eq!(
        drain(&mut c, Instant(1)),
        vec![
            Seen::Oversized {
                topic: Some("a/b".to_string()),
                size: 310,
                qos: QoS::AtLeastOnce,
                packet_id: 7
            },
            Seen::Message {
                topic: "t".to_string(),
                payload: b"ok".to_vec(),
                qos: QoS::AtMostOnce,
                retain: false,
                dup: false,
                packet_id: 0
            }
        ]
    );
    // PUBACK id 7 (§3.4), and the connection stays up.
    assert_eq!(c.stack_mut().take_sent(), [0x40, 0x02, 0x00, 0x07]);
    assert_eq!(c.oversized_count(), 1);
    assert_eq!(c.state(), ClientState::Connected);
}

#[test]
fn packet_beyond_the_oversized_limit_ends_the_connection() {
    let mut bufs = Buffers::new(64);
    let mut c = client(&mut bufs, "127.0.0.1", true, MockStack::new());
    connect_ok(&mut c, Instant(0), CONNECT_CLEAN);
    // A QoS 0 PUBLISH whose remaining length, 65,537 (0x81 0x80 0x04), passes the 64 KiB limit.
    c.stack_mut()
        .broker_sends(&[0x30, 0x81, 0x80, 0x04, 0x00, 0x01, b't']);
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

// --- automatic reconnect, failover, resubscribe, offline QoS 0 queue ---

use mqtt_engine::client::{Qos0Policy, ReconnectPolicy};

const BACKOFF: ReconnectPolicy = ReconnectPolicy {
    enabled: true,
    min_ms: 100,
    max_ms: 1_000,
};

fn reconnecting<'a>(bufs: &'a mut Buffers, clean_session: bool) -> Client<'a, MockStack> {
    let mut c = client(bufs, "127.0.0.1", clean_session, MockStack::new());
    c.set_reconnect(BACKOFF);
    c
}

/// SUBSCRIBE (§3.8) with these filters and QoS, packet id `id`.
fn subscribe_bytes(id: u16, filters: &[(&str, u8)]) -> Vec<u8> {
    let mut body = id.to_be_bytes().to_vec();
    for (f, q) in filters {
        body.extend((f.len() as u16).to_be_bytes());
        body.extend(f.as_bytes());
        body.push(*q);
    }
    let mut out = vec![0x82, body.len() as u8];
    out.extend(body);
    out
}

/// Asserts a `Reconnecting` notice for `attempt` at `endpoint` whose delay lies in the full
/// jitter window of `BACKOFF`; returns the delay.
fn reconnecting_in(seen: &Seen, attempt: u32, endpoint: usize) -> u32 {
    match *seen {
        Seen::Reconnecting {
            attempt: a,
            delay_ms,
            endpoint: e,
        } if a == attempt && e == endpoint => {
            assert!(delay_ms <= BACKOFF.ceiling_ms(attempt), "{seen:?}");
            delay_ms
        }
        _ => panic!("expected attempt {attempt} at endpoint {endpoint}, got {seen:?}"),
    }
}

#[test]
fn backoff_is_full_jitter_below_a_doubling_ceiling() {
    let p = ReconnectPolicy {
        enabled: true,
        min_ms: 1_000,
        max_ms: 60_000,
    };
    for (attempt, ceiling) in [
        (1, 1_000),
        (2, 2_000),
        (3, 4_000),
        (6, 32_000),
        (7, 60_000),
        (40, 60_000),
    ] {
        assert_eq!(p.ceiling_ms(attempt), ceiling);
        // random reduced modulo ceiling + 1: both ends of [0, ceiling] are reachable.
        assert_eq!(p.delay_ms(attempt, 0), 0);
        assert_eq!(p.delay_ms(attempt, ceiling), ceiling);
        assert_eq!(p.delay_ms(attempt, ceiling + 1), 0);
        for random in [1, 7, 250, 0xFFFF_FFFF, 0x1234_5678] {
            assert!(p.delay_ms(attempt, random) <= ceiling);
        }
    }
    // Degenerate settings stay bounded and never panic.
    let zero = ReconnectPolicy {
        enabled: true,
        min_ms: 0,
        max_ms: 0,
    };
    assert_eq!(zero.delay_ms(u32::MAX, u32::MAX), 0);
    let inverted = ReconnectPolicy {
        enabled: true,
        min_ms: 500,
        max_ms: 10,
    };
    assert_eq!(inverted.ceiling_ms(9), 500);
    let huge = ReconnectPolicy {
        enabled: true,
        min_ms: u32::MAX,
        max_ms: u32::MAX,
    };
    assert_eq!(huge.delay_ms(3, u32::MAX), 0);
}

#[cfg(all(feature = "qos2", feature = "reconnect"))]
#[test]
fn lost_connection_reconnects_after_the_backoff_and_resends_with_dup() {
    let mut bufs = Buffers::new(256);
    let mut c = reconnecting(&mut bufs, false);
    connect_ok(&mut c, Instant(0), CONNECT_RESUME);
    c.engine_mut()
        .publish(Instant(1), "a/b", b"hi", QoS::AtLeastOnce, false)
        .unwrap();
    drain(&mut c, Instant(1));
    assert_eq!(c.stack_mut().take_sent(), publish_qos1_ab(false));

    c.stack_mut().peer_closed = true;
    let seen = drain(&mut c, Instant(2));
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0], disconnected(Some(Error::PeerClosed)));
    let delay = reconnecting_in(&seen[1], 1, 0);
    assert_eq!(c.state(), ClientState::Reconnecting);
    assert_eq!(c.stack().open_sockets(), 0);
    assert_eq!(c.next_deadline(Instant(2)), Some(delay));
    c.stack_mut().peer_closed = false;
    if delay > 0 {
        assert_eq!(drain(&mut c, Instant(1 + delay)), vec![]);
        assert!(c.stack().connect_calls.len() == 1, "not before the backoff");
    }

    let now = Instant(2 + delay);
    assert_eq!(drain(&mut c, now), vec![]);
    assert_eq!(c.state(), ClientState::Connecting);
    assert_eq!(c.stack_mut().take_sent(), CONNECT_RESUME);
    c.stack_mut().broker_sends(CONNACK_SESSION_PRESENT);
    assert_eq!(drain(&mut c, now.add_ms(1)), vec![connected(true)]);
    assert_eq!(c.stack_mut().take_sent(), publish_qos1_ab(true));
    c.stack_mut().broker_sends(&[0x40, 0x02, 0x00, 0x01]);
    assert_eq!(
        drain(&mut c, now.add_ms(2)),
        vec![Seen::Event(Event::PublishComplete { packet_id: 1 })]
    );
}

#[cfg(feature = "reconnect")]
#[test]
fn failed_attempts_walk_the_endpoints_with_growing_backoff() {
    let mut bufs = Buffers::new(256);
    let mut c = reconnecting(&mut bufs, true);
    c.set_endpoints(&[
        Endpoint {
            host: "127.0.0.1",
            port: 1883,
        },
        Endpoint {
            host: "127.0.0.2",
            port: 1884,
        },
        Endpoint {
            host: "127.0.0.3",
            port: 1885,
        },
    ])
    .unwrap();
    c.stack_mut()
        .connect_plan
        .extend([Answer::Fail, Answer::Fail, Answer::Fail]);
    c.connect(Instant(0)).unwrap();
    let mut now = Instant(0);
    let mut delays = Vec::new();
    for attempt in 1..=3u32 {
        let seen = drain(&mut c, now);
        let Some(Seen::Reconnecting {
            attempt: a,
            delay_ms,
            endpoint,
        }) = seen.get(1)
        else {
            panic!("{seen:?}")
        };
        assert_eq!(seen[0], disconnected(Some(Error::Transport)));
        assert_eq!((*a, *endpoint), (attempt, attempt as usize % 3));
        delays.push(*delay_ms);
        now = now.add_ms(*delay_ms);
    }
    assert!(
        delays[0] <= 100 && delays[1] <= 200 && delays[2] <= 400,
        "{delays:?}"
    );
    // The fourth attempt is back at the first endpoint, and it answers.
    assert_eq!(drain(&mut c, now), vec![]);
    let ports: Vec<u16> = c.stack().connect_calls.iter().map(|a| a.port()).collect();
    assert_eq!(ports, [1883, 1884, 1885, 1883]);
    assert_eq!(c.stack_mut().take_sent(), CONNECT_CLEAN);
    c.stack_mut().broker_sends(CONNACK);
    assert_eq!(drain(&mut c, now), vec![connected(false)]);
    assert_eq!(c.endpoint_index(), 0);
    assert_eq!(c.stack().open_sockets(), 1);
    // A refusal also moves on, and the attempt count restarts after a CONNACK.
    c.stack_mut().peer_closed = true;
    let seen = drain(&mut c, now);
    // A lost connection retries the endpoint that worked.
    reconnecting_in(&seen[1], 1, 0);
}

#[cfg(all(feature = "qos2", feature = "reconnect"))]
#[test]
fn a_refused_connect_moves_to_the_next_endpoint() {
    let mut bufs = Buffers::new(256);
    let mut c = reconnecting(&mut bufs, true);
    let eps = [
        Endpoint {
            host: "127.0.0.1",
            port: 1,
        },
        Endpoint {
            host: "127.0.0.1",
            port: 2,
        },
    ];
    c.set_endpoints(&eps).unwrap();
    c.connect(Instant(0)).unwrap();
    drain(&mut c, Instant(0));
    c.stack_mut().broker_sends(&[0x20, 0x02, 0x00, 0x03]);
    let seen = drain(&mut c, Instant(1));
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0], Seen::Event(Event::ConnectRefused { code: 3 }));
    let delay = reconnecting_in(&seen[1], 1, 1);
    assert_eq!(drain(&mut c, Instant(1 + delay)), vec![]);
    assert_eq!(c.stack().connect_calls.last().unwrap().port(), 2);
    c.stack_mut().broker_sends(CONNACK);
    assert_eq!(drain(&mut c, Instant(2 + delay)), vec![connected(false)]);
    assert_eq!(c.endpoint_index(), 1);
    assert_eq!(c.set_endpoints(&[]), Err(Error::InvalidArgument));
    let too_many = vec![eps[0]; mqtt_engine::config::MAX_ENDPOINTS + 1];
    assert_eq!(c.set_endpoints(&too_many), Err(Error::TooLarge));
}

#[cfg(feature = "reconnect")]
#[test]
fn disconnect_stops_reconnecting() {
    let mut bufs = Buffers::new(256);
    let mut c = reconnecting(&mut bufs, true);
    connect_ok(&mut c, Instant(0), CONNECT_CLEAN);
    c.stack_mut().recv_error = Some(TcpErrorKind::Other);
    assert_eq!(drain(&mut c, Instant(1)).len(), 2);
    assert_eq!(c.state(), ClientState::Reconnecting);
    c.disconnect(Instant(2)).unwrap();
    assert_eq!(drain(&mut c, Instant(2)), vec![disconnected(None)]);
    assert_eq!(c.state(), ClientState::Disconnected);
    assert_eq!(c.next_deadline(Instant(2)), None);
    assert_eq!(drain(&mut c, Instant(60_000)), vec![]);
    assert_eq!(c.stack().connect_calls.len(), 1);
    assert_eq!(c.disconnect(Instant(3)), Err(Error::InvalidState));
    // QoS 0 after disconnect has nowhere to go.
    assert_eq!(
        c.publish(Instant(3), "a/b", b"x", QoS::AtMostOnce, false),
        Err(Error::InvalidState)
    );
}

#[test]
fn connect_while_reconnecting_starts_the_attempt_now() {
    let mut bufs = Buffers::new(256);
    let mut c = reconnecting(&mut bufs, true);
    connect_ok(&mut c, Instant(0), CONNECT_CLEAN);
    c.stack_mut().recv_error = Some(TcpErrorKind::Other);
    drain(&mut c, Instant(1));
    c.stack_mut().recv_error = None;
    c.connect(Instant(2)).unwrap();
    assert_eq!(drain(&mut c, Instant(2)), vec![]);
    assert_eq!(c.stack_mut().take_sent(), CONNECT_CLEAN);
    assert_eq!(c.connect(Instant(2)), Err(Error::InvalidState));
}

#[cfg(all(feature = "qos2", feature = "reconnect"))]
#[test]
fn half_open_connection_is_noticed_within_one_and_a_half_keep_alives() {
    let mut bufs = Buffers::new(256);
    let mut c = reconnecting(&mut bufs, true);
    connect_ok(&mut c, Instant(0), CONNECT_CLEAN);
    c.stack_mut().take_sent();
    // The broker goes silent; our bytes still leave (a half-open TCP connection).
    assert_eq!(drain(&mut c, Instant(60_000)), vec![]);
    assert_eq!(c.stack_mut().take_sent(), [0xC0, 0x00]);
    assert_eq!(drain(&mut c, Instant(89_999)), vec![]);
    assert_eq!(c.state(), ClientState::Connected);
    let seen = drain(&mut c, Instant(90_000));
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0], disconnected(Some(Error::PingTimeout)));
    reconnecting_in(&seen[1], 1, 0);
}

#[cfg(all(feature = "qos2", feature = "will", feature = "reconnect"))]
#[test]
fn ack_timeout_ends_the_connection_and_the_reconnect_resends() {
    let mut bufs = Buffers::new(256);
    let config = Config {
        inflight_window: 4,
        connect_timeout_ms: 10_000,
        ack_timeout_ms: 5_000,
        ping_timeout_ms: 0,
        max_rx_packet: 256,
        pubrel_max_connections: mqtt_engine::engine::DEFAULT_PUBREL_MAX_CONNECTIONS,
        oversized_limit: mqtt_engine::engine::DEFAULT_OVERSIZED_LIMIT,
    };
    let engine = Engine::new(&mut bufs.tx, &mut bufs.store, config);
    let connect = ConnectOptions {
        client_id: "c1",
        keep_alive_s: 60,
        clean_session: false,
        username: None,
        password: None,
        will: None,
    };
    let endpoint = Endpoint {
        host: "127.0.0.1",
        port: 1883,
    };
    let mut c = Client::new(MockStack::new(), engine, &mut bufs.rx, endpoint, connect);
    c.set_reconnect(BACKOFF);
    connect_ok(&mut c, Instant(0), CONNECT_RESUME);
    c.publish(Instant(0), "a/b", b"hi", QoS::AtLeastOnce, false)
        .unwrap();
    drain(&mut c, Instant(0));
    assert_eq!(c.stack_mut().take_sent(), publish_qos1_ab(false));
    assert_eq!(drain(&mut c, Instant(4_999)), vec![]);
    assert_eq!(
        drain(&mut c, Instant(5_000))[0],
        disconnected(Some(Error::AckTimeout))
    );
    assert_eq!(drain(&mut c, Instant(5_100)), vec![]);
    assert_eq!(c.stack_mut().take_sent(), CONNECT_RESUME);
    c.stack_mut().broker_sends(CONNACK_SESSION_PRESENT);
    assert_eq!(drain(&mut c, Instant(5_101)), vec![connected(true)]);
    assert_eq!(c.stack_mut().take_sent(), publish_qos1_ab(true));
}

#[cfg(all(feature = "qos2", feature = "reconnect"))]
#[test]
fn a_late_connack_is_a_lost_connection_too() {
    let mut bufs = Buffers::new(256);
    let mut c = reconnecting(&mut bufs, true);
    c.connect(Instant(0)).unwrap();
    drain(&mut c, Instant(0));
    assert_eq!(drain(&mut c, Instant(9_999)), vec![]);
    let seen = drain(&mut c, Instant(10_000));
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0], disconnected(Some(Error::ConnectTimeout)));
    reconnecting_in(&seen[1], 1, 0);
    assert_eq!(c.stack().open_sockets(), 0);
}

/// QoS 0 PUBLISH (§3.3) of `payload` on "a/b".
fn qos0_ab(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![
        0x30,
        (5 + payload.len()) as u8,
        0x00,
        0x03,
        b'a',
        b'/',
        b'b',
    ];
    out.extend(payload);
    out
}

#[cfg(all(feature = "reconnect", feature = "offline-queue"))]
#[test]
fn qos0_waits_offline_and_goes_out_in_order_after_the_qos1_resends() {
    let mut bufs = Buffers::new(256);
    let mut c = reconnecting(&mut bufs, false);
    // Before connect nothing would ever send it.
    assert_eq!(
        c.publish(Instant(0), "a/b", b"0", QoS::AtMostOnce, false),
        Err(Error::InvalidState)
    );
    c.connect(Instant(0)).unwrap();
    // Connecting: queued.
    assert_eq!(
        c.publish(Instant(0), "a/b", b"1", QoS::AtMostOnce, false),
        Ok(None)
    );
    assert_eq!(
        c.publish(Instant(0), "a/b", b"hi", QoS::AtLeastOnce, false),
        Ok(Some(1))
    );
    assert_eq!(
        c.publish(Instant(0), "a/b", b"2", QoS::AtMostOnce, false),
        Ok(None)
    );
    assert_eq!(c.qos0_queued(), 2);
    drain(&mut c, Instant(0));
    assert_eq!(c.stack_mut().take_sent(), CONNECT_RESUME);
    c.stack_mut().broker_sends(CONNACK);
    assert_eq!(drain(&mut c, Instant(1)), vec![connected(false)]);
    let expected = [publish_qos1_ab(false), qos0_ab(b"1"), qos0_ab(b"2")].concat();
    assert_eq!(c.stack_mut().take_sent(), expected);
    assert_eq!(c.qos0_queued(), 0);
    // Connected with an empty queue: straight out.
    c.publish(Instant(2), "a/b", b"3", QoS::AtMostOnce, false)
        .unwrap();
    drain(&mut c, Instant(2));
    assert_eq!(c.stack_mut().take_sent(), qos0_ab(b"3"));
}

#[cfg(all(feature = "reconnect", feature = "offline-queue"))]
#[test]
fn a_full_qos0_queue_rejects_or_drops_the_oldest_and_says_so() {
    let cap = mqtt_engine::config::OFFLINE_QOS0_MSGS;
    for policy in [Qos0Policy::RejectWhenFull, Qos0Policy::DropOldest] {
        let mut bufs = Buffers::new(256);
        let mut c = reconnecting(&mut bufs, true);
        c.set_qos0_policy(policy);
        c.connect(Instant(0)).unwrap();
        for i in 0..cap {
            let payload = [b'a' + i as u8];
            c.publish(Instant(0), "a/b", &payload, QoS::AtMostOnce, false)
                .unwrap();
        }
        let extra = c.publish(Instant(0), "a/b", b"z", QoS::AtMostOnce, false);
        let huge = vec![0u8; mqtt_engine::config::OFFLINE_QOS0_BYTES + 1];
        assert_eq!(
            c.publish(Instant(0), "a/b", &huge, QoS::AtMostOnce, false),
            Err(Error::TooLarge)
        );
        let seen = drain(&mut c, Instant(0));
        c.stack_mut().take_sent();
        c.stack_mut().broker_sends(CONNACK);
        drain(&mut c, Instant(1));
        let sent = c.stack_mut().take_sent();
        let first_kept = match policy {
            Qos0Policy::RejectWhenFull => {
                assert_eq!(extra, Err(Error::Full));
                assert_eq!(seen, vec![]);
                assert_eq!(c.qos0_dropped(), 0);
                0
            }
            Qos0Policy::DropOldest => {
                assert_eq!(extra, Ok(None));
                assert_eq!(seen, vec![Seen::Qos0Dropped(1)]);
                assert_eq!(c.qos0_dropped(), 1);
                1
            }
        };
        let mut expected: Vec<u8> = (first_kept..cap)
            .flat_map(|i| qos0_ab(&[b'a' + i as u8]))
            .collect();
        if policy == Qos0Policy::DropOldest {
            expected.extend(qos0_ab(b"z"));
        }
        assert_eq!(sent, expected, "{policy:?}");
    }
}

#[cfg(all(feature = "qos2", feature = "reconnect", feature = "resubscribe"))]
#[test]
fn subscriptions_are_renewed_when_the_broker_kept_no_session() {
    let mut bufs = Buffers::new(256);
    let mut c = reconnecting(&mut bufs, true);
    connect_ok(&mut c, Instant(0), CONNECT_CLEAN);
    let id = c
        .engine_mut()
        .subscribe(
            Instant(0),
            [("a/+", QoS::AtLeastOnce), ("b/#", QoS::ExactlyOnce)].into_iter(),
        )
        .unwrap();
    let id2 = c
        .engine_mut()
        .subscribe(Instant(0), [("c", QoS::AtMostOnce)].into_iter())
        .unwrap();
    let id3 = c
        .engine_mut()
        .subscribe(Instant(0), [("d", QoS::AtLeastOnce)].into_iter())
        .unwrap();
    drain(&mut c, Instant(0));
    assert_eq!(
        c.stack_mut().take_sent(),
        [
            subscribe_bytes(id, &[("a/+", 1), ("b/#", 2)]),
            subscribe_bytes(id2, &[("c", 0)]),
            subscribe_bytes(id3, &[("d", 1)]),
        ]
        .concat()
    );
    // "d" is refused by the broker, "c" unsubscribed: neither is renewed.
    c.stack_mut().broker_sends(&[0x90, 0x04, 0, id as u8, 1, 2]);
    c.stack_mut().broker_sends(&[0x90, 0x03, 0, id2 as u8, 0]);
    c.stack_mut()
        .broker_sends(&[0x90, 0x03, 0, id3 as u8, 0x80]);
    assert_eq!(drain(&mut c, Instant(1)).len(), 3);
    let unsub = c
        .engine_mut()
        .unsubscribe(Instant(1), ["c"].into_iter())
        .unwrap();
    c.stack_mut().broker_sends(&[0xB0, 0x02, 0, unsub as u8]);
    drain(&mut c, Instant(1));
    c.stack_mut().take_sent();
    let kept: Vec<(String, QoS)> = c
        .engine()
        .subscriptions()
        .map(|(f, q)| (f.to_owned(), q))
        .collect();
    assert_eq!(
        kept,
        [
            ("a/+".to_owned(), QoS::AtLeastOnce),
            ("b/#".to_owned(), QoS::ExactlyOnce)
        ]
    );

    c.stack_mut().peer_closed = true;
    drain(&mut c, Instant(2));
    c.stack_mut().peer_closed = false;
    drain(&mut c, Instant(102));
    assert_eq!(c.stack_mut().take_sent(), CONNECT_CLEAN);
    c.stack_mut().broker_sends(CONNACK);
    assert_eq!(drain(&mut c, Instant(103)), vec![connected(false)]);
    let renewal_id = unsub + 1;
    assert_eq!(
        c.stack_mut().take_sent(),
        subscribe_bytes(renewal_id, &[("a/+", 1), ("b/#", 2)])
    );
    c.stack_mut()
        .broker_sends(&[0x90, 0x04, 0, renewal_id as u8, 1, 2]);
    assert_eq!(
        drain(&mut c, Instant(104)),
        vec![Seen::Subscribed {
            packet_id: renewal_id,
            granted: vec![1, 2]
        }]
    );
}

#[cfg(all(feature = "reconnect", feature = "resubscribe"))]
#[test]
fn a_present_session_is_not_resubscribed() {
    let mut bufs = Buffers::new(256);
    let mut c = reconnecting(&mut bufs, false);
    connect_ok(&mut c, Instant(0), CONNECT_RESUME);
    c.engine_mut()
        .subscribe(Instant(0), [("a", QoS::AtLeastOnce)].into_iter())
        .unwrap();
    c.stack_mut().broker_sends(&[0x90, 0x03, 0, 1, 1]);
    drain(&mut c, Instant(0));
    c.stack_mut().take_sent();
    c.stack_mut().peer_closed = true;
    drain(&mut c, Instant(1));
    c.stack_mut().peer_closed = false;
    drain(&mut c, Instant(101));
    assert_eq!(c.stack_mut().take_sent(), CONNECT_RESUME);
    c.stack_mut().broker_sends(CONNACK_SESSION_PRESENT);
    assert_eq!(drain(&mut c, Instant(102)), vec![connected(true)]);
    assert_eq!(c.stack_mut().take_sent(), []);
}

#[cfg(all(feature = "reconnect", feature = "resubscribe"))]
#[test]
fn the_subscription_table_refuses_what_it_cannot_remember() {
    let mut bufs = Buffers::new(512);
    bufs.tx = vec![0; 1024];
    let mut c = reconnecting(&mut bufs, true);
    connect_ok(&mut c, Instant(0), CONNECT_CLEAN);
    let filters: Vec<String> = (0..mqtt_engine::config::MAX_SUBSCRIPTIONS + 1)
        .map(|i| format!("f/{i}"))
        .collect();
    let all = filters.iter().map(|f| (f.as_str(), QoS::AtMostOnce));
    assert_eq!(
        c.engine_mut().subscribe(Instant(0), all),
        Err(Error::Full),
        "one filter too many: nothing sent"
    );
    drain(&mut c, Instant(0));
    assert_eq!(c.stack_mut().take_sent(), []);
    let long = "x".repeat(mqtt_engine::config::SUB_FILTER_BYTES + 1);
    assert_eq!(
        c.engine_mut()
            .subscribe(Instant(0), [(long.as_str(), QoS::AtMostOnce)].into_iter()),
        Err(Error::Full)
    );
    // Re-subscribing a known filter takes no new room and updates its QoS.
    for _ in 0..3 {
        let id = c
            .engine_mut()
            .subscribe(Instant(0), [("f/0", QoS::AtLeastOnce)].into_iter())
            .unwrap();
        c.stack_mut().broker_sends(&[0x90, 0x03, 0, id as u8, 1]);
        drain(&mut c, Instant(0));
    }
    assert_eq!(c.engine().subscriptions().count(), 1);
}

#[cfg(all(feature = "qos2", feature = "reconnect"))]
/// Issue 12 §3 with a rumqttd-like broker, which closes the connection on a PUBREL re-sent
/// after a reconnect (amqtt, which never answers it, ends the same way through the ack
/// timeout): after three connections ended with the PUBREL unanswered, the message completes
/// as abandoned and publishing goes on.
#[test]
fn a_broker_that_closes_on_a_resent_pubrel_does_not_wedge_the_publisher() {
    let mut bufs = Buffers::new(256);
    let mut c = reconnecting(&mut bufs, false);
    c.connect(Instant(0)).unwrap();
    drain(&mut c, Instant(0));
    assert_eq!(c.stack_mut().take_sent(), CONNECT_RESUME);
    c.stack_mut().broker_sends(CONNACK);
    assert_eq!(drain(&mut c, Instant(0)), vec![connected(false)]);
    let publish_qos2 = |id: u8| {
        vec![
            0x34, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, id, b'h', b'i',
        ]
    };
    let pubrel = |id: u8| vec![0x62, 0x02, 0x00, id];
    assert_eq!(
        c.publish(Instant(0), "a/b", b"hi", QoS::ExactlyOnce, false),
        Ok(Some(1))
    );
    drain(&mut c, Instant(0));
    assert_eq!(c.stack_mut().take_sent(), publish_qos2(1));
    c.stack_mut().broker_sends(&[0x50, 0x02, 0x00, 0x01]);
    drain(&mut c, Instant(0));
    assert_eq!(c.stack_mut().take_sent(), pubrel(1));
    let mut now = 0;
    for connection in 1..=3 {
        // The broker closes: on the first connection it just never answered; on the next
        // ones it closes on the re-sent PUBREL.
        c.stack_mut().peer_closed = true;
        let seen = drain(&mut c, Instant(now));
        assert_eq!(
            seen[0],
            disconnected(Some(Error::PeerClosed)),
            "connection {connection}"
        );
        // Full jitter: at most 100 ms, so the reconnect below (100 ms later) is due.
        reconnecting_in(&seen[1], 1, 0);
        let expected = if connection == 3 {
            vec![Seen::Event(Event::PublishAbandoned { packet_id: 1 })]
        } else {
            vec![]
        };
        assert_eq!(seen[2..], expected, "connection {connection}");
        c.stack_mut().peer_closed = false;
        now += 100;
        assert_eq!(drain(&mut c, Instant(now)), vec![]);
        assert_eq!(c.stack_mut().take_sent(), CONNECT_RESUME);
        c.stack_mut().broker_sends(CONNACK_SESSION_PRESENT);
        assert_eq!(drain(&mut c, Instant(now)), vec![connected(true)]);
        let resent = c.stack_mut().take_sent();
        if connection < 3 {
            assert_eq!(resent, pubrel(1), "connection {}", connection + 1);
        } else {
            assert_eq!(resent, [], "abandoned: the PUBREL is not sent again");
        }
    }
    assert_eq!(c.engine().inflight(), 0);
    assert_eq!(
        c.publish(Instant(now), "a/b", b"hi", QoS::ExactlyOnce, false),
        Ok(Some(2))
    );
    drain(&mut c, Instant(now));
    assert_eq!(c.stack_mut().take_sent(), publish_qos2(2));
}
