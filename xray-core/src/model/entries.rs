//! Annotations and metadata: [`EntityMut::put_annotation`] and [`EntityMut::put_metadata`].
//!
//! Both find an existing key in O(1) (see [`Indexed`](super::indexed::Indexed)), replace in
//! place, and charge the entity's byte budget (see [`MAX_ENTITY_BYTES`](super::MAX_ENTITY_BYTES)).

use serde::Serialize;

use crate::annotation::{
    AnnotationValue, MAX_ANNOTATION_STRING_CHARS, RecordError, cut_chars, is_valid_annotation_key,
    is_valid_metadata_namespace,
};
use crate::json::depth::cut_deep_values;

use super::budget::{DEPTH_MARKER, MAX_METADATA_DEPTH, SCALAR_BYTES};
use super::entity::{Annotation, AnnotationKind};
use super::record::EntityMut;

impl EntityMut<'_> {
    /// Adds an annotation (indexed; searchable in the console).
    ///
    /// A key outside `[A-Za-z0-9_]{1,500}` or a non-finite float is refused and counted;
    /// strings are cut at 1000 characters. A repeated key replaces the earlier value. An
    /// annotation that would take the entity over its byte budget is refused
    /// ([`RecordError::OverBudget`]) and counted.
    pub fn put_annotation<'v>(
        &mut self,
        key: &str,
        value: impl Into<AnnotationValue<'v>>,
    ) -> Result<&mut Self, RecordError> {
        let value = value.into();
        if !is_valid_annotation_key(key) {
            self.tree.counts.annotation_keys_rejected += 1;
            return Err(RecordError::InvalidAnnotationKey);
        }
        if let AnnotationValue::Float(f) = value
            && !f.is_finite()
        {
            self.tree.counts.non_finite_rejected += 1;
            return Err(RecordError::NonFiniteValue);
        }
        let text = match value {
            AnnotationValue::Str(s) => cut_chars(s, MAX_ANNOTATION_STRING_CHARS),
            _ => "",
        };
        let (node, counts) = self.parts();
        let anns = &node.annotations;
        let existing = anns.find(key, |a| a.key == key);
        let old = existing.map_or(0, |i| annotation_bytes(&anns.as_slice()[i]));
        let new = key.len()
            + if text.is_empty() {
                SCALAR_BYTES
            } else {
                text.len()
            };
        node.charge(counts, new, old)?;
        if let AnnotationValue::Str(s) = value
            && text.len() != s.len()
        {
            counts.strings_truncated += 1;
        }
        let kind = match value {
            AnnotationValue::Str(_) => AnnotationKind::Str,
            AnnotationValue::Int(v) => AnnotationKind::Int(v),
            AnnotationValue::UInt(v) => AnnotationKind::UInt(v),
            AnnotationValue::Float(v) => AnnotationKind::Float(v),
            AnnotationValue::Bool(v) => AnnotationKind::Bool(v),
        };
        let fill = |a: &mut Annotation| {
            a.kind = kind;
            a.text.clear();
            a.text.push_str(text);
        };
        match existing {
            Some(i) => fill(node.annotations.get_mut(i).expect("found above")),
            None => {
                node.annotations.push_with(|a| {
                    a.key.push_str(key);
                    fill(a);
                });
            }
        }
        Ok(self)
    }

    /// Adds a metadata entry (not indexed): `value` is serialised to JSON now, straight into
    /// the tree's reused byte arena. A repeated namespace and key replaces the earlier value.
    ///
    /// Floats that are NaN or infinite become `null` (serde_json's rule), so the document stays
    /// valid JSON. Arrays and objects nested deeper than
    /// [`MAX_METADATA_DEPTH`](crate::model::MAX_METADATA_DEPTH) levels are replaced by a marker
    /// string (counted). An entry that would take the entity over its byte budget is refused
    /// ([`RecordError::OverBudget`]) and counted.
    pub fn put_metadata<T: Serialize + ?Sized>(
        &mut self,
        namespace: &str,
        key: &str,
        value: &T,
    ) -> Result<&mut Self, RecordError> {
        if !is_valid_metadata_namespace(namespace) {
            self.tree.counts.metadata_rejected += 1;
            return Err(RecordError::ReservedNamespace);
        }
        let tree = &mut *self.tree;
        let arena = &mut tree.meta.bytes;
        let start = arena.len();
        if serde_json::to_writer(&mut *arena, value).is_err() {
            arena.truncate(start);
            tree.counts.metadata_rejected += 1;
            return Err(RecordError::Serialize);
        }
        tree.counts.metadata_depth_cut +=
            cut_deep_values(arena, start, MAX_METADATA_DEPTH, DEPTH_MARKER);
        let value_len = arena.len() - start;
        let node = &mut tree.nodes.as_mut_slice()[self.index];
        node.extended = true;
        let existing = node.metadata.find(namespace, key);
        let (add, release) = match existing {
            Some(i) => (value_len, node.metadata.entries.as_slice()[i].len()),
            None => {
                let ns = if node.metadata.namespace(namespace).is_some() {
                    0
                } else {
                    namespace.len()
                };
                (ns + key.len() + value_len, 0)
            }
        };
        if let Err(e) = node.charge(&mut tree.counts, add, release) {
            tree.meta.bytes.truncate(start);
            return Err(e);
        }
        match existing {
            Some(i) => {
                let entry = node.metadata.entries.get_mut(i).expect("found above");
                tree.meta.replace(entry, start);
            }
            None => node
                .metadata
                .insert(namespace, key, start, tree.meta.bytes.len()),
        }
        if tree.meta.needs_compaction() {
            tree.meta.compact(tree.nodes.as_mut_slice());
        }
        Ok(self)
    }
}

/// What an annotation is charged against the budget.
fn annotation_bytes(a: &Annotation) -> usize {
    a.key.len()
        + match a.kind {
            AnnotationKind::Str if !a.text.is_empty() => a.text.len(),
            _ => SCALAR_BYTES,
        }
}

#[cfg(test)]
mod tests {
    use crate::annotation::{AnnotationValue, RecordError};
    use crate::model::{EntityIndex, EntityTree, MAX_ENTITY_BYTES};
    use crate::{TraceId, model::Timestamp};

    fn tree() -> (EntityTree, EntityIndex) {
        let mut t = EntityTree::new(TraceId::NOOP);
        t.use_sequential_ids(1);
        let r = t.begin_segment("r", None, Timestamp::default());
        (t, r)
    }

    fn live_metadata(t: &EntityTree, r: EntityIndex) -> Vec<(String, String)> {
        let md = &t.node(r.0).metadata;
        md.entries
            .iter()
            .map(|m| {
                let ns = &md.namespaces.as_slice()[m.ns as usize].name;
                let v = std::str::from_utf8(t.meta.value(m)).unwrap();
                (format!("{ns}/{}", m.key), v.to_owned())
            })
            .collect()
    }

    #[test]
    fn annotations_are_checked_and_counted() {
        let (mut t, r) = tree();
        let mut e = t.entity_mut(r);
        assert!(e.put_annotation("ok_key", 1).is_ok());
        assert_eq!(
            e.put_annotation("bad-key", 1).unwrap_err(),
            RecordError::InvalidAnnotationKey
        );
        assert_eq!(
            e.put_annotation("nan", f64::NAN).unwrap_err(),
            RecordError::NonFiniteValue
        );
        assert_eq!(
            e.put_annotation("inf", f64::INFINITY).unwrap_err(),
            RecordError::NonFiniteValue
        );
        let long = "x".repeat(1500);
        e.put_annotation("long", long.as_str()).unwrap();
        e.put_annotation("ok_key", "replaced").unwrap();
        let c = t.counts();
        assert_eq!(c.annotation_keys_rejected, 1);
        assert_eq!(c.non_finite_rejected, 2);
        assert_eq!(c.strings_truncated, 1);
        let anns = &t.node(r.0).annotations;
        assert_eq!(anns.len(), 2);
        assert_eq!(anns.as_slice()[0].value(), AnnotationValue::Str("replaced"));
        assert_eq!(anns.as_slice()[1].text.len(), 1000);
        assert_eq!(t.node(r.0).bytes, "ok_key".len() + 8 + "long".len() + 1000);
    }

    #[test]
    fn metadata_is_serialised_and_replaced() {
        let (mut t, r) = tree();
        let mut e = t.entity_mut(r);
        e.put_metadata("app", "items", &[1, 2]).unwrap();
        e.put_metadata("other", "x", &1).unwrap();
        e.put_metadata("app", "items", &"two").unwrap();
        assert_eq!(
            e.put_metadata("AWS.xray", "k", &1).unwrap_err(),
            RecordError::ReservedNamespace
        );
        let mut bad = std::collections::HashMap::new();
        bad.insert((1, 2), 3);
        assert_eq!(
            e.put_metadata("app", "bad", &bad).unwrap_err(),
            RecordError::Serialize
        );
        e.put_metadata("app", "nan", &f64::NAN).unwrap();
        let got = live_metadata(&t, r);
        let want = [
            ("app/items", "\"two\""),
            ("other/x", "1"),
            ("app/nan", "null"),
        ];
        assert_eq!(got.len(), want.len());
        for ((k, v), (wk, wv)) in got.iter().zip(want) {
            assert_eq!((k.as_str(), v.as_str()), (wk, wv));
        }
        assert_eq!(t.counts().metadata_rejected, 2);
        // "[1,2]" (5 bytes) was overwritten in place by "\"two\"" (5 bytes): no garbage.
        assert_eq!(t.meta.garbage(), 0);
        assert_eq!(t.meta.bytes.len(), 5 + 1 + 4);
    }

    #[test]
    fn many_keys_are_found_through_the_index() {
        let (mut t, r) = tree();
        let mut e = t.entity_mut(r);
        for n in 0..2000 {
            e.put_annotation(&format!("k{n}"), n).unwrap();
            e.put_metadata("app", &format!("m{n}"), &n).unwrap();
        }
        for n in (0..2000).step_by(7) {
            e.put_annotation(&format!("k{n}"), -1).unwrap();
            e.put_metadata("app", &format!("m{n}"), &-1).unwrap();
        }
        let node = t.node(r.0);
        assert_eq!(node.annotations.len(), 2000);
        assert_eq!(node.metadata.entries.len(), 2000);
        assert_eq!(
            node.annotations.as_slice()[7].value(),
            AnnotationValue::Int(-1)
        );
        assert_eq!(
            node.annotations.as_slice()[8].value(),
            AnnotationValue::Int(8)
        );
        let m7 = &node.metadata.entries.as_slice()[7];
        assert_eq!(t.meta.value(m7), b"-1");
    }

    #[test]
    fn overwriting_one_key_keeps_the_arena_bounded() {
        let (mut t, r) = tree();
        let mut e = t.entity_mut(r);
        e.put_metadata("app", "keep", &"first").unwrap();
        for n in 0..2000_usize {
            // Growing values cannot be overwritten in place: garbage builds and is compacted.
            let v = "v".repeat(1000 + n % 50);
            e.put_metadata("app", "hot", &v).unwrap();
        }
        assert!(t.meta.compactions > 0);
        assert!(t.meta.bytes.len() < 200 * 1024, "{}", t.meta.bytes.len());
        let got = live_metadata(&t, r);
        assert_eq!(got[0], ("app/keep".into(), "\"first\"".into()));
        assert_eq!(got[1].1.len(), 1000 + 1999 % 50 + 2);
    }

    #[test]
    fn the_budget_refuses_counts_and_allows_replacement() {
        let (mut t, r) = tree();
        let chunk = "x".repeat(60 * 1024);
        let mut e = t.entity_mut(r);
        for n in 0..4 {
            e.put_metadata("app", &format!("c{n}"), &chunk).unwrap();
        }
        assert_eq!(
            e.put_metadata("app", "c4", &chunk).unwrap_err(),
            RecordError::OverBudget
        );
        assert_eq!(
            e.put_annotation("late", chunk.as_str()).map(|_| ()),
            Ok(()),
            "an annotation is cut to 1000 characters first, and fits"
        );
        // Replacing with something no larger always fits; a smaller value frees budget.
        e.put_metadata("app", "c0", &"small").unwrap();
        e.put_metadata("app", "c4", &chunk).unwrap();
        let node = t.node(r.0);
        assert!(node.bytes <= MAX_ENTITY_BYTES);
        assert_eq!(node.over_budget, 1);
        assert_eq!(t.counts().entries_over_budget, 1);
    }
}
