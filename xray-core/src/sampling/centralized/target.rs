//! One centralized rule's live state: the target the service assigned (rate, quota and its
//! expiry), the per-second reservoir, and the counts reported back.
//!
//! Everything is an atomic so the poller can apply a new target while requests are being
//! decided, and the state outlives rules refreshes: a rule that keeps its name keeps its
//! quota and unreported counts.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::striped::StripedCounter;
use super::wire::{TargetDocument, seconds_to_micros};
use crate::sampling::random::Draw;
use crate::sampling::{Outcome, Reason, Reservoir, RuleName};
use crate::time::Timestamp;

/// How often a rule is reported until the service says otherwise (seconds).
const DEFAULT_REPORT_INTERVAL: u64 = 10;

#[derive(Debug)]
pub(crate) struct RuleState {
    name: Box<str>,
    label: RuleName,
    /// Reservoir size as defined in the rule; borrowing is allowed only when it is not 0.
    reservoir_size: AtomicU64,
    /// `f64` bits.
    rate: AtomicU64,
    /// The rule's own `FixedRate` (`f64` bits), to tell a changed definition from a
    /// target-assigned rate on refresh.
    defined_rate: AtomicU64,
    quota: AtomicU64,
    /// When the quota stops being valid (epoch µs); 0 = no quota yet.
    quota_expires: AtomicU64,
    report_interval: AtomicU64,
    /// When the counts were last reported (epoch µs); 0 = never.
    last_report: AtomicU64,
    /// Tracks this second's takes, against the quota or the one-a-second borrow.
    reservoir: Reservoir,
    requests: StripedCounter,
    sampled: StripedCounter,
    borrowed: StripedCounter,
}

/// Counts taken for one report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Counts {
    pub(crate) requests: u64,
    pub(crate) sampled: u64,
    pub(crate) borrowed: u64,
}

impl RuleState {
    pub(crate) fn new(name: &str, fixed_rate: f64, reservoir_size: u64) -> RuleState {
        RuleState {
            name: name.into(),
            label: RuleName::new(name),
            reservoir_size: AtomicU64::new(reservoir_size),
            rate: AtomicU64::new(fixed_rate.to_bits()),
            defined_rate: AtomicU64::new(fixed_rate.to_bits()),
            quota: AtomicU64::new(0),
            quota_expires: AtomicU64::new(0),
            report_interval: AtomicU64::new(DEFAULT_REPORT_INTERVAL),
            last_report: AtomicU64::new(0),
            reservoir: Reservoir::new(0),
            requests: StripedCounter::default(),
            sampled: StripedCounter::default(),
            borrowed: StripedCounter::default(),
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Takes a refreshed definition. A changed `FixedRate` replaces the current rate; an
    /// unchanged one leaves a rate assigned by a target in place.
    pub(crate) fn redefine(&self, fixed_rate: f64, reservoir_size: u64) {
        let bits = fixed_rate.to_bits();
        if self.defined_rate.swap(bits, Relaxed) != bits {
            self.rate.store(bits, Relaxed);
        }
        self.reservoir_size.store(reservoir_size, Relaxed);
    }

    /// Decides for a request this rule matched.
    ///
    /// With a valid quota, the first `quota` requests of each second are sampled; without
    /// one (none assigned yet, or expired), one request a second is borrowed if the rule
    /// has a reservoir at all. The rest are sampled at the rule's rate.
    #[inline]
    pub(crate) fn sample(&self, now: Timestamp, draw: &Draw) -> Outcome {
        self.requests.increment();
        let expires = self.quota_expires.load(Relaxed);
        let quota_valid = expires != 0 && now.as_micros() <= expires;
        let reason = if quota_valid {
            let quota = u32::try_from(self.quota.load(Relaxed)).unwrap_or(u32::MAX);
            if self.reservoir.take_up_to(now.seconds(), quota) {
                Reason::Reservoir
            } else {
                self.by_rate(draw)
            }
        } else if self.reservoir_size.load(Relaxed) != 0
            && self.reservoir.take_up_to(now.seconds(), 1)
        {
            Reason::Borrowed
        } else {
            self.by_rate(draw)
        };
        match reason {
            Reason::Borrowed => self.borrowed.increment(),
            Reason::Reservoir | Reason::Rate => self.sampled.increment(),
            Reason::NotSampled => {}
        }
        Outcome::new(reason, Some(self.label))
    }

    #[inline]
    fn by_rate(&self, draw: &Draw) -> Reason {
        if draw.below(f64::from_bits(self.rate.load(Relaxed))) {
            Reason::Rate
        } else {
            Reason::NotSampled
        }
    }

    /// Applies what the service assigned. Absent fields leave the current value.
    pub(crate) fn apply(&self, target: &TargetDocument) {
        if let Some(rate) = target.fixed_rate.filter(|r| (0.0..=1.0).contains(r)) {
            self.rate.store(rate.to_bits(), Relaxed);
        }
        if let Some(quota) = target.reservoir_quota {
            self.quota.store(quota, Relaxed);
        }
        if let Some(ttl) = target.reservoir_quota_ttl {
            self.quota_expires.store(seconds_to_micros(ttl), Relaxed);
        }
        if let Some(interval) = target.interval {
            self.report_interval.store(interval, Relaxed);
        }
    }

    /// Takes the counts for a report if the rule saw requests and its report interval has
    /// passed; otherwise leaves them to accumulate.
    pub(crate) fn take_counts(&self, now: Timestamp) -> Option<Counts> {
        if self.requests.sum() == 0 {
            return None;
        }
        let interval = self.report_interval.load(Relaxed).saturating_mul(1_000_000);
        let last = self.last_report.load(Relaxed);
        if last != 0 && now.as_micros() < last.saturating_add(interval) {
            return None;
        }
        self.last_report.store(now.as_micros().max(1), Relaxed);
        Some(Counts {
            requests: self.requests.take(),
            sampled: self.sampled.take(),
            borrowed: self.borrowed.take(),
        })
    }

    /// Puts back counts whose report never reached the service.
    pub(crate) fn restore(&self, c: Counts) {
        self.requests.add(c.requests);
        self.sampled.add(c.sampled);
        self.borrowed.add(c.borrowed);
        self.last_report.store(0, Relaxed);
    }

    #[cfg(test)]
    pub(crate) fn counts(&self) -> Counts {
        Counts {
            requests: self.requests.sum(),
            sampled: self.sampled.sum(),
            borrowed: self.borrowed.sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::ManualClock;

    const T0: u64 = 1_700_000_000_000_000;

    fn target(quota: u64, ttl_secs: f64, rate: f64) -> TargetDocument {
        TargetDocument {
            rule_name: "r".into(),
            fixed_rate: Some(rate),
            reservoir_quota: Some(quota),
            reservoir_quota_ttl: Some(ttl_secs),
            interval: Some(10),
        }
    }

    #[test]
    fn borrows_one_a_second_until_a_quota_arrives() {
        let clock = ManualClock::new(Timestamp::from_micros(T0));
        let draw = Draw::seeded(1);
        let r = RuleState::new("r", 0.0, 5);
        let reasons: Vec<Reason> = (0..3)
            .map(|_| r.sample(clock.now(), &draw).reason)
            .collect();
        assert_eq!(
            reasons,
            [Reason::Borrowed, Reason::NotSampled, Reason::NotSampled]
        );
        clock.advance_micros(1_000_000);
        assert_eq!(r.sample(clock.now(), &draw).reason, Reason::Borrowed);
        assert_eq!(
            r.counts(),
            Counts {
                requests: 4,
                sampled: 0,
                borrowed: 2
            }
        );
        assert_eq!(r.sample(clock.now(), &draw).rule_name.unwrap(), "r");
    }

    #[test]
    fn no_borrowing_when_the_rule_has_no_reservoir() {
        let clock = ManualClock::new(Timestamp::from_micros(T0));
        let r = RuleState::new("r", 1.0, 0);
        let o = r.sample(clock.now(), &Draw::seeded(1));
        assert_eq!(o.reason, Reason::Rate);
        assert_eq!(r.counts().sampled, 1);
    }

    #[test]
    fn quota_applies_until_its_ttl_then_borrowing_resumes() {
        let clock = ManualClock::new(Timestamp::from_micros(T0));
        let draw = Draw::seeded(1);
        let r = RuleState::new("r", 0.0, 1);
        let t0 = T0 as f64 / 1e6;
        r.apply(&target(3, t0 + 60.0, 0.0));
        let taken = (0..10)
            .filter(|_| r.sample(clock.now(), &draw).reason == Reason::Reservoir)
            .count();
        assert_eq!(taken, 3);
        clock.advance_micros(61_000_000);
        let reasons: Vec<Reason> = (0..2)
            .map(|_| r.sample(clock.now(), &draw).reason)
            .collect();
        assert_eq!(
            reasons,
            [Reason::Borrowed, Reason::NotSampled],
            "quota expired"
        );
    }

    #[test]
    fn reports_only_rules_with_requests_once_per_interval() {
        let clock = ManualClock::new(Timestamp::from_micros(T0));
        let draw = Draw::seeded(1);
        let r = RuleState::new("r", 1.0, 0);
        assert_eq!(r.take_counts(clock.now()), None, "no requests");
        r.sample(clock.now(), &draw);
        let c = r.take_counts(clock.now()).unwrap();
        assert_eq!((c.requests, c.sampled), (1, 1));
        r.sample(clock.now(), &draw);
        clock.advance_micros(9_000_000);
        assert_eq!(r.take_counts(clock.now()), None, "interval not over");
        clock.advance_micros(1_000_000);
        let c = r.take_counts(clock.now()).unwrap();
        r.restore(c);
        assert_eq!(
            r.take_counts(clock.now()),
            Some(c),
            "restored counts report again"
        );
    }

    #[test]
    fn redefinition_keeps_an_assigned_rate_unless_the_rule_changed() {
        let clock = ManualClock::new(Timestamp::from_micros(T0));
        let draw = Draw::seeded(1);
        let r = RuleState::new("r", 0.0, 0);
        r.apply(&target(0, 0.0, 1.0));
        r.redefine(0.0, 0);
        assert!(r.sample(clock.now(), &draw).sampled, "assigned rate kept");
        r.redefine(0.5, 0);
        r.redefine(0.0, 0);
        assert!(!r.sample(clock.now(), &draw).sampled, "new definition wins");
    }
}
