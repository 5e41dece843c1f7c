//! IP literals in a broker's host name: an IPv4 dotted quad or an IPv6 address in RFC 4291
//! text form (one `::` at most, an optional trailing dotted quad, no zone id). Anything else is
//! a name to resolve. It accepts exactly what core's `str::parse::<IpAddr>` accepts, without
//! that parser's 2 KB of flash and its panic paths.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The address `text` spells, or `None` when it is not an IP literal.
pub(crate) fn parse(text: &str) -> Option<IpAddr> {
    let bytes = text.as_bytes();
    if let Some((v4, end)) = ipv4_at(bytes, 0) {
        return (end == bytes.len()).then_some(IpAddr::V4(Ipv4Addr::from_bits(v4)));
    }
    ipv6(bytes).map(|v6| IpAddr::V6(Ipv6Addr::from_bits(v6)))
}

/// A number of at most `max_digits` digits in `radix` at `pos`: its value and where it ends.
/// More digits than that is no number (as core's parser has it); so is a leading zero unless
/// `zero_prefix` allows it.
fn number_at(
    bytes: &[u8],
    pos: usize,
    radix: u32,
    max_digits: usize,
    zero_prefix: bool,
) -> Option<(u32, usize)> {
    let mut value = 0u32;
    let mut digits = 0usize;
    while let Some(digit) = bytes
        .get(pos.saturating_add(digits))
        .and_then(|&b| digit(b, radix))
    {
        if digits == max_digits {
            return None;
        }
        // At most 4 digits of radix <= 16: no overflow.
        value = value * radix + digit;
        digits += 1;
    }
    let leading_zero = bytes.get(pos) == Some(&b'0');
    if digits == 0 || (!zero_prefix && leading_zero && digits > 1) {
        return None;
    }
    Some((value, pos.saturating_add(digits)))
}

/// The value of an ASCII digit in `radix` (10 or 16). `char::to_digit` would bring a panic
/// path for a bad radix.
fn digit(byte: u8, radix: u32) -> Option<u32> {
    let value = match byte {
        b'0'..=b'9' => byte - b'0',
        b'a'..=b'f' => byte - b'a' + 10,
        b'A'..=b'F' => byte - b'A' + 10,
        _ => return None,
    };
    let value = u32::from(value);
    (value < radix).then_some(value)
}

/// A dotted quad starting at `pos` (text may follow it): the address and where it ends.
fn ipv4_at(bytes: &[u8], mut pos: usize) -> Option<(u32, usize)> {
    let mut addr = 0u32;
    for part in 0..4 {
        if part > 0 {
            if bytes.get(pos) != Some(&b'.') {
                return None;
            }
            pos = pos.saturating_add(1);
        }
        let (octet, end) = number_at(bytes, pos, 10, 3, false)?;
        if octet > 255 {
            return None;
        }
        addr = addr << 8 | octet;
        pos = end;
    }
    Some((addr, pos))
}

/// Up to `limit` colon-separated 16-bit groups from `pos`, the last two of which may be
/// spelt as a dotted quad: the groups read (as the low bits of the result), how many, where
/// they end, and whether a dotted quad ended them.
fn groups_at(bytes: &[u8], mut pos: usize, limit: usize) -> (u128, usize, usize, bool) {
    let mut value = 0u128;
    for count in 0..limit {
        let start = if count == 0 {
            pos
        } else if bytes.get(pos) == Some(&b':') {
            pos.saturating_add(1)
        } else {
            return (value, count, pos, false);
        };
        if count + 1 < limit {
            if let Some((v4, end)) = ipv4_at(bytes, start) {
                return (value << 32 | u128::from(v4), count + 2, end, true);
            }
        }
        match number_at(bytes, start, 16, 4, true) {
            Some((group, end)) => {
                value = value << 16 | u128::from(group);
                pos = end;
            }
            None => return (value, count, pos, false),
        }
    }
    (value, limit, pos, false)
}

/// An IPv6 literal spanning all of `bytes`, as core's parser reads it: groups, then (unless
/// there were 8) `::` standing for at least one zero group, then the rest of the groups.
fn ipv6(bytes: &[u8]) -> Option<u128> {
    let (head, head_count, pos, head_v4) = groups_at(bytes, 0, 8);
    if head_count == 8 {
        return (pos == bytes.len()).then_some(head);
    }
    // A dotted quad ends the address; it cannot come before `::`.
    let after = pos.saturating_add(2);
    if head_v4 || bytes.get(pos..after) != Some(b"::") {
        return None;
    }
    // `::` stands for one group at least: head_count + 1 + the tail's count <= 8.
    let tail_limit = 7usize.saturating_sub(head_count);
    let (tail, _, end, _) = groups_at(bytes, after, tail_limit);
    if end != bytes.len() {
        return None;
    }
    // The head's groups move to the top, the zeros of `::` and the tail below them.
    let shift = 16u32.saturating_mul(8u32.saturating_sub(head_count as u32));
    Some(head.checked_shl(shift).unwrap_or(0) | tail)
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::String;
    use std::vec::Vec;

    fn core_parse(text: &str) -> Option<IpAddr> {
        text.parse::<IpAddr>().ok()
    }

    const VALID: &[&str] = &[
        "0.0.0.0",
        "127.0.0.1",
        "255.255.255.255",
        "10.0.0.255",
        "1.2.3.4",
        "::",
        "::1",
        "1::",
        "1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7::",
        "::2:3:4:5:6:7:8",
        "1::8",
        "fe80::1",
        "FE80::ABCD:ef01",
        "2001:db8:0:0:0:0:2:1",
        "2001:0db8:0000:0000:0000:ff00:0042:8329",
        "::ffff:192.0.2.128",
        "::192.0.2.128",
        "64:ff9b::192.0.2.33",
        "1:2:3:4:5:6:1.2.3.4",
        "1:2:3:4:5::1.2.3.4",
        "0:0::0:0",
    ];

    const INVALID: &[&str] = &[
        "",
        ".",
        "1.2.3",
        "1.2.3.4.",
        "1.2.3.4.5",
        "1..2.3",
        ".1.2.3",
        "256.1.1.1",
        "1.2.3.256",
        "01.2.3.4",
        "1.2.3.00",
        "1.2.3.0004",
        "1.2.3.1000",
        "+1.2.3.4",
        "1.2.3.+4",
        "-1.2.3.4",
        " 1.2.3.4",
        "1.2.3.4 ",
        "1.2.3.4:80",
        "localhost",
        "broker.example.com",
        "a.b.c.d",
        ":",
        ":::",
        "::1::",
        "1::2::3",
        ":1:2:3:4:5:6:7",
        "1:2:3:4:5:6:7:",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7:8::",
        "::1:2:3:4:5:6:7:8",
        "12345::",
        "1:2:3:4:5:6:7:1.2.3.4",
        "1.2.3.4::",
        "1.2.3.4::1",
        "::1.2.3",
        "::1.2.3.4.5",
        "::01.2.3.4",
        "::256.0.0.1",
        "fe80::1%eth0",
        "[::1]",
        "g::1",
        "::ffff:1.2.3.4:5",
        "1:2:3:4:5:6::1.2.3.4",
        "١.٢.٣.٤",
    ];

    #[test]
    fn accepts_ip_literals_as_core_does() {
        for text in VALID {
            let expected = core_parse(text);
            assert!(expected.is_some(), "{text} is valid for core");
            assert_eq!(parse(text), expected, "{text}");
        }
    }

    #[test]
    fn refuses_what_core_refuses() {
        for text in INVALID {
            assert_eq!(core_parse(text), None, "{text} is invalid for core");
            assert_eq!(parse(text), None, "{text}");
        }
    }

    #[test]
    fn gives_the_exact_addresses() {
        assert_eq!(
            parse("192.0.2.1"),
            Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)))
        );
        assert_eq!(
            parse("2001:db8::ff00:42:8329"),
            Some(IpAddr::V6(Ipv6Addr::new(
                0x2001, 0xdb8, 0, 0, 0, 0xff00, 0x42, 0x8329
            )))
        );
        assert_eq!(
            parse("::ffff:192.0.2.128"),
            Some(IpAddr::V6(Ipv6Addr::new(
                0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0280
            )))
        );
    }

    /// Every string of up to 5 characters over an alphabet that exercises each rule, plus
    /// mutations of the lists above: our answer is core's.
    #[test]
    fn agrees_with_core_exhaustively_on_short_strings() {
        const ALPHABET: &[u8] = b"0129af.:";
        let mut checked = 0usize;
        let mut text = Vec::new();
        for len in 0..=5u32 {
            let combinations = ALPHABET.len().pow(len);
            for mut n in 0..combinations {
                text.clear();
                for _ in 0..len {
                    text.push(ALPHABET[n % ALPHABET.len()]);
                    n /= ALPHABET.len();
                }
                let s = std::str::from_utf8(&text).unwrap();
                assert_eq!(parse(s), core_parse(s), "{s:?}");
                checked += 1;
            }
        }
        assert!(checked > 37_000);
    }

    #[test]
    fn agrees_with_core_on_mutations() {
        let mut checked = 0usize;
        for base in VALID.iter().chain(INVALID) {
            for at in 0..=base.len() {
                if !base.is_char_boundary(at) {
                    continue;
                }
                for insert in ["", "0", "1", "f", "0000", ":", "::", ".", "1.2.3.4", "%1"] {
                    for cut in [0usize, 1] {
                        let end = (at + cut).min(base.len());
                        if !base.is_char_boundary(end) {
                            continue;
                        }
                        let mut s = String::from(&base[..at]);
                        s.push_str(insert);
                        s.push_str(&base[end..]);
                        assert_eq!(parse(&s), core_parse(&s), "{s:?}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 10_000, "{checked}");
    }
}
