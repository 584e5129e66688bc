//! Every objective of the language solved end to end (issue 16, item 2), on a plan
//! whose optimum follows by hand. Three pools of two chips each: `slow` ($1/h, 1000 W),
//! `frugal` (as fast as `slow`, $5/h, 200 W) and `fast`, the same chip four times over
//! in compute and bandwidth ($10/h, 600 W). No fixed costs and tensor parallelism of 1,
//! so every roofline time on `fast` is exactly a quarter of the others': decode there
//! has 4× the throughput (one sequence), prefill takes a quarter of the time. Prefill
//! has chips of its own (`serving = disaggregated`), so every placement uses two chips.
//! The pools and the links between them are NVLink 4: a KV transfer takes the same
//! time wherever it goes. Placements as (decode, prefill), `t` the throughput of a
//! decode on `slow`, ties broken by cost per token:
//!
//! | objective | optimum | why |
//! |---|---|---|
//! | $ per token, tokens per $ | (slow, slow) | 2/t against 11/4t for (fast, slow), 6/t for (frugal, slow), more elsewhere |
//! | TPOT | (fast, slow) | a quarter of the others'; the cheapest prefill |
//! | TTFT | (fast, fast) | a quarter of the prefill; then 20/4t against 11/t (slow decode) and 15/t (frugal) |
//! | chips | (slow, slow) | two everywhere; the cheapest |
//! | power | (frugal, frugal) | 400 W |
//! | tokens per chip | (fast, slow) | 4t/2 against t/2; the cheapest prefill |
//! | tokens per decode chip | (fast, slow) | 4t/1 against t/1, prefill's chip not counted; the cheapest prefill |
//! | tokens per MW | (fast, frugal) | 4t/800 W = t/200 against t/300 (fast, fast) and t/400 (frugal, frugal) |

fn plan(objective: &str) -> String {
    let chip = |name: &str, scale: u64, price: u64, watts: u64| {
        format!(
            "chip {name} {{\n  source = \"test\"\n  compute {{ bf16 = {} TFLOP/s }}\n  memory hbm {{\n    capacity  = 80 GB\n    bandwidth = {} TB/s\n  }}\n  \
             power = {watts} W\n  price = {price} $/h\n  efficiency {{\n    compute = 0.5\n    memory  = 0.8\n    source  = \"test\"\n  }}\n}}\n",
            250 * scale,
            scale
        )
    };
    format!(
        "use std::links::nvlink4\nuse std::models::llama3_2_1b\n{}{}{}\
         workload w {{\n  input = 1k tok\n  output = 256 tok\n  concurrency = 1\n}}\n\
         cluster c {{\n  pool slow = a x 2 over nvlink4\n  pool fast = b x 2 over nvlink4\n  pool frugal = e x 2 over nvlink4\n  \
         link slow <-> fast over nvlink4\n  link slow <-> frugal over nvlink4\n  link fast <-> frugal over nvlink4\n}}\n\
         plan p {{\n  model = llama3_2_1b\n  cluster = c\n  workload = w\n  serving = disaggregated\n  \
         place prefill on any [slow, fast, frugal] {{ tp = 1 }}\n  place decode.attn on any [slow, fast, frugal] {{ tp = 1 }}\n  \
         place decode.ffn on any [slow, fast, frugal]\n  \
         {objective}\n}}\n",
        chip("a", 1, 1, 1000),
        chip("b", 4, 10, 600),
        chip("e", 1, 5, 200)
    )
}

/// The chosen (decode pool, prefill pool) and the report's metrics.
fn solve(objective: &str) -> ((String, String), hplanc::report::Metrics) {
    let text = plan(objective);
    let comp = hplanc::compile("objectives.hplan", &text, None, hplanc::Mode::Build);
    let rendered = hplanc::diagnostics::render::render_all(&comp.diagnostics, &comp.sources, false);
    assert!(!comp.has_errors(), "{objective}: {rendered}");
    let r = comp.plan_report(0);
    let pool = |stage: &str| r.placement.iter().find(|p| p.stage == stage).map(|p| p.pool.clone()).unwrap_or_default();
    let ffn = pool("decode.ffn");
    let decode = pool("decode.attn");
    assert!(ffn.is_empty() || ffn == decode, "{objective}: the FFN stays with attention ({ffn} vs {decode})");
    ((decode, pool("prefill")), r.metrics.expect("solved"))
}

#[test]
fn every_objective_reaches_its_hand_derived_optimum() {
    let s = |a: &str, b: &str| (a.to_string(), b.to_string());
    let cases = [
        ("minimize cost_per_mtok", s("slow", "slow")),
        ("maximize throughput_per_dollar", s("slow", "slow")),
        ("minimize tpot", s("fast", "slow")),
        ("minimize ttft", s("fast", "fast")),
        ("minimize chips", s("slow", "slow")),
        ("minimize power", s("frugal", "frugal")),
        ("maximize throughput_per_chip", s("fast", "slow")),
        ("maximize decode_throughput_per_chip", s("fast", "slow")),
        ("maximize tokens_per_mw", s("fast", "frugal")),
    ];
    let mut seen = Vec::new();
    for (objective, want) in cases {
        let (got, m) = solve(objective);
        assert_eq!(got, want, "{objective}");
        assert_eq!(m.chips, 2, "{objective}");
        seen.push((want, m));
    }
    // the hand arithmetic behind the table, on the reported figures
    let at = |d: &str, p: &str| seen.iter().find(|(w, _)| w.0 == d && w.1 == p).map(|(_, m)| m.clone()).unwrap();
    let (ss, fs, ff, cc, fc) = (at("slow", "slow"), at("fast", "slow"), at("fast", "fast"), at("frugal", "frugal"), at("fast", "frugal"));
    let near = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs();
    assert!(near(fs.throughput_tokens_per_s, 4.0 * ss.throughput_tokens_per_s), "{fs:?} {ss:?}");
    assert!(near(cc.throughput_tokens_per_s, ss.throughput_tokens_per_s) && near(fc.throughput_tokens_per_s, fs.throughput_tokens_per_s));
    assert!(near(fs.tpot_s, ss.tpot_s / 4.0));
    assert!(near(ff.throughput_per_chip, fs.throughput_per_chip) && near(fs.throughput_per_chip, 4.0 * ss.throughput_per_chip));
    // the decode side is one chip of the two: twice the tokens per chip, four times slow's
    assert!(seen.iter().all(|(_, m)| m.decode_chips == 1 && near(m.decode_throughput_per_chip, 2.0 * m.throughput_per_chip)));
    assert!(near(fs.decode_throughput_per_chip, 4.0 * ss.decode_throughput_per_chip));
    let usd = [(&ss, 2.0), (&fs, 11.0), (&ff, 20.0), (&cc, 10.0), (&fc, 15.0)];
    assert!(usd.iter().all(|(m, u)| near(m.cost_per_hour_usd.unwrap(), *u)), "{usd:?}");
    let watts = [(&ss, 2000.0), (&fs, 1600.0), (&ff, 1200.0), (&cc, 400.0), (&fc, 800.0)];
    assert!(watts.iter().all(|(m, w)| near(m.power_w.unwrap(), *w)), "{watts:?}");
    // tokens per MW: 4t/800 W against t/400 W, twice as many
    assert!(near(fc.tokens_per_s_per_mw.unwrap(), 2.0 * cc.tokens_per_s_per_mw.unwrap()));
    // a fast prefill is the only way to a lower TTFT
    assert!(ff.ttft_s < fs.ttft_s && near(fs.ttft_s, ss.ttft_s), "{ff:?} {fs:?} {ss:?}");
}

/// Ties across batches follow the same rule as within one: with no prices, chips per
/// token. Two chips serve every batch from 1 to 64 (Llama-3.2-1B), so `minimize chips`
/// ties at every batch; the most throughput per chip wins, the largest batch, not the
/// first batch tried (which a cost-per-token tie-break, zero everywhere, picked).
#[test]
fn ties_across_batches_without_prices_go_to_throughput_per_chip() {
    let text = plan("minimize chips")
        .replace("  price = 1 $/h\n", "")
        .replace("  price = 10 $/h\n", "")
        .replace("  price = 5 $/h\n", "")
        .replace("concurrency = 1\n", "concurrency = 1 ..= 64\n");
    let comp = hplanc::compile("objectives.hplan", &text, None, hplanc::Mode::Build);
    let rendered = hplanc::diagnostics::render::render_all(&comp.diagnostics, &comp.sources, false);
    assert!(!comp.has_errors(), "{rendered}");
    let solved = comp.solved[0].as_ref().expect("solved");
    assert!(solved.per_batch.len() > 3 && solved.per_batch.iter().all(|p| p.instance.chips(p.choice) == 2));
    let best = &solved.best;
    assert_eq!(best.instance.batch, 64, "the largest batch carries the most tokens per chip");
    let r = comp.plan_report(0);
    assert_eq!(r.placement.iter().find(|p| p.stage == "decode.attn").unwrap().pool, "fast", "{:?}", r.placement);
}

/// Power as deployed (`system_power`) replaces a chip's own power wherever power is
/// counted: give `fast` 2.4 kW as deployed (four times its 600 W) and tokens per MW
/// becomes 4t/2,600 W = t/650 for (fast, frugal), below (frugal, frugal)'s t/400, which
/// wins; the reported power of (fast, slow) is 2,400 + 1,000 W; `minimize power` keeps
/// (frugal, frugal) at 400 W. A chip with only `system_power` satisfies a plan that
/// needs power (E0409 otherwise).
#[test]
fn power_as_deployed_is_what_power_objectives_count() {
    let with = |objective: &str| plan(objective).replace("  power = 600 W\n", "  power = 600 W\n  system_power = 2.4 kW\n");
    let solve = |text: &str| {
        let comp = hplanc::compile("objectives.hplan", text, None, hplanc::Mode::Build);
        let rendered = hplanc::diagnostics::render::render_all(&comp.diagnostics, &comp.sources, false);
        assert!(!comp.has_errors(), "{rendered}");
        let r = comp.plan_report(0);
        let pool = |stage: &str| r.placement.iter().find(|p| p.stage == stage).unwrap().pool.clone();
        ((pool("decode.attn"), pool("prefill")), r.metrics.expect("solved"))
    };
    let near = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs();
    let (at, mw) = solve(&with("maximize tokens_per_mw"));
    assert_eq!(at, ("frugal".to_string(), "frugal".to_string()));
    assert!(near(mw.power_w.unwrap(), 400.0));
    let (at, fs) = solve(&with("maximize throughput_per_chip"));
    assert_eq!(at, ("fast".to_string(), "slow".to_string()));
    assert!(near(fs.power_w.unwrap(), 3400.0), "{fs:?}");
    assert!(near(fs.tokens_per_s_per_mw.unwrap(), fs.throughput_tokens_per_s / 3400e-6));
    let (at, _) = solve(&with("minimize power"));
    assert_eq!(at, ("frugal".to_string(), "frugal".to_string()));
    // only `system_power`: the plan has the power it needs
    let only = with("maximize tokens_per_mw").replace("  power = 600 W\n", "");
    let (at, _) = solve(&only);
    assert_eq!(at, ("frugal".to_string(), "frugal".to_string()));
    // neither: E0409 names both
    let neither = only.replace("  system_power = 2.4 kW\n", "");
    let comp = hplanc::compile("objectives.hplan", &neither, None, hplanc::Mode::Build);
    let d = comp.diagnostics.iter().find(|d| d.code == "E0409").expect("E0409");
    assert!(d.help.contains("system_power") && d.labels.iter().any(|l| l.message.contains("`system_power`")), "{d:?}");
}
