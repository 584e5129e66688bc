//! The batch search against solving every batch (docs/solver.md, "Every batch"): the
//! best point, the runner-up and the best of the other way of serving over every
//! integer batch of a range equal the least over each batch solved on its own.

use hplanc::ir::Plan;
use hplanc::solve::batch::{key, Batches, Key};
use hplanc::solve::space::{self, Choice, Instance};
use hplanc::solve::{self, decode_signature, Goal, Point};

/// Half the width of the window of batches solved one by one round each plan's answer.
const HALF_WINDOW: u64 = 24;

/// Every example plan that solves, with the batches within [`HALF_WINDOW`] of its
/// answer (where the search prunes least and the bounds are tightest), and its name.
fn example_windows() -> Vec<(Plan, (u64, u64), String)> {
    let mut out = Vec::new();
    for path in crate::examples::solvable() {
        let comp = crate::built(&path);
        for (plan, solved) in comp.program.plans.iter().zip(&comp.solved) {
            let Some(solved) = solved else { continue };
            let (lo, hi) = plan.workload.concurrency;
            let at = solved.best.instance.batch;
            let window = (at.saturating_sub(HALF_WINDOW).max(lo), (at + HALF_WINDOW).min(hi));
            out.push((plan.clone(), window, format!("{} / {} over {window:?}", crate::rel(&path), plan.name)));
        }
    }
    out
}

/// The least key of the choices `keep` allows in `inst`, enumerated.
fn least(inst: &Instance, goal: Goal, keep: &dyn Fn(&Instance, Choice) -> bool) -> Option<Key> {
    inst.min_replica_choices().filter(|&c| keep(inst, c)).filter_map(|c| key(inst, c, goal)).min_by(|x, y| x.partial_cmp(y).unwrap())
}

/// The space at batch `b` with every option: none of those a search leaves out
/// (`Batches` does) left out.
fn full(plan: &Plan, b: u64) -> Instance {
    space::instance(plan, b, &space::prefill_options(plan, &mut Vec::new()), &mut Vec::new())
}

/// The least `(key, batch)` over every batch of the plan's range of the choices `keep`
/// allows, each batch's space with every option enumerated on its own.
fn every_batch(plan: &Plan, goal: Goal, keep: &dyn Fn(&Instance, Choice) -> bool) -> Option<(Key, u64)> {
    let (lo, hi) = plan.workload.concurrency;
    let mut best: Option<(Key, u64)> = None;
    for b in lo..=hi {
        if let Some(k) = least(&full(plan, b), goal, keep) {
            if best.is_none_or(|(bk, _)| k < bk) {
                best = Some((k, b));
            }
        }
    }
    best
}

fn same(what: &str, got: Option<&Point>, want: Option<(Key, u64)>, goal: Goal) {
    let got = got.map(|p| (key(&p.instance, p.choice, goal).expect("a reported point is feasible"), p.instance.batch));
    match (got, want) {
        (None, None) => {}
        (Some((g, gb)), Some((w, wb))) => {
            let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * y.abs().max(1e-30);
            assert!(close(g.0, w.0) && close(g.1, w.1), "{what}: found {g:?} at batch {gb}, every batch gives {w:?} at batch {wb}");
            // exact ties go to the smaller batch
            assert!(gb == wb || g != w, "{what}: batch {gb}, every batch gives batch {wb} at the same key");
        }
        (g, w) => panic!("{what}: found {g:?}, every batch gives {w:?}"),
    }
}

/// Every example plan, re-solved over a window of batches round its answer (where the
/// search prunes least), equals solving each batch of the window.
#[test]
fn the_search_finds_the_best_of_every_batch() {
    let cases = example_windows();
    for (plan, range, name) in &cases {
        let mut window = plan.clone();
        window.workload.concurrency = *range;
        let mut diags = hplanc::diagnostics::Diagnostics::new();
        let got = solve::solve(&window, &mut diags).expect("the window holds the plan's answer");
        let goal = solve::goal(&window);
        same(&format!("{name}: best"), Some(&got.best), every_batch(&window, goal, &|_, _| true), goal);
        // the runner-up: another assignment of stages to pools
        let sig = decode_signature(got.best.decode());
        let pool = got.best.prefill().pool;
        let other = |inst: &Instance, c: Choice| decode_signature(&inst.decode[c.decode]) != sig || inst.prefill[c.prefill].pool != pool;
        same(&format!("{name}: runner-up"), got.runner_up.as_ref(), every_batch(&window, goal, &other), goal);
        // the other way of serving
        let aggregated = got.best.prefill().aggregated;
        let serving = |inst: &Instance, c: Choice| inst.prefill[c.prefill].aggregated != aggregated;
        same(&format!("{name}: other serving"), got.other_serving.as_ref(), every_batch(&window, goal, &serving), goal);
    }
    assert!(cases.len() >= 20, "only {} plans checked", cases.len());
}

/// The bound on the batches strictly between two others is no greater than the best key
/// of any of them, for ranges of 1 to 31 batches between every pair of batches of a
/// window round each example plan's answer (where bounds are tightest) that no seed
/// separates: a bound above that key would drop the best batch unseen.
#[test]
fn the_bound_between_two_batches_is_never_above_them() {
    let mut checked = 0;
    for (plan, window, name) in example_windows() {
        let seeds = solve::batch::seeds(&plan);
        let goal = solve::goal(&plan);
        let mut batches = Batches::new(&plan);
        // the best key at each batch of the window, over every option
        let best: Vec<Option<Key>> = (window.0..=window.1).map(|b| least(&full(&plan, b), goal, &|_, _| true)).collect();
        for a in window.0..=window.1 {
            for gap in [2, 3, 5, 9, 17, 32] {
                let b = a + gap;
                if b > window.1 || seeds.iter().any(|&s| s > a && s < b) {
                    continue;
                }
                let between = (a + 1..b).filter_map(|x| best[(x - window.0) as usize]).min_by(|x, y| x.partial_cmp(y).unwrap());
                let bound = solve::batch::bound(&mut batches, goal, (a, b), &|_| None);
                match (bound, between) {
                    (_, None) => {}
                    (None, Some(k)) => panic!("{name}: nothing bounded between {a} and {b}, where {k:?} is feasible"),
                    (Some(l), Some(k)) => {
                        let slack = 1e-9 * k.0.abs().max(1e-30);
                        assert!(l.0 <= k.0 + slack, "{name}: bound {l:?} between {a} and {b} above the best there, {k:?}");
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked >= 500, "only {checked} ranges checked");
}

/// Batches that data-parallel groups and microbatches do not divide: the groups hold
/// `⌊B/d⌋` or `⌈B/d⌉` sequences and the step is the fullest's, so a larger batch
/// never steps faster, and at a whole multiple of the groups no slower per sequence.
#[test]
fn uneven_groups_step_as_the_fullest() {
    let path = crate::root().join("examples/s13_auto_everything.hplan");
    let comp = crate::compile(&path, hplanc::Mode::Check);
    let plan = &comp.program.plans[0];
    let at = |b: u64| space::decode_options(plan, b, &mut vec![]);
    let (at_16, at_17, at_24) = (at(16), at(17), at(24));
    let mut compared = 0;
    for d in at_16.iter().filter(|d| d.attention().2 > 1 || d.microbatches() > 1) {
        let find = |v: &[space::DecodeOption]| v.iter().find(|e| e.key() == d.key()).map(|e| e.tpot);
        let (Some(t17), Some(t24)) = (find(&at_17), find(&at_24)) else { continue };
        assert!(t17 >= d.tpot && t24 >= t17, "{:?}: {} {} {}", d.key(), d.tpot, t17, t24);
        compared += 1;
    }
    assert!(compared > 0, "s13 has data-parallel or microbatched layouts at batch 16");
}

/// A batch solved the solver's way (`batch::by_goal`: decode options in the order of
/// their key alone, stopping once that key is above the best pair found) takes exactly
/// the choice that enumerating every pair takes (`brute::best_by`, the first of equal
/// keys), for every goal, with and without the best pair's decode and prefill options
/// excluded (as the runner-up search excludes them): every example plan's spaces at
/// the seed batches.
#[test]
fn a_batch_solves_to_the_pair_enumerations_choice() {
    use hplanc::solve::{batch, brute, ilp, tie_goal};
    let mut compared = 0;
    for (what, inst) in crate::examples::seed_spaces() {
        for goal in Goal::ALL {
            let tie = tie_goal(&inst);
            let every = |ex: Option<&ilp::Exclude>| {
                brute::best_by(&inst, |c, t| (batch::excluded(ex, c), goal.value(t), tie.value(t))).filter(|(_, k)| !k.0).map(|(c, _)| c)
            };
            let mut solve_one = batch::by_goal(goal);
            let want = every(None);
            assert_eq!(solve_one(&inst, None).unwrap().0, want, "{what}, {goal:?}");
            let Some(c) = want else { continue };
            let ex = ilp::Exclude::new(vec![c.decode], vec![c.prefill]);
            assert_eq!(solve_one(&inst, Some(&ex)).unwrap().0, every(Some(&ex)), "{what} without its best, {goal:?}");
            compared += 1;
        }
    }
    assert!(compared > 500, "{compared}");
}

/// Data-parallel group counts that fill a 72-GPU rack (36 groups of 2, 72 of 1: not
/// powers of two) appear at their own batch, a seed: over batches 30 to 80 the search
/// still finds the best of every batch, and the bound between two batches no seed
/// separates stays below them.
#[test]
fn group_counts_that_fill_a_rack_keep_the_search_exact() {
    let text = "use std::chips::gb200\nuse std::links::nvlink5\nuse std::models::deepseek_v3\n\
                workload w {\n  input = 2000 tok\n  output = 500 tok\n  concurrency = 30 ..= 80\n}\n\
                cluster c {\n  pool gpu = gb200 x 72 over nvlink5\n}\n\
                plan p {\n  model = deepseek_v3\n  cluster = c\n  workload = w\n  serving = disaggregated\n  minimize cost_per_mtok\n}\n";
    let comp = hplanc::compile("rack.hplan", text, None, hplanc::Mode::Check);
    assert!(!comp.has_errors(), "{:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
    let plan = &comp.program.plans[0];
    let seeds = solve::batch::seeds(plan);
    assert!(seeds.contains(&36) && seeds.contains(&72), "{seeds:?}");
    let mut diags = hplanc::diagnostics::Diagnostics::new();
    let got = solve::solve(plan, &mut diags).expect("DeepSeek-V3 fits the rack");
    let goal = solve::goal(plan);
    same("rack", Some(&got.best), every_batch(plan, goal, &|_, _| true), goal);
    let mut batches = Batches::new(plan);
    let best: Vec<Option<Key>> = (30..=80).map(|b| least(batches.at(b), goal, &|_, _| true)).collect();
    let wide = batches.at(72).decode.iter().any(|d| d.attention().2 == 72);
    assert!(wide, "72 groups of one GPU at batch 72");
    for (a, b) in [(64, 72), (72, 80), (33, 36), (36, 40)] {
        let between = (a + 1..b).filter_map(|x| best[(x - 30) as usize]).min_by(|x, y| x.partial_cmp(y).unwrap());
        if let (Some(l), Some(k)) = (solve::batch::bound(&mut batches, goal, (a, b), &|_| None), between) {
            assert!(l.0 <= k.0 * (1.0 + 1e-9), "bound {l:?} between {a} and {b} above {k:?}");
        }
    }
}

/// A space built with the aggregated options alone (`space::Kinds::Aggregated`: the
/// other way of serving's search when the best prefills on chips of its own) holds
/// exactly the full space's aggregated options, in its order, round every example
/// plan's answer: ping-pong layouts, layer pipelines, caches split by context and pools
/// that may not prefill are never built for it.
#[test]
fn a_space_of_aggregated_options_is_the_full_spaces_aggregated_ones() {
    let (mut compared, mut aggregated) = (0, 0);
    for (plan, (lo, hi), name) in example_windows() {
        for b in [lo, (lo + hi) / 2, hi] {
            let all = space::decode_options(&plan, b, &mut Vec::new());
            let want: Vec<_> = all.iter().filter(|d| d.aggregated.is_some()).cloned().collect();
            let got = space::decode_options_of(&plan, b, space::Kinds::Aggregated, &mut Vec::new());
            assert!(got == want, "{name} at batch {b}: {} aggregated options built alone, {} in the full space", got.len(), want.len());
            compared += 1;
            aggregated += usize::from(!want.is_empty() && want.len() < all.len());
        }
    }
    // spaces where the filter leaves some options out and keeps others
    assert!(compared >= 60 && aggregated >= 20, "{compared} spaces compared, {aggregated} with both kinds");
}

/// The other way of serving's spaces taken from the whole spaces a search built (their
/// aggregated options: `Batches::aggregated`) are the spaces of the aggregated options
/// built alone, option for option, at every batch that search built, for every example
/// plan's solve.
#[test]
fn aggregated_spaces_taken_from_whole_ones_are_those_built_alone() {
    let (mut compared, mut with_options) = (0, 0);
    for path in crate::examples::solvable() {
        let comp = crate::built(&path);
        for plan in &comp.program.plans {
            let mut whole = Batches::new(plan);
            if solve::search_batches(plan, &mut whole).is_err() {
                continue;
            }
            let batches: Vec<u64> = whole.built().map(|i| i.batch).collect();
            let (mut taken, mut alone) = (whole.aggregated(), Batches::new(plan).aggregated());
            for b in batches {
                let (got, want) = (taken.at(b).clone(), alone.at(b).clone());
                assert!(
                    got == want,
                    "{} / {} at batch {b}: {} options taken, {} built alone",
                    crate::rel(&path),
                    plan.name,
                    got.decode.len(),
                    want.decode.len()
                );
                compared += 1;
                with_options += usize::from(!want.decode.is_empty());
            }
        }
    }
    assert!(compared >= 500 && with_options >= 200, "{compared} spaces compared, {with_options} with aggregated options");
}

/// A search's space leaves out only decode options another option of it does as well:
/// at batches round every example plan's answer, for every goal, its least key is the
/// least over every option, and its choice there is the first such of every option
/// (in the ILP's and the enumeration's order) wherever that one is kept. Some options
/// are left out.
#[test]
fn a_space_leaves_out_only_options_another_does_as_well() {
    let (mut left_out, mut checked) = (0, 0);
    for (plan, window, name) in example_windows() {
        let mut batches = Batches::new(&plan);
        for b in [window.0, (window.0 + window.1) / 2, window.1] {
            let all = full(&plan, b);
            let kept = batches.at(b);
            left_out += all.decode.len() - kept.decode.len();
            // the kept options are every option's, in its order
            let mut rest = all.decode.iter();
            assert!(kept.decode.iter().all(|d| rest.any(|e| e == d)), "{name} at {b}: an option not of the full space, or out of order");
            for goal in Goal::ALL {
                let first = |inst: &Instance| {
                    let mut best: Option<(Key, Choice)> = None;
                    for c in inst.min_replica_choices() {
                        if let Some(k) = key(inst, c, goal) {
                            if best.is_none_or(|(bk, _)| k < bk) {
                                best = Some((k, c));
                            }
                        }
                    }
                    best
                };
                match (first(&all), first(kept)) {
                    (None, None) => {}
                    (Some((ka, ca)), Some((kk, ck))) => {
                        assert_eq!(ka, kk, "{name} at {b}, {goal:?}");
                        assert_eq!(all.decode[ca.decode], kept.decode[ck.decode], "{name} at {b}, {goal:?}: another option");
                        checked += 1;
                    }
                    (a, k) => panic!("{name} at {b}, {goal:?}: every option gives {a:?}, the kept ones {k:?}"),
                }
            }
        }
    }
    assert!(checked >= 200, "only {checked} spaces and goals checked");
    assert!(left_out > 10_000, "only {left_out} options left out");
}

/// A space restricted to some ping-pong classes (`space::Only`, what a search builds
/// inside a range that only those can win) holds exactly the full space's options of
/// every other layout and of those classes, in its order: round every example plan's
/// answer, with every other class kept, and with none.
#[test]
fn a_restricted_space_is_the_full_spaces_options_of_its_classes() {
    let (mut compared, mut narrowed) = (0, 0);
    for (plan, (lo, hi), name) in example_windows() {
        for b in [lo, (lo + hi) / 2, hi] {
            let all = space::decode_options(&plan, b, &mut Vec::new());
            let mut classes: Vec<u128> = all.iter().filter_map(|d| d.pingpong_class()).collect();
            classes.dedup();
            for only in [space::Only::new(classes.iter().copied().step_by(2)), space::Only::new([])] {
                let want: Vec<_> = all.iter().filter(|d| only.allows(d.pingpong_class())).cloned().collect();
                let got = space::decode_options_only(&plan, b, space::Kinds::All, Some(&only), &mut Vec::new(), Vec::new(), None);
                assert!(got == want, "{name} at batch {b}: {} options built restricted, {} of the full space's", got.len(), want.len());
                compared += 1;
                narrowed += usize::from(want.len() < all.len() && want.iter().any(|d| d.pingpong_class().is_some()));
            }
        }
    }
    // spaces where the restriction leaves some ping-pong options out and keeps others
    assert!(compared >= 300 && narrowed >= 30, "{compared} spaces compared, {narrowed} narrowed");
}

/// The best point, the runner-up and the best of the other way of serving, searched
/// over every batch of each example plan's range as the solver does (`solve_with`),
/// are the same points whether the searches build the batches inside a range with only
/// the ping-pong classes that can still win there or whole (`Batches::whole`): the same
/// batch, key and options. Some batches are built restricted.
#[test]
fn restricted_searches_find_what_whole_ones_do() {
    let (mut plans, mut restricted) = (0, 0);
    for path in crate::examples::solvable() {
        let comp = crate::built(&path);
        for plan in comp.program.plans.iter().filter(|p| p.model.variants == 1) {
            let goal = solve::goal(plan);
            let name = format!("{} / {}", crate::rel(&path), plan.name);
            let mut found = Vec::new();
            for whole in [false, true] {
                let mut batches = if whole { Batches::new(plan).whole() } else { Batches::new(plan) };
                let main = solve::batch::search_all(&mut batches, goal, &mut solve::batch::by_goal(goal)).unwrap();
                let Some(best) = main.best.clone() else { continue };
                restricted += main.restricted.len();
                let start = main.as_start();
                let sig = decode_signature(best.decode());
                let pool = best.prefill().pool;
                let other_assignment = |inst: &Instance| {
                    let decode = (0..inst.decode.len()).filter(|&d| decode_signature(&inst.decode[d]) == sig).collect();
                    let prefill = (0..inst.prefill.len()).filter(|&k| inst.prefill[k].pool == pool).collect();
                    Some(solve::ilp::Exclude::new(decode, prefill))
                };
                let runner_up =
                    solve::batch::search(&mut batches, goal, &start, &other_assignment, &mut solve::batch::by_goal(goal)).unwrap();
                let aggregated = best.prefill().aggregated;
                let other_serving = |inst: &Instance| {
                    let decode = (0..inst.decode.len()).filter(|&d| inst.decode[d].aggregated.is_some() == aggregated).collect();
                    let prefill = (0..inst.prefill.len()).filter(|&k| inst.prefill[k].aggregated == aggregated).collect();
                    Some(solve::ilp::Exclude::new(decode, prefill))
                };
                let serving = solve::batch::search(&mut batches, goal, &start, &other_serving, &mut solve::batch::by_goal(goal)).unwrap();
                restricted += runner_up.restricted.len() + serving.restricted.len();
                let point = |p: Option<&Point>| {
                    p.map(|p| {
                        (p.instance.batch, key(&p.instance, p.choice, goal), p.decode().clone(), p.prefill().clone(), p.choice.replicas)
                    })
                };
                found.push([point(Some(&best)), point(runner_up.best.as_ref()), point(serving.best.as_ref())]);
            }
            if let [got, want] = &found[..] {
                for (what, (g, w)) in ["best", "runner-up", "other serving"].iter().zip(got.iter().zip(want)) {
                    assert!(
                        g == w,
                        "{name}, {what}: restricted {:?}, whole {:?}",
                        g.as_ref().map(|p| (p.0, p.1)),
                        w.as_ref().map(|p| (p.0, p.1))
                    );
                }
                plans += 1;
            }
        }
    }
    assert!(plans >= 50 && restricted >= 100, "{plans} plans compared, {restricted} batches solved restricted");
}
