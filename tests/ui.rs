//! `tests/ui/*.hplan`: bad input -> rendered diagnostics (colour off), snapshotted.
//! Every file must produce at least one diagnostic, and its first line is a
//! comment saying what it tests.

use hplanc::diagnostics::render::render_all;

#[test]
fn ui_diagnostics() {
    insta::glob!("ui/*.hplan", |path| {
        let comp = crate::compile(path, hplanc::Mode::Build);
        assert!(!comp.diagnostics.is_empty(), "{} produced no diagnostic", path.display());
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.starts_with("//"), "{} must open with a comment saying what it tests", path.display());
        let rendered = render_all(&comp.diagnostics, &comp.sources, false);
        insta::assert_snapshot!(rendered);
    });
}

/// `tests/ui/traces/*.csv`: bad request traces for `hplanc simulate --trace` ->
/// rendered diagnostics. Each opens with a `#` comment saying what it tests.
#[test]
fn trace_diagnostics() {
    insta::glob!("ui/traces/*.csv", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.starts_with('#'), "{} must open with a comment saying what it tests", path.display());
        let (rendered, codes) = trace_diagnostics_of(path);
        assert!(!codes.is_empty(), "{} produced no diagnostic", path.display());
        insta::assert_snapshot!(rendered);
    });
}

/// A trace's rendered diagnostics and their codes.
fn trace_diagnostics_of(path: &std::path::Path) -> (String, Vec<&'static str>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut sources = hplanc::source::SourceMap::new();
    let id = sources.add(hplanc::source::Origin::Memory(crate::rel(path)), crate::rel(path), text.clone());
    let mut diags = hplanc::diagnostics::Diagnostics::new();
    let rows = hplanc::simulate::trace::parse(id, &text, &mut diags);
    assert!(rows.is_none(), "a trace with diagnostics must not be simulated");
    (render_all(&diags, &sources, false), diags.iter().map(|d| d.code).collect())
}

#[test]
fn every_catalog_code_has_a_ui_test() {
    // Codes no small input file can produce have a rendered test in `generated_cases`.
    let exempt = ["E0004", "E0407"];
    let mut seen = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(crate::root().join("tests/ui")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "hplan") {
            let comp = crate::compile(&path, hplanc::Mode::Build);
            for d in comp.diagnostics.iter() {
                seen.insert(d.code);
            }
        }
    }
    for entry in std::fs::read_dir(crate::root().join("tests/ui/traces")).unwrap() {
        seen.extend(trace_diagnostics_of(&entry.unwrap().path()).1);
    }
    let missing: Vec<&str> =
        hplanc::diagnostics::catalog::CODES.iter().map(|c| c.code).filter(|c| !seen.contains(c) && !exempt.contains(c)).collect();
    assert!(missing.is_empty(), "no UI test produces {missing:?}");
}

/// Diagnostics that need a generated input (an 8 MiB file) or a solver
/// failure/time-out no small file triggers: rendered against a synthetic source.
#[test]
fn generated_cases() {
    // E0004: a file over the size limit.
    let big = "// padding\n".repeat(hplanc::source::MAX_FILE_BYTES / 11 + 1);
    let comp = hplanc::compile("big.hplan", &big, None, hplanc::Mode::Check);
    let codes: Vec<&str> = comp.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0004"]);
    // E0407 and W0401, rendered on a one-plan source.
    let mut sources = hplanc::source::SourceMap::new();
    let f = sources.add(hplanc::source::Origin::Memory("p".into()), "plan.hplan", "plan p {\n  minimize tpot\n}\n");
    let span = hplanc::source::Span::new(f, 5, 6);
    let mut diags = hplanc::diagnostics::Diagnostics::new();
    diags.push(hplanc::diagnostics::catalog::solver_failed(span, "Time limit reached before finding a feasible solution"));
    diags.push(hplanc::diagnostics::catalog::not_proven_optimal(span, "30 s", Some(0.0125)));
    let rendered = format!("{}{}", render_all(&comp.diagnostics, &comp.sources, false), render_all(&diags, &sources, false));
    insta::assert_snapshot!(rendered);
}
