//! The invocation wrapper with private tracers: cold starts, the pool of recordings, what is
//! counted, and the kill switch.

use serde_json::Value;

use super::capture::CaptureOptions;
use super::context::Handle;
use super::lambda::LambdaInvocation;
use super::tracer::Tracer;
use crate::config::Config;
use crate::emit::{DATAGRAM_HEADER, Emitter, MemorySink};

static OPTIONS: CaptureOptions = CaptureOptions {
    name: "## handler",
    name_is_valid: true,
    response_key: "handler response",
    error_key: "handler error",
    capture_response: None,
    capture_error: None,
};

const SAMPLED: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

fn tracer(config: Config) -> (Tracer, MemorySink) {
    let (emitter, sink) = Emitter::memory(crate::wire::DEFAULT_DATAGRAM_LIMIT);
    (Tracer::with_emitter(config, emitter), sink)
}

fn invoke(tracer: &Tracer, header: Option<&str>) {
    let inv = LambdaInvocation::begin_with(tracer, header, &OPTIONS);
    inv.finish(|r| r.response(&"ok"));
}

use crate::testing::poll_to_completion as block_on;

fn cold_starts(sink: &MemorySink) -> Vec<Value> {
    sink.take()
        .iter()
        .map(|d| {
            let doc: Value = serde_json::from_slice(&d[DATAGRAM_HEADER.len()..]).unwrap();
            doc["annotations"]["ColdStart"].clone()
        })
        .collect()
}

#[test]
fn only_the_first_invocation_is_cold() {
    let (t, sink) = tracer(Config {
        service_name: "svc".into(),
        ..Config::default()
    });
    // The first invocation is cold even when it is not sampled: it is still the process's
    // first.
    invoke(
        &t,
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0"),
    );
    invoke(&t, Some(SAMPLED));
    invoke(&t, Some(SAMPLED));
    assert_eq!(cold_starts(&sink), [Value::Bool(false), Value::Bool(false)]);

    let (t, sink) = tracer(Config::default());
    invoke(&t, Some(SAMPLED));
    invoke(&t, Some(SAMPLED));
    assert_eq!(cold_starts(&sink), [Value::Bool(true), Value::Bool(false)]);
}

#[test]
fn provisioned_concurrency_is_never_cold() {
    let (t, sink) = tracer(Config {
        provisioned_concurrency: true,
        ..Config::default()
    });
    invoke(&t, Some(SAMPLED));
    assert_eq!(cold_starts(&sink), [Value::Bool(false)]);
}

#[test]
fn recordings_are_reused_unless_a_straggler_holds_one() {
    let (t, sink) = tracer(Config::default());
    for _ in 0..5 {
        invoke(&t, Some(SAMPLED));
    }
    assert_eq!(t.stats().recordings_allocated, 1);

    // A handle kept past the end of an invocation keeps its recording out of the pool, so the
    // next invocation cannot write into it.
    let mut inv = LambdaInvocation::begin_with(&t, Some(SAMPLED), &OPTIONS);
    let straggler = block_on(inv.instrument(async { Handle::current() }));
    inv.finish(|_| {});
    invoke(&t, Some(SAMPLED));
    assert_eq!(t.stats().recordings_allocated, 2);
    drop(straggler);
    invoke(&t, Some(SAMPLED));
    assert_eq!(t.stats().recordings_allocated, 2);
    assert_eq!(sink.take().len(), 8);
}

#[test]
fn what_is_not_recorded_is_counted() {
    let (t, sink) = tracer(Config::default());
    invoke(
        &t,
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"),
    );
    invoke(
        &t,
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?"),
    );
    invoke(&t, Some("Root=1-5759e988-bd862e3fe1be46a994272793"));
    invoke(&t, Some("Root=bogus;Parent=xyz;Sampled=1"));
    // Unsampled, in Lambda's layout, with unreadable ids: counted too.
    invoke(
        &t,
        Some("Root=1-5759e988-bd862e3fe1be46a99427279z;Parent=53995c3f42cd8ad8;Sampled=0"),
    );
    invoke(
        &t,
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8adZ;Sampled=0"),
    );
    let s = t.stats();
    assert_eq!(s.invocations_sampled, 0);
    assert_eq!(s.invocations_unsampled, 6);
    assert_eq!(s.malformed_headers, 3);
    assert!(sink.take().is_empty());
}

#[test]
fn the_kill_switch_records_and_sends_nothing() {
    let (t, sink) = tracer(Config {
        disabled: true,
        ..Config::default()
    });
    invoke(&t, Some(SAMPLED));
    assert!(t.emitter().is_disabled());
    assert_eq!(t.stats().invocations_sampled, 0);
    assert!(sink.take().is_empty());
}
