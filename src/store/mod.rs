//! What survives a reset: the durable part of the session, as an append-only log of
//! [`Record`]s in the firmware's flash, power-fail safe (docs/STORE.md).
//!
//! The flash contract is `embedded-storage`'s `NorFlash`: every word is programmed once, and
//! a sector is erased as a whole. The geometry is given at run time ([`Geometry`]), so a C
//! flash table fits behind the same trait.
//!
//! The log is a ring of sectors, each opened with a header carrying a sequence number. A
//! record never spans sectors and carries a CRC; one that fails it (a write torn by a power
//! cut) ends its sector, is counted and never trusted. When the ring runs short of erased
//! sectors, a snapshot of the live state (from RAM, through [`Image`]) is written into fresh
//! sectors between `SnapBegin` and `SnapEnd` records; once `SnapEnd` is on flash, every older
//! sector is dead and erased, oldest first. Restore replays from the newest complete snapshot.
//! Replaying a record twice changes nothing, so a cut anywhere leaves a log that restores.

mod format;
mod log;
#[cfg(feature = "std")]
pub mod sim;

pub use format::Record;
pub use log::Store;

/// Why the store cannot do what was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// The flash driver reported an error (read, program or erase).
    Flash,
    /// The live state would not fit a snapshot: back-pressure, as a full window is.
    Full,
    /// One record can never fit a sector.
    TooLarge,
    /// The region holds no complete log of this layout: foreign or random bytes, a cut during
    /// the very first format. Refused, never read; `Store::format` makes it usable.
    Corrupt,
    /// The region was written by another layout version. Refused, never read.
    Version(u8),
    /// The geometry cannot hold a log: fewer than 3 sectors, a sector too small, a
    /// granularity that is not a power of two up to 32, or a flash that reads in units.
    Geometry,
}

/// The region's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Bytes in one erasable sector.
    pub sector_size: u32,
    /// Sectors in the region, from offset 0.
    pub sector_count: u32,
    /// Write granularity in bytes (1..=32, a power of two): every program call is that
    /// aligned and a multiple of it.
    pub granule: u32,
}

impl Geometry {
    /// The geometry a `NorFlash` declares: its erase size, its capacity, its write size.
    pub fn of<F: embedded_storage::nor_flash::NorFlash>(flash: &F) -> Geometry {
        let sector_size = u32::try_from(F::ERASE_SIZE).unwrap_or(0);
        Geometry {
            sector_size,
            sector_count: u32::try_from(flash.capacity())
                .unwrap_or(0)
                .checked_div(sector_size)
                .unwrap_or(0),
            granule: u32::try_from(F::WRITE_SIZE).unwrap_or(0),
        }
    }
}

/// What `Store::open` found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Opened {
    /// The region was blank and has been formatted.
    pub formatted: bool,
    /// Records that failed their CRC (torn by a cut, or corrupted): skipped, never trusted.
    pub corrupt_records: u32,
    /// Sectors erased while opening (an interrupted snapshot or clean-up finished).
    pub erased: u32,
}

/// Counters since `open`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub records: u32,
    pub bytes_programmed: u32,
    pub erases: u32,
    pub snapshots: u32,
    pub corrupt_records: u32,
}

/// The durable state, as the session shows it to the store for a snapshot.
pub trait Image {
    /// Calls `f` with every record that rebuilds the state from nothing, in order (the
    /// packet-id counter, then each live fact). Stops and returns false when `f` does.
    fn visit(&self, f: &mut dyn FnMut(Record<'_>) -> bool) -> bool;
}

/// The store as the engine sees it: no generics, so the engine and the C layer stay free of
/// the flash driver's type.
pub trait Journal {
    /// Appends `record`, the change that turned the state into `image`. Ok once it is on
    /// flash (or a snapshot of `image` is): the change survives a reset from then on.
    fn append(&mut self, record: Record<'_>, image: &dyn Image) -> Result<(), StoreError>;
    /// Would `image` with `extra` added still fit a snapshot? Check before accepting new
    /// state, so that a snapshot can always be written.
    fn fits(&self, extra: Record<'_>, image: &dyn Image) -> bool;
    /// The same for every record of `extra`.
    fn fits_all(&self, image: &dyn Image, extra: &dyn Image) -> bool;
    /// Feeds `apply` every record from the newest complete snapshot on, bodies read into
    /// `scratch`; a record larger than `scratch` is counted as corrupt and skipped.
    fn replay(
        &mut self,
        scratch: &mut [u8],
        apply: &mut dyn FnMut(Record<'_>),
    ) -> Result<u32, StoreError>;
    fn stats(&self) -> Stats;
}
