//! Overhead: what tracing adds to an invocation, against the bare handler, by number of
//! captured calls and by mode (sampled, sampled with the UDP send of X-Ray documents or of
//! OTLP spans, unsampled, disabled), beside the one-datagram floor and the peers (see
//! [`super::peers`]).
//!
//! The modes are alternated: each call count is measured in [`ROUNDS`] rounds, every mode
//! taking its turn in each, so a slow spell of the shared machine lands on all of them. Each
//! invocation is the synthetic workload run the way `#[capture_lambda_handler]` runs it,
//! around a tracer chosen per mode, polled on this thread without an executor so nothing but
//! the work and the tracing is timed. Every invocation is timed on its own; the report gives
//! mean, p50, p99 and p99.9, the overhead against the bare handler, the cost per captured call
//! (the slope over the call counts), and allocations per sampled invocation in the steady
//! state.

use std::net::UdpSocket;
use std::time::Instant;

use serde::Serialize;
use workloads::synthetic::{self, Work};
use xray_core::{Config, Output, OutputConfig, Tracer, wire::Emitter};

use super::peers::{Floor, TracingRegistry};
use crate::alloc_count;
use crate::stats::{Percentiles, Samples};

use super::{Settings, block_on};

/// A way of running the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The workload alone, no tracing code at all.
    Bare,
    /// Traced, `Sampled=0`: the common case.
    Unsampled,
    /// Tracing switched off (`AWS_XRAY_SDK_DISABLED=true`).
    Disabled,
    /// Traced and sampled: recorded and written, the socket replaced by a discarding sink.
    Sampled,
    /// Traced and sampled, with the real UDP send to a local socket.
    SampledWithSend,
    /// The same with the OTLP output (`XRAY_RS_OUTPUT=otlp-udp`): `T1S` datagrams of
    /// base64 protobuf spans instead of X-Ray documents.
    SampledWithOtlpSend,
    /// The floor: the workload alone plus one raw UDP `send` of as many bytes as
    /// [`Mode::SampledWithSend`] sends for the same work.
    Floor,
    /// `tracing` with the registry subscriber, a span per captured call.
    TracingRegistry,
    /// The OpenTelemetry SDK with `opentelemetry-aws`'s X-Ray exporter, simple processor,
    /// exporting to a local socket (feature `peers`).
    #[cfg(feature = "peers")]
    OtelXray,
}

impl Mode {
    /// Every mode, in the order the summary lists them.
    #[cfg(not(feature = "peers"))]
    pub const ALL: &[Mode] = &[
        Mode::Bare,
        Mode::Floor,
        Mode::Unsampled,
        Mode::Disabled,
        Mode::Sampled,
        Mode::SampledWithSend,
        Mode::SampledWithOtlpSend,
        Mode::TracingRegistry,
    ];
    /// Every mode, in the order the summary lists them.
    #[cfg(feature = "peers")]
    pub const ALL: &[Mode] = &[
        Mode::Bare,
        Mode::Floor,
        Mode::Unsampled,
        Mode::Disabled,
        Mode::Sampled,
        Mode::SampledWithSend,
        Mode::SampledWithOtlpSend,
        Mode::TracingRegistry,
        Mode::OtelXray,
    ];
}

/// Rounds each call count is measured in, the modes alternated within each.
pub const ROUNDS: u32 = 5;

/// One measured point.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    /// How the handler ran.
    pub mode: Mode,
    /// Captured calls per invocation.
    pub calls: u32,
    /// Per-invocation latency.
    pub latency: Percentiles,
    /// Mean latency minus the bare handler's mean at the same call count.
    pub overhead_ns: f64,
    /// Median latency minus the bare handler's median: what the per-call slope is fitted to,
    /// because on shared cores a few preempted runs move the mean more than the work does.
    pub overhead_p50_ns: f64,
    /// Median latency over the bare handler's median at the same call count.
    pub vs_bare: f64,
    /// Median latency over the floor's median at the same call count.
    pub vs_floor: f64,
}

/// Cost per captured call, by mode: the least-squares slope of median overhead over call count.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct PerCall {
    /// Sampled, recorded and written.
    pub sampled_ns: f64,
    /// Sampled, with the send.
    pub sampled_with_send_ns: f64,
    /// Sampled, with the OTLP send.
    pub sampled_with_otlp_send_ns: f64,
    /// Unsampled.
    pub unsampled_ns: f64,
    /// Disabled.
    pub disabled_ns: f64,
}

/// What the overhead scenario found.
#[derive(Debug, Clone, Serialize)]
pub struct OverheadReport {
    /// The call counts measured.
    pub calls: Vec<u32>,
    /// Every point.
    pub points: Vec<Point>,
    /// Cost per captured call.
    pub per_call: PerCall,
    /// Fixed cost per invocation (overhead at zero calls), sampled.
    pub per_invocation_sampled_ns: f64,
    /// Allocations per sampled invocation with 10 captured calls, after warm-up; `None` when
    /// the counting allocator is not installed.
    pub allocations_per_invocation: Option<f64>,
    /// The same with the OTLP output.
    pub allocations_per_invocation_otlp: Option<f64>,
    /// Invocations timed in all.
    pub invocations: u64,
    /// Bytes the floor sent per invocation, by call count (what the sampled mode sends).
    pub floor_bytes: Vec<(u32, usize)>,
}

const SAMPLED: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
const UNSAMPLED: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0";

struct Tracers {
    null: Tracer,
    udp: Tracer,
    otlp: Tracer,
    disabled: Tracer,
    floor: Floor,
    tracing: TracingRegistry,
    #[cfg(feature = "peers")]
    otel: super::peers::otel::OtelXray,
    /// Receives the sampled-with-send datagrams of both outputs; never read (the kernel drops
    /// what overflows).
    _sink: UdpSocket,
}

impl Tracers {
    fn new() -> std::io::Result<Tracers> {
        let sink = UdpSocket::bind("127.0.0.1:0")?;
        let limit = xray_core::wire::DEFAULT_DATAGRAM_LIMIT;
        let mut otlp = Config::default();
        otlp.output = OutputConfig::new(Output::OtlpUdp);
        otlp.daemon.udp = sink.local_addr()?;
        let otlp_emitter = Emitter::for_config(&otlp);
        let mut disabled = Config::default();
        disabled.disabled = true;
        Ok(Tracers {
            null: Tracer::with_emitter(Config::default(), Emitter::null(limit)),
            udp: Tracer::with_emitter(
                Config::default(),
                Emitter::try_udp(sink.local_addr()?, limit)?,
            ),
            otlp: Tracer::with_emitter(otlp, otlp_emitter),
            disabled: Tracer::new(disabled),
            floor: Floor::new(sink.local_addr()?)?,
            tracing: TracingRegistry::new(),
            #[cfg(feature = "peers")]
            otel: super::peers::otel::OtelXray::new(sink.local_addr()?)?,
            _sink: sink,
        })
    }

    /// Bytes one sampled invocation of `work` hands to the kernel, headers included.
    fn datagram_bytes(&self, work: Work) -> usize {
        let before = self.udp.stats().emitter;
        self.invoke(Mode::SampledWithSend, work);
        let after = self.udp.stats().emitter;
        usize::try_from(after.bytes_handed_to_kernel - before.bytes_handed_to_kernel)
            .unwrap_or(usize::MAX)
    }

    /// One invocation, as the handler macro runs it.
    fn invoke(&self, mode: Mode, work: Work) -> u64 {
        let (tracer, header) = match mode {
            Mode::Bare => return synthetic::bare::run(work).checksum,
            Mode::Floor => return self.floor.invoke(work),
            Mode::TracingRegistry => return self.tracing.invoke(work),
            #[cfg(feature = "peers")]
            Mode::OtelXray => return self.otel.invoke(work),
            Mode::Unsampled => (&self.null, UNSAMPLED),
            Mode::Disabled => (&self.disabled, SAMPLED),
            Mode::Sampled => (&self.null, SAMPLED),
            Mode::SampledWithSend => (&self.udp, SAMPLED),
            Mode::SampledWithOtlpSend => (&self.otlp, SAMPLED),
        };
        let mut invocation = tracer.begin_invocation(Some(header));
        let out = block_on(invocation.instrument(synthetic::run(work)));
        let checksum = out.as_ref().map_or(0, |o| o.checksum);
        match &out {
            Ok(o) => invocation.finish_ok(o),
            Err(e) => invocation.finish_err(e),
        }
        checksum
    }
}

/// Runs the scenario.
pub fn run(settings: &Settings) -> std::io::Result<OverheadReport> {
    let tracers = Tracers::new()?;
    let calls: Vec<u32> = if settings.quick {
        vec![0, 10, 100]
    } else {
        vec![0, 1, 5, 10, 25, 50, 100]
    };
    let points_total = calls.len() * Mode::ALL.len() * ROUNDS as usize;
    let per_turn = settings.duration.div_f64(points_total as f64);
    let mut points = Vec::new();
    let mut invocations = 0u64;
    let mut checksum = 0u64;
    let mut floor_bytes = Vec::new();
    for &n in &calls {
        let work = Work {
            calls: n,
            ..Work::default()
        };
        tracers.floor.set_bytes(tracers.datagram_bytes(work));
        floor_bytes.push((n, tracers.floor.bytes()));
        let mut samples: Vec<Samples> = Mode::ALL
            .iter()
            .map(|_| Samples::with_capacity(100_000))
            .collect();
        for _ in 0..ROUNDS {
            for (mode, samples) in Mode::ALL.iter().copied().zip(&mut samples) {
                // Warm up: pools, buffers, caches, and this mode's code back in the cache.
                for _ in 0..200 {
                    checksum ^= tracers.invoke(mode, work);
                }
                let start = Instant::now();
                let cap = samples.len() + 400_000;
                while start.elapsed() < per_turn && samples.len() < cap {
                    let t = Instant::now();
                    checksum ^= tracers.invoke(mode, work);
                    samples.push(t.elapsed());
                }
            }
        }
        let latencies: Vec<Percentiles> = samples.iter_mut().map(Samples::summary).collect();
        let of = |mode: Mode| latencies[Mode::ALL.iter().position(|&m| m == mode).unwrap_or(0)];
        let (bare, floor) = (of(Mode::Bare), of(Mode::Floor));
        for (mode, latency) in Mode::ALL.iter().copied().zip(latencies.iter().copied()) {
            invocations += latency.count;
            settings.progress(&format!(
                "overhead: {mode:?} with {n} calls: p50 {:.0} ns, mean {:.0} ns, p99 {:.0} ns ({} runs)",
                latency.p50_ns, latency.mean_ns, latency.p99_ns, latency.count
            ));
            points.push(Point {
                mode,
                calls: n,
                latency,
                overhead_ns: latency.mean_ns - bare.mean_ns,
                overhead_p50_ns: latency.p50_ns - bare.p50_ns,
                vs_bare: latency.p50_ns / bare.p50_ns,
                vs_floor: latency.p50_ns / floor.p50_ns,
            });
        }
    }
    std::hint::black_box(checksum);
    let slope = |mode: Mode| {
        let pts: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| p.mode == mode)
            .map(|p| (f64::from(p.calls), p.overhead_p50_ns))
            .collect();
        least_squares_slope(&pts)
    };
    let per_call = PerCall {
        sampled_ns: slope(Mode::Sampled),
        sampled_with_send_ns: slope(Mode::SampledWithSend),
        sampled_with_otlp_send_ns: slope(Mode::SampledWithOtlpSend),
        unsampled_ns: slope(Mode::Unsampled),
        disabled_ns: slope(Mode::Disabled),
    };
    let per_invocation_sampled_ns = points
        .iter()
        .find(|p| p.mode == Mode::Sampled && p.calls == 0)
        .map_or(0.0, |p| p.overhead_p50_ns);
    let allocations_per_invocation = allocations(&tracers, Mode::SampledWithSend);
    let allocations_per_invocation_otlp = allocations(&tracers, Mode::SampledWithOtlpSend);
    Ok(OverheadReport {
        calls,
        points,
        per_call,
        per_invocation_sampled_ns,
        allocations_per_invocation,
        allocations_per_invocation_otlp,
        invocations,
        floor_bytes,
    })
}

/// Allocations per sampled invocation of 10 captured calls in `mode`, after warm-up.
fn allocations(tracers: &Tracers, mode: Mode) -> Option<f64> {
    const RUNS: u32 = 1000;
    if !alloc_count::installed() {
        return None;
    }
    let work = Work {
        calls: 10,
        ..Work::default()
    };
    for _ in 0..100 {
        tracers.invoke(mode, work);
    }
    let ((), n) = alloc_count::count(|| {
        for _ in 0..RUNS {
            tracers.invoke(mode, work);
        }
    });
    Some(n as f64 / f64::from(RUNS))
}

fn least_squares_slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    if sxx == 0.0 { 0.0 } else { sxy / sxx }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_line() {
        let pts = [(0.0, 10.0), (10.0, 110.0), (100.0, 1010.0)];
        assert!((least_squares_slope(&pts) - 10.0).abs() < 1e-9);
        assert!(least_squares_slope(&[(1.0, 1.0)]).abs() < f64::EPSILON);
    }

    #[test]
    fn every_mode_runs_the_same_work() {
        let t = Tracers::new().unwrap();
        let work = Work {
            calls: 3,
            depth: 2,
            ..Work::default()
        };
        let expected = t.invoke(Mode::Bare, work);
        for &mode in Mode::ALL {
            assert_eq!(t.invoke(mode, work), expected, "{mode:?}");
        }
        let s = t.null.stats();
        assert_eq!(s.invocations_sampled, 1);
        assert_eq!(s.invocations_unsampled, 1);
        assert_eq!(s.emitter.datagrams_handed_to_kernel, 1);
        assert_eq!(t.disabled.stats().emitter.datagrams_handed_to_kernel, 0);
        let otlp = t.otlp.stats().emitter;
        assert_eq!(otlp.datagrams_handed_to_kernel, 1);
        assert!(otlp.bytes_handed_to_kernel > 0);
    }
}
