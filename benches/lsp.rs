//! Language-server latencies (release, in process): issue 8's targets are diagnostics
//! for a 1,000-line file within 50 ms of a change (p95, excluding the solve: the server
//! checks, it does not solve) and completion within 20 ms. Run with
//! `cargo bench --bench lsp`.

use std::time::Instant;

mod common;
use common::{generate, stats};

fn main() {
    let text = generate(1000);
    let lines = text.lines().count();
    let uri = "file:///bench/plan.hplan";
    // Diagnostics after a change: the edited text differs every run (a digit changes).
    let mut diags = Vec::new();
    for i in 0..100 {
        let edited = text.replacen("bandwidth = 3.35 TB/s", &format!("bandwidth = 3.{} TB/s", 10 + i % 89), 1);
        let t = Instant::now();
        let n = hplanc::lsp::diagnostics_notification(uri, &edited);
        diags.push(t.elapsed());
        std::hint::black_box(n);
    }
    // Completion in a plan block near the end of the file.
    let at = text.rfind("  place prefill on gpu").unwrap();
    let pos = hplanc::lsp::position(&text, at);
    let mut comp = Vec::new();
    let mut n = 0;
    for _ in 0..200 {
        let t = Instant::now();
        n = hplanc::lsp::completion(&text, pos).len();
        comp.push(t.elapsed());
    }
    let (dmin, dmed, dp95) = stats(diags);
    let (cmin, cmed, cp95) = stats(comp);
    println!("language server on a {lines}-line file");
    println!("  diagnostics after a change: min {dmin:.2?}  median {dmed:.2?}  p95 {dp95:.2?}  (target p95 < 50 ms)");
    println!("  completion ({n} items):      min {cmin:.2?}  median {cmed:.2?}  p95 {cp95:.2?}  (target < 20 ms)");
}
