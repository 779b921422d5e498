//! The overhead section's comparison: every mode, ours and the peers, as ratios to the bare
//! handler and to the one-datagram floor, in one chart and one table.

use super::{Cell, MODES, charts, count, mode_style, ns, table};
use crate::report::svg::{Axis, Chart, Series};
use crate::scenarios::overhead::{Mode, OverheadReport};

/// The call count the table shows: the reference invocation (10 calls) when measured,
/// else the largest measured.
const REFERENCE_CALLS: u32 = 10;

/// Appends the chart of median latency over the floor's, by call count, and the table of one
/// call count with bars.
pub(super) fn render(out: &mut String, o: &OverheadReport) {
    let Some(calls) = o
        .calls
        .iter()
        .copied()
        .find(|&c| c == REFERENCE_CALLS)
        .or_else(|| o.calls.iter().copied().max())
    else {
        return;
    };
    out.push_str(
        "<h3>Side by side: ours, the floor and the peers</h3><p>Median latency per invocation \
         as a multiple of the bare handler's and of the floor's (the bare handler plus one raw UDP \
         <code>send</code> of as many bytes as <i>sampled + send</i> sends), measured in the same \
         run, the modes alternated over rounds.</p>",
    );
    let series = |mode: Mode| {
        let mut points: Vec<(f64, f64)> = o
            .points
            .iter()
            .filter(|p| p.mode == mode && p.vs_floor.is_finite())
            .map(|p| (f64::from(p.calls), p.vs_floor))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (name, color) = mode_style(mode);
        let s = Series::new(name, color, points);
        if mode == Mode::Floor { s.dashed() } else { s }
    };
    let chart = MODES.iter().copied().fold(
        Chart::new(
            "Median per invocation, × the one-datagram floor",
            Axis::new("captured calls per invocation").log(),
            Axis::new("× floor (median, log scale)").log(),
        ),
        |c, m| c.with(series(m)),
    );
    charts(out, &[chart]);

    let at: Vec<_> = MODES
        .iter()
        .copied()
        .filter_map(|m| o.points.iter().find(|p| p.mode == m && p.calls == calls))
        .collect();
    let widest = at
        .iter()
        .map(|p| p.vs_floor)
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let bytes = o
        .floor_bytes
        .iter()
        .find(|(c, _)| *c == calls)
        .map_or(0, |(_, b)| *b);
    let rows = at
        .into_iter()
        .map(|p| {
            let share = if widest > 0.0 && p.vs_floor.is_finite() {
                (p.vs_floor / widest * 100.0).clamp(0.0, 100.0)
            } else {
                0.0
            };
            (
                p.mode == Mode::Floor,
                vec![
                    Cell::text(mode_style(p.mode).0),
                    Cell::num(&ns(p.latency.p50_ns)),
                    Cell::num(&ratio(p.vs_bare)),
                    Cell::num(&ratio(p.vs_floor)),
                    Cell {
                        html: format!("<div class=\"bar\" style=\"width:{share:.1}%\"></div>"),
                        class: "barcell",
                        span: 1,
                    },
                ],
            )
        })
        .collect();
    let _ = std::fmt::Write::write_fmt(
        out,
        format_args!(
            "<p>At {} captured calls; the floor sends {} bytes.</p>",
            count(u64::from(calls)),
            count(bytes as u64)
        ),
    );
    table(
        out,
        &["mode", "median per invocation", "× bare", "× floor", ""],
        rows,
    );
}

fn ratio(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2}×")
    } else {
        super::MISSING.to_owned()
    }
}
