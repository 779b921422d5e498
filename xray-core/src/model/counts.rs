//! [`RecordCounts`]: what recording repaired, cut or refused, per tree.

/// Repairs and rejections made while recording, kept per tree and folded into the emitter's
/// counters when the tree is emitted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordCounts {
    /// Names that were repaired (bad characters, too long, empty).
    pub names_sanitized: u64,
    /// Annotations rejected for an invalid key.
    pub annotation_keys_rejected: u64,
    /// Annotations or values rejected because a float was NaN or infinite.
    pub non_finite_rejected: u64,
    /// Strings cut to their schema limit (annotation values, `http` fields, `user`, …).
    pub strings_truncated: u64,
    /// Metadata rejected (reserved namespace, or the value failed to serialise).
    pub metadata_rejected: u64,
    /// Subsegments closed by a panic unwinding through their function.
    pub spans_panicked: u64,
    /// Subsegments closed because their future was dropped before it completed.
    pub spans_dropped_before_completion: u64,
    /// Captured calls not recorded because the invocation already held the most entities.
    pub subsegments_over_limit: u64,
    /// Annotations, metadata, exceptions, stack frames, cause paths and precursor ids refused
    /// because the entity already held [`MAX_ENTITY_BYTES`](super::MAX_ENTITY_BYTES).
    pub entries_over_budget: u64,
    /// Metadata values nested deeper than [`MAX_METADATA_DEPTH`](super::MAX_METADATA_DEPTH)
    /// levels, replaced by a marker string.
    pub metadata_depth_cut: u64,
}

impl RecordCounts {
    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &RecordCounts) {
        self.names_sanitized += other.names_sanitized;
        self.annotation_keys_rejected += other.annotation_keys_rejected;
        self.non_finite_rejected += other.non_finite_rejected;
        self.strings_truncated += other.strings_truncated;
        self.metadata_rejected += other.metadata_rejected;
        self.spans_panicked += other.spans_panicked;
        self.spans_dropped_before_completion += other.spans_dropped_before_completion;
        self.subsegments_over_limit += other.subsegments_over_limit;
        self.entries_over_budget += other.entries_over_budget;
        self.metadata_depth_cut += other.metadata_depth_cut;
    }
}
