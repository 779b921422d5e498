//! The HTML report: one self-contained page (no scripts, no external files) with the run's
//! verdict and top-level figures, a section per scenario with inline SVG charts and tables, the
//! daemon's counters, the timings, and the full JSON report.
//!
//! Every string taken from the report is escaped; every number goes through
//! [`text`](super::text), which writes a dash rather than `NaN` or `inf`.

use std::fmt::Write as _;

use super::Report;
use super::svg::{Axis, Chart, Series};
use super::text::{
    MISSING, bytes, count, decimals_needed, escape, ns, percent, seconds, thousands, utc,
};
use crate::daemon::DaemonStats;
use crate::scenarios::concurrency::ConcurrencyReport;
use crate::scenarios::emission::EmissionReport;
use crate::scenarios::large_payloads::LargePayloadReport;
use crate::scenarios::overhead::{Mode, OverheadReport};
use crate::scenarios::sampling::SamplingReport;
use workloads::synthetic::Work;

mod side_by_side;

/// The page's only styling; system fonts, so nothing is fetched.
const STYLE: &str = "\
:root{color-scheme:light}
*{box-sizing:border-box}
body{margin:0;background:#f4f6f9;color:#1f2937;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}
main{max-width:1260px;margin:0 auto;padding:28px 28px 56px}
h1{font-size:26px;margin:0 0 4px;letter-spacing:-.01em}
h2{font-size:19px;margin:0 0 6px}
h3{font-size:15px;margin:22px 0 4px}
p{margin:6px 0 10px}
.meta{color:#4b5563;margin:0 0 14px}
.meta b{color:#111827}
.banner{border-radius:8px;padding:12px 16px;margin:0 0 16px;font-weight:600;font-size:15px}
.banner ul{margin:6px 0 0;padding-left:22px;font-weight:400;font-size:14px}
.pass{background:#ecfdf5;border:1px solid #a7f3d0;color:#065f46}
.fail{background:#fef2f2;border:1px solid #fecaca;color:#991b1b}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(190px,1fr));gap:12px;margin:0 0 12px}
.figure{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:10px 14px}
.figure .v{font-size:22px;font-weight:650;font-variant-numeric:tabular-nums;color:#111827}
.figure .k{color:#374151}
.figure .h{color:#6b7280;font-size:12px}
.figure.bad{border-color:#fca5a5;background:#fff7f7}
.figure.bad .v{color:#b91c1c}
nav{display:flex;flex-wrap:wrap;gap:6px 14px;margin:8px 0 0;font-size:13px}
nav a{color:#1d4ed8;text-decoration:none}
nav a:hover{text-decoration:underline}
section{background:#fff;border:1px solid #e5e7eb;border-radius:10px;padding:18px 22px 14px;margin:18px 0}
.note{color:#6b7280;font-size:13px}
.charts{display:flex;flex-wrap:wrap;gap:14px;margin:10px 0 6px}
.charts svg{flex:0 1 auto;max-width:100%;height:auto;border:1px solid #eef0f3;border-radius:8px}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:13px;margin:8px 0 6px;min-width:50%}
th,td{padding:5px 12px;border-bottom:1px solid #eef0f3;text-align:right;white-space:nowrap}
th{background:#f3f4f6;color:#374151;font-weight:600;border-bottom:1px solid #e5e7eb}
td{font-variant-numeric:tabular-nums}
.l{text-align:left}
tr.group td{border-top:2px solid #e5e7eb}
.ok{color:#047857}
.bad{color:#b91c1c;font-weight:600}
.muted{color:#9ca3af}
.bar{height:10px;min-width:1px;background:#93c5fd;border-radius:3px}
td.barcell{width:45%}
details{margin:18px 0}
summary{cursor:pointer;font-weight:600}
pre{background:#0f172a;color:#e2e8f0;padding:14px 16px;border-radius:8px;font-size:12px;overflow:auto;max-height:640px}
footer{color:#9ca3af;font-size:12px;margin-top:24px}
";

/// Colours of the overhead modes, kept the same in every chart.
fn mode_style(mode: Mode) -> (&'static str, &'static str) {
    match mode {
        Mode::Bare => ("bare (baseline)", "#9ca3af"),
        Mode::Unsampled => ("unsampled", "#059669"),
        Mode::Disabled => ("disabled", "#d97706"),
        Mode::Sampled => ("sampled", "#2563eb"),
        Mode::SampledWithSend => ("sampled + send", "#7c3aed"),
        Mode::Floor => ("floor: bare + one send", "#111827"),
        Mode::TracingRegistry => ("tracing + registry", "#db2777"),
        #[cfg(feature = "peers")]
        Mode::OtelXray => ("OpenTelemetry + X-Ray exporter", "#ea580c"),
        Mode::SampledWithOtlpSend => ("sampled + OTLP send", "#db2777"),
    }
}

/// The modes in the order the tables list them.
const MODES: &[Mode] = Mode::ALL;

/// Renders the page.
pub fn render(report: &Report) -> String {
    let mut page = String::with_capacity(96 * 1024);
    let _ = write!(
        page,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>xray-rs harness report: {} suite, {}</title><style>{STYLE}</style></head>\
         <body><main>",
        escape(&report.suite),
        if report.passed() { "passed" } else { "failed" }
    );
    header(&mut page, report);
    overhead(&mut page, report.scenarios.overhead.as_ref());
    emission(&mut page, report.scenarios.emission.as_ref());
    sampling(&mut page, report.scenarios.sampling.as_ref());
    large_payloads(&mut page, report.scenarios.large_payloads.as_ref());
    concurrency(&mut page, report.scenarios.concurrency.as_ref());
    super::waterfall::render(&mut page, &report.traced);
    daemon(&mut page, &report.daemon);
    timings(&mut page, report);
    let json = serde_json::to_string_pretty(report)
        .unwrap_or_else(|e| format!("the report could not be encoded: {e}"));
    let _ = write!(
        page,
        "<details><summary>Full report (report.json)</summary><pre>{}</pre></details>\
         <footer>Written by bench-harness, report format version {}.</footer>\
         </main></body></html>",
        escape(&json),
        report.version
    );
    page.push('\n');
    page
}

/// Title, machine, verdict, the figures CI gates on, and the table of contents.
fn header(out: &mut String, r: &Report) {
    let _ = write!(
        out,
        "<header><h1>xray-rs harness report</h1>\
         <p class=\"meta\"><b>{}</b> suite · {} · {} · {} cores · {} · {} build · took {}</p>",
        escape(&r.suite),
        utc(r.generated_at),
        escape(&r.machine.cpu),
        r.machine.cores,
        escape(&r.machine.os),
        escape(&r.machine.profile),
        seconds(r.duration_s)
    );
    if r.failures.is_empty() {
        out.push_str("<div class=\"banner pass\">✓ PASSED: every check held</div>");
    } else {
        let _ = write!(
            out,
            "<div class=\"banner fail\">✗ FAILED: {} check{} did not hold<ul>",
            r.failures.len(),
            if r.failures.len() == 1 { "" } else { "s" }
        );
        for f in &r.failures {
            let _ = write!(out, "<li>{}</li>", escape(f));
        }
        out.push_str("</ul></div>");
    }
    out.push_str("<div class=\"figures\">");
    figure(
        out,
        &count(r.documents_received),
        "documents received",
        "by the fake daemon over the run",
        false,
    );
    let zero = "must be 0";
    figure(
        out,
        &count(r.documents_invalid),
        "documents invalid",
        zero,
        r.documents_invalid > 0,
    );
    figure(
        out,
        &count(r.datagrams_lost_unaccounted),
        "datagrams lost, unaccounted",
        zero,
        r.datagrams_lost_unaccounted > 0,
    );
    figure(
        out,
        &count(r.oversized_datagrams_sent),
        "oversized datagrams sent",
        "over 64 KiB; must be 0",
        r.oversized_datagrams_sent > 0,
    );
    let (allocations, bad) = match r.allocations_per_invocation {
        Some(a) => (thousands(a, decimals_needed(a).min(2)), a > 0.0),
        None => ("not measured".to_owned(), false),
    };
    figure(
        out,
        &allocations,
        "allocations per invocation",
        "sampled, steady state; must be 0",
        bad,
    );
    out.push_str(
        "</div><nav><a href=\"#overhead\">Overhead</a><a href=\"#emission\">Emission</a>\
         <a href=\"#sampling\">Sampling</a><a href=\"#large-payloads\">Large payloads</a>\
         <a href=\"#concurrency\">Concurrency</a><a href=\"#daemon\">Daemon</a>\
         <a href=\"#timings\">Timings</a></nav></header>",
    );
}

fn figure(out: &mut String, value: &str, label: &str, hint: &str, bad: bool) {
    let _ = write!(
        out,
        "<div class=\"figure{}\"><div class=\"v\">{}</div><div class=\"k\">{}</div>\
         <div class=\"h\">{}</div></div>",
        if bad { " bad" } else { "" },
        escape(value),
        escape(label),
        escape(hint)
    );
}

/// Opens a scenario's section and passes its figures on; when the scenario did not run, closes
/// the section with a note instead.
fn section<'a, T>(
    out: &mut String,
    id: &str,
    title: &str,
    figures: Option<&'a T>,
) -> Option<&'a T> {
    let _ = write!(out, "<section id=\"{id}\"><h2>{title}</h2>");
    if figures.is_none() {
        out.push_str("<p class=\"note\">Not run in this report.</p></section>");
    }
    figures
}

/// One table cell, its content already HTML.
struct Cell {
    html: String,
    class: &'static str,
    span: usize,
}

impl Cell {
    /// Left-aligned text.
    fn text(s: &str) -> Cell {
        Cell {
            html: escape(s),
            class: "l",
            span: 1,
        }
    }

    /// A right-aligned figure.
    fn num(s: &str) -> Cell {
        Cell {
            html: escape(s),
            class: "",
            span: 1,
        }
    }

    /// A verdict: `good` in green when `ok`, else `bad` in red.
    fn verdict(ok: bool, good: &str, bad: &str) -> Cell {
        Cell {
            html: escape(if ok { good } else { bad }),
            class: if ok { "ok" } else { "bad" },
            span: 1,
        }
    }

    /// Marks the figure red when `cond` holds.
    fn bad_if(mut self, cond: bool) -> Cell {
        if cond {
            self.class = "bad";
        }
        self
    }
}

/// A table; `group` rows start with a heavier rule.
fn table(out: &mut String, head: &[&str], rows: Vec<(bool, Vec<Cell>)>) {
    out.push_str("<div class=\"scroll\"><table><thead><tr>");
    // Headings align with their column's text or figures, as the first row has them.
    let first = rows.first().map(|r| r.1.as_slice()).unwrap_or_default();
    for (i, h) in head.iter().enumerate() {
        let left = first.get(i).map_or(i == 0, |c| {
            c.span == 1 && c.class.split(' ').any(|k| k == "l")
        });
        let _ = write!(
            out,
            "<th{}>{}</th>",
            if left { " class=\"l\"" } else { "" },
            escape(h)
        );
    }
    out.push_str("</tr></thead><tbody>");
    for (group, cells) in rows {
        out.push_str(if group {
            "<tr class=\"group\">"
        } else {
            "<tr>"
        });
        for c in cells {
            out.push_str("<td");
            if !c.class.is_empty() {
                let _ = write!(out, " class=\"{}\"", c.class);
            }
            if c.span > 1 {
                let _ = write!(out, " colspan=\"{}\"", c.span);
            }
            let _ = write!(out, ">{}</td>", c.html);
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
}

fn charts(out: &mut String, charts: &[Chart]) {
    out.push_str("<div class=\"charts\">");
    for c in charts {
        out.push_str(&c.render());
    }
    out.push_str("</div>");
}

fn overhead(out: &mut String, o: Option<&OverheadReport>) {
    let Some(o) = section(out, "overhead", "Overhead", o) else {
        return;
    };
    let _ = write!(
        out,
        "<p>Mean latency per invocation minus the bare handler's mean at the same number of \
         captured calls, {} invocations timed in all. The cost per captured call is the \
         least-squares slope of the median overhead over the call count (medians, because a \
         few preempted runs on shared cores move the mean more than the work does).</p>",
        count(o.invocations)
    );
    let series = |mode: Mode| {
        let mut points: Vec<(f64, f64)> = o
            .points
            .iter()
            .filter(|p| p.mode == mode)
            .map(|p| (f64::from(p.calls), p.overhead_ns))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (name, color) = mode_style(mode);
        let s = Series::new(name, color, points);
        if mode == Mode::Bare { s.dashed() } else { s }
    };
    let x = Axis::new("captured calls per invocation").log();
    let y = Axis::new("mean overhead per invocation (ns)");
    let all = MODES.iter().copied().fold(
        Chart::new("Overhead per invocation: every mode", x.clone(), y.clone()),
        |c, m| c.with(series(m)),
    );
    let cheap = [Mode::Bare, Mode::Unsampled, Mode::Disabled]
        .into_iter()
        .fold(
            Chart::new("Unsampled and disabled, enlarged", x, y),
            |c, m| c.with(series(m)),
        );
    charts(out, &[all, cheap]);
    side_by_side::render(out, o);

    let allocations = o.allocations_per_invocation.map_or_else(
        || "not measured".to_owned(),
        |a| thousands(a, decimals_needed(a)),
    );
    out.push_str("<h3>Cost per captured call</h3>");
    table(
        out,
        &["mode", "per captured call", "fixed, per invocation"],
        vec![
            (
                false,
                vec![
                    Cell::text("sampled"),
                    Cell::num(&ns(o.per_call.sampled_ns)),
                    Cell::num(&ns(o.per_invocation_sampled_ns)),
                ],
            ),
            (
                false,
                vec![
                    Cell::text("sampled + send"),
                    Cell::num(&ns(o.per_call.sampled_with_send_ns)),
                    Cell::num(&fixed_cost(o, Mode::SampledWithSend)),
                ],
            ),
            (
                false,
                vec![
                    Cell::text("sampled + OTLP send"),
                    Cell::num(&ns(o.per_call.sampled_with_otlp_send_ns)),
                    Cell::num(&fixed_cost(o, Mode::SampledWithOtlpSend)),
                ],
            ),
            (
                false,
                vec![
                    Cell::text("unsampled"),
                    Cell::num(&ns(o.per_call.unsampled_ns)),
                    Cell::num(&fixed_cost(o, Mode::Unsampled)),
                ],
            ),
            (
                false,
                vec![
                    Cell::text("disabled"),
                    Cell::num(&ns(o.per_call.disabled_ns)),
                    Cell::num(&fixed_cost(o, Mode::Disabled)),
                ],
            ),
        ],
    );
    let verdict = |a: Option<f64>| match a {
        Some(a) if a > 0.0 => "bad",
        Some(_) => "ok",
        None => "muted",
    };
    let otlp_allocations = o.allocations_per_invocation_otlp.map_or_else(
        || "not measured".to_owned(),
        |a| thousands(a, decimals_needed(a)),
    );
    let _ = write!(
        out,
        "<p>Allocations per sampled invocation with 10 captured calls, after warm-up: \
         <b class=\"{}\">{}</b> (X-Ray), <b class=\"{}\">{}</b> (OTLP).</p>",
        verdict(o.allocations_per_invocation),
        escape(&allocations),
        verdict(o.allocations_per_invocation_otlp),
        escape(&otlp_allocations)
    );

    out.push_str("<h3>Every point</h3>");
    let mut rows = Vec::new();
    for &mode in MODES {
        let mut points: Vec<_> = o.points.iter().filter(|p| p.mode == mode).collect();
        points.sort_by_key(|p| p.calls);
        for (i, p) in points.into_iter().enumerate() {
            let l = &p.latency;
            rows.push((
                i == 0,
                vec![
                    Cell::text(mode_style(mode).0),
                    Cell::num(&count(u64::from(p.calls))),
                    Cell::num(&count(l.count)),
                    Cell::num(&ns(l.mean_ns)),
                    Cell::num(&ns(l.p50_ns)),
                    Cell::num(&ns(l.p99_ns)),
                    Cell::num(&ns(l.p999_ns)),
                    Cell::num(&ns(l.max_ns)),
                    Cell::num(&ns(p.overhead_ns)),
                ],
            ));
        }
    }
    table(
        out,
        &[
            "mode", "calls", "timed", "mean", "p50", "p99", "p99.9", "max", "overhead",
        ],
        rows,
    );
    out.push_str("</section>");
}

/// A mode's overhead with no captured calls, if measured.
fn fixed_cost(o: &OverheadReport, mode: Mode) -> String {
    o.points
        .iter()
        .find(|p| p.mode == mode && p.calls == 0)
        .map_or_else(|| MISSING.to_owned(), |p| ns(p.overhead_p50_ns))
}

fn emission(out: &mut String, e: Option<&EmissionReport>) {
    let Some(e) = section(out, "emission", "Emission", e) else {
        return;
    };
    let _ = write!(
        out,
        "<p>Datagrams of {} sent to the daemon at each offered rate (“max”: as fast as one \
         thread can send). The daemon kept up with <b>{}</b> datagrams/s (received ≥ 99 % of \
         sent); unaccounted losses over all steps: <b class=\"{}\">{}</b>.</p>",
        bytes(e.datagram_bytes as u64),
        thousands(e.sustained_per_s, 0),
        if e.unaccounted > 0 { "bad" } else { "ok" },
        count(e.unaccounted)
    );
    if !e.kernel_drops_readable {
        out.push_str(
            "<p class=\"note\">The kernel's drop counter was not readable here, so kernel drops \
             read 0 and every loss counts as unaccounted.</p>",
        );
    }
    // Fixed rates in increasing order, then the unbounded step(s) last.
    let mut steps: Vec<_> = e.steps.iter().collect();
    steps.sort_by_key(|s| (s.offered_per_s.is_none(), s.offered_per_s));
    let labels: Vec<String> = steps
        .iter()
        .map(|s| s.offered_per_s.map_or_else(|| "max".to_owned(), count))
        .collect();
    let at = |f: &dyn Fn(&crate::scenarios::emission::Step) -> f64| -> Vec<(f64, f64)> {
        steps
            .iter()
            .enumerate()
            .map(|(i, s)| (i as f64, f(s)))
            .collect()
    };
    let offered: Vec<(f64, f64)> = steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.offered_per_s.map(|v| (i as f64, v as f64)))
        .collect();
    let x = Axis::new("offered load (datagrams/s)").categories(labels);
    let throughput = Chart::new(
        "Throughput against offered load",
        x.clone(),
        Axis::new("datagrams/s (log)").log().loose(),
    )
    .with(Series::new("offered", "#9ca3af", offered).dashed())
    .with(Series::new("sent/s", "#2563eb", at(&|s| s.sent_per_s)))
    .with(Series::new(
        "received/s",
        "#059669",
        at(&|s| s.received_per_s),
    ));
    let loss = Chart::new(
        "Loss against offered load",
        x,
        Axis::new("datagrams lost per step"),
    )
    .with(Series::new("lost", "#dc2626", at(&|s| s.lost as f64)))
    .with(Series::new("kernel drops", "#d97706", at(&|s| s.kernel_drops as f64)).dashed())
    .with(Series::new(
        "unaccounted",
        "#7c3aed",
        at(&|s| s.unaccounted as f64),
    ));
    charts(out, &[throughput, loss]);

    let rows = steps
        .iter()
        .zip(
            steps
                .iter()
                .map(|s| s.offered_per_s.map_or_else(|| "max".to_owned(), count)),
        )
        .map(|(s, offered)| {
            (
                false,
                vec![
                    Cell::text(&offered),
                    Cell::num(&thousands(s.sent_per_s, 0)),
                    Cell::num(&thousands(s.received_per_s, 0)),
                    Cell::num(&thousands(s.received_bytes_per_s / 1e6, 1)),
                    Cell::num(&count(s.sent)),
                    Cell::num(&count(s.received)),
                    Cell::num(&count(s.lost)),
                    Cell::num(&count(s.kernel_drops)),
                    Cell::num(&count(s.emitter_drops)).bad_if(s.emitter_drops > 0),
                    Cell::num(&count(s.unaccounted)).bad_if(s.unaccounted > 0),
                    Cell::num(&count(s.rejected)).bad_if(s.rejected > 0),
                ],
            )
        })
        .collect();
    table(
        out,
        &[
            "offered/s",
            "sent/s",
            "received/s",
            "received MB/s",
            "sent",
            "received",
            "lost",
            "kernel drops",
            "emitter drops",
            "unaccounted",
            "rejected",
        ],
        rows,
    );
    out.push_str("</section>");
}

fn sampling(out: &mut String, s: Option<&SamplingReport>) {
    let Some(s) = section(out, "sampling", "Sampling", s) else {
        return;
    };
    let _ = write!(
        out,
        "<p>Each rule set decides {} simulated seconds of requests. A rule passes when the number \
         it sampled lies inside the 99.9 % interval around the expected number, and its \
         reservoir holds when every second it took exactly min(requests, reservoir size). One \
         decision with the default rules costs {}.</p>",
        count(s.simulated_seconds),
        ns(s.decision_ns)
    );
    if !s.failures.is_empty() {
        out.push_str("<ul class=\"bad\">");
        for f in &s.failures {
            let _ = write!(out, "<li>{}</li>", escape(f));
        }
        out.push_str("</ul>");
    }
    if s.rule_sets.is_empty() {
        out.push_str("<p class=\"note\">No rule sets.</p>");
    }
    for set in &s.rule_sets {
        let _ = write!(
            out,
            "<h3>{}</h3><p class=\"note\">{} requests per simulated second.</p>",
            escape(&set.name),
            count(u64::from(set.requests_per_second))
        );
        let sampled = set
            .series
            .iter()
            .map(|p| (p.second as f64, p.sampled_fraction))
            .collect();
        let expected = set
            .series
            .iter()
            .map(|p| (p.second as f64, p.expected_fraction))
            .collect();
        // One wide chart: a time series needs the width more than a second chart beside it.
        let chart = Chart::new(
            "Sampled fraction per simulated second, all rules together",
            Axis::new("simulated second"),
            Axis::new("fraction of requests sampled").percent(),
        )
        .size(1154.0, 300.0)
        .with(Series::new("sampled", "#2563eb", sampled))
        .with(Series::new("expected", "#dc2626", expected).dashed());
        charts(out, &[chart]);
        let rows = set
            .rules
            .iter()
            .map(|r| {
                (
                    false,
                    vec![
                        Cell::text(&r.rule),
                        Cell::num(&format!("{}/s", count(r.fixed_target))),
                        Cell::num(&percent(r.rate, 1)),
                        Cell::num(&count(r.requests)),
                        Cell::num(&count(r.sampled)),
                        Cell::num(&count(r.by_reservoir)),
                        Cell::num(&count(r.by_rate)),
                        Cell::num(&thousands(r.expected, 1)),
                        Cell::num(&format!(
                            "{} – {}",
                            thousands(r.ci_low, 1),
                            thousands(r.ci_high, 1)
                        )),
                        Cell::verdict(r.within_ci, "within", "OUTSIDE"),
                        Cell::verdict(r.reservoir_held, "held", "BROKEN"),
                    ],
                )
            })
            .collect();
        table(
            out,
            &[
                "rule",
                "reservoir",
                "rate",
                "requests",
                "sampled",
                "by reservoir",
                "by rate",
                "expected",
                "99.9 % interval",
                "sampled vs. interval",
                "reservoir",
            ],
            rows,
        );
    }
    out.push_str("</section>");
}

/// What a synthetic invocation does, in words.
fn describe(w: &Work) -> String {
    let mut parts = Vec::new();
    if w.calls > 0 {
        parts.push(format!("{} calls", count(u64::from(w.calls))));
    }
    if w.depth > 0 {
        parts.push(format!("nested {} deep", w.depth));
    }
    if w.fan_out > 0 {
        parts.push(format!("fan-out {} × {} ms", w.fan_out, w.wait_ms));
    }
    if w.call_metadata_bytes > 0 {
        parts.push(format!(
            "{} metadata per call",
            bytes(u64::from(w.call_metadata_bytes))
        ));
    }
    if w.response_bytes > 0 {
        parts.push(format!("response {}", bytes(u64::from(w.response_bytes))));
    }
    if w.fail {
        parts.push("fails".to_owned());
    }
    if parts.is_empty() {
        "no work".to_owned()
    } else {
        parts.join(", ")
    }
}

fn large_payloads(out: &mut String, l: Option<&LargePayloadReport>) {
    let Some(l) = section(out, "large-payloads", "Large payloads", l) else {
        return;
    };
    let _ = write!(
        out,
        "<p>Invocations whose documents would not fit one datagram of {} bytes. Datagrams over \
         64 KiB that reached the daemon: <b class=\"{}\">{}</b>.</p>",
        count(l.limit as u64),
        if l.oversized > 0 { "bad" } else { "ok" },
        count(l.oversized)
    );
    let rows = l
        .cases
        .iter()
        .map(|c| {
            (
                false,
                vec![
                    Cell::text(&c.name),
                    Cell::text(&describe(&c.work)),
                    Cell::num(&count(c.datagrams)),
                    Cell::num(&bytes(c.largest_datagram)).bad_if(c.largest_datagram > 65_535),
                    Cell::num(&format!(
                        "{} / {}",
                        count(c.entities_received as u64),
                        count(c.entities_expected as u64)
                    ))
                    .bad_if(c.entities_received != c.entities_expected),
                    Cell::num(&count(c.subsegments_streamed)),
                    Cell::num(&count(c.documents_truncated)),
                    Cell::num(&count(c.documents_minimal)),
                    Cell::num(&count(c.rejected)).bad_if(c.rejected > 0),
                ],
            )
        })
        .collect();
    table(
        out,
        &[
            "case",
            "work",
            "datagrams",
            "largest",
            "entities",
            "streamed",
            "truncated",
            "minimal",
            "rejected",
        ],
        rows,
    );
    out.push_str("</section>");
}

fn concurrency(out: &mut String, c: Option<&ConcurrencyReport>) {
    let Some(c) = section(out, "concurrency", "Concurrency", c) else {
        return;
    };
    let _ = write!(
        out,
        "<p>Invocations driven through the runtime loop with several in flight at once. \
         Subsegments attached to another invocation's trace: <b class=\"{}\">{}</b>.</p>",
        if c.foreign_attachments > 0 {
            "bad"
        } else {
            "ok"
        },
        count(c.foreign_attachments as u64)
    );
    let rows = c
        .runs
        .iter()
        .map(|r| {
            let mut cells = vec![
                Cell::text(&format!("{} ({})", r.function, r.output)),
                Cell::num(&count(u64::from(r.concurrency))),
            ];
            if let Some(why) = &r.skipped {
                cells.push(Cell {
                    html: format!("skipped: {}", escape(why)),
                    class: "l muted",
                    span: 10,
                });
            } else {
                // Failing invocations still send their (faulted) trace.
                let expected = r.invocations;
                cells.extend([
                    Cell::num(&count(r.invocations as u64)),
                    Cell::num(&count(r.completed as u64)).bad_if(r.completed < r.invocations),
                    Cell::num(&count(r.errors as u64)),
                    Cell::num(&count(r.faults as u64)).bad_if(r.faults != r.errors),
                    Cell::num(&thousands(r.invocations_per_s, 0)),
                    Cell::num(&format!(
                        "{} / {}",
                        count(r.traces_complete as u64),
                        count(expected as u64)
                    ))
                    .bad_if(r.traces_complete < expected),
                    Cell::num(&count(r.foreign_attachments as u64))
                        .bad_if(r.foreign_attachments > 0),
                    Cell::num(&count(r.orphans as u64)).bad_if(r.orphans > 0),
                    Cell::num(&count(r.max_overlap as u64)),
                    Cell::num(&count(r.cold_starts as u64)).bad_if(r.cold_starts > 1),
                ]);
            }
            (false, cells)
        })
        .collect();
    table(
        out,
        &[
            "function",
            "concurrency",
            "invocations",
            "answered",
            "errors",
            "faults",
            "invocations/s",
            "traces complete",
            "foreign",
            "orphans",
            "most in flight",
            "cold starts",
        ],
        rows,
    );
    out.push_str("</section>");
}

fn daemon(out: &mut String, d: &DaemonStats) {
    out.push_str(
        "<section id=\"daemon\"><h2>Daemon</h2>\
         <p>The fake daemon's counters at the end of the run, over every scenario.</p>",
    );
    let row =
        |k: &str, v: String, bad: bool| (false, vec![Cell::text(k), Cell::num(&v).bad_if(bad)]);
    let mut rows = vec![
        row("datagrams received", count(d.datagrams_received), false),
        row("bytes received", bytes(d.bytes_received), false),
        row(
            "largest datagram",
            bytes(d.largest_datagram),
            d.largest_datagram > 65_535,
        ),
        row("accepted", count(d.accepted), false),
        row("rejected", count(d.rejected), d.rejected > 0),
    ];
    for (reason, n) in &d.rejected_by_reason {
        rows.push(row(&format!("  rejected: {reason}"), count(*n), *n > 0));
    }
    rows.extend([
        row(
            "receive errors",
            count(d.receive_errors),
            d.receive_errors > 0,
        ),
        row(
            "kernel drops",
            d.kernel_drops
                .map_or_else(|| "not readable".to_owned(), count),
            false,
        ),
        row("documents not kept", count(d.documents_not_kept), false),
        row("traces", count(d.traces), false),
        row("entities", count(d.entities), false),
        row("entity updates", count(d.entity_updates), false),
        row(
            "foreign attachments",
            count(d.foreign_attachments),
            d.foreign_attachments > 0,
        ),
    ]);
    table(out, &["counter", "value"], rows);
    let examples: Vec<_> = d.rejection_examples.iter().collect();
    if !examples.is_empty() {
        out.push_str("<details><summary>Rejected datagrams (first few of each reason)</summary>");
        for (reason, list) in examples {
            for ex in list {
                let _ = write!(
                    out,
                    "<p><b>{}</b>, datagram #{} ({}): {}</p><pre>{}</pre>",
                    escape(reason.as_str()),
                    ex.seq,
                    bytes(ex.len as u64),
                    escape(&ex.message),
                    escape(&ex.head)
                );
            }
        }
        out.push_str("</details>");
    }
    out.push_str("</section>");
}

fn timings(out: &mut String, r: &Report) {
    out.push_str("<section id=\"timings\"><h2>Timings</h2>");
    if r.scenario_seconds.is_empty() {
        out.push_str("<p class=\"note\">No scenario ran.</p>");
    }
    let longest = r
        .scenario_seconds
        .values()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    // In the order the scenarios run, then any the harness does not list.
    let mut named: Vec<_> = r.scenario_seconds.iter().collect();
    named.sort_by_key(|(name, _)| {
        crate::cli::SCENARIOS
            .iter()
            .position(|s| s == name)
            .unwrap_or(usize::MAX)
    });
    let mut rows: Vec<_> = named
        .into_iter()
        .map(|(name, &secs)| {
            let share = if longest > 0.0 && secs.is_finite() {
                (secs / longest * 100.0).clamp(0.0, 100.0)
            } else {
                0.0
            };
            (
                false,
                vec![
                    Cell::text(name),
                    Cell::num(&seconds(secs)),
                    Cell {
                        html: format!("<div class=\"bar\" style=\"width:{share:.1}%\"></div>"),
                        class: "barcell",
                        span: 1,
                    },
                ],
            )
        })
        .collect();
    rows.push((
        true,
        vec![
            Cell::text("whole run"),
            Cell::num(&seconds(r.duration_s)),
            Cell::text(""),
        ],
    ));
    table(out, &["scenario", "time", ""], rows);
    out.push_str("</section>");
}
