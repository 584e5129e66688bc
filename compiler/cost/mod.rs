//! Pure cost functions: roofline time of graph nodes on a chip, collective
//! communication, link crossings, memory footprint and money. Every equation
//! is documented in docs/cost-model.md with its source.

pub mod admission;
pub mod aggregated;
pub mod step;
pub mod tables;

pub use tables::MoeSplit;

use crate::ir::graph::{Graph, Kernel, Node};
use crate::ir::{Chip, Contents, Link, Model, Stage};

/// Time of one node on one chip of a tensor-parallel group of `tp` chips: from the
/// chip's measured op tables where they cover every kernel the node runs
/// ([`tables::node_lookup`]), from the roofline otherwise:
///
/// `t = max(F / (P·η_c), W/(BW_w·η_m) + KV/(BW_kv·η_m) + A/(BW_w·η_m))` where F, W and A
/// are split over `tp` chips and the KV cache over `kv_split` of them
/// ([`Model::kv_split`]: GQA heads are replicated beyond `n_kv`; an MLA latent is not
/// split). Returns `None` if the chip has no compute for the node's precision or any
/// wider one.
pub fn node_time(node: &Node, chip: &Chip, tp: u64, kv_split: u64) -> Option<Roofline> {
    Pricer::new(chip, MoeSplit::Experts)?.node(node, tp, kv_split)
}

/// [`node_time`] on one chip for many nodes, its figures looked up once: `(node, tp,
/// kv_split)`.
pub fn node_times(chip: &Chip) -> Option<impl Fn(&Node, u64, u64) -> Option<Roofline> + '_> {
    let pricer = Pricer::new(chip, MoeSplit::Experts)?;
    Some(move |node: &Node, tp: u64, kv_split: u64| pricer.node(node, tp, kv_split))
}

/// A chip's figures that [`node_time`] reads, looked up once for many nodes.
struct Pricer<'a> {
    chip: &'a Chip,
    /// peak FLOP/s per precision, or the narrowest wider one's; and the widest
    /// precision's: what an operator that keeps its precision (`Op::keeps_precision`)
    /// runs at when the chip has none that wide
    peaks: crate::ir::Peaks,
    w_bandwidth: f64,
    kv_bandwidth: f64,
    /// how an MoE layer's experts divide over the group (the tables differ; the roofline
    /// does not: either way each chip reads and computes `1/tp` of the routed work)
    experts: MoeSplit,
}

impl<'a> Pricer<'a> {
    fn new(chip: &'a Chip, experts: MoeSplit) -> Option<Pricer<'a>> {
        Some(Pricer {
            chip,
            peaks: chip.peaks(),
            w_bandwidth: chip.tier_for(Contents::Weights)?.bandwidth,
            kv_bandwidth: chip.tier_for(Contents::Kv)?.bandwidth,
            experts,
        })
    }

    fn node(&self, node: &Node, tp: u64, kv_split: u64) -> Option<Roofline> {
        let chip = self.chip;
        let tp_f = tp as f64;
        let kv_split = kv_split.max(1) as f64;
        let compute = if node.flops > 0.0 {
            let i = crate::ir::Precision::ALL.iter().position(|p| *p == node.precision)?;
            let peak = self.peaks.by_precision[i].or(if node.op.keeps_precision() { self.peaks.widest } else { None })?;
            node.flops / tp_f / (peak * chip.compute_efficiency)
        } else {
            0.0
        };
        let eta = chip.memory_efficiency;
        let memory = (node.weight_bytes + node.act_bytes) / tp_f / (self.w_bandwidth * eta)
            + (node.kv_read_bytes + node.kv_write_bytes) / kv_split / (self.kv_bandwidth * eta);
        let looked =
            chip.tables.as_ref().and_then(|t| tables::node_lookup(node, t, tp, kv_split as u64, self.experts, chip.fp8_gemm_surplus));
        // an engine whose MoE kernels read every expert each step: no faster than
        // streaming all of them (docs/cost-model.md §4e)
        let floor = match (node.kernel, chip.engine.and_then(|e| e.moe_dense_reads)) {
            (Kernel::Moe(s), Some(share)) => {
                let touched = crate::ir::graph::expected_experts_touched(s.experts, s.top_k, s.tokens);
                let every = if touched > 0.0 { node.weight_bytes * s.experts as f64 / touched } else { 0.0 };
                every / tp_f / (self.w_bandwidth * share)
            }
            _ => 0.0,
        };
        Some(Roofline {
            compute,
            memory: memory.max(floor),
            table: looked.map(|l| l.time.max(floor)),
            extrapolated: looked.is_some_and(|l| l.extrapolated),
        })
    }
}

/// A node's time: its roofline bounds, and the measured time when a table priced it.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Roofline {
    pub compute: f64,
    pub memory: f64,
    /// seconds from the chip's op tables, when they cover the node
    pub table: Option<f64>,
    /// the table lookup left the measured range on some axis
    pub extrapolated: bool,
}

impl Roofline {
    /// The table's time where there is one, else the larger roofline bound.
    pub fn time(self) -> f64 {
        self.table.unwrap_or(self.compute.max(self.memory))
    }
}

/// Sum of node times over the nodes of `stages`, and how much of it was
/// compute-bound vs memory-bound.
/// Also how much came from measured tables, whether a lookup was extrapolated, and
/// the per-layer fixed cost.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct StageTime {
    pub time: f64,
    pub compute_bound: f64,
    pub memory_bound: f64,
    /// the part of `time` priced by the chip's op tables (the rest: roofline and fixed costs)
    pub from_tables: f64,
    /// the part of `time` that is the chip's per-layer fixed cost
    pub fixed: f64,
    /// some table lookup left the measured range
    pub extrapolated: bool,
}

/// `Σ node time` over the nodes of `stages`, plus the chip's `layer_overhead` once per
/// layer whose attention is among them (the chips that run a layer's attention run
/// its small ops and launch its kernels; docs/cost-model.md §9).
pub fn stage_time(graph: &Graph, stages: &[Stage], chip: &Chip, tp: u64, kv_split: u64) -> Option<StageTime> {
    stage_time_by(graph, stages, Pricer::new(chip, MoeSplit::Experts)?, |_| (tp, kv_split))
}

/// The decode FFN stage of `graph` over `n` chips whose MoE experts divide as `split`
/// says (docs/cost-model.md §4h): [`stage_time`] of [`Stage::DecodeFfn`], the expert
/// nodes looked up in the chip's `moe` or `moe_tp` tables. Whole experts are priced as
/// over the chips that would hold them at the busiest's share
/// ([`Model::expert_split`], §4d); split by width, over all `n`.
pub fn ffn_stage_time(graph: &Graph, model: &Model, chip: &Chip, n: u64, split: MoeSplit) -> Option<StageTime> {
    let ways = match split {
        MoeSplit::Experts => model.expert_split(n),
        MoeSplit::Width => n,
    };
    stage_time_by(graph, &[Stage::DecodeFfn], Pricer::new(chip, split)?, |_| (ways, 1))
}

/// Whether the chip's op tables measure every expert node of `graph`'s decode FFN split
/// by width over `n` GPUs (a `moe_tp` table for its shape and `n`). The roofline has no
/// term for what splitting each expert costs (narrow grouped GEMMs; docs/cost-model.md
/// §4h), so only a measured split is offered beside whole experts unless a pin asks.
pub fn width_split_measured(graph: &Graph, chip: &Chip, n: u64) -> bool {
    let Some(t) = chip.tables.as_ref() else { return false };
    let mut experts = graph
        .classes()
        .iter()
        .map(|(node, _)| node)
        .filter(|x| x.stage == Stage::DecodeFfn && matches!(x.kernel, Kernel::Moe(_)))
        .peekable();
    experts.peek().is_some() && experts.all(|x| tables::node_lookup(x, t, n, 1, MoeSplit::Width, 0.0).is_some())
}

/// [`stage_time`] with each node on the chips `split(node)` says: `(tp, kv_split)`, the
/// ways its work and its KV cache are divided.
fn stage_time_by(graph: &Graph, stages: &[Stage], pricer: Pricer, split: impl Fn(&Node) -> (u64, u64)) -> Option<StageTime> {
    let mut st = StageTime::default();
    let chip = pricer.chip;
    // nodes that do the same work cost the same: each group is priced once
    for (n, count) in graph.classes().iter().filter(|(n, _)| stages.contains(&n.stage)) {
        let k = *count as f64;
        let (tp, kv_split) = split(n);
        let r = pricer.node(n, tp, kv_split)?;
        let t = r.time() * k;
        st.time += t;
        if r.compute >= r.memory {
            st.compute_bound += t;
        } else {
            st.memory_bound += t;
        }
        if r.table.is_some() {
            st.from_tables += t;
        }
        st.extrapolated |= r.extrapolated;
        st.fixed += layer_fixed(n, chip) * k;
    }
    st.time += st.fixed;
    Some(st)
}

/// The decode attention stage of a step on `tp` chips that split each sequence's KV
/// cache `kv_split(tp)` ways by heads and `cp = context_split(tp)` ways by context (KV
/// parallelism, Helix: Bhatia et al., arXiv 2507.07120; docs/cost-model.md §4f).
/// `shard` is the step's graph at `1/cp` of the context: each chip projects the queries,
/// keys and values of its KV heads' share (`tp = kv_split`, the projections repeated on
/// the `cp` chips of a head group) and attends over its `1/cp` of every sequence's
/// cache; the output projection, embedding and LM head split over all `tp`.
pub fn context_parallel_attention(shard: &Graph, model: &Model, chip: &Chip, tp: u64) -> Option<StageTime> {
    let heads = model.kv_split(tp);
    stage_time_by(shard, &[Stage::DecodeAttn], Pricer::new(chip, MoeSplit::Experts)?, |n| match n.op {
        crate::ir::graph::Op::QkvProj | crate::ir::graph::Op::Attention => (heads, heads),
        _ => (tp, heads),
    })
}

/// The combine of KV-parallel attention per layer over the `cp` chips that split a head
/// group's context (docs/cost-model.md §4f): each holds, for `tokens` tokens and its
/// `n_h/kv_split` query heads, a partial output of `d_v` values and its softmax's
/// log-sum-exp (4 bytes), which are rescaled and summed across the `cp` chips. Helix
/// exchanges them in one all-to-all, which moves half an all-reduce's bytes; it is
/// priced as one all-reduce from the chip's measured tables (an upper bound on measured
/// kernels, where no all-to-all of this kind was measured).
pub fn kv_combine_on(chip: &Chip, model: &Model, tokens: u64, tp: u64, link: &Link) -> f64 {
    let cp = model.context_split(tp);
    if cp <= 1 {
        return 0.0;
    }
    let d_v = model.mla.map_or(model.head_dim, |m| m.v_head_dim) as f64;
    let heads = (model.heads / model.kv_split(tp)) as f64;
    let bytes = tokens as f64 * heads * (d_v * model.activations.bytes() + 4.0);
    allreduce_on(chip, bytes, cp, link)
}

/// The share of a `tokens`-token prompt each of `cp` groups prefills with the prompt split
/// by context (docs/cost-model.md §14b): `t = ⌈S/cp⌉` tokens, attending as if after a
/// cached prefix of `(S − t)/2` tokens, which gives it `t·p + t²/2 = S²/(2·cp)` query-key
/// pairs, the causal attention's `S²/2` shared evenly (ring attention with each group
/// holding two mirrored blocks of the prompt, the usual load balancing).
pub fn context_prefill_share(tokens: u64, cp: u64) -> (u64, u64) {
    let t = tokens.div_ceil(cp.max(1));
    (t, (tokens - t.min(tokens)) / 2)
}

/// The KV ring of a prompt split `cp` ways by context, every layer (§14b): each group
/// passes the cache of its `tokens` tokens (each chip its `1/kv_split(tp)` of the heads)
/// around the ring, `cp − 1` hops of `α + bytes/BW` on each chip's own link. Charged in
/// full: ring attention overlaps it with the attention it feeds, so this is an upper bound.
pub fn context_ring_time(model: &Model, tokens: u64, tp: u64, cp: u64, link: &Link) -> f64 {
    if cp <= 1 {
        return 0.0;
    }
    let heads = model.kv_split(tp) as f64;
    (0..model.layers).map(|l| (cp - 1) as f64 * transfer_time(model.kv_bytes_layer(l, tokens as f64) / heads, link, 1)).sum()
}

/// One step's time layer by layer on `tp` chips (for pipeline stages that run a range of
/// the layers, docs/cost-model.md §14): each layer's operations and the chip's per-layer
/// fixed cost, the embedding's (`first`) and the LM head's and final norm's (`last`),
/// and the parts of each the op tables priced. `Σ layer + first + last` is
/// [`stage_time`] over the graph's nodes.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct LayerTimes {
    pub layer: Vec<f64>,
    pub layer_tables: Vec<f64>,
    pub first: f64,
    pub first_tables: f64,
    pub last: f64,
    pub last_tables: f64,
    pub extrapolated: bool,
}

/// [`LayerTimes`] of `graph`'s nodes for `model` on `tp` chips of `chip`; `None` when the
/// chip lacks a precision a node needs.
pub fn layer_times(graph: &Graph, model: &Model, chip: &Chip, tp: u64) -> Option<LayerTimes> {
    let price = node_times(chip)?;
    let kv_split = model.kv_split(tp);
    let mut out = LayerTimes::default();
    // one layer of each kind: (kind, time, from tables)
    let mut kinds: Vec<(crate::ir::LayerKind, f64, f64)> = Vec::new();
    for node in graph.nodes() {
        let r = price(node, tp, kv_split)?;
        out.extrapolated |= r.extrapolated;
        let table = if r.table.is_some() { r.time() } else { 0.0 };
        let Some(layers) = node.layers else {
            match node.op {
                crate::ir::graph::Op::Embed => (out.first, out.first_tables) = (out.first + r.time(), out.first_tables + table),
                _ => (out.last, out.last_tables) = (out.last + r.time(), out.last_tables + table),
            }
            continue;
        };
        let time = r.time() + layer_fixed(node, chip);
        match kinds.iter_mut().find(|k| k.0 == layers.kind) {
            Some(k) => (k.1, k.2) = (k.1 + time, k.2 + table),
            None => kinds.push((layers.kind, time, table)),
        }
    }
    for l in 0..model.layers {
        let (time, table) = kinds.iter().find(|k| k.0 == model.layer_kind(l)).map_or((0.0, 0.0), |k| (k.1, k.2));
        out.layer.push(time);
        out.layer_tables.push(table);
    }
    Some(out)
}

/// The fixed time of one step of `sequences` sequences on the chip: its
/// `step_overhead` plus `sequence_overhead` per sequence its engine schedules
/// (docs/cost-model.md §4c).
pub fn step_fixed(chip: &Chip, sequences: u64) -> f64 {
    chip.step_overhead + sequences as f64 * chip.sequence_overhead
}

/// The chip's per-layer fixed cost a node carries: `layer_overhead` on each layer's
/// attention node (the chips that run a layer's attention run its small ops and launch
/// its kernels; docs/cost-model.md §4c), nothing on the others.
pub fn layer_fixed(node: &Node, chip: &Chip) -> f64 {
    if node.op == crate::ir::graph::Op::Attention {
        chip.layer_overhead
    } else {
        0.0
    }
}

/// One all-reduce of `bytes` over `n` chips of `chip` joined by `link`: the chip's
/// measured all-reduce table for `n` chips where it has one, else [`allreduce_time`].
pub fn allreduce_on(chip: &Chip, bytes: f64, n: u64, link: &Link) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    match chip.tables.as_ref().and_then(|t| tables::allreduce_lookup(t, bytes, n)) {
        Some(l) => l.time,
        None => allreduce_time(bytes, n, link),
    }
}

/// All-reduce of `bytes` over `n` chips on `link` (α = latency, β = 1/bandwidth),
/// the faster of ring `2(n−1)α + 2(n−1)/n·S·β` and recursive doubling
/// `⌈log₂n⌉(α + S·β)` (Thakur, Rabenseifner & Gropp 2005).
pub fn allreduce_time(bytes: f64, n: u64, link: &Link) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    let nf = n as f64;
    let beta = 1.0 / link.bandwidth;
    let ring = 2.0 * (nf - 1.0) * link.latency + 2.0 * (nf - 1.0) / nf * bytes * beta;
    let rd = (nf.log2().ceil()) * (link.latency + bytes * beta);
    ring.min(rd)
}

/// The fixed time of one MoE dispatch or combine all-to-all, FITTED to the measured
/// DeepEP low-latency kernels in `docs/reference/kernels/*/moe_a2a.csv.gz`
/// (TensorRT-LLM 1.3.0rc11, bf16, at most 8 tokens per rank, where the bytes are
/// negligible): the mean of dispatch and combine per GPU is 53.8 µs (H100, 8 ranks),
/// 53.3 µs (H200, 8), 56.4 µs (B200, 8), 114 µs (GB200, 4), 121 µs (GB300, 4); the
/// median, 56 µs, is used for every chip. Physically: the ranks' notify/barrier
/// handshake and the kernel launch of a collective whose every rank waits for all the
/// others, which a link's wire latency (~1-2 µs) leaves out. With the bandwidth term it
/// predicts H200's 256-token combine (29.4 MB per rank over NVLink 4) at 113 µs against
/// 110-119 µs measured. UNCERTAIN: carried over to chips with no all-to-all measurement
/// (TPU, Trainium, SRAM chips), and GB200/GB300 measure twice it.
pub const ALLTOALL_FLOOR_S: f64 = 56e-6;

/// All-to-all in which each of `n` chips sends its own `bytes` spread evenly over the
/// others (MoE dispatch or combine): `max(α, floor) + S·(n−1)/n / BW` (docs/reference/NOTES.md §3,
/// nccl-tests' all-to-all factor; the floor is [`ALLTOALL_FLOOR_S`]).
pub fn alltoall_time(bytes: f64, n: u64, link: &Link) -> f64 {
    if n <= 1 {
        return 0.0;
    }
    let nf = n as f64;
    link.latency.max(ALLTOALL_FLOOR_S) + bytes * (nf - 1.0) / nf / link.bandwidth
}

/// The network a group of one pool's chips communicates over (docs/cost-model.md §4g):
/// the pool's scale-up link inside a node and, on a pool of nodes (`pool gpu = h100_sxm
/// x 8 over nvlink4 x 4 over ib_ndr`), each chip's scale-out link between nodes.
#[derive(Clone, Copy, Debug)]
pub struct Fabric<'a> {
    pub up: &'a Link,
    /// (chips per node, the scale-out link); `None`: the pool is one scale-up domain
    pub out: Option<(u64, &'a Link)>,
}

impl<'a> Fabric<'a> {
    /// The fabric of `pool`'s chips; `None` without a scale-up link.
    pub fn of(pool: &'a crate::ir::Pool) -> Option<Fabric<'a>> {
        Some(Fabric { up: pool.link.as_ref()?, out: pool.scale_out.as_ref().map(|s| (s.node, &s.link)) })
    }

    /// Chips per node where a group of `n` spans nodes (`n` above a node), else `None`.
    fn spans(&self, n: u64) -> Option<(u64, &'a Link)> {
        self.out.filter(|(node, _)| n > *node)
    }

    /// All-reduce of `bytes` over `n` chips: inside a node as [`allreduce_on`]; over whole
    /// nodes hierarchically, as NCCL does across nodes: a reduce-scatter and an all-gather
    /// inside each node (one all-reduce's traffic there) around an all-reduce of each
    /// chip's `1/node` share over the `n/node` nodes, every chip on its own scale-out
    /// link: `AR_up(S, node) + AR_out(S/node, n/node)`.
    pub fn allreduce(&self, chip: &Chip, bytes: f64, n: u64) -> f64 {
        match self.spans(n) {
            Some((node, out)) => allreduce_on(chip, bytes, node, self.up) + allreduce_time(bytes / node as f64, n.div_ceil(node), out),
            None => allreduce_on(chip, bytes, n, self.up),
        }
    }

    /// All-to-all in which each of `n` chips sends its own `bytes` spread evenly over all
    /// `n` (MoE dispatch or combine, [`alltoall_time`]): across nodes the share for the
    /// `node − 1` others of its node goes over the scale-up link and the share for the
    /// `n − node` chips of other nodes over its scale-out link, at once:
    /// `max(α_up, α_out, floor) + max(S·(node−1)/n / BW_up, S·(n−node)/n / BW_out)`.
    pub fn alltoall(&self, bytes: f64, n: u64) -> f64 {
        let Some((node, out)) = self.spans(n) else { return alltoall_time(bytes, n, self.up) };
        let (nf, inside) = (n as f64, node as f64);
        let fixed = self.up.latency.max(out.latency).max(ALLTOALL_FLOOR_S);
        fixed + (bytes * (inside - 1.0) / nf / self.up.bandwidth).max(bytes * (nf - inside) / nf / out.bandwidth)
    }

    /// The link a hop between two groups of chips crosses: the scale-up link when both
    /// are in one node, else the scale-out link.
    pub fn hop(&self, same_node: bool) -> &'a Link {
        match self.out {
            Some((_, out)) if !same_node => out,
            _ => self.up,
        }
    }

    /// The slowest link of a ring or pipeline over `n` chips: the scale-out link when
    /// they span nodes.
    pub fn slowest(&self, n: u64) -> &'a Link {
        self.spans(n).map_or(self.up, |(_, out)| out)
    }
}

/// When the last of a prompt's chunks leaves the last stage of a pipeline, from the
/// first chunk entering the first: `times[i][j]` is chunk `j`'s time on stage `i`, and a
/// stage starts a chunk once it has finished the one before and the stage before has
/// finished this one, `F(i, j) = max(F(i−1, j), F(i, j−1)) + times[i][j]`
/// (docs/cost-model.md §14). One chunk: the stages' sum.
pub fn pipelined_chunks(times: &[Vec<f64>]) -> f64 {
    let mut row: Vec<f64> = Vec::new();
    for stage in times {
        let mut done = 0.0_f64;
        for (j, t) in stage.iter().enumerate() {
            let ready = row.get(j).copied().unwrap_or(0.0);
            done = done.max(ready) + t;
            if j < row.len() {
                row[j] = done;
            } else {
                row.push(done);
            }
        }
    }
    row.last().copied().unwrap_or(0.0)
}

/// Point-to-point transfer of `bytes` striped over `lanes` chips' links: `α + S/(lanes·BW)`.
pub fn transfer_time(bytes: f64, link: &Link, lanes: u64) -> f64 {
    link.latency + transfer_bulk(bytes, link, lanes)
}

/// The bandwidth term of [`transfer_time`]: `S/(lanes·BW)`.
pub fn transfer_bulk(bytes: f64, link: &Link, lanes: u64) -> f64 {
    bytes / (lanes.max(1) as f64 * link.bandwidth)
}

/// Per-chip bytes of one stage's footprint, by content.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Footprint {
    pub weights: f64,
    pub kv: f64,
    /// a prompt chunk's activations ([`chunk_activation_bytes`]), in the chip's fastest tier
    pub activations: f64,
}

/// Checks a footprint against the chip's tiers. Returns per-tier (name, used, capacity)
/// and whether everything fits. Under a serving engine (`framework = ...`) the capacity of
/// the tier holding the KV cache is what the engine lets weights and cache use, and its
/// runtime memory already holds the activations ([`admission`], docs/cost-model.md §11);
/// otherwise the activations go to the fastest tier (HBM on a GPU, SRAM on a wafer whose
/// cache lives in MemoryX, §10).
pub fn fits(chip: &Chip, f: Footprint) -> (Vec<(std::sync::Arc<str>, f64, f64)>, bool) {
    let mut used: Vec<(std::sync::Arc<str>, f64, f64)> = chip.memory.iter().map(|t| (t.name.clone(), 0.0, t.capacity)).collect();
    if let Some(i) = chip.tier_index(Contents::Weights) {
        used[i].1 += f.weights;
    }
    if let Some(i) = chip.tier_index(Contents::Kv) {
        used[i].1 += f.kv;
        // under a serving engine, the tier that holds the KV cache offers only what the
        // engine lets weights and cache use (docs/cost-model.md §11)
        if let Some(e) = &chip.engine {
            let weights = if chip.tier_index(Contents::Weights) == Some(i) { f.weights } else { 0.0 };
            used[i].2 = e.usable(used[i].2, weights).max(0.0);
        }
    }
    if chip.engine.is_none() {
        if let Some((i, _)) = chip.memory.iter().enumerate().max_by(|x, y| x.1.bandwidth.total_cmp(&y.1.bandwidth)) {
            used[i].1 += f.activations;
        }
    }
    let ok = !used.is_empty() && used.iter().all(|(_, u, c)| u <= c);
    (used, ok)
}

/// The footprint `f` of one variant's stage with all `variants` of the model resident on
/// the chip (docs/cost-model.md §15): each holds its own weights, and a decode stage
/// (`decode`: priced at one variant's batch) a cache of that many sequences for each, as
/// every variant's engine reserves its own. A prefill holds one prompt's cache at a time.
/// Activations are the running variant's alone.
pub fn resident(f: Footprint, variants: u64, decode: bool) -> Footprint {
    if variants <= 1 {
        return f;
    }
    let k = variants as f64;
    Footprint { weights: k * f.weights, kv: if decode { k * f.kv } else { f.kv }, activations: f.activations }
}

/// Per-chip footprint of the decode attention side with `tp` chips serving `batch`
/// sequences of up to `context` tokens; `with_ffn` when the FFN is colocated.
pub fn decode_attn_footprint(model: &Model, tp: u64, batch: u64, context: u64, with_ffn: bool) -> Footprint {
    let mut weights = model.attn_side_weight_bytes();
    if with_ffn {
        weights += model.ffn_weight_bytes();
    }
    let kv_split = model.kv_split(tp) as f64;
    Footprint { weights: weights / tp as f64, kv: batch as f64 * model.kv_bytes(context as f64) / kv_split, activations: 0.0 }
}

/// Per-chip footprint of colocated decode on `tp` chips that split each sequence's KV
/// cache by context as well (§4f): the query, key and value projections split only
/// `kv_split(tp)` ways (each head group's `cp` chips keep a copy), every other weight
/// `tp` ways, and the cache of `batch` sequences of `context` tokens `tp` ways.
pub fn context_parallel_footprint(model: &Model, tp: u64, batch: u64, context: u64) -> Footprint {
    let (t, heads) = (tp as f64, model.kv_split(tp) as f64);
    let weights = (model.attn_side_weight_bytes() + model.ffn_weight_bytes()) / t + model.qkv_weight_bytes() * (1.0 / heads - 1.0 / t);
    Footprint { weights, kv: batch as f64 * model.kv_bytes(context as f64) / t, activations: 0.0 }
}

/// Per-chip footprint of a decode FFN on `tp` chips: an MoE's experts whole on each chip
/// take the busiest chip's `⌈E/tp⌉` slots ([`Model::ffn_weight_bytes_per_chip`]); split
/// by width, exactly `1/tp` of the FFN (§4h).
pub fn decode_ffn_footprint(model: &Model, tp: u64, split: MoeSplit) -> Footprint {
    let weights = match split {
        MoeSplit::Experts => model.ffn_weight_bytes_per_chip(tp),
        MoeSplit::Width => model.ffn_weight_bytes() / tp.max(1) as f64,
    };
    Footprint { weights, ..Footprint::default() }
}

/// Per-chip weight bytes a pipeline's first and last stage hold besides their layers, on
/// `tp` chips: the input embedding `V·h·a/t` on the first, the LM head and final norm
/// `(V·h + h)·a/t` on the last (`a` the unquantized precision's bytes).
pub fn pipeline_end_bytes(model: &Model, tp: u64) -> (f64, f64) {
    let per = model.unquantized().bytes() / tp as f64;
    let matrix = (model.vocab * model.hidden) as f64 * per;
    (matrix, matrix + model.hidden as f64 * per)
}

/// Per-chip footprint of prefill of one `tokens`-token request on `tp` chips.
pub fn prefill_footprint(model: &Model, tp: u64, tokens: u64) -> Footprint {
    let kv_split = model.kv_split(tp) as f64;
    Footprint { weights: model.weight_bytes() / tp as f64, kv: model.kv_bytes(tokens as f64) / kv_split, activations: 0.0 }
}

/// Activation bytes of `tokens` tokens at the model's hidden size: the message of a
/// tensor-parallel all-reduce and of one attention↔FFN crossing.
pub fn activation_bytes(model: &Model, tokens: u64) -> f64 {
    tokens as f64 * model.hidden as f64 * model.activations.bytes()
}

/// Peak activation bytes on one chip of a `tp`-way group while a step carries `tokens`
/// tokens (an aggregated step's prompt chunk): the residual stream and its normed copy,
/// `2·t·h·a`, beside the FFN's widest tensors, the gate and up outputs and their SwiGLU
/// product, `3·t·i·a/tp` (for MoE layers `i` is the `k` routed experts' `k·i_e`, the
/// permuted copies of each token).
pub fn chunk_activation_bytes(model: &Model, tokens: u64, tp: u64) -> f64 {
    let t = tokens as f64;
    let a = model.activations.bytes();
    let inter = match model.moe {
        Some(moe) => (moe.top_k * moe.expert_intermediate).max(model.intermediate),
        None => model.intermediate,
    } as f64;
    t * a * (2.0 * model.hidden as f64 + 3.0 * inter / tp.max(1) as f64)
}

/// Mean tokens each routed expert processes in a step of `b` tokens: `b·k/E`
/// (docs/reference/NOTES.md §1). It sets the expert GEMMs' arithmetic intensity: with FP8 weights an
/// expert stays memory-bound until this reaches the chip's ridge point.
pub fn tokens_per_expert(b: f64, k: u64, e: u64) -> f64 {
    if e == 0 {
        0.0
    } else {
        b * k as f64 / e as f64
    }
}

/// Attention↔FFN crossings of one decode step with the FFN on another pool: two per
/// layer (A→F and F→A), each `α + bytes/(lanes·BW)`. A dense layer moves `B·h·a` each
/// way; an MoE layer sends each token to its top-k experts and gathers k results,
/// `B·k·h·a` each way (docs/reference/NOTES.md §4, without node-level deduplication).
pub fn crossings_time(model: &Model, batch: u64, link: &Link, lanes: u64) -> f64 {
    let act = activation_bytes(model, batch);
    let k = model.moe.map(|m| m.top_k).unwrap_or(1) as f64;
    2.0 * model.dense_layers() as f64 * transfer_time(act, link, lanes)
        + 2.0 * model.moe_layers() as f64 * transfer_time(k * act, link, lanes)
}

/// Expected tokens a target step yields with `k` drafted tokens of acceptance rate
/// `a` (i.i.d.): `(1 − a^(k+1)) / (1 − a)`, and `k + 1` when `a = 1`
/// (Leviathan et al., arXiv 2211.17192; Chen et al., arXiv 2302.01318).
pub fn expected_tokens_per_step(k: u64, a: f64) -> f64 {
    if (1.0 - a).abs() < 1e-12 {
        return (k + 1) as f64;
    }
    (1.0 - a.powi(k as i32 + 1)) / (1.0 - a)
}

/// Time per output token with speculative decoding across chips: one round is `k`
/// draft steps, one verify step of the target over `k + 1` tokens per sequence and
/// two link crossings (drafts out, verdict back), and yields
/// [`expected_tokens_per_step`] tokens (docs/reference/NOTES.md §5).
pub fn speculative_tpot(k: u64, a: f64, t_draft: f64, t_verify: f64, t_link: f64) -> f64 {
    (k as f64 * t_draft + t_verify + 2.0 * t_link) / expected_tokens_per_step(k, a)
}

/// One decode step over `l` layers with ping-pong, in steady state (continuous
/// decoding): per layer, the busier of the pools' load for the `m` microbatches and one
/// microbatch's round trip, `l·max(m·T_f, t_a + t_e + 2t_c)`. Every sequence gets a
/// token once per period. With `m = 1` this is the sequential `l·(t_a + t_e + 2t_c)`.
/// MegaScale-Infer's `(t_a + t_e + 2t_c) + m·T_f·(l − 1)` is one step of the first
/// microbatch from an idle pipeline; it is below the pools' load `l·m·T_f` whenever
/// `m·T_f > t_a + t_e + 2t_c`, so it cannot be the period (docs/cost-model.md §4).
pub fn pingpong_iteration(t_a: f64, t_e: f64, t_c: f64, m: u64, l: u64) -> f64 {
    pingpong_sharded(t_a, t_e, t_c, m, l, 1)
}

/// [`pingpong_iteration`] with the FFN's layers spread over `g` groups of chips, each
/// running its own contiguous range (at most `⌈l/g⌉` layers): the attention pool's load
/// `l·m·t_a`, the busiest FFN group's `⌈l/g⌉·m·t_e` and a microbatch's round trip
/// `l·(t_a + t_e + 2t_c)`, whichever is longest. With `g = 1` this is
/// `l·max(m·max(t_a, t_e), t_a + t_e + 2t_c)`.
pub fn pingpong_sharded(t_a: f64, t_e: f64, t_c: f64, m: u64, l: u64, g: u64) -> f64 {
    let m = m.max(1) as f64;
    let trip = t_a + t_e + 2.0 * t_c;
    let busiest = l.div_ceil(g.max(1)) as f64;
    (l as f64 * m * t_a).max(busiest * m * t_e).max(l as f64 * trip)
}

/// `layers` layers cut into `groups` contiguous ranges as evenly as possible, the first
/// `layers mod groups` one layer longer: the layer groups of an FFN
/// ([`pingpong_sharded`]), as `(first, end)` per group.
pub fn even_ranges(layers: u64, groups: u64) -> impl Iterator<Item = (u64, u64)> {
    let g = groups.max(1);
    (0..g).scan(0u64, move |lo, i| {
        let hi = *lo + layers / g + u64::from(i < layers % g);
        let range = (*lo, hi);
        *lo = hi;
        Some(range)
    })
}

/// US dollars per million tokens for a deployment costing `usd_per_s` producing `tokens_per_s`.
pub fn usd_per_mtok(usd_per_s: f64, tokens_per_s: f64) -> f64 {
    usd_per_s / tokens_per_s * 1e6
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ir::graph::{build, Step};

    /// A prompt's chunks through a pipeline: two stages of two chunks finish at
    /// `c00 + max(c01, c10) + c11`; equal chunks at the first pass plus `(k − 1)` of the
    /// slowest stage's; one chunk at the stages' sum; nothing at 0.
    #[test]
    fn chunks_flow_through_the_stages_as_soon_as_each_is_done() {
        assert_eq!(pipelined_chunks(&[vec![1.0, 2.0], vec![5.0, 3.0]]), 1.0 + 5.0 + 3.0);
        assert_eq!(pipelined_chunks(&[vec![1.0, 6.0], vec![2.0, 3.0]]), 1.0 + 6.0 + 3.0);
        // 3 stages of 1, 4 and 2 per chunk, 5 chunks: 1 + 4 + 2 + 4 x 4
        let equal = vec![vec![1.0; 5], vec![4.0; 5], vec![2.0; 5]];
        assert_eq!(pipelined_chunks(&equal), 7.0 + 16.0);
        assert_eq!(pipelined_chunks(&[vec![1.5], vec![2.5], vec![3.0]]), 7.0);
        assert_eq!(pipelined_chunks(&[]), 0.0);
    }
    use crate::ir::{MemoryTier, Precision};
    use crate::source::{FileId, Span};
    use std::collections::BTreeMap;

    pub(crate) fn h100() -> Chip {
        let mut compute = BTreeMap::new();
        compute.insert(Precision::Bf16, 989e12);
        compute.insert(Precision::Fp8, 1979e12);
        Chip {
            name: "h100".into(),
            span: Span::new(FileId(0), 0, 0),
            source: String::new(),
            compute,
            memory: vec![MemoryTier {
                name: "hbm".into(),
                capacity: 80e9,
                bandwidth: 3.35e12,
                holds: vec![],
                span: Span::new(FileId(0), 0, 0),
            }],
            power: Some(700.0),
            system_power: None,
            price: Some(2.35 / 3600.0),
            compute_efficiency: 0.5,
            memory_efficiency: 0.8,
            step_overhead: 0.0,
            layer_overhead: 0.0,
            sequence_overhead: 0.0,
            frameworks: BTreeMap::new(),
            tables: None,
            fp8_gemm_surplus: 0.0,
            engine: None,
            uncertain: vec![],
            peaks: Default::default(),
        }
    }

    /// A prompt's prefill priced layer by layer sums to the whole step's time, for a model
    /// whose layers are of two kinds (DeepSeek-V3: 3 dense layers, then 58 MoE layers),
    /// the chip's per-layer fixed cost on each layer, the embedding first and the LM head
    /// last; the dense layers cost alike and differ from the MoE ones.
    #[test]
    fn a_step_priced_layer_by_layer_sums_to_the_whole() {
        let m = stdlib_model("deepseek_v3");
        let chip = Chip { layer_overhead: 20e-6, ..h100() };
        let g = build(&m, Step::Prefill { tokens: 2048, prefix: 0 });
        let lt = layer_times(&g, &m, &chip, 8).unwrap();
        let whole = stage_time(&g, &[Stage::Prefill], &chip, 8, m.kv_split(8)).unwrap();
        let sum = lt.layer.iter().sum::<f64>() + lt.first + lt.last;
        assert!((sum - whole.time).abs() <= 1e-12 * whole.time, "{sum} vs {}", whole.time);
        assert_eq!(lt.layer.len(), 61);
        assert!(lt.layer[..3].iter().all(|t| *t == lt.layer[0]) && lt.layer[3..].iter().all(|t| *t == lt.layer[3]));
        assert!(lt.layer[0] != lt.layer[3] && lt.first > 0.0 && lt.last > 0.0);
        // every layer carries the per-layer fixed cost once
        let bare = layer_times(&g, &m, &h100(), 8).unwrap();
        assert!(lt.layer.iter().zip(&bare.layer).all(|(a, b)| (a - b - 20e-6).abs() < 1e-15));
    }

    /// Under a serving engine the KV tier offers what the engine lets weights and cache
    /// use: Qwen3-32B's 65.5 GB of BF16 weights and 4 GB of cache fit an 80 GB GPU, but
    /// not under SGLang (0.88·80 − 3 = 67.4 GB) or vLLM (0.9·80 − 3 = 69 GB); under
    /// TensorRT-LLM 65.5 + 0.9·(80 − 65.5 − 3) = 75.85 GB, so they do.
    #[test]
    fn engines_offer_less_than_the_whole_gpu() {
        let f = Footprint { weights: 65.5e9, kv: 4e9, activations: 0.0 };
        let plain = h100();
        let (used, ok) = fits(&plain, f);
        assert!(ok && used[0].2 == 80e9);
        for (fw, usable, fits_it) in [("sglang", 67.4e9, false), ("vllm", 69e9, false), ("trtllm", 75.85e9, true)] {
            let c = plain.under(Some(fw));
            let (used, ok) = fits(&c, f);
            assert!((used[0].2 - usable).abs() < 1e3, "{fw}: {}", used[0].2);
            assert_eq!(ok, fits_it, "{fw}");
        }
        // weights alone beyond what the engine offers never fit, whatever the fraction is of
        let t = plain.under(Some("trtllm"));
        assert!(!fits(&t, Footprint { weights: 78e9, ..Footprint::default() }).1);
        // a chip's `framework vllm { memory_fraction = 0.95, runtime_memory = 1 GB }`
        // replaces the engine's defaults: 0.95·80 − 1 = 75 GB, and the footprint fits
        let mut tuned = plain.clone();
        tuned.frameworks.insert(
            "vllm".into(),
            crate::ir::FrameworkBlock {
                costs: crate::ir::FixedCosts { step: 0.0, layer: 0.0, sequence: 0.0 },
                memory_fraction: Some(0.95),
                runtime_memory: Some(1e9),
                first_token: None,
                first_token_per_layer: None,
                moe_dense_reads: None,
            },
        );
        let (used, ok) = fits(&tuned.under(Some("vllm")), f);
        assert!(ok && (used[0].2 - 75e9).abs() < 1e3, "{}", used[0].2);
    }

    /// A step's fixed time: the step cost plus the per-sequence cost for each sequence
    /// the engine schedules (a framework block's `sequence_overhead`).
    #[test]
    fn step_fixed_counts_each_sequence() {
        let mut c = h100();
        c.step_overhead = 500e-6;
        assert_eq!(step_fixed(&c, 64), 500e-6);
        c.frameworks.insert(
            "sglang".into(),
            crate::ir::FrameworkBlock {
                costs: crate::ir::FixedCosts { step: 20e-6, layer: 0.0, sequence: 30e-6 },
                memory_fraction: None,
                runtime_memory: None,
                first_token: Some(5e-3),
                first_token_per_layer: None,
                moe_dense_reads: None,
            },
        );
        let s = c.under(Some("sglang"));
        // the block's first-token latency replaces the framework's F and keeps its L
        let e = s.engine.unwrap();
        assert_eq!(e.first_token, (5e-3, crate::ir::engine::FIRST_TOKEN_SGLANG.1));
        assert!((e.first_token(10) - (5e-3 + 10.0 * crate::ir::engine::FIRST_TOKEN_SGLANG.1)).abs() < 1e-15);
        // 20 us + 512 x 30 us = 15.38 ms: SGLang's host time at 512 running requests
        assert!((step_fixed(&s, 512) - 15.38e-3).abs() < 1e-12);
        assert!((step_fixed(&s, 1) - 50e-6).abs() < 1e-15);
    }

    #[test]
    fn an_all_to_all_has_the_measured_floor() {
        // H200, 8 ranks, DeepEP low latency: 1-8 tokens per rank take ~28-76 µs per
        // call (mean of dispatch and combine 53 µs); 256 tokens of DeepSeek-V3
        // (7168 x top-8 x 2 B = 29.4 MB per rank) combine in 110-119 µs
        let small = alltoall_time(8.0 * 8.0 * 7168.0 * 2.0, 8, &nvlink());
        assert!((small - 57.0e-6).abs() < 1e-6, "{small}");
        let big = alltoall_time(256.0 * 8.0 * 7168.0 * 2.0, 8, &nvlink());
        assert!(big > 110e-6 && big < 119e-6, "{big}");
        assert_eq!(alltoall_time(1e9, 1, &nvlink()), 0.0);
    }

    fn ib_ndr() -> Link {
        Link { name: "ib_ndr".into(), bandwidth: 50e9, latency: 2e-6, ..nvlink() }
    }

    /// Inside a node a pool of nodes talks over its scale-up link exactly as a pool that
    /// is one domain; only a group over more than a node reaches the scale-out link.
    #[test]
    fn a_group_inside_a_node_uses_only_the_scale_up_link() {
        let (up, out) = (nvlink(), ib_ndr());
        let nodes = Fabric { up: &up, out: Some((8, &out)) };
        let flat = Fabric { up: &up, out: None };
        let chip = h100();
        for n in [1, 2, 4, 8] {
            assert_eq!(nodes.allreduce(&chip, 1e6, n), allreduce_on(&chip, 1e6, n, &up));
            assert_eq!(nodes.alltoall(1e6, n), alltoall_time(1e6, n, &up));
            assert_eq!(nodes.slowest(n).name, "nvlink4");
        }
        assert_eq!(flat.allreduce(&chip, 1e6, 32), allreduce_on(&chip, 1e6, 32, &up));
        assert_eq!(flat.slowest(32).name, "nvlink4");
        assert_eq!(nodes.slowest(16).name, "ib_ndr");
        assert_eq!((nodes.hop(true).name.as_str(), nodes.hop(false).name.as_str()), ("nvlink4", "ib_ndr"));
        assert_eq!(flat.hop(false).name, "nvlink4");
    }

    /// Over 4 nodes of 8, each GPU sends 24/32 of its routed tokens over its own 50 GB/s
    /// NIC while 7/32 go over NVLink at once: DeepSeek-V3's dispatch of 128 tokens (top-8,
    /// 7168 wide, FP8: 7.34 MB per rank) takes 56 + 110 µs, against 56 + 14 µs in one
    /// node of 8.
    #[test]
    fn an_all_to_all_over_nodes_sends_the_other_nodes_share_over_each_nic() {
        let (up, out) = (nvlink(), ib_ndr());
        let nodes = Fabric { up: &up, out: Some((8, &out)) };
        let s = 128.0 * 8.0 * 7168.0;
        let t = nodes.alltoall(s, 32);
        let want = ALLTOALL_FLOOR_S + (s * 7.0 / 32.0 / 450e9).max(s * 24.0 / 32.0 / 50e9);
        assert!((t - want).abs() < 1e-15, "{t} {want}");
        assert!((t - 166.1e-6).abs() < 0.1e-6, "{t}");
        assert!((alltoall_time(s, 8, &up) - 70.3e-6).abs() < 0.1e-6);
        // the bytes across nodes grow towards all of them as the nodes do
        assert!(nodes.alltoall(s, 16) < t && t < nodes.alltoall(s, 256));
    }

    /// An all-reduce over whole nodes is the node's own all-reduce (reduce-scatter and
    /// all-gather) around an all-reduce of each GPU's eighth over the nodes' NICs.
    #[test]
    fn an_all_reduce_over_nodes_is_hierarchical() {
        let (up, out) = (nvlink(), ib_ndr());
        let nodes = Fabric { up: &up, out: Some((8, &out)) };
        let chip = h100();
        let s = 16.0e6;
        let t = nodes.allreduce(&chip, s, 32);
        let want = allreduce_on(&chip, s, 8, &up) + allreduce_time(s / 8.0, 4, &out);
        assert!((t - want).abs() < 1e-15, "{t} {want}");
        // 2 MB per GPU over 4 nodes: 2·(3/4)·2 MB at 50 GB/s, + 6 hops of 2 µs
        assert!((allreduce_time(s / 8.0, 4, &out) - (60e-6 + 12e-6)).abs() < 1e-9);
        assert!(t > allreduce_on(&chip, s, 8, &up));
    }

    fn nvlink() -> Link {
        Link {
            name: "nvlink4".into(),
            span: Span::new(FileId(0), 0, 0),
            source: String::new(),
            bandwidth: 450e9,
            latency: 2e-6,
            uncertain: vec![],
        }
    }

    /// `stage_time` prices each group of nodes that do the same work once
    /// (`Graph::classes`): it equals the sum over every node and every layer the node
    /// stands for, the groups do not grow with the layer count, and they hold every
    /// node's layers.
    #[test]
    fn stage_time_over_node_classes_equals_the_sum_over_nodes() {
        let mut m = crate::ir::tests_support::llama70b();
        for step in [Step::Decode { batch: 64, context: 4096.0 }, Step::Prefill { tokens: 2048, prefix: 0 }] {
            let g = build(&m, step);
            for stages in [&[Stage::DecodeAttn][..], &[Stage::DecodeFfn], &[Stage::DecodeAttn, Stage::DecodeFfn], &[Stage::Prefill]] {
                let chip = h100();
                let st = stage_time(&g, stages, &chip, 4, 8).unwrap();
                let (mut time, mut fixed) = (0.0, 0.0);
                for n in g.nodes().filter(|n| stages.contains(&n.stage)) {
                    for _ in 0..n.count() {
                        time += node_time(n, &chip, 4, 8).unwrap().time();
                        fixed += layer_fixed(n, &chip);
                    }
                }
                assert!(
                    (st.time - (time + fixed)).abs() <= 1e-12 * st.time.max(1e-30),
                    "{step:?} {stages:?}: {} vs {}",
                    st.time,
                    time + fixed
                );
            }
            assert_eq!(g.classes().iter().map(|(_, k)| k).sum::<u64>(), 2 + 4 * 80);
        }
        let groups = build(&m, Step::Decode { batch: 8, context: 1024.0 }).classes().len();
        m.layers = 1024;
        let g = build(&m, Step::Decode { batch: 8, context: 1024.0 });
        assert_eq!(g.classes().len(), groups, "groups do not grow with layers");
    }

    #[test]
    fn roofline_of_a_memory_bound_decode_ffn() {
        let m = crate::ir::tests_support::llama70b();
        let g = build(&m, Step::Decode { batch: 1, context: 0.0 });
        let ffn = g.nodes().find(|n| n.op == crate::ir::graph::Op::Ffn).unwrap();
        let r = node_time(ffn, &h100(), 1, 8).unwrap();
        // compute: 6 * 1 * 8192 * 28672 FLOP / (989e12 * 0.5) = 1,409,286,144 / 4.945e14 = 2.8499e-6 s
        assert!((r.compute - 1_409_286_144.0 / 4.945e14).abs() < 1e-15);
        // memory: (3*8192*28672*2 B weights + (2*8192*2 + 2*28672*2) B activations) / (3.35e12 * 0.8)
        //       = (1,409,286,144 + 147,456) / 2.68e12 = 5.2590e-4 s
        let bytes = 1_409_286_144.0 + 147_456.0;
        assert!((r.memory - bytes / 2.68e12).abs() < 1e-15);
        assert_eq!(r.time(), r.memory);
        // Split over 4 chips: everything divides by 4.
        let r4 = node_time(ffn, &h100(), 4, 8).unwrap();
        assert!((r4.memory * 4.0 - r.memory).abs() < 1e-15);
    }

    #[test]
    fn allreduce_picks_the_faster_algorithm() {
        let l = nvlink();
        // 8 chips, 16 KiB: ring = 14*2us + 2*7/8*16384/450e9 = 28e-6 + 6.371e-8;
        // recursive doubling = 3 * (2e-6 + 16384/450e9) = 6e-6 + 1.092e-7 -> smaller
        let t = allreduce_time(16384.0, 8, &l);
        assert!((t - 3.0 * (2e-6 + 16384.0 / 450e9)).abs() < 1e-15);
        // 1 GB: ring = 28e-6 + 1.75e9/450e9 = 3.917e-3; rd = 3*(2e-6 + 1e9/450e9) = 6.673e-3 -> ring
        let t = allreduce_time(1e9, 8, &l);
        assert!((t - (28e-6 + 2.0 * 7.0 / 8.0 * 1e9 / 450e9)).abs() < 1e-12);
        assert_eq!(allreduce_time(1e9, 1, &l), 0.0);
    }

    #[test]
    fn transfer_and_money() {
        let l = nvlink();
        // 1 MB over 4 lanes: 2 us + 1e6 / (4 * 450e9) = 2.5556e-6 s
        assert!((transfer_time(1e6, &l, 4) - (2e-6 + 1e6 / 1.8e12)).abs() < 1e-18);
        // 8 chips at $2.35/h producing 1000 tok/s: 8*2.35/3600 $/s / 1000 * 1e6 = $5.222/Mtok
        assert!((usd_per_mtok(8.0 * 2.35 / 3600.0, 1000.0) - 5.2222222).abs() < 1e-6);
    }

    #[test]
    fn speculative_decoding_expectations() {
        // docs/reference/NOTES.md §5's table: (1 - a^(k+1)) / (1 - a)
        // a = 0.6, k = 3: (1 - 0.1296) / 0.4 = 2.176;  k = 5: (1 - 0.046656) / 0.4 = 2.383
        // a = 0.7, k = 3: (1 - 0.2401) / 0.3 = 2.533;  k = 5: (1 - 0.117649) / 0.3 = 2.941
        // a = 0.8, k = 3: (1 - 0.4096) / 0.2 = 2.952;  k = 5: (1 - 0.262144) / 0.2 = 3.689
        // a = 0.9, k = 3: (1 - 0.6561) / 0.1 = 3.439;  k = 5: (1 - 0.531441) / 0.1 = 4.686
        let table = [(0.6, 2.18, 2.38), (0.7, 2.53, 2.94), (0.8, 2.95, 3.69), (0.9, 3.44, 4.69)];
        for (a, k3, k5) in table {
            assert!((expected_tokens_per_step(3, a) - k3).abs() < 0.005, "a={a}");
            assert!((expected_tokens_per_step(5, a) - k5).abs() < 0.005, "a={a}");
        }
        assert_eq!(expected_tokens_per_step(4, 1.0), 5.0);
        assert_eq!(expected_tokens_per_step(4, 0.0), 1.0);
        // LPX drafts 4 tokens at 1 ms each, Rubin verifies in 5 ms, 2 us links, a = 0.7:
        // (4*1 + 5 + 2*0.002) ms / ((1 - 0.7^5)/0.3 = 2.7731) = 9.004 / 2.7731 = 3.2469 ms
        let t = speculative_tpot(4, 0.7, 1e-3, 5e-3, 2e-6);
        assert!((t - 9.004e-3 / ((1.0 - 0.7f64.powi(5)) / 0.3)).abs() < 1e-12);
        assert!((t - 3.2469e-3).abs() < 1e-7);
    }

    #[test]
    fn pingpong_overlap() {
        // m = 1 is sequential: 80 * (100 + 100 + 80) us = 22.4 ms
        assert!((pingpong_iteration(100e-6, 100e-6, 40e-6, 1, 80) - 22.4e-3).abs() < 1e-12);
        // m = 3 overlaps fully and is bound by the pools' load: 80 * max(300, 280) us = 24 ms
        assert!((pingpong_iteration(100e-6, 100e-6, 40e-6, 3, 80) - 24e-3).abs() < 1e-12);
        // m = 2 is bound by the round trip: 80 * max(200, 280) = 22,400 us
        assert!((pingpong_iteration(100e-6, 100e-6, 40e-6, 2, 80) - 22.4e-3).abs() < 1e-12);
    }

    #[test]
    fn an_ffn_over_layer_groups_is_bound_by_its_busiest_group() {
        // 80 layers, 4 microbatches, attention 50 us, FFN 200 us, crossings 10 us per
        // layer. One group: the FFN's load 80 * 4 * 200 us = 64 ms. Four groups of 20
        // layers: 20 * 4 * 200 = 16 ms, above attention's 80 * 4 * 50 = 16 ms (equal) and
        // the round trip 80 * 270 us = 21.6 ms: 21.6 ms. Eight groups: still the trip.
        let (t_a, t_e, t_c) = (50e-6, 200e-6, 10e-6);
        assert!((pingpong_sharded(t_a, t_e, t_c, 4, 80, 1) - 64e-3).abs() < 1e-12);
        assert!((pingpong_sharded(t_a, t_e, t_c, 4, 80, 4) - 21.6e-3).abs() < 1e-12);
        assert!((pingpong_sharded(t_a, t_e, t_c, 4, 80, 8) - 21.6e-3).abs() < 1e-12);
        // 3 groups of 27, 27 and 26 layers: the busiest, 27 * 8 * 200 us = 43.2 ms
        assert!((pingpong_sharded(t_a, t_e, t_c, 8, 80, 3) - 43.2e-3).abs() < 1e-12);
        // one group is the plain ping-pong
        for m in 1..=8 {
            assert_eq!(pingpong_sharded(t_a, t_e, t_c, m, 80, 1), pingpong_iteration(t_a, t_e, t_c, m, 80));
        }
    }

    /// Layers cut into groups: contiguous, covering `0..L` once, the first `L mod g` one
    /// layer longer; no group count is 1 group.
    #[test]
    fn layers_split_into_contiguous_even_ranges() {
        assert_eq!(even_ranges(80, 3).collect::<Vec<_>>(), vec![(0, 27), (27, 54), (54, 80)]);
        assert_eq!(even_ranges(61, 9).map(|(a, b)| b - a).collect::<Vec<_>>(), vec![7, 7, 7, 7, 7, 7, 7, 6, 6]);
        assert_eq!(even_ranges(8, 1).collect::<Vec<_>>(), vec![(0, 8)]);
        assert_eq!(even_ranges(8, 0).collect::<Vec<_>>(), vec![(0, 8)]);
        assert_eq!(even_ranges(4, 4).collect::<Vec<_>>(), vec![(0, 1), (1, 2), (2, 3), (3, 4)]);
    }

    /// A disaggregated FFN's chips hold its weights split over them, and nothing else.
    #[test]
    fn a_disaggregated_ffn_holds_its_weights_split_over_its_chips() {
        let m = crate::ir::tests_support::llama70b();
        let f = decode_ffn_footprint(&m, 4, MoeSplit::Experts);
        assert!((f.weights - m.ffn_weight_bytes() / 4.0).abs() <= 1e-9 * f.weights && f.weights > 0.0);
        assert_eq!((f.kv, f.activations), (0.0, 0.0));
    }

    #[test]
    fn weights_in_sram_kv_in_hbm() {
        // A MatX-style chip: 1 GB of SRAM at 100 TB/s holds the weights, 64 GB of HBM at
        // 4 TB/s holds the KV cache.
        let span = Span::new(FileId(0), 0, 0);
        let mut chip = h100();
        chip.memory = vec![
            MemoryTier { name: "sram".into(), capacity: 1e9, bandwidth: 100e12, holds: vec![Contents::Weights], span },
            MemoryTier { name: "hbm".into(), capacity: 64e9, bandwidth: 4e12, holds: vec![Contents::Kv], span },
        ];
        chip.memory_efficiency = 1.0;
        let node = Node {
            op: crate::ir::graph::Op::Attention,
            layers: Some(crate::ir::graph::Layers { kind: crate::ir::LayerKind { sliding: false, moe: false }, count: 1 }),
            stage: Stage::DecodeAttn,
            flops: 0.0,
            precision: Precision::Bf16,
            weight_bytes: 1e9,
            kv_read_bytes: 4e9,
            kv_write_bytes: 0.0,
            act_bytes: 0.0,
            kernel: crate::ir::graph::Kernel::Other,
        };
        // weights 1e9 / 100e12 = 10 us, plus KV 4e9 / 4e12 = 1 ms, on one chip
        let r = node_time(&node, &chip, 1, 1).unwrap();
        assert!((r.memory - (1e-5 + 1e-3)).abs() < 1e-15);
        // Each tier is checked against its own capacity: 0.9 GB of weights fits the SRAM,
        // 70 GB of KV does not fit the HBM.
        let (used, ok) = fits(&chip, Footprint { weights: 0.9e9, kv: 70e9, activations: 0.0 });
        assert!(!ok);
        assert_eq!(used, vec![("sram".into(), 0.9e9, 1e9), ("hbm".into(), 70e9, 64e9)]);
        assert!(fits(&chip, Footprint { weights: 0.9e9, kv: 60e9, activations: 0.0 }).1);
        // a chunk's activations go to the fastest tier, the SRAM here: 0.2 GB more
        // overflows it
        let (used, ok) = fits(&chip, Footprint { weights: 0.9e9, kv: 60e9, activations: 0.2e9 });
        assert!(!ok);
        assert_eq!(used[0], ("sram".into(), 1.1e9, 1e9));
    }

    /// The router, LM head and embedding keep a quantised model's BF16
    /// (`Model::unquantized`): priced at BF16's peak where the chip has it, at its
    /// widest precision on a chip with none that wide (an FP8-only chip), while any other
    /// BF16 node on that chip has no compute at all.
    #[test]
    fn operators_that_keep_their_precision_run_at_the_widest_a_chip_has() {
        let router = |op| Node {
            op,
            layers: None,
            stage: Stage::DecodeFfn,
            flops: 1e12,
            precision: Precision::Bf16,
            weight_bytes: 0.0,
            kv_read_bytes: 0.0,
            kv_write_bytes: 0.0,
            act_bytes: 0.0,
            kernel: crate::ir::graph::Kernel::Other,
        };
        // h100(): 989 TFLOP/s BF16 at efficiency 0.5
        let r = node_time(&router(crate::ir::graph::Op::Router), &h100(), 1, 1).unwrap();
        assert!((r.compute - 1e12 / (989e12 * 0.5)).abs() < 1e-18);
        let mut fp8_only = h100();
        fp8_only.compute = BTreeMap::from([(Precision::Fp8, 1979e12), (Precision::Fp4, 3958e12)]);
        for op in [crate::ir::graph::Op::Router, crate::ir::graph::Op::LmHead, crate::ir::graph::Op::Embed] {
            let r = node_time(&router(op), &fp8_only, 1, 1).unwrap();
            assert!((r.compute - 1e12 / (1979e12 * 0.5)).abs() < 1e-18, "{op:?}");
        }
        assert_eq!(node_time(&router(crate::ir::graph::Op::QkvProj), &fp8_only, 1, 1), None);
        // a graph of an FP8 MoE model prices its router and LM head at BF16
        let m = crate::ir::Model {
            weights: Precision::Fp8,
            moe: Some(crate::ir::Moe { experts: 128, top_k: 8, shared: 0, expert_intermediate: 1536, dense_layers: 0, router_bias: false }),
            ..crate::ir::tests_support::llama70b()
        };
        let g = crate::ir::graph::build(&m, crate::ir::graph::Step::Decode { batch: 4, context: 1024.0 });
        for n in g.nodes() {
            let keeps = matches!(n.op, crate::ir::graph::Op::Router | crate::ir::graph::Op::LmHead | crate::ir::graph::Op::Embed);
            assert_eq!(n.op.keeps_precision(), keeps);
            if keeps {
                assert_eq!(n.precision, Precision::Bf16, "{:?}", n.op);
            } else if n.flops > 0.0 && n.op != crate::ir::graph::Op::Attention {
                assert_eq!(n.precision, Precision::Fp8, "{:?}", n.op);
            }
        }
        let head = g.nodes().find(|n| n.op == crate::ir::graph::Op::LmHead).unwrap();
        assert_eq!(head.weight_bytes, 2.0 * (m.vocab * m.hidden) as f64);
    }

    #[test]
    fn tokens_per_expert_sets_expert_intensity() {
        // DeepSeek-V3 (E = 256, k = 8): 64 tokens give 64 * 8 / 256 = 2 tokens per expert.
        assert_eq!(tokens_per_expert(64.0, 8, 256), 2.0);
        assert_eq!(tokens_per_expert(4096.0, 8, 256), 128.0);
    }

    #[test]
    fn footprints_and_fit() {
        let m = crate::ir::tests_support::llama70b();
        // 70B bf16 weights: 141.1 GB; on 2 chips 70.55 GB each, plus KV of one 8k request / 2
        let f = prefill_footprint(&m, 2, 8000);
        assert_eq!(f.weights, 141_107_412_992.0 / 2.0);
        assert_eq!(f.kv, 8000.0 * 327_680.0 / 2.0);
        // 70.55 GB + 1.31 GB = 71.86 GB <= 80 GB
        let (used, ok) = fits(&h100(), f);
        assert!(ok, "{used:?}");
        assert!((used[0].1 - (70_553_706_496.0 + 1_310_720_000.0)).abs() < 1.0);
        // One chip: 141.1 GB of weights do not fit in 80 GB.
        assert!(!fits(&h100(), prefill_footprint(&m, 1, 8000)).1);
    }

    /// The stdlib's model `name`, as a plan file importing it gets it.
    fn stdlib_model(name: &str) -> Model {
        let comp = crate::compile("t.hplan", &format!("use std::models::{name}\n"), None, crate::Mode::Check);
        comp.program.models.into_iter().find(|m| m.name == name).unwrap()
    }

    /// KV parallelism (§4f) on Llama-3.1-70B (8 KV heads) over 16 chips: the chips beyond
    /// the heads split the cache 2 ways by context. Each chip then projects its head
    /// group's queries, keys and values (8 ways: twice a 16-way share of those weights)
    /// and attends over half of every sequence's cache (half what a 16-way group with
    /// copies of the cache reads); the output projection, embedding and LM head split 16
    /// ways as under plain tensor parallelism, so the stage differs from the plain one's
    /// by those two operators alone.
    #[test]
    fn a_context_split_halves_what_each_chip_reads_of_the_cache() {
        let m = stdlib_model("llama3_1_70b");
        assert_eq!((m.kv_split(16), m.context_split(16), m.context_split(8), m.context_split(4)), (8, 2, 1, 1));
        let chip = h100();
        let (b, c) = (8, 100_000.0);
        let whole = build(&m, Step::Decode { batch: b, context: c });
        let shard = build(&m, Step::Decode { batch: b, context: c / 2.0 });
        let price = node_times(&chip).unwrap();
        let node = |g: &Graph, op| g.nodes().find(|n| n.op == op && n.layers.is_some()).unwrap().clone();
        let (qkv, core) = (crate::ir::graph::Op::QkvProj, crate::ir::graph::Op::Attention);
        let at = |n: &Node, tp: u64| price(n, tp, 8).unwrap();
        // the cache read per chip halves; the projections' weights per chip double
        let (core_plain, core_cp) = (at(&node(&whole, core), 16), at(&node(&shard, core), 8));
        let r = core_cp.memory / core_plain.memory;
        assert!((0.49..0.51).contains(&r), "cache read ratio {r}");
        assert!((core_cp.compute / core_plain.compute - 1.0).abs() < 1e-9, "the same attention FLOPs per chip");
        let (qkv_plain, qkv_cp) = (at(&node(&whole, qkv), 16), at(&node(&shard, qkv), 8));
        assert!((qkv_cp.memory / qkv_plain.memory - 2.0).abs() < 1e-9);
        // the stage: the plain one's, but for those two operators on every layer
        let plain = stage_time(&whole, &[Stage::DecodeAttn], &chip, 16, 8).unwrap();
        let cp = context_parallel_attention(&shard, &m, &chip, 16).unwrap();
        let layers = m.layers as f64;
        let want = plain.time + layers * (qkv_cp.time() - qkv_plain.time() + core_cp.time() - core_plain.time());
        assert!((cp.time - want).abs() <= 1e-12 * want, "{} vs {want}", cp.time);
        assert!(cp.time < plain.time, "at 100k tokens of context the split pays: {} vs {}", cp.time, plain.time);
    }

    /// What a chip holds under KV parallelism: the cache 16 ways (half of a 16-way group's
    /// with copies), the query, key and value projections 8 ways, every other weight 16
    /// ways. For MLA (DeepSeek-V3: one latent, no head split) 8 chips split the cache 8
    /// ways by context where tensor parallelism keeps 8 copies, and the projections stay
    /// whole on every chip.
    #[test]
    fn a_context_split_holds_a_share_of_the_cache_and_copies_of_the_projections() {
        let m = stdlib_model("llama3_1_70b");
        let (b, ctx) = (4, 200_000);
        let cp = context_parallel_footprint(&m, 16, b, ctx);
        let plain = decode_attn_footprint(&m, 16, b, ctx, true);
        assert!((cp.kv - b as f64 * m.kv_bytes(ctx as f64) / 16.0).abs() < 1.0 && (plain.kv / cp.kv - 2.0).abs() < 1e-12);
        let extra = m.qkv_weight_bytes() * (1.0 / 8.0 - 1.0 / 16.0);
        assert!((cp.weights - plain.weights - extra).abs() < 1.0, "{} vs {}", cp.weights - plain.weights, extra);
        let ds = stdlib_model("deepseek_v3");
        assert_eq!((ds.kv_split(8), ds.context_split(8)), (1, 8));
        let cp = context_parallel_footprint(&ds, 8, b, ctx);
        let plain = decode_attn_footprint(&ds, 8, b, ctx, true);
        assert!((plain.kv / cp.kv - 8.0).abs() < 1e-12);
        assert!((cp.weights - plain.weights - ds.qkv_weight_bytes() * (1.0 - 1.0 / 8.0)).abs() < 1.0);
    }

    /// The combine of KV-parallel attention: nothing without a context split; with one,
    /// an all-reduce over the `cp` chips of every token's partial outputs of its chip's
    /// query heads (`d_v` values each) and their log-sum-exp (4 bytes).
    #[test]
    fn the_combine_sums_partial_outputs_over_the_context_split() {
        let m = stdlib_model("llama3_1_70b");
        let (chip, link) = (h100(), nvlink());
        assert_eq!(kv_combine_on(&chip, &m, 64, 8, &link), 0.0);
        // 16 chips: 2 ways by context, each chip's head group 64/8 = 8 query heads of 128
        let bytes = 64.0 * 8.0 * (128.0 * m.activations.bytes() + 4.0);
        assert_eq!(kv_combine_on(&chip, &m, 64, 16, &link), allreduce_time(bytes, 2, &link));
        // 64 chips: 8 ways, the same bytes over 8 chips
        assert_eq!(kv_combine_on(&chip, &m, 64, 64, &link), allreduce_time(bytes, 8, &link));
    }

    /// A prompt split by context (§14b): each of 16 groups takes 1/16 of a 1Mi-token
    /// prompt and, attending as after half the rest, exactly 1/16 of its causal attention
    /// (the graph's query-key pairs); its cache goes round the ring in 15 hops a layer, a
    /// head-shard of it per chip.
    #[test]
    fn a_prompt_split_by_context_shares_its_attention_evenly() {
        let s = 1u64 << 20;
        let (t, p) = context_prefill_share(s, 16);
        assert_eq!((t, p), (65_536, (s - 65_536) / 2));
        let pairs = |n: f64| n * n / 2.0;
        let share = t as f64 * p as f64 + pairs(t as f64);
        assert!((share - pairs(s as f64) / 16.0).abs() <= 1e-12 * share, "{share}");
        assert_eq!(context_prefill_share(4032, 1), (4032, 0));
        let m = stdlib_model("llama3_1_70b");
        let link = nvlink();
        assert_eq!(context_ring_time(&m, t, 4, 1, &link), 0.0);
        // 8 KV heads of 128 in BF16, K and V: 4 KiB a token a layer, a quarter per chip at TP4
        let hop = transfer_time(t as f64 * 4096.0 / 4.0, &link, 1);
        let ring = context_ring_time(&m, t, 4, 16, &link);
        assert!((ring - 80.0 * 15.0 * hop).abs() <= 1e-12 * ring, "{ring}");
    }
}
