//! The sampler against a stand-in proxy on 127.0.0.1. Every wait is bounded (a few seconds
//! at most) and intervals are tens of milliseconds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::stand_in::{Reply, StandIn};
use super::*;
use crate::sampling::Reason;
use crate::time::ManualClock;

const T0: u64 = 1_700_000_000_000_000;
const T0_SECS: u64 = T0 / 1_000_000;

fn rule(name: &str, priority: i64, rate: f64, reservoir: u64) -> Value {
    json!({"SamplingRule": {
        "RuleName": name, "RuleARN": format!("arn:aws:xray:us-east-1:1:sampling-rule/{name}"),
        "ResourceARN": "*", "Priority": priority, "FixedRate": rate, "ReservoirSize": reservoir,
        "ServiceName": "*", "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*",
        "Version": 1, "Attributes": {}
    }})
}

fn with(mut r: Value, field: &str, value: Value) -> Value {
    r["SamplingRule"][field] = value;
    r
}

fn rules_body(records: &[Value]) -> String {
    json!({"SamplingRuleRecords": records, "NextToken": null}).to_string()
}

fn options(clock: &ManualClock) -> CentralizedOptions {
    CentralizedOptions {
        rules_interval: Duration::from_secs(60),
        rules_jitter: Duration::ZERO,
        targets_interval: Duration::from_millis(30),
        targets_jitter: Duration::ZERO,
        timeout: Duration::from_millis(300),
        manifest_ttl: Duration::from_secs(3600),
        clock: Clock::Manual(clock.clone()),
        seed: Some(1),
    }
}

fn clock() -> ManualClock {
    ManualClock::new(Timestamp::from_micros(T0))
}

/// Polls `cond` every 5 ms for up to 5 s.
fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn no_targets() -> Reply {
    Reply::Body(200, r#"{"SamplingTargetDocuments":[]}"#.into())
}

fn name_of(o: Outcome) -> Option<String> {
    o.rule_name.map(|n| n.as_str().to_owned())
}

#[test]
fn zero_usable_rules_report_the_fallback() {
    let body = rules_body(&[with(rule("v2", 1, 1.0, 0), "Version", json!(2))]);
    let proxy = StandIn::start(move |_, _| Reply::Body(200, body.clone()));
    let c = clock();
    let s = CentralizedSampler::start(proxy.addr(), LocalSampler::default(), options(&c));
    wait_for("rules", || s.stats().rules_refreshes == 1);
    let stats = s.stats();
    assert_eq!((stats.rules_loaded, stats.rules_skipped), (0, 1));
    assert!(stats.using_fallback, "{stats:?}");
    let o = s.decide(&SamplingRequest::http("h", "GET", "/"));
    assert_eq!(o.rule_name, None);
}

#[test]
fn matches_rules_by_priority_then_name_with_service_fields() {
    let body = rules_body(&[
        rule("Default", 10000, 0.0, 0),
        with(
            with(rule("orders", 10, 1.0, 0), "URLPath", json!("/orders/*")),
            "ServiceName",
            json!("orders-svc"),
        ),
        with(rule("b-health", 5, 0.0, 0), "URLPath", json!("/health")),
        with(rule("a-health", 5, 0.0, 0), "URLPath", json!("/health")),
        with(
            rule("ec2", 7, 1.0, 0),
            "ServiceType",
            json!("AWS::EC2::Instance"),
        ),
        with(rule("v2", 1, 1.0, 0), "Version", json!(2)),
        with(
            rule("arn", 1, 1.0, 0),
            "ResourceARN",
            json!("arn:aws:lambda:x"),
        ),
        with(rule("attrs", 1, 1.0, 0), "Attributes", json!({"k": "v"})),
    ]);
    let proxy = StandIn::start(move |_, _| Reply::Body(200, body.clone()));
    let c = clock();
    let s = CentralizedSampler::start(proxy.addr(), LocalSampler::default(), options(&c));
    wait_for("rules", || s.stats().rules_refreshes == 1);
    let stats = s.stats();
    assert_eq!((stats.rules_loaded, stats.rules_skipped), (5, 3));
    assert!(!stats.using_fallback);

    let health = SamplingRequest::http("h", "GET", "/HEALTH");
    assert_eq!(name_of(s.decide(&health)).as_deref(), Some("a-health"));
    let orders = SamplingRequest {
        service_name: Some("orders-svc"),
        service_type: Some("AWS::ECS::Container"),
        ..SamplingRequest::http("h", "GET", "/orders/1")
    };
    assert_eq!(name_of(s.decide(&orders)).as_deref(), Some("orders"));
    let lambda = SamplingRequest {
        service_type: Some("AWS::Lambda::Function"),
        ..SamplingRequest::http("h", "GET", "/x")
    };
    assert_eq!(name_of(s.decide(&lambda)).as_deref(), Some("Default"));
    let ec2 = SamplingRequest {
        service_type: Some("aws::ec2::instance"),
        ..lambda
    };
    let o = s.decide(&ec2);
    assert_eq!(name_of(o).as_deref(), Some("ec2"));
    assert_eq!(o.reason, Reason::Rate);
    assert_eq!(
        proxy.seen("/GetSamplingRules")[0].body,
        r#"{"NextToken":null}"#
    );
}

#[test]
fn falls_back_until_rules_load_and_once_they_are_too_old() {
    let ready = Arc::new(AtomicUsize::new(0));
    let proxy = {
        let ready = Arc::clone(&ready);
        StandIn::start(move |req, _| match req.path.as_str() {
            "/GetSamplingRules" if ready.load(Relaxed) == 0 => Reply::Body(503, "{}".into()),
            "/GetSamplingRules" => Reply::Body(200, rules_body(&[rule("Default", 10000, 1.0, 0)])),
            _ => no_targets(),
        })
    };
    let c = clock();
    let s = CentralizedSampler::start(proxy.addr(), LocalSampler::default(), options(&c));
    wait_for("a 503", || s.stats().server_errors >= 1);
    assert!(s.stats().using_fallback);
    let o = s.decide(&SamplingRequest::default());
    assert_eq!(o.rule_name, None, "fallback");
    assert_eq!(
        o.reason,
        Reason::Reservoir,
        "the default local rule's reservoir"
    );

    ready.store(1, Relaxed);
    wait_for("a retry at the targets pace", || {
        s.stats().rules_refreshes == 1
    });
    assert_eq!(
        name_of(s.decide(&SamplingRequest::default())).as_deref(),
        Some("Default")
    );
    assert_eq!(s.stats().last_refresh, Some(Timestamp::from_micros(T0)));

    c.advance_micros(3600 * 1_000_000);
    assert!(
        !s.stats().using_fallback,
        "exactly one hour old is still fresh"
    );
    c.advance_micros(1);
    assert!(s.stats().using_fallback);
    assert_eq!(s.decide(&SamplingRequest::default()).rule_name, None);
}

#[test]
fn reports_statistics_and_applies_quotas() {
    let proxy = StandIn::start(|req, n| match req.path.as_str() {
        "/GetSamplingRules" => Reply::Body(200, rules_body(&[rule("r", 100, 0.0, 5)])),
        _ if n == 0 => Reply::Body(
            200,
            json!({"SamplingTargetDocuments": [{"RuleName": "r", "FixedRate": 0.0,
                "ReservoirQuota": 3, "ReservoirQuotaTTL": (T0_SECS + 60) as f64, "Interval": 10},
                {"RuleName": "unknown", "FixedRate": 1.0}],
                "LastRuleModification": (T0_SECS - 100) as f64})
            .to_string(),
        ),
        _ => no_targets(),
    });
    let c = clock();
    // The poller's own reports are pushed out of the way; the test reports by hand so the
    // counts it checks cannot be split across two reports.
    let opts = CentralizedOptions {
        targets_interval: Duration::from_secs(60),
        ..options(&c)
    };
    let s = CentralizedSampler::start(proxy.addr(), LocalSampler::default(), opts);
    wait_for("rules", || s.stats().rules_refreshes == 1);
    let report = || poller::report(&s.shared);

    let any = SamplingRequest::default();
    assert_eq!(
        s.decide(&any).reason,
        Reason::Borrowed,
        "no quota yet: borrow one"
    );
    assert_eq!(s.decide(&any).reason, Reason::NotSampled);
    report();
    assert_eq!(s.stats().targets_reports, 1);
    let sent: Value = serde_json::from_str(&proxy.seen("/SamplingTargets")[0].body).unwrap();
    let doc = &sent["SamplingStatisticsDocuments"][0];
    assert_eq!(doc["RuleName"], "r");
    assert_eq!(doc["Timestamp"], T0_SECS);
    assert_eq!(
        (
            &doc["RequestCount"],
            &doc["SampledCount"],
            &doc["BorrowCount"]
        ),
        (&json!(2), &json!(0), &json!(1))
    );
    let id = doc["ClientID"].as_str().unwrap();
    assert!(
        id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );

    c.advance_micros(1_000_000);
    let reasons: Vec<Reason> = (0..4).map(|_| s.decide(&any).reason).collect();
    assert_eq!(reasons[..3], [Reason::Reservoir; 3], "quota of 3 a second");
    assert_eq!(reasons[3], Reason::NotSampled);

    report();
    assert_eq!(
        proxy.seen("/SamplingTargets").len(),
        1,
        "the rule's 10 s interval is not over"
    );
    c.advance_micros(10_000_000);
    report();
    assert_eq!(s.stats().targets_reports, 2);
    let sent: Value = serde_json::from_str(&proxy.seen("/SamplingTargets")[1].body).unwrap();
    let doc = &sent["SamplingStatisticsDocuments"][0];
    assert_eq!(
        (&doc["RequestCount"], &doc["SampledCount"]),
        (&json!(4), &json!(3))
    );

    c.advance_micros(60_000_000);
    report();
    assert_eq!(
        proxy.seen("/SamplingTargets").len(),
        2,
        "no requests since: no call"
    );
    assert_eq!(
        s.stats().early_refreshes,
        0,
        "rules modified before the refresh"
    );
    assert_eq!(s.stats().statistics_documents, 2);

    c.advance_micros(60_000_000);
    let reasons: Vec<Reason> = (0..2).map(|_| s.decide(&any).reason).collect();
    assert_eq!(
        reasons,
        [Reason::Borrowed, Reason::NotSampled],
        "quota expired"
    );
}

#[test]
fn newer_rule_modification_or_unprocessed_4xx_refreshes_at_once() {
    let targets = Arc::new(AtomicU64::new(0));
    let proxy = {
        let targets = Arc::clone(&targets);
        StandIn::start(move |req, _| {
            match req.path.as_str() {
            "/GetSamplingRules" => Reply::Body(200, rules_body(&[rule("r", 1, 1.0, 0)])),
            _ if targets.fetch_add(1, Relaxed) == 0 => Reply::Body(
                200,
                json!({"SamplingTargetDocuments": [], "LastRuleModification": (T0_SECS + 5) as f64})
                    .to_string(),
            ),
            _ => Reply::Body(
                200,
                json!({"UnprocessedStatistics": [{"RuleName": "r", "ErrorCode": "400",
                    "Message": "unknown rule"}]})
                .to_string(),
            ),
        }
        })
    };
    let c = clock();
    let s = CentralizedSampler::start(proxy.addr(), LocalSampler::default(), options(&c));
    wait_for("rules", || s.stats().rules_refreshes == 1);
    s.decide(&SamplingRequest::default());
    wait_for("a refresh after LastRuleModification", || {
        s.stats().rules_refreshes == 2
    });
    c.advance_micros(20_000_000);
    s.decide(&SamplingRequest::default());
    wait_for("a refresh after an unprocessed 400", || {
        s.stats().rules_refreshes == 3
    });
    let stats = s.stats();
    assert_eq!(stats.early_refreshes, 2);
    assert_eq!(stats.unprocessed_statistics, 1);
    assert_eq!(proxy.seen("/GetSamplingRules").len(), 3);
}

#[test]
fn every_kind_of_failure_is_counted_and_decide_carries_on() {
    let proxy = StandIn::start(|req, n| match (req.path.as_str(), n) {
        ("/GetSamplingRules", 0) => Reply::Body(404, "not found".into()),
        ("/GetSamplingRules", 1) => Reply::Body(500, "{}".into()),
        ("/GetSamplingRules", 2) => Reply::Body(200, "this is not json".into()),
        ("/GetSamplingRules", 3) => Reply::Raw(b"SSH-2.0-OpenSSH\r\n\r\n"),
        ("/GetSamplingRules", 4) => Reply::Hang,
        ("/GetSamplingRules", 5) => Reply::Raw(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n{"),
        ("/GetSamplingRules", _) => Reply::Body(200, rules_body(&[rule("r", 1, 1.0, 0)])),
        (_, 0) => Reply::Body(200, "[[[".into()),
        _ => Reply::Body(502, String::new()),
    });
    let c = clock();
    let s = CentralizedSampler::start(proxy.addr(), LocalSampler::default(), options(&c));
    for _ in 0..50 {
        let _ = s.decide(&SamplingRequest::default());
    }
    wait_for("rules after six failures", || {
        s.stats().rules_refreshes == 1
    });
    let stats = s.stats();
    assert_eq!(stats.rules_requests, 7);
    assert_eq!((stats.client_errors, stats.server_errors), (1, 1));
    assert_eq!(stats.bad_responses, 4, "{stats:?}");

    s.decide(&SamplingRequest::default());
    wait_for("a garbage targets answer", || s.stats().bad_responses == 5);
    s.decide(&SamplingRequest::default());
    c.advance_micros(11_000_000);
    wait_for("a 502 from targets", || s.stats().server_errors >= 2);
    assert!(s.stats().failures() >= 8);
    assert!(s.decide(&SamplingRequest::default()).sampled);
}

#[test]
fn slow_answers_are_cut_by_the_timeout_and_shutdown_is_prompt() {
    let proxy = StandIn::start(|_, _| {
        Reply::Late(
            Duration::from_secs(5),
            Box::new(Reply::Body(200, "{}".into())),
        )
    });
    let c = clock();
    let s = CentralizedSampler::start(proxy.addr(), LocalSampler::default(), options(&c));
    let started = Instant::now();
    wait_for("a timeout", || s.stats().timeouts >= 1);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    let t = Instant::now();
    assert_eq!(s.decide(&SamplingRequest::default()).rule_name, None);
    assert!(
        t.elapsed() < Duration::from_millis(50),
        "decide never waits for the poller"
    );

    let t = Instant::now();
    drop(s);
    assert!(
        t.elapsed() < Duration::from_millis(800),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn refused_connections_fall_back_and_shutdown_twice_is_harmless() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let c = clock();
    let s = CentralizedSampler::start(closed, LocalSampler::default(), options(&c));
    wait_for("refusals", || s.stats().connect_failures >= 2);
    assert!(s.stats().using_fallback);
    assert!(s.decide(&SamplingRequest::default()).sampled);
    let t = Instant::now();
    s.shutdown();
    s.shutdown();
    assert!(t.elapsed() < Duration::from_millis(500));
    let calls = s.stats().rules_requests;
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(s.stats().rules_requests, calls, "stopped");
    assert_eq!(s.fallback().rule_count(), 0);
}

#[test]
fn concurrent_decisions_are_all_reported() {
    let proxy = StandIn::start(|req, _| match req.path.as_str() {
        "/GetSamplingRules" => Reply::Body(200, rules_body(&[rule("r", 1, 0.5, 0)])),
        _ => no_targets(),
    });
    let c = clock();
    let opts = CentralizedOptions {
        targets_interval: Duration::from_secs(60),
        ..options(&c)
    };
    let s = CentralizedSampler::start(proxy.addr(), LocalSampler::default(), opts);
    wait_for("rules", || s.stats().rules_refreshes == 1);
    let sampled = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..5000 {
                    if s.decide(&SamplingRequest::default()).sampled {
                        sampled.fetch_add(1, Relaxed);
                    }
                }
            });
        }
    });
    let set = s.shared.rules.snapshot();
    let counts = set.state("r").unwrap().counts();
    assert_eq!(counts.requests, 20_000);
    assert_eq!(counts.sampled, sampled.load(Relaxed));
    assert!((8_000..12_000).contains(&counts.sampled), "{counts:?}");
}
