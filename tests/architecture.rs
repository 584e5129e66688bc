//! The phases stay separate (ARCHITECTURE.md, "The phases"): a phase's code names only
//! the phases above it in the table, read from the sources themselves.

use std::path::Path;

/// The phases in the order of ARCHITECTURE.md's table; a phase may use those before it.
/// The last three may also call the library's entry point (`crate::compile`):
/// validate compiles the plans it writes for measured rows, and the two front ends
/// come last (the command line starts the language server).
const ORDER: [&str; 14] = [
    "source",
    "diagnostics",
    "syntax",
    "units",
    "ir",
    "resolve",
    "cost",
    "solve",
    "schedule",
    "simulate",
    "report",
    "validate",
    "lsp",
    "cli",
];

/// Every `crate::NAME` a file's code (not its comments, not its `#[cfg(test)]` tail)
/// names, with the line.
fn uses(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            break;
        }
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + 7..];
            let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            out.push((i + 1, name));
        }
    }
    out
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn each_phase_uses_only_the_phases_above_it() {
    let compiler = crate::root().join("compiler");
    let mut back = Vec::new();
    let mut seen = 0;
    for (rank, phase) in ORDER.iter().enumerate() {
        let mut paths = Vec::new();
        let dir = compiler.join(phase);
        if dir.is_dir() {
            files(&dir, &mut paths);
        } else {
            paths.push(compiler.join(format!("{phase}.rs")));
        }
        for path in paths {
            let text = std::fs::read_to_string(&path).unwrap();
            for (line, name) in uses(&text) {
                seen += 1;
                match ORDER.iter().position(|p| *p == name) {
                    Some(r) if r > rank => back.push(format!("{}:{line}: `{phase}` uses `{name}`", crate::rel(&path))),
                    Some(_) => {}
                    // the library's root (`crate::compile`, `crate::Mode`) is the last three's
                    None if rank < ORDER.len() - 3 => {
                        back.push(format!("{}:{line}: `{phase}` uses the library root's `{name}`", crate::rel(&path)))
                    }
                    None => {}
                }
            }
        }
    }
    assert!(seen > 100, "the scan found only {seen} uses");
    assert!(back.is_empty(), "back edges:\n{}", back.join("\n"));
}

/// The scan itself: code, not comments or the test tail.
#[test]
fn the_scan_reads_code_only() {
    let text = "use crate::ir::Plan; // crate::solve\n/// [`crate::report`]\nfn f() { crate::cost::x(); }\n#[cfg(test)]\nmod tests { use crate::cli; }\n";
    let names: Vec<String> = uses(text).into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["ir", "cost"]);
}
