//! The emitter: writes entity trees into datagrams that never exceed the limit, and sends them.
//!
//! A datagram is the header line `{"format":"json","version":1}`, a newline, and one document.
//! When a document would not fit, its closed child subtrees are sent first (largest first,
//! recursively): packed several to a datagram as the children of a [`BATCH_NAME`] subsegment
//! where they fit, as independent subsegments where they do not; then the parent is written
//! again without them. If
//! an entity alone is still too large, its metadata values are replaced by truncation markers
//! (largest cut first), and as a last resort it is sent in a minimal form: ids, times and
//! flags. Every split, cut and loss is counted in [`EmitterStats`].
//!
//! What UDP can tell: a send says only that the kernel took the datagram
//! (`datagrams_handed_to_kernel`) or refused it (`sends_would_block`, `sends_refused`,
//! `sends_failed`). A closed daemon port is learned one send late (the ICMP answer to one
//! datagram fails the next send), and a daemon that does not read, or a network that drops,
//! is invisible: [`EmitterStats::datagrams_known_lost`] is a lower bound.

mod batch;
mod resolve;
pub(crate) use resolve::resolve;
mod sink;
mod split;
mod stats;

pub use batch::BATCH_NAME;
#[cfg(any(test, feature = "testing"))]
pub use sink::MemorySink;
pub use stats::{EmitterCounters, EmitterStats};

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::model::{EntityIndex, EntityTree};
use sink::Sink;

/// The header line every datagram starts with (newline included).
pub const DATAGRAM_HEADER: &[u8] = b"{\"format\":\"json\",\"version\":1}\n";

/// The largest UDP payload over IPv4; no datagram can be larger.
pub const MAX_UDP_PAYLOAD: usize = 65_507;

/// The default datagram limit, header included: under the daemon's 64 KiB buffer, the IPv4
/// payload limit, and the service's "64 kB" document limit read as decimal.
pub const DEFAULT_DATAGRAM_LIMIT: usize = 64_000;

/// The most subsegment levels one document nests. Deeper closed subtrees go out as their own
/// documents: 32 levels are about 66 levels of JSON, well inside the 128 that strict parsers
/// (serde_json's default among them) accept.
pub const MAX_NESTING: u32 = 32;

/// Buffers reused across emissions, so sending allocates nothing in the steady state.
///
/// Keep one per thread or per invocation.
#[derive(Debug)]
pub struct EmitBuffer {
    datagram: Vec<u8>,
    spans: Vec<(u32, usize)>,
    /// Grown on first OTLP use only.
    otlp: crate::otlp::OtlpBuffers,
}

impl Default for EmitBuffer {
    fn default() -> Self {
        EmitBuffer::new()
    }
}

impl EmitBuffer {
    /// A buffer with room for one full datagram.
    pub fn new() -> EmitBuffer {
        let mut datagram = Vec::with_capacity(MAX_UDP_PAYLOAD + 1024);
        datagram.extend_from_slice(DATAGRAM_HEADER);
        EmitBuffer {
            datagram,
            spans: Vec::with_capacity(64),
            otlp: crate::otlp::OtlpBuffers::default(),
        }
    }

    /// The last datagram written (header line included).
    pub fn last_datagram(&self) -> &[u8] {
        &self.datagram
    }
}

/// Sends entity trees to the X-Ray daemon.
///
/// ```
/// use xray_core::{TraceId, wire::{EmitBuffer, Emitter}, model::{EntityTree, Timestamp}};
///
/// let listener = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
/// let emitter = Emitter::udp(listener.local_addr().unwrap(), 64_000);
///
/// let mut tree = EntityTree::new(TraceId::random());
/// let root = tree.begin_segment("checkout", None, Timestamp::now());
/// tree.end(root, Timestamp::now());
/// emitter.emit(&mut tree, root, &mut EmitBuffer::new());
///
/// let mut buf = [0u8; 65_536];
/// let n = listener.recv(&mut buf).unwrap();
/// assert!(buf[..n].starts_with(b"{\"format\":\"json\",\"version\":1}\n{\"name\":\"checkout\""));
/// assert_eq!(emitter.stats().datagrams_handed_to_kernel, 1);
/// ```
#[derive(Debug, Clone)]
pub struct Emitter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    sink: Sink,
    counters: EmitterCounters,
    limit: usize,
    open_error: Option<String>,
    /// Set when the output is OpenTelemetry (see [`crate::otlp`]).
    otlp: Option<crate::otlp::OtlpOutput>,
}

impl Emitter {
    fn with_sink(sink: Sink, limit: usize, open_error: Option<String>) -> Emitter {
        Emitter {
            inner: Arc::new(Inner {
                sink,
                counters: EmitterCounters::default(),
                limit: limit.clamp(DATAGRAM_HEADER.len() + 256, MAX_UDP_PAYLOAD),
                open_error,
                otlp: None,
            }),
        }
    }

    fn with_otlp(mut self, otlp: crate::otlp::OtlpOutput) -> Emitter {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.otlp = Some(otlp);
        }
        self
    }

    /// The emitter `config` asks for: X-Ray documents or OTLP spans to the daemon address, or
    /// OTLP/HTTP to a collector (see [`crate::Output`]).
    ///
    /// ```
    /// use xray_core::{Config, Output, OutputConfig, TraceId, wire::{Emitter, EmitBuffer}, model::{EntityTree, Timestamp}};
    ///
    /// let listener = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    /// let mut config = Config::default();
    /// config.daemon.udp = listener.local_addr().unwrap();
    /// config.output = OutputConfig::new(Output::OtlpUdp);
    /// let emitter = Emitter::for_config(&config);
    ///
    /// let mut tree = EntityTree::new(TraceId::random());
    /// let root = tree.begin_segment("checkout", None, Timestamp::now());
    /// tree.end(root, Timestamp::now());
    /// emitter.emit(&mut tree, root, &mut EmitBuffer::new());
    ///
    /// let mut buf = [0u8; 65_536];
    /// let n = listener.recv(&mut buf).unwrap();
    /// assert!(buf[..n].starts_with(b"{\"format\":\"json\",\"version\":1}\nT1S"));
    /// ```
    pub fn for_config(config: &crate::Config) -> Emitter {
        use crate::config::Output;
        use crate::otlp::{HttpClient, OtlpOutput};
        let udp = || Emitter::udp(config.daemon.udp, config.datagram_limit);
        let emitter = match &config.output.kind {
            Output::OtlpHttp(endpoint) => {
                return Emitter::with_sink(Sink::Disabled, config.datagram_limit, None).with_otlp(
                    OtlpOutput {
                        resource: OtlpOutput::resource_for(config),
                        http: Some(HttpClient::new(endpoint)),
                        unsampled: false,
                    },
                );
            }
            Output::OtlpUdp => udp().with_otlp(OtlpOutput {
                resource: OtlpOutput::resource_for(config),
                http: None,
                unsampled: config.output.otlp.unsampled,
            }),
            Output::XrayUdp => udp(),
        };
        // A daemon name that did not resolve yet is retried for either UDP output.
        match &config.daemon_unresolved {
            Some(name) => emitter.resolving(name),
            None => emitter,
        }
    }

    /// An emitter that keeps OTLP datagrams (`T1S` / `T1U`) in memory, for tests (feature
    /// `testing`).
    #[cfg(any(test, feature = "testing"))]
    pub fn otlp_memory(
        limit: usize,
        resource: crate::wire::OtlpResource,
        unsampled: bool,
    ) -> (Emitter, MemorySink) {
        let (e, sink) = Emitter::memory(limit);
        let e = e.with_otlp(crate::otlp::OtlpOutput {
            resource,
            http: None,
            unsampled,
        });
        (e, sink)
    }

    /// True when unsampled invocations should be recorded and passed to
    /// [`Emitter::emit_unsampled`] (`otlp-udp` with `XRAY_RS_OTLP_UNSAMPLED=true`).
    pub fn sends_unsampled(&self) -> bool {
        self.inner
            .otlp
            .as_ref()
            .is_some_and(|o| o.unsampled && o.http.is_none())
    }

    /// Sends the spans of an unsampled invocation as `T1U`, for Transaction Search; does
    /// nothing unless [`Emitter::sends_unsampled`].
    pub fn emit_unsampled(&self, tree: &mut EntityTree, entity: EntityIndex, buf: &mut EmitBuffer) {
        if !self.sends_unsampled() {
            return;
        }
        self.emit_otlp(tree, entity, buf, crate::otlp::Signal::Unsampled);
    }

    fn emit_otlp(
        &self,
        tree: &mut EntityTree,
        entity: EntityIndex,
        buf: &mut EmitBuffer,
        signal: crate::otlp::Signal,
    ) {
        let Some(otlp) = &self.inner.otlp else {
            return;
        };
        let counts = std::mem::take(&mut tree.counts);
        let c = &self.inner.counters;
        c.add_record_counts(&counts);
        EmitterCounters::bump(&c.documents);
        let sink = &self.inner.sink;
        otlp.emit(
            tree,
            entity.0,
            signal,
            &mut buf.datagram,
            &mut buf.otlp,
            self.inner.limit,
            c,
            |d| sink.send(d, c),
        );
    }

    /// An emitter sending to `daemon` over UDP. If no socket can be opened, the emitter still
    /// works and counts every datagram in `sends_without_socket`; [`Emitter::open_error`] says why.
    /// `limit` is clamped to at most 65 507 bytes.
    pub fn udp(daemon: SocketAddr, limit: usize) -> Emitter {
        match Sink::udp(daemon) {
            Ok(sink) => Emitter::with_sink(sink, limit, None),
            Err(e) => Emitter::with_sink(
                Sink::Unavailable,
                limit,
                Some(format!("cannot open a UDP socket to {daemon}: {e}")),
            ),
        }
    }

    /// Like [`Emitter::udp`], but reports a socket error to the caller.
    pub fn try_udp(daemon: SocketAddr, limit: usize) -> io::Result<Emitter> {
        Ok(Emitter::with_sink(Sink::udp(daemon)?, limit, None))
    }

    /// An emitter that sends nothing (tracing disabled).
    pub fn disabled() -> Emitter {
        Emitter::with_sink(Sink::Disabled, DEFAULT_DATAGRAM_LIMIT, None)
    }

    /// An emitter that keeps datagrams in memory, for tests (feature `testing`).
    #[cfg(any(test, feature = "testing"))]
    pub fn memory(limit: usize) -> (Emitter, MemorySink) {
        let sink = MemorySink::default();
        (
            Emitter::with_sink(Sink::Memory(sink.clone()), limit, None),
            sink,
        )
    }

    /// An emitter that writes every document and then discards it, counting it as sent: the
    /// cost of recording and writing without the socket (feature `testing`).
    #[cfg(any(test, feature = "testing"))]
    pub fn null(limit: usize) -> Emitter {
        Emitter::with_sink(Sink::Null, limit, None)
    }

    /// Why the UDP socket could not be opened, if it could not.
    pub fn open_error(&self) -> Option<&str> {
        self.inner.open_error.as_deref()
    }

    /// True when this emitter never sends (tracing disabled).
    pub fn is_disabled(&self) -> bool {
        matches!(self.inner.sink, Sink::Disabled) && self.inner.otlp.is_none()
    }

    /// The datagram limit in bytes, header included.
    pub fn limit(&self) -> usize {
        self.inner.limit
    }

    /// The counters now.
    pub fn stats(&self) -> EmitterStats {
        self.inner.counters.snapshot()
    }

    /// The live counters.
    pub fn counters(&self) -> &EmitterCounters {
        &self.inner.counters
    }

    /// Sends a document that is already written (no header line); oversized ones are dropped
    /// and counted.
    pub fn send_raw_document(&self, document: &[u8], buf: &mut EmitBuffer) {
        let c = &self.inner.counters;
        EmitterCounters::bump(&c.documents);
        if DATAGRAM_HEADER.len() + document.len() > self.inner.limit {
            EmitterCounters::bump(&c.oversized_documents);
            EmitterCounters::bump(&c.dropped_oversized);
            return;
        }
        buf.datagram.truncate(DATAGRAM_HEADER.len());
        buf.datagram.extend_from_slice(document);
        self.inner.sink.send(&buf.datagram, c);
    }

    /// Writes `entity` and its unsent descendants as one or more documents and sends them.
    /// Marks what was sent so it is not embedded again, and folds the tree's repair counts
    /// into the emitter's counters (once).
    pub fn emit(&self, tree: &mut EntityTree, entity: EntityIndex, buf: &mut EmitBuffer) {
        if self.inner.otlp.is_some() {
            return self.emit_otlp(tree, entity, buf, crate::otlp::Signal::Sampled);
        }
        let counts = std::mem::take(&mut tree.counts);
        self.inner.counters.add_record_counts(&counts);
        EmitterCounters::bump(&self.inner.counters.documents);
        self.emit_subtree(tree, entity.0, buf);
    }
}

#[cfg(test)]
mod tests;
