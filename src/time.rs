//! Time as the firmware sees it: a wrapping `u32` millisecond tick.
//!
//! The tick wraps every 49.7 days, so instants are never compared with `<`; they are
//! compared through their wrapping difference, which is right while the two instants
//! are less than 2^31 ms (24.8 days) apart.

/// A point in time: the platform's millisecond tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Instant(pub u32);

impl Instant {
    /// The instant `ms` milliseconds after `self`, wrapping.
    #[inline]
    pub const fn add_ms(self, ms: u32) -> Instant {
        Instant(self.0.wrapping_add(ms))
    }

    /// Milliseconds from `earlier` to `self`; 0 if `earlier` is in the future.
    #[inline]
    pub const fn ms_since(self, earlier: Instant) -> u32 {
        let diff = self.0.wrapping_sub(earlier.0);
        if diff > i32::MAX as u32 {
            0
        } else {
            diff
        }
    }

    /// True once `self` has reached or passed `deadline`.
    #[inline]
    pub const fn reached(self, deadline: Instant) -> bool {
        self.0.wrapping_sub(deadline.0) <= i32::MAX as u32
    }

    /// Milliseconds from `self` until `deadline`; 0 if it has passed.
    #[inline]
    pub const fn ms_until(self, deadline: Instant) -> u32 {
        if self.reached(deadline) {
            0
        } else {
            deadline.0.wrapping_sub(self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_crosses_the_wrap() {
        let before = Instant(u32::MAX - 5);
        let after = before.add_ms(10);
        assert_eq!(after, Instant(4));
        assert_eq!(after.ms_since(before), 10);
        assert_eq!(before.ms_since(after), 0);
        assert!(after.reached(before));
        assert!(!before.reached(after));
        assert_eq!(before.ms_until(after), 10);
        assert_eq!(after.ms_until(before), 0);
        assert!(after.reached(after));
    }
}
