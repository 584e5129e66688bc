//! Solving a plan: build the configuration space per candidate decode batch
//! ([`space`]), solve each with the ILP ([`ilp`]), keep the best, and when
//! nothing is feasible explain why with diagnostics at the source.

pub mod backend;
pub mod batch;
pub mod brute;
pub mod ilp;
pub mod layers;
pub mod relax;
pub mod space;
pub mod sweep;
pub mod uncertainty;

use crate::diagnostics::{catalog, Diagnostics};
use crate::ir::{Objective, Plan, SloMetric, Stage};
use crate::source::Span;
use crate::units::format::{fmt_bytes, fmt_time};
use space::{Choice, Excluded, Instance};
use std::sync::Arc;
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
    /// decode chips per token/s (decode_throughput_per_chip): prefill chips of their
    /// own not counted
    DecodeChipsPerToken,
    /// watts per token/s (tokens_per_mw)
    PowerPerToken,
}

impl Goal {
    pub const ALL: [Goal; 8] = [
        Goal::CostPerToken,
        Goal::Tpot,
        Goal::Ttft,
        Goal::Chips,
        Goal::Power,
        Goal::ChipsPerToken,
        Goal::DecodeChipsPerToken,
        Goal::PowerPerToken,
    ];

    /// The goal's value for a choice's totals (smaller is better): the ILP's
    /// numerator over its denominator ([`ilp::ratio`]).
    pub fn value(self, t: &space::Totals) -> f64 {
        let (num, den) = ilp::ratio(self);
        num.of(t) / den.of(t)
    }

    /// A lower bound on the goal over every choice that takes decode option `d` at
    /// tokens/s no more than `alone`'s (its totals alone, [`Instance::alone`]), whose
    /// prefill adds at least `fed` ([`Instance::fed`]; `None`: no choice takes it, +∞):
    /// its value alone plus what any prefill adds to the numerator, per token/s of
    /// decode (a goal per token/s) or of one replica (a total); for TTFT the least
    /// pair's.
    pub fn floor(self, alone: &space::Totals, d: &space::DecodeOption, fed: Option<&space::Fed>) -> f64 {
        use ilp::Q;
        let Some(f) = fed else { return f64::INFINITY };
        let (num, den) = ilp::ratio(self);
        let of = |k: usize| if den == Q::Tput { f.per_token[k] } else { f.one[k] };
        let add = match num {
            Q::Usd => of(0),
            Q::Chips => of(1),
            Q::Watts => of(2),
            Q::Ttft => f.ttft + d.aggregated.as_ref().map_or(0.0, |a| a.ttft),
            Q::One | Q::DecodeChips | Q::Tput | Q::Tpot => 0.0,
        };
        // less a millionth of what the prefill adds (the replicas are rounded up from
        // `λ·s` less 1e-9, [`space::PrefillOption::replicas_for`], so a pair at exactly
        // `λ·s` may come that below it) and 10⁻¹² of the value (a choice's value is
        // summed in another order, which may round it an ulp below the floor's sum);
        // never below the value alone, which no choice is below however it rounds
        let v = self.value(alone);
        v + (add * (1.0 - 1e-6) - v.abs() * 1e-12).max(0.0)
    }
}

/// The best placement at one decode batch.
#[derive(Clone, Debug)]
pub struct Point {
    /// the space the choice is of, shared with the search that built it (a space holds
    /// thousands of options: a point does not copy them)
    pub instance: Arc<Instance>,
    pub choice: Choice,
    pub stats: ilp::Stats,
}

impl Point {
    /// The chosen decode option.
    pub fn decode(&self) -> &space::DecodeOption {
        &self.instance.decode[self.choice.decode]
    }

    /// The chosen prefill option.
    pub fn prefill(&self) -> &space::PrefillOption {
        &self.instance.prefill[self.choice.prefill]
    }
}

#[derive(Clone, Debug)]
pub struct Solved {
    pub best: Point,
    /// the best placement that puts some stage on a different pool (or colocates
    /// differently) than `best`, when one exists
    pub runner_up: Option<Point>,
    /// the best point of the other way of serving (aggregated when `best` is
    /// disaggregated and vice versa), when the plan allows both and one is feasible
    pub other_serving: Option<Point>,
    /// the best point at every batch that has one, in batch order
    pub per_batch: Vec<Point>,
    pub solve_s: f64,
    pub backend: &'static str,
    /// the plan's sweep (its `sweep` block, or one the caller asked for): the variable's
    /// values and the best point at each
    pub sweep: Option<(crate::ir::SweepOver, Vec<sweep::SweepPoint>)>,
    /// where asked for ([`solve_with`]), the goal's key of the best point by
    /// enumeration over every batch (its search, [`uncertainty::enumerated_key`]'s): what a break-even
    /// with a plan that keeps its answer compares with
    pub enumerated: Option<f64>,
    /// where asked for ([`solve_with`]), the spaces the solve built, as its search kept
    /// them ([`batch::Batches::kept`]): what a plan repriced after its solve (a price or a
    /// power varied, or a break-even over one) starts from ([`batch::NominalSpaces::after`]),
    /// and what its SLO sweep walks ([`sweep::run_after`]). The build drops them once it
    /// has varied and compared its plans.
    pub kept: Option<batch::Kept>,
}

/// What a solve keeps beyond its answer, for what the build asks of the plan after it
/// ([`solve_with`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct Also {
    /// [`Solved::enumerated`]
    pub enumerated: bool,
    /// [`Solved::kept`]
    pub spaces: bool,
}

/// The largest optimality gap over the batches' solves (0 when all were proven; `None`
/// when a solve stopped without a proven bound).
pub fn worst_gap(points: &[Point]) -> Option<f64> {
    points.iter().try_fold(0.0f64, |a, p| p.stats.gap.map(|g| a.max(g)))
}

pub fn goal(plan: &Plan) -> Goal {
    match plan.objective {
        Objective::CostPerMtok | Objective::ThroughputPerDollar => Goal::CostPerToken,
        Objective::Tpot => Goal::Tpot,
        Objective::Ttft => Goal::Ttft,
        Objective::Chips => Goal::Chips,
        Objective::Power => Goal::Power,
        // goodput: the configurations of most throughput per chip are the candidates
        // the simulation tries (docs/simulation.md)
        Objective::ThroughputPerChip | Objective::Goodput => Goal::ChipsPerToken,
        Objective::DecodeThroughputPerChip => Goal::DecodeChipsPerToken,
        Objective::TokensPerMw => Goal::PowerPerToken,
    }
}

/// The goal that breaks ties on the primary one: cost per token, or, when the plan
/// prices no chip (every choice would cost nothing), chips per token. A property of the
/// plan, so every batch and every sweep point (whose instances keep only the chosen
/// options) break ties alike.
pub fn tie_goal(inst: &Instance) -> Goal {
    if inst.priced {
        Goal::CostPerToken
    } else {
        Goal::ChipsPerToken
    }
}

/// Objective key of a point: (primary, the tie-break [`tie_goal`]), smaller is better;
/// the same order within a batch's solve and across batches.
pub fn key(p: &Point, goal: Goal) -> (f64, f64) {
    batch::key(&p.instance, p.choice, goal).unwrap_or((f64::INFINITY, f64::INFINITY))
}

/// The best point over all batches: the lowest key (goal, then tie-break goal), then
/// the smaller batch (docs/solver.md).
fn best_of(points: &[Point], goal: Goal) -> Option<&Point> {
    points.iter().min_by(|a, b| {
        key(a, goal).partial_cmp(&key(b, goal)).unwrap_or(std::cmp::Ordering::Equal).then(a.instance.batch.cmp(&b.instance.batch))
    })
}

/// W0402 when the chosen point priced a decode or prefill operation outside a measured
/// op table's range, labelled at the tables of the pools it uses.
fn warn_extrapolated(plan: &Plan, p: &Point, diags: &mut Diagnostics) {
    if !p.instance.extrapolated(p.choice) {
        return;
    }
    let d = &p.instance.decode[p.choice.decode];
    let pre = &p.instance.prefill[p.choice.prefill];
    let mut tables: Vec<(crate::source::Span, String)> = Vec::new();
    for (i, pool) in plan.cluster.pools.iter().enumerate() {
        let used = d.chips.get(i).is_some_and(|&c| c > 0) || pre.pool == i;
        if let (true, Some(t)) = (used, &pool.chip.tables) {
            if !tables.iter().any(|(s, _)| *s == t.span) {
                tables.push((t.span, t.file.clone()));
            }
        }
    }
    diags.push(catalog::table_extrapolated(plan.span, &tables));
}

/// Solves `plan`, or pushes diagnostics saying why it cannot be solved.
pub fn solve(plan: &Plan, diags: &mut Diagnostics) -> Option<Solved> {
    solve_with(plan, Also::default(), diags)
}

/// [`solve`], and what `also` asks: [`Solved::enumerated`], the key of the enumeration
/// that found the best batch (a break-even that keeps this plan's answer would otherwise
/// search again), and [`Solved::kept`].
pub fn solve_with(plan: &Plan, also: Also, diags: &mut Diagnostics) -> Option<Solved> {
    let goal = goal(plan);
    if !check_prices(plan, diags) {
        return None;
    }
    let started = Instant::now();
    let mut batches = batch::Batches::new(plan);
    let searched = match search_batches(plan, &mut batches) {
        Ok(s) => s,
        Err(reason) => {
            diags.push(catalog::solver_failed(plan.span, &reason));
            return None;
        }
    };
    let Searched { best, per_batch, stopped_empty, found } = searched;
    let enumerated = found.best.as_ref().map(|p| key(p, goal).0);
    if per_batch.iter().any(|p| !p.stats.proven) || stopped_empty {
        let gap = if stopped_empty { None } else { worst_gap(&per_batch) };
        diags.push(catalog::not_proven_optimal(plan.span, &fmt_time(plan.time_limit), gap));
    }
    if let (Some(lb), Some(b)) = (found.unsearched, &best) {
        let value = key(b, goal).0;
        let gap = (lb.0.is_finite() && value > 0.0).then(|| ((value - lb.0) / value).max(0.0));
        diags.push(catalog::batches_not_searched(plan.workload.concurrency_span, found.solved.len(), gap));
    }
    // The best point with another assignment, and the best of the other way of serving:
    // searches of their own over every batch, from the batches solved (a batch's best is
    // a lower bound on both there).
    // Enumerated, as the search for the best batch is. The two are independent: the
    // second runs on a thread of its own, over the spaces built so far and its own.
    let start = found.as_start();
    let other = |batches: &mut batch::Batches, exclude: &dyn Fn(&Instance) -> Option<ilp::Exclude>| {
        batch::search(batches, goal, &start, exclude, &mut batch::by_goal(goal))
    };
    let (runner_up, other_serving) = match &best {
        Some(b) => {
            let s = decode_signature(b.decode());
            let prefill_pool = b.prefill().pool;
            let same_assignment = |inst: &Instance| {
                let decode = (0..inst.decode.len()).filter(|&d| decode_signature(&inst.decode[d]) == s).collect();
                let prefill = (0..inst.prefill.len()).filter(|&k| inst.prefill[k].pool == prefill_pool).collect();
                Some(ilp::Exclude::new(decode, prefill))
            };
            let aggregated = b.prefill().aggregated;
            let same_serving = |inst: &Instance| {
                let decode = (0..inst.decode.len()).filter(|&d| inst.decode[d].aggregated.is_some() == aggregated).collect();
                let prefill = (0..inst.prefill.len()).filter(|&k| inst.prefill[k].aggregated == aggregated).collect();
                Some(ilp::Exclude::new(decode, prefill))
            };
            // the best aggregated point, when the best is not: over spaces of the
            // aggregated options alone (a few of each batch's), built for it
            let mut serving_spaces = if aggregated { batches.fork() } else { batches.aggregated() };
            let (runner_up, other_serving) = std::thread::scope(|s| {
                let serving = s.spawn(|| {
                    let exclude: &dyn Fn(&Instance) -> Option<ilp::Exclude> = if aggregated { &same_serving } else { &|_| None };
                    other(&mut serving_spaces, exclude)
                });
                let runner_up = other(&mut batches, &same_assignment);
                (runner_up, serving.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            });
            match (runner_up, other_serving) {
                (Ok(r), Ok(o)) => (r.best, o.best),
                (Err(reason), _) | (_, Err(reason)) => {
                    diags.push(catalog::solver_failed(plan.span, &reason));
                    return None;
                }
            }
        }
        None => (None, None),
    };
    if let Some(b) = &best {
        warn_extrapolated(plan, b, diags);
    }
    let solve_s = started.elapsed().as_secs_f64();
    // the search that found the best batch is that enumeration (`search_batches`)
    let enumerated = (also.enumerated && best.is_some()).then(|| enumerated.unwrap_or(f64::INFINITY));
    let kept = if also.spaces && best.is_some() { batches.kept() } else { None };
    match best {
        Some(best) => {
            Some(Solved { best, runner_up, other_serving, per_batch, solve_s, backend: backend::NAME, sweep: None, enumerated, kept })
        }
        None => {
            let instances: Vec<Instance> = batches.built().cloned().collect();
            let prefill = instances.first().map(|i| i.prefill.as_slice()).unwrap_or(&[]);
            // every explanation also points at the pins, which narrowed the space
            let mut found = Diagnostics::new();
            explain(plan, &instances, prefill, &batches.excluded, &mut found);
            for mut d in found.into_vec() {
                for (span, what) in pin_labels(plan) {
                    d = d.label(span, what);
                }
                diags.push(d);
            }
            None
        }
    }
}

/// What [`search_batches`] found.
pub struct Searched {
    /// the best point over every batch of the range, as the ILP places it
    pub best: Option<Point>,
    /// the ILP's best point at every seed batch and at the best batch, in batch order
    pub per_batch: Vec<Point>,
    /// some ILP solve stopped at its time limit without a feasible choice
    pub stopped_empty: bool,
    /// the search over every batch by enumeration
    pub found: batch::Found,
}

/// The best point of `plan` over every integer batch of its range (docs/solver.md,
/// "Every batch"): a branch and bound over the batch ([`batch::search`]) finds the best
/// batch, each batch's space solved by enumerating its pairs (the oracle the ILP is
/// tested against: the same optimum, 15-300x faster per batch than the ILP on the
/// examples, `cargo bench --bench solve`); the ILP then places the seed batches (the
/// frontier's points) and the best batch, and its answer is the plan's.
pub fn search_batches(plan: &Plan, batches: &mut batch::Batches) -> Result<Searched, String> {
    let goal = goal(plan);
    let found = batch::search_all(batches, goal, &mut batch::by_goal(goal))?;
    let mut at = batch::seeds(plan);
    if let Some(b) = &found.best {
        if !at.contains(&b.instance.batch) {
            at.push(b.instance.batch);
            at.sort_unstable();
        }
    }
    let (mut per_batch, mut stopped_empty) = (Vec::new(), false);
    for b in at {
        let inst = batches.shared(b);
        let out = ilp::solve(&inst, goal, plan.time_limit)?;
        stopped_empty |= out.choice.is_none() && !out.stats.proven;
        if let Some(choice) = out.choice {
            per_batch.push(Point { instance: inst, choice, stats: out.stats });
        }
    }
    let best = best_of(&per_batch, goal).cloned();
    Ok(Searched { best, per_batch, stopped_empty, found })
}

/// The plan's pins, as labels: "pinned: decode.attn tp = 4".
fn pin_labels(plan: &Plan) -> Vec<(Span, String)> {
    let mut out = Vec::new();
    for p in &plan.placements {
        for name in crate::ir::Pins::NAMES {
            if let Some((v, span)) = p.pins.get(name) {
                out.push((span, catalog::pinned(p.stage.name(), name, v)));
            }
        }
    }
    out
}

/// Prices (power) must be known for every chip the plan may use when the objective or
/// a budget needs them.
/// Which pools the decode side uses: decode.attn, decode.ffn (None if colocated), the
/// draft, and a layer pipeline's pools in order (empty if none).
pub type DecodeSignature = (usize, Option<usize>, Option<usize>, Vec<usize>);

pub fn decode_signature(d: &space::DecodeOption) -> DecodeSignature {
    (d.head().0, d.ffn().map(|f| f.0), d.draft().map(|x| x.0), d.stages().iter().map(|s| s.pool).collect())
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
            diags.push(catalog::missing_price(at, &pool.chip.name, pool.chip.span, (pool.span, &pool.name)));
            ok = false;
        }
        if need_power && pool.chip.deployed_power().is_none() {
            diags.push(catalog::missing_power(at, &pool.chip.name, pool.chip.span, (pool.span, &pool.name)));
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
    // 1. A stage with no option at all: precision, memory or links. Prefill has one when
    // it fits on chips of its own or some decode option prefills its own prompts.
    let any_decode = instances.iter().any(|i| !i.decode.is_empty());
    let any_prefill = prefill.iter().any(|p| !p.aggregated) || instances.iter().any(|i| i.decode.iter().any(|d| d.aggregated.is_some()));
    let missing_stage = if !any_prefill {
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
            let activations = missing == plan.model.activations && missing != plan.model.weights;
            diags.push(catalog::precision_unsupported(plan.model_span, &chip.name, missing.name(), &have, chip.span, activations));
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
            // more chips in the pool than the option used, and no link to combine them
            let p = &plan.cluster.pools[pool];
            let unlinked = (p.link.is_none() && p.count > tp).then_some((p.name.as_str(), p.count));
            let m = &plan.model;
            let weights = match m.variants {
                1 => fmt_bytes(m.weight_bytes()),
                k => format!("{} ({k} variants resident, {} each)", fmt_bytes(k as f64 * m.weight_bytes()), fmt_bytes(m.weight_bytes())),
            };
            let kv = fmt_bytes(m.kv_bytes_per_token());
            let footprint = catalog::Footprint {
                weights: &weights,
                weights_precision: plan.model.weights.name(),
                kv_per_token: &kv,
                kv_precision: plan.model.kv.name(),
                context: plan.workload.input_tokens + plan.workload.output_tokens,
                concurrency: lo,
            };
            diags.push(catalog::model_does_not_fit(
                plan.model_span,
                s.name(),
                &fmt_bytes(need),
                (p.span, &p.name, tp),
                &fmt_bytes(cap),
                unlinked,
                footprint,
            ));
            return;
        }
        if let Some(Excluded::NoDraftLink { attn_pool, draft_pool }) = reasons.iter().find(|e| matches!(e, Excluded::NoDraftLink { .. })) {
            diags.push(catalog::pools_not_linked(
                place_span(Stage::Draft),
                pool_name(plan, *attn_pool),
                pool_name(plan, *draft_pool),
                plan.cluster.span,
            ));
            return;
        }
        if let Some(Excluded::NoLink { attn_pool, ffn_pool }) = reasons.iter().find(|e| matches!(e, Excluded::NoLink { .. })) {
            diags.push(catalog::pools_not_linked(
                place_span(Stage::DecodeFfn),
                pool_name(plan, *attn_pool),
                pool_name(plan, *ffn_pool),
                plan.cluster.span,
            ));
            return;
        }
        diags.push(catalog::no_feasible_placement(place_span(stage), &[catalog::Infeasible::NoConfiguration(stage.name())]));
        return;
    }
    // 2. The cheapest relaxation of the SLOs, the pool sizes and the budget.
    if let Some(r) = relax::cheapest(instances) {
        if !r.relaxed.is_empty() {
            diags.push(relaxation_diagnostic(plan, &instances[r.instance], &r));
            return;
        }
    }
    // 3. Nothing can even hand the KV cache over.
    let reasons: Vec<catalog::Infeasible> = instances
        .iter()
        .find(|i| !i.decode.is_empty())
        .map(|inst| catalog::Infeasible::NoKvPath(pool_name(plan, inst.decode[0].head().0)))
        .into_iter()
        .collect();
    diags.push(catalog::no_feasible_placement(place_span(Stage::Prefill), &reasons));
}

/// A relaxed constraint as the catalog words it: where it is declared, its limit and
/// what the relaxation needs, formatted, and by how much.
fn relaxed<'a>(plan: &'a Plan, r: &relax::Relaxed) -> catalog::Relaxed<'a> {
    use catalog::Constraint as C;
    let b = &plan.budget;
    let budget_span = |line: Option<Span>| line.or(b.span).unwrap_or(plan.span);
    let money = |x: f64| format!("${:.2}/h", x * 3600.0);
    let watts = |x: f64| crate::units::format::fmt_si(x, "W");
    let count = |n: f64| format!("{n} chips");
    let (span, constraint, limit, needed) = match r.bound {
        relax::Bound::Tpot => match plan.tpot_slo().map(|(s, _)| s) {
            Some(s) if s.metric == SloMetric::TokensPerSUser => {
                (s.span, C::TokensPerUser, format!("{:.1} tok/s", s.limit), format!("{:.1} tok/s", 1.0 / r.needed))
            }
            s => (s.map_or(plan.span, |s| s.span), C::Tpot, fmt_time(r.limit), fmt_time(r.needed)),
        },
        relax::Bound::Ttft => {
            let span = plan.mean_limit(SloMetric::Ttft).map(|s| s.span).unwrap_or(plan.span);
            (span, C::Ttft, fmt_time(r.limit), fmt_time(r.needed))
        }
        relax::Bound::Pool(p) => {
            let pool = &plan.cluster.pools[p];
            (pool.span, C::Pool(&pool.name), count(r.limit), count(r.needed))
        }
        relax::Bound::BudgetUsd => (budget_span(b.cost_span), C::CostBudget, money(r.limit), money(r.needed)),
        relax::Bound::BudgetChips => (budget_span(b.chips_span), C::ChipsBudget, count(r.limit), count(r.needed)),
        relax::Bound::BudgetWatts => (budget_span(b.power_span), C::PowerBudget, watts(r.limit), watts(r.needed)),
    };
    // tokens/s per user is 1/TPOT: its limit moves down
    let pct = if constraint == C::TokensPerUser { 100.0 * (r.limit / r.needed - 1.0) } else { 100.0 * r.slack() };
    catalog::Relaxed { span, constraint, limit, needed, pct }
}

/// A choice as the catalog words it.
fn placement<'a>(plan: &'a Plan, inst: &Instance, c: Choice) -> catalog::Placement<'a> {
    let d = &inst.decode[c.decode];
    let p = &inst.prefill[c.prefill];
    let decode = match &d.target().layout {
        space::Layout::Pipeline(p) => {
            catalog::DecodeLayout::Pipeline(p.stages.iter().map(|s| (s.first, s.end, pool_name(plan, s.pool), s.tp)).collect())
        }
        space::Layout::PingPong(p) => catalog::DecodeLayout::Groups {
            pool: pool_name(plan, p.attn.0),
            tp: p.attn.1,
            dp: p.dp,
            ffn: Some((pool_name(plan, p.ffn.0), p.ffn.1, p.groups)),
        },
        // `target` is the step the target model runs, never a speculative round
        space::Layout::Colocated(_) | space::Layout::Speculative(_) => {
            let (pool, tp, dp) = d.attention();
            catalog::DecodeLayout::Groups { pool: pool_name(plan, pool), tp, dp, ffn: None }
        }
    };
    let prefill = match &d.aggregated {
        Some(a) => catalog::PrefillLayout::Aggregated {
            pool: pool_name(plan, p.pool),
            steps: a.steps.steps,
            per_step: fmt_time(d.breakdown.prefill),
            ttft: fmt_time(a.ttft),
        },
        None => catalog::PrefillLayout::Own {
            pool: pool_name(plan, p.pool),
            replicas: c.replicas,
            chips: p.chips(),
            stages: p.pp,
            request_rate: inst.request_rate(c.decode),
            time: fmt_time(p.time),
            interval: fmt_time(p.interval),
        },
    };
    catalog::Placement { concurrency: inst.batch, decode, draft: d.draft().map(|(dp, dt)| (pool_name(plan, dp), dt)), prefill }
}

/// Where a decode step's time goes, as the catalog words it.
fn step_parts<'a>(plan: &'a Plan, d: &space::DecodeOption) -> catalog::StepParts<'a> {
    let b = &d.breakdown;
    let some = |t: f64| (t > 0.0).then(|| fmt_time(t));
    let mut parts = catalog::StepParts {
        total: fmt_time(d.tpot),
        attn: fmt_time(b.attn),
        ffn: fmt_time(b.ffn),
        allreduce: some(b.allreduce),
        other: some(b.other),
        draft: some(b.draft),
        overhead: some(b.overhead),
        prefill: some(b.prefill),
        overlap: some(b.overlap),
        ..Default::default()
    };
    match d.ffn().map(|f| f.0) {
        Some(f) => {
            if let Some(link) = plan.cluster.link_between(d.head().0, f) {
                let n = 2 * plan.model.layers * d.microbatches();
                parts.crossings = Some(catalog::Crossings {
                    total: fmt_time(b.crossing),
                    count: n,
                    from: pool_name(plan, d.head().0),
                    to: pool_name(plan, f),
                    each: fmt_time(b.crossing / n as f64),
                    link: &link.link.name,
                    link_span: link.span,
                });
            }
        }
        None => parts.pipeline_crossing = some(b.crossing),
    }
    parts
}

/// The diagnostic for an infeasible plan: the cheapest relaxation's binding constraints
/// at their source lines, with the best placement under it.
fn relaxation_diagnostic(plan: &Plan, inst: &Instance, r: &relax::Relaxation) -> crate::diagnostics::Diagnostic {
    let d = &inst.decode[r.choice.decode];
    let p = &inst.prefill[r.choice.prefill];
    let relaxed: Vec<catalog::Relaxed> = r.relaxed.iter().map(|x| relaxed(plan, x)).collect();
    let step = r.relaxed.iter().any(|x| x.bound == relax::Bound::Tpot).then(|| step_parts(plan, d));
    let prefill = r.relaxed.iter().any(|x| x.bound == relax::Bound::Ttft).then(|| {
        let tokens = plan.workload.input_tokens;
        match &d.aggregated {
            Some(a) => catalog::PrefillTime::Aggregated {
                tokens,
                steps: a.steps.steps,
                time: fmt_time(a.prompt),
                pool: pool_name(plan, d.head().0),
                first_token: (a.first_token > 0.0).then(|| fmt_time(a.first_token)),
            },
            None => catalog::PrefillTime::Own {
                tokens,
                time: fmt_time(p.time),
                chips: p.chips(),
                stages: p.pp,
                pool: pool_name(plan, p.pool),
                first_token: (p.first_token > 0.0).then(|| fmt_time(p.first_token)),
            },
        }
    });
    catalog::relaxation(&relaxed, &placement(plan, inst, r.choice), step.as_ref(), prefill.as_ref())
}

#[cfg(test)]
mod tie_tests {
    use super::*;
    use crate::solve::relax::tests::{decode, instance};

    /// One decode option on `chips` chips at `tpot`, at batch `batch`, without limits.
    fn point(batch: u64, tpot: f64, chips: u64) -> Point {
        let mut instance = instance(vec![decode(tpot, chips)], f64::INFINITY, 64);
        (instance.batch, instance.tpot_limit) = (batch, None);
        Point { instance: Arc::new(instance), choice: Choice { decode: 0, prefill: 0, replicas: 1 }, stats: ilp::Stats::default() }
    }

    #[test]
    fn across_batches_a_tie_goes_to_the_smaller_batch() {
        // twice the batch at twice the TPOT: the same chips, throughput and cost per
        // token (binary fractions, so exactly), whichever order the batches come in
        let (small, large) = (point(8, 0.25, 4), point(16, 0.5, 4));
        for goal in [Goal::Chips, Goal::CostPerToken, Goal::ChipsPerToken] {
            assert_eq!(key(&small, goal), key(&large, goal));
            assert_eq!(best_of(&[small.clone(), large.clone()], goal).unwrap().instance.batch, 8);
            assert_eq!(best_of(&[large.clone(), small.clone()], goal).unwrap().instance.batch, 8);
        }
        // a better key wins at any batch
        let cheaper = point(16, 0.25, 4);
        assert_eq!(best_of(&[small.clone(), cheaper], Goal::CostPerToken).unwrap().instance.batch, 16);
    }
}
