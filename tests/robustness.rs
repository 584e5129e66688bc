//! No panic on any input: every file in examples/, stdlib/ and tests/ui/ is mutated
//! (truncated, bytes replaced, lines deleted or duplicated), compiled through the
//! solver, and its diagnostics rendered. A rejected input must come with an error
//! diagnostic. (A fuzz target and a richer corpus come with the language work.)

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

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

fn mutations(text: &str) -> Vec<String> {
    let mut v = Vec::new();
    // truncations at every 13th char boundary
    for (i, _) in text.char_indices().step_by(13) {
        v.push(text[..i].to_string());
    }
    // replace one character with punctuation and odd characters
    for (n, (i, c)) in text.char_indices().enumerate().filter(|(n, _)| n % 17 == 0) {
        let with = ["{", "}", "=", "\"", "µ", "9e999", "", "..=", "\n"][n % 9];
        v.push(format!("{}{}{}", &text[..i], with, &text[i + c.len_utf8()..]));
    }
    // delete or duplicate each line
    let lines: Vec<&str> = text.lines().collect();
    for i in 0..lines.len() {
        let mut del = lines.clone();
        del.remove(i);
        v.push(del.join("\n"));
        let mut dup = lines.clone();
        dup.insert(i, lines[i]);
        v.push(dup.join("\n"));
    }
    v
}

#[test]
fn mutated_inputs_never_panic() {
    let mut checked = 0usize;
    for (name, text) in corpus() {
        for m in mutations(&text) {
            let t0 = std::time::Instant::now();
            let result = catch_unwind(AssertUnwindSafe(|| {
                let comp = hplanc::compile(&name, &m, None, hplanc::Mode::Build);
                let _ = hplanc::diagnostics::render::render_all(&comp.diagnostics, &comp.sources, false);
                let _ = serde_json::to_string(&comp.report()).unwrap();
                let complete = comp.diagnostics.iter().all(|d| !d.message.is_empty() && !d.help.is_empty());
                complete
            }));
            if std::env::var_os("HPLANC_SLOW").is_some() && t0.elapsed().as_secs_f64() > 0.5 {
                eprintln!("SLOW {:.1}s {name}:\n{m}\n-----", t0.elapsed().as_secs_f64());
            }
            match result {
                Ok(all_complete) => assert!(all_complete, "{name}: a diagnostic without message or help for input:\n{m}"),
                Err(_) => panic!("{name}: panic on input:\n{m}"),
            }
            checked += 1;
        }
    }
    assert!(checked > 1000, "only {checked} mutations");
}
