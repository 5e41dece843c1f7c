//! What went over the wire (feature `stats`), so that an application on a metered cellular
//! link sees its own data bill: bytes as the socket moved them (fixed headers, pings and
//! re-sends included), packets per MQTT type in each direction, connects and reconnects.
//!
//! Packets are counted by following the byte streams themselves (first byte, remaining
//! length, body), so the counts match what a capture of the link would show, whatever the
//! engine did. Without the feature every hook is empty.

/// The counters since the client was made (feature `stats`). Packet arrays are indexed by the
/// MQTT control packet type (1 CONNECT ... 14 DISCONNECT; 0 and 15 stay 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WireStats {
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub packets_sent: [u32; 16],
    pub packets_received: [u32; 16],
    /// PUBLISH packets sent with DUP set: re-sends after a reconnect.
    pub publish_resends: u32,
    /// CONNACKs that accepted the connection.
    pub connects: u32,
    /// Connection attempts started by automatic reconnect or by link-up (not by `connect`).
    pub reconnects: u32,
}

/// Follows one direction's byte stream packet by packet. It runs on every send and receive,
/// so the common packet (first byte, a one-byte remaining length, the body) takes one round.
#[cfg(feature = "stats")]
#[derive(Clone, Copy, Debug)]
struct Scanner {
    /// Bytes of the current packet's body still to pass.
    body_left: u32,
    /// Inside the remaining-length field: its value so far.
    length: u32,
    /// Inside the remaining-length field: the next digit's shift plus 1; 0 when the next
    /// byte (after `body_left`) is a packet's first byte (so the new state is all zeros).
    shift_1: u8,
}

#[cfg(feature = "stats")]
impl Scanner {
    const NEW: Scanner = Scanner {
        body_left: 0,
        length: 0,
        shift_1: 0,
    };

    /// Counts the packets that start in `bytes` into `per_type`; returns how many of them are
    /// PUBLISH packets with DUP set. One copy for both directions in the firmware (flash).
    #[cfg_attr(mqe_speed, inline(always))]
    fn scan(&mut self, bytes: &[u8], per_type: &mut [u32; 16]) -> u32 {
        let mut dups = 0u32;
        let mut first = |byte: u8| {
            if let Some(slot) = per_type.get_mut(usize::from(byte >> 4)) {
                *slot = slot.saturating_add(1);
            }
            // PUBLISH (type 3) with DUP (0x08).
            dups = dups.saturating_add(u32::from(byte & 0xF8 == 0x38));
        };
        // The common call: exactly one whole packet with a one-byte remaining length.
        if let (0, 0, [head, length, body @ ..]) = (self.body_left, self.shift_1, bytes) {
            if length & 0x80 == 0 && usize::from(*length) == body.len() {
                first(*head);
                return dups;
            }
        }
        let mut rest = bytes;
        // Each round consumes at least one byte.
        loop {
            if self.body_left > 0 {
                let skip =
                    usize::try_from(self.body_left).map_or(rest.len(), |b| b.min(rest.len()));
                self.body_left = self
                    .body_left
                    .saturating_sub(u32::try_from(skip).unwrap_or(u32::MAX));
                rest = rest.get(skip..).unwrap_or_default();
            }
            let [byte, tail @ ..] = rest else {
                return dups;
            };
            let byte = *byte;
            rest = tail;
            if self.shift_1 == 0 {
                first(byte);
                match rest {
                    // A one-byte remaining length: the whole fixed header at once.
                    [length, tail @ ..] if length & 0x80 == 0 => {
                        self.body_left = u32::from(*length);
                        rest = tail;
                    }
                    _ => {
                        self.length = 0;
                        self.shift_1 = 1;
                    }
                }
                continue;
            }
            let shift = self.shift_1.saturating_sub(1);
            self.length |= u32::from(byte & 0x7F) << shift;
            if byte & 0x80 != 0 && shift < 21 {
                self.shift_1 = shift + 8;
            } else {
                // A fifth length byte would be malformed: the scan starts over.
                self.body_left = if byte & 0x80 != 0 { 0 } else { self.length };
                self.shift_1 = 0;
            }
        }
    }
}

/// The counters as the client holds them: the byte counts as 32-bit halves, so that the
/// client's alignment (and size) is the same on every 32-bit target, whatever its u64 alignment.
#[cfg(feature = "stats")]
#[derive(Clone, Copy, Debug)]
pub(super) struct Stats {
    bytes_sent: [u32; 2],
    bytes_received: [u32; 2],
    packets_sent: [u32; 16],
    packets_received: [u32; 16],
    publish_resends: u32,
    connects: u32,
    reconnects: u32,
    tx: Scanner,
    rx: Scanner,
}

/// Adds `n` to the 64-bit count held as [low, high].
#[cfg(feature = "stats")]
fn add64(count: &mut [u32; 2], n: usize) {
    // Wrapping: 2^64 bytes are never moved.
    let total = value64(*count).wrapping_add(n as u64);
    *count = [total as u32, (total >> 32) as u32];
}

#[cfg(feature = "stats")]
fn value64([low, high]: [u32; 2]) -> u64 {
    u64::from(high) << 32 | u64::from(low)
}

#[cfg(not(feature = "stats"))]
#[derive(Clone, Copy, Debug)]
pub(super) struct Stats;

#[cfg(feature = "stats")]
impl Stats {
    pub(super) const NEW: Stats = Stats {
        bytes_sent: [0; 2],
        bytes_received: [0; 2],
        packets_sent: [0; 16],
        packets_received: [0; 16],
        publish_resends: 0,
        connects: 0,
        reconnects: 0,
        tx: Scanner::NEW,
        rx: Scanner::NEW,
    };

    /// A new connection: half packets of the old one were abandoned.
    pub(super) fn new_connection(&mut self) {
        self.tx = Scanner::NEW;
        self.rx = Scanner::NEW;
    }

    /// Inline at opt-level 2/3 (`cfg(mqe_speed)`): it runs on every send and receive.
    #[cfg_attr(mqe_speed, inline(always))]
    pub(super) fn sent(&mut self, bytes: &[u8]) {
        add64(&mut self.bytes_sent, bytes.len());
        let dups = self.tx.scan(bytes, &mut self.packets_sent);
        self.publish_resends = self.publish_resends.saturating_add(dups);
    }

    #[cfg_attr(mqe_speed, inline(always))]
    pub(super) fn received(&mut self, bytes: &[u8]) {
        add64(&mut self.bytes_received, bytes.len());
        self.rx.scan(bytes, &mut self.packets_received);
    }

    pub(super) fn connected(&mut self) {
        self.connects = self.connects.saturating_add(1);
    }

    pub(super) fn reconnect(&mut self) {
        self.reconnects = self.reconnects.saturating_add(1);
    }

    fn wire(&self) -> WireStats {
        WireStats {
            bytes_sent: value64(self.bytes_sent),
            bytes_received: value64(self.bytes_received),
            packets_sent: self.packets_sent,
            packets_received: self.packets_received,
            publish_resends: self.publish_resends,
            connects: self.connects,
            reconnects: self.reconnects,
        }
    }
}

#[cfg(not(feature = "stats"))]
impl Stats {
    pub(super) const NEW: Stats = Stats;
    pub(super) fn new_connection(&mut self) {}
    pub(super) fn sent(&mut self, _bytes: &[u8]) {}
    pub(super) fn received(&mut self, _bytes: &[u8]) {}
    pub(super) fn connected(&mut self) {}
    pub(super) fn reconnect(&mut self) {}
}

#[cfg(feature = "stats")]
impl<'b, S: embedded_nal::TcpClientStack + embedded_nal::Dns> super::Client<'b, S> {
    /// The wire counters since the client was made.
    pub fn wire_stats(&self) -> WireStats {
        self.stats.wire()
    }
}

#[cfg(all(test, feature = "stats"))]
mod tests {
    use super::Scanner;

    /// Packets per type and DUP publishes `scan` finds in `stream` fed `piece` bytes at a time.
    fn counts(stream: &[u8], piece: usize) -> ([u32; 16], u32) {
        let mut scanner = Scanner::NEW;
        let mut per_type = [0u32; 16];
        let mut dups = 0;
        for chunk in stream.chunks(piece) {
            dups += scanner.scan(chunk, &mut per_type);
        }
        (per_type, dups)
    }

    fn expect(packets: &[(usize, u32)], dups: u32) -> ([u32; 16], u32) {
        let mut per_type = [0u32; 16];
        for &(kind, n) in packets {
            per_type[kind] = n;
        }
        (per_type, dups)
    }

    #[test]
    fn packets_are_found_however_the_stream_is_cut() {
        let mut stream = std::vec![0x30, 0x03, b'a', b'b', b'c']; // one-byte length
        stream.extend([0x32, 0xC8, 0x01]); // 200: two length bytes
        stream.extend(core::iter::repeat_n(0x30, 200)); // body bytes that look like heads
        stream.extend([0xD0, 0x00]); // empty body
        stream.extend([0x40, 0x80, 0x80, 0x01]); // 16,384, non-minimal digits followed as sent
        stream.extend(core::iter::repeat_n(0, 16_384));
        stream.extend([0x3A, 0x02, 0x00, 0x01]); // PUBLISH with DUP
        stream.extend([0x62, 0x02, 0x00, 0x01]);
        let want = expect(&[(3, 3), (13, 1), (4, 1), (6, 1)], 1);
        for piece in 1..=stream.len() {
            assert_eq!(counts(&stream, piece), want, "pieces of {piece}");
        }
    }

    #[test]
    fn a_fifth_length_byte_starts_the_scan_over() {
        // Four continuation bytes: the fifth byte is read as the next packet's first byte.
        let stream = [0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0xE0, 0x00];
        for piece in 1..=stream.len() {
            assert_eq!(
                counts(&stream, piece),
                expect(&[(3, 1), (14, 1)], 0),
                "pieces of {piece}"
            );
        }
    }
}
