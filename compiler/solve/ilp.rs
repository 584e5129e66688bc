//! The placement ILP over one [`Instance`], solved with good_lp (microlp by
//! default). Formulation (docs/solver.md):
//!
//! - `x_d ∈ {0,1}` per decode option, `Σ x_d = 1`
//! - `y_k ∈ {0,1}` per prefill option, `Σ y_k = 1`; `r_k ∈ ℤ`, `y_k ≤ r_k ≤ R_k·y_k`
//! - prefill keeps up: `Σ_k r_k / s_k ≥ Σ_d λ_d x_d` (requests/s; `s_k` the option's interval
//!   between prompts: its prefill time, or a pipeline's slowest stage)
//! - inventory per pool: `Σ_d n_d[p] x_d + Σ_{k on p} tp_k r_k ≤ N_p`
//! - TTFT path and limit: `y_k + Σ_{d ∈ g} x_d ≤ 1` for incompatible (k, g), where the
//!   groups g gather the decode options whose KV cache goes to the same place
//! - aggregated serving: `Σ_{d aggregated on p} x_d = y_p` for pool p's aggregated
//!   prefill option (its decode options prefill their own prompts; TTFT is on their x)
//! - TPOT limit: options over it are left out (`x_d` not created)
//! - budgets: `$/s ≤ B`, `chips ≤ B`, `W ≤ B` (linear in x and r)
//! - feasible pairs: `y_k ≤ Σ_{d ∈ F(k)} x_d`, where F pairs the options that meet every
//!   constraint with the fewest replicas (valid because more replicas never help; it
//!   keeps the relaxation tight), left out where k pairs with every decode option
//! - for TTFT objectives: `w_kg ≥ y_k + Σ_{d ∈ g} x_d − 1`, `w_kg ∈ [0, 1]`
//!
//! Every goal is a ratio `num/den` of linear functions (den = 1 or throughput),
//! minimised exactly by Dinkelbach's method: repeatedly minimise `num − λ·den` and set
//! `λ = num/den` until the minimum is zero. Ties go to the lower cost per token.

use super::backend;
use super::space::{Choice, Instance, Totals};
use super::Goal;
use good_lp::{variable, Expression, ProblemVariables, Variable};

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Stats {
    pub variables: usize,
    pub constraints: usize,
    /// ILP solves (Dinkelbach iterations and tie-breaks)
    pub solves: usize,
    /// every solve proved optimal
    pub proven: bool,
    /// the largest relative gap between incumbent and proven bound of a solve the time
    /// limit stopped (0 when every solve was proven; `None` if the solver had no bound)
    pub gap: Option<f64>,
}

pub struct Outcome {
    pub choice: Option<Choice>,
    pub stats: Stats,
    /// when the instance held both ways of serving: the best disaggregated and the best
    /// aggregated choice (each `None` if that way has no feasible choice)
    pub halves: Option<[Option<Choice>; 2]>,
}

/// A linear quantity of a choice.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Q {
    One,
    Usd,
    Chips,
    /// the decode side's chips (prefill chips of their own not counted)
    DecodeChips,
    Watts,
    Tput,
    Tpot,
    Ttft,
}

impl Q {
    pub(crate) fn of(self, t: &Totals) -> f64 {
        match self {
            Q::One => 1.0,
            Q::Usd => t.usd_per_s,
            Q::Chips => t.chips as f64,
            Q::DecodeChips => t.decode_chips as f64,
            Q::Watts => t.watts,
            Q::Tput => t.tokens_per_s,
            Q::Tpot => t.tpot,
            Q::Ttft => t.ttft,
        }
    }
}

/// (numerator, denominator) of a goal: the one definition of what each goal measures.
pub(crate) fn ratio(goal: Goal) -> (Q, Q) {
    match goal {
        Goal::CostPerToken => (Q::Usd, Q::Tput),
        Goal::Tpot => (Q::Tpot, Q::One),
        Goal::Ttft => (Q::Ttft, Q::One),
        Goal::Chips => (Q::Chips, Q::One),
        Goal::Power => (Q::Watts, Q::One),
        Goal::ChipsPerToken => (Q::Chips, Q::Tput),
        Goal::DecodeChipsPerToken => (Q::DecodeChips, Q::Tput),
        Goal::PowerPerToken => (Q::Watts, Q::Tput),
    }
}

/// Solves the instance for `goal`. `Err` only when the solver fails outright.
pub fn solve(inst: &Instance, goal: Goal, time_limit_s: f64) -> Result<Outcome, String> {
    solve_excluding(inst, goal, time_limit_s, None)
}

/// A set of choices to exclude: those taking one of `decode` and one of `prefill`
/// (the row `Σ_{d ∈ decode} x_d + Σ_{k ∈ prefill} y_k ≤ 1`). Both lists are ascending
/// and without repeats ([`Exclude::new`]), so a lookup is a binary search: the pair
/// enumeration asks once per pair, and a runner-up search excludes most of a space.
pub struct Exclude {
    decode: Vec<usize>,
    prefill: Vec<usize>,
}

impl Exclude {
    pub fn new(mut decode: Vec<usize>, mut prefill: Vec<usize>) -> Exclude {
        for v in [&mut decode, &mut prefill] {
            v.sort_unstable();
            v.dedup();
        }
        Exclude { decode, prefill }
    }

    /// Whether choice `c` takes one of `decode` and one of `prefill`.
    pub fn covers(&self, c: Choice) -> bool {
        self.has_decode(c.decode) && self.prefill.binary_search(&c.prefill).is_ok()
    }

    /// Whether decode option `d` is one of `decode`.
    pub fn has_decode(&self, d: usize) -> bool {
        self.decode.binary_search(&d).is_ok()
    }

    /// Whether `prefill` holds every one of `n` prefill options: then every choice of a
    /// decode option in `decode` is left out (as in the runner-up searches of a plan
    /// that prefills on one pool), and searches that take options in order skip it
    /// instead of taking it and finding nothing.
    pub fn covers_every_prefill(&self, n: usize) -> bool {
        self.prefill.len() >= n && self.prefill.iter().take(n).copied().eq(0..n)
    }

    /// The same set over a subset of the options, `decode` and `prefill` (ascending) the
    /// subset's options by their index in the whole: each index becomes its position.
    fn within(&self, decode: &[usize], prefill: &[usize]) -> Exclude {
        let pos = |mine: &[usize], of: &[usize]| mine.iter().filter_map(|i| of.binary_search(i).ok()).collect();
        Exclude { decode: pos(&self.decode, decode), prefill: pos(&self.prefill, prefill) }
    }
}

/// [`solve`] over the choices not in `exclude`.
///
/// An instance with both aggregated and disaggregated options is solved as its two
/// halves (every choice is one or the other, so the better half's optimum is the
/// optimum): each half is the ILP the solver always had, where the whole instance's
/// pairing rows made microlp branch until its time limit (30 s on scenario 11 with
/// `prefill` on either pool, found by the robustness corpus).
pub fn solve_excluding(inst: &Instance, goal: Goal, time_limit_s: f64, exclude: Option<&Exclude>) -> Result<Outcome, String> {
    solve_split(inst, goal, time_limit_s, exclude, true)
}

/// [`solve`] without the solver's aids: no feasibility presolve, no feasible-pair rows
/// and no warm start, so the ILP proves infeasibility and finds the optimum with its
/// own rows alone. What the reference evaluator's property test holds it to (the aids
/// are valid only if the dominance argument behind them is; docs/solver.md).
pub fn solve_unaided(inst: &Instance, goal: Goal, time_limit_s: f64) -> Result<Outcome, String> {
    solve_split(inst, goal, time_limit_s, None, false)
}

fn solve_split(inst: &Instance, goal: Goal, time_limit_s: f64, exclude: Option<&Exclude>, aided: bool) -> Result<Outcome, String> {
    let aggregated = inst.decode.iter().filter(|d| d.aggregated.is_some()).count();
    if aggregated == 0 || aggregated == inst.decode.len() {
        return solve_whole(inst, goal, time_limit_s, exclude, aided);
    }
    let tie_goal = super::tie_goal(inst);
    let mut stats = Stats { proven: true, gap: Some(0.0), ..Stats::default() };
    let mut best: Option<(Choice, (f64, f64), f64)> = None;
    let mut halves = [None, None];
    for half in [false, true] {
        let d_idx: Vec<usize> = (0..inst.decode.len()).filter(|&d| inst.decode[d].aggregated.is_some() == half).collect();
        let k_idx: Vec<usize> = (0..inst.prefill.len()).filter(|&k| inst.prefill[k].aggregated == half).collect();
        if k_idx.is_empty() {
            continue;
        }
        let sub = inst.with_options(
            d_idx.iter().map(|&d| inst.decode[d].clone()).collect(),
            k_idx.iter().map(|&k| inst.prefill[k].clone()).collect(),
        );
        let ex = exclude.map(|e| e.within(&d_idx, &k_idx));
        let out = solve_whole(&sub, goal, time_limit_s, ex.as_ref(), aided)?;
        stats.variables = stats.variables.max(out.stats.variables);
        stats.constraints = stats.constraints.max(out.stats.constraints);
        stats.solves += out.stats.solves;
        stats.proven &= out.stats.proven;
        stats.gap = match (stats.gap, out.stats.gap) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
        let Some(c) = out.choice else { continue };
        let c = Choice { decode: d_idx[c.decode], prefill: k_idx[c.prefill], replicas: c.replicas };
        let Some(t) = inst.totals(c) else { continue };
        halves[usize::from(half)] = Some(c);
        // the goal, then the tie-break `solve_whole` uses within a half, then between
        // choices tied on both (within its tolerance) the sooner first token
        let key = (goal.value(&t), tie_goal.value(&t));
        let tied = |k: (f64, f64)| within(key.0, k.0) && within(k.0, key.0) && within(key.1, k.1) && within(k.1, key.1);
        let replace = match &best {
            None => true,
            Some((_, k, ttft)) if tied(*k) => t.ttft < *ttft,
            Some((_, k, _)) => key < *k,
        };
        if replace {
            best = Some((c, key, t.ttft));
        }
    }
    Ok(Outcome { choice: best.map(|(c, _, _)| c), stats, halves: Some(halves) })
}

/// [`solve_excluding`] as one ILP.
fn solve_whole(inst: &Instance, goal: Goal, time_limit_s: f64, exclude: Option<&Exclude>, aided: bool) -> Result<Outcome, String> {
    let mut stats = Stats { proven: true, gap: Some(0.0), ..Stats::default() };
    let mut allowed: Vec<usize> = (0..inst.decode.len()).filter(|&d| inst.decode_allowed(&inst.decode[d])).collect();
    if allowed.is_empty() || inst.prefill.is_empty() {
        return Ok(Outcome { choice: None, stats, halves: None });
    }
    // the best pair at its fewest replicas by the goal and then the tie-break: what bounds
    // the column presolve, and where each Dinkelbach run starts
    let tie = super::tie_goal(inst);
    let best_pair = if aided { super::brute::best_pruned(inst, (goal, tie), exclude, &|_, _| false) } else { None };
    if let Some((_, (least, _))) = best_pair {
        allowed = within_reach(goal, least, inst, allowed);
    }
    let hint = best_pair.map(|(c, _)| c);
    let m = Model { inst, allowed: &allowed, time_limit_s, exclude, aided };
    let (num, den) = ratio(goal);
    let Some(best) = m.dinkelbach(num, den, None, hint, &mut stats)? else {
        return Ok(Outcome { choice: None, stats, halves: None });
    };
    // Tie-break: the cheapest per token among choices as good on the goal. Without
    // prices, chips per token stand in for cost (also when cost is the goal: every
    // choice then costs nothing).
    let choice = match inst.totals(best) {
        Some(t) if goal != tie => {
            let v = goal.value(&t);
            let (tn, td) = ratio(tie);
            let bound = (num, den, tolerated(v));
            m.dinkelbach(tn, td, Some(bound), hint, &mut stats)?.unwrap_or(best)
        }
        _ => best,
    };
    Ok(Outcome { choice: Some(soonest_of_ties(inst, (goal, tie), &allowed, exclude, choice)), stats, halves: None })
}

/// The most a goal value may be and still tie `v`: the tie-break's tolerance, 1e-9
/// relative (`solve_whole`'s bound, the column presolve's cut, the order among ties).
fn tolerated(v: f64) -> f64 {
    v * (1.0 + 1e-9) + 1e-15
}

/// Whether `x` is no more than `of` beyond the tie-break's tolerance ([`tolerated`]).
fn within(x: f64, of: f64) -> bool {
    x <= tolerated(of)
}

/// Among the choices as good as `c` on the goal and on the tie-break (within the
/// tie-break's tolerance), the one with the least TTFT, then the least decode option,
/// prefill option and replica count. Which of exactly tied choices the ILP returns
/// depends on the path its solves take; this order does not, and at equal cost a user
/// takes the sooner first token. Every such choice is a decode option of `allowed` (the
/// column presolve keeps every option whose alone value is within the optimum) with a
/// prefill option at its fewest replicas (more add chips and cost and change no time),
/// so the scan is over the model's columns and the prefill options.
fn soonest_of_ties(inst: &Instance, (goal, tie): (Goal, Goal), allowed: &[usize], exclude: Option<&Exclude>, c: Choice) -> Choice {
    let Some(t) = inst.totals(c) else { return c };
    let (g, k) = (goal.value(&t), tie.value(&t));
    let order = |ttft: f64, x: Choice| (ttft, x.decode, x.prefill, x.replicas);
    let mut best = (order(t.ttft, c), c);
    for &d in allowed {
        for (j, p) in inst.prefill.iter().enumerate() {
            if !inst.compatible(&inst.decode[d], p) {
                continue;
            }
            let x = Choice { decode: d, prefill: j, replicas: inst.min_replicas(d, p) };
            if exclude.is_some_and(|e| e.covers(x)) {
                continue;
            }
            let Some(u) = inst.totals(x) else { continue };
            let o = order(u.ttft, x);
            if within(goal.value(&u), g) && within(tie.value(&u), k) && o.partial_cmp(&best.0) == Some(std::cmp::Ordering::Less) {
                best = (o, x);
            }
        }
    }
    best.1
}

/// The column presolve: the decode options of `allowed` that can still be optimal. Every
/// choice that takes option `d` has a goal value at least `d`'s floor ([`Goal::floor`]:
/// its value alone plus the least a prefill that can feed it adds), so with `least` the
/// least goal value of the feasible pairs at their fewest replicas (an upper bound on
/// the optimum, [`super::brute::best_pruned`]), an option whose floor is above `least`
/// (beyond the tie-break's tolerance) is in no optimal choice, nor within
/// the tie-break's bound; the model leaves its column out. The ILP then decides among
/// the rest (tens of options where the space holds thousands: ping-pong layouts by
/// attention groups, microbatches and FFN degrees). Unchanged when nothing is feasible
/// (the feasibility presolve answers that).
fn within_reach(goal: Goal, least: f64, inst: &Instance, allowed: Vec<usize>) -> Vec<usize> {
    // the tie-break's tolerance (`solve_whole`), so that nothing within it is left out
    let cut = tolerated(least);
    // a floor that does not compare (NaN) keeps its column
    let mut feeds = super::space::Feeds::default();
    allowed
        .into_iter()
        .filter(|&d| {
            let floor = goal.floor(&inst.alone(d), &inst.decode[d], inst.fed(d, &mut feeds).as_ref());
            floor.partial_cmp(&cut) != Some(std::cmp::Ordering::Greater)
        })
        .collect()
}

/// What a solve must stay within beyond the instance's own constraints: a tie-break's
/// bound `num' ≤ v·den'`, and the (decode, prefill) pairs that are feasible.
#[derive(Clone, Copy)]
struct Within<'a> {
    bound: Option<(Q, Q, f64)>,
    pairs: &'a [Vec<bool>],
}

struct Model<'a> {
    inst: &'a Instance,
    allowed: &'a [usize],
    time_limit_s: f64,
    exclude: Option<&'a Exclude>,
    /// with the feasibility presolve, the feasible-pair rows and a warm start
    aided: bool,
}

impl Model<'_> {
    /// Minimises `num/den`, optionally subject to `num' ≤ bound·den'`, starting from
    /// `hint` where it is a feasible start.
    fn dinkelbach(
        &self,
        num: Q,
        den: Q,
        bound: Option<(Q, Q, f64)>,
        hint: Option<Choice>,
        stats: &mut Stats,
    ) -> Result<Option<Choice>, String> {
        // Every solve starts from a feasible choice, so a solve the time limit stops
        // still returns one: the hint (the best pair at its fewest replicas, most often
        // an optimum, so that one solve proves it), else the first feasible pair, then
        // the previous iteration's.
        let mut start = if self.aided { hint.filter(|&c| self.starts(c, bound)).or_else(|| self.first_feasible(bound)) } else { None };
        // Feasibility presolve: adding replicas beyond the fewest that keep up never helps
        // a constraint (they add chips, cost and power; TTFT and TPOT do not depend on
        // them), so when no fewest-replica pair is feasible nothing is, and the ILP need
        // not prove it: microlp took 28 s to branch its way to that proof on a 9 × 14
        // instance (scenario 11 with `prefill` on either pool, batch 256).
        if start.is_none() && self.aided {
            return Ok(None);
        }
        // The same argument makes the pairs exact: a (decode, prefill) pair is feasible
        // iff it is with the fewest replicas. The rows `y_k ≤ Σ_{d feasible with k} x_d`
        // then tie the choice to feasible pairs, which the pool, budget and replica rows
        // alone leave to branching: microlp hit its 30 s limit on scenario 11 with
        // `prefill` on either pool, batch 256, where one pair of 126 was feasible.
        let pairs = if self.aided { self.feasible_pairs(bound) } else { vec![vec![true; self.inst.prefill.len()]; self.allowed.len()] };
        // Dinkelbach converges from the ratio of any feasible choice (λ only falls), so it
        // starts at the warm start's rather than at 0 (one solve fewer when the start is
        // already optimal).
        let mut incumbent: Option<Choice> = None;
        let mut lambda = 0.0f64;
        if den != Q::One {
            if let Some(t) = start.and_then(|c| self.inst.totals(c)) {
                if den.of(&t) > 0.0 {
                    lambda = num.of(&t) / den.of(&t);
                    incumbent = start;
                }
            }
        }
        for _ in 0..64 {
            let Some(c) = self.solve_linear(num, den, lambda, Within { bound, pairs: &pairs }, start, stats)? else {
                return Ok(incumbent);
            };
            start = Some(c);
            let Some(t) = self.inst.totals(c) else {
                return Err("the ILP's choice violates a constraint when re-evaluated".into());
            };
            let (n, d) = (num.of(&t), den.of(&t));
            if den == Q::One {
                return Ok(Some(c));
            }
            if incumbent.is_some() && n - lambda * d >= -1e-9 * n.abs().max(1e-12) {
                break;
            }
            incumbent = Some(c);
            lambda = n / d;
        }
        Ok(incumbent)
    }

    /// Whether choice `c` may start a solve: its decode option is a column of the model
    /// (one the presolve left out is no start; `allowed` is ascending), and it meets every
    /// constraint (`totals` also rejects decode options over the TPOT limit), the
    /// exclusion and `bound`.
    fn starts(&self, c: Choice, bound: Option<(Q, Q, f64)>) -> bool {
        self.allowed.binary_search(&c.decode).is_ok()
            && !self.exclude.is_some_and(|e| e.covers(c))
            && self.inst.totals(c).is_some_and(|t| bound.is_none_or(|(bn, bd, v)| bn.of(&t) <= v * bd.of(&t)))
    }

    /// A choice meeting every constraint (and the exclusion and `bound`), by scanning
    /// the pairs with the fewest replicas until one fits: the solver's warm start
    /// where the hint is none.
    fn first_feasible(&self, bound: Option<(Q, Q, f64)>) -> Option<Choice> {
        self.inst.min_replica_choices().find(|&c| self.starts(c, bound))
    }

    /// Per allowed decode option (rows) and prefill option (columns): whether the pair
    /// with the fewest replicas meets every constraint, the exclusion and `bound`; pairs
    /// that cannot pair at all (no path for the KV cache, over the TTFT limit) count as
    /// feasible here, since the TTFT-path rows already keep them apart (fewer rows).
    fn feasible_pairs(&self, bound: Option<(Q, Q, f64)>) -> Vec<Vec<bool>> {
        let inst = self.inst;
        self.allowed
            .iter()
            .map(|&d| {
                (0..inst.prefill.len())
                    .map(|k| {
                        let (o, p) = (&inst.decode[d], &inst.prefill[k]);
                        if !inst.compatible(o, p) {
                            return true;
                        }
                        let c = Choice { decode: d, prefill: k, replicas: inst.min_replicas(d, p) };
                        let excluded = self.exclude.is_some_and(|e| e.covers(c));
                        !excluded && inst.totals(c).is_some_and(|t| bound.is_none_or(|(bn, bd, v)| bn.of(&t) <= v * bd.of(&t)))
                    })
                    .collect()
            })
            .collect()
    }

    /// Coefficients of a quantity on x (per allowed option) and r (per prefill option).
    fn coeffs(&self, q: Q) -> (Vec<f64>, Vec<f64>) {
        let inst = self.inst;
        let x = self
            .allowed
            .iter()
            .map(|&d| {
                let o = &inst.decode[d];
                match q {
                    Q::One => 0.0,
                    // $/h and kW keep the coefficients near 1 for the solver
                    Q::Usd => o.usd_per_s * 3600.0,
                    Q::Chips | Q::DecodeChips => o.chips.iter().sum::<u64>() as f64,
                    Q::Watts => o.watts / 1e3,
                    Q::Tput => inst.throughput(d),
                    Q::Tpot => o.tpot * 1e3,
                    // aggregated serving: TTFT is the decode option's own
                    Q::Ttft => o.aggregated.as_ref().map_or(0.0, |a| a.ttft * 1e3),
                }
            })
            .collect();
        let r = inst
            .prefill
            .iter()
            .map(|p| match q {
                Q::Usd => p.usd_per_s * 3600.0,
                Q::Chips => p.chips() as f64,
                Q::Watts => p.watts / 1e3,
                _ => 0.0,
            })
            .collect();
        (x, r)
    }

    /// The scale `coeffs` applies to a quantity.
    fn scale(q: Q) -> f64 {
        match q {
            Q::Usd => 3600.0,
            Q::Watts => 1e-3,
            Q::Tpot | Q::Ttft => 1e3,
            _ => 1.0,
        }
    }

    /// One ILP: minimise `num − λ·den` subject to the constraints (and `bound`).
    fn solve_linear(
        &self,
        num: Q,
        den: Q,
        lambda: f64,
        within: Within<'_>,
        start: Option<Choice>,
        stats: &mut Stats,
    ) -> Result<Option<Choice>, String> {
        let Within { bound, pairs } = within;
        let inst = self.inst;
        let allowed = self.allowed;
        let mut vars = ProblemVariables::new();
        let x: Vec<Variable> = allowed.iter().map(|_| vars.add(variable().binary())).collect();
        let y: Vec<Variable> = inst.prefill.iter().map(|_| vars.add(variable().binary())).collect();
        let r: Vec<Variable> = inst.prefill.iter().map(|p| vars.add(variable().integer().min(0.0).max(p.max_replicas as f64))).collect();
        // Decode options grouped by where their KV cache goes (one pool, or a layer
        // pipeline's pools) and whether they prefill their own prompts: TTFT depends on
        // the prefill option and the group (an aggregated option's TTFT is its own, a
        // coefficient of its x).
        let mut kv_groups: Vec<(&[(usize, f64)], bool)> = Vec::new();
        let group: Vec<usize> = allowed
            .iter()
            .map(|&d| {
                let key = (&inst.decode[d].kv[..], inst.decode[d].aggregated.is_some());
                kv_groups.iter().position(|g| *g == key).unwrap_or_else(|| {
                    kv_groups.push(key);
                    kv_groups.len() - 1
                })
            })
            .collect();
        // The TTFT of prefill option k feeding group a (0 for aggregated serving, whose
        // TTFT is on x), `None` when they cannot pair or break the TTFT limit.
        let pair = |k: usize, a: usize| -> Option<f64> {
            let (kv, aggregated) = kv_groups[a];
            // an aggregated option over the TTFT limit is not in `allowed`
            Instance::prefill_ttft(&inst.prefill[k], kv, aggregated).filter(|t| aggregated || inst.ttft_limit.is_none_or(|l| *t <= l))
        };
        // TTFT pair variables, only when TTFT is in the objective or the bound.
        let uses_ttft = num == Q::Ttft || bound.is_some_and(|b| b.0 == Q::Ttft);
        let mut w: Vec<(usize, usize, Variable, f64)> = Vec::new();
        if uses_ttft {
            for k in 0..inst.prefill.len() {
                for a in 0..kv_groups.len() {
                    if let Some(t) = pair(k, a).filter(|t| *t > 0.0) {
                        w.push((k, a, vars.add(variable().min(0.0).max(1.0)), t * 1e3));
                    }
                }
            }
        }
        let lin = |q: Q| -> Expression {
            let (cx, cr) = self.coeffs(q);
            let mut e = Expression::from(0.0);
            for (i, c) in cx.iter().enumerate() {
                if *c != 0.0 {
                    e += *c * x[i];
                }
            }
            for (k, c) in cr.iter().enumerate() {
                if *c != 0.0 {
                    e += *c * r[k];
                }
            }
            if q == Q::Ttft {
                for (_, _, v, t) in &w {
                    e += *t * *v;
                }
            }
            if q == Q::One {
                e += 1.0;
            }
            e
        };
        let objective = lin(num) - lambda * Self::scale(num) / Self::scale(den) * lin(den);
        let mut constraints: Vec<good_lp::Constraint> = Vec::new();
        constraints.push(x.iter().fold(Expression::from(0.0), |e, v| e + *v).eq(1.0));
        constraints.push(y.iter().fold(Expression::from(0.0), |e, v| e + *v).eq(1.0));
        // One row per prefill option (a row whose option pairs with every decode option
        // says nothing beyond Σx = 1, and is left out). The mirror rows per decode option
        // are as valid but cost scenario 13 a third more time and were not needed.
        for k in (0..inst.prefill.len()).filter(|&k| !pairs.iter().all(|row| row[k])) {
            let partners = pairs.iter().enumerate().filter(|(_, row)| row[k]).fold(Expression::from(0.0), |e, (i, _)| e + x[i]);
            constraints.push((y[k] - partners).leq(0.0));
        }
        for (k, p) in inst.prefill.iter().enumerate() {
            constraints.push((r[k] - p.max_replicas as f64 * y[k]).leq(0.0));
            // at least one replica, or exactly the pinned number
            constraints.push((p.fixed_replicas.unwrap_or(1) as f64 * y[k] - r[k]).leq(0.0));
        }
        let mut cap = Expression::from(0.0);
        for (k, p) in inst.prefill.iter().enumerate() {
            if p.rate() > 0.0 {
                cap += p.rate() * r[k];
            }
        }
        for (i, &d) in allowed.iter().enumerate() {
            let demand = inst.prefill_demand(d);
            if demand > 0.0 {
                cap -= demand * x[i];
            }
        }
        constraints.push(cap.geq(0.0));
        for (pool, size) in inst.pool_sizes.iter().enumerate().filter_map(|(p, n)| n.map(|n| (p, n))) {
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
                used += p.chips() as f64 * r[k];
                any = true;
            }
            if any {
                constraints.push(used.leq(size as f64));
            }
        }
        let on_pool = |a: usize| -> Expression {
            let mut e = Expression::from(0.0);
            for (i, g) in group.iter().enumerate() {
                if *g == a {
                    e += x[i];
                }
            }
            e
        };
        // Aggregated serving: its prefill option on pool p is chosen exactly when one of
        // the aggregated decode options there is (one row per pool; with Σx = Σy = 1 it
        // also keeps every other prefill option from an aggregated decode option).
        for (k, p) in inst.prefill.iter().enumerate().filter(|(_, p)| p.aggregated) {
            let mut e = Expression::from(0.0) - y[k];
            for (a, (kv, aggregated)) in kv_groups.iter().enumerate() {
                if *aggregated && kv.first().map(|x| x.0) == Some(p.pool) {
                    e += on_pool(a);
                }
            }
            constraints.push(e.eq(0.0));
        }
        // Aggregated decode options on a pool with no aggregated prefill option pair with
        // nothing.
        let mut orphans = Expression::from(0.0);
        let mut any_orphan = false;
        for (a, (kv, aggregated)) in kv_groups.iter().enumerate() {
            let pool = kv.first().map(|x| x.0);
            if *aggregated && !inst.prefill.iter().any(|p| p.aggregated && Some(p.pool) == pool) {
                orphans += on_pool(a);
                any_orphan = true;
            }
        }
        if any_orphan {
            constraints.push(orphans.eq(0.0));
        }
        // The other pairs: a prefill option without a path for a group's KV cache, or
        // over the TTFT limit, excludes the group.
        for k in (0..inst.prefill.len()).filter(|&k| !inst.prefill[k].aggregated) {
            for (a, (_, aggregated)) in kv_groups.iter().enumerate() {
                if !aggregated && pair(k, a).is_none() {
                    constraints.push((on_pool(a) + y[k]).leq(1.0));
                }
            }
        }
        for (k, a, v, _) in &w {
            constraints.push((on_pool(*a) + y[*k] - *v).leq(1.0));
        }
        let b = &inst.budget;
        if let Some(usd) = b.usd_per_s {
            constraints.push(lin(Q::Usd).leq(usd * 3600.0 * (1.0 + 1e-9)));
        }
        if let Some(chips) = b.chips {
            constraints.push(lin(Q::Chips).leq(chips as f64));
        }
        if let Some(watts) = b.watts {
            constraints.push(lin(Q::Watts).leq(watts / 1e3 * (1.0 + 1e-9)));
        }
        if let Some(ex) = self.exclude {
            let mut e = Expression::from(0.0);
            for (i, d) in allowed.iter().enumerate() {
                if ex.has_decode(*d) {
                    e += x[i];
                }
            }
            for &k in &ex.prefill {
                e += y[k];
            }
            constraints.push(e.leq(1.0));
        }
        if let Some((bn, bd, v)) = bound {
            // bn ≤ v·bd, in the coefficients' scales
            constraints.push((lin(bn) - v * Self::scale(bn) / Self::scale(bd) * lin(bd)).leq(0.0));
        }
        stats.variables = stats.variables.max(x.len() + y.len() + r.len() + w.len());
        stats.constraints = stats.constraints.max(constraints.len());
        stats.solves += 1;
        let start_values = start.map(|c| {
            let mut values: Vec<(Variable, f64)> = Vec::new();
            for (i, &d) in allowed.iter().enumerate() {
                values.push((x[i], f64::from(u8::from(d == c.decode))));
            }
            for k in 0..inst.prefill.len() {
                let on = k == c.prefill;
                values.push((y[k], f64::from(u8::from(on))));
                values.push((r[k], if on { c.replicas as f64 } else { 0.0 }));
            }
            let g = allowed.iter().position(|&d| d == c.decode).map(|i| group[i]);
            for (k, a, v, _) in &w {
                values.push((*v, f64::from(u8::from(*k == c.prefill && Some(*a) == g))));
            }
            values
        });
        let read: Vec<Variable> = x.iter().chain(&y).chain(&r).copied().collect();
        let answer = match backend::minimise(vars, objective, constraints, self.time_limit_s, start_values, &read)? {
            backend::Outcome::Solved(a) => a,
            backend::Outcome::Infeasible => return Ok(None),
            // Stopped before even the root relaxation was solved: the warm start is the
            // best known, with no bound (and with none, nothing is known).
            backend::Outcome::Stopped => {
                stats.proven = false;
                stats.gap = None;
                return Ok(start);
            }
        };
        let (vx, rest) = answer.values.split_at(x.len());
        let (vy, vr) = rest.split_at(y.len());
        let pick = |vs: &[f64]| vs.iter().position(|v| *v > 0.5);
        let (Some(xi), Some(k)) = (pick(vx), pick(vy)) else {
            return Err("the solver returned a solution with no option chosen".into());
        };
        let replicas = vr[k].round().max(0.0) as u64;
        if !answer.proven {
            stats.proven = false;
            stats.gap = match (stats.gap, answer.gap) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
        }
        Ok(Some(Choice { decode: allowed[xi], prefill: k, replicas }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An exclusion covers every prefill option exactly when its prefill list holds them
    /// all; then each of its decode options is left out with every one.
    #[test]
    fn an_exclusion_of_every_prefill_option_leaves_its_decode_options_out_whole() {
        let c = |decode, prefill| Choice { decode, prefill, replicas: 1 };
        let all = Exclude::new(vec![4, 1], vec![2, 0, 1]);
        assert!(all.covers_every_prefill(3) && all.covers_every_prefill(2) && !all.covers_every_prefill(4));
        for d in 0..6 {
            assert_eq!((0..3).all(|k| all.covers(c(d, k))), all.has_decode(d), "{d}");
        }
        let some = Exclude::new(vec![4, 1], vec![2, 0]);
        assert!(!some.covers_every_prefill(3) && !Exclude::new(vec![1], vec![]).covers_every_prefill(1));
        assert!(Exclude::new(vec![1], vec![]).covers_every_prefill(0));
    }

    /// An exclusion given in any order covers exactly the pairs of its two lists, and
    /// over a subset of the options it keeps those in the subset at their positions.
    #[test]
    fn an_exclusion_covers_its_pairs_and_maps_onto_a_subset() {
        let ex = Exclude::new(vec![7, 2, 5, 2], vec![3, 0]);
        let c = |decode, prefill| Choice { decode, prefill, replicas: 1 };
        for d in 0..10 {
            for k in 0..5 {
                assert_eq!(ex.covers(c(d, k)), [2, 5, 7].contains(&d) && [0, 3].contains(&k), "({d}, {k})");
            }
        }
        // the subset holds decode options 1, 2, 5, 8 and prefill options 3, 4
        let sub = ex.within(&[1, 2, 5, 8], &[3, 4]);
        assert_eq!((sub.decode.as_slice(), sub.prefill.as_slice()), (&[1usize, 2][..], &[0usize][..]));
        assert!(sub.covers(c(2, 0)) && !sub.covers(c(3, 0)) && !sub.covers(c(1, 1)));
    }
}
