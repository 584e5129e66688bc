//! No panic on any input. Every .hplan file in examples/, stdlib/ and tests/ui/ is
//! mutated (truncations, byte flips, token swaps, deletions and duplications, extreme
//! numbers, deep nesting, line edits), compiled (every other one through the solver), its diagnostics
//! rendered and its report serialised. A rejected input must say why: every
//! diagnostic has a message and help, and an input that yields no plan report and no
//! diagnostic must have declared no plan. The formatter keeps every significant
//! token of every input. `HPLANC_SLOW=1` prints inputs that take over half a second.

use crate::Rng;
use hplanc::syntax::lexer::{lex, Tok};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

/// Inputs in all, spread evenly over the corpus files (at least `MIN_PER_FILE` each).
/// The corpus grows with every example, and examples are the costly inputs (each
/// mutation that still parses solves its plans), so the budget is fixed, not per file.
/// 12,000 take about 100 s on CI's two cores beside the other tests (24,000 took 210 s,
/// the suite's critical path); a longer search is `cargo fuzz` (fuzz/).
const TOTAL: usize = 12_000;
const MIN_PER_FILE: usize = 100;

/// An index below `n`, from the shared generator.
fn pick(rng: &mut Rng, n: usize) -> usize {
    rng.below(n as u64) as usize
}

fn corpus() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut dirs = vec![crate::root().join("examples"), crate::root().join("stdlib"), crate::root().join("tests/ui")];
    while let Some(d) = dirs.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|e| e == "hplan") {
                out.push((crate::rel(&p), std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    out
}

const NUMBERS: [&str; 10] =
    ["0", "-1", "1e308", "1e309", "99999999999999999999999999", "1e-320", "0.0000001", "18446744073709551616", "4294967297", "1_"];
const INSERTS: [&str; 12] = ["{", "}", "[", "]", "=", "\"", "µ", "..=", "\n", "::", "<->", "/*"];

fn mutate(text: &str, rng: &mut Rng) -> String {
    let toks = lex(text);
    let sig: Vec<usize> = (0..toks.len()).filter(|&i| !toks[i].kind.is_trivia()).collect();
    let pick_char = |rng: &mut Rng| -> usize {
        let idx: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        if idx.is_empty() {
            0
        } else {
            idx[pick(rng, idx.len())]
        }
    };
    match pick(rng, 9) {
        0 => text[..pick_char(rng)].to_string(),
        1 => {
            // flip a byte; invalid UTF-8 becomes U+FFFD, as the CLI would refuse it anyway
            let mut b = text.as_bytes().to_vec();
            if !b.is_empty() {
                let i = pick(rng, b.len());
                b[i] ^= 1 << pick(rng, 8);
            }
            String::from_utf8_lossy(&b).into_owned()
        }
        2 if sig.len() > 1 => {
            let k = pick(rng, sig.len() - 1);
            let (a, c) = (toks[sig[k]], toks[sig[k + 1]]);
            format!("{}{}{}{}{}", &text[..a.start], c.text(text), &text[a.end..c.start], a.text(text), &text[c.end..])
        }
        3 if !sig.is_empty() => {
            let t = toks[sig[pick(rng, sig.len())]];
            format!("{}{}", &text[..t.start], &text[t.end..])
        }
        4 if !sig.is_empty() => {
            let t = toks[sig[pick(rng, sig.len())]];
            format!("{}{} {}", &text[..t.end], " ", &text[t.start..])
        }
        5 => {
            let nums: Vec<_> = toks.iter().filter(|t| t.kind == Tok::Number).collect();
            match nums.get(pick(rng, nums.len().max(1))) {
                Some(t) => format!("{}{}{}", &text[..t.start], NUMBERS[pick(rng, NUMBERS.len())], &text[t.end..]),
                None => text.to_string(),
            }
        }
        6 => {
            let i = pick_char(rng);
            let depth = 1 + pick(rng, 300);
            let (open, close) = [("a { ", "} "), ("[", "]"), ("{", ""), ("x = [", "")][pick(rng, 4)];
            format!("{}{}{}{}", &text[..i], open.repeat(depth), close.repeat(depth), &text[i..])
        }
        7 => {
            let i = pick_char(rng);
            format!("{}{}{}", &text[..i], INSERTS[pick(rng, INSERTS.len())], &text[i..])
        }
        _ => {
            let mut lines: Vec<&str> = text.lines().collect();
            if !lines.is_empty() {
                let i = pick(rng, lines.len());
                if pick(rng, 2) == 0 {
                    lines.remove(i);
                } else {
                    lines.insert(i, lines[i]);
                }
            }
            lines.join("\n")
        }
    }
}

/// One mutated input `m` of corpus file `name`, the `index`-th of the run: compiled
/// (solved for every other input: the rest are checked, parsed, resolved and diagnosed,
/// where most mutations end anyway; every 8th also runs its sweeps, an example's
/// frontier or `sweep` block solving it at tens of points; every 16th also varies its
/// uncertain figures, each stdlib chip having some and varying them costing several
/// solves, and a swept plan's bands a sweep per input end), rendered and formatted;
/// `Err` says what went wrong.
fn never_panics(name: &str, m: &str, index: usize, slow: bool) -> Result<(), String> {
    let t0 = std::time::Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mode = if index % 2 == 0 { hplanc::Mode::Build } else { hplanc::Mode::Check };
        let opts = hplanc::BuildOptions { skip_sweeps: index % 8 != 0, skip_uncertainty: index % 16 != 0, ..Default::default() };
        let comp = hplanc::compile_with(name, m, None, mode, &opts);
        let _ = hplanc::diagnostics::render::render_all(&comp.diagnostics, &comp.sources, false);
        let report = comp.report();
        let _ = serde_json::to_string(&report).unwrap();
        let complete = comp.diagnostics.iter().all(|d| !d.message.is_empty() && !d.help.is_empty());
        // Every span lies on character boundaries (renderers slice at them).
        for d in comp.diagnostics.iter() {
            for l in std::iter::once(&d.primary).chain(d.labels.iter()) {
                let f = &comp.sources.get(l.span.file).text;
                assert!(f.is_char_boundary(l.span.start as usize) && f.is_char_boundary(l.span.end as usize), "{} {:?}", d.code, l.span);
            }
        }
        // The formatter never changes what the parser sees, even on broken input.
        let formatted = hplanc::syntax::fmt::format(m);
        assert_eq!(hplanc::syntax::fmt::significant_tokens(&formatted), hplanc::syntax::fmt::significant_tokens(m));
        // A plan that produced no report must have been rejected with an error (a
        // checked input has no reports).
        let explained = mode == hplanc::Mode::Check || comp.program.plans.len() == report.plans.len() || comp.has_errors();
        complete && explained
    }));
    if slow && t0.elapsed().as_secs_f64() > 0.5 {
        eprintln!("SLOW {:.1}s {name}:\n{m}\n-----", t0.elapsed().as_secs_f64());
    }
    match result {
        Ok(true) => Ok(()),
        Ok(false) => Err(format!("{name}: a rejected input without a complete diagnostic:\n{m}")),
        Err(_) => Err(format!("{name}: panic on input:\n{m}")),
    }
}

/// Every corpus file's mutated inputs, drawn in order from one generator (so the inputs
/// are the same however many threads compile them), each file's compiled on every core:
/// the inputs are independent, and on CI's two cores this test is the suite's longest.
#[test]
fn mutated_inputs_never_panic() {
    let mut rng = Rng(0xF00D);
    let mut checked = 0usize;
    let slow = std::env::var_os("HPLANC_SLOW").is_some();
    let corpus = corpus();
    let per_file = (TOTAL / corpus.len().max(1)).max(MIN_PER_FILE);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    for (name, text) in corpus {
        // Most inputs get one mutation, some several.
        let inputs: Vec<String> = (0..per_file)
            .map(|_| {
                let mut m = mutate(&text, &mut rng);
                for _ in 0..pick(&mut rng, 3) {
                    m = mutate(&m, &mut rng);
                }
                m
            })
            .collect();
        let first = checked;
        let failure = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|k| {
                    let (name, inputs) = (&name, &inputs);
                    s.spawn(move || {
                        // a contiguous share: every share mixes built, swept and varied
                        // inputs alike (the modes cycle every 16 inputs)
                        let (lo, hi) = (k * inputs.len() / threads, (k + 1) * inputs.len() / threads);
                        (lo..hi).map(|j| never_panics(name, &inputs[j], first + j, slow)).find_map(Result::err)
                    })
                })
                .collect();
            workers.into_iter().find_map(|w| w.join().expect("a worker never panics outside catch_unwind"))
        });
        if let Some(f) = failure {
            panic!("{f}");
        }
        checked += inputs.len();
    }
    assert!(checked >= TOTAL * 9 / 10, "only {checked} inputs");
}

/// Inputs the fuzzer found (fuzz/regressions/): compiled and rendered without a panic,
/// every diagnostic span on character boundaries.
#[test]
fn fuzzer_regressions() {
    let dir = crate::root().join("fuzz/regressions");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(e.unwrap().path()).unwrap();
        let Ok(text) = String::from_utf8(bytes) else { continue };
        let comp = hplanc::compile("regression.hplan", &text, None, hplanc::Mode::Build);
        let _ = hplanc::diagnostics::render::render_all(&comp.diagnostics, &comp.sources, false);
        for d in comp.diagnostics.iter() {
            for l in std::iter::once(&d.primary).chain(d.labels.iter()) {
                let f = &comp.sources.get(l.span.file).text;
                assert!(f.is_char_boundary(l.span.start as usize) && f.is_char_boundary(l.span.end as usize), "{} {:?}", d.code, l.span);
            }
        }
        let formatted = hplanc::syntax::fmt::format(&text);
        assert_eq!(hplanc::syntax::fmt::significant_tokens(&formatted), hplanc::syntax::fmt::significant_tokens(&text));
        n += 1;
    }
    assert!(n >= 2);
}
