//! The entries of an entity as JSON: `cause`, `annotations` and `metadata` (with the SDK's
//! own notes and the truncation marker for values cut to fit a datagram).

use crate::annotation::AnnotationValue;
use crate::model::{Entity, EntityTree, Extras};

use super::document::{WriteOptions, opt_str};
use super::writer as w;

/// How many bytes of an oversized metadata value are kept in its marker.
pub(crate) const TRUNCATED_HEAD_BYTES: usize = 256;

pub(super) fn write_cause(n: &Extras, out: &mut Vec<u8>) {
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

pub(super) fn write_annotations(n: &Entity, out: &mut Vec<u8>) {
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

pub(super) fn write_metadata(
    tree: &EntityTree,
    n: &Entity,
    out: &mut Vec<u8>,
    opts: &mut WriteOptions<'_>,
) {
    let md = &n.metadata;
    if md.is_empty() && n.over_budget == 0 {
        return;
    }
    out.extend_from_slice(b",\"metadata\":{");
    let mut first_ns = true;
    let mut marked = false;
    for ns in md.namespaces.iter() {
        if !first_ns {
            out.push(b',');
        }
        first_ns = false;
        w::string(out, &ns.name);
        out.extend_from_slice(b":{");
        let mut first = true;
        for m in md.group(ns) {
            if !first {
                out.push(b',');
            }
            first = false;
            w::string(out, &m.key);
            out.push(b':');
            let value = tree.meta.value(m);
            match opts.metadata_value_limit {
                Some(limit) if m.len() > limit => {
                    opts.truncated_values += 1;
                    write_truncation_marker(out, value);
                }
                _ => out.extend_from_slice(value),
            }
        }
        if ns.name == SDK_NAMESPACE {
            marked = write_sdk_marks(n, out, first);
        }
        out.push(b'}');
    }
    if !marked && n.over_budget > 0 {
        if !first_ns {
            out.push(b',');
        }
        w::string(out, SDK_NAMESPACE);
        out.extend_from_slice(b":{");
        write_sdk_marks(n, out, true);
        out.push(b'}');
    }
    out.push(b'}');
}

/// The metadata namespace of the SDK's own notes about an entity.
const SDK_NAMESPACE: &str = "xray_sdk";

/// Writes the entity's notes into the open `xray_sdk` namespace object; true when any.
fn write_sdk_marks(n: &Entity, out: &mut Vec<u8>, first: bool) -> bool {
    if n.over_budget == 0 {
        return false;
    }
    if !first {
        out.push(b',');
    }
    out.extend_from_slice(b"\"entries_over_budget\":");
    w::u64(out, u64::from(n.over_budget));
    true
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
