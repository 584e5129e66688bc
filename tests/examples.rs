//! Every example compiles, solves, and its summary, JSON report, Markdown report,
//! frontier CSV and trace are snapshotted.

/// A trace is one JSON document in the Chrome trace event format: named processes and
/// threads, complete events with non-negative durations on named threads, and the TPOT
/// and TTFT markers at the report's values.
fn check_trace(text: &str, plan: &hplanc::report::PlanReport) {
    let doc: serde_json::Value = serde_json::from_str(text).expect("trace.json is JSON");
    let events = doc["traceEvents"].as_array().expect("traceEvents");
    let named: std::collections::BTreeSet<(u64, u64)> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| (e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap()))
        .collect();
    let complete: Vec<&serde_json::Value> = events.iter().filter(|e| e["ph"] == "X").collect();
    assert!(!complete.is_empty());
    for e in &complete {
        assert!(e["dur"].as_f64().unwrap() >= 0.0 && e["ts"].as_f64().unwrap() >= 0.0, "{e}");
        assert!(named.contains(&(e["pid"].as_u64().unwrap(), e["tid"].as_u64().unwrap())), "unnamed thread: {e}");
        assert!(["compute", "collective", "transfer", "draft", "overhead"].contains(&e["cat"].as_str().unwrap()));
    }
    let m = plan.metrics.as_ref().unwrap();
    let marker = |name: &str| events.iter().find(|e| e["ph"] == "i" && e["name"] == name).unwrap()["ts"].as_f64().unwrap();
    let tokens = plan.speculation.as_ref().map(|s| s.expected_tokens_per_step).unwrap_or(1.0);
    assert!((marker("TPOT") - m.tpot_s * tokens * 1e6).abs() < 1e-3);
    assert!((marker("TTFT") - m.ttft_s * 1e6).abs() < 1e-3);
}

/// The diagnostic code an example expects (`Expect: E0401` in its opening comment):
/// examples whose point is that something cannot work exit 1 with it.
fn expected_error(path: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let at = text.find("Expect: ")?;
    Some(text[at + 8..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect())
}

/// `src` compiled as `name`, which must have no errors (their messages otherwise).
fn compiled(name: &str, src: &str, mode: hplanc::Mode) -> hplanc::Compilation {
    let comp = hplanc::compile(name, src, None, mode);
    assert!(!comp.has_errors(), "{:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
    comp
}

/// The text of the project's file `path` with `from` replaced by `to`, which must change it.
fn edited(path: &str, from: &str, to: &str) -> String {
    let text = std::fs::read_to_string(crate::root().join(path)).unwrap();
    let out = text.replace(from, to);
    assert_ne!(out, text, "{path} has no {from:?}");
    out
}

/// Every example that solves (none expects an error), sorted.
pub fn solvable() -> Vec<std::path::PathBuf> {
    examples().into_iter().filter(|p| expected_error(p).is_none()).collect()
}

/// Every example file, sorted.
fn examples() -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(crate::root().join("examples")).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

#[test]
fn examples_snapshot() {
    insta::glob!("../examples", "*.hplan", |path| {
        let comp = crate::built(path);
        let rendered = hplanc::diagnostics::render::render_all(&comp.diagnostics, &comp.sources, false);
        if let Some(code) = expected_error(path) {
            assert!(comp.diagnostics.iter().any(|d| d.code == code), "{}: expected {code}:\n{rendered}", path.display());
            insta::assert_snapshot!("diagnostics", rendered);
            return;
        }
        assert!(!comp.has_errors(), "{}:\n{rendered}", path.display());
        assert!(!comp.program.plans.is_empty(), "{} declares no plan", path.display());
        let report = comp.report();
        let mut summary = String::new();
        for p in &report.plans {
            assert_eq!(p.status, "optimal", "{}: plan {} not proven optimal", path.display(), p.name);
            summary.push_str(&hplanc::report::human::render(p));
        }
        insta::assert_snapshot!("summary", summary);
        let markdown: Vec<String> = report.plans.iter().map(hplanc::report::markdown::render).collect();
        insta::assert_snapshot!("markdown", markdown.join("\n"));
        insta::assert_snapshot!("frontier_csv", hplanc::report::csv::render(&report.plans));
        let mut traces = Vec::new();
        for p in &report.plans {
            let t = hplanc::report::trace::render(p).expect("a solved plan has a trace");
            check_trace(&t, p);
            traces.push(t);
        }
        insta::assert_snapshot!("trace_json", traces.join("\n"));
        let json = serde_json::to_string_pretty(&report).unwrap();
        insta::with_settings!({ filters => vec![(r#""solve_s": [0-9.e+-]+"#, r#""solve_s": "[time]""#)] }, {
            insta::assert_snapshot!("json", json);
        });
    });
}

#[test]
fn example_plans_match_the_oracle_at_every_batch() {
    for entry in std::fs::read_dir(crate::root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        let comp = crate::compile(&path, hplanc::Mode::Check);
        for plan in &comp.program.plans {
            let goal = hplanc::solve::goal(plan);
            for inst in hplanc::solve::space::instances(plan, &mut vec![]) {
                let b = inst.batch;
                let ilp = hplanc::solve::ilp::solve(&inst, goal, 30.0).unwrap().choice;
                let brute = hplanc::solve::brute::best(&inst, goal);
                crate::oracle::assert_same(&inst, goal, ilp, brute, &format!("{} plan {} batch {b}", path.display(), plan.name));
            }
        }
    }
}

/// The ILP's column presolve (`ilp::within_reach`: decode options whose own chips,
/// dollars and watts at their tokens/s are already above the best pair's goal value are
/// left out of the model) keeps the optimum of every goal, not only each plan's own, at
/// every example's seed batches: the ILP with it agrees with brute force over every
/// option, and it does leave most columns out where the space is large.
#[test]
fn the_column_presolve_keeps_every_goals_optimum() {
    let mut cut = 0;
    for (what, inst) in seed_spaces() {
        for goal in hplanc::solve::Goal::ALL {
            let out = hplanc::solve::ilp::solve(&inst, goal, 30.0).unwrap();
            let brute = hplanc::solve::brute::best(&inst, goal);
            crate::oracle::assert_same(&inst, goal, out.choice, brute, &format!("{what}, {goal:?}"));
            cut += usize::from(inst.decode.len() >= 1000 && out.stats.variables * 10 < inst.decode.len());
        }
    }
    assert!(cut > 0, "no model of a thousand options or more was cut to a tenth");
}

/// The bound the column presolve, the pair oracle and the batch search order and prune
/// decode options by (`Goal::floor`: an option's goal value alone plus the least its
/// prefill adds) is below every feasible choice with that option, for every goal, at
/// every example's seed batches; where no prefill option can feed an option it is +∞
/// and no choice takes it. It is above the option's value alone somewhere (the prefill
/// it adds is the point of it).
#[test]
fn a_decode_options_floor_is_below_every_choice_with_it() {
    use hplanc::solve::space::{Choice, Feeds};
    let (mut checked, mut tighter) = (0u64, 0u64);
    for (what, inst) in seed_spaces() {
        let mut feeds = Feeds::default();
        let fed: Vec<_> = (0..inst.decode.len()).map(|d| inst.fed(d, &mut feeds)).collect();
        for goal in hplanc::solve::Goal::ALL {
            for (d, o) in inst.decode.iter().enumerate() {
                let alone = inst.alone(d);
                let floor = goal.floor(&alone, o, fed[d].as_ref());
                tighter += u64::from(floor.is_finite() && floor > goal.value(&alone) * (1.0 + 1e-6) + 1e-15);
                for (k, p) in inst.prefill.iter().enumerate() {
                    let fewest = inst.min_replicas(d, p);
                    for replicas in fewest..=(fewest + 1).min(p.max_replicas) {
                        let Some(t) = inst.totals(Choice { decode: d, prefill: k, replicas }) else { continue };
                        let v = goal.value(&t);
                        assert!(floor <= v, "{what}, {goal:?}: option {d} with prefill {k} x{replicas} is {v}, below its floor {floor}");
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 10_000, "only {checked} choices checked");
    assert!(tighter > 0, "no floor is above its option's value alone");
}

/// Every solvable example plan's space at each of its seed batches
/// (`space::instances`), each with what it is for messages.
pub fn seed_spaces() -> Vec<(String, hplanc::solve::space::Instance)> {
    let mut out = Vec::new();
    for path in solvable() {
        let comp = crate::compile(&path, hplanc::Mode::Check);
        for plan in &comp.program.plans {
            for inst in hplanc::solve::space::instances(plan, &mut vec![]) {
                out.push((format!("{} / {} at {}", crate::rel(&path), plan.name, inst.batch), inst));
            }
        }
    }
    out
}

/// Scenario 11 with `prefill` on either pool: at batch 256 one (decode, prefill) pair of
/// 126 is feasible, which microlp took its whole 30 s time limit to branch to before the
/// ILP got its feasible-pair rows (docs/solver.md). Every batch is proven optimal, well
/// inside a 5 s limit, and agrees with brute force.
#[test]
fn a_nearly_infeasible_instance_is_proven_quickly() {
    let src = std::fs::read_to_string(crate::root().join("examples/s11_rubin_cpx_prefill.hplan")).unwrap();
    let src = src.replacen("  place prefill on cpx\n", "", 1);
    let comp = compiled("s11.hplan", &src, hplanc::Mode::Check);
    let plan = comp.program.plans.iter().find(|p| p.name == "cpx_prefill").unwrap();
    let goal = hplanc::solve::goal(plan);
    let instances = hplanc::solve::space::instances(plan, &mut vec![]);
    assert!(instances.iter().any(|i| i.batch == 256));
    for inst in instances {
        let out = hplanc::solve::ilp::solve(&inst, goal, 5.0).unwrap();
        assert!(out.stats.proven, "batch {}: {:?}", inst.batch, out.stats);
        let brute = hplanc::solve::brute::best(&inst, goal);
        crate::oracle::assert_same(&inst, goal, out.choice, brute, &format!("batch {}", inst.batch));
    }
}

/// The two-generation example's layer pipeline: at every batch the DP's best cut of
/// the 126 layers equals trying every cut in both orders on the real per-layer costs.
#[test]
fn pipeline_cut_matches_every_cut_tried() {
    let comp = crate::compile(&crate::root().join("examples/llama405b_two_generations.hplan"), hplanc::Mode::Check);
    let plan = &comp.program.plans[0];
    for batch in hplanc::solve::space::batch_candidates(plan.workload.concurrency.0, plan.workload.concurrency.1) {
        let p = hplanc::solve::space::pipeline_problem(plan, batch, 2).expect("both pools have the precisions");
        let dp = p.best_per_set(2);
        let mut best: Option<f64> = None;
        for (a, b) in [(0, 1), (1, 0)] {
            for cut in 1..p.layers {
                if let Some(v) = p.evaluate(&[(a, 0, cut), (b, cut, p.layers)]) {
                    best = Some(best.map_or(v, |x: f64| x.min(v)));
                }
            }
        }
        match (dp.first(), best) {
            (Some((_, part)), Some(v)) => assert!((part.bottleneck - v).abs() <= 1e-15, "batch {batch}: DP {} vs {v}", part.bottleneck),
            (None, None) => {}
            (d, b) => panic!("batch {batch}: DP {d:?} vs every cut {b:?}"),
        }
    }
}

/// Of pools of one kind the space holds only the options on the first ones
/// (`ir::pool_kinds`, `space::on_first_pools`; a layer pipeline's DP counts them,
/// `solve::layers`). Llama-3.1-405B in fp8 (405 GB) decodes on two twin pools of 4 H100s
/// (320 GB each) only as a pipeline, alone or with one of two twin pools of 4 H200s that
/// prefill; Llama-3.1-70B in fp8 runs anywhere, colocated, split or pipelined (every pool
/// linked to every other). At every batch each plan takes as little cost and TPOT as the
/// same plan with one twin of each kind made distinct (its chip renamed), from fewer
/// options, none of them on a second twin without the first, and the ILP agrees with
/// the oracle on both.
#[test]
fn twin_pools_give_the_optimum_of_distinct_ones() {
    let src = |b: &str, d: &str| {
        let place = "  place prefill on any [c, d]\n  place decode.attn on any [a, b]\n  place decode.ffn on any [a, b]\n  place decode.layers on auto\n";
        let mut links = String::new();
        for (i, x) in ["a", "b", "c", "d"].iter().enumerate() {
            for y in ["a", "b", "c", "d"].iter().skip(i + 1) {
                links += &format!("  link {x} <-> {y} over spectrum_x\n");
            }
        }
        format!(
            "use std::chips::{{h100_sxm, h200}}\nuse std::links::{{nvlink4, spectrum_x}}\nuse std::models::{{llama3_1_405b, llama3_1_70b}}\n\
             chip h100_other = h100_sxm {{ }}\nchip h200_other = h200 {{ }}\n\
             workload w {{\n  input = 2k tok\n  output = 256 tok\n  concurrency = 1 ..= 24\n}}\n\
             cluster four {{\n  pool a = h100_sxm x 4 over nvlink4\n  pool b = {b} x 4 over nvlink4\n  pool c = h200 x 4 over nvlink4\n  pool d = {d} x 4 over nvlink4\n{links}}}\n\
             plan cost {{\n  model = llama3_1_405b {{ weights = fp8 }}\n  cluster = four\n  workload = w\n{place}  minimize cost_per_mtok\n}}\n\
             plan fast {{\n  model = llama3_1_405b {{ weights = fp8 }}\n  cluster = four\n  workload = w\n{place}  minimize tpot\n}}\n\
             plan anywhere {{\n  model = llama3_1_70b {{ weights = fp8 }}\n  cluster = four\n  workload = w\n  place decode.layers on auto\n  minimize cost_per_mtok\n}}\n"
        )
    };
    let twins = compiled("twins.hplan", &src("h100_sxm", "h200"), hplanc::Mode::Check);
    let distinct = compiled("distinct.hplan", &src("h100_other", "h200_other"), hplanc::Mode::Check);
    let mut pipelined = 0;
    let mut solved = Vec::new();
    for (t, d) in twins.program.plans.iter().zip(&distinct.program.plans) {
        solved.push((t.name.clone(), 0));
        let goal = hplanc::solve::goal(t);
        let (ti, di) = (hplanc::solve::space::instances(t, &mut vec![]), hplanc::solve::space::instances(d, &mut vec![]));
        assert_eq!(ti.len(), di.len());
        for (a, b) in ti.iter().zip(&di) {
            assert_eq!(a.batch, b.batch);
            assert!(
                a.decode.len() < b.decode.len(),
                "batch {}: {} options, {} with the twins distinct",
                a.batch,
                a.decode.len(),
                b.decode.len()
            );
            // pools b and d are the second of their kinds
            assert!(a.decode.iter().all(|o| (o.chips[1] == 0 || o.chips[0] > 0) && (o.chips[3] == 0 || o.chips[2] > 0)));
            assert!(b.decode.iter().any(|o| o.chips[1] > 0 && o.chips[0] == 0), "the distinct plan has options on b alone");
            let best = |inst: &hplanc::solve::space::Instance| {
                let out = hplanc::solve::ilp::solve(inst, goal, 30.0).unwrap();
                let brute = hplanc::solve::brute::best(inst, goal);
                crate::oracle::assert_same(inst, goal, out.choice, brute, &format!("{}: batch {}", t.name, inst.batch));
                out.choice.map(|c| (goal.value(&inst.totals(c).unwrap()), inst.decode[c.decode].clone()))
            };
            match (best(a), best(b)) {
                (Some((x, da)), Some((y, _))) => {
                    assert!((x - y).abs() <= 1e-12 * y.abs(), "{}: batch {}: {x} with twins, {y} distinct", t.name, a.batch);
                    pipelined += usize::from(da.chips.iter().filter(|&&n| n > 0).count() > 1);
                    solved.last_mut().expect("this plan's").1 += 1;
                }
                (x, y) => assert_eq!(x.is_some(), y.is_some(), "{}: batch {}", t.name, a.batch),
            }
        }
    }
    // every plan solves at several batches; the best placements of some pipeline over
    // several pools
    assert!(solved.iter().all(|(_, n)| *n >= 4), "{solved:?}");
    assert!(pipelined > 4, "{pipelined}");
}

/// `inventory = free`: the plan of tests/ui/inventory.hplan (8 GPUs are too few) solves
/// with as many GPUs as it needs, matching the oracle at every batch.
#[test]
fn free_inventory_sizes_the_pools() {
    let free = edited("tests/ui/inventory.hplan", "  workload = heavy\n", "  workload = heavy\n  inventory = free\n");
    let comp = compiled("free.hplan", &free, hplanc::Mode::Build);
    let plan = &comp.program.plans[0];
    let solved = comp.solved[0].as_ref().expect("solves");
    let chips = solved.best.instance.chips(solved.best.choice);
    assert!(chips > 8, "uses more than the 8 declared GPUs: {chips}");
    let goal = hplanc::solve::goal(plan);
    for inst in hplanc::solve::space::instances(plan, &mut vec![]) {
        let ilp = hplanc::solve::ilp::solve(&inst, goal, 30.0).unwrap().choice;
        crate::oracle::assert_same(&inst, goal, ilp, hplanc::solve::brute::best(&inst, goal), &format!("batch {}", inst.batch));
    }
}

/// frontier.svg of every example: well-formed XML, one series per plan in each of the
/// three panels, each panel with labelled axes; the multi-plan example's chart names
/// every plan in its legend.
#[test]
fn frontier_svg_is_a_chart_of_every_plan() {
    for entry in std::fs::read_dir(crate::root().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        let comp = crate::built(&path);
        let report = comp.report();
        let svg = hplanc::report::svg::render(&report.plans);
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{}: not well-formed XML: {e}", path.display()));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        let panels: Vec<_> = root.children().filter(|n| n.attribute("class") == Some("panel")).collect();
        assert_eq!(panels.len(), 3, "{}", path.display());
        for panel in &panels {
            let text = |class: &str| {
                panel.descendants().find(|n| n.attribute("class") == Some(class)).and_then(|n| n.text()).unwrap_or_default().to_string()
            };
            assert!(text("x-label").contains("tokens/s per user"), "{}", path.display());
            let y = text("y-label");
            assert!(y.contains("per chip") || y.contains("per dollar") || y.contains("per MW"), "{y}");
            // a panel without values for some plan (no prices or powers) has no series for it
            let series: Vec<&str> =
                panel.descendants().filter(|n| n.attribute("class") == Some("series")).filter_map(|n| n.attribute("data-plan")).collect();
            let with_values = |r: &hplanc::report::PlanReport| {
                r.frontier.iter().any(|f| match y.as_str() {
                    y if y.contains("per chip") => true,
                    y if y.contains("per dollar") => f.cost_per_mtok_usd.is_some(),
                    _ => f.tokens_per_s_per_mw.is_some(),
                })
            };
            let expect: Vec<&str> = report.plans.iter().filter(|r| with_values(r)).map(|r| r.name.as_str()).collect();
            if !expect.is_empty() {
                assert_eq!(series, expect, "{} panel {y}", path.display());
            }
        }
        let legend = root.children().find(|n| n.attribute("class") == Some("legend")).unwrap();
        for p in &report.plans {
            assert!(legend.descendants().any(|n| n.text() == Some(p.name.as_str())), "{} legend lacks {}", path.display(), p.name);
        }
    }
}

/// The bottleneck names the busiest track of the decode step's schedule (the pool or
/// link that bounds the step once overlap is counted), with its busy share of the step
/// (of variants served in turn, the share of the steps the timeline shows, one of each
/// size: the round would repeat them).
#[test]
fn the_bottleneck_is_the_busiest_track_of_the_step() {
    let mut checked = 0;
    for path in examples() {
        let comp = crate::built(&path);
        for r in comp.report().plans {
            let (Some(bn), Some(s)) = (&r.bottleneck, &r.schedule) else { continue };
            let busiest = s.decode.tracks.iter().max_by(|a, b| a.busy_s.total_cmp(&b.busy_s)).unwrap();
            assert!(bn.contains(&format!(" on {}, busy ", busiest.name)), "{}: {}: {bn}", path.display(), r.name);
            let period = if r.model.variants.is_some() { s.decode.makespan_s } else { s.decode.reported_s };
            let share = (100.0 * busiest.busy_s / period).round().min(100.0);
            assert!(bn.contains(&format!("busy {share:.0}% of each step")), "{}: {}: {bn}", path.display(), r.name);
            checked += 1;
        }
    }
    assert!(checked >= 30, "{checked}");
}

/// Every option's money and power are its chips' prices and powers (as deployed: `system_power`
/// where a chip declares it, else `power`), pool by pool: the
/// figures the ILP weighs are the ones the report states (for every example's plans, at
/// every batch, decode and prefill options alike).
#[test]
fn options_cost_what_their_chips_cost() {
    let mut checked = 0;
    for path in examples() {
        let comp = crate::compile(&path, hplanc::Mode::Check);
        for plan in &comp.program.plans {
            let pools = &plan.cluster.pools;
            let price = |p: usize| pools[p].chip.price.unwrap_or(0.0);
            let power = |p: usize| pools[p].chip.system_power.or(pools[p].chip.power).unwrap_or(0.0);
            let near = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1e-12);
            for inst in hplanc::solve::space::instances(plan, &mut vec![]) {
                for d in &inst.decode {
                    let usd: f64 = d.chips.iter().enumerate().map(|(p, n)| *n as f64 * price(p)).sum();
                    let watts: f64 = d.chips.iter().enumerate().map(|(p, n)| *n as f64 * power(p)).sum();
                    assert!(near(d.usd_per_s, usd) && near(d.watts, watts), "{}: {}: {d:?}", path.display(), plan.name);
                    checked += 1;
                }
                // a prefill replica: `tp` chips per stage, `pp` stages, or per share of a
                // prompt split `cp` ways by context
                for k in inst.prefill.iter().filter(|k| !k.aggregated) {
                    let chips = (k.tp * k.pp * k.cp) as f64;
                    assert!(near(k.usd_per_s, chips * price(k.pool)) && near(k.watts, chips * power(k.pool)), "{k:?}");
                }
            }
        }
    }
    assert!(checked > 1000, "{checked}");
}

/// docs/scenarios.md lists every example file.
#[test]
fn scenarios_doc_lists_every_example() {
    let doc = std::fs::read_to_string(crate::root().join("docs/scenarios.md")).unwrap();
    for path in examples() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(doc.contains(&format!("`{name}`")), "docs/scenarios.md does not list {name}");
    }
}

/// A plan that names its serving framework gets only the memory that engine lets
/// weights and KV cache use (docs/cost-model.md §11): the report's capacity for the
/// decode chips is 0.88·C − 3 GB under SGLang (C = 81559 MiB, the H100's 85.5 GB), and
/// the largest concurrency the plan can serve on one H100 drops with it.
#[test]
fn a_framework_limits_the_memory_a_plan_may_use() {
    let src = |fw: &str| {
        format!(
            "use std::chips::h100_sxm\nuse std::links::nvlink4\nuse std::models::qwen3_32b\n\
             workload w {{\n  input = 4k tok\n  output = 1k tok\n  concurrency = 1 ..= 64\n}}\n\
             cluster c {{\n  pool gpu = h100_sxm x 2 over nvlink4\n}}\n\
             plan p {{\n  model = qwen3_32b {{ weights = fp8 }}\n  cluster = c\n  workload = w\n  serving = disaggregated\n{fw}  maximize throughput_per_chip\n}}\n"
        )
    };
    let run = |fw: &str| {
        let comp = compiled("fw.hplan", &src(fw), hplanc::Mode::Build);
        comp.report().plans.remove(0)
    };
    let (plain, sglang) = (run(""), run("  framework = sglang\n"));
    let cap = |r: &hplanc::report::PlanReport| r.memory.iter().find(|m| m.stage == "decode.attn").unwrap().capacity_bytes;
    let h100 = 81559.0 * 1024.0 * 1024.0;
    assert_eq!(cap(&plain), h100);
    assert!((cap(&sglang) - (0.88 * h100 - 3e9)).abs() < 1e3, "{}", cap(&sglang));
    // a chip may tune its engine: `memory_fraction = 0.95` gives 0.95·C − 3 GB
    let tuned = src("  framework = sglang\n").replace("pool gpu = h100_sxm x 2", "pool gpu = tuned x 2")
        + "chip tuned = h100_sxm {\n  framework sglang {\n    memory_fraction = 0.95\n    source = \"a deployment's --mem-fraction-static\"\n  }\n}\n";
    let comp = compiled("fw.hplan", &tuned, hplanc::Mode::Build);
    assert!((cap(&comp.report().plans[0]) - (0.95 * h100 - 3e9)).abs() < 1e3);
    // a framework block that leaves a fixed cost out keeps the chip's own
    let own = src("  framework = vllm\n").replace("pool gpu = h100_sxm x 2", "pool gpu = own x 2")
        + "chip own = h100_sxm {\n  step_overhead = 100 us\n  framework vllm {\n    layer_overhead = 5 us\n    source = \"test\"\n  }\n}\n";
    let comp = compiled("fw.hplan", &own, hplanc::Mode::Check);
    let chip = &comp.program.plans[0].cluster.pools[0].chip;
    assert!((chip.step_overhead - 100e-6).abs() < 1e-15 && (chip.layer_overhead - 5e-6).abs() < 1e-15, "{chip:?}");
    let conc = |r: &hplanc::report::PlanReport| r.workload.concurrency;
    assert!(conc(&sglang).unwrap() < conc(&plain).unwrap(), "{:?} vs {:?}", conc(&sglang), conc(&plain));
}

/// A plan that names its serving framework waits for that engine's first-token latency
/// (docs/cost-model.md §11): TensorRT-LLM's 40 ms + 1 ms per layer (Qwen3-32B: 64 layers,
/// 104 ms) on the disaggregated path, SGLang's 20 ms + 1 ms per layer (84 ms) inside
/// aggregated serving, where the request's longer life starts slightly fewer prompts per
/// step; vLLM has none. The schedule's prefill shows it on the engine's track, and the
/// trace's TTFT marker is still at the report's TTFT.
#[test]
fn a_framework_adds_its_first_token_latency_to_ttft() {
    let src = |fw: &str, serving: &str| {
        format!(
            "use std::chips::h100_sxm\nuse std::links::nvlink4\nuse std::models::qwen3_32b\n\
             workload w {{\n  input = 2k tok\n  output = 256 tok\n  concurrency = 8\n}}\n\
             cluster c {{\n  pool gpu = h100_sxm x 4 over nvlink4\n}}\n\
             plan p {{\n  model = qwen3_32b {{ weights = fp8 }}\n  cluster = c\n  workload = w\n  serving = {serving}\n  framework = {fw}\n\
             \x20 place prefill on gpu {{ tp = 2 }}\n  place decode.attn on gpu {{ tp = 2 }}\n  minimize ttft\n}}\n"
        )
    };
    let run = |fw: &str, serving: &str| compiled("ft.hplan", &src(fw, serving), hplanc::Mode::Build).report().plans.remove(0);
    let ttft = |r: &hplanc::report::PlanReport| r.metrics.as_ref().unwrap().ttft_s;
    let (vllm, trtllm) = (run("vllm", "disaggregated"), run("trtllm", "disaggregated"));
    assert!((ttft(&trtllm) - ttft(&vllm) - 0.104).abs() < 1e-9, "{} vs {}", ttft(&trtllm), ttft(&vllm));
    let (vllm, sglang) = (run("vllm", "aggregated"), run("sglang", "aggregated"));
    let added = ttft(&sglang) - ttft(&vllm);
    assert!(added <= 0.084 + 1e-9 && added > 0.084 - 0.002, "{added}");
    for (r, fw) in [(&trtllm, "trtllm"), (&sglang, "sglang")] {
        let trace = hplanc::report::trace::render(r).unwrap();
        check_trace(&trace, r);
        assert!(trace.contains(&format!("serving engine `{fw}`")) && trace.contains("first-token latency"), "{fw}");
    }
    assert!(!hplanc::report::trace::render(&vllm).unwrap().contains("first-token latency"));
}

/// Pins fix decisions: the answer takes exactly the pinned degrees and replica count,
/// the ILP still matches the oracle over what is left, and pinning fewer prefill
/// replicas than decode needs leaves nothing feasible.
#[test]
fn pins_fix_the_decisions_they_name() {
    let src = |prefill: &str| {
        format!(
            "use std::chips::h100_sxm\nuse std::links::nvlink4\nuse std::models::llama3_1_70b\n\
             workload w {{\n  input = 2k tok\n  output = 512 tok\n  concurrency = 1 ..= 64\n}}\n\
             cluster c {{\n  pool gpu = h100_sxm x 8 over nvlink4\n}}\n\
             plan p {{\n  model = llama3_1_70b {{ weights = fp8 }}\n  cluster = c\n  workload = w\n  serving = disaggregated\n\
             \x20 place prefill on gpu {{ {prefill} }}\n  place decode.attn on gpu {{ tp = 2, dp = 2 }}\n}}\n"
        )
    };
    let comp = compiled("pins.hplan", &src("tp = 2, replicas = 2"), hplanc::Mode::Build);
    let r = comp.report().plans.remove(0);
    let row = |stage: &str| r.placement.iter().find(|x| x.stage == stage).unwrap().clone();
    assert_eq!((row("prefill").tp, row("prefill").replicas, row("prefill").chips), (2, 2, 4));
    assert_eq!((row("decode.attn").tp, row("decode.attn").dp, row("decode.attn").chips), (2, 2, 4));
    let plan = &comp.program.plans[0];
    let goal = hplanc::solve::goal(plan);
    for inst in hplanc::solve::space::instances(plan, &mut vec![]) {
        assert!(inst.decode.iter().all(|d| matches!(d.attention(), (_, 2, 2))));
        assert!(inst.prefill.iter().all(|p| p.tp == 2 && p.fixed_replicas == Some(2)));
        let ilp = hplanc::solve::ilp::solve(&inst, goal, 30.0).unwrap().choice;
        crate::oracle::assert_same(&inst, goal, ilp, hplanc::solve::brute::best(&inst, goal), &format!("batch {}", inst.batch));
        if let Some(c) = ilp {
            assert_eq!(c.replicas, 2);
        }
    }
    // one pinned replica of one GPU keeps up only with smaller batches: concurrency 23,
    // the largest it keeps up with; unpinned, two replicas at 60 (the most two keep up
    // with) are cheaper per token than three at 64
    let run = |prefill: &str| {
        let comp = compiled("pins.hplan", &src(prefill), hplanc::Mode::Build);
        comp.report().plans.remove(0)
    };
    let (one, free) = (run("tp = 1, replicas = 1"), run("tp = 1"));
    let replicas = |r: &hplanc::report::PlanReport| r.placement.iter().find(|x| x.stage == "prefill").unwrap().replicas;
    assert_eq!((replicas(&one), one.workload.concurrency), (1, Some(23)));
    assert_eq!((replicas(&free), free.workload.concurrency), (2, Some(60)));
    // at 24 and more it cannot
    let above = hplanc::compile("pins.hplan", &src("tp = 1, replicas = 1").replace("1 ..= 64", "24 ..= 64"), None, hplanc::Mode::Build);
    assert!(above.has_errors() && above.solved.iter().all(|s| s.is_none()));
}

/// Llama-3.1-70B (FP8) on 8 H100s over NVLink 4, served disaggregated with prefill pinned
/// to two stages of TP2: `input` prompts, 512-token answers, concurrency `1 ..= hi`, and
/// `extra` lines in the plan.
fn pipelined_prefill(input: &str, hi: u64, extra: &str) -> String {
    format!(
        "use std::chips::h100_sxm\nuse std::links::nvlink4\nuse std::models::llama3_1_70b\n\
         workload w {{\n  input = {input} tok\n  output = 512 tok\n  concurrency = 1 ..= {hi}\n}}\n\
         cluster c {{\n  pool gpu = h100_sxm x 8 over nvlink4\n}}\n\
         plan p {{\n  model = llama3_1_70b {{ weights = fp8 }}\n  cluster = c\n  workload = w\n  serving = disaggregated\n\
         \x20 place prefill on gpu {{ tp = 2, pp = 2 }}\n{extra}}}\n"
    )
}

/// A `pp` pin makes every prefill replica a pipeline of that many stages even where one
/// group holds the prompt (Llama-3.1-70B in FP8 on TP2 does): the answer's prefill is two
/// stages of two GPUs, layers 0..40 and 40..80, each replica's four GPUs counted, and a
/// replica starts a prompt every slowest stage; the ILP agrees with the oracle over
/// what the pin leaves.
#[test]
fn a_pp_pin_makes_prefill_a_pipeline() {
    let src = &pipelined_prefill("2k", 64, "");
    let comp = compiled("pp.hplan", src, hplanc::Mode::Build);
    every_batch_matches_the_oracle(&comp, |inst| {
        assert!(!inst.prefill.is_empty());
        for p in inst.prefill.iter() {
            assert_eq!((p.tp, p.pp, p.chips()), (2, 2, 4));
            let ranges: Vec<(u64, u64)> = p.stages.iter().map(|s| (s.first, s.end)).collect();
            assert_eq!(ranges, vec![(0, 40), (40, 80)]);
            let slowest = p.stages.iter().map(|s| s.time()).fold(0.0, f64::max);
            assert!(p.interval == slowest && p.interval < p.time);
        }
    });
    // the report's rows: one per stage, each with its replicas' groups of two GPUs
    let r = comp.report().plans.remove(0);
    let rows: Vec<_> = r.placement.iter().filter(|x| x.stage == "prefill").map(|x| (x.tp, x.pp, x.chips / x.replicas, x.layers)).collect();
    assert_eq!(rows, vec![(2, 2, 2, Some([0, 40])), (2, 2, 2, Some([40, 80]))]);
    // unpinned, one TP2 group holds the prompt and no pipeline is offered
    let free = compiled("pp.hplan", &src.replace("tp = 2, pp = 2", "tp = 2"), hplanc::Mode::Check);
    let insts = hplanc::solve::space::instances(&free.program.plans[0], &mut vec![]);
    assert!(insts.iter().all(|i| i.prefill.iter().all(|p| p.pp == 1)));
}

/// s05's items (the 1M-token workload, Rubin's 72 GPUs) and one plan there that minimises
/// `goal`, with `pins` lines in its body.
fn on_s05_rubin(pins: &str, goal: &str) -> String {
    let text = std::fs::read_to_string(crate::root().join("examples/s05_long_context_kv.hplan")).unwrap();
    let head = text.split("plan rubin_hbm").next().unwrap();
    format!("{head}plan p {{\n  model = llama_1m\n  cluster = vera_rubin\n  workload = agentic_1m\n{pins}  minimize {goal}\n}}\n")
}

/// KV parallelism (docs/cost-model.md §4f): one 1M-token Llama-3.1-70B sequence decoded
/// as fast as 72 Rubin GPUs can (s05's `rubin_fastest`). Its 8 KV heads hold one head
/// group's cache on each of 8 GPUs; the answer runs 32, each head group's 4 splitting its
/// cache by context, and steps at least 20% faster than the fastest placement without a
/// context split (`cp = 1`). The report's row, placement and schedule (a combine on
/// every layer) say so, and the ILP agrees with the oracle at every seed batch.
#[test]
fn a_long_sequence_decodes_fastest_with_its_cache_split_by_context() {
    let src = |pins: &str| on_s05_rubin(pins, "tpot");
    let comp = compiled("cp.hplan", &src(""), hplanc::Mode::Build);
    let r = comp.report().plans.remove(0);
    let attn = r.placement.iter().find(|x| x.stage == "decode.attn").unwrap();
    assert_eq!((attn.chips, attn.tp, attn.cp), (32, 32, Some(4)), "{attn:?}");
    let best = &comp.solved[0].as_ref().unwrap().best;
    let placed = hplanc::report::describe_placement(&comp.program.plans[0], best);
    assert!(placed.contains("each sequence's KV cache split 4 ways by context"), "{placed}");
    let sched = comp.schedules[0].as_ref().unwrap();
    let combines = sched.decode.ops.iter().filter(|o| o.name.starts_with("KV combine + all-reduce")).count();
    assert_eq!(combines, 80, "one a layer");
    // the step waits on those collectives, and the bottleneck says they include the combines
    let bottleneck = r.bottleneck.as_deref().unwrap();
    assert!(bottleneck.starts_with("tensor-parallel all-reduces and the KV split's combines on link `nvlink6`"), "{bottleneck}");
    let plain = compiled("cp1.hplan", &src("  place decode.attn on gpu { cp = 1 }\n"), hplanc::Mode::Build).report().plans.remove(0);
    assert!(plain.placement.iter().all(|x| x.cp.is_none()));
    let (fast, slow) = (r.metrics.as_ref().unwrap().tpot_s, plain.metrics.as_ref().unwrap().tpot_s);
    assert!(fast < 0.8 * slow, "{fast} vs {slow}");
    // at every batch, 64 GPUs split each head group's cache 8 ways, where the copies of
    // 8 sequences' caches on 8 GPUs a head group no longer fit (batch 8 and up)
    every_batch_matches_the_oracle(&comp, |inst| assert!(inst.decode.iter().any(|d| d.context_split() == 8), "batch {}", inst.batch));
}

/// Context parallelism of a prompt (docs/cost-model.md §14b): s05's 1M-token prompt
/// prefilled for the soonest first token (`rubin_first_token`) splits over 16 groups of
/// 4 Rubin GPUs, each prefilling a 16th and passing its cache around a ring, sooner than
/// any placement without the split (`cp = 1`) by at least a quarter. The report's row,
/// placement and schedule (the ring with each layer's all-reduces) say so, and the ILP
/// agrees with the oracle at every seed batch.
#[test]
fn a_long_prompt_prefills_soonest_split_by_context() {
    let src = |pins: &str| on_s05_rubin(pins, "ttft");
    let comp = compiled("cp_prefill.hplan", &src(""), hplanc::Mode::Build);
    let r = comp.report().plans.remove(0);
    let pre = r.placement.iter().find(|x| x.stage == "prefill").unwrap();
    assert_eq!((pre.chips, pre.tp, pre.cp), (64, 4, Some(16)), "{pre:?}");
    let best = &comp.solved[0].as_ref().unwrap().best;
    assert_eq!(best.prefill().chips(), 64);
    let placed = hplanc::report::describe_placement(&comp.program.plans[0], best);
    assert!(placed.contains("each prompt split 16 ways by context"), "{placed}");
    let sched = comp.schedules[0].as_ref().unwrap();
    assert_eq!(sched.prefill.ops.iter().filter(|o| o.name.starts_with("all-reduces + KV ring")).count(), 80);
    let plain = compiled("cp1_prefill.hplan", &src("  place prefill on gpu { cp = 1 }\n"), hplanc::Mode::Build).report().plans.remove(0);
    assert!(plain.placement.iter().all(|x| x.cp.is_none()));
    let (soon, late) = (r.metrics.as_ref().unwrap().ttft_s, plain.metrics.as_ref().unwrap().ttft_s);
    assert!(soon < 0.75 * late, "{soon} vs {late}");
    every_batch_matches_the_oracle(&comp, |inst| assert!(inst.prefill.iter().any(|p| p.cp == 16), "batch {}", inst.batch));
}

/// A prefill pipeline may pass a long prompt along in chunks: 16k-token prompts in
/// chunks of 2,048 through two stages of TP2, the plan minimising TTFT. Each pipeline is
/// offered whole and in 8 chunks; the answer takes the chunks (its first token sooner
/// than the whole prompt's), the report says so on each stage's row and in the
/// placement, the schedule draws 8 bars a stage and ends at the TTFT, and the ILP agrees
/// with the oracle at every seed batch.
#[test]
fn a_prefill_pipeline_passes_a_long_prompt_in_chunks() {
    let src = &pipelined_prefill("16k", 16, "  chunk = 2048 tok\n  minimize ttft\n");
    let comp = compiled("chunks.hplan", src, hplanc::Mode::Build);
    let plan = &comp.program.plans[0];
    every_batch_matches_the_oracle(&comp, |inst| {
        let shapes: Vec<(u64, u64, u64)> = inst.prefill.iter().map(|p| (p.tp, p.pp, p.chunks())).collect();
        assert_eq!(shapes, vec![(2, 2, 1), (2, 2, 8)]);
        assert!(inst.prefill[1].time < inst.prefill[0].time && inst.prefill[1].interval > inst.prefill[0].interval);
    });
    let best = &comp.solved[0].as_ref().unwrap().best;
    assert_eq!(best.prefill().chunks(), 8);
    let r = comp.report().plans.remove(0);
    let rows: Vec<_> = r.placement.iter().filter(|x| x.stage == "prefill").map(|x| (x.layers, x.chunks)).collect();
    assert_eq!(rows, vec![(Some([0, 40]), Some(8)), (Some([40, 80]), Some(8))]);
    let placed = hplanc::report::describe_placement(plan, best);
    assert!(placed.contains("a pipeline of 2 stages, the prompt in 8 chunks"), "{placed}");
    let sched = comp.schedules[0].as_ref().unwrap();
    let bars = sched.prefill.ops.iter().filter(|o| o.name.starts_with("prefill chunk")).count();
    assert_eq!(bars, 16);
    assert!((sched.prefill.makespan - r.metrics.as_ref().unwrap().ttft_s).abs() <= 1e-9 * sched.prefill.makespan);
}

/// Rubin GPUs with the FFN on 256 LP30s (Llama-3.1-70B, fp8) at `concurrency`, the
/// FFN's placement pinned with `ffn_pins`.
fn rubin_lpx(concurrency: &str, ffn_pins: &str) -> String {
    format!(
        "use std::chips::{{rubin, lp30}}\nuse std::links::{{nvlink6, groq3_c2c, spectrum_x}}\nuse std::models::llama3_1_70b\n\
         chip rubin_priced = rubin {{ price = 8.00 $/h }}\nchip lp30_priced = lp30 {{ price = 0.50 $/h }}\n\
         workload w {{\n  input = 2k tok\n  output = 512 tok\n  concurrency = {concurrency}\n}}\n\
         cluster c {{\n  pool gpu = rubin_priced x 8 over nvlink6\n  pool lpu = lp30_priced x 256 over groq3_c2c\n  link gpu <-> lpu over spectrum_x\n}}\n\
         plan p {{\n  model = llama3_1_70b {{ weights = fp8 }}\n  cluster = c\n  workload = w\n\
         \x20 place prefill on gpu\n  place decode.attn on gpu\n  place decode.ffn on lpu {{ {ffn_pins} }}\n  minimize cost_per_mtok\n}}\n"
    )
}

/// At every batch of the compilation's first plan, each instance passes `check` and the
/// ILP finds the oracle's optimum.
fn every_batch_matches_the_oracle(comp: &hplanc::Compilation, check: impl Fn(&hplanc::solve::space::Instance)) {
    every_batch_of_matches_the_oracle(&comp.program.plans[0], check)
}

/// [`every_batch_matches_the_oracle`] for `plan`.
fn every_batch_of_matches_the_oracle(plan: &hplanc::ir::Plan, check: impl Fn(&hplanc::solve::space::Instance)) {
    let goal = hplanc::solve::goal(plan);
    for inst in hplanc::solve::space::instances(plan, &mut vec![]) {
        check(&inst);
        let ilp = hplanc::solve::ilp::solve(&inst, goal, 30.0).unwrap().choice;
        crate::oracle::assert_same(&inst, goal, ilp, hplanc::solve::brute::best(&inst, goal), &format!("batch {}", inst.batch));
    }
}

/// Tensor parallelism takes any degree that divides what it splits: Llama-3.1-70B's FFN
/// is 28,672 wide (2^12 x 7), so 224 LP30s can split it though 224 is not a power of two;
/// pinned, the answer takes it, and the ILP still matches the oracle at every batch.
#[test]
fn a_degree_that_divides_the_width_need_not_be_a_power_of_two() {
    let comp = compiled("odd_tp.hplan", &rubin_lpx("1 ..= 16", "tp = 224"), hplanc::Mode::Build);
    let r = comp.report().plans.remove(0);
    let ffn = r.placement.iter().find(|x| x.stage == "decode.ffn").unwrap();
    assert_eq!((ffn.chips, ffn.tp), (224, 224), "{ffn:?}");
    every_batch_matches_the_oracle(&comp, |inst| assert!(inst.decode.iter().all(|d| d.ffn().is_none_or(|(_, t, _)| t == 224))));
}

/// Ping-pong takes up to 8 microbatches: pinned at 6 (96 sequences, 16 per microbatch),
/// the answer runs 6, its TPOT is the steady-state period of docs/cost-model.md §4b for 6
/// microbatches (and the FFN's layer groups), and the ILP matches the oracle.
#[test]
fn ping_pong_runs_up_to_eight_microbatches() {
    let comp = compiled("mb6.hplan", &rubin_lpx("96", "microbatches = 6"), hplanc::Mode::Build);
    let r = comp.report().plans.remove(0);
    let ffn = r.placement.iter().find(|x| x.stage == "decode.ffn").unwrap();
    assert_eq!(ffn.microbatches, 6, "{ffn:?}");
    let d = comp.solved[0].as_ref().unwrap().best.decode();
    let hplanc::solve::space::Layout::PingPong(p) = &d.layout else { panic!("{:?}", d.layout) };
    let (t_a, t_e, t_c, other) = (p.t_a, p.t_e, p.t_c, p.other);
    let period = hplanc::cost::pingpong_sharded(t_a, t_e, t_c, 6, comp.program.plans[0].model.layers, p.groups);
    assert!((d.tpot - (period + 6.0 * other + d.breakdown.overhead)).abs() < 1e-9 * d.tpot, "{} vs {period}", d.tpot);
    every_batch_matches_the_oracle(&comp, |inst| assert!(inst.decode.iter().all(|d| d.microbatches() == 6)));
}

/// Attention as data-parallel groups feeding one FFN on another pool (docs/cost-model.md
/// §4d): pinned at 2 groups of 2 Rubin GPUs, 96 sequences in 4 microbatches, a group holds
/// 48 sequences, a microbatch 24 (the FFN's tokens and the crossing's) and a group's
/// microbatch 12 (its attention). The answer's per-layer times, chips and TPOT equal the
/// cost functions applied by hand to those counts, the report's row carries the groups,
/// and the ILP matches the oracle at every batch.
#[test]
fn data_parallel_attention_feeds_one_disaggregated_ffn() {
    let text = rubin_lpx("96", "microbatches = 4").replace("place decode.attn on gpu\n", "place decode.attn on gpu { tp = 2, dp = 2 }\n");
    let comp = compiled("afd_dp.hplan", &text, hplanc::Mode::Build);
    let r = comp.report().plans.remove(0);
    let attn = r.placement.iter().find(|x| x.stage == "decode.attn").unwrap();
    assert_eq!((attn.chips, attn.tp, attn.dp), (4, 2, 2), "{attn:?}");
    let d = comp.solved[0].as_ref().unwrap().best.decode();
    let hplanc::solve::space::Layout::PingPong(p) = &d.layout else { panic!("{:?}", d.layout) };
    assert_eq!((p.attn, p.dp, p.microbatches, d.chips[0]), ((0, 2), 2, 4, 4));
    assert_eq!(d.chips[1], p.ffn.1 * p.groups);
    // a group's 12 sequences per microbatch, a microbatch's 24 tokens crossing over its 4
    // attention chips, each group's engine scheduling its 48 sequences
    assert_pingpong_by_hand(&comp, 4, (12, 24, 48));
    every_batch_matches_the_oracle(&comp, |inst| assert!(inst.decode.iter().all(|d| d.attention().2 == 2 && d.ffn().is_some())));
}

/// The solved ping-pong option of `comp`'s first plan (attention on the first pool, the
/// FFN on the second) against the cost functions applied by hand: its attention over a group's
/// microbatch of `cell` sequences (less the embedding and LM head, plus its all-reduce),
/// the FFN over a microbatch's `micro` tokens (plus its per-layer fixed cost and
/// all-reduce), the crossings of those tokens striped over `senders` attention chips or
/// the FFN's, and the TPOT: the sharded ping-pong period of its microbatches plus each
/// microbatch's embedding and LM head and the fixed costs of a group scheduling `group`
/// sequences.
fn assert_pingpong_by_hand(comp: &hplanc::Compilation, senders: u64, (cell, micro, group): (u64, u64, u64)) {
    use hplanc::{cost, ir::graph, ir::Stage};
    let plan = &comp.program.plans[0];
    let (m, layers) = (&plan.model, plan.model.layers as f64);
    let (gpu, lpu) = (&plan.cluster.pools[0], &plan.cluster.pools[1]);
    let d = comp.solved[0].as_ref().unwrap().best.decode();
    let hplanc::solve::space::Layout::PingPong(p) = &d.layout else { panic!("{:?}", d.layout) };
    let (ta, tf, mb) = (p.attn.1, p.ffn.1, p.microbatches);
    let context = hplanc::solve::space::decode_contexts(plan).0;
    let (cell_g, micro_g) =
        (graph::build(m, graph::Step::Decode { batch: cell, context }), graph::build(m, graph::Step::Decode { batch: micro, context }));
    let price = cost::node_times(&gpu.chip).unwrap();
    let other: f64 = cell_g.nodes().filter(|n| n.layers.is_none()).map(|n| price(n, ta, m.kv_split(ta)).unwrap().time()).sum();
    let attn_time = cost::stage_time(&cell_g, &[Stage::DecodeAttn], &gpu.chip, ta, m.kv_split(ta)).unwrap().time;
    let t_a = (attn_time - other) / layers + cost::allreduce_on(&gpu.chip, cost::activation_bytes(m, cell), ta, gpu.link.as_ref().unwrap());
    let ffn_time = cost::stage_time(&micro_g, &[Stage::DecodeFfn], &lpu.chip, tf, 1).unwrap().time + layers * lpu.chip.layer_overhead;
    let t_e = ffn_time / layers + cost::allreduce_on(&lpu.chip, cost::activation_bytes(m, micro), tf, lpu.link.as_ref().unwrap());
    let link = &plan.cluster.link_between(0, 1).unwrap().link;
    let t_c = cost::crossings_time(m, micro, link, senders.min(tf)) / (2.0 * layers);
    for (got, want, what) in [(p.other, other, "other"), (p.t_a, t_a, "t_a"), (p.t_e, t_e, "t_e"), (p.t_c, t_c, "t_c")] {
        assert!((got - want).abs() <= 1e-9 * want, "{what}: {got} against {want}");
    }
    let overhead = cost::step_fixed(&gpu.chip, group) + lpu.chip.step_overhead;
    let want = cost::pingpong_sharded(t_a, t_e, t_c, mb, plan.model.layers, p.groups) + mb as f64 * other + overhead;
    assert!((d.tpot - want).abs() <= 1e-9 * want, "TPOT {} against {want}", d.tpot);
}

/// Ping-pong takes up to 32 microbatches (`ir::MICROBATCHES`: 1 to 8, 12, 16, 24, 32).
/// Pinned to 16 at 96 sequences with one TP2 attention group, each microbatch carries
/// ⌈96/16⌉ = 6 sequences and the option's TPOT is the ping-pong period of 16 such
/// microbatches, by hand from the cost functions; the ILP matches the oracle at every
/// batch of the range (a layout of 16 exists from batch 16). Unpinned, the space offers
/// every count up to the batch.
#[test]
fn ping_pong_runs_up_to_thirty_two_microbatches() {
    let text = rubin_lpx("96", "microbatches = 16").replace("place decode.attn on gpu\n", "place decode.attn on gpu { tp = 2, dp = 1 }\n");
    let comp = compiled("afd_mb16.hplan", &text, hplanc::Mode::Build);
    let r = comp.report().plans.remove(0);
    let ffn = r.placement.iter().find(|x| x.stage == "decode.ffn").unwrap();
    assert_eq!(ffn.microbatches, 16, "{ffn:?}");
    let d = comp.solved[0].as_ref().unwrap().best.decode();
    let hplanc::solve::space::Layout::PingPong(p) = &d.layout else { panic!("{:?}", d.layout) };
    assert_eq!((p.attn, p.dp, p.microbatches), ((0, 2), 1, 16));
    // 6 sequences per microbatch crossing over the group's 2 chips, 96 scheduled
    assert_pingpong_by_hand(&comp, 2, (6, 6, 96));
    every_batch_matches_the_oracle(&comp, |inst| assert!(inst.decode.iter().all(|d| d.microbatches() == 16)));
    // unpinned, every count up to the batch
    let free = compiled("afd_any_mb.hplan", &rubin_lpx("1 ..= 64", ""), hplanc::Mode::Check);
    let plan = &free.program.plans[0];
    let prefill = hplanc::solve::space::prefill_options(plan, &mut vec![]);
    for (batch, want) in [(20, vec![1, 2, 3, 4, 5, 6, 7, 8, 12, 16]), (40, vec![1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 32])] {
        let inst = hplanc::solve::space::instance(plan, batch, &prefill, &mut vec![]);
        let counts: std::collections::BTreeSet<u64> = inst.decode.iter().filter(|d| d.ffn().is_some()).map(|d| d.microbatches()).collect();
        assert_eq!(counts.into_iter().collect::<Vec<_>>(), want, "microbatch counts at batch {batch}");
    }
    // and the seeds of the batch search hold every count in the range
    let seeds = hplanc::solve::batch::seeds(plan);
    assert!([12, 16, 24, 32].iter().all(|m| seeds.contains(m)), "{seeds:?}");
}

/// Unpinned, data-parallel attention groups are in the space beside one group: at 64
/// sequences on a pool of 8 Rubin GPUs, 1, 2, 4 and 8 groups, each option's attention
/// chips its groups'.
#[test]
fn the_solver_weighs_attention_groups_against_one_group() {
    let text = rubin_lpx("64", "");
    let comp = compiled("afd_any_dp.hplan", &text, hplanc::Mode::Build);
    let plan = &comp.program.plans[0];
    let inst = hplanc::solve::space::instance(plan, 64, &hplanc::solve::space::prefill_options(plan, &mut vec![]), &mut vec![]);
    let dps: std::collections::BTreeSet<u64> = inst.decode.iter().filter(|d| d.ffn().is_some()).map(|d| d.attention().2).collect();
    assert_eq!(dps.into_iter().collect::<Vec<_>>(), vec![1, 2, 4, 8], "groups tried on a pool of 8 at 64 sequences");
    // every option's attention chips are its groups'
    for d in inst.decode.iter().filter(|d| d.ffn().is_some()) {
        let (pool, tp, dp) = d.attention();
        assert_eq!(d.chips[pool], tp * dp);
    }
}

/// Kimi K2's experts (FP4, 500 GB of FFN weights) on LP30s of 500 MB each: no expert-
/// parallel group holds every layer (384 chips would need 1.3 GB each), so the FFN's
/// layers spread over groups of chips, the fewest that hold them (docs/cost-model.md §4):
/// every such option's group count is the least whose busiest group fits (the layers'
/// FFN weights summed by hand), its chips are the groups', and its TPOT is the sharded
/// ping-pong period; the plan solves and the ILP matches the oracle at every batch.
#[test]
fn an_ffn_too_large_for_one_group_spreads_its_layers_over_groups() {
    let text = "use std::chips::{rubin, lp30}\nuse std::links::{nvlink6, groq3_c2c, spectrum_x}\nuse std::models::kimi_k2\n\
                chip rubin_priced = rubin { price = 8.00 $/h }\nchip lp30_priced = lp30 { price = 0.50 $/h }\n\
                workload w {\n  input = 8k tok\n  output = 1k tok\n  concurrency = 1 ..= 64\n}\n\
                cluster c {\n  pool gpu = rubin_priced x 8 over nvlink6\n  pool lpu = lp30_priced x 2048 over groq3_c2c\n  link gpu <-> lpu over spectrum_x\n}\n\
                plan p {\n  model = kimi_k2 { weights = fp4 }\n  cluster = c\n  workload = w\n\
                \x20 place prefill on gpu\n  place decode.attn on gpu\n  place decode.ffn on lpu\n}\n";
    let comp = compiled("kimi_lpx.hplan", text, hplanc::Mode::Build);
    let r = comp.report().plans.remove(0);
    let ffn = r.placement.iter().find(|x| x.stage == "decode.ffn").unwrap();
    assert!(ffn.pp > 1 && ffn.chips == ffn.ep * ffn.pp, "{ffn:?}");
    let plan = &comp.program.plans[0];
    let m = &plan.model;
    let layers = m.layers;
    let ffn_bytes = |lo: u64, hi: u64| (lo..hi).map(|l| m.ffn_params_of(l)).sum::<u64>() as f64 * 0.5;
    // the busiest group's bytes per chip with g groups of t chips (the first L mod g hold one more layer);
    // t chips that do not divide the 384 experts hold ⌈384/t⌉ slots each (redundant experts)
    let busiest = |g: u64, t: u64| {
        let share = m.ffn_weight_bytes_per_chip(t) / m.ffn_weight_bytes();
        let (mut lo, mut most) = (0, 0.0f64);
        for i in 0..g {
            let hi = lo + layers / g + u64::from(i < layers % g);
            most = most.max(ffn_bytes(lo, hi) * share);
            lo = hi;
        }
        most
    };
    let capacity = 500e6;
    let (seen, redundant) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    every_batch_matches_the_oracle(&comp, |inst| {
        for d in inst.decode.iter() {
            let Some((f, t, g)) = d.ffn() else { continue };
            assert!(busiest(g, t) <= capacity * (1.0 + 1e-12), "{g} groups of {t}: {}", busiest(g, t));
            assert!(g == 1 || busiest(g - 1, t) > capacity, "{} groups of {t} would do", g - 1);
            assert_eq!(d.chips[f], t * g);
            let hplanc::solve::space::Layout::PingPong(p) = &d.layout else { panic!("{:?}", d.layout) };
            let want = hplanc::cost::pingpong_sharded(p.t_a, p.t_e, p.t_c, p.microbatches, layers, g)
                + p.microbatches as f64 * p.other
                + d.breakdown.overhead;
            assert!((d.tpot - want).abs() <= 1e-9 * want, "{} against {want}", d.tpot);
            seen.set(seen.get() + usize::from(g > 1));
            redundant.set(redundant.get() + usize::from(384 % t != 0));
        }
    });
    assert!(seen.get() > 0);
    assert!(redundant.get() > 0, "groups of 256 (2 expert slots per chip, 128 redundant) are options");
}

/// `chunk` sets the prompt tokens an aggregated step carries: a 2k-token prompt takes
/// one 8192-token step by default and four at `chunk = 512 tok`, each also carrying the
/// decode batch, so the first token comes later; the solver's answer agrees with the
/// oracle over that space.
#[test]
fn chunk_sets_the_steps_a_prompt_takes() {
    let src = |chunk: &str| {
        format!(
            "use std::chips::h100_sxm\nuse std::links::nvlink4\nuse std::models::llama3_1_70b\n\
             workload w {{\n  input = 2k tok\n  output = 512 tok\n  concurrency = 16\n}}\n\
             cluster c {{\n  pool gpu = h100_sxm x 8 over nvlink4\n}}\n\
             plan p {{\n  model = llama3_1_70b {{ weights = fp8 }}\n  cluster = c\n  workload = w\n  serving = aggregated\n{chunk}\
             \x20 place decode.attn on gpu {{ tp = 4 }}\n}}\n"
        )
    };
    let run = |chunk: &str| {
        let comp = compiled("chunk.hplan", &src(chunk), hplanc::Mode::Build);
        let plan = &comp.program.plans[0];
        let goal = hplanc::solve::goal(plan);
        for inst in hplanc::solve::space::instances(plan, &mut vec![]) {
            let ilp = hplanc::solve::ilp::solve(&inst, goal, 30.0).unwrap().choice;
            crate::oracle::assert_same(&inst, goal, ilp, hplanc::solve::brute::best(&inst, goal), &format!("batch {}", inst.batch));
        }
        comp.report().plans.remove(0)
    };
    let (whole, small) = (run(""), run("  chunk = 512 tok\n"));
    let s = |r: &hplanc::report::PlanReport| r.serving.clone().expect("a serving report");
    assert_eq!((s(&whole).mode, s(&whole).chunk_tokens, s(&whole).prompt_steps), ("aggregated", Some(8192), Some(1)));
    assert_eq!((s(&small).mode, s(&small).chunk_tokens, s(&small).prompt_steps), ("aggregated", Some(512), Some(4)));
    let ttft = |r: &hplanc::report::PlanReport| r.metrics.as_ref().unwrap().ttft_s;
    assert!(ttft(&small) > ttft(&whole), "{} vs {}", ttft(&small), ttft(&whole));
}

/// The decode options of `src`'s first plan at batch `batch`.
fn decode_options(src: &str, batch: u64) -> Vec<hplanc::solve::space::DecodeOption> {
    let comp = compiled("fixed.hplan", src, hplanc::Mode::Check);
    let plan = &comp.program.plans[0];
    let inst = hplanc::solve::space::instances(plan, &mut vec![]).into_iter().find(|i| i.batch == batch).expect("batch");
    inst.decode
}

/// An FFN pool of an attention-FFN split pays its chips' `layer_overhead` once per layer
/// and microbatch (docs/cost-model.md §4c): 80 layers x 10 us x m on top of the FFN.
#[test]
fn an_ffn_pool_pays_its_per_layer_cost() {
    let src = |overhead: &str| {
        format!(
            "use std::chips::h100_sxm\nuse std::links::nvlink4\nuse std::models::llama3_1_70b\n\
             chip slow = h100_sxm {{ layer_overhead = {overhead} }}\n\
             workload w {{\n  input = 2k tok\n  output = 256 tok\n  concurrency = 8\n}}\n\
             cluster c {{\n  pool gpu = h100_sxm x 8 over nvlink4\n  pool ffn = slow x 8 over nvlink4\n  link gpu <-> ffn over nvlink4\n}}\n\
             plan p {{\n  model = llama3_1_70b {{ weights = fp8 }}\n  cluster = c\n  workload = w\n  place prefill on gpu\n  place decode.attn on gpu\n  place decode.ffn on ffn\n}}\n"
        )
    };
    let (base, slow) = (decode_options(&src("0 us"), 8), decode_options(&src("10 us"), 8));
    let split = |o: &hplanc::solve::space::DecodeOption| o.ffn().is_some();
    let pairs: Vec<_> = base.iter().filter(|o| split(o)).zip(slow.iter().filter(|o| split(o))).collect();
    assert!(!pairs.is_empty());
    for (a, b) in pairs {
        assert_eq!((a.attention(), a.ffn(), a.microbatches()), (b.attention(), b.ffn(), b.microbatches()));
        let extra = 80.0 * 10e-6 * a.microbatches() as f64;
        assert!((b.breakdown.ffn - a.breakdown.ffn - extra).abs() < 1e-12, "{} vs {}", b.breakdown.ffn - a.breakdown.ffn, extra);
        // with one microbatch nothing hides it; with more, the attention side may
        assert!(b.tpot >= a.tpot && (a.microbatches() > 1 || (b.tpot - a.tpot - extra).abs() < 1e-12), "{} vs {}", b.tpot, a.tpot);
    }
}

/// In a layer pipeline every stage pays `step_overhead` per microbatch, and the engine's
/// per-sequence work (`sequence_overhead` per sequence of a microbatch) is paid once, on
/// the first stage (docs/cost-model.md §4c).
#[test]
fn a_pipeline_pays_the_per_sequence_cost_once() {
    let src = |step: &str, seq: &str| {
        format!(
            "use std::chips::h100_sxm\nuse std::links::nvlink4\nuse std::models::llama3_1_70b\n\
             chip bare = h100_sxm {{ step_overhead = {step}\n  sequence_overhead = {seq} }}\n\
             workload w {{\n  input = 2k tok\n  output = 256 tok\n  concurrency = 8\n}}\n\
             cluster c {{\n  pool a = bare x 2 over nvlink4\n  pool b = bare x 2 over nvlink4\n  link a <-> b over nvlink4\n}}\n\
             plan p {{\n  model = llama3_1_70b {{ weights = fp8 }}\n  cluster = c\n  workload = w\n  place prefill on a\n  place decode.attn on a\n  place decode.layers on any [a, b]\n}}\n"
        )
    };
    let pipelines = |s: &str| -> Vec<hplanc::solve::space::DecodeOption> {
        decode_options(s, 8).into_iter().filter(|o| o.stages().len() == 2).collect()
    };
    let (base, step, seq) = (pipelines(&src("0 us", "0 us")), pipelines(&src("100 us", "0 us")), pipelines(&src("0 us", "10 us")));
    assert!(!base.is_empty() && base.len() == step.len() && base.len() == seq.len());
    for ((a, b), c) in base.iter().zip(&step).zip(&seq) {
        let m = a.microbatches() as f64;
        // two stages, m microbatches each: 2·m step costs; the batch of 8 once
        assert!((b.breakdown.overhead - a.breakdown.overhead - 2.0 * m * 100e-6).abs() < 1e-12, "{:?}", b.breakdown);
        assert!((c.breakdown.overhead - a.breakdown.overhead - 8.0 * 10e-6).abs() < 1e-12, "{:?}", c.breakdown);
    }
}

/// A pool of nodes (docs/cost-model.md §4g): DeepSeek-V3 on 4 nodes of 8 H100s over
/// InfiniBand NDR (`examples/deepseek_v3_h100_nodes.hplan`). Under SGLang's memory no
/// node holds it, so the cheapest answer at 20 tok/s per user spans two nodes: 8
/// data-parallel groups of TP2 feeding experts over all 16 GPUs; no tensor-parallel group
/// leaves a node at any batch, the placement says which link joins the nodes, the
/// schedule's collectives run on both links, and the ILP agrees with the oracle at every
/// seed batch. The report splits TTFT into the prefill, the KV transfer and the engine's
/// own first-token latency.
#[test]
fn deepseek_v3_spans_two_h100_nodes_over_infiniband() {
    let text = std::fs::read_to_string(crate::root().join("examples/deepseek_v3_h100_nodes.hplan")).unwrap();
    let comp = compiled("nodes.hplan", &text, hplanc::Mode::Build);
    let r = comp.report().plans.remove(0);
    let attn = r.placement.iter().find(|x| x.stage == "decode.attn").unwrap();
    assert_eq!((attn.chips, attn.tp, attn.dp), (16, 2, 8), "{attn:?}");
    let best = &comp.solved[0].as_ref().unwrap().best;
    let placed = hplanc::report::describe_placement(&comp.program.plans[0], best);
    assert!(placed.contains("decode.ffn with attention (over 2 nodes, joined by ib_ndr)"), "{placed}");
    let sched = comp.schedules[0].as_ref().unwrap();
    assert!(sched.decode.tracks.iter().any(|t| t.name == "links `nvlink4` + `ib_ndr` within `gpu`"), "{:?}", sched.decode.tracks);
    every_batch_matches_the_oracle(&comp, |inst| assert!(inst.decode.iter().all(|d| d.attention().1 <= 8), "batch {}", inst.batch));
    // TTFT: the prefill, the KV cache's move to the decode nodes (141 MB striped over the
    // prefill's 10 NICs) and SGLang's first-token latency (20 ms + 1 ms per layer)
    let b = r.breakdown.as_ref().unwrap();
    let m = r.metrics.as_ref().unwrap();
    assert!((b.engine_first_token_s - 0.081).abs() < 1e-12, "{}", b.engine_first_token_s);
    assert!(b.kv_transfer_s > 0.0 && b.kv_transfer_s < 1e-3, "{}", b.kv_transfer_s);
    assert!((b.prefill_s + b.kv_transfer_s + b.engine_first_token_s - m.ttft_s).abs() < 1e-12);
}

/// Qwen3-235B-A22B (BF16) on 4 nodes of 8 H200s with their op tables, served
/// disaggregated: prefill TP8, decode attention one TP8 group with the FFN colocated,
/// `concurrency` clients, `ffn_pins` on the FFN, minimising TPOT.
fn qwen_moe_on_h200(concurrency: &str, ffn_pins: &str) -> String {
    format!(
        "use std::chips::h200_measured\nuse std::links::{{nvlink4, ib_ndr}}\nuse std::models::qwen3_235b_a22b\n\
         workload w {{\n  input = 1k tok\n  output = 256 tok\n  concurrency = {concurrency}\n}}\n\
         cluster c {{\n  pool gpu = h200_measured x 8 over nvlink4 x 4 over ib_ndr\n}}\n\
         plan p {{\n  model = qwen3_235b_a22b\n  cluster = c\n  workload = w\n  serving = disaggregated\n\
         \x20 place prefill on gpu {{ tp = 8 }}\n  place decode.attn on gpu {{ tp = 8, dp = 1 }}\n  place decode.ffn on gpu {{ {ffn_pins} }}\n\
         \x20 minimize tpot\n}}\n"
    )
}

/// MoE tensor parallelism against expert parallelism (docs/cost-model.md §4h): where the
/// chip's tables measure both, the experts of an MoE layer on a group of chips are either
/// whole on each chip or each split by width over all of them, and the solver takes the
/// faster. On 8 H200s, BF16 (stdlib/tables/h200_sxm.csv, power-law routing), a layer
/// split by width takes 66.9 us at 4 tokens and 107.4 us at 16 against 81.0 and 120.6 us
/// whole, so 8 tokens (between them) split by width; from 64 tokens whole experts are
/// faster (161.1 us against 170.6 us at 64, 271 against 341 us at 1024), so 512 keeps them
/// whole. The answer at 8 clients splits by width (tp 8, ep 1), at 512 it keeps experts
/// whole (ep 8); a `tp` or `ep` pin holds its way at every batch; the ILP matches the
/// oracle at every batch.
#[test]
fn moe_experts_split_by_width_where_that_is_faster() {
    use hplanc::cost::MoeSplit;
    use hplanc::solve::space::Layout;
    let src = qwen_moe_on_h200("8", "");
    let split = |d: &hplanc::solve::space::DecodeOption| match &d.layout {
        Layout::Colocated(c) if c.tp == 8 && d.aggregated.is_none() => Some(c.experts),
        _ => None,
    };
    for (batch, faster) in [(8, MoeSplit::Width), (512, MoeSplit::Experts)] {
        let src = qwen_moe_on_h200(&batch.to_string(), "");
        let opts = decode_options(&src, batch);
        let ffn = |s: MoeSplit| opts.iter().find(|d| split(d) == Some(s)).unwrap_or_else(|| panic!("{s:?} at {batch}")).breakdown.ffn;
        let (whole, width) = (ffn(MoeSplit::Experts), ffn(MoeSplit::Width));
        assert_ne!(whole, width);
        let quicker = if width < whole { MoeSplit::Width } else { MoeSplit::Experts };
        assert_eq!(quicker, faster, "batch {batch}: whole {whole}, by width {width}");
    }
    // the answer at 8 clients: tp 8 inside the experts, no expert parallelism
    let comp = compiled("moe_tp.hplan", &src, hplanc::Mode::Build);
    let r = comp.report().plans.remove(0);
    let ffn = r.placement.iter().find(|x| x.stage == "decode.ffn").unwrap();
    assert_eq!((ffn.tp, ffn.ep), (8, 1), "{ffn:?}");
    let placed = hplanc::report::describe_placement(&comp.program.plans[0], &comp.solved[0].as_ref().unwrap().best);
    assert!(placed.contains("each expert split 8 ways by width"), "{placed}");
    every_batch_matches_the_oracle(&comp, |_| {});
    // at 512 clients, whole experts
    let comp = compiled("moe_ep.hplan", &qwen_moe_on_h200("512", ""), hplanc::Mode::Build);
    let r = comp.report().plans.remove(0);
    let ffn = r.placement.iter().find(|x| x.stage == "decode.ffn").unwrap();
    assert_eq!((ffn.tp, ffn.ep), (1, 8), "{ffn:?}");
    // pinned, each way holds at every batch
    for (pin, want) in [("tp = 8", MoeSplit::Width), ("ep = 8", MoeSplit::Experts)] {
        let comp = compiled("moe_pin.hplan", &qwen_moe_on_h200("1 ..= 512", pin), hplanc::Mode::Build);
        every_batch_matches_the_oracle(&comp, |inst| {
            assert!(
                inst.decode.iter().all(|d| matches!(&d.layout, Layout::Colocated(c) if c.experts == want)),
                "{pin}: batch {}",
                inst.batch
            )
        });
    }
}

/// Where no table measures the split (the roofline chips), experts stay whole unless a
/// pin asks: the roofline has no term for what narrow expert GEMMs lose, so it would
/// price the split as free (docs/cost-model.md §4h).
#[test]
fn an_unmeasured_width_split_is_offered_only_when_pinned() {
    use hplanc::solve::space::Layout;
    let roofline = |pins: &str| qwen_moe_on_h200("8", pins).replace("h200_measured", "h200");
    let splits = |src: &str| -> Vec<hplanc::cost::MoeSplit> {
        decode_options(src, 8)
            .iter()
            .filter_map(|d| match &d.layout {
                Layout::Colocated(c) => Some(c.experts),
                _ => None,
            })
            .collect()
    };
    let free = splits(&roofline(""));
    assert!(!free.is_empty() && free.iter().all(|s| *s == hplanc::cost::MoeSplit::Experts), "{free:?}");
    let pinned = splits(&roofline("tp = 8"));
    assert!(!pinned.is_empty() && pinned.iter().all(|s| *s == hplanc::cost::MoeSplit::Width), "{pinned:?}");
}

/// An FFN on another pool splits its experts by width too when a `tp` pin asks
/// (docs/cost-model.md §4h): Kimi K2's experts on LPX (`examples/kimi_k2_rubin_lpx.hplan`)
/// pinned at `tp = 64` run each expert 64 ways wide (2048 / 64 = 32 per LP30) in layer
/// groups of 64 chips, priced by the roofline; every ping-pong option of the plan is
/// split by width, the report says so, and the ILP matches the oracle at every batch.
#[test]
fn a_tp_pin_splits_the_experts_of_a_disaggregated_ffn_by_width() {
    use hplanc::solve::space::Layout;
    let pinned = edited("examples/kimi_k2_rubin_lpx.hplan", "  place decode.ffn on lpu\n", "  place decode.ffn on lpu { tp = 64 }\n");
    let comp = compiled("kimi_tp.hplan", &pinned, hplanc::Mode::Build);
    let i = comp.program.plans.iter().position(|p| p.name == "experts_on_lpx").unwrap();
    let r = comp.report().plans.remove(i);
    let ffn = r.placement.iter().find(|x| x.stage == "decode.ffn").unwrap();
    assert_eq!((ffn.tp, ffn.ep, ffn.chips % 64), (64, 1, 0), "{ffn:?}");
    let plan = &comp.program.plans[i];
    let placed = hplanc::report::describe_placement(plan, &comp.solved[i].as_ref().unwrap().best);
    assert!(placed.contains("each expert split 64 ways by width"), "{placed}");
    every_batch_of_matches_the_oracle(plan, |inst| {
        assert!(!inst.decode.is_empty());
        for d in &inst.decode {
            let Layout::PingPong(p) = &d.layout else { panic!("{:?}", d.layout) };
            assert_eq!((p.ffn.1, p.experts), (64, hplanc::cost::MoeSplit::Width));
        }
    });
}

/// Scenario 16's claim that no fixed cost of the Qualcomm cards makes the companion design
/// the faster for one user (`examples/s16_asic_qualcomm_companion.hplan`): with no
/// per-layer cost on the cards at all, its fastest step is still longer than the ASICs'
/// alone, whose step is mostly the engine's fixed cost and all-reduces that the
/// companion design pays too, plus its crossings. At the nominal figure it is far slower.
#[test]
fn s16_the_companion_design_is_slower_for_one_user_even_without_a_per_layer_cost() {
    let path = "examples/s16_asic_qualcomm_companion.hplan";
    let tpot = |src: &str| {
        let opts = hplanc::BuildOptions { skip_uncertainty: true, ..Default::default() };
        let comp = hplanc::compile_with("s16.hplan", src, None, hplanc::Mode::Build, &opts);
        assert!(!comp.has_errors());
        let r = comp.report();
        let of = |name: &str| r.plans.iter().find(|p| p.name == name).unwrap().metrics.as_ref().unwrap().tpot_s;
        (of("asic_fastest"), of("qaic_fastest"))
    };
    let nominal = std::fs::read_to_string(crate::root().join(path)).unwrap();
    let (asic, qaic) = tpot(&nominal);
    assert!(qaic > 1.5 * asic, "{qaic} vs {asic}");
    let (asic, qaic) = tpot(&edited(path, "layer_overhead = 22.2 us in [8.6 us, 57.2 us]", "layer_overhead = 0 us"));
    assert!(qaic > asic, "{qaic} vs {asic}");
}

/// Every price an example declares carries its range (issue #20): no Rubin, LP30, Rubin
/// CPX, Trainium2 or hypothetical chip's price is public, so an example's price is its own
/// assumption and every cost it answers comes with the band that assumption spans.
/// Sourced prices live in the stdlib, whose figures `tests/stdlib.rs` checks.
#[test]
fn every_price_an_example_declares_carries_a_range() {
    let mut seen = 0;
    for path in examples() {
        let text = std::fs::read_to_string(&path).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap();
            let declares = code.match_indices("price").any(|(k, _)| code[k + 5..].trim_start().starts_with('='));
            if declares {
                seen += 1;
                assert!(
                    code.contains(" in [") || code.contains('±'),
                    "{}:{}: a price without a range: `{}`",
                    path.display(),
                    i + 1,
                    line.trim()
                );
            }
        }
    }
    assert!(seen >= 20, "{seen} prices");
}

/// Every example that solves opens with its answer's band (issue #20: "each example opens
/// with its question, its answer with the band, the assumption that decides it, and where
/// the answer flips"), or says why it has none: its opening comment names a band, or
/// quotes one (`[$a, $b]`).
#[test]
fn every_example_opens_with_its_band() {
    for path in solvable() {
        let text = std::fs::read_to_string(&path).unwrap();
        let opening: String = text.lines().take_while(|l| l.starts_with("//")).collect::<Vec<_>>().join("\n");
        assert!(opening.contains("Question"), "{}: the opening comment asks no question", path.display());
        let band = ["Band", "band", "inside the ranges", "[$"].iter().any(|w| opening.contains(w));
        assert!(band, "{}: the opening comment gives no band", path.display());
    }
}
