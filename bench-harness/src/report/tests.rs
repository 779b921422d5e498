//! The HTML page from hand-built reports: well-formed, escaped, one chart per plotted figure,
//! and sound with sections absent or data degenerate.

use std::collections::BTreeMap;

use workloads::synthetic::Work;

use super::{Machine, Report, Scenarios, html};
use crate::daemon::DaemonStats;
use crate::scenarios::concurrency::{ConcurrencyReport, Run};
use crate::scenarios::emission::{EmissionReport, Step};
use crate::scenarios::large_payloads::{Case, LargePayloadReport};
use crate::scenarios::overhead::{Mode, OverheadReport, PerCall, Point};
use crate::scenarios::sampling::{RuleResult, RuleSet, SamplingReport, Second};
use crate::stats::Percentiles;

fn report(scenarios: Scenarios) -> Report {
    let mut r = Report {
        version: 1,
        generated_at: 1_795_238_337,
        duration_s: 36.8,
        suite: "quick".to_owned(),
        machine: Machine {
            cpu: "AMD EPYC".to_owned(),
            cores: 2,
            os: "linux".to_owned(),
            profile: "release".to_owned(),
        },
        scenario_seconds: BTreeMap::from([
            ("overhead".to_owned(), 2.0),
            ("sampling".to_owned(), 0.013),
        ]),
        documents_received: 13_746,
        documents_invalid: 0,
        datagrams_lost_unaccounted: 0,
        oversized_datagrams_sent: 0,
        allocations_per_invocation: Some(0.0),
        daemon: DaemonStats::default(),
        scenarios,
        failures: Vec::new(),
        traced: Vec::new(),
    };
    r.conclude();
    r
}

fn point(mode: Mode, calls: u32, mean_ns: f64, overhead_ns: f64) -> Point {
    Point {
        mode,
        calls,
        latency: Percentiles {
            count: 1000,
            mean_ns,
            p50_ns: mean_ns * 0.9,
            p99_ns: mean_ns * 1.2,
            p999_ns: mean_ns * 3.0,
            max_ns: mean_ns * 50.0,
        },
        overhead_ns,
        overhead_p50_ns: overhead_ns,
        vs_bare: mean_ns / 30.0,
        vs_floor: mean_ns / 9000.0,
    }
}

fn overhead(calls: &[u32]) -> OverheadReport {
    let modes = [
        (Mode::Bare, 0.0),
        (Mode::Floor, 0.5),
        (Mode::Unsampled, 2.0),
        (Mode::Disabled, 1.8),
        (Mode::Sampled, 170.0),
        (Mode::SampledWithSend, 190.0),
        (Mode::TracingRegistry, 120.0),
        (Mode::SampledWithOtlpSend, 240.0),
    ];
    let points = calls
        .iter()
        .flat_map(|&n| {
            modes.map(|(mode, per_call)| {
                let overhead = per_call * f64::from(n) + if per_call > 0.0 { 60.0 } else { 0.0 };
                point(mode, n, 30.0 + overhead, overhead)
            })
        })
        .collect();
    OverheadReport {
        calls: calls.to_vec(),
        points,
        per_call: PerCall {
            sampled_ns: 170.0,
            sampled_with_send_ns: 190.0,
            sampled_with_otlp_send_ns: 240.0,
            unsampled_ns: 2.0,
            disabled_ns: 1.8,
        },
        per_invocation_sampled_ns: 60.0,
        allocations_per_invocation: Some(0.0),
        allocations_per_invocation_otlp: Some(0.0),
        invocations: 5000,
        floor_bytes: calls.iter().map(|&n| (n, 200 + 90 * n as usize)).collect(),
    }
}

fn step(offered: Option<u64>, sent: u64, received: u64) -> Step {
    Step {
        offered_per_s: offered,
        sent_per_s: sent as f64 * 1.5,
        received_per_s: received as f64 * 1.5,
        received_bytes_per_s: received as f64 * 1.5 * 1586.0,
        sent,
        received,
        lost: sent - received,
        kernel_drops: sent - received,
        emitter_drops: 0,
        unaccounted: 0,
        rejected: 0,
    }
}

fn emission(steps: Vec<Step>) -> EmissionReport {
    EmissionReport {
        datagram_bytes: 1586,
        steps,
        sustained_per_s: 5000.0,
        kernel_drops_readable: true,
        unaccounted: 0,
    }
}

fn rule(name: &str) -> RuleResult {
    RuleResult {
        rule: name.to_owned(),
        fixed_target: 1,
        rate: 0.05,
        requests: 6000,
        sampled: 437,
        by_reservoir: 120,
        by_rate: 317,
        expected: 414.0,
        ci_low: 358.5,
        ci_high: 469.5,
        within_ci: true,
        reservoir_held: true,
    }
}

fn rule_set(name: &str, rule_name: &str, seconds: u64) -> RuleSet {
    RuleSet {
        name: name.to_owned(),
        requests_per_second: 50,
        rules: vec![rule(rule_name)],
        series: (0..seconds)
            .map(|second| Second {
                second,
                sampled_fraction: if second % 2 == 0 { 0.06 } else { 0.08 },
                expected_fraction: 0.069,
            })
            .collect(),
    }
}

fn sampling(rule_sets: Vec<RuleSet>) -> SamplingReport {
    SamplingReport {
        simulated_seconds: 120,
        rule_sets,
        decision_ns: 62.9,
        failures: Vec::new(),
    }
}

fn large_payloads() -> LargePayloadReport {
    LargePayloadReport {
        limit: 64_000,
        cases: vec![Case {
            name: "response of 1 MiB".to_owned(),
            work: Work {
                calls: 3,
                response_bytes: 1 << 20,
                ..Work::default()
            },
            datagrams: 4,
            largest_datagram: 668,
            entities_received: 4,
            entities_expected: 4,
            subsegments_streamed: 3,
            documents_truncated: 1,
            documents_minimal: 0,
            rejected: 0,
        }],
        oversized: 0,
    }
}

fn concurrency() -> ConcurrencyReport {
    let run = Run {
        function: "synthetic (in-process)".to_owned(),
        output: "xray-udp".to_owned(),
        concurrency: 8,
        invocations: 48,
        completed: 48,
        errors: 0,
        invocations_per_s: 969.1,
        traces_complete: 48,
        foreign_attachments: 0,
        orphans: 0,
        max_overlap: 8,
        cold_starts: 1,
        faults: 0,
        skipped: None,
    };
    let skipped = Run {
        function: "register-user (child process)".to_owned(),
        skipped: Some("no <binary> built".to_owned()),
        ..run.clone()
    };
    ConcurrencyReport {
        runs: vec![run, skipped],
        foreign_attachments: 0,
    }
}

fn full() -> Report {
    report(Scenarios {
        overhead: Some(overhead(&[0, 10, 100])),
        emission: Some(emission(vec![
            step(Some(1000), 666, 666),
            step(None, 95_307, 9560),
            step(Some(5000), 3332, 3332),
        ])),
        sampling: Some(sampling(vec![
            rule_set("default rule (1/s + 5 %)", "default", 120),
            rule_set("example rules", "POST * /checkout*", 120),
        ])),
        large_payloads: Some(large_payloads()),
        concurrency: Some(concurrency()),
        cold_start: None,
    })
}

/// Checks that every element opened is closed in order, and that no tag carries a number
/// that is not one. Text is escaped, so every `<` in the page starts a tag.
fn assert_well_formed(page: &str) {
    const VOID: [&str; 2] = ["meta", "br"];
    let mut open: Vec<&str> = Vec::new();
    let mut rest = page;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("an unterminated tag") + start;
        let tag = &rest[start + 1..end];
        assert!(!tag.contains('<'), "a '<' inside a tag: {tag}");
        assert!(
            !tag.contains("NaN") && !tag.contains("inf"),
            "a non-finite number in {tag}"
        );
        rest = &rest[end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        let name_end = tag
            .find(|c: char| c.is_whitespace() || c == '/')
            .unwrap_or(tag.len());
        if let Some(closing) = tag.strip_prefix('/') {
            assert_eq!(
                open.pop(),
                Some(closing),
                "</{closing}> closes the wrong element"
            );
        } else if !tag.ends_with('/') && !VOID.contains(&&tag[..name_end]) {
            open.push(&tag[..name_end]);
        }
    }
    assert!(open.is_empty(), "left open: {open:?}");
}

/// The part of the page inside `<section id="id">`.
fn section<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page
        .find(&format!("<section id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no section {id}"));
    let len = page[start..].find("</section>").expect("an open section");
    &page[start..start + len]
}

fn charts_in(page: &str, id: &str) -> usize {
    section(page, id).matches("<svg").count()
}

#[test]
fn a_full_report_has_its_charts_and_tables() {
    let page = html::render(&full());
    assert_well_formed(&page);
    assert!(page.starts_with("<!doctype html>"));
    assert!(page.contains("PASSED"));
    assert!(page.contains("2026-11-21 05:18:57 UTC"));
    assert!(!page.contains("<script"), "no scripts");
    for external in ["src=", "href=\"http", "url(", "@import"] {
        assert!(!page.contains(external), "nothing fetched: {external}");
    }
    assert_eq!(
        charts_in(&page, "overhead"),
        3,
        "overhead: all modes, enlarged, and × floor"
    );
    assert_eq!(
        charts_in(&page, "emission"),
        2,
        "emission: throughput and loss"
    );
    assert_eq!(charts_in(&page, "sampling"), 2, "one per rule set");
    assert_eq!(charts_in(&page, "large-payloads"), 0);
    assert_eq!(charts_in(&page, "concurrency"), 0);
    // Every overhead point is in the table (3 call counts by 8 modes), and every mode in the
    // side-by-side table.
    assert_eq!(
        section(&page, "overhead").matches("<tr").count(),
        1 + 5 + 1 + 8 + 1 + 24
    );
    assert!(section(&page, "overhead").contains("tracing + registry"));
    // The unbounded emission step comes last, labelled "max".
    let emission = section(&page, "emission");
    let (a, b, max) = (
        emission.find(">1,000</text>").expect("1,000"),
        emission.find(">5,000</text>").expect("5,000"),
        emission.find(">max</text>").expect("max"),
    );
    assert!(a < b && b < max);
    assert!(page.contains("<details><summary>Full report (report.json)</summary>"));
    assert!(section(&page, "timings").contains("whole run"));
    // A skipped run spans the columns its figures would fill.
    let concurrency = section(&page, "concurrency");
    let heads = concurrency.matches("</th>").count();
    let skipped = concurrency
        .split("<tr>")
        .find(|row| row.contains("skipped:"))
        .expect("the skipped run");
    assert_eq!(skipped.matches("<td").count() - 1 + 10, heads);
    assert!(skipped.contains("colspan=\"10\""));
}

#[test]
fn strings_from_the_report_are_escaped() {
    let mut r = full();
    let evil = "<script>alert(\"x\")</script>";
    if let Some(s) = r.scenarios.sampling.as_mut() {
        s.rule_sets[0].name = evil.to_owned();
        s.rule_sets[0].rules[0].rule = evil.to_owned();
        s.failures.push(evil.to_owned());
    }
    r.machine.cpu = evil.to_owned();
    r.suite = "a & b".to_owned();
    r.failures.push(evil.to_owned());
    let page = html::render(&r);
    assert_well_formed(&page);
    assert!(!page.to_ascii_lowercase().contains("<script"));
    assert!(page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
    assert!(page.contains("a &amp; b"));
    assert!(page.contains("FAILED"));
}

#[test]
fn every_section_absent() {
    let mut r = report(Scenarios::default());
    r.scenario_seconds.clear();
    r.allocations_per_invocation = None;
    let page = html::render(&r);
    assert_well_formed(&page);
    assert!(!page.contains("<svg"));
    for id in [
        "overhead",
        "emission",
        "sampling",
        "large-payloads",
        "concurrency",
    ] {
        assert!(section(&page, id).contains("Not run"), "{id}");
    }
    assert!(page.contains("not measured"));
}

#[test]
fn degenerate_data() {
    let mut one_step = step(None, 0, 0);
    one_step.sent_per_s = f64::NAN;
    one_step.received_per_s = f64::INFINITY;
    let mut single = overhead(&[0]);
    single.points[3].overhead_ns = f64::NAN;
    single.per_call.sampled_ns = f64::NAN;
    let mut zeros = rule_set("zeros", "default", 3);
    for s in &mut zeros.series {
        s.sampled_fraction = 0.0;
        s.expected_fraction = 0.0;
    }
    let reports = [
        report(Scenarios {
            overhead: Some(single),
            emission: Some(emission(vec![one_step])),
            sampling: Some(sampling(vec![
                rule_set("empty", "default", 0),
                rule_set("one", "default", 1),
                zeros,
            ])),
            large_payloads: Some(LargePayloadReport {
                cases: Vec::new(),
                ..large_payloads()
            }),
            concurrency: Some(ConcurrencyReport {
                runs: Vec::new(),
                foreign_attachments: 0,
            }),
            cold_start: None,
        }),
        report(Scenarios {
            overhead: Some(overhead(&[])),
            emission: Some(emission(Vec::new())),
            sampling: Some(sampling(Vec::new())),
            ..Scenarios::default()
        }),
    ];
    for r in &reports {
        let page = html::render(r);
        assert_well_formed(&page);
    }
    let page = html::render(&reports[0]);
    assert_eq!(charts_in(&page, "sampling"), 3);
    assert!(section(&page, "sampling").contains("no data"));
}

#[test]
fn a_waterfall_per_scenario_once_each() {
    use crate::daemon::FakeDaemon;
    use crate::report::waterfall::{MAX_ROWS, record};
    let daemon = FakeDaemon::start().unwrap();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let children: Vec<String> = (0..MAX_ROWS + 5)
        .map(|i| {
            format!(
                r#"{{"name":"call-{i}","id":"{:016x}","start_time":1.5,"end_time":1.75{}}}"#,
                i + 16,
                if i == 0 { r#","fault":true"# } else { "" }
            )
        })
        .collect();
    let doc = format!(
        r#"{{"format":"json","version":1}}
{{"name":"scenario-fn","id":"00000000000000aa","trace_id":"1-5759e988-bd862e3fe1be46a994272793","start_time":1.0,"end_time":2.0,"subsegments":[{}]}}"#,
        children.join(",")
    );
    socket.send_to(doc.as_bytes(), daemon.addr()).unwrap();
    assert!(daemon.wait_for(1, std::time::Duration::from_secs(10)));
    let mut samples = Vec::new();
    record("emission", &daemon, &mut samples);
    // A scenario that sent nothing leaves the same trace: not shown twice.
    record("sampling", &daemon, &mut samples);
    assert_eq!(samples.len(), 1);
    assert_eq!(samples[0].waterfall.rows.len(), MAX_ROWS);
    assert_eq!(samples[0].rows_not_shown, 6);
    let mut r = report(Scenarios::default());
    r.traced = samples;
    let page = html::render(&r);
    assert!(page.contains("What was traced") && page.contains("<h3>emission</h3>"));
    assert!(page.contains("scenario-fn") && page.contains("call-0"));
    assert!(
        page.contains("background:#d9443c"),
        "the faulty call is red"
    );
    assert!(page.contains("… and 6 more rows."));
}
