//! A reference evaluator of placements, written from docs/solver.md ("Configuration
//! space", "The ILP", "Objectives", "Explaining infeasibility") and sharing no function
//! with `hplanc::solve` or `hplanc::cost`: it reads an instance's fields and calls
//! nothing of the solver (`oracle::the_reference_calls_nothing_of_the_solver` checks
//! this file). Slow and plain on purpose: every decode option, prefill option and
//! replica count is tried, and each rule is written out where it is used.

use hplanc::solve::layers::Problem;
use hplanc::solve::space::DecodeOption;
use hplanc::solve::space::Instance;
use hplanc::solve::space::Layout;
use hplanc::solve::Goal;

/// What a choice amounts to (docs/solver.md, the ILP's quantities).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metrics {
    pub usd_per_s: f64,
    /// output tokens per second: the batch over the decode step, `B / τ_d`
    pub tokens_per_s: f64,
    pub chips: u64,
    /// the decode option's chips alone (prefill replicas not counted)
    pub decode_chips: u64,
    pub watts: f64,
    pub tpot: f64,
    pub ttft: f64,
}

/// One configuration: decode option, prefill option, prefill replicas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    pub decode: usize,
    pub prefill: usize,
    pub replicas: u64,
}

/// The pool that runs the first layer's attention, from the option's layout (a
/// speculative option's: its target's).
fn attention_pool(o: &DecodeOption) -> usize {
    match &o.layout {
        Layout::Colocated(c) => c.pool,
        Layout::PingPong(p) => p.attn.0,
        Layout::Pipeline(p) => p.stages[0].pool,
        Layout::Speculative(s) => attention_pool(&s.target),
    }
}

/// The hard rules, which no relaxation lifts: the two options can pair (a KV path to
/// every pool holding the cache, or aggregated serving on the same pool), the replica
/// count is at least one (exactly the pinned one when pinned) and prefill keeps up with
/// decode (`r / s_k ≥ B / (τ_d · O)`, `s_k` the option's interval between prompts; no
/// demand when the decode option prefills its own
/// prompts). The metrics when they hold.
pub fn measure(inst: &Instance, c: Config) -> Option<Metrics> {
    let o = &inst.decode[c.decode];
    let p = &inst.prefill[c.prefill];
    let ttft = match (&o.aggregated, p.aggregated) {
        // aggregated serving: its own TTFT, only with its own pool's aggregated option
        (Some(own), true) => {
            if p.pool != attention_pool(o) {
                return None;
            }
            own.ttft
        }
        // prefill chips of its own: the engine's first-token latency, prefill, then the
        // slowest of the KV transfers
        (None, false) => {
            let mut slowest = 0.0f64;
            for &(pool, share) in o.kv.iter() {
                let (latency, bulk) = p.kv_path[pool]?;
                slowest = slowest.max(latency + share * bulk);
            }
            p.first_token + p.time + slowest
        }
        _ => return None,
    };
    if c.replicas < 1 || p.fixed_replicas.is_some_and(|n| c.replicas != n) {
        return None;
    }
    if o.aggregated.is_none() {
        let requests_per_s = inst.batch as f64 / (o.tpot * inst.output_tokens);
        // a replica starts a prompt every `interval` (its time, or a pipeline's slowest stage)
        let served = c.replicas as f64 / p.interval;
        if served < requests_per_s * (1.0 - 1e-9) {
            return None;
        }
    }
    let r = c.replicas as f64;
    Some(Metrics {
        usd_per_s: o.usd_per_s + r * p.usd_per_s,
        tokens_per_s: inst.batch as f64 / o.tpot,
        chips: o.chips.iter().sum::<u64>() + c.replicas * p.tp * p.pp,
        decode_chips: o.chips.iter().sum::<u64>(),
        watts: o.watts + r * p.watts,
        tpot: o.tpot,
        ttft,
    })
}

/// The soft rules a relaxation may lift, each as (value, limit) when it is set: the TPOT
/// and TTFT limits, every pool's size, the three budgets.
fn soft(inst: &Instance, c: Config, m: &Metrics) -> Vec<(f64, f64)> {
    let (o, p) = (&inst.decode[c.decode], &inst.prefill[c.prefill]);
    let mut out = Vec::new();
    if let Some(l) = inst.tpot_limit {
        out.push((m.tpot, l));
    }
    if let Some(l) = inst.ttft_limit {
        out.push((m.ttft, l));
    }
    for (pool, size) in inst.pool_sizes.iter().enumerate() {
        if let Some(n) = size {
            let prefill = if p.pool == pool { c.replicas * p.tp * p.pp } else { 0 };
            out.push(((o.chips[pool] + prefill) as f64, *n as f64));
        }
    }
    let b = &inst.budget;
    if let Some(x) = b.usd_per_s {
        out.push((m.usd_per_s, x));
    }
    if let Some(x) = b.chips {
        out.push((m.chips as f64, x as f64));
    }
    if let Some(x) = b.watts {
        out.push((m.watts, x));
    }
    out
}

/// A configuration the plan allows: the hard rules, at most `R_k` replicas, and every
/// soft rule within its limit (money and power within 1e-9 relative, as a budget row
/// of the ILP is). The metrics when allowed.
pub fn evaluate(inst: &Instance, c: Config) -> Option<Metrics> {
    let m = measure(inst, c)?;
    if c.replicas > inst.prefill[c.prefill].max_replicas {
        return None;
    }
    let within = soft(inst, c, &m).iter().all(|&(value, limit)| value <= limit * (1.0 + 1e-9));
    within.then_some(m)
}

/// The goal's value (smaller is better), docs/solver.md "Objectives": money, chips or
/// power per output token, or TPOT, TTFT, chips, power.
pub fn value(goal: Goal, m: &Metrics) -> f64 {
    match goal {
        Goal::CostPerToken => m.usd_per_s / m.tokens_per_s,
        Goal::Tpot => m.tpot,
        Goal::Ttft => m.ttft,
        Goal::Chips => m.chips as f64,
        Goal::Power => m.watts,
        Goal::ChipsPerToken => m.chips as f64 / m.tokens_per_s,
        Goal::DecodeChipsPerToken => m.decode_chips as f64 / m.tokens_per_s,
        Goal::PowerPerToken => m.watts / m.tokens_per_s,
    }
}

/// The tie-break on the primary goal: the lower cost per token; when the plan prices
/// no chip (`priced`), chips per token stand in for it.
pub fn tie(inst: &Instance, m: &Metrics) -> f64 {
    if inst.priced {
        m.usd_per_s / m.tokens_per_s
    } else {
        m.chips as f64 / m.tokens_per_s
    }
}

/// Every configuration of the instance, replicas from 1 to `R_k`.
fn every(inst: &Instance) -> impl Iterator<Item = Config> + '_ {
    (0..inst.decode.len()).flat_map(move |decode| {
        inst.prefill
            .iter()
            .enumerate()
            .flat_map(move |(prefill, p)| (1..=p.max_replicas).map(move |replicas| Config { decode, prefill, replicas }))
    })
}

/// The optimum: the least value of the goal over every allowed configuration, and the
/// least tie-break among the configurations within 1e-9 of it (the ILP's tie-break
/// bound). `None` when nothing is allowed.
pub fn optimum(inst: &Instance, goal: Goal) -> Option<(f64, f64)> {
    let allowed: Vec<Metrics> = every(inst).filter_map(|c| evaluate(inst, c)).collect();
    let best = allowed.iter().map(|m| value(goal, m)).fold(f64::INFINITY, f64::min);
    if !best.is_finite() {
        return None;
    }
    let tied = allowed.iter().filter(|m| value(goal, m) <= best * (1.0 + 1e-9) + 1e-15);
    Some((best, tied.map(|m| tie(inst, m)).fold(f64::INFINITY, f64::min)))
}

/// The soonest first token among the optima: the least TTFT over the allowed
/// configurations within 1e-9 of the goal's optimum and of the least tie-break among
/// those (docs/solver.md "Objectives": the order among tied choices). `None` when nothing
/// is allowed.
pub fn soonest(inst: &Instance, goal: Goal) -> Option<f64> {
    let (best, best_tie) = optimum(inst, goal)?;
    every(inst)
        .filter_map(|c| evaluate(inst, c))
        .filter(|m| value(goal, m) <= best * (1.0 + 1e-9) + 1e-15 && tie(inst, m) <= best_tie * (1.0 + 1e-9) + 1e-15)
        .map(|m| m.ttft)
        .reduce(f64::min)
}

/// The cheapest relaxation (docs/solver.md "Explaining infeasibility"): over every
/// configuration meeting the hard rules (replicas past `R_k` too, a pool's size being
/// soft, up to `R_k` plus what keeping up needs plus 4), the least total relative slack
/// `Σ max(0, value − limit) / limit` over the soft rules violated by more than 1e-9
/// (relative), then (slacks within 1e-9 relative being equal) the fewest violated, then
/// the lowest cost per token. `(slack, violated, cost
/// per token)`; `None` when no configuration meets the hard rules.
pub fn cheapest_relaxation(inst: &Instance) -> Option<(f64, usize, f64)> {
    let mut best: Option<(f64, usize, f64)> = None;
    for decode in 0..inst.decode.len() {
        for (prefill, p) in inst.prefill.iter().enumerate() {
            let o = &inst.decode[decode];
            let need = if p.time > 0.0 { (inst.batch as f64 / (o.tpot * inst.output_tokens) * p.time).ceil() as u64 } else { 1 };
            for replicas in 1..=p.max_replicas.max(1) + need + 4 {
                let c = Config { decode, prefill, replicas };
                let Some(m) = measure(inst, c) else { continue };
                let violated: Vec<f64> =
                    soft(inst, c, &m).iter().filter(|(v, l)| *v > l * (1.0 + 1e-9)).map(|(v, l)| (v - l) / l).collect();
                let key = (violated.iter().sum::<f64>(), violated.len(), m.usd_per_s / m.tokens_per_s);
                // total slacks within 1e-9 relative are a tie (rounding does not decide)
                let better = match best {
                    None => true,
                    Some(b) if (key.0 - b.0).abs() <= 1e-9 * key.0.max(b.0).max(1e-12) => (key.1, key.2) < (b.1, b.2),
                    Some(b) => key.0 < b.0,
                };
                if better {
                    best = Some(key);
                }
            }
        }
    }
    best
}

/// The layer pipeline's partition (docs/solver.md "Layer pipelines"): for every set of
/// `s` pools, the smallest bottleneck over every order of those pools and every cut of
/// the layers into `s` non-empty contiguous ranges. A stage on pool `q` running layers
/// `lo..hi` takes the layers' time, the pool's fixed time, the crossing into it from
/// the stage before (pools not linked cannot follow each other), the embedding on the
/// first stage and the LM head on the last; it must hold those layers (and embedding or
/// head) in every memory tier. `(pool set as a bit mask, bottleneck)`, in mask order.
pub fn pipelines(p: &Problem, s: usize) -> Vec<(u32, f64)> {
    let n = p.groups.len();
    let mut best: Vec<Option<f64>> = vec![None; 1 << n];
    let mut order = Vec::new();
    orders(n, s, &mut order, &mut |order: &[usize]| {
        let mut cut = vec![0; s + 1];
        cut[s] = p.layers;
        cuts(p, order, 1, &mut cut, &mut best);
    });
    best.iter().enumerate().filter_map(|(mask, b)| b.map(|v| (mask as u32, v))).collect()
}

/// Every ordered choice of `s` of `n` pools.
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

/// Every cut of the layers for `order`: `cut[i]` is where stage i starts.
fn cuts(p: &Problem, order: &[usize], i: usize, cut: &mut Vec<usize>, best: &mut [Option<f64>]) {
    let s = order.len();
    if i == s {
        let mut bottleneck = 0.0f64;
        for (j, &q) in order.iter().enumerate() {
            let g = &p.groups[q];
            let (lo, hi) = (cut[j], cut[j + 1]);
            let (first, last) = (j == 0, j + 1 == s);
            for (t, cap) in g.capacity.iter().enumerate() {
                let mut used = 0.0;
                for l in lo..hi {
                    used += g.mem[t][l + 1] - g.mem[t][l];
                }
                if first {
                    used += g.mem_first[t];
                }
                if last {
                    used += g.mem_last[t];
                }
                if used > cap * (1.0 + 1e-12) {
                    return;
                }
            }
            let mut time = g.fixed;
            for l in lo..hi {
                time += g.time[l + 1] - g.time[l];
            }
            if first {
                time += g.first;
            } else {
                match p.cross[order[j - 1]][q] {
                    Some(c) => time += c,
                    None => return,
                }
            }
            if last {
                time += g.last;
            }
            bottleneck = bottleneck.max(time);
        }
        let mask: usize = order.iter().map(|q| 1 << q).sum();
        if best[mask].is_none_or(|b| bottleneck < b) {
            best[mask] = Some(bottleneck);
        }
        return;
    }
    // stage i starts after stage i-1's at least one layer, leaving one for each later
    for start in cut[i - 1] + 1..=p.layers - (s - i) {
        cut[i] = start;
        cuts(p, order, i + 1, cut, best);
    }
}
