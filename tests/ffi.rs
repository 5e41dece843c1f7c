//! The C API called as C would call it, over a fake C transport and clock: argument checks,
//! state rules, re-entrancy from callbacks, events and messages, and status texts.
// Helpers of the tests gated on facilities a smaller build (e.g. `lite`) lacks.
#![cfg_attr(not(feature = "full"), allow(dead_code, unused_imports))]

use std::cell::Cell;
use std::collections::VecDeque;
use std::ffi::{c_char, c_void, CStr, CString};
use std::ptr;

use mqtt_engine::ffi::*;

const CONNECT_C1: &[u8] = &[
    0x10, 0x0E, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x02, b'c', b'1',
];
const CONNACK: &[u8] = &[0x20, 0x02, 0x00, 0x00];

/// The network and broker behind the C transport functions.
#[derive(Default)]
struct FakeNet {
    inbound: VecDeque<u8>,
    sent: Vec<u8>,
    opened: Vec<i32>,
    closed: Vec<i32>,
    connected_to: Vec<mqe_sockaddr_t>,
    resolved: Vec<String>,
    /// The address of each host string `resolve` got.
    resolved_at: Vec<usize>,
    peer_closed: bool,
    /// Answer every PINGREQ with a PINGRESP (the blocking ping's round trip).
    answer_pings: bool,
    /// Non-zero: what connect, send and resolve return instead of succeeding.
    connect_fails: i32,
    send_fails: i32,
    resolve_fails: i32,
}

unsafe fn net<'a>(ctx: *mut c_void) -> &'a mut FakeNet {
    unsafe { &mut *ctx.cast::<FakeNet>() }
}

unsafe extern "C" fn t_open(ctx: *mut c_void) -> i32 {
    let net = unsafe { net(ctx) };
    let handle = net.opened.len() as i32 + 10;
    net.opened.push(handle);
    handle
}

unsafe extern "C" fn t_connect(ctx: *mut c_void, sock: i32, addr: *const mqe_sockaddr_t) -> i32 {
    let net = unsafe { net(ctx) };
    assert!(net.opened.contains(&sock));
    net.connected_to.push(unsafe { *addr });
    net.connect_fails
}

unsafe extern "C" fn t_send(ctx: *mut c_void, sock: i32, buf: *const u8, len: usize) -> i32 {
    let net = unsafe { net(ctx) };
    assert!(!net.closed.contains(&sock));
    if net.send_fails != 0 {
        return net.send_fails;
    }
    // Accept at most 5 bytes per call: partial sends through the C boundary.
    let n = len.min(5);
    let chunk = unsafe { std::slice::from_raw_parts(buf, n) };
    if net.answer_pings && chunk == [0xC0, 0x00] {
        net.inbound.extend([0xD0, 0x00]);
    }
    net.sent.extend_from_slice(chunk);
    n as i32
}

unsafe extern "C" fn t_recv(ctx: *mut c_void, sock: i32, buf: *mut u8, len: usize) -> i32 {
    let net = unsafe { net(ctx) };
    assert!(!net.closed.contains(&sock));
    if net.inbound.is_empty() {
        return if net.peer_closed {
            0
        } else {
            MQE_IO_WOULD_BLOCK
        };
    }
    let n = len.min(net.inbound.len());
    let out = unsafe { std::slice::from_raw_parts_mut(buf, n) };
    for (slot, byte) in out.iter_mut().zip(net.inbound.drain(..n)) {
        *slot = byte;
    }
    n as i32
}

unsafe extern "C" fn t_close(ctx: *mut c_void, sock: i32) {
    unsafe { net(ctx) }.closed.push(sock);
}

unsafe extern "C" fn t_resolve(
    ctx: *mut c_void,
    host: *const c_char,
    out: *mut mqe_sockaddr_t,
) -> i32 {
    let net = unsafe { net(ctx) };
    net.resolved
        .push(unsafe { CStr::from_ptr(host) }.to_str().unwrap().to_owned());
    net.resolved_at.push(host as usize);
    if net.resolve_fails != 0 {
        return net.resolve_fails;
    }
    unsafe {
        (*out).family = 4;
        (*out).addr = [10, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    }
    0
}

unsafe extern "C" fn p_now(ctx: *mut c_void) -> u32 {
    unsafe { &*ctx.cast::<Cell<u32>>() }.get()
}

/// The blocking helpers' sleep: advances the fake clock.
unsafe extern "C" fn p_delay(ctx: *mut c_void, ms: u32) {
    let clock = unsafe { &*ctx.cast::<Cell<u32>>() };
    clock.set(clock.get().wrapping_add(ms));
}

/// What the callbacks saw, plus what they did when calling back in.
#[derive(Default)]
struct Recorder {
    client: *mut mqe_client_t,
    events: Vec<(mqe_event_kind_t, mqe_status_t, u16, Vec<u8>, bool)>,
    /// kind, attempt, delay_ms, endpoint, dropped of every event.
    details: Vec<(mqe_event_kind_t, u32, u32, u32, u32)>,
    messages: Vec<(String, Vec<u8>, u8, bool, u16)>,
    /// Filled by `reentering_handler`.
    reentry: Vec<(&'static str, i32)>,
}

unsafe extern "C" fn on_event(user: *mut c_void, event: *const mqe_event_t) {
    let rec = unsafe { &mut *user.cast::<Recorder>() };
    let e = unsafe { &*event };
    let granted = if e.granted.is_null() {
        Vec::new()
    } else {
        unsafe { std::slice::from_raw_parts(e.granted, e.granted_count) }.to_vec()
    };
    rec.events
        .push((e.kind, e.reason, e.packet_id, granted, e.session_present));
    rec.details
        .push((e.kind, e.attempt, e.delay_ms, e.endpoint, e.dropped));
}

unsafe extern "C" fn on_message(user: *mut c_void, msg: *const mqe_message_t) {
    let rec = unsafe { &mut *user.cast::<Recorder>() };
    let m = unsafe { &*msg };
    let topic = unsafe { std::slice::from_raw_parts(m.topic.cast::<u8>(), m.topic_len) };
    let payload = unsafe { std::slice::from_raw_parts(m.payload, m.payload_len) };
    rec.messages.push((
        String::from_utf8(topic.to_vec()).unwrap(),
        payload.to_vec(),
        m.qos,
        m.retain,
        m.packet_id,
    ));
}

/// A message handler that calls back into the client the way firmware might.
unsafe extern "C" fn reentering_handler(user: *mut c_void, msg: *const mqe_message_t) {
    unsafe { on_message(user, msg) };
    let rec = unsafe { &mut *user.cast::<Recorder>() };
    let c = rec.client;
    let mut h = Harness::options_for_reinit();
    let results = unsafe {
        [
            ("poll", mqe_poll(c)),
            ("connect", mqe_connect(c)),
            ("init", mqe_init(c, &h.0, &h.1, &h.2)),
            ("state", mqe_state(c)),
            (
                "publish",
                mqe_publish(
                    c,
                    c"r".as_ptr(),
                    b"ok".as_ptr().cast(),
                    2,
                    0,
                    false,
                    ptr::null_mut(),
                ),
            ),
            (
                "subscribe",
                mqe_subscribe(c, c"s/+".as_ptr(), 0, ptr::null_mut()),
            ),
            (
                "unsubscribe",
                mqe_unsubscribe(c, c"s/+".as_ptr(), ptr::null_mut()),
            ),
            ("wait_msg", mqe_wait_msg(c, 100)),
            ("check_msg", mqe_check_msg(c)),
            ("ping", mqe_ping(c, 100)),
        ]
    };
    h.3.clear();
    rec.reentry.extend(results);
}

struct Harness {
    client: Box<mqe_client_t>,
    net: Box<FakeNet>,
    clock: Box<Cell<u32>>,
    recorder: Box<Recorder>,
    _host: CString,
    rx: Vec<u8>,
    tx: Vec<u8>,
    store: Vec<u8>,
}

impl Harness {
    fn new(host: &str) -> Harness {
        let mut h = Harness {
            client: Box::new(mqe_client_t::zeroed()),
            net: Box::default(),
            clock: Box::new(Cell::new(1_000)),
            recorder: Box::default(),
            _host: CString::new(host).unwrap(),
            rx: vec![0; 256],
            tx: vec![0; 256],
            store: vec![0; 512],
        };
        h.recorder.client = &mut *h.client;
        let status =
            unsafe { mqe_init(&mut *h.client, &h.options(), &h.transport(), &h.platform()) };
        assert_eq!(status, MQE_OK);
        h
    }

    fn options(&mut self) -> mqe_options_t {
        let mut o = mqe_options_default();
        o.host = self._host.as_ptr();
        o.client_id = c"c1".as_ptr();
        o.rx_buf = self.rx.as_mut_ptr();
        o.rx_buf_len = self.rx.len();
        o.tx_buf = self.tx.as_mut_ptr();
        o.tx_buf_len = self.tx.len();
        o.store_buf = self.store.as_mut_ptr();
        o.store_buf_len = self.store.len();
        // These tests drive the lifecycle by hand; the reconnect tests turn it back on.
        o.reconnect = false;
        o
    }

    fn transport(&mut self) -> mqe_transport_t {
        mqe_transport_t {
            ctx: (&mut *self.net as *mut FakeNet).cast(),
            open: Some(t_open),
            connect: Some(t_connect),
            send: Some(t_send),
            recv: Some(t_recv),
            close: Some(t_close),
            resolve: Some(t_resolve),
        }
    }

    fn platform(&self) -> mqe_platform_t {
        mqe_platform_t {
            ctx: (&*self.clock as *const Cell<u32>).cast_mut().cast(),
            now_ms: Some(p_now),
            random: None,
            delay_ms: Some(p_delay),
            log: None,
        }
    }

    /// Valid, self-owned init arguments (for re-init attempts from callbacks).
    fn options_for_reinit() -> (mqe_options_t, mqe_transport_t, mqe_platform_t, Vec<u8>) {
        let mut bufs = vec![0u8; 3 * 128];
        let mut o = mqe_options_default();
        o.host = c"127.0.0.1".as_ptr();
        o.rx_buf = bufs.as_mut_ptr();
        o.rx_buf_len = 128;
        o.tx_buf = unsafe { bufs.as_mut_ptr().add(128) };
        o.tx_buf_len = 128;
        let t = mqe_transport_t {
            ctx: ptr::null_mut(),
            open: Some(t_open),
            connect: Some(t_connect),
            send: Some(t_send),
            recv: Some(t_recv),
            close: Some(t_close),
            resolve: None,
        };
        let p = mqe_platform_t {
            ctx: ptr::null_mut(),
            now_ms: Some(p_now),
            random: None,
            delay_ms: None,
            log: None,
        };
        (o, t, p, bufs)
    }

    fn c(&mut self) -> *mut mqe_client_t {
        &mut *self.client
    }

    fn handlers(&mut self) {
        let user = (&mut *self.recorder as *mut Recorder).cast();
        let c = self.c();
        unsafe {
            assert_eq!(mqe_set_event_handler(c, Some(on_event), user), MQE_OK);
            assert_eq!(mqe_set_message_handler(c, Some(on_message), user), MQE_OK);
        }
    }

    fn poll(&mut self) -> mqe_status_t {
        let c = self.c();
        unsafe { mqe_poll(c) }
    }

    /// Polls until the fake transport has taken everything queued (5 bytes per send).
    fn poll_n(&mut self, n: usize) -> mqe_status_t {
        let mut last = MQE_OK;
        for _ in 0..n {
            let status = self.poll();
            if status != MQE_OK {
                last = status;
            }
        }
        last
    }

    fn connect(&mut self) {
        self.handlers();
        let c = self.c();
        assert_eq!(unsafe { mqe_connect(c) }, MQE_OK);
        assert_eq!(unsafe { mqe_state(c) }, MQE_STATE_CONNECTING);
        assert_eq!(unsafe { mqe_mqttsta(c) }, 1);
        self.poll_n(2);
        assert_eq!(std::mem::take(&mut self.net.sent), CONNECT_C1);
        self.net.inbound.extend(CONNACK);
        assert_eq!(self.poll(), MQE_OK);
        assert_eq!(unsafe { mqe_state(c) }, MQE_STATE_CONNECTED);
        assert_eq!(unsafe { mqe_mqttsta(c) }, 0);
        let events = std::mem::take(&mut self.recorder.events);
        assert_eq!(
            events,
            vec![(MQE_EVENT_CONNECTED, MQE_OK, 0, vec![], false)]
        );
    }
}

#[test]
fn null_client_is_rejected_everywhere() {
    let null = ptr::null_mut::<mqe_client_t>();
    let mut id = 0u16;
    unsafe {
        let (o, t, p, _b) = Harness::options_for_reinit();
        assert_eq!(mqe_init(null, &o, &t, &p), MQE_ERR_NULL);
        assert_eq!(
            mqe_set_message_handler(null, None, ptr::null_mut()),
            MQE_ERR_NULL
        );
        assert_eq!(
            mqe_set_event_handler(null, None, ptr::null_mut()),
            MQE_ERR_NULL
        );
        assert_eq!(mqe_connect(null), MQE_ERR_NULL);
        assert_eq!(mqe_disconnect(null), MQE_ERR_NULL);
        assert_eq!(
            mqe_publish(null, c"t".as_ptr(), ptr::null(), 0, 0, false, &mut id),
            MQE_ERR_NULL
        );
        assert_eq!(mqe_subscribe(null, c"t".as_ptr(), 0, &mut id), MQE_ERR_NULL);
        assert_eq!(mqe_unsubscribe(null, c"t".as_ptr(), &mut id), MQE_ERR_NULL);
        assert_eq!(mqe_poll(null), MQE_ERR_NULL);
        assert_eq!(mqe_state(null), MQE_ERR_NULL);
        assert_eq!(mqe_mqttsta(null), -1);
        assert_eq!(mqe_next_deadline_ms(null), u32::MAX);
    }
}

#[test]
fn calls_before_init_are_not_init() {
    let mut storage = Box::new(mqe_client_t::zeroed());
    let c: *mut mqe_client_t = &mut *storage;
    let mut id = 0u16;
    unsafe {
        assert_eq!(
            mqe_set_message_handler(c, None, ptr::null_mut()),
            MQE_ERR_NOT_INIT
        );
        assert_eq!(
            mqe_set_event_handler(c, None, ptr::null_mut()),
            MQE_ERR_NOT_INIT
        );
        assert_eq!(mqe_connect(c), MQE_ERR_NOT_INIT);
        assert_eq!(mqe_disconnect(c), MQE_ERR_NOT_INIT);
        assert_eq!(
            mqe_publish(c, c"t".as_ptr(), ptr::null(), 0, 0, false, &mut id),
            MQE_ERR_NOT_INIT
        );
        assert_eq!(
            mqe_subscribe(c, c"t".as_ptr(), 0, &mut id),
            MQE_ERR_NOT_INIT
        );
        assert_eq!(mqe_unsubscribe(c, c"t".as_ptr(), &mut id), MQE_ERR_NOT_INIT);
        assert_eq!(mqe_poll(c), MQE_ERR_NOT_INIT);
        assert_eq!(mqe_state(c), MQE_ERR_NOT_INIT);
        assert_eq!(mqe_mqttsta(c), -1);
        assert_eq!(mqe_next_deadline_ms(c), u32::MAX);
    }
}

#[cfg(all(feature = "will", feature = "reconnect", feature = "offline-queue"))]
#[test]
fn init_checks_its_arguments() {
    let mut h = Harness::new("127.0.0.1");
    let c = h.c();
    let (o, t, p) = (h.options(), h.transport(), h.platform());
    let init = |o: &mqe_options_t, t: &mqe_transport_t, p: &mqe_platform_t| unsafe {
        mqe_init(c, o, t, p)
    };
    unsafe {
        assert_eq!(mqe_init(c, ptr::null(), &t, &p), MQE_ERR_NULL);
        assert_eq!(mqe_init(c, &o, ptr::null(), &p), MQE_ERR_NULL);
        assert_eq!(mqe_init(c, &o, &t, ptr::null()), MQE_ERR_NULL);
    }
    assert_eq!(
        init(&o, &t, &mqe_platform_t { now_ms: None, ..p }),
        MQE_ERR_NULL
    );
    assert_eq!(
        init(&o, &mqe_transport_t { send: None, ..t }, &p),
        MQE_ERR_NULL
    );
    assert_eq!(
        init(
            &mqe_options_t {
                host: ptr::null(),
                ..o
            },
            &t,
            &p
        ),
        MQE_ERR_NULL
    );
    assert_eq!(
        init(
            &mqe_options_t {
                host: c"".as_ptr(),
                ..o
            },
            &t,
            &p
        ),
        MQE_ERR_ARG
    );
    // Buffers.
    assert_eq!(
        init(
            &mqe_options_t {
                rx_buf_len: MQE_MIN_BUFFER - 1,
                ..o
            },
            &t,
            &p
        ),
        MQE_ERR_BUFFER
    );
    assert_eq!(
        init(
            &mqe_options_t {
                tx_buf_len: MQE_MIN_BUFFER - 1,
                ..o
            },
            &t,
            &p
        ),
        MQE_ERR_BUFFER
    );
    assert_eq!(
        init(
            &mqe_options_t {
                tx_buf: ptr::null_mut(),
                ..o
            },
            &t,
            &p
        ),
        MQE_ERR_BUFFER
    );
    assert_eq!(
        init(
            &mqe_options_t {
                store_buf: ptr::null_mut(),
                ..o
            },
            &t,
            &p
        ),
        MQE_ERR_BUFFER
    );
    assert_eq!(
        init(
            &mqe_options_t {
                tx_buf: o.rx_buf,
                ..o
            },
            &t,
            &p
        ),
        MQE_ERR_ARG
    );
    let inside_rx = unsafe { o.rx_buf.add(100) };
    assert_eq!(
        init(
            &mqe_options_t {
                store_buf: inside_rx,
                ..o
            },
            &t,
            &p
        ),
        MQE_ERR_ARG
    );
    assert_eq!(
        init(
            &mqe_options_t {
                store_buf: ptr::null_mut(),
                store_buf_len: 0,
                ..o
            },
            &t,
            &p
        ),
        MQE_OK
    );
    // Strings and fields.
    let bad_utf8 = [b'c', 0xFF, 0];
    assert_eq!(
        init(
            &mqe_options_t {
                client_id: bad_utf8.as_ptr().cast(),
                ..o
            },
            &t,
            &p
        ),
        MQE_ERR_UTF8
    );
    assert_eq!(
        init(
            &mqe_options_t {
                password: b"pw".as_ptr(),
                password_len: 2,
                ..o
            },
            &t,
            &p
        ),
        MQE_ERR_PASSWORD_WITHOUT_USER
    );
    assert_eq!(
        init(
            &mqe_options_t {
                password_len: 2,
                ..o
            },
            &t,
            &p
        ),
        MQE_ERR_NULL
    );
    assert_eq!(
        init(
            &mqe_options_t {
                will_topic: c"w".as_ptr(),
                will_qos: 3,
                ..o
            },
            &t,
            &p
        ),
        MQE_ERR_QOS
    );
    assert_eq!(
        init(
            &mqe_options_t {
                will_topic: c"w/#".as_ptr(),
                ..o
            },
            &t,
            &p
        ),
        MQE_ERR_TOPIC
    );
    assert_eq!(
        init(
            &mqe_options_t {
                client_id: ptr::null(),
                clean_session: false,
                ..o
            },
            &t,
            &p
        ),
        MQE_ERR_ARG
    );
    assert_eq!(
        init(
            &mqe_options_t {
                connect_timeout_ms: 0,
                ..o
            },
            &t,
            &p
        ),
        MQE_ERR_ARG
    );
    assert_eq!(
        init(
            &mqe_options_t {
                inflight_window: 9,
                ..o
            },
            &t,
            &p
        ),
        MQE_ERR_ARG
    );
    assert_eq!(
        init(
            &mqe_options_t {
                reconnect: true,
                reconnect_min_ms: 5,
                reconnect_max_ms: 4,
                ..o
            },
            &t,
            &p
        ),
        MQE_ERR_ARG
    );
    // Endpoints: not together with host, not NULL with a count, at most MQE_MAX_ENDPOINTS,
    // each host non-NULL and non-empty; an unknown QoS 0 policy.
    let one = [mqe_endpoint_t {
        host: c"127.0.0.1".as_ptr(),
        port: 1,
    }];
    let with_endpoints = |list: &[mqe_endpoint_t], host: *const core::ffi::c_char| mqe_options_t {
        host,
        endpoints: list.as_ptr(),
        endpoint_count: list.len(),
        ..o
    };
    assert_eq!(init(&with_endpoints(&one, o.host), &t, &p), MQE_ERR_ARG);
    assert_eq!(
        init(
            &mqe_options_t {
                host: ptr::null(),
                endpoints: ptr::null(),
                endpoint_count: 1,
                ..o
            },
            &t,
            &p
        ),
        MQE_ERR_ARG
    );
    let too_many = [one[0]; mqtt_engine::config::MAX_ENDPOINTS + 1];
    assert_eq!(
        init(&with_endpoints(&too_many, ptr::null()), &t, &p),
        MQE_ERR_TOO_LARGE
    );
    let null_host = [mqe_endpoint_t {
        host: ptr::null(),
        port: 1,
    }];
    assert_eq!(
        init(&with_endpoints(&null_host, ptr::null()), &t, &p),
        MQE_ERR_NULL
    );
    let empty_host = [mqe_endpoint_t {
        host: c"".as_ptr(),
        port: 1,
    }];
    assert_eq!(
        init(&with_endpoints(&empty_host, ptr::null()), &t, &p),
        MQE_ERR_ARG
    );
    assert_eq!(
        init(
            &mqe_options_t {
                qos0_policy: 2,
                ..o
            },
            &t,
            &p
        ),
        MQE_ERR_ARG
    );
    // A host with no NUL in the first 65,536 bytes.
    let long = vec![b'h'; 70_000];
    assert_eq!(
        init(
            &mqe_options_t {
                host: long.as_ptr().cast(),
                ..o
            },
            &t,
            &p
        ),
        MQE_ERR_TOO_LARGE
    );
    // Failed inits leave the last good client in place.
    assert_eq!(unsafe { mqe_state(c) }, MQE_STATE_DISCONNECTED);
}

#[cfg(all(feature = "reconnect", feature = "offline-queue"))]
#[test]
fn options_default_matches_the_contract() {
    let o = mqe_options_default();
    assert!(o.host.is_null() && o.client_id.is_null() && o.rx_buf.is_null());
    assert_eq!((o.port, o.keep_alive_s, o.clean_session), (1883, 60, true));
    assert_eq!(
        (o.connect_timeout_ms, o.ack_timeout_ms, o.ping_timeout_ms),
        (10_000, 20_000, 0)
    );
    assert_eq!(
        (o.reconnect, o.reconnect_min_ms, o.reconnect_max_ms),
        (true, 1_000, 60_000)
    );
    assert_eq!(o.inflight_window, 0);
    assert!(o.endpoints.is_null());
    assert_eq!(o.endpoint_count, 0);
    assert_eq!(o.qos0_policy, MQE_QOS0_REJECT_WHEN_FULL);
}

#[cfg(all(feature = "qos2", feature = "resubscribe"))]
#[test]
fn publish_checks_its_arguments() {
    let mut h = Harness::new("127.0.0.1");
    let c = h.c();
    let mut id = 0xFFFF;
    let pl = b"x".as_ptr().cast::<c_void>();
    unsafe {
        assert_eq!(
            mqe_publish(c, ptr::null(), pl, 1, 1, false, &mut id),
            MQE_ERR_NULL
        );
        assert_eq!(
            mqe_publish(c, c"a".as_ptr(), ptr::null(), 1, 1, false, &mut id),
            MQE_ERR_NULL
        );
        let bad = [b'a', 0xC3, 0x28, 0];
        assert_eq!(
            mqe_publish(c, bad.as_ptr().cast(), pl, 1, 1, false, &mut id),
            MQE_ERR_UTF8
        );
        assert_eq!(
            mqe_publish(c, c"a/+".as_ptr(), pl, 1, 1, false, &mut id),
            MQE_ERR_TOPIC
        );
        assert_eq!(
            mqe_publish(c, c"a/#".as_ptr(), pl, 1, 1, false, &mut id),
            MQE_ERR_TOPIC
        );
        assert_eq!(
            mqe_publish(c, c"".as_ptr(), pl, 1, 1, false, &mut id),
            MQE_ERR_TOPIC
        );
        assert_eq!(
            mqe_publish(c, c"a".as_ptr(), pl, 1, 3, false, &mut id),
            MQE_ERR_QOS
        );
        assert_eq!(id, 0xFFFF, "no id on failure");
        // QoS 0 needs a connection; QoS 1 is stored while disconnected.
        assert_eq!(
            mqe_publish(c, c"a".as_ptr(), pl, 1, 0, false, &mut id),
            MQE_ERR_STATE
        );
        assert_eq!(
            mqe_publish(c, c"a".as_ptr(), ptr::null(), 0, 1, false, &mut id),
            MQE_OK
        );
        assert_eq!(id, 1);
        assert_eq!(
            mqe_publish(c, c"a".as_ptr(), pl, 1, 2, false, ptr::null_mut()),
            MQE_OK
        );
        let huge = vec![0u8; 600];
        assert_eq!(
            mqe_publish(
                c,
                c"a".as_ptr(),
                huge.as_ptr().cast(),
                huge.len(),
                1,
                false,
                &mut id
            ),
            MQE_ERR_TOO_LARGE
        );
        // Subscriptions need a connection; argument errors come first.
        assert_eq!(
            mqe_subscribe(c, c"a/#/b".as_ptr(), 0, &mut id),
            MQE_ERR_TOPIC
        );
        assert_eq!(mqe_subscribe(c, c"a".as_ptr(), 3, &mut id), MQE_ERR_QOS);
        assert_eq!(mqe_subscribe(c, ptr::null(), 0, &mut id), MQE_ERR_NULL);
        assert_eq!(mqe_subscribe(c, c"a/+".as_ptr(), 1, &mut id), MQE_ERR_STATE);
        assert_eq!(mqe_subscribe_many(c, ptr::null(), 1, &mut id), MQE_ERR_NULL);
        let subs = [mqe_subscription_t {
            filter: c"a".as_ptr(),
            qos: 0,
        }];
        assert_eq!(
            mqe_subscribe_many(c, subs.as_ptr(), 0, &mut id),
            MQE_ERR_ARG
        );
        assert_eq!(mqe_unsubscribe(c, c"a+".as_ptr(), &mut id), MQE_ERR_TOPIC);
        assert_eq!(mqe_unsubscribe(c, c"a".as_ptr(), &mut id), MQE_ERR_STATE);
        assert_eq!(mqe_disconnect(c), MQE_ERR_STATE);
    }
}

#[test]
fn too_small_buffers_are_rejected() {
    let mut h = Harness::new("127.0.0.1");
    let c = h.c();
    let (o, t, p) = (h.options(), h.transport(), h.platform());
    // Exactly the minimum works; a CONNECT larger than tx does not.
    let o_min = mqe_options_t {
        rx_buf_len: MQE_MIN_BUFFER,
        tx_buf_len: MQE_MIN_BUFFER,
        ..o
    };
    assert_eq!(unsafe { mqe_init(c, &o_min, &t, &p) }, MQE_OK);
    let long_id = CString::new("i".repeat(80)).unwrap();
    let o_big = mqe_options_t {
        client_id: long_id.as_ptr(),
        tx_buf_len: MQE_MIN_BUFFER,
        ..o
    };
    assert_eq!(unsafe { mqe_init(c, &o_big, &t, &p) }, MQE_ERR_BUFFER);
    assert_eq!(
        unsafe {
            mqe_init(
                c,
                &mqe_options_t {
                    tx_buf_len: 100,
                    ..o_big
                },
                &t,
                &p,
            )
        },
        MQE_OK
    );
}

#[test]
fn init_while_connected_is_a_state_error_and_works_once_disconnected() {
    let mut h = Harness::new("127.0.0.1");
    h.connect();
    let c = h.c();
    let (o, t, p) = (h.options(), h.transport(), h.platform());
    assert_eq!(unsafe { mqe_init(c, &o, &t, &p) }, MQE_ERR_STATE);
    assert_eq!(unsafe { mqe_connect(c) }, MQE_ERR_STATE);
    assert_eq!(unsafe { mqe_disconnect(c) }, MQE_OK);
    assert_eq!(unsafe { mqe_state(c) }, MQE_STATE_DISCONNECTING);
    assert_eq!(h.poll_n(2), MQE_OK);
    assert_eq!(h.net.sent, [0xE0, 0x00]);
    assert_eq!(h.net.closed, vec![10]);
    assert_eq!(
        h.recorder.events,
        vec![(MQE_EVENT_DISCONNECTED, MQE_OK, 0, vec![], false)]
    );
    assert_eq!(unsafe { mqe_mqttsta(c) }, -1);
    assert_eq!(unsafe { mqe_init(c, &o, &t, &p) }, MQE_OK);
}

#[test]
fn reinit_rebuilds_the_client_in_place_from_scratch() {
    let mut h = Harness::new("127.0.0.1");
    h.connect();
    let c = h.c();
    let publish = |id: &mut u16| unsafe {
        mqe_publish(c, c"a/b".as_ptr(), b"x".as_ptr().cast(), 1, 1, false, id)
    };
    let mut id = 0u16;
    assert_eq!(publish(&mut id), MQE_OK);
    assert_eq!(id, 1);
    assert_eq!(unsafe { mqe_disconnect(c) }, MQE_OK);
    h.poll_n(4);
    assert_eq!(unsafe { mqe_state(c) }, MQE_STATE_DISCONNECTED);
    h.net.sent.clear();
    h.recorder.events.clear();

    let (o, t, p) = (h.options(), h.transport(), h.platform());
    assert_eq!(unsafe { mqe_init(c, &o, &t, &p) }, MQE_OK);
    assert_eq!(unsafe { mqe_state(c) }, MQE_STATE_DISCONNECTED);
    assert_eq!(unsafe { mqe_next_deadline_ms(c) }, u32::MAX);
    // The handlers were reset with the rest: connecting reports to no one.
    assert_eq!(unsafe { mqe_connect(c) }, MQE_OK);
    h.poll_n(2);
    assert_eq!(std::mem::take(&mut h.net.sent), CONNECT_C1);
    h.net.inbound.extend(CONNACK);
    assert_eq!(h.poll(), MQE_OK);
    assert_eq!(unsafe { mqe_state(c) }, MQE_STATE_CONNECTED);
    assert!(h.recorder.events.is_empty());
    // A fresh session: packet ids start again at 1.
    assert_eq!(publish(&mut id), MQE_OK);
    assert_eq!(id, 1);
}

#[cfg(all(feature = "qos2", feature = "resubscribe"))]
#[test]
fn full_session_through_the_c_api() {
    let mut h = Harness::new("127.0.0.1");
    h.connect();
    let c = h.c();
    assert_eq!(h.net.connected_to[0].family, 4);
    assert_eq!(h.net.connected_to[0].addr[..4], [127, 0, 0, 1]);
    assert_eq!(h.net.connected_to[0].port, 1883);
    assert!(h.net.resolved.is_empty());
    assert_eq!(unsafe { mqe_next_deadline_ms(c) }, 60_000);

    // Subscribe to two filters; SUBACK grants one and refuses the other.
    let subs = [
        mqe_subscription_t {
            filter: c"a/#".as_ptr(),
            qos: 1,
        },
        mqe_subscription_t {
            filter: c"b".as_ptr(),
            qos: 2,
        },
    ];
    let mut id = 0;
    assert_eq!(
        unsafe { mqe_subscribe_many(c, subs.as_ptr(), 2, &mut id) },
        MQE_OK
    );
    assert_ne!(id, 0);
    h.poll_n(4);
    let [hi, lo] = id.to_be_bytes();
    assert_eq!(
        std::mem::take(&mut h.net.sent),
        [0x82, 0x0C, hi, lo, 0x00, 0x03, b'a', b'/', b'#', 0x01, 0x00, 0x01, b'b', 0x02]
    );
    h.net.inbound.extend([0x90, 0x04, hi, lo, 0x01, 0x80]);
    // An incoming QoS 1 message, retained.
    h.net.inbound.extend([
        0x33, 0x09, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x07, b'h', b'i',
    ]);
    assert_eq!(h.poll(), MQE_OK);
    assert_eq!(
        std::mem::take(&mut h.recorder.events),
        vec![(MQE_EVENT_SUBSCRIBED, MQE_OK, id, vec![0x01, 0x80], false)]
    );
    assert_eq!(
        std::mem::take(&mut h.recorder.messages),
        vec![("a/b".to_owned(), b"hi".to_vec(), 1, true, 7)]
    );
    assert_eq!(std::mem::take(&mut h.net.sent), [0x40, 0x02, 0x00, 0x07]);

    // QoS 1 publish round trip.
    let mut pid = 0;
    assert_eq!(
        unsafe {
            mqe_publish(
                c,
                c"x".as_ptr(),
                b"1".as_ptr().cast(),
                1,
                1,
                false,
                &mut pid,
            )
        },
        MQE_OK
    );
    h.poll_n(2);
    let [hi, lo] = pid.to_be_bytes();
    assert_eq!(
        std::mem::take(&mut h.net.sent),
        [0x32, 0x06, 0x00, 0x01, b'x', hi, lo, b'1']
    );
    h.net.inbound.extend([0x40, 0x02, hi, lo]);
    assert_eq!(h.poll(), MQE_OK);
    assert_eq!(
        std::mem::take(&mut h.recorder.events),
        vec![(MQE_EVENT_PUBLISH_COMPLETE, MQE_OK, pid, vec![], false)]
    );

    // The broker closes: poll reports why, and so do the event and mqttsta.
    h.net.peer_closed = true;
    assert_eq!(h.poll(), MQE_ERR_CLOSED);
    assert_eq!(
        h.recorder.events,
        vec![(MQE_EVENT_DISCONNECTED, MQE_ERR_CLOSED, 0, vec![], false)]
    );
    assert_eq!(unsafe { mqe_state(c) }, MQE_STATE_DISCONNECTED);
    assert_eq!(unsafe { mqe_mqttsta(c) }, 2);
    assert_eq!(h.net.closed, vec![10]);
    assert_eq!(unsafe { mqe_next_deadline_ms(c) }, u32::MAX);
}

#[cfg(all(feature = "qos2", feature = "ip-literal"))]
#[test]
fn ipv6_literals_connect_directly_and_zone_ids_go_to_the_resolver() {
    let mut h = Harness::new("2001:db8::a:1.2.3.4");
    h.handlers();
    let c = h.c();
    assert_eq!(unsafe { mqe_connect(c) }, MQE_OK);
    h.poll_n(4);
    assert!(h.net.resolved.is_empty());
    assert_eq!(h.net.connected_to[0].family, 6);
    let mut expected = [0u8; 16];
    expected[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    expected[10..].copy_from_slice(&[0, 0x0a, 1, 2, 3, 4]);
    assert_eq!(h.net.connected_to[0].addr, expected);
    assert_eq!(h.net.sent, CONNECT_C1);

    // Not a literal for us (as for core's parser): a name for the platform to resolve.
    let mut h = Harness::new("fe80::1%eth0");
    h.handlers();
    assert_eq!(unsafe { mqe_connect(h.c()) }, MQE_OK);
    h.poll_n(4);
    assert_eq!(h.net.resolved, vec!["fe80::1%eth0"]);
}

#[test]
fn host_names_go_through_the_resolver() {
    let mut h = Harness::new("broker.example");
    h.handlers();
    let c = h.c();
    assert_eq!(unsafe { mqe_connect(c) }, MQE_OK);
    h.poll_n(4);
    assert_eq!(h.net.resolved, vec!["broker.example"]);
    assert_eq!(h.net.connected_to[0].addr[..4], [10, 1, 2, 3]);
    assert_eq!(h.net.sent, CONNECT_C1);
}

#[test]
fn the_resolver_gets_the_hosts_own_nul_terminated_string() {
    let mut h = Harness::new("127.0.0.1");
    // Bytes follow the NUL: a wrong length shows in the string, a copy in the address.
    let host = b"broker.example\0xyz";
    let o = mqe_options_t {
        host: host.as_ptr().cast::<c_char>(),
        ..h.options()
    };
    let (t, p) = (h.transport(), h.platform());
    let c = h.c();
    assert_eq!(unsafe { mqe_init(c, &o, &t, &p) }, MQE_OK);
    h.handlers();
    assert_eq!(unsafe { mqe_connect(c) }, MQE_OK);
    h.poll_n(4);
    assert_eq!(h.net.resolved, vec!["broker.example"]);
    assert_eq!(h.net.resolved_at, vec![host.as_ptr() as usize]);
    assert_eq!(h.net.sent, CONNECT_C1);
}

#[cfg(feature = "reconnect")]
#[test]
fn the_resolver_gets_each_endpoints_own_nul_terminated_host() {
    let mut h = Harness::new("127.0.0.1");
    // Hosts inside one buffer: each ends at its own NUL, and the next bytes are not zero-filled
    // stack, so a wrong length or a stray copy shows in the string or the address.
    let hosts = b"a.example\0broker-b.example\0";
    let b = hosts[10..].as_ptr().cast::<c_char>();
    let endpoints = [
        mqe_endpoint_t {
            host: hosts.as_ptr().cast::<c_char>(),
            port: 1001,
        },
        mqe_endpoint_t {
            host: b,
            port: 1002,
        },
    ];
    let o = mqe_options_t {
        host: ptr::null(),
        endpoints: endpoints.as_ptr(),
        endpoint_count: endpoints.len(),
        reconnect: true,
        reconnect_min_ms: 100,
        reconnect_max_ms: 1_000,
        ..h.options()
    };
    // A fixed random: seeded from the client's address instead, a 0 ms draw retries within
    // the same poll and the count of resolved hosts would depend on where the client landed.
    let p = mqe_platform_t {
        random: Some(p_random),
        ..h.platform()
    };
    let t = h.transport();
    let c = h.c();
    assert_eq!(unsafe { mqe_init(c, &o, &t, &p) }, MQE_OK);
    h.handlers();
    // The first attempt fails at TCP connect: the next one goes to the second endpoint.
    h.net.connect_fails = -1;
    assert_eq!(unsafe { mqe_connect(c) }, MQE_OK);
    for _ in 0..20 {
        h.poll_n(1);
        h.clock.set(h.clock.get() + 200);
        if h.net.resolved.len() >= 2 {
            break;
        }
    }
    assert_eq!(h.net.resolved, vec!["a.example", "broker-b.example"]);
    // The strings the application gave, not copies.
    assert_eq!(h.net.resolved_at, vec![hosts.as_ptr() as usize, b as usize]);
    assert_eq!(h.net.connected_to[0].port, 1001);
    assert_eq!(h.net.connected_to[1].port, 1002);
}

#[test]
fn without_a_resolver_a_host_name_fails_with_dns() {
    let mut h = Harness::new("broker.example");
    let c = h.c();
    let (o, t, p) = (h.options(), h.transport(), h.platform());
    assert_eq!(
        unsafe { mqe_init(c, &o, &mqe_transport_t { resolve: None, ..t }, &p) },
        MQE_OK
    );
    h.handlers();
    assert_eq!(unsafe { mqe_connect(c) }, MQE_OK);
    assert_eq!(h.poll(), MQE_ERR_DNS);
    assert_eq!(
        h.recorder.events,
        vec![(MQE_EVENT_DISCONNECTED, MQE_ERR_DNS, 0, vec![], false)]
    );
    assert!(h.net.opened.is_empty());
}

#[test]
fn connect_timeout_is_reported_by_poll() {
    let mut h = Harness::new("127.0.0.1");
    h.connect_no_connack();
    h.clock.set(h.clock.get() + 9_999);
    assert_eq!(h.poll(), MQE_OK);
    h.clock.set(h.clock.get() + 1);
    assert_eq!(h.poll(), MQE_ERR_CONNECT_TIMEOUT);
    assert_eq!(unsafe { mqe_mqttsta(h.c()) }, -1);
}

impl Harness {
    fn connect_no_connack(&mut self) {
        self.handlers();
        let c = self.c();
        assert_eq!(unsafe { mqe_connect(c) }, MQE_OK);
        self.poll_n(4);
        assert_eq!(self.net.sent, CONNECT_C1);
    }
}

#[test]
fn callbacks_may_publish_and_subscribe_but_not_poll_connect_or_init() {
    let mut h = Harness::new("127.0.0.1");
    h.connect();
    let c = h.c();
    let user = (&mut *h.recorder as *mut Recorder).cast();
    assert_eq!(
        unsafe { mqe_set_message_handler(c, Some(reentering_handler), user) },
        MQE_OK
    );
    h.net.inbound.extend([0x30, 0x03, 0x00, 0x01, b't']);
    assert_eq!(h.poll(), MQE_OK);
    assert_eq!(
        h.recorder.messages,
        vec![("t".to_owned(), vec![], 0, false, 0)]
    );
    let reentry: std::collections::HashMap<_, _> = h.recorder.reentry.iter().copied().collect();
    assert_eq!(reentry["poll"], MQE_ERR_REENTRANT);
    assert_eq!(reentry["connect"], MQE_ERR_REENTRANT);
    assert_eq!(reentry["init"], MQE_ERR_REENTRANT);
    assert_eq!(reentry["state"], MQE_STATE_CONNECTED);
    assert_eq!(reentry["publish"], MQE_OK);
    assert_eq!(reentry["subscribe"], MQE_OK);
    assert_eq!(reentry["unsubscribe"], MQE_OK);
    assert_eq!(reentry["wait_msg"], MQE_ERR_REENTRANT);
    assert_eq!(reentry["check_msg"], MQE_ERR_REENTRANT);
    assert_eq!(reentry["ping"], MQE_ERR_REENTRANT);
    // What the callback queued goes out: PUBLISH "r" "ok", SUBSCRIBE, UNSUBSCRIBE.
    h.poll_n(6);
    let sent = std::mem::take(&mut h.net.sent);
    assert_eq!(sent[..7], [0x30, 0x05, 0x00, 0x01, b'r', b'o', b'k']);
    assert_eq!(sent[7], 0x82);
    assert_eq!(sent[sent.len() - 9], 0xA2);
    // After the callback, poll works again.
    assert_eq!(h.poll(), MQE_OK);
}

#[test]
fn disconnect_from_a_callback_is_allowed() {
    unsafe extern "C" fn disconnect_on_message(user: *mut c_void, msg: *const mqe_message_t) {
        unsafe { on_message(user, msg) };
        let rec = unsafe { &mut *user.cast::<Recorder>() };
        rec.reentry
            .push(("disconnect", unsafe { mqe_disconnect(rec.client) }));
    }
    let mut h = Harness::new("127.0.0.1");
    h.connect();
    let c = h.c();
    let user = (&mut *h.recorder as *mut Recorder).cast();
    assert_eq!(
        unsafe { mqe_set_message_handler(c, Some(disconnect_on_message), user) },
        MQE_OK
    );
    h.net.inbound.extend([0x30, 0x03, 0x00, 0x01, b't']);
    h.poll_n(2);
    assert_eq!(h.recorder.reentry, vec![("disconnect", MQE_OK)]);
    assert_eq!(h.net.sent, [0xE0, 0x00]);
    assert_eq!(unsafe { mqe_state(c) }, MQE_STATE_DISCONNECTED);
}

/// The number of every status code: a contract, pinned here apart from the library's table,
/// so that renumbering fails and a new code must be given its number here on purpose.
const PINNED_STATUS_NUMBERS: &[(&str, i32)] = &[
    ("MQE_OK", 0),
    ("MQE_ERR_NULL", -1),
    ("MQE_ERR_ARG", -2),
    ("MQE_ERR_UTF8", -3),
    ("MQE_ERR_TOPIC", -4),
    ("MQE_ERR_QOS", -5),
    ("MQE_ERR_TOO_LARGE", -6),
    ("MQE_ERR_PASSWORD_WITHOUT_USER", -7),
    ("MQE_ERR_BUFFER", -8),
    ("MQE_ERR_ABI_MISMATCH", -9),
    ("MQE_ERR_ALIGNMENT", -10),
    ("MQE_ERR_UNSUPPORTED", -11),
    ("MQE_ERR_CLOCK_UNSET", -12),
    ("MQE_ERR_NO_CREDENTIALS", -13),
    ("MQE_ERR_NOT_INIT", -20),
    ("MQE_ERR_STATE", -21),
    ("MQE_ERR_REENTRANT", -22),
    ("MQE_ERR_NO_CRITICAL_SECTION", -23),
    ("MQE_ERR_FULL", -30),
    ("MQE_ERR_RX_QOS2_FULL", -31),
    ("MQE_ERR_TRANSPORT", -40),
    ("MQE_ERR_DNS", -41),
    ("MQE_ERR_CLOSED", -42),
    ("MQE_ERR_CONNECT_TIMEOUT", -43),
    ("MQE_ERR_PING_TIMEOUT", -44),
    ("MQE_ERR_ACK_TIMEOUT", -45),
    ("MQE_ERR_TIMEOUT", -46),
    ("MQE_ERR_MALFORMED", -50),
    ("MQE_ERR_UNEXPECTED_PACKET", -51),
    ("MQE_ERR_UNKNOWN_PACKET_ID", -52),
    ("MQE_ERR_PACKET_TOO_LARGE", -53),
    ("MQE_ERR_REFUSED_PROTOCOL", -61),
    ("MQE_ERR_REFUSED_ID", -62),
    ("MQE_ERR_REFUSED_UNAVAILABLE", -63),
    ("MQE_ERR_REFUSED_CREDENTIALS", -64),
    ("MQE_ERR_REFUSED_NOT_AUTHORIZED", -65),
    ("MQE_ERR_CONN_REFUSED", -70),
    ("MQE_ERR_UNREACHABLE", -71),
    ("MQE_ERR_NET_TIMEOUT", -72),
    ("MQE_ERR_CONN_RESET", -73),
    ("MQE_ERR_NET_DOWN", -74),
    ("MQE_ERR_TLS", -75),
    ("MQE_ERR_LINK_DOWN", -47),
    ("MQE_ERR_STORE_FLASH", -80),
    ("MQE_ERR_STORE_CORRUPT", -81),
    ("MQE_ERR_STORE_VERSION", -82),
    ("MQE_ERR_STORE_GEOMETRY", -83),
];

#[test]
fn strerror_covers_every_code() {
    let unknown = unsafe { CStr::from_ptr(mqe_strerror(-9999)) };
    assert_eq!(unknown.to_str().unwrap(), "unknown status");
    assert_eq!(unsafe { CStr::from_ptr(mqe_strerror(1)) }, unknown);
    let mut texts = std::collections::HashSet::new();
    let mut numbers = std::collections::HashSet::new();
    // Walks the library's own list, so no code can be left out.
    for &(name, code, table_text) in MQE_STATUS_CODES {
        let pinned = PINNED_STATUS_NUMBERS.iter().find(|(n, _)| *n == name);
        assert_eq!(pinned.map(|p| p.1), Some(code), "{name}: number not pinned");
        assert!(numbers.insert(code), "{name}: number {code} used twice");
        let text = unsafe { CStr::from_ptr(mqe_strerror(code)) };
        assert_eq!(text, table_text, "{name}");
        assert_ne!(text, unknown, "{name}");
        assert!(
            code == MQE_OK || text.to_bytes().len() >= 8,
            "{name}: text too short to say anything"
        );
        assert!(
            texts.insert(text.to_owned()),
            "{name}: its text is not its own"
        );
    }
    assert_eq!(MQE_STATUS_CODES.len(), PINNED_STATUS_NUMBERS.len());
    // The constants are the table's (a few, by name).
    assert_eq!((MQE_OK, MQE_ERR_TIMEOUT, MQE_ERR_TLS), (0, -46, -75));
    assert_eq!(
        unsafe { CStr::from_ptr(mqe_strerror(MQE_OK)) }
            .to_str()
            .unwrap(),
        "ok"
    );
}

#[test]
fn version_string_matches_the_macros() {
    let version = unsafe { CStr::from_ptr(mqe_version()) }.to_str().unwrap();
    assert_eq!(
        version,
        format!("{MQE_VERSION_MAJOR}.{MQE_VERSION_MINOR}.{MQE_VERSION_PATCH}")
    );
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
}

#[test]
fn client_storage_has_the_advertised_size_and_alignment() {
    assert_eq!(std::mem::size_of::<mqe_client_t>(), MQE_CLIENT_SIZE);
    assert_eq!(std::mem::align_of::<mqe_client_t>(), 8);
    assert_eq!(MQE_CLIENT_SIZE % 8, 0);
    // build.rs's formula fits the real client within its margin (32 bytes, rounded to 8).
    let used = client_bytes_used();
    assert!(used <= MQE_CLIENT_SIZE);
    assert!(
        MQE_CLIENT_SIZE - used <= 40,
        "{MQE_CLIENT_SIZE} reserved, {used} used"
    );
}

#[test]
fn panic_hook_is_stored() {
    extern "C" fn hook() {}
    mqe_set_panic_hook(Some(hook as unsafe extern "C" fn()));
    assert!(panic_hook_is_set());
    mqe_set_panic_hook(None);
    assert!(!panic_hook_is_set());
}

unsafe extern "C" fn p_random(_ctx: *mut c_void) -> u32 {
    7
}

#[cfg(feature = "offline-queue")]
#[test]
fn automatic_reconnect_through_the_c_api() {
    let mut h = Harness::new("127.0.0.1");
    let endpoints = [
        mqe_endpoint_t {
            host: c"127.0.0.1".as_ptr(),
            port: 1001,
        },
        mqe_endpoint_t {
            host: c"127.0.0.2".as_ptr(),
            port: 1002,
        },
    ];
    let o = mqe_options_t {
        host: ptr::null(),
        endpoints: endpoints.as_ptr(),
        endpoint_count: endpoints.len(),
        reconnect: true,
        reconnect_min_ms: 100,
        reconnect_max_ms: 1_000,
        qos0_policy: MQE_QOS0_DROP_OLDEST,
        ..h.options()
    };
    let (t, p) = (
        h.transport(),
        mqe_platform_t {
            random: Some(p_random),
            ..h.platform()
        },
    );
    let c = h.c();
    assert_eq!(unsafe { mqe_init(c, &o, &t, &p) }, MQE_OK);
    h.handlers();
    assert_eq!(unsafe { mqe_connect(c) }, MQE_OK);
    h.poll_n(4);
    assert_eq!(h.net.connected_to[0].port, 1001);
    h.net.inbound.extend(CONNACK);
    h.poll();
    assert_eq!(h.recorder.details, vec![(MQE_EVENT_CONNECTED, 0, 0, 0, 0)]);
    h.recorder.details.clear();
    h.net.sent.clear();

    // Lost: reported, then the reconnect is announced with its attempt and delay (full
    // jitter: with random() = 7 the client draws 20 of [0, 100]).
    h.net.peer_closed = true;
    assert_eq!(h.poll(), MQE_ERR_CLOSED);
    assert_eq!(
        h.recorder.details,
        vec![
            (MQE_EVENT_DISCONNECTED, 0, 0, 0, 0),
            (MQE_EVENT_RECONNECTING, 1, 20, 0, 0)
        ]
    );
    h.recorder.details.clear();
    assert_eq!(unsafe { mqe_state(c) }, MQE_STATE_RECONNECTING);
    assert_eq!(unsafe { mqe_mqttsta(c) }, 1);
    assert_eq!(unsafe { mqe_next_deadline_ms(c) }, 20);

    // QoS 0 while reconnecting: queued; one too many drops the oldest, and says so.
    let cap = mqtt_engine::config::OFFLINE_QOS0_MSGS;
    for i in 0..=cap {
        let payload = [b'a' + i as u8];
        let status = unsafe {
            mqe_publish(
                c,
                c"q".as_ptr(),
                payload.as_ptr().cast(),
                1,
                0,
                false,
                ptr::null_mut(),
            )
        };
        assert_eq!(status, MQE_OK);
    }
    assert_eq!(unsafe { mqe_qos0_dropped(c) }, 1);
    assert_eq!(h.poll(), MQE_OK);
    assert_eq!(
        h.recorder.details,
        vec![(MQE_EVENT_QOS0_DROPPED, 0, 0, 0, 1)]
    );
    h.recorder.details.clear();

    // After the backoff: the same endpoint first (the connection had worked), then the queue.
    h.net.peer_closed = false;
    h.clock.set(h.clock.get() + 100);
    h.poll_n(4);
    assert_eq!(h.net.connected_to.len(), 2);
    assert_eq!(h.net.connected_to[1].port, 1001);
    assert_eq!(std::mem::take(&mut h.net.sent), CONNECT_C1);
    h.net.inbound.extend(CONNACK);
    h.poll_n(8);
    assert_eq!(h.recorder.details, vec![(MQE_EVENT_CONNECTED, 0, 0, 0, 0)]);
    let expected: Vec<u8> = (1..=cap)
        .flat_map(|i| [0x30, 0x04, 0x00, 0x01, b'q', b'a' + i as u8])
        .collect();
    assert_eq!(h.net.sent, expected);

    // Lost again, then mqe_disconnect during the backoff stops reconnecting.
    h.net.peer_closed = true;
    h.poll();
    assert_eq!(unsafe { mqe_state(c) }, MQE_STATE_RECONNECTING);
    h.recorder.details.clear();
    assert_eq!(unsafe { mqe_disconnect(c) }, MQE_OK);
    assert_eq!(h.poll(), MQE_OK);
    assert_eq!(
        h.recorder.details,
        vec![(MQE_EVENT_DISCONNECTED, 0, 0, 0, 0)]
    );
    assert_eq!(unsafe { mqe_state(c) }, MQE_STATE_DISCONNECTED);
    h.clock.set(h.clock.get() + 10_000);
    h.poll_n(4);
    assert_eq!(h.net.connected_to.len(), 2);
    assert_eq!(unsafe { mqe_qos0_dropped(ptr::null()) }, 0);
}

// --- umqtt-style helpers, per-topic handlers, the outbox ---

#[test]
fn connect_wait_returns_once_connected_or_with_the_reason() {
    let mut h = Harness::new("127.0.0.1");
    h.handlers();
    let c = h.c();
    h.net.inbound.extend(CONNACK);
    assert_eq!(unsafe { mqe_connect_wait(c, 5_000) }, MQE_OK);
    assert_eq!(std::mem::take(&mut h.net.sent), CONNECT_C1);
    assert_eq!(unsafe { mqe_mqttsta(c) }, 0);
    // Already connected: at once.
    assert_eq!(unsafe { mqe_connect_wait(c, 0) }, MQE_OK);

    // A refusal is the status.
    let mut h = Harness::new("127.0.0.1");
    h.handlers();
    let c = h.c();
    h.net.inbound.extend([0x20, 0x02, 0x00, 0x05]);
    assert_eq!(
        unsafe { mqe_connect_wait(c, 5_000) },
        MQE_ERR_REFUSED_NOT_AUTHORIZED
    );

    // No CONNACK: the helper's own timeout, measured on the platform clock.
    let mut h = Harness::new("127.0.0.1");
    let c = h.c();
    let start = h.clock.get();
    assert_eq!(unsafe { mqe_connect_wait(c, 500) }, MQE_ERR_TIMEOUT);
    let waited = h.clock.get() - start;
    assert!((500..=510).contains(&waited), "waited {waited} ms");
    assert_eq!(unsafe { mqe_state(c) }, MQE_STATE_CONNECTING);
}

#[test]
fn blocking_helpers_need_delay_ms() {
    let mut h = Harness::new("127.0.0.1");
    h.connect();
    let c = h.c();
    let o = h.options();
    let t = h.transport();
    let mut p = h.platform();
    p.delay_ms = None;
    assert_eq!(unsafe { mqe_disconnect(c) }, MQE_OK);
    h.poll_n(2);
    assert_eq!(unsafe { mqe_init(c, &o, &t, &p) }, MQE_OK);
    assert_eq!(unsafe { mqe_wait_msg(c, 10) }, MQE_ERR_NULL);
    assert_eq!(unsafe { mqe_connect_wait(c, 10) }, MQE_ERR_NULL);
    assert_eq!(unsafe { mqe_state(c) }, MQE_STATE_DISCONNECTED);
    // Connected without delay_ms: mqe_ping sends no PINGREQ it could not wait for.
    h.net.sent.clear();
    h.recorder.events.clear();
    h.connect();
    assert_eq!(unsafe { mqe_ping(c, 10) }, MQE_ERR_NULL);
    h.poll_n(2);
    assert!(h.net.sent.is_empty());
}

#[test]
fn ping_is_a_real_round_trip() {
    let mut h = Harness::new("127.0.0.1");
    assert_eq!(unsafe { mqe_ping(h.c(), 100) }, MQE_ERR_STATE);
    h.connect();
    let c = h.c();
    // No answer: the helper times out; the PINGREQ went out.
    assert_eq!(unsafe { mqe_ping(c, 200) }, MQE_ERR_TIMEOUT);
    assert_eq!(std::mem::take(&mut h.net.sent), [0xC0, 0x00]);
    // The answer to the outstanding PINGREQ completes the next ping (no second PINGREQ).
    h.net.inbound.extend([0xD0, 0x00]);
    assert_eq!(unsafe { mqe_ping(c, 200) }, MQE_OK);
    assert!(h.net.sent.is_empty());
    assert_eq!(
        std::mem::take(&mut h.recorder.events),
        vec![(MQE_EVENT_PING_RESPONSE, MQE_OK, 0, vec![], false)]
    );
    // A broker that answers: PINGREQ out, PINGRESP in.
    h.net.answer_pings = true;
    let start = h.clock.get();
    assert_eq!(unsafe { mqe_ping(c, 1_000) }, MQE_OK);
    assert_eq!(std::mem::take(&mut h.net.sent), [0xC0, 0x00]);
    assert!(h.clock.get() - start < 1_000);
}

#[test]
fn wait_msg_returns_after_a_message_or_the_timeout() {
    let mut h = Harness::new("127.0.0.1");
    h.connect();
    let c = h.c();
    let start = h.clock.get();
    assert_eq!(unsafe { mqe_wait_msg(c, 300) }, MQE_ERR_TIMEOUT);
    assert!(h.clock.get() - start >= 300);
    h.net
        .inbound
        .extend([0x30, 0x05, 0x00, 0x01, b't', b'h', b'i']);
    assert_eq!(unsafe { mqe_wait_msg(c, 300) }, MQE_OK);
    assert_eq!(
        std::mem::take(&mut h.recorder.messages),
        vec![("t".to_owned(), b"hi".to_vec(), 0, false, 0)]
    );
    assert_eq!(unsafe { mqe_check_msg(c) }, MQE_OK);
    // The broker closes while waiting: the reason.
    h.net.peer_closed = true;
    assert_eq!(unsafe { mqe_wait_msg(c, 300) }, MQE_ERR_CLOSED);
}

/// Records (which handler, topic) for the per-topic handler tests.
#[cfg(feature = "topic-handlers")]
unsafe extern "C" fn tagged_handler(user: *mut c_void, msg: *const mqe_message_t) {
    let log = unsafe { &mut *user.cast::<Vec<(usize, String)>>() };
    let m = unsafe { &*msg };
    let topic = unsafe { std::slice::from_raw_parts(m.topic.cast::<u8>(), m.topic_len) };
    log.push((1, String::from_utf8(topic.to_vec()).unwrap()));
}

#[cfg(feature = "topic-handlers")]
unsafe extern "C" fn other_tagged_handler(user: *mut c_void, msg: *const mqe_message_t) {
    let log = unsafe { &mut *user.cast::<Vec<(usize, String)>>() };
    let m = unsafe { &*msg };
    let topic = unsafe { std::slice::from_raw_parts(m.topic.cast::<u8>(), m.topic_len) };
    log.push((2, String::from_utf8(topic.to_vec()).unwrap()));
}

#[cfg(feature = "topic-handlers")]
#[test]
fn per_topic_handlers_get_every_match_and_the_default_the_rest() {
    let mut h = Harness::new("127.0.0.1");
    let c = h.c();
    let mut log: Vec<(usize, String)> = Vec::new();
    let user = (&mut log as *mut Vec<(usize, String)>).cast();
    // A subscribe that fails registers nothing: "q" later reaches the default handler.
    assert_eq!(
        unsafe {
            mqe_subscribe_cb(
                c,
                c"q".as_ptr(),
                0,
                Some(tagged_handler),
                user,
                ptr::null_mut(),
            )
        },
        MQE_ERR_STATE
    );
    h.connect();
    h.net.inbound.extend([0x30, 0x04, 0x00, 0x01, b'q', b'!']);
    assert_eq!(h.poll(), MQE_OK);
    assert!(log.is_empty());
    assert_eq!(h.recorder.messages.len(), 1);
    h.recorder.messages.clear();
    let mut id = 0;
    assert_eq!(
        unsafe { mqe_subscribe_cb(c, c"a/+".as_ptr(), 1, Some(tagged_handler), user, &mut id) },
        MQE_OK
    );
    h.poll_n(4);
    let [hi, lo] = id.to_be_bytes();
    assert_eq!(
        std::mem::take(&mut h.net.sent),
        [0x82, 0x08, hi, lo, 0x00, 0x03, b'a', b'/', b'+', 0x01]
    );
    assert_eq!(
        unsafe {
            mqe_subscribe_cb(
                c,
                c"a/#".as_ptr(),
                0,
                Some(other_tagged_handler),
                user,
                ptr::null_mut(),
            )
        },
        MQE_OK
    );
    h.poll_n(4);
    h.net.sent.clear();
    // Overlapping: a/b goes to both, a/b/c to the second only, z to the default handler.
    for topic in [&b"a/b"[..], b"a/b/c", b"z"] {
        let mut packet = vec![0x30, (2 + topic.len() + 1) as u8, 0, topic.len() as u8];
        packet.extend_from_slice(topic);
        packet.push(b'!');
        h.net.inbound.extend(packet);
    }
    assert_eq!(h.poll(), MQE_OK);
    assert_eq!(
        log,
        vec![
            (1, "a/b".to_owned()),
            (2, "a/b".to_owned()),
            (2, "a/b/c".to_owned())
        ]
    );
    assert_eq!(
        std::mem::take(&mut h.recorder.messages),
        vec![("z".to_owned(), b"!".to_vec(), 0, false, 0)]
    );

    // Capacity: registering beyond it is MQE_ERR_FULL and sends nothing.
    let capacity = mqtt_engine::config::MAX_TOPIC_HANDLERS;
    let filters: Vec<CString> = (2..capacity)
        .map(|i| CString::new(format!("f/{i}")).unwrap())
        .collect();
    for filter in &filters {
        let status = unsafe {
            mqe_subscribe_cb(
                c,
                filter.as_ptr(),
                0,
                Some(tagged_handler),
                user,
                ptr::null_mut(),
            )
        };
        assert_eq!(status, MQE_OK);
        h.poll_n(4);
        // Acknowledge so the pending-SUBSCRIBE table never fills.
        let sent = std::mem::take(&mut h.net.sent);
        h.net.inbound.extend([0x90, 0x03, sent[2], sent[3], 0x00]);
        assert_eq!(h.poll(), MQE_OK);
    }
    assert_eq!(
        unsafe {
            mqe_subscribe_cb(
                c,
                c"full".as_ptr(),
                0,
                Some(tagged_handler),
                user,
                ptr::null_mut(),
            )
        },
        MQE_ERR_FULL
    );
    h.poll_n(4);
    assert!(h.net.sent.is_empty());
    // Arguments.
    assert_eq!(
        unsafe { mqe_subscribe_cb(c, c"x".as_ptr(), 0, None, user, ptr::null_mut()) },
        MQE_ERR_NULL
    );
    assert_eq!(
        unsafe {
            mqe_subscribe_cb(
                c,
                c"a/#/b".as_ptr(),
                0,
                Some(tagged_handler),
                user,
                ptr::null_mut(),
            )
        },
        MQE_ERR_TOPIC
    );
    // Unsubscribing removes the handler: a/x then only reaches the second one.
    assert_eq!(
        unsafe { mqe_unsubscribe(c, c"a/+".as_ptr(), ptr::null_mut()) },
        MQE_OK
    );
    h.poll_n(4);
    log.clear();
    h.net
        .inbound
        .extend([0x30, 0x06, 0x00, 0x03, b'a', b'/', b'x', b'!']);
    assert_eq!(h.poll(), MQE_OK);
    assert_eq!(log, vec![(2, "a/x".to_owned())]);
}

#[cfg(feature = "outbox")]
static CS_LOCK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
#[cfg(feature = "outbox")]
static CS_ENTERED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

#[cfg(feature = "outbox")]
unsafe extern "C" fn cs_enter() -> u32 {
    use std::sync::atomic::Ordering;
    while CS_LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        std::hint::spin_loop();
    }
    CS_ENTERED.fetch_add(1, Ordering::Relaxed);
    0x5a
}

#[cfg(feature = "outbox")]
unsafe extern "C" fn cs_exit(state: u32) {
    assert_eq!(state, 0x5a);
    CS_LOCK.store(false, std::sync::atomic::Ordering::Release);
}

#[cfg(feature = "outbox")]
#[test]
fn posted_messages_go_out_in_order_from_the_owners_poll() {
    let mut h = Harness::new("127.0.0.1");
    let c = h.c();
    let post = |topic: &CStr, payload: &[u8], qos: u8| unsafe {
        mqe_post_publish(
            c,
            topic.as_ptr(),
            payload.as_ptr().cast(),
            payload.len(),
            qos,
            false,
        )
    };
    // The only test that registers the hooks, so before it nothing is registered.
    assert_eq!(post(c"t", b"x", 0), MQE_ERR_NO_CRITICAL_SECTION);
    assert_eq!(mqe_set_critical_section(Some(cs_enter), None), MQE_ERR_NULL);
    assert_eq!(
        mqe_set_critical_section(Some(cs_enter), Some(cs_exit)),
        MQE_OK
    );
    let mut blank = mqe_client_t::zeroed();
    assert_eq!(
        unsafe { mqe_post_publish(&mut blank, c"t".as_ptr(), ptr::null(), 0, 0, false) },
        MQE_ERR_NOT_INIT
    );
    assert_eq!(post(c"t/#", b"x", 0), MQE_ERR_TOPIC);
    assert_eq!(post(c"t", b"x", 3), MQE_ERR_QOS);
    let slot = mqtt_engine::config::OUTBOX_SLOT_BYTES;
    assert_eq!(post(c"t", &vec![0; slot], 0), MQE_ERR_TOO_LARGE);
    assert_eq!(post(c"t", &vec![0; slot - 1], 0), MQE_OK);

    // Fill every slot; then back-pressure.
    let slots = mqtt_engine::config::OUTBOX_SLOTS;
    for i in 1..slots {
        assert_eq!(post(c"t", &[i as u8], 1), MQE_OK);
    }
    assert_eq!(post(c"t", b"x", 0), MQE_ERR_FULL);
    // Not connected: the outbox waits.
    h.poll_n(3);
    assert!(h.net.sent.is_empty());
    h.connect();
    h.poll_n(400);
    let sent = std::mem::take(&mut h.net.sent);
    // First the big QoS 0 message, then the QoS 1 ones in the order posted.
    let mut expected = vec![0x30];
    let remaining = 3 + slot - 1;
    if remaining < 128 {
        expected.push(remaining as u8);
    } else {
        expected.extend([(remaining & 0x7f) as u8 | 0x80, (remaining >> 7) as u8]);
    }
    expected.extend([0x00, 0x01, b't']);
    expected.extend(vec![0; slot - 1]);
    let inflight = slots.saturating_sub(1).min(8);
    for (i, id) in (1..=inflight).zip(1u16..) {
        let [hi, lo] = id.to_be_bytes();
        expected.extend([0x32, 0x06, 0x00, 0x01, b't', hi, lo, i as u8]);
    }
    assert_eq!(sent, expected);
    assert!(CS_ENTERED.load(std::sync::atomic::Ordering::Relaxed) >= slots as u32);
    // Room again; a waiting post makes the deadline 0 (the window has room), until polled.
    assert_ne!(unsafe { mqe_next_deadline_ms(c) }, 0);
    assert_eq!(post(c"t", b"y", 0), MQE_OK);
    assert_eq!(unsafe { mqe_next_deadline_ms(c) }, 0);
    h.poll_n(3);
    assert_eq!(
        std::mem::take(&mut h.net.sent),
        [0x30, 0x04, 0x00, 0x01, b't', b'y']
    );
    assert_ne!(unsafe { mqe_next_deadline_ms(c) }, 0);
}

// --- the platform's log hook ---

thread_local! {
    /// What the log hook received on this test's thread: (level, line, platform ctx).
    static LOG_LINES: std::cell::RefCell<Vec<(i32, String, usize)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

unsafe extern "C" fn p_log(ctx: *mut c_void, level: i32, msg: *const c_char) {
    let line = unsafe { CStr::from_ptr(msg) }.to_str().unwrap().to_owned();
    LOG_LINES.with(|lines| lines.borrow_mut().push((level, line, ctx as usize)));
}

/// The log lines so far, without the ctx (checked once per test).
fn take_log(ctx: *const Cell<u32>) -> Vec<(i32, String)> {
    LOG_LINES.with(|lines| {
        std::mem::take(&mut *lines.borrow_mut())
            .into_iter()
            .map(|(level, line, got_ctx)| {
                assert_eq!(got_ctx, ctx as usize, "the hook gets the platform's ctx");
                (level, line)
            })
            .collect()
    })
}

fn lines(expected: &[(i32, &str)]) -> Vec<(i32, String)> {
    expected
        .iter()
        .map(|&(level, line)| (level, line.to_owned()))
        .collect()
}

/// A harness whose platform has the log hook (and a fixed random, for exact backoffs).
fn logging_harness(reconnect: bool) -> Harness {
    let mut h = Harness::new("127.0.0.1");
    let o = mqe_options_t {
        reconnect,
        reconnect_min_ms: 100,
        reconnect_max_ms: 1_000,
        ..h.options()
    };
    let t = h.transport();
    let p = mqe_platform_t {
        log: Some(p_log),
        random: Some(p_random),
        ..h.platform()
    };
    let c = h.c();
    assert_eq!(unsafe { mqe_init(c, &o, &t, &p) }, MQE_OK);
    h
}

#[cfg(feature = "log")]
#[test]
fn the_log_hook_tells_the_connection_lifecycle() {
    let mut h = logging_harness(true);
    let c = h.c();
    let ctx: *const Cell<u32> = &*h.clock;
    assert_eq!(unsafe { mqe_set_log_level(c, MQE_LOG_DEBUG) }, MQE_OK);
    h.connect();
    assert_eq!(
        take_log(ctx),
        lines(&[
            (MQE_LOG_INFO, "connecting, endpoint 0"),
            (MQE_LOG_INFO, "connected, session present 0, endpoint 0"),
        ])
    );

    let mut id = 0;
    assert_eq!(
        unsafe { mqe_subscribe(c, c"a".as_ptr(), 0, &mut id) },
        MQE_OK
    );
    h.poll_n(4);
    let [hi, lo] = id.to_be_bytes();
    h.net.inbound.extend([0x90, 0x03, hi, lo, 0x00]);
    h.net.inbound.extend([0xB0, 0x02, 0x12, 0x34]);
    h.net.inbound.extend([0xD0, 0x00]);
    h.poll_n(2);
    assert_eq!(
        take_log(ctx),
        lines(&[
            (MQE_LOG_DEBUG, &format!("SUBACK id {id}")),
            (
                MQE_LOG_ERROR,
                "protocol error: unknown packet id from the broker (-52)"
            ),
            (MQE_LOG_INFO, "reconnect attempt 1 in 20 ms, endpoint 0"),
        ])
    );

    // Back after the backoff, then the broker closes: a warning with the reason's text.
    h.clock.set(h.clock.get() + 100);
    h.poll_n(4);
    h.net.inbound.extend(CONNACK);
    h.poll_n(2);
    h.net.peer_closed = true;
    assert_eq!(h.poll(), MQE_ERR_CLOSED);
    assert_eq!(
        take_log(ctx),
        lines(&[
            (MQE_LOG_INFO, "connected, session present 0, endpoint 0"),
            (
                MQE_LOG_WARN,
                "disconnected: connection closed by the broker (-42)"
            ),
            // Closed right after its CONNACK: a failed attempt too (reconnect_stable_ms), so
            // the count goes on at 2 and the delay is drawn from [0, 200].
            (MQE_LOG_INFO, "reconnect attempt 2 in 102 ms, endpoint 0"),
        ])
    );

    // mqe_disconnect during the backoff: a clean disconnect is news, not a warning.
    assert_eq!(unsafe { mqe_disconnect(c) }, MQE_OK);
    assert_eq!(h.poll(), MQE_OK);
    assert_eq!(take_log(ctx), lines(&[(MQE_LOG_INFO, "disconnected")]));
}

#[cfg(all(feature = "reconnect", feature = "log"))]
#[test]
fn the_log_hook_reports_a_refusal_with_its_code_and_text() {
    let mut h = logging_harness(false);
    let c = h.c();
    let ctx: *const Cell<u32> = &*h.clock;
    h.handlers();
    assert_eq!(unsafe { mqe_connect(c) }, MQE_OK);
    h.poll_n(4);
    h.net.inbound.extend([0x20, 0x02, 0x00, 0x04]);
    assert_eq!(h.poll_n(2), MQE_ERR_REFUSED_CREDENTIALS);
    let log = take_log(ctx);
    assert_eq!(
        log[..2],
        lines(&[
            (MQE_LOG_INFO, "connecting, endpoint 0"),
            (
                MQE_LOG_ERROR,
                "CONNACK 4: refused: bad user name or password (-64)"
            ),
        ])
    );
    // What may follow is the engine's plain end of the connection, never a second error.
    assert!(log[2..]
        .iter()
        .all(|line| *line == (MQE_LOG_INFO, "disconnected".to_owned())));
}

#[cfg(feature = "log")]
#[test]
fn the_log_level_filters_and_null_hook_or_off_means_no_call() {
    // Default INFO: the DEBUG lines (SUBACK, PINGRESP) are not formatted or delivered.
    let mut h = logging_harness(false);
    let c = h.c();
    let ctx: *const Cell<u32> = &*h.clock;
    h.connect();
    take_log(ctx);
    let mut id = 0;
    assert_eq!(
        unsafe { mqe_subscribe(c, c"a".as_ptr(), 0, &mut id) },
        MQE_OK
    );
    h.poll_n(4);
    let [hi, lo] = id.to_be_bytes();
    h.net.inbound.extend([0x90, 0x03, hi, lo, 0x00, 0xD0, 0x00]);
    h.poll_n(2);
    assert_eq!(take_log(ctx), vec![]);

    // ERROR only: a lost connection (a warning) says nothing; OFF silences errors too.
    assert_eq!(unsafe { mqe_set_log_level(c, MQE_LOG_ERROR) }, MQE_OK);
    h.net.peer_closed = true;
    assert_eq!(h.poll(), MQE_ERR_CLOSED);
    assert_eq!(take_log(ctx), vec![]);
    assert_eq!(unsafe { mqe_set_log_level(c, MQE_LOG_OFF) }, MQE_OK);
    h.net.peer_closed = false;
    assert_eq!(unsafe { mqe_connect(c) }, MQE_OK);
    h.poll_n(4);
    h.net.inbound.extend([0x20, 0x02, 0x00, 0x05]);
    assert_eq!(h.poll_n(2), MQE_ERR_REFUSED_NOT_AUTHORIZED);
    assert_eq!(take_log(ctx), vec![]);

    // Levels outside OFF..DEBUG are refused and change nothing.
    assert_eq!(
        unsafe { mqe_set_log_level(c, MQE_LOG_DEBUG + 1) },
        MQE_ERR_ARG
    );
    assert_eq!(
        unsafe { mqe_set_log_level(c, MQE_LOG_OFF - 1) },
        MQE_ERR_ARG
    );
    assert_eq!(unsafe { mqe_connect(c) }, MQE_OK);
    assert_eq!(take_log(ctx), vec![]);
    assert_eq!(
        unsafe { mqe_set_log_level(ptr::null_mut(), MQE_LOG_INFO) },
        MQE_ERR_NULL
    );
    let mut blank = mqe_client_t::zeroed();
    assert_eq!(
        unsafe { mqe_set_log_level(&mut blank, MQE_LOG_INFO) },
        MQE_ERR_NOT_INIT
    );

    // No hook: a whole session at DEBUG runs, and nothing reaches the hook of this thread.
    let mut quiet = Harness::new("127.0.0.1");
    let qc = quiet.c();
    assert_eq!(unsafe { mqe_set_log_level(qc, MQE_LOG_DEBUG) }, MQE_OK);
    quiet.connect();
    quiet.net.peer_closed = true;
    assert_eq!(quiet.poll(), MQE_ERR_CLOSED);
    assert_eq!(take_log(ctx), vec![]);
}

#[cfg(all(feature = "reconnect", feature = "log"))]
#[test]
fn a_transports_failure_code_names_the_reason_in_the_event_and_the_log() {
    let cases = [
        (
            MQE_IO_ERR_REFUSED,
            MQE_ERR_CONN_REFUSED,
            "connection refused",
        ),
        (
            MQE_IO_ERR_UNREACHABLE,
            MQE_ERR_UNREACHABLE,
            "host or network unreachable",
        ),
        (MQE_IO_ERR_TIMEOUT, MQE_ERR_NET_TIMEOUT, "network timed out"),
        (MQE_IO_ERR_RESET, MQE_ERR_CONN_RESET, "connection reset"),
        (MQE_IO_ERR_NET_DOWN, MQE_ERR_NET_DOWN, "network down"),
        (
            MQE_IO_ERR_TLS,
            MQE_ERR_TLS,
            "TLS handshake or certificate failed",
        ),
        (
            MQE_IO_ERR,
            MQE_ERR_TRANSPORT,
            "transport failed (no cause given by the port)",
        ),
        (
            -1000,
            MQE_ERR_TRANSPORT,
            "transport failed (no cause given by the port)",
        ),
    ];
    for (code, status, text) in cases {
        // TCP connect fails.
        let mut h = logging_harness(false);
        let c = h.c();
        let ctx: *const Cell<u32> = &*h.clock;
        h.handlers();
        h.net.connect_fails = code;
        assert_eq!(unsafe { mqe_connect(c) }, MQE_OK);
        assert_eq!(h.poll_n(2), status, "connect failing with {code}");
        assert_eq!(
            h.recorder.events,
            [(MQE_EVENT_DISCONNECTED, status, 0, vec![], false)]
        );
        assert_eq!(
            take_log(ctx),
            lines(&[
                (MQE_LOG_INFO, "connecting, endpoint 0"),
                (MQE_LOG_WARN, &format!("disconnected: {text} ({status})")),
            ])
        );

        // A send fails on an open connection.
        let mut h = Harness::new("127.0.0.1");
        h.connect();
        h.net.send_fails = code;
        let c = h.c();
        assert_eq!(
            unsafe {
                mqe_publish(
                    c,
                    c"t".as_ptr(),
                    ptr::null(),
                    0,
                    MQE_QOS_0,
                    false,
                    ptr::null_mut(),
                )
            },
            MQE_OK
        );
        assert_eq!(h.poll(), status, "send failing with {code}");
    }
}

#[test]
fn a_resolver_failure_is_dns_unless_the_resolver_names_it_and_old_codes_do_not_linger() {
    let mut h = Harness::new("broker.example");
    h.handlers();
    let c = h.c();
    h.net.resolve_fails = -1;
    assert_eq!(unsafe { mqe_connect(c) }, MQE_OK);
    assert_eq!(h.poll_n(2), MQE_ERR_DNS);
    h.net.resolve_fails = MQE_IO_ERR_NET_DOWN;
    assert_eq!(unsafe { mqe_connect(c) }, MQE_OK);
    assert_eq!(h.poll_n(2), MQE_ERR_NET_DOWN);
    // A refused attempt, then a plain failure: the second is not named by the first's code.
    h.net.resolve_fails = 0;
    h.net.connect_fails = MQE_IO_ERR_REFUSED;
    assert_eq!(unsafe { mqe_connect(c) }, MQE_OK);
    assert_eq!(h.poll_n(2), MQE_ERR_CONN_REFUSED);
    h.net.connect_fails = -1;
    assert_eq!(unsafe { mqe_connect(c) }, MQE_OK);
    assert_eq!(h.poll_n(2), MQE_ERR_TRANSPORT);
    h.net.resolve_fails = -1;
    assert_eq!(unsafe { mqe_connect(c) }, MQE_OK);
    assert_eq!(h.poll_n(2), MQE_ERR_DNS);
    let reasons: Vec<_> = h.recorder.events.iter().map(|e| (e.0, e.1)).collect();
    assert_eq!(
        reasons,
        [
            MQE_ERR_DNS,
            MQE_ERR_NET_DOWN,
            MQE_ERR_CONN_REFUSED,
            MQE_ERR_TRANSPORT,
            MQE_ERR_DNS
        ]
        .map(|reason| (MQE_EVENT_DISCONNECTED, reason))
    );
}

// --- what the header says, pinned ---

#[cfg(feature = "qos2")]
#[test]
fn without_a_store_buffer_qos_1_and_2_are_too_large_not_full() {
    let mut h = Harness::new("127.0.0.1");
    let o = mqe_options_t {
        store_buf: ptr::null_mut(),
        store_buf_len: 0,
        ..h.options()
    };
    let (t, p, c) = (h.transport(), h.platform(), h.c());
    assert_eq!(unsafe { mqe_init(c, &o, &t, &p) }, MQE_OK);
    let publish = |qos| unsafe {
        mqe_publish(
            c,
            c"t".as_ptr(),
            b"x".as_ptr().cast(),
            1,
            qos,
            false,
            ptr::null_mut(),
        )
    };
    // Before connecting (QoS 1/2 would be stored for later) and once connected.
    assert_eq!(publish(MQE_QOS_1), MQE_ERR_TOO_LARGE);
    assert_eq!(publish(MQE_QOS_2), MQE_ERR_TOO_LARGE);
    h.connect();
    assert_eq!(publish(MQE_QOS_1), MQE_ERR_TOO_LARGE);
    assert_eq!(publish(MQE_QOS_2), MQE_ERR_TOO_LARGE);
    assert_eq!(publish(MQE_QOS_0), MQE_OK);
    h.poll_n(2);
    assert_eq!(h.net.sent, [0x30, 0x04, 0x00, 0x01, b't', b'x']);
}

#[test]
fn an_ack_timeout_closes_the_connection_and_the_next_connect_resends() {
    let mut h = Harness::new("127.0.0.1");
    let o = mqe_options_t {
        ack_timeout_ms: 5_000,
        ..h.options()
    };
    let (t, p, c) = (h.transport(), h.platform(), h.c());
    assert_eq!(unsafe { mqe_init(c, &o, &t, &p) }, MQE_OK);
    h.connect();
    let mut id = 0;
    let status = unsafe {
        mqe_publish(
            c,
            c"t".as_ptr(),
            b"x".as_ptr().cast(),
            1,
            MQE_QOS_1,
            false,
            &mut id,
        )
    };
    assert_eq!(status, MQE_OK);
    h.poll_n(2);
    let [hi, lo] = id.to_be_bytes();
    assert_eq!(
        std::mem::take(&mut h.net.sent),
        [0x32, 0x06, 0x00, 0x01, b't', hi, lo, b'x']
    );
    // Not re-sent on the same connection: the timeout ends it.
    h.clock.set(h.clock.get() + 4_999);
    assert_eq!(h.poll(), MQE_OK);
    assert!(h.net.sent.is_empty());
    h.clock.set(h.clock.get() + 1);
    assert_eq!(h.poll(), MQE_ERR_ACK_TIMEOUT);
    assert_eq!(
        std::mem::take(&mut h.recorder.events),
        [(
            MQE_EVENT_DISCONNECTED,
            MQE_ERR_ACK_TIMEOUT,
            0,
            vec![],
            false
        )]
    );
    assert!(h.net.sent.is_empty());
    assert_eq!(unsafe { mqe_state(c) }, MQE_STATE_DISCONNECTED);
    // The next connection re-sends it, DUP set, same id.
    assert_eq!(unsafe { mqe_connect(c) }, MQE_OK);
    h.poll_n(2);
    assert_eq!(std::mem::take(&mut h.net.sent), CONNECT_C1);
    h.net.inbound.extend(CONNACK);
    h.poll_n(3);
    assert_eq!(h.net.sent, [0x3A, 0x06, 0x00, 0x01, b't', hi, lo, b'x']);
}

#[test]
fn init_refuses_a_string_over_65535_bytes_as_too_large() {
    let mut h = Harness::new("127.0.0.1");
    let long = CString::new(vec![b'a'; 65_536]).unwrap();
    let o = mqe_options_t {
        client_id: long.as_ptr(),
        ..h.options()
    };
    let (t, p, c) = (h.transport(), h.platform(), h.c());
    assert_eq!(unsafe { mqe_init(c, &o, &t, &p) }, MQE_ERR_TOO_LARGE);
}

#[cfg(feature = "qos2")]
#[test]
fn a_full_incoming_qos2_table_closes_with_its_own_status() {
    let mut h = Harness::new("127.0.0.1");
    h.connect();
    let max = mqtt_engine::config::MAX_RX_QOS2 as u16;
    let mut ended = MQE_OK;
    // Unreleased QoS 2 messages, one more than the table holds; no PUBREL comes. Every other
    // id, so that no two share an entry (consecutive ids would be compacted into one run).
    for n in 1..=max + 1 {
        let [hi, lo] = (2 * n).to_be_bytes();
        h.net.inbound.extend([0x34, 0x05, 0x00, 0x01, b'q', hi, lo]);
        let status = h.poll_n(2);
        if status != MQE_OK {
            ended = status;
            break;
        }
    }
    assert_eq!(ended, MQE_ERR_RX_QOS2_FULL);
    assert_eq!(h.recorder.messages.len(), max as usize);
    assert_eq!(
        h.recorder.events.last(),
        Some(&(
            MQE_EVENT_DISCONNECTED,
            MQE_ERR_RX_QOS2_FULL,
            0,
            vec![],
            false
        ))
    );
    let text = unsafe { CStr::from_ptr(mqe_strerror(MQE_ERR_RX_QOS2_FULL)) };
    assert_eq!(text, c"incoming QoS 2 table full (MQE_MAX_RX_QOS2)");
}

/// CONNECT of client "c1" with clean_session 0 and keep-alive 60.
const CONNECT_C1_KEEP: &[u8] = &[
    0x10, 0x0E, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x00, 0x00, 0x3C, 0x00, 0x02, b'c', b'1',
];

impl Harness {
    /// Re-inits the client with clean_session 0 (handlers set again).
    fn keep_session(&mut self) {
        let mut o = self.options();
        o.clean_session = false;
        let (t, p, c) = (self.transport(), self.platform(), self.c());
        assert_eq!(unsafe { mqe_init(c, &o, &t, &p) }, MQE_OK);
        self.handlers();
    }

    /// Connects (clean_session 0) to a broker whose CONNACK says `session_present`; returns
    /// what the client sent after the CONNACK.
    fn connect_keeping(&mut self, session_present: bool) -> Vec<u8> {
        let c = self.c();
        self.net.peer_closed = false;
        assert_eq!(unsafe { mqe_connect(c) }, MQE_OK);
        self.poll_n(4);
        assert_eq!(std::mem::take(&mut self.net.sent), CONNECT_C1_KEEP);
        self.net
            .inbound
            .extend([0x20, 0x02, u8::from(session_present), 0x00]);
        self.poll_n(8);
        assert_eq!(unsafe { mqe_state(c) }, MQE_STATE_CONNECTED);
        std::mem::take(&mut self.net.sent)
    }

    /// The broker closes the connection.
    fn peer_closes(&mut self) {
        self.net.peer_closed = true;
        assert_eq!(self.poll(), MQE_ERR_CLOSED);
        self.net.peer_closed = false;
        assert!(self.net.inbound.is_empty());
    }
}

#[cfg(feature = "qos2")]
#[test]
fn an_evicted_incoming_qos2_id_is_its_own_event() {
    let mut h = Harness::new("127.0.0.1");
    h.keep_session();
    assert!(h.connect_keeping(false).is_empty());
    // Ids at random, none next to another (neighbours would share a run): each takes an entry.
    let max = mqtt_engine::config::MAX_RX_QOS2;
    let mut ids: Vec<u16> = Vec::new();
    let mut seed = 0x2545_f491_u32;
    while ids.len() < max + 1 {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let id = (seed >> 16) as u16;
        if id > 1 && id < u16::MAX && ids.iter().all(|&k| k.abs_diff(id) > 1) {
            ids.push(id);
        }
    }
    let publish = |h: &mut Harness, id: u16| {
        let [hi, lo] = id.to_be_bytes();
        h.net
            .inbound
            .extend([0x34, 0x06, 0x00, 0x01, b'q', hi, lo, lo]);
        assert_eq!(h.poll_n(2), MQE_OK);
        assert_eq!(std::mem::take(&mut h.net.sent), [0x50, 0x02, hi, lo]);
    };
    // The table full of ids whose PUBREL never comes.
    for &id in &ids[..max] {
        publish(&mut h, id);
    }
    assert_eq!(h.recorder.messages.len(), max);
    // The broker kept the session but never mentions those ids again: they are stale.
    h.peer_closes();
    assert!(h.connect_keeping(true).is_empty());
    h.recorder.events.clear();
    h.recorder.details.clear();
    // A new message evicts the oldest stale id, reported with its own event, and is delivered.
    publish(&mut h, ids[max]);
    assert_eq!(h.recorder.messages.len(), max + 1);
    assert_eq!(
        h.recorder.events,
        [(MQE_EVENT_RX_QOS2_EVICTED, MQE_OK, ids[0], vec![], false)]
    );
    assert_eq!(
        h.recorder.details,
        [(MQE_EVENT_RX_QOS2_EVICTED, 0, 0, 0, 1)]
    );
    // Forgotten indeed: a re-send of the evicted id is delivered again, one of a held id not.
    h.recorder.events.clear();
    for (id, delivered) in [(ids[1], max + 1), (ids[0], max + 2)] {
        let [hi, lo] = id.to_be_bytes();
        h.net
            .inbound
            .extend([0x3C, 0x06, 0x00, 0x01, b'q', hi, lo, lo]);
        assert_eq!(h.poll_n(2), MQE_OK);
        assert_eq!(std::mem::take(&mut h.net.sent), [0x50, 0x02, hi, lo]);
        assert_eq!(h.recorder.messages.len(), delivered);
    }
}

#[cfg(feature = "topic-handlers")]
#[test]
fn a_filter_the_broker_refuses_frees_its_handler_slot() {
    let mut h = Harness::new("127.0.0.1");
    h.connect();
    let c = h.c();
    let mut log: Vec<(usize, String)> = Vec::new();
    let user = (&mut log as *mut Vec<(usize, String)>).cast();
    let slots = mqtt_engine::config::MAX_TOPIC_HANDLERS;
    let filters: Vec<CString> = (0..2 * slots + 1)
        .map(|i| CString::new(format!("r/{i}")).unwrap())
        .collect();
    let subscribe = |h: &mut Harness, filter: &CString, code: u8| -> mqe_status_t {
        let mut id = 0;
        let status = unsafe {
            mqe_subscribe_cb(
                c,
                filter.as_ptr(),
                MQE_QOS_1,
                Some(tagged_handler),
                user,
                &mut id,
            )
        };
        if status == MQE_OK {
            h.poll_n(4);
            let [hi, lo] = id.to_be_bytes();
            h.net.inbound.extend([0x90, 0x03, hi, lo, code]);
            assert_eq!(h.poll(), MQE_OK);
            assert_eq!(
                h.recorder.events.pop(),
                Some((MQE_EVENT_SUBSCRIBED, MQE_OK, id, vec![code], false))
            );
        }
        status
    };
    // Twice as many refusals as there are slots: each frees its slot.
    for filter in &filters[..2 * slots] {
        assert_eq!(subscribe(&mut h, filter, MQE_SUBACK_FAILURE), MQE_OK);
    }
    // A message on a refused filter reaches the default handler, not the freed one.
    h.net
        .inbound
        .extend([0x30, 0x05, 0x00, 0x03, b'r', b'/', b'0']);
    assert_eq!(h.poll(), MQE_OK);
    assert!(log.is_empty());
    assert_eq!(h.recorder.messages.len(), 1);
    // Granted filters keep theirs, until the table is full.
    for filter in &filters[..slots] {
        assert_eq!(subscribe(&mut h, filter, 1), MQE_OK);
    }
    assert_eq!(subscribe(&mut h, &filters[2 * slots], 1), MQE_ERR_FULL);
    h.net
        .inbound
        .extend([0x30, 0x05, 0x00, 0x03, b'r', b'/', b'0']);
    assert_eq!(h.poll(), MQE_OK);
    assert_eq!(log, [(1, "r/0".to_owned())]);
}

#[cfg(feature = "topic-handlers")]
#[test]
fn a_renewed_filter_the_broker_refuses_frees_its_handler_slot() {
    let mut h = Harness::new("127.0.0.1");
    h.keep_session();
    assert!(h.connect_keeping(false).is_empty());
    let c = h.c();
    let mut log: Vec<(usize, String)> = Vec::new();
    let user = (&mut log as *mut Vec<(usize, String)>).cast();
    let slots = mqtt_engine::config::MAX_TOPIC_HANDLERS;
    let subscribe = |h: &mut Harness, filter: &CStr| -> mqe_status_t {
        let mut id = 0;
        let status = unsafe {
            mqe_subscribe_cb(
                c,
                filter.as_ptr(),
                MQE_QOS_1,
                Some(tagged_handler),
                user,
                &mut id,
            )
        };
        if status == MQE_OK {
            h.poll_n(4);
            let [hi, lo] = id.to_be_bytes();
            h.net.inbound.extend([0x90, 0x03, hi, lo, 0x01]);
            assert_eq!(h.poll(), MQE_OK);
        }
        status
    };
    assert_eq!(subscribe(&mut h, c"r/a"), MQE_OK);
    assert_eq!(subscribe(&mut h, c"r/b"), MQE_OK);
    h.net.sent.clear();
    // The broker lost the session: the client renews both in one SUBSCRIBE, ids its own.
    h.peer_closes();
    let sent = h.connect_keeping(false);
    assert_eq!(sent.len(), 16);
    let (hi, lo) = (sent[2], sent[3]);
    assert_eq!(
        sent,
        [
            0x82, 0x0E, hi, lo, 0x00, 0x03, b'r', b'/', b'a', 0x01, 0x00, 0x03, b'r', b'/', b'b',
            0x01
        ]
    );
    h.recorder.events.clear();
    // It refuses r/a and grants r/b.
    h.net.inbound.extend([0x90, 0x04, hi, lo, 0x80, 0x01]);
    assert_eq!(h.poll(), MQE_OK);
    let id = u16::from_be_bytes([hi, lo]);
    assert_eq!(
        h.recorder.events,
        [(MQE_EVENT_SUBSCRIBED, MQE_OK, id, vec![0x80, 0x01], false)]
    );
    // r/a's handler is gone (its message reaches the default handler), r/b's is kept.
    for topic in [b'a', b'b'] {
        h.net
            .inbound
            .extend([0x30, 0x05, 0x00, 0x03, b'r', b'/', topic]);
        assert_eq!(h.poll(), MQE_OK);
    }
    assert_eq!(log, [(1, "r/b".to_owned())]);
    assert_eq!(h.recorder.messages.len(), 1);
    assert_eq!(h.recorder.messages[0].0, "r/a");
    // Its slot is free: every slot but r/b's can be taken again, and no more (the handler
    // table is what fills: the client remembers more subscriptions than it has handlers).
    assert!(mqtt_engine::config::MAX_SUBSCRIPTIONS > slots);
    let filters: Vec<CString> = (0..slots)
        .map(|i| CString::new(format!("s/{i}")).unwrap())
        .collect();
    for filter in &filters[..slots - 1] {
        assert_eq!(subscribe(&mut h, filter), MQE_OK);
    }
    assert_eq!(subscribe(&mut h, &filters[slots - 1]), MQE_ERR_FULL);
}

// --- topics and filters as pointer + length ---

#[test]
fn publish_n_takes_the_topic_as_pointer_and_length() {
    let mut h = Harness::new("127.0.0.1");
    h.connect();
    let c = h.c();
    let publish_n = |topic: *const u8, len: usize| unsafe {
        mqe_publish_n(
            c,
            topic.cast(),
            len,
            b"p".as_ptr().cast(),
            1,
            MQE_QOS_0,
            false,
            ptr::null_mut(),
        )
    };
    let big = vec![b'a'; 65_536];
    assert_eq!(publish_n(ptr::null(), 0), MQE_ERR_NULL);
    assert_eq!(publish_n(ptr::null(), 3), MQE_ERR_NULL);
    assert_eq!(publish_n(b"t".as_ptr(), 0), MQE_ERR_TOPIC);
    assert_eq!(publish_n(big.as_ptr(), big.len()), MQE_ERR_TOO_LARGE);
    assert_eq!(publish_n(b"\xFFt".as_ptr(), 2), MQE_ERR_UTF8);
    assert_eq!(publish_n(b"a\0b".as_ptr(), 3), MQE_ERR_UTF8);
    assert_eq!(publish_n(b"a/+".as_ptr(), 3), MQE_ERR_TOPIC);
    assert_eq!(publish_n(b"a/#".as_ptr(), 3), MQE_ERR_TOPIC);
    assert_eq!(
        unsafe {
            mqe_publish_n(
                c,
                c"t".as_ptr(),
                1,
                b"p".as_ptr().cast(),
                1,
                9,
                false,
                ptr::null_mut(),
            )
        },
        MQE_ERR_QOS
    );
    h.poll_n(2);
    assert!(
        h.net.sent.is_empty(),
        "nothing was sent for the refused calls"
    );
    // Exactly `len` bytes: the rest of the buffer, NUL or not, is not the topic's.
    assert_eq!(publish_n(b"t/xyz".as_ptr(), 3), MQE_OK);
    let mut id = 0;
    let status = unsafe {
        mqe_publish_n(
            c,
            b"q2-and-more".as_ptr().cast(),
            2,
            b"v".as_ptr().cast(),
            1,
            MQE_QOS_1,
            true,
            &mut id,
        )
    };
    assert_eq!(status, MQE_OK);
    h.poll_n(4);
    let [hi, lo] = id.to_be_bytes();
    assert_eq!(
        h.net.sent,
        [
            [0x30, 0x06, 0x00, 0x03, b't', b'/', b'x', b'p'].as_slice(),
            &[0x33, 0x07, 0x00, 0x02, b'q', b'2', hi, lo, b'v']
        ]
        .concat()
    );
}

#[cfg(feature = "topic-handlers")]
#[test]
fn subscribe_n_and_subscribe_cb_n_take_the_filter_as_pointer_and_length() {
    let mut h = Harness::new("127.0.0.1");
    h.connect();
    let c = h.c();
    let subscribe_n = |filter: *const u8, len: usize| unsafe {
        mqe_subscribe_n(c, filter.cast(), len, MQE_QOS_1, ptr::null_mut())
    };
    let big = vec![b'a'; 65_536];
    assert_eq!(subscribe_n(ptr::null(), 1), MQE_ERR_NULL);
    assert_eq!(subscribe_n(b"a".as_ptr(), 0), MQE_ERR_TOPIC);
    assert_eq!(subscribe_n(big.as_ptr(), big.len()), MQE_ERR_TOO_LARGE);
    assert_eq!(subscribe_n(b"a\0b".as_ptr(), 3), MQE_ERR_UTF8);
    assert_eq!(subscribe_n(b"\xC3(".as_ptr(), 2), MQE_ERR_UTF8);
    assert_eq!(subscribe_n(b"a/#/b".as_ptr(), 5), MQE_ERR_TOPIC);
    assert_eq!(subscribe_n(b"a+".as_ptr(), 2), MQE_ERR_TOPIC);
    assert_eq!(
        unsafe { mqe_subscribe_n(c, c"a".as_ptr(), 1, 3, ptr::null_mut()) },
        MQE_ERR_QOS
    );
    h.poll_n(2);
    assert!(h.net.sent.is_empty());
    let mut id = 0;
    assert_eq!(
        unsafe { mqe_subscribe_n(c, b"a/+/b".as_ptr().cast(), 3, MQE_QOS_2, &mut id) },
        MQE_OK
    );
    h.poll_n(4);
    let [hi, lo] = id.to_be_bytes();
    assert_eq!(
        std::mem::take(&mut h.net.sent),
        [0x82, 0x08, hi, lo, 0x00, 0x03, b'a', b'/', b'+', 0x02]
    );

    // The per-topic handler gets the filter's `len` bytes only.
    let mut log: Vec<(usize, String)> = Vec::new();
    let user = (&mut log as *mut Vec<(usize, String)>).cast();
    assert_eq!(
        unsafe {
            mqe_subscribe_cb_n(
                c,
                ptr::null(),
                1,
                0,
                Some(tagged_handler),
                user,
                ptr::null_mut(),
            )
        },
        MQE_ERR_NULL
    );
    assert_eq!(
        unsafe { mqe_subscribe_cb_n(c, b"h".as_ptr().cast(), 1, 0, None, user, ptr::null_mut()) },
        MQE_ERR_NULL
    );
    assert_eq!(
        unsafe {
            mqe_subscribe_cb_n(
                c,
                b"h/#xyz".as_ptr().cast(),
                3,
                0,
                Some(tagged_handler),
                user,
                &mut id,
            )
        },
        MQE_OK
    );
    h.poll_n(4);
    let [hi, lo] = id.to_be_bytes();
    assert_eq!(
        std::mem::take(&mut h.net.sent),
        [0x82, 0x08, hi, lo, 0x00, 0x03, b'h', b'/', b'#', 0x00]
    );
    h.net.inbound.extend([0x90, 0x03, hi, lo, 0x00]);
    h.net
        .inbound
        .extend([0x30, 0x06, 0x00, 0x03, b'h', b'/', b'x', b'!']);
    assert_eq!(h.poll(), MQE_OK);
    assert_eq!(log, [(1, "h/x".to_owned())]);
}

/// What `on_wedge_event` keeps of each event: kind, packet id, abandoned, qos, topic, size.
type WedgeEvent = (mqe_event_kind_t, u16, bool, u8, Option<Vec<u8>>, u32);

unsafe extern "C" fn on_wedge_event(user: *mut c_void, event: *const mqe_event_t) {
    let seen = unsafe { &mut *user.cast::<Vec<WedgeEvent>>() };
    let e = unsafe { &*event };
    let topic = (!e.topic.is_null())
        .then(|| unsafe { std::slice::from_raw_parts(e.topic.cast::<u8>(), e.topic_len) }.to_vec());
    seen.push((e.kind, e.packet_id, e.abandoned, e.qos, topic, e.size));
}

#[cfg(feature = "qos2")]
/// Issue 12 §3 through the C API: the options' defaults, an oversized PUBLISH reported with
/// MQE_EVENT_MESSAGE_TOO_LARGE and acknowledged, and a PUBREL left unanswered completed with
/// `abandoned` after `pubrel_max_connections` connections.
#[test]
fn nothing_wedges_the_client_through_the_c_api() {
    let o = mqe_options_default();
    assert_eq!((o.pubrel_max_connections, o.oversized_limit), (3, 65_536));

    let mut h = Harness::new("127.0.0.1");
    let o = mqe_options_t {
        pubrel_max_connections: 1,
        ..h.options()
    };
    let (t, p, c) = (h.transport(), h.platform(), h.c());
    assert_eq!(unsafe { mqe_init(c, &o, &t, &p) }, MQE_OK);
    h.connect();
    let mut seen: Box<Vec<WedgeEvent>> = Box::default();
    let user = (&mut *seen as *mut Vec<WedgeEvent>).cast();
    assert_eq!(
        unsafe { mqe_set_event_handler(c, Some(on_wedge_event), user) },
        MQE_OK
    );

    // QoS 1 "big" id 7 with 300 payload bytes: rx is 256.
    let mut big = vec![0x32, 0xB3, 0x02, 0x00, 0x03, b'b', b'i', b'g', 0x00, 0x07];
    big.resize(310, b'x');
    h.net.inbound.extend(&big);
    assert_eq!(h.poll_n(10), MQE_OK);
    assert_eq!(
        std::mem::take(&mut *seen),
        [(
            MQE_EVENT_MESSAGE_TOO_LARGE,
            7,
            false,
            1,
            Some(b"big".to_vec()),
            310
        )]
    );
    assert_eq!(std::mem::take(&mut h.net.sent), [0x40, 0x02, 0x00, 0x07]);
    assert_eq!(unsafe { mqe_oversized_count(c) }, 1);
    assert_eq!(unsafe { mqe_state(c) }, MQE_STATE_CONNECTED);

    // QoS 2 publish, PUBREC, PUBREL; the connection ends without PUBCOMP.
    let mut id = 0;
    let status = unsafe {
        mqe_publish(
            c,
            c"t".as_ptr(),
            b"x".as_ptr().cast(),
            1,
            MQE_QOS_2,
            false,
            &mut id,
        )
    };
    assert_eq!(status, MQE_OK);
    h.poll_n(3);
    let [hi, lo] = id.to_be_bytes();
    assert_eq!(
        std::mem::take(&mut h.net.sent),
        [0x34, 0x06, 0x00, 0x01, b't', hi, lo, b'x']
    );
    h.net.inbound.extend([0x50, 0x02, hi, lo]);
    h.poll_n(3);
    assert_eq!(std::mem::take(&mut h.net.sent), [0x62, 0x02, hi, lo]);
    h.net.peer_closed = true;
    assert_eq!(h.poll_n(3), MQE_ERR_CLOSED);
    assert_eq!(
        std::mem::take(&mut *seen),
        [
            (MQE_EVENT_DISCONNECTED, 0, false, 0, None, 0),
            (MQE_EVENT_PUBLISH_COMPLETE, id, true, 0, None, 0)
        ]
    );
}

/// `rx_qos2_manual_ack` defers a record of the session store: a build without it refuses.
#[test]
fn manual_ack_needs_the_store_feature() {
    let mut h = Harness::new("127.0.0.1");
    let c = h.c();
    let (o, t, p) = (h.options(), h.transport(), h.platform());
    assert!(!o.rx_qos2_manual_ack);
    let o = mqe_options_t {
        rx_qos2_manual_ack: true,
        ..o
    };
    let expected = if cfg!(feature = "store") {
        MQE_OK
    } else {
        MQE_ERR_UNSUPPORTED
    };
    assert_eq!(unsafe { mqe_init(c, &o, &t, &p) }, expected);
}
