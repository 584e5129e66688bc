//! Solving a plan: build the configuration space per candidate decode batch
//! ([`space`]), solve each with the ILP ([`ilp`]), keep the best, and when
//! nothing is feasible explain why with diagnostics at the source.

pub mod brute;
pub mod ilp;
pub mod layers;
pub mod space;

use crate::diagnostics::{catalog, Diagnostics};
use crate::ir::{Objective, Plan, SloMetric, Stage};
use crate::units::format::{fmt_bytes, fmt_time};
use space::{Choice, Excluded, Instance};
use std::time::Instant;

/// What the ILP minimises; every objective is one of these (maximising throughput
/// per chip is minimising chips per token). Ties go to the lower cost per token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Goal {
    /// US dollars per generated token (cost_per_mtok, throughput_per_dollar)
    CostPerToken,
    /// seconds per output token
    Tpot,
    /// seconds to the first token
    Ttft,
    Chips,
    /// watts
    Power,
    /// chips per token/s (throughput_per_chip)
    ChipsPerToken,
    /// watts per token/s (tokens_per_mw)
    PowerPerToken,
}

impl Goal {
    pub const ALL: [Goal; 7] =
        [Goal::CostPerToken, Goal::Tpot, Goal::Ttft, Goal::Chips, Goal::Power, Goal::ChipsPerToken, Goal::PowerPerToken];

    /// The goal's value for a choice's totals (smaller is better): the ILP's
    /// numerator over its denominator ([`ilp::ratio`]).
    pub fn value(self, t: &space::Totals) -> f64 {
        let (num, den) = ilp::ratio(self);
        num.of(t) / den.of(t)
    }
}

/// Seconds one ILP solve may take before the best incumbent is returned.
pub const TIME_LIMIT_S: f64 = 30.0;

/// The best placement at one decode batch.
#[derive(Clone, Debug)]
pub struct Point {
    pub instance: Instance,
    pub choice: Choice,
    pub stats: ilp::Stats,
}

#[derive(Clone, Debug)]
pub struct Solved {
    pub best: Point,
    /// the best placement that puts some stage on a different pool (or colocates
    /// differently) than `best`, when one exists
    pub runner_up: Option<Point>,
    /// the best point at every batch that has one, in batch order
    pub per_batch: Vec<Point>,
    pub solve_s: f64,
    pub backend: &'static str,
}

pub fn goal(plan: &Plan) -> Goal {
    match plan.objective {
        Objective::CostPerMtok | Objective::ThroughputPerDollar => Goal::CostPerToken,
        Objective::Tpot => Goal::Tpot,
        Objective::Ttft => Goal::Ttft,
        Objective::Chips => Goal::Chips,
        Objective::Power => Goal::Power,
        Objective::ThroughputPerChip => Goal::ChipsPerToken,
        Objective::TokensPerMw => Goal::PowerPerToken,
    }
}

/// Objective key of a point: (primary, secondary), smaller is better.
pub fn key(p: &Point, goal: Goal) -> (f64, f64) {
    match p.instance.totals(p.choice) {
        Some(t) => (goal.value(&t), Goal::CostPerToken.value(&t)),
        None => (f64::INFINITY, f64::INFINITY),
    }
}

/// Solves `plan`, or pushes diagnostics saying why it cannot be solved.
pub fn solve(plan: &Plan, diags: &mut Diagnostics) -> Option<Solved> {
    let goal = goal(plan);
    if !check_prices(plan, diags) {
        return None;
    }
    let started = Instant::now();
    let mut excluded = Vec::new();
    let instances = space::instances(plan, &mut excluded);
    let mut per_batch = Vec::new();
    for inst in &instances {
        match ilp::solve(inst, goal, TIME_LIMIT_S) {
            Ok(out) => {
                if let Some(choice) = out.choice {
                    per_batch.push(Point { instance: inst.clone(), choice, stats: out.stats });
                }
            }
            Err(reason) => {
                diags.push(catalog::solver_failed(plan.span, &reason));
                return None;
            }
        }
    }
    let best = per_batch
        .iter()
        .min_by(|a, b| {
            key(a, goal).partial_cmp(&key(b, goal)).unwrap_or(std::cmp::Ordering::Equal).then(a.instance.batch.cmp(&b.instance.batch))
        })
        .cloned();
    if per_batch.iter().any(|p| !p.stats.proven) {
        diags.push(catalog::not_proven_optimal(plan.span, TIME_LIMIT_S));
    }
    let runner_up = match &best {
        Some(b) => match runner_up(&instances, b, goal) {
            Ok(r) => r,
            Err(reason) => {
                diags.push(catalog::solver_failed(plan.span, &reason));
                return None;
            }
        },
        None => None,
    };
    let solve_s = started.elapsed().as_secs_f64();
    match best {
        Some(best) => Some(Solved { best, runner_up, per_batch, solve_s, backend: "microlp" }),
        None => {
            let prefill = instances.first().map(|i| i.prefill.as_slice()).unwrap_or(&[]);
            explain(plan, &instances, prefill, &excluded, diags);
            None
        }
    }
}

/// Prices (power) must be known for every chip the plan may use when the objective or
/// a budget needs them.
/// Which pools the decode side uses: decode.attn, decode.ffn (None if colocated), the
/// draft, and a layer pipeline's pools in order (empty if none).
type DecodeSignature = (usize, Option<usize>, Option<usize>, Vec<usize>);

fn decode_signature(d: &space::DecodeOption) -> DecodeSignature {
    (d.attn_pool, d.ffn.map(|f| f.0), d.draft.map(|x| x.0), d.layers.iter().map(|s| s.pool).collect())
}

/// The best point whose stage-to-pool assignment differs from `best`'s. A choice has
/// the winner's assignment exactly when its prefill option is on the winner's prefill
/// pool and its decode option has the winner's attention, FFN and draft pools; one row
/// excludes those (see [`ilp::Exclude`]), so each batch needs one more solve.
fn runner_up(instances: &[Instance], best: &Point, goal: Goal) -> Result<Option<Point>, String> {
    let s = decode_signature(&best.instance.decode[best.choice.decode]);
    let prefill_pool = best.instance.prefill[best.choice.prefill].pool;
    let mut found: Option<Point> = None;
    for inst in instances {
        let decode: Vec<usize> = (0..inst.decode.len()).filter(|&d| decode_signature(&inst.decode[d]) == s).collect();
        let prefill: Vec<usize> = (0..inst.prefill.len()).filter(|&k| inst.prefill[k].pool == prefill_pool).collect();
        let ex = ilp::Exclude { decode, prefill };
        let out = ilp::solve_excluding(inst, goal, TIME_LIMIT_S, Some(&ex))?;
        if let Some(choice) = out.choice {
            let p = Point { instance: inst.clone(), choice, stats: out.stats };
            if found.as_ref().is_none_or(|f| key(&p, goal) < key(f, goal)) {
                found = Some(p);
            }
        }
    }
    Ok(found)
}

fn check_prices(plan: &Plan, diags: &mut Diagnostics) -> bool {
    let need_price = plan.objective.needs_price() || plan.budget.usd_per_s.is_some();
    let need_power = plan.objective.needs_power() || plan.budget.watts.is_some();
    if !need_price && !need_power {
        return true;
    }
    let mut ok = true;
    let mut used: Vec<usize> = plan
        .placements
        .iter()
        .filter(|p| p.stage != Stage::Draft || plan.speculation.is_some())
        .flat_map(|p| p.pools.iter().copied())
        .collect();
    used.sort();
    used.dedup();
    for p in used {
        let pool = &plan.cluster.pools[p];
        let at = if plan.objective.needs_price() || plan.objective.needs_power() {
            plan.objective_span
        } else {
            plan.budget.span.unwrap_or(plan.objective_span)
        };
        if need_price && pool.chip.price.is_none() {
            diags.push(
                catalog::missing_price(at, &pool.chip.name, pool.chip.span).label(pool.span, format!("pool `{}` uses it", pool.name)),
            );
            ok = false;
        }
        if need_power && pool.chip.power.is_none() {
            diags.push(
                catalog::missing_power(at, &pool.chip.name, pool.chip.span).label(pool.span, format!("pool `{}` uses it", pool.name)),
            );
            ok = false;
        }
    }
    ok
}

fn pool_name(plan: &Plan, p: usize) -> &str {
    &plan.cluster.pools[p].name
}

/// Diagnostics for a plan with no feasible point, most specific first.
fn explain(plan: &Plan, instances: &[Instance], prefill: &[space::PrefillOption], excluded: &[Excluded], diags: &mut Diagnostics) {
    let place_span = |s: Stage| plan.placement(s).span.unwrap_or(plan.span);
    // 1. A stage with no option at all: precision, memory or links.
    let any_decode = instances.iter().any(|i| !i.decode.is_empty());
    let missing_stage = if prefill.is_empty() {
        Some(Stage::Prefill)
    } else if !any_decode {
        Some(Stage::DecodeAttn)
    } else {
        None
    };
    if let Some(stage) = missing_stage {
        // Memory exclusions of the missing side (prefill, or any decode stage).
        let relevant = |e: &&Excluded| match e {
            Excluded::Memory { stage: s, .. } => (stage == Stage::Prefill) == (*s == Stage::Prefill),
            _ => true,
        };
        let reasons: Vec<&Excluded> = excluded.iter().filter(relevant).collect();
        if let Some(Excluded::Precision { pool }) = reasons.iter().find(|e| matches!(e, Excluded::Precision { .. })) {
            let chip = &plan.cluster.pools[*pool].chip;
            let have: Vec<&str> = chip.compute.keys().map(|p| p.name()).collect();
            let missing =
                [plan.model.weights, plan.model.activations].into_iter().find(|p| chip.peak(*p).is_none()).unwrap_or(plan.model.weights);
            let what = if missing == plan.model.activations && missing != plan.model.weights {
                "activations (attention runs at this precision)"
            } else {
                "weights"
            };
            diags.push(
                catalog::precision_unsupported(plan.model_span, &chip.name, missing.name(), &have)
                    .label(chip.span, "declared here")
                    .note(format!("the model's {what} are {}", missing.name())),
            );
            return;
        }
        // The memory exclusion closest to fitting.
        let mem = reasons
            .iter()
            .filter_map(|e| match e {
                Excluded::Memory { stage, pool, tp, need, capacity } => Some((*stage, *pool, *tp, *need, *capacity)),
                _ => None,
            })
            .min_by(|a, b| (a.3 / a.4).partial_cmp(&(b.3 / b.4)).unwrap_or(std::cmp::Ordering::Equal));
        if let Some((s, pool, tp, need, cap)) = mem {
            let lo = plan.workload.concurrency.0;
            let need_s =
                format!("{} per chip on `{}` with {tp} chip{}", fmt_bytes(need), pool_name(plan, pool), if tp == 1 { "" } else { "s" });
            diags.push(
                catalog::model_does_not_fit(plan.model_span, s.name(), &need_s, &format!("{} per chip", fmt_bytes(cap)))
                    .note(format!(
                        "weights are {} at {}; the KV cache is {} per token at {}, for contexts of {} tokens at concurrency {lo}",
                        fmt_bytes(plan.model.weight_bytes()),
                        plan.model.weights.name(),
                        fmt_bytes(plan.model.kv_bytes_per_token()),
                        plan.model.kv.name(),
                        plan.workload.input_tokens + plan.workload.output_tokens
                    ))
                    .label(plan.cluster.pools[pool].span, format!("pool `{}` declared here", pool_name(plan, pool))),
            );
            return;
        }
        if let Some(Excluded::NoDraftLink { attn_pool, draft_pool }) = reasons.iter().find(|e| matches!(e, Excluded::NoDraftLink { .. })) {
            diags.push(
                catalog::pools_not_linked(place_span(Stage::Draft), pool_name(plan, *attn_pool), pool_name(plan, *draft_pool))
                    .label(plan.cluster.span, "cluster declared here"),
            );
            return;
        }
        if let Some(Excluded::NoLink { attn_pool, ffn_pool }) = reasons.iter().find(|e| matches!(e, Excluded::NoLink { .. })) {
            diags.push(
                catalog::pools_not_linked(place_span(Stage::DecodeFfn), pool_name(plan, *attn_pool), pool_name(plan, *ffn_pool))
                    .label(plan.cluster.span, "cluster declared here"),
            );
            return;
        }
        diags.push(catalog::no_feasible_placement(
            place_span(stage),
            &[format!("stage `{}` has no configuration on its pools", stage.name())],
        ));
        return;
    }
    // 2. TPOT limit unreachable.
    let all_decode = instances.iter().flat_map(|i| i.decode.iter().map(move |d| (i.batch, d)));
    let fastest = all_decode.min_by(|a, b| a.1.tpot.partial_cmp(&b.1.tpot).unwrap_or(std::cmp::Ordering::Equal));
    if let (Some(slo), Some((batch, d))) = (plan.slos.iter().find(|s| s.metric == SloMetric::Tpot), fastest) {
        if d.tpot > slo.limit {
            let b = &d.breakdown;
            let mut parts = vec![format!("attention {}", fmt_time(b.attn)), format!("FFN {}", fmt_time(b.ffn))];
            if b.allreduce > 0.0 {
                parts.push(format!("tensor-parallel all-reduce {}", fmt_time(b.allreduce)));
            }
            if b.other > 0.0 {
                parts.push(format!("embedding and LM head {}", fmt_time(b.other)));
            }
            let mut diag = catalog::slo_unmet(slo.span, "tpot", &format!("<= {}", fmt_time(slo.limit)), &fmt_time(d.tpot));
            if let Some((f, _)) = d.ffn {
                if let Some(link) = plan.cluster.link_between(d.attn_pool, f) {
                    let n = 2 * plan.model.layers;
                    parts.push(format!(
                        "{} of it is {n} {}<->{} crossings at {} each (link `{}`)",
                        fmt_time(b.crossing),
                        pool_name(plan, d.attn_pool),
                        pool_name(plan, f),
                        fmt_time(b.crossing / n as f64),
                        link.link.name
                    ));
                    diag = diag.label(link.span, format!("crossings use link `{}`", link.link.name));
                }
            }
            diags.push(diag.note(format!(
                "the fastest decode step (concurrency {batch}, `decode.attn` on `{}` with {} chips{}): {}",
                pool_name(plan, d.attn_pool),
                d.attn_tp,
                match d.ffn {
                    Some((f, t)) => format!(", `decode.ffn` on `{}` with {t} chips", pool_name(plan, f)),
                    None => String::new(),
                },
                parts.join(", ")
            )));
            return;
        }
    }
    // 3. TTFT limit unreachable.
    if let Some(slo) = plan.slos.iter().find(|s| s.metric == SloMetric::Ttft) {
        let kvs: Vec<&[(usize, f64)]> = instances.iter().flat_map(|i| i.decode.iter().map(|d| d.kv.as_slice())).collect();
        let best = prefill
            .iter()
            .flat_map(|p| kvs.iter().filter_map(move |kv| p.ttft(kv).map(|t| (p, t))))
            .min_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal));
        if let Some((p, t)) = best {
            if t > slo.limit {
                diags.push(catalog::slo_unmet(slo.span, "ttft", &format!("<= {}", fmt_time(slo.limit)), &fmt_time(t)).note(format!(
                    "the fastest prefill of {} input tokens runs on `{}` with {} chips and takes {} before the KV cache moves to decode",
                    plan.workload.input_tokens,
                    pool_name(plan, p.pool),
                    p.tp,
                    fmt_time(p.time)
                )));
                return;
            }
        }
    }
    // 4. Every stage has options but no combination fits together.
    let mut reasons = Vec::new();
    if let Some(inst) = instances.first() {
        let cheapest = inst.decode.iter().filter(|d| inst.decode_allowed(d)).min_by_key(|d| d.chips.iter().sum::<u64>());
        if let Some(d) = cheapest {
            let min_pre =
                inst.prefill.iter().filter(|p| inst.compatible(d, p)).map(|p| (p, inst.min_replicas(d, p))).min_by_key(|(p, r)| p.tp * r);
            match min_pre {
                Some((p, r)) => reasons.push(format!(
                    "at concurrency {}, the smallest decode option uses {} chips and prefill then needs {} replica{} of {} chips on `{}` to keep up; the pools have {}",
                    inst.batch,
                    d.chips.iter().sum::<u64>(),
                    r,
                    if r == 1 { "" } else { "s" },
                    p.tp,
                    pool_name(plan, p.pool),
                    plan.cluster.pools.iter().map(|x| format!("`{}`: {}", x.name, x.count)).collect::<Vec<_>>().join(", ")
                )),
                None => reasons.push(format!(
                    "no prefill option can hand its KV cache to `decode.attn` on `{}` within the TTFT limit or over a declared link",
                    pool_name(plan, d.attn_pool)
                )),
            }
        }
    }
    // Budgets: the smallest and cheapest feasible placements, ignoring the budget.
    let b = &plan.budget;
    let mut at = plan.span;
    if b.chips.is_some() || b.usd_per_s.is_some() || b.watts.is_some() {
        let mut least: Option<(u64, f64, f64)> = None;
        for inst in instances {
            for d in inst.decode.iter().filter(|d| inst.decode_allowed(d)) {
                for p in inst.prefill.iter().filter(|p| inst.compatible(d, p)) {
                    let r = inst.min_replicas(d, p);
                    let chips = d.chips.iter().sum::<u64>() + r * p.tp;
                    let (usd, watts) = (d.usd_per_s + r as f64 * p.usd_per_s, d.watts + r as f64 * p.watts);
                    least = Some(match least {
                        None => (chips, usd, watts),
                        Some((c, u, w)) => (c.min(chips), u.min(usd), w.min(watts)),
                    });
                }
            }
        }
        if let Some((chips, usd, watts)) = least {
            if let Some(bc) = b.chips.filter(|bc| chips > *bc) {
                reasons.push(format!("the budget allows {bc} chips; the smallest placement needs {chips}"));
            }
            if let Some(bu) = b.usd_per_s.filter(|bu| usd > bu * (1.0 + 1e-9)) {
                reasons.push(format!("the budget allows ${:.2}/h; the cheapest placement costs ${:.2}/h", bu * 3600.0, usd * 3600.0));
            }
            if let Some(bw) = b.watts.filter(|bw| watts > bw * (1.0 + 1e-9)) {
                reasons.push(format!(
                    "the budget allows {}; the least power any placement draws is {}",
                    crate::units::format::fmt_si(bw, "W"),
                    crate::units::format::fmt_si(watts, "W")
                ));
            }
            if reasons.iter().any(|r| r.starts_with("the budget")) {
                at = b.span.unwrap_or(plan.span);
            }
        }
    }
    diags.push(catalog::no_feasible_placement(at, &reasons));
}
