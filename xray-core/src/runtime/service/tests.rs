//! Service segments on an in-memory emitter: what is sent for each sampling path, the host
//! and SDK fields, and the centralized rule name (against the sampling stand-in).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::*;
use crate::config::Config;
use crate::emit::{Emitter, MemorySink};
use crate::sampling::centralized::stand_in::{Reply, StandIn};
use crate::sampling::{CentralizedOptions, CentralizedSampler, LocalSampler};
use crate::validate::Validator;
use crate::{model::MAX_MESSAGE_CHARS, service::ORIGIN_ECS_CONTAINER};

const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const PARENT: &str = "53995c3f42cd8ad8";

fn service(config: Config, sampler: impl Into<Sampler>) -> (ServiceTracer, MemorySink) {
    let (emitter, sink) = Emitter::memory(crate::wire::DEFAULT_DATAGRAM_LIMIT);
    let host = HostFacts {
        origin: ORIGIN_ECS_CONTAINER.to_owned(),
        ecs_container: "task-7".to_owned(),
        ..HostFacts::default()
    };
    let s = ServiceTracer::builder(Tracer::with_emitter(config, emitter), "orders{api}")
        .sampler(sampler)
        .host(host)
        .service_version("2.0.1")
        .build();
    (s, sink)
}

fn never() -> LocalSampler {
    LocalSampler::from_json(r#"{"version":2,"default":{"fixed_target":0,"rate":0},"rules":[]}"#)
        .unwrap()
}

fn always() -> LocalSampler {
    LocalSampler::from_json(r#"{"version":2,"default":{"fixed_target":0,"rate":1},"rules":[]}"#)
        .unwrap()
}

fn docs(sink: &MemorySink) -> Vec<Value> {
    sink.take()
        .iter()
        .map(|d| {
            let (doc, report) = Validator::shared().check_datagram(d).unwrap();
            assert!(report.is_valid(), "{report}");
            doc
        })
        .collect()
}

#[test]
fn continues_a_sampled_header_with_host_sdk_and_request_fields() {
    let (s, sink) = service(Config::default(), never());
    assert_eq!(s.name(), "orders_api_", "made valid once");
    let header = format!("Root={ROOT};Parent={PARENT};Sampled=1");
    let seg = s.begin(&IncomingRequest {
        trace_header: Some(&header),
        host: Some("orders.example.com"),
        method: Some("POST"),
        path: Some("/orders"),
        url: Some("https://orders.example.com/orders"),
        user_agent: Some("curl/8"),
        client_ip: Some("203.0.113.7"),
        x_forwarded_for: true,
        ..IncomingRequest::default()
    });
    assert!(seg.is_sampled());
    assert_eq!(seg.trace_id().to_string(), ROOT);
    let id = seg.id().unwrap();
    assert_eq!(
        &*seg.response_header(),
        format!("Root={ROOT};Sampled=1").as_str()
    );
    seg.finish(Some(429), Some(12));
    let d = &docs(&sink)[0];
    assert_eq!(d["name"], "orders_api_");
    assert_eq!(d["id"], id.to_string());
    assert_eq!(d["trace_id"], ROOT);
    assert_eq!(d["parent_id"], PARENT);
    assert!(d.get("type").is_none());
    assert_eq!(d["origin"], ORIGIN_ECS_CONTAINER);
    assert_eq!(d["aws"]["ecs"]["container"], "task-7");
    assert_eq!(
        d["aws"]["xray"],
        json!({"sdk": "X-Ray for Rust", "sdk_version": env!("CARGO_PKG_VERSION")})
    );
    assert_eq!(d["service"]["version"], "2.0.1");
    assert_eq!(
        d["http"],
        json!({
            "request": {"method": "POST", "url": "https://orders.example.com/orders",
                        "user_agent": "curl/8", "client_ip": "203.0.113.7", "x_forwarded_for": true},
            "response": {"status": 429, "content_length": 12}
        })
    );
    assert_eq!((&d["error"], &d["throttle"]), (&json!(true), &json!(true)));
    assert!(d.get("fault").is_none());
    let stats = s.tracer().stats();
    assert_eq!(
        (stats.invocations_sampled, stats.invocations_unsampled),
        (1, 0)
    );
}

#[test]
fn an_unsampled_header_records_nothing_but_propagates() {
    let (s, sink) = service(Config::default(), always());
    let header = format!("Root={ROOT};Parent={PARENT};Sampled=0");
    let seg = s.begin(&IncomingRequest {
        trace_header: Some(&header),
        ..IncomingRequest::default()
    });
    assert!(!seg.is_sampled());
    assert_eq!(seg.id(), None);
    assert_eq!(
        &*seg.response_header(),
        format!("Root={ROOT};Sampled=0").as_str()
    );
    let down = seg.in_scope(|| (crate::is_sampled(), crate::downstream_header()));
    assert!(!down.0);
    // Nothing recorded here: the downstream call hangs under the incoming parent.
    assert_eq!(
        down.1.as_deref(),
        Some(format!("Root={ROOT};Parent={PARENT};Sampled=0").as_str())
    );
    assert!(seg.with_entity(|_| ()).is_none());
    seg.finish(Some(200), None);
    assert!(sink.take().is_empty());
    assert_eq!(s.tracer().stats().invocations_unsampled, 1);
}

#[test]
fn without_a_root_the_trace_is_new() {
    // `Sampled=1` with no usable `Root`: recorded in a new trace, with no `parent_id`.
    let (s, sink) = service(Config::default(), never());
    let seg = s.begin(&IncomingRequest {
        trace_header: Some("Root=1-bogus;Parent=53995c3f42cd8ad8;Sampled=1"),
        ..IncomingRequest::default()
    });
    assert!(seg.is_sampled());
    let trace = seg.trace_id();
    assert_ne!(trace, TraceId::NOOP);
    seg.finish(None, None);
    let d = &docs(&sink)[0];
    assert_eq!(d["trace_id"], trace.to_string());
    assert!(d.get("parent_id").is_none());
    assert!(d.get("http").is_none());
    assert_eq!(s.tracer().stats().malformed_headers, 1);

    // Unsampled new traces get the all-zero id unless AWS_XRAY_NOOP_ID=false.
    let seg = s.begin(&IncomingRequest::default());
    assert_eq!(seg.trace_id(), TraceId::NOOP);
    let (s, _) = service(
        Config {
            noop_ids: false,
            ..Config::default()
        },
        never(),
    );
    assert_ne!(
        s.begin(&IncomingRequest::default()).trace_id(),
        TraceId::NOOP
    );
}

#[test]
fn the_sampler_decides_open_requests() {
    let sampler = LocalSampler::from_json(
        r#"{"version":2,"default":{"fixed_target":0,"rate":1},
            "rules":[{"host":"*","http_method":"GET","url_path":"/health","fixed_target":0,"rate":0}]}"#,
    )
    .unwrap();
    let (s, sink) = service(Config::default(), sampler);
    let health = |h: Option<&'static str>| IncomingRequest {
        trace_header: h,
        method: Some("GET"),
        path: Some("/health"),
        ..IncomingRequest::default()
    };
    for h in [
        None,
        Some(""),
        Some("Sampled=?"),
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?"),
    ] {
        assert!(!s.begin(&health(h)).is_sampled(), "{h:?}");
    }
    let seg = s.begin(&IncomingRequest {
        method: Some("GET"),
        path: Some("/orders"),
        ..health(Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?"))
    });
    assert!(seg.is_sampled());
    assert_eq!(seg.trace_id().to_string(), ROOT);
    drop(seg);
    let d = &docs(&sink)[0];
    assert_eq!(d["metadata"]["xray_sdk"]["dropped_before_completion"], true);
    assert!(
        d["aws"]["xray"].get("sampling_rule_name").is_none(),
        "local rules have no names"
    );
}

#[test]
fn tracing_name_and_kill_switch() {
    let config = Config {
        tracing_name: Some("from-env".into()),
        ..Config::default()
    };
    let (s, _) = service(config, always());
    assert_eq!(s.name(), "from-env");
    let config = Config {
        disabled: true,
        ..Config::default()
    };
    let (s, sink) = service(config, always());
    let header = format!("Root={ROOT};Parent={PARENT};Sampled=1");
    let seg = s.begin(&IncomingRequest {
        trace_header: Some(&header),
        ..IncomingRequest::default()
    });
    assert!(!seg.is_sampled());
    seg.finish(Some(200), None);
    assert!(sink.take().is_empty());
}

#[test]
fn an_inner_failure_is_a_fault_with_its_message() {
    let (s, sink) = service(Config::default(), always());
    let seg = s.begin(&IncomingRequest::default());
    let long = "x".repeat(MAX_MESSAGE_CHARS + 10);
    seg.record_failure("hyper::Error", &format_args!("connection reset: {long}"));
    seg.finish(None, None);
    let d = &docs(&sink)[0];
    assert_eq!(d["fault"], true);
    let ex = &d["cause"]["exceptions"][0];
    assert_eq!(ex["type"], "hyper::Error");
    let message = ex["message"].as_str().unwrap();
    assert!(message.starts_with("connection reset: xxx"));
    assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS);
}

#[test]
fn a_panic_closes_the_segment_as_a_fault() {
    let (s, sink) = service(Config::default(), always());
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let seg = s.begin(&IncomingRequest::default());
        seg.in_scope(|| panic!("handler bug"));
    }));
    assert!(r.is_err());
    let d = &docs(&sink)[0];
    assert_eq!(d["fault"], true);
    assert_eq!(d["cause"]["exceptions"][0]["type"], "panic");
}

/// Polls `cond` every 5 ms for up to 5 s.
fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_centralized_rule_name_is_recorded_and_service_fields_are_matched() {
    let rule = |name: &str, priority: i64, service_type: &str| {
        json!({"SamplingRule": {
            "RuleName": name, "RuleARN": format!("arn:aws:xray:us-east-1:1:sampling-rule/{name}"),
            "ResourceARN": "*", "Priority": priority, "FixedRate": 1.0, "ReservoirSize": 0,
            "ServiceName": "orders_api_", "ServiceType": service_type, "Host": "*",
            "HTTPMethod": "*", "URLPath": "*", "Version": 1, "Attributes": {}
        }})
    };
    let body = json!({"SamplingRuleRecords": [
        rule("on-ec2", 1, "AWS::EC2::Instance"),
        rule("orders-ecs", 2, "AWS::ECS::Container"),
    ], "NextToken": null})
    .to_string();
    let proxy = StandIn::start(move |req, _| match req.path.as_str() {
        "/GetSamplingRules" => Reply::Body(200, body.clone()),
        _ => Reply::Body(200, r#"{"SamplingTargetDocuments":[]}"#.into()),
    });
    let options = CentralizedOptions {
        targets_interval: Duration::from_secs(60),
        timeout: Duration::from_millis(300),
        seed: Some(1),
        ..CentralizedOptions::default()
    };
    let sampler = CentralizedSampler::start(proxy.addr(), never(), options);
    let (s, sink) = service(Config::default(), sampler);
    let crate::sampling::Sampler::Centralized(c) = s.sampler() else {
        panic!("centralized")
    };
    wait_for("rules", || c.stats().rules_refreshes == 1);
    let seg = s.begin(&IncomingRequest {
        trace_header: Some("Sampled=?"),
        ..IncomingRequest::default()
    });
    assert!(
        seg.is_sampled(),
        "rate 1 for the ECS rule; the EC2 rule does not match"
    );
    seg.finish(Some(200), None);
    let d = &docs(&sink)[0];
    assert_eq!(d["aws"]["xray"]["sampling_rule_name"], "orders-ecs");

    // An upstream decision is not the sampler's: no rule name.
    let header = format!("Root={ROOT};Sampled=1");
    s.begin(&IncomingRequest {
        trace_header: Some(&header),
        ..IncomingRequest::default()
    })
    .finish(None, None);
    assert!(
        docs(&sink)[0]["aws"]["xray"]
            .get("sampling_rule_name")
            .is_none()
    );
}

#[test]
fn tracers_and_segments_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<ServiceTracer>();
    send_sync::<ServiceSegment>();
    send_sync::<IncomingRequest<'static>>();
}
