//! The harness's scenarios, each a module producing its own section of the report.

pub mod cold_start;
pub mod concurrency;
pub mod emission;
pub mod large_payloads;
pub mod overhead;
pub mod peers;
pub mod sampling;

use std::path::PathBuf;
use std::time::Duration;

use workloads::synthetic::{self, Work};
use xray_core::{Config, Output, OutputConfig, TraceId, Tracer, wire::Emitter};

use crate::daemon::FakeDaemon;

/// How a run is configured.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The short suite (CI).
    pub quick: bool,
    /// Time budget of each timed scenario.
    pub duration: Duration,
    /// A local sampling rules file for the sampling scenario.
    pub sampling_rules: Option<PathBuf>,
    /// Print progress to stderr.
    pub verbose: bool,
    /// What the concurrency scenario's functions send.
    pub output: Output,
}

impl Settings {
    /// Prints a progress line (stderr, so stdout stays the summary).
    pub fn progress(&self, line: &str) {
        if self.verbose {
            eprintln!("  {line}");
        }
    }
}

/// A tracer sending X-Ray documents to the fake daemon.
pub fn daemon_tracer(daemon: &FakeDaemon) -> Tracer {
    daemon_tracer_with(daemon, Output::XrayUdp)
}

/// A tracer sending to the fake daemon through `output` (a UDP one).
pub fn daemon_tracer_with(daemon: &FakeDaemon, output: Output) -> Tracer {
    let mut config = Config::default();
    config.output = OutputConfig::new(output);
    config.daemon.udp = daemon.addr();
    let emitter = Emitter::for_config(&config);
    Tracer::with_emitter(config, emitter)
}

/// The `XRAY_RS_OUTPUT` value for `output`.
pub fn output_name(output: &Output) -> &'static str {
    match output {
        Output::OtlpUdp => "otlp-udp",
        Output::OtlpHttp(_) => "otlp-http",
        _ => "xray-udp",
    }
}

/// Runs `work` as one sampled invocation traced by `tracer` (as the handler macro does) and
/// returns its trace id. The work must not wait (no fan-out).
pub(crate) fn invoke_traced(tracer: &Tracer, work: Work) -> String {
    let root = TraceId::random().to_string();
    let header = format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=1");
    let mut invocation = tracer.begin_invocation(Some(&header));
    let out = block_on(invocation.instrument(synthetic::run(work)));
    match &out {
        Ok(o) => invocation.finish_ok(o),
        Err(e) => invocation.finish_err(e),
    }
    root
}

pub(crate) use xray_core::testing::poll_to_completion as block_on;
