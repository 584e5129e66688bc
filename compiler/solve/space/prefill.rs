//! Prefill options: tensor-parallel prefill on chips of its own, and aggregated serving
//! (prefill inside the decode steps).

use super::*;

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
                watts: pool.chip.deployed_power().unwrap_or(0.0) * tp as f64,
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
