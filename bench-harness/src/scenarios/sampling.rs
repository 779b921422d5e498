//! Sampling: local rules over simulated time, against what the rules promise.
//!
//! A manual clock drives the sampler through whole simulated seconds of steady traffic. Per
//! rule the report gives requests, sampled (by reservoir and by rate), the expected count
//! `Σ min(n, fixed_target) + (n - min(n, fixed_target)) · rate` with a 99.9 % interval from the
//! binomial variance of the rate part, and whether the reservoir held: in every second it took
//! exactly `min(n, fixed_target)`. The random draws are seeded, so a run is reproducible.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;
use xray_core::model::{Clock, ManualClock, Timestamp};
use xray_core::sampling::{LocalSampler, Reason, SamplingRequest};

use super::Settings;

/// An example rule set used when no `--sampling-rules` file is given.
pub const EXAMPLE_RULES: &str = r#"{
  "version": 2,
  "rules": [
    {"description": "health checks", "host": "*", "http_method": "GET", "url_path": "/health", "fixed_target": 0, "rate": 0.0},
    {"description": "checkout", "host": "*", "http_method": "POST", "url_path": "/checkout*", "fixed_target": 5, "rate": 0.2},
    {"description": "api", "host": "api.*", "http_method": "*", "url_path": "/api/*", "fixed_target": 2, "rate": 0.1}
  ],
  "default": {"fixed_target": 1, "rate": 0.05}
}"#;

/// Traffic: (host, method, path, requests per second).
const MIX: [(&str, &str, &str, u32); 4] = [
    ("www.example.com", "GET", "/health", 30),
    ("www.example.com", "POST", "/checkout/cart", 15),
    ("api.example.com", "GET", "/api/orders/17", 40),
    ("www.example.com", "GET", "/index.html", 20),
];

/// The z value of a two-sided 99.9 % interval.
const Z: f64 = 3.29;

/// One rule's figures.
#[derive(Debug, Clone, Serialize)]
pub struct RuleResult {
    /// The rule, as `METHOD host path` (or `default`).
    pub rule: String,
    /// Its reservoir size.
    pub fixed_target: u64,
    /// Its rate.
    pub rate: f64,
    /// Requests it decided.
    pub requests: u64,
    /// Requests it sampled.
    pub sampled: u64,
    /// Of those, from the reservoir.
    pub by_reservoir: u64,
    /// Of those, by the rate.
    pub by_rate: u64,
    /// The expected number sampled.
    pub expected: f64,
    /// Lower end of the 99.9 % interval.
    pub ci_low: f64,
    /// Upper end.
    pub ci_high: f64,
    /// `sampled` is inside the interval.
    pub within_ci: bool,
    /// Every second the reservoir took exactly `min(requests that second, fixed_target)`.
    pub reservoir_held: bool,
}

/// The sampled fraction in one simulated second.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Second {
    /// Seconds since the start.
    pub second: u64,
    /// Fraction sampled.
    pub sampled_fraction: f64,
    /// Fraction the rules promise.
    pub expected_fraction: f64,
}

/// One rule set's run.
#[derive(Debug, Clone, Serialize)]
pub struct RuleSet {
    /// What it is.
    pub name: String,
    /// Requests per simulated second.
    pub requests_per_second: u32,
    /// Per rule.
    pub rules: Vec<RuleResult>,
    /// Per second, all rules together.
    pub series: Vec<Second>,
}

/// What the scenario found.
#[derive(Debug, Clone, Serialize)]
pub struct SamplingReport {
    /// Simulated seconds per rule set.
    pub simulated_seconds: u64,
    /// The rule sets.
    pub rule_sets: Vec<RuleSet>,
    /// Mean wall-clock cost of one decision with the default rules, in nanoseconds.
    pub decision_ns: f64,
    /// What went wrong (also listed in the report's failures).
    pub failures: Vec<String>,
}

const T0: u64 = 1_700_000_000_000_000;

#[derive(Default, Clone)]
struct Tally {
    requests: u64,
    by_reservoir: u64,
    by_rate: u64,
    expected: f64,
    variance: f64,
    held: bool,
}

/// Simulates `seconds` of `mix` traffic through `sampler`.
fn simulate(
    name: String,
    sampler: &LocalSampler,
    clock: &ManualClock,
    mix: &[(&str, &str, &str, u32)],
    seconds: u64,
) -> RuleSet {
    let described = sampler.describe();
    let default_index = described.len() - 1;
    let mut tallies = vec![
        Tally {
            held: true,
            ..Tally::default()
        };
        described.len()
    ];
    let per_second: u32 = mix.iter().map(|m| m.3).sum();
    let mut series = Vec::with_capacity(seconds as usize);
    for s in 0..seconds {
        // Interleave the mix evenly across the second.
        let mut schedule: Vec<(u64, usize)> = Vec::with_capacity(per_second as usize);
        for (k, m) in mix.iter().enumerate() {
            for j in 0..m.3 {
                schedule.push((u64::from(j) * 1_000_000 / u64::from(m.3) + k as u64, k));
            }
        }
        schedule.sort_unstable();
        let mut this_second: BTreeMap<usize, (u64, u64)> = BTreeMap::new();
        let mut sampled = 0u64;
        for (offset, k) in schedule {
            clock.set(Timestamp::from_micros(
                T0 + s * 1_000_000 + offset.min(999_999),
            ));
            let (host, method, path, _) = mix[k];
            let request = SamplingRequest::http(host, method, path);
            let (outcome, index) = sampler.decide_explained(&request);
            let i = index.unwrap_or(default_index);
            let t = &mut tallies[i];
            t.requests += 1;
            let entry = this_second.entry(i).or_default();
            entry.0 += 1;
            match outcome.reason {
                Reason::Reservoir => {
                    t.by_reservoir += 1;
                    entry.1 += 1;
                }
                Reason::Rate => t.by_rate += 1,
                Reason::Borrowed | Reason::NotSampled => {}
            }
            sampled += u64::from(outcome.sampled);
        }
        let mut expected_second = 0.0;
        for (&i, &(n, from_reservoir)) in &this_second {
            let rule = &described[i];
            let reserved = n.min(rule.fixed_target);
            let rest = (n - reserved) as f64;
            let t = &mut tallies[i];
            t.expected += reserved as f64 + rest * rule.rate;
            t.variance += rest * rule.rate * (1.0 - rule.rate);
            t.held &= from_reservoir == reserved;
            expected_second += reserved as f64 + rest * rule.rate;
        }
        series.push(Second {
            second: s,
            sampled_fraction: sampled as f64 / f64::from(per_second),
            expected_fraction: expected_second / f64::from(per_second),
        });
    }
    let rules = described
        .iter()
        .zip(&tallies)
        .enumerate()
        .filter(|(_, (_, t))| t.requests > 0)
        .map(|(i, (d, t))| {
            let sampled = t.by_reservoir + t.by_rate;
            let half = Z * t.variance.sqrt();
            // Rounding: the count is an integer, so allow half a request either side.
            let (low, high) = (t.expected - half - 0.5, t.expected + half + 0.5);
            RuleResult {
                rule: if i == default_index {
                    "default".to_owned()
                } else {
                    format!("{} {} {}", d.http_method, d.host, d.url_path)
                },
                fixed_target: d.fixed_target,
                rate: d.rate,
                requests: t.requests,
                sampled,
                by_reservoir: t.by_reservoir,
                by_rate: t.by_rate,
                expected: t.expected,
                ci_low: low.max(0.0),
                ci_high: high,
                within_ci: (low..=high).contains(&(sampled as f64)),
                reservoir_held: t.held,
            }
        })
        .collect();
    RuleSet {
        name,
        requests_per_second: per_second,
        rules,
        series,
    }
}

/// Runs the scenario.
pub fn run(settings: &Settings) -> Result<SamplingReport, String> {
    let seconds = if settings.quick { 120 } else { 900 };
    let clock = ManualClock::new(Timestamp::from_micros(T0));
    let mut sets = Vec::new();

    let default = LocalSampler::default()
        .with_clock(Clock::Manual(clock.clone()))
        .with_seed(0x5eed);
    let uniform = [("www.example.com", "GET", "/", 50)];
    sets.push(simulate(
        "default rule (1/s + 5 %), 50 requests/s".to_owned(),
        &default,
        &clock,
        &uniform,
        seconds,
    ));

    let (name, custom) = match &settings.sampling_rules {
        Some(path) => (
            format!("rules from {}", path.display()),
            LocalSampler::from_file(path).map_err(|e| format!("{}: {e}", path.display()))?,
        ),
        None => (
            "example rules (health 0 + 0 %, checkout 5/s + 20 %, api 2/s + 10 %)".to_owned(),
            LocalSampler::from_json(EXAMPLE_RULES).map_err(|e| e.to_string())?,
        ),
    };
    clock.set(Timestamp::from_micros(T0));
    let custom = custom
        .with_clock(Clock::Manual(clock.clone()))
        .with_seed(0x5eed + 1);
    sets.push(simulate(name, &custom, &clock, &MIX, seconds));

    let mut failures = Vec::new();
    for set in &sets {
        for r in &set.rules {
            settings.progress(&format!(
                "sampling: {} / {}: {} of {} sampled, expected {:.1} [{:.1}, {:.1}]{}",
                set.name,
                r.rule,
                r.sampled,
                r.requests,
                r.expected,
                r.ci_low,
                r.ci_high,
                if r.reservoir_held {
                    ""
                } else {
                    ", reservoir broken"
                }
            ));
            if !r.within_ci {
                failures.push(format!(
                    "{} / {}: {} sampled, expected {:.1} within [{:.1}, {:.1}]",
                    set.name, r.rule, r.sampled, r.expected, r.ci_low, r.ci_high
                ));
            }
            if !r.reservoir_held {
                failures.push(format!(
                    "{} / {}: the reservoir did not hold",
                    set.name, r.rule
                ));
            }
        }
    }

    // Wall-clock cost of a decision on the real clock.
    let live = LocalSampler::default();
    let request = SamplingRequest::http("api.example.com", "GET", "/api/orders/17");
    let n = 200_000u32;
    let start = Instant::now();
    let mut sampled = 0u32;
    for _ in 0..n {
        sampled += u32::from(live.decide(std::hint::black_box(&request)).sampled);
    }
    let decision_ns = start.elapsed().as_nanos() as f64 / f64::from(n);
    std::hint::black_box(sampled);

    Ok(SamplingReport {
        simulated_seconds: seconds,
        rule_sets: sets,
        decision_ns,
        failures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_rule_keeps_its_promise() {
        let clock = ManualClock::new(Timestamp::from_micros(T0));
        let s = LocalSampler::default()
            .with_clock(Clock::Manual(clock.clone()))
            .with_seed(7);
        let set = simulate("d".into(), &s, &clock, &[("h", "GET", "/", 21)], 100);
        let r = &set.rules[0];
        assert_eq!(r.requests, 2100);
        assert_eq!(r.by_reservoir, 100, "one per second");
        assert!((r.expected - (100.0 + 2000.0 * 0.05)).abs() < 1e-9);
        assert!(r.within_ci && r.reservoir_held, "{r:?}");
        assert_eq!(set.series.len(), 100);
    }

    #[test]
    fn example_rules_attribute_each_request_to_its_rule() {
        let clock = ManualClock::new(Timestamp::from_micros(T0));
        let s = LocalSampler::from_json(EXAMPLE_RULES)
            .unwrap()
            .with_clock(Clock::Manual(clock.clone()))
            .with_seed(11);
        let set = simulate("e".into(), &s, &clock, &MIX, 30);
        let by_rule: BTreeMap<_, _> = set.rules.iter().map(|r| (r.rule.as_str(), r)).collect();
        assert_eq!(by_rule["GET * /health"].sampled, 0);
        assert_eq!(by_rule["GET * /health"].requests, 30 * 30);
        assert_eq!(by_rule["POST * /checkout*"].by_reservoir, 30 * 5);
        assert_eq!(by_rule["* api.* /api/*"].by_reservoir, 30 * 2);
        assert_eq!(by_rule["default"].requests, 30 * 20);
        assert!(set.rules.iter().all(|r| r.within_ci && r.reservoir_held));
    }
}
