//! The session store's C face (feature `store`): the flash table `mqe_flash_t` as a
//! `NorFlash`, the caller-allocated `mqe_store_t`, `mqe_set_store` and `mqe_store_erase`.

use core::ffi::c_void;
use core::mem::{align_of, size_of, MaybeUninit};

use embedded_storage::nor_flash::{
    ErrorType, NorFlash, NorFlashError, NorFlashErrorKind, ReadNorFlash,
};

use super::status::*;
use super::types::{mqe_client_t, mqe_status_t};
use super::{into_status, with_cell};
use crate::engine::State;
use crate::store::{Geometry, Store, StoreError};

/// The firmware's flash region, in the style of `mqe_transport_t`: offsets are from the
/// region's start, sectors are numbered from 0. Every function returns 0, or a negative
/// value on failure. `program` is only called on erased bytes, `write_size`-aligned and a
/// multiple of it in length; `read` may be called at any offset and length.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct mqe_flash_t {
    pub ctx: *mut c_void,
    pub read: Option<unsafe extern "C" fn(*mut c_void, u32, *mut u8, u32) -> i32>,
    pub program: Option<unsafe extern "C" fn(*mut c_void, u32, *const u8, u32) -> i32>,
    /// Erases sector `n` (every byte becomes 0xFF).
    pub erase: Option<unsafe extern "C" fn(*mut c_void, u32) -> i32>,
    /// Bytes in one erasable sector.
    pub sector_size: u32,
    /// Sectors in the region (at least 3).
    pub sector_count: u32,
    /// Write granularity in bytes: 1, 2, 4, 8, 16 or 32 (internal flash with ECC).
    pub write_size: u32,
    /// Durability mode (docs/STORE.md): 0 or 1, a record on every state change (the
    /// default); 2..16, completions (PUBACK/PUBCOMP) written that many at a time, which
    /// spares flash and after a crash re-sends up to that many completed messages.
    pub batch: u32,
}

/// Bytes of `mqe_store_t`.
pub const MQE_STORE_SIZE: usize = 192;
/// `mqe_store_t` in 8-byte words.
pub const MQE_STORE_WORDS: usize = MQE_STORE_SIZE / 8;

/// Storage for the session store, allocated by the caller (for example `static mqe_store_t
/// s;`) and handed to `mqe_set_store`; it must outlive the client's use of it.
#[repr(C, align(8))]
pub struct mqe_store_t {
    opaque: [u64; MQE_STORE_WORDS],
}

impl mqe_store_t {
    /// Storage for `mqe_set_store` (for Rust callers; C uses a `static`).
    pub const fn zeroed() -> Self {
        mqe_store_t {
            opaque: [0; MQE_STORE_WORDS],
        }
    }
}

const _: () = assert!(size_of::<Store<CFlash>>() <= MQE_STORE_SIZE);
const _: () = assert!(align_of::<Store<CFlash>>() <= align_of::<mqe_store_t>());

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CFlashError;

impl NorFlashError for CFlashError {
    fn kind(&self) -> NorFlashErrorKind {
        NorFlashErrorKind::Other
    }
}

/// `mqe_flash_t` with every function present. Its geometry is given to the store at run
/// time, so it declares byte granularity here.
pub(crate) struct CFlash {
    table: mqe_flash_t,
}

impl ErrorType for CFlash {
    type Error = CFlashError;
}

fn ok(result: i32) -> Result<(), CFlashError> {
    if result == 0 {
        Ok(())
    } else {
        Err(CFlashError)
    }
}

fn len32(len: usize) -> Result<u32, CFlashError> {
    u32::try_from(len).map_err(|_| CFlashError)
}

impl ReadNorFlash for CFlash {
    const READ_SIZE: usize = 1;

    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), CFlashError> {
        let read = self.table.read.ok_or(CFlashError)?;
        // SAFETY: the firmware's function, given its own ctx and a buffer valid for `len`.
        ok(unsafe {
            read(
                self.table.ctx,
                offset,
                bytes.as_mut_ptr(),
                len32(bytes.len())?,
            )
        })
    }

    fn capacity(&self) -> usize {
        (self.table.sector_size as usize).saturating_mul(self.table.sector_count as usize)
    }
}

impl NorFlash for CFlash {
    const WRITE_SIZE: usize = 1;
    const ERASE_SIZE: usize = 1;

    fn erase(&mut self, from: u32, to: u32) -> Result<(), CFlashError> {
        let erase = self.table.erase.ok_or(CFlashError)?;
        let size = self.table.sector_size;
        let first = from.checked_div(size).ok_or(CFlashError)?;
        // Whole sectors only: the store erases from a sector's start to the next one's.
        let end = to.checked_div(size).ok_or(CFlashError)?;
        for sector in first..end {
            // SAFETY: the firmware's function, given its own ctx.
            ok(unsafe { erase(self.table.ctx, sector) })?;
        }
        Ok(())
    }

    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), CFlashError> {
        let program = self.table.program.ok_or(CFlashError)?;
        // SAFETY: the firmware's function, given its own ctx and data valid for `len`.
        ok(unsafe { program(self.table.ctx, offset, bytes.as_ptr(), len32(bytes.len())?) })
    }
}

fn store_status(error: StoreError) -> mqe_status_t {
    match error {
        StoreError::Flash => MQE_ERR_STORE_FLASH,
        StoreError::Full => MQE_ERR_FULL,
        StoreError::TooLarge => MQE_ERR_TOO_LARGE,
        StoreError::Corrupt => MQE_ERR_STORE_CORRUPT,
        StoreError::Version(_) => MQE_ERR_STORE_VERSION,
        StoreError::Geometry => MQE_ERR_STORE_GEOMETRY,
    }
}

/// The flash table, checked: every function present.
///
/// # Safety
/// `flash` is NULL or points to a readable `mqe_flash_t`.
unsafe fn checked(flash: *const mqe_flash_t) -> Result<CFlash, mqe_status_t> {
    // SAFETY: per the contract.
    let table = unsafe { flash.as_ref() }.copied().ok_or(MQE_ERR_NULL)?;
    if table.read.is_none() || table.program.is_none() || table.erase.is_none() {
        return Err(MQE_ERR_NULL);
    }
    Ok(CFlash { table })
}

fn geometry(flash: &CFlash) -> Geometry {
    Geometry {
        sector_size: flash.table.sector_size,
        sector_count: flash.table.sector_count,
        granule: flash.table.write_size,
    }
}

/// Gives the client a session store in `flash`, and restores what it holds: call it after
/// `mqe_init` and before the first `mqe_connect`. A blank region is formatted. The next
/// connection (use `clean_session = 0`) re-sends what was in flight, as after a reconnect;
/// `MQE_EVENT_RESTORED` (at the next `mqe_poll`) says how much. From then on every accepted
/// QoS 1/2 message is on flash before `mqe_publish` returns `MQE_OK`, and a store too full
/// to take it returns `MQE_ERR_FULL`.
///
/// `store` and the functions of `flash` must stay valid while the client lives; the table
/// itself is copied. Errors: `MQE_ERR_NULL`, `MQE_ERR_NOT_INIT`, `MQE_ERR_STATE` (not
/// disconnected, or a store already set), `MQE_ERR_REENTRANT`, `MQE_ERR_STORE_FLASH`,
/// `MQE_ERR_STORE_CORRUPT` and `MQE_ERR_STORE_VERSION` (the region is refused and left as it
/// is; `mqe_store_erase` clears it), `MQE_ERR_STORE_GEOMETRY`.
///
/// # Safety
/// `c` is NULL or client storage; `store` is NULL or writable `mqe_store_t` storage not in
/// use by another client; `flash` is NULL or a readable `mqe_flash_t`.
#[no_mangle]
pub unsafe extern "C" fn mqe_set_store(
    c: *mut mqe_client_t,
    store: *mut mqe_store_t,
    flash: *const mqe_flash_t,
) -> mqe_status_t {
    if store.is_null() {
        return MQE_ERR_NULL;
    }
    // SAFETY: forwarded contract.
    let flash = match unsafe { checked(flash) } {
        Ok(flash) => flash,
        Err(status) => return status,
    };
    // SAFETY: forwarded contract.
    into_status(unsafe {
        with_cell(c, |cell| {
            if cell.dispatching {
                return Err(MQE_ERR_REENTRANT);
            }
            // A second store would overwrite `store` while the engine may still use it.
            if cell.client.engine().state() != State::Disconnected
                || cell.client.engine().has_store()
            {
                return Err(MQE_ERR_STATE);
            }
            let geo = geometry(&flash);
            let batch = usize::try_from(flash.table.batch).unwrap_or(usize::MAX);
            // SAFETY: `store` is writable, large and aligned enough (static asserts above),
            // and the caller's for as long as the client lives; nothing else refers to it (a
            // client with a store refuses a second one above). MaybeUninit<T> has T's layout.
            let slot = &mut *store.cast::<MaybeUninit<Store<CFlash>>>();
            Store::open_in(slot, flash, geo).map_err(store_status)?;
            // SAFETY: `open_in` returned Ok, so the slot holds the store.
            let journal: &'static mut Store<CFlash> = slot.assume_init_mut();
            journal.set_batch(batch);
            cell.client
                .engine_mut()
                .attach_store(journal)
                .map_err(status_of)?;
            Ok(())
        })
    })
}

/// Erases every sector of `flash`: everything stored there is gone. For a region that
/// `mqe_set_store` refused (`MQE_ERR_STORE_CORRUPT`, `MQE_ERR_STORE_VERSION`). Errors:
/// `MQE_ERR_NULL`, `MQE_ERR_STORE_FLASH`.
///
/// # Safety
/// `flash` is NULL or a readable `mqe_flash_t` whose functions are valid.
#[no_mangle]
pub unsafe extern "C" fn mqe_store_erase(flash: *const mqe_flash_t) -> mqe_status_t {
    // SAFETY: forwarded contract.
    let mut flash = match unsafe { checked(flash) } {
        Ok(flash) => flash,
        Err(status) => return status,
    };
    let end = flash
        .table
        .sector_size
        .saturating_mul(flash.table.sector_count);
    match flash.erase(0, end) {
        Ok(()) => MQE_OK,
        Err(_) => MQE_ERR_STORE_FLASH,
    }
}
