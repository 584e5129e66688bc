//! Simulation speed (release, in process, one thread): issue 19's target is 100,000
//! requests of the llama70b_h100 example in under 1 s on one core. Run with
//! `cargo bench --bench simulate`.
//!
//! Prints the median of 5 runs of `simulate::simulate` alone (the step model's pricing
//! and the event loop; the plan is compiled and solved once, outside the timing), for
//! a closed loop at the solved batch, for Poisson arrivals with drawn lengths, and for
//! the same with shared prompt prefixes (the prefix cache); then
//! the rate search of the MLPerf example (target: under 5 s), `simulate::search::serve`
//! alone (the plan solved once, outside the timing) and the whole build.

use hplanc::simulate::{simulate, Arrivals, Config, Lengths};
use std::path::PathBuf;
use std::time::{Duration, Instant};

mod common;
use common::{banner, median, quick, runs};

fn main() {
    banner("simulate");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/llama70b_h100.hplan");
    let text = std::fs::read_to_string(&path).unwrap();
    let comp = hplanc::compile("llama70b_h100.hplan", &text, Some(&path), hplanc::Mode::Build);
    assert!(!comp.has_errors());
    let (plan, point) = (&comp.program.plans[0], &comp.solved[0].as_ref().unwrap().best);
    let requests = if quick() { 2_000 } else { 100_000 };
    let closed = Config { requests, ..Config::of_plan(plan, point) };
    let poisson = Config {
        arrivals: Arrivals::Poisson { rate: 3.5 },
        input: Lengths::LogNormal { mean: 2048.0, sigma: 0.6 },
        output: Lengths::LogNormal { mean: 512.0, sigma: 0.6 },
        ..closed.clone()
    };
    // the same traffic whose prompts begin with one of 64 shared 1,536-token prefixes:
    // the prefix cache's lookups, evictions and shared blocks on every admission
    let prefixed = Config { prefix: Some(hplanc::ir::Prefix { tokens: 1536, distinct: 64, hit: 1.0 }), ..poisson.clone() };
    for (name, config) in [
        ("closed loop of 64 clients, fixed lengths", &closed),
        ("Poisson 3.5 req/s, lognormal lengths", &poisson),
        ("the same with 64 shared 1,536-token prefixes (prefix cache)", &prefixed),
    ] {
        let mut times = Vec::new();
        let mut tokens = 0;
        for _ in 0..runs(5) {
            let t = Instant::now();
            let o = simulate(plan, point, config).unwrap();
            times.push(t.elapsed());
            tokens = o.requests.iter().map(|r| r.output).sum::<u64>();
        }
        let m = median(times);
        println!("{requests} requests ({tokens} output tokens), {name}: median {m:.2?}");
        if !quick() {
            println!("  target: under 1 s on one core -> {}", if m < Duration::from_secs(1) { "met" } else { "NOT met" });
        }
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/mlperf_llama2_70b_server.hplan");
    let text = std::fs::read_to_string(&path).unwrap();
    let comp = hplanc::compile("mlperf.hplan", &text, Some(&path), hplanc::Mode::Build);
    assert!(!comp.has_errors());
    let (plan, solved) = (&comp.program.plans[0], comp.solved[0].as_ref().unwrap());
    let (mut search, mut build) = (Vec::new(), Vec::new());
    let mut simulations = 0;
    for _ in 0..runs(5) {
        let t = Instant::now();
        let s = hplanc::simulate::search::serve(plan, solved).unwrap();
        search.push(t.elapsed());
        simulations = s.simulations;
        let t = Instant::now();
        let c = hplanc::compile("mlperf.hplan", &text, Some(&path), hplanc::Mode::Build);
        build.push(t.elapsed());
        assert!(c.served[0].is_some());
    }
    let (ms, mb) = (median(search), median(build));
    println!(
        "rate search of mlperf_llama2_70b_server ({simulations} simulations of {} requests): median {ms:.2?}; whole build {mb:.2?}",
        plan.workload.traffic.requests
    );
    if !quick() {
        println!("  target: under 5 s -> {}", if mb < Duration::from_secs(5) { "met" } else { "NOT met" });
    }
}
