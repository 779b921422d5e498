//! Where the `random < rate` draws come from.

use std::sync::{Arc, Mutex, PoisonError};

use rand::{Rng, SeedableRng, rngs::StdRng};

/// The thread-local generator of `rand` in production; a seeded generator in tests.
///
/// The seeded variant shares one generator behind a mutex so a test sees the same sequence
/// whatever thread draws; that lock is acceptable only because it is a test aid.
#[derive(Debug, Clone, Default)]
pub(crate) enum Draw {
    #[default]
    Thread,
    Seeded(Arc<Mutex<StdRng>>),
}

impl Draw {
    pub(crate) fn seeded(seed: u64) -> Draw {
        Draw::Seeded(Arc::new(Mutex::new(StdRng::seed_from_u64(seed))))
    }

    /// True with probability `rate`; rates of 0 and 1 decide without a draw.
    #[inline]
    pub(crate) fn below(&self, rate: f64) -> bool {
        if rate <= 0.0 {
            return false;
        }
        if rate >= 1.0 {
            return true;
        }
        let x: f64 = match self {
            Draw::Thread => rand::rng().random(),
            Draw::Seeded(rng) => rng.lock().unwrap_or_else(PoisonError::into_inner).random(),
        };
        x < rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_and_frequency() {
        let d = Draw::seeded(1);
        assert!((0..1000).all(|_| !d.below(0.0)));
        assert!((0..1000).all(|_| d.below(1.0)));
        let hits = (0..100_000).filter(|_| d.below(0.25)).count();
        assert!((23_500..26_500).contains(&hits), "{hits}");
        let t = Draw::Thread;
        let hits = (0..100_000).filter(|_| t.below(0.5)).count();
        assert!((48_000..52_000).contains(&hits), "{hits}");
    }

    #[test]
    fn same_seed_same_sequence() {
        let a = Draw::seeded(42);
        let b = Draw::seeded(42);
        let xs: Vec<bool> = (0..64).map(|_| a.below(0.5)).collect();
        let ys: Vec<bool> = (0..64).map(|_| b.below(0.5)).collect();
        assert_eq!(xs, ys);
    }
}
