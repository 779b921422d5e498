//! Timestamps: `Clock::System` (the wall clock read through the calibrated CPU counter)
//! against the OS clock it replaces, `SystemTime::now` alone and converted to microseconds.
//!
//! Run: `cargo bench -p xray-core --bench clock -- --warm-up-time 1 --measurement-time 2`

use std::hint::black_box;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use xray_core::model::{Clock, Timestamp};

fn clock(c: &mut Criterion) {
    // Let the counter calibrate (10 ms) before measuring it.
    let clock = Clock::System;
    let until = std::time::Instant::now() + Duration::from_millis(30);
    while std::time::Instant::now() < until {
        black_box(clock.now());
    }
    eprintln!("clock: counter in use: {}", clock.counter_backed());

    let mut g = c.benchmark_group("clock");
    g.throughput(Throughput::Elements(1));
    g.bench_function("baseline: SystemTime::now", |b| {
        b.iter(|| black_box(SystemTime::now()));
    });
    g.bench_function(
        "baseline: SystemTime::now as micros (Timestamp::now)",
        |b| {
            b.iter(|| black_box(Timestamp::now()));
        },
    );
    g.bench_function("ours: Clock::System.now", |b| {
        b.iter(|| black_box(black_box(&clock).now()));
    });
    g.bench_function("reference: SystemTime::now + duration_since", |b| {
        b.iter(|| black_box(SystemTime::now().duration_since(UNIX_EPOCH)));
    });
    g.finish();
}

criterion_group!(benches, clock);
criterion_main!(benches);
