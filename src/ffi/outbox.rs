//! The publish outbox: fixed slots that any task or ISR fills with `mqe_post_publish` and the
//! owner task's `mqe_poll` drains in FIFO order, guarded by the `critical-section` crate.
//!
//! The crate's acquire/release are `extern "Rust"` symbols that C firmware cannot define, so
//! this library provides the implementation and forwards to the two C hooks the firmware
//! registers once with `mqe_set_critical_section`.

use core::ptr;
use core::sync::atomic::{compiler_fence, AtomicUsize, Ordering};

use crate::config::{OUTBOX_SLOTS, OUTBOX_SLOT_BYTES};

/// Enters the firmware's critical section; returns the state `exit` restores (e.g. PRIMASK).
pub type mqe_critical_enter_t = Option<unsafe extern "C" fn() -> u32>;
/// Leaves the critical section, restoring what `enter` returned.
pub type mqe_critical_exit_t = Option<unsafe extern "C" fn(state: u32)>;

// The hooks as addresses (0 = none). Plain load/store: thumbv6m has no compare-and-swap.
static CRITICAL_ENTER: AtomicUsize = AtomicUsize::new(0);
static CRITICAL_EXIT: AtomicUsize = AtomicUsize::new(0);

/// Registers the critical section that guards the outbox of every client: between `enter` and
/// `exit` no other task or ISR may enter it (the owner's `mqe_poll` and `mqe_post_publish`
/// from any task or ISR all use it). On a single core, disable interrupts and return the old
/// mask; on an RTOS, e.g. `taskENTER_CRITICAL_FROM_ISR`; on a host, a mutex. The library never nests it and holds it
/// only to copy one message (at most `MQE_OUTBOX_SLOT_BYTES`) or to update two counters.
/// Call once, before any task calls `mqe_post_publish` (NULL, NULL unregisters).
/// Errors: `MQE_ERR_NULL` when exactly one of the two is NULL.
#[no_mangle]
pub extern "C" fn mqe_set_critical_section(
    enter: mqe_critical_enter_t,
    exit: mqe_critical_exit_t,
) -> super::mqe_status_t {
    match (enter, exit) {
        (Some(enter), Some(exit)) => {
            CRITICAL_EXIT.store(exit as usize, Ordering::Release);
            CRITICAL_ENTER.store(enter as usize, Ordering::Release);
        }
        (None, None) => {
            CRITICAL_ENTER.store(0, Ordering::Release);
            CRITICAL_EXIT.store(0, Ordering::Release);
        }
        _ => return super::MQE_ERR_NULL,
    }
    super::MQE_OK
}

/// Whether the firmware registered its critical section.
pub(crate) fn critical_section_registered() -> bool {
    CRITICAL_ENTER.load(Ordering::Acquire) != 0
}

struct FirmwareCriticalSection;
critical_section::set_impl!(FirmwareCriticalSection);

// SAFETY: acquire/release forward to the firmware's hooks, which provide mutual exclusion per
// the contract of mqe_set_critical_section. Without hooks nothing can have been posted
// (mqe_post_publish refuses), so the owner task is the only one touching the outbox.
unsafe impl critical_section::Impl for FirmwareCriticalSection {
    unsafe fn acquire() -> u32 {
        let enter = CRITICAL_ENTER.load(Ordering::Acquire);
        if enter == 0 {
            return 0;
        }
        // SAFETY: a non-zero value was stored only from a valid `unsafe extern "C" fn() -> u32`.
        let enter: unsafe extern "C" fn() -> u32 = unsafe { core::mem::transmute(enter) };
        // SAFETY: the firmware promised a callable hook.
        let state = unsafe { enter() };
        // Keep the compiler from moving outbox accesses out of the section (as the crate's own
        // Cortex-M implementation does); the hook's own barriers order the hardware.
        compiler_fence(Ordering::SeqCst);
        state
    }

    unsafe fn release(state: u32) {
        let exit = CRITICAL_EXIT.load(Ordering::Acquire);
        if exit == 0 {
            return;
        }
        // SAFETY: a non-zero value was stored only from a valid `unsafe extern "C" fn(u32)`.
        let exit: unsafe extern "C" fn(u32) = unsafe { core::mem::transmute(exit) };
        compiler_fence(Ordering::SeqCst);
        // SAFETY: the firmware promised a callable hook; `state` came from its `enter`.
        unsafe { exit(state) }
    }
}

/// One posted message: topic bytes then payload bytes in `data`.
#[repr(C)]
struct Slot {
    topic_len: u16,
    payload_len: u16,
    qos: u8,
    retain: u8,
    data: [u8; OUTBOX_SLOT_BYTES],
}

/// A FIFO ring of slots. Lives in the client storage beside (never inside) the `ClientCell`
/// the owner task borrows mutably: see `ClientStorage` in cell.rs.
#[repr(C)]
pub(crate) struct Outbox {
    head: usize,
    len: usize,
    slots: [Slot; OUTBOX_SLOTS],
}

/// A posted message borrowed from the slot at the head of the ring.
pub(crate) struct Posted<'a> {
    pub(crate) topic: &'a [u8],
    pub(crate) payload: &'a [u8],
    pub(crate) qos: u8,
    pub(crate) retain: bool,
}

/// Empties the outbox at `outbox` (all bytes zero, so no slot byte is ever uninitialised).
///
/// # Safety
/// `outbox` is valid for writes and no other task uses it (mqe_init's contract).
pub(crate) unsafe fn reset(outbox: *mut Outbox) {
    // SAFETY: per the contract; zero is a valid bit pattern for every field.
    unsafe { ptr::write_bytes(outbox, 0, 1) };
}

/// Copies one message into a free slot. `Err(())` when every slot is taken.
/// The caller has checked the lengths fit a slot.
///
/// # Safety
/// `outbox` was reset by `reset`; other tasks reach it only through these functions.
pub(crate) unsafe fn push(
    outbox: *mut Outbox,
    topic: &[u8],
    payload: &[u8],
    qos: u8,
    retain: bool,
) -> Result<(), ()> {
    let (Ok(topic_len), Ok(payload_len)) =
        (u16::try_from(topic.len()), u16::try_from(payload.len()))
    else {
        return Err(());
    };
    if topic.len().saturating_add(payload.len()) > OUTBOX_SLOT_BYTES {
        return Err(());
    }
    critical_section::with(|_| {
        // SAFETY: inside the critical section no other task touches head, len or the free slot
        // written here; the owner reads a slot only while it is counted in `len`, and this one
        // is not. Only raw pointers are used, so no reference overlaps another task's access.
        unsafe {
            let head = ptr::addr_of!((*outbox).head).read();
            let len = ptr::addr_of!((*outbox).len).read();
            if len >= OUTBOX_SLOTS {
                return Err(());
            }
            let index = head.wrapping_add(len) % OUTBOX_SLOTS;
            let slot = ptr::addr_of_mut!((*outbox).slots).cast::<Slot>().add(index);
            let data = ptr::addr_of_mut!((*slot).data).cast::<u8>();
            ptr::copy_nonoverlapping(topic.as_ptr(), data, topic.len());
            ptr::copy_nonoverlapping(payload.as_ptr(), data.add(topic.len()), payload.len());
            ptr::addr_of_mut!((*slot).topic_len).write(topic_len);
            ptr::addr_of_mut!((*slot).payload_len).write(payload_len);
            ptr::addr_of_mut!((*slot).qos).write(qos);
            ptr::addr_of_mut!((*slot).retain).write(u8::from(retain));
            ptr::addr_of_mut!((*outbox).len).write(len + 1);
        }
        Ok(())
    })
}

/// The oldest posted message, left in place (`pop` removes it). Owner task only.
///
/// # Safety
/// As `push`, and only the owner task calls `front` and `pop`. The returned borrow must end
/// before the next `pop`.
pub(crate) unsafe fn front<'a>(outbox: *mut Outbox) -> Option<Posted<'a>> {
    let (head, len) = critical_section::with(|_| {
        // SAFETY: head and len change only inside the critical section.
        unsafe {
            (
                ptr::addr_of!((*outbox).head).read(),
                ptr::addr_of!((*outbox).len).read(),
            )
        }
    });
    if len == 0 {
        return None;
    }
    // SAFETY: the slot at `head` is counted in `len`, so producers do not write it until the
    // owner pops it; its writes happened before the critical section the owner just left, so
    // reading it (and borrowing its bytes) races with nothing. Lengths were checked by `push`.
    unsafe {
        let slot = ptr::addr_of!((*outbox).slots)
            .cast::<Slot>()
            .add(head % OUTBOX_SLOTS);
        let topic_len = usize::from(ptr::addr_of!((*slot).topic_len).read());
        let payload_len = usize::from(ptr::addr_of!((*slot).payload_len).read());
        let data = ptr::addr_of!((*slot).data).cast::<u8>();
        if topic_len.saturating_add(payload_len) > OUTBOX_SLOT_BYTES {
            return None;
        }
        Some(Posted {
            topic: core::slice::from_raw_parts(data, topic_len),
            payload: core::slice::from_raw_parts(data.add(topic_len), payload_len),
            qos: ptr::addr_of!((*slot).qos).read(),
            retain: ptr::addr_of!((*slot).retain).read() != 0,
        })
    }
}

/// Messages waiting in the outbox.
///
/// # Safety
/// As `push`.
pub(crate) unsafe fn waiting(outbox: *mut Outbox) -> usize {
    critical_section::with(|_| {
        // SAFETY: len changes only inside the critical section.
        unsafe { ptr::addr_of!((*outbox).len).read() }
    })
}

/// Frees the oldest slot. Owner task only.
///
/// # Safety
/// As `front`; no borrow from `front` is alive.
pub(crate) unsafe fn pop(outbox: *mut Outbox) {
    critical_section::with(|_| {
        // SAFETY: head and len change only inside the critical section.
        unsafe {
            let head = ptr::addr_of!((*outbox).head).read();
            let len = ptr::addr_of!((*outbox).len).read();
            if len > 0 {
                ptr::addr_of_mut!((*outbox).head).write((head + 1) % OUTBOX_SLOTS);
                ptr::addr_of_mut!((*outbox).len).write(len - 1);
            }
        }
    });
}
