//! Solving a plan: build the configuration space per candidate decode batch
//! ([`space`]), solve each with the ILP ([`ilp`]), keep the best, and when
//! nothing is feasible explain why with diagnostics at the source.

pub mod brute;
pub mod ilp;
pub mod space;

use crate::diagnostics::{catalog, Diagnostics};
use crate::ir::{Objective, Plan, SloMetric, Stage};
use crate::units::format::{fmt_bytes, fmt_time};
use space::{Choice, Excluded, Instance};
use std::time::Instant;

/// What the ILP minimises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Goal {
    /// US dollars per generated token
    CostPerToken,
    /// seconds per output token, ties broken by cost per token
    Tpot,
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
    /// the best point at every batch that has one, in batch order
    pub per_batch: Vec<Point>,
    pub solve_s: f64,
    pub backend: &'static str,
}

pub fn goal(plan: &Plan) -> Goal {
    match plan.objective {
        Objective::CostPerMtok => Goal::CostPerToken,
        Objective::Tpot => Goal::Tpot,
    }
}

/// Objective key of a point: (primary, secondary), smaller is better.
pub fn key(p: &Point, goal: Goal) -> (f64, f64) {
    let inst = &p.instance;
    let d = &inst.decode[p.choice.decode];
    let (usd, tput) = inst.evaluate(p.choice).unwrap_or((f64::INFINITY, 1.0));
    match goal {
        Goal::CostPerToken => (usd / tput, d.tpot),
        Goal::Tpot => (d.tpot, usd / tput),
    }
}

/// Solves `plan`, or pushes diagnostics saying why it cannot be solved.
pub fn solve(plan: &Plan, diags: &mut Diagnostics) -> Option<Solved> {
    let goal = goal(plan);
    if goal == Goal::CostPerToken && !check_prices(plan, diags) {
        return None;
    }
    let started = Instant::now();
    let mut excluded = Vec::new();
    let prefill = space::prefill_options(plan, &mut excluded);
    let (lo, hi) = plan.workload.concurrency;
    let mut per_batch = Vec::new();
    let mut instances = Vec::new();
    for b in space::batch_candidates(lo, hi) {
        let inst = space::instance(plan, b, &prefill, &mut excluded);
        match ilp::solve(&inst, goal, TIME_LIMIT_S) {
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
        instances.push(inst);
    }
    let solve_s = started.elapsed().as_secs_f64();
    let best = per_batch
        .iter()
        .min_by(|a, b| {
            key(a, goal).partial_cmp(&key(b, goal)).unwrap_or(std::cmp::Ordering::Equal).then(a.instance.batch.cmp(&b.instance.batch))
        })
        .cloned();
    if per_batch.iter().any(|p| !p.stats.proven) {
        diags.push(catalog::not_proven_optimal(plan.span, TIME_LIMIT_S));
    }
    match best {
        Some(best) => Some(Solved { best, per_batch, solve_s, backend: "microlp" }),
        None => {
            explain(plan, &instances, &prefill, &excluded, diags);
            None
        }
    }
}

fn check_prices(plan: &Plan, diags: &mut Diagnostics) -> bool {
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
        if pool.chip.price.is_none() {
            diags.push(
                catalog::missing_price(plan.objective_span, &pool.chip.name, pool.chip.span)
                    .label(pool.span, format!("pool `{}` uses it", pool.name)),
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
    let mut stages_missing: Vec<Stage> = Vec::new();
    if prefill.is_empty() {
        stages_missing.push(Stage::Prefill);
    }
    if !any_decode {
        stages_missing.push(Stage::DecodeAttn);
    }
    if let Some(stage) = stages_missing.first().copied() {
        let relevant = |e: &&Excluded| match e {
            Excluded::Memory { stage: s, .. } => {
                stage == Stage::Prefill && *s == Stage::Prefill || stage != Stage::Prefill && *s != Stage::Prefill
            }
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
        let best = prefill
            .iter()
            .flat_map(|p| p.ttft.iter().flatten().map(move |t| (p, *t)))
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
    diags.push(catalog::no_feasible_placement(plan.span, &reasons));
}
