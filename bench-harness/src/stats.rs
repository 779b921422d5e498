//! Latency summaries: percentiles from recorded samples.

use std::time::Duration;

use serde::Serialize;

/// Percentiles of a set of durations, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean_ns: f64,
    /// Median.
    pub p50_ns: f64,
    /// 99th percentile.
    pub p99_ns: f64,
    /// 99.9th percentile.
    pub p999_ns: f64,
    /// Largest.
    pub max_ns: f64,
}

/// Collects durations and summarises them.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    nanos: Vec<u64>,
}

impl Samples {
    /// Room for `n` samples.
    pub fn with_capacity(n: usize) -> Samples {
        Samples {
            nanos: Vec::with_capacity(n),
        }
    }

    /// Adds one duration.
    pub fn push(&mut self, d: Duration) {
        self.nanos
            .push(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.nanos.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.nanos.is_empty()
    }

    /// Mean, median, p99, p99.9 and max (nearest-rank).
    pub fn summary(&mut self) -> Percentiles {
        if self.nanos.is_empty() {
            return Percentiles::default();
        }
        self.nanos.sort_unstable();
        let n = self.nanos.len();
        let rank = |q: f64| {
            let i = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
            self.nanos[i] as f64
        };
        let sum: u128 = self.nanos.iter().map(|&v| u128::from(v)).sum();
        Percentiles {
            count: n as u64,
            mean_ns: sum as f64 / n as f64,
            p50_ns: rank(0.50),
            p99_ns: rank(0.99),
            p999_ns: rank(0.999),
            max_ns: self.nanos[n - 1] as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut s = Samples::default();
        for i in 1..=1000u64 {
            s.push(Duration::from_nanos(i));
        }
        let p = s.summary();
        assert_eq!(p.count, 1000);
        assert!((p.mean_ns - 500.5).abs() < 1e-9);
        assert!((p.p50_ns - 500.0).abs() < f64::EPSILON);
        assert!((p.p99_ns - 990.0).abs() < f64::EPSILON);
        assert!((p.p999_ns - 999.0).abs() < f64::EPSILON);
        assert!((p.max_ns - 1000.0).abs() < f64::EPSILON);
        assert_eq!(Samples::default().summary(), Percentiles::default());
    }
}
