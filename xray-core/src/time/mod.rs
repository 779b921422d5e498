//! Wall-clock timestamps with microsecond resolution, kept as integers.
//!
//! X-Ray wants epoch seconds as a JSON number. An `f64` at 1.7e9 seconds only resolves about a
//! quarter of a microsecond and formatting it costs a float-to-text conversion, so timestamps
//! stay integer microseconds and are written as `<seconds>.<6 digits>`.
//!
//! [`Clock::System`] reads the wall clock through the CPU's counter (`counter.rs`): once per
//! quarter second from the OS, in between from the counter, which halves the cost of a
//! timestamp; [`Timestamp::now`] always asks the OS.

mod counter;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Microseconds since the Unix epoch.
///
/// ```
/// use xray_core::model::Timestamp;
/// let t = Timestamp::from_micros(1_461_096_053_375_180);
/// assert_eq!(t.to_string(), "1461096053.375180");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

impl Timestamp {
    /// Builds a timestamp from microseconds since the epoch.
    pub const fn from_micros(micros: u64) -> Timestamp {
        Timestamp(micros)
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Whole seconds since the epoch.
    pub const fn seconds(self) -> u64 {
        self.0 / 1_000_000
    }

    /// The current system time, read from the OS (`SystemTime::now`). [`Clock::System`]
    /// gives the same time more cheaply.
    #[inline]
    pub fn now() -> Timestamp {
        Timestamp(counter::os_micros())
    }

    /// Writes `<seconds>.<6 digits>` into `out`, returning the bytes used (at most 27).
    #[inline]
    pub fn write_decimal(self, out: &mut [u8; 27]) -> usize {
        let mut ibuf = itoa::Buffer::new();
        let secs = ibuf.format(self.0 / 1_000_000).as_bytes();
        let n = secs.len();
        out[..n].copy_from_slice(secs);
        out[n] = b'.';
        let mut frac = (self.0 % 1_000_000) as u32;
        for i in (0..6).rev() {
            out[n + 1 + i] = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        n + 7
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut buf = [0u8; 27];
        let n = self.write_decimal(&mut buf);
        f.write_str(std::str::from_utf8(&buf[..n]).unwrap_or("0.000000"))
    }
}

/// Where timestamps come from: the system clock, or a manual clock for tests.
///
/// ```
/// use xray_core::model::{Clock, Timestamp};
/// let (a, b) = (Clock::System.now(), Clock::System.now());
/// assert!(b >= a);
/// assert!(a.as_micros().abs_diff(Timestamp::now().as_micros()) < 1_000_000);
/// ```
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The system wall clock. Where the CPU has an invariant time-stamp counter (x86_64),
    /// read through it: the OS clock anchors it every quarter second and calibrates its
    /// rate, timestamps never go backwards and stay within microseconds of the OS clock.
    /// Elsewhere, and while calibrating (the first 10 ms), `SystemTime::now()`.
    #[default]
    System,
    /// A clock that only moves when told to (see [`ManualClock`]).
    Manual(ManualClock),
}

thread_local! {
    static LAST_MICROS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Never earlier than this thread's previous reading. A thread that read the counter under
/// the previous anchor, just before another thread re-anchored with a corrected rate, can be
/// a few hundred microseconds ahead of the new anchor's line; holding its last value until
/// the new line passes it keeps a subsegment's end after its start.
#[inline]
fn monotonic(micros: u64) -> u64 {
    LAST_MICROS.with(|last| {
        let t = micros.max(last.get());
        last.set(t);
        t
    })
}

impl Clock {
    /// The current time on this clock.
    #[inline]
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp(monotonic(counter::now_micros())),
            Clock::Manual(m) => m.now(),
        }
    }

    /// Whether [`Clock::System`] is currently derived from the CPU counter (`false` before
    /// calibration, on CPUs without an invariant counter, and for a manual clock).
    ///
    /// ```
    /// use xray_core::model::{Clock, ManualClock, Timestamp};
    /// assert!(!Clock::Manual(ManualClock::new(Timestamp::from_micros(0))).counter_backed());
    /// ```
    pub fn counter_backed(&self) -> bool {
        matches!(self, Clock::System) && counter::counter_in_use()
    }
}

/// A shared clock that tests move by hand.
///
/// ```
/// use xray_core::model::{ManualClock, Timestamp};
/// let c = ManualClock::new(Timestamp::from_micros(1_000_000));
/// c.advance_micros(250);
/// assert_eq!(c.now().as_micros(), 1_000_250);
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock(Arc::new(AtomicU64::new(start.as_micros())))
    }

    /// The time the clock shows.
    pub fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::Relaxed))
    }

    /// Moves the clock forward.
    pub fn advance_micros(&self, micros: u64) {
        self.0.fetch_add(micros, Ordering::Relaxed);
    }

    /// Sets the clock.
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.as_micros(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_form_is_exact() {
        assert_eq!(Timestamp::from_micros(0).to_string(), "0.000000");
        assert_eq!(Timestamp::from_micros(1).to_string(), "0.000001");
        assert_eq!(
            Timestamp::from_micros(1_480_615_200_010_000).to_string(),
            "1480615200.010000"
        );
        assert_eq!(
            Timestamp::from_micros(u64::MAX).to_string(),
            "18446744073709.551615"
        );
        let v: f64 = "1461096053.375180".parse().unwrap();
        let t = Timestamp::from_micros(1_461_096_053_375_180);
        assert!((t.to_string().parse::<f64>().unwrap() - v).abs() < 1e-9);
    }

    use std::time::{SystemTime, UNIX_EPOCH};

    #[test]
    fn now_is_close_to_system_time() {
        let a = Timestamp::now();
        let b = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        assert!(a.seconds().abs_diff(b.as_secs()) <= 1);
    }
}
