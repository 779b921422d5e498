//! `Clock::System` against the OS clock over a long, bounded run: within 1 ms and monotonic.
//!
//! Its own test binary so the process-wide anchor starts uncalibrated and this test sees the
//! whole life of it: calibration, then several re-anchorings (one every 250 ms).

use std::time::{Duration, Instant};

use xray_core::model::{Clock, Timestamp};

#[test]
fn stays_within_a_millisecond_of_the_wall_clock_and_never_goes_back() {
    let clock = Clock::System;
    let start = Instant::now();
    let mut last = clock.now();
    let (mut reads, mut worst) = (0u64, 0u64);
    while start.elapsed() < Duration::from_millis(2_500) {
        for _ in 0..1_000 {
            let t = clock.now();
            assert!(t >= last, "went back: {last} then {t}");
            last = t;
            reads += 1;
        }
        // Bracket one reading between two OS readings: it must fall between them, give or
        // take the error allowed.
        let before = Timestamp::now().as_micros();
        let t = clock.now().as_micros();
        let after = Timestamp::now().as_micros();
        let off = if t < before {
            before - t
        } else {
            t.saturating_sub(after)
        };
        worst = worst.max(off);
        assert!(
            off < 1_000,
            "{off} µs outside [{before}, {after}] after {reads} reads"
        );
        std::thread::sleep(Duration::from_micros(500));
    }
    #[cfg(target_arch = "x86_64")]
    {
        let r = std::arch::x86_64::__cpuid(0x8000_0007);
        if (r.edx >> 8) & 1 == 1 {
            assert!(
                clock.counter_backed(),
                "an invariant TSC is present, yet the counter was never calibrated"
            );
        }
    }
    eprintln!("{reads} reads, worst offset {worst} µs");
}

#[test]
fn threads_agree_and_each_is_monotonic() {
    let clock = Clock::System;
    let deadline = Instant::now() + Duration::from_millis(800);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                let mut last = clock.now();
                while Instant::now() < deadline {
                    // Bracketed by two OS readings: a thread preempted between two reads
                    // must not look like an error of the clock.
                    let before = Timestamp::now().as_micros();
                    let t = clock.now();
                    let after = Timestamp::now().as_micros();
                    assert!(t >= last, "went back: {last} then {t}");
                    let m = t.as_micros();
                    assert!(
                        m + 1_000 > before && m < after + 1_000,
                        "{t} outside [{before}, {after}]"
                    );
                    last = t;
                }
            });
        }
    });
}
