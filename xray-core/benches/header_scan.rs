//! "Sampled?" from a trace header: `sampled_decision` (fixed offsets for the Lambda layout,
//! a field walk otherwise) against the full `TraceHeader::parse` it stands in for on the
//! unsampled path.
//!
//! Run: `cargo bench -p xray-core --bench header_scan -- --warm-up-time 1 --measurement-time 2`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use xray_core::{TraceHeader, wire::sampled_decision};

const HEADERS: &[(&str, &str)] = &[
    (
        "lambda layout, Sampled=0",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a87bd80c:1",
    ),
    (
        "other layout, Sampled=0 last",
        "Root=1-5759e988-bd862e3fe1be46a994272793; Parent=53995c3f42cd8ad8; Lineage=a87bd80c:1; Sampled=0",
    ),
];

fn header_scan(c: &mut Criterion) {
    let mut g = c.benchmark_group("trace_header_sampled");
    g.throughput(Throughput::Elements(1));
    for (name, raw) in HEADERS {
        g.bench_function(format!("baseline: TraceHeader::parse, {name}"), |b| {
            b.iter(|| black_box(TraceHeader::parse(black_box(raw)).sampled()));
        });
        g.bench_function(format!("ours: sampled_decision, {name}"), |b| {
            b.iter(|| black_box(sampled_decision(black_box(raw))));
        });
    }
    g.finish();
}

criterion_group!(benches, header_scan);
criterion_main!(benches);
