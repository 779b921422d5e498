//! The daemon's OTLP side, fed by xray-core's real emitter over UDP on 127.0.0.1 and by
//! hand-made malformed datagrams.

use std::net::UdpSocket;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use workloads::synthetic::Work;
use xray_core::{
    Config, Output, OutputConfig, TraceId, Tracer,
    model::{EntityTree, Timestamp},
    wire::{EmitBuffer, Emitter},
};

use super::*;
use crate::scenarios::invoke_traced;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);
const HEADER: &str = r#"{"format":"json","version":1}"#;

fn otlp_tracer(daemon: &FakeDaemon, unsampled: bool) -> Tracer {
    let mut config = Config::default();
    config.output = OutputConfig::new(Output::OtlpUdp);
    config.output.otlp.unsampled = unsampled;
    config.daemon.udp = daemon.addr();
    let emitter = Emitter::for_config(&config);
    Tracer::with_emitter(config, emitter)
}

#[test]
fn spans_from_the_real_emitter_decode_with_nothing_invalid() {
    let daemon = FakeDaemon::start().unwrap();
    let tracer = otlp_tracer(&daemon, false);
    let works = [
        Work::default(),
        Work {
            calls: 5,
            depth: 3,
            ..Work::default()
        },
        Work {
            calls: 2,
            fail: true,
            ..Work::default()
        },
        // Big metadata: the batch is split across several datagrams, and parents must still
        // resolve across them.
        Work {
            calls: 6,
            call_metadata_bytes: 30 * 1024,
            ..Work::default()
        },
    ];
    let mut expected = std::collections::HashMap::new();
    let mut ids = Vec::new();
    for work in works {
        let trace_id = invoke_traced(&tracer, work);
        ids.push((trace_id.clone(), work.fail));
        // `1-5759e988-bd86…` → `5759e988bd86…`
        expected.insert(trace_id[2..].replace('-', ""), work.entities());
    }
    let spans: usize = expected.values().sum();
    assert!(
        daemon.wait_for_otlp_spans(spans as u64, WAIT),
        "{}",
        daemon.stats()
    );
    let sent = tracer.stats().emitter;
    assert!(daemon.wait_for_received(sent.datagrams_handed_to_kernel, WAIT));

    let stats = daemon.stats();
    assert_eq!(stats.otlp_invalid, 0, "{stats:?}");
    assert_eq!(stats.rejected, 0, "{stats:?}");
    assert_eq!(stats.accepted, 0, "no X-Ray documents in this mode");
    assert_eq!(stats.otlp_datagrams, sent.datagrams_handed_to_kernel);
    assert!(
        stats.otlp_datagrams > works.len() as u64,
        "the big one is split"
    );
    assert_eq!(stats.otlp_unsampled_datagrams, 0);
    assert_eq!(stats.otlp_spans, spans as u64);
    assert_eq!(stats.otlp_traces, works.len() as u64);
    // Only each handler's span has its parent upstream; every other parent was received.
    assert_eq!(stats.otlp_root_spans, works.len() as u64);
    let mut got: Vec<_> = daemon.otlp_spans_per_trace().into_iter().collect();
    let mut want: Vec<_> = expected.into_iter().collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    assert!(daemon.documents().iter().all(ReceivedDocument::is_accepted));
    let facade = 0x5399_5c3f_42cd_8ad8u64.to_be_bytes();
    let mut cold = Vec::new();
    for (trace_id, failed) in ids {
        let spans = daemon.otlp_trace(&trace_id).unwrap();
        let root = &spans[0];
        assert_eq!(root.parent_span_id, Some(facade), "{trace_id}");
        assert_eq!(root.error, failed, "{trace_id}");
        cold.push(root.cold_start);
        assert!(spans[1..].iter().all(|s| s.cold_start.is_none()));
    }
    // The tracer's first invocation is its cold start.
    assert_eq!(cold, [Some(true), Some(false), Some(false), Some(false)]);
    assert!(stats.to_string().contains("OTLP"), "{stats}");
}

#[test]
fn unsampled_trees_arrive_as_t1u_when_asked_for() {
    // The Lambda runtime does not record unsampled invocations yet; the emitter's own entry
    // point for them is what it will call.
    let daemon = FakeDaemon::start().unwrap();
    let tracer = otlp_tracer(&daemon, true);
    let emitter = tracer.emitter();
    assert!(emitter.sends_unsampled());
    let t0 = Timestamp::now();
    let mut tree = EntityTree::new(TraceId::random());
    let root = tree.begin_segment("checkout", None, t0);
    let db = tree.begin_subsegment(root, "orders-db", t0);
    let query = tree.begin_subsegment(db, "SELECT", t0);
    for e in [query, db, root] {
        tree.end(e, Timestamp::now());
    }
    emitter.emit_unsampled(&mut tree, root, &mut EmitBuffer::new());
    assert!(daemon.wait_for_otlp_spans(3, WAIT), "{}", daemon.stats());
    let stats = daemon.stats();
    assert_eq!((stats.otlp_invalid, stats.rejected), (0, 0), "{stats:?}");
    assert!(stats.otlp_unsampled_datagrams > 0);
    assert_eq!(stats.otlp_unsampled_datagrams, stats.otlp_datagrams);
    assert_eq!((stats.otlp_spans, stats.otlp_root_spans), (3, 1));
}

/// Protobuf field `number` with a length-delimited value.
fn len_field(number: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![number << 3 | 2];
    let mut n = value.len();
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out.extend_from_slice(value);
    out
}

fn fixed64_field(number: u8, value: u64) -> Vec<u8> {
    let mut out = vec![number << 3 | 1];
    out.extend_from_slice(&value.to_le_bytes());
    out
}

struct SpanParts<'a> {
    trace: &'a [u8],
    id: &'a [u8],
    parent: &'a [u8],
    name: &'a str,
    start: u64,
    end: u64,
}

const TRACE_A: [u8; 16] = [7; 16];
const TRACE_B: [u8; 16] = [9; 16];

fn good() -> SpanParts<'static> {
    SpanParts {
        trace: &TRACE_A,
        id: &[1; 8],
        parent: &[],
        name: "handler",
        start: 1_700_000_000_000_000_000,
        end: 1_700_000_000_000_000_500,
    }
}

/// A `T1S` datagram carrying one request with these spans.
fn request(spans: &[SpanParts<'_>]) -> Vec<u8> {
    let mut scope = Vec::new();
    for s in spans {
        let mut span = [
            len_field(1, s.trace),
            len_field(2, s.id),
            len_field(4, s.parent),
            len_field(5, s.name.as_bytes()),
            // kind = SERVER, a varint field the reader skips
            vec![6 << 3, 2],
            fixed64_field(7, s.start),
            fixed64_field(8, s.end),
        ]
        .concat();
        span.extend(len_field(15, &[3 << 3, 0])); // status UNSET
        span.extend(len_field(3, b"k=v")); // trace_state, which the reader skips
        scope.extend(len_field(2, &span));
    }
    let resource_spans = len_field(2, &scope);
    let body = len_field(1, &resource_spans);
    format!("{HEADER}\nT1S{}", STANDARD.encode(body)).into_bytes()
}

fn send_all(daemon: &FakeDaemon, datagrams: &[Vec<u8>]) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    for (i, d) in datagrams.iter().enumerate() {
        socket.send_to(d, daemon.addr()).unwrap();
        assert!(daemon.wait_for_received(i as u64 + 1, WAIT));
    }
}

#[test]
fn hand_made_requests_are_checked_span_by_span() {
    let daemon = FakeDaemon::start().unwrap();
    let parent = [1u8; 8];
    let child = SpanParts {
        id: &[2; 8],
        parent: &parent,
        name: "child",
        ..good()
    };
    let cases: Vec<(Vec<u8>, bool)> = vec![
        (request(&[good(), child]), true),
        // A parent received in another trace.
        (
            request(&[SpanParts {
                trace: &TRACE_B,
                id: &[3; 8],
                parent: &parent,
                ..good()
            }]),
            false,
        ),
        (
            request(&[SpanParts {
                trace: &[7; 15],
                id: &[4; 8],
                ..good()
            }]),
            false,
        ),
        (
            request(&[SpanParts {
                id: &[5; 7],
                ..good()
            }]),
            false,
        ),
        (
            request(&[SpanParts {
                id: &[6; 8],
                parent: &[1; 4],
                ..good()
            }]),
            false,
        ),
        (
            request(&[SpanParts {
                id: &[8; 8],
                name: "",
                ..good()
            }]),
            false,
        ),
        (
            request(&[SpanParts {
                id: &[10; 8],
                start: 10,
                end: 9,
                ..good()
            }]),
            false,
        ),
        (request(&[]), false),
        (format!("{HEADER}\nT1Snot base64!").into_bytes(), false),
        // Valid base64 of a truncated field.
        (
            format!("{HEADER}\nT1S{}", STANDARD.encode([0x0a, 0x05, 0x01])).into_bytes(),
            false,
        ),
        (
            {
                let mut d = request(&[SpanParts {
                    id: &[11; 8],
                    ..good()
                }]);
                d[2] = b'X';
                d
            },
            false,
        ),
        (
            request(&[SpanParts {
                id: &[12; 8],
                ..good()
            }]),
            true,
        ),
    ];
    let datagrams: Vec<Vec<u8>> = cases.iter().map(|(d, _)| d.clone()).collect();
    send_all(&daemon, &datagrams);
    let stats = daemon.stats();
    let invalid = cases.iter().filter(|(_, ok)| !ok).count() as u64;
    assert_eq!(stats.otlp_datagrams, cases.len() as u64);
    assert_eq!(stats.otlp_invalid, invalid, "{stats:?}");
    assert_eq!(stats.rejected_for(RejectReason::Otlp), invalid);
    assert_eq!(stats.otlp_spans, 3);
    assert_eq!(stats.otlp_traces, 1);
    assert_eq!(stats.otlp_root_spans, 2);
    let verdicts: Vec<bool> = daemon
        .documents()
        .iter()
        .map(ReceivedDocument::is_accepted)
        .collect();
    let want: Vec<bool> = cases.iter().map(|(_, ok)| *ok).collect();
    assert_eq!(verdicts, want);
    let examples = &stats.rejection_examples[&RejectReason::Otlp];
    assert!(
        examples[0].message.contains("another trace"),
        "{examples:?}"
    );

    daemon.clear();
    assert!(daemon.otlp_spans_per_trace().is_empty());
}

fn varint_field(number: u8, mut value: u64) -> Vec<u8> {
    let mut out = vec![number << 3];
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
    out
}

/// `KeyValue { key, value: AnyValue(any) }`.
fn attribute(key: &str, any: &[u8]) -> Vec<u8> {
    [len_field(1, key.as_bytes()), len_field(2, any)].concat()
}

fn string_value(s: &str) -> Vec<u8> {
    len_field(1, s.as_bytes())
}

#[test]
fn attributes_events_and_status_become_x_ray_fields() {
    // AnyValue nested deeper than the reader follows: arrays in arrays, 12 levels.
    let mut deep = string_value("bottom");
    for _ in 0..12 {
        deep = len_field(5, &len_field(1, &deep));
    }
    let attributes = [
        attribute("user_id", &string_value("u-<1>")),
        attribute(
            "aws.xray.annotations",
            &len_field(5, &len_field(1, &string_value("user_id"))),
        ),
        attribute("rpc.system", &string_value("aws-api")),
        attribute("rpc.method", &string_value("PutItem")),
        attribute("http.response.status_code", &varint_field(3, 429)),
        attribute("retries", &varint_field(3, (-2i64) as u64)),
        attribute("ratio", &fixed64_field(4, 0.5f64.to_bits())),
        attribute("deep", &deep),
        attribute(
            "aws.xray.metadata.debug.cart",
            &string_value(r#"{"items":3}"#),
        ),
    ];
    let event = [
        fixed64_field(1, 1_700_000_000_000_000_100),
        len_field(2, b"exception"),
        len_field(3, &attribute("exception.type", &string_value("Throttled"))),
        len_field(
            3,
            &attribute("exception.message", &string_value("slow down")),
        ),
        len_field(
            3,
            &attribute("exception.stacktrace", &string_value("at a\n  at b\n")),
        ),
    ]
    .concat();
    let mut span = [
        len_field(1, &TRACE_A),
        len_field(2, &[2; 8]),
        len_field(4, &[1; 8]),
        len_field(5, b"DynamoDB"),
        varint_field(6, 3), // CLIENT
        fixed64_field(7, 1_700_000_000_000_000_000),
        fixed64_field(8, 1_700_000_000_500_000_000),
        len_field(11, &event),
        len_field(
            15,
            &[len_field(2, b"throttled"), varint_field(3, 2)].concat(),
        ),
    ]
    .concat();
    for a in &attributes {
        span.extend(len_field(9, a));
    }
    let body = len_field(1, &len_field(2, &len_field(2, &span)));
    let prefixed = format!("T1S{}", STANDARD.encode(body));
    let spans = otlp::decode(prefixed.as_bytes()).unwrap();
    let s = &spans[0];
    assert_eq!(
        (s.kind, s.error, s.status_message.as_str()),
        (3, true, "throttled")
    );
    let doc = s.to_xray_document();
    assert_eq!(doc["trace_id"], "1-07070707-070707070707070707070707");
    assert_eq!(
        (&doc["id"], &doc["parent_id"], &doc["type"]),
        (
            &json!("0202020202020202"),
            &json!("0101010101010101"),
            &json!("subsegment")
        )
    );
    assert_eq!(
        (&doc["start_time"], &doc["end_time"]),
        (&json!(1_700_000_000.0), &json!(1_700_000_000.5))
    );
    assert_eq!(doc["namespace"], "aws");
    assert_eq!(
        (&doc["error"], &doc["throttle"], &doc["fault"]),
        (&json!(true), &json!(true), &serde_json::Value::Null),
        "a 429 is a throttle"
    );
    assert_eq!(doc["annotations"], json!({"user_id": "u-<1>"}));
    assert_eq!(doc["aws"]["operation"], "PutItem");
    assert_eq!(doc["http"]["response"]["status"], 429);
    assert_eq!(doc["metadata"]["debug"]["cart"], json!({"items": 3}));
    let otel = &doc["metadata"]["otel"];
    assert_eq!(
        (&otel["retries"], &otel["ratio"]),
        (&json!(-2), &json!(0.5))
    );
    assert!(otel.get("rpc.system").is_some() && otel.get("aws.xray.annotations").is_none());
    let mut deep = &otel["deep"];
    for _ in 0..7 {
        deep = &deep[0];
    }
    assert_eq!(deep[0], "(nested deeper than 8)");
    assert_eq!(
        doc["cause"]["exceptions"][0],
        json!({"id": "0202020202020000", "type": "Throttled", "message": "slow down",
               "stack": [{"label": "at a"}, {"label": "at b"}]})
    );
}
