//! `frontier.svg`: throughput against interactivity, every plan a series, in three
//! panels (tokens/s per chip, tokens per dollar, tokens/s per MW against tokens/s per
//! user), the way vendor charts compare GPU generations. An axis is logarithmic when
//! its values span more than a factor of 20. Each plan's Pareto-optimal points are
//! filled and joined (its frontier); dominated points are hollow. A point of a plan
//! with uncertain inputs carries its band (docs/uncertainty.md) as a vertical bar from
//! the least to the greatest value at its sweep value. An SLO sweep's values with no
//! feasible point still widen the x axis, so the chart reaches every value asked for.
//! Deterministic: fixed layout and number formatting, no timestamps.

use super::{FrontierPoint, PlanReport};
use crate::units::format::fmt_num;
use std::fmt::Write;

const WIDTH: f64 = 1500.0;
const HEIGHT: f64 = 500.0;
const PLOT_W: f64 = 380.0;
const PLOT_H: f64 = 300.0;
const LEFT: f64 = 90.0;
const GAP: f64 = 110.0;
const TOP: f64 = 70.0;

/// Okabe–Ito: distinguishable with the common colour-vision deficiencies.
const COLOURS: [&str; 7] = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"];

/// One panel: its y quantity, its unit, and how to read it from a point.
struct Panel {
    title: &'static str,
    y_label: &'static str,
    value: fn(&FrontierPoint) -> Option<f64>,
    /// the point's band on this panel's quantity, `[least, greatest]`
    band: fn(&FrontierPoint) -> Option<[f64; 2]>,
    pareto: fn(&FrontierPoint) -> bool,
    /// what a point needs for this panel, when it has no value
    needs: &'static str,
}

const PANELS: [Panel; 3] = [
    Panel {
        title: "per chip",
        y_label: "throughput per chip (tokens/s)",
        value: |p| Some(p.throughput_per_chip),
        band: |p| p.band.as_ref().map(|b| b.throughput_per_chip),
        pareto: |p| p.pareto_per_chip,
        needs: "",
    },
    Panel {
        title: "per dollar",
        y_label: "tokens per dollar",
        value: |p| p.cost_per_mtok_usd.filter(|c| *c > 0.0).map(|c| 1e6 / c),
        band: |p| p.band.as_ref()?.cost_per_mtok_usd.filter(|[lo, _]| *lo > 0.0).map(|[lo, hi]| [1e6 / hi, 1e6 / lo]),
        pareto: |p| p.pareto_per_dollar,
        needs: "a price",
    },
    Panel {
        title: "per megawatt",
        y_label: "throughput per MW (tokens/s)",
        value: |p| p.tokens_per_s_per_mw,
        band: |p| p.band.as_ref()?.tokens_per_s_per_mw,
        pareto: |p| p.pareto_per_mw,
        needs: "a power figure",
    },
];

/// The colour of the `i`th series (report.html's legend uses the chart's colours).
pub fn colour(i: usize) -> &'static str {
    COLOURS[i % COLOURS.len()]
}

/// Each panel's title and horizontal extent (its left edge less the y labels' room,
/// and its width with them), for report.html to show one panel at a time.
pub fn panel_boxes() -> [(&'static str, f64, f64); 3] {
    let b = |k: usize| (PANELS[k].title, LEFT + k as f64 * (PLOT_W + GAP) - LEFT, PLOT_W + LEFT + 20.0);
    [b(0), b(1), b(2)]
}

/// A linear or logarithmic axis from `lo` to `hi`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Axis {
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
}

impl Axis {
    /// Fits positive values: log when they span more than 20×, else linear with round ends.
    pub fn fit(values: &[f64]) -> Axis {
        let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite() && *x > 0.0).collect();
        let (min, max) = v.iter().fold((f64::INFINITY, 0.0f64), |(a, b), &x| (a.min(x), b.max(x)));
        if v.is_empty() {
            return Axis { lo: 1.0, hi: 10.0, log: true };
        }
        if max / min > 20.0 {
            return Axis { lo: 10f64.powf(min.log10().floor()), hi: 10f64.powf(max.log10().ceil()), log: true };
        }
        let (a, b) = if max > min { (min, max) } else { (min * 0.9, max * 1.1) };
        let step = nice_step((b - a) / 5.0);
        Axis { lo: ((a / step).floor() * step).max(0.0), hi: (b / step).ceil() * step, log: false }
    }

    /// Where `x` falls, 0 at `lo` and 1 at `hi`.
    pub fn frac(&self, x: f64) -> f64 {
        if self.log {
            (x.log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (x - self.lo) / (self.hi - self.lo)
        }
    }

    /// Labelled ticks: decades (and 2, 5 within them when there are at most two), or
    /// round steps.
    pub fn ticks(&self) -> Vec<f64> {
        if self.log {
            let (a, b) = (self.lo.log10().round() as i32, self.hi.log10().round() as i32);
            let mults: &[f64] = if b - a <= 2 { &[1.0, 2.0, 5.0] } else { &[1.0] };
            let mut t = Vec::new();
            for e in a..=b {
                for m in mults {
                    let x = m * 10f64.powi(e);
                    if x <= self.hi * (1.0 + 1e-9) {
                        t.push(x);
                    }
                }
            }
            t
        } else {
            let step = nice_step((self.hi - self.lo) / 5.0);
            let n = ((self.hi - self.lo) / step).round() as usize;
            (0..=n).map(|i| self.lo + i as f64 * step).collect()
        }
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
pub fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * p).find(|s| *s >= raw * (1.0 - 1e-9)).unwrap_or(10.0 * p)
}

/// "500", "2k", "1.5M", "0.2"
pub fn tick_label(x: f64) -> String {
    let (v, suffix) = match x.abs() {
        a if a >= 1e9 => (x / 1e9, "G"),
        a if a >= 1e6 => (x / 1e6, "M"),
        a if a >= 1e3 => (x / 1e3, "k"),
        _ => (x, ""),
    };
    let s = format!("{v:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}{suffix}")
}

/// `s` with the characters XML gives meaning to escaped.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A marker of shape `k` (circle, square, triangle, diamond) at (x, y).
fn marker(o: &mut String, k: usize, (x, y): (f64, f64), colour: &str, filled: bool, tip: &str, attrs: &str) {
    let fill = if filled { colour } else { "#ffffff" };
    let style = format!(r#"fill="{fill}" stroke="{colour}" stroke-width="1.5"{attrs}"#);
    let (tag, geometry) = match k % 4 {
        0 => ("circle", format!(r#"cx="{x:.1}" cy="{y:.1}" r="4""#)),
        1 => ("rect", format!(r#"x="{:.1}" y="{:.1}" width="7" height="7""#, x - 3.5, y - 3.5)),
        2 => ("path", format!(r#"d="M{x:.1},{:.1} L{:.1},{:.1} L{:.1},{:.1} Z""#, y - 4.5, x + 4.5, y + 3.5, x - 4.5, y + 3.5)),
        _ => ("path", format!(r#"d="M{x:.1},{:.1} L{:.1},{y:.1} L{x:.1},{:.1} L{:.1},{y:.1} Z""#, y - 5.0, x + 5.0, y + 5.0, x - 5.0)),
    };
    let _ = writeln!(o, "    <{tag} {geometry} {style}><title>{}</title></{tag}>", esc(tip));
}

fn panel(o: &mut String, k: usize, p: &Panel, plans: &[PlanReport], x_axis: Axis, html: bool) {
    let x0 = LEFT + k as f64 * (PLOT_W + GAP);
    let y0 = TOP;
    let ys: Vec<f64> = plans
        .iter()
        .flat_map(|r| r.frontier.iter().flat_map(|f| (p.value)(f).into_iter().chain((p.band)(f).into_iter().flatten())))
        .collect();
    let _ = writeln!(o, r#"  <g class="panel" id="panel-{}">"#, k + 1);
    let _ = writeln!(
        o,
        r#"    <text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="15" font-weight="bold">{}</text>"#,
        x0 + PLOT_W / 2.0,
        y0 - 14.0,
        esc(p.title)
    );
    let _ = writeln!(o, r##"    <rect x="{x0:.1}" y="{y0:.1}" width="{PLOT_W:.1}" height="{PLOT_H:.1}" fill="none" stroke="#444"/>"##);
    // x axis (shared scale) and its label
    for t in x_axis.ticks() {
        let x = x0 + x_axis.frac(t) * PLOT_W;
        let _ = writeln!(o, r##"    <line x1="{x:.1}" y1="{y0:.1}" x2="{x:.1}" y2="{:.1}" stroke="#e4e4e4"/>"##, y0 + PLOT_H);
        let _ = writeln!(
            o,
            r#"    <text x="{x:.1}" y="{:.1}" text-anchor="middle" font-size="11">{}</text>"#,
            y0 + PLOT_H + 16.0,
            tick_label(t)
        );
    }
    let scale = |a: &Axis| if a.log { ", log scale" } else { "" };
    let _ = writeln!(
        o,
        r#"    <text class="x-label" x="{:.1}" y="{:.1}" text-anchor="middle" font-size="12">interactivity (tokens/s per user{})</text>"#,
        x0 + PLOT_W / 2.0,
        y0 + PLOT_H + 36.0,
        scale(&x_axis)
    );
    if ys.is_empty() {
        // why the panel is empty: no point at all, or none with the figure it needs
        let why = if plans.iter().all(|r| r.frontier.is_empty()) {
            "no feasible point".to_string()
        } else {
            format!("no point has {} for every chip it uses", p.needs)
        };
        let _ = writeln!(
            o,
            r##"    <text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="13" fill="#666">{}</text>"##,
            x0 + PLOT_W / 2.0,
            y0 + PLOT_H / 2.0,
            esc(&why)
        );
        let _ = writeln!(
            o,
            r#"    <text class="y-label" transform="translate({:.1},{:.1}) rotate(-90)" text-anchor="middle" font-size="12">{}</text>"#,
            x0 - 58.0,
            y0 + PLOT_H / 2.0,
            esc(p.y_label)
        );
        let _ = writeln!(o, "  </g>");
        return;
    }
    let y_axis = Axis::fit(&ys);
    let lacking: Vec<&str> = plans
        .iter()
        .filter(|r| !r.frontier.is_empty() && r.frontier.iter().all(|f| (p.value)(f).is_none()))
        .map(|r| r.name.as_str())
        .collect();
    if !lacking.is_empty() {
        let what = if k == 1 { "prices" } else { "powers" };
        let _ = writeln!(
            o,
            r##"    <text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11" fill="#666">not shown (no {what}): {}</text>"##,
            x0 + PLOT_W - 6.0,
            y0 + 14.0,
            esc(&lacking.join(", "))
        );
    }
    for t in y_axis.ticks() {
        let y = y0 + PLOT_H - y_axis.frac(t) * PLOT_H;
        let _ = writeln!(o, r##"    <line x1="{x0:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#e4e4e4"/>"##, x0 + PLOT_W);
        let _ =
            writeln!(o, r#"    <text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11">{}</text>"#, x0 - 6.0, y + 4.0, tick_label(t));
    }
    let _ = writeln!(
        o,
        r#"    <text class="y-label" transform="translate({:.1},{:.1}) rotate(-90)" text-anchor="middle" font-size="12">{}{}</text>"#,
        x0 - 58.0,
        y0 + PLOT_H / 2.0,
        esc(p.y_label),
        scale(&y_axis)
    );
    for (i, r) in plans.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let at = |f: &FrontierPoint| {
            let y = (p.value)(f)?;
            Some((x0 + x_axis.frac(f.tokens_per_s_per_user) * PLOT_W, y0 + PLOT_H - y_axis.frac(y) * PLOT_H, y))
        };
        let mut front: Vec<(f64, f64)> =
            r.frontier.iter().filter(|f| (p.pareto)(f)).filter_map(|f| at(f).map(|(x, y, _)| (x, y))).collect();
        front.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        if r.frontier.iter().all(|f| (p.value)(f).is_none()) {
            // no value on this panel (no prices or powers): no series, named in the note
            continue;
        }
        let index = if html { format!(r#" data-s="{i}""#) } else { String::new() };
        let _ = writeln!(o, r#"    <g class="series" data-plan="{}"{index}>"#, esc(&r.name));
        if front.len() > 1 {
            let pts: Vec<String> = front.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let _ = writeln!(o, r#"    <polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#, pts.join(" "));
        }
        // each point's band: a bar from its least to its greatest value with short caps,
        // under the markers, all of a series' bars one path (each point's marker says its
        // band)
        let mut bars = String::new();
        for f in r.frontier.iter().filter(|f| (p.value)(f).is_some()) {
            if let Some([lo, hi]) = (p.band)(f).filter(|[lo, hi]| hi > lo) {
                let x = x0 + x_axis.frac(f.tokens_per_s_per_user) * PLOT_W;
                let (y_lo, y_hi) = (y0 + PLOT_H - y_axis.frac(lo) * PLOT_H, y0 + PLOT_H - y_axis.frac(hi) * PLOT_H);
                let _ = write!(bars, "M{x:.1},{y_lo:.1}V{y_hi:.1}m-3,0h6M{:.1},{y_lo:.1}h6", x - 3.0);
            }
        }
        if !bars.is_empty() {
            let _ = writeln!(
                o,
                r#"    <path class="band" d="{bars}" stroke="{colour}" stroke-opacity="0.45" stroke-width="1.5" fill="none"/>"#
            );
        }
        for (j, f) in r.frontier.iter().enumerate() {
            if let Some((x, y, v)) = at(f) {
                let mut tip = format!(
                    "{}: concurrency {}, {} tokens/s per user, {} {}",
                    r.name,
                    f.concurrency,
                    fmt_num(f.tokens_per_s_per_user),
                    fmt_num(v),
                    p.y_label
                );
                if let Some([lo, hi]) = (p.band)(f) {
                    let _ = write!(tip, " ({} to {} inside the ranges)", fmt_num(lo), fmt_num(hi));
                }
                // in report.html: which point it is, for the page's script
                let attrs = if html {
                    let hollow = if (p.pareto)(f) { "" } else { " hollow" };
                    format!(r#" class="pt{hollow}" data-s="{i}" data-i="{j}""#)
                } else {
                    String::new()
                };
                marker(o, i, (x, y), colour, (p.pareto)(f), &tip, &attrs);
            }
        }
        let _ = writeln!(o, "    </g>");
    }
    let _ = writeln!(o, "  </g>");
}

/// The chart of `plans`' frontiers.
pub fn render(plans: &[PlanReport]) -> String {
    chart(plans, false)
}

/// The chart as report.html embeds it: each point says which plan and point it is
/// (`data-s`, `data-i`), each series and legend entry which plan, the background and
/// hollow markers have classes the page's theme restyles.
pub fn render_html(plans: &[PlanReport]) -> String {
    chart(plans, true)
}

fn chart(plans: &[PlanReport], html: bool) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="Helvetica, Arial, sans-serif">"#
    );
    let names: Vec<&str> = plans.iter().map(|r| r.name.as_str()).collect();
    let _ = writeln!(o, "  <title>{}</title>", esc(&format!("Throughput against interactivity: {}", names.join(", "))));
    let bg = if html { r#" class="bg""# } else { "" };
    let _ = writeln!(o, r##"  <rect width="100%" height="100%" fill="#ffffff"{bg}/>"##);
    let _ = writeln!(
        o,
        r#"  <text x="{:.1}" y="30" text-anchor="middle" font-size="18">Throughput against interactivity (hplanc; filled: Pareto-optimal)</text>"#,
        WIDTH / 2.0
    );
    // every point, and every value of an SLO sweep with none (the axis reaches what was asked)
    let unmet = |r: &PlanReport| -> Vec<f64> {
        match &r.sweep {
            Some(s) if s.variable == "tokens_per_s_per_user" && !r.frontier.is_empty() => s.infeasible.clone(),
            _ => vec![],
        }
    };
    let xs: Vec<f64> = plans.iter().flat_map(|r| r.frontier.iter().map(|f| f.tokens_per_s_per_user).chain(unmet(r))).collect();
    let x_axis = Axis::fit(&xs);
    for (k, p) in PANELS.iter().enumerate() {
        panel(&mut o, k, p, plans, x_axis, html);
    }
    // legend
    let y = TOP + PLOT_H + 80.0;
    let _ = writeln!(o, r#"  <g class="legend">"#);
    let mut x = LEFT;
    for (i, r) in plans.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let _ = writeln!(o, r#"    <line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{colour}" stroke-width="2"/>"#, x + 28.0);
        marker(&mut o, i, (x + 14.0, y), colour, true, &r.name, "");
        let _ = writeln!(o, r#"    <text x="{:.1}" y="{:.1}" font-size="13">{}</text>"#, x + 36.0, y + 4.5, esc(&r.name));
        x += 60.0 + 8.0 * r.name.chars().count() as f64;
    }
    if plans.iter().all(|r| r.frontier.is_empty()) {
        let _ = writeln!(o, r##"    <text x="{x:.1}" y="{:.1}" font-size="13" fill="#666">no feasible point to plot</text>"##, y + 4.5);
    }
    let _ = writeln!(o, "  </g>");
    o.push_str("</svg>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_choose_log_for_wide_ranges() {
        let a = Axis::fit(&[3.0, 450.0]);
        assert_eq!(a, Axis { lo: 1.0, hi: 1000.0, log: true });
        assert_eq!(a.ticks(), vec![1.0, 10.0, 100.0, 1000.0]);
        assert!((a.frac(10.0) - 1.0 / 3.0).abs() < 1e-12);
        let b = Axis::fit(&[120.0, 470.0]);
        assert!(!b.log);
        assert_eq!((b.lo, b.hi), (100.0, 500.0));
        assert_eq!(b.ticks(), vec![100.0, 200.0, 300.0, 400.0, 500.0]);
        // one decade or two: 1, 2, 5 within them
        assert_eq!(Axis::fit(&[2.0, 90.0]).ticks(), vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]);
        // a single value still gets a range
        let c = Axis::fit(&[50.0]);
        assert!(c.lo < 50.0 && c.hi > 50.0);
    }

    #[test]
    fn an_empty_panel_says_what_its_points_lack() {
        // issue 18: scenario 11's plans have prices but rubin_cpx (the prefill chip)
        // has no power figure; the per-MW panel said "no plan declares chip powers"
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/s11_rubin_cpx_prefill.hplan");
        let comp = crate::compile_file(&path, crate::Mode::Build).unwrap();
        let plan = comp
            .program
            .plans
            .iter()
            .position(|p| p.placement(crate::ir::Stage::Prefill).pools.iter().any(|&i| p.cluster.pools[i].chip.deployed_power().is_none()))
            .unwrap();
        let r = comp.plan_report(plan);
        assert!(!r.frontier.is_empty() && r.frontier.iter().all(|f| f.tokens_per_s_per_mw.is_none() && f.cost_per_mtok_usd.is_some()));
        let svg = render(std::slice::from_ref(&r));
        assert!(svg.contains("no point has a power figure for every chip it uses"), "{svg}");
        assert!(!svg.contains("declares") && !svg.contains("no point has a price"));
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(tick_label(1000.0), "1k");
        assert_eq!(tick_label(1_500_000.0), "1.5M");
        assert_eq!(tick_label(0.2), "0.2");
        assert_eq!(tick_label(500.0), "500");
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(13.0), 20.0);
        assert_eq!(nice_step(40.0), 50.0);
    }
}
