//! The record log over a `NorFlash` region: open (scan, finish what a cut interrupted),
//! append, snapshot and erase, replay.

use core::mem::MaybeUninit;

use embedded_storage::nor_flash::NorFlash;

use crate::bytes::{copy_into, move_within};

use super::format::{
    padded, parse_sector_header, sector_header, Crc, Record, SectorKind, MAX_GRANULE,
    RECORD_OVERHEAD, SECTOR_HEADER_LEN,
};
use super::{Geometry, Image, Journal, Opened, Stats, StoreError};

/// Bytes staged before a program call: a multiple of every granularity up to 32.
const STAGE: usize = 32;
/// The most completions one `DoneBatch` record gathers.
pub const MAX_BATCH: usize = 16;

/// A power-fail-safe log of session records in a flash region.
pub struct Store<F> {
    flash: F,
    geo: Geometry,
    /// Where records start in a sector (the header, padded).
    first_record: u32,
    /// Erased sectors kept in reserve for a snapshot; the live state must fit in them.
    reserve: u32,
    /// The newest sector, its sequence number, and where its next record goes (the sector
    /// size when it is closed: full, or a write failed there).
    head: u32,
    head_seq: u32,
    head_end: u32,
    /// Sectors in use, ending at `head`; every other sector is erased.
    used: u32,
    /// The newest complete snapshot: its first sector (the oldest in use).
    base: u32,
    /// An erase failed after a snapshot: sectors outside the log may hold old bytes, so
    /// nothing more is written until the region is opened again.
    broken: bool,
    /// Completions gathered before they are written (`set_batch`): packet ids, u16 LE.
    batch: usize,
    pending: [u8; 2 * MAX_BATCH],
    pending_len: usize,
    stats: Stats,
}

/// What one sector's records are, as scanned.
struct SectorScan {
    /// Offset after the last valid record.
    end: u32,
    /// A record failed its check: nothing more may be appended here.
    closed: bool,
}

fn flash_err<E>(_: E) -> StoreError {
    StoreError::Flash
}

impl<F: NorFlash> Store<F> {
    /// Opens the log in `flash`: a blank region is formatted; one that holds a log is
    /// scanned, and what a cut interrupted (a snapshot, an erase) is finished; anything else
    /// is refused.
    pub fn open(flash: F, geo: Geometry) -> Result<(Store<F>, Opened), StoreError> {
        let mut slot = MaybeUninit::uninit();
        let opened = Store::open_in(&mut slot, flash, geo)?;
        // SAFETY: `open_in` returned Ok, so it wrote the store into the slot.
        Ok((unsafe { slot.assume_init() }, opened))
    }

    /// `open`, building the store in `slot` (no copy of it on the stack: `mqe_set_store`
    /// opens it straight into the caller's `mqe_store_t`). On Ok the slot holds the store.
    pub fn open_in(
        slot: &mut MaybeUninit<Store<F>>,
        flash: F,
        geo: Geometry,
    ) -> Result<Opened, StoreError> {
        let store = slot.write(Store::new(flash, geo)?);
        let mut opened = Opened::default();
        let mut head: Option<(u32, u32)> = None;
        let mut blank = true;
        for s in 0..geo.sector_count {
            match store.sector_kind(s)? {
                SectorKind::OtherVersion(v) => return Err(StoreError::Version(v)),
                SectorKind::Log(seq) => {
                    blank = false;
                    if head.is_none_or(|(_, best)| seq > best) {
                        head = Some((s, seq));
                    }
                }
                SectorKind::Garbage => blank = false,
                SectorKind::Blank => {}
            }
        }
        let Some((head, head_seq)) = head else {
            // Formatted only when every byte is erased: anything else may be someone's data.
            for s in 0..geo.sector_count {
                blank = blank && store.is_blank(s)?;
            }
            if !blank {
                return Err(StoreError::Corrupt);
            }
            store.format()?;
            opened.formatted = true;
            return Ok(opened);
        };
        // The sectors in use run back from the newest while the sequence counts down by one.
        let mut tail = head;
        let mut used = 1;
        while used < geo.sector_count {
            let prev = store.prev(tail);
            match store.sector_kind(prev)? {
                SectorKind::Log(seq) if seq.wrapping_add(used) == head_seq => {
                    tail = prev;
                    used += 1;
                }
                _ => break,
            }
        }
        // The newest complete snapshot and the newest begun one, as (sector, epoch).
        let mut complete: Option<u32> = None;
        let mut begun: Option<(u32, u32)> = None;
        let mut s = tail;
        for _ in 0..used {
            let scan = store.scan(s, &mut |record| match record {
                Record::SnapBegin { epoch } => begun = Some((s, epoch)),
                Record::SnapEnd { epoch } => {
                    if let Some((sector, begun_epoch)) = begun {
                        if begun_epoch == epoch {
                            complete = Some(sector);
                        }
                    }
                }
                _ => {}
            })?;
            if scan.closed {
                store.stats.corrupt_records = store.stats.corrupt_records.saturating_add(1);
            }
            s = store.next(s);
        }
        opened.corrupt_records = store.stats.corrupt_records;
        let Some(base) = complete else {
            return Err(StoreError::Corrupt);
        };
        store.head = head;
        store.head_seq = head_seq;
        store.base = base;
        store.used = store.distance(base, head).saturating_add(1);
        // A snapshot begun after the complete one was cut short: its sectors hold only copies.
        // Erase them newest first, so that a cut here leaves a shorter unfinished snapshot.
        if let Some((first, _)) = begun.filter(|&(sector, _)| complete != Some(sector)) {
            while store.head != first && store.used > 1 {
                store.erase(store.head)?;
                opened.erased = opened.erased.saturating_add(1);
                store.head = store.prev(store.head);
                store.head_seq = store.head_seq.wrapping_sub(1);
                store.used -= 1;
            }
            store.erase(first)?;
            opened.erased = opened.erased.saturating_add(1);
            store.head = store.prev(first);
            store.head_seq = store.head_seq.wrapping_sub(1);
            store.used = store.used.saturating_sub(1);
        }
        // A head with no valid record (a snapshot whose first record was torn, a record torn
        // in a sector just opened) holds nothing: give it back, so the reserve stays whole.
        loop {
            let scan = store.scan(store.head, &mut |_| {})?;
            if store.head == store.base || scan.end != store.first_record {
                store.head_end = if scan.closed {
                    geo.sector_size
                } else {
                    scan.end
                };
                break;
            }
            store.erase(store.head)?;
            opened.erased = opened.erased.saturating_add(1);
            store.head = store.prev(store.head);
            store.head_seq = store.head_seq.wrapping_sub(1);
            store.used = store.used.saturating_sub(1);
        }
        // Every sector outside base..=head must be blank: finish interrupted erases, and clear
        // torn headers and sectors older than the snapshot, oldest first.
        let mut s = store.next(store.head);
        for _ in store.used..geo.sector_count {
            if !store.is_blank(s)? {
                store.erase(s)?;
                opened.erased = opened.erased.saturating_add(1);
            }
            s = store.next(s);
        }
        Ok(opened)
    }

    fn new(flash: F, geo: Geometry) -> Result<Store<F>, StoreError> {
        let granule = usize::try_from(geo.granule).map_err(|_| StoreError::Geometry)?;
        let sector = usize::try_from(geo.sector_size).map_err(|_| StoreError::Geometry)?;
        let first_record = padded(SECTOR_HEADER_LEN, granule).ok_or(StoreError::Geometry)?;
        let ok = granule.is_power_of_two()
            && granule <= MAX_GRANULE
            && granule >= F::WRITE_SIZE
            && F::READ_SIZE == 1
            && geo.sector_count >= 3
            && sector.checked_rem(F::ERASE_SIZE) == Some(0)
            && sector >= first_record.saturating_add(4 * (RECORD_OVERHEAD + MAX_GRANULE))
            && geo.sector_size.checked_mul(geo.sector_count).is_some();
        if !ok {
            return Err(StoreError::Geometry);
        }
        Ok(Store {
            flash,
            geo,
            first_record: u32::try_from(first_record).map_err(|_| StoreError::Geometry)?,
            reserve: (geo.sector_count - 1) / 2,
            head: 0,
            head_seq: 0,
            head_end: 0,
            used: 0,
            base: 0,
            broken: false,
            batch: 0,
            pending: [0; 2 * MAX_BATCH],
            pending_len: 0,
            stats: Stats::default(),
        })
    }

    /// Erases the whole region and writes an empty snapshot. Everything stored is gone.
    pub fn format(&mut self) -> Result<(), StoreError> {
        for s in 0..self.geo.sector_count {
            if !self.is_blank(s)? {
                self.erase(s)?;
            }
        }
        self.head = self.geo.sector_count.saturating_sub(1);
        self.head_seq = 0;
        self.used = 0;
        self.snapshot(&Empty)
    }

    /// The batched durability mode: `Done` records (PUBACK/PUBCOMP received) are gathered in
    /// RAM and written `n` at a time as one record (2..=16; 0 or 1: one record per change,
    /// the default). Every other record is still written at once. A crash loses up to `n - 1`
    /// completions: those messages are restored and re-sent (QoS 1: a duplicate; QoS 2: the
    /// PUBREL again, which the broker answers without a second delivery).
    pub fn set_batch(&mut self, n: usize) {
        self.batch = n.min(MAX_BATCH);
    }

    /// The flash driver, for tests and for closing the region.
    pub fn flash(&self) -> &F {
        &self.flash
    }

    pub fn into_flash(self) -> F {
        self.flash
    }

    // --- geometry ---

    fn next(&self, s: u32) -> u32 {
        if s.saturating_add(1) >= self.geo.sector_count {
            0
        } else {
            s + 1
        }
    }

    fn prev(&self, s: u32) -> u32 {
        if s == 0 {
            self.geo.sector_count.saturating_sub(1)
        } else {
            s - 1
        }
    }

    /// Sectors from `from` forward to `to`.
    fn distance(&self, from: u32, to: u32) -> u32 {
        if to >= from {
            to - from
        } else {
            to.saturating_add(self.geo.sector_count) - from
        }
    }

    fn addr(&self, sector: u32, offset: u32) -> u32 {
        sector
            .saturating_mul(self.geo.sector_size)
            .saturating_add(offset)
    }

    fn granule(&self) -> usize {
        self.geo.granule as usize
    }

    // --- reading ---

    fn read(&mut self, addr: u32, buf: &mut [u8]) -> Result<(), StoreError> {
        self.flash.read(addr, buf).map_err(flash_err)
    }

    fn sector_kind(&mut self, s: u32) -> Result<SectorKind, StoreError> {
        let mut h = [0u8; SECTOR_HEADER_LEN];
        self.read(self.addr(s, 0), &mut h)?;
        Ok(parse_sector_header(&h))
    }

    fn is_blank(&mut self, s: u32) -> Result<bool, StoreError> {
        let mut buf = [0u8; STAGE];
        let mut at = 0;
        while at < self.geo.sector_size {
            let n = (self.geo.sector_size - at).min(STAGE as u32);
            let chunk = buf.get_mut(..n as usize).unwrap_or_default();
            self.read(self.addr(s, at), chunk)?;
            if chunk.iter().any(|&b| b != 0xFF) {
                return Ok(false);
            }
            at += n;
        }
        Ok(true)
    }

    /// Reads the record at `offset` of sector `s`: None at erased flash (the end), Err for a
    /// record that fails its check. The body goes to `body` when it fits; `on_body` sees it.
    fn read_record(
        &mut self,
        s: u32,
        offset: u32,
        body: Option<&mut [u8]>,
    ) -> Result<Option<(u8, u32, usize)>, ()> {
        let mut header = [0u8; 4];
        let room = self.geo.sector_size.saturating_sub(offset);
        if room < RECORD_OVERHEAD as u32 {
            return Ok(None);
        }
        self.read(self.addr(s, offset), &mut header)
            .map_err(|_| ())?;
        if header == [0xFF; 4] {
            return Ok(None);
        }
        let [kind, zero, l0, l1] = header;
        let len = usize::from(u16::from_le_bytes([l0, l1]));
        let total = len.saturating_add(RECORD_OVERHEAD);
        let flen = padded(total, self.granule()).ok_or(())?;
        if zero != 0 || flen > room as usize {
            return Err(());
        }
        let mut crc = Crc::new().update(&header);
        let body_at = offset.saturating_add(4);
        match body.and_then(|b| b.get_mut(..len)) {
            Some(body) => {
                self.read(self.addr(s, body_at), body).map_err(|_| ())?;
                crc = crc.update(body);
            }
            None => {
                let mut buf = [0u8; STAGE];
                let mut done = 0usize;
                while done < len {
                    let n = (len - done).min(STAGE);
                    let chunk = buf.get_mut(..n).unwrap_or_default();
                    self.read(self.addr(s, body_at.saturating_add(done as u32)), chunk)
                        .map_err(|_| ())?;
                    crc = crc.update(chunk);
                    done += n;
                }
            }
        }
        let mut stored = [0u8; 4];
        let crc_at = body_at.saturating_add(len as u32);
        self.read(self.addr(s, crc_at), &mut stored)
            .map_err(|_| ())?;
        if u32::from_le_bytes(stored) != crc.finish() {
            return Err(());
        }
        Ok(Some((kind, flen as u32, len)))
    }

    /// Scans sector `s`, feeding `seen` each valid record whose body is small enough to
    /// decode without the body (every kind but Publish, which it sees with no packet).
    fn scan(&mut self, s: u32, seen: &mut dyn FnMut(Record<'_>)) -> Result<SectorScan, StoreError> {
        let mut offset = self.first_record;
        loop {
            // Bodies up to 4 bytes are read whole to be decoded; longer ones only checked.
            let mut small = [0u8; 4];
            match self.read_record(s, offset, Some(&mut small)) {
                Ok(None) => {
                    return Ok(SectorScan {
                        end: offset,
                        closed: false,
                    })
                }
                Ok(Some((kind, flen, len))) => {
                    if let Some(r) = small.get(..len).and_then(|b| Record::decode(kind, b)) {
                        seen(r);
                    }
                    offset = offset.saturating_add(flen);
                }
                Err(()) => {
                    return Ok(SectorScan {
                        end: offset,
                        closed: true,
                    })
                }
            }
        }
    }

    // --- writing ---

    fn erase(&mut self, s: u32) -> Result<(), StoreError> {
        let from = self.addr(s, 0);
        let to = from.saturating_add(self.geo.sector_size);
        self.stats.erases = self.stats.erases.saturating_add(1);
        self.flash.erase(from, to).map_err(flash_err)
    }

    fn program(&mut self, addr: u32, bytes: &[u8]) -> Result<(), StoreError> {
        self.stats.bytes_programmed = self
            .stats
            .bytes_programmed
            .saturating_add(bytes.len() as u32);
        self.flash.write(addr, bytes).map_err(flash_err)
    }

    /// Opens the next sector of the ring (erased, by the invariant) as the head.
    fn open_next(&mut self) -> Result<(), StoreError> {
        let s = self.next(self.head);
        let seq = self.head_seq.wrapping_add(1);
        self.head = s;
        self.head_seq = seq;
        self.used = self.used.saturating_add(1);
        // Closed until the header is on flash: a failed write leaves a sector never reused.
        self.head_end = self.geo.sector_size;
        let header = sector_header(seq);
        let mut padded_header = [0xFFu8; MAX_GRANULE];
        copy_into(&mut padded_header, &header);
        let len = self.first_record as usize;
        let bytes = padded_header.get(..len).ok_or(StoreError::Geometry)?;
        self.program(self.addr(s, 0), bytes)?;
        self.head_end = self.first_record;
        Ok(())
    }

    /// Writes `record` (`flen` bytes on flash: `Record::flash_len`, which the caller computed)
    /// at the head; the caller made sure it fits.
    fn write_record(&mut self, record: Record<'_>, flen: usize) -> Result<(), StoreError> {
        let mut stager = Stager {
            buf: [0xFF; STAGE],
            staged: 0,
            at: self.addr(self.head, self.head_end),
            failed: false,
        };
        let end = self.head_end.saturating_add(flen as u32);
        // Closed until the record is whole: never append after a record that may be torn.
        self.head_end = self.geo.sector_size;
        let emitted = record.emit(|bytes| stager.push(self, bytes));
        if !emitted || !stager.flush(self, true) {
            return Err(StoreError::Flash);
        }
        self.head_end = end;
        self.stats.records = self.stats.records.saturating_add(1);
        Ok(())
    }

    /// Writes `record` at the head, opening the next sector when the head is full (no
    /// snapshot: for the snapshot's own records, which the reserve has room for).
    fn push(&mut self, record: Record<'_>) -> Result<(), StoreError> {
        let flen = record
            .flash_len(self.granule())
            .ok_or(StoreError::TooLarge)?;
        let usable = self.geo.sector_size.saturating_sub(self.first_record);
        if flen as u32 > usable {
            return Err(StoreError::TooLarge);
        }
        if self.head_end.saturating_add(flen as u32) > self.geo.sector_size {
            if self.used >= self.geo.sector_count {
                return Err(StoreError::Full);
            }
            self.open_next()?;
        }
        self.write_record(record, flen)
    }

    /// Sectors a snapshot of `image` (plus the records of `extra`) takes, from a fresh sector.
    fn snapshot_sectors(&self, image: &dyn Image, extra: Option<&dyn Image>) -> Option<u32> {
        // One struct behind one pointer, not five captures: this runs under the deepest of
        // mqe_poll's calls (stack budget).
        let mut fit = Fit {
            usable: self.geo.sector_size.saturating_sub(self.first_record) as usize,
            granule: self.granule(),
            sectors: 1,
            used: 0,
            ok: true,
        };
        fit.place(Record::SnapBegin { epoch: 0 });
        image.visit(&mut |r| fit.place(r));
        if let Some(extra) = extra {
            extra.visit(&mut |r| fit.place(r));
        }
        fit.place(Record::SnapEnd { epoch: 0 });
        fit.ok.then_some(fit.sectors)
    }

    /// Writes a snapshot of `image` into fresh sectors, then erases every older sector.
    fn snapshot(&mut self, image: &dyn Image) -> Result<(), StoreError> {
        let needed = self
            .snapshot_sectors(image, None)
            .ok_or(StoreError::TooLarge)?;
        let free = self.geo.sector_count.saturating_sub(self.used);
        if needed > free {
            return Err(StoreError::Full);
        }
        let old_tail = self.base;
        let old_used = self.used;
        self.open_next()?;
        let first = self.head;
        let epoch = self.head_seq;
        self.push(Record::SnapBegin { epoch })?;
        let mut result = Ok(());
        image.visit(&mut |r| {
            result = self.push(r);
            result.is_ok()
        });
        result?;
        self.push(Record::SnapEnd { epoch })?;
        self.stats.snapshots = self.stats.snapshots.saturating_add(1);
        // The snapshot is committed: the change it carries holds from here on, whatever
        // happens below. Everything before `first` is dead now; erase it oldest first.
        let mut s = old_tail;
        for _ in 0..old_used {
            if s == first {
                break;
            }
            if self.erase(s).is_err() {
                // Left for `open` to finish; until then nothing more is written here.
                self.broken = true;
                break;
            }
            s = self.next(s);
        }
        self.base = first;
        self.used = self.distance(first, self.head).saturating_add(1);
        Ok(())
    }

    /// Writes the gathered completions as one `DoneBatch`. Out of line: its copy of the ids
    /// must not weigh on every append's frame (the store's writes are mqe_poll's deepest path).
    #[inline(never)]
    fn append_batch(&mut self, image: &dyn Image) -> Result<(), StoreError> {
        let mut ids = [0u8; 2 * MAX_BATCH];
        let n = self.pending_len.min(ids.len());
        copy_into(&mut ids, self.pending.get(..n).unwrap_or_default());
        self.pending_len = 0;
        let ids = ids.get(..n).unwrap_or_default();
        self.append_now(Record::DoneBatch { ids }, image)
    }

    /// Writes `record` now: at the head, in the next sector, or as a snapshot of `image`.
    fn append_now(&mut self, record: Record<'_>, image: &dyn Image) -> Result<(), StoreError> {
        let flen = record
            .flash_len(self.granule())
            .ok_or(StoreError::TooLarge)?;
        if flen as u32 > self.geo.sector_size.saturating_sub(self.first_record) {
            return Err(StoreError::TooLarge);
        }
        if self.head_end.saturating_add(flen as u32) <= self.geo.sector_size {
            return self.write_record(record, flen);
        }
        if self.geo.sector_count.saturating_sub(self.used) > self.reserve {
            self.open_next()?;
            return self.write_record(record, flen);
        }
        // The ring is down to its reserve: the snapshot carries the change itself, and every
        // completion still gathered (the image has them done).
        self.pending_len = 0;
        self.snapshot(image)
    }
}

/// Records laid out in sectors of `usable` bytes, as a snapshot would place them.
struct Fit {
    usable: usize,
    granule: usize,
    sectors: u32,
    used: usize,
    ok: bool,
}

impl Fit {
    fn place(&mut self, r: Record<'_>) -> bool {
        let Some(n) = r.flash_len(self.granule).filter(|&n| n <= self.usable) else {
            self.ok = false;
            return false;
        };
        if self.used + n > self.usable {
            self.sectors += 1;
            self.used = 0;
        }
        self.used += n;
        true
    }
}

/// Bytes on their way to flash, programmed in whole granules.
struct Stager {
    buf: [u8; STAGE],
    staged: usize,
    at: u32,
    failed: bool,
}

impl Stager {
    // Inlined into `write_record`, its one caller (see `Record::emit`).
    #[inline(always)]
    fn push<F: NorFlash>(&mut self, store: &mut Store<F>, mut bytes: &[u8]) -> bool {
        while !bytes.is_empty() && !self.failed {
            let n = bytes.len().min(STAGE - self.staged);
            let (now, rest) = bytes.split_at(n);
            let copied = self
                .buf
                .get_mut(self.staged..)
                .is_some_and(|dst| copy_into(dst, now));
            if !copied {
                self.failed = true;
                break;
            }
            self.staged += n;
            bytes = rest;
            if self.staged == STAGE && !self.flush(store, false) {
                break;
            }
        }
        !self.failed
    }

    /// Programs the staged whole granules (all: the rest too, padded with 0xFF).
    fn flush<F: NorFlash>(&mut self, store: &mut Store<F>, all: bool) -> bool {
        let granule = store.granule();
        let n = if all {
            padded(self.staged, granule).unwrap_or(STAGE)
        } else {
            // Whole granules (a power of two): no division, so no divide-by-zero path.
            self.staged & !granule.saturating_sub(1)
        };
        let programmed = match self.buf.get(..n) {
            Some([]) => true,
            Some(bytes) => store.program(self.at, bytes).is_ok(),
            None => false,
        };
        if !programmed {
            self.failed = true;
            return false;
        }
        self.at = self.at.saturating_add(n as u32);
        let kept = self.staged.saturating_sub(n);
        move_within(&mut self.buf, n, self.staged, 0);
        self.staged = kept;
        for b in self.buf.iter_mut().skip(kept) {
            *b = 0xFF;
        }
        true
    }
}

/// One record, as an image.
struct One<'r>(Record<'r>);

impl Image for One<'_> {
    fn visit(&self, f: &mut dyn FnMut(Record<'_>) -> bool) -> bool {
        f(self.0)
    }
}

/// The state of a new region: nothing.
struct Empty;

impl Image for Empty {
    fn visit(&self, f: &mut dyn FnMut(Record<'_>) -> bool) -> bool {
        f(Record::NextId(1))
    }
}

impl<F: NorFlash> Journal for Store<F> {
    fn append(&mut self, record: Record<'_>, image: &dyn Image) -> Result<(), StoreError> {
        if self.broken {
            return Err(StoreError::Flash);
        }
        let Record::Done(id) = record else {
            return self.append_now(record, image);
        };
        if self.batch < 2 {
            return self.append_now(record, image);
        }
        let [lo, hi] = id.to_le_bytes();
        if let Some(slot) = self.pending.get_mut(self.pending_len..) {
            if copy_into(slot, &[lo, hi]) {
                self.pending_len += 2;
            }
        }
        if self.pending_len < 2 * self.batch {
            return Ok(());
        }
        self.append_batch(image)
    }

    fn fits(&self, extra: Record<'_>, image: &dyn Image) -> bool {
        self.fits_all(image, &One(extra))
    }

    fn fits_all(&self, image: &dyn Image, extra: &dyn Image) -> bool {
        self.snapshot_sectors(image, Some(extra))
            .is_some_and(|n| n <= self.reserve)
    }

    fn replay(
        &mut self,
        scratch: &mut [u8],
        apply: &mut dyn FnMut(Record<'_>),
    ) -> Result<u32, StoreError> {
        let mut s = self.base;
        let mut applied = 0u32;
        for _ in 0..self.used {
            let mut offset = self.first_record;
            loop {
                match self.read_record(s, offset, Some(&mut *scratch)) {
                    Ok(None) => break,
                    Ok(Some((kind, flen, len))) => {
                        offset = offset.saturating_add(flen);
                        match scratch.get(..len).and_then(|b| Record::decode(kind, b)) {
                            Some(Record::SnapBegin { .. } | Record::SnapEnd { .. }) => {}
                            Some(r) => {
                                apply(r);
                                applied = applied.saturating_add(1);
                            }
                            None => {
                                self.stats.corrupt_records =
                                    self.stats.corrupt_records.saturating_add(1);
                            }
                        }
                    }
                    Err(()) => break,
                }
            }
            s = self.next(s);
        }
        Ok(applied)
    }

    fn stats(&self) -> Stats {
        self.stats
    }
}
