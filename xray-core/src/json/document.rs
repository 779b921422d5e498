//! Writes an entity and its embedded children as one segment document.

use crate::model::{Emission, Entity, EntityIndex, EntityKind, EntityTree, Extras, NONE};

use super::entries::{write_annotations, write_cause, write_metadata};
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

/// Writes the subtree of `i` as an embedded child (no `trace_id`, `parent_id` or `type`), for
/// documents the emitter assembles itself.
pub(crate) fn write_embedded(tree: &EntityTree, i: u32, out: &mut Vec<u8>) {
    write_entity(tree, i, out, false, &mut WriteOptions::default());
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

pub(super) fn opt_str(out: &mut Vec<u8>, first: &mut bool, k: &'static str, v: &str) {
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
