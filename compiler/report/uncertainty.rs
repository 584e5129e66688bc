//! The uncertain inputs of a plan, varied (docs/uncertainty.md): per input its range,
//! the objective and the placement at either end, and where the placement changes;
//! each metric's low, nominal and high over all of them. The tornado table of
//! report.md and report.html is [`UncertaintyReport::inputs`] in order; the chart is
//! `super::tornado`'s.

use super::{metrics, objective_value, placement, placement_brief, FrontierPoint, Metrics};
use crate::ir::Plan;
use crate::solve::sweep::SweepPoint;
use crate::solve::uncertainty::{assignment, NotVaried, Sensitivity, SweptEnd};
use crate::solve::Point;
use serde::Serialize;

/// The report's words for [`NotVaried::Simulated`].
pub const NOT_VARIED_SIMULATED: &str =
    "the answer comes from the simulated rate search (percentile SLOs or goodput), which is not repeated for each input";

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct UncertaintyReport {
    /// how the inputs were varied
    pub method: &'static str,
    /// the inputs, the one that moves the objective most first
    pub inputs: Vec<InputReport>,
    /// each metric's least, nominal and greatest over the nominal and every input at
    /// either end
    pub metrics: Bands,
    /// some input moves the best placement to other pools inside its range
    pub placement_changes: bool,
    /// inputs not varied: beyond the bound (`ir::uncertain::MAX_INPUTS`), or all of
    /// them with `not_varied_because`
    pub not_varied: usize,
    /// why no input was varied (a plan solved by the simulated rate search)
    pub not_varied_because: Option<&'static str>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct InputReport {
    /// `chip.figure`: `lp30_priced.layer_overhead`
    pub name: String,
    /// the figure's SI unit (`s`, `$/s`, `W`, `B/s`, `FLOP/s`; empty for fractions)
    pub unit: &'static str,
    pub nominal: f64,
    pub low: f64,
    pub high: f64,
    /// the objective with the input at its low end and at its high end (absent: no
    /// feasible placement there, or no objective value)
    pub objective_at_low: Option<f64>,
    pub objective_at_high: Option<f64>,
    /// |objective at high − objective at low| (infinite when one end has no placement)
    pub swing: f64,
    /// the placement at either end, when it is not the nominal one ("which pool each
    /// stage runs on" differs)
    pub placement_at_low: Option<String>,
    pub placement_at_high: Option<String>,
    /// the value nearest the nominal at which the placement changes, towards the low
    /// end and towards the high end (absent: it does not change on that side)
    pub changes_below: Option<f64>,
    pub changes_above: Option<f64>,
}

/// Least, nominal, greatest.
#[derive(Serialize, Debug, Clone, Copy, PartialEq)]
pub struct Band {
    pub low: f64,
    pub nominal: f64,
    pub high: f64,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Bands {
    pub objective: Option<Band>,
    pub ttft_s: Band,
    pub tpot_s: Band,
    pub throughput_per_chip: Band,
    pub cost_per_mtok_usd: Option<Band>,
    pub tokens_per_s_per_mw: Option<Band>,
}

fn band(nominal: Option<f64>, others: impl Iterator<Item = Option<f64>>) -> Option<Band> {
    let n = nominal?;
    let mut b = Band { low: n, nominal: n, high: n };
    for v in others.flatten().filter(|v| v.is_finite()) {
        b.low = b.low.min(v);
        b.high = b.high.max(v);
    }
    Some(b)
}

/// The report of `plan`'s varied inputs around its answer `best`.
pub fn report(plan: &Plan, best: &Point, s: &Sensitivity) -> UncertaintyReport {
    let nominal = metrics(plan, best);
    let nominal_assignment = assignment(best);
    // every end's metrics, each on the plan as it was solved there (a price moves the cost)
    let mut ends: Vec<(Option<Metrics>, Option<f64>)> = Vec::new();
    let mut inputs = Vec::new();
    for v in &s.varied {
        let at = |value: f64, p: &Option<Point>| -> (Option<f64>, Option<Metrics>, Option<String>) {
            let Some(p) = p else { return (None, None, None) };
            let varied = plan.with_input(&v.input, value);
            let m = metrics(&varied, p);
            let moved = (assignment(p) != nominal_assignment).then(|| placement_brief(&placement(&varied, p)));
            (objective_value(&varied, &m), Some(m), moved)
        };
        let (ol, ml, pl) = at(v.input.low, &v.low);
        let (oh, mh, ph) = at(v.input.high, &v.high);
        ends.push((ml, ol));
        ends.push((mh, oh));
        let swing = match (ol, oh) {
            (Some(a), Some(b)) => (b - a).abs(),
            _ => f64::INFINITY,
        };
        inputs.push(InputReport {
            name: v.input.name(),
            unit: v.input.figure.unit(),
            nominal: v.input.nominal,
            low: v.input.low,
            high: v.input.high,
            objective_at_low: ol,
            objective_at_high: oh,
            swing,
            placement_at_low: pl,
            placement_at_high: ph,
            changes_below: v.switch_low,
            changes_above: v.switch_high,
        });
    }
    // the largest swing first; ties in the order the inputs were declared
    inputs.sort_by(|a, b| b.swing.total_cmp(&a.swing));
    let all = |f: fn(&Metrics) -> Option<f64>| band(f(&nominal), ends.iter().map(move |(m, _)| m.as_ref().and_then(f)));
    let metrics = Bands {
        objective: band(objective_value(plan, &nominal), ends.iter().map(|(_, o)| *o)),
        ttft_s: all(|m| Some(m.ttft_s)).expect("nominal TTFT"),
        tpot_s: all(|m| Some(m.tpot_s)).expect("nominal TPOT"),
        throughput_per_chip: all(|m| Some(m.throughput_per_chip)).expect("nominal throughput"),
        cost_per_mtok_usd: all(|m| m.cost_per_mtok_usd),
        tokens_per_s_per_mw: all(|m| m.tokens_per_s_per_mw),
    };
    UncertaintyReport {
        method: "one at a time: each input at its low and high end, the others nominal",
        placement_changes: inputs.iter().any(|i| i.placement_at_low.is_some() || i.placement_at_high.is_some()),
        inputs,
        metrics,
        not_varied: s.not_varied,
        not_varied_because: s.because.map(|b| match b {
            NotVaried::Simulated => NOT_VARIED_SIMULATED,
        }),
    }
}

/// A frontier point's band: each plotted metric's least and greatest at the point's
/// sweep value (a concurrency, or the SLO `tokens_per_s_per_user >= x`) over the nominal
/// answer and every varied input at either end of its range, the sweep solved again
/// there; `[low, high]`.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct FrontierBand {
    pub throughput_per_chip: [f64; 2],
    pub cost_per_mtok_usd: Option<[f64; 2]>,
    pub tokens_per_s_per_mw: Option<[f64; 2]>,
    /// inputs with an end at which nothing is feasible at this sweep value (left out of
    /// the band)
    pub infeasible_ends: Vec<String>,
}

/// A sweep value with no feasible point at the nominal figures that has one with some
/// input at an end of its range.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ReachedInside {
    pub value: f64,
    /// each such input and the end (SI units) at which the value has a feasible point
    pub with: Vec<InputAt>,
}

/// An input at a value.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct InputAt {
    /// `lp30_priced.layer_overhead`
    pub input: String,
    /// its SI unit (as [`InputReport::unit`])
    pub unit: &'static str,
    pub value: f64,
}

/// Puts each band on `frontier` (the points of the sweep `sweep` that have one, in the
/// sweep's order, as `super::frontier` lists them), from the sweep's ends in `s`, and
/// returns the values with no feasible point at the nominal figures that have one at
/// some input's end.
pub fn frontier_bands(frontier: &mut [FrontierPoint], plan: &Plan, sweep: &[SweepPoint], s: &Sensitivity) -> Vec<ReachedInside> {
    let feasible: Vec<usize> = (0..sweep.len()).filter(|&i| sweep[i].point.is_some()).collect();
    if feasible.len() != frontier.len() || s.varied.iter().all(|v| v.sweep.is_none()) {
        return vec![];
    }
    // each end: the input at it in words, the plan with the figure there, and its points
    // (the nominal sweep's where they stay the best)
    let mut ends: Vec<(String, InputAt, Plan, &[SweepPoint])> = Vec::new();
    for v in s.varied.iter() {
        let Some(swept) = &v.sweep else { continue };
        for (value, end) in [v.input.low, v.input.high].into_iter().zip(swept) {
            let pts: &[SweepPoint] = match end {
                SweptEnd::Nominal => sweep,
                SweptEnd::Solved(pts) if pts.len() == sweep.len() => pts,
                SweptEnd::Solved(_) => continue,
            };
            let at = InputAt { input: v.input.name(), unit: v.input.figure.unit(), value };
            ends.push((v.input.name(), at, plan.with_input(&v.input, value), pts));
        }
    }
    let reached = (0..sweep.len())
        .filter(|&i| sweep[i].point.is_none())
        .filter_map(|i| {
            let with: Vec<InputAt> = ends.iter().filter(|e| e.3[i].point.is_some()).map(|e| e.1.clone()).collect();
            (!with.is_empty()).then(|| ReachedInside { value: sweep[i].value, with })
        })
        .collect();
    let widen = |b: &mut [f64; 2], v: f64| {
        if v.is_finite() {
            *b = [b[0].min(v), b[1].max(v)];
        }
    };
    for (f, &i) in frontier.iter_mut().zip(&feasible) {
        let mut band = FrontierBand {
            throughput_per_chip: [f.throughput_per_chip; 2],
            cost_per_mtok_usd: f.cost_per_mtok_usd.map(|c| [c; 2]),
            tokens_per_s_per_mw: f.tokens_per_s_per_mw.map(|w| [w; 2]),
            infeasible_ends: vec![],
        };
        for (name, _, varied, pts) in &ends {
            let Some(p) = pts[i].point.as_ref() else {
                if !band.infeasible_ends.contains(name) {
                    band.infeasible_ends.push(name.clone());
                }
                continue;
            };
            let m = metrics(varied, p);
            widen(&mut band.throughput_per_chip, m.throughput_per_chip);
            if let (Some(b), Some(c)) = (band.cost_per_mtok_usd.as_mut(), m.cost_per_mtok_usd) {
                widen(b, c);
            }
            if let (Some(b), Some(w)) = (band.tokens_per_s_per_mw.as_mut(), m.tokens_per_s_per_mw) {
                widen(b, w);
            }
        }
        f.band = Some(band);
    }
    reached
}
