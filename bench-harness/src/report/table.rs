//! The summary printed at the end of a run.

use std::fmt::Write as _;

use super::Report;

/// The summary as text: one block per scenario, then the checks.
pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "xray-rs harness ({} suite, {:.1} s, {} on {} cores, {} build)",
        r.suite, r.duration_s, r.machine.cpu, r.machine.cores, r.machine.profile
    );
    if let Some(o) = &r.scenarios.overhead {
        let _ = writeln!(
            s,
            "\noverhead (per invocation; ratios of medians to bare and to the one-datagram floor; \
             per captured call = slope of the median overhead)"
        );
        let _ = writeln!(
            s,
            "  {:<20} {:>6} {:>12} {:>12} {:>12} {:>12} {:>8} {:>8}",
            "mode", "calls", "p50 ns", "mean ns", "p99 ns", "p99.9 ns", "x bare", "x floor"
        );
        for p in &o.points {
            let _ = writeln!(
                s,
                "  {:<20} {:>6} {:>12.0} {:>12.0} {:>12.0} {:>12.0} {:>8.2} {:>8.2}",
                format!("{:?}", p.mode),
                p.calls,
                p.latency.p50_ns,
                p.latency.mean_ns,
                p.latency.p99_ns,
                p.latency.p999_ns,
                p.vs_bare,
                p.vs_floor
            );
        }
        let bytes: Vec<String> = o
            .floor_bytes
            .iter()
            .map(|(calls, b)| format!("{b} B at {calls} calls"))
            .collect();
        let _ = writeln!(
            s,
            "  floor = bare + one raw send of the bytes sampled + send sent: {}",
            bytes.join(", ")
        );
        let _ = writeln!(
            s,
            "  per captured call: sampled {:.0} ns (with send {:.0} ns, with OTLP send {:.0} ns), unsampled {:.1} ns, disabled {:.1} ns",
            o.per_call.sampled_ns,
            o.per_call.sampled_with_send_ns,
            o.per_call.sampled_with_otlp_send_ns,
            o.per_call.unsampled_ns,
            o.per_call.disabled_ns
        );
        let _ = writeln!(
            s,
            "  allocations per sampled invocation (steady state): {}; with OTLP {}",
            o.allocations_per_invocation
                .map_or_else(|| "not measured".to_owned(), |a| format!("{a}")),
            o.allocations_per_invocation_otlp
                .map_or_else(|| "not measured".to_owned(), |a| format!("{a}"))
        );
    }
    if let Some(e) = &r.scenarios.emission {
        let _ = writeln!(s, "\nemission ({} bytes per datagram)", e.datagram_bytes);
        let _ = writeln!(
            s,
            "  {:>10} {:>12} {:>12} {:>10} {:>10} {:>12}",
            "offered/s", "sent/s", "received/s", "lost", "kernel", "unaccounted"
        );
        for st in &e.steps {
            let _ = writeln!(
                s,
                "  {:>10} {:>12.0} {:>12.0} {:>10} {:>10} {:>12}",
                st.offered_per_s
                    .map_or_else(|| "max".to_owned(), |v| v.to_string()),
                st.sent_per_s,
                st.received_per_s,
                st.lost,
                st.kernel_drops,
                st.unaccounted
            );
        }
        let _ = writeln!(
            s,
            "  the daemon kept up with {:.0} datagrams/s",
            e.sustained_per_s
        );
    }
    if let Some(sm) = &r.scenarios.sampling {
        let _ = writeln!(s, "\nsampling ({} simulated seconds)", sm.simulated_seconds);
        for set in &sm.rule_sets {
            let _ = writeln!(s, "  {}", set.name);
            for rule in &set.rules {
                let _ = writeln!(
                    s,
                    "    {:<24} requests {:>7} sampled {:>6} expected {:>8.1} [{:.1}, {:.1}] {} reservoir {}",
                    rule.rule,
                    rule.requests,
                    rule.sampled,
                    rule.expected,
                    rule.ci_low,
                    rule.ci_high,
                    if rule.within_ci { "ok" } else { "OUT" },
                    if rule.reservoir_held {
                        "held"
                    } else {
                        "BROKEN"
                    }
                );
            }
        }
    }
    if let Some(l) = &r.scenarios.large_payloads {
        let _ = writeln!(s, "\nlarge payloads (limit {} bytes)", l.limit);
        for c in &l.cases {
            let _ = writeln!(
                s,
                "  {:<30} {:>3} datagrams, largest {:>6} B, {:>3}/{:<3} entities, {} streamed, {} cut",
                c.name,
                c.datagrams,
                c.largest_datagram,
                c.entities_received,
                c.entities_expected,
                c.subsegments_streamed,
                c.documents_truncated
            );
        }
    }
    if let Some(c) = &r.scenarios.concurrency {
        let _ = writeln!(s, "\nconcurrency");
        for run in &c.runs {
            match &run.skipped {
                Some(why) => {
                    let _ = writeln!(s, "  {:<28} skipped: {why}", run.function);
                }
                None => {
                    let _ = writeln!(
                        s,
                        "  {:<28} {:<8} x{:<3} {:>4}/{:<4} answered ({} errors), {:>4} traces complete, {} foreign, {} cold, {:.0} inv/s, up to {} in flight",
                        run.function,
                        run.output,
                        run.concurrency,
                        run.completed,
                        run.invocations,
                        run.errors,
                        run.traces_complete,
                        run.foreign_attachments,
                        run.cold_starts,
                        run.invocations_per_s,
                        run.max_overlap
                    );
                }
            }
        }
    }
    if let Some(c) = &r.scenarios.cold_start {
        cold_start(&mut s, c);
    }
    let _ = writeln!(
        s,
        "\ndocuments received {}, invalid {}, lost unaccounted {}, oversized {}, allocations/invocation {}",
        r.documents_received,
        r.documents_invalid,
        r.datagrams_lost_unaccounted,
        r.oversized_datagrams_sent,
        r.allocations_per_invocation
            .map_or_else(|| "n/a".to_owned(), |a| format!("{a}"))
    );
    if r.failures.is_empty() {
        let _ = writeln!(s, "PASSED");
    } else {
        let _ = writeln!(s, "FAILED:");
        for f in &r.failures {
            let _ = writeln!(s, "  - {f}");
        }
    }
    s
}

fn cold_start(s: &mut String, c: &crate::scenarios::cold_start::ColdStartReport) {
    let _ = writeln!(
        s,
        "\ncold start (register-user vs register-user-bare, medians)"
    );
    if let Some(why) = &c.skipped {
        let _ = writeln!(s, "  skipped: {why}");
        return;
    }
    let _ = writeln!(
        s,
        "  spawn to first /next: {:.2} ms traced, {:.2} ms bare, SDK share {:+.2} ms ({} starts each)",
        c.traced_to_next_ms, c.bare_to_next_ms, c.sdk_share_ms, c.runs
    );
    let _ = writeln!(
        s,
        "  spawn to first response: {:.2} ms traced (sampled), {:.2} ms bare",
        c.traced_to_response_ms, c.bare_to_response_ms
    );
    let _ = writeln!(
        s,
        "  stripped size: {} traced, {} bare, SDK {:+} bytes",
        c.traced_stripped_bytes, c.bare_stripped_bytes, c.sdk_stripped_bytes
    );
    let net = if c.init_network.is_empty() {
        "none beyond the Runtime API".to_owned()
    } else {
        c.init_network.join("; ")
    };
    let _ = writeln!(s, "  SDK network activity at init: {net}");
}
