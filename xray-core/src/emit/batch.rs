//! Packing subsegments that must leave their parent's document into as few datagrams as fit.
//!
//! A datagram carries exactly one document, so several closed subtrees travel together as the
//! children of one grouping subsegment, [`BATCH_NAME`], whose parent is their real parent and
//! whose times span theirs. Without it, 10 000 tiny calls shed from an oversized handler
//! document went out as about 9 400 datagrams; packed, they take a few dozen.

use crate::id::SegmentId;
use crate::json::document::write_embedded;
use crate::json::writer as w;
use crate::model::{Emission, EntityTree};
use crate::time::Timestamp;

use super::stats::EmitterCounters;
use super::{DATAGRAM_HEADER, EmitBuffer, Emitter};

/// The name of the grouping subsegments that carry packed subsegments. They are the SDK's,
/// not the user's: tools that count the user's entities leave them out.
pub const BATCH_NAME: &str = "## batch";

/// Room for the grouping subsegment around its children: name, ids, trace id, type, times and
/// the brackets, with margin.
const BATCH_OVERHEAD: usize = 256;

impl Emitter {
    /// Sends `chosen` (closed children of `parent`, with their embedded sizes, largest first)
    /// outside `parent`'s document: packed several to a datagram where they fit, alone (and
    /// split further if need be) where they do not.
    pub(super) fn stream_children(
        &self,
        tree: &mut EntityTree,
        parent: u32,
        chosen: &[(u32, usize)],
        buf: &mut EmitBuffer,
    ) {
        let room = self.inner.limit - DATAGRAM_HEADER.len() - BATCH_OVERHEAD;
        let c = &self.inner.counters;
        let mut batch: Vec<u32> = Vec::new();
        let mut used = 0;
        for &(child, len) in chosen {
            if len > room {
                EmitterCounters::bump(&c.subsegments_streamed);
                self.emit_subtree(tree, child, buf);
                continue;
            }
            // +1 for the comma between children.
            if used + len + 1 > room {
                self.send_batch(tree, parent, &batch, buf);
                batch.clear();
                used = 0;
            }
            batch.push(child);
            used += len + 1;
        }
        self.send_batch(tree, parent, &batch, buf);
    }

    fn send_batch(
        &self,
        tree: &mut EntityTree,
        parent: u32,
        members: &[u32],
        buf: &mut EmitBuffer,
    ) {
        let c = &self.inner.counters;
        match members {
            [] => return,
            [only] => {
                EmitterCounters::bump(&c.subsegments_streamed);
                return self.emit_subtree(tree, *only, buf);
            }
            _ => {}
        }
        let start = members.iter().map(|&m| tree.node(m).start).min();
        let end = members.iter().filter_map(|&m| tree.node(m).end).max();
        let out = &mut buf.datagram;
        out.truncate(DATAGRAM_HEADER.len());
        out.push(b'{');
        w::key(out, "name");
        w::string(out, BATCH_NAME);
        out.push(b',');
        w::key(out, "id");
        w::hex_id(out, &SegmentId::random().to_hex());
        out.push(b',');
        w::key(out, "trace_id");
        w::trace_id(out, &tree.trace_id);
        out.push(b',');
        w::key(out, "parent_id");
        w::hex_id(out, &tree.node(parent).id.to_hex());
        out.extend_from_slice(b",\"type\":\"subsegment\",");
        w::key(out, "start_time");
        w::timestamp(out, start.unwrap_or(Timestamp::from_micros(0)));
        out.push(b',');
        w::key(out, "end_time");
        w::timestamp(out, end.or(start).unwrap_or(Timestamp::from_micros(0)));
        out.extend_from_slice(b",\"subsegments\":[");
        for (k, &m) in members.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            write_embedded(tree, m, out);
        }
        out.extend_from_slice(b"]}");
        if out.len() > self.inner.limit {
            // The sizes came from the parent's document, written the same way; this cannot
            // happen, but if it did, each member still goes out on its own.
            for &m in members {
                EmitterCounters::bump(&c.subsegments_streamed);
                self.emit_subtree(tree, m, buf);
            }
            return;
        }
        EmitterCounters::bump(&c.batch_documents);
        c.subsegments_streamed
            .fetch_add(members.len() as u64, std::sync::atomic::Ordering::Relaxed);
        self.inner.sink.send(&buf.datagram, c);
        for &m in members {
            tree.node_mut(m).emission = Emission::Sent;
        }
    }
}
