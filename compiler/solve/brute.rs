//! The brute-force oracle: enumerates every (decode option, prefill option) pair with
//! the fewest prefill replicas that keep up, and keeps the best. Fewer replicas are
//! never worse (cost, chips and power grow with them; throughput, TPOT and TTFT do
//! not; inventory and budgets only tighten), so this covers the whole space.

use super::ilp::Exclude;
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

/// The choice [`best_by`] keeps under the key `(goal, tie, then(choice))` over the
/// choices `exclude` leaves in, with its `(goal, tie)` values; `None` if nothing is
/// feasible. Decode options are taken in the order of their floors ([`Goal::floor`]:
/// their own chips, dollars and watts at their tokens/s, plus the least any prefill
/// that can feed them adds), which no pair of theirs is below; once an option's floors
/// are above the best pair's goal and tie-break, so are every later option's, and the
/// enumeration stops. Ties go to the least `(then, decode, prefill)`, so the
/// choice is the full enumeration's (`tests/batches.rs`,
/// `a_batch_solves_to_the_pair_enumerations_choice`). What the batch search solves each
/// batch with and the ILP's column presolve bounds the optimum by.
pub fn best_pruned(
    inst: &Instance,
    (goal, tie): (Goal, Goal),
    exclude: Option<&Exclude>,
    then: &dyn Fn(&Instance, Choice) -> bool,
) -> Option<(Choice, (f64, f64))> {
    let key = |t: &Totals| (goal.value(t), tie.value(t));
    // taken in order until the break below, mostly early: a heap orders only those taken
    // (an option the exclusion leaves out with every prefill option would add no pair)
    let whole = exclude.filter(|e| e.covers_every_prefill(inst.prefill.len()));
    let mut feeds = super::space::Feeds::default();
    let mut order: std::collections::BinaryHeap<LeastFirst<()>> = (0..inst.decode.len())
        .filter(|&d| !whole.is_some_and(|e| e.has_decode(d)))
        .map(|d| {
            let (alone, fed) = (inst.alone(d), inst.fed(d, &mut feeds));
            let floor = |g: Goal| g.floor(&alone, &inst.decode[d], fed.as_ref());
            LeastFirst((floor(goal), floor(tie)), d, ())
        })
        .collect();
    // ((goal, tie), then, decode, prefill) of the best pair found, and its choice
    type Order = ((f64, f64), bool, usize, usize);
    let mut best: Option<(Order, Choice)> = None;
    while let Some(LeastFirst(own, d, ())) = order.pop() {
        if best.as_ref().is_some_and(|((k, ..), _)| own.0 > k.0 || (own.0 == k.0 && own.1 > k.1)) {
            break;
        }
        for (p, po) in inst.prefill.iter().enumerate() {
            let c = Choice { decode: d, prefill: p, replicas: inst.min_replicas(d, po) };
            if exclude.is_some_and(|e| e.covers(c)) {
                continue;
            }
            let Some(t) = inst.totals(c) else { continue };
            let (k, x) = (key(&t), then(inst, c));
            let below = |((b, bx, bd, bp), _): &(Order, Choice)| {
                k.0 < b.0 || (k.0 == b.0 && (k.1 < b.1 || (k.1 == b.1 && (x, d, p) < (*bx, *bd, *bp))))
            };
            if best.as_ref().is_none_or(below) {
                best = Some(((k, x, d, p), c));
            }
        }
    }
    best.map(|((k, ..), c)| (c, k))
}

/// An item of a max-heap that pops the least `(key, index)` first (keys compared with
/// `total_cmp`, component by component): a sort that orders only the items taken, for
/// the enumerations that take options in key order and stop early ([`best_pruned`],
/// `batch::bound`).
pub(crate) struct LeastFirst<T>(pub (f64, f64), pub usize, pub T);

/// `(key, n)` orders: the least key (its components by `total_cmp`), then the least `n`
/// (a decode option's index, or a batch: docs/solver.md).
pub(crate) fn key_order(a: ((f64, f64), u64), b: ((f64, f64), u64)) -> std::cmp::Ordering {
    a.0 .0.total_cmp(&b.0 .0).then(a.0 .1.total_cmp(&b.0 .1)).then(a.1.cmp(&b.1))
}

impl<T> LeastFirst<T> {
    fn order(&self, other: &Self) -> std::cmp::Ordering {
        key_order((self.0, self.1 as u64), (other.0, other.1 as u64))
    }
}

impl<T> PartialEq for LeastFirst<T> {
    fn eq(&self, other: &Self) -> bool {
        self.order(other).is_eq()
    }
}

impl<T> Eq for LeastFirst<T> {}

impl<T> PartialOrd for LeastFirst<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for LeastFirst<T> {
    /// reversed: the heap's greatest is the least `(key, index)`
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.order(self)
    }
}
