//! The C API target: arbitrary call sequences with arbitrary arguments through the exported
//! `mqe_` functions, over a fake C transport whose broker side the input scripts.
//!
//! The transport and the handlers run inside library calls, where a panic cannot unwind, so
//! they only record; every check runs in `settle` after the call has returned.

use std::collections::VecDeque;
use std::ffi::{c_char, c_void, CStr};
use std::ptr;

use mqtt_engine::ffi::*;

use super::engine::{crafted_broker_packet, FILTERS, TOPICS};
use super::input::Input;
use super::wire_log::{broker_reply, Ledger, WireLog};

const MAX_OPS: usize = 300;
const DRAIN_ROUNDS: usize = 2000;

pub mod op {
    pub const INIT: u8 = 0;
    pub const CONNECT: u8 = 1;
    pub const DISCONNECT: u8 = 2;
    pub const PUBLISH: u8 = 3;
    pub const SUBSCRIBE: u8 = 4;
    pub const UNSUBSCRIBE: u8 = 5;
    pub const POLL: u8 = 6;
    pub const TIME: u8 = 7;
    pub const RAW_BYTES: u8 = 8;
    pub const BROKER_PACKET: u8 = 9;
    pub const NET: u8 = 10;
    pub const QUERIES: u8 = 11;
    pub const HANDLERS: u8 = 12;
    pub const GOOD_BROKER: u8 = 13;
    pub const NULL_CLIENT: u8 = 14;
    pub const COUNT: u8 = 15;
}

/// What happened inside a library call, in order; checked after it returns.
#[derive(Debug)]
enum Record {
    Opened,
    Sent(Vec<u8>),
    Accepted(u16, String, Vec<u8>, u8, bool),
    Completed(u16),
    Violation(String),
}

#[derive(Default)]
struct World {
    client: *mut mqe_client_t,
    now: u32,
    inbound: VecDeque<u8>,
    next_sock: i32,
    open_sock: Option<i32>,
    open_fails: bool,
    /// 0 done, 1 would block, 2 error.
    connect_mode: u8,
    /// Bytes accepted per send; 0 = would block.
    send_limit: usize,
    send_fails: bool,
    /// 0 data, 1 would block, 2 error, 3 peer closed.
    recv_mode: u8,
    recv_chunk: usize,
    good_broker: bool,
    session_present: bool,
    /// The message handler publishes from inside the callback.
    reentrant: bool,
    records: Vec<Record>,
    wire: WireLog,
    ledger: Ledger,
    /// Strings and buffers lent to the client: alive until the client is gone.
    kept: Vec<Box<[u8]>>,
    /// Initialised with a broker address the drain can reach.
    reachable: bool,
}

/// # Safety
/// `ctx` is the `World` of the running input; no `&mut World` is alive across library calls.
unsafe fn world<'a>(ctx: *mut c_void) -> &'a mut World {
    // SAFETY: forwarded contract.
    unsafe { &mut *ctx.cast::<World>() }
}

unsafe extern "C" fn t_open(ctx: *mut c_void) -> i32 {
    // SAFETY: ctx is this run's World, alive for the run; no other &mut World is alive now.
    let w = unsafe { world(ctx) };
    if w.open_fails {
        return -1;
    }
    if w.open_sock.is_some() {
        w.records
            .push(Record::Violation("open with a socket still open".into()));
    }
    w.next_sock += 1;
    w.open_sock = Some(w.next_sock);
    w.inbound.clear();
    w.records.push(Record::Opened);
    w.next_sock
}

fn check_sock(w: &mut World, sock: i32, what: &str) -> bool {
    if w.open_sock == Some(sock) {
        return true;
    }
    w.records.push(Record::Violation(format!(
        "{what} on socket {sock}, not the open one"
    )));
    false
}

unsafe extern "C" fn t_connect(ctx: *mut c_void, sock: i32, addr: *const mqe_sockaddr_t) -> i32 {
    // SAFETY: ctx is this run's World, alive for the run; no other &mut World is alive now.
    let w = unsafe { world(ctx) };
    if !check_sock(w, sock, "connect") || addr.is_null() {
        return -1;
    }
    match w.connect_mode {
        0 => 0,
        1 => MQE_IO_WOULD_BLOCK,
        _ => -1,
    }
}

unsafe extern "C" fn t_send(ctx: *mut c_void, sock: i32, buf: *const u8, len: usize) -> i32 {
    // SAFETY: ctx is this run's World, alive for the run; no other &mut World is alive now.
    let w = unsafe { world(ctx) };
    if !check_sock(w, sock, "send") {
        return -1;
    }
    if w.send_fails {
        return -1;
    }
    if w.send_limit == 0 || len == 0 {
        return MQE_IO_WOULD_BLOCK;
    }
    let n = len.min(w.send_limit);
    // SAFETY: the library lends `len` readable bytes for the call.
    let bytes = unsafe { std::slice::from_raw_parts(buf, n) };
    w.records.push(Record::Sent(bytes.to_vec()));
    n as i32
}

unsafe extern "C" fn t_recv(ctx: *mut c_void, sock: i32, buf: *mut u8, len: usize) -> i32 {
    // SAFETY: ctx is this run's World, alive for the run; no other &mut World is alive now.
    let w = unsafe { world(ctx) };
    if !check_sock(w, sock, "recv") {
        return -1;
    }
    match w.recv_mode {
        1 => return MQE_IO_WOULD_BLOCK,
        2 => return -1,
        3 => return 0,
        _ => {}
    }
    if w.inbound.is_empty() {
        return MQE_IO_WOULD_BLOCK;
    }
    let n = len.min(w.inbound.len()).min(w.recv_chunk.max(1));
    // SAFETY: the library lends `len` writable bytes for the call.
    let out = unsafe { std::slice::from_raw_parts_mut(buf, n) };
    for (slot, byte) in out.iter_mut().zip(w.inbound.drain(..n)) {
        *slot = byte;
    }
    n as i32
}

unsafe extern "C" fn t_close(ctx: *mut c_void, sock: i32) {
    // SAFETY: ctx is this run's World, alive for the run; no other &mut World is alive now.
    let w = unsafe { world(ctx) };
    if check_sock(w, sock, "close") {
        w.open_sock = None;
    }
}

unsafe extern "C" fn t_resolve(
    ctx: *mut c_void,
    host: *const c_char,
    out: *mut mqe_sockaddr_t,
) -> i32 {
    let _ = ctx;
    // SAFETY: the library passes a NUL-terminated host and a writable address.
    let host = unsafe { CStr::from_ptr(host) };
    if host.to_bytes() == b"nowhere.invalid" {
        return -1;
    }
    // SAFETY: the library lends this memory, valid for the duration of the call.
    unsafe {
        (*out).family = 4;
        (*out).addr = [127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    }
    0
}

unsafe extern "C" fn p_now(ctx: *mut c_void) -> u32 {
    // SAFETY: ctx is this run's World, alive for the run; no other &mut World is alive now.
    unsafe { world(ctx) }.now
}

unsafe extern "C" fn on_event(user: *mut c_void, event: *const mqe_event_t) {
    // SAFETY: ctx is this run's World, alive for the run; no other &mut World is alive now.
    let w = unsafe { world(user) };
    // SAFETY: valid for the callback.
    let e = unsafe { &*event };
    match e.kind {
        MQE_EVENT_PUBLISH_COMPLETE => w.records.push(Record::Completed(e.packet_id)),
        MQE_EVENT_SUBSCRIBED => {
            if e.granted_count == 0 || e.granted.is_null() {
                w.records
                    .push(Record::Violation("SUBSCRIBED without codes".into()));
            } else {
                // SAFETY: the library lends granted_count codes for the callback.
                let codes = unsafe { std::slice::from_raw_parts(e.granted, e.granted_count) };
                if !codes.iter().all(|c| matches!(c, 0 | 1 | 2 | 0x80)) {
                    w.records
                        .push(Record::Violation(format!("granted {codes:?}")));
                }
            }
        }
        1..=10 => {}
        other => w
            .records
            .push(Record::Violation(format!("event kind {other}"))),
    }
}

unsafe extern "C" fn on_message(user: *mut c_void, msg: *const mqe_message_t) {
    // SAFETY: ctx is this run's World, alive for the run; no other &mut World is alive now.
    let w = unsafe { world(user) };
    // SAFETY: valid for the callback, with topic_len and payload_len readable bytes.
    let m = unsafe { &*msg };
    // SAFETY: the library lends this memory, valid for the duration of the call.
    let topic = unsafe { std::slice::from_raw_parts(m.topic.cast::<u8>(), m.topic_len) };
    let payload = if m.payload_len == 0 {
        &[][..]
    } else {
        // SAFETY: the library lends this memory, valid for the duration of the call.
        unsafe { std::slice::from_raw_parts(m.payload, m.payload_len) }
    };
    let _checksum: u32 = payload.iter().map(|&b| u32::from(b)).sum();
    match std::str::from_utf8(topic) {
        Ok(t) if !t.is_empty() && !t.contains(['+', '#', '\0']) && m.qos <= 2 => {}
        _ => w.records.push(Record::Violation(format!(
            "message topic {topic:02X?} qos {}",
            m.qos
        ))),
    }
    if w.reentrant {
        let client = w.client;
        // No `&mut World` is used across these calls.
        // SAFETY: the client storage and every pointer passed are owned by this run and outlive the call.
        let poll = unsafe { mqe_poll(client) };
        // SAFETY: ctx is this run's World, alive for the run; no other &mut World is alive now.
        let w = unsafe { world(user) };
        if poll != MQE_ERR_REENTRANT {
            w.records.push(Record::Violation(format!(
                "mqe_poll from a callback: {poll}"
            )));
        }
        let mut id = 0u16;
        // SAFETY: the client storage and every pointer passed are owned by this run and outlive the call.
        let status = unsafe {
            mqe_publish(
                client,
                c"re/t".as_ptr(),
                payload.as_ptr().cast(),
                payload.len(),
                1,
                false,
                &mut id,
            )
        };
        // SAFETY: ctx is this run's World, alive for the run; no other &mut World is alive now.
        let w = unsafe { world(user) };
        if status == MQE_OK {
            w.records.push(Record::Accepted(
                id,
                "re/t".into(),
                payload.to_vec(),
                1,
                false,
            ));
        }
    }
}

fn known_status(status: i32) -> bool {
    // SAFETY: the library lends this memory, valid for the duration of the call.
    let text = unsafe { CStr::from_ptr(mqe_strerror(status)) };
    text.to_bytes() != b"unknown status"
}

struct Run {
    w: *mut World,
    client: *mut mqe_client_t,
}

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let mut client = Box::new(mqe_client_t::zeroed());
    let mut world = Box::new(World {
        send_limit: 1500,
        recv_chunk: 1500,
        now: input.u32(),
        ..World::default()
    });
    world.client = &mut *client;
    let mut run = Run {
        w: &mut *world,
        client: &mut *client,
    };
    for _ in 0..MAX_OPS {
        if input.is_empty() {
            break;
        }
        run.step(&mut input);
        run.settle();
    }
    run.drain_everything();
    // The client goes before the buffers and strings it borrowed.
    drop(client);
    drop(world);
}

impl Run {
    fn w(&mut self) -> &mut World {
        // SAFETY: no other reference to the world is alive outside library calls.
        unsafe { &mut *self.w }
    }

    fn ctx(&self) -> *mut c_void {
        self.w.cast()
    }

    /// A string or buffer lent to the client for its lifetime.
    fn keep(&mut self, bytes: &[u8]) -> *mut u8 {
        let mut boxed: Box<[u8]> = bytes.into();
        let p = boxed.as_mut_ptr();
        self.w().kept.push(boxed);
        p
    }

    fn keep_str(&mut self, input: &mut Input, choices: &[&[u8]]) -> *const c_char {
        match input.u8() % (choices.len() as u8 + 1) {
            0 => ptr::null(),
            i => {
                let mut s = choices[usize::from(i - 1)].to_vec();
                s.push(0);
                self.keep(&s).cast_const().cast()
            }
        }
    }

    fn step(&mut self, input: &mut Input) {
        let op = input.u8() % op::COUNT;
        if super::trace_on() {
            eprintln!("op {op} at {}", self.w().now);
        }
        match op {
            op::INIT => self.init(input),
            // SAFETY: the client storage and every pointer passed are owned by this run and outlive the call.
            op::CONNECT => self.expect_known(unsafe { mqe_connect(self.client) }),
            // SAFETY: the client storage and every pointer passed are owned by this run and outlive the call.
            op::DISCONNECT => self.expect_known(unsafe { mqe_disconnect(self.client) }),
            op::PUBLISH => self.publish(input),
            op::SUBSCRIBE => self.subscribe(input),
            op::UNSUBSCRIBE => {
                let filter = topic_arg(input, &FILTERS);
                let mut id = 0u16;
                // SAFETY: the client storage and every pointer passed are owned by this run and outlive the call.
                let status = unsafe { mqe_unsubscribe(self.client, cptr(&filter), &mut id) };
                self.expect_known(status);
            }
            op::POLL => {
                for _ in 0..1 + input.u8() % 8 {
                    // SAFETY: the client storage and every pointer passed are owned by this run and outlive the call.
                    let status = unsafe { mqe_poll(self.client) };
                    self.expect_known(status);
                    self.settle();
                }
            }
            op::TIME => {
                let now = self.w().now;
                self.w().now = match input.u8() % 4 {
                    0 => now.wrapping_add(u32::from(input.u8())),
                    1 => now.wrapping_add(u32::from(input.u16()) * 16),
                    2 => now.wrapping_add(input.u32()),
                    _ => u32::MAX - u32::from(input.u8()),
                };
            }
            op::RAW_BYTES => {
                let bytes = input.blob(64).to_vec();
                self.w().inbound.extend(bytes);
            }
            op::BROKER_PACKET => {
                let bytes = self.broker_packet(input);
                self.w().inbound.extend(bytes);
            }
            op::NET => {
                let w = self.w();
                w.open_fails = input.u8().is_multiple_of(8);
                w.connect_mode = input.u8() % 4 % 3;
                w.send_limit = usize::from(input.u8() % 40) * 8;
                w.send_fails = input.u8().is_multiple_of(16);
                w.recv_mode = input.u8() % 6 % 4;
                w.recv_chunk = 1 + usize::from(input.u8());
            }
            op::QUERIES => {
                let c = self.client;
                // SAFETY: the client storage and every pointer passed are owned by this run and outlive the call.
                let state = unsafe { mqe_state(c) };
                assert!(
                    (MQE_STATE_DISCONNECTED..=MQE_STATE_RECONNECTING).contains(&state)
                        || state == MQE_ERR_NOT_INIT,
                    "state {state}"
                );
                // SAFETY: the client storage and every pointer passed are owned by this run and outlive the call.
                let sta = unsafe { mqe_mqttsta(c) };
                assert!((-1..=2).contains(&sta), "mqttsta {sta}");
                // SAFETY: the client storage and every pointer passed are owned by this run and outlive the call.
                let _ = unsafe { mqe_next_deadline_ms(c) };
                let any = input.u32() as i32;
                // SAFETY: the library lends this memory, valid for the duration of the call.
                let text = unsafe { CStr::from_ptr(mqe_strerror(any)) };
                assert!(!text.to_bytes().is_empty());
                // SAFETY: the library lends this memory, valid for the duration of the call.
                let version = unsafe { CStr::from_ptr(mqe_version()) };
                assert!(!version.to_bytes().is_empty());
            }
            op::HANDLERS => {
                let message = input.bool().then_some(on_message as _);
                self.w().reentrant = input.bool();
                // SAFETY: the client storage and every pointer passed are owned by this run and outlive the call.
                let status = unsafe { mqe_set_message_handler(self.client, message, self.ctx()) };
                self.expect_known(status);
            }
            op::GOOD_BROKER => {
                let w = self.w();
                w.good_broker = input.bool();
                w.session_present = input.bool();
            }
            _ => self.null_client_calls(),
        }
    }

    fn expect_known(&mut self, status: mqe_status_t) {
        if super::trace_on() {
            eprintln!("  -> {status}");
        }
        assert!(known_status(status), "unknown status {status}");
    }

    fn init(&mut self, input: &mut Input) {
        let mut opts = mqe_options_default();
        let host_choice = input.u8() % 7;
        opts.host = match host_choice {
            0 => ptr::null(),
            1 | 2 => self.keep(b"127.0.0.1\0").cast_const().cast(),
            3 => self.keep(b"broker.example\0").cast_const().cast(),
            4 => self.keep(b"nowhere.invalid\0").cast_const().cast(),
            5 => self.keep(b"\0").cast_const().cast(),
            _ => self.keep(b"\xff\0").cast_const().cast(),
        };
        opts.port = input.u16();
        opts.client_id = self.keep_str(
            input,
            &[b"c1", b"", b"\xc3(", b"a-client-id-longer-than-23-bytes"],
        );
        opts.username = self.keep_str(input, &[b"user"]);
        if input.bool() {
            opts.password = self.keep(b"pw");
            opts.password_len = 2;
        }
        opts.keep_alive_s = u16::from(input.u8());
        opts.clean_session = input.bool();
        opts.will_topic = self.keep_str(input, &[b"w/t", b"w/+"]);
        if input.bool() {
            let payload = input.blob(16).to_vec();
            opts.will_payload = self.keep(&payload);
            opts.will_payload_len = payload.len();
        }
        opts.will_qos = input.u8() % 4;
        opts.will_retain = input.bool();
        let sizes = [0usize, 63, 64, 100, 512, 2048];
        let rx_len = input.pick(&sizes);
        let tx_len = input.pick(&sizes);
        let store_len = input.pick(&[0usize, 50, 600, 4096]);
        let layout = input.u8() % 8;
        opts.rx_buf = if layout == 1 {
            ptr::null_mut()
        } else {
            self.keep(&vec![0; rx_len])
        };
        opts.rx_buf_len = rx_len;
        opts.tx_buf = match layout {
            2 => ptr::null_mut(),
            3 => opts.rx_buf, // overlapping buffers
            _ => self.keep(&vec![0; tx_len]),
        };
        opts.tx_buf_len = tx_len;
        opts.store_buf = if layout == 4 {
            ptr::null_mut()
        } else {
            self.keep(&vec![0; store_len])
        };
        opts.store_buf_len = store_len;
        opts.connect_timeout_ms = u32::from(input.u16());
        opts.ack_timeout_ms = u32::from(input.u16());
        opts.ping_timeout_ms = u32::from(input.u8()) * 100;
        opts.reconnect = input.bool();
        opts.reconnect_min_ms = u32::from(input.u16());
        opts.reconnect_max_ms = u32::from(input.u16());
        opts.inflight_window = u16::from(input.u8() % 12);
        let ctx = self.ctx();
        let transport = mqe_transport_t {
            ctx,
            open: Some(t_open),
            connect: Some(t_connect),
            send: Some(t_send),
            recv: Some(t_recv),
            close: if layout == 5 { None } else { Some(t_close) },
            resolve: input.bool().then_some(t_resolve as _),
        };
        // The drain needs a broker it can reach: an IP literal, or a name the resolver knows.
        let reachable =
            matches!(host_choice, 1 | 2) || (host_choice == 3 && transport.resolve.is_some());
        let platform = mqe_platform_t {
            ctx,
            now_ms: if layout == 6 { None } else { Some(p_now) },
            random: None,
            delay_ms: None,
            log: None,
        };
        // SAFETY: the client storage and every pointer passed are owned by this run and outlive the call.
        let status = unsafe { mqe_init(self.client, &opts, &transport, &platform) };
        self.expect_known(status);
        if status == MQE_OK {
            // A new client: its stored messages are dropped (documented).
            self.w().ledger.clear();
            self.w().reachable = reachable;
            // SAFETY: the client storage and every pointer passed are owned by this run and outlive the call.
            let status = unsafe { mqe_set_event_handler(self.client, Some(on_event), ctx) };
            assert_eq!(status, MQE_OK);
        }
    }

    fn publish(&mut self, input: &mut Input) {
        let topic = topic_arg(input, &TOPICS);
        let len = usize::from(input.u16()) % 3000;
        let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let payload_ptr = if input.u8().is_multiple_of(16) {
            ptr::null()
        } else {
            payload.as_ptr()
        };
        let qos = input.pick(&[0u8, 1, 2, 1, 2, 3, 0xFF]);
        let retain = input.bool();
        let mut id = 0xFFFFu16;
        // The id of an accepted QoS 1/2 message is always asked for: the ledger follows it.
        let null_id = input.u8().is_multiple_of(8) && !matches!(qos, 1 | 2);
        let id_ptr: *mut u16 = if null_id { ptr::null_mut() } else { &mut id };
        // SAFETY: the client storage and every pointer passed are owned by this run and outlive the call.
        let status = unsafe {
            mqe_publish(
                self.client,
                cptr(&topic),
                payload_ptr.cast(),
                len,
                qos,
                retain,
                id_ptr,
            )
        };
        self.expect_known(status);
        if status == MQE_OK && qos > 0 {
            let topic = std::str::from_utf8(topic.as_deref().unwrap_or_default())
                .expect("an accepted topic is UTF-8")
                .trim_end_matches('\0')
                .to_string();
            self.w()
                .records
                .push(Record::Accepted(id, topic, payload, qos, retain));
        }
    }

    fn subscribe(&mut self, input: &mut Input) {
        let count = usize::from(input.u8() % 5);
        let filters: Vec<Option<Vec<u8>>> =
            (0..count).map(|_| topic_arg(input, &FILTERS)).collect();
        let subs: Vec<mqe_subscription_t> = filters
            .iter()
            .map(|f| mqe_subscription_t {
                filter: cptr(f),
                qos: input.pick(&[0u8, 1, 2, 3]),
            })
            .collect();
        let subs_ptr = if input.u8().is_multiple_of(16) {
            ptr::null()
        } else {
            subs.as_ptr()
        };
        let mut id = 0u16;
        // SAFETY: the client storage and every pointer passed are owned by this run and outlive the call.
        let status = unsafe { mqe_subscribe_many(self.client, subs_ptr, count, &mut id) };
        self.expect_known(status);
    }

    fn null_client_calls(&mut self) {
        let null = ptr::null_mut();
        // SAFETY: the client storage and every pointer passed are owned by this run and outlive the call.
        unsafe {
            assert_eq!(mqe_connect(null), MQE_ERR_NULL);
            assert_eq!(mqe_disconnect(null), MQE_ERR_NULL);
            assert_eq!(mqe_poll(null), MQE_ERR_NULL);
            assert_eq!(mqe_state(null), MQE_ERR_NULL);
            assert_eq!(mqe_mqttsta(null), -1);
            assert_eq!(mqe_next_deadline_ms(null), u32::MAX);
            assert_eq!(
                mqe_publish(null, c"t".as_ptr(), ptr::null(), 0, 0, false, null.cast()),
                MQE_ERR_NULL
            );
            assert_eq!(
                mqe_subscribe(null, c"t".as_ptr(), 0, null.cast()),
                MQE_ERR_NULL
            );
            assert_eq!(
                mqe_unsubscribe(null, c"t".as_ptr(), null.cast()),
                MQE_ERR_NULL
            );
            assert_eq!(mqe_set_event_handler(null, None, null.cast()), MQE_ERR_NULL);
        }
    }

    fn broker_packet(&mut self, input: &mut Input) -> Vec<u8> {
        let ids = self.w().ledger.ids();
        let id = match input.u8() % 3 {
            0 if !ids.is_empty() => ids[usize::from(input.u8()) % ids.len()],
            _ => input.u16(),
        };
        crafted_broker_packet(input, id, false)
    }

    /// Checks what happened during the last calls, in order; the good broker answers.
    fn settle(&mut self) {
        let records = std::mem::take(&mut self.w().records);
        for record in records {
            if super::trace_on() {
                eprintln!("  {record:?}");
            }
            let w = self.w();
            match record {
                Record::Opened => {
                    w.wire.new_connection();
                    w.ledger.new_connection();
                }
                Record::Sent(bytes) => {
                    for packet in w.wire.feed(&bytes) {
                        w.ledger.on_sent(&packet);
                    }
                }
                Record::Accepted(id, topic, payload, qos, retain) => {
                    w.ledger.accept(id, &topic, &payload, qos, retain)
                }
                Record::Completed(id) => w.ledger.complete(id),
                Record::Violation(why) => panic!("{why}"),
            }
        }
        let w = self.w();
        if w.good_broker {
            let answers: Vec<u8> = std::mem::take(&mut w.wire.unanswered)
                .iter()
                .flat_map(|p| broker_reply(p, w.session_present))
                .collect();
            w.inbound.extend(answers);
        }
    }

    /// A well-behaved network and broker from here on: every accepted message completes.
    fn drain_everything(&mut self) {
        if !self.w().reachable || self.w().ledger.is_empty() {
            return;
        }
        let w = self.w();
        w.good_broker = true;
        w.session_present = true;
        w.open_fails = false;
        w.connect_mode = 0;
        w.send_limit = 1500;
        w.send_fails = false;
        w.recv_chunk = 1500;
        w.reentrant = false;
        // End the current connection (its stream may hold garbage): the peer closes.
        w.recv_mode = 3;
        for _ in 0..10 {
            if self.between_connections() {
                break;
            }
            // SAFETY: the client storage is owned by this run and outlives the call.
            let status = unsafe { mqe_poll(self.client) };
            self.expect_known(status);
            self.settle();
        }
        let w = self.w();
        w.recv_mode = 0;
        w.inbound.clear();
        w.wire.unanswered.clear();
        for _ in 0..DRAIN_ROUNDS {
            if self.w().ledger.is_empty() {
                break;
            }
            if self.between_connections() {
                // Connect now (a reconnect wait is skipped).
                // SAFETY: the client storage is owned by this run and outlives the call.
                let status = unsafe { mqe_connect(self.client) };
                self.expect_known(status);
            }
            // SAFETY: the client storage is owned by this run and outlives the call.
            let status = unsafe { mqe_poll(self.client) };
            self.expect_known(status);
            self.settle();
            // Time moves only between connections: within one, no timeout can fire, however
            // short the options made it.
            if self.between_connections() {
                self.w().now = self.w().now.wrapping_add(1);
            }
        }
        assert!(
            self.w().ledger.is_empty(),
            "accepted messages never completed: {:?}",
            self.w().ledger.ids()
        );
    }

    /// Disconnected, or waiting to reconnect.
    fn between_connections(&mut self) -> bool {
        // SAFETY: the client storage is owned by this run and outlives the call.
        let state = unsafe { mqe_state(self.client) };
        if super::trace_on() {
            eprintln!("drain: state {state}");
        }
        state == MQE_STATE_DISCONNECTED || state == MQE_STATE_RECONNECTING
    }
}

/// A topic or filter argument: one of `choices`, arbitrary bytes, or NULL (None).
fn topic_arg(input: &mut Input, choices: &[&str]) -> Option<Vec<u8>> {
    let mut bytes = match input.u8() % 8 {
        0 => return None,
        1 | 2 => input.blob(20).to_vec(),
        3 => vec![b'a'; 65_536 + usize::from(input.u8())],
        _ => input.pick(choices).as_bytes().to_vec(),
    };
    // Bytes after an embedded NUL are never read.
    if let Some(nul) = bytes.iter().position(|&b| b == 0) {
        bytes.truncate(nul);
    }
    bytes.push(0);
    Some(bytes)
}

fn cptr(s: &Option<Vec<u8>>) -> *const c_char {
    s.as_ref().map_or(ptr::null(), |v| v.as_ptr().cast())
}
