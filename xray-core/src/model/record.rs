//! [`EntityMut`]: setters for every documented field of a (sub)segment.

use crate::annotation::cut_chars;
use crate::id::SegmentId;

use super::entity::Entity;
use super::fields::{Namespace, SqlPreparation};
use super::{EntityTree, RecordCounts};

/// The schema's general limit for string fields, in characters.
pub const MAX_STRING_CHARS: usize = 250;

/// The most stack frames kept per exception; the rest are counted in `truncated`.
pub const MAX_STACK_FRAMES: usize = 32;

/// What a precursor id is charged against the budget (its JSON text).
const PRECURSOR_BYTES: usize = 19;

/// Mutable access to one entity of an [`EntityTree`], returned by
/// [`EntityTree::entity_mut`](super::EntityTree::entity_mut).
///
/// Setters take `&str` and copy into the entity's reused buffers. Strings longer than the
/// schema allows are cut (and counted); invalid annotation keys, non-finite floats and reserved
/// metadata namespaces are refused with a [`RecordError`](crate::RecordError) (and counted).
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
    pub(super) fn node(&mut self) -> &mut Entity {
        let node = &mut self.tree.nodes.as_mut_slice()[self.index];
        node.extended = true;
        node
    }

    pub(super) fn parts(&mut self) -> (&mut Entity, &mut RecordCounts) {
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

    /// Adds a subsegment id to `precursor_ids` (refused and counted beyond the entity's byte
    /// budget).
    pub fn add_precursor(&mut self, id: SegmentId) -> &mut Self {
        let (node, counts) = self.parts();
        if node.charge(counts, PRECURSOR_BYTES, 0).is_ok() {
            node.extras_mut().precursor_ids.push(id);
        }
        self
    }

    /// Adds a path to `cause.paths` (refused and counted beyond the entity's byte budget).
    pub fn add_cause_path(&mut self, path: &str) -> &mut Self {
        let (node, counts) = self.parts();
        if node.charge(counts, path.len() + 2, 0).is_ok() {
            node.extras_mut().cause.paths.push().push_str(path);
        }
        self
    }

    /// Writes `cause` as a reference to an exception recorded elsewhere in the trace.
    pub fn set_cause_reference(&mut self, exception_id: SegmentId) -> &mut Self {
        self.node().extras_mut().cause.reference = Some(exception_id);
        self
    }
}
