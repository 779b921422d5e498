//! The report: every scenario's figures, the top-level totals CI gates on, and its renderings
//! (a summary table for the terminal, JSON, and a self-contained HTML page).

pub mod html;
pub mod svg;
pub mod table;
pub mod text;
pub mod waterfall;

#[cfg(test)]
mod tests;

use serde::Serialize;

use crate::daemon::DaemonStats;
use crate::scenarios::concurrency::ConcurrencyReport;
use crate::scenarios::emission::EmissionReport;
use crate::scenarios::large_payloads::LargePayloadReport;
use crate::scenarios::overhead::OverheadReport;
use crate::scenarios::sampling::SamplingReport;

/// Where and how the run happened.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPU model (from `/proc/cpuinfo` where available).
    pub cpu: String,
    /// Logical CPUs available.
    pub cores: usize,
    /// Operating system.
    pub os: String,
    /// Build profile of the harness (`release` or `debug`).
    pub profile: String,
}

impl Machine {
    /// Reads what is cheaply available.
    pub fn detect() -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_owned())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            os: std::env::consts::OS.to_owned(),
            profile: if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }
            .to_owned(),
        }
    }
}

/// The per-scenario sections (absent when a scenario was not run).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Scenarios {
    /// Overhead per invocation and per captured call.
    pub overhead: Option<OverheadReport>,
    /// Emission throughput and loss.
    pub emission: Option<EmissionReport>,
    /// Sampling rules observed against expectation.
    pub sampling: Option<SamplingReport>,
    /// Oversized payloads.
    pub large_payloads: Option<LargePayloadReport>,
    /// Invocations in flight together.
    pub concurrency: Option<ConcurrencyReport>,
    /// Start-up time and binary size with and without the SDK.
    pub cold_start: Option<crate::scenarios::cold_start::ColdStartReport>,
}

/// The whole report (`report.json`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Report format version.
    pub version: u32,
    /// When the run ended (seconds since the epoch).
    pub generated_at: u64,
    /// How long it took.
    pub duration_s: f64,
    /// `quick` or `full`.
    pub suite: String,
    /// The machine.
    pub machine: Machine,
    /// Seconds each scenario took.
    pub scenario_seconds: std::collections::BTreeMap<String, f64>,
    /// Documents the fake daemon received over the whole run.
    pub documents_received: u64,
    /// Of those, rejected as invalid (header, JSON, schema or rules).
    pub documents_invalid: u64,
    /// Datagrams sent but neither received nor counted as dropped anywhere.
    pub datagrams_lost_unaccounted: u64,
    /// Datagrams over 64 KiB that reached the daemon.
    pub oversized_datagrams_sent: u64,
    /// Allocations per sampled invocation in the steady state (`None`: not measured).
    pub allocations_per_invocation: Option<f64>,
    /// The daemon's own counters at the end.
    pub daemon: DaemonStats,
    /// Each scenario's figures.
    pub scenarios: Scenarios,
    /// What failed the run's checks (empty when it passed).
    pub failures: Vec<String>,
    /// One trace per scenario that left traces in the daemon, drawn as a waterfall.
    pub traced: Vec<waterfall::TraceSample>,
}

impl Report {
    /// Fills the totals and the failures from the scenarios and the daemon.
    pub fn conclude(&mut self) {
        let mut failures = Vec::new();
        if self.documents_invalid > 0 {
            failures.push(format!(
                "{} invalid documents reached the daemon",
                self.documents_invalid
            ));
        }
        if self.datagrams_lost_unaccounted > 0 {
            failures.push(format!(
                "{} datagrams lost without being counted",
                self.datagrams_lost_unaccounted
            ));
        }
        if self.oversized_datagrams_sent > 0 {
            failures.push(format!(
                "{} datagrams over 64 KiB were sent",
                self.oversized_datagrams_sent
            ));
        }
        match self.allocations_per_invocation {
            Some(a) if a > 0.0 => failures.push(format!(
                "{a} allocations per sampled invocation in the steady state (expected 0)"
            )),
            _ => {}
        }
        if let Some(c) = &self.scenarios.concurrency {
            if c.foreign_attachments > 0 {
                failures.push(format!(
                    "{} subsegments attached to a foreign trace",
                    c.foreign_attachments
                ));
            }
            for r in c.runs.iter().filter(|r| r.skipped.is_none()) {
                if r.completed < r.invocations {
                    failures.push(format!(
                        "{}: only {} of {} invocations answered",
                        r.function, r.completed, r.invocations
                    ));
                }
                if r.traces_complete < r.invocations {
                    failures.push(format!(
                        "{}: {} of {} traces incomplete",
                        r.function,
                        r.invocations - r.traces_complete,
                        r.invocations
                    ));
                }
                if r.faults != r.errors {
                    failures.push(format!(
                        "{}: {} invocations failed but {} handler subsegments carry a fault",
                        r.function, r.errors, r.faults
                    ));
                }
                if r.cold_starts > 1 {
                    failures.push(format!(
                        "{}: {} cold starts in one process",
                        r.function, r.cold_starts
                    ));
                }
            }
        }
        if let Some(l) = &self.scenarios.large_payloads {
            for c in &l.cases {
                if c.entities_received != c.entities_expected {
                    failures.push(format!(
                        "large payloads, {}: {} of {} entities arrived",
                        c.name, c.entities_received, c.entities_expected
                    ));
                }
            }
        }
        if let Some(s) = &self.scenarios.sampling {
            for f in &s.failures {
                failures.push(format!("sampling: {f}"));
            }
        }
        self.failures = failures;
    }

    /// True when every check passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}
