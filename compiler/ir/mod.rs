//! The resolved program: plain structs in SI base units (bytes, seconds,
//! FLOP, US dollars, tokens, watts). Items keep the span of their
//! declaration so later phases can point at the source.

pub mod engine;
pub mod graph;
pub mod tables;
pub mod uncertain;

use crate::source::Span;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Numeric formats for weights, KV cache and activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Precision {
    Fp4,
    Fp8,
    Int8,
    Bf16,
    Fp16,
    Fp32,
}

impl Precision {
    pub const ALL: [Precision; 6] = [Precision::Fp4, Precision::Fp8, Precision::Int8, Precision::Bf16, Precision::Fp16, Precision::Fp32];

    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp4 => "fp4",
            Precision::Fp8 => "fp8",
            Precision::Int8 => "int8",
            Precision::Bf16 => "bf16",
            Precision::Fp16 => "fp16",
            Precision::Fp32 => "fp32",
        }
    }

    pub fn from_name(s: &str) -> Option<Precision> {
        Precision::ALL.into_iter().find(|p| p.name() == s)
    }

    /// Bytes per element. FP4 counts 0.5 B (scales are not modelled here).
    pub fn bytes(self) -> f64 {
        match self {
            Precision::Fp4 => 0.5,
            Precision::Fp8 | Precision::Int8 => 1.0,
            Precision::Bf16 | Precision::Fp16 => 2.0,
            Precision::Fp32 => 4.0,
        }
    }

    /// Bits, to order precisions from narrow to wide.
    pub fn bits(self) -> u32 {
        (self.bytes() * 8.0) as u32
    }
}

/// What a memory tier holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Contents {
    Weights,
    Kv,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MemoryTier {
    /// shared: every option's memory use names its tiers ([`crate::solve::space::MemUse`])
    pub name: Arc<str>,
    /// bytes per chip
    pub capacity: f64,
    /// bytes/s per chip
    pub bandwidth: f64,
    pub holds: Vec<Contents>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Chip {
    pub name: String,
    pub span: Span,
    pub source: String,
    /// dense peak FLOP/s per precision
    pub compute: BTreeMap<Precision, f64>,
    pub memory: Vec<MemoryTier>,
    /// W per chip, if known: the chip's own (TDP, board power)
    pub power: Option<f64>,
    /// W per chip as deployed, if known: the chip's share of all the power its system
    /// draws (host CPUs, NICs, switches, cooling), which tokens/s per MW counts in place
    /// of `power` (docs/cost-model.md §6)
    pub system_power: Option<f64>,
    /// $/s per chip, if known
    pub price: Option<f64>,
    /// achievable fraction of peak compute (kernel-level)
    pub compute_efficiency: f64,
    /// achievable fraction of peak memory bandwidth (kernel-level)
    pub memory_efficiency: f64,
    /// fixed host/launch time per step, seconds (0 unless declared); a plan's
    /// `framework` replaces it with the chip's figure for that framework
    pub step_overhead: f64,
    /// fixed time per layer of a step on the chips that run the layer's attention:
    /// launches and the small ops no table covers (norms, residual adds, rotary,
    /// activation quantisation), seconds (0 unless declared)
    pub layer_overhead: f64,
    /// fixed host time per step for each sequence the engine schedules (batch
    /// bookkeeping, sampling, detokenisation), seconds; 0 unless a framework sets it
    pub sequence_overhead: f64,
    /// the fixed costs under each serving framework the chip declares (`framework
    /// trtllm { ... }`), by framework name
    pub frameworks: BTreeMap<String, FrameworkBlock>,
    /// measured per-op latencies (`tables = "..."`), if the chip has them
    pub tables: Option<Arc<tables::OpTables>>,
    /// seconds each FP8 GEMM row of `tables` carries beyond what a deployment pays
    /// (`fp8_gemm_surplus`): subtracted from every FP8 GEMM the tables price
    /// (docs/cost-model.md §9); 0 unless declared
    pub fp8_gemm_surplus: f64,
    /// the serving engine a plan runs the chip under (`framework = ...`): the memory it
    /// lets the KV cache have (docs/cost-model.md §11); `None`: all of it
    pub engine: Option<engine::Engine>,
    /// the figures written with their uncertainty (docs/uncertainty.md)
    pub uncertain: Vec<uncertain::Uncertain>,
    /// [`Chip::peaks`], worked out on first use (the crate's own: a derived figure,
    /// not one a chip declares)
    pub(crate) peaks: PeakCache,
}

/// Per precision ([`Precision::ALL`] order) the peak FLOP/s an operation in it runs at
/// on a chip: its own, or the narrowest wider precision's ([`Chip::peak`]); and the
/// widest precision's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Peaks {
    pub by_precision: [Option<f64>; 6],
    pub widest: Option<f64>,
}

/// A chip's [`Peaks`], worked out once: every operation priced on the chip reads them
/// (tens of thousands per solve), and a map walk for each cost more than the rest of
/// the pricing. Not part of the chip's value: equal for any two chips, and a copy
/// starts empty, so that a copy whose `compute` is then changed (a figure moved,
/// [`Plan::with_input`]) works its own out; a debug build checks every use against
/// the chip's figures.
#[derive(Default)]
pub struct PeakCache(std::sync::OnceLock<Peaks>);

impl Clone for PeakCache {
    fn clone(&self) -> PeakCache {
        PeakCache::default()
    }
}

impl PartialEq for PeakCache {
    fn eq(&self, _: &PeakCache) -> bool {
        true
    }
}

impl std::fmt::Debug for PeakCache {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("PeakCache")
    }
}

/// A serving framework's fixed costs on one chip (seconds).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FixedCosts {
    pub step: f64,
    pub layer: f64,
    /// per sequence the engine schedules in a step
    pub sequence: f64,
}

/// What a chip declares for one serving framework (`framework vllm { ... }`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FrameworkBlock {
    pub costs: FixedCosts,
    /// replaces the engine's share of memory (vLLM's `gpu_memory_utilization`, SGLang's
    /// `mem_fraction_static`, TensorRT-LLM's `free_gpu_memory_fraction`)
    pub memory_fraction: Option<f64>,
    /// replaces the engine's runtime memory per GPU, bytes
    pub runtime_memory: Option<f64>,
    /// replace the engine's first-token latency `(F, L)` (`engine::Engine::first_token`),
    /// seconds and seconds per layer
    pub first_token: Option<f64>,
    pub first_token_per_layer: Option<f64>,
    /// sets the engine's [`engine::Engine::moe_dense_reads`]: MoE layers read every
    /// expert each step at this share of the weight tier's bandwidth
    pub moe_dense_reads: Option<f64>,
}

/// Serving frameworks a plan may name (`framework = vllm`).
pub const FRAMEWORKS: [&str; 3] = ["trtllm", "vllm", "sglang"];

impl Chip {
    /// W per chip that power budgets and tokens/s per MW count: the deployed
    /// (`system_power`) where declared, else the chip's own (`power`).
    pub fn deployed_power(&self) -> Option<f64> {
        self.system_power.or(self.power)
    }

    /// The chip as it runs under `framework`: its fixed costs for that framework where
    /// it declares them, its own otherwise; and that framework's engine.
    pub fn under(&self, framework: Option<&str>) -> Chip {
        let mut c = self.clone();
        c.engine = framework.map(|f| engine::Engine::of(Some(f)));
        if let Some(f) = framework.and_then(|f| self.frameworks.get(f)) {
            c.step_overhead = f.costs.step;
            c.layer_overhead = f.costs.layer;
            c.sequence_overhead = f.costs.sequence;
            // the chip's own fixed costs no longer apply, nor their ranges
            use uncertain::Figure::{LayerOverhead, SequenceOverhead, StepOverhead};
            c.uncertain.retain(|u| !matches!(u.figure, StepOverhead | LayerOverhead | SequenceOverhead));
            if let Some(e) = c.engine.as_mut() {
                e.fraction = f.memory_fraction.unwrap_or(e.fraction);
                e.runtime = f.runtime_memory.unwrap_or(e.runtime);
                e.first_token = (f.first_token.unwrap_or(e.first_token.0), f.first_token_per_layer.unwrap_or(e.first_token.1));
                e.moe_dense_reads = f.moe_dense_reads.or(e.moe_dense_reads);
            }
        }
        c
    }

    /// Index of the tier that holds `c`: the first tier that declares it, else the first tier.
    pub fn tier_index(&self, c: Contents) -> Option<usize> {
        self.memory.iter().position(|t| t.holds.contains(&c)).or(if self.memory.is_empty() { None } else { Some(0) })
    }

    /// The tier that holds `c`.
    pub fn tier_for(&self, c: Contents) -> Option<&MemoryTier> {
        self.tier_index(c).map(|i| &self.memory[i])
    }

    /// [`Peaks`] of the chip's `compute` (worked out once, [`PeakCache`]).
    pub fn peaks(&self) -> Peaks {
        let peaks = *self.peaks.0.get_or_init(|| self.peaks_now());
        debug_assert_eq!(peaks, self.peaks_now(), "{}: compute changed after it was priced", self.name);
        peaks
    }

    /// [`Peaks`] of the chip's `compute` as it is.
    fn peaks_now(&self) -> Peaks {
        let by_precision = Precision::ALL.map(|p| self.peak(p).map(|(_, v)| v));
        let widest = self.compute.iter().max_by_key(|(q, _)| (q.bits(), **q)).map(|(_, v)| *v);
        Peaks { by_precision, widest }
    }

    /// Peak FLOP/s for `p`, or the narrowest wider precision the chip has.
    pub fn peak(&self, p: Precision) -> Option<(Precision, f64)> {
        self.compute.iter().filter(|(q, _)| q.bits() >= p.bits()).min_by_key(|(q, _)| (q.bits(), **q)).map(|(q, v)| (*q, *v))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    pub name: String,
    pub span: Span,
    pub source: String,
    /// bytes/s per chip, per direction
    pub bandwidth: f64,
    /// seconds, one way, small message
    pub latency: f64,
    /// the figures written with their uncertainty (docs/uncertainty.md)
    pub uncertain: Vec<uncertain::Uncertain>,
}

/// Multi-head latent attention (DeepSeek-V2/V3, Kimi K2): K and V are cached as
/// one compressed latent of `kv_lora_rank` plus a shared RoPE key of `qk_rope_dim`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mla {
    /// 0 when queries are not compressed
    pub q_lora_rank: u64,
    pub kv_lora_rank: u64,
    pub qk_rope_dim: u64,
    pub qk_nope_dim: u64,
    pub v_head_dim: u64,
}

/// Mixture of experts in every layer after the first `dense_layers`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Moe {
    /// routed experts per layer
    pub experts: u64,
    /// routed experts per token (top-k)
    pub top_k: u64,
    /// shared experts every token passes through
    pub shared: u64,
    /// intermediate size of one expert (SwiGLU)
    pub expert_intermediate: u64,
    /// leading layers with a dense FFN of `Model::intermediate`
    pub dense_layers: u64,
    /// the router has a bias (DeepSeek's correction bias, gpt-oss)
    pub router_bias: bool,
}

/// Layers that attend only to the last `window` tokens (gpt-oss alternates them).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sliding {
    pub window: u64,
    pub layers: u64,
}

/// A decoder-only transformer: GQA/MHA or MLA attention, dense or MoE FFN (SwiGLU),
/// optional sliding-window layers.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub name: String,
    pub span: Span,
    pub source: String,
    pub layers: u64,
    pub hidden: u64,
    pub heads: u64,
    /// GQA key/value heads (MLA: 1, the latent is shared by all heads)
    pub kv_heads: u64,
    /// GQA head dimension (MLA: qk_nope + qk_rope)
    pub head_dim: u64,
    /// dense FFN intermediate size
    pub intermediate: u64,
    pub vocab: u64,
    pub tied_embeddings: bool,
    pub mla: Option<Mla>,
    pub moe: Option<Moe>,
    pub sliding: Option<Sliding>,
    /// linear layers of attention and FFN carry biases (gpt-oss)
    pub biases: bool,
    /// per-head RMSNorm of q and k (Qwen3)
    pub qk_norm: bool,
    /// tokens
    pub max_context: Option<u64>,
    pub weights: Precision,
    pub kv: Precision,
    pub activations: Precision,
    /// models of this architecture served at once on the same chips (fine-tunes: each
    /// its own weights, all resident), their decode steps taken in turn (1: one model;
    /// docs/cost-model.md §15)
    pub variants: u64,
}

/// What a layer does in a step: layers of one kind have the same nodes with the same
/// work ([`Model::layer_kind`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LayerKind {
    /// attends within the sliding window
    pub sliding: bool,
    /// has an MoE FFN (else a dense one)
    pub moe: bool,
}

/// A model's layers by kind ([`Model::layer_kinds`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LayerKinds {
    /// (kind, layers of that kind), in order of first appearance: layer 0 is of the first
    pub kinds: Vec<(LayerKind, u64)>,
    /// (kind a, kind b, n): a layer of kind a is followed by one of kind b n times
    pub next: Vec<(usize, usize, u64)>,
    /// the kind of the last layer (none without layers)
    pub last: Option<usize>,
}

impl LayerKinds {
    /// Of layers that come in `runs` (kind, layers) one after another, each kind in one
    /// run: what walking them gives, in its order (a run's own transitions from its
    /// second layer, then the step into the next run). Empty runs are skipped.
    fn of_runs(runs: &[(LayerKind, u64)]) -> LayerKinds {
        let mut out = LayerKinds::default();
        for &(kind, n) in runs.iter().filter(|r| r.1 > 0) {
            let i = out.kinds.len();
            if let Some(p) = out.last {
                out.next.push((p, i, 1));
            }
            out.kinds.push((kind, n));
            if n >= 2 {
                out.next.push((i, i, n - 1));
            }
            out.last = Some(i);
        }
        out
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    pub name: String,
    pub span: Span,
    pub chip: Chip,
    /// every chip of the pool (over all its nodes)
    pub count: u64,
    /// the scale-up link between chips of this pool (of one node, with `scale_out`)
    pub link: Option<Link>,
    /// the pool's chips in nodes joined by a scale-out network (`pool gpu = h100_sxm x 8
    /// over nvlink4 x 4 over ib_ndr`); `None`: the whole pool is one scale-up domain
    pub scale_out: Option<ScaleOut>,
}

/// A pool's two-level network: nodes of `node` chips on the pool's scale-up link, joined
/// by `link` (each chip's own NIC: its `bandwidth` is per chip, per direction).
#[derive(Clone, Debug, PartialEq)]
pub struct ScaleOut {
    pub node: u64,
    pub link: Link,
}

impl Pool {
    /// Chips of one scale-up domain: a node's, or the whole pool's. A tensor-parallel
    /// group stays inside one.
    pub fn domain(&self) -> u64 {
        self.scale_out.as_ref().map_or(self.count, |s| s.node)
    }

    /// Whether a group of `n` of the pool's chips may form: within one scale-up domain,
    /// or whole nodes of a two-level pool, and no more than the pool holds.
    pub fn may_group(&self, n: u64) -> bool {
        n <= self.count && (n <= self.domain() || n % self.domain() == 0)
    }

    /// How many groups of `t` chips the pool holds side by side for one pipeline or
    /// split: on a pool of nodes whole groups per node over all its nodes, or one node's
    /// when `t` does not divide a node (a group stays inside a node); on one domain, all
    /// its chips'.
    pub fn groups(&self, t: u64) -> u64 {
        match self.domain() % t.max(1) {
            0 => self.count / t.max(1),
            _ => self.domain() / t.max(1),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct PoolLink {
    pub a: usize,
    pub b: usize,
    pub link: Link,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    pub name: String,
    pub span: Span,
    pub pools: Vec<Pool>,
    pub links: Vec<PoolLink>,
}

impl Cluster {
    pub fn link_between(&self, a: usize, b: usize) -> Option<&PoolLink> {
        self.links.iter().find(|l| (l.a == a && l.b == b) || (l.a == b && l.b == a))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    pub name: String,
    pub span: Span,
    /// prompt tokens per request
    pub input_tokens: u64,
    /// generated tokens per request
    pub output_tokens: u64,
    /// concurrent sequences (decode batch), inclusive bounds
    pub concurrency: (u64, u64),
    pub concurrency_span: Span,
    /// how the simulation draws requests (docs/simulation.md)
    pub traffic: Traffic,
    /// prompts that begin with a shared prefix a cache can hold (`prefix = ...`)
    pub prefix: Option<Prefix>,
}

/// Prefix reuse: every prompt begins with one of `distinct` shared prefixes of
/// `tokens` tokens (a system prompt, a few-shot template, an agent's instructions),
/// each request's drawn uniformly. A request whose prefix is in the cache prefills
/// only the rest of its prompt and shares the prefix's KV blocks. The analytical model
/// takes `hit` as the mean share of requests that find their prefix cached; the
/// simulation runs the cache itself, its capacity and eviction (docs/simulation.md).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prefix {
    pub tokens: u64,
    pub distinct: u64,
    pub hit: f64,
}

/// The most distinct prefixes a workload may declare (the simulation keeps one cache
/// entry per prefix).
pub const MAX_PREFIXES: u64 = 100_000;

/// How lengths vary around the workload's `input` and `output` in the simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LengthShape {
    #[default]
    Fixed,
    /// uniform over the mean ± `spread` × the mean
    Uniform,
    /// lognormal with the mean and `spread` the standard deviation of the logarithm
    LogNormal,
}

/// How a workload's requests arrive in a simulation.
#[derive(Clone, Debug, PartialEq)]
pub enum ArrivalProcess {
    /// a closed loop of clients at the solved concurrency (the default)
    Closed,
    /// `rate = R req/s`: gaps drawn independently, exponential (Poisson arrivals) at
    /// `burstiness` 1, gamma-distributed with that shape otherwise (a squared
    /// coefficient of variation of 1 / burstiness). `rate` is `None` when only
    /// `burstiness` is given: the shape of the gaps a percentile-SLO plan's rate search
    /// (which chooses the rate) draws.
    Renewal { rate: Option<f64>, burstiness: f64, rate_span: Option<Span> },
    /// `trace = "FILE"`: arrival times and lengths read from a file; a rate search
    /// scales its times
    Trace { path: String, rows: std::sync::Arc<Vec<TraceRow>> },
}

impl ArrivalProcess {
    /// The gamma shape of drawn gaps (`burstiness`; 1, Poisson, unless drawn gaps say
    /// otherwise).
    pub fn burstiness(&self) -> f64 {
        match self {
            ArrivalProcess::Renewal { burstiness, .. } => *burstiness,
            _ => 1.0,
        }
    }
}

/// The simulated traffic of a workload: `lengths`, `spread`, `requests`, `seed`,
/// `rate`, `burstiness`, `trace`.
#[derive(Clone, Debug, PartialEq)]
pub struct Traffic {
    pub arrivals: ArrivalProcess,
    pub lengths: LengthShape,
    pub spread: f64,
    /// requests simulated per arrival rate tried
    pub requests: u64,
    pub seed: u64,
}

/// Most requests one simulation may run (a trace: lines).
pub const SIM_MAX_REQUESTS: u64 = 1_000_000;
/// Longest prompt or answer one simulated request may have (tokens).
pub const SIM_MAX_LENGTH: u64 = 1 << 20;

/// One request of a trace.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TraceRow {
    /// seconds from the start of the trace
    pub arrival: f64,
    pub input: u64,
    pub output: u64,
}

/// `burstiness` bounds: a gamma shape from 1/100 (gaps with a squared coefficient of
/// variation of 100) to 100 (nearly evenly spaced).
pub const MIN_BURSTINESS: f64 = 0.01;
pub const MAX_BURSTINESS: f64 = 100.0;

/// Requests a percentile-SLO plan simulates per rate unless its workload says.
pub const DEFAULT_SIM_REQUESTS: u64 = 2_000;
/// The most a workload's `requests` may ask for (the rate search runs it about 12 times
/// per configuration).
pub const MAX_SIM_REQUESTS: u64 = 200_000;

impl Default for Traffic {
    fn default() -> Traffic {
        Traffic { arrivals: ArrivalProcess::Closed, lengths: LengthShape::Fixed, spread: 0.0, requests: DEFAULT_SIM_REQUESTS, seed: 0 }
    }
}

/// Seconds one ILP solve may run unless a plan sets `time_limit`.
pub const DEFAULT_TIME_LIMIT_S: f64 = 30.0;
/// `chunk = ...`: the fewest prompt tokens an aggregated step may carry, and the most
/// steps one prompt may take (the schedule lists each)
pub const MIN_CHUNK_TOKENS: u64 = 16;
pub const MAX_CHUNK_STEPS: u64 = 1024;
/// The longest `time_limit` accepted: a week (longer ones overflow the solver's clock).
pub const MAX_TIME_LIMIT_S: f64 = 7.0 * 24.0 * 3600.0;

/// Pools a layer pipeline (`place decode.layers`) may name (docs/limits.md): the exact
/// partition runs once per stage count, up to this many.
pub const MAX_PIPELINE_POOLS: usize = 32;

/// The most states per layer the exact layer partition's table may hold
/// ([`pipeline_states`]): `2^8·8`, eight pools of eight kinds, twice over. Pools of one
/// kind are interchangeable, so sixteen pools of four kinds hold `5^4·4 = 2500`.
pub const MAX_PIPELINE_STATES: usize = 4096;

/// The pools of `pools` (indices into `cluster.pools`) that the solver may exchange for
/// one another without changing anything a plan can see, in kinds (each in pool order,
/// kinds in the order of their first pool): the same chip, count and links inside the
/// pool, the same link to every other pool of the cluster, and named by the same stages'
/// placements. Any choice that uses one pool of a kind has its twin that uses another,
/// at the same figures; so the space need only hold, of each kind, the options on its
/// first pools (`solve::space::on_first_pools`), and the layer partition counts them
/// (`solve::layers`).
pub fn pool_kinds(cluster: &Cluster, placements: &[Placement], pools: &[usize]) -> Vec<Vec<usize>> {
    let n = cluster.pools.len();
    // the link between every two pools, from one pass over the links
    let mut between: Vec<Option<&Link>> = vec![None; n * n];
    for l in &cluster.links {
        if l.a < n && l.b < n {
            // the first link declared between two pools is the one `link_between` finds
            between[l.a * n + l.b].get_or_insert(&l.link);
            between[l.b * n + l.a].get_or_insert(&l.link);
        }
    }
    let alike = |a: usize, b: usize| {
        let (pa, pb) = (&cluster.pools[a], &cluster.pools[b]);
        pa.chip == pb.chip
            && pa.count == pb.count
            && pa.link == pb.link
            && pa.scale_out == pb.scale_out
            && placements.iter().all(|p| p.pools.contains(&a) == p.pools.contains(&b))
            && (0..n).filter(|&x| x != a && x != b).all(|x| between[a * n + x] == between[b * n + x])
    };
    let mut kinds: Vec<Vec<usize>> = Vec::new();
    for &p in pools.iter().filter(|&&p| p < n) {
        match kinds.iter_mut().find(|k| alike(k[0], p)) {
            Some(k) => k.push(p),
            None => kinds.push(vec![p]),
        }
    }
    kinds
}

/// States per layer of the exact layer partition over pools in these kinds: every count
/// of each kind used, times the kind of the last stage (`Π(n_k + 1)·k`), saturating.
pub fn pipeline_states<T>(kinds: &[Vec<T>]) -> usize {
    kinds.iter().fold(kinds.len(), |a, k| a.saturating_mul(k.len() + 1))
}

/// The most tokens a `speculate` block may draft a round: published drafters propose
/// at most a few dozen (EAGLE-2 trees ~60 nodes; chains 4-8), and each one costs the
/// verify step a token per sequence, so beyond this no round pays. Checked in resolve,
/// before the draft's graph (whose verify step grows with it) is built.
pub const MAX_LOOKAHEAD: u64 = 64;

/// The most models of one architecture a plan may serve at once on the same chips
/// (`variants`): SambaNova's Composition of Experts serves 150 on one node, and every
/// variant's weights must be resident, so more only fills memory. A decode space prices
/// two per-variant batches whatever the count (docs/cost-model.md §15), so the bound is
/// on memory arithmetic, not on work.
pub const MAX_VARIANTS: u64 = 1024;

/// The most layers a model may declare: the deepest published LLMs have under 200
/// (Llama-3.1-405B 126); the decode graph holds a few nodes per layer, so this keeps it
/// small. Checked in resolve, before any graph is built.
pub const MAX_LAYERS: u64 = 1024;

/// Placement stages of a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    Prefill,
    DecodeAttn,
    DecodeFfn,
    /// the draft model of speculative decoding
    Draft,
    /// the decode step's layers (attention and FFN together) in contiguous ranges
    /// across pools, as a pipeline; only where a plan places it
    DecodeLayers,
}

impl Stage {
    pub const ALL: [Stage; 5] = [Stage::Prefill, Stage::DecodeAttn, Stage::DecodeFfn, Stage::Draft, Stage::DecodeLayers];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Prefill => "prefill",
            Stage::DecodeAttn => "decode.attn",
            Stage::DecodeFfn => "decode.ffn",
            Stage::Draft => "draft",
            Stage::DecodeLayers => "decode.layers",
        }
    }

    pub fn from_name(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|x| x.name() == s)
    }
}

/// Where a stage may go: the pools the solver may choose from.
#[derive(Clone, Debug, PartialEq)]
pub struct Placement {
    pub stage: Stage,
    /// indices into `Cluster::pools`
    pub pools: Vec<usize>,
    /// `place ...` statement, if any
    pub span: Option<Span>,
    /// decisions the plan fixes for the stage (`place ... { tp = 4 }`)
    pub pins: Pins,
}

/// Microbatch counts the solver tries for ping-pong between attention and FFN pools (and
/// a `microbatches` pin may take): 1 to 8, 12, 16, 24 and 32. Full overlap needs
/// `m ≥ 2(1 + t_c/T_f)`, so a crossing as long as a layer's work needs 4, one three times
/// as long 8, one fifteen times as long 32; and an FFN spread over `g` layer groups keeps
/// every group busy only with `m ≥ g` (Kimi K2 on LP30s takes 20) (docs/cost-model.md
/// §4b). Every count is a seed of the batch search (`solve::batch::seeds`).
pub const MICROBATCHES: [u64; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 32];

/// Stages a prefill pipeline within one pool has at most (docs/limits.md): each length is
/// an option of its own per tensor-parallel degree, and a model that needs more stages
/// than this to hold one prompt's weights and cache on a pool's chips does not prefill
/// there. A `pp` pin on prefill takes at most this many.
pub const MAX_PREFILL_STAGES: u64 = 16;

/// Groups a prompt's prefill splits its context over at most, unpinned (docs/limits.md):
/// the solver tries 2, 4, 8 and 16 per tensor-parallel degree (docs/cost-model.md §14b).
/// A `cp` pin on prefill takes at most this many too.
pub const MAX_CONTEXT_SPLIT: u64 = 16;

/// Pinned decisions of one stage, each with the span of its pin.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Pins {
    /// tensor-parallel degree (for decode.ffn: of the FFN, colocated or not; of an MoE
    /// FFN, the ways each expert splits by width)
    pub tp: Option<(u64, Span)>,
    /// decode.attn: data-parallel groups
    pub dp: Option<(u64, Span)>,
    /// decode.attn: the ways each sequence's KV cache splits by context (KV
    /// parallelism; 1: by heads only)
    pub cp: Option<(u64, Span)>,
    /// decode.ffn of an MoE model: expert-parallel degree (the FFN's chips)
    pub ep: Option<(u64, Span)>,
    /// decode.ffn disaggregated: ping-pong microbatches
    pub microbatches: Option<(u64, Span)>,
    /// prefill: replicas
    pub replicas: Option<(u64, Span)>,
    /// prefill: pipeline stages of one replica within its pool (1: one group)
    pub pp: Option<(u64, Span)>,
}

impl Pins {
    /// The decisions a pin may fix, as written in a pins block.
    pub const NAMES: [&'static str; 7] = ["tp", "dp", "cp", "ep", "microbatches", "replicas", "pp"];

    pub fn is_empty(&self) -> bool {
        Self::NAMES.iter().all(|n| self.get(n).is_none())
    }

    /// The pin of decision `name` (one of [`Pins::NAMES`]).
    pub fn get(&self, name: &str) -> Option<(u64, Span)> {
        match name {
            "tp" => self.tp,
            "dp" => self.dp,
            "cp" => self.cp,
            "ep" => self.ep,
            "microbatches" => self.microbatches,
            "pp" => self.pp,
            _ => self.replicas,
        }
    }

    fn slot(&mut self, name: &str) -> &mut Option<(u64, Span)> {
        match name {
            "tp" => &mut self.tp,
            "dp" => &mut self.dp,
            "cp" => &mut self.cp,
            "ep" => &mut self.ep,
            "microbatches" => &mut self.microbatches,
            "pp" => &mut self.pp,
            _ => &mut self.replicas,
        }
    }

    /// Pins decision `name` (one of [`Pins::NAMES`]) to `value`, written at `span`.
    pub fn set(&mut self, name: &str, value: u64, span: Span) {
        *self.slot(name) = Some((value, span));
    }

    /// Whether `value` meets the pin `pin` (no pin: anything does).
    pub fn allows(pin: Option<(u64, Span)>, value: u64) -> bool {
        pin.is_none_or(|(v, _)| v == value)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SloMetric {
    Ttft,
    Tpot,
    /// `tokens_per_s_per_user >= X`
    TokensPerSUser,
}

impl SloMetric {
    pub fn name(self) -> &'static str {
        match self {
            SloMetric::Ttft => "ttft",
            SloMetric::Tpot => "tpot",
            SloMetric::TokensPerSUser => "tokens_per_s_per_user",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Slo {
    pub metric: SloMetric,
    /// `ttft.p99 <= 2 s`: a percentile of the requests' values (the quantile, e.g. 0.99)
    /// rather than the mean; met by the simulation (docs/simulation.md), not the
    /// analytical model
    pub percentile: Option<Percentile>,
    /// seconds for `ttft`/`tpot <= limit`; tokens/s for `tokens_per_s_per_user >= limit`
    pub limit: f64,
    pub span: Span,
}

/// A percentile an SLO names: `p50`, `p90`, `p99`, `p999` (99.9%).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percentile {
    /// the quantile in parts per thousand (990 for `p99`)
    pub per_mille: u32,
}

impl Percentile {
    /// `p50`, `p99`: two digits are percent (`p10` to `p99`); `p995`, `p999`: three
    /// digits starting `99` are tenths of a percent (99.5%, 99.9%). Nothing else: `p100`
    /// or `p5` would read two ways.
    pub fn parse(word: &str) -> Option<Percentile> {
        let digits = word.strip_prefix('p')?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with('0') {
            return None;
        }
        let per_mille = match digits.len() {
            2 => digits.parse::<u32>().ok()? * 10,
            3 if digits.starts_with("99") => digits.parse::<u32>().ok()?,
            _ => return None,
        };
        Some(Percentile { per_mille })
    }

    pub fn quantile(self) -> f64 {
        self.per_mille as f64 / 1000.0
    }

    /// `p99`, `p999`
    pub fn name(self) -> String {
        if self.per_mille % 10 == 0 {
            format!("p{}", self.per_mille / 10)
        } else {
            format!("p{}", self.per_mille)
        }
    }
}

impl Slo {
    /// `ttft`, `ttft.p99`
    pub fn name(&self) -> String {
        match self.percentile {
            None => self.metric.name().to_string(),
            Some(p) => format!("{}.{}", self.metric.name(), p.name()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Objective {
    CostPerMtok,
    Tpot,
    Ttft,
    Chips,
    Power,
    ThroughputPerChip,
    /// generated tokens/s per chip of the decode side only (prefill chips of their own
    /// not counted): what a decode pool delivers, whoever prefills
    DecodeThroughputPerChip,
    ThroughputPerDollar,
    TokensPerMw,
    /// `maximize goodput`: the highest Poisson arrival rate at which the simulated
    /// requests meet every SLO (docs/simulation.md)
    Goodput,
}

impl Objective {
    pub const ALL: [Objective; 10] = [
        Objective::CostPerMtok,
        Objective::Tpot,
        Objective::Ttft,
        Objective::Chips,
        Objective::Power,
        Objective::ThroughputPerChip,
        Objective::DecodeThroughputPerChip,
        Objective::ThroughputPerDollar,
        Objective::TokensPerMw,
        Objective::Goodput,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Objective::CostPerMtok => "cost_per_mtok",
            Objective::Tpot => "tpot",
            Objective::Ttft => "ttft",
            Objective::Chips => "chips",
            Objective::Power => "power",
            Objective::ThroughputPerChip => "throughput_per_chip",
            Objective::DecodeThroughputPerChip => "decode_throughput_per_chip",
            Objective::ThroughputPerDollar => "throughput_per_dollar",
            Objective::TokensPerMw => "tokens_per_mw",
            Objective::Goodput => "goodput",
        }
    }

    /// Whether the objective is maximised (`maximize throughput_per_chip`).
    pub fn maximize(self) -> bool {
        matches!(
            self,
            Objective::ThroughputPerChip
                | Objective::DecodeThroughputPerChip
                | Objective::ThroughputPerDollar
                | Objective::TokensPerMw
                | Objective::Goodput
        )
    }

    /// The keyword that states it: `minimize` or `maximize`.
    pub fn direction(self) -> &'static str {
        if self.maximize() {
            "maximize"
        } else {
            "minimize"
        }
    }

    /// Whether it needs every chip's price / power.
    pub fn needs_price(self) -> bool {
        matches!(self, Objective::CostPerMtok | Objective::ThroughputPerDollar)
    }

    pub fn needs_power(self) -> bool {
        matches!(self, Objective::Power | Objective::TokensPerMw)
    }
}

/// Limits on the whole deployment, from a plan's `budget { ... }` block.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Budget {
    /// $/s
    pub usd_per_s: Option<f64>,
    pub chips: Option<u64>,
    /// W
    pub watts: Option<f64>,
    /// the `budget` block
    pub span: Option<Span>,
    /// each limit's line
    pub cost_span: Option<Span>,
    pub chips_span: Option<Span>,
    pub power_span: Option<Span>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub name: String,
    pub span: Span,
    pub model: Model,
    pub model_span: Span,
    pub cluster: Cluster,
    pub workload: Workload,
    pub placements: Vec<Placement>,
    pub slos: Vec<Slo>,
    pub objective: Objective,
    pub objective_span: Span,
    pub speculation: Option<Speculation>,
    pub budget: Budget,
    /// seconds one ILP solve may run
    pub time_limit: f64,
    /// `inventory = free`: pool counts bound a tensor-parallel group, not the chips used
    pub free_inventory: bool,
    /// `sweep { ... }`: the values to solve the plan at (the frontier)
    pub sweep: Option<Sweep>,
    /// `framework = trtllm`: the serving framework whose fixed costs the chips use
    pub framework: Option<String>,
    /// `serving = ...`: whether prefill may share the decode chips (aggregated serving)
    /// or runs on chips of its own (disaggregated); `auto` weighs both
    pub serving: Serving,
    /// the `serving` attribute, when written
    pub serving_span: Option<Span>,
    /// `chunk = 2048 tok`: prompt tokens one step of aggregated serving may carry
    /// (default [`engine::CHUNK_TOKENS`])
    pub chunk_tokens: u64,
}

/// How prefill and decode share chips (`serving = auto | aggregated | disaggregated`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Serving {
    /// the solver weighs both
    #[default]
    Auto,
    /// prefill runs in chunks inside the decode steps, on the decode chips (in-flight
    /// batching with chunked prefill)
    Aggregated,
    /// prefill runs on chips of its own and moves the KV cache to decode
    Disaggregated,
}

impl Serving {
    pub const NAMES: [&'static str; 3] = ["auto", "aggregated", "disaggregated"];

    pub fn parse(s: &str) -> Option<Serving> {
        match s {
            "auto" => Some(Serving::Auto),
            "aggregated" => Some(Serving::Aggregated),
            "disaggregated" => Some(Serving::Disaggregated),
            _ => None,
        }
    }

    pub fn allows_aggregated(self) -> bool {
        self != Serving::Disaggregated
    }

    pub fn allows_disaggregated(self) -> bool {
        self != Serving::Aggregated
    }
}

/// Most values one sweep may take.
pub const MAX_SWEEP_POINTS: usize = 4096;

/// A sweep: the plan solved once per value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sweep {
    pub over: SweepOver,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SweepOver {
    /// the decode batch fixed at each value
    Concurrency(Vec<u64>),
    /// the SLO `tokens_per_s_per_user >= x` at each value (tok/s)
    TokensPerSUser(Vec<f64>),
    /// a figure of a chip or link of the plan's cluster at each value (SI units), the
    /// plan solved over its whole space at each (`figure`: its name and nominal value;
    /// its `low` and `high` are the sweep's ends)
    Figure(uncertain::Input, Vec<f64>),
}

impl SweepOver {
    pub fn len(&self) -> usize {
        match self {
            SweepOver::Concurrency(v) => v.len(),
            SweepOver::TokensPerSUser(v) | SweepOver::Figure(_, v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// the variable's SI unit: empty for a concurrency, `tok/s`, or the figure's (`s`,
    /// `$/s`, `W`, `B/s`, `FLOP/s`; empty for a fraction)
    pub fn unit(&self) -> &'static str {
        match self {
            SweepOver::Concurrency(_) => "",
            SweepOver::TokensPerSUser(_) => "tok/s",
            SweepOver::Figure(input, _) => input.figure.unit(),
        }
    }
    /// the variable's name as written in a plan (a figure's: `lp30.layer_overhead`)
    pub fn name(&self) -> String {
        match self {
            SweepOver::Concurrency(_) => "concurrency".into(),
            SweepOver::TokensPerSUser(_) => "tokens_per_s_per_user".into(),
            SweepOver::Figure(input, _) => input.name(),
        }
    }
}

/// `n ≥ 1` values from `lo` to `hi` spaced evenly (both ends included).
pub fn lin_spaced(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if n <= 1 || hi <= lo {
        return vec![lo];
    }
    (0..n).map(|i| if i + 1 == n { hi } else { lo + (hi - lo) * i as f64 / (n - 1) as f64 }).collect()
}

/// `n ≥ 1` values from `lo` to `hi` spaced evenly on a log scale (both ends included).
pub fn log_spaced(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if n <= 1 || hi <= lo {
        return vec![lo];
    }
    let r = (hi / lo).ln();
    (0..n).map(|i| if i + 1 == n { hi } else { lo * (r * i as f64 / (n - 1) as f64).exp() }).collect()
}

/// Concurrency values of a sweep over `lo ..= hi`: every `step`-th from `lo`, or
/// `points` log-spaced (rounded, duplicates dropped), or by default the ends and the
/// powers of two between them.
pub fn concurrency_values(lo: u64, hi: u64, step: Option<u64>, points: Option<usize>) -> Vec<u64> {
    match (step, points) {
        (Some(s), _) => (lo..=hi).step_by(s.max(1) as usize).collect(),
        (None, Some(n)) => {
            let mut v: Vec<u64> = log_spaced(lo as f64, hi as f64, n).into_iter().map(|x| (x.round() as u64).clamp(lo, hi)).collect();
            v.dedup();
            v
        }
        (None, None) => {
            let mut v = vec![lo];
            let mut p = 1u64;
            while p < hi {
                if p > lo {
                    v.push(p);
                }
                p = p.saturating_mul(2);
            }
            if hi > lo {
                v.push(hi);
            }
            v
        }
    }
}

/// Speculative decoding: a draft model proposes `lookahead` tokens per round, the
/// target verifies them in one step over `lookahead + 1` tokens per sequence.
#[derive(Clone, Debug, PartialEq)]
pub struct Speculation {
    pub draft: Model,
    pub lookahead: u64,
    /// i.i.d. probability that the target accepts a drafted token
    pub acceptance: f64,
    pub span: Span,
}

impl Plan {
    /// The SLO that bounds TPOT and its limit in seconds: `tpot <= X`, or
    /// `tokens_per_s_per_user >= X` as TPOT <= 1/X; the tighter when both are given.
    pub fn tpot_slo(&self) -> Option<(&Slo, f64)> {
        self.slos
            .iter()
            .filter(|s| s.percentile.is_none())
            .filter_map(|s| match s.metric {
                SloMetric::Tpot => Some((s, s.limit)),
                SloMetric::TokensPerSUser => Some((s, 1.0 / s.limit)),
                SloMetric::Ttft => None,
            })
            .min_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal))
    }

    /// The SLOs on percentiles, which the simulation meets (`ttft.p99 <= 2 s`).
    pub fn percentile_slos(&self) -> impl Iterator<Item = &Slo> {
        self.slos.iter().filter(|s| s.percentile.is_some())
    }

    /// The limit of the mean SLO on `metric`, if the plan sets one.
    pub fn mean_limit(&self, metric: SloMetric) -> Option<&Slo> {
        self.slos.iter().find(|s| s.metric == metric && s.percentile.is_none())
    }

    /// Whether the plan is solved with the simulation in the loop: it bounds a
    /// percentile or maximises goodput.
    pub fn simulated(&self) -> bool {
        self.objective == Objective::Goodput || self.slos.iter().any(|s| s.percentile.is_some())
    }

    /// Whether the plan's answer reads the time to a first token: a TTFT bound (mean or
    /// percentile), the TTFT goal, or goodput (whose simulated requests meet every SLO).
    pub fn reads_ttft(&self) -> bool {
        self.slos.iter().any(|s| s.metric == SloMetric::Ttft) || matches!(self.objective, Objective::Ttft | Objective::Goodput)
    }

    pub fn placement(&self, s: Stage) -> &Placement {
        // Resolution creates one placement per stage, in `Stage::ALL` order.
        &self.placements[Stage::ALL.iter().position(|x| *x == s).unwrap_or(0)]
    }
}

/// Everything a compiled file declares.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Program {
    pub plans: Vec<Plan>,
    pub compares: Vec<Compare>,
    /// every model the root file declares or imports, as declared (no plan's
    /// overrides), in name order; for editors
    pub models: Vec<Model>,
    /// every chip the root file declares or imports, in name order; for editors
    pub chips: Vec<Chip>,
    /// what each name in the loaded files refers to, as resolution found it; for
    /// editors (go to definition, references, rename)
    pub names: NameIndex,
}

/// What a name stands for: an item of a kind, or a cluster's pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NameKind {
    Item(crate::syntax::ast::ItemKind),
    Pool,
}

/// One name in the source and the declaration it resolves to. A declaration is in the
/// index as a use of itself (`at == decl`), with `item` the whole item or statement it
/// names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct NameRef {
    pub at: Span,
    pub decl: Span,
    pub item: Span,
    pub kind: NameKind,
}

/// Every resolved name of a compilation, ordered by file and position (one entry per
/// span: resolution may look a name up more than once). Its size is linear in the
/// names of the files loaded.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NameIndex {
    names: Vec<NameRef>,
}

impl NameIndex {
    /// The index of `names`, sorted and without repeats.
    pub fn new(mut names: Vec<NameRef>) -> NameIndex {
        names.sort_by_key(|n| (n.at.file, n.at.start, n.at.end, n.decl.file, n.decl.start));
        names.dedup_by_key(|n| (n.at.file, n.at.start, n.at.end));
        NameIndex { names }
    }

    /// The name whose span holds byte `at` of `file` (its end included: a cursor just
    /// after a name is on it).
    pub fn at(&self, file: crate::source::FileId, at: usize) -> Option<&NameRef> {
        let i = self.names.partition_point(|n| (n.at.file, n.at.start as usize) <= (file, at));
        self.names[..i].iter().rev().take_while(|n| n.at.file == file).find(|n| (n.at.start as usize..=n.at.end as usize).contains(&at))
    }

    /// The declaration entry of `decl` (the name of an item or a pool).
    pub fn declaration(&self, decl: Span) -> Option<&NameRef> {
        self.names.iter().find(|n| n.at == decl && n.decl == decl)
    }

    pub fn iter(&self) -> impl Iterator<Item = &NameRef> {
        self.names.iter()
    }
}

/// `compare`: plans side by side against a baseline.
#[derive(Clone, Debug, PartialEq)]
pub struct Compare {
    pub name: String,
    pub span: Span,
    /// indices into [`Program::plans`]
    pub baseline: usize,
    pub plans: Vec<usize>,
    /// tokens/s per user to compare the frontiers at
    pub interactivity: Option<f64>,
    /// break-evens asked for: where each compared plan and the baseline trade places as
    /// one figure moves over a range
    pub break_even: Vec<BreakEvenAsk>,
}

/// The most values a `break_even` block tries before bisecting (each solves both plans).
pub const MAX_BREAK_EVEN_POINTS: usize = 64;

/// A `break_even NAME { figure = "...", values = lo ..= hi }` of a compare block.
#[derive(Clone, Debug, PartialEq)]
pub struct BreakEvenAsk {
    /// its label
    pub name: String,
    /// `ITEM.FIGURE`
    pub figure: String,
    /// per plan of the comparison (indices into [`Program::plans`]): the figure in that
    /// plan's cluster, `None` where its cluster has no such item (its answer stays)
    pub inputs: Vec<(usize, Option<uncertain::Input>)>,
    /// the values tried first, in increasing order (SI units)
    pub values: Vec<f64>,
    pub span: Span,
}

impl BreakEvenAsk {
    /// The figure's SI unit (some plan has it: resolution checks that).
    pub fn unit(&self) -> &'static str {
        self.inputs.iter().find_map(|(_, x)| x.as_ref()).map_or("", |x| x.figure.unit())
    }

    /// The range asked, `[low, high]`.
    pub fn range(&self) -> [f64; 2] {
        [self.values[0], self.values[self.values.len() - 1]]
    }

    /// The figure in plan `i`'s cluster; `None` where the plan keeps its answer (its
    /// cluster has no such item, or it is not one of the comparison's plans).
    pub fn input_of(&self, i: usize) -> Option<&uncertain::Input> {
        self.inputs.iter().find(|(j, _)| *j == i).and_then(|(_, x)| x.as_ref())
    }
}

impl Model {
    /// Attention parameters of one layer.
    /// GQA: `h·n_h·d + 2·h·n_kv·d + n_h·d·h` (+ biases `n_h·d + 2·n_kv·d + h`, + q/k norms `2·d`).
    /// MLA: `h·r_q + r_q + r_q·n_h·(d_nope + d_rope) + h·(r_kv + d_rope) + r_kv + r_kv·n_h·(d_nope + d_v) + n_h·d_v·h`
    /// (the `+ r_q` and `+ r_kv` are the latent RMSNorms).
    pub fn attn_params_per_layer(&self) -> u64 {
        let (h, nh) = (self.hidden, self.heads);
        match self.mla {
            Some(m) => {
                let qk = m.qk_nope_dim + m.qk_rope_dim;
                let q = if m.q_lora_rank == 0 { h * nh * qk } else { h * m.q_lora_rank + m.q_lora_rank + m.q_lora_rank * nh * qk };
                let kv = h * (m.kv_lora_rank + m.qk_rope_dim) + m.kv_lora_rank + m.kv_lora_rank * nh * (m.qk_nope_dim + m.v_head_dim);
                q + kv + nh * m.v_head_dim * h
            }
            None => {
                let (nkv, d) = (self.kv_heads, self.head_dim);
                let mut p = h * nh * d + 2 * h * nkv * d + nh * d * h;
                if self.biases {
                    p += nh * d + 2 * nkv * d + h;
                }
                if self.qk_norm {
                    p += 2 * d;
                }
                p
            }
        }
    }

    /// The attention output projection: `n_h·d_v·h` (+ bias `h`).
    pub fn o_proj_params(&self) -> u64 {
        let dv = self.mla.map(|m| m.v_head_dim).unwrap_or(self.head_dim);
        self.heads * dv * self.hidden + if self.biases && self.mla.is_none() { self.hidden } else { 0 }
    }

    /// Everything in attention before the core: Q, K, V (or the MLA projections).
    pub fn qkv_params(&self) -> u64 {
        self.attn_params_per_layer() - self.o_proj_params()
    }

    /// Whether layer `l` (0-based) uses the sliding window: the sliding layers are
    /// spread evenly (every other layer when half of them slide, as in gpt-oss).
    pub fn is_sliding(&self, l: u64) -> bool {
        match self.sliding {
            Some(s) if self.layers > 0 => ((l + 1) * s.layers) / self.layers > (l * s.layers) / self.layers,
            _ => false,
        }
    }

    /// Whether layer `l` has an MoE FFN (the first `dense_layers` are dense).
    pub fn is_moe(&self, l: u64) -> bool {
        self.moe.is_some() && l >= self.dense_layers()
    }

    /// What layer `l` does: whether it slides and whether its FFN is MoE. Layers of one
    /// kind do the same work in every step.
    pub fn layer_kind(&self, l: u64) -> LayerKind {
        LayerKind { sliding: self.is_sliding(l), moe: self.is_moe(l) }
    }

    /// The model's layer kinds in order of first appearance, each with its layer count,
    /// and how many times a layer of one kind is followed by one of another (or the
    /// same) kind: at most four kinds and sixteen transitions, whatever the depth.
    pub fn layer_kinds(&self) -> LayerKinds {
        // without sliding layers the kinds are two runs, the dense layers then the MoE
        // ones: counted without walking the layers (every decode step's graph asks)
        if self.sliding.is_none() {
            let dense = self.dense_layers();
            let runs = [(self.layer_kind(0), dense), (self.layer_kind(self.layers.saturating_sub(1)), self.layers - dense)];
            return LayerKinds::of_runs(&runs);
        }
        self.layer_kinds_walked()
    }

    /// [`Model::layer_kinds`] by walking every layer.
    fn layer_kinds_walked(&self) -> LayerKinds {
        let mut out = LayerKinds::default();
        let mut prev: Option<usize> = None;
        for l in 0..self.layers {
            let kind = self.layer_kind(l);
            let i = match out.kinds.iter().position(|(k, _)| *k == kind) {
                Some(i) => i,
                None => {
                    out.kinds.push((kind, 0));
                    out.kinds.len() - 1
                }
            };
            out.kinds[i].1 += 1;
            if let Some(p) = prev {
                match out.next.iter_mut().find(|(a, b, _)| (*a, *b) == (p, i)) {
                    Some((_, _, n)) => *n += 1,
                    None => out.next.push((p, i, 1)),
                }
            }
            prev = Some(i);
        }
        out.last = prev;
        out
    }

    /// A SwiGLU FFN of intermediate size `i`: `3·h·i` (+ biases `2·i + h`).
    fn swiglu_params(&self, i: u64) -> u64 {
        3 * self.hidden * i + if self.biases { 2 * i + self.hidden } else { 0 }
    }

    /// The dense FFN of one layer.
    pub fn ffn_params_per_layer(&self) -> u64 {
        self.swiglu_params(self.intermediate)
    }

    /// One expert of an MoE layer.
    pub fn expert_params(&self) -> u64 {
        self.moe.map(|m| self.swiglu_params(m.expert_intermediate)).unwrap_or(0)
    }

    /// The router of one MoE layer: `h·E` (+ `E` with a bias).
    pub fn router_params(&self) -> u64 {
        self.moe.map(|m| self.hidden * m.experts + if m.router_bias { m.experts } else { 0 }).unwrap_or(0)
    }

    pub fn dense_layers(&self) -> u64 {
        match self.moe {
            Some(m) => m.dense_layers.min(self.layers),
            None => self.layers,
        }
    }

    pub fn moe_layers(&self) -> u64 {
        self.layers - self.dense_layers()
    }

    /// All FFN parameters: dense layers, plus every expert and router of the MoE layers.
    pub fn ffn_params(&self) -> u64 {
        let moe = self.moe.map(|m| (m.experts + m.shared) * self.expert_params() + self.router_params()).unwrap_or(0);
        self.dense_layers() * self.ffn_params_per_layer() + self.moe_layers() * moe
    }

    /// FFN parameters one token touches: top-k routed and the shared experts, and the router.
    pub fn ffn_active_params(&self) -> u64 {
        let moe = self.moe.map(|m| (m.top_k + m.shared) * self.expert_params() + self.router_params()).unwrap_or(0);
        self.dense_layers() * self.ffn_params_per_layer() + self.moe_layers() * moe
    }

    /// Input embedding plus LM head (one matrix when tied).
    pub fn embedding_params(&self) -> u64 {
        let one = self.vocab * self.hidden;
        if self.tied_embeddings {
            one
        } else {
            2 * one
        }
    }

    /// RMSNorm weights: two per layer plus the final norm.
    pub fn norm_params(&self) -> u64 {
        (2 * self.layers + 1) * self.hidden
    }

    pub fn params(&self) -> u64 {
        self.layers * self.attn_params_per_layer() + self.ffn_params() + self.embedding_params() + self.norm_params()
    }

    /// Parameters touched per token (all of them for a dense model).
    pub fn active_params(&self) -> u64 {
        self.layers * self.attn_params_per_layer() + self.ffn_active_params() + self.embedding_params() + self.norm_params()
    }

    /// The precision of the tensors quantised checkpoints leave unquantised: the
    /// embedding and LM head, the norms and the MoE routers (the exclusion lists of FP8
    /// and FP4 checkpoints, e.g. `lm_head` and `mlp.gate`; routers are sensitive and
    /// tiny). They stay in the activations' precision, or the weights' where that is
    /// wider.
    pub fn unquantized(&self) -> Precision {
        if self.activations.bytes() > self.weights.bytes() {
            self.activations
        } else {
            self.weights
        }
    }

    /// [`Model::unquantized`] where it differs from the weights' precision (what reports
    /// and hovers name beside the weights).
    pub fn unquantized_apart(&self) -> Option<Precision> {
        Some(self.unquantized()).filter(|u| *u != self.weights)
    }

    /// Parameters held in [`Model::unquantized`] precision: embeddings, norms and routers.
    pub fn unquantized_params(&self) -> u64 {
        self.embedding_params() + self.norm_params() + self.moe_layers() * self.router_params()
    }

    /// Weight bytes: the quantised parameters at the weights' precision, the rest
    /// ([`Model::unquantized_params`]) at theirs.
    pub fn weight_bytes(&self) -> f64 {
        let unq = self.unquantized_params();
        (self.params() - unq) as f64 * self.weights.bytes() + unq as f64 * self.unquantized().bytes()
    }

    /// Weight bytes of layer `l` ([`Model::layer_params`]): its two norms and its router
    /// at [`Model::unquantized`] precision.
    pub fn layer_weight_bytes(&self, l: u64) -> f64 {
        let unq = 2 * self.hidden + if self.is_moe(l) { self.router_params() } else { 0 };
        (self.layer_params(l) - unq) as f64 * self.weights.bytes() + unq as f64 * self.unquantized().bytes()
    }

    /// KV-cache bytes one layer stores per token: GQA `2·n_kv·d·k`, MLA `(r_kv + d_rope)·k`.
    pub fn kv_bytes_per_token_per_layer(&self) -> f64 {
        let elems = match self.mla {
            Some(m) => m.kv_lora_rank + m.qk_rope_dim,
            None => 2 * self.kv_heads * self.head_dim,
        };
        elems as f64 * self.kv.bytes()
    }

    /// KV bytes per token with every layer caching every token (the nominal figure:
    /// `2·L·n_kv·d·k` for GQA, `L·(r_kv + d_rope)·k` for MLA).
    pub fn kv_bytes_per_token(&self) -> f64 {
        self.layers as f64 * self.kv_bytes_per_token_per_layer()
    }

    /// KV bytes of one sequence of `context` tokens: sliding-window layers keep at most
    /// their window.
    pub fn kv_bytes(&self, context: f64) -> f64 {
        let per = self.kv_bytes_per_token_per_layer();
        match self.sliding {
            Some(s) => {
                let sl = s.layers.min(self.layers) as f64;
                (self.layers as f64 - sl) * per * context + sl * per * context.min(s.window as f64)
            }
            None => self.layers as f64 * per * context,
        }
    }

    /// Parameters layer `l` stores: attention, its FFN (every expert and the router
    /// of an MoE layer) and its two norms.
    pub fn layer_params(&self, l: u64) -> u64 {
        self.attn_params_per_layer() + self.ffn_params_of(l) + 2 * self.hidden
    }

    /// FFN parameters of layer `l`: its dense FFN, or its experts (routed and shared)
    /// and router; summed over the layers this is [`Model::ffn_params`].
    pub fn ffn_params_of(&self, l: u64) -> u64 {
        if self.is_moe(l) {
            self.moe.map(|m| (m.experts + m.shared) * self.expert_params() + self.router_params()).unwrap_or(0)
        } else {
            self.ffn_params_per_layer()
        }
    }

    /// KV bytes layer `l` keeps for one sequence of `context` tokens (a sliding layer
    /// at most its window); summed over the layers this is [`Model::kv_bytes`].
    pub fn kv_bytes_layer(&self, l: u64, context: f64) -> f64 {
        let per = self.kv_bytes_per_token_per_layer();
        match self.sliding {
            Some(s) if self.is_sliding(l) => per * context.min(s.window as f64),
            _ => per * context,
        }
    }

    /// Ways the KV cache splits under tensor parallelism: GQA heads up to `n_kv`;
    /// the MLA latent is shared by all heads, so every chip keeps all of it.
    pub fn kv_split(&self, tp: u64) -> u64 {
        match self.mla {
            Some(_) => 1,
            None => tp.min(self.kv_heads).max(1),
        }
    }

    /// Ways a `tp`-chip attention group may split each sequence's KV cache by context
    /// on top of [`Model::kv_split`] (KV parallelism, docs/cost-model.md §4f): the chips
    /// beyond the KV heads, `tp / kv_split(tp)`, where that is whole; 1 otherwise.
    pub fn context_split(&self, tp: u64) -> u64 {
        let heads = self.kv_split(tp);
        if tp % heads == 0 {
            tp / heads
        } else {
            1
        }
    }

    /// Bytes of every layer's query, key and value projections.
    pub fn qkv_weight_bytes(&self) -> f64 {
        (self.layers * self.qkv_params()) as f64 * self.weights.bytes()
    }

    /// Weights that live with attention in a disaggregated deployment:
    /// attention projections, embeddings, LM head and norms.
    pub fn attn_side_weight_bytes(&self) -> f64 {
        (self.layers * self.attn_params_per_layer()) as f64 * self.weights.bytes()
            + (self.embedding_params() + self.norm_params()) as f64 * self.unquantized().bytes()
    }

    pub fn ffn_weight_bytes(&self) -> f64 {
        let routers = self.moe_layers() * self.router_params();
        (self.ffn_params() - routers) as f64 * self.weights.bytes() + routers as f64 * self.unquantized().bytes()
    }

    /// The dimension tensor parallelism splits in the FFN stage: the dense
    /// intermediate size, or the number of experts (expert parallelism).
    pub fn ffn_split_dim(&self) -> u64 {
        match self.moe {
            Some(m) => m.experts,
            None => self.intermediate,
        }
    }

    /// Whether an FFN can spread over `n` chips: a dense one when `n` divides its
    /// intermediate size; an MoE one when each chip holds at least one expert (`n ≤ E`;
    /// where `n` does not divide `E`, each holds `⌈E/n⌉` slots and the slots beyond the
    /// experts hold copies of them: redundant experts, docs/cost-model.md §4d).
    pub fn ffn_spreads_over(&self, n: u64) -> bool {
        match self.moe {
            Some(m) => (1..=m.experts).contains(&n),
            None => n > 0 && self.intermediate % n == 0,
        }
    }

    /// Whether an MoE layer's experts can each be split by width over `n > 1` chips
    /// (tensor parallelism inside every expert, docs/cost-model.md §4h): `n` divides the
    /// expert intermediate size, and the dense layers' where the model has any. `false`
    /// for a dense model (its FFN's degree is tensor parallelism already).
    pub fn experts_split_by_width(&self, n: u64) -> bool {
        match self.moe {
            Some(m) => n > 1 && m.expert_intermediate % n == 0 && (m.dense_layers == 0 || self.intermediate % n == 0),
            None => false,
        }
    }

    /// Expert slots each of `n` chips holds when an MoE layer's experts spread over them:
    /// `⌈E/n⌉` (0 for a dense model).
    pub fn expert_slots(&self, n: u64) -> u64 {
        self.moe.map_or(0, |m| m.experts.div_ceil(n.max(1)))
    }

    /// The slots of `n` chips beyond the experts (redundant copies): `n·⌈E/n⌉ − E`.
    pub fn redundant_experts(&self, n: u64) -> u64 {
        self.moe.map_or(0, |m| n * self.expert_slots(n) - m.experts)
    }

    /// The chips whose equal shares price an FFN spread over `n`: `n` for a dense FFN or
    /// when `n` divides the experts; else `⌊E/⌈E/n⌉⌋`, the chips that would hold the
    /// experts at the busiest chip's `⌈E/n⌉` each (its work is that of an expert layer
    /// over that many; the redundant copies are not counted as relieving it).
    pub fn expert_split(&self, n: u64) -> u64 {
        match self.moe {
            Some(m) if n > 0 && m.experts % n != 0 => m.experts / self.expert_slots(n),
            _ => n,
        }
    }

    /// FFN weight bytes on each of `n` chips the FFN spreads over: `1/n` of them, but
    /// for routed experts that `n` does not divide, `⌈E/n⌉` experts' bytes per chip.
    pub fn ffn_weight_bytes_per_chip(&self, n: u64) -> f64 {
        let n = n.max(1);
        match self.moe {
            Some(m) if m.experts % n != 0 => {
                let routed = (self.moe_layers() * m.experts * self.expert_params()) as f64 * self.weights.bytes();
                (self.ffn_weight_bytes() - routed) / n as f64 + routed * self.expert_slots(n) as f64 / m.experts as f64
            }
            _ => self.ffn_weight_bytes() / n as f64,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;
    use crate::source::{FileId, Span};

    /// Llama-3.1-70B from its config.json, for unit tests.
    pub fn llama70b() -> Model {
        Model {
            name: "llama3_1_70b".into(),
            span: Span::new(FileId(0), 0, 0),
            source: String::new(),
            layers: 80,
            hidden: 8192,
            heads: 64,
            kv_heads: 8,
            head_dim: 128,
            intermediate: 28672,
            vocab: 128256,
            tied_embeddings: false,
            mla: None,
            moe: None,
            sliding: None,
            biases: false,
            qk_norm: false,
            max_context: Some(131072),
            weights: Precision::Bf16,
            kv: Precision::Bf16,
            activations: Precision::Bf16,
            variants: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::llama70b as llama3_1_70b;
    use super::*;

    /// The layer kinds counted from the dense and MoE runs are those walking every layer
    /// gives, for every depth and dense-layer count (none, some, all, more than all), with
    /// and without MoE; sliding layers are walked.
    #[test]
    fn layer_kinds_counted_as_runs_are_those_walked() {
        let moe = |dense_layers| Some(Moe { experts: 8, top_k: 2, shared: 0, expert_intermediate: 64, dense_layers, router_bias: false });
        let mut checked = 0;
        for layers in [0, 1, 2, 3, 5, 61, 126] {
            for dense in [None, Some(0), Some(1), Some(2), Some(3), Some(60), Some(200)] {
                let m = Model { layers, moe: dense.and_then(moe), sliding: None, ..llama3_1_70b() };
                assert_eq!(m.layer_kinds(), m.layer_kinds_walked(), "{layers} layers, dense {dense:?}");
                checked += 1;
            }
        }
        assert_eq!(checked, 49);
    }

    #[test]
    fn percentiles_read_one_way_only() {
        let per_mille = |w: &str| Percentile::parse(w).map(|p| p.per_mille);
        assert_eq!(per_mille("p50"), Some(500));
        assert_eq!(per_mille("p99"), Some(990));
        assert_eq!(per_mille("p999"), Some(999));
        assert_eq!(per_mille("p995"), Some(995));
        for bad in ["p5", "p100", "p500", "p05", "p9999", "q99", "p", "p9x", "p-1"] {
            assert_eq!(per_mille(bad), None, "{bad}");
        }
        assert_eq!(Percentile { per_mille: 990 }.name(), "p99");
        assert_eq!(Percentile { per_mille: 999 }.name(), "p999");
        assert!((Percentile { per_mille: 999 }.quantile() - 0.999).abs() < 1e-12);
    }
    use crate::source::{FileId, Span};

    #[test]
    fn llama70b_kv_bytes_per_token() {
        // 2 (K,V) x 80 layers x 8 kv_heads x 128 head_dim x 2 B = 327,680 B
        assert_eq!(llama3_1_70b().kv_bytes_per_token(), 327_680.0);
        let mut fp8 = llama3_1_70b();
        fp8.kv = Precision::Fp8;
        assert_eq!(fp8.kv_bytes_per_token(), 163_840.0);
    }

    #[test]
    fn llama70b_parameter_count() {
        let m = llama3_1_70b();
        // attention: q 8192*64*128 = 67,108,864; k+v 2*8192*8*128 = 16,777,216;
        // o 67,108,864 -> 150,994,944 per layer, x80 = 12,079,595,520
        assert_eq!(m.attn_params_per_layer(), 150_994_944);
        // ffn: 3*8192*28672 = 704,643,072 per layer, x80 = 56,371,445,760
        assert_eq!(m.ffn_params_per_layer(), 704_643_072);
        // embeddings: 2 * 128256*8192 = 2,101,346,304; norms (2*80+1)*8192 = 1,318,912
        assert_eq!(m.embedding_params(), 2_101_346_304);
        assert_eq!(m.norm_params(), 1_318_912);
        // 12,079,595,520 + 56,371,445,760 + 2,101,346,304 + 1,318,912
        assert_eq!(m.params(), 70_553_706_496);
        assert_eq!(m.weight_bytes(), 141_107_412_992.0);
    }

    #[test]
    fn per_layer_parts_sum_to_the_whole() {
        // Llama-3.1-70B: 150,994,944 + 704,643,072 + 2*8192 = 855,654,400 per layer; with
        // the embeddings and the final norm the layers make up every parameter.
        let m = llama3_1_70b();
        assert_eq!(m.layer_params(0), 855_654_400);
        let layers: u64 = (0..m.layers).map(|l| m.layer_params(l)).sum();
        assert_eq!(layers + m.embedding_params() + m.hidden, m.params());
        // gpt-oss-style: half the layers slide with a 128-token window
        let sw = Model { sliding: Some(Sliding { window: 128, layers: 40 }), ..llama3_1_70b() };
        let per: f64 = (0..sw.layers).map(|l| sw.kv_bytes_layer(l, 4096.0)).sum();
        assert_eq!(per, sw.kv_bytes(4096.0));
        assert_eq!(sw.kv_bytes_layer(0, 4096.0) + sw.kv_bytes_layer(1, 4096.0), 4096.0 * 4096.0 + 128.0 * 4096.0);
    }

    #[test]
    fn quantised_weights_keep_embeddings_norms_and_routers_unquantised() {
        // Llama-3.1-70B in FP8: the 68,451,041,280 layer GEMM parameters at 1 B, the
        // embeddings (2,101,346,304) and norms (1,318,912) at BF16's 2 B
        let fp8 = Model { weights: Precision::Fp8, ..llama3_1_70b() };
        assert_eq!(fp8.unquantized(), Precision::Bf16);
        assert_eq!((fp8.unquantized_apart(), llama3_1_70b().unquantized_apart()), (Some(Precision::Bf16), None));
        assert_eq!(fp8.unquantized_params(), 2_101_346_304 + 1_318_912);
        assert_eq!(fp8.weight_bytes(), 68_451_041_280.0 + 2.0 * (2_101_346_304.0 + 1_318_912.0));
        assert_eq!(fp8.attn_side_weight_bytes() + fp8.ffn_weight_bytes(), fp8.weight_bytes());
        // a layer: its GEMMs at 1 B, its two norms at 2 B; with the embeddings and the final
        // norm the layers make up every byte
        assert_eq!(fp8.layer_weight_bytes(0), 855_654_400.0 - 16_384.0 + 2.0 * 16_384.0);
        let layers: f64 = (0..fp8.layers).map(|l| fp8.layer_weight_bytes(l)).sum();
        assert_eq!(layers + 2.0 * (fp8.embedding_params() + fp8.hidden) as f64, fp8.weight_bytes());
        // a MoE layer's router stays BF16 too (Qwen3-235B-A22B-like: 128 experts of 4096)
        let moe = Model {
            moe: Some(Moe { experts: 128, top_k: 8, shared: 0, expert_intermediate: 1536, dense_layers: 0, router_bias: false }),
            ..fp8.clone()
        };
        let router = 8192 * 128;
        assert_eq!(moe.router_params(), router);
        assert_eq!(moe.layer_weight_bytes(3), (moe.layer_params(3) - 16_384 - router) as f64 + 2.0 * (16_384 + router) as f64);
        assert_eq!(moe.ffn_weight_bytes(), (moe.ffn_params() - 80 * router) as f64 + 2.0 * (80 * router) as f64);
        assert_eq!(moe.unquantized_params(), 2_101_346_304 + 1_318_912 + 80 * router);
        assert_eq!(moe.attn_side_weight_bytes() + moe.ffn_weight_bytes(), moe.weight_bytes());
        // weights no narrower than the activations are stored as they are
        assert_eq!(llama3_1_70b().unquantized(), Precision::Bf16);
        assert_eq!(llama3_1_70b().weight_bytes(), 141_107_412_992.0);
        // at FP4 the GEMMs take half a byte: attention 80 x 150,994,944 and FFN
        // 80 x 704,643,072 parameters
        let fp4 = Model { weights: Precision::Fp4, ..llama3_1_70b() };
        assert_eq!(fp4.attn_side_weight_bytes(), 0.5 * 80.0 * 150_994_944.0 + 2.0 * (2_101_346_304.0 + 1_318_912.0));
        assert_eq!(fp4.ffn_weight_bytes(), 0.5 * 80.0 * 704_643_072.0);
        // of two formats as wide, the weights' own
        let fp16 = Model { weights: Precision::Fp16, ..llama3_1_70b() };
        assert_eq!(fp16.unquantized(), Precision::Fp16);
        let fp32 = Model { weights: Precision::Fp32, ..llama3_1_70b() };
        assert_eq!(fp32.unquantized(), Precision::Fp32);
        assert_eq!(fp32.weight_bytes(), 4.0 * fp32.params() as f64);
    }

    #[test]
    fn tied_embeddings_count_once() {
        // Llama-3.2-1B: 16 layers, hidden 2048, 32 heads, 8 kv heads, head_dim 64, ffn 8192, tied.
        let m = Model {
            layers: 16,
            hidden: 2048,
            heads: 32,
            kv_heads: 8,
            head_dim: 64,
            intermediate: 8192,
            tied_embeddings: true,
            ..llama3_1_70b()
        };
        // attn/layer: 2048*32*64*2 + 2*2048*8*64 = 8,388,608 + 2,097,152 = 10,485,760
        // ffn/layer: 3*2048*8192 = 50,331,648; embed 128256*2048 = 262,668,288; norms 33*2048 = 67,584
        // total: 16*(10,485,760+50,331,648) + 262,668,288 + 67,584 = 1,235,814,400
        assert_eq!(m.params(), 1_235_814_400);
        assert_eq!(m.kv_bytes_per_token(), 32_768.0);
    }

    #[test]
    fn peak_falls_back_to_a_wider_precision() {
        let mut compute = BTreeMap::new();
        compute.insert(Precision::Bf16, 989e12);
        compute.insert(Precision::Fp8, 1979e12);
        let chip = Chip {
            name: "h100".into(),
            span: Span::new(FileId(0), 0, 0),
            source: String::new(),
            compute,
            memory: vec![],
            power: None,
            system_power: None,
            price: None,
            compute_efficiency: 1.0,
            memory_efficiency: 1.0,
            step_overhead: 0.0,
            layer_overhead: 0.0,
            sequence_overhead: 0.0,
            frameworks: BTreeMap::new(),
            tables: None,
            fp8_gemm_surplus: 0.0,
            engine: None,
            uncertain: vec![],
            peaks: Default::default(),
        };
        assert_eq!(chip.peak(Precision::Fp4), Some((Precision::Fp8, 1979e12)));
        assert_eq!(chip.peak(Precision::Bf16), Some((Precision::Bf16, 989e12)));
        assert_eq!(chip.peak(Precision::Fp32), None);
    }
}
