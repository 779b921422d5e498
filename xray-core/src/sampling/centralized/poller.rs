//! The background thread: fetch rules, report statistics and take targets, sleep, repeat.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rand::Rng;

use super::Shared;
use super::client::CallError;
use super::rule_set::RuleSet;
use super::stats::Failure;
use super::target::{Counts, RuleState};
use super::wire::{self, StatisticsDocument};

/// Intervals shorter than this are raised to it, so a zero in the options cannot turn the
/// poller into a busy loop hammering the daemon.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

pub(crate) fn spawn(shared: Arc<Shared>) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("xray-sampling".into())
        .spawn(move || run(&shared))
}

fn run(s: &Shared) {
    let o = &s.options;
    let mut next_rules = Instant::now();
    let mut next_targets = after(jittered(o.targets_interval, o.targets_jitter));
    loop {
        if s.is_stopped() {
            return;
        }
        let early = s.refresh_soon.swap(false, Relaxed);
        if early || Instant::now() >= next_rules {
            refresh_rules(s);
            // Until rules have loaded once, keep trying at the faster pace: a service that
            // starts before its daemon should not wait five minutes for its rules.
            let interval = if s.last_refresh.load(Relaxed) == 0 {
                o.targets_interval
            } else {
                o.rules_interval
            };
            next_rules = after(jittered(interval, o.rules_jitter));
        }
        if Instant::now() >= next_targets {
            report(s);
            next_targets = after(jittered(o.targets_interval, o.targets_jitter));
        }
        if s.sleep_until(next_rules.min(next_targets)) {
            return;
        }
    }
}

/// `interval` less a random part of `jitter` (never more than the interval itself).
fn jittered(interval: Duration, jitter: Duration) -> Duration {
    let interval = interval.max(MIN_INTERVAL);
    let jitter = jitter.min(interval.saturating_sub(MIN_INTERVAL));
    let x: f64 = rand::rng().random();
    let off = Duration::from_nanos((jitter.as_nanos() as f64 * x) as u64);
    interval.saturating_sub(off)
}

fn after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(1 << 30)))
        .unwrap_or(now)
}

fn refresh_rules(s: &Shared) {
    const WHAT: &str = "GetSamplingRules";
    s.counters.rules_requests.fetch_add(1, Relaxed);
    let body = match s.client.post("/GetSamplingRules", wire::GET_RULES_BODY) {
        Ok(body) => body,
        Err(e) => return s.record_failure(Failure::of(&e), WHAT, &e),
    };
    let (defs, skipped) = match wire::parse_rules(&body) {
        Ok(parsed) => parsed,
        Err(e) => {
            let e = CallError::BadResponse(format!("not the JSON expected: {e}"));
            return s.record_failure(Failure::BadResponse, WHAT, &e);
        }
    };
    s.counters.rules_skipped.fetch_add(skipped, Relaxed);
    let previous = s.rules.snapshot();
    s.rules.publish(RuleSet::build(&defs, &previous));
    s.last_refresh
        .store(s.clock.now().as_micros().max(1), Relaxed);
    s.counters.rules_refreshes.fetch_add(1, Relaxed);
}

pub(super) fn report(s: &Shared) {
    const WHAT: &str = "SamplingTargets";
    if s.last_refresh.load(Relaxed) == 0 {
        return;
    }
    let set = s.rules.snapshot();
    let now = s.clock.now();
    let taken: Vec<(&Arc<RuleState>, Counts)> = set
        .rules
        .iter()
        .filter_map(|r| r.state.take_counts(now).map(|c| (&r.state, c)))
        .collect();
    if taken.is_empty() {
        return;
    }
    let documents: Vec<StatisticsDocument<'_>> = taken
        .iter()
        .map(|(state, c)| StatisticsDocument {
            rule_name: state.name(),
            client_id: wire::client_id(),
            timestamp: now.seconds(),
            request_count: c.requests,
            sampled_count: c.sampled,
            borrow_count: c.borrowed,
        })
        .collect();

    s.counters.targets_requests.fetch_add(1, Relaxed);
    let body = match s
        .client
        .post("/SamplingTargets", &wire::targets_body(&documents))
    {
        Ok(body) => body,
        Err(e) => {
            // Counts that certainly did not arrive go into the next report. After a timeout
            // or a broken connection the service may have them already; they are dropped
            // rather than risk counting them twice.
            if matches!(e, CallError::Connect(_) | CallError::Status(_)) {
                for (state, c) in &taken {
                    state.restore(*c);
                }
            }
            return s.record_failure(Failure::of(&e), WHAT, &e);
        }
    };
    s.counters
        .statistics_documents
        .fetch_add(documents.len() as u64, Relaxed);
    let targets = match wire::parse_targets(&body) {
        Ok(t) => t,
        Err(e) => {
            let e = CallError::BadResponse(format!("not the JSON expected: {e}"));
            return s.record_failure(Failure::BadResponse, WHAT, &e);
        }
    };
    for target in &targets.sampling_target_documents {
        if let Some(state) = set.state(&target.rule_name) {
            state.apply(target);
        }
    }
    s.counters.targets_reports.fetch_add(1, Relaxed);

    let modified = targets
        .last_rule_modification
        .map_or(0, wire::seconds_to_micros);
    let mut refresh = modified > s.last_refresh.load(Relaxed);
    for u in &targets.unprocessed_statistics {
        let code = u.error_code.as_deref().unwrap_or("?");
        // A 4xx here means the service no longer knows the rule: the rules are stale.
        refresh |= code.starts_with('4');
        let detail = format!(
            "statistics for rule {:?} unprocessed: {code} {}",
            u.rule_name.as_deref().unwrap_or("?"),
            u.message.as_deref().unwrap_or("")
        );
        s.record_failure(Failure::Unprocessed, WHAT, &detail);
    }
    if refresh {
        s.counters.early_refreshes.fetch_add(1, Relaxed);
        s.refresh_soon.store(true, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_only_shortens_and_never_below_the_floor() {
        for _ in 0..1000 {
            let d = jittered(Duration::from_secs(300), Duration::from_secs(5));
            assert!(
                d > Duration::from_secs(295) - Duration::from_millis(1)
                    && d <= Duration::from_secs(300)
            );
        }
        assert_eq!(
            jittered(Duration::ZERO, Duration::from_secs(1)),
            MIN_INTERVAL
        );
        assert!(jittered(Duration::MAX, Duration::MAX) >= MIN_INTERVAL);
        let far = after(Duration::MAX);
        assert!(far > Instant::now());
    }
}
