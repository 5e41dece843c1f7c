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

/// Moves `buf[from..end]` down to start at `to` (`to <= from`), as `copy_within` does.
/// `false`, and nothing moved, when the range is not inside `buf` or would move up.
pub(crate) fn move_down(buf: &mut [u8], from: usize, end: usize, to: usize) -> bool {
    if to > from || from > end || end > buf.len() {
        return false;
    }
    let base = buf.as_mut_ptr();
    // SAFETY: `from..end` lies in `buf` and `to + (end - from) <= end <= buf.len()`, so both
    // ranges are in bounds; `ptr::copy` allows them to overlap.
    unsafe { core::ptr::copy(base.add(from), base.add(to), end - from) };
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
    fn move_down_handles_overlap_and_refuses_bad_ranges() {
        let mut buf = *b"0123456789";
        assert!(move_down(&mut buf, 3, 10, 1));
        assert_eq!(buf, *b"0345678989");
        let before = buf;
        assert!(!move_down(&mut buf, 2, 11, 0), "end past the buffer");
        assert!(!move_down(&mut buf, 5, 4, 0), "from after end");
        assert!(!move_down(&mut buf, 2, 4, 3), "moving up");
        assert_eq!(buf, before);
        assert!(move_down(&mut buf, 10, 10, 0), "an empty range at the end");
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
