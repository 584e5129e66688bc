//! `frontier.csv`: each plan's frontier points (the best placement at each
//! concurrency tried, marked where Pareto-optimal), one row per point, for plotting
//! elsewhere. Numbers in SI units with Rust's shortest round-trip formatting (the same
//! bytes every run); an empty field where a plan has no price or power. The `_low` and
//! `_high` columns are a swept plan's band inside its uncertain inputs' ranges
//! (docs/uncertainty.md), empty where the plan has none; `figure_value` the value of
//! the figure a `sweep { figure = ... }` varies, in SI units.

use super::PlanReport;
use std::fmt::Write;

pub const HEADER: &str =
    "plan,concurrency,tokens_per_s_per_user,throughput_per_chip,cost_per_mtok_usd,tokens_per_s_per_mw,pareto_per_chip,pareto_per_dollar,pareto_per_mw,slo_tokens_per_s_per_user,\
throughput_per_chip_low,throughput_per_chip_high,cost_per_mtok_usd_low,cost_per_mtok_usd_high,tokens_per_s_per_mw_low,tokens_per_s_per_mw_high,figure_value";

/// A plan name is an identifier, so it needs no quoting; numbers never do.
pub fn render(plans: &[PlanReport]) -> String {
    let mut o = String::from(HEADER);
    o.push('\n');
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    for p in plans {
        for f in &p.frontier {
            let band = f.band.as_ref();
            let end = |v: Option<[f64; 2]>, k: usize| opt(v.map(|b| b[k]));
            let (chip, cost, mw) =
                (band.map(|b| b.throughput_per_chip), band.and_then(|b| b.cost_per_mtok_usd), band.and_then(|b| b.tokens_per_s_per_mw));
            let _ = writeln!(
                o,
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                p.name,
                f.concurrency,
                f.tokens_per_s_per_user,
                f.throughput_per_chip,
                opt(f.cost_per_mtok_usd),
                opt(f.tokens_per_s_per_mw),
                f.pareto_per_chip,
                f.pareto_per_dollar,
                f.pareto_per_mw,
                opt(f.slo_tokens_per_s_per_user),
                end(chip, 0),
                end(chip, 1),
                end(cost, 0),
                end(cost, 1),
                end(mw, 0),
                end(mw, 1),
                opt(f.figure_value)
            );
        }
    }
    o
}
