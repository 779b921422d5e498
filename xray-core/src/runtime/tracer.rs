//! The tracer: configuration, the emitter, the clock and the pool of invocation recordings.
//!
//! One tracer serves the whole process (see [`global`]); the state of each invocation lives in
//! a recording taken from the tracer's pool for that invocation only, never in the tracer.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll};

use serde::Serialize;

use crate::config::{Config, ContextMissing};
use crate::emit::{Emitter, EmitterStats};
use crate::time::Clock;

use super::recording::Shared;

mod builder;

pub use builder::TracerBuilder;

/// Recordings kept for reuse; beyond this, extra concurrent invocations use fresh ones that
/// are dropped afterwards.
const POOL_LIMIT: usize = 256;

/// The process-wide tracing entry point: configuration, emitter, clock, and recycled
/// per-invocation recordings.
///
/// ```
/// use xray_core::{Config, Tracer, wire::Emitter};
///
/// let (emitter, _sink) = Emitter::memory(xray_core::wire::DEFAULT_DATAGRAM_LIMIT);
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
    pool: Mutex<Vec<Arc<Shared>>>,
    cold_start: AtomicBool,
    counters: Arc<TracerCounters>,
}

#[derive(Debug, Default)]
pub(crate) struct TracerCounters {
    pub(crate) invocations_sampled: AtomicU64,
    pub(crate) invocations_unsampled: AtomicU64,
    pub(crate) invocations_without_header: AtomicU64,
    pub(crate) malformed_headers: AtomicU64,
    pub(crate) context_missing: AtomicU64,
    pub(crate) recordings_allocated: AtomicU64,
    pub(crate) calls_reentrant: AtomicU64,
    pub(crate) entries_after_send: AtomicU64,
    pub(crate) invocations_near_deadline: AtomicU64,
}

/// A snapshot of what the tracer has done, including its emitter's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TracerStats {
    /// Invocations recorded (`Sampled=1` with `Root` and `Parent`), and service requests
    /// recorded (see `service::ServiceTracer`, feature `service`).
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
    /// SDK calls refused with [`RecordError::Reentrant`](crate::RecordError::Reentrant): made
    /// from inside a closure that held the recording.
    pub calls_reentrant: u64,
    /// Entries refused with [`RecordError::AlreadySent`](crate::RecordError::AlreadySent):
    /// recorded through a kept handle after the entity's document was sent.
    pub entries_after_send: u64,
    /// Invocations still running shortly before their deadline, sent early as `in_progress`.
    pub invocations_near_deadline: u64,
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
                counters: Arc::default(),
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
            calls_reentrant: c.calls_reentrant.load(Relaxed),
            entries_after_send: c.entries_after_send.load(Relaxed),
            invocations_near_deadline: c.invocations_near_deadline.load(Relaxed),
            emitter: self.inner.emitter.stats(),
        }
    }

    pub(crate) fn counters(&self) -> &TracerCounters {
        &self.inner.counters
    }

    /// True for the first invocation of the process (never under provisioned concurrency).
    pub(crate) fn take_cold_start(&self) -> bool {
        // Read before swapping: after the first invocation this is a plain load, not a
        // locked write to a line every invocation's thread shares.
        let flag = &self.inner.cold_start;
        let first = flag.load(Relaxed) && flag.swap(false, Relaxed);
        first && !self.inner.config.provisioned_concurrency
    }

    /// A recording no other invocation is using, emptied. Only allocates while the pool grows.
    pub(crate) fn acquire(&self) -> Arc<Shared> {
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
        let fresh = Arc::new(Shared::new(
            self.inner.emitter.clone(),
            self.inner.clock.clone(),
            Arc::clone(&self.inner.counters),
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
        self.inner.counters.context_missing.fetch_add(1, Relaxed);
        // Every mode but IGNORE_ERROR logs, rate-limited (see `ContextMissing::RuntimeError`).
        if self.inner.config.context_missing != ContextMissing::IgnoreError {
            crate::config::CONTEXT_MISSING_LOG.log(format_args!(
                "no trace in scope: `{what}` is not recorded (call it inside a \
                 #[capture_lambda_handler] handler, or pass a Handle to other tasks and threads)"
            ));
        }
    }
}

thread_local! {
    /// The tracer scoped by [`Tracer::in_scope`] / [`Tracer::scope_future`] on this thread.
    static SCOPED: RefCell<Option<Tracer>> = const { RefCell::new(None) };
}

impl Tracer {
    /// Starts configuring a tracer: the configuration from the environment unless given,
    /// UDP to its daemon address unless an emitter is given, the system clock.
    ///
    /// ```
    /// use xray_core::{Config, Tracer, wire::Emitter};
    ///
    /// let (emitter, _sink) = Emitter::memory(xray_core::wire::DEFAULT_DATAGRAM_LIMIT);
    /// let tracer = Tracer::builder()
    ///     .config(Config::default())
    ///     .service_name("orders")
    ///     .capture_response(false)
    ///     .emitter(emitter)
    ///     .build();
    /// assert_eq!(tracer.config().service_name, "orders");
    /// ```
    pub fn builder() -> TracerBuilder {
        TracerBuilder::default()
    }

    /// Makes `self` the tracer the macros, the manual API and the context-missing strategy
    /// use on this thread while `f` runs (before [`global`]).
    ///
    /// ```
    /// use xray_core::{Config, Tracer, wire::Emitter};
    ///
    /// let (emitter, _sink) = Emitter::memory(xray_core::wire::DEFAULT_DATAGRAM_LIMIT);
    /// let tracer = Tracer::with_emitter(Config::default(), emitter);
    /// tracer.in_scope(|| xray_core::put_annotation("outside", "a trace"));
    /// assert_eq!(tracer.stats().context_missing, 1);
    /// ```
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let mut slot = Some(self.clone());
        let _scoped = ScopedGuard::new(&mut slot);
        f()
    }

    /// Wraps `future` so every poll runs with `self` as the scoped tracer (see
    /// [`Tracer::in_scope`]).
    pub fn scope_future<F: Future>(&self, future: F) -> ScopedFuture<F> {
        ScopedFuture {
            future,
            tracer: Some(self.clone()),
        }
    }
}

/// Puts a scoped tracer in place and takes it back out when dropped.
struct ScopedGuard<'a> {
    slot: &'a mut Option<Tracer>,
}

impl<'a> ScopedGuard<'a> {
    fn new(slot: &'a mut Option<Tracer>) -> ScopedGuard<'a> {
        SCOPED.with(|s| std::mem::swap(&mut *s.borrow_mut(), slot));
        ScopedGuard { slot }
    }
}

impl Drop for ScopedGuard<'_> {
    fn drop(&mut self) {
        SCOPED.with(|s| std::mem::swap(&mut *s.borrow_mut(), self.slot));
    }
}

pin_project_lite::pin_project! {
    /// A future polled with a scoped tracer (see [`Tracer::scope_future`]).
    #[derive(Debug)]
    pub struct ScopedFuture<F> {
        #[pin]
        future: F,
        tracer: Option<Tracer>,
    }
}

impl<F: Future> Future for ScopedFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _scoped = ScopedGuard::new(this.tracer);
        this.future.poll(cx)
    }
}

/// Runs `f` with the tracer in scope: the scoped one, else [`global`].
pub(crate) fn with_tracer<R>(f: impl FnOnce(&Tracer) -> R) -> R {
    let scoped = SCOPED.with(|s| s.borrow().clone());
    match scoped {
        Some(t) => f(&t),
        None => f(global()),
    }
}

/// Called when a recording API finds no trace at all.
#[cold]
#[inline(never)]
pub(crate) fn context_missing(what: &str) {
    with_tracer(|t| t.context_missing(what));
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
