//! hplanc: a compiler for heterogeneous LLM-inference placement plans.
//!
//! Pipeline: source -> [`syntax`] -> AST -> [`resolve`] (+[`units`]) -> [`ir`]
//! -> [`ir::graph`] -> [`cost`] -> [`solve`] -> [`schedule`] and [`simulate`] ->
//! [`report`]. Each phase knows only those to its left; every phase appends to one
//! [`diagnostics`] sink.
//! The CLI and the LSP are thin front ends over [`compile`].

// Diagnostics are returned by value from a few fallible helpers; they are rare
// and boxing them would only add noise.
#![allow(clippy::result_large_err)]

pub mod cli;
pub mod cost;
pub mod diagnostics;
pub mod ir;
pub mod lsp;
pub mod report;
pub mod resolve;
pub mod schedule;
pub mod simulate;
pub mod solve;
pub mod source;
pub mod syntax;
pub mod units;
pub mod validate;

use diagnostics::Diagnostics;
use source::{FileId, Origin, SourceMap};
use std::path::Path;

/// How far to take a compilation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Parse, resolve and check units and schemas; no solving.
    Check,
    /// Everything, including the placement solve of every plan.
    Build,
}

/// The result of compiling one file.
pub struct Compilation {
    pub sources: SourceMap,
    pub root: FileId,
    pub diagnostics: Diagnostics,
    pub program: ir::Program,
    /// per plan, its solution (None if infeasible or not solved)
    pub solved: Vec<Option<solve::Solved>>,
    /// per plan, the timelines of its solution's decode step and prefill
    pub schedules: Vec<Option<schedule::Schedule>>,
    /// per plan with percentile SLOs or `maximize goodput`, the highest arrival rate
    /// meeting them and the configuration serving it (docs/simulation.md)
    pub served: Vec<Option<simulate::search::Served>>,
    /// per solved plan with uncertain inputs, each input varied (docs/uncertainty.md)
    pub sensitivity: Vec<Option<solve::uncertainty::Sensitivity>>,
    /// per `compare`, per compared plan (its index): where it and the baseline tie as one
    /// uncertain input moves (docs/uncertainty.md)
    pub break_even: Vec<Vec<(usize, Vec<solve::uncertainty::BreakEven>)>>,
    /// per `compare`, its `break_even` blocks' answers: per block, per compared plan (its
    /// index), where it and the baseline trade places over the block's values
    pub asked: Vec<Vec<Asked>>,
    pub mode: Mode,
}

impl Compilation {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.has_errors()
    }

    /// Plan `i`'s report.
    pub fn plan_report(&self, i: usize) -> report::PlanReport {
        let solution = self.solved.get(i).and_then(|s| s.as_ref()).zip(self.schedules.get(i).and_then(|s| s.as_ref()));
        let mut r = report::plan_report(&self.program.plans[i], solution);
        if let Some(served) = self.served.get(i).and_then(|s| s.as_ref()) {
            report::simulation::attach(&mut r, &self.program.plans[i], served);
        }
        if let (Some(s), Some(best)) = (self.sensitivity.get(i).and_then(|s| s.as_ref()), self.solved.get(i).and_then(|s| s.as_ref())) {
            r.uncertainty = Some(report::uncertainty::report(&self.program.plans[i], &best.best, s));
            if let Some((_, points)) = &best.sweep {
                let reached = report::uncertainty::frontier_bands(&mut r.frontier, &self.program.plans[i], points, s);
                if let Some(sweep) = r.sweep.as_mut() {
                    sweep.feasible_inside_ranges = reached;
                }
            }
        }
        r
    }

    /// The JSON report document (`report::Report`).
    pub fn report(&self) -> report::Report {
        let plans: Vec<report::PlanReport> =
            if self.mode == Mode::Build { (0..self.program.plans.len()).map(|i| self.plan_report(i)).collect() } else { vec![] };
        let comparisons = if plans.is_empty() {
            vec![]
        } else {
            let none = Vec::new();
            let of = |i: usize| self.break_even.get(i).unwrap_or(&none);
            let no_answers = Vec::new();
            let asked = |i: usize| self.asked.get(i).unwrap_or(&no_answers);
            self.program
                .compares
                .iter()
                .enumerate()
                .map(|(i, c)| report::compare::comparison(c, &plans, of(i), asked(i), &self.program.plans))
                .collect()
        };
        report::Report {
            hplanc: env!("CARGO_PKG_VERSION").to_string(),
            plans,
            comparisons,
            diagnostics: diagnostics::json::all_to_json(&self.diagnostics, &self.sources),
        }
    }
}

/// How to build: threads for sweeps, a sweep for plans without one, progress.
#[derive(Clone, Copy, Default)]
pub struct BuildOptions<'a> {
    /// threads for the plans, sweeps and varied inputs (0: one per core; a plan's solve
    /// also runs its two runner-up searches side by side); the output does not depend
    /// on it
    pub jobs: usize,
    /// sweep every plan without a `sweep` block over its workload's concurrency range
    /// at this many log-spaced points (`hplanc sweep`)
    pub sweep_points: Option<usize>,
    /// called with (points done, points in all) as sweeps progress
    pub progress: Option<&'a (dyn Fn(usize, usize) + Sync)>,
    /// solve each plan at its optimum only, leaving out `sweep` blocks and the rate
    /// search of plans with percentile SLOs (the language server's hints)
    pub skip_sweeps: bool,
    /// solve each plan at its nominal figures only, without varying its uncertain
    /// inputs (docs/uncertainty.md): the robustness corpus does for most of its inputs
    pub skip_uncertainty: bool,
    /// texts that stand in for files on disk when imports are read (unsaved editor
    /// buffers), by canonical path
    pub overlay: Option<&'a std::collections::BTreeMap<std::path::PathBuf, String>>,
}

/// Compiles source text. `name` is shown in diagnostics; `path`, if given, is
/// where relative imports resolve from.
pub fn compile(name: &str, text: &str, path: Option<&Path>, mode: Mode) -> Compilation {
    compile_with(name, text, path, mode, &BuildOptions::default())
}

/// [`compile`] with build options (sweeps).
pub fn compile_with(name: &str, text: &str, path: Option<&Path>, mode: Mode, opts: &BuildOptions) -> Compilation {
    let mut sources = SourceMap::new();
    if let Some(o) = opts.overlay {
        sources.set_overlay(o.clone());
    }
    let origin = match path {
        Some(p) => Origin::Disk(p.to_path_buf()),
        None => Origin::Memory(name.to_string()),
    };
    let root = sources.add(origin, name, text);
    let mut diags = Diagnostics::new();
    let program = resolve::resolve(root, &mut sources, &mut diags);
    let mut solved = Vec::new();
    if mode == Mode::Build {
        // the plans side by side on the build's threads, each with diagnostics of its
        // own, said in plan order: the same as one after another
        // what each plan's solve keeps for the steps after it: the key a `break_even`
        // block that keeps the plan's answer compares with, and the spaces a plan repriced
        // after its solve starts from (a ranged price or power, or a break-even over one)
        let also = |i: usize| {
            let asks = || program.compares.iter().filter(|c| c.baseline == i || c.plans.contains(&i)).flat_map(|c| &c.break_even);
            let spend = |x: &ir::uncertain::Input| x.figure.moves_only_spend();
            let varied = !opts.skip_uncertainty && program.plans[i].inputs().iter().any(spend);
            let repriced = asks().any(|ask| ask.input_of(i).is_some_and(spend));
            // an SLO sweep walks the plan's own spaces (`solve::sweep::run_after`)
            let walked = program.plans[i].sweep.as_ref().is_some_and(|s| matches!(s.over, ir::SweepOver::TokensPerSUser(_)));
            solve::Also {
                enumerated: !opts.skip_sweeps && asks().any(|ask| ask.input_of(i).is_none()),
                spaces: !opts.skip_sweeps && (varied || repriced || walked),
            }
        };
        let each = |i: &usize| {
            let mut own = Diagnostics::new();
            (solve::solve_with(&program.plans[*i], also(*i), &mut own), own)
        };
        let done = match program.plans.len() {
            1 => vec![each(&0)],
            n => solve::sweep::par_map(&(0..n).collect::<Vec<_>>(), opts.jobs, &|_, _| {}, each),
        };
        for (s, own) in done {
            solved.push(s);
            for d in own.into_vec() {
                diags.push(d);
            }
        }
        if !opts.skip_sweeps {
            run_sweeps(&program, &mut solved, opts);
        }
    }
    // the rate search may choose another batch's configuration: it becomes the answer
    let served = if opts.skip_sweeps { vec![None; solved.len()] } else { serve_all(&program, &mut solved, &mut diags) };
    // the schedule of each solved plan, once (the report formats it)
    let schedules = program.plans.iter().zip(&solved).map(|(p, s)| s.as_ref().map(|s| schedule::schedule(p, &s.best))).collect();
    // each uncertain input varied around each solved plan's answer (not for editors), and
    // each comparison's break-evens where both plans varied their inputs: every end,
    // bisection and break-even of every plan one task on the build's threads
    let to_vary: Vec<Option<(&ir::Plan, &solve::Point, Option<&solve::batch::Kept>)>> = program
        .plans
        .iter()
        .zip(&solved)
        .map(|(p, s)| {
            let varied = !opts.skip_sweeps && !opts.skip_uncertainty && !p.inputs().is_empty();
            s.as_ref().filter(|_| varied).map(|s| (p, &s.best, s.kept.as_ref()))
        })
        .collect();
    let nominals = solve::uncertainty::Nominals::new(&to_vary, opts.jobs);
    // a figure's sweep has no bands: its own figure may be one of the inputs
    let sweeps: Vec<_> = solved
        .iter()
        .map(|s| s.as_ref().and_then(|s| s.sweep.as_ref()).filter(|(over, _)| !matches!(over, ir::SweepOver::Figure(..))))
        .collect();
    let sensitivity = solve::uncertainty::vary_all(&nominals, &sweeps, opts.jobs);
    let pairs: Vec<(usize, usize)> = program.compares.iter().flat_map(|c| c.plans.iter().map(|&j| (c.baseline, j))).collect();
    let mut found = solve::uncertainty::break_evens(&nominals, &sensitivity, &pairs, opts.jobs).into_iter();
    let break_even = program.compares.iter().map(|c| c.plans.iter().filter_map(|&j| Some((j, found.next()??))).collect()).collect();
    // each break-even a compare block asks for, where both plans were solved (not for
    // editors): all of them at once on the build's threads
    let asked = asked_break_evens(&program, &solved, opts, &mut diags);
    // the spaces kept for the inputs and break-evens are not the compilation's
    for s in solved.iter_mut().flatten() {
        s.kept = None;
    }
    Compilation { sources, root, diagnostics: diags, program, solved, schedules, served, sensitivity, break_even, asked, mode }
}

/// One `break_even` block's answer: per compared plan (its index), where it and the
/// baseline trade places.
pub type Asked = Vec<(usize, Vec<solve::uncertainty::Crossing>)>;

/// The answers to every compare block's `break_even` blocks, per block and ask: per
/// compared plan that was solved, where it and the baseline trade places over the
/// block's values ([`solve::uncertainty::crossings_all`], every one on the build's
/// threads at once); a W0404 warning for each that does not, in the blocks' order.
fn asked_break_evens(
    program: &ir::Program,
    solved: &[Option<solve::Solved>],
    opts: &BuildOptions,
    diags: &mut Diagnostics,
) -> Vec<Vec<Asked>> {
    let of = |i: usize| solved.get(i).and_then(|s| s.as_ref());
    // (block, ask, compared plan) of every break-even to find, where both were solved
    let mut which: Vec<(usize, usize, usize)> = Vec::new();
    for (ci, c) in program.compares.iter().enumerate() {
        if opts.skip_sweeps || of(c.baseline).is_none() {
            continue;
        }
        for ai in 0..c.break_even.len() {
            which.extend(c.plans.iter().filter(|&&j| of(j).is_some()).map(|&j| (ci, ai, j)));
        }
    }
    let problems: Vec<solve::uncertainty::Asked> = which
        .iter()
        .map(|&(ci, ai, j)| {
            let (c, ask) = (&program.compares[ci], &program.compares[ci].break_even[ai]);
            let side = |i: usize| (&program.plans[i], ask.input_of(i));
            solve::uncertainty::Asked { a: side(c.baseline), b: side(j), solved: [of(c.baseline), of(j)], values: &ask.values }
        })
        .collect();
    let mut found = which.iter().zip(solve::uncertainty::crossings_all(&problems, opts.jobs)).peekable();
    program
        .compares
        .iter()
        .enumerate()
        .map(|(ci, c)| {
            if opts.skip_sweeps || of(c.baseline).is_none() {
                return vec![];
            }
            (0..c.break_even.len())
                .map(|ai| {
                    let ask = &c.break_even[ai];
                    let base = &program.plans[c.baseline];
                    let [lo, hi] = ask.range();
                    let range = format!("{} to {}", units::format::fmt_figure(ask.unit(), lo), units::format::fmt_figure(ask.unit(), hi));
                    let mut out = Vec::new();
                    while let Some((&(_, _, j), (crossed, first))) = found.next_if(|((x, y, _), _)| (*x, *y) == (ci, ai)) {
                        let plan = &program.plans[j];
                        if crossed.is_empty() {
                            // the same plan better at every value (or neither)
                            let better = match first {
                                -1 => Some(base.name.as_str()),
                                1 => Some(plan.name.as_str()),
                                _ => None,
                            };
                            diags.push(diagnostics::catalog::no_break_even(
                                ask.span,
                                &ask.figure,
                                &range,
                                ask.values.len(),
                                [&base.name, &plan.name],
                                better,
                            ));
                        }
                        out.push((j, crossed));
                    }
                    out
                })
                .collect()
        })
        .collect()
}

/// The rate search of every solved plan that bounds a percentile or maximises goodput;
/// the configuration it chooses becomes the plan's best point.
fn serve_all(
    program: &ir::Program,
    solved: &mut [Option<solve::Solved>],
    diags: &mut Diagnostics,
) -> Vec<Option<simulate::search::Served>> {
    use simulate::search::{serve, NotServed};
    program
        .plans
        .iter()
        .zip(solved)
        .map(|(plan, s)| {
            let s = s.as_mut().filter(|_| plan.simulated())?;
            match serve(plan, s) {
                Ok(x) => {
                    s.best = x.point.clone();
                    Some(x)
                }
                Err(NotServed::Failed(e)) => {
                    diags.push(diagnostics::catalog::simulation_failed(plan.workload.span, &e.0));
                    None
                }
                Err(NotServed::Unmet { slo, reached, rate }) => {
                    let reached = if slo.metric == ir::SloMetric::TokensPerSUser {
                        format!("{} tok/s", units::format::fmt_num(reached))
                    } else {
                        units::format::fmt_time(reached)
                    };
                    let rate = format!("{} req/s", units::format::fmt_num(rate));
                    diags.push(diagnostics::catalog::percentile_slo_unmet(slo.span, &slo.name(), &reached, &rate));
                    None
                }
            }
        })
        .collect()
}

/// The sweeps of every solved plan, all in one parallel pass.
fn run_sweeps(program: &ir::Program, solved: &mut [Option<solve::Solved>], opts: &BuildOptions) {
    let mut which = Vec::new();
    let mut overs = Vec::new();
    for (i, plan) in program.plans.iter().enumerate() {
        if solved[i].is_none() {
            continue;
        }
        let over = match (&plan.sweep, opts.sweep_points) {
            (Some(s), _) => s.over.clone(),
            (None, Some(n)) => {
                let (lo, hi) = plan.workload.concurrency;
                ir::SweepOver::Concurrency(ir::concurrency_values(lo, hi, None, Some(n)))
            }
            (None, None) => continue,
        };
        which.push(i);
        overs.push(over);
    }
    if which.is_empty() {
        return;
    }
    let pairs: Vec<(&ir::Plan, &ir::SweepOver)> = which.iter().zip(&overs).map(|(&i, o)| (&program.plans[i], o)).collect();
    let kept: Vec<Option<&solve::batch::Kept>> = which.iter().map(|&i| solved[i].as_ref().and_then(|s| s.kept.as_ref())).collect();
    let results = solve::sweep::run_after(&pairs, &kept, opts.jobs, opts.progress.unwrap_or(&|_, _| {}));
    for ((i, over), points) in which.into_iter().zip(overs).zip(results) {
        if let Some(s) = solved[i].as_mut() {
            s.sweep = Some((over, points));
        }
    }
}

/// Reads and compiles a file from disk.
pub fn compile_file(path: &Path, mode: Mode) -> std::io::Result<Compilation> {
    compile_file_with(path, mode, &BuildOptions::default())
}

/// [`compile_file`] with build options.
pub fn compile_file_with(path: &Path, mode: Mode, opts: &BuildOptions) -> std::io::Result<Compilation> {
    let text = source::read_source(path)?;
    Ok(compile_with(&path.to_string_lossy(), &text, Some(path), mode, opts))
}
