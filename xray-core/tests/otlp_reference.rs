//! The OTLP output checked against the official protobuf definitions and the OpenTelemetry
//! Python SDK's encoder (`tests/otlp/check.py`, run with `$XRAY_PYTHON` or `python3`; it
//! needs `pip install opentelemetry-proto opentelemetry-sdk
//! opentelemetry-exporter-otlp-proto-common`, as `scripts/test-all` does).
//!
//! Each test records a tree, sends it through a real emitter (UDP on 127.0.0.1, or OTLP/HTTP
//! to a Python receiver on 127.0.0.1), and hands what arrived to the checker together with a
//! hand-written description of the spans expected.

use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use xray_core::{
    Compression, Config, HttpEndpoint, Namespace, Output, OutputConfig, SegmentId, TraceId,
    model::{EntityIndex, EntityTree, Timestamp},
    wire::{EmitBuffer, Emitter},
};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/otlp/check.py");
const T0: u64 = 1_700_000_000_000_000;

fn python() -> String {
    std::env::var("XRAY_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn case_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("otlp")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn check(dir: &Path, expected: &Value) {
    std::fs::write(dir.join("expected.json"), expected.to_string()).unwrap();
    let out = Command::new(python())
        .arg(SCRIPT)
        .arg("compare")
        .arg(dir)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "check.py failed (needs `pip install opentelemetry-proto opentelemetry-sdk`):\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn config(output: Output) -> Config {
    let mut c = Config::default();
    c.service_name = "orders".into();
    c.output = OutputConfig::new(output);
    c.output.otlp.region = Some("eu-west-1".into());
    c.output.otlp.function_name = Some("orders-fn".into());
    c
}

fn resource() -> Value {
    json!({"service.name": "orders", "cloud.provider": "aws", "cloud.region": "eu-west-1", "faas.name": "orders-fn"})
}

fn scope() -> Value {
    json!({"name": "xray-core", "version": env!("CARGO_PKG_VERSION")})
}

fn trace() -> TraceId {
    TraceId::from_parts(
        0x5759_e988,
        *b"\xbd\x86\x2e\x3f\xe1\xbe\x46\xa9\x94\x27\x27\x93",
    )
}
const TRACE_HEX: &str = "5759e988bd862e3fe1be46a994272793";
const LAMBDA_PARENT: u64 = 0x5399_5c3f_42cd_8ad8;

fn ts(us: u64) -> Timestamp {
    Timestamp::from_micros(T0 + us)
}
fn ns(us: u64) -> u64 {
    (T0 + us) * 1000
}
fn hex(id: SegmentId) -> String {
    format!("{:016x}", id.as_u64())
}

#[derive(Debug)]
struct Failure;
impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card declined")
    }
}
impl std::error::Error for Failure {}

/// A Lambda-like invocation touching every mapped field; returns the tree, its top entity
/// and the spans expected.
fn lambda_tree() -> (EntityTree, EntityIndex, Vec<Value>) {
    let mut t = EntityTree::new(trace());
    t.use_sequential_ids(0x100);
    let h = t.begin_detached_subsegment("## handler", SegmentId::from_u64(LAMBDA_PARENT), ts(0));
    t.entity_mut(h)
        .put_annotation("ColdStart", true)
        .unwrap()
        .put_annotation("Service", "orders")
        .unwrap()
        .put_annotation("big", u64::MAX)
        .unwrap()
        .put_annotation("ratio", 0.5)
        .unwrap()
        .put_annotation("count", -3_i64)
        .unwrap();
    t.entity_mut(h)
        .put_metadata(
            "orders",
            "handler response",
            &json!({"ok": true, "n": [1, 2]}),
        )
        .unwrap();
    let ddb = t.begin_subsegment(h, "DynamoDB", ts(10));
    t.entity_mut(ddb)
        .set_namespace(Namespace::Aws)
        .aws_operation("UpdateItem")
        .aws_table_name("orders")
        .aws_request_id("REQ1")
        .aws_region("eu-west-1")
        .apply_http_status(200);
    t.end(ddb, ts(20));
    let remote = t.begin_subsegment(h, "api.example.com", ts(21));
    t.entity_mut(remote)
        .set_namespace(Namespace::Remote)
        .http_method("POST")
        .http_url("https://api.example.com/pay")
        .apply_http_status(503);
    t.end(remote, ts(30));
    let work = t.begin_subsegment(h, "## charge", ts(31));
    let ex = t
        .entity_mut(work)
        .record_error(&Failure, Some("app::Failure"), false);
    t.entity_mut(work)
        .add_stack_frame(ex, "src/pay.rs", Some(42), "charge")
        .set_fault(true);
    let sql = t.begin_subsegment(work, "orders@db", ts(32));
    t.entity_mut(sql)
        .sql_database_type("PostgreSQL")
        .sql_sanitized_query("SELECT 1")
        .sql_user("app");
    t.end(sql, ts(33));
    t.end(work, ts(40));
    t.end(h, ts(50));

    let (hid, did, rid, wid, sid) = (
        hex(t.id(h).unwrap()),
        hex(t.id(ddb).unwrap()),
        hex(t.id(remote).unwrap()),
        hex(t.id(work).unwrap()),
        hex(t.id(sql).unwrap()),
    );
    let span = |id: &str,
                parent: &str,
                remote: bool,
                name: &str,
                kind: &str,
                s: u64,
                e: u64,
                attrs: Value| {
        json!({"trace_id": TRACE_HEX, "span_id": id, "parent_id": parent, "parent_remote": remote,
               "name": name, "kind": kind, "start": ns(s), "end": ns(e), "attributes": attrs})
    };
    let mut spans = vec![
        span(
            &hid,
            &format!("{LAMBDA_PARENT:016x}"),
            true,
            "## handler",
            "SERVER",
            0,
            50,
            json!({
                "ColdStart": true, "faas.coldstart": true, "Service": "orders",
                "big": u64::MAX as f64, "ratio": 0.5, "count": -3,
                "aws.xray.annotations": ["ColdStart", "Service", "big", "ratio", "count"],
                "aws.xray.metadata.orders.handler response": "{\"n\":[1,2],\"ok\":true}",
            }),
        ),
        span(
            &did,
            &hid,
            false,
            "DynamoDB",
            "CLIENT",
            10,
            20,
            json!({
                "rpc.system": "aws-api", "rpc.service": "DynamoDB", "rpc.method": "UpdateItem",
                "aws.dynamodb.table_names": ["orders"], "aws.request_id": "REQ1",
                "cloud.region": "eu-west-1", "http.response.status_code": 200,
            }),
        ),
        span(
            &rid,
            &hid,
            false,
            "api.example.com",
            "CLIENT",
            21,
            30,
            json!({
                "http.request.method": "POST", "url.full": "https://api.example.com/pay",
                "http.response.status_code": 503,
            }),
        ),
        span(
            &wid,
            &hid,
            false,
            "## charge",
            "INTERNAL",
            31,
            40,
            json!({
                "error.type": "app::Failure",
            }),
        ),
        span(
            &sid,
            &wid,
            false,
            "orders@db",
            "INTERNAL",
            32,
            33,
            json!({
                "db.system": "PostgreSQL", "db.query.text": "SELECT 1", "db.user": "app",
            }),
        ),
    ];
    // 503 is a fault.
    spans[2]["status"] = json!({"message": ""});
    spans[3]["status"] = json!({"message": "card declined"});
    spans[3]["events"] = json!([{"name": "exception", "time": ns(40), "attributes": {
        "exception.type": "app::Failure", "exception.message": "card declined",
        "exception.stacktrace": "charge (src/pay.rs:42)",
    }}]);
    (t, h, spans)
}

fn receive_all(socket: &UdpSocket, dir: &Path) -> usize {
    socket
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = vec![0u8; 65_536];
    let mut n = 0;
    while let Ok(len) = socket.recv(&mut buf) {
        std::fs::write(dir.join(format!("d{n:04}.udp")), &buf[..len]).unwrap();
        n += 1;
    }
    n
}

#[test]
fn udp_spans_match_the_reference_encoder() {
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut c = config(Output::OtlpUdp);
    c.daemon.udp = daemon.local_addr().unwrap();
    let emitter = Emitter::for_config(&c);
    let (mut tree, root, spans) = lambda_tree();
    emitter.emit(&mut tree, root, &mut EmitBuffer::new());
    let dir = case_dir("udp");
    assert_eq!(receive_all(&daemon, &dir), 1);
    check(
        &dir,
        &json!({"resource": resource(), "scope": scope(), "spans": spans,
                "datagram_limit": c.datagram_limit, "requests": 1}),
    );
    let s = emitter.stats();
    assert_eq!(
        (s.datagrams_handed_to_kernel, s.oversized_documents),
        (1, 0)
    );
}

#[test]
fn a_batch_too_large_is_split_and_a_span_too_large_is_cut() {
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut c = config(Output::OtlpUdp);
    c.daemon.udp = daemon.local_addr().unwrap();
    c.datagram_limit = 4_000;
    let emitter = Emitter::for_config(&c);
    let mut t = EntityTree::new(trace());
    t.use_sequential_ids(1);
    let root = t.begin_segment("api", None, ts(0));
    let rid = hex(t.id(root).unwrap());
    let mut spans = vec![json!({"trace_id": TRACE_HEX, "span_id": rid, "name": "api",
        "kind": "SERVER", "start": ns(0), "end": ns(999), "attributes": {
            "aws.xray.metadata.default.blob": "big" }})];
    // The root's metadata alone is larger than a datagram: it is cut.
    t.entity_mut(root)
        .put_metadata("default", "blob", &"x".repeat(10_000))
        .unwrap();
    spans[0]["attributes"] = json!({});
    for i in 0..120_u64 {
        let s = t.begin_subsegment(root, "## step", ts(i));
        t.entity_mut(s).put_metadata("default", "i", &i).unwrap();
        t.end(s, ts(i + 1));
        spans.push(
            json!({"trace_id": TRACE_HEX, "span_id": hex(t.id(s).unwrap()),
            "parent_id": rid, "parent_remote": false, "name": "## step", "kind": "INTERNAL",
            "start": ns(i), "end": ns(i + 1),
            "attributes": {"aws.xray.metadata.default.i": i.to_string()}}),
        );
    }
    t.end(root, ts(999));
    emitter.emit(&mut t, root, &mut EmitBuffer::new());
    let dir = case_dir("split");
    let n = receive_all(&daemon, &dir);
    assert!(n > 1, "{n} datagrams");
    check(
        &dir,
        &json!({"resource": resource(), "scope": scope(), "spans": spans,
                "datagram_limit": 4_000, "requests": n}),
    );
    let s = emitter.stats();
    assert_eq!(s.datagrams_handed_to_kernel, n as u64);
    assert_eq!(s.oversized_documents, 1);
    assert_eq!((s.documents_truncated, s.metadata_values_truncated), (1, 1));
    assert!(s.largest_datagram <= 4_000);
}

#[test]
fn unsampled_spans_go_out_as_t1u_when_asked() {
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut c = config(Output::OtlpUdp);
    c.daemon.udp = daemon.local_addr().unwrap();
    let quiet = Emitter::for_config(&c);
    assert!(!quiet.sends_unsampled());
    let (mut tree, root, _) = lambda_tree();
    quiet.emit_unsampled(&mut tree, root, &mut EmitBuffer::new());
    assert_eq!(quiet.stats().datagrams_handed_to_kernel, 0);

    c.output.otlp.unsampled = true;
    let emitter = Emitter::for_config(&c);
    assert!(emitter.sends_unsampled());
    let (mut tree, root, spans) = lambda_tree();
    emitter.emit_unsampled(&mut tree, root, &mut EmitBuffer::new());
    let dir = case_dir("t1u");
    assert_eq!(receive_all(&daemon, &dir), 1);
    check(
        &dir,
        &json!({"resource": resource(), "scope": scope(), "spans": spans, "prefix": "T1U",
                "datagram_limit": c.datagram_limit, "requests": 1}),
    );
}

/// The spans of the captured payloads, decoded by `check.py spans` with the official
/// definitions.
fn decoded_spans(dir: &Path, prefix: &str) -> Vec<Value> {
    std::fs::write(
        dir.join("expected.json"),
        json!({"prefix": prefix}).to_string(),
    )
    .unwrap();
    let out = Command::new(python())
        .arg(SCRIPT)
        .arg("spans")
        .arg(dir)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "check.py spans failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn an_unsampled_invocation_is_recorded_and_sent_as_t1u_only_when_asked() {
    const HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0;Lineage=a87bd80c:1";
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut c = config(Output::OtlpUdp);
    c.daemon.udp = daemon.local_addr().unwrap();
    let run = |tracer: &xray_core::Tracer| {
        let mut invocation = tracer.begin_invocation(Some(HEADER));
        let downstream = invocation
            .in_scope(|| xray_core::in_subsegment("lookup", |_| xray_core::downstream_header()));
        invocation.finish_ok(&1);
        downstream.map(|h| h.as_str().to_owned())
    };

    // By default nothing is recorded or sent, and downstream calls carry the incoming parent.
    let quiet = xray_core::Tracer::new(c.clone());
    assert_eq!(
        run(&quiet).as_deref(),
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0")
    );
    let dir = case_dir("lambda_unsampled_quiet");
    assert_eq!(receive_all(&daemon, &dir), 0);
    assert_eq!(quiet.stats().emitter.datagrams_handed_to_kernel, 0);

    c.output.otlp.unsampled = true;
    let tracer = xray_core::Tracer::new(c);
    let downstream = run(&tracer).unwrap();
    let dir = case_dir("lambda_unsampled");
    let n = receive_all(&daemon, &dir);
    assert!(n >= 1, "no T1U datagram");
    let spans = decoded_spans(&dir, "T1U");
    assert_eq!(spans.len(), 2, "{spans:?}");
    let trace_hex = "5759e988bd862e3fe1be46a994272793";
    let handler = spans.iter().find(|s| s["name"] == "## handler").unwrap();
    let lookup = spans.iter().find(|s| s["name"] == "lookup").unwrap();
    assert!(
        spans.iter().all(|s| s["trace_id"] == trace_hex),
        "{spans:?}"
    );
    assert_eq!(handler["parent_span_id"], "53995c3f42cd8ad8");
    assert_eq!(lookup["parent_span_id"], handler["span_id"]);
    // Downstream calls stay unsampled, under the recorded subsegment, with the extras.
    assert!(
        downstream.ends_with(&format!(
            "Parent={};Sampled=0;Lineage=a87bd80c:1",
            lookup["span_id"].as_str().unwrap()
        )),
        "{downstream}"
    );
    let s = tracer.stats();
    assert_eq!((s.invocations_sampled, s.invocations_unsampled), (0, 1));
    assert_eq!(s.emitter.datagrams_handed_to_kernel, n as u64);
}

#[test]
fn otlp_http_posts_to_a_receiver_that_decodes_with_the_official_definitions() {
    post_two_invocations("http", Compression::None);
}

#[test]
fn otlp_http_gzip_bodies_gunzip_and_decode_with_the_official_definitions() {
    post_two_invocations("http-gzip", Compression::Gzip);
}

/// Two invocations POSTed over one kept-alive connection to `check.py serve`, which
/// gunzips (when told by `Content-Encoding`) and decodes each body before keeping it.
fn post_two_invocations(case: &str, compression: Compression) {
    let dir = case_dir(case);
    let mut receiver = Command::new(python())
        .arg(SCRIPT)
        .args(["serve"])
        .arg(&dir)
        .arg("2")
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    BufReader::new(receiver.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().expect("the receiver prints its port");
    let mut endpoint = HttpEndpoint::parse(&format!("http://127.0.0.1:{port}/v1/traces")).unwrap();
    endpoint.headers.push(("x-api-key".into(), "secret".into()));
    endpoint.compression = compression;
    let emitter = Emitter::for_config(&config(Output::OtlpHttp(endpoint)));
    let mut buf = EmitBuffer::new();
    // Two invocations over one kept-alive connection.
    let (mut tree, root, mut spans) = lambda_tree();
    emitter.emit(&mut tree, root, &mut buf);
    let mut t2 = EntityTree::new(trace());
    t2.use_sequential_ids(0x900);
    let r2 = t2.begin_segment("second", None, ts(0));
    t2.end(r2, ts(5));
    emitter.emit(&mut t2, r2, &mut buf);
    spans.push(
        json!({"trace_id": TRACE_HEX, "span_id": hex(t2.id(r2).unwrap()),
        "name": "second", "kind": "SERVER", "start": ns(0), "end": ns(5), "attributes": {}}),
    );
    assert!(
        receiver.wait().unwrap().success(),
        "the receiver saw 2 good requests"
    );
    check(
        &dir,
        &json!({"resource": resource(), "scope": scope(), "spans": spans, "requests": 2}),
    );
    for r in ["r000", "r001"] {
        let headers = std::fs::read_to_string(dir.join(format!("{r}.headers"))).unwrap();
        assert!(headers.contains("x-api-key: secret"), "{headers}");
        assert_eq!(
            headers.contains("Content-Encoding: gzip"),
            compression == Compression::Gzip,
            "{headers}"
        );
    }
    let s = emitter.stats();
    assert_eq!(
        (s.datagrams_handed_to_kernel, s.datagrams_known_lost()),
        (2, 0)
    );
}

#[test]
fn otlp_http_with_no_collector_counts_the_loss() {
    // A port nothing listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = HttpEndpoint::parse(&format!("http://127.0.0.1:{port}/v1/traces")).unwrap();
    let emitter = Emitter::for_config(&config(Output::OtlpHttp(endpoint)));
    let (mut tree, root, _) = lambda_tree();
    emitter.emit(&mut tree, root, &mut EmitBuffer::new());
    let s = emitter.stats();
    assert_eq!(
        (
            s.datagrams_handed_to_kernel,
            s.sends_failed,
            s.sends_refused
        ),
        (0, 1, 0)
    );
    // One request, one loss: a refused TCP connection reports nothing about earlier requests.
    assert_eq!(s.datagrams_known_lost(), 1);
}
