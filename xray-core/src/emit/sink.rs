//! Where datagrams go: a connected, non-blocking UDP socket, memory (tests), or nowhere.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
#[cfg(any(test, feature = "testing"))]
use std::sync::{Arc, Mutex};

use super::stats::EmitterCounters;

#[derive(Debug)]
pub(crate) enum Sink {
    Udp(UdpSocket),
    /// The socket could not be opened; every datagram is counted as lost.
    Unavailable,
    #[cfg(any(test, feature = "testing"))]
    Memory(MemorySink),
    /// Tracing is disabled: nothing is sent and nothing counts as lost.
    Disabled,
    /// Written and counted as sent, then discarded (benchmarks of recording and writing).
    #[cfg(any(test, feature = "testing"))]
    Null,
}

impl Sink {
    pub(crate) fn udp(daemon: SocketAddr) -> io::Result<Sink> {
        let local: SocketAddr = if daemon.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local)?;
        // Connected: the kernel skips the route lookup on every send, and reports a missing
        // daemon as ECONNREFUSED instead of dropping quietly.
        socket.connect(daemon)?;
        // A full socket buffer must cost the handler nothing: the datagram is counted instead.
        socket.set_nonblocking(true)?;
        Ok(Sink::Udp(socket))
    }

    /// Sends one datagram; failures are counted, never returned.
    #[inline]
    pub(crate) fn send(&self, datagram: &[u8], counters: &EmitterCounters) {
        use std::sync::atomic::Ordering::Relaxed;
        let ok = match self {
            Sink::Udp(socket) => match socket.send(datagram) {
                Ok(_) => true,
                Err(e) => {
                    let c = match e.kind() {
                        io::ErrorKind::WouldBlock => &counters.sends_would_block,
                        io::ErrorKind::ConnectionRefused => &counters.sends_refused,
                        _ => &counters.sends_failed,
                    };
                    EmitterCounters::bump(c);
                    false
                }
            },
            #[cfg(any(test, feature = "testing"))]
            Sink::Memory(m) => {
                m.push(datagram);
                true
            }
            Sink::Unavailable => {
                EmitterCounters::bump(&counters.sends_without_socket);
                false
            }
            Sink::Disabled => false,
            #[cfg(any(test, feature = "testing"))]
            Sink::Null => true,
        };
        if ok {
            EmitterCounters::bump(&counters.datagrams_handed_to_kernel);
            counters
                .bytes_handed_to_kernel
                .fetch_add(datagram.len() as u64, Relaxed);
            counters
                .largest_datagram
                .fetch_max(datagram.len() as u64, Relaxed);
        }
    }
}

#[cfg(any(test, feature = "testing"))]
/// Datagrams kept in memory, for tests (see [`Emitter::memory`](super::Emitter::memory)).
#[derive(Debug, Clone, Default)]
pub struct MemorySink(Arc<Mutex<Vec<Vec<u8>>>>);

#[cfg(any(test, feature = "testing"))]
impl MemorySink {
    fn push(&self, datagram: &[u8]) {
        if let Ok(mut v) = self.0.lock() {
            v.push(datagram.to_vec());
        }
    }

    /// Takes every datagram received so far.
    pub fn take(&self) -> Vec<Vec<u8>> {
        self.0
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }

    /// Takes the datagrams `keep` selects and leaves the others, in one step (tests that share
    /// a sink take only their own).
    pub fn take_where(&self, mut keep: impl FnMut(&[u8]) -> bool) -> Vec<Vec<u8>> {
        let Ok(mut v) = self.0.lock() else {
            return Vec::new();
        };
        let (mine, others): (Vec<_>, Vec<_>) = v.drain(..).partition(|d| keep(d));
        *v = others;
        mine
    }

    /// Takes the documents (datagrams without their header line), parsed as JSON.
    pub fn take_documents(&self) -> Vec<serde_json::Value> {
        self.take()
            .iter()
            .filter_map(|d| {
                let body = d.splitn(2, |b| *b == b'\n').nth(1)?;
                serde_json::from_slice(body).ok()
            })
            .collect()
    }
}
