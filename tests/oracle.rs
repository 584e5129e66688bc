//! The ILP against the brute-force oracle on random small instances.

use hplanc::ir::Budget;
use hplanc::solve::space::{Aggregated, Choice, DecodeBreakdown, DecodeOption, Instance, PrefillOption, StepShape};
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
                decode_step: 0.0,
                steps: hplanc::cost::aggregated::ChunkSteps { steps: 1, first_full: 0.0, last_full: 0.0, tail: 0.0 },
                chunk_tokens: 8192,
                per_step: 0.0,
                from_tables: 0.0,
                extrapolated: false,
            });
            DecodeOption {
                aggregated: own_prefill,
                attn_pool,
                attn_tp: chips[attn_pool],
                attn_dp: 1,
                ffn,
                microbatches: 1 + rng.below(4),
                draft: None,
                layers: vec![],
                kv,
                tpot: rng.range(0.002, 0.05),
                chips,
                usd_per_s: price / 3600.0,
                watts,
                breakdown: DecodeBreakdown::default(),
                memory: vec![],
                shape: StepShape::Colocated { attn_collective: 0.0, ffn_collective: 0.0 },
            }
        })
        .collect();
    let prefill = (0..1 + rng.below(5))
        .map(|_| {
            let pool = rng.below(pools as u64) as usize;
            let tp = 1 << rng.below(3);
            PrefillOption {
                pool,
                tp,
                time: rng.range(0.05, 2.0),
                allreduce: 0.0,
                usd_per_s: tp as f64 * (1.0 + pool as f64) / 3600.0,
                watts: tp as f64 * (700.0 + 300.0 * pool as f64),
                max_replicas: pool_sizes[pool] / tp,
                kv_path: (0..pools)
                    .map(|_| if rng.below(5) == 0 { None } else { Some((rng.range(1e-6, 1e-3), rng.range(0.0, 1.5))) })
                    .collect(),
                memory: vec![],
                from_tables: 0.0,
                extrapolated: false,
                aggregated: false,
                fixed_replicas: None,
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
    Instance {
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
    }
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

/// The cheapest relaxation: zero slack exactly when the oracle finds a feasible choice,
/// and never more slack than any choice with any replica count (its optimality over
/// the space, replicas included).
#[test]
fn cheapest_relaxation_is_minimal() {
    use hplanc::solve::relax;
    let mut rng = Rng(0xCAFE);
    let (mut relaxed, mut feasible) = (0, 0);
    for i in 0..500 {
        let inst = random_instance(&mut rng);
        let best = relax::cheapest(std::slice::from_ref(&inst));
        let any_feasible = brute::best(&inst, Goal::CostPerToken).is_some();
        let Some(r) = best else {
            assert!(!any_feasible, "instance {i}: feasible but no relaxation");
            continue;
        };
        assert_eq!(r.relaxed.is_empty(), any_feasible, "instance {i}: {r:?}");
        if any_feasible {
            feasible += 1;
        } else {
            relaxed += 1;
        }
        for d in 0..inst.decode.len() {
            for k in 0..inst.prefill.len() {
                let lo = inst.min_replicas(&inst.decode[d], &inst.prefill[k]);
                for replicas in lo..lo + 4 {
                    let Some(v) = relax::violations(&inst, Choice { decode: d, prefill: k, replicas }) else { continue };
                    let cost: f64 = v.iter().map(|x| x.slack()).sum();
                    assert!(r.cost() <= cost + 1e-12, "instance {i}: {} > {cost} at {d}/{k}/{replicas}", r.cost());
                }
            }
        }
    }
    assert!(relaxed > 50 && feasible > 50, "{relaxed} relaxed, {feasible} feasible");
}
