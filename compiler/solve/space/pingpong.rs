//! Decode options with the FFN on another pool: attention and FFN ping-pong microbatches
//! between the pools, the FFN's layers over one or more groups of chips.

use super::*;

/// The FFN of `plan` on pool `f` in groups of `tf` chips: the fewest groups `g` (at
/// most one per layer, `g·tf` within the pool) whose contiguous, as even as possible
/// layer ranges (`⌈L/g⌉` layers in the first `L mod g`) hold their FFN weights, and the
/// busiest group's memory per chip. Weights alone, so the same at every batch; more
/// groups than hold the weights are not tried (they only shorten the FFN side's share of
/// a step, docs/cost-model.md §4). `experts`: an MoE's experts whole on each chip or
/// each split by width (§4h). `None` when no count of groups fits.
pub(super) fn ffn_groups(plan: &Plan, f: usize, tf: u64, experts: cost::MoeSplit) -> Option<(u64, Vec<MemUse>)> {
    let m = &plan.model;
    let pool = &plan.cluster.pools[f];
    let l = m.layers;
    // prefix sums of the layers' FFN parameters
    let mut before = Vec::with_capacity(l as usize + 1);
    before.push(0u64);
    for k in 0..l {
        before.push(before[k as usize] + m.ffn_params_of(k));
    }
    let whole = cost::decode_ffn_footprint(m, tf, experts);
    let per_param = if before[l as usize] > 0 { whole.weights / before[l as usize] as f64 } else { 0.0 };
    for g in 1..=l.min(pool.count / tf.max(1)) {
        let busiest = cost::even_ranges(l, g).map(|(lo, hi)| before[hi as usize] - before[lo as usize]).max().unwrap_or(0);
        let (memory, ok) = mem_uses(m, Stage::DecodeFfn, f, &pool.chip, Footprint { weights: busiest as f64 * per_param, ..whole });
        if ok {
            return Some((g, memory));
        }
    }
    None
}

/// The degrees of an FFN group on pool `pf`: those that divide the FFN's split
/// dimension (its intermediate size, or its experts) up to a scale-up domain, and for
/// an MoE also the powers of two and the whole domain up to the experts, whose chips
/// hold `⌈E/t⌉` expert slots each (redundant experts: docs/cost-model.md §4d; Kimi K2's
/// 384 experts on 256 LP30s, 2 slots each), ascending.
pub(super) fn ffn_degrees(m: &crate::ir::Model, pf: &crate::ir::Pool) -> Vec<u64> {
    let mut out = tp_degrees(pf.domain(), m.ffn_split_dim(), pf.link.is_some());
    if let (Some(moe), Some(_)) = (m.moe, &pf.link) {
        let most = pf.domain().min(moe.experts);
        out.extend(powers_of_two(1, most));
        if pf.domain() <= moe.experts {
            out.push(pf.domain());
        }
        out.sort_unstable();
        out.dedup();
    }
    out
}

/// An FFN's layer groups on one pool and degree: how many, and the busiest's memory.
pub(super) type FfnGroups = (u64, Vec<MemUse>);

/// At one microbatch count, an FFN's time on one pool and degree and its all-reduce over
/// a microbatch's tokens.
type FfnTime = (Option<cost::StageTime>, f64);

/// An FFN side: its pool, degree and expert split.
pub(super) type FfnKey = (usize, u64, cost::MoeSplit);

/// What ping-pong options at one batch share whatever attention pool and degree the FFN
/// pairs with: an FFN pool's layer groups (weights alone: [`ffn_groups`], worked out once
/// per `shared`, the plan's [`SpaceCache`]) and its time and all-reduce per microbatch
/// count, by (pool, degree); a data-parallel attention group's microbatch's step graph
/// by its sequences.
pub(super) struct PingPongCache<'c> {
    shared: &'c SpaceCache,
    ffn_times: HashMap<FfnKey, Vec<FfnTime>>,
    cells: HashMap<u64, graph::Graph>,
}

impl<'c> PingPongCache<'c> {
    pub(super) fn new(shared: &'c SpaceCache) -> PingPongCache<'c> {
        PingPongCache { shared, ffn_times: HashMap::default(), cells: HashMap::default() }
    }

    /// The layer groups of the FFN on pool `f` in groups of `tf` chips ([`ffn_groups`]).
    fn groups(&self, plan: &Plan, (f, tf, experts): FfnKey) -> Option<FfnGroups> {
        self.shared.ffn_groups.get_or((f, tf, experts), || ffn_groups(plan, f, tf, experts))
    }
}

/// A decode step's graph at batch `batch` (`per_seq` tokens per sequence) and one
/// microbatch's of at most ⌈B/m⌉ sequences, by microbatch count `m` (1: the step's own).
pub(super) struct MicrobatchGraphs<'a> {
    pub(super) batch: u64,
    pub(super) per_seq: u64,
    pub(super) full: &'a graph::Graph,
    pub(super) microbatches: &'a [(u64, &'a graph::Graph)],
}

/// Ping-pong options of attention on pool `a` with the FFN on every other pool
/// `decode.ffn` may use, in groups of every degree the pool allows: `m` microbatches,
/// attention as `d` data-parallel groups of `ta` chips (1: one group; `d` a power of two
/// up to the pool and the batch), the step composed by [`cost::step::pingpong`]
/// (docs/cost-model.md §4, §4d). The `B` sequences fill a `d × m` grid of (group,
/// microbatch) cells as evenly as the integers allow (a matrix rounding keeps every row,
/// column and cell within one of its share), so a group holds at most ⌈B/d⌉ sequences
/// (its KV cache), a microbatch ⌈B/m⌉ (the FFN's tokens) and a group's microbatch
/// ⌈B/(d·m)⌉ (its attention): each is priced as the fullest. `ffn_times` keeps an FFN
/// pool's layer groups and time per (pool, degree) and a group's microbatch's step graph
/// ([`PingPongCache`]). With `only`, the options of no other class, and no step of an
/// attention layout none of whose classes it keeps ([`Only`]). The options go to `out`.
pub(super) fn pingpong_options(
    plan: &Plan,
    (a, ta): (usize, u64),
    graphs: &MicrobatchGraphs,
    cache: &mut PingPongCache,
    only: Option<&Only>,
    excluded: &mut Vec<Excluded>,
    out: &mut Vec<DecodeOption>,
) {
    let MicrobatchGraphs { batch, per_seq, full: g, microbatches: mb_all } = *graphs;
    let (m, cl) = (&plan.model, &plan.cluster);
    let pa = &cl.pools[a];
    let layers = m.layers as f64;
    let ctx_max = decode_contexts(plan).1;
    let ffn_pools = &plan.placement(Stage::DecodeFfn).pools;
    let attn_pins = &plan.placement(Stage::DecodeAttn).pins;
    let ffn_pins = &plan.placement(Stage::DecodeFfn).pins;
    if !ffn_pools.iter().any(|&f| f != a) {
        return;
    }
    // the FFN sides: (pool, the link to it, chips of a layer group, groups, memory), and
    // why the others were left out
    let mut ffn_sides = Vec::new();
    let mut ffn_excluded = Vec::new();
    for &f in ffn_pools.iter().filter(|&&f| f != a) {
        let Some(cross) = cl.link_between(a, f) else {
            ffn_excluded.push(Excluded::NoLink { attn_pool: a, ffn_pool: f });
            continue;
        };
        let pf = &cl.pools[f];
        // an MoE's experts whole on each chip of a group, or each split by width where
        // measured or pinned (§4h)
        'degrees: for tf in ffn_degrees(m, pf) {
            for experts in ffn_splits(m, ffn_pins, tf) {
                if experts == cost::MoeSplit::Width && !width_split_offered(ffn_pins, g, &pf.chip, tf) {
                    continue;
                }
                let key = (f, tf, experts);
                let Some((groups, ffn_mem)) = cache.groups(plan, key) else {
                    let (ffn_mem, _) = mem_uses(m, Stage::DecodeFfn, f, &pf.chip, cost::decode_ffn_footprint(m, tf, experts));
                    ffn_excluded.push(memory_excluded(Stage::DecodeFfn, f, tf, &ffn_mem));
                    continue;
                };
                if cost::ffn_stage_time(g, m, &pf.chip, tf, experts).is_none() {
                    // the chip has no compute for the FFN's precision, at any degree
                    ffn_excluded.push(Excluded::Precision { pool: f });
                    break 'degrees;
                }
                ffn_sides.push((f, &cross.link, tf, experts, groups, ffn_mem));
            }
        }
    }
    // the attention groups that hold their sequences' KV cache: `d` groups of the fullest's
    // ⌈B/d⌉ sequences each
    let tried: Vec<u64> = std::iter::successors(Some(1u64), |d| Some(d * 2))
        .take_while(|&d| d == 1 || (d <= batch && d * ta <= pa.count))
        .filter(|&d| Pins::allows(attn_pins.dp, d))
        .collect();
    let dps: Vec<(u64, Vec<MemUse>)> = tried
        .iter()
        .filter_map(|&d| {
            let fp = cost::decode_attn_footprint(m, ta, batch.div_ceil(d), ctx_max, false);
            let (memory, ok) = mem_uses(m, Stage::DecodeAttn, a, &pa.chip, fp);
            ok.then_some((d, memory))
        })
        .collect();
    if dps.is_empty() && !tried.is_empty() {
        // the fewest groups tried (one, unless pinned) that cannot hold the batch are the
        // reason shown
        let seqs = batch.div_ceil(tried[0]);
        let (memory, _) = mem_uses(m, Stage::DecodeAttn, a, &pa.chip, cost::decode_attn_footprint(m, ta, seqs, ctx_max, false));
        excluded.push(memory_excluded(Stage::DecodeAttn, a, ta, &memory));
        return;
    }
    excluded.extend(ffn_excluded);
    // the KV cache on the attention pool, shared by every option
    let kv: std::sync::Arc<[(usize, f64)]> = vec![(a, 1.0)].into();
    // at most one option per attention layout, FFN side and microbatch count: reserved
    // once rather than grown (each option is a few hundred bytes)
    out.reserve(dps.len() * ffn_sides.len() * mb_all.len());
    for (d, attn_mem) in dps {
        // the FFN sides of the classes built with these attention groups
        let kept = |&&(f, _, tf, experts, groups, _): &&(usize, _, u64, cost::MoeSplit, u64, _)| {
            only.is_none_or(|o| o.allows(pingpong_class((a, ta), d, (f, tf), groups, experts)))
        };
        let sides: Vec<_> = ffn_sides.iter().filter(kept).collect();
        if sides.is_empty() {
            continue;
        }
        let seqs = batch.div_ceil(d);
        // the attention side's time and its embedding and LM head per microbatch count,
        // at a group's microbatch of ⌈B/(d·m)⌉ sequences: the same whatever FFN pool and
        // degree it pairs with
        let attn_times: Vec<Option<(cost::StageTime, f64)>> = mb_all
            .iter()
            .map(|&(mb, gm)| {
                let gm = match d {
                    1 => gm,
                    _ => {
                        let s = batch.div_ceil(d * mb);
                        cache.cells.entry(s).or_insert_with(|| graph::build(m, decode_step(plan, s, per_seq)))
                    }
                };
                Some((cost::stage_time(gm, &[Stage::DecodeAttn], &pa.chip, ta, m.kv_split(ta))?, head_time(m, gm, &pa.chip, ta)?))
            })
            .collect();
        // the attention side's all-reduce over a group's microbatch, per microbatch count
        let attn_allreduce: Vec<f64> = mb_all
            .iter()
            .map(|&(mb, _)| {
                let cell = batch.div_ceil(d * mb) * per_seq;
                pa.link.as_ref().map(|l| cost::allreduce_on(&pa.chip, cost::activation_bytes(m, cell), ta, l)).unwrap_or(0.0)
            })
            .collect();
        for (f, link, tf, experts, groups, ffn_mem) in sides {
            let (f, tf, experts, groups) = (*f, *tf, *experts, *groups);
            let pf = &cl.pools[f];
            let mut chips = vec![0; cl.pools.len()];
            chips[a] = d * ta;
            chips[f] = tf * groups;
            let chips: std::sync::Arc<[u64]> = chips.into();
            // the same chips, so the same dollars and watts, at every microbatch count
            let spend = cost::step::spend(&cl.pools, &chips);
            let memory: std::sync::Arc<[MemUse]> = attn_mem.iter().chain(ffn_mem).cloned().collect();
            let ffn_ms = cache.ffn_times.entry((f, tf, experts)).or_insert_with(|| {
                mb_all
                    .iter()
                    .map(|&(mb, gm)| {
                        // a microbatch's tokens
                        let b = batch.div_ceil(mb) * per_seq;
                        let ar = pf.link.as_ref().map(|l| cost::allreduce_on(&pf.chip, cost::activation_bytes(m, b), tf, l)).unwrap_or(0.0);
                        (cost::ffn_stage_time(gm, m, &pf.chip, tf, experts), ar)
                    })
                    .collect()
            });
            for (i, &(mb, _)) in mb_all.iter().enumerate() {
                // tokens of a microbatch (the FFN's)
                let b = batch.div_ceil(mb) * per_seq;
                let (Some((attn_m, other_m)), (Some(ffn_m), ar_f)) = (attn_times[i], ffn_ms[i]) else {
                    continue;
                };
                let ar_a = attn_allreduce[i];
                // every group sends its own tokens: the microbatch's, striped over every
                // attention chip that sends and every FFN chip that receives
                let cross_b = cost::crossings_time(m, b, link, (d * ta).min(tf));
                // the FFN's chips pay their per-layer fixed cost on every layer of
                // every microbatch they run (docs/cost-model.md §4c)
                let ffn_time = ffn_m.time + layers * pf.chip.layer_overhead;
                // each attention group's engine schedules its own sequences
                let overhead = cost::step_fixed(&pa.chip, seqs) + pf.chip.step_overhead;
                let parts = cost::step::PingPongParts {
                    attn: attn_m,
                    other: other_m,
                    ffn: ffn_m,
                    ffn_time,
                    allreduce: (ar_a, ar_f),
                    crossings: cross_b,
                    overhead,
                };
                let ((t_a, t_e, t_c), tpot, breakdown) = cost::step::pingpong(parts, mb, m.layers, groups);
                let layout = Layout::PingPong(PingPong {
                    attn: (a, ta),
                    dp: d,
                    ffn: (f, tf),
                    groups,
                    microbatches: mb,
                    t_a,
                    t_e,
                    t_c,
                    other: other_m,
                    experts,
                });
                out.push(DecodeOption::priced(|_| spend, layout, kv.clone(), chips.clone(), (tpot, breakdown), memory.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An FFN's layer groups worked out once for all of a plan's batches (`SpaceCache`)
    /// give every batch the ping-pong options it builds alone, option for option, in any
    /// order of batches; the cache holds one entry per FFN pool, degree and split.
    #[test]
    fn ffn_groups_worked_out_once_give_each_batch_its_own_options() {
        let text = "use std::chips::{rubin, lp30}\nuse std::links::{nvlink6, groq3_c2c, spectrum_x}\nuse std::models::llama3_1_70b\n\
                    workload w {\n  input = 8k tok\n  output = 1k tok\n  concurrency = 1 ..= 512\n}\n\
                    cluster c {\n  pool gpu = rubin x 72 over nvlink6\n  pool lpu = lp30 x 256 over groq3_c2c\n  link gpu <-> lpu over spectrum_x\n}\n\
                    plan p {\n  model = llama3_1_70b { weights = fp8 }\n  cluster = c\n  workload = w\n  place decode.attn on gpu\n  place decode.ffn on lpu\n}\n";
        let comp = crate::compile("groups.hplan", text, None, crate::Mode::Check);
        assert!(!comp.has_errors(), "{:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
        let plan = &comp.program.plans[0];
        let cache = SpaceCache::default();
        let mut pingpong = 0;
        for b in [64, 1, 7, 8, 9, 512, 2, 64, 33] {
            let cached = decode_options_in(plan, b, Kinds::All, &mut Vec::new(), Vec::new(), Some(&cache));
            let alone = decode_options(plan, b, &mut Vec::new());
            assert_eq!(cached, alone, "batch {b}");
            pingpong += alone.iter().filter(|d| matches!(d.layout, Layout::PingPong(_))).count();
        }
        assert!(pingpong >= 100, "{pingpong}");
        let lpu = &plan.cluster.pools[1];
        let sides = ffn_degrees(&plan.model, lpu).len();
        let held = cache.ffn_groups.held();
        assert!(held > 0 && held <= 2 * sides, "{held} of {sides} degrees");
    }
}
