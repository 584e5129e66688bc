//! The brute-force oracle: enumerates every (decode option, prefill option) pair with
//! the fewest prefill replicas that keep up, and keeps the best. Fewer replicas are
//! never worse (cost, chips and power grow with them; throughput, TPOT and TTFT do
//! not; inventory and budgets only tighten), so this covers the whole space.

use super::space::{Choice, Instance, Totals};
use super::Goal;

/// The best choice and its goal value, or `None` if nothing is feasible.
pub fn best(inst: &Instance, goal: Goal) -> Option<(Choice, f64)> {
    best_by(inst, |_, t| (goal.value(t), Goal::CostPerToken.value(t), t.chips)).map(|(c, k)| (c, k.0))
}

/// The feasible choice, at its fewest replicas, whose `key` is least (the first among
/// equal keys), and that key.
pub fn best_by<K: PartialOrd>(inst: &Instance, key: impl Fn(Choice, &Totals) -> K) -> Option<(Choice, K)> {
    let mut best: Option<(Choice, K)> = None;
    for c in inst.min_replica_choices() {
        let Some(t) = inst.totals(c) else { continue };
        let k = key(c, &t);
        if best.as_ref().is_none_or(|(_, b)| k < *b) {
            best = Some((c, k));
        }
    }
    best
}

/// Every configuration, replicas included (no dominance argument): the naive
/// enumeration the benchmark times the ILP against. Same answer as [`best`].
pub fn exhaustive(inst: &Instance, goal: Goal) -> Option<(Choice, f64)> {
    let mut best: Option<(Choice, (f64, f64, u64))> = None;
    for decode in 0..inst.decode.len() {
        for (prefill, p) in inst.prefill.iter().enumerate() {
            for replicas in 1..=p.max_replicas {
                let c = Choice { decode, prefill, replicas };
                let Some(t) = inst.totals(c) else { continue };
                let key = (goal.value(&t), Goal::CostPerToken.value(&t), t.chips);
                if best.as_ref().is_none_or(|(_, k)| key < *k) {
                    best = Some((c, key));
                }
            }
        }
    }
    best.map(|(c, k)| (c, k.0))
}

/// Configurations [`exhaustive`] visits: decode options × Σ prefill replica counts.
pub fn configurations(inst: &Instance) -> u64 {
    inst.decode.len() as u64 * inst.prefill.iter().map(|p| p.max_replicas).sum::<u64>()
}
