//! The step times the simulator runs on, taken from the solve phase's own model (no
//! second cost model): the chosen decode configuration re-priced at other batch sizes
//! and contexts, the chosen prefill configuration at other prompt lengths
//! (docs/simulation.md, "Step times").

use super::{SimError, SimProblem};
use crate::ir::Plan;
use crate::solve::space::{self, DecodeOption, Layout, PrefillOption};
use crate::solve::Point;

/// Step times of one placement, as functions of what the simulation varies.
#[derive(Clone, Debug)]
pub struct StepModel {
    /// batch sizes priced, ascending, and a step's seconds at each at the two contexts
    batches: Vec<u64>,
    at: [Vec<f64>; 2],
    /// the two mean contexts priced (tokens); equal when the workload is one token long
    contexts: [f64; 2],
    /// aggregated serving: seconds a step adds per prompt token it carries
    pub per_prompt_token: f64,
    /// prompt tokens one aggregated step carries at most
    pub chunk_tokens: u64,
    /// speculative decoding: draft tokens a round proposes and the acceptance rate
    pub speculative: Option<(u64, f64)>,
    /// disaggregated serving: prefill times by prompt length and the KV transfer
    pub prefill: Option<PrefillModel>,
    /// most sequences the decode chips run at once
    pub max_batch: u64,
    /// KV-cache tokens the decode chips hold
    pub kv_tokens: u64,
    /// prefix reuse: the shared prefix's tokens (0 without)
    pub prefix_tokens: u64,
    /// the serving engine's first-token latency outside the steps
    /// (`Engine::first_token`): a request reaches the engine this long after it is sent
    pub first_token: f64,
    /// variants of the model served in turn (1: one model): the steps priced are one
    /// variant's, over its own sequences (docs/cost-model.md §15)
    pub variants: u64,
}

/// Prefill on chips of its own: `replicas` servers, a time per prompt length, and the
/// KV cache's move to the decode chips (a queue on the link).
#[derive(Clone, Debug)]
pub struct PrefillModel {
    pub replicas: u64,
    /// a replica is a pipeline of stages: it starts a prompt every `interval` and each
    /// takes `time` (docs/cost-model.md §14); otherwise a replica serves one at a time
    pub pipelined: bool,
    lengths: Vec<u64>,
    times: Vec<f64>,
    /// seconds between the prompts a replica starts, at `lengths` (`times` unless
    /// pipelined)
    intervals: Vec<f64>,
    /// the same for prompts whose shared prefix is cached
    cached_intervals: Vec<f64>,
    /// per path the KV takes: (latency, seconds per prompt token of bulk transfer)
    kv: Vec<(f64, f64)>,
    /// prefix reuse: prefill times of prompts whose prefix is cached, at `lengths`
    /// (a length no longer than the prefix has its whole prompt's time)
    cached_times: Vec<f64>,
    /// KV-cache tokens the prefill replicas' spare memory holds for cached prefixes
    pub cache_tokens: u64,
}

impl PrefillModel {
    /// The longest prompt the prefill chips hold.
    pub fn longest(&self) -> u64 {
        *self.lengths.last().unwrap_or(&0)
    }

    /// Seconds to prefill an `n`-token prompt (log-log interpolation between priced
    /// lengths; `n` at most [`PrefillModel::longest`]).
    pub fn time(&self, n: u64) -> f64 {
        interpolate_log(&self.lengths, &self.times, n)
    }

    /// Seconds to prefill an `n`-token prompt whose shared prefix is cached.
    pub fn time_cached(&self, n: u64) -> f64 {
        interpolate_log(&self.lengths, &self.cached_times, n)
    }

    /// Seconds after starting an `n`-token prompt (`cached`: its prefix cached) before a
    /// replica may start the next: its whole prefill, or a pipeline's slowest stage.
    pub fn interval(&self, n: u64, cached: bool) -> f64 {
        interpolate_log(&self.lengths, if cached { &self.cached_intervals } else { &self.intervals }, n)
    }

    /// The KV transfer of an `n`-token prompt: (the link's latency, seconds the link is
    /// busy with its bytes), the slowest path.
    pub fn transfer(&self, n: u64) -> (f64, f64) {
        self.kv
            .iter()
            .map(|&(lat, per_token)| (lat, per_token * n as f64))
            .fold((0.0, 0.0), |a, b| if b.0 + b.1 > a.0 + a.1 { b } else { a })
    }
}

/// Whether two decode options are the same configuration (at any batch).
fn same_config(a: &DecodeOption, b: &DecodeOption) -> bool {
    a.key() == b.key()
}

/// The plain step of a decode option: for aggregated serving, the step of the decoding
/// sequences alone; for speculative decoding, one round; otherwise the option's TPOT. Of
/// variants served in turn, one variant's step over the larger share.
fn plain_step(d: &DecodeOption) -> f64 {
    if let Some(t) = &d.turns {
        return plain_step(&t.hi);
    }
    match (&d.aggregated, &d.layout) {
        (Some(a), _) => a.decode_step,
        (None, Layout::Speculative(s)) => d.tpot * s.tokens,
        _ => d.tpot,
    }
}

/// The batch sizes priced up to `max`: every one to 16, then about 20% apart, and `max`.
fn batch_grid(max: u64) -> Vec<u64> {
    let mut v: Vec<u64> = (1..=max.min(16)).collect();
    let mut b = 16f64;
    while (b as u64) < max {
        b *= 1.2;
        let n = (b.round() as u64).min(max);
        if v.last() != Some(&n) {
            v.push(n);
        }
    }
    if v.last() != Some(&max) {
        v.push(max);
    }
    v
}

/// Linear interpolation of `ys` over ascending `xs` at `x`, clamped to the ends.
fn interpolate(xs: &[u64], ys: &[f64], x: f64) -> f64 {
    let i = xs.partition_point(|&v| (v as f64) < x);
    if i == 0 {
        return ys[0];
    }
    if i >= xs.len() {
        return ys[ys.len() - 1];
    }
    let (x0, x1) = (xs[i - 1] as f64, xs[i] as f64);
    ys[i - 1] + (ys[i] - ys[i - 1]) * (x - x0) / (x1 - x0)
}

/// Interpolation in log-log space over ascending `xs` (clamped to the ends).
fn interpolate_log(xs: &[u64], ys: &[f64], x: u64) -> f64 {
    let i = xs.partition_point(|&v| v < x);
    if i == 0 {
        return ys[0];
    }
    if i >= xs.len() {
        return ys[ys.len() - 1];
    }
    let (x0, x1, y0, y1) = ((xs[i - 1] as f64).ln(), (xs[i] as f64).ln(), ys[i - 1].max(1e-300).ln(), ys[i].max(1e-300).ln());
    (y0 + (y1 - y0) * ((x as f64).ln() - x0) / (x1 - x0)).exp()
}

/// `plan` with another workload length (the contexts and prompts priced), its prompts
/// all computed whole: without prefix reuse, or (`cached`) with this many tokens of
/// every prompt in the cache.
fn with_lengths(plan: &Plan, input: u64, output: u64, cached: Option<u64>) -> Plan {
    let mut p = plan.clone();
    p.workload.input_tokens = input.max(1);
    p.workload.output_tokens = output.max(1);
    p.workload.prefix = cached.filter(|&c| c < p.workload.input_tokens).map(|tokens| crate::ir::Prefix { tokens, distinct: 1, hit: 1.0 });
    p
}

impl StepModel {
    /// The step model of `point`'s placement of `plan`, running at most `max_batch`
    /// sequences (default: the solved batch) and prefilling prompts of up to
    /// `longest_prompt` tokens.
    /// `prefix`: the tokens of a shared prefix a cache may hold.
    pub fn new(
        plan: &Plan,
        point: &Point,
        max_batch: Option<u64>,
        longest_prompt: u64,
        prefix: Option<u64>,
    ) -> Result<StepModel, SimError> {
        let inst = &point.instance;
        let chosen = point.decode();
        let prefill: &PrefillOption = point.prefill();
        let max_batch = max_batch.unwrap_or(inst.batch).max(1);
        let (w_in, w_out) = (plan.workload.input_tokens, plan.workload.output_tokens);
        // Two contexts, the plan's and half of it: a step's time is linear in the context
        // (the KV cache read), and the shorter context fits wherever the plan's does.
        let variants = [with_lengths(plan, w_in / 2, w_out / 2, None), with_lengths(plan, w_in, w_out, None)];
        let contexts = [space::decode_contexts(&variants[0]).0, space::decode_contexts(&variants[1]).0];
        // The batches where the configuration exists at both contexts (data-parallel
        // attention and microbatches need a few sequences each): fewer sequences than
        // the smallest step the same time as it (they never take longer).
        // variants served in turn: one variant's step over `b` of its own sequences is the
        // larger share's of `k·b` sequences, every variant resident
        let k = plan.model.variants.max(1);
        let per_variant = max_batch.div_ceil(k);
        let mut batches = Vec::new();
        let mut at: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        for b in batch_grid(per_variant) {
            let step = |variant: &Plan| {
                space::decode_options(variant, k * b, &mut Vec::new()).iter().find(|d| same_config(d, chosen)).map(plain_step)
            };
            if let (Some(lo), Some(hi)) = (step(&variants[0]), step(&variants[1])) {
                batches.push(b);
                at[0].push(lo);
                at[1].push(hi);
            }
        }
        if batches.last() != Some(&per_variant) {
            return Err(SimError(SimProblem::DecodeDoesNotFit { batch: max_batch, context: contexts[1] }));
        }
        let per_prompt_token = match &chosen.aggregated {
            Some(a) if a.prompt_tokens > 0.0 => a.extra / a.prompt_tokens,
            _ => 0.0,
        };
        let speculative = plan.speculation.as_ref().map(|s| (s.lookahead, s.acceptance));
        let first_token = chosen.aggregated.as_ref().map_or(prefill.first_token, |a| a.first_token);
        let prefill = if prefill.aggregated {
            None
        } else {
            Some(prefill_model(plan, prefill, chosen, point.choice.replicas, longest_prompt, prefix)?)
        };
        Ok(StepModel {
            batches,
            at,
            contexts,
            per_prompt_token,
            chunk_tokens: plan.chunk_tokens.max(1),
            speculative,
            prefill,
            max_batch,
            kv_tokens: kv_capacity(plan, chosen, inst.batch, max_batch),
            prefix_tokens: prefix.unwrap_or(0),
            first_token,
            variants: k,
        })
    }

    /// Seconds of a step (a round, when speculative) of `b` decoding sequences whose
    /// mean context is `context` tokens (no prompt tokens; `b` = 0 prices as 1); of
    /// variants served in turn, one variant's step over `b` of its sequences.
    pub fn decode(&self, b: u64, context: f64) -> f64 {
        let x = b.max(1) as f64;
        let lo = interpolate(&self.batches, &self.at[0], x);
        let hi = interpolate(&self.batches, &self.at[1], x);
        let (c0, c1) = (self.contexts[0], self.contexts[1]);
        let t = if c1 > c0 { lo + (hi - lo) * (context - c0) / (c1 - c0) } else { hi };
        // a guard: a context far below the half priced would extrapolate a step made
        // almost only of KV reads to nothing
        t.max(0.05 * lo)
    }
}

/// KV-cache tokens the decode chips hold: what the solved batch reserves (that many
/// sequences of the workload's longest context) plus what the memory left over holds,
/// per chip of the attention pool's KV tier, in every data-parallel group. A layer
/// pipeline's cache is split by stage: it holds what the batch reserves.
fn kv_capacity(plan: &Plan, d: &DecodeOption, solved_batch: u64, max_batch: u64) -> u64 {
    let w = &plan.workload;
    let reserved = max_batch * (w.input_tokens + w.output_tokens);
    let (pool, tp, dp) = match &d.target().layout {
        Layout::Colocated(c) => (c.pool, c.tp, c.dp),
        Layout::PingPong(p) => (p.attn.0, p.attn.1, p.dp),
        Layout::Pipeline(_) | Layout::Speculative(_) => return reserved,
    };
    let attn = d.memory.iter().filter(|u| u.pool == pool && u.stage == crate::ir::Stage::DecodeAttn);
    // the ways each chip's share of the cache is cut: by heads, and by context
    let ways = plan.model.kv_split(tp) * d.target().context_split();
    let Some(spare) = spare_kv_tokens(plan, pool, ways, attn) else { return reserved };
    // the memory was checked at the solved batch; a larger limit reserves more of it
    let solved = solved_batch * (w.input_tokens + w.output_tokens);
    (solved + spare * dp.max(1)).max(reserved)
}

/// KV-cache tokens the room left in `pool`'s KV tier holds, per group of chips that
/// split the cache `ways` ways (the tightest chip of `uses`, over the KV bytes per token
/// each chip keeps); `None` when the chip has no KV tier or `uses` none of it.
fn spare_kv_tokens<'a>(plan: &Plan, pool: usize, ways: u64, uses: impl Iterator<Item = &'a space::MemUse>) -> Option<u64> {
    let chip = &plan.cluster.pools[pool].chip;
    let tier = &chip.memory[chip.tier_index(crate::ir::Contents::Kv)?].name;
    let free = uses.filter(|u| *u.tier == **tier).map(|u| (u.capacity - u.used).max(0.0)).reduce(f64::min)?;
    let per_token = plan.model.kv_bytes_per_token() / ways.max(1) as f64;
    (per_token > 0.0).then(|| (free / per_token).floor() as u64)
}

/// The chosen prefill option priced at prompt lengths from 1 token to the longest the
/// simulation draws, by doubling from the plan's own length.
fn prefill_model(
    plan: &Plan,
    chosen: &PrefillOption,
    decode: &DecodeOption,
    replicas: u64,
    longest: u64,
    prefix: Option<u64>,
) -> Result<PrefillModel, SimError> {
    let n0 = plan.workload.input_tokens.max(1);
    let mut lengths = vec![1u64];
    let mut n = n0;
    while n > 1 {
        lengths.push(n);
        n /= 2;
    }
    lengths.sort_unstable();
    lengths.dedup();
    let mut n = n0;
    while n < longest {
        n = (n * 2).min(longest);
        lengths.push(n);
    }
    let (mut times, mut intervals) = (Vec::new(), Vec::new());
    let (mut cached_times, mut cached_intervals) = (Vec::new(), Vec::new());
    let mut priced = Vec::new();
    // the chosen configuration (pool, degree, stages) at another prompt length
    let option = |variant: &Plan| {
        let shape = (chosen.tp, chosen.pp, chosen.cp);
        space::prefill_option(variant, &space::PrefillGraphs::of(variant), chosen.pool, shape, chosen.chunks() > 1).ok()
    };
    for &n in &lengths {
        let found = option(&with_lengths(plan, n, plan.workload.output_tokens, None));
        match found {
            Some(p) => {
                let cached = match prefix.filter(|&c| c < n) {
                    Some(c) => option(&with_lengths(plan, n, plan.workload.output_tokens, Some(c)))
                        .map_or((p.time, p.interval), |h| (h.time, h.interval)),
                    None => (p.time, p.interval),
                };
                times.push(p.time);
                intervals.push(p.interval);
                cached_times.push(cached.0);
                cached_intervals.push(cached.1);
                priced.push(n);
            }
            None if n > n0 => {
                return Err(SimError(SimProblem::PromptDoesNotFit {
                    tokens: n,
                    chips: chosen.chips(),
                    chip: plan.cluster.pools[chosen.pool].chip.name.clone(),
                }))
            }
            None => continue,
        }
    }
    if priced.is_empty() {
        return Err(SimError(SimProblem::NoPromptLength));
    }
    // the KV paths of the plan's own prompt, the bulk scaled per token
    let kv = decode
        .kv
        .iter()
        .filter_map(|&(pool, share)| chosen.kv_path.get(pool).copied().flatten().map(|(lat, bulk)| (lat, share * bulk / n0 as f64)))
        .collect();
    // the replicas' caches act as one of their summed spare memory (a router sends a
    // prompt to a replica that holds its prefix): the KV tier's room left at the plan's
    // own prompt, per replica, in tokens of the KV each chip keeps
    let cache_tokens =
        spare_kv_tokens(plan, chosen.pool, plan.model.kv_split(chosen.tp), chosen.memory.iter()).unwrap_or(0) * replicas.max(1);
    Ok(PrefillModel {
        replicas: replicas.max(1),
        pipelined: chosen.pp > 1,
        lengths: priced,
        times,
        intervals,
        kv,
        cached_times,
        cached_intervals,
        cache_tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batch_grid_covers_every_small_batch_and_ends_at_the_largest() {
        assert_eq!(batch_grid(1), vec![1]);
        assert_eq!(batch_grid(5), vec![1, 2, 3, 4, 5]);
        let g = batch_grid(256);
        assert_eq!(&g[..16], &(1..=16).collect::<Vec<_>>()[..]);
        assert_eq!(*g.last().unwrap(), 256);
        assert!(g.windows(2).all(|w| w[0] < w[1] && w[1] as f64 <= w[0] as f64 * 1.25 + 1.0), "{g:?}");
    }

    #[test]
    fn interpolation_is_exact_at_the_points_and_linear_between() {
        let xs = [1, 4, 8];
        let ys = [1.0, 4.0, 6.0];
        assert_eq!(interpolate(&xs, &ys, 4.0), 4.0);
        assert_eq!(interpolate(&xs, &ys, 6.0), 5.0);
        assert_eq!(interpolate(&xs, &ys, 0.5), 1.0);
        assert_eq!(interpolate(&xs, &ys, 9.0), 6.0);
        // log-log: a power law is reproduced between its points
        let xs = [1, 16, 256];
        let ys = [1.0, 256.0, 65536.0];
        assert!((interpolate_log(&xs, &ys, 4) - 16.0).abs() < 1e-9);
        assert!((interpolate_log(&xs, &ys, 64) - 4096.0).abs() < 1e-6);
    }
}
