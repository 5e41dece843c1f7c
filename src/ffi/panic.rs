//! The firmware's panic hook and, in the static library, the panic handler that calls it.
//!
//! The hook lives in an `AtomicUsize` with plain load/store: thumbv6m has no compare-and-swap.

use core::sync::atomic::{AtomicUsize, Ordering};

use super::types::mqe_panic_hook_t;

/// The hook as an address; 0 = none.
static PANIC_HOOK: AtomicUsize = AtomicUsize::new(0);

/// Sets the function the panic handler calls (NULL: none). Nothing in the library is meant to
/// panic; this is the last line of defence, and the hook should reset the device. After the
/// hook returns (or without one) the handler spins forever. Any task may call this at any time.
#[no_mangle]
pub extern "C" fn mqe_set_panic_hook(hook: mqe_panic_hook_t) {
    PANIC_HOOK.store(hook.map_or(0, |f| f as usize), Ordering::Release);
}

#[cfg(not(feature = "std"))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    let raw = PANIC_HOOK.load(Ordering::Acquire);
    if raw != 0 {
        // SAFETY: a non-zero value was stored only by mqe_set_panic_hook from a valid
        // `unsafe extern "C" fn()`, which has the size of usize.
        let hook: unsafe extern "C" fn() = unsafe { core::mem::transmute::<usize, _>(raw) };
        // SAFETY: the firmware promised a callable hook.
        unsafe { hook() };
    }
    loop {
        core::hint::spin_loop();
    }
}

/// The hook last set (tests).
#[cfg(feature = "std")]
pub fn panic_hook_is_set() -> bool {
    PANIC_HOOK.load(Ordering::Acquire) != 0
}

/// Hosted targets ship a `core` built for unwinding, whose unwind tables name this symbol;
/// with `panic = "abort"` nothing ever calls it. Defining it lets a host program link the
/// static library without `-Wl,--gc-sections`. Bare-metal targets have no such reference.
#[cfg(all(not(feature = "std"), not(target_os = "none")))]
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}
