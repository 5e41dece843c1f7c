//! Writing credentials into a caller's buffer, without a panic path: plain bytes, decimal,
//! lowercase hex, base64 (RFC 4648, padded) and URL encoding (as Python's `quote_plus`).

#![cfg_attr(not(feature = "full"), allow(dead_code))]

use crate::bytes::copy_into;

/// The output did not fit the caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overflow;

/// Appends to a caller's buffer; every write checks the room left.
pub struct Out<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Out<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        Out { buf, len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// What was written from `start` on.
    pub fn since(&self, start: usize) -> &[u8] {
        self.buf.get(start..self.len).unwrap_or(&[])
    }

    pub fn push(&mut self, bytes: &[u8]) -> Result<(), Overflow> {
        let rest = self.buf.get_mut(self.len..).ok_or(Overflow)?;
        if !copy_into(rest, bytes) {
            return Err(Overflow);
        }
        self.len += bytes.len();
        Ok(())
    }

    pub fn byte(&mut self, byte: u8) -> Result<(), Overflow> {
        let slot = self.buf.get_mut(self.len).ok_or(Overflow)?;
        *slot = byte;
        self.len += 1;
        Ok(())
    }

    pub fn decimal(&mut self, value: u64) -> Result<(), Overflow> {
        let mut digits = [0u8; 20];
        self.push(decimal(value, &mut digits))
    }

    pub fn hex(&mut self, bytes: &[u8]) -> Result<(), Overflow> {
        for &b in bytes {
            self.byte(digit(&HEX, b >> 4))?;
            self.byte(digit(&HEX, b))?;
        }
        Ok(())
    }

    /// `quote_plus`: letters, digits and `_.-~` stay, a space becomes `+`, the rest `%XX`.
    pub fn url_encoded(&mut self, bytes: &[u8]) -> Result<(), Overflow> {
        for &b in bytes {
            if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~') {
                self.byte(b)?;
            } else if b == b' ' {
                self.byte(b'+')?;
            } else {
                self.byte(b'%')?;
                self.byte(digit(&HEX_UPPER, b >> 4))?;
                self.byte(digit(&HEX_UPPER, b))?;
            }
        }
        Ok(())
    }

    /// Terminates the text with a NUL (not counted) and returns its length.
    pub fn finish(mut self) -> Result<usize, Overflow> {
        let len = self.len;
        self.byte(0)?;
        Ok(len)
    }
}

const HEX: [u8; 16] = *b"0123456789abcdef";
const HEX_UPPER: [u8; 16] = *b"0123456789ABCDEF";
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The hex digit of the low 4 bits of `nibble` (the mask makes the bound provable).
fn digit(table: &[u8; 16], nibble: u8) -> u8 {
    table.get(usize::from(nibble & 15)).copied().unwrap_or(b'0')
}

/// `value` in decimal, in the tail of `digits`.
pub fn decimal(mut value: u64, digits: &mut [u8; 20]) -> &[u8] {
    let mut at = digits.len();
    for slot in digits.iter_mut().rev() {
        let (quotient, digit) = div10(value);
        *slot = b'0' + digit;
        value = quotient;
        at -= 1;
        if value == 0 {
            break;
        }
    }
    digits.get(at..).unwrap_or(&[])
}

/// `value / 10` and `value % 10` by shift and subtract: a u64 `/` on a 32-bit core links the
/// compiler's 64-bit division (864 B on the Cortex-M4), and this runs once per connect.
fn div10(value: u64) -> (u64, u8) {
    let (mut quotient, mut rest) = (0u64, 0u8);
    for bit in (0..64).rev() {
        rest = (rest << 1) | ((value >> bit) & 1) as u8;
        quotient <<= 1;
        if rest >= 10 {
            rest -= 10;
            quotient |= 1;
        }
    }
    (quotient, rest)
}

/// Base64 of `bytes` into `out`; the length written.
pub fn base64_encode(bytes: &[u8], out: &mut [u8]) -> Result<usize, Overflow> {
    let mut w = Out::new(out);
    for chunk in bytes.chunks(3) {
        let b0 = chunk.first().copied().unwrap_or(0);
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        let sextet = |shift: u32| {
            B64.get(((n >> shift) & 63) as usize)
                .copied()
                .unwrap_or(b'A')
        };
        w.byte(sextet(18))?;
        w.byte(sextet(12))?;
        w.byte(if chunk.len() > 1 { sextet(6) } else { b'=' })?;
        w.byte(if chunk.len() > 2 { sextet(0) } else { b'=' })?;
    }
    Ok(w.len())
}

/// The value of one base64 character; `None` for any other byte.
fn sextet_of(c: u8) -> Option<u32> {
    let value = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(value))
}

/// Decodes padded or unpadded base64 into `out`; the length written. `None` for a character
/// outside the alphabet, a misplaced `=`, a length that is not base64, or no room.
pub fn base64_decode(text: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut w = Out::new(out);
    base64_decode_each(text, |bytes| w.push(bytes).ok())?;
    Some(w.len())
}

/// Decodes base64 a group at a time into `emit` (1 to 3 bytes each); the decoded length.
/// `None` as `base64_decode`, or when `emit` refuses.
pub fn base64_decode_each(text: &[u8], mut emit: impl FnMut(&[u8]) -> Option<()>) -> Option<usize> {
    let body = match text {
        [rest @ .., b'=', b'='] | [rest @ .., b'='] if text.len().is_multiple_of(4) => rest,
        _ => text,
    };
    if body.len() % 4 == 1 {
        return None;
    }
    let mut len = 0;
    for chunk in body.chunks(4) {
        let mut n = 0u32;
        for &c in chunk {
            n = (n << 6) | sextet_of(c)?;
        }
        n <<= 6 * (4 - chunk.len() as u32);
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let group = bytes.get(..chunk.len().saturating_sub(1))?;
        emit(group)?;
        len += group.len();
    }
    Some(len)
}

/// The length base64 `text` decodes to, when it is valid base64.
pub fn base64_decoded_len(text: &[u8]) -> Option<usize> {
    base64_decode_each(text, |_| Some(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_and_base64_edges() {
        let mut d = [0u8; 20];
        for v in [0u64, 9, 10, 99, 1_000_000_007, u64::MAX] {
            assert_eq!(decimal(v, &mut d), std::format!("{v}").as_bytes());
        }
        let mut out = [0u8; 8];
        assert_eq!(base64_encode(b"", &mut out), Ok(0));
        assert_eq!(base64_encode(b"ab", &mut out), Ok(4));
        assert_eq!(&out[..4], b"YWI=");
        assert_eq!(base64_encode(b"abcdef", &mut out[..7]), Err(Overflow));
        assert_eq!(base64_decode(b"YWI=", &mut out), Some(2));
        assert_eq!(base64_decode(b"YWI", &mut out), Some(2));
        assert_eq!(&out[..2], b"ab");
        for bad in [&b"Y"[..], b"Y===", b"YW=I", b"YW I", b"=AAA"] {
            assert_eq!(base64_decode(bad, &mut out), None, "{bad:?}");
        }
    }
}
