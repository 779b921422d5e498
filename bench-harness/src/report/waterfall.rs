//! One trace per scenario, as `xray-local` would show it: the report says what was traced,
//! not only what it cost.

use std::fmt::Write as _;

use serde::Serialize;

use super::text::escape;
use crate::daemon::FakeDaemon;
use crate::local_xray::{Status, Waterfall};

/// Rows drawn per trace; a 10 000-call invocation is summarised by its first rows.
pub const MAX_ROWS: usize = 40;

/// How many of the newest traces are looked at to find one worth showing.
const CANDIDATES: usize = 20;

/// The trace shown for one scenario.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct TraceSample {
    /// The scenario that sent it.
    pub scenario: String,
    /// The trace, laid out; its rows cut at [`MAX_ROWS`].
    pub waterfall: Waterfall,
    /// Rows not drawn.
    pub rows_not_shown: usize,
}

impl TraceSample {
    /// The newest trace the daemon holds with more than one entity (else the newest), if any.
    pub fn newest(scenario: &str, daemon: &FakeDaemon) -> Option<TraceSample> {
        let traces = daemon.newest_traces(CANDIDATES);
        let trace = traces
            .iter()
            .find(|t| t.entities.len() > 1)
            .or(traces.first())?;
        let mut waterfall = Waterfall::of(trace);
        let rows_not_shown = waterfall.rows.len().saturating_sub(MAX_ROWS);
        waterfall.rows.truncate(MAX_ROWS);
        Some(TraceSample {
            scenario: scenario.to_owned(),
            waterfall,
            rows_not_shown,
        })
    }
}

/// Adds the newest trace to `samples` for `scenario`, unless a scenario before it already
/// showed that trace (a scenario that sends nothing leaves the previous one's traces).
pub fn record(scenario: &str, daemon: &FakeDaemon, samples: &mut Vec<TraceSample>) {
    let Some(sample) = TraceSample::newest(scenario, daemon) else {
        return;
    };
    let id = &sample.waterfall.summary.trace_id;
    if !samples.iter().any(|s| &s.waterfall.summary.trace_id == id) {
        samples.push(sample);
    }
}

fn colour(status: Status) -> &'static str {
    match status {
        Status::Ok => "#3b82c4",
        Status::Error => "#e29a1d",
        Status::Throttle => "#a35fd6",
        Status::Fault => "#d9443c",
    }
}

/// The "What was traced" section: a waterfall per scenario, bars on the trace's time axis.
pub fn render(out: &mut String, samples: &[TraceSample]) {
    out.push_str(
        "<section id=\"traced\"><h2>What was traced</h2>\
         <p>One trace per scenario, the newest with more than one entity, as <code>xray-local</code> \
         shows it: bars on the trace's time axis, coloured by status.</p>",
    );
    if samples.is_empty() {
        out.push_str("<p class=\"note\">No scenario left a trace in the daemon.</p></section>");
        return;
    }
    for sample in samples {
        let w = &sample.waterfall;
        let total = w.summary.duration.unwrap_or(0.0);
        let _ = write!(
            out,
            "<h3>{}</h3><p class=\"note\"><code>{}</code>, {} entities, {:.3} ms, {}</p>\
             <table class=\"waterfall\"><tbody>",
            escape(&sample.scenario),
            escape(&w.summary.trace_id),
            w.summary.entities,
            total * 1000.0,
            escape(&format!("{:?}", w.summary.status).to_lowercase()),
        );
        for row in &w.rows {
            let (left, width) = if total > 0.0 {
                let left = (row.offset.unwrap_or(0.0) / total * 100.0).clamp(0.0, 100.0);
                let width = (row.duration.unwrap_or(0.0) / total * 100.0).clamp(0.0, 100.0 - left);
                (left, width)
            } else {
                (0.0, 100.0)
            };
            let _ = write!(
                out,
                "<tr><td style=\"padding-left:{:.1}em\">{}</td><td class=\"num\">{:.3} ms</td>\
                 <td style=\"width:55%\"><div style=\"position:relative;height:10px;background:#f1f3f6\">\
                 <div style=\"position:absolute;left:{left:.2}%;width:{width:.2}%;min-width:1px;height:10px;background:{}\"></div>\
                 </div></td></tr>",
                1.0 * row.depth.min(30) as f64,
                escape(&row.name),
                row.duration.unwrap_or(0.0) * 1000.0,
                colour(row.status),
            );
        }
        out.push_str("</tbody></table>");
        if sample.rows_not_shown > 0 {
            let _ = write!(
                out,
                "<p class=\"note\">… and {} more rows.</p>",
                sample.rows_not_shown
            );
        }
    }
    out.push_str("</section>");
}
