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
    let exempt = ["E0004", "E0407", "W0403"];
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

/// Diagnostics that need a generated input (an 8 MiB file), a solver failure/time-out
/// or a search of thousands of batches no small file triggers: rendered against a
/// synthetic source.
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
    // W0403: a search that reached its bound of batches (4,096; no small file needs that many)
    diags.push(hplanc::diagnostics::catalog::batches_not_searched(span, hplanc::solve::batch::MAX_SOLVED, Some(0.004)));
    let rendered = format!("{}{}", render_all(&comp.diagnostics, &comp.sources, false), render_all(&diags, &sources, false));
    insta::assert_snapshot!(rendered);
}

/// The expected diagnostics a UI file states in its closing comment block, one per line:
/// `// error[E0202] 7:17-7:22` (severity, code, the primary span's first character and
/// the position just past its last, 1-based lines and character columns), with ` in
/// FILE` before the span for a diagnostic in another file (`chain/b.hplan`).
const ANNOTATIONS: &str = "// expected diagnostics (tests/ui.rs checks each code and primary span):";

/// Orders annotation lines by file, then position (numerically), then code.
fn by_position(lines: &mut [String]) {
    let key = |l: &String| {
        let (head, span) = l.rsplit_once(' ').unwrap_or((l.as_str(), ""));
        let nums: Vec<u64> = span.split([':', '-']).map(|n| n.parse().unwrap_or(0)).collect();
        let file = head.split_once(" in ").map(|x| x.1.to_string()).unwrap_or_default();
        (file, nums, head.to_string())
    };
    lines.sort_by_key(key);
}

/// The annotation lines of a UI file, as written.
fn annotations(text: &str) -> Vec<String> {
    let Some((_, block)) = text.split_once(ANNOTATIONS) else { return Vec::new() };
    block.lines().map(str::trim).filter(|l| l.starts_with("// error[") || l.starts_with("// warning[")).map(|l| l.to_string()).collect()
}

/// The annotation lines a compilation's diagnostics call for.
fn expected_lines(comp: &hplanc::Compilation) -> Vec<String> {
    let mut out: Vec<String> = comp
        .diagnostics
        .iter()
        .map(|d| {
            let span = d.primary.span;
            let file = comp.sources.get(span.file);
            let (l1, c1) = file.line_col(span.start);
            let (l2, c2) = file.line_col(span.end);
            let place = if span.file == comp.root {
                String::new()
            } else {
                format!(" in {}", file.name.rsplit("tests/ui/").next().unwrap_or(&file.name))
            };
            format!("// {}[{}]{place} {l1}:{c1}-{l2}:{c2}", d.severity.as_str(), d.code)
        })
        .collect();
    by_position(&mut out);
    out
}

/// Each UI file's closing comment block lists every diagnostic it produces, by code and
/// primary span: a diagnostic that moves, appears or disappears fails here, beside the
/// rendered snapshot (`UPDATE_UI_ANNOTATIONS=1` rewrites the blocks, for review).
#[test]
fn ui_files_state_every_diagnostic_and_its_span() {
    let mut wrong = Vec::new();
    for entry in std::fs::read_dir(crate::root().join("tests/ui")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "hplan") {
            continue;
        }
        let comp = crate::compile(&path, hplanc::Mode::Build);
        let text = std::fs::read_to_string(&path).unwrap();
        let written = annotations(&text);
        let mut stated = written.clone();
        by_position(&mut stated);
        let want = expected_lines(&comp);
        let update = std::env::var_os("UPDATE_UI_ANNOTATIONS").is_some();
        if stated != want || (update && written != want) {
            if update {
                let body = text.split_once(ANNOTATIONS).map_or(text.as_str(), |(b, _)| b).trim_end();
                std::fs::write(&path, format!("{body}\n\n{ANNOTATIONS}\n{}\n", want.join("\n"))).unwrap();
            } else {
                wrong.push(format!("{}:\n  stated: {stated:?}\n  found:  {want:?}", crate::rel(&path)));
            }
        }
    }
    assert!(wrong.is_empty(), "UI files whose diagnostics differ from their annotations:\n{}", wrong.join("\n"));
}
