//! Language-server latencies (release, in process): issue 8's targets are diagnostics
//! for a 1,000-line file within 50 ms of a change (p95, excluding the solve: the check's
//! diagnostics are sent first, the solver's follow from another thread) and completion
//! within 20 ms. Also value completion and semantic tokens. Run with
//! `cargo bench --bench lsp`.

use std::time::Instant;

mod common;
use common::{banner, generate, runs, stats};

fn main() {
    banner("lsp");
    let text = generate(1000);
    let lines = text.lines().count();
    let uri = "file:///bench/plan.hplan";
    // Diagnostics after a change: the edited text differs every run (a digit changes).
    let mut diags = Vec::new();
    for i in 0..runs(100) {
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
    for _ in 0..runs(200) {
        let t = Instant::now();
        n = hplanc::lsp::completion(&text, pos).len();
        comp.push(t.elapsed());
    }
    // Completion of a value: the models after `model =` (the file's and the stdlib's),
    // and the pools after `place decode.ffn on` (read from the plan's cluster).
    let value_at = |needle: &str| {
        let at = text.rfind(needle).unwrap() + needle.len();
        hplanc::lsp::position(&text, at)
    };
    let mut values = Vec::new();
    let mut nv = (0, 0);
    for _ in 0..runs(100) {
        for (i, needle) in ["  model    = ", "  place decode.ffn on "].iter().enumerate() {
            let t = Instant::now();
            let n = hplanc::lsp::completion(&text, value_at(needle)).len();
            values.push(t.elapsed());
            if i == 0 {
                nv.0 = n
            } else {
                nv.1 = n
            }
        }
    }
    // Semantic tokens of the whole file (the lexer and the classifier).
    let mut toks = Vec::new();
    let mut nt = 0;
    for _ in 0..runs(50) {
        let t = Instant::now();
        nt = hplanc::lsp::semantic_tokens(&text, &Default::default()).data.len();
        toks.push(t.elapsed());
    }
    // Semantic tokens of one line of 40,000 tokens (issue 15, item 4: was quadratic).
    let line = (0..10_000).map(|i| format!("a{i} = 1µs,")).collect::<String>() + "\n";
    let mut long = Vec::new();
    let mut nl = 0;
    for _ in 0..runs(10) {
        let t = Instant::now();
        nl = hplanc::lsp::semantic_tokens(&line, &Default::default()).data.len();
        long.push(t.elapsed());
    }
    let (dmin, dmed, dp95) = stats(diags);
    let (cmin, cmed, cp95) = stats(comp);
    let (vmin, vmed, vp95) = stats(values);
    let (tmin, tmed, tp95) = stats(toks);
    println!("language server on a {lines}-line file");
    println!("  diagnostics after a change: min {dmin:.2?}  median {dmed:.2?}  p95 {dp95:.2?}  (target p95 < 50 ms)");
    println!("  completion ({n} items):      min {cmin:.2?}  median {cmed:.2?}  p95 {cp95:.2?}  (target < 20 ms)");
    println!("  value completion ({} models, {} pools): min {vmin:.2?}  median {vmed:.2?}  p95 {vp95:.2?}", nv.0, nv.1);
    println!("  semantic tokens ({nt}):     min {tmin:.2?}  median {tmed:.2?}  p95 {tp95:.2?}");
    let (lmin, lmed, lp95) = stats(long);
    println!("  semantic tokens, one line ({nl}): min {lmin:.2?}  median {lmed:.2?}  p95 {lp95:.2?}");
}
