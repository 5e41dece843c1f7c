//! The bytes on flash: the sector header, the records, their CRC. Layout version 1.
//!
//! A sector starts with a header of 16 bytes (padded to the write granularity):
//! `"MQES"`, the layout version, three zero bytes, the sector's sequence number (u32 LE, one
//! more for every sector opened) and a CRC-32 of the 12 bytes before it.
//! A record is `kind u8, 0 u8, len u16 LE, body[len], crc32 LE` (the CRC covers kind to the
//! end of the body), padded with 0xFF to the granularity. A record never spans two sectors.
//! Erased flash (0xFF) where a record header would be ends the sector's records.

/// The first bytes of every sector this layout wrote.
pub const MAGIC: [u8; 4] = *b"MQES";
/// Bumped whenever the bytes on flash change meaning; another version is refused, not read.
pub const VERSION: u8 = 1;
pub const SECTOR_HEADER_LEN: usize = 16;
/// Record header (4) and CRC (4).
pub const RECORD_OVERHEAD: usize = 8;
/// The largest write granularity (internal flash with ECC writes 8..32 bytes at once).
pub const MAX_GRANULE: usize = 32;

const KIND_SNAP_BEGIN: u8 = 0x01;
const KIND_SNAP_END: u8 = 0x02;
const KIND_NEXT_ID: u8 = 0x03;
const KIND_PUBLISH: u8 = 0x10;
const KIND_PUBREL: u8 = 0x11;
const KIND_DONE: u8 = 0x12;
const KIND_DONE_BATCH: u8 = 0x13;
const KIND_RX_QOS2: u8 = 0x20;
const KIND_RX_RELEASE: u8 = 0x21;
const KIND_RX_CLEAR: u8 = 0x22;
const KIND_RX_RUN: u8 = 0x23;
const KIND_SUBSCRIBE: u8 = 0x30;
const KIND_UNSUBSCRIBE: u8 = 0x31;

/// One durable fact about the session: the only shape in which session state reaches flash.
/// Runtime-only state (what was sent on this connection, timers, pending SUBSCRIBEs) has no
/// variant here, so the store can never see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record<'a> {
    /// A snapshot of the whole durable state starts; `epoch` is its first sector's sequence.
    SnapBegin { epoch: u32 },
    /// The snapshot `epoch` is complete: everything older is dead.
    SnapEnd { epoch: u32 },
    /// The packet-id counter: the next id to try.
    NextId(u16),
    /// A QoS 1/2 message accepted by `publish`: its encoded PUBLISH packet.
    Publish { packet_id: u16, packet: &'a [u8] },
    /// PUBREC received: the message now waits for PUBCOMP (its PUBLISH bytes are dead).
    Pubrel(u16),
    /// PUBACK or PUBCOMP received: the message is complete.
    Done(u16),
    /// Several `Done`, batched (`Store::set_batch`): packet ids, u16 LE each.
    DoneBatch { ids: &'a [u8] },
    /// An incoming QoS 2 message was delivered; its id (and the hash of its topic and
    /// payload) waits for PUBREL.
    RxQos2 { id: u16, hash: u16 },
    /// Consecutive incoming ids held without hashes (a compacted run), in a snapshot.
    RxRun { start: u16, len: u16 },
    /// PUBREL received for an incoming id.
    RxRelease(u16),
    /// The broker kept no session: every incoming id is forgotten.
    RxClear,
    /// A subscription to renew after a lost session: its QoS and filter (UTF-8).
    Subscribe { qos: u8, filter: &'a [u8] },
    /// UNSUBSCRIBE: the filter is not renewed any more.
    Unsubscribe { filter: &'a [u8] },
}

impl Record<'_> {
    fn kind(&self) -> u8 {
        match self {
            Record::SnapBegin { .. } => KIND_SNAP_BEGIN,
            Record::SnapEnd { .. } => KIND_SNAP_END,
            Record::NextId(_) => KIND_NEXT_ID,
            Record::Publish { .. } => KIND_PUBLISH,
            Record::Pubrel(_) => KIND_PUBREL,
            Record::Done(_) => KIND_DONE,
            Record::DoneBatch { .. } => KIND_DONE_BATCH,
            Record::RxQos2 { .. } => KIND_RX_QOS2,
            Record::RxRun { .. } => KIND_RX_RUN,
            Record::RxRelease(_) => KIND_RX_RELEASE,
            Record::RxClear => KIND_RX_CLEAR,
            Record::Subscribe { .. } => KIND_SUBSCRIBE,
            Record::Unsubscribe { .. } => KIND_UNSUBSCRIBE,
        }
    }

    /// The fixed part of the body (before a PUBLISH's packet bytes) and its length.
    fn fixed(&self) -> ([u8; 4], usize) {
        match *self {
            Record::SnapBegin { epoch } | Record::SnapEnd { epoch } => (epoch.to_le_bytes(), 4),
            Record::RxQos2 { id: a, hash: b } | Record::RxRun { start: a, len: b } => {
                let ([a0, a1], [b0, b1]) = (a.to_le_bytes(), b.to_le_bytes());
                ([a0, a1, b0, b1], 4)
            }
            Record::NextId(id)
            | Record::Pubrel(id)
            | Record::Done(id)
            | Record::RxRelease(id)
            | Record::Publish { packet_id: id, .. } => {
                let [a, b] = id.to_le_bytes();
                ([a, b, 0, 0], 2)
            }
            Record::Subscribe { qos, .. } => ([qos, 0, 0, 0], 1),
            Record::RxClear | Record::Unsubscribe { .. } | Record::DoneBatch { .. } => ([0; 4], 0),
        }
    }

    /// `fixed()`'s length alone: the size checks need no bytes (and no stack for them).
    #[inline(always)]
    fn fixed_len(&self) -> usize {
        match self {
            Record::SnapBegin { .. }
            | Record::SnapEnd { .. }
            | Record::RxQos2 { .. }
            | Record::RxRun { .. } => 4,
            Record::NextId(_)
            | Record::Pubrel(_)
            | Record::Done(_)
            | Record::RxRelease(_)
            | Record::Publish { .. } => 2,
            Record::Subscribe { .. } => 1,
            Record::RxClear | Record::Unsubscribe { .. } | Record::DoneBatch { .. } => 0,
        }
    }

    #[inline(always)]
    fn tail(&self) -> &[u8] {
        match self {
            Record::Publish { packet, .. } => packet,
            Record::Subscribe { filter, .. } | Record::Unsubscribe { filter } => filter,
            Record::DoneBatch { ids } => ids,
            _ => &[],
        }
    }

    /// Body length, None when it cannot be encoded (over 65,535 bytes).
    // Inlined: a frame less under every size check of the store's write path (stack budget).
    #[inline(always)]
    pub fn body_len(&self) -> Option<u16> {
        u16::try_from(self.fixed_len().checked_add(self.tail().len())?).ok()
    }

    /// Bytes on flash, padding included.
    pub fn flash_len(&self, granule: usize) -> Option<usize> {
        padded(
            usize::from(self.body_len()?).checked_add(RECORD_OVERHEAD)?,
            granule,
        )
    }

    /// Feeds the record's bytes (header, body, CRC; no padding) to `out`, in order.
    // Generic with one call of `out`, and inlined into its one writer (`write_record`) with
    // the staging: one frame instead of four on mqe_poll's deepest path (docs/STORE.md).
    #[inline(always)]
    pub fn emit(&self, mut out: impl FnMut(&[u8]) -> bool) -> bool {
        let (fixed, n) = self.fixed();
        let fixed = fixed.get(..n).unwrap_or_default();
        let tail = self.tail();
        // body_len's sum, without its call (and its second look at the record).
        let Some(len) = n
            .checked_add(tail.len())
            .and_then(|l| u16::try_from(l).ok())
        else {
            return false;
        };
        let [l0, l1] = len.to_le_bytes();
        let header = [self.kind(), 0, l0, l1];
        let crc = Crc::new()
            .update(&header)
            .update(fixed)
            .update(tail)
            .finish()
            .to_le_bytes();
        let parts = [&header[..], fixed, tail, &crc];
        parts.iter().all(|part| out(part))
    }

    /// Decodes a body whose CRC was checked; None for an unknown kind or a wrong length.
    pub fn decode(kind: u8, body: &[u8]) -> Option<Record<'_>> {
        let u16_at = |at: usize| -> Option<u16> {
            let b = body.get(at..at.checked_add(2)?)?;
            Some(u16::from_le_bytes([*b.first()?, *b.get(1)?]))
        };
        let exact = |n: usize| body.len() == n;
        let record = match kind {
            KIND_SNAP_BEGIN | KIND_SNAP_END if exact(4) => {
                let lo = u32::from(u16_at(0)?);
                let hi = u32::from(u16_at(2)?);
                let epoch = lo | (hi << 16);
                if kind == KIND_SNAP_BEGIN {
                    Record::SnapBegin { epoch }
                } else {
                    Record::SnapEnd { epoch }
                }
            }
            KIND_NEXT_ID if exact(2) => Record::NextId(u16_at(0)?),
            KIND_PUBREL if exact(2) => Record::Pubrel(u16_at(0)?),
            KIND_DONE if exact(2) => Record::Done(u16_at(0)?),
            KIND_RX_QOS2 if exact(4) => Record::RxQos2 {
                id: u16_at(0)?,
                hash: u16_at(2)?,
            },
            KIND_RX_RUN if exact(4) => Record::RxRun {
                start: u16_at(0)?,
                len: u16_at(2)?,
            },
            KIND_RX_RELEASE if exact(2) => Record::RxRelease(u16_at(0)?),
            KIND_RX_CLEAR if exact(0) => Record::RxClear,
            KIND_SUBSCRIBE if body.len() > 1 => Record::Subscribe {
                qos: *body.first()?,
                filter: body.get(1..)?,
            },
            KIND_UNSUBSCRIBE if !body.is_empty() => Record::Unsubscribe { filter: body },
            KIND_DONE_BATCH if !body.is_empty() && body.len().is_multiple_of(2) => {
                Record::DoneBatch { ids: body }
            }
            KIND_PUBLISH if body.len() > 2 => Record::Publish {
                packet_id: u16_at(0)?,
                packet: body.get(2..)?,
            },
            _ => return None,
        };
        Some(record)
    }
}

/// `len` rounded up to a multiple of `granule` (a power of two).
pub fn padded(len: usize, granule: usize) -> Option<usize> {
    let mask = granule.checked_sub(1)?;
    Some(len.checked_add(mask)? & !mask)
}

/// The sector header's bytes for sequence `seq`.
pub fn sector_header(seq: u32) -> [u8; SECTOR_HEADER_LEN] {
    let mut h = [0u8; SECTOR_HEADER_LEN];
    let [m0, m1, m2, m3] = MAGIC;
    let [s0, s1, s2, s3] = seq.to_le_bytes();
    let head = [m0, m1, m2, m3, VERSION, 0, 0, 0, s0, s1, s2, s3];
    let [c0, c1, c2, c3] = Crc::new().update(&head).finish().to_le_bytes();
    for (dst, src) in h.iter_mut().zip(head.iter().chain([c0, c1, c2, c3].iter())) {
        *dst = *src;
    }
    h
}

/// What a sector's first bytes say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectorKind {
    /// Ours, this version, with its sequence number.
    Log(u32),
    /// Ours (the CRC holds) but another layout version.
    OtherVersion(u8),
    /// Every byte read is 0xFF.
    Blank,
    /// Anything else: a torn header, a half-erased sector, foreign bytes.
    Garbage,
}

pub fn parse_sector_header(h: &[u8; SECTOR_HEADER_LEN]) -> SectorKind {
    if h.iter().all(|&b| b == 0xFF) {
        return SectorKind::Blank;
    }
    let (head, crc) = h.split_at(12);
    let stored = crc
        .get(..4)
        .and_then(|c| c.try_into().ok())
        .map(u32::from_le_bytes);
    if head.get(..4) != Some(&MAGIC[..]) || stored != Some(Crc::new().update(head).finish()) {
        return SectorKind::Garbage;
    }
    let version = head.get(4).copied().unwrap_or(0);
    if version != VERSION {
        return SectorKind::OtherVersion(version);
    }
    let seq = head
        .get(8..12)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_le_bytes);
    SectorKind::Log(seq)
}

/// CRC-32 (IEEE, reflected, as zlib), four bits at a time: a 64-byte table instead of 1 KB.
#[derive(Clone, Copy)]
pub struct Crc(u32);

const CRC_NIBBLES: [u32; 16] = [
    0x0000_0000,
    0x1DB7_1064,
    0x3B6E_20C8,
    0x26D9_30AC,
    0x76DC_4190,
    0x6B6B_51F4,
    0x4DB2_6158,
    0x5005_713C,
    0xEDB8_8320,
    0xF00F_9344,
    0xD6D6_A3E8,
    0xCB61_B38C,
    0x9B64_C2B0,
    0x86D3_D2D4,
    0xA00A_E278,
    0xBDBD_F21C,
];

impl Crc {
    pub fn new() -> Crc {
        Crc(0xFFFF_FFFF)
    }

    pub fn update(mut self, bytes: &[u8]) -> Crc {
        for &b in bytes {
            let mut c = self.0 ^ u32::from(b);
            for _ in 0..2 {
                let nibble = (c & 0xF) as usize;
                c = (c >> 4) ^ CRC_NIBBLES.get(nibble).copied().unwrap_or(0);
            }
            self.0 = c;
        }
        self
    }

    pub fn finish(self) -> u32 {
        !self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        // The standard check value of CRC-32/ISO-HDLC.
        assert_eq!(Crc::new().update(b"123456789").finish(), 0xCBF4_3926);
    }

    #[test]
    fn records_round_trip() {
        let packet = [0x32, 5, 0, 1, b'a', 0, 7];
        let records = [
            Record::SnapBegin { epoch: 0x0102_0304 },
            Record::SnapEnd { epoch: 7 },
            Record::NextId(9),
            Record::Publish {
                packet_id: 7,
                packet: &packet,
            },
            Record::Pubrel(65535),
            Record::Done(1),
            Record::RxQos2 {
                id: 2,
                hash: 0x3FFF,
            },
            Record::RxRun { start: 9, len: 300 },
            Record::RxRelease(3),
            Record::RxClear,
            Record::Subscribe {
                qos: 2,
                filter: b"a/+/b",
            },
            Record::Unsubscribe { filter: b"a/#" },
            Record::DoneBatch { ids: &[1, 0, 2, 0] },
        ];
        for r in records {
            let mut bytes = [0u8; 64];
            let mut n = 0;
            assert!(r.emit(|b: &[u8]| {
                bytes[n..n + b.len()].copy_from_slice(b);
                n += b.len();
                true
            }));
            assert_eq!(n, usize::from(r.body_len().unwrap()) + RECORD_OVERHEAD);
            let body = &bytes[4..n - 4];
            assert_eq!(Record::decode(bytes[0], body), Some(r));
            let crc = Crc::new().update(&bytes[..n - 4]).finish();
            assert_eq!(&bytes[n - 4..n], &crc.to_le_bytes());
        }
    }

    #[test]
    fn sector_header_kinds() {
        let h = sector_header(42);
        assert_eq!(parse_sector_header(&h), SectorKind::Log(42));
        assert_eq!(parse_sector_header(&[0xFF; 16]), SectorKind::Blank);
        let mut torn = h;
        torn[13] |= 0x10;
        assert_eq!(parse_sector_header(&torn), SectorKind::Garbage);
        let mut v2 = h;
        v2[4] = 2;
        let crc = Crc::new().update(&v2[..12]).finish().to_le_bytes();
        v2[12..].copy_from_slice(&crc);
        assert_eq!(parse_sector_header(&v2), SectorKind::OtherVersion(2));
    }
}
