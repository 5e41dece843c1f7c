//! The credential signers through their C functions: each against the vendor's published
//! example where there is one, against an independent implementation (tests/cloud/sign_ref.py:
//! Python's hmac, hashlib, base64 and urllib) on random inputs, and their time handling
//! (expiry = now + ttl; an unset clock refused) and buffer bounds.
#![cfg(all(
    feature = "sign-aliyun",
    feature = "sign-azure",
    feature = "sign-tencent",
    feature = "sign-onenet"
))]

use std::ffi::{c_char, CStr, CString};
use std::io::Write;
use std::process::{Command, Stdio};

use mqtt_engine::ffi::*;

/// Random cases per signer compared with Python.
const CASES: usize = 1000;
/// A time the clock has surely been set by.
const NOW: u64 = 1_765_000_000;

fn cs(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn text(buf: &[u8]) -> String {
    CStr::from_bytes_until_nul(buf)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

/// xorshift64*: reproducible inputs without a crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// 1..=max characters: letters, digits, the characters URL encoding and the formats care
    /// about (`/&+=%|;:?#` and space), and some non-ASCII.
    fn string(&mut self, max: u64) -> String {
        const PIECES: &[&str] = &[
            "a", "Z", "0", "9", "-", "_", ".", "~", "/", "&", "+", "=", "%", "|", ";", ":", "?",
            "#", " ", "\"", "\\", "é", "设备", "x", "k", "Q",
        ];
        let len = 1 + self.below(max);
        (0..len)
            .map(|_| PIECES[self.below(PIECES.len() as u64) as usize])
            .collect()
    }
    fn key_b64(&mut self) -> String {
        let len = [16usize, 20, 32, 48, 64, 100][self.below(6) as usize];
        let bytes: Vec<u8> = (0..len).map(|_| self.next() as u8).collect();
        b64(&bytes)
    }
    fn method(&mut self) -> (u8, &'static str) {
        if self.below(2) == 0 {
            (MQE_SIGN_HMAC_SHA256, "sha256")
        } else {
            (MQE_SIGN_HMAC_SHA1, "sha1")
        }
    }
}

/// Base64 for the test's keys (the library's decoder is what is under test).
fn b64(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn json_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Runs the Python reference on `cases` (JSON lines); its outputs, one Vec per case.
fn python(cases: &[String]) -> Vec<Vec<String>> {
    let mut child = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/cloud/sign_ref.py"
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut stdin = child.stdin.take().unwrap();
    let input = cases.join("\n") + "\n";
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "sign_ref.py failed");
    let lines: Vec<Vec<String>> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect();
    assert_eq!(lines.len(), cases.len());
    lines
}

struct Aliyun {
    client_id: String,
    username: String,
    password: String,
}

#[allow(clippy::too_many_arguments)]
fn aliyun(
    pk: &str,
    dn: &str,
    secret: &str,
    id: &str,
    ts: u64,
    method: u8,
    mode: u8,
) -> Result<Aliyun, i32> {
    let (mut a, mut b, mut c) = ([0u8; 512], [0u8; 512], [0u8; 128]);
    let (pk, dn, secret, id) = (cs(pk), cs(dn), cs(secret), cs(id));
    let status = unsafe {
        mqe_aliyun_sign(
            pk.as_ptr(),
            dn.as_ptr(),
            secret.as_ptr(),
            id.as_ptr(),
            ts,
            method,
            mode,
            a.as_mut_ptr().cast(),
            a.len(),
            b.as_mut_ptr().cast(),
            b.len(),
            c.as_mut_ptr().cast(),
            c.len(),
        )
    };
    if status != MQE_OK {
        return Err(status);
    }
    Ok(Aliyun {
        client_id: text(&a),
        username: text(&b),
        password: text(&c),
    })
}

/// Calls `sign(out, cap)` on a buffer with 8 canary bytes past `cap`: the text it wrote, or its
/// status; fails if it wrote past `cap`.
fn guarded(cap: usize, sign: impl FnOnce(*mut c_char, usize) -> i32) -> Result<String, i32> {
    let mut out = vec![0xAAu8; cap + 8];
    let status = sign(out.as_mut_ptr().cast(), cap);
    assert!(
        out[cap..].iter().all(|&b| b == 0xAA),
        "wrote past its buffer"
    );
    if status != MQE_OK {
        return Err(status);
    }
    Ok(text(&out))
}

fn azure_sas(
    host: &str,
    dev: &str,
    key: &str,
    now: u64,
    ttl: u64,
    cap: usize,
) -> Result<String, i32> {
    let (host, dev, key) = (cs(host), cs(dev), cs(key));
    guarded(cap, |out, cap| unsafe {
        mqe_azure_sas_token(
            host.as_ptr(),
            dev.as_ptr(),
            key.as_ptr(),
            now,
            ttl,
            out,
            cap,
        )
    })
}

fn azure_username(host: &str, dev: &str) -> String {
    let mut out = [0u8; 1024];
    let (host, dev) = (cs(host), cs(dev));
    let status = unsafe {
        mqe_azure_username(
            host.as_ptr(),
            dev.as_ptr(),
            out.as_mut_ptr().cast(),
            out.len(),
        )
    };
    assert_eq!(status, MQE_OK);
    text(&out)
}

#[allow(clippy::too_many_arguments)]
fn tencent(
    pid: &str,
    dn: &str,
    psk: &str,
    app: &str,
    conn: &str,
    now: u64,
    ttl: u64,
    method: u8,
) -> Result<(String, String), i32> {
    let (mut u, mut p) = ([0u8; 512], [0u8; 128]);
    let (pid, dn, psk, app, conn) = (cs(pid), cs(dn), cs(psk), cs(app), cs(conn));
    let status = unsafe {
        mqe_tencent_sign(
            pid.as_ptr(),
            dn.as_ptr(),
            psk.as_ptr(),
            app.as_ptr(),
            conn.as_ptr(),
            now,
            ttl,
            method,
            u.as_mut_ptr().cast(),
            u.len(),
            p.as_mut_ptr().cast(),
            p.len(),
        )
    };
    if status != MQE_OK {
        return Err(status);
    }
    Ok((text(&u), text(&p)))
}

fn onenet(
    pid: &str,
    dn: &str,
    key: &str,
    now: u64,
    ttl: u64,
    method: u8,
    cap: usize,
) -> Result<String, i32> {
    let (pid, dn, key) = (cs(pid), cs(dn), cs(key));
    guarded(cap, |out, cap| unsafe {
        mqe_onenet_token(
            pid.as_ptr(),
            dn.as_ptr(),
            key.as_ptr(),
            now,
            ttl,
            method,
            out,
            cap,
        )
    })
}

/// Aliyun's own worked example (productKey a14Xib5kdYd, hmacsha1), as its documentation and
/// its community pages give it.
#[test]
fn aliyun_matches_the_published_example() {
    let got = aliyun(
        "a14Xib5kdYd",
        "light1983432",
        "oLyaKqVxtRvjH284LdhqVgVUx1UPy6zq",
        "SN1928339",
        1_539_421_321_846,
        MQE_SIGN_HMAC_SHA1,
        3,
    )
    .unwrap();
    assert_eq!(
        got.client_id,
        "SN1928339|securemode=3,signmethod=hmacsha1,timestamp=1539421321846|"
    );
    assert_eq!(got.username, "light1983432&a14Xib5kdYd");
    assert_eq!(got.password, "b2488041f64f425016b467ee1c94959ebd592ad1");
}

#[test]
fn aliyun_matches_python_on_random_inputs() {
    let mut rng = Rng(0x0A11_0001);
    let (mut cases, mut got) = (Vec::new(), Vec::new());
    for _ in 0..CASES {
        let (pk, dn, secret) = (rng.string(20), rng.string(32), rng.string(40));
        let id = rng.string(20);
        let ts = NOW * 1000 + rng.below(1_000_000_000);
        let (method, name) = rng.method();
        let mode = 2 + rng.below(2) as u8;
        cases.push(format!(
            "{{\"signer\":\"aliyun\",\"product_key\":{},\"device_name\":{},\"device_secret\":{},\"client_id\":{},\"timestamp_ms\":{ts},\"method\":\"{name}\",\"securemode\":{mode}}}",
            json_str(&pk), json_str(&dn), json_str(&secret), json_str(&id)
        ));
        let a = aliyun(&pk, &dn, &secret, &id, ts, method, mode).unwrap();
        got.push(vec![a.client_id, a.username, a.password]);
    }
    assert_eq!(got, python(&cases));
}

#[test]
fn azure_matches_python_on_random_inputs() {
    let mut rng = Rng(0x0A2E_0002);
    let (mut cases, mut got) = (Vec::new(), Vec::new());
    for _ in 0..CASES {
        let host = format!("{}.azure-devices.net", rng.string(12));
        let dev = rng.string(40);
        let key = rng.key_b64();
        let ttl = rng.below(400_000);
        cases.push(format!(
            "{{\"signer\":\"azure\",\"host\":{},\"device_id\":{},\"key_b64\":\"{key}\",\"now_s\":{NOW},\"ttl_s\":{ttl}}}",
            json_str(&host), json_str(&dev)
        ));
        got.push(vec![
            azure_sas(&host, &dev, &key, NOW, ttl, 1024).unwrap(),
            azure_username(&host, &dev),
        ]);
    }
    assert_eq!(got, python(&cases));
}

#[test]
fn tencent_matches_python_on_random_inputs() {
    let mut rng = Rng(0x7E4C_0003);
    let (mut cases, mut got) = (Vec::new(), Vec::new());
    for _ in 0..CASES {
        let (pid, dn) = (rng.string(12), rng.string(24));
        let psk = rng.key_b64();
        let (app, conn) = (rng.string(8), rng.string(5));
        let ttl = rng.below(100_000);
        let (method, name) = rng.method();
        cases.push(format!(
            "{{\"signer\":\"tencent\",\"product_id\":{},\"device_name\":{},\"psk_b64\":\"{psk}\",\"sdkappid\":{},\"connid\":{},\"now_s\":{NOW},\"ttl_s\":{ttl},\"method\":\"{name}\"}}",
            json_str(&pid), json_str(&dn), json_str(&app), json_str(&conn)
        ));
        let (u, p) = tencent(&pid, &dn, &psk, &app, &conn, NOW, ttl, method).unwrap();
        got.push(vec![u, p]);
    }
    assert_eq!(got, python(&cases));
}

#[test]
fn onenet_matches_python_on_random_inputs() {
    let mut rng = Rng(0x0E4E_0004);
    let (mut cases, mut got) = (Vec::new(), Vec::new());
    for _ in 0..CASES {
        let (pid, dn) = (rng.string(12), rng.string(24));
        let key = rng.key_b64();
        let ttl = rng.below(10_000_000);
        let (method, name) = rng.method();
        cases.push(format!(
            "{{\"signer\":\"onenet\",\"product_id\":{},\"device_name\":{},\"key_b64\":\"{key}\",\"now_s\":{NOW},\"ttl_s\":{ttl},\"method\":\"{name}\"}}",
            json_str(&pid), json_str(&dn)
        ));
        got.push(vec![
            onenet(&pid, &dn, &key, NOW, ttl, method, 1024).unwrap()
        ]);
    }
    assert_eq!(got, python(&cases));
}

/// The expiry written is now + ttl; a clock that was never set is refused by every signer.
#[test]
fn expiry_is_now_plus_ttl_and_an_unset_clock_is_refused() {
    let key = b64(&[7u8; 32]);
    let token = azure_sas("h.azure-devices.net", "d", &key, NOW, 3600, 512).unwrap();
    assert!(token.ends_with(&format!("&se={}", NOW + 3600)), "{token}");
    let token = onenet("p", "d", &key, NOW, 60, MQE_SIGN_HMAC_SHA256, 512).unwrap();
    assert!(token.contains(&format!("&et={}&", NOW + 60)), "{token}");
    let (user, _) = tencent(
        "p",
        "d",
        &key,
        "12010126",
        "abcde",
        NOW,
        90,
        MQE_SIGN_HMAC_SHA1,
    )
    .unwrap();
    assert_eq!(user, format!("pd;12010126;abcde;{}", NOW + 90));

    for unset in [
        0,
        315_532_800, /* 1980 */
        946_684_800, /* 2000 */
        MQE_MIN_WALL_CLOCK_S - 1,
    ] {
        assert_eq!(
            azure_sas("h", "d", &key, unset, 3600, 512),
            Err(MQE_ERR_CLOCK_UNSET)
        );
        assert_eq!(
            onenet("p", "d", &key, unset, 60, MQE_SIGN_HMAC_SHA1, 512),
            Err(MQE_ERR_CLOCK_UNSET)
        );
        assert_eq!(
            tencent("p", "d", &key, "1", "c", unset, 60, MQE_SIGN_HMAC_SHA256).map(|_| ()),
            Err(MQE_ERR_CLOCK_UNSET)
        );
        assert_eq!(
            aliyun("p", "d", "s", "c", unset * 1000, MQE_SIGN_HMAC_SHA256, 3).map(|_| ()),
            Err(MQE_ERR_CLOCK_UNSET)
        );
    }
    assert!(azure_sas("h", "d", &key, MQE_MIN_WALL_CLOCK_S, 0, 512).is_ok());
    // An expiry past 2^64 is an argument error, not a wrapped time.
    assert_eq!(
        azure_sas("h", "d", &key, NOW, u64::MAX, 512),
        Err(MQE_ERR_ARG)
    );
}

/// Every buffer shorter than the text plus its NUL is refused, and nothing is written past it.
#[test]
fn short_buffers_are_refused_without_writing_past_them() {
    let key = b64(&[9u8; 32]);
    let full = azure_sas("hub.azure-devices.net", "dev/1", &key, NOW, 60, 512).unwrap();
    for cap in 0..=full.len() {
        assert_eq!(
            azure_sas("hub.azure-devices.net", "dev/1", &key, NOW, 60, cap),
            Err(MQE_ERR_BUFFER)
        );
    }
    assert_eq!(
        azure_sas(
            "hub.azure-devices.net",
            "dev/1",
            &key,
            NOW,
            60,
            full.len() + 1
        ),
        Ok(full)
    );
    let full = onenet("123", "dev", &key, NOW, 60, MQE_SIGN_HMAC_SHA256, 512).unwrap();
    for cap in 0..=full.len() {
        assert_eq!(
            onenet("123", "dev", &key, NOW, 60, MQE_SIGN_HMAC_SHA256, cap),
            Err(MQE_ERR_BUFFER)
        );
    }
}

#[test]
fn bad_arguments_are_refused() {
    let key = b64(&[1u8; 16]);
    // Not base64; a key longer than 128 bytes.
    assert_eq!(
        azure_sas("h", "d", "not base64!", NOW, 60, 512),
        Err(MQE_ERR_ARG)
    );
    assert_eq!(
        azure_sas("h", "d", &b64(&[0u8; 129]), NOW, 60, 512),
        Err(MQE_ERR_ARG)
    );
    assert_eq!(
        onenet("p", "d", &key, NOW, 60, 7, 512),
        Err(MQE_ERR_UNSUPPORTED)
    );
    assert_eq!(
        aliyun("p", "d", "s", "c", NOW * 1000, MQE_SIGN_HMAC_SHA1, 1).map(|_| ()),
        Err(MQE_ERR_ARG)
    );
    assert_eq!(
        aliyun(
            "p",
            "d",
            "s",
            &"c".repeat(65),
            NOW * 1000,
            MQE_SIGN_HMAC_SHA1,
            2
        )
        .map(|_| ()),
        Err(MQE_ERR_ARG)
    );
    let mut out = [0u8; 64];
    let status = unsafe {
        mqe_azure_username(
            std::ptr::null(),
            c"d".as_ptr(),
            out.as_mut_ptr().cast::<c_char>(),
            out.len(),
        )
    };
    assert_eq!(status, MQE_ERR_NULL);
}
