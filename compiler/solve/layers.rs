//! Layer-wise placement: the decode step's layers cut into contiguous ranges, one
//! range per pool, run as a pipeline across the pools (the Helix kind of placement,
//! Mei et al., arXiv 2406.01566). The pools' order and the cut points are decisions.
//!
//! [`Problem::best_per_set`] solves it exactly with a dynamic program over
//! (pools used, last pool, layers placed), pools that are interchangeable counted
//! rather than named (so sixteen pools of four kinds are `5^4` sets, not `2^16`): the
//! value is the smallest
//! bottleneck (the slowest stage, including the transfer into it) of any ordering and
//! cutting of those pools over those layers. Stage times and memory only grow with a
//! range, so every state is reached from every shorter one and the minimum over
//! predecessors is exact. [`Problem::milp`] is the same problem as a mixed-integer
//! program (slots, pools in slots, layer cuts); tests hold the two equal on random
//! instances, and the benchmark times both.

use good_lp::{variable, Expression, ProblemVariables, Variable};

/// One pool as a pipeline stage: what a range of layers costs on it.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// prefix sums of per-layer time: `time[l]` is the time of layers `0..l` (len L + 1)
    pub time: Vec<f64>,
    /// time every stage pays once per microbatch (step overhead)
    pub fixed: f64,
    /// extra time as the first stage (embedding) and as the last (LM head)
    pub first: f64,
    pub last: f64,
    /// per memory tier, prefix sums of per-layer bytes per chip
    pub mem: Vec<Vec<f64>>,
    /// per tier, bytes per chip as the first stage (embedding) and as the last (LM head)
    pub mem_first: Vec<f64>,
    pub mem_last: Vec<f64>,
    pub capacity: Vec<f64>,
}

impl Group {
    /// Bytes per chip in tier `t` of a stage running layers `lo..hi` (with the embedding
    /// as the first stage, the LM head as the last).
    pub fn used(&self, t: usize, lo: usize, hi: usize, first: bool, last: bool) -> f64 {
        self.mem[t][hi] - self.mem[t][lo] + if first { self.mem_first[t] } else { 0.0 } + if last { self.mem_last[t] } else { 0.0 }
    }
}

/// The partition problem over `layers` layers and one [`Group`] per pool.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub layers: usize,
    pub groups: Vec<Group>,
    /// `cross[p][q]`: passing the activations from a stage on `p` to the next stage on
    /// `q`; `None` when the pools are not linked
    pub cross: Vec<Vec<Option<f64>>>,
    /// per group, an id shared by the groups the caller may exchange for one another
    /// (pools of one [`crate::ir::pool_kinds`] kind); empty: none may be exchanged
    pub kinds: Vec<usize>,
}

/// A pipeline: stages in order, each `(group, first layer, end layer)` (end exclusive).
#[derive(Clone, Debug, PartialEq)]
pub struct Partition {
    pub stages: Vec<(usize, usize, usize)>,
    /// the slowest stage's time
    pub bottleneck: f64,
}

/// Groups the dynamic program handles (it runs once per stage count; its table's size
/// is bounded by [`crate::ir::MAX_PIPELINE_STATES`]).
pub const MAX_GROUPS: usize = crate::ir::MAX_PIPELINE_POOLS;

impl Problem {
    /// Whether layers `lo..hi` fit in group `q`'s memory at that position.
    pub fn fits(&self, q: usize, lo: usize, hi: usize, first: bool, last: bool) -> bool {
        let g = &self.groups[q];
        g.capacity.iter().enumerate().all(|(t, cap)| g.used(t, lo, hi, first, last) <= cap * (1.0 + 1e-12))
    }

    /// Time of the stage running layers `lo..hi` on group `q` after a stage on `prev`
    /// (`None`: the first stage), or `None` if the pools are not linked.
    pub fn stage_time(&self, q: usize, lo: usize, hi: usize, prev: Option<usize>, last: bool) -> Option<f64> {
        let g = &self.groups[q];
        let cross = match prev {
            Some(p) => self.cross[p][q]?,
            None => 0.0,
        };
        Some(g.time[hi] - g.time[lo] + g.fixed + cross + if prev.is_none() { g.first } else { 0.0 } + if last { g.last } else { 0.0 })
    }

    /// The groups in classes of interchangeable ones, each in group order, the classes in
    /// the order of their first group: groups of one class have the same `kinds` id (what
    /// the caller knows the rest of its problem treats alike), the same costs, and the same
    /// crossings to and from every other group and between each other. Swapping two of a
    /// class changes no pipeline's bottleneck.
    pub fn classes(&self) -> Vec<Vec<usize>> {
        let n = self.groups.len();
        let kind = |g: usize| if self.kinds.len() == n { Some(self.kinds[g]) } else { None };
        let alike = |a: usize, b: usize| {
            kind(a).is_some()
                && kind(a) == kind(b)
                && self.groups[a] == self.groups[b]
                && self.cross[a][b] == self.cross[b][a]
                && (0..n)
                    .filter(|&x| x != a && x != b)
                    .all(|x| self.cross[a][x] == self.cross[b][x] && self.cross[x][a] == self.cross[x][b])
        };
        let mut classes: Vec<Vec<usize>> = Vec::new();
        for g in 0..n {
            match classes.iter_mut().find(|c| alike(c[0], g)) {
                Some(c) => c.push(g),
                None => classes.push(vec![g]),
            }
        }
        classes
    }

    /// The best partition over exactly each set of `s` groups (bit set → partition),
    /// for `2 ≤ s ≤ min(groups, layers)`. Sets with no feasible partition are absent.
    ///
    /// Of interchangeable groups ([`Problem::classes`]) only the first ones of each class
    /// are used: a set that takes `k` of a class takes its first `k` (any other set of
    /// the same counts has the same best bottleneck, by a swap). So the state is a count
    /// per class, and the table holds `Π(n_c + 1)·classes` states per layer
    /// (`2^n·n` when no two groups are alike); a problem over more than
    /// [`crate::ir::MAX_PIPELINE_STATES`] has no answer here (resolve rejects the plans
    /// that would make one).
    pub fn best_per_set(&self, s: usize) -> Vec<(u32, Partition)> {
        let n = self.groups.len();
        let l = self.layers;
        if s < 2 || s > n || s > l || n > MAX_GROUPS {
            return Vec::new();
        }
        let classes = self.classes();
        if crate::ir::pipeline_states(&classes) > crate::ir::MAX_PIPELINE_STATES {
            return Vec::new();
        }
        let k = classes.len();
        // a state numbers the counts per class in mixed radix: class c's count is
        // `state / stride[c] % (size[c] + 1)`; taking one more of c adds `stride[c]`, so
        // every state comes after those it is reached from
        let size: Vec<usize> = classes.iter().map(Vec::len).collect();
        let mut stride = vec![1usize; k];
        for c in 1..k {
            stride[c] = stride[c - 1] * (size[c - 1] + 1);
        }
        let states = stride[k - 1] * (size[k - 1] + 1);
        let count = |state: usize, c: usize| state / stride[c] % (size[c] + 1);
        let used: Vec<usize> = (0..states).map(|st| (0..k).map(|c| count(st, c)).sum()).collect();
        let idx = |state: usize, last: usize, e: usize| (state * k + last) * (l + 1) + e;
        // best bottleneck of each state: the counts of fewer than `s` groups, ending with
        // a group of class `last`, covering layers 0..e (the stage before is found again
        // when a pipeline is read back, which keeps the inner loop free of branches)
        let mut best = vec![f64::INFINITY; states * k * (l + 1)];
        let mut finals: Vec<(f64, usize, usize, usize)> = vec![(f64::INFINITY, 0, 0, 0); states];
        // reach[c][e]: the last end e2 a middle stage on class c starting at layer e fits
        // (memory only grows with a range, so every end up to it fits)
        let reach: Vec<Vec<usize>> = classes
            .iter()
            .map(|class| {
                let q = class[0];
                let mut r = vec![0; l + 1];
                let mut hi = 0;
                for (e, slot) in r.iter_mut().enumerate() {
                    hi = hi.max(e);
                    while hi < l && self.fits(q, e, hi + 1, false, false) {
                        hi += 1;
                    }
                    *slot = hi;
                }
                r
            })
            .collect();
        for (c, class) in classes.iter().enumerate() {
            let q = class[0];
            // leave at least one layer for each later stage
            for e in 1..=l - (s - 1) {
                if !self.fits(q, 0, e, true, false) {
                    break;
                }
                if let Some(t) = self.stage_time(q, 0, e, None, false) {
                    best[idx(stride[c], c, e)] = t;
                }
            }
        }
        // the counts of the state at hand, per class
        let mut counts = vec![0usize; k];
        for state in 1..states {
            let used = used[state];
            if used >= s {
                continue;
            }
            for (c, n) in counts.iter_mut().enumerate() {
                *n = count(state, c);
            }
            for last in (0..k).filter(|&c| counts[c] > 0) {
                // the group of the last stage: its class's latest
                let from = classes[last][counts[last] - 1];
                // one more stage on class c, from every end e the state reaches (each c
                // writes a state of its own, so their order is free; within one, e rises)
                for c in 0..k {
                    let taken = counts[c];
                    if taken == size[c] {
                        continue;
                    }
                    let q = classes[c][taken];
                    let Some(cross) = self.cross[from][q] else { continue };
                    let next = state + stride[c];
                    let g = &self.groups[q];
                    if used + 1 == s {
                        // q is the last stage: layers e..l
                        for e in used..=l - (s - used) {
                            let v = best[idx(state, last, e)];
                            if !v.is_finite() || !self.fits(q, e, l, false, true) {
                                continue;
                            }
                            let t = g.time[l] - g.time[e] + g.fixed + cross + g.last;
                            let b = v.max(t);
                            if b < finals[next].0 {
                                finals[next] = (b, c, last, e);
                            }
                        }
                        continue;
                    }
                    for e in used..=l - (s - used) {
                        let v = best[idx(state, last, e)];
                        if !v.is_finite() {
                            continue;
                        }
                        let hi = (l - (s - used - 1)).min(reach[c][e]);
                        if hi <= e {
                            continue;
                        }
                        let (te, fixed) = (g.time[e], g.fixed);
                        let at = idx(next, c, e + 1);
                        for (slot, &tt) in best[at..at + hi - e].iter_mut().zip(&g.time[e + 1..=hi]) {
                            // `v.max(t)` for a finite `v` (a select, which vectorises to
                            // one instruction where `max`'s NaN rule takes four)
                            let t = tt - te + fixed + cross;
                            let b = if t > v { t } else { v };
                            *slot = if b < *slot { b } else { *slot };
                        }
                    }
                }
            }
        }
        let mut out = Vec::new();
        for (state, &(bottleneck, c, last, e)) in finals.iter().enumerate() {
            if !bottleneck.is_finite() {
                continue;
            }
            let member = |st: usize, c: usize| classes[c][count(st, c) - 1];
            let mut stages = vec![(member(state, c), e, l)];
            let (mut st, mut c, mut end) = (state - stride[c], last, e);
            while used[st] > 1 {
                // the stage before, as the loop above first found it: of the state
                // without this stage, the first (class, end) in its order whose value
                // and this stage's time give this state's value
                let (prev, q) = (st - stride[c], member(st, c));
                let (val, g) = (best[idx(st, c, end)], &self.groups[q]);
                let from_used = used[prev];
                let found = (0..k).filter(|&lc| count(prev, lc) > 0).find_map(|lc| {
                    let cross = self.cross[member(prev, lc)][q]?;
                    (from_used..end.min(l - (s - from_used) + 1))
                        .find(|&pe| {
                            let v = best[idx(prev, lc, pe)];
                            v.is_finite() && end <= reach[c][pe] && v.max(g.time[end] - g.time[pe] + g.fixed + cross) == val
                        })
                        .map(|pe| (lc, pe))
                });
                let Some((pc, pe)) = found else {
                    debug_assert!(false, "a state's value has a stage before it");
                    break;
                };
                stages.push((q, pe, end));
                st = prev;
                c = pc;
                end = pe;
            }
            stages.push((member(st, c), 0, end));
            stages.reverse();
            let mask = stages.iter().fold(0u32, |m, x| m | 1 << x.0);
            out.push((mask, Partition { stages, bottleneck }));
        }
        out
    }

    /// The bottleneck of a given partition, or `None` if it is infeasible (memory,
    /// links, ranges not covering the layers in order).
    pub fn evaluate(&self, stages: &[(usize, usize, usize)]) -> Option<f64> {
        let mut at = 0;
        let mut worst: f64 = 0.0;
        for (i, &(q, lo, hi)) in stages.iter().enumerate() {
            let (first, last) = (i == 0, i + 1 == stages.len());
            if lo != at || hi <= lo || !self.fits(q, lo, hi, first, last) || stages[..i].iter().any(|s| s.0 == q) {
                return None;
            }
            let prev = if first { None } else { Some(stages[i - 1].0) };
            worst = worst.max(self.stage_time(q, lo, hi, prev, last)?);
            at = hi;
        }
        (at == self.layers).then_some(worst)
    }

    /// The smallest bottleneck over exactly `s` stages as a mixed-integer program
    /// (used to cross-check [`Problem::best_per_set`]):
    ///
    /// - `u[j][p] ∈ {0,1}`: slot `j` runs on group `p`; `Σ_p u[j][p] = 1`, `Σ_j u[j][p] ≤ 1`
    /// - `z[l][j] ∈ {0,1}`: layer `l` is in slot `j` or an earlier one; `z[l][j] ≥ z[l+1][j]`,
    ///   `z[l][j] ≤ z[l][j+1]`, `z[l][s−1] = 1`; layer `l` is in slot `j` when
    ///   `a[l][j] = z[l][j] − z[l][j−1]` is 1, and each slot has a layer: `Σ_l a[l][j] ≥ 1`
    /// - `w[l][j][p] ≥ a[l][j] + u[j][p] − 1` (layer l on group p in slot j),
    ///   `v[j][p][q] ≥ u[j−1][p] + u[j][q] − 1` (the crossing into slot j), both in `[0,1]`
    /// - per slot: `Σ w·t + Σ u·(fixed + first or last) + Σ v·cross ≤ T`, and memory per
    ///   tier `Σ w·m + Σ u·(m_first or m_last) ≤ cap + M·(1 − u)`
    /// - minimise `T`
    ///
    /// The products only need lower bounds: `w` and `v` appear with non-negative
    /// coefficients on the left of `≤` rows. `Ok(None)`: infeasible; otherwise the
    /// bottleneck and whether the backend proved it optimal within the time limit.
    // The rows index several variable tables by the same (layer, slot, pool) triple.
    #[allow(clippy::needless_range_loop)]
    pub fn milp(&self, s: usize, time_limit_s: f64) -> Result<Option<(f64, bool)>, String> {
        let (n, l) = (self.groups.len(), self.layers);
        if s == 0 || s > n || s > l {
            return Ok(None);
        }
        let mut vars = ProblemVariables::new();
        let t = vars.add(variable().min(0.0));
        let u: Vec<Vec<Variable>> = (0..s).map(|_| (0..n).map(|_| vars.add(variable().binary())).collect()).collect();
        let z: Vec<Vec<Variable>> = (0..l).map(|_| (0..s).map(|_| vars.add(variable().binary())).collect()).collect();
        let w: Vec<Vec<Vec<Variable>>> =
            (0..l).map(|_| (0..s).map(|_| (0..n).map(|_| vars.add(variable().min(0.0).max(1.0))).collect()).collect()).collect();
        let v: Vec<Vec<Vec<Variable>>> =
            (0..s).map(|_| (0..n).map(|_| (0..n).map(|_| vars.add(variable().min(0.0).max(1.0))).collect()).collect()).collect();
        let a = |li: usize, j: usize| -> Expression {
            if j == 0 {
                Expression::from(z[li][0])
            } else {
                z[li][j] - z[li][j - 1]
            }
        };
        let mut rows: Vec<good_lp::Constraint> = Vec::new();
        for uj in &u {
            rows.push(uj.iter().fold(Expression::from(0.0), |e, x| e + *x).eq(1.0));
        }
        for p in 0..n {
            rows.push(u.iter().fold(Expression::from(0.0), |e, uj| e + uj[p]).leq(1.0));
        }
        for li in 0..l {
            rows.push(Expression::from(z[li][s - 1]).eq(1.0));
            for j in 0..s {
                if li + 1 < l {
                    rows.push((z[li + 1][j] - z[li][j]).leq(0.0));
                }
                if j + 1 < s {
                    rows.push((z[li][j] - z[li][j + 1]).leq(0.0));
                }
            }
        }
        for j in 0..s {
            rows.push((0..l).fold(Expression::from(0.0), |e, li| e + a(li, j)).geq(1.0));
            for li in 0..l {
                for p in 0..n {
                    rows.push((a(li, j) + u[j][p] - w[li][j][p]).leq(1.0));
                }
            }
            if j > 0 {
                for p in 0..n {
                    for q in 0..n {
                        match self.cross[p][q] {
                            Some(_) => rows.push((u[j - 1][p] + u[j][q] - v[j][p][q]).leq(1.0)),
                            // not linked: never consecutive
                            None => rows.push((u[j - 1][p] + u[j][q]).leq(1.0)),
                        }
                    }
                }
            }
            let (first, last) = (j == 0, j + 1 == s);
            let mut time = Expression::from(0.0);
            for p in 0..n {
                let g = &self.groups[p];
                for li in 0..l {
                    time += (g.time[li + 1] - g.time[li]) * w[li][j][p];
                }
                let fixed = g.fixed + if first { g.first } else { 0.0 } + if last { g.last } else { 0.0 };
                time += fixed * u[j][p];
                if j > 0 {
                    for q in 0..n {
                        if let Some(c) = self.cross[q][p] {
                            time += c * v[j][q][p];
                        }
                    }
                }
                for (tier, cap) in g.capacity.iter().enumerate() {
                    let mut used = Expression::from(0.0);
                    for li in 0..l {
                        let m = g.mem[tier][li + 1] - g.mem[tier][li];
                        if m != 0.0 {
                            used += m * w[li][j][p];
                        }
                    }
                    let extra = if first { g.mem_first[tier] } else { 0.0 } + if last { g.mem_last[tier] } else { 0.0 };
                    // big M: everything the group could hold
                    let big = g.mem[tier][l] + g.mem_first[tier] + g.mem_last[tier];
                    rows.push((used + (extra + big) * u[j][p]).leq(cap * (1.0 + 1e-12) + big));
                }
            }
            rows.push((time - t).leq(0.0));
        }
        match super::backend::minimise(vars, Expression::from(t), rows, time_limit_s, None, &[t])? {
            super::backend::Outcome::Solved(a) => Ok(Some((a.values[0], a.proven))),
            super::backend::Outcome::Infeasible => Ok(None),
            super::backend::Outcome::Stopped => Err(format!("no feasible partition found in {time_limit_s} s")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift), so the instances are the same every run.
    pub(crate) struct Rng(u64);
    impl Rng {
        pub(crate) fn new(seed: u64) -> Rng {
            Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
        }
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        pub(crate) fn unit(&mut self) -> f64 {
            (self.next() >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    fn prefix(v: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0];
        for x in v {
            out.push(out.last().copied().unwrap_or(0.0) + x);
        }
        out
    }

    pub(crate) fn random(rng: &mut Rng, layers: usize, groups: usize) -> Problem {
        let groups: Vec<Group> = (0..groups)
            .map(|_| {
                let speed = 0.5 + rng.unit();
                // layers differ (dense vs MoE, sliding vs global)
                let t: Vec<f64> = (0..layers).map(|_| speed * (1.0 + (rng.next() % 3) as f64 * 0.5)).collect();
                let m: Vec<f64> = (0..layers).map(|_| 1.0 + (rng.next() % 2) as f64).collect();
                Group {
                    time: prefix(&t),
                    fixed: 0.1 * rng.unit(),
                    first: 0.3 * rng.unit(),
                    last: 0.5 * rng.unit(),
                    mem: vec![prefix(&m)],
                    mem_first: vec![1.0],
                    mem_last: vec![1.0 + (rng.next() % 2) as f64],
                    capacity: vec![2.0 + (rng.next() % (2 * layers as u64)) as f64],
                }
            })
            .collect();
        let n = groups.len();
        let cross =
            (0..n).map(|p| (0..n).map(|q| if p != q && rng.next() % 5 != 0 { Some(0.2 * rng.unit()) } else { None }).collect()).collect();
        Problem { layers, groups, cross, kinds: Vec::new() }
    }

    /// Every ordering of every set of `s` groups and every cut, by enumeration.
    fn brute(p: &Problem, s: usize) -> Option<f64> {
        fn cuts(p: &Problem, order: &[usize], at: usize, stages: &mut Vec<(usize, usize, usize)>, best: &mut Option<f64>) {
            let i = stages.len();
            if i == order.len() {
                if let Some(v) = p.evaluate(stages) {
                    if best.is_none_or(|b| v < b) {
                        *best = Some(v);
                    }
                }
                return;
            }
            let hi_max = if i + 1 == order.len() { p.layers } else { p.layers - (order.len() - i - 1) };
            let lo = if i + 1 == order.len() { p.layers } else { at + 1 };
            for hi in lo..=hi_max {
                stages.push((order[i], at, hi));
                cuts(p, order, hi, stages, best);
                stages.pop();
            }
        }
        fn orders(n: usize, s: usize, cur: &mut Vec<usize>, f: &mut dyn FnMut(&[usize])) {
            if cur.len() == s {
                f(cur);
                return;
            }
            for g in 0..n {
                if !cur.contains(&g) {
                    cur.push(g);
                    orders(n, s, cur, f);
                    cur.pop();
                }
            }
        }
        let mut best = None;
        orders(p.groups.len(), s, &mut Vec::new(), &mut |o| cuts(p, o, 0, &mut Vec::new(), &mut best));
        best
    }

    #[test]
    fn dp_equals_enumeration_and_its_partitions_check_out() {
        let mut rng = Rng::new(7);
        let (mut feasible, mut infeasible) = (0, 0);
        for case in 0..300 {
            let layers = 2 + (rng.next() % 7) as usize;
            let groups = 2 + (rng.next() % 3) as usize;
            let p = random(&mut rng, layers, groups);
            for s in 2..=groups.min(layers) {
                let sets = p.best_per_set(s);
                for (mask, part) in &sets {
                    assert_eq!(part.stages.len(), s);
                    assert_eq!(part.stages.iter().map(|x| 1u32 << x.0).sum::<u32>(), *mask);
                    let v = p.evaluate(&part.stages).expect("the DP's partition is feasible");
                    assert!((v - part.bottleneck).abs() < 1e-12, "case {case}: {v} vs {}", part.bottleneck);
                }
                let dp = sets.iter().map(|x| x.1.bottleneck).fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.min(b))));
                let bf = brute(&p, s);
                match (dp, bf) {
                    (Some(a), Some(b)) => {
                        assert!((a - b).abs() < 1e-12, "case {case} s {s}: DP {a} vs enumeration {b}");
                        feasible += 1;
                    }
                    (a, b) => {
                        assert_eq!(a.is_some(), b.is_some(), "case {case} s {s}: DP {a:?} vs enumeration {b:?}");
                        infeasible += 1;
                    }
                }
            }
        }
        // Both kinds of instance occur (memory and links make some infeasible).
        assert!(feasible > 200 && infeasible > 20, "{feasible} feasible, {infeasible} infeasible");
    }

    /// A problem whose groups come in kinds of 1-3 alike groups (the same costs, and
    /// crossings that depend only on the two groups' kinds).
    fn random_twins(rng: &mut Rng, layers: usize) -> Problem {
        let kinds = 1 + (rng.next() % 3) as usize;
        let sizes: Vec<usize> = (0..kinds).map(|_| 1 + (rng.next() % 3) as usize).collect();
        let base = random(rng, layers, kinds);
        let link: Vec<Vec<Option<f64>>> =
            (0..kinds).map(|_| (0..kinds).map(|_| if rng.next() % 5 != 0 { Some(0.2 * rng.unit()) } else { None }).collect()).collect();
        let kind: Vec<usize> = sizes.iter().enumerate().flat_map(|(k, &n)| std::iter::repeat_n(k, n)).collect();
        let n = kind.len();
        // a kind's crossings are symmetric, so swapping two of its groups changes nothing
        let cross = (0..n)
            .map(|a| (0..n).map(|b| if a == b { None } else { link[kind[a].min(kind[b])][kind[a].max(kind[b])] }).collect())
            .collect();
        Problem { layers, groups: kind.iter().map(|&k| base.groups[k].clone()).collect(), cross, kinds: kind }
    }

    /// The best bottleneck of every set of `s` groups, by enumerating orders and cuts.
    fn brute_per_set(p: &Problem, s: usize) -> std::collections::BTreeMap<u32, f64> {
        let mut out = std::collections::BTreeMap::new();
        for mask in 0u32..1 << p.groups.len() {
            if mask.count_ones() as usize != s {
                continue;
            }
            // the groups outside the set hold nothing, so no pipeline uses them
            let mut only = Problem { kinds: Vec::new(), ..p.clone() };
            for (g, group) in only.groups.iter_mut().enumerate() {
                if mask >> g & 1 == 0 {
                    group.capacity = vec![-1.0; group.capacity.len()];
                }
            }
            if let Some(v) = brute(&only, s) {
                out.insert(mask, v);
            }
        }
        out
    }

    #[test]
    fn alike_groups_are_counted_and_every_set_has_its_first_ones_twin() {
        let mut rng = Rng::new(23);
        let (mut sets, mut merged) = (0, 0);
        for case in 0..200 {
            let layers = 2 + (rng.next() % 6) as usize;
            let p = random_twins(&mut rng, layers);
            let classes = p.classes();
            assert_eq!(classes.len(), p.kinds.iter().max().map_or(0, |k| k + 1), "case {case}: the twins form their kinds");
            merged += usize::from(classes.iter().any(|c| c.len() > 1));
            for s in 2..=p.groups.len().min(layers) {
                let dp: std::collections::BTreeMap<u32, f64> = p
                    .best_per_set(s)
                    .into_iter()
                    .map(|(mask, part)| {
                        let v = p.evaluate(&part.stages).expect("the DP's partition is feasible");
                        assert!((v - part.bottleneck).abs() < 1e-12, "case {case}: {v} vs {}", part.bottleneck);
                        (mask, part.bottleneck)
                    })
                    .collect();
                let all = brute_per_set(&p, s);
                // each set's twin: the same count of each class, its first ones
                let twin = |mask: u32| -> u32 {
                    classes
                        .iter()
                        .flat_map(|c| c.iter().take(c.iter().filter(|&&g| mask >> g & 1 == 1).count()))
                        .fold(0, |m, &g| m | 1 << g)
                };
                for (&mask, &v) in &all {
                    let t = twin(mask);
                    let got = dp.get(&t).unwrap_or_else(|| panic!("case {case} s {s}: set {mask:b}'s twin {t:b} is missing"));
                    assert!((got - v).abs() < 1e-12, "case {case} s {s}: set {mask:b} {v} vs its twin {t:b} {got}");
                    sets += 1;
                }
                // and the DP gives no set the enumeration finds infeasible, each a twin
                for mask in dp.keys() {
                    assert!(all.contains_key(mask) && twin(*mask) == *mask, "case {case} s {s}: set {mask:b}");
                }
            }
        }
        assert!(sets > 500 && merged > 100, "{sets} sets, {merged} problems with alike groups");
    }

    #[test]
    fn dp_equals_the_milp() {
        let mut rng = Rng::new(11);
        let mut feasible = 0;
        for case in 0..40 {
            let layers = 2 + (rng.next() % 5) as usize;
            let groups = 2 + (rng.next() % 2) as usize;
            let p = random(&mut rng, layers, groups);
            for s in 2..=groups.min(layers) {
                let dp = p.best_per_set(s).iter().map(|x| x.1.bottleneck).fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.min(b))));
                let milp = p.milp(s, 60.0).expect("the MILP solves");
                match (dp, milp) {
                    (Some(a), Some((b, proven))) => {
                        assert!(proven, "case {case} s {s}: the MILP was not proven optimal");
                        assert!((a - b).abs() < 1e-6 * a.max(1.0), "case {case} s {s}: DP {a} vs MILP {b}");
                        feasible += 1;
                    }
                    (a, b) => assert_eq!(a.is_some(), b.is_some(), "case {case} s {s}: DP {a:?} vs MILP {b:?}"),
                }
            }
        }
        assert!(feasible > 25, "{feasible} feasible");
    }

    #[test]
    fn cuts_follow_speed() {
        // Two linked groups, one twice as fast, 6 equal layers: the fast one takes 4.
        let g = |speed: f64| Group {
            time: prefix(&[speed; 6]),
            fixed: 0.0,
            first: 0.0,
            last: 0.0,
            mem: vec![prefix(&[1.0; 6])],
            mem_first: vec![0.0],
            mem_last: vec![0.0],
            capacity: vec![100.0],
        };
        let p = Problem {
            layers: 6,
            groups: vec![g(1.0), g(2.0)],
            cross: vec![vec![None, Some(0.0)], vec![Some(0.0), None]],
            kinds: Vec::new(),
        };
        let sets = p.best_per_set(2);
        assert_eq!(sets.len(), 1);
        let part = &sets[0].1;
        assert_eq!(part.bottleneck, 4.0);
        let fast = part.stages.iter().find(|s| s.0 == 0).unwrap();
        assert_eq!(fast.2 - fast.1, 4);
    }
}
