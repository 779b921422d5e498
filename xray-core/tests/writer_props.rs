//! The JSON writer against a reference: arbitrary trees are written by `write_document` and,
//! independently, rendered with `serde_json::json!`; the two must parse to the same value. The
//! same trees go through the emitter with a small limit, and no datagram may exceed it.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use xray_core::{
    Namespace, SegmentId, TraceId,
    model::{EntityIndex, EntityTree, Timestamp, sanitize_name_into},
    validate::Validator,
    wire::{DATAGRAM_HEADER, EmitBuffer, Emitter, write_document},
};

#[derive(Debug, Clone)]
enum Ann {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

#[derive(Debug, Clone)]
struct Node {
    name: String,
    start: u64,
    duration: Option<u64>,
    namespace: Option<u8>,
    flags: (bool, bool, bool),
    user: String,
    http: Option<(String, String, Option<u16>, Option<u64>)>,
    sql_query: String,
    aws_op: String,
    annotations: Vec<(String, Ann)>,
    metadata: Vec<(String, String, Value)>,
    exception: Option<(String, String)>,
    children: Vec<Node>,
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z ]{0,12}",
        any::<String>().prop_map(|s| s.chars().take(40).collect()),
        Just("quote\" back\\ nl\n tab\t \u{1} \u{7f} é 🚀".to_owned()),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|v| json!(v)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|v| json!(v)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn ann() -> impl Strategy<Value = Ann> {
    prop_oneof![
        text().prop_map(Ann::Str),
        any::<i64>().prop_map(Ann::Int),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Ann::Float),
        any::<bool>().prop_map(Ann::Bool),
    ]
}

fn leaf_node() -> impl Strategy<Value = Node> {
    (
        (
            text(),
            0u64..1_000_000,
            prop::option::of(0u64..1_000_000),
            prop::option::of(0u8..3),
        ),
        (any::<(bool, bool, bool)>(), "[a-z]{0,8}"),
        prop::option::of((
            "[A-Z]{0,6}",
            text(),
            prop::option::of(100u16..600),
            prop::option::of(any::<u64>()),
        )),
        ("[a-z ?=]{0,10}", "[A-Za-z]{0,10}"),
        prop::collection::vec(("[a-z_]{1,3}", ann()), 0..4),
        prop::collection::vec(("[a-z]{1,2}", "[a-z]{1,2}", json_value()), 0..4),
        prop::option::of((text(), text())),
    )
        .prop_map(
            |(
                (name, start, duration, namespace),
                (flags, user),
                http,
                (sql, op),
                annotations,
                metadata,
                exception,
            )| Node {
                name,
                start,
                duration,
                namespace,
                flags,
                user,
                http,
                sql_query: sql,
                aws_op: op,
                annotations,
                metadata,
                exception,
                children: Vec::new(),
            },
        )
}

fn node() -> impl Strategy<Value = Node> {
    leaf_node().prop_recursive(3, 20, 4, |inner| {
        (leaf_node(), prop::collection::vec(inner, 0..4)).prop_map(|(mut n, children)| {
            n.children = children;
            n
        })
    })
}

const T0: u64 = 1_600_000_000_000_000;

fn build(tree: &mut EntityTree, parent: Option<EntityIndex>, n: &Node) -> EntityIndex {
    let start = Timestamp::from_micros(T0 + n.start);
    let e = match parent {
        Some(p) => tree.begin_subsegment(p, &n.name, start),
        None => tree.begin_detached_subsegment(&n.name, SegmentId::from_u64(0x00fa_cade), start),
    };
    {
        let mut m = tree.entity_mut(e);
        if let Some(ns) = n.namespace {
            m.set_namespace([Namespace::Aws, Namespace::Remote, Namespace::Local][ns as usize]);
        }
        m.set_error(n.flags.0)
            .set_throttle(n.flags.1)
            .set_fault(n.flags.2);
        m.set_user(&n.user);
        if let Some((method, url, status, len)) = &n.http {
            m.http_method(method).http_url(url);
            if let Some(s) = status {
                m.apply_http_status(*s);
            }
            if let Some(l) = len {
                m.http_content_length(*l);
            }
        }
        m.sql_sanitized_query(&n.sql_query).aws_operation(&n.aws_op);
        for (k, v) in &n.annotations {
            match v {
                Ann::Str(s) => m.put_annotation(k, s.as_str()),
                Ann::Int(i) => m.put_annotation(k, *i),
                Ann::Float(f) => m.put_annotation(k, *f),
                Ann::Bool(b) => m.put_annotation(k, *b),
            }
            .unwrap();
        }
        for (ns, k, v) in &n.metadata {
            m.put_metadata(ns, k, v).unwrap();
        }
        if let Some((t, msg)) = &n.exception {
            let id = m.add_exception(t, msg, false);
            m.add_stack_frame(id, "src/lib.rs", Some(7), "f");
        }
    }
    for c in &n.children {
        build(tree, Some(e), c);
    }
    if let Some(d) = n.duration {
        tree.end(e, Timestamp::from_micros(T0 + n.start + d));
    }
    e
}

fn secs(micros: u64) -> f64 {
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
        .parse()
        .unwrap()
}

/// The expected document, built without any of the crate's writing code.
fn reference(tree: &EntityTree, e: EntityIndex, n: &Node, top: bool) -> Value {
    let id = tree.id(e).unwrap();
    let mut name = String::new();
    sanitize_name_into(&n.name, &mut name);
    let mut o = Map::new();
    o.insert("name".into(), json!(name));
    o.insert("id".into(), json!(id.to_string()));
    if top {
        o.insert("trace_id".into(), json!(tree.trace_id().to_string()));
        o.insert("parent_id".into(), json!("0000000000facade"));
        o.insert("type".into(), json!("subsegment"));
    }
    let start = T0 + n.start;
    o.insert("start_time".into(), json!(secs(start)));
    match n.duration {
        Some(d) => o.insert("end_time".into(), json!(secs(start + d))),
        None => o.insert("in_progress".into(), json!(true)),
    };
    if let Some(ns) = n.namespace {
        o.insert(
            "namespace".into(),
            json!(["aws", "remote", "local"][ns as usize]),
        );
    }
    if !n.user.is_empty() {
        o.insert("user".into(), json!(n.user));
    }
    let (mut error, mut throttle, mut fault) = n.flags;
    let mut http = Map::new();
    if let Some((method, url, status, len)) = &n.http {
        let mut req = Map::new();
        if !method.is_empty() {
            req.insert("method".into(), json!(method));
        }
        if !url.is_empty() {
            req.insert(
                "url".into(),
                json!(url.chars().take(250).collect::<String>()),
            );
        }
        if !req.is_empty() {
            http.insert("request".into(), Value::Object(req));
        }
        let mut resp = Map::new();
        if let Some(s) = status {
            resp.insert("status".into(), json!(s));
            match s {
                500..=599 => fault = true,
                429 => {
                    throttle = true;
                    error = true;
                }
                400..=499 => error = true,
                _ => {}
            }
        }
        if let Some(l) = len {
            resp.insert("content_length".into(), json!(l));
        }
        if !resp.is_empty() {
            http.insert("response".into(), Value::Object(resp));
        }
    }
    for (k, v) in [("error", error), ("throttle", throttle), ("fault", fault)] {
        if v {
            o.insert(k.into(), json!(true));
        }
    }
    if !http.is_empty() {
        o.insert("http".into(), Value::Object(http));
    }
    if !n.aws_op.is_empty() {
        o.insert("aws".into(), json!({ "operation": n.aws_op }));
    }
    if !n.sql_query.is_empty() {
        o.insert("sql".into(), json!({ "sanitized_query": n.sql_query }));
    }
    if let Some((t, msg)) = &n.exception {
        // The exception id is random; read it back from the written document below.
        let mut ex = Map::new();
        ex.insert("id".into(), json!("<exception id>"));
        if !t.is_empty() {
            ex.insert("type".into(), json!(t));
        }
        if !msg.is_empty() {
            ex.insert("message".into(), json!(msg));
        }
        ex.insert(
            "stack".into(),
            json!([{"path": "src/lib.rs", "line": 7, "label": "f"}]),
        );
        o.insert("cause".into(), json!({ "exceptions": [Value::Object(ex)] }));
    }
    if !n.annotations.is_empty() {
        let mut a = Map::new();
        for (k, v) in &n.annotations {
            let v = match v {
                Ann::Str(s) => json!(s),
                Ann::Int(i) => json!(i),
                Ann::Float(f) => json!(f),
                Ann::Bool(b) => json!(b),
            };
            a.insert(k.clone(), v);
        }
        o.insert("annotations".into(), Value::Object(a));
    }
    if !n.metadata.is_empty() {
        let mut m = Map::new();
        for (ns, k, v) in &n.metadata {
            let entry = m.entry(ns.clone()).or_insert_with(|| json!({}));
            entry.as_object_mut().unwrap().insert(k.clone(), v.clone());
        }
        o.insert("metadata".into(), Value::Object(m));
    }
    if !n.children.is_empty() {
        let subs: Vec<Value> = tree
            .child_entities(e)
            .zip(&n.children)
            .map(|(idx, c)| reference(tree, idx, c, false))
            .collect();
        o.insert("subsegments".into(), Value::Array(subs));
    }
    Value::Object(o)
}

/// Replaces exception ids (random) by a placeholder so documents compare.
fn scrub(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Object(cause)) = m.get_mut("cause")
                && let Some(Value::Array(exs)) = cause.get_mut("exceptions")
            {
                for ex in exs {
                    let id = ex["id"].as_str().unwrap_or_default();
                    assert!(id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()));
                    ex["id"] = json!("<exception id>");
                }
            }
            for (_, c) in m.iter_mut() {
                scrub(c);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(scrub),
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn written_documents_equal_the_reference(n in node(), epoch in any::<u32>()) {
        let mut tree = EntityTree::new(TraceId::random_at(epoch));
        let root = build(&mut tree, None, &n);
        let mut out = Vec::new();
        write_document(&tree, root, &mut out);
        let mut written: Value = serde_json::from_slice(&out)
            .map_err(|e| TestCaseError::fail(format!("{e}: {}", String::from_utf8_lossy(&out))))?;
        scrub(&mut written);
        let expected = reference(&tree, root, &n, true);
        prop_assert_eq!(written, expected);
    }

    #[test]
    fn no_datagram_exceeds_the_limit(n in node(), limit in 600usize..4000) {
        let (emitter, sink) = Emitter::memory(limit);
        let mut tree = EntityTree::new(TraceId::random());
        let root = build(&mut tree, None, &n);
        emitter.emit(&mut tree, root, &mut EmitBuffer::new());
        let stats = emitter.stats();
        let datagrams = sink.take();
        prop_assert_eq!(datagrams.len() as u64, stats.datagrams_handed_to_kernel);
        for d in &datagrams {
            prop_assert!(d.len() <= limit, "{} > {}", d.len(), limit);
            prop_assert!(d.starts_with(DATAGRAM_HEADER));
            // Conformance: the official schema plus the documented rules.
            let (_, report) = Validator::shared()
                .check_datagram(d)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(report.is_valid(), "{}", report);
        }
        prop_assert!(stats.datagrams_handed_to_kernel + stats.dropped_oversized >= 1);
    }
}
