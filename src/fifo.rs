//! A first-in first-out queue of a few small values, as compact as the values allow: `N`
//! options, filled from the front, and nothing else. A value with a niche (an enum with
//! spare tags, as the engine's `Event` and the client's `Dispatch`) makes an option no
//! larger than the value, so the queue costs `N` values: no indices, no flag (heapless's
//! `Deque` adds two words and a flag). Popping moves the rest down, which for the handful of
//! slots these queues hold costs less than the indices' arithmetic.

/// Invariant: the `Some` slots come first, in arrival order.
pub(crate) struct Fifo<T, const N: usize> {
    slots: [Option<T>; N],
}

impl<T, const N: usize> Fifo<T, N> {
    pub(crate) const fn new() -> Self {
        Fifo {
            slots: [const { None }; N],
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.slots.first().is_none_or(Option::is_none)
    }

    pub(crate) fn is_full(&self) -> bool {
        self.slots.last().is_none_or(Option::is_some)
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.iter().take_while(|slot| slot.is_some()).count()
    }

    /// Appends `value`, or hands it back when the queue is full.
    pub(crate) fn push_back(&mut self, value: T) -> Result<(), T> {
        match self.slots.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => {
                *slot = Some(value);
                Ok(())
            }
            None => Err(value),
        }
    }

    pub(crate) fn pop_front(&mut self) -> Option<T> {
        let mut slots = self.slots.iter_mut();
        let mut hole = slots.next()?;
        let value = hole.take()?;
        for slot in slots {
            if slot.is_none() {
                break;
            }
            *hole = slot.take();
            hole = slot;
        }
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::Fifo;

    #[test]
    fn keeps_arrival_order_and_refuses_when_full() {
        let mut q: Fifo<u8, 3> = Fifo::new();
        assert!(q.is_empty() && !q.is_full());
        assert_eq!(q.pop_front(), None);
        for v in 1..=3 {
            assert_eq!(q.push_back(v), Ok(()));
        }
        assert!(q.is_full());
        assert_eq!(q.len(), 3);
        assert_eq!(q.push_back(4), Err(4));
        assert_eq!(q.pop_front(), Some(1));
        assert_eq!(q.len(), 2);
        assert_eq!(q.push_back(5), Ok(()));
        assert_eq!(q.pop_front(), Some(2));
        assert_eq!(q.pop_front(), Some(3));
        assert_eq!(q.pop_front(), Some(5));
        assert_eq!(q.pop_front(), None);
        assert!(q.is_empty());
    }

    #[test]
    fn costs_no_more_than_its_values_when_they_have_a_niche() {
        #[allow(dead_code)]
        enum Small {
            A(u16),
            B { x: u16, y: u16 },
            C,
        }
        assert_eq!(
            core::mem::size_of::<Fifo<Small, 4>>(),
            4 * core::mem::size_of::<Small>()
        );
    }
}
