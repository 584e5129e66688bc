//! `report.html`: the report as one self-contained page, opened from disk (no server,
//! nothing fetched). Everything is plain HTML and SVG first: the headline, placement,
//! metrics, frontier table, step breakdown bars, timelines and comparisons read the same
//! with JavaScript off. The page's own script (`html/report.js`, written here, no
//! library) adds hovering and pinning frontier points, toggling series and panels,
//! zooming the timelines, and, under `build --watch`, reloading when a new build lands.
//! Light and dark themes follow the system (`html/report.css`).
//!
//! Deterministic: no timestamps, no random ids (ids are plan indices), numbers printed
//! at fixed precision; the same report gives the same bytes.

use super::compare::{self, ComparisonReport};
use super::human::{self, Block};
use super::svg::{self, esc};
use super::PlanReport;
use crate::diagnostics::json::JsonDiagnostic;
use crate::schedule::{Kind, Timeline};
use crate::units::format::fmt_time;
use std::fmt::Write;

const CSS: &str = include_str!("html/report.css");
const JS: &str = include_str!("html/report.js");

/// What one page shows.
pub struct Page<'a> {
    /// the page's heading: the file, or the plan
    pub title: String,
    pub hplanc: &'a str,
    pub plans: &'a [PlanReport],
    pub comparisons: &'a [ComparisonReport],
    pub diagnostics: &'a [JsonDiagnostic],
    /// the diagnostics as the terminal prints them, with their source lines (no colour)
    pub diagnostics_text: &'a str,
    /// under `build --watch`: this build's stamp; the page polls `watch.js` beside it
    /// and reloads when the stamp there differs
    pub watch: Option<String>,
}

/// The stamp `build --watch` writes to `watch.js`: a hash of a build's outputs, so a
/// page reloads only when what it shows changed.
pub fn stamp(parts: &[&str]) -> String {
    // FNV-1a, 64-bit: stable across runs and platforms (std's hasher is not)
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// `watch.js` for a build's stamp.
pub fn watch_js(stamp: &str) -> String {
    format!("hplancWatch(\"{stamp}\");\n")
}

/// JSON for a `<script type="application/json">`: no `<` can end the element.
fn script_json(v: &serde_json::Value) -> String {
    v.to_string().replace('<', "\\u003c")
}

/// The page.
pub fn render(p: &Page) -> String {
    let mut o = String::with_capacity(64 * 1024);
    let watch = p.watch.as_deref().map(|s| format!(r#" data-watch="{}""#, esc(s))).unwrap_or_default();
    let _ = writeln!(
        o,
        r#"<!DOCTYPE html>
<html lang="en"{watch}>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="hplanc {}">
<title>{}</title>
<style>
{CSS}</style>
</head>
<body>
<header>
<h1>{}</h1>"#,
        esc(p.hplanc),
        esc(&p.title),
        esc(&p.title)
    );
    if p.plans.len() + p.comparisons.len() > 1 {
        o.push_str("<nav><ul>\n");
        for (i, r) in p.plans.iter().enumerate() {
            let _ = writeln!(o, r##"<li><a href="#plan-{i}">{}</a> <span class="muted">{}</span></li>"##, esc(&r.name), esc(r.status));
        }
        for (i, c) in p.comparisons.iter().enumerate() {
            let _ = writeln!(o, r##"<li><a href="#compare-{i}">compare {}</a></li>"##, esc(&c.name));
        }
        o.push_str("</ul></nav>\n");
    }
    o.push_str("</header>\n<main>\n");
    diagnostics(&mut o, p);
    if p.plans.is_empty() && p.comparisons.is_empty() {
        o.push_str("<p class=\"empty\">No plan was built: see the diagnostics above.</p>\n");
    }
    if p.plans.iter().any(|r| !r.frontier.is_empty()) {
        frontier(&mut o, p.plans);
    }
    // the timelines share the page's rectangles (a page grows with what it draws)
    let timelines = 2 * p.plans.iter().filter(|r| r.timelines.is_some()).count();
    let rects = rects_per_timeline(timelines);
    for (i, r) in p.plans.iter().enumerate() {
        plan(&mut o, i, r, rects);
    }
    for (i, c) in p.comparisons.iter().enumerate() {
        comparison(&mut o, i, c);
    }
    let _ = writeln!(o, "</main>\n<footer>written by hplanc {}; one file, nothing fetched</footer>", esc(p.hplanc));
    let data = serde_json::json!({
        "plans": p.plans.iter().map(|r| serde_json::json!({ "name": r.name, "frontier": r.frontier })).collect::<Vec<_>>(),
    });
    let _ = writeln!(o, r#"<script type="application/json" id="hplanc-data">{}</script>"#, script_json(&data));
    let _ = write!(o, "<script>\n{JS}</script>\n</body>\n</html>\n");
    o
}

fn diagnostics(o: &mut String, p: &Page) {
    if p.diagnostics.is_empty() {
        return;
    }
    let errors = p.diagnostics.iter().filter(|d| d.severity == "error").count();
    let class = if errors > 0 { "diagnostics has-errors" } else { "diagnostics" };
    let _ = writeln!(o, r#"<section id="diagnostics" class="{class}">"#);
    let _ = writeln!(o, "<h2>Diagnostics</h2>\n<ul>");
    for d in p.diagnostics {
        let _ = writeln!(
            o,
            r#"<li class="sev-{}"><code>{}</code> <span class="where">{}:{}:{}</span> {}</li>"#,
            esc(d.severity),
            esc(d.code),
            esc(&d.file),
            d.line,
            d.column,
            esc(&d.message)
        );
    }
    o.push_str("</ul>\n");
    if !p.diagnostics_text.trim().is_empty() {
        let _ = writeln!(o, "<pre class=\"source\">{}</pre>", esc(p.diagnostics_text.trim_end()));
    }
    o.push_str("</section>\n");
}

/// The frontier chart, its series and panel controls (shown only with JavaScript), the
/// tooltip and the list of pinned points.
fn frontier(o: &mut String, plans: &[PlanReport]) {
    o.push_str("<section id=\"frontier\">\n<h2>Frontier: throughput against interactivity</h2>\n");
    o.push_str("<div class=\"controls js-only\">\n<span class=\"series-toggles\">");
    for (i, r) in plans.iter().enumerate() {
        let colour = svg::colour(i);
        let _ = write!(
            o,
            r#"<label><input type="checkbox" checked data-s="{i}"><span class="swatch" style="background:{colour}"></span>{}</label> "#,
            esc(&r.name)
        );
    }
    o.push_str("</span>\n<span class=\"panels\" role=\"group\" aria-label=\"panel\">");
    let _ = write!(o, r#"<button type="button" data-panel="all" aria-pressed="true">all</button>"#);
    for (k, (title, x, w)) in svg::panel_boxes().iter().enumerate() {
        let _ =
            write!(o, r#"<button type="button" data-panel="{k}" data-box="{x:.1} {w:.1}" aria-pressed="false">{}</button>"#, esc(title));
    }
    o.push_str("</span>\n</div>\n<div class=\"chart\">\n");
    o.push_str(&svg::render_html(plans));
    o.push_str("<div id=\"tip\" class=\"tip\" hidden></div>\n</div>\n");
    o.push_str("<p class=\"hint js-only\">Hover a point for its placement; click to pin it.</p>\n");
    o.push_str("<ul id=\"pinned\" class=\"pinned\"></ul>\n</section>\n");
}

fn plan(o: &mut String, i: usize, r: &PlanReport, rects: usize) {
    let _ = writeln!(o, r#"<section class="plan" id="plan-{i}" data-status="{}">"#, esc(r.status));
    let mut shown_timelines = false;
    let mut list_open = false;
    for b in human::document(r) {
        let is_item = matches!(b, Block::Line(_));
        if list_open && !is_item {
            o.push_str("</ul>\n");
            list_open = false;
        }
        match b {
            Block::Title(t) => {
                let _ = writeln!(o, "<h2>{}</h2>", esc(&t));
            }
            Block::Field(label, text) => {
                let _ = writeln!(o, r#"<p class="field"><b>{}</b>: {}</p>"#, esc(label), esc(&text));
            }
            Block::Table { caption, rows, right, header } => table(o, caption.as_deref(), &rows, &right, header, None),
            Block::Line(l) => {
                if !list_open {
                    o.push_str("<ul class=\"lines\">\n");
                    list_open = true;
                }
                let _ = writeln!(o, "<li>{}</li>", esc(&l));
            }
            // the text Gantt charts: the page draws the timelines instead
            Block::Pre(_) => {
                if !shown_timelines {
                    tornado(o, r);
                    step_parts(o, r);
                    timelines(o, i, r, rects);
                    shown_timelines = true;
                }
            }
            Block::Gap => {}
        }
    }
    if list_open {
        o.push_str("</ul>\n");
    }
    if !shown_timelines {
        tornado(o, r);
        step_parts(o, r);
        timelines(o, i, r, rects);
    }
    o.push_str("</section>\n");
}

/// A table; `classes`, when given, is a class per body cell (deltas' colours).
fn table(o: &mut String, caption: Option<&str>, rows: &[Vec<String>], right: &[bool], header: bool, classes: Option<&[Vec<&str>]>) {
    o.push_str("<div class=\"scroll\"><table>\n");
    if let Some(c) = caption {
        let _ = writeln!(o, "<caption>{}</caption>", esc(c));
    }
    let (head, body) = match rows.split_first() {
        Some((h, b)) if header => (Some(h), b),
        _ => (None, rows),
    };
    let align = |c: usize| if right.get(c).copied().unwrap_or(false) { r#" class="num""# } else { "" };
    if let Some(h) = head {
        o.push_str("<thead><tr>");
        for (c, cell) in h.iter().enumerate() {
            let _ = write!(o, "<th{}>{}</th>", align(c), esc(cell));
        }
        o.push_str("</tr></thead>\n");
    }
    o.push_str("<tbody>\n");
    for (ri, row) in body.iter().enumerate() {
        o.push_str("<tr>");
        for (c, cell) in row.iter().enumerate() {
            let class = classes.and_then(|k| k.get(ri)).and_then(|r| r.get(c)).copied().unwrap_or("");
            let num = right.get(c).copied().unwrap_or(false);
            let attr = match (num, class.is_empty()) {
                (false, true) => String::new(),
                (true, true) => r#" class="num""#.to_string(),
                (false, false) => format!(r#" class="{class}""#),
                (true, false) => format!(r#" class="num {class}""#),
            };
            let _ = write!(o, "<td{attr}>{}</td>", esc(cell));
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</tbody></table></div>\n");
}

/// The tornado chart of the plan's uncertain inputs, when it has any.
fn tornado(o: &mut String, r: &PlanReport) {
    let Some(svg) = r.uncertainty.as_ref().and_then(|u| super::tornado::render(&r.name, r.objective.kind, u)) else { return };
    o.push_str(
        "<figure class=\"tornado\">\n<figcaption>Which uncertain input moves the objective most</figcaption>\n<div class=\"chart\">\n",
    );
    o.push_str(&svg);
    o.push_str("</div>\n</figure>\n");
}

/// The decode step's parts as one stacked bar (plain HTML: widths in percent).
fn step_parts(o: &mut String, r: &PlanReport) {
    let Some(b) = &r.breakdown else { return };
    let s = &b.decode_step_s;
    let parts = s.parts(r.dp_attention());
    let total: f64 = parts.iter().map(|p| p.2.max(0.0)).sum();
    if total <= 0.0 || !total.is_finite() {
        return;
    }
    match r.model.variants {
        // variants served in turn: the parts of a round, every variant's step once
        Some(k) => {
            let _ =
                write!(o, "<figure class=\"breakdown\">\n<figcaption>Where a decode round's time goes (each of {k} variants' step once)");
        }
        None => o.push_str("<figure class=\"breakdown\">\n<figcaption>Where a decode step's time goes"),
    }
    if s.overlap > 0.0 {
        let _ = write!(o, " ({} of it hidden by overlapping microbatches)", esc(&fmt_time(s.overlap)));
    }
    o.push_str("</figcaption>\n<div class=\"bar\">");
    for (label, class, v) in parts.iter().filter(|p| p.2 > 0.0) {
        let pct = 100.0 * v / total;
        let _ = write!(o, r#"<span class="part p-{class}" style="width:{pct:.2}%" title="{}: {}"></span>"#, esc(label), esc(&fmt_time(*v)));
    }
    o.push_str("</div>\n<ul class=\"legend\">");
    for (label, class, v) in parts.iter().filter(|p| p.2 > 0.0) {
        let _ = write!(
            o,
            r#"<li><span class="swatch p-{class}"></span>{} {} <span class="muted">({:.0}%)</span></li>"#,
            esc(label),
            esc(&fmt_time(*v)),
            100.0 * v / total
        );
    }
    o.push_str("</ul>\n</figure>\n");
}

/// `rects`: the rectangles each timeline draws at most ([`rects_per_timeline`]).
fn timelines(o: &mut String, i: usize, r: &PlanReport, rects: usize) {
    let Some(s) = &r.timelines else { return };
    timeline(o, &format!("tl-{i}-decode"), &s.decode, rects);
    timeline(o, &format!("tl-{i}-prefill"), &s.prefill, rects);
}

const TL_LABEL: f64 = 250.0;
const TL_W: f64 = 900.0;
const TL_ROW: f64 = 22.0;
const TL_TOP: f64 = 8.0;
const TL_AXIS: f64 = 26.0;

/// Operations a timeline draws one by one; beyond this, runs of back-to-back operations
/// of one kind on one row are drawn as one rectangle (a page grows with what it draws:
/// a 61-layer step of 8 microbatches has about 2,000 operations, 400 kB).
const MAX_DRAWN_OPS: usize = 1000;

/// Rectangles a timeline draws at most (runs of operations, [`drawn`]): past this, only
/// the earliest are drawn and the caption says up to when; trace.json has every
/// operation. A page stays within a few hundred kB whatever the step's size.
const MAX_DRAWN_RECTS: usize = 500;

/// Rectangles all of a page's timelines draw together at most: a page of many plans
/// shares them (each plan draws two timelines), so that it too stays within a few
/// hundred kB (four plans of ping-pong steps over 20-40 layer groups drew 2,128
/// rectangles, 556 kB).
const MAX_PAGE_RECTS: usize = 1500;

/// Rectangles a timeline draws at least, however many share the page.
const MIN_DRAWN_RECTS: usize = 100;

/// The rectangles each of a page's `timelines` timelines draws at most: an equal share
/// of [`MAX_PAGE_RECTS`], within [`MIN_DRAWN_RECTS`]..=[`MAX_DRAWN_RECTS`].
fn rects_per_timeline(timelines: usize) -> usize {
    (MAX_PAGE_RECTS / timelines.max(1)).clamp(MIN_DRAWN_RECTS, MAX_DRAWN_RECTS)
}

/// The runs of [`drawn`] to draw: all of them, or the `most` that start earliest (ties
/// by row and order), with the start of the first one left out.
fn bounded(ops: &[crate::schedule::Op], runs: Vec<Vec<usize>>, most: usize) -> (Vec<Vec<usize>>, Option<f64>) {
    if runs.len() <= most {
        return (runs, None);
    }
    let mut runs = runs;
    runs.sort_by(|a, b| ops[a[0]].start.total_cmp(&ops[b[0]].start).then(a[0].cmp(&b[0])));
    let cut = ops[runs[most][0]].start;
    runs.truncate(most);
    (runs, Some(cut))
}

/// The operations of `ops` to draw, as runs of indices: one each when there are at most
/// [`MAX_DRAWN_OPS`], else, row by row in time order, consecutive operations of the same
/// kind that start within half a pixel (at full width) of the previous one's end merged.
fn drawn(ops: &[crate::schedule::Op], span: f64, row_of: &dyn Fn(&crate::schedule::Op) -> usize) -> Vec<Vec<usize>> {
    if ops.len() <= MAX_DRAWN_OPS {
        return (0..ops.len()).map(|k| vec![k]).collect();
    }
    let gap = 0.5 * span / TL_W;
    let mut order: Vec<usize> = (0..ops.len()).collect();
    order.sort_by(|&a, &b| row_of(&ops[a]).cmp(&row_of(&ops[b])).then(ops[a].start.total_cmp(&ops[b].start)).then(a.cmp(&b)));
    let mut runs: Vec<Vec<usize>> = Vec::new();
    for k in order {
        let joins = runs.last().is_some_and(|run| {
            let last = &ops[run[run.len() - 1]];
            row_of(last) == row_of(&ops[k]) && last.kind == ops[k].kind && ops[k].start <= last.end() + gap
        });
        match runs.last_mut() {
            Some(run) if joins => run.push(k),
            _ => runs.push(vec![k]),
        }
    }
    runs
}

/// One timeline as SVG: a row per track lane, a rectangle per operation (critical-path
/// ones outlined), a time axis; each rectangle carries its start and duration so the
/// page's script can zoom.
fn timeline(o: &mut String, id: &str, t: &Timeline, most: usize) {
    let span = t.makespan.max(1e-12);
    let mut first_row = Vec::with_capacity(t.tracks.len());
    let mut rows = 0usize;
    for tr in &t.tracks {
        first_row.push(rows);
        rows += tr.lanes.max(1);
    }
    let row_of = |op: &crate::schedule::Op| first_row.get(op.track).copied().unwrap_or(0) + op.lane;
    let (runs, cut) = bounded(&t.ops, drawn(&t.ops, span, &row_of), most);
    let height = TL_TOP + rows as f64 * TL_ROW + TL_AXIS;
    let width = TL_LABEL + TL_W + 20.0;
    let _ = writeln!(o, r#"<figure class="timeline" id="{id}">"#);
    let shown = match cut {
        Some(c) => format!(
            " Drawn up to {}: the first {} of its {} operations; trace.json has every one.",
            fmt_time(c),
            crate::units::format::fmt_num(runs.iter().map(Vec::len).sum::<usize>() as f64),
            crate::units::format::fmt_num(t.ops.len() as f64)
        ),
        None => String::new(),
    };
    let _ = writeln!(o, "<figcaption>{} <span class=\"muted\">{}{}</span></figcaption>", esc(&t.title), esc(&t.note), esc(&shown));
    let _ = writeln!(
        o,
        r#"<div class="tl-controls js-only"><button type="button" data-zoom="in" aria-label="zoom in">+</button><button type="button" data-zoom="out" aria-label="zoom out">−</button><button type="button" data-zoom="left" aria-label="earlier">←</button><button type="button" data-zoom="right" aria-label="later">→</button><button type="button" data-zoom="reset">reset</button> <span class="range">0 – {}</span></div>"#,
        esc(&fmt_time(span))
    );
    let _ = writeln!(
        o,
        r#"<svg class="tl" viewBox="0 0 {width:.0} {height:.0}" data-span="{span:.6e}" data-left="{TL_LABEL}" data-width="{TL_W}" data-top="{TL_TOP}" data-rows="{rows}" data-row="{TL_ROW}" role="img" aria-label="{}">"#,
        esc(&t.title)
    );
    let _ =
        writeln!(o, r#"<defs><clipPath id="{id}-clip"><rect x="{TL_LABEL}" y="0" width="{TL_W}" height="{height:.0}"/></clipPath></defs>"#);
    o.push_str("<g class=\"lanes\">\n");
    for (k, tr) in t.tracks.iter().enumerate() {
        for lane in 0..tr.lanes.max(1) {
            let y = TL_TOP + (first_row[k] + lane) as f64 * TL_ROW;
            let name = if lane == 0 { tr.name.clone() } else { format!("  lane {}", lane + 1) };
            let _ = writeln!(o, r#"<rect class="lane" x="{TL_LABEL}" y="{y:.1}" width="{TL_W}" height="{TL_ROW}"/>"#);
            let _ = writeln!(o, r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#, TL_LABEL - 8.0, y + TL_ROW * 0.68, esc(&name));
        }
    }
    o.push_str("</g>\n");
    // the axis: ticks at round times (the script redraws them when zoomed)
    let _ = writeln!(o, r#"<g class="axis" data-y="{:.1}">"#, TL_TOP + rows as f64 * TL_ROW);
    for tick in ticks(0.0, span) {
        let x = TL_LABEL + tick / span * TL_W;
        let _ = writeln!(
            o,
            r#"<line x1="{x:.1}" y1="{TL_TOP}" x2="{x:.1}" y2="{:.1}"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            TL_TOP + rows as f64 * TL_ROW,
            TL_TOP + rows as f64 * TL_ROW + 16.0,
            esc(&fmt_time(tick))
        );
    }
    o.push_str("</g>\n");
    let _ = writeln!(o, r#"<g class="ops" clip-path="url(#{id}-clip)">"#);
    for run in runs {
        let op = &t.ops[run[0]];
        let y = TL_TOP + row_of(op) as f64 * TL_ROW + 3.0;
        let (start, end) = (op.start, run.iter().map(|&k| t.ops[k].end()).fold(op.end(), f64::max));
        let x = TL_LABEL + start / span * TL_W;
        let w = ((end - start) / span * TL_W).max(0.5);
        let critical = run.iter().any(|&k| t.ops[k].critical);
        let crit = if critical { " crit" } else { "" };
        let mut tip = if run.len() == 1 {
            let mut tip = format!("{}: {} from {}", op.name, fmt_time(op.dur), fmt_time(op.start));
            // the layer and microbatch in words, unless the name already says them (`L8 mb10`)
            if let Some(l) = op.layer.filter(|l| !op.name.contains(&format!("L{l}"))) {
                let _ = write!(tip, ", layer {l}");
            }
            if let Some(m) = op.microbatch.filter(|m| !op.name.contains(&format!("mb{m}"))) {
                let _ = write!(tip, ", microbatch {m}");
            }
            tip
        } else {
            let last = &t.ops[run[run.len() - 1]];
            format!(
                "{} operations back to back, {} to {}: {} from {}",
                run.len(),
                op.name,
                last.name,
                fmt_time(end - start),
                fmt_time(start)
            )
        };
        if critical {
            tip.push_str(", on the critical path");
        }
        let _ = writeln!(
            o,
            r#"<rect class="op k-{}{crit}" x="{x:.2}" y="{y:.1}" width="{w:.2}" height="{:.1}" data-t="{:.6e}" data-d="{:.6e}"><title>{}</title></rect>"#,
            op.kind.name(),
            TL_ROW - 6.0,
            start,
            end - start,
            esc(&tip)
        );
    }
    o.push_str("</g>\n");
    if t.reported > 0.0 && t.reported <= span * (1.0 + 1e-9) {
        let x = TL_LABEL + t.reported / span * TL_W;
        let _ = writeln!(
            o,
            r#"<line class="reported" x1="{x:.1}" y1="0" x2="{x:.1}" y2="{:.1}" data-t="{:.6e}"><title>{}: {}</title></line>"#,
            TL_TOP + rows as f64 * TL_ROW,
            t.reported,
            esc(&t.reported_what),
            esc(&fmt_time(t.reported))
        );
    }
    o.push_str("</svg>\n");
    // the legend: what the colours and outlines mean
    o.push_str("<ul class=\"legend\">");
    for k in [Kind::Compute, Kind::Collective, Kind::Transfer, Kind::Draft, Kind::Overhead] {
        if t.ops.iter().any(|op| op.kind == k) {
            let _ = write!(o, r#"<li><span class="swatch k-{}"></span>{}</li>"#, k.name(), k.name());
        }
    }
    o.push_str("<li><span class=\"swatch crit-key\"></span>critical path</li></ul>\n</figure>\n");
}

/// Round times between `a` and `b` (about five).
fn ticks(a: f64, b: f64) -> Vec<f64> {
    let step = svg::nice_step((b - a) / 5.0);
    let first = (a / step).ceil();
    (0..=12).map(|i| (first + i as f64) * step).filter(|x| *x <= b * (1.0 + 1e-9)).collect()
}

fn comparison(o: &mut String, i: usize, c: &ComparisonReport) {
    let _ = writeln!(o, r#"<section class="compare" id="compare-{i}">"#);
    let (header, table_rows) = compare::metric_table(c);
    let mut rows = vec![header];
    let mut classes: Vec<Vec<&str>> = Vec::new();
    for (label, cells) in &table_rows {
        let mut row = vec![label.to_string()];
        let mut class = vec![""];
        for cell in cells {
            row.push(cell.shown());
            // better than the baseline green, worse red; within 1% neither
            class.push(match cell.ratio {
                Some(r) if (r - 1.0).abs() < 0.01 => "",
                Some(r) if (r > 1.0) == cell.higher_is_better => "better",
                Some(_) => "worse",
                None => "",
            });
        }
        rows.push(row);
        classes.push(class);
    }
    let right: Vec<bool> = std::iter::once(false).chain(c.plans.iter().map(|_| true)).collect();
    // the document's title and lines, its table with the deltas coloured
    for b in compare::document(c) {
        match b {
            Block::Title(t) => {
                let _ = writeln!(o, "<h2>{}</h2>", esc(&t));
            }
            Block::Table { caption, .. } => table(o, caption.as_deref(), &rows, &right, true, Some(&classes)),
            Block::Line(l) => {
                let _ = writeln!(o, "<p>{}</p>", esc(&l));
            }
            Block::Field(label, text) => {
                let _ = writeln!(o, r#"<p class="field"><b>{}</b>: {}</p>"#, esc(label), esc(&text));
            }
            Block::Pre(_) | Block::Gap => {}
        }
    }
    o.push_str("</section>\n");
}

#[cfg(test)]
mod tests {

    /// Up to the bound every operation is drawn on its own; beyond it, back-to-back
    /// operations of one kind on one row are one rectangle, and a gap, another row or
    /// another kind starts a new one.
    #[test]
    fn many_back_to_back_operations_are_drawn_as_one() {
        use crate::schedule::{Kind, Op, Work};
        let op = |track: usize, kind: Kind, start: f64| Op {
            track,
            lane: 0,
            name: "x".into(),
            kind,
            work: Work::Ffn,
            start,
            dur: 1.0,
            layer: None,
            microbatch: None,
            critical: false,
        };
        let row = |o: &Op| o.track;
        let few: Vec<Op> = (0..MAX_DRAWN_OPS).map(|k| op(0, Kind::Compute, k as f64)).collect();
        assert_eq!(drawn(&few, few.len() as f64, &row).len(), MAX_DRAWN_OPS);
        // 1,000 back to back on row 0, then a gap of 10, then 10 more; 10 on row 1; 10
        // collectives on row 0 after them
        let mut many: Vec<Op> = (0..1000).map(|k| op(0, Kind::Compute, k as f64)).collect();
        many.extend((0..10).map(|k| op(0, Kind::Compute, 1010.0 + k as f64)));
        many.extend((0..10).map(|k| op(1, Kind::Compute, k as f64)));
        many.extend((0..10).map(|k| op(0, Kind::Collective, 1020.0 + k as f64)));
        let runs = drawn(&many, 1030.0, &row);
        let lens: Vec<usize> = runs.iter().map(|r| r.len()).collect();
        assert_eq!(lens, vec![1000, 10, 10, 10]);
        assert!(runs.iter().flatten().count() == many.len());
    }

    /// More runs than a timeline draws: the earliest [`MAX_DRAWN_RECTS`] are kept, every
    /// one starting no later than the first left out, whose start is the cut.
    #[test]
    fn a_timeline_draws_its_earliest_runs_up_to_the_bound() {
        use crate::schedule::{Kind, Op, Work};
        let n = MAX_DRAWN_RECTS + 37;
        // starts in a scrambled order, one per run
        let ops: Vec<Op> = (0..n)
            .map(|k| Op {
                track: k % 3,
                lane: 0,
                kind: Kind::Compute,
                work: Work::Ffn,
                name: format!("op {k}"),
                start: ((k * 7919) % n) as f64,
                dur: 0.5,
                layer: None,
                microbatch: None,
                critical: false,
            })
            .collect();
        let (few, none) = bounded(&ops, (0..10).map(|k| vec![k]).collect(), MAX_DRAWN_RECTS);
        assert_eq!((few.len(), none), (10, None));
        let (kept, cut) = bounded(&ops, (0..n).map(|k| vec![k]).collect(), MAX_DRAWN_RECTS);
        let cut = cut.expect("past the bound");
        assert_eq!(kept.len(), MAX_DRAWN_RECTS);
        assert_eq!(cut, MAX_DRAWN_RECTS as f64, "the starts are 0..n: the first left out starts at the bound");
        assert!(kept.iter().all(|r| ops[r[0]].start < cut));
    }

    /// A page of up to three timelines (one plan, or a plan and half of another) draws
    /// each up to the timeline's own bound; more share the page's, down to a floor.
    #[test]
    fn a_pages_timelines_share_its_rectangles() {
        assert_eq!(rects_per_timeline(0), MAX_DRAWN_RECTS);
        assert_eq!(rects_per_timeline(2), MAX_DRAWN_RECTS);
        assert_eq!(rects_per_timeline(3), MAX_DRAWN_RECTS);
        assert_eq!(rects_per_timeline(4), 375);
        assert_eq!(rects_per_timeline(8), 187);
        assert_eq!(rects_per_timeline(100), MIN_DRAWN_RECTS);
        for n in 1..40 {
            let each = rects_per_timeline(n);
            assert!(n * each <= MAX_PAGE_RECTS.max(n * MIN_DRAWN_RECTS), "{n} timelines of {each}");
        }
    }

    use super::*;
    use crate::report::{FrontierPoint, Report};

    fn example(name: &str) -> Report {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name);
        crate::compile_file(&path, crate::Mode::Build).unwrap().report()
    }

    fn page<'a>(r: &'a Report, text: &'a str, watch: Option<String>) -> String {
        render(&Page {
            title: "t".into(),
            hplanc: &r.hplanc,
            plans: &r.plans,
            comparisons: &r.comparisons,
            diagnostics: &r.diagnostics,
            diagnostics_text: text,
            watch,
        })
    }

    #[test]
    fn the_page_is_self_contained_and_shows_each_plan() {
        let r = example("s03_rubin_lpx_frontier.hplan");
        let html = page(&r, "", None);
        assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"));
        // nothing is fetched: no external script, style, image or font
        for fetch in ["src=\"http", "href=\"http", "<link", "@import", "url(http", "<img", "<iframe"] {
            assert!(!html.contains(fetch), "{fetch}");
        }
        // every plan: its section, placement table, timelines and breakdown; each
        // frontier point a marker per panel it has a value on
        for (i, p) in r.plans.iter().enumerate() {
            assert!(html.contains(&format!(r#"<section class="plan" id="plan-{i}""#)));
            assert!(html.contains(&format!(r#"<input type="checkbox" checked data-s="{i}">"#)));
            let markers = html.matches(&format!(r#"data-s="{i}" data-i=""#)).count();
            let expected: usize = p
                .frontier
                .iter()
                .map(|f| 1 + usize::from(f.cost_per_mtok_usd.is_some_and(|c| c > 0.0)) + usize::from(f.tokens_per_s_per_mw.is_some()))
                .sum();
            assert_eq!(markers, expected, "{}", p.name);
        }
        assert_eq!(html.matches("<figure class=\"timeline\"").count(), 2 * r.plans.len());
        assert_eq!(html.matches("<figure class=\"breakdown\">").count(), r.plans.len());
        assert!(html.contains(r#"<section class="compare" id="compare-0">"#));
        // the comparison's deltas are coloured by which way is better
        assert!(html.contains(r#"<td class="num better">"#) && html.contains(r#"<td class="num worse">"#));
        // no watch poller unless watching
        assert!(html.contains("<html lang=\"en\">\n"));
        assert!(page(&r, "", Some("abc".into())).contains(r#"<html lang="en" data-watch="abc">"#));
    }

    #[test]
    fn the_same_report_gives_the_same_bytes() {
        let a = page(&example("rubin_lpx_afd.hplan"), "", None);
        let b = page(&example("rubin_lpx_afd.hplan"), "", None);
        assert_eq!(a, b);
    }

    #[test]
    fn names_cannot_inject_markup() {
        let mut r = example("rubin_lpx_afd.hplan");
        let evil = "<script>alert(1)</script>&\"x\"";
        r.plans[0].name = evil.into();
        r.plans[0].frontier[0].placement = "</script><script>alert(2)</script>".into();
        let html = page(&r, "error: <b>bold</b>", None);
        assert!(!html.contains("<script>alert"), "a name opened a script");
        assert!(!html.contains("<b>bold</b>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;x&quot;"));
        // the embedded data cannot end its own element
        let data = html.split(r#"<script type="application/json" id="hplanc-data">"#).nth(1).unwrap();
        let data = &data[..data.find("</script>").unwrap()];
        let v: serde_json::Value = serde_json::from_str(data).unwrap();
        assert_eq!(v["plans"][0]["name"], evil);
        assert_eq!(v["plans"][0]["frontier"][0]["placement"], "</script><script>alert(2)</script>");
    }

    #[test]
    fn a_page_without_plans_shows_the_diagnostics() {
        let r = Report { hplanc: "0".into(), plans: vec![], comparisons: vec![], diagnostics: vec![] };
        let html = page(&r, "", None);
        assert!(html.contains("No plan was built"));
        assert!(!html.contains("id=\"frontier\""));
        // a file that fails: its diagnostics and their source lines
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui/impossible_slo.hplan");
        let comp = crate::compile_file(&path, crate::Mode::Build).unwrap();
        let text = crate::diagnostics::render::render_all(&comp.diagnostics, &comp.sources, false);
        let r = comp.report();
        let html = page(&Report { plans: vec![], ..r.clone() }, &text, None);
        assert!(html.contains(r#"<section id="diagnostics" class="diagnostics has-errors">"#));
        for d in &r.diagnostics {
            assert!(html.contains(&format!("<code>{}</code>", d.code)));
        }
        assert!(html.contains("tpot"), "the source line is shown");
    }

    #[test]
    fn plans_without_prices_or_points_still_render() {
        let mut r = example("rubin_lpx_afd.hplan");
        for f in &mut r.plans[0].frontier {
            f.cost_per_mtok_usd = None;
            f.tokens_per_s_per_mw = None;
        }
        let html = page(&r, "", None);
        assert!(html.contains("no point has a price for every chip it uses"));
        // thousands of points: one marker each on the per-chip panel, and the page
        // stays linear in them
        let f: FrontierPoint = r.plans[0].frontier[0].clone();
        r.plans[0].frontier = (0..3000).map(|i| FrontierPoint { concurrency: i + 1, ..f.clone() }).collect();
        let html = page(&r, "", None);
        assert_eq!(html.matches(r#"class="pt"#).count(), 3000);
        assert!(html.len() < 3000 * 1200, "{} bytes", html.len());
        // an unsolved plan: its headline, no chart
        let mut r = example("rubin_lpx_afd.hplan");
        r.plans[0].frontier.clear();
        r.plans[0].metrics = None;
        r.plans[0].breakdown = None;
        r.plans[0].timelines = None;
        let html = page(&r, "", None);
        assert!(!html.contains("id=\"frontier\"") && html.contains("id=\"plan-0\""));
    }

    #[test]
    fn stamps_are_stable_and_tell_builds_apart() {
        assert_eq!(stamp(&["a", "b"]), stamp(&["a", "b"]));
        assert_ne!(stamp(&["a", "b"]), stamp(&["ab"]));
        assert_eq!(stamp(&[]), "cbf29ce484222325");
        assert_eq!(watch_js("0123"), "hplancWatch(\"0123\");\n");
    }
}
