//! The placement ILP over one [`Instance`], solved with good_lp (microlp by
//! default). Formulation (docs/solver.md):
//!
//! - `x_d ∈ {0,1}` per decode option, `Σ x_d = 1`
//! - `y_k ∈ {0,1}` per prefill option, `Σ y_k = 1`; `r_k ∈ ℤ`, `y_k ≤ r_k ≤ R_k·y_k`
//! - prefill keeps up: `Σ_k r_k / t_k ≥ Σ_d λ_d x_d` (requests/s)
//! - inventory per pool: `Σ_d n_d[p] x_d + Σ_{k on p} tp_k r_k ≤ N_p`
//! - TTFT path and limit: `y_k + Σ_{d: attn on a} x_d ≤ 1` for incompatible (k, a)
//! - TPOT limit: options over it are left out (`x_d` not created)
//!
//! Cost per token `(Σ c_d x_d + Σ c_k r_k) / Σ T_d x_d` is a ratio of linear
//! functions, minimised exactly by Dinkelbach's method: repeatedly minimise
//! `N − λ·D` and set `λ = N/D` until the minimum is zero.

use super::space::{Choice, Instance};
use super::Goal;
use good_lp::solvers::{SolutionStatus, WithTimeLimit};
use good_lp::{microlp, variable, Expression, ProblemVariables, ResolutionError, Solution, SolverModel, Variable};

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Stats {
    pub variables: usize,
    pub constraints: usize,
    /// ILP solves (Dinkelbach iterations and tie-breaks)
    pub solves: usize,
    /// every solve proved optimal
    pub proven: bool,
}

pub struct Outcome {
    pub choice: Option<Choice>,
    pub stats: Stats,
}

/// Solves the instance for `goal`. `Err` only when the solver fails outright.
pub fn solve(inst: &Instance, goal: Goal, time_limit_s: f64) -> Result<Outcome, String> {
    let mut stats = Stats { proven: true, ..Stats::default() };
    let allowed: Vec<usize> = (0..inst.decode.len()).filter(|&d| inst.decode_allowed(&inst.decode[d])).collect();
    if allowed.is_empty() || inst.prefill.is_empty() {
        return Ok(Outcome { choice: None, stats });
    }
    let allowed = match goal {
        Goal::CostPerToken => allowed,
        Goal::Tpot => {
            // Stage 1: the fastest decode step; stage 2: the cheapest among those as fast.
            let Some(c) = solve_linear(inst, &allowed, &|inst, d| (inst.decode[d].tpot * 1e3, 0.0), &[], time_limit_s, &mut stats)? else {
                return Ok(Outcome { choice: None, stats });
            };
            let best = inst.decode[c.decode].tpot;
            allowed.into_iter().filter(|&d| inst.decode[d].tpot <= best * (1.0 + 1e-9)).collect()
        }
    };
    let choice = dinkelbach(inst, &allowed, time_limit_s, &mut stats)?;
    Ok(Outcome { choice, stats })
}

/// Minimises cost per token over the allowed decode options. When no chip has a
/// price, chips stand in for cost (each chip counts 1).
fn dinkelbach(inst: &Instance, allowed: &[usize], time_limit_s: f64, stats: &mut Stats) -> Result<Option<Choice>, String> {
    let priced = allowed.iter().any(|&d| inst.decode[d].usd_per_s > 0.0);
    let dec_cost = |d: usize| if priced { inst.decode[d].usd_per_s * 3600.0 } else { inst.decode[d].chips.iter().sum::<u64>() as f64 };
    let pre_cost = |k: usize| if priced { inst.prefill[k].usd_per_s * 3600.0 } else { inst.prefill[k].tp as f64 };
    let ratio = |c: Choice| -> (f64, f64) {
        let n = dec_cost(c.decode) + c.replicas as f64 * pre_cost(c.prefill);
        (n, inst.throughput(&inst.decode[c.decode]))
    };
    let mut lambda = 0.0f64;
    let mut incumbent: Option<Choice> = None;
    for _ in 0..64 {
        let l = lambda;
        let obj = move |inst: &Instance, d: usize| (dec_cost(d) - l * inst.throughput(&inst.decode[d]), 0.0);
        let rcost: Vec<f64> = (0..inst.prefill.len()).map(pre_cost).collect();
        let Some(c) = solve_linear(inst, allowed, &obj, &rcost, time_limit_s, stats)? else {
            return Ok(incumbent);
        };
        let (n, d) = ratio(c);
        let f = n - lambda * d;
        if incumbent.is_some() && f >= -1e-9 * n.abs().max(1.0) {
            break;
        }
        incumbent = Some(c);
        lambda = n / d;
    }
    Ok(incumbent)
}

/// One ILP: minimise `Σ obj(d).0 x_d + Σ rcost_k r_k` subject to the constraints.
fn solve_linear(
    inst: &Instance,
    allowed: &[usize],
    obj: &dyn Fn(&Instance, usize) -> (f64, f64),
    rcost: &[f64],
    time_limit_s: f64,
    stats: &mut Stats,
) -> Result<Option<Choice>, String> {
    let mut vars = ProblemVariables::new();
    let x: Vec<Variable> = allowed.iter().map(|_| vars.add(variable().binary())).collect();
    let y: Vec<Variable> = inst.prefill.iter().map(|_| vars.add(variable().binary())).collect();
    let r: Vec<Variable> = inst.prefill.iter().map(|p| vars.add(variable().integer().min(0.0).max(p.max_replicas as f64))).collect();
    let mut objective = Expression::from(0.0);
    for (i, &d) in allowed.iter().enumerate() {
        objective += obj(inst, d).0 * x[i];
    }
    for (k, c) in rcost.iter().enumerate() {
        objective += *c * r[k];
    }
    let mut constraints: Vec<good_lp::Constraint> = Vec::new();
    constraints.push(x.iter().fold(Expression::from(0.0), |e, v| e + *v).eq(1.0));
    constraints.push(y.iter().fold(Expression::from(0.0), |e, v| e + *v).eq(1.0));
    for (k, p) in inst.prefill.iter().enumerate() {
        constraints.push((r[k] - p.max_replicas as f64 * y[k]).leq(0.0));
        constraints.push((y[k] - r[k]).leq(0.0));
    }
    let mut cap = Expression::from(0.0);
    for (k, p) in inst.prefill.iter().enumerate() {
        cap += (1.0 / p.time) * r[k];
    }
    for (i, &d) in allowed.iter().enumerate() {
        cap -= inst.request_rate(&inst.decode[d]) * x[i];
    }
    constraints.push(cap.geq(0.0));
    for (pool, size) in inst.pool_sizes.iter().enumerate() {
        let mut used = Expression::from(0.0);
        let mut any = false;
        for (i, &d) in allowed.iter().enumerate() {
            let n = inst.decode[d].chips[pool];
            if n > 0 {
                used += n as f64 * x[i];
                any = true;
            }
        }
        for (k, p) in inst.prefill.iter().enumerate().filter(|(_, p)| p.pool == pool) {
            used += p.tp as f64 * r[k];
            any = true;
        }
        if any {
            constraints.push(used.leq(*size as f64));
        }
    }
    let attn_pools: std::collections::BTreeSet<usize> = allowed.iter().map(|&d| inst.decode[d].attn_pool).collect();
    for (k, p) in inst.prefill.iter().enumerate() {
        for &a in &attn_pools {
            let ok = match p.ttft[a] {
                None => false,
                Some(t) => inst.ttft_limit.is_none_or(|l| t <= l),
            };
            if !ok {
                let mut e = Expression::from(0.0) + y[k];
                for (i, &d) in allowed.iter().enumerate() {
                    if inst.decode[d].attn_pool == a {
                        e += x[i];
                    }
                }
                constraints.push(e.leq(1.0));
            }
        }
    }
    stats.variables = stats.variables.max(x.len() + y.len() + r.len());
    stats.constraints = stats.constraints.max(constraints.len());
    stats.solves += 1;
    let mut problem = vars.minimise(objective).using(microlp).with_time_limit(time_limit_s);
    for c in constraints {
        problem.add_constraint(c);
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || problem.solve()));
    let solution = match result {
        Ok(Ok(s)) => s,
        Ok(Err(ResolutionError::Infeasible)) => return Ok(None),
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err("the ILP backend panicked".into()),
    };
    if !matches!(solution.status(), SolutionStatus::Optimal) {
        stats.proven = false;
    }
    let pick = |vs: &[Variable]| vs.iter().position(|v| solution.value(*v) > 0.5);
    let (Some(xi), Some(k)) = (pick(&x), pick(&y)) else {
        return Err("the solver returned a solution with no option chosen".into());
    };
    let replicas = solution.value(r[k]).round().max(0.0) as u64;
    Ok(Some(Choice { decode: allowed[xi], prefill: k, replicas }))
}
