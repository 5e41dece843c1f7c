//! Topic names, topic filters and matching (MQTT 3.1.1 §4.7), and UTF-8 strings (§1.5.3).

use super::MAX_STRING_LEN;
use crate::error::Error;

/// A topic name a PUBLISH may carry: non-empty, at most 65,535 bytes, no wildcards, no U+0000.
pub fn validate_topic_name(t: &str) -> Result<(), Error> {
    if t.is_empty() {
        return Err(Error::InvalidTopic);
    }
    if t.len() > MAX_STRING_LEN {
        return Err(Error::TooLarge);
    }
    // '+' (0x2B) and '#' (0x23) differ only in bit 3: setting it maps both, and nothing else,
    // to 0x2B.
    if any_word(t.as_bytes(), b'a', |w| {
        zero_lanes(w) | zero_lanes((w | splat(0x08)) ^ splat(b'+'))
    }) {
        return Err(Error::InvalidTopic);
    }
    Ok(())
}

// Byte scans eight bytes at a time (SWAR): names and payload checks run once per message, and
// a byte loop at opt-level "s" costs ~6 instructions a byte.

const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// `b` in every byte of a word.
const fn splat(b: u8) -> u64 {
    LOW_BITS * b as u64
}

/// Non-zero exactly when some byte of `w` is zero (bits above a zero byte may be set too,
/// which does not change the answer).
fn zero_lanes(w: u64) -> u64 {
    w.wrapping_sub(LOW_BITS) & !w & HIGH_BITS
}

/// True when `test` is non-zero for some word of `bytes`. The words cover every byte: whole
/// words from the front, then the last eight bytes (overlapping); input shorter than a word is
/// padded with `pad`, which `test` must accept.
fn any_word(bytes: &[u8], pad: u8, test: impl Fn(u64) -> u64) -> bool {
    let Some(last) = bytes.last_chunk::<8>() else {
        // Shifted in byte by byte: the low bytes are the input, the rest stay `pad`.
        let word = bytes
            .iter()
            .fold(splat(pad), |w, &b| (w << 8) | u64::from(b));
        return test(word) != 0;
    };
    let (words, _) = bytes.as_chunks::<8>();
    let mut found = test(u64::from_ne_bytes(*last));
    for word in words {
        found |= test(u64::from_ne_bytes(*word));
    }
    found != 0
}

/// A topic filter a SUBSCRIBE/UNSUBSCRIBE may carry: non-empty, at most 65,535 bytes, no U+0000,
/// `+` alone in its level, `#` alone in the last level.
pub fn validate_topic_filter(f: &str) -> Result<(), Error> {
    if f.is_empty() {
        return Err(Error::InvalidTopic);
    }
    if f.len() > MAX_STRING_LEN {
        return Err(Error::TooLarge);
    }
    // One pass, byte by byte: '+' fills a whole level, '#' is a whole level and the last one
    // (§4.7.1); no U+0000 (§1.5.3). `<[u8]>::contains` would link core's 338-byte memchr.
    let mut previous = b'/'; // the start of the filter counts as the start of a level
    let mut bytes = f.bytes().peekable();
    while let Some(byte) = bytes.next() {
        let next = bytes.peek().copied();
        let bad = match byte {
            0 => true,
            b'+' => previous != b'/' || next.is_some_and(|n| n != b'/'),
            b'#' => previous != b'/' || next.is_some(),
            _ => false,
        };
        if bad {
            return Err(Error::InvalidTopic);
        }
        previous = byte;
    }
    Ok(())
}

/// The levels of a topic name or filter, split at '/' (a leading, trailing or doubled '/' gives
/// an empty level). Written over bytes with checked splits: `str::split` keeps slice-index
/// panics in the size-optimised build.
struct Levels<'a> {
    /// What is left after the last '/' taken; None once the last level was returned.
    rest: Option<&'a [u8]>,
}

impl<'a> Levels<'a> {
    fn of(s: &'a str) -> Levels<'a> {
        Levels {
            rest: Some(s.as_bytes()),
        }
    }
}

impl<'a> Iterator for Levels<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let rest = self.rest?;
        let Some(slash) = rest.iter().position(|&b| b == b'/') else {
            self.rest = None;
            return Some(rest);
        };
        let (level, from_slash) = rest.split_at_checked(slash)?;
        self.rest = from_slash.split_first().map(|(_, after)| after);
        Some(level)
    }
}

/// Whether `topic` (a valid name) matches `filter` (a valid filter). `+` matches one whole level
/// (possibly empty), `#` the parent level and any number of levels below it; a filter starting
/// with a wildcard never matches a topic starting with `$` (§4.7.2). Invalid input never panics,
/// it just may not match.
pub fn topic_matches(filter: &str, topic: &str) -> bool {
    if topic.as_bytes().first() == Some(&b'$')
        && matches!(filter.as_bytes().first(), Some(b'+' | b'#'))
    {
        return false;
    }
    let mut filter_levels = Levels::of(filter);
    let mut topic_levels = Levels::of(topic);
    // Each step consumes a filter level; bounded by the filter's length.
    loop {
        match (filter_levels.next(), topic_levels.next()) {
            (Some(b"#"), _) => return true,
            (Some(b"+"), Some(_)) => {}
            (Some(f), Some(t)) if f == t => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Checks an MQTT UTF-8 string: at most 65,535 bytes (else `TooLarge`), well-formed UTF-8
/// without U+0000 (else `InvalidUtf8`, §1.5.3).
pub fn validate_utf8(bytes: &[u8]) -> Result<&str, Error> {
    if bytes.len() > MAX_STRING_LEN {
        return Err(Error::TooLarge);
    }
    // Fast path: ASCII without NUL (every topic and client id in practice).
    let ascii = !any_word(bytes, b'a', |w| (w & HIGH_BITS) | zero_lanes(w));
    if !ascii && !is_utf8_without_nul(bytes) {
        return Err(Error::InvalidUtf8);
    }
    // SAFETY: the bytes are ASCII, or `is_utf8_without_nul` checked they are well-formed UTF-8.
    Ok(unsafe { core::str::from_utf8_unchecked(bytes) })
}

/// Well-formed UTF-8 (RFC 3629; Unicode Table 3-7) with no U+0000: no overlong forms, no
/// surrogates (U+D800..=U+DFFF), nothing above U+10FFFF, no truncated sequence. Our own, so
/// the library does not link `core::str::from_utf8` and its panic paths.
// Out of line: past the ASCII fast path only, and its registers would otherwise widen
// `validate_utf8`'s frame, which lies under the deepest calls (stack budget; measured no
// slower at opt-level 3).
#[inline(never)]
fn is_utf8_without_nul(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    while let Some((&lead, tail)) = rest.split_first() {
        if lead < 0x80 {
            if lead == 0 {
                return false;
            }
            rest = tail;
            continue;
        }
        // The second byte's range excludes overlongs (E0, F0), surrogates (ED) and code points
        // above U+10FFFF (F4); C0, C1 and F5..FF never start a sequence.
        let (second_range, more) = match lead {
            0xC2..=0xDF => (0x80..=0xBF, 0),
            0xE0 => (0xA0..=0xBF, 1),
            0xE1..=0xEC | 0xEE..=0xEF => (0x80..=0xBF, 1),
            0xED => (0x80..=0x9F, 1),
            0xF0 => (0x90..=0xBF, 2),
            0xF1..=0xF3 => (0x80..=0xBF, 2),
            0xF4 => (0x80..=0x8F, 2),
            _ => return false,
        };
        let Some((second, tail)) = tail.split_first() else {
            return false;
        };
        if !second_range.contains(second) {
            return false;
        }
        let Some((continuation, after)) = tail.split_at_checked(more) else {
            return false;
        };
        if !continuation.iter().all(|&b| b & 0xC0 == 0x80) {
            return false;
        }
        rest = after;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    #[test]
    fn topic_names() {
        for ok in [
            "a",
            "/",
            "a/b",
            "sport/tennis/player1",
            "$SYS/x",
            " ",
            "a//b",
            "é/ü",
        ] {
            assert_eq!(validate_topic_name(ok), Ok(()), "{ok:?}");
        }
        for bad in ["", "+", "#", "a/+", "a/#", "a+b", "a#", "a\0b"] {
            assert_eq!(
                validate_topic_name(bad),
                Err(Error::InvalidTopic),
                "{bad:?}"
            );
        }
        let max = "a".repeat(65_535);
        assert_eq!(validate_topic_name(&max), Ok(()));
        let over = "a".repeat(65_536);
        assert_eq!(validate_topic_name(&over), Err(Error::TooLarge));
    }

    #[test]
    fn topic_filters() {
        for ok in [
            "#",
            "+",
            "+/+",
            "/+",
            "a/#",
            "a/+/b",
            "sport/tennis/#",
            "+/tennis/#",
            "a//b",
            "/",
            "$SYS/#",
            "a/+/#",
        ] {
            assert_eq!(validate_topic_filter(ok), Ok(()), "{ok:?}");
        }
        for bad in [
            "", "a#", "#/a", "a/#/b", "a/b#", "##", "a+", "+a", "a/b+/c", "++", "sport+", "a\0",
        ] {
            assert_eq!(
                validate_topic_filter(bad),
                Err(Error::InvalidTopic),
                "{bad:?}"
            );
        }
        let max = "a".repeat(65_535);
        assert_eq!(validate_topic_filter(&max), Ok(()));
        let mut over = String::from("a/");
        over.push_str(&"b".repeat(65_534));
        assert_eq!(validate_topic_filter(&over), Err(Error::TooLarge));
    }

    /// The rule as §4.7.1 states it, level by level, as a reference for the byte scan.
    fn filter_valid_by_levels(f: &str) -> bool {
        let levels: Vec<&str> = f.split('/').collect();
        levels.iter().enumerate().all(|(i, level)| {
            (!level.contains('#') || (*level == "#" && i == levels.len() - 1))
                && (!level.contains('+') || *level == "+")
        })
    }

    #[test]
    fn filter_scan_agrees_with_the_level_rule_on_every_short_filter() {
        let alphabet = ['a', '/', '+', '#'];
        let mut checked = 0;
        for len in 1..=7u32 {
            for mut code in 0..4usize.pow(len) {
                let mut filter = String::new();
                for _ in 0..len {
                    filter.push(alphabet[code % 4]);
                    code /= 4;
                }
                let expected = if filter_valid_by_levels(&filter) {
                    Ok(())
                } else {
                    Err(Error::InvalidTopic)
                };
                assert_eq!(validate_topic_filter(&filter), expected, "{filter:?}");
                checked += 1;
            }
        }
        assert_eq!(checked, 21_844);
    }

    #[test]
    fn matching_table() {
        let table: &[(&str, &str, bool)] = &[
            // '#'
            ("sport/tennis/player1/#", "sport/tennis/player1", true),
            (
                "sport/tennis/player1/#",
                "sport/tennis/player1/ranking",
                true,
            ),
            (
                "sport/tennis/player1/#",
                "sport/tennis/player1/score/wimbledon",
                true,
            ),
            ("sport/#", "sport", true),
            ("sport/#", "sport/", true),
            ("sport/#", "sports", false),
            ("#", "sport/tennis", true),
            ("#", "/", true),
            ("a/#", "b/c", false),
            // '+'
            ("sport/tennis/+", "sport/tennis/player1", true),
            ("sport/tennis/+", "sport/tennis/player2", true),
            ("sport/tennis/+", "sport/tennis/player1/ranking", false),
            ("sport/tennis/+", "sport/tennis", false),
            ("sport/+", "sport", false),
            ("sport/+", "sport/", true),
            ("+", "sport", true),
            ("+", "/sport", false),
            ("+/+", "/finance", true),
            ("/+", "/finance", true),
            ("+/tennis/#", "sport/tennis/player1", true),
            ("+/tennis/#", "sport/golf", false),
            ("a/+/c", "a//c", true),
            ("a/+/+", "a/b", false),
            ("+/#", "a", true),
            // exact and empty levels
            ("a/b", "a/b", true),
            ("a/b", "a/b/", false),
            ("a//b", "a//b", true),
            ("a//b", "a/b", false),
            ("/", "/", true),
            ("a", "A", false),
            // '$' topics (§4.7.2)
            ("#", "$SYS/broker/uptime", false),
            ("+/monitor/Clients", "$SYS/monitor/Clients", false),
            ("+", "$SYS", false),
            ("$SYS/#", "$SYS/monitor/Clients", true),
            ("$SYS/monitor/+", "$SYS/monitor/Clients", true),
            ("$SYS", "$SYS", true),
            ("a/#", "a/$x", true),
        ];
        for &(filter, topic, expected) in table {
            assert_eq!(
                topic_matches(filter, topic),
                expected,
                "{filter:?} vs {topic:?}"
            );
        }
    }

    /// The word-at-a-time scans agree with a byte loop at every length and position
    /// (word boundaries, the overlapping last word, the padded short word).
    #[test]
    fn word_scans_match_byte_scans() {
        for len in 1..=40usize {
            for pos in 0..len {
                for bad in [b'+', b'#', 0u8] {
                    let mut t = std::vec![b'x'; len];
                    t[pos] = bad;
                    let t = std::str::from_utf8(&t).unwrap();
                    assert_eq!(validate_topic_name(t), Err(Error::InvalidTopic), "{t:?}");
                }
                for near in [b'*', b',', b'"', b'$', 0x01, 0x7F, b'a' ^ 0x80] {
                    let mut t = std::vec![b'y'; len];
                    t[pos] = near;
                    let expect_ascii = near < 0x80;
                    match std::str::from_utf8(&t) {
                        Ok(s) => assert_eq!(validate_topic_name(s), Ok(()), "{t:?}"),
                        Err(_) => assert!(!expect_ascii),
                    }
                    let expected = std::str::from_utf8(&t).map_err(|_| Error::InvalidUtf8);
                    assert_eq!(validate_utf8(&t), expected, "{t:?}");
                }
                let mut t = std::vec![b'z'; len];
                t[pos] = 0;
                assert_eq!(validate_utf8(&t), Err(Error::InvalidUtf8), "{t:?}");
            }
            // Multi-byte characters across every word boundary.
            let mut s = "q".repeat(len);
            s.insert(len / 2, 'é');
            assert_eq!(validate_utf8(s.as_bytes()), Ok(s.as_str()));
            assert_eq!(validate_topic_name(&s), Ok(()));
        }
    }

    #[test]
    fn utf8_strings() {
        assert_eq!(validate_utf8(b"hello"), Ok("hello"));
        assert_eq!(validate_utf8(b""), Ok(""));
        assert_eq!(validate_utf8("é".as_bytes()), Ok("é"));
        assert_eq!(validate_utf8(b"a\0b"), Err(Error::InvalidUtf8));
        assert_eq!(validate_utf8(&[0xC3]), Err(Error::InvalidUtf8));
        assert_eq!(validate_utf8(&[0xFF, 0x41]), Err(Error::InvalidUtf8));
        // Surrogate halves (U+D800) encoded in UTF-8 are invalid (§1.5.3).
        assert_eq!(validate_utf8(&[0xED, 0xA0, 0x80]), Err(Error::InvalidUtf8));
        let max = [b'x'; 65_535];
        assert_eq!(validate_utf8(&max).map(str::len), Ok(65_535));
        let over = [b'x'; 65_536];
        assert_eq!(validate_utf8(&over), Err(Error::TooLarge));
    }

    /// The edges of every sequence length: the first and last valid code point, the overlong
    /// forms just below, surrogates, the limit U+10FFFF, and truncations.
    #[test]
    fn utf8_validator_boundaries() {
        let valid: &[&[u8]] = &[
            b"\x01",
            b"\x7F",
            &[0xC2, 0x80],             // U+0080
            &[0xDF, 0xBF],             // U+07FF
            &[0xE0, 0xA0, 0x80],       // U+0800
            &[0xED, 0x9F, 0xBF],       // U+D7FF
            &[0xEE, 0x80, 0x80],       // U+E000
            &[0xEF, 0xBF, 0xBF],       // U+FFFF
            &[0xF0, 0x90, 0x80, 0x80], // U+10000
            &[0xF4, 0x8F, 0xBF, 0xBF], // U+10FFFF
            "aé€😀".as_bytes(),
        ];
        for bytes in valid {
            assert!(is_utf8_without_nul(bytes), "{bytes:02x?}");
            assert_eq!(
                validate_utf8(bytes),
                Ok(std::str::from_utf8(bytes).unwrap())
            );
        }
        let invalid: &[&[u8]] = &[
            b"\0",
            b"a\0",
            &[0xC0, 0x80],                         // overlong U+0000 (2 bytes)
            &[0xC1, 0xBF],                         // overlong U+007F
            &[0xE0, 0x80, 0x80],                   // overlong U+0000 (3 bytes)
            &[0xE0, 0x9F, 0xBF],                   // overlong U+07FF
            &[0xF0, 0x80, 0x80, 0x80],             // overlong U+0000 (4 bytes)
            &[0xF0, 0x8F, 0xBF, 0xBF],             // overlong U+FFFF
            &[0xED, 0xA0, 0x80],                   // U+D800
            &[0xED, 0xBF, 0xBF],                   // U+DFFF
            &[0xED, 0xA0, 0x80, 0xED, 0xB0, 0x80], // a surrogate pair (CESU-8)
            &[0xF4, 0x90, 0x80, 0x80],             // U+110000
            &[0xF5, 0x80, 0x80, 0x80],
            &[0xF8, 0x88, 0x80, 0x80, 0x80], // 5-byte form
            &[0xFF],
            &[0x80],             // continuation without a lead
            &[0xBF, 0x41],       // likewise
            &[0xC2],             // truncated 2-byte
            &[0xE2, 0x82],       // truncated 3-byte
            &[0xF0, 0x9F, 0x98], // truncated 4-byte
            &[0xE2, 0x41, 0xAC], // a non-continuation inside
            &[0xF0, 0x9F, 0x41, 0x80],
            &[0xC2, 0xC0],
        ];
        for bytes in invalid {
            assert!(!is_utf8_without_nul(bytes), "{bytes:02x?}");
            assert_eq!(
                validate_utf8(bytes),
                Err(Error::InvalidUtf8),
                "{bytes:02x?}"
            );
        }
        // Every code point, encoded by std: accepted exactly when it is not U+0000.
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let mut buf = [0u8; 4];
            let bytes = c.encode_utf8(&mut buf).as_bytes();
            assert_eq!(is_utf8_without_nul(bytes), c != '\0', "{c:?}");
        }
        // Every 2-byte and 3-byte string whose first byte is not ASCII agrees with std.
        for a in 0x80..=0xFFu8 {
            for b in 0..=0xFFu8 {
                let two = [a, b];
                assert_eq!(
                    is_utf8_without_nul(&two),
                    std::str::from_utf8(&two).is_ok() && b != 0
                );
                for c in [
                    0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF,
                ] {
                    let three = [a, b, c];
                    let std_ok = std::str::from_utf8(&three).is_ok() && !three.contains(&0);
                    assert_eq!(is_utf8_without_nul(&three), std_ok, "{three:02x?}");
                }
            }
        }
    }

    /// Agreement with `core::str::from_utf8` (plus the U+0000 rule) over random strings from a
    /// fixed-seed PRNG: raw bytes, bytes drawn from lead/continuation-heavy alphabets, and valid
    /// strings with one byte changed.
    #[test]
    fn utf8_validator_agrees_with_core_on_random_strings() {
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = [
            0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0,
            0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF,
        ];
        let (mut valid, mut invalid) = (0, 0);
        for round in 0..6_000 {
            let len = (next() % 24) as usize;
            let bytes: std::vec::Vec<u8> = match round % 3 {
                0 => (0..len).map(|_| next() as u8).collect(),
                1 => (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect(),
                _ => {
                    let text: String = (0..len)
                        .filter_map(|_| char::from_u32((next() % 0x11_0000) as u32))
                        .collect();
                    let mut bytes = text.into_bytes();
                    if !bytes.is_empty() && next() % 2 == 0 {
                        let at = (next() % bytes.len() as u64) as usize;
                        bytes[at] = next() as u8;
                    }
                    bytes
                }
            };
            let expected = std::str::from_utf8(&bytes).is_ok() && !bytes.contains(&0);
            assert_eq!(is_utf8_without_nul(&bytes), expected, "{bytes:02x?}");
            let expected = std::str::from_utf8(&bytes).map_err(|_| Error::InvalidUtf8);
            let expected = expected.and_then(|s| match s.contains('\0') {
                true => Err(Error::InvalidUtf8),
                false => Ok(s),
            });
            assert_eq!(validate_utf8(&bytes), expected);
            if expected.is_ok() {
                valid += 1;
            } else {
                invalid += 1;
            }
        }
        // Both outcomes were well exercised.
        assert!(
            valid > 1_000 && invalid > 1_000,
            "{valid} valid, {invalid} invalid"
        );
    }
}
