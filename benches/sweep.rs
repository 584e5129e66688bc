//! Sweep times (release, in process): issue 6's target is 512 concurrency points over
//! 3 plans in under 1 s on 2 cores. Run with `cargo bench --bench sweep`.
//!
//! Prints the median of 5 runs of the whole build (parse, resolve, each plan's own
//! solve and runner-up, the sweeps, the uncertain figures varied and the frontier's
//! bands), of the same with the figures nominal, and of the sweeps alone, on every core
//! and on one (`-- --quick`, CI: once each, on every core only).

use std::path::PathBuf;
use std::time::Instant;

mod common;
use common::{banner, median, quick, runs};

fn main() {
    banner("sweep");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/plans/sweep_3x512.hplan");
    let text = std::fs::read_to_string(&path).unwrap();
    let cores = hplanc::solve::sweep::threads(0);
    // One thread as well as every core, except in quick mode (CI), where the second run
    // would exercise nothing new (the thread count's answers are equal: tests/cli.rs).
    let jobs_tried: &[usize] = if quick() { &[0] } else { &[0, 1] };
    for &jobs in jobs_tried {
        let opts = hplanc::BuildOptions { jobs, ..Default::default() };
        let mut build = Vec::new();
        let mut points = 0;
        let mut feasible = 0;
        for _ in 0..runs(5) {
            let t = Instant::now();
            let c = hplanc::compile_with("sweep_3x512.hplan", &text, Some(&path), hplanc::Mode::Build, &opts);
            build.push(t.elapsed());
            assert!(!c.has_errors());
            let sweeps: Vec<_> = c.solved.iter().flatten().filter_map(|s| s.sweep.as_ref()).collect();
            points = sweeps.iter().map(|(_, p)| p.len()).sum::<usize>();
            feasible = sweeps.iter().map(|(_, p)| p.iter().filter(|x| x.point.is_some()).count()).sum::<usize>();
        }
        // the same build with the uncertain figures nominal: the frontier's bands (a sweep
        // per end of each stdlib range) are most of the whole build's time
        let nominal_opts = hplanc::BuildOptions { jobs, skip_uncertainty: true, ..Default::default() };
        let mut nominal = Vec::new();
        for _ in 0..runs(5) {
            let t = Instant::now();
            let c = hplanc::compile_with("sweep_3x512.hplan", &text, Some(&path), hplanc::Mode::Build, &nominal_opts);
            nominal.push(t.elapsed());
            assert!(!c.has_errors());
        }
        let comp = hplanc::compile("sweep_3x512.hplan", &text, Some(&path), hplanc::Mode::Check);
        let pairs: Vec<_> = comp.program.plans.iter().map(|p| (p, &p.sweep.as_ref().unwrap().over)).collect();
        let mut sweep = Vec::new();
        for _ in 0..runs(5) {
            let t = Instant::now();
            std::hint::black_box(hplanc::solve::sweep::run(&pairs, jobs, &|_, _| {}));
            sweep.push(t.elapsed());
        }
        let threads = if jobs == 0 { cores } else { jobs };
        println!(
            "{points} points over {} plans ({feasible} feasible), {threads} thread(s): whole build {:.2?} (with the figures nominal, no bands: {:.2?}), sweeps alone {:.2?}",
            pairs.len(),
            median(build),
            median(nominal),
            median(sweep)
        );
    }
}
