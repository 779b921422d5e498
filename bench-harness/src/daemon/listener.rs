//! The receive loop: one thread reads datagrams, validates them and records the outcome.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::Value;
use xray_core::validate::{MAX_DATAGRAM_BYTES, Report, Validator};

use super::kernel::SocketInode;
use super::otlp::{self, OtlpTraces, Signal};
use super::stats::{DaemonStats, RejectReason};
use super::traces::TraceStore;

/// How long a blocked read waits before checking for shutdown.
pub(crate) const POLL: Duration = Duration::from_millis(20);

/// Longest rejection message kept in an example.
const MAX_EXAMPLE_MESSAGE: usize = 500;

/// One datagram as received, with the validator's verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedDocument {
    /// Its position in arrival order (0 = the first received).
    pub seq: u64,
    /// Who sent it.
    pub from: SocketAddr,
    /// The whole datagram, header line included.
    pub datagram: Vec<u8>,
    /// The document, when the datagram got as far as parsing it.
    pub document: Option<Value>,
    /// The schema and rule verdicts, when the document parsed.
    pub report: Option<Report>,
    /// Why it was rejected; `None` when accepted.
    pub rejected: Option<RejectReason>,
    /// The validator's message for a datagram it refused outright.
    pub error: Option<String>,
}

impl ReceivedDocument {
    /// True when the document passed the schema and the rules.
    pub fn is_accepted(&self) -> bool {
        self.rejected.is_none()
    }
}

/// Everything the receive thread records, behind one lock.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) stats: DaemonStats,
    pub(crate) documents: Vec<ReceivedDocument>,
    pub(crate) keep_documents: usize,
    pub(crate) traces: TraceStore,
    /// The OTLP spans received, by trace.
    pub(crate) otlp: OtlpTraces,
    /// Whether OTLP spans are also reassembled into `traces`.
    pub(crate) otlp_entities: bool,
    /// The drop counter read as the socket closed, for stats asked after shutdown.
    pub(crate) final_kernel_drops: Option<u64>,
}

/// What the daemon handle and its thread share.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Signalled after every datagram.
    pub(crate) changed: Condvar,
    pub(crate) stop: AtomicBool,
}

impl Shared {
    pub(crate) fn new(options: &super::DaemonOptions) -> Shared {
        let shared = Shared::default();
        let mut state = shared.lock();
        state.keep_documents = options.keep_documents;
        state.otlp_entities = options.otlp_entities;
        state.traces =
            TraceStore::with_capacity(options.max_traces, options.max_entities_per_trace);
        drop(state);
        shared
    }

    /// The state; a panic elsewhere while holding the lock does not make it unreadable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until `done` holds or `timeout` passes; returns whether it holds.
    pub(crate) fn wait_until(&self, timeout: Duration, done: impl Fn(&State) -> bool) -> bool {
        let guard = self.lock();
        let (guard, _) = self
            .changed
            .wait_timeout_while(guard, timeout, |s| !done(s))
            .unwrap_or_else(PoisonError::into_inner);
        done(&guard)
    }
}

/// Reads until `shared.stop` is set. The socket must have a read timeout.
pub(crate) fn run(socket: &UdpSocket, shared: &Shared, inode: Option<SocketInode>) {
    let validator = Validator::shared();
    let mut buf = vec![0u8; MAX_DATAGRAM_BYTES];
    let mut seq = 0u64;
    while !shared.stop.load(Ordering::Acquire) {
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                record(shared, validator, seq, from, &buf[..n]);
                seq += 1;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => {
                shared.lock().stats.receive_errors += 1;
                // An error that repeats must not turn the loop into a busy spin.
                std::thread::sleep(POLL);
            }
        }
    }
    shared.lock().final_kernel_drops = inode.and_then(SocketInode::drops);
    shared.changed.notify_all();
}

/// Validates one datagram (outside the lock) and records the outcome.
fn record(shared: &Shared, validator: &Validator, seq: u64, from: SocketAddr, datagram: &[u8]) {
    if let Some((header, body, signal)) = otlp_parts(datagram) {
        record_otlp(shared, seq, from, datagram, (header, body, signal));
        return;
    }
    let (document, report, error) = match validator.check_datagram(datagram) {
        Ok((doc, report)) => (Some(doc), Some(report), None),
        Err(e) => (None, None, Some((RejectReason::of(&e), e.to_string()))),
    };
    let rejected = match (&error, &report) {
        (Some((reason, _)), _) => Some(*reason),
        (None, Some(r)) if !r.schema_errors.is_empty() => Some(RejectReason::Schema),
        (None, Some(r)) if !r.rule_errors.is_empty() => Some(RejectReason::Rules),
        _ => None,
    };

    let mut state = shared.lock();
    let stats = &mut state.stats;
    stats.datagrams_received += 1;
    stats.bytes_received += datagram.len() as u64;
    stats.largest_datagram = stats.largest_datagram.max(datagram.len() as u64);
    match (rejected, &error, &report) {
        (None, _, _) => {
            stats.accepted += 1;
            if let Some(doc) = &document {
                state.traces.add_document(doc, seq);
            }
        }
        (Some(reason), Some((_, message)), _) => {
            stats.record_rejection(reason, seq, datagram, &cut(message));
        }
        (Some(reason), None, report) => {
            let message = report.as_ref().map(Report::to_string).unwrap_or_default();
            stats.record_rejection(reason, seq, datagram, &cut(&message));
        }
    }
    if state.documents.len() < state.keep_documents {
        state.documents.push(ReceivedDocument {
            seq,
            from,
            datagram: datagram.to_vec(),
            document,
            report,
            rejected,
            error: error.map(|(_, message)| message),
        });
    } else {
        state.stats.documents_not_kept += 1;
    }
    drop(state);
    shared.changed.notify_all();
}

/// The header line, the body and its signal, when the body starts with `T1S` or `T1U`.
fn otlp_parts(datagram: &[u8]) -> Option<(&[u8], &[u8], Signal)> {
    let newline = datagram.iter().position(|&b| b == b'\n')?;
    let body = &datagram[newline + 1..];
    Some((&datagram[..newline], body, otlp::signal_of(body)?))
}

/// Decodes and checks an OTLP datagram (outside the lock, except the parent links) and
/// records the outcome.
fn record_otlp(
    shared: &Shared,
    seq: u64,
    from: SocketAddr,
    datagram: &[u8],
    (header, body, signal): (&[u8], &[u8], Signal),
) {
    let decoded = if datagram.len() > MAX_DATAGRAM_BYTES {
        Err(format!(
            "{} bytes, over the daemon's buffer",
            datagram.len()
        ))
    } else if !header_ok(header) {
        Err("the header line is not {\"format\":\"json\",\"version\":1}".to_owned())
    } else {
        otlp::decode(body)
    };
    let mut state = shared.lock();
    let checked = decoded.and_then(|spans| {
        state.otlp.check(&spans)?;
        Ok(spans)
    });
    let stats = &mut state.stats;
    stats.datagrams_received += 1;
    stats.bytes_received += datagram.len() as u64;
    stats.largest_datagram = stats.largest_datagram.max(datagram.len() as u64);
    stats.otlp_datagrams += 1;
    if signal == Signal::Unsampled {
        stats.otlp_unsampled_datagrams += 1;
    }
    let error = match checked {
        Ok(spans) => {
            stats.otlp_spans += spans.len() as u64;
            state.otlp.add(&spans);
            if state.otlp_entities {
                for span in &spans {
                    state.traces.add_document(&span.to_xray_document(), seq);
                }
            }
            None
        }
        Err(message) => {
            stats.otlp_invalid += 1;
            stats.record_rejection(RejectReason::Otlp, seq, datagram, &cut(&message));
            Some(message)
        }
    };
    if state.documents.len() < state.keep_documents {
        state.documents.push(ReceivedDocument {
            seq,
            from,
            datagram: datagram.to_vec(),
            document: None,
            report: None,
            rejected: error.is_some().then_some(RejectReason::Otlp),
            error,
        });
    } else {
        state.stats.documents_not_kept += 1;
    }
    drop(state);
    shared.changed.notify_all();
}

/// `{"format":"json","version":1}` in any JSON spelling.
fn header_ok(header: &[u8]) -> bool {
    serde_json::from_slice::<Value>(header).is_ok_and(|h| {
        h.get("format").and_then(Value::as_str) == Some("json")
            && h.get("version").and_then(Value::as_u64) == Some(1)
    })
}

/// At most [`MAX_EXAMPLE_MESSAGE`] bytes of `message`, cut at a character boundary.
fn cut(message: &str) -> String {
    if message.len() <= MAX_EXAMPLE_MESSAGE {
        return message.to_owned();
    }
    let mut end = MAX_EXAMPLE_MESSAGE;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &message[..end])
}
