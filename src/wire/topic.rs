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
    if t.bytes().any(|b| matches!(b, b'+' | b'#' | 0)) {
        return Err(Error::InvalidTopic);
    }
    Ok(())
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
