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
    if f.bytes().any(|b| b == 0) {
        return Err(Error::InvalidTopic);
    }
    let mut levels = f.split('/').peekable();
    while let Some(level) = levels.next() {
        let is_last = levels.peek().is_none();
        let has_hash = level.contains('#');
        let has_plus = level.contains('+');
        if has_hash && (level != "#" || !is_last) {
            return Err(Error::InvalidTopic);
        }
        if has_plus && level != "+" {
            return Err(Error::InvalidTopic);
        }
    }
    Ok(())
}

/// Whether `topic` (a valid name) matches `filter` (a valid filter). `+` matches one whole level
/// (possibly empty), `#` the parent level and any number of levels below it; a filter starting
/// with a wildcard never matches a topic starting with `$` (§4.7.2). Invalid input never panics,
/// it just may not match.
pub fn topic_matches(filter: &str, topic: &str) -> bool {
    if topic.starts_with('$') && (filter.starts_with('+') || filter.starts_with('#')) {
        return false;
    }
    let mut filter_levels = filter.split('/');
    let mut topic_levels = topic.split('/');
    // Each step consumes a filter level; bounded by the filter's length.
    loop {
        match (filter_levels.next(), topic_levels.next()) {
            (Some("#"), _) => return true,
            (Some("+"), Some(_)) => {}
            (Some(f), Some(t)) if f == t => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Checks an MQTT UTF-8 string: at most 65,535 bytes (else `TooLarge`), valid UTF-8 without
/// U+0000 (else `InvalidUtf8`).
pub fn validate_utf8(bytes: &[u8]) -> Result<&str, Error> {
    if bytes.len() > MAX_STRING_LEN {
        return Err(Error::TooLarge);
    }
    // Fast path: ASCII without NUL (every topic and client id in practice).
    if !any_word(bytes, b'a', |w| (w & HIGH_BITS) | zero_lanes(w)) {
        // SAFETY: every byte is below 0x80, and ASCII is valid UTF-8.
        return Ok(unsafe { core::str::from_utf8_unchecked(bytes) });
    }
    let s = core::str::from_utf8(bytes).map_err(|_| Error::InvalidUtf8)?;
    if bytes.contains(&0) {
        return Err(Error::InvalidUtf8);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

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
}
