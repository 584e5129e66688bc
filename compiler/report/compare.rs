//! `compare` blocks: plans side by side against a baseline, with ratios, and at a
//! stated interactivity each plan's best frontier point that reaches it.

use super::human::Block;
use super::{FrontierPoint, PlanReport};
use crate::ir::Compare;
use crate::units::format::{fmt_num, fmt_time};
use serde::Serialize;

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ComparisonReport {
    pub name: String,
    pub baseline: String,
    /// the baseline first, then the compared plans
    pub plans: Vec<ComparedPlan>,
    /// tokens/s per user the frontiers are compared at
    pub interactivity: Option<f64>,
    /// where a compared plan and the baseline trade places as one uncertain input
    /// moves, the others nominal (docs/uncertainty.md)
    pub break_even: Vec<BreakEvenReport>,
    /// the `break_even` blocks' answers: where a compared plan and the baseline trade
    /// places as the block's figure moves over its values (docs/uncertainty.md)
    pub asked: Vec<AskedReport>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct AskedReport {
    /// the `break_even` block's name
    pub name: String,
    /// the compared plan (the other is the baseline)
    pub plan: String,
    /// `ITEM.FIGURE`
    pub figure: String,
    /// its SI unit
    pub unit: &'static str,
    /// the range asked, and how many values in it both plans were solved at
    pub values: [f64; 2],
    pub tried: usize,
    /// each value where the better plan changes, in increasing order (empty: none in
    /// the range; the compilation warns, W0404)
    pub crossings: Vec<CrossingReport>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct CrossingReport {
    pub value: f64,
    /// the plan better just below `value` and just above it (absent: neither, a tie or
    /// nothing feasible)
    pub better_below: Option<String>,
    pub better_above: Option<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct BreakEvenReport {
    /// the compared plan (the other is the baseline)
    pub plan: String,
    /// `chip.figure`
    pub input: String,
    /// the figure's SI unit
    pub unit: &'static str,
    pub nominal: f64,
    /// the value nearest the nominal at which the plan that is better at the nominal
    /// figures no longer is
    pub value: f64,
    /// `below` or `above` the nominal
    pub side: &'static str,
    /// the plan better at the nominal figures, and the one better beyond `value`
    pub better_at_nominal: String,
    pub better_beyond: String,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ComparedPlan {
    pub name: String,
    /// false when the plan has no feasible placement
    pub solved: bool,
    pub tokens_per_s_per_user: Option<f64>,
    pub ttft_s: Option<f64>,
    pub tpot_s: Option<f64>,
    pub throughput_per_chip: Option<f64>,
    pub tokens_per_dollar: Option<f64>,
    pub tokens_per_s_per_mw: Option<f64>,
    pub cost_per_mtok_usd: Option<f64>,
    pub chips: Option<u64>,
    /// this plan's value over the baseline's, per metric (absent where either is missing)
    pub ratio: Ratios,
    /// at `interactivity`: the best frontier values among points that reach it
    pub at_interactivity: Option<AtInteractivity>,
}

#[derive(Serialize, Debug, Clone, PartialEq, Default)]
pub struct Ratios {
    pub tokens_per_s_per_user: Option<f64>,
    pub throughput_per_chip: Option<f64>,
    pub tokens_per_dollar: Option<f64>,
    pub tokens_per_s_per_mw: Option<f64>,
    pub cost_per_mtok_usd: Option<f64>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct AtInteractivity {
    /// some frontier point has at least the interactivity
    pub reached: bool,
    /// the fastest tokens/s per user on the frontier
    pub fastest: Option<f64>,
    pub throughput_per_chip: Option<f64>,
    pub tokens_per_dollar: Option<f64>,
    pub tokens_per_s_per_mw: Option<f64>,
    /// over the baseline's (absent where either did not reach it)
    pub ratio: Ratios,
}

fn per_dollar(cost_per_mtok: Option<f64>) -> Option<f64> {
    cost_per_mtok.filter(|c| *c > 0.0).map(|c| 1e6 / c)
}

/// The best of `f` over frontier points with at least `x` tokens/s per user.
fn best_at(points: &[FrontierPoint], x: f64, f: impl Fn(&FrontierPoint) -> Option<f64>) -> Option<f64> {
    points.iter().filter(|p| p.tokens_per_s_per_user >= x).filter_map(f).fold(None, |a, v| Some(a.map_or(v, |a: f64| a.max(v))))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

fn at(r: &PlanReport, x: f64) -> AtInteractivity {
    let f = &r.frontier;
    let fastest = f.iter().map(|p| p.tokens_per_s_per_user).fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))));
    AtInteractivity {
        reached: fastest.is_some_and(|v| v >= x),
        fastest,
        throughput_per_chip: best_at(f, x, |p| Some(p.throughput_per_chip)),
        tokens_per_dollar: best_at(f, x, |p| per_dollar(p.cost_per_mtok_usd)),
        tokens_per_s_per_mw: best_at(f, x, |p| p.tokens_per_s_per_mw),
        ratio: Ratios::default(),
    }
}

fn compared(r: &PlanReport, x: Option<f64>) -> ComparedPlan {
    let m = r.metrics.as_ref();
    ComparedPlan {
        name: r.name.clone(),
        solved: m.is_some(),
        tokens_per_s_per_user: m.map(|m| m.tokens_per_s_per_user),
        ttft_s: m.map(|m| m.ttft_s),
        tpot_s: m.map(|m| m.tpot_s),
        throughput_per_chip: m.map(|m| m.throughput_per_chip),
        tokens_per_dollar: m.and_then(|m| per_dollar(m.cost_per_mtok_usd)),
        tokens_per_s_per_mw: m.and_then(|m| m.tokens_per_s_per_mw),
        cost_per_mtok_usd: m.and_then(|m| m.cost_per_mtok_usd),
        chips: m.map(|m| m.chips),
        ratio: Ratios::default(),
        at_interactivity: x.map(|x| at(r, x)),
    }
}

/// The comparison `c` over the plans' reports (in `Program::plans` order).
pub fn comparison(
    c: &Compare,
    plans: &[PlanReport],
    break_even: &[(usize, Vec<crate::solve::uncertainty::BreakEven>)],
    asked: &[Vec<(usize, Vec<crate::solve::uncertainty::Crossing>)>],
    ir: &[crate::ir::Plan],
) -> ComparisonReport {
    let base = compared(&plans[c.baseline], c.interactivity);
    let mut rows = vec![base.clone()];
    for &i in &c.plans {
        let mut p = compared(&plans[i], c.interactivity);
        p.ratio = Ratios {
            tokens_per_s_per_user: ratio(p.tokens_per_s_per_user, base.tokens_per_s_per_user),
            throughput_per_chip: ratio(p.throughput_per_chip, base.throughput_per_chip),
            tokens_per_dollar: ratio(p.tokens_per_dollar, base.tokens_per_dollar),
            tokens_per_s_per_mw: ratio(p.tokens_per_s_per_mw, base.tokens_per_s_per_mw),
            cost_per_mtok_usd: ratio(p.cost_per_mtok_usd, base.cost_per_mtok_usd),
        };
        if let (Some(a), Some(b)) = (p.at_interactivity.as_mut(), base.at_interactivity.as_ref()) {
            a.ratio = Ratios {
                throughput_per_chip: ratio(a.throughput_per_chip, b.throughput_per_chip),
                tokens_per_dollar: ratio(a.tokens_per_dollar, b.tokens_per_dollar),
                tokens_per_s_per_mw: ratio(a.tokens_per_s_per_mw, b.tokens_per_s_per_mw),
                ..Ratios::default()
            };
        }
        rows.push(p);
    }
    let mut breaks = Vec::new();
    for (j, found) in break_even {
        let (b, o) = (&plans[c.baseline], &plans[*j]);
        // the better at the nominal figures, by the objective both minimise (break-evens
        // are found only between plans with the same goal)
        let (Some(vb), Some(vo)) = (b.objective.value, o.objective.value) else { continue };
        let base_better = if b.objective.direction == "maximize" { vb > vo } else { vb < vo };
        let (first, then) = if base_better { (&b.name, &o.name) } else { (&o.name, &b.name) };
        for e in found {
            breaks.push(BreakEvenReport {
                plan: ir[*j].name.clone(),
                input: e.input.name(),
                unit: e.input.figure.unit(),
                nominal: e.input.nominal,
                value: e.value,
                side: if e.below { "below" } else { "above" },
                better_at_nominal: first.clone(),
                better_beyond: then.clone(),
            });
        }
    }
    let mut answers = Vec::new();
    for (ask, per_plan) in c.break_even.iter().zip(asked) {
        for (j, found) in per_plan {
            let name = |s: i8| match s {
                -1 => Some(ir[c.baseline].name.clone()),
                1 => Some(ir[*j].name.clone()),
                _ => None,
            };
            answers.push(AskedReport {
                name: ask.name.clone(),
                plan: ir[*j].name.clone(),
                figure: ask.figure.clone(),
                unit: ask.unit(),
                values: ask.range(),
                tried: ask.values.len(),
                crossings: found
                    .iter()
                    .map(|x| CrossingReport { value: x.value, better_below: name(x.below), better_above: name(x.above) })
                    .collect(),
            });
        }
    }
    ComparisonReport {
        name: c.name.clone(),
        baseline: base.name,
        plans: rows,
        interactivity: c.interactivity,
        break_even: breaks,
        asked: answers,
    }
}

/// One cell of the comparison's table: the value as printed, and its ratio to the
/// baseline's with which way is better (report.html colours it).
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub text: String,
    pub ratio: Option<f64>,
    /// more of this metric is better (false for $/Mtok)
    pub higher_is_better: bool,
}

impl Cell {
    /// As the table shows it: the value, and its ratio after it (`$0.982 (0.54×)`).
    pub fn shown(&self) -> String {
        match self.ratio {
            Some(r) => format!("{} ({})", self.text, times(Some(r))),
            None => self.text.clone(),
        }
    }
}

/// The comparison's table at each plan's optimum: the header (a blank, then each plan,
/// the baseline marked) and one row per metric, a label and one cell per plan.
pub fn metric_table(c: &ComparisonReport) -> (Vec<String>, Vec<(&'static str, Vec<Cell>)>) {
    let mut header = vec![String::new()];
    for (i, p) in c.plans.iter().enumerate() {
        header.push(if i == 0 { format!("{} (baseline)", p.name) } else { p.name.clone() });
    }
    /// (label, the value and its ratio, how to print the value, more is better)
    type Metric = (&'static str, fn(&ComparedPlan) -> (Option<f64>, Option<f64>), fn(f64) -> String, bool);
    let metrics: [Metric; 8] = [
        ("tokens/s/user", |p| (p.tokens_per_s_per_user, p.ratio.tokens_per_s_per_user), fmt_num, true),
        ("TPOT", |p| (p.tpot_s, None), fmt_time, false),
        ("TTFT", |p| (p.ttft_s, None), fmt_time, false),
        ("tok/s per chip", |p| (p.throughput_per_chip, p.ratio.throughput_per_chip), fmt_num, true),
        ("tokens per $", |p| (p.tokens_per_dollar, p.ratio.tokens_per_dollar), fmt_num, true),
        ("tok/s per MW", |p| (p.tokens_per_s_per_mw, p.ratio.tokens_per_s_per_mw), fmt_num, true),
        ("$/Mtok", |p| (p.cost_per_mtok_usd, p.ratio.cost_per_mtok_usd), |v| format!("${v:.3}"), false),
        ("chips", |p| (p.chips.map(|c| c as f64), None), |v| format!("{v:.0}"), false),
    ];
    let mut rows = Vec::new();
    for (label, get, fmt, higher_is_better) in metrics {
        let mut row = Vec::new();
        for (i, p) in c.plans.iter().enumerate() {
            let (v, r) = get(p);
            let r = if i == 0 { None } else { r };
            let text = match v {
                None if !p.solved => "infeasible".into(),
                None => "n/a".into(),
                Some(v) => fmt(v),
            };
            row.push(Cell { text, ratio: r.filter(|_| v.is_some()), higher_is_better });
        }
        rows.push((label, row));
    }
    (header, rows)
}

/// "2.10×"
fn times(r: Option<f64>) -> String {
    match r {
        Some(r) if r >= 10.0 => format!("{r:.0}×"),
        Some(r) => format!("{r:.2}×"),
        None => "n/a".into(),
    }
}

/// The comparison as summary blocks: one column per plan, each non-baseline value
/// followed by its ratio to the baseline; then the frontiers at the interactivity.
pub fn document(c: &ComparisonReport) -> Vec<Block> {
    let mut o = vec![Block::Title(format!("compare {}: against `{}`", c.name, c.baseline))];
    let (header, table) = metric_table(c);
    let mut rows = vec![header];
    for (label, cells) in table {
        let mut row = vec![label.to_string()];
        row.extend(cells.iter().map(Cell::shown));
        rows.push(row);
    }
    let right = std::iter::once(false).chain(c.plans.iter().map(|_| true)).collect();
    o.push(Block::Table { caption: Some("at each plan's optimum (ratios against the baseline)".into()), rows, right, header: true });
    if let Some(x) = c.interactivity {
        let base = &c.plans[0];
        let b = base.at_interactivity.as_ref();
        if !b.is_some_and(|b| b.reached) {
            let fastest = b
                .and_then(|b| b.fastest)
                .map(|f| format!("its fastest point gives {} tok/s/user", fmt_num(f)))
                .unwrap_or("it has no frontier".into());
            o.push(Block::Line(format!(
                "at {} tok/s/user: the baseline `{}` has no point that fast ({fastest}); no ratios",
                fmt_num(x),
                base.name
            )));
        }
        for p in &c.plans[1..] {
            let Some(a) = &p.at_interactivity else { continue };
            let line = if !a.reached {
                let fastest = a.fastest.map(|f| format!("its fastest gives {} tok/s/user", fmt_num(f))).unwrap_or("no frontier".into());
                format!("at {} tok/s/user: `{}` has no point that fast ({fastest})", fmt_num(x), p.name)
            } else {
                let parts = [
                    ("throughput per chip", a.ratio.throughput_per_chip),
                    ("tokens per $", a.ratio.tokens_per_dollar),
                    ("throughput per MW", a.ratio.tokens_per_s_per_mw),
                ];
                let said: Vec<String> = parts.iter().filter_map(|(w, r)| r.map(|r| format!("{} {w}", times(Some(r))))).collect();
                if said.is_empty() {
                    let values = [
                        ("tok/s per chip", a.throughput_per_chip),
                        ("tokens per $", a.tokens_per_dollar),
                        ("tok/s per MW", a.tokens_per_s_per_mw),
                    ];
                    let vals: Vec<String> = values.iter().filter_map(|(w, v)| v.map(|v| format!("{} {w}", fmt_num(v)))).collect();
                    format!(
                        "at {} tok/s/user: `{}` gives {} (no ratio: the baseline has no value there)",
                        fmt_num(x),
                        p.name,
                        vals.join(", ")
                    )
                } else {
                    format!("at {} tok/s/user: `{}` has {} of `{}`", fmt_num(x), p.name, said.join(", "), base.name)
                }
            };
            o.push(Block::Line(line));
        }
    }
    for a in &c.asked {
        let fig = |v: f64| crate::units::format::fmt_figure(a.unit, v);
        let asked = format!("(asked: {} .. {}, {} values tried)", fig(a.values[0]), fig(a.values[1]), a.tried);
        if a.crossings.is_empty() {
            o.push(Block::Line(format!(
                "break-even `{}`: `{}` and `{}` do not trade places over {} {asked}",
                a.name, a.plan, c.baseline, a.figure
            )));
        }
        for x in &a.crossings {
            let who = |p: &Option<String>| p.as_ref().map_or("neither (a tie, or nothing feasible)".to_string(), |p| format!("`{p}`"));
            o.push(Block::Line(format!(
                "break-even `{}`: {} is better with {} below {}, {} above {asked}",
                a.name,
                who(&x.better_below),
                a.figure,
                fig(x.value),
                who(&x.better_above)
            )));
        }
    }
    for e in &c.break_even {
        o.push(Block::Line(format!(
            "break-even: `{}` is better than `{}` with {} {} {} (nominal {}), the other figures nominal",
            e.better_beyond,
            e.better_at_nominal,
            e.input,
            e.side,
            crate::units::format::fmt_figure(e.unit, e.value),
            crate::units::format::fmt_figure(e.unit, e.nominal)
        )));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(x: f64, chip: f64, cost: Option<f64>) -> FrontierPoint {
        FrontierPoint {
            concurrency: 1,
            tokens_per_s_per_user: x,
            throughput_per_chip: chip,
            cost_per_mtok_usd: cost,
            tokens_per_s_per_mw: None,
            pareto_per_chip: true,
            pareto_per_dollar: true,
            pareto_per_mw: false,
            slo_tokens_per_s_per_user: None,
            figure_value: None,
            placement: String::new(),
            chips: 1,
            ttft_s: 0.1,
            band: None,
        }
    }

    #[test]
    fn best_point_that_reaches_the_interactivity() {
        let f = vec![pt(500.0, 100.0, Some(4.0)), pt(400.0, 300.0, Some(2.0)), pt(200.0, 900.0, Some(1.0))];
        // at 400 tok/s/user: the 400 and 500 points qualify; the best per chip is 300
        assert_eq!(best_at(&f, 400.0, |p| Some(p.throughput_per_chip)), Some(300.0));
        assert_eq!(best_at(&f, 400.0, |p| per_dollar(p.cost_per_mtok_usd)), Some(500_000.0));
        assert_eq!(best_at(&f, 600.0, |p| Some(p.throughput_per_chip)), None);
        assert_eq!(ratio(Some(3.0), Some(1.5)), Some(2.0));
        assert_eq!(ratio(Some(3.0), None), None);
        assert_eq!(times(Some(35.2)), "35×");
        assert_eq!(times(Some(2.104)), "2.10×");
    }
}
