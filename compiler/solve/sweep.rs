//! Sweeps: a plan solved once per value of a variable (the decode batch, or the SLO
//! `tokens_per_s_per_user >= x`), every (plan, value) pair a task run in parallel on
//! all cores. Each task is independent and its result lands in its own slot, so the
//! output does not depend on the number of threads or their timing.

use super::space::{self, Instance};
use super::{goal, ilp, key, Point};
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
    Some(Point { instance, choice, stats: out.stats })
}

/// What one plan's tasks share: its prefill options, and for an SLO sweep the
/// instances at every batch of the workload's range.
struct Shared {
    prefill: Vec<space::PrefillOption>,
    instances: Vec<Instance>,
}

/// Sweeps `plans` (each with its variable's values) together; per plan, one result per
/// value in order.
pub fn run(plans: &[(&Plan, &SweepOver)], jobs: usize, progress: &(dyn Fn(usize, usize) + Sync)) -> Vec<Vec<SweepPoint>> {
    let shared: Vec<Shared> = par_map(plans, jobs, &|_, _| {}, |(plan, over)| {
        let prefill = space::prefill_options(plan, &mut Vec::new());
        let instances = match over {
            SweepOver::TokensPerSUser(_) => {
                let (lo, hi) = plan.workload.concurrency;
                // the swept SLO replaces the plan's own TPOT bound (`tpot`, `tokens_per_s_per_user`)
                let at = |b| Instance { tpot_limit: None, ..space::instance(plan, b, &prefill, &mut Vec::new()) };
                space::batch_candidates(lo, hi).into_iter().map(at).collect()
            }
            SweepOver::Concurrency(_) => Vec::new(),
        };
        Shared { prefill, instances }
    });
    // Tasks: a concurrency sweep's values one by one; an SLO sweep's batches one by one,
    // each walking the values upwards (see `slo_walk`).
    let tasks: Vec<(usize, usize)> = plans
        .iter()
        .enumerate()
        .flat_map(|(p, (_, over))| {
            let n = match over {
                SweepOver::Concurrency(v) => v.len(),
                SweepOver::TokensPerSUser(_) => shared[p].instances.len(),
            };
            (0..n).map(move |i| (p, i))
        })
        .collect();
    let results: Vec<Vec<SweepPoint>> = par_map(&tasks, jobs, progress, |&(p, i)| {
        let (plan, over) = plans[p];
        let g = goal(plan);
        match over {
            SweepOver::Concurrency(v) => {
                let inst = space::instance(plan, v[i], &shared[p].prefill, &mut Vec::new());
                vec![SweepPoint::of(v[i] as f64, &inst, ilp::solve(&inst, g, plan.time_limit))]
            }
            SweepOver::TokensPerSUser(v) => slo_walk(&shared[p].instances[i], v, g, plan.time_limit),
        }
    });
    let mut out: Vec<Vec<SweepPoint>> = plans.iter().map(|_| Vec::new()).collect();
    for ((p, _), r) in tasks.into_iter().zip(results) {
        match plans[p].1 {
            SweepOver::Concurrency(_) => out[p].extend(r),
            // the best batch per value; the earlier batch wins ties, as in the plan's solve
            SweepOver::TokensPerSUser(_) if out[p].is_empty() => out[p] = r,
            SweepOver::TokensPerSUser(_) => {
                let g = goal(plans[p].0);
                for (best, new) in out[p].iter_mut().zip(r) {
                    let better = match (&best.point, &new.point) {
                        (_, None) => false,
                        (None, Some(_)) => true,
                        (Some(b), Some(n)) => key(n, g).partial_cmp(&key(b, g)) == Some(std::cmp::Ordering::Less),
                    };
                    if better {
                        *best = new;
                    }
                }
            }
        }
    }
    out
}

/// One batch's best point at every value of an SLO sweep, values in increasing order.
/// The SLO only tightens as the value grows, so the space only shrinks: when the
/// previous value's optimum still meets the new limit it is still optimal, and only
/// otherwise is the ILP solved again (exact, and most steps of a sweep reuse).
fn slo_walk(base: &Instance, values: &[f64], g: super::Goal, time_limit: f64) -> Vec<SweepPoint> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].partial_cmp(&values[b]).unwrap_or(std::cmp::Ordering::Equal));
    let mut out: Vec<SweepPoint> = values.iter().map(|&value| SweepPoint { value, point: None, failed: None }).collect();
    let mut prev: Option<Point> = None;
    let mut infeasible = false;
    for i in order {
        let limit = 1.0 / values[i];
        if infeasible {
            // a smaller space than one with no feasible choice has none either
            continue;
        }
        let reuse = prev.as_ref().filter(|p| p.instance.decode[p.choice.decode].tpot <= limit).cloned();
        let point = match reuse {
            Some(p) => Some(p),
            None => {
                let mut inst = base.clone();
                inst.tpot_limit = Some(limit);
                match ilp::solve(&inst, g, time_limit) {
                    Ok(out) if out.choice.is_none() && out.stats.proven => {
                        infeasible = true;
                        None
                    }
                    solved => {
                        let p = SweepPoint::of(values[i], &inst, solved);
                        out[i].failed = p.failed;
                        p.point
                    }
                }
            }
        };
        prev = point.clone();
        out[i].point = point;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SLO walk (reusing optima while they stay feasible) equals solving every value
    /// at every batch from scratch, on the three plans of examples/s03_rubin_lpx_frontier.
    #[test]
    fn slo_walk_equals_independent_solves() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/s03_rubin_lpx_frontier.hplan");
        let comp = crate::compile_file(&path, crate::Mode::Check).unwrap();
        assert!(!comp.has_errors());
        for plan in &comp.program.plans {
            let values = crate::ir::log_spaced(20.0, 700.0, 9);
            let over = SweepOver::TokensPerSUser(values.clone());
            let walked = run(&[(plan, &over)], 2, &|_, _| {}).remove(0);
            let g = goal(plan);
            let prefill = space::prefill_options(plan, &mut Vec::new());
            let (lo, hi) = plan.workload.concurrency;
            for (x, w) in values.iter().zip(&walked) {
                let mut best: Option<(f64, f64)> = None;
                for b in space::batch_candidates(lo, hi) {
                    let mut inst = space::instance(plan, b, &prefill, &mut Vec::new());
                    inst.tpot_limit = Some(1.0 / x);
                    if let Some(p) = trimmed(&inst, ilp::solve(&inst, g, 30.0).unwrap()) {
                        let k = key(&p, g);
                        if best.is_none_or(|b| k < b) {
                            best = Some(k);
                        }
                    }
                }
                match (best, &w.point) {
                    (None, None) => {}
                    (Some(b), Some(p)) => {
                        let k = key(p, g);
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
