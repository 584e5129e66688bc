//! The request-level simulator (docs/simulation.md) against what it must reproduce:
//! the analytical model's steady state, queueing theory's M/D/1 wait, Little's law on
//! every run, its own seed, and every example.

use hplanc::simulate::model::StepModel;
use hplanc::simulate::{simulate, Arrivals, Config, Lengths, Outcome};

/// Compiles a file under the root, returning its first plan and its solved optimum.
fn solved(path: &str) -> (hplanc::ir::Plan, hplanc::solve::Point) {
    let comp = crate::compile(&crate::root().join(path), hplanc::Mode::Build);
    assert!(!comp.has_errors(), "{path} must build");
    let plan = comp.program.plans[0].clone();
    let point = comp.solved[0].as_ref().expect("a feasible placement").best.clone();
    (plan, point)
}

fn within(x: f64, want: f64, tolerance: f64) -> bool {
    (x / want - 1.0).abs() <= tolerance
}

/// Little's law: the time-averaged number of requests in the system equals the arrival
/// rate times the mean time in it (both sides measured independently: one integrates
/// the population over time, the other sums the requests' lives).
fn littles_law_holds(o: &Outcome) {
    let s = &o.summary;
    assert!(within(s.little_l, s.little_lambda_w, 0.02), "L = {} but lambda W = {}", s.little_l, s.little_lambda_w);
    let lives: f64 = o.requests.iter().map(|r| r.e2e()).sum();
    assert!(within(s.little_lambda_w, lives / o.duration, 1e-9));
}

#[test]
fn a_closed_loop_at_the_solved_batch_reaches_the_models_steady_state() {
    // aggregated serving (prompts in chunks inside the decode steps) and disaggregated
    // serving (prefill chips of their own, the KV cache over a link)
    for path in ["tests/data/simulate/aggregated.hplan", "tests/data/simulate/disaggregated.hplan"] {
        let (plan, point) = solved(path);
        let mut config = Config::of_plan(&plan, &point);
        config.requests = 4000;
        let o = simulate(&plan, &point, &config).unwrap();
        let (s, a) = (&o.summary, &o.summary.analytical);
        assert!(within(s.tpot_s.mean, a.tpot_s, 0.03), "{path}: TPOT {} vs the model's {}", s.tpot_s.mean, a.tpot_s);
        assert!(within(s.tokens_per_s, a.tokens_per_s, 0.03), "{path}: {} tok/s vs the model's {}", s.tokens_per_s, a.tokens_per_s);
        littles_law_holds(&o);
        // every request got all its tokens, in order
        for r in &o.requests {
            assert!(r.arrival <= r.prefill_start && r.prefill_start <= r.first_token && r.first_token <= r.finish, "{r:?}");
        }
    }
}

/// Variants served in turn (docs/cost-model.md §15): the simulator steps each variant's
/// own sequences in turn, so a closed loop at the solved batch reaches the model's round
/// (TPOT) and tokens/s, aggregated and disaggregated, evenly split and not; each step is
/// one variant's, so it holds only that variant's requests, and each variant admits at
/// most its share of the batch.
#[test]
fn variants_served_in_turn_reach_the_models_round() {
    // (file, its model line, its concurrency line)
    let files = [
        ("tests/data/simulate/aggregated.hplan", "model    = llama3_1_70b", "concurrency = 1 ..= 256"),
        ("tests/data/simulate/disaggregated.hplan", "model    = llama3_1_8b", "concurrency = 32 ..= 32"),
    ];
    for (path, model, concurrency) in files {
        let text = std::fs::read_to_string(crate::root().join(path)).unwrap();
        for (variants, batch) in [(4, 24), (3, 26)] {
            let src = text
                .replace(model, &format!("{model} {{ weights = fp8, variants = {variants} }}"))
                .replace(concurrency, &format!("concurrency = {batch}"))
                .replace("h100_sxm x 8", "h100_sxm x 16");
            let comp = hplanc::compile("variants.hplan", &src, None, hplanc::Mode::Build);
            assert!(!comp.has_errors(), "{path}: {:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
            let (plan, point) = (comp.program.plans[0].clone(), comp.solved[0].as_ref().unwrap().best.clone());
            assert!(point.decode().turns.is_some(), "{path}: served in turn");
            let mut config = Config::of_plan(&plan, &point);
            config.requests = 3000;
            let o = simulate(&plan, &point, &config).unwrap();
            let (s, a) = (&o.summary, &o.summary.analytical);
            let what = format!("{path}, {variants} variants at {batch}");
            assert!(within(s.tpot_s.mean, a.tpot_s, 0.03), "{what}: TPOT {} vs the model's {}", s.tpot_s.mean, a.tpot_s);
            assert!(within(s.tokens_per_s, a.tokens_per_s, 0.03), "{what}: {} tok/s vs the model's {}", s.tokens_per_s, a.tokens_per_s);
            // a prompt rides in its own variant's step, not in a round of all of them
            // (stepping every variant as one batch gave 1.39x the model's TTFT here, 4
            // variants aggregated)
            assert!(within(s.ttft_s.mean, a.ttft_s, 0.25), "{what}: TTFT {} vs the model's {}", s.ttft_s.mean, a.ttft_s);
            // request i is of variant i mod K, and no variant ever holds more than its
            // share of the batch (its engine's slots): the most of its requests admitted
            // at once, from admission (with aggregated serving, its prefill's start) to
            // the end
            let share = (batch as usize).div_ceil(variants);
            for v in (0..variants).filter(|_| !path.contains("disaggregated")) {
                let mut edges: Vec<(f64, i32)> = Vec::new();
                for r in o.requests.iter().skip(v).step_by(variants) {
                    edges.extend([(r.prefill_start, 1), (r.finish, -1)]);
                }
                edges.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
                let most = edges.iter().scan(0, |n, e| {
                    *n += e.1;
                    Some(*n)
                });
                assert!(most.max().unwrap_or(0) as usize <= share, "{what}: variant {v} over its share of {share}");
            }
            littles_law_holds(&o);
        }
    }
}

/// Under a framework with a first-token latency (TensorRT-LLM: 40 ms + 1 ms per layer,
/// 72 ms for Llama-3.1-8B) a request reaches the engine that long after it is sent: every
/// request's prefill starts no earlier, the mean TTFT grows by it (prefill has chips to
/// spare, so nothing else changes), TPOT does not, and Little's law still holds (the
/// request is in the system from when it is sent).
#[test]
fn a_first_token_latency_delays_each_request_into_the_engine() {
    let text = std::fs::read_to_string(crate::root().join("tests/data/simulate/disaggregated.hplan")).unwrap();
    let run = |fw: &str| {
        let src = text.replace("  serving  = disaggregated\n", &format!("  serving  = disaggregated\n  framework = {fw}\n"));
        let comp = hplanc::compile("fw.hplan", &src, None, hplanc::Mode::Build);
        assert!(!comp.has_errors());
        let (plan, point) = (comp.program.plans[0].clone(), comp.solved[0].as_ref().unwrap().best.clone());
        let mut config = Config::of_plan(&plan, &point);
        config.requests = 2000;
        simulate(&plan, &point, &config).unwrap()
    };
    let (vllm, trtllm) = (run("vllm"), run("trtllm"));
    for r in &trtllm.requests {
        assert!(r.prefill_start >= r.arrival + 0.072 - 1e-12, "{r:?}");
    }
    let added = trtllm.summary.ttft_s.mean - vllm.summary.ttft_s.mean;
    assert!((added - 0.072).abs() < 0.002, "TTFT grew by {added} s");
    assert!(within(trtllm.summary.tpot_s.mean, vllm.summary.tpot_s.mean, 0.01));
    assert!(within(trtllm.summary.ttft_s.mean, trtllm.summary.analytical.ttft_s, 0.05), "{:?}", trtllm.summary);
    littles_law_holds(&trtllm);
}

#[test]
fn one_prefill_server_with_poisson_arrivals_waits_as_md1_says() {
    let (plan, point) = solved("tests/data/simulate/md1.hplan");
    let input = plan.workload.input_tokens;
    let service = StepModel::new(&plan, &point, None, input, None).unwrap().prefill.expect("prefill chips of its own").time(input);
    for rho in [0.5, 0.8] {
        let config = Config {
            arrivals: Arrivals::Poisson { rate: rho / service },
            input: Lengths::Fixed(input),
            // short answers keep the run fast; the decode side never holds prefill back
            output: Lengths::Fixed(2),
            requests: 200_000,
            seed: 11,
            max_batch: None,
            prefix: None,
        };
        let o = simulate(&plan, &point, &config).unwrap();
        // M/D/1: the mean wait in queue is rho S / (2 (1 - rho))
        let want = rho * service / (2.0 * (1.0 - rho));
        let got = o.summary.prefill_wait_s;
        assert!(within(got, want, 0.05), "rho {rho}: mean wait {got} s, M/D/1 says {want} s");
        littles_law_holds(&o);
    }
}

#[test]
fn the_same_seed_gives_the_same_run_and_another_seed_another() {
    let (plan, point) = solved("examples/llama70b_h100.hplan");
    let config = Config {
        arrivals: Arrivals::Poisson { rate: 3.0 },
        input: Lengths::LogNormal { mean: 2048.0, sigma: 0.6 },
        output: Lengths::Uniform(64, 960),
        requests: 1500,
        seed: 42,
        max_batch: None,
        prefix: None,
    };
    let a = simulate(&plan, &point, &config).unwrap();
    let b = simulate(&plan, &point, &config).unwrap();
    assert_eq!(a, b);
    let c = simulate(&plan, &point, &Config { seed: 43, ..config.clone() }).unwrap();
    assert_ne!(a.requests, c.requests);
    littles_law_holds(&a);
    // the draws have the distributions asked for
    let n = a.requests.len() as f64;
    let mean_in = a.requests.iter().map(|r| r.input as f64).sum::<f64>() / n;
    let mean_out = a.requests.iter().map(|r| r.output as f64).sum::<f64>() / n;
    assert!(within(mean_in, 2048.0, 0.05), "lognormal mean {mean_in}");
    assert!(within(mean_out, 512.0, 0.05), "uniform mean {mean_out}");
    assert!(a.requests.iter().all(|r| (64..=960).contains(&r.output)));
    // Poisson arrivals: the mean gap is 1 / rate
    let last = a.requests.iter().map(|r| r.arrival).fold(0.0, f64::max);
    assert!(within(last / n, 1.0 / 3.0, 0.06), "mean gap {}", last / n);
}

#[test]
fn percentiles_order_and_goodput_counts_the_requests_within_the_slos() {
    let (plan, point) = solved("tests/data/simulate/aggregated.hplan");
    // past the placement's capacity queues grow: the tail and goodput show it
    let config = Config {
        arrivals: Arrivals::Poisson { rate: 5.0 },
        input: Lengths::Fixed(2048),
        output: Lengths::Fixed(512),
        requests: 3000,
        seed: 1,
        max_batch: None,
        prefix: None,
    };
    let o = simulate(&plan, &point, &config).unwrap();
    let s = &o.summary;
    for d in [&s.ttft_s, &s.tpot_s, &s.e2e_s] {
        assert!(d.p50 <= d.p90 && d.p90 <= d.p99 && d.p99 <= d.max, "{d:?}");
    }
    let (ttft, tpot) = (s.ttft_limit_s.unwrap(), s.tpot_limit_s.unwrap());
    let good = o.requests.iter().filter(|r| r.ttft() <= ttft && r.tpot() <= tpot).count();
    assert_eq!(s.good_share, good as f64 / o.requests.len() as f64);
    assert!(s.good_share < 0.5, "5 req/s is past this placement's 3.8: most requests wait ({})", s.good_share);
    assert!(s.ttft_s.p99 > 10.0 * s.analytical.ttft_s);
    littles_law_holds(&o);
}

#[test]
fn every_example_simulates() {
    for entry in std::fs::read_dir(crate::root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        let comp = crate::built(&path);
        for (plan, solved) in comp.program.plans.iter().zip(&comp.solved) {
            let Some(s) = solved else { continue };
            let mut config = Config::of_plan(plan, &s.best);
            config.requests = 300;
            let o = simulate(plan, &s.best, &config).unwrap_or_else(|e| panic!("{}: {}: {e}", path.display(), plan.name));
            assert_eq!(o.requests.len(), 300);
            assert!(o.summary.tokens_per_s > 0.0);
            littles_law_holds(&o);
        }
    }
}

#[test]
fn bad_configurations_are_errors_not_panics_or_endless_runs() {
    let (plan, point) = solved("examples/llama70b_h100.hplan");
    let base = Config::of_plan(&plan, &point);
    let bad = [
        Config { arrivals: Arrivals::Poisson { rate: 0.0 }, ..base.clone() },
        Config { arrivals: Arrivals::Poisson { rate: -1.0 }, ..base.clone() },
        Config { arrivals: Arrivals::Poisson { rate: f64::NAN }, ..base.clone() },
        Config { arrivals: Arrivals::Closed { clients: 0 }, ..base.clone() },
        Config { arrivals: Arrivals::trace(vec![]), ..base.clone() },
        Config { requests: 0, ..base.clone() },
        Config { requests: hplanc::simulate::MAX_REQUESTS + 1, ..base.clone() },
        Config { input: Lengths::Fixed(0), ..base.clone() },
        Config { output: Lengths::Uniform(10, 5), ..base.clone() },
        Config { input: Lengths::LogNormal { mean: 100.0, sigma: -1.0 }, ..base.clone() },
        // more output tokens than a simulation may generate
        Config { output: Lengths::Fixed(hplanc::simulate::MAX_LENGTH), requests: 1000, ..base.clone() },
        // a request longer than the whole KV cache at the batch
        Config { input: Lengths::Fixed(1_000_000), max_batch: Some(1), ..base.clone() },
    ];
    for c in bad {
        match simulate(&plan, &point, &c) {
            Ok(_) => panic!("{c:?} must be refused"),
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
}

/// The served rate of a percentile plan: every SLO met there, one missed a little above
/// (when below the configuration's capacity), and no candidate above its capacity.
#[test]
fn the_rate_search_stops_where_a_percentile_reaches_its_limit() {
    let comp = crate::compile(&crate::root().join("tests/data/simulate/p99.hplan"), hplanc::Mode::Build);
    assert!(!comp.has_errors());
    let plan = &comp.program.plans[0];
    let served = comp.served[0].as_ref().expect("the plan is served");
    assert_eq!(comp.solved[0].as_ref().unwrap().best.instance.batch, served.point.instance.batch, "the served configuration is the answer");
    let w = &plan.workload;
    let config = |rate: f64| Config {
        arrivals: Arrivals::Poisson { rate },
        input: Lengths::of_traffic(w.input_tokens, &w.traffic),
        output: Lengths::of_traffic(w.output_tokens, &w.traffic),
        requests: w.traffic.requests,
        seed: w.traffic.seed,
        max_batch: None,
        prefix: None,
    };
    let check = |rate: f64| {
        let o = simulate(plan, &served.point, &config(rate)).unwrap();
        plan.slos.iter().all(|s| hplanc::simulate::search::slo_value(s, &o.requests) <= s.limit)
    };
    assert!(check(served.rate), "the SLOs hold at the served rate");
    let inst = &served.point.instance;
    let capacity = inst.request_rate(served.point.choice.decode);
    assert!(served.rate < 0.95 * capacity, "this plan's p99 binds below capacity ({} vs {capacity})", served.rate);
    assert!(!check(served.rate * 1.02), "2% more traffic misses an SLO");
    // the p99 TTFT is what binds: within a few percent of its limit
    let ttft = plan.slos.iter().find(|s| s.name() == "ttft.p99").unwrap();
    let at = hplanc::simulate::search::slo_value(ttft, &served.outcome.requests);
    assert!(at <= ttft.limit && at > 0.9 * ttft.limit, "p99 TTFT {at} against {}", ttft.limit);
    // goodput picks the candidate of the highest rate; a candidate left unsimulated could
    // not have beaten it (its rate is at most its capacity)
    let best = served.candidates.iter().filter_map(|c| c.rate).fold(0.0, f64::max);
    assert_eq!(best, served.rate);
    assert!(served.candidates.len() > 3);
    let per_batch = &comp.solved[0].as_ref().unwrap().per_batch;
    for c in served.candidates.iter().filter(|c| c.pruned) {
        let p = per_batch.iter().find(|p| p.instance.batch == c.batch).unwrap();
        let cap = p.instance.request_rate(p.choice.decode);
        assert!(cap <= served.rate, "batch {} was skipped with a capacity of {cap} req/s", c.batch);
    }
    // the report carries it
    let r = comp.plan_report(0);
    assert_eq!(r.objective.value, Some(served.rate));
    let s = r.served.expect("served in the report");
    assert_eq!(s.slos.len(), 2);
    assert!(s.slos.iter().all(|c| c.simulated <= c.limit));
    assert!((s.tokens_per_s - served.rate * w.output_tokens as f64).abs() < 1e-9 * s.tokens_per_s);
}

/// `plan` with its workload's prefix reuse replaced.
fn with_prefix(plan: &hplanc::ir::Plan, distinct: u64, hit: f64) -> hplanc::ir::Plan {
    let mut p = plan.clone();
    let prefix = p.workload.prefix.as_mut().expect("the plan declares a prefix");
    prefix.distinct = distinct;
    prefix.hit = hit;
    p
}

#[test]
fn a_cache_that_holds_every_prefix_hits_and_meets_the_models_steady_state() {
    for path in ["tests/data/simulate/prefix.hplan", "tests/data/simulate/prefix_disaggregated.hplan"] {
        let (plan, point) = solved(path);
        let mut config = Config::of_plan(&plan, &point);
        config.requests = 4000;
        let o = simulate(&plan, &point, &config).unwrap();
        let (s, a) = (&o.summary, &o.summary.analytical);
        let c = s.prefix_cache.expect("a prefix cache");
        // only the first request of each prefix (and those that start before it is
        // cached) miss
        assert!(c.hit_rate > 0.99 && c.evictions == 0, "{path}: {c:?}");
        assert_eq!(c.model_hit_rate, 1.0);
        let tokens = plan.workload.prefix.unwrap().tokens;
        let hits = o.requests.iter().filter(|r| r.cached > 0).count() as u64;
        assert_eq!(c.cached_tokens, hits * tokens);
        // the model takes every prefix cached: its steady state is the simulation's
        assert!(within(s.tpot_s.mean, a.tpot_s, 0.03), "{path}: TPOT {} vs the model's {}", s.tpot_s.mean, a.tpot_s);
        assert!(within(s.tokens_per_s, a.tokens_per_s, 0.03), "{path}: {} tok/s vs {}", s.tokens_per_s, a.tokens_per_s);
        // the model waits half a running step for a prompt's first step; a closed loop's
        // client sends its next request as a step ends, so waits up to a whole one
        assert!((s.ttft_s.p50 - a.ttft_s).abs() <= a.tpot_s, "{path}: TTFT p50 {} vs the model's mean {}", s.ttft_s.p50, a.ttft_s);
        littles_law_holds(&o);
    }
}

#[test]
fn prefixes_beyond_the_caches_room_are_evicted_and_miss() {
    let (plan, point) = solved("tests/data/simulate/prefix.hplan");
    let m = StepModel::new(&plan, &point, None, plan.workload.input_tokens, Some(3000)).unwrap();
    // 2,000 prefixes of 3k tokens are 6M tokens, over ten times what the chip's KV
    // memory holds: most requests find theirs evicted
    let crowded = with_prefix(&plan, 2000, 1.0);
    let config = |plan: &hplanc::ir::Plan| Config { requests: 3000, ..Config::of_plan(plan, &point) };
    let o = simulate(&crowded, &point, &config(&crowded)).unwrap();
    let c = o.summary.prefix_cache.unwrap();
    assert!(c.hit_rate < 0.2 && c.evictions > 1000, "{c:?}");
    // the cache never holds more than the memory: KV use stays within capacity
    assert!(o.summary.prefix_cache.is_some() && o.samples.iter().all(|s| s.kv_tokens <= m.kv_tokens));
    // misses prefill whole prompts: slower than the model's all-hit mean
    assert!(o.summary.tpot_s.mean > 1.2 * o.summary.analytical.tpot_s);
    littles_law_holds(&o);
    // a few prefixes fit: none is evicted, the hit rate is the model's
    let few = simulate(&plan, &point, &config(&plan)).unwrap();
    assert!(few.summary.prefix_cache.unwrap().hit_rate > 0.99);
    assert!(few.summary.tpot_s.mean < o.summary.tpot_s.mean);
    // the same seed, the same run
    assert_eq!(o, simulate(&crowded, &point, &config(&crowded)).unwrap());
}

#[test]
fn a_prefix_hit_skips_its_prefill_and_a_miss_does_not() {
    let (plan, point) = solved("tests/data/simulate/prefix_disaggregated.hplan");
    let (input, prefix) = (plan.workload.input_tokens, plan.workload.prefix.unwrap().tokens);
    let m = StepModel::new(&plan, &point, None, input, Some(prefix)).unwrap();
    let p = m.prefill.as_ref().unwrap();
    assert!(p.cache_tokens >= prefix, "the prefill chips' spare memory holds the prefix");
    // a cached prompt prefills its own 2k tokens (attending to the prefix): more than a
    // 2k-token prompt from scratch, far less than the whole 8k
    let (hit, miss, own) = (p.time_cached(input), p.time(input), p.time(input - prefix));
    assert!(own < hit && hit < 0.5 * miss, "hit {hit} own {own} miss {miss}");
    let config = Config { requests: 500, ..Config::of_plan(&plan, &point) };
    let o = simulate(&plan, &point, &config).unwrap();
    for r in &o.requests {
        let waited = r.prefill_start - r.arrival;
        let took = r.ttft() - waited;
        let want = if r.cached > 0 { hit } else { miss };
        // the prefill, then the KV cache's transfer (under a tenth of it here)
        assert!(
            took >= want && took < 1.1 * want + 0.003,
            "{r:?}: {took} s for a {} prefill",
            if r.cached > 0 { "cached" } else { "whole" }
        );
    }
    assert!(o.requests[0].cached == 0 && o.requests.iter().filter(|r| r.cached > 0).count() > 450);
}

/// The prefill time and TPOT of a plan's optimum, from its text.
fn prefill_and_tpot(text: &str) -> (f64, f64, f64) {
    let comp = hplanc::compile("prefix.hplan", text, None, hplanc::Mode::Build);
    assert!(!comp.has_errors(), "{:?}", comp.diagnostics);
    let best = &comp.solved[0].as_ref().unwrap().best;
    let inst = &best.instance;
    let d = &inst.decode[best.choice.decode];
    let p = &inst.prefill[best.choice.prefill];
    (p.time, d.tpot, inst.pair_ttft(d, p).unwrap())
}

#[test]
fn the_model_takes_the_hit_rate_as_a_mean_over_hits_and_misses() {
    let text = std::fs::read_to_string(crate::root().join("tests/data/simulate/prefix_disaggregated.hplan")).unwrap();
    let at =
        |hit: &str| prefill_and_tpot(&text.replace("  prefix      = 6k tok", &format!("  prefix      = 6k tok\n  prefix_hit  = {hit}")));
    let whole = prefill_and_tpot(&text.replace("  prefix      = 6k tok\n", ""));
    let (all, half, quarter) = (at("1"), at("0.5"), at("0.25"));
    assert!(all.0 < 0.5 * whole.0, "a cached 6k of 8k leaves a quarter of the prompt: {} vs {}", all.0, whole.0);
    // the prefill time is linear in the hit rate, and at no hits the plan's without reuse
    let slope = (half.0 - quarter.0) / 0.25;
    assert!((all.0 - (half.0 + 0.5 * slope)).abs() < 1e-9 * whole.0, "linear: {quarter:?} {half:?} {all:?}");
    assert!(
        (quarter.0 - 0.25 * slope - whole.0).abs() < 1e-9 * whole.0,
        "no hits is no reuse: {} vs {}",
        quarter.0 - 0.25 * slope,
        whole.0
    );
    // TTFT falls with the prefill
    assert!(all.2 < half.2 && half.2 < whole.2);
    // aggregated: the chunk steps carry fewer prompt tokens, so TPOT falls too
    let agg = std::fs::read_to_string(crate::root().join("tests/data/simulate/prefix.hplan")).unwrap();
    let cached = prefill_and_tpot(&agg);
    let none = prefill_and_tpot(&agg.replace("  prefix      = 3k tok\n  prefixes    = 4\n", ""));
    assert!(cached.1 < none.1 && cached.2 < none.2, "{cached:?} vs {none:?}");
}

#[test]
fn gamma_arrivals_keep_the_mean_rate_and_spread_the_gaps_as_their_shape_says() {
    let (plan, point) = solved("examples/llama70b_h100.hplan");
    for shape in [0.25, 4.0] {
        let config = Config {
            arrivals: Arrivals::Gamma { rate: 2.0, shape },
            input: Lengths::Fixed(256),
            output: Lengths::Fixed(2),
            requests: 20_000,
            seed: 9,
            max_batch: None,
            prefix: None,
        };
        let o = simulate(&plan, &point, &config).unwrap();
        let gaps: Vec<f64> = o.requests.windows(2).map(|w| w[1].arrival - w[0].arrival).collect();
        let n = gaps.len() as f64;
        let mean = gaps.iter().sum::<f64>() / n;
        let cv2 = gaps.iter().map(|g| (g - mean) * (g - mean)).sum::<f64>() / n / (mean * mean);
        assert!(within(mean, 0.5, 0.03), "shape {shape}: mean gap {mean}");
        // a gamma gap of shape k has a squared coefficient of variation of 1/k
        assert!(within(cv2, 1.0 / shape, 0.08), "shape {shape}: CV² {cv2}");
        littles_law_holds(&o);
    }
}

#[test]
fn each_plan_searches_its_own_workloads_arrivals() {
    let comp = crate::compile(&crate::root().join("tests/data/simulate/arrivals.hplan"), hplanc::Mode::Build);
    assert!(!comp.has_errors(), "{:?}", comp.diagnostics);
    let served = |i: usize| comp.served[i].as_ref().expect("every plan is served");
    let (poisson, gamma, trace) = (served(0), served(1), served(2));
    // gaps four times as variable (burstiness 0.25) queue more: the p99 TTFT binds at a
    // lower rate
    assert!(gamma.rate < 0.5 * poisson.rate, "gamma {} vs Poisson {}", gamma.rate, poisson.rate);
    // Poisson at the gamma plan's rate has room to spare: the gaps are what binds
    let plan = &comp.program.plans[1];
    let mut config = Config::of_plan(plan, &gamma.point);
    config.requests = plan.workload.traffic.requests;
    config.arrivals = Arrivals::Poisson { rate: gamma.rate * 1.2 };
    let o = simulate(plan, &gamma.point, &config).unwrap();
    assert!(plan.slos.iter().all(|s| hplanc::simulate::search::slo_value(s, &o.requests) <= s.limit));
    // the trace: every request, its recorded time scaled by one factor, its lengths kept
    let plan = &comp.program.plans[2];
    let hplanc::ir::ArrivalProcess::Trace { rows, path } = &plan.workload.traffic.arrivals else { panic!("a trace") };
    assert_eq!(path, "bursts.csv");
    assert_eq!(trace.outcome.requests.len(), rows.len());
    let recorded = Arrivals::trace_rate(rows).unwrap();
    let scale = recorded / trace.rate;
    for (r, row) in trace.outcome.requests.iter().zip(rows.iter()) {
        assert!((r.arrival - row.arrival * scale).abs() <= 1e-9 * (1.0 + r.arrival), "{r:?} vs {row:?} x{scale}");
        assert_eq!((r.input, r.output), (row.input, row.output));
    }
    // it runs at the rate it reports: its requests over the time they arrive in
    let span = trace.outcome.requests.last().unwrap().arrival - trace.outcome.requests[0].arrival;
    assert!(within((rows.len() - 1) as f64 / span, trace.rate, 1e-9));
    // `hplanc simulate` draws the workload's own arrivals: the trace as recorded
    let o = simulate(plan, &trace.point, &Config::of_plan(plan, &trace.point)).unwrap();
    assert_eq!(o.requests.len(), rows.len());
    assert!(o.requests.iter().zip(rows.iter()).all(|(r, row)| r.arrival == row.arrival));
}

#[test]
fn a_trace_that_arrives_all_at_once_has_no_rate_to_search() {
    let dir = std::env::temp_dir().join(format!("hplanc-at-once-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("at_once.csv"), "0,1000,64\n0,1000,64\n0,1000,64\n").unwrap();
    let text = std::fs::read_to_string(crate::root().join("tests/data/simulate/arrivals.hplan"))
        .unwrap()
        .replace("trace       = \"bursts.csv\"", "trace       = \"at_once.csv\"");
    let path = dir.join("plan.hplan");
    std::fs::write(&path, text).unwrap();
    let comp = crate::compile(&path, hplanc::Mode::Build);
    let d = comp.diagnostics.iter().find(|d| d.code == "E0412").expect("the replayed plan cannot be searched");
    assert!(d.message.contains("all arrive at once"), "{}", d.message);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A prefill pipeline takes a prompt every slowest stage, not every prompt's whole time:
/// examples/llama70b_h100.hplan prefills on replicas of two H100s (layers 0..40, 40..80),
/// and prompts arriving at 1.5 times what its replicas could serve one at a time (but
/// within what they serve pipelined) wait for no queue that grows: every first token comes
/// within a few of the model's TTFTs, where one prompt at a time would leave the 400th
/// waiting for over a hundred prompts' prefill.
#[test]
fn a_prefill_pipeline_starts_a_prompt_every_slowest_stage() {
    let (plan, point) = solved("examples/llama70b_h100.hplan");
    let p = point.prefill();
    assert_eq!((p.tp, p.pp), (1, 2), "{p:?}");
    assert!(p.interval < 0.6 * p.time, "{} vs {}", p.interval, p.time);
    let replicas = point.choice.replicas as f64;
    let rate = 1.5 * replicas / p.time;
    assert!(rate < 0.9 * replicas / p.interval);
    let config = Config {
        arrivals: Arrivals::Poisson { rate },
        input: Lengths::Fixed(plan.workload.input_tokens),
        output: Lengths::Fixed(16),
        requests: 400,
        seed: 3,
        max_batch: None,
        prefix: None,
    };
    let o = simulate(&plan, &point, &config).unwrap();
    let s = &o.summary;
    assert!(s.ttft_s.max < 5.0 * s.analytical.ttft_s, "TTFT max {} vs the model's {}", s.ttft_s.max, s.analytical.ttft_s);
    // each prompt still takes its whole time through both stages
    assert!(o.requests.iter().all(|r| r.first_token - r.prefill_start >= p.time * (1.0 - 1e-9)));
    littles_law_holds(&o);
}
