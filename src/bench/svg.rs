//! A small hand-rolled SVG chart writer: line charts (linear or log axes, measured and
//! extrapolated points) and grouped bar charts, with axes, ticks, labels and a legend.
//! Enough for the performance report; no plotting dependency.

use std::fmt::Write;

const W: f64 = 760.0;
const H: f64 = 430.0;
const LEFT: f64 = 86.0;
const RIGHT: f64 = 200.0;
const TOP: f64 = 44.0;
const BOTTOM: f64 = 74.0;
const COLORS: [&str; 6] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"];
const DASHES: [&str; 4] = ["", "7 4", "2 3", "10 3 2 3"];

/// One point of a line series.
#[derive(Clone, Copy, Debug)]
pub struct Point {
    /// X value.
    pub x: f64,
    /// Y value.
    pub y: f64,
    /// Extrapolated rather than measured: drawn hollow, joined by a dotted segment.
    pub extrapolated: bool,
}

impl Point {
    /// A measured point.
    pub fn new(x: f64, y: f64) -> Self {
        Self { x, y, extrapolated: false }
    }
}

/// A named line.
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points in drawing order.
    pub points: Vec<Point>,
    /// Draw the line dashed (to tell apart series that coincide).
    pub dashed: bool,
}

impl Series {
    /// A solid series.
    pub fn new(name: impl Into<String>, points: Vec<Point>) -> Self {
        Self { name: name.into(), points, dashed: false }
    }

    /// A dashed series.
    pub fn dashed(name: impl Into<String>, points: Vec<Point>) -> Self {
        Self { name: name.into(), points, dashed: true }
    }
}

/// An axis scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// Linear, ticks at 1/2/5 steps.
    Linear,
    /// Logarithmic with this base for the ticks (2, 4 or 10).
    Log(u32),
}

/// A line chart.
#[derive(Clone, Debug)]
pub struct LineChart {
    /// Title above the plot.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// X scale.
    pub x_scale: Scale,
    /// Y scale.
    pub y_scale: Scale,
    /// Start the y axis at 0 (linear only).
    pub y_from_zero: bool,
    /// Custom x tick labels (value, label); None: automatic.
    pub x_ticks: Option<Vec<(f64, String)>>,
    /// The lines.
    pub series: Vec<Series>,
}

/// A grouped bar chart: one group per category, one bar per series.
#[derive(Clone, Debug)]
pub struct BarChart {
    /// Title above the plot.
    pub title: String,
    /// Y axis label.
    pub y_label: String,
    /// Category names (x axis).
    pub categories: Vec<String>,
    /// (series name, one value per category); NaN leaves a gap.
    pub series: Vec<(String, Vec<f64>)>,
    /// Logarithmic y axis (bars start at the lowest tick).
    pub log: bool,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A short human label: 1.5k, 2M, 0.25.
pub fn human(v: f64) -> String {
    let a = v.abs();
    let (d, suffix) = if a >= 1e9 {
        (1e9, "G")
    } else if a >= 1e6 {
        (1e6, "M")
    } else if a >= 1e4 {
        (1e3, "k")
    } else {
        (1.0, "")
    };
    let x = v / d;
    let s = if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    };
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_owned() } else { s };
    format!("{s}{suffix}")
}

/// "Nice" linear ticks covering [lo, hi].
fn linear_ticks(lo: f64, hi: f64) -> (f64, f64, Vec<f64>) {
    let span = (hi - lo).max(f64::MIN_POSITIVE);
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| m * mag).find(|s| span / s <= 6.0).unwrap_or(10.0 * mag);
    let start = (lo / step).floor() * step;
    let end = (hi / step).ceil() * step;
    let mut t = Vec::new();
    let mut v = start;
    while v <= end + step * 1e-6 {
        t.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        v += step;
    }
    (start, end, t)
}

/// Log ticks at powers of `base` covering [lo, hi] (both > 0).
fn log_ticks(lo: f64, hi: f64, base: u32) -> (f64, f64, Vec<f64>) {
    let b = f64::from(base.max(2));
    let a = (lo.ln() / b.ln()).floor() as i32;
    let z = (hi.ln() / b.ln()).ceil().max(f64::from(a) + 1.0) as i32;
    let mut t: Vec<f64> = (a..=z).map(|k| b.powi(k)).collect();
    // Thin out to at most ~11 labels.
    let keep = t.len().div_ceil(11).max(1);
    if keep > 1 {
        t = t.into_iter().enumerate().filter(|(i, _)| i % keep == 0).map(|(_, v)| v).collect();
    }
    (b.powi(a), b.powi(z), t)
}

struct Axis {
    scale: Scale,
    lo: f64,
    hi: f64,
    p0: f64,
    p1: f64,
}

impl Axis {
    fn map(&self, v: f64) -> f64 {
        let f = match self.scale {
            Scale::Linear => (v - self.lo) / (self.hi - self.lo),
            Scale::Log(_) => (v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln()),
        };
        let f = if f.is_finite() { f } else { 0.0 };
        self.p0 + f * (self.p1 - self.p0)
    }
}

fn axis_range(scale: Scale, vals: &[f64], from_zero: bool) -> (f64, f64, Vec<f64>) {
    let finite: Vec<f64> = vals.iter().copied().filter(|v| v.is_finite() && (scale == Scale::Linear || *v > 0.0)).collect();
    let (mut lo, mut hi) = finite.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        (lo, hi) = (1.0, 10.0);
    }
    match scale {
        Scale::Linear => {
            if from_zero {
                lo = lo.min(0.0);
            }
            if hi - lo < 1e-12 {
                hi = lo + lo.abs().max(1.0);
            }
            linear_ticks(lo, hi)
        }
        Scale::Log(b) => log_ticks(lo, hi.max(lo * 1.0001), b),
    }
}

fn header(title: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="Helvetica, Arial, sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect x="0" y="0" width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(s, r#"<text x="{}" y="24" font-size="15" font-weight="bold" text-anchor="middle">{}</text>"#, (LEFT + W - RIGHT) / 2.0, esc(title));
    s
}

fn frame(s: &mut String, x_label: &str, y_label: &str) {
    let (x0, x1, y0, y1) = (LEFT, W - RIGHT, H - BOTTOM, TOP);
    let _ = writeln!(s, r##"<rect x="{x0}" y="{y1}" width="{}" height="{}" fill="none" stroke="#333"/>"##, x1 - x0, y0 - y1);
    let _ = writeln!(s, r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#, (x0 + x1) / 2.0, H - 14.0, esc(x_label));
    let _ = writeln!(
        s,
        r#"<text x="18" y="{0}" text-anchor="middle" transform="rotate(-90 18 {0})">{1}</text>"#,
        (y0 + y1) / 2.0,
        esc(y_label)
    );
}

fn y_ticks(s: &mut String, ax: &Axis, ticks: &[f64]) {
    for &t in ticks {
        let y = ax.map(t);
        let _ = writeln!(s, r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/>"##, W - RIGHT);
        let _ = writeln!(s, r##"<line x1="{:.1}" y1="{y:.1}" x2="{LEFT}" y2="{y:.1}" stroke="#333"/>"##, LEFT - 5.0);
        let _ = writeln!(s, r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#, LEFT - 8.0, y + 4.0, human(t));
    }
}

/// A point marker of shape `shape` (circle, square, triangle, diamond, in turn) at (x, y).
fn marker(shape: usize, x: f64, y: f64, fill: &str, color: &str) -> String {
    let attrs = format!(r#"fill="{fill}" stroke="{color}" stroke-width="1.5""#);
    match shape % 4 {
        0 => format!(r#"<circle cx="{x:.1}" cy="{y:.1}" r="3.5" {attrs}/>"#),
        1 => format!(r#"<rect x="{:.1}" y="{:.1}" width="7" height="7" {attrs}/>"#, x - 3.5, y - 3.5),
        2 => format!(r#"<polygon points="{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" {attrs}/>"#, x, y - 4.5, x + 4.5, y + 3.5, x - 4.5, y + 3.5),
        _ => format!(r#"<polygon points="{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" {attrs}/>"#, x, y - 5.0, x + 5.0, y, x, y + 5.0, x - 5.0, y),
    }
}

/// A legend entry: name, colour, dash pattern, bar (else a line with `shape` markers).
type Entry<'a> = (String, &'a str, &'a str, bool, usize);

fn legend(s: &mut String, entries: &[Entry], note: Option<&str>) {
    let x = W - RIGHT + 14.0;
    let mut y = TOP + 8.0;
    for (name, color, dash, bar, shape) in entries {
        if *bar {
            let _ = writeln!(s, r#"<rect x="{x}" y="{:.1}" width="18" height="10" fill="{color}"/>"#, y - 5.0);
        } else {
            let _ = writeln!(
                s,
                r#"<line x1="{x}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/>{}"#,
                x + 22.0,
                marker(*shape, x + 11.0, y, color, color)
            );
        }
        // Wrap long names over two lines.
        let words: Vec<&str> = name.split(' ').collect();
        let mut lines = vec![String::new()];
        for w in words {
            let cur = lines.last_mut().expect("one line");
            if !cur.is_empty() && cur.len() + w.len() > 24 {
                lines.push(w.to_owned());
            } else {
                if !cur.is_empty() {
                    cur.push(' ');
                }
                cur.push_str(w);
            }
        }
        for (i, l) in lines.iter().enumerate() {
            let _ = writeln!(s, r#"<text x="{:.1}" y="{:.1}" font-size="11">{}</text>"#, x + 28.0, y + 4.0 + 13.0 * i as f64, esc(l));
        }
        y += 13.0 * lines.len() as f64 + 8.0;
    }
    if let Some(n) = note {
        let _ = writeln!(s, r##"<circle cx="{:.1}" cy="{y:.1}" r="3.5" fill="white" stroke="#333" stroke-width="1.5"/>"##, x + 11.0);
        let _ = writeln!(s, r#"<text x="{:.1}" y="{:.1}" font-size="11">{}</text>"#, x + 28.0, y + 4.0, esc(n));
    }
}

impl LineChart {
    /// The chart as an SVG document.
    pub fn render(&self) -> String {
        let mut s = header(&self.title);
        frame(&mut s, &self.x_label, &self.y_label);
        let xs: Vec<f64> = self.series.iter().flat_map(|se| se.points.iter().map(|p| p.x)).collect();
        let ys: Vec<f64> = self.series.iter().flat_map(|se| se.points.iter().map(|p| p.y)).collect();
        let (xlo, xhi, xt) = match &self.x_ticks {
            Some(t) => {
                let vals: Vec<f64> = t.iter().map(|(v, _)| *v).chain(xs.iter().copied()).collect();
                let (lo, hi) = vals.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
                (lo, hi, Vec::new())
            }
            None => axis_range(self.x_scale, &xs, false),
        };
        let (ylo, yhi, yt) = axis_range(self.y_scale, &ys, self.y_from_zero);
        // A little air at both ends of a custom-ticked x axis.
        let pad = if self.x_ticks.is_some() { 0.04 * (W - RIGHT - LEFT) } else { 0.0 };
        let xa = Axis { scale: self.x_scale, lo: xlo, hi: xhi.max(xlo * 1.0001 + 1e-12), p0: LEFT + pad, p1: W - RIGHT - pad };
        let ya = Axis { scale: self.y_scale, lo: ylo, hi: yhi, p0: H - BOTTOM, p1: TOP };
        y_ticks(&mut s, &ya, &yt);
        let xticks: Vec<(f64, String)> = match &self.x_ticks {
            Some(t) => t.clone(),
            None => xt.iter().map(|&v| (v, human(v))).collect(),
        };
        for (v, label) in &xticks {
            let x = xa.map(*v);
            let _ = writeln!(s, r##"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#333"/>"##, H - BOTTOM, H - BOTTOM + 5.0);
            let _ = writeln!(s, r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#, H - BOTTOM + 19.0, esc(label));
        }
        let mut entries = Vec::new();
        let mut any_extra = false;
        // Series that coincide with an earlier one (every point within a pixel) are drawn a few
        // pixels lower, one step per earlier twin, and every series has its own marker shape,
        // so that none hides another.
        let mut drawn: Vec<Vec<(f64, f64, bool)>> = Vec::new();
        for (i, se) in self.series.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let dash = if se.dashed { DASHES[1] } else { DASHES[i / COLORS.len() % DASHES.len()] };
            let mut pts: Vec<(f64, f64, bool)> = se
                .points
                .iter()
                .filter(|p| p.x.is_finite() && p.y.is_finite())
                .filter(|p| (self.y_scale == Scale::Linear || p.y > 0.0) && (self.x_scale == Scale::Linear || p.x > 0.0))
                .map(|p| (xa.map(p.x), ya.map(p.y), p.extrapolated))
                .collect();
            let same = |a: &[(f64, f64, bool)]| {
                !pts.is_empty() && a.len() == pts.len() && a.iter().zip(&pts).all(|(p, q)| (p.0 - q.0).abs() < 1.0 && (p.1 - q.1).abs() < 1.0)
            };
            let twins = drawn.iter().filter(|d| same(d)).count();
            drawn.push(pts.clone());
            for p in &mut pts {
                p.1 += 3.0 * twins as f64;
            }
            let measured: Vec<String> = pts.iter().filter(|p| !p.2).map(|p| format!("{:.1},{:.1}", p.0, p.1)).collect();
            if measured.len() > 1 {
                let _ = writeln!(
                    s,
                    r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/>"#,
                    measured.join(" ")
                );
            }
            // Dotted from the last measured point through the extrapolated ones.
            let tail: Vec<String> = pts
                .iter()
                .enumerate()
                .filter(|(k, p)| p.2 || pts.get(k + 1).is_some_and(|q| q.2))
                .map(|(_, p)| format!("{:.1},{:.1}", p.0, p.1))
                .collect();
            if tail.len() > 1 {
                let _ = writeln!(s, r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="1.5" stroke-dasharray="2 4"/>"#, tail.join(" "));
            }
            for &(x, y, extra) in &pts {
                any_extra |= extra;
                let fill = if extra { "white" } else { color };
                let _ = writeln!(s, "{}", marker(i, x, y, fill, color));
            }
            let name = if twins > 0 { format!("{} (same values; drawn {}px lower)", se.name, 3 * twins) } else { se.name.clone() };
            entries.push((name, color, dash, false, i));
        }
        legend(&mut s, &entries, any_extra.then_some("extrapolated"));
        s.push_str("</svg>\n");
        s
    }
}

impl BarChart {
    /// The chart as an SVG document.
    pub fn render(&self) -> String {
        let mut s = header(&self.title);
        frame(&mut s, "", &self.y_label);
        let vals: Vec<f64> = self.series.iter().flat_map(|(_, v)| v.iter().copied()).collect();
        let scale = if self.log { Scale::Log(10) } else { Scale::Linear };
        let (ylo, yhi, yt) = axis_range(scale, &vals, true);
        let ya = Axis { scale, lo: ylo, hi: yhi, p0: H - BOTTOM, p1: TOP };
        y_ticks(&mut s, &ya, &yt);
        let n = self.categories.len().max(1) as f64;
        let group = (W - RIGHT - LEFT) / n;
        let k = self.series.len().max(1) as f64;
        let bar = (group * 0.8 / k).min(60.0);
        let rotate = self.categories.iter().any(|c| c.len() * 7 > group as usize);
        for (ci, cat) in self.categories.iter().enumerate() {
            let gx = LEFT + group * ci as f64 + group / 2.0;
            let y = H - BOTTOM + 17.0;
            if rotate {
                let _ = writeln!(
                    s,
                    r#"<text x="{gx:.1}" y="{y:.1}" font-size="11" text-anchor="end" transform="rotate(-22 {gx:.1} {y:.1})">{}</text>"#,
                    esc(cat)
                );
            } else {
                let _ = writeln!(s, r#"<text x="{gx:.1}" y="{y:.1}" text-anchor="middle">{}</text>"#, esc(cat));
            }
            for (si, (_, v)) in self.series.iter().enumerate() {
                let Some(&val) = v.get(ci).filter(|v| v.is_finite() && (!self.log || **v > 0.0)) else { continue };
                let x = gx - bar * k / 2.0 + bar * si as f64;
                let (yv, y0) = (ya.map(val), ya.map(if self.log { ylo } else { 0.0 }));
                let color = COLORS[si % COLORS.len()];
                let _ = writeln!(
                    s,
                    r#"<rect x="{x:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{color}"/>"#,
                    yv.min(y0),
                    bar - 2.0,
                    (y0 - yv).abs()
                );
                let _ = writeln!(s, r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">{}</text>"#, x + bar / 2.0 - 1.0, yv.min(y0) - 3.0, human(val));
            }
        }
        let entries: Vec<_> =
            self.series.iter().enumerate().map(|(i, (name, _))| (name.clone(), COLORS[i % COLORS.len()], "", true, i)).collect();
        legend(&mut s, &entries, None);
        s.push_str("</svg>\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_labels() {
        assert_eq!(human(0.0), "0");
        assert_eq!(human(1500.0), "1500");
        assert_eq!(human(15_000.0), "15k");
        assert_eq!(human(2_500_000.0), "2.5M");
        assert_eq!(human(0.25), "0.25");
        assert_eq!(human(262_144.0), "262k");
    }

    #[test]
    fn ticks_cover_the_range() {
        let (lo, hi, t) = linear_ticks(3.0, 97.0);
        assert!(lo <= 3.0 && hi >= 97.0 && t.len() >= 3 && t.len() <= 8, "{t:?}");
        let (lo, hi, t) = log_ticks(1.0, 262_144.0, 4);
        assert!(lo <= 1.0 && hi >= 262_144.0 && t.len() <= 11, "{t:?}");
    }

    #[test]
    fn charts_are_svg_documents() {
        let line = LineChart {
            title: "t <&>".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            x_scale: Scale::Log(4),
            y_scale: Scale::Log(10),
            y_from_zero: false,
            x_ticks: None,
            series: vec![Series {
                name: "a".into(),
                points: vec![Point::new(1.0, 1.0), Point::new(4.0, 4.0), Point { x: 16.0, y: 16.0, extrapolated: true }],
                dashed: true,
            }],
        }
        .render();
        assert!(line.starts_with("<svg") && line.trim_end().ends_with("</svg>"));
        assert!(line.contains("t &lt;&amp;&gt;") && line.contains("extrapolated"));
        // Two series with the same values: the second is drawn apart and says so.
        let twins = LineChart {
            title: "twins".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            x_scale: Scale::Linear,
            y_scale: Scale::Linear,
            y_from_zero: true,
            x_ticks: None,
            series: ["a", "b"].iter().map(|n| Series::new(*n, vec![Point::new(1.0, 2.0), Point::new(2.0, 4.0)])).collect(),
        }
        .render();
        let lines: Vec<&str> = twins.lines().filter(|l| l.starts_with("<polyline")).collect();
        assert_eq!(lines.len(), 2);
        assert_ne!(lines[0].split('"').nth(1), lines[1].split('"').nth(1), "coinciding series drawn apart");
        assert!(twins.contains("same values") && twins.contains(r#"width="7""#), "a note and a square marker: {twins}");
        let bar = BarChart { title: "b".into(), y_label: "y".into(), categories: vec!["c".into()], series: vec![("s".into(), vec![2.0])], log: false }.render();
        assert!(bar.contains("<rect") && bar.trim_end().ends_with("</svg>"));
        let bar = BarChart { title: "b".into(), y_label: "y".into(), categories: vec!["c".into(), "d".into()], series: vec![("s".into(), vec![2e3, 3e7])], log: true }.render();
        assert!(bar.contains("<rect") && bar.trim_end().ends_with("</svg>"));
    }
}
