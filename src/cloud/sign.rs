//! The credential signers: each writes NUL-terminated text into caller buffers, with no heap
//! and no clock (the caller passes wall-clock time, see [`expiry`]). Texts follow the vendors'
//! documentation; docs/CLOUDS.md cites it, and tests/cloud_sign.rs checks each against the
//! published examples and against Python's `hmac`/`base64`/`urllib` on random inputs.

// Each signer uses part of the shared helpers; a build with only some signers leaves the rest.
#![cfg_attr(not(feature = "full"), allow(dead_code, unused_imports))]

use super::digest::{hash_long_key, Digest, Hash, Hmac, BLOCK};
use super::text::{
    base64_decode, base64_decode_each, base64_decoded_len, base64_encode, decimal, Out, Overflow,
};
use super::MIN_WALL_CLOCK_S;

/// Why a signer wrote nothing usable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignError {
    /// An output buffer is too small.
    Buffer,
    /// The wall-clock time is below [`MIN_WALL_CLOCK_S`]: the clock was never set.
    ClockUnset,
    /// A key is not base64, or decodes to more than [`MAX_KEY_BYTES`].
    BadKey,
    /// A sign method this build or this cloud does not have.
    Unsupported,
    /// An argument is out of range (an expiry past u64, an Aliyun client id over 64 bytes).
    Arg,
}

impl From<Overflow> for SignError {
    fn from(_: Overflow) -> Self {
        SignError::Buffer
    }
}

/// The longest decoded key accepted (vendors issue 16 to 64 bytes).
pub const MAX_KEY_BYTES: usize = 128;

/// The HMAC a signature uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    HmacSha256,
    HmacSha1,
}

impl Method {
    /// The name the vendors put in the credentials: `hmacsha256` / `hmacsha1`.
    fn long_name(self) -> &'static [u8] {
        match self {
            Method::HmacSha256 => b"hmacsha256",
            Method::HmacSha1 => b"hmacsha1",
        }
    }
}

fn hash_of(method: Method) -> Hash {
    match method {
        Method::HmacSha256 => Hash::Sha256,
        Method::HmacSha1 => Hash::Sha1,
    }
}

/// Starts `mac` with `method`'s hash under `key`; `Unsupported` when this build lacks it.
fn start(mac: &mut Hmac, method: Method, key: &[u8]) -> Result<(), SignError> {
    if mac.init(hash_of(method), key) {
        Ok(())
    } else {
        Err(SignError::Unsupported)
    }
}

/// Starts `mac` under a base64 key, decoded without a buffer of its own: into the HMAC's key
/// block when it fits, else straight into the hash that stands for a long key.
fn start_b64(mac: &mut Hmac, method: Method, key_b64: &str) -> Result<(), SignError> {
    let key_b64 = key_b64.as_bytes();
    let len = base64_decoded_len(key_b64).ok_or(SignError::BadKey)?;
    if len > MAX_KEY_BYTES {
        return Err(SignError::BadKey);
    }
    let hash = hash_of(method);
    let keyed = mac.init_with(hash, |k0| {
        if len <= BLOCK {
            return base64_decode(key_b64, k0).is_some();
        }
        let fed = |long: &mut Digest| {
            base64_decode_each(key_b64, |bytes| {
                long.update(bytes);
                Some(())
            })
        };
        hash_long_key(hash, fed, k0).is_some()
    });
    match (keyed, hash.available()) {
        (true, _) => Ok(()),
        (false, true) => Err(SignError::BadKey),
        (false, false) => Err(SignError::Unsupported),
    }
}

/// HMAC of the concatenated `parts` under `key`, into `tag`; the tag's length.
fn hmac(
    method: Method,
    key: &[u8],
    parts: &[&[u8]],
    tag: &mut [u8; 32],
) -> Result<usize, SignError> {
    let mut mac = Hmac::EMPTY;
    start(&mut mac, method, key)?;
    for part in parts {
        mac.update(part);
    }
    Ok(mac.finish(tag))
}

/// `now_s + ttl_s`: the expiry of a credential made now. Refuses a clock that was never set
/// (`now_s` below [`MIN_WALL_CLOCK_S`]) and a sum past u64.
pub fn expiry(now_s: u64, ttl_s: u64) -> Result<u64, SignError> {
    if now_s < MIN_WALL_CLOCK_S {
        return Err(SignError::ClockUnset);
    }
    now_s.checked_add(ttl_s).ok_or(SignError::Arg)
}

/// Three NUL-terminated outputs (client id, username, password).
pub struct Outputs<'a> {
    pub client_id: &'a mut [u8],
    pub username: &'a mut [u8],
    pub password: &'a mut [u8],
}

/// Alibaba Cloud IoT (Aliyun) with a device certificate: MQTT client id
/// `{client_id}|securemode={mode},signmethod={method},timestamp={ms}|`, username
/// `{device_name}&{product_key}`, password the hex HMAC of
/// `clientId{client_id}deviceName{device_name}productKey{product_key}timestamp{ms}` keyed with
/// the device secret as it is (not decoded). `securemode` is 2 (TLS) or 3 (plain TCP).
#[cfg(feature = "sign-aliyun")]
#[allow(clippy::too_many_arguments)]
pub fn aliyun(
    product_key: &str,
    device_name: &str,
    device_secret: &str,
    client_id: &str,
    timestamp_ms: u64,
    method: Method,
    securemode: u8,
    out: Outputs,
) -> Result<(), SignError> {
    if timestamp_ms < MIN_WALL_CLOCK_S * 1000 {
        return Err(SignError::ClockUnset);
    }
    if client_id.len() > 64 || !(securemode == 2 || securemode == 3) {
        return Err(SignError::Arg);
    }
    let mut digits = [0u8; 20];
    let ts = decimal(timestamp_ms, &mut digits);
    let mut id = Out::new(out.client_id);
    id.push(client_id.as_bytes())?;
    id.push(b"|securemode=")?;
    id.decimal(securemode.into())?;
    id.push(b",signmethod=")?;
    id.push(method.long_name())?;
    id.push(b",timestamp=")?;
    id.push(ts)?;
    id.byte(b'|')?;
    id.finish()?;
    let mut user = Out::new(out.username);
    user.push(device_name.as_bytes())?;
    user.byte(b'&')?;
    user.push(product_key.as_bytes())?;
    user.finish()?;
    let mut tag = [0u8; 32];
    let parts: [&[u8]; 8] = [
        b"clientId",
        client_id.as_bytes(),
        b"deviceName",
        device_name.as_bytes(),
        b"productKey",
        product_key.as_bytes(),
        b"timestamp",
        ts,
    ];
    let len = hmac(method, device_secret.as_bytes(), &parts, &mut tag)?;
    let mut pass = Out::new(out.password);
    pass.hex(tag.get(..len).unwrap_or(&[]))?;
    pass.finish()?;
    Ok(())
}

/// Azure IoT Hub's MQTT username: `{host}/{device_id}/?api-version=2021-04-12`, where `host`
/// is the hub's host name (`{hub}.azure-devices.net`).
#[cfg(feature = "sign-azure")]
pub fn azure_username(host: &str, device_id: &str, out: &mut [u8]) -> Result<usize, SignError> {
    let mut w = Out::new(out);
    w.push(host.as_bytes())?;
    w.byte(b'/')?;
    w.push(device_id.as_bytes())?;
    w.push(b"/?api-version=2021-04-12")?;
    Ok(w.finish()?)
}

/// An Azure IoT Hub SAS token for a device:
/// `SharedAccessSignature sr={sr}&sig={sig}&se={expiry}`, where `sr` is the URL-encoded
/// `{host}/devices/{device_id}` and `sig` the URL-encoded base64 HMAC-SHA256 of
/// `"{sr}\n{expiry}"` keyed with the base64-decoded device key.
#[cfg(feature = "sign-azure")]
pub fn azure_sas(
    host: &str,
    device_id: &str,
    key_b64: &str,
    expiry_s: u64,
    out: &mut [u8],
) -> Result<usize, SignError> {
    let mut mac = Hmac::EMPTY;
    start_b64(&mut mac, Method::HmacSha256, key_b64)?;
    let mut w = Out::new(out);
    w.push(b"SharedAccessSignature sr=")?;
    let sr_at = w.len();
    w.url_encoded(host.as_bytes())?;
    w.url_encoded(b"/devices/")?;
    w.url_encoded(device_id.as_bytes())?;
    let mut digits = [0u8; 20];
    let se = decimal(expiry_s, &mut digits);
    let mut tag = [0u8; 32];
    for part in [w.since(sr_at), b"\n", se] {
        mac.update(part);
    }
    let len = mac.finish(&mut tag);
    let mut b64 = [0u8; 44];
    let b64_len = base64_encode(tag.get(..len).unwrap_or(&[]), &mut b64)?;
    w.push(b"&sig=")?;
    w.url_encoded(b64.get(..b64_len).unwrap_or(&[]))?;
    w.push(b"&se=")?;
    w.push(se)?;
    Ok(w.finish()?)
}

/// Tencent IoT Hub (IoT Explorer likewise) with a device key: username
/// `{product_id}{device_name};{sdkappid};{connid};{expiry}`, password the hex HMAC of the
/// username keyed with the base64-decoded device PSK, then `;hmacsha256` or `;hmacsha1`.
#[cfg(feature = "sign-tencent")]
#[allow(clippy::too_many_arguments)]
pub fn tencent(
    product_id: &str,
    device_name: &str,
    psk_b64: &str,
    sdkappid: &str,
    connid: &str,
    expiry_s: u64,
    method: Method,
    username: &mut [u8],
    password: &mut [u8],
) -> Result<(), SignError> {
    let mut mac = Hmac::EMPTY;
    start_b64(&mut mac, method, psk_b64)?;
    let mut user = Out::new(username);
    user.push(product_id.as_bytes())?;
    user.push(device_name.as_bytes())?;
    user.byte(b';')?;
    user.push(sdkappid.as_bytes())?;
    user.byte(b';')?;
    user.push(connid.as_bytes())?;
    user.byte(b';')?;
    user.decimal(expiry_s)?;
    let mut tag = [0u8; 32];
    mac.update(user.since(0));
    let len = mac.finish(&mut tag);
    user.finish()?;
    let mut pass = Out::new(password);
    pass.hex(tag.get(..len).unwrap_or(&[]))?;
    pass.byte(b';')?;
    pass.push(method.long_name())?;
    pass.finish()?;
    Ok(())
}

/// China Mobile OneNET's token (the MQTT password; the username is the product id and the
/// client id the device name):
/// `version=2018-10-31&res={res}&et={expiry}&method={sha256|sha1}&sign={sign}`, where `res` is
/// `products/{product_id}/devices/{device_name}` and `sign` the base64 HMAC of
/// `"{expiry}\n{method}\n{res}\n2018-10-31"` keyed with the base64-decoded device key; every
/// value URL-encoded.
#[cfg(feature = "sign-onenet")]
pub fn onenet(
    product_id: &str,
    device_name: &str,
    key_b64: &str,
    expiry_s: u64,
    method: Method,
    out: &mut [u8],
) -> Result<usize, SignError> {
    const VERSION: &[u8] = b"2018-10-31";
    let name: &[u8] = match method {
        Method::HmacSha256 => b"sha256",
        Method::HmacSha1 => b"sha1",
    };
    let mut mac = Hmac::EMPTY;
    start_b64(&mut mac, method, key_b64)?;
    let mut digits = [0u8; 20];
    let et = decimal(expiry_s, &mut digits);
    let res: [&[u8]; 4] = [
        b"products/",
        product_id.as_bytes(),
        b"/devices/",
        device_name.as_bytes(),
    ];
    for part in [et, b"\n", name, b"\n"]
        .into_iter()
        .chain(res)
        .chain([b"\n" as &[u8], VERSION])
    {
        mac.update(part);
    }
    let mut tag = [0u8; 32];
    let len = mac.finish(&mut tag);
    let mut b64 = [0u8; 44];
    let b64_len = base64_encode(tag.get(..len).unwrap_or(&[]), &mut b64)?;
    let mut w = Out::new(out);
    w.push(b"version=")?;
    w.push(VERSION)?;
    w.push(b"&res=")?;
    for part in res {
        w.url_encoded(part)?;
    }
    w.push(b"&et=")?;
    w.push(et)?;
    w.push(b"&method=")?;
    w.push(name)?;
    w.push(b"&sign=")?;
    w.url_encoded(b64.get(..b64_len).unwrap_or(&[]))?;
    Ok(w.finish()?)
}
