//! Sampling decisions: the local sampler with the default rule and with ten rules, the
//! centralized sampler with ten rules, against the two things every decision has to pay for
//! anyway (one clock read, one random draw); then the same decisions from 1, 2 and 4
//! threads at once.
//!
//! Run: `cargo bench --bench sampling -- --warm-up-time 1 --measurement-time 2`

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Barrier;
use std::time::{Duration, Instant, SystemTime};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::Rng;
use xray_core::sampling::{
    CentralizedOptions, CentralizedSampler, LocalSampler, Sampler, SamplingRequest,
};

/// Ten rules a service might have; the benchmark request matches only the last.
const TEN_RULES: &str = r#"{"version": 2, "default": {"fixed_target": 1, "rate": 0.05}, "rules": [
  {"host": "*", "http_method": "GET", "url_path": "/health", "fixed_target": 0, "rate": 0},
  {"host": "*", "http_method": "GET", "url_path": "/metrics*", "fixed_target": 0, "rate": 0},
  {"host": "admin.*", "http_method": "*", "url_path": "*", "fixed_target": 1, "rate": 1},
  {"host": "*", "http_method": "POST", "url_path": "/api/v1/payments/*", "fixed_target": 5, "rate": 0.5},
  {"host": "*", "http_method": "PUT", "url_path": "/api/v1/orders/*", "fixed_target": 2, "rate": 0.1},
  {"host": "*", "http_method": "DELETE", "url_path": "/api/*", "fixed_target": 1, "rate": 0.1},
  {"host": "internal.example.com", "http_method": "*", "url_path": "*", "fixed_target": 0, "rate": 0.01},
  {"host": "*", "http_method": "*", "url_path": "/static/*", "fixed_target": 0, "rate": 0},
  {"host": "*.example.org", "http_method": "*", "url_path": "/v?/*", "fixed_target": 1, "rate": 0.2},
  {"host": "*.example.com", "http_method": "GET", "url_path": "/api/v1/orders/*", "fixed_target": 1, "rate": 0.05}
]}"#;

fn request() -> SamplingRequest<'static> {
    SamplingRequest {
        service_name: Some("orders"),
        service_type: Some("AWS::EC2::Instance"),
        ..SamplingRequest::http("shop.example.com", "GET", "/api/v1/orders/12345")
    }
}

/// The same ten rules in the service's format, answered by a stand-in proxy thread, and a
/// sampler that has loaded them.
fn centralized() -> Option<CentralizedSampler> {
    let rules: serde_json::Value = serde_json::from_str(TEN_RULES).ok()?;
    let records: Vec<serde_json::Value> = rules["rules"]
        .as_array()?
        .iter()
        .enumerate()
        .map(|(i, r)| {
            serde_json::json!({"SamplingRule": {
                "RuleName": format!("rule-{i}"), "ResourceARN": "*", "Priority": i + 1,
                "FixedRate": r["rate"], "ReservoirSize": r["fixed_target"],
                "ServiceName": "*", "ServiceType": "*", "Host": r["host"],
                "HTTPMethod": r["http_method"], "URLPath": r["url_path"], "Version": 1}})
        })
        .collect();
    let body = serde_json::json!({"SamplingRuleRecords": records}).to_string();
    let listener = TcpListener::bind("127.0.0.1:0").ok()?;
    let addr = listener.local_addr().ok()?;
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
            let _ = stream.read(&mut buf);
            let reply = if buf.starts_with(b"POST /GetSamplingRules") {
                body.as_str()
            } else {
                "{}"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    let sampler =
        CentralizedSampler::start(addr, LocalSampler::default(), CentralizedOptions::default());
    let deadline = Instant::now() + Duration::from_secs(5);
    while sampler.stats().rules_refreshes == 0 {
        if Instant::now() > deadline {
            eprintln!("stand-in proxy did not serve rules; skipping the centralized benches");
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Some(sampler)
}

fn samplers() -> Vec<(&'static str, Sampler)> {
    let mut all = vec![
        ("local, default rule", Sampler::default()),
        (
            "local, 10 rules",
            Sampler::Local(LocalSampler::from_json(TEN_RULES).expect("valid rules")),
        ),
    ];
    if let Some(c) = centralized() {
        all.push(("centralized, 10 rules", Sampler::Centralized(c)));
    }
    all
}

fn single_thread(c: &mut Criterion, samplers: &[(&'static str, Sampler)]) {
    let mut g = c.benchmark_group("sampling/decide");
    g.throughput(Throughput::Elements(1));
    g.bench_function("baseline: one rand draw", |b| {
        b.iter(|| black_box(rand::rng().random::<f64>()));
    });
    g.bench_function("baseline: SystemTime::now", |b| {
        b.iter(|| black_box(SystemTime::now()));
    });
    let req = request();
    for (name, sampler) in samplers {
        g.bench_function(*name, |b| {
            b.iter(|| black_box(sampler.decide(black_box(&req))));
        });
    }
    g.finish();
}

/// `iters` decisions shared among `threads` threads; the time is from the moment all are
/// ready until the last finishes, so the throughput is the aggregate.
fn spread(iters: u64, threads: u64, decide: &(dyn Fn() + Sync)) -> Duration {
    let per_thread = iters.div_ceil(threads).max(1);
    let ready = Barrier::new(threads as usize + 1);
    let mut start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                ready.wait();
                for _ in 0..per_thread {
                    decide();
                }
            });
        }
        ready.wait();
        start = Instant::now();
    });
    start.elapsed()
}

fn threads(c: &mut Criterion, samplers: &[(&'static str, Sampler)]) {
    let mut g = c.benchmark_group("sampling/threads");
    g.throughput(Throughput::Elements(1));
    let req = request();
    for n in [1u64, 2, 4] {
        g.bench_with_input(
            BenchmarkId::new("baseline: one rand draw", n),
            &n,
            |b, &n| {
                b.iter_custom(|iters| {
                    spread(iters, n, &|| {
                        black_box(rand::rng().random::<f64>());
                    })
                });
            },
        );
        for (name, sampler) in samplers {
            g.bench_with_input(BenchmarkId::new(*name, n), &n, |b, &n| {
                b.iter_custom(|iters| {
                    spread(iters, n, &|| {
                        black_box(sampler.decide(black_box(&req)));
                    })
                });
            });
        }
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    let samplers = samplers();
    single_thread(c, &samplers);
    threads(c, &samplers);
}

criterion_group!(sampling, benches);
criterion_main!(sampling);
