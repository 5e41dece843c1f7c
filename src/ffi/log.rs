//! The platform's optional log hook: level constants, the per-client filter, and a line
//! formatter over a fixed stack buffer (no heap, no `core::fmt`, which would cost kilobytes of
//! flash). Nothing is formatted unless the hook is set and the level passes the filter.

#[cfg(feature = "log")]
use core::ffi::c_char;

#[cfg(feature = "log")]
use super::status::status_cstr;
#[cfg(feature = "log")]
use super::types::{mqe_platform_t, mqe_status_t};

/// A log level: one of the `MQE_LOG_*` constants; lower is more severe.
pub type mqe_log_level_t = i32;

/// `mqe_set_log_level` with this turns logging off.
pub const MQE_LOG_OFF: mqe_log_level_t = -1;
/// The connection failed or the broker broke the protocol: refused, protocol errors, posted
/// messages dropped.
pub const MQE_LOG_ERROR: mqe_log_level_t = 0;
/// The connection was lost, the session lost, queued QoS 0 messages dropped.
pub const MQE_LOG_WARN: mqe_log_level_t = 1;
/// Connection lifecycle: connect started, connected, reconnect attempts, clean disconnect
/// (the default maximum level).
pub const MQE_LOG_INFO: mqe_log_level_t = 2;
/// Acknowledgements: SUBACK, UNSUBACK, PINGRESP.
pub const MQE_LOG_DEBUG: mqe_log_level_t = 3;

#[cfg(feature = "log")]
/// Longest line handed to the hook, NUL included; longer lines are cut.
const LINE_BYTES: usize = 96;

/// In a template, `ARG` + i prints argument i in decimal and `STATUS` + i prints argument i
/// as a status: its `mqe_strerror` text and code. Each log point is then a template and three
/// words, and one shared function formats them all: a few instructions of flash per point.
#[cfg(feature = "log")]
pub(crate) const ARG: u8 = 0x01;
#[cfg(feature = "log")]
pub(crate) const STATUS: u8 = 0x11;
/// The arguments of a template.
pub(crate) type Args = [u32; 3];

#[cfg(feature = "log")]
/// A line being built on the stack; `len` stays below `LINE_BYTES`, so the last byte is a NUL.
/// Byte by byte: lines are short, and this keeps the formatter a few hundred bytes of flash.
struct Line {
    buf: [u8; LINE_BYTES],
    len: usize,
}

#[cfg(feature = "log")]
impl Line {
    /// Appends `byte` unless only the NUL's room is left.
    fn push(&mut self, byte: u8) {
        if self.len < LINE_BYTES - 1 {
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = byte;
                self.len += 1;
            }
        }
    }

    fn text(&mut self, text: &[u8]) {
        for &byte in text {
            self.push(byte);
        }
    }

    /// Appends `value` in decimal.
    fn uint(&mut self, value: u32) {
        let mut divisor = 1_000_000_000;
        while divisor > 1 && value / divisor == 0 {
            divisor /= 10;
        }
        while divisor > 0 {
            self.push(b'0' + (value / divisor % 10) as u8);
            divisor /= 10;
        }
    }

    /// Appends "<status text> (<code>)".
    fn status(&mut self, status: mqe_status_t) {
        self.text(status_cstr(status).to_bytes());
        self.text(b" (");
        if status < 0 {
            self.push(b'-');
        }
        self.uint(status.unsigned_abs());
        self.push(b')');
    }
}

#[cfg(feature = "log")]
/// The most verbose level that reaches the platform's hook.
#[derive(Clone, Copy)]
pub(crate) struct LogFilter {
    max_level: mqe_log_level_t,
}

#[cfg(feature = "log")]
impl LogFilter {
    pub(crate) const DEFAULT: LogFilter = LogFilter {
        max_level: MQE_LOG_INFO,
    };

    /// `false` for a level outside `MQE_LOG_OFF..=MQE_LOG_DEBUG`.
    pub(crate) fn set_max_level(&mut self, level: mqe_log_level_t) -> bool {
        let valid = (MQE_LOG_OFF..=MQE_LOG_DEBUG).contains(&level);
        if valid {
            self.max_level = level;
        }
        valid
    }

    /// True when a line at `level` would reach a hook: only then is it worth formatting.
    #[inline]
    pub(crate) fn enabled(&self, platform: &mqe_platform_t, level: mqe_log_level_t) -> bool {
        platform.log.is_some() && level <= self.max_level
    }
}

#[cfg(feature = "log")]
fn arg(args: &Args, index: u8) -> u32 {
    args.get(usize::from(index)).copied().unwrap_or(0)
}

#[cfg(feature = "log")]
/// Formats `template` with `args` into a stack buffer and hands the line to `platform`'s
/// hook. Callers check `LogFilter::enabled` first, so that nothing is built for nothing.
#[inline(never)]
pub(crate) fn emit(
    platform: &mqe_platform_t,
    level: mqe_log_level_t,
    template: &[u8],
    args: &Args,
) {
    let Some(hook) = platform.log else {
        return;
    };
    let mut line = Line {
        buf: [0; LINE_BYTES],
        len: 0,
    };
    for &byte in template {
        match byte {
            ARG..STATUS => line.uint(arg(args, byte - ARG)),
            STATUS.. if byte < b' ' => line.status(arg(args, byte - STATUS) as i32),
            _ => line.push(byte),
        }
    }
    // SAFETY: the hook and ctx were given at mqe_init and are kept valid while the client is
    // used (mqe_platform_t's contract); `line.buf` is NUL-terminated (`text` never writes its
    // last byte) and outlives the call.
    unsafe { hook(platform.ctx, level, line.buf.as_ptr().cast::<c_char>()) };
}

#[cfg(feature = "log")]
#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use core::ffi::{c_void, CStr};
    use std::cell::RefCell;
    use std::string::{String, ToString};
    use std::vec::Vec;

    std::thread_local! {
        static LINES: RefCell<Vec<(i32, String)>> = const { RefCell::new(Vec::new()) };
    }

    unsafe extern "C" fn capture(_ctx: *mut c_void, level: i32, msg: *const c_char) {
        // SAFETY: emit hands a NUL-terminated line valid for the call.
        let text = unsafe { CStr::from_ptr(msg) }.to_str().unwrap().to_string();
        LINES.with(|lines| lines.borrow_mut().push((level, text)));
    }

    unsafe extern "C" fn no_clock(_ctx: *mut c_void) -> u32 {
        0
    }

    fn platform() -> mqe_platform_t {
        mqe_platform_t {
            ctx: core::ptr::null_mut(),
            now_ms: Some(no_clock),
            random: None,
            delay_ms: None,
            log: Some(capture),
        }
    }

    fn take() -> Vec<(i32, String)> {
        LINES.with(|lines| core::mem::take(&mut *lines.borrow_mut()))
    }

    #[test]
    fn templates_format_numbers_and_statuses() {
        let args = [0, u32::MAX, i32::MIN as u32];
        emit(&platform(), MQE_LOG_WARN, b"a\x01 b\x02 c\x13", &args);
        emit(&platform(), MQE_LOG_INFO, b"\x11", &[-42i32 as u32, 0, 0]);
        emit(&platform(), MQE_LOG_INFO, b"\x01", &[1_000_000_000, 0, 0]);
        assert_eq!(
            take(),
            [
                (
                    MQE_LOG_WARN,
                    "a0 b4294967295 cunknown status (-2147483648)".to_string()
                ),
                (
                    MQE_LOG_INFO,
                    "connection closed by the broker (-42)".to_string()
                ),
                (MQE_LOG_INFO, "1000000000".to_string()),
            ]
        );
    }

    #[test]
    fn long_lines_are_cut_and_stay_terminated() {
        let long = [b'x'; 200];
        emit(&platform(), MQE_LOG_ERROR, &long, &[0; 3]);
        emit(
            &platform(),
            MQE_LOG_ERROR,
            b"\x11\x11\x11\x11\x11",
            &[-46i32 as u32; 3],
        );
        let lines = take();
        assert_eq!(lines[0].1, "x".repeat(LINE_BYTES - 1));
        assert_eq!(lines[1].1.len(), LINE_BYTES - 1);
        assert!(lines[1].1.starts_with("timed out waiting (-46)timed out"));
    }

    #[test]
    fn the_filter_passes_only_levels_up_to_its_maximum() {
        let mut filter = LogFilter::DEFAULT;
        let with_hook = platform();
        let without_hook = mqe_platform_t {
            log: None,
            ..with_hook
        };
        assert!(filter.enabled(&with_hook, MQE_LOG_INFO));
        assert!(!filter.enabled(&with_hook, MQE_LOG_DEBUG));
        assert!(!filter.enabled(&without_hook, MQE_LOG_ERROR));
        assert!(filter.set_max_level(MQE_LOG_OFF));
        assert!(!filter.enabled(&with_hook, MQE_LOG_ERROR));
        assert!(!filter.set_max_level(MQE_LOG_DEBUG + 1));
        assert!(!filter.set_max_level(MQE_LOG_OFF - 1));
        assert!(!filter.enabled(&with_hook, MQE_LOG_ERROR));
        assert!(filter.set_max_level(MQE_LOG_DEBUG));
        assert!(filter.enabled(&with_hook, MQE_LOG_DEBUG));
    }
}
