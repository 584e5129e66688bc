//! Sweeps: a plan solved once per value of a variable (the decode batch, or the SLO
//! `tokens_per_s_per_user >= x`), every (plan, value) pair a task run in parallel on
//! all cores. Each task's result lands in its own slot, and no task's answer depends on
//! another's (a figure's sweep starts its values' searches from its best value's floors
//! where they are ready, which changes only what a search builds), so the output does
//! not depend on the number of threads or their timing.

use super::batch::{self, Batches};
use super::space::{self, Instance};
use super::{goal, ilp, Point};
use crate::ir::{Plan, SweepOver};
use std::sync::atomic::{AtomicUsize, Ordering};

/// One value of a sweep and the best placement there (`None`: nothing feasible, or the
/// solver failed).
#[derive(Clone, Debug)]
pub struct SweepPoint {
    /// the variable's value: a concurrency, or tok/s per user
    pub value: f64,
    pub point: Option<Point>,
    /// the solver's reason when it failed at this value (not the same as infeasible)
    pub failed: Option<String>,
}

impl SweepPoint {
    /// The point of a solve's outcome at `value`: its choice, or the solver's failure.
    fn of(value: f64, inst: &Instance, solved: Result<ilp::Outcome, String>) -> SweepPoint {
        match solved {
            Ok(out) => SweepPoint { value, point: trimmed(inst, out), failed: None },
            Err(reason) => SweepPoint { value, point: None, failed: Some(reason) },
        }
    }
}

/// The threads to use for `jobs` (0: one per core).
pub fn threads(jobs: usize) -> usize {
    if jobs > 0 {
        jobs
    } else {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    }
}

/// `f` over `items` on `jobs` threads, results in item order; `progress(done, total)`
/// after each item.
pub fn par_map<T: Sync, R: Send>(items: &[T], jobs: usize, progress: &(dyn Fn(usize, usize) + Sync), f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let total = items.len();
    let mut slots: Vec<Option<R>> = (0..total).map(|_| None).collect();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads(jobs).min(total.max(1)))
            .map(|_| {
                s.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= total {
                            break;
                        }
                        out.push((i, f(&items[i])));
                        progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                    }
                    out
                })
            })
            .collect();
        for w in workers {
            // a worker only panics if `f` does; re-raise it on this thread
            match w.join() {
                Ok(out) => {
                    for (i, r) in out {
                        slots[i] = Some(r);
                    }
                }
                Err(e) => std::panic::resume_unwind(e),
            }
        }
    });
    slots.into_iter().map(|r| r.expect("every item was taken by a worker")).collect()
}

/// A point that keeps only the chosen options of its instance (a sweep holds
/// thousands; their full instances would not fit in memory).
fn trimmed(inst: &Instance, out: ilp::Outcome) -> Option<Point> {
    let c = out.choice?;
    let instance = inst.with_options(vec![inst.decode[c.decode].clone()], vec![inst.prefill[c.prefill].clone()]);
    let choice = space::Choice { decode: 0, prefill: 0, replicas: c.replicas };
    Some(Point { instance: std::sync::Arc::new(instance), choice, stats: out.stats })
}

/// Sweeps `plans` (each with its variable's values) together; per plan, one result per
/// value in order. A concurrency sweep solves each value (a batch) on its own, one task
/// each; an SLO sweep is one task per plan that walks its values upwards over the plan's
/// spaces, built once ([`slo_walk`]).
pub fn run(plans: &[(&Plan, &SweepOver)], jobs: usize, progress: &(dyn Fn(usize, usize) + Sync)) -> Vec<Vec<SweepPoint>> {
    run_after(plans, &[], jobs, progress)
}

/// [`run`], an SLO sweep of plan `i` starting from the spaces its solve kept
/// (`kept[i]`, where given: [`Batches::resumed`]) rather than building them again; the
/// same points.
pub fn run_after(
    plans: &[(&Plan, &SweepOver)],
    kept: &[Option<&batch::Kept>],
    jobs: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Vec<Vec<SweepPoint>> {
    // a concurrency sweep's values share the plan's prefill options (an SLO sweep's
    // `Batches` has its own)
    let prefill: Vec<Vec<space::PrefillOption>> = par_map(plans, jobs, &|_, _| {}, |(plan, over)| match over {
        SweepOver::Concurrency(_) => space::prefill_options(plan, &mut Vec::new()),
        SweepOver::TokensPerSUser(_) | SweepOver::Figure(..) => Vec::new(),
    });
    let mut tasks: Vec<(usize, usize)> = plans
        .iter()
        .enumerate()
        .flat_map(|(p, (_, over))| {
            let n = match over {
                SweepOver::Concurrency(v) => v.len(),
                SweepOver::Figure(_, v) => v.len(),
                SweepOver::TokensPerSUser(_) => 1,
            };
            (0..n).map(move |i| (p, i))
        })
        .collect();
    // a figure's sweep solves first the value where the figure is best (the lowest time,
    // price or power; the highest peak, efficiency or bandwidth): its spaces' floors
    // bound the plan at every other value, whose search starts from them where they are
    // ready when it starts (the same point either way, `batch::search_floored`; only
    // how much it builds depends on the timing)
    let best_value = |p: usize| match plans[p].1 {
        SweepOver::Figure(input, v) if !v.is_empty() => {
            let worse_up = super::uncertainty::more_is_worse(input.figure);
            let at = |k: usize| if worse_up { v[k] } else { -v[k] };
            (0..v.len()).min_by(|&a, &b| at(a).total_cmp(&at(b)))
        }
        _ => None,
    };
    tasks.sort_by_key(|&(p, i)| best_value(p) != Some(i));
    let floors: Vec<std::sync::OnceLock<Option<batch::Floors>>> = plans.iter().map(|_| Default::default()).collect();
    let results: Vec<Vec<SweepPoint>> = par_map(&tasks, jobs, progress, |&(p, i)| {
        let (plan, over) = plans[p];
        let g = goal(plan);
        match over {
            SweepOver::Concurrency(v) => {
                let inst = space::instance(plan, v[i], &prefill[p], &mut Vec::new());
                vec![SweepPoint::of(v[i] as f64, &inst, ilp::solve(&inst, g, plan.time_limit))]
            }
            SweepOver::TokensPerSUser(v) => slo_walk(plan, v, kept.get(p).copied().flatten()),
            SweepOver::Figure(input, v) if best_value(p) == Some(i) => {
                let (point, own) = at_figure_from(plan, input, v[i], None, true);
                floors[p].get_or_init(|| own);
                vec![point]
            }
            SweepOver::Figure(input, v) => vec![at_figure_from(plan, input, v[i], floors[p].get().and_then(Option::as_ref), false).0],
        }
    });
    // back in each plan's order of values
    let mut done: Vec<((usize, usize), Vec<SweepPoint>)> = tasks.into_iter().zip(results).collect();
    done.sort_by_key(|(t, _)| *t);
    let mut out: Vec<Vec<SweepPoint>> = plans.iter().map(|_| Vec::new()).collect();
    for ((p, _), r) in done {
        out[p].extend(r);
    }
    out
}

/// The best point over every batch of `plan`'s range at every value of an SLO sweep
/// (`tokens_per_s_per_user >= x`, in place of the plan's own TPOT bound), values walked
/// in increasing order. At each value the search over every batch ([`batch::search`],
/// as the plan's own solve) finds the best batch and the ILP places it. The bound only
/// tightens as the value grows, so the space only shrinks: while the previous value's
/// point still meets the new bound it is still the best and nothing is searched, and
/// after a value with nothing feasible no larger one has anything either. Over the
/// spaces the plan's solve `kept` where given (no space depends on the TPOT bound but
/// for the bound itself, which each value puts in place), else spaces built afresh.
fn slo_walk(plan: &Plan, values: &[f64], kept: Option<&batch::Kept>) -> Vec<SweepPoint> {
    let mut batches = match kept {
        Some(k) => Batches::resumed(plan, k),
        None => Batches::new(plan),
    };
    slo_walk_in(&mut batches, values, true, None)
}

/// A sweep solved by enumeration alone over `batches` (its plan's spaces, built or
/// to be built): every value's best point as [`run`] finds it, each batch's space
/// enumerated in the solver's order ([`batch::by_goal`], the exact enumeration the
/// ILP's answers are tested against) and not placed again by the ILP. What the
/// frontier's bands re-solve with one uncertain input at an end of its range
/// (docs/uncertainty.md). An SLO sweep leaves its last bound on `batches`.
///
/// `floors`: for an SLO sweep whose plan's figures are no better than those of the
/// nominal spaces that gave them, per value (in the sweep's order) the [`batch::Floors`]
/// of those spaces under that value's bound: each value's search starts from them
/// ([`batch::search_floored`]), raised by the keys the values before it found.
pub fn enumerated(batches: &mut Batches, over: &SweepOver, floors: Option<&[Option<batch::Floors>]>) -> Vec<SweepPoint> {
    let g = goal(batches.plan());
    match over {
        SweepOver::Concurrency(v) => v
            .iter()
            .map(|&b| {
                let inst = batches.at(b);
                let solved = batch::by_goal(g)(inst, None).map(|(choice, stats)| ilp::Outcome { choice, stats, halves: None });
                SweepPoint::of(b as f64, inst, solved)
            })
            .collect(),
        SweepOver::TokensPerSUser(v) => slo_walk_in(batches, v, false, floors),
        // the bands of a figure's sweep are not taken (`solve::uncertainty::vary`)
        SweepOver::Figure(input, v) => v.iter().map(|&x| at_figure(batches.plan(), input, x)).collect(),
    }
}

/// `plan` with the figure `input` at `value`, solved over its whole space as an SLO
/// sweep's value is ([`slo_walk`]): every batch searched ([`batch::search`]), the best
/// batch placed by the ILP; its point holds only its chosen options (priced with the
/// figure there).
fn at_figure(plan: &Plan, input: &crate::ir::uncertain::Input, value: f64) -> SweepPoint {
    at_figure_from(plan, input, value, None, false).0
}

/// [`at_figure`], the search solving at most `max_solved` batches: a search stopped
/// there that found nothing feasible is a failed point with that reason, not an
/// infeasible one (the batches left might have held a feasible point; what
/// [`figure_point`] tells apart, here at a bound small enough to reach).
#[cfg(test)]
fn at_figure_solving(plan: &Plan, input: &crate::ir::uncertain::Input, value: f64, max_solved: usize) -> SweepPoint {
    let varied = plan.with_input(input, value);
    let g = goal(&varied);
    let mut batches = Batches::new(&varied);
    let found = batch::search_all_at_most(&mut batches, g, &mut batch::by_goal(g), max_solved);
    figure_point(&varied, &mut batches, value, found)
}

/// [`at_figure`], its search started from `floors` where given (those of the spaces at
/// a value of the figure no worse: [`batch::search_floored`], the same point), and with
/// `keep`, the floors its own spaces give for worse values ([`Batches::floors`]).
fn at_figure_from(
    plan: &Plan,
    input: &crate::ir::uncertain::Input,
    value: f64,
    floors: Option<&batch::Floors>,
    keep: bool,
) -> (SweepPoint, Option<batch::Floors>) {
    let varied = plan.with_input(input, value);
    let g = goal(&varied);
    let mut batches = Batches::new(&varied);
    let found = match floors {
        Some(f) => batch::search_floored(&mut batches, g, f, &mut batch::by_goal(g)),
        None => batch::search_all(&mut batches, g, &mut batch::by_goal(g)),
    };
    let point = figure_point(&varied, &mut batches, value, found);
    (point, if keep { batches.floors(g) } else { None })
}

/// A figure's sweep point at `value` from the search over `varied`'s `batches`: its
/// best batch placed by the ILP.
fn figure_point(varied: &Plan, batches: &mut Batches, value: f64, found: Result<batch::Found, String>) -> SweepPoint {
    let g = goal(varied);
    match found {
        Ok(found) => match found.best {
            Some(best) => {
                let inst = batches.at(best.instance.batch).clone();
                SweepPoint::of(value, &inst, ilp::solve(&inst, g, varied.time_limit))
            }
            None if found.unsearched.is_some() => {
                SweepPoint { value, point: None, failed: Some(format!("no feasible batch among the {} searched", found.solved.len())) }
            }
            None => SweepPoint { value, point: None, failed: None },
        },
        Err(reason) => SweepPoint { value, point: None, failed: Some(reason) },
    }
}

/// [`slo_walk`] over `batches`, the best batch placed by the ILP (`ilp`) or as the
/// enumeration found it.
fn slo_walk_in(batches: &mut Batches, values: &[f64], ilp: bool, floors: Option<&[Option<batch::Floors>]>) -> Vec<SweepPoint> {
    let plan = batches.plan();
    let g = goal(plan);
    // each seed batch with a lower bound on its key: none at first, then its key at the
    // last value searched (the bound only tightens as the values grow, so a batch's best
    // is no better than it was: a valid bound, and the search leaves batches it cannot
    // beat unsolved; infinite where nothing was feasible)
    let mut start: Vec<(u64, Option<batch::Key>)> = batch::seeds(plan).into_iter().map(|b| (b, None)).collect();
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut out: Vec<SweepPoint> = values.iter().map(|&value| SweepPoint { value, point: None, failed: None }).collect();
    let mut prev: Option<Point> = None;
    let mut infeasible = false;
    for i in order {
        let limit = 1.0 / values[i];
        if infeasible {
            // a smaller space than one with nothing feasible has nothing either
            continue;
        }
        if let Some(p) = prev.as_ref().filter(|p| p.instance.decode[p.choice.decode].tpot <= limit) {
            out[i].point = Some(p.clone());
            continue;
        }
        batches.set_tpot_limit(Some(limit));
        let searched = match floors.and_then(|f| f.get(i)).and_then(|f| f.as_ref()) {
            Some(f) => batch::search_floored(batches, g, &f.raised(&start), &mut batch::by_goal(g)),
            None => batch::search(batches, g, &start, &|_| None, &mut batch::by_goal(g)),
        };
        let found = match searched {
            Ok(f) => f,
            Err(reason) => {
                out[i].failed = Some(reason);
                prev = None;
                continue;
            }
        };
        for &(b, key) in &found.solved {
            if let Some(seed) = start.iter_mut().find(|s| s.0 == b) {
                seed.1 = Some(key.unwrap_or((f64::INFINITY, f64::INFINITY)));
            }
        }
        let Some(best) = found.best else {
            match found.unsearched {
                // nothing in the batches searched, but not every batch was
                Some(_) => out[i].failed = Some(format!("no feasible batch among the {} searched", found.solved.len())),
                None => infeasible = true,
            }
            prev = None;
            continue;
        };
        // the plan's answers are the ILP's: it places the best batch
        let p = if ilp {
            let inst = batches.at(best.instance.batch).clone();
            SweepPoint::of(values[i], &inst, ilp::solve(&inst, g, plan.time_limit))
        } else {
            let out = ilp::Outcome { choice: Some(best.choice), stats: best.stats, halves: None };
            SweepPoint { value: values[i], point: trimmed(&best.instance, out), failed: None }
        };
        out[i].failed = p.failed;
        prev = p.point.clone();
        out[i].point = p.point;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A figure's value at which nothing is feasible is an infeasible point, with no
    /// reason to report; a search stopped at its bound on batches before finding
    /// anything is a failed point that says so (here, at one batch: the first seed is
    /// solved, and the next would be the second). The nominal figure has a point.
    #[test]
    fn a_figure_sweeps_infeasible_value_is_told_from_a_stopped_search() {
        let text = "use std::chips::b200\nuse std::links::nvlink5\nuse std::models::llama3_1_8b\n\
                    chip b = b200 { step_overhead = 20 us in [1 us, 1 s] }\n\
                    workload w {\n  input = 1k tok\n  output = 128 tok\n  concurrency = 1 ..= 8\n}\n\
                    cluster c {\n  pool g = b x 8 over nvlink5\n}\n\
                    plan p {\n  model = llama3_1_8b\n  cluster = c\n  workload = w\n  slo { tpot <= 5 ms }\n}\n";
        let comp = crate::compile("figure.hplan", text, None, crate::Mode::Check);
        assert!(!comp.has_errors(), "{:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
        let plan = &comp.program.plans[0];
        let input = plan.inputs().remove(0);
        let nominal = at_figure(plan, &input, input.nominal);
        assert!(nominal.point.is_some() && nominal.failed.is_none());
        // a second per step: no placement meets 5 ms
        let slow = at_figure(plan, &input, 1.0);
        assert!(slow.point.is_none() && slow.failed.is_none(), "{:?}", slow.failed);
        let stopped = at_figure_solving(plan, &input, 1.0, 1);
        assert!(stopped.point.is_none());
        assert_eq!(stopped.failed.as_deref(), Some("no feasible batch among the 1 searched"));
    }

    /// A figure's sweep solves its best value first and every other from that value's
    /// floors (`run`): each point is the one its value gives solved alone from every
    /// seed (`at_figure`), on any number of threads, for a figure that is worse larger
    /// (a fixed cost, some values infeasible) and one that is better larger (an
    /// efficiency), under goals with floors and one without (chips).
    #[test]
    fn a_figure_sweep_from_its_best_values_floors_is_each_value_alone() {
        use crate::ir::uncertain::Figure;
        let text = "use std::chips::b200\nuse std::links::nvlink5\nuse std::models::llama3_1_8b\n\
                    chip b = b200 {\n  step_overhead = 20 us in [1 us, 1 s]\n  \
                    efficiency {\n    compute = 0.6 in [0.3, 0.9]\n    memory = 0.9 in [0.5, 0.95]\n    source = \"test\"\n  }\n}\n\
                    workload w {\n  input = 1k tok\n  output = 128 tok\n  concurrency = 1 ..= 64\n}\n\
                    cluster c {\n  pool g = b x 8 over nvlink5\n}\n\
                    plan p {\n  model = llama3_1_8b\n  cluster = c\n  workload = w\n  slo { tpot <= 20 ms }\n}\n";
        let comp = crate::compile("figure.hplan", text, None, crate::Mode::Check);
        assert!(!comp.has_errors(), "{:?}", comp.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
        let inputs = comp.program.plans[0].inputs();
        let overhead = inputs.iter().find(|i| i.figure == Figure::StepOverhead).expect("the fixed cost");
        let efficiency = inputs.iter().find(|i| !super::super::uncertainty::more_is_worse(i.figure)).expect("a figure better larger");
        let mut swept = 0;
        for objective in [crate::ir::Objective::CostPerMtok, crate::ir::Objective::Tpot, crate::ir::Objective::Chips] {
            let plan = Plan { objective, ..comp.program.plans[0].clone() };
            for input in [overhead, efficiency] {
                let values: Vec<f64> = (0..6).map(|k| input.low + (input.high - input.low) * k as f64 / 5.0).collect();
                let over = SweepOver::Figure(input.clone(), values.clone());
                let alone: Vec<SweepPoint> = values.iter().map(|&v| at_figure(&plan, input, v)).collect();
                let what = |p: &SweepPoint| {
                    (p.point.as_ref().map(|p| (p.instance.batch, p.choice, super::super::key(p, goal(&plan)))), p.failed.clone())
                };
                for jobs in [1, 2] {
                    let got = run(&[(&plan, &over)], jobs, &|_, _| {}).remove(0);
                    assert_eq!(got.len(), values.len());
                    for (g, a) in got.iter().zip(&alone) {
                        assert_eq!(g.value, a.value);
                        assert_eq!(what(g), what(a), "{objective:?}, {} at {}, {jobs} threads", input.name(), g.value);
                    }
                    swept += 1;
                }
                assert!(alone.iter().any(|p| p.point.is_some()), "{}", input.name());
            }
            // a second per step meets no 20 ms bound: the sweep has infeasible values too
            assert!(values_infeasible(&plan, overhead));
        }
        assert_eq!(swept, 12);
    }

    /// Whether `input` at its high end leaves `plan` nothing feasible.
    fn values_infeasible(plan: &Plan, input: &crate::ir::uncertain::Input) -> bool {
        at_figure(plan, input, input.high).point.is_none()
    }

    /// The SLO walk (reusing optima while they stay feasible, searching every batch)
    /// equals the best over every batch of the range solved from scratch at every value
    /// (each batch's space enumerated), on the three plans of
    /// examples/s03_rubin_lpx_frontier over concurrency 1 to 96; and walked over the
    /// spaces the plan's solve kept (`run_after`), it finds the same point at every
    /// value: batch, options and replicas.
    #[test]
    fn slo_walk_equals_the_best_of_every_batch() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/s03_rubin_lpx_frontier.hplan");
        let comp = crate::compile_file(&path, crate::Mode::Check).unwrap();
        assert!(!comp.has_errors());
        // values where the powers-of-two grid misses the best batch: the walk must not
        let mut grid_misses = 0;
        for plan in &comp.program.plans {
            let mut plan = plan.clone();
            plan.workload.concurrency = (1, 96);
            let values = crate::ir::log_spaced(20.0, 700.0, 9);
            let over = SweepOver::TokensPerSUser(values.clone());
            let walked = run(&[(&plan, &over)], 2, &|_, _| {}).remove(0);
            let also = crate::solve::Also { spaces: true, ..Default::default() };
            let solved = crate::solve::solve_with(&plan, also, &mut crate::diagnostics::Diagnostics::new());
            let kept = solved.as_ref().and_then(|s| s.kept.as_ref());
            assert!(kept.is_some_and(|k| k.batches().count() >= batch::seeds(&plan).len()), "{}", plan.name);
            let resumed = run_after(&[(&plan, &over)], &[kept], 2, &|_, _| {}).remove(0);
            let chosen = |p: &Point| {
                let (i, c) = (&p.instance, p.choice);
                (i.batch, i.decode[c.decode].clone(), i.prefill[c.prefill].clone(), c.replicas)
            };
            for (a, b) in walked.iter().zip(&resumed) {
                assert_eq!(a.point.as_ref().map(chosen), b.point.as_ref().map(chosen), "{} at {}", plan.name, a.value);
                assert_eq!(a.failed, b.failed);
            }
            let g = goal(&plan);
            let prefill = space::prefill_options(&plan, &mut Vec::new());
            let spaces: Vec<Instance> = (1..=96).map(|b| space::instance(&plan, b, &prefill, &mut Vec::new())).collect();
            for (x, w) in values.iter().zip(&walked) {
                let (mut best, mut on_grid): (Option<batch::Key>, Option<batch::Key>) = (None, None);
                let grid = space::batch_candidates(1, 96);
                for inst in &spaces {
                    let inst = Instance { tpot_limit: Some(1.0 / x), ..inst.clone() };
                    if let Some((c, _)) = crate::solve::brute::best(&inst, g) {
                        let k = crate::solve::batch::key(&inst, c, g).unwrap();
                        if best.is_none_or(|b| k < b) {
                            best = Some(k);
                        }
                        if grid.contains(&inst.batch) && on_grid.is_none_or(|b| k < b) {
                            on_grid = Some(k);
                        }
                    }
                }
                grid_misses += usize::from(on_grid.zip(best).is_some_and(|(o, b)| o.0 > b.0 * (1.0 + 1e-9)));
                match (best, &w.point) {
                    (None, None) => {}
                    (Some(b), Some(p)) => {
                        let k = crate::solve::key(p, g);
                        assert!(
                            (k.0 - b.0).abs() <= 1e-9 * b.0.abs() && (k.1 - b.1).abs() <= 1e-9 * b.1.abs(),
                            "{} at {x}: {k:?} vs {b:?}",
                            plan.name
                        );
                        assert!(p.instance.decode[0].tpot <= 1.0 / x * (1.0 + 1e-12));
                    }
                    (b, p) => panic!("{} at {x}: independent {b:?}, walked {:?}", plan.name, p.is_some()),
                }
            }
        }
        assert!(grid_misses > 0, "the grid finds every value's best: the test tells nothing");
    }

    /// Issue 18: a solver failure inside a sweep is a failure with its reason, not an
    /// infeasible point (it was `.ok()` into `None`).
    #[test]
    fn a_failed_solve_is_not_infeasible() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/llama70b_h100.hplan");
        let comp = crate::compile_file(&path, crate::Mode::Check).unwrap();
        let plan = &comp.program.plans[0];
        let inst = space::instance(plan, 8, &space::prefill_options(plan, &mut Vec::new()), &mut Vec::new());
        let failed = SweepPoint::of(8.0, &inst, Err("the backend gave up".into()));
        assert!(failed.point.is_none());
        assert_eq!(failed.failed.as_deref(), Some("the backend gave up"));
        let solved = SweepPoint::of(8.0, &inst, ilp::solve(&inst, crate::solve::Goal::CostPerToken, 30.0));
        assert!(solved.point.is_some() && solved.failed.is_none());
    }

    #[test]
    fn par_map_keeps_order_for_any_thread_count() {
        let items: Vec<u64> = (0..100).collect();
        for jobs in [1, 2, 3, 8] {
            let out = super::par_map(&items, jobs, &|_, _| {}, |x| x * x);
            assert_eq!(out, items.iter().map(|x| x * x).collect::<Vec<_>>());
        }
        let none: Vec<u64> = Vec::new();
        assert!(super::par_map(&none, 4, &|_, _| {}, |x| *x).is_empty());
    }
}
