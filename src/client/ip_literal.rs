//! IP literals in a broker's host name: an IPv4 dotted quad or an IPv6 address in RFC 4291
//! text form (one `::` at most, an optional trailing dotted quad, no zone id). Anything else is
//! a name to resolve. It accepts exactly what core's `str::parse::<IpAddr>` accepts, without
//! that parser's 2 KB of flash and its panic paths. Without the `ip-literal` feature only the
//! dotted quad is parsed: an IPv6 literal then goes to the resolver like a name.

#[cfg(feature = "ip-literal")]
use core::net::Ipv6Addr;
use core::net::{IpAddr, Ipv4Addr};

/// The address `text` spells, or `None` when it is not an IP literal.
pub(crate) fn parse(text: &str) -> Option<IpAddr> {
    let bytes = text.as_bytes();
    if let Some((v4, rest)) = ipv4(bytes) {
        return rest
            .is_empty()
            .then_some(IpAddr::V4(Ipv4Addr::from_bits(v4)));
    }
    #[cfg(feature = "ip-literal")]
    return ipv6(bytes).map(IpAddr::V6);
    #[cfg(not(feature = "ip-literal"))]
    None
}

/// A number of at most `max_digits` digits in `radix` at the start of `text`: its value and
/// the rest. More digits than that is no number (as core's parser has it); so is a leading
/// zero unless `zero_prefix` allows it.
fn number(text: &[u8], radix: u32, max_digits: usize, zero_prefix: bool) -> Option<(u32, &[u8])> {
    let mut value = 0u32;
    let mut digits = 0usize;
    let mut rest = text;
    while let Some((&byte, tail)) = rest.split_first() {
        let Some(digit) = digit(byte, radix) else {
            break;
        };
        if digits == max_digits {
            return None;
        }
        // At most 4 digits of radix <= 16: no overflow.
        value = value * radix + digit;
        digits += 1;
        rest = tail;
    }
    if digits == 0 || (!zero_prefix && digits > 1 && matches!(text, [b'0', ..])) {
        return None;
    }
    Some((value, rest))
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

/// A dotted quad at the start of `text`: the address and the rest.
fn ipv4(text: &[u8]) -> Option<(u32, &[u8])> {
    let mut addr = 0u32;
    let mut rest = text;
    for part in 0..4 {
        if part > 0 {
            // Slice patterns, not `strip_prefix`: no out-of-line `split_at` with a panic path.
            let [b'.', tail @ ..] = rest else {
                return None;
            };
            rest = tail;
        }
        let (octet, tail) = number(rest, 10, 3, false)?;
        if octet > 255 {
            return None;
        }
        addr = addr << 8 | octet;
        rest = tail;
    }
    Some((addr, rest))
}

#[cfg(feature = "ip-literal")]
/// An IPv6 literal spanning all of `text`: 16-bit groups of 1 to 4 hex digits separated by
/// `:`, at most one `::` standing for at least one zero group, and optionally a dotted quad
/// for the last two groups.
fn ipv6(text: &[u8]) -> Option<Ipv6Addr> {
    let mut groups = [0u16; 8];
    let mut count = 0usize;
    // Where `::` stands, as a group index.
    let mut gap = None;
    let mut rest = text;
    if let [b':', b':', tail @ ..] = text {
        gap = Some(0);
        rest = tail;
    }
    while !rest.is_empty() {
        let (group, tail) = number(rest, 16, 4, true)?;
        if let [b'.', ..] = tail {
            // A dotted quad: the last two groups, and the end of the text.
            let (v4, tail) = ipv4(rest)?;
            if !tail.is_empty() {
                return None;
            }
            *groups.get_mut(count)? = (v4 >> 16) as u16;
            *groups.get_mut(count.saturating_add(1))? = v4 as u16;
            count = count.saturating_add(2);
            break;
        }
        *groups.get_mut(count)? = group as u16;
        count = count.saturating_add(1);
        rest = match tail {
            [] => tail,
            [b':', b':', after @ ..] if gap.is_none() => {
                gap = Some(count);
                after
            }
            // A single `:` is followed by a group (the next pass reads it).
            [b':', after @ ..] if !after.is_empty() => after,
            _ => return None,
        };
    }
    // Without `::` exactly 8 groups; with it, at most 7 (it stands for one at least), and the
    // groups after it move to the end.
    let (gap, room) = match gap {
        None if count == 8 => (8, 0),
        Some(gap) if count < 8 => (gap, 8 - count),
        _ => return None,
    };
    let mut addr = [0u16; 8];
    for (index, &group) in groups.iter().enumerate().take(count) {
        let to = if index < gap { index } else { index + room };
        *addr.get_mut(to)? = group;
    }
    Some(Ipv6Addr::from(addr))
}

#[cfg(all(test, feature = "ip-literal"))]
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

    /// Every string of up to 6 characters over an alphabet that exercises each rule (digits,
    /// hex letters, both separators): our answer is core's.
    #[test]
    fn agrees_with_core_exhaustively_on_short_strings() {
        const ALPHABET: &[u8] = b"0129af.:";
        let mut checked = 0usize;
        let mut text = Vec::new();
        for len in 0..=6u32 {
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
        assert_eq!(checked, 299_593);
    }

    /// The lists above with characters inserted or replaced: our answer is core's.
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
