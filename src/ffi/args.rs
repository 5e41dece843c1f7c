//! Reading arguments from C: NULL checks, bounded string length, UTF-8, lengths.

use core::ffi::c_char;

use super::status::{status_of, MQE_ERR_NULL, MQE_ERR_TOO_LARGE};
use super::types::mqe_status_t;
use crate::wire;

/// At most this many bytes are scanned for a string's NUL; MQTT strings are < 65,536 bytes.
pub(crate) const MAX_STRING_SCAN: usize = 65_536;

/// The bytes of a NUL-terminated string, without the NUL.
/// `MQE_ERR_NULL` for NULL, `MQE_ERR_TOO_LARGE` when no NUL is within `MAX_STRING_SCAN` bytes.
///
/// # Safety
/// `p` is NULL or readable up to its NUL or `MAX_STRING_SCAN` bytes, whichever comes first, and
/// stays valid and unchanged for `'a`.
pub(crate) unsafe fn c_bytes_until_nul<'a>(p: *const c_char) -> Result<&'a [u8], mqe_status_t> {
    if p.is_null() {
        return Err(MQE_ERR_NULL);
    }
    let bytes = p.cast::<u8>();
    let mut len = 0;
    while len < MAX_STRING_SCAN {
        // SAFETY: the caller guarantees the bytes before the NUL (and the NUL) are readable;
        // we stop at the first NUL.
        if unsafe { bytes.add(len).read() } == 0 {
            // SAFETY: the `len` bytes before the NUL were just read, so they are valid for
            // reads; the caller keeps them unchanged for 'a.
            return Ok(unsafe { core::slice::from_raw_parts(bytes, len) });
        }
        len += 1;
    }
    Err(MQE_ERR_TOO_LARGE)
}

/// A required NUL-terminated UTF-8 string: NULL, too long, bad UTF-8 or U+0000 are errors.
///
/// # Safety
/// As [`c_bytes_until_nul`].
pub(crate) unsafe fn c_str<'a>(p: *const c_char) -> Result<&'a str, mqe_status_t> {
    // SAFETY: forwarded contract.
    let bytes = unsafe { c_bytes_until_nul(p) }?;
    wire::validate_utf8(bytes).map_err(status_of)
}

/// A required UTF-8 string given as pointer and length, as MQTT strings are (a received topic,
/// for one): NULL, over 65,535 bytes, bad UTF-8 or U+0000 are errors. Length 0 is "".
///
/// # Safety
/// `p` is NULL or readable for `len` bytes, and stays valid and unchanged for `'a`.
pub(crate) unsafe fn c_str_n<'a>(p: *const c_char, len: usize) -> Result<&'a str, mqe_status_t> {
    if p.is_null() {
        return Err(MQE_ERR_NULL);
    }
    if len > usize::from(u16::MAX) {
        return Err(MQE_ERR_TOO_LARGE);
    }
    // SAFETY: non-NULL, readable for `len` bytes per the caller.
    let bytes = unsafe { c_slice(p.cast::<u8>(), len) }?;
    wire::validate_utf8(bytes).map_err(status_of)
}

/// An optional string: NULL is `None`.
///
/// # Safety
/// As [`c_bytes_until_nul`].
pub(crate) unsafe fn c_str_opt<'a>(p: *const c_char) -> Result<Option<&'a str>, mqe_status_t> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded contract.
    unsafe { c_str(p) }.map(Some)
}

/// A byte slice given as pointer and length. NULL is allowed only with length 0.
///
/// # Safety
/// `p` is NULL or readable for `len` bytes and stays valid and unchanged for `'a`.
pub(crate) unsafe fn c_slice<'a>(p: *const u8, len: usize) -> Result<&'a [u8], mqe_status_t> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(MQE_ERR_NULL);
    }
    if len > isize::MAX as usize {
        return Err(MQE_ERR_TOO_LARGE);
    }
    // SAFETY: non-NULL, readable for `len` <= isize::MAX bytes per the caller.
    Ok(unsafe { core::slice::from_raw_parts(p, len) })
}

/// An optional byte slice: NULL with length 0 is `None`.
///
/// # Safety
/// As [`c_slice`].
pub(crate) unsafe fn c_slice_opt<'a>(
    p: *const u8,
    len: usize,
) -> Result<Option<&'a [u8]>, mqe_status_t> {
    if p.is_null() && len == 0 {
        return Ok(None);
    }
    // SAFETY: forwarded contract.
    unsafe { c_slice(p, len) }.map(Some)
}

/// Writes `value` through an optional out-pointer.
///
/// # Safety
/// `out` is NULL or valid for a write of `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: non-NULL and writable per the caller; `write_unaligned` needs no alignment.
        unsafe { out.write_unaligned(value) };
    }
}
