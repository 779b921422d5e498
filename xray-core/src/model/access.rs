//! What the runtime's recording layer asks of a tree beyond the public API: whether an
//! entity's document is final, and the counts of how entities ended.

use super::{Emission, EntityIndex, EntityTree, NONE};

impl EntityTree {
    /// True when `entity` has gone out for good: it, or the closed ancestor whose document
    /// carried it, was sent. An entity still open, or closed under a parent still open, is not
    /// final (it will be sent when it or its parent closes).
    pub(crate) fn is_final(&self, entity: EntityIndex) -> bool {
        let mut i = entity.0;
        while i != NONE {
            let Some(node) = self.nodes.as_slice().get(i as usize) else {
                return true;
            };
            if node.emission == Emission::Sent {
                return true;
            }
            if node.end.is_none() {
                return false;
            }
            i = node.parent;
        }
        false
    }

    /// True when `entity` went out as its own document.
    pub(crate) fn is_sent(&self, entity: EntityIndex) -> bool {
        self.nodes
            .as_slice()
            .get(entity.0 as usize)
            .is_none_or(|n| n.emission == Emission::Sent)
    }

    /// Makes `entity` sendable again (after an early `in_progress` send).
    pub(crate) fn mark_pending(&mut self, entity: EntityIndex) {
        if let Some(n) = self.nodes.get_mut(entity.0 as usize) {
            n.emission = Emission::Pending;
        }
    }

    /// Counts a subsegment not opened because the invocation holds the most entities.
    pub(crate) fn count_over_limit(&mut self) {
        self.counts.subsegments_over_limit += 1;
    }

    /// Counts an entity closed by a panic (`true`) or dropped before completion.
    pub(crate) fn count_ending(&mut self, panicked: bool) {
        if panicked {
            self.counts.spans_panicked += 1;
        } else {
            self.counts.spans_dropped_before_completion += 1;
        }
    }
}
