//! Centralized sampling: rules and quotas from the X-Ray service, fetched through the
//! daemon's TCP proxy by a background thread.

mod client;
mod poller;
mod response;
mod rule_set;
mod stats;
mod striped;
mod target;
mod wire;

#[cfg(test)]
pub(crate) mod stand_in;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use stats::CentralizedStats;

use self::client::HttpClient;
use self::rule_set::Published;
use self::stats::{Counters, Failure, FailureLog};
use super::local::LocalSampler;
use super::random::Draw;
use super::{Outcome, SamplingRequest};
use crate::time::{Clock, Timestamp};

/// Timing and test hooks for a [`CentralizedSampler`]. The defaults follow the other SDKs.
///
/// ```
/// use std::time::Duration;
/// use xray_core::sampling::CentralizedOptions;
/// let fast = CentralizedOptions {
///     targets_interval: Duration::from_secs(5),
///     ..CentralizedOptions::default()
/// };
/// assert_eq!(fast.rules_interval, Duration::from_secs(300));
/// ```
///
/// Not `#[non_exhaustive]` on purpose: callers build it with a struct literal and
/// `..Default::default()`, which that attribute forbids outside this crate.
#[derive(Debug, Clone)]
pub struct CentralizedOptions {
    /// How often rules are fetched: 300 s.
    pub rules_interval: Duration,
    /// Up to this much is taken off each rules interval at random (5 s), so a fleet
    /// started together does not poll together.
    pub rules_jitter: Duration,
    /// How often statistics are reported and targets fetched: 10 s. Until the first rules
    /// arrive, rules are retried at this pace too rather than every 5 minutes.
    pub targets_interval: Duration,
    /// Up to this much is taken off each targets interval at random (100 ms).
    pub targets_jitter: Duration,
    /// The most one call may take, connecting, writing and reading together (2 s). Also
    /// bounds how long [`CentralizedSampler::shutdown`] can wait for a call in flight.
    pub timeout: Duration,
    /// Rules older than this are no longer trusted and the fallback decides (1 hour).
    pub manifest_ttl: Duration,
    /// The clock for reservoirs, quota expiry, report intervals and the manifest TTL
    /// (the poller's own waits use real time).
    pub clock: Clock,
    /// Reproducible `rate` draws for tests (see [`LocalSampler::with_seed`]).
    pub seed: Option<u64>,
}

impl Default for CentralizedOptions {
    fn default() -> Self {
        CentralizedOptions {
            rules_interval: Duration::from_secs(300),
            rules_jitter: Duration::from_secs(5),
            targets_interval: Duration::from_secs(10),
            targets_jitter: Duration::from_millis(100),
            timeout: Duration::from_secs(2),
            manifest_ttl: Duration::from_secs(3600),
            clock: Clock::System,
            seed: None,
        }
    }
}

/// Applies the sampling rules configured in X-Ray, with a local fallback.
///
/// [`start`](CentralizedSampler::start) spawns one thread that fetches the rules at once and
/// then every five minutes, and reports each rule's counts every ten seconds in exchange
/// for its quota. [`decide`](CentralizedSampler::decide) never waits for that thread: until
/// rules arrive, after they are an hour old, or for requests no rule matches, the
/// `fallback` sampler decides. The matched rule's name is in [`Outcome::rule_name`].
///
/// Rules are used when they are version 1, apply to every resource (`ResourceARN` `*`) and
/// have no attributes; they are tried by priority, then name, matching the request's
/// service name and type as well as host, method and path.
///
/// Failures (refused connections, timeouts, error statuses, bad answers) never reach the
/// caller: they are counted in [`stats`](CentralizedSampler::stats) and the first of each
/// kind is logged to stderr.
///
/// Dropping the sampler stops the thread (see [`shutdown`](CentralizedSampler::shutdown)).
/// Each thread that calls `decide` keeps its own reference to the rule set it last used
/// (that is how `decide` avoids a lock), so a dropped sampler's rules are freed when those
/// threads next decide with another sampler or exit.
///
/// Centralized sampling is for long-running services; in Lambda the decision comes with
/// the invocation.
///
/// ```no_run
/// use xray_core::Config;
/// use xray_core::sampling::{CentralizedOptions, CentralizedSampler, LocalSampler, SamplingRequest};
///
/// let (config, _warnings) = Config::from_env();
/// let sampler = CentralizedSampler::start(
///     config.daemon.tcp,
///     LocalSampler::default(),
///     CentralizedOptions::default(),
/// );
/// let outcome = sampler.decide(&SamplingRequest {
///     service_name: Some("orders"),
///     ..SamplingRequest::http("orders.example.com", "GET", "/orders/17")
/// });
/// if let Some(rule) = outcome.rule_name {
///     println!("sampled={} by rule {rule}", outcome.sampled);
/// }
/// ```
#[derive(Debug)]
pub struct CentralizedSampler {
    shared: Arc<Shared>,
    poller: Mutex<Option<JoinHandle<()>>>,
}

/// State shared by the sampler and its poller thread.
#[derive(Debug)]
pub(crate) struct Shared {
    rules: Published,
    /// When rules were last fetched successfully (epoch µs on `clock`); 0 = never.
    last_refresh: AtomicU64,
    fallback: LocalSampler,
    clock: Clock,
    draw: Draw,
    manifest_ttl_micros: u64,
    counters: Counters,
    failures: FailureLog,
    /// Set when a targets answer says the rules changed.
    refresh_soon: AtomicBool,
    client: HttpClient,
    options: CentralizedOptions,
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl CentralizedSampler {
    /// Starts polling the daemon's sampling proxy at `proxy` (the `tcp` part of
    /// [`DaemonAddress`](crate::DaemonAddress)). Returns at once; never fails: if the
    /// thread cannot be started, the fallback decides and
    /// [`CentralizedStats::poller_start_failures`] says why.
    pub fn start(
        proxy: SocketAddr,
        fallback: LocalSampler,
        options: CentralizedOptions,
    ) -> CentralizedSampler {
        let draw = options.seed.map_or(Draw::Thread, Draw::seeded);
        let shared = Arc::new(Shared {
            rules: Published::new(),
            last_refresh: AtomicU64::new(0),
            fallback,
            clock: options.clock.clone(),
            draw,
            manifest_ttl_micros: u64::try_from(options.manifest_ttl.as_micros())
                .unwrap_or(u64::MAX),
            counters: Counters::default(),
            failures: FailureLog::default(),
            refresh_soon: AtomicBool::new(false),
            client: HttpClient::new(proxy, options.timeout),
            options,
            stopped: Mutex::new(false),
            wake: Condvar::new(),
        });
        let poller = match poller::spawn(Arc::clone(&shared)) {
            Ok(handle) => Some(handle),
            Err(e) => {
                shared.record_failure(Failure::PollerStart, "starting the poller thread", &e);
                None
            }
        };
        CentralizedSampler {
            shared,
            poller: Mutex::new(poller),
        }
    }

    /// Decides whether to sample `request`: the first matching centralized rule, or the
    /// fallback. Never blocks on the network, never allocates, and takes no lock except
    /// once per thread after each rules refresh.
    #[inline]
    pub fn decide(&self, request: &SamplingRequest<'_>) -> Outcome {
        let s = &*self.shared;
        let now = s.clock.now();
        if s.rules_usable(now)
            && let Some(outcome) = s.rules.decide(request, now, &s.draw)
        {
            return outcome;
        }
        s.fallback.decide_at(request, now)
    }

    /// The counters, plus the current rule count and whether the fallback is deciding.
    pub fn stats(&self) -> CentralizedStats {
        let s = &*self.shared;
        let mut stats = s.counters.snapshot();
        stats.rules_loaded = s.rules.snapshot().rules.len() as u64;
        let last = s.last_refresh.load(Relaxed);
        stats.last_refresh = (last != 0).then_some(Timestamp::from_micros(last));
        // Fresh rules that are all unusable (or none at all) decide nothing either.
        stats.using_fallback = stats.rules_loaded == 0 || !s.rules_usable(s.clock.now());
        stats
    }

    /// The fallback sampler.
    pub fn fallback(&self) -> &LocalSampler {
        &self.shared.fallback
    }

    /// Stops the poller thread and waits for it. A call in flight finishes first, so this
    /// returns within [`CentralizedOptions::timeout`]. Decisions go on with the rules
    /// already fetched (until they expire). Calling it again does nothing.
    pub fn shutdown(&self) {
        self.shared.stop();
        let handle = self
            .poller
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            // A panicking poller has nothing left to clean up; the error carries nothing
            // the caller could act on.
            let _ = handle.join();
        }
    }
}

impl Drop for CentralizedSampler {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Shared {
    #[inline]
    fn rules_usable(&self, now: Timestamp) -> bool {
        let last = self.last_refresh.load(Relaxed);
        last != 0 && now.as_micros().saturating_sub(last) <= self.manifest_ttl_micros
    }

    fn record_failure(&self, kind: Failure, what: &str, detail: &dyn std::fmt::Display) {
        self.failures
            .record(&self.counters, kind, self.client.addr(), what, detail);
    }

    fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_all();
    }

    /// Sleeps until `until`, a stop, or an early-refresh request; true if stopped.
    fn sleep_until(&self, until: Instant) -> bool {
        let mut stopped = self.stopped.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if *stopped {
                return true;
            }
            if self.refresh_soon.load(Relaxed) {
                return false;
            }
            let Some(left) = until.checked_duration_since(Instant::now()) else {
                return false;
            };
            if left.is_zero() {
                return false;
            }
            stopped = self
                .wake
                .wait_timeout(stopped, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn is_stopped(&self) -> bool {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
