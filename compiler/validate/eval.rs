//! One row's prediction: the pinned configuration's decode step, prefill and, for
//! aggregated serving, the prefill chunks that share the decode steps
//! (docs/cost-model.md §10).

use super::{Mode, Row};
use crate::cost;
use crate::cost::admission::{closed_loop_wait, Engine};
use crate::cost::aggregated;
use crate::ir::graph::{build, Step};
use crate::ir::{Contents, Plan, Stage};

pub use crate::ir::engine::CHUNK_TOKENS;

/// A row's predicted figures (seconds).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    pub ttft: f64,
    pub tpot: f64,
    /// the decode step alone, without prefill chunks
    pub decode_step: f64,
    /// share of the mean step spent on prefill chunks (aggregated serving)
    pub prefill_share: f64,
    /// share of the decode step priced from measured op tables
    pub from_tables: f64,
    /// some table lookup left the measured range
    pub extrapolated: bool,
    /// sequences one rank's engine runs at once (its KV cache admits no more)
    pub admitted: u64,
    /// mean wait for a slot when the clients outnumber the admitted sequences
    pub queue: f64,
    /// one prompt prefilled alone: its chunk steps beside the decode batch (aggregated),
    /// the prefill worker's pass (disaggregated)
    pub prompt: f64,
}

#[derive(Clone, Copy, Debug, Default)]
struct Part {
    time: f64,
    from_tables: f64,
    extrapolated: bool,
}

impl Part {
    fn add(&mut self, s: cost::StageTime) {
        self.time += s.time;
        self.from_tables += s.from_tables;
        self.extrapolated |= s.extrapolated;
    }
}

/// The pinned configuration of `row` on `plan`'s one pool.
pub fn predict(plan: &Plan, row: &Row) -> Result<Prediction, String> {
    let m = &plan.model;
    let pool = plan.cluster.pools.first().ok_or("the plan has no pool")?;
    let chip = &pool.chip;
    let link = pool.link.as_ref().ok_or("the pool has no link")?;
    let p = row.decode;
    if m.heads % p.tp != 0 {
        return Err(format!("tp {} does not divide the {} attention heads", p.tp, m.heads));
    }
    if row.prefill_tp == 0 || m.heads % row.prefill_tp != 0 {
        return Err(format!("prefill tp {} does not divide the {} attention heads", row.prefill_tp, m.heads));
    }
    let ctx = row.isl as f64 + row.osl as f64 / 2.0;
    let clients = row.batch.div_ceil(p.dp).max(1);
    // The engine's KV cache: what the framework allocates after the weights (per GPU)
    let engine = chip.engine.unwrap_or_else(|| Engine::of(plan.framework.as_deref()));
    let capacity = chip.tier_for(Contents::Kv).ok_or("the chip has no memory for the KV cache")?.capacity;
    let weights = match m.moe {
        None => m.weight_bytes() / p.tp as f64,
        Some(_) => m.attn_side_weight_bytes() / p.tp as f64 + m.ffn_weight_bytes() / p.moe as f64,
    };
    let kv_per_token = m.kv_bytes_per_token() / m.kv_split(p.tp) as f64;
    let slots = engine.admitted(capacity, weights, kv_per_token, row.isl, row.osl);
    if slots == 0 && engine.waits_for_slot {
        return Err(format!(
            "{:.1} GB of weights per GPU leave no KV cache for one sequence under {}",
            weights / 1e9,
            plan.framework.as_deref().unwrap_or("the default framework")
        ));
    }
    let b = if engine.waits_for_slot { clients.min(slots) } else { clients };
    let missing = || format!("`{}` has no compute for {}", chip.name, m.weights.name());
    // One step of every rank: `b` decoding sequences each, plus `chunk` prompt tokens on
    // `ranks` of them (1 but in a burst of an MoE's data-parallel ranks).
    let step_on = |chunk: u64, ranks: u64| -> Result<Part, String> {
        let stepkind = |b: u64, chunks: u64| {
            if chunk > 0 {
                Step::Mixed { batch: b, context: ctx, prefill: chunk * chunks, prefix: 0 }
            } else {
                Step::Decode { batch: b, context: ctx }
            }
        };
        let g = build(m, stepkind(b, 1));
        let mut part = Part::default();
        part.add(cost::stage_time(&g, &[Stage::DecodeAttn], chip, p.tp, m.kv_split(p.tp)).ok_or_else(missing)?);
        let act = |tokens: u64| cost::activation_bytes(m, tokens);
        let l = m.layers as f64;
        let comm = match m.moe {
            None => {
                part.add(cost::stage_time(&g, &[Stage::DecodeFfn], chip, p.tp, m.kv_split(p.tp)).ok_or_else(missing)?);
                2.0 * l * cost::allreduce_on(chip, act(b + chunk), p.tp, link)
            }
            Some(moe) => {
                // every rank's tokens reach the experts, spread over all the worker's GPUs
                let all = build(m, stepkind(b * p.dp, ranks));
                part.add(cost::ffn_stage_time(&all, m, chip, p.moe, p.experts).ok_or_else(missing)?);
                let attn_ar = l * cost::allreduce_on(chip, act(b + chunk), p.tp, link);
                let moe_comm = if p.dp > 1 && p.experts == cost::MoeSplit::Width {
                    // experts split by width: every rank's tokens gathered to every GPU and
                    // the outputs reduce-scattered back, one all-reduce's traffic (§4h)
                    m.moe_layers() as f64 * cost::allreduce_on(chip, act(b * p.dp + chunk * ranks), p.moe, link)
                } else if p.dp > 1 {
                    // dispatch and combine: an all-to-all of each rank's own routed tokens
                    let routed = (b + chunk) as f64 * moe.top_k as f64 * m.hidden as f64 * m.activations.bytes();
                    2.0 * m.moe_layers() as f64 * cost::alltoall_time(routed, p.moe, link)
                } else {
                    m.moe_layers() as f64 * cost::allreduce_on(chip, act(b + chunk), p.moe, link)
                };
                attn_ar + moe_comm
            }
        };
        part.time += comm + cost::step_fixed(chip, b);
        Ok(part)
    };
    let step = |chunk: u64| step_on(chunk, 1);
    let dec = step(0)?;
    // The steps that prefill `tokens` prompt tokens, at most C per step, and whether a
    // lookup extrapolated.
    let prefill_steps = |tokens: u64, ranks: u64| -> Result<(aggregated::ChunkSteps, bool), String> {
        let mut extrapolated = false;
        // A group's prompts are separate requests: no chunk attends to another's tokens.
        let steps = aggregated::chunk_steps(tokens, CHUNK_TOKENS, |c, _| {
            let s = step_on(c, ranks)?;
            extrapolated |= s.extrapolated;
            Ok::<f64, String>(s.time)
        })?;
        Ok((steps, extrapolated))
    };
    match row.mode {
        Mode::Disagg => {
            let g = build(m, Step::Prefill { tokens: row.isl, prefix: 0 });
            let st = cost::stage_time(&g, &[Stage::Prefill], chip, row.prefill_tp, m.kv_split(row.prefill_tp)).ok_or_else(missing)?;
            let ar = 2.0 * m.layers as f64 * cost::allreduce_on(chip, cost::activation_bytes(m, row.isl), row.prefill_tp, link);
            let prompt = st.time + ar + cost::step_fixed(chip, 1);
            Ok(Prediction {
                ttft: prompt + engine.first_token(m.layers),
                prompt,
                tpot: dec.time,
                decode_step: dec.time,
                prefill_share: 0.0,
                from_tables: dec.from_tables / dec.time,
                extrapolated: dec.extrapolated || st.extrapolated,
                admitted: b,
                // The prefill worker emits the first token; a decode worker that cannot
                // admit every request delays later tokens, not this one.
                queue: 0.0,
            })
        }
        Mode::Agg => {
            // What one prompt's chunk steps add over plain decode steps.
            let (alone, x1) = prefill_steps(row.isl, 1)?;
            let extra = alone.total() - alone.steps as f64 * dec.time;
            // Prompts arrive together: the clients of a fixed-length benchmark start at once
            // and, all requests being alike, return together, so a prompt's steps also
            // carry the prompts of the `g` requests that arrive with it. An engine that
            // prefills every waiting prompt first keeps the whole batch in step (g = b);
            // one that admits a chunk budget per step beside decode keeps them only partly
            // together (g = β·b^γ, fitted: `Engine::burst`). The group's C·g tokens go
            // S per step; member j is done with step ⌈(j+1)·C/S⌉; `own` is the mean over
            // the group (one prompt's steps if g = 1).
            //
            // An MoE's data-parallel ranks step together through the experts, and its
            // clients, spread over the ranks, arrive together whatever rank serves them:
            // the worker's `G = burst(dp·b)` prompts go `⌈G/dp⌉` to each of `min(G, dp)`
            // ranks, which prefill side by side, their chunks' tokens all through the
            // experts in each step. A dense model's ranks are independent replicas.
            let (g, ranks) = match m.moe {
                Some(_) if p.dp > 1 => {
                    let all = engine.burst(b * p.dp);
                    (all.div_ceil(p.dp), all.min(p.dp))
                }
                _ => (engine.burst(b), 1),
            };
            let (finish, xg) = prefill_steps(g * row.isl, ranks)?;
            let own = (0..g).map(|j| finish.finish(((j + 1) * row.isl).div_ceil(CHUNK_TOKENS) - 1)).sum::<f64>() / g as f64;
            let extrapolated = dec.extrapolated || x1 || xg;
            // Data-parallel attention ranks step together through the experts, so a
            // chunk on any rank holds every rank's step: the arrivals of all `dp·b`
            // sequences count (as in the solver's twins, docs/cost-model.md §10); a dense
            // model's ranks are independent replicas.
            let synced = if m.moe.is_some() { b * p.dp } else { b };
            // The request's first token also takes the engine's latency outside the steps
            // (`Engine::first_token`): part of its time from arrival to its first token,
            // and so of its time in a slot.
            let own = own + engine.first_token(m.layers);
            let (t, ttft) = aggregated::steady_state(dec.time, extra, own, synced, row.osl);
            let queue = closed_loop_wait(clients, b, ttft + row.osl as f64 * t);
            Ok(Prediction {
                ttft: ttft + queue,
                tpot: t,
                decode_step: dec.time,
                prefill_share: (t - dec.time) / t,
                from_tables: dec.from_tables / dec.time,
                extrapolated,
                admitted: b,
                queue,
                prompt: alone.total(),
            })
        }
    }
}
