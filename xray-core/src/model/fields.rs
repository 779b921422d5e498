//! The optional field groups of a (sub)segment: `http`, `aws`, `sql`, `service`.
//!
//! Strings are kept as `String`s that are emptied, not freed, between uses; an empty string
//! means "absent" and is not written.

use crate::recycle::Reset;

/// `http.request` and `http.response`.
#[derive(Debug, Default)]
pub(crate) struct Http {
    pub(crate) method: String,
    pub(crate) url: String,
    pub(crate) user_agent: String,
    pub(crate) client_ip: String,
    pub(crate) x_forwarded_for: Option<bool>,
    pub(crate) traced: Option<bool>,
    pub(crate) status: Option<u16>,
    pub(crate) content_length: Option<u64>,
}

impl Http {
    pub(crate) fn has_request(&self) -> bool {
        !(self.method.is_empty()
            && self.url.is_empty()
            && self.user_agent.is_empty()
            && self.client_ip.is_empty()
            && self.x_forwarded_for.is_none()
            && self.traced.is_none())
    }

    pub(crate) fn has_response(&self) -> bool {
        self.status.is_some() || self.content_length.is_some()
    }
}

impl Reset for Http {
    fn reset(&mut self) {
        self.method.clear();
        self.url.clear();
        self.user_agent.clear();
        self.client_ip.clear();
        self.x_forwarded_for = None;
        self.traced = None;
        self.status = None;
        self.content_length = None;
    }
}

/// The `aws` object: subsegment fields for AWS calls and segment fields for the host.
#[derive(Debug, Default)]
pub(crate) struct Aws {
    pub(crate) account_id: String,
    pub(crate) operation: String,
    pub(crate) region: String,
    pub(crate) request_id: String,
    pub(crate) queue_url: String,
    pub(crate) table_name: String,
    pub(crate) ecs_container: String,
    pub(crate) ecs_container_id: String,
    pub(crate) ecs_container_arn: String,
    pub(crate) ec2_instance_id: String,
    pub(crate) ec2_availability_zone: String,
    pub(crate) ec2_instance_size: String,
    pub(crate) ec2_ami_id: String,
    pub(crate) xray_sdk: String,
    pub(crate) xray_sdk_version: String,
    pub(crate) xray_sampling_rule: String,
    /// Per-operation parameters of AWS calls.
    pub(crate) params: super::aws_params::AwsParams,
}

impl Aws {
    pub(crate) fn has_ecs(&self) -> bool {
        !(self.ecs_container.is_empty()
            && self.ecs_container_id.is_empty()
            && self.ecs_container_arn.is_empty())
    }

    pub(crate) fn has_ec2(&self) -> bool {
        !(self.ec2_instance_id.is_empty()
            && self.ec2_availability_zone.is_empty()
            && self.ec2_instance_size.is_empty()
            && self.ec2_ami_id.is_empty())
    }

    pub(crate) fn has_xray(&self) -> bool {
        !(self.xray_sdk.is_empty()
            && self.xray_sdk_version.is_empty()
            && self.xray_sampling_rule.is_empty())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.account_id.is_empty()
            && self.operation.is_empty()
            && self.region.is_empty()
            && self.request_id.is_empty()
            && self.queue_url.is_empty()
            && self.table_name.is_empty()
            && !self.has_ecs()
            && !self.has_ec2()
            && !self.has_xray()
            && self.params.is_empty()
    }
}

impl Reset for Aws {
    fn reset(&mut self) {
        for s in [
            &mut self.account_id,
            &mut self.operation,
            &mut self.region,
            &mut self.request_id,
            &mut self.queue_url,
            &mut self.table_name,
            &mut self.ecs_container,
            &mut self.ecs_container_id,
            &mut self.ecs_container_arn,
            &mut self.ec2_instance_id,
            &mut self.ec2_availability_zone,
            &mut self.ec2_instance_size,
            &mut self.ec2_ami_id,
            &mut self.xray_sdk,
            &mut self.xray_sdk_version,
            &mut self.xray_sampling_rule,
        ] {
            s.clear();
        }
        self.params.clear();
    }
}

/// How an SQL query was prepared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlPreparation {
    /// A prepared statement (`"statement"`).
    Statement,
    /// A stored procedure call (`"call"`).
    Call,
}

impl SqlPreparation {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SqlPreparation::Statement => "statement",
            SqlPreparation::Call => "call",
        }
    }
}

/// The `sql` object of a subsegment.
#[derive(Debug, Default)]
pub(crate) struct Sql {
    pub(crate) connection_string: String,
    pub(crate) url: String,
    pub(crate) sanitized_query: String,
    pub(crate) database_type: String,
    pub(crate) database_version: String,
    pub(crate) driver_version: String,
    pub(crate) user: String,
    pub(crate) preparation: Option<SqlPreparation>,
}

impl Sql {
    pub(crate) fn is_empty(&self) -> bool {
        self.connection_string.is_empty()
            && self.url.is_empty()
            && self.sanitized_query.is_empty()
            && self.database_type.is_empty()
            && self.database_version.is_empty()
            && self.driver_version.is_empty()
            && self.user.is_empty()
            && self.preparation.is_none()
    }
}

impl Reset for Sql {
    fn reset(&mut self) {
        self.connection_string.clear();
        self.url.clear();
        self.sanitized_query.clear();
        self.database_type.clear();
        self.database_version.clear();
        self.driver_version.clear();
        self.user.clear();
        self.preparation = None;
    }
}

/// The `service` object of a segment.
#[derive(Debug, Default)]
pub(crate) struct Service {
    pub(crate) version: String,
    pub(crate) runtime: String,
    pub(crate) runtime_version: String,
}

impl Service {
    pub(crate) fn is_empty(&self) -> bool {
        self.version.is_empty() && self.runtime.is_empty() && self.runtime_version.is_empty()
    }
}

impl Reset for Service {
    fn reset(&mut self) {
        self.version.clear();
        self.runtime.clear();
        self.runtime_version.clear();
    }
}

/// What a subsegment calls (the `namespace` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    /// An AWS SDK call.
    Aws,
    /// Any other downstream call.
    Remote,
    /// Local work (what the Python SDK writes for custom subsegments).
    Local,
}

impl Namespace {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Namespace::Aws => "aws",
            Namespace::Remote => "remote",
            Namespace::Local => "local",
        }
    }
}
