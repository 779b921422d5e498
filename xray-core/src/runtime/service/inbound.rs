//! Which trace context a service request continues when it brings `X-Amzn-Trace-Id`, a W3C
//! `traceparent`, or both (the rules are in the `w3c` module docs).

use crate::id::{SegmentId, TraceId};
use crate::trace_header::{SamplingDecision, TraceHeader};
use crate::w3c;

/// The trace context a request continues, from `X-Amzn-Trace-Id` and `traceparent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Inbound {
    pub(super) root: Option<TraceId>,
    pub(super) parent: Option<SegmentId>,
    pub(super) decision: SamplingDecision,
    /// The `traceparent` is followed (alone, or naming the X-Ray header's trace), so its
    /// `tracestate` is forwarded.
    pub(super) w3c: bool,
}

impl Inbound {
    /// The X-Ray header wins; a `traceparent` of another trace is ignored (see [`crate::w3c`]).
    pub(super) fn resolve(
        header: &TraceHeader<'_>,
        traceparent: Option<w3c::TraceParent>,
    ) -> Inbound {
        let from_header = Inbound {
            root: header.root(),
            parent: header.parent(),
            decision: header.sampled(),
            w3c: false,
        };
        let Some(tp) = traceparent else {
            return from_header;
        };
        let w3c_decision = if tp.sampled {
            SamplingDecision::Sampled
        } else {
            SamplingDecision::NotSampled
        };
        match from_header.root {
            None => Inbound {
                root: Some(tp.trace_id),
                parent: Some(tp.parent_id),
                decision: w3c_decision,
                w3c: true,
            },
            Some(root) if root == tp.trace_id => Inbound {
                root: Some(root),
                parent: from_header.parent.or(Some(tp.parent_id)),
                decision: match from_header.decision {
                    SamplingDecision::Unknown => w3c_decision,
                    d => d,
                },
                w3c: true,
            },
            Some(_) => from_header,
        }
    }
}
