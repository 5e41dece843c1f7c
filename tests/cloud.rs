//! Cloud profiles and the credentials callback through the C API, over a fake C transport and
//! clock: what each profile refuses (`MQE_ERR_UNSUPPORTED`, nothing sent), and the CONNECT
//! bytes carrying what the callback wrote, asked again after a refusal.
#![cfg(all(feature = "cloud-profiles", feature = "credentials-cb"))]

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_void, CString};
use std::ptr;

use mqtt_engine::ffi::*;

#[derive(Default)]
struct Net {
    inbound: Vec<u8>,
    sent: Vec<u8>,
    opened: i32,
}

unsafe fn net<'a>(ctx: *mut c_void) -> &'a mut Net {
    unsafe { &mut *ctx.cast::<Net>() }
}
unsafe extern "C" fn t_open(ctx: *mut c_void) -> i32 {
    let net = unsafe { net(ctx) };
    net.opened += 1;
    net.opened
}
unsafe extern "C" fn t_connect(_: *mut c_void, _: i32, _: *const mqe_sockaddr_t) -> i32 {
    0
}
unsafe extern "C" fn t_send(ctx: *mut c_void, _: i32, buf: *const u8, len: usize) -> i32 {
    let bytes = unsafe { std::slice::from_raw_parts(buf, len) };
    unsafe { net(ctx) }.sent.extend_from_slice(bytes);
    len as i32
}
unsafe extern "C" fn t_recv(ctx: *mut c_void, _: i32, buf: *mut u8, len: usize) -> i32 {
    let net = unsafe { net(ctx) };
    if net.inbound.is_empty() {
        return MQE_IO_WOULD_BLOCK;
    }
    let n = len.min(net.inbound.len());
    unsafe { std::slice::from_raw_parts_mut(buf, n) }.copy_from_slice(&net.inbound[..n]);
    net.inbound.drain(..n);
    n as i32
}
unsafe extern "C" fn t_close(_: *mut c_void, _: i32) {}
unsafe extern "C" fn p_now(ctx: *mut c_void) -> u32 {
    unsafe { &*ctx.cast::<Cell<u32>>() }.get()
}
/// A fixed "random": without one the jitter is seeded from the client's address, which ASLR
/// moves, and a backoff that draws 0 ms retries within the same poll, so a test that counts
/// attempts per poll would pass or fail by chance (about 1 run in 20).
unsafe extern "C" fn p_random(_: *mut c_void) -> u32 {
    0x2545_F491
}

/// A client with its buffers and fakes, boxed so the pointers it keeps stay put.
struct Rig {
    client: Box<mqe_client_t>,
    net: Box<Net>,
    clock: Box<Cell<u32>>,
    _bufs: Box<([u8; 512], [u8; 512], [u8; 1024])>,
    _strings: Vec<CString>,
}

fn options(bufs: &mut ([u8; 512], [u8; 512], [u8; 1024]), host: &CString) -> mqe_options_t {
    let mut opts = mqe_options_default();
    opts.host = host.as_ptr();
    opts.rx_buf = bufs.0.as_mut_ptr();
    opts.rx_buf_len = bufs.0.len();
    opts.tx_buf = bufs.1.as_mut_ptr();
    opts.tx_buf_len = bufs.1.len();
    opts.store_buf = bufs.2.as_mut_ptr();
    opts.store_buf_len = bufs.2.len();
    opts.reconnect_min_ms = 100;
    opts.reconnect_max_ms = 100;
    opts
}

/// `mqe_init` with the options `tune` leaves; the rig, or the status.
fn rig(tune: impl FnOnce(&mut mqe_options_t, &mut Vec<CString>)) -> Result<Rig, i32> {
    let mut bufs = Box::new(([0u8; 512], [0u8; 512], [0u8; 1024]));
    let mut strings = vec![CString::new("127.0.0.1").unwrap()];
    let mut opts = options(&mut bufs, &strings[0]);
    tune(&mut opts, &mut strings);
    let mut net = Box::<Net>::default();
    let clock = Box::new(Cell::new(1000u32));
    let transport = mqe_transport_t {
        ctx: ptr::addr_of_mut!(*net).cast(),
        open: Some(t_open),
        connect: Some(t_connect),
        send: Some(t_send),
        recv: Some(t_recv),
        close: Some(t_close),
        resolve: None,
    };
    let platform = mqe_platform_t {
        ctx: ptr::addr_of!(*clock).cast_mut().cast(),
        now_ms: Some(p_now),
        random: Some(p_random),
        delay_ms: None,
        log: None,
    };
    let mut client = Box::new(mqe_client_t::zeroed());
    let status = unsafe { mqe_init(&mut *client, &opts, &transport, &platform) };
    if status != MQE_OK {
        return Err(status);
    }
    Ok(Rig {
        client,
        net,
        clock,
        _bufs: bufs,
        _strings: strings,
    })
}

fn cloud_opts(cloud: u8) -> impl FnOnce(&mut mqe_options_t, &mut Vec<CString>) {
    move |o, _| assert_eq!(unsafe { mqe_options_for_cloud(cloud, o) }, MQE_OK)
}

fn publish(r: &mut Rig, topic: &str, len: usize, qos: u8, retain: bool) -> i32 {
    let topic = CString::new(topic).unwrap();
    let payload = vec![b'x'; len];
    unsafe {
        mqe_publish(
            &mut *r.client,
            topic.as_ptr(),
            payload.as_ptr().cast(),
            len,
            qos,
            retain,
            ptr::null_mut(),
        )
    }
}

fn subscribe(r: &mut Rig, filters: &[&str], qos: u8) -> i32 {
    let owned: Vec<CString> = filters.iter().map(|f| CString::new(*f).unwrap()).collect();
    let subs: Vec<mqe_subscription_t> = owned
        .iter()
        .map(|f| mqe_subscription_t {
            filter: f.as_ptr(),
            qos,
        })
        .collect();
    unsafe { mqe_subscribe_many(&mut *r.client, subs.as_ptr(), subs.len(), ptr::null_mut()) }
}

#[test]
fn options_for_cloud_sets_the_profile_and_clamps_keep_alive() {
    let mut o = mqe_options_default();
    assert_eq!(o.cloud, MQE_CLOUD_NONE);
    o.keep_alive_s = 10;
    assert_eq!(
        unsafe { mqe_options_for_cloud(MQE_CLOUD_ALIYUN, &mut o) },
        MQE_OK
    );
    assert_eq!((o.cloud, o.keep_alive_s), (MQE_CLOUD_ALIYUN, 30));
    o.keep_alive_s = 0;
    assert_eq!(
        unsafe { mqe_options_for_cloud(MQE_CLOUD_ALIYUN, &mut o) },
        MQE_OK
    );
    assert_eq!(o.keep_alive_s, 1200);
    o.keep_alive_s = 5000;
    assert_eq!(
        unsafe { mqe_options_for_cloud(MQE_CLOUD_AWS_IOT, &mut o) },
        MQE_OK
    );
    assert_eq!(o.keep_alive_s, 1200);
    assert_eq!(
        unsafe { mqe_options_for_cloud(MQE_CLOUD_TENCENT, &mut o) },
        MQE_OK
    );
    assert_eq!(o.keep_alive_s, 900);
    o.keep_alive_s = 60;
    assert_eq!(
        unsafe { mqe_options_for_cloud(MQE_CLOUD_THINGSBOARD, &mut o) },
        MQE_OK
    );
    assert_eq!(o.keep_alive_s, 60);
    assert_eq!(unsafe { mqe_options_for_cloud(7, &mut o) }, MQE_ERR_ARG);
    assert_eq!(
        unsafe { mqe_options_for_cloud(MQE_CLOUD_AWS_IOT, ptr::null_mut()) },
        MQE_ERR_NULL
    );
}

#[test]
fn init_refuses_options_the_cloud_refuses() {
    let will = |cloud: u8, retain: bool| {
        move |o: &mut mqe_options_t, s: &mut Vec<CString>| {
            assert_eq!(unsafe { mqe_options_for_cloud(cloud, o) }, MQE_OK);
            s.push(CString::new("dev/lost").unwrap());
            o.will_topic = s.last().unwrap().as_ptr();
            o.will_payload = b"x".as_ptr();
            o.will_payload_len = 1;
            o.will_qos = 1;
            o.will_retain = retain;
        }
    };
    assert_eq!(
        rig(will(MQE_CLOUD_ALIYUN, false)).err(),
        Some(MQE_ERR_UNSUPPORTED)
    );
    assert_eq!(
        rig(will(MQE_CLOUD_TENCENT, false)).err(),
        Some(MQE_ERR_UNSUPPORTED)
    );
    assert_eq!(
        rig(will(MQE_CLOUD_AZURE_IOT_HUB, true)).err(),
        Some(MQE_ERR_UNSUPPORTED)
    );
    assert!(rig(will(MQE_CLOUD_AZURE_IOT_HUB, false)).is_ok());
    assert!(rig(will(MQE_CLOUD_AWS_IOT, true)).is_ok());
    let client_id = |len: usize| {
        move |o: &mut mqe_options_t, s: &mut Vec<CString>| {
            assert_eq!(
                unsafe { mqe_options_for_cloud(MQE_CLOUD_AWS_IOT, o) },
                MQE_OK
            );
            s.push(CString::new("c".repeat(len)).unwrap());
            o.client_id = s.last().unwrap().as_ptr();
        }
    };
    assert!(rig(client_id(128)).is_ok());
    assert_eq!(rig(client_id(129)).err(), Some(MQE_ERR_UNSUPPORTED));
    // A keep-alive set out of range after the profile was applied.
    let keep_alive = |cloud: u8, s: u16| {
        move |o: &mut mqe_options_t, _: &mut Vec<CString>| {
            assert_eq!(unsafe { mqe_options_for_cloud(cloud, o) }, MQE_OK);
            o.keep_alive_s = s;
        }
    };
    assert_eq!(
        rig(keep_alive(MQE_CLOUD_TENCENT, 901)).err(),
        Some(MQE_ERR_UNSUPPORTED)
    );
    assert!(rig(keep_alive(MQE_CLOUD_TENCENT, 900)).is_ok());
    assert_eq!(
        rig(keep_alive(MQE_CLOUD_ALIYUN, 29)).err(),
        Some(MQE_ERR_UNSUPPORTED)
    );
    assert_eq!(
        rig(keep_alive(MQE_CLOUD_ALIYUN, 0)).err(),
        Some(MQE_ERR_UNSUPPORTED)
    );
    assert_eq!(rig(|o, _| o.cloud = 9).err(), Some(MQE_ERR_ARG));
}

#[test]
fn aws_limits_refuse_publishes_and_subscribes_without_sending() {
    let mut r = rig(cloud_opts(MQE_CLOUD_AWS_IOT)).unwrap();
    let topic_256 = format!("a/b/c/d/e/f/g/{}", "t".repeat(256 - 14));
    assert_eq!(topic_256.len(), 256);
    // QoS 1/2 are stored while disconnected, so OK means the profile let it through.
    assert_eq!(publish(&mut r, &topic_256, 10, 1, true), MQE_OK);
    assert_eq!(
        publish(&mut r, &format!("{topic_256}x"), 10, 1, false),
        MQE_ERR_UNSUPPORTED
    );
    assert_eq!(
        publish(&mut r, "a/b/c/d/e/f/g/h/i", 10, 1, false),
        MQE_ERR_UNSUPPORTED
    );
    // Basic Ingest's `$aws/rules/{rule}/` prefix is not counted: 7 slashes after it pass.
    let ingest = "$aws/rules/r1/a/b/c/d/e/f/g/h";
    assert_eq!(publish(&mut r, ingest, 10, 1, false), MQE_OK);
    let ingest_8 = "$aws/rules/r1/a/b/c/d/e/f/g/h/i";
    assert_eq!(publish(&mut r, ingest_8, 10, 1, false), MQE_ERR_UNSUPPORTED);
    // Elsewhere `$aws/...` counts like any topic.
    let shadow_8 = "$aws/things/t/shadow/name/s/update/x/y";
    assert_eq!(publish(&mut r, shadow_8, 10, 1, false), MQE_ERR_UNSUPPORTED);
    assert_eq!(publish(&mut r, "a/b", 10, 2, false), MQE_ERR_UNSUPPORTED);
    assert_eq!(publish(&mut r, "a/b", 10, 3, false), MQE_ERR_QOS);
    // Subscribe needs a connection: MQE_ERR_STATE means the profile passed it.
    let eight = ["a"; 8];
    assert_eq!(subscribe(&mut r, &eight, 1), MQE_ERR_STATE);
    assert_eq!(subscribe(&mut r, &["a"; 9], 1), MQE_ERR_UNSUPPORTED);
    assert_eq!(subscribe(&mut r, &["a/#"], 2), MQE_ERR_UNSUPPORTED);
    assert_eq!(
        subscribe(&mut r, &["a/b/c/d/e/f/g/h/#"], 1),
        MQE_ERR_UNSUPPORTED
    );
    let filter = CString::new("a/+/c/d/e/f/g/h/i").unwrap();
    let status = unsafe { mqe_subscribe(&mut *r.client, filter.as_ptr(), 0, ptr::null_mut()) };
    assert_eq!(status, MQE_ERR_UNSUPPORTED);
    assert!(r.net.sent.is_empty());
}

#[test]
fn each_profile_caps_qos_and_retain() {
    for (cloud, retain_ok) in [
        (MQE_CLOUD_AWS_IOT, true),
        (MQE_CLOUD_AZURE_IOT_HUB, false),
        (MQE_CLOUD_ALIYUN, false),
        (MQE_CLOUD_TENCENT, false),
        (MQE_CLOUD_ONENET, true),
        (MQE_CLOUD_THINGSBOARD, true),
    ] {
        let mut r = rig(cloud_opts(cloud)).unwrap();
        assert_eq!(
            publish(&mut r, "t", 1, 2, false),
            MQE_ERR_UNSUPPORTED,
            "cloud {cloud}"
        );
        assert_eq!(publish(&mut r, "t", 1, 1, false), MQE_OK, "cloud {cloud}");
        let retained = if retain_ok {
            MQE_OK
        } else {
            MQE_ERR_UNSUPPORTED
        };
        assert_eq!(publish(&mut r, "t", 1, 1, true), retained, "cloud {cloud}");
    }
    let mut r = rig(|_, _| {}).unwrap();
    assert_eq!(publish(&mut r, "t", 1, 2, true), MQE_OK);
    // Only AWS limits the levels: 301 (empty ones too) are plain MQTT without a profile and
    // with one that sets no slash limit (u8::MAX means none; it once capped them at 255).
    let deep = format!("{}z", "/".repeat(300));
    assert_eq!(publish(&mut r, &deep, 1, 1, false), MQE_OK);
    let mut onenet = rig(cloud_opts(MQE_CLOUD_ONENET)).unwrap();
    assert_eq!(publish(&mut onenet, &deep, 1, 1, false), MQE_OK);
    // Payload limits: AWS 128 KiB (the store refuses first here, so only the profile's side).
    let mut r = rig(cloud_opts(MQE_CLOUD_AWS_IOT)).unwrap();
    assert_eq!(
        publish(&mut r, "t", 128 * 1024 + 1, 1, false),
        MQE_ERR_UNSUPPORTED
    );
    assert_eq!(
        publish(&mut r, "t", 128 * 1024, 1, false),
        MQE_ERR_TOO_LARGE
    );
}

/// What the credentials callback was asked, and what it answers.
#[derive(Default)]
struct Creds {
    asked: RefCell<Vec<u8>>,
    answers: RefCell<Vec<(i32, &'static str, &'static str)>>,
}

unsafe extern "C" fn credentials(
    user: *mut c_void,
    refused: u8,
    username: *mut c_char,
    username_cap: usize,
    username_len: *mut usize,
    password: *mut u8,
    password_cap: usize,
    password_len: *mut usize,
) -> i32 {
    let creds = unsafe { &*user.cast::<Creds>() };
    creds.asked.borrow_mut().push(refused);
    let (status, u, p) = creds.answers.borrow_mut().remove(0);
    assert!(u.len() <= username_cap && p.len() <= password_cap);
    unsafe {
        ptr::copy_nonoverlapping(u.as_ptr(), username.cast::<u8>(), u.len());
        ptr::copy_nonoverlapping(p.as_ptr(), password, p.len());
        *username_len = u.len();
        *password_len = p.len();
    }
    status
}

/// The credentials callback on `r`, answering `answers` in order; the boxes hold what the client
/// keeps pointers to, so the test keeps them alive.
fn install_credentials(
    r: &mut Rig,
    answers: &[(i32, &'static str, &'static str)],
) -> (Box<Creds>, Box<[[u8; 64]; 2]>) {
    let creds = Box::new(Creds::default());
    creds.answers.borrow_mut().extend_from_slice(answers);
    let mut bufs = Box::new([[0u8; 64]; 2]);
    let [ubuf, pbuf] = &mut *bufs;
    let status = unsafe {
        mqe_set_credentials_handler(
            &mut *r.client,
            Some(credentials),
            ptr::addr_of!(*creds).cast_mut().cast(),
            ubuf.as_mut_ptr().cast(),
            ubuf.len(),
            pbuf.as_mut_ptr(),
            pbuf.len(),
        )
    };
    assert_eq!(status, MQE_OK);
    (creds, bufs)
}

/// The rig's CONNECT with these credentials (MQTT 3.1.1 §3.1): "MQTT" level 4, flags username +
/// password + clean session (0xC2), keep-alive 60 s, an empty client identifier, then the fields.
fn connect_with(user: &str, pass: &str) -> Vec<u8> {
    let fields = credential_fields(user, pass);
    let mut v = vec![0x10, (12 + fields.len()) as u8];
    v.extend_from_slice(&[0, 4, b'M', b'Q', b'T', b'T', 4, 0xC2, 0, 60, 0, 0]);
    v.extend(fields);
    v
}

/// CONNECT's tail: username and password fields, length-prefixed.
fn credential_fields(user: &str, pass: &str) -> Vec<u8> {
    let mut v = (user.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(user.as_bytes());
    v.extend_from_slice(&(pass.len() as u16).to_be_bytes());
    v.extend_from_slice(pass.as_bytes());
    v
}

fn poll(r: &mut Rig, times: usize) {
    for _ in 0..times {
        unsafe { mqe_poll(&mut *r.client) };
    }
}

#[test]
fn credentials_callback_fills_every_connect_and_is_asked_again_after_a_refusal() {
    let mut r = rig(|o, s| {
        s.push(CString::new("static-user").unwrap());
        o.username = s.last().unwrap().as_ptr();
    })
    .unwrap();
    let (creds, _bufs) = install_credentials(
        &mut r,
        &[(MQE_OK, "user1", "stale"), (MQE_OK, "user1", "fresh")],
    );
    assert_eq!(unsafe { mqe_connect(&mut *r.client) }, MQE_OK);
    poll(&mut r, 3);
    assert_eq!(*creds.asked.borrow(), [0]);
    // The callback's username replaces the static one.
    assert_eq!(r.net.sent, connect_with("user1", "stale"));
    // CONNACK 4: bad credentials. The next attempt asks again, telling why.
    r.net.sent.clear();
    r.net.inbound.extend([0x20, 0x02, 0x00, 0x04]);
    poll(&mut r, 3);
    r.clock.set(r.clock.get() + 200);
    poll(&mut r, 3);
    assert_eq!(*creds.asked.borrow(), [0, 4]);
    assert_eq!(r.net.sent, connect_with("user1", "fresh"));
    r.net.inbound.extend([0x20, 0x02, 0x00, 0x00]);
    poll(&mut r, 3);
    assert_eq!(unsafe { mqe_state(&*r.client) }, MQE_STATE_CONNECTED);
}

#[test]
fn a_failing_callback_ends_the_attempt_before_connect() {
    let mut r = rig(|_, _| {}).unwrap();
    let (creds, _bufs) =
        install_credentials(&mut r, &[(MQE_ERR_CLOCK_UNSET, "", ""), (MQE_OK, "u", "")]);
    assert_eq!(unsafe { mqe_connect(&mut *r.client) }, MQE_OK);
    let ended = unsafe { mqe_poll(&mut *r.client) };
    assert_eq!(ended, MQE_ERR_NO_CREDENTIALS);
    // The backoff's full jitter may start the next attempt in the same poll, or later.
    r.clock.set(r.clock.get() + 200);
    poll(&mut r, 3);
    assert_eq!(*creds.asked.borrow(), [0, 0]);
    // One CONNECT for the two attempts: the refused one sent nothing. A username alone: the
    // password flag stays clear.
    let connect = [
        0x10, 15, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x82, 0, 60, 0, 0, 0, 1, b'u',
    ];
    assert_eq!(r.net.sent, connect);
}

#[test]
fn credentials_handler_checks_its_buffers() {
    let mut r = rig(|_, _| {}).unwrap();
    let mut buf = [0u8; 8];
    let set = |c: &mut mqe_client_t, u: *mut c_char, ucap: usize, p: *mut u8, pcap: usize| unsafe {
        mqe_set_credentials_handler(c, Some(credentials), ptr::null_mut(), u, ucap, p, pcap)
    };
    assert_eq!(
        set(&mut r.client, ptr::null_mut(), 8, ptr::null_mut(), 0),
        MQE_ERR_BUFFER
    );
    assert_eq!(
        set(
            &mut r.client,
            buf.as_mut_ptr().cast(),
            0,
            ptr::null_mut(),
            0
        ),
        MQE_ERR_BUFFER
    );
    assert_eq!(
        set(
            &mut r.client,
            buf.as_mut_ptr().cast(),
            8,
            ptr::null_mut(),
            4
        ),
        MQE_ERR_BUFFER
    );
    assert_eq!(
        set(
            &mut r.client,
            buf.as_mut_ptr().cast(),
            8,
            ptr::null_mut(),
            0
        ),
        MQE_OK
    );
    let off = unsafe {
        mqe_set_credentials_handler(
            &mut *r.client,
            None,
            ptr::null_mut(),
            ptr::null_mut(),
            0,
            ptr::null_mut(),
            0,
        )
    };
    assert_eq!(off, MQE_OK);
    let null = unsafe {
        mqe_set_credentials_handler(
            ptr::null_mut(),
            None,
            ptr::null_mut(),
            ptr::null_mut(),
            0,
            ptr::null_mut(),
            0,
        )
    };
    assert_eq!(null, MQE_ERR_NULL);
}

/// With the `link` rule that stops reconnecting after `auth_retry_limit` refusals: a callback
/// renews the credentials each time, so refusals never stop it.
#[cfg(feature = "link")]
#[test]
fn refusals_do_not_stop_reconnect_while_a_callback_renews_credentials() {
    let mut r = rig(|o, _| o.auth_retry_limit = 2).unwrap();
    let (creds, _bufs) = install_credentials(&mut r, &[(MQE_OK, "u", "p"); 6]);
    assert_eq!(unsafe { mqe_connect(&mut *r.client) }, MQE_OK);
    for _ in 0..5 {
        poll(&mut r, 3);
        r.net.inbound.extend([0x20, 0x02, 0x00, 0x05]);
        poll(&mut r, 3);
        r.clock.set(r.clock.get() + 70_000);
    }
    poll(&mut r, 3);
    assert_eq!(*creds.asked.borrow(), [0, 5, 5, 5, 5, 5]);
    assert_eq!(unsafe { mqe_state(&*r.client) }, MQE_STATE_CONNECTING);
}
