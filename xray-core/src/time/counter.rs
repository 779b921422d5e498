//! The wall clock derived from the CPU's time-stamp counter, with the OS clock as fallback.
//!
//! A sampled captured call needs two timestamps, and reading `SystemTime` (the vDSO
//! `clock_gettime` plus the conversion to microseconds) is about half of its cost. The TSC is
//! read in about a third of that time, so the wall clock is read only to anchor it: the
//! process keeps one `(wall microseconds, counter ticks)` anchor and a ticks-to-microseconds
//! scale, and every timestamp is `anchor + (ticks - anchor ticks) × scale`.
//!
//! Why hand-written rather than `quanta`: `quanta::Clock::new` calibrates by busy-waiting
//! against the monotonic clock for at least 500 µs and up to 200 ms, which would land in the
//! cold start or in the first traced invocation (the SDK's whole cold-start budget is 1 ms).
//! Here calibration is passive: until 10 ms have passed since the first reading, timestamps
//! come from the OS clock while the counter is noted beside it; the scale is then the ratio
//! of the two spans, and it is refined at every re-anchoring from spans of at least
//! [`REANCHOR_MICROS`], which also follows NTP slewing of the wall clock.
//!
//! The counter is trusted only where it ticks at a constant rate and is synchronised across
//! cores: on x86_64 with the invariant-TSC bit set (CPUID `0x8000_0007` EDX bit 8, as quanta
//! and the Linux kernel check). Everywhere else, and whenever a re-anchoring finds the scale
//! moved by more than 1 % (a stepped wall clock, a migrated VM), the OS clock is used.
//!
//! Properties, tested in `tests/clock_counter.rs` and below: timestamps never go backwards
//! (a re-anchoring that finds the counter ahead of the wall clock keeps the later value and
//! lets the corrected scale close the gap), and they stay within a few tens of microseconds of
//! the wall clock, far inside the 1 ms the segment format can care about.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering, fence};
use std::time::{SystemTime, UNIX_EPOCH};

/// How long an anchor is used before the wall clock is read again. One OS read per quarter
/// second costs nothing and bounds the drift of a slightly wrong scale to microseconds.
pub(crate) const REANCHOR_MICROS: u64 = 250_000;

/// The span of the first calibration.
const CALIBRATION_MICROS: u64 = 10_000;

/// Fixed-point shift of the scale: `micros = ticks × scale >> SHIFT`.
const SHIFT: u32 = 44;

/// `scale` values with a meaning of their own.
const UNCALIBRATED: u64 = 0;
const UNTRUSTED: u64 = u64::MAX;

/// One published anchor. Two slots alternate: a writer fills the inactive one under its
/// sequence number (odd while writing) and then makes it active, so a reader never waits for
/// a writer and never falls back to the OS clock mid-update (which could step backwards from
/// the counter's value). Every field is an atomic, so no `unsafe` is needed; on x86_64 the
/// loads are plain moves.
struct Slot {
    seq: AtomicU64,
    /// Microseconds of the anchor (clamped so time never goes back) and its ticks.
    micros: AtomicU64,
    ticks: AtomicU64,
    /// Microseconds per tick, `<< SHIFT`; [`UNCALIBRATED`] or [`UNTRUSTED`].
    scale: AtomicU64,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            seq: AtomicU64::new(0),
            micros: AtomicU64::new(0),
            ticks: AtomicU64::new(0),
            scale: AtomicU64::new(UNCALIBRATED),
        }
    }
}

static SLOTS: [Slot; 2] = [Slot::new(), Slot::new()];
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// Held by the one thread calibrating or re-anchoring; the others keep reading.
static WRITER: AtomicBool = AtomicBool::new(false);
/// The unclamped OS reading and ticks the next scale is measured from (writer only).
static CAL_MICROS: AtomicU64 = AtomicU64::new(0);
static CAL_TICKS: AtomicU64 = AtomicU64::new(0);

/// A consistent copy of the active slot.
#[derive(Clone, Copy)]
struct Snapshot {
    micros: u64,
    ticks: u64,
    scale: u64,
}

#[inline]
fn snapshot() -> Snapshot {
    // A retry needs two publications during one read (a quarter second apart): in practice
    // the loop runs once.
    loop {
        let slot = &SLOTS[ACTIVE.load(Ordering::Acquire) & 1];
        let seq = slot.seq.load(Ordering::Acquire);
        let snap = Snapshot {
            micros: slot.micros.load(Ordering::Relaxed),
            ticks: slot.ticks.load(Ordering::Relaxed),
            scale: slot.scale.load(Ordering::Relaxed),
        };
        fence(Ordering::Acquire);
        if seq & 1 == 0 && slot.seq.load(Ordering::Relaxed) == seq {
            return snap;
        }
        std::hint::spin_loop();
    }
}

/// Publishes a new anchor; only with [`WRITER`] held.
fn publish(micros: u64, ticks: u64, scale: u64) {
    let next = (ACTIVE.load(Ordering::Relaxed) + 1) & 1;
    let slot = &SLOTS[next];
    let seq = slot.seq.load(Ordering::Relaxed);
    slot.seq.store(seq + 1, Ordering::Relaxed);
    // Readers that see any of the stores below must also see `seq` odd.
    fence(Ordering::Release);
    slot.micros.store(micros, Ordering::Relaxed);
    slot.ticks.store(ticks, Ordering::Relaxed);
    slot.scale.store(scale, Ordering::Relaxed);
    slot.seq.store(seq + 2, Ordering::Release);
    ACTIVE.store(next, Ordering::Release);
}

fn try_write() -> bool {
    WRITER
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
}

fn end_write() {
    WRITER.store(false, Ordering::Release);
}

/// The wall clock read from the OS, in microseconds since the epoch.
#[inline]
pub(crate) fn os_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| {
        d.as_secs() * 1_000_000 + u64::from(d.subsec_micros())
    })
}

/// Whether the counter may be used on this machine.
#[cfg(target_arch = "x86_64")]
fn counter_trusted() -> bool {
    let power = std::arch::x86_64::__cpuid(0x8000_0000);
    power.eax >= 0x8000_0007 && (std::arch::x86_64::__cpuid(0x8000_0007).edx >> 8) & 1 == 1
}

#[cfg(not(target_arch = "x86_64"))]
fn counter_trusted() -> bool {
    // The aarch64 virtual counter would do, but reading it needs inline assembly that the
    // test machines cannot exercise; the OS clock is the documented fallback.
    false
}

#[cfg(target_arch = "x86_64")]
#[inline]
#[allow(unsafe_code)]
fn ticks() -> u64 {
    // SAFETY: `rdtsc` has no preconditions and exists on every x86_64 CPU; the intrinsic is
    // `unsafe` only by the convention of `core::arch`. Exercised by every test that reads
    // `Clock::System` after calibration (`tests/clock_counter.rs`).
    unsafe { std::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn ticks() -> u64 {
    0
}

/// The current wall-clock time in microseconds, from the counter when calibrated.
#[inline]
pub(crate) fn now_micros() -> u64 {
    let snap = snapshot();
    if snap.scale.wrapping_add(1) <= 1 {
        return uncalibrated(snap.scale);
    }
    // A thread on a core whose counter lags the anchor by a few ticks reads the anchor itself.
    let elapsed = scaled(ticks().saturating_sub(snap.ticks), snap.scale);
    if elapsed >= REANCHOR_MICROS {
        return reanchor(snap.micros + elapsed);
    }
    snap.micros + elapsed
}

#[inline]
fn scaled(ticks: u64, scale: u64) -> u64 {
    ((u128::from(ticks) * u128::from(scale)) >> SHIFT) as u64
}

/// Not yet calibrated, or untrusted: the OS clock, and calibration.
#[cold]
#[inline(never)]
fn uncalibrated(scale: u64) -> u64 {
    let now = os_micros();
    if scale != UNCALIBRATED || !try_write() {
        return now;
    }
    let t = ticks();
    if snapshot().scale != UNCALIBRATED {
        // Another thread finished calibration between our reading and the lock.
    } else if !counter_trusted() {
        publish(now, t, UNTRUSTED);
    } else {
        let (m0, t0) = (
            CAL_MICROS.load(Ordering::Relaxed),
            CAL_TICKS.load(Ordering::Relaxed),
        );
        if t0 == 0 || now < m0 {
            // The first reading, or the wall clock stepped back meanwhile: start here.
            CAL_MICROS.store(now, Ordering::Relaxed);
            CAL_TICKS.store(t.max(1), Ordering::Relaxed);
        } else if now - m0 >= CALIBRATION_MICROS {
            let scale = scale_between(m0, t0, now, t).unwrap_or(UNTRUSTED);
            CAL_MICROS.store(now, Ordering::Relaxed);
            CAL_TICKS.store(t, Ordering::Relaxed);
            publish(now, t, scale);
        }
    }
    end_write();
    now
}

/// The anchor is older than [`REANCHOR_MICROS`]: read the wall clock, refine the scale.
/// `derived` is what the old anchor gives now.
#[cold]
#[inline(never)]
fn reanchor(derived: u64) -> u64 {
    if !try_write() {
        return derived;
    }
    let (now, t) = (os_micros(), ticks());
    let snap = snapshot();
    let elapsed = scaled(t.saturating_sub(snap.ticks), snap.scale);
    let derived = derived.max(snap.micros + elapsed);
    if elapsed < REANCHOR_MICROS || snap.scale.wrapping_add(1) <= 1 {
        // Another thread re-anchored (or gave up) between our reading and the lock.
        end_write();
        return if snap.scale.wrapping_add(1) <= 1 {
            now
        } else {
            derived
        };
    }
    let (m0, t0) = (
        CAL_MICROS.load(Ordering::Relaxed),
        CAL_TICKS.load(Ordering::Relaxed),
    );
    CAL_MICROS.store(now, Ordering::Relaxed);
    CAL_TICKS.store(t, Ordering::Relaxed);
    let result = match scale_between(m0, t0, now, t) {
        // Within 1 %: the same counter and a wall clock that only slews.
        Some(next) if next.abs_diff(snap.scale) <= snap.scale / 100 => {
            // Never go backwards: if the counter ran ahead, keep its later value and let the
            // corrected scale close the gap. A real backward step (over 1 ms) is followed.
            let anchor = if derived > now && derived - now <= 1_000 {
                derived
            } else {
                now
            };
            publish(anchor, t, next);
            anchor
        }
        // A stepped wall clock or a VM moved to another host: calibrate again from here,
        // on the OS clock meanwhile.
        _ => {
            publish(now, t, UNCALIBRATED);
            now
        }
    };
    end_write();
    result
}

/// Microseconds per tick between two readings, `<< SHIFT`; `None` if either span is empty.
fn scale_between(m0: u64, t0: u64, m1: u64, t1: u64) -> Option<u64> {
    let (dm, dt) = (m1.checked_sub(m0)?, t1.checked_sub(t0)?);
    if dm == 0 || dt == 0 {
        return None;
    }
    let s = (u128::from(dm) << SHIFT) / u128::from(dt);
    u64::try_from(s)
        .ok()
        .filter(|&s| s != UNCALIBRATED && s != UNTRUSTED)
}

/// Whether timestamps currently come from the counter (for tests and the bench notes).
pub(crate) fn counter_in_use() -> bool {
    snapshot().scale.wrapping_add(1) > 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_between_rejects_empty_spans() {
        assert_eq!(scale_between(10, 10, 10, 20), None);
        assert_eq!(scale_between(10, 10, 20, 10), None);
        assert_eq!(scale_between(20, 10, 10, 20), None);
        // 1 µs per 1000 ticks.
        let s = scale_between(0, 0, 1_000, 1_000_000).unwrap();
        // Floored fixed point: at most one microsecond short.
        assert!((999..=1_000).contains(&scaled(1_000_000, s)));
        assert!((2..=3).contains(&scaled(3_000, s)));
    }

    #[test]
    fn scaled_does_not_overflow_for_hours_of_ticks() {
        let s = scale_between(0, 0, 1_000_000, 3_000_000_000).unwrap(); // 3 GHz
        let hour = 3_000_000_000u64 * 3600;
        assert!(scaled(hour, s).abs_diff(3_600_000_000) <= 1);
    }
}
