//! `tornado.svg`: a plan's uncertain inputs (`super::uncertainty`), one bar each.

use super::uncertainty::UncertaintyReport;

/// The tornado chart (`tornado.svg`, and inline in report.html): one bar per input,
/// largest swing first, from the objective at one end of its range to the other, the
/// nominal objective a vertical line; the low end's half blue, the high end's orange;
/// an end with no feasible placement is said in words. `None` without inputs or an
/// objective value.
pub fn render(plan_name: &str, objective: &str, u: &UncertaintyReport) -> Option<String> {
    use super::svg::{esc, tick_label, Axis};
    use std::fmt::Write;
    let nominal = u.metrics.objective?.nominal;
    if u.inputs.is_empty() {
        return None;
    }
    let (left, width, row, top) = (300.0, 560.0, 30.0, 50.0);
    let height = top + row * u.inputs.len() as f64 + 50.0;
    let mut values = vec![nominal];
    values.extend(u.inputs.iter().flat_map(|i| [i.objective_at_low, i.objective_at_high]).flatten());
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let axis = if hi > lo { Axis::fit(&[lo, hi]) } else { Axis::fit(&[lo * 0.9, hi * 1.1]) };
    let x = |v: f64| left + axis.frac(v).clamp(0.0, 1.0) * width;
    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{height:.0}" viewBox="0 0 {w:.0} {height:.0}" font-family="Helvetica, Arial, sans-serif" font-size="12">"#,
        w = left + width + 40.0
    );
    let _ = writeln!(o, "  <title>{}</title>", esc(&format!("{plan_name}: {objective} over each uncertain input's range")));
    let _ = writeln!(o, r##"  <rect width="100%" height="100%" fill="#ffffff" class="bg"/>"##);
    let _ = writeln!(
        o,
        r#"  <text x="{:.1}" y="22" text-anchor="middle" font-size="14">{}: {} at each input's low (blue) and high (orange) end</text>"#,
        (left + width) / 2.0 + 20.0,
        esc(plan_name),
        esc(objective)
    );
    let base = top + row * u.inputs.len() as f64;
    for t in axis.ticks() {
        let tx = x(t);
        let _ = writeln!(o, r##"  <line x1="{tx:.1}" y1="{top:.1}" x2="{tx:.1}" y2="{base:.1}" stroke="#e4e4e4"/>"##);
        let _ = writeln!(o, r#"  <text x="{tx:.1}" y="{:.1}" text-anchor="middle">{}</text>"#, base + 16.0, tick_label(t));
    }
    for (k, i) in u.inputs.iter().enumerate() {
        let y = top + row * k as f64;
        let _ = writeln!(o, r#"  <text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#, left - 8.0, y + row * 0.62, esc(&i.name));
        let xn = x(nominal);
        for (end, v, colour) in [("low", i.objective_at_low, "#0072B2"), ("high", i.objective_at_high, "#E69F00")] {
            match v {
                Some(v) => {
                    let (a, b) = if x(v) < xn { (x(v), xn) } else { (xn, x(v)) };
                    let _ = writeln!(
                        o,
                        r#"  <rect x="{a:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{colour}"><title>{}</title></rect>"#,
                        y + 5.0,
                        (b - a).max(1.0),
                        row - 10.0,
                        esc(&format!("{} at its {end} end: {objective} {}", i.name, tick_label(v)))
                    );
                }
                None => {
                    let _ = writeln!(
                        o,
                        r##"  <text x="{:.1}" y="{:.1}" fill="#666" text-anchor="{}">{end} end: no feasible placement</text>"##,
                        if end == "low" { xn - 6.0 } else { xn + 6.0 },
                        y + row * 0.62,
                        if end == "low" { "end" } else { "start" }
                    );
                }
            }
        }
    }
    let _ = writeln!(
        o,
        r##"  <line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{base:.1}" stroke="#000000" stroke-width="1.5"/>"##,
        x(nominal),
        top - 6.0
    );
    let _ = writeln!(
        o,
        r#"  <text x="{:.1}" y="{:.1}" text-anchor="middle">{}{}</text>"#,
        left + width / 2.0,
        base + 36.0,
        esc(objective),
        if axis.log { " (log scale)" } else { "" }
    );
    o.push_str("</svg>\n");
    Some(o)
}
