//! A counter split over cache-line-sized slots, so threads counting the same rule do not
//! take turns owning one cache line.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

const SLOTS: usize = 8;

#[derive(Debug, Default)]
#[repr(align(64))]
struct Slot(AtomicU64);

/// Adds are relaxed and land in the calling thread's slot; reads sum the slots.
#[derive(Debug, Default)]
pub(crate) struct StripedCounter([Slot; SLOTS]);

thread_local! {
    static SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
}
static NEXT_SLOT: AtomicUsize = AtomicUsize::new(0);

/// This thread's slot: threads are dealt slots in turn on first use.
#[inline]
fn my_slot() -> usize {
    SLOT.try_with(|s| {
        let v = s.get();
        if v < SLOTS {
            v
        } else {
            let v = NEXT_SLOT.fetch_add(1, Relaxed) % SLOTS;
            s.set(v);
            v
        }
    })
    .unwrap_or(0)
}

impl StripedCounter {
    #[inline]
    pub(crate) fn increment(&self) {
        self.0[my_slot()].0.fetch_add(1, Relaxed);
    }

    pub(crate) fn add(&self, n: u64) {
        if n > 0 {
            self.0[my_slot()].0.fetch_add(n, Relaxed);
        }
    }

    pub(crate) fn sum(&self) -> u64 {
        self.0
            .iter()
            .fold(0u64, |acc, s| acc.wrapping_add(s.0.load(Relaxed)))
    }

    /// Reads and zeroes the counter; increments racing with this land either in this total
    /// or in the next, never nowhere.
    pub(crate) fn take(&self) -> u64 {
        self.0
            .iter()
            .fold(0u64, |acc, s| acc.wrapping_add(s.0.swap(0, Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_across_threads_without_loss() {
        let c = StripedCounter::default();
        let mut taken = 0;
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| (0..10_000).for_each(|_| c.increment()));
            }
            for _ in 0..50 {
                taken += c.take();
                std::thread::yield_now();
            }
        });
        taken += c.take();
        assert_eq!(taken, 40_000);
        c.add(5);
        assert_eq!(c.sum(), 5);
    }
}
