//! `hplanc check` on a generated 5,000-line plan file, whole process (release).
//! Target (issue 3): under 20 ms. Run with `cargo bench --bench check`.
//!
//! Prints min / median / p95 wall time of the real binary over many runs, and the
//! in-process time of the library's compile (parse, resolve, units, schema) alone.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// About 56 lines per group: a chip, a link, a model, a workload, a cluster, a plan.
fn generate(lines_wanted: usize) -> String {
    let mut s = String::from("// generated for benches/check.rs\nuse std::links::nvlink4\n\n");
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

fn stats(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    (v[0], v[v.len() / 2], v[(v.len() * 95 / 100).min(v.len() - 1)])
}

fn main() {
    let text = generate(5000);
    let lines = text.lines().count();
    let dir = std::env::temp_dir().join(format!("hplanc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file: PathBuf = dir.join("big.hplan");
    std::fs::write(&file, &text).unwrap();

    // In-process: the library's front end.
    let comp = hplanc::compile("big.hplan", &text, None, hplanc::Mode::Check);
    assert!(!comp.has_errors(), "the generated file must be valid");
    let mut lib = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let c = hplanc::compile("big.hplan", &text, None, hplanc::Mode::Check);
        lib.push(t.elapsed());
        std::hint::black_box(c.program.plans.len());
    }

    // Parsing alone (pest + lowering to the AST).
    let mut parse = Vec::new();
    for _ in 0..30 {
        let t = Instant::now();
        let mut d = hplanc::diagnostics::Diagnostics::new();
        let f = hplanc::syntax::parse_file(hplanc::source::FileId(0), &text, &mut d);
        parse.push(t.elapsed());
        std::hint::black_box(f.items.len());
    }

    // Whole process: the real binary, as a user runs it.
    let bin = env!("CARGO_BIN_EXE_hplanc");
    let mut proc = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let o = Command::new(bin).arg("check").arg(&file).output().unwrap();
        proc.push(t.elapsed());
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let (lmin, lmed, lp95) = stats(lib);
    let (smin, smed, sp95) = stats(parse);
    let (pmin, pmed, pp95) = stats(proc);
    println!("check of a {lines}-line file ({} bytes, {} plans)", text.len(), comp.program.plans.len());
    println!("  parse only (pest + AST):           min {smin:.2?}  median {smed:.2?}  p95 {sp95:.2?}");
    println!("  in process (compile, Mode::Check): min {lmin:.2?}  median {lmed:.2?}  p95 {lp95:.2?}");
    println!("  whole process (hplanc check):      min {pmin:.2?}  median {pmed:.2?}  p95 {pp95:.2?}");
    println!("  target: whole process under 20 ms -> {}", if pmed < Duration::from_millis(20) { "met" } else { "NOT met" });
    let _ = std::fs::remove_dir_all(&dir);
}
