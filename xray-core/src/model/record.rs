//! [`EntityMut`]: setters for every documented field of a (sub)segment.

use std::fmt::Write as _;

use serde::Serialize;

use crate::annotation::{
    AnnotationValue, MAX_ANNOTATION_STRING_CHARS, RecordError, cut_chars, is_valid_annotation_key,
    is_valid_metadata_namespace,
};
use crate::id::SegmentId;

use super::cause::{MAX_CHAIN, MAX_MESSAGE_CHARS};
use super::entity::{AnnotationKind, Entity};
use super::fields::{Namespace, SqlPreparation};
use super::{EntityTree, RecordCounts};

/// The schema's general limit for string fields, in characters.
pub const MAX_STRING_CHARS: usize = 250;

/// The most stack frames kept per exception; the rest are counted in `truncated`.
pub const MAX_STACK_FRAMES: usize = 32;

/// Mutable access to one entity of an [`EntityTree`], returned by
/// [`EntityTree::entity_mut`](super::EntityTree::entity_mut).
///
/// Setters take `&str` and copy into the entity's reused buffers. Strings longer than the
/// schema allows are cut (and counted); invalid annotation keys, non-finite floats and reserved
/// metadata namespaces are refused with a [`RecordError`] (and counted).
#[derive(Debug)]
pub struct EntityMut<'a> {
    pub(crate) tree: &'a mut EntityTree,
    pub(crate) index: usize,
}

fn put_limited(dst: &mut String, src: &str, max: usize, counts: &mut RecordCounts) {
    let cut = cut_chars(src, max);
    if cut.len() != src.len() {
        counts.strings_truncated += 1;
    }
    dst.clear();
    dst.push_str(cut);
}

macro_rules! limited_setters {
    ($( $(#[$doc:meta])* $fn:ident => $($field:ident).+ ; )*) => {$(
        $(#[$doc])*
        pub fn $fn(&mut self, value: &str) -> &mut Self {
            let (node, counts) = self.parts();
            put_limited(&mut node.extras_mut().$($field).+, value, MAX_STRING_CHARS, counts);
            self
        }
    )*};
}

macro_rules! free_setters {
    ($( $(#[$doc:meta])* $fn:ident => $($field:ident).+ ; )*) => {$(
        $(#[$doc])*
        pub fn $fn(&mut self, value: &str) -> &mut Self {
            let s = &mut self.node().extras_mut().$($field).+;
            s.clear();
            s.push_str(value);
            self
        }
    )*};
}

impl EntityMut<'_> {
    fn node(&mut self) -> &mut Entity {
        let node = &mut self.tree.nodes.as_mut_slice()[self.index];
        node.extended = true;
        node
    }

    fn parts(&mut self) -> (&mut Entity, &mut RecordCounts) {
        let node = &mut self.tree.nodes.as_mut_slice()[self.index];
        node.extended = true;
        (node, &mut self.tree.counts)
    }

    /// The entity's id.
    pub fn id(&self) -> SegmentId {
        self.tree.nodes.as_slice()[self.index].id
    }

    /// Sets `namespace` (`aws`, `remote` or `local`).
    pub fn set_namespace(&mut self, ns: Namespace) -> &mut Self {
        self.node().namespace = Some(ns);
        self
    }

    /// Sets `error` (a client error, 4xx).
    pub fn set_error(&mut self, v: bool) -> &mut Self {
        self.node().error = v;
        self
    }

    /// Sets `throttle` (429).
    pub fn set_throttle(&mut self, v: bool) -> &mut Self {
        self.node().throttle = v;
        self
    }

    /// Sets `fault` (a server error, 5xx, or a failure of the code itself).
    pub fn set_fault(&mut self, v: bool) -> &mut Self {
        self.node().fault = v;
        self
    }

    /// Sets the subsegment's top-level `traced` flag.
    pub fn set_traced(&mut self, v: bool) -> &mut Self {
        self.node().traced = Some(v);
        self
    }

    /// Records an HTTP response status and sets `error` / `throttle` / `fault` from it:
    /// 5xx is a fault, 429 a throttle and an error, other 4xx an error.
    pub fn apply_http_status(&mut self, status: u16) -> &mut Self {
        let n = self.node();
        n.extras_mut().http.status = Some(status);
        match status {
            500..=599 => n.fault = true,
            429 => {
                n.throttle = true;
                n.error = true;
            }
            400..=499 => n.error = true,
            _ => {}
        }
        self
    }

    /// Sets `http.response.content_length`.
    pub fn http_content_length(&mut self, len: u64) -> &mut Self {
        self.node().extras_mut().http.content_length = Some(len);
        self
    }

    /// Sets `http.request.x_forwarded_for` (segments: the client IP came from a proxy header).
    pub fn http_x_forwarded_for(&mut self, v: bool) -> &mut Self {
        self.node().extras_mut().http.x_forwarded_for = Some(v);
        self
    }

    /// Sets `http.request.traced` (subsegments: the downstream call carries the trace header).
    pub fn http_traced(&mut self, v: bool) -> &mut Self {
        self.node().extras_mut().http.traced = Some(v);
        self
    }

    /// Sets `sql.preparation`.
    pub fn sql_preparation(&mut self, p: SqlPreparation) -> &mut Self {
        self.node().extras_mut().sql.preparation = Some(p);
        self
    }

    limited_setters! {
        /// Sets `user` (indexed; at most 250 characters).
        set_user => user;
        /// Sets `http.request.method`.
        http_method => http.method;
        /// Sets `http.request.url` (the schema allows 250 characters).
        http_url => http.url;
        /// Sets `http.request.user_agent`.
        http_user_agent => http.user_agent;
        /// Sets `http.request.client_ip`.
        http_client_ip => http.client_ip;
        /// Sets `sql.user`.
        sql_user => sql.user;
    }

    free_setters! {
        /// Sets `origin` (segments), e.g. `AWS::ECS::Container`.
        set_origin => origin;
        /// Sets `resource_arn`.
        set_resource_arn => resource_arn;
        /// Sets `service.version`.
        set_service_version => service.version;
        /// Sets `service.runtime`.
        set_service_runtime => service.runtime;
        /// Sets `service.runtime_version`.
        set_service_runtime_version => service.runtime_version;
        /// Sets `aws.account_id`.
        aws_account_id => aws.account_id;
        /// Sets `aws.operation`.
        aws_operation => aws.operation;
        /// Sets `aws.region`.
        aws_region => aws.region;
        /// Sets `aws.request_id`.
        aws_request_id => aws.request_id;
        /// Sets `aws.queue_url`.
        aws_queue_url => aws.queue_url;
        /// Sets `aws.table_name`.
        aws_table_name => aws.table_name;
        /// Sets `aws.ecs.container` (the container's host name).
        aws_ecs_container => aws.ecs_container;
        /// Sets `aws.ecs.container_id`.
        aws_ecs_container_id => aws.ecs_container_id;
        /// Sets `aws.ecs.container_arn`.
        aws_ecs_container_arn => aws.ecs_container_arn;
        /// Sets `aws.ec2.instance_id`.
        aws_ec2_instance_id => aws.ec2_instance_id;
        /// Sets `aws.ec2.availability_zone`.
        aws_ec2_availability_zone => aws.ec2_availability_zone;
        /// Sets `aws.ec2.instance_size`.
        aws_ec2_instance_size => aws.ec2_instance_size;
        /// Sets `aws.ec2.ami_id`.
        aws_ec2_ami_id => aws.ec2_ami_id;
        /// Sets `aws.xray.sdk`.
        aws_xray_sdk => aws.xray_sdk;
        /// Sets `aws.xray.sdk_version`.
        aws_xray_sdk_version => aws.xray_sdk_version;
        /// Sets `aws.xray.sampling_rule_name`.
        aws_sampling_rule_name => aws.xray_sampling_rule;
        /// Sets `sql.connection_string`.
        sql_connection_string => sql.connection_string;
        /// Sets `sql.url`.
        sql_url => sql.url;
        /// Sets `sql.sanitized_query`.
        sql_sanitized_query => sql.sanitized_query;
        /// Sets `sql.database_type`.
        sql_database_type => sql.database_type;
        /// Sets `sql.database_version`.
        sql_database_version => sql.database_version;
        /// Sets `sql.driver_version`.
        sql_driver_version => sql.driver_version;
        /// Sets `cause.working_directory`.
        set_working_directory => cause.working_directory;
    }

    /// Adds a subsegment id to `precursor_ids`.
    pub fn add_precursor(&mut self, id: SegmentId) -> &mut Self {
        self.node().extras_mut().precursor_ids.push(id);
        self
    }

    /// Adds a path to `cause.paths`.
    pub fn add_cause_path(&mut self, path: &str) -> &mut Self {
        self.node().extras_mut().cause.paths.push().push_str(path);
        self
    }

    /// Writes `cause` as a reference to an exception recorded elsewhere in the trace.
    pub fn set_cause_reference(&mut self, exception_id: SegmentId) -> &mut Self {
        self.node().extras_mut().cause.reference = Some(exception_id);
        self
    }

    /// Adds an annotation (indexed; searchable in the console).
    ///
    /// A key outside `[A-Za-z0-9_]{1,500}` or a non-finite float is refused and counted;
    /// strings are cut at 1000 characters. A repeated key replaces the earlier value.
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
        let (node, counts) = self.parts();
        let existing = node.annotations.iter().position(|a| a.key == key);
        let slot = if let Some(i) = existing {
            let a = node.annotations.get_mut(i).expect("index from position");
            a.text.clear();
            a
        } else {
            let a = node.annotations.push();
            a.key.push_str(key);
            a
        };
        slot.kind = match value {
            AnnotationValue::Str(s) => {
                put_limited(&mut slot.text, s, MAX_ANNOTATION_STRING_CHARS, counts);
                AnnotationKind::Str
            }
            AnnotationValue::Int(v) => AnnotationKind::Int(v),
            AnnotationValue::UInt(v) => AnnotationKind::UInt(v),
            AnnotationValue::Float(v) => AnnotationKind::Float(v),
            AnnotationValue::Bool(v) => AnnotationKind::Bool(v),
        };
        Ok(self)
    }

    /// Adds a metadata entry (not indexed): `value` is serialised to JSON now, straight into
    /// the tree's reused byte arena. A repeated namespace and key replaces the earlier value.
    ///
    /// Floats that are NaN or infinite become `null` (serde_json's rule), so the document stays
    /// valid JSON.
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
        let start = self.tree.meta.len();
        if serde_json::to_writer(&mut self.tree.meta, value).is_err() {
            self.tree.meta.truncate(start);
            self.tree.counts.metadata_rejected += 1;
            return Err(RecordError::Serialize);
        }
        let end = self.tree.meta.len();
        let node = self.node();
        for e in node.metadata.as_mut_slice() {
            if !e.dead && e.namespace == namespace && e.key == key {
                e.dead = true;
            }
        }
        let e = node.metadata.push();
        e.namespace.push_str(namespace);
        e.key.push_str(key);
        e.start = start as u32;
        e.end = end as u32;
        Ok(self)
    }

    /// Records an error and its `source()` chain in `cause.exceptions`, one exception per link
    /// (at most 16; further links are counted in `skipped`). Each exception names the next as
    /// its `cause`. Returns the id of the outermost exception.
    ///
    /// `type_name` labels the outermost error (the macros pass the Rust type); the links of the
    /// chain are labelled from their `Debug` form, up to the first `{`, `(` or space.
    pub fn record_error(
        &mut self,
        error: &dyn std::error::Error,
        type_name: Option<&str>,
        remote: bool,
    ) -> SegmentId {
        let mut ids = [SegmentId::NOOP; MAX_CHAIN];
        let mut depth = 0;
        let mut link: Option<&dyn std::error::Error> = Some(error);
        while let Some(e) = link {
            if depth == MAX_CHAIN {
                break;
            }
            ids[depth] = self.tree.next_id_pub();
            depth += 1;
            link = e.source();
        }
        let mut skipped = 0u32;
        while let Some(e) = link {
            skipped += 1;
            link = e.source();
        }
        let (node, counts) = self.parts();
        let mut link: Option<&dyn std::error::Error> = Some(error);
        for i in 0..depth {
            let e = link.expect("chain length counted above");
            let ex = node.extras_mut().cause.exceptions.push();
            ex.id = ids[i];
            ex.remote = remote;
            let _ = write!(ex.message, "{e}");
            if ex.message.chars().count() > MAX_MESSAGE_CHARS {
                let keep = cut_chars(&ex.message, MAX_MESSAGE_CHARS).len();
                ex.message.truncate(keep);
                counts.strings_truncated += 1;
            }
            match (i, type_name) {
                (0, Some(t)) => ex.type_name.push_str(t),
                _ => debug_type_label(e, &mut ex.type_name),
            }
            if i + 1 < depth {
                ex.cause = Some(ids[i + 1]);
            } else if skipped > 0 {
                ex.skipped = skipped;
            }
            link = e.source();
        }
        ids[0]
    }

    /// Adds one exception to `cause.exceptions` and returns its id; use
    /// [`EntityMut::add_stack_frame`] to give it a stack.
    pub fn add_exception(&mut self, type_name: &str, message: &str, remote: bool) -> SegmentId {
        let id = self.tree.next_id_pub();
        let (node, counts) = self.parts();
        let ex = node.extras_mut().cause.exceptions.push();
        ex.id = id;
        ex.type_name.push_str(type_name);
        put_limited(&mut ex.message, message, MAX_MESSAGE_CHARS, counts);
        ex.remote = remote;
        id
    }

    /// Adds a frame to the stack of the exception `exception` (from [`EntityMut::add_exception`]
    /// or [`EntityMut::record_error`]). Frames beyond 32 are counted in `truncated`.
    pub fn add_stack_frame(
        &mut self,
        exception: SegmentId,
        path: &str,
        line: Option<u32>,
        label: &str,
    ) -> &mut Self {
        let node = self.node();
        let found = node
            .extras_mut()
            .cause
            .exceptions
            .as_mut_slice()
            .iter_mut()
            .find(|e| e.id == exception);
        if let Some(ex) = found {
            if ex.stack.len() >= MAX_STACK_FRAMES {
                ex.truncated += 1;
            } else {
                let f = ex.stack.push();
                f.path.push_str(path);
                f.line = line;
                f.label.push_str(label);
            }
        }
        self
    }
}

impl EntityTree {
    pub(crate) fn next_id_pub(&mut self) -> SegmentId {
        self.next_id()
    }
}

/// Labels an error from its `Debug` form: `ParseIntError { kind: .. }` gives `ParseIntError`.
fn debug_type_label(e: &dyn std::error::Error, out: &mut String) {
    struct Label<'a> {
        out: &'a mut String,
        done: bool,
    }
    impl std::fmt::Write for Label<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            if self.done {
                return Err(std::fmt::Error);
            }
            for c in s.chars() {
                if c == '{' || c == '(' || c == ' ' || c == '"' || self.out.len() >= 100 {
                    self.done = true;
                    return Err(std::fmt::Error);
                }
                self.out.push(c);
            }
            Ok(())
        }
    }
    let mut l = Label { out, done: false };
    let _ = write!(l, "{e:?}");
    if out.is_empty() {
        out.push_str("Error");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Timestamp, TraceId};

    #[derive(Debug)]
    struct Outer(std::num::ParseIntError);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("could not read the count")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    fn tree() -> (EntityTree, crate::EntityIndex) {
        let mut t = EntityTree::new(TraceId::NOOP);
        t.use_sequential_ids(1);
        let r = t.begin_segment("r", None, Timestamp::default());
        (t, r)
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
    }

    #[test]
    fn metadata_is_serialised_and_replaced() {
        let (mut t, r) = tree();
        let mut e = t.entity_mut(r);
        e.put_metadata("app", "items", &[1, 2]).unwrap();
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
        let node = t.node(r.0);
        let live: Vec<_> = node
            .metadata
            .iter()
            .filter(|m| !m.dead)
            .map(|m| std::str::from_utf8(&t.meta[m.start as usize..m.end as usize]).unwrap())
            .collect();
        assert_eq!(live, ["\"two\"", "null"]);
        assert_eq!(t.counts().metadata_rejected, 2);
    }

    #[test]
    fn error_chain_becomes_linked_exceptions() {
        let (mut t, r) = tree();
        let err = Outer("x".parse::<u8>().unwrap_err());
        let id = t.entity_mut(r).record_error(&err, Some("my::Outer"), false);
        let ex = t
            .node(r.0)
            .extras
            .as_ref()
            .unwrap()
            .cause
            .exceptions
            .as_slice();
        assert_eq!(ex.len(), 2);
        assert_eq!(ex[0].id, id);
        assert_eq!(ex[0].type_name, "my::Outer");
        assert_eq!(ex[0].message, "could not read the count");
        assert_eq!(ex[0].cause, Some(ex[1].id));
        assert_eq!(ex[1].type_name, "ParseIntError");
        assert_eq!(ex[1].message, "invalid digit found in string");
    }

    #[test]
    fn stack_frames_are_capped() {
        let (mut t, r) = tree();
        let mut e = t.entity_mut(r);
        let id = e.add_exception("Panic", "boom", false);
        for i in 0..40 {
            e.add_stack_frame(id, "src/lib.rs", Some(i), "f");
        }
        let ex = &t
            .node(r.0)
            .extras
            .as_ref()
            .unwrap()
            .cause
            .exceptions
            .as_slice()[0];
        assert_eq!(ex.stack.len(), MAX_STACK_FRAMES);
        assert_eq!(ex.truncated, 8);
    }
}
