//! The ILP against the brute-force oracle on random small instances.

use hplanc::ir::Budget;
use hplanc::solve::space::{Aggregated, Choice, Colocated, DecodeBreakdown, DecodeOption, Instance, Layout, PingPong, PrefillOption};
use hplanc::solve::{brute, ilp, Goal};

use crate::Rng;

fn objective(inst: &Instance, goal: Goal, c: Choice) -> f64 {
    goal.value(&inst.totals(c).expect("choice is feasible"))
}

pub fn assert_same(inst: &Instance, goal: Goal, ilp: Option<Choice>, brute: Option<(Choice, f64)>, what: &str) {
    match (ilp, brute) {
        (None, None) => {}
        (Some(c), Some((_, best))) => {
            assert!(inst.totals(c).is_some(), "{what}: the ILP's choice {c:?} violates a constraint");
            let got = objective(inst, goal, c);
            assert!((got - best).abs() <= 1e-7 * best.abs().max(1e-12), "{what}: ILP {got} != oracle {best}");
        }
        (a, b) => panic!("{what}: ILP {a:?} vs oracle {b:?}"),
    }
}

pub fn random_instance(rng: &mut Rng) -> Instance {
    let pools = 1 + rng.below(3) as usize;
    // a third of the instances also serve aggregated: some colocated decode options
    // prefill their own prompts (their own TTFT, no prefill chips)
    let aggregated = rng.below(3) == 0;
    let pool_sizes: Vec<u64> = (0..pools).map(|_| 2 + rng.below(15)).collect();
    let decode = (0..1 + rng.below(10))
        .map(|_| {
            let attn_pool = rng.below(pools as u64) as usize;
            let mut chips = vec![0; pools];
            chips[attn_pool] = 1 << rng.below(3);
            let ffn = if pools > 1 && rng.below(2) == 0 {
                let f = (attn_pool + 1 + rng.below(pools as u64 - 1) as usize) % pools;
                chips[f] = 1 << rng.below(3);
                Some((f, chips[f]))
            } else {
                None
            };
            let price: f64 = chips.iter().enumerate().map(|(i, n)| *n as f64 * (1.0 + i as f64)).sum();
            let watts: f64 = chips.iter().enumerate().map(|(i, n)| *n as f64 * (700.0 + 300.0 * i as f64)).sum();
            // the KV cache on the attention pool, or spread over the pools as a layer
            // pipeline's would be
            let kv = if pools > 1 && rng.below(4) == 0 {
                let share = rng.range(0.1, 0.9);
                vec![(attn_pool, share), ((attn_pool + 1) % pools, 1.0 - share)]
            } else {
                vec![(attn_pool, 1.0)]
            };
            let own_prefill = (aggregated && ffn.is_none() && kv.len() == 1 && rng.below(2) == 0).then(|| Aggregated {
                ttft: rng.range(0.05, 3.0),
                first_token: 0.0,
                decode_step: 0.0,
                steps: hplanc::cost::aggregated::ChunkSteps { steps: 1, first_full: 0.0, last_full: 0.0, tail: 0.0 },
                steps_tokens: 8192,
                prompt: 0.0,
                extra: 0.0,
                prompt_tokens: 0.0,
                chunk_tokens: 8192,
                per_step: 0.0,
                from_tables: 0.0,
                extrapolated: false,
            });
            // drawn here, between the prefix cache and the step time, as it always was
            let microbatches = 1 + rng.below(4);
            // attention on 4 chips or more feeding an FFN elsewhere runs as two data-
            // parallel groups (derived, not drawn: the instances stay those drawn before)
            let dp = if ffn.is_some() && chips[attn_pool] >= 4 { 2 } else { 1 };
            let layout = match ffn {
                Some(f) => Layout::PingPong(PingPong {
                    attn: (attn_pool, chips[attn_pool] / dp),
                    dp,
                    ffn: f,
                    groups: 1,
                    microbatches,
                    t_a: 0.0,
                    t_e: 0.0,
                    t_c: 0.0,
                    other: 0.0,
                    experts: hplanc::cost::MoeSplit::Experts,
                }),
                None => Layout::Colocated(Colocated {
                    pool: attn_pool,
                    tp: chips[attn_pool],
                    dp: 1,
                    cp: 1,
                    attn_collective: 0.0,
                    ffn_collective: 0.0,
                    experts: hplanc::cost::MoeSplit::Experts,
                }),
            };
            DecodeOption {
                aggregated: own_prefill.map(Box::new),
                layout,
                kv: kv.into(),
                tpot: rng.range(0.002, 0.05),
                chips: chips.into(),
                usd_per_s: price / 3600.0,
                watts,
                breakdown: DecodeBreakdown::default(),
                memory: vec![].into(),
                turns: None,
            }
        })
        .collect();
    let prefill = (0..1 + rng.below(5))
        .map(|_| {
            let pool = rng.below(pools as u64) as usize;
            let tp = 1 << rng.below(3);
            // a pipeline of 2 or 3 stages in one prefill option of four: a replica starts a
            // prompt every `interval`, a bit more than its time over its stages
            let pp = if rng.below(4) == 0 { 2 + rng.below(2) } else { 1 };
            let time = rng.range(0.05, 2.0);
            let interval = if pp == 1 { time } else { time / pp as f64 * rng.range(1.0, 1.3) };
            let chips = tp * pp;
            PrefillOption {
                pool,
                tp,
                pp,
                cp: 1,
                time,
                interval,
                stages: Vec::new(),
                allreduce: 0.0,
                usd_per_s: chips as f64 * (1.0 + pool as f64) / 3600.0,
                watts: chips as f64 * (700.0 + 300.0 * pool as f64),
                max_replicas: pool_sizes[pool] / chips,
                kv_path: (0..pools)
                    .map(|_| if rng.below(5) == 0 { None } else { Some((rng.range(1e-6, 1e-3), rng.range(0.0, 1.5))) })
                    .collect(),
                memory: vec![],
                from_tables: 0.0,
                extrapolated: false,
                aggregated: false,
                fixed_replicas: None,
                first_token: if rng.below(2) == 0 { 0.0 } else { rng.range(0.0, 0.3) },
            }
        })
        .collect::<Vec<_>>();
    // an aggregated prefill option on some pools (with or without aggregated decode
    // options there); a pinned replica count on some
    let mut prefill = prefill;
    for p in prefill.iter_mut() {
        if p.max_replicas > 0 && rng.below(5) == 0 {
            let n = 1 + rng.below(p.max_replicas);
            p.fixed_replicas = Some(n);
            p.max_replicas = n;
        }
    }
    if aggregated {
        for p in 0..pools {
            if rng.below(3) != 0 {
                prefill.push(PrefillOption::aggregated_on(p, pools));
            }
        }
    }
    let mut inst = Instance {
        batch: 1 << rng.below(7),
        output_tokens: (64 << rng.below(5)) as f64,
        pool_sizes: pool_sizes.into_iter().map(Some).collect(),
        decode,
        prefill,
        ttft_limit: (rng.below(2) == 0).then(|| rng.range(0.5, 3.0)),
        tpot_limit: (rng.below(2) == 0).then(|| rng.range(0.01, 0.05)),
        budget: Budget {
            usd_per_s: (rng.below(4) == 0).then(|| rng.range(5.0, 40.0) / 3600.0),
            chips: (rng.below(4) == 0).then(|| 4 + rng.below(20)),
            watts: (rng.below(4) == 0).then(|| rng.range(3e3, 2e4)),
            ..Budget::default()
        },
        priced: true,
    };
    // one in eight has no prices (chips per token then break ties), no money budget;
    // one in eight prices only its prefill chips (cost per token still breaks ties:
    // the rule is the plan's, not the decode options')
    match rng.below(8) {
        0 => {
            inst.decode.iter_mut().for_each(|d| d.usd_per_s = 0.0);
            inst.prefill.iter_mut().for_each(|p| p.usd_per_s = 0.0);
            inst.budget.usd_per_s = None;
            inst.priced = false;
        }
        1 => inst.decode.iter_mut().for_each(|d| d.usd_per_s = 0.0),
        _ => {}
    }
    inst
}

/// 500 random instances, every goal (cost, TPOT, TTFT, chips, power, chips and power
/// per token), with random SLOs and budgets.
#[test]
fn ilp_matches_brute_force_on_random_instances() {
    let mut rng = Rng(0x5EED);
    let (mut feasible, mut aggregated) = (0, 0);
    for i in 0..500 {
        let inst = random_instance(&mut rng);
        for goal in Goal::ALL {
            let out = ilp::solve(&inst, goal, 30.0).expect("the solver answers");
            assert!(out.stats.proven, "instance {i}: not proven optimal");
            let brute = brute::best(&inst, goal);
            feasible += usize::from(brute.is_some());
            aggregated += usize::from(brute.is_some_and(|(c, _)| inst.prefill[c.prefill].aggregated));
            // the dominance argument: every replica count tried gives the same optimum
            let every = brute::exhaustive(&inst, goal);
            match (brute, every) {
                (Some((_, a)), Some((_, b))) => assert!((a - b).abs() <= 1e-12 * a.abs().max(1e-12), "instance {i}: {a} vs {b}"),
                (a, b) => assert_eq!(a.is_some(), b.is_some(), "instance {i} {goal:?}"),
            }
            assert_same(&inst, goal, out.choice, brute, &format!("instance {i} {goal:?}"));
        }
    }
    // The generator must exercise both outcomes, and aggregated serving winning.
    assert!(feasible > 700 && feasible < 3000, "{feasible} feasible of 3500");
    assert!(aggregated > 100 && aggregated < feasible / 2, "{aggregated} aggregated optima of {feasible}");
}

/// Issue 16: the ILP against the reference evaluator (tests/reference.rs), which shares
/// no function with the solver: on 600 random instances and every goal, the ILP
/// without its aids (no feasibility presolve, feasible-pair rows or warm start: its
/// rows alone prove infeasibility) and the ILP as the compiler runs it each find the
/// reference's optimum, at the reference's tie-break and, among the choices tied on
/// both, with the soonest first token, or agree that nothing is feasible.
#[test]
fn the_ilp_matches_the_reference_evaluator() {
    use crate::reference::{self, Config};
    let mut rng = Rng(0x0DDBA11);
    let mut outcomes = [[0usize; 2]; Goal::ALL.len()];
    for i in 0..600 {
        let inst = random_instance(&mut rng);
        for (g, goal) in Goal::ALL.into_iter().enumerate() {
            let want = reference::optimum(&inst, goal);
            outcomes[g][usize::from(want.is_some())] += 1;
            for (how, out) in [("unaided", ilp::solve_unaided(&inst, goal, 30.0)), ("aided", ilp::solve(&inst, goal, 30.0))] {
                let out = out.expect("the solver answers");
                let what = format!("instance {i} {goal:?} {how}");
                assert!(out.stats.proven, "{what}: not proven optimal");
                match (out.choice, want) {
                    (None, None) => {}
                    (Some(c), Some((best, best_tie))) => {
                        let c = Config { decode: c.decode, prefill: c.prefill, replicas: c.replicas };
                        let m = reference::evaluate(&inst, c).unwrap_or_else(|| panic!("{what}: the ILP's {c:?} breaks a rule"));
                        let got = reference::value(goal, &m);
                        assert!((got - best).abs() <= 1e-7 * best.abs().max(1e-12), "{what}: ILP {got} != reference {best}");
                        let tie = reference::tie(&inst, &m);
                        assert!(tie <= best_tie * (1.0 + 1e-7) + 1e-15, "{what}: tie-break {tie} > reference {best_tie}");
                        let soonest = reference::soonest(&inst, goal).unwrap();
                        assert!(m.ttft <= soonest * (1.0 + 1e-7) + 1e-15, "{what}: TTFT {} > the soonest tied {soonest}", m.ttft);
                    }
                    (got, want) => panic!("{what}: ILP {got:?} vs reference {want:?}"),
                }
            }
        }
    }
    // at least 500 instances per goal, with both outcomes well represented
    for (g, [infeasible, feasible]) in outcomes.iter().enumerate() {
        assert!(*feasible >= 150 && *infeasible >= 150, "{:?}: {feasible} feasible, {infeasible} infeasible", Goal::ALL[g]);
    }
}

/// Issue 16: the cheapest relaxation against the reference's, which tries every replica
/// count (past the pool's size too), not only the fewest that keep up: the same least
/// total slack, the same number of relaxed constraints, a cost per token no higher.
#[test]
fn the_relaxation_matches_the_reference_evaluator() {
    use hplanc::solve::relax;
    let mut rng = Rng(0xFEED);
    let (mut relaxed, mut feasible) = (0, 0);
    for i in 0..600 {
        let inst = random_instance(&mut rng);
        let got = relax::cheapest(std::slice::from_ref(&inst));
        let want = crate::reference::cheapest_relaxation(&inst);
        match (got, want) {
            (None, None) => {}
            (Some(r), Some((slack, count, cpt))) => {
                // nothing to relax exactly when the reference finds a configuration allowed
                assert_eq!(count == 0, crate::reference::optimum(&inst, hplanc::solve::Goal::CostPerToken).is_some(), "instance {i}");
                let (d, p) = (&inst.decode[r.choice.decode], &inst.prefill[r.choice.prefill]);
                let got_cpt = (d.usd_per_s + r.choice.replicas as f64 * p.usd_per_s) * d.tpot / inst.batch as f64;
                assert!((r.cost() - slack).abs() <= 1e-9 * slack.max(1.0), "instance {i}: slack {} vs reference {slack}", r.cost());
                assert_eq!(r.relaxed.len(), count, "instance {i}: {r:?}");
                assert!(got_cpt <= cpt * (1.0 + 1e-9) + 1e-18, "instance {i}: cost per token {got_cpt} > reference {cpt}");
                if count == 0 {
                    feasible += 1;
                } else {
                    relaxed += 1;
                }
            }
            (a, b) => panic!("instance {i}: relaxation {a:?} vs reference {b:?}"),
        }
    }
    assert!(relaxed > 100 && feasible > 100, "{relaxed} relaxed, {feasible} feasible");
}

/// The reference evaluator shares no function with the solver or the cost model: it
/// names only types of `hplanc` (`use` lines of capitalised names) and calls no function
/// or method that `compiler/solve/` or `compiler/cost/` define.
#[test]
fn the_reference_calls_nothing_of_the_solver() {
    let root = crate::root();
    let text = std::fs::read_to_string(root.join("tests/reference.rs")).unwrap();
    let code: String = text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    // the functions and types the solver and the cost model define
    let (mut defined, mut types): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    let word = |rest: &str| rest.split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap().to_string();
    let mut files = Vec::new();
    let mut dirs = vec![root.join("compiler/solve"), root.join("compiler/cost")];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 10, "{files:?}");
    for path in files {
        let src = std::fs::read_to_string(path).unwrap();
        for line in src.lines() {
            let l = line.trim_start();
            let l = l.strip_prefix("pub ").or_else(|| l.strip_prefix("pub(crate) ")).or_else(|| l.strip_prefix("pub(super) ")).unwrap_or(l);
            if let Some(rest) = l.strip_prefix("fn ") {
                defined.push(word(rest));
            }
            for kw in ["struct ", "enum ", "impl "] {
                if let Some(rest) = l.strip_prefix(kw) {
                    types.push(word(rest));
                }
            }
        }
    }
    assert!(defined.len() > 100 && defined.iter().any(|f| f == "totals"), "{} functions found", defined.len());
    let local: Vec<&str> = code
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("pub fn ").or_else(|| l.trim_start().strip_prefix("fn ")))
        .map(|r| r.split('(').next().unwrap())
        .collect();
    // every call: an identifier right before `(`, with what precedes it
    let bytes = code.as_bytes();
    for (at, _) in code.match_indices('(') {
        let start = code[..at].rfind(|c: char| !c.is_alphanumeric() && c != '_').map_or(0, |i| i + 1);
        let name = &code[start..at];
        if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            continue;
        }
        let theirs = defined.iter().any(|f| f == name);
        let called_on_theirs = if start > 1 && &code[start - 2..start] == "::" {
            // `Type::name(`: theirs when the type is
            let before = &code[..start - 2];
            let ty = &before[before.rfind(|c: char| !c.is_alphanumeric() && c != '_').map_or(0, |i| i + 1)..];
            types.iter().any(|t| t == ty) || !ty.starts_with(|c: char| c.is_ascii_uppercase())
        } else {
            // a method, or a plain call of a function this file does not define
            (start > 0 && bytes[start - 1] == b'.') || !local.contains(&name)
        };
        assert!(!(theirs && called_on_theirs), "tests/reference.rs calls `{name}`, a function of compiler/solve or compiler/cost");
    }
    for line in code.lines().filter(|l| l.contains("hplanc::")) {
        let last = line.trim_end_matches(';').rsplit("::").next().unwrap();
        assert!(
            line.trim_start().starts_with("use ") && last.starts_with(|c: char| c.is_ascii_uppercase()),
            "tests/reference.rs: `{line}` uses more than a type"
        );
    }
}

/// A random partition problem: 2-4 pools, 2-8 layers of differing time and memory, one
/// or two memory tiers (some ranges do not fit), some pools not linked.
fn random_problem(rng: &mut Rng) -> hplanc::solve::layers::Problem {
    use hplanc::solve::layers::{Group, Problem};
    let layers = 2 + rng.below(7) as usize;
    let n = 2 + rng.below(3) as usize;
    let prefix = |v: Vec<f64>| {
        let mut out = vec![0.0];
        for x in v {
            out.push(out[out.len() - 1] + x);
        }
        out
    };
    let tiers = 1 + rng.below(2) as usize;
    let groups = (0..n)
        .map(|_| {
            let speed = rng.range(0.5, 1.5);
            Group {
                time: prefix((0..layers).map(|_| speed * (1.0 + rng.below(3) as f64 * 0.5)).collect()),
                fixed: rng.range(0.0, 0.1),
                first: rng.range(0.0, 0.3),
                last: rng.range(0.0, 0.5),
                mem: (0..tiers).map(|_| prefix((0..layers).map(|_| 1.0 + rng.below(2) as f64).collect())).collect(),
                mem_first: (0..tiers).map(|_| rng.below(2) as f64).collect(),
                mem_last: (0..tiers).map(|_| 1.0 + rng.below(2) as f64).collect(),
                capacity: (0..tiers).map(|_| 2.0 + rng.below(2 * layers as u64) as f64).collect(),
            }
        })
        .collect();
    let cross = (0..n).map(|p| (0..n).map(|q| (p != q && rng.below(5) != 0).then(|| rng.range(0.0, 0.2))).collect()).collect();
    Problem { layers, groups, cross, kinds: Vec::new() }
}

/// Issue 16: the layer partition's DP against the reference evaluator's enumeration
/// (its own memory and stage-time rules, not the DP's `fits` and `stage_time`): for
/// every number of stages, the same pool sets have a pipeline, each with the same
/// bottleneck. (That the DP's partitions re-evaluate to its bottlenecks is
/// `solve::layers`' own unit test.)
#[test]
fn the_layer_dp_matches_the_reference_evaluator() {
    let mut rng = Rng(0x1A7E5);
    let (mut sets, mut empty) = (0, 0);
    for case in 0..400 {
        let p = random_problem(&mut rng);
        for s in 2..=p.groups.len().min(p.layers) {
            let want = crate::reference::pipelines(&p, s);
            let mut got: Vec<(u32, f64)> = p.best_per_set(s).into_iter().map(|(mask, part)| (mask, part.bottleneck)).collect();
            got.sort_by_key(|x| x.0);
            assert_eq!(got.iter().map(|x| x.0).collect::<Vec<_>>(), want.iter().map(|x| x.0).collect::<Vec<_>>(), "case {case} s {s}");
            for ((mask, a), (_, b)) in got.iter().zip(&want) {
                assert!((a - b).abs() <= 1e-12 * b.max(1.0), "case {case} s {s} set {mask:b}: DP {a} vs reference {b}");
            }
            sets += want.len();
            empty += usize::from(want.is_empty());
        }
    }
    assert!(sets > 1000 && empty > 50, "{sets} pool sets with a pipeline, {empty} stage counts with none");
}

/// `brute::configurations` (what the solve benchmark reports as the space's size)
/// counts what `brute::exhaustive` visits: every decode option with every prefill
/// option at every replica count from 1 to its bound.
#[test]
fn configurations_count_the_exhaustive_enumeration() {
    let mut rng = Rng(0xC0FF);
    for _ in 0..50 {
        let inst = random_instance(&mut rng);
        let mut visited = 0u64;
        for _ in &inst.decode {
            for p in &inst.prefill {
                visited += (1..=p.max_replicas).count() as u64;
            }
        }
        assert_eq!(brute::configurations(&inst), visited);
    }
}
