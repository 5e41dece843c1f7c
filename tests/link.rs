//! The cellular link (features `link`, `stats`, `pending`) over the scripted TCP stack:
//! full-jitter backoff against a broker that never answers (as AWS Device Advisor's
//! "re-connect with jitter backoff" test), link down/up, the early-death and refused-credentials
//! rules, the NAT keep-alive clamp, the wire counters against the exact bytes, and idle.
#![cfg(all(feature = "link", feature = "stats", feature = "pending"))]

mod mock_stack;

use mock_stack::{Answer, MockStack, RecvStep, SendStep};
use mqtt_engine::client::{
    nat_keep_alive, Client, ClientState, Dispatch, Endpoint, LinkPolicy, ReconnectPolicy,
};
use mqtt_engine::engine::{Config, ConnectOptions, Engine, Event};
use mqtt_engine::time::Instant;
use mqtt_engine::wire::QoS;
use mqtt_engine::Error;

/// CONNECT, client id "c1", keep-alive 60 s, clean session 0 (§3.1): 16 bytes.
const CONNECT_RESUME: &[u8] = &[
    0x10, 0x0E, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x00, 0x00, 0x3C, 0x00, 0x02, b'c', b'1',
];
const CONNACK: &[u8] = &[0x20, 0x02, 0x00, 0x00];
const CONNACK_SESSION_PRESENT: &[u8] = &[0x20, 0x02, 0x01, 0x00];
const CONNECT_TIMEOUT_MS: u32 = 5_000;

const BACKOFF: ReconnectPolicy = ReconnectPolicy {
    enabled: true,
    min_ms: 1_000,
    max_ms: 60_000,
};

struct Buffers {
    rx: Vec<u8>,
    tx: Vec<u8>,
    store: Vec<u8>,
}

impl Buffers {
    fn new() -> Self {
        Buffers {
            rx: vec![0; 256],
            tx: vec![0; 256],
            store: vec![0; 512],
        }
    }
}

fn client(bufs: &mut Buffers) -> Client<'_, MockStack> {
    let config = Config {
        inflight_window: 4,
        connect_timeout_ms: CONNECT_TIMEOUT_MS,
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
    c
}

/// A dispatch with its ranges resolved.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Event(Event),
    Message(String, Vec<u8>),
    Subscribed(u16, Vec<u8>),
    Reconnecting { attempt: u32, delay_ms: u32 },
    Link(bool),
    ReconnectStopped(u8),
    Idle,
    Other,
}

fn drain(c: &mut Client<'_, MockStack>, now: Instant) -> Vec<Seen> {
    let mut seen = Vec::new();
    for _ in 0..10_000 {
        let Some(dispatch) = c.poll_once(now) else {
            return seen;
        };
        let window = c.rx_window();
        seen.push(match dispatch {
            Dispatch::Event(e) => Seen::Event(e),
            Dispatch::Message(m) => Seen::Message(
                String::from_utf8(window[m.topic].to_vec()).unwrap(),
                window[m.payload].to_vec(),
            ),
            Dispatch::Subscribed { packet_id, granted } => {
                Seen::Subscribed(packet_id, window[granted].to_vec())
            }
            Dispatch::Reconnecting {
                attempt, delay_ms, ..
            } => Seen::Reconnecting { attempt, delay_ms },
            Dispatch::Link { up } => Seen::Link(up),
            Dispatch::ReconnectStopped { code } => Seen::ReconnectStopped(code),
            Dispatch::Idle => Seen::Idle,
            _ => Seen::Other,
        });
    }
    panic!("poll_once never ran out of work");
}

fn disconnected(reason: Error) -> Seen {
    Seen::Event(Event::Disconnected {
        reason: Some(reason),
    })
}

fn connected(session_present: bool) -> Seen {
    Seen::Event(Event::Connected { session_present })
}

/// The one `Reconnecting` in `seen`, checked to lie in attempt `attempt`'s window.
fn delay_of(seen: &[Seen], attempt: u32) -> u32 {
    let delays: Vec<u32> = seen
        .iter()
        .filter_map(|s| match *s {
            Seen::Reconnecting {
                attempt: a,
                delay_ms,
            } => {
                assert_eq!(a, attempt, "{seen:?}");
                Some(delay_ms)
            }
            _ => None,
        })
        .collect();
    assert_eq!(delays.len(), 1, "{seen:?}");
    assert!(delays[0] <= BACKOFF.ceiling_ms(attempt), "{seen:?}");
    delays[0]
}

fn connect_ok(c: &mut Client<'_, MockStack>, now: Instant) {
    c.connect(now).unwrap();
    assert_eq!(drain(c, now), vec![]);
    assert_eq!(c.stack_mut().take_sent(), CONNECT_RESUME);
    c.stack_mut().broker_sends(CONNACK);
    assert_eq!(drain(c, now), vec![connected(false)]);
}

/// Device Advisor's "re-connect with jitter backoff": the broker accepts TCP and never sends
/// CONNACK. Every attempt times out; the next one starts exactly its drawn delay later, never
/// earlier; the delays stay within [0, min(cap, base * 2^(n-1))], are jittered, and grow.
#[test]
fn a_broker_that_never_answers_sees_jittered_growing_backoff() {
    const ATTEMPTS: u32 = 14;
    let mut bufs = Buffers::new();
    let mut c = client(&mut bufs);
    c.connect(Instant(0)).unwrap();
    let mut now = Instant(0);
    let mut delays = Vec::new();
    for attempt in 1..=ATTEMPTS {
        assert_eq!(drain(&mut c, now), vec![]);
        assert_eq!(c.stack().connect_calls.len(), attempt as usize);
        assert_eq!(c.stack_mut().take_sent(), CONNECT_RESUME, "{attempt}");
        // Silence until the connect timeout, and not a millisecond less.
        assert_eq!(drain(&mut c, now.add_ms(CONNECT_TIMEOUT_MS - 1)), vec![]);
        now = now.add_ms(CONNECT_TIMEOUT_MS);
        let seen = drain(&mut c, now);
        assert_eq!(seen[0], disconnected(Error::ConnectTimeout));
        let delay = delay_of(&seen, attempt);
        delays.push(delay);
        assert_eq!(c.state(), ClientState::Reconnecting);
        assert_eq!(c.stack().open_sockets(), 0);
        assert_eq!(c.next_deadline(now), Some(delay));
        if delay > 0 {
            assert_eq!(drain(&mut c, now.add_ms(delay - 1)), vec![]);
            assert_eq!(c.stack().connect_calls.len(), attempt as usize, "too early");
        }
        now = now.add_ms(delay);
    }
    // Jittered: not one fixed schedule, and not pinned to the ceilings.
    let distinct: std::collections::HashSet<_> = delays.iter().collect();
    assert!(distinct.len() >= 12, "{delays:?}");
    let at_ceiling = (1..=ATTEMPTS)
        .zip(&delays)
        .filter(|(a, d)| **d == BACKOFF.ceiling_ms(*a))
        .count();
    assert!(at_ceiling <= 2, "{delays:?}");
    // Growing: the later half waits far longer than the first.
    let first: u64 = delays[..7].iter().map(|&d| u64::from(d)).sum();
    let last: u64 = delays[7..].iter().map(|&d| u64::from(d)).sum();
    assert!(last > 4 * first, "{delays:?}");
    assert_eq!(c.stack().connect_calls.len(), ATTEMPTS as usize);
}

/// The distribution of the draws, over many devices (seeds): each attempt's delays cover
/// [0, ceiling] (low and high tails both reached) and average about half the ceiling.
#[test]
fn the_delays_of_many_devices_spread_over_the_whole_window() {
    let mut bufs: Vec<Buffers> = (0..200).map(|_| Buffers::new()).collect();
    let mut per_attempt: Vec<Vec<u32>> = vec![Vec::new(); 8];
    for (seed, b) in bufs.iter_mut().enumerate() {
        let mut c = client(b);
        c.mix_entropy(0x9E37_79B9u32.wrapping_mul(seed as u32 + 1));
        c.stack_mut()
            .connect_plan
            .extend(std::iter::repeat_n(Answer::Fail, 8));
        c.connect(Instant(0)).unwrap();
        let mut now = Instant(0);
        let mut attempt = 0;
        // A delay of 0 starts the next attempt within the same drain: take every notice.
        for _ in 0..8 {
            for seen in drain(&mut c, now) {
                if let Seen::Reconnecting {
                    attempt: a,
                    delay_ms,
                } = seen
                {
                    attempt += 1;
                    assert_eq!(a, attempt);
                    if let Some(slot) = per_attempt.get_mut(attempt as usize - 1) {
                        slot.push(delay_ms);
                    }
                    now = now.add_ms(delay_ms);
                }
            }
        }
        assert!(attempt >= 8, "{attempt}");
    }
    for (i, delays) in per_attempt.iter().enumerate() {
        let ceiling = BACKOFF.ceiling_ms(i as u32 + 1);
        let min = *delays.iter().min().unwrap();
        let max = *delays.iter().max().unwrap();
        let mean = delays.iter().map(|&d| u64::from(d)).sum::<u64>() / delays.len() as u64;
        assert!(max <= ceiling, "attempt {}: {max} > {ceiling}", i + 1);
        assert!(min <= ceiling / 10, "attempt {}: min {min}", i + 1);
        assert!(
            max >= ceiling - ceiling / 10,
            "attempt {}: max {max}",
            i + 1
        );
        let half = u64::from(ceiling / 2);
        assert!(
            mean.abs_diff(half) <= half / 5,
            "attempt {}: mean {mean} of [0, {ceiling}]",
            i + 1
        );
    }
}

#[test]
fn link_down_ends_the_connection_and_no_attempt_is_made_until_link_up() {
    let mut bufs = Buffers::new();
    let mut c = client(&mut bufs);
    connect_ok(&mut c, Instant(0));
    c.link_down(Instant(10));
    c.link_down(Instant(10)); // again: nothing new
    assert_eq!(
        drain(&mut c, Instant(10)),
        vec![Seen::Link(false), disconnected(Error::LinkDown)]
    );
    assert_eq!(c.state(), ClientState::LinkDown);
    assert!(!c.link_is_up());
    assert_eq!(c.stack().open_sockets(), 0);
    assert_eq!(c.next_deadline(Instant(10)), None, "nothing to wake up for");

    // Publishing keeps its offline behaviour.
    assert_eq!(
        c.publish(Instant(11), "a/b", b"q1", QoS::AtLeastOnce, false),
        Ok(Some(1))
    );
    assert_eq!(
        c.publish(Instant(11), "a/b", b"q0", QoS::AtMostOnce, false),
        Ok(None)
    );
    // An hour of polling: not one connect attempt.
    for minute in 1..=60u32 {
        assert_eq!(drain(&mut c, Instant(minute * 60_000)), vec![]);
    }
    assert_eq!(c.stack().connect_calls.len(), 1);
    assert_eq!(c.stack().opened.len(), 1);

    // Link-up: the attempt starts in the same call, no backoff.
    let up = Instant(3_600_001);
    c.link_up(up);
    assert_eq!(c.state(), ClientState::Connecting);
    assert_eq!(drain(&mut c, up), vec![Seen::Link(true)]);
    assert_eq!(c.stack().connect_calls.len(), 2);
    assert_eq!(c.stack_mut().take_sent(), CONNECT_RESUME);
    c.stack_mut().broker_sends(CONNACK_SESSION_PRESENT);
    assert_eq!(drain(&mut c, up), vec![connected(true)]);
    // Nothing accepted was lost: the QoS 1 then the QoS 0, in that order.
    let mut expected = vec![
        0x32, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x01, b'q', b'1',
    ];
    expected.extend([0x30, 0x07, 0x00, 0x03, b'a', b'/', b'b', b'q', b'0']);
    assert_eq!(c.stack_mut().take_sent(), expected);
    assert_eq!(c.wire_stats().reconnects, 1);
}

#[test]
fn link_down_during_a_backoff_or_an_attempt_stops_it_and_connect_waits_for_link_up() {
    let mut bufs = Buffers::new();
    let mut c = client(&mut bufs);
    connect_ok(&mut c, Instant(0));
    c.stack_mut().peer_closed = true;
    let seen = drain(&mut c, Instant(1));
    let delay = delay_of(&seen, 1);
    c.stack_mut().peer_closed = false;
    c.link_down(Instant(2));
    assert_eq!(drain(&mut c, Instant(2)), vec![Seen::Link(false)]);
    assert_eq!(drain(&mut c, Instant(3 + delay + 60_000)), vec![]);
    assert_eq!(
        c.stack().connect_calls.len(),
        1,
        "the backoff ended no attempt"
    );
    c.link_up(Instant(70_000));
    assert_eq!(drain(&mut c, Instant(70_000)), vec![Seen::Link(true)]);
    assert_eq!(c.stack().connect_calls.len(), 2);

    // Down while the TCP connect is pending: the attempt ends, its socket closes.
    c.disconnect(Instant(70_001)).unwrap();
    drain(&mut c, Instant(70_001));
    c.stack_mut().connect_plan.push_back(Answer::WouldBlock);
    c.connect(Instant(70_002)).unwrap();
    drain(&mut c, Instant(70_002));
    assert_eq!(c.stack().open_sockets(), 1);
    c.link_down(Instant(70_003));
    assert_eq!(
        drain(&mut c, Instant(70_003)),
        vec![Seen::Link(false), disconnected(Error::LinkDown)]
    );
    assert_eq!(c.stack().open_sockets(), 0);

    // A connect while the link is down waits for link-up; disconnect cancels that wish.
    c.disconnect(Instant(70_004)).unwrap();
    drain(&mut c, Instant(70_004));
    assert_eq!(c.state(), ClientState::Disconnected);
    let calls = c.stack().connect_calls.len();
    c.connect(Instant(70_005)).unwrap();
    assert_eq!(c.state(), ClientState::LinkDown);
    assert_eq!(drain(&mut c, Instant(80_000)), vec![]);
    assert_eq!(c.stack().connect_calls.len(), calls);
    c.link_up(Instant(80_001));
    drain(&mut c, Instant(80_001));
    assert_eq!(c.stack().connect_calls.len(), calls + 1);
}

#[test]
fn link_up_during_a_backoff_connects_at_once() {
    let mut bufs = Buffers::new();
    let mut c = client(&mut bufs);
    c.stack_mut()
        .connect_plan
        .extend([Answer::Fail, Answer::Fail, Answer::Fail]);
    c.connect(Instant(0)).unwrap();
    let mut now = Instant(0);
    for attempt in 1..=3 {
        now = now.add_ms(delay_of(&drain(&mut c, now), attempt));
    }
    // The fourth backoff runs (up to 8 s); the modem re-attached: no waiting.
    assert_eq!(c.state(), ClientState::Reconnecting);
    c.link_up(now);
    assert_eq!(
        drain(&mut c, now),
        vec![],
        "no event: the link was never down"
    );
    assert_eq!(c.stack().connect_calls.len(), 4);
    assert_eq!(c.state(), ClientState::Connecting);
}

#[test]
fn a_connection_that_dies_soon_after_connack_counts_as_a_failed_attempt() {
    let mut bufs = Buffers::new();
    let mut c = client(&mut bufs);
    c.set_link_policy(LinkPolicy {
        stable_ms: 5_000,
        auth_retry_limit: 0,
    });
    c.stack_mut()
        .connect_plan
        .extend([Answer::Fail, Answer::Fail]);
    c.connect(Instant(0)).unwrap();
    let mut now = Instant(0);
    for attempt in 1..=2 {
        now = now.add_ms(delay_of(&drain(&mut c, now), attempt));
    }
    // The third attempt reaches CONNACK; the broker kicks the client 1 s later (duplicate id).
    drain(&mut c, now);
    c.stack_mut().broker_sends(CONNACK_SESSION_PRESENT);
    assert_eq!(drain(&mut c, now), vec![connected(true)]);
    c.stack_mut().peer_closed = true;
    now = now.add_ms(1_000);
    let seen = drain(&mut c, now);
    assert_eq!(seen[0], disconnected(Error::PeerClosed));
    now = now.add_ms(delay_of(&seen, 3));
    c.stack_mut().peer_closed = false;
    // Again, kicked at 4,999 ms: attempt 4.
    drain(&mut c, now);
    c.stack_mut().broker_sends(CONNACK_SESSION_PRESENT);
    assert_eq!(drain(&mut c, now), vec![connected(true)]);
    c.stack_mut().peer_closed = true;
    now = now.add_ms(4_999);
    now = now.add_ms(delay_of(&drain(&mut c, now), 4));
    c.stack_mut().peer_closed = false;
    // A connection that lasts 5 s is stable: the next loss starts over at attempt 1.
    drain(&mut c, now);
    c.stack_mut().broker_sends(CONNACK_SESSION_PRESENT);
    assert_eq!(drain(&mut c, now), vec![connected(true)]);
    c.stack_mut().peer_closed = true;
    now = now.add_ms(5_000);
    delay_of(&drain(&mut c, now), 1);
}

#[test]
fn refused_credentials_stop_reconnecting_after_the_limit_unless_refreshable() {
    for refreshable in [false, true] {
        let mut bufs = Buffers::new();
        let mut c = client(&mut bufs);
        c.set_link_policy(LinkPolicy {
            stable_ms: 0,
            auth_retry_limit: 3,
        });
        c.set_credentials_refreshable(refreshable);
        c.connect(Instant(0)).unwrap();
        let mut now = Instant(0);
        // CONNACK 3 (server unavailable) does not count; 4 and 5 do.
        for (attempt, code) in [3u8, 5, 4, 5, 5].into_iter().enumerate() {
            drain(&mut c, now);
            c.stack_mut().broker_sends(&[0x20, 0x02, 0x00, code]);
            let seen = drain(&mut c, now);
            assert_eq!(seen[0], Seen::Event(Event::ConnectRefused { code }));
            if !refreshable && attempt == 3 {
                assert_eq!(seen[1..], [Seen::ReconnectStopped(5)], "{seen:?}");
                assert_eq!(c.state(), ClientState::Disconnected);
                assert_eq!(c.next_deadline(now), None);
                let calls = c.stack().connect_calls.len();
                assert_eq!(drain(&mut c, now.add_ms(3_600_000)), vec![]);
                assert_eq!(c.stack().connect_calls.len(), calls);
                // The application decides: connect starts again, the count from zero.
                c.connect(now).unwrap();
                drain(&mut c, now);
                assert_eq!(c.stack().connect_calls.len(), calls + 1);
                break;
            }
            now = now.add_ms(delay_of(&seen, attempt as u32 + 1));
        }
        if refreshable {
            // Five refusals, each followed by another attempt.
            assert_eq!(c.stack().connect_calls.len(), 5);
            assert_eq!(c.state(), ClientState::Reconnecting);
        }
    }
}

#[test]
fn the_nat_clamp_keeps_the_keep_alive_below_two_thirds_of_the_nat_timeout() {
    assert_eq!(nat_keep_alive(60, 0), 60, "unknown NAT: as configured");
    assert_eq!(nat_keep_alive(600, 300), 199);
    assert_eq!(nat_keep_alive(60, 300), 60, "already short enough");
    assert_eq!(nat_keep_alive(200, 300), 199);
    assert_eq!(nat_keep_alive(199, 300), 199);
    assert_eq!(
        nat_keep_alive(0, 120),
        79,
        "keep-alive off behind a NAT: turned on"
    );
    assert_eq!(nat_keep_alive(60, 1), 1);
    assert_eq!(nat_keep_alive(1200, u32::MAX), 1200);
    assert_eq!(nat_keep_alive(0, u32::MAX), u16::MAX);
    for nat in 1..2_000u32 {
        let ka = u32::from(nat_keep_alive(u16::MAX, nat));
        assert!(3 * ka < 2 * nat || ka == 1, "{nat}: {ka}");
        assert!(3 * (ka + 1) >= 2 * nat, "{nat}: {ka} is not the largest");
    }
}

/// The wire counters against the exact bytes the broker received and sent, through partial
/// writes and one-byte reads, a lost connection, a re-send and a ping.
#[test]
fn stats_count_every_byte_and_packet_on_the_wire() {
    let mut bufs = Buffers::new();
    let mut c = client(&mut bufs);
    c.stack_mut()
        .set_send_pattern(&[SendStep::Accept(3), SendStep::WouldBlock]);
    let mut inbound = 0usize;
    let mut broker = |c: &mut Client<'_, MockStack>, bytes: &[u8]| {
        inbound += bytes.len();
        c.stack_mut().broker_sends(bytes);
        c.stack_mut()
            .recv_plan
            .extend(std::iter::repeat_n(RecvStep::Give(1), bytes.len()));
    };
    let pump = |c: &mut Client<'_, MockStack>, now: u32| {
        let mut seen = Vec::new();
        for _ in 0..200 {
            seen.extend(drain(c, Instant(now)));
        }
        seen
    };
    c.connect(Instant(0)).unwrap();
    pump(&mut c, 0);
    broker(&mut c, CONNACK);
    pump(&mut c, 0);
    assert_eq!(c.state(), ClientState::Connected);
    c.engine_mut()
        .subscribe(Instant(1), [("s/#", QoS::AtLeastOnce)].into_iter())
        .unwrap();
    c.publish(Instant(1), "a/b", b"one", QoS::AtLeastOnce, false)
        .unwrap();
    c.publish(Instant(1), "a/b", b"two", QoS::ExactlyOnce, false)
        .unwrap();
    c.publish(Instant(1), "a/b", b"zero", QoS::AtMostOnce, false)
        .unwrap();
    pump(&mut c, 1);
    broker(&mut c, &[0x90, 0x03, 0x00, 0x01, 0x01]); // SUBACK id 1
    broker(&mut c, &[0x40, 0x02, 0x00, 0x02]); // PUBACK id 2
    broker(&mut c, &[0x50, 0x02, 0x00, 0x03]); // PUBREC id 3
    pump(&mut c, 2);
    // An incoming QoS 1 message: answered with PUBACK.
    broker(
        &mut c,
        &[0x32, 0x08, 0x00, 0x03, b's', b'/', b'x', 0x00, 0x07, b'!'],
    );
    pump(&mut c, 3);
    // Lost before PUBCOMP: the reconnect re-sends the PUBREL (no PUBLISH re-send, it was
    // PUBREC'd). Then a keep-alive ping.
    c.stack_mut().peer_closed = true;
    let seen = pump(&mut c, 4);
    let delay = delay_of(&seen, 1);
    c.stack_mut().peer_closed = false;
    pump(&mut c, 5 + delay);
    broker(&mut c, CONNACK_SESSION_PRESENT);
    pump(&mut c, 5 + delay);
    broker(&mut c, &[0x70, 0x02, 0x00, 0x03]); // PUBCOMP id 3
    pump(&mut c, 6 + delay);
    pump(&mut c, 6 + delay + 60_000);
    broker(&mut c, &[0xD0, 0x00]);
    pump(&mut c, 6 + delay + 60_001);
    // An unacknowledged QoS 1 across another loss: re-sent with DUP.
    c.publish(Instant(70_000), "a/b", b"dup", QoS::AtLeastOnce, false)
        .unwrap();
    pump(&mut c, 70_000);
    c.stack_mut().peer_closed = true;
    let seen = pump(&mut c, 70_001);
    let delay2 = delay_of(&seen, 1);
    c.stack_mut().peer_closed = false;
    pump(&mut c, 70_002 + delay2);
    broker(&mut c, CONNACK_SESSION_PRESENT);
    pump(&mut c, 70_002 + delay2);

    let sent = c.stack().sent.clone();
    let stats = c.wire_stats();
    assert_eq!(stats.bytes_sent, sent.len() as u64);
    assert_eq!(stats.bytes_received, inbound as u64);
    let mut expect_sent = [0u32; 16];
    // CONNECT x3, PUBLISH one/two/zero/dup + dup re-sent, PUBACK (for id 7), PUBREL x2,
    // SUBSCRIBE, PINGREQ.
    for (kind, n) in [(1, 3), (3, 5), (4, 1), (6, 2), (8, 1), (12, 1)] {
        expect_sent[kind] = n;
    }
    assert_eq!(stats.packets_sent, expect_sent);
    let mut expect_received = [0u32; 16];
    for (kind, n) in [(2, 3), (3, 1), (4, 1), (5, 1), (7, 1), (9, 1), (13, 1)] {
        expect_received[kind] = n;
    }
    assert_eq!(stats.packets_received, expect_received);
    assert_eq!(stats.publish_resends, 1);
    assert_eq!(stats.connects, 3);
    assert_eq!(stats.reconnects, 2);
    // The byte count is the exact packets: CONNECT 16 x 3; PUBLISH "one", "two", "dup" and its
    // re-send 12 each, "zero" (QoS 0, no id) 11; PUBACK 4; PUBREL 4 x 2; SUBSCRIBE 10; PINGREQ 2.
    assert_eq!(sent.len(), 16 * 3 + 12 * 4 + 11 + 4 + 4 * 2 + 10 + 2);
}

#[test]
fn pending_counts_the_work_in_hand_and_idle_is_reported_once_per_change() {
    let mut bufs = Buffers::new();
    let mut c = client(&mut bufs);
    c.set_idle_events(true);
    c.connect(Instant(0)).unwrap();
    drain(&mut c, Instant(0));
    assert!(!c.pending().idle, "not connected yet");
    c.publish(Instant(0), "a/b", b"x", QoS::AtMostOnce, false)
        .unwrap();
    assert_eq!(c.pending().qos0_queued, 1);
    c.stack_mut().take_sent();
    c.stack_mut().broker_sends(CONNACK);
    // Connected, the queued QoS 0 goes out: then idle, reported once.
    assert_eq!(
        drain(&mut c, Instant(0)),
        vec![connected(false), Seen::Idle]
    );
    assert_eq!(drain(&mut c, Instant(1)), vec![]);
    let p = c.pending();
    assert!(p.idle && p.qos0_queued == 0 && p.inflight == 0, "{p:?}");

    c.engine_mut()
        .subscribe(Instant(2), [("s", QoS::AtMostOnce)].into_iter())
        .unwrap();
    c.publish(Instant(2), "a/b", b"x", QoS::AtLeastOnce, false)
        .unwrap();
    let p = c.pending();
    assert_eq!((p.subs_awaiting, p.inflight, p.idle), (1, 1, false));
    assert!(p.tx_bytes > 0);
    c.stack_mut().set_send_pattern(&[SendStep::WouldBlock]);
    drain(&mut c, Instant(2));
    assert!(c.pending().tx_bytes > 0, "unsent bytes keep it busy");
    c.stack_mut().set_send_pattern(&[]);
    drain(&mut c, Instant(2));
    assert_eq!(c.pending().tx_bytes, 0);
    c.stack_mut().broker_sends(&[0x90, 0x03, 0x00, 0x01, 0x00]);
    let seen = drain(&mut c, Instant(3));
    assert!(!seen.contains(&Seen::Idle), "the PUBACK is still awaited");
    assert_eq!(c.pending().subs_awaiting, 0);
    c.stack_mut().broker_sends(&[0x40, 0x02, 0x00, 0x02]);
    let seen = drain(&mut c, Instant(3));
    assert_eq!(seen.last(), Some(&Seen::Idle));

    // The keep-alive ping makes it busy until PINGRESP: then idle again.
    let ping_at = Instant(3 + 60_000);
    drain(&mut c, ping_at);
    assert!(c.pending().ping_outstanding && !c.pending().idle);
    c.stack_mut().broker_sends(&[0xD0, 0x00]);
    assert_eq!(
        drain(&mut c, ping_at),
        vec![Seen::Event(Event::PingResponse), Seen::Idle]
    );
    // Without idle events nothing is reported, but the flag still tells.
    c.set_idle_events(false);
    c.publish(ping_at, "a/b", b"y", QoS::AtMostOnce, false)
        .unwrap();
    assert_eq!(drain(&mut c, ping_at), vec![]);
    assert!(c.pending().idle);
}
