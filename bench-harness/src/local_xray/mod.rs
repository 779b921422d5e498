//! A local X-Ray: the fake daemon plus a web page to read its traces, and the daemon's TCP
//! sampling proxy answering with the default rule. The `xray-local` command runs it.
//!
//! Segment documents and OTLP datagrams (`T1S` / `T1U`, as ADOT and xray-core's
//! `otlp-udp` output send them) are shown alike: each span becomes an entity of its trace
//! (see [`OtlpSpan::to_xray_document`](crate::daemon::OtlpSpan::to_xray_document)).
//!
//! The page (HTML, CSS and JS built into the binary, no CDN) polls a small JSON API:
//! `/api/traces?q=FILTER`, `/api/trace?id=ID`, `/api/map`, `/api/rejected`. Memory is bounded:
//! the last [`LocalXrayOptions::max_traces`] traces, [`LocalXrayOptions::max_entities_per_trace`]
//! entities in each, and [`REJECTED_KEPT`] rejected datagrams; what is dropped is counted and
//! shown.
//!
//! ```
//! use bench_harness::local_xray::{LocalXray, LocalXrayOptions};
//! use std::io::{Read, Write};
//!
//! let xray = LocalXray::start(LocalXrayOptions::ephemeral()).unwrap();
//! let mut conn = std::net::TcpStream::connect(xray.web_addr()).unwrap();
//! conn.write_all(b"GET /api/traces HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").unwrap();
//! let mut answer = String::new();
//! conn.read_to_string(&mut answer).unwrap();
//! assert!(answer.contains(r#""traces":[]"#));
//! ```

mod filter;
#[cfg(test)]
mod otlp_tests;
mod page;
mod sampling;
#[cfg(test)]
mod tests;
mod view;

pub use filter::Filter;
pub use view::{Edge, Node, Row, ServiceMap, Status, TraceSummary, Waterfall};

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;

use crate::daemon::{DEFAULT_DAEMON_ADDR, DaemonOptions, FakeDaemon, ReceivedDocument};
use crate::serve::HttpServer;

/// How many rejected datagrams the page can show; older ones are dropped and counted.
pub const REJECTED_KEPT: usize = 200;

/// The longest part of a rejected datagram kept for display.
const REJECTED_HEAD_BYTES: usize = 600;

/// How many traces the list shows at most (the newest that match).
const LIST_LIMIT: usize = 300;

/// The page's default address.
pub const DEFAULT_WEB_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 2080);

/// How the local X-Ray is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LocalXrayOptions {
    /// Where segments arrive over UDP.
    pub udp_addr: SocketAddr,
    /// Where the sampling proxy listens over TCP; `None` for the UDP address (as the daemon
    /// does), `Some` with port 0 for a free port.
    pub sampling_addr: Option<SocketAddr>,
    /// Where the page is served.
    pub web_addr: SocketAddr,
    /// How many traces are kept.
    pub max_traces: usize,
    /// How many entities one trace keeps; new ones beyond are dropped and counted per trace.
    pub max_entities_per_trace: usize,
}

/// The default of [`LocalXrayOptions::max_entities_per_trace`]: far above a real invocation's
/// tree, low enough that a runaway loop cannot fill the memory.
pub const DEFAULT_MAX_ENTITIES_PER_TRACE: usize = 1000;

impl Default for LocalXrayOptions {
    /// The daemon's addresses (UDP and TCP 127.0.0.1:2000), the page on 127.0.0.1:2080.
    fn default() -> Self {
        LocalXrayOptions {
            udp_addr: DEFAULT_DAEMON_ADDR,
            sampling_addr: None,
            web_addr: DEFAULT_WEB_ADDR,
            max_traces: 1000,
            max_entities_per_trace: DEFAULT_MAX_ENTITIES_PER_TRACE,
        }
    }
}

impl LocalXrayOptions {
    /// Free ports on 127.0.0.1 for everything (tests, the harness).
    pub fn ephemeral() -> LocalXrayOptions {
        let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
        LocalXrayOptions {
            udp_addr: any,
            sampling_addr: Some(any),
            web_addr: any,
            ..LocalXrayOptions::default()
        }
    }
}

/// A rejected datagram as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejected {
    /// Arrival position.
    pub seq: u64,
    /// Sender.
    pub from: String,
    /// The reason's short name.
    pub reason: String,
    /// The validator's message.
    pub message: String,
    /// The start of the datagram (lossy UTF-8).
    pub head: String,
    /// Its size in bytes.
    pub len: usize,
}

#[derive(Debug, Default)]
struct RejectedLog {
    kept: VecDeque<Rejected>,
    dropped: u64,
}

/// What the web handler and the collector thread share.
#[derive(Debug)]
struct State {
    daemon: FakeDaemon,
    rejected: Mutex<RejectedLog>,
    stop: AtomicBool,
    max_traces: usize,
}

/// A running local X-Ray (see the module docs). Stops when dropped.
#[derive(Debug)]
pub struct LocalXray {
    state: Arc<State>,
    web: HttpServer,
    sampling: HttpServer,
    collector: Option<JoinHandle<()>>,
}

impl LocalXray {
    /// Starts the daemon, the sampling proxy and the page.
    pub fn start(options: LocalXrayOptions) -> io::Result<LocalXray> {
        let daemon = FakeDaemon::start_with(DaemonOptions {
            addr: options.udp_addr,
            // The collector drains documents continuously; this only bounds a burst.
            keep_documents: 10_000,
            max_traces: options.max_traces,
            max_entities_per_trace: options.max_entities_per_trace,
            otlp_entities: true,
        })?;
        let sampling_addr = options.sampling_addr.unwrap_or(daemon.addr());
        let sampling = HttpServer::start(sampling_addr, "xray-local-sampling", |req| {
            sampling::handle(&req)
        })?;
        let state = Arc::new(State {
            daemon,
            rejected: Mutex::default(),
            stop: AtomicBool::new(false),
            max_traces: options.max_traces,
        });
        let web = {
            let state = Arc::clone(&state);
            HttpServer::start(options.web_addr, "xray-local-web", move |req| {
                page::handle(&req, &state)
            })?
        };
        let collector = {
            let state = Arc::clone(&state);
            std::thread::Builder::new()
                .name("xray-local-collector".into())
                .spawn(move || collect(&state))?
        };
        Ok(LocalXray {
            state,
            web,
            sampling,
            collector: Some(collector),
        })
    }

    /// Where segments go (UDP).
    pub fn udp_addr(&self) -> SocketAddr {
        self.state.daemon.addr()
    }

    /// Where the sampling proxy listens (TCP).
    pub fn sampling_addr(&self) -> SocketAddr {
        self.sampling.addr()
    }

    /// Where the page is served.
    pub fn web_addr(&self) -> SocketAddr {
        self.web.addr()
    }

    /// The page's URL.
    pub fn url(&self) -> String {
        format!("http://{}/", self.web.addr())
    }

    /// The daemon underneath (counters, traces).
    pub fn daemon(&self) -> &FakeDaemon {
        &self.state.daemon
    }

    /// The rejected datagrams kept, oldest first, and how many older ones were dropped.
    pub fn rejected(&self) -> (Vec<Rejected>, u64) {
        let log = lock(&self.state.rejected);
        (log.kept.iter().cloned().collect(), log.dropped)
    }

    /// Stops everything; returns within a couple of seconds. Calling it again does nothing.
    pub fn shutdown(&mut self) {
        self.state.stop.store(true, Ordering::Release);
        self.web.shutdown();
        self.sampling.shutdown();
        if let Some(t) = self.collector.take() {
            let _ = t.join();
        }
    }
}

impl Drop for LocalXray {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Moves rejected datagrams from the daemon into the bounded log as they arrive. Accepted
/// ones are already reassembled into traces, so their copies are let go.
fn collect(state: &State) {
    let mut seen = 0;
    while !state.stop.load(Ordering::Acquire) {
        // Wakes on the next datagram, or after a while to notice `stop`.
        state
            .daemon
            .wait_for_received(seen + 1, Duration::from_millis(100));
        seen = state.daemon.stats().datagrams_received;
        let documents = state.daemon.take_documents();
        let mut log = lock(&state.rejected);
        for d in documents.iter().filter(|d| !d.is_accepted()) {
            if log.kept.len() == REJECTED_KEPT {
                log.kept.pop_front();
                log.dropped += 1;
            }
            log.kept.push_back(rejected_view(d));
        }
    }
}

fn rejected_view(d: &ReceivedDocument) -> Rejected {
    let message = d
        .error
        .clone()
        .or_else(|| d.report.as_ref().map(ToString::to_string))
        .unwrap_or_default();
    let head = &d.datagram[..d.datagram.len().min(REJECTED_HEAD_BYTES)];
    Rejected {
        seq: d.seq,
        from: d.from.to_string(),
        reason: d
            .rejected
            .map(crate::daemon::RejectReason::as_str)
            .unwrap_or_default()
            .to_owned(),
        message,
        head: String::from_utf8_lossy(head).into_owned(),
        len: d.datagram.len(),
    }
}
