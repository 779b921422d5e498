//! What the poller did and what went wrong, counted with atomics; each kind of failure is
//! logged to stderr once per sampler and only counted after that.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use super::client::CallError;
use crate::time::Timestamp;

macro_rules! counters {
    ($( $(#[$doc:meta])* $name:ident, )*) => {
        #[derive(Debug, Default)]
        pub(crate) struct Counters {
            $( pub(crate) $name: AtomicU64, )*
        }

        /// A copy of a [`CentralizedSampler`](super::CentralizedSampler)'s counters.
        ///
        /// ```
        /// use xray_core::sampling::{CentralizedOptions, CentralizedSampler, LocalSampler};
        /// // Nothing listens on port 9 of localhost: the sampler falls back and counts why.
        /// let s = CentralizedSampler::start(
        ///     "127.0.0.1:9".parse().unwrap(),
        ///     LocalSampler::default(),
        ///     CentralizedOptions::default(),
        /// );
        /// let stats = s.stats();
        /// assert!(stats.using_fallback);
        /// assert_eq!(stats.rules_loaded, 0);
        /// ```
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct CentralizedStats {
            $( $(#[$doc])* pub $name: u64, )*
            /// Rules in the current set.
            pub rules_loaded: u64,
            /// When rules were last fetched successfully.
            pub last_refresh: Option<Timestamp>,
            /// Decisions currently come from the fallback sampler (no rules yet, none of the
            /// rules fetched usable, or the last refresh older than the manifest TTL).
            pub using_fallback: bool,
        }

        impl Counters {
            pub(crate) fn snapshot(&self) -> CentralizedStats {
                CentralizedStats {
                    $( $name: self.$name.load(Relaxed), )*
                    ..CentralizedStats::default()
                }
            }
        }
    };
}

counters! {
    /// `GetSamplingRules` calls made.
    rules_requests,
    /// `GetSamplingRules` calls that produced a rule set.
    rules_refreshes,
    /// Rule records ignored: not version 1, a specific `ResourceARN`, `Attributes`, or
    /// malformed.
    rules_skipped,
    /// Refreshes brought forward by `LastRuleModification` or unprocessed statistics.
    early_refreshes,
    /// `SamplingTargets` calls made.
    targets_requests,
    /// `SamplingTargets` calls answered with targets.
    targets_reports,
    /// Statistics documents sent (one per rule per report).
    statistics_documents,
    /// Statistics the service answered as unprocessed.
    unprocessed_statistics,
    /// Calls that could not connect (refused, unreachable).
    connect_failures,
    /// Calls that ran out of time.
    timeouts,
    /// Calls answered 4xx.
    client_errors,
    /// Calls answered 5xx (or any other non-2xx status).
    server_errors,
    /// Answers that were not HTTP, or not the JSON expected.
    bad_responses,
    /// Connections that broke mid-call.
    io_errors,
    /// The background thread could not be started (decisions stay on the fallback).
    poller_start_failures,
}

impl CentralizedStats {
    /// Failed calls of every kind.
    pub fn failures(&self) -> u64 {
        self.connect_failures
            + self.timeouts
            + self.client_errors
            + self.server_errors
            + self.bad_responses
            + self.io_errors
    }
}

/// The kinds of failure, each logged once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    Connect,
    Timeout,
    ClientError,
    ServerError,
    BadResponse,
    Io,
    PollerStart,
    Unprocessed,
}

impl Failure {
    const COUNT: usize = 8;

    pub(crate) fn of(e: &CallError) -> Failure {
        match e {
            CallError::Connect(_) => Failure::Connect,
            CallError::Timeout => Failure::Timeout,
            CallError::Io(_) => Failure::Io,
            CallError::Status(s) if (400..500).contains(s) => Failure::ClientError,
            CallError::Status(_) => Failure::ServerError,
            CallError::BadResponse(_) => Failure::BadResponse,
        }
    }

    fn counter(self, c: &Counters) -> &AtomicU64 {
        match self {
            Failure::Connect => &c.connect_failures,
            Failure::Timeout => &c.timeouts,
            Failure::ClientError => &c.client_errors,
            Failure::ServerError => &c.server_errors,
            Failure::BadResponse => &c.bad_responses,
            Failure::Io => &c.io_errors,
            Failure::PollerStart => &c.poller_start_failures,
            Failure::Unprocessed => &c.unprocessed_statistics,
        }
    }
}

/// Counts failures and logs the first of each kind.
#[derive(Debug, Default)]
pub(crate) struct FailureLog {
    logged: [AtomicBool; Failure::COUNT],
}

impl FailureLog {
    pub(crate) fn record(
        &self,
        counters: &Counters,
        kind: Failure,
        proxy: SocketAddr,
        what: &str,
        detail: &dyn std::fmt::Display,
    ) {
        kind.counter(counters).fetch_add(1, Relaxed);
        if !self.logged[kind as usize].swap(true, Relaxed) {
            eprintln!(
                "xray: sampling proxy {proxy}: {what}: {detail} \
                 (later failures of this kind are only counted; see CentralizedSampler::stats)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_failure_and_logs_each_kind_once() {
        let c = Counters::default();
        let log = FailureLog::default();
        let addr: SocketAddr = "127.0.0.1:2000".parse().unwrap();
        for e in [
            CallError::Status(404),
            CallError::Status(503),
            CallError::Status(404),
            CallError::Timeout,
            CallError::BadResponse("x".into()),
            CallError::Io(std::io::ErrorKind::ConnectionReset),
            CallError::Connect(std::io::ErrorKind::ConnectionRefused),
        ] {
            log.record(&c, Failure::of(&e), addr, "GetSamplingRules", &e);
        }
        let s = c.snapshot();
        assert_eq!((s.client_errors, s.server_errors, s.timeouts), (2, 1, 1));
        assert_eq!(s.failures(), 7);
        let logged = log.logged.iter().filter(|b| b.load(Relaxed)).count();
        assert_eq!(logged, 6);
    }
}
