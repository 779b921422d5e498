//! What the daemon counted: datagrams, bytes, verdicts, rejection reasons with examples, and
//! kernel drops.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use xray_core::validate::DatagramError;

/// How many rejected datagrams are kept as examples for each reason.
pub const EXAMPLES_PER_REASON: usize = 3;

/// How many bytes of a rejected datagram an example keeps.
pub const EXAMPLE_BYTES: usize = 200;

/// Why a datagram was rejected, from the outermost check in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// Longer than the daemon's 64 KiB buffer.
    TooLarge,
    /// No newline, or nothing after it: the daemon's "Missing header or segment".
    MissingSegment,
    /// The header line is not `{"format":"json","version":1}` in some spelling.
    Header,
    /// The document is not one JSON object in strict UTF-8.
    BodyJson,
    /// The document breaks the official schema.
    Schema,
    /// The document passes the schema but breaks a documented rule.
    Rules,
    /// A `T1S` / `T1U` datagram whose OTLP request does not decode or whose spans break the
    /// checks (ids, name, times, parent links).
    Otlp,
}

impl RejectReason {
    /// Every reason, in order.
    pub const ALL: [RejectReason; 7] = [
        RejectReason::TooLarge,
        RejectReason::MissingSegment,
        RejectReason::Header,
        RejectReason::BodyJson,
        RejectReason::Schema,
        RejectReason::Rules,
        RejectReason::Otlp,
    ];

    /// The reason for a datagram the validator refused outright.
    pub fn of(error: &DatagramError) -> RejectReason {
        match error {
            DatagramError::TooLarge(_) => RejectReason::TooLarge,
            DatagramError::MissingNewline | DatagramError::EmptyBody => {
                RejectReason::MissingSegment
            }
            DatagramError::InvalidHeader(_) => RejectReason::Header,
            DatagramError::Body(_) => RejectReason::BodyJson,
        }
    }

    /// The snake_case name used in stats and output.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::TooLarge => "too_large",
            RejectReason::MissingSegment => "missing_segment",
            RejectReason::Header => "header",
            RejectReason::BodyJson => "body_json",
            RejectReason::Schema => "schema",
            RejectReason::Rules => "rules",
            RejectReason::Otlp => "otlp",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rejected datagram, kept to show what went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectionExample {
    /// Which datagram it was (0 = the first received).
    pub seq: u64,
    /// Why it was rejected, in words.
    pub message: String,
    /// Its first [`EXAMPLE_BYTES`] bytes, lossily decoded as UTF-8.
    pub head: String,
    /// Its full length in bytes.
    pub len: usize,
}

/// A copy of the daemon's counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DaemonStats {
    /// Datagrams read from the socket.
    pub datagrams_received: u64,
    /// Bytes in those datagrams, header lines included.
    pub bytes_received: u64,
    /// The largest datagram read, in bytes.
    pub largest_datagram: u64,
    /// Datagrams whose document passed the schema and the rules.
    pub accepted: u64,
    /// Datagrams rejected, for any reason.
    pub rejected: u64,
    /// Rejections per reason (reasons never seen are absent).
    pub rejected_by_reason: BTreeMap<RejectReason, u64>,
    /// The first few rejected datagrams of each reason.
    pub rejection_examples: BTreeMap<RejectReason, Vec<RejectionExample>>,
    /// Errors reading the socket (other than the periodic timeout).
    pub receive_errors: u64,
    /// Datagrams the kernel dropped because the socket's receive buffer was full, from the
    /// `drops` column of `/proc/net/udp`; `None` where that is not available.
    pub kernel_drops: Option<u64>,
    /// Received datagrams not kept for [`FakeDaemon::documents`](super::FakeDaemon::documents)
    /// because the configured limit was reached (they are still counted and reassembled).
    pub documents_not_kept: u64,
    /// Traces seen, including those taken or cleared since (a trace taken and then received
    /// again counts twice).
    pub traces: u64,
    /// Distinct entities (segments and subsegments, embedded ones included) seen, counted
    /// the same way.
    pub entities: u64,
    /// Entities received again with the same id (an in-progress one completed, or a resend).
    pub entity_updates: u64,
    /// Entities whose `parent_id` names an entity of another trace.
    pub foreign_attachments: u64,
    /// Traces dropped, oldest first, to stay within [`DaemonOptions::max_traces`](super::DaemonOptions::max_traces).
    pub traces_evicted: u64,
    /// New entities dropped because their trace held
    /// [`DaemonOptions::max_entities_per_trace`](super::DaemonOptions::max_entities_per_trace)
    /// already.
    pub entities_over_cap: u64,
    /// OTLP datagrams (`T1S` or `T1U`) received, valid or not.
    pub otlp_datagrams: u64,
    /// Of those, `T1U` (unsampled) ones.
    pub otlp_unsampled_datagrams: u64,
    /// Spans in the valid OTLP datagrams.
    pub otlp_spans: u64,
    /// OTLP datagrams rejected (also counted in `rejected`, reason `otlp`).
    pub otlp_invalid: u64,
    /// Distinct traces among the OTLP spans (counted since the last clear).
    pub otlp_traces: u64,
    /// OTLP spans whose parent is absent or was not received in their trace (one per
    /// complete invocation: the handler's span, whose parent is upstream).
    pub otlp_root_spans: u64,
}

impl DaemonStats {
    /// Rejections for one reason.
    pub fn rejected_for(&self, reason: RejectReason) -> u64 {
        self.rejected_by_reason.get(&reason).copied().unwrap_or(0)
    }

    /// Counts a rejection and keeps it as an example if there are few of its kind yet.
    pub(crate) fn record_rejection(
        &mut self,
        reason: RejectReason,
        seq: u64,
        datagram: &[u8],
        message: &str,
    ) {
        self.rejected += 1;
        *self.rejected_by_reason.entry(reason).or_default() += 1;
        let examples = self.rejection_examples.entry(reason).or_default();
        if examples.len() < EXAMPLES_PER_REASON {
            let head = &datagram[..datagram.len().min(EXAMPLE_BYTES)];
            examples.push(RejectionExample {
                seq,
                message: message.to_owned(),
                head: String::from_utf8_lossy(head).into_owned(),
                len: datagram.len(),
            });
        }
    }
}

impl fmt::Display for DaemonStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "received {} datagrams ({} bytes): accepted {}, rejected {}",
            self.datagrams_received, self.bytes_received, self.accepted, self.rejected
        )?;
        if !self.rejected_by_reason.is_empty() {
            let parts: Vec<String> = self
                .rejected_by_reason
                .iter()
                .map(|(reason, n)| format!("{reason} {n}"))
                .collect();
            write!(f, " ({})", parts.join(", "))?;
        }
        write!(f, "; {} traces, {} entities", self.traces, self.entities)?;
        if self.otlp_datagrams > 0 {
            write!(
                f,
                "; OTLP {} datagrams, {} spans in {} traces, {} invalid",
                self.otlp_datagrams, self.otlp_spans, self.otlp_traces, self.otlp_invalid
            )?;
        }
        if self.foreign_attachments > 0 {
            write!(f, ", {} foreign attachments", self.foreign_attachments)?;
        }
        if self.traces_evicted > 0 {
            write!(f, ", {} oldest traces dropped", self.traces_evicted)?;
        }
        if self.entities_over_cap > 0 {
            write!(
                f,
                ", {} entities over the per-trace cap dropped",
                self.entities_over_cap
            )?;
        }
        match self.kernel_drops {
            Some(n) => write!(f, "; kernel drops {n}"),
            None => f.write_str("; kernel drops unknown"),
        }
    }
}
