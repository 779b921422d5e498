//! OpenTelemetry out: the same entity trees as OTLP spans, over Lambda's UDP endpoint
//! (`T1S` / `T1U` + base64 protobuf, as the AWS Distro for OpenTelemetry sends) or OTLP/HTTP.
//!
//! Chosen in configuration ([`crate::Output`], `XRAY_RS_OUTPUT=otlp-udp|otlp-http`); the
//! macros and the recording API do not change. The protobuf is written by hand straight from
//! the tree into reused buffers, so a sampled invocation allocates nothing after warm-up, as
//! with X-Ray documents.
//!
//! # Mapping
//!
//! | X-Ray | OTLP |
//! |---|---|
//! | trace id `1-5759e988-bd862e3fe1be46a994272793` | `trace_id` bytes `5759e988bd862e3fe1be46a994272793` |
//! | entity id | `span_id` (same 8 bytes) |
//! | parent entity, or the upstream `Parent` for a tree's top entity | `parent_span_id` |
//! | `name` | `name` |
//! | segment, or a tree's top entity (the Lambda handler) | kind `SERVER` |
//! | namespace `aws` / `remote` | kind `CLIENT` |
//! | anything else | kind `INTERNAL` |
//! | `start_time`, `end_time` | `start_time_unix_nano`, `end_time_unix_nano` |
//! | still open when sent | end = start, `aws.xray.in_progress = true` |
//! | `error` or `fault` | status `ERROR`, message = first exception's message |
//! | `throttle` | `aws.xray.throttle = true` |
//! | `cause` exceptions | events `exception` (`exception.type`, `exception.message`, `exception.stacktrace`); `error.type` = first type |
//! | annotations | attributes of the same key and type (`u64` above `i64::MAX` as double), listed in `aws.xray.annotations` so the collector indexes them |
//! | annotation `ColdStart` | also `faas.coldstart` |
//! | metadata `ns` / `key` | `aws.xray.metadata.<ns>.<key>` = the JSON text |
//! | `http.request.method`, `url`, `user_agent`, `client_ip` | `http.request.method`, `url.full`, `user_agent.original`, `client.address` |
//! | `http.response.status`, `content_length` | `http.response.status_code`, `http.response.body.size` |
//! | `aws.operation` (with the entity name as service) | `rpc.system = "aws-api"`, `rpc.service`, `rpc.method` |
//! | `aws.request_id`, `region`, `account_id`, `queue_url`, `table_name` | `aws.request_id`, `cloud.region`, `cloud.account.id`, `aws.sqs.queue_url`, `aws.dynamodb.table_names` |
//! | `sql.database_type`, `sanitized_query`, `user`, `url` | `db.system`, `db.query.text`, `db.user`, `server.address` |
//! | `user`, `origin`, `resource_arn` | `enduser.id`, `aws.xray.origin`, `cloud.resource_id` |
//! | the process | resource `service.name`, `cloud.provider = "aws"`, `cloud.region`, `faas.name`; scope `xray-core` |
//!
//! # Limits
//!
//! One emission is one `ExportTraceServiceRequest` when it fits the datagram limit (header,
//! prefix and base64 included). A batch that does not fit is split across requests
//! (`oversized_documents` counts the emission); a span that does not fit alone loses its
//! metadata (`documents_truncated`, `metadata_values_truncated`), then all but ids, times,
//! kind and status (`documents_minimal`), and is dropped only when even that does not fit
//! (`dropped_oversized`). Send errors are counted as for X-Ray datagrams, never raised.
//! OTLP/HTTP requests count as datagrams in [`crate::wire::EmitterStats`].

mod base64;
mod export;
mod gzip;
mod http;
mod proto;
mod span;

pub use export::{OtlpResource, Signal};
pub use span::otel_trace_id;

pub(crate) use export::{OtlpBuffers, UdpFraming, export_tree, udp_request_limit};
pub(crate) use http::HttpClient;

/// The largest OTLP/HTTP request body; larger batches are split.
pub(crate) const HTTP_REQUEST_LIMIT: usize = 4 << 20;

use crate::config::Config;
use crate::emit::EmitterCounters;
use crate::model::EntityTree;

/// The OTLP side of an emitter: the resource, and the HTTP client when posting.
#[derive(Debug)]
pub(crate) struct OtlpOutput {
    pub(crate) resource: OtlpResource,
    /// `None`: datagrams through the emitter's UDP sink.
    pub(crate) http: Option<HttpClient>,
    pub(crate) unsampled: bool,
}

impl OtlpOutput {
    /// The resource for `config`: `service.name` is `POWERTOOLS_SERVICE_NAME`, else the
    /// function name, else `service_undefined`.
    pub(crate) fn resource_for(config: &Config) -> OtlpResource {
        let o = &config.output.otlp;
        let service = if config.service_name == crate::config::SERVICE_UNDEFINED {
            o.function_name.as_deref().unwrap_or(&config.service_name)
        } else {
            &config.service_name
        };
        OtlpResource::new(service, o.region.as_deref(), o.function_name.as_deref())
    }

    /// Writes and sends `root`'s unsent subtree. `send` delivers one UDP datagram.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn emit(
        &self,
        tree: &mut EntityTree,
        root: u32,
        signal: Signal,
        datagram: &mut Vec<u8>,
        bufs: &mut OtlpBuffers,
        limit: usize,
        counters: &EmitterCounters,
        send: impl FnMut(&[u8]),
    ) {
        match &self.http {
            Some(client) => export_tree(
                tree,
                root,
                &self.resource,
                HTTP_REQUEST_LIMIT,
                bufs,
                counters,
                &mut &*client,
            ),
            None => export_tree(
                tree,
                root,
                &self.resource,
                udp_request_limit(limit),
                bufs,
                counters,
                &mut UdpFraming {
                    signal,
                    datagram,
                    send,
                },
            ),
        }
    }
}
