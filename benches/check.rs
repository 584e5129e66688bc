//! `hplanc check` on a generated 5,000-line plan file, whole process (release).
//! Target (issue 3): under 20 ms. Run with `cargo bench --bench check`.
//!
//! Prints min / median / p95 wall time of the real binary over many runs, and the
//! in-process time of the library's compile (parse, resolve, units, schema) alone.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
use common::{banner, generate, runs, stats};

fn main() {
    banner("check");
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
    for _ in 0..runs(30) {
        let t = Instant::now();
        let c = hplanc::compile("big.hplan", &text, None, hplanc::Mode::Check);
        lib.push(t.elapsed());
        std::hint::black_box(c.program.plans.len());
    }

    // Parsing alone (pest + lowering to the AST).
    let mut parse = Vec::new();
    for _ in 0..runs(30) {
        let t = Instant::now();
        let mut d = hplanc::diagnostics::Diagnostics::new();
        let f = hplanc::syntax::parse_file(hplanc::source::FileId(0), &text, &mut d);
        parse.push(t.elapsed());
        std::hint::black_box(f.items.len());
    }

    // Whole process: the real binary, as a user runs it.
    let bin = env!("CARGO_BIN_EXE_hplanc");
    let mut proc = Vec::new();
    for _ in 0..runs(50) {
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
