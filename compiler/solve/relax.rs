//! The cheapest relaxation of an infeasible plan: every SLO, pool size and budget gets
//! a slack `σ_c = max(0, value_c − limit_c) / limit_c` (relative, so 10% more time and
//! 10% more chips weigh the same), and the relaxation minimises `Σ σ_c` over the whole
//! configuration space. Hard constraints stay hard: a stage's memory and precision, the
//! links the KV cache and crossings need, and prefill keeping up with decode.
//!
//! Exact by enumeration: for every (decode option, prefill option) pair with a KV path,
//! the fewest prefill replicas that keep up give the smallest slack (replicas only add
//! chips, cost and power), so the minimum over pairs is the minimum over the space
//! (the oracle's argument, [`super::brute`]).

use super::space::{Choice, Instance};

/// A constraint that can be relaxed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// the TPOT limit (from `tpot` or `tokens_per_s_per_user`)
    Tpot,
    Ttft,
    /// the size of a pool
    Pool(usize),
    BudgetUsd,
    BudgetChips,
    BudgetWatts,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Relaxed {
    pub bound: Bound,
    pub limit: f64,
    /// what the relaxation's placement needs (> limit)
    pub needed: f64,
}

impl Relaxed {
    /// The slack, relative to the limit.
    pub fn slack(&self) -> f64 {
        (self.needed - self.limit) / self.limit
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Relaxation {
    /// index into the instances
    pub instance: usize,
    pub choice: Choice,
    /// the constraints it relaxes, largest slack first
    pub relaxed: Vec<Relaxed>,
}

impl Relaxation {
    pub fn cost(&self) -> f64 {
        self.relaxed.iter().map(Relaxed::slack).sum()
    }
}

/// The constraints a choice violates, with what it needs. `None` when it has no KV path.
pub fn violations(inst: &Instance, c: Choice) -> Option<Vec<Relaxed>> {
    let d = inst.decode.get(c.decode)?;
    let p = inst.prefill.get(c.prefill)?;
    let ttft = inst.pair_ttft(d, p)?;
    // a pinned replica count that cannot keep up: no SLO, pool or budget gives
    if p.fixed_replicas.is_some() && c.replicas > p.max_replicas {
        return None;
    }
    let mut out = Vec::new();
    let mut check = |bound: Bound, value: f64, limit: Option<f64>| {
        if let Some(l) = limit {
            if value > l * (1.0 + 1e-9) {
                out.push(Relaxed { bound, limit: l, needed: value });
            }
        }
    };
    check(Bound::Tpot, d.tpot, inst.tpot_limit);
    check(Bound::Ttft, ttft, inst.ttft_limit);
    for (pool, size) in inst.pool_sizes.iter().enumerate() {
        let used = d.chips[pool] + if p.pool == pool { c.replicas * p.chips() } else { 0 };
        check(Bound::Pool(pool), used as f64, size.map(|n| n as f64));
    }
    let b = &inst.budget;
    check(Bound::BudgetUsd, d.usd_per_s + c.replicas as f64 * p.usd_per_s, b.usd_per_s);
    check(Bound::BudgetChips, inst.chips(c) as f64, b.chips.map(|x| x as f64));
    check(Bound::BudgetWatts, d.watts + c.replicas as f64 * p.watts, b.watts);
    out.sort_by(|a, b| b.slack().partial_cmp(&a.slack()).unwrap_or(std::cmp::Ordering::Equal));
    Some(out)
}

/// The cheapest relaxation over every batch's space; `None` when no pair has a KV path
/// (nothing but a link can fix that). Ties (total slacks within 1e-9 relative, so that
/// rounding does not decide): fewer relaxed constraints, then the lower cost per token,
/// then the earlier batch.
pub fn cheapest(instances: &[Instance]) -> Option<Relaxation> {
    let better = |a: (f64, usize, f64), b: (f64, usize, f64)| {
        let tied = (a.0 - b.0).abs() <= 1e-9 * a.0.abs().max(b.0.abs()).max(1e-12);
        if tied {
            (a.1, a.2) < (b.1, b.2)
        } else {
            a.0 < b.0
        }
    };
    let mut best: Option<(Relaxation, (f64, usize, f64))> = None;
    for (i, inst) in instances.iter().enumerate() {
        for choice in inst.min_replica_choices() {
            let Some(relaxed) = violations(inst, choice) else { continue };
            let (d, p) = (&inst.decode[choice.decode], &inst.prefill[choice.prefill]);
            let usd = d.usd_per_s + choice.replicas as f64 * p.usd_per_s;
            let r = Relaxation { instance: i, choice, relaxed };
            let key = (r.cost(), r.relaxed.len(), usd / inst.throughput(choice.decode));
            if best.as_ref().is_none_or(|(_, k)| better(key, *k)) {
                best = Some((r, key));
            }
        }
    }
    best.map(|(r, _)| r)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ir::Budget;
    use crate::solve::space::{Colocated, DecodeBreakdown, DecodeOption, Layout, PrefillOption};

    /// A colocated decode option on `chips` chips at `tpot` ($1/h, 700 W a chip).
    pub(crate) fn decode(tpot: f64, chips: u64) -> DecodeOption {
        DecodeOption {
            layout: Layout::Colocated(Colocated {
                pool: 0,
                tp: chips,
                dp: 1,
                cp: 1,
                attn_collective: 0.0,
                ffn_collective: 0.0,
                experts: crate::cost::MoeSplit::Experts,
            }),
            kv: vec![(0, 1.0)].into(),
            tpot,
            chips: vec![chips].into(),
            usd_per_s: chips as f64 / 3600.0,
            watts: 700.0 * chips as f64,
            breakdown: DecodeBreakdown::default(),
            memory: vec![].into(),
            aggregated: None,
            turns: None,
        }
    }

    /// Batch 8, 100 output tokens, one prefill option on a chip of the pool of `pool`.
    pub(crate) fn instance(decode: Vec<DecodeOption>, tpot_limit: f64, pool: u64) -> Instance {
        Instance {
            batch: 8,
            output_tokens: 100.0,
            pool_sizes: vec![Some(pool)],
            decode,
            prefill: vec![PrefillOption {
                pool: 0,
                tp: 1,
                pp: 1,
                cp: 1,
                time: 0.01,
                interval: 0.01,
                stages: Vec::new(),
                allreduce: 0.0,
                usd_per_s: 1.0 / 3600.0,
                watts: 700.0,
                max_replicas: pool,
                kv_path: vec![Some((1e-6, 1e-3))],
                memory: vec![],
                from_tables: 0.0,
                extrapolated: false,
                aggregated: false,
                fixed_replicas: None,
                first_token: 0.0,
            }],
            ttft_limit: None,
            tpot_limit: Some(tpot_limit),
            budget: Budget::default(),
            priced: true,
        }
    }

    #[test]
    fn the_smaller_total_slack_wins() {
        // 10 ms limit on 8 chips. Option A: 12 ms on 4 chips (TPOT +20%). Option B: 9 ms
        // on 8 chips, but prefill then needs a ninth chip (pool +12.5%): B is cheaper.
        let inst = instance(vec![decode(0.012, 4), decode(0.009, 8)], 0.010, 8);
        let r = cheapest(std::slice::from_ref(&inst)).unwrap();
        assert_eq!(r.choice.decode, 1);
        assert_eq!(r.relaxed, vec![Relaxed { bound: Bound::Pool(0), limit: 8.0, needed: 9.0 }]);
        // With a 16-chip pool nothing but TPOT binds, and the 9 ms option is feasible.
        let inst = instance(vec![decode(0.012, 4), decode(0.009, 8)], 0.010, 16);
        assert!(cheapest(std::slice::from_ref(&inst)).unwrap().relaxed.is_empty());
        // Only TPOT can give: the relaxation reaches the fastest option.
        let inst = instance(vec![decode(0.030, 4), decode(0.020, 8)], 0.010, 16);
        let r = cheapest(std::slice::from_ref(&inst)).unwrap();
        assert_eq!(r.relaxed, vec![Relaxed { bound: Bound::Tpot, limit: 0.010, needed: 0.020 }]);
    }

    #[test]
    fn a_tie_across_batches_goes_to_the_earlier_batch() {
        // 9 chips against a pool of 8 in both batches; twice the batch at twice the TPOT
        // gives the same throughput and cost per token: the earlier batch's relaxation
        let early = instance(vec![decode(0.25, 9)], 1.0, 8);
        let mut late = instance(vec![decode(0.5, 9)], 1.0, 8);
        late.batch = 16;
        let r = cheapest(&[early.clone(), late.clone()]).unwrap();
        assert_eq!(r.instance, 0, "{r:?}");
        assert_eq!(r.relaxed, vec![Relaxed { bound: Bound::Pool(0), limit: 8.0, needed: 10.0 }]);
        assert_eq!(cheapest(&[late, early]).unwrap().instance, 0);
    }

    #[test]
    fn fewer_relaxed_constraints_break_a_tie() {
        // 10 ms limit on 10 chips. A: 12.5 ms on 8 chips and one prefill chip, TPOT
        // +25%. B: 10.5 ms (+5%) on 11 chips, so 12 with prefill (pool +20%): also 25% in
        // all (to rounding), and cheaper per token than A at A's price. A relaxes one
        // constraint, B two: A wins.
        let mut a = decode(0.0125, 8);
        a.usd_per_s = 100.0 / 3600.0;
        let inst = instance(vec![a, decode(0.0105, 11)], 0.010, 10);
        let r = cheapest(std::slice::from_ref(&inst)).unwrap();
        assert!((r.cost() - 0.25).abs() < 1e-12, "{r:?}");
        assert_eq!(r.choice.decode, 0, "{r:?}");
        assert_eq!(r.relaxed.len(), 1);
        // one constraint each: the lower cost per token (B, half of A's price) wins
        let mut a = decode(0.0125, 8);
        a.usd_per_s = 100.0 / 3600.0;
        let b = decode(0.0125, 9);
        let inst = instance(vec![a, b], 0.010, 10);
        assert_eq!(cheapest(std::slice::from_ref(&inst)).unwrap().choice.decode, 1);
    }
}
