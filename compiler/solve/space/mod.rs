//! The configuration space of a plan at one decode batch: every decode
//! option (attention placement, FFN colocated or disaggregated) and every
//! prefill option, each evaluated by the cost model. The ILP and the
//! brute-force oracle both work on this [`Instance`].

use super::layers;
use crate::cost::{self, Footprint};
use crate::ir::graph::{self, Step};
use crate::ir::{Pins, Plan, Stage};
use std::collections::HashMap;
use std::sync::Arc;

mod colocated;
mod pingpong;
mod pipeline;
mod prefill;
mod speculative;
mod turns;

use colocated::*;
use pingpong::*;
use pipeline::*;
pub use pipeline::{pipeline_problem, MAX_POOL_STAGES, PIPELINE_CACHE_ENTRIES};
pub use prefill::{aggregated_pools, prefill_option, prefill_options, PrefillGraphs};
use speculative::*;
pub use turns::Turns;
use turns::*;

/// Per-chip memory use of one stage on one pool tier.
#[derive(Clone, Debug, PartialEq)]
pub struct MemUse {
    pub stage: Stage,
    pub pool: usize,
    /// the tier's name (shared: a pipeline's stages each name the same tiers)
    pub tier: Arc<str>,
    pub used: f64,
    pub capacity: f64,
}

pub use crate::cost::step::DecodeBreakdown;

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
    /// which chips run which part of a step, and how
    pub layout: Layout,
    /// where the KV cache lives: (pool, share of the KV bytes)
    pub kv: Arc<[(usize, f64)]>,
    /// seconds per decode step (= TPOT)
    pub tpot: f64,
    /// chips used per pool
    pub chips: Arc<[u64]>,
    /// $/s of those chips (0 when prices are unknown)
    pub usd_per_s: f64,
    /// W of those chips (0 when powers are unknown)
    pub watts: f64,
    pub breakdown: DecodeBreakdown,
    pub memory: Arc<[MemUse]>,
    /// aggregated serving: the steps also prefill the arriving prompts (boxed: most
    /// options have none, and options are moved often)
    pub aggregated: Option<Box<Aggregated>>,
    /// several variants of the model served in turn: the steps of one round (`tpot` and
    /// `breakdown` are the round's; `None` for one model)
    pub turns: Option<Box<Turns>>,
}

/// How a decode option lays a step out over the chips: one variant per layout, each with
/// the chips it uses and the per-operation times the schedule lays out (the breakdown
/// holds the totals; times are uniform over layers: a layer's time is the stage's total
/// over the layer count). A new layout is a new variant: every `match` on it must say
/// what the layout does there.
#[derive(Clone, Debug, PartialEq)]
pub enum Layout {
    Colocated(Colocated),
    PingPong(PingPong),
    Pipeline(Pipeline),
    Speculative(Speculative),
}

/// Attention and FFN on the same chips: `dp` data-parallel attention groups of `tp` chips
/// of `pool` (1: none), the FFN over all `dp·tp` of them; each sequence's KV cache split
/// `cp` ways by context as well as by heads (1: by heads only; docs/cost-model.md §4f);
/// per layer, attention, the attention side's collective (with `cp > 1`, the
/// attention's combine too), the FFN, the FFN's collective (seconds). An MoE FFN's
/// experts divide over the `dp·tp` chips as `experts` says: whole experts per chip
/// (expert parallelism) or every expert split by width (tensor parallelism, §4h).
#[derive(Clone, Debug, PartialEq)]
pub struct Colocated {
    pub pool: usize,
    pub tp: u64,
    pub dp: u64,
    pub cp: u64,
    pub attn_collective: f64,
    pub ffn_collective: f64,
    pub experts: cost::MoeSplit,
}

/// Attention on `attn` (pool, chips of one group) as `dp` data-parallel groups (1: one
/// group), each holding its own sequences' KV cache, and the FFN on another pool, its
/// layers over `groups` groups of `ffn.1` chips, each holding a contiguous range of them
/// (1: every layer on the same chips), with `microbatches` microbatches ping-ponging
/// between the pools (1: none): per layer and microbatch, a group's attention `t_a` and
/// the FFN `t_e` over every group's tokens (each with its all-reduce) and one crossing
/// `t_c`; `other` is one group's microbatch's embedding and LM head (docs/cost-model.md
/// §4, §4d).
#[derive(Clone, Debug, PartialEq)]
pub struct PingPong {
    pub attn: (usize, u64),
    pub dp: u64,
    pub ffn: (usize, u64),
    pub groups: u64,
    pub microbatches: u64,
    pub t_a: f64,
    pub t_e: f64,
    pub t_c: f64,
    pub other: f64,
    /// how an MoE FFN's experts divide over a group's chips (§4h)
    pub experts: cost::MoeSplit,
}

/// A layer pipeline: its stages in order, `microbatches` in flight, the crossing into
/// each stage (0 for the first; included in the stage's time) and the sampled ids going
/// back to the first stage.
#[derive(Clone, Debug, PartialEq)]
pub struct Pipeline {
    pub stages: Vec<LayerStage>,
    pub microbatches: u64,
    pub cross_in: Vec<f64>,
    pub back: f64,
}

/// Speculative decoding: the draft model on `draft` (pool, chips), `lookahead` draft
/// steps of `draft_step` seconds, token ids out and verdicts back over a link (`link`
/// each way), the target's verify step (`target`), yielding `tokens` tokens per round
/// on average.
#[derive(Clone, Debug, PartialEq)]
pub struct Speculative {
    pub draft: (usize, u64),
    pub lookahead: u64,
    pub draft_step: f64,
    pub link: f64,
    pub tokens: f64,
    pub target: Box<DecodeOption>,
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

/// One stage of a prefill pipeline within a pool (docs/cost-model.md §14): layers
/// `first..end` of the prompt on one tensor-parallel group, and what its time is made of.
#[derive(Clone, Debug, PartialEq)]
pub struct PrefillStage {
    pub first: u64,
    pub end: u64,
    /// its layers' operations (the embedding on the first stage, the LM head on the last),
    /// with the chip's per-layer fixed cost
    pub compute: f64,
    /// its layers' tensor-parallel all-reduces
    pub allreduce: f64,
    /// the chip's per-step fixed cost (the first stage also schedules the sequence)
    pub overhead: f64,
    /// passing the prompt's activations into the stage (0 for the first)
    pub crossing: f64,
    /// a prompt passed along in chunks: each chunk's time on this stage (its share of
    /// the four parts above, which are the sums over chunks); empty for a whole prompt
    pub chunks: Vec<f64>,
}

impl PrefillStage {
    pub fn time(&self) -> f64 {
        self.compute + self.allreduce + self.overhead + self.crossing
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct PrefillOption {
    pub pool: usize,
    pub tp: u64,
    /// pipeline stages of `tp` chips each, one after another over the pool's own link
    /// (1: the whole model on one tensor-parallel group)
    pub pp: u64,
    /// groups of `tp` chips that split the prompt by context, each prefilling its share
    /// and passing its cache around a ring (1: none; docs/cost-model.md §14b)
    pub cp: u64,
    /// seconds to prefill one request (a pipeline's: every stage in turn, or its chunks
    /// through the stages, [`cost::pipelined_chunks`])
    pub time: f64,
    /// seconds between the prompts one replica starts: `time`, or a pipeline's slowest
    /// stage (the stages work on successive prompts at once)
    pub interval: f64,
    /// a pipeline's stages in order (empty when `pp` = 1)
    pub stages: Vec<PrefillStage>,
    /// of `time`, the tensor-parallel all-reduces (two per layer) and, split by
    /// context, the KV ring
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

/// The least that a choice's prefill adds to its totals beyond its decode option's own
/// ([`Instance::alone`]), over the prefill options that can feed that option (each
/// figure's least on its own, so no one option need have them all). A choice of decode
/// option `d` at `x` tokens/s, prefill option `p` and `r` replicas has `r ≥ λ·s` (λ =
/// x / O requests/s, `s` the option's seconds per prompt) and `r ≥ 1`, so with `N_p`
/// any of `p`'s dollars/s, chips and watts per replica it adds at least `x·(s/O)·N_p`
/// and at least `N_p`, and `p`'s TTFT.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fed {
    /// dollars/s, chips and watts per token/s of decode: `(s/O)·N_p` (0 for aggregated
    /// serving, which prefills on the decode chips)
    pub per_token: [f64; 3],
    /// dollars/s, chips and watts of one replica
    pub one: [f64; 3],
    /// the TTFT the pair adds beyond the decode option's own: prefill and KV transfer
    pub ttft: f64,
}

/// [`Instance::fed`]'s answers so far, per KV placement and way of serving.
#[derive(Default)]
pub struct Feeds<'a> {
    groups: Vec<FeedGroup<'a>>,
    /// the group the last answer came from
    last: usize,
}

/// A KV placement, whether its options prefill their own prompts, and what a prefill
/// that can feed them adds at the least ([`Instance::fed`]).
type FeedGroup<'a> = (&'a [(usize, f64)], bool, Option<Fed>);

/// One point of the space: a decode option, a prefill option and its replica count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    pub decode: usize,
    pub prefill: usize,
    pub replicas: u64,
}

/// The fewest replicas that do `need` replicas' work: `⌈need⌉`, at least 1, less a
/// billionth so that rounding (3.0000000001) does not add one.
pub fn fewest_replicas(need: f64) -> u64 {
    ceil_fast(need - 1e-9).max(1.0) as u64
}

/// `x.ceil()` for every `f64`, without the call to libm that `ceil` is on baseline
/// x86-64 (no rounding instruction before SSE4.1); the search rounds replica counts
/// for every pair of options it compares. At and beyond 2^52 every float is whole.
#[inline]
pub fn ceil_fast(x: f64) -> f64 {
    if x.abs() < 4_503_599_627_370_496.0 {
        let whole = (x as i64 as f64).copysign(x);
        if whole < x {
            whole + 1.0
        } else {
            whole
        }
    } else {
        x
    }
}

impl PrefillOption {
    /// Fewest replicas of it that keep up with `demand` requests/s: ⌈demand·s⌉, `s` its
    /// interval between prompts, and with a replica pin exactly that many (more than the
    /// pin when the pin cannot keep up, which `max_replicas` then rejects).
    pub fn replicas_for(&self, demand: f64) -> u64 {
        let fewest = fewest_replicas(demand * self.interval);
        self.fixed_replicas.map_or(fewest, |n| n.max(fewest))
    }

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

    /// A pipeline's prompt in this many chunks, each passed to the next stage as soon as
    /// it is done (its stages' [`PrefillStage::chunks`]; 1: the whole prompt passes each
    /// stage in turn).
    pub fn chunks(&self) -> u64 {
        self.stages.first().map_or(1, |st| st.chunks.len().max(1) as u64)
    }

    /// Chips one replica takes: `tp` chips per stage or per share of the context.
    pub fn chips(&self) -> u64 {
        self.tp * self.pp * self.cp
    }

    /// The aggregated-serving option of pool `pool`: prefill on the decode chips.
    pub fn aggregated_on(pool: usize, pools: usize) -> PrefillOption {
        PrefillOption {
            pool,
            tp: 0,
            pp: 1,
            cp: 1,
            time: 0.0,
            interval: 0.0,
            stages: Vec::new(),
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

    /// Requests per second one replica prefills, `1 / interval` (0 for aggregated
    /// serving: the decode option prefills its own).
    pub fn rate(&self) -> f64 {
        if self.aggregated || self.interval <= 0.0 {
            0.0
        } else {
            1.0 / self.interval
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

    /// The totals of decode option `d` alone: its own chips, dollars and watts at its
    /// tokens/s, no time to a first token. No choice that takes `d` has totals below
    /// these in any goal (a choice adds its prefill's chips, dollars, watts and TTFT to
    /// the numerators and keeps the tokens/s); with what its prefill adds at the least
    /// ([`Instance::fed`]), the floor the searches, the pair oracle and the ILP's column
    /// presolve order and prune decode options by (`solve::Goal::floor`).
    pub fn alone(&self, d: usize) -> Totals {
        let o = &self.decode[d];
        let chips = o.chips.iter().sum();
        Totals {
            usd_per_s: o.usd_per_s,
            tokens_per_s: self.throughput(d),
            chips,
            decode_chips: chips,
            watts: o.watts,
            tpot: o.tpot,
            ttft: 0.0,
        }
    }

    /// What the prefill options that can feed decode option `d` add to any choice with
    /// it, at the least ([`Fed`]); `None` where none can (no choice takes `d`). `feeds`
    /// keeps the answer per KV placement and way of serving, which options share.
    pub fn fed<'a>(&'a self, d: usize, feeds: &mut Feeds<'a>) -> Option<Fed> {
        let o = &self.decode[d];
        let aggregated = o.aggregated.is_some();
        // options of one placement share their KV list, and come in runs
        let same = |(kv, a, _): &FeedGroup| *a == aggregated && (std::ptr::eq(*kv, &*o.kv) || *kv == &*o.kv);
        if let Some(g) = feeds.groups.get(feeds.last).filter(|g| same(g)) {
            return g.2;
        }
        if let Some(i) = feeds.groups.iter().position(same) {
            feeds.last = i;
            return feeds.groups[i].2;
        }
        let mut least: Option<Fed> = None;
        for p in &self.prefill {
            let Some(ttft) = Self::prefill_ttft(p, &o.kv, aggregated) else { continue };
            if self.ttft_limit.is_some_and(|l| ttft > l) {
                continue;
            }
            // the share of a replica that keeps up with one token/s of decode: its
            // seconds per prompt over the output tokens (none for aggregated serving)
            let c = if aggregated || p.aggregated { 0.0 } else { p.interval / self.output_tokens };
            let one = [p.usd_per_s, p.chips() as f64, p.watts];
            let f = Fed { per_token: one.map(|x| c * x), one, ttft };
            least = Some(match least {
                None => f,
                Some(l) => Fed {
                    per_token: [0, 1, 2].map(|k| l.per_token[k].min(f.per_token[k])),
                    one: [0, 1, 2].map(|k| l.one[k].min(f.one[k])),
                    ttft: l.ttft.min(f.ttft),
                },
            });
        }
        feeds.last = feeds.groups.len();
        feeds.groups.push((&o.kv, aggregated, least));
        least
    }

    /// Tokens per second of decode option `d`: B / τ.
    pub fn throughput(&self, d: usize) -> f64 {
        self.batch as f64 / self.decode[d].tpot
    }

    /// Fewest prefill replicas that keep up with decode option `d`: ⌈λ·s⌉, `s` the
    /// option's interval between prompts.
    pub fn min_replicas(&self, d: usize, p: &PrefillOption) -> u64 {
        if p.aggregated {
            return 1;
        }
        p.replicas_for(self.prefill_demand(d))
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
        self.decode_allowed_under(d, self.tpot_limit)
    }

    /// [`Instance::decode_allowed`] with `tpot_limit` in place of the space's own TPOT
    /// bound (an SLO sweep's value).
    pub fn decode_allowed_under(&self, d: &DecodeOption, tpot_limit: Option<f64>) -> bool {
        tpot_limit.is_none_or(|l| d.tpot <= l) && d.aggregated.as_ref().is_none_or(|a| self.ttft_limit.is_none_or(|l| a.ttft <= l))
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
            let used = d.chips[pool] + if p.pool == pool { c.replicas * p.chips() } else { 0 };
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
        self.decode[c.decode].chips.iter().sum::<u64>() + c.replicas * self.prefill[c.prefill].chips()
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

/// `step` with `1/cp` of its context: what each of `cp` chips that split every
/// sequence's KV cache by context attends over (docs/cost-model.md §4f).
fn shard_step(step: Step, cp: u64) -> Step {
    let part = |context: f64| context / cp.max(1) as f64;
    match step {
        Step::Decode { batch, context } => Step::Decode { batch, context: part(context) },
        Step::Verify { batch, per_seq, context } => Step::Verify { batch, per_seq, context: part(context) },
        Step::Mixed { batch, context, prefill, prefix } => Step::Mixed { batch, context: part(context), prefill, prefix },
        Step::Prefill { .. } => step,
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

/// Per-tier memory use of footprint `f` of one of `m`'s variants on a chip of `pool`, with
/// every variant resident ([`cost::resident`]), and whether it fits.
fn mem_uses(m: &crate::ir::Model, stage: Stage, pool: usize, chip: &crate::ir::Chip, f: Footprint) -> (Vec<MemUse>, bool) {
    let (used, ok) = cost::fits(chip, cost::resident(f, m.variants, stage != Stage::Prefill));
    (used.into_iter().map(|(tier, used, capacity)| MemUse { stage, pool, tier, used, capacity }).collect(), ok)
}

/// Decode options at batch `batch`: of one model, or of its variants served in turn
/// ([`turn_options`]).
pub fn decode_options(plan: &Plan, batch: u64, excluded: &mut Vec<Excluded>) -> Vec<DecodeOption> {
    decode_options_of(plan, batch, Kinds::All, excluded)
}

/// Which decode options a space is built with: all, or only those that prefill their
/// own prompts inside the decode steps (aggregated serving): the space a search for
/// the best aggregated point needs, built without the options it would leave out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kinds {
    All,
    Aggregated,
}

/// [`decode_options`] of these kinds: with [`Kinds::Aggregated`], the aggregated ones
/// of [`decode_options`], in its order (`tests/batches.rs`); `excluded` then misses
/// the reasons of the layouts not built.
pub fn decode_options_of(plan: &Plan, batch: u64, kinds: Kinds, excluded: &mut Vec<Excluded>) -> Vec<DecodeOption> {
    decode_options_in(plan, batch, kinds, excluded, Vec::new(), None)
}

/// What building one plan's spaces at many batches, at the plan's figures, shares (a
/// search builds dozens, a bisection step as many again; a search's forks share it):
/// layer pipelines' stages priced (at most [`PIPELINE_CACHE_ENTRIES`]) and ping-pong's
/// FFN layer groups, which hold weights alone and so are the same at every batch (one
/// per FFN pool, degree and expert split of the plan). A space built without one
/// shares them across its own layouts only.
pub struct SpaceCache {
    stages: Memo<pipeline::StageKey, Option<Arc<pipeline::Priced>>>,
    ffn_groups: Memo<pingpong::FfnKey, Option<pingpong::FfnGroups>>,
}

impl Default for SpaceCache {
    fn default() -> SpaceCache {
        SpaceCache { stages: Memo::bounded(PIPELINE_CACHE_ENTRIES), ffn_groups: Memo::bounded(PIPELINE_CACHE_ENTRIES) }
    }
}

/// What a function of its key alone gives, by key, for every thread: at most `bound`
/// entries, and it starts again empty when full (the values are worked out again, the
/// same). Two threads asking for a missing key at once may both work it out.
struct Memo<K, V> {
    map: std::sync::Mutex<rustc_hash::FxHashMap<K, V>>,
    bound: usize,
}

impl<K: std::hash::Hash + Eq, V: Clone> Memo<K, V> {
    fn bounded(bound: usize) -> Memo<K, V> {
        Memo { map: Default::default(), bound }
    }

    /// The value of `key`, worked out by `make` where it is not held.
    fn get_or(&self, key: K, make: impl FnOnce() -> V) -> V {
        let lock = || self.map.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = lock().get(&key) {
            return v.clone();
        }
        let v = make();
        let mut map = lock();
        if map.len() >= self.bound {
            map.clear();
        }
        map.insert(key, v.clone());
        v
    }

    #[cfg(test)]
    fn held(&self) -> usize {
        self.map.lock().unwrap().len()
    }
}

/// [`decode_options_of`], built in `buf` (empty; a list whose room a caller building many
/// spaces keeps from one to the next, rather than growing a new one each time), the
/// layer pipelines' stages and ping-pong's FFN layer groups worked out once per `cache`
/// where given (one for every space of the plan at its figures: [`SpaceCache`]).
pub fn decode_options_in(
    plan: &Plan,
    batch: u64,
    kinds: Kinds,
    excluded: &mut Vec<Excluded>,
    buf: Vec<DecodeOption>,
    cache: Option<&SpaceCache>,
) -> Vec<DecodeOption> {
    decode_options_only(plan, batch, kinds, None, excluded, buf, cache)
}

/// [`decode_options_in`] restricted to the ping-pong classes `only` keeps, where given:
/// the full space's options but for the other ping-pong classes', in its order (a model
/// of several variants served in turn, whose options hold each variant's, builds them
/// all).
pub fn decode_options_only(
    plan: &Plan,
    batch: u64,
    kinds: Kinds,
    only: Option<&Only>,
    excluded: &mut Vec<Excluded>,
    buf: Vec<DecodeOption>,
    cache: Option<&SpaceCache>,
) -> Vec<DecodeOption> {
    let mut out = if plan.model.variants > 1 {
        turn_options(plan, batch, excluded)
    } else {
        one_variant_options(plan, batch, kinds, only, excluded, buf, cache)
    };
    if kinds == Kinds::Aggregated {
        out.retain(|d| d.aggregated.is_some());
    }
    // of interchangeable pools, only the options on each kind's first ones: any other
    // has its twin there, at the same figures (`ir::pool_kinds`)
    let every: Vec<usize> = (0..plan.cluster.pools.len()).collect();
    let alike = crate::ir::pool_kinds(&plan.cluster, &plan.placements, &every);
    if alike.iter().any(|k| k.len() > 1) {
        out.retain(|d| on_first_pools(&alike, d));
    }
    out
}

/// Whether decode option `d` uses, of each kind of interchangeable pools (`alike`),
/// only its first ones: no pool of a kind without every pool before it in the kind.
pub fn on_first_pools(alike: &[Vec<usize>], d: &DecodeOption) -> bool {
    let uses = |p: usize| d.chips.get(p).is_some_and(|&n| n > 0);
    alike.iter().all(|k| k.iter().skip_while(|&&p| uses(p)).all(|&p| !uses(p)))
}

/// Decode options of one model (one variant) stepping over `batch` sequences.
fn one_variant_options(
    plan: &Plan,
    batch: u64,
    kinds: Kinds,
    only: Option<&Only>,
    excluded: &mut Vec<Excluded>,
    buf: Vec<DecodeOption>,
    cache: Option<&SpaceCache>,
) -> Vec<DecodeOption> {
    let mut out = match &plan.speculation {
        None => {
            let mut out = target_options(plan, batch, 1, kinds, only, excluded, (buf, cache));
            if !plan.serving.allows_disaggregated() {
                out.retain(|d| d.aggregated.is_some());
            }
            out
        }
        Some(s) => {
            let targets = target_options(plan, batch, s.lookahead + 1, Kinds::All, None, excluded, (Vec::new(), cache));
            speculative_options(plan, batch, s, targets, excluded)
        }
    };
    // every option takes the pins of decode stages that have none
    if [Stage::DecodeAttn, Stage::DecodeFfn, Stage::Draft].iter().any(|&s| !plan.placement(s).pins.is_empty()) {
        out.retain(|d| pinned(plan, d));
    }
    out
}

/// Whether a decode option takes every pinned decision of the plan's decode stages
/// (`place decode.attn on gpu { tp = 4 }`). A layer pipeline has no attention or FFN
/// degree of its own: pins on either leave it out.
pub fn pinned(plan: &Plan, d: &DecodeOption) -> bool {
    let attn = &plan.placement(Stage::DecodeAttn).pins;
    let ffn = &plan.placement(Stage::DecodeFfn).pins;
    let draft = &plan.placement(Stage::Draft).pins;
    let (tp, dp, (ffn_tp, ffn_ep), microbatches) = match &d.layout {
        Layout::Speculative(s) => return Pins::allows(draft.tp, s.draft.1) && pinned(plan, &s.target),
        // a layer pipeline has no attention or FFN degree of its own
        Layout::Pipeline(_) => return attn.is_empty() && ffn.is_empty(),
        // the FFN's chips: all of the attention's when colocated
        Layout::Colocated(c) => (c.tp, c.dp, ffn_degrees(&plan.model, c.tp * c.dp, c.experts), 1),
        Layout::PingPong(p) => (p.attn.1, p.dp, ffn_degrees(&plan.model, p.ffn.1, p.experts), p.microbatches),
    };
    Pins::allows(attn.tp, tp)
        && Pins::allows(attn.dp, dp)
        && Pins::allows(attn.cp, d.context_split())
        && Pins::allows(ffn.tp, ffn_tp)
        && Pins::allows(ffn.ep, ffn_ep)
        && Pins::allows(ffn.microbatches, microbatches)
}

/// An FFN over `n` chips as its `tp` and `ep` degrees: a dense FFN's `n` is its tensor
/// parallelism (`ep` is not a decision of it: `n` too, so that no pin of it is read as
/// one); an MoE's is expert parallelism, or tensor parallelism inside every expert.
pub fn ffn_degrees(m: &crate::ir::Model, n: u64, experts: cost::MoeSplit) -> (u64, u64) {
    match (m.moe, experts) {
        (None, _) => (n, n),
        (Some(_), cost::MoeSplit::Experts) => (1, n),
        (Some(_), cost::MoeSplit::Width) => (n, 1),
    }
}

/// The ways an FFN over `n` chips may divide that the FFN's pins allow: a dense FFN by
/// width (`Experts` stands for its one way); an MoE's by whole experts, and where
/// `n > 1` divides the experts' width, by width too (docs/cost-model.md §4h).
pub(super) fn ffn_splits(m: &crate::ir::Model, pins: &Pins, n: u64) -> Vec<cost::MoeSplit> {
    let allowed = |s| {
        let (tp, ep) = ffn_degrees(m, n, s);
        Pins::allows(pins.tp, tp) && Pins::allows(pins.ep, ep)
    };
    let mut out = Vec::new();
    if allowed(cost::MoeSplit::Experts) {
        out.push(cost::MoeSplit::Experts);
    }
    if m.experts_split_by_width(n) && allowed(cost::MoeSplit::Width) {
        out.push(cost::MoeSplit::Width);
    }
    out
}

/// Whether experts split by width over `n` chips of `chip` are offered beside whole
/// experts: where the chip's tables measure the split ([`cost::width_split_measured`];
/// the roofline cannot price what narrow expert GEMMs lose), or where a `tp` pin asks
/// for it (priced by the roofline then, as the report's table share shows).
pub(super) fn width_split_offered(pins: &Pins, graph: &graph::Graph, chip: &crate::ir::Chip, n: u64) -> bool {
    pins.tp.is_some() || cost::width_split_measured(graph, chip, n)
}

/// The embedding and LM head of a step's graph on `tp` chips of `chip`, split from the
/// attention layers for the breakdown.
fn head_time(m: &crate::ir::Model, graph: &graph::Graph, chip: &crate::ir::Chip, tp: u64) -> Option<f64> {
    let (mut t, price) = (0.0, cost::node_times(chip)?);
    for n in graph.nodes().filter(|n| n.layers.is_none()) {
        t += price(n, tp, m.kv_split(tp))?.time();
    }
    Some(t)
}

/// Decode options of the target model, each step over `per_seq` tokens per sequence
/// (1 normally; `k + 1` for a speculative verify step). With [`Kinds::Aggregated`] the
/// layouts that never prefill their own prompts (ping-pong, layer pipelines, a cache
/// split by context, colocated options without their aggregated twin, pools that may
/// not prefill) are not built: the caller keeps the aggregated options. With `only`, the
/// ping-pong options of no other class ([`Only`]). Built in `out` (empty; a caller
/// building many spaces passes the room it keeps between them), the layer pipelines'
/// stages and ping-pong's FFN layer groups worked out once per `cache` where given
/// ([`SpaceCache`]).
fn target_options(
    plan: &Plan,
    batch: u64,
    per_seq: u64,
    kinds: Kinds,
    only: Option<&Only>,
    excluded: &mut Vec<Excluded>,
    (mut out, cache): (Vec<DecodeOption>, Option<&SpaceCache>),
) -> Vec<DecodeOption> {
    debug_assert!(out.is_empty());
    // without a plan-wide cache, one for this batch's layouts
    let own = SpaceCache::default();
    let cache = cache.unwrap_or(&own);
    let all = kinds == Kinds::All;
    let m = &plan.model;
    let cl = &plan.cluster;
    let (ctx_mean, ctx_max) = decode_contexts(plan);
    let step = |b: u64| decode_step(plan, b, per_seq);
    let g = graph::build(m, step(batch));
    // the step's graphs at 1/cp of the context, by cp (KV parallelism, §4f)
    let mut shards: Vec<(u64, graph::Graph)> = Vec::new();
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
    let other_time = |chip: &crate::ir::Chip, tp: u64| head_time(m, &g, chip, tp);
    // Graphs of one microbatch for ping-pong between pools: m in MICROBATCHES up to the batch,
    // each of at most ⌈B/m⌉ sequences (m = 1 is the step's own graph).
    let disaggregable = ffn_may_leave_attention(plan);
    let mb_graphs: Vec<(u64, graph::Graph)> = MICROBATCHES
        .iter()
        .filter(|&&mb| mb > 1 && mb <= batch && disaggregable && all)
        .map(|&mb| (mb, graph::build(m, step(batch.div_ceil(mb)))))
        .collect();
    // Graphs of the fullest data-parallel group's ⌈B/d⌉ sequences, d = 2, 4, ... up to B.
    let largest = plan.placement(Stage::DecodeAttn).pools.iter().filter(|&&a| ffn_pools.contains(&a)).map(|&a| cl.pools[a].count).max();
    let mut dp_graphs: Vec<(u64, graph::Graph)> = Vec::new();
    let mut counts: Vec<u64> = powers_of_two(2, largest.unwrap_or(0)).collect();
    counts.extend(whole_pool_groups(plan));
    counts.sort_unstable();
    counts.dedup();
    for d in counts.into_iter().filter(|&d| d <= batch) {
        dp_graphs.push((d, graph::build(m, step(batch.div_ceil(d)))));
    }
    // the microbatch graphs, the step's own first
    let mb_all: Vec<(u64, &graph::Graph)> = std::iter::once((1u64, &g)).chain(mb_graphs.iter().map(|(mb, gm)| (*mb, gm))).collect();
    // what ping-pong options share whatever attention pool and degree they pair with
    let mut pingpong = PingPongCache::new(cache);
    for &a in &plan.placement(Stage::DecodeAttn).pools {
        if !all && !agg_pools.contains(&a) {
            continue;
        }
        let pa = &cl.pools[a];
        let (attn_pins, ffn_pins) = (&plan.placement(Stage::DecodeAttn).pins, &plan.placement(Stage::DecodeFfn).pins);
        // pinned degrees are the only ones tried (and so the only ones explanations cite)
        for ta in tp_degrees(pa.domain(), m.heads, pa.link.is_some()).into_iter().filter(|t| Pins::allows(attn_pins.tp, *t)) {
            let Some(attn) = cost::stage_time(&g, &[Stage::DecodeAttn], &pa.chip, ta, m.kv_split(ta)) else {
                excluded.push(Excluded::Precision { pool: a });
                break;
            };
            let Some(other) = other_time(&pa.chip, ta) else { break };
            let ar = |link: Option<&crate::ir::Link>, tp: u64| link.map(|l| cost::allreduce_on(&pa.chip, act, tp, l)).unwrap_or(0.0);
            // Colocated: attention and FFN on the same chips; two all-reduces per layer. An
            // MoE's experts over the group whole, or each split by width (§4h).
            let splits = ffn_splits(m, ffn_pins, ta);
            if ffn_pools.contains(&a) && m.ffn_split_dim() % ta == 0 && Pins::allows(attn_pins.dp, 1) && !splits.is_empty() {
                let fp = cost::decode_attn_footprint(m, ta, batch, ctx_max, true);
                let (memory, ok) = mem_uses(m, Stage::DecodeAttn, a, &pa.chip, fp);
                match cost::ffn_stage_time(&g, m, &pa.chip, ta, cost::MoeSplit::Experts) {
                    None => excluded.push(Excluded::Precision { pool: a }),
                    Some(by_experts) => {
                        if !ok {
                            excluded.push(memory_excluded(Stage::DecodeAttn, a, ta, &memory));
                        } else if Pins::allows(attn_pins.cp, 1) {
                            for &experts in &splits {
                                let ffn = match experts {
                                    cost::MoeSplit::Experts => by_experts,
                                    cost::MoeSplit::Width => match cost::ffn_stage_time(&g, m, &pa.chip, ta, experts) {
                                        Some(w) if width_split_offered(ffn_pins, &g, &pa.chip, ta) => w,
                                        _ => continue,
                                    },
                                };
                                let step = ColocatedStep {
                                    attn,
                                    ffn,
                                    other,
                                    collectives: (ar(pa.link.as_ref(), ta), ar(pa.link.as_ref(), ta)),
                                    sequences: batch,
                                    experts,
                                };
                                let plain = colocated_option(plan, a, (ta, 1, 1), step, memory.clone());
                                let agg =
                                    if agg_pools.contains(&a) { aggregated_option(plan, &plain, batch, fp, &mixed_graphs) } else { None };
                                if all {
                                    out.push(plain);
                                }
                                out.extend(agg);
                            }
                        }
                        // the chips beyond the KV heads split the cache by context, whether
                        // or not their copies of it fit (experts whole: §4h)
                        let cp = m.context_split(ta);
                        if all && cp > 1 && splits.contains(&cost::MoeSplit::Experts) && Pins::allows(attn_pins.cp, cp) && pa.link.is_some()
                        {
                            if !shards.iter().any(|(k, _)| *k == cp) {
                                shards.push((cp, graph::build(m, shard_step(decode_step(plan, batch, per_seq), cp))));
                            }
                            let shard = shards.iter().find(|(k, _)| *k == cp).map(|(_, g)| g);
                            let ffn_part = (by_experts, ar(pa.link.as_ref(), ta), ta);
                            out.extend(shard.and_then(|g| split_option(plan, (a, ta, 1), g, ffn_part, excluded)));
                        }
                    }
                }
            }
            // Attention data parallelism with the FFN colocated (docs/cost-model.md §4d).
            if ffn_pools.contains(&a) {
                let graphs = StepGraphs { batch, per_seq, full: &g, groups: &dp_graphs };
                let mixed = if agg_pools.contains(&a) { mixed_graphs.as_slice() } else { &[] };
                out.extend(data_parallel_options(plan, a, ta, &graphs, (mixed, &mut group_graphs), excluded));
            }
            // Disaggregated: FFN on another pool; two crossings per layer.
            if all {
                let graphs = MicrobatchGraphs { batch, per_seq, full: &g, microbatches: &mb_all };
                pingpong_options(plan, (a, ta), &graphs, &mut pingpong, only, excluded, &mut out);
            }
        }
    }
    if all {
        out.extend(pipeline_options(plan, batch, per_seq, excluded, cache));
    }
    out
}

pub use crate::ir::MICROBATCHES;

/// The powers of two from `from` (itself one) up to `most`, ascending.
pub(super) fn powers_of_two(from: u64, most: u64) -> impl Iterator<Item = u64> {
    std::iter::successors(Some(from), |d| d.checked_mul(2)).take_while(move |&d| d <= most)
}

/// The sizes of a group of `pool`'s chips that fills it: a scale-up domain (a node) and
/// the whole pool.
fn filled(pool: &crate::ir::Pool) -> [u64; 2] {
    [pool.domain(), pool.count]
}

/// The counts of data-parallel attention groups besides the powers of two: those whose
/// groups of `t` chips fill a node or a whole pool that runs attention and the FFN
/// (`domain/t` or `chips/t`, `t` an attention degree of the pool, where the FFN spreads
/// over those chips: [`crate::ir::Model::ffn_spreads_over`]), as NVL72 racks serve
/// a wide-EP MoE (72 groups of one GPU, the experts over all 72; docs/cost-model.md
/// §4d), ascending. A layout of `d` groups exists from batch `d`: each is a seed of the
/// search over every batch (`solve::batch::seeds`).
pub fn whole_pool_groups(plan: &Plan) -> Vec<u64> {
    let (m, cl) = (&plan.model, &plan.cluster);
    let ffn = &plan.placement(Stage::DecodeFfn).pools;
    let mut out = Vec::new();
    for &a in plan.placement(Stage::DecodeAttn).pools.iter().filter(|a| ffn.contains(a)) {
        let pool = &cl.pools[a];
        for t in tp_degrees(pool.domain(), m.heads, pool.link.is_some()) {
            // only where the FFN can spread over them (a dense FFN's width divides)
            for whole in filled(pool).into_iter().filter(|&w| m.ffn_spreads_over(w) && w % t == 0) {
                let d = whole / t;
                if d >= 2 && !d.is_power_of_two() {
                    out.push(d);
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether `d` data-parallel groups of `t` chips of `pool` are a layout the space has:
/// a power of two, or groups that fill a node or the pool ([`whole_pool_groups`]).
pub fn dp_count_allowed(pool: &crate::ir::Pool, d: u64, t: u64) -> bool {
    d.is_power_of_two() || filled(pool).contains(&(d * t))
}

/// Whether the plan may run the decode FFN on another pool than attention (ping-pong
/// layouts of several microbatches exist then).
pub fn ffn_may_leave_attention(plan: &Plan) -> bool {
    let attn = &plan.placement(Stage::DecodeAttn).pools;
    plan.placement(Stage::DecodeFfn).pools.iter().any(|&f| attn.iter().any(|&a| a != f))
}

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

impl Instance {
    /// This space with its chips' prices and powers taken from `plan` (the plan it was
    /// built for with a price or a power moved, `Figure::moves_only_spend`): the same
    /// options, each one's dollars and watts taken again as they were first
    /// ([`cost::step::spend`] of its chips, a prefill replica's chips at its pool's
    /// price), equal to the space built for `plan` (`tests/uncertainty.rs`).
    pub fn repriced(&self, plan: &Plan) -> Instance {
        let pools = &plan.cluster.pools;
        let mut inst = self.clone();
        for d in &mut inst.decode {
            d.reprice(pools);
        }
        for p in &mut inst.prefill {
            p.reprice(pools);
        }
        inst.priced = pools.iter().any(|p| p.chip.price.is_some_and(|x| x > 0.0));
        inst
    }
}

impl DecodeOption {
    /// Its dollars and watts (and a speculative target's, a round's steps') at `pools`'
    /// prices and powers.
    fn reprice(&mut self, pools: &[crate::ir::Pool]) {
        (self.usd_per_s, self.watts) = cost::step::spend(pools, &self.chips);
        if let Layout::Speculative(s) = &mut self.layout {
            s.target.reprice(pools);
        }
        if let Some(t) = &mut self.turns {
            t.hi.reprice(pools);
            if let Some(lo) = &mut t.lo {
                lo.reprice(pools);
            }
        }
    }
}

impl PrefillOption {
    /// A replica's dollars and watts at `pools`' prices and powers (none for prefill on
    /// the decode chips).
    pub fn reprice(&mut self, pools: &[crate::ir::Pool]) {
        if self.aggregated {
            return;
        }
        let chip = &pools[self.pool].chip;
        self.usd_per_s = chip.price.unwrap_or(0.0) * self.chips() as f64;
        self.watts = chip.deployed_power().unwrap_or(0.0) * self.chips() as f64;
    }
}

/// The configuration space of `plan` at decode batch `batch` over the shared prefill options.
pub fn instance(plan: &Plan, batch: u64, prefill: &[PrefillOption], excluded: &mut Vec<Excluded>) -> Instance {
    instance_over(plan, batch, decode_options(plan, batch, excluded), prefill)
}

/// The configuration space of `plan` at decode batch `batch` with these decode options
/// (those [`decode_options`] gives, or another plan's that has the same: one whose
/// figures differ only where no decode option reads them) and prefill options.
pub fn instance_over(plan: &Plan, batch: u64, decode: Vec<DecodeOption>, prefill: &[PrefillOption]) -> Instance {
    let limit = |m: crate::ir::SloMetric| plan.mean_limit(m).map(|s| s.limit);
    let free = plan.free_inventory;
    let mut inst = Instance {
        batch,
        output_tokens: plan.workload.output_tokens as f64,
        pool_sizes: plan.cluster.pools.iter().map(|p| (!free).then_some(p.count)).collect(),
        decode,
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

/// A decode option's layout without its times: what makes it the same configuration at
/// another batch (`solve::batch` numbers them once per search): pools, degrees,
/// microbatches, the draft, aggregated serving, not where a pipeline's layers are cut.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LayoutKey {
    Colocated { pool: usize, tp: u64, dp: u64, cp: u64, experts: cost::MoeSplit, aggregated: bool },
    PingPong { attn: (usize, u64), dp: u64, ffn: (usize, u64), groups: u64, microbatches: u64, experts: cost::MoeSplit },
    Pipeline { stages: Vec<(usize, u64)>, microbatches: u64 },
    Speculative { draft: (usize, u64), target: Box<LayoutKey> },
}

/// The packed class ([`DecodeOption::packed_class`]) of ping-pong options with attention
/// on `attn` (pool, chips of a group) as `dp` groups and the FFN on `ffn` (pool, chips of
/// a group) in `groups` layer groups, its experts split as `experts`: known before the
/// options are priced, so that a space restricted to some classes ([`Only`]) builds no
/// other. `None` where a field does not fit.
pub fn pingpong_class(attn: (usize, u64), dp: u64, ffn: (usize, u64), groups: u64, experts: cost::MoeSplit) -> Option<u128> {
    fn put(acc: u128, v: u64, bits: u32) -> Option<u128> {
        (v < 1u64 << bits).then_some(acc << bits | v as u128)
    }
    let k = put(2, attn.0 as u64, 16)?;
    let k = put(k, attn.1, 16)?;
    let k = put(k, dp, 16)?;
    let k = put(k, ffn.0 as u64, 16)?;
    let k = put(k, ffn.1, 16)?;
    let k = put(k, groups, 16)?;
    put(k, u64::from(experts == cost::MoeSplit::Width), 1)
}

/// The ping-pong classes a restricted space is built with ([`pingpong_class`]): every
/// option of another layout, and every ping-pong option whose class does not pack, is
/// built as in the full space, in the same order; of the other ping-pong options only
/// those of these classes. A search over every batch builds the batches inside a range
/// so once it knows that no option of any other class can beat its best point anywhere
/// in the range (`solve::batch`, docs/solver.md): ping-pong options are nearly all of a
/// space with several pools, and few of them can.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Only(rustc_hash::FxHashSet<u128>);

impl Only {
    pub fn new(classes: impl IntoIterator<Item = u128>) -> Only {
        Only(classes.into_iter().collect())
    }

    /// Whether a ping-pong option of packed class `class` is built (`None`: one that
    /// does not pack, always built).
    pub fn allows(&self, class: Option<u128>) -> bool {
        class.is_none_or(|k| self.0.contains(&k))
    }
}

impl DecodeOption {
    /// The option of `layout` with its KV cache on `kv`, `chips` per pool, its step (TPOT
    /// and breakdown, composed by `cost::step`) and memory: its $/s and W are `spend` of
    /// its chips (`cost::step::spend` of the cluster's pools, the same for every layout;
    /// options of the same chips may share one worked out once). The lists are shared
    /// (options that differ only in their step share them: no copy per option).
    pub fn priced(
        spend: impl FnOnce(&[u64]) -> (f64, f64),
        layout: Layout,
        kv: impl Into<Arc<[(usize, f64)]>>,
        chips: impl Into<Arc<[u64]>>,
        (tpot, breakdown): (f64, DecodeBreakdown),
        memory: impl Into<Arc<[MemUse]>>,
    ) -> DecodeOption {
        let chips = chips.into();
        let (usd_per_s, watts) = spend(&chips);
        DecodeOption {
            layout,
            kv: kv.into(),
            tpot,
            chips,
            usd_per_s,
            watts,
            breakdown,
            memory: memory.into(),
            aggregated: None,
            turns: None,
        }
    }

    pub fn key(&self) -> LayoutKey {
        match &self.layout {
            Layout::Colocated(c) => LayoutKey::Colocated {
                pool: c.pool,
                tp: c.tp,
                dp: c.dp,
                cp: c.cp,
                experts: c.experts,
                aggregated: self.aggregated.is_some(),
            },
            Layout::PingPong(p) => LayoutKey::PingPong {
                attn: p.attn,
                dp: p.dp,
                ffn: p.ffn,
                groups: p.groups,
                microbatches: p.microbatches,
                experts: p.experts,
            },
            Layout::Pipeline(p) => {
                LayoutKey::Pipeline { stages: p.stages.iter().map(|s| (s.pool, s.tp)).collect(), microbatches: p.microbatches }
            }
            Layout::Speculative(s) => LayoutKey::Speculative { draft: s.draft, target: Box::new(s.target.key()) },
        }
    }

    /// The layout's class: its [`DecodeOption::key`] but for a ping-pong's microbatch
    /// count. A class's options at one batch share their chips, KV placement and
    /// memory and differ only in their steps (`solve::batch` keeps the fastest of those
    /// that need as many prefill replicas, and bounds a class as one).
    pub fn class_key(&self) -> LayoutKey {
        let mut key = self.key();
        if let LayoutKey::PingPong { microbatches, .. } = &mut key {
            *microbatches = 0;
        }
        key
    }

    /// [`DecodeOption::class_key`] packed into one number, for the layouts whose fields
    /// fit (colocated and ping-pong, every field below 2^16 or 2^20): the same classes
    /// get the same number and different classes different numbers, without building
    /// the key. `None` for the others (pipelines, speculative decoding) and for fields
    /// that do not fit: their class key numbers them.
    pub fn packed_class(&self) -> Option<u128> {
        // appends `v` in `bits` bits, or fails when it does not fit
        fn put(acc: u128, v: u64, bits: u32) -> Option<u128> {
            (v < 1u64 << bits).then_some(acc << bits | v as u128)
        }
        let split = |e: cost::MoeSplit| u64::from(e == cost::MoeSplit::Width);
        match &self.layout {
            Layout::Colocated(c) => {
                let k = put(1, c.pool as u64, 16)?;
                let k = put(k, c.tp, 20)?;
                let k = put(k, c.dp, 20)?;
                let k = put(k, c.cp, 20)?;
                let k = put(k, split(c.experts), 1)?;
                put(k, u64::from(self.aggregated.is_some()), 1)
            }
            Layout::PingPong(p) => pingpong_class(p.attn, p.dp, p.ffn, p.groups, p.experts),
            Layout::Pipeline(_) | Layout::Speculative(_) => None,
        }
    }

    /// Its [`DecodeOption::packed_class`] where it is a ping-pong option, the options
    /// [`Only`] restricts; `None` for every other layout.
    pub fn pingpong_class(&self) -> Option<u128> {
        match &self.layout {
            Layout::PingPong(p) => pingpong_class(p.attn, p.dp, p.ffn, p.groups, p.experts),
            _ => None,
        }
    }

    /// The first layer's attention (for speculative decoding, the target's): its pool,
    /// the chips of one attention group and the data-parallel groups (1: none).
    pub fn attention(&self) -> (usize, u64, u64) {
        match &self.layout {
            Layout::Colocated(c) => (c.pool, c.tp, c.dp),
            Layout::PingPong(p) => (p.attn.0, p.attn.1, p.dp),
            Layout::Pipeline(p) => p.stages.first().map_or((0, 0, 1), |s| (s.pool, s.tp, 1)),
            Layout::Speculative(s) => s.target.attention(),
        }
    }

    /// The pool and all the chips that run the first layer's attention (every
    /// data-parallel group): where the draft model's tokens go and a pipeline starts.
    pub fn head(&self) -> (usize, u64) {
        let (pool, tp, dp) = self.attention();
        (pool, tp * dp)
    }

    /// The ways the first layer's attention splits each sequence's KV cache by context
    /// (for speculative decoding, the target's; 1: by heads only, docs/cost-model.md §4f).
    pub fn context_split(&self) -> u64 {
        match &self.layout {
            Layout::Colocated(c) => c.cp,
            Layout::Speculative(s) => s.target.context_split(),
            Layout::PingPong(_) | Layout::Pipeline(_) => 1,
        }
    }

    /// Microbatches in flight in a step (1: none; for speculative decoding, the target's).
    pub fn microbatches(&self) -> u64 {
        match &self.layout {
            Layout::Colocated(_) => 1,
            Layout::PingPong(p) => p.microbatches,
            Layout::Pipeline(p) => p.microbatches,
            Layout::Speculative(s) => s.target.microbatches(),
        }
    }

    /// The step the target model runs: this option's own, or a speculative option's
    /// verify step.
    pub fn target(&self) -> &DecodeOption {
        match &self.layout {
            Layout::Speculative(s) => s.target.target(),
            Layout::Colocated(_) | Layout::PingPong(_) | Layout::Pipeline(_) => self,
        }
    }

    /// A layer pipeline's stages in order (for speculative decoding, the target's; empty
    /// for any other layout).
    pub fn stages(&self) -> &[LayerStage] {
        match &self.layout {
            Layout::Pipeline(p) => &p.stages,
            Layout::Speculative(s) => s.target.stages(),
            Layout::Colocated(_) | Layout::PingPong(_) => &[],
        }
    }

    /// A disaggregated FFN (for speculative decoding, the target's): its pool, the chips
    /// of one layer group and the groups.
    pub fn ffn(&self) -> Option<(usize, u64, u64)> {
        match &self.layout {
            Layout::PingPong(p) => Some((p.ffn.0, p.ffn.1, p.groups)),
            Layout::Speculative(s) => s.target.ffn(),
            Layout::Colocated(_) | Layout::Pipeline(_) => None,
        }
    }

    /// The draft model's pool and chips (speculative decoding).
    pub fn draft(&self) -> Option<(usize, u64)> {
        match &self.layout {
            Layout::Speculative(s) => Some(s.draft),
            Layout::Colocated(_) | Layout::PingPong(_) | Layout::Pipeline(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// `ceil_fast` is `f64::ceil` bit for bit: whole numbers, either side of them, the signed
    /// zeros, the largest floats with fractions, beyond 2^52 and 2^63, and NaN.
    #[test]
    fn ceil_fast_is_f64_ceil_for_every_kind_of_float() {
        let edge = 4_503_599_627_370_496.0_f64;
        let mut xs = vec![0.0, -0.0, 0.3, -0.3, 1.0, -1.0, 2.5, -2.5, 3.0000000001, 1e-300, -1e-300, f64::MIN_POSITIVE];
        xs.extend([edge - 0.5, -(edge - 0.5), edge, edge + 2.0, 1e19, -1e19, f64::MAX, f64::MIN, f64::INFINITY, f64::NEG_INFINITY]);
        for k in 0..2000 {
            let x = (k as f64 - 1000.0) * 0.0137;
            xs.extend([x, x.next_up(), x.next_down()]);
        }
        for x in xs {
            assert_eq!(ceil_fast(x).to_bits(), x.ceil().to_bits(), "{x:e}");
        }
        assert!(ceil_fast(f64::NAN).is_nan());
        assert_eq!(fewest_replicas(3.0000000001), 3);
        assert_eq!(fewest_replicas(3.01), 4);
        assert_eq!(fewest_replicas(0.0), 1);
        assert_eq!(fewest_replicas(f64::NAN), 1);
        assert_eq!(fewest_replicas(f64::INFINITY), u64::MAX);
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
        opts.into_iter().find(|d| matches!(&d.layout, Layout::Colocated(c) if c.tp == 8)).expect("TP8 fits")
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
        // LM head and embedding stay BF16 (`Model::unquantized`): 8192*128256*2 =
        // 2,101,346,304 B; the embedding gathers b rows of 16 kB
        let head = ((2_101_346_304.0 + b * 272_896.0) / 8.0 / BW).max(2.0 * b * 8192.0 * 128_256.0 / 8.0 / BF16);
        let embed = (b * 16_384.0 + b * 16_384.0) / 8.0 / BW;
        // two all-reduces per layer of b * 16 kB
        layers + head + embed + 160.0 * ar(b * 16_384.0)
    }

    #[test]
    fn decode_step_batch_1() {
        // per layer: qkv 3.479 us + attention 0.697 us + out 2.784 us + ffn 29.220 us = 36.181 us;
        // x80 = 2.894 ms; LM head (BF16) 87.13 us; all-reduces 160 x 3*(2 us + 36.4 ns) = 0.977 ms
        let d = tp8(1);
        assert!((d.tpot - by_hand(1.0)).abs() < 1e-12, "{} vs {}", d.tpot, by_hand(1.0));
        assert!((d.tpot - 3.9591e-3).abs() < 1e-6, "{}", d.tpot);
        assert!((d.breakdown.allreduce - 0.97748e-3).abs() < 1e-8);
    }

    #[test]
    fn decode_step_batch_64() {
        // per layer: qkv 3.576 us + attention 44.625 us (KV reads: 64 x 16.8 MB / 8) + out 2.869 us
        // + ffn 29.605 us (still memory-bound: 8.5 us of compute) = 80.676 us; x80 = 6.454 ms;
        // LM head 87.84 us; all-reduces of 1 MiB: 160 x 3*(2 us + 2.330 us) = 2.078 ms
        let d = tp8(64);
        assert!((d.tpot - by_hand(64.0)).abs() < 1e-12, "{} vs {}", d.tpot, by_hand(64.0));
        assert!((d.tpot - 8.6205e-3).abs() < 1e-6, "{}", d.tpot);
    }
}
