//! What the benchmarks share: a generated plan file of any length, timing stats, and
//! the quick mode CI runs. Each bench uses a part of it.
#![allow(dead_code)]

use std::time::Duration;

/// About 56 lines per group: a chip, a link, a model, a workload, a cluster, a plan.
pub fn generate(lines_wanted: usize) -> String {
    let mut s = String::from("// generated for the benchmarks\nuse std::links::nvlink4\n\n");
    let mut i = 0;
    while s.lines().count() < lines_wanted {
        s.push_str(&format!(
            r#"chip gpu{i} {{
  source = "generated"
  compute {{
    bf16 = {bf} TFLOP/s
    fp8  = {f8} TFLOP/s
  }}
  memory hbm {{
    capacity  = {cap} GB
    bandwidth = 3.35 TB/s
  }}
  power = 700 W
  price = 2.35 $/h
  efficiency {{
    compute = 0.67
    memory  = 0.90
    source  = "generated"
  }}
}}

link fabric{i} {{
  source    = "generated"
  bandwidth = 450 GB/s
  latency   = 2 us
}}

model m{i} {{
  source       = "generated"
  layers       = {layers}
  hidden       = 8192
  heads        = 64
  kv_heads     = 8
  head_dim     = 128
  intermediate = 28672
  vocab        = 128256
}}

workload w{i} {{
  input       = {inp}k tok
  output      = 1k tok
  concurrency = 1 ..= 256
}}

cluster c{i} {{
  pool gpu = gpu{i} x 8 over fabric{i}
  pool spare = gpu{i} x 8 over nvlink4
  link gpu <-> spare over fabric{i}
}}

plan p{i} {{
  model    = m{i} {{ weights = fp8 }}
  cluster  = c{i}
  workload = w{i}
  place prefill on gpu
  place decode.attn on gpu
  place decode.ffn on auto
  slo {{ tpot <= 50 ms, ttft <= 2 s }}
  minimize cost_per_mtok
}}

"#,
            bf = 900 + i % 100,
            f8 = 1800 + i % 200,
            cap = 80 + i % 64,
            layers = 32 + i % 64,
            inp = 1 + i % 32,
        ));
        i += 1;
    }
    s
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn stats(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    (v[0], v[v.len() / 2], v[(v.len() * 95 / 100).min(v.len() - 1)])
}

/// `cargo bench -- --quick`: every measurement runs once (and solver time limits are
/// short), so CI proves each bench runs to its end without spending minutes; the times
/// it prints then mean nothing and it says so.
pub fn quick() -> bool {
    std::env::args().any(|a| a == "--quick")
}

/// How many times to repeat a measurement: `n`, or once in quick mode.
pub fn runs(n: usize) -> usize {
    if quick() {
        1
    } else {
        n
    }
}

/// The line a bench prints first: what mode it ran in.
pub fn banner(what: &str) {
    if quick() {
        println!("{what}: quick mode (each measurement once; times are not representative)");
    }
}
