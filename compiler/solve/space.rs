//! The configuration space of a plan at one decode batch: every decode
//! option (attention placement, FFN colocated or disaggregated) and every
//! prefill option, each evaluated by the cost model. The ILP and the
//! brute-force oracle both work on this [`Instance`].

use super::layers;
use crate::cost::{self, Footprint};
use crate::ir::graph::{self, Step};
use crate::ir::{Pins, Plan, Stage};
use std::collections::HashMap;

/// Per-chip memory use of one stage on one pool tier.
#[derive(Clone, Debug, PartialEq)]
pub struct MemUse {
    pub stage: Stage,
    pub pool: usize,
    pub tier: String,
    pub used: f64,
    pub capacity: f64,
}

/// Where the decode step's time goes (seconds).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct DecodeBreakdown {
    /// attention layers (projections + attention core)
    pub attn: f64,
    /// FFN layers
    pub ffn: f64,
    /// tensor-parallel all-reduces
    pub allreduce: f64,
    /// attention <-> FFN crossings between pools
    pub crossing: f64,
    /// embedding and LM head
    pub other: f64,
    /// time of the attention side that was memory-bound
    pub attn_memory_bound: f64,
    /// time of the FFN that was memory-bound
    pub ffn_memory_bound: f64,
    /// fixed per-step overhead of the chips taking part
    pub overhead: f64,
    /// time hidden by overlapping microbatches (the parts above sum to tpot + overlap)
    pub overlap: f64,
    /// drafting (speculative decoding), per token
    pub draft: f64,
    /// of the attention, FFN, embedding and LM-head time, what the chips' measured op
    /// tables priced (the rest is roofline)
    pub from_tables: f64,
    /// some op-table lookup left the measured range
    pub extrapolated: bool,
    /// aggregated serving: the prefill chunks of arriving requests that a step carries
    /// on average (`per_step` prompts × what a prompt's chunk steps add)
    pub prefill: f64,
}

/// A decode option whose steps also prefill the arriving prompts, in chunks, on the same
/// chips (aggregated serving, docs/cost-model.md §10). Its `tpot` is the mean step with
/// the chunks; it needs no prefill chips and pairs only with its pool's
/// [`PrefillOption::aggregated`] option.
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregated {
    /// the serving engine's first-token latency, half a running step, then the prompt's
    /// own chunk steps
    pub ttft: f64,
    /// of `ttft`, the serving engine's first-token latency outside the steps
    /// (`Engine::first_token`; 0 unless the plan names a framework that has one)
    pub first_token: f64,
    /// the step without prefill chunks
    pub decode_step: f64,
    /// the steps that carry a prompt's chunks (with prefix reuse, of a prompt whose
    /// prefix is cached when at least half are), and the prompt tokens they carry
    pub steps: cost::aggregated::ChunkSteps,
    pub steps_tokens: u64,
    /// seconds of a prompt's own chunk steps, and what they add over as many plain
    /// decode steps, and prompt tokens computed: means over hits and misses of the
    /// prefix cache (without prefix reuse, `steps`' figures and the whole prompt)
    pub prompt: f64,
    pub extra: f64,
    pub prompt_tokens: f64,
    /// prompt tokens a step may carry
    pub chunk_tokens: u64,
    /// prompts each step starts on average
    pub per_step: f64,
    /// of `prompt`, what the chip's measured op tables priced
    pub from_tables: f64,
    /// some op-table lookup of the chunk steps left the measured range
    pub extrapolated: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DecodeOption {
    pub attn_pool: usize,
    pub attn_tp: u64,
    /// attention data parallelism: `attn_dp` groups of `attn_tp` chips, each serving
    /// `B/attn_dp` sequences, with the colocated FFN split over all `attn_dp·attn_tp`
    /// chips (1: none)
    pub attn_dp: u64,
    /// `None`: the FFN runs on the attention chips
    pub ffn: Option<(usize, u64)>,
    /// with the FFN on another pool, its layers spread over this many groups of `ffn.1`
    /// chips each, every group holding a contiguous range of them (1: every layer on the
    /// same chips; docs/cost-model.md §4)
    pub ffn_groups: u64,
    /// microbatches ping-ponging between attention and FFN pools (1: none)
    pub microbatches: u64,
    /// speculative decoding: the draft model's pool and chips
    pub draft: Option<(usize, u64)>,
    /// a layer pipeline: its stages in order (empty otherwise; then the layers run on
    /// `attn_pool`, and on `ffn` for the FFN if disaggregated)
    pub layers: Vec<LayerStage>,
    /// where the KV cache lives: (pool, share of the KV bytes)
    pub kv: Vec<(usize, f64)>,
    /// seconds per decode step (= TPOT)
    pub tpot: f64,
    /// chips used per pool
    pub chips: Vec<u64>,
    /// $/s of those chips (0 when prices are unknown)
    pub usd_per_s: f64,
    /// W of those chips (0 when powers are unknown)
    pub watts: f64,
    pub breakdown: DecodeBreakdown,
    pub memory: Vec<MemUse>,
    /// how the step is laid out in time (the schedule phase reads it)
    pub shape: StepShape,
    /// aggregated serving: the steps also prefill the arriving prompts
    pub aggregated: Option<Aggregated>,
}

/// The structure of one decode step with the per-operation times the schedule lays
/// out; the breakdown holds the totals. Times are uniform over layers (a layer's time
/// is the stage's total over the layer count).
#[derive(Clone, Debug, PartialEq)]
pub enum StepShape {
    /// attention and FFN on the same chips: per layer, attention, the attention side's
    /// collective, the FFN, the FFN's collective (seconds, per layer)
    Colocated { attn_collective: f64, ffn_collective: f64 },
    /// attention and FFN on two pools with `microbatches` microbatches ping-ponging:
    /// per layer and microbatch, attention `t_a` and FFN `t_e` (each with its
    /// all-reduce) and one crossing `t_c`; `other` is one microbatch's embedding and
    /// LM head (docs/cost-model.md §4)
    PingPong { t_a: f64, t_e: f64, t_c: f64, other: f64 },
    /// a layer pipeline (`layers`): the crossing into each stage (0 for the first;
    /// included in the stage's time) and the sampled ids going back to the first stage
    Pipeline { cross_in: Vec<f64>, back: f64 },
    /// speculative decoding: `lookahead` draft steps of `draft` seconds, token ids out
    /// and verdicts back over a link (`link` each way), the target's verify step
    /// (`target`), yielding `tokens` tokens per round on average
    Speculative { lookahead: u64, draft: f64, link: f64, tokens: f64, target: Box<DecodeOption> },
}

/// One stage of a layer pipeline: layers `first..end` on `tp` chips of `pool`.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerStage {
    pub pool: usize,
    pub tp: u64,
    pub first: u64,
    pub end: u64,
    /// the stage's time per microbatch, including the transfer into it
    pub time: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PrefillOption {
    pub pool: usize,
    pub tp: u64,
    /// seconds to prefill one request
    pub time: f64,
    /// of `time`, the tensor-parallel all-reduces (two per layer)
    pub allreduce: f64,
    /// $/s of one replica (0 when prices are unknown)
    pub usd_per_s: f64,
    /// W of one replica (0 when powers are unknown)
    pub watts: f64,
    pub max_replicas: u64,
    /// per pool: moving the whole KV cache there, `(latency, seconds of bytes)`, or
    /// `None` if no link leads there
    pub kv_path: Vec<Option<(f64, f64)>>,
    pub memory: Vec<MemUse>,
    /// of `time`, what the chip's measured op tables priced
    pub from_tables: f64,
    /// some op-table lookup left the measured range
    pub extrapolated: bool,
    /// aggregated serving on `pool`: prefill runs inside the decode steps of the
    /// aggregated decode options there (no chips, replicas or KV transfer of its own)
    pub aggregated: bool,
    /// `place prefill ... { replicas = n }`: exactly this many replicas (`max_replicas`
    /// is then n too)
    pub fixed_replicas: Option<u64>,
    /// the serving engine's first-token latency outside the steps, part of TTFT but not
    /// of the chips' time (`Engine::first_token`; 0 unless the plan names a framework
    /// that has one)
    pub first_token: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    pub batch: u64,
    pub output_tokens: f64,
    /// chips per pool; `None`: the solver sizes the pool (`inventory = free`)
    pub pool_sizes: Vec<Option<u64>>,
    pub decode: Vec<DecodeOption>,
    pub prefill: Vec<PrefillOption>,
    pub ttft_limit: Option<f64>,
    pub tpot_limit: Option<f64>,
    pub budget: crate::ir::Budget,
    /// the plan prices its chips (a pool's chip has a price above zero): ties on the goal
    /// go to the lower cost per token, else to fewer chips per token ([`super::tie_goal`])
    pub priced: bool,
}

/// What one choice amounts to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Totals {
    pub usd_per_s: f64,
    pub tokens_per_s: f64,
    pub chips: u64,
    /// of `chips`, the decode side's (prefill chips of their own not counted)
    pub decode_chips: u64,
    pub watts: f64,
    pub tpot: f64,
    pub ttft: f64,
}

/// One point of the space: a decode option, a prefill option and its replica count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    pub decode: usize,
    pub prefill: usize,
    pub replicas: u64,
}

impl PrefillOption {
    /// Time to the first token when the KV cache goes to `kv` (pool, share of the
    /// bytes): the engine's first-token latency, prefill, then the slowest of the
    /// transfers, which run side by side.
    pub fn ttft(&self, kv: &[(usize, f64)]) -> Option<f64> {
        let mut slowest: f64 = 0.0;
        for &(pool, share) in kv {
            let (latency, bulk) = self.kv_path.get(pool).copied().flatten()?;
            slowest = slowest.max(latency + share * bulk);
        }
        Some(self.first_token + self.time + slowest)
    }

    /// The aggregated-serving option of pool `pool`: prefill on the decode chips.
    pub fn aggregated_on(pool: usize, pools: usize) -> PrefillOption {
        PrefillOption {
            pool,
            tp: 0,
            time: 0.0,
            allreduce: 0.0,
            usd_per_s: 0.0,
            watts: 0.0,
            max_replicas: 1,
            kv_path: vec![None; pools],
            memory: Vec::new(),
            from_tables: 0.0,
            extrapolated: false,
            aggregated: true,
            fixed_replicas: None,
            first_token: 0.0,
        }
    }

    /// Requests per second one replica prefills (0 for aggregated serving: the decode
    /// option prefills its own).
    pub fn rate(&self) -> f64 {
        if self.aggregated || self.time <= 0.0 {
            0.0
        } else {
            1.0 / self.time
        }
    }
}

impl Instance {
    /// This instance's batch, limits and pool sizes with other options.
    pub fn with_options(&self, decode: Vec<DecodeOption>, prefill: Vec<PrefillOption>) -> Instance {
        Instance {
            batch: self.batch,
            output_tokens: self.output_tokens,
            pool_sizes: self.pool_sizes.clone(),
            decode,
            prefill,
            ttft_limit: self.ttft_limit,
            tpot_limit: self.tpot_limit,
            budget: self.budget.clone(),
            priced: self.priced,
        }
    }

    /// Requests per second decode option `d` completes: B / (τ · output tokens).
    pub fn request_rate(&self, d: usize) -> f64 {
        self.batch as f64 / (self.decode[d].tpot * self.output_tokens)
    }

    /// Requests per second decode option `d` needs from prefill chips: its request rate,
    /// or 0 when it prefills its own (aggregated serving).
    pub fn prefill_demand(&self, d: usize) -> f64 {
        if self.decode[d].aggregated.is_some() {
            0.0
        } else {
            self.request_rate(d)
        }
    }

    /// TTFT of a decode option fed by a prefill option, `None` when they cannot pair: an
    /// aggregated decode option pairs only with its pool's aggregated prefill option,
    /// any other only with a prefill option that has a path for its KV cache.
    pub fn pair_ttft(&self, d: &DecodeOption, p: &PrefillOption) -> Option<f64> {
        let own = d.aggregated.as_ref().map_or(0.0, |a| a.ttft);
        Some(Self::prefill_ttft(p, &d.kv, d.aggregated.is_some())? + own)
    }

    /// Whether pricing the choice's decode step or its prefill (on chips of its own, or
    /// in chunks inside the decode steps) left an op table's measured range.
    pub fn extrapolated(&self, c: Choice) -> bool {
        let (d, p) = (&self.decode[c.decode], &self.prefill[c.prefill]);
        d.breakdown.extrapolated || p.extrapolated || d.aggregated.as_ref().is_some_and(|a| a.extrapolated)
    }

    /// What prefill option `p` adds to the TTFT of the decode options whose KV cache goes
    /// to `kv` and that do (`aggregated`) or do not prefill their own prompts: its
    /// prefill and KV transfer, or 0 for its pool's aggregated options (their TTFT is
    /// their own); `None` when they cannot pair. The ILP pairs options by these groups.
    pub fn prefill_ttft(p: &PrefillOption, kv: &[(usize, f64)], aggregated: bool) -> Option<f64> {
        match (aggregated, p.aggregated) {
            (true, true) => (kv.first().map(|x| x.0) == Some(p.pool)).then_some(0.0),
            (false, false) => p.ttft(kv),
            _ => None,
        }
    }

    /// Every (decode option, prefill option) pair with the fewest prefill replicas that
    /// keep up, in option order: what the oracle, the relaxation and the ILP's warm start
    /// scan (fewer replicas are never worse, [`super::brute`]).
    pub fn min_replica_choices(&self) -> impl Iterator<Item = Choice> + '_ {
        (0..self.decode.len()).flat_map(move |decode| {
            (0..self.prefill.len()).map(move |prefill| Choice {
                decode,
                prefill,
                replicas: self.min_replicas(decode, &self.prefill[prefill]),
            })
        })
    }

    /// Tokens per second of decode option `d`: B / τ.
    pub fn throughput(&self, d: usize) -> f64 {
        self.batch as f64 / self.decode[d].tpot
    }

    /// Fewest prefill replicas that keep up with decode option `d`: ⌈λ·t_prefill⌉.
    pub fn min_replicas(&self, d: usize, p: &PrefillOption) -> u64 {
        if p.aggregated {
            return 1;
        }
        let need = self.prefill_demand(d) * p.time;
        // Guard against 3.0000000001 from rounding.
        let fewest = (need - 1e-9).ceil().max(1.0) as u64;
        // pinned: exactly that many (more than the pin when the pin cannot keep up,
        // which `max_replicas` then rejects)
        p.fixed_replicas.map_or(fewest, |n| n.max(fewest))
    }

    /// Whether the prefill option may feed this decode option (TTFT path and limit).
    pub fn compatible(&self, d: &DecodeOption, p: &PrefillOption) -> bool {
        match self.pair_ttft(d, p) {
            None => false,
            Some(t) => self.ttft_limit.is_none_or(|l| t <= l),
        }
    }

    /// Whether the decode option meets the TPOT limit (and, when it prefills its own
    /// prompts, the TTFT limit).
    pub fn decode_allowed(&self, d: &DecodeOption) -> bool {
        self.tpot_limit.is_none_or(|l| d.tpot <= l) && d.aggregated.as_ref().is_none_or(|a| self.ttft_limit.is_none_or(|l| a.ttft <= l))
    }

    /// Checks every constraint; the choice's totals if feasible.
    pub fn totals(&self, c: Choice) -> Option<Totals> {
        let p = self.prefill.get(c.prefill)?;
        self.decode.get(c.decode)?;
        if c.replicas < self.min_replicas(c.decode, p) || c.replicas > p.max_replicas {
            return None;
        }
        self.totals_at(c, self.throughput(c.decode))
    }

    /// The totals of choice `c` were its decode option to give `tokens_per_s`, checked
    /// against every constraint but the two on its replica count ([`Instance::totals`]
    /// checks those: enough to keep up, at most `max_replicas`).
    pub fn totals_at(&self, c: Choice, tokens_per_s: f64) -> Option<Totals> {
        let d = self.decode.get(c.decode)?;
        let p = self.prefill.get(c.prefill)?;
        let ttft = self.pair_ttft(d, p)?;
        if !self.decode_allowed(d) || self.ttft_limit.is_some_and(|l| ttft > l) {
            return None;
        }
        for (pool, size) in self.pool_sizes.iter().enumerate() {
            let used = d.chips[pool] + if p.pool == pool { c.replicas * p.tp } else { 0 };
            if size.is_some_and(|n| used > n) {
                return None;
            }
        }
        let t = Totals {
            usd_per_s: d.usd_per_s + c.replicas as f64 * p.usd_per_s,
            tokens_per_s,
            chips: self.chips(c),
            decode_chips: d.chips.iter().sum(),
            watts: d.watts + c.replicas as f64 * p.watts,
            tpot: d.tpot,
            ttft,
        };
        let b = &self.budget;
        let within = b.usd_per_s.is_none_or(|x| t.usd_per_s <= x * (1.0 + 1e-9))
            && b.chips.is_none_or(|x| t.chips <= x)
            && b.watts.is_none_or(|x| t.watts <= x * (1.0 + 1e-9));
        within.then_some(t)
    }

    pub fn chips(&self, c: Choice) -> u64 {
        self.decode[c.decode].chips.iter().sum::<u64>() + c.replicas * self.prefill[c.prefill].tp
    }
}

/// Why an option was left out of the space, for infeasibility explanations.
#[derive(Clone, Debug, PartialEq)]
pub enum Excluded {
    /// a stage does not fit: (stage, pool, tp, need per chip, capacity per chip)
    Memory { stage: Stage, pool: usize, tp: u64, need: f64, capacity: f64 },
    /// the chip lacks the precision
    Precision { pool: usize },
    /// FFN on another pool with no link to the attention pool
    NoLink { attn_pool: usize, ffn_pool: usize },
    /// the draft model on a pool with no link to the target's attention pool
    NoDraftLink { attn_pool: usize, draft_pool: usize },
}

/// Tensor-parallel (or expert-parallel) degrees tried on a pool: every divisor of the
/// dimension they split (heads, the FFN's width, the experts) up to the pool size, in
/// ascending order; degrees above 1 need a scale-up link. Found in at most
/// `min(size, sqrt(divides))` steps (a count is at most 10^12, so 10^6): every candidate
/// of a small pool, else the divisor pairs up to the square root.
pub fn tp_degrees(size: u64, divides: u64, has_link: bool) -> Vec<u64> {
    if !has_link || divides == 0 {
        return vec![1];
    }
    if size.saturating_mul(size) <= divides {
        return (1..=size).filter(|t| divides % t == 0).collect();
    }
    let (mut low, mut high) = (Vec::new(), Vec::new());
    let mut t = 1u64;
    while t.saturating_mul(t) <= divides {
        if divides % t == 0 {
            low.push(t);
            if t != divides / t {
                high.push(divides / t);
            }
        }
        t += 1;
    }
    low.into_iter().chain(high.into_iter().rev()).filter(|&t| t <= size).collect()
}

/// The step a decode option prices for `batch` sequences: a plain decode step, or a
/// speculative verify step over `per_seq` tokens per sequence, at the mean context.
fn decode_step(plan: &Plan, batch: u64, per_seq: u64) -> Step {
    let context = decode_contexts(plan).0;
    if per_seq == 1 {
        Step::Decode { batch, context }
    } else {
        Step::Verify { batch, per_seq, context }
    }
}

/// Context lengths used by the decode step: the mean over a request's life for
/// time (input + output/2) and the maximum for memory (input + output).
pub fn decode_contexts(plan: &Plan) -> (f64, u64) {
    let w = &plan.workload;
    (w.input_tokens as f64 + w.output_tokens as f64 / 2.0, w.input_tokens + w.output_tokens)
}

/// The exclusion of a configuration whose footprint `mem` does not fit.
/// A memory exclusion, told by the tier that overflows most (the others may be empty:
/// summing them would hide which tier is short).
fn memory_excluded(stage: Stage, pool: usize, tp: u64, mem: &[MemUse]) -> Excluded {
    let worst = mem.iter().max_by(|a, b| (a.used / a.capacity).partial_cmp(&(b.used / b.capacity)).unwrap_or(std::cmp::Ordering::Equal));
    let (need, capacity) = worst.map(|u| (u.used, u.capacity)).unwrap_or((0.0, 0.0));
    Excluded::Memory { stage, pool, tp, need, capacity }
}

fn mem_uses(stage: Stage, pool: usize, chip: &crate::ir::Chip, f: Footprint) -> (Vec<MemUse>, bool) {
    let (used, ok) = cost::fits(chip, f);
    (used.into_iter().map(|(tier, used, capacity)| MemUse { stage, pool, tier, used, capacity }).collect(), ok)
}

/// The FFN of `plan` on pool `f` in groups of `tf` chips: the fewest groups `g` (at
/// most one per layer, `g·tf` within the pool) whose contiguous, as even as possible
/// layer ranges (`⌈L/g⌉` layers in the first `L mod g`) hold their FFN weights, and the
/// busiest group's memory per chip. Weights alone, so the same at every batch; more
/// groups than hold the weights are not tried (they only shorten the FFN side's share of
/// a step, docs/cost-model.md §4). `None` when no count of groups fits.
fn ffn_groups(plan: &Plan, f: usize, tf: u64) -> Option<(u64, Vec<MemUse>)> {
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

/// Every prefill option of `plan` (they do not depend on the decode batch).
pub fn prefill_options(plan: &Plan, excluded: &mut Vec<Excluded>) -> Vec<PrefillOption> {
    let m = &plan.model;
    let cl = &plan.cluster;
    let input = plan.workload.input_tokens;
    let g = graph::build(m, Step::Prefill { tokens: input, prefix: 0 });
    // a prompt whose shared prefix is cached computes only the rest (docs/cost-model.md
    // §12); the option's time is the mean over hits and misses
    let hit = plan.workload.prefix.filter(|p| p.hit > 0.0).map(|p| {
        let own = input - p.tokens;
        (p.hit, own, graph::build(m, Step::Prefill { tokens: own, prefix: p.tokens }))
    });
    let mut out = Vec::new();
    let own_chips = if plan.serving.allows_disaggregated() { plan.placement(Stage::Prefill).pools.as_slice() } else { &[] };
    for &p in own_chips {
        let pool = &cl.pools[p];
        let pins = &plan.placement(Stage::Prefill).pins;
        for tp in tp_degrees(pool.count, m.heads, pool.link.is_some()).into_iter().filter(|t| Pins::allows(pins.tp, *t)) {
            let kv_split = m.kv_split(tp);
            let (memory, ok) = mem_uses(Stage::Prefill, p, &pool.chip, cost::prefill_footprint(m, tp, input));
            if !ok {
                excluded.push(memory_excluded(Stage::Prefill, p, tp, &memory));
                continue;
            }
            let price = |g: &graph::Graph, tokens: u64| {
                let st = cost::stage_time(g, &[Stage::Prefill], &pool.chip, tp, kv_split)?;
                let allreduce = match &pool.link {
                    Some(l) => 2.0 * m.layers as f64 * cost::allreduce_on(&pool.chip, cost::activation_bytes(m, tokens), tp, l),
                    None => 0.0,
                };
                Some((st.time + allreduce + cost::step_fixed(&pool.chip, 1), allreduce, st.from_tables, st.extrapolated))
            };
            let Some(miss) = price(&g, input) else {
                excluded.push(Excluded::Precision { pool: p });
                break;
            };
            let (time, allreduce, from_tables, extrapolated) = match &hit {
                Some((h, own, gh)) => {
                    let Some(cached) = price(gh, *own) else {
                        excluded.push(Excluded::Precision { pool: p });
                        break;
                    };
                    let mean = |a: f64, b: f64| h * b + (1.0 - h) * a;
                    (mean(miss.0, cached.0), mean(miss.1, cached.1), mean(miss.2, cached.2), miss.3 || cached.3)
                }
                None => miss,
            };
            let kv_bytes = m.kv_bytes(input as f64);
            let kv_path = (0..cl.pools.len())
                .map(|a| {
                    let link = if a == p { pool.link.as_ref() } else { cl.link_between(a, p).map(|l| &l.link) };
                    link.map(|l| (l.latency, cost::transfer_bulk(kv_bytes, l, tp)))
                })
                .collect();
            out.push(PrefillOption {
                pool: p,
                tp,
                time,
                allreduce,
                usd_per_s: pool.chip.price.unwrap_or(0.0) * tp as f64,
                watts: pool.chip.power.unwrap_or(0.0) * tp as f64,
                max_replicas: pins.replicas.map_or(pool.count / tp, |(n, _)| n.min(pool.count / tp)),
                kv_path,
                memory,
                from_tables,
                extrapolated,
                aggregated: false,
                fixed_replicas: pins.replicas.map(|(n, _)| n),
                first_token: cost::admission::Engine::first_token_on(&pool.chip, m),
            });
        }
    }
    // Aggregated serving: prefill inside the decode steps of a pool that may take it.
    for a in aggregated_pools(plan) {
        out.push(PrefillOption::aggregated_on(a, cl.pools.len()));
    }
    out
}

/// The pools where prefill may run inside the decode steps (aggregated serving): those
/// `prefill`, `decode.attn` and `decode.ffn` may all use, unless the plan says
/// `serving = disaggregated` or drafts speculatively.
pub fn aggregated_pools(plan: &Plan) -> Vec<usize> {
    if !plan.serving.allows_aggregated() || plan.speculation.is_some() {
        return Vec::new();
    }
    let on = |s: Stage| plan.placement(s).pools.clone();
    let (attn, ffn) = (on(Stage::DecodeAttn), on(Stage::DecodeFfn));
    on(Stage::Prefill).into_iter().filter(|p| attn.contains(p) && ffn.contains(p)).collect()
}

/// Decode options at batch `batch`.
pub fn decode_options(plan: &Plan, batch: u64, excluded: &mut Vec<Excluded>) -> Vec<DecodeOption> {
    let mut out = match &plan.speculation {
        None => {
            let mut out = target_options(plan, batch, 1, excluded);
            if !plan.serving.allows_disaggregated() {
                out.retain(|d| d.aggregated.is_some());
            }
            out
        }
        Some(s) => {
            let targets = target_options(plan, batch, s.lookahead + 1, excluded);
            speculative_options(plan, batch, s, targets, excluded)
        }
    };
    out.retain(|d| pinned(plan, d));
    out
}

/// Whether a decode option takes every pinned decision of the plan's decode stages
/// (`place decode.attn on gpu { tp = 4 }`). A layer pipeline has no attention or FFN
/// degree of its own: pins on either leave it out.
pub fn pinned(plan: &Plan, d: &DecodeOption) -> bool {
    let attn = &plan.placement(Stage::DecodeAttn).pins;
    let ffn = &plan.placement(Stage::DecodeFfn).pins;
    let draft = &plan.placement(Stage::Draft).pins;
    if !d.layers.is_empty() {
        return attn.is_empty() && ffn.is_empty() && Pins::allows(draft.tp, d.draft.map_or(0, |x| x.1));
    }
    // the FFN's chips: all of the attention's when colocated
    let ffn_chips = d.ffn.map_or(d.attn_tp * d.attn_dp, |(_, t)| t);
    Pins::allows(attn.tp, d.attn_tp)
        && Pins::allows(attn.dp, d.attn_dp)
        && Pins::allows(ffn.tp, ffn_chips)
        && Pins::allows(ffn.ep, ffn_chips)
        && Pins::allows(ffn.microbatches, d.microbatches)
        && d.draft.is_none_or(|(_, t)| Pins::allows(draft.tp, t))
}

/// Decode options of the target model, each step over `per_seq` tokens per sequence
/// (1 normally; `k + 1` for a speculative verify step).
pub fn target_options(plan: &Plan, batch: u64, per_seq: u64, excluded: &mut Vec<Excluded>) -> Vec<DecodeOption> {
    let m = &plan.model;
    let cl = &plan.cluster;
    let (ctx_mean, ctx_max) = decode_contexts(plan);
    let step = |b: u64| decode_step(plan, b, per_seq);
    let g = graph::build(m, step(batch));
    let layers = m.layers as f64;
    let act = cost::activation_bytes(m, batch * per_seq);
    // Aggregated serving: the steps that carry a prompt's chunks, on the pools that may
    // prefill inside decode; priced per chip and tp in `aggregated_option`.
    let agg_pools = if per_seq == 1 { aggregated_pools(plan) } else { Vec::new() };
    let mixed = |c: u64, prefix: u64| graph::build(m, Step::Mixed { batch, context: ctx_mean, prefill: c, prefix });
    let mut mixed_graphs: Vec<((u64, u64), graph::Graph)> = Vec::new();
    // and of one data-parallel group's step with a chunk, by (sequences, chunk, prefix):
    // built once per batch, whatever the pool and degree
    let mut group_graphs: Vec<((u64, u64, u64), graph::Graph)> = Vec::new();
    if !agg_pools.is_empty() {
        // the (chunk, prefix) pairs `chunk_steps` asks for
        // a prompt's from its start, and (prefix reuse) from after its cached prefix
        let cached = plan.workload.prefix.filter(|p| p.hit > 0.0).map(|p| p.tokens);
        for start in std::iter::once(0).chain(cached) {
            let _ = cost::aggregated::chunk_steps::<()>(plan.workload.input_tokens - start, plan.chunk_tokens, |c, p| {
                mixed_graphs.push(((c, start + p), mixed(c, start + p)));
                Ok(0.0)
            });
        }
    }
    let ffn_pools = &plan.placement(Stage::DecodeFfn).pools;
    let mut out = Vec::new();
    // Embedding and LM head, split from the attention layers for the breakdown.
    let other_time_of = |graph: &graph::Graph, chip: &crate::ir::Chip, tp: u64| -> Option<f64> {
        let (mut t, price) = (0.0, cost::node_times(chip)?);
        for n in graph.nodes().filter(|n| n.layers.is_none()) {
            t += price(n, tp, m.kv_split(tp))?.time();
        }
        Some(t)
    };
    let other_time = |chip: &crate::ir::Chip, tp: u64| other_time_of(&g, chip, tp);
    // Graphs of one microbatch for ping-pong between pools: m in 1..=8 up to the batch,
    // each of at most ⌈B/m⌉ sequences (m = 1 is the step's own graph).
    let disaggregable = ffn_pools.iter().any(|&f| plan.placement(Stage::DecodeAttn).pools.iter().any(|&a| a != f));
    let mb_graphs: Vec<(u64, graph::Graph)> = MICROBATCHES
        .iter()
        .filter(|&&mb| mb > 1 && mb <= batch && disaggregable)
        .map(|&mb| (mb, graph::build(m, step(batch.div_ceil(mb)))))
        .collect();
    // Graphs of the fullest data-parallel group's ⌈B/d⌉ sequences, d = 2, 4, ... up to B.
    let largest = plan.placement(Stage::DecodeAttn).pools.iter().filter(|&&a| ffn_pools.contains(&a)).map(|&a| cl.pools[a].count).max();
    let mut dp_graphs: Vec<(u64, graph::Graph)> = Vec::new();
    let mut d = 2u64;
    while largest.is_some_and(|n| d <= n) && d <= batch {
        dp_graphs.push((d, graph::build(m, step(batch.div_ceil(d)))));
        d *= 2;
    }
    // the microbatch graphs, the step's own first
    let mb_all: Vec<(u64, &graph::Graph)> = std::iter::once((1u64, &g)).chain(mb_graphs.iter().map(|(mb, gm)| (*mb, gm))).collect();
    // an FFN pool's time per (pool, degree), one per microbatch count: the same whatever
    // attention pool and degree it pairs with
    let mut ffn_times: HashMap<(usize, u64), Vec<Option<cost::StageTime>>> = HashMap::new();
    for &a in &plan.placement(Stage::DecodeAttn).pools {
        let pa = &cl.pools[a];
        let (attn_pins, ffn_pins) = (&plan.placement(Stage::DecodeAttn).pins, &plan.placement(Stage::DecodeFfn).pins);
        // pinned degrees are the only ones tried (and so the only ones explanations cite)
        for ta in tp_degrees(pa.count, m.heads, pa.link.is_some()).into_iter().filter(|t| Pins::allows(attn_pins.tp, *t)) {
            let Some(attn) = cost::stage_time(&g, &[Stage::DecodeAttn], &pa.chip, ta, m.kv_split(ta)) else {
                excluded.push(Excluded::Precision { pool: a });
                break;
            };
            let Some(other) = other_time(&pa.chip, ta) else { break };
            let ar = |link: Option<&crate::ir::Link>, tp: u64| link.map(|l| cost::allreduce_on(&pa.chip, act, tp, l)).unwrap_or(0.0);
            // Colocated: attention and FFN on the same chips; two all-reduces per layer.
            let ffn_allows = |chips: u64| Pins::allows(ffn_pins.tp, chips) && Pins::allows(ffn_pins.ep, chips);
            if ffn_pools.contains(&a) && m.ffn_split_dim() % ta == 0 && Pins::allows(attn_pins.dp, 1) && ffn_allows(ta) {
                let fp = cost::decode_attn_footprint(m, ta, batch, ctx_max, true);
                let (memory, ok) = mem_uses(Stage::DecodeAttn, a, &pa.chip, fp);
                match cost::stage_time(&g, &[Stage::DecodeFfn], &pa.chip, ta, m.kv_split(ta)) {
                    Some(ffn) if ok => {
                        let step = ColocatedStep {
                            attn,
                            ffn,
                            other,
                            collectives: (ar(pa.link.as_ref(), ta), ar(pa.link.as_ref(), ta)),
                            sequences: batch,
                        };
                        let plain = colocated_option(plan, a, (ta, 1), step, memory);
                        let agg = if agg_pools.contains(&a) { aggregated_option(plan, &plain, batch, fp, &mixed_graphs) } else { None };
                        out.push(plain);
                        out.extend(agg);
                    }
                    Some(_) => {
                        excluded.push(memory_excluded(Stage::DecodeAttn, a, ta, &memory));
                    }
                    None => excluded.push(Excluded::Precision { pool: a }),
                }
            }
            // Attention data parallelism with the FFN colocated (docs/cost-model.md §4d).
            if ffn_pools.contains(&a) {
                let graphs = StepGraphs { batch, per_seq, full: &g, groups: &dp_graphs };
                let mixed = if agg_pools.contains(&a) { mixed_graphs.as_slice() } else { &[] };
                out.extend(data_parallel_options(plan, a, ta, &graphs, (mixed, &mut group_graphs), excluded));
            }
            // Disaggregated: FFN on another pool; two crossings per layer.
            let fp = cost::decode_attn_footprint(m, ta, batch, ctx_max, false);
            let (attn_mem, attn_ok) = mem_uses(Stage::DecodeAttn, a, &pa.chip, fp);
            // the attention side's time and its embedding and LM head per microbatch
            // count: the same whatever FFN pool and degree it pairs with
            let attn_times: Vec<Option<(cost::StageTime, f64)>> = if attn_ok && ffn_pools.iter().any(|&f| f != a) {
                mb_all
                    .iter()
                    .map(|(_, gm)| {
                        Some((cost::stage_time(gm, &[Stage::DecodeAttn], &pa.chip, ta, m.kv_split(ta))?, other_time_of(gm, &pa.chip, ta)?))
                    })
                    .collect()
            } else {
                Vec::new()
            };
            for &f in ffn_pools.iter().filter(|&&f| f != a) {
                if !attn_ok {
                    excluded.push(memory_excluded(Stage::DecodeAttn, a, ta, &attn_mem));
                    break;
                }
                let Some(cross) = cl.link_between(a, f) else {
                    excluded.push(Excluded::NoLink { attn_pool: a, ffn_pool: f });
                    continue;
                };
                let pf = &cl.pools[f];
                for tf in tp_degrees(pf.count, m.ffn_split_dim(), pf.link.is_some()).into_iter().filter(|t| ffn_allows(*t)) {
                    let Some((groups, ffn_mem)) = ffn_groups(plan, f, tf) else {
                        let (ffn_mem, _) = mem_uses(Stage::DecodeFfn, f, &pf.chip, cost::decode_ffn_footprint(m, tf));
                        excluded.push(memory_excluded(Stage::DecodeFfn, f, tf, &ffn_mem));
                        continue;
                    };
                    if cost::stage_time(&g, &[Stage::DecodeFfn], &pf.chip, tf, 1).is_none() {
                        excluded.push(Excluded::Precision { pool: f });
                        break;
                    }
                    let mut chips = vec![0; cl.pools.len()];
                    chips[a] = ta;
                    chips[f] = tf * groups;
                    let mut memory = attn_mem.clone();
                    memory.extend(ffn_mem);
                    // Ping-pong of m microbatches of at most ⌈B/m⌉ sequences, each priced
                    // as the fullest (docs/cost-model.md §4).
                    let ffn_ms = ffn_times.entry((f, tf)).or_insert_with(|| {
                        mb_all.iter().map(|(_, gm)| cost::stage_time(gm, &[Stage::DecodeFfn], &pf.chip, tf, 1)).collect()
                    });
                    for (i, &(mb, _)) in mb_all.iter().enumerate() {
                        let b = batch.div_ceil(mb) * per_seq; // tokens per microbatch
                        let (Some((attn_m, other_m)), Some(ffn_m)) = (attn_times[i], ffn_ms[i]) else {
                            continue;
                        };
                        let act_b = cost::activation_bytes(m, b);
                        let ar_a = pa.link.as_ref().map(|l| cost::allreduce_on(&pa.chip, act_b, ta, l)).unwrap_or(0.0);
                        let ar_f = pf.link.as_ref().map(|l| cost::allreduce_on(&pf.chip, act_b, tf, l)).unwrap_or(0.0);
                        let cross_b = cost::crossings_time(m, b, &cross.link, ta.min(tf));
                        let t_a = (attn_m.time - other_m) / layers + ar_a;
                        // the FFN's chips pay their per-layer fixed cost on every layer of
                        // every microbatch they run (docs/cost-model.md §4c)
                        let ffn_time = ffn_m.time + layers * pf.chip.layer_overhead;
                        let t_e = ffn_time / layers + ar_f;
                        let t_c = cross_b / (2.0 * layers);
                        // the attention side's engine schedules the sequences
                        let overhead = cost::step_fixed(&pa.chip, batch) + pf.chip.step_overhead;
                        let mbf = mb as f64;
                        let tpot = cost::pingpong_sharded(t_a, t_e, t_c, mb, m.layers, groups) + mbf * other_m + overhead;
                        let breakdown = DecodeBreakdown {
                            attn: mbf * (attn_m.time - other_m),
                            ffn: mbf * ffn_time,
                            allreduce: mbf * layers * (ar_a + ar_f),
                            crossing: mbf * cross_b,
                            other: mbf * other_m,
                            attn_memory_bound: mbf * attn_m.memory_bound,
                            ffn_memory_bound: mbf * ffn_m.memory_bound,
                            overhead,
                            overlap: 0.0,
                            draft: 0.0,
                            from_tables: mbf * (attn_m.from_tables + ffn_m.from_tables),
                            extrapolated: attn_m.extrapolated || ffn_m.extrapolated,
                            prefill: 0.0,
                        };
                        let sum = breakdown.attn + breakdown.ffn + breakdown.allreduce + breakdown.crossing + breakdown.other + overhead;
                        out.push(DecodeOption {
                            attn_pool: a,
                            attn_tp: ta,
                            attn_dp: 1,
                            ffn: Some((f, tf)),
                            ffn_groups: groups,
                            microbatches: mb,
                            draft: None,
                            layers: Vec::new(),
                            kv: vec![(a, 1.0)],
                            tpot,
                            chips: chips.clone(),
                            usd_per_s: pa.chip.price.unwrap_or(0.0) * ta as f64 + pf.chip.price.unwrap_or(0.0) * (tf * groups) as f64,
                            watts: pa.chip.power.unwrap_or(0.0) * ta as f64 + pf.chip.power.unwrap_or(0.0) * (tf * groups) as f64,
                            breakdown: DecodeBreakdown { overlap: hidden(sum, tpot), ..breakdown },
                            memory: memory.clone(),
                            shape: StepShape::PingPong { t_a, t_e, t_c, other: other_m },
                            aggregated: None,
                        });
                    }
                }
            }
        }
    }
    out.extend(pipeline_options(plan, batch, per_seq, excluded));
    out
}

/// A step with a prompt chunk, by (chunk, prefix).
type MixedGraph = ((u64, u64), graph::Graph);
/// One data-parallel group's step with a chunk, by (sequences, chunk, prefix).
type GroupGraph = ((u64, u64, u64), graph::Graph);

/// A decode step's graph at batch `batch` and the graphs of its `B/d`-sequence groups.
#[derive(Clone, Copy)]
struct StepGraphs<'a> {
    batch: u64,
    per_seq: u64,
    full: &'a graph::Graph,
    groups: &'a [(u64, graph::Graph)],
}

/// Attention data parallelism on pool `a`: `d ≥ 2` groups of `ta` chips each run the
/// attention of `⌊B/d⌋` or `⌈B/d⌉` sequences (their own KV cache; each group is priced
/// and sized as the fullest, `b = ⌈B/d⌉`); the FFN of all `B` tokens is split over the
/// `d·ta` chips (tensor parallel for a dense FFN, expert parallel for MoE). Per layer:
/// the attention group's all-reduce over `ta` chips of `b` tokens, and the FFN's
/// all-gather + reduce-scatter over `d·ta` chips of `B` tokens (one all-reduce's
/// traffic). `d ≤ B`; `d·ta` fits the pool and divides the FFN's split dimension.
fn data_parallel_options(
    plan: &Plan,
    a: usize,
    ta: u64,
    graphs: &StepGraphs,
    (mixed, group): (&[MixedGraph], &mut Vec<GroupGraph>),
    excluded: &mut Vec<Excluded>,
) -> Vec<DecodeOption> {
    let StepGraphs { batch, per_seq, full: g_full, groups: group_graphs } = *graphs;
    let m = &plan.model;
    let pa = &plan.cluster.pools[a];
    let Some(link) = pa.link.as_ref() else { return Vec::new() };
    let (_, ctx_max) = decode_contexts(plan);
    let mut out = Vec::new();
    let (attn_pins, ffn_pins) = (&plan.placement(Stage::DecodeAttn).pins, &plan.placement(Stage::DecodeFfn).pins);
    for (d, g) in group_graphs.iter().filter(|(d, _)| Pins::allows(attn_pins.dp, *d)) {
        let (d, n) = (*d, *d * ta);
        if n > pa.count || m.ffn_split_dim() % n != 0 || !Pins::allows(ffn_pins.tp, n) || !Pins::allows(ffn_pins.ep, n) {
            continue;
        }
        // the groups hold ⌊B/d⌋ or ⌈B/d⌉ sequences; the step waits for the fullest
        let b = batch.div_ceil(d);
        let fp = cost::Footprint {
            weights: m.attn_side_weight_bytes() / ta as f64 + m.ffn_weight_bytes() / n as f64,
            kv: b as f64 * m.kv_bytes(ctx_max as f64) / m.kv_split(ta) as f64,
            activations: 0.0,
        };
        let (memory, ok) = mem_uses(Stage::DecodeAttn, a, &pa.chip, fp);
        if !ok {
            excluded.push(memory_excluded(Stage::DecodeAttn, a, ta, &memory));
            continue;
        }
        let (Some(attn), Some(ffn)) = (
            cost::stage_time(g, &[Stage::DecodeAttn], &pa.chip, ta, m.kv_split(ta)),
            cost::stage_time(g_full, &[Stage::DecodeFfn], &pa.chip, n, 1),
        ) else {
            excluded.push(Excluded::Precision { pool: a });
            return out;
        };
        let mut other = 0.0;
        if let Some(price) = cost::node_times(&pa.chip) {
            for node in g.nodes().filter(|x| x.layers.is_none()) {
                other += price(node, ta, m.kv_split(ta)).map(|r| r.time()).unwrap_or(0.0);
            }
        }
        let ar_attn = cost::allreduce_on(&pa.chip, cost::activation_bytes(m, b * per_seq), ta, link);
        let ar_ffn = moe_collective(m, &pa.chip, link, (b * per_seq, batch * per_seq), n);
        let plain =
            colocated_option(plan, a, (ta, d), ColocatedStep { attn, ffn, other, collectives: (ar_attn, ar_ffn), sequences: b }, memory);
        // Aggregated serving (`mixed`: the whole batch's steps with a chunk): each group
        // prefills its own arriving prompts; a step with a chunk runs that group's
        // attention over its b sequences and the chunk, and the FFN over all B tokens and
        // the chunk, and every group waits for it: all B sequences' prompts share the
        // steps (priced one chunk at a time; chunks of several groups in one step would
        // share the FFN's weight reads, which is not counted).
        let agg = if mixed.is_empty() {
            None
        } else {
            let chip = &pa.chip;
            let ctx = decode_contexts(plan).0;
            aggregated_twin(plan, &plain, batch, fp, |c, p| {
                if !group.iter().any(|(k, _)| *k == (b, c, p)) {
                    group.push(((b, c, p), graph::build(m, Step::Mixed { batch: b, context: ctx, prefill: c, prefix: p })));
                }
                let g_group = &group.iter().find(|(k, _)| *k == (b, c, p))?.1;
                let g_all = &mixed.iter().find(|(k, _)| *k == (c, p))?.1;
                let attn = cost::stage_time(g_group, &[Stage::DecodeAttn], chip, ta, m.kv_split(ta))?;
                let ffn = cost::stage_time(g_all, &[Stage::DecodeFfn], chip, n, 1)?;
                let ar_attn = cost::allreduce_on(chip, cost::activation_bytes(m, b + c), ta, link);
                let ar_ffn = moe_collective(m, chip, link, (b + c, batch + c), n);
                let time = attn.time + ffn.time + m.layers as f64 * (ar_attn + ar_ffn) + cost::step_fixed(chip, b);
                Some((time, attn.from_tables + ffn.from_tables, attn.extrapolated || ffn.extrapolated))
            })
        };
        out.push(plain);
        out.extend(agg);
    }
    out
}

/// The FFN's collectives per layer (the mean over layers) when `d` attention groups of
/// `tokens.0` tokens each feed an FFN over `n` chips (`tokens.1` tokens in all): a dense
/// layer all-gathers its input and reduce-scatters its output (one all-reduce's traffic
/// of all tokens); an MoE layer dispatches each group's own routed tokens to the experts
/// and combines them back, two all-to-alls of `tokens.0·k·h·a` (DeepEP's layout;
/// docs/cost-model.md §4d).
fn moe_collective(m: &crate::ir::Model, chip: &crate::ir::Chip, link: &crate::ir::Link, tokens: (u64, u64), n: u64) -> f64 {
    let gather = cost::allreduce_on(chip, cost::activation_bytes(m, tokens.1), n, link);
    let Some(moe) = m.moe else { return gather };
    let routed = tokens.0 as f64 * moe.top_k as f64 * m.hidden as f64 * m.activations.bytes();
    let a2a = 2.0 * cost::alltoall_time(routed, n, link);
    let (moe_layers, layers) = (m.moe_layers() as f64, m.layers as f64);
    ((layers - moe_layers) * gather + moe_layers * a2a) / layers
}

/// A decode step with attention and FFN on the same chips: `attn` includes the
/// embedding and LM head (`other`); `collectives` are the attention side's and the
/// FFN's collective per layer.
struct ColocatedStep {
    attn: cost::StageTime,
    ffn: cost::StageTime,
    other: f64,
    collectives: (f64, f64),
    /// sequences each rank's engine schedules per step
    sequences: u64,
}

/// The decode option of a colocated step on pool `a` with `(tp, dp)`: `dp` groups of
/// `tp` chips (1 group: plain tensor parallelism).
fn colocated_option(plan: &Plan, a: usize, (tp, dp): (u64, u64), step: ColocatedStep, memory: Vec<MemUse>) -> DecodeOption {
    let pa = &plan.cluster.pools[a];
    let n = tp * dp;
    let ColocatedStep { attn, ffn, other, collectives: (ar_attn, ar_ffn), sequences } = step;
    let overhead = cost::step_fixed(&pa.chip, sequences);
    let mut chips = vec![0; plan.cluster.pools.len()];
    chips[a] = n;
    let allreduce = plan.model.layers as f64 * (ar_attn + ar_ffn);
    DecodeOption {
        attn_pool: a,
        attn_tp: tp,
        attn_dp: dp,
        ffn: None,
        ffn_groups: 1,
        microbatches: 1,
        draft: None,
        layers: Vec::new(),
        kv: vec![(a, 1.0)],
        tpot: attn.time + ffn.time + allreduce + overhead,
        chips,
        usd_per_s: pa.chip.price.unwrap_or(0.0) * n as f64,
        watts: pa.chip.power.unwrap_or(0.0) * n as f64,
        breakdown: colocated_breakdown(attn, ffn, other, allreduce, overhead),
        memory,
        shape: StepShape::Colocated { attn_collective: ar_attn, ffn_collective: ar_ffn },
        aggregated: None,
    }
}

/// The aggregated-serving twin of a colocated tensor-parallel option: its steps also
/// prefill the arriving prompts in chunks of at most the plan's `chunk` (`mixed`: the graph
/// of a step of `batch` sequences carrying a chunk, per chunk size). `None` when the chip
/// cannot price a chunk step.
fn aggregated_option(
    plan: &Plan,
    plain: &DecodeOption,
    batch: u64,
    fp: Footprint,
    mixed: &[((u64, u64), graph::Graph)],
) -> Option<DecodeOption> {
    let m = &plan.model;
    let pa = &plan.cluster.pools[plain.attn_pool];
    let (chip, tp) = (&pa.chip, plain.attn_tp);
    let layers = m.layers as f64;
    aggregated_twin(plan, plain, batch, fp, |c, p| {
        let g = &mixed.iter().find(|(key, _)| *key == (c, p))?.1;
        let attn = cost::stage_time(g, &[Stage::DecodeAttn], chip, tp, m.kv_split(tp))?;
        let ffn = cost::stage_time(g, &[Stage::DecodeFfn], chip, tp, m.kv_split(tp))?;
        let ar = pa.link.as_ref().map(|l| cost::allreduce_on(chip, cost::activation_bytes(m, batch + c), tp, l)).unwrap_or(0.0);
        let time = attn.time + ffn.time + 2.0 * layers * ar + cost::step_fixed(chip, batch);
        Some((time, attn.from_tables + ffn.from_tables, attn.extrapolated || ffn.extrapolated))
    })
}

/// The aggregated twin of `plain`: `price(c, p)` is a step carrying a chunk of `c`
/// prompt tokens after `p` of the prompt's (seconds, of which op tables, extrapolated),
/// and `per_rank` is how many sequences' prompts share those steps: the whole batch when
/// data-parallel attention groups step together through one FFN (a chunk in any group
/// holds every group's step), so their arrivals add up. `fp` is the plain option's
/// footprint; the twin also holds a chunk's activations, and is `None` when they do not fit.
fn aggregated_twin(
    plan: &Plan,
    plain: &DecodeOption,
    per_rank: u64,
    fp: Footprint,
    mut price: impl FnMut(u64, u64) -> Option<(f64, f64, bool)>,
) -> Option<DecodeOption> {
    // A prompt's chunk steps from `start` (its cached prefix) to its end: the steps, the
    // op-table seconds of them, whether a lookup left the measured range.
    let mut chunked = |start: u64| {
        // per chunk step priced: ((tokens, prefix), seconds of op tables, extrapolated)
        let mut priced: Vec<((u64, u64), f64, bool)> = Vec::new();
        let steps = cost::aggregated::chunk_steps::<()>(plan.workload.input_tokens - start, plan.chunk_tokens, |c, p| {
            let (time, tables, extrapolated) = price(c, start + p).ok_or(())?;
            priced.push(((c, p), tables, extrapolated));
            Ok(time)
        })
        .ok()?;
        // op-table time of the chunk steps, the full chunks' interpolated as their times are
        let from_tables = match priced.as_slice() {
            [one] => one.1,
            [full, tail] => full.1 + tail.1,
            [first, last, tail] => (steps.steps - 1) as f64 * (first.1 + last.1) / 2.0 + tail.1,
            _ => 0.0,
        };
        Some((steps, from_tables, priced.iter().any(|p| p.2)))
    };
    let miss = chunked(0)?;
    // With prefix reuse a share `hit` of prompts start after their cached prefix: the
    // figures are means over hits and misses, and the schedule draws the commoner kind.
    let cached = match plan.workload.prefix.filter(|p| p.hit > 0.0) {
        Some(p) => Some((p.hit, p.tokens, chunked(p.tokens)?)),
        None => None,
    };
    let decode_step = plain.tpot;
    let extra_of = |s: &cost::aggregated::ChunkSteps| (s.total() - s.steps as f64 * decode_step).max(0.0);
    let input = plan.workload.input_tokens as f64;
    let (steps, steps_tokens, prompt, extra, from_tables, extrapolated, prompt_tokens) = match &cached {
        Some((h, tokens, hit)) => {
            let mean = |a: f64, b: f64| h * b + (1.0 - h) * a;
            let (drawn, drawn_tokens) =
                if *h >= 0.5 { (hit.0, plan.workload.input_tokens - tokens) } else { (miss.0, plan.workload.input_tokens) };
            (
                drawn,
                drawn_tokens,
                mean(miss.0.total(), hit.0.total()),
                mean(extra_of(&miss.0), extra_of(&hit.0)),
                mean(miss.1, hit.1),
                miss.2 || hit.2,
                input - h * *tokens as f64,
            )
        }
        None => (miss.0, plan.workload.input_tokens, miss.0.total(), extra_of(&miss.0), miss.1, miss.2, input),
    };
    // The plain option's footprint and the chunk's activations (docs/cost-model.md §10).
    let chip = &plan.cluster.pools[plain.attn_pool].chip;
    let act = cost::chunk_activation_bytes(&plan.model, plan.chunk_tokens.min(plan.workload.input_tokens), plain.attn_tp);
    let (memory, fits) = mem_uses(Stage::DecodeAttn, plain.attn_pool, chip, Footprint { activations: act, ..fp });
    if !fits {
        return None;
    }
    let osl = plan.workload.output_tokens;
    // the engine's first-token latency is part of a request's time to its first token,
    // and so of its time in a slot (docs/cost-model.md §11)
    let first_token = cost::admission::Engine::first_token_on(chip, &plan.model);
    let (tpot, ttft) = cost::aggregated::steady_state(decode_step, extra, first_token + prompt, per_rank, osl);
    let per_step = per_rank as f64 / (osl as f64 + ttft / tpot);
    Some(DecodeOption {
        tpot,
        breakdown: DecodeBreakdown { prefill: tpot - decode_step, ..plain.breakdown },
        aggregated: Some(Aggregated {
            ttft,
            first_token,
            decode_step,
            steps,
            steps_tokens,
            prompt,
            extra,
            prompt_tokens,
            chunk_tokens: plan.chunk_tokens,
            per_step,
            from_tables,
            extrapolated,
        }),
        memory,
        ..plain.clone()
    })
}

/// The breakdown of a step with attention and FFN on the same chips (`attn` includes
/// the embedding and LM head, `other`).
fn colocated_breakdown(attn: cost::StageTime, ffn: cost::StageTime, other: f64, allreduce: f64, overhead: f64) -> DecodeBreakdown {
    DecodeBreakdown {
        attn: attn.time - other,
        ffn: ffn.time,
        allreduce,
        crossing: 0.0,
        other,
        attn_memory_bound: attn.memory_bound,
        ffn_memory_bound: ffn.memory_bound,
        overhead,
        overlap: 0.0,
        draft: 0.0,
        from_tables: attn.from_tables + ffn.from_tables,
        extrapolated: attn.extrapolated || ffn.extrapolated,
        prefill: 0.0,
    }
}

/// The time overlapping microbatches hide: the parts' sum beyond the step, none when the
/// two differ only by rounding (a step that hides nothing reports nothing hidden).
fn hidden(parts: f64, tpot: f64) -> f64 {
    let d = parts - tpot;
    if d > 1e-9 * tpot {
        d
    } else {
        0.0
    }
}

/// A pool's chips as one pipeline stage: one tensor-parallel group of the largest
/// degree the pool allows that splits both the heads and the FFN.
fn pipeline_tp(plan: &Plan, pool: usize) -> Option<u64> {
    let p = &plan.cluster.pools[pool];
    let m = &plan.model;
    let pin = plan.placement(Stage::DecodeLayers).pins.tp;
    tp_degrees(p.count, m.heads, p.link.is_some()).into_iter().filter(|&t| m.ffn_split_dim() % t == 0 && Pins::allows(pin, t)).max()
}

/// Per-layer costs of one pool as a pipeline stage, and the parts the breakdown needs.
struct StageCosts {
    group: layers::Group,
    attn: Vec<f64>,
    ffn: Vec<f64>,
    allreduce: Vec<f64>,
    attn_mem_bound: Vec<f64>,
    ffn_mem_bound: Vec<f64>,
    /// per layer, the time the op tables priced; and of the embedding and of the LM head
    tables: Vec<f64>,
    tables_first: f64,
    tables_last: f64,
    /// the part of `group.first` that is the engine's per-sequence host work
    first_fixed: f64,
    extrapolated: bool,
}

/// `batch` is the whole decode batch (whose KV cache the stage holds), `micro` the
/// sequences of one microbatch (which each pass through the stage pays fixed costs for).
fn stage_costs(plan: &Plan, pool: usize, tp: u64, g: &graph::Graph, tokens: u64, (batch, micro): (u64, u64)) -> Option<StageCosts> {
    let m = &plan.model;
    let p = &plan.cluster.pools[pool];
    let chip = &p.chip;
    let n = m.layers as usize;
    // one layer of each kind: (kind, attention, FFN, their memory-bound parts, from tables)
    let mut kinds: Vec<(crate::ir::LayerKind, [f64; 5])> = Vec::new();
    let (mut first, mut last) = (0.0, 0.0);
    let (mut tab_first, mut tab_last, mut extrapolated) = (0.0, 0.0, false);
    let price = cost::node_times(chip)?;
    for node in g.nodes() {
        let r = price(node, tp, m.kv_split(tp))?;
        let mb = if r.memory > r.compute { r.time() } else { 0.0 };
        let table = if r.table.is_some() { r.time() } else { 0.0 };
        extrapolated |= r.extrapolated;
        let Some(layers) = node.layers else {
            match node.op {
                graph::Op::Embed => (first, tab_first) = (first + r.time(), tab_first + table),
                _ => (last, tab_last) = (last + r.time(), tab_last + table),
            }
            continue;
        };
        let i = match kinds.iter().position(|(k, _)| *k == layers.kind) {
            Some(i) => i,
            None => {
                kinds.push((layers.kind, [0.0; 5]));
                kinds.len() - 1
            }
        };
        let [attn, ffn, amb, fmb, tab] = &mut kinds[i].1;
        if node.stage == Stage::DecodeFfn {
            *ffn += r.time();
            *fmb += mb;
        } else {
            *attn += r.time() + cost::layer_fixed(node, chip);
            *amb += mb;
        }
        *tab += table;
    }
    // the partition needs each layer's: expand by the layers' kinds
    let per_layer: Vec<[f64; 5]> =
        (0..n as u64).map(|l| kinds.iter().find(|(k, _)| *k == m.layer_kind(l)).map_or([0.0; 5], |(_, v)| *v)).collect();
    let column = |c: usize| -> Vec<f64> { per_layer.iter().map(|v| v[c]).collect() };
    let (attn, ffn, amb, fmb, tab) = (column(0), column(1), column(2), column(3), column(4));
    let ar = p.link.as_ref().map(|l| 2.0 * cost::allreduce_on(chip, cost::activation_bytes(m, tokens), tp, l)).unwrap_or(0.0);
    let prefix = |v: &mut dyn Iterator<Item = f64>| -> Vec<f64> {
        let mut out = vec![0.0];
        for x in v {
            out.push(out[out.len() - 1] + x);
        }
        out
    };
    let time = prefix(&mut (0..n).map(|l| attn[l] + ffn[l] + ar));
    let (_, ctx_max) = decode_contexts(plan);
    let tiers = chip.memory.len();
    let (wt, kt) = (chip.tier_index(crate::ir::Contents::Weights)?, chip.tier_index(crate::ir::Contents::Kv)?);
    let wbytes = m.weights.bytes() / tp as f64;
    let mut mem = vec![vec![0.0; n + 1]; tiers];
    for l in 0..n {
        for (t, row) in mem.iter_mut().enumerate() {
            let mut x = row[l];
            if t == wt {
                x += m.layer_params(l as u64) as f64 * wbytes;
            }
            if t == kt {
                x += batch as f64 * m.kv_bytes_layer(l as u64, ctx_max as f64) / m.kv_split(tp) as f64;
            }
            row[l + 1] = x;
        }
    }
    // the input embedding on the first stage; the LM head and final norm on the last
    let matrix = (m.vocab * m.hidden) as f64 * wbytes;
    let (mut mem_first, mut mem_last) = (vec![0.0; tiers], vec![0.0; tiers]);
    mem_first[wt] = matrix;
    mem_last[wt] = matrix + m.hidden as f64 * wbytes;
    Some(StageCosts {
        group: layers::Group {
            time,
            // every stage launches each microbatch's step; the engine's per-sequence host
            // work is done once, where the microbatch enters (the first stage)
            fixed: chip.step_overhead,
            first: first + micro as f64 * chip.sequence_overhead,
            last,
            mem,
            mem_first,
            mem_last,
            capacity: chip.memory.iter().map(|t| t.capacity).collect(),
        },
        allreduce: vec![ar; n],
        attn,
        ffn,
        attn_mem_bound: amb,
        ffn_mem_bound: fmb,
        tables: tab,
        tables_first: tab_first,
        tables_last: tab_last,
        first_fixed: micro as f64 * chip.sequence_overhead,
        extrapolated,
    })
}

/// What a pipeline of `s` stages over the `decode.layers` pools costs: per-pool stage
/// costs and the partition problem at the microbatch size of `s` stages.
struct PipelineParts {
    /// the pools taking part (those with the model's precisions), group i = pools[i]
    pools: Vec<usize>,
    costs: Vec<StageCosts>,
    problem: layers::Problem,
    tps: Vec<u64>,
    tokens: u64,
    microbatches: u64,
}

fn pipeline_parts(plan: &Plan, batch: u64, per_seq: u64, s: usize, excluded: &mut Vec<Excluded>) -> Option<PipelineParts> {
    let m = &plan.model;
    let cl = &plan.cluster;
    // as many microbatches as stages keep every stage busy (fewer if the batch is smaller)
    let mbs = (s as u64).min(batch);
    let b = batch.div_ceil(mbs);
    let g = graph::build(m, decode_step(plan, b, per_seq));
    let tokens = b * per_seq;
    let (mut pools, mut tps, mut costs) = (Vec::new(), Vec::new(), Vec::new());
    for &p in &plan.placement(Stage::DecodeLayers).pools {
        // a pool whose chips cannot form the pinned degree takes no part
        let Some(tp) = pipeline_tp(plan, p) else { continue };
        match stage_costs(plan, p, tp, &g, tokens, (batch, b)) {
            Some(c) => {
                pools.push(p);
                tps.push(tp);
                costs.push(c);
            }
            None => excluded.push(Excluded::Precision { pool: p }),
        }
    }
    if pools.len() < s {
        return None;
    }
    let act = cost::activation_bytes(m, tokens);
    let cross = (0..pools.len())
        .map(|a| {
            (0..pools.len())
                .map(|b| {
                    let l = cl.link_between(pools[a], pools[b]).filter(|_| a != b)?;
                    Some(cost::transfer_time(act, &l.link, tps[a].min(tps[b])))
                })
                .collect()
        })
        .collect();
    let problem = layers::Problem { layers: m.layers as usize, groups: costs.iter().map(|c| c.group.clone()).collect(), cross };
    Some(PipelineParts { pools, costs, problem, tps, tokens, microbatches: mbs })
}

/// The layer-partition problem of a plan's `decode.layers` pools for `s` stages at
/// decode batch `batch` (benchmarks and tests time and cross-check it).
pub fn pipeline_problem(plan: &Plan, batch: u64, s: usize) -> Option<layers::Problem> {
    pipeline_parts(plan, batch, 1, s, &mut Vec::new()).map(|p| p.problem)
}

/// Layer pipelines over the pools `place decode.layers` names (docs/solver.md): with
/// `s ≥ 2` stages the batch runs as `m = min(s, B)` microbatches of `⌈B/m⌉` sequences
/// (TPOT `max(m·bottleneck, one microbatch's round trip)`), each stage
/// one pool's tensor-parallel group ([`pipeline_tp`]); for every set of `s` pools the
/// exact DP of [`layers`] picks the order and the cuts with the smallest bottleneck.
/// Then the pipelines within each of those pools ([`uniform_pipeline_options`]).
/// Steps over `per_seq` tokens per sequence as in [`target_options`].
fn pipeline_options(plan: &Plan, batch: u64, per_seq: u64, excluded: &mut Vec<Excluded>) -> Vec<DecodeOption> {
    let m = &plan.model;
    let n = plan.placement(Stage::DecodeLayers).pools.len();
    let mut out = Vec::new();
    if (2..=layers::MAX_GROUPS).contains(&n) {
        for s in 2..=n.min(m.layers as usize) {
            // precision exclusions are the same for every s: record them once
            let mut ex = Vec::new();
            let parts = pipeline_parts(plan, batch, per_seq, s, &mut ex);
            if s == 2 {
                excluded.extend(ex);
            }
            let Some(parts) = parts else { break };
            for (_, part) in parts.problem.best_per_set(s) {
                out.push(pipeline_option(plan, &parts, &part));
            }
        }
    }
    out.extend(uniform_pipeline_options(plan, batch, per_seq, excluded));
    out
}

/// Stages a pipeline within one pool has at most (docs/limits.md): each is a decode
/// option's own entry, so the options of one pool grow with the stages times the
/// tensor-parallel degrees.
pub const MAX_POOL_STAGES: u64 = 128;

/// Layer pipelines within one pool of `place decode.layers` (how wafers and SRAM racks
/// hold a model too large for one chip or group: docs/cost-model.md §4f): `s` stages of
/// `t` chips each (`2 ≤ s ≤ min(layers, chips/t, 128)`, `t` dividing the heads and the
/// FFN's width), one after another over the pool's own link, the layers split as evenly
/// as possible (`⌈L/s⌉` or `⌊L/s⌋` each; the longer ranges go to the stages with the least
/// else to do: middle stages before the last, which also runs the LM head, and the first,
/// which runs the embedding, ties in stage order). The batch runs as `m = min(s, 8, B)`
/// microbatches (as many as stages keep every stage busy, up to the 8 a step's
/// microbatches reach elsewhere, so that the same layouts exist at every batch above 8);
/// TPOT `max(m·bottleneck, one microbatch's round trip)` as across pools.
fn uniform_pipeline_options(plan: &Plan, batch: u64, per_seq: u64, excluded: &mut Vec<Excluded>) -> Vec<DecodeOption> {
    let m = &plan.model;
    let cl = &plan.cluster;
    let l = m.layers as usize;
    let placement = plan.placement(Stage::DecodeLayers);
    let most_micro = *MICROBATCHES.last().unwrap_or(&1);
    let mut out = Vec::new();
    for &p in &placement.pools {
        let pool = &cl.pools[p];
        // the stages pass activations over the pool's own link
        let Some(link) = pool.link.as_ref() else { continue };
        let degrees =
            tp_degrees(pool.count, m.heads, true).into_iter().filter(|&t| m.ffn_split_dim() % t == 0 && Pins::allows(placement.pins.tp, t));
        'degree: for t in degrees {
            let most = (pool.count / t).min(l as u64).min(MAX_POOL_STAGES);
            // the pool's costs as a stage, per microbatch count
            let mut by_micro: Vec<PipelineParts> = Vec::new();
            let mut fitted = false;
            let mut short: Option<Excluded> = None;
            for s in 2..=most {
                let mbs = s.min(most_micro).min(batch);
                let parts = match by_micro.iter().position(|x| x.microbatches == mbs) {
                    Some(i) => &by_micro[i],
                    None => {
                        let b = batch.div_ceil(mbs);
                        let tokens = b * per_seq;
                        let Some(costs) = stage_costs(plan, p, t, &graph::build(m, decode_step(plan, b, per_seq)), tokens, (batch, b))
                        else {
                            excluded.push(Excluded::Precision { pool: p });
                            break 'degree;
                        };
                        let cross = vec![vec![Some(cost::transfer_time(cost::activation_bytes(m, tokens), link, t))]];
                        let problem = layers::Problem { layers: l, groups: vec![costs.group.clone()], cross };
                        by_micro.push(PipelineParts {
                            pools: vec![p],
                            costs: vec![costs],
                            problem,
                            tps: vec![t],
                            tokens,
                            microbatches: mbs,
                        });
                        &by_micro[by_micro.len() - 1]
                    }
                };
                match even_split(&parts.problem, s as usize) {
                    Ok(part) => {
                        fitted = true;
                        out.push(pipeline_option(plan, parts, &part));
                    }
                    Err(e) => short = Some(Excluded::Memory { stage: Stage::DecodeLayers, pool: p, tp: t, need: e.0, capacity: e.1 }),
                }
            }
            if !fitted {
                excluded.extend(short);
            }
        }
    }
    out
}

/// Layers `0..L` cut into `s` contiguous stages of group 0 of `problem`, as evenly as
/// possible (see [`uniform_pipeline_options`]), with its bottleneck; or, when a stage
/// does not fit, the bytes per chip it needs and has in the tier it overflows most.
fn even_split(problem: &layers::Problem, s: usize) -> Result<layers::Partition, (f64, f64)> {
    let (l, g) = (problem.layers, &problem.groups[0]);
    let cross = problem.cross[0][0].unwrap_or(0.0);
    // what each stage does besides its layers
    let extra = |i: usize| if i == 0 { g.first } else { cross + if i + 1 == s { g.last } else { 0.0 } };
    let mut order: Vec<usize> = (0..s).collect();
    order.sort_by(|&a, &b| extra(a).total_cmp(&extra(b)).then(a.cmp(&b)));
    let mut count = vec![l / s; s];
    for &i in order.iter().take(l % s) {
        count[i] += 1;
    }
    let (mut stages, mut bottleneck, mut lo) = (Vec::with_capacity(s), 0.0f64, 0);
    for (i, n) in count.into_iter().enumerate() {
        let (hi, first, last) = (lo + n, i == 0, i + 1 == s);
        if !problem.fits(0, lo, hi, first, last) {
            let need = |t: usize| g.used(t, lo, hi, first, last);
            let worst = (0..g.capacity.len()).max_by(|&a, &b| (need(a) / g.capacity[a]).total_cmp(&(need(b) / g.capacity[b]))).unwrap_or(0);
            return Err((need(worst), g.capacity.get(worst).copied().unwrap_or(0.0)));
        }
        let time = problem.stage_time(0, lo, hi, (!first).then_some(0), last).unwrap_or(f64::INFINITY);
        bottleneck = bottleneck.max(time);
        stages.push((0, lo, hi));
        lo = hi;
    }
    Ok(layers::Partition { stages, bottleneck })
}

/// The decode option of pipeline `part` over `parts`' groups: its stages in order, the
/// crossing into each, the sampled ids back to the first stage.
fn pipeline_option(plan: &Plan, parts: &PipelineParts, part: &layers::Partition) -> DecodeOption {
    let m = &plan.model;
    let cl = &plan.cluster;
    let (_, ctx_max) = decode_contexts(plan);
    let kv_total = m.kv_bytes(ctx_max as f64);
    let PipelineParts { pools, costs, problem, tps, tokens, microbatches: mbs } = parts;
    // between two groups of one pool, the pool's own link
    let link = |a: usize, b: usize| match pools[a] == pools[b] {
        true => cl.pools[pools[a]].link.as_ref(),
        false => cl.link_between(pools[a], pools[b]).map(|l| &l.link),
    };
    let mut stages = Vec::new();
    let mut bd = DecodeBreakdown::default();
    let mut chips = vec![0; cl.pools.len()];
    let (mut usd, mut watts, mut cycle) = (0.0, 0.0, 0.0);
    let mut memory = Vec::new();
    let mut kv = Vec::new();
    let mut cross_in = Vec::new();
    for (i, &(q, lo, hi)) in part.stages.iter().enumerate() {
        let (first, last) = (i == 0, i + 1 == part.stages.len());
        let prev = (!first).then(|| part.stages[i - 1].0);
        let Some(time) = problem.stage_time(q, lo, hi, prev, last) else { continue };
        let c = &costs[q];
        let pool = &cl.pools[pools[q]];
        let sum = |v: &[f64]| v[lo..hi].iter().sum::<f64>();
        bd.attn += sum(&c.attn);
        bd.ffn += sum(&c.ffn);
        bd.allreduce += sum(&c.allreduce);
        bd.attn_memory_bound += sum(&c.attn_mem_bound);
        bd.ffn_memory_bound += sum(&c.ffn_mem_bound);
        bd.from_tables += sum(&c.tables) + if first { c.tables_first } else { 0.0 } + if last { c.tables_last } else { 0.0 };
        bd.extrapolated |= c.extrapolated;
        let into = prev.and_then(|p| problem.cross[p][q]).unwrap_or(0.0);
        bd.crossing += into;
        cross_in.push(into);
        bd.other += if first { c.group.first - c.first_fixed } else { 0.0 } + if last { c.group.last } else { 0.0 };
        bd.overhead += c.group.fixed + if first { c.first_fixed } else { 0.0 };
        cycle += time;
        chips[pools[q]] += tps[q];
        usd += pool.chip.price.unwrap_or(0.0) * tps[q] as f64;
        watts += pool.chip.power.unwrap_or(0.0) * tps[q] as f64;
        for (t, tier) in pool.chip.memory.iter().enumerate() {
            let used = c.group.used(t, lo, hi, first, last);
            memory.push(MemUse { stage: Stage::DecodeLayers, pool: pools[q], tier: tier.name.clone(), used, capacity: tier.capacity });
        }
        let kv_here: f64 = (lo..hi).map(|l| m.kv_bytes_layer(l as u64, ctx_max as f64)).sum();
        kv.push((pools[q], if kv_total > 0.0 { kv_here / kv_total } else { 0.0 }));
        stages.push(LayerStage { pool: pools[q], tp: tps[q], first: lo as u64, end: hi as u64, time });
    }
    // The sampled token ids go back to the first stage: directly if linked,
    // otherwise back along the pipeline.
    let ids = 4.0 * *tokens as f64;
    let (head, tail) = (part.stages[0].0, part.stages[part.stages.len() - 1].0);
    let back = match link(tail, head) {
        Some(l) => cost::transfer_time(ids, l, 1),
        None => part.stages.windows(2).filter_map(|w| link(w[1].0, w[0].0)).map(|l| cost::transfer_time(ids, l, 1)).sum(),
    };
    cycle += back;
    bd.crossing += back;
    let sf = *mbs as f64;
    let tpot = (sf * part.bottleneck).max(cycle);
    let work = DecodeBreakdown {
        attn: sf * bd.attn,
        ffn: sf * bd.ffn,
        allreduce: sf * bd.allreduce,
        crossing: sf * bd.crossing,
        other: sf * bd.other,
        attn_memory_bound: sf * bd.attn_memory_bound,
        ffn_memory_bound: sf * bd.ffn_memory_bound,
        overhead: sf * bd.overhead,
        overlap: 0.0,
        draft: 0.0,
        from_tables: sf * bd.from_tables,
        extrapolated: bd.extrapolated,
        prefill: 0.0,
    };
    let total = work.attn + work.ffn + work.allreduce + work.crossing + work.other + work.overhead;
    DecodeOption {
        attn_pool: stages[0].pool,
        attn_tp: stages[0].tp,
        attn_dp: 1,
        ffn: None,
        ffn_groups: 1,
        microbatches: *mbs,
        draft: None,
        layers: stages,
        kv,
        tpot,
        chips,
        usd_per_s: usd,
        watts,
        breakdown: DecodeBreakdown { overlap: hidden(total, tpot), ..work },
        memory,
        shape: StepShape::Pipeline { cross_in, back },
        aggregated: None,
    }
}

/// Combines each target (verify) option with each place the draft model can run:
/// one round is `k` draft steps, the verify step and two link crossings, and yields
/// `(1 − a^(k+1))/(1 − a)` tokens on average ([`cost::speculative_tpot`]). Every part
/// of the breakdown is per generated token.
fn speculative_options(
    plan: &Plan,
    batch: u64,
    spec: &crate::ir::Speculation,
    targets: Vec<DecodeOption>,
    excluded: &mut Vec<Excluded>,
) -> Vec<DecodeOption> {
    let cl = &plan.cluster;
    let dm = &spec.draft;
    let (ctx_mean, ctx_max) = decode_contexts(plan);
    let g = graph::build(dm, Step::Decode { batch, context: ctx_mean });
    let k = spec.lookahead;
    let e = cost::expected_tokens_per_step(k, spec.acceptance);
    // Token ids out and verdicts back: 4 bytes per token.
    let id_bytes = (batch * (k + 1)) as f64 * 4.0;
    let mut drafts = Vec::new();
    for &p in &plan.placement(Stage::Draft).pools {
        let pool = &cl.pools[p];
        for tp in tp_degrees(pool.count, dm.heads, pool.link.is_some()) {
            let (memory, ok) = mem_uses(Stage::Draft, p, &pool.chip, cost::decode_attn_footprint(dm, tp, batch, ctx_max, true));
            if !ok {
                excluded.push(memory_excluded(Stage::Draft, p, tp, &memory));
                continue;
            }
            let Some(st) = cost::stage_time(&g, &[Stage::DecodeAttn, Stage::DecodeFfn], &pool.chip, tp, dm.kv_split(tp)) else {
                excluded.push(Excluded::Precision { pool: p });
                break;
            };
            let ar = pool
                .link
                .as_ref()
                .map(|l| 2.0 * dm.layers as f64 * cost::allreduce_on(&pool.chip, cost::activation_bytes(dm, batch), tp, l))
                .unwrap_or(0.0);
            drafts.push((p, tp, st.time + ar + cost::step_fixed(&pool.chip, batch), memory));
        }
    }
    let mut out = Vec::new();
    for t in &targets {
        for (p, tp, t_draft, memory) in &drafts {
            let link = if *p == t.attn_pool { cl.pools[*p].link.as_ref() } else { cl.link_between(*p, t.attn_pool).map(|l| &l.link) };
            let Some(link) = link else {
                excluded.push(Excluded::NoDraftLink { attn_pool: t.attn_pool, draft_pool: *p });
                continue;
            };
            let t_link = cost::transfer_time(id_bytes, link, 1);
            let mut chips = t.chips.clone();
            chips[*p] += tp;
            let mut mem = t.memory.clone();
            mem.extend(memory.iter().cloned());
            let b = &t.breakdown;
            let scale = 1.0 / e;
            out.push(DecodeOption {
                draft: Some((*p, *tp)),
                tpot: cost::speculative_tpot(k, spec.acceptance, *t_draft, t.tpot, t_link),
                chips,
                usd_per_s: t.usd_per_s + cl.pools[*p].chip.price.unwrap_or(0.0) * *tp as f64,
                watts: t.watts + cl.pools[*p].chip.power.unwrap_or(0.0) * *tp as f64,
                memory: mem,
                breakdown: DecodeBreakdown {
                    attn: b.attn * scale,
                    ffn: b.ffn * scale,
                    allreduce: b.allreduce * scale,
                    crossing: b.crossing * scale + 2.0 * t_link * scale,
                    other: b.other * scale,
                    attn_memory_bound: b.attn_memory_bound * scale,
                    ffn_memory_bound: b.ffn_memory_bound * scale,
                    overhead: b.overhead * scale,
                    overlap: b.overlap * scale,
                    draft: k as f64 * t_draft * scale,
                    from_tables: b.from_tables * scale,
                    extrapolated: b.extrapolated,
                    prefill: 0.0,
                },
                shape: StepShape::Speculative { lookahead: k, draft: *t_draft, link: t_link, tokens: e, target: Box::new(t.clone()) },
                aggregated: None,
                ..t.clone()
            });
        }
    }
    out
}

pub use crate::ir::MICROBATCHES;

/// The range's ends and the powers of two between them: the batches a sweep over the
/// concurrency tries by default, and among the seeds of the search over every batch
/// (`solve::batch::seeds`).
pub fn batch_candidates(lo: u64, hi: u64) -> Vec<u64> {
    crate::ir::concurrency_values(lo, hi, None, None)
}

/// The configuration space of a plan at each of [`batch_candidates`] (the prefill
/// options are shared: they do not depend on the batch): what the tests and the
/// benchmark hold the ILP to the oracle on. The solver searches every batch
/// (`solve::batch`).
pub fn instances(plan: &Plan, excluded: &mut Vec<Excluded>) -> Vec<Instance> {
    let prefill = prefill_options(plan, excluded);
    let (lo, hi) = plan.workload.concurrency;
    batch_candidates(lo, hi).into_iter().map(|b| instance(plan, b, &prefill, excluded)).collect()
}

/// The configuration space of `plan` at decode batch `batch` over the shared prefill options.
pub fn instance(plan: &Plan, batch: u64, prefill: &[PrefillOption], excluded: &mut Vec<Excluded>) -> Instance {
    let limit = |m: crate::ir::SloMetric| plan.mean_limit(m).map(|s| s.limit);
    let free = plan.free_inventory;
    let mut inst = Instance {
        batch,
        output_tokens: plan.workload.output_tokens as f64,
        pool_sizes: plan.cluster.pools.iter().map(|p| (!free).then_some(p.count)).collect(),
        decode: decode_options(plan, batch, excluded),
        prefill: prefill.to_vec(),
        ttft_limit: limit(crate::ir::SloMetric::Ttft),
        tpot_limit: plan.tpot_slo().map(|(_, l)| l),
        budget: plan.budget.clone(),
        priced: plan.cluster.pools.iter().any(|p| p.chip.price.is_some_and(|x| x > 0.0)),
    };
    if free {
        // No pool bounds the chips; a prefill option needs at most the replicas that let
        // it keep up with this batch's fastest decode option (more would only add cost).
        for k in 0..inst.prefill.len() {
            let need = (0..inst.decode.len()).map(|d| inst.min_replicas(d, &inst.prefill[k])).max().unwrap_or(1);
            inst.prefill[k].max_replicas = need.max(1);
        }
    }
    inst
}

/// A decode option's layout: what makes it the same configuration at another batch
/// (pools, degrees, microbatches, draft, the pipeline's pools and degrees, aggregated
/// serving), not where a pipeline's layers are cut.
pub type Layout = (usize, u64, u64, Option<(usize, u64, u64)>, u64, Option<(usize, u64)>, Vec<(usize, u64)>, bool);

impl DecodeOption {
    pub fn layout(&self) -> Layout {
        (
            self.attn_pool,
            self.attn_tp,
            self.attn_dp,
            self.ffn.map(|(f, t)| (f, t, self.ffn_groups)),
            self.microbatches,
            self.draft,
            self.layers.iter().map(|s| (s.pool, s.tp)).collect(),
            self.aggregated.is_some(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_not_overlap() {
        let tpot = 417e-6;
        // parts that sum to the step up to rounding hide nothing
        assert_eq!(hidden(tpot + 1e-19, tpot), 0.0);
        assert_eq!(hidden(tpot - 1e-6, tpot), 0.0);
        // a microbatch overlap of a microsecond is reported as it is
        assert!((hidden(tpot + 1e-6, tpot) - 1e-6).abs() < 1e-15);
    }

    #[test]
    fn batches_are_the_ends_and_powers_of_two() {
        assert_eq!(batch_candidates(1, 512), vec![1, 2, 4, 8, 16, 32, 64, 128, 256, 512]);
        assert_eq!(batch_candidates(3, 20), vec![3, 4, 8, 16, 20]);
        assert_eq!(batch_candidates(64, 64), vec![64]);
    }

    #[test]
    fn tp_degrees_are_the_divisors_that_fit_a_linked_pool() {
        assert_eq!(tp_degrees(8, 64, true), vec![1, 2, 4, 8]);
        assert_eq!(tp_degrees(72, 64, true), vec![1, 2, 4, 8, 16, 32, 64]);
        assert_eq!(tp_degrees(8, 64, false), vec![1]);
        // 28672 = 2^12 * 7: the powers of two and 7 times them, up to the pool's 256
        assert_eq!(tp_degrees(256, 28672, true), vec![1, 2, 4, 7, 8, 14, 16, 28, 32, 56, 64, 112, 128, 224, 256]);
        assert_eq!(tp_degrees(8, 6, true), vec![1, 2, 3, 6]);
        // 384 experts (Kimi K2) over a 72-chip rack: 3, 6, 12, 24 and 48 too
        assert_eq!(tp_degrees(72, 384, true), vec![1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64]);
        // a pool of a billion chips costs sqrt(divides) steps, not a billion; a pool of 8
        // on a dimension of 10^12 costs 8
        assert_eq!(tp_degrees(1_000_000_000, 96, true).len(), 12);
        assert_eq!(tp_degrees(8, 1_000_000_000_000, true), vec![1, 2, 4, 5, 8]);
        assert_eq!(tp_degrees(8, 999_999_999_989, true), vec![1]);
        assert_eq!(tp_degrees(4, 0, true), vec![1]);
    }
}

#[cfg(test)]
mod roofline_checks {
    use super::*;

    /// Llama-3.1-70B, FP8 weights, BF16 KV, on 8 H100 over NVLink 4, mean context 4096.
    fn plan() -> Plan {
        // H100 SXM's datasheet figures without its op tables: these checks are of the roofline
        let src = "chip h100_sxm {\n  source = \"datasheet\"\n  compute {\n    bf16 = 989 TFLOP/s\n    fp8 = 1979 TFLOP/s\n  }\n\
                   memory hbm {\n    capacity = 80 GB\n    bandwidth = 3.35 TB/s\n  }\n\
                   efficiency {\n    compute = 0.67\n    memory = 0.90\n    source = \"FlashAttention-3; FlashMLA\"\n  }\n}\n\
                   use std::links::nvlink4\nuse std::models::llama3_1_70b\n\
                   workload w {\n  input = 4032 tok\n  output = 128 tok\n  concurrency = 1 ..= 64\n}\n\
                   cluster c {\n  pool gpu = h100_sxm x 8 over nvlink4\n}\n\
                   plan p {\n  model = llama3_1_70b { weights = fp8 }\n  cluster = c\n  workload = w\n}\n";
        let comp = crate::compile("roofline.hplan", src, None, crate::Mode::Check);
        assert!(!comp.has_errors());
        comp.program.plans[0].clone()
    }

    fn tp8(batch: u64) -> DecodeOption {
        let p = plan();
        assert_eq!(decode_contexts(&p).0, 4096.0);
        let opts = decode_options(&p, batch, &mut vec![]);
        opts.into_iter().find(|d| d.attn_tp == 8 && d.ffn.is_none()).expect("TP8 fits")
    }

    // H100: 1979 TFLOP/s FP8, 989 BF16, 3.35 TB/s HBM, efficiencies 0.67 / 0.90;
    // NVLink 4: 450 GB/s per direction, 2 us. Per chip everything divides by 8
    // (8 KV heads, so the KV cache splits 8 ways too).
    const BW: f64 = 3.35e12 * 0.90; // 3.015e12 B/s
    const FP8: f64 = 1979e12 * 0.67; // 1.32593e15 FLOP/s
    const BF16: f64 = 989e12 * 0.67; // 6.6263e14 FLOP/s

    fn ar(bytes: f64) -> f64 {
        // recursive doubling beats the ring for these small messages: 3 * (alpha + S/BW)
        3.0 * (2e-6 + bytes / 450e9)
    }

    /// The decode step by hand at batch `b`: per-chip bytes and FLOPs of each node
    /// (everything / 8), the slower of memory and compute, summed, plus the all-reduces.
    fn by_hand(b: f64) -> f64 {
        // weights per layer: qkv 8192*80*128 = 83,886,080; out 8192*8192 = 67,108,864;
        // ffn 3*8192*28672 = 704,643,072 (1 B each at FP8). Activations: 16,384 B/token;
        // q, k, v out of the projections 20,480 B/token.
        let qkv = ((83_886_080.0 + b * (16_384.0 + 20_480.0)) / 8.0 / BW).max(2.0 * b * 83_886_080.0 / 8.0 / FP8);
        // attention: KV per layer per token 2*8*128*2 = 4,096 B; reads 4096 tokens of it
        let attn =
            ((b * 36_864.0) / 8.0 / BW + (b * 4096.0 * 4096.0 + b * 4096.0) / 8.0 / BW).max(4.0 * b * 64.0 * 128.0 * 4096.0 / 8.0 / BF16);
        let out = ((67_108_864.0 + b * 32_768.0) / 8.0 / BW).max(2.0 * b * 67_108_864.0 / 8.0 / FP8);
        let ffn = ((704_643_072.0 + b * (32_768.0 + 114_688.0)) / 8.0 / BW).max(2.0 * b * 704_643_072.0 / 8.0 / FP8);
        let layers = 80.0 * (qkv + attn + out + ffn);
        // LM head 8192*128256 = 1,050,673,152 B; the embedding gathers b rows of 8 kB
        let head = ((1_050_673_152.0 + b * 272_896.0) / 8.0 / BW).max(2.0 * b * 8192.0 * 128_256.0 / 8.0 / FP8);
        let embed = (b * 8192.0 + b * 16_384.0) / 8.0 / BW;
        // two all-reduces per layer of b * 16 kB
        layers + head + embed + 160.0 * ar(b * 16_384.0)
    }

    #[test]
    fn decode_step_batch_1() {
        // per layer: qkv 3.479 us + attention 0.697 us + out 2.784 us + ffn 29.220 us = 36.181 us;
        // x80 = 2.894 ms; LM head 43.57 us; all-reduces 160 x 3*(2 us + 36.4 ns) = 0.977 ms
        let d = tp8(1);
        assert!((d.tpot - by_hand(1.0)).abs() < 1e-12, "{} vs {}", d.tpot, by_hand(1.0));
        assert!((d.tpot - 3.9155e-3).abs() < 1e-6, "{}", d.tpot);
        assert!((d.breakdown.allreduce - 0.97748e-3).abs() < 1e-8);
    }

    #[test]
    fn decode_step_batch_64() {
        // per layer: qkv 3.576 us + attention 44.625 us (KV reads: 64 x 16.8 MB / 8) + out 2.869 us
        // + ffn 29.605 us (still memory-bound: 8.5 us of compute) = 80.676 us; x80 = 6.454 ms;
        // LM head 44.28 us; all-reduces of 1 MiB: 160 x 3*(2 us + 2.330 us) = 2.078 ms
        let d = tp8(64);
        assert!((d.tpot - by_hand(64.0)).abs() < 1e-12, "{} vs {}", d.tpot, by_hand(64.0));
        assert!((d.tpot - 8.5769e-3).abs() < 1e-6, "{}", d.tpot);
    }
}

#[cfg(test)]
mod aggregated_checks {
    use super::*;

    /// Llama-3.1-70B FP8 on 8 H100 over NVLink 4 (datasheet roofline), `input`-token
    /// prompts, 128 output tokens, with `serving`.
    fn plan(input: u64, serving: &str) -> Plan {
        let src = format!(
            "chip h100_sxm {{\n  source = \"datasheet\"\n  compute {{\n    bf16 = 989 TFLOP/s\n    fp8 = 1979 TFLOP/s\n  }}\n\
             memory hbm {{\n    capacity = 80 GB\n    bandwidth = 3.35 TB/s\n  }}\n\
             efficiency {{\n    compute = 0.67\n    memory = 0.90\n    source = \"FlashAttention-3; FlashMLA\"\n  }}\n}}\n\
             use std::links::nvlink4\nuse std::models::llama3_1_70b\n\
             workload w {{\n  input = {input} tok\n  output = 128 tok\n  concurrency = 1 ..= 64\n}}\n\
             cluster c {{\n  pool gpu = h100_sxm x 8 over nvlink4\n}}\n\
             plan p {{\n  model = llama3_1_70b {{ weights = fp8 }}\n  cluster = c\n  workload = w\n  serving = {serving}\n}}\n"
        );
        let comp = crate::compile("agg.hplan", &src, None, crate::Mode::Check);
        assert!(!comp.has_errors(), "{:?}", comp.diagnostics);
        comp.program.plans[0].clone()
    }

    #[test]
    fn an_aggregated_step_carries_its_share_of_the_prompts() {
        let p = plan(4032, "auto");
        let opts = decode_options(&p, 64, &mut vec![]);
        let plain = opts.iter().find(|d| d.attn_tp == 8 && d.ffn.is_none() && d.aggregated.is_none()).unwrap();
        let agg = opts.iter().find(|d| d.attn_tp == 8 && d.ffn.is_none() && d.aggregated.is_some()).unwrap();
        let a = agg.aggregated.as_ref().unwrap();
        // the step of 64 sequences plus the whole 4032-token prompt (one chunk), by the
        // cost phase: attention and FFN, two all-reduces per layer of 4096 tokens
        let m = &p.model;
        let chip = &p.cluster.pools[0].chip;
        let link = p.cluster.pools[0].link.as_ref().unwrap();
        let g = graph::build(m, Step::Mixed { batch: 64, context: 4096.0, prefill: 4032, prefix: 0 });
        let attn = cost::stage_time(&g, &[Stage::DecodeAttn], chip, 8, m.kv_split(8)).unwrap();
        let ffn = cost::stage_time(&g, &[Stage::DecodeFfn], chip, 8, m.kv_split(8)).unwrap();
        let mixed = attn.time + ffn.time + 160.0 * cost::allreduce_on(chip, cost::activation_bytes(m, 4096), 8, link);
        assert_eq!(a.steps.steps, 1);
        assert!((a.steps.total() - mixed).abs() < 1e-12 * mixed, "{} vs {mixed}", a.steps.total());
        assert_eq!(a.decode_step, plain.tpot);
        // steady state: 64 / (128 + TTFT/T) prompts per step, each adding (mixed − t_d)
        let (t, ttft) = cost::aggregated::steady_state(plain.tpot, mixed - plain.tpot, mixed, 64, 128);
        assert_eq!((agg.tpot, a.ttft), (t, ttft));
        assert!((agg.breakdown.prefill - (t - plain.tpot)).abs() < 1e-15);
        assert!((a.per_step - 64.0 / (128.0 + ttft / t)).abs() < 1e-12);
        // the same chips, and nothing else: the KV cache stays where it is made
        assert_eq!((agg.chips.clone(), agg.kv.clone()), (plain.chips.clone(), plain.kv.clone()));
        assert!(agg.tpot > plain.tpot && a.ttft > mixed);
        // memory: the chunk's activations beside the cache, 4032 x 2 B x (2 x 8192 +
        // 3 x 28672 / 8) = 219 MB per GPU (no serving engine reserves them here)
        let hbm = |d: &DecodeOption| d.memory.iter().find(|u| u.stage == Stage::DecodeAttn).unwrap().used;
        let act = cost::chunk_activation_bytes(m, 4032, 8);
        assert!((act - 4032.0 * 2.0 * (2.0 * 8192.0 + 3.0 * 28672.0 / 8.0)).abs() < 1e-3);
        assert!((hbm(agg) - hbm(plain) - act).abs() < 1e-3, "{} {}", hbm(agg), hbm(plain));
    }

    #[test]
    fn a_chunk_that_does_not_fit_leaves_no_aggregated_twin() {
        // Llama-3.1-70B FP8 on one GPU, 8 sequences of 16k tokens: with 0.2 GB to spare the
        // weights and cache fit, not an 8192-token chunk's activations on top
        // (8192 x 2 B x (2 x 8192 + 3 x 28672) = 1.68 GB)
        let tight = |cap: &str| {
            let src = format!(
                "chip h100_sxm {{\n  source = \"datasheet\"\n  compute {{\n    bf16 = 989 TFLOP/s\n    fp8 = 1979 TFLOP/s\n  }}\n\
                 memory hbm {{\n    capacity = {cap}\n    bandwidth = 3.35 TB/s\n  }}\n\
                 efficiency {{\n    compute = 0.67\n    memory = 0.90\n    source = \"test\"\n  }}\n}}\n\
                 link nvlink4 {{\n  bandwidth = 450 GB/s\n  latency = 2 us\n  source = \"test\"\n}}\n\
                 model llama {{\n  source = \"test\"\n  layers = 80\n  hidden = 8192\n  heads = 64\n  kv_heads = 8\n  head_dim = 128\n\
                 \x20 intermediate = 28672\n  vocab = 128256\n  weights = fp8\n}}\n\
                 workload w {{\n  input = 16k tok\n  output = 128 tok\n  concurrency = 8\n}}\n\
                 cluster c {{\n  pool gpu = h100_sxm x 1\n}}\n\
                 plan p {{\n  model = llama\n  cluster = c\n  workload = w\n  serving = auto\n}}\n"
            );
            let comp = crate::compile("tight.hplan", &src, None, crate::Mode::Check);
            assert!(!comp.has_errors(), "{:?}", comp.diagnostics);
            let p = comp.program.plans[0].clone();
            decode_options(&p, 8, &mut vec![])
        };
        // 141 GB: both the plain option and its twin
        let roomy = tight("141 GB");
        assert!(roomy.iter().any(|d| d.aggregated.is_some()) && roomy.iter().any(|d| d.aggregated.is_none()));
        let plain_used = roomy.iter().find(|d| d.aggregated.is_none()).unwrap().memory[0].used;
        // just above what the plain option needs, below it plus the chunk
        let cap = format!("{} GB", (plain_used + 0.2e9) / 1e9);
        let opts = tight(&cap);
        assert!(opts.iter().any(|d| d.aggregated.is_none()), "the plain option still fits");
        assert!(opts.iter().all(|d| d.aggregated.is_none()), "no twin without room for the chunk");
    }

    #[test]
    fn a_chunk_step_beyond_the_tables_marks_the_choice_extrapolated() {
        // the report's flag and W0402 read one rule: decode step, own prefill, or chunks
        let p = plan(4032, "aggregated");
        let mut inst = instances(&p, &mut vec![]).remove(0);
        let c = Choice { decode: 0, prefill: 0, replicas: 1 };
        assert!(inst.prefill[0].aggregated && !inst.extrapolated(c));
        if let Some(a) = inst.decode[0].aggregated.as_mut() {
            a.extrapolated = true;
        }
        assert!(inst.extrapolated(c));
    }

    #[test]
    fn data_parallel_groups_share_every_arriving_prompt() {
        // 2 groups of 4 GPUs, 32 sequences each: a chunk step is one group's attention
        // over its 32 sequences and the 4032-token prompt, the FFN over all 64 + 4032
        // tokens on 8 GPUs; all 64 sequences' prompts share the steps
        let p = plan(4032, "auto");
        let opts = decode_options(&p, 64, &mut vec![]);
        let find = |agg: bool| opts.iter().find(|d| d.attn_dp == 2 && d.attn_tp == 4 && d.aggregated.is_some() == agg).unwrap();
        let (plain, agg) = (find(false), find(true));
        let a = agg.aggregated.as_ref().unwrap();
        let m = &p.model;
        let chip = &p.cluster.pools[0].chip;
        let link = p.cluster.pools[0].link.as_ref().unwrap();
        let group = graph::build(m, Step::Mixed { batch: 32, context: 4096.0, prefill: 4032, prefix: 0 });
        let all = graph::build(m, Step::Mixed { batch: 64, context: 4096.0, prefill: 4032, prefix: 0 });
        let attn = cost::stage_time(&group, &[Stage::DecodeAttn], chip, 4, m.kv_split(4)).unwrap();
        let ffn = cost::stage_time(&all, &[Stage::DecodeFfn], chip, 8, 1).unwrap();
        let ar = cost::allreduce_on(chip, cost::activation_bytes(m, 32 + 4032), 4, link)
            + cost::allreduce_on(chip, cost::activation_bytes(m, 64 + 4032), 8, link);
        let step = attn.time + ffn.time + 80.0 * ar;
        assert!((a.steps.total() - step).abs() < 1e-12 * step, "{} vs {step}", a.steps.total());
        let (t, ttft) = cost::aggregated::steady_state(plain.tpot, step - plain.tpot, step, 64, 128);
        assert_eq!((agg.tpot, a.ttft), (t, ttft));
    }

    #[test]
    fn a_long_prompt_takes_chunks_that_attend_to_the_earlier_ones() {
        // 20000 tokens: 8192 + 8192 + 3616; the second full chunk attends to the first
        let p = plan(20_000, "aggregated");
        let opts = decode_options(&p, 8, &mut vec![]);
        assert!(!opts.is_empty() && opts.iter().all(|d| d.aggregated.is_some()), "only aggregated options");
        let a = opts[0].aggregated.as_ref().unwrap();
        let s = a.steps;
        assert_eq!(s.steps, 3);
        assert!(s.last_full > s.first_full && s.first_full > s.tail, "{a:?}");
        assert!((s.total() - (s.first_full + s.last_full + s.tail)).abs() < 1e-12 * s.total());
        // prefill options: only the pool's aggregated one
        let pre = prefill_options(&p, &mut vec![]);
        assert_eq!(pre.len(), 1);
        assert!(pre[0].aggregated && pre[0].tp == 0 && pre[0].rate() == 0.0);
        // disaggregated: none of either
        let p = plan(20_000, "disaggregated");
        assert!(decode_options(&p, 8, &mut vec![]).iter().all(|d| d.aggregated.is_none()));
        assert!(prefill_options(&p, &mut vec![]).iter().all(|o| !o.aggregated));
    }
}

#[cfg(test)]
mod data_parallel_checks {
    use super::*;

    /// Llama-3.1-70B FP8 on 8 H100 (NVLink 4: 450 GB/s, 2 us), 4096 mean context, batch 64.
    fn options() -> Vec<DecodeOption> {
        // H100 SXM's datasheet figures without its op tables: these checks are of the roofline
        let src = "chip h100_sxm {\n  source = \"datasheet\"\n  compute {\n    bf16 = 989 TFLOP/s\n    fp8 = 1979 TFLOP/s\n  }\n\
                   memory hbm {\n    capacity = 80 GB\n    bandwidth = 3.35 TB/s\n  }\n\
                   efficiency {\n    compute = 0.67\n    memory = 0.90\n    source = \"FlashAttention-3; FlashMLA\"\n  }\n}\n\
                   use std::links::nvlink4\nuse std::models::llama3_1_70b\n\
                   workload w {\n  input = 4032 tok\n  output = 128 tok\n  concurrency = 64\n}\n\
                   cluster c {\n  pool gpu = h100_sxm x 8 over nvlink4\n}\n\
                   plan p {\n  model = llama3_1_70b { weights = fp8 }\n  cluster = c\n  workload = w\n}\n";
        let comp = crate::compile("dp.hplan", src, None, crate::Mode::Check);
        assert!(!comp.has_errors());
        decode_options(&comp.program.plans[0], 64, &mut vec![])
    }

    #[test]
    fn two_groups_of_four() {
        let opts = options();
        let dp = opts.iter().find(|d| d.attn_dp == 2 && d.attn_tp == 4).expect("DP2 x TP4 fits");
        let tp4 = opts.iter().find(|d| d.attn_dp == 1 && d.attn_tp == 4 && d.ffn.is_none()).expect("TP4 fits");
        assert_eq!(dp.chips, vec![8]);
        // Per layer: an all-reduce of 32 sequences' activations (32 x 16 kB = 512 kB) over
        // 4 chips, and one of all 64 (1 MiB) over 8: recursive doubling 2(2 us + 512 kB/450 GB/s)
        // and 3(2 us + 1 MiB/450 GB/s).
        let ar4 = 2.0 * (2e-6 + 524_288.0 / 450e9);
        let ar8 = 3.0 * (2e-6 + 1_048_576.0 / 450e9);
        assert!((dp.breakdown.allreduce - 80.0 * (ar4 + ar8)).abs() < 1e-12, "{}", dp.breakdown.allreduce);
        // Each chip keeps half the KV cache a TP4 group of all 64 sequences keeps, and
        // its FFN weights are split 8 ways instead of 4.
        let kv = |d: &DecodeOption| d.memory.iter().map(|m| m.used).sum::<f64>();
        let m = crate::ir::tests_support::llama70b();
        let ffn_fp8 = m.ffn_params() as f64; // 1 byte per parameter at FP8
        let kv_tp4 = 64.0 * m.kv_bytes(4160.0) / 4.0;
        assert!((kv(tp4) - kv(dp) - (kv_tp4 / 2.0 + ffn_fp8 / 8.0)).abs() < 1.0, "{} vs {}", kv(tp4), kv(dp));
    }
}

#[cfg(test)]
mod pipelines_within_a_pool {
    use super::*;

    /// A group whose layers take `per_layer` seconds and `bytes` bytes each.
    fn group(layers: usize, per_layer: f64, fixed: f64, (first, last): (f64, f64), bytes: f64, capacity: f64) -> layers::Group {
        layers::Group {
            time: (0..=layers).map(|l| l as f64 * per_layer).collect(),
            fixed,
            first,
            last,
            mem: vec![(0..=layers).map(|l| l as f64 * bytes).collect()],
            mem_first: vec![0.0],
            mem_last: vec![0.0],
            capacity: vec![capacity],
        }
    }

    fn problem(layers: usize, g: layers::Group, cross: f64) -> layers::Problem {
        layers::Problem { layers, groups: vec![g], cross: vec![vec![Some(cross)]] }
    }

    /// 10 layers of 1 s in 4 stages: 2 or 3 each; the first stage also embeds (0.5 s), the
    /// middle ones receive activations (0.25 s), the last receives and runs the LM head
    /// (0.25 + 2 s). The two longer ranges go to the middle stages: 2, 3, 3, 2 layers,
    /// stage times 2.5, 3.25, 3.25, 4.25 (each + 0.1 s fixed): bottleneck 4.35 s.
    #[test]
    fn the_longer_ranges_go_to_the_stages_with_least_else_to_do() {
        let p = problem(10, group(10, 1.0, 0.1, (0.5, 2.0), 1.0, 100.0), 0.25);
        let part = even_split(&p, 4).unwrap();
        assert_eq!(part.stages, vec![(0, 0, 2), (0, 2, 5), (0, 5, 8), (0, 8, 10)]);
        assert!((part.bottleneck - 4.35).abs() < 1e-12, "{}", part.bottleneck);
        // an even count needs no choice
        let part = even_split(&p, 5).unwrap();
        assert_eq!(part.stages.iter().map(|s| s.2 - s.1).collect::<Vec<_>>(), vec![2; 5]);
    }

    /// With layers that all cost the same, the rule's split has the least bottleneck of
    /// every way to hand out the longer ranges (checked against trying them all).
    #[test]
    fn the_rule_is_the_best_even_split_when_layers_cost_the_same() {
        let mut seed = 7u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) as f64 / (1u64 << 31) as f64
        };
        for _ in 0..300 {
            let layers = 2 + (next() * 40.0) as usize;
            let s = 2 + (next() * (layers.min(9) - 1) as f64) as usize;
            let s = s.min(layers);
            let g = group(layers, 0.1 + next(), next(), (next() * 3.0, next() * 3.0), 1.0, 1e9);
            let p = problem(layers, g, next() * 2.0);
            let rule = even_split(&p, s).unwrap().bottleneck;
            let r = layers % s;
            let mut best = f64::INFINITY;
            for mask in 0u32..(1 << s) {
                if mask.count_ones() as usize != r {
                    continue;
                }
                let (mut lo, mut worst) = (0, 0.0f64);
                for i in 0..s {
                    let hi = lo + layers / s + usize::from(mask & (1 << i) != 0);
                    worst = worst.max(p.stage_time(0, lo, hi, (i > 0).then_some(0), i + 1 == s).unwrap());
                    lo = hi;
                }
                best = best.min(worst);
            }
            assert!((rule - best).abs() <= 1e-9 * best, "{layers} layers in {s}: {rule} against {best}");
        }
    }

    /// A stage that does not fit says what it needs and has, in the tier it overflows
    /// most: its layers' bytes plus the embedding's on the first stage and the LM head's
    /// on the last.
    #[test]
    fn a_stage_that_does_not_fit_says_how_far() {
        let p = problem(10, group(10, 1.0, 0.0, (0.0, 0.0), 3.0, 10.0), 0.0);
        assert_eq!(even_split(&p, 3).unwrap_err(), (12.0, 10.0));
        assert!(even_split(&p, 4).is_ok());
        // two tiers: 3 bytes per layer of `weights` and 1 byte per layer of `kv`;
        // 10 layers in 3 stages of 4, 3 and 3 (the first has least else to do)
        let two = |(weights, kv): (f64, f64), first: [f64; 2], last: [f64; 2]| {
            let g = layers::Group {
                time: (0..=10).map(|l| l as f64).collect(),
                fixed: 0.0,
                first: 0.0,
                last: 2.0,
                mem: vec![(0..=10).map(|l| 3.0 * l as f64).collect(), (0..=10).map(|l| l as f64).collect()],
                mem_first: first.to_vec(),
                mem_last: last.to_vec(),
                capacity: vec![weights, kv],
            };
            problem(10, g, 0.25)
        };
        // the first stage overflows: 4 layers + 0.25 of embedding against 3.5
        assert_eq!(even_split(&two((100.0, 3.5), [0.5, 0.25], [0.5, 0.75]), 3).unwrap_err(), (4.25, 3.5));
        // the last: 3 layers + 2 of LM head against 4.5 (the first's 4.25 fits)
        assert_eq!(even_split(&two((100.0, 4.5), [0.5, 0.25], [0.5, 2.0]), 3).unwrap_err(), (5.0, 4.5));
        // the first tier overflows (12 + 0.5 against 10), the second has room (4.25 of 100)
        assert_eq!(even_split(&two((10.0, 100.0), [0.5, 0.25], [0.5, 0.75]), 3).unwrap_err(), (12.5, 10.0));
    }

    /// A stage's degree divides both the heads and the FFN's width: with 24 heads and an
    /// 8,192-wide FFN, pools of 6 chips form groups of 1, 2 or 4 chips (not 3 or 6), each
    /// pool's largest (4) in a pipeline across the pools, and any of them within one.
    #[test]
    fn a_stage_degree_divides_the_heads_and_the_ffn() {
        let text = "use std::chips::h100_sxm\nuse std::links::nvlink4\n\
                    model m {\n  source = \"t\"\n  layers = 8\n  hidden = 3072\n  heads = 24\n  kv_heads = 8\n  head_dim = 128\n  intermediate = 8192\n  vocab = 32000\n  tied_embeddings = false\n  max_context = 8192 tok\n}\n\
                    workload w {\n  input = 1k tok\n  output = 128 tok\n  concurrency = 1 ..= 8\n}\n\
                    cluster c {\n  pool a = h100_sxm x 6 over nvlink4\n  pool b = h100_sxm x 6 over nvlink4\n  link a <-> b over nvlink4\n}\n\
                    plan p {\n  model = m\n  cluster = c\n  workload = w\n  place decode.layers on any [a, b]\n}\n";
        let comp = crate::compile("degrees.hplan", text, None, crate::Mode::Check);
        assert!(!comp.has_errors(), "{:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
        let plan = &comp.program.plans[0];
        let inst = instance(plan, 4, &prefill_options(plan, &mut Vec::new()), &mut Vec::new());
        let pipelines: Vec<&DecodeOption> = inst.decode.iter().filter(|d| !d.layers.is_empty()).collect();
        let across: Vec<u64> =
            pipelines.iter().filter(|d| d.layers[0].pool != d.layers[1].pool).flat_map(|d| d.layers.iter().map(|s| s.tp)).collect();
        assert!(!across.is_empty() && across.iter().all(|&t| t == 4), "{across:?}");
        let mut within: Vec<u64> =
            pipelines.iter().filter(|d| d.layers.iter().all(|s| s.pool == d.layers[0].pool)).map(|d| d.layers[0].tp).collect();
        within.sort_unstable();
        within.dedup();
        assert_eq!(within, vec![1, 2]);
    }

    /// A speculative plan's verify step runs the pipeline within a pool over `k + 1`
    /// tokens per sequence: each stage's layers cost more than in the plain decode step
    /// of the same layout (single-chip stages: no all-reduce), and the activations crossing
    /// into the second stage are `B·(k + 1)` tokens'.
    #[test]
    fn a_verify_step_pipelines_k_plus_one_tokens_per_sequence() {
        let src = |spec: &str| {
            format!(
                "use std::chips::h100_sxm\nuse std::links::nvlink4\nuse std::models::{{llama3_1_70b, llama3_2_1b}}\n\
                 workload w {{\n  input = 1k tok\n  output = 128 tok\n  concurrency = 4\n}}\n\
                 cluster c {{\n  pool gpu = h100_sxm x 8 over nvlink4\n  pool small = h100_sxm x 1\n  link gpu <-> small over nvlink4\n}}\n\
                 plan p {{\n  model = llama3_1_70b {{ weights = fp8 }}\n  cluster = c\n  workload = w\n  place prefill on gpu\n  place decode.layers on gpu {{ tp = 1 }}\n{spec}}}\n"
            )
        };
        let spec = "  place draft on small\n  speculate {\n    draft = llama3_2_1b\n    lookahead = 4\n    acceptance = 0.7\n  }\n";
        let option = |text: &str| {
            let comp = crate::compile("verify.hplan", text, None, crate::Mode::Check);
            assert!(!comp.has_errors(), "{:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
            let plan = comp.program.plans[0].clone();
            let inst = instance(&plan, 4, &prefill_options(&plan, &mut Vec::new()), &mut Vec::new());
            let two = |d: &DecodeOption| d.layers.len() == 2 && d.layers.iter().all(|x| x.pool == 0 && x.tp == 1);
            let d = inst
                .decode
                .iter()
                .find_map(|d| match &d.shape {
                    StepShape::Speculative { target, .. } if two(target) => Some((**target).clone()),
                    _ if two(d) => Some(d.clone()),
                    _ => None,
                })
                .expect("a two-stage pipeline of single chips");
            (plan, d)
        };
        let (_, plain) = option(&src(""));
        let (plan, verify) = option(&src(spec));
        assert!(verify.layers[0].time > plain.layers[0].time, "{} against {}", verify.layers[0].time, plain.layers[0].time);
        let StepShape::Pipeline { cross_in, .. } = &verify.shape else { panic!("{:?}", verify.shape) };
        let link = plan.cluster.pools[0].link.as_ref().unwrap();
        // 2 microbatches of 2 sequences, 5 tokens each
        let want = cost::transfer_time(cost::activation_bytes(&plan.model, 2 * 5), link, 1);
        assert!((cross_in[1] - want).abs() <= 1e-12 * want, "{} against {want}", cross_in[1]);
    }

    /// Llama-3.1-405B (FP8) on 32 wafers named by `place decode.layers`: pipelines of 2 to
    /// 32 stages of 1, 2, 4, 8 or 16 wafers within the pool, each as the docs compose it
    /// (contiguous even ranges, `s·t` chips, TPOT `max(m·slowest stage, round trip)`,
    /// `m = min(s, 8, B)`), the fewest stages those that fit; a `tp` pin keeps its degree.
    #[test]
    fn wafers_pipeline_the_layers_as_documented() {
        let src = |pin: &str| {
            format!(
                "use std::chips::wse3\nuse std::links::swarmx\nuse std::models::llama3_1_405b\n\
                 workload w {{\n  input = 8k tok\n  output = 1k tok\n  concurrency = 1 ..= 64\n}}\n\
                 cluster c {{\n  pool wse = wse3 x 32 over swarmx\n}}\n\
                 plan p {{\n  model = llama3_1_405b {{ weights = fp8 }}\n  cluster = c\n  workload = w\n  place decode.layers on wse{pin}\n}}\n"
            )
        };
        for (pin, degrees) in [("", vec![1, 2, 4, 8, 16]), (" { tp = 1 }", vec![1])] {
            let comp = crate::compile("wafers.hplan", &src(pin), None, crate::Mode::Check);
            assert!(!comp.has_errors(), "{:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
            let plan = &comp.program.plans[0];
            for batch in [1, 5, 12, 64] {
                let inst = instance(plan, batch, &prefill_options(plan, &mut Vec::new()), &mut Vec::new());
                let within: Vec<&DecodeOption> = inst.decode.iter().filter(|d| d.layers.len() >= 2).collect();
                let mut seen = Vec::new();
                for d in &within {
                    let (s, t) = (d.layers.len() as u64, d.layers[0].tp);
                    assert!(d.layers.iter().all(|x| x.pool == 0 && x.tp == t));
                    assert_eq!(d.chips, vec![s * t]);
                    assert_eq!(d.microbatches, s.min(8).min(batch));
                    let lens: Vec<u64> = d.layers.iter().map(|x| x.end - x.first).collect();
                    assert!(
                        d.layers.windows(2).all(|w| w[0].end == w[1].first)
                            && d.layers[0].first == 0
                            && d.layers[s as usize - 1].end == 126
                    );
                    assert!(lens.iter().all(|&n| n == 126 / s || n == 126 / s + 1), "{lens:?}");
                    let StepShape::Pipeline { back, .. } = &d.shape else { panic!("a pipeline's shape") };
                    let slowest = d.layers.iter().map(|x| x.time).fold(0.0, f64::max);
                    let round = d.layers.iter().map(|x| x.time).sum::<f64>() + back;
                    let want = (d.microbatches as f64 * slowest).max(round);
                    assert!((d.tpot - want).abs() <= 1e-12 * want, "{} against {want}", d.tpot);
                    seen.push((t, s));
                }
                for &t in &degrees {
                    let stages: Vec<u64> = seen.iter().filter(|x| x.0 == t).map(|x| x.1).collect();
                    // 406 GB of FP8 weights over 44 GB wafers: at least 10 wafers' worth
                    let fewest = *stages.iter().min().unwrap_or(&0);
                    assert!(fewest * t >= 10, "tp {t}: {stages:?}");
                    assert_eq!(stages, (fewest..=32 / t).collect::<Vec<_>>(), "tp {t}");
                }
                assert!(seen.iter().all(|x| degrees.contains(&x.0)), "{pin}: {seen:?}");
            }
        }
    }
}
