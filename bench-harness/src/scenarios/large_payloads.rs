//! Large payloads: responses far over a datagram and invocations whose documents would not
//! fit, to show that nothing oversized is ever sent and that what was split or cut is counted.

use std::time::Duration;

use serde::Serialize;
use workloads::synthetic::Work;

use crate::daemon::FakeDaemon;

use super::{Settings, invoke_traced};

/// One large-payload case.
#[derive(Debug, Clone, Serialize)]
pub struct Case {
    /// What it does.
    pub name: String,
    /// The work.
    pub work: Work,
    /// Datagrams the daemon received for it.
    pub datagrams: u64,
    /// The largest of them, in bytes.
    pub largest_datagram: u64,
    /// Entities that arrived, over those recorded (the emitter's batch subsegments, which
    /// only carry streamed ones, are not counted).
    pub entities_received: usize,
    /// Entities recorded (handler plus captured calls).
    pub entities_expected: usize,
    /// Subsegments sent on their own to keep a document under the limit.
    pub subsegments_streamed: u64,
    /// Documents sent with metadata values cut.
    pub documents_truncated: u64,
    /// Documents reduced to their minimal form.
    pub documents_minimal: u64,
    /// Documents rejected by the daemon (must be 0).
    pub rejected: u64,
}

/// What the scenario found.
#[derive(Debug, Clone, Serialize)]
pub struct LargePayloadReport {
    /// The datagram limit in force.
    pub limit: usize,
    /// Each case.
    pub cases: Vec<Case>,
    /// Datagrams over 64 KiB that reached the daemon (must be 0).
    pub oversized: u64,
}

/// Runs the scenario.
pub fn run(settings: &Settings, daemon: &FakeDaemon) -> LargePayloadReport {
    let tracer = super::daemon_tracer(daemon);
    let cases = [
        (
            "response of 100 KiB",
            Work {
                calls: 3,
                response_bytes: 100 * 1024,
                ..Work::default()
            },
        ),
        (
            "response of 1 MiB",
            Work {
                calls: 3,
                response_bytes: 1024 * 1024,
                ..Work::default()
            },
        ),
        (
            "100 calls of 2 KiB metadata",
            Work {
                calls: 100,
                call_metadata_bytes: 2048,
                ..Work::default()
            },
        ),
        (
            "100 nested calls",
            Work {
                depth: 100,
                ..Work::default()
            },
        ),
        (
            "30 calls of 40 KiB metadata",
            Work {
                calls: 30,
                call_metadata_bytes: 40 * 1024,
                ..Work::default()
            },
        ),
    ];
    let mut out = Vec::new();
    for (name, work) in cases {
        daemon.clear();
        let before = daemon.stats();
        let before_tracer = tracer.stats().emitter;
        let trace_id = invoke_traced(&tracer, work);
        let sent = tracer.stats().emitter.since(&before_tracer);
        daemon.wait_for_received(
            before.datagrams_received + sent.datagrams_handed_to_kernel,
            Duration::from_secs(10),
        );
        let after = daemon.stats();
        // The emitter's batch subsegments carry streamed ones; they are not the user's.
        let entities_received = daemon.trace(&trace_id).map_or(0, |t| {
            let user = |e: &&crate::daemon::Entity| e.name != xray_core::wire::BATCH_NAME;
            t.entities.values().filter(user).count()
        });
        let needle = format!("\"trace_id\":\"{trace_id}\"");
        let largest = daemon
            .documents()
            .iter()
            .filter(|d| {
                d.datagram
                    .windows(needle.len())
                    .any(|w| w == needle.as_bytes())
            })
            .map(|d| d.datagram.len() as u64)
            .max()
            .unwrap_or(0);
        let expected = work.entities();
        let case = Case {
            name: name.to_owned(),
            work,
            datagrams: after.datagrams_received - before.datagrams_received,
            largest_datagram: largest,
            entities_received,
            entities_expected: expected,
            subsegments_streamed: sent.subsegments_streamed,
            documents_truncated: sent.documents_truncated,
            documents_minimal: sent.documents_minimal,
            rejected: after.rejected - before.rejected,
        };
        settings.progress(&format!(
            "large payloads: {name}: {} datagrams, largest {} bytes, {}/{} entities, {} streamed, {} truncated",
            case.datagrams,
            case.largest_datagram,
            case.entities_received,
            case.entities_expected,
            case.subsegments_streamed,
            case.documents_truncated
        ));
        out.push(case);
    }
    let stats = daemon.stats();
    let oversized = stats
        .rejected_by_reason
        .iter()
        .filter(|(r, _)| r.as_str() == "too_large")
        .map(|(_, n)| *n)
        .sum::<u64>()
        + u64::from(stats.largest_datagram > 65_536);
    LargePayloadReport {
        limit: tracer.emitter().limit(),
        cases: out,
        oversized,
    }
}
