//! How a tree becomes datagrams when it does not fit in one: subtrees too deep for the
//! schema or too large for the limit are streamed as independent subsegments; what cannot be
//! split is cut.

use super::stats::EmitterCounters;
use super::{DATAGRAM_HEADER, EmitBuffer, Emitter, MAX_NESTING};
use crate::json::document::{WriteOptions, write_top};
use crate::model::{Emission, EntityTree};

impl Emitter {
    pub(super) fn emit_subtree(&self, tree: &mut EntityTree, i: u32, buf: &mut EmitBuffer) {
        if tree.max_depth >= tree.node(i).depth + MAX_NESTING {
            self.stream_deep(tree, i, buf);
        }
        let c = &self.inner.counters;
        let limit = self.inner.limit;
        let mut counted_oversize = false;
        loop {
            let len = Self::write(tree, i, buf);
            if len <= limit {
                break;
            }
            if !counted_oversize {
                counted_oversize = true;
                EmitterCounters::bump(&c.oversized_documents);
            }
            let Some(chosen) = choose_children(tree, &buf.spans, len - limit) else {
                return self.emit_cut(tree, i, buf);
            };
            self.stream_children(tree, i, &chosen, buf);
        }
        self.inner.sink.send(&buf.datagram, c);
        tree.node_mut(i).emission = Emission::Sent;
    }

    /// Sends, deepest first, every closed subtree that starts a multiple of [`MAX_NESTING`]
    /// levels below `i`, so no document nests deeper than that. Deepest first means each of
    /// them already has its own deep parts sent, and nothing recurses.
    fn stream_deep(&self, tree: &mut EntityTree, i: u32, buf: &mut EmitBuffer) {
        let base = tree.node(i).depth;
        let mut cuts = Vec::new();
        let mut stack = vec![i];
        while let Some(n) = stack.pop() {
            for child in tree.children(n) {
                if tree.node(child).emission == Emission::Sent {
                    continue;
                }
                let rel = tree.node(child).depth - base;
                if rel.is_multiple_of(MAX_NESTING) && tree.subtree_closed(child) {
                    cuts.push(child);
                }
                stack.push(child);
            }
        }
        cuts.sort_by_key(|&n| std::cmp::Reverse(tree.node(n).depth));
        for n in cuts {
            EmitterCounters::bump(&self.inner.counters.subsegments_streamed);
            // Deeper cuts are already sent, so this does not come back here.
            self.emit_subtree(tree, n, buf);
        }
    }

    /// The entity does not fit even without its streamable children: cut metadata values, then
    /// fall back to the minimal form.
    fn emit_cut(&self, tree: &mut EntityTree, i: u32, buf: &mut EmitBuffer) {
        let c = &self.inner.counters;
        let limit = self.inner.limit;
        for value_limit in [16 * 1024, 4 * 1024, 1024, 0] {
            let mut opts = WriteOptions {
                metadata_value_limit: Some(value_limit),
                ..WriteOptions::default()
            };
            buf.datagram.truncate(DATAGRAM_HEADER.len());
            write_top(tree, i, &mut buf.datagram, &mut opts);
            if buf.datagram.len() <= limit {
                EmitterCounters::bump(&c.documents_truncated);
                c.metadata_values_truncated.fetch_add(
                    u64::from(opts.truncated_values),
                    std::sync::atomic::Ordering::Relaxed,
                );
                self.inner.sink.send(&buf.datagram, c);
                tree.node_mut(i).emission = Emission::Sent;
                return;
            }
        }
        buf.datagram.truncate(DATAGRAM_HEADER.len());
        crate::json::minimal::write_minimal(tree, i, &mut buf.datagram);
        if buf.datagram.len() <= limit {
            EmitterCounters::bump(&c.documents_minimal);
            self.inner.sink.send(&buf.datagram, c);
        } else {
            EmitterCounters::bump(&c.dropped_oversized);
        }
        tree.node_mut(i).emission = Emission::Sent;
    }

    /// Writes the datagram for `i` into `buf`, recording child spans; returns its length.
    fn write(tree: &EntityTree, i: u32, buf: &mut EmitBuffer) -> usize {
        buf.datagram.truncate(DATAGRAM_HEADER.len());
        buf.spans.clear();
        let mut opts = WriteOptions {
            metadata_value_limit: None,
            child_spans: Some(&mut buf.spans),
            truncated_values: 0,
        };
        write_top(tree, i, &mut buf.datagram, &mut opts);
        buf.datagram.len()
    }
}

/// Picks closed child subtrees, largest first, whose removal sheds at least `excess` bytes;
/// with their embedded sizes. Returns `None` when no closed child can be streamed.
fn choose_children(
    tree: &EntityTree,
    spans: &[(u32, usize)],
    excess: usize,
) -> Option<Vec<(u32, usize)>> {
    let mut candidates: Vec<(u32, usize)> = spans
        .iter()
        .copied()
        .filter(|&(c, _)| tree.subtree_closed(c))
        .collect();
    if candidates.is_empty() {
        return None;
    }
    candidates.sort_by_key(|&(_, len)| std::cmp::Reverse(len));
    let mut shed = 0;
    let mut chosen = Vec::new();
    for (c, len) in candidates {
        chosen.push((c, len));
        // +1 for the comma that goes with the child.
        shed += len + 1;
        if shed >= excess {
            break;
        }
    }
    Some(chosen)
}
