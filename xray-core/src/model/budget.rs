//! The per-entity byte budget and the metadata depth limit.
//!
//! One (sub)segment can never be sent larger than a datagram (64 000 bytes), so holding more
//! than a few times that only costs memory and time. The budget counts what the entity's
//! entries hold: annotation keys and values, metadata namespaces, keys and serialised values,
//! and the cause (exception types, messages and stack frames, paths, precursor ids). An entry
//! that would take the entity over it is refused ([`RecordError::OverBudget`]), counted in
//! [`RecordCounts::entries_over_budget`], and the entity is marked with the metadata
//! `xray_sdk.entries_over_budget: N`. Replacing an entry with one no larger always succeeds.

use crate::annotation::RecordError;

use super::RecordCounts;
use super::entity::Entity;

/// The most bytes of annotations, metadata and cause one entity holds (256 KiB).
///
/// ```
/// use xray_core::{RecordError, TraceId, model::{EntityTree, Timestamp, MAX_ENTITY_BYTES}};
///
/// let mut tree = EntityTree::new(TraceId::random());
/// let root = tree.begin_segment("api", None, Timestamp::from_micros(1));
/// let big = "x".repeat(MAX_ENTITY_BYTES);
/// let mut e = tree.entity_mut(root);
/// assert_eq!(e.put_metadata("app", "big", &big).unwrap_err(), RecordError::OverBudget);
/// assert!(e.put_metadata("app", "small", &1).is_ok());
/// assert_eq!(tree.counts().entries_over_budget, 1);
/// ```
pub const MAX_ENTITY_BYTES: usize = 256 * 1024;

/// The deepest a metadata value nests (arrays and objects); deeper parts are replaced by
/// the string `"xray_sdk: cut, nested deeper than 32 levels"`, so every document parses with
/// serde_json's default recursion limit (128) even under the deepest subsegment tree.
///
/// ```
/// use xray_core::{TraceId, model::{EntityTree, Timestamp, MAX_METADATA_DEPTH}};
///
/// let mut value = serde_json::json!(1);
/// for _ in 0..100 {
///     value = serde_json::json!([value]);
/// }
/// let mut tree = EntityTree::new(TraceId::random());
/// let root = tree.begin_segment("api", None, Timestamp::from_micros(1));
/// tree.entity_mut(root).put_metadata("app", "deep", &value).unwrap();
/// tree.end(root, Timestamp::from_micros(2));
/// let mut out = Vec::new();
/// xray_core::wire::write_document(&tree, root, &mut out);
/// assert!(serde_json::from_slice::<serde_json::Value>(&out).is_ok());
/// assert_eq!(tree.counts().metadata_depth_cut, 1);
/// # assert_eq!(MAX_METADATA_DEPTH, 32);
/// ```
pub const MAX_METADATA_DEPTH: usize = 32;

/// The marker string that replaces a metadata value nested too deep, as JSON.
pub(crate) const DEPTH_MARKER: &[u8] = b"\"xray_sdk: cut, nested deeper than 32 levels\"";

/// Bytes an annotation's non-string value is charged (what its JSON text takes at most).
pub(crate) const SCALAR_BYTES: usize = 20;

impl Entity {
    /// Takes the entity from holding `release` bytes of an entry to holding `add` instead, or
    /// refuses (counting and marking the refusal) when that would exceed the budget.
    pub(crate) fn charge(
        &mut self,
        counts: &mut RecordCounts,
        add: usize,
        release: usize,
    ) -> Result<(), RecordError> {
        let next = self.bytes.saturating_sub(release) + add;
        if add > release && next > MAX_ENTITY_BYTES {
            counts.entries_over_budget += 1;
            self.over_budget += 1;
            return Err(RecordError::OverBudget);
        }
        self.bytes = next;
        Ok(())
    }
}
