//! `tests/ui/*.hplan`: bad input -> rendered diagnostics (colour off), snapshotted.
//! Every file must produce at least one error, and its first line is a comment
//! saying what it tests.

use hplanc::diagnostics::render::render_all;

#[test]
fn ui_diagnostics() {
    insta::glob!("ui/*.hplan", |path| {
        let comp = crate::compile(path, hplanc::Mode::Build);
        assert!(comp.has_errors(), "{} produced no error", path.display());
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.starts_with("//"), "{} must open with a comment saying what it tests", path.display());
        let rendered = render_all(&comp.diagnostics, &comp.sources, false);
        insta::assert_snapshot!(rendered);
    });
}

#[test]
fn every_catalog_code_has_a_ui_test() {
    // Codes that only a broken environment or a bug can produce are exempt.
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
    let missing: Vec<&str> =
        hplanc::diagnostics::catalog::CODES.iter().map(|c| c.code).filter(|c| !seen.contains(c) && !exempt.contains(c)).collect();
    assert!(missing.is_empty(), "no UI test produces {missing:?}");
}
