//! The brute-force oracle: enumerates every (decode option, prefill option)
//! pair with the fewest prefill replicas that keep up, and keeps the best.
//! Fewer replicas are never worse (cost grows with them, throughput does not,
//! inventory only tightens), so this covers the whole space.

use super::space::{Choice, Instance};
use super::Goal;

/// The best choice and its objective value, or `None` if nothing is feasible.
pub fn best(inst: &Instance, goal: Goal) -> Option<(Choice, f64)> {
    let mut best: Option<(Choice, (f64, f64, u64))> = None;
    for (di, d) in inst.decode.iter().enumerate() {
        if !inst.decode_allowed(d) {
            continue;
        }
        for (pi, p) in inst.prefill.iter().enumerate() {
            if !inst.compatible(d, p) {
                continue;
            }
            let c = Choice { decode: di, prefill: pi, replicas: inst.min_replicas(d, p) };
            let Some((usd, tput)) = inst.evaluate(c) else { continue };
            let chips = inst.chips(c);
            let key = match goal {
                Goal::CostPerToken => (usd / tput, d.tpot, chips),
                Goal::Tpot => (d.tpot, usd / tput, chips),
            };
            if best.as_ref().is_none_or(|(_, k)| key < *k) {
                best = Some((c, key));
            }
        }
    }
    best.map(|(c, k)| (c, k.0))
}
