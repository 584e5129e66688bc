//! Decode options with the FFN on another pool: attention and FFN ping-pong microbatches
//! between the pools, the FFN's layers over one or more groups of chips.

use super::*;

/// The FFN of `plan` on pool `f` in groups of `tf` chips: the fewest groups `g` (at
/// most one per layer, `g·tf` within the pool) whose contiguous, as even as possible
/// layer ranges (`⌈L/g⌉` layers in the first `L mod g`) hold their FFN weights, and the
/// busiest group's memory per chip. Weights alone, so the same at every batch; more
/// groups than hold the weights are not tried (they only shorten the FFN side's share of
/// a step, docs/cost-model.md §4). `None` when no count of groups fits.
pub(super) fn ffn_groups(plan: &Plan, f: usize, tf: u64) -> Option<(u64, Vec<MemUse>)> {
    let m = &plan.model;
    let pool = &plan.cluster.pools[f];
    let l = m.layers;
    // prefix sums of the layers' FFN parameters
    let mut before = Vec::with_capacity(l as usize + 1);
    before.push(0u64);
    for k in 0..l {
        before.push(before[k as usize] + m.ffn_params_of(k));
    }
    let whole = cost::decode_ffn_footprint(m, tf);
    let per_param = if before[l as usize] > 0 { whole.weights / before[l as usize] as f64 } else { 0.0 };
    for g in 1..=l.min(pool.count / tf.max(1)) {
        let busiest = cost::even_ranges(l, g).map(|(lo, hi)| before[hi as usize] - before[lo as usize]).max().unwrap_or(0);
        let (memory, ok) = mem_uses(Stage::DecodeFfn, f, &pool.chip, Footprint { weights: busiest as f64 * per_param, ..whole });
        if ok {
            return Some((g, memory));
        }
    }
    None
}
