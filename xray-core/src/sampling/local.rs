//! The local sampler: rules from a file (or the built-in default), decided in process.

use std::path::Path;
use std::sync::Arc;

use super::pattern::Attr;
use super::random::Draw;
use super::rules::{LocalRule, LocalRules, RulesError};
use super::{Outcome, Reason, SamplingRequest};
use crate::time::{Clock, Timestamp};

/// One rule of a [`LocalSampler`], as configured.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RuleSummary {
    /// The host pattern.
    pub host: String,
    /// The method pattern.
    pub http_method: String,
    /// The path pattern.
    pub url_path: String,
    /// Requests sampled each second before the rate applies.
    pub fixed_target: u64,
    /// Fraction of the remaining requests sampled.
    pub rate: f64,
}

/// The rules every SDK uses when given none: one request a second, then 5 %.
pub const DEFAULT_RULES_JSON: &str =
    r#"{"version":2,"default":{"fixed_target":1,"rate":0.05},"rules":[]}"#;

/// Decides from local rules: the first rule whose host, method and path patterns match the
/// request wins, else the default rule; a rule samples while its per-second reservoir
/// lasts, then with probability `rate`.
///
/// Clones share rules and reservoirs, so a clone handed to another thread or used as a
/// `CentralizedSampler` fallback counts against the same
/// per-second budget.
///
/// Local rules have no names, so [`Outcome::rule_name`] is always `None`, as in the other
/// SDKs (`aws.xray.sampling_rule_name` is for centralized rules). The request's
/// `service_name` and `service_type` are not matched: local rules have no such fields.
///
/// ```
/// use xray_core::sampling::{LocalSampler, Reason, SamplingRequest};
/// use xray_core::model::{Clock, ManualClock, Timestamp};
///
/// let clock = ManualClock::new(Timestamp::from_micros(1_700_000_000_000_000));
/// let sampler = LocalSampler::from_json(r#"{
///     "version": 2,
///     "rules": [{"host": "*", "http_method": "GET", "url_path": "/health",
///                "fixed_target": 0, "rate": 0}],
///     "default": {"fixed_target": 1, "rate": 0}
/// }"#)
/// .unwrap()
/// .with_clock(Clock::Manual(clock.clone()));
///
/// let health = SamplingRequest { method: Some("GET"), url_path: Some("/health"), ..Default::default() };
/// assert!(!sampler.decide(&health).sampled);
///
/// let order = SamplingRequest { method: Some("POST"), url_path: Some("/orders"), ..Default::default() };
/// assert_eq!(sampler.decide(&order).reason, Reason::Reservoir);
/// assert_eq!(sampler.decide(&order).reason, Reason::NotSampled, "one a second, then 0 %");
/// clock.advance_micros(1_000_000);
/// assert!(sampler.decide(&order).sampled);
/// ```
#[derive(Debug, Clone)]
pub struct LocalSampler {
    rules: Arc<LocalRules>,
    clock: Clock,
    draw: Draw,
}

impl Default for LocalSampler {
    /// The built-in rules ([`DEFAULT_RULES_JSON`]): one request a second, then 5 %.
    fn default() -> Self {
        let default = LocalRule {
            host: super::pattern::Wildcard::new("*"),
            http_method: super::pattern::Wildcard::new("*"),
            url_path: super::pattern::Wildcard::new("*"),
            rate: 0.05,
            reservoir: super::Reservoir::new(1),
        };
        LocalSampler::from_rules(LocalRules {
            version: 2,
            rules: Vec::new(),
            default,
        })
    }
}

impl LocalSampler {
    fn from_rules(rules: LocalRules) -> LocalSampler {
        LocalSampler {
            rules: Arc::new(rules),
            clock: Clock::System,
            draw: Draw::Thread,
        }
    }

    /// Reads a rules document (version 1 or 2).
    ///
    /// Errors name the field: `rules[2].rate: must be between 0 and 1, got 1.5`.
    pub fn from_json(json: &str) -> Result<LocalSampler, RulesError> {
        LocalRules::parse(json).map(LocalSampler::from_rules)
    }

    /// Reads a rules file.
    ///
    /// ```
    /// use xray_core::sampling::LocalSampler;
    /// let err = LocalSampler::from_file("/no/such/rules.json").unwrap_err();
    /// assert!(err.to_string().starts_with("cannot read sampling rules file /no/such/rules.json"));
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> Result<LocalSampler, RulesError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Io {
            path: path.to_owned(),
            source,
        })?;
        LocalSampler::from_json(&text)
    }

    /// Uses `clock` for the reservoirs' seconds (a [`ManualClock`](crate::model::ManualClock) in
    /// tests).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> LocalSampler {
        self.clock = clock;
        self
    }

    /// Makes the `rate` draws reproducible. Meant for tests: the seeded generator is shared
    /// behind a mutex, so each draw takes a lock.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> LocalSampler {
        self.draw = Draw::seeded(seed);
        self
    }

    /// The rules file version (1 or 2; 2 for the built-in rules).
    pub fn version(&self) -> u8 {
        self.rules.version
    }

    /// The number of rules, not counting the default rule.
    pub fn rule_count(&self) -> usize {
        self.rules.rules.len()
    }

    /// Decides whether to sample `request`. Never allocates or locks (unless seeded).
    #[inline]
    pub fn decide(&self, request: &SamplingRequest<'_>) -> Outcome {
        self.decide_at(request, self.clock.now())
    }

    /// Like [`LocalSampler::decide`], also saying which rule decided: `Some(i)` for
    /// `rules[i]` of the file, `None` for the default rule (reports and load tests).
    pub fn decide_explained(&self, request: &SamplingRequest<'_>) -> (Outcome, Option<usize>) {
        let index = self.matching(request);
        let rule = index.map_or(&self.rules.default, |i| &self.rules.rules[i]);
        (self.apply(rule, self.clock.now()), index)
    }

    /// The first rule whose patterns all match, by position; `None` means the default.
    #[inline]
    fn matching(&self, request: &SamplingRequest<'_>) -> Option<usize> {
        let (host, method, path) = (
            Attr::new(request.host),
            Attr::new(request.method),
            Attr::new(request.url_path),
        );
        // The method is the shortest field and often decides alone, so it goes first.
        self.rules.rules.iter().position(|r| {
            r.http_method.matches(method) && r.host.matches(host) && r.url_path.matches(path)
        })
    }

    /// The rules in order, then the default: `(host, http_method, url_path, fixed_target,
    /// rate)` as written in the file (the default's patterns are `*`).
    pub fn describe(&self) -> Vec<RuleSummary> {
        let r = &*self.rules;
        r.rules
            .iter()
            .chain(std::iter::once(&r.default))
            .map(|rule| RuleSummary {
                host: rule.host.pattern().to_owned(),
                http_method: rule.http_method.pattern().to_owned(),
                url_path: rule.url_path.pattern().to_owned(),
                fixed_target: rule.reservoir.capacity(),
                rate: rule.rate,
            })
            .collect()
    }

    fn apply(&self, rule: &LocalRule, now: Timestamp) -> Outcome {
        let reason = if rule.reservoir.take(now) {
            Reason::Reservoir
        } else if self.draw.below(rule.rate) {
            Reason::Rate
        } else {
            Reason::NotSampled
        };
        Outcome::new(reason, None)
    }

    #[inline]
    pub(crate) fn decide_at(&self, request: &SamplingRequest<'_>, now: Timestamp) -> Outcome {
        let rule = self
            .matching(request)
            .map_or(&self.rules.default, |i| &self.rules.rules[i]);
        self.apply(rule, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::ManualClock;

    const T0: u64 = 1_700_000_000_000_000;

    fn manual() -> (ManualClock, Clock) {
        let c = ManualClock::new(Timestamp::from_micros(T0));
        (c.clone(), Clock::Manual(c))
    }

    fn req<'a>(host: &'a str, method: &'a str, path: &'a str) -> SamplingRequest<'a> {
        SamplingRequest {
            host: Some(host),
            method: Some(method),
            url_path: Some(path),
            ..SamplingRequest::default()
        }
    }

    #[test]
    fn builtin_default_matches_the_documented_json() {
        let parsed = LocalRules::parse(DEFAULT_RULES_JSON).unwrap();
        let builtin = LocalSampler::default();
        assert_eq!(builtin.version(), parsed.version);
        assert_eq!(builtin.rule_count(), 0);
        assert_eq!(builtin.rules.default.reservoir.capacity(), 1);
        assert!((builtin.rules.default.rate - parsed.default.rate).abs() < f64::EPSILON);
    }

    #[test]
    fn default_is_one_per_second_then_five_percent() {
        let (clock, c) = manual();
        let s = LocalSampler::default().with_clock(c).with_seed(3);
        let r = req("a", "GET", "/");
        assert_eq!(s.decide(&r).reason, Reason::Reservoir);
        let n = 20_000;
        let by_rate = (0..n).filter(|_| s.decide(&r).sampled).count();
        assert!((800..1200).contains(&by_rate), "{by_rate} of {n}");
        clock.advance_micros(1_000_000);
        assert_eq!(s.decide(&r).reason, Reason::Reservoir);
    }

    #[test]
    fn first_matching_rule_wins_and_empty_attributes_match() {
        let (_, c) = manual();
        let s = LocalSampler::from_json(
            r#"{"version":2,"default":{"fixed_target":0,"rate":0},"rules":[
              {"host":"*","http_method":"*","url_path":"/never","fixed_target":0,"rate":0},
              {"host":"*.example.com","http_method":"POST","url_path":"/api/*","fixed_target":0,"rate":1},
              {"host":"*","http_method":"*","url_path":"/api/*","fixed_target":0,"rate":0}]}"#,
        )
        .unwrap()
        .with_clock(c);
        assert!(s.decide(&req("shop.EXAMPLE.com", "post", "/api/x")).sampled);
        assert!(
            !s.decide(&req("other.org", "POST", "/api/x")).sampled,
            "third rule"
        );
        assert!(!s.decide(&req("a", "GET", "/")).sampled, "default");
        let no_host = SamplingRequest {
            method: Some("POST"),
            url_path: Some("/api/y"),
            host: Some(""),
            ..SamplingRequest::default()
        };
        assert!(
            s.decide(&no_host).sampled,
            "empty host matches the host pattern"
        );
        let nothing = SamplingRequest::default();
        assert!(
            !s.decide(&nothing).sampled,
            "all empty: the first rule matches"
        );
        assert_eq!(s.decide(&nothing).rule_name, None);
    }

    #[test]
    fn each_rule_has_its_own_reservoir_and_clones_share_it() {
        let (clock, c) = manual();
        let s = LocalSampler::from_json(
            r#"{"version":1,"default":{"fixed_target":2,"rate":0},"rules":[
              {"service_name":"*","http_method":"*","url_path":"/a","fixed_target":1,"rate":0}]}"#,
        )
        .unwrap()
        .with_clock(c);
        let twin = s.clone();
        let a = req("h", "GET", "/a");
        let b = req("h", "GET", "/b");
        assert!(s.decide(&a).sampled);
        assert!(!twin.decide(&a).sampled, "clones share the reservoir");
        assert!(s.decide(&b).sampled && twin.decide(&b).sampled);
        assert!(!s.decide(&b).sampled);
        clock.advance_micros(1_000_000);
        assert!(s.decide(&a).sampled);
    }

    #[test]
    fn reads_files() {
        let dir = std::env::temp_dir().join(format!("xray-rules-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.json");
        std::fs::write(&good, DEFAULT_RULES_JSON).unwrap();
        assert_eq!(LocalSampler::from_file(&good).unwrap().version(), 2);
        let bad = dir.join("bad.json");
        std::fs::write(
            &bad,
            r#"{"version":2,"default":{"fixed_target":1,"rate":2}}"#,
        )
        .unwrap();
        let e = LocalSampler::from_file(&bad).unwrap_err();
        assert_eq!(
            e.to_string(),
            "default.rate: must be between 0 and 1, got 2"
        );
        let missing = LocalSampler::from_file(dir.join("missing.json")).unwrap_err();
        assert!(matches!(missing, RulesError::Io { .. }));
        assert!(std::error::Error::source(&missing).is_some());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
