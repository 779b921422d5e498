//! Writes an entity and its embedded children as one segment document.

use crate::annotation::AnnotationValue;
use crate::model::{Emission, Entity, EntityIndex, EntityKind, EntityTree, Extras, NONE};

use super::writer as w;

/// What to do while writing one document.
#[derive(Debug, Default)]
pub(crate) struct WriteOptions<'a> {
    /// Metadata values longer than this many bytes are replaced by a truncation marker.
    pub(crate) metadata_value_limit: Option<usize>,
    /// When set, receives `(child index, bytes)` for each embedded direct child of the top
    /// entity, so the emitter can choose which children to stream out.
    pub(crate) child_spans: Option<&'a mut Vec<(u32, usize)>>,
    /// Set when the write replaced at least one metadata value by a marker.
    pub(crate) truncated_values: u32,
}

/// How many bytes of an oversized metadata value are kept in its marker.
pub(crate) const TRUNCATED_HEAD_BYTES: usize = 256;

/// Writes the subtree of `entity` as a standalone document into `out` (appending).
///
/// A segment is written with its `trace_id` (and `parent_id` if it continues an upstream
/// trace); a subsegment is written as an independent subsegment (`type`, `trace_id`,
/// `parent_id`). Open entities are written as `in_progress`. Children already sent on their own
/// are left out.
///
/// See [`EntityTree`] for an example.
pub fn write_document(tree: &EntityTree, entity: EntityIndex, out: &mut Vec<u8>) {
    write_top(tree, entity.0, out, &mut WriteOptions::default());
}

pub(crate) fn write_top(tree: &EntityTree, i: u32, out: &mut Vec<u8>, opts: &mut WriteOptions<'_>) {
    write_entity(tree, i, out, true, opts);
}

fn write_entity(
    tree: &EntityTree,
    i: u32,
    out: &mut Vec<u8>,
    top: bool,
    opts: &mut WriteOptions<'_>,
) {
    let n = tree.node(i);
    out.push(b'{');
    w::key(out, "name");
    w::string(out, &n.name);
    out.push(b',');
    w::key(out, "id");
    w::hex_id(out, &n.id.to_hex());
    if top {
        out.push(b',');
        w::key(out, "trace_id");
        w::trace_id(out, &tree.trace_id);
        let parent_id = if n.parent == NONE {
            n.upstream_parent
        } else {
            Some(tree.node(n.parent).id)
        };
        if let Some(p) = parent_id {
            out.push(b',');
            w::key(out, "parent_id");
            w::hex_id(out, &p.to_hex());
        }
        if n.kind == EntityKind::Subsegment {
            out.extend_from_slice(b",\"type\":\"subsegment\"");
        }
    }
    out.push(b',');
    w::key(out, "start_time");
    w::timestamp(out, n.start);
    match n.end {
        Some(end) => {
            out.push(b',');
            w::key(out, "end_time");
            w::timestamp(out, end);
        }
        None => out.extend_from_slice(b",\"in_progress\":true"),
    }
    if n.extended {
        write_flags(n, out);
        if let Some(x) = n.extras.as_deref() {
            write_scalars(x, out);
            write_http(x, out);
            write_aws(x, out);
            write_sql(x, out);
            write_cause(x, out);
        }
        write_annotations(n, out);
        write_metadata(tree, n, out, opts);
    }
    if let Some(x) = n.extras.as_deref().filter(|x| !x.precursor_ids.is_empty()) {
        out.extend_from_slice(b",\"precursor_ids\":[");
        for (k, id) in x.precursor_ids.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            w::hex_id(out, &id.to_hex());
        }
        out.push(b']');
    }
    let mut first = true;
    for c in tree.children(i) {
        if tree.node(c).emission == Emission::Sent {
            continue;
        }
        out.extend_from_slice(if first { b",\"subsegments\":[" } else { b"," });
        first = false;
        let before = out.len();
        let mut child_opts = WriteOptions {
            metadata_value_limit: opts.metadata_value_limit,
            child_spans: None,
            truncated_values: 0,
        };
        write_entity(tree, c, out, false, &mut child_opts);
        opts.truncated_values += child_opts.truncated_values;
        if top && let Some(spans) = opts.child_spans.as_deref_mut() {
            spans.push((c, out.len() - before));
        }
    }
    if !first {
        out.push(b']');
    }
    out.push(b'}');
}

fn opt_str(out: &mut Vec<u8>, first: &mut bool, k: &'static str, v: &str) {
    if v.is_empty() {
        return;
    }
    if !*first {
        out.push(b',');
    }
    *first = false;
    w::key(out, k);
    w::string(out, v);
}

/// `namespace`, `traced` and the error flags, which live on every entity.
fn write_flags(n: &Entity, out: &mut Vec<u8>) {
    if let Some(ns) = n.namespace {
        out.extend_from_slice(b",\"namespace\":\"");
        out.extend_from_slice(ns.as_str().as_bytes());
        out.push(b'"');
    }
    if let Some(t) = n.traced {
        out.extend_from_slice(b",\"traced\":");
        w::bool(out, t);
    }
    if n.error {
        out.extend_from_slice(b",\"error\":true");
    }
    if n.throttle {
        out.extend_from_slice(b",\"throttle\":true");
    }
    if n.fault {
        out.extend_from_slice(b",\"fault\":true");
    }
}

fn write_scalars(n: &Extras, out: &mut Vec<u8>) {
    for (k, v) in [
        ("origin", &n.origin),
        ("user", &n.user),
        ("resource_arn", &n.resource_arn),
    ] {
        if !v.is_empty() {
            out.push(b',');
            w::key(out, k);
            w::string(out, v);
        }
    }
    if !n.service.is_empty() {
        out.extend_from_slice(b",\"service\":{");
        let mut first = true;
        opt_str(out, &mut first, "version", &n.service.version);
        opt_str(out, &mut first, "runtime", &n.service.runtime);
        opt_str(
            out,
            &mut first,
            "runtime_version",
            &n.service.runtime_version,
        );
        out.push(b'}');
    }
}

fn write_http(n: &Extras, out: &mut Vec<u8>) {
    let h = &n.http;
    let (req, resp) = (h.has_request(), h.has_response());
    if !req && !resp {
        return;
    }
    out.extend_from_slice(b",\"http\":{");
    if req {
        out.extend_from_slice(b"\"request\":{");
        let mut first = true;
        opt_str(out, &mut first, "method", &h.method);
        opt_str(out, &mut first, "url", &h.url);
        opt_str(out, &mut first, "user_agent", &h.user_agent);
        opt_str(out, &mut first, "client_ip", &h.client_ip);
        for (k, v) in [("x_forwarded_for", h.x_forwarded_for), ("traced", h.traced)] {
            if let Some(v) = v {
                if !first {
                    out.push(b',');
                }
                first = false;
                w::key(out, k);
                w::bool(out, v);
            }
        }
        out.push(b'}');
    }
    if resp {
        if req {
            out.push(b',');
        }
        out.extend_from_slice(b"\"response\":{");
        if let Some(s) = h.status {
            w::key(out, "status");
            w::u64(out, u64::from(s));
        }
        if let Some(len) = h.content_length {
            if h.status.is_some() {
                out.push(b',');
            }
            w::key(out, "content_length");
            w::u64(out, len);
        }
        out.push(b'}');
    }
    out.push(b'}');
}

fn write_aws(n: &Extras, out: &mut Vec<u8>) {
    let a = &n.aws;
    if a.is_empty() {
        return;
    }
    out.extend_from_slice(b",\"aws\":{");
    let mut first = true;
    opt_str(out, &mut first, "account_id", &a.account_id);
    opt_str(out, &mut first, "operation", &a.operation);
    opt_str(out, &mut first, "region", &a.region);
    opt_str(out, &mut first, "request_id", &a.request_id);
    opt_str(out, &mut first, "queue_url", &a.queue_url);
    opt_str(out, &mut first, "table_name", &a.table_name);
    a.params.write(out, &mut first);
    if a.has_ecs() {
        group(
            out,
            &mut first,
            "ecs",
            &[
                ("container", &a.ecs_container),
                ("container_id", &a.ecs_container_id),
                ("container_arn", &a.ecs_container_arn),
            ],
        );
    }
    if a.has_ec2() {
        group(
            out,
            &mut first,
            "ec2",
            &[
                ("instance_id", &a.ec2_instance_id),
                ("availability_zone", &a.ec2_availability_zone),
                ("instance_size", &a.ec2_instance_size),
                ("ami_id", &a.ec2_ami_id),
            ],
        );
    }
    if a.has_xray() {
        group(
            out,
            &mut first,
            "xray",
            &[
                ("sdk", &a.xray_sdk),
                ("sdk_version", &a.xray_sdk_version),
                ("sampling_rule_name", &a.xray_sampling_rule),
            ],
        );
    }
    out.push(b'}');
}

/// Writes `"name":{…}` with the non-empty fields.
fn group(out: &mut Vec<u8>, first: &mut bool, name: &str, fields: &[(&'static str, &String)]) {
    if !*first {
        out.push(b',');
    }
    *first = false;
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":{");
    let mut inner_first = true;
    for (k, v) in fields {
        opt_str(out, &mut inner_first, k, v);
    }
    out.push(b'}');
}

fn write_sql(n: &Extras, out: &mut Vec<u8>) {
    let s = &n.sql;
    if s.is_empty() {
        return;
    }
    out.extend_from_slice(b",\"sql\":{");
    let mut first = true;
    opt_str(out, &mut first, "connection_string", &s.connection_string);
    opt_str(out, &mut first, "url", &s.url);
    opt_str(out, &mut first, "sanitized_query", &s.sanitized_query);
    opt_str(out, &mut first, "database_type", &s.database_type);
    opt_str(out, &mut first, "database_version", &s.database_version);
    opt_str(out, &mut first, "driver_version", &s.driver_version);
    opt_str(out, &mut first, "user", &s.user);
    if let Some(p) = s.preparation {
        opt_str(out, &mut first, "preparation", p.as_str());
    }
    out.push(b'}');
}

fn write_cause(n: &Extras, out: &mut Vec<u8>) {
    let c = &n.cause;
    if c.is_empty() {
        return;
    }
    out.extend_from_slice(b",\"cause\":");
    if c.exceptions.is_empty()
        && c.working_directory.is_empty()
        && c.paths.is_empty()
        && let Some(r) = c.reference
    {
        w::hex_id(out, &r.to_hex());
        return;
    }
    out.push(b'{');
    let mut first = true;
    opt_str(out, &mut first, "working_directory", &c.working_directory);
    if !c.paths.is_empty() {
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(b"\"paths\":[");
        for (k, p) in c.paths.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            w::string(out, p);
        }
        out.push(b']');
    }
    if !c.exceptions.is_empty() {
        if !first {
            out.push(b',');
        }
        out.extend_from_slice(b"\"exceptions\":[");
        for (k, e) in c.exceptions.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"id\":");
            w::hex_id(out, &e.id.to_hex());
            let mut f = false;
            opt_str(out, &mut f, "type", &e.type_name);
            opt_str(out, &mut f, "message", &e.message);
            if e.remote {
                out.extend_from_slice(b",\"remote\":true");
            }
            if e.truncated > 0 {
                out.extend_from_slice(b",\"truncated\":");
                w::u64(out, u64::from(e.truncated));
            }
            if e.skipped > 0 {
                out.extend_from_slice(b",\"skipped\":");
                w::u64(out, u64::from(e.skipped));
            }
            if let Some(cause) = e.cause {
                out.extend_from_slice(b",\"cause\":");
                w::hex_id(out, &cause.to_hex());
            }
            if !e.stack.is_empty() {
                out.extend_from_slice(b",\"stack\":[");
                for (j, fr) in e.stack.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    out.push(b'{');
                    let mut ff = true;
                    opt_str(out, &mut ff, "path", &fr.path);
                    if let Some(line) = fr.line {
                        if !ff {
                            out.push(b',');
                        }
                        ff = false;
                        w::key(out, "line");
                        w::u64(out, u64::from(line));
                    }
                    opt_str(out, &mut ff, "label", &fr.label);
                    out.push(b'}');
                }
                out.push(b']');
            }
            out.push(b'}');
        }
        out.push(b']');
    }
    out.push(b'}');
}

fn write_annotations(n: &Entity, out: &mut Vec<u8>) {
    if n.annotations.is_empty() {
        return;
    }
    out.extend_from_slice(b",\"annotations\":{");
    for (k, a) in n.annotations.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        // Keys are checked against [A-Za-z0-9_] when recorded: no escaping needed.
        out.push(b'"');
        out.extend_from_slice(a.key.as_bytes());
        out.extend_from_slice(b"\":");
        match a.value() {
            AnnotationValue::Str(s) => w::string(out, s),
            AnnotationValue::Int(v) => w::i64(out, v),
            AnnotationValue::UInt(v) => w::u64(out, v),
            AnnotationValue::Float(v) => w::f64(out, v),
            AnnotationValue::Bool(v) => w::bool(out, v),
        }
    }
    out.push(b'}');
}

fn write_metadata(tree: &EntityTree, n: &Entity, out: &mut Vec<u8>, opts: &mut WriteOptions<'_>) {
    let entries = n.metadata.as_slice();
    if entries.iter().all(|e| e.dead) {
        return;
    }
    out.extend_from_slice(b",\"metadata\":{");
    let mut first_ns = true;
    for (i, e) in entries.iter().enumerate() {
        if e.dead
            || entries[..i]
                .iter()
                .any(|p| !p.dead && p.namespace == e.namespace)
        {
            continue;
        }
        if !first_ns {
            out.push(b',');
        }
        first_ns = false;
        w::string(out, &e.namespace);
        out.extend_from_slice(b":{");
        let mut first = true;
        for m in entries[i..]
            .iter()
            .filter(|m| !m.dead && m.namespace == e.namespace)
        {
            if !first {
                out.push(b',');
            }
            first = false;
            w::string(out, &m.key);
            out.push(b':');
            let value = &tree.meta[m.start as usize..m.end as usize];
            match opts.metadata_value_limit {
                Some(limit) if m.len() > limit => {
                    opts.truncated_values += 1;
                    write_truncation_marker(out, value);
                }
                _ => out.extend_from_slice(value),
            }
        }
        out.push(b'}');
    }
    out.push(b'}');
}

/// `{"truncated":true,"original_bytes":N,"head":"<first bytes of the JSON text>"}`.
fn write_truncation_marker(out: &mut Vec<u8>, value: &[u8]) {
    out.extend_from_slice(b"{\"truncated\":true,\"original_bytes\":");
    w::u64(out, value.len() as u64);
    out.extend_from_slice(b",\"head\":\"");
    let mut end = TRUNCATED_HEAD_BYTES.min(value.len());
    // The arena holds serde_json output, which is UTF-8: back up to a character boundary.
    while end > 0 && end < value.len() && (value[end] & 0xC0) == 0x80 {
        end -= 1;
    }
    w::string_body(out, &value[..end]);
    out.extend_from_slice(b"\"}");
}
