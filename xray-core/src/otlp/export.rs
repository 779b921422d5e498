//! Packs a finished entity tree into `ExportTraceServiceRequest`s that fit the limit, and
//! frames them for the UDP endpoint (`T1S` / `T1U` + base64) or an OTLP/HTTP body.

use std::sync::atomic::Ordering::Relaxed;

use super::base64;
use super::proto::{self, begin, end};
use super::span::{Detail, kv_str, write_span};
use crate::emit::{DATAGRAM_HEADER, EmitterCounters};
use crate::model::{Emission, EntityTree};

/// Which UDP signal prefix a request goes out under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// `T1S`: spans of a sampled trace.
    Sampled,
    /// `T1U`: spans of an unsampled trace, for Transaction Search.
    Unsampled,
}

impl Signal {
    fn prefix(self) -> &'static [u8; 3] {
        match self {
            Signal::Sampled => b"T1S",
            Signal::Unsampled => b"T1U",
        }
    }
}

/// What every request carries about the process: the OTLP `Resource`.
///
/// ```
/// let r = xray_core::wire::OtlpResource::new("orders", Some("eu-west-1"), Some("orders-fn"));
/// assert_eq!(r.service_name(), "orders");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpResource {
    service_name: String,
    /// The `Resource` message, encoded once.
    encoded: Vec<u8>,
}

impl OtlpResource {
    /// A resource with `service.name`, `cloud.provider = "aws"`, and `cloud.region` and
    /// `faas.name` when known.
    pub fn new(service_name: &str, region: Option<&str>, function_name: Option<&str>) -> Self {
        let mut encoded = Vec::new();
        kv_str(&mut encoded, 1, &["service.name"], service_name);
        kv_str(&mut encoded, 1, &["cloud.provider"], "aws");
        if let Some(r) = region.filter(|r| !r.is_empty()) {
            kv_str(&mut encoded, 1, &["cloud.region"], r);
        }
        if let Some(f) = function_name.filter(|f| !f.is_empty()) {
            kv_str(&mut encoded, 1, &["faas.name"], f);
        }
        OtlpResource {
            service_name: service_name.to_owned(),
            encoded,
        }
    }

    /// The `service.name` attribute.
    pub fn service_name(&self) -> &str {
        &self.service_name
    }
}

/// Buffers the OTLP writer reuses across emissions (kept in [`crate::wire::EmitBuffer`]).
#[derive(Debug, Default)]
pub(crate) struct OtlpBuffers {
    proto: Vec<u8>,
    stack: Vec<u32>,
}

/// Bytes closing a request can add: the two open length prefixes grow from one byte to at
/// most three each.
const CLOSE_SLACK: usize = 4;

/// Marks of the open messages of a request being written.
struct Open {
    resource_spans: usize,
    scope_spans: usize,
    spans: usize,
}

fn open_request(resource: &OtlpResource, proto: &mut Vec<u8>) -> Open {
    proto.clear();
    let resource_spans = begin(proto, 1);
    let r = begin(proto, 1);
    proto.extend_from_slice(&resource.encoded);
    end(proto, r);
    let scope_spans = begin(proto, 2);
    let scope = begin(proto, 1);
    proto::bytes(proto, 1, b"xray-core");
    proto::bytes(proto, 2, env!("CARGO_PKG_VERSION").as_bytes());
    end(proto, scope);
    Open {
        resource_spans,
        scope_spans,
        spans: 0,
    }
}

fn close_request(open: &Open, proto: &mut Vec<u8>) {
    end(proto, open.scope_spans);
    end(proto, open.resource_spans);
}

/// Where finished requests go.
pub(crate) trait Deliver {
    /// Sends one serialized `ExportTraceServiceRequest`; failures are counted, never raised.
    fn deliver(&mut self, request: &[u8], counters: &EmitterCounters);
}

/// Frames requests as UDP datagrams: header line, signal prefix, base64.
pub(crate) struct UdpFraming<'a, F: FnMut(&[u8])> {
    pub(crate) signal: Signal,
    pub(crate) datagram: &'a mut Vec<u8>,
    pub(crate) send: F,
}

impl<F: FnMut(&[u8])> Deliver for UdpFraming<'_, F> {
    fn deliver(&mut self, request: &[u8], _: &EmitterCounters) {
        self.datagram.clear();
        self.datagram.extend_from_slice(DATAGRAM_HEADER);
        self.datagram.extend_from_slice(self.signal.prefix());
        base64::encode_into(request, self.datagram);
        (self.send)(self.datagram);
    }
}

/// The largest serialized request whose datagram fits in `datagram_limit` bytes.
pub(crate) fn udp_request_limit(datagram_limit: usize) -> usize {
    base64::max_input_for(datagram_limit.saturating_sub(DATAGRAM_HEADER.len() + 3))
}

/// Writes `root` and its closed, unsent descendants as spans, in requests of at most
/// `request_limit` bytes, handing each to `out`. An entity still open is left for the
/// emission that follows its end. Every span written is marked sent.
pub(crate) fn export_tree(
    tree: &mut EntityTree,
    root: u32,
    resource: &OtlpResource,
    request_limit: usize,
    bufs: &mut OtlpBuffers,
    counters: &EmitterCounters,
    out: &mut dyn Deliver,
) {
    let OtlpBuffers { proto, stack } = bufs;
    if proto.capacity() == 0 {
        proto.reserve(request_limit.min(1 << 20) + 1024);
    }
    let mut open = open_request(resource, proto);
    let mut split = false;
    stack.clear();
    stack.push(root);
    while let Some(i) = stack.pop() {
        let node = tree.node(i);
        if node.end.is_none() {
            continue;
        }
        // Children in reverse so they pop (and go out) in the order they were opened.
        let from = stack.len();
        stack.extend(tree.children(i));
        stack[from..].reverse();
        if node.emission == Emission::Sent {
            continue;
        }
        let mut detail = Detail::Full;
        loop {
            let before = proto.len();
            write_span(tree, i, 2, detail, proto);
            if proto.len() + CLOSE_SLACK <= request_limit {
                open.spans += 1;
                break;
            }
            proto.truncate(before);
            if open.spans > 0 {
                // The batch is full: send it and start the next one with this span.
                if !split {
                    split = true;
                    EmitterCounters::bump(&counters.oversized_documents);
                }
                close_request(&open, proto);
                out.deliver(proto, counters);
                open = open_request(resource, proto);
                continue;
            }
            // Alone and still too large: drop metadata, then everything but the essentials.
            detail = match detail {
                Detail::Full => {
                    let n = tree.node(i).metadata.entries.len();
                    EmitterCounters::bump(&counters.documents_truncated);
                    counters
                        .metadata_values_truncated
                        .fetch_add(n as u64, Relaxed);
                    Detail::NoMetadata
                }
                Detail::NoMetadata => {
                    EmitterCounters::bump(&counters.documents_minimal);
                    Detail::Minimal
                }
                Detail::Minimal => {
                    EmitterCounters::bump(&counters.dropped_oversized);
                    break;
                }
            };
        }
        tree.node_mut(i).emission = Emission::Sent;
    }
    if open.spans > 0 {
        close_request(&open, proto);
        out.deliver(proto, counters);
    }
}
