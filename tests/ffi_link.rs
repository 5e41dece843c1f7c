//! The cellular calls through the C API (features `link`, `stats`, `pending`), over a fake C
//! transport and clock: the options' defaults and checks, the NAT clamp in the CONNECT bytes,
//! link down/up with its events and state, the refused-credentials stop, and mqe_stats and
//! mqe_pending against the bytes that crossed the fake socket.
#![cfg(all(feature = "link", feature = "stats", feature = "pending"))]

use std::cell::Cell;
use std::collections::VecDeque;
use std::ffi::c_void;
use std::ptr;

use mqtt_engine::ffi::*;

const CONNACK: &[u8] = &[0x20, 0x02, 0x00, 0x00];

/// CONNECT as the rig sends it (MQTT 3.1.1 §3.1): "MQTT" level 4, these connect flags and
/// keep-alive, client identifier "c1", no will or credentials.
fn connect_bytes(flags: u8, keep_alive: u16) -> Vec<u8> {
    let [hi, lo] = keep_alive.to_be_bytes();
    vec![
        0x10, 14, 0, 4, b'M', b'Q', b'T', b'T', 4, flags, hi, lo, 0, 2, b'c', b'1',
    ]
}

#[derive(Default)]
struct Net {
    inbound: VecDeque<u8>,
    sent: Vec<u8>,
    opened: usize,
    closed: usize,
    received_total: usize,
}

unsafe fn net<'a>(ctx: *mut c_void) -> &'a mut Net {
    unsafe { &mut *ctx.cast::<Net>() }
}

unsafe extern "C" fn t_open(ctx: *mut c_void) -> i32 {
    let net = unsafe { net(ctx) };
    net.opened += 1;
    net.opened as i32
}

unsafe extern "C" fn t_connect(_: *mut c_void, _: i32, _: *const mqe_sockaddr_t) -> i32 {
    0
}

unsafe extern "C" fn t_send(ctx: *mut c_void, _: i32, buf: *const u8, len: usize) -> i32 {
    // Three bytes at most per call: the counters must follow partial sends.
    let n = len.min(3);
    unsafe { net(ctx) }
        .sent
        .extend_from_slice(unsafe { std::slice::from_raw_parts(buf, n) });
    n as i32
}

unsafe extern "C" fn t_recv(ctx: *mut c_void, _: i32, buf: *mut u8, len: usize) -> i32 {
    let net = unsafe { net(ctx) };
    if net.inbound.is_empty() {
        return MQE_IO_WOULD_BLOCK;
    }
    let n = len.min(net.inbound.len()).min(2);
    let out = unsafe { std::slice::from_raw_parts_mut(buf, n) };
    for (slot, byte) in out.iter_mut().zip(net.inbound.drain(..n)) {
        *slot = byte;
    }
    net.received_total += n;
    n as i32
}

unsafe extern "C" fn t_close(ctx: *mut c_void, _: i32) {
    unsafe { net(ctx) }.closed += 1;
}

unsafe extern "C" fn p_now(ctx: *mut c_void) -> u32 {
    unsafe { &*ctx.cast::<Cell<u32>>() }.get()
}
/// A fixed "random": without one the reconnect jitter is seeded from the client's address,
/// and a 0 ms draw retries within the same poll, so attempts counted per poll vary by run.
unsafe extern "C" fn p_random(_: *mut c_void) -> u32 {
    0x2545_F491
}

unsafe extern "C" fn on_event(user: *mut c_void, e: *const mqe_event_t) {
    let seen = unsafe { &mut *user.cast::<Vec<(mqe_event_kind_t, mqe_status_t, u8)>>() };
    let e = unsafe { &*e };
    seen.push((e.kind, e.reason, e.return_code));
}

struct Rig {
    c: Box<mqe_client_t>,
    net: Box<Net>,
    clock: Box<Cell<u32>>,
    // Boxed: the event handler keeps this address while the Rig moves.
    #[allow(clippy::box_collection)]
    events: Box<Vec<(mqe_event_kind_t, mqe_status_t, u8)>>,
    _bufs: Box<[[u8; 512]; 3]>,
}

impl Rig {
    fn new(tune: impl FnOnce(&mut mqe_options_t)) -> Rig {
        let mut rig = Rig {
            c: Box::new(mqe_client_t::zeroed()),
            net: Box::default(),
            clock: Box::new(Cell::new(1_000)),
            events: Box::default(),
            _bufs: Box::new([[0; 512]; 3]),
        };
        let mut o = mqe_options_default();
        o.host = c"10.0.0.1".as_ptr();
        o.client_id = c"c1".as_ptr();
        o.rx_buf = rig._bufs[0].as_mut_ptr();
        o.rx_buf_len = 512;
        o.tx_buf = rig._bufs[1].as_mut_ptr();
        o.tx_buf_len = 512;
        o.store_buf = rig._bufs[2].as_mut_ptr();
        o.store_buf_len = 512;
        tune(&mut o);
        let t = mqe_transport_t {
            ctx: (&mut *rig.net as *mut Net).cast(),
            open: Some(t_open),
            connect: Some(t_connect),
            send: Some(t_send),
            recv: Some(t_recv),
            close: Some(t_close),
            resolve: None,
        };
        let p = mqe_platform_t {
            ctx: (&*rig.clock as *const Cell<u32>).cast_mut().cast(),
            now_ms: Some(p_now),
            random: Some(p_random),
            delay_ms: None,
            log: None,
        };
        let c = rig.c();
        assert_eq!(unsafe { mqe_init(c, &o, &t, &p) }, MQE_OK);
        let user = (&mut *rig.events as *mut Vec<_>).cast();
        assert_eq!(
            unsafe { mqe_set_event_handler(c, Some(on_event), user) },
            MQE_OK
        );
        rig
    }

    fn c(&mut self) -> *mut mqe_client_t {
        &mut *self.c
    }

    /// Polls until nothing is due now (bounded); the last non-OK status, if any.
    fn poll(&mut self) -> mqe_status_t {
        let c = self.c();
        let mut last = MQE_OK;
        for _ in 0..200 {
            let status = unsafe { mqe_poll(c) };
            if status != MQE_OK {
                last = status;
            }
            if unsafe { mqe_next_deadline_ms(c) } > 0 && self.net.inbound.is_empty() {
                break;
            }
        }
        last
    }

    fn advance(&mut self, ms: u32) {
        self.clock.set(self.clock.get().wrapping_add(ms));
    }

    fn kinds(&mut self) -> Vec<mqe_event_kind_t> {
        self.events.drain(..).map(|e| e.0).collect()
    }

    fn connect(&mut self) {
        let c = self.c();
        assert_eq!(unsafe { mqe_connect(c) }, MQE_OK);
        self.poll();
        self.net.inbound.extend(CONNACK);
        self.poll();
        assert_eq!(unsafe { mqe_state(c) }, MQE_STATE_CONNECTED);
    }
}

#[test]
fn the_options_default_to_storm_proof_values_and_the_nat_clamps_the_keep_alive() {
    let o = mqe_options_default();
    assert_eq!(
        (
            o.nat_timeout_s,
            o.reconnect_stable_ms,
            o.auth_retry_limit,
            o.idle_event
        ),
        (0, 10_000, 3, false)
    );
    for (keep_alive, nat, on_the_wire) in [(60u16, 0u32, 60u16), (60, 90, 59), (0, 300, 199)] {
        let mut rig = Rig::new(|o| {
            o.keep_alive_s = keep_alive;
            o.nat_timeout_s = nat;
        });
        let c = rig.c();
        assert_eq!(unsafe { mqe_connect(c) }, MQE_OK);
        rig.poll();
        // The keep-alive on the wire (§3.1.2.10), in the whole CONNECT.
        assert_eq!(rig.net.sent, connect_bytes(0x02, on_the_wire), "{nat}");
    }
}

#[test]
fn link_down_and_up_through_the_c_api() {
    assert_eq!(unsafe { mqe_link_down(ptr::null_mut()) }, MQE_ERR_NULL);
    let mut blank = mqe_client_t::zeroed();
    assert_eq!(unsafe { mqe_link_up(&mut blank) }, MQE_ERR_NOT_INIT);

    let mut rig = Rig::new(|o| o.clean_session = false);
    let c = rig.c();
    rig.connect();
    rig.kinds();
    assert_eq!(unsafe { mqe_link_down(c) }, MQE_OK);
    assert_eq!(rig.poll(), MQE_ERR_LINK_DOWN);
    assert_eq!(
        *rig.events,
        [
            (MQE_EVENT_LINK_DOWN, MQE_OK, 0),
            (MQE_EVENT_DISCONNECTED, MQE_ERR_LINK_DOWN, 0)
        ]
    );
    rig.events.clear();
    assert_eq!(unsafe { mqe_state(c) }, MQE_STATE_LINK_DOWN);
    assert_eq!(unsafe { mqe_mqttsta(c) }, -1);
    assert_eq!(rig.net.closed, 1);
    assert_eq!(unsafe { mqe_next_deadline_ms(c) }, u32::MAX);
    let mut id = 0;
    let status = unsafe {
        mqe_publish(
            c,
            c"a/b".as_ptr(),
            c"hi".as_ptr().cast(),
            2,
            1,
            false,
            &mut id,
        )
    };
    assert_eq!((status, id), (MQE_OK, 1), "stored while the link is down");
    for _ in 0..20 {
        rig.advance(60_000);
        rig.poll();
    }
    assert_eq!(rig.net.opened, 1, "twenty minutes down: no attempt");

    rig.net.sent.clear();
    assert_eq!(unsafe { mqe_link_up(c) }, MQE_OK);
    assert_eq!(unsafe { mqe_state(c) }, MQE_STATE_CONNECTING);
    rig.poll();
    assert_eq!(rig.net.opened, 2, "at once, no backoff");
    rig.net.inbound.extend([0x20, 0x02, 0x01, 0x00]);
    rig.poll();
    assert_eq!(
        rig.kinds(),
        [MQE_EVENT_LINK_UP, MQE_EVENT_CONNECTED],
        "then the stored message"
    );
    let publish = [
        0x32, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x01, b'h', b'i',
    ];
    // CONNECT with clean_session=0 (flags 0x00), then the stored PUBLISH, never sent: DUP=0.
    let mut expected = connect_bytes(0x00, 60);
    expected.extend_from_slice(&publish);
    assert_eq!(rig.net.sent, expected);
}

#[test]
fn refused_credentials_stop_reconnecting_with_an_event() {
    let mut rig = Rig::new(|o| {
        o.auth_retry_limit = 2;
        o.reconnect_min_ms = 10;
        o.reconnect_max_ms = 10;
    });
    let c = rig.c();
    assert_eq!(unsafe { mqe_connect(c) }, MQE_OK);
    rig.poll();
    rig.net.inbound.extend([0x20, 0x02, 0x00, 0x05]);
    assert_eq!(rig.poll(), MQE_ERR_REFUSED_NOT_AUTHORIZED);
    rig.advance(10);
    rig.poll();
    rig.net.inbound.extend([0x20, 0x02, 0x00, 0x04]);
    assert_eq!(rig.poll(), MQE_ERR_REFUSED_CREDENTIALS);
    let kinds: Vec<_> = rig.events.iter().map(|e| e.0).collect();
    assert_eq!(
        kinds,
        [
            MQE_EVENT_CONNECT_REFUSED,
            MQE_EVENT_RECONNECTING,
            MQE_EVENT_CONNECT_REFUSED,
            MQE_EVENT_RECONNECT_STOPPED
        ]
    );
    assert_eq!(
        rig.events[3],
        (MQE_EVENT_RECONNECT_STOPPED, MQE_ERR_REFUSED_CREDENTIALS, 4)
    );
    assert_eq!(unsafe { mqe_state(c) }, MQE_STATE_DISCONNECTED);
    rig.advance(600_000);
    rig.poll();
    assert_eq!(rig.net.opened, 2);
}

#[test]
fn stats_and_pending_count_what_crossed_the_socket() {
    let mut stats = mqe_stats_t::default();
    let mut pending = mqe_pending_t::default();
    assert_eq!(unsafe { mqe_stats(ptr::null(), &mut stats) }, MQE_ERR_NULL);
    let mut rig = Rig::new(|o| o.idle_event = true);
    let c = rig.c();
    assert_eq!(unsafe { mqe_stats(c, ptr::null_mut()) }, MQE_ERR_NULL);
    assert_eq!(unsafe { mqe_pending(c, ptr::null_mut()) }, MQE_ERR_NULL);
    rig.connect();
    assert_eq!(rig.kinds(), [MQE_EVENT_CONNECTED, MQE_EVENT_IDLE]);
    assert_eq!(unsafe { mqe_pending(c, &mut pending) }, MQE_OK);
    assert!(pending.idle);

    let mut id = 0;
    let status = unsafe {
        mqe_publish(
            c,
            c"a/b".as_ptr(),
            c"hi".as_ptr().cast(),
            2,
            1,
            false,
            &mut id,
        )
    };
    assert_eq!(status, MQE_OK);
    assert_eq!(unsafe { mqe_pending(c, &mut pending) }, MQE_OK);
    assert_eq!((pending.inflight, pending.idle), (1, false));
    assert!(pending.tx_bytes > 0);
    rig.poll();
    rig.net.inbound.extend([0x40, 0x02, 0x00, 0x01]);
    rig.poll();
    assert_eq!(rig.kinds(), [MQE_EVENT_PUBLISH_COMPLETE, MQE_EVENT_IDLE]);
    // The keep-alive PINGREQ and its PINGRESP.
    rig.advance(60_000);
    rig.poll();
    rig.net.inbound.extend([0xD0, 0x00]);
    rig.poll();

    assert_eq!(unsafe { mqe_stats(c, &mut stats) }, MQE_OK);
    assert_eq!(stats.bytes_sent, rig.net.sent.len() as u64);
    assert_eq!(stats.bytes_received, rig.net.received_total as u64);
    assert_eq!(stats.bytes_received, 4 + 4 + 2);
    let mut sent = [0u32; 16];
    sent[1] = 1;
    sent[3] = 1;
    sent[12] = 1;
    assert_eq!(stats.packets_sent, sent);
    let mut received = [0u32; 16];
    received[2] = 1;
    received[4] = 1;
    received[13] = 1;
    assert_eq!(stats.packets_received, received);
    assert_eq!(
        (
            stats.pings,
            stats.connects,
            stats.reconnects,
            stats.publish_resends
        ),
        (1, 1, 0, 0)
    );
}
