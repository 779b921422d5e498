//! A fake X-Ray daemon: listens on UDP, validates every datagram with
//! [`xray_core::validate::Validator`], counts what it accepts and rejects (and why), and
//! reassembles traces so tests can check parent/child wiring.
//!
//! It reads like the real daemon (a 64 KiB buffer per datagram, split at the first newline,
//! the header parsed as JSON), then goes further than the daemon, which forwards bodies
//! unread: it applies the official schema and the documented rules, as the X-Ray service
//! would. Only accepted documents are reassembled into traces; every datagram (up to a limit)
//! is kept with its verdict in [`FakeDaemon::documents`].
//!
//! OTLP datagrams (`T1S` / `T1U` and the base64 of an `ExportTraceServiceRequest`) are
//! decoded and checked span by span instead (`otlp_*` in [`DaemonStats`]; invalid ones are
//! rejected with reason `otlp`); their spans are counted per trace, and reassembled into
//! traces only when [`DaemonOptions::otlp_entities`] asks for it (the local X-Ray does).
//!
//! Kernel drops are read from `/proc/net/udp` (see [`DaemonStats::kernel_drops`]). The socket
//! keeps the default receive buffer, because std cannot set `SO_RCVBUF` and this crate uses no
//! `unsafe`; raise `net.core.rmem_default` for load tests that report drops.

mod kernel;
mod listener;
mod otlp;
mod otlp_attributes;
mod otlp_document;
#[cfg(test)]
mod otlp_tests;
mod render;
mod stats;
#[cfg(test)]
mod tests;
mod traces;

pub use listener::ReceivedDocument;
pub use otlp::{OtlpEvent, OtlpSpan};
pub use stats::{DaemonStats, EXAMPLE_BYTES, EXAMPLES_PER_REASON, RejectReason, RejectionExample};
pub(crate) use traces::by_start;
pub use traces::{Entity, EntityOrigin, ForeignAttachment, Trace};

use std::io;
use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

use kernel::SocketInode;
use listener::Shared;

/// The real daemon's default address.
pub const DEFAULT_DAEMON_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 2000);

/// The receive buffer asked of the kernel for the daemon's socket.
pub const RECEIVE_BUFFER_BYTES: usize = 8 * 1024 * 1024;

/// How the daemon is started.
#[derive(Debug, Clone, Copy)]
pub struct DaemonOptions {
    /// Where to listen; port 0 picks a free one.
    pub addr: SocketAddr,
    /// How many datagrams [`FakeDaemon::documents`] keeps; later ones are still counted and
    /// reassembled.
    pub keep_documents: usize,
    /// How many traces are kept; when one more arrives, the oldest is dropped and counted in
    /// [`DaemonStats::traces_evicted`].
    pub max_traces: usize,
    /// How many entities one trace keeps; later new ones are dropped and counted in
    /// [`Trace::entities_dropped`] and [`DaemonStats::entities_over_cap`].
    pub max_entities_per_trace: usize,
    /// Also reassemble OTLP spans into [`FakeDaemon::traces`], each as the X-Ray document
    /// [`OtlpSpan::to_xray_document`] gives.
    pub otlp_entities: bool,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        DaemonOptions {
            addr: SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            keep_documents: 100_000,
            max_traces: usize::MAX,
            max_entities_per_trace: usize::MAX,
            otlp_entities: false,
        }
    }
}

/// A running fake daemon. Stops on [`FakeDaemon::shutdown`] or when dropped; what it
/// recorded stays readable after it stops.
#[derive(Debug)]
pub struct FakeDaemon {
    addr: SocketAddr,
    shared: Arc<Shared>,
    inode: Option<SocketInode>,
    thread: Option<JoinHandle<()>>,
}

impl FakeDaemon {
    /// Listens on `127.0.0.1` at a free port.
    pub fn start() -> io::Result<FakeDaemon> {
        FakeDaemon::start_with(DaemonOptions::default())
    }

    /// Listens on the first address `addr` resolves to.
    pub fn start_on(addr: impl ToSocketAddrs) -> io::Result<FakeDaemon> {
        let addr = addr.to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "the address resolves to nothing",
            )
        })?;
        FakeDaemon::start_with(DaemonOptions {
            addr,
            ..DaemonOptions::default()
        })
    }

    /// Listens as `options` say.
    pub fn start_with(options: DaemonOptions) -> io::Result<FakeDaemon> {
        let socket = UdpSocket::bind(options.addr)?;
        // A bigger receive buffer absorbs the bursts one invocation sends (a large document
        // split into dozens of datagrams) while validation catches up. The kernel caps it at
        // `net.core.rmem_max`; whatever it grants is reported.
        let socket = {
            let s = socket2::Socket::from(socket);
            let _ = s.set_recv_buffer_size(RECEIVE_BUFFER_BYTES);
            UdpSocket::from(s)
        };
        socket.set_read_timeout(Some(listener::POLL))?;
        let addr = socket.local_addr()?;
        let inode = SocketInode::of(&socket);
        let shared = Arc::new(Shared::new(&options));
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("xray-fake-daemon {addr}"))
                .spawn(move || listener::run(&socket, &shared, inode))?
        };
        Ok(FakeDaemon {
            addr,
            shared,
            inode,
            thread: Some(thread),
        })
    }

    /// The address it listens on (with the actual port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// True until [`FakeDaemon::shutdown`].
    pub fn is_running(&self) -> bool {
        self.thread.is_some()
    }

    /// The counters now.
    pub fn stats(&self) -> DaemonStats {
        let state = self.shared.lock();
        let mut stats = state.stats.clone();
        stats.traces = state.traces.traces_seen;
        stats.entities = state.traces.entities_seen;
        stats.entity_updates = state.traces.entity_updates;
        stats.foreign_attachments = state.traces.foreign_attachments().len() as u64;
        stats.traces_evicted = state.traces.traces_evicted;
        stats.entities_over_cap = state.traces.entities_dropped;
        stats.otlp_traces = state.otlp.trace_count();
        stats.otlp_root_spans = state.otlp.roots();
        stats.kernel_drops = if self.is_running() {
            self.inode.and_then(SocketInode::drops)
        } else {
            state.final_kernel_drops
        };
        stats
    }

    /// Waits until `n_accepted` documents in total have been accepted; false on timeout.
    pub fn wait_for(&self, n_accepted: u64, timeout: Duration) -> bool {
        self.shared
            .wait_until(timeout, |s| s.stats.accepted >= n_accepted)
    }

    /// Waits until `n` datagrams in total have been received, accepted or not; false on
    /// timeout.
    pub fn wait_for_received(&self, n: u64, timeout: Duration) -> bool {
        self.shared
            .wait_until(timeout, |s| s.stats.datagrams_received >= n)
    }

    /// Waits until `n` OTLP spans in total have been received in valid datagrams; false on
    /// timeout.
    pub fn wait_for_otlp_spans(&self, n: u64, timeout: Duration) -> bool {
        self.shared.wait_until(timeout, |s| s.stats.otlp_spans >= n)
    }

    /// Distinct OTLP spans received per trace (trace id as 32 hex digits), since the last
    /// [`FakeDaemon::clear`].
    pub fn otlp_spans_per_trace(&self) -> std::collections::HashMap<String, usize> {
        self.shared.lock().otlp.spans_per_trace()
    }

    /// The OTLP spans received for one trace, by its X-Ray id (`1-5759e988-bd86…`) or its
    /// 32 hex digits, sorted by start time; `None` when none arrived.
    pub fn otlp_trace(&self, trace_id: &str) -> Option<Vec<OtlpSpan>> {
        let hex = match trace_id.strip_prefix("1-") {
            Some(rest) => rest.replace('-', ""),
            None => trace_id.to_owned(),
        };
        self.shared.lock().otlp.trace(&hex)
    }

    /// Every datagram kept so far, in arrival order, with its verdict.
    pub fn documents(&self) -> Vec<ReceivedDocument> {
        self.shared.lock().documents.clone()
    }

    /// Removes and returns the documents kept so far, so a long run can consume them as they
    /// come without keeping them all.
    pub fn take_documents(&self) -> Vec<ReceivedDocument> {
        std::mem::take(&mut self.shared.lock().documents)
    }

    /// Every trace reassembled so far, ordered by trace id.
    pub fn traces(&self) -> Vec<Trace> {
        self.shared.lock().traces.traces()
    }

    /// The newest traces (by first arrival), newest first, at most `limit`.
    pub fn newest_traces(&self, limit: usize) -> Vec<Trace> {
        self.shared.lock().traces.newest(limit)
    }

    /// One trace.
    pub fn trace(&self, trace_id: &str) -> Option<Trace> {
        self.shared.lock().traces.trace(trace_id)
    }

    /// Removes and returns one trace. Documents for it that arrive later start it afresh, and
    /// its entities no longer count for [`FakeDaemon::foreign_attachments`].
    pub fn take_trace(&self, trace_id: &str) -> Option<Trace> {
        self.shared.lock().traces.take(trace_id)
    }

    /// Entities attached to a parent that lives in another trace.
    pub fn foreign_attachments(&self) -> Vec<ForeignAttachment> {
        self.shared.lock().traces.foreign_attachments()
    }

    /// Forgets the kept documents and the traces; the counters keep counting.
    pub fn clear(&self) {
        let mut state = self.shared.lock();
        state.documents.clear();
        state.traces.clear();
        state.otlp.clear();
    }

    /// Stops the receive thread and closes the socket; returns within a few tens of
    /// milliseconds. Calling it again does nothing.
    pub fn shutdown(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.shared.stop.store(true, Ordering::Release);
        // The thread only ends by seeing `stop`; a panic inside it is already reported on
        // stderr by the runtime, and the recorded state stays readable.
        let _ = thread.join();
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        self.shutdown();
    }
}
