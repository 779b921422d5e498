//! Concurrency: many invocations in flight in one process, through the real `lambda_runtime`
//! loop (`run_concurrent`), in-process and with the `register-user` binary as a subprocess.
//! Every subsegment must land in its own invocation's trace, under the right parent.
//!
//! With `--output otlp-udp` the functions send OTLP spans instead; the same checks run on the
//! spans the daemon decoded (a span whose parent was received in another trace makes its
//! datagram invalid there, so it counts as an invalid document rather than as a foreign
//! attachment).

use std::time::Duration;

use serde::Serialize;
use workloads::synthetic::Work;
use xray_core::{Output, TraceId};

use crate::daemon::FakeDaemon;
use crate::runtime_api::{Outcome, RuntimeApi};

use super::{Settings, output_name};

/// One run of the runtime loop.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// Which function ran.
    pub function: String,
    /// What it sent: `xray-udp` or `otlp-udp`.
    pub output: String,
    /// `AWS_LAMBDA_MAX_CONCURRENCY`.
    pub concurrency: u32,
    /// Invocations sent.
    pub invocations: usize,
    /// Invocations answered.
    pub completed: usize,
    /// Answered with an error (expected only where the event asks for one).
    pub errors: usize,
    /// Invocations per second through the loop.
    pub invocations_per_s: f64,
    /// Traces that arrived complete (every expected entity present).
    pub traces_complete: usize,
    /// Subsegments found in a trace other than their invocation's.
    pub foreign_attachments: usize,
    /// Entities whose parent is neither in their trace nor the invocation's facade.
    pub orphans: usize,
    /// Most invocations seen overlapping in time.
    pub max_overlap: usize,
    /// Invocations annotated `ColdStart: true` (exactly one per process).
    pub cold_starts: usize,
    /// Invocations whose handler subsegment carries `fault` (the failing ones asked for).
    pub faults: usize,
    /// Why the run did not happen, if it did not.
    pub skipped: Option<String>,
}

/// What the scenario found.
#[derive(Debug, Clone, Serialize)]
pub struct ConcurrencyReport {
    /// Each run.
    pub runs: Vec<Run>,
    /// Sum of foreign attachments (must be 0).
    pub foreign_attachments: usize,
}

const FACADE: &str = "53995c3f42cd8ad8";

/// Sends `n` invocations of `payload(i)` with their own sampled traces and checks the result.
pub fn drive(
    settings: &Settings,
    api: &RuntimeApi,
    daemon: &FakeDaemon,
    function: &str,
    concurrency: u32,
    n: usize,
    payload: impl Fn(usize) -> (Vec<u8>, usize),
) -> Run {
    daemon.clear();
    let before = daemon.stats();
    let start = std::time::Instant::now();
    let mut sent = Vec::new();
    for i in 0..n {
        let root = TraceId::random().to_string();
        let header = format!("Root={root};Parent={FACADE};Sampled=1");
        let (body, entities) = payload(i);
        let id = api.invoke(&body, Some(&header));
        sent.push((id, root, entities));
    }
    let mut completed = 0;
    let mut errors = 0;
    for (id, _, _) in &sent {
        if let Some(c) = api.wait_outcome(id, Duration::from_secs(30)) {
            completed += 1;
            if matches!(c.outcome, Outcome::Error { .. }) {
                errors += 1;
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let otlp = settings.output == Output::OtlpUdp;
    if otlp {
        let spans: usize = sent.iter().map(|(_, _, n)| n).sum();
        daemon.wait_for_otlp_spans(before.otlp_spans + spans as u64, Duration::from_secs(10));
    } else {
        let expected_docs: u64 = sent.len() as u64;
        daemon.wait_for(before.accepted + expected_docs, Duration::from_secs(10));
    }
    let mut complete = 0;
    let mut orphans = 0;
    let mut cold_starts = 0;
    let mut faults = 0;
    let mut spans = Vec::new();
    let facade = u64::from_str_radix(FACADE, 16).map_or([0; 8], u64::to_be_bytes);
    for (_, root, entities) in &sent {
        if otlp {
            let Some(t) = daemon.otlp_trace(root) else {
                continue;
            };
            complete += usize::from(t.len() == *entities);
            let ids: Vec<[u8; 8]> = t.iter().map(|s| s.span_id).collect();
            orphans += t
                .iter()
                .filter_map(|s| s.parent_span_id)
                .filter(|p| *p != facade && !ids.contains(p))
                .count();
            // The handler's span: the one whose parent is the facade.
            if let Some(h) = t.iter().find(|s| s.parent_span_id == Some(facade)) {
                cold_starts += usize::from(h.cold_start == Some(true));
                faults += usize::from(h.error);
                spans.push((h.start_unix_nano as f64, h.end_unix_nano as f64));
            }
            continue;
        }
        if let Some(t) = daemon.trace(root) {
            if t.entities.len() == *entities {
                complete += 1;
            }
            orphans += t.missing_parents(&[FACADE]).len();
            if let Some(h) = t.roots().first() {
                cold_starts += usize::from(h.annotations.get("ColdStart") == Some(&true.into()));
                faults += usize::from(h.fields.get("fault") == Some(&true.into()));
                if let (Some(s), Some(e)) = (h.start_time, h.end_time) {
                    spans.push((s, e));
                }
            }
        }
    }
    let max_overlap = max_overlap(&mut spans);
    let run = Run {
        function: function.to_owned(),
        output: output_name(&settings.output).to_owned(),
        concurrency,
        invocations: n,
        completed,
        errors,
        invocations_per_s: completed as f64 / elapsed,
        traces_complete: complete,
        foreign_attachments: daemon.foreign_attachments().len(),
        orphans,
        max_overlap,
        cold_starts,
        faults,
        skipped: None,
    };
    settings.progress(&format!(
        "concurrency: {function} x{concurrency}: {completed}/{n} answered, {complete} traces complete, \
         {} foreign, up to {max_overlap} in flight",
        run.foreign_attachments
    ));
    run
}

/// The most intervals that overlap at one instant.
fn max_overlap(spans: &mut [(f64, f64)]) -> usize {
    let mut events: Vec<(f64, i32)> = spans.iter().flat_map(|&(s, e)| [(s, 1), (e, -1)]).collect();
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut cur, mut best) = (0i32, 0i32);
    for (_, d) in events {
        cur += d;
        best = best.max(cur);
    }
    best as usize
}

/// The in-process run: the synthetic handler fans out inside each invocation.
pub fn in_process(
    settings: &Settings,
    api: &RuntimeApi,
    daemon: &FakeDaemon,
    concurrency: u32,
) -> Run {
    let n = if settings.quick { 48 } else { 400 };
    drive(
        settings,
        api,
        daemon,
        "synthetic (in-process)",
        concurrency,
        n,
        |i| {
            let work = Work {
                calls: 2,
                fan_out: 3,
                wait_ms: 1 + (i as u64 * 7) % 9,
                // Every tenth one takes the error path.
                fail: i % 10 == 9,
                ..Work::default()
            };
            let body = serde_json::to_vec(&work).unwrap_or_default();
            (body, work.entities())
        },
    )
}

/// Sums what must be zero.
pub fn report(runs: Vec<Run>) -> ConcurrencyReport {
    let foreign_attachments = runs.iter().map(|r| r.foreign_attachments).sum();
    ConcurrencyReport {
        runs,
        foreign_attachments,
    }
}

#[cfg(test)]
mod tests {
    use super::max_overlap;

    #[test]
    fn overlap() {
        let mut s = [(0.0, 2.0), (1.0, 3.0), (2.5, 4.0), (5.0, 6.0)];
        assert_eq!(max_overlap(&mut s), 2);
        assert_eq!(max_overlap(&mut []), 0);
    }
}
