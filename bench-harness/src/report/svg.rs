//! A small line-chart renderer for the HTML report: axes with ticks and labels, polylines with
//! point markers, a legend, and linear or logarithmic axes. The output is one inline `<svg>`
//! element styled by attributes alone, so the page needs no script or stylesheet to draw it.
//!
//! Points that are not finite are left out and degenerate data (nothing, one point, all equal)
//! still gets a readable frame, so no `NaN` or `inf` ever reaches an attribute.

use std::fmt::Write as _;

use super::text::{decimals_needed, escape, thousands};

/// Average width of a character of the 11 px chart font, to lay out labels without measuring.
const CHAR_WIDTH: f64 = 6.0;

/// Series with more points than this are drawn without markers: they would hide the line.
const MARKER_LIMIT: usize = 40;

/// How an axis maps values to positions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Scale {
    /// Proportional.
    #[default]
    Linear,
    /// Logarithmic, as `log10(1 + v)`: zero keeps its place at the origin (call counts start at
    /// zero) and from ten up it is indistinguishable from `log10(v)`. Negative values are
    /// drawn at zero.
    Log,
}

impl Scale {
    fn apply(self, v: f64) -> f64 {
        match self {
            Scale::Linear => v,
            Scale::Log => (1.0 + v.max(0.0)).log10(),
        }
    }
}

/// How tick labels are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TickFormat {
    /// Numbers with thousands separators, counted in thousands (`k`) or millions (`M`) when
    /// the largest tick is large.
    #[default]
    Number,
    /// Fractions as percentages.
    Percent,
}

/// One axis.
#[derive(Debug, Clone, Default)]
pub struct Axis {
    /// Its title.
    pub label: String,
    /// How values map to positions.
    pub scale: Scale,
    /// How tick labels are written.
    pub format: TickFormat,
    /// Ticks given as (value, label), replacing the computed ones (for categories).
    pub ticks: Option<Vec<(f64, String)>>,
    /// The range shown, replacing the one fitted to the data.
    pub range: Option<(f64, f64)>,
    /// Whether the fitted range must include zero.
    pub from_zero: bool,
}

impl Axis {
    /// A linear axis whose range includes zero.
    pub fn new(label: impl Into<String>) -> Axis {
        Axis {
            label: label.into(),
            from_zero: true,
            ..Axis::default()
        }
    }

    /// Makes the axis logarithmic.
    #[must_use]
    pub fn log(mut self) -> Axis {
        self.scale = Scale::Log;
        self
    }

    /// Writes ticks as percentages of fractions.
    #[must_use]
    pub fn percent(mut self) -> Axis {
        self.format = TickFormat::Percent;
        self
    }

    /// Fits the range to the data without reaching down to zero.
    #[must_use]
    pub fn loose(mut self) -> Axis {
        self.from_zero = false;
        self
    }

    /// Makes the axis categorical: category `i` sits at value `i`, evenly spaced, labelled.
    #[must_use]
    pub fn categories(mut self, labels: Vec<String>) -> Axis {
        let n = labels.len() as f64;
        self.scale = Scale::Linear;
        self.range = Some((-0.5, n - 0.5));
        self.ticks = Some(
            labels
                .into_iter()
                .enumerate()
                .map(|(i, l)| (i as f64, l))
                .collect(),
        );
        self
    }
}

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    /// Its name in the legend and the tooltips.
    pub name: String,
    /// Its CSS colour.
    pub color: &'static str,
    /// Its points as (x, y) in data units.
    pub points: Vec<(f64, f64)>,
    /// Drawn dashed (for references such as an expectation).
    pub dashed: bool,
    /// Points marked with a dot carrying a tooltip.
    pub markers: bool,
}

impl Series {
    /// A solid line, with markers unless it has many points.
    pub fn new(name: impl Into<String>, color: &'static str, points: Vec<(f64, f64)>) -> Series {
        let markers = points.len() <= MARKER_LIMIT;
        Series {
            name: name.into(),
            color,
            points,
            dashed: false,
            markers,
        }
    }

    /// Draws the line dashed.
    #[must_use]
    pub fn dashed(mut self) -> Series {
        self.dashed = true;
        self
    }
}

/// A line chart.
#[derive(Debug, Clone)]
pub struct Chart {
    /// Shown above the plot.
    pub title: String,
    /// The horizontal axis.
    pub x: Axis,
    /// The vertical axis.
    pub y: Axis,
    /// The lines, drawn in order (later ones on top).
    pub series: Vec<Series>,
    /// Width in CSS pixels.
    pub width: f64,
    /// Height in CSS pixels.
    pub height: f64,
}

/// An axis fitted to the data: its range in scaled units and its ticks.
struct Fitted {
    scale: Scale,
    lo: f64,
    hi: f64,
    /// (scaled position, label).
    ticks: Vec<(f64, String)>,
}

impl Fitted {
    /// Where `v` falls between 0 (`lo`) and 1 (`hi`), clamped into the frame.
    fn fraction(&self, v: f64) -> f64 {
        self.scaled_fraction(self.scale.apply(v))
    }

    /// The same for a value already scaled.
    fn scaled_fraction(&self, t: f64) -> f64 {
        let f = (t - self.lo) / (self.hi - self.lo);
        // Ranges near the limits of f64 can overflow to inf / inf.
        if f.is_finite() {
            f.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }
}

impl Chart {
    /// An empty chart of the usual size.
    pub fn new(title: impl Into<String>, x: Axis, y: Axis) -> Chart {
        Chart {
            title: title.into(),
            x,
            y,
            series: Vec::new(),
            width: 570.0,
            height: 340.0,
        }
    }

    /// Sets the size in CSS pixels.
    #[must_use]
    pub fn size(mut self, width: f64, height: f64) -> Chart {
        self.width = width;
        self.height = height;
        self
    }

    /// Adds a line.
    #[must_use]
    pub fn with(mut self, series: Series) -> Chart {
        self.series.push(series);
        self
    }

    /// The points of every series that can be drawn.
    fn finite_points(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .filter(|(x, y)| x.is_finite() && y.is_finite())
    }

    /// The chart as an `<svg>` element.
    pub fn render(&self) -> String {
        let xs: Vec<f64> = self.finite_points().map(|p| p.0).collect();
        let ys: Vec<f64> = self.finite_points().map(|p| p.1).collect();
        let x = fit(&self.x, &xs);
        let y = fit(&self.y, &ys);
        let (w, h) = (self.width.max(200.0), self.height.max(150.0));

        let legend = legend_layout(&self.series, w);
        let rows = legend.last().map_or(0.0, |e| e.row + 1.0);
        let y_label_chars = y.ticks.iter().map(|t| t.1.chars().count()).max();
        let last_x_chars = x.ticks.last().map_or(0, |t| t.1.chars().count());
        let left = 34.0 + y_label_chars.unwrap_or(1) as f64 * CHAR_WIDTH;
        let right = w - (16.0_f64).max(last_x_chars as f64 * CHAR_WIDTH / 2.0 + 4.0);
        let top = 34.0 + rows * 18.0;
        let bottom = h - 44.0;
        let px = |v: f64| left + x.fraction(v) * (right - left);
        let py = |v: f64| bottom - y.fraction(v) * (bottom - top);
        let tick_x = |t: f64| left + x.scaled_fraction(t) * (right - left);
        let tick_y = |t: f64| bottom - y.scaled_fraction(t) * (bottom - top);

        let title = escape(&fit_text(&self.title, (w - 24.0) / 7.4));
        let mut s = String::new();
        let _ = write!(
            s,
            "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w:.0} {h:.0}\" \
             width=\"{w:.0}\" height=\"{h:.0}\" role=\"img\" aria-label=\"{title}\" \
             font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\" \
             font-size=\"11\" fill=\"#374151\">\
             <title>{title}</title>\
             <rect width=\"{w:.0}\" height=\"{h:.0}\" fill=\"#ffffff\"/>\
             <text x=\"12\" y=\"20\" font-size=\"13\" font-weight=\"600\" fill=\"#111827\">{title}</text>"
        );
        for e in &legend {
            let ly = 40.0 + e.row * 18.0;
            let series = &self.series[e.index];
            let _ = write!(
                s,
                "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{}\" \
                 stroke-width=\"2.5\"{}/>",
                e.x,
                ly - 4.0,
                e.x + 20.0,
                ly - 4.0,
                escape(series.color),
                if series.dashed {
                    " stroke-dasharray=\"5 3\""
                } else {
                    ""
                }
            );
            if series.markers {
                let _ = write!(
                    s,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"/>",
                    e.x + 10.0,
                    ly - 4.0,
                    escape(series.color)
                );
            }
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{ly:.1}\">{}</text>",
                e.x + 26.0,
                escape(&series.name)
            );
        }

        for (t, label) in &y.ticks {
            let ty = tick_y(*t);
            let _ = write!(
                s,
                "<line x1=\"{left:.1}\" y1=\"{ty:.1}\" x2=\"{right:.1}\" y2=\"{ty:.1}\" \
                 stroke=\"#e5e7eb\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                left - 6.0,
                ty + 4.0,
                escape(label)
            );
        }
        for (t, label) in &x.ticks {
            let tx = tick_x(*t);
            let _ = write!(
                s,
                "<line x1=\"{tx:.1}\" y1=\"{top:.1}\" x2=\"{tx:.1}\" y2=\"{bottom:.1}\" \
                 stroke=\"#f1f3f6\"/>\
                 <line x1=\"{tx:.1}\" y1=\"{bottom:.1}\" x2=\"{tx:.1}\" y2=\"{:.1}\" \
                 stroke=\"#9ca3af\"/>\
                 <text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                bottom + 4.0,
                bottom + 16.0,
                escape(label)
            );
        }
        let _ = write!(
            s,
            "<polyline points=\"{left:.1},{top:.1} {left:.1},{bottom:.1} {right:.1},{bottom:.1}\" \
             fill=\"none\" stroke=\"#9ca3af\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#4b5563\">{}</text>\
             <text transform=\"translate(14 {:.1}) rotate(-90)\" text-anchor=\"middle\" \
             fill=\"#4b5563\">{}</text>",
            f64::midpoint(left, right),
            h - 10.0,
            escape(&self.x.label),
            f64::midpoint(top, bottom),
            escape(&self.y.label)
        );

        if xs.is_empty() {
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#9ca3af\" \
                 font-size=\"13\">no data</text>",
                f64::midpoint(left, right),
                f64::midpoint(top, bottom)
            );
        }

        for series in &self.series {
            let points: Vec<(f64, f64)> = series
                .points
                .iter()
                .copied()
                .filter(|(a, b)| a.is_finite() && b.is_finite())
                .collect();
            if points.is_empty() {
                continue;
            }
            let color = escape(series.color);
            let mut line = String::new();
            for (a, b) in &points {
                let _ = write!(line, "{:.1},{:.1} ", px(*a), py(*b));
            }
            let _ = write!(
                s,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" \
                 stroke-linejoin=\"round\"{}/>",
                line.trim_end(),
                if series.dashed {
                    " stroke-dasharray=\"6 4\""
                } else {
                    ""
                }
            );
            // A lone point draws no line, so it gets a marker whatever the series asked for.
            if series.markers || points.len() == 1 {
                for (a, b) in &points {
                    let _ = write!(
                        s,
                        "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{color}\" \
                         stroke=\"#ffffff\" stroke-width=\"1\"><title>{}</title></circle>",
                        px(*a),
                        py(*b),
                        escape(&format!(
                            "{}: {} {}, {} {}",
                            series.name,
                            self.x.label,
                            value_label(&self.x, *a),
                            self.y.label,
                            value_label(&self.y, *b)
                        ))
                    );
                }
            }
        }
        s.push_str("</svg>");
        s
    }
}

/// `text` cut to about `chars` characters, with an ellipsis when cut.
fn fit_text(text: &str, chars: f64) -> String {
    let max = chars.max(4.0) as usize;
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max - 1).collect();
        cut.push('…');
        cut
    }
}

/// Where one legend entry goes.
struct LegendEntry {
    index: usize,
    x: f64,
    row: f64,
}

/// Lays the legend out in rows under the title, wrapping at the chart's width.
fn legend_layout(series: &[Series], width: f64) -> Vec<LegendEntry> {
    let (mut x, mut row) = (12.0, 0.0);
    let mut out = Vec::new();
    for (index, s) in series.iter().enumerate() {
        let w = 26.0 + s.name.chars().count() as f64 * CHAR_WIDTH + 14.0;
        if x > 12.0 && x + w > width - 12.0 {
            x = 12.0;
            row += 1.0;
        }
        out.push(LegendEntry { index, x, row });
        x += w;
    }
    out
}

/// A value as a tooltip shows it: a category's label, or the number.
fn value_label(axis: &Axis, v: f64) -> String {
    if let Some(ticks) = &axis.ticks
        && let Some((_, label)) = ticks.iter().find(|(t, _)| (t - v).abs() < 1e-9)
    {
        return label.clone();
    }
    match axis.format {
        TickFormat::Number => thousands(v, decimals_needed(v).min(2)),
        TickFormat::Percent => format!("{} %", thousands(v * 100.0, 1)),
    }
}

/// Fits an axis to its values (scaled range and ticks).
fn fit(axis: &Axis, values: &[f64]) -> Fitted {
    let scale = axis.scale;
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for t in values
        .iter()
        .map(|&v| scale.apply(v))
        .filter(|t| t.is_finite())
    {
        lo = lo.min(t);
        hi = hi.max(t);
    }
    let fixed_range = axis
        .range
        .map(|(a, b)| (scale.apply(a), scale.apply(b)))
        .filter(|(a, b)| a.is_finite() && b.is_finite() && a < b);
    if let Some((a, b)) = fixed_range {
        (lo, hi) = (a, b);
    } else {
        if axis.from_zero {
            // Both scales put zero at zero.
            lo = lo.min(0.0);
            hi = hi.max(0.0);
        }
        if !lo.is_finite() || !hi.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        if hi - lo <= 1e-9 * lo.abs().max(hi.abs()).max(1.0) {
            // All values equal: give them some room, centred unless that crosses zero.
            let pad = if lo.abs() > 0.0 { lo.abs() * 0.5 } else { 1.0 };
            if lo.abs() > 0.0 {
                (lo, hi) = (lo - pad, hi + pad);
            } else {
                hi = lo + pad;
            }
        }
    }

    if let Some(fixed) = &axis.ticks {
        let ticks = fixed
            .iter()
            .map(|(v, l)| (scale.apply(*v), l.clone()))
            .filter(|(t, _)| t.is_finite() && *t >= lo - 1e-9 && *t <= hi + 1e-9)
            .collect();
        return Fitted {
            scale,
            lo,
            hi,
            ticks,
        };
    }
    let values = match scale {
        Scale::Linear => {
            let (values, nice_lo, nice_hi) = linear_ticks(lo, hi);
            if fixed_range.is_none() {
                (lo, hi) = (nice_lo, nice_hi);
            }
            values
        }
        Scale::Log => {
            if fixed_range.is_none() && !axis.from_zero {
                // Rounding out to whole decades would waste most of a decade for values just
                // under a power of ten (999/s); a margin keeps the end points off the frame.
                let pad = 0.05 * (hi - lo);
                lo = (lo - pad).max(0.0);
                hi += pad;
            }
            log_ticks(lo, hi)
        }
    };
    let ticks = tick_labels(&values, axis.format)
        .into_iter()
        .zip(&values)
        .map(|(label, v)| (scale.apply(*v), label))
        .collect();
    Fitted {
        scale,
        lo,
        hi,
        ticks,
    }
}

/// About five ticks at a round step (1, 2, 2.5 or 5 times a power of ten), and the range they
/// span.
fn linear_ticks(lo: f64, hi: f64) -> (Vec<f64>, f64, f64) {
    let raw = (hi - lo) / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude);
    if !step.is_finite() || step <= 0.0 {
        return (vec![lo, hi], lo, hi);
    }
    // A bound a hair off a multiple of the step (from division) must not add a whole step.
    let snap = |q: f64| {
        if (q - q.round()).abs() < 1e-9 {
            q.round()
        } else {
            q
        }
    };
    let first = snap(lo / step).floor();
    let last = snap(hi / step).ceil();
    let n = (last - first).clamp(1.0, 20.0) as usize;
    // Multiplying out each tick keeps 0.1 + 0.2 style drift out of the labels.
    let ticks: Vec<f64> = (0..=n)
        .map(|i| {
            let v = (first + i as f64) * step;
            if v.abs() < step * 1e-9 { 0.0 } else { v }
        })
        .collect();
    (ticks, first * step, (first + n as f64) * step)
}

/// Ticks of a `log10(1 + v)` axis spanning `lo..=hi` (scaled): zero if in range, then powers
/// of ten, with 2 and 5 times them when fewer than three decades are in view.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let in_range = |v: f64| {
        let t = Scale::Log.apply(v);
        t >= lo - 1e-9 && t <= hi + 1e-9
    };
    let mut decades: Vec<f64> = (0..=18)
        .map(|k| 10f64.powi(k))
        .filter(|v| in_range(*v))
        .collect();
    if decades.len() < 3 {
        decades = (0..=18)
            .flat_map(|k| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(k)))
            .filter(|v| in_range(*v))
            .collect();
    }
    let mut ticks = Vec::with_capacity(decades.len() + 1);
    if lo <= 1e-9 {
        ticks.push(0.0);
    }
    ticks.extend(decades);
    ticks
}

/// Labels for a set of ticks, all in the same unit (k or M) so they read as one scale.
fn tick_labels(values: &[f64], format: TickFormat) -> Vec<String> {
    match format {
        TickFormat::Percent => values
            .iter()
            .map(|v| {
                let p = v * 100.0;
                format!("{}%", thousands(p, decimals_needed(p)))
            })
            .collect(),
        TickFormat::Number => {
            let largest = values.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
            let (unit, suffix) = if largest >= 1e7 {
                (1e6, "M")
            } else if largest >= 1e4 {
                (1e3, "k")
            } else {
                (1.0, "")
            };
            values
                .iter()
                .map(|v| {
                    let u = v / unit;
                    if u.abs() < 1e-12 {
                        "0".to_owned()
                    } else {
                        format!("{}{suffix}", thousands(u, decimals_needed(u)))
                    }
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attributes_are_finite(svg: &str) -> bool {
        !svg.contains("NaN") && !svg.contains("inf")
    }

    #[test]
    fn linear_ticks_are_round() {
        let (t, lo, hi) = linear_ticks(0.0, 17_511.0);
        assert_eq!(t, vec![0.0, 5000.0, 10_000.0, 15_000.0, 20_000.0]);
        assert!((lo - 0.0).abs() < 1e-9 && (hi - 20_000.0).abs() < 1e-9);
        assert_eq!(
            tick_labels(&t, TickFormat::Number),
            vec!["0", "5k", "10k", "15k", "20k"]
        );
        let (t, _, _) = linear_ticks(0.0, 0.08);
        assert_eq!(
            tick_labels(&t, TickFormat::Percent),
            vec!["0%", "2%", "4%", "6%", "8%"]
        );
        let (t, _, _) = linear_ticks(-40.0, 310.0);
        assert_eq!(t.first().copied(), Some(-100.0));
        assert!(t.contains(&0.0));
    }

    #[test]
    fn log_ticks_cover_zero_and_decades() {
        let axis = Axis::new("calls").log();
        let f = fit(&axis, &[0.0, 10.0, 100.0]);
        let labels: Vec<&str> = f.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, vec!["0", "1", "10", "100"]);
        let axis = Axis::new("per s").log().loose();
        let f = fit(&axis, &[999.0, 4998.0, 141_372.0, 14_181.0]);
        let labels: Vec<&str> = f.ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, vec!["1k", "10k", "100k"]);
    }

    #[test]
    fn degenerate_data_draws_a_frame() {
        let empty = Chart::new("empty", Axis::new("x"), Axis::new("y")).render();
        assert!(empty.contains("no data"));
        assert!(attributes_are_finite(&empty));

        let nothing = Chart::new("none", Axis::new("x").log(), Axis::new("y").log().loose())
            .with(Series::new("s", "#000", vec![]))
            .render();
        assert!(attributes_are_finite(&nothing));

        let one = Chart::new("one", Axis::new("x").loose(), Axis::new("y").loose())
            .with(Series::new("s", "#000", vec![(5.0, 7.0)]))
            .render();
        assert!(attributes_are_finite(&one));
        assert_eq!(one.matches("<circle").count(), 2, "legend and the point");

        let zeros = Chart::new("zeros", Axis::new("x"), Axis::new("y"))
            .with(Series::new("s", "#000", vec![(0.0, 0.0), (0.0, 0.0)]))
            .render();
        assert!(attributes_are_finite(&zeros));

        let bad = Chart::new("bad", Axis::new("x").log(), Axis::new("y"))
            .with(Series::new(
                "s",
                "#000",
                vec![
                    (f64::NAN, 1.0),
                    (1.0, f64::INFINITY),
                    (-5.0, -1e300),
                    (2.0, 1e300),
                ],
            ))
            .render();
        assert!(attributes_are_finite(&bad));

        let none_categories = Chart::new("cat", Axis::new("x").categories(vec![]), Axis::new("y"))
            .with(Series::new("s", "#000", vec![(0.0, 1.0)]))
            .render();
        assert!(attributes_are_finite(&none_categories));
    }

    #[test]
    fn legend_wraps() {
        let series: Vec<Series> = (0..8)
            .map(|i| Series::new(format!("a rather long series name {i}"), "#000", vec![]))
            .collect();
        let rows = legend_layout(&series, 600.0);
        assert!(rows.last().is_some_and(|e| e.row >= 2.0));
        assert!(rows.iter().all(|e| e.x < 600.0));
    }

    #[test]
    fn text_is_escaped() {
        let svg = Chart::new("<t>", Axis::new("<x>"), Axis::new("y"))
            .with(Series::new("<script>", "#000", vec![(1.0, 1.0)]))
            .render();
        assert!(!svg.contains("<script"));
        assert!(!svg.contains("<t>"));
        assert!(svg.contains("&lt;script&gt;"));
    }
}
