//! The minimal form of an entity: what is left when even cut metadata does not fit.
//!
//! Ids, times, the error flags and a marker; no children (closed ones were already streamed,
//! open ones are sent when they close), annotations, metadata or cause.

use crate::model::{EntityKind, EntityTree, NONE};

use super::writer as w;

pub(crate) fn write_minimal(tree: &EntityTree, i: u32, out: &mut Vec<u8>) {
    let n = tree.node(i);
    out.extend_from_slice(b"{\"name\":");
    w::string(out, &n.name);
    out.extend_from_slice(b",\"id\":");
    w::hex_id(out, &n.id.to_hex());
    out.extend_from_slice(b",\"trace_id\":");
    w::trace_id(out, &tree.trace_id);
    let parent = if n.parent == NONE {
        n.upstream_parent
    } else {
        Some(tree.node(n.parent).id)
    };
    if let Some(p) = parent {
        out.extend_from_slice(b",\"parent_id\":");
        w::hex_id(out, &p.to_hex());
    }
    if n.kind == EntityKind::Subsegment {
        out.extend_from_slice(b",\"type\":\"subsegment\"");
    }
    out.extend_from_slice(b",\"start_time\":");
    w::timestamp(out, n.start);
    match n.end {
        Some(end) => {
            out.extend_from_slice(b",\"end_time\":");
            w::timestamp(out, end);
        }
        None => out.extend_from_slice(b",\"in_progress\":true"),
    }
    for (flag, text) in [
        (n.error, &b",\"error\":true"[..]),
        (n.throttle, b",\"throttle\":true"),
        (n.fault, b",\"fault\":true"),
    ] {
        if flag {
            out.extend_from_slice(text);
        }
    }
    out.extend_from_slice(
        b",\"metadata\":{\"xray_sdk\":{\"truncated\":true,\"reason\":\"document over the datagram limit\"}}}",
    );
}
