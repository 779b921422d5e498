//! The current centralized rules, and how `decide` reads them without a lock.
//!
//! The poller replaces the whole rule set every few minutes; requests read it all the time.
//! Each thread keeps its own `Arc` of the set it last used, tagged with the generation it
//! was published under; `decide` compares one atomic generation number and, while it is
//! unchanged, uses the thread's copy without touching a lock or a shared reference count.
//! After a refresh each thread takes the mutex once to pick up the new set.
//!
//! The cost of the scheme: a thread keeps the last set it used alive until it next decides
//! with another sampler or exits, which is one small allocation per thread.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::target::RuleState;
use super::wire::RuleDef;
use crate::sampling::pattern::{Attr, Wildcard};
use crate::sampling::random::Draw;
use crate::sampling::{Outcome, SamplingRequest};
use crate::time::Timestamp;

/// A centralized rule: what it matches and its live state.
#[derive(Debug)]
pub(crate) struct CentralRule {
    service_name: Wildcard,
    service_type: Wildcard,
    host: Wildcard,
    http_method: Wildcard,
    url_path: Wildcard,
    pub(crate) state: Arc<RuleState>,
}

/// A request with each attribute checked for ASCII once.
struct Prepared<'a> {
    host: Option<Attr<'a>>,
    method: Option<Attr<'a>>,
    url_path: Option<Attr<'a>>,
    service_name: Option<Attr<'a>>,
    service_type: Option<Attr<'a>>,
}

impl CentralRule {
    #[inline]
    fn matches(&self, r: &Prepared<'_>) -> bool {
        self.http_method.matches(r.method)
            && self.host.matches(r.host)
            && self.url_path.matches(r.url_path)
            && self.service_name.matches(r.service_name)
            && self.service_type.matches(r.service_type)
    }
}

/// Rules in evaluation order (priority, then name).
#[derive(Debug, Default)]
pub(crate) struct RuleSet {
    pub(crate) rules: Vec<CentralRule>,
}

impl RuleSet {
    /// Builds a set from fresh definitions, carrying over the state of rules that keep
    /// their name so quotas and unreported counts survive the refresh.
    pub(crate) fn build(defs: &[RuleDef], previous: &RuleSet) -> RuleSet {
        let mut old: HashMap<&str, &Arc<RuleState>> = previous
            .rules
            .iter()
            .map(|r| (r.state.name(), &r.state))
            .collect();
        let rules = defs
            .iter()
            .map(|d| {
                let state = match old.remove(d.name.as_str()) {
                    Some(s) => {
                        s.redefine(d.fixed_rate, d.reservoir_size);
                        Arc::clone(s)
                    }
                    None => Arc::new(RuleState::new(&d.name, d.fixed_rate, d.reservoir_size)),
                };
                CentralRule {
                    service_name: Wildcard::new(&d.service_name),
                    service_type: Wildcard::new(&d.service_type),
                    host: Wildcard::new(&d.host),
                    http_method: Wildcard::new(&d.http_method),
                    url_path: Wildcard::new(&d.url_path),
                    state,
                }
            })
            .collect();
        RuleSet { rules }
    }

    /// The first matching rule's decision, or `None` when no rule matches.
    #[inline]
    pub(crate) fn decide(
        &self,
        request: &SamplingRequest<'_>,
        now: Timestamp,
        draw: &Draw,
    ) -> Option<Outcome> {
        let prepared = Prepared {
            host: Attr::new(request.host),
            method: Attr::new(request.method),
            url_path: Attr::new(request.url_path),
            service_name: Attr::new(request.service_name),
            service_type: Attr::new(request.service_type),
        };
        self.rules
            .iter()
            .find(|r| r.matches(&prepared))
            .map(|r| r.state.sample(now, draw))
    }

    pub(crate) fn state(&self, name: &str) -> Option<&Arc<RuleState>> {
        self.rules
            .iter()
            .map(|r| &r.state)
            .find(|s| s.name() == name)
    }
}

/// The published rule set of one sampler.
#[derive(Debug)]
pub(crate) struct Published {
    owner: u64,
    generation: AtomicU64,
    current: Mutex<(u64, Arc<RuleSet>)>,
}

struct Cached {
    owner: u64,
    generation: u64,
    rules: Arc<RuleSet>,
}

thread_local! {
    static CACHE: RefCell<Option<Cached>> = const { RefCell::new(None) };
}

impl Published {
    pub(crate) fn new() -> Published {
        static OWNERS: AtomicU64 = AtomicU64::new(1);
        Published {
            owner: OWNERS.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
            current: Mutex::new((0, Arc::new(RuleSet::default()))),
        }
    }

    /// The current set (takes the mutex; for the poller and the slow path).
    pub(crate) fn snapshot(&self) -> Arc<RuleSet> {
        Arc::clone(&self.lock().1)
    }

    pub(crate) fn publish(&self, set: RuleSet) {
        let mut current = self.lock();
        let generation = current.0.wrapping_add(1);
        *current = (generation, Arc::new(set));
        self.generation.store(generation, Ordering::Release);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, Arc<RuleSet>)> {
        // The guarded value is replaced whole, so a panic elsewhere cannot leave it torn.
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Decides against the current set through the calling thread's cached copy.
    #[inline]
    pub(crate) fn decide(
        &self,
        request: &SamplingRequest<'_>,
        now: Timestamp,
        draw: &Draw,
    ) -> Option<Outcome> {
        let generation = self.generation.load(Ordering::Acquire);
        let hit = CACHE.try_with(|cell| {
            // Cannot be borrowed already (nothing in here re-enters), but a failed borrow
            // takes the slow path instead of panicking.
            let mut slot = cell.try_borrow_mut().ok()?;
            let fresh =
                matches!(&*slot, Some(c) if c.owner == self.owner && c.generation == generation);
            if !fresh {
                *slot = Some(self.refill());
            }
            slot.as_ref().map(|c| c.rules.decide(request, now, draw))
        });
        match hit {
            Ok(Some(outcome)) => outcome,
            // Thread-local storage is being torn down, or the slot was busy.
            _ => self.snapshot().decide(request, now, draw),
        }
    }

    #[cold]
    #[inline(never)]
    fn refill(&self) -> Cached {
        let current = self.lock();
        Cached {
            owner: self.owner,
            generation: current.0,
            rules: Arc::clone(&current.1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn def(name: &str, priority: i64, host: &str) -> RuleDef {
        RuleDef {
            name: name.into(),
            priority,
            fixed_rate: 1.0,
            reservoir_size: 0,
            service_name: "*".into(),
            service_type: "*".into(),
            host: host.into(),
            http_method: "*".into(),
            url_path: "*".into(),
        }
    }

    #[test]
    fn threads_see_a_new_set_on_their_next_decision() {
        let p = Published::new();
        let draw = Draw::seeded(1);
        let now = Timestamp::from_micros(1_700_000_000_000_000);
        let req = SamplingRequest::http("a.example", "GET", "/");
        assert_eq!(p.decide(&req, now, &draw), None, "empty set");
        p.publish(RuleSet::build(&[def("one", 1, "*")], &RuleSet::default()));
        assert_eq!(
            p.decide(&req, now, &draw).unwrap().rule_name.unwrap(),
            "one"
        );
        std::thread::scope(|s| {
            s.spawn(|| {
                assert_eq!(
                    p.decide(&req, now, &draw).unwrap().rule_name.unwrap(),
                    "one"
                );
            });
        });
        let prev = p.snapshot();
        p.publish(RuleSet::build(
            &[def("two", 1, "b.*"), def("one", 2, "*")],
            &prev,
        ));
        assert_eq!(
            p.decide(&req, now, &draw).unwrap().rule_name.unwrap(),
            "one"
        );
        let b = SamplingRequest::http("b.example", "GET", "/");
        assert_eq!(p.decide(&b, now, &draw).unwrap().rule_name.unwrap(), "two");
        let kept = p.snapshot();
        assert!(
            Arc::ptr_eq(&prev.rules[0].state, &kept.rules[1].state),
            "state carried over"
        );
        assert_eq!(kept.state("one").unwrap().counts().requests, 3);
    }

    #[test]
    fn two_samplers_on_one_thread_do_not_mix() {
        let (p, q) = (Published::new(), Published::new());
        p.publish(RuleSet::build(&[def("p", 1, "*")], &RuleSet::default()));
        q.publish(RuleSet::build(&[def("q", 1, "*")], &RuleSet::default()));
        let draw = Draw::seeded(1);
        let now = Timestamp::from_micros(1);
        let r = SamplingRequest::default();
        for _ in 0..3 {
            assert_eq!(p.decide(&r, now, &draw).unwrap().rule_name.unwrap(), "p");
            assert_eq!(q.decide(&r, now, &draw).unwrap().rule_name.unwrap(), "q");
        }
    }
}
