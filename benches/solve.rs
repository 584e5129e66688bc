//! Placement solve times (release, in process): every example, and a plan over six
//! pools with every stage on `auto`. Issue 5's targets: each example under 50 ms, the
//! six-pool plan under 200 ms. Run with `cargo bench --bench solve`.
//!
//! Prints the median of repeated `compile(.., Mode::Build)` runs minus the median of
//! `Mode::Check` (parse and resolve), the ILP solves made, and the brute-force oracle's
//! time over the same instances for comparison.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn bench(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let runs = 15;
    let mut build = Vec::new();
    let mut check = Vec::new();
    let mut solves = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let c = hplanc::compile(&name, &text, Some(path), hplanc::Mode::Check);
        check.push(t.elapsed());
        std::hint::black_box(c.program.plans.len());
        let t = Instant::now();
        let c = hplanc::compile(&name, &text, Some(path), hplanc::Mode::Build);
        build.push(t.elapsed());
        assert!(!c.has_errors(), "{name} must build");
        solves = c.solved.iter().flatten().map(|s| s.per_batch.iter().map(|p| p.stats.solves).sum::<usize>()).sum();
    }
    // The oracle over the same instances.
    let comp = hplanc::compile(&name, &text, Some(path), hplanc::Mode::Check);
    let t = Instant::now();
    let mut configs = 0usize;
    for plan in &comp.program.plans {
        let goal = hplanc::solve::goal(plan);
        for inst in hplanc::solve::space::instances(plan, &mut vec![]) {
            configs += inst.decode.len() * inst.prefill.iter().map(|p| p.max_replicas as usize).sum::<usize>();
            std::hint::black_box(hplanc::solve::brute::best(&inst, goal));
        }
    }
    let oracle = t.elapsed();
    let (b, c) = (median(build), median(check));
    println!(
        "{name:32} solve {:>9.2?} (build {:>9.2?} - check {:>8.2?}), {solves:3} ILP solves (winner, without the runner-up search); space {configs} configurations; oracle incl. space {oracle:.2?}",
        b.saturating_sub(c),
        b,
        c
    );
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("examples")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files.push(root.join("benches/plans/six_pools_auto.hplan"));
    for f in files {
        bench(&f);
    }
}
