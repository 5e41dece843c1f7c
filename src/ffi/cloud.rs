//! The C face of `crate::cloud`: cloud profiles (`mqe_options_for_cloud`), the credentials
//! callback asked before every CONNECT, and the signers. Each part is a build-time feature;
//! the header declares only what was built (`MQE_FEATURE_*`).

// Which of these a build uses depends on its features.
#![cfg_attr(not(feature = "full"), allow(unused_imports, dead_code))]

#[cfg(any(
    feature = "hmac-sha256",
    feature = "hmac-sha1",
    feature = "credentials-cb"
))]
use core::ffi::c_char;
#[cfg(feature = "credentials-cb")]
use core::ffi::c_void;

#[cfg(any(
    feature = "hmac-sha256",
    feature = "hmac-sha1",
    feature = "cloud-profiles"
))]
use super::args::c_str;
#[cfg(feature = "credentials-cb")]
use super::cell::ClientCell;
use super::status::*;
use super::types::*;
#[cfg(any(feature = "hmac-sha256", feature = "hmac-sha1"))]
use crate::cloud::sign::{self, Method, SignError};

/// `mqe_options_t.cloud`: no profile, plain MQTT 3.1.1 (default).
pub const MQE_CLOUD_NONE: u8 = 0;
/// AWS IoT Core: QoS <= 1, <= 8 filters per SUBSCRIBE, topics <= 256 bytes with <= 7 `/`,
/// client id <= 128 bytes, keep-alive <= 1200 s, payload <= 128 KiB.
pub const MQE_CLOUD_AWS_IOT: u8 = 1;
/// Azure IoT Hub: QoS <= 1, no retain, keep-alive <= 1767 s, device id <= 128 bytes, payload
/// <= 256 KiB. Username: `mqe_azure_username`; password: `mqe_azure_sas_token`.
pub const MQE_CLOUD_AZURE_IOT_HUB: u8 = 2;
/// Alibaba Cloud IoT Platform: QoS <= 1, no will, no retain, keep-alive 30..1200 s, payload
/// <= 256 KiB. Credentials: `mqe_aliyun_sign`.
pub const MQE_CLOUD_ALIYUN: u8 = 3;
/// Tencent IoT Hub: QoS <= 1, no will, no retain, keep-alive <= 900 s. Credentials:
/// `mqe_tencent_sign`.
pub const MQE_CLOUD_TENCENT: u8 = 4;
/// China Mobile OneNET: QoS <= 1. Password: `mqe_onenet_token`.
pub const MQE_CLOUD_ONENET: u8 = 5;
/// ThingsBoard: QoS <= 1.
pub const MQE_CLOUD_THINGSBOARD: u8 = 6;

/// Sign method HMAC-SHA256 (the signers' `method`).
pub const MQE_SIGN_HMAC_SHA256: u8 = 0;
/// Sign method HMAC-SHA1.
pub const MQE_SIGN_HMAC_SHA1: u8 = 1;
/// Wall-clock seconds below this mean "never set" to the signers (`MQE_ERR_CLOCK_UNSET`).
pub const MQE_MIN_WALL_CLOCK_S: u64 = crate::cloud::MIN_WALL_CLOCK_S;

/// Applies cloud profile `cloud` (`MQE_CLOUD_*`) to `*opts`: sets `opts->cloud` and moves
/// `keep_alive_s` into the cloud's range (0 becomes its maximum where 0 is not allowed).
/// `mqe_init` then refuses options the cloud refuses (a will where none is allowed, a
/// keep-alive or client id beyond its limits), and publish and subscribe calls return
/// `MQE_ERR_UNSUPPORTED` for what it would drop the connection over: QoS above its cap,
/// retain, more filters per SUBSCRIBE, longer topics or payloads (docs/CLOUDS.md). Errors:
/// `MQE_ERR_NULL`, `MQE_ERR_ARG` (unknown cloud).
///
/// # Safety
/// `opts` is NULL or a valid, writable `mqe_options_t`, used only during the call.
#[cfg(feature = "cloud-profiles")]
#[no_mangle]
pub unsafe extern "C" fn mqe_options_for_cloud(
    cloud: u8,
    opts: *mut mqe_options_t,
) -> mqe_status_t {
    use crate::cloud::profiles::Cloud;
    let Some(profile) = Cloud::from_u8(cloud) else {
        return MQE_ERR_ARG;
    };
    // SAFETY: NULL or valid and writable per the contract.
    let Some(opts) = (unsafe { opts.as_mut() }) else {
        return MQE_ERR_NULL;
    };
    opts.cloud = cloud;
    opts.keep_alive_s = profile.limits().clamp_keep_alive(opts.keep_alive_s);
    MQE_OK
}

/// The limits of profile `cloud` (no profile when the feature is not built).
#[cfg(feature = "cloud-profiles")]
pub(crate) fn limits_of(
    cloud: u8,
) -> Result<&'static crate::cloud::profiles::Limits, mqe_status_t> {
    crate::cloud::profiles::Cloud::from_u8(cloud)
        .map(|c| c.limits())
        .ok_or(MQE_ERR_ARG)
}

/// `check` of a profile as a status.
#[cfg(feature = "cloud-profiles")]
pub(crate) fn allowed(
    check: Result<(), crate::cloud::profiles::Unsupported>,
) -> Result<(), mqe_status_t> {
    check.map_err(|_| MQE_ERR_UNSUPPORTED)
}

/// Called before every CONNECT (every connect attempt, automatic reconnects included), from
/// inside `mqe_poll` on the owner task. Writes the username (UTF-8, no NUL needed) into
/// `username[0..username_cap]` and its length into `*username_len`, and the password into
/// `password[0..password_cap]` and `*password_len` (0: none). `refused` is the CONNACK code
/// (4 bad credentials, 5 not authorised) that refused the previous attempt, else 0: a signed
/// credential should be made afresh then. Returns `MQE_OK`; any other status ends this attempt
/// with `MQE_ERR_NO_CREDENTIALS` before anything is sent (the next follows the reconnect
/// backoff). The buffers are the ones given to `mqe_set_credentials_handler`.
#[cfg(feature = "credentials-cb")]
pub type mqe_credentials_cb_t = Option<
    unsafe extern "C" fn(
        user: *mut c_void,
        refused: u8,
        username: *mut c_char,
        username_cap: usize,
        username_len: *mut usize,
        password: *mut u8,
        password_cap: usize,
        password_len: *mut usize,
    ) -> mqe_status_t,
>;

/// A registered credentials callback and the buffers it writes.
#[cfg(feature = "credentials-cb")]
#[derive(Clone, Copy)]
pub(crate) struct Credentials {
    cb: unsafe extern "C" fn(
        *mut c_void,
        u8,
        *mut c_char,
        usize,
        *mut usize,
        *mut u8,
        usize,
        *mut usize,
    ) -> mqe_status_t,
    user: *mut c_void,
    username: *mut u8,
    username_cap: usize,
    password: *mut u8,
    password_cap: usize,
}

/// Registers `cb`, asked for the username and password before every CONNECT (see
/// `mqe_credentials_cb_t`); they replace `opts.username`/`opts.password`. `username_buf`
/// (`username_cap` bytes, > 0) and `password_buf` (`password_cap` bytes; NULL with 0 for no
/// password) are kept by the client and written only by `cb`: they must stay valid, untouched
/// by the application and apart from every other buffer, while the client is used. NULL `cb`
/// stops asking (the last credentials stay). Takes effect at the next connect attempt; any
/// state. Errors: `MQE_ERR_NULL`, `MQE_ERR_NOT_INIT`, `MQE_ERR_BUFFER` (username buffer NULL
/// or empty, password buffer NULL with a length), `MQE_ERR_TOO_LARGE` (a cap over 65,535).
///
/// # Safety
/// `c` is NULL or client storage; the buffers are valid for their caps as described.
#[cfg(feature = "credentials-cb")]
#[no_mangle]
pub unsafe extern "C" fn mqe_set_credentials_handler(
    c: *mut mqe_client_t,
    cb: mqe_credentials_cb_t,
    user: *mut c_void,
    username_buf: *mut c_char,
    username_cap: usize,
    password_buf: *mut u8,
    password_cap: usize,
) -> mqe_status_t {
    // SAFETY: forwarded contract.
    super::into_status(unsafe {
        super::with_cell(c, |cell| {
            let Some(cb) = cb else {
                cell.credentials = None;
                cell.client.set_credentials_hook(false);
                return Ok(());
            };
            if username_buf.is_null()
                || username_cap == 0
                || (password_buf.is_null() && password_cap > 0)
            {
                return Err(MQE_ERR_BUFFER);
            }
            if username_cap > usize::from(u16::MAX) || password_cap > usize::from(u16::MAX) {
                return Err(MQE_ERR_TOO_LARGE);
            }
            // The client keeps referring to its old credentials until the next attempt's are
            // set; they may live in these very buffers, so forget them before C writes.
            cell.client.set_credentials(None, None);
            cell.credentials = Some(Credentials {
                cb,
                user,
                username: username_buf.cast::<u8>(),
                username_cap,
                password: password_buf,
                password_cap,
            });
            cell.client.set_credentials_hook(true);
            Ok(())
        })
    })
}

/// Asks the callback for this attempt's credentials and hands them to the client, or ends the
/// attempt. Runs with no borrow of the cell alive while C runs.
///
/// # Safety
/// `cell` is an initialised client's cell and no borrow of it is alive.
#[cfg(feature = "credentials-cb")]
pub(crate) unsafe fn run_credentials(cell: *mut ClientCell, hook: Credentials, refused: u8) {
    let (mut user_len, mut pass_len) = (0usize, 0usize);
    // SAFETY: the application registered `cb` and the buffers for the client's life; no Rust
    // reference to the buffers is alive (the client's were dropped when the step was made).
    let status = unsafe {
        (hook.cb)(
            hook.user,
            refused,
            hook.username.cast::<c_char>(),
            hook.username_cap,
            &mut user_len,
            hook.password,
            hook.password_cap,
            &mut pass_len,
        )
    };
    // SAFETY: the callback has returned; this is the only borrow.
    let cell = unsafe { &mut *cell };
    let given =
        (status == MQE_OK && user_len <= hook.username_cap && pass_len <= hook.password_cap)
            .then(|| {
                // SAFETY: within the registered buffers (lengths checked above), which only the
                // callback writes and which stay valid while the client is used.
                let (user, pass) = unsafe {
                    (
                        core::slice::from_raw_parts(hook.username, user_len),
                        if pass_len == 0 {
                            None
                        } else {
                            Some(core::slice::from_raw_parts(hook.password, pass_len))
                        },
                    )
                };
                let user = crate::wire::validate_utf8(user).ok()?;
                (!user.is_empty() || pass.is_none()).then_some((user, pass))
            })
            .flatten();
    match given {
        Some((user, pass)) => {
            let user = (!user.is_empty()).then_some(user);
            cell.client.set_credentials(user, pass);
        }
        None => cell.client.abort_attempt(crate::Error::NoCredentials),
    }
}

/// The sign method of a C `method` argument.
#[cfg(any(feature = "hmac-sha256", feature = "hmac-sha1"))]
fn method_of(method: u8) -> Result<Method, mqe_status_t> {
    match method {
        MQE_SIGN_HMAC_SHA256 => Ok(Method::HmacSha256),
        MQE_SIGN_HMAC_SHA1 => Ok(Method::HmacSha1),
        _ => Err(MQE_ERR_UNSUPPORTED),
    }
}

#[cfg(any(feature = "hmac-sha256", feature = "hmac-sha1"))]
fn sign_status(result: Result<(), SignError>) -> mqe_status_t {
    match result {
        Ok(()) => MQE_OK,
        Err(SignError::Buffer) => MQE_ERR_BUFFER,
        Err(SignError::ClockUnset) => MQE_ERR_CLOCK_UNSET,
        Err(SignError::BadKey) => MQE_ERR_ARG,
        Err(SignError::Unsupported) => MQE_ERR_UNSUPPORTED,
        Err(SignError::Arg) => MQE_ERR_ARG,
    }
}

/// A writable output buffer from C: `MQE_ERR_NULL` for NULL.
///
/// # Safety
/// `p` is NULL or writable for `cap` bytes during the call, apart from every other argument.
#[cfg(any(feature = "hmac-sha256", feature = "hmac-sha1"))]
unsafe fn out_buf<'a>(p: *mut c_char, cap: usize) -> Result<&'a mut [u8], mqe_status_t> {
    if p.is_null() {
        return Err(MQE_ERR_NULL);
    }
    if cap > isize::MAX as usize {
        return Err(MQE_ERR_ARG);
    }
    // SAFETY: non-NULL and writable for `cap` bytes per the contract.
    Ok(unsafe { core::slice::from_raw_parts_mut(p.cast::<u8>(), cap) })
}

/// Runs a signer with its C arguments read; the status of either step.
#[cfg(any(feature = "hmac-sha256", feature = "hmac-sha1"))]
fn run(f: impl FnOnce() -> Result<Result<(), SignError>, mqe_status_t>) -> mqe_status_t {
    match f() {
        Ok(result) => sign_status(result),
        Err(status) => status,
    }
}

/// Alibaba Cloud IoT (Aliyun) credentials for a device certificate, written NUL-terminated:
/// the MQTT client id `{client_id}|securemode={securemode},signmethod={hmacsha256|hmacsha1},
/// timestamp={timestamp_ms}|`, the username `{device_name}&{product_key}` and the password,
/// the lowercase hex HMAC of `clientId{client_id}deviceName{device_name}productKey{product_key}
/// timestamp{timestamp_ms}` keyed with `device_secret`. `timestamp_ms` is wall-clock ms since
/// 1970 (the caller's NITZ/AT+CCLK time); `securemode` 2 for TLS, 3 for plain TCP; `method`
/// `MQE_SIGN_HMAC_SHA256` or `MQE_SIGN_HMAC_SHA1`. No heap; all inputs only during the call.
///
/// Errors: `MQE_ERR_NULL`, `MQE_ERR_UTF8`, `MQE_ERR_CLOCK_UNSET` (time before
/// `MQE_MIN_WALL_CLOCK_S`), `MQE_ERR_ARG` (client id over 64 bytes, securemode not 2 or 3),
/// `MQE_ERR_UNSUPPORTED` (method), `MQE_ERR_BUFFER` (an output too small; its content is then
/// unspecified).
///
/// # Safety
/// Strings NULL or NUL-terminated; each output NULL or writable for its cap, not overlapping.
#[cfg(feature = "sign-aliyun")]
#[no_mangle]
pub unsafe extern "C" fn mqe_aliyun_sign(
    product_key: *const c_char,
    device_name: *const c_char,
    device_secret: *const c_char,
    client_id: *const c_char,
    timestamp_ms: u64,
    method: u8,
    securemode: u8,
    client_id_out: *mut c_char,
    client_id_cap: usize,
    username_out: *mut c_char,
    username_cap: usize,
    password_out: *mut c_char,
    password_cap: usize,
) -> mqe_status_t {
    // SAFETY (the reads and outputs below): forwarded contract.
    run(|| unsafe {
        let out = sign::Outputs {
            client_id: out_buf(client_id_out, client_id_cap)?,
            username: out_buf(username_out, username_cap)?,
            password: out_buf(password_out, password_cap)?,
        };
        Ok(sign::aliyun(
            c_str(product_key)?,
            c_str(device_name)?,
            c_str(device_secret)?,
            c_str(client_id)?,
            timestamp_ms,
            method_of(method)?,
            securemode,
            out,
        ))
    })
}

/// Azure IoT Hub's MQTT username, NUL-terminated: `{host}/{device_id}/?api-version=2021-04-12`
/// (`host` is the hub's host name, `{hub}.azure-devices.net`). Errors: `MQE_ERR_NULL`,
/// `MQE_ERR_UTF8`, `MQE_ERR_BUFFER`.
///
/// # Safety
/// As `mqe_aliyun_sign`.
#[cfg(feature = "sign-azure")]
#[no_mangle]
pub unsafe extern "C" fn mqe_azure_username(
    host: *const c_char,
    device_id: *const c_char,
    out: *mut c_char,
    cap: usize,
) -> mqe_status_t {
    // SAFETY: forwarded contract.
    run(|| unsafe {
        let out = out_buf(out, cap)?;
        Ok(sign::azure_username(c_str(host)?, c_str(device_id)?, out).map(|_| ()))
    })
}

/// An Azure IoT Hub SAS token (the MQTT password), NUL-terminated:
/// `SharedAccessSignature sr={sr}&sig={sig}&se={expiry}`, `sr` the URL-encoded
/// `{host}/devices/{device_id}`, `sig` the URL-encoded base64 HMAC-SHA256 of `{sr}\n{expiry}`
/// keyed with the base64-decoded `device_key_b64`, `expiry` = `now_s + ttl_s` (wall-clock
/// seconds). Errors: `MQE_ERR_NULL`, `MQE_ERR_UTF8`, `MQE_ERR_CLOCK_UNSET`, `MQE_ERR_ARG` (key
/// not base64 or over 128 bytes, expiry past 2^64), `MQE_ERR_BUFFER`.
///
/// # Safety
/// As `mqe_aliyun_sign`.
#[cfg(feature = "sign-azure")]
#[no_mangle]
pub unsafe extern "C" fn mqe_azure_sas_token(
    host: *const c_char,
    device_id: *const c_char,
    device_key_b64: *const c_char,
    now_s: u64,
    ttl_s: u64,
    out: *mut c_char,
    cap: usize,
) -> mqe_status_t {
    // SAFETY: forwarded contract.
    run(|| unsafe {
        let out = out_buf(out, cap)?;
        let (host, device, key) = (c_str(host)?, c_str(device_id)?, c_str(device_key_b64)?);
        Ok(sign::expiry(now_s, ttl_s)
            .and_then(|se| sign::azure_sas(host, device, key, se, out).map(|_| ())))
    })
}

/// Tencent IoT Hub credentials for a device key, NUL-terminated: the username
/// `{product_id}{device_name};{sdkappid};{connid};{expiry}` (`expiry` = `now_s + ttl_s`;
/// Tencent's SDKs pass sdkappid `12010126` and a random 5-character connid) and the password,
/// the lowercase hex HMAC of the username keyed with the base64-decoded `psk_b64`, followed by
/// `;hmacsha256` or `;hmacsha1`. The MQTT client id is `{product_id}{device_name}`.
/// Errors: as `mqe_azure_sas_token`, and `MQE_ERR_UNSUPPORTED` (method).
///
/// # Safety
/// As `mqe_aliyun_sign`.
#[cfg(feature = "sign-tencent")]
#[no_mangle]
pub unsafe extern "C" fn mqe_tencent_sign(
    product_id: *const c_char,
    device_name: *const c_char,
    psk_b64: *const c_char,
    sdkappid: *const c_char,
    connid: *const c_char,
    now_s: u64,
    ttl_s: u64,
    method: u8,
    username_out: *mut c_char,
    username_cap: usize,
    password_out: *mut c_char,
    password_cap: usize,
) -> mqe_status_t {
    // SAFETY: forwarded contract.
    run(|| unsafe {
        let user = out_buf(username_out, username_cap)?;
        let pass = out_buf(password_out, password_cap)?;
        let (pid, dn, key) = (c_str(product_id)?, c_str(device_name)?, c_str(psk_b64)?);
        let (app, conn, method) = (c_str(sdkappid)?, c_str(connid)?, method_of(method)?);
        Ok(sign::expiry(now_s, ttl_s)
            .and_then(|et| sign::tencent(pid, dn, key, app, conn, et, method, user, pass)))
    })
}

/// China Mobile OneNET's token (the MQTT password; username = product id, client id = device
/// name), NUL-terminated: `version=2018-10-31&res={res}&et={expiry}&method={sha256|sha1}&
/// sign={sign}`, `res` = `products/{product_id}/devices/{device_name}`, `expiry` = `now_s +
/// ttl_s`, `sign` the base64 HMAC of `{expiry}\n{method}\n{res}\n2018-10-31` keyed with the
/// base64-decoded `key_b64`; every value URL-encoded. OneNET's md5 method is not offered.
/// Errors: as `mqe_tencent_sign`.
///
/// # Safety
/// As `mqe_aliyun_sign`.
#[cfg(feature = "sign-onenet")]
#[no_mangle]
pub unsafe extern "C" fn mqe_onenet_token(
    product_id: *const c_char,
    device_name: *const c_char,
    key_b64: *const c_char,
    now_s: u64,
    ttl_s: u64,
    method: u8,
    out: *mut c_char,
    cap: usize,
) -> mqe_status_t {
    // SAFETY: forwarded contract.
    run(|| unsafe {
        let out = out_buf(out, cap)?;
        let (pid, dn, key) = (c_str(product_id)?, c_str(device_name)?, c_str(key_b64)?);
        let method = method_of(method)?;
        Ok(sign::expiry(now_s, ttl_s)
            .and_then(|et| sign::onenet(pid, dn, key, et, method, out).map(|_| ())))
    })
}

/// A publish against the client's cloud profile: `MQE_ERR_UNSUPPORTED` for what the cloud
/// refuses (always `Ok` without `cloud-profiles`).
#[allow(unused_variables)]
pub(crate) fn check_publish(
    cell: &super::cell::ClientCell,
    topic: &str,
    payload_len: usize,
    qos: u8,
    retain: bool,
) -> Result<(), mqe_status_t> {
    // No profile, no limit of its own: nothing to look up on every publish.
    #[cfg(feature = "cloud-profiles")]
    if cell.cloud != MQE_CLOUD_NONE {
        allowed(limits_of(cell.cloud)?.check_publish(topic, payload_len, qos, retain))?;
    }
    Ok(())
}

/// One filter of a SUBSCRIBE of `count` filters against the cloud profile (as `check_publish`).
#[allow(unused_variables)]
pub(crate) fn check_subscribe(
    cell: &super::cell::ClientCell,
    filter: &str,
    qos: u8,
    count: usize,
) -> Result<(), mqe_status_t> {
    #[cfg(feature = "cloud-profiles")]
    allowed(limits_of(cell.cloud)?.check_subscribe(filter, qos, count))?;
    Ok(())
}
