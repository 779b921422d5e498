//! Emission: datagrams per second at rising offered load, until the fake daemon falls behind,
//! with every lost datagram accounted for.
//!
//! A sender thread emits realistic invocation documents (a handler with 10 subsegments) at a
//! paced rate for a fixed time; afterwards the harness waits for the daemon to go quiet and
//! compares what the emitter sent with what the daemon received. The difference must equal the
//! kernel's drop counter on the daemon's socket: anything else is an unaccounted loss.

use std::time::{Duration, Instant};

use serde::Serialize;
use xray_core::{
    TraceId,
    model::{EntityTree, Timestamp},
    wire::{EmitBuffer, Emitter},
};

use crate::daemon::{DaemonStats, FakeDaemon};

use super::Settings;

/// One offered rate.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Datagrams per second asked for (`None`: as fast as one thread can send).
    pub offered_per_s: Option<u64>,
    /// Datagrams per second the sender achieved.
    pub sent_per_s: f64,
    /// Datagrams per second the daemon received and processed.
    pub received_per_s: f64,
    /// Bytes per second received.
    pub received_bytes_per_s: f64,
    /// Datagrams the emitter sent.
    pub sent: u64,
    /// Datagrams the daemon received.
    pub received: u64,
    /// `sent - received`.
    pub lost: u64,
    /// Of those, dropped by the kernel at the daemon's socket (its buffer was full).
    pub kernel_drops: u64,
    /// Lost at the sender (socket errors counted by the emitter).
    pub emitter_drops: u64,
    /// `lost - kernel_drops`: must be 0.
    pub unaccounted: u64,
    /// The daemon rejected any of them (must be 0).
    pub rejected: u64,
}

/// What the emission scenario found.
#[derive(Debug, Clone, Serialize)]
pub struct EmissionReport {
    /// Bytes per datagram.
    pub datagram_bytes: usize,
    /// Each offered rate.
    pub steps: Vec<Step>,
    /// The highest rate the daemon kept up with (received ≥ 99 % of sent).
    pub sustained_per_s: f64,
    /// Whether the kernel drop counter was readable (Linux `/proc/net/udp`).
    pub kernel_drops_readable: bool,
    /// Sum of `unaccounted` over the steps.
    pub unaccounted: u64,
}

/// A handler with 10 subsegments and a few annotations: a typical Lambda document.
fn typical_tree(tree: &mut EntityTree) -> xray_core::model::EntityIndex {
    tree.reset(TraceId::random());
    let t = Timestamp::now();
    let parent = xray_core::SegmentId::random();
    let h = tree.begin_detached_subsegment("## handler", parent, t);
    let _ = tree
        .entity_mut(h)
        .put_annotation("ColdStart", false)
        .and_then(|e| e.put_annotation("Service", "emission"));
    for i in 0..10u32 {
        let s = tree.begin_subsegment(h, "## step", t);
        let _ = tree.entity_mut(s).put_annotation("step", i);
        tree.end(s, t);
    }
    tree.end(h, t);
    h
}

/// Runs the scenario against `daemon`.
pub fn run(settings: &Settings, daemon: &FakeDaemon) -> EmissionReport {
    let emitter = Emitter::udp(daemon.addr(), xray_core::wire::DEFAULT_DATAGRAM_LIMIT);
    let rates: Vec<Option<u64>> = if settings.quick {
        vec![Some(1_000), Some(5_000), None]
    } else {
        vec![
            Some(1_000),
            Some(2_000),
            Some(5_000),
            Some(10_000),
            Some(20_000),
            Some(50_000),
            None,
        ]
    };
    let per_step = settings.duration.div_f64(rates.len() as f64);
    let mut tree = EntityTree::new(TraceId::NOOP);
    let mut buf = EmitBuffer::new();
    let root = typical_tree(&mut tree);
    let mut probe = Vec::new();
    xray_core::wire::write_document(&tree, root, &mut probe);
    let datagram_bytes = probe.len() + xray_core::wire::DATAGRAM_HEADER.len();

    let mut steps = Vec::new();
    let mut readable = true;
    for rate in rates {
        daemon.clear();
        let before_daemon = daemon.stats();
        let before_emitter = emitter.stats();
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < per_step {
            if let Some(r) = rate {
                // Pace: stay at or below `r` per second.
                let due = (start.elapsed().as_secs_f64() * r as f64) as u64;
                if n >= due {
                    std::thread::sleep(Duration::from_micros(200));
                    continue;
                }
            }
            let root = typical_tree(&mut tree);
            emitter.emit(&mut tree, root, &mut buf);
            n += 1;
        }
        let elapsed = start.elapsed().as_secs_f64();
        let sent = emitter.stats().since(&before_emitter);
        wait_accounted(daemon, &before_daemon, sent.datagrams_handed_to_kernel);
        let got = daemon.stats();
        let received = got.datagrams_received - before_daemon.datagrams_received;
        let kernel = match (got.kernel_drops, before_daemon.kernel_drops) {
            (Some(a), Some(b)) => a - b,
            _ => {
                readable = false;
                0
            }
        };
        let lost = sent.datagrams_handed_to_kernel.saturating_sub(received);
        let step = Step {
            offered_per_s: rate,
            sent_per_s: sent.datagrams_handed_to_kernel as f64 / elapsed,
            received_per_s: received as f64 / elapsed,
            received_bytes_per_s: (got.bytes_received - before_daemon.bytes_received) as f64
                / elapsed,
            sent: sent.datagrams_handed_to_kernel,
            received,
            lost,
            kernel_drops: kernel,
            emitter_drops: sent.datagrams_known_lost(),
            unaccounted: if readable {
                lost.saturating_sub(kernel)
            } else {
                0
            },
            rejected: got.rejected - before_daemon.rejected,
        };
        settings.progress(&format!(
            "emission: offered {}: sent {:.0}/s, received {:.0}/s, lost {} (kernel {}), unaccounted {}",
            rate.map_or_else(|| "max".to_owned(), |r| format!("{r}/s")),
            step.sent_per_s,
            step.received_per_s,
            step.lost,
            step.kernel_drops,
            step.unaccounted
        ));
        steps.push(step);
    }
    let sustained_per_s = steps
        .iter()
        .filter(|s| s.received as f64 >= 0.99 * s.sent as f64)
        .map(|s| s.received_per_s)
        .fold(0.0, f64::max);
    let unaccounted = steps.iter().map(|s| s.unaccounted).sum();
    EmissionReport {
        datagram_bytes,
        steps,
        sustained_per_s,
        kernel_drops_readable: readable,
        unaccounted,
    }
}

/// Waits until every datagram sent is either received or dropped by the kernel, so what is
/// still queued at the daemon's socket is not mistaken for a loss; then until the count stops
/// moving, in case more arrive than were counted. Gives up after 30 s: whatever is missing then
/// is reported as unaccounted.
fn wait_accounted(daemon: &FakeDaemon, before: &DaemonStats, sent: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let accounted = |s: &DaemonStats| {
        let received = s.datagrams_received - before.datagrams_received;
        let drops = match (s.kernel_drops, before.kernel_drops) {
            (Some(a), Some(b)) => a - b,
            _ => 0,
        };
        received + drops
    };
    while accounted(&daemon.stats()) < sent && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut last = daemon.stats().datagrams_received;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = daemon.stats().datagrams_received;
        if now == last || Instant::now() > deadline {
            return;
        }
        last = now;
    }
}
