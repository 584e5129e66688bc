//! Prefill options: prefill on chips of its own (a tensor-parallel group, or a pipeline of
//! such groups within a pool), and aggregated serving (prefill inside the decode steps).

use super::*;

use crate::ir::{MAX_CONTEXT_SPLIT, MAX_PREFILL_STAGES};

/// The prompt's prefill graphs: every prompt's, and with a cached prefix the share `h` of
/// prompts that compute only their own `tokens` (docs/cost-model.md §13).
pub struct PrefillGraphs {
    miss: graph::Graph,
    hit: Option<(f64, u64, graph::Graph)>,
}

impl PrefillGraphs {
    pub fn of(plan: &Plan) -> PrefillGraphs {
        let m = &plan.model;
        let input = plan.workload.input_tokens;
        let miss = graph::build(m, Step::Prefill { tokens: input, prefix: 0 });
        let hit = plan.workload.prefix.filter(|p| p.hit > 0.0).map(|p| {
            let own = input - p.tokens;
            (p.hit, own, graph::build(m, Step::Prefill { tokens: own, prefix: p.tokens }))
        });
        PrefillGraphs { miss, hit }
    }

    /// `f` of every prompt's graph (with its `input` tokens) and, with a cached prefix, of
    /// a cached prompt's (with its own tokens) beside the share `h` of prompts that hit;
    /// `None` when `f` is.
    fn each<T>(&self, input: u64, mut f: impl FnMut(&graph::Graph, u64) -> Option<T>) -> Option<(T, Option<(f64, T)>)> {
        let miss = f(&self.miss, input)?;
        let hit = match &self.hit {
            Some((h, own, g)) => Some((*h, f(g, *own)?)),
            None => None,
        };
        Some((miss, hit))
    }
}

/// Component by component, the mean over hits and misses of a miss's figures and a hit's
/// (the time of a replica serving both: docs/cost-model.md §13).
fn mixed<const N: usize>(miss: [f64; N], hit: Option<(f64, [f64; N])>) -> [f64; N] {
    match hit {
        Some((h, cached)) => std::array::from_fn(|i| h * cached[i] + (1.0 - h) * miss[i]),
        None => miss,
    }
}

/// Every prefill option of `plan` (they do not depend on the decode batch).
///
/// Per pool and tensor-parallel degree `t`: the group of `t` chips, or, on a pool with a
/// scale-up link where that group does not hold a prompt's weights and cache, the
/// shortest pipeline of `s = 2..=16` such groups that does (`t·s` within the pool, `s` at
/// most the layers; the layers cut as evenly as possible, docs/cost-model.md §14); with
/// a `pp` pin, the pipeline of that many stages alone (the group for `pp = 1`). A
/// longer pipeline of the same degree is not offered: per chip it prefills fewer prompts
/// (each stage adds its fixed cost and a crossing) and each prompt later; only its KV
/// transfer, striped over more chips, is faster (docs/solver.md, "The space").
pub fn prefill_options(plan: &Plan, excluded: &mut Vec<Excluded>) -> Vec<PrefillOption> {
    let m = &plan.model;
    let cl = &plan.cluster;
    let graphs = PrefillGraphs::of(plan);
    let mut out = Vec::new();
    let own_chips = if plan.serving.allows_disaggregated() { plan.placement(Stage::Prefill).pools.as_slice() } else { &[] };
    for &p in own_chips {
        let pool = &cl.pools[p];
        let pins = &plan.placement(Stage::Prefill).pins;
        'degree: for tp in tp_degrees(pool.domain(), m.heads, pool.link.is_some()).into_iter().filter(|t| Pins::allows(pins.tp, *t)) {
            let longest = if pool.link.is_some() { pool.groups(tp).min(m.layers).min(MAX_PREFILL_STAGES) } else { 1 };
            // a `pp` pin is the only length tried, fitting or not (none where the pool
            // cannot hold that many groups, or has no link for a pipeline)
            let lengths = match pins.pp {
                Some((k, _)) if k > longest => continue,
                Some((k, _)) => k..=k,
                None => 1..=longest.max(1),
            };
            let pinned_split = pins.cp.is_some_and(|(k, _)| k > 1);
            // the group, or the shortest pipeline of such groups that holds the prompt
            // (none beside a `cp` pin above 1)
            let mut own: Vec<PrefillOption> = Vec::new();
            let mut short = None;
            for pp in lengths.filter(|_| !pinned_split) {
                match prefill_option(plan, &graphs, p, (tp, pp, 1), false) {
                    Ok(o) => {
                        // its prompt in chunks through the stages, where that gives the
                        // first token sooner (it costs each stage a fixed cost per chunk
                        // and re-reads the weights: a longer interval); only where the
                        // answer reads TTFT, since elsewhere the twin (the same chips,
                        // price, power, memory and KV paths) is never better and would
                        // only add a variable to every solve
                        let chunked = (pp > 1 && chunks_of(plan).is_some() && plan.reads_ttft())
                            .then(|| prefill_option(plan, &graphs, p, (tp, pp, 1), true).ok())
                            .flatten()
                            .filter(|c| c.time < o.time);
                        own.push(o);
                        own.extend(chunked);
                        short = None;
                        break;
                    }
                    Err(e @ Excluded::Precision { .. }) => {
                        excluded.extend(short);
                        excluded.push(e);
                        break 'degree;
                    }
                    // a degree no length fits is excluded by its plain group's memory
                    Err(e) => short = short.or(Some(e)),
                }
            }
            excluded.extend(short);
            // the prompt split by context over groups of `tp` chips (§14b): every split
            // where the goal is the first token (or the simulation judges the SLOs, or a
            // pin asks for it), else those that replicas of the options above, or of a
            // split into fewer groups, do not beat
            let every = pinned_split || plan.simulated() || plan.objective == crate::ir::Objective::Ttft;
            let mut beaten_by: Vec<PrefillOption> =
                if every { Vec::new() } else { own.iter().filter(|o| meets_ttft(plan, o)).cloned().collect() };
            out.extend(own);
            for cp in context_splits(plan, pool, tp) {
                match prefill_option(plan, &graphs, p, (tp, 1, cp), false) {
                    Ok(o) if beaten_by.iter().any(|b| replicas_beat(b, &o)) => {}
                    Ok(o) => {
                        if !every && meets_ttft(plan, &o) {
                            beaten_by.push(o.clone());
                        }
                        out.push(o);
                    }
                    Err(e @ Excluded::Precision { .. }) => {
                        excluded.push(e);
                        break 'degree;
                    }
                    Err(e) if pinned_split => excluded.push(e),
                    // a split that does not hold the prompt: a wider one may
                    Err(_) => {}
                }
            }
        }
    }
    drop_dominated_splits(&mut out);
    // Aggregated serving: prefill inside the decode steps of a pool that may take it.
    for a in aggregated_pools(plan) {
        out.push(PrefillOption::aggregated_on(a, cl.pools.len()));
    }
    out
}

/// Whether `o` meets the plan's TTFT bound towards every pool decode attention may use,
/// with the whole cache sent there (the most a decode option's share is).
fn meets_ttft(plan: &Plan, o: &PrefillOption) -> bool {
    let Some(limit) = plan.mean_limit(crate::ir::SloMetric::Ttft).map(|s| s.limit) else { return true };
    plan.placement(Stage::DecodeAttn).pools.iter().all(|&a| o.ttft(&[(a, 1.0)]).is_none_or(|t| t <= limit))
}

/// Whether `k = a.chips / b.chips` replicas of `b` (the same pool, a whole number of
/// them) do everything one replica of the split `a` does for a solve that does not
/// minimise TTFT and whose TTFT bound `b` meets: as many chips (so $ and W), prompts at
/// least as often (`b.interval ≤ k·a.interval`), as many replicas allowed, no later
/// engine latency, no replica pin. Then any answer with `a` has one as good with `b`
/// (docs/cost-model.md §14b), and `a` is left out of the space.
fn replicas_beat(b: &PrefillOption, a: &PrefillOption) -> bool {
    let (cb, ca) = (b.chips(), a.chips());
    if b.pool != a.pool || cb == 0 || ca % cb != 0 || a.fixed_replicas.is_some() || b.fixed_replicas.is_some() {
        return false;
    }
    let k = ca / cb;
    b.interval <= k as f64 * a.interval && b.max_replicas >= k * a.max_replicas && b.first_token <= a.first_token
}

/// Leaves out each prompt split by context that another option on its pool does at least
/// as well in every respect a solve reads: no more chips (so no more $ or W), a prompt no
/// later and no less often, no later first-token latency, at least as many replicas
/// allowed, the same replica pin, and the cache moved no later to every pool. Any answer
/// with the split has one as good with the other option at the same replica count, so the
/// optimum is the same. It catches what [`replicas_beat`] cannot: a split beaten by
/// another degree's split of as many chips (TP2 over 4 groups against TP4 over 2), and
/// every split where the goal is TTFT. Only splits are dropped, and of two alike the
/// later one, so every other option stays as it was offered. Quadratic in the options of
/// the plan's prefill pools, a few dozen at most.
fn drop_dominated_splits(out: &mut Vec<PrefillOption>) {
    let beats = |b: &PrefillOption, a: &PrefillOption| {
        b.pool == a.pool
            && b.chips() <= a.chips()
            && b.time <= a.time
            && b.interval <= a.interval
            && b.first_token <= a.first_token
            && b.max_replicas >= a.max_replicas
            && b.fixed_replicas == a.fixed_replicas
            && b.kv_path.len() == a.kv_path.len()
            && b.kv_path.iter().zip(&a.kv_path).all(|(x, y)| match (x, y) {
                (Some((bl, bb)), Some((al, ab))) => bl <= al && bb <= ab,
                (_, None) => true,
                (None, Some(_)) => false,
            })
    };
    let keep: Vec<bool> = (0..out.len())
        .map(|i| {
            let a = &out[i];
            a.cp == 1 || !out.iter().enumerate().any(|(j, b)| j != i && beats(b, a) && (!beats(a, b) || j < i))
        })
        .collect();
    let mut flags = keep.into_iter();
    out.retain(|_| flags.next().unwrap_or(true));
}

/// The context splits a prompt's prefill may take on groups of `tp` chips of `pool`
/// (docs/cost-model.md §14b): a `cp` pin's (none for `cp = 1` or beside a `pp` pin
/// above 1), else 2, 4, 8 and 16 where `tp·cp` chips fit the pool and each group's share
/// is at least one of the plan's `chunk`s; none on a pool without a link (the ring runs
/// over it) or with prefix reuse (a cached prompt's share would differ from a missed
/// one's).
fn context_splits(plan: &Plan, pool: &crate::ir::Pool, tp: u64) -> Vec<u64> {
    let pins = &plan.placement(Stage::Prefill).pins;
    let input = plan.workload.input_tokens;
    let reuse = plan.workload.prefix.is_some_and(|p| p.hit > 0.0);
    if pool.link.is_none() || reuse || pins.pp.is_some_and(|(k, _)| k > 1) {
        return Vec::new();
    }
    let fits = |cp: u64| cp <= pool.groups(tp);
    match pins.cp {
        Some((k, _)) => (k > 1 && fits(k)).then_some(k).into_iter().collect(),
        None => std::iter::successors(Some(2u64), |c| Some(c * 2))
            .take_while(|&cp| cp <= MAX_CONTEXT_SPLIT && fits(cp) && input.div_ceil(cp) >= plan.chunk_tokens.max(1))
            .collect(),
    }
}

/// The prefill option of `pp` stages of `tp` chips of pool `p`, or of `cp` such groups
/// splitting the prompt by context (`pp` and `cp` not both above 1): its time, the
/// interval between the prompts a replica starts, its memory, and the KV cache's paths;
/// or why there is none (a stage or share does not fit, or the chip lacks a precision).
/// `chunked`: a pipeline's prompt flows through its stages in chunks of the plan's
/// `chunk` tokens ([`chunks_of`]; ignored where that is one chunk or the plan reuses
/// prefixes).
pub fn prefill_option(
    plan: &Plan,
    graphs: &PrefillGraphs,
    p: usize,
    (tp, pp, cp): (u64, u64, u64),
    chunked: bool,
) -> Result<PrefillOption, Excluded> {
    let m = &plan.model;
    let cl = &plan.cluster;
    let pool = &cl.pools[p];
    let chip = &pool.chip;
    let pins = &plan.placement(Stage::Prefill).pins;
    let input = plan.workload.input_tokens;
    // what one all-reduce of a prompt's activations costs on the group
    let allreduce = |tokens: u64| match &pool.link {
        Some(l) => cost::allreduce_on(chip, cost::activation_bytes(m, tokens), tp, l),
        None => 0.0,
    };
    let (time, interval, stages, allreduce_total, from_tables, extrapolated, memory) = if cp > 1 {
        // each of `cp` groups prefills its share of the prompt, attending to the cache the
        // ring brings it (docs/cost-model.md §14b)
        // the ring runs at its slowest link's pace: between nodes, the scale-out link
        let link = cost::Fabric::of(pool).ok_or(Excluded::Precision { pool: p })?.slowest(tp * cp);
        let (tokens, prefix) = cost::context_prefill_share(input, cp);
        let mut f = cost::prefill_footprint(m, tp, tokens);
        // its share of the cache and the block on its way around the ring
        f.kv *= 2.0;
        let (memory, ok) = mem_uses(m, Stage::Prefill, p, chip, f);
        if !ok {
            return Err(memory_excluded(Stage::Prefill, p, tp, &memory));
        }
        let g = graph::build(m, Step::Prefill { tokens, prefix });
        let st = cost::stage_time(&g, &[Stage::Prefill], chip, tp, m.kv_split(tp)).ok_or(Excluded::Precision { pool: p })?;
        let comm = 2.0 * m.layers as f64 * allreduce(tokens) + cost::context_ring_time(m, tokens, tp, cp, link);
        let time = st.time + comm + cost::step_fixed(chip, 1);
        (time, time, Vec::new(), comm, st.from_tables, st.extrapolated, memory)
    } else if pp == 1 {
        let (memory, ok) = mem_uses(m, Stage::Prefill, p, chip, cost::prefill_footprint(m, tp, input));
        if !ok {
            return Err(memory_excluded(Stage::Prefill, p, tp, &memory));
        }
        let kv_split = m.kv_split(tp);
        let mut extrapolated = false;
        let (miss, hit) = graphs
            .each(input, |g, tokens| {
                let st = cost::stage_time(g, &[Stage::Prefill], chip, tp, kv_split)?;
                extrapolated |= st.extrapolated;
                let ar = 2.0 * m.layers as f64 * allreduce(tokens);
                Some([st.time + ar + cost::step_fixed(chip, 1), ar, st.from_tables])
            })
            .ok_or(Excluded::Precision { pool: p })?;
        let [time, ar, tables] = mixed(miss, hit);
        (time, time, Vec::new(), ar, tables, extrapolated, memory)
    } else {
        // (pipelines are offered on linked pools only: their stages pass activations over
        // it, and between nodes over the scale-out link: stage i's chips start at i·tp)
        let fabric = cost::Fabric::of(pool).ok_or(Excluded::Precision { pool: p })?;
        let hop_into = |i: u64| fabric.hop((i * tp) / pool.domain() == ((i - 1) * tp) / pool.domain());
        let ranges: Vec<(u64, u64)> = cost::even_ranges(m.layers, pp).collect();
        // every stage must hold its layers' weights and the prompt's cache for them
        let mut worst: Option<(f64, Vec<MemUse>)> = None;
        for (i, &(lo, hi)) in ranges.iter().enumerate() {
            let f = prefill_stage_footprint(m, tp, input, (lo, hi), i == 0, i + 1 == ranges.len());
            let (memory, ok) = mem_uses(m, Stage::Prefill, p, chip, f);
            if !ok {
                return Err(memory_excluded(Stage::Prefill, p, tp, &memory));
            }
            let bytes = f.weights + f.kv;
            if worst.as_ref().is_none_or(|(w, _)| bytes > *w) {
                worst = Some((bytes, memory));
            }
        }
        // the layers priced once per graph (every prompt's, a cached one's), then summed
        // per stage
        let (miss, hit) =
            graphs.each(input, |g, tokens| Some((cost::layer_times(g, m, chip, tp)?, tokens))).ok_or(Excluded::Precision { pool: p })?;
        let extrapolated = miss.0.extrapolated || hit.as_ref().is_some_and(|x| x.1 .0.extrapolated);
        let part = |lt: &cost::LayerTimes, tokens: u64, (lo, hi): (u64, u64), i: usize, last: bool| -> [f64; 5] {
            let first = i == 0;
            let range = lo as usize..hi as usize;
            let mut compute: f64 = lt.layer[range.clone()].iter().sum();
            let mut tab: f64 = lt.layer_tables[range].iter().sum();
            if first {
                (compute, tab) = (compute + lt.first, tab + lt.first_tables);
            }
            if last {
                (compute, tab) = (compute + lt.last, tab + lt.last_tables);
            }
            let ar = 2.0 * (hi - lo) as f64 * allreduce(tokens);
            // every stage launches its step; the first also schedules the sequence
            let overhead = chip.step_overhead + if first { chip.sequence_overhead } else { 0.0 };
            let crossing = if first { 0.0 } else { cost::transfer_time(cost::activation_bytes(m, tokens), hop_into(i as u64), tp) };
            [compute, ar, overhead, crossing, tab]
        };
        let chunks = chunks_of(plan).filter(|_| chunked);
        let (stages, tables, extrapolated, time) = match chunks {
            None => {
                let mut stages = Vec::with_capacity(ranges.len());
                let mut tables = 0.0;
                for (i, &range) in ranges.iter().enumerate() {
                    let last = i + 1 == ranges.len();
                    let at = |(lt, tokens): &(cost::LayerTimes, u64)| part(lt, *tokens, range, i, last);
                    let [compute, ar, overhead, crossing, tab] = mixed(at(&miss), hit.as_ref().map(|(h, x)| (*h, at(x))));
                    tables += tab;
                    stages.push(PrefillStage {
                        first: range.0,
                        end: range.1,
                        compute,
                        allreduce: ar,
                        overhead,
                        crossing,
                        chunks: Vec::new(),
                    });
                }
                let time: f64 = stages.iter().map(PrefillStage::time).sum();
                (stages, tables, extrapolated, time)
            }
            Some((k, size)) => {
                // the first and the last full chunk and the remainder, each priced with the
                // prompt's tokens before it cached; the full chunks between take parts
                // linear between the first and the last (as aggregated serving's chunk
                // steps, docs/cost-model.md §10)
                let tail = input - (k - 1) * size;
                let shapes = [(size, 0), (size, (k - 2) * size), (tail, (k - 1) * size)];
                let mut priced = Vec::with_capacity(3);
                for (tokens, prefix) in shapes {
                    let g = graph::build(m, Step::Prefill { tokens, prefix });
                    priced.push((cost::layer_times(&g, m, chip, tp).ok_or(Excluded::Precision { pool: p })?, tokens));
                }
                let extrapolated = priced.iter().any(|(lt, _)| lt.extrapolated);
                // per stage and chunk: compute, all-reduces, fixed costs, crossing, tables;
                // the sequence is scheduled once (chunk 0 on the first stage) and the LM
                // head runs once, for the last chunk's last token on the last stage
                let s = ranges.len();
                let mut parts = vec![vec![[0.0; 5]; k as usize]; s];
                for (i, &range) in ranges.iter().enumerate() {
                    let (first, last) = (i == 0, i + 1 == s);
                    let at = |j: usize, head: bool| {
                        let (lt, tokens) = &priced[j];
                        let mut x = part(lt, *tokens, range, i, last && head);
                        if first {
                            x[2] -= chip.sequence_overhead;
                        }
                        x
                    };
                    let (a, b) = (at(0, false), at(1, false));
                    for (j, x) in parts[i].iter_mut().take(k as usize - 1).enumerate() {
                        let w = if k > 2 { j as f64 / (k - 2) as f64 } else { 0.0 };
                        *x = std::array::from_fn(|c| a[c] + (b[c] - a[c]) * w);
                    }
                    parts[i][k as usize - 1] = at(2, true);
                    if first {
                        parts[i][0][2] += chip.sequence_overhead;
                    }
                }
                let times: Vec<Vec<f64>> = parts.iter().map(|row| row.iter().map(|x| x[0] + x[1] + x[2] + x[3]).collect()).collect();
                let time = cost::pipelined_chunks(&times);
                let stages: Vec<PrefillStage> = ranges
                    .iter()
                    .zip(&parts)
                    .zip(times)
                    .map(|((&(first, end), row), chunks)| {
                        let sum = |c: usize| row.iter().map(|x| x[c]).sum::<f64>();
                        PrefillStage { first, end, compute: sum(0), allreduce: sum(1), overhead: sum(2), crossing: sum(3), chunks }
                    })
                    .collect();
                let tables = parts.iter().flatten().map(|x| x[4]).sum();
                (stages, tables, extrapolated, time)
            }
        };
        // a stage works on the next prompt once it has passed this one on
        let interval = stages.iter().map(PrefillStage::time).fold(0.0, f64::max);
        let ar = stages.iter().map(|s| s.allreduce).sum();
        (time, interval, stages, ar, tables, extrapolated, worst.map(|w| w.1).unwrap_or_default())
    };
    let chips = tp * pp * cp;
    // every stage (or share) sends its own part of the cache: the transfer stripes over
    // all the chips
    let kv_bytes = m.kv_bytes(input as f64);
    let kv_path = (0..cl.pools.len())
        .map(|a| {
            // to decode chips of its own pool: between nodes where it has them
            let link = if a == p {
                pool.scale_out.as_ref().map(|s| &s.link).or(pool.link.as_ref())
            } else {
                cl.link_between(a, p).map(|l| &l.link)
            };
            link.map(|l| (l.latency, cost::transfer_bulk(kv_bytes, l, chips)))
        })
        .collect();
    Ok(PrefillOption {
        pool: p,
        tp,
        pp,
        cp,
        time,
        interval,
        stages,
        allreduce: allreduce_total,
        usd_per_s: chip.price.unwrap_or(0.0) * chips as f64,
        watts: chip.deployed_power().unwrap_or(0.0) * chips as f64,
        max_replicas: pins.replicas.map_or(pool.count / chips, |(n, _)| n.min(pool.count / chips)),
        kv_path,
        memory,
        from_tables,
        extrapolated,
        aggregated: false,
        fixed_replicas: pins.replicas.map(|(n, _)| n),
        first_token: cost::admission::Engine::first_token_on(chip, m),
    })
}

/// The chunks a prefill pipeline may pass its prompt along in: `(k, size)`, `k` chunks of
/// the plan's `chunk` tokens (the last the remainder), where that is at least two and the
/// plan does not reuse prefixes (a cached prompt's chunks would differ from a missed
/// one's, and the schedule draws one prompt); `k` is at most `MAX_CHUNK_STEPS` (the
/// plan's `chunk` is checked so).
pub fn chunks_of(plan: &Plan) -> Option<(u64, u64)> {
    let input = plan.workload.input_tokens;
    let size = plan.chunk_tokens.max(1);
    let k = input.div_ceil(size);
    let reuse = plan.workload.prefix.is_some_and(|p| p.hit > 0.0);
    (k >= 2 && !reuse).then_some((k, size))
}

/// Per-chip bytes of a prefill pipeline stage on `tp` chips running layers `lo..hi` of a
/// `tokens`-token prompt: those layers' weights and cache, with the input embedding on the
/// first stage and the LM head and final norm on the last (as a decode pipeline's stages
/// hold them).
fn prefill_stage_footprint(m: &crate::ir::Model, tp: u64, tokens: u64, (lo, hi): (u64, u64), first: bool, last: bool) -> Footprint {
    let tpf = tp as f64;
    let kv_split = m.kv_split(tp) as f64;
    let mut weights: f64 = (lo..hi).map(|l| m.layer_weight_bytes(l)).sum::<f64>() / tpf;
    let kv: f64 = (lo..hi).map(|l| m.kv_bytes_layer(l, tokens as f64)).sum::<f64>() / kv_split;
    let (embedding, head) = cost::pipeline_end_bytes(m, tp);
    if first {
        weights += embedding;
    }
    if last {
        weights += head;
    }
    Footprint { weights, kv, activations: 0.0 }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Llama-3.1-70B in BF16 (141 GB) on 8 H100s of 80 GB (datasheet roofline, 100 µs per
    /// step and 10 µs per sequence of engine cost) over NVLink 4, 4032-token prompts.
    fn plan() -> Plan {
        plan_with("")
    }

    /// The same plan with `extra` lines in its body.
    fn plan_with(extra: &str) -> Plan {
        let src = "chip h100 {\n  source = \"datasheet\"\n  compute {\n    bf16 = 989 TFLOP/s\n    fp8 = 1979 TFLOP/s\n  }\n\
                   memory hbm {\n    capacity = 80 GB\n    bandwidth = 3.35 TB/s\n  }\n\
                   efficiency {\n    compute = 0.67\n    memory = 0.90\n    source = \"test\"\n  }\n\
                   step_overhead = 100 us\n  sequence_overhead = 10 us\n}\n\
                   use std::links::nvlink4\nuse std::models::llama3_1_70b\n\
                   workload w {\n  input = 4032 tok\n  output = 128 tok\n  concurrency = 1 ..= 64\n}\n\
                   cluster c {\n  pool gpu = h100 x 8 over nvlink4\n}\n\
                   plan p {\n  model = llama3_1_70b\n  cluster = c\n  workload = w\n  serving = disaggregated\n}\n"
            .replacen("disaggregated\n", &format!("disaggregated\n{extra}"), 1);
        let comp = crate::compile("pp.hplan", &src, None, crate::Mode::Check);
        assert!(!comp.has_errors(), "{:?}", comp.diagnostics);
        comp.program.plans[0].clone()
    }

    /// With `chunk = 1024 tok` and a TTFT bound the 4032-token prompt is four chunks (1024,
    /// 1024, 1024, 960) that flow through TP1's two stages: the pipeline is offered both ways, the
    /// chunked one giving the first token sooner and starting prompts less often (each
    /// chunk pays each stage's fixed cost and reads its weights). Each stage's parts sum
    /// its chunks; for two stages the first token is `max_m (Σ_{j ≤ m} c_0j + Σ_{j ≥ m}
    /// c_1j)` (the chunk `m` at which the second stage stops waiting); full chunks grow
    /// with the prompt cached before them; the schedule draws the same first token.
    #[test]
    fn a_pipelines_prompt_may_pass_its_stages_in_chunks() {
        // without a TTFT bound or goal the chunks could not help: not offered
        let unread = plan_with("  chunk = 1024 tok\n");
        assert!(prefill_options(&unread, &mut Vec::new()).iter().all(|o| o.chunks() == 1));
        let p = plan_with("  chunk = 1024 tok\n  slo { ttft <= 10 s }\n");
        let opts = prefill_options(&p, &mut Vec::new());
        let shapes: Vec<(u64, u64, u64)> = opts.iter().filter(|o| o.cp == 1).map(|o| (o.tp, o.pp, o.chunks())).collect();
        assert_eq!(shapes, vec![(1, 2, 1), (1, 2, 4), (2, 1, 1), (4, 1, 1), (8, 1, 1)]);
        let (whole, chunked) = (&opts[0], &opts[1]);
        assert!(chunked.time < whole.time && chunked.interval > whole.interval, "{chunked:?} against {whole:?}");
        let c: Vec<&Vec<f64>> = chunked.stages.iter().map(|st| &st.chunks).collect();
        assert!(c.iter().all(|row| row.len() == 4) && whole.stages.iter().all(|st| st.chunks.is_empty()));
        for st in &chunked.stages {
            let sum: f64 = st.chunks.iter().sum();
            assert!((st.time() - sum).abs() <= 1e-12 * sum, "{} against {sum}", st.time());
        }
        let by_split = (0..4).map(|m| c[0][..=m].iter().sum::<f64>() + c[1][m..].iter().sum::<f64>()).fold(0.0, f64::max);
        assert!((chunked.time - by_split).abs() <= 1e-12 * by_split, "{} against {by_split}", chunked.time);
        assert!(c[1][0] < c[1][1] && c[1][1] < c[1][2], "{:?}", c[1]);
        let interval = chunked.stages.iter().map(PrefillStage::time).fold(0.0, f64::max);
        assert_eq!(chunked.interval, interval);
        // chunks priced by the cost phase directly (one chip a stage: no all-reduce): the
        // first on the first stage (its layers, the embedding, the step's and the
        // sequence's fixed costs), the last full one (after 2048 tokens) and the remainder
        // (960 after 3072, with the LM head) on the second, each with its crossing
        let (m, chip) = (&p.model, &p.cluster.pools[0].chip);
        let link = p.cluster.pools[0].link.as_ref().unwrap();
        let layers = |tokens: u64, prefix: u64| cost::layer_times(&graph::build(m, Step::Prefill { tokens, prefix }), m, chip, 1).unwrap();
        let sum = |lt: &cost::LayerTimes, r: std::ops::Range<usize>| lt.layer[r].iter().sum::<f64>();
        let cross = |tokens: u64| cost::transfer_time(cost::activation_bytes(m, tokens), link, 1);
        let (first, full, rest) = (layers(1024, 0), layers(1024, 2048), layers(960, 3072));
        let want = [
            (c[0][0], sum(&first, 0..40) + first.first + 110e-6),
            (c[1][2], sum(&full, 40..80) + 100e-6 + cross(1024)),
            (c[1][3], sum(&rest, 40..80) + rest.last + 100e-6 + cross(960)),
        ];
        for (got, want) in want {
            assert!((got - want).abs() <= 1e-12 * want, "{got} against {want}");
        }
        // two chunks (2048 and 1984 tokens): none between the first and the remainder
        let two = prefill_options(&plan_with("  chunk = 2048 tok\n  slo { ttft <= 10 s }\n"), &mut Vec::new());
        let halves = &two.iter().find(|o| o.chunks() == 2).unwrap().stages;
        let (head, rest) = (layers(2048, 0), layers(1984, 2048));
        let want = [
            (halves[0].chunks[0], sum(&head, 0..40) + head.first + 110e-6),
            (halves[1].chunks[1], sum(&rest, 40..80) + rest.last + 100e-6 + cross(1984)),
        ];
        for (got, want) in want {
            assert!((got - want).abs() <= 1e-12 * want, "{got} against {want}");
        }
        // eight chunks of 512: the last full one (the seventh) after 3072 tokens
        let eight = prefill_options(&plan_with("  chunk = 512 tok\n  slo { ttft <= 10 s }\n"), &mut Vec::new());
        let st = &eight.iter().find(|o| o.chunks() == 8).unwrap().stages[1];
        let late = layers(512, 3072);
        let want = sum(&late, 40..80) + 100e-6 + cross(512);
        assert!((st.chunks[6] - want).abs() <= 1e-12 * want, "{} against {want}", st.chunks[6]);
        // the whole prompt's stages: the embedding on the first, the LM head on the last
        let whole_layers = layers(4032, 0);
        let compute: Vec<f64> = whole.stages.iter().map(|s| s.compute).collect();
        let want = [sum(&whole_layers, 0..40) + whole_layers.first, sum(&whole_layers, 40..80) + whole_layers.last];
        assert!(compute.iter().zip(want).all(|(g, w)| (g - w).abs() <= 1e-12 * w), "{compute:?} against {want:?}");
        // the same work, but for the weights each chunk reads again and its fixed costs:
        // compute within a few percent of the whole prompt's (compute-bound), the fixed
        // costs four times the stages' (and the sequence's once)
        let compute = |o: &PrefillOption| o.stages.iter().map(|s| s.compute).sum::<f64>();
        assert!(compute(chunked) >= compute(whole) * (1.0 - 1e-9) && compute(chunked) <= 1.1 * compute(whole));
        let overhead: f64 = chunked.stages.iter().map(|s| s.overhead).sum();
        assert!((overhead - (8.0 * 100e-6 + 10e-6)).abs() < 1e-12, "{overhead}");
        // the schedule's first token is the option's (one chip a stage, no KV transfer
        // asked for here)
        let inst = instance(&p, 1, &opts, &mut Vec::new());
        let k = inst.prefill.iter().position(|o| o.chunks() == 4).unwrap();
        let d = (0..inst.decode.len()).find(|&d| inst.compatible(&inst.decode[d], &inst.prefill[k])).unwrap();
        let point = crate::solve::Point {
            instance: std::sync::Arc::new(inst),
            choice: Choice { decode: d, prefill: k, replicas: 1 },
            stats: Default::default(),
        };
        let sched = crate::schedule::schedule(&p, &point);
        let ttft = point.prefill().ttft(&point.decode().kv).unwrap();
        assert!((sched.prefill.makespan - ttft).abs() <= 1e-9 * ttft, "{} against {ttft}", sched.prefill.makespan);
    }

    /// On chips with measured op tables a prefill pipeline reports what the tables priced
    /// as one group of its degree does: Llama-3.1-8B on one `h100_sxm_measured` and as two
    /// single-chip stages (`pp = 2` pinned) run the same operations.
    #[test]
    fn a_prefill_pipeline_on_op_tables_reports_their_share_as_one_group_does() {
        let src = |pp: &str| {
            format!(
                "use std::chips::h100_sxm_measured\nuse std::links::nvlink4\nuse std::models::llama3_1_8b\n\
                 workload w {{\n  input = 4k tok\n  output = 128 tok\n  concurrency = 1 ..= 8\n}}\n\
                 cluster c {{\n  pool gpu = h100_sxm_measured x 8 over nvlink4\n}}\n\
                 plan p {{\n  model = llama3_1_8b\n  cluster = c\n  workload = w\n  serving = disaggregated\n  place prefill on gpu {{ tp = 1{pp} }}\n}}\n"
            )
        };
        let option = |pp: &str| {
            let comp = crate::compile("tables.hplan", &src(pp), None, crate::Mode::Check);
            assert!(!comp.has_errors(), "{:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
            prefill_options(&comp.program.plans[0], &mut Vec::new()).remove(0)
        };
        let (one, two) = (option(""), option(", pp = 2"));
        assert_eq!((one.pp, two.pp), (1, 2));
        assert!(one.from_tables > 0.0);
        assert!((two.from_tables - one.from_tables).abs() <= 1e-9 * one.from_tables, "{} against {}", two.from_tables, one.from_tables);
    }

    /// One H100 does not hold the BF16 model, so TP1 prefills as a pipeline of two chips
    /// (layers 0..40 with the embedding, 40..80 with the LM head); from TP2 on one group
    /// holds it and no pipeline is offered.
    #[test]
    fn a_pipeline_is_offered_where_one_group_does_not_hold_the_prompt() {
        let p = plan();
        let opts = prefill_options(&p, &mut Vec::new());
        let shapes: Vec<(u64, u64)> = opts.iter().map(|o| (o.tp, o.pp)).collect();
        assert_eq!(shapes, vec![(1, 2), (2, 1), (4, 1), (8, 1)]);
        let o = &opts[0];
        let ranges: Vec<(u64, u64)> = o.stages.iter().map(|s| (s.first, s.end)).collect();
        assert_eq!(ranges, vec![(0, 40), (40, 80)]);
        // every stage holds its layers and its share of the cache, the memory reported being
        // the fuller stage's, the last: 40 layers of 855,638,016 parameters and two norms of
        // 8192 (1,711,308,800 B in BF16), the LM head (128,256 · 8192 · 2 B) and final norm
        let reported: f64 = o.memory.iter().map(|u| u.used).sum();
        let (emb, layer) = (128_256.0 * 8192.0 * 2.0, (855_638_016.0 + 2.0 * 8192.0) * 2.0);
        let kv = 40.0 * 4032.0 * 4096.0;
        assert!((reported - (40.0 * layer + emb + 8192.0 * 2.0 + kv)).abs() < 1.0, "{reported}");
        // the second stage takes the prompt's activations over NVLink 4 (4032 · 8192 · 2
        // bytes on one chip's lane), and each stage launches its step: 100 µs, plus 10 µs
        // for the sequence on the first
        let act = 4032.0 * 8192.0 * 2.0;
        assert_eq!(o.stages[0].crossing, 0.0);
        assert!((o.stages[1].crossing - (2e-6 + act / 450e9)).abs() < 1e-15);
        assert!((o.stages[0].overhead - 110e-6).abs() < 1e-15 && (o.stages[1].overhead - 100e-6).abs() < 1e-15);
        // one chip each: no all-reduce; their operations are the whole prompt's
        let g = graph::build(&p.model, Step::Prefill { tokens: 4032, prefix: 0 });
        let whole = cost::stage_time(&g, &[Stage::Prefill], &p.cluster.pools[0].chip, 1, p.model.kv_split(1)).unwrap().time;
        assert!(o.stages.iter().all(|s| s.allreduce == 0.0));
        let compute: f64 = o.stages.iter().map(|s| s.compute).sum();
        assert!((compute - whole).abs() < 1e-12 * whole);
        // a prompt passes both stages in turn; a replica starts one per slowest stage
        let (t0, t1) = (o.stages[0].time(), o.stages[1].time());
        assert!((o.time - (t0 + t1)).abs() < 1e-15 && o.interval == t0.max(t1));
        assert!((o.rate() - 1.0 / t0.max(t1)).abs() < 1e-12 && o.interval < 0.6 * o.time);
        // two chips a replica, four replicas in the pool; the cache leaves over both
        assert_eq!((o.chips(), o.max_replicas), (2, 4));
        let kv_bytes = p.model.kv_bytes(4032.0);
        assert_eq!(o.kv_path[0], Some((2e-6, kv_bytes / (2.0 * 450e9))));
    }

    /// A `pp` pin is the only pipeline length offered, whether or not a shorter one
    /// fits: pinned to 2, every degree whose two groups the pool holds prefills as two
    /// stages (TP8 needs 16 chips: none); pinned to 1, only the plain groups, and TP1,
    /// which the pin keeps from pipelining, is left out for its memory.
    #[test]
    fn a_pp_pin_is_the_only_length_offered() {
        let pinned = |pp: u64| {
            let mut p = plan_with("  place prefill on gpu { pp = 2 }\n");
            let pin = &mut p.placements.iter_mut().find(|x| x.stage == Stage::Prefill).unwrap().pins.pp;
            *pin = pin.map(|(_, span)| (pp, span));
            let mut excluded = Vec::new();
            let shapes: Vec<(u64, u64)> = prefill_options(&p, &mut excluded).iter().map(|o| (o.tp, o.pp)).collect();
            (shapes, excluded)
        };
        let (two, excluded) = pinned(2);
        assert_eq!(two, vec![(1, 2), (2, 2), (4, 2)]);
        assert!(excluded.is_empty(), "{excluded:?}");
        let (one, excluded) = pinned(1);
        assert_eq!(one, vec![(2, 1), (4, 1), (8, 1)]);
        assert!(matches!(excluded[..], [Excluded::Memory { stage: Stage::Prefill, tp: 1, .. }]), "{excluded:?}");
        // more stages than the pool has groups for: nothing (resolve rejects such a pin at
        // its span when no pool the stage may use is large enough: tests/ui/pins.hplan)
        let (sixteen, _) = pinned(16);
        assert!(sixteen.is_empty());
    }

    /// Without a scale-up link a pool's chips cannot pass activations between stages: a
    /// model one chip does not hold has no prefill there, and the plain group's memory
    /// says why.
    #[test]
    fn no_pipeline_without_a_link() {
        let mut p = plan();
        p.cluster.pools[0].link = None;
        let mut excluded = Vec::new();
        assert!(prefill_options(&p, &mut excluded).is_empty());
        assert!(matches!(excluded[..], [Excluded::Memory { stage: Stage::Prefill, tp: 1, .. }]), "{excluded:?}");
    }

    /// A prompt split by context (docs/cost-model.md §14b), composed by hand: minimising
    /// TTFT, the 4032-token prompt splits over 2 groups (each share of 2016 tokens at
    /// least one 1024-token chunk; 4 groups' 1008 are not), on the degrees whose two
    /// groups fit the 8 GPUs and hold the weights (TP2 and TP4: 4 and 8 chips). Each group
    /// prefills 2016 tokens attending as after 1008 cached ones (half the prompt's
    /// attention), all-reduces them over its chips, and passes its cache around the ring;
    /// it holds its share of the cache and one block in flight.
    #[test]
    fn a_prompt_may_split_by_context_over_groups() {
        let none = plan_with("  chunk = 1024 tok\n");
        assert!(prefill_options(&none, &mut Vec::new()).iter().all(|o| o.cp == 1), "no TTFT read and one group holds the prompt");
        let p = plan_with("  chunk = 1024 tok\n  minimize ttft\n");
        let opts = prefill_options(&p, &mut Vec::new());
        let split: Vec<(u64, u64, u64)> = opts.iter().filter(|o| o.cp > 1).map(|o| (o.tp, o.cp, o.chips())).collect();
        assert_eq!(split, vec![(2, 2, 4), (4, 2, 8)]);
        let (m, pool) = (&p.model, &p.cluster.pools[0]);
        let (chip, link) = (&pool.chip, pool.link.as_ref().unwrap());
        let o = opts.iter().find(|o| (o.tp, o.cp) == (2, 2)).unwrap();
        assert_eq!(cost::context_prefill_share(4032, 2), (2016, 1008));
        let g = graph::build(m, Step::Prefill { tokens: 2016, prefix: 1008 });
        let st = cost::stage_time(&g, &[Stage::Prefill], chip, 2, 2).unwrap();
        let ar = 2.0 * m.layers as f64 * cost::allreduce_on(chip, cost::activation_bytes(m, 2016), 2, link);
        let ring: f64 = (0..m.layers).map(|l| cost::transfer_time(m.kv_bytes_layer(l, 2016.0) / 2.0, link, 1)).sum();
        let want = st.time + ar + ring + 100e-6 + 10e-6;
        assert!((o.time - want).abs() <= 1e-12 * want && o.interval == o.time, "{} against {want}", o.time);
        assert!((o.allreduce - (ar + ring)).abs() <= 1e-12 * o.allreduce);
        // against one TP2 group: each group computes about half the prompt's work
        let one = opts.iter().find(|o| (o.tp, o.pp, o.cp) == (2, 1, 1)).unwrap();
        assert!(o.time < 0.6 * one.time, "{} against {}", o.time, one.time);
        let used = o.memory.iter().map(|u| u.used).sum::<f64>();
        let f = cost::prefill_footprint(m, 2, 2016);
        assert!((used - (f.weights + 2.0 * f.kv)).abs() < 1.0, "{used}");
        assert_eq!(o.max_replicas, 2);
    }

    /// Not minimising TTFT, a split is offered only where replicas of the group of fewer
    /// groups cannot do its work (docs/cost-model.md §14b): with a TTFT bound between the
    /// TP2 group's and the 2-way split's, the split of TP2 is offered, and every split
    /// offered is one whose plain group misses the bound; with a bound every group meets,
    /// none is.
    #[test]
    fn a_split_is_offered_where_the_bound_needs_it() {
        let all = prefill_options(&plan_with("  chunk = 1024 tok\n  minimize ttft\n"), &mut Vec::new());
        let ttft = |o: &PrefillOption| o.ttft(&[(0, 1.0)]).unwrap();
        let find = |tp: u64, cp: u64| all.iter().find(|o| (o.tp, o.pp, o.cp) == (tp, 1, cp)).unwrap();
        let bound = (ttft(find(2, 1)) + ttft(find(2, 2))) / 2.0;
        let p = plan_with(&format!("  chunk = 1024 tok\n  slo {{ ttft <= {:.6} ms }}\n", bound * 1e3));
        let opts = prefill_options(&p, &mut Vec::new());
        let split: Vec<(u64, u64)> = opts.iter().filter(|o| o.cp > 1).map(|o| (o.tp, o.cp)).collect();
        assert!(split.contains(&(2, 2)), "{split:?}");
        for &(tp, _) in &split {
            assert!(ttft(find(tp, 1)) > bound, "TP{tp} alone meets the bound");
        }
        let loose = plan_with("  chunk = 1024 tok\n  slo { ttft <= 100 s }\n");
        assert!(prefill_options(&loose, &mut Vec::new()).iter().all(|o| o.cp == 1));
    }

    /// A `cp` pin on prefill is the only split offered, fitting the prompt or not, and no
    /// plain group or pipeline beside it; `cp = 1` offers none.
    #[test]
    fn a_prefill_cp_pin_is_the_only_split_offered() {
        let p = plan_with("  place prefill on gpu { cp = 4 }\n");
        let opts = prefill_options(&p, &mut Vec::new());
        assert!(
            !opts.is_empty() && opts.iter().all(|o| o.cp == 4 && o.pp == 1),
            "{:?}",
            opts.iter().map(|o| (o.tp, o.cp)).collect::<Vec<_>>()
        );
        let p = plan_with("  chunk = 1024 tok\n  slo { ttft <= 10 s }\n  place prefill on gpu { cp = 1 }\n");
        assert!(prefill_options(&p, &mut Vec::new()).iter().all(|o| o.cp == 1));
    }
}
