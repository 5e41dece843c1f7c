//! Framing: where the packet at the front of a byte stream ends, checked strictly.

use super::packet_type::*;
use crate::error::Error;

/// What `frame` found at the front of the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// More bytes are needed to know (or to hold) the whole packet.
    Incomplete,
    /// A whole packet of `total_len` bytes (fixed header included) is at the front.
    Complete { total_len: usize },
}

/// A parsed fixed header (§2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct FixedHeader {
    pub first_byte: u8,
    /// Bytes of the fixed header: 1 + the length bytes (2..=5).
    pub header_len: usize,
    pub remaining_len: usize,
}

impl FixedHeader {
    pub fn packet_type(&self) -> u8 {
        self.first_byte >> 4
    }
    pub fn flags(&self) -> u8 {
        self.first_byte & 0x0F
    }
    /// header + body; cannot overflow: header_len <= 5 and remaining_len <= 268,435,455.
    pub fn total_len(&self) -> usize {
        self.header_len.saturating_add(self.remaining_len)
    }
}

/// Checks the first byte against MQTT 3.1.1 Table 2.2 (types and their fixed flags).
fn check_first_byte(b: u8) -> Result<(), Error> {
    let flags = b & 0x0F;
    let ok = match b >> 4 {
        PUBLISH => flags & 0b0110 != 0b0110, // QoS 3 is forbidden (§3.3.1.2)
        PUBREL | SUBSCRIBE | UNSUBSCRIBE => flags == 0b0010,
        CONNECT | CONNACK | PUBACK | PUBREC | PUBCOMP | SUBACK | UNSUBACK | PINGREQ | PINGRESP
        | DISCONNECT => flags == 0,
        _ => false, // 0 and 15 are reserved
    };
    if ok {
        Ok(())
    } else {
        Err(Error::Malformed)
    }
}

/// Parses the fixed header at the front of `buf`; `None` when more bytes are needed.
pub(super) fn parse_fixed_header(buf: &[u8]) -> Result<Option<FixedHeader>, Error> {
    let Some(&first_byte) = buf.first() else {
        return Ok(None);
    };
    check_first_byte(first_byte)?;
    // u32 holds any 4-byte length (28 bits) whatever the width of usize.
    let mut remaining_len: u32 = 0;
    // At most 4 length bytes (§2.2.3); the 5th is never read, only rejected.
    for index in 0..4usize {
        let Some(&byte) = buf.get(index + 1) else {
            return Ok(None);
        };
        remaining_len |= u32::from(byte & 0x7F) << (7 * index);
        if byte & 0x80 == 0 {
            // A last byte of 0 after a continuation adds nothing: a non-minimal encoding.
            if index > 0 && byte == 0 {
                return Err(Error::Malformed);
            }
            let remaining_len =
                usize::try_from(remaining_len).map_err(|_| Error::PacketTooLarge)?;
            return Ok(Some(FixedHeader {
                first_byte,
                header_len: index + 2,
                remaining_len,
            }));
        }
    }
    Err(Error::Malformed)
}

/// Looks at the front of `buf` and says whether a whole packet is there, strictly:
/// reserved types and wrong fixed-header flags, a non-minimal or 5-byte remaining length are
/// `Malformed`; a packet longer than `max_packet` is `PacketTooLarge` as soon as its length
/// is known, before its body arrives.
pub fn frame(buf: &[u8], max_packet: usize) -> Result<Frame, Error> {
    let Some(header) = parse_fixed_header(buf)? else {
        return Ok(Frame::Incomplete);
    };
    let total_len = header.total_len();
    if total_len > max_packet {
        return Err(Error::PacketTooLarge);
    }
    if buf.len() < total_len {
        return Ok(Frame::Incomplete);
    }
    Ok(Frame::Complete { total_len })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    const BIG: usize = usize::MAX;

    #[test]
    fn empty_and_partial_headers_are_incomplete() {
        assert_eq!(frame(&[], BIG), Ok(Frame::Incomplete));
        assert_eq!(frame(&[0x30], BIG), Ok(Frame::Incomplete));
        assert_eq!(frame(&[0x30, 0x80], BIG), Ok(Frame::Incomplete));
        assert_eq!(frame(&[0x30, 0xFF, 0xFF, 0xFF], BIG), Ok(Frame::Incomplete));
        // Header known, body not yet there.
        assert_eq!(frame(&[0x30, 0x05, 0, 1], BIG), Ok(Frame::Incomplete));
    }

    #[test]
    fn complete_packets() {
        assert_eq!(
            frame(&[0xD0, 0x00], BIG),
            Ok(Frame::Complete { total_len: 2 })
        );
        // Trailing bytes of the next packet are not part of this one.
        assert_eq!(
            frame(&[0x40, 0x02, 0x00, 0x01, 0xD0, 0x00], BIG),
            Ok(Frame::Complete { total_len: 4 })
        );
    }

    #[test]
    fn reserved_types_rejected() {
        assert_eq!(frame(&[0x00], BIG), Err(Error::Malformed));
        assert_eq!(frame(&[0x00, 0x00], BIG), Err(Error::Malformed));
        assert_eq!(frame(&[0xF0, 0x00], BIG), Err(Error::Malformed));
    }

    #[test]
    fn fixed_header_flags_per_table_2_2() {
        for ty in 1u8..=14 {
            for flags in 0u8..16 {
                let expected_ok = match ty {
                    3 => flags & 0b0110 != 0b0110,
                    6 | 8 | 10 => flags == 0b0010,
                    _ => flags == 0,
                };
                let first = (ty << 4) | flags;
                let got = frame(&[first, 0x00], BIG);
                if expected_ok {
                    assert_eq!(got, Ok(Frame::Complete { total_len: 2 }), "{first:#04x}");
                } else {
                    assert_eq!(got, Err(Error::Malformed), "{first:#04x}");
                }
            }
        }
        // A bad first byte is rejected before the length arrives.
        assert_eq!(frame(&[0x62 ^ 0x02], BIG), Err(Error::Malformed));
        assert_eq!(frame(&[0x36], BIG), Err(Error::Malformed));
    }

    /// Header for remaining length `rem`, then a zeroed body (lazily mapped: cheap even at 256 MiB).
    fn packet_with_remaining(header: &[u8], rem: usize) -> Vec<u8> {
        let mut v = vec![0u8; header.len() + rem];
        v[..header.len()].copy_from_slice(header);
        v
    }

    #[test]
    fn remaining_length_boundaries() {
        let cases: [(&[u8], usize); 7] = [
            (&[0x30, 0x7F], 127),
            (&[0x30, 0x80, 0x01], 128),
            (&[0x30, 0xFF, 0x7F], 16_383),
            (&[0x30, 0x80, 0x80, 0x01], 16_384),
            (&[0x30, 0xFF, 0xFF, 0x7F], 2_097_151),
            (&[0x30, 0x80, 0x80, 0x80, 0x01], 2_097_152),
            (&[0x30, 0xFF, 0xFF, 0xFF, 0x7F], 268_435_455),
        ];
        for (header, rem) in cases {
            let total = header.len() + rem;
            let buf = packet_with_remaining(header, rem);
            assert_eq!(frame(&buf, BIG), Ok(Frame::Complete { total_len: total }));
            // One byte short of the body: incomplete.
            assert_eq!(frame(&buf[..total - 1], BIG), Ok(Frame::Incomplete));
            // Just the header: already known too large for a smaller limit.
            assert_eq!(frame(header, total - 1), Err(Error::PacketTooLarge));
            assert_eq!(frame(header, total), Ok(Frame::Incomplete));
        }
    }

    #[test]
    fn non_minimal_lengths_rejected() {
        for header in [
            &[0x30, 0x80, 0x00][..],
            &[0x30, 0xFF, 0x00],
            &[0x30, 0x80, 0x80, 0x00],
            &[0x30, 0x80, 0x80, 0x80, 0x00],
            &[0x30, 0xFF, 0xFF, 0xFF, 0x00],
            &[0xD0, 0x80, 0x00],
        ] {
            assert_eq!(frame(header, BIG), Err(Error::Malformed), "{header:02x?}");
        }
    }

    #[test]
    fn five_byte_length_rejected() {
        assert_eq!(
            frame(&[0x30, 0x80, 0x80, 0x80, 0x80, 0x01], BIG),
            Err(Error::Malformed)
        );
        // Rejected as soon as the 4th length byte says "more follows".
        assert_eq!(
            frame(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF], BIG),
            Err(Error::Malformed)
        );
    }

    #[test]
    fn too_large_decided_before_body() {
        assert_eq!(frame(&[0x30, 0x7F], 128), Err(Error::PacketTooLarge));
        assert_eq!(frame(&[0x30, 0x7F], 129), Ok(Frame::Incomplete));
        assert_eq!(frame(&[0xD0, 0x00], 1), Err(Error::PacketTooLarge));
    }
}
