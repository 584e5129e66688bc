//! Decode options with attention and FFN on the same chips: tensor parallelism, attention
//! data parallelism, and their aggregated-serving twins.

use super::*;

/// A step with a prompt chunk, by (chunk, prefix).
pub(super) type MixedGraph = ((u64, u64), graph::Graph);
/// One data-parallel group's step with a chunk, by (sequences, chunk, prefix).
pub(super) type GroupGraph = ((u64, u64, u64), graph::Graph);

/// A decode step's graph at batch `batch` and the graphs of its `B/d`-sequence groups.
#[derive(Clone, Copy)]
pub(super) struct StepGraphs<'a> {
    pub(super) batch: u64,
    pub(super) per_seq: u64,
    pub(super) full: &'a graph::Graph,
    pub(super) groups: &'a [(u64, graph::Graph)],
}

/// Attention data parallelism on pool `a`: `d ≥ 2` groups of `ta` chips each run the
/// attention of `⌊B/d⌋` or `⌈B/d⌉` sequences (their own KV cache; each group is priced
/// and sized as the fullest, `b = ⌈B/d⌉`); the FFN of all `B` tokens is split over the
/// `d·ta` chips (tensor parallel for a dense FFN, expert parallel for MoE). Per layer:
/// the attention group's all-reduce over `ta` chips of `b` tokens, and the FFN's
/// all-gather + reduce-scatter over `d·ta` chips of `B` tokens (one all-reduce's
/// traffic). `d ≤ B`; `d·ta` fits the pool and divides the FFN's split dimension.
pub(super) fn data_parallel_options(
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
    let Some(fabric) = cost::Fabric::of(pa) else { return Vec::new() };
    let link = fabric.up;
    let (_, ctx_max) = decode_contexts(plan);
    let mut out = Vec::new();
    let (attn_pins, ffn_pins) = (&plan.placement(Stage::DecodeAttn).pins, &plan.placement(Stage::DecodeFfn).pins);
    for (d, g) in group_graphs.iter().filter(|(d, _)| Pins::allows(attn_pins.dp, *d)) {
        let (d, n) = (*d, *d * ta);
        // the FFN's chips: within a node, or whole nodes of a pool of nodes; an MoE's
        // experts over any number of them (redundant slots where it does not divide them)
        let splits = ffn_splits(m, ffn_pins, n);
        if !dp_count_allowed(pa, d, ta) || !pa.may_group(n) || !m.ffn_spreads_over(n) || splits.is_empty() {
            continue;
        }
        // the groups hold ⌊B/d⌋ or ⌈B/d⌉ sequences; the step waits for the fullest
        let b = batch.div_ceil(d);
        let fp = cost::Footprint {
            weights: m.attn_side_weight_bytes() / ta as f64 + m.ffn_weight_bytes_per_chip(n),
            kv: b as f64 * m.kv_bytes(ctx_max as f64) / m.kv_split(ta) as f64,
            activations: 0.0,
        };
        let (memory, ok) = mem_uses(m, Stage::DecodeAttn, a, &pa.chip, fp);
        // each group's chips beyond the KV heads may split its cache by context (§4f),
        // whether or not their copies of it fit
        let cp = m.context_split(ta);
        // the FFN of all B tokens with whole experts, and its collectives: the same
        // whether the groups split their caches by context or not
        let by_experts = cost::ffn_stage_time(g_full, m, &pa.chip, n, cost::MoeSplit::Experts);
        let tokens = (b * per_seq, batch * per_seq);
        let experts_ar = moe_collective(m, &pa.chip, &fabric, tokens, (n, cost::MoeSplit::Experts));
        if cp > 1 && splits.contains(&cost::MoeSplit::Experts) && Pins::allows(attn_pins.cp, cp) {
            let shard = graph::build(m, shard_step(decode_step(plan, b, per_seq), cp));
            match by_experts {
                Some(ffn) => out.extend(split_option(plan, (a, ta, d), &shard, (ffn, experts_ar, n), excluded)),
                None => excluded.push(Excluded::Precision { pool: a }),
            }
        }
        if !Pins::allows(attn_pins.cp, 1) {
            continue;
        }
        let (Some(attn), Some(by_experts)) = (cost::stage_time(g, &[Stage::DecodeAttn], &pa.chip, ta, m.kv_split(ta)), by_experts) else {
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
        for &experts in &splits {
            // an MoE's experts whole on each chip, or each split by width over all of them
            // (exact shares: no busiest chip; §4h)
            let (ffn, ar_ffn, fp, memory) = match experts {
                cost::MoeSplit::Experts if !ok => {
                    excluded.push(memory_excluded(Stage::DecodeAttn, a, ta, &memory));
                    continue;
                }
                cost::MoeSplit::Experts => (by_experts, experts_ar, fp, memory.clone()),
                cost::MoeSplit::Width => {
                    let Some(w) = cost::ffn_stage_time(g_full, m, &pa.chip, n, experts) else { continue };
                    if !width_split_offered(ffn_pins, g_full, &pa.chip, n) {
                        continue;
                    }
                    let ar = moe_collective(m, &pa.chip, &fabric, tokens, (n, experts));
                    let weights = m.attn_side_weight_bytes() / ta as f64 + cost::decode_ffn_footprint(m, n, experts).weights;
                    let fp = cost::Footprint { weights, ..fp };
                    let (memory, ok) = mem_uses(m, Stage::DecodeAttn, a, &pa.chip, fp);
                    if !ok {
                        excluded.push(memory_excluded(Stage::DecodeAttn, a, ta, &memory));
                        continue;
                    }
                    (w, ar, fp, memory)
                }
            };
            let step = ColocatedStep { attn, ffn, other, collectives: (ar_attn, ar_ffn), sequences: b, experts };
            let plain = colocated_option(plan, a, (ta, d, 1), step, memory);
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
                    let ffn = cost::ffn_stage_time(g_all, m, chip, n, experts)?;
                    let ar_attn = cost::allreduce_on(chip, cost::activation_bytes(m, b + c), ta, link);
                    let ar_ffn = moe_collective(m, chip, &fabric, (b + c, batch + c), (n, experts));
                    let time = attn.time + ffn.time + m.layers as f64 * (ar_attn + ar_ffn) + cost::step_fixed(chip, b);
                    Some((time, attn.from_tables + ffn.from_tables, attn.extrapolated || ffn.extrapolated))
                })
            };
            out.push(plain);
            out.extend(agg);
        }
    }
    out
}

/// The FFN's collectives per layer (the mean over layers) when `d` attention groups of
/// `tokens.0` tokens each feed an FFN over `n` chips (`tokens.1` tokens in all): a dense
/// layer, or an MoE layer whose experts split by width (§4h), all-gathers its input and
/// reduce-scatters its output (one all-reduce's traffic of all tokens); an MoE layer
/// with whole experts per chip dispatches each group's own routed tokens to the experts
/// and combines them back, two all-to-alls of `tokens.0·k·h·a` (DeepEP's layout;
/// docs/cost-model.md §4d), over nodes where the `n` chips span them (§4g).
pub(super) fn moe_collective(
    m: &crate::ir::Model,
    chip: &crate::ir::Chip,
    fabric: &cost::Fabric,
    tokens: (u64, u64),
    (n, experts): (u64, cost::MoeSplit),
) -> f64 {
    let gather = fabric.allreduce(chip, cost::activation_bytes(m, tokens.1), n);
    let Some(moe) = m.moe.filter(|_| experts == cost::MoeSplit::Experts) else { return gather };
    let routed = tokens.0 as f64 * moe.top_k as f64 * m.hidden as f64 * m.activations.bytes();
    let a2a = 2.0 * fabric.alltoall(routed, n);
    let (moe_layers, layers) = (m.moe_layers() as f64, m.layers as f64);
    ((layers - moe_layers) * gather + moe_layers * a2a) / layers
}

/// A decode step with attention and FFN on the same chips: `attn` includes the
/// embedding and LM head (`other`); `collectives` are the attention side's and the
/// FFN's collective per layer.
pub(super) struct ColocatedStep {
    pub(super) attn: cost::StageTime,
    pub(super) ffn: cost::StageTime,
    pub(super) other: f64,
    pub(super) collectives: (f64, f64),
    /// sequences each rank's engine schedules per step
    pub(super) sequences: u64,
    /// how an MoE FFN's experts divide over the chips
    pub(super) experts: cost::MoeSplit,
}

/// The decode option of a colocated step on pool `a` with `(tp, dp, cp)`: `dp` groups of
/// `tp` chips (1 group: plain tensor parallelism), each sequence's KV cache split `cp`
/// ways by context (1: by heads only).
pub(super) fn colocated_option(
    plan: &Plan,
    a: usize,
    (tp, dp, cp): (u64, u64, u64),
    step: ColocatedStep,
    memory: Vec<MemUse>,
) -> DecodeOption {
    let pa = &plan.cluster.pools[a];
    let n = tp * dp;
    let ColocatedStep { attn, ffn, other, collectives: (ar_attn, ar_ffn), sequences, experts } = step;
    let overhead = cost::step_fixed(&pa.chip, sequences);
    let mut chips = vec![0; plan.cluster.pools.len()];
    chips[a] = n;
    let allreduce = plan.model.layers as f64 * (ar_attn + ar_ffn);
    let layout = Layout::Colocated(Colocated { pool: a, tp, dp, cp, attn_collective: ar_attn, ffn_collective: ar_ffn, experts });
    let step = cost::step::colocated(attn, ffn, other, allreduce, overhead);
    DecodeOption::priced(|c| cost::step::spend(&plan.cluster.pools, c), layout, vec![(a, 1.0)], chips, step, memory)
}

/// The colocated option of `d` groups of `ta` chips of pool `a` (1: one tensor-parallel
/// group) whose chips beyond the KV heads split each group's sequences' caches by
/// context, `cp = context_split(ta)` ways, instead of keeping copies of them (KV
/// parallelism, docs/cost-model.md §4f): each group's attention from `shard`, the step of
/// its `⌈B/d⌉` sequences at `1/cp` of the context, with the combine of the partial
/// outputs over its `cp` chips beside its all-reduce; the embedding and LM head on its
/// `ta` chips; the FFN (`ffn`: its stage time, its collective per layer, the `n = d·ta`
/// chips it spans) as the layout's without the split. `None` (the reason in `excluded`)
/// when it does not fit or the chip cannot price it. No aggregated twin: a prompt's
/// chunks through a context-split cache are not modelled.
pub(super) fn split_option(
    plan: &Plan,
    (a, ta, d): (usize, u64, u64),
    shard: &graph::Graph,
    (ffn, ffn_collective, n): (cost::StageTime, f64, u64),
    excluded: &mut Vec<Excluded>,
) -> Option<DecodeOption> {
    let m = &plan.model;
    let pa = &plan.cluster.pools[a];
    let (chip, link) = (&pa.chip, pa.link.as_ref()?);
    let (b, per_seq) = match shard.step {
        Step::Decode { batch, .. } | Step::Mixed { batch, .. } => (batch, 1),
        Step::Verify { batch, per_seq, .. } => (batch, per_seq),
        Step::Prefill { .. } => return None,
    };
    let mut fp = cost::context_parallel_footprint(m, ta, b, decode_contexts(plan).1);
    // the FFN's weights are split over all `n` chips, not the group's `ta`
    fp.weights += m.ffn_weight_bytes() * (1.0 / n as f64 - 1.0 / ta as f64);
    let (memory, ok) = mem_uses(m, Stage::DecodeAttn, a, chip, fp);
    if !ok {
        excluded.push(memory_excluded(Stage::DecodeAttn, a, ta, &memory));
        return None;
    }
    let Some(attn) = cost::context_parallel_attention(shard, m, chip, ta) else {
        excluded.push(Excluded::Precision { pool: a });
        return None;
    };
    let other = head_time(m, shard, chip, ta)?;
    let tokens = b * per_seq;
    let ar_attn = cost::allreduce_on(chip, cost::activation_bytes(m, tokens), ta, link) + cost::kv_combine_on(chip, m, tokens, ta, link);
    let step = ColocatedStep { attn, ffn, other, collectives: (ar_attn, ffn_collective), sequences: b, experts: cost::MoeSplit::Experts };
    Some(colocated_option(plan, a, (ta, d, m.context_split(ta)), step, memory))
}

/// The aggregated-serving twin of a colocated tensor-parallel option: its steps also
/// prefill the arriving prompts in chunks of at most the plan's `chunk` (`mixed`: the graph
/// of a step of `batch` sequences carrying a chunk, per chunk size). `None` when the chip
/// cannot price a chunk step.
pub(super) fn aggregated_option(
    plan: &Plan,
    plain: &DecodeOption,
    batch: u64,
    fp: Footprint,
    mixed: &[((u64, u64), graph::Graph)],
) -> Option<DecodeOption> {
    let m = &plan.model;
    let Layout::Colocated(c) = &plain.layout else { return None };
    let pa = &plan.cluster.pools[c.pool];
    let (chip, tp, experts) = (&pa.chip, c.tp, c.experts);
    let layers = m.layers as f64;
    aggregated_twin(plan, plain, batch, fp, |c, p| {
        let g = &mixed.iter().find(|(key, _)| *key == (c, p))?.1;
        let attn = cost::stage_time(g, &[Stage::DecodeAttn], chip, tp, m.kv_split(tp))?;
        let ffn = cost::ffn_stage_time(g, m, chip, tp, experts)?;
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
pub(super) fn aggregated_twin(
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
    let Layout::Colocated(c) = &plain.layout else { return None };
    let chip = &plan.cluster.pools[c.pool].chip;
    let act = cost::chunk_activation_bytes(&plan.model, plan.chunk_tokens.min(plan.workload.input_tokens), c.tp);
    let (memory, fits) = mem_uses(&plan.model, Stage::DecodeAttn, c.pool, chip, Footprint { activations: act, ..fp });
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
        aggregated: Some(Box::new(Aggregated {
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
        })),
        memory: memory.into(),
        ..plain.clone()
    })
}

/// H100 SXM's datasheet figures, without its op tables (the checks below are of the
/// roofline), as the tests' source text declares it.
#[cfg(test)]
const DATASHEET_H100: &str =
    "chip h100_sxm {\n  source = \"datasheet\"\n  compute {\n    bf16 = 989 TFLOP/s\n    fp8 = 1979 TFLOP/s\n  }\n\
     memory hbm {\n    capacity = 80 GB\n    bandwidth = 3.35 TB/s\n  }\n\
     efficiency {\n    compute = 0.67\n    memory = 0.90\n    source = \"FlashAttention-3; FlashMLA\"\n  }\n}\n";

/// The colocated option of `tp` chips per group, `dp` groups and context split `cp`
/// (its plain twin, not an aggregated one).
#[cfg(test)]
fn layout(opts: &[DecodeOption], (tp, dp, cp): (u64, u64, u64)) -> Option<&DecodeOption> {
    opts.iter().find(|d| matches!(&d.layout, Layout::Colocated(c) if (c.tp, c.dp, c.cp) == (tp, dp, cp)) && d.aggregated.is_none())
}

#[cfg(test)]
mod aggregated_checks {
    use super::*;

    /// Llama-3.1-70B FP8 on 8 H100 over NVLink 4 (datasheet roofline), `input`-token
    /// prompts, 128 output tokens, with `serving`.
    fn plan(input: u64, serving: &str) -> Plan {
        plan_with(input, serving, "")
    }

    /// [`plan`] with `workload` lines added to the workload.
    fn plan_with(input: u64, serving: &str, workload: &str) -> Plan {
        let src = format!(
            "{DATASHEET_H100}use std::links::nvlink4\nuse std::models::llama3_1_70b\n\
             workload w {{\n  input = {input} tok\n  output = 128 tok\n  concurrency = 1 ..= 64\n{workload}}}\n\
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
        let plain = opts.iter().find(|d| matches!(&d.layout, Layout::Colocated(c) if c.tp == 8) && d.aggregated.is_none()).unwrap();
        let agg = opts.iter().find(|d| matches!(&d.layout, Layout::Colocated(c) if c.tp == 8) && d.aggregated.is_some()).unwrap();
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

    /// The share of a prompt's chunk steps that op tables priced is summed as the steps'
    /// times are (the full chunks between the first and the last interpolated): when
    /// every step is half from tables, so is the prompt, for 1, 2, 3 and 6 chunks, and
    /// with prefix reuse; a lookup beyond the tables in any one step marks the prompt
    /// extrapolated, in a prompt whose prefix was cached or in one whose was not (16,384
    /// tokens are two full chunks; after a cached 8,000-token prefix, 8,192 and 192).
    #[test]
    fn a_prompts_table_share_is_summed_as_its_chunk_steps_are() {
        let cases = [(4000, ""), (12_000, ""), (20_000, ""), (45_000, ""), (16_384, "  prefix = 8000 tok\n  prefix_hit = 0.5\n")];
        for (input, prefix) in cases {
            let p = plan_with(input, "auto", prefix);
            let opts = decode_options(&p, 8, &mut vec![]);
            let plain = opts.iter().find(|d| matches!(&d.layout, Layout::Colocated(c) if c.tp == 8) && d.aggregated.is_none()).unwrap();
            let fp = cost::decode_attn_footprint(&p.model, 8, 8, input + 128, true);
            // a step's time grows with its chunk and the prompt cached before it; only the
            // remainder's lookup leaves the tables
            let full = p.chunk_tokens;
            let price = |c: u64, prefix: u64| {
                let time = 1e-3 * (1.0 + c as f64 / 1e3 + prefix as f64 / 1e4);
                Some((time, time / 2.0, c < full))
            };
            let twin = aggregated_twin(&p, plain, 8, fp, price).expect("the chunk fits");
            let a = twin.aggregated.as_ref().unwrap();
            assert!((a.from_tables - a.prompt / 2.0).abs() <= 1e-12 * a.prompt, "{input}: {} of {}", a.from_tables, a.prompt);
            if prefix.is_empty() {
                assert_eq!(a.steps.steps, input.div_ceil(full));
                assert_eq!(a.extrapolated, input % full != 0, "{input}");
            } else {
                assert!(input % full == 0 && (input - 8000) % full != 0 && a.extrapolated, "the cached prompts' remainder");
            }
        }
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
        let find = |agg: bool| {
            opts.iter()
                .find(|d| matches!(&d.layout, Layout::Colocated(c) if (c.tp, c.dp) == (4, 2)) && d.aggregated.is_some() == agg)
                .unwrap()
        };
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
        let src = [
            DATASHEET_H100,
            "use std::links::nvlink4\nuse std::models::llama3_1_70b\n\
                   workload w {\n  input = 4032 tok\n  output = 128 tok\n  concurrency = 64\n}\n\
                   cluster c {\n  pool gpu = h100_sxm x 8 over nvlink4\n}\n\
                   plan p {\n  model = llama3_1_70b { weights = fp8 }\n  cluster = c\n  workload = w\n}\n",
        ]
        .concat();
        let comp = crate::compile("dp.hplan", &src, None, crate::Mode::Check);
        assert!(!comp.has_errors());
        decode_options(&comp.program.plans[0], 64, &mut vec![])
    }

    #[test]
    fn two_groups_of_four() {
        let opts = options();
        let dp = opts.iter().find(|d| matches!(&d.layout, Layout::Colocated(c) if (c.tp, c.dp) == (4, 2))).expect("DP2 x TP4 fits");
        let tp4 = opts.iter().find(|d| matches!(&d.layout, Layout::Colocated(c) if (c.tp, c.dp) == (4, 1))).expect("TP4 fits");
        assert_eq!(dp.chips[..], [8]);
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
mod context_parallel_checks {
    use super::*;

    /// Llama-3.1-70B FP8 (8 KV heads) on 16 H100 over NVLink 4 (datasheet roofline),
    /// 100k-token prompts, 1k output tokens, batch 8; `pins` inside the attention's
    /// `place` block (empty: none).
    fn plan(pins: &str) -> Plan {
        plan_on(16, pins)
    }

    /// [`plan`] on a pool of `chips` H100s.
    fn plan_on(chips: u64, pins: &str) -> Plan {
        let place = if pins.is_empty() { String::new() } else { format!("  place decode.attn on gpu {{ {pins} }}\n") };
        let src = format!(
            "{DATASHEET_H100}use std::links::nvlink4\nuse std::models::llama3_1_70b\n\
             workload w {{\n  input = 100000 tok\n  output = 1000 tok\n  concurrency = 8\n}}\n\
             cluster c {{\n  pool gpu = h100_sxm x {chips} over nvlink4\n}}\n\
             plan p {{\n  model = llama3_1_70b {{ weights = fp8 }}\n  cluster = c\n  workload = w\n{place}  minimize tpot\n}}\n"
        );
        let comp = crate::compile("cp.hplan", &src, None, crate::Mode::Check);
        assert!(!comp.has_errors(), "{:?}", comp.diagnostics);
        comp.program.plans[0].clone()
    }

    fn colocated(opts: &[DecodeOption], tp: u64, cp: u64) -> Option<&DecodeOption> {
        layout(opts, (tp, 1, cp))
    }

    /// 16 chips over 8 KV heads: besides the plain 16-way group (each head group's cache
    /// on 2 chips), the option whose 2 chips per head group split its cache by context.
    /// Its step is composed from the cost phase's parts by hand: attention over half the
    /// context with the projections 8 ways, the FFN as the plain option's, per layer the
    /// combine beside the two all-reduces; each chip keeps half the plain option's cache.
    #[test]
    fn sixteen_chips_split_eight_kv_heads_caches_two_ways_by_context() {
        let p = plan("");
        let opts = decode_options(&p, 8, &mut vec![]);
        let plain = colocated(&opts, 16, 1).expect("the 16-way group fits");
        let split = colocated(&opts, 16, 2).expect("the context split fits");
        assert!(colocated(&opts, 8, 2).is_none(), "8 chips hold one KV head each: nothing to split by context");
        let (m, pool) = (&p.model, &p.cluster.pools[0]);
        let (chip, link) = (&pool.chip, pool.link.as_ref().unwrap());
        let ctx = decode_contexts(&p).0;
        let shard = graph::build(m, Step::Decode { batch: 8, context: ctx / 2.0 });
        let attn = cost::context_parallel_attention(&shard, m, chip, 16).unwrap();
        let whole = graph::build(m, Step::Decode { batch: 8, context: ctx });
        let ffn = cost::stage_time(&whole, &[Stage::DecodeFfn], chip, 16, 8).unwrap();
        let ar = cost::allreduce_on(chip, cost::activation_bytes(m, 8), 16, link);
        let combine = cost::kv_combine_on(chip, m, 8, 16, link);
        assert!(combine > 0.0);
        let want = attn.time + ffn.time + m.layers as f64 * (2.0 * ar + combine) + cost::step_fixed(chip, 8);
        assert!((split.tpot - want).abs() <= 1e-12 * want, "{} vs {want}", split.tpot);
        assert!((split.breakdown.allreduce - m.layers as f64 * (2.0 * ar + combine)).abs() < 1e-15);
        // at 100k tokens a step reads far more cache than weights: the split is faster
        assert!(split.tpot < 0.8 * plain.tpot, "{} vs {}", split.tpot, plain.tpot);
        let kv = |d: &DecodeOption| d.memory.iter().map(|u| u.used).sum::<f64>();
        let cache = 8.0 * m.kv_bytes(101_000.0);
        let extra = m.qkv_weight_bytes() * (1.0 / 8.0 - 1.0 / 16.0);
        assert!((kv(plain) - kv(split) - (cache / 8.0 - cache / 16.0 - extra)).abs() < 1.0, "{} vs {}", kv(plain), kv(split));
        assert_eq!((split.chips[..].to_vec(), split.context_split(), plain.context_split()), (vec![16], 2, 1));
    }

    /// A `cp` pin keeps the options of that split alone: `cp = 2` only the 16-way
    /// group's, `cp = 1` every option but that one.
    #[test]
    fn a_context_split_pin_keeps_its_options() {
        let opts = decode_options(&plan("cp = 2"), 8, &mut vec![]);
        assert!(!opts.is_empty() && opts.iter().all(|d| d.context_split() == 2 && d.attention().1 == 16));
        let opts = decode_options(&plan("cp = 1"), 8, &mut vec![]);
        assert!(colocated(&opts, 16, 1).is_some() && opts.iter().all(|d| d.context_split() == 1));
    }

    /// Two data-parallel groups of 16 on 32 chips split each group's cache 2 ways by
    /// context too (§4d with §4f): each group's 4 sequences' attention at half the
    /// context, its combine beside its all-reduce, the FFN over all 32 chips as without
    /// the split; per chip the FFN's weights a 32nd and the group's cache a 16th.
    #[test]
    fn data_parallel_groups_split_their_caches_by_context() {
        let p = plan_on(32, "");
        let opts = decode_options(&p, 8, &mut vec![]);
        let split = layout(&opts, (16, 2, 2)).expect("two groups of 16 split by context");
        let (m, pool) = (&p.model, &p.cluster.pools[0]);
        let (chip, link) = (&pool.chip, pool.link.as_ref().unwrap());
        let ctx = decode_contexts(&p).0;
        let shard = graph::build(m, Step::Decode { batch: 4, context: ctx / 2.0 });
        let attn = cost::context_parallel_attention(&shard, m, chip, 16).unwrap();
        let whole = graph::build(m, Step::Decode { batch: 8, context: ctx });
        let ffn = cost::stage_time(&whole, &[Stage::DecodeFfn], chip, 32, 1).unwrap();
        let ar = cost::allreduce_on(chip, cost::activation_bytes(m, 4), 16, link) + cost::kv_combine_on(chip, m, 4, 16, link);
        let ar_ffn = cost::allreduce_on(chip, cost::activation_bytes(m, 8), 32, link);
        let want = attn.time + ffn.time + m.layers as f64 * (ar + ar_ffn) + cost::step_fixed(chip, 4);
        assert!((split.tpot - want).abs() <= 1e-12 * want, "{} vs {want}", split.tpot);
        assert_eq!(split.chips[..], [32]);
        let used = split.memory.iter().map(|u| u.used).sum::<f64>();
        let fp = cost::context_parallel_footprint(m, 16, 4, 101_000);
        let expect = fp.weights + m.ffn_weight_bytes() * (1.0 / 32.0 - 1.0 / 16.0) + fp.kv;
        assert!((used - expect).abs() < 1.0 && (fp.kv - 4.0 * m.kv_bytes(101_000.0) / 16.0).abs() < 1.0, "{used} vs {expect}");
        // a `cp = 2` pin beside `dp = 2` keeps it, and only it
        let pinned = decode_options(&plan_on(32, "dp = 2, cp = 2"), 8, &mut vec![]);
        assert!(!pinned.is_empty() && pinned.iter().all(|d| d.context_split() == 2 && d.attention().2 == 2));
    }
}

#[cfg(test)]
mod pools_of_nodes {
    use super::*;

    /// DeepSeek-V3 (673 GB of FP8 weights: more than a node of 8 H100s holds) on `pool`
    /// (datasheet roofline), 2k-token prompts, 500 output tokens.
    fn plan(pool: &str) -> Plan {
        let src = format!(
            "{DATASHEET_H100}use std::links::{{nvlink4, ib_ndr}}\nuse std::models::deepseek_v3\n\
             workload w {{\n  input = 2000 tok\n  output = 500 tok\n  concurrency = 256\n}}\n\
             cluster c {{\n  pool gpu = {pool}\n}}\n\
             plan p {{\n  model = deepseek_v3\n  cluster = c\n  workload = w\n  minimize tpot\n}}\n"
        );
        let comp = crate::compile("nodes.hplan", &src, None, crate::Mode::Check);
        assert!(!comp.has_errors(), "{:?}", comp.diagnostics);
        comp.program.plans[0].clone()
    }

    /// On 4 nodes of 8 H100s over InfiniBand NDR (docs/cost-model.md §4g): no
    /// tensor-parallel group leaves a node, and attention groups feed experts on 1, 2 or
    /// 4 whole nodes, never on part of one beyond the first. 8 groups of 2 over 2 nodes
    /// are composed by hand: as on a 32-GPU NVLink domain but for the experts' dispatch
    /// and combine (and the dense layers' all-reduce), each from `Fabric` over both
    /// links; slower there by exactly that.
    #[test]
    fn expert_groups_over_nodes_talk_over_each_gpus_nic() {
        let (nodes, flat) = (plan("h100_sxm x 8 over nvlink4 x 4 over ib_ndr"), plan("h100_sxm x 32 over nvlink4"));
        let on_nodes = decode_options(&nodes, 256, &mut vec![]);
        assert!(on_nodes.iter().all(|d| d.attention().1 <= 8), "a group of more than a node");
        let spans: std::collections::BTreeSet<u64> = on_nodes.iter().map(|d| d.chips[0]).collect();
        assert!(spans.iter().all(|&n| n <= 8 || n % 8 == 0) && spans.contains(&16) && spans.contains(&32), "{spans:?}");
        let on_flat = decode_options(&flat, 256, &mut vec![]);
        let (o, f) = (layout(&on_nodes, (2, 8, 1)).expect("8 groups of 2"), layout(&on_flat, (2, 8, 1)).expect("8 groups of 2"));
        let (m, pool) = (&nodes.model, &nodes.cluster.pools[0]);
        let (chip, up, out) = (&pool.chip, pool.link.as_ref().unwrap(), &pool.scale_out.as_ref().unwrap().link);
        let moe = m.moe.unwrap();
        // per MoE layer, two all-to-alls of a group's 32 sequences' routed tokens; per
        // dense layer, an all-reduce's traffic of all 256
        let routed = 32.0 * moe.top_k as f64 * m.hidden as f64 * m.activations.bytes();
        let s = m.hidden as f64 * m.activations.bytes() * 256.0;
        let two_level =
            cost::ALLTOALL_FLOOR_S.max(out.latency) + (routed * 7.0 / 16.0 / up.bandwidth).max(routed * 8.0 / 16.0 / out.bandwidth);
        let gather = cost::allreduce_on(chip, s, 8, up) + cost::allreduce_time(s / 8.0, 2, out);
        let (l, ml) = (m.layers as f64, m.moe_layers() as f64);
        let want = ((l - ml) * gather + ml * 2.0 * two_level) / l;
        let Layout::Colocated(c) = &o.layout else { unreachable!() };
        assert!((c.ffn_collective - want).abs() <= 1e-12 * want, "{} vs {want}", c.ffn_collective);
        let Layout::Colocated(cf) = &f.layout else { unreachable!() };
        let flat_want = ((l - ml) * cost::allreduce_on(chip, s, 16, up) + ml * 2.0 * cost::alltoall_time(routed, 16, up)) / l;
        assert!((cf.ffn_collective - flat_want).abs() <= 1e-12 * flat_want);
        assert!(c.ffn_collective > cf.ffn_collective);
        let slower = l * (c.ffn_collective - cf.ffn_collective);
        assert!((o.tpot - f.tpot - slower).abs() <= 1e-9 * o.tpot, "{} - {} vs {slower}", o.tpot, f.tpot);
    }

    /// A prompt's pipeline of 3 stages of 4 GPUs lays its stages out in chip order: the
    /// second stage's chips share the first's node and receive over NVLink, the third's
    /// are on the next node and receive over InfiniBand; no prefill group leaves a node.
    #[test]
    fn a_prefill_pipeline_crosses_to_the_next_node_over_infiniband() {
        let p = plan("h100_sxm x 8 over nvlink4 x 4 over ib_ndr");
        let opts = prefill_options(&p, &mut vec![]);
        assert!(opts.iter().all(|o| o.tp <= 8));
        let o = opts.iter().find(|o| (o.tp, o.pp) == (4, 3)).expect("3 stages of 4 hold DeepSeek-V3");
        let pool = &p.cluster.pools[0];
        let act = cost::activation_bytes(&p.model, 2000);
        let over = |l: &crate::ir::Link| cost::transfer_time(act, l, 4);
        let crossings: Vec<f64> = o.stages.iter().map(|s| s.crossing).collect();
        assert_eq!(crossings, vec![0.0, over(pool.link.as_ref().unwrap()), over(&pool.scale_out.as_ref().unwrap().link)]);
    }
}

#[cfg(test)]
mod redundant_experts {
    use super::*;

    /// DeepSeek-V3 (256 experts, FP8) on a GB200 NVL72 rack, 256 sequences.
    fn plan(pins: &str) -> Plan {
        let src = format!(
            "use std::chips::gb200\nuse std::links::nvlink5\nuse std::models::deepseek_v3\n\
             workload w {{\n  input = 2000 tok\n  output = 500 tok\n  concurrency = 256\n}}\n\
             cluster c {{\n  pool gpu = gb200 x 72 over nvlink5\n}}\n\
             plan p {{\n  model = deepseek_v3\n  cluster = c\n  workload = w\n  place decode.attn on gpu {pins}\n  minimize tpot\n}}\n"
        );
        let comp = crate::compile("wide_ep.hplan", &src, None, crate::Mode::Check);
        assert!(!comp.has_errors(), "{:?}", comp.diagnostics);
        comp.program.plans[0].clone()
    }

    /// Groups that fill the 72-GPU rack (72 of 1, 36 of 2, 18 of 4, 9 of 8) feed experts
    /// over all 72 GPUs: 256 experts in ⌈256/72⌉ = 4 slots each, 32 of the 288 slots
    /// redundant. Each GPU holds 4 experts' weights of every MoE layer (and 1/72 of the
    /// rest of the FFN), and the layer is priced as 4 experts per GPU are: as over
    /// 256/4 = 64 GPUs, its all-to-alls over all 72. Counts that fill nothing (3 groups of
    /// 8, 5 of 4) are not tried.
    #[test]
    fn groups_that_fill_the_rack_spread_the_experts_over_every_gpu() {
        let p = plan("");
        let m = &p.model;
        assert_eq!((m.expert_slots(72), m.redundant_experts(72), m.expert_split(72)), (4, 32, 64));
        let opts = decode_options(&p, 256, &mut vec![]);
        for (ta, d) in [(1, 72), (2, 36), (4, 18), (8, 9)] {
            let o = layout(&opts, (ta, d, 1)).unwrap_or_else(|| panic!("{d} groups of {ta}"));
            assert_eq!(o.chips[0], 72);
            let fp = cost::Footprint {
                weights: m.attn_side_weight_bytes() / ta as f64 + m.ffn_weight_bytes_per_chip(72),
                kv: 256u64.div_ceil(d) as f64 * m.kv_bytes(decode_contexts(&p).1 as f64) / m.kv_split(ta) as f64,
                activations: 0.0,
            };
            let (want, _) = mem_uses(m, Stage::DecodeAttn, 0, &p.cluster.pools[0].chip, fp);
            assert_eq!(o.memory[0].used, want[0].used, "{d} groups of {ta}");
        }
        for (ta, d) in [(8, 3), (4, 5), (1, 24)] {
            assert!(layout(&opts, (ta, d, 1)).is_none(), "{d} groups of {ta} fill nothing");
        }
        // the FFN of 72 is priced as over 64 GPUs: the same as 64 groups of 1 (whose
        // groups also hold ⌈256/64⌉ = ⌈256/72⌉ = 4 sequences) but for the all-to-alls
        let (wide, narrow) = (layout(&opts, (1, 72, 1)).unwrap(), layout(&opts, (1, 64, 1)).unwrap());
        assert_eq!((wide.breakdown.ffn, wide.breakdown.attn), (narrow.breakdown.ffn, narrow.breakdown.attn));
        let (Layout::Colocated(w), Layout::Colocated(n)) = (&wide.layout, &narrow.layout) else { unreachable!() };
        assert_ne!(w.ffn_collective, n.ffn_collective);
        // 4 slots of 256 experts on each of 72 GPUs: more bytes per GPU than 256/72
        let routed = (m.moe_layers() * 256 * m.expert_params()) as f64 * m.weights.bytes();
        let rest = m.ffn_weight_bytes() - routed;
        assert!((m.ffn_weight_bytes_per_chip(72) - (rest / 72.0 + routed * 4.0 / 256.0)).abs() <= 1e-6 * routed);
        assert_eq!(m.ffn_weight_bytes_per_chip(64), m.ffn_weight_bytes() / 64.0);
        // the footprint of an FFN over 72: whole experts the busiest GPU's slots, split by
        // width exactly 1/72 of every expert (§4h)
        assert_eq!(cost::decode_ffn_footprint(m, 72, cost::MoeSplit::Experts).weights, m.ffn_weight_bytes_per_chip(72));
        assert_eq!(cost::decode_ffn_footprint(m, 72, cost::MoeSplit::Width).weights, m.ffn_weight_bytes() / 72.0);
    }

    /// The rack's group counts are seeds of the search over every batch: a layout of 72
    /// groups exists from batch 72 on, so the batches between two seeds keep one set of
    /// layouts (what the bound between them needs).
    #[test]
    fn the_group_counts_that_fill_the_rack_are_seeds() {
        let mut p = plan("");
        p.workload.concurrency = (1, 256);
        assert_eq!(whole_pool_groups(&p), vec![9, 18, 36, 72]);
        let seeds = crate::solve::batch::seeds(&p);
        assert!([9, 18, 36, 72].iter().all(|d| seeds.contains(d)), "{seeds:?}");
    }

    /// A pinned `dp = 72` and `ep = 72` solve to 72 groups of one GPU, the report naming
    /// the slots; `ep` above the experts is an error at the pin (E0410).
    #[test]
    fn pins_reach_the_whole_rack() {
        let p = plan("{ dp = 72 }");
        let best = crate::solve::uncertainty::best_point(&p).unwrap().expect("72 groups of one GPU hold DeepSeek-V3");
        assert_eq!(best.decode().attention(), (0, 1, 72));
        let rows = crate::report::placement(&p, &best);
        let ffn = rows.iter().find(|r| r.stage == "decode.ffn").unwrap();
        assert_eq!((ffn.ep, ffn.expert_slots), (72, Some([4, 32])));
        assert!(crate::report::placement_brief(&rows).contains("4 expert slots per chip, 32 redundant"));
    }
}
