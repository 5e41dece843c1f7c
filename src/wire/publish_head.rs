//! The front of a PUBLISH too large to hold whole: what can be known of it before its
//! payload, so that the engine can read past it instead of closing the connection.

use super::frame::parse_fixed_header;
use super::packet_type::PUBLISH;
use super::QoS;
use crate::error::Error;

/// A PUBLISH's fixed header and topic length (§3.3.1, §3.3.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublishHead {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    /// The whole packet, fixed header included.
    pub total_len: usize,
    /// Where the topic starts: after the fixed header and the topic's 2-byte length.
    pub topic_at: usize,
    pub topic_len: usize,
}

impl PublishHead {
    /// Bytes up to the end of the packet id (of the topic at QoS 0): what must be read
    /// before the payload.
    pub fn head_len(&self) -> usize {
        let id_len = if self.qos == QoS::AtMostOnce { 0 } else { 2 };
        self.topic_at
            .saturating_add(self.topic_len)
            .saturating_add(id_len)
    }
}

/// Parses the front of `buf` as the start of a PUBLISH; `None` when more bytes are needed.
/// Any other packet type, or a packet longer than `limit`, is `PacketTooLarge` as soon as the
/// fixed header is known (only a PUBLISH is read past); DUP at QoS 0 or a topic and packet
/// id longer than the packet are `Malformed`.
pub fn publish_head(buf: &[u8], limit: usize) -> Result<Option<PublishHead>, Error> {
    let Some(header) = parse_fixed_header(buf)? else {
        return Ok(None);
    };
    if header.packet_type() != PUBLISH || header.total_len() > limit {
        return Err(Error::PacketTooLarge);
    }
    let flags = header.flags();
    let dup = flags & 0b1000 != 0;
    let qos = QoS::from_u8((flags >> 1) & 0b11).map_err(|_| Error::Malformed)?;
    if qos == QoS::AtMostOnce && dup {
        return Err(Error::Malformed);
    }
    let topic_at = header.header_len.saturating_add(2);
    let Some(&[hi, lo]) = buf.get(header.header_len..topic_at) else {
        return Ok(None);
    };
    let head = PublishHead {
        dup,
        qos,
        retain: flags & 0b0001 != 0,
        total_len: header.total_len(),
        topic_at,
        topic_len: usize::from(u16::from_be_bytes([hi, lo])),
    };
    if head.head_len() > head.total_len {
        return Err(Error::Malformed);
    }
    Ok(Some(head))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BIG: usize = usize::MAX;

    #[test]
    fn heads_of_large_publishes() {
        // QoS 1, remaining length 200 (0xC8 0x01), topic "a/b".
        let buf = [0x32, 0xC8, 0x01, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x07];
        let head = publish_head(&buf, BIG).unwrap().unwrap();
        assert_eq!(
            head,
            PublishHead {
                dup: false,
                qos: QoS::AtLeastOnce,
                retain: false,
                total_len: 203,
                topic_at: 5,
                topic_len: 3,
            }
        );
        assert_eq!(head.head_len(), 10);
        assert_eq!(publish_head(&buf[..4], BIG), Ok(None));
        assert_eq!(publish_head(&buf[..2], BIG), Ok(None));
        // The limit is judged from the fixed header alone.
        assert_eq!(publish_head(&buf[..3], 202), Err(Error::PacketTooLarge));
        assert_eq!(publish_head(&buf[..3], 203), Ok(None));
    }

    #[test]
    fn what_cannot_be_read_past() {
        // SUBACK: only a PUBLISH is read past.
        assert_eq!(
            publish_head(&[0x90, 0xC8, 0x01, 0, 1], BIG),
            Err(Error::PacketTooLarge)
        );
        // DUP at QoS 0; a topic longer than the packet.
        assert_eq!(
            publish_head(&[0x38, 0xC8, 0x01, 0, 1], BIG),
            Err(Error::Malformed)
        );
        assert_eq!(
            publish_head(&[0x30, 0x05, 0x00, 0x04], BIG),
            Err(Error::Malformed)
        );
        // QoS 2 with room for the topic but not the packet id.
        assert_eq!(
            publish_head(&[0x34, 0x04, 0x00, 0x02], BIG),
            Err(Error::Malformed)
        );
    }
}
