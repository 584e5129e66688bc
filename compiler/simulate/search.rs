//! Plans with percentile SLOs or `maximize goodput`, solved with the simulation in the
//! loop (docs/simulation.md, "Percentile SLOs"): for each candidate configuration (the
//! analytical optimum at each batch the solver tried), the highest Poisson arrival rate
//! at which the simulated requests meet every SLO, found by bisection; then the
//! candidate whose objective is best at its rate. This is MLPerf's server question.

use super::model::StepModel;
use super::{simulate_on, Arrivals, Config, Lengths, Outcome, Request, SimError, SimProblem};
use crate::ir::{Objective, Plan, Slo, SloMetric};
use crate::solve::{Point, Solved};

/// Bisection steps per configuration: the rate is found to 2^-10 of the bracket.
pub const BISECTIONS: usize = 10;
/// The bracket's top, as a multiple of the configuration's analytical request rate (its
/// decode capacity, or its prefill's when that is lower). Above it the queues grow
/// without bound, which a run of a few thousand requests would not show (a request
/// waiting for a decode slot after its first token spreads the wait over its tokens).
pub const ABOVE_CAPACITY: f64 = 1.0;
/// The lowest rate tried, as a share of that rate: an SLO not met there is not met by
/// this configuration.
pub const LOWEST_SHARE: f64 = 0.01;

/// One configuration tried.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub batch: u64,
    /// the highest rate meeting every SLO (requests per second), if any
    pub rate: Option<f64>,
    /// the plan's objective at that rate
    pub objective: Option<f64>,
    /// not simulated: even at its capacity it could not beat the best found
    pub pruned: bool,
}

/// What the rate search found.
#[derive(Clone, Debug)]
pub struct Served {
    /// the configuration chosen and the highest rate at which it meets the SLOs
    pub point: Point,
    pub rate: f64,
    /// the plan's objective at that rate (goodput: the rate)
    pub objective: f64,
    /// the simulation at that rate
    pub outcome: Outcome,
    /// every configuration tried, in batch order
    pub candidates: Vec<Candidate>,
    pub simulations: usize,
    /// requests per simulation and the seed
    pub requests: u64,
    pub seed: u64,
}

/// Why no rate meets the SLOs.
#[derive(Clone, Debug, PartialEq)]
pub enum NotServed {
    /// the simulation could not run
    Failed(SimError),
    /// no configuration meets this SLO even at the lowest rate tried; the value the
    /// best of them reached there
    Unmet { slo: Slo, reached: f64, rate: f64 },
}

/// The nearest-rank quantile `q` of `xs` (0 when empty).
fn quantile(mut xs: Vec<f64>, q: f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    super::nearest_rank(&xs, q)
}

/// The value an SLO bounds, over the simulated requests: the mean or the percentile
/// of TTFT or TPOT, or the mean tokens per second per user.
pub fn slo_value(slo: &Slo, requests: &[Request]) -> f64 {
    let values: Vec<f64> = match slo.metric {
        SloMetric::Ttft => requests.iter().map(|r| r.ttft()).collect(),
        SloMetric::Tpot | SloMetric::TokensPerSUser => requests.iter().filter(|r| r.output > 1).map(|r| r.tpot()).collect(),
    };
    let v = match slo.percentile {
        Some(p) => quantile(values, p.quantile()),
        None if values.is_empty() => 0.0,
        None => values.iter().sum::<f64>() / values.len() as f64,
    };
    if slo.metric == SloMetric::TokensPerSUser {
        if v > 0.0 {
            1.0 / v
        } else {
            f64::INFINITY
        }
    } else {
        v
    }
}

/// Whether the value meets the SLO (`>=` for tokens per second per user).
fn meets(slo: &Slo, value: f64) -> bool {
    if slo.metric == SloMetric::TokensPerSUser {
        value >= slo.limit
    } else {
        value <= slo.limit
    }
}

/// The first SLO the run misses, with its value.
fn first_miss<'a>(plan: &'a Plan, o: &Outcome) -> Option<(&'a Slo, f64)> {
    plan.slos.iter().map(|s| (s, slo_value(s, &o.requests))).find(|(s, v)| !meets(s, *v))
}

/// The plan's objective for `point` serving `rate` requests per second, and whether
/// larger is better.
fn objective_at(plan: &Plan, point: &Point, rate: f64) -> Option<(f64, bool)> {
    let t = point.instance.totals(point.choice)?;
    let tokens = rate * plan.workload.output_tokens as f64;
    Some(match plan.objective {
        Objective::Goodput => (rate, true),
        Objective::CostPerMtok => (t.usd_per_s / tokens * 1e6, false),
        Objective::ThroughputPerDollar => (tokens / t.usd_per_s, true),
        Objective::ThroughputPerChip => (tokens / t.chips as f64, true),
        Objective::DecodeThroughputPerChip => (tokens / t.decode_chips as f64, true),
        Objective::TokensPerMw => (tokens / t.watts * 1e6, true),
        // objectives the rate does not change keep the analytical optimum's order
        Objective::Tpot => (t.tpot, false),
        Objective::Ttft => (t.ttft, false),
        Objective::Chips => (t.chips as f64, false),
        Objective::Power => (t.watts, false),
    })
}

/// The configuration's analytical request rate: what its decode steps complete, or
/// what its prefill replicas start when fewer.
fn capacity(point: &Point) -> f64 {
    let inst = &point.instance;
    let p = point.prefill();
    let decode = inst.request_rate(point.choice.decode);
    if p.aggregated {
        decode
    } else {
        decode.min(point.choice.replicas as f64 * p.rate())
    }
}

/// Solves `plan` with the simulation in the loop (see the module).
pub fn serve(plan: &Plan, solved: &Solved) -> Result<Served, NotServed> {
    let w = &plan.workload;
    // the arrivals at a rate: the workload's trace with its times scaled, or gaps of its
    // burstiness (Poisson by default)
    let trace = match &w.traffic.arrivals {
        crate::ir::ArrivalProcess::Trace { rows, .. } => {
            let Some(recorded) = Arrivals::trace_rate(rows) else {
                return Err(NotServed::Failed(SimError(SimProblem::TraceAllAtOnce)));
            };
            Some((rows.clone(), recorded))
        }
        _ => None,
    };
    let burstiness = w.traffic.arrivals.burstiness();
    let at_rate = |rate: f64| match &trace {
        Some((rows, recorded)) => Arrivals::Trace { rows: rows.clone(), scale: recorded / rate },
        None => Arrivals::renewal(rate, burstiness),
    };
    // the longest prompt the step model must price: the trace's, or the lengths drawn
    let longest_prompt = |input: &Lengths| match &trace {
        Some((rows, _)) => rows.iter().map(|r| r.input).max().unwrap_or(1),
        None => input.longest(),
    };
    let base = Config {
        arrivals: at_rate(1.0),
        input: Lengths::of_traffic(w.input_tokens, &w.traffic),
        output: Lengths::of_traffic(w.output_tokens, &w.traffic),
        // a trace runs its own requests
        requests: trace.as_ref().map_or(w.traffic.requests, |(rows, _)| rows.len() as u64),
        seed: w.traffic.seed,
        max_batch: None,
        prefix: w.prefix,
    };
    // the rate changes the objective only through throughput: every batch's optimum is a
    // candidate; otherwise the analytical optimum is
    let rate_matters = matches!(
        plan.objective,
        Objective::Goodput
            | Objective::CostPerMtok
            | Objective::ThroughputPerDollar
            | Objective::ThroughputPerChip
            | Objective::DecodeThroughputPerChip
            | Objective::TokensPerMw
    );
    let mut points: Vec<&Point> = if rate_matters { solved.per_batch.iter().collect() } else { vec![&solved.best] };
    if points.is_empty() {
        points.push(&solved.best);
    }
    let mut simulations = 0;
    let mut candidates = Vec::new();
    let mut best: Option<(f64, bool, usize, f64, Outcome)> = None;
    // the SLO missed at the lowest rate by the candidate that came closest
    let mut closest: Option<(Slo, f64, f64)> = None;
    // Largest capacity first: a candidate's rate is at most its capacity, so one whose
    // objective even at its capacity is no better than the best found cannot win and is
    // not simulated (ties keep batch order).
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&a, &b| capacity(points[b]).total_cmp(&capacity(points[a])).then(a.cmp(&b)));
    let mut results: Vec<Option<Candidate>> = vec![None; points.len()];
    for k in order {
        let point = points[k];
        let bound = objective_at(plan, point, capacity(point));
        if let (Some((bound, larger)), Some(b)) = (bound, &best) {
            let can_win = if larger { bound > b.0 } else { bound < b.0 };
            if !can_win {
                results[k] = Some(Candidate { batch: point.instance.batch, rate: None, objective: None, pruned: true });
                continue;
            }
        }
        let model =
            StepModel::new(plan, point, None, longest_prompt(&base.input), base.prefix.map(|p| p.tokens)).map_err(NotServed::Failed)?;
        let mut run = |rate: f64| -> Result<Outcome, NotServed> {
            simulations += 1;
            simulate_on(plan, point, &model, &Config { arrivals: at_rate(rate), ..base.clone() }).map_err(NotServed::Failed)
        };
        let cap = capacity(point);
        let (mut lo, mut hi) = (LOWEST_SHARE * cap, ABOVE_CAPACITY * cap);
        let low = run(lo)?;
        if let Some((slo, v)) = first_miss(plan, &low) {
            let ratio = v / slo.limit;
            if closest.as_ref().is_none_or(|c| ratio < c.1 / c.0.limit) {
                closest = Some((slo.clone(), v, lo));
            }
            results[k] = Some(Candidate { batch: point.instance.batch, rate: None, objective: None, pruned: false });
            continue;
        }
        let mut at_lo = low;
        let top = run(hi)?;
        if first_miss(plan, &top).is_none() {
            (lo, at_lo) = (hi, top);
        } else {
            for _ in 0..BISECTIONS {
                let mid = (lo + hi) / 2.0;
                let o = run(mid)?;
                if first_miss(plan, &o).is_none() {
                    (lo, at_lo) = (mid, o);
                } else {
                    hi = mid;
                }
            }
        }
        let objective = objective_at(plan, point, lo);
        results[k] = Some(Candidate { batch: point.instance.batch, rate: Some(lo), objective: objective.map(|o| o.0), pruned: false });
        if let Some((value, larger)) = objective {
            // strictly better, or as good at an earlier batch (the order ties keep)
            let better = best.as_ref().is_none_or(|b| if larger { value > b.0 } else { value < b.0 } || (value == b.0 && k < b.2));
            if better {
                best = Some((value, larger, k, lo, at_lo));
            }
        }
    }
    candidates.extend(results.into_iter().flatten());
    match best {
        Some((objective, _, k, rate, outcome)) => Ok(Served {
            point: points[k].clone(),
            rate,
            objective,
            outcome,
            candidates,
            simulations,
            requests: base.requests,
            seed: base.seed,
        }),
        None => Err(match closest {
            Some((slo, reached, rate)) => NotServed::Unmet { slo, reached, rate },
            None => NotServed::Failed(SimError(SimProblem::NothingToSimulate)),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let xs: Vec<f64> = (1..=100).map(|x| x as f64).collect();
        assert_eq!(quantile(xs.clone(), 0.99), 99.0);
        assert_eq!(quantile(xs.clone(), 0.5), 50.0);
        assert_eq!(quantile(xs.clone(), 0.999), 100.0);
        assert_eq!(quantile(vec![3.0], 0.9), 3.0);
        assert_eq!(quantile(vec![], 0.9), 0.0);
    }
}
