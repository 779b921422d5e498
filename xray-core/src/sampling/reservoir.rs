//! A per-second reservoir: the first `capacity` requests of every wall-clock second are
//! sampled whatever the rate says.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::time::Timestamp;

/// Counts requests taken in the current second, lock-free.
///
/// The state is one `AtomicU64`: the epoch second in the high 32 bits and the number taken
/// in that second in the low 32 bits, updated with a compare-and-swap loop. Once a second's
/// capacity is used up, `take` only reads the word, so threads that are refused do not
/// fight over the cache line.
///
/// Counts are per process (per reservoir), as in every SDK: ten Lambda instances with a
/// `fixed_target` of 1 sample up to ten requests a second between them.
///
/// ```
/// use xray_core::model::Timestamp;
/// use xray_core::sampling::Reservoir;
///
/// let r = Reservoir::new(2);
/// let t = Timestamp::from_micros(1_700_000_000_000_000);
/// assert!(r.take(t) && r.take(t));
/// assert!(!r.take(t), "two per second");
/// assert!(r.take(Timestamp::from_micros(t.as_micros() + 1_000_000)), "a new second");
/// ```
#[derive(Debug)]
pub struct Reservoir {
    capacity: u32,
    state: AtomicU64,
}

impl Reservoir {
    /// A reservoir that lets `per_second` requests through each second. Capacities above
    /// `u32::MAX` behave as `u32::MAX` (no process takes four billion requests a second).
    pub fn new(per_second: u64) -> Reservoir {
        Reservoir {
            capacity: u32::try_from(per_second).unwrap_or(u32::MAX),
            state: AtomicU64::new(0),
        }
    }

    /// The number of requests let through per second.
    pub fn capacity(&self) -> u64 {
        u64::from(self.capacity)
    }

    /// Takes one request's worth from the second that `now` falls in; `false` once this
    /// second's capacity is used.
    #[inline]
    pub fn take(&self, now: Timestamp) -> bool {
        self.take_up_to(now.seconds(), self.capacity)
    }

    /// Like [`take`](Reservoir::take) with a capacity chosen by the caller: centralized rules
    /// take from a quota that changes with every target update, or borrow one a second.
    #[inline]
    pub(crate) fn take_up_to(&self, now_second: u64, capacity: u32) -> bool {
        if capacity == 0 {
            return false;
        }
        // Epoch seconds fit 32 bits until 2106; saturate rather than wrap after that.
        let now = u32::try_from(now_second).unwrap_or(u32::MAX);
        let mut current = self.state.load(Relaxed);
        loop {
            let (second, used) = unpack(current);
            let next = if starts_new_window(second, now) {
                pack(now, 1)
            } else if used >= capacity {
                return false;
            } else {
                pack(second, used + 1)
            };
            match self
                .state
                .compare_exchange_weak(current, next, Relaxed, Relaxed)
            {
                Ok(_) => return true,
                Err(seen) => current = seen,
            }
        }
    }
}

/// Whether a request at `now` opens a new one-second window over the one stored.
///
/// Threads read the clock a moment before they reach the reservoir, so near a second
/// boundary a thread can arrive holding the previous second after another thread has already
/// moved the window on. Such a request counts against the newer window instead of resetting
/// it (which would let extra requests through). A clock that really went back by two seconds
/// or more does reset the window, so the reservoir cannot stall until time catches up.
#[inline]
fn starts_new_window(stored: u32, now: u32) -> bool {
    now > stored || now.saturating_add(1) < stored
}

#[inline]
fn pack(second: u32, used: u32) -> u64 {
    (u64::from(second) << 32) | u64::from(used)
}

#[inline]
fn unpack(word: u64) -> (u32, u32) {
    ((word >> 32) as u32, word as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::ManualClock;
    use std::sync::atomic::AtomicUsize;

    const T0: u64 = 1_700_000_000_000_000;

    #[test]
    fn refills_every_second() {
        let clock = ManualClock::new(Timestamp::from_micros(T0));
        let r = Reservoir::new(3);
        assert_eq!((0..10).filter(|_| r.take(clock.now())).count(), 3);
        clock.advance_micros(999_999);
        assert!(!r.take(clock.now()), "same second");
        clock.advance_micros(1);
        assert_eq!((0..10).filter(|_| r.take(clock.now())).count(), 3);
    }

    #[test]
    fn zero_capacity_never_takes() {
        let r = Reservoir::new(0);
        assert!(!r.take(Timestamp::from_micros(T0)));
        assert_eq!(r.capacity(), 0);
        assert_eq!(Reservoir::new(u64::MAX).capacity(), u64::from(u32::MAX));
    }

    #[test]
    fn a_late_reading_counts_against_the_newer_second() {
        let r = Reservoir::new(1);
        let s = T0 / 1_000_000;
        assert!(r.take_up_to(s + 1, 1));
        assert!(!r.take_up_to(s, 1), "one second behind: same window");
        assert!(r.take_up_to(s - 5, 1), "a clock stepped back resets");
        assert!(!r.take_up_to(s - 5, 1));
    }

    #[test]
    fn threads_never_take_more_than_capacity() {
        let r = Reservoir::new(1000);
        let taken = AtomicUsize::new(0);
        let now = Timestamp::from_micros(T0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..2000 {
                        if r.take(now) {
                            taken.fetch_add(1, Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(taken.load(Relaxed), 1000);
    }
}
