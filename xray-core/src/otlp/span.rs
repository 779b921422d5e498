//! One entity written as an OTLP `Span` message (the mapping table is in the module docs).

use super::proto::{self, begin, end};
use crate::id::TraceId;
use crate::model::{Entity, EntityKind, EntityTree, NONE, Namespace};

/// How much of an entity goes into its span: everything, everything but metadata (a span
/// too large for one datagram), or ids, times, kind and status only (still too large).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detail {
    Full,
    NoMetadata,
    Minimal,
}

// `Span` field numbers (opentelemetry/proto/trace/v1/trace.proto).
const TRACE_ID: u32 = 1;
const SPAN_ID: u32 = 2;
const PARENT_SPAN_ID: u32 = 4;
const NAME: u32 = 5;
const KIND: u32 = 6;
const START: u32 = 7;
const END: u32 = 8;
const ATTRIBUTES: u32 = 9;
const EVENTS: u32 = 11;
const STATUS: u32 = 15;
const FLAGS: u32 = 16;

/// `SpanFlags`: the parent's remoteness is known, and whether it is remote.
const FLAG_HAS_IS_REMOTE: u32 = 0x100;
const FLAG_IS_REMOTE: u32 = 0x200;

const KIND_INTERNAL: u64 = 1;
const KIND_SERVER: u64 = 2;
const KIND_CLIENT: u64 = 3;
const STATUS_ERROR: u64 = 2;

/// The 16-byte OpenTelemetry trace id: epoch seconds, then the 12 random bytes.
pub fn otel_trace_id(id: &TraceId) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..4].copy_from_slice(&id.epoch_seconds().to_be_bytes());
    out[4..].copy_from_slice(&id.random_part());
    out
}

/// Writes a `KeyValue` with a string value.
pub(crate) fn kv_str(out: &mut Vec<u8>, field: u32, key: &[&str], value: &str) {
    let kv = begin(out, field);
    proto::str_parts(out, 1, key);
    let any = begin(out, 2);
    proto::bytes_present(out, 1, value.as_bytes());
    end(out, any);
    end(out, kv);
}

fn kv_bool(out: &mut Vec<u8>, key: &str, value: bool) {
    kv_bool_in(out, ATTRIBUTES, key, value);
}

fn kv_bool_in(out: &mut Vec<u8>, field: u32, key: &str, value: bool) {
    let kv = begin(out, field);
    proto::bytes(out, 1, key.as_bytes());
    let any = begin(out, 2);
    proto::varint_present(out, 2, u64::from(value));
    end(out, any);
    end(out, kv);
}

fn kv_int(out: &mut Vec<u8>, key: &str, value: i64) {
    let kv = begin(out, ATTRIBUTES);
    proto::bytes(out, 1, key.as_bytes());
    let any = begin(out, 2);
    proto::varint_present(out, 3, value as u64);
    end(out, any);
    end(out, kv);
}

fn kv_double(out: &mut Vec<u8>, key: &str, value: f64) {
    let kv = begin(out, ATTRIBUTES);
    proto::bytes(out, 1, key.as_bytes());
    let any = begin(out, 2);
    proto::double(out, 4, value);
    end(out, any);
    end(out, kv);
}

/// A string attribute, left out when the value is empty (an absent X-Ray field).
fn attr(out: &mut Vec<u8>, key: &str, value: &str) {
    if !value.is_empty() {
        kv_str(out, ATTRIBUTES, &[key], value);
    }
}

/// A string-array attribute.
fn kv_str_array<'a>(out: &mut Vec<u8>, key: &str, values: impl Iterator<Item = &'a str>) {
    let kv = begin(out, ATTRIBUTES);
    proto::bytes(out, 1, key.as_bytes());
    let any = begin(out, 2);
    let array = begin(out, 5);
    for v in values {
        let item = begin(out, 1);
        proto::bytes_present(out, 1, v.as_bytes());
        end(out, item);
    }
    end(out, array);
    end(out, any);
    end(out, kv);
}

fn span_kind(e: &Entity) -> u64 {
    match e.namespace {
        Some(Namespace::Aws | Namespace::Remote) => KIND_CLIENT,
        // A service segment, or a tree's top entity (in Lambda, the handler).
        _ if e.kind == EntityKind::Segment || e.parent == NONE => KIND_SERVER,
        _ => KIND_INTERNAL,
    }
}

/// Writes entity `i` as a `Span` (field `field` of the enclosing message).
pub(crate) fn write_span(tree: &EntityTree, i: u32, field: u32, detail: Detail, out: &mut Vec<u8>) {
    let e = tree.node(i);
    let span = begin(out, field);
    proto::bytes(out, TRACE_ID, &otel_trace_id(&tree.trace_id));
    proto::bytes(out, SPAN_ID, &e.id.as_u64().to_be_bytes());
    let parent = if e.parent == NONE {
        e.upstream_parent
    } else {
        Some(tree.node(e.parent).id)
    };
    if let Some(p) = parent {
        proto::bytes(out, PARENT_SPAN_ID, &p.as_u64().to_be_bytes());
    }
    proto::bytes(out, NAME, e.name.as_bytes());
    proto::uint(out, KIND, span_kind(e));
    let start = e.start.as_micros() * 1000;
    // An entity still open is sent by the emitter only as a last resort: it ends where it
    // started and says so.
    let end_ns = e.end.map_or(start, |t| t.as_micros() * 1000);
    proto::fixed64(out, START, start);
    proto::fixed64(out, END, end_ns);
    if detail != Detail::Minimal {
        write_attributes(tree, e, detail, out);
        write_events(e, end_ns, out);
    }
    // Always present, empty when unset, as the SDK encoders write it.
    let status = begin(out, STATUS);
    if e.error || e.fault {
        let message = e
            .extras
            .as_ref()
            .and_then(|x| x.cause.exceptions.iter().next())
            .map_or("", |x| x.message.as_str());
        if detail != Detail::Minimal {
            proto::bytes(out, 2, message.as_bytes());
        }
        proto::uint(out, 3, STATUS_ERROR);
    }
    end(out, status);
    // The upstream parent of a tree's top entity lives in another process (in Lambda, the
    // function segment Lambda records): a remote parent.
    let remote = e.parent == NONE && e.upstream_parent.is_some();
    proto::fixed32(
        out,
        FLAGS,
        FLAG_HAS_IS_REMOTE | if remote { FLAG_IS_REMOTE } else { 0 },
    );
    end(out, span);
}

fn write_attributes(tree: &EntityTree, e: &Entity, detail: Detail, out: &mut Vec<u8>) {
    use crate::annotation::AnnotationValue as V;
    if e.end.is_none() {
        kv_bool(out, "aws.xray.in_progress", true);
    }
    for a in e.annotations.iter() {
        match a.value() {
            V::Str(s) => kv_str(out, ATTRIBUTES, &[&a.key], s),
            V::Int(v) => kv_int(out, &a.key, v),
            V::UInt(v) => kv_double(out, &a.key, v as f64),
            V::Float(v) => kv_double(out, &a.key, v),
            V::Bool(v) => {
                kv_bool(out, &a.key, v);
                if a.key == "ColdStart" {
                    kv_bool(out, "faas.coldstart", v);
                }
            }
        }
    }
    if !e.annotations.is_empty() {
        kv_str_array(
            out,
            "aws.xray.annotations",
            e.annotations.iter().map(|a| a.key.as_str()),
        );
    }
    if detail == Detail::Full {
        for ns in e.metadata.namespaces.iter() {
            for m in e.metadata.group(ns) {
                // The arena holds serde_json output, so it is UTF-8.
                let value = std::str::from_utf8(tree.meta.value(m)).unwrap_or("");
                kv_str(
                    out,
                    ATTRIBUTES,
                    &["aws.xray.metadata.", &ns.name, ".", &m.key],
                    value,
                );
            }
        }
    }
    if e.throttle {
        kv_bool(out, "aws.xray.throttle", true);
    }
    let Some(x) = e.extras.as_deref() else {
        return;
    };
    attr(out, "enduser.id", &x.user);
    attr(out, "aws.xray.origin", &x.origin);
    attr(out, "cloud.resource_id", &x.resource_arn);
    attr(out, "http.request.method", &x.http.method);
    attr(out, "url.full", &x.http.url);
    attr(out, "user_agent.original", &x.http.user_agent);
    attr(out, "client.address", &x.http.client_ip);
    if let Some(s) = x.http.status {
        kv_int(out, "http.response.status_code", i64::from(s));
    }
    if let Some(n) = x.http.content_length {
        kv_int(out, "http.response.body.size", n as i64);
    }
    if !x.aws.operation.is_empty() {
        attr(out, "rpc.system", "aws-api");
        attr(out, "rpc.service", &e.name);
        attr(out, "rpc.method", &x.aws.operation);
    }
    attr(out, "aws.request_id", &x.aws.request_id);
    attr(out, "cloud.region", &x.aws.region);
    attr(out, "cloud.account.id", &x.aws.account_id);
    attr(out, "aws.sqs.queue_url", &x.aws.queue_url);
    if !x.aws.table_name.is_empty() {
        kv_str_array(
            out,
            "aws.dynamodb.table_names",
            std::iter::once(x.aws.table_name.as_str()),
        );
    }
    attr(out, "db.system", &x.sql.database_type);
    attr(out, "db.query.text", &x.sql.sanitized_query);
    attr(out, "db.user", &x.sql.user);
    attr(out, "server.address", &x.sql.url);
    if let Some(first) = x.cause.exceptions.iter().next() {
        attr(out, "error.type", &first.type_name);
    }
}

/// Each recorded exception as an `exception` event at the span's end.
fn write_events(e: &Entity, at: u64, out: &mut Vec<u8>) {
    let Some(x) = e.extras.as_deref() else {
        return;
    };
    for ex in x.cause.exceptions.iter() {
        let ev = begin(out, EVENTS);
        proto::fixed64(out, 1, at);
        proto::bytes(out, 2, b"exception");
        for (key, value) in [
            ("exception.type", &ex.type_name),
            ("exception.message", &ex.message),
        ] {
            if !value.is_empty() {
                kv_str(out, 3, &[key], value);
            }
        }
        if !ex.stack.is_empty() {
            // `label (path:line)` per line, written straight into the value field.
            let kv = begin(out, 3);
            proto::bytes(out, 1, b"exception.stacktrace");
            let any = begin(out, 2);
            let text = begin(out, 1);
            let mut line = itoa::Buffer::new();
            for (n, f) in ex.stack.iter().enumerate() {
                if n > 0 {
                    out.push(b'\n');
                }
                out.extend_from_slice(f.label.as_bytes());
                out.extend_from_slice(b" (");
                out.extend_from_slice(f.path.as_bytes());
                if let Some(l) = f.line {
                    out.push(b':');
                    out.extend_from_slice(line.format(l).as_bytes());
                }
                out.push(b')');
            }
            end(out, text);
            end(out, any);
            end(out, kv);
        }
        if ex.remote {
            kv_bool_in(out, 3, "aws.xray.exception.remote", true);
        }
        end(out, ev);
    }
}
