//! The tracer: configuration, the emitter, the clock and the pool of invocation recordings.
//!
//! One tracer serves the whole process (see [`global`]); the state of each invocation lives in
//! a recording taken from the tracer's pool for that invocation only, never in the tracer.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use serde::Serialize;

use crate::config::{Config, ContextMissing};
use crate::emit::{Emitter, EmitterStats};
use crate::time::Clock;

use super::state::InvocationState;

/// Recordings kept for reuse; beyond this, extra concurrent invocations use fresh ones that
/// are dropped afterwards.
const POOL_LIMIT: usize = 256;

/// Context-missing messages written to stderr before going quiet (the count goes on).
const CONTEXT_MISSING_LOG_LIMIT: u64 = 10;

/// The process-wide tracing entry point: configuration, emitter, clock, and recycled
/// per-invocation recordings.
///
/// ```
/// use xray_core::{Config, Emitter, Tracer};
///
/// let (emitter, _sink) = Emitter::memory(xray_core::DEFAULT_DATAGRAM_LIMIT);
/// let tracer = Tracer::with_emitter(Config::default(), emitter);
/// assert!(!tracer.config().disabled);
/// assert_eq!(tracer.stats().invocations_sampled, 0);
/// ```
#[derive(Debug, Clone)]
pub struct Tracer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    emitter: Emitter,
    clock: Clock,
    pool: Mutex<Vec<Arc<InvocationState>>>,
    cold_start: AtomicBool,
    counters: TracerCounters,
}

#[derive(Debug, Default)]
pub(crate) struct TracerCounters {
    pub(crate) invocations_sampled: AtomicU64,
    pub(crate) invocations_unsampled: AtomicU64,
    pub(crate) invocations_without_header: AtomicU64,
    pub(crate) malformed_headers: AtomicU64,
    pub(crate) context_missing: AtomicU64,
    pub(crate) recordings_allocated: AtomicU64,
}

/// A snapshot of what the tracer has done, including its emitter's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TracerStats {
    /// Invocations recorded (`Sampled=1` with `Root` and `Parent`), and service requests
    /// recorded (see [`ServiceTracer`](crate::ServiceTracer)).
    pub invocations_sampled: u64,
    /// Invocations not recorded because the header said so (`Sampled=0`, `?`, no `Parent`),
    /// and service requests not recorded (by the header or the sampler).
    pub invocations_unsampled: u64,
    /// Invocations with no trace header at all (the context-missing strategy applied).
    pub invocations_without_header: u64,
    /// Headers with an unreadable `Root`, `Parent` or `Sampled` field.
    pub malformed_headers: u64,
    /// Recording calls made with no trace in scope.
    pub context_missing: u64,
    /// Recordings allocated (the pool reuses them; this stops growing once warm).
    pub recordings_allocated: u64,
    /// The emitter's counters.
    pub emitter: EmitterStats,
}

impl Tracer {
    /// A tracer for `config`, sending to `config.daemon.udp` or as `config.output` says (or
    /// nothing when `config.disabled`). A socket that cannot be opened is reported on stderr and counted.
    pub fn new(config: Config) -> Tracer {
        let emitter = if config.disabled {
            Emitter::disabled()
        } else {
            Emitter::for_config(&config)
        };
        if let Some(e) = emitter.open_error() {
            eprintln!("[xray] {e}; segments will be counted as dropped");
        }
        Tracer::with_emitter(config, emitter)
    }

    /// A tracer with a given emitter (tests use `Emitter::memory`, feature `testing`).
    pub fn with_emitter(config: Config, emitter: Emitter) -> Tracer {
        Tracer::with_parts(config, emitter, Clock::System)
    }

    /// A tracer with a given emitter and clock.
    pub fn with_parts(config: Config, emitter: Emitter, clock: Clock) -> Tracer {
        let emitter = if config.disabled {
            Emitter::disabled()
        } else {
            emitter
        };
        Tracer {
            inner: Arc::new(Inner {
                config,
                emitter,
                clock,
                pool: Mutex::new(Vec::new()),
                cold_start: AtomicBool::new(true),
                counters: TracerCounters::default(),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The emitter.
    pub fn emitter(&self) -> &Emitter {
        &self.inner.emitter
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// What the tracer has done so far.
    pub fn stats(&self) -> TracerStats {
        let c = &self.inner.counters;
        TracerStats {
            invocations_sampled: c.invocations_sampled.load(Relaxed),
            invocations_unsampled: c.invocations_unsampled.load(Relaxed),
            invocations_without_header: c.invocations_without_header.load(Relaxed),
            malformed_headers: c.malformed_headers.load(Relaxed),
            context_missing: c.context_missing.load(Relaxed),
            recordings_allocated: c.recordings_allocated.load(Relaxed),
            emitter: self.inner.emitter.stats(),
        }
    }

    pub(crate) fn counters(&self) -> &TracerCounters {
        &self.inner.counters
    }

    /// True for the first invocation of the process (never under provisioned concurrency).
    pub(crate) fn take_cold_start(&self) -> bool {
        let first = self.inner.cold_start.swap(false, Relaxed);
        first && !self.inner.config.provisioned_concurrency
    }

    /// A recording no other invocation is using, emptied. Only allocates while the pool grows.
    pub(crate) fn acquire(&self) -> Arc<InvocationState> {
        let mut pool = self
            .inner
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Only the pool holds a free recording (count 1); handles to one in use can only be
        // cloned from other handles, so a count of 1 cannot rise while the pool is locked.
        if let Some(free) = pool.iter().find(|s| Arc::strong_count(s) == 1) {
            return Arc::clone(free);
        }
        self.inner
            .counters
            .recordings_allocated
            .fetch_add(1, Relaxed);
        let fresh = Arc::new(InvocationState::new(
            self.inner.emitter.clone(),
            self.inner.clock.clone(),
        ));
        if pool.len() < POOL_LIMIT {
            pool.push(Arc::clone(&fresh));
        }
        fresh
    }

    /// Applies the context-missing strategy for a call made with no trace in scope.
    #[cold]
    #[inline(never)]
    pub(crate) fn context_missing(&self, what: &str) {
        let n = self.inner.counters.context_missing.fetch_add(1, Relaxed) + 1;
        let log = match self.inner.config.context_missing {
            ContextMissing::IgnoreError => false,
            ContextMissing::LogError => n <= CONTEXT_MISSING_LOG_LIMIT,
            ContextMissing::RuntimeError => true,
        };
        if log {
            eprintln!(
                "[xray] no trace in scope: `{what}` is not recorded (call it inside a \
                 #[capture_lambda_handler] handler, or pass a Handle to other tasks and threads)"
            );
            if n == CONTEXT_MISSING_LOG_LIMIT
                && self.inner.config.context_missing == ContextMissing::LogError
            {
                eprintln!("[xray] further context-missing messages are counted, not logged");
            }
        }
    }
}

static GLOBAL: OnceLock<Tracer> = OnceLock::new();

/// The process-wide tracer, configured from the environment on first use. Configuration
/// warnings are written to stderr once.
///
/// ```
/// let tracer = xray_core::global();
/// let _ = tracer.config().service_name.as_str();
/// ```
pub fn global() -> &'static Tracer {
    GLOBAL.get_or_init(|| {
        let (config, warnings) = Config::from_env();
        for w in &warnings {
            eprintln!("[xray] {w}");
        }
        Tracer::new(config)
    })
}

/// Installs `tracer` as the process-wide tracer. Must happen before the first traced call;
/// afterwards the installed tracer is kept and `tracer` is handed back.
pub fn set_global(tracer: Tracer) -> Result<(), Tracer> {
    GLOBAL.set(tracer)
}
