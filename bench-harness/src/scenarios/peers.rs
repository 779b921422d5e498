//! What the overhead scenario compares us against: the one-datagram floor (the bare work plus
//! one raw UDP `send` of as many bytes as our sampled invocation sends) and the `tracing` crate
//! with a registry subscriber (a span per captured call), and with the `peers` feature the
//! OpenTelemetry SDK with `opentelemetry-aws`'s X-Ray exporter (module `otel`).
//!
//! Each runs the same work as [`workloads::synthetic::bare::run`] and returns the same
//! checksum, so a mode that skipped work would fail the overhead scenario's test.

use std::cell::Cell;
use std::hint::black_box;
use std::io;
use std::net::{SocketAddr, UdpSocket};

use tracing::Dispatch;
use workloads::synthetic::{self, Work};

#[cfg(feature = "peers")]
pub mod otel;

/// The floor: the bare handler and one raw datagram to a socket the harness bound.
pub struct Floor {
    socket: UdpSocket,
    /// Filled once with the largest datagram we ever send; each invocation sends a prefix.
    payload: Vec<u8>,
    /// Bytes the next invocations send: what our sampled mode sends for the same work.
    len: Cell<usize>,
}

impl Floor {
    /// A sender connected to `to`, non-blocking like our emitter's socket, so a full receive
    /// buffer costs both the same (the datagram is dropped, not waited for).
    pub fn new(to: SocketAddr) -> io::Result<Floor> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.connect(to)?;
        socket.set_nonblocking(true)?;
        Ok(Floor {
            socket,
            payload: vec![b'x'; xray_core::wire::DEFAULT_DATAGRAM_LIMIT],
            len: Cell::new(0),
        })
    }

    /// Sets the bytes each invocation sends, capped at the datagram limit.
    pub fn set_bytes(&self, bytes: usize) {
        self.len.set(bytes.min(self.payload.len()));
    }

    /// Bytes each invocation sends.
    pub fn bytes(&self) -> usize {
        self.len.get()
    }

    /// One invocation: the work, then one `send`. A refused or failed send is ignored, as our
    /// emitter counts and drops it; the cost of the syscall is what is measured.
    pub fn invoke(&self, work: Work) -> u64 {
        let out = synthetic::bare::run(work);
        let _ = black_box(self.socket.send(&self.payload[..self.len.get()]));
        out.checksum
    }
}

/// `tracing` with the registry subscriber: spans are created, entered, exited and closed, and
/// their data kept in the registry's slab, as any `tracing` layer stack does before it exports.
pub struct TracingRegistry {
    dispatch: Dispatch,
}

impl TracingRegistry {
    /// A registry with no layers.
    pub fn new() -> TracingRegistry {
        TracingRegistry {
            dispatch: Dispatch::new(tracing_subscriber::registry()),
        }
    }

    /// One invocation: a span for the handler and one per captured call.
    pub fn invoke(&self, work: Work) -> u64 {
        tracing::dispatcher::with_default(&self.dispatch, || {
            let _handler = tracing::info_span!("handler").entered();
            let mut checksum = 1u64;
            for i in 0..work.calls {
                checksum = checksum.wrapping_add(step(u64::from(i)));
            }
            if work.depth > 0 {
                checksum ^= nest(work.depth - 1, checksum);
            }
            checksum
        })
    }
}

impl Default for TracingRegistry {
    fn default() -> Self {
        TracingRegistry::new()
    }
}

/// The same arithmetic as the synthetic workload's `step`, inside a span.
fn step(x: u64) -> u64 {
    let _span = tracing::info_span!("step").entered();
    work_step(x)
}

/// The synthetic workload's unit of work, for the peers to wrap in their spans.
fn work_step(x: u64) -> u64 {
    black_box(x)
        .wrapping_mul(6_364_136_223_846_793_005)
        .rotate_left(17)
}

fn nest(depth: u32, x: u64) -> u64 {
    let _span = tracing::info_span!("nest").entered();
    if depth == 0 {
        step(x)
    } else {
        nest(depth - 1, x ^ u64::from(depth))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_floor_sends_one_datagram_of_the_set_size() {
        let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
        sink.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let floor = Floor::new(sink.local_addr().unwrap()).unwrap();
        floor.set_bytes(731);
        let work = Work {
            calls: 4,
            ..Work::default()
        };
        assert_eq!(floor.invoke(work), synthetic::bare::run(work).checksum);
        let mut buf = [0u8; 2048];
        assert_eq!(sink.recv(&mut buf).unwrap(), 731);
        floor.set_bytes(usize::MAX);
        assert_eq!(floor.bytes(), xray_core::wire::DEFAULT_DATAGRAM_LIMIT);
    }

    #[test]
    fn the_registry_sees_a_span_per_call() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        use tracing::span;
        use tracing_subscriber::Layer;
        use tracing_subscriber::layer::{Context, SubscriberExt};

        struct Count(Arc<AtomicUsize>);
        impl<S: tracing::Subscriber> Layer<S> for Count {
            fn on_new_span(&self, _: &span::Attributes<'_>, _: &span::Id, _: Context<'_, S>) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let spans = Arc::new(AtomicUsize::new(0));
        let peer = TracingRegistry {
            dispatch: Dispatch::new(tracing_subscriber::registry().with(Count(spans.clone()))),
        };
        let work = Work {
            calls: 10,
            depth: 2,
            ..Work::default()
        };
        assert_eq!(peer.invoke(work), synthetic::bare::run(work).checksum);
        // The handler, 10 calls, and a chain of depth 2: two `nest` levels and a `step`.
        assert_eq!(spans.load(Ordering::Relaxed), 1 + 10 + 3);
    }
}
