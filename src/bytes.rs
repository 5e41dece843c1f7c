//! Byte moves with no panic path. `copy_from_slice`, `copy_within` and heapless's
//! `Vec::remove` each carry a panic branch that the size-optimised build keeps out of line, and
//! one reachable panic links core's formatting machinery: kilobytes of flash. These check
//! their bounds once and report a miss instead.

/// Copies `src` into the start of `dst`. `false`, and nothing copied, when it does not fit.
pub(crate) fn copy_into(dst: &mut [u8], src: &[u8]) -> bool {
    if src.len() > dst.len() {
        return false;
    }
    // SAFETY: `dst` has room for `src.len()` bytes (checked above), and a `&mut` and a `&`
    // slice never overlap.
    unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_mut_ptr(), src.len()) };
    true
}

/// Moves `buf[from..end]` to start at `to`, in either direction, as `copy_within` does.
/// `false`, and nothing moved, when either range is not inside `buf`.
pub(crate) fn move_within(buf: &mut [u8], from: usize, end: usize, to: usize) -> bool {
    let Some(count) = end.checked_sub(from) else {
        return false;
    };
    if end > buf.len()
        || to
            .checked_add(count)
            .is_none_or(|to_end| to_end > buf.len())
    {
        return false;
    }
    let base = buf.as_mut_ptr();
    // SAFETY: `from..end` and `to..to + count` both lie in `buf` (checked above); `ptr::copy`
    // allows them to overlap.
    unsafe { core::ptr::copy(base.add(from), base.add(to), count) };
    true
}

/// Removes and returns `vec[index]`, keeping the order of the rest; `None` when out of range.
pub(crate) fn remove_at<T, const N: usize>(
    vec: &mut heapless::Vec<T, N>,
    index: usize,
) -> Option<T> {
    let len = vec.len();
    if index >= len {
        return None;
    }
    let base = vec.as_mut_ptr();
    // SAFETY: `index < len`, so slot `index` holds an initialised value that is read out once;
    // the `len - index - 1` values after it move down one slot (an overlapping copy inside the
    // initialised part); `set_len` then forgets the now-duplicated last slot.
    unsafe {
        let removed = core::ptr::read(base.add(index));
        core::ptr::copy(base.add(index + 1), base.add(index), len - index - 1);
        vec.set_len(len - 1);
        Some(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_into_copies_a_prefix_or_refuses() {
        let mut dst = [0u8; 4];
        assert!(copy_into(&mut dst, b"ab"));
        assert_eq!(dst, *b"ab\0\0");
        assert!(copy_into(&mut dst, b"wxyz"));
        assert_eq!(dst, *b"wxyz");
        assert!(!copy_into(&mut dst, b"12345"));
        assert_eq!(dst, *b"wxyz");
        assert!(copy_into(&mut dst, b""));
    }

    #[test]
    fn move_within_handles_overlap_both_ways_and_refuses_bad_ranges() {
        let mut buf = *b"0123456789";
        assert!(move_within(&mut buf, 3, 10, 1));
        assert_eq!(buf, *b"0345678989");
        let mut buf = *b"0123456789";
        assert!(move_within(&mut buf, 1, 8, 3));
        assert_eq!(buf, *b"0121234567");
        let before = buf;
        assert!(!move_within(&mut buf, 2, 11, 0), "end past the buffer");
        assert!(!move_within(&mut buf, 5, 4, 0), "from after end");
        assert!(
            !move_within(&mut buf, 2, 4, 9),
            "destination past the buffer"
        );
        assert!(
            !move_within(&mut buf, 0, 2, usize::MAX),
            "destination overflows"
        );
        assert_eq!(buf, before);
        assert!(
            move_within(&mut buf, 10, 10, 0),
            "an empty range at the end"
        );
        assert!(move_within(&mut buf, 0, 0, 10), "an empty range to the end");
    }

    #[test]
    fn remove_at_keeps_order_and_refuses_out_of_range() {
        let mut vec: heapless::Vec<u8, 4> = heapless::Vec::from_slice(&[1, 2, 3, 4]).unwrap();
        assert_eq!(remove_at(&mut vec, 1), Some(2));
        assert_eq!(vec.as_slice(), [1, 3, 4]);
        assert_eq!(remove_at(&mut vec, 3), None);
        assert_eq!(remove_at(&mut vec, 2), Some(4));
        assert_eq!(remove_at(&mut vec, 0), Some(1));
        assert_eq!(vec.as_slice(), [3]);
        assert_eq!(remove_at(&mut vec, 0), Some(3));
        assert_eq!(remove_at(&mut vec, 0), None);
    }
}
