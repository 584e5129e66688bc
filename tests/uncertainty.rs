//! Figures written with their uncertainty (docs/uncertainty.md): the forms the language
//! takes, each end of a range solved as its own plan, and the value where the
//! placement changes.

use hplanc::ir::uncertain::Figure;
use hplanc::solve::uncertainty::{assignment, best_point};

const PLAN: &str = "tests/data/uncertainty/afd.hplan";

fn source() -> String {
    std::fs::read_to_string(crate::root().join(PLAN)).unwrap()
}

fn build(text: &str) -> hplanc::Compilation {
    hplanc::compile("afd.hplan", text, Some(&crate::root().join(PLAN)), hplanc::Mode::Build)
}

#[test]
fn every_form_reads_into_si_bounds_and_formats_back() {
    let text = "use std::chips::b200\nuse std::links::nvlink5\n\
                chip a = b200 {\n  price = 8 $/h ± 25%\n  power = 1000 W +- 100 W\n  efficiency {\n    compute = 0.6 in [0.4, 0.7]\n    memory = 0.9\n    source = \"t\"\n  }\n}\n\
                link l = nvlink5 { latency = 2 us in [0.1 us, 5 us] }\n";
    let comp = hplanc::compile("t.hplan", text, None, hplanc::Mode::Check);
    assert!(!comp.has_errors(), "{:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
    let chip = comp.program.chips.iter().find(|c| c.name == "a").unwrap();
    let get = |f: Figure| chip.uncertain.iter().find(|u| u.figure == f).map(|u| (u.low, u.high)).unwrap();
    let close = |(a, b): (f64, f64), (x, y): (f64, f64)| (a - x).abs() <= 1e-12 * x.abs().max(1e-30) && (b - y).abs() <= 1e-12 * y.abs();
    assert!(close(get(Figure::Price), (6.0 / 3600.0, 10.0 / 3600.0)), "{:?}", get(Figure::Price));
    assert!(close(get(Figure::Power), (900.0, 1100.0)));
    assert!(close(get(Figure::ComputeEfficiency), (0.4, 0.7)));
    assert_eq!(chip.price, Some(8.0 / 3600.0), "the nominal figure is the chip's");
    assert!(!chip.uncertain.iter().any(|u| u.figure == Figure::MemoryEfficiency));
    // a link's: through a plan that uses it (a plan's inputs are its chips' and links')
    let plan = hplanc::compile("afd.hplan", &source(), Some(&crate::root().join(PLAN)), hplanc::Mode::Check);
    let inputs = plan.program.plans[0].inputs();
    let c2c = inputs.iter().find(|i| i.name() == "c2c.latency").unwrap();
    assert!(close((c2c.low, c2c.high), (0.1e-6, 5e-6)) && c2c.nominal == 2e-6, "{c2c:?}");
    // the plan's own four, and those its items keep from the stdlib's (each once)
    assert_eq!(inputs.len(), 4 + stdlib_ranges_kept(&plan.program.plans[0]));
    // an item that extends another keeps its ranges unless it replaces the figure
    let text2 = format!("{text}chip c = a {{ price = 9 $/h }}\n");
    let comp = hplanc::compile("t.hplan", &text2, None, hplanc::Mode::Check);
    let c = comp.program.chips.iter().find(|c| c.name == "c").unwrap();
    assert!(c.uncertain.iter().any(|u| u.figure == Figure::Power) && !c.uncertain.iter().any(|u| u.figure == Figure::Price));
    // the formatter keeps every form (and `25%` glued), and formatting is idempotent
    let once = hplanc::syntax::fmt::format(text);
    assert!(once.contains("price = 8 $/h ± 25%") && once.contains("+- 100 W") && once.contains("in [0.4, 0.7]"), "{once}");
    assert_eq!(hplanc::syntax::fmt::format(&once), once);
}

/// Each end of each range, as report.json states it, is what the same plan solved with
/// that figure written alone gives: an independent path through the text.
#[test]
fn each_end_is_the_plan_solved_with_the_figure_at_that_end() {
    let text = source();
    let comp = build(&text);
    assert!(!comp.has_errors());
    let u = comp.plan_report(0).uncertainty.expect("the plan has uncertain inputs");
    assert_eq!(u.inputs.len(), 4 + stdlib_ranges_kept(&comp.program.plans[0]));
    let ends: [(&str, &str, &str, &str); 4] = [
        ("rubin_priced.price", "price = 8 $/h in [4 $/h, 400 $/h]", "price = 4 $/h", "price = 400 $/h"),
        ("lp30_priced.price", "price          = 0.5 $/h in [0.001 $/h, 0.75 $/h]", "price = 0.001 $/h", "price = 0.75 $/h"),
        ("lp30_priced.layer_overhead", "layer_overhead = 1 us in [0.5 us, 40 us]", "layer_overhead = 0.5 us", "layer_overhead = 40 us"),
        ("c2c.latency", "latency = 2 us in [0.1 us, 5 us]", "latency = 0.1 us", "latency = 5 us"),
    ];
    for (name, written, low, high) in ends {
        let i = u.inputs.iter().find(|i| i.name == name).unwrap_or_else(|| panic!("{name}"));
        for (alone, reported) in [(low, i.objective_at_low), (high, i.objective_at_high)] {
            assert!(text.contains(written), "{written}");
            let c = build(&text.replacen(written, alone, 1));
            let v = c.plan_report(0).objective.value;
            assert_eq!(v, reported, "{name} written `{alone}`");
        }
    }
    // the tornado's order: the largest swing first
    assert!(u.inputs.windows(2).all(|w| w[0].swing >= w[1].swing));
    assert_eq!(u.inputs[0].name, "rubin_priced.price");
    // the band holds the nominal objective and every end's
    let b = u.metrics.objective.unwrap();
    for i in &u.inputs {
        for v in [i.objective_at_low, i.objective_at_high].into_iter().flatten() {
            assert!(b.low <= v && v <= b.high);
        }
    }
    assert!(b.low <= b.nominal && b.nominal <= b.high);
}

/// Where the report says the placement changes, it does: at the reported value the best
/// placement is another, a bisection step nearer the nominal it is still the nominal's.
#[test]
fn the_placement_changes_where_the_report_says() {
    let comp = build(&source());
    let plan = &comp.program.plans[0];
    let nominal = assignment(&comp.solved[0].as_ref().unwrap().best);
    let u = comp.plan_report(0).uncertainty.unwrap();
    assert!(u.placement_changes);
    let inputs = plan.inputs();
    let mut checked = 0;
    for i in &u.inputs {
        let input = inputs.iter().find(|x| x.name() == i.name).unwrap();
        for (at, end) in [(i.changes_below, input.low), (i.changes_above, input.high)] {
            let Some(v) = at else { continue };
            let solve = |x: f64| best_point(&plan.with_input(input, x)).unwrap().map(|p| assignment(&p));
            assert_ne!(solve(v), Some(nominal.clone()), "{} at {v}", i.name);
            // one bisection step (of 256 over the log or linear distance) nearer the nominal
            let step = if (end / input.nominal).max(input.nominal / end) > 10.0 {
                v * (input.nominal / end).powf(1.0 / 256.0)
            } else {
                v + (input.nominal - end) / 256.0
            };
            assert_eq!(solve(step), Some(nominal.clone()), "{} at {step}", i.name);
            checked += 1;
        }
    }
    assert_eq!(checked, 2, "Rubin's price above ~$77/h and LP30's below ~$0.05/h move the FFN to the LPUs");
}

/// The ranges the test plan's chips and links keep from the stdlib items they extend
/// (`rubin`, `lp30`, `groq3_c2c`, `nvlink6`, `spectrum_x`): those whose figure the plan
/// does not write again (its prices, LP30's per-layer cost and the C2C latency), each
/// chip or link counted once however many pools or links use it.
fn stdlib_ranges_kept(plan: &hplanc::ir::Plan) -> usize {
    let own = [Figure::Price, Figure::LayerOverhead, Figure::Latency];
    let mut seen = std::collections::BTreeSet::new();
    let c = &plan.cluster;
    let chips = c.pools.iter().map(|p| (p.chip.name.clone(), p.chip.uncertain.clone()));
    let links = c.pools.iter().filter_map(|p| p.link.as_ref()).chain(c.links.iter().map(|l| &l.link));
    let items: Vec<_> = chips.chain(links.map(|l| (l.name.clone(), l.uncertain.clone()))).collect();
    for (name, us) in items {
        for u in us {
            let inherited = !(["rubin_priced", "lp30_priced", "c2c"].contains(&name.as_str()) && own.contains(&u.figure));
            if inherited {
                seen.insert((name.clone(), u.figure));
            }
        }
    }
    seen.len()
}

#[test]
fn plans_without_ranges_have_no_uncertainty() {
    // a chip and a link whose every figure is written plainly
    let text = "use std::models::llama3_1_8b
                chip g {
  source = \"t\"
  compute {
    bf16 = 989 TFLOP/s
  }
  memory hbm {
    capacity = 80 GB
    bandwidth = 3.35 TB/s
  }
  price = 2 $/h
  efficiency {
    compute = 0.6
    memory = 0.9
    source = \"t\"
  }
}
                link l {
  source = \"t\"
  bandwidth = 450 GB/s
  latency = 2 us
}
                workload w {
  input = 1k tok
  output = 128 tok
  concurrency = 1 ..= 8
}
                cluster c {
  pool p = g x 8 over l
}
                plan q {
  model = llama3_1_8b
  cluster = c
  workload = w
  place prefill on p
  place decode.attn on p
  place decode.ffn on p
}
";
    let comp = hplanc::compile("t.hplan", text, None, hplanc::Mode::Build);
    assert!(!comp.has_errors(), "{:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
    assert!(comp.sensitivity.iter().all(Option::is_none));
    let json = serde_json::to_value(comp.report()).unwrap();
    assert!(json["plans"][0].get("uncertainty").is_none());
}

/// Every end `vary` reports, including those it leaves unsolved (the worse end of a
/// figure the answer does not use; both ends of a chip power no goal or budget reads), has
/// the objective and tie-break value that solving the plan with the figure there gives, on
/// every plan of the examples with ranges.
#[test]
fn every_end_is_what_a_solve_gives() {
    let mut checked = 0;
    for file in
        ["examples/s03_rubin_lpx_frontier.hplan", "examples/s09_lpx_draft_rubin_verify.hplan", "examples/s13_auto_everything.hplan", PLAN]
    {
        let comp = crate::built(&crate::root().join(file));
        for (plan, sens) in comp.program.plans.iter().zip(&comp.sensitivity) {
            let Some(sens) = sens else { continue };
            let goal = hplanc::solve::goal(plan);
            for v in &sens.varied {
                for (value, reported) in [(v.input.low, &v.low), (v.input.high, &v.high)] {
                    let fresh = best_point(&plan.with_input(&v.input, value)).unwrap();
                    let key = |p: &Option<hplanc::solve::Point>| p.as_ref().map(|p| hplanc::solve::key(p, goal));
                    assert_eq!(key(&fresh), key(reported), "{file}: {} at {value}", v.input.name());
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 24, "{checked}");
}

/// A memory tier's bandwidth may carry a range: it is numbered by its place among the
/// chip's tiers, named `memory[i].bandwidth`, and a plan varied on it runs with that
/// tier's bandwidth (and no other tier's) at the value.
#[test]
fn a_memory_tier_bandwidth_is_an_input_of_its_own_tier() {
    let text = "use std::models::llama3_1_8b\nuse std::links::nvlink4\n\
                chip g {\n  source = \"t\"\n  compute {\n    bf16 = 989 TFLOP/s\n  }\n  memory sram {\n    capacity = 1 GB\n    bandwidth = 100 TB/s\n  }\n  memory hbm {\n    capacity = 80 GB\n    bandwidth = 3 TB/s in [1 TB/s, 4 TB/s]\n    holds = [weights, kv]\n  }\n  price = 2 $/h\n  efficiency {\n    compute = 0.6\n    memory = 0.9\n    source = \"t\"\n  }\n}\n\
                workload w {\n  input = 1k tok\n  output = 128 tok\n  concurrency = 1 ..= 8\n}\n\
                cluster c {\n  pool p = g x 8 over nvlink4\n}\n\
                plan q {\n  model = llama3_1_8b\n  cluster = c\n  workload = w\n  place prefill on p\n  place decode.attn on p\n  place decode.ffn on p\n}\n";
    let comp = hplanc::compile("t.hplan", text, None, hplanc::Mode::Build);
    assert!(!comp.has_errors(), "{:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
    let plan = &comp.program.plans[0];
    let inputs = plan.inputs();
    let hbm = inputs.iter().find(|i| i.figure == Figure::TierBandwidth(1)).expect("the HBM tier's bandwidth");
    assert_eq!((hbm.name().as_str(), hbm.nominal, hbm.low, hbm.high), ("g.memory[1].bandwidth", 3e12, 1e12, 4e12));
    let varied = plan.with_input(hbm, 1e12);
    let tiers: Vec<f64> = varied.cluster.pools[0].chip.memory.iter().map(|t| t.bandwidth).collect();
    assert_eq!(tiers, vec![100e12, 1e12]);
    // the weights and KV stream from that tier: a third of its bandwidth slows the answer
    let u = comp.plan_report(0).uncertainty.expect("the plan varies the tier");
    let i = u.inputs.iter().find(|i| i.name == "g.memory[1].bandwidth").unwrap();
    let (low, high) = (i.objective_at_low.unwrap(), i.objective_at_high.unwrap());
    assert!(low > comp.plan_report(0).objective.value.unwrap() && high < low, "{low} {high}");
}

/// A plan answered by the simulated rate search (MLPerf's server scenario: percentile
/// SLOs, goodput) does not vary its inputs: an end solved without that search would not
/// be its answer there. The report says so instead of calling every end infeasible.
#[test]
fn a_simulated_plan_says_why_its_inputs_are_not_varied() {
    let comp = crate::compile(&crate::root().join("examples/mlperf_llama2_70b_server.hplan"), hplanc::Mode::Build);
    let plan = &comp.program.plans[0];
    assert!(plan.simulated() && !plan.inputs().is_empty());
    let u = comp.plan_report(0).uncertainty.expect("the plan has uncertain inputs");
    assert!(u.inputs.is_empty());
    assert_eq!((u.not_varied, u.not_varied_because), (plan.inputs().len(), Some(hplanc::report::uncertainty::NOT_VARIED_SIMULATED)));
    assert!(!u.placement_changes);
    let text = hplanc::report::human::render(&comp.plan_report(0));
    assert!(text.contains("uncertain inputs were not varied: the answer comes from the simulated rate search"), "{text}");
}

/// Each break-even a comparison reports is where the two plans trade places: with the
/// input at the reported value the other plan is better, one bisection step (of 4096)
/// nearer the nominal the one better at the nominal figures still is; each side solved
/// by the ILP on the plan with the figure there (an independent path from the
/// enumeration the break-even was found by).
#[test]
fn break_evens_are_where_two_plans_trade_places() {
    let mut checked = 0;
    // s04 and s06 find theirs in linear steps, the LPX comparison in log steps (prices
    // over a factor of 50)
    for file in [
        "examples/s04_cerebras_full_stack.hplan",
        "examples/s06_trainium_prefill_cerebras_decode.hplan",
        "tests/data/uncertainty/compare.hplan",
    ] {
        let comp = crate::compile(&crate::root().join(file), hplanc::Mode::Build);
        let report = comp.report();
        let plans = &comp.program.plans;
        for c in &report.comparisons {
            for e in &c.break_even {
                let objective = |name: &str, x: f64| -> f64 {
                    let plan = plans.iter().find(|p| p.name == name).unwrap();
                    let goal = hplanc::solve::goal(plan);
                    let varied = match plan.inputs().into_iter().find(|i| i.name() == e.input) {
                        Some(i) => plan.with_input(&i, x),
                        None => plan.clone(),
                    };
                    best_point(&varied).unwrap().map_or(f64::INFINITY, |p| hplanc::solve::key(&p, goal).0)
                };
                let better = |x: f64, a: &str, b: &str| objective(a, x) < objective(b, x);
                assert!(better(e.value, &e.better_beyond, &e.better_at_nominal), "{file}: {} at {}", e.input, e.value);
                assert!(if e.side == "below" { e.value < e.nominal } else { e.value > e.nominal }, "{e:?}");
                // the distance the bisection halved 12 times: nominal to the input's end
                let input = plans.iter().flat_map(|p| p.inputs()).find(|i| i.name() == e.input).unwrap();
                let end = if e.side == "below" { input.low } else { input.high };
                let nearer = if (end / input.nominal).max(input.nominal / end) > 10.0 {
                    e.value * (input.nominal / end).powf(1.0 / 4096.0)
                } else {
                    e.value + (input.nominal - end) / 4096.0
                };
                assert!(better(nearer, &e.better_at_nominal, &e.better_beyond), "{file}: {} at {nearer}", e.input);
                checked += 1;
            }
        }
    }
    assert!(checked >= 8, "{checked} break-evens checked");
}

/// A plan whose inputs were not varied (answered by the simulated rate search) has no
/// break-even with another: its ends solved without the search would not be its answer.
/// The same pair with both varied has some (s04: the wafers against GB200).
#[test]
fn no_break_even_with_a_plan_whose_inputs_were_not_varied() {
    use hplanc::solve::uncertainty::{break_even, NotVaried, Sensitivity, Side};
    fn side<'a>(comp: &'a hplanc::Compilation, i: usize, varied: &'a Sensitivity) -> Side<'a> {
        Side { plan: &comp.program.plans[i], best: &comp.solved[i].as_ref().unwrap().best, varied }
    }
    let comp = crate::compile(&crate::root().join("examples/s04_cerebras_full_stack.hplan"), hplanc::Mode::Build);
    let index = |name: &str| comp.program.plans.iter().position(|p| p.name == name).unwrap();
    let (g, c) = (index("gb200_gpus"), index("cerebras"));
    let (vg, vc) = (comp.sensitivity[g].clone().unwrap(), comp.sensitivity[c].clone().unwrap());
    assert!(!break_even(&side(&comp, g, &vg), &side(&comp, c, &vc), 1).is_empty());
    let not = Sensitivity { varied: vec![], not_varied: comp.program.plans[g].inputs().len(), because: Some(NotVaried::Simulated) };
    assert!(break_even(&side(&comp, g, &not), &side(&comp, c, &vc), 1).is_empty());
    assert!(break_even(&side(&comp, c, &vc), &side(&comp, g, &not), 1).is_empty());
}

/// The frontier's bands: each swept point's band is the least and greatest of its
/// metrics over the nominal sweep and the sweep solved with each input at each end, every
/// other figure nominal. The ends here are solved independently: by the ILP sweep
/// (`sweep::run`, the nominal sweep's path, not the enumeration the bands use), and for
/// the plan's own four ranges, by compiling the text with the figure written alone at
/// that end. Both variables: the SLO (whose values with no point may have one at an
/// end: `feasible_inside_ranges`) and the concurrency.
/// A build varies every plan's inputs and takes every break-even as one list of tasks on
/// its threads (`vary_all`, `break_evens`): the same result as each plan varied on its
/// own and each pair compared on its own, on one thread. s04 has three plans with
/// ranges, a switch of placement and break-evens between them.
#[test]
fn a_build_varies_its_plans_together_as_each_alone() {
    use hplanc::solve::uncertainty::{break_even, vary, Side};
    let comp = crate::compile(&crate::root().join("examples/s04_cerebras_full_stack.hplan"), hplanc::Mode::Build);
    let mut switches = 0;
    for (i, plan) in comp.program.plans.iter().enumerate() {
        let (Some(solved), Some(together)) = (&comp.solved[i], &comp.sensitivity[i]) else { continue };
        let sweep = solved.sweep.as_ref().filter(|(over, _)| !matches!(over, hplanc::ir::SweepOver::Figure(..)));
        let alone = vary(plan, &solved.best, sweep, 1).unwrap();
        assert_eq!(format!("{alone:?}"), format!("{together:?}"), "plan {}", plan.name);
        switches += alone.varied.iter().filter(|v| v.switch_low.is_some() || v.switch_high.is_some()).count();
    }
    assert!(switches >= 1, "s04 changes placement inside a range");
    let side = |i: usize| Side {
        plan: &comp.program.plans[i],
        best: &comp.solved[i].as_ref().unwrap().best,
        varied: comp.sensitivity[i].as_ref().unwrap(),
    };
    let mut found = 0;
    for (c, pairs) in comp.program.compares.iter().zip(&comp.break_even) {
        for (j, together) in pairs {
            let alone = break_even(&side(c.baseline), &side(*j), 1);
            assert_eq!(format!("{alone:?}"), format!("{together:?}"));
            found += alone.len();
        }
    }
    assert!(found >= 1, "s04's plans trade places inside a range");
}

/// A figure moved that leaves part of the space as it is: a price or a power (no time,
/// memory or capacity: the nominal space repriced), or a chip or link only the plan's
/// own prefill chips use (the nominal decode options kept). The solves of such an input
/// take the nominal spaces (`Batches::reusing`) instead of building them: a repriced
/// space is the nominal one as a search keeps it (the options the dominance pass leaves
/// out already left out), its options repriced. Equal, option for option, to the spaces
/// built for the plan with the figure moved (as a search keeps them), at both ends of
/// every such input and every seed batch, over examples with speculative decoding (s08,
/// s09), variants in turn (s17), prompts split by context (s05), prefill on chips of
/// its own (s06, s11), aggregated serving and prefill pipelines.
#[test]
fn a_figure_that_leaves_part_of_the_space_reuses_the_nominal() {
    use hplanc::solve::batch::{seeds, Batches, NominalSpaces, Reuse};
    use hplanc::solve::uncertainty::reuse;
    let (mut compared, mut moved, mut decode_kept) = (0, 0, 0);
    for name in [
        "s04_cerebras_full_stack",
        "s05_long_context_kv",
        "s06_trainium_prefill_cerebras_decode",
        "s08_cerebras_draft_trainium_verify",
        "s09_lpx_draft_rubin_verify",
        "s11_rubin_cpx_prefill",
        "s17_sambanova_several_models",
    ] {
        let comp = crate::compile(&crate::root().join(format!("examples/{name}.hplan")), hplanc::Mode::Check);
        assert!(!comp.has_errors(), "{name}");
        for plan in &comp.program.plans {
            let nominal = NominalSpaces::new(plan);
            let mut built = Batches::new(plan);
            for input in plan.inputs() {
                let Some(how) = reuse(plan, &input) else { continue };
                for end in [input.low, input.high] {
                    let varied = plan.with_input(&input, end);
                    let (mut fresh, mut reused) = (Batches::new(&varied), Batches::reusing(&varied, &nominal, how));
                    for b in seeds(plan) {
                        let inst = fresh.at(b).clone();
                        assert_eq!(&inst, reused.at(b), "{name}: {} at {end}, batch {b}", input.name());
                        moved += usize::from(&inst != built.at(b));
                        decode_kept += usize::from(how == Reuse::Decode && &inst != built.at(b));
                        compared += 1;
                    }
                }
            }
        }
    }
    assert!(
        compared >= 300 && moved >= 100 && decode_kept >= 20,
        "{compared} spaces compared, {moved} moved by the figure, {decode_kept} of them with the decode options kept"
    );
}

#[test]
fn frontier_bands_are_the_sweep_solved_at_each_end() {
    let written: [(&str, &str, &str); 4] = [
        ("price = 8 $/h in [4 $/h, 400 $/h]", "price = 4 $/h", "price = 400 $/h"),
        ("price          = 0.5 $/h in [0.001 $/h, 0.75 $/h]", "price = 0.001 $/h", "price = 0.75 $/h"),
        ("layer_overhead = 1 us in [0.5 us, 40 us]", "layer_overhead = 0.5 us", "layer_overhead = 40 us"),
        ("latency = 2 us in [0.1 us, 5 us]", "latency = 0.1 us", "latency = 5 us"),
    ];
    let slo = "slo {\n    tpot <= 5 ms\n    ttft <= 3 s\n  }";
    // 600 tok/s/user has no point at the nominal figures; some inputs' ends reach it
    for sweep in ["sweep { tokens_per_s_per_user = 100 tok/s ..= 600 tok/s, points = 4 }", "sweep { concurrency = 4 ..= 256, points = 3 }"]
    {
        let text = source().replace(slo, &format!("slo {{\n    ttft <= 3 s\n  }}\n  {sweep}"));
        let comp = build(&text);
        assert!(!comp.has_errors(), "{:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
        let (plan, solved) = (&comp.program.plans[0], comp.solved[0].as_ref().unwrap());
        let (over, nominal) = solved.sweep.as_ref().unwrap();
        let r = comp.plan_report(0);
        let sens = comp.sensitivity[0].as_ref().unwrap();
        // per sweep value: each end's cost per Mtok and tokens/s per chip (None: infeasible)
        let mut ends: Vec<Vec<Option<(f64, f64)>>> = vec![Vec::new(); nominal.len()];
        let mut reaching: Vec<Vec<String>> = vec![Vec::new(); nominal.len()];
        for v in &sens.varied {
            for value in [v.input.low, v.input.high] {
                let varied = plan.with_input(&v.input, value);
                let points = hplanc::solve::sweep::run(&[(&varied, over)], 1, &|_, _| {}).remove(0);
                for (i, x) in points.iter().enumerate() {
                    let m = x.point.as_ref().map(|p| hplanc::report::metrics(&varied, p));
                    ends[i].push(m.map(|m| (m.cost_per_mtok_usd.unwrap(), m.throughput_per_chip)));
                    if x.point.is_some() && nominal[i].point.is_none() {
                        reaching[i].push(v.input.name());
                    }
                }
            }
        }
        // the plan's own ranges: written alone at an end, its nominal sweep is that end's
        for (range, low, high) in written {
            assert!(text.contains(range), "{range}");
            for alone in [low, high] {
                // nominal only: its own ranges are not what this checks
                let opts = hplanc::BuildOptions { skip_uncertainty: true, ..Default::default() };
                let c = hplanc::compile_with(
                    "afd.hplan",
                    &text.replacen(range, alone, 1),
                    Some(&crate::root().join(PLAN)),
                    hplanc::Mode::Build,
                    &opts,
                );
                let (p, s) = (&c.program.plans[0], c.solved[0].as_ref().unwrap());
                for (i, x) in s.sweep.as_ref().unwrap().1.iter().enumerate() {
                    let m = x.point.as_ref().map(|q| hplanc::report::metrics(p, q));
                    let got = m.map(|m| (m.cost_per_mtok_usd.unwrap(), m.throughput_per_chip));
                    assert!(ends[i].contains(&got), "{sweep}: `{alone}` at value {i}: {got:?} not among {:?}", ends[i]);
                }
            }
        }
        let feasible: Vec<usize> = (0..nominal.len()).filter(|&i| nominal[i].point.is_some()).collect();
        assert_eq!(feasible.len(), r.frontier.len());
        assert!(r.frontier.len() >= 3, "{sweep}: {} points", r.frontier.len());
        let mut wide = 0;
        for (f, &i) in r.frontier.iter().zip(&feasible) {
            let b = f.band.as_ref().expect("a swept point of a plan with ranges has a band");
            let costs: Vec<f64> = ends[i].iter().flatten().map(|e| e.0).chain([f.cost_per_mtok_usd.unwrap()]).collect();
            let chips: Vec<f64> = ends[i].iter().flatten().map(|e| e.1).chain([f.throughput_per_chip]).collect();
            let least = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
            let most = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs();
            let cost = b.cost_per_mtok_usd.unwrap();
            assert!(close(cost[0], least(&costs)) && close(cost[1], most(&costs)), "{sweep} at {i}: {cost:?} vs {costs:?}");
            let chip = b.throughput_per_chip;
            assert!(close(chip[0], least(&chips)) && close(chip[1], most(&chips)), "{sweep} at {i}: {chip:?} vs {chips:?}");
            assert_eq!(b.infeasible_ends.is_empty(), ends[i].iter().all(|e| e.is_some()), "{sweep} at {i}");
            wide += usize::from(cost[1] > cost[0] * 1.01);
        }
        assert!(wide >= 2, "{sweep}: the ranges move the cost at {wide} points");
        // values with no point at the nominal figures that some end reaches
        let reported = &r.sweep.as_ref().unwrap().feasible_inside_ranges;
        for (i, names) in reaching.iter().enumerate().filter(|(_, n)| !n.is_empty()) {
            let x = reported.iter().find(|x| x.value == nominal[i].value).unwrap_or_else(|| panic!("{sweep}: value {i} is reached"));
            let mut got: Vec<String> = x.with.iter().map(|w| w.input.clone()).collect();
            let mut want = names.clone();
            got.sort();
            want.sort();
            assert_eq!(got, want, "{sweep} at {i}");
        }
        assert_eq!(reported.len(), reaching.iter().filter(|n| !n.is_empty()).count());
        if sweep.contains("600 tok/s") {
            assert_eq!(reported.len(), 1, "{sweep}: 600 tok/s/user is reached only at some ends");
        }
    }
}

/// A sweep over a figure (`sweep { figure = "ITEM.FIGURE", values = ... }`) solves the
/// plan over its whole space at each value: each point is the plan compiled with the
/// figure written alone at that value (an independent path through the text), its
/// objective, placement and cost (a price moves the cost of the same placement) alike.
#[test]
fn a_figure_sweep_is_the_plan_with_the_figure_written_at_each_value() {
    let opts = hplanc::BuildOptions { skip_uncertainty: true, ..Default::default() };
    let compile = |text: &str| hplanc::compile_with("afd.hplan", text, Some(&crate::root().join(PLAN)), hplanc::Mode::Build, &opts);
    // the figure, its swept values, its text in the plan, and that text at a value
    type Case = (&'static str, &'static str, &'static str, fn(f64) -> String);
    let cases: [Case; 2] = [
        ("lp30_priced.layer_overhead", "0.5 us ..= 40 us", "layer_overhead = 1 us in [0.5 us, 40 us]", |v| {
            format!("layer_overhead = {v:e} s")
        }),
        ("rubin_priced.price", "4 $/h ..= 400 $/h", "price = 8 $/h in [4 $/h, 400 $/h]", |v| format!("price = {} $/h", v * 3600.0)),
    ];
    let mut moved = 0;
    for (figure, values, written, alone) in cases {
        let text = source().replace(
            "  minimize cost_per_mtok",
            &format!("  minimize cost_per_mtok\n  sweep {{ figure = \"{figure}\", values = {values}, points = 4 }}"),
        );
        let comp = compile(&text);
        assert!(!comp.has_errors(), "{:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
        let r = comp.plan_report(0);
        let sweep = r.sweep.as_ref().unwrap();
        assert_eq!((sweep.variable.as_str(), sweep.values), (figure, 4));
        assert_eq!(r.frontier.len(), 4, "every value has a placement");
        let placements: Vec<&str> = r.frontier.iter().map(|f| f.placement.as_str()).collect();
        moved += usize::from(placements.windows(2).any(|w| w[0] != w[1]));
        for f in &r.frontier {
            let v = f.figure_value.unwrap();
            assert!(text.contains(written), "{written}");
            let c = compile(
                &text
                    .replacen(written, &alone(v), 1)
                    .replace(&format!("  sweep {{ figure = \"{figure}\", values = {values}, points = 4 }}"), ""),
            );
            assert!(!c.has_errors(), "{figure} at {v}");
            let at = c.plan_report(0);
            let m = at.metrics.as_ref().unwrap();
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs();
            assert!(
                close(f.cost_per_mtok_usd.unwrap(), m.cost_per_mtok_usd.unwrap()),
                "{figure} at {v}: {:?} vs {:?}",
                f.cost_per_mtok_usd,
                m.cost_per_mtok_usd
            );
            assert_eq!(f.concurrency, at.workload.concurrency.unwrap(), "{figure} at {v}");
            let best = &c.solved[0].as_ref().unwrap().best;
            assert_eq!(
                f.placement,
                hplanc::report::placement_brief(&hplanc::report::placement(&c.program.plans[0], best)),
                "{figure} at {v}"
            );
        }
    }
    // the two figures move the FFN between the pools inside these values (docs/uncertainty.md)
    assert!(moved >= 1, "no sweep moved the placement");
}

/// A compare block's `break_even NAME { figure, values }` gives each value where the
/// baseline and a compared plan trade places: just below it the plan it names better
/// below is better, just above it the other, each checked by compiling the file with the
/// figure written alone there (an independent path: the ILP's answers, not the
/// enumeration the break-even bisects with).
#[test]
fn an_asked_break_even_is_where_the_two_plans_trade_places() {
    let opts = hplanc::BuildOptions { skip_uncertainty: true, ..Default::default() };
    let compile = |text: &str| hplanc::compile_with("afd.hplan", text, Some(&crate::root().join(PLAN)), hplanc::Mode::Build, &opts);
    // FFN on the LPUs against FFN on the GPUs, the rest of the test plan alike
    let base = source().replace("place decode.ffn on auto", "place decode.ffn on lpu");
    let gpu = base.replace("plan afd {", "plan gpu_ffn {").replace("place decode.ffn on lpu", "place decode.ffn on gpu");
    let plans = &base[base.find("plan afd {").unwrap()..];
    let header = &base[..base.find("plan afd {").unwrap()];
    let gpu_plan = &gpu[gpu.find("plan gpu_ffn {").unwrap()..];
    let ask = "compare ffn {\n  baseline = gpu_ffn\n  plans    = [afd]\n  break_even lp30_price { figure = \"lp30_priced.price\", values = 0.001 $/h ..= 0.75 $/h, points = 8 }\n}\n";
    let text = format!("{header}{plans}\n{gpu_plan}\n{ask}");
    let comp = compile(&text);
    assert!(!comp.has_errors(), "{:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
    let report = comp.report();
    let asked = &report.comparisons[0].asked;
    assert_eq!(asked.len(), 1);
    assert_eq!((asked[0].name.as_str(), asked[0].figure.as_str(), asked[0].tried), ("lp30_price", "lp30_priced.price", 8));
    assert!(!asked[0].crossings.is_empty(), "the LPUs' FFN wins when they are cheap enough and loses at $0.75/h");
    let written = "price          = 0.5 $/h in [0.001 $/h, 0.75 $/h]";
    assert!(text.contains(written));
    // which plan is better with the LP30 price written alone at `usd_h`
    let better_at = |usd_h: f64| -> Option<String> {
        let c = compile(&text.replacen(written, &format!("price = {usd_h} $/h"), 1));
        let r = c.report();
        let value = |name: &str| r.plans.iter().find(|p| p.name == name).and_then(|p| p.objective.value).unwrap_or(f64::INFINITY);
        let (a, g) = (value("afd"), value("gpu_ffn"));
        match a.partial_cmp(&g) {
            Some(std::cmp::Ordering::Less) => Some("afd".into()),
            Some(std::cmp::Ordering::Greater) => Some("gpu_ffn".into()),
            _ => None,
        }
    };
    for x in &asked[0].crossings {
        let usd_h = x.value * 3600.0;
        assert_eq!(better_at(usd_h * (1.0 - 1e-3)), x.better_below, "just below ${usd_h}/h");
        assert_eq!(better_at(usd_h * (1.0 + 1e-3)), x.better_above, "just above ${usd_h}/h");
        assert_ne!(x.better_below, x.better_above);
    }
}

/// A search started from floors (`batch::search_floored`) finds what a search from every
/// seed finds, for every goal with floors, at values worse than the spaces that gave
/// them: halfway to and at each worse end from the nominal spaces' floors, and halfway
/// to each better end from that end's spaces' floors (the bisection toward it); and
/// from those floors tightened by a search's spaces (`Batches::tighten`) at a value
/// worse than that search's. And it builds fewer spaces: the point of it.
#[test]
fn a_search_from_floors_finds_what_a_search_from_every_seed_finds() {
    use hplanc::ir::Objective;
    use hplanc::solve::batch::{by_goal, search_all, search_floored, Batches, Floors, Found, NominalSpaces};
    use hplanc::solve::uncertainty::more_is_worse;
    let (mut compared, mut fewer, mut built, mut floored_built) = (0, 0, 0, 0);
    for name in ["s04_cerebras_full_stack", "s09_lpx_draft_rubin_verify", "s12_deepseek_experts_on_sram", "llama405b_cs3_pipeline"] {
        let comp = crate::compile(&crate::root().join(format!("examples/{name}.hplan")), hplanc::Mode::Check);
        assert!(!comp.has_errors(), "{name}");
        for plan in &comp.program.plans {
            for objective in [
                Objective::CostPerMtok,
                Objective::Tpot,
                Objective::Ttft,
                Objective::ThroughputPerChip,
                Objective::DecodeThroughputPerChip,
                Objective::TokensPerMw,
                Objective::Chips,
            ] {
                let plan = hplanc::ir::Plan { objective, ..plan.clone() };
                let goal = hplanc::solve::goal(&plan);
                let Some(nominal) = NominalSpaces::new(&plan).floors(goal) else {
                    // the goals that count chips or watts in all have none
                    assert_eq!(objective, Objective::Chips, "{name} / {}: no floors for {goal:?}", plan.name);
                    continue;
                };
                let key = |f: &Found| f.best.as_ref().map(|p| (hplanc::solve::key(p, goal), p.instance.batch, p.choice));
                // the search from `floors` against the search from every seed, and the
                // floors tightened by the spaces it built
                let mut check = |at: &hplanc::ir::Plan, floors: &Floors, what: String| {
                    let (mut all, mut floored) = (Batches::new(at), Batches::new(at));
                    let want = search_all(&mut all, goal, &mut by_goal(goal)).unwrap();
                    let got = search_floored(&mut floored, goal, floors, &mut by_goal(goal)).unwrap();
                    assert_eq!(key(&got), key(&want), "{what}");
                    let (n, m) = (all.built().count(), floored.built().count());
                    (compared, fewer, built, floored_built) = (compared + 1, fewer + usize::from(m < n), built + n, floored_built + m);
                    floored.tighten(floors, goal)
                };
                for input in plan.inputs().iter().take(6) {
                    let (worse, better) = if more_is_worse(input.figure) { (input.high, input.low) } else { (input.low, input.high) };
                    let what = |v: f64| format!("{name} / {} for {objective:?}: {} at {v}", plan.name, input.name());
                    // toward the worse end: the nominal floors halfway, then those
                    // tightened there at the end (as a bisection's steps go)
                    let half = 0.5 * (input.nominal + worse);
                    let tightened = check(&plan.with_input(input, half), &nominal, what(half));
                    check(&plan.with_input(input, worse), &nominal, what(worse));
                    check(&plan.with_input(input, worse), &tightened, format!("{} (tightened)", what(worse)));
                    // toward the better end: its floors halfway, then those tightened
                    // there a quarter of the way
                    let end = plan.with_input(input, better);
                    if let Some(floors) = Batches::new(&end).floors(goal) {
                        let (half, quarter) = (0.5 * (input.nominal + better), 0.75 * input.nominal + 0.25 * better);
                        let tightened = check(&plan.with_input(input, half), &floors, what(half));
                        check(&plan.with_input(input, quarter), &tightened, format!("{} (tightened)", what(quarter)));
                    }
                }
            }
        }
    }
    assert!(
        compared >= 1500 && fewer * 4 >= compared * 3,
        "{compared} searches compared, {fewer} of them building fewer spaces ({built} -> {floored_built} in all)"
    );
}

/// A search that only compares with a key (`batch::search_below`, what a break-even's
/// steps ask of the plan solved second) answers as the full search's best does: a key
/// less than the one compared with where the best's is less, else the best's own (so
/// the same tie and the same "worse"), from the seeds and from floors alike, for every
/// goal with floors, at the nominal figures and at inputs' worse ends; it never builds
/// more spaces, and in most of these it builds fewer (768 searches, 683 fewer when
/// written).
#[test]
fn a_search_against_a_key_compares_as_the_best_does() {
    use hplanc::ir::Objective;
    use hplanc::solve::batch::{by_goal, search_all, search_below, Batches, Found, NominalSpaces};
    use hplanc::solve::uncertainty::{better, more_is_worse};
    let (mut compared, mut fewer) = (0, 0);
    for name in ["s04_cerebras_full_stack", "s09_lpx_draft_rubin_verify", "llama405b_cs3_pipeline"] {
        let comp = crate::compile(&crate::root().join(format!("examples/{name}.hplan")), hplanc::Mode::Check);
        assert!(!comp.has_errors(), "{name}");
        for plan in &comp.program.plans {
            for objective in [Objective::CostPerMtok, Objective::Tpot, Objective::Ttft, Objective::TokensPerMw] {
                let plan = hplanc::ir::Plan { objective, ..plan.clone() };
                let goal = hplanc::solve::goal(&plan);
                let nominal = NominalSpaces::new(&plan).floors(goal).expect("a goal with floors");
                let key = |f: &Found| f.best.as_ref().map_or(f64::INFINITY, |p| hplanc::solve::key(p, goal).0);
                let mut at = vec![(plan.clone(), None)];
                for input in plan.inputs().iter().take(3) {
                    let worse = if more_is_worse(input.figure) { input.high } else { input.low };
                    at.push((plan.with_input(input, worse), Some(&nominal)));
                }
                for (varied, floors) in &at {
                    let mut all = Batches::new(varied);
                    let best = key(&search_all(&mut all, goal, &mut by_goal(goal)).unwrap());
                    let finite = if best.is_finite() { best } else { 1.0 };
                    let cutoffs = [0.5 * finite, finite.next_down(), finite, finite.next_up(), 2.0 * finite, f64::INFINITY];
                    for below in cutoffs {
                        let mut compared_with = Batches::new(varied);
                        let got = key(&search_below(&mut compared_with, goal, *floors, Some(below), &mut by_goal(goal)).unwrap());
                        let what = format!("{name} / {} for {objective:?}, best {best:e}, compared with {below:e}", varied.name);
                        assert_eq!(better(got, below), better(best, below), "{what}: got {got:e}");
                        let (n, m) = (all.built().count(), compared_with.built().count());
                        assert!(m <= n, "{what}: {m} spaces built, the full search {n}");
                        (compared, fewer) = (compared + 1, fewer + usize::from(m < n));
                    }
                }
            }
        }
    }
    assert!(compared >= 700 && fewer * 4 >= compared * 3, "{compared} searches compared, {fewer} building fewer spaces");
}

/// A plan that a compare block's `break_even` keeps as it is (its cluster has no such
/// figure) is not solved again for it: its own solve finds the key the break-even
/// compares with (the enumeration's best over every batch, `solve::solve_with`) over
/// the spaces it built, the same key as over spaces built afresh, and the crossings
/// found from it are those found solving it again. A plan no break-even keeps has none.
/// The build finds every ask at once (`crossings_all`; kimi_k2_rubin_lpx asks two of one
/// block): each the same as alone, on one thread.
#[test]
fn a_break_even_takes_the_key_of_a_plan_that_keeps_its_answer_from_its_solve() {
    use hplanc::solve::batch::Batches;
    use hplanc::solve::uncertainty::{crossings, enumerated_key};
    let mut kept = 0;
    for name in ["s10_matx_style_chip", "s16_asic_qualcomm_companion", "kimi_k2_rubin_lpx"] {
        let comp = crate::built(&crate::root().join(format!("examples/{name}.hplan")));
        let known = |i: usize| comp.solved[i].as_ref().and_then(|s| s.enumerated);
        let keeps = |i: usize| {
            let asks = comp.program.compares.iter().filter(|c| c.baseline == i || c.plans.contains(&i)).flat_map(|c| &c.break_even);
            asks.into_iter().any(|ask| ask.input_of(i).is_none())
        };
        for (i, plan) in comp.program.plans.iter().enumerate() {
            if keeps(i) {
                let fresh = enumerated_key(&mut Batches::new(plan), hplanc::solve::goal(plan));
                assert_eq!(known(i), Some(fresh), "{name}: {}", plan.name);
                kept += 1;
            } else {
                assert_eq!(known(i), None, "{name}: {} is kept by no break-even", plan.name);
            }
        }
        for (c, asked) in comp.program.compares.iter().zip(&comp.asked) {
            for (ask, found) in c.break_even.iter().zip(asked) {
                for (j, built) in found {
                    let (base, plan) = (&comp.program.plans[c.baseline], &comp.program.plans[*j]);
                    let sides = ((base, ask.input_of(c.baseline)), (plan, ask.input_of(*j)));
                    let again = crossings(sides.0, sides.1, [None, None], &ask.values, 1).0;
                    assert!(!again.is_empty(), "{name}: {} crosses inside its range", ask.name);
                    assert_eq!(format!("{again:?}"), format!("{built:?}"), "{name}: {}", ask.name);
                }
            }
        }
    }
    assert!(kept >= 2, "{kept} plans kept their answer");
}

/// A plan repriced after its solve (a ranged price or power, or a break-even over one)
/// starts from the spaces the solve kept (`NominalSpaces::after`, `Solved::kept`): each
/// space it takes from them, repriced, is the space built afresh for the plan with the
/// figure moved, as a search keeps it, option for option, at every batch the solve built
/// and at every seed, at both ends of every such input.
#[test]
fn a_repriced_plan_takes_the_spaces_its_solve_kept() {
    use hplanc::solve::batch::{seeds, Batches, NominalSpaces, Reuse};
    use hplanc::solve::uncertainty::reuse;
    let (mut compared, mut from_solve) = (0, 0);
    for name in ["s02_rubin_gpu_only", "s06_trainium_prefill_cerebras_decode", "s09_lpx_draft_rubin_verify"] {
        let comp = crate::compile(&crate::root().join(format!("examples/{name}.hplan")), hplanc::Mode::Check);
        assert!(!comp.has_errors(), "{name}");
        for plan in &comp.program.plans {
            let mut diags = hplanc::diagnostics::Diagnostics::new();
            let also = hplanc::solve::Also { spaces: true, ..Default::default() };
            let Some(solved) = hplanc::solve::solve_with(plan, also, &mut diags) else { continue };
            let kept = solved.kept.as_ref().expect("the spaces are kept where asked");
            let mut batches: Vec<u64> = kept.batches().collect();
            from_solve += batches.len();
            batches.extend(seeds(plan));
            batches.sort_unstable();
            batches.dedup();
            let nominal = NominalSpaces::after(plan, Some(kept));
            for input in plan.inputs().into_iter().filter(|x| reuse(plan, x) == Some(Reuse::Repriced)) {
                for end in [input.low, input.high] {
                    let varied = plan.with_input(&input, end);
                    let (mut fresh, mut reused) = (Batches::new(&varied), Batches::reusing(&varied, &nominal, Reuse::Repriced));
                    for &b in &batches {
                        let inst = fresh.at(b).clone();
                        assert_eq!(&inst, reused.at(b), "{name}: {} at {end}, batch {b}", input.name());
                        compared += 1;
                    }
                }
            }
        }
    }
    assert!(compared >= 100 && from_solve >= 20, "{compared} spaces compared, {from_solve} kept by the solves");
}
