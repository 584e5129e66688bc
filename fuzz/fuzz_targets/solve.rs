//! Build arbitrary input with the solver's time limit cut to 0.2 s per solve, so that
//! the fuzzer reaches the solver, the schedule and every report writer many times a
//! second: check, solve each plan, render the diagnostics, the report and each plan's
//! report files (Markdown, CSV, trace, SVG). Any panic, and any non-finite number in
//! the text outputs, is a bug. Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run solve` (fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut comp = hplanc::compile("fuzz.hplan", text, None, hplanc::Mode::Check);
    if comp.has_errors() {
        let _ = hplanc::diagnostics::render::render_all(&comp.diagnostics, &comp.sources, false);
        return;
    }
    for plan in &mut comp.program.plans {
        plan.time_limit = plan.time_limit.min(0.2);
    }
    let mut diags = std::mem::take(&mut comp.diagnostics);
    comp.solved = comp.program.plans.iter().map(|p| hplanc::solve::solve(p, &mut diags)).collect();
    comp.diagnostics = diags;
    comp.mode = hplanc::Mode::Build;
    let _ = hplanc::diagnostics::render::render_all(&comp.diagnostics, &comp.sources, false);
    let report = comp.report();
    serde_json::to_string(&report).expect("a report serialises");
    for plan in &report.plans {
        let texts = [
            hplanc::report::human::render(plan),
            hplanc::report::markdown::render(plan),
            hplanc::report::csv::render(std::slice::from_ref(plan)),
            hplanc::report::trace::render(plan).unwrap_or_default(),
            hplanc::report::svg::render(std::slice::from_ref(plan)),
        ];
        for t in &texts {
            // Rust prints non-finite numbers as `inf`, `-inf` and `NaN`: whole words
            let bad = t.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| w == "inf" || w == "NaN");
            assert!(!bad, "a non-finite number in the output of plan {}:\n{t}", plan.name);
        }
    }
});
