//! Parse, check and build arbitrary input; render diagnostics and the report.
//! Any panic is a bug. Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run compile` (see fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let comp = hplanc::compile("fuzz.hplan", text, None, hplanc::Mode::Build);
    let _ = hplanc::diagnostics::render::render_all(&comp.diagnostics, &comp.sources, false);
    let _ = comp.report();
    // The formatter must never change what the parser sees.
    let formatted = hplanc::syntax::fmt::format(text);
    assert_eq!(hplanc::syntax::fmt::significant_tokens(&formatted), hplanc::syntax::fmt::significant_tokens(text));
});
