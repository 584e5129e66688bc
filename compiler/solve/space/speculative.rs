//! Speculative decoding: each target (verify) option with each place the draft model
//! can run.

use super::*;

/// Combines each target (verify) option with each place the draft model can run:
/// one round is `k` draft steps, the verify step and two link crossings, and yields
/// `(1 − a^(k+1))/(1 − a)` tokens on average ([`cost::speculative_tpot`]). Every part
/// of the breakdown is per generated token.
pub(super) fn speculative_options(
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
        for tp in tp_degrees(pool.domain(), dm.heads, pool.link.is_some()) {
            let (memory, ok) = mem_uses(dm, Stage::Draft, p, &pool.chip, cost::decode_attn_footprint(dm, tp, batch, ctx_max, true));
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
            let link = if *p == t.head().0 { cl.pools[*p].link.as_ref() } else { cl.link_between(*p, t.head().0).map(|l| &l.link) };
            let Some(link) = link else {
                excluded.push(Excluded::NoDraftLink { attn_pool: t.head().0, draft_pool: *p });
                continue;
            };
            let t_link = cost::transfer_time(id_bytes, link, 1);
            let mut chips = t.chips.to_vec();
            chips[*p] += tp;
            let mut mem = t.memory.to_vec();
            mem.extend(memory.iter().cloned());
            let step = cost::step::speculative(k, spec.acceptance, *t_draft, (t.tpot, &t.breakdown), t_link);
            let layout = Layout::Speculative(Speculative {
                draft: (*p, *tp),
                lookahead: k,
                draft_step: *t_draft,
                link: t_link,
                tokens: e,
                target: Box::new(t.clone()),
            });
            out.push(DecodeOption::priced(|c| cost::step::spend(&cl.pools, c), layout, t.kv.clone(), chips, step, mem));
        }
    }
    out
}
