//! Decode options as layer pipelines: contiguous layer ranges on stages over the
//! `decode.layers` pools, or within one pool.

use super::*;

/// A pool's chips as one pipeline stage: one tensor-parallel group of the largest
/// degree the pool allows that splits both the heads and the FFN.
pub(super) fn pipeline_tp(plan: &Plan, pool: usize) -> Option<u64> {
    let p = &plan.cluster.pools[pool];
    let m = &plan.model;
    let pin = plan.placement(Stage::DecodeLayers).pins.tp;
    tp_degrees(p.domain(), m.heads, p.link.is_some()).into_iter().filter(|&t| m.ffn_split_dim() % t == 0 && Pins::allows(pin, t)).max()
}

/// One pool's chips as a pipeline stage, priced over one step's graph: per layer, its
/// time and the parts the breakdown needs, and the ends' work. The same at every batch
/// whose microbatches run that step, so a plan's spaces price it once for all their
/// batches ([`SpaceCache`]).
pub(super) struct Priced {
    attn: Vec<f64>,
    ffn: Vec<f64>,
    allreduce: Vec<f64>,
    attn_mem_bound: Vec<f64>,
    ffn_mem_bound: Vec<f64>,
    /// per layer, the time the op tables priced; and of the embedding and of the LM head
    tables: Vec<f64>,
    tables_first: f64,
    tables_last: f64,
    /// layers `0..l` take `time[l]` ([`layers::Group::time`])
    time: Vec<f64>,
    /// the embedding's time (the first stage's), the LM head's and the final norm's (the
    /// last stage's)
    first: f64,
    last: f64,
    extrapolated: bool,
    /// the chip's memory tiers' names (shared by every stage's memory rows)
    tiers: Vec<Arc<str>>,
}

/// Per-layer costs of one pool as a pipeline stage, and the parts the breakdown needs.
pub(super) struct StageCosts {
    group: layers::Group,
    priced: Arc<Priced>,
    /// the part of `group.first` that is the engine's per-sequence host work
    first_fixed: f64,
}

/// A stage priced ([`Priced`], held by [`SpaceCache`]): its pool, degree, sequences per
/// microbatch and tokens per sequence; the microbatch sizes recur from batch to batch.
pub(super) type StageKey = (usize, u64, u64, u64);

/// The most stages one plan's [`SpaceCache`] holds (about 6 kB each at 126 layers); it
/// starts again empty when full.
pub const PIPELINE_CACHE_ENTRIES: usize = 4096;

/// Pool `pool`'s chips in tensor-parallel groups of `tp` as a stage over graph `g` of a
/// step over `tokens` tokens; `None` where the chip has no precision the step needs.
fn price_stage(plan: &Plan, (pool, tp): (usize, u64), g: &graph::Graph, tokens: u64) -> Option<Priced> {
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
    let mut time = vec![0.0];
    for l in 0..n {
        time.push(time[l] + (attn[l] + ffn[l] + ar));
    }
    Some(Priced {
        allreduce: vec![ar; n],
        attn,
        ffn,
        attn_mem_bound: amb,
        ffn_mem_bound: fmb,
        tables: tab,
        tables_first: tab_first,
        tables_last: tab_last,
        time,
        first,
        last,
        extrapolated,
        tiers: chip.memory.iter().map(|t| t.name.clone()).collect(),
    })
}

/// Pool `pool` as a stage priced (`priced`, [`price_stage`]) with its memory: `batch`
/// is the whole decode batch (whose KV cache the stage holds), `micro` the sequences of
/// one microbatch (which each pass through the stage pays fixed costs for).
fn stage_costs(
    plan: &Plan,
    (pool, tp): (usize, u64),
    priced: Arc<Priced>,
    bytes: &LayerBytes,
    (batch, micro): (u64, u64),
) -> Option<StageCosts> {
    let m = &plan.model;
    let chip = &plan.cluster.pools[pool].chip;
    let n = m.layers as usize;
    let tiers = chip.memory.len();
    let (wt, kt) = (chip.tier_index(crate::ir::Contents::Weights)?, chip.tier_index(crate::ir::Contents::Kv)?);
    let tpf = tp as f64;
    // every variant of the model resident: its own weights, and a cache for a batch of
    // its own (`batch` is one variant's; docs/cost-model.md §15)
    let k = m.variants.max(1) as f64;
    let mut mem = vec![vec![0.0; n + 1]; tiers];
    for l in 0..n {
        for (t, row) in mem.iter_mut().enumerate() {
            let mut x = row[l];
            if t == wt {
                x += k * bytes.weights[l] / tpf;
            }
            if t == kt {
                x += k * batch as f64 * bytes.kv[l] / m.kv_split(tp) as f64;
            }
            row[l + 1] = x;
        }
    }
    // the input embedding on the first stage; the LM head and final norm on the last
    let (mut mem_first, mut mem_last) = (vec![0.0; tiers], vec![0.0; tiers]);
    let (first_bytes, last_bytes) = cost::pipeline_end_bytes(m, tp);
    (mem_first[wt], mem_last[wt]) = (k * first_bytes, k * last_bytes);
    Some(StageCosts {
        group: layers::Group {
            time: priced.time.clone(),
            // every stage launches each microbatch's step; the engine's per-sequence host
            // work is done once, where the microbatch enters (the first stage)
            fixed: chip.step_overhead,
            first: priced.first + micro as f64 * chip.sequence_overhead,
            last: priced.last,
            mem,
            mem_first,
            mem_last,
            capacity: chip.memory.iter().map(|t| t.capacity).collect(),
        },
        priced,
        first_fixed: micro as f64 * chip.sequence_overhead,
    })
}

/// What a pipeline of `s` stages over the `decode.layers` pools costs: per-pool stage
/// costs and the partition problem at the microbatch size of `s` stages.
pub(super) struct PipelineParts {
    /// the pools taking part (those with the model's precisions), group i = pools[i]
    pools: Vec<usize>,
    costs: Vec<StageCosts>,
    problem: layers::Problem,
    tps: Vec<u64>,
    tokens: u64,
    microbatches: u64,
}

/// Per layer, the bytes a pipeline stage holds of it: its weights (all chips' together)
/// and one sequence's KV cache at the longest context.
pub(super) struct LayerBytes {
    weights: Vec<f64>,
    kv: Vec<f64>,
}

impl LayerBytes {
    pub(super) fn of(plan: &Plan) -> LayerBytes {
        let m = &plan.model;
        let (_, ctx_max) = decode_contexts(plan);
        LayerBytes {
            weights: (0..m.layers).map(|l| m.layer_weight_bytes(l)).collect(),
            kv: (0..m.layers).map(|l| m.kv_bytes_layer(l, ctx_max as f64)).collect(),
        }
    }
}

/// What a batch's pipelines share: the model's [`LayerBytes`] and the decode steps'
/// graphs by microbatch size (`⌈B/m⌉` sequences), each built once for every pool,
/// degree and stage count that runs it; and the stages priced over them, those of the
/// plan's other batches too where `cache` is the plan's.
pub(super) struct Shared<'c> {
    bytes: LayerBytes,
    graphs: Vec<(u64, graph::Graph)>,
    cache: &'c SpaceCache,
}

impl<'c> Shared<'c> {
    pub(super) fn new(plan: &Plan, cache: &'c SpaceCache) -> Shared<'c> {
        Shared { bytes: LayerBytes::of(plan), graphs: Vec::new(), cache }
    }

    /// Pool `pool` in groups of `tp` as a stage of a pipeline over a batch of `batch`
    /// sequences in microbatches of `b`, each sequence `per_seq` tokens a step
    /// ([`stage_costs`]); priced once per cache ([`price_stage`]). `None` where the chip
    /// has no precision the step needs.
    fn stage(&mut self, plan: &Plan, (pool, tp): (usize, u64), (b, per_seq): (u64, u64), batch: u64) -> Option<StageCosts> {
        let cache = self.cache;
        let priced = cache
            .stages
            .get_or((pool, tp, b, per_seq), || price_stage(plan, (pool, tp), self.at(plan, b, per_seq).0, b * per_seq).map(Arc::new));
        stage_costs(plan, (pool, tp), priced?, &self.bytes, (batch, b))
    }

    /// The graph of a step over `b` sequences of `per_seq` tokens each, with the
    /// layers' bytes.
    fn at(&mut self, plan: &Plan, b: u64, per_seq: u64) -> (&graph::Graph, &LayerBytes) {
        let i = match self.graphs.iter().position(|(k, _)| *k == b) {
            Some(i) => i,
            None => {
                self.graphs.push((b, graph::build(&plan.model, decode_step(plan, b, per_seq))));
                self.graphs.len() - 1
            }
        };
        (&self.graphs[i].1, &self.bytes)
    }
}

pub(super) fn pipeline_parts(
    plan: &Plan,
    (batch, per_seq): (u64, u64),
    s: usize,
    shared: &mut Shared,
    excluded: &mut Vec<Excluded>,
) -> Option<PipelineParts> {
    let m = &plan.model;
    let cl = &plan.cluster;
    // as many microbatches as stages keep every stage busy (fewer if the batch is smaller)
    let mbs = (s as u64).min(batch);
    let b = batch.div_ceil(mbs);
    let tokens = b * per_seq;
    let (mut pools, mut tps, mut costs) = (Vec::new(), Vec::new(), Vec::new());
    for &p in &plan.placement(Stage::DecodeLayers).pools {
        // a pool whose chips cannot form the pinned degree takes no part
        let Some(tp) = pipeline_tp(plan, p) else { continue };
        match shared.stage(plan, (p, tp), (b, per_seq), batch) {
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
    // pools of one kind are interchangeable to the rest of the plan (the partition tries
    // the first ones of each)
    let kinds = crate::ir::pool_kinds(cl, &plan.placements, &pools);
    let kind_of = |p: usize| kinds.iter().position(|k| k.contains(&p)).unwrap_or(usize::MAX);
    let problem = layers::Problem {
        layers: m.layers as usize,
        groups: costs.iter().map(|c| c.group.clone()).collect(),
        cross,
        kinds: pools.iter().map(|&p| kind_of(p)).collect(),
    };
    Some(PipelineParts { pools, costs, problem, tps, tokens, microbatches: mbs })
}

/// The layer-partition problem of a plan's `decode.layers` pools for `s` stages at
/// decode batch `batch` (benchmarks and tests time and cross-check it).
pub fn pipeline_problem(plan: &Plan, batch: u64, s: usize) -> Option<layers::Problem> {
    pipeline_parts(plan, (batch, 1), s, &mut Shared::new(plan, &SpaceCache::default()), &mut Vec::new()).map(|p| p.problem)
}

/// Layer pipelines over the pools `place decode.layers` names (docs/solver.md): with
/// `s ≥ 2` stages the batch runs as `m = min(s, B)` microbatches of `⌈B/m⌉` sequences
/// (TPOT `max(m·bottleneck, one microbatch's round trip)`), each stage
/// one pool's tensor-parallel group ([`pipeline_tp`]); for every set of `s` pools the
/// exact DP of [`layers`] picks the order and the cuts with the smallest bottleneck.
/// Then the pipelines within each of those pools ([`uniform_pipeline_options`]).
/// Steps over `per_seq` tokens per sequence as in [`target_options`]; the stages priced
/// once per `cache`.
pub(super) fn pipeline_options(
    plan: &Plan,
    batch: u64,
    per_seq: u64,
    excluded: &mut Vec<Excluded>,
    cache: &SpaceCache,
) -> Vec<DecodeOption> {
    let m = &plan.model;
    let n = plan.placement(Stage::DecodeLayers).pools.len();
    let mut out = Vec::new();
    let mut shared = Shared::new(plan, cache);
    if (2..=layers::MAX_GROUPS).contains(&n) {
        for s in 2..=n.min(m.layers as usize) {
            // precision exclusions are the same for every s: record them once
            let mut ex = Vec::new();
            let parts = pipeline_parts(plan, (batch, per_seq), s, &mut shared, &mut ex);
            if s == 2 {
                excluded.extend(ex);
            }
            let Some(parts) = parts else { break };
            for (_, part) in parts.problem.best_per_set(s) {
                out.push(pipeline_option(plan, &parts, &part, &shared.bytes));
            }
        }
    }
    out.extend(uniform_pipeline_options(plan, (batch, per_seq), &mut shared, excluded));
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
pub(super) fn uniform_pipeline_options(
    plan: &Plan,
    (batch, per_seq): (u64, u64),
    shared: &mut Shared,
    excluded: &mut Vec<Excluded>,
) -> Vec<DecodeOption> {
    let m = &plan.model;
    let cl = &plan.cluster;
    let l = m.layers as usize;
    let placement = plan.placement(Stage::DecodeLayers);
    // 8 at most, so that the same layouts exist at every batch above 8 (the seeds)
    let most_micro = 8;
    let mut out = Vec::new();
    for &p in &placement.pools {
        let pool = &cl.pools[p];
        // the stages pass activations over the pool's own link (between nodes, its
        // scale-out link: docs/cost-model.md §4g)
        let Some(fabric) = cost::Fabric::of(pool) else { continue };
        let degrees = tp_degrees(pool.domain(), m.heads, true)
            .into_iter()
            .filter(|&t| m.ffn_split_dim() % t == 0 && Pins::allows(placement.pins.tp, t));
        'degree: for t in degrees {
            // stages that span nodes fill whole nodes
            let most = pool.groups(t).min(l as u64).min(MAX_POOL_STAGES);
            // the pool's costs as a stage, per microbatch count and whether the stages
            // span nodes
            let mut by_micro: Vec<((u64, bool), PipelineParts)> = Vec::new();
            let mut fitted = false;
            let mut short: Option<Excluded> = None;
            for s in 2..=most {
                let mbs = s.min(most_micro).min(batch);
                // a pipeline over more than a node crosses between nodes: each crossing is
                // priced at the scale-out link's (an upper bound: those inside a node are
                // faster)
                let link = fabric.slowest(s * t);
                let key = (mbs, s * t > pool.domain());
                let parts = match by_micro.iter().position(|x| x.0 == key) {
                    Some(i) => &by_micro[i].1,
                    None => {
                        let b = batch.div_ceil(mbs);
                        let tokens = b * per_seq;
                        let Some(costs) = shared.stage(plan, (p, t), (b, per_seq), batch) else {
                            excluded.push(Excluded::Precision { pool: p });
                            break 'degree;
                        };
                        let cross = vec![vec![Some(cost::transfer_time(cost::activation_bytes(m, tokens), link, t))]];
                        let problem = layers::Problem { layers: l, groups: vec![costs.group.clone()], cross, kinds: Vec::new() };
                        let parts = PipelineParts { pools: vec![p], costs: vec![costs], problem, tps: vec![t], tokens, microbatches: mbs };
                        by_micro.push((key, parts));
                        &by_micro[by_micro.len() - 1].1
                    }
                };
                match even_split(&parts.problem, s as usize) {
                    Ok(part) => {
                        fitted = true;
                        out.push(pipeline_option(plan, parts, &part, &shared.bytes));
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
pub(super) fn even_split(problem: &layers::Problem, s: usize) -> Result<layers::Partition, (f64, f64)> {
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
pub(super) fn pipeline_option(plan: &Plan, parts: &PipelineParts, part: &layers::Partition, bytes: &LayerBytes) -> DecodeOption {
    let m = &plan.model;
    let cl = &plan.cluster;
    let (_, ctx_max) = decode_contexts(plan);
    let kv_total = m.kv_bytes(ctx_max as f64);
    let PipelineParts { pools, costs, problem, tps, tokens, microbatches: mbs } = parts;
    let n = part.stages.len();
    let mut stages = Vec::with_capacity(n);
    let mut bd = DecodeBreakdown::default();
    let mut chips = vec![0; cl.pools.len()];
    let mut cycle = 0.0;
    let mut memory = Vec::with_capacity(n * 2);
    let mut kv = Vec::with_capacity(n);
    let mut cross_in = Vec::with_capacity(n);
    for (i, &(q, lo, hi)) in part.stages.iter().enumerate() {
        let (first, last) = (i == 0, i + 1 == part.stages.len());
        let prev = (!first).then(|| part.stages[i - 1].0);
        let Some(time) = problem.stage_time(q, lo, hi, prev, last) else { continue };
        let c = &costs[q];
        let pool = &cl.pools[pools[q]];
        let sum = |v: &[f64]| v[lo..hi].iter().sum::<f64>();
        bd.attn += sum(&c.priced.attn);
        bd.ffn += sum(&c.priced.ffn);
        bd.allreduce += sum(&c.priced.allreduce);
        bd.attn_memory_bound += sum(&c.priced.attn_mem_bound);
        bd.ffn_memory_bound += sum(&c.priced.ffn_mem_bound);
        bd.from_tables +=
            sum(&c.priced.tables) + if first { c.priced.tables_first } else { 0.0 } + if last { c.priced.tables_last } else { 0.0 };
        bd.extrapolated |= c.priced.extrapolated;
        let into = prev.and_then(|p| problem.cross[p][q]).unwrap_or(0.0);
        bd.crossing += into;
        cross_in.push(into);
        bd.other += if first { c.group.first - c.first_fixed } else { 0.0 } + if last { c.group.last } else { 0.0 };
        bd.overhead += c.group.fixed + if first { c.first_fixed } else { 0.0 };
        cycle += time;
        chips[pools[q]] += tps[q];
        for (t, tier) in pool.chip.memory.iter().enumerate() {
            let used = c.group.used(t, lo, hi, first, last);
            memory.push(MemUse {
                stage: Stage::DecodeLayers,
                pool: pools[q],
                tier: c.priced.tiers[t].clone(),
                used,
                capacity: tier.capacity,
            });
        }
        let kv_here: f64 = bytes.kv[lo..hi].iter().sum();
        kv.push((pools[q], if kv_total > 0.0 { kv_here / kv_total } else { 0.0 }));
        stages.push(LayerStage { pool: pools[q], tp: tps[q], first: lo as u64, end: hi as u64, time });
    }
    // The sampled token ids go back to the first stage: directly if linked,
    // otherwise back along the pipeline.
    let ids = 4.0 * *tokens as f64;
    let (head, tail) = (part.stages[0].0, part.stages[part.stages.len() - 1].0);
    // between two groups of one pool, the pool's own link (its scale-out link where the
    // pipeline's chips on it, `chips`, span nodes)
    let link = |a: usize, b: usize| match pools[a] == pools[b] {
        true => cost::Fabric::of(&cl.pools[pools[a]]).map(|f| f.slowest(chips[pools[a]])),
        false => cl.link_between(pools[a], pools[b]).map(|l| &l.link),
    };
    let back = match link(tail, head) {
        Some(l) => cost::transfer_time(ids, l, 1),
        None => part.stages.windows(2).filter_map(|w| link(w[1].0, w[0].0)).map(|l| cost::transfer_time(ids, l, 1)).sum(),
    };
    cycle += back;
    bd.crossing += back;
    let step = cost::step::pipeline(bd, part.bottleneck, cycle, *mbs);
    let layout = Layout::Pipeline(Pipeline { stages, microbatches: *mbs, cross_in, back });
    DecodeOption::priced(|c| cost::step::spend(&cl.pools, c), layout, kv, chips, step, memory)
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
        layers::Problem { layers, groups: vec![g], cross: vec![vec![Some(cross)]], kinds: Vec::new() }
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
        let pipelines: Vec<&DecodeOption> = inst.decode.iter().filter(|d| !d.stages().is_empty()).collect();
        let across: Vec<u64> =
            pipelines.iter().filter(|d| d.stages()[0].pool != d.stages()[1].pool).flat_map(|d| d.stages().iter().map(|s| s.tp)).collect();
        assert!(!across.is_empty() && across.iter().all(|&t| t == 4), "{across:?}");
        let mut within: Vec<u64> =
            pipelines.iter().filter(|d| d.stages().iter().all(|s| s.pool == d.stages()[0].pool)).map(|d| d.stages()[0].tp).collect();
        within.sort_unstable();
        within.dedup();
        assert_eq!(within, vec![1, 2]);
    }

    /// On chips with measured op tables a layer pipeline reports what the tables priced
    /// as the colocated step of the same chips does: at one sequence (one microbatch) two
    /// stages of TP4 run the same operations as TP4 attention and FFN over every layer,
    /// so the shares agree, at 1k and at 100k tokens of context. At 8,192 sequences
    /// (microbatches of 4,096) decode attention leaves the tables' batches (up to 2,048
    /// at this shape), and the pipeline is marked extrapolated as the colocated step is.
    #[test]
    fn a_pipeline_on_op_tables_reports_their_share_as_the_colocated_step_does() {
        let src = |place: &str, input: &str, batch: u64| {
            format!(
                "use std::chips::h100_sxm_measured\nuse std::links::nvlink4\nuse std::models::llama3_1_8b\n\
                 workload w {{\n  input = {input}\n  output = 128 tok\n  concurrency = {batch}\n}}\n\
                 cluster c {{\n  pool gpu = h100_sxm_measured x 8 over nvlink4\n}}\n\
                 plan p {{\n  model = llama3_1_8b\n  cluster = c\n  workload = w\n  serving = disaggregated\n{place}}}\n"
            )
        };
        let option = |text: &str, batch: u64, want: &dyn Fn(&DecodeOption) -> bool| {
            let comp = crate::compile("tables.hplan", text, None, crate::Mode::Check);
            assert!(!comp.has_errors(), "{:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
            let plan = comp.program.plans[0].clone();
            let inst = instance(&plan, batch, &prefill_options(&plan, &mut Vec::new()), &mut Vec::new());
            inst.decode.iter().find(|d| want(d)).cloned().expect("the option asked for")
        };
        for (input, batch) in [("1k tok", 1), ("100k tok", 1), ("128 tok", 8192)] {
            let pipeline = option(&src("  place decode.layers on gpu { tp = 4 }\n", input, batch), batch, &|d| {
                d.stages().len() == 2 && d.stages().iter().all(|x| x.tp == 4)
            });
            let colocated = option(
                &src("  place decode.attn on gpu { tp = 4 }\n  place decode.ffn on gpu\n", input, batch),
                batch,
                &|d| matches!(&d.layout, Layout::Colocated(c) if (c.tp, c.dp) == (4, 1)),
            );
            let (p, c) = (&pipeline.breakdown, &colocated.breakdown);
            assert!(c.from_tables > 0.0 && p.from_tables > 0.0, "{input}: the tables price the step");
            if batch == 1 {
                assert!(
                    (p.from_tables - c.from_tables).abs() <= 1e-9 * c.from_tables,
                    "{input}: {} against {}",
                    p.from_tables,
                    c.from_tables
                );
            }
            let beyond = batch > 2048;
            assert_eq!((p.extrapolated, c.extrapolated), (beyond, beyond), "{input} at {batch}");
        }
    }

    /// The stages a plan's spaces price once for all their batches (`SpaceCache`) give
    /// every batch the options it has built alone, option for option, whatever the order
    /// the batches are built in; a cache that reaches its bound starts again empty.
    #[test]
    fn stages_priced_once_give_each_batch_its_own_options() {
        let text = "use std::chips::{h100_sxm, h200}\nuse std::links::{nvlink4, spectrum_x}\nuse std::models::llama3_1_70b\n\
                    workload w {\n  input = 4k tok\n  output = 1k tok\n  concurrency = 1 ..= 256\n}\n\
                    cluster c {\n  pool old = h100_sxm x 8 over nvlink4\n  pool new = h200 x 8 over nvlink4\n  link old <-> new over spectrum_x\n}\n\
                    plan p {\n  model = llama3_1_70b { weights = fp8 }\n  cluster = c\n  workload = w\n  place decode.layers on any [old, new]\n}\n";
        let comp = crate::compile("cache.hplan", text, None, crate::Mode::Check);
        assert!(!comp.has_errors(), "{:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
        let plan = &comp.program.plans[0];
        let cache = SpaceCache::default();
        let mut pipelines = 0;
        for b in [64, 1, 7, 8, 9, 63, 65, 256, 2, 64, 17, 128] {
            let cached = decode_options_in(plan, b, Kinds::All, &mut Vec::new(), Vec::new(), Some(&cache));
            let alone = decode_options(plan, b, &mut Vec::new());
            assert_eq!(cached, alone, "batch {b}");
            pipelines += alone.iter().filter(|d| matches!(d.layout, Layout::Pipeline(_))).count();
        }
        assert!(pipelines >= 100, "{pipelines}");
        let held = cache.stages.held();
        assert!(held > 0 && held <= PIPELINE_CACHE_ENTRIES, "{held}");
        let full = SpaceCache::default();
        for i in 0..PIPELINE_CACHE_ENTRIES as u64 + 3 {
            full.stages.get_or((0, 1, i, 1), || None);
        }
        assert_eq!(full.stages.held(), 3);
    }

    /// A pipeline stage's costs put the input embedding on the first stage and the LM
    /// head (with the final norm) on the last: Llama-3.1-8B at one sequence on TP4 H100s
    /// (roofline), against the cost phase's own times of those operations.
    #[test]
    fn the_embedding_is_the_first_stages_and_the_lm_head_the_last() {
        let text = "use std::chips::h100_sxm\nuse std::links::nvlink4\nuse std::models::llama3_1_8b\n\
                    workload w {\n  input = 1k tok\n  output = 128 tok\n  concurrency = 1\n}\n\
                    cluster c {\n  pool gpu = h100_sxm x 8 over nvlink4\n}\n\
                    plan p {\n  model = llama3_1_8b\n  cluster = c\n  workload = w\n  place decode.layers on gpu { tp = 4 }\n}\n";
        let comp = crate::compile("ends.hplan", text, None, crate::Mode::Check);
        assert!(!comp.has_errors(), "{:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
        let plan = &comp.program.plans[0];
        let g = graph::build(&plan.model, decode_step(plan, 1, 1));
        let costs = Shared::new(plan, &SpaceCache::default()).stage(plan, (0, 4), (1, 1), 1).unwrap();
        let price = cost::node_times(&plan.cluster.pools[0].chip).unwrap();
        let (mut embed, mut head) = (0.0, 0.0);
        for node in g.nodes().filter(|n| n.layers.is_none()) {
            let t = price(node, 4, plan.model.kv_split(4)).unwrap().time();
            match node.op {
                graph::Op::Embed => embed += t,
                _ => head += t,
            }
        }
        assert!(embed > 0.0 && head > embed, "{embed} {head}");
        // the engine's per-sequence host work is the first stage's too
        let first = costs.group.first - costs.first_fixed;
        assert!(costs.first_fixed > 0.0 && (first - embed).abs() <= 1e-12 * embed, "{first} against {embed}");
        assert!((costs.group.last - head).abs() <= 1e-12 * head, "{} against {head}", costs.group.last);
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
            let two = |d: &DecodeOption| d.stages().len() == 2 && d.stages().iter().all(|x| x.pool == 0 && x.tp == 1);
            let d = inst
                .decode
                .iter()
                .find_map(|d| match &d.layout {
                    Layout::Speculative(s) if two(&s.target) => Some((*s.target).clone()),
                    _ if two(d) => Some(d.clone()),
                    _ => None,
                })
                .expect("a two-stage pipeline of single chips");
            (plan, d)
        };
        let (_, plain) = option(&src(""));
        let (plan, verify) = option(&src(spec));
        assert!(verify.stages()[0].time > plain.stages()[0].time, "{} against {}", verify.stages()[0].time, plain.stages()[0].time);
        let Layout::Pipeline(Pipeline { cross_in, .. }) = &verify.layout else { panic!("{:?}", verify.layout) };
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
                let within: Vec<&DecodeOption> = inst.decode.iter().filter(|d| d.stages().len() >= 2).collect();
                let mut seen = Vec::new();
                for d in &within {
                    let (s, t) = (d.stages().len() as u64, d.stages()[0].tp);
                    assert!(d.stages().iter().all(|x| x.pool == 0 && x.tp == t));
                    assert_eq!(d.chips[..], [s * t]);
                    assert_eq!(d.microbatches(), s.min(8).min(batch));
                    let lens: Vec<u64> = d.stages().iter().map(|x| x.end - x.first).collect();
                    assert!(
                        d.stages().windows(2).all(|w| w[0].end == w[1].first)
                            && d.stages()[0].first == 0
                            && d.stages()[s as usize - 1].end == 126
                    );
                    assert!(lens.iter().all(|&n| n == 126 / s || n == 126 / s + 1), "{lens:?}");
                    let Layout::Pipeline(Pipeline { back, .. }) = &d.layout else { panic!("a pipeline's layout") };
                    let slowest = d.stages().iter().map(|x| x.time).fold(0.0, f64::max);
                    let round = d.stages().iter().map(|x| x.time).sum::<f64>() + back;
                    let want = (d.microbatches() as f64 * slowest).max(round);
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

    /// A pipeline within a pool of nodes (docs/cost-model.md §4g): Llama-3.1-405B (FP8)
    /// over 4 nodes of 8 H100s. No stage's group leaves a node; a pipeline inside one node
    /// passes activations (and the sampled ids back) over NVLink, one over more than a
    /// node prices every crossing on InfiniBand.
    #[test]
    fn a_pipeline_over_nodes_crosses_on_the_scale_out_link() {
        let src = "use std::chips::h100_sxm\nuse std::links::{nvlink4, ib_ndr}\nuse std::models::llama3_1_405b\n\
                   workload w {\n  input = 2k tok\n  output = 256 tok\n  concurrency = 8\n}\n\
                   cluster c {\n  pool gpu = h100_sxm x 8 over nvlink4 x 4 over ib_ndr\n}\n\
                   plan p {\n  model = llama3_1_405b { weights = fp8 }\n  cluster = c\n  workload = w\n  place decode.layers on gpu\n}\n";
        let comp = crate::compile("nodes.hplan", src, None, crate::Mode::Check);
        assert!(!comp.has_errors(), "{:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
        let plan = &comp.program.plans[0];
        let (m, pool) = (&plan.model, &plan.cluster.pools[0]);
        let (up, out) = (pool.link.as_ref().unwrap(), &pool.scale_out.as_ref().unwrap().link);
        let inst = instance(plan, 8, &prefill_options(plan, &mut Vec::new()), &mut Vec::new());
        let (mut inside, mut across) = (0, 0);
        for d in inst.decode.iter().filter(|d| d.stages().len() >= 2) {
            let (s, t) = (d.stages().len() as u64, d.stages()[0].tp);
            assert!(t <= 8, "a stage of {t} GPUs");
            let Layout::Pipeline(Pipeline { cross_in, back, microbatches, .. }) = &d.layout else { panic!("a pipeline's layout") };
            let tokens = 8u64.div_ceil(*microbatches);
            let link = if s * t > 8 { out } else { up };
            let hop = cost::transfer_time(cost::activation_bytes(m, tokens), link, t);
            assert!(cross_in[1..].iter().all(|&c| c == hop), "{s} x {t}: {cross_in:?} against {hop}");
            assert_eq!(*back, cost::transfer_time(4.0 * tokens as f64, link, 1));
            if s * t > 8 {
                across += 1;
            } else {
                inside += 1;
            }
        }
        assert!(inside > 0 && across > 0, "{inside} inside a node, {across} across nodes");
    }
}
